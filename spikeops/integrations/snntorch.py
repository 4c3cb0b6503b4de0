"""snnTorch backend: ``accelerate(model)`` replaces every ``snntorch.Leaky``, ``Synaptic`` and
``RLeaky`` by :class:`Leaky`, :class:`Synaptic` and :class:`RLeaky`, which compute snnTorch's
functions on the spikeops kernel.

snnTorch's Leaky (docs/math.md §1): ``mem[t] = beta mem[t-1] + x[t] - threshold s[t-1]``
(subtract; ``zero``: ``beta (1 - s[t-1]) mem[t-1] + x[t]``), ``s[t] = mem[t] > threshold``,
with ``s[t-1] = mem[t-1] > threshold`` detached: the reset of a spike is applied, undecayed,
at the next step. That is spikeops' ``deferred_reset=True, detach_reset=True``, with the
membrane ``mem`` as the state. ``beta`` and ``threshold`` stay the original module's
tensors (parameters with ``learn_beta``/``learn_threshold``), so an optimiser built before
``accelerate`` keeps training them.

Supported: reset_mechanism subtract/zero/none, learn_beta, learn_threshold (and Synaptic's
learn_alpha, RLeaky's recurrent weights), per-neuron beta/threshold, init_hidden, output, the
surrogates atan, fast_sigmoid and sigmoid. Not mapped (a ValueError names it): inhibition,
state_quant, graded spikes (factor != 1 or learnable), reset_delay=False, other surrogates.
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


def _check_mappable(neuron: nn.Module) -> None:
    name = type(neuron).__name__
    for attr, bad in (("inhibition", True), ("reset_delay", False)):
        if getattr(neuron, attr, not bad) == bad:
            raise ValueError(f"snntorch.{name}({attr}={bad}) has no spikeops equivalent")
    if getattr(neuron, "state_quant", False):
        raise ValueError(f"snntorch.{name}(state_quant=...) has no spikeops equivalent")
    factor = neuron.graded_spikes_factor
    if isinstance(factor, nn.Parameter) or float(factor) != 1.0:
        raise ValueError(f"snntorch.{name} graded spikes (graded_spikes_factor != 1 or learnable) have no spikeops "
                         "equivalent")
    if neuron.reset_mechanism not in ("subtract", "zero", "none"):
        raise ValueError(f"reset_mechanism {neuron.reset_mechanism!r} is not one of subtract, zero, none")


class _OnKernel:
    """What the replacements share: adopting the original's settings and tensors, and the
    membrane update on the fused kernel."""

    def _adopt(self, neuron: nn.Module, tensors=("beta", "threshold"), states=("mem",)) -> None:
        nn.Module.__init__(self)  # not snnTorch's: the state and parameters come from `neuron`
        _check_mappable(neuron)
        self.surrogate = map_surrogate(neuron.spike_grad)
        self._reset_mechanism = neuron.reset_mechanism  # read through snnTorch's reset_mechanism property
        self.inhibition = False
        # The original tensors: parameters stay parameters (same objects), buffers stay buffers.
        for name in tensors:
            value = getattr(neuron, name)
            if isinstance(value, nn.Parameter):
                setattr(self, name, value)
            else:
                self.register_buffer(name, torch.as_tensor(value))
        self.init_hidden = neuron.init_hidden
        self.output = neuron.output
        for name in states:
            self.register_buffer(name, torch.zeros(0), persistent=False)
        snntorch.SpikingNeuron.instances.append(self)  # complete: snnTorch's class methods reach it

    def _membrane(self, x: torch.Tensor, mem: torch.Tensor):
        """The membrane over the steps of ``x`` ``[T, ...]`` from ``mem``: (spikes, last mem)."""
        spk, new = F.lif(x, F.LIFState(mem), decay=self.beta.clamp(0, 1), threshold=self.threshold,
                         reset=self.reset_mechanism, deferred_reset=True, detach_reset=True, surrogate=self.surrogate)
        return spk, new.v

    def _zero_gate(self, current: torch.Tensor, mem: torch.Tensor) -> torch.Tensor:
        """Synaptic's and RLeaky's zero reset clears the whole update ``beta mem + current`` of a
        neuron that spiked at the previous step (Leaky's clears only ``mem``): the kernel's zero
        reset with the current gated by the detached reset signal."""
        if self.reset_mechanism != "zero":
            return current
        return current * (1 - (mem > self.threshold).to(current.dtype))

    def _fresh(self, name: str, like: torch.Tensor) -> torch.Tensor:
        state = getattr(self, name)
        if state.shape != like.shape:
            state = torch.zeros_like(like)
            setattr(self, name, state)
        return state

    def _returned(self, spk, *states):
        if self.output or not self.init_hidden:
            return (spk, *states)
        return spk


class Leaky(_OnKernel, snntorch.Leaky):
    """snnTorch's ``Leaky`` on the spikeops kernel, built from an existing one.

    ``forward(input_, mem=None)`` is one step with snnTorch's signature and return values
    (``spk, mem``; ``spk`` alone with ``init_hidden`` unless ``output``); ``forward_sequence(x,
    mem=None)`` runs all steps of ``x`` ``[T, ...]`` in one fused kernel and returns
    ``(spk [T, ...], mem)``, the membrane after the last step.

    It is a ``snntorch.Leaky`` to snnTorch (a subclass, registered in snnTorch's list of
    neuron instances), so snnTorch's own state handling reaches it: ``utils.reset(net)``,
    ``Leaky.reset_hidden()`` / ``detach_hidden()``, ``reset_mem()`` / ``init_leaky()``."""

    def __init__(self, leaky: nn.Module):
        self._adopt(leaky)

    def forward(self, input_: torch.Tensor, mem: Optional[torch.Tensor] = None):
        if self.init_hidden and mem is not None:
            raise TypeError("`mem` should not be passed as an argument while `init_hidden=True`")
        if mem is not None:
            self.mem = mem
        spk, self.mem = self._membrane(input_.unsqueeze(0), self._fresh("mem", input_))
        return self._returned(spk[0], self.mem)

    def forward_sequence(self, x: torch.Tensor, mem: Optional[torch.Tensor] = None):
        """All T steps of ``x`` ``[T, ...]`` at once; ``mem`` the membrane before the first step
        (zeros when None). Returns ``(spk [T, ...], mem)`` and keeps ``mem`` as the state."""
        spk, self.mem = self._membrane(x, mem if mem is not None else torch.zeros_like(x[0]))
        return spk, self.mem

    def reset_mem(self):
        self.mem = torch.zeros_like(self.mem)
        return self.mem

    def init_leaky(self):
        return self.reset_mem()

    def extra_repr(self) -> str:
        return f"reset_mechanism={self.reset_mechanism!r}, surrogate={self.surrogate!r}"


class Synaptic(_OnKernel, snntorch.Synaptic):
    """snnTorch's ``Synaptic`` (current-based LIF) on the spikeops kernel, built from an
    existing one: ``syn = alpha syn + input``, then the membrane of :class:`Leaky` driven by
    ``syn``; with the zero reset a spike clears the membrane's whole update ``beta mem + syn``
    at the next step (the current keeps flowing).

    ``forward(input_, syn=None, mem=None)`` is one step with snnTorch's signature and
    returns (``spk, syn, mem``; ``spk`` alone with ``init_hidden`` unless ``output``);
    ``forward_sequence(x, syn=None, mem=None)`` runs all T steps fused (the current through
    :func:`spikeops.functional.leaky_integrate`, the membrane through :func:`spikeops.lif`)
    and returns ``(spk [T, ...], syn, mem)`` after the last step; it needs the subtract or
    none reset."""

    def __init__(self, synaptic: nn.Module):
        self._adopt(synaptic, tensors=("alpha", "beta", "threshold"), states=("syn", "mem"))

    def forward(self, input_: torch.Tensor, syn: Optional[torch.Tensor] = None, mem: Optional[torch.Tensor] = None):
        if self.init_hidden and (mem is not None or syn is not None):
            raise TypeError("`mem` or `syn` should not be passed as an argument while `init_hidden=True`")
        if syn is not None:
            self.syn = syn
        if mem is not None:
            self.mem = mem
        syn, mem = self._fresh("syn", input_), self._fresh("mem", input_)
        self.syn = self.alpha.clamp(0, 1) * syn + input_
        spk, self.mem = self._membrane(self._zero_gate(self.syn, mem).unsqueeze(0), mem)
        return self._returned(spk[0], self.syn, self.mem)

    def forward_sequence(self, x: torch.Tensor, syn: Optional[torch.Tensor] = None,
                         mem: Optional[torch.Tensor] = None):
        """All T steps of ``x`` ``[T, ...]`` at once from ``syn`` and ``mem`` (zeros when None).
        Returns ``(spk [T, ...], syn, mem)`` and keeps ``syn`` and ``mem`` as the state."""
        if self.reset_mechanism == "zero":
            raise ValueError("forward_sequence needs reset_mechanism 'subtract' or 'none': with 'zero' a spike clears "
                             "the whole update beta mem + syn at the next step, which the fused kernel does not do; "
                             "call forward() step by step")
        current = F.leaky_integrate(x, syn, decay=self.alpha.clamp(0, 1))
        spk, self.mem = self._membrane(current, mem if mem is not None else torch.zeros_like(x[0]))
        self.syn = current[-1]
        return spk, self.syn, self.mem

    def reset_mem(self):
        self.syn = torch.zeros_like(self.syn)
        self.mem = torch.zeros_like(self.mem)
        return self.syn, self.mem

    def init_synaptic(self):
        return self.reset_mem()

    def extra_repr(self) -> str:
        return f"reset_mechanism={self.reset_mechanism!r}, surrogate={self.surrogate!r}"


class RLeaky(_OnKernel, snntorch.RLeaky):
    """snnTorch's ``RLeaky`` (recurrent LIF) on the spikeops kernel, built from an existing one:
    ``mem = beta mem + input + V(spk) - reset``, with the original's recurrent layer ``V``
    (``recurrent``: its Linear, Conv2d or one-to-one weight, still trained) applied to the
    previous step's spikes outside the kernel, one step per call as snnTorch runs it. The
    recurrent term is added to the input before the kernel's step, so the membrane may
    differ from snnTorch's by float rounding (snnTorch adds it last).

    ``forward(input_, spk=None, mem=None)`` has snnTorch's signature and return values."""

    def __init__(self, rleaky: nn.Module):
        one_to_one = () if rleaky.all_to_all else ("V",)
        self._adopt(rleaky, tensors=("beta", "threshold", *one_to_one), states=("spk", "mem"))
        self.all_to_all = rleaky.all_to_all
        self.recurrent = rleaky.recurrent

    def forward(self, input_: torch.Tensor, spk: Optional[torch.Tensor] = None, mem: Optional[torch.Tensor] = None):
        if self.init_hidden and (mem is not None or spk is not None):
            raise TypeError("When `init_hidden=True`, RLeaky expects 1 input argument.")
        if spk is not None:
            self.spk = spk
        if mem is not None:
            self.mem = mem
        spk, mem = self._fresh("spk", input_), self._fresh("mem", input_)
        current = self._zero_gate(input_ + self.recurrent(spk), mem)
        spk, self.mem = self._membrane(current.unsqueeze(0), mem)
        self.spk = spk[0]
        return self._returned(self.spk, self.mem)

    def reset_mem(self):
        self.spk = torch.zeros_like(self.spk)
        self.mem = torch.zeros_like(self.mem)
        return self.spk, self.mem

    def init_rleaky(self):
        return self.reset_mem()

    def extra_repr(self) -> str:
        return f"reset_mechanism={self.reset_mechanism!r}, surrogate={self.surrogate!r}, all_to_all={self.all_to_all}"


_REPLACEMENTS = {snntorch.Leaky: Leaky, snntorch.Synaptic: Synaptic, snntorch.RLeaky: RLeaky}


def _left_alone(m: nn.Module):
    if isinstance(m, _OnKernel) or not isinstance(m, snntorch.SpikingNeuron):
        return None
    for cls in _REPLACEMENTS:
        if isinstance(m, cls):
            return f"a subclass of snntorch.{cls.__name__} (its own methods may change the neuron's function)"
    return "not supported yet (spikeops replaces snntorch.Leaky, Synaptic and RLeaky)"


def accelerate(model: nn.Module, *, strict: bool = False) -> nn.Module:
    """Replaces every ``snntorch.Leaky``, ``Synaptic`` and ``RLeaky`` in ``model`` (in place) by
    :class:`Leaky`, :class:`Synaptic` and :class:`RLeaky`.

    Other snnTorch neurons (RSynaptic, Alpha, Lapicque, subclasses, ...) are left as they are
    and listed in a warning; ``strict=True`` raises :class:`~spikeops.integrations.NotAccelerated`
    instead, before anything is replaced."""
    return replace_modules(model, lambda m: type(m) in _REPLACEMENTS, lambda m: _REPLACEMENTS[type(m)](m),
                           framework="snnTorch", left_alone=_left_alone, strict=strict)
