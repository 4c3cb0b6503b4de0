"""snnTorch parity: spikeops.integrations.snntorch.Leaky against snntorch.Leaky itself, step by
step and fused over T: same spikes, membrane and gradients (input, initial membrane, beta,
threshold), for every reset mechanism and mapped surrogate."""
import copy

import pytest
import torch
from torch import nn

snn = pytest.importorskip("snntorch", reason="snnTorch is a pinned test dependency")
from snntorch import surrogate  # noqa: E402
from snntorch import utils as snntorch_utils  # noqa: E402

from spikeops.integrations import snntorch as so  # noqa: E402

T = 25
SURROGATES = {"atan": lambda: snn.surrogate.atan(), "atan_a3": lambda: snn.surrogate.atan(alpha=3.0),
              "fast_sigmoid": lambda: snn.surrogate.fast_sigmoid(slope=10), "sigmoid": lambda: snn.surrogate.sigmoid()}


def assert_grads_close(ours, theirs):
    """snnTorch's sigmoid backward computes exp(-slope u) and overflows to inf / inf = NaN far
    below threshold (the true value is ~0); there ours is finite and the rest must agree."""
    for a, b in zip(ours, theirs):
        assert torch.isfinite(a).all()
        finite = torch.isfinite(b)
        torch.testing.assert_close(a[finite], b[finite], rtol=1e-5, atol=1e-5)


def run_steps(module, x, mem):
    spikes, mems = [], []
    for t in range(x.shape[0]):
        s, mem = module(x[t], mem)
        spikes.append(s)
        mems.append(mem)
    return torch.stack(spikes), torch.stack(mems)


def grads(spikes, mems, inputs):
    weights = torch.linspace(-1, 1, spikes.numel()).view_as(spikes)
    loss = (spikes * weights).sum() + 0.3 * (mems * weights.flip(0)).sum()
    return torch.autograd.grad(loss, inputs, allow_unused=True, retain_graph=True)


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("sg", list(SURROGATES))
@pytest.mark.parametrize("per_neuron", [False, True])
def test_same_spikes_membrane_and_gradients(reset, sg, per_neuron):
    torch.manual_seed(0)
    shape = (3, 16)
    beta = torch.rand(16) * 0.5 + 0.4 if per_neuron else torch.tensor(0.8)
    threshold = torch.rand(16) + 0.5 if per_neuron else torch.tensor(0.9)
    theirs = snn.Leaky(beta=beta.clone(), threshold=threshold.clone(), reset_mechanism=reset,
                       spike_grad=SURROGATES[sg](), learn_beta=True, learn_threshold=True)
    ours = so.Leaky(copy.deepcopy(theirs))
    x = (torch.randn(T, *shape) * 0.8 + 0.35).requires_grad_()
    mem0 = (torch.rand(shape) * 0.5).requires_grad_()

    s_ref, m_ref = run_steps(theirs, x, mem0)
    g_ref = grads(s_ref, m_ref, [x, mem0, theirs.beta, theirs.threshold])
    s_step, m_step = run_steps(ours, x, mem0)
    g_step = grads(s_step, m_step, [x, mem0, ours.beta, ours.threshold])
    assert torch.equal(s_step, s_ref)
    torch.testing.assert_close(m_step, m_ref, rtol=0, atol=0)
    assert_grads_close(g_step, g_ref)

    # fused over T: the same spikes, final membrane and gradients of a spike loss
    ours.beta.grad = None
    s_seq, m_last = ours.forward_sequence(x, mem0)
    assert torch.equal(s_seq, s_ref)
    torch.testing.assert_close(m_last, m_ref[-1], rtol=0, atol=0)
    weights = torch.linspace(-1, 1, s_seq.numel()).view_as(s_seq)
    g_seq = torch.autograd.grad((s_seq * weights).sum() + m_last.sum(), [x, mem0, ours.beta, ours.threshold])
    g_ref2 = torch.autograd.grad((s_ref * weights).sum() + m_ref[-1].sum(), [x, mem0, theirs.beta, theirs.threshold])
    assert_grads_close(g_seq, g_ref2)


