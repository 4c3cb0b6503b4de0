"""What the applications share: the networks they train (8x8 digits, MNIST), progress bars."""
from __future__ import annotations

from typing import Callable, TypeVar

from torch import nn

from spikeops.train import train_ann

Result = TypeVar("Result")


def make_ann(width: int = 32, activation: Callable[[], nn.Module] = nn.ReLU) -> nn.Sequential:
    """For the 8x8 digits: three conv layers (width, 2 width, 4 width channels) with BatchNorm
    and ``activation``, average pooling, a linear output; ``[B, 1, 8, 8]`` inputs, 10 classes."""
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1), nn.BatchNorm2d(width), activation(),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), activation(), nn.AvgPool2d(2),
        nn.Conv2d(2 * width, 4 * width, 3, padding=1), nn.BatchNorm2d(4 * width), activation(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(4 * width * 2 * 2, 10))


def mnist_ann(activation: Callable[[], nn.Module] = nn.ReLU, channels=(16, 32)) -> nn.Sequential:
    """For MNIST: two 5x5 conv layers (valid padding, no bias) with BatchNorm, ``activation``
    and 2x2 average pooling, a linear output without bias; ``[B, 1, 28, 28]`` inputs, 10
    classes. Two neuron layers keep the spiking versions' latency short."""
    c1, c2 = channels
    return nn.Sequential(
        nn.Conv2d(1, c1, 5, bias=False), nn.BatchNorm2d(c1), activation(), nn.AvgPool2d(2),
        nn.Conv2d(c1, c2, 5, bias=False), nn.BatchNorm2d(c2), activation(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(c2 * 4 * 4, 10, bias=False))


def progress_bar(total: int, desc: str):
    """A progress bar (tqdm where installed) with update, set_postfix_str and close."""
    try:
        from tqdm import tqdm
        return tqdm(total=total, desc=desc, leave=False)
    except ImportError:  # progress bars are optional
        class Plain:
            def update(self, n=1):
                pass

            def set_postfix_str(self, s):
                pass

            def close(self):
                print(f"{desc}: done", flush=True)
        return Plain()


def with_epoch_bar(epochs: int, desc: str, train: Callable[[Callable[[int, float], None]], Result]) -> Result:
    """``train(progress)`` with a progress bar over ``epochs`` that shows the last loss;
    ``progress(epoch, loss)`` is the per-epoch callback the training functions take."""
    bar = progress_bar(epochs, desc)

    def progress(epoch, loss):
        bar.update()
        bar.set_postfix_str(f"loss {loss:.3f}")

    try:
        return train(progress)
    finally:
        bar.close()


def train_ann_with_progress(model: nn.Module, x, y, epochs: int, desc: str, **kwargs) -> nn.Module:
    """:func:`spikeops.train.train_ann` with a progress bar."""
    return with_epoch_bar(epochs, desc, lambda progress: train_ann(model, x, y, epochs, progress=progress, **kwargs))
