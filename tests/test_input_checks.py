"""Every user-facing entry point rejects bad input before doing any work, with an exception
that names the argument: the command line and the benchmark scripts (argparse usage errors),
empty calibration data (rate and FS conversion), weights without a fixed-point form
(quantisation) and NIR graphs whose parameters the mapping cannot use (import)."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from spikeops import cli, convert, hardware
from spikeops.nn import LIF, TimeDistributed

BENCH = Path(__file__).resolve().parent.parent / "bench"


# -- command line ---------------------------------------------------------------------------

@pytest.fixture
def no_work(monkeypatch):
    """Every subcommand's work fails the test: the parser must stop bad input first."""
    from spikeops.apps import demo, hardware as hw_app
    from spikeops.benchmarks import cpu, cuda, peers

    def started(args):
        raise AssertionError("the command started its work")
    for module in (demo, hw_app, cpu, cuda, peers):
        monkeypatch.setattr(module, "main", started)


@pytest.mark.parametrize("argv, option", [
    (["bench", "--repeats", "-3"], "--repeats"),
    (["bench", "--repeats", "0"], "--repeats"),
    (["bench", "--peers", "--repeats", "0"], "--repeats"),
    (["hw", "--draws", "0"], "--draws"),
    (["hw", "--T", "0"], "--T"),
    (["hw", "--T", "-8"], "--T"),
    (["hw", "--ann-epochs", "0"], "--ann-epochs"),
    (["hw", "--seed", "-1"], "--seed"),
    (["hw", "--seed", str(2 ** 32)], "--seed"),
    (["hw", "--model", "no/such/model.pt"], "--model"),
    (["demo", "--seed", "-1"], "--seed"),
    (["demo", "--out", __file__], "--out"),
    (["hw", "--out", ""], "--out"),
])
def test_cli_rejects_bad_options_before_any_work(argv, option, no_work, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert f"argument {option}" in capsys.readouterr().err


def test_cli_parser_takes_good_options():
    args = cli.build_parser().parse_args(["hw", "--T", "1", "--draws", "1", "--ann-epochs", "1", "--seed", "0",
                                          "--model", __file__])
    assert (args.T, args.draws, args.ann_epochs, args.seed, args.model) == (1, 1, 1, 0, __file__)
    assert cli.build_parser().parse_args(["bench", "--repeats", "1"]).repeats == 1
    assert cli.build_parser().parse_args(["bench"]).repeats is None


def test_cli_usage_error_from_the_command_line():
    run = subprocess.run([sys.executable, "-m", "spikeops", "bench", "--repeats", "-3"], capture_output=True,
                         text=True, env=dict(os.environ, SPIKEOPS_CPU_ISA="scalar"))
    assert run.returncode == 2
    assert "argument --repeats" in run.stderr and "Traceback" not in run.stderr


def _bench_script(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["ceilings", "elementwise", "lif_fixed", "lif_substep"])
@pytest.mark.parametrize("argv, option", [(["--repeats", "0"], "--repeats"), (["--repeats", "-3"], "--repeats"),
                                          (["--out", __file__], "--out")])
def test_bench_scripts_reject_bad_options(name, argv, option, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _bench_script(name).main(argv)
    assert exit_info.value.code == 2
    assert f"argument {option}" in capsys.readouterr().err


def test_hw_app_checks_its_counts():
    from spikeops.apps import hardware as hw_app
    for kwargs, name in ((dict(T=0), "T"), (dict(draws=0), "draws"), (dict(ann_epochs=-1), "ann_epochs")):
        with pytest.raises(ValueError, match=f"{name} must be an int >= 1"):
            hw_app.run(Path("unused"), **kwargs)


# -- conversion: empty calibration data -------------------------------------------------------

def _ann():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))


EMPTY = {"tensor": lambda: torch.empty(0, 4), "list": lambda: [],
         "pair": lambda: (torch.empty(0, 4), torch.empty(0, dtype=torch.long))}


