"""Quantisation of a float SNN to the fixed-point neuron of docs/math.md §8, and integer
emulation of the whole network.

A float SNN here is an ``nn.Sequential`` over ``[T, B, ...]`` as :func:`spikeops.convert.convert_rate`
or direct training builds it: ``TimeDistributed`` Conv2d/Linear layers, each followed by
``spikeops.nn.LIF`` neurons (scalar decay and threshold) or, for the last one, by nothing
(the non-spiking output whose currents are integrated); ``TimeDistributed`` AvgPool2d and
Flatten in between; a ``TimeDistributed`` BatchNorm right after a weighted layer is folded.

Each weighted layer gets a ``unit``, a power of two: the float current that one integer unit
of synaptic input stands for. Weights become ``mant * 2^exp`` units (``mant`` even, 8-bit),
the threshold ``vth_mant = theta / unit``, biases ``bias_mant * 2^bias_exp`` in voltage units
(64 per input unit), the decay ``dv = 4096 (1 - decay)``; the float neuron has no current
state, so ``du = 4096`` (u is this step's input). ``unit`` is the smallest power of two that
keeps every quantity in range: the worst-case input of a step (the sum of a neuron's absolute
weights times the largest input event, plus its bias) added to a membrane at threshold stays
inside the 24-bit voltage, so the current never wraps and the voltage saturates only far
below zero, where the float neuron is many steps from firing; the weight and bias exponents
stay <= 7. The weight exponent is then the smallest that fits the layer's largest weight:
the finest grid that covers the layer's range. A float network whose values already lie on
these grids (dyadic weights, say) is represented exactly. An average pool of k x k before a
weighted layer is a sum pool (an integer) with the layer's weights divided by k^2, which is
the same connectivity.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import torch
from torch import nn

from .. import functional as F
from ..data import Data, sequences
from ..nn import LIF, TimeDistributed

WEIGHT_MANT_MIN, WEIGHT_MANT_MAX = -256, 254   # even 8-bit mantissas
MAX_EXP = 7
STATE_MAX = 2 ** 23 - 1
BIAS_MANT_MIN, BIAS_MANT_MAX = -4096, 4095
ACTIVATION_SHIFT = 64


def weight_exponent(max_abs: float) -> int:
    """The smallest exponent e in [0, 7] with ``max_abs <= 254 * 2^e`` (``max_abs`` in integer
    units); ValueError if none."""
    for e in range(MAX_EXP + 1):
        if max_abs <= WEIGHT_MANT_MAX * 2 ** e * (1 + 1e-12):  # the tolerance absorbs the unit's rounding
            return e
    raise ValueError(f"weights of magnitude {max_abs} units do not fit 8-bit mantissas with exponent <= 7")


def quantize_weights(w: torch.Tensor, unit: float):
    """``w / unit`` as even 8-bit mantissas times ``2^e`` with the smallest e that fits
    (round to nearest even mantissa). Returns ``(mant int32, e)``."""
    if not 0 < unit < math.inf:
        raise ValueError(f"unit must be a finite number > 0, got {unit!r}")
    if not bool(torch.isfinite(w).all()):
        raise ValueError("w (the weights) holds NaN or infinite values, which have no fixed-point form")
    scaled = w.double() / unit
    e = weight_exponent(scaled.abs().max().item() if scaled.numel() else 0.0)
    mant = (torch.round(scaled / 2 ** (e + 1)) * 2).clamp(WEIGHT_MANT_MIN, WEIGHT_MANT_MAX)
    return mant.to(torch.int32), e


def quantize_bias(b: torch.Tensor):
    """Voltage-unit biases as 13-bit mantissas times ``2^e``, smallest e in [0, 7] that fits."""
    if not bool(torch.isfinite(b).all()):
        raise ValueError("b (the biases) holds NaN or infinite values, which have no fixed-point form")
    mag = b.abs().max().item() if b.numel() else 0.0
    for e in range(MAX_EXP + 1):
        if mag <= BIAS_MANT_MAX * 2 ** e + 2 ** e / 2:
            mant = torch.round(b.double() / 2 ** e).clamp(BIAS_MANT_MIN, BIAS_MANT_MAX)
            return mant.to(torch.int32), e
    raise ValueError(f"biases of magnitude {mag} voltage units do not fit a 13-bit mantissa with exponent <= 7")


@dataclass
class FixedLayer:
    """One weighted layer in integers, with the neurons it feeds (``spiking``) or the output."""
    module: nn.Module                  # the float Conv2d/Linear (its shape and stride; weights unused)
    weight_mant: torch.Tensor          # int32, even, in [-256, 254]
    weight_exp: int
    unit: float                        # float current per integer unit of synaptic input
    sum_pool: int = 1                  # k of a k x k sum pool on this layer's input (folded average pool)
    flatten_before: bool = False
    spiking: bool = True
    bias_mant: Optional[torch.Tensor] = None   # int32 per output channel (voltage units / 2^bias_exp)
    bias_exp: int = 0
    output_bias: Optional[torch.Tensor] = None  # the output layer's bias in input units (float64)
    du: int = 4096
    dv: int = 0
    vth_mant: int = 0
    reset: str = "subtract"
    refractory: int = 0
    du_plus_one: bool = False
    v_init: int = 0                    # initial voltage (a float v_reset start, in voltage units)
    errors: Dict[str, float] = field(default_factory=dict)

    def synaptic_input(self, x: torch.Tensor) -> torch.Tensor:
        """Integer synaptic input ``[T, B, ...]`` (int32) for integer input events ``x``."""
        T, B = x.shape[:2]
        x = x.flatten(0, 1)
        if self.sum_pool > 1:
            k = self.sum_pool
            x = torch.round(nn.functional.avg_pool2d(x.double(), k) * (k * k))
        if self.flatten_before:
            x = x.flatten(1)
        # Integers are exact in float64 up to 2^53: far above any 8-bit-mantissa sum here.
        w = self.weight_mant.double()
        if isinstance(self.module, nn.Conv2d):
            m = self.module
            acc = nn.functional.conv2d(x.double(), w, None, m.stride, m.padding, m.dilation, m.groups)
        else:
            acc = nn.functional.linear(x.double(), w)
        acc = acc * 2 ** self.weight_exp
        if acc.abs().max().item() >= 2 ** 31:
            raise OverflowError("synaptic input exceeds int32; the layer's inputs are not spikes or counts")
        return acc.to(torch.int32).unflatten(0, (T, B))


class FixedNetwork(nn.Module):
    """A quantised SNN run in integers. ``forward(x_seq)`` takes integer-valued input events
    ``[T, B, ...]`` (spikes or counts, e.g. :func:`spikeops.nn.encode_rate`) and returns the
    output readout in float current units ``[B, classes]`` (the mean output current, as
    :func:`spikeops.nn.integrate`); ``last_spikes`` then holds each neuron layer's uint8 spikes."""

    def __init__(self, layers: Sequence[FixedLayer]):
        super().__init__()
        self.layers = list(layers)
        self.last_spikes: List[torch.Tensor] = []

    @torch.no_grad()
    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if not torch.equal(x_seq, torch.round(x_seq)):
            raise ValueError("the fixed-point network takes integer input events (spikes or counts); encode analog "
                             "input first, e.g. with spikeops.nn.encode_rate")
        h = x_seq
        self.last_spikes = []
        for layer in self.layers:
            a_in = layer.synaptic_input(h)
            if not layer.spiking:
                total = a_in.double().sum(0) + layer.output_bias.view(-1, *([1] * (a_in.dim() - 3))) * a_in.shape[0]
                return (total * layer.unit / a_in.shape[0]).float()
            neurons = a_in.shape[1:]
            bias = None
            if layer.bias_mant is not None:  # one per channel, as a per-neuron tensor
                bias = layer.bias_mant.view(1, -1, *([1] * (len(neurons) - 2))).expand(neurons).contiguous()
            state = None
            if layer.v_init:
                zeros = torch.zeros(neurons, dtype=torch.int32, device=a_in.device)
                state = F.FixedState(zeros, torch.full_like(zeros, layer.v_init), zeros)
            spikes, _ = F.lif_fixed(a_in, du=layer.du, dv=layer.dv, vth_mant=layer.vth_mant, bias_mant=bias,
                                    bias_exp=layer.bias_exp, refractory=layer.refractory, reset=layer.reset,
                                    du_plus_one=layer.du_plus_one, state=state)
            self.last_spikes.append(spikes)
            h = spikes.to(torch.float64)
        raise ValueError("the network has no non-spiking output layer")

    def report(self) -> List[Dict[str, object]]:
        """Per layer: the integer parameters and the quantisation errors."""
        rows = []
        for i, l in enumerate(self.layers):
            rows.append(dict(layer=i, kind=type(l.module).__name__, spiking=l.spiking, unit=l.unit,
                             weight_exp=l.weight_exp, vth_mant=l.vth_mant if l.spiking else None,
                             dv=l.dv if l.spiking else None, bias_exp=l.bias_exp if l.spiking else None, **l.errors))
        return rows


