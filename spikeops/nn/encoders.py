"""Encoders: a static input as T steps of input current or spikes."""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ._options import check_steps

__all__ = ["encode", "encode_constant", "encode_rate", "ConstantEncoder", "RateEncoder"]


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
