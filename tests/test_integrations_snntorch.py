"""snnTorch parity: spikeops.integrations.snntorch's Leaky, Synaptic and RLeaky against
snnTorch's own, step by step and fused over T: same spikes, states and gradients (input,
initial states, alpha, beta, threshold, recurrent weights), for every reset mechanism."""
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

    model = nn.Sequential(nn.Linear(4, 4), snn.Leaky(beta=0.9), snn.Alpha(alpha=0.8, beta=0.7), MyLeaky(beta=0.5),
                          snn.Synaptic(alpha=0.8, beta=0.9))
    with pytest.warns(UserWarning, match=r"2 snnTorch neuron module\(s\) were left as they are") as record:
        so.accelerate(model)
    text = str(record[0].message)
    assert "2: snntorch._neurons.alpha.Alpha: not supported yet" in text
    assert "MyLeaky: a subclass of snntorch.Leaky" in text
    assert type(model[1]) is so.Leaky and type(model[2]) is snn.Alpha and type(model[3]) is MyLeaky
    assert type(model[4]) is so.Synaptic
    strict = nn.Sequential(snn.Leaky(beta=0.9), snn.RSynaptic(alpha=0.9, beta=0.9, linear_features=4))
    with pytest.raises(NotAccelerated, match="RSynaptic") as info:
        so.accelerate(strict, strict=True)
    assert [name for name, _ in info.value.modules] == ["1"]
    assert type(strict[0]) is snn.Leaky  # nothing replaced


