"""nn.Module front ends of the fused LIF op."""
from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import torch
from torch import nn

from . import functional as F
from . import surrogate as surrogate_mod

__all__ = ["LIF", "IF"]


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
