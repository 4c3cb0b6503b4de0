"""Data in batches. Every calibration, conversion, evaluation and measurement function of
spikeops takes its data as

- a tensor ``x`` (and, where labels are needed, a tensor ``y`` beside it),
- a pair ``(x, y)`` of tensors, or
- any iterable of batches: a ``DataLoader``, a list, a generator, each batch ``(x, y, ...)``
  or ``x`` alone,

and streams it: one batch at a time, so memory is bounded by a batch and never by the data
set. Long loops show a progress bar (tqdm, where installed; ``progress=False`` turns it off)
and stop after ``max_batches`` batches when that is given.
"""
from __future__ import annotations

import contextlib
import itertools
from typing import Iterable, Iterator, Optional, Tuple, Union

import torch
from torch import nn

__all__ = ["Data", "batches", "sequences", "check_reiterable", "run_in_steps"]

Data = Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor], Iterable]


def _split(x: torch.Tensor, y: Optional[torch.Tensor], batch_size: int):
    if y is not None and len(y) != len(x):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    ys = y.split(batch_size) if y is not None else itertools.repeat(None)
    return zip(x.split(batch_size), ys)


def _as_pair(batch, index: int) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    if isinstance(batch, torch.Tensor):
        return batch, None
    if isinstance(batch, (tuple, list)) and batch and isinstance(batch[0], torch.Tensor):
        y = batch[1] if len(batch) > 1 else None
        return batch[0], y if isinstance(y, torch.Tensor) else None
    raise TypeError(f"batch {index} of the data is a {type(batch).__name__}; expected a tensor x or a tuple (x, y, ...)")


def _count(data, batch_size: int) -> Optional[int]:
    if isinstance(data, torch.Tensor):
        return -(-len(data) // batch_size)
    try:
        return len(data)
    except TypeError:
        return None


def batches(data: Data, y: Optional[torch.Tensor] = None, *, batch_size: int = 256,
            max_batches: Optional[int] = None, progress: bool = False, desc: Optional[str] = None,
            need_labels: bool = False) -> Iterator[Tuple[torch.Tensor, Optional[torch.Tensor]]]:
    """The batches ``(x, y)`` of ``data`` (``y`` None where the data has no labels).

    Tensors are split into ``batch_size`` rows; an iterable is used as it batches. With
    ``need_labels``, data without labels is an error."""
    if max_batches is not None and (not isinstance(max_batches, int) or max_batches < 1):
        raise ValueError(f"max_batches must be an int >= 1 or None, got {max_batches!r}")
    if isinstance(data, torch.Tensor):
        pairs = _split(data, y, batch_size)
        total = _count(data, batch_size)
    elif (isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data)
          and y is None and data[0].dim() >= 1 and len(data[0]) == len(data[1]) and data[1].dim() == 1):
        pairs = _split(data[0], data[1], batch_size)
        total = _count(data[0], batch_size)
    else:
        if y is not None:
            raise TypeError("y is only given beside a tensor x; an iterable of batches carries its own labels")
        if not isinstance(data, Iterable):
            raise TypeError(f"data must be a tensor, a pair (x, y) of tensors or an iterable of batches, "
                            f"got {type(data).__name__}")
        pairs = (_as_pair(b, i) for i, b in enumerate(data))
        total = _count(data, batch_size)
    if max_batches is not None:
        pairs = itertools.islice(pairs, max_batches)
        total = max_batches if total is None else min(total, max_batches)
    bar = _progress_bar(total, desc) if progress else None
    for i, (xb, yb) in enumerate(pairs):
        if need_labels and yb is None:
            raise ValueError(f"batch {i} of the data has no labels; give (x, y) batches or y")
        yield xb, yb
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()


def check_reiterable(data: Data, what: str) -> None:
    """Raises a clear error when ``data`` is a one-pass iterator but ``what`` must read it more
    than once (a DataLoader, a list or tensors can be read again)."""
    if not isinstance(data, (torch.Tensor, tuple, list)) and iter(data) is data:
        raise TypeError(f"{what} reads the data more than once; give a DataLoader, a list of batches or "
                        f"tensors, not a one-pass iterator ({type(data).__name__})")


