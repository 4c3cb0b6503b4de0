"""The LIF kernel writing its spikes as bits in the same pass (functional.lif(packed=...)):
the words and row starts against pack_spikes on the float spikes, on every ISA and thread
count; the float spikes and gradients unchanged; the attachment that lets SpikeLinear and
SpikeConv2d skip packing, and when it must be ignored; fuse() turning it on."""
import pytest
import torch
from torch import nn

from spikeops import functional as F
from spikeops import surrogate as S
from spikeops.nn import ALIF, LIF, SpikeConv2d, SpikeLinear, TimeDistributed, fuse
from conftest import on_every_isa_and_thread_count

OPS = torch.ops.spikeops


def drive(shape, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) * 1.6 - 0.2).to(dtype)


def assert_same_bits(got: F.PackedSpikes, spikes: torch.Tensor, neuron_dims: int):
    want = F.pack_spikes(spikes, neuron_dims)
    assert got.shape == spikes.shape and got.dtype == spikes.dtype
    assert torch.equal(got.words.reshape(want.words.shape), want.words)
    assert torch.equal(got.row_start, want.row_start)


# rows of 1 to 2049 neurons: whole words, partial last words, rows shorter than a word, and
# rows that straddle the kernel's neuron blocks (2048 float32 neurons) at odd bit offsets
@pytest.mark.parametrize("shape,neuron_dims", [
    ((6, 3, 1), 1), ((6, 5, 7), 1), ((5, 9, 63), 1), ((5, 8, 64), 1), ((5, 70, 65), 1), ((4, 45, 100), 1),
    ((3, 3, 2049), 1), ((3, 4, 3, 5, 7), 3), ((3, 2, 12, 12, 12), 3), ((4, 6, 2, 50), 2), ((4, 3000), 1)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_kernel_bits_equal_packing_the_spikes(shape, neuron_dims, dtype):
    x = drive(shape, dtype)
    spikes, _, packed = F.lif(x, decay=0.7, packed=neuron_dims)
    plain, _ = F.lif(x, decay=0.7)
    assert torch.equal(spikes, plain)
    assert_same_bits(packed, spikes, neuron_dims)
    assert 0 < packed.spike_count < spikes.numel()


@pytest.mark.parametrize("n", [64, 100, 2049])
def test_bits_on_every_isa_and_thread_count(monkeypatch, n):
    x = drive((7, 11, n))  # 11 * n neurons a step: several blocks, split over threads at word-odd offsets
    runs = on_every_isa_and_thread_count(monkeypatch, lambda: F.lif(x, decay=0.8, packed=1))
    for spikes, _, packed in runs:
        assert_same_bits(packed, spikes, 1)


def test_every_reset_and_option_packs_its_own_spikes():
    x = drive((9, 4, 130), seed=3)
    for kw in (dict(reset="zero"), dict(reset="none"), dict(refractory=2), dict(deferred_reset=True),
               dict(track_age=True, return_ages=True), dict(return_membrane=True), dict(surrogate="stdb")):
        out = F.lif(x, decay=0.9, threshold=0.8, **kw, packed=1)
        assert_same_bits(out[-1], out[0], 1)


def test_gradients_are_those_without_packing():
    x = drive((10, 4, 96)).requires_grad_()
    g = torch.randn(10, 4, 96)
    spikes, _, packed = F.lif(x, decay=0.8, saved_membrane=torch.float16, packed=1)
    (grad,) = torch.autograd.grad((spikes * g).sum(), x)
    plain, _ = F.lif(x, decay=0.8, saved_membrane=torch.float16)
    (want,) = torch.autograd.grad((plain * g).sum(), x)
    assert torch.equal(grad, want)
    assert_same_bits(packed, spikes.detach(), 1)


def test_a_user_surrogate_packs_after_the_reference():
    x = drive((5, 3, 70))
    spikes, _, packed = F.lif(x, decay=0.8, surrogate=S.Custom(lambda u, theta, age: 1 / (1 + u * u)),
                                packed=1)
    assert_same_bits(packed, spikes, 1)


@pytest.mark.parametrize("bad", [0, 3, -1, 1.5, True])
def test_packed_must_name_dimensions_within_a_step(bad):
    with pytest.raises((ValueError, TypeError), match="packed"):
        F.lif(drive((4, 2, 8)), decay=0.5, packed=bad)


def test_the_op_checks_its_words():
    x, one = drive((3, 4, 10)), torch.tensor(1.0)
    args = (x, None, None, None, one * 0.5, one, one, 0, 0.0, 0, False, False, 0, 1.0, 2.0, False, 1000, False, False)
    OPS.lif_forward(*args, spike_row=10, spike_words=torch.empty(12, 1, dtype=torch.long))  # fits
    for row, words, match in [(10, torch.empty(12, 2, dtype=torch.long), "spike_words"),
                              (10, torch.empty(12, 1, dtype=torch.int32), "spike_words"),
                              (10, torch.empty(12, 2, dtype=torch.long)[:, :1], "spike_words"),
                              (7, torch.empty(12, 1, dtype=torch.long), "spike_row"),
                              (0, torch.empty(12, 1, dtype=torch.long), "spike_row")]:
        with pytest.raises((ValueError, TypeError), match=match):  # a wrong dtype is a TypeError
            OPS.lif_forward(*args, spike_row=row, spike_words=words)


def test_spike_row_start_counts_each_row():
    x = (torch.rand(37, 130) < 0.2).float()
    packed = F.pack_spikes(x)
    assert torch.equal(OPS.spike_row_start(packed.words), packed.row_start)
    with pytest.raises(TypeError, match="words"):
        OPS.spike_row_start(packed.words.float())
    with pytest.raises(ValueError, match="words"):
        OPS.spike_row_start(packed.words.reshape(-1))


def refuse_packing(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("spikes were packed again")
    monkeypatch.setattr(F, "pack_spikes", refuse)


def test_the_linear_reads_the_attached_bits(monkeypatch):
    neuron = LIF(0.8, pack_output=True)
    lin = nn.Linear(100, 30)
    x = drive((6, 5, 100)).requires_grad_()
    spikes = neuron(x)
    refuse_packing(monkeypatch)
    y = F.spike_linear(spikes.flatten(0, 1), lin.weight, lin.bias, crossover=1.0)
    want = nn.functional.linear(spikes.detach().flatten(0, 1), lin.weight, lin.bias)
    torch.testing.assert_close(y, want, rtol=1e-5, atol=1e-5)
    y.sum().backward()  # gradients reach the neuron's input through the float spikes
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_bits_are_ignored_once_the_spikes_change(monkeypatch):
    spikes, _, packed = F.lif(drive((4, 6, 64)), decay=0.8, packed=1)
    F.attach_packed(spikes, packed)
    assert F._attached_packed(spikes.view(24, 64), 1) is not None
    assert F._attached_packed(spikes[1:], 1) is None                    # a part of them
    assert F._attached_packed(spikes.view(4, 6, 8, 8), 1) is None       # rows of another length
    assert F._attached_packed(spikes.transpose(0, 1), 1) is None        # another order
    spikes[0, 0, :5] = 1.0 - spikes[0, 0, :5]
    assert F._attached_packed(spikes, 1) is None
    w = torch.randn(3, 64)
    torch.testing.assert_close(F.spike_linear(spikes, w, crossover=1.0), spikes @ w.t(), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="packed"):
        F.attach_packed(spikes, F.pack_spikes(spikes[1:]))


def tutorial_net():
    torch.manual_seed(0)
    return nn.Sequential(TimeDistributed(nn.Conv2d(1, 8, 5)), TimeDistributed(nn.MaxPool2d(2)), LIF(0.9),
                         TimeDistributed(nn.Conv2d(8, 16, 5)), TimeDistributed(nn.MaxPool2d(2)), LIF(0.9),
                         TimeDistributed(nn.Flatten()), TimeDistributed(nn.Linear(16 * 4 * 4, 10)), LIF(0.9))


def test_fuse_packs_in_the_kernel_and_keeps_the_results(monkeypatch):
    x = torch.rand(5, 3, 1, 28, 28) * 3
    plain, fused = tutorial_net(), fuse(tutorial_net())
    assert [type(m.module).__name__ for m in fused if isinstance(m, TimeDistributed)] == [
        "Conv2d", "MaxPool2d", "SpikeConv2d", "MaxPool2d", "Flatten", "SpikeLinear"]
    assert [m.pack_output for m in fused if isinstance(m, LIF)] == [True, True, False]
    assert "pack_output=True" in repr(fused[2])
    calls = []
    packing = F.pack_spikes
    monkeypatch.setattr(F, "pack_spikes", lambda *a, **k: calls.append(a) or packing(*a, **k))
    want, got = plain(x), fused(x)
    assert not calls  # both synapses on spikes read the kernel's bits
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    want.sum().backward()
    got.sum().backward()
    for (name, p), q in zip(plain.named_parameters(), fused.parameters()):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-4, atol=1e-5, msg=name)


def test_fuse_leaves_step_by_step_neurons_alone():
    model = fuse(nn.Sequential(ALIF(0.9), nn.Linear(8, 4)))
    assert isinstance(model[1], SpikeLinear) and not model[0].pack_output


def test_single_step_neurons_attach_their_bits(monkeypatch):
    neuron = LIF(0.8, step_mode="single", pack_output=True)
    conv = SpikeConv2d(3, 4, 3)
    x = drive((2, 3, 9, 9))
    spikes = neuron(x)
    refuse_packing(monkeypatch)
    torch.testing.assert_close(conv(spikes), nn.functional.conv2d(spikes, conv.weight, conv.bias))
