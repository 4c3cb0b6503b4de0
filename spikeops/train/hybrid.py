"""Hybrid conversion + STDB fine-tuning (SPEC section 5, Rathi et al.).

A ReLU ANN is converted with threshold balancing (:func:`spikeops.convert.convert_rate`,
``method="balance"``), then trained through time with the spike-timing dependent surrogate
``height * exp(-beta * age) / threshold`` at few time steps, with Poisson-rate input.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Union

import torch
from torch import nn

from .. import surrogate as surrogate_mod
from ..nn import LIF
from .direct import fit


def start_at_half_threshold(snn: nn.Module, fraction: float = 0.5) -> None:
    """Each neuron layer of ``snn`` starts every run with its membrane at ``fraction`` of its
    threshold instead of 0 (fewer steps before the first spikes; Rueckauer et al.). For
    subtract-reset neurons without a refractory period the rest value is only the initial state."""
    for n in snn.modules():
        if isinstance(n, LIF):
            if n.reset_mode != "subtract" or n.refractory:
                raise ValueError("start_at_half_threshold needs subtract-reset neurons without refractory steps")
            n.v_reset = fraction * float(n.threshold)


def fine_tune_stdb(snn: nn.Module, x: torch.Tensor, y: torch.Tensor, T: int, *, epochs: int = 10,
                   lr: float = 3e-4, surrogate: Optional[surrogate_mod.STDB] = None, age_init: int = 0,
                   batch_size: int = 64, encoder: Union[str, Callable] = "rate",
                   progress: Optional[Callable[[int, float], None]] = None) -> List[float]:
    """Trains a converted ``snn`` through time at ``T`` steps with the stdb surrogate
    (default ``STDB(0.3, 0.01)``, the paper's VGG values), Adam with cosine decay; returns the
    loss per epoch.

    ``age_init`` is the spike age of a neuron that has not fired yet. The paper's code starts
    it at 1000 steps, which at ``beta = 0.01`` gives such neurons a surrogate of ~e^-10: at the
    few steps it is run for here most neurons fire at most once or twice, so their first spike
    would get no gradient. 0 (default) treats "not fired yet" as "just fired"."""
    sg = surrogate if surrogate is not None else surrogate_mod.STDB()
    if not isinstance(sg, surrogate_mod.STDB):
        raise ValueError(f"surrogate must be a spikeops.surrogate.STDB, got {sg!r}")
    neurons = [m for m in snn.modules() if isinstance(m, LIF)]
    if not neurons:
        raise ValueError("the network has no spikeops LIF/IF layers to fine-tune")
    for n in neurons:
        n.surrogate, n.track_age, n.age_init = sg, True, age_init
    return fit(snn, x, y, T, epochs=epochs, lr=lr, batch_size=batch_size, encoder=encoder, progress=progress)
