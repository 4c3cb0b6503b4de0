"""Functional form of the fused multi-step LIF neuron."""
from __future__ import annotations

import contextlib
import math
from functools import lru_cache
from typing import NamedTuple, Optional, Union

import torch

from . import _ops  # noqa: F401  (registers the ops)
from . import surrogate as surrogate_mod
from .kinds import ResetMode, SurrogateKind, reset_mode

__all__ = ["LIFState", "lif", "leaky_integrate", "PackedSpikes", "pack_spikes", "attach_packed", "spike_linear",
           "spike_linear_weight_blocks", "spike_conv2d", "SPIKE_CONV_CROSSOVER", "SPIKE_LINEAR_CROSSOVER",
           "resolve_decay", "decay_from_tau", "soft_lif", "fs_neuron", "FixedState", "lif_fixed", "SubstepState",
           "lif_substep"]

Param = Union[float, torch.Tensor]
# The values, shapes, dtypes and devices of every op's arguments are checked by
# the op itself (csrc/torch/arg_checks.h); this layer only turns Python objects
# into the ops' argument types and reads the keywords only it has (tau, state).


class LIFState(NamedTuple):
    """State carried between calls. ``refractory`` and ``age`` are int32 tensors, or None
    when the neuron has no refractory period / does not track spike ages."""

    v: torch.Tensor
    refractory: Optional[torch.Tensor] = None
    age: Optional[torch.Tensor] = None


def decay_from_tau(tau: float) -> float:
    """The decay alpha = 1 - 1/tau of a time constant tau >= 1 (in steps), as SpikingJelly's LIFNode."""
    if not isinstance(tau, (int, float)) or isinstance(tau, bool) or not tau >= 1:
        raise ValueError(f"tau must be a number >= 1 (in time steps), got {tau!r}")
    return 1.0 - 1.0 / tau


def resolve_decay(decay: Optional[Param], tau: Optional[float]) -> Param:
    """The decay given as ``decay`` or as ``tau`` (at most one of them); 0.5 (tau = 2) if neither."""
    if decay is not None and tau is not None:
        raise ValueError("give either decay or tau, not both")
    if tau is not None:
        return decay_from_tau(tau)
    return 0.5 if decay is None else decay


def _tensor(name: str, value) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    return value


def _integer(name: str, value) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {value!r}")
    return value


