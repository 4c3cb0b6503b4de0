"""Activity and cost of a run: spikes per neuron, synaptic operations, ANN multiply-accumulates."""
from __future__ import annotations

from typing import Dict, List, Optional

import torch
from torch import nn

from .data import Data, batches, run_in_steps, sequences
from .nn import LIF, SubstepLIF, TimeDistributed

WEIGHTED = (nn.Conv2d, nn.Linear)


def _macs(layer: nn.Module, inp: torch.Tensor, out: torch.Tensor) -> int:
    """Multiply-accumulates of one sample through a Conv2d or Linear."""
    per_output = layer.in_channels // layer.groups * layer.kernel_size[0] * layer.kernel_size[1] \
        if isinstance(layer, nn.Conv2d) else layer.in_features
    return out[0].numel() * per_output


@torch.inference_mode()
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


def snn_activity(snn: nn.Module, data: Data, T: Optional[int] = None, *, encoder="constant",
                 generator: Optional[torch.Generator] = None, batch_size: int = 256, max_batches: Optional[int] = None,
                 progress: bool = True) -> Dict[str, object]:
    """Runs ``snn`` and counts, per sample over the whole run: spikes per neuron (each neuron
    layer and overall), synaptic operations (every non-zero input event of a Conv2d/Linear
    times that layer's mean fan-out, MACs / inputs) and neuron updates (neurons x T).

    ``data``: inputs (tensors or batches, streamed: :mod:`spikeops.data`) encoded over ``T``
    steps with ``encoder`` one batch at a time, or, with ``T`` None, a ``[T, B, ...]`` tensor of
    input sequences."""
    layer_spikes: List[float] = []
    layer_neurons: List[int] = []
    synops, samples, steps = 0.0, 0, 0
    calls = {"neuron": 0, "weighted": 0}

    def on_neuron(m, i, o):
        k = calls["neuron"]
        calls["neuron"] += 1
        if k == len(layer_spikes):
            layer_spikes.append(0.0)
            layer_neurons.append(o[0, 0].numel())
        layer_spikes[k] += torch.count_nonzero(o).item()  # LIF spikes are 1, SubstepLIF's amplitude / dt

    def on_weighted(m, i, o):
        nonlocal synops
        x = i[0]
        fan_out = _macs(m.module, x[0], o[0]) / x[0, 0].numel()
        synops += torch.count_nonzero(x).item() * fan_out

    hooks = [m.register_forward_hook(on_neuron) for m in snn.modules() if isinstance(m, (LIF, SubstepLIF))]
    hooks += [m.register_forward_hook(on_weighted) for m in snn.modules()
              if isinstance(m, TimeDistributed) and isinstance(m.module, WEIGHTED)]
    snn.eval()
    try:
        with torch.inference_mode():
            if T is None:  # ready [T, B, ...] sequences
                for x_seq, _ in sequences(data, None, None, batch_size=batch_size, max_batches=max_batches,
                                          progress=progress, desc="activity"):
                    calls["neuron"] = 0
                    snn(x_seq)
                    samples, steps = samples + x_seq.shape[1], x_seq.shape[0]
            else:  # inputs encoded a chunk of steps at a time (bounded memory at any T)
                for xb, _ in batches(data, batch_size=batch_size, max_batches=max_batches, progress=progress,
                                     desc="activity"):
                    calls["neuron"] = 0
                    for _ in run_in_steps(snn, xb, T, encoder=encoder, generator=generator):
                        calls["neuron"] = 0
                    samples, steps = samples + len(xb), T
    finally:
        for h in hooks:
            h.remove()
    if samples == 0:
        raise ValueError("data holds no samples")
    neurons = sum(layer_neurons)
    return {
        "spikes_per_neuron": sum(layer_spikes) / samples / max(neurons, 1),
        "layer_spikes_per_neuron": [s / samples / n for s, n in zip(layer_spikes, layer_neurons)],
        "synops": synops / samples,
        "neuron_updates": neurons * steps,
        "neurons": neurons,
        "samples": samples,
    }


def grad_norms(model: nn.Module) -> Dict[str, float]:
    """The L2 norm of each parameter's gradient (after backward), to see vanishing or exploding
    gradients across depth."""
    return {name: p.grad.norm().item() for name, p in model.named_parameters() if p.grad is not None}
