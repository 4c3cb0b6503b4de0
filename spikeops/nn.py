"""nn.Module front ends of the fused LIF op."""
from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import torch
from torch import nn

from . import functional as F
from . import surrogate as surrogate_mod

__all__ = ["LIF", "IF", "TimeDistributed", "ConstantEncoder", "RateEncoder", "encode", "encode_constant",
           "encode_rate", "mean_rate", "spike_count", "integrate", "synaptic_filter", "SynapticFilter", "SoftLIF",
           "filtered_spike_train", "ZOHLIF", "FSNeuron"]


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


def encode(x: torch.Tensor, T: int, encoder="constant", *, generator: Optional[torch.Generator] = None):
    """``x`` as T steps of input: ``encoder`` is ``"constant"`` (:func:`encode_constant`),
    ``"rate"`` (:func:`encode_rate`) or a callable ``(x, T) -> [T, ...]``."""
    if isinstance(encoder, str) and encoder == "constant":
        return encode_constant(x, T)
    if isinstance(encoder, str) and encoder == "rate":
        return encode_rate(x, T, generator=generator)
    if callable(encoder):
        return encoder(x, T)
    raise ValueError(f"encoder must be 'constant', 'rate' or a callable (x, T) -> [T, ...], got {encoder!r}")


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


def synaptic_filter(x: torch.Tensor, decay: float) -> torch.Tensor:
    """First-order low-pass over time dimension 0: ``y[t] = decay * y[t-1] + (1 - decay) * x[t]``,
    ``y[0] = 0`` before the first step. Runs on the LIF kernel (a leaky integrator is an LIF
    neuron that never fires); not differentiable."""
    F._check_scalar("decay", decay, 0.0, 1.0)
    inf = torch.tensor(math.inf, dtype=torch.float64)
    out = torch.ops.spikeops.lif_forward(
        x.detach(), None, None, None, torch.tensor(float(decay), dtype=torch.float64),
        torch.tensor(1.0 - decay, dtype=torch.float64), inf, F.RESET_MODES["none"], 0.0, 0, False, False, 0,
        1.0, 1.0, False, 0, False, True)
    return out[5]


class SynapticFilter(nn.Module):
    """Exponential synapse with time constant ``tau`` (seconds) at step ``dt``: low-pass filters
    ``[T, ...]`` currents (:func:`synaptic_filter` with decay ``exp(-dt / tau)``; ``tau = 0``
    passes the input through)."""

    def __init__(self, tau: float, dt: float):
        super().__init__()
        F._check_scalar("tau", tau, 0.0, math.inf)
        F._check_scalar("dt", dt, 0.0, math.inf, lo_open=True)
        self.tau, self.dt = float(tau), float(dt)

    def forward(self, x):
        return x if self.tau == 0 else synaptic_filter(x, math.exp(-self.dt / self.tau))

    def extra_repr(self) -> str:
        return f"tau={self.tau}, dt={self.dt}"


_NOISE_MODELS = (None, "gaussian", "spike_train")


class SoftLIF(nn.Module):
    """Soft-LIF rate activation (:func:`spikeops.functional.soft_lif`) with optional training noise.

    ``noise`` (applied in training mode only; the backward pass uses the noise-free derivative):
    - ``"gaussian"``: ``r + amplitude * N(0, sigma)`` where the neuron is above threshold, clipped at 0
      (``sigma`` in Hz, default 10);
    - ``"spike_train"``: the value of the neuron's periodic spike train (period 1 / rate) filtered
      by an alpha synapse of time constant ``tau_s`` (default 3 ms) and the membrane (``tau_rc``),
      sampled at a uniformly random phase, times ``amplitude``; zero below threshold
      (:func:`filtered_spike_train`). Its mean over the phase is the rate.
    """

    def __init__(self, tau_rc: float = 0.02, tau_ref: float = 0.002, smoothing: float = 0.02, gain: float = 1.0,
                 amplitude: float = 0.063, noise: Optional[str] = None, sigma: float = 10.0, tau_s: float = 0.003):
        super().__init__()
        if noise not in _NOISE_MODELS:
            raise ValueError(f"noise must be one of {_NOISE_MODELS}, got {noise!r}")
        F._check_scalar("sigma", sigma, 0.0, math.inf)
        F._check_scalar("tau_s", tau_s, 0.0, math.inf, lo_open=True)
        self.constants = dict(tau_rc=tau_rc, tau_ref=tau_ref, smoothing=smoothing, gain=gain, amplitude=amplitude)
        F.soft_lif(torch.zeros(1), **self.constants)  # validates the constants now
        self.noise, self.sigma, self.tau_s = noise, float(sigma), float(tau_s)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = F.soft_lif(x, **self.constants)
        if not self.training or self.noise is None:
            return r
        with torch.no_grad():
            m = self.constants["amplitude"]
            above = x * self.constants["gain"] > 0
            if self.noise == "gaussian":
                noisy = (r + m * self.sigma * torch.randn_like(r) * above).clamp(min=0)
            else:
                noisy = m * filtered_spike_train(r / m, self.tau_s, self.constants["tau_rc"]) * above
            noise = noisy - r
        return r + noise  # the noise term carries no gradient

    def extra_repr(self) -> str:
        extra = "" if self.noise is None else f", noise={self.noise!r}"
        return ", ".join(f"{k}={v}" for k, v in self.constants.items()) + extra


