"""Rate conversion of a trained ReLU network to a spiking one (docs/math.md §4).

The ANN is an ``nn.Sequential`` (nested ones are flattened) of Conv2d, Linear, BatchNorm,
ReLU, AvgPool2d, MaxPool2d, Flatten, Dropout and Identity. BatchNorm is folded into the
layer before it; each ReLU becomes a spiking neuron with subtract reset (IF by default);
the last weighted layer becomes the non-spiking output whose currents are integrated
(:func:`spikeops.nn.integrate`). The SNN is an ``nn.Sequential`` over ``[T, B, ...]``:
every ordinary layer is wrapped in :class:`spikeops.nn.TimeDistributed` and every neuron
layer runs all T steps in one fused kernel.

Two ways to scale: ``method="percentile"`` (data-based normalisation: lambda_l is the p-th
percentile of layer l's positive activations, W_l <- W_l lambda_{l-1} / lambda_l,
b_l <- b_l / lambda_l, threshold 1; p = 100 is max-norm) and ``method="balance"`` (the
hybrid method: weights kept, each layer's threshold set, layer by layer, to the largest
input current that layer receives in the simulated SNN, times a scaling factor).
"""
from __future__ import annotations

import copy
from typing import List, Optional, Sequence

import torch
from torch import nn

from ..data import Data, batches, check_reiterable, run_in_steps
from ..nn import LIF, SharedDropout, SoftLIF, TimeDistributed

WEIGHTED = (nn.Conv2d, nn.Linear)
BATCHNORM = (nn.BatchNorm1d, nn.BatchNorm2d)
PASS_THROUGH = (nn.AvgPool2d, nn.Flatten)
DROPPED = (nn.Dropout, nn.Identity)
SMOOTH = (nn.Sigmoid, nn.SiLU)  # activations only FS conversion replaces
EMPTY_CALIBRATION = "calibration data is empty: it holds no samples"


def layers_of(model: nn.Module) -> List[nn.Module]:
    """The layers of a (nested) nn.Sequential in order; a clear error for anything else."""
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"conversion needs an nn.Sequential model, got {type(model).__name__}")
    out = []
    for name, m in model.named_children():
        if isinstance(m, nn.Sequential):
            out.extend(layers_of(m))
        elif isinstance(m, WEIGHTED + BATCHNORM + PASS_THROUGH + DROPPED + SMOOTH + (nn.ReLU, nn.MaxPool2d, SoftLIF)):
            out.append(m)
        else:
            raise TypeError(f"layer {name!r} ({type(m).__name__}) cannot be converted; supported: Conv2d, Linear, "
                            "BatchNorm1d/2d, ReLU, Sigmoid and SiLU (FS conversion), spikeops.nn.SoftLIF, AvgPool2d, "
                            "MaxPool2d, Flatten, Dropout, Identity")
    return out


@torch.no_grad()
def fold_into(layer: nn.Module, bn: nn.Module) -> None:
    """Folds BatchNorm ``bn`` (its running statistics) into the Conv2d/Linear ``layer`` before it,
    in place: W' = g W / sigma, b' = g (b - mu) / sigma + beta."""
    if bn.running_mean is None:
        raise ValueError("BatchNorm without running statistics (track_running_stats=False) cannot be folded")
    scale = torch.rsqrt(bn.running_var + bn.eps)
    if bn.affine:
        scale = scale * bn.weight
    shift = -bn.running_mean * scale + (bn.bias if bn.affine else 0.0)
    if layer.bias is None:
        layer.bias = nn.Parameter(torch.zeros(layer.weight.shape[0], device=layer.weight.device,
                                              dtype=layer.weight.dtype))
    layer.weight.mul_(scale.view(-1, *([1] * (layer.weight.dim() - 1))))
    layer.bias.copy_(layer.bias * scale + shift)


@torch.no_grad()
def fold_batchnorm(model: nn.Module, keep_dropout: bool = False) -> nn.Sequential:
    """A copy of the model in eval mode with every BatchNorm folded into the Conv2d/Linear
    before it (:func:`fold_into`) and Identity removed; Dropout removed too unless
    ``keep_dropout``."""
    out: List[nn.Module] = []
    for m in layers_of(model):
        if isinstance(m, BATCHNORM):
            prev = out[-1] if out else None
            if not isinstance(prev, WEIGHTED):
                raise ValueError(f"{type(m).__name__} must directly follow a Conv2d or Linear to be folded")
            fold_into(prev, m)
        elif isinstance(m, nn.Dropout) and keep_dropout:
            out.append(SharedDropout(m.p))
        elif isinstance(m, DROPPED):
            continue
        else:
            out.append(copy.deepcopy(m))
    return nn.Sequential(*out).eval()


