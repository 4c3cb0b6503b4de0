"""Functional form of the fused multi-step LIF neuron."""
from __future__ import annotations

import math
from typing import NamedTuple, Optional, Union

import torch

from . import _ops  # noqa: F401  (registers the ops)
from . import surrogate as surrogate_mod

__all__ = ["LIFState", "lif", "RESET_MODES", "decay_from_tau", "soft_lif", "fs_neuron", "FixedState", "lif_fixed"]

RESET_MODES = {"subtract": 0, "zero": 1, "none": 2}

Param = Union[float, torch.Tensor]


class LIFState(NamedTuple):
    """State carried between calls. ``refractory`` and ``age`` are int32 tensors, or None
    when the neuron has no refractory period / does not track spike ages."""

    v: torch.Tensor
    refractory: Optional[torch.Tensor] = None
    age: Optional[torch.Tensor] = None


def decay_from_tau(tau: float) -> float:
    """The decay alpha = 1 - 1/tau of a time constant tau >= 1 (in steps), as SpikingJelly's LIFNode."""
    if not isinstance(tau, (int, float)) or not tau >= 1:
        raise ValueError(f"tau must be a number >= 1 (in time steps), got {tau!r}")
    return 1.0 - 1.0 / tau


def _check_scalar(name: str, value, lo: float, hi: float, lo_open: bool = False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > lo if lo_open else value >= lo) and value <= hi
    if not ok:
        bounds = f"{'(' if lo_open else '['}{lo}, {hi}]"
        raise ValueError(f"{name} must be a finite number in {bounds}, got {value!r}")


def _param(name: str, value: Param, x: torch.Tensor, lo: float, hi: float, lo_open: bool = False) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        if not value.is_floating_point():
            raise ValueError(f"{name} must be a floating point tensor, got {value.dtype}")
        if value.device != x.device:
            raise ValueError(f"{name} is on {value.device} but x is on {x.device}")
        return value
    _check_scalar(name, value, lo, hi, lo_open)
    # A host scalar for any device: the kernels read it as a constant (no copy, no sync).
    return torch.tensor(float(value), dtype=torch.float64)


def _state_tensor(name: str, t, x: torch.Tensor, integer: bool):
    if t is None:
        return None
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"state.{name} must be a tensor or None, got {type(t).__name__}")
    if t.device != x.device:
        raise ValueError(f"state.{name} is on {t.device} but x is on {x.device}")
    if t.shape != x.shape[1:]:
        raise ValueError(f"state.{name} must have shape {tuple(x.shape[1:])} (x without T), got {tuple(t.shape)}")
    if integer and t.dtype != torch.int32:
        raise ValueError(f"state.{name} must be int32, got {t.dtype}")
    if not integer and not t.is_floating_point():
        raise ValueError(f"state.{name} must be floating point, got {t.dtype}")
    return t


