"""nn.Module front ends of the fused LIF op."""
from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import torch
from torch import nn

from . import functional as F
from . import surrogate as surrogate_mod

__all__ = ["LIF", "IF", "TimeDistributed", "ConstantEncoder", "RateEncoder", "encode_constant", "encode_rate",
           "mean_rate", "spike_count", "integrate"]


class LIF(nn.Module):
    """Leaky integrate-and-fire neurons, a drop-in activation for torch models.

    ``step_mode="multi"`` (default): input ``[T, *]``, all steps in one fused kernel; by default
    each call starts from rest (set ``stateful=True`` to carry the state across calls).
    ``step_mode="single"``: input ``[*]`` is one time step and the state is kept between calls,
    for loops written step by step; call :meth:`reset_state` between sequences.

    The decay is given as ``decay`` (alpha) or ``tau`` (alpha = 1 - 1/tau). ``learn_decay`` and
    ``learn_threshold`` make them parameters of shape ``param_shape``: ``()`` for one per layer,
    e.g. ``(C, 1, 1)`` for one per channel of ``[T, B, C, H, W]`` inputs. A learnable decay is
    clamped to [0, 1] in the forward pass. Other arguments are those of :func:`spikeops.functional.lif`.
    """

    def __init__(
        self,
        decay: Optional[Union[float, torch.Tensor]] = None,
        *,
        tau: Optional[float] = None,
        gain: Union[float, torch.Tensor] = 1.0,
        threshold: Union[float, torch.Tensor] = 1.0,
        reset: str = "subtract",
        v_reset: float = 0.0,
        refractory: int = 0,
        detach_reset: bool = False,
        deferred_reset: bool = False,
        surrogate: Union[str, surrogate_mod.Surrogate] = "atan",
        learn_decay: bool = False,
        learn_threshold: bool = False,
        param_shape: Sequence[int] = (),
        step_mode: str = "multi",
        stateful: Optional[bool] = None,
        track_age: bool = False,
        age_init: int = 1000,
    ):
        super().__init__()
        if step_mode not in ("multi", "single"):
            raise ValueError(f"step_mode must be 'multi' or 'single', got {step_mode!r}")
        if decay is not None and tau is not None:
            raise ValueError("give either decay or tau, not both")
        if tau is not None:
            decay = F.decay_from_tau(tau)
        elif decay is None:
            decay = 0.5
        if reset not in F.RESET_MODES:
            raise ValueError(f"reset must be one of {sorted(F.RESET_MODES)}, got {reset!r}")
        self.surrogate = surrogate_mod.get(surrogate)
        self.decay = self._make_param("decay", decay, learn_decay, param_shape)
        self.threshold = self._make_param("threshold", threshold, learn_threshold, param_shape)
        self.gain = gain
        self.reset_mode = reset
        self.v_reset = v_reset
        self.refractory = refractory
        self.detach_reset = detach_reset
        self.deferred_reset = deferred_reset
        self.step_mode = step_mode
        self.stateful = (step_mode == "single") if stateful is None else stateful
        if step_mode == "single" and not self.stateful:
            raise ValueError("step_mode='single' keeps state between calls; stateful=False is not possible")
        self.track_age = track_age
        self.age_init = age_init
        self.state: Optional[F.LIFState] = None

    @staticmethod
    def _make_param(name, value, learn, shape):
        if not learn:
            return value
        if isinstance(value, torch.Tensor):
            return nn.Parameter(value.detach().clone().float())
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number or tensor, got {value!r}")
        return nn.Parameter(torch.full(tuple(shape), float(value)))

    def reset_state(self) -> None:
        """Forgets the carried state: the next call starts from rest."""
        self.state = None

    def _decay_value(self):
        if isinstance(self.decay, nn.Parameter):
            return self.decay.clamp(0.0, 1.0)
        return self.decay

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        single = self.step_mode == "single"
        if single:
            x = x.unsqueeze(0)
        state = self.state if self.stateful else None
        if state is not None and state.v.shape != x.shape[1:]:
            raise ValueError(f"input's neuron shape {tuple(x.shape[1:])} differs from the carried state's "
                             f"{tuple(state.v.shape)}; call reset_state() before a new batch shape")
        spikes, new_state = F.lif(
            x, state, decay=self._decay_value(), gain=self.gain, threshold=self.threshold, reset=self.reset_mode,
            v_reset=self.v_reset, refractory=self.refractory, detach_reset=self.detach_reset,
            deferred_reset=self.deferred_reset, surrogate=self.surrogate, track_age=self.track_age,
            age_init=self.age_init)
        if self.stateful:
            self.state = new_state
        return spikes.squeeze(0) if single else spikes

    def extra_repr(self) -> str:
        decay = "learnable" if isinstance(self.decay, nn.Parameter) else self.decay
        return (f"decay={decay}, reset={self.reset_mode!r}, surrogate={self.surrogate}, "
                f"step_mode={self.step_mode!r}")


