"""snnTorch backend: ``accelerate(model)`` replaces every ``snntorch.Leaky`` by :class:`Leaky`,
which computes snnTorch's function on the spikeops kernel.

snnTorch's Leaky (docs/math.md §1): ``mem[t] = beta mem[t-1] + x[t] - threshold s[t-1]``
(subtract; ``zero``: ``beta (1 - s[t-1]) mem[t-1] + x[t]``), ``s[t] = mem[t] > threshold``,
with ``s[t-1] = mem[t-1] > threshold`` detached: the reset of a spike is applied, undecayed,
at the next step. That is spikeops' ``deferred_reset=True, detach_reset=True``, with the
membrane ``mem`` as the state. ``beta`` and ``threshold`` stay the original module's
tensors (parameters with ``learn_beta``/``learn_threshold``), so an optimiser built before
``accelerate`` keeps training them.

Supported: reset_mechanism subtract/zero/none, learn_beta, learn_threshold, per-neuron
beta/threshold, init_hidden, output, the surrogates atan, fast_sigmoid and sigmoid. Not
mapped (a ValueError names it): inhibition, state_quant, graded spikes (factor != 1 or
learnable), reset_delay=False, other surrogates.
"""
from __future__ import annotations

from typing import Optional

import snntorch
import torch
from torch import nn

from .. import functional as F
from .. import surrogate as surrogate_mod
from . import replace_modules


def _closure(fn, name):
    names = fn.__code__.co_freevars
    return fn.__closure__[names.index(name)].cell_contents


def map_surrogate(spike_grad) -> surrogate_mod.Surrogate:
    """The spikeops surrogate equal to a snnTorch ``spike_grad`` (atan, fast_sigmoid, sigmoid)."""
    qual = getattr(spike_grad, "__qualname__", "")
    owner = qual.split(".<locals>")[0]
    if owner == "atan":
        return surrogate_mod.ATan(float(_closure(spike_grad, "alpha")))
    if owner == "fast_sigmoid":
        return surrogate_mod.FastSigmoid(float(_closure(spike_grad, "slope")))
    if owner == "sigmoid":
        return surrogate_mod.Sigmoid(float(_closure(spike_grad, "slope")))
    raise ValueError(f"spike_grad {qual or spike_grad!r} has no spikeops equivalent; supported: snntorch.surrogate."
                     "atan, fast_sigmoid, sigmoid")


class Leaky(snntorch.Leaky):
    """snnTorch's ``Leaky`` on the spikeops kernel, built from an existing one.

    ``forward(input_, mem=None)`` is one step with snnTorch's signature and return values
    (``spk, mem``; ``spk`` alone with ``init_hidden`` unless ``output``); ``forward_sequence(x,
    mem=None)`` runs all steps of ``x`` ``[T, ...]`` in one fused kernel and returns
    ``(spk [T, ...], mem)``, the membrane after the last step.

    It is a ``snntorch.Leaky`` to snnTorch (a subclass, registered in snnTorch's list of
    neuron instances), so snnTorch's own state handling reaches it: ``utils.reset(net)``,
    ``Leaky.reset_hidden()`` / ``detach_hidden()``, ``reset_mem()`` / ``init_leaky()``."""

    def __init__(self, leaky: nn.Module):
        nn.Module.__init__(self)  # not snnTorch's: the state and parameters come from `leaky`
        for attr, bad in (("inhibition", True), ("reset_delay", False)):
            if getattr(leaky, attr, not bad) == bad:
                raise ValueError(f"snntorch.Leaky({attr}={bad}) has no spikeops equivalent")
        if getattr(leaky, "state_quant", False):
            raise ValueError("snntorch.Leaky(state_quant=...) has no spikeops equivalent")
        factor = leaky.graded_spikes_factor
        if isinstance(factor, nn.Parameter) or float(factor) != 1.0:
            raise ValueError("snntorch.Leaky graded spikes (graded_spikes_factor != 1 or learnable) have no spikeops "
                             "equivalent")
        self.surrogate = map_surrogate(leaky.spike_grad)
        if leaky.reset_mechanism not in ("subtract", "zero", "none"):
            raise ValueError(f"reset_mechanism {leaky.reset_mechanism!r} is not one of subtract, zero, none")
        self._reset_mechanism = leaky.reset_mechanism  # read through snnTorch's reset_mechanism property
        self.inhibition = False
        # The original tensors: parameters stay parameters (same objects), buffers stay buffers.
        for name in ("beta", "threshold"):
            value = getattr(leaky, name)
            if isinstance(value, nn.Parameter):
                setattr(self, name, value)
            else:
                self.register_buffer(name, torch.as_tensor(value))
        self.init_hidden = leaky.init_hidden
        self.output = leaky.output
        self.register_buffer("mem", torch.zeros(0), persistent=False)
        snntorch.SpikingNeuron.instances.append(self)  # complete: snnTorch's class methods reach it

    def _run(self, x, mem):
        state = F.LIFState(mem) if mem is not None else None
        spk, new = F.lif(x, state, decay=self.beta.clamp(0, 1), threshold=self.threshold,
                         reset=self.reset_mechanism, deferred_reset=True, detach_reset=True, surrogate=self.surrogate)
        return spk, new.v

    def forward(self, input_: torch.Tensor, mem: Optional[torch.Tensor] = None):
        if self.init_hidden and mem is not None:
            raise TypeError("`mem` should not be passed as an argument while `init_hidden=True`")
        if mem is not None:
            self.mem = mem
        if self.mem.shape != input_.shape:
            self.mem = torch.zeros_like(input_)
        spk, mem = self._run(input_.unsqueeze(0), self.mem)
        self.mem = mem
        spk = spk[0]
        if self.output or not self.init_hidden:
            return spk, self.mem
        return spk

    def forward_sequence(self, x: torch.Tensor, mem: Optional[torch.Tensor] = None):
        """All T steps of ``x`` ``[T, ...]`` at once; ``mem`` the membrane before the first step
        (zeros when None). Returns ``(spk [T, ...], mem)`` and keeps ``mem`` as the state."""
        spk, self.mem = self._run(x, mem if mem is not None else torch.zeros_like(x[0]))
        return spk, self.mem

    def reset_mem(self):
        self.mem = torch.zeros_like(self.mem)
        return self.mem

    def init_leaky(self):
        return self.reset_mem()

    def extra_repr(self) -> str:
        return f"reset_mechanism={self.reset_mechanism!r}, surrogate={self.surrogate!r}"


def _left_alone(m: nn.Module):
    if isinstance(m, Leaky) or not isinstance(m, snntorch.SpikingNeuron):
        return None
    if isinstance(m, snntorch.Leaky):
        return "a subclass of snntorch.Leaky (its own methods may change the neuron's function)"
    return "not supported yet (spikeops replaces snntorch.Leaky)"


def accelerate(model: nn.Module, *, strict: bool = False) -> nn.Module:
    """Replaces every ``snntorch.Leaky`` in ``model`` (in place) by :class:`Leaky`.

    Other snnTorch neurons (Synaptic, RLeaky, Alpha, subclasses of Leaky, ...) are left as they
    are and listed in a warning; ``strict=True`` raises :class:`~spikeops.integrations.NotAccelerated`
    instead, before anything is replaced."""
    return replace_modules(model, lambda m: type(m) is snntorch.Leaky, Leaky, framework="snnTorch",
                           left_alone=_left_alone, strict=strict)