def lif(
    x: torch.Tensor,
    state: Optional[LIFState] = None,
    *,
    decay: Optional[Param] = None,
    tau: Optional[float] = None,
    gain: Param = 1.0,
    threshold: Param = 1.0,
    reset: str = "subtract",
    v_reset: float = 0.0,
    refractory: int = 0,
    detach_reset: bool = False,
    deferred_reset: bool = False,
    surrogate: Union[str, surrogate_mod.Surrogate] = "atan",
    track_age: bool = False,
    age_init: int = 1000,
    return_ages: bool = False,
):
    """Runs LIF neurons over all T steps of ``x`` ([T, *]) in one fused kernel.

    Per step (docs/math.md §1): ``h = decay * v + gain * x[t]``; spike where ``h > threshold``;
    then reset ``subtract`` (v = h - threshold), ``zero`` (v = v_reset) or ``none``.

    Args:
        state: initial :class:`LIFState`; None starts at rest (v = v_reset, never fired).
        decay: alpha in [0, 1] (1 = IF); a float or a tensor broadcastable to ``x.shape[1:]``.
            Default 0.5 (tau = 2). Alternatively ``tau`` (alpha = 1 - 1/tau).
        gain: input gain gamma (float or tensor). threshold: theta > 0 (float or tensor).
        refractory: steps a neuron is held at v_reset after a spike.
        detach_reset: the reset takes no part in the backward pass.
        deferred_reset: snnTorch's ordering: the state is the pre-reset membrane and the
            subtract reset of a spike is applied, undecayed, at the next step.
        surrogate: name or :mod:`spikeops.surrogate` object used by the backward pass.
        track_age: carry the spike age (steps since the last spike) in the state.
        age_init: the age state of a neuron that has never fired.
        return_ages: also return the per-step ages a[t] (int32, [T, *]).

    Returns:
        ``(spikes, state)`` or ``(spikes, state, ages)``: spikes have x's shape and dtype.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"x must be a floating point tensor [T, ...], got dtype {x.dtype}")
    if x.dim() < 1 or x.shape[0] == 0:
        raise ValueError(f"x must have a leading time dimension with T >= 1, got shape {tuple(x.shape)}")
    if reset not in RESET_MODES:
        raise ValueError(f"reset must be one of {sorted(RESET_MODES)}, got {reset!r}")
    if not isinstance(refractory, int) or isinstance(refractory, bool) or refractory < 0:
        raise ValueError(f"refractory must be an int >= 0, got {refractory!r}")
    if deferred_reset and refractory > 0:
        raise ValueError("refractory steps are not supported with deferred_reset=True")
    _check_scalar("v_reset", v_reset, -math.inf, math.inf)
    if not isinstance(age_init, int) or isinstance(age_init, bool) or not 0 <= age_init < 2**24:
        raise ValueError(f"age_init must be an int in [0, 2^24), got {age_init!r}")
    if decay is not None and tau is not None:
        raise ValueError("give either decay or tau, not both")
    if tau is not None:
        decay = decay_from_tau(tau)
    elif decay is None:
        decay = 0.5
    sg = surrogate_mod.get(surrogate)
    track = bool(track_age or return_ages or sg.kind == surrogate_mod.STDB.kind)

    alpha = _param("decay", decay, x, 0.0, 1.0)
    gamma = _param("gain", gain, x, -math.inf, math.inf)
    theta = _param("threshold", threshold, x, 0.0, math.inf, lo_open=True)

    if state is None:
        state = LIFState(None)
    elif not isinstance(state, LIFState):
        raise ValueError(f"state must be a spikeops.functional.LIFState or None, got {type(state).__name__}")
    v0 = _state_tensor("v", state.v, x, integer=False)
    r0 = _state_tensor("refractory", state.refractory, x, integer=True)
    a0 = _state_tensor("age", state.age, x, integer=True)

    needs_grad = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (x, v0, alpha, gamma, theta))
    spikes, v, r, a, ages, _, _ = torch.ops.spikeops.lif_forward(
        x, v0, r0, a0, alpha, gamma, theta, RESET_MODES[reset], float(v_reset), refractory, deferred_reset,
        detach_reset, sg.kind, sg.height, sg.width, track, age_init, return_ages, needs_grad)
    new_state = LIFState(v, r if refractory > 0 else None, a if track else None)
    if return_ages:
        return spikes, new_state, ages
    return spikes, new_state


def _check_data(x) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ValueError(f"x must be a floating point tensor, got dtype {x.dtype}")


def soft_lif(x: torch.Tensor, *, tau_rc: float = 0.02, tau_ref: float = 0.002, smoothing: float = 0.02,
             gain: float = 1.0, amplitude: float = 0.063) -> torch.Tensor:
    """Soft-LIF rate activation (docs/math.md §3), element-wise, any shape:

    ``amplitude / (tau_ref + tau_rc * log(1 + 1 / rho(gain * x)))`` with the smoothed rectifier
    ``rho(z) = smoothing * log(1 + exp(z / smoothing))``; x = 0 is the firing threshold (the
    bias of 1 is built in). Differentiable (analytic gradient). Defaults: the MNIST constants
    (seconds); ``smoothing`` -> 0 gives the LIF neuron's exact rate curve.
    """
    _check_data(x)
    for name, value, lo, lo_open in (("tau_rc", tau_rc, 0.0, True), ("tau_ref", tau_ref, 0.0, False),
                                     ("smoothing", smoothing, 0.0, True), ("gain", gain, 0.0, True),
                                     ("amplitude", amplitude, -math.inf, False)):
        _check_scalar(name, value, lo, math.inf, lo_open)
    return torch.ops.spikeops.soft_lif(x, float(tau_rc), float(tau_ref), float(smoothing), float(gain),
                                       float(amplitude))


def fs_neuron(x: torch.Tensor, h: torch.Tensor, d: torch.Tensor, threshold: torch.Tensor, *,
              surrogate: Union[str, surrogate_mod.Surrogate] = "fast_sigmoid", return_spikes: bool = False):
    """Few-spikes neuron (docs/math.md §6), element-wise, any shape: K steps on v(1) = x,

    ``z(t) = v(t) > threshold(t); out += d(t) z(t); v(t+1) = v(t) - h(t) z(t)``.

    ``h``, ``d``, ``threshold``: 1-d tensors of the K <= 64 per-step constants (learnable: their
    gradients use ``surrogate`` for dz/dv, as does dL/dx). ``return_spikes=True`` also returns
    the number of spikes of each element (uint8).
    """
    _check_data(x)
    for name, c in (("h", h), ("d", d), ("threshold", threshold)):
        if not isinstance(c, torch.Tensor):
            raise TypeError(f"{name} must be a 1-d torch.Tensor of K per-step values, got {type(c).__name__}")
    sg = surrogate_mod.get(surrogate)
    if sg.kind == surrogate_mod.STDB.kind:
        raise ValueError("surrogate: the stdb surrogate needs spike ages, which the FS neuron does not have")
    out, spikes = torch.ops.spikeops.fs_neuron(x, h, d, threshold, sg.kind, sg.height, sg.width, return_spikes)
    return (out, spikes) if return_spikes else out


class FixedState(NamedTuple):
    """State of fixed-point neurons after the last step (int32, neuron shape): current ``u``,
    voltage ``v`` and refractory count ``r``."""

    u: torch.Tensor
    v: torch.Tensor
    r: torch.Tensor


def lif_fixed(a_in: torch.Tensor, *, du: int, dv: int, vth_mant: int, bias_mant: Optional[torch.Tensor] = None,
              bias_exp: int = 0, refractory: int = 0, reset: str = "zero", du_plus_one: bool = False,
              state: Optional[FixedState] = None, return_states: bool = False):
    """The fixed-point (Loihi-style) LIF neuron of docs/math.md §8, fused over T, bit-exact on
    every CPU ISA and on CUDA.

    ``a_in``: int32 ``[T, ...]`` synaptic input per step. Per step:
    ``u <- wrap24(decay(u, du) + (a_in << 6))``,
    ``v <- sat24(decay(v, dv) + u + (bias_mant << bias_exp))``, a spike where
    ``v > vth_mant << 6``, after which v is reset to 0 (``reset="zero"``, the chip) or reduced by
    the threshold (``"subtract"``), and held at 0 for ``refractory`` steps.
    ``decay(y, D) = sign(y) ((|y| (4096 - D)) >> 12)``; ``du``, ``dv`` in [0, 4096];
    ``du_plus_one`` uses the bit-accurate chip model's current decay ``du + 1``. ``bias_mant``:
    int32, 13-bit signed, one per neuron or a single value; ``bias_exp`` in [0, 7].
    ``vth_mant``: 17 bits. ``a_in`` may be any int32: its contribution wraps with the 24-bit
    current (only its low 18 bits matter).

    Returns ``(spikes, state)``: uint8 spikes ``[T, ...]`` and the :class:`FixedState` after the
    last step; with ``return_states`` also the int32 traces ``(u_seq, v_seq)``.
    """
    if not isinstance(a_in, torch.Tensor):
        raise TypeError(f"a_in must be a torch.Tensor, got {type(a_in).__name__}")
    for name, value in (("du", du), ("dv", dv), ("vth_mant", vth_mant), ("bias_exp", bias_exp),
                        ("refractory", refractory)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int, got {value!r}")
    if state is not None and not isinstance(state, FixedState):
        raise TypeError(f"state must be a FixedState (or None), got {type(state).__name__}")
    u0, v0, r0 = state if state is not None else (None, None, None)
    spikes, u, v, r, u_seq, v_seq = torch.ops.spikeops.lif_fixed(
        a_in, du, dv, vth_mant, bias_mant, bias_exp, refractory, reset, du_plus_one, u0, v0, r0, return_states)
    out = (spikes, FixedState(u, v, r))
    return out + (u_seq, v_seq) if return_states else out
