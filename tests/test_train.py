"""Direct surrogate training (spikeops.train), activity counting (spikeops.analysis) and the demo."""
import importlib.util
import json

import pytest
import torch
from torch import nn

import spikeops
from spikeops import analysis, convert
from spikeops.nn import TimeDistributed, encode_constant
from spikeops.train import deep_conv_snn, fit, layer_grad_norms

pytest.importorskip("sklearn", reason="the digits dataset comes with scikit-learn (a test dependency)")
from spikeops.datasets import digits  # noqa: E402


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


def test_direct_training_on_digits_with_grad_norms():
    torch.manual_seed(0)
    xtr, ytr, xte, yte = digits()
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


def test_demo_end_to_end(tmp_path):
    from spikeops.apps import demo
    result = demo.run(tmp_path, max_T=24, ann_epochs=8, snn_epochs=4, hybrid_epochs=2, soft_lif_T=60,
                      soft_lif_settle=20)
    rows = {r["method"]: r for r in result["rows"]}
    assert rows["ANN (ReLU)"]["accuracy"] >= 0.95
    assert any(k.startswith("rate conversion, Poisson") for k in rows)
    for prefix in ("conversion alone", "hybrid STDB", "FS neurons", "soft-LIF ANN", "soft-LIF SNN", "direct"):
        row = next(r for k, r in rows.items() if k.startswith(prefix))
        assert 0.5 <= row["accuracy"] <= 1.0, (prefix, row)
    fs = next(r for k, r in rows.items() if k.startswith("FS neurons"))
    assert 0 < fs["spikes_per_neuron"] <= fs["T"]
    saved = json.loads((tmp_path / "results.json").read_text())
    assert len(saved["curves"]["rate conversion, constant current"]) == 24
    assert (tmp_path / "table.md").read_text().startswith("| method |")
    if importlib.util.find_spec("matplotlib"):
        assert (tmp_path / "accuracy_vs_T.png").stat().st_size > 1000
