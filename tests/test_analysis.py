"""Activity counting (spikeops.analysis) by hand."""
import pytest
import torch
from torch import nn

import spikeops
from spikeops import analysis
from spikeops.nn import SubstepLIF, TimeDistributed


def test_activity_counts_by_hand():
    # One Linear(2 -> 3) with weights 1, then IF neurons with threshold 1, then Linear(3 -> 2).
    lin1, lin2 = nn.Linear(2, 3, bias=False), nn.Linear(3, 2, bias=False)
    nn.init.ones_(lin1.weight)
    nn.init.ones_(lin2.weight)
    snn = nn.Sequential(TimeDistributed(lin1), spikeops.IF(threshold=1.0), TimeDistributed(lin2))
    x = torch.tensor([[0.6, 0.0]]).expand(4, 1, 2)  # current 0.6 per step: spikes at steps 2 and 4
    act = analysis.snn_activity(snn, x)
    assert act["layer_spikes_per_neuron"] == [2.0]
    assert act["spikes_per_neuron"] == 2.0
    # layer 1: one non-zero input per step x fan-out 3; layer 2: 3 spikes at 2 steps x fan-out 2
    assert act["synops"] == 4 * 3 + 6 * 2
    assert act["neuron_updates"] == 3 * 4
    assert analysis.ann_macs(nn.Sequential(lin1, nn.ReLU(), lin2), torch.zeros(1, 2)) == [6, 6]
    conv = nn.Conv2d(2, 4, 3, padding=1)
    assert analysis.ann_macs(nn.Sequential(conv), torch.zeros(1, 2, 5, 5)) == [4 * 25 * 2 * 9]


def test_activity_counts_the_spikes_of_every_spiking_neuron_module():
    torch.manual_seed(0)
    snn = nn.Sequential(TimeDistributed(nn.Linear(4, 6)), SubstepLIF(gain=3.0), TimeDistributed(nn.Linear(6, 2)))
    x_seq = torch.rand(50, 3, 4)
    spikes = snn[:2](x_seq)
    act = analysis.snn_activity(snn, x_seq)
    assert act["spikes_per_neuron"] == pytest.approx((spikes != 0).sum().item() / 3 / 6)
    assert act["spikes_per_neuron"] > 0
