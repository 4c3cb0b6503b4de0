"""Activity and cost of a run: spikes per neuron, synaptic operations, ANN multiply-accumulates."""
from __future__ import annotations

from typing import Dict, List

import torch
from torch import nn

from .nn import LIF, TimeDistributed

WEIGHTED = (nn.Conv2d, nn.Linear)


def _macs(layer: nn.Module, inp: torch.Tensor, out: torch.Tensor) -> int:
    """Multiply-accumulates of one sample through a Conv2d or Linear."""
    per_output = layer.in_channels // layer.groups * layer.kernel_size[0] * layer.kernel_size[1] \
        if isinstance(layer, nn.Conv2d) else layer.in_features
    return out[0].numel() * per_output


@torch.no_grad()
def ann_macs(ann: nn.Module, sample: torch.Tensor) -> List[int]:
    """MACs per sample of each Conv2d/Linear of ``ann``, in call order (``sample`` is one input batch)."""
    macs: List[int] = []
    hooks = [m.register_forward_hook(lambda m, i, o: macs.append(_macs(m, i[0], o)))
             for m in ann.modules() if isinstance(m, WEIGHTED)]
    try:
        ann.eval()(sample[:1])
    finally:
        for h in hooks:
            h.remove()
    return macs


@torch.no_grad()
def snn_activity(snn: nn.Module, x_seq: torch.Tensor) -> Dict[str, object]:
    """Runs ``snn`` on ``x_seq`` ([T, B, ...]) and counts, per sample over the whole run:
    spikes per neuron (each neuron layer and overall), synaptic operations (every non-zero
    input event of a Conv2d/Linear times that layer's mean fan-out, MACs / inputs) and neuron
    updates (neurons x T)."""
    T, B = x_seq.shape[:2]
    layer_spikes, layer_neurons, synops = [], [], [0.0]

    def on_neuron(m, i, o):
        layer_spikes.append(o.sum().item() / B)
        layer_neurons.append(o[0, 0].numel())

    def on_weighted(m, i, o):
        inner = m.module
        x = i[0]
        fan_out = _macs(inner, x[0], o[0]) / x[0, 0].numel()
        synops[0] += (x != 0).sum().item() / B * fan_out

    hooks = [m.register_forward_hook(on_neuron) for m in snn.modules() if isinstance(m, LIF)]
    hooks += [m.register_forward_hook(on_weighted) for m in snn.modules()
              if isinstance(m, TimeDistributed) and isinstance(m.module, WEIGHTED)]
    try:
        snn.eval()(x_seq)
    finally:
        for h in hooks:
            h.remove()
    neurons = sum(layer_neurons)
    return {
        "spikes_per_neuron": sum(layer_spikes) / max(neurons, 1),
        "layer_spikes_per_neuron": [s / n for s, n in zip(layer_spikes, layer_neurons)],
        "synops": synops[0],
        "neuron_updates": neurons * T,
        "neurons": neurons,
    }


def grad_norms(model: nn.Module) -> Dict[str, float]:
    """The L2 norm of each parameter's gradient (after backward), to see vanishing or exploding
    gradients across depth."""
    return {name: p.grad.norm().item() for name, p in model.named_parameters() if p.grad is not None}
