"""The LIF op family (lif_forward, lif_backward, lif_forward_out, lif_backward_out; spikeops.functional.lif):
formulas by hand, parity with spikeops.reference in every mode, argument checks, op registration."""
import ast
import math
import pathlib

import numpy as np
import pytest
import torch

import spikeops
from spikeops import functional as F
from spikeops import reference as R
from spikeops import surrogate as S
from spikeops.kinds import ResetMode, SurrogateKind

from conftest import ConvSNN, LIF_CASES, RESETS, SUPPORTED_ISAS, SURROGATES, lif_forward_args, make_lif_case


def test_if_neuron_counts_input_exactly(isa):
    # IF with subtract reset is a perfect integrator: spikes = floor(T c / theta), residue stays in v.
    # (no partial sum k*c, k <= T, is an integer, so rounding cannot decide a crossing)
    c = torch.tensor([0.07, 0.23, 0.31, 0.57, 0.73, 0.97])
    T = 64
    spikes, st = F.lif(c.expand(T, -1).contiguous(), decay=1.0, threshold=1.0)
    count = spikes.sum(0)
    torch.testing.assert_close(count, torch.floor(T * c))
    torch.testing.assert_close(st.v, T * c - count, rtol=0, atol=1e-4)


def test_fires_strictly_above_threshold(isa):
    s, st = F.lif(torch.tensor([[1.0, 1.0000001]]), decay=1.0, threshold=1.0)
    assert s.tolist() == [[0.0, 1.0]]


def test_deferred_reset_follows_snntorch_ordering(isa):
    # mem[t] = beta*mem[t-1] + x[t] - theta*H(mem[t-1] - theta), the subtraction not decayed.
    x = torch.tensor([1.5, 0.0, 0.0, 1.2]).unsqueeze(1)
    s, st = F.lif(x, decay=0.5, deferred_reset=True)
    assert s.squeeze(1).tolist() == [1.0, 0.0, 0.0, 1.0]
    mem = [1.5, 0.5 * 1.5 - 1.0, 0.5 * (0.5 * 1.5 - 1.0), 0.25 * (0.5 * 1.5 - 1.0) + 1.2]
    torch.testing.assert_close(st.v, torch.tensor([mem[-1]]))
    # the standard ordering decays the subtraction: v1 = 0.5, h2 = 0.25, h3 = 0.125, h4 = 1.2625
    s2, st2 = F.lif(x, decay=0.5)
    torch.testing.assert_close(st2.v, torch.tensor([1.2625 - 1.0]))


def test_zero_reset_and_refractory_period(isa):
    # constant drive 2 > theta: fires every step without refractoriness, every R+1 steps with it.
    x = torch.full((12, 1), 2.0)
    s, _ = F.lif(x, decay=0.9, reset="zero")
    assert s.sum() == 12
    s, st = F.lif(x, decay=0.9, reset="zero", refractory=2, v_reset=-0.5)
    assert s.squeeze(1).tolist() == [1, 0, 0] * 4
    assert st.refractory.item() == 2 - 2  # last spike at t = 9, held at 10 and 11
    torch.testing.assert_close(st.v, torch.tensor([-0.5]))


def test_spike_age(isa):
    x = torch.tensor([2.0, 0.0, 0.0, 2.0, 0.0]).unsqueeze(1)
    _, st, ages = F.lif(x, decay=0.0, return_ages=True, age_init=1000)
    # a[t] = steps since the most recent spike strictly before t; never fired: a0 + t
    assert ages.squeeze(1).tolist() == [1001, 1, 2, 3, 1]
    assert st.age.item() == 1


def _one_step_grad(sg, u, theta=1.0, age_init=1000):
    x = torch.tensor([[theta + u]], dtype=torch.float64, requires_grad=True)
    s, _ = F.lif(x, decay=0.5, threshold=theta, surrogate=sg, age_init=age_init)
    (g,) = torch.autograd.grad(s.sum(), x)
    return g.item()


