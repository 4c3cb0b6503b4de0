"""Layers that carry ordinary torch modules over time."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["TimeDistributed", "SharedDropout"]


# Layers whose output for a sample depends on that sample alone, the same at every call: on an
# input that is the same at every step they give the same output at every step.
_PER_SAMPLE = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d,
               nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
               nn.Flatten, nn.Unflatten, nn.Identity, nn.ReLU)


def _per_sample(module: nn.Module) -> bool:
    from .synapses import SpikeConv2d, SpikeLinear
    if isinstance(module, nn.Sequential):
        return all(_per_sample(m) for m in module)
    if isinstance(module, nn.modules.batchnorm._BatchNorm):  # its running statistics, in eval mode
        return type(module) in (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d) and not module.training and \
            module.track_running_stats
    if getattr(module, "return_indices", False) or getattr(module, "inplace", False):
        return False
    return type(module) in _PER_SAMPLE or type(module) in (SpikeConv2d, SpikeLinear)


class TimeDistributed(nn.Module):
    """Applies an ordinary layer (Conv2d, Linear, BatchNorm, pooling, ...) to every step of a
    ``[T, B, ...]`` sequence at once, by merging T into the batch. A BatchNorm wrapped this way
    normalises with statistics shared over all time steps.

    An input that is the same at every step as a broadcast view (``x.expand(T, ...)``, what
    :func:`spikeops.nn.encode_constant` gives, stride 0 over time) goes through a per-sample
    layer (convolutions, Linear, pooling, Flatten, eval-mode BatchNorm, and Sequentials of
    them) once, for ``[B, ...]``, and comes out broadcast the same way: the same values and
    gradients as running every step, at 1/T of the work and memory. Hooks on that layer then
    see ``[B, ...]``."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2:
            raise ValueError(f"TimeDistributed expects [T, B, ...], got shape {tuple(x.shape)}")
        T, B = x.shape[:2]
        if T > 1 and x.stride(0) == 0 and _per_sample(self.module):
            y = self.module(x[0])
            return y.unsqueeze(0).expand(T, *y.shape)
        return self.module(x.flatten(0, 1)).unflatten(0, (T, B))


class SharedDropout(nn.Module):
    """Dropout of ``[T, B, ...]`` sequences with one mask per sample for all T steps (a dropped
    unit is silent for the whole run), scaled by 1 / (1 - p) like ``nn.Dropout``; the identity
    in eval mode. The hybrid-conversion code trains its SNNs this way."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 <= p < 1.0:
            raise ValueError(f"p must be a number in [0, 1), got {p!r}")
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.dim() < 2:
            raise ValueError(f"SharedDropout expects [T, B, ...], got shape {tuple(x.shape)}")
        mask = torch.empty_like(x[0]).bernoulli_(1.0 - self.p) / (1.0 - self.p)
        return x * mask

    def extra_repr(self) -> str:
        return f"p={self.p}"
