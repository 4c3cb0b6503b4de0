"""Energy and cost of an SNN run against its ANN (the efficiency analysis of Hunsberger &
Eliasmith): spikes per neuron per layer, synaptic operations (spikes x fan-out), neuron
updates, and energy with per-operation costs the user sets."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Dict, Optional

import torch
from torch import nn

from .. import analysis
from ..data import Data


@dataclass
class EnergyCosts:
    """Energy per operation in joules. Defaults:

    - ``synop`` 23.6 pJ and ``neuron_update`` 52 pJ: Intel Loihi, minimum energy per synaptic
      spike operation and per active neuron update (Davies et al., "Loihi: a neuromorphic
      manycore processor with on-chip learning", IEEE Micro 38(1), 2018, table 2).
    - ``mac`` 4.6 pJ: a 32-bit floating-point multiply (3.7 pJ) plus add (0.9 pJ) at 45 nm
      (Horowitz, "Computing's energy problem", ISSCC 2014); memory access is not counted on
      either side.
    """
    synop: float = 23.6e-12
    neuron_update: float = 52e-12
    mac: float = 4.6e-12


def energy_report(snn: nn.Module, data: Data, T: Optional[int] = None, *, encoder="constant",
                  generator: Optional[torch.Generator] = None, ann: Optional[nn.Module] = None,
                  ann_input: Optional[torch.Tensor] = None, costs: EnergyCosts = EnergyCosts(),
                  batch_size: int = 256, max_batches: Optional[int] = None, progress: bool = True) -> Dict[str, object]:
    """Counts per sample for ``snn`` run on ``data`` (as :func:`spikeops.analysis.snn_activity`:
    inputs encoded over ``T`` steps, or a ``[T, B, ...]`` sequence tensor): spikes per neuron
    (overall and per layer), synaptic operations, neuron updates, and the energy
    ``synops * synop + neuron_updates * neuron_update``; with ``ann`` (and one ``ann_input``
    batch) also its MACs, energy ``macs * mac`` and the ratio ANN / SNN."""
    act = analysis.snn_activity(snn, data, T, encoder=encoder, generator=generator, batch_size=batch_size,
                                max_batches=max_batches, progress=progress)
    snn_energy = act["synops"] * costs.synop + act["neuron_updates"] * costs.neuron_update
    report: Dict[str, object] = dict(
        steps=act["neuron_updates"] // max(act["neurons"], 1), spikes_per_neuron=act["spikes_per_neuron"],
        layer_spikes_per_neuron=act["layer_spikes_per_neuron"], synops=act["synops"],
        neuron_updates=act["neuron_updates"], snn_energy_j=snn_energy, costs=asdict(costs))
    if ann is not None:
        if ann_input is None:
            raise ValueError("ann_input (a batch of the ANN's input) is needed to count the ANN's MACs")
        macs = sum(analysis.ann_macs(ann, ann_input))
        report.update(ann_macs=macs, ann_energy_j=macs * costs.mac,
                      ann_over_snn_energy=macs * costs.mac / snn_energy if snn_energy > 0 else float("inf"))
    return report