class _PositivePercentile:
    """The nearest-rank p-th percentile of the positive values of a stream of tensors, in memory
    independent of the stream's length: a histogram over the top 20 bits of the values' float32
    patterns (monotonic in the value for positive floats; 2^11 bins per octave), so the result
    is within 2^-12 (relative) of the exact percentile. p = 100 is the exact maximum."""

    _SHIFT = 12  # low mantissa bits dropped: 2^19 bins cover every positive finite float32

    def __init__(self, p: float):
        self.p = p
        self.counts = torch.zeros(1 << (31 - self._SHIFT), dtype=torch.int64)
        self.maximum = 0.0

    def add(self, values: torch.Tensor) -> None:
        positive = values[values > 0].float()
        if positive.numel() == 0:
            return
        self.maximum = max(self.maximum, positive.max().item())
        bins = (positive.view(torch.int32) >> self._SHIFT).flatten().cpu().long()
        self.counts += torch.bincount(bins, minlength=self.counts.numel())

    def value(self) -> float:
        n = int(self.counts.sum())
        if n == 0:
            return 1.0
        if self.p == 100:
            return self.maximum
        k = max(1, min(n, int(round(self.p / 100.0 * n))))
        b = int(torch.searchsorted(self.counts.cumsum(0), k))
        middle = torch.tensor([(b << self._SHIFT) | (1 << (self._SHIFT - 1))], dtype=torch.int32)
        return min(middle.view(torch.float32).item(), self.maximum)


@torch.no_grad()
def activation_scales(ann: nn.Module, data: Data, percentile: float = 99.9, *, batch_size: int = 512,
                      max_batches: Optional[int] = None, progress: bool = True) -> List[float]:
    """lambda_l for each ReLU of ``ann`` (BatchNorm folded or not): the ``percentile`` of its
    positive activations on ``data`` (tensors or batches, streamed: :mod:`spikeops.data`; at
    least one sample)."""
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile}")
    layers = layers_of(ann)
    ann.eval()
    stats = [_PositivePercentile(percentile) for m in layers if isinstance(m, nn.ReLU)]
    samples = 0
    for batch, _ in batches(data, batch_size=batch_size, max_batches=max_batches, progress=progress,
                            desc="activation scales"):
        samples += len(batch)
        k = 0
        for m in layers:
            batch = m(batch)
            if isinstance(m, nn.ReLU):
                stats[k].add(batch)
                k += 1
    if samples == 0:
        raise ValueError(EMPTY_CALIBRATION)
    return [s.value() for s in stats]


def _neuron(threshold: float, decay: float) -> LIF:
    return LIF(decay, threshold=threshold, reset="subtract")


def _snn_layers(folded: Sequence[nn.Module], decay: float, maxpool: str, neuron=None) -> List[nn.Module]:
    smooth = [type(m).__name__ for m in folded if isinstance(m, SMOOTH)]
    if smooth:
        raise ValueError(f"rate conversion turns ReLUs into spiking neurons; {smooth[0]} has no rate equivalent "
                         "(convert_fs replaces it)")
    relus = sum(isinstance(m, nn.ReLU) for m in folded)
    weighted = [i for i, m in enumerate(folded) if isinstance(m, WEIGHTED)]
    if not weighted:
        raise ValueError("the model has no Conv2d or Linear layer")
    if any(isinstance(m, nn.ReLU) for m in folded[weighted[-1]:]):
        raise ValueError("the last Conv2d/Linear must be the output layer (no ReLU after it)")
    if relus == 0:
        raise ValueError("the model has no ReLU to turn into spiking neurons")
    out = []
    for m in folded:
        if isinstance(m, nn.ReLU):
            out.append(_neuron(1.0, decay) if neuron is None else neuron())
        elif isinstance(m, SharedDropout):
            out.append(m)  # acts on spikes over [T, B, ...] as it is
        elif isinstance(m, nn.MaxPool2d):
            if maxpool == "error":
                raise ValueError("MaxPool2d has no rate equivalent; pass maxpool='avg' to use AvgPool2d")
            out.append(TimeDistributed(nn.AvgPool2d(m.kernel_size, m.stride, m.padding, m.ceil_mode)
                                       if maxpool == "avg" else copy.deepcopy(m)))
        else:
            out.append(TimeDistributed(copy.deepcopy(m)))
    return out


def spiking_layers(snn: nn.Module) -> List[LIF]:
    """The neuron layers of a converted network, input to output."""
    return [m for m in snn.modules() if isinstance(m, LIF)]


