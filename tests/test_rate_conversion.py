"""Rate conversion of a ReLU ANN (spikeops.convert.convert_rate)."""
import pytest
import torch
from torch import nn

import spikeops
from spikeops import convert
from spikeops.nn import encode_constant
from spikeops.train import accuracy

from conftest import fit_ann


def small_cnn(bn=True):
    def norm(c):
        return nn.BatchNorm2d(c) if bn else nn.Identity()
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), norm(8), nn.ReLU(),
                         nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), norm(16), nn.ReLU(), nn.AvgPool2d(2)),
                         nn.Flatten(), nn.Dropout(0.1), nn.Linear(16 * 16, 32), nn.BatchNorm1d(32), nn.ReLU(),
                         nn.Linear(32, 10))


@pytest.fixture(scope="module")
def trained(digits_data):
    """small_cnn trained 12 epochs on the digits, its test accuracy, the data."""
    xtr, ytr, xte, yte = digits_data
    torch.manual_seed(0)
    model = fit_ann(small_cnn(), xtr, ytr, 12, seed=None)
    return model, accuracy(model, xte, yte), digits_data


def test_batchnorm_folding_preserves_outputs(trained):
    model, _, (xtr, *_rest) = trained
    folded = convert.fold_batchnorm(model)
    assert not any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.Dropout)) for m in folded)
    with torch.no_grad():
        torch.testing.assert_close(folded(xtr[:300]), model(xtr[:300]), atol=1e-5, rtol=1e-5)


def test_folding_without_bias_and_errors():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU()).eval()
    model[1].running_mean.uniform_(-1, 1)
    model[1].running_var.uniform_(0.5, 2)
    x = torch.randn(5, 1, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(convert.fold_batchnorm(model)(x), model(x), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="must directly follow"):
        convert.fold_batchnorm(nn.Sequential(nn.ReLU(), nn.BatchNorm1d(3)))
    with pytest.raises(TypeError, match="GELU"):
        convert.fold_batchnorm(nn.Sequential(nn.Linear(3, 3), nn.GELU()))
    with pytest.raises(TypeError, match="nn.Sequential"):
        convert.convert_rate(nn.Linear(3, 3), torch.randn(4, 3))


def test_activation_scales_are_percentiles(trained):
    model, _, (xtr, *_rest) = trained
    folded = convert.fold_batchnorm(model)
    relu_outputs, h = [], xtr[:400]
    with torch.no_grad():
        for m in folded:
            h = m(h)
            if isinstance(m, nn.ReLU):
                relu_outputs.append(h[h > 0])
    assert convert.activation_scales(folded, xtr[:400], 100.0) == pytest.approx([a.max().item() for a in relu_outputs])
    p999 = convert.activation_scales(folded, xtr[:400], 99.9)
    for got, a in zip(p999, relu_outputs):
        assert got == pytest.approx(torch.quantile(a, 0.999, interpolation="nearest").item(), rel=1e-3)


def test_threshold_balancing_equals_max_current_layer_by_layer(trained):
    model, _, (xtr, *_rest) = trained
    calib = xtr[:256]
    snn = convert.convert_rate(model, calib, method="balance", T=16, scale=0.75)
    neurons = convert.spiking_layers(snn)
    assert len(neurons) == 3
    # Recompute independently: simulate the balanced SNN and record each neuron layer's input.
    currents, h = [], encode_constant(calib, 16)
    with torch.no_grad():
        for m in snn:
            if isinstance(m, spikeops.LIF):
                currents.append(h.max().item())
            h = m(h)
    for neuron, peak in zip(neurons, currents):
        assert neuron.threshold == pytest.approx(0.75 * peak, rel=1e-5)


def test_rate_conversion_accuracy_on_digits(trained):
    model, ann_acc, (xtr, ytr, xte, yte) = trained
    assert ann_acc >= 0.95
    snn = convert.convert_rate(model, xtr, percentile=99.9)
    acc = convert.evaluate(snn, xte, yte, 48)
    assert acc.shape == (48,)
    assert acc[-1] >= ann_acc - 0.02  # constant-current input
    g = torch.Generator().manual_seed(0)
    acc_rate = convert.evaluate(snn, xte, yte, 48, encoder="rate", generator=g)
    assert acc_rate[-1] >= ann_acc - 0.04  # Poisson-rate input
    assert acc[-1] > acc[1]  # accuracy grows with time steps
    balanced = convert.convert_rate(model, xtr[:512], method="balance", T=32, scale=0.7)
    assert convert.evaluate(balanced, xte, yte, 48)[-1] >= ann_acc - 0.03


def test_maxpool_handling():
    ann = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 3))
    x = torch.rand(10, 1, 8, 8)
    snn = convert.convert_rate(ann, x)
    assert isinstance(snn[2].module, nn.AvgPool2d)
    assert isinstance(convert.convert_rate(ann, x, maxpool="max")[2].module, nn.MaxPool2d)
    with pytest.raises(ValueError, match="MaxPool2d"):
        convert.convert_rate(ann, x, maxpool="error")
    with pytest.raises(ValueError, match="method"):
        convert.convert_rate(ann, x, method="magic")
