"""The fused kernels against spikeops.reference, forward and backward, every mode."""
import itertools

import pytest
import torch

from spikeops import functional as F
from spikeops import reference as R
from spikeops import surrogate as S

SURROGATES = [S.ATan(2.0), S.FastSigmoid(25.0, height=0.8), S.Sigmoid(4.0), S.Triangle(0.6, height=0.3),
              S.Triangle(None, height=0.3), S.Rectangle(0.8), S.STDB(0.5, 0.035)]
RESETS = ["subtract", "zero", "none"]


def make_case(T, N, dtype, per_neuron, with_state, refractory, stdb):
    x = (torch.randn(T, N, dtype=dtype) * 1.2 + 0.45).requires_grad_()
    if per_neuron:
        alpha = (torch.rand(N, dtype=dtype) * 0.6 + 0.4).requires_grad_()
        theta = (torch.rand(N, dtype=dtype) * 0.8 + 0.6).requires_grad_()
        gamma = (torch.rand(N, dtype=dtype) * 0.5 + 0.75).requires_grad_()
    else:
        alpha = torch.tensor(0.8, dtype=dtype, requires_grad=True)
        theta = torch.tensor(1.1, dtype=dtype, requires_grad=True)
        gamma = torch.tensor(0.9, dtype=dtype, requires_grad=True)
    state = None
    if with_state:
        state = F.LIFState(
            (torch.randn(N, dtype=dtype) * 0.5).requires_grad_(),
            torch.randint(0, refractory + 1, (N,), dtype=torch.int32) if refractory else None,
            torch.randint(0, 6, (N,), dtype=torch.int32))
    return x, alpha, gamma, theta, state


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


# refractory with deferred_reset is rejected (see test_validation), so it is not a case here.
CASES = [c for c in itertools.product(RESETS, range(len(SURROGATES)), [0, 2], [False, True], [False, True])
         if not (c[2] and c[3])]


@pytest.mark.parametrize("reset,sg_index,refractory,deferred,detach", CASES)
def test_parity_all_modes(isa, reset, sg_index, refractory, deferred, detach):
    sg = SURROGATES[sg_index]
    T, N = 9, 53  # N not a multiple of 8 or 16: vector body plus scalar tail
    x, alpha, gamma, theta, state = make_case(T, N, torch.float32, True, True, refractory, sg.kind == 5)
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
    x, alpha, gamma, theta, state = make_case(T, N, torch.float32, per_neuron, with_state, 0, False)
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
    x, alpha, gamma, theta, state = make_case(T, N, torch.float64, True, True, 1, sg.kind == 5)
    kw = dict(decay=alpha, gain=gamma, threshold=theta, reset=reset, refractory=1, surrogate=sg, track_age=True)
    (s1, st1, g1), (s2, st2, g2) = run_both(x, state, torch.rand(T, 1, dtype=torch.float64), **kw)
    assert s1.dtype == torch.float64
    assert torch.equal(s1, s2)
    torch.testing.assert_close(st1.v, st2.v, rtol=1e-12, atol=1e-12)
    # The surrogate's constants are float32 in every kernel, hence ~1e-7 relative.
    assert_close_grads(g1, g2, rtol=1e-6, atol=1e-7)


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
