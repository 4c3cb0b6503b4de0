"""Loads the compiled ops and registers their fake kernels and autograd formulas."""
from __future__ import annotations

import torch

from . import _C  # noqa: F401  (importing registers torch.ops.spikeops.*)

_lib = torch.ops.spikeops


def state_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype of the membrane state, parameters and per-neuron gradients for [T, N] data of ``dtype``:
    float32 for float16/bfloat16 data (the kernels keep state and sums in float32), else ``dtype``."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


@torch.library.register_fake("spikeops::lif_forward")
def _lif_forward_fake(x, v0, r0, a0, alpha, gamma, theta, reset, v_reset, refractory, deferred_reset,
                      detach_reset, surrogate, sg_height, sg_width, track_age, age_init, return_ages,
                      save_for_backward):
    neurons = x.shape[1:]
    stdb = surrogate == 5

    def maybe(flag, shape, dtype):
        return x.new_empty(shape if flag else (0,), dtype=dtype)

    return (
        torch.empty_like(x),
        x.new_empty(neurons, dtype=state_dtype(x.dtype)),
        maybe(refractory > 0, neurons, torch.int32),
        maybe(track_age, neurons, torch.int32),
        maybe(return_ages, x.shape, torch.int32),
        maybe(save_for_backward, x.shape, x.dtype),
        maybe(save_for_backward and stdb, x.shape, torch.int16),
    )


@torch.library.register_fake("spikeops::lif_backward")
def _lif_backward_fake(grad_spikes, grad_v, saved_h, saved_age, x, v0, a0, alpha, gamma, theta, reset, v_reset,
                       refractory, deferred_reset, detach_reset, surrogate, sg_height, sg_width, age_init,
                       need_grad_v0, need_grad_alpha, need_grad_gamma, need_grad_theta):
    neurons = saved_h.shape[1:]

    def maybe(flag):
        return saved_h.new_empty(neurons if flag else (0,), dtype=state_dtype(saved_h.dtype))

    return (torch.empty_like(saved_h), maybe(need_grad_v0), maybe(need_grad_alpha), maybe(need_grad_gamma),
            maybe(need_grad_theta))


def _reduce_to(grad: torch.Tensor, param: torch.Tensor) -> torch.Tensor:
    """Sums a per-neuron gradient down to the parameter's own (broadcast) shape."""
    if param.numel() == 1:
        return grad.sum().reshape(param.shape).to(param.dtype)
    return grad.sum_to_size(param.shape).to(param.dtype)


def _lif_setup_context(ctx, inputs, output):
    (x, v0, r0, a0, alpha, gamma, theta, reset, v_reset, refractory, deferred_reset, detach_reset, surrogate,
     sg_height, sg_width, track_age, age_init, return_ages, save_for_backward) = inputs
    saved_h, saved_age = output[5], output[6]
    ctx.config = (reset, v_reset, refractory, deferred_reset, detach_reset, surrogate, sg_height, sg_width,
                  age_init)
    ctx.saved_for_backward = save_for_backward
    ctx.save_for_backward(saved_h, saved_age, x if ctx.needs_input_grad[5] else None, v0, a0, alpha, gamma, theta)
    ctx.set_materialize_grads(False)


def _lif_backward(ctx, grad_spikes, grad_v, *unused):
    if not ctx.saved_for_backward:
        raise RuntimeError("spikeops.lif_forward was called with save_for_backward=False, so it cannot be "
                           "differentiated; call it with save_for_backward=True (spikeops.functional.lif "
                           "does this whenever a gradient is needed)")
    saved_h, saved_age, x, v0, a0, alpha, gamma, theta = ctx.saved_tensors
    if grad_spikes is None and grad_v is None:
        return (None,) * 19
    if grad_spikes is None:
        grad_spikes = torch.zeros_like(saved_h)
    need = ctx.needs_input_grad
    g_x, g_v0, g_alpha, g_gamma, g_theta = _lib.lif_backward(
        grad_spikes, grad_v, saved_h, saved_age, x, v0, a0, alpha, gamma, theta, *ctx.config,
        need[1], need[4], need[5], need[6])
    return (g_x if need[0] else None,
            g_v0 if need[1] else None, None, None,
            _reduce_to(g_alpha, alpha) if need[4] else None,
            _reduce_to(g_gamma, gamma) if need[5] else None,
            _reduce_to(g_theta, theta) if need[6] else None) + (None,) * 12


