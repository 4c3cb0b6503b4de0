"""Encoders: a static input as T steps of input current or spikes, and a sequence as the
spikes of its changes."""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ._options import check_steps

__all__ = ["encode", "encode_constant", "encode_rate", "encode_latency", "encode_delta", "ConstantEncoder",
           "RateEncoder"]


def encode_constant(x: torch.Tensor, T: int) -> torch.Tensor:
    """The input as a constant current for T steps: ``[T, *x.shape]`` (a broadcast view, no copy)."""
    return x.unsqueeze(0).expand(check_steps(T), *x.shape)


def encode_rate(x: torch.Tensor, T: int, *, signed: bool = True, generator: Optional[torch.Generator] = None):
    """Rate-coded spikes ``[T, *x.shape]``: at each step an element spikes with probability |x|
    (clipped to 1), a Bernoulli approximation of a Poisson train with rate |x| per step. With
    ``signed`` the spike carries x's sign (the hybrid-conversion code's encoder); otherwise
    negative inputs never spike."""
    T = check_steps(T)
    rand = torch.rand((T, *x.shape), generator=generator, device=x.device, dtype=x.dtype)
    p = x.abs().clamp(max=1.0) if signed else x.clamp(0.0, 1.0)
    spikes = (rand < p).to(x.dtype)
    return spikes * torch.sign(x) if signed else spikes


def encode_latency(x: torch.Tensor, T: int, *, threshold: float = 0.01) -> torch.Tensor:
    """Time-to-first-spike code ``[T, *x.shape]`` of ``x`` in [0, 1]: one spike per element, at
    step ``round((T - 1) (1 - x))`` (the largest input fires first, 0 at the last step), none
    where ``x < threshold``. The same spikes as snnTorch's
    ``spikegen.latency(x, T, threshold, linear=True, normalize=True, clip=True)``."""
    T = check_steps(T)
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"x must be a floating point tensor, got {type(x).__name__}")
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError("x must lie in [0, 1] for a latency code (scale it first)")
    step = torch.round((T - 1) * (1 - x).clamp(max=1 - threshold)).long()
    steps = torch.arange(T, device=x.device).reshape(T, *([1] * x.dim()))
    return ((steps == step) & (x >= threshold)).to(x.dtype)


def encode_delta(x: torch.Tensor, threshold: float = 0.1, *, off_spike: bool = False) -> torch.Tensor:
    """Delta modulation of a sequence ``x`` ``[T, ...]``: a spike (+1) at step t where
    ``x[t] - x[t-1] >= threshold`` (``x[-1] = 0``), and with ``off_spike`` a -1 where the change
    is ``<= -threshold``. The same spikes as snnTorch's ``spikegen.delta``."""
    if not isinstance(x, torch.Tensor) or x.dim() < 1:
        raise ValueError("x must be a sequence [T, ...] (a tensor with a leading time dimension)")
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0, got {threshold!r}")
    change = x - torch.cat([torch.zeros_like(x[:1]), x[:-1]])
    spikes = (change >= threshold).to(x.dtype)
    return spikes - (change <= -threshold).to(x.dtype) if off_spike else spikes


def encode(x: torch.Tensor, T: int, encoder="constant", *, generator: Optional[torch.Generator] = None):
    """``x`` as T steps of input: ``encoder`` is ``"constant"`` (:func:`encode_constant`),
    ``"rate"`` (:func:`encode_rate`) or a callable ``(x, T) -> [T, ...]``."""
    if isinstance(encoder, str) and encoder == "constant":
        return encode_constant(x, T)
    if isinstance(encoder, str) and encoder == "rate":
        return encode_rate(x, T, generator=generator)
    if callable(encoder):
        return encoder(x, T)
    raise ValueError(f"encoder must be 'constant', 'rate' or a callable (x, T) -> [T, ...], got {encoder!r}")


class ConstantEncoder(nn.Module):
    """Module form of :func:`encode_constant`."""

    def __init__(self, T: int):
        super().__init__()
        self.T = check_steps(T)

    def forward(self, x):
        return encode_constant(x, self.T)


class RateEncoder(nn.Module):
    """Module form of :func:`encode_rate` (fresh random spikes on every call)."""

    def __init__(self, T: int, signed: bool = True):
        super().__init__()
        self.T = check_steps(T)
        self.signed = signed

    def forward(self, x):
        return encode_rate(x, self.T, signed=self.signed)