def _rel(q: torch.Tensor, ref: torch.Tensor) -> float:
    denom = ref.double().norm().item()
    return (q.double() - ref.double()).norm().item() / denom if denom > 0 else 0.0


def _scalar(value, name: str, index: int) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"neuron layer {index}: per-neuron {name} cannot be quantised to one chip value per layer")
        return float(value.detach())
    return float(value)


def _parse(snn: nn.Module):
    """Groups the float SNN into (weighted module, bias-folded copy, sum-pool k, flatten, LIF or None)."""
    if not isinstance(snn, nn.Sequential):
        raise TypeError(f"quantize needs the nn.Sequential of a float SNN, got {type(snn).__name__}")
    groups, pool, flatten, pending = [], 1, False, None
    for i, m in enumerate(snn):
        inner = m.module if isinstance(m, TimeDistributed) else m
        if isinstance(inner, (nn.Conv2d, nn.Linear)):
            if pending is not None:
                raise ValueError(f"layer {i}: two weighted layers without neurons in between")
            pending = dict(module=inner, position=i, weight=inner.weight.detach().double().clone(),
                           bias=None if inner.bias is None else inner.bias.detach().double().clone(),
                           sum_pool=pool, flatten_before=flatten)
            pool, flatten = 1, False
        elif isinstance(inner, (nn.BatchNorm1d, nn.BatchNorm2d)) and pending is not None:
            scale = torch.rsqrt(inner.running_var.double() + inner.eps)
            if inner.affine:
                scale = scale * inner.weight.detach().double()
            shift = -inner.running_mean.double() * scale + (inner.bias.detach().double() if inner.affine else 0.0)
            pending["weight"] = pending["weight"] * scale.view(-1, *([1] * (pending["weight"].dim() - 1)))
            pending["bias"] = (pending["bias"] if pending["bias"] is not None else 0.0) * scale + shift
        elif isinstance(inner, LIF):
            if pending is None:
                raise ValueError(f"layer {i}: neurons without a weighted layer before them")
            groups.append((pending, inner))
            pending = None
        elif isinstance(inner, nn.AvgPool2d) and pending is None:
            k = inner.kernel_size if isinstance(inner.kernel_size, int) else inner.kernel_size[0]
            stride = inner.stride if isinstance(inner.stride, int) else inner.stride[0]
            if stride != k or inner.padding not in (0, (0, 0)) or pool != 1:
                raise ValueError(f"layer {i}: only non-overlapping k x k average pools (stride k, no padding)")
            pool = k
        elif isinstance(inner, nn.Flatten) and pending is None:
            flatten = True
        elif isinstance(inner, (nn.Dropout, nn.Identity)):
            continue
        else:
            raise TypeError(f"layer {i} ({type(inner).__name__}) has no fixed-point form; supported: Conv2d, Linear, "
                            "BatchNorm after them, spikeops LIF, AvgPool2d and Flatten between neuron layers")
    if pending is None:
        raise ValueError("the SNN must end with a non-spiking weighted output layer")
    groups.append((pending, None))
    return groups


