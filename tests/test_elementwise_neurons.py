"""The element-wise neuron ops: soft-LIF rate (docs/math.md §3) and the FS neuron (section 6)."""
import math

import pytest
import torch

from spikeops import functional as F
from spikeops import reference as R
from spikeops.convert.fs import fit_fs, relu_code

MNIST = dict(tau_rc=0.02, tau_ref=0.002, smoothing=0.02, gain=1.0, amplitude=0.063)
CIFAR = dict(tau_rc=0.05, tau_ref=0.001, smoothing=0.02, gain=0.825, amplitude=0.063)


def soft_lif_formula(x, tau_rc, tau_ref, smoothing, gain, amplitude):
    """docs/math.md §3 written out in float64 with an exact softplus (no threshold shortcut)."""
    z = gain * x / smoothing
    s = smoothing * (torch.clamp(z, min=0) + torch.log1p(torch.exp(-z.abs())))
    return amplitude / (tau_ref + tau_rc * torch.log1p(1 / s))


@pytest.mark.parametrize("constants", [MNIST, CIFAR])
def test_soft_lif_values_match_formula(constants):
    x = torch.cat([torch.linspace(-0.5, 3, 1001, dtype=torch.float64), torch.randn(1000, dtype=torch.float64)])
    x = x[x > -0.5]
    expected = soft_lif_formula(x, **constants)
    torch.testing.assert_close(F.soft_lif(x, **constants), expected, rtol=1e-12, atol=0)
    got32 = F.soft_lif(x.float(), **constants).double()
    assert ((got32 - expected).abs() / expected).max() < 2e-6


@pytest.mark.parametrize("constants", [MNIST, CIFAR])
def test_soft_lif_float32_every_isa(isa, constants, monkeypatch):
    """The vector kernels compute the scalar kernel's float32 operations: identical bits, and the
    value and gradient within float32 rounding of the float64 formula, tail (y < -30) included."""
    # (not x = 0 exactly: autograd of the clamp/abs form of the formula is off by 2x there)
    x = torch.cat([torch.linspace(-3, 5, 20010), torch.tensor([-1e3, -0.7, -0.6, 1e-7, 50.0])])
    x64 = x.double().requires_grad_()
    expected = soft_lif_formula(x64, **constants)
    (slope64,) = torch.autograd.grad(expected.sum(), x64)
    xr = x.clone().requires_grad_()
    got = F.soft_lif(xr, **constants)
    (slope,) = torch.autograd.grad(got.sum(), xr)
    tail = constants["gain"] * x.double() / constants["smoothing"] < -30
    rel = ((got.double() - expected.detach()).abs() / expected.detach())[~tail]
    assert rel.max() < 2e-6
    assert (got[tail] > 0).all()
    rel_slope = ((slope.double() - slope64).abs() / slope64.abs().clamp(min=1e-30))[~tail]
    assert rel_slope.max() < 1e-5
    if isa != "scalar":
        monkeypatch.setenv("SPIKEOPS_CPU_ISA", "scalar")
        assert torch.equal(F.soft_lif(x, **constants), got.detach())
        xs = x.clone().requires_grad_()
        (scalar_slope,) = torch.autograd.grad(F.soft_lif(xs, **constants).sum(), xs)
        assert torch.equal(scalar_slope, slope)


def test_soft_lif_tail_and_limits():
    # Far below threshold: log(1 + 1/s) -> -log(gamma) - y, so r = m / (tau_ref + tau_rc (-log gamma - y)).
    x = torch.tensor([-1.0, -10.0, -1e3, -1e6], dtype=torch.float64)
    y = x / 0.02
    tail = 0.063 / (0.002 + 0.02 * (-math.log(0.02) - y))
    torch.testing.assert_close(F.soft_lif(x, **MNIST), tail, rtol=1e-10, atol=0)
    assert (F.soft_lif(x.float(), **MNIST) > 0).all()
    # smoothing -> 0 gives the LIF rate curve r(j) = 1 / (tau_ref + tau_rc log(1 + 1/(j - 1))), j = x + 1.
    x = torch.linspace(0.05, 4, 50, dtype=torch.float64)
    lif_rate = 1 / (0.002 + 0.02 * torch.log1p(1 / x))
    torch.testing.assert_close(F.soft_lif(x, **{**MNIST, "smoothing": 1e-6, "amplitude": 1.0}), lif_rate,
                               rtol=1e-4, atol=0)


