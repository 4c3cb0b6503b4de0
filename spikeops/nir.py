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
that are not a single chain.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .nn import LIF, SynapticFilter, TimeDistributed


def _np(t) -> np.ndarray:
    return np.asarray(t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t, dtype=np.float32)


def _per_neuron(value, shape) -> np.ndarray:
    return np.broadcast_to(_np(value), shape).astype(np.float32).copy()


def _neuron_arrays(lif: LIF, shape):
    if lif.reset_mode != "zero":
        raise ValueError(f"NIR neurons reset to v_reset; reset={lif.reset_mode!r} has no NIR form")
    if lif.deferred_reset or lif.refractory:
        raise ValueError("deferred_reset and refractory periods have no NIR form")
    decay = _per_neuron(lif._decay_value(), shape)
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
            out.append(graph.nodes[node])
    return out


def _pair(value):
    return tuple(int(v) for v in np.broadcast_to(np.asarray(value), (2,)))


def _uniform(name, value) -> float:
    arr = np.asarray(value, dtype=np.float64)
    if arr.size and not np.all(arr == arr.flat[0]):
        raise ValueError(f"a per-neuron {name} has no spikeops form")
    return float(arr.flat[0]) if arr.size else 0.0


def _lif(decay, gain, threshold, v_reset) -> LIF:
    def param(a):
        a = np.asarray(a, dtype=np.float32)
        return float(a.flat[0]) if np.all(a == a.flat[0]) else torch.from_numpy(a.copy())
    return LIF(param(decay), gain=param(gain), threshold=param(threshold), reset="zero",
               v_reset=_uniform("v_reset", v_reset))


def import_nir(graph, dt: float = 1e-4) -> nn.Sequential:
    """A spikeops ``nn.Sequential`` over ``[T, B, ...]`` for a NIR graph that is one chain
    (see the module docstring for the mapping), run at step ``dt``."""
    import nir

    layers = []
    for node in _chain(graph):
        if isinstance(node, (nir.Affine, nir.Linear)):
            w = torch.from_numpy(np.asarray(node.weight, np.float32).copy())
            lin = nn.Linear(w.shape[1], w.shape[0], bias=isinstance(node, nir.Affine))
            with torch.no_grad():
                lin.weight.copy_(w)
                if isinstance(node, nir.Affine):
                    lin.bias.copy_(torch.from_numpy(np.asarray(node.bias, np.float32).copy()))
            layers.append(TimeDistributed(lin))
        elif isinstance(node, nir.Conv2d):
            w = torch.from_numpy(np.asarray(node.weight, np.float32).copy())
            pad = node.padding if isinstance(node.padding, str) else _pair(node.padding)
            conv = nn.Conv2d(w.shape[1] * node.groups, w.shape[0], tuple(w.shape[2:]), stride=_pair(node.stride),
                             padding=pad, dilation=_pair(node.dilation), groups=int(node.groups),
                             bias=node.bias is not None)
            with torch.no_grad():
                conv.weight.copy_(w)
                if node.bias is not None:
                    conv.bias.copy_(torch.from_numpy(np.asarray(node.bias, np.float32).copy()))
            layers.append(TimeDistributed(conv))
        elif isinstance(node, nir.Flatten):
            end = node.end_dim if node.end_dim < 0 else node.end_dim + 1
            layers.append(TimeDistributed(nn.Flatten(node.start_dim + 1, end)))
        elif isinstance(node, (nir.AvgPool2d, nir.SumPool2d)):
            sum_pool = isinstance(node, nir.SumPool2d)
            layers.append(TimeDistributed(nn.AvgPool2d(_pair(node.kernel_size), _pair(node.stride),
                                                       _pair(node.padding), divisor_override=1 if sum_pool else None)))
        elif isinstance(node, nir.IF):
            layers.append(_lif(1.0, dt * np.asarray(node.r), node.v_threshold, node.v_reset))
        elif isinstance(node, nir.LIF):
            if np.any(np.asarray(node.v_leak) != 0):
                raise ValueError("v_leak != 0 has no spikeops LIF form")
            tau = np.asarray(node.tau, np.float64)
            layers.append(_lif(1 - dt / tau, dt * np.asarray(node.r) / tau, node.v_threshold, node.v_reset))
        elif isinstance(node, nir.CubaLIF):
            if np.any(np.asarray(node.v_leak) != 0):
                raise ValueError("v_leak != 0 has no spikeops LIF form")
            d_syn = 1 - dt / _uniform("tau_syn", node.tau_syn)
            if not 0 <= d_syn < 1:
                raise ValueError(f"dt / tau_syn must lie in (0, 1], got {1 - d_syn}")
            tau_eff = -dt / math.log(d_syn) if d_syn > 0 else 0.0
            tau_mem = np.asarray(node.tau_mem, np.float64)
            layers.append(SynapticFilter(tau_eff, dt))
            layers.append(_lif(1 - dt / tau_mem, dt * np.asarray(node.r) * np.asarray(node.w_in) / tau_mem,
                               node.v_threshold, node.v_reset))
        else:
            raise TypeError(f"NIR node {type(node).__name__} has no spikeops form; supported: Affine, Linear, Conv2d, "
                            "Flatten, AvgPool2d, SumPool2d, IF, LIF, CubaLIF")
    return nn.Sequential(*layers)