def filtered_spike_train(rate: torch.Tensor, tau_s: float, tau_m: Optional[float] = None,
                         generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """A periodic spike train of ``rate`` (Hz) filtered by the unit-area alpha synapse
    ``t / tau_s^2 * exp(-t / tau_s)`` and, if ``tau_m`` is given, then by a membrane
    ``exp(-t / tau_m) / tau_m``; sampled at a uniformly random phase u in [0, 1/rate).
    Zero where rate <= 0. Its mean over the phase is the rate (the filters have unit area).

    Closed form of the periodic sum (period p, a = 1/tau_s, b = 1/tau_m, q = exp(-a p)):
    synapse only, ``y = a^2 exp(-a u) (u / (1 - q) + p q / (1 - q)^2)``; with the membrane the
    kernel is ``C (exp(-b t) - exp(-a t)) + B t exp(-a t)``, ``C = a^2 b / (a - b)^2``,
    ``B = a^2 b / (b - a)``, summed term by term."""
    rate = rate.clamp(min=0)
    p = 1.0 / rate.clamp(min=1e-12)
    u = torch.rand(rate.shape, generator=generator, device=rate.device, dtype=rate.dtype) * p
    a = 1.0 / tau_s
    q = torch.exp(-a * p)
    one_minus_q = -torch.expm1(-a * p)
    ramp = torch.exp(-a * u) * (u / one_minus_q + p * q / one_minus_q ** 2)  # sum of (u + n p) e^{-a (u + n p)}
    if tau_m is None:
        y = a * a * ramp
    else:
        b = 1.0 / tau_m
        if abs(a - b) < 1e-6 * a:
            b = a * (1 - 1e-6)  # the closed form needs tau_m != tau_s; the kernel is continuous in b
        c, bb = a * a * b / (a - b) ** 2, a * a * b / (b - a)
        y = c * (torch.exp(-b * u) / -torch.expm1(-b * p) - torch.exp(-a * u) / one_minus_q) + bb * ramp
    return torch.where(rate > 0, y, torch.zeros_like(y))


class ZOHLIF(nn.Module):
    """The spiking neuron a :class:`SoftLIF` becomes after conversion: a LIF neuron with the same
    ``tau_rc``, ``tau_ref`` (seconds) and ``gain`` simulated with the exact zero-order-hold update
    at step ``dt``: input current ``j = gain * x + 1``,
    ``v <- exp(-dt/tau_rc) v + (1 - exp(-dt/tau_rc)) j``, spike when v > 1, reset to 0, then
    ``round(tau_ref / dt)`` refractory steps. Input ``[T, ...]``; output the spikes times
    ``amplitude / dt``, whose mean over time is the soft-LIF value ``amplitude * rate``."""

    def __init__(self, tau_rc: float = 0.02, tau_ref: float = 0.002, gain: float = 1.0, amplitude: float = 0.063,
                 dt: float = 0.001):
        super().__init__()
        for name, value, lo_open in (("tau_rc", tau_rc, True), ("tau_ref", tau_ref, False), ("gain", gain, True),
                                     ("dt", dt, True)):
            F._check_scalar(name, value, 0.0, math.inf, lo_open)
        F._check_scalar("amplitude", amplitude, -math.inf, math.inf)
        decay = math.exp(-dt / tau_rc)
        self.gain, self.scale, self.dt = float(gain), float(amplitude) / dt, float(dt)
        self.neuron = LIF(decay, gain=1.0 - decay, threshold=1.0, reset="zero", refractory=round(tau_ref / dt))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.neuron(x * self.gain + 1.0) * self.scale


class FSNeuron(nn.Module):
    """Few-spikes neuron (:func:`spikeops.functional.fs_neuron`) with per-step constants ``h``,
    ``d``, ``threshold`` (1-d, K values; learnable with ``learn=True``). An element-wise
    activation: one FS neuron per element, K steps each. With ``record=True`` every forward
    stores ``last_spikes`` (total spikes) and ``last_neurons`` (elements) for activity reports."""

    def __init__(self, h: torch.Tensor, d: torch.Tensor, threshold: torch.Tensor, *, learn: bool = False,
                 surrogate: Union[str, surrogate_mod.Surrogate] = "fast_sigmoid", record: bool = False):
        super().__init__()
        for name, value in (("h", h), ("d", d), ("threshold", threshold)):
            value = torch.as_tensor(value, dtype=torch.float32).detach().clone()
            if value.dim() != 1 or value.shape[0] != torch.as_tensor(h).shape[0]:
                raise ValueError(f"{name} must be a 1-d tensor with one value per step (K = {len(h)})")
            if learn:
                setattr(self, name, nn.Parameter(value))
            else:
                self.register_buffer(name, value)
        self.surrogate = surrogate_mod.get(surrogate)
        self.record = record
        self.last_spikes, self.last_neurons = 0, 0

    @property
    def steps(self) -> int:
        return self.h.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        coef = [c.to(x.device) for c in (self.h, self.d, self.threshold)]
        if not self.record:
            return F.fs_neuron(x, *coef, surrogate=self.surrogate)
        out, spikes = F.fs_neuron(x, *coef, surrogate=self.surrogate, return_spikes=True)
        self.last_spikes = int(spikes.sum())
        self.last_neurons = spikes.numel()
        return out

    def extra_repr(self) -> str:
        return f"K={self.steps}, surrogate={self.surrogate}"