def _power_of_two(x: float) -> float:
    return 2.0 ** math.ceil(math.log2(x))


def quantize(snn: nn.Module, *, max_input: float = 1.0, du_plus_one: bool = False) -> FixedNetwork:
    """Quantises a float SNN (see the module docstring) to a :class:`FixedNetwork`; its
    :meth:`~FixedNetwork.report` gives every layer's integer parameters and quantisation errors
    (relative L2 error of the weights, relative error of threshold, decay and biases).
    ``max_input``: the largest magnitude of an input event (1 for spikes and the rate
    encoder's signed spikes). ``du_plus_one``: target the bit-accurate chip model (current
    decay du + 1; du = 4095)."""
    if not (isinstance(max_input, (int, float)) and max_input > 0 and math.isfinite(max_input)):
        raise ValueError(f"max_input must be a finite number > 0, got {max_input!r}")
    layers = []
    for index, (g, neuron) in enumerate(_parse(snn)):
        k2 = g["sum_pool"] ** 2
        gain = 1.0 if neuron is None else _scalar(neuron.gain, "gain", index)
        if not math.isfinite(gain):
            raise ValueError(f"neuron layer {index}: gain {gain} has no fixed-point form (needs a finite gain)")
        where = f"layer {g['position']} ({type(g['module']).__name__})"
        for name in ("weight", "bias"):
            if g[name] is not None and not bool(torch.isfinite(g[name]).all()):
                raise ValueError(f"{where}: {name} holds NaN or infinite values, which have no fixed-point form")
        w = g["weight"] * gain / k2
        b = None if g["bias"] is None else g["bias"] * gain
        max_w = w.abs().max().item()
        if neuron is None:
            unit = _power_of_two(max_w / (WEIGHT_MANT_MAX * 2 ** MAX_EXP)) if max_w > 0 else 1.0
            mant, e = quantize_weights(w, unit)
            out_bias = torch.zeros(w.shape[0], dtype=torch.float64) if b is None else b / unit
            err = dict(weight_rel_err=_rel(mant.double() * 2 ** e * unit, w))
            layers.append(FixedLayer(g["module"], mant, e, unit, g["sum_pool"], g["flatten_before"], spiking=False,
                                     output_bias=torch.round(out_bias), errors=err))
            continue
        theta = _scalar(neuron.threshold, "threshold", index)
        decay = _scalar(neuron._decay_and_gain()[0], "decay", index)
        if theta <= 0 or not math.isfinite(theta):
            raise ValueError(f"neuron layer {index}: threshold {theta} has no fixed-point form (needs 0 < theta < inf)")
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"neuron layer {index}: decay {decay} has no fixed-point form (needs 0 <= decay <= 1)")
        if not math.isfinite(neuron.v_reset):
            raise ValueError(f"neuron layer {index}: v_reset {neuron.v_reset} has no fixed-point form (needs a finite "
                             "value)")
        if neuron.reset_mode not in ("zero", "subtract"):
            raise ValueError(f"neuron layer {index}: reset {neuron.reset_mode!r} has no fixed-point form "
                             "(zero or subtract)")
        if neuron.reset_mode == "zero" and neuron.v_reset != 0:
            raise ValueError(f"neuron layer {index}: the chip resets to 0, got v_reset={neuron.v_reset}")
        if neuron.deferred_reset:
            raise ValueError(f"neuron layer {index}: deferred_reset has no fixed-point form")
        max_b = 0.0 if b is None else b.abs().max().item()
        events = (max_input if index == 0 else 1.0) * k2  # a sum pool adds up to k^2 events
        worst = (w.abs().flatten(1).sum(1) * events + (b.abs() if b is not None else 0.0)).max().item()
        need = max(ACTIVATION_SHIFT * (theta + worst) / STATE_MAX, max_w / (WEIGHT_MANT_MAX * 2 ** MAX_EXP),
                   ACTIVATION_SHIFT * max_b / (BIAS_MANT_MAX * 2 ** MAX_EXP))
        if not need <= 2.0 ** 1023:  # the unit, a power of two at least this large, would overflow float64
            raise ValueError(f"{where}: weight or bias too large for the fixed-point format: a step's largest input "
                             f"({worst:.3g}) overflows float64")
        unit = _power_of_two(need)
        vth_mant = int(round(theta / unit))
        if vth_mant < 1:
            raise ValueError(
                f"{where}: weight or bias too large for the threshold {theta:g}: the fixed-point format needs a unit "
                f"of {unit:.3g} to hold the largest weight ({max_w:.3g}; 8-bit mantissa, exponent <= {MAX_EXP}: "
                f"{WEIGHT_MANT_MAX} * 2^{MAX_EXP} units), bias ({max_b:.3g}; 13-bit mantissa: {BIAS_MANT_MAX} * "
                f"2^{MAX_EXP} / {ACTIVATION_SHIFT} units) and a step's largest input ({worst:.3g}) plus the threshold "
                f"(24-bit voltage: (2^23 - 1) / {ACTIVATION_SHIFT} units), and the threshold's mantissa theta / unit "
                f"= {theta / unit:.2g} rounds to 0 (needs >= 1)")
        mant, e = quantize_weights(w, unit)
        dv = int(round(4096 * (1.0 - decay)))
        err = dict(weight_rel_err=_rel(mant.double() * 2 ** e * unit, w),
                   threshold_rel_err=abs(vth_mant * unit - theta) / theta,
                   decay_abs_err=abs((4096 - dv) / 4096 - decay))
        bias_mant, bias_exp = None, 0
        if b is not None:
            bias_mant, bias_exp = quantize_bias(b * ACTIVATION_SHIFT / unit)
            err["bias_rel_err"] = _rel(bias_mant.double() * 2 ** bias_exp * unit / ACTIVATION_SHIFT, b)
        v_init = 0
        if neuron.reset_mode == "subtract" and neuron.v_reset:
            v_init = int(round(neuron.v_reset * ACTIVATION_SHIFT / unit))
            v_init = max(-(2 ** 23 - 1), min(2 ** 23 - 1, v_init))
        layers.append(FixedLayer(g["module"], mant, e, unit, g["sum_pool"], g["flatten_before"], spiking=True,
                                 bias_mant=bias_mant, bias_exp=bias_exp, du=4095 if du_plus_one else 4096, dv=dv,
                                 vth_mant=vth_mant, reset=neuron.reset_mode, refractory=int(neuron.refractory),
                                 du_plus_one=du_plus_one, v_init=v_init, errors=err))
    return FixedNetwork(layers)


