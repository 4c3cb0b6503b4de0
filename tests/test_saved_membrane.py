"""The 16-bit saved membrane (functional.lif(..., saved_membrane=...), LIF(saved_membrane=...)):
the kernel's rounding against the reference's, the same spikes and nearly the same gradients
as with float32, half the bytes saved, and bad arguments named."""
import pytest
import torch

from spikeops import functional as F
from spikeops import reference as R
from spikeops.nn import LIF
from spikeops.benchmarks.timing import saved_bytes


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("per_neuron", [False, True])
def test_the_op_rounds_as_the_reference(isa, dtype, per_neuron):
    torch.manual_seed(0)
    theta = torch.rand(37) + 0.5 if per_neuron else torch.tensor(1.0)
    # values at and around the threshold, beyond float16's range, refractory marks (-inf)
    h = torch.cat([theta.expand(5, 37) + torch.randn(5, 37) * 1e-3, torch.randn(4, 37) * 3,
                   torch.full((1, 37), 7e4), torch.full((1, 37), -1e5), torch.full((1, 37), -float("inf"))])
    got = torch.ops.spikeops.saved_h_16(h, theta, dtype)
    want = R.saved_h_16(h, theta, dtype)
    assert got.dtype == dtype and torch.equal(got.view(torch.int16), want.view(torch.int16))
    assert torch.equal(got.float() > theta, h > theta)  # every value keeps its side of the threshold
    assert torch.isfinite(got[:-1]).all() and (got[-1] == -float("inf")).all()


@pytest.mark.parametrize("surrogate, limit", [("atan", 2e-3), ("fast_sigmoid", 3e-2)])
def test_same_spikes_and_close_gradients(surrogate, limit):
    """float16: the gradients of 100 steps through the rounded membranes stay within `limit`
    (relative L2) of the float32 ones; measured 5e-4 (atan) and 1e-2 (fast sigmoid)."""
    torch.manual_seed(0)
    x = (torch.randn(100, 2048) * 0.6 + 0.3).requires_grad_()
    theta = torch.full((2048,), 1.0, requires_grad=True)
    g = torch.randn(100, 2048)
    out = {}
    for dtype in (None, torch.float16):
        s, _ = F.lif(x, decay=0.9, threshold=theta, surrogate=surrogate, saved_membrane=dtype)
        out[dtype] = (s.detach(), *torch.autograd.grad(s, [x, theta], g))
    assert torch.equal(out[None][0], out[torch.float16][0])
    for a, b in zip(out[None][1:], out[torch.float16][1:]):
        assert ((a - b).norm() / a.norm()).item() < limit


def test_the_saved_membrane_takes_half_the_bytes():
    x = torch.randn(50, 4, 256).requires_grad_()
    full = saved_bytes(lambda: F.lif(x, decay=0.9), [x])
    half = saved_bytes(lambda: F.lif(x, decay=0.9, saved_membrane=torch.float16), [x])
    # h (4 bytes per neuron-step, then 2) and the few bytes of decay, gain and threshold
    assert x.numel() * 4 <= full < x.numel() * 4 + 64
    assert full - half == x.numel() * 2


def test_the_module_option_and_bad_arguments():
    x = torch.randn(20, 3, 40).requires_grad_()
    lif = LIF(0.8, saved_membrane=torch.bfloat16)
    s = lif(x)
    s.sum().backward()
    assert x.grad is not None and torch.equal(s, LIF(0.8)(x))
    with pytest.raises(ValueError, match="saved_membrane must be torch.float16, torch.bfloat16 or None"):
        LIF(0.8, saved_membrane=torch.float64)
    with pytest.raises(ValueError, match="saved_membrane must be"):
        F.lif(x, decay=0.8, saved_membrane="half")
    with pytest.raises(ValueError, match="saved_membrane applies to float32 x"):
        F.lif(x.double(), decay=0.8, saved_membrane=torch.float16)
    with pytest.raises(ValueError, match="dtype must be float16 or bfloat16"):
        torch.ops.spikeops.saved_h_16(x.detach(), torch.tensor(1.0), torch.float64)
    with pytest.raises(ValueError, match="does not broadcast"):
        torch.ops.spikeops.saved_h_16(x.detach(), torch.ones(7), torch.float16)