def _param(name: str, value: Param) -> torch.Tensor:
    """A parameter as the ops take it: a tensor, or a Python number as a host scalar (valid
    with any device: the kernels read it as a constant, no copy, no sync)."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if torch.compiler.is_compiling() or torch._C._len_torch_dispatch_stack():
            return torch.tensor(float(value), dtype=torch.float64)  # traced: no tensor outlives the trace
        return _host_scalar(float(value))
    raise TypeError(f"{name} must be a number or a tensor, got {type(value).__name__}")


@lru_cache(maxsize=1024)
def _host_scalar(value: float) -> torch.Tensor:
    # Shared between eager calls (the ops never write their parameters): a step-by-step
    # loop then makes no tensor per call for its constant parameters.
    with torch.inference_mode(False):
        return torch.tensor(value, dtype=torch.float64)


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
    return_membrane: bool = False,
    saved_membrane: Optional[torch.dtype] = None,
    packed: Optional[int] = None,
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
        return_membrane: also return the membrane sequence ``h`` ([T, *], x's dtype): each
            step's membrane after the input and before the spike test and reset, for
            monitoring. It carries no gradient; a loss on membranes needs a neuron without
            reset, :func:`leaky_integrate`.
        saved_membrane: ``torch.float16`` or ``torch.bfloat16`` keeps the membrane that the
            backward pass needs in 16 bits instead of float32 (float32 ``x`` only): 2 bytes per
            neuron-step instead of 4, rounded as docs/math.md §9.1 describes (each value stays
            on its side of the threshold, so the backward pass sees the same spikes); the
            surrogate gradients then come from the rounded membrane (float16, 100 steps:
            5e-4 to 1e-2 relative error of the input gradient, docs/math.md §9.1). None: float32.
        packed: also return the spikes as :class:`PackedSpikes` in rows of the last ``packed``
            dimensions (:func:`pack_spikes`' ``neuron_dims``; at most ``x.dim() - 1``). On CPU
            the kernel writes the bits in the same pass as the float spikes (docs/math.md §10.2);
            elsewhere they are packed from the spikes afterwards.

    Returns:
        ``(spikes, state)``, followed by ``ages``, then ``h``, then the :class:`PackedSpikes`
        when asked for: spikes have x's shape and dtype.
    """
    _tensor("x", x)
    if state is None:
        state = LIFState(None)
    elif not isinstance(state, LIFState):
        raise TypeError(f"state must be a spikeops.functional.LIFState or None, got {type(state).__name__}")
    sg = surrogate_mod.get(surrogate)
    track = bool(track_age or return_ages or sg.uses_ages)
    if packed is not None:
        packed = _integer("packed", packed)
        if not 1 <= packed <= x.dim() - 1:
            raise ValueError(f"packed must be in [1, x.dim() - 1 = {x.dim() - 1}] (rows of the last dimensions, "
                             f"within a step), got {packed}")
    if sg.kind is None:  # a user-defined surrogate: the kernels cannot evaluate it
        from . import reference
        out = reference.lif(x, state, decay=decay, tau=tau, gain=gain, threshold=threshold, reset=reset,
                            v_reset=v_reset, refractory=_integer("refractory", refractory), detach_reset=detach_reset,
                            deferred_reset=deferred_reset, surrogate=sg, track_age=track_age, age_init=age_init,
                            return_ages=return_ages, return_membrane=return_membrane)
        v, r, a = out[1]
        out = (out[0], LIFState(v, r if refractory > 0 else None, a if track else None)) + tuple(out[2:])
        return out + (pack_spikes(out[0], packed),) if packed is not None else out
    alpha = _param("decay", resolve_decay(decay, tau))
    gamma = _param("gain", gain)
    theta = _param("threshold", threshold)
    needs_grad = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (x, state.v, alpha, gamma, theta))
    row = math.prod(x.shape[x.dim() - packed:]) if packed is not None else 0
    words = (torch.empty(x.numel() // row, (row + 63) // 64, dtype=torch.long) if row and x.device.type == "cpu"
             and not torch.compiler.is_compiling() else None)
    with _membrane_in_16_bits(x, theta, saved_membrane, needs_grad):
        spikes, v, r, a, ages, h, _ = torch.ops.spikeops.lif_forward(
            x, v0=state.v, r0=state.refractory, a0=state.age, alpha=alpha, gamma=gamma, theta=theta,
            reset=reset_mode(reset), v_reset=float(v_reset), refractory=_integer("refractory", refractory),
            deferred_reset=deferred_reset, detach_reset=detach_reset, surrogate=sg.kind, sg_height=sg.height,
            sg_width=sg.width, track_age=track, age_init=_integer("age_init", age_init), return_ages=return_ages,
            save_for_backward=needs_grad or return_membrane, spike_row=row, spike_words=words)
    out = (spikes, LIFState(v, r if refractory > 0 else None, a if track else None))
    if return_ages:
        out += (ages,)
    if return_membrane:
        # The kernels mark held (refractory) steps with -inf; the membrane there is v_reset.
        h = h.masked_fill(h == -math.inf, float(v_reset)) if refractory > 0 else h
        out += (h.detach().clone() if needs_grad and refractory == 0 else h,)  # never the tensor backward reads
    if packed is not None:
        out += (PackedSpikes(words, torch.ops.spikeops.spike_row_start(words), spikes.shape, spikes.dtype)
                if words is not None else pack_spikes(spikes, packed),)
    return out


def _membrane_in_16_bits(x: torch.Tensor, theta: torch.Tensor, dtype: Optional[torch.dtype], needs_grad: bool):
    """Saved-tensor hooks under which the LIF op's saved membrane (the one float32 tensor of
    x's shape it saves that is not x) is kept in 16 bits, on its side of the threshold. Hooks
    already in force (a user's offloading, a memory count) still see every saved tensor."""
    if dtype is None:
        return contextlib.nullcontext()
    if dtype not in (torch.float16, torch.bfloat16):
        raise ValueError(f"saved_membrane must be torch.float16, torch.bfloat16 or None, got {dtype!r}")
    if x.dtype != torch.float32:
        raise ValueError(f"saved_membrane applies to float32 x (16-bit x saves 16-bit membranes already), "
                         f"got x of {x.dtype}")
    if not needs_grad:
        return contextlib.nullcontext()
    from .reference import saved_h_16
    top = getattr(torch._C._autograd, "_top_saved_tensors_default_hooks", None)  # absent: no outer hooks seen
    outer = top(False) if top is not None else None
    outer_pack, outer_unpack = outer if outer is not None else (lambda t: t, lambda t: t)

    def pack(t):
        if t.dtype == torch.float32 and t.shape == x.shape and t.data_ptr() != x.data_ptr():
            h16 = (torch.ops.spikeops.saved_h_16(t, theta.detach(), dtype) if t.device.type == "cpu"
                   else saved_h_16(t, theta.detach(), dtype))
            return _Membrane16(outer_pack(h16))
        return outer_pack(t)

    def unpack(packed):
        return outer_unpack(packed.h16).float() if isinstance(packed, _Membrane16) else outer_unpack(packed)

    return torch.autograd.graph.saved_tensors_hooks(pack, unpack)


class _Membrane16(NamedTuple):
    h16: torch.Tensor


def _integrate(x: torch.Tensor, v0: Optional[torch.Tensor], decay: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
    # A leaky integrator is an LIF neuron that never resets: the kernel's saved membrane
    # before the (never passed) threshold is the integrator's output sequence.
    return torch.ops.spikeops.lif_forward(
        x, v0=v0, r0=None, a0=None, alpha=decay, gamma=gain, theta=_param("threshold", 1.0), reset=ResetMode.none,
        v_reset=0.0, refractory=0, deferred_reset=False, detach_reset=False, surrogate=SurrogateKind.atan,
        sg_height=1.0, sg_width=1.0, track_age=False, age_init=0, return_ages=False, save_for_backward=True)[5]


class _LeakyIntegrate(torch.autograd.Function):
    """y[t] = decay y[t-1] + gain x[t]. The backward pass is the same recursion run backwards
    in time on the output gradient: z[t] = dL/dy[t] + decay z[t+1]; then dL/dx = gain z,
    dL/dv0 = decay z[0], dL/ddecay = sum z[t] y[t-1], dL/dgain = sum z[t] x[t]."""

    @staticmethod
    def forward(ctx, x, v0, decay, gain):
        y = _integrate(x, v0, decay, gain)
        ctx.save_for_backward(x, v0, y, decay, gain)
        return y

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_y):
        x, v0, y, decay, gain = ctx.saved_tensors
        z = _integrate(grad_y.flip(0), None, decay, _param("gain", 1.0)).flip(0)
        need_x, need_v0, need_decay, need_gain = ctx.needs_input_grad
        grad_x = z * gain.to(z.dtype) if need_x else None
        grad_v0 = (z[0] * decay.to(z.dtype)).sum_to_size(v0.shape) if need_v0 else None
        grad_decay = grad_gain = None
        if need_decay:
            before = torch.cat([(v0 if v0 is not None else torch.zeros_like(y[0])).expand_as(y[0])[None], y[:-1]])
            grad_decay = (z * before).sum(0).sum_to_size(decay.shape).to(decay.dtype)
        if need_gain:
            grad_gain = (z * x).sum(0).sum_to_size(gain.shape).to(gain.dtype)
        return grad_x, grad_v0, grad_decay, grad_gain


def leaky_integrate(x: torch.Tensor, v0: Optional[torch.Tensor] = None, *, decay: Param, gain: Param = 1.0):
    """A leaky integrator (LIF neuron without threshold) over all T steps of ``x`` ([T, *]) in
    one fused kernel, differentiable: ``y[t] = decay * y[t-1] + gain * x[t]`` from ``y[-1] = v0``
    (zeros when None). Returns the whole sequence ``y`` ([T, *], x's dtype).

    The synaptic current of a current-based LIF neuron, a membrane readout for membrane
    losses. ``decay`` and ``gain`` are numbers or tensors broadcastable to ``x.shape[1:]``;
    gradients reach ``x``, ``v0`` and tensor ``decay``/``gain`` (the backward pass runs the
    same kernel backwards in time)."""
    _tensor("x", x)
    if v0 is not None:
        _tensor("v0", v0)
    return _LeakyIntegrate.apply(x, v0, _param("decay", decay), _param("gain", gain))


def soft_lif(x: torch.Tensor, *, tau_rc: float = 0.02, tau_ref: float = 0.002, smoothing: float = 0.02,
             gain: float = 1.0, amplitude: float = 0.063) -> torch.Tensor:
    """Soft-LIF rate activation (docs/math.md §3), element-wise, any shape:

    ``amplitude / (tau_ref + tau_rc * log(1 + 1 / rho(gain * x)))`` with the smoothed rectifier
    ``rho(z) = smoothing * log(1 + exp(z / smoothing))``; x = 0 is the firing threshold (the
    bias of 1 is built in). Differentiable (analytic gradient). Defaults: the MNIST constants
    (seconds); ``smoothing`` -> 0 gives the LIF neuron's exact rate curve.
    """
    return torch.ops.spikeops.soft_lif(_tensor("x", x), tau_rc=float(tau_rc), tau_ref=float(tau_ref),
                                       smoothing=float(smoothing), gain=float(gain), amplitude=float(amplitude))


def fs_neuron(x: torch.Tensor, h: torch.Tensor, d: torch.Tensor, threshold: torch.Tensor, *,
              surrogate: Union[str, surrogate_mod.Surrogate] = "fast_sigmoid", return_spikes: bool = False):
    """Few-spikes neuron (docs/math.md §6), element-wise, any shape: K steps on v(1) = x,

    ``z(t) = v(t) > threshold(t); out += d(t) z(t); v(t+1) = v(t) - h(t) z(t)``.

    ``h``, ``d``, ``threshold``: 1-d tensors of the K <= 64 per-step constants (learnable: their
    gradients use ``surrogate`` for dz/dv, as does dL/dx). ``return_spikes=True`` also returns
    the number of spikes of each element (uint8).
    """
    sg = surrogate_mod.get(surrogate)
    out, spikes = torch.ops.spikeops.fs_neuron(
        _tensor("x", x), _tensor("h", h), _tensor("d", d), _tensor("threshold", threshold), surrogate=sg.kind,
        sg_height=sg.height, sg_width=sg.width, count_spikes=return_spikes)
    return (out, spikes) if return_spikes else out


class SubstepState(NamedTuple):
    """State of :func:`lif_substep` neurons after the last step (float32, neuron shape): the
    membrane ``v`` and the refractory time ``r`` left (seconds; it keeps counting down below 0)."""

    v: torch.Tensor
    r: torch.Tensor


def lif_substep(j: torch.Tensor, *, dt: float = 0.001, tau_rc: float = 0.02, tau_ref: float = 0.002,
                min_voltage: float = 0.0, amplitude: float = 1.0, state: Optional[SubstepState] = None):
    """LIF neurons with spike times inside the step (docs/math.md §3), fused over T: the membrane
    follows ``tau_rc dv/dt = J - v`` exactly for the current ``j[t]`` held over each step of
    ``dt`` seconds; a crossing of 1 is located inside the step, the refractory period
    ``tau_ref`` runs from there, and the step in which it ends integrates only its rest. The
    membrane is floored at ``min_voltage``. Over a constant current this fires at the analytic
    LIF rate ``1 / (tau_ref + tau_rc log(1 + 1/(J - 1)))``. Forward only (no gradient).

    ``j``: float32 ``[T, ...]`` input current (threshold 1). Returns ``(spikes, state)``:
    spikes are ``amplitude / dt`` at a spike, else 0 (so their mean over time is
    ``amplitude`` times the rate), and the :class:`SubstepState` after the last step."""
    if state is not None and not isinstance(state, SubstepState):
        raise TypeError(f"state must be a SubstepState (or None), got {type(state).__name__}")
    v0, r0 = (None, None) if state is None else state
    spikes, v, r = torch.ops.spikeops.lif_substep(
        _tensor("j", j), v0, r0, dt=float(dt), tau_rc=float(tau_rc), tau_ref=float(tau_ref),
        min_voltage=float(min_voltage), amplitude=float(amplitude))
    return spikes, SubstepState(v, r)


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
    _tensor("a_in", a_in)
    for name, value in (("du", du), ("dv", dv), ("vth_mant", vth_mant), ("bias_exp", bias_exp),
                        ("refractory", refractory)):
        _integer(name, value)
    if state is not None and not isinstance(state, FixedState):
        raise TypeError(f"state must be a FixedState (or None), got {type(state).__name__}")
    u0, v0, r0 = state if state is not None else (None, None, None)
    spikes, u, v, r, u_seq, v_seq = torch.ops.spikeops.lif_fixed(
        a_in, du, dv, vth_mant, bias_mant, bias_exp, refractory, reset, du_plus_one, u0, v0, r0, return_states)
    out = (spikes, FixedState(u, v, r))
    return out + (u_seq, v_seq) if return_states else out


class PackedSpikes:
    """0/1 spikes held as bits (docs/math.md §10), from :func:`pack_spikes`. The last
    ``neuron_dims`` dimensions of ``shape`` are the n neurons of a row; each row is
    ``ceil(n / 64)`` int64 ``words`` (bit b of word w is neuron 64 w + b, bits past n are 0), and
    ``row_start`` (int64 [rows + 1]) is the running count of spikes over the rows.
    :func:`spike_linear` and :func:`spike_conv2d` take it in place of the dense spikes."""

    __slots__ = ("words", "row_start", "shape", "dtype")

    def __init__(self, words: torch.Tensor, row_start: torch.Tensor, shape: torch.Size, dtype: torch.dtype):
        self.words, self.row_start, self.shape, self.dtype = words, row_start, torch.Size(shape), dtype

    @property
    def rows(self) -> int:
        return self.row_start.numel() - 1

    @property
    def n(self) -> int:
        """Neurons per row."""
        return self.shape.numel() // self.rows if self.rows else 0

    @property
    def spike_count(self) -> int:
        return int(self.row_start[-1])

    @property
    def rate(self) -> float:
        """The fraction of neuron-steps that spiked."""
        return self.spike_count / max(self.shape.numel(), 1)

    @property
    def nbytes(self) -> int:
        """Bytes of the words and row starts."""
        return self.words.nbytes + self.row_start.nbytes

    def to_dense(self) -> torch.Tensor:
        """The spikes as a dense tensor of ``shape`` and ``dtype``."""
        if self.shape.numel() == 0:
            return torch.zeros(self.shape, dtype=self.dtype, device=self.words.device)
        return torch.ops.spikeops.spike_unpack(self.words, self.n).view(self.shape).to(self.dtype)

    def __repr__(self) -> str:
        return (f"PackedSpikes(shape={tuple(self.shape)}, dtype={self.dtype}, rows={self.rows}, "
                f"spikes={self.spike_count})")


def attach_packed(spikes: torch.Tensor, packed: PackedSpikes) -> torch.Tensor:
    """Attaches ``packed`` (the same spikes as bits, e.g. from :func:`lif`'s ``packed``) to
    ``spikes``: :func:`spike_linear` and :func:`spike_conv2d` given ``spikes``, or a contiguous view
    of all of them, use its words instead of packing again, until ``spikes`` is modified in
    place. Returns ``spikes``."""
    if not isinstance(packed, PackedSpikes) or packed.shape != spikes.shape:
        raise ValueError(f"packed must be PackedSpikes of spikes' shape {tuple(spikes.shape)}, got {packed!r}")
    spikes._spikeops_packed = (packed, spikes._version)
    return spikes


def _attached_packed(x: torch.Tensor, neuron_dims: int) -> Optional[PackedSpikes]:
    """The PackedSpikes attached to x (or to the tensor x views whole), as rows of its last
    ``neuron_dims`` dimensions, if x is unchanged since and its rows are those of the words."""
    base = x if x._base is None else x._base
    attached = getattr(base, "_spikeops_packed", None)
    if attached is None or x.dim() < neuron_dims:
        return None
    packed, version = attached
    same = (base._version == version and x.dtype == base.dtype and x.numel() == base.numel() and x.is_contiguous()
            and x.data_ptr() == base.data_ptr() and math.prod(x.shape[x.dim() - neuron_dims:]) == packed.n)
    return PackedSpikes(packed.words, packed.row_start, x.shape, x.dtype) if same else None


def pack_spikes(x: torch.Tensor, neuron_dims: int = 1) -> PackedSpikes:
    """0/1 spikes ``x`` (any float dtype, CPU or CUDA) as bits: rows of the last ``neuron_dims``
    dimensions (1 for a Linear's input [..., n_in], 3 for a convolution's [B, C, H, W]).
    A value other than 0 or 1 is a ValueError."""
    _tensor("x", x)
    neuron_dims = _integer("neuron_dims", neuron_dims)
    if not 1 <= neuron_dims <= x.dim():
        raise ValueError(f"neuron_dims must be in [1, x.dim() = {x.dim()}], got {neuron_dims}")
    rows = x.detach().reshape(*x.shape[:x.dim() - neuron_dims], -1) if neuron_dims > 1 else x.detach()
    words, row_start = torch.ops.spikeops.spike_pack(rows)
    return PackedSpikes(words, row_start, x.shape, x.dtype)


# The spike rate above which the dense GEMM is faster than the event-driven kernels on
# this project's reference CPU (bench/spike_linear.py measures it; bench/NOTES.md).
SPIKE_LINEAR_CROSSOVER = 0.2


class _SpikeLinear(torch.autograd.Function):
    """The event-driven Linear: saves the packed spikes (1 bit per input) and the weight."""

    @staticmethod
    def forward(ctx, x, weight, bias, packed, weight_blocks):
        ctx.x_shape = packed.shape
        ctx.save_for_backward(weight, packed.words, packed.row_start)
        y = torch.ops.spikeops.spike_linear(packed.words, packed.row_start, weight.shape[1], weight, bias,
                                            weight_blocks)
        return y.view(*packed.shape[:-1], weight.shape[0])

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_y):
        weight, words, row_start = ctx.saved_tensors
        g = grad_y.reshape(-1, weight.shape[0])
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_x = (g @ weight).view(ctx.x_shape) if need_x else None
        grad_w = torch.ops.spikeops.spike_linear_grad_weight(words, row_start, weight.shape[1], g) if need_w else None
        grad_b = g.sum(0) if need_b else None
        return grad_x, grad_w, grad_b, None, None


