"""Property tests of the fused LIF op against spikeops.reference: random T, neuron shapes,
memory layouts (non-contiguous, expanded, channels-last), dtypes, parameter shapes (number,
per layer, per channel, per neuron), reset modes, surrogates, refractory periods and ages;
values and gradients compared to stated tolerances, and every result bitwise equal across
thread counts and CPU instruction sets.

The examples are derandomized (the same in every run). HYPOTHESIS_PROFILE=long runs many
more (locally); the default profile keeps this file near a minute."""
import os

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SUPPORTED_ISAS
from spikeops import functional as F
from spikeops import reference as R
from spikeops import surrogate as S
from spikeops.kinds import reset_mode

settings.register_profile("ci", max_examples=200, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=2000, derandomize=False, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")

SURROGATES = ["atan", "fast_sigmoid", "sigmoid", "triangle", "rectangle", "linear", "stdb"]


@st.composite
def lif_cases(draw):
    T = draw(st.integers(1, 12))
    shape = draw(st.sampled_from([(1,), (7,), (33,), (2, 17), (3, 4, 5), (2, 3, 4, 4)]))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    layout = draw(st.sampled_from(["contiguous", "transposed", "sliced", "expanded", "channels_last"]))
    if layout == "channels_last" and len(shape) != 3:
        layout = "contiguous"
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    full = (T, *shape)
    if layout == "transposed":  # stored with the last two dims swapped
        x = torch.randn(*full[:-2], full[-1], full[-2], generator=g, dtype=dtype).transpose(-1, -2)
    elif layout == "sliced":  # every other element of a wider buffer
        x = torch.randn(*full[:-1], 2 * full[-1], generator=g, dtype=dtype)[..., ::2]
    elif layout == "expanded":  # one row broadcast over the first neuron dim
        x = torch.randn(T, 1, *shape[1:], generator=g, dtype=dtype).expand(full)
    elif layout == "channels_last":
        x = torch.randn(*full, generator=g, dtype=dtype).contiguous(memory_format=torch.channels_last)
    else:
        x = torch.randn(*full, generator=g, dtype=dtype)
    x = (x * 1.3 + 0.5).requires_grad_()

    def param(lo, hi):
        kind = draw(st.sampled_from(["number", "layer", "channel", "neuron"]))
        if kind == "number":
            return float(draw(st.floats(lo, hi)))
        if kind == "layer":
            return (torch.rand((), generator=g, dtype=dtype) * (hi - lo) + lo).requires_grad_()
        pshape = shape if kind == "neuron" else (shape[0],) + (1,) * (len(shape) - 1)
        return (torch.rand(pshape, generator=g, dtype=dtype) * (hi - lo) + lo).requires_grad_()

    reset = draw(st.sampled_from(["subtract", "zero", "none"]))
    refractory = draw(st.sampled_from([0, 0, 1, 3]))
    deferred = refractory == 0 and draw(st.booleans())
    kw = dict(decay=param(0.0, 1.0), gain=param(0.5, 1.5), threshold=param(0.4, 1.6), reset=reset,
              v_reset=draw(st.sampled_from([0.0, -0.3, 0.2])), refractory=refractory, deferred_reset=deferred,
              detach_reset=draw(st.booleans()), surrogate=draw(st.sampled_from(SURROGATES)),
              track_age=draw(st.booleans()))
    state = None
    if draw(st.booleans()):
        state = F.LIFState((torch.randn(shape, generator=g, dtype=dtype) * 0.5).requires_grad_(),
                           torch.randint(-2, 4, shape, generator=g, dtype=torch.int32) if refractory else None,
                           torch.randint(-3, 40, shape, generator=g, dtype=torch.int32))
    return x, state, kw


def _run(fn, x, state, kw):
    spikes, st_out = fn(x, state, **kw)
    weights = torch.linspace(0.5, 1.5, x.shape[0], dtype=x.dtype).reshape(-1, *([1] * (x.dim() - 1)))
    loss = (spikes * weights).sum() + (st_out.v * st_out.v).sum()
    inputs = [t for t in (x, kw["decay"], kw["gain"], kw["threshold"], state.v if state else None)
              if isinstance(t, torch.Tensor)]
    return spikes, st_out, torch.autograd.grad(loss, inputs, allow_unused=True)


def _near_threshold(x, state, kw):
    """Neurons whose pre-spike membrane h comes within 1e-4 (relative) of the threshold at
    some step, where float rounding may decide the spike either way; h as the kernel saves
    it for the backward pass."""
    sg = S.get(kw["surrogate"])
    theta = F._param("threshold", kw["threshold"])
    detached = [t.detach() if isinstance(t, torch.Tensor) else t for t in (x, state.v if state else None)]
    h = torch.ops.spikeops.lif_forward(
        detached[0], detached[1], state.refractory if state else None, state.age if state else None,
        F._param("decay", kw["decay"]).detach(), F._param("gain", kw["gain"]).detach(), theta.detach(),
        int(reset_mode(kw["reset"])), kw["v_reset"], kw["refractory"], kw["deferred_reset"], kw["detach_reset"],
        int(sg.kind), sg.height, sg.width, True, 1000, False, True)[5]
    theta = theta.detach().to(h.dtype)
    return ((h - theta).abs() <= 1e-4 * (1 + theta.abs())).any(0)


@settings(settings.get_profile(PROFILE))
@given(lif_cases())
def test_lif_matches_the_reference(case):
    x, state, kw = case
    s1, st1, g1 = _run(F.lif, x, state, kw)
    s2, st2, g2 = _run(R.lif, x, state, kw)
    # A rounding that lands one membrane on the other side of the threshold changes that
    # neuron's whole future; such runs are compared only where no membrane came close.
    near = _near_threshold(x, state, kw)
    far = ~near.reshape(-1)
    if far.any():
        assert torch.equal(s1.reshape(x.shape[0], -1)[:, far], s2.reshape(x.shape[0], -1)[:, far])
    if not near.any():
        tol = dict(rtol=1e-4, atol=1e-5) if x.dtype == torch.float32 else dict(rtol=1e-9, atol=1e-10)
        torch.testing.assert_close(st1.v, st2.v, **tol)
        for a, b in zip(g1, g2):
            scale = max(1.0, b.abs().max().item())
            torch.testing.assert_close(a, b, rtol=tol["rtol"] * 10, atol=tol["atol"] * 10 * scale)


@settings(settings.get_profile(PROFILE))
@given(lif_cases())
def test_lif_is_bitwise_the_same_on_every_thread_count_and_isa(case):
    x, state, kw = case
    want = None
    previous = torch.get_num_threads()
    try:
        for isa in SUPPORTED_ISAS:
            os.environ["SPIKEOPS_CPU_ISA"] = isa
            for threads in (1, 2, 3):
                torch.set_num_threads(threads)
                s, st_out, grads = _run(F.lif, x, state, kw)
                got = [s, st_out.v, *grads]
                if want is None:
                    want = got
                else:
                    for a, b in zip(got, want):
                        assert (a is None and b is None) or torch.equal(a, b), (isa, threads)
    finally:
        torch.set_num_threads(previous)
        os.environ.pop("SPIKEOPS_CPU_ISA", None)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@settings(settings.get_profile(PROFILE).__class__(settings.get_profile(PROFILE), max_examples=20))
@given(case=lif_cases())
def test_16bit_lif_is_the_float32_computation_rounded(dtype, case):
    """16-bit data: state and arithmetic in float32, spikes exact; the same spikes as the
    float32 op on the 16-bit values, and the final membrane equal."""
    x, state, kw = case
    if x.dtype != torch.float32:
        return
    x16 = x.detach().to(dtype)
    kw = {k: (v.detach().float() if isinstance(v, torch.Tensor) else v) for k, v in kw.items()}
    state = state and F.LIFState(state.v.detach().float(), state.refractory, state.age)
    s16, st16 = F.lif(x16, state, **kw)
    s32, st32 = F.lif(x16.float(), state, **kw)
    assert s16.dtype == dtype and torch.equal(s16.float(), s32)
    assert torch.equal(st16.v, st32.v)
