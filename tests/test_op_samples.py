"""One table of valid and invalid sample inputs per op, run through every path a user can
take to the op: the functional form, the nn.Module, the `_out` op (where one exists), the
fake kernel (FakeTensor, what torch.compile traces with) and torch.compile itself.

A valid sample must give the same result on every path; an invalid one must raise the
same exception type with a message naming the argument on every path (torch.compile wraps
the error, so there only the message is checked). A new op gets the whole battery by adding
an entry to OPS."""
from dataclasses import dataclass, field
from typing import Callable, Optional

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

import spikeops
from spikeops import functional as F


@dataclass
class Sample:
    name: str
    make: Callable[[], tuple]           # -> (args, kwargs) of the functional form
    error: Optional[type] = None         # expected exception type; None for a valid sample
    match: str = ""                      # a regex the message must contain
    on_values: bool = False              # the error is in tensor values, which fake tensors do not have


@dataclass
class OpSpec:
    functional: Callable
    samples: list
    module: Optional[Callable] = None    # (args, kwargs) -> output through the nn.Module, or None
    out: Optional[Callable] = None       # (args, kwargs) -> output through the `_out` op, or None
    outputs: Callable = field(default=lambda r: r)  # the tensors to compare from a result


def _x(*shape, dtype=torch.float32, scale=1.0, shift=0.0):
    g = torch.Generator().manual_seed(sum(shape))
    return torch.randn(*shape, generator=g, dtype=dtype) * scale + shift


def _lif_module(args, kw):
    (x,) = args
    kw = dict(kw)
    return spikeops.LIF(kw.pop("decay", 0.5), **kw)(x)


def _lif_out(args, kw):
    (x,) = args
    if set(kw) - {"decay", "gain", "threshold", "reset", "v_reset", "deferred_reset"}:
        return None  # refractory, ages, surrogates: not in the `_out` op's scope
    p = [torch.as_tensor(kw.get(k, d), dtype=torch.float64) for k, d in (("decay", 0.5), ("gain", 1.0),
                                                                         ("threshold", 1.0))]
    reset = {"subtract": 0, "zero": 1, "none": 2}.get(kw.get("reset", "subtract"))
    if reset is None:
        return None  # the `_out` op takes the mode's number; names are the functional layer's
    state_dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    spikes, v = torch.empty_like(x), torch.empty(x.shape[1:], dtype=state_dtype)
    torch.ops.spikeops.lif_forward_out(x, None, *p, reset, kw.get("v_reset", 0.0), kw.get("deferred_reset", False),
                                       spikes, v, torch.empty(0, dtype=x.dtype))
    return spikes, F.LIFState(v)