def test_accelerate_a_model_in_its_own_loop():
    torch.manual_seed(1)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.lif1 = nn.Linear(10, 20), snn.Leaky(beta=0.9, init_hidden=True)
            self.fc2, self.lif2 = nn.Linear(20, 5), snn.Leaky(beta=0.7, init_hidden=True, output=True)

        def forward(self, x):
            spk, mem = self.lif2(self.fc2(self.lif1(self.fc1(x))))
            return spk, mem

    def run(net, x):
        for m in net.modules():
            if hasattr(m, "reset_mem"):
                m.reset_mem()
        outs = [net(x[t]) for t in range(x.shape[0])]
        return torch.stack([o[0] for o in outs]), torch.stack([o[1] for o in outs])

    net = Net()
    fast = so.accelerate(copy.deepcopy(net))
    assert isinstance(fast.lif1, so.Leaky) and isinstance(fast.lif2, so.Leaky)
    x = torch.rand(T, 8, 10) * 2
    s1, m1 = run(net, x)
    s2, m2 = run(fast, x)
    assert torch.equal(s1, s2) and s1.sum() > 0
    torch.testing.assert_close(m1, m2, rtol=1e-6, atol=1e-6)
    # a learnable beta stays the same Parameter object: an optimiser made before keeps working
    net = snn.Leaky(beta=0.5, learn_beta=True)
    opt = torch.optim.SGD(net.parameters(), 0.1)
    fast = so.accelerate(net)
    assert fast.beta is next(iter(opt.param_groups[0]["params"]))


@pytest.mark.parametrize("kwargs, match", [
    (dict(inhibition=True), "inhibition"),
    (dict(reset_delay=False), "reset_delay"),
    (dict(graded_spikes_factor=2.0), "graded"),
    (dict(spike_grad=snn.surrogate.triangular()), "spike_grad"),
])
def test_configurations_that_do_not_map_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        so.Leaky(snn.Leaky(beta=0.5, **kwargs))


def _tutorial_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(20, 16), snn.Leaky(beta=0.9, init_hidden=True, spike_grad=surrogate.atan()),
                         nn.Linear(16, 4), snn.Leaky(beta=0.8, init_hidden=True, output=True))


def _tutorial_training(net, reset, steps=3, T=5):
    """The snnTorch tutorials' loop: reset the hidden state, step through time, backward."""
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(1)
    losses = []
    for _ in range(steps):
        x = torch.rand(T, 8, 20, generator=g)
        reset(net)
        mem_rec = []
        for t in range(T):
            _, mem = net(x[t])
            mem_rec.append(mem)
        loss = torch.stack(mem_rec).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def _reset_by_class(net):
    snn.Leaky.reset_hidden()
    snn.Leaky.detach_hidden()


def _reset_by_module(net):
    for m in net.modules():
        if isinstance(m, snn.Leaky):
            m.reset_mem()


@pytest.mark.parametrize("reset", [snntorch_utils.reset, _reset_by_class, _reset_by_module],
                         ids=["utils.reset", "reset_hidden+detach_hidden", "reset_mem"])
def test_snntorch_state_resets_reach_accelerated_neurons(reset):
    """Every way snnTorch code resets its neurons between batches works after accelerate,
    with the same losses, batch after batch (before, the second batch failed: the carried
    membrane still held the first batch's graph)."""
    want = _tutorial_training(_tutorial_net(), reset)
    got = _tutorial_training(so.accelerate(_tutorial_net()), reset)
    assert got == pytest.approx(want, rel=1e-6, abs=1e-7)


def test_accelerated_leaky_is_a_snntorch_leaky():
    m = so.accelerate(_tutorial_net())
    assert all(isinstance(m[i], snn.Leaky) and type(m[i]) is so.Leaky for i in (1, 3))
    assert m[1].reset_mechanism == "subtract"
    assert any(inst is m[1] for inst in snn.SpikingNeuron.instances)


def test_neurons_left_alone_are_reported_or_refused():
    class MyLeaky(snn.Leaky):
        pass

    from spikeops.integrations import NotAccelerated

    model = nn.Sequential(nn.Linear(4, 4), snn.Leaky(beta=0.9), snn.Synaptic(alpha=0.8, beta=0.9), MyLeaky(beta=0.5))
    with pytest.warns(UserWarning, match=r"2 snnTorch neuron module\(s\) were left as they are") as record:
        so.accelerate(model)
    text = str(record[0].message)
    assert "2: snntorch._neurons.synaptic.Synaptic: not supported yet" in text
    assert "MyLeaky: a subclass of snntorch.Leaky" in text
    assert type(model[1]) is so.Leaky and type(model[2]) is snn.Synaptic and type(model[3]) is MyLeaky
    strict = nn.Sequential(snn.Leaky(beta=0.9), snn.RLeaky(beta=0.9, linear_features=4))
    with pytest.raises(NotAccelerated, match="RLeaky") as info:
        so.accelerate(strict, strict=True)
    assert [name for name, _ in info.value.modules] == ["1"]
    assert type(strict[0]) is snn.Leaky  # nothing replaced
