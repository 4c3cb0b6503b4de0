"""Hybrid conversion + STDB fine-tuning (Rathi et al.)."""
import math

import pytest
import torch
from torch import nn

from spikeops import convert, train
from spikeops import surrogate as S
from spikeops import functional as F
from spikeops.nn import SharedDropout, encode_constant
from spikeops.train.hybrid import _with_current_norms
from spikeops.train import fine_tune_stdb, start_at_half_threshold

from conftest import fit_ann, relu_cnn


def poisson_accuracy(snn, x, y, T=4, draws=3):
    """Accuracy after T steps of Poisson-rate input, the mean over draws."""
    return sum(convert.evaluate(snn, x, y, T, encoder="rate", generator=torch.Generator().manual_seed(d))[-1].item()
               for d in range(draws)) / draws


def hybrid_start(ann, xtr):
    """The converted network hybrid fine-tuning starts from: balanced thresholds at T = 4,
    membranes at half the threshold."""
    snn = convert.convert_rate(ann, xtr[:512], method="balance", scale=0.3, T=4, encoder="rate")
    start_at_half_threshold(snn)
    return snn


def test_hybrid_stdb_fine_tuning(digits_data, relu_ann):
    xtr, ytr, xte, yte = digits_data
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


def test_current_norms_start_as_identity_and_fold_back(digits_data):
    xtr, ytr, _, _ = digits_data
    torch.manual_seed(0)
    ann = fit_ann(relu_cnn(), xtr, ytr, 2)
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


def test_hybrid_fine_tuning_with_current_norms(digits_data, relu_ann):
    xtr, ytr, xte, yte = digits_data
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


# ----------------------------------------------------------------------------- the paper's method, exactly

class _ReferenceSpike(torch.autograd.Function):
    """[z > 0] for the normalised membrane z = mem/theta - 1, with the paper's surrogates as
    derivatives in z: linear 0.3 max(0, 1 - |z|) (Bellec et al.), stdb alpha exp(-beta dt)."""

    @staticmethod
    def forward(ctx, z, dt, kind):
        ctx.save_for_backward(z, dt)
        ctx.kind = kind
        return (z > 0).to(z.dtype)

    @staticmethod
    def backward(ctx, grad):
        z, dt = ctx.saved_tensors
        if ctx.kind == "linear":
            return grad * 0.3 * torch.clamp(1 - z.abs(), min=0), None, None
        if ctx.kind == "stdb_float32":  # the reference code's expression, in float32
            return grad * 0.3 * torch.exp(-1 * dt.float()) ** 0.01, None, None
        return grad * 0.3 * torch.exp(-0.01 * dt), None, None


def reference_hybrid_snn(weights, thresholds, spikes_in, surrogate, record=None):
    """The hybrid-conversion paper's SNN (Rathi et al. 2020), written from its equations, IF
    neurons: per hidden layer and step t, the spike comes from the membrane before this step's
    input, s = [mem/theta - 1 > 0]; then mem <- mem + W s_prev - theta s, the reset carrying no
    gradient; the spike age dt = t - 1 - (last spike time), which starts at -1000. The output
    is the sum over steps of W_out s. ``record[l]`` collects layer l's input currents."""
    T, B = spikes_in.shape[:2]
    mem = [torch.zeros(B, w.shape[0]) for w in weights[:-1]]
    last = [torch.full((B, w.shape[0]), -1000.0) for w in weights[:-1]]
    logits = 0
    for t in range(T):
        s = spikes_in[t]
        for layer, (w, theta) in enumerate(zip(weights[:-1], thresholds)):
            z = mem[layer] / theta - 1.0
            out = _ReferenceSpike.apply(z, t - 1 - last[layer], surrogate)
            last[layer] = torch.where(out.detach() > 0, float(t - 1), last[layer])
            current = s @ w.t()
            if record is not None:
                record[layer].append(current.detach())
            mem[layer] = mem[layer] + current - theta * (z > 0).to(z.dtype).detach()
            s = out
        logits = logits + s @ weights[-1].t()
    return logits


def _mlp():
    torch.manual_seed(3)
    return nn.Sequential(nn.Linear(8, 16, bias=False), nn.ReLU(), nn.Linear(16, 12, bias=False), nn.ReLU(),
                         nn.Linear(12, 3, bias=False)).eval()


def test_rathi2020_threshold_balancing_is_the_papers_protocol():
    ann, T = _mlp(), 40
    x = torch.rand(32, 8)
    spikes_in = (torch.rand(T, 32, 8) <= x.abs()).float() * x.sign()  # the paper's Poisson input
    snn = convert.convert_rate(ann, x, preset="rathi2020", T=T, encoder=lambda xb, steps: spikes_in, progress=False)
    weights = [m.weight.detach() for m in ann if isinstance(m, nn.Linear)]
    maxima = []
    for layer in range(2):  # layer by layer, earlier layers at their unscaled maxima
        record = [[], []]
        reference_hybrid_snn(weights, maxima + [1.0] * (2 - len(maxima)), spikes_in, "linear", record)
        maxima.append(max(c.max().item() for c in record[layer]))
    got = [m.threshold for m in convert.spiking_layers(snn)]
    assert got == pytest.approx([0.7 * m for m in maxima], rel=1e-6)


