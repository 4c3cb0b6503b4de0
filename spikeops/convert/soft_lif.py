"""Conversion of a trained soft-LIF network to spiking LIF neurons (docs/math.md §3).

Each :class:`spikeops.nn.SoftLIF` becomes a spiking LIF neuron with the same time constants
whose spikes (amplitude / dt each) average to the soft-LIF value: by default the papers'
neuron, :class:`spikeops.nn.SubstepLIF` (spike times and refractory periods inside the
step, the analytic LIF rate), or :class:`spikeops.nn.ZOHLIF` (whole steps). Every weighted
layer fed by spikes is followed by a synapse of time constant ``tau_s``: alpha (the papers',
:class:`spikeops.nn.AlphaSynapse`) or exponential (:class:`spikeops.nn.SynapticFilter`);
max-pooling becomes average pooling; BatchNorm is folded. The network's output is read as the
mean over a window after a settling time (:func:`evaluate_window`).
"""
from __future__ import annotations

import copy
from typing import Optional

import torch
from torch import nn

from ..data import Data, sequences
from ..nn import AlphaSynapse, SoftLIF, SubstepLIF, SynapticFilter, TimeDistributed, ZOHLIF
from .rate import WEIGHTED, fold_batchnorm


@torch.no_grad()
def convert_soft_lif(model: nn.Module, *, dt: float = 0.001, tau_s: float = 0.005, neuron: str = "substep",
                     synapse: str = "alpha") -> nn.Sequential:
    """The spiking ``nn.Sequential`` over ``[T, B, ...]`` of a trained soft-LIF ``model`` (an
    ``nn.Sequential`` of Conv2d/Linear/BatchNorm/SoftLIF/pooling/Flatten). ``dt`` and ``tau_s``
    are in seconds, like the SoftLIF time constants; ``tau_s = 0`` leaves spikes unfiltered.
    ``neuron``: ``"substep"`` (the papers' evaluation neuron) or ``"zoh"``; ``synapse``:
    ``"alpha"`` (the papers') or ``"exponential"``. The output is the last layer's filtered
    current per step."""
    if neuron not in ("substep", "zoh"):
        raise ValueError(f"neuron must be 'substep' or 'zoh', got {neuron!r}")
    if synapse not in ("alpha", "exponential"):
        raise ValueError(f"synapse must be 'alpha' or 'exponential', got {synapse!r}")
    spiking_neuron = SubstepLIF if neuron == "substep" else ZOHLIF
    synapse_filter = AlphaSynapse if synapse == "alpha" else SynapticFilter
    folded = list(fold_batchnorm(model))
    if not any(isinstance(m, SoftLIF) for m in folded):
        raise ValueError("the model has no spikeops.nn.SoftLIF layer to turn into spiking neurons")
    out, spiking = [], False
    for m in folded:
        if isinstance(m, SoftLIF):
            c = m.constants
            out.append(spiking_neuron(c["tau_rc"], c["tau_ref"], c["gain"], c["amplitude"], dt))
            spiking = True
        elif isinstance(m, nn.ReLU):
            raise ValueError("the model mixes ReLU and SoftLIF; convert ReLU networks with convert_rate")
        elif isinstance(m, nn.MaxPool2d):
            out.append(TimeDistributed(nn.AvgPool2d(m.kernel_size, m.stride, m.padding, m.ceil_mode)))
        else:
            out.append(TimeDistributed(copy.deepcopy(m)))
            if spiking and isinstance(m, WEIGHTED):
                out.append(synapse_filter(tau_s, dt))
    return nn.Sequential(*out).eval()


def evaluate_window(snn: nn.Module, data: Data, y: Optional[torch.Tensor] = None, T: int = 200, settle: int = 50, *,
                    batch_size: int = 128, encoder="constant", max_batches: Optional[int] = None,
                    progress: bool = True) -> torch.Tensor:
    """Accuracy of ``snn`` run for T steps on constant input (or ``encoder``), reading the
    output as its mean over steps ``settle .. t`` for every t > settle: a tensor of T - settle
    accuracies (the last uses the whole window). ``data`` is ``x`` with labels ``y``, or
    labelled batches (:mod:`spikeops.data`), streamed."""
    if not isinstance(settle, int) or not 0 <= settle < T:
        raise ValueError(f"settle must be an int in [0, T), got {settle!r} with T = {T}")
    snn.eval()
    correct, count = torch.zeros(T - settle, dtype=torch.float64), 0
    with torch.inference_mode():
        for seq, yb in sequences(data, y, T, encoder=encoder, batch_size=batch_size, max_batches=max_batches,
                                 progress=progress, desc=f"evaluate T={T}", need_labels=True):
            out = snn(seq)[settle:]
            steps = torch.arange(1, T - settle + 1, dtype=out.dtype, device=out.device)
            mean = out.cumsum(0) / steps.view(-1, *([1] * (out.dim() - 1)))
            correct += (mean.argmax(-1) == yb.to(out.device).unsqueeze(0)).sum(1).double().cpu()
            count += len(yb)
    return correct / count


def soft_lif_ann(channels=(32, 64, 128), *, noise: Optional[str] = "gaussian", **constants) -> nn.Sequential:
    """A small conv network for 1x8x8 inputs with SoftLIF activations: the demo's ANN with
    SoftLIF in place of ReLU (BatchNorm included; it is folded at conversion), ``noise`` and
    the constants as in :class:`spikeops.nn.SoftLIF`."""
    c1, c2, c3 = channels

    def block(cin, cout):
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), SoftLIF(noise=noise, **constants)]

    return nn.Sequential(
        *block(1, c1), *block(c1, c2), nn.AvgPool2d(2), *block(c2, c3), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(c3 * 2 * 2, 10))