class IF(LIF):
    """Integrate-and-fire: :class:`LIF` with decay 1 (no leak)."""

    def __init__(self, **kwargs):
        for arg in ("decay", "tau", "learn_decay"):
            if arg in kwargs:
                raise ValueError(f"IF has no leak; {arg} cannot be set")
        super().__init__(1.0, **kwargs)


class TimeDistributed(nn.Module):
    """Applies an ordinary layer (Conv2d, Linear, BatchNorm, pooling, ...) to every step of a
    ``[T, B, ...]`` sequence at once, by merging T into the batch. A BatchNorm wrapped this way
    normalises with statistics shared over all time steps."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2:
            raise ValueError(f"TimeDistributed expects [T, B, ...], got shape {tuple(x.shape)}")
        T, B = x.shape[:2]
        return self.module(x.flatten(0, 1)).unflatten(0, (T, B))


def _check_steps(T) -> int:
    if not isinstance(T, int) or isinstance(T, bool) or T < 1:
        raise ValueError(f"T (time steps) must be an int >= 1, got {T!r}")
    return T


def encode_constant(x: torch.Tensor, T: int) -> torch.Tensor:
    """The input as a constant current for T steps: ``[T, *x.shape]`` (a broadcast view, no copy)."""
    return x.unsqueeze(0).expand(_check_steps(T), *x.shape)


def encode_rate(x: torch.Tensor, T: int, *, signed: bool = True, generator: Optional[torch.Generator] = None):
    """Rate-coded spikes ``[T, *x.shape]``: at each step an element spikes with probability |x|
    (clipped to 1), a Bernoulli approximation of a Poisson train with rate |x| per step. With
    ``signed`` the spike carries x's sign (the hybrid-conversion code's encoder); otherwise
    negative inputs never spike."""
    T = _check_steps(T)
    rand = torch.rand((T, *x.shape), generator=generator, device=x.device, dtype=x.dtype)
    p = x.abs().clamp(max=1.0) if signed else x.clamp(0.0, 1.0)
    spikes = (rand < p).to(x.dtype)
    return spikes * torch.sign(x) if signed else spikes


class ConstantEncoder(nn.Module):
    """Module form of :func:`encode_constant`."""

    def __init__(self, T: int):
        super().__init__()
        self.T = _check_steps(T)

    def forward(self, x):
        return encode_constant(x, self.T)


class RateEncoder(nn.Module):
    """Module form of :func:`encode_rate` (fresh random spikes on every call)."""

    def __init__(self, T: int, signed: bool = True):
        super().__init__()
        self.T = _check_steps(T)
        self.signed = signed

    def forward(self, x):
        return encode_rate(x, self.T, signed=self.signed)


def mean_rate(spikes: torch.Tensor) -> torch.Tensor:
    """Readout: spikes per step, averaged over the time dimension 0."""
    return spikes.mean(0)


def spike_count(spikes: torch.Tensor) -> torch.Tensor:
    """Readout: total spikes over the time dimension 0."""
    return spikes.sum(0)


def integrate(currents: torch.Tensor, cumulative: bool = False) -> torch.Tensor:
    """Readout of a non-spiking output layer: the membrane of an integrator (no leak, no
    threshold) fed with ``currents`` ``[T, ...]``, divided by the steps so far; that is the
    mean current. ``cumulative=True`` returns the readout after every step ``[T, ...]``."""
    if not cumulative:
        return currents.mean(0)
    steps = torch.arange(1, currents.shape[0] + 1, device=currents.device, dtype=currents.dtype)
    return currents.cumsum(0) / steps.view(-1, *([1] * (currents.dim() - 1)))
