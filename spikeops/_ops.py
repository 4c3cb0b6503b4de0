"""Loads the compiled ops and registers their autograd formulas. (Their fake
kernels are the ops' own C++ implementations on meta tensors: the same argument
checks as eager, no kernel launched.)"""
from __future__ import annotations

import torch

from . import _C  # noqa: F401  (importing registers torch.ops.spikeops.*)

_lib = torch.ops.spikeops


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


def _soft_lif_setup_context(ctx, inputs, output):
    ctx.save_for_backward(inputs[0])
    ctx.constants = inputs[1:]


def _soft_lif_backward(ctx, grad):
    (x,) = ctx.saved_tensors
    return (_lib.soft_lif_backward(grad, x, *ctx.constants),) + (None,) * 5


torch.library.register_autograd("spikeops::soft_lif", _soft_lif_backward, setup_context=_soft_lif_setup_context)


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
