"""Synapses: first-order low-pass filters of input currents over time."""
from __future__ import annotations

import math

import torch
from torch import nn

from .. import functional as F
from ._options import check_number

__all__ = ["synaptic_filter", "SynapticFilter", "AlphaSynapse"]


def synaptic_filter(x: torch.Tensor, decay: float) -> torch.Tensor:
    """First-order low-pass over time dimension 0: ``y[t] = decay * y[t-1] + (1 - decay) * x[t]``,
    ``y[0] = 0`` before the first step (:func:`spikeops.functional.leaky_integrate`, fused over T,
    differentiable)."""
    decay = check_number("decay", decay, lo=0.0, hi=1.0)
    return F.leaky_integrate(x, decay=decay, gain=1.0 - decay)


class SynapticFilter(nn.Module):
    """Exponential synapse with time constant ``tau`` (seconds) at step ``dt``: low-pass filters
    ``[T, ...]`` currents (:func:`synaptic_filter` with decay ``exp(-dt / tau)``; ``tau = 0``
    passes the input through)."""

    def __init__(self, tau: float, dt: float):
        super().__init__()
        check_number("tau", tau, lo=0.0)
        check_number("dt", dt, lo=0.0, lo_open=True)
        self.tau, self.dt = float(tau), float(dt)

    def forward(self, x):
        return x if self.tau == 0 else synaptic_filter(x, math.exp(-self.dt / self.tau))

    def extra_repr(self) -> str:
        return f"tau={self.tau}, dt={self.dt}"


class AlphaSynapse(SynapticFilter):
    """Alpha synapse ``t / tau^2 exp(-t / tau)`` (seconds, unit area) at step ``dt``: two
    exponential synapses of time constant ``tau`` in a row, whose convolution is the alpha
    kernel; each is :func:`synaptic_filter` with decay ``exp(-dt / tau)`` (``tau = 0`` passes
    the input through)."""

    def forward(self, x):
        return super().forward(super().forward(x))