torch.library.register_autograd("spikeops::lif_forward", _lif_backward, setup_context=_lif_setup_context)


@torch.library.register_fake("spikeops::lif_forward_out")
def _lif_forward_out_fake(x, v0, alpha, gamma, theta, reset, v_reset, deferred_reset, spikes, v, saved_h):
    return None


@torch.library.register_fake("spikeops::lif_backward_out")
def _lif_backward_out_fake(grad_spikes, saved_h, alpha, gamma, theta, reset, v_reset, deferred_reset, detach_reset,
                           surrogate, sg_height, sg_width, grad_x):
    return None


@torch.library.register_fake("spikeops::soft_lif")
def _soft_lif_fake(x, tau_rc, tau_ref, smoothing, gain, amplitude):
    return torch.empty_like(x)


@torch.library.register_fake("spikeops::soft_lif_backward")
def _soft_lif_backward_fake(grad_out, x, tau_rc, tau_ref, smoothing, gain, amplitude):
    return torch.empty_like(x)


def _soft_lif_setup_context(ctx, inputs, output):
    ctx.save_for_backward(inputs[0])
    ctx.constants = inputs[1:]


def _soft_lif_backward(ctx, grad):
    (x,) = ctx.saved_tensors
    return (_lib.soft_lif_backward(grad, x, *ctx.constants),) + (None,) * 5


torch.library.register_autograd("spikeops::soft_lif", _soft_lif_backward, setup_context=_soft_lif_setup_context)


def _fs_compute_dtype(x):
    return torch.float64 if x.dtype == torch.float64 else torch.float32


@torch.library.register_fake("spikeops::fs_neuron")
def _fs_neuron_fake(x, h, d, threshold, surrogate, sg_height, sg_width, count_spikes):
    return torch.empty_like(x), x.new_empty(x.shape if count_spikes else (0,), dtype=torch.uint8)


@torch.library.register_fake("spikeops::fs_neuron_backward")
def _fs_neuron_backward_fake(grad_out, x, h, d, threshold, surrogate, sg_height, sg_width, need_grad_coef):
    coef = h.new_empty(h.shape if need_grad_coef else (0,), dtype=_fs_compute_dtype(x))
    return torch.empty_like(x), coef, coef.clone(), coef.clone()


def _fs_setup_context(ctx, inputs, output):
    x, h, d, threshold, surrogate, sg_height, sg_width, _ = inputs
    ctx.save_for_backward(x, h, d, threshold)
    ctx.surrogate = (surrogate, sg_height, sg_width)
    ctx.set_materialize_grads(False)


def _fs_backward(ctx, grad_out, grad_spikes):
    x, h, d, threshold = ctx.saved_tensors
    need = ctx.needs_input_grad
    if grad_out is None:
        return (None,) * 8
    need_coef = any(need[1:4])
    g_x, g_h, g_d, g_t = _lib.fs_neuron_backward(grad_out, x, h, d, threshold, *ctx.surrogate, need_coef)
    return (g_x if need[0] else None,
            g_h.to(h.dtype) if need[1] else None,
            g_d.to(d.dtype) if need[2] else None,
            g_t.to(threshold.dtype) if need[3] else None) + (None,) * 4


torch.library.register_autograd("spikeops::fs_neuron", _fs_backward, setup_context=_fs_setup_context)


@torch.library.register_fake("spikeops::lif_fixed")
def _lif_fixed_fake(a_in, du, dv, vth_mant, bias_mant, bias_exp, refractory, reset, du_plus_one, u0, v0, r0,
                    return_states):
    neurons = a_in.shape[1:]
    seq = a_in.new_empty(a_in.shape) if return_states else a_in.new_empty(0)
    return (a_in.new_empty(a_in.shape, dtype=torch.uint8), a_in.new_empty(neurons), a_in.new_empty(neurons),
            a_in.new_empty(neurons), seq, seq.clone())
