"""Soft-LIF training with noise (Hunsberger & Eliasmith) and its conversion to ZOH LIF neurons."""
import pytest
import torch
from torch import nn

from spikeops import convert
from spikeops import functional as F
from spikeops.nn import AlphaSynapse, SubstepLIF, SynapticFilter, SoftLIF, ZOHLIF, filtered_spike_train, synaptic_filter

from conftest import fit_ann


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


def test_soft_lif_conversion_on_digits(digits_data):
    xtr, ytr, xte, yte = digits_data
    torch.manual_seed(0)
    model = fit_ann(convert.soft_lif_ann((16, 32, 64), noise="gaussian"), xtr, ytr, 15)
    with torch.no_grad():
        ann_acc = (model(xte).argmax(1) == yte).float().mean().item()
    assert ann_acc >= 0.9
    snn = convert.convert_soft_lif(model, dt=0.001, tau_s=0.005)
    assert sum(isinstance(m, SubstepLIF) for m in snn) == 3 and sum(isinstance(m, AlphaSynapse) for m in snn) == 3
    acc = convert.evaluate_window(snn, xte, yte, 150, 50)
    assert acc.shape == (100,)
    assert acc[-1] >= ann_acc - 0.02
    zoh = convert.convert_soft_lif(model, dt=0.001, tau_s=0.005, neuron="zoh", synapse="exponential")
    assert sum(isinstance(m, ZOHLIF) for m in zoh) == 3 and sum(isinstance(m, SynapticFilter) for m in zoh) == 3
    assert convert.evaluate_window(zoh, xte, yte, 150, 50)[-1] >= ann_acc - 0.03
    with pytest.raises(ValueError, match="settle"):
        convert.evaluate_window(snn, xte, yte, 10, 10)
    with pytest.raises(ValueError, match="no spikeops.nn.SoftLIF"):
        convert.convert_soft_lif(nn.Sequential(nn.Linear(2, 2)))