@pytest.mark.parametrize("empty", EMPTY)
@pytest.mark.parametrize("kwargs", [dict(method="percentile"), dict(method="balance", T=4),
                                    dict(preset="rathi2020", T=4)], ids=["percentile", "balance", "rathi2020"])
def test_convert_rate_rejects_empty_calibration(empty, kwargs):
    with pytest.raises(ValueError, match="calibration data is empty"):
        convert.convert_rate(_ann(), EMPTY[empty](), progress=False, **kwargs)


@pytest.mark.parametrize("empty", EMPTY)
def test_calibration_functions_reject_empty_data(empty):
    with pytest.raises(ValueError, match="calibration data is empty"):
        convert.activation_scales(_ann(), EMPTY[empty](), progress=False)
    snn = convert.convert_rate(_ann(), torch.rand(16, 4), progress=False)
    with pytest.raises(ValueError, match="calibration data is empty"):
        convert.threshold_balance(snn, EMPTY[empty](), 4, progress=False)
    with pytest.raises(ValueError, match="calibration data is empty"):
        convert.convert_fs(_ann(), EMPTY[empty](), preset=None, progress=False)


# -- quantisation: weights without a fixed-point form ----------------------------------------

def _snn(edit, dtype=torch.float32):
    torch.manual_seed(0)
    first, out = nn.Linear(4, 5).to(dtype), nn.Linear(5, 3).to(dtype)
    with torch.no_grad():
        edit(first, out)
    return nn.Sequential(TimeDistributed(first), LIF(1.0, threshold=1.0, reset="subtract"), TimeDistributed(out))


def _set(tensor, value):
    tensor.view(-1)[0] = value


@pytest.mark.parametrize("edit, match", [
    (lambda a, b: _set(a.weight, float("nan")), r"layer 0 \(Linear\): weight holds NaN or infinite"),
    (lambda a, b: _set(a.bias, float("inf")), r"layer 0 \(Linear\): bias holds NaN or infinite"),
    (lambda a, b: _set(b.weight, float("-inf")), r"layer 2 \(Linear\): weight holds NaN or infinite"),
    (lambda a, b: _set(b.bias, float("nan")), r"layer 2 \(Linear\): bias holds NaN or infinite"),
], ids=["nan weight", "inf bias", "inf output weight", "nan output bias"])
def test_quantize_rejects_non_finite_parameters(edit, match):
    with pytest.raises(ValueError, match=match):
        hardware.quantize(_snn(edit))


@pytest.mark.parametrize("edit, dtype", [
    (lambda a, b: a.weight.mul_(1e30), torch.float32),      # the threshold's mantissa would round to 0
    (lambda a, b: a.bias.fill_(1e30), torch.float32),
    (lambda a, b: a.weight.fill_(1e308), torch.float64),    # a step's largest input overflows float64
], ids=["huge weights", "huge bias", "float64 overflow"])
def test_quantize_rejects_weights_beyond_the_format(edit, dtype):
    with pytest.raises(ValueError, match=r"layer 0 \(Linear\): weight or bias too large"):
        hardware.quantize(_snn(edit, dtype))


def test_quantize_functions_reject_non_finite_values():
    with pytest.raises(ValueError, match="w .*holds NaN or infinite"):
        hardware.quantize_weights(torch.tensor([0.5, float("nan")]), 1 / 64)
    with pytest.raises(ValueError, match="b .*holds NaN or infinite"):
        hardware.quantize_bias(torch.tensor([float("inf")]))
    with pytest.raises(ValueError, match="unit must be"):
        hardware.quantize_weights(torch.tensor([0.5]), 0.0)


# -- NIR import: parameters the mapping cannot use --------------------------------------------

nir = pytest.importorskip("nir", reason="nir is a pinned test dependency")
from spikeops.nir import import_nir  # noqa: E402

N = 3