def test_soft_lif_gradient():
    x = (torch.randn(300, dtype=torch.float64) * 1.5).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: F.soft_lif(t, **CIFAR), (x,))
    tail = torch.tensor([-0.7, -5.0, -100.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: F.soft_lif(t, **MNIST), (tail,))
    # analytic derivative of docs/math.md §3
    x = torch.linspace(-0.4, 3, 500, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(F.soft_lif(x, **MNIST).sum(), x)
    xd = x.detach()
    s = 0.02 * torch.nn.functional.softplus(xd / 0.02, threshold=1e9)
    denom = 0.002 + 0.02 * torch.log1p(1 / s)
    expected = 0.063 * 0.02 * torch.sigmoid(xd / 0.02) / (denom ** 2 * s * (s + 1))
    torch.testing.assert_close(g, expected, rtol=1e-10, atol=0)
    # float32 gradient against float64
    xf = x.detach().float().requires_grad_()
    (g32,) = torch.autograd.grad(F.soft_lif(xf, **MNIST).sum(), xf)
    assert ((g32.double() - expected).abs() / expected.abs()).max() < 1e-5


def test_soft_lif_matches_reference_module_and_opcheck():
    x = torch.randn(4, 7, dtype=torch.float64) * 0.5 + 0.3
    torch.testing.assert_close(F.soft_lif(x), R.soft_lif(x), rtol=1e-9, atol=0)
    torch.library.opcheck(torch.ops.spikeops.soft_lif.default, (torch.randn(5, 3), 0.02, 0.002, 0.02, 1.0, 0.063))
    torch.library.opcheck(torch.ops.spikeops.soft_lif_backward.default,
                          (torch.randn(5, 3), torch.randn(5, 3), 0.02, 0.002, 0.02, 1.0, 0.063))
    nc = torch.randn(6, 4).t()  # non-contiguous
    torch.testing.assert_close(F.soft_lif(nc), F.soft_lif(nc.contiguous()))


@pytest.mark.parametrize("bad", [dict(tau_rc=0.0), dict(tau_ref=-1e-3), dict(smoothing=0.0), dict(gain=-1.0),
                                 dict(amplitude=math.nan)])
def test_soft_lif_rejects_bad_constants(bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        F.soft_lif(torch.randn(3), **bad)
    with pytest.raises(ValueError, match=name):
        torch.ops.spikeops.soft_lif(torch.randn(3), *{**MNIST, **bad}.values())


def test_soft_lif_rejects_bad_input():
    with pytest.raises(TypeError, match="x must be a float32, float64, float16 or bfloat16 tensor"):
        F.soft_lif(torch.arange(3))
    with pytest.raises(TypeError, match="x must be a float32, float64, float16 or bfloat16 tensor"):
        torch.ops.spikeops.soft_lif(torch.randn(3).to(torch.float8_e4m3fn), 0.02, 0.002, 0.02, 1.0, 0.063)


# ----------------------------------------------------------------------------- FS neuron

SURROGATES = ["fast_sigmoid", "atan", "sigmoid", "triangle", "rectangle", "fs_triangle"]


def random_code(K, dtype):
    g = torch.Generator().manual_seed(K)
    return [(torch.rand(K, generator=g, dtype=dtype) * 2 - 0.3).requires_grad_() for _ in range(3)]


@pytest.mark.parametrize("surrogate", SURROGATES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("K", [1, 5, 16, 64])
def test_fs_neuron_matches_reference(surrogate, dtype, K):
    n = 5000 if K < 64 else 700  # several gradient blocks of 2048 elements, and a partial one
    x = (torch.randn(n, dtype=dtype) * 2).requires_grad_()
    h, d, t = random_code(K, dtype)
    out, spikes = F.fs_neuron(x, h, d, t, surrogate=surrogate, return_spikes=True)
    ref, ref_spikes = R.fs_neuron(x, h, d, t, surrogate=surrogate, return_spikes=True)
    torch.testing.assert_close(out, ref, rtol=1e-6 if dtype == torch.float32 else 1e-12, atol=1e-6)
    assert torch.equal(spikes, ref_spikes) and spikes.dtype == torch.uint8
    g = torch.randn(n, dtype=dtype)
    got = torch.autograd.grad(out, (x, h, d, t), g)
    want = torch.autograd.grad(ref, (x, h, d, t), g, allow_unused=True)  # K = 1: h is unused
    want = [torch.zeros_like(p) if w is None else w for p, w in zip((x, h, d, t), want)]
    tol = dict(rtol=1e-4, atol=1e-3) if dtype == torch.float32 else dict(rtol=1e-5, atol=1e-8)  # surrogate constants are float32
    for name, a, b in zip(("x", "h", "d", "threshold"), got, want):
        torch.testing.assert_close(a, b, **tol, msg=lambda m: f"grad {name} ({surrogate}): {m}")


def test_fs_neuron_float32_every_isa(isa, monkeypatch):
    """The vector FS kernels give the scalar kernel's bits (outputs, spike counts, gradients of
    x and of the K coefficients), and the reference's values."""
    torch.manual_seed(3)
    x = torch.randn(10007) * 3
    h, d, th = torch.rand(12) + 0.1, torch.rand(12), torch.rand(12) * 2 - 0.5
    out, spikes = F.fs_neuron(x, h, d, th, return_spikes=True)
    ref_out, ref_spikes = R.fs_neuron(x, h, d, th, return_spikes=True)
    torch.testing.assert_close(out, ref_out, rtol=1e-6, atol=1e-6)
    assert torch.equal(spikes, ref_spikes.to(spikes.dtype)) and spikes.max() > 3
    g = torch.randn_like(x)

    def grads():
        leaves = [t.clone().requires_grad_() for t in (x, h, d, th)]
        F.fs_neuron(*leaves).backward(g)
        xr = x.clone().requires_grad_()
        F.fs_neuron(xr, h, d, th).backward(g)  # without the coefficient sums
        return [t.grad for t in leaves] + [xr.grad]

    vector_grads = grads()
    monkeypatch.setenv("SPIKEOPS_CPU_ISA", "scalar")
    out_s, spikes_s = F.fs_neuron(x, h, d, th, return_spikes=True)
    assert torch.equal(out, out_s) and torch.equal(spikes, spikes_s)
    # the coefficient sums too: lanes are added in element order, as the scalar loop adds them
    assert all(torch.equal(a, b) for a, b in zip(vector_grads, grads()))


def test_fs_neuron_shapes_and_opcheck():
    x = torch.randn(3, 4, 5)
    h, d, t = (c.detach().float() for c in random_code(6, torch.float32))
    out = F.fs_neuron(x, h, d, t)
    assert out.shape == x.shape
    torch.testing.assert_close(out.flatten(), F.fs_neuron(x.flatten(), h, d, t))
    torch.testing.assert_close(F.fs_neuron(x.transpose(0, 2), h, d, t), out.transpose(0, 2))
    assert F.fs_neuron(torch.empty(0), h, d, t).shape == (0,)
    torch.library.opcheck(torch.ops.spikeops.fs_neuron.default, (torch.randn(9), h, d, t, 1, 1.0, 25.0, True))
    torch.library.opcheck(torch.ops.spikeops.fs_neuron_backward.default,
                          (torch.randn(9), torch.randn(9), h, d, t, 1, 1.0, 25.0, True))


def test_fs_relu_code_is_exact_binary():
    K, alpha = 10, 3.0
    code = relu_code(K, alpha)
    q = alpha * 2.0 ** -K
    torch.testing.assert_close(code.h, alpha * 2.0 ** -torch.arange(1, K + 1, dtype=torch.float32))
    assert torch.equal(code.h, code.d) and torch.equal(code.h, code.threshold)
    x = torch.rand(20000, dtype=torch.float64) * alpha
    x = torch.cat([x, torch.arange(0, 2 ** K, dtype=torch.float64) * q])  # the grid points themselves
    out, spikes = F.fs_neuron(x, code.h.double(), code.d.double(), code.threshold.double(), return_spikes=True)
    levels = torch.clamp(torch.ceil(x / q) - 1, min=0)  # largest grid level strictly below x (v > T is strict)
    torch.testing.assert_close(out, levels * q, rtol=0, atol=1e-12)
    popcount = torch.tensor([bin(int(v)).count("1") for v in levels.tolist()], dtype=torch.uint8)
    assert torch.equal(spikes, popcount)
    assert torch.equal(F.fs_neuron(-x - 1e-3, code.h, code.d, code.threshold), torch.zeros_like(x).float())
    near = relu_code(K, alpha, rounding="nearest")
    y = torch.rand(5000, dtype=torch.float64) * alpha * (1 - 2.0 ** -K)
    out = F.fs_neuron(y, near.h.double(), near.d.double(), near.threshold.double())
    assert (out - y).abs().max() <= q / 2 + 1e-12


def test_fs_fit_quality_targets():
    sigmoid = fit_fs(torch.sigmoid, 12, (-10, 10), restarts=4, steps=2000)
    assert sigmoid.mse <= 2e-4, sigmoid.mse
    swish = fit_fs(torch.nn.functional.silu, 16, (-8, 12), restarts=4, steps=2000)
    assert swish.mse <= 5e-3, swish.mse
    x = torch.linspace(-10, 10, 777)  # the fit holds between the training points
    assert (F.fs_neuron(x, sigmoid.h, sigmoid.d, sigmoid.threshold) - torch.sigmoid(x)).pow(2).mean() <= 3e-4


def test_fs_fit_any_callable():
    code = fit_fs(lambda v: torch.clamp(v, 0, 1), 6, (-1, 2), restarts=2, steps=800)
    assert code.mse < 2e-3 and code.h.shape == (6,)


def test_fs_neuron_rejects_bad_input():
    h = torch.ones(4)
    with pytest.raises(TypeError, match="x must be a float32, float64, float16 or bfloat16 tensor"):
        F.fs_neuron(torch.arange(3), h, h, h)
    with pytest.raises(ValueError, match="K in \\[1, 64\\]"):
        F.fs_neuron(torch.randn(3), torch.ones(65), torch.ones(65), torch.ones(65))
    with pytest.raises(ValueError, match="K in \\[1, 64\\]"):
        F.fs_neuron(torch.randn(3), torch.ones(0), torch.ones(0), torch.ones(0))
    with pytest.raises(ValueError, match="same number of steps"):
        F.fs_neuron(torch.randn(3), h, torch.ones(3), h)
    with pytest.raises(ValueError, match="threshold must be a 1-d"):
        F.fs_neuron(torch.randn(3), h, h, torch.ones(2, 2))
    with pytest.raises(TypeError, match="d must be a torch.Tensor"):
        F.fs_neuron(torch.randn(3), h, [1.0] * 4, h)
    with pytest.raises(ValueError, match="stdb"):
        F.fs_neuron(torch.randn(3), h, h, h, surrogate="stdb")
    with pytest.raises(ValueError, match="linear"):
        F.fs_neuron(torch.randn(3), h, h, h, surrogate="linear")
    with pytest.raises(ValueError, match="K must be"):
        relu_code(0, 1.0)
    with pytest.raises(ValueError, match="alpha"):
        relu_code(4, -1.0)
