"""Streaming data (spikeops.data): every form of data gives the same batches, and every
calibration, evaluation and measurement function gives the same result on tensors as on a
DataLoader or a generator of batches."""
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from spikeops import analysis, convert, hardware
from spikeops.data import batches, check_reiterable, run_in_steps, sequences
from spikeops.nn import encode_rate
from spikeops.train import accuracy

X, Y = torch.rand(10, 3), torch.arange(10) % 2


def assert_same_report(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-12), k


def test_every_form_gives_the_same_batches():
    loader = DataLoader(TensorDataset(X, Y), batch_size=4)
    forms = [dict(data=X, y=Y), dict(data=(X, Y)), dict(data=loader), dict(data=list(loader)),
             dict(data=iter(list(loader)))]
    for form in forms:
        got = list(batches(**form, batch_size=4))
        assert [len(xb) for xb, _ in got] == [4, 4, 2]
        assert torch.equal(torch.cat([xb for xb, _ in got]), X) and torch.equal(torch.cat([yb for _, yb in got]), Y)
    assert [yb for _, yb in batches(X, batch_size=4)] == [None] * 3
    assert len(list(batches(loader, max_batches=2))) == 2
    assert len(list(batches([X[:2], X[2:]]))) == 2  # batches without labels


def test_bad_data_is_a_clear_error():
    with pytest.raises(ValueError, match="no labels"):
        list(batches(X, need_labels=True))
    with pytest.raises(TypeError, match="batch 0"):
        list(batches([{"x": X}]))
    with pytest.raises(TypeError, match="data must be"):
        list(batches(3))
    with pytest.raises(ValueError, match="same length"):
        list(batches(X, Y[:3]))
    with pytest.raises(ValueError, match="max_batches"):
        list(batches(X, max_batches=0))
    with pytest.raises(TypeError, match="more than once"):
        check_reiterable(iter([X]), "threshold_balance")
    check_reiterable(DataLoader(TensorDataset(X)), "threshold_balance")
    with pytest.raises(TypeError, match="without T"):
        list(sequences([X]))
    with pytest.raises(ValueError, match="T"):
        list(run_in_steps(nn.Identity(), X, 0))


def test_sequences_encode_per_batch_or_split_a_sequence_tensor():
    seq = torch.rand(5, 10, 3)
    parts = list(sequences(seq, Y, batch_size=4))
    assert [p[0].shape for p in parts] == [(5, 4, 3), (5, 4, 3), (5, 2, 3)]
    assert torch.equal(torch.cat([p[0] for p in parts], 1), seq)
    encoded = list(sequences(X, Y, 6, batch_size=4))
    assert encoded[0][0].shape == (6, 4, 3) and torch.equal(encoded[0][0][3], X[:4])


@pytest.fixture(scope="module")
def converted():
    torch.manual_seed(0)
    ann = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 2)).eval()
    x, y = torch.rand(96, 3), torch.randint(0, 2, (96,))
    return ann, x, y, DataLoader(TensorDataset(x, y), batch_size=32)


def test_conversion_and_evaluation_stream(converted):
    ann, x, y, loader = converted
    assert convert.activation_scales(ann, x, 99.0) == convert.activation_scales(ann, loader, 99.0)
    snn = convert.convert_rate(ann, x, percentile=99.0)
    snn_loader = convert.convert_rate(ann, loader, percentile=99.0)
    for a, b in zip(snn.parameters(), snn_loader.parameters()):
        assert torch.equal(a, b)
    torch.testing.assert_close(convert.evaluate(snn, x, y, 16), convert.evaluate(snn, loader, T=16), rtol=0, atol=0)
    assert accuracy(ann, x, y) == accuracy(ann, loader)
    balanced = convert.convert_rate(ann, x, method="balance", T=8)
    balanced_loader = convert.convert_rate(ann, loader, method="balance", T=8)
    assert [m.threshold for m in convert.spiking_layers(balanced)] == \
        [m.threshold for m in convert.spiking_layers(balanced_loader)]
    with pytest.raises(TypeError, match="more than once"):
        convert.threshold_balance(balanced, (b for b in loader), 8)
    fs = convert.convert_fs(ann, x, preset=None, K=6)
    fs_loader = convert.convert_fs(ann, loader, preset=None, K=6)
    for a, b in zip(fs.buffers(), fs_loader.buffers()):
        assert torch.equal(a, b)
    act, act_loader = convert.fs_activity(fs, x), convert.fs_activity(fs, loader, progress=False)
    assert_same_report(act, act_loader)


def test_measurements_stream(converted):
    ann, x, y, loader = converted
    snn = convert.convert_rate(ann, x, percentile=99.0)
    whole = analysis.snn_activity(snn, encode_rate(x, 12, generator=torch.Generator().manual_seed(3)))
    streamed = analysis.snn_activity(snn, x, 12, encoder="rate", generator=torch.Generator().manual_seed(3),
                                     batch_size=96)
    assert_same_report(whole, streamed)
    constant = analysis.snn_activity(snn, x, 12)
    assert_same_report(constant, analysis.snn_activity(snn, loader, 12))
    fixed = hardware.quantize(snn)
    events = encode_rate(x, 12, generator=torch.Generator().manual_seed(4))
    result = hardware.compare(snn, fixed, events, y, batch_size=40)
    gen = torch.Generator().manual_seed(4)
    assert_same_report(result, hardware.compare(snn, fixed, x, y, 12, encoder="rate", generator=gen, batch_size=96))
    energy = hardware.energy_report(snn, loader, 12, ann=ann, ann_input=x[:1])
    assert energy["synops"] == pytest.approx(constant["synops"]) and energy["steps"] == 12


def test_activity_in_chunks_of_steps_is_the_whole_run(converted, monkeypatch):
    """snn_activity runs long inputs a chunk of steps at a time (bounded memory): the same counts."""
    import spikeops.data
    ann, x, y, loader = converted
    snn = convert.convert_rate(ann, x, percentile=99.0)
    whole = analysis.snn_activity(snn, x, 40, batch_size=64)
    monkeypatch.setattr(spikeops.data, "CHUNK_SAMPLE_STEPS", 64 * 7)  # chunks of 7 steps
    assert_same_report(whole, analysis.snn_activity(snn, x, 40, batch_size=64))
    assert whole["spikes_per_neuron"] > 0 and whole["neuron_updates"] == whole["neurons"] * 40
