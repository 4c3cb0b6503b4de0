"""The LIF neuron in plain PyTorch: the definition the kernels are tested against.

A Python loop over time (``unbind``, whose backward is linear in T) with a
custom autograd Function for the spike: exact Heaviside forward, surrogate
backward. Autograd then gives BPTT and every parameter gradient. Written from
docs/math.md, independently of the kernels and of their Python layer (it
imports only the surrogates' plain-PyTorch formulas); slow by design.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import torch

from . import surrogate as surrogate_mod

__all__ = ["State", "spike", "lif", "round_saved_h", "soft_lif", "fs_neuron", "lif_substep"]

RESET_MODES = ("subtract", "zero", "none")
COUNTER_MAX = 2 ** 24  # refractory counts and spike ages saturate here


class State(NamedTuple):
    """The neuron state after the last step, with the fields of spikeops.functional.LIFState."""

    v: torch.Tensor
    refractory: Optional[torch.Tensor] = None
    age: Optional[torch.Tensor] = None


class _Spike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, theta, age, sg):
        ctx.save_for_backward(u, theta, age)
        ctx.sg = sg
        return (u > 0).to(u.dtype)

    @staticmethod
    def backward(ctx, grad):
        u, theta, age = ctx.saved_tensors
        return grad * ctx.sg.grad(u, theta, age), None, None, None


class _ZeroReset(torch.autograd.Function):
    """v = h (1 - s) + v_reset s for s in {0, 1}: v_reset where s = 1 (also for an infinite h,
    where the product form would give inf * 0 = NaN), h elsewhere; the derivatives of the
    product form: 1 - s for h, v_reset - h for s."""

    @staticmethod
    def forward(ctx, h, s, v_reset):
        ctx.save_for_backward(h, s)
        ctx.v_reset = v_reset
        return torch.where(s > 0, torch.full_like(h, v_reset), h)

    @staticmethod
    def backward(ctx, grad):
        h, s = ctx.saved_tensors
        return grad * (1 - s), grad * (ctx.v_reset - h), None


def spike(u: torch.Tensor, theta: torch.Tensor, age: Optional[torch.Tensor], sg: surrogate_mod.Surrogate):
    """Heaviside(u) with the surrogate's derivative; theta and age only shape the surrogate."""
    theta = torch.as_tensor(theta, dtype=u.dtype, device=u.device).detach().expand_as(u)
    age = torch.zeros_like(u) if age is None else age.to(u.dtype).expand_as(u)
    return _Spike.apply(u, theta, age, sg)


