"""Norse backend: ``accelerate(model)`` replaces every ``norse.torch.LIFBoxCell`` (the
feed-forward LIF neuron without a synaptic current) by :class:`LIFBoxCell`, and
:class:`LIFBox` runs the same neuron over all T steps in one fused kernel (Norse 1.1 itself
has only the cell, stepped in Python).

Norse's step: ``v' = v + dt tau_mem_inv (x + v_leak - v)``, ``z = v' > v_th``, then
``v = (1 - z) v' + z v_reset`` (or ``v' - z v_th`` with ``reset_subtract``), the reset taking
part in the gradient. In the membrane shifted by ``v_leak`` that is spikeops' LIF with
``decay = 1 - dt tau_mem_inv``, ``gain = dt tau_mem_inv``, threshold ``v_th - v_leak`` and
reset value ``v_reset - v_leak``. Norse's ``"super"`` surrogate is ``1 / (|u| + 1)^2`` (its
``alpha`` is not used by the backward), spikeops' ``FastSigmoid(slope=1)``.

Does not map (ValueError): surrogate methods other than ``"super"`` (heaviside, tanh,
triangle, circ, heavi_erfc), reset methods other than value/subtract (subtract only with
``v_leak = 0``), a per-neuron or
learnable ``v_reset``, ``dt * tau_mem_inv`` outside [0, 1]; the current-based
``LIFCell``/``LIF`` (a second state variable) and the recurrent cells are not replaced.
"""
from __future__ import annotations

from typing import Optional

import torch
from norse.torch import LIFBoxCell as NorseLIFBoxCell
from norse.torch.module import snn as norse_snn
from norse.torch.functional.lif_box import LIFBoxFeedForwardState, LIFBoxParameters
from norse.torch.functional.reset import reset_subtract, reset_value
from torch import nn

from .. import functional as F
from .. import surrogate as surrogate_mod
from . import replace_modules


def _mapping(p: LIFBoxParameters, dt: float):
    if p.method != "super":
        raise ValueError(f"method {p.method!r} has no spikeops equivalent; supported: 'super'")
    if p.reset_method is reset_value:
        reset = "zero"
    elif p.reset_method is reset_subtract:
        reset = "subtract"  # subtracts v_th itself: the shifted threshold only when v_leak = 0
        if bool((torch.as_tensor(p.v_leak) != 0).any()):
            raise ValueError("reset_subtract with v_leak != 0 subtracts v_th, not v_th - v_leak: "
                             "no spikeops equivalent")
    else:
        raise ValueError(f"reset_method {p.reset_method!r} has no spikeops equivalent (reset_value, reset_subtract)")
    v_reset = torch.as_tensor(p.v_reset)
    if v_reset.numel() != 1 or v_reset.requires_grad:
        raise ValueError("v_reset must be a single value that is not learned to map to spikeops")
    rate = dt * torch.as_tensor(p.tau_mem_inv)
    if not bool(((rate >= 0) & (rate <= 1)).all()):
        raise ValueError(f"dt * tau_mem_inv must lie in [0, 1] for the neuron to be a leaky integrator, got {rate}")
    return rate, reset, float(v_reset)


class _Box(nn.Module):
    def __init__(self, p: LIFBoxParameters = LIFBoxParameters(), dt: float = 0.001):
        super().__init__()
        _mapping(p, dt)  # checks now, not at the first step
        self.p, self.dt = p, dt
        self.sg = surrogate_mod.FastSigmoid(slope=1.0)

    def _run(self, x: torch.Tensor, state: Optional[LIFBoxFeedForwardState]):
        rate, reset, v_reset = _mapping(self.p, self.dt)
        v_leak = torch.as_tensor(self.p.v_leak, dtype=x.dtype, device=x.device)
        v0 = None if state is None else F.LIFState(state.v - v_leak)
        if v0 is None:  # Norse starts at v_leak: 0 in the shifted membrane
            v0 = F.LIFState(torch.zeros_like(x[0]))
        rate = rate.to(x.device)
        threshold = torch.as_tensor(self.p.v_th).to(x.device) - v_leak
        spikes, new = F.lif(x, v0, decay=1 - rate, gain=rate, threshold=threshold, reset=reset,
                            v_reset=v_reset - float(v_leak) if v_leak.numel() == 1 else v_reset, surrogate=self.sg)
        return spikes, LIFBoxFeedForwardState(v=new.v + v_leak)


class LIFBoxCell(_Box):
    """Norse's ``LIFBoxCell`` on spikeops: ``forward(x, state=None) -> (z, LIFBoxFeedForwardState)``
    for one step, as Norse's."""

    def forward(self, input_tensor: torch.Tensor, state: Optional[LIFBoxFeedForwardState] = None):
        z, state = self._run(input_tensor.unsqueeze(0), state)
        return z[0], state


class LIFBox(_Box):
    """The box LIF neuron over time: ``forward(x [T, ...], state=None) -> (z [T, ...],
    LIFBoxFeedForwardState)`` in one fused kernel (Norse's ``SNN`` module conventions)."""

    def forward(self, input_tensor: torch.Tensor, state: Optional[LIFBoxFeedForwardState] = None):
        return self._run(input_tensor, state)


def _left_alone(m: nn.Module):
    if isinstance(m, _Box) or not isinstance(m, (norse_snn.SNNCell, norse_snn.SNN, norse_snn.SNNRecurrentCell,
                                                 norse_snn.SNNRecurrent)):
        return None
    if isinstance(m, NorseLIFBoxCell):
        return "a subclass of LIFBoxCell (its own methods may change the neuron's function)"
    return "not supported yet (spikeops replaces LIFBoxCell)"


def accelerate(model: nn.Module, *, strict: bool = False) -> nn.Module:
    """Replaces every Norse ``LIFBoxCell`` in ``model`` (in place) by :class:`LIFBoxCell`.

    Other Norse neuron modules are left as they are and listed in a warning; ``strict=True``
    raises :class:`~spikeops.integrations.NotAccelerated` instead, before anything is replaced."""
    return replace_modules(model, lambda m: type(m) is NorseLIFBoxCell, lambda m: LIFBoxCell(m.p, m.dt),
                           framework="Norse", left_alone=_left_alone, strict=strict)
