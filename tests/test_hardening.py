"""Hostile input: counters at their limits, aliased `_out` buffers, parameter values,
thread counts, NaN. Each test pins one documented guarantee (README, "Guarantees")."""
import math

import pytest
import torch

from spikeops import functional as F
from spikeops import reference as R
from spikeops import surrogate as S

OPS = torch.ops.spikeops
COUNTER_MAX = 2 ** 24
INT32_MAX = 2 ** 31 - 1


# -- counters: one conversion of a caller's int32 state, one saturation value

def _counter_case(dtype):
    x = torch.tensor([[0.2, 0.2, 0.2, 0.2, 1.5, 0.2],
                      [0.3, 1.6, 0.3, 0.3, 0.3, 0.3],
                      [0.1, 0.1, 0.1, 1.7, 0.1, 0.1]], dtype=dtype).requires_grad_()
    age = torch.tensor([-7, -1, 0, COUNTER_MAX - 1, INT32_MAX - 3, INT32_MAX], dtype=torch.int32)
    refr = torch.tensor([INT32_MAX, -5, 0, 1, INT32_MAX - 64, 3], dtype=torch.int32)
    return x, F.LIFState(torch.zeros(6, dtype=dtype), refr, age)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_counters_are_read_clamped_and_saturate(isa, dtype):
    """Negative or huge ages and refractory counts read as their value clamped to [0, 2^24]
    on every ISA (no undefined conversion), the age saturates at 2^24, and the stdb
    gradients that read the ages agree with the reference."""
    x, state = _counter_case(dtype)
    kw = dict(decay=0.9, threshold=1.0, refractory=2, surrogate=S.STDB(), return_ages=True)
    (s, st, ages), (s_ref, st_ref, ages_ref) = F.lif(x, state, **kw), R.lif(x, state, **kw)
    assert torch.equal(s, s_ref) and torch.equal(ages, ages_ref)
    assert torch.equal(st.age, st_ref.age) and torch.equal(st.refractory, st_ref.refractory)
    assert ages.min() >= 1 and ages.max() == COUNTER_MAX and st.refractory.max() <= COUNTER_MAX
    g = torch.autograd.grad((s * torch.arange(1.0, 4.0, dtype=dtype)[:, None]).sum(), x)[0]
    g_ref = torch.autograd.grad((s_ref * torch.arange(1.0, 4.0, dtype=dtype)[:, None]).sum(), x)[0]
    torch.testing.assert_close(g, g_ref, rtol=1e-5, atol=1e-7)


def test_counters_agree_across_isas():
    from conftest import SUPPORTED_ISAS
    import os
    results = []
    for isa_name in SUPPORTED_ISAS:
        os.environ["SPIKEOPS_CPU_ISA"] = isa_name
        try:
            x, state = _counter_case(torch.float32)
            s, st, ages = F.lif(x, state, decay=0.9, refractory=2, surrogate=S.STDB(), return_ages=True)
            g = torch.autograd.grad(s.sum() + st.v.sum(), x)[0]
            results.append([s, st.age, st.refractory, ages, g])
        finally:
            del os.environ["SPIKEOPS_CPU_ISA"]
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert torch.equal(a, b)


# -- `_out` buffers

def _forward_out(x, spikes, v, saved_h, v0=None, alpha=0.5):
    one = torch.tensor(1.0)
    OPS.lif_forward_out(x, v0, torch.tensor(alpha), one, one, 0, 0.0, False, spikes, v, saved_h)


def test_out_buffers_in_place():
    """An output may be exactly an input where the kernel reads each element first: spikes
    or saved h over x, v over v0, grad_x over grad_spikes."""
    x = torch.randn(5, 7)
    v0 = torch.randn(7)
    want_s, want_v = torch.empty(5, 7), torch.empty(7)
    want_h = torch.empty(5, 7)
    _forward_out(x, want_s, want_v, want_h, v0)
    xs, v = x.clone(), v0.clone()
    _forward_out(xs, xs, v, torch.empty(5, 7), v)
    assert torch.equal(xs, want_s) and torch.equal(v, want_v)
    xh = x.clone()
    _forward_out(xh, torch.empty(5, 7), torch.empty(7), xh, v0)
    assert torch.equal(xh, want_h)
    one = torch.tensor(1.0)
    args = (want_h, torch.tensor(0.5), one, one, 0, 0.0, False, False, 0, 1.0, 2.0)
    g = torch.randn(5, 7)
    want_g = torch.empty(5, 7)
    OPS.lif_backward_out(g, *args, want_g)
    g_in_place = g.clone()
    OPS.lif_backward_out(g_in_place, *args, g_in_place)
    assert torch.equal(g_in_place, want_g)


@pytest.mark.parametrize("case", ["spikes~x shifted", "v in spikes", "saved_h~spikes", "v~x", "grad_x~saved_h",
                                  "grad_x~grad_spikes shifted", "spikes~decay"])