OPS = {
    "lif": OpSpec(
        functional=F.lif, module=_lif_module, out=_lif_out,
        outputs=lambda r: (r[0], r[1].v),
        samples=[
            Sample("default", lambda: ((_x(5, 3, 4, shift=0.4),), dict(decay=0.8))),
            Sample("zero reset, refractory", lambda: ((_x(6, 10, shift=0.6),),
                                                      dict(decay=0.9, reset="zero", v_reset=-0.1, refractory=2))),
            Sample("float64, per-neuron threshold", lambda: ((_x(4, 7, dtype=torch.float64, shift=0.5),),
                                                             dict(decay=0.7, threshold=torch.linspace(0.5, 1.5, 7,
                                                                                               dtype=torch.float64)))),
            Sample("bfloat16", lambda: ((_x(4, 16, shift=0.5).bfloat16(),), dict(decay=0.8))),
            Sample("deferred reset, stdb", lambda: ((_x(5, 9, shift=0.7),),
                                                    dict(decay=0.9, deferred_reset=True, surrogate="stdb"))),
            Sample("integer x", lambda: ((torch.ones(3, 4, dtype=torch.int32),), dict(decay=0.5)), TypeError,
                   "x must be a float32"),
            Sample("no time dim", lambda: ((torch.zeros(()),), dict(decay=0.5)), ValueError,
                   r"leading time dimension|\[T, batch, \.\.\.\] inputs \(time first\)"),
            Sample("decay > 1", lambda: ((_x(3, 4),), dict(decay=1.5)), ValueError, "decay", on_values=True),
            Sample("threshold 0", lambda: ((_x(3, 4),), dict(decay=0.5, threshold=0.0)), ValueError, "threshold",
                   on_values=True),
            Sample("threshold of the wrong shape", lambda: ((_x(3, 4),), dict(decay=0.5, threshold=torch.ones(5))),
                   ValueError, "threshold"),
            Sample("bad reset", lambda: ((_x(3, 4),), dict(decay=0.5, reset="soft")), ValueError, "reset"),
            Sample("negative refractory", lambda: ((_x(3, 4),), dict(decay=0.5, refractory=-1)), ValueError,
                   "refractory"),
        ]),
    "soft_lif": OpSpec(
        functional=F.soft_lif, module=lambda a, kw: spikeops.nn.SoftLIF(**kw)(*a),
        samples=[
            Sample("default", lambda: ((_x(7, 5),), {})),
            Sample("float64, smoothing", lambda: ((_x(9, dtype=torch.float64),), dict(smoothing=0.1, gain=2.0))),
            Sample("float16", lambda: ((_x(6, 3).half(),), {})),
            Sample("integer x", lambda: ((torch.ones(3, dtype=torch.int64),), {}), TypeError, "x"),
            Sample("tau_rc 0", lambda: ((_x(3),), dict(tau_rc=0.0)), ValueError, "tau_rc"),
            Sample("negative smoothing", lambda: ((_x(3),), dict(smoothing=-1.0)), ValueError, "smoothing"),
        ]),
    "fs_neuron": OpSpec(
        functional=F.fs_neuron,
        samples=[
            Sample("K 6", lambda: ((_x(4, 8, scale=2), torch.full((6,), 0.5), torch.full((6,), 0.25),
                                    torch.full((6,), 0.4)), {})),
            Sample("float64", lambda: ((_x(10, dtype=torch.float64), *(torch.full((3,), 0.5, dtype=torch.float64),) * 3),
                                       {})),
            Sample("mismatched K", lambda: ((_x(4), torch.ones(3), torch.ones(4), torch.ones(3)), {}), ValueError,
                   r"\bd\b"),
            Sample("K over 64", lambda: ((_x(4), torch.ones(65), torch.ones(65), torch.ones(65)), {}), ValueError,
                   "64"),
            Sample("integer x", lambda: ((torch.ones(4, dtype=torch.int32), torch.ones(3), torch.ones(3),
                                          torch.ones(3)), {}), TypeError, "x"),
        ]),
    "lif_fixed": OpSpec(
        functional=F.lif_fixed, outputs=lambda r: (r[0], *r[1]),
        samples=[
            Sample("default", lambda: (((_x(6, 5, scale=300) + 200).to(torch.int32),),
                                       dict(du=410, dv=205, vth_mant=2000))),
            Sample("refractory, subtract", lambda: (((_x(6, 5, scale=300) + 300).to(torch.int32),),
                                                    dict(du=0, dv=100, vth_mant=1000, refractory=2,
                                                         reset="subtract"))),
            Sample("float a_in", lambda: ((_x(3, 4),), dict(du=1, dv=1, vth_mant=10)), TypeError, "a_in"),
            Sample("du out of range", lambda: ((torch.zeros(3, 4, dtype=torch.int32),),
                                               dict(du=5000, dv=1, vth_mant=10)), ValueError, "du"),
            Sample("vth_mant out of range", lambda: ((torch.zeros(3, 4, dtype=torch.int32),),
                                                     dict(du=1, dv=1, vth_mant=1 << 20)), ValueError, "vth_mant"),
        ]),
    "lif_substep": OpSpec(
        functional=F.lif_substep, outputs=lambda r: (r[0], *r[1]),
        samples=[
            Sample("default", lambda: ((_x(8, 6, scale=2, shift=1.5),), {})),
            Sample("float64 j", lambda: ((_x(3, 4, dtype=torch.float64),), {}), TypeError, "j"),
            Sample("dt 0", lambda: ((_x(3, 4),), dict(dt=0.0)), ValueError, "dt"),
        ]),
}

