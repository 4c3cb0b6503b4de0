"""Direct surrogate-gradient training of deep SNNs (Ledinauskas et al.)."""
import pytest
import torch
from torch import nn

import spikeops
from spikeops import convert
from spikeops.nn import TimeDistributed, encode_constant
from spikeops.train import deep_conv_snn, fit, layer_grad_norms


def test_deep_snn_structure():
    model = deep_conv_snn()
    assert len([m for m in model if isinstance(m, spikeops.LIF)]) == 8
    bns = [m.module for m in model if isinstance(m, TimeDistributed) and isinstance(m.module, nn.BatchNorm2d)]
    assert len(bns) == 8
    out = model(torch.rand(3, 2, 1, 8, 8))
    assert out.shape == (3, 2, 10)
    with pytest.raises(ValueError, match="pooling"):
        deep_conv_snn(input_size=2, pool_after=(0, 1, 2))


def test_batchnorm_statistics_are_shared_over_time():
    bn = TimeDistributed(nn.BatchNorm2d(2))
    x = torch.randn(5, 4, 2, 3, 3) * torch.arange(1, 6).view(5, 1, 1, 1, 1)
    bn(x)
    torch.testing.assert_close(bn.module.running_mean, 0.1 * x.mean((0, 1, 3, 4)))


def test_direct_training_on_digits_with_grad_norms(digits_data):
    torch.manual_seed(0)
    xtr, ytr, xte, yte = digits_data
    model = deep_conv_snn()
    losses = fit(model, xtr, ytr, 4, epochs=6, lr=3e-3)
    assert losses[-1] < losses[0]
    acc = convert.evaluate(model, xte, yte, 4)[-1].item()
    assert acc >= 0.93
    model.zero_grad()
    nn.functional.cross_entropy(spikeops.nn.integrate(model(encode_constant(xtr[:128], 4))), ytr[:128]).backward()
    norms = layer_grad_norms(model)
    assert len(norms) == 9  # 8 conv + output
    values = torch.tensor(list(norms.values()))
    assert (values > 0).all() and values.max() / values.min() < 100  # neither vanishing nor exploding