@torch.inference_mode()
def compare(snn: nn.Module, fixed: FixedNetwork, data: Data, y: Optional[torch.Tensor] = None,
            T: Optional[int] = None, *, encoder="rate", generator: Optional[torch.Generator] = None,
            batch_size: int = 256, max_batches: Optional[int] = None, progress: bool = True) -> Dict[str, object]:
    """Runs the float SNN and its integer emulation on the same input events and reports, per
    neuron layer, the fraction of (neuron, step) spike decisions that agree and the ratio of
    spike counts (fixed / float); with labels also both accuracies. ``data``: inputs (tensors
    or batches, streamed: :mod:`spikeops.data`) encoded over ``T`` steps, or, with ``T`` None,
    a ``[T, B, ...]`` tensor of input events (labels ``y`` beside it)."""
    snn.eval()
    neurons = [m for m in snn.modules() if isinstance(m, LIF)]
    agree = [0.0] * len(neurons)
    counts = [[0.0, 0.0] for _ in neurons]
    total = [0] * len(neurons)
    correct, labelled = [0, 0], 0
    for xb, yb in sequences(data, y, T, encoder=encoder, generator=generator, batch_size=batch_size,
                            max_batches=max_batches, progress=progress, desc="float vs fixed"):
        float_spikes: List[torch.Tensor] = []
        hooks = [n.register_forward_hook(lambda m, i, o: float_spikes.append(o)) for n in neurons]
        try:
            out_float = snn(xb).mean(0)
        finally:
            for h in hooks:
                h.remove()
        out_fixed = fixed(xb)
        for k, (a, b) in enumerate(zip(float_spikes, fixed.last_spikes)):
            a = a != 0
            b = b.bool()
            agree[k] += (a == b).sum().item()
            counts[k][0] += a.sum().item()
            counts[k][1] += b.sum().item()
            total[k] += a.numel()
        if yb is not None:
            correct[0] += (out_float.argmax(-1) == yb).sum().item()
            correct[1] += (out_fixed.argmax(-1) == yb).sum().item()
            labelled += len(yb)
    result: Dict[str, object] = dict(
        spike_agreement=[a / max(t, 1) for a, t in zip(agree, total)],
        spike_count_ratio=[c[1] / c[0] if c[0] else float("nan") for c in counts])
    if labelled:
        result.update(float_accuracy=correct[0] / labelled, fixed_accuracy=correct[1] / labelled)
    return result