def _dense_spikes(x) -> torch.Tensor:
    return x.to_dense() if isinstance(x, PackedSpikes) else x


def spike_linear_weight_blocks(weight: torch.Tensor) -> torch.Tensor:
    """``weight`` ([n_out, n_in], float32, CPU) in the block layout the event-driven CPU kernels
    read (docs/math.md §10), for :func:`spike_linear`'s ``weight_blocks``: made once, it spares
    every later call with the same weight from making it again (reading and writing all the
    weights, the larger part of a call at low spike rates). Detached: the blocks follow
    ``weight`` only when made again."""
    _tensor("weight", weight)
    return torch.ops.spikeops.spike_linear_weight_blocks(weight.detach())


def spike_linear(x: Union[torch.Tensor, PackedSpikes], weight: torch.Tensor, bias: Optional[torch.Tensor] = None, *,
                 crossover: Optional[float] = None, weight_blocks: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``torch.nn.functional.linear`` for 0/1 spikes ``x`` ([..., n_in], or :class:`PackedSpikes`
    of it, which carry no gradient), event-driven (docs/math.md §10): each output adds the
    weights of the active inputs only, and the weight gradient adds the output gradients of the
    rows where an input was active; backward keeps the spikes packed, 1 bit each. The input
    gradient stays the dense product.

    Above the spike rate ``crossover`` (default :data:`SPIKE_LINEAR_CROSSOVER`, measured on CPU)
    the dense GEMM is faster and runs instead, as it does for non-float32 weights. On CUDA the
    event-driven kernels run only when ``crossover`` is given (their crossover is not measured
    yet); by default CUDA tensors take the dense GEMM. A value of ``x`` other than 0 or 1 is a
    ValueError. The sums run in a fixed order (bias, then inputs ascending; rows ascending),
    so results do not depend on the thread count; they differ from the GEMM's by float
    rounding only.

    ``weight_blocks``: :func:`spike_linear_weight_blocks` of ``weight`` (CPU), for repeated calls
    with an unchanged weight; the caller keeps them in step with it."""
    packed = x if isinstance(x, PackedSpikes) else None
    shape = packed.shape if packed is not None else _tensor("x", x).shape
    _tensor("weight", weight)
    if weight.dim() != 2 or len(shape) < 1 or shape[-1] != weight.shape[1]:
        raise ValueError(f"x [..., n_in] and weight [n_out, n_in] must agree on n_in, got shapes {tuple(shape)} "
                         f"and {tuple(weight.shape)}")
    if packed is not None and packed.n != shape[-1]:
        raise ValueError(f"x must be PackedSpikes of rows of n_in = {shape[-1]} neurons (neuron_dims=1), got {packed}")
    device = weight.device.type
    if weight.dtype != torch.float32 or torch.compiler.is_compiling() or device not in ("cpu", "cuda") or (
            device == "cuda" and crossover is None) or (packed is None and x.device != weight.device):
        return torch.nn.functional.linear(_dense_spikes(x), weight, bias)
    if packed is None:
        packed = _attached_packed(x, 1) or pack_spikes(x)
    limit = SPIKE_LINEAR_CROSSOVER if crossover is None else float(crossover)
    if packed.spike_count > limit * shape.numel():
        return torch.nn.functional.linear(_dense_spikes(x), weight, bias)
    return _SpikeLinear.apply(None if x is packed else x, weight, bias, packed, weight_blocks)


# The spike rate above which the dense convolution is faster than the event-driven one on
# this project's reference CPU (bench/spike_conv.py measures it; bench/NOTES.md).
SPIKE_CONV_CROSSOVER = 0.05


class _SpikeConv2d(torch.autograd.Function):
    """A convolution whose input is spikes, saved packed (1 bit each) for the weight gradient.
    ``event``: the forward pass and the weight gradient run on the active inputs only;
    otherwise both are the dense convolution's (on the unpacked spikes in the backward pass)."""

    @staticmethod
    def forward(ctx, x, weight, bias, packed, conv, event):
        ctx.conv, ctx.has_bias, ctx.event, ctx.x_meta = conv, bias is not None, event, (packed.shape, packed.dtype)
        ctx.save_for_backward(weight, packed.words, packed.row_start)
        if event:
            stride, padding, dilation, _ = conv
            return torch.ops.spikeops.spike_conv2d(packed.words, packed.row_start, packed.shape[1:], weight, bias,
                                                   stride, padding, dilation)
        return torch.nn.functional.conv2d(_dense_spikes(packed) if x is None else x, weight, bias, *conv)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_y):
        weight, words, row_start = ctx.saved_tensors
        shape, dtype = ctx.x_meta
        stride, padding, dilation, groups = ctx.conv
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        if need_w and ctx.event:
            grad_w = torch.ops.spikeops.spike_conv2d_grad_weight(words, row_start, shape[1:], grad_y, weight.shape[2:],
                                                                 stride, padding, dilation)
        elif need_w:
            x = PackedSpikes(words, row_start, shape, dtype).to_dense()
            grad_x, grad_w, grad_b = torch.ops.aten.convolution_backward(
                grad_y, x, weight, [weight.shape[0]] if ctx.has_bias else None, stride, padding, dilation, False,
                [0, 0], groups, [need_x, True, need_b])
            return grad_x, grad_w, grad_b, None, None, None
        else:
            grad_w = None
        grad_x = torch.nn.grad.conv2d_input(shape, weight, grad_y, stride, padding, dilation, groups) if need_x else None
        grad_b = grad_y.sum((0, 2, 3)) if need_b else None
        return grad_x, grad_w, grad_b, None, None, None


