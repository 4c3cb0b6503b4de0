import os
import sys

import pytest
import torch


def _use_package_from(site: str) -> None:
    """Imports spikeops from `site` (`make test-sanitize` installs its sanitizer build there) instead of the
    editable install, whose import hook would otherwise take precedence."""
    sys.meta_path[:] = [f for f in sys.meta_path if not type(f).__name__.startswith("ScikitBuild")]
    sys.path.insert(0, os.path.abspath(site))


if os.environ.get("SPIKEOPS_TEST_SITE"):
    _use_package_from(os.environ["SPIKEOPS_TEST_SITE"])

import spikeops  # noqa: E402
from spikeops import _C  # noqa: E402

SUPPORTED_ISAS = [isa for isa in ("scalar", "avx2", "avx512") if _C.cpu_isa_supported(isa)]


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