@pytest.mark.parametrize("u", [-0.7, -0.1, 0.0, 0.05, 0.3, 1.2])
def test_surrogates_match_spec_formulas(u):
    theta = 1.3
    spec = {
        S.ATan(2.0): (2.0 / 2) / (1 + (math.pi / 2 * 2.0 * u) ** 2),
        S.FastSigmoid(25.0): 1 / (1 + 25 * abs(u)) ** 2,
        S.Sigmoid(4.0): 4 * (1 / (1 + math.exp(-4 * u))) * (1 - 1 / (1 + math.exp(-4 * u))),
        S.Triangle(None, height=0.3): 0.3 * max(0.0, 1 - abs(u / theta)),
        S.Triangle(0.5, height=2.0): 2.0 * max(0.0, 1 - abs(u) / 0.5),
        S.Rectangle(0.4): (1 / 0.4) if abs(u) < 0.2 else 0.0,
        # Bellec et al.: 0.3 max(0, 1 - |mem/theta - 1|) per unit of mem/theta, mem = u + theta
        S.Linear(): 0.3 * max(0.0, 1 - abs((u + theta) / theta - 1)) / theta,
    }
    for sg, want in spec.items():
        assert _one_step_grad(sg, u, theta) == pytest.approx(want, rel=1e-6, abs=1e-9), sg


def test_stdb_surrogate_depends_on_spike_age():
    theta = 0.8
    for age_init, beta, c in [(0, 0.01, 0.3), (41, 0.035, 0.5), (1000, 0.01, 0.3)]:
        want = c * math.exp(-beta * (age_init + 1)) / theta
        got = _one_step_grad(S.STDB(c, beta), 0.2, theta, age_init)
        assert got == pytest.approx(want, rel=1e-6)
    # the hybrid-conversion code's float32 form: alpha * exp(-age)^beta, which underflows from age 104 on
    for age_init in (50, 102, 103, 1000):
        age = torch.tensor(float(age_init + 1))
        want = (0.3 * torch.exp(-age) ** 0.01).item() / theta
        got = _one_step_grad(S.STDB(0.3, 0.01, float32_underflow=True), 0.2, theta, age_init)
        assert got == pytest.approx(want, rel=3e-3, abs=0.0), age_init


# --------------------------------------- the kernels against spikeops.reference

def run_both(x, state, loss_weights, **kw):
    outs = []
    for fn in (F.lif, R.lif):
        spikes, st = fn(x, state, **kw)
        loss = (spikes * loss_weights).sum() + (st.v * st.v).sum()
        inputs = [t for t in (x, kw["decay"], kw["gain"], kw["threshold"], state.v if state else None)
                  if t is not None]
        grads = torch.autograd.grad(loss, inputs)
        outs.append((spikes, st, grads))
    return outs


def assert_close_grads(got, want, rtol, atol):
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=rtol, atol=atol * max(1.0, w.abs().max().item()))


