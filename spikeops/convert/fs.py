"""FS-neuron (few-spikes) conversion of an ANN (docs/math.md §6, Stoeckl & Maass).

Each activation becomes an FS neuron: K steps in which it spikes at most once per step, with
per-step constants h (subtracted), d (output weight) and T (threshold). For ReLU there is an
exact binary code; any other activation gets its constants fitted by gradient descent through
the kernel's surrogate gradient, with random restarts.
"""
from __future__ import annotations

import copy
import math
from typing import Callable, Dict, List, NamedTuple, Optional, Union

import torch
from torch import nn

from .. import functional as F
from ..nn import FSNeuron
from ..data import Data, batches, check_reiterable
from .rate import EMPTY_CALIBRATION, WEIGHTED, _PositivePercentile, fold_batchnorm

__all__ = ["FSCode", "relu_code", "published_code", "PUBLISHED_RANGE", "fit_fs", "convert_fs", "fs_activity"]


class FSCode(NamedTuple):
    """Per-step constants of an FS neuron (1-d, K values each) and the fit's mean squared error."""

    h: torch.Tensor
    d: torch.Tensor
    threshold: torch.Tensor
    mse: float = 0.0

    def neuron(self, **kwargs) -> FSNeuron:
        return FSNeuron(self.h, self.d, self.threshold, **kwargs)


def relu_code(K: int, alpha: float, rounding: str = "floor") -> FSCode:
    """The exact binary code of ReLU on [0, alpha): ``h = d = T(t) = alpha 2^-t``, t = 1..K.

    ``rounding="floor"`` gives the largest multiple of ``q = alpha 2^-K`` below x (the code as
    stated); ``"nearest"`` lowers every threshold by q/2, which rounds x to the nearest multiple.
    Inputs >= alpha saturate at ``alpha (1 - 2^-K)``; inputs <= 0 give 0."""
    if not isinstance(K, int) or not 1 <= K <= 64:
        raise ValueError(f"K must be an int in [1, 64], got {K!r}")
    if not alpha > 0 or not math.isfinite(alpha):
        raise ValueError(f"alpha must be a finite number > 0, got {alpha!r}")
    if rounding not in ("floor", "nearest"):
        raise ValueError(f"rounding must be 'floor' or 'nearest', got {rounding!r}")
    w = alpha * torch.pow(2.0, -torch.arange(1, K + 1, dtype=torch.float64))
    t = w - (alpha * 2.0 ** -K / 2 if rounding == "nearest" else 0.0)
    return FSCode(w.float(), w.float(), t.float())


# The coefficient sets published with the paper (reference code: christophstoeckl/FS-neurons,
# fs_weights.py), as its float32 numbers. They run in the step order of docs/math.md §6.
_PUBLISHED = {
    "sigmoid": dict(
        h=[1.6558512, 1.0989026, 10.7739, 1.3579437, 1.0146959, 0.8972655, 2.1207616, 1.6949341, 3.6397197,
           -2.1483946, 5.1177883, 0.0],
        d=[0.37689912, 0.21977554, 0.40271342, 0.17005783, 0.09584032, 0.06293014, 0.04360681, -0.0443096,
           0.01999909, 0.07107325, 0.01502249, 0.01021793],
        threshold=[-0.00824843, -0.9319625, 1.0080122, -1.2074932, -1.7885877, -2.7065408, -3.2715735, 0.07132628,
                   -3.719372, -0.543918, -3.7693157, -5.5447803]),
    "swish": dict(
        h=[0.7844085, 1.7550646, 1.4212719, 1.9244663, 1.4400164, 1.9249276, 1.6100428, 1.29061, 0.83985287,
           3.0827985, 0.43503317, 0.5155389, 0.3269445, 7.618048, -14.419675, 0.0],
        d=[0.40088242, 1.8856316, 1.4915457, 1.947229, 1.4717816, 1.9147849, 1.6389303, 1.2934641, 0.8703124,
           0.68460804, 0.44262582, 0.32832766, 0.13907616, -0.26217145, 0.23736191, -0.14830568],
        threshold=[0.05946945, 1.6541206, 1.3066754, 1.3267198, 1.1000695, 1.2308974, 1.1188028, 0.9472501,
                   0.5447531, 1.0236325, 0.11921431, -0.12855051, -0.44731247, -2.1383545, 1.0, -4.109145]),
}
# The published ReLU set: K = 10 steps of the binary code with alpha = 25.
PUBLISHED_RELU_K, PUBLISHED_RELU_ALPHA = 10, 25.0
# The input range on which docs/math.md §6 states each published set's error.
PUBLISHED_RANGE = {"relu": (0.0, 25.0), "sigmoid": (-8.0, 8.0), "swish": (-8.0, 8.0)}


