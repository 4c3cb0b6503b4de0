"""Convolutions on spikes and the PackedSpikes type: SpikeConv2d against nn.Conv2d (values and
every gradient, exactly), the bytes it saves for the backward pass, packed inputs to the
synapse ops, and fuse() on convolutional networks."""
import pytest
import torch
from torch import nn

from spikeops import functional as F
from spikeops.nn import LIF, SpikeConv2d, SpikeLinear, TimeDistributed, fuse
from conftest import on_every_isa_and_thread_count
from spikeops.benchmarks.timing import saved_bytes


def spikes(shape, rate, dtype=torch.float32):
    return (torch.rand(shape) < rate).to(dtype)


CONVS = [dict(in_channels=1, out_channels=4, kernel_size=3),
         dict(in_channels=12, out_channels=64, kernel_size=5),
         dict(in_channels=6, out_channels=8, kernel_size=(3, 2), stride=2, padding=1),
         dict(in_channels=6, out_channels=6, kernel_size=3, padding=(2, 1), dilation=2, groups=3, bias=False)]


CONVS += [dict(in_channels=3, out_channels=70, kernel_size=(2, 4), stride=(1, 3), padding=(0, 2), dilation=(2, 1)),
          dict(in_channels=2, out_channels=130, kernel_size=1)]


