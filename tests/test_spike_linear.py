"""Linear layers on bit-packed spikes: the packed layout, the event-driven forward pass and
weight gradient against torch's dense Linear, determinism, the crossover to the dense GEMM,
and fuse()."""
import pytest
import torch
from torch import nn

from spikeops import functional as F
from spikeops.nn import LIF, SpikeLinear, TimeDistributed, fuse
from conftest import on_every_isa_and_thread_count


def spikes(shape, rate, dtype=torch.float32):
    return (torch.rand(shape) < rate).to(dtype)


@pytest.mark.parametrize("n", [1, 5, 63, 64, 65, 200, 1000])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_pack_round_trip_and_layout(n, dtype):
    x = spikes((3, 7, n), 0.3, dtype)
    packed = F.pack_spikes(x)
    words, row_start = packed.words, packed.row_start
    assert words.shape == (3, 7, -(-n // 64)) and words.dtype == torch.int64
    dense = packed.to_dense()
    assert dense.dtype == dtype and torch.equal(dense, x)
    assert packed.spike_count == int(x.double().sum()) and packed.rows == 21 and packed.n == n
    # the documented layout: bit b of word w is neuron 64 w + b; bits past n are 0
    flat = x.reshape(-1, n)
    for j in {0, n // 2, n - 1}:
        bit = (words.reshape(-1, words.shape[-1])[:, j // 64] >> (j % 64)) & 1
        assert torch.equal(bit.to(dtype), flat[:, j])
    if n % 64:
        assert torch.all(words[..., -1] >> (n % 64) == 0)
    counts = flat.double().sum(1).to(torch.int64)
    assert torch.equal(row_start, torch.cat([torch.zeros(1, dtype=torch.int64), counts.cumsum(0)]))


@pytest.mark.parametrize("bad", [0.5, -1.0, 2.0, float("nan"), float("inf")])
def test_values_other_than_0_and_1_are_refused(bad):
    x = spikes((4, 70), 0.2)
    x[2, 66] = bad
    with pytest.raises(ValueError, match="must hold spikes, 0 or 1: row 2"):
        F.pack_spikes(x)
    with pytest.raises(ValueError, match="must hold spikes"):
        F.spike_linear(x, torch.randn(3, 70), crossover=1.0)


@pytest.mark.parametrize("n_in, n_out", [(1, 1), (70, 3), (128, 64), (300, 130), (1024, 200)])
@pytest.mark.parametrize("rate", [0.0, 0.05, 0.3, 1.0])
@pytest.mark.parametrize("with_bias", [True, False])
def test_values_and_gradients_match_torch_linear(isa, n_in, n_out, rate, with_bias):
    """Forward and every gradient against nn.Linear on the dense spikes (the sums differ in
    order from the GEMM's only: float rounding)."""
    x = spikes((5, 9, n_in), rate).requires_grad_()
    lin = nn.Linear(n_in, n_out, bias=with_bias)
    y = F.spike_linear(x, lin.weight, lin.bias, crossover=1.0)
    assert type(y.grad_fn).__name__ == "_SpikeLinearBackward"
    want = lin(x)
    torch.testing.assert_close(y, want, rtol=1e-5, atol=1e-5)
    g = torch.randn_like(want)
    params = [x, lin.weight] + ([lin.bias] if with_bias else [])
    got_grads = torch.autograd.grad(y, params, g)
    want_grads = torch.autograd.grad(want, params, g)
    for a, b in zip(got_grads, want_grads):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_no_rows():
    x = torch.zeros(0, 7, 100, requires_grad=True)
    lin = nn.Linear(100, 30)
    y = F.spike_linear(x, lin.weight, lin.bias, crossover=1.0)
    assert y.shape == (0, 7, 30)
    y.sum().backward()
    assert torch.equal(lin.weight.grad, torch.zeros(30, 100)) and x.grad.shape == x.shape


def test_event_sums_are_exact_where_the_order_cannot_matter():
    """Integer-valued weights: every partial sum is exact, so the event-driven result equals
    the GEMM's bit for bit."""
    x = spikes((40, 300), 0.2)
    w = torch.randint(-8, 9, (90, 300)).float()
    b = torch.randint(-8, 9, (90,)).float()
    assert torch.equal(F.spike_linear(x, w, b, crossover=1.0), x @ w.t() + b)
    g = torch.randint(-4, 5, (40, 90)).float()
    p = F.pack_spikes(x)
    assert torch.equal(torch.ops.spikeops.spike_linear_grad_weight(p.words, p.row_start, 300, g), g.t() @ x)


def test_same_bits_on_every_isa_and_thread_count(monkeypatch):
    x = spikes((700, 333), 0.1).requires_grad_()
    w, b = torch.randn(150, 333).requires_grad_(), torch.randn(150)
    g = torch.randn(700, 150)

    def run():
        y = F.spike_linear(x, w, b, crossover=1.0)
        return (y, *torch.autograd.grad(y, [x, w], g))

    results = on_every_isa_and_thread_count(monkeypatch, run)
    assert len(results) >= 3
    for r in results[1:]:
        assert all(torch.equal(a, c) for a, c in zip(r, results[0]))


def test_crossover_picks_the_dense_gemm_above_the_rate():
    w = torch.randn(20, 64)
    sparse, dense = spikes((30, 64), 0.01), spikes((30, 64), 0.9)
    sparse[0, 0] = 1.0
    assert type(F.spike_linear(sparse, w.requires_grad_()).grad_fn).__name__ == "_SpikeLinearBackward"
    assert "Addmm" in type(F.spike_linear(dense, w).grad_fn).__name__ or \
        "Mm" in type(F.spike_linear(dense, w).grad_fn).__name__
    at = F.SPIKE_LINEAR_CROSSOVER
    assert 0 < at < 1
    # non-float32 weights and other devices take the dense GEMM
    y = F.spike_linear(sparse.double(), w.detach().double())
    torch.testing.assert_close(y, sparse.double() @ w.detach().double().t())


def test_bad_arguments_are_named():
    p = F.pack_spikes(spikes((4, 100), 0.3))
    words, row_start = p.words, p.row_start
    ops = torch.ops.spikeops
    with pytest.raises(ValueError, match="weight must have shape"):
        ops.spike_linear(words, row_start, 100, torch.randn(5, 99), None)
    with pytest.raises(ValueError, match="words must have 4 words per row for n_in = 200"):
        ops.spike_linear(words, row_start, 200, torch.randn(5, 200), None)
    with pytest.raises(ValueError, match="row_start must have 5 entries"):
        ops.spike_linear(words, row_start[:-1], 100, torch.randn(5, 100), None)
    with pytest.raises(ValueError, match="bias must have shape"):
        ops.spike_linear(words, row_start, 100, torch.randn(5, 100), torch.randn(4))
    with pytest.raises(TypeError, match="weight must have dtype float32"):
        ops.spike_linear(words, row_start, 100, torch.randn(5, 100).double(), None)
    with pytest.raises(ValueError, match="grad_out must have shape"):
        ops.spike_linear_grad_weight(words, row_start, 100, torch.randn(3, 5))
    with pytest.raises(ValueError, match="n_in must lie in"):
        ops.spike_linear(words, row_start, 0, torch.randn(5, 0), None)
    with pytest.raises(ValueError, match="words must have 5 words per row for n = 300"):
        ops.spike_unpack(words, 300)
    with pytest.raises(TypeError, match="words must have dtype int64"):
        ops.spike_unpack(words.int(), 100)
    with pytest.raises(ValueError, match="neuron_dims must be in"):
        F.pack_spikes(spikes((4, 100), 0.3), neuron_dims=3)
    # 100 and 120 inputs take the same 2 words: the shapes themselves must agree
    with pytest.raises(ValueError, match="must agree on n_in"):
        F.spike_linear(spikes((4, 100), 0.3), torch.randn(5, 120), crossover=1.0)


def test_spike_linear_module_and_fuse_train_like_the_dense_model():
    torch.manual_seed(3)
    fused = nn.Sequential(TimeDistributed(nn.Linear(40, 64)), LIF(0.9), nn.Flatten(2),
                          TimeDistributed(nn.Linear(64, 32)), LIF(0.9), TimeDistributed(nn.Linear(32, 5)))
    weight = fused[3].module.weight
    opt = torch.optim.SGD(fused.parameters(), lr=0.1)  # made before fuse: keeps training the same tensors
    assert fuse(fused) is fused
    assert type(fused[0].module) is nn.Linear  # fed by the input, not by spikes
    assert type(fused[3].module) is SpikeLinear and type(fused[5].module) is SpikeLinear
    assert fused[3].module.weight is weight and any(p is weight for p in opt.param_groups[0]["params"])
    x = torch.rand(10, 4, 40) * 2
    reference = nn.Sequential(TimeDistributed(nn.Linear(40, 64)), LIF(0.9), nn.Flatten(2),
                              TimeDistributed(nn.Linear(64, 32)), LIF(0.9), TimeDistributed(nn.Linear(32, 5)))
    reference.load_state_dict(fused.state_dict())
    out, want = fused(x), reference(x)
    torch.testing.assert_close(out, want, rtol=1e-5, atol=1e-5)
    out.square().sum().backward()
    want.square().sum().backward()
    for p, q in zip(fused.parameters(), reference.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-5)


def test_weight_blocks_layout_and_reuse(isa):
    n_out, n_in = 70, 130
    w, b = torch.randn(n_out, n_in), torch.randn(n_out)
    blocks = F.spike_linear_weight_blocks(w)
    padded = torch.cat([w, torch.zeros(128 - n_out, n_in)])  # the documented layout: [blocks][n_in][64]
    assert torch.equal(blocks, padded.view(2, 64, n_in).transpose(1, 2))
    x = spikes((9, 4, n_in), 0.1)
    want = F.spike_linear(x, w, b, crossover=1.0)
    assert torch.equal(F.spike_linear(x, w, b, crossover=1.0, weight_blocks=blocks), want)
    torch.testing.assert_close(want, nn.functional.linear(x, w, b), rtol=1e-5, atol=1e-5)


def test_bad_weight_blocks_are_named():
    w, x = torch.randn(10, 20), spikes((5, 20), 0.2)
    blocks = F.spike_linear_weight_blocks(w)
    for bad in (blocks[:, :10], blocks.double(), blocks.transpose(1, 2).contiguous(), F.spike_linear_weight_blocks(
            torch.randn(70, 20))):
        with pytest.raises((ValueError, TypeError), match="weight_blocks"):
            F.spike_linear(x, w, crossover=1.0, weight_blocks=bad)
    with pytest.raises((ValueError, TypeError), match="weight"):
        F.spike_linear_weight_blocks(torch.randn(3, 4, 5))


def test_frozen_weights_are_used_until_the_weight_changes():
    torch.manual_seed(0)
    layer = SpikeLinear(96, 40)
    x = spikes((6, 96), 0.1)
    want = layer(x)
    assert "frozen" in repr(layer.freeze_weights())
    torch.testing.assert_close(layer(x), want, rtol=0, atol=0)
    layer(x).sum().backward()  # still trains: the gradients come from the weight itself
    assert layer.weight.grad is not None
    torch.optim.SGD(layer.parameters(), lr=0.1).step()
    with pytest.raises(RuntimeError, match="freeze_weights"):
        layer(x)
    layer.freeze_weights()
    torch.testing.assert_close(layer(x), nn.functional.linear(x, layer.weight, layer.bias), rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        layer.weight.zero_()
    with pytest.raises(RuntimeError, match="changed"):
        layer(x)
    assert "frozen" not in repr(layer.unfreeze_weights())
    torch.testing.assert_close(layer(x), layer.bias.expand(6, 40), rtol=0, atol=0)
