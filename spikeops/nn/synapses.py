"""Synapses: first-order low-pass filters of input currents over time, and Linear layers
on spikes."""
from __future__ import annotations

import math

import torch
from torch import nn

from .. import functional as F
from ._options import check_number

__all__ = ["synaptic_filter", "SynapticFilter", "AlphaSynapse", "SpikeLinear", "SpikeConv2d", "fuse"]


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
    ``nn.Linear`` with :meth:`from_linear`, or let :func:`fuse` swap them in.

    For inference, :meth:`freeze_weights` keeps the weight in the kernels' block layout across
    calls instead of making it at every call."""

    _frozen = None  # (weight blocks, the weight's version and address when they were made)

    def freeze_weights(self) -> "SpikeLinear":
        """Lays the weight out for the event-driven kernels once (CPU; another copy of the
        weight's size), for all later calls. A weight changed afterwards (an optimizer step, an
        in-place op, ``.to()``) makes the next call raise until this is called again or
        :meth:`unfreeze_weights`; writes through ``weight.data`` escape torch's version count and
        must be followed by a new ``freeze_weights()``. Returns the module."""
        self._frozen = (F.spike_linear_weight_blocks(self.weight), self.weight._version, self.weight.data_ptr())
        return self

    def unfreeze_weights(self) -> "SpikeLinear":
        """Drops the frozen layout: each call lays the weight out again. Returns the module."""
        self._frozen = None
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        blocks = None
        if self._frozen is not None:
            blocks, version, address = self._frozen
            if self.weight._version != version or self.weight.data_ptr() != address:
                raise RuntimeError("SpikeLinear's weight changed since freeze_weights(); call freeze_weights() "
                                   "again for the new weight, or unfreeze_weights()")
        return F.spike_linear(x, self.weight, self.bias, weight_blocks=blocks)

    def extra_repr(self) -> str:
        return super().extra_repr() + (", frozen weights" if self._frozen is not None else "")

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> "SpikeLinear":
        """A SpikeLinear sharing ``linear``'s weight and bias (the same Parameters)."""
        layer = cls.__new__(cls)
        nn.Module.__init__(layer)
        layer.in_features, layer.out_features = linear.in_features, linear.out_features
        layer.weight, layer.bias = linear.weight, linear.bias
        return layer


class SpikeConv2d(nn.Conv2d):
    """``nn.Conv2d`` whose input is 0/1 spikes (:func:`spikeops.functional.spike_conv2d`): the
    same parameters and exactly the same results and gradients, with the input saved for the
    backward pass as bits (1 per spike instead of 4 bytes). Numeric padding with
    ``padding_mode="zeros"`` only. Build one from an ``nn.Conv2d`` with :meth:`from_conv`, or
    let :func:`fuse` swap them in."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._check_supported(self)

    @staticmethod
    def _check_supported(conv: nn.Conv2d) -> None:
        if isinstance(conv.padding, str) or conv.padding_mode != "zeros":
            raise ValueError(f"SpikeConv2d needs numeric padding and padding_mode='zeros', got padding="
                             f"{conv.padding!r}, padding_mode={conv.padding_mode!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.spike_conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    @classmethod
    def from_conv(cls, conv: nn.Conv2d) -> "SpikeConv2d":
        """A SpikeConv2d sharing ``conv``'s weight and bias (the same Parameters)."""
        cls._check_supported(conv)
        layer = cls.__new__(cls)
        nn.Module.__init__(layer)
        for name in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "transposed",
                     "output_padding", "groups", "padding_mode", "_reversed_padding_repeated_twice"):
            setattr(layer, name, getattr(conv, name))
        layer.weight, layer.bias = conv.weight, conv.bias
        return layer


def _spiking(module: nn.Module) -> bool:
    from .neurons import LIF  # spikeops' binary-spike neurons (IF and the LIF family)
    return isinstance(module, LIF)


def _on_spikes(module: nn.Module):
    """The spike-input layer for ``module`` on the same Parameters, or None."""
    if type(module) is nn.Linear:
        return SpikeLinear.from_linear(module)
    if type(module) is nn.Conv2d and not isinstance(module.padding, str) and module.padding_mode == "zeros":
        return SpikeConv2d.from_conv(module)
    return None


def fuse(model: nn.Module) -> nn.Module:
    """Replaces, in place, each ``nn.Linear`` and ``nn.Conv2d`` that a spikeops LIF-family neuron
    feeds in an ``nn.Sequential`` (directly, through ``nn.Flatten``, or wrapped in
    ``TimeDistributed``) by a :class:`SpikeLinear` or :class:`SpikeConv2d` on the same
    Parameters, and has that neuron's kernel write its spikes as bits too (``pack_output``), so
    the layer reads them without packing; returns ``model``."""
    from .layers import TimeDistributed
    from .neurons import ALIF, RecurrentLIF
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        neuron = None  # the neuron whose spikes the current child receives
        for name, child in list(seq.named_children()):
            inner = child.module if isinstance(child, TimeDistributed) else child
            replacement = _on_spikes(inner) if neuron is not None else None
            if replacement is not None:
                if isinstance(child, TimeDistributed):
                    child.module = replacement
                else:
                    setattr(seq, name, replacement)
                if not isinstance(neuron, (RecurrentLIF, ALIF)):  # these run the kernel step by step
                    neuron.pack_output = True
            if not isinstance(inner, nn.Flatten):
                neuron = child if _spiking(child) else None
    return model