@pytest.mark.parametrize("spec", CONVS)
@pytest.mark.parametrize("rate", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("event", [True, False])
def test_values_and_gradients_equal_conv2d(isa, spec, rate, event):
    """Event-driven (crossover 1): conv2d's values and gradients up to float rounding (the sums
    run in another order); dense (crossover below the rate): exactly conv2d's."""
    torch.manual_seed(1)
    conv = nn.Conv2d(**spec)
    layer = SpikeConv2d.from_conv(conv)
    assert layer.weight is conv.weight and layer.bias is conv.bias
    x = spikes((3, spec["in_channels"], 13, 11), rate).requires_grad_()
    y = F.spike_conv2d(x, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups,
                       crossover=1.0 if event else -1.0)
    want = conv(x)
    assert type(y.grad_fn).__name__ == "_SpikeConv2dBackward"
    if event and conv.groups == 1:
        torch.testing.assert_close(y, want, rtol=1e-5, atol=1e-5)
    else:
        assert torch.equal(y, want)
    g = torch.randn_like(want)
    params = [x, conv.weight] + ([conv.bias] if conv.bias is not None else [])
    for a, b in zip(torch.autograd.grad(y, params, g), torch.autograd.grad(want, params, g)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-4)


def test_event_sums_are_exact_where_the_order_cannot_matter():
    x = spikes((6, 5, 10, 9), 0.2)
    w = torch.randint(-8, 9, (20, 5, 3, 3)).float()
    b = torch.randint(-8, 9, (20,)).float()
    y = F.spike_conv2d(x, w, b, padding=1, crossover=1.0)
    assert torch.equal(y, torch.nn.functional.conv2d(x, w, b, padding=1))
    g = torch.randint(-4, 5, y.shape).float()
    p = F.pack_spikes(x, neuron_dims=3)
    gw = torch.ops.spikeops.spike_conv2d_grad_weight(p.words, p.row_start, [5, 10, 9], g, [3, 3], [1, 1], [1, 1],
                                                     [1, 1])
    assert torch.equal(gw, torch.nn.grad.conv2d_weight(x, w.shape, g, padding=1))


def test_same_bits_on_every_isa_and_thread_count(monkeypatch):
    x = spikes((40, 6, 12, 12), 0.1).requires_grad_()
    w, b = torch.randn(70, 6, 3, 3).requires_grad_(), torch.randn(70)

    def run():
        y = F.spike_conv2d(x, w, b, padding=1, crossover=1.0)
        return y, torch.autograd.grad(y, [w], torch.ones_like(y))[0]

    results = on_every_isa_and_thread_count(monkeypatch, run)
    assert len(results) >= 3
    for r in results[1:]:
        assert all(torch.equal(a, c) for a, c in zip(r, results[0]))


def test_crossover_picks_the_dense_convolution_above_the_rate():
    conv = nn.Conv2d(4, 8, 3)
    sparse, dense = spikes((5, 4, 9, 9), 0.01), spikes((5, 4, 9, 9), 0.9)
    assert 0 < F.SPIKE_CONV_CROSSOVER < 1
    # the event-driven forward writes its output channels last; the dense one does not
    assert F.spike_conv2d(sparse, conv.weight).is_contiguous(memory_format=torch.channels_last)
    assert F.spike_conv2d(dense, conv.weight).is_contiguous()
    assert torch.equal(F.spike_conv2d(dense, conv.weight, conv.bias), conv(dense))


def test_only_the_needed_gradients():
    conv = nn.Conv2d(4, 5, 3)
    x = spikes((2, 4, 9, 9), 0.2).requires_grad_()
    conv.weight.requires_grad_(False)
    y = F.spike_conv2d(x, conv.weight, conv.bias)
    gx, gb = torch.autograd.grad(y, [x, conv.bias], torch.ones_like(y))
    wx, wb = torch.autograd.grad(conv(x), [x, conv.bias], torch.ones_like(y))
    torch.testing.assert_close(gx, wx)
    torch.testing.assert_close(gb, wb)
    # spikes that need no gradient: only the weight's
    conv.weight.requires_grad_(True)
    x2 = x.detach()
    (gw,) = torch.autograd.grad(F.spike_conv2d(x2, conv.weight, None).sum(), [conv.weight])
    torch.testing.assert_close(gw, torch.autograd.grad(conv._conv_forward(x2, conv.weight, None).sum(),
                                                       [conv.weight])[0])


def test_the_saved_input_is_1_bit_per_spike():
    conv = nn.Conv2d(12, 64, 5)
    x = spikes((64, 12, 12, 12), 0.1).requires_grad_()
    layer = SpikeConv2d.from_conv(conv)
    params = [conv.weight, conv.bias]
    assert saved_bytes(lambda: conv(x), params) == x.nbytes  # nn.Conv2d keeps x: 4 bytes per input
    # 1728 inputs per image are 27 words; plus the 65 row starts
    assert saved_bytes(lambda: layer(x), params) == 64 * 27 * 8 + 65 * 8


def test_packed_spikes_are_accepted_and_carry_no_gradient():
    x = spikes((2, 5, 3, 100), 0.2)
    w = torch.randn(7, 100, requires_grad=True)
    p = F.pack_spikes(x)
    assert p.shape == x.shape and p.rows == 30 and p.n == 100 and p.dtype == torch.float32
    assert p.rate == float(x.double().mean()) and p.nbytes == p.words.nbytes + p.row_start.nbytes
    y = F.spike_linear(p, w, crossover=1.0)
    torch.testing.assert_close(y, x @ w.t(), rtol=1e-5, atol=1e-5)
    (gw,) = torch.autograd.grad(y, [w], torch.ones_like(y))
    torch.testing.assert_close(gw, torch.ones(2, 5, 3, 7).reshape(-1, 7).t() @ x.reshape(-1, 100))
    # above the crossover the dense GEMM runs on the unpacked spikes
    torch.testing.assert_close(F.spike_linear(p, w, crossover=0.0), x @ w.t(), rtol=1e-5, atol=1e-5)

    img = spikes((4, 3, 8, 8), 0.3)
    conv = nn.Conv2d(3, 6, 3)
    pc = F.pack_spikes(img, neuron_dims=3)
    assert pc.words.shape == (4, 3) and pc.n == 192
    assert torch.equal(F.spike_conv2d(pc, conv.weight, conv.bias), conv(img))
    with pytest.raises(ValueError, match="one row per image"):
        F.spike_conv2d(F.pack_spikes(img), conv.weight)
    with pytest.raises(ValueError, match="rows of n_in = 8"):
        F.spike_linear(pc, torch.randn(2, 8))


def test_bad_arguments_are_named():
    w = torch.randn(6, 3, 3, 3)
    with pytest.raises(ValueError, match=r"x must be \[B, C, H, W\]"):
        F.spike_conv2d(spikes((3, 8, 8), 0.1), w)
    with pytest.raises(TypeError, match="stride must be an int or a pair"):
        F.spike_conv2d(spikes((1, 3, 8, 8), 0.1), w, stride=1.5)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        F.spike_conv2d([[0.0]], w)
    with pytest.raises(ValueError, match="must hold spikes, 0 or 1"):
        F.spike_conv2d(torch.full((1, 3, 8, 8), 0.5), w)
    with pytest.raises(ValueError, match="numeric padding and padding_mode='zeros'"):
        SpikeConv2d(3, 6, 3, padding="same")
    p = F.pack_spikes(spikes((2, 3, 8, 8), 0.2), neuron_dims=3)
    ops = torch.ops.spikeops
    with pytest.raises(ValueError, match=r"weight must have shape \[C_out, C = 3"):
        ops.spike_conv2d(p.words, p.row_start, [3, 8, 8], torch.randn(4, 2, 3, 3), None, [1, 1], [0, 0], [1, 1])
    with pytest.raises(ValueError, match="words must have 4 words per row for n_in = 216"):
        ops.spike_conv2d(p.words, p.row_start, [3, 8, 9], torch.randn(4, 3, 3, 3), None, [1, 1], [0, 0], [1, 1])
    with pytest.raises(ValueError, match="stride must be >= 1"):
        ops.spike_conv2d(p.words, p.row_start, [3, 8, 8], torch.randn(4, 3, 3, 3), None, [0, 1], [0, 0], [1, 1])
    with pytest.raises(ValueError, match="padding must be >= 0"):
        ops.spike_conv2d(p.words, p.row_start, [3, 8, 8], torch.randn(4, 3, 3, 3), None, [1, 1], [-1, 0], [1, 1])
    with pytest.raises(ValueError, match="larger than the padded input"):
        ops.spike_conv2d(p.words, p.row_start, [3, 8, 8], torch.randn(4, 3, 9, 3), None, [1, 1], [0, 0], [1, 1])
    with pytest.raises(ValueError, match="bias must have shape"):
        ops.spike_conv2d(p.words, p.row_start, [3, 8, 8], torch.randn(4, 3, 3, 3), torch.randn(3), [1, 1], [0, 0],
                         [1, 1])
    with pytest.raises(ValueError, match="grad_out must have shape"):
        ops.spike_conv2d_grad_weight(p.words, p.row_start, [3, 8, 8], torch.randn(2, 4, 5, 6), [3, 3], [1, 1], [0, 0],
                                     [1, 1])
    with pytest.raises(ValueError, match="numeric padding and padding_mode='zeros'"):
        SpikeConv2d.from_conv(nn.Conv2d(3, 6, 3, padding=1, padding_mode="reflect"))


def test_fuse_swaps_convolutions_and_linears_fed_by_spikes():
    torch.manual_seed(0)
    net = nn.Sequential(TimeDistributed(nn.Conv2d(1, 8, 3)), LIF(0.9),
                        TimeDistributed(nn.Conv2d(8, 8, 3, padding=1)), LIF(0.9),
                        TimeDistributed(nn.Conv2d(8, 8, 3, padding="same")), LIF(0.9),
                        nn.Flatten(2), nn.Linear(8 * 6 * 6, 10), LIF(0.9))
    x = torch.rand(4, 2, 1, 8, 8) * 3
    want = net(x)
    fuse(net)
    assert type(net[0].module) is nn.Conv2d          # fed by the input, not spikes
    assert type(net[2].module) is SpikeConv2d
    assert type(net[4].module) is nn.Conv2d          # string padding stays as it was
    assert type(net[7]) is SpikeLinear               # through the Flatten
    out = net(x)
    # the convolutions are exact; the Linear's sums differ from the GEMM's by rounding only,
    # which may flip a spike whose membrane sits on the threshold
    assert out.shape == want.shape and (out != want).float().mean() < 0.02