def _neuron(kind, **fields):
    full = lambda v: np.full(N, v, dtype=np.float64)  # noqa: E731
    if kind == "IF":
        node = nir.IF(r=full(1.0), v_threshold=full(1.0))
    elif kind == "LIF":
        node = nir.LIF(tau=full(1e-2), r=full(1.0), v_leak=full(0.0), v_threshold=full(1.0))
    else:
        node = nir.CubaLIF(tau_syn=full(5e-3), tau_mem=full(1e-2), r=full(1.0), v_leak=full(0.0),
                           v_threshold=full(1.0), w_in=full(1.0))
    for name, value in fields.items():  # after construction: nir's own shape check would stop some of them
        setattr(node, name, value)
    return node


def _graph(node):
    nodes = {"input": nir.Input(input_type={"input": np.array([2])}),
             "fc": nir.Affine(weight=np.ones((N, 2), np.float32), bias=np.zeros(N, np.float32)),
             "n": node, "output": nir.Output(output_type={"output": np.array([N])})}
    return nir.NIRGraph(nodes=nodes, edges=[("input", "fc"), ("fc", "n"), ("n", "output")], type_check=False)


@pytest.mark.parametrize("dt", [0.0, -1e-4, float("nan"), float("inf")])
def test_import_nir_rejects_bad_dt(dt):
    with pytest.raises(ValueError, match="dt must be"):
        import_nir(_graph(_neuron("LIF")), dt=dt)


@pytest.mark.parametrize("kind, field, value, match", [
    ("LIF", "tau", 1e-5, "tau must be >= dt"),
    ("LIF", "tau", 0.0, "tau must be > 0"),
    ("LIF", "tau", float("nan"), "tau must be finite"),
    ("LIF", "r", float("inf"), "r must be finite"),
    ("LIF", "v_threshold", -1.0, "v_threshold must be > 0"),
    ("LIF", "v_reset", float("nan"), "v_reset must be finite"),
    ("IF", "r", -1.0, "r must be > 0"),
    ("IF", "v_threshold", 0.0, "v_threshold must be > 0"),
    ("IF", "v_threshold", 1e-60, "v_threshold = 1e-60 rounds to 0 in float32"),
    ("CubaLIF", "tau_mem", 5e-5, "tau_mem must be >= dt"),
    ("CubaLIF", "tau_syn", 5e-5, "tau_syn must be >= dt"),
    ("CubaLIF", "w_in", float("nan"), "w_in must be finite"),
    ("CubaLIF", "r", 1e300, "the gain dt r w_in / tau_mem must be a finite float32"),
])
def test_import_nir_names_node_and_field(kind, field, value, match):
    with pytest.raises(ValueError, match=rf"node 'n' \({kind}\): {match}"):
        import_nir(_graph(_neuron(kind, **{field: np.full(N, value)})), dt=1e-4)


def test_import_nir_rejects_neuron_shapes_that_do_not_fit():
    with pytest.raises(ValueError, match=r"node 'n' \(LIF\): fields of shape \(4,\) do not fit"):
        import_nir(_graph(_neuron("LIF", tau=np.full(4, 1e-2), r=np.ones(4), v_threshold=np.ones(4),
                                  v_reset=np.zeros(4))), dt=1e-4)
    with pytest.raises(ValueError, match=r"node 'n' \(IF\): fields of different shapes"):
        import_nir(_graph(_neuron("IF", r=np.ones(2))), dt=1e-4)
    with pytest.raises(ValueError, match=r"node 'n' \(LIF\): tau is empty"):
        import_nir(_graph(_neuron("LIF", tau=np.ones(0))), dt=1e-4)


def test_import_nir_takes_tau_equal_to_dt_in_float32():
    """tau = dt (decay 0) as a float32 file stores it, a hair below the float64 dt."""
    model = import_nir(_graph(_neuron("LIF", tau=np.full(N, 1e-4, np.float32))), dt=1e-4)
    assert model[1].decay == 0.0
    assert model(torch.rand(3, 2, 2)).shape == (3, 2, N)