def lif(x, state=None, *, decay=None, tau=None, gain=1.0, threshold=1.0, reset="subtract", v_reset=0.0,
        refractory=0, detach_reset=False, deferred_reset=False, surrogate="atan", track_age=False,
        age_init=1000, return_ages=False, return_membrane=False, index_time=False):
    """Same arguments and results as :func:`spikeops.functional.lif`; ``state`` is anything
    with the fields ``v``, ``refractory`` and ``age`` (or None).

    ``index_time=True`` reads ``x[t]`` per step instead of ``x.unbind(0)``: the way loops are
    often written, whose backward is quadratic in T (each ``x[t]`` gradient is a full-size
    tensor). Kept for benchmarks."""
    if reset not in RESET_MODES:
        raise ValueError(f"reset must be one of {RESET_MODES}, got {reset!r}")
    if tau is not None:
        decay = 1.0 - 1.0 / tau  # docs/math.md §1
    elif decay is None:
        decay = 0.5
    sg = surrogate_mod.get(surrogate)
    track = track_age or return_ages or sg.uses_ages
    alpha = torch.as_tensor(decay, dtype=x.dtype, device=x.device)
    gamma = torch.as_tensor(gain, dtype=x.dtype, device=x.device)
    theta = torch.as_tensor(threshold, dtype=x.dtype, device=x.device)
    shape = x.shape[1:]

    state = state or State(None)
    v = state.v.to(x.dtype) if state.v is not None else torch.full(shape, float(v_reset), dtype=x.dtype,
                                                                        device=x.device)
    # Counters are held in [0, 2^24] (docs/math.md §1).
    r = state.refractory.clamp(0, COUNTER_MAX) if state.refractory is not None else torch.zeros(
        shape, dtype=torch.int32, device=x.device)
    a_state = state.age.clamp(0, COUNTER_MAX) if state.age is not None else torch.full(
        shape, age_init, dtype=torch.int32, device=x.device)

    spikes, ages, hs = [], [], []
    s_last = spike(v - theta, theta, a_state, sg) if deferred_reset else None
    steps = (x[t] for t in range(x.shape[0])) if index_time else x.unbind(0)
    for x_t in steps:
        age_t = (a_state + 1).clamp(max=COUNTER_MAX) if track else None
        if deferred_reset:
            s_prev = s_last.detach() if detach_reset else s_last
            v_in = v * (1 - s_prev) + v_reset * s_prev if reset == "zero" else v
            h = alpha * v_in + gamma * x_t
            if reset == "subtract":
                h = h - theta * s_prev
        else:
            h = alpha * v + gamma * x_t
        held = None
        if refractory > 0:
            held = r > 0
            h = torch.where(held, torch.full_like(h, float(v_reset)), h)
        hs.append(h.detach())
        s = spike(h - theta, theta, age_t, sg)
        if held is not None:
            s = s * (~held).to(x.dtype)
        s_r = s.detach() if detach_reset else s
        if deferred_reset or reset == "none":
            v = h
        elif reset == "subtract":
            v = h - theta * s_r
        else:
            v = _ZeroReset.apply(h, s_r, float(v_reset))
        fired = s > 0
        if refractory > 0:
            r = torch.where(fired, refractory, torch.clamp(r - 1, min=0)).to(torch.int32)
        if track:
            ages.append(age_t)
            a_state = torch.where(fired, 0, age_t).to(torch.int32)
        spikes.append(s)
        s_last = s
    new_state = State(v, r if refractory > 0 else None, a_state if track else None)
    out = (torch.stack(spikes), new_state)
    if return_ages:
        out += (torch.stack(ages).to(torch.int32),)
    if return_membrane:
        out += (torch.stack(hs),)
    return out


def round_saved_h(h: torch.Tensor, theta, dtype: torch.dtype) -> torch.Tensor:
    """The pre-spike membrane ``h`` (float32) as the CUDA kernels save it for float16/bfloat16 data.

    Rounded to nearest in ``dtype``, except where rounding carried it across the threshold: the
    backward pass recomputes each spike as ``saved > theta``, so there the neighbouring value on
    h's side (one ulp away) is kept instead. A finite h beyond the type's range saturates to its
    largest finite value; -inf (a refractory step) stays. Returns the saved values as float32."""
    return saved_h_16(h, theta, dtype).float()


def saved_h_16(h: torch.Tensor, theta, dtype: torch.dtype) -> torch.Tensor:
    """:func:`round_saved_h`'s values as a ``dtype`` tensor (what ``functional.lif(...,
    saved_membrane=dtype)`` keeps for the backward pass). The few values that rounding carried
    across the threshold or out of range are fixed one by one."""
    if dtype not in (torch.float16, torch.bfloat16):
        raise ValueError(f"dtype must be torch.float16 or torch.bfloat16, got {dtype}")
    theta = torch.as_tensor(theta, dtype=torch.float32, device=h.device)
    h = h.float()
    rounded = h.to(dtype)
    wrong = ((h > theta) != (rounded.float() > theta)) | (rounded.isinf() & h.isfinite())
    where = wrong.nonzero(as_tuple=True)
    if where[0].numel() == 0:
        return rounded
    h_w, r_w = h[where], rounded[where]
    theta_w = theta.expand(h.shape)[where]
    r_w = torch.where(r_w.isinf() & h_w.isfinite(),
                      torch.full_like(h_w, torch.finfo(dtype).max).copysign(h_w).to(dtype), r_w)
    fired = h_w > theta_w
    crossed = fired != (r_w.float() > theta_w)
    bits = r_w.view(torch.int16).to(torch.int32) & 0xFFFF
    negative = (bits & 0x8000) != 0
    step = torch.where(negative != fired, bits + 1, bits - 1)  # +1 moves away from zero
    step = torch.where((bits & 0x7FFF) == 0, torch.where(fired, 0x0001, 0x8001), step)
    bits = torch.where(crossed, step, bits)
    bits = torch.where(bits >= 0x8000, bits - 0x10000, bits).to(torch.int16)
    rounded[where] = bits.view(dtype)
    return rounded


