"""Small real datasets bundled with dependencies (no downloads)."""
from __future__ import annotations

from typing import Tuple

import torch


def digits(test_fraction: float = 0.2, seed: int = 0) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """scikit-learn's 8x8 handwritten digits (1,797 images) as ``x_train, y_train, x_test, y_test``;
    images are ``[N, 1, 8, 8]`` float32 in [0, 1], a stratified split with a fixed seed."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as e:
        raise ImportError("the digits dataset needs scikit-learn: pip install 'spikeops[demo]'") from e
    data = load_digits()
    x = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(data.target, dtype=torch.long)
    train, test = train_test_split(range(len(y)), test_size=test_fraction, random_state=seed, stratify=data.target)
    return x[train], y[train], x[test], y[test]
