"""Recording and plotting of spiking activity: :class:`Monitor` hooks the neuron layers of a
model and records their spikes and membranes; :func:`raster`, :func:`membrane_plot` and
:func:`firing_rate_plot` draw them (matplotlib, imported on first use)."""
from __future__ import annotations

import math
import os
import sys
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from .nn import LIF, FSNeuron, SoftLIF, SubstepLIF

__all__ = ["Monitor", "raster", "membrane_plot", "firing_rate_plot"]

_RECORDABLE = ("spikes", "membrane")
_SHOWN_NAMES = 12  # names listed in the error for an unknown layer


def _peer_neuron_classes() -> Tuple[Optional[type], Optional[type]]:
    """snnTorch's ``SpikingNeuron`` and SpikingJelly's ``BaseNode``, where those libraries are loaded.

    A model can only hold a peer's neuron once the peer has been imported, so the classes are
    looked up in ``sys.modules``: importing an absent (or slow to import) library is never needed."""
    snn = sys.modules.get("snntorch")
    sj = sys.modules.get("spikingjelly.activation_based.neuron")
    return getattr(snn, "SpikingNeuron", None), getattr(sj, "BaseNode", None)


def _kind(module: nn.Module) -> Optional[str]:
    """'spikeops', 'snntorch', 'spikingjelly' for a neuron module of that library, else None."""
    if isinstance(module, (LIF, FSNeuron, SoftLIF, SubstepLIF)):
        return "spikeops"
    snn_neuron, sj_node = _peer_neuron_classes()
    if snn_neuron is not None and isinstance(module, snn_neuron):
        return "snntorch"
    if sj_node is not None and isinstance(module, sj_node):
        return "spikingjelly"
    return None


def _time_major(module: nn.Module) -> bool:
    """Whether one call of the module covers a whole sequence ``[T, ...]`` (else one step)."""
    if isinstance(module, LIF):
        return module.step_mode == "multi"
    if isinstance(module, SubstepLIF):
        return True
    if _kind(module) == "spikingjelly":
        return getattr(module, "step_mode", "s") == "m"
    return False


def _keep(t: torch.Tensor, to_cpu: bool) -> torch.Tensor:
    # Always a copy: later layers may modify a module's output in place.
    t = t.detach()
    return t.to("cpu", copy=True) if to_cpu else t.clone()


def _join(calls: List[torch.Tensor], multi: List[bool], what: str, name: str) -> torch.Tensor:
    if not calls:
        raise ValueError(f"nothing recorded for layer {name!r} yet: run the model while the Monitor is attached")
    steps = [c if m else c.unsqueeze(0) for c, m in zip(calls, multi)]
    shapes = {tuple(s.shape[1:]) for s in steps}
    if len(shapes) > 1:
        raise ValueError(f"the calls recorded for layer {name!r} have different shapes {sorted(shapes)} and cannot be "
                         f"joined along time; read monitor.{what} per call, or clear() between batches")
    return torch.cat(steps)


