"""How the CUDA kernels save the membrane for float16/bfloat16 data (spikeops.reference.round_saved_h).

The CUDA tests compare the kernels' saved values with this function bit for bit; here
its own properties are checked on CPU: it keeps every h on its side of the threshold,
stays within one ulp of round-to-nearest, and stores values of the 16-bit type.
"""
import pytest
import torch

from spikeops import reference as R


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_rounding_keeps_the_side_of_the_threshold(dtype):
    theta = torch.tensor([0.3, 1.0, 1.1, 0.7071, 3.3e-3, 250.1])
    rel = torch.linspace(-4e-3, 4e-3, 20001).unsqueeze(1)
    h = (theta * (1 + rel)).float()  # [K, 6]: dense around each threshold, including exact ties
    h = torch.cat([h, -h, torch.full((1, 6), float("-inf")), torch.zeros(1, 6)])
    saved = R.round_saved_h(h, theta, dtype)
    assert torch.equal(saved > theta, h > theta)
    assert torch.equal(saved.to(dtype).float(), saved)  # representable in the 16-bit type
    nearest = h.to(dtype).float()
    moved = saved != nearest
    assert moved.any()  # the dense grid does cross thresholds that are not representable
    ulp = torch.where(nearest == 0, torch.finfo(dtype).smallest_normal,
                      nearest.abs() * torch.finfo(dtype).eps)
    assert ((saved - nearest).abs()[moved] <= ulp[moved] * 1.0001).all()
    assert torch.equal(saved[~moved], nearest[~moved])
    assert saved[-2].isneginf().all()  # the refractory marker survives


def test_only_16bit_types():
    with pytest.raises(ValueError, match="dtype"):
        R.round_saved_h(torch.zeros(3), 1.0, torch.float32)
