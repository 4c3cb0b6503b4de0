"""Losses and metrics on output spikes or membranes ``[T, batch, classes]`` against class
labels ``[batch]``, as SNN training loops use them (rate and count codes, membrane targets,
first-spike times)."""
from __future__ import annotations

import torch
import torch.nn.functional as tf

__all__ = ["rate_cross_entropy", "count_cross_entropy", "count_mse", "membrane_mse", "first_spike_steps",
           "first_spike_cross_entropy", "accuracy"]


def _check(out: torch.Tensor, targets: torch.Tensor, name: str = "spikes"):
    if not isinstance(out, torch.Tensor) or out.dim() != 3 or not out.is_floating_point():
        raise ValueError(f"{name} must be a floating point tensor [T, batch, classes], got "
                         f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}")
    if not isinstance(targets, torch.Tensor) or targets.dtype != torch.long or targets.shape != out.shape[1:2]:
        raise ValueError(f"targets must be class indices (int64) of shape [{out.shape[1]}], got "
                         f"{getattr(targets, 'dtype', type(targets).__name__)} {tuple(getattr(targets, 'shape', ()))}")
    if targets.numel() and (targets.min() < 0 or targets.max() >= out.shape[2]):
        raise ValueError(f"targets must lie in [0, {out.shape[2]}), got values in "
                         f"[{int(targets.min())}, {int(targets.max())}]")


def rate_cross_entropy(spikes: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross entropy of the spikes at every step as logits, averaged over steps and batch
    (snnTorch's ``ce_rate_loss``): pushes the target class to fire at every step."""
    _check(spikes, targets)
    T = spikes.shape[0]
    return tf.cross_entropy(spikes.reshape(-1, spikes.shape[2]), targets.repeat(T))


def count_cross_entropy(spikes: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross entropy of the spike counts as logits (snnTorch's ``ce_count_loss``)."""
    _check(spikes, targets)
    return tf.cross_entropy(spikes.sum(0), targets)


def count_mse(spikes: torch.Tensor, targets: torch.Tensor, *, correct_rate: float = 1.0,
              incorrect_rate: float = 0.0) -> torch.Tensor:
    """Mean squared error between spike counts and target counts, ``int(T * correct_rate)`` for
    the target class and ``int(T * incorrect_rate)`` for the others, divided by T (snnTorch's
    ``mse_count_loss``)."""
    _check(spikes, targets)
    for name, rate in (("correct_rate", correct_rate), ("incorrect_rate", incorrect_rate)):
        if not 0 <= rate <= 1:
            raise ValueError(f"{name} must lie in [0, 1], got {rate!r}")
    T, _, C = spikes.shape
    want = torch.full_like(spikes[0], float(int(T * incorrect_rate)))
    want.scatter_(1, targets[:, None], float(int(T * correct_rate)))
    return tf.mse_loss(spikes.sum(0), want) / T


def membrane_mse(membrane: torch.Tensor, targets: torch.Tensor, *, on: float = 1.0, off: float = 0.0) -> torch.Tensor:
    """Mean squared error of the membrane at every step against ``on`` for the target class and
    ``off`` for the others, averaged over steps (snnTorch's ``mse_membrane_loss``, whose
    ``off_target`` acts as a floor of 0 instead: the same for ``off >= 0``)."""
    _check(membrane, targets, "membrane")
    want = torch.full_like(membrane[0], float(off))
    want.scatter_(1, targets[:, None], float(on))
    return tf.mse_loss(membrane, want.expand_as(membrane))


def first_spike_steps(spikes: torch.Tensor) -> torch.Tensor:
    """The step of each neuron's first spike (T where it never fires), ``[batch, ...]``, as the
    differentiable sum ``sum_t prod_{k <= t} (1 - s[k])``: exact for 0/1 spikes, and its
    gradient reaches the spikes (and through their surrogate, the membranes)."""
    if not isinstance(spikes, torch.Tensor) or spikes.dim() < 1 or not spikes.is_floating_point():
        raise ValueError("spikes must be a floating point tensor [T, ...]")
    return torch.cumprod(1 - spikes, dim=0).sum(0)


def first_spike_cross_entropy(spikes: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Latency loss: cross entropy with the negated first-spike steps as logits, so the target
    class is pushed to fire first."""
    _check(spikes, targets)
    return tf.cross_entropy(-first_spike_steps(spikes), targets)


def accuracy(spikes: torch.Tensor, targets: torch.Tensor) -> float:
    """The fraction of samples whose most active output is the target class (snnTorch's
    ``accuracy_rate``; ties go to the lowest class index)."""
    _check(spikes, targets)
    return (spikes.sum(0).argmax(1) == targets).float().mean().item()