class Monitor:
    """Records the outputs (spikes) and membranes of a model's neuron layers through forward hooks.

    ``layers``: None for every neuron module of ``model`` (spikeops' LIF/IF, FSNeuron, SoftLIF and
    SubstepLIF, snnTorch's neurons, SpikingJelly's nodes), or a list of module names (as in
    ``model.named_modules()``) or module objects; any module's output can be recorded as
    spikes. ``record``: any of ``"spikes"`` and ``"membrane"``; the membrane is each library's
    own state variable: spikeops LIF's ``membrane`` (before the spike test, recorded with
    ``record_membrane`` switched on while attached), snnTorch's ``mem``, SpikingJelly's ``v``
    (``v_seq`` in multi-step mode, with ``store_v_seq`` switched on while attached).
    ``to_cpu``: move the records to the CPU as they are taken.

    Records are detached copies, so monitoring changes neither results nor gradients. A
    multi-step call (``[T, B, ...]``) adds T steps, a single-step call (``[B, ...]``) one:
    :meth:`spikes` and :meth:`membrane` join the calls into ``[steps, B, ...]``, also when the
    model is run one step at a time. Modules other than neurons count as one step per call
    (their per-call outputs, in :attr:`records`, are stacked). Use it as a context manager,
    or call :meth:`remove`; the records stay readable afterwards.
    """

    def __init__(self, model: nn.Module, layers: Optional[Sequence[Union[str, nn.Module]]] = None,
                 record: Union[str, Iterable[str]] = ("spikes",), to_cpu: bool = True):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        if isinstance(record, str):
            record = (record,)
        elif not isinstance(record, Iterable):
            raise TypeError(f"record must be a subset of {_RECORDABLE}, got {type(record).__name__}")
        record = tuple(record)
        if not record or any(r not in _RECORDABLE for r in record):
            raise ValueError(f"record must be a non-empty subset of {_RECORDABLE}, got {record!r}")
        self.record = tuple(r for r in _RECORDABLE if r in record)
        self.to_cpu = bool(to_cpu)
        targets = self._resolve(model, layers)
        if "membrane" in self.record:
            for name, module in targets:
                if _kind(module) is None or isinstance(module, (FSNeuron, SoftLIF, SubstepLIF)):
                    raise ValueError(f"layer {name!r} ({type(module).__name__}) has no membrane to record; "
                                     "record='membrane' supports spikeops LIF/IF, snnTorch neurons and "
                                     "SpikingJelly nodes")
        self.names: Tuple[str, ...] = tuple(name for name, _ in targets)
        self.records: Dict[str, List[torch.Tensor]] = {name: [] for name in self.names}
        self.membrane_records: Dict[str, List[torch.Tensor]] = {name: [] for name in self.names}
        self._multi: Dict[str, List[bool]] = {name: [] for name in self.names}
        self._membrane_multi: Dict[str, List[bool]] = {name: [] for name in self.names}
        self._handles = []
        self._restore: List[Tuple[nn.Module, str, object]] = []
        for name, module in targets:
            if "membrane" in self.record:
                self._switch_on_membrane(module)
            self._handles.append(module.register_forward_hook(self._hook(name)))

    @staticmethod
    def _resolve(model: nn.Module, layers) -> List[Tuple[str, nn.Module]]:
        named = list(model.named_modules(remove_duplicate=False))
        if layers is None:
            found = [(name, m) for name, m in model.named_modules() if _kind(m) is not None]
            if not found:
                raise ValueError(f"{type(model).__name__} has no neuron modules (spikeops, snnTorch or SpikingJelly "
                                 "neurons); pass layers= to name the modules to record")
            return found
        if isinstance(layers, (str, nn.Module)):
            layers = [layers]
        by_name = dict(named)
        first_name = {}
        for name, m in named:
            first_name.setdefault(id(m), name)
        chosen, seen = [], set()
        for layer in layers:
            if isinstance(layer, str):
                if layer not in by_name:
                    valid = [repr(n) for n in by_name if n]
                    shown = ", ".join(valid[:_SHOWN_NAMES])
                    more = f" and {len(valid) - _SHOWN_NAMES} more" if len(valid) > _SHOWN_NAMES else ""
                    raise ValueError(f"layers: {layer!r} is not a module of the model; valid names: {shown}{more}")
                name, module = layer, by_name[layer]
            elif isinstance(layer, nn.Module):
                if id(layer) not in first_name:
                    raise ValueError(f"layers: the {type(layer).__name__} given is not a module of the model")
                name, module = first_name[id(layer)], layer
            else:
                raise TypeError(f"layers must hold module names or modules, got {type(layer).__name__}")
            if id(module) not in seen:
                seen.add(id(module))
                chosen.append((name, module))
        if not chosen:
            raise ValueError("layers is empty: give None (every neuron module) or at least one name or module")
        return chosen

    def _switch_on_membrane(self, module: nn.Module) -> None:
        if isinstance(module, LIF):
            attr = "record_membrane"
        elif _kind(module) == "spikingjelly" and getattr(module, "step_mode", "s") == "m":
            attr = "store_v_seq"  # else v is only the last step's membrane
        else:
            return
        self._restore.append((module, attr, getattr(module, attr, False)))
        setattr(module, attr, True)

    def _hook(self, name: str):
        def hook(module, args, output):
            spikes = output[0] if isinstance(output, (tuple, list)) else output
            if not isinstance(spikes, torch.Tensor):
                raise TypeError(f"Monitor: layer {name!r} returned {type(spikes).__name__}, not a tensor")
            multi = _time_major(module)
            if "spikes" in self.record:
                self.records[name].append(_keep(spikes, self.to_cpu))
                self._multi[name].append(multi)
            if "membrane" in self.record:
                membrane, membrane_multi = self._read_membrane(name, module, output, multi)
                self.membrane_records[name].append(_keep(membrane, self.to_cpu))
                self._membrane_multi[name].append(membrane_multi)
        return hook

    @staticmethod
    def _read_membrane(name: str, module: nn.Module, output, multi: bool) -> Tuple[torch.Tensor, bool]:
        kind = _kind(module)
        if isinstance(module, LIF):
            v = getattr(module, "membrane", None)
        elif kind == "snntorch":
            v = getattr(module, "mem", None)
            if not isinstance(v, torch.Tensor) and isinstance(output, (tuple, list)) and len(output) > 1:
                v = output[-1]
        else:
            v_seq = getattr(module, "v_seq", None)
            if multi and isinstance(v_seq, torch.Tensor):
                return v_seq, True
            if multi:
                raise RuntimeError(f"Monitor: layer {name!r} ran in multi-step mode without store_v_seq, so only its "
                                   "last membrane is kept; set store_v_seq=True or the step mode before attaching")
            v = getattr(module, "v", None)
        if not isinstance(v, torch.Tensor):
            raise RuntimeError(f"Monitor: layer {name!r} ({type(module).__name__}) kept no membrane tensor "
                               "after its forward")
        return v, multi

    def _check(self, name: str, what: str) -> None:
        if name not in self.records:
            raise ValueError(f"layer {name!r} is not monitored; monitored: {', '.join(map(repr, self.names))}")
        if what not in self.record:
            raise ValueError(f"{what} is not recorded: create the Monitor with record=(..., {what!r})")

    def spikes(self, name: str) -> torch.Tensor:
        """The spikes of layer ``name`` of all recorded calls, joined along time: ``[steps, B, ...]``."""
        self._check(name, "spikes")
        return _join(self.records[name], self._multi[name], "records", name)

    def membrane(self, name: str) -> torch.Tensor:
        """The membrane of layer ``name`` of all recorded calls, joined along time: ``[steps, B, ...]``."""
        self._check(name, "membrane")
        return _join(self.membrane_records[name], self._membrane_multi[name], "membrane_records", name)

    def firing_rates(self) -> Dict[str, float]:
        """Per layer, the spikes per neuron per step over everything recorded: the fraction of
        non-zero outputs (so scaled spikes such as SubstepLIF's ``amplitude / dt`` count as one;
        for FSNeuron and SoftLIF, whose outputs are graded, it is the fraction of active outputs).
        NaN for a layer with nothing recorded."""
        if "spikes" not in self.record:
            raise ValueError("spikes are not recorded: create the Monitor with record=('spikes', ...)")
        rates = {}
        for name, calls in self.records.items():
            count = sum(int(torch.count_nonzero(c)) for c in calls)
            total = sum(c.numel() for c in calls)
            rates[name] = count / total if total else math.nan
        return rates

    def clear(self) -> None:
        """Forgets everything recorded so far (the hooks stay)."""
        for store in (self.records, self.membrane_records, self._multi, self._membrane_multi):
            for calls in store.values():
                calls.clear()

    def remove(self) -> None:
        """Detaches the hooks and restores the modules' recording switches; the records stay."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        for module, attr, previous in reversed(self._restore):
            setattr(module, attr, previous)
        self._restore = []

    def __enter__(self) -> "Monitor":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()

    def __repr__(self) -> str:
        state = "attached" if self._handles else "removed"
        return f"Monitor(layers={list(self.names)}, record={self.record}, {state})"


# ----------------------------------------------------------------------------- plots

def _figure(ax, figsize):
    """A new figure on matplotlib's Agg canvas (pyplot and its global backend untouched), or ax's."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError("spikeops' plots need matplotlib: pip install matplotlib") from e
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=figsize, layout="tight")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _finish(fig, ax, title, path):
    if title is not None:
        ax.set_title(title)
    if path is not None:
        fig.savefig(os.fspath(path), dpi=100)
    return fig


