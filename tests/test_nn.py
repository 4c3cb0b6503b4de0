"""The nn front ends: LIF/IF modules, encoders, readouts, TimeDistributed, module and surrogate arguments."""
import pytest
import torch
from torch import nn

import spikeops
from spikeops import functional as F
from spikeops import reference as R
from spikeops.nn import RateEncoder, TimeDistributed, encode_constant, encode_rate, integrate, mean_rate, spike_count


def test_multi_step_equals_functional():
    x = torch.randn(6, 4, 10)
    lif = spikeops.LIF(tau=4.0, threshold=0.8, reset="zero", surrogate="sigmoid")
    s, _ = F.lif(x, decay=0.75, threshold=0.8, reset="zero")
    assert torch.equal(lif(x), s)


def test_single_step_loop_equals_multi_step_with_gradients():
    x = torch.randn(8, 3, 7, requires_grad=True)
    single = spikeops.LIF(decay=0.9, step_mode="single", learn_threshold=True)
    multi = spikeops.LIF(decay=0.9, learn_threshold=True)
    out_single = torch.stack([single(x_t) for x_t in x.unbind(0)])
    out_multi = multi(x)
    assert torch.equal(out_single, out_multi)
    g_single = torch.autograd.grad(out_single.sum(), (x, single.threshold))
    g_multi = torch.autograd.grad(out_multi.sum(), (x, multi.threshold))
    for a, b in zip(g_single, g_multi):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_single_step_state_and_reset():
    lif = spikeops.LIF(decay=1.0, step_mode="single")
    x = torch.full((3,), 0.6)
    assert lif(x).sum() == 0          # v = 0.6
    assert lif(x).sum() == 3          # v = 1.2 > 1: spike, v -> 0.2
    torch.testing.assert_close(lif.state.v, torch.full((3,), 0.2))
    lif.reset_state()
    assert lif.state is None
    assert lif(x).sum() == 0


def test_stateful_multi_step_carries_state():
    x = torch.rand(10, 5)
    lif = spikeops.LIF(decay=0.8, stateful=True)
    joined = torch.cat([lif(x[:4]), lif(x[4:])])
    lif.reset_state()
    assert torch.equal(joined, lif(x))
    assert torch.equal(joined, spikeops.LIF(decay=0.8)(x))