@torch.no_grad()
def threshold_balance(snn: nn.Sequential, data: Data, T: int, *, scale: float = 1.0, scale_at_end: bool = False,
                      encoder="constant", batch_size: int = 512, max_batches: Optional[int] = None,
                      progress: bool = True) -> List[float]:
    """Sets each neuron layer's threshold, input to output, from the largest input current it
    receives over T steps on ``data`` (earlier layers already balanced). Returns the largest
    currents.

    ``scale_at_end=False``: each threshold is ``scale`` times its maximum as soon as it is found,
    so later layers are balanced against the scaled ones. ``True`` (the hybrid-conversion
    code): every layer is balanced with the earlier ones at their unscaled maxima, and all
    thresholds are multiplied by ``scale`` at the end.

    A spike of a layer with threshold theta stands for theta units of its ANN activation, so
    the biases of all later layers are divided by theta when it is found (the hybrid method's
    networks have no biases; folded BatchNorm gives them some). ``data`` is streamed
    (:mod:`spikeops.data`) once per neuron layer and holds at least one sample."""
    check_reiterable(data, "threshold_balance")
    layers = list(snn)
    maxima, neurons = [], []
    for idx, neuron in enumerate(layers):
        if not isinstance(neuron, LIF):
            continue
        prefix = nn.Sequential(*layers[:idx])
        peak, samples = float("-inf"), 0
        for xb, _ in batches(data, batch_size=batch_size, max_batches=max_batches, progress=progress,
                             desc=f"balance neuron layer {len(maxima)}"):
            samples += len(xb)
            if len(xb):  # an empty batch has no maximum
                for chunk in run_in_steps(prefix, xb, T, encoder=encoder):
                    peak = max(peak, chunk.max().item())
        if samples == 0:
            raise ValueError(EMPTY_CALIBRATION)
        if peak <= 0:
            raise ValueError(f"neuron layer {len(maxima)} receives no positive current; cannot set its threshold")
        neuron.threshold = peak if scale_at_end else scale * peak
        maxima.append(peak)
        neurons.append(neuron)
        for later in layers[idx + 1:]:
            inner = later.module if isinstance(later, TimeDistributed) else later
            if isinstance(inner, WEIGHTED) and inner.bias is not None:
                inner.bias.div_(neuron.threshold)
    if scale_at_end:
        for neuron, peak in zip(neurons, maxima):
            neuron.threshold = scale * peak
    return maxima


# The hybrid-conversion paper's protocol (Rathi et al. 2020; reference code snn.py and
# self_models/vgg_spiking.py): IF neurons in the code's step order, thresholds balanced on one
# batch of 512 training images with Poisson input over 1000 steps, scaled by 0.7 at the end.
RATHI2020 = dict(T=1000, images=512, scale=0.7)


def rathi2020_neuron(threshold: float = 1.0, surrogate=None) -> LIF:
    """The neuron of the hybrid-conversion reference code: IF (leak 1), the spike of step t
    from the membrane before its input (``output_delay``), the reset subtracted after the leak
    and without gradient (``deferred_reset``, ``detach_reset``); linear surrogate by default."""
    from ..surrogate import Linear
    return LIF(1.0, threshold=threshold, reset="subtract", deferred_reset=True, detach_reset=True,
               output_delay=True, surrogate=surrogate if surrogate is not None else Linear())


def _first_images(data: Data, count: int) -> torch.Tensor:
    taken, have = [], 0
    for xb, _ in batches(data, batch_size=count):
        taken.append(xb[:count - have])
        have += len(taken[-1])
        if have >= count:
            break
    if have == 0:
        raise ValueError(EMPTY_CALIBRATION)
    return torch.cat(taken)


