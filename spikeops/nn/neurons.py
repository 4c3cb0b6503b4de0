"""Neuron modules: the fused LIF (and IF), the soft-LIF rate neuron with its
training noise, the zero-order-hold LIF it converts to, and the FS neuron."""
from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import torch
from torch import nn

from .. import functional as F
from .. import surrogate as surrogate_mod
from ..kinds import reset_mode
from ._options import check_number, check_steps

__all__ = ["LIF", "IF", "SynapticLIF", "PLIF", "RecurrentLIF", "ALIF", "SoftLIF", "filtered_spike_train", "ZOHLIF",
           "SubstepLIF", "FSNeuron"]


class LIF(nn.Module):
    """Leaky integrate-and-fire neurons, a drop-in activation for torch models.

    ``step_mode="multi"`` (default): input ``[T, batch, ...]`` (time first: a ``[B, C, H, W]``
    batch would be read as B time steps), all steps in one fused kernel; by default
    each call starts from rest (set ``stateful=True`` to carry the state across calls).
    ``step_mode="single"``: input ``[*]`` is one time step and the state is kept between calls,
    for loops written step by step; call :meth:`reset_state` between sequences. ``steps=T``
    checks that every multi-step input has T steps first (a ``[B, C, H, W]`` batch then fails
    with a clear error instead of running as B steps).

    The decay is required, as ``decay`` (alpha) or ``tau`` (alpha = 1 - 1/tau). ``learn_decay`` and
    ``learn_threshold`` make them parameters of shape ``param_shape``: ``()`` for one per layer,
    e.g. ``(C, 1, 1)`` for one per channel of ``[T, B, C, H, W]`` inputs. A learnable decay is
    clamped to [0, 1] in the forward pass. Other arguments are those of :func:`spikeops.functional.lif`.

    Other libraries' spellings of the same parameters are accepted: ``beta`` (snnTorch) for
    ``decay``, ``v_threshold`` (SpikingJelly) for ``threshold``, and SpikingJelly's
    ``decay_input=True``, which feeds the input in as ``x / tau`` (gain ``1/tau``, or
    ``1 - decay``); spikeops' own ``tau`` never implies it. The README maps every name.

    ``output_delay=True`` (multi-step mode, with ``deferred_reset``) emits each spike one step
    after the step whose membrane crossed the threshold: step t outputs ``[v[t-1] > threshold]``,
    computed from the membrane before step t's input, and step 0 outputs that of the initial
    state (0 from rest, without gradient). With ``deferred_reset`` and ``detach_reset`` this is
    the neuron of the hybrid-conversion reference code (docs/math.md §5).

    ``record_membrane=True`` keeps the last call's membrane in ``self.membrane`` (``[T, ...]``,
    single-step ``[...]``): each step's membrane before the spike test, detached, for monitors
    and plots (:mod:`spikeops.monitor`).

    ``saved_membrane=torch.float16`` (or ``torch.bfloat16``) keeps the membrane that training
    saves for the backward pass in 2 bytes per neuron-step instead of 4 (float32 inputs;
    :func:`spikeops.functional.lif`).

    ``pack_output=True`` (set by :func:`spikeops.nn.fuse` on the neurons that feed a
    :class:`SpikeLinear` or :class:`SpikeConv2d`) has the kernel write the spikes as bits too, one
    row per sample of ``[T, batch, ...]``, attached to the output
    (:func:`spikeops.functional.attach_packed`), so the layer on spikes need not pack them.
    """

    # Class defaults too: modules saved before these options existed load as before.
    output_delay = False
    record_membrane = False
    saved_membrane = None
    pack_output = False
    membrane: Optional[torch.Tensor] = None

    def __init__(
        self,
        decay: Optional[Union[float, torch.Tensor]] = None,
        *,
        tau: Optional[float] = None,
        gain: Union[float, torch.Tensor] = 1.0,
        threshold: Optional[Union[float, torch.Tensor]] = None,
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
        output_delay: bool = False,
        steps: Optional[int] = None,
        record_membrane: bool = False,
        saved_membrane: Optional[torch.dtype] = None,
        pack_output: bool = False,
        beta: Optional[Union[float, torch.Tensor]] = None,
        v_threshold: Optional[Union[float, torch.Tensor]] = None,
        decay_input: bool = False,
    ):
        super().__init__()
        decay = _one_of("decay", decay, "beta", beta)
        threshold = _one_of("threshold", threshold, "v_threshold", v_threshold)
        threshold = 1.0 if threshold is None else threshold
        if decay_input:
            gain = _decayed_input_gain(decay, tau, gain, v_reset)
        if step_mode not in ("multi", "single"):
            raise ValueError(f"step_mode must be 'multi' or 'single', got {step_mode!r}")
        if output_delay and (step_mode != "multi" or not deferred_reset):
            raise ValueError("output_delay needs step_mode='multi' and deferred_reset=True")
        if decay is None and tau is None:
            raise ValueError("LIF needs its leak: give decay= (alpha in [0, 1], snnTorch's beta; 1 = no leak) or "
                             "tau= (in steps, alpha = 1 - 1/tau); spikeops.nn.IF is the neuron without leak")
        decay = F.resolve_decay(decay, tau)
        reset_mode(reset)  # a misspelt mode fails here, not at the first call
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
        self.output_delay = output_delay
        self.steps = None if steps is None else check_steps(steps)
        self.record_membrane = record_membrane
        if saved_membrane not in (None, torch.float16, torch.bfloat16):
            raise ValueError(f"saved_membrane must be torch.float16, torch.bfloat16 or None, got {saved_membrane!r}")
        self.saved_membrane = saved_membrane
        self.pack_output = bool(pack_output)
        self.state: Optional[F.LIFState] = None

    @staticmethod
    def _make_param(name, value, learn, shape):
        if not learn:
            return value
        if isinstance(value, torch.Tensor):
            return nn.Parameter(value.detach().clone().float())
        return nn.Parameter(torch.full(tuple(shape), float(check_number(name, value))))

    def reset_state(self) -> None:
        """Forgets the carried state: the next call starts from rest."""
        self.state = None

    def _decay_and_gain(self):
        decay = self.decay.clamp(0.0, 1.0) if isinstance(self.decay, nn.Parameter) else self.decay
        return decay, self.gain

    def _run(self, x: torch.Tensor, state: Optional[F.LIFState], threshold=None, packed: Optional[int] = None):
        """The fused kernel over the steps of ``x`` [T, ...]: (spikes, state, h or None); with
        ``packed``, the spikes carry their bits in rows of the last ``packed`` dimensions."""
        decay, gain = self._decay_and_gain()
        out = F.lif(x, state, decay=decay, gain=gain, threshold=self.threshold if threshold is None else threshold,
                    reset=self.reset_mode, v_reset=self.v_reset, refractory=self.refractory,
                    detach_reset=self.detach_reset, deferred_reset=self.deferred_reset, surrogate=self.surrogate,
                    track_age=self.track_age, age_init=self.age_init, return_membrane=self.record_membrane,
                    saved_membrane=self.saved_membrane, packed=packed)
        if packed is not None:
            F.attach_packed(out[0], out[-1])
        return out[0], out[1], (out[2] if self.record_membrane else None)

    def _steps(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` as [T, ...] (one step in single-step mode), its layout checked."""
        if self.step_mode == "single":
            return x.unsqueeze(0)
        if isinstance(x, torch.Tensor) and x.dim() < 2:
            raise ValueError(f"step_mode='multi' takes [T, batch, ...] inputs (time first), got shape "
                             f"{tuple(x.shape)}; for one step at a time use step_mode='single'")
        if self.steps is not None and x.shape[0] != self.steps:
            raise ValueError(f"expected {self.steps} time steps (steps={self.steps}) first in the input [T, batch, "
                             f"...], got shape {tuple(x.shape)}")
        return x

    def _carried(self, x: torch.Tensor) -> Optional[F.LIFState]:
        state = self.state if self.stateful else None
        if state is not None and state.v.shape != x.shape[1:]:
            raise ValueError(f"input's neuron shape {tuple(x.shape[1:])} differs from the carried state's "
                             f"{tuple(state.v.shape)}; call reset_state() before a new batch shape")
        return state

    def _finish(self, spikes: torch.Tensor, state: F.LIFState, membrane: Optional[torch.Tensor]) -> torch.Tensor:
        if self.stateful:
            self.state = state
        single = self.step_mode == "single"
        if self.record_membrane:
            self.membrane = membrane.squeeze(0) if single else membrane
        return spikes.squeeze(0) if single else spikes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._steps(x)
        state = self._carried(x)
        # packed rows: one per sample of [T, batch, ...] (a Linear's [.., n] or a convolution's [C, H, W])
        packed = max(x.dim() - 2, 1) if self.pack_output and not self.output_delay else None
        spikes, new_state, membrane = self._run(x, state, packed=packed)
        if self.output_delay:
            with torch.no_grad():
                v0 = torch.full_like(x[0], float(self.v_reset)) if state is None else state.v
                first = (v0 > self.threshold).to(spikes.dtype).expand_as(spikes[0]).unsqueeze(0)
            spikes = torch.cat([first, spikes[:-1]])
        return self._finish(spikes, new_state, membrane)

    def extra_repr(self) -> str:
        decay = "learnable" if isinstance(self.decay, nn.Parameter) else self.decay
        delay = ", output_delay=True" if self.output_delay else ""
        saved = f", saved_membrane={self.saved_membrane}" if self.saved_membrane is not None else ""
        packs = ", pack_output=True" if self.pack_output else ""
        return (f"decay={decay}, reset={self.reset_mode!r}, surrogate={self.surrogate}, "
                f"step_mode={self.step_mode!r}{delay}{saved}{packs}")


def _one_of(name: str, value, alias: str, alias_value):
    """A value given under spikeops' name or under another library's spelling of it, not both."""
    if alias_value is None:
        return value
    if value is not None:
        raise ValueError(f"give {name} or {alias} (the same parameter), not both")
    return alias_value


def _decayed_input_gain(decay, tau, gain, v_reset):
    """SpikingJelly's decay_input: the input enters as x / tau, i.e. a gain of 1 - decay."""
    if not (isinstance(gain, (int, float)) and gain == 1.0):
        raise ValueError("decay_input=True sets the gain (1/tau); do not give gain as well")
    if v_reset != 0.0:
        raise ValueError("decay_input=True with v_reset != 0: SpikingJelly's LIFNode leaks toward v_reset, which "
                         "spikeops.LIF does not; use spikeops.integrations.spikingjelly.LIFNode for that neuron")
    if tau is not None:
        return 1.0 / tau
    if isinstance(decay, (int, float)):
        return 1.0 - decay
    raise ValueError("decay_input=True needs tau or a number decay (the gain is 1 - decay)")


class IF(LIF):
    """Integrate-and-fire: :class:`LIF` with decay 1 (no leak)."""

    def __init__(self, **kwargs):
        for arg in ("decay", "tau", "learn_decay", "beta", "decay_input"):
            if arg in kwargs:
                raise ValueError(f"IF has no leak; {arg} cannot be set")
        super().__init__(1.0, **kwargs)


def _refuse(kwargs, names, why):
    for arg in names:
        if arg in kwargs:
            raise ValueError(f"{arg} cannot be set: {why}")


class SynapticLIF(LIF):
    """Current-based (second-order) LIF: the input charges a synaptic current that decays by
    ``synaptic_decay`` per step, and the current drives the :class:`LIF` membrane:
    ``syn[t] = synaptic_decay * syn[t-1] + x[t]``, then ``h = decay * v + gain * syn[t]``
    (snnTorch's ``Synaptic`` with alpha = synaptic_decay and beta = decay, subtract reset).

    Both are fused over T: the current by :func:`spikeops.functional.leaky_integrate`, the
    membrane by the LIF kernel. ``learn_synaptic_decay`` makes it a parameter of shape
    ``param_shape``. Other arguments are :class:`LIF`'s; with ``stateful`` (or single-step mode)
    the current is carried with the membrane."""

    def __init__(self, decay=None, *, synaptic_decay: Union[float, torch.Tensor], learn_synaptic_decay: bool = False,
                 **kwargs):
        super().__init__(decay, **kwargs)
        if isinstance(synaptic_decay, (int, float)):
            check_number("synaptic_decay", synaptic_decay, lo=0.0, hi=1.0)
        self.synaptic_decay = self._make_param("synaptic_decay", synaptic_decay, learn_synaptic_decay,
                                               kwargs.get("param_shape", ()))
        self.current: Optional[torch.Tensor] = None

    def reset_state(self) -> None:
        super().reset_state()
        self.current = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps = self._steps(x)
        carried = self.current if self.stateful and self.state is not None else None
        decay = self.synaptic_decay
        current = F.leaky_integrate(steps, carried, decay=decay.clamp(0.0, 1.0) if isinstance(decay, nn.Parameter)
                                    else decay)
        if self.stateful:
            self.current = current[-1]
        return super().forward(current.squeeze(0) if self.step_mode == "single" else current)


class PLIF(LIF):
    """Parametric LIF (Fang et al. 2021, SpikingJelly's ``ParametricLIFNode``): the time
    constant is learned through ``1/tau = sigmoid(w)``, ``w`` of shape ``param_shape`` (``()``:
    one per layer; e.g. ``(C, 1, 1)``: one per channel), initialised to ``init_tau``. The decay
    is ``1 - sigmoid(w)``; with ``decay_input`` (default, as SpikingJelly) the input enters as
    ``x / tau``. Other arguments are :class:`LIF`'s."""

    def __init__(self, init_tau: float = 2.0, *, decay_input: bool = True, param_shape: Sequence[int] = (), **kwargs):
        _refuse(kwargs, ("decay", "tau", "beta", "learn_decay", "gain"), "PLIF learns its time constant (init_tau)")
        check_number("init_tau", init_tau, lo=1.0, lo_open=True)
        super().__init__(1.0 - 1.0 / init_tau, param_shape=param_shape, **kwargs)
        self.w = nn.Parameter(torch.full(tuple(param_shape), -math.log(init_tau - 1.0)))
        self.decay_input = decay_input

    def _decay_and_gain(self):
        k = self.w.sigmoid()
        return 1 - k, (k if self.decay_input else self.gain)

    def extra_repr(self) -> str:
        return (f"decay=1 - sigmoid(w), w: {tuple(self.w.shape)}, decay_input={self.decay_input}, "
                f"reset={self.reset_mode!r}, surrogate={self.surrogate}, step_mode={self.step_mode!r}")


class RecurrentLIF(LIF):
    """LIF with recurrent connections: ``h = decay * v + gain * (x[t] + recurrent(s[t-1]))``,
    ``recurrent`` any module on the layer's spikes (``nn.Linear(n, n)``, a convolution, ...);
    gradients flow through the recurrent spikes (snnTorch's ``RLeaky``).

    The recurrent input depends on the previous step's spikes, so the layer runs the kernel
    one step at a time, with ``recurrent`` applied between steps: T kernel calls, not one."""

    def __init__(self, recurrent: nn.Module, decay=None, **kwargs):
        _refuse(kwargs, ("output_delay",), "not available with recurrent connections")
        super().__init__(decay, **kwargs)
        if not isinstance(recurrent, nn.Module):
            raise TypeError(f"recurrent must be an nn.Module, got {type(recurrent).__name__}")
        self.recurrent = recurrent
        self.last_spikes: Optional[torch.Tensor] = None

    def reset_state(self) -> None:
        super().reset_state()
        self.last_spikes = None

    def _loop(self, x: torch.Tensor, state, spikes: torch.Tensor):
        out, membranes = [], []
        for x_t in x.unbind(0):
            s, state, h = self._run((x_t + self.recurrent(spikes)).unsqueeze(0), state)
            spikes = s[0]
            out.append(spikes)
            membranes.append(h)
        return torch.stack(out), state, torch.cat(membranes) if self.record_membrane else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._steps(x)
        state = self._carried(x)
        spikes = self.last_spikes if state is not None else None
        spikes, state, membrane = self._loop(x, state, torch.zeros_like(x[0]) if spikes is None else spikes)
        if self.stateful:
            self.last_spikes = spikes[-1]
        return self._finish(spikes, state, membrane)


class ALIF(LIF):
    """Adaptive-threshold LIF (Bellec et al. 2018, the LSNN's adaptive neuron): each spike raises
    the neuron's threshold, which relaxes back with time constant ``tau_adaptation`` (steps):
    ``A[t] = threshold + adaptation * b[t]``, ``b[t] = rho * b[t-1] + (1 - rho) * s[t-1]``,
    ``rho = exp(-1 / tau_adaptation)``; a spike is ``h > A[t]`` and the subtract reset removes
    ``A[t]``. Gradients flow through ``b`` (the spikes' surrogate).

    The threshold depends on the previous spikes, so the layer runs the kernel one step at a
    time with ``A[t]`` as a per-neuron threshold: T kernel calls, not one."""

    def __init__(self, decay=None, *, adaptation: float = 1.8, tau_adaptation: float = 200.0, **kwargs):
        _refuse(kwargs, ("output_delay", "learn_threshold"), "the adaptive neuron's threshold is A[t]")
        super().__init__(decay, **kwargs)
        self.adaptation = check_number("adaptation", adaptation, lo=0.0)
        self.tau_adaptation = check_number("tau_adaptation", tau_adaptation, lo=0.0, lo_open=True)
        self.adaptive: Optional[torch.Tensor] = None  # b, carried with the state

    def reset_state(self) -> None:
        super().reset_state()
        self.adaptive = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._steps(x)
        state = self._carried(x)
        b = self.adaptive if state is not None else None
        b = torch.zeros_like(x[0]) if b is None else b
        rho = math.exp(-1.0 / self.tau_adaptation)
        out, membranes = [], []
        for x_t in x.unbind(0):
            s, state, h = self._run(x_t.unsqueeze(0), state, self.threshold + self.adaptation * b)
            b = rho * b + (1 - rho) * s[0]
            out.append(s[0])
            membranes.append(h)
        if self.stateful:
            self.adaptive = b
        return self._finish(torch.stack(out), state, torch.cat(membranes) if self.record_membrane else None)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", adaptation={self.adaptation}, tau_adaptation={self.tau_adaptation}"


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
        check_number("sigma", sigma, lo=0.0)
        check_number("tau_s", tau_s, lo=0.0, lo_open=True)
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
            check_number(name, value, lo=0.0, lo_open=lo_open)
        check_number("amplitude", amplitude)
        decay = math.exp(-dt / tau_rc)
        self.gain, self.scale, self.dt = float(gain), float(amplitude) / dt, float(dt)
        self.neuron = LIF(decay, gain=1.0 - decay, threshold=1.0, reset="zero", refractory=round(tau_ref / dt))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.neuron(x * self.gain + 1.0) * self.scale


class SubstepLIF(nn.Module):
    """The spiking neuron the soft-LIF papers evaluate on (:func:`spikeops.functional.lif_substep`):
    a LIF neuron with ``tau_rc``, ``tau_ref`` (seconds) and ``gain``, input current
    ``j = gain * x + 1``, spike times and refractory periods resolved inside each step of
    ``dt``, membrane floored at ``min_voltage``. Input ``[T, ...]``; output ``amplitude / dt``
    at a spike, so its mean over time is the soft-LIF value ``amplitude * rate``. Over a
    constant input it fires at the analytic LIF rate, where :class:`ZOHLIF` (whole-step spikes
    and refractory periods) falls below it by up to ~20% at a few hundred Hz. Forward only."""

    def __init__(self, tau_rc: float = 0.02, tau_ref: float = 0.002, gain: float = 1.0, amplitude: float = 0.063,
                 dt: float = 0.001, min_voltage: float = 0.0):
        super().__init__()
        check_number("gain", gain, lo=0.0, lo_open=True)
        self.constants = dict(dt=float(dt), tau_rc=float(tau_rc), tau_ref=float(tau_ref),
                              min_voltage=float(min_voltage), amplitude=float(amplitude))
        F.lif_substep(torch.zeros(1, 1), **self.constants)  # validates the constants now
        self.gain = float(gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spikes, _ = F.lif_substep((x * self.gain + 1.0).float().contiguous(), **self.constants)
        return spikes.to(x.dtype)

    def extra_repr(self) -> str:
        return f"gain={self.gain}, " + ", ".join(f"{k}={v}" for k, v in self.constants.items())


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
