"""Soft-LIF noise training and ZOH conversion, FS conversion, hybrid STDB fine-tuning."""
import math

import pytest
import torch
from torch import nn

from spikeops import convert
from spikeops import functional as F
from spikeops.nn import FSNeuron, SoftLIF, ZOHLIF, filtered_spike_train, synaptic_filter
from spikeops.nn import encode_constant
from spikeops.train import fine_tune_stdb, start_at_half_threshold
from spikeops.train.hybrid import _with_current_norms

sklearn = pytest.importorskip("sklearn", reason="the digits dataset comes with scikit-learn (a test dependency)")
from spikeops.datasets import digits  # noqa: E402


def test_zoh_lif_rate_equals_analytic_rate():
    j = torch.linspace(1.05, 6.0, 40, dtype=torch.float64)
    tau_rc, tau_ref = 0.02, 0.002

    def measured(dt, T):
        spikes = ZOHLIF(tau_rc, tau_ref, dt=dt, amplitude=dt)(encode(j - 1, T))  # amplitude dt: spikes are 0/1
        times = [torch.nonzero(spikes[:, i]).flatten().double() for i in range(len(j))]
        return torch.stack([(len(t) - 1) / ((t[-1] - t[0]) * dt) for t in times])

    def encode(x, T):
        return x.unsqueeze(0).expand(T, -1).contiguous()

    # exact discrete-time period: R refractory steps + the first step n with j (1 - a^n) > 1
    dt = 0.001
    R = round(tau_ref / dt)
    n = torch.floor(tau_rc / dt * torch.log1p(1 / (j - 1))) + 1
    torch.testing.assert_close(measured(dt, 4000), 1 / (dt * (R + n)), rtol=1e-9, atol=0)
    # small dt: the analytic LIF rate 1 / (tau_ref + tau_rc log(1 + 1/(j - 1)))
    analytic = 1 / (tau_ref + tau_rc * torch.log1p(1 / (j - 1)))
    assert ((measured(1e-5, 100000) - analytic).abs() / analytic).max() < 0.01


