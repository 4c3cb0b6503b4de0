"""Training and scoring the ANN a conversion starts from."""
from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import nn

from ..data import Data, batches
from ..nn import encode_rate


def train_ann(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, *, lr: float = 3e-3,
              batch_size: int = 64, rate_noise: float = 0.0, noise_T: int = 4, schedule: Optional[str] = None,
              progress: Optional[Callable[[int, float], None]] = None) -> nn.Module:
    """Adam on cross-entropy; returns the model in eval mode. With ``rate_noise`` > 0 that
    fraction of the batches sees the mean of ``noise_T`` rate-coded samples of its inputs
    instead of the inputs (input-noise augmentation: the network then tolerates the noise of
    rate-coded input at few steps). ``schedule``: None (constant learning rate) or ``"cosine"``
    (decayed to 0 over all steps). ``progress(epoch, last_loss)`` is called after each epoch."""
    if not 0.0 <= rate_noise <= 1.0:
        raise ValueError(f"rate_noise must be a fraction in [0, 1], got {rate_noise!r}")
    if schedule not in (None, "cosine"):
        raise ValueError(f"schedule must be None or 'cosine', got {schedule!r}")
    opt = torch.optim.Adam(model.parameters(), lr)
    steps = epochs * -(-len(y) // batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if schedule == "cosine" else None
    for epoch in range(epochs):
        model.train()
        for idx in torch.randperm(len(y)).split(batch_size):
            xb = x[idx]
            if rate_noise > 0 and torch.rand(()).item() < rate_noise:
                xb = encode_rate(xb, noise_T).mean(0)
            loss = nn.functional.cross_entropy(model(xb), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
        if progress:
            progress(epoch, loss.item())
    return model.eval()


def accuracy(model: nn.Module, data: Data, y: Optional[torch.Tensor] = None, *, batch_size: int = 1024,
             max_batches: Optional[int] = None, progress: bool = False) -> float:
    """Top-1 accuracy of ``model`` (put in eval mode) on ``x`` with labels ``y``, or on labelled
    batches (:mod:`spikeops.data`), streamed."""
    model.eval()
    correct, count = 0, 0
    with torch.inference_mode():
        for xb, yb in batches(data, y, batch_size=batch_size, max_batches=max_batches, progress=progress,
                              desc="accuracy", need_labels=True):
            correct += (model(xb).argmax(1) == yb.to(xb.device)).sum().item()
            count += len(yb)
    return correct / count
