"""Drop-in backends for the SNN frameworks people already use: each ``accelerate(model)``
replaces that framework's LIF neurons in ``model`` by spikeops modules that compute the same
function (same spikes, membrane and gradients) on the fused kernels.

- :mod:`spikeops.integrations.snntorch`: ``snntorch.Leaky``
- :mod:`spikeops.integrations.spikingjelly`: ``neuron.LIFNode`` and ``neuron.IFNode``
- :mod:`spikeops.integrations.norse`: ``LIFBoxCell`` and ``LIFBox``

The frameworks are imported only by their own submodule.
"""
from __future__ import annotations

from typing import Callable

from torch import nn


def replace_modules(model: nn.Module, match: Callable[[nn.Module], bool], build: Callable[[nn.Module], nn.Module]):
    """Replaces, in place, every submodule of ``model`` for which ``match`` holds by
    ``build(submodule)``; returns the model (or the replacement when ``model`` itself matches).
    A module shared by several parents gets one replacement."""
    if match(model):
        return build(model)
    done = {}
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if match(child):
                if id(child) not in done:
                    done[id(child)] = build(child)
                setattr(parent, name, done[id(child)])
    return model