def _progress_bar(total: Optional[int], desc: Optional[str]):
    try:
        from tqdm.auto import tqdm
    except ImportError:  # progress bars are optional
        return None
    return tqdm(total=total, desc=desc, leave=False, unit="batch")


def sequences(data: Data, y: Optional[torch.Tensor] = None, T: Optional[int] = None, *, encoder="constant",
              generator: Optional[torch.Generator] = None, batch_size: int = 256, max_batches: Optional[int] = None,
              progress: bool = False, desc: Optional[str] = None, need_labels: bool = False):
    """Batches ``(x_seq, y)`` of input sequences ``[T, b, ...]``: ``data`` (tensors or batches)
    encoded over ``T`` steps per batch (:func:`spikeops.nn.encode`), or, with ``T`` None, a
    ready sequence tensor ``[T, B, ...]`` split along its batch dimension."""
    if T is not None:
        from .nn import encode
        for xb, yb in batches(data, y, batch_size=batch_size, max_batches=max_batches, progress=progress,
                              desc=desc, need_labels=need_labels):
            yield encode(xb, T, encoder, generator=generator), yb
        return
    if not isinstance(data, torch.Tensor) or data.dim() < 2:
        raise TypeError("without T, data must be a [T, B, ...] tensor of input sequences; give T (and an encoder) "
                        "to encode tensors or batches of inputs one batch at a time")
    if y is not None and len(y) != data.shape[1]:
        raise ValueError(f"y must have one label per sequence (B = {data.shape[1]}), got {len(y)}")
    if need_labels and y is None:
        raise ValueError("labels are needed: give y")
    seq = data.transpose(0, 1)  # split along B with the same machinery
    for xb, yb in batches(seq, y, batch_size=batch_size, max_batches=max_batches, progress=progress, desc=desc):
        yield xb.transpose(0, 1), yb


# Samples x steps per chunk of run_in_steps: a few hundred MB of activations for MNIST-sized layers.
CHUNK_SAMPLE_STEPS = 16384


@contextlib.contextmanager
def _carried_state(snn: nn.Module):
    """Every LIF layer of ``snn`` carries its state from call to call (starting from rest);
    their settings are restored afterwards."""
    from .nn import LIF
    neurons = [m for m in snn.modules() if isinstance(m, LIF)]
    saved = [(n.stateful, n.state) for n in neurons]
    for n in neurons:
        n.stateful, n.state = True, None
    try:
        yield
    finally:
        for n, (stateful, state) in zip(neurons, saved):
            n.stateful, n.state = stateful, state


def run_in_steps(snn: nn.Module, x: torch.Tensor, T: int, *, encoder="constant",
                 generator: Optional[torch.Generator] = None,
                 chunk_sample_steps: Optional[int] = None) -> Iterator[torch.Tensor]:
    """Runs ``snn`` (over ``[T, B, ...]``) on the batch ``x`` encoded over ``T`` steps, a chunk
    of steps at a time with every LIF layer's state carried from chunk to chunk, and yields
    each chunk's output ``[steps, B, ...]``: the same run as ``snn(encode(x, T))`` with memory
    bounded by ``chunk_sample_steps`` (samples x steps, default :data:`CHUNK_SAMPLE_STEPS`)
    instead of by T. A network with other layers that have state over time (sub-step or ZOH
    LIF neurons, synaptic filters) runs all T steps in one chunk."""
    from .nn import SubstepLIF, SynapticFilter, ZOHLIF, encode
    from .nn._options import check_steps
    T = check_steps(T)
    budget = CHUNK_SAMPLE_STEPS if chunk_sample_steps is None else chunk_sample_steps
    steps = max(1, min(T, budget // max(len(x), 1)))
    if any(isinstance(m, (SubstepLIF, ZOHLIF, SynapticFilter)) for m in snn.modules()):
        steps = T
    with _carried_state(snn):
        for start in range(0, T, steps):
            yield snn(encode(x, min(steps, T - start), encoder, generator=generator))
