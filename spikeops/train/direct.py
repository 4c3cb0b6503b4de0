"""Direct surrogate-gradient training of deep SNNs (docs/math.md §7, Ledinauskas et al.).

Networks are ``nn.Sequential`` over ``[T, B, ...]``: ordinary layers wrapped in
:class:`spikeops.nn.TimeDistributed` (a wrapped BatchNorm normalises the neurons' input
currents with statistics shared over all time steps) and spikeops neuron layers, each of
which runs all T steps in one fused kernel; BPTT is the kernels' backward.
"""
from __future__ import annotations

import math
from typing import Callable, Dict, List, Optional, Sequence, Union

import torch
from torch import nn

from .. import surrogate as surrogate_mod
from ..nn import LIF, TimeDistributed, encode, integrate


def deep_conv_snn(in_channels: int = 1, num_classes: int = 10, widths: Sequence[int] = (16, 16, 32, 32, 32, 32, 64, 64),
                  pool_after: Sequence[int] = (1, 3), input_size: int = 8, decay: float = 0.5,
                  threshold: float = 1.0, surrogate: Union[str, surrogate_mod.Surrogate] = "atan",
                  batch_norm: bool = True) -> nn.Sequential:
    """A VGG-style conv SNN: per width a 3x3 conv, BatchNorm of its output current, LIF neurons;
    2x2 average pooling after the layers listed in ``pool_after``; a linear output layer whose
    currents are integrated (:func:`spikeops.nn.integrate`)."""
    layers: List[nn.Module] = []
    c, size = in_channels, input_size
    for i, w in enumerate(widths):
        layers.append(TimeDistributed(nn.Conv2d(c, w, 3, padding=1, bias=not batch_norm)))
        if batch_norm:
            layers.append(TimeDistributed(nn.BatchNorm2d(w)))
        layers.append(LIF(decay, threshold=threshold, surrogate=surrogate))
        if i in pool_after:
            layers.append(TimeDistributed(nn.AvgPool2d(2)))
            size //= 2
        c = w
    if size < 1:
        raise ValueError(f"too much pooling for input size {input_size}")
    layers += [TimeDistributed(nn.Flatten()), TimeDistributed(nn.Linear(c * size * size, num_classes))]
    return nn.Sequential(*layers)


# The step schedule of the hybrid-conversion code (snn.py: lr_interval "0.40 0.65 0.85", lr_reduce 10).
STEP_FRACTIONS = (0.40, 0.65, 0.85)
STEP_FACTOR = 10.0


def layer_grad_norms(model: nn.Module) -> Dict[str, float]:
    """Gradient norm of each weight layer's weight (after a backward), input to output: flat
    values across depth mean the surrogate passes gradients well; a steady fall is vanishing,
    a rise exploding. Tune the surrogate's height/width until the ratio max/min is small."""
    out = {}
    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)) and m.weight.grad is not None:
            out[name] = m.weight.grad.norm().item()
    return out


def fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, T: int, *, epochs: int = 10, lr: float = 1e-3,
        batch_size: int = 64, encoder: Union[str, Callable] = "constant", weight_decay: float = 0.0,
        progress: Optional[Callable[[int, float], None]] = None,
        optimizer: Optional[torch.optim.Optimizer] = None, readout: str = "mean",
        schedule: Optional[str] = "cosine") -> List[float]:
    """Trains ``model`` (an SNN over [T, B, ...] whose output currents are integrated) with
    cross-entropy through time; returns the mean loss per epoch. ``progress(epoch, loss)`` is
    called after each epoch.

    ``readout``: the logits are the output currents' ``"mean"`` over time
    (:func:`spikeops.nn.integrate`) or their ``"sum"`` (the hybrid-conversion code; T times
    larger, which changes the loss). ``schedule``: ``"cosine"`` decay of the learning rate over
    all steps, ``"steps"`` (the hybrid-conversion code's: divided by 10 at the start of the
    first epoch at or after 40 %, 65 % and 85 % of the epochs), or None (constant)."""
    if readout not in ("mean", "sum"):
        raise ValueError(f"readout must be 'mean' or 'sum', got {readout!r}")
    if schedule not in ("cosine", "steps", None):
        raise ValueError(f"schedule must be 'cosine', 'steps' or None, got {schedule!r}")
    opt = optimizer or torch.optim.Adam(model.parameters(), lr, weight_decay=weight_decay)
    steps = epochs * ((len(y) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if schedule == "cosine" else None
    losses = []
    for epoch in range(epochs):
        if schedule == "steps":
            for group in opt.param_groups:
                group["lr"] /= STEP_FACTOR ** sum(math.ceil(f * epochs) == epoch for f in STEP_FRACTIONS)
        model.train()
        total, count = 0.0, 0
        for idx in torch.randperm(len(y)).split(batch_size):
            out = model(encode(x[idx], T, encoder))
            out = out.sum(0) if readout == "sum" else integrate(out)
            loss = nn.functional.cross_entropy(out, y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            total += loss.item() * len(idx)
            count += len(idx)
        losses.append(total / count)
        if progress:
            progress(epoch, losses[-1])
    return losses