@torch.no_grad()
def convert_rate(ann: nn.Module, calibration: Data, *, preset: Optional[str] = None, method: str = "percentile",
                 percentile: float = 99.9, scale: Optional[float] = None, T: Optional[int] = None, encoder=None,
                 decay: float = 1.0, maxpool: str = "avg", images: Optional[int] = None,
                 max_batches: Optional[int] = None, progress: bool = True) -> nn.Sequential:
    """Converts a trained ReLU ``ann`` to a spiking ``nn.Sequential`` over ``[T, B, ...]``.

    Args:
        preset: ``"rathi2020"``: the hybrid-conversion paper's threshold balancing
            (:data:`RATHI2020`): neurons of :func:`rathi2020_neuron`, the first ``images``
            (512) calibration samples as one batch, Poisson input (``encoder="rate"``) over
            ``T`` (1000) steps, every layer balanced with the earlier ones at their unscaled
            maxima, all thresholds times ``scale`` (0.7) at the end; the ANN's Dropout layers
            stay, as :class:`spikeops.nn.SharedDropout` (one mask per sample for all steps,
            active only in training). ``T``, ``images`` and ``scale`` may be given to change
            the paper's values.
        calibration: input samples for the scales: tensors or batches (:mod:`spikeops.data`),
            streamed; ``max_batches`` limits how many are read.
        method: ``"percentile"`` (data-based normalisation) or ``"balance"`` (threshold balancing).
        percentile: p of the data-based normalisation (99.9; 100 = max-norm).
        scale: threshold scaling factor of threshold balancing (0.6-0.8 in the hybrid method).
        T, encoder: time steps and input encoding used by threshold balancing (64, constant).
        decay: neuron decay (1 = IF, the usual choice; < 1 gives LIF neurons).
        maxpool: ``"avg"`` replaces MaxPool2d by AvgPool2d, ``"max"`` keeps it on spikes
            (an approximation), ``"error"`` refuses.
    The output is the last layer's input current per step; read it with
    :func:`spikeops.nn.integrate` or :func:`evaluate`.
    """
    if preset is not None:
        if preset != "rathi2020":
            raise ValueError(f"preset must be 'rathi2020' or None, got {preset!r}")
        if decay != 1.0:
            raise ValueError("preset='rathi2020' uses IF neurons (leak 1.0); decay is for preset=None")
        count = RATHI2020["images"] if images is None else images
        layers = list(fold_batchnorm(ann, keep_dropout=True))  # the code trains its SNN with the ANN's dropout
        snn = nn.Sequential(*_snn_layers(layers, decay, maxpool, neuron=rathi2020_neuron)).eval()
        threshold_balance(snn, _first_images(calibration, count), RATHI2020["T"] if T is None else T,
                          scale=RATHI2020["scale"] if scale is None else scale, scale_at_end=True,
                          encoder="rate" if encoder is None else encoder, batch_size=count, progress=progress)
        return snn
    if images is not None:
        raise ValueError("images is an argument of preset='rathi2020'")
    scale, T, encoder = 1.0 if scale is None else scale, 64 if T is None else T, "constant" if encoder is None else encoder
    if method not in ("percentile", "balance"):
        raise ValueError(f"method must be 'percentile' or 'balance', got {method!r}")
    if maxpool not in ("avg", "max", "error"):
        raise ValueError(f"maxpool must be 'avg', 'max' or 'error', got {maxpool!r}")
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"decay must be in [0, 1], got {decay}")
    folded = list(fold_batchnorm(ann))
    if method == "percentile":
        lambdas = activation_scales(nn.Sequential(*folded), calibration, percentile, max_batches=max_batches,
                                    progress=progress)
        prev, k = 1.0, 0
        for m in folded:
            if isinstance(m, WEIGHTED):
                following = lambdas[k] if k < len(lambdas) else 1.0  # the output layer keeps its scale
                m.weight.mul_(prev / following)
                if m.bias is not None:
                    m.bias.div_(following)
                prev = following
            elif isinstance(m, nn.ReLU):
                k += 1
    snn = nn.Sequential(*_snn_layers(folded, decay, maxpool)).eval()
    if method == "balance":
        threshold_balance(snn, calibration, T, scale=scale, encoder=encoder, max_batches=max_batches,
                          progress=progress)
    return snn


def evaluate(snn: nn.Module, data: Data, y: Optional[torch.Tensor] = None, T: int = 64, *, encoder="constant",
             batch_size: int = 256, generator: Optional[torch.Generator] = None, max_batches: Optional[int] = None,
             progress: bool = True) -> torch.Tensor:
    """Accuracy after every step 1..T (one run; the readout is the integrated output current
    so far): a tensor of T accuracies. ``data`` is ``x`` with labels ``y``, or labelled batches
    (:mod:`spikeops.data`), streamed."""
    snn.eval()
    correct, count = torch.zeros(T, dtype=torch.float64), 0
    with torch.inference_mode():
        for xb, yb in batches(data, y, batch_size=batch_size, max_batches=max_batches, progress=progress,
                              desc=f"evaluate T={T}", need_labels=True):
            total, done = 0.0, 0
            for out in run_in_steps(snn, xb, T, encoder=encoder, generator=generator):
                # the readout after each step: the output currents summed from step 1 on (the
                # integrate() mean has the same argmax)
                total = out.cumsum(0) + total
                correct[done:done + len(out)] += (total.argmax(-1) == yb.to(out.device)).sum(1).double().cpu()
                total, done = total[-1], done + len(out)
            count += len(yb)
    return correct / count