def test_per_channel_learnable_parameters_train():
    torch.manual_seed(0)
    lif = spikeops.LIF(decay=0.5, learn_decay=True, learn_threshold=True, param_shape=(3, 1, 1))
    assert lif.decay.shape == (3, 1, 1) and lif.threshold.shape == (3, 1, 1)
    x = torch.rand(5, 2, 3, 4, 4) * 2
    out = lif(x)
    out.sum().backward()
    assert lif.decay.grad.shape == (3, 1, 1) and lif.threshold.grad.shape == (3, 1, 1)
    assert lif.decay.grad.abs().sum() > 0 and lif.threshold.grad.abs().sum() > 0
    # the same gradients from the reference
    d = lif.decay.detach().clone().requires_grad_()
    t = lif.threshold.detach().clone().requires_grad_()
    s, _ = R.lif(x, decay=d, threshold=t)
    s.sum().backward()
    torch.testing.assert_close(lif.decay.grad, d.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(lif.threshold.grad, t.grad, rtol=1e-4, atol=1e-5)


def test_learnable_decay_is_clamped():
    lif = spikeops.LIF(decay=0.5, learn_decay=True)
    with torch.no_grad():
        lif.decay.fill_(1.7)
    s_ref, _ = F.lif(torch.ones(4, 2) * 0.4, decay=1.0)
    assert torch.equal(lif(torch.ones(4, 2) * 0.4), s_ref)


def test_if_neuron_has_no_leak():
    x = torch.full((10, 1), 0.25)
    assert spikeops.IF()(x).sum() == 2  # 10 * 0.25 = 2.5 -> two threshold crossings
    with pytest.raises(ValueError, match="decay"):
        spikeops.IF(decay=0.5)


def test_in_a_model_trains_with_sgd():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), spikeops.LIF(decay=0.9, surrogate="fast_sigmoid"), nn.Linear(16, 2))
    x = torch.rand(8, 32, 4)  # [T, B, F]
    target = (x.mean(0)[:, 0] > 0.5).long()
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(40):
        logits = model(x).mean(0)
        loss = nn.functional.cross_entropy(logits, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_surrogate_by_name_and_object():
    lif = spikeops.LIF(0.9, surrogate=spikeops.surrogate.Triangle(width=None, height=0.3))
    assert lif.surrogate.height == 0.3
    assert isinstance(spikeops.LIF(0.9, surrogate="stdb").surrogate, spikeops.surrogate.STDB)


def test_module_arguments():
    with pytest.raises(ValueError, match="step_mode"):
        spikeops.LIF(0.9, step_mode="both")
    with pytest.raises(ValueError, match="stateful"):
        spikeops.LIF(0.9, step_mode="single", stateful=False)
    with pytest.raises(ValueError, match="reset"):
        spikeops.LIF(0.9, reset="hard")
    with pytest.raises(ValueError, match="give decay= .* or tau="):
        spikeops.LIF()
    with pytest.raises(ValueError, match=r"step_mode='multi' takes \[T, batch, ...\]"):
        spikeops.LIF(0.9)(torch.zeros(5))
    assert spikeops.LIF(tau=4.0).decay == 0.75
    lif = spikeops.LIF(0.9, step_mode="single")
    lif(torch.zeros(3))
    with pytest.raises(ValueError, match="reset_state"):
        lif(torch.zeros(4))


def test_surrogate_arguments():
    with pytest.raises(ValueError, match="width"):
        spikeops.surrogate.Rectangle(width=0.0)
    with pytest.raises(ValueError, match="height"):
        spikeops.surrogate.ATan(height=float("inf"))
    with pytest.raises(ValueError, match="width"):
        spikeops.surrogate.Rectangle(width=-1.0, height=1.0)
    with pytest.raises(TypeError, match="width"):
        spikeops.surrogate.FastSigmoid(slope="25")
    with pytest.raises(ValueError, match="beta"):
        spikeops.surrogate.STDB(beta=-1.0)


def test_time_distributed_equals_per_step():
    conv = nn.Conv2d(2, 3, 3)
    x = torch.randn(4, 5, 2, 6, 6)
    out = TimeDistributed(conv)(x)
    assert out.shape == (4, 5, 3, 4, 4)
    torch.testing.assert_close(out, torch.stack([conv(x_t) for x_t in x]))
    with pytest.raises(ValueError, match="T, B"):
        TimeDistributed(conv)(torch.randn(3))


def test_encoders_and_readouts():
    x = torch.tensor([[0.0, 0.25, -0.5, 1.7]])
    c = encode_constant(x, 3)
    assert c.shape == (3, 1, 4) and torch.equal(c[2], x)
    torch.manual_seed(0)
    s = encode_rate(x.expand(20000, 4), 4)
    rate = s.mean((0, 1))
    torch.testing.assert_close(rate, torch.tensor([0.0, 0.25, -0.5, 1.0]), atol=0.01, rtol=0)
    assert set(s.unique().tolist()) <= {-1.0, 0.0, 1.0}
    assert (encode_rate(x, 50, signed=False) >= 0).all()
    assert RateEncoder(7)(x).shape == (7, 1, 4)
    spikes = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 1.0]])
    assert torch.equal(spike_count(spikes), torch.tensor([3.0, 3.0]))
    assert torch.equal(mean_rate(spikes), torch.tensor([0.75, 0.75]))
    cum = integrate(torch.tensor([[2.0], [0.0], [4.0]]), cumulative=True)
    torch.testing.assert_close(cum.flatten(), torch.tensor([2.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="T"):
        encode_constant(x, 0)


def test_other_libraries_spellings():
    """snnTorch's beta and SpikingJelly's v_threshold are the same parameters under another
    name; SpikingJelly's decay_input feeds the input in as x / tau."""
    x = torch.randn(12, 3, 10) + 0.6
    assert torch.equal(spikeops.LIF(beta=0.85, v_threshold=0.7)(x), spikeops.LIF(0.85, threshold=0.7)(x))
    assert torch.equal(spikeops.LIF(tau=2.0, decay_input=True)(x), spikeops.LIF(tau=2.0, gain=0.5)(x))
    assert spikeops.LIF(0.75, decay_input=True).gain == 0.25
    for bad, match in [(dict(decay=0.9, beta=0.8), "give decay or beta"),
                       (dict(decay=0.9, threshold=1.0, v_threshold=0.5), "give threshold or v_threshold"),
                       (dict(tau=2.0, decay_input=True, gain=2.0), "do not give gain"),
                       (dict(tau=2.0, decay_input=True, v_reset=0.5), "leaks toward v_reset")]:
        with pytest.raises(ValueError, match=match):
            spikeops.LIF(**bad)
    with pytest.raises(ValueError, match="IF has no leak; beta"):
        spikeops.nn.IF(beta=0.5)


def test_spikingjelly_spelling_gives_spikingjellys_lifnode():
    """LIF(tau=..., decay_input=True, reset="zero") is SpikingJelly's default LIFNode (hard reset to 0,
    decay_input, multi-step): the same spikes and membrane on random input."""
    neuron = pytest.importorskip("spikingjelly.activation_based.neuron", reason="SpikingJelly is a test dependency")
    x = torch.rand(20, 4, 30) * 2.5
    sj = neuron.LIFNode(tau=2.0, step_mode="m", store_v_seq=True)
    ours = spikeops.LIF(tau=2.0, decay_input=True, v_threshold=1.0, reset="zero", stateful=True)
    assert torch.equal(ours(x), sj(x))
    torch.testing.assert_close(ours.state.v, sj.v_seq[-1])


def test_time_distributed_runs_a_constant_input_once():
    torch.manual_seed(0)
    first = nn.Sequential(nn.Conv2d(1, 4, 3), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 3 * 3, 5))
    image = torch.randn(6, 1, 8, 8, requires_grad=True)
    calls = []
    first[0].register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    steady = TimeDistributed(first)(encode_constant(image, 7))        # broadcast over T: one pass
    assert calls == [6] and steady.shape == (7, 6, 5) and steady.stride(0) == 0
    g = torch.randn(7, 6, 5)
    grads = torch.autograd.grad((steady * g).sum(), [image, *first.parameters()])
    copied = TimeDistributed(first)(encode_constant(image, 7).contiguous())  # every step
    assert calls == [6, 42]
    torch.testing.assert_close(steady, copied, rtol=0, atol=0)
    want = torch.autograd.grad((copied * g).sum(), [image, *first.parameters()])
    for got, ref in zip(grads, want):
        torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-5)  # sums over T in another order


@pytest.mark.parametrize("layer", [nn.Dropout(0.5), nn.BatchNorm2d(1), nn.ReLU(inplace=True),
                                   nn.Sequential(nn.Conv2d(1, 1, 1), nn.Dropout())])
def test_time_distributed_runs_every_step_where_steps_may_differ(layer):
    calls = []
    layer.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    TimeDistributed(layer)(encode_constant(torch.rand(2, 1, 4, 4), 3))
    assert calls == [6]  # training-mode statistics, random masks, in-place writes


def test_time_distributed_eval_batchnorm_runs_once():
    bn = nn.BatchNorm2d(1).eval()
    x = torch.rand(2, 1, 4, 4)
    out = TimeDistributed(bn)(encode_constant(x, 3))
    assert out.stride(0) == 0
    torch.testing.assert_close(out[2], bn(x))
