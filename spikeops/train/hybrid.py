"""Hybrid conversion + STDB fine-tuning (docs/math.md §5, Rathi et al.).

A ReLU ANN is converted with threshold balancing (:func:`spikeops.convert.convert_rate`,
``method="balance"``), then trained through time with the spike-timing dependent surrogate
``height * exp(-beta * age) / threshold`` at few time steps, with Poisson-rate input.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Tuple, Union

import torch
from torch import nn

from .. import surrogate as surrogate_mod
from ..convert.rate import WEIGHTED, fold_into
from ..nn import LIF, TimeDistributed, encode
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


@torch.no_grad()
def _with_current_norms(snn: nn.Sequential, x: torch.Tensor, T: int, encoder) -> Tuple[nn.Sequential, list]:
    """``snn`` with a BatchNorm after every Conv2d/Linear that feeds neurons, each set to the
    identity on the statistics of that layer's currents for ``x`` (so the network computes the
    same function in eval mode); the modules are ``snn``'s own, the BatchNorms new."""
    layers, out, pairs = list(snn), [], []
    h = encode(x, T, encoder)
    for i, layer in enumerate(layers):
        h = layer(h)
        out.append(layer)
        inner = layer.module if isinstance(layer, TimeDistributed) else None
        if isinstance(inner, WEIGHTED) and i + 1 < len(layers) and isinstance(layers[i + 1], LIF):
            channels = h.flatten(0, 1).transpose(0, 1).flatten(1)  # [C, everything else]
            bn = (nn.BatchNorm2d if isinstance(inner, nn.Conv2d) else nn.BatchNorm1d)(len(channels)).to(h)
            bn.running_mean.copy_(channels.mean(1))
            bn.running_var.copy_(channels.var(1))
            bn.weight.copy_((bn.running_var + bn.eps).sqrt())
            bn.bias.copy_(bn.running_mean)
            out.append(TimeDistributed(bn))
            pairs.append((inner, bn))
    return nn.Sequential(*out), pairs


# The paper's fine-tuning (Rathi et al. 2020; reference code snn.py, self_models/vgg_spiking.py):
# the code's neuron (spikeops.convert.rate.rathi2020_neuron), STDB(0.3, 0.01) with the last
# spike time starting at -1000, logits summed over time, Adam (amsgrad, weight decay 5e-4)
# from a learning rate of 1e-4 divided by 10 at 40 %, 65 % and 85 % of the epochs, batches
# of 64, Poisson input.
RATHI2020 = dict(lr=1e-4, weight_decay=5e-4, batch_size=64, age_init=999)


def use_rathi2020_neurons(snn: nn.Module, surrogate: Optional[surrogate_mod.Surrogate] = None,
                          age_init: int = RATHI2020["age_init"]) -> None:
    """Puts every neuron of ``snn`` in the step order of the hybrid-conversion reference code
    (``deferred_reset``, ``detach_reset``, ``output_delay``; :func:`spikeops.convert.rate.rathi2020_neuron`)
    with ``surrogate`` (default ``STDB(0.3, 0.01)``) and spike ages counted from a last spike
    time of -1000 (``age_init`` 999)."""
    sg = surrogate_mod.STDB() if surrogate is None else surrogate_mod.get(surrogate)
    for n in snn.modules():
        if isinstance(n, LIF):
            if n.reset_mode != "subtract" or n.refractory or n.step_mode != "multi":
                raise ValueError("the reference code's neurons are multi-step, subtract reset, no refractory steps")
            n.deferred_reset, n.detach_reset, n.output_delay = True, True, True
            n.surrogate, n.track_age, n.age_init = sg, True, age_init


