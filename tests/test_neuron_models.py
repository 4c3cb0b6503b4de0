"""The neuron models built on the LIF kernel: current-based (SynapticLIF), parametric (PLIF),
recurrent (RecurrentLIF) and adaptive-threshold (ALIF) LIF, each against its equations written
out here step by step and, where a peer has the same neuron, against the peer."""
import copy
import math

import pytest
import torch
from torch import nn

import spikeops
from spikeops import reference
from spikeops.nn import ALIF, LIF, PLIF, RecurrentLIF, SynapticLIF

T = 20


def step_lif(x_t, v, decay, gain, threshold):
    """One LIF step with the subtract reset, surrogate atan (docs/math.md §1)."""
    spikes, state = reference.lif(x_t.unsqueeze(0), reference.State(v), decay=decay, gain=gain, threshold=threshold)
    return spikes[0], state.v


def test_synaptic_lif_follows_its_equations_values_and_gradients():
    torch.manual_seed(0)
    x = (torch.randn(T, 4, 10) * 0.6 + 0.3).requires_grad_()
    neuron = SynapticLIF(0.8, synaptic_decay=0.7, learn_synaptic_decay=True, learn_decay=True, param_shape=(10,))
    spikes = neuron(x)
    # the equations, by hand
    a, b = neuron.synaptic_decay, neuron.decay
    syn, v, want = torch.zeros(4, 10), torch.zeros(4, 10), []
    for t in range(T):
        syn = a * syn + x[t]
        s, v = step_lif(syn, v, b, 1.0, 1.0)
        want.append(s)
    want = torch.stack(want)
    assert torch.equal(spikes, want) and 0 < spikes.mean() < 1
    w = torch.randn_like(spikes)
    got = torch.autograd.grad((spikes * w).sum(), [x, a, b])
    ref = torch.autograd.grad((want * w).sum(), [x, a, b])
    for g, r in zip(got, ref):
        torch.testing.assert_close(g, r, rtol=1e-4, atol=1e-5)
    assert got[1].abs().sum() > 0