@pytest.mark.parametrize("reset,sg_index,refractory,deferred,detach", LIF_CASES)
def test_parity_all_modes(isa, reset, sg_index, refractory, deferred, detach):
    sg = SURROGATES[sg_index]
    T, N = 9, 53  # N not a multiple of 8 or 16: vector body plus scalar tail
    x, alpha, gamma, theta, state = make_lif_case(T, N, torch.float32, True, True, refractory)
    kw = dict(decay=alpha, gain=gamma, threshold=theta, reset=reset, v_reset=-0.2 if reset == "zero" else 0.1,
              refractory=refractory, deferred_reset=deferred, detach_reset=detach, surrogate=sg, track_age=True)
    weights = torch.rand(T, 1)
    (s1, st1, g1), (s2, st2, g2) = run_both(x, state, weights, **kw)
    assert torch.equal(s1, s2)
    torch.testing.assert_close(st1.v, st2.v, rtol=1e-5, atol=1e-5)
    assert torch.equal(st1.age, st2.age)
    if refractory:
        assert torch.equal(st1.refractory, st2.refractory)
    assert_close_grads(g1, g2, rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("T,N", [(1, 1), (1, 37), (4, 16), (3, 1000), (200, 19)])
@pytest.mark.parametrize("per_neuron", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_parity_shapes(isa, T, N, per_neuron, with_state):
    x, alpha, gamma, theta, state = make_lif_case(T, N, torch.float32, per_neuron, with_state, 0)
    kw = dict(decay=alpha, gain=gamma, threshold=theta, surrogate="atan")
    (s1, st1, g1), (s2, st2, g2) = run_both(x, state, torch.rand(T, 1), **kw)
    # Over long runs float rounding may land a membrane on the other side of the threshold; the
    # reference's h tells which elements are that close.
    h_ref = _reference_h(x.detach(), alpha.detach(), gamma.detach(), theta.detach(),
                         state.v.detach() if state else None)
    near = (h_ref - theta.detach()).abs() < 1e-4
    assert torch.equal(s1[~near], s2[~near])
    if not near.any():
        torch.testing.assert_close(st1.v, st2.v, rtol=1e-4, atol=1e-4)
        assert_close_grads(g1, g2, rtol=1e-3, atol=1e-4)


def _reference_h(x, alpha, gamma, theta, v0):
    v = torch.zeros_like(x[0]) if v0 is None else v0.clone()
    hs = []
    for x_t in x:
        h = alpha * v + gamma * x_t
        hs.append(h)
        v = h - theta * (h > theta).to(h.dtype)
    return torch.stack(hs)


@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("sg_index", range(len(SURROGATES)))
def test_parity_float64(reset, sg_index):
    sg = SURROGATES[sg_index]
    T, N = 12, 29
    x, alpha, gamma, theta, state = make_lif_case(T, N, torch.float64, True, True, 1)
    kw = dict(decay=alpha, gain=gamma, threshold=theta, reset=reset, v_reset=0.1, refractory=1, surrogate=sg,
              track_age=True)
    (s1, st1, g1), (s2, st2, g2) = run_both(x, state, torch.rand(T, 1, dtype=torch.float64), **kw)
    assert s1.dtype == torch.float64
    assert torch.equal(s1, s2)
    torch.testing.assert_close(st1.v, st2.v, rtol=1e-12, atol=1e-12)
    # float64 computes in float64 throughout, the surrogate's constants and v_reset included.
    assert_close_grads(g1, g2, rtol=1e-11, atol=1e-12)


def test_per_channel_parameters_are_reduced(isa):
    T, B, C, H, W = 5, 3, 4, 5, 6
    x = torch.randn(T, B, C, H, W).requires_grad_()
    alpha = torch.full((C, 1, 1), 0.7).requires_grad_()
    theta = torch.linspace(0.6, 1.4, C).reshape(C, 1, 1).requires_grad_()
    gamma = torch.tensor([1.2], requires_grad=True)
    grads = []
    for fn in (F.lif, R.lif):
        s, st = fn(x, decay=alpha, threshold=theta, gain=gamma, surrogate="sigmoid")
        grads.append(torch.autograd.grad((s * s.detach().roll(1, 0)).sum() + st.v.sum(), (x, alpha, theta, gamma)))
    for g, w in zip(*grads):
        assert g.shape == w.shape
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-4)


def test_ages_and_state_carry_across_calls(isa):
    T, N = 16, 40
    x = torch.rand(T, N) * 1.5
    whole, st_whole, ages_whole = F.lif(x, decay=0.9, refractory=2, track_age=True, return_ages=True)
    first, st1, ages1 = F.lif(x[:7], decay=0.9, refractory=2, return_ages=True)
    second, st2, ages2 = F.lif(x[7:], st1, decay=0.9, refractory=2, return_ages=True)
    assert torch.equal(torch.cat([first, second]), whole)
    assert torch.equal(torch.cat([ages1, ages2]), ages_whole)
    assert torch.equal(st2.v, st_whole.v) and torch.equal(st2.age, st_whole.age)
    assert torch.equal(st2.refractory, st_whole.refractory)
    assert ages_whole.dtype == torch.int32
    _, _, ages_ref = R.lif(x, decay=0.9, refractory=2, return_ages=True)
    assert torch.equal(ages_whole, ages_ref)


def test_final_state_gradient_only(isa):
    x = torch.randn(6, 33).requires_grad_()
    v0 = torch.randn(33).requires_grad_()
    for fn in (F.lif, R.lif):
        _, st = fn(x, F.LIFState(v0), decay=0.6, reset="zero", surrogate="triangle")
        g = torch.autograd.grad(st.v.sum(), (x, v0))
        if fn is F.lif:
            got = g
    torch.testing.assert_close(got[0], g[0])
    torch.testing.assert_close(got[1], g[1])


def test_noncontiguous_input(isa):
    base = torch.randn(40, 8, 5)
    x = base.transpose(0, 1)[:, ::2]  # [8, 20, 5], not contiguous
    assert not x.is_contiguous()
    s1, st1 = F.lif(x, decay=0.8)
    s2, st2 = F.lif(x.contiguous(), decay=0.8)
    assert torch.equal(s1, s2) and torch.equal(st1.v, st2.v)


# -------------------------------------------------------- 16-bit saved membrane

@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_rounding_keeps_the_side_of_the_threshold(dtype):
    theta = torch.tensor([0.3, 1.0, 1.1, 0.7071, 3.3e-3, 250.1])
    rel = torch.linspace(-4e-3, 4e-3, 20001).unsqueeze(1)
    h = (theta * (1 + rel)).float()  # [K, 6]: dense around each threshold, including exact ties
    h = torch.cat([h, -h, torch.full((1, 6), float("-inf")), torch.zeros(1, 6)])
    saved = R.round_saved_h(h, theta, dtype)
    assert torch.equal(saved > theta, h > theta)
    assert torch.equal(saved.to(dtype).float(), saved)  # representable in the 16-bit type
    nearest = h.to(dtype).float()
    moved = saved != nearest
    assert moved.any()  # the dense grid does cross thresholds that are not representable
    ulp = torch.where(nearest == 0, torch.finfo(dtype).smallest_normal,
                      nearest.abs() * torch.finfo(dtype).eps)
    assert ((saved - nearest).abs()[moved] <= ulp[moved] * 1.0001).all()
    assert torch.equal(saved[~moved], nearest[~moved])
    assert saved[-2].isneginf().all()  # the refractory marker survives


def test_only_16bit_types():
    with pytest.raises(ValueError, match="dtype"):
        R.round_saved_h(torch.zeros(3), 1.0, torch.float32)


# -------------------------------------------------------------- argument checks

X = torch.randn(4, 6)


@pytest.mark.parametrize("kwargs,match", [
    (dict(decay=1.5), "decay"),
    (dict(decay=-0.1), "decay"),
    (dict(decay=torch.full((6,), 1.2)), "decay"),
    (dict(threshold=0.0), "threshold"),
    (dict(threshold=-1.0), "threshold"),
    (dict(threshold=torch.tensor([1.0, 1, 1, 1, 1, 0])), "threshold"),
    (dict(tau=0.5), "tau"),
    (dict(decay=0.5, tau=2.0), "decay or tau"),
    (dict(reset="soft"), "reset"),
    (dict(surrogate="gaussian"), "surrogate"),
    (dict(refractory=-1), "refractory"),
    (dict(refractory=2, deferred_reset=True), "deferred_reset"),
    (dict(age_init=-5), "age_init"),
    (dict(v_reset=float("nan")), "v_reset"),
    (dict(decay=torch.ones(5)), "decay"),
    (dict(gain=float("inf")), "gain"),
    (dict(gain=torch.tensor([1.0, 1, 1, float("nan"), 1, 1])), "gain"),
    (dict(threshold=float("nan")), "threshold"),
    (dict(threshold=float("inf")), "threshold"),
    (dict(surrogate="fs_triangle"), "fs_triangle"),
])


def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        F.lif(X, **kwargs)


@pytest.mark.parametrize("kwargs,match", [
    (dict(gain=torch.ones(6, dtype=torch.int64)), "gain"),
    (dict(decay="0.5"), "decay"),
    (dict(refractory=2.0), "refractory"),
    (dict(age_init=True), "age_init"),
])


def test_parameters_of_the_wrong_type(kwargs, match):
    with pytest.raises(TypeError, match=match):
        F.lif(X, **kwargs)


def test_non_floating_input():
    with pytest.raises(TypeError, match="x must be a float32, float64, float16 or bfloat16 tensor on CPU, got int32"):
        F.lif(torch.ones(4, 6, dtype=torch.int32))


def test_zero_time_steps():
    with pytest.raises(ValueError, match="T >= 1"):
        F.lif(torch.randn(0, 6))
    with pytest.raises(ValueError, match="T >= 1"):
        F.lif(torch.tensor(1.0))


def test_not_a_tensor():
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        F.lif([[1.0, 2.0]])


def test_state_of_wrong_shape_or_type():
    with pytest.raises(ValueError, match=r"state.v\) must have shape \[6\]"):
        F.lif(X, F.LIFState(torch.zeros(5)))
    with pytest.raises(TypeError, match=r"state.refractory\) must have dtype int32, got float32"):
        F.lif(X, F.LIFState(torch.zeros(6), torch.zeros(6)), refractory=1)
    with pytest.raises(TypeError, match="state must be a spikeops.functional.LIFState"):
        F.lif(X, (torch.zeros(6),))


def test_state_on_another_device():
    meta_v = torch.zeros(6, device="meta")
    with pytest.raises(ValueError, match=r"state.v\) is on meta"):
        F.lif(X, F.LIFState(meta_v))


def test_parameter_on_another_device():
    with pytest.raises(ValueError, match=r"threshold \(theta\) is on meta"):
        F.lif(X, threshold=torch.ones(6, device="meta"))


def _op_forward(x, *, reset=ResetMode.subtract, surrogate=SurrogateKind.atan, v0=None, decay=0.5, out=None):
    one = torch.tensor(1.0)
    kw = dict(v0=v0, alpha=one * decay, gamma=one, theta=one, reset=reset, v_reset=0.0, deferred_reset=False)
    if out is not None:
        return torch.ops.spikeops.lif_forward_out(x, **kw, spikes=out[0], v=out[1], saved_h=out[2])
    return torch.ops.spikeops.lif_forward(x, r0=None, a0=None, **kw, refractory=0, detach_reset=False,
                                          surrogate=surrogate, sg_height=1.0, sg_width=2.0, track_age=False,
                                          age_init=1000, return_ages=False, save_for_backward=False)


def test_op_level_checks_name_the_argument():
    x = torch.randn(3, 4)
    with pytest.raises(ValueError, match=r"v0 .* must have shape"):
        _op_forward(x, v0=torch.zeros(3))
    with pytest.raises(ValueError, match="reset must be"):
        _op_forward(x, reset=7)
    with pytest.raises(ValueError, match="surrogate must be"):
        _op_forward(x, surrogate=9)


def test_out_ops_check_what_the_functional_ops_check():
    x = torch.randn(3, 4)
    out = (torch.empty(3, 4), torch.empty(4), torch.empty(3, 4))
    with pytest.raises(ValueError, match=r"decay \(alpha\) must lie in \[0, 1\]"):
        _op_forward(x, decay=1.5)
    with pytest.raises(ValueError, match=r"decay \(alpha\) must lie in \[0, 1\]"):
        _op_forward(x, decay=1.5, out=out)
    with pytest.raises(ValueError, match=r"decay \(alpha\) must lie in \[0, 1\]"):
        torch.ops.spikeops.lif_backward_out(x, x, torch.tensor(-0.5), torch.tensor(1.0), torch.tensor(1.0), 0, 0.0,
                                            False, False, 0, 1.0, 2.0, torch.empty(3, 4))
    with pytest.raises(TypeError, match="spikes must have dtype float32, got float64"):
        _op_forward(x, out=(torch.empty(3, 4, dtype=torch.float64),) + out[1:])


def test_the_python_enums_mirror_the_kernels():
    assert [m.name for m in ResetMode] == ["subtract", "zero", "none"]
    assert [m.name for m in SurrogateKind] == ["atan", "fast_sigmoid", "sigmoid", "triangle", "rectangle", "stdb",
                                              "linear", "stdb_float32", "fs_triangle"]
    assert [m.value for m in SurrogateKind] == list(range(9))
    assert S.STDB(float32_underflow=True).kind == SurrogateKind.stdb_float32
    for cls in (S.ATan, S.STDB, S.Rectangle, S.Linear):
        assert SurrogateKind[cls.name] == cls.kind


def test_backward_without_saved_state_is_an_error():
    x = torch.randn(3, 4, requires_grad=True)
    one = torch.tensor(1.0)
    s = torch.ops.spikeops.lif_forward(x, None, None, None, one * 0.5, one, one, 0, 0.0, 0, False, False, 0, 1.0,
                                       2.0, False, 1000, False, False)[0]
    with pytest.raises(RuntimeError, match="save_for_backward=False"):
        s.sum().backward()


@pytest.mark.parametrize("with_state", [False, True])
def test_gradient_of_each_input_alone(with_state):
    """Asking for one input's gradient gives what the full gradient gives for it, whichever
    optional state tensors (v, refractory count, age) the call had."""
    x, alpha, gamma, theta, state = make_lif_case(7, 23, torch.float32, True, with_state, 2)
    inputs = [x, alpha, gamma, theta] + ([state.v] if with_state else [])

    def loss():
        s, st = F.lif(x, state, decay=alpha, gain=gamma, threshold=theta, refractory=2, track_age=True,
                      surrogate="sigmoid")
        return (s * torch.arange(7.0).reshape(7, 1)).sum() + st.v.square().sum()

    full = torch.autograd.grad(loss(), inputs)
    for i, t in enumerate(inputs):
        (alone,) = torch.autograd.grad(loss(), [t])
        assert torch.equal(alone, full[i]), i


@pytest.mark.parametrize("op", ["lif", "soft_lif", "fs_neuron"])
def test_double_backward_is_a_clear_error(op):
    """The backward formulas are first order: a second-order term (alone or mixed with a
    first-order one) raises instead of being silently dropped."""
    x = torch.randn(6, 10, requires_grad=True)
    k = torch.ones(4, requires_grad=True)
    call = {"lif": lambda: F.lif(x, decay=0.8, threshold=0.5)[0],
            "soft_lif": lambda: F.soft_lif(x),
            "fs_neuron": lambda: F.fs_neuron(x, k * 0.5, k * 0.5, k * 0.4)}[op]
    out = call()
    (g,) = torch.autograd.grad((out * torch.randn_like(out)).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match=f"spikeops.{op} does not support double backward"):
        g.square().sum().backward()
    out = call()
    (g,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match=f"spikeops.{op} does not support double backward"):
        (out.sum() + g.square().sum()).backward()
    # First order under create_graph=True is unaffected.
    (g2,) = torch.autograd.grad(call().sum(), x, create_graph=True)
    (g1,) = torch.autograd.grad(call().sum(), x)
    assert torch.equal(g2.detach(), g1)


# -- registration: opcheck, torch.compile, fake kernels, ISAs, threads, _out ops

@pytest.mark.parametrize("config", [
    {},
    {"reset": 1, "v_reset": -0.1, "refractory": 2, "track_age": True, "return_ages": True},
    {"reset": 0, "deferred_reset": True, "detach_reset": True, "surrogate": 1, "sg_width": 25.0},
    {"surrogate": 5, "sg_height": 0.3, "sg_width": 0.01, "track_age": True},
    {"reset": 2, "surrogate": 3, "sg_width": 0.0},
])


@pytest.mark.parametrize("per_neuron", [False, True])
def test_opcheck_forward(config, per_neuron):
    torch.library.opcheck(torch.ops.spikeops.lif_forward.default, lif_forward_args(per_neuron=per_neuron, **config))


def test_opcheck_backward():
    T, N = 4, 19
    saved_h = torch.randn(T, N)
    args = (torch.randn(T, N), torch.randn(N), saved_h, torch.zeros(0, dtype=torch.int16), torch.randn(T, N),
            torch.randn(N), None, torch.tensor(0.9), torch.tensor(1.0), torch.rand(N) + 0.5, 0, 0.0, 0, False,
            False, 0, 1.0, 2.0, 1000, True, True, True, True)
    torch.library.opcheck(torch.ops.spikeops.lif_backward.default, args)


def test_torch_compile_fullgraph_matches_eager():
    model = ConvSNN()
    x = torch.rand(4, 3, 2, 6, 6) * 2
    eager_out = model(x)
    eager_out.sum().backward()
    eager_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    compiled = torch.compile(model, fullgraph=True)
    out = compiled(x)
    out.sum().backward()
    torch.testing.assert_close(out, eager_out)
    for p, g in zip(model.parameters(), eager_grads):
        torch.testing.assert_close(p.grad, g, rtol=1e-4, atol=1e-5)


def _forward_backward(x, alpha, theta):
    x = x.clone().requires_grad_()
    alpha = alpha.clone().requires_grad_()
    theta = theta.clone().requires_grad_()
    s, st = F.lif(x, decay=alpha, threshold=theta, surrogate="sigmoid", reset="subtract", refractory=1)
    (s * torch.arange(x.shape[0]).view(-1, 1)).sum().add(st.v.sum()).backward()
    return s, st.v, x.grad, alpha.grad, theta.grad


def test_isas_bitwise_identical(monkeypatch):
    """Every ISA computes the same IEEE operations in the same order: identical bits."""
    T, N = 20, 4099
    x, alpha, theta = torch.randn(T, N) + 0.4, torch.rand(N) * 0.5 + 0.5, torch.rand(N) + 0.5
    results = {}
    for isa in SUPPORTED_ISAS:
        monkeypatch.setenv("SPIKEOPS_CPU_ISA", isa)
        results[isa] = _forward_backward(x, alpha, theta)
    for isa in SUPPORTED_ISAS[1:]:
        for got, want in zip(results[isa], results["scalar"]):
            assert torch.equal(got, want), isa


@pytest.mark.parametrize("N", [2 ** 18, 2 ** 18 + 3])
def test_isas_identical_on_streamed_outputs(monkeypatch, N):
    """Outputs of 8 MiB and more are written with non-temporal stores when every row is
    cache-line aligned (N a multiple of 16 floats), plain stores otherwise: the same bits,
    uniform and per-neuron parameters alike."""
    T = 8
    x = torch.randn(T, N) + 0.4
    for alpha in (torch.tensor(0.9), torch.rand(N) * 0.5 + 0.5):
        results = {}
        for isa in SUPPORTED_ISAS:
            monkeypatch.setenv("SPIKEOPS_CPU_ISA", isa)
            xg = x.clone().requires_grad_()
            s, st = F.lif(xg, decay=alpha, threshold=1.0, surrogate="atan")
            (s * torch.arange(T).view(-1, 1)).sum().add(st.v.sum()).backward()
            results[isa] = (s, st.v, xg.grad)
        for isa in SUPPORTED_ISAS[1:]:
            for got, want in zip(results[isa], results["scalar"]):
                assert torch.equal(got, want), isa


def test_deterministic_across_thread_counts():
    T, N = 16, 70001
    x, alpha, theta = torch.randn(T, N) + 0.4, torch.rand(N) * 0.5 + 0.5, torch.rand(N) + 0.5
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = _forward_backward(x, alpha, theta)
        torch.set_num_threads(2)
        two = _forward_backward(x, alpha, theta)
    finally:
        torch.set_num_threads(old)
    for a, b in zip(one, two):
        assert torch.equal(a, b)


def test_unknown_isa_override_is_an_error(monkeypatch):
    monkeypatch.setenv("SPIKEOPS_CPU_ISA", "sse9")
    with pytest.raises(RuntimeError, match="SPIKEOPS_CPU_ISA"):
        F.lif(torch.randn(2, 3))


def test_indexing_beyond_2_to_31_elements():
    """A [2, 2^30 + 5] input (2^31 + 10 elements): spikes past element 2^31 land where they belong."""
    n = 2**30 + 5
    x_np = np.zeros((2, n), dtype=np.float32)  # calloc'd: untouched pages cost no memory
    x = torch.from_numpy(x_np)
    x[1, -3:] = 5.0
    x[0, -1] = 5.0
    with torch.no_grad():
        spikes, st = F.lif(x, decay=1.0)
    assert spikes[1, -3:].tolist() == [1.0, 1.0, 1.0]
    assert spikes[0, -1].item() == 1.0 and spikes[0, -2].item() == 0.0
    assert spikes[1, -4].item() == 0.0
    assert spikes[:, :1000].sum().item() == 0.0
    assert st.v[-1].item() == pytest.approx(5.0 - 1.0 + 5.0 - 1.0)
    del spikes, st


def test_out_variants_match_the_allocating_ops():
    T, N = 7, 45
    x = torch.randn(T, N) + 0.5
    alpha, gamma, theta = torch.tensor(0.8), torch.tensor(1.0), torch.rand(N) + 0.5
    spikes, v, saved_h = torch.empty(T, N), torch.empty(N), torch.empty(T, N)
    args = (x, None, alpha, gamma, theta, 1, -0.2, False)
    torch.ops.spikeops.lif_forward_out(*args, spikes, v, saved_h)
    ref = torch.ops.spikeops.lif_forward(x, None, None, None, alpha, gamma, theta, 1, -0.2, 0, False, False, 2, 1.0,
                                         4.0, False, 1000, False, True)
    assert torch.equal(spikes, ref[0]) and torch.equal(v, ref[1]) and torch.equal(saved_h, ref[5])
    g, grad_x = torch.randn(T, N), torch.empty(T, N)
    torch.ops.spikeops.lif_backward_out(g, saved_h, alpha, gamma, theta, 1, -0.2, False, False, 2, 1.0, 4.0, grad_x)
    want = torch.ops.spikeops.lif_backward(g, None, saved_h, torch.empty(0, dtype=torch.int16), None, None, None,
                                           alpha, gamma, theta, 1, -0.2, 0, False, False, 2, 1.0, 4.0, 1000, False,
                                           False, False, False)[0]
    assert torch.equal(grad_x, want)
    torch.library.opcheck(torch.ops.spikeops.lif_forward_out.default, args + (spikes, v, saved_h),
                          test_utils=("test_schema", "test_faketensor"))
    with pytest.raises(ValueError, match="spikes must be a contiguous"):
        torch.ops.spikeops.lif_forward_out(*args, torch.empty(T, N + 1), v, saved_h)


FAKE_CHECK_CASES = {
    "state shape": lambda x: F.lif(x, F.LIFState(torch.zeros(5))),
    "state dtype": lambda x: F.lif(x, F.LIFState(torch.zeros(6), torch.zeros(6)), refractory=1),
    "integer input": lambda x: F.lif(x.int()),
    "parameter shape": lambda x: F.lif(x, threshold=torch.ones(5)),
    "gain dtype": lambda x: F.lif(x, gain=torch.ones(6, dtype=torch.int64)),
    "soft_lif dtype": lambda x: F.soft_lif(x.long()),
    "fs steps": lambda x: F.fs_neuron(x, torch.ones(3), torch.ones(2), torch.ones(3)),
    "lif_fixed dtype": lambda x: F.lif_fixed(x, du=1, dv=1, vth_mant=1),
    "lif_fixed bias shape": lambda x: F.lif_fixed(x.int(), du=1, dv=1, vth_mant=1,
                                                  bias_mant=torch.zeros(5, dtype=torch.int32)),
}


@pytest.mark.parametrize("case", FAKE_CHECK_CASES)
def test_fake_kernels_reject_what_eager_rejects(case):
    """torch.compile and FakeTensor run the ops' meta kernels, which are the eager ops' own checks."""
    from torch._subclasses.fake_tensor import FakeTensorMode
    call, x = FAKE_CHECK_CASES[case], torch.randn(4, 6)
    with pytest.raises((TypeError, ValueError)) as eager:
        call(x)
    with FakeTensorMode() as mode:
        with pytest.raises(eager.type) as fake:
            call(mode.from_tensor(x))
    eager_msg, fake_msg = (str(e.value).splitlines()[0] for e in (eager, fake))
    if spikeops.cuda_built:  # meta tensors then stand for CPU or CUDA ones, whose dtype rules differ
        assert fake_msg.split()[0] == eager_msg.split()[0]
    else:
        assert fake_msg == eager_msg


def test_compiled_lif_rejects_bad_state_as_eager_does():
    fn = torch.compile(lambda x, v: F.lif(x, F.LIFState(v))[0], backend="eager", fullgraph=True)
    with pytest.raises(Exception, match=r"state.v\) must have shape \[6\]"):
        fn(torch.randn(4, 6), torch.zeros(5))


def test_reference_imports_nothing_of_the_implementation():
    """spikeops.reference is the truth the kernels are tested against: it may use the surrogates'
    plain-PyTorch formulas, nothing else of the package."""
    tree = ast.parse(pathlib.Path(R.__file__).read_text())
    relative = {alias.name if node.module is None else node.module
                for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level > 0
                for alias in node.names}
    absolute = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    absolute |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0}
    assert relative == {"surrogate"}
    assert not any(m.startswith("spikeops") for m in absolute)


