"""Fixtures and helpers shared by the test files: the CPU ISAs, the LIF cases every backend's
tests run, the raw ops' arguments, and the digits data and ANNs the method tests start from."""
import itertools
import os
import sys

import pytest
import torch
from torch import nn


def _use_package_from(site: str) -> None:
    """Imports spikeops from `site` (`make test-sanitize` installs its sanitizer build there) instead of the
    editable install, whose import hook would otherwise take precedence."""
    sys.meta_path[:] = [f for f in sys.meta_path if not type(f).__name__.startswith("ScikitBuild")]
    sys.path.insert(0, os.path.abspath(site))


if os.environ.get("SPIKEOPS_TEST_SITE"):
    _use_package_from(os.environ["SPIKEOPS_TEST_SITE"])

import spikeops  # noqa: E402
from spikeops import _C  # noqa: E402
from spikeops import functional as F  # noqa: E402
from spikeops import surrogate as S  # noqa: E402
from spikeops.kinds import ResetMode, SurrogateKind  # noqa: E402

SUPPORTED_ISAS = [isa for isa in ("scalar", "avx2", "avx512") if _C.cpu_isa_supported(isa)]


def on_every_isa_and_thread_count(monkeypatch, fn) -> list:
    """fn()'s result on every CPU ISA this machine runs, with 1, 2 and 3 threads each."""
    results, threads = [], torch.get_num_threads()
    try:
        for isa in SUPPORTED_ISAS:
            monkeypatch.setenv("SPIKEOPS_CPU_ISA", isa)
            for n in (1, 2, 3):
                torch.set_num_threads(n)
                results.append(fn())
    finally:
        torch.set_num_threads(threads)
    return results


@pytest.fixture(params=SUPPORTED_ISAS)
def isa(request, monkeypatch):
    """Runs a test once per CPU kernel this machine can execute."""
    monkeypatch.setenv("SPIKEOPS_CPU_ISA", request.param)
    assert spikeops.cpu_isa() == request.param
    return request.param


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(1234)


def boundary_band(h_minus_theta: torch.Tensor, eps: float) -> torch.Tensor:
    """Elements whose pre-spike membrane is within eps of the threshold (rounding may flip them)."""
    return h_minus_theta.abs() <= eps


# ----------------------------------------------------------------------------- LIF cases

SURROGATES = [S.ATan(2.0), S.FastSigmoid(25.0, height=0.8), S.Sigmoid(4.0), S.Triangle(0.6, height=0.3),
              S.Triangle(None, height=0.3), S.Rectangle(0.8), S.STDB(0.5, 0.035), S.Linear(0.3),
              S.STDB(0.5, 0.035, float32_underflow=True)]


RESETS = ["subtract", "zero", "none"]


def make_lif_case(T, N, dtype, per_neuron, with_state, refractory):
    """Random LIF input, parameters (one per layer or per neuron, with gradients) and state."""
    x = (torch.randn(T, N, dtype=dtype) * 1.2 + 0.45).requires_grad_()
    if per_neuron:
        alpha = (torch.rand(N, dtype=dtype) * 0.6 + 0.4).requires_grad_()
        theta = (torch.rand(N, dtype=dtype) * 0.8 + 0.6).requires_grad_()
        gamma = (torch.rand(N, dtype=dtype) * 0.5 + 0.75).requires_grad_()
    else:
        alpha = torch.tensor(0.8, dtype=dtype, requires_grad=True)
        theta = torch.tensor(1.1, dtype=dtype, requires_grad=True)
        gamma = torch.tensor(0.9, dtype=dtype, requires_grad=True)
    state = None
    if with_state:
        state = F.LIFState(
            (torch.randn(N, dtype=dtype) * 0.5).requires_grad_(),
            torch.randint(0, refractory + 1, (N,), dtype=torch.int32) if refractory else None,
            torch.randint(0, 6, (N,), dtype=torch.int32))
    return x, alpha, gamma, theta, state


# Every reset mode x surrogate x refractory x deferred x detach combination (refractory with
# deferred_reset is rejected, so it is not a case): the CPU, emulated-CUDA and CUDA tests all run these.
LIF_CASES = [c for c in itertools.product(RESETS, range(len(SURROGATES)), [0, 2], [False, True], [False, True])
             if not (c[2] and c[3])]


# The raw ops' non-tensor arguments, by schema name.
OP_DEFAULTS = dict(reset=ResetMode.subtract, v_reset=0.0, refractory=0, deferred_reset=False, detach_reset=False,
                   surrogate=SurrogateKind.atan,
                   sg_height=1.0, sg_width=2.0, track_age=False, age_init=1000, return_ages=False)


