"""What the applications share: the network they train on the 8x8 digits, progress bars."""
from __future__ import annotations

from torch import nn

from spikeops.train import train_ann


def make_ann(width: int = 32) -> nn.Sequential:
    """Three conv layers (width, 2 width, 4 width channels) with BatchNorm and ReLU, average
    pooling, a linear output: for [B, 1, 8, 8] inputs and 10 classes."""
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(2 * width, 4 * width, 3, padding=1), nn.BatchNorm2d(4 * width), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(4 * width * 2 * 2, 10))


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


def train_ann_with_progress(model: nn.Module, x, y, epochs: int, desc: str, **kwargs) -> nn.Module:
    """:func:`spikeops.train.train_ann` with a progress bar."""
    bar = progress_bar(epochs, desc)

    def progress(epoch, loss):
        bar.update()
        bar.set_postfix_str(f"loss {loss:.3f}")

    model = train_ann(model, x, y, epochs, progress=progress, **kwargs)
    bar.close()
    return model
