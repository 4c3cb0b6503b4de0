"""Readouts: a [T, ...] sequence of spikes or currents reduced over time."""
from __future__ import annotations

import torch

__all__ = ["mean_rate", "spike_count", "integrate"]


def mean_rate(spikes: torch.Tensor) -> torch.Tensor:
    """Readout: spikes per step, averaged over the time dimension 0."""
    return spikes.mean(0)


def spike_count(spikes: torch.Tensor) -> torch.Tensor:
    """Readout: total spikes over the time dimension 0."""
    return spikes.sum(0)


def integrate(currents: torch.Tensor, cumulative: bool = False) -> torch.Tensor:
    """Readout of a non-spiking output layer: the membrane of an integrator (no leak, no
    threshold) fed with ``currents`` ``[T, ...]``, divided by the steps so far; that is the
    mean current. ``cumulative=True`` returns the readout after every step ``[T, ...]``."""
    if not cumulative:
        return currents.mean(0)
    steps = torch.arange(1, currents.shape[0] + 1, device=currents.device, dtype=currents.dtype)
    return currents.cumsum(0) / steps.view(-1, *([1] * (currents.dim() - 1)))