def run_synaptic(module, x, syn, mem):
    spikes, syns, mems = [], [], []
    for t in range(x.shape[0]):
        s, syn, mem = module(x[t], syn, mem)
        spikes.append(s)
        syns.append(syn)
        mems.append(mem)
    return torch.stack(spikes), torch.stack(syns), torch.stack(mems)


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("sg", ["atan", "fast_sigmoid"])
@pytest.mark.parametrize("per_neuron", [False, True])
def test_synaptic_same_spikes_states_and_gradients(reset, sg, per_neuron):
    """snnTorch's current-based neuron: the same spikes, current, membrane and gradients of
    the input, initial states, alpha, beta and threshold, step by step and fused over T."""
    torch.manual_seed(2)
    shape = (3, 16)
    alpha = torch.rand(16) * 0.5 + 0.3 if per_neuron else torch.tensor(0.7)
    beta = torch.rand(16) * 0.5 + 0.4 if per_neuron else torch.tensor(0.8)
    threshold = torch.rand(16) + 0.5 if per_neuron else torch.tensor(0.9)
    theirs = snn.Synaptic(alpha=alpha.clone(), beta=beta.clone(), threshold=threshold.clone(), reset_mechanism=reset,
                          spike_grad=SURROGATES[sg](), learn_alpha=True, learn_beta=True, learn_threshold=True)
    ours = so.Synaptic(copy.deepcopy(theirs))
    x = (torch.randn(T, *shape) * 0.5 + 0.2).requires_grad_()
    syn0, mem0 = (torch.rand(shape) * 0.3).requires_grad_(), (torch.rand(shape) * 0.5).requires_grad_()

    ref = run_synaptic(theirs, x, syn0, mem0)
    got = run_synaptic(ours, x, syn0, mem0)
    assert torch.equal(got[0], ref[0]) and ref[0].sum() > 0
    torch.testing.assert_close(got[1:], ref[1:], rtol=0, atol=0)
    weights = torch.linspace(-1, 1, ref[0].numel()).view_as(ref[0])

    def loss(s, syn, mem):
        return (s * weights).sum() + 0.3 * (mem * weights.flip(0)).sum() + 0.2 * (syn * weights).sum()

    params = ("alpha", "beta", "threshold")
    g_ref = torch.autograd.grad(loss(*ref), [x, syn0, mem0] + [getattr(theirs, p) for p in params],
                                retain_graph=True)
    g_got = torch.autograd.grad(loss(*got), [x, syn0, mem0] + [getattr(ours, p) for p in params])
    assert_grads_close(g_got, g_ref)

    if reset == "zero":
        with pytest.raises(ValueError, match="step by step"):
            ours.forward_sequence(x, syn0, mem0)
        return
    s_seq, syn_last, mem_last = ours.forward_sequence(x, syn0, mem0)
    assert torch.equal(s_seq, ref[0])
    torch.testing.assert_close(syn_last, ref[1][-1], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(mem_last, ref[2][-1], rtol=1e-6, atol=1e-6)
    g_seq = torch.autograd.grad((s_seq * weights).sum() + mem_last.sum() + syn_last.sum(),
                                [x, syn0, mem0] + [getattr(ours, p) for p in params])
    g_ref2 = torch.autograd.grad((ref[0] * weights).sum() + ref[2][-1].sum() + ref[1][-1].sum(),
                                 [x, syn0, mem0] + [getattr(theirs, p) for p in params])
    assert_grads_close(g_seq, g_ref2)


def run_rleaky(module, x):
    spikes, mems = [], []
    spk, mem = module.reset_mem()
    for t in range(x.shape[0]):
        spk, mem = module(x[t], spk, mem)
        spikes.append(spk)
        mems.append(mem)
    return torch.stack(spikes), torch.stack(mems)


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("recurrence", ["linear", "one_to_one", "conv"])
def test_rleaky_same_spikes_membrane_and_gradients(reset, recurrence):
    """snnTorch's recurrent neuron with each kind of recurrent layer: its weights, beta and
    threshold get the same gradients (the recurrent input is added before the kernel's step:
    the membrane agrees to float rounding)."""
    torch.manual_seed(3)
    if recurrence == "linear":
        kwargs, shape = dict(linear_features=12), (4, 12)
    elif recurrence == "conv":
        kwargs, shape = dict(conv2d_channels=3, kernel_size=3), (2, 3, 5, 5)
    else:
        kwargs, shape = dict(all_to_all=False, V=torch.rand(12)), (4, 12)
    theirs = snn.RLeaky(beta=0.85, threshold=0.7, reset_mechanism=reset, learn_beta=True, learn_threshold=True,
                        **kwargs)
    ours = so.RLeaky(copy.deepcopy(theirs))
    x = (torch.rand(T, *shape) * 0.6).requires_grad_()
    s_ref, m_ref = run_rleaky(theirs, x)
    s_got, m_got = run_rleaky(ours, x)
    assert torch.equal(s_got, s_ref) and s_ref.sum() > 0
    torch.testing.assert_close(m_got, m_ref, rtol=1e-5, atol=1e-5)
    weights = torch.linspace(-1, 1, s_ref.numel()).view_as(s_ref)
    params_ref = [x, theirs.beta, theirs.threshold, *theirs.recurrent.parameters()]
    params_got = [x, ours.beta, ours.threshold, *ours.recurrent.parameters()]
    g_ref = torch.autograd.grad((s_ref * weights).sum() + 0.3 * (m_ref ** 2).sum(), params_ref)
    g_got = torch.autograd.grad((s_got * weights).sum() + 0.3 * (m_got ** 2).sum(), params_got)
    for a, b in zip(g_got, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_accelerated_synaptic_and_rleaky_train_in_the_tutorial_loop():
    """A model of all three covered neurons, init_hidden, the utils.reset loop: the accelerated
    copy's losses follow the original's and its alpha, beta and recurrent weights train."""
    def make():
        torch.manual_seed(4)
        return nn.Sequential(nn.Linear(20, 16), snn.Synaptic(alpha=0.8, beta=0.9, init_hidden=True, learn_alpha=True),
                             nn.Linear(16, 16), snn.RLeaky(beta=0.9, linear_features=16, init_hidden=True),
                             nn.Linear(16, 4), snn.Leaky(beta=0.8, init_hidden=True, output=True))

    want = _tutorial_training(make(), snntorch_utils.reset)
    fast = so.accelerate(make(), strict=True)
    assert [type(fast[i]) for i in (1, 3, 5)] == [so.Synaptic, so.RLeaky, so.Leaky]
    alpha0, rec0 = fast[1].alpha.detach().clone(), fast[3].recurrent.weight.detach().clone()
    got = _tutorial_training(fast, snntorch_utils.reset)
    assert got == pytest.approx(want, rel=1e-5, abs=1e-6)
    assert not torch.equal(fast[1].alpha, alpha0) and not torch.equal(fast[3].recurrent.weight, rec0)
