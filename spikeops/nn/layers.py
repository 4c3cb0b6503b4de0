"""Layers that carry ordinary torch modules over time."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["TimeDistributed"]


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
