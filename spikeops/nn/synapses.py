"""Synapses: first-order low-pass filters of input currents over time, and Linear layers
on spikes."""
from __future__ import annotations

import math

import torch
from torch import nn

from .. import functional as F
from ._options import check_number

__all__ = ["synaptic_filter", "SynapticFilter", "AlphaSynapse", "SpikeLinear", "fuse"]


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


class SpikeLinear(nn.Linear):
    """``nn.Linear`` whose input is 0/1 spikes, event-driven on CPU
    (:func:`spikeops.functional.spike_linear`): same parameters, same results up to float
    rounding, faster at low spike rates, and 1 bit per saved input spike. Build one from an
    ``nn.Linear`` with :meth:`from_linear`, or let :func:`fuse` swap them in."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.spike_linear(x, self.weight, self.bias)

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> "SpikeLinear":
        """A SpikeLinear sharing ``linear``'s weight and bias (the same Parameters)."""
        layer = cls.__new__(cls)
        nn.Module.__init__(layer)
        layer.in_features, layer.out_features = linear.in_features, linear.out_features
        layer.weight, layer.bias = linear.weight, linear.bias
        return layer


def _spiking(module: nn.Module) -> bool:
    from .neurons import LIF  # spikeops' binary-spike neurons (IF and the LIF family)
    return isinstance(module, LIF)


def fuse(model: nn.Module) -> nn.Module:
    """Replaces, in place, each ``nn.Linear`` that a spikeops LIF-family neuron feeds in an
    ``nn.Sequential`` (directly, through ``nn.Flatten``, or as ``TimeDistributed(nn.Linear)``)
    by a :class:`SpikeLinear` on the same Parameters; returns ``model``."""
    from .layers import TimeDistributed
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        fed = False
        for name, child in list(seq.named_children()):
            inner = child.module if isinstance(child, TimeDistributed) else child
            if fed and type(inner) is nn.Linear:
                if isinstance(child, TimeDistributed):
                    child.module = SpikeLinear.from_linear(inner)
                else:
                    setattr(seq, name, SpikeLinear.from_linear(inner))
            if not isinstance(child, nn.Flatten):
                fed = _spiking(child)
    return model
