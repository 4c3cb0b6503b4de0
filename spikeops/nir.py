"""NIR (neuromorphic intermediate representation, the ``nir`` package): export a spikeops
model to a NIR graph and import a NIR graph as spikeops modules.

NIR's neurons are continuous-time; a discrete model at step ``dt`` is their forward-Euler
step, the convention snnTorch and Norse use:

- ``LIF(tau, r, v_leak=0, v_threshold, v_reset)``: ``v <- v + dt / tau (-v + r I)``, i.e.
  spikeops ``LIF(decay = 1 - dt / tau, gain = dt r / tau, threshold = v_threshold,
  reset="zero", v_reset)``;
- ``IF(r, v_threshold, v_reset)``: ``v <- v + dt r I``: ``decay = 1``, ``gain = dt r``;
- ``CubaLIF(tau_syn, tau_mem, r, v_leak=0, v_threshold, v_reset, w_in)``: the current
  ``I <- I + dt / tau_syn (-I + w_in S)`` is :class:`spikeops.nn.SynapticFilter` with decay
  ``1 - dt / tau_syn``, followed by the LIF above with ``gain = dt r w_in / tau_mem``;
- ``Affine``/``Linear``, ``Conv2d``, ``Flatten``, ``AvgPool2d``/``SumPool2d``: the torch
  layers, applied to every step (``TimeDistributed``).

A spike is ``v > v_threshold`` and resets to ``v_reset`` at once (spikeops' zero reset).
What does not map raises ValueError: subtract reset and snnTorch's deferred reset (NIR has
neither), ``v_leak != 0``, a per-neuron ``v_reset`` or ``tau_syn``, refractory periods, graphs
that are not a single chain. So do parameters the mapping cannot use, naming the node and the
field: ``dt`` must be finite and > 0; ``tau``, ``tau_mem`` and ``tau_syn`` finite and >= dt
(so that the decay 1 - dt / tau lies in [0, 1]); ``r`` and ``v_threshold`` finite and > 0;
``v_reset`` and ``w_in`` finite; a neuron's parameters of one shape that fits the layer before.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .nn import LIF, SynapticFilter, TimeDistributed
from .nn._options import check_number


def _np(t) -> np.ndarray:
    return np.asarray(t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t, dtype=np.float32)


def _per_neuron(value, shape) -> np.ndarray:
    return np.broadcast_to(_np(value), shape).astype(np.float32).copy()


def _neuron_arrays(lif: LIF, shape):
    if lif.reset_mode != "zero":
        raise ValueError(f"NIR neurons reset to v_reset; reset={lif.reset_mode!r} has no NIR form")
    if lif.deferred_reset or lif.refractory:
        raise ValueError("deferred_reset and refractory periods have no NIR form")
    decay = _per_neuron(lif._decay_and_gain()[0], shape)
    gain = _per_neuron(lif.gain, shape)
    theta = _per_neuron(lif.threshold, shape)
    v_reset = np.full(shape, lif.v_reset, dtype=np.float32)
    return decay, gain, theta, v_reset


def export_nir(model: nn.Sequential, input_shape: Sequence[int], dt: float = 1e-4):
    """The NIR graph of a spikeops ``nn.Sequential`` over ``[T, B, ...]`` (see the module
    docstring for the mapping); ``input_shape`` is one sample's shape (no T, no batch)."""
    import nir

    if not isinstance(model, nn.Sequential):
        raise TypeError(f"export_nir needs an nn.Sequential, got {type(model).__name__}")
    nodes = {"input": nir.Input(input_type={"input": np.array(input_shape)})}
    order = ["input"]
    x = torch.zeros(1, 1, *input_shape)
    layers = list(model)
    i = 0
    with torch.no_grad():
        while i < len(layers):
            m = layers[i]
            inner = m.module if isinstance(m, TimeDistributed) else m
            in_shape = tuple(x.shape[2:])
            name = str(i)
            if isinstance(inner, nn.Linear):
                w = _np(inner.weight)
                node = nir.Affine(weight=w, bias=_np(inner.bias)) if inner.bias is not None else nir.Linear(weight=w)
            elif isinstance(inner, nn.Conv2d):
                bias = _np(inner.bias) if inner.bias is not None else np.zeros(inner.out_channels, np.float32)
                node = nir.Conv2d(input_shape=in_shape[1:], weight=_np(inner.weight), stride=inner.stride,
                                  padding=inner.padding, dilation=inner.dilation, groups=inner.groups, bias=bias)
            elif isinstance(inner, nn.Flatten):
                if inner.start_dim != 1:
                    raise ValueError("only Flatten(start_dim=1) (everything but the batch) has a NIR form here")
                node = nir.Flatten(input_type={"input": np.array(in_shape)}, start_dim=0,
                                   end_dim=inner.end_dim if inner.end_dim < 0 else inner.end_dim - 1)
            elif isinstance(inner, nn.AvgPool2d):
                node = nir.AvgPool2d(kernel_size=np.array(_pair(inner.kernel_size)),
                                     stride=np.array(_pair(inner.stride)),
                                     padding=np.array(_pair(inner.padding)))
            elif isinstance(inner, SynapticFilter):
                if i + 1 >= len(layers) or not isinstance(layers[i + 1], LIF):
                    raise ValueError("a SynapticFilter exports only as the current of a CubaLIF: follow it by a LIF")
                decay, gain, theta, v_reset = _neuron_arrays(layers[i + 1], in_shape)
                d_syn = math.exp(-inner.dt / inner.tau) if inner.tau > 0 else 0.0
                tau_syn = np.full(in_shape, dt / (1 - d_syn), np.float32)
                tau_mem = dt / (1 - decay)
                node = nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / dt,
                                   v_leak=np.zeros(in_shape, np.float32),
                                   v_threshold=theta, v_reset=v_reset, w_in=gain)
                x = layers[i + 1](inner(x))
                i += 2
                nodes[name] = node
                order.append(name)
                continue
            elif isinstance(inner, LIF):
                decay, gain, theta, v_reset = _neuron_arrays(inner, in_shape)
                if np.all(decay == 1):
                    node = nir.IF(r=gain / dt, v_threshold=theta, v_reset=v_reset)
                else:
                    if np.any(decay >= 1):
                        raise ValueError("a layer mixing decay 1 and decay < 1 has no single NIR neuron type")
                    tau = dt / (1 - decay)
                    node = nir.LIF(tau=tau, r=gain * tau / dt, v_leak=np.zeros(in_shape, np.float32),
                                   v_threshold=theta, v_reset=v_reset)
            else:
                raise TypeError(f"layer {i} ({type(inner).__name__}) has no NIR form; supported: Linear, Conv2d, "
                                "Flatten, AvgPool2d, LIF/IF, SynapticFilter + LIF (CubaLIF)")
            x = m(x)
            nodes[name] = node
            order.append(name)
            i += 1
    nodes["output"] = nir.Output(output_type={"output": np.array(x.shape[2:])})
    order.append("output")
    return nir.NIRGraph(nodes=nodes, edges=list(zip(order[:-1], order[1:])))


