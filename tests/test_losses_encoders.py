"""Losses, metrics and encoders against snnTorch's own functions (the same values and
gradients), and their argument checks."""
import pytest
import torch

from spikeops.nn import encode_delta, encode_latency, losses

snn_functional = pytest.importorskip("snntorch.functional", reason="snnTorch is a pinned test dependency")
spikegen = pytest.importorskip("snntorch.spikegen")

T, B, C = 12, 6, 5


def _outputs(seed=0, spikes=True):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(T, B, C, generator=g)
    out = (x < 0.4).float() if spikes else x * 2 - 0.5
    return out.requires_grad_(), torch.randint(0, C, (B,), generator=g)


@pytest.mark.parametrize("ours,theirs,spikes", [
    (losses.rate_cross_entropy, lambda: snn_functional.ce_rate_loss(), True),
    (losses.count_cross_entropy, lambda: snn_functional.ce_count_loss(), True),
    (lambda s, t: losses.count_mse(s, t, correct_rate=0.8, incorrect_rate=0.1),
     lambda: snn_functional.mse_count_loss(correct_rate=0.8, incorrect_rate=0.1), True),
    (lambda m, t: losses.membrane_mse(m, t, on=1.2, off=0.1),
     lambda: snn_functional.mse_membrane_loss(on_target=1.2, off_target=0.1), False),
], ids=["rate_ce", "count_ce", "count_mse", "membrane_mse"])
def test_losses_match_snntorch(ours, theirs, spikes):
    out, targets = _outputs(spikes=spikes)
    mine = ours(out, targets)
    (g_mine,) = torch.autograd.grad(mine, out)
    ref = theirs()(out, targets)
    (g_ref,) = torch.autograd.grad(ref.sum(), out)
    torch.testing.assert_close(mine, ref.reshape(()), rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(g_mine, g_ref, rtol=1e-5, atol=1e-7)


def test_accuracy_matches_snntorch():
    out, targets = _outputs(3)
    out = out.detach() + torch.linspace(0, 1e-3, C)  # no ties
    assert losses.accuracy(out, targets) == pytest.approx(float(snn_functional.accuracy_rate(out, targets)))


def test_first_spike_steps_and_latency_loss():
    s = torch.tensor([[0, 0, 1.0], [1, 0, 0], [1, 0, 1]]).T.unsqueeze(1)  # [T=3, B=1, C=3]
    s = s.clone().requires_grad_()
    steps = losses.first_spike_steps(s)
    assert steps.tolist() == [[2.0, 0.0, 0.0]]
    loss = losses.first_spike_cross_entropy(s, torch.tensor([1]))
    (g,) = torch.autograd.grad(loss, s)
    assert g.abs().sum() > 0
    torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(-steps, torch.tensor([1])))


def test_latency_encoder_matches_snntorch():
    x = torch.rand(4, 9)
    x[0, :3] = torch.tensor([0.0, 0.005, 1.0])
    ours = encode_latency(x, 10)
    theirs = spikegen.latency(x, num_steps=10, threshold=0.01, linear=True, normalize=True, clip=True)
    assert torch.equal(ours, theirs)
    assert ours.sum(0).max() == 1


def test_delta_encoder_matches_snntorch():
    x = torch.randn(15, 3, 4).cumsum(0)
    for off in (False, True):
        assert torch.equal(encode_delta(x, 0.3, off_spike=off), spikegen.delta(x, threshold=0.3, off_spike=off))


@pytest.mark.parametrize("call,match", [
    (lambda: losses.rate_cross_entropy(torch.zeros(5, 3), torch.zeros(5, dtype=torch.long)), r"\[T, batch, classes\]"),
    (lambda: losses.count_cross_entropy(torch.zeros(2, 3, 4), torch.zeros(3)), "targets must be class indices"),
    (lambda: losses.count_mse(torch.zeros(2, 3, 4), torch.full((3,), 4)), r"targets must lie in \[0, 4\)"),
    (lambda: losses.count_mse(torch.zeros(2, 3, 4), torch.zeros(3, dtype=torch.long), correct_rate=2),
     "correct_rate"),
    (lambda: encode_latency(torch.full((3,), 1.5), 5), r"\[0, 1\]"),
    (lambda: encode_latency(torch.zeros(3), 0), "T"),
    (lambda: encode_delta(torch.zeros(3), 0.0), "threshold"),
])
def test_bad_arguments_are_named(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
