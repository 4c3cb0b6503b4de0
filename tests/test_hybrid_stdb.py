"""Hybrid conversion + STDB fine-tuning (Rathi et al.)."""
import math

import pytest
import torch
from torch import nn

from spikeops import convert
from spikeops import functional as F
from spikeops.nn import encode_constant
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
