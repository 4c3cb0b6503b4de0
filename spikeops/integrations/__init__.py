"""Drop-in backends for the SNN frameworks people already use: each ``accelerate(model)``
replaces that framework's LIF neurons in ``model`` by spikeops modules that compute the same
function (same spikes, membrane and gradients) on the fused kernels.

- :mod:`spikeops.integrations.snntorch`: ``snntorch.Leaky``
- :mod:`spikeops.integrations.spikingjelly`: ``neuron.LIFNode`` and ``neuron.IFNode``
- :mod:`spikeops.integrations.norse`: ``LIFBoxCell`` and ``LIFBox``

The frameworks are imported only by their own submodule.
"""
from __future__ import annotations

import warnings
from typing import Callable, Optional

from torch import nn


class NotAccelerated(ValueError):
    """Raised by ``accelerate(model, strict=True)`` when the model has neurons of the framework
    that spikeops does not replace; ``.modules`` lists ``(name, reason)``."""

    def __init__(self, framework: str, modules):
        self.modules = list(modules)
        lines = "\n".join(f"  {name or '(the model)'}: {reason}" for name, reason in self.modules)
        super().__init__(f"{len(self.modules)} {framework} neuron module(s) were left as they are:\n{lines}")


def replace_modules(model: nn.Module, match: Callable[[nn.Module], bool], build: Callable[[nn.Module], nn.Module],
                    *, framework: str = "", left_alone: Optional[Callable[[nn.Module], Optional[str]]] = None,
                    strict: bool = False):
    """Replaces, in place, every submodule of ``model`` for which ``match`` holds by
    ``build(submodule)``; returns the model (or the replacement when ``model`` itself matches).
    A module shared by several parents gets one replacement.

    ``left_alone(module)`` names why a module of the framework is not replaced (None for
    modules that are not the framework's neurons). Such modules are reported: a warning lists
    them, or with ``strict`` a :class:`NotAccelerated` error, raised before anything is replaced."""
    skipped = []
    if left_alone is not None:
        for name, m in model.named_modules():
            reason = None if match(m) else left_alone(m)
            if reason:
                skipped.append((name, f"{type(m).__module__}.{type(m).__qualname__}: {reason}"))
    if skipped and strict:
        raise NotAccelerated(framework, skipped)
    if skipped:
        warnings.warn(str(NotAccelerated(framework, skipped)), stacklevel=3)
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