# LIF configurations the device tests (emulated CUDA, CUDA) run at every storage dtype and size.
DEVICE_CONFIGS = {
    "subtract-atan": {},
    "zero-refractory-sigmoid": dict(reset=ResetMode.zero, v_reset=-0.1, refractory=2, surrogate=SurrogateKind.sigmoid,
                                    sg_width=4.0),
    "deferred-fast_sigmoid": dict(deferred_reset=True, surrogate=SurrogateKind.fast_sigmoid, sg_width=25.0),
    "none-detach-triangle": dict(reset=ResetMode.none, detach_reset=True, surrogate=SurrogateKind.triangle,
                                 sg_height=0.3, sg_width=0.0),
    "stdb": dict(surrogate=SurrogateKind.stdb, sg_height=0.3, sg_width=0.01, track_age=True),
}


def device_lif_inputs(T, N, per_neuron, refractory, seed=0, wide_grads=False):
    """Inputs of the raw LIF ops for the device/dtype comparisons: x, (decay, gain, threshold),
    (v0, r0, a0), grad spikes, grad v. wide_grads spreads the spike gradients over 12 decades
    (float16 subnormals, underflow to zero, values near its largest)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(T, N, generator=gen) * 1.2 + 0.45
    scale = torch.logspace(-9, 3.5, T * N)[torch.randperm(T * N, generator=gen)].view(T, N) if wide_grads else 1.0
    if per_neuron:
        params = (torch.rand(N, generator=gen) * 0.6 + 0.4, torch.rand(N, generator=gen) * 0.5 + 0.75,
                  torch.rand(N, generator=gen) * 0.8 + 0.6)
    else:
        params = (torch.tensor(0.8), torch.tensor(0.9), torch.tensor(1.1))
    state = (torch.randn(N, generator=gen) * 0.5,
             torch.randint(0, refractory + 1, (N,), generator=gen, dtype=torch.int32),
             torch.randint(0, 5, (N,), generator=gen, dtype=torch.int32))
    g_s, g_v = torch.randn(T, N, generator=gen) * scale, torch.randn(N, generator=gen)
    return x, params, state, g_s, g_v


def lif_forward_args(T=5, N=23, grad=True, per_neuron=False, **overrides):
    """Positional arguments of torch.ops.spikeops.lif_forward for a random [T, N] case."""
    cfg = dict(OP_DEFAULTS, **overrides)
    x = torch.randn(T, N, requires_grad=grad)
    shape = (N,) if per_neuron else ()
    alpha = torch.full(shape, 0.8, requires_grad=grad)
    gamma = torch.full(shape, 1.1, requires_grad=grad)
    theta = torch.full(shape, 0.7, requires_grad=grad)
    v0 = torch.randn(N, requires_grad=grad)
    r0 = torch.zeros(N, dtype=torch.int32)
    a0 = torch.zeros(N, dtype=torch.int32)
    return (x, v0, r0, a0, alpha, gamma, theta, cfg["reset"], cfg["v_reset"], cfg["refractory"],
            cfg["deferred_reset"], cfg["detach_reset"], cfg["surrogate"], cfg["sg_height"], cfg["sg_width"],
            cfg["track_age"], cfg["age_init"], cfg["return_ages"], grad)


class ConvSNN(nn.Module):
    """A small conv SNN with learnable per-channel thresholds, for compile and device tests."""
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.lif1 = spikeops.LIF(tau=2.0, learn_threshold=True, param_shape=(4, 1, 1))
        self.fc = nn.Linear(4 * 6 * 6, 10)
        self.lif2 = spikeops.LIF(decay=0.9, surrogate="fast_sigmoid", reset="zero")

    def forward(self, x):  # x [T, B, 2, 6, 6]
        T, B = x.shape[:2]
        y = self.conv(x.flatten(0, 1)).unflatten(0, (T, B))
        y = self.lif1(y)
        y = self.fc(y.flatten(2))
        return self.lif2(y).mean(0)


# ----------------------------------------------------------------------------- digits

@pytest.fixture(scope="session")
def digits_data():
    """scikit-learn's 8x8 digits: x_train, y_train, x_test, y_test."""
    pytest.importorskip("sklearn", reason="the digits dataset comes with scikit-learn (a test dependency)")
    from spikeops.datasets import digits
    return digits()


def fit_ann(model, x, y, epochs, lr=3e-3, seed=0):
    """spikeops.train.train_ann after torch.manual_seed(seed) (None: the current random state)."""
    from spikeops.train import train_ann
    if seed is not None:
        torch.manual_seed(seed)
    return train_ann(model, x, y, epochs, lr=lr)


def relu_cnn(pool=nn.MaxPool2d):
    """A small ReLU CNN for the [B, 1, 8, 8] digits."""
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), pool(2),
                         nn.Flatten(), nn.Linear(8 * 16, 32), nn.ReLU(), nn.Linear(32, 10))


@pytest.fixture(scope="session")
def relu_ann(digits_data):
    """relu_cnn trained 10 epochs on the digits (seed 0)."""
    xtr, ytr, _, _ = digits_data
    torch.manual_seed(0)
    return fit_ann(relu_cnn(), xtr, ytr, 10)