def soft_lif(x, *, tau_rc=0.02, tau_ref=0.002, smoothing=0.02, gain=1.0, amplitude=0.063):
    """Soft-LIF rate (docs/math.md §3) by its formula; autograd gives the derivative."""
    s = smoothing * torch.nn.functional.softplus(gain * x / smoothing)
    return amplitude / (tau_ref + tau_rc * torch.log1p(1 / s))


def lif_substep(j, *, dt=0.001, tau_rc=0.02, tau_ref=0.002, min_voltage=0.0, amplitude=1.0, state=None):
    """docs/math.md §3's LIF with spike times inside the step, one step at a time in float64:
    returns (spikes, (v, r)) like :func:`spikeops.functional.lif_substep`."""
    j = j.double()
    v = torch.zeros_like(j[0]) if state is None else state[0].double()
    r = torch.zeros_like(j[0]) if state is None else state[1].double()
    spikes = []
    for j_t in j.unbind(0):
        r = r - dt
        delta = (dt - r).clamp(0, dt)
        v = v - (j_t - v) * torch.expm1(-delta / tau_rc)
        spiked = v > 1
        t_spike = torch.where(j_t > 1, dt + tau_rc * torch.log1p((1 - v) / (j_t - 1)), torch.full_like(v, dt))
        v = torch.where(spiked, torch.zeros_like(v), v.clamp(min=min_voltage))
        r = torch.where(spiked, tau_ref + t_spike, r)
        spikes.append(spiked.double() * (amplitude / dt))
    return torch.stack(spikes), (v, r)


def fs_neuron(x, h, d, threshold, *, surrogate="fast_sigmoid", return_spikes=False):
    """The K-step FS neuron (docs/math.md §6), a Python loop over its steps."""
    sg = surrogate_mod.get(surrogate)
    normalised = isinstance(sg, surrogate_mod.FSTriangle)  # a triangle on (v - T) / (|v| + 1)
    step_sg = surrogate_mod.Triangle(1.0, height=sg.height) if normalised else sg
    v, out, count = x, torch.zeros_like(x), torch.zeros_like(x)
    for t in range(h.shape[0]):
        u = v - threshold[t]
        z = spike(u / (v.abs() + 1) if normalised else u, 1.0, None, step_sg)
        out = out + d[t] * z
        v = v - h[t] * z
        count = count + z.detach()
    return (out, count.to(torch.uint8)) if return_spikes else out


def lif_fixed(a_in, *, du, dv, vth_mant, bias_mant=None, bias_exp=0, refractory=0, reset="zero",
              du_plus_one=False, state=None):
    """docs/math.md §8 in int64 tensor arithmetic, one step at a time: returns (spikes uint8,
    (u, v, r) int32, u_seq, v_seq) like :func:`spikeops.functional.lif_fixed` with
    ``return_states=True``."""
    a = a_in.to(torch.int64)
    shape = a.shape[1:]
    zeros = torch.zeros(shape, dtype=torch.int64, device=a.device)
    u, v, r = (zeros.clone() for _ in range(3)) if state is None else (s.to(torch.int64) for s in state)
    bias = zeros if bias_mant is None else bias_mant.to(torch.int64).expand(shape) * 2 ** bias_exp
    keep_u, keep_v = 4096 - du - int(du_plus_one), 4096 - dv
    threshold, limit = vth_mant * 64, 2 ** 23 - 1

    def decay(y, keep):
        return torch.sign(y) * ((y.abs() * keep) >> 12)

    def wrap24(y):
        return (y + 2 ** 23) % 2 ** 24 - 2 ** 23

    spikes, us, vs = [], [], []
    for t in range(a.shape[0]):
        u = wrap24(decay(u, keep_u) + a[t] * 64)
        charged = (decay(v, keep_v) + u + bias).clamp(-limit, limit)
        refractory_now = r > 0
        s = (charged > threshold) & ~refractory_now
        after = charged - threshold if reset == "subtract" else zeros
        v = torch.where(refractory_now, zeros, torch.where(s, after, charged))
        r = torch.where(s, torch.full_like(r, refractory), torch.where(refractory_now, r - 1, zeros))
        spikes.append(s.to(torch.uint8))
        us.append(u)
        vs.append(v)
    as32 = [x.to(torch.int32) for x in (u, v, r)]
    return (torch.stack(spikes), tuple(as32), torch.stack(us).to(torch.int32), torch.stack(vs).to(torch.int32))
