"""Layers that carry ordinary torch modules over time."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["TimeDistributed", "SharedDropout"]


class TimeDistributed(nn.Module):
    """Applies an ordinary layer (Conv2d, Linear, BatchNorm, pooling, ...) to every step of a
    ``[T, B, ...]`` sequence at once, by merging T into the batch. A BatchNorm wrapped this way
    normalises with statistics shared over all time steps."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2:
            raise ValueError(f"TimeDistributed expects [T, B, ...], got shape {tuple(x.shape)}")
        T, B = x.shape[:2]
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