def _chain(graph):
    succ = {}
    for a, b in graph.edges:
        if a in succ:
            raise ValueError(f"node {a!r} has more than one successor: only single chains import")
        succ[a] = b
    inputs = [k for k, v in graph.nodes.items() if type(v).__name__ == "Input"]
    if len(inputs) != 1:
        raise ValueError(f"the graph must have exactly one Input node, got {len(inputs)}")
    out, node = [], inputs[0]
    while node in succ:
        node = succ[node]
        if type(graph.nodes[node]).__name__ != "Output":
            out.append((node, graph.nodes[node]))
    return out


def _pair(value):
    return tuple(int(v) for v in np.broadcast_to(np.asarray(value), (2,)))


def _uniform(where, name, value) -> float:
    arr = np.asarray(value, dtype=np.float64)
    if arr.size and not np.all(arr == arr.flat[0]):
        raise ValueError(f"{where}: a per-neuron {name} has no spikeops form")
    return float(arr.flat[0]) if arr.size else 0.0


def _array(where, name, value) -> np.ndarray:
    """A node's field as a float64 array; TypeError for what is not numbers."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{where}: {name} must be an array of numbers, got {type(value).__name__}") from None


def _field(where, name, value, *, positive=False, dt=None) -> np.ndarray:
    """A neuron parameter: non-empty and finite, > 0 where ``positive``, >= ``dt`` where given
    (a time constant whose decay 1 - dt / tau must lie in [0, 1]; a tau = dt rounded to float32
    passes)."""
    arr = _array(where, name, value)
    if arr.size == 0:
        raise ValueError(f"{where}: {name} is empty")
    checks = [(~np.isfinite(arr), "finite")]
    if positive:
        checks.append((arr <= 0, "> 0"))
    if dt is not None:
        checks.append((arr < dt * (1 - 1e-6), f">= dt = {dt} (the decay 1 - dt / {name} lies in [0, 1])"))
    for bad, need in checks:
        if bad.any():
            raise ValueError(f"{where}: {name} must be {need}, got {float(arr[bad].flat[0])}")
    return arr


def _float32(where, what, arr, *, nonzero=False) -> np.ndarray:
    """``arr`` as the float32 the modules hold: finite, and with ``nonzero`` not rounded to 0
    where it is not 0 (a gain or threshold)."""
    with np.errstate(over="ignore", under="ignore"):
        out = arr.astype(np.float32)
    bad = ~np.isfinite(out)
    if bad.any():
        raise ValueError(f"{where}: {what} must be a finite float32, got {float(arr[bad].flat[0])}")
    tiny = (out == 0) & (arr != 0)
    if nonzero and tiny.any():
        raise ValueError(f"{where}: {what} = {float(arr[tiny].flat[0])} rounds to 0 in float32")
    return out


def _neuron_shape(where, features, **fields) -> None:
    """The fields share one shape that fits ``features`` (the shape the layer before gives;
    None where unknown)."""
    try:
        shape = np.broadcast_shapes(*(a.shape for a in fields.values()))
    except ValueError:
        shapes = ", ".join(f"{k} {a.shape}" for k, a in fields.items())
        raise ValueError(f"{where}: fields of different shapes: {shapes}") from None
    try:
        fits = features is None or np.broadcast_shapes(shape, features) == features
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{where}: fields of shape {shape} do not fit the {features} outputs of the layer before")


def _lif(where, decay, gain, threshold, v_reset) -> LIF:
    def param(a):
        a = np.asarray(a, dtype=np.float32)
        return float(a.flat[0]) if np.all(a == a.flat[0]) else torch.from_numpy(a.copy())
    return LIF(param(decay), gain=param(gain), threshold=param(threshold), reset="zero",
               v_reset=_uniform(where, "v_reset", v_reset))


def _weights(where, node, bias: bool):
    """The weight (and bias) of a node as float32 tensors, finite and of matching shapes."""
    w = _float32(where, "weight", _array(where, "weight", node.weight))
    b = None
    if bias:
        b = _float32(where, "bias", _array(where, "bias", node.bias))
        if b.shape != (w.shape[0] if w.ndim else 0,):
            raise ValueError(f"{where}: bias of shape {b.shape} does not fit weight of shape {w.shape}")
        b = torch.from_numpy(b)
    return torch.from_numpy(w), b


def import_nir(graph, dt: float = 1e-4) -> nn.Sequential:
    """A spikeops ``nn.Sequential`` over ``[T, B, ...]`` for a NIR graph that is one chain
    (see the module docstring for the mapping), run at step ``dt``."""
    import nir

    check_number("dt", dt.item() if isinstance(dt, np.generic) else dt, lo=0.0, lo_open=True)
    layers = []
    features = None  # the output shape of the last Affine/Linear, where the neurons after it must fit
    for name, node in _chain(graph):
        where = f"node {name!r} ({type(node).__name__})"
        if isinstance(node, (nir.Affine, nir.Linear)):
            w, b = _weights(where, node, bias=isinstance(node, nir.Affine))
            if w.dim() != 2:
                raise ValueError(f"{where}: weight must be 2-d [out, in], got shape {tuple(w.shape)}")
            if features is not None and w.shape[1] != features[-1]:
                raise ValueError(f"{where}: weight takes {w.shape[1]} inputs, the layer before gives {features[-1]}")
            lin = nn.Linear(w.shape[1], w.shape[0], bias=b is not None)
            with torch.no_grad():
                lin.weight.copy_(w)
                if b is not None:
                    lin.bias.copy_(b)
            layers.append(TimeDistributed(lin))
            features = (w.shape[0],)
        elif isinstance(node, nir.Conv2d):
            w, b = _weights(where, node, bias=node.bias is not None)
            if w.dim() != 4:
                raise ValueError(f"{where}: weight must be 4-d [out, in / groups, kh, kw], got {tuple(w.shape)}")
            pad = node.padding if isinstance(node.padding, str) else _pair(node.padding)
            conv = nn.Conv2d(w.shape[1] * node.groups, w.shape[0], tuple(w.shape[2:]), stride=_pair(node.stride),
                             padding=pad, dilation=_pair(node.dilation), groups=int(node.groups),
                             bias=b is not None)
            with torch.no_grad():
                conv.weight.copy_(w)
                if b is not None:
                    conv.bias.copy_(b)
            layers.append(TimeDistributed(conv))
            features = None
        elif isinstance(node, nir.Flatten):
            end = node.end_dim if node.end_dim < 0 else node.end_dim + 1
            layers.append(TimeDistributed(nn.Flatten(node.start_dim + 1, end)))
            features = None
        elif isinstance(node, (nir.AvgPool2d, nir.SumPool2d)):
            sum_pool = isinstance(node, nir.SumPool2d)
            layers.append(TimeDistributed(nn.AvgPool2d(_pair(node.kernel_size), _pair(node.stride),
                                                       _pair(node.padding), divisor_override=1 if sum_pool else None)))
            features = None
        elif isinstance(node, nir.IF):
            r = _field(where, "r", node.r, positive=True)
            theta = _field(where, "v_threshold", node.v_threshold, positive=True)
            v_reset = _field(where, "v_reset", node.v_reset)
            _neuron_shape(where, features, r=r, v_threshold=theta, v_reset=v_reset)
            layers.append(_lif(where, 1.0, _float32(where, "the gain dt r", dt * r, nonzero=True),
                               _float32(where, "v_threshold", theta, nonzero=True),
                               _float32(where, "v_reset", v_reset)))
        elif isinstance(node, nir.LIF):
            if np.any(np.asarray(node.v_leak) != 0):
                raise ValueError(f"{where}: v_leak != 0 has no spikeops LIF form")
            tau = _field(where, "tau", node.tau, positive=True, dt=dt)
            r = _field(where, "r", node.r, positive=True)
            theta = _field(where, "v_threshold", node.v_threshold, positive=True)
            v_reset = _field(where, "v_reset", node.v_reset)
            _neuron_shape(where, features, tau=tau, r=r, v_threshold=theta, v_reset=v_reset)
            layers.append(_lif(where, np.maximum(1 - dt / tau, 0.0),
                               _float32(where, "the gain dt r / tau", dt * r / tau, nonzero=True),
                               _float32(where, "v_threshold", theta, nonzero=True),
                               _float32(where, "v_reset", v_reset)))
        elif isinstance(node, nir.CubaLIF):
            if np.any(np.asarray(node.v_leak) != 0):
                raise ValueError(f"{where}: v_leak != 0 has no spikeops LIF form")
            tau_syn = _field(where, "tau_syn", node.tau_syn, positive=True, dt=dt)
            tau_mem = _field(where, "tau_mem", node.tau_mem, positive=True, dt=dt)
            r = _field(where, "r", node.r, positive=True)
            w_in = _field(where, "w_in", node.w_in)
            theta = _field(where, "v_threshold", node.v_threshold, positive=True)
            v_reset = _field(where, "v_reset", node.v_reset)
            _neuron_shape(where, features, tau_syn=tau_syn, tau_mem=tau_mem, r=r, w_in=w_in, v_threshold=theta,
                          v_reset=v_reset)
            d_syn = max(1 - dt / _uniform(where, "tau_syn", tau_syn), 0.0)
            if d_syn == 1:
                raise ValueError(f"{where}: tau_syn = {float(tau_syn.flat[0])} is too long for dt = {dt}: the decay "
                                 "1 - dt / tau_syn rounds to 1")
            tau_eff = -dt / math.log(d_syn) if d_syn > 0 else 0.0
            layers.append(SynapticFilter(tau_eff, dt))
            layers.append(_lif(where, np.maximum(1 - dt / tau_mem, 0.0),
                               _float32(where, "the gain dt r w_in / tau_mem", dt * r * w_in / tau_mem, nonzero=True),
                               _float32(where, "v_threshold", theta, nonzero=True),
                               _float32(where, "v_reset", v_reset)))
        else:
            raise TypeError(f"NIR node {type(node).__name__} has no spikeops form; supported: Affine, Linear, Conv2d, "
                            "Flatten, AvgPool2d, SumPool2d, IF, LIF, CubaLIF")
    return nn.Sequential(*layers)