def published_code(name: str) -> FSCode:
    """A coefficient set published with the FS-neuron paper: ``"relu"`` (K = 10,
    ``h = d = T = 25 * 2^-t``), ``"sigmoid"`` (K = 12) or ``"swish"`` (K = 16, x * sigmoid(x)).
    ``mse`` is the mean squared error against the function on 100,001 evenly spaced points of
    ``PUBLISHED_RANGE[name]``."""
    if name == "relu":
        code = relu_code(PUBLISHED_RELU_K, PUBLISHED_RELU_ALPHA, "floor")
        fn = torch.relu
    elif name in _PUBLISHED:
        code = FSCode(*(torch.tensor(_PUBLISHED[name][k], dtype=torch.float32) for k in ("h", "d", "threshold")))
        fn = torch.sigmoid if name == "sigmoid" else nn.functional.silu
    else:
        raise ValueError(f"name must be 'relu', 'sigmoid' or 'swish', got {name!r}")
    x = torch.linspace(*PUBLISHED_RANGE[name], 100001)
    mse = (F.fs_neuron(x, code.h, code.d, code.threshold) - fn(x)).pow(2).mean().item()
    return code._replace(mse=mse)


def fit_fs(fn: Callable[[torch.Tensor], torch.Tensor], K: int, x_range=(-10.0, 10.0), *, points: int = 2000,
           steps: int = 3000, restarts: int = 8, lr: float = 0.02, surrogate="fast_sigmoid",
           seed: int = 0) -> FSCode:
    """Fits h, d, T of a K-step FS neuron so its output approximates ``fn`` on ``x_range``
    (mean squared error on ``points`` evenly spaced inputs), by Adam through the kernel's
    surrogate gradient from ``restarts`` random starts; returns the best.

    Starts: thresholds spread over the range's upper part, h = d = a binary-like halving
    sequence scaled to the range of ``fn``, randomly perturbed. The learning rate decays
    (cosine) so the last steps settle the thresholds."""
    if not isinstance(K, int) or not 1 <= K <= 64:
        raise ValueError(f"K must be an int in [1, 64], got {K!r}")
    lo, hi = float(x_range[0]), float(x_range[1])
    if not hi > lo:
        raise ValueError(f"x_range must be (low, high) with high > low, got {x_range!r}")
    x = torch.linspace(lo, hi, points)
    target = fn(x).detach().float()
    if target.shape != x.shape:
        raise ValueError("fn must map a 1-d tensor to a tensor of the same shape")
    g = torch.Generator().manual_seed(seed)
    span_x = max(abs(lo), abs(hi))
    span_y = float(target.abs().max()) or 1.0
    halving = torch.pow(2.0, -torch.arange(1, K + 1, dtype=torch.float32))
    best: Optional[FSCode] = None
    for _ in range(restarts):
        noise = lambda: 1 + 0.3 * torch.randn(K, generator=g)  # noqa: E731
        h = nn.Parameter(2 * span_x * halving * noise())
        d = nn.Parameter(2 * span_y * halving * noise())
        t = nn.Parameter(span_x * halving * noise() + lo * 0.1 * torch.rand(K, generator=g))
        opt = torch.optim.Adam([h, d, t], lr=lr * max(span_x, span_y) / 10)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
        for _ in range(steps):
            loss = (F.fs_neuron(x, h, d, t, surrogate=surrogate) - target).pow(2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        with torch.no_grad():
            mse = (F.fs_neuron(x, h, d, t) - target).pow(2).mean().item()
        if best is None or mse < best.mse:
            best = FSCode(h.detach().clone(), d.detach().clone(), t.detach().clone(), mse)
    return best


# The activations each preset replaces, and the published set it uses for them.
_PRESET_CODES = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.SiLU: "swish"}


