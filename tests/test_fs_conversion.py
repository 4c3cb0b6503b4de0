"""FS-neuron conversion (Stöckl & Maass) of a ReLU network."""
import pytest
import torch
from torch import nn

from spikeops import convert
from spikeops.nn import FSNeuron


def test_fs_conversion_on_digits(digits_data, relu_ann):
    xtr, ytr, xte, yte = digits_data
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
