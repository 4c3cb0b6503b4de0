"""SpikingJelly backend: ``accelerate(model)`` replaces every ``neuron.LIFNode``,
``neuron.IFNode`` and ``neuron.ParametricLIFNode`` (SpikingJelly 2.x,
``spikingjelly.activation_based``) by a spikeops node with the same function, in single-step
and multi-step mode, on CPU and CUDA.

SpikingJelly's charge (docs/math.md §1): ``h = v + (x - (v - v_reset)) / tau`` (decay_input) or
``h = v - (v - v_reset) / tau + x``; IF: ``h = v + x``; PLIF: LIF with ``1/tau = sigmoid(w)``. It fires where ``h >= v_threshold``
and resets to ``v_reset`` (hard) or subtracts the threshold (``v_reset=None``, soft). In the
membrane shifted by ``v_reset`` that is spikeops' LIF with ``decay = 1 - 1/tau``,
``gain = 1/tau`` or 1, threshold ``v_threshold - v_reset`` and a zero reset to 0; ``>=`` is
the strict test against the next float below the threshold (identical spikes, and a soft
reset subtracts that value: one unit in the last place of the threshold away).

The nodes are SpikingJelly ``BaseNode`` subclasses, so ``functional.reset_net``,
``set_step_mode``, ``store_v_seq`` and ``detach_reset`` behave as in SpikingJelly. Mapped
surrogates: ``surrogate.Sigmoid(alpha)``, ``surrogate.ATan(alpha)``; others raise ValueError.
"""
from __future__ import annotations

import math
import torch
from spikingjelly.activation_based import functional as sj_functional
from spikingjelly.activation_based import neuron as sj_neuron
from spikingjelly.activation_based import surrogate as sj_surrogate
from torch import nn

from .. import functional as F
from .. import surrogate as surrogate_mod
from . import replace_modules


def map_surrogate(fn) -> surrogate_mod.Surrogate:
    """The spikeops surrogate equal to a SpikingJelly surrogate function (Sigmoid, ATan)."""
    if not getattr(fn, "spiking", True):
        raise ValueError(f"{fn!r}: surrogate functions with spiking=False have no spikeops equivalent")
    if type(fn) is sj_surrogate.Sigmoid:
        return surrogate_mod.Sigmoid(float(fn.alpha))
    if type(fn) is sj_surrogate.ATan:
        return surrogate_mod.ATan(float(fn.alpha))
    raise ValueError(f"surrogate_function {fn!r} has no spikeops equivalent; supported: surrogate.Sigmoid, "
                     "surrogate.ATan")


class _Node(sj_neuron.BaseNode):
    """A SpikingJelly node whose steps run on spikeops' fused kernel; subclasses give 1/tau."""

    def __init__(self, node: nn.Module, decay_input: bool):
        super().__init__(node.v_threshold, node.v_reset, node.surrogate_function, node.detach_reset,
                         step_mode=node.step_mode, store_v_seq=node.store_v_seq)
        self.decay_input = decay_input
        self.sg = map_surrogate(node.surrogate_function)
        shift = 0.0 if node.v_reset is None else float(node.v_reset)
        if not node.v_threshold - shift > 0:
            raise ValueError(f"v_threshold ({node.v_threshold}) must exceed v_reset ({node.v_reset})")
        self.v = node.v  # carry the current membrane (a float before the first step)

    def _inverse_tau(self):
        """1/tau (a number, or a tensor that may need gradients); None for no leak."""
        return None

    def _run(self, x_seq: torch.Tensor, v: torch.Tensor):
        shift = 0.0 if self.v_reset is None else float(self.v_reset)
        theta = torch.nextafter(torch.tensor(self.v_threshold - shift, dtype=x_seq.dtype),
                                torch.tensor(-math.inf, dtype=x_seq.dtype))  # h > theta  <=>  h >= v_threshold
        k = self._inverse_tau()
        decay = 1.0 if k is None else 1 - k
        gain = k if (k is not None and self.decay_input) else 1.0
        spikes, state = F.lif(x_seq, F.LIFState(v - shift if shift else v), decay=decay, gain=gain,
                              threshold=theta.to(x_seq.device), reset="subtract" if self.v_reset is None else "zero",
                              v_reset=0.0, detach_reset=self.detach_reset, surrogate=self.sg)
        return spikes, state.v + shift if shift else state.v

    def single_step_functional_forward(self, inputs, states, **kwargs):
        spikes, v = self._run(inputs[0].unsqueeze(0), states[0])
        return (spikes[0],), (v, *states[1:])

    def multi_step_functional_forward(self, inputs, states, **kwargs):
        spikes, v = self._run(inputs[0], states[0])
        return (spikes,), (v, *states[1:])


class LIFNode(_Node):
    """``neuron.LIFNode`` on spikeops, built from an existing one."""

    def __init__(self, node: nn.Module):
        super().__init__(node, bool(node.decay_input))
        self.tau = float(node.tau)
        F.decay_from_tau(self.tau)  # checks tau >= 1

    def _inverse_tau(self):
        return 1.0 / self.tau

    def extra_repr(self):
        return super().extra_repr() + f", tau={self.tau}, decay_input={self.decay_input}"


class IFNode(_Node):
    """``neuron.IFNode`` on spikeops, built from an existing one."""

    def __init__(self, node: nn.Module):
        super().__init__(node, False)


class ParametricLIFNode(_Node):
    """``neuron.ParametricLIFNode`` (PLIF: 1/tau = sigmoid(w), w learned) on spikeops, built
    from an existing one. ``w`` is the original's parameter (the same object, so an optimiser
    built before keeps training it); its gradient reaches it through the kernel's decay and
    gain gradients. The charge computes ``(1 - k) v + k x`` where SpikingJelly computes
    ``v + k (x - v)``: equal up to float rounding."""

    def __init__(self, node: nn.Module):
        super().__init__(node, bool(node.decay_input))
        self.w = node.w

    def _inverse_tau(self):
        return self.w.sigmoid()

    def extra_repr(self):
        with torch.no_grad():
            tau = 1.0 / self.w.sigmoid().item()
        return super().extra_repr() + f", tau={tau}, decay_input={self.decay_input}"


_REPLACEMENTS = {sj_neuron.LIFNode: LIFNode, sj_neuron.IFNode: IFNode, sj_neuron.ParametricLIFNode: ParametricLIFNode}


def _left_alone(m: nn.Module):
    if isinstance(m, _Node) or not isinstance(m, sj_neuron.BaseNode):
        return None
    for cls in _REPLACEMENTS:
        if isinstance(m, cls):
            return f"a subclass of {cls.__name__} (its own methods may change the neuron's function)"
    return "not supported yet (spikeops replaces neuron.LIFNode, IFNode and ParametricLIFNode)"


def accelerate(model: nn.Module, *, strict: bool = False) -> nn.Module:
    """Replaces every ``neuron.LIFNode``, ``IFNode`` and ``ParametricLIFNode`` in ``model`` (in place).

    Other SpikingJelly neurons (subclasses, adaptive nodes, ...) are left as they are and
    listed in a warning; ``strict=True`` raises :class:`~spikeops.integrations.NotAccelerated`
    instead, before anything is replaced."""
    model = replace_modules(model, lambda m: type(m) in _REPLACEMENTS, lambda m: _REPLACEMENTS[type(m)](m),
                            framework="SpikingJelly", left_alone=_left_alone, strict=strict)
    if hasattr(sj_functional, "invalidate_reset_cache"):
        sj_functional.invalidate_reset_cache(model)
    return model