def test_out_buffers_sharing_memory_are_rejected(case):
    x = torch.randn(4, 6)
    buf = torch.empty(5 * 6)
    spikes, v, saved_h = torch.empty(4, 6), torch.empty(6), torch.empty(4, 6)
    one = torch.tensor(1.0)
    if case.startswith("grad_x"):
        h = torch.randn(4, 6)
        g = torch.randn(4, 6)
        if case == "grad_x~saved_h":
            out, name = h, "grad_x shares memory with saved_h"
        else:
            g, out = buf[:24].view(4, 6), buf[6:].view(4, 6)
            name = "grad_x shares memory with grad_spikes other than as exactly the same elements"
        with pytest.raises(ValueError, match=name):
            OPS.lif_backward_out(g, h, one * 0.5, one, one, 0, 0.0, False, False, 0, 1.0, 2.0, out)
        return
    if case == "spikes~x shifted":
        buf[:24] = x.reshape(-1)
        x, spikes, match = buf[:24].view(4, 6), buf[6:].view(4, 6), "spikes shares memory with x other than"
        args = (x, spikes, v, saved_h)
    elif case == "v in spikes":
        args, match = (x, spikes, spikes[1], saved_h), "spikes shares memory with v"
    elif case == "saved_h~spikes":
        args, match = (x, spikes, v, spikes), "spikes shares memory with saved_h"
    elif case == "v~x":
        args, match = (x, spikes, x[2], saved_h), "v shares memory with x"
    else:
        alpha = spikes[0, :1].reshape(()).fill_(0.5)
        with pytest.raises(ValueError, match="spikes shares memory with decay"):
            OPS.lif_forward_out(x, None, alpha, one, one, 0, 0.0, False, spikes, v, saved_h)
        return
    with pytest.raises(ValueError, match=match):
        _forward_out(*args)


# -- parameter values: one set of rules, the same for every entry point

BAD_PARAMS = [
    (dict(threshold=-math.inf), "threshold"), (dict(threshold=math.inf), "threshold"),
    (dict(threshold=0.0), "threshold"), (dict(threshold=math.nan), "threshold"),
    (dict(gain=math.inf), "gain"), (dict(gain=-math.inf), "gain"), (dict(gain=math.nan), "gain"),
    (dict(decay=math.inf), "decay"), (dict(decay=-0.1), "decay"), (dict(decay=1.5), "decay"),
    (dict(decay=math.nan), "decay"),
]


@pytest.mark.parametrize("kwargs,name", BAD_PARAMS)
@pytest.mark.parametrize("form", ["number", "per-neuron tensor"])
def test_bad_parameter_values_name_the_argument(kwargs, name, form):
    x = torch.randn(3, 4)
    key, value = next(iter(kwargs.items()))
    if form == "per-neuron tensor":
        value = torch.tensor([0.5, 0.5, value, 0.5])
    with pytest.raises(ValueError, match=name):
        F.lif(x, **{key: value})


@pytest.mark.parametrize("kwargs,name", BAD_PARAMS)
def test_out_ops_check_parameter_values_too(kwargs, name):
    x = torch.randn(3, 4)
    p = {"decay": torch.tensor(0.5), "gain": torch.tensor(1.0), "threshold": torch.tensor(1.0)}
    key, value = next(iter(kwargs.items()))
    p[key] = torch.tensor(value)
    with pytest.raises(ValueError, match=name):
        OPS.lif_forward_out(x, None, p["decay"], p["gain"], p["threshold"], 0, 0.0, False, torch.empty(3, 4),
                            torch.empty(4), torch.empty(0))
    with pytest.raises(ValueError, match=name):
        OPS.lif_backward_out(x, x.clone(), p["decay"], p["gain"], p["threshold"], 0, 0.0, False, False, 0, 1.0,
                             2.0, torch.empty(3, 4))


@pytest.mark.parametrize("key", ["decay", "gain", "threshold"])
def test_empty_parameter_tensor_is_named(key):
    with pytest.raises(ValueError, match=f"{key}.* is an empty tensor"):
        F.lif(torch.randn(3, 4), **{key: torch.empty(0)})


# -- determinism of the parameter gradients across thread counts

def _param_grads(threads, per_channel, ops=None):
    torch.manual_seed(3)
    T, B, C, H, W = 6, 4, 8, 20, 20
    x = (torch.randn(T, B, C, H, W) * 0.8 + 0.5).requires_grad_()
    shape = (C, 1, 1) if per_channel else ()
    alpha = torch.full(shape, 0.8).requires_grad_()
    gamma = torch.full(shape, 1.1).requires_grad_()
    theta = torch.full(shape, 0.9).requires_grad_()
    weights = torch.randn(T, B, C, H, W)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        if ops is None:
            s, st = F.lif(x, decay=alpha, gain=gamma, threshold=theta, surrogate="sigmoid")
        else:
            one_sg = S.get("sigmoid")
            s, v = ops.lif_forward(x, None, None, None, alpha, gamma, theta, 0, 0.0, 0, False, False,
                                   int(one_sg.kind), one_sg.height, one_sg.width, False, 1000, False, True)[:2]
            st = F.LIFState(v)
        return torch.autograd.grad((s * weights).sum() + st.v.sum(), (x, alpha, gamma, theta))
    finally:
        torch.set_num_threads(previous)