def test_synaptic_lif_is_snntorch_synaptic():
    snn = pytest.importorskip("snntorch", reason="snnTorch is a pinned test dependency")
    torch.manual_seed(1)
    theirs = snn.Synaptic(alpha=0.75, beta=0.85, threshold=0.9, spike_grad=snn.surrogate.atan())
    ours = SynapticLIF(0.85, synaptic_decay=0.75, threshold=0.9, deferred_reset=True, detach_reset=True)
    x = (torch.rand(T, 3, 12) * 0.5).requires_grad_()
    syn, mem = theirs.reset_mem()
    want = []
    for t in range(T):
        s, syn, mem = theirs(x[t], syn, mem)
        want.append(s)
    want = torch.stack(want)
    got = ours(x)
    assert torch.equal(got, want) and want.sum() > 0
    w = torch.randn_like(got)
    torch.testing.assert_close(torch.autograd.grad((got * w).sum(), x)[0],
                               torch.autograd.grad((want * w).sum(), x)[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls, kwargs", [
    (SynapticLIF, dict(synaptic_decay=0.7)),
    (RecurrentLIF, dict(recurrent=None)),
    (ALIF, dict(adaptation=0.5, tau_adaptation=5.0)),
    (PLIF, dict()),
])
def test_state_carries_across_calls_and_single_step_mode(cls, kwargs):
    """Two stateful calls of T/2 steps, and T single-step calls, equal one call of T steps."""
    torch.manual_seed(2)

    def make(**extra):
        kw = dict(kwargs)
        if cls is RecurrentLIF:
            torch.manual_seed(3)
            kw["recurrent"] = nn.Linear(8, 8)
        if cls is not PLIF:
            kw["decay"] = 0.9
        return cls(**kw, **extra)

    x = torch.rand(T, 2, 8) * (2.5 if cls is PLIF else 0.8)  # PLIF's input enters as x / tau
    whole = make()(x)
    assert 0 < whole.mean() < 1
    carried = make(stateful=True)
    assert torch.equal(torch.cat([carried(x[:T // 2]), carried(x[T // 2:])]), whole)
    single = make(step_mode="single")
    assert torch.equal(torch.stack([single(x[t]) for t in range(T)]), whole)
    single.reset_state()
    assert torch.equal(single(x[0]), whole[0])


def test_plif_per_channel_time_constants_train():
    torch.manual_seed(4)
    neuron = PLIF(init_tau=2.0, param_shape=(3, 1, 1))
    assert torch.allclose(1 / neuron.w.sigmoid(), torch.full((3, 1, 1), 2.0))
    x = (torch.rand(T, 2, 3, 4, 4) * 2).requires_grad_()
    spikes = neuron(x)
    # the equations: decay 1 - k, input gain k, k = sigmoid(w) per channel
    k = neuron.w.sigmoid()
    v, want = torch.zeros(2, 3, 4, 4), []
    for t in range(T):
        s, v = step_lif(x[t], v, 1 - k, k, 1.0)
        want.append(s)
    want = torch.stack(want)
    assert torch.equal(spikes, want) and spikes.sum() > 0
    w = torch.randn_like(spikes)
    (g,) = torch.autograd.grad((spikes * w).sum(), neuron.w, retain_graph=True)
    (r,) = torch.autograd.grad((want * w).sum(), neuron.w)
    assert g.shape == (3, 1, 1) and g.abs().min() > 0
    torch.testing.assert_close(g, r, rtol=1e-4, atol=1e-6)


def test_plif_is_spikingjelly_parametric_lif():
    pytest.importorskip("spikingjelly", reason="SpikingJelly is a pinned test dependency")
    from spikingjelly.activation_based import functional, neuron, surrogate

    torch.manual_seed(5)
    theirs = neuron.ParametricLIFNode(init_tau=3.0, v_threshold=0.8, v_reset=None, surrogate_function=surrogate.ATan(),
                                      step_mode="m")
    ours = PLIF(init_tau=3.0, threshold=0.8)
    x = (torch.randn(T, 4, 30) * 0.7 + 0.6).requires_grad_()
    functional.reset_net(theirs)
    want, got = theirs(x), ours(x)
    assert torch.equal(got, want) and want.sum() > 0
    w = torch.randn_like(got)
    g = torch.autograd.grad((got * w).sum(), [x, ours.w])
    r = torch.autograd.grad((want * w).sum(), [x, theirs.w])
    for a, b in zip(g, r):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_recurrent_lif_follows_its_equations_and_snntorch_rleaky():
    torch.manual_seed(6)
    rec = nn.Linear(12, 12)
    neuron = RecurrentLIF(rec, 0.85, threshold=0.7)
    x = (torch.rand(T, 3, 12) * 0.6).requires_grad_()
    spikes = neuron(x)
    s, v, want = torch.zeros(3, 12), torch.zeros(3, 12), []
    for t in range(T):
        s, v = step_lif(x[t] + rec(s), v, 0.85, 1.0, 0.7)
        want.append(s)
    want = torch.stack(want)
    assert torch.equal(spikes, want) and want.sum() > 0
    w = torch.randn_like(spikes)
    g = torch.autograd.grad((spikes * w).sum(), [x, rec.weight])
    r = torch.autograd.grad((want * w).sum(), [x, rec.weight])
    for a, b in zip(g, r):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)

    snn = pytest.importorskip("snntorch", reason="snnTorch is a pinned test dependency")
    theirs = snn.RLeaky(beta=0.85, threshold=0.7, linear_features=12)
    ours = RecurrentLIF(copy.deepcopy(theirs.recurrent), 0.85, threshold=0.7, deferred_reset=True, detach_reset=True)
    spk, mem = theirs.reset_mem()
    steps = []
    for t in range(T):
        spk, mem = theirs(x[t], spk, mem)
        steps.append(spk)
    assert torch.equal(ours(x), torch.stack(steps))


def test_alif_follows_its_equations():
    """Bellec et al. 2018: A = threshold + adaptation * b, b <- rho b + (1 - rho) s."""
    torch.manual_seed(7)
    neuron = ALIF(0.9, threshold=0.6, adaptation=1.5, tau_adaptation=8.0)
    x = (torch.rand(T, 3, 10) * 0.9).requires_grad_()
    spikes = neuron(x)
    rho = math.exp(-1 / 8.0)
    b, v, want = torch.zeros(3, 10), torch.zeros(3, 10), []
    for t in range(T):
        s, v = step_lif(x[t], v, 0.9, 1.0, 0.6 + 1.5 * b)
        b = rho * b + (1 - rho) * s
        want.append(s)
    want = torch.stack(want)
    assert torch.equal(spikes, want) and want.sum() > 0
    # adaptation lowers the rate against the same neuron without it
    assert spikes.sum() < LIF(0.9, threshold=0.6)(x).sum()
    w = torch.randn_like(spikes)
    torch.testing.assert_close(torch.autograd.grad((spikes * w).sum(), x)[0],
                               torch.autograd.grad((want * w).sum(), x)[0], rtol=1e-4, atol=1e-5)


def test_membrane_recording_and_time_layout_check():
    x = torch.rand(T, 2, 6) * 0.8
    lif = LIF(0.9, record_membrane=True)
    spikes = lif(x)
    spikes_ref, _, h = reference.lif(x, decay=0.9, return_membrane=True)
    assert torch.equal(spikes, spikes_ref) and torch.equal(lif.membrane, h)
    alif = ALIF(0.9, record_membrane=True, tau_adaptation=3.0)
    alif(x)
    assert alif.membrane.shape == x.shape
    with pytest.raises(ValueError, match="expected 25 time steps"):
        LIF(0.9, steps=25)(torch.rand(8, 3, 5, 5))  # a [B, C, H, W] batch is not read as 8 steps
    with pytest.raises(ValueError, match="steps"):
        LIF(0.9, steps=0)


@pytest.mark.parametrize("cls, kwargs, match", [
    (PLIF, dict(decay=0.5), "decay cannot be set"),
    (PLIF, dict(init_tau=1.0), "init_tau"),
    (ALIF, dict(decay=0.5, learn_threshold=True), "learn_threshold cannot be set"),
    (ALIF, dict(decay=0.5, tau_adaptation=0.0), "tau_adaptation"),
    (SynapticLIF, dict(decay=0.5, synaptic_decay=1.5), "synaptic_decay"),
    (RecurrentLIF, dict(recurrent=3, decay=0.5), "recurrent"),
])
def test_bad_options_are_named(cls, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        cls(**kwargs)


def test_models_are_exported():
    for name in ("SynapticLIF", "PLIF", "RecurrentLIF", "ALIF"):
        assert getattr(spikeops.nn, name) is globals()[name]