def fine_tune_stdb(snn: nn.Module, x: torch.Tensor, y: torch.Tensor, T: int, *, preset: Optional[str] = None,
                   epochs: int = 10, lr: Optional[float] = None, surrogate: Optional[surrogate_mod.STDB] = None,
                   age_init: Optional[int] = None, batch_norm: bool = False, norm_samples: int = 2048,
                   batch_size: Optional[int] = None, encoder: Union[str, Callable] = "rate",
                   progress: Optional[Callable[[int, float], None]] = None) -> List[float]:
    """Trains a converted ``snn`` through time at ``T`` steps with the stdb surrogate
    (default ``STDB(0.3, 0.01)``, the paper's VGG values) and Poisson-rate input; returns the
    loss per epoch. ``snn`` is updated in place and keeps its layers.

    ``preset="rathi2020"``: the paper's method as its reference code runs it (docs/math.md §5):
    every neuron becomes the code's neuron (:func:`spikeops.convert.rate.rathi2020_neuron`:
    spike from the membrane before the step's input, reset after the leak and without
    gradient), the stdb surrogate ``0.3 exp(-0.01 dt)`` with ``dt`` counted from a last spike
    time of -1000 (``age_init=999``), the logits are the output currents summed over time, and
    Adam (amsgrad, weight decay 5e-4) runs on batches of 64 from a learning rate of 1e-4,
    divided by 10 at the start of the first epochs at or after 40 %, 65 % and 85 % of
    ``epochs`` (the code's step schedule).
    Convert with ``convert_rate(..., preset="rathi2020")`` for the whole pipeline.

    ``preset=None`` (this library's choices, which train better at few steps): Adam with cosine
    decay from ``lr`` 3e-4, logits averaged over time, batches of 64, and:

    ``batch_norm`` trains with a BatchNorm on every neuron layer's input currents (statistics
    shared over time, as in direct training), started as the identity on the statistics of
    the first ``norm_samples`` training inputs and folded back into the weights afterwards:
    the converted network's scales stay, and the optimiser sees normalised currents, which at
    few steps trains markedly better.

    ``age_init`` is the spike age of a neuron that has not fired yet. The paper's code starts
    it at 1000 steps, which at ``beta = 0.01`` gives such neurons a surrogate of ~e^-10: at the
    few steps it is run for here most neurons fire at most once or twice, so their first spike
    would get no gradient. 0 (default) treats "not fired yet" as "just fired"."""
    if preset not in (None, "rathi2020"):
        raise ValueError(f"preset must be 'rathi2020' or None, got {preset!r}")
    sg = surrogate if surrogate is not None else surrogate_mod.STDB()
    if not isinstance(sg, surrogate_mod.STDB):
        raise ValueError(f"surrogate must be a spikeops.surrogate.STDB, got {sg!r}")
    neurons = [m for m in snn.modules() if isinstance(m, LIF)]
    if not neurons:
        raise ValueError("the network has no spikeops LIF/IF layers to fine-tune")
    if preset == "rathi2020":
        if batch_norm:
            raise ValueError("preset='rathi2020' trains the converted weights as they are; batch_norm is for "
                             "preset=None")
        use_rathi2020_neurons(snn, sg, RATHI2020["age_init"] if age_init is None else age_init)
        opt = torch.optim.Adam(snn.parameters(), RATHI2020["lr"] if lr is None else lr, amsgrad=True,
                               weight_decay=RATHI2020["weight_decay"])
        return fit(snn, x, y, T, epochs=epochs, batch_size=RATHI2020["batch_size"] if batch_size is None else batch_size,
                   encoder=encoder, progress=progress, optimizer=opt, readout="sum", schedule="steps")
    lr = 3e-4 if lr is None else lr
    batch_size = 64 if batch_size is None else batch_size
    for n in neurons:
        n.surrogate, n.track_age, n.age_init = sg, True, 0 if age_init is None else age_init
    if not batch_norm:
        return fit(snn, x, y, T, epochs=epochs, lr=lr, batch_size=batch_size, encoder=encoder, progress=progress)
    if not isinstance(snn, nn.Sequential):
        raise ValueError("batch_norm=True needs the nn.Sequential of a converted network")
    snn.eval()
    net, pairs = _with_current_norms(snn, x[:norm_samples], T, encoder)
    losses = fit(net, x, y, T, epochs=epochs, lr=lr, batch_size=batch_size, encoder=encoder, progress=progress)
    for layer, bn in pairs:
        fold_into(layer, bn)
    snn.eval()
    return losses