def test_user_defined_surrogate():
    """A surrogate written in PyTorch runs the neuron through the reference: the same spikes and
    state as the kernels, and the gradient its formula gives (here atan's, so the kernels' own)."""
    alpha = 2.0
    mine = S.Custom(lambda u, theta, age: (alpha / 2) / (1 + (math.pi / 2 * alpha * u) ** 2))
    x = (torch.randn(9, 31) * 0.8 + 0.5).requires_grad_()
    theta = torch.full((31,), 0.9, requires_grad=True)
    outs = []
    for sg in (mine, S.ATan(alpha)):
        s, st = F.lif(x, decay=0.8, threshold=theta, reset="zero", surrogate=sg)
        g = torch.autograd.grad((s * torch.arange(9.0)[:, None]).sum() + st.v.sum(), (x, theta))
        outs.append((s, st.v, *g))
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    module = spikeops.LIF(0.8, threshold=0.9, reset="zero", surrogate=mine)
    assert torch.equal(module(x.detach()), outs[0][0])
    ages = S.Custom(lambda u, theta, age: torch.exp(-0.1 * age), uses_ages=True)
    s, st = F.lif(x.detach(), decay=0.8, surrogate=ages)
    assert st.age is not None and st.age.dtype == torch.int32
    with pytest.raises(TypeError, match="fn must be callable"):
        S.Custom(3.0)
