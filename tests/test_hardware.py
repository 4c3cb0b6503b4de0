"""spikeops.hardware: quantisation properties (hypothesis), exact agreement where the float
network is exactly representable, fixed vs float on digits, the energy report by hand and
argument checking."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from spikeops import convert, hardware
from spikeops.nn import LIF, TimeDistributed, encode_rate

from conftest import fit_ann, relu_cnn


finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(finite, min_size=1, max_size=50), st.floats(1e-3, 10.0))
def test_weight_quantisation_in_range_and_exponent_optimal(values, unit):
    w = torch.tensor(values, dtype=torch.float64)
    top = w.abs().max().item() / unit
    if top > 254 * 2 ** 7:
        with pytest.raises(ValueError, match="8-bit"):
            hardware.quantize_weights(w, unit)
        return
    mant, e = hardware.quantize_weights(w, unit)
    assert mant.dtype == torch.int32
    assert int(mant.min()) >= -256 and int(mant.max()) <= 254
    assert bool((mant % 2 == 0).all())
    assert 0 <= e <= 7
    assert top <= 254 * 2 ** e * (1 + 1e-12)                # the range is covered ...
    assert e == 0 or top > 254 * 2 ** (e - 1)                 # ... by the finest grid that covers it
    err = (mant.double() * 2 ** e - w / unit).abs()
    assert err.max().item() <= 2 ** e * (1 + 1e-9) + 1e-9     # within half a step of the even grid


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-5e5, 5e5, allow_nan=False), min_size=1, max_size=50))
def test_bias_quantisation_in_range_and_exponent_optimal(values):
    b = torch.tensor(values, dtype=torch.float64)
    mant, e = hardware.quantize_bias(b)
    assert int(mant.min()) >= -4096 and int(mant.max()) <= 4095 and 0 <= e <= 7
    top = b.abs().max().item()
    assert e == 0 or top > 4095 * 2 ** (e - 1) + 2 ** (e - 1) / 2
    assert (mant.double() * 2 ** e - b).abs().max().item() <= 2 ** e / 2 + 1e-9


def test_bias_out_of_range_is_an_error():
    with pytest.raises(ValueError, match="13-bit"):
        hardware.quantize_bias(torch.tensor([1e7]))


def dyadic_snn(decay):
    """Weights k / 256 (|k| <= 64) and threshold 1: exactly representable in both arithmetics."""
    torch.manual_seed(0)
    lin1, lin2 = nn.Linear(20, 30, bias=False), nn.Linear(30, 5, bias=False)
    with torch.no_grad():
        lin1.weight.copy_(torch.randint(-64, 65, lin1.weight.shape) / 256)
        lin1.weight[0, 0] = 64 / 256
        lin2.weight.copy_(torch.randint(-64, 65, lin2.weight.shape) / 256)
    return nn.Sequential(TimeDistributed(lin1), LIF(decay, threshold=1.0, reset="subtract"), TimeDistributed(lin2))


@pytest.mark.parametrize("decay", [1.0, 0.5])
def test_exactly_representable_network_agrees_exactly(decay):
    snn = dyadic_snn(decay)
    fixed = hardware.quantize(snn)
    layer = fixed.layers[0]
    assert layer.unit == 2 ** -14 and layer.vth_mant == 2 ** 14 and layer.weight_exp == 5
    assert layer.dv == (0 if decay == 1.0 else 2048)
    assert layer.errors["weight_rel_err"] == 0 and layer.errors["threshold_rel_err"] == 0
    x = (torch.rand(8, 64, 20) < 0.6).float()
    result = hardware.compare(snn, fixed, x)
    assert result["spike_agreement"] == [1.0] and result["spike_count_ratio"] == [1.0]
    assert fixed.last_spikes[0].sum() > 100
    torch.testing.assert_close(fixed(x), snn(x).mean(0), rtol=1e-6, atol=1e-6)


def test_fixed_point_rate_conversion_on_digits(digits_data):
    xtr, ytr, xte, yte = digits_data
    torch.manual_seed(0)
    ann = fit_ann(relu_cnn(nn.AvgPool2d), xtr, ytr, 10, seed=None)
    snn = convert.convert_rate(ann, xtr, percentile=99.9)
    fixed = hardware.quantize(snn)
    report = fixed.report()
    assert [r["spiking"] for r in report] == [True, True, False]
    assert all(r["weight_rel_err"] < 0.03 for r in report)
    result = hardware.compare(snn, fixed, encode_rate(xte, 32, generator=torch.Generator().manual_seed(0)), yte)
    assert result["float_accuracy"] >= 0.9
    assert abs(result["fixed_accuracy"] - result["float_accuracy"]) <= 0.01, result
    assert all(a > 0.85 for a in result["spike_agreement"])
    assert all(abs(r - 1) < 0.02 for r in result["spike_count_ratio"])


def test_energy_report_by_hand():
    lin1, lin2 = nn.Linear(2, 3, bias=False), nn.Linear(3, 4, bias=False)
    with torch.no_grad():
        lin1.weight.fill_(1.0)
        lin2.weight.fill_(0.1)
    snn = nn.Sequential(TimeDistributed(lin1), LIF(1.0, threshold=0.5), TimeDistributed(lin2))
    x = torch.tensor([[[1.0, 0.0]], [[0.0, 0.0]], [[1.0, 1.0]]])  # 3 input events over T = 3, B = 1
    costs = hardware.EnergyCosts(synop=2.0, neuron_update=3.0, mac=5.0)
    ann = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 4))
    r = hardware.energy_report(snn, x, ann=ann, ann_input=torch.zeros(1, 2), costs=costs)
    # hidden: step 1 current 1 -> spike, step 2 membrane 0.5 -> no spike, step 3 -> 2.5 -> spike: 2 spikes x 3 neurons
    assert r["spikes_per_neuron"] == pytest.approx(2.0)
    assert r["synops"] == pytest.approx(3 * 3 + 6 * 4)           # input events x 3 + hidden spikes x 4
    assert r["neuron_updates"] == 3 * 3
    assert r["snn_energy_j"] == pytest.approx(33 * 2.0 + 9 * 3.0)
    assert r["ann_macs"] == 2 * 3 + 3 * 4 and r["ann_energy_j"] == pytest.approx(18 * 5.0)
    assert r["ann_over_snn_energy"] == pytest.approx(90 / 93)
    with pytest.raises(ValueError, match="ann_input"):
        hardware.energy_report(snn, x, ann=ann)


def test_bad_networks_and_inputs_are_named():
    snn = dyadic_snn(1.0)
    with pytest.raises(ValueError, match="integer input events"):
        hardware.quantize(snn)(torch.full((2, 1, 20), 0.5))
    per_neuron = nn.Sequential(TimeDistributed(nn.Linear(2, 3)), LIF(1.0, threshold=torch.ones(3)),
                               TimeDistributed(nn.Linear(3, 2)))
    with pytest.raises(ValueError, match="per-neuron threshold"):
        hardware.quantize(per_neuron)
    zero_reset = nn.Sequential(TimeDistributed(nn.Linear(2, 3)), LIF(1.0, reset="zero", v_reset=0.2),
                               TimeDistributed(nn.Linear(3, 2)))
    with pytest.raises(ValueError, match="resets to 0"):
        hardware.quantize(zero_reset)
    with pytest.raises(TypeError, match="ReLU"):
        hardware.quantize(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2)))
    with pytest.raises(ValueError, match="non-spiking"):
        hardware.quantize(nn.Sequential(TimeDistributed(nn.Linear(2, 3)), LIF(1.0)))
    with pytest.raises(TypeError, match="nn.Sequential"):
        hardware.quantize(LIF(1.0))


def test_direct_trained_network_with_current_norms_quantises(digits_data):
    from spikeops.train import deep_conv_snn, fit
    xtr, ytr, xte, yte = digits_data
    torch.manual_seed(0)
    model = deep_conv_snn()
    fit(model, xtr[:512], ytr[:512], 4, epochs=1, lr=3e-3, encoder="rate")
    fixed = hardware.quantize(model)  # BatchNorm on the currents folded, LIF decay 0.5 -> dv 2048
    assert [r["dv"] for r in fixed.report()[:-1]] == [2048] * 8
    result = hardware.compare(model, fixed, encode_rate(xte, 4, generator=torch.Generator().manual_seed(0)), yte)
    assert min(result["spike_agreement"]) > 0.85
    assert abs(result["fixed_accuracy"] - result["float_accuracy"]) <= 0.03
