"""Fuzzing the parsers of outside input (hypothesis, fixed seed): a NIR graph with random
neuron and weight parameters imports as a model that runs or is refused with ValueError or
TypeError; the command line's parser answers random argument lists with parsed options in
range or a usage error (SystemExit(2)), never another exception."""
import argparse
import contextlib
import io
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikeops.cli import SEED_MAX, build_parser

nir = pytest.importorskip("nir", reason="nir is a pinned test dependency")
from spikeops.nir import import_nir  # noqa: E402

FUZZ = dict(derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# NaN, infinities, 0, negative, tiny (below float32), huge, and ordinary values
SPECIAL = [math.nan, math.inf, -math.inf, 0.0, -0.0, -1.0, 1e-300, 1e-45, 1e-5, 1e-4, 1e-3, 0.02, 1.0, 3.0, 1e30,
           1e300]
values = st.one_of(st.sampled_from(SPECIAL), st.floats(allow_nan=True, allow_infinity=True),
                   st.floats(1e-4, 1e2))
FIELDS = {"IF": ("r", "v_threshold", "v_reset"),
          "LIF": ("tau", "r", "v_leak", "v_threshold", "v_reset"),
          "CubaLIF": ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in")}


@st.composite
def neuron_graphs(draw):
    """Input -> Affine -> neuron -> Output with random parameters and, now and then, shapes
    that do not fit (set after construction: nir's own checks would stop them); and dt."""
    n_in, n = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    kind = draw(st.sampled_from(sorted(FIELDS)))

    def array(shape, typical):
        """Mostly a typical value (scaled), one time in eight random values element by element."""
        size = int(np.prod(shape))
        if draw(st.integers(0, 7)):
            elements = [typical * draw(st.floats(0.5, 2.0))] * size
        else:
            elements = draw(st.lists(values, min_size=size, max_size=size))
        return np.asarray(elements, dtype=np.float64).reshape(shape)

    def shape(right, *wrong):
        return right if draw(st.integers(0, 11)) else draw(st.sampled_from(wrong))

    typical = dict(tau=1e-2, tau_syn=5e-3, tau_mem=1e-2, r=1.0, v_leak=0.0, v_threshold=1.0, v_reset=0.0, w_in=1.0)
    ones = np.ones(n)
    if kind == "IF":
        node = nir.IF(r=ones, v_threshold=ones)
    elif kind == "LIF":
        node = nir.LIF(tau=ones, r=ones, v_leak=0 * ones, v_threshold=ones)
    else:
        node = nir.CubaLIF(tau_syn=ones, tau_mem=ones, r=ones, v_leak=0 * ones, v_threshold=ones)
    for field in FIELDS[kind]:
        setattr(node, field, array(shape((n,), (), (1,), (0,), (n + 1,), (n, 2)), typical[field]))
    weight = array(shape((n, n_in), (n,), (n, n_in, 1)), 0.5)
    bias = array(shape((n,), (n + 1,)), 0.1)
    nodes = {"input": nir.Input(input_type={"input": np.array([n_in])}),
             "fc": nir.Affine(weight=np.ones((n, n_in)), bias=np.zeros(n)), "neurons": node,
             "output": nir.Output(output_type={"output": np.array([n])})}
    nodes["fc"].weight, nodes["fc"].bias = weight, bias
    graph = nir.NIRGraph(nodes=nodes, edges=[("input", "fc"), ("fc", "neurons"), ("neurons", "output")],
                         type_check=False)
    dt = draw(st.sampled_from([1e-4, 1e-3])) if draw(st.integers(0, 3)) else draw(values)
    return graph, dt


@settings(max_examples=400, **FUZZ)
@given(neuron_graphs())
def test_nir_import_runs_or_refuses(case):
    graph, dt = case
    try:
        model = import_nir(graph, dt=dt)
    except (ValueError, TypeError):
        return
    fc = model[0].module
    with torch.no_grad():
        out = model(torch.rand(4, 2, fc.in_features) * 2)
    assert out.shape == (4, 2, fc.out_features)
    assert bool(((out == 0) | (out == 1)).all())  # spikes


OPTIONS = {
    "info": {},
    "demo": {"--quick": None, "--out": "path", "--seed": "int"},
    "hw": {"--model": "path", "--T": "int", "--draws": "int", "--ann-epochs": "int", "--seed": "int", "--out": "path"},
    "bench": {"--device": "choice", "--quick": None, "--repeats": "int", "--peers": None, "--out": "path"},
}
COUNTS = {"T", "draws", "ann_epochs", "repeats"}
tokens = st.one_of(
    st.integers(1, 100).map(str), st.integers(-2 ** 70, 2 ** 70).map(str),
    st.sampled_from(["0", "1", "-1", "-3", "2", str(SEED_MAX), str(SEED_MAX + 1), "1.5", "1e3", "nan", "inf", "",
                     " 7", "0x10", "--", "-", "cpu", "cuda", "tpu", __file__, "results", "a" * 5000, "a\x00b"]),
    st.text(max_size=8))


@st.composite
def argument_lists(draw):
    command = draw(st.sampled_from(sorted(OPTIONS)))
    names = sorted(OPTIONS[command]) + ["--T", "--repeats", "--bogus"]
    argv = [command]
    for _ in range(draw(st.integers(0, 5))):
        name = draw(st.sampled_from(names))
        argv.append(name)
        kind = OPTIONS[command].get(name, "int")
        if kind == "choice" and draw(st.booleans()):
            argv.append(draw(st.sampled_from(["cpu", "cuda"])))
        elif kind == "path" and draw(st.booleans()):
            argv.append(draw(st.sampled_from([__file__, "results", "out/dir"])))
        elif kind is not None or not draw(st.integers(0, 4)):  # a value, or now and then a stray token
            argv.append(draw(tokens))
    return argv


@settings(max_examples=600, **FUZZ)
@given(argument_lists())
def test_cli_parser_answers_with_options_in_range_or_a_usage_error(argv):
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            args = build_parser().parse_args(argv)
    except SystemExit as e:
        assert e.code == 2, argv
        assert "error:" in stderr.getvalue()
        return
    assert isinstance(args, argparse.Namespace)
    for name in COUNTS & set(vars(args)):
        value = getattr(args, name)
        assert value is None or (isinstance(value, int) and value >= 1), (argv, name, value)
    if "seed" in vars(args):
        assert 0 <= args.seed <= SEED_MAX
    if getattr(args, "model", None) is not None:
        assert args.model == __file__
    assert getattr(args, "device", "cpu") in ("cpu", "cuda")