@pytest.mark.parametrize("surrogate", ["linear", "stdb", "stdb_float32"])
def test_rathi2020_network_equals_the_papers_equations_in_values_and_gradients(surrogate):
    ann, T = _mlp(), 24
    x, y = torch.rand(16, 8), torch.randint(0, 3, (16,))
    spikes_in = (torch.rand(T, 16, 8) <= x.abs()).float() * x.sign()
    snn = convert.convert_rate(ann, x, preset="rathi2020", T=T, encoder=lambda xb, steps: spikes_in, progress=False)
    thresholds = [m.threshold for m in convert.spiking_layers(snn)]
    if surrogate != "linear":
        train.use_rathi2020_neurons(snn, S.STDB(float32_underflow=surrogate == "stdb_float32"))
    weights = [m.weight.detach().clone().requires_grad_() for m in ann if isinstance(m, nn.Linear)]
    want = reference_hybrid_snn(weights, thresholds, spikes_in, surrogate)
    got = snn(spikes_in).sum(0)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    nn.functional.cross_entropy(want, y).backward()
    nn.functional.cross_entropy(got, y).backward()
    ours = [m.module.weight.grad for m in snn if isinstance(getattr(m, "module", None), nn.Linear)]
    assert all(w.grad.abs().sum() > 0 for w in weights)
    for g, w in zip(ours, weights):
        torch.testing.assert_close(g, w.grad, rtol=1e-4, atol=1e-6)


def test_rathi2020_fine_tuning_trains_the_papers_way(digits_data, relu_ann):
    xtr, ytr, xte, yte = digits_data
    snn = convert.convert_rate(relu_ann, xtr, preset="rathi2020", T=60, images=256, progress=False)
    before = poisson_accuracy(snn, xte, yte, T=8)
    losses = train.fine_tune_stdb(snn, xtr[:512], ytr[:512], 8, preset="rathi2020", epochs=1)
    neurons = convert.spiking_layers(snn)
    assert all(n.output_delay and n.deferred_reset and n.detach_reset and n.age_init == 999 for n in neurons)
    assert len(losses) == 1 and losses[0] > 0
    assert poisson_accuracy(snn, xte, yte, T=8) >= before - 0.02
    with pytest.raises(ValueError, match="batch_norm"):
        train.fine_tune_stdb(snn, xtr[:64], ytr[:64], 8, preset="rathi2020", batch_norm=True)


def test_rathi2020_keeps_dropout_shared_over_time():
    torch.manual_seed(1)
    ann = nn.Sequential(nn.Linear(8, 16, bias=False), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3, bias=False)).eval()
    x = torch.rand(32, 8)
    snn = convert.convert_rate(ann, x, preset="rathi2020", T=20, progress=False)
    drop = [m for m in snn if isinstance(m, SharedDropout)]
    assert len(drop) == 1 and drop[0].p == 0.2
    assert convert.convert_rate(ann, x, T=20).__len__() == len(snn) - 1  # the default drops it
    seq = torch.rand(5, 4, 16)
    assert torch.equal(drop[0].eval()(seq), seq)  # eval: identity
    out = drop[0].train()(seq)
    kept = out != 0
    assert torch.equal(kept, kept[:1].expand_as(kept))  # one mask for every step
    torch.testing.assert_close(out[kept], seq[kept] / 0.8)
    with pytest.raises(ValueError, match="p must"):
        SharedDropout(1.0)


def test_rathi2020_balancing_in_chunks_of_steps_is_the_whole_run(monkeypatch):
    """The paper's 1000-step balancing runs a chunk of steps at a time (bounded memory) with
    the neurons' state carried over: the same thresholds as one run over all steps."""
    import spikeops.data
    ann, T = _mlp(), 50
    x = torch.rand(32, 8)
    spikes_in = (torch.rand(T, 32, 8) <= x.abs()).float() * x.sign()
    position = {"t": 0}

    def replay(xb, steps):  # the same input spikes however the steps are chunked
        chunk = spikes_in[position["t"]:position["t"] + steps]
        position["t"] = (position["t"] + steps) % T
        return chunk

    whole = convert.convert_rate(ann, x, preset="rathi2020", T=T, encoder=replay, progress=False)
    monkeypatch.setattr(spikeops.data, "CHUNK_SAMPLE_STEPS", 32 * 7)  # chunks of 7 steps, the last of 1
    chunked = convert.convert_rate(ann, x, preset="rathi2020", T=T, encoder=replay, progress=False)
    assert [n.threshold for n in convert.spiking_layers(chunked)] == \
        [n.threshold for n in convert.spiking_layers(whole)]
    want = whole(spikes_in)
    got = torch.cat(list(spikeops.data.run_in_steps(whole, x, T, encoder=replay)))
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    assert all(not n.stateful and n.state is None for n in convert.spiking_layers(whole))  # settings restored


def test_rathi2020_learning_rate_steps():
    """The code's schedule: the rate divided by 10 at 40, 65 and 85 % of the epochs."""
    ann = _mlp()
    snn = convert.convert_rate(ann, torch.rand(16, 8), preset="rathi2020", T=20, progress=False)
    rates = []
    opt = torch.optim.Adam(snn.parameters(), 1e-4)
    original = opt.step

    def step(*args, **kwargs):
        rates.append(opt.param_groups[0]["lr"])
        return original(*args, **kwargs)

    opt.step = step
    x, y = torch.rand(8, 8), torch.randint(0, 3, (8,))
    train.fit(snn, x, y, 4, epochs=10, batch_size=8, optimizer=opt, schedule="steps")
    assert rates == pytest.approx([1e-4] * 4 + [1e-5] * 3 + [1e-6] * 2 + [1e-7])
