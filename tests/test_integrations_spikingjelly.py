"""SpikingJelly parity: spikeops.integrations.spikingjelly nodes against SpikingJelly's own
LIFNode/IFNode/ParametricLIFNode, multi-step and single-step: same spikes, membrane and input gradients for
hard (v_reset 0 and non-zero) and soft reset, decay_input on and off, detach_reset, both
mapped surrogates."""
import copy

import pytest
import torch
from torch import nn

pytest.importorskip("spikingjelly", reason="SpikingJelly is a pinned test dependency")
from spikingjelly.activation_based import functional, layer, neuron, surrogate  # noqa: E402

from spikeops.integrations import spikingjelly as so  # noqa: E402

T = 30


def make(kind, v_reset, decay_input, sg, detach_reset, step_mode="m"):
    kw = dict(v_reset=v_reset, surrogate_function=sg, detach_reset=detach_reset, step_mode=step_mode)
    if kind == "if":
        return neuron.IFNode(v_threshold=0.8, **kw)
    return neuron.LIFNode(tau=3.0, decay_input=decay_input, v_threshold=0.8, **kw)


def close(a, b):
    scale = b.abs().max().clamp(min=1.0)
    torch.testing.assert_close(a / scale, b / scale, rtol=0, atol=1e-5)


@pytest.mark.parametrize("kind, decay_input", [("if", False), ("lif", True), ("lif", False)])
@pytest.mark.parametrize("v_reset", [0.0, None, -0.3])
@pytest.mark.parametrize("sg", ["sigmoid", "atan"])
@pytest.mark.parametrize("detach_reset", [False, True])
def test_multi_and_single_step_parity(kind, v_reset, decay_input, sg, detach_reset):
    torch.manual_seed(0)
    fn = surrogate.Sigmoid() if sg == "sigmoid" else surrogate.ATan(alpha=3.0)
    theirs = make(kind, v_reset, decay_input, fn, detach_reset)
    ours = so.accelerate(copy.deepcopy(theirs))
    assert isinstance(ours, so.IFNode if kind == "if" else so.LIFNode)
    x = (torch.randn(T, 4, 40) * 0.7 + 0.4).requires_grad_()
    x.data[3, 0, :5] = 0.8  # exact ties with the threshold: SpikingJelly fires on >=
    w = torch.randn(T, 4, 40)
    results = []
    for module in (theirs, ours):
        functional.reset_net(module)
        spikes = module(x)
        v = module.v
        (g,) = torch.autograd.grad((spikes * w).sum() + v.sum(), x)
        results.append((spikes, v, g))
    (s1, v1, g1), (s2, v2, g2) = results
    assert torch.equal(s1, s2) and s1.sum() > 0
    close(v2, v1)
    close(g2, g1)

    # single-step mode: the user's own loop over t
    functional.set_step_mode(theirs, "s")
    functional.set_step_mode(ours, "s")
    outs = []
    for module in (theirs, ours):
        functional.reset_net(module)
        outs.append(torch.stack([module(x[t]) for t in range(T)]))
    assert torch.equal(outs[0], outs[1])
    assert torch.equal(outs[1], s2)


def test_accelerate_a_spikingjelly_network():
    torch.manual_seed(0)
    net = nn.Sequential(layer.Flatten(), layer.Linear(64, 32), neuron.LIFNode(tau=2.0),
                        layer.Linear(32, 10), neuron.IFNode(v_reset=None))
    functional.set_step_mode(net, "m")
    fast = so.accelerate(copy.deepcopy(net))
    assert isinstance(fast[2], so.LIFNode) and isinstance(fast[4], so.IFNode)
    x = torch.rand(8, 5, 1, 8, 8) * 2
    for _ in range(2):  # reset_net between runs resets our nodes too
        functional.reset_net(net)
        functional.reset_net(fast)
        a, b = net(x), fast(x)
        assert torch.equal(a, b) and a.sum() > 0


def test_configurations_that_do_not_map_are_named():
    with pytest.raises(ValueError, match="surrogate_function"):
        so.accelerate(neuron.LIFNode(surrogate_function=surrogate.PiecewiseQuadratic()))
    with pytest.raises(ValueError, match="spiking=False"):
        so.accelerate(neuron.IFNode(surrogate_function=surrogate.Sigmoid(spiking=False)))
    with pytest.raises(ValueError, match="v_threshold"):
        so.accelerate(neuron.IFNode(v_threshold=0.5, v_reset=0.5))


def test_neurons_left_alone_are_reported_or_refused():
    from spikeops.integrations import NotAccelerated

    class MyLIF(neuron.LIFNode):
        pass

    model = nn.Sequential(neuron.LIFNode(tau=2.0), neuron.QIFNode(), MyLIF(), neuron.ParametricLIFNode())
    with pytest.warns(UserWarning, match="QIFNode: not supported yet") as record:
        so.accelerate(model)
    assert "MyLIF: a subclass of LIFNode" in str(record[0].message)
    assert isinstance(model[0], so.LIFNode) and type(model[1]) is neuron.QIFNode and type(model[2]) is MyLIF
    assert type(model[3]) is so.ParametricLIFNode
    with pytest.raises(NotAccelerated, match="QIFNode"):
        so.accelerate(nn.Sequential(neuron.QIFNode()), strict=True)


@pytest.mark.parametrize("decay_input", [True, False])
@pytest.mark.parametrize("v_reset", [0.0, None, -0.3])
@pytest.mark.parametrize("step_mode", ["m", "s"])
def test_parametric_lif_parity_and_w_trains(decay_input, v_reset, step_mode):
    """PLIF: the same spikes, membrane and gradients of the input and of the learned w (which
    stays the original's Parameter, so an optimiser made before accelerate trains it)."""
    torch.manual_seed(1)
    theirs = neuron.ParametricLIFNode(init_tau=3.0, decay_input=decay_input, v_threshold=0.8, v_reset=v_reset,
                                      surrogate_function=surrogate.ATan(), step_mode=step_mode)
    ours = so.accelerate(copy.deepcopy(theirs))
    assert isinstance(ours, so.ParametricLIFNode)
    x = (torch.randn(T, 4, 40) * 0.7 + 0.6).requires_grad_()
    w = torch.randn(T, 4, 40)
    results = []
    for module in (theirs, ours):
        functional.reset_net(module)
        spikes = module(x) if step_mode == "m" else torch.stack([module(x[t]) for t in range(T)])
        results.append((spikes, module.v, *torch.autograd.grad((spikes * w).sum() + module.v.sum(), [x, module.w])))
    (s1, v1, gx1, gw1), (s2, v2, gx2, gw2) = results
    assert torch.equal(s1, s2) and s1.sum() > 0
    close(v2, v1)
    close(gx2, gx1)
    torch.testing.assert_close(gw2, gw1, rtol=1e-4, atol=1e-4)

    functional.reset_net(theirs)
    original = copy.deepcopy(theirs)
    opt = torch.optim.SGD(original.parameters(), lr=0.5)  # made before accelerate
    ours = so.accelerate(original)
    assert ours.w is next(iter(opt.param_groups[0]["params"]))
    before = ours.w.detach().clone()
    functional.reset_net(ours)
    out = ours(x) if step_mode == "m" else torch.stack([ours(x[t]) for t in range(T)])
    out.sum().backward()
    opt.step()
    assert not torch.equal(ours.w, before)