@pytest.mark.parametrize("per_channel", [False, True])
def test_parameter_gradients_are_bitwise_equal_for_any_thread_count(per_channel):
    one = _param_grads(1, per_channel)
    for threads in (2, 3):
        for a, b in zip(one, _param_grads(threads, per_channel)):
            assert torch.equal(a, b), threads


@pytest.mark.parametrize("per_channel", [False, True])
def test_emulated_cuda_parameter_gradients_are_bitwise_equal_for_any_thread_count(per_channel):
    emulated = pytest.importorskip("spikeops._emulated_cuda", reason="the emulated CUDA build is optional")
    del emulated
    ops = torch.ops.spikeops_emulated_cuda
    one = _param_grads(1, per_channel, ops)
    for threads in (2, 3):
        for a, b in zip(one, _param_grads(threads, per_channel, ops)):
            assert torch.equal(a, b), threads


# -- NaN policy: NaN propagates through every surrogate of the membrane

NAN_SURROGATES = ["atan", "fast_sigmoid", "sigmoid", "triangle", S.Triangle(width=None), "rectangle", "linear",
                  "stdb"]


@pytest.mark.parametrize("sg", NAN_SURROGATES, ids=str)
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_nan_input_propagates_like_the_reference(isa, sg, reset):
    x = torch.tensor([[0.5, math.nan, 1.5], [0.4, 0.4, 0.4], [0.9, 0.9, 0.9]]).requires_grad_()
    weights = torch.tensor([[1.0, 2.0, 3.0], [0.5, 0.5, 0.5], [1.0, 1.0, 1.0]])
    grads = []
    for fn in (F.lif, R.lif):
        s, st = fn(x, decay=0.7, threshold=1.0, reset=reset, surrogate=sg, track_age=True)
        assert s[:, 1].eq(0).all() and st.v[1].isnan()  # NaN never spikes; the membrane stays NaN
        grads.append(torch.autograd.grad((s * weights).sum(), x)[0])
    got, want = grads
    want_nan = want.isnan()
    if S.get(sg).name == "stdb" and reset == "zero":
        # The kernel's zero-reset term multiplies the last step's dL/dv (0: the final state is
        # unused here) by h - v_reset, NaN; the reference's autograd never evaluates that term.
        want_nan[-1, 1] = True
    assert torch.equal(got.isnan(), want_nan)
    torch.testing.assert_close(got[~want_nan], want[~want_nan], rtol=1e-5, atol=1e-6)
    if S.get(sg).name != "stdb":  # the stdb surrogate reads the spike age, not the membrane
        assert got[:, 1].isnan().all()


def test_emulated_cuda_nan_policy_matches_cpu():
    pytest.importorskip("spikeops._emulated_cuda", reason="the emulated CUDA build is optional")
    x = torch.tensor([[0.5, math.nan, 1.5]] * 3)
    g = torch.ones(3, 3)
    one = torch.tensor(1.0)
    for sg in NAN_SURROGATES:
        sgo = S.get(sg)
        args = (torch.tensor(0.7), one, one, 0, 0.0, False)
        outs = []
        for ops in (OPS, torch.ops.spikeops_emulated_cuda):
            s, v, h = torch.empty(3, 3), torch.empty(3), torch.empty(3, 3)
            ops.lif_forward_out(x, None, *args, s, v, h)
            if sgo.name == "stdb":
                break
            gx = torch.empty(3, 3)
            ops.lif_backward_out(g, h, *args[:-1], False, False, int(sgo.kind), sgo.height, sgo.width, gx)
            outs.append(gx)
        if outs:
            assert torch.equal(outs[0].isnan(), outs[1].isnan()), sgo
            assert outs[0][:, 1].isnan().all()


def test_reference_zero_reset_of_an_infinite_membrane():
    x = torch.tensor([[math.inf, 0.3]])
    s, st = R.lif(x, decay=0.5, reset="zero", v_reset=-0.25)
    assert torch.equal(s, torch.tensor([[1.0, 0.0]]))
    # v_reset where the infinite membrane spiked (inf * 0 would make it NaN); the other
    # neuron started at rest (v_reset).
    want = torch.tensor(0.5) * torch.tensor(-0.25) + torch.tensor(0.3)
    assert torch.equal(st.v, torch.stack([torch.tensor(-0.25), want]))
    s, st = F.lif(x, decay=0.5, reset="zero", v_reset=-0.25)
    assert torch.equal(st.v, torch.stack([torch.tensor(-0.25), want]))
