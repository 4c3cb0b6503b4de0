import pytest
import torch

import spikeops
from spikeops import _C

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