CASES = [(op, s) for op, spec in OPS.items() for s in spec.samples]
IDS = [f"{op}-{s.name}" for op, s in CASES]


def _tensors(result):
    return [t for t in (result if isinstance(result, (tuple, list)) else (result,)) if isinstance(t, torch.Tensor)]


def _expect_error(sample, fn):
    with pytest.raises(sample.error, match=sample.match):
        fn()


@pytest.mark.parametrize("op,sample", CASES, ids=IDS)
def test_functional(op, sample):
    spec = OPS[op]
    args, kw = sample.make()
    if sample.error:
        return _expect_error(sample, lambda: spec.functional(*args, **kw))
    for t in _tensors(spec.outputs(spec.functional(*args, **kw))):
        assert not t.is_floating_point() or not t.isnan().any()


@pytest.mark.parametrize("op,sample", CASES, ids=IDS)
def test_module_and_out_op(op, sample):
    spec = OPS[op]
    args, kw = sample.make()
    for path in (spec.module, spec.out):
        if path is None:
            continue
        if sample.error:
            with pytest.raises(sample.error, match=sample.match):
                if path(args, kw) is None:  # outside the `_out` op's scope: nothing to check
                    raise sample.error(sample.match)
            continue
        got = path(args, kw)
        if got is None:
            continue
        want = spec.outputs(spec.functional(*args, **kw))
        got = spec.outputs(got) if isinstance(got, tuple) else (got,)
        for a, b in zip(_tensors(got), _tensors(want)):
            assert torch.equal(a, b)


@pytest.mark.parametrize("op,sample", CASES, ids=IDS)
def test_fake_kernel(op, sample):
    """The fake kernel checks what eager checks and gives the same shapes and dtypes."""
    spec = OPS[op]
    args, kw = sample.make()
    mode = FakeTensorMode()
    fake_args = tuple(mode.from_tensor(a) if isinstance(a, torch.Tensor) else a for a in args)
    fake_kw = {k: mode.from_tensor(v) if isinstance(v, torch.Tensor) else v for k, v in kw.items()}
    with mode:
        if sample.error and sample.on_values:
            spec.functional(*fake_args, **fake_kw)  # checked when the real kernel runs
            return
        if sample.error:
            return _expect_error(sample, lambda: spec.functional(*fake_args, **fake_kw))
        fake = _tensors(spec.outputs(spec.functional(*fake_args, **fake_kw)))
    real = _tensors(spec.outputs(spec.functional(*args, **kw)))
    assert [(t.shape, t.dtype) for t in fake] == [(t.shape, t.dtype) for t in real]


@pytest.mark.parametrize("op,sample", CASES, ids=IDS)
def test_torch_compile(op, sample):
    spec = OPS[op]
    args, kw = sample.make()
    torch._dynamo.reset()
    compiled = torch.compile(lambda *a: spec.outputs(spec.functional(*a, **kw)), backend="aot_eager",
                             fullgraph=True)
    if sample.error:
        with pytest.raises(Exception, match=sample.match) as info:
            compiled(*args)
        assert isinstance(info.value, sample.error) or sample.error.__name__ in str(info.value) or \
            isinstance(info.value.__cause__, sample.error)
        return
    for a, b in zip(_tensors(compiled(*args)), _tensors(spec.outputs(spec.functional(*args, **kw)))):
        assert torch.equal(a, b)