def _neurons_over_time(x, arg: str, sample: int) -> torch.Tensor:
    """``x`` as ``[T, N]`` float on the CPU: a ``[T, N]`` tensor, or batch element ``sample`` of
    ``[T, B, ...]`` with its neurons flattened."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{arg} must be a torch.Tensor of shape [T, N] or [T, B, ...], got {type(x).__name__}")
    if x.dim() < 2:
        raise ValueError(f"{arg} must have shape [T, N] or [T, B, ...], got {tuple(x.shape)}")
    x = x.detach()
    if x.dim() > 2:
        if not -x.shape[1] <= sample < x.shape[1]:
            raise ValueError(f"sample {sample} is out of range for {arg} of batch size {x.shape[1]}")
        x = x[:, sample].reshape(x.shape[0], -1)
    return x.to("cpu", torch.float32)


def raster(spikes: torch.Tensor, path: Optional[Union[str, os.PathLike]] = None, ax=None, sample: int = 0,
           title: Optional[str] = None):
    """Spike raster of ``spikes`` ``[T, N]`` (or batch element ``sample`` of ``[T, B, ...]``,
    neurons flattened): a mark at (step, neuron) for every non-zero entry. Draws on ``ax`` if
    given, else on a new figure; saves it to ``path`` (PNG unless the extension says otherwise)
    if given. Returns the matplotlib Figure."""
    s = _neurons_over_time(spikes, "spikes", sample)
    fig, ax = _figure(ax, (8, 4))
    steps, neurons = torch.nonzero(s, as_tuple=True)
    ax.vlines(steps.numpy(), neurons.numpy() - 0.4, neurons.numpy() + 0.4, color="black", linewidth=1)
    ax.set_xlim(-0.5, s.shape[0] - 0.5)
    ax.set_ylim(-0.5, s.shape[1] - 0.5)
    ax.set_xlabel("time step")
    ax.set_ylabel("neuron")
    return _finish(fig, ax, title, path)


def membrane_plot(membrane: torch.Tensor, path: Optional[Union[str, os.PathLike]] = None, ax=None, sample: int = 0,
                  neurons: Optional[Sequence[int]] = None, threshold: Optional[float] = None,
                  title: Optional[str] = None):
    """Membrane traces over time of ``membrane`` ``[T, N]`` (or batch element ``sample`` of
    ``[T, B, ...]``, neurons flattened): one line per neuron of ``neurons`` (flat indices; the
    first 8 by default), and a dashed line at ``threshold`` if given. Draws on ``ax`` if given,
    else on a new figure; saves it to ``path`` if given. Returns the matplotlib Figure."""
    v = _neurons_over_time(membrane, "membrane", sample)
    count = v.shape[1]
    if neurons is None:
        neurons = list(range(min(8, count)))
    else:
        neurons = [int(n) for n in neurons]
        out = [n for n in neurons if not 0 <= n < count]
        if out or not neurons:
            raise ValueError(f"neurons must be flat indices in [0, {count}), got {neurons}")
    fig, ax = _figure(ax, (8, 4))
    steps = range(v.shape[0])
    for n in neurons:
        ax.plot(steps, v[:, n].numpy(), label=f"neuron {n}")
    if threshold is not None:
        ax.axhline(float(threshold), linestyle="--", color="gray", label="threshold")
    ax.set_xlabel("time step")
    ax.set_ylabel("membrane")
    ax.legend(fontsize="small", loc="best")
    return _finish(fig, ax, title, path)


def firing_rate_plot(rates: Mapping[str, float], path: Optional[Union[str, os.PathLike]] = None, ax=None,
                     title: Optional[str] = None):
    """Bar chart of per-layer firing rates (spikes per neuron per step), e.g. from
    :meth:`Monitor.firing_rates`. Draws on ``ax`` if given, else on a new figure; saves it to
    ``path`` if given. Returns the matplotlib Figure."""
    if not isinstance(rates, Mapping):
        raise TypeError(f"rates must be a dict of layer name -> rate, got {type(rates).__name__}")
    if not rates:
        raise ValueError("rates is empty: nothing to plot")
    try:
        values = [float(r) for r in rates.values()]
    except (TypeError, ValueError) as e:
        raise TypeError(f"rates must map layer names to numbers: {e}") from e
    labels = [str(name) if name != "" else "(model)" for name in rates]
    fig, ax = _figure(ax, (max(4.0, 0.6 * len(labels) + 2), 4))
    bars = ax.bar(range(len(values)), values, color="tab:blue")
    ax.bar_label(bars, fmt="%.3g", fontsize="small")
    ax.set_xticks(range(len(values)))
    ax.set_xticklabels(labels, rotation=45 if len(labels) > 4 else 0, ha="right" if len(labels) > 4 else "center")
    ax.set_ylabel("firing rate (spikes / neuron / step)")
    return _finish(fig, ax, title, path)