def _pair(name: str, value) -> tuple:
    pair = (value, value) if isinstance(value, int) else tuple(value) if isinstance(value, (tuple, list)) else ()
    if len(pair) != 2 or any(not isinstance(v, int) or isinstance(v, bool) for v in pair):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    return pair


def spike_conv2d(x: Union[torch.Tensor, PackedSpikes], weight: torch.Tensor, bias: Optional[torch.Tensor] = None,
                 stride=1, padding=0, dilation=1, groups: int = 1, *, crossover: Optional[float] = None
                 ) -> torch.Tensor:
    """``torch.nn.functional.conv2d`` for 0/1 spikes ``x`` ([B, C, H, W], or :class:`PackedSpikes`
    of it with ``neuron_dims=3``, which carry no gradient), with the input saved for the
    backward pass as bits, 1 per spike instead of 4 bytes (docs/math.md §10.1).

    At spike rates up to ``crossover`` (default :data:`SPIKE_CONV_CROSSOVER`) the forward pass
    and the weight gradient are event-driven (float32 weights, one group): each active input
    adds its weights to the outputs it reaches, in a fixed order, so results do not depend on
    the thread count and differ from ``conv2d``'s by float rounding only. Above it, and for
    other dtypes or groups, the dense convolution runs (exactly ``conv2d``'s values and
    gradients, the spikes unpacked inside the backward pass). ``padding`` is a number or pair
    (not a string). On CUDA it is ``conv2d`` (packed spikes have CPU kernels only)."""
    packed = x if isinstance(x, PackedSpikes) else None
    shape = packed.shape if packed is not None else _tensor("x", x).shape
    _tensor("weight", weight)
    if len(shape) != 4 or weight.dim() != 4:
        raise ValueError(f"x must be [B, C, H, W] and weight [C_out, C / groups, kH, kW], got shapes {tuple(shape)} "
                         f"and {tuple(weight.shape)}")
    if packed is not None and packed.rows != shape[0]:
        raise ValueError(f"x must be PackedSpikes of one row per image (neuron_dims=3), got {packed}")
    conv = (_pair("stride", stride), _pair("padding", padding), _pair("dilation", dilation), _integer("groups", groups))
    if weight.device.type != "cpu" or torch.compiler.is_compiling() or (packed is None and x.device.type != "cpu"):
        return torch.nn.functional.conv2d(_dense_spikes(x), weight, bias, *conv)
    if packed is None:
        packed = _attached_packed(x, 3) or pack_spikes(x, neuron_dims=3)
    limit = SPIKE_CONV_CROSSOVER if crossover is None else float(crossover)
    event = weight.dtype == torch.float32 and groups == 1 and packed.spike_count <= limit * shape.numel()
    return _SpikeConv2d.apply(None if x is packed else x, weight, bias, packed, conv, event)