@torch.no_grad()
def convert_fs(ann: nn.Module, calibration: Optional[Data] = None, *, preset: Optional[str] = "stoeckl2021",
               K: Optional[int] = None, percentile: float = 99.9, rounding: str = "nearest",
               code: Optional[Union[FSCode, Callable[[float], FSCode]]] = None, record: bool = True,
               batch_size: int = 512, max_batches: Optional[int] = None, progress: bool = True) -> nn.Sequential:
    """Replaces the activations of a trained ``ann`` (an ``nn.Sequential``; BatchNorm folded) by
    FS neurons. The result runs like the ANN (no time dimension: each FS neuron's K steps are
    inside the kernel; the latency of L layers is the sum of their K, :func:`fs_activity`).

    ``preset="stoeckl2021"`` (default): the paper's published coefficient sets
    (:func:`published_code`): every ReLU becomes the K = 10 binary code on [0, 25), every
    Sigmoid and SiLU the fitted K = 12 / K = 16 sets, with the paper's code's surrogate
    (``"fs_triangle"``) for fine-tuning. No calibration is needed.

    ``preset=None``: every ReLU gets the binary code with K steps (default 8) and its own range
    alpha: the ``percentile`` of the layer's activations on ``calibration`` (tensors or
    batches, streamed once per ReLU through the layers converted so far: :mod:`spikeops.data`),
    scaled so that the saturation level ``alpha (1 - 2^-K)`` equals it; ``rounding`` as in
    :func:`relu_code`. Fewer steps than the preset for the same accuracy where activations are
    far below 25. ``code`` overrides: an :class:`FSCode` for every ReLU or a callable
    ``alpha -> FSCode``."""
    if preset not in (None, "stoeckl2021"):
        raise ValueError(f"preset must be 'stoeckl2021' or None, got {preset!r}")
    folded = fold_batchnorm(ann)
    layers: List[nn.Module] = list(folded)
    replaced = (nn.ReLU,) if preset is None else tuple(_PRESET_CODES)
    if not any(isinstance(m, replaced) for m in layers):
        names = ", ".join(t.__name__ for t in replaced)
        raise ValueError(f"the model has no {names} to replace by FS neurons")
    if preset is not None:
        if K is not None or calibration is not None:
            raise ValueError("preset='stoeckl2021' uses the published K and ranges; K and calibration are for "
                             "preset=None")
        return nn.Sequential(*[
            published_code(_PRESET_CODES[type(m)]).neuron(record=record, surrogate="fs_triangle")
            if isinstance(m, replaced)
            else copy.deepcopy(m) for m in layers]).eval()
    if calibration is None:
        raise ValueError("preset=None sets each layer's range from data: give calibration")
    K = 8 if K is None else K
    check_reiterable(calibration, "convert_fs")
    out: List[nn.Module] = []
    for m in layers:
        if isinstance(m, nn.ReLU):
            stat, converted, samples = _PositivePercentile(percentile), nn.Sequential(*out).eval(), 0
            for xb, _ in batches(calibration, batch_size=batch_size, max_batches=max_batches, progress=progress,
                                 desc=f"FS layer {sum(isinstance(n, FSNeuron) for n in out)} range"):
                samples += len(xb)
                stat.add(converted(xb))
            if samples == 0:
                raise ValueError(EMPTY_CALIBRATION)
            alpha = stat.value() / (1 - 2.0 ** -K)
            if code is None:
                c = relu_code(K, alpha, rounding)
            else:
                c = code(alpha) if callable(code) else code
            out.append(c.neuron(record=record))
        else:
            out.append(copy.deepcopy(m))
    return nn.Sequential(*out).eval()


@torch.inference_mode()
def fs_activity(model: nn.Module, data: Data, *, batch_size: int = 512, max_batches: Optional[int] = None,
                progress: bool = True) -> Dict[str, object]:
    """Runs ``model`` (with FS neurons) on ``data`` (tensors or batches, streamed:
    :mod:`spikeops.data`) and reports spikes per neuron (per FS layer and overall, per sample:
    each neuron runs K steps once) and synaptic operations per sample (spikes times the fan-out
    of the weighted layer each FS layer feeds)."""
    neurons = [m for m in model.modules() if isinstance(m, FSNeuron)]
    saved = [n.record for n in neurons]
    for n in neurons:
        n.record = True
    fan_outs: List[float] = []
    pending: List[FSNeuron] = []

    def on_weighted(m, i, o):
        per_input = o[0].numel() * (m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
                                    if isinstance(m, nn.Conv2d) else m.in_features) / i[0][0].numel()
        if pending:
            fan_outs.append(per_input)
            pending.clear()

    def on_neuron(m, i, o):
        pending.append(m)

    hooks = [m.register_forward_hook(on_weighted) for m in model.modules() if isinstance(m, WEIGHTED)]
    hooks += [n.register_forward_hook(on_neuron) for n in neurons]
    spikes, counts, samples = [0.0] * len(neurons), [0.0] * len(neurons), 0
    model.eval()
    try:
        for xb, _ in batches(data, batch_size=batch_size, max_batches=max_batches, progress=progress,
                             desc="FS activity"):
            model(xb)
            if samples == 0:  # the fan-outs are known after the first batch
                for hk in hooks:
                    hk.remove()
                hooks = []
            samples += xb.shape[0]
            for k, n in enumerate(neurons):
                spikes[k] += n.last_spikes
                counts[k] += n.last_neurons
    finally:
        for hk in hooks:
            hk.remove()
        for n, r in zip(neurons, saved):
            n.record = r
    if samples == 0:
        raise ValueError("data holds no samples")
    spikes = [s / samples for s in spikes]
    counts = [c / samples for c in counts]
    return {
        "spikes_per_neuron": sum(spikes) / max(sum(counts), 1),
        "layer_spikes_per_neuron": [s / c for s, c in zip(spikes, counts)],
        "synops": sum(s * f for s, f in zip(spikes, fan_outs)),
        "steps": max((n.steps for n in neurons), default=0),
        # Latency: a layer's output is complete after its K steps, so L layers in a chain take
        # the sum of their K (a pipeline then delivers one sample per K steps).
        "latency_steps": sum(n.steps for n in neurons),
    }