def test_synaptic_filter_matches_recursion():
    x = torch.randn(50, 3, 4)
    y = synaptic_filter(x, 0.8)
    state, expected = torch.zeros(3, 4), []
    for t in range(50):
        state = 0.8 * state + 0.2 * x[t]
        expected.append(state)
    torch.testing.assert_close(y, torch.stack(expected), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("tau_m", [None, 0.02])
def test_filtered_spike_train_matches_simulation(tau_m):
    rate, tau_s, dt = 40.0, 0.003, 1e-5
    samples = filtered_spike_train(torch.full((200000,), rate, dtype=torch.float64), tau_s, tau_m,
                                   generator=torch.Generator().manual_seed(0))
    # brute force: a periodic train convolved with the kernel, one period after 1 s
    t = torch.arange(0, 1.0, dt, dtype=torch.float64)
    kernel = t / tau_s ** 2 * torch.exp(-t / tau_s)
    if tau_m is not None:
        membrane = torch.exp(-t / tau_m) / tau_m
        kernel = torch.fft.irfft(torch.fft.rfft(kernel, 2 * len(t)) * torch.fft.rfft(membrane, 2 * len(t)))[:len(t)] * dt
    train = torch.zeros_like(t)
    train[::round(1 / (rate * dt))] = 1 / dt
    y = torch.fft.irfft(torch.fft.rfft(train, 2 * len(t)) * torch.fft.rfft(kernel, 2 * len(t)))[:len(t)] * dt
    period = y[-round(1 / (rate * dt)):]
    assert abs(samples.mean().item() - rate) < 0.01 * rate
    assert abs(samples.std().item() - period.std().item()) < 0.02 * period.std().item()
    assert torch.equal(filtered_spike_train(torch.zeros(5), tau_s, tau_m), torch.zeros(5))


@pytest.mark.parametrize("noise", ["gaussian", "spike_train"])
def test_soft_lif_noise_models(noise):
    layer = SoftLIF(noise=noise)
    x = torch.linspace(-1, 2, 1000, requires_grad=True)
    clean = F.soft_lif(x)
    layer.eval()
    assert torch.equal(layer(x), clean)  # no noise in eval mode
    layer.train()
    noisy = layer(x)
    assert not torch.allclose(noisy, clean)
    assert (noisy >= 0).all()
    (g_noisy,) = torch.autograd.grad(noisy.sum(), x)
    (g_clean,) = torch.autograd.grad(F.soft_lif(x).sum(), x)
    torch.testing.assert_close(g_noisy, g_clean)  # the backward ignores the noise
    below = x.detach() <= 0
    if noise == "gaussian":
        torch.testing.assert_close(noisy[below], clean[below])  # noise only above threshold
    else:
        assert torch.equal(noisy[below], torch.zeros_like(noisy[below]))  # a LIF below threshold is silent
    with pytest.raises(ValueError, match="noise"):
        SoftLIF(noise="uniform")
    with pytest.raises(ValueError, match="tau_rc"):
        SoftLIF(tau_rc=-1.0)


@pytest.fixture(scope="module")
def data():
    return digits()


def train(model, x, y, epochs, lr=3e-3):
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr)
    for _ in range(epochs):
        model.train()
        for b in torch.randperm(len(y)).split(64):
            loss = nn.functional.cross_entropy(model(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        return model, (model(x).argmax(1) == y).float().mean().item()


def test_soft_lif_conversion_on_digits(data):
    xtr, ytr, xte, yte = data
    torch.manual_seed(0)
    model, _ = train(convert.soft_lif_ann((16, 32, 64), noise="gaussian"), xtr, ytr, 15)
    with torch.no_grad():
        ann_acc = (model(xte).argmax(1) == yte).float().mean().item()
    assert ann_acc >= 0.9
    snn = convert.convert_soft_lif(model, dt=0.001, tau_s=0.005)
    assert sum(isinstance(m, ZOHLIF) for m in snn) == 3
    acc = convert.evaluate_window(snn, xte, yte, 150, 50)
    assert acc.shape == (100,)
    assert acc[-1] >= ann_acc - 0.02
    with pytest.raises(ValueError, match="settle"):
        convert.evaluate_window(snn, xte, yte, 10, 10)
    with pytest.raises(ValueError, match="no spikeops.nn.SoftLIF"):
        convert.convert_soft_lif(nn.Sequential(nn.Linear(2, 2)))


def relu_cnn():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(8 * 16, 32), nn.ReLU(), nn.Linear(32, 10))


def test_fs_conversion_on_digits(data, relu_ann):
    xtr, ytr, xte, yte = data
    ann = relu_ann
    with torch.no_grad():
        ann_acc = (ann(xte).argmax(1) == yte).float().mean().item()
    fs = convert.convert_fs(ann, xtr, K=8)
    assert sum(isinstance(m, FSNeuron) for m in fs) == 2
    with torch.no_grad():
        fs_acc = (fs(xte).argmax(1) == yte).float().mean().item()
    assert fs_acc >= ann_acc - 0.01
    act = convert.fs_activity(fs, xte)
    assert 0 < act["spikes_per_neuron"] <= 2.5 and act["steps"] == 8
    with pytest.raises(ValueError, match="no ReLU"):
        convert.convert_fs(nn.Sequential(nn.Linear(2, 2)), torch.randn(3, 2))


def test_fs_activity_counts_by_hand():
    lin1, lin2 = nn.Linear(2, 3, bias=False), nn.Linear(3, 4, bias=False)
    with torch.no_grad():
        lin1.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    code = convert.relu_code(4, 2.0)  # levels of 1/8 below 2
    model = nn.Sequential(lin1, code.neuron(), lin2)
    x = torch.tensor([[1.0, 0.5]])  # hidden inputs 1.0, 0.5, 1.5 -> codes 0.875 (3 spikes), 0.375 (2), 1.375 (3)
    act = convert.fs_activity(model, x)
    assert act["spikes_per_neuron"] == pytest.approx(8 / 3)
    assert act["synops"] == pytest.approx(8 * 4)  # every spike reaches the 4 outputs


def poisson_accuracy(snn, x, y, T=4, draws=3):
    """Accuracy after T steps of Poisson-rate input, the mean over draws."""
    return sum(convert.evaluate(snn, x, y, T, encoder="rate", generator=torch.Generator().manual_seed(d))[-1].item()
               for d in range(draws)) / draws


@pytest.fixture(scope="module")
def relu_ann(data):
    xtr, ytr, _, _ = data
    torch.manual_seed(0)
    return train(relu_cnn(), xtr, ytr, 10)[0]


def hybrid_start(ann, xtr):
    """The converted network hybrid fine-tuning starts from: balanced thresholds at T = 4,
    membranes at half the threshold."""
    snn = convert.convert_rate(ann, xtr[:512], method="balance", scale=0.3, T=4, encoder="rate")
    start_at_half_threshold(snn)
    return snn


def test_hybrid_stdb_fine_tuning(data, relu_ann):
    xtr, ytr, xte, yte = data
    torch.manual_seed(0)
    snn = hybrid_start(relu_ann, xtr)
    neurons = convert.spiking_layers(snn)
    assert all(n.v_reset == pytest.approx(0.5 * n.threshold) for n in neurons)
    before = poisson_accuracy(snn, xte, yte)
    losses = fine_tune_stdb(snn, xtr, ytr, 4, epochs=4, lr=3e-4)
    assert all(n.surrogate.name == "stdb" and n.track_age and n.age_init == 0 for n in neurons)
    assert losses[-1] < losses[0]
    after = poisson_accuracy(snn, xte, yte)
    assert after >= 0.85 and after >= before - 0.01, (before, after)
    with pytest.raises(ValueError, match="STDB"):
        fine_tune_stdb(snn, xtr, ytr, 4, surrogate="atan")


def test_current_norms_start_as_identity_and_fold_back(data):
    xtr, ytr, _, _ = data
    torch.manual_seed(0)
    ann, _ = train(relu_cnn(), xtr, ytr, 2)
    snn = convert.convert_rate(ann, xtr[:256], method="balance", scale=0.5, T=4)
    net, pairs = _with_current_norms(snn, xtr[:512], 4, "constant")
    assert len(pairs) == 2 and len(net) == len(snn) + 2
    x = encode_constant(xtr[:64], 4)
    with torch.no_grad():
        before = snn(x)
        torch.testing.assert_close(net.eval()(x), before, atol=1e-5, rtol=1e-5)
        for _, bn in pairs:  # as training would leave them
            bn.weight.mul_(torch.rand_like(bn.weight) + 0.5)
            bn.bias.add_(torch.randn_like(bn.bias))
        changed = net(x)
        for layer, bn in pairs:
            convert.fold_into(layer, bn)
    torch.testing.assert_close(snn(x), changed, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(changed, before)


def test_hybrid_fine_tuning_with_current_norms(data, relu_ann):
    xtr, ytr, xte, yte = data
    torch.manual_seed(0)
    snn = hybrid_start(relu_ann, xtr)
    layers = [type(m) for m in snn]
    before = poisson_accuracy(snn, xte, yte)
    fine_tune_stdb(snn, xtr, ytr, 4, epochs=4, lr=1e-3, batch_norm=True)
    assert [type(m) for m in snn] == layers  # the norms are folded back
    after = poisson_accuracy(snn, xte, yte)
    assert after >= 0.87 and after >= before + 0.03, (before, after)
    with pytest.raises(ValueError, match="nn.Sequential"):
        fine_tune_stdb(nn.ModuleList(list(snn)), xtr, ytr, 4, batch_norm=True)


def test_stdb_age_init_decides_first_spike_gradient():
    # a neuron that has not fired yet: with age_init 1000 its surrogate is ~e^-10, with 0 it is ~c
    x = torch.full((1, 1), 2.0, requires_grad=True)
    grads = []
    for age_init in (0, 1000):
        spikes, _ = F.lif(x, decay=1.0, threshold=1.0, surrogate="stdb", age_init=age_init)
        (g,) = torch.autograd.grad(spikes.sum(), x)
        grads.append(g.item())
    assert grads[0] == pytest.approx(0.3 * math.exp(-0.01), rel=1e-5)
    assert grads[1] == pytest.approx(0.3 * math.exp(-0.01 * 1001), rel=1e-4)
