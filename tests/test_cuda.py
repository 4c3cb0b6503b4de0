"""The CUDA kernels against the CPU kernels, spikeops.reference and PyTorch's own 16-bit error.

Float32 CUDA results equal the CPU kernels' bit for bit (the same IEEE operations from
include/spikeops/, compiled with --fmad=false). For float16/bfloat16 the CUDA kernels
compute in float32 and round what they store; the CPU float32 kernels plus
spikeops.reference.round_saved_h give those exact bits, so they are compared exactly too.
Skipped where torch sees no CUDA GPU (run them with `make test-gpu` on a GPU machine).
"""
import os
import shutil
import subprocess
import sys
import textwrap

import pytest
import torch

import spikeops
import spikeops.convert
from spikeops import functional as F
from spikeops import reference as R
from spikeops.kinds import ResetMode, SurrogateKind

from conftest import DEVICE_CONFIGS, LIF_CASES, OP_DEFAULTS, SURROGATES, ConvSNN, lif_forward_args, make_lif_case

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
CUDA = torch.device("cuda")
HALF_TYPES = [torch.float16, torch.bfloat16]
op = torch.ops.spikeops


def test_build_has_cuda_kernels():
    assert spikeops.cuda_built, "torch sees a GPU but spikeops was built without CUDA (SPIKEOPS_CUDA=ON to insist)"


def to_device(t, device, dtype=None):
    if t is None:
        return None
    out = t.detach().to(device=device, dtype=dtype if (dtype and t.is_floating_point()) else t.dtype)
    return out.requires_grad_(t.requires_grad)


def run_lif(x, alpha, gamma, theta, state, weights, **kw):
    """Forward + backward of F.lif; returns outputs and the gradients of x, v0, alpha, gamma, theta."""
    spikes, st = F.lif(x, state, decay=alpha, gain=gamma, threshold=theta, **kw)
    loss = (spikes.float() * weights).sum() + (st.v.float() ** 2).sum()
    inputs = [t for t in (x, state.v if state else None, alpha, gamma, theta) if t is not None and t.requires_grad]
    return spikes, st, torch.autograd.grad(loss, inputs)


def on(device, tensors, dtype=None):
    x, alpha, gamma, theta, state = tensors
    if state is not None:
        state = F.LIFState(*(to_device(t, device, dtype if i == 0 else None) for i, t in enumerate(state)))
    return (to_device(x, device, dtype), to_device(alpha, device), to_device(gamma, device), to_device(theta, device),
            state)


@pytest.mark.parametrize("reset,sg_index,refractory,deferred,detach", LIF_CASES)
def test_float32_bitwise_equals_cpu_kernels(reset, sg_index, refractory, deferred, detach):
    sg = SURROGATES[sg_index]
    T, N = 9, 1031
    case = make_lif_case(T, N, torch.float32, True, True, refractory)
    kw = dict(reset=reset, v_reset=-0.2 if reset == "zero" else 0.1, refractory=refractory, deferred_reset=deferred,
              detach_reset=detach, surrogate=sg, track_age=True)
    weights = torch.rand(T, 1)
    s_cpu, st_cpu, g_cpu = run_lif(*on("cpu", case), weights, **kw)
    s_gpu, st_gpu, g_gpu = run_lif(*on(CUDA, case), weights.to(CUDA), **kw)
    assert torch.equal(s_gpu.cpu(), s_cpu)
    assert torch.equal(st_gpu.v.cpu(), st_cpu.v)
    assert torch.equal(st_gpu.age.cpu(), st_cpu.age)
    if refractory:
        assert torch.equal(st_gpu.refractory.cpu(), st_cpu.refractory)
    assert torch.equal(g_gpu[0].cpu(), g_cpu[0])  # x
    assert torch.equal(g_gpu[1].cpu(), g_cpu[1])  # v0
    for got, want in zip(g_gpu[2:], g_cpu[2:]):  # parameters: summed over time per neuron, identically
        assert torch.equal(got.cpu(), want)


@pytest.mark.parametrize("T,N", [(1, 1), (1, 37), (3, 1000), (4, 4 * 4099), (1000, 67), (64, 4099)])
@pytest.mark.parametrize("per_neuron", [False, True])
def test_shapes_equal_cpu_and_reference(T, N, per_neuron):
    case = make_lif_case(T, N, torch.float32, per_neuron, True, 0)
    weights = torch.rand(T, 1)
    s_cpu, st_cpu, g_cpu = run_lif(*on("cpu", case), weights)
    s_gpu, st_gpu, g_gpu = run_lif(*on(CUDA, case), weights.to(CUDA))
    assert torch.equal(s_gpu.cpu(), s_cpu) and torch.equal(st_gpu.v.cpu(), st_cpu.v)
    assert torch.equal(g_gpu[0].cpu(), g_cpu[0])
    for got, want in zip(g_gpu[1:], g_cpu[1:]):
        torch.testing.assert_close(got.cpu(), want, rtol=1e-5, atol=1e-5)
    x, alpha, gamma, theta, state = on(CUDA, case)
    s_ref, st_ref = R.lif(x.detach(), F.LIFState(state.v.detach()), decay=alpha.detach(), gain=gamma.detach(),
                          threshold=theta.detach())
    if T <= 64:  # float rounding may flip a spike within ~1e-6 of the threshold over long runs
        assert torch.equal(s_gpu, s_ref)


def test_unaligned_and_noncontiguous_inputs():
    T, N = 6, 256
    storage = torch.randn(T * N + 1, device=CUDA)
    x_unaligned = storage[1:].view(T, N)  # N % 4 == 0 but the data is 4 bytes off a 16-byte boundary
    x_strided = torch.randn(N, T, device=CUDA).t()
    for x in (x_unaligned, x_strided):
        s, st = F.lif(x, decay=0.8)
        s_cpu, st_cpu = F.lif(x.cpu(), decay=0.8)
        assert torch.equal(s.cpu(), s_cpu) and torch.equal(st.v.cpu(), st_cpu.v)


def _op_forward(x, theta, **cfg):
    c = dict(OP_DEFAULTS, **cfg)
    return op.lif_forward(x, None, None, None, torch.tensor(0.85), torch.tensor(1.05), theta, c["reset"],
                          c["v_reset"], c["refractory"], c["deferred_reset"], c["detach_reset"], c["surrogate"],
                          c["sg_height"], c["sg_width"], c["track_age"], c["age_init"], c["return_ages"], True)


def _op_backward(grad_spikes, saved_h, saved_age, x, theta, **cfg):
    c = dict(OP_DEFAULTS, **cfg)
    return op.lif_backward(grad_spikes, None, saved_h, saved_age, x, None, None, torch.tensor(0.85),
                           torch.tensor(1.05), theta, c["reset"], c["v_reset"], c["refractory"], c["deferred_reset"],
                           c["detach_reset"], c["surrogate"], c["sg_height"], c["sg_width"], c["age_init"], True,
                           True, True, True)


@pytest.mark.parametrize("dtype", HALF_TYPES)
@pytest.mark.parametrize("config", DEVICE_CONFIGS)
@pytest.mark.parametrize("N", [4096, 1001])  # vectorised and one-neuron-per-thread kernels
def test_16bit_equals_float32_kernels_with_rounded_storage(dtype, config, N):
    cfg = DEVICE_CONFIGS[config]
    T = 12
    x = (torch.randn(T, N) * 1.2 + 0.45).to(dtype)
    theta = torch.rand(N) * 0.8 + 0.6
    g = torch.randn(T, N).to(dtype)
    outs = _op_forward(x.to(CUDA), theta.to(CUDA), **cfg)
    ref = _op_forward(x.float(), theta, **cfg)
    spikes, v, saved_h, saved_age = outs[0], outs[1], outs[5], outs[6]
    assert spikes.dtype == dtype and saved_h.dtype == dtype and v.dtype == torch.float32
    assert saved_h.element_size() == 2
    assert torch.equal(spikes.float().cpu(), ref[0])
    assert torch.equal(v.cpu(), ref[1])
    ref_saved = R.round_saved_h(ref[5], theta, dtype)
    assert torch.equal(saved_h.float().cpu(), ref_saved)
    assert torch.equal(saved_age.cpu(), ref[6])
    grads = _op_backward(g.to(CUDA), saved_h, saved_age, x.to(CUDA), theta.to(CUDA), **cfg)
    ref_grads = _op_backward(g.float(), ref_saved, ref[6], x.float(), theta, **cfg)
    assert grads[0].dtype == dtype
    assert torch.equal(grads[0].cpu(), ref_grads[0].to(dtype))
    for got, want in zip(grads[1:], ref_grads[1:]):
        assert got.dtype == torch.float32
        assert torch.equal(got.cpu(), want)


@pytest.mark.parametrize("dtype", HALF_TYPES)
def test_16bit_error_at_most_twice_pytorchs_own(dtype):
    """Against float64 truth, the kernels' error is at most ~2x PyTorch computing the same in the dtype."""
    T, N = 16, 8192
    x64 = torch.randn(T, N, dtype=torch.float64, device=CUDA) * 0.8 + 0.3
    x_lo = x64.to(dtype)
    weights = torch.rand(T, 1, dtype=torch.float64, device=CUDA)

    def run(fn, x):
        x = x.detach().requires_grad_()
        s, st = fn(x, decay=0.9, threshold=1.0, surrogate="atan")
        (gx,) = torch.autograd.grad((s * weights.to(s.dtype)).sum() + st.v.sum(), x)
        return s.double(), st.v.double(), gx.double()

    truth = run(R.lif, x_lo.double())  # exact arithmetic on the same (rounded) inputs
    ours = run(F.lif, x_lo)
    torch_own = run(R.lif, x_lo)
    for name, o, t, w in zip(("spikes", "v", "grad_x"), ours, torch_own, truth):
        err_ours, err_torch = (o - w).abs().mean().item(), (t - w).abs().mean().item()
        assert err_ours <= 2 * err_torch + 1e-6, (name, err_ours, err_torch)


def test_opcheck_cuda():
    for per_neuron in (False, True):
        for cfg in ({}, {"surrogate": SurrogateKind.stdb, "sg_height": 0.3, "sg_width": 0.01, "track_age": True},
                    {"reset": ResetMode.zero, "refractory": 2, "track_age": True, "return_ages": True}):
            args = tuple(a.detach().to(CUDA).requires_grad_(a.requires_grad) if isinstance(a, torch.Tensor) else a
                         for a in lif_forward_args(per_neuron=per_neuron, **cfg))
            torch.library.opcheck(op.lif_forward.default, args)
    x = torch.randn(5, 24, device=CUDA, dtype=torch.float16, requires_grad=True)
    args = (x, None, None, None, torch.tensor(0.8), torch.tensor(1.0), torch.tensor(0.7), 0, 0.0, 0, False, False,
            0, 1.0, 2.0, False, 1000, False, True)
    torch.library.opcheck(op.lif_forward.default, args)


def test_out_variants_cuda():
    T, N = 8, 100
    x = torch.randn(T, N, device=CUDA)
    spikes, v, saved = torch.empty_like(x), torch.empty(N, device=CUDA), torch.empty_like(x)
    args = (x, None, torch.tensor(0.9), torch.tensor(1.0), torch.tensor(0.8), 0, 0.0, False)
    op.lif_forward_out(*args, spikes, v, saved)
    ref = op.lif_forward(x, None, None, None, *args[2:5], 0, 0.0, 0, False, False, 0, 1.0, 2.0, False, 1000, False,
                         True)
    assert torch.equal(spikes, ref[0]) and torch.equal(v, ref[1]) and torch.equal(saved, ref[5])
    grad_x = torch.empty_like(x)
    g = torch.randn_like(x)
    op.lif_backward_out(g, saved, *args[2:5], 0, 0.0, False, False, 0, 1.0, 2.0, grad_x)
    grad_x_cpu = torch.empty(T, N)
    op.lif_backward_out(g.cpu(), saved.cpu(), *args[2:5], 0, 0.0, False, False, 0, 1.0, 2.0, grad_x_cpu)
    assert torch.equal(grad_x.cpu(), grad_x_cpu)


def _model_and_input():
    torch.manual_seed(0)
    model = ConvSNN().to(CUDA)
    return model, torch.rand(4, 3, 2, 6, 6, device=CUDA) * 2


@pytest.mark.parametrize("mode", [None, "reduce-overhead"])
def test_torch_compile_matches_eager(mode):
    model, x = _model_and_input()
    eager = model(x)
    eager.sum().backward()
    want = [p.grad.clone() for p in model.parameters()]
    model.zero_grad(set_to_none=True)
    compiled = torch.compile(model, fullgraph=True, mode=mode)
    for _ in range(3):  # reduce-overhead records a CUDA graph after warm-up runs
        model.zero_grad(set_to_none=True)
        out = compiled(x)
        out.sum().backward()
    torch.testing.assert_close(out, eager)
    for p, g in zip(model.parameters(), want):
        torch.testing.assert_close(p.grad, g, rtol=1e-4, atol=1e-5)


def test_cuda_graph_capture_forward_backward():
    model, x = _model_and_input()
    eager = model(x)
    eager.sum().backward()
    want = [p.grad.clone() for p in model.parameters()]
    static_x = x.clone()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(2):
            model.zero_grad(set_to_none=True)
            model(static_x).sum().backward()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    model.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        static_out = model(static_x)
        static_out.sum().backward()
    static_x.copy_(x)
    graph.replay()
    torch.cuda.synchronize()
    torch.testing.assert_close(static_out, eager)
    for p, g in zip(model.parameters(), want):
        torch.testing.assert_close(p.grad, g, rtol=1e-4, atol=1e-5)


def test_module_with_learnable_parameters_on_cuda():
    lif = spikeops.LIF(tau=2.0, learn_decay=True, learn_threshold=True, param_shape=(3, 1, 1)).to(CUDA)
    lif_cpu = spikeops.LIF(tau=2.0, learn_decay=True, learn_threshold=True, param_shape=(3, 1, 1))
    lif_cpu.load_state_dict({k: v.cpu() for k, v in lif.state_dict().items()})
    x = torch.rand(6, 2, 3, 5, 5) * 2
    for mod, inp in ((lif, x.to(CUDA)), (lif_cpu, x)):
        mod(inp).sum().backward()
    for p, q in zip(lif.parameters(), lif_cpu.parameters()):
        torch.testing.assert_close(p.grad.cpu(), q.grad, rtol=1e-5, atol=1e-6)


def test_device_mismatch_is_named():
    x = torch.randn(3, 4, device=CUDA)
    with pytest.raises(ValueError, match=r"state.v\) is on"):
        F.lif(x, F.LIFState(torch.zeros(4)))
    with pytest.raises(TypeError, match="float32, float16 or bfloat16 tensor on CUDA"):
        _op_forward(x.double(), torch.tensor(1.0))


def test_more_than_2_31_elements():
    T, N = 2, 2**30 + 5
    x = torch.zeros(T, N, dtype=torch.float16, device=CUDA)
    x[1, -1] = 3.0
    spikes, st = F.lif(x, decay=0.5)
    assert spikes[1, -1].item() == 1.0 and spikes.sum().item() == 1.0
    assert st.v[-1].item() == 2.0 and st.v[-2].item() == 0.0  # 3 - threshold after the subtract reset


SANITIZER_SCRIPT = textwrap.dedent("""
    import torch, spikeops
    from spikeops import functional as F
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        for N in (64, 61):  # the vector kernels and the one-neuron kernels
            x = torch.randn(5, N, device="cuda", dtype=dtype, requires_grad=True)
            theta = (torch.rand(N, device="cuda") + 0.5).requires_grad_()
            s, st = F.lif(x, decay=0.7, threshold=theta, surrogate="stdb", refractory=1)
            (s.float().sum() + st.v.sum()).backward()
            y = torch.randn(2 * 2048 + N, device="cuda", dtype=dtype, requires_grad=True)
            F.soft_lif(y).float().sum().backward()
            h = torch.rand(12, device="cuda", requires_grad=True)
            F.fs_neuron(y, h, h.detach() * 2, h.detach() - 0.5).float().sum().backward()
    a_in = torch.randint(-500, 500, (6, 61), device="cuda", dtype=torch.int32)
    u0 = torch.zeros(61, device="cuda", dtype=torch.int32)
    F.lif_fixed(a_in, du=100, dv=200, vth_mant=50, bias_mant=u0, refractory=1,
                state=F.FixedState(u0, u0, u0), return_states=True)
    torch.cuda.synchronize()
""")


@pytest.mark.parametrize("tool", ["memcheck", "racecheck"])
def test_no_memory_errors_or_races_under_compute_sanitizer(tool):
    sanitizer = shutil.which("compute-sanitizer") or "/usr/local/cuda/bin/compute-sanitizer"
    if not os.path.exists(sanitizer):
        pytest.skip("compute-sanitizer is not installed")
    # Without torch's caching allocator every tensor is its own allocation, so an access past its end is seen.
    env = dict(os.environ, PYTORCH_NO_CUDA_MEMORY_CACHING="1")
    proc = subprocess.run([sanitizer, "--tool", tool, "--error-exitcode", "3", sys.executable, "-c",
                           SANITIZER_SCRIPT], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "ERROR SUMMARY: 0 errors" in proc.stdout or "RACECHECK SUMMARY: 0 hazards" in proc.stdout


def test_saved_h_beyond_float16_range_saturates():
    x = torch.full((6, 8), 6.0e4, dtype=torch.float16, device=CUDA, requires_grad=True)
    s, st = F.lif(x, decay=0.9, reset="none")
    (gx,) = torch.autograd.grad(s.float().sum() + st.v.sum(), x)
    assert gx.float().isfinite().all()


def test_lif_fixed_with_state_tensors_does_not_synchronise():
    a_in = torch.randint(-500, 500, (6, 61), device=CUDA, dtype=torch.int32)
    u0 = torch.zeros(61, device=CUDA, dtype=torch.int32)
    torch.cuda.set_sync_debug_mode("error")
    try:
        F.lif_fixed(a_in, du=100, dv=200, vth_mant=50, bias_mant=u0, refractory=1, state=F.FixedState(u0, u0, u0))
    finally:
        torch.cuda.set_sync_debug_mode("default")


# ------------------------------------------------------------------ element-wise neurons on CUDA

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_soft_lif_cuda_matches_cpu(dtype):
    x = (torch.randn(100003, dtype=dtype) * 2).requires_grad_()
    xc = x.detach().cuda().requires_grad_()
    out, out_c = F.soft_lif(x), F.soft_lif(xc)
    tol = dict(rtol=2e-6, atol=1e-7) if dtype == torch.float32 else dict(rtol=1e-12, atol=0)
    torch.testing.assert_close(out_c.cpu(), out, **tol)
    g = torch.randn_like(out)
    (gx,) = torch.autograd.grad(out, x, g)
    (gx_c,) = torch.autograd.grad(out_c, xc, g.cuda())
    torch.testing.assert_close(gx_c.cpu(), gx, **tol)
    if dtype == torch.float64:
        assert torch.autograd.gradcheck(F.soft_lif, (xc[:64].detach().requires_grad_(),))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_soft_lif_cuda_16bit(dtype):
    x = torch.randn(4099, device="cuda") * 2
    ref = F.soft_lif(x.to(dtype).double().cpu())
    got = F.soft_lif(x.to(dtype)).double().cpu()
    torch_err = (ref.to(dtype).double() - ref).abs().max()
    assert (got - ref).abs().max() <= 2 * torch_err + 1e-12


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("K", [1, 12, 64])
def test_fs_neuron_cuda_matches_cpu(dtype, K):
    n = 3 * 2048 + 17
    x = (torch.randn(n, dtype=dtype) * 2).requires_grad_()
    g = torch.Generator().manual_seed(K)
    coef = [(torch.rand(K, generator=g, dtype=dtype) * 2 - 0.3).requires_grad_() for _ in range(3)]
    xc = x.detach().cuda().requires_grad_()
    coef_c = [c.detach().cuda().requires_grad_() for c in coef]
    out, spikes = F.fs_neuron(x, *coef, return_spikes=True)
    out_c, spikes_c = F.fs_neuron(xc, *coef_c, return_spikes=True)
    torch.testing.assert_close(out_c.cpu(), out, rtol=0, atol=0)
    assert torch.equal(spikes_c.cpu(), spikes)
    gout = torch.randn(n, dtype=dtype)
    grads = torch.autograd.grad(out, [x, *coef], gout)
    grads_c = torch.autograd.grad(out_c, [xc, *coef_c], gout.cuda())
    for a, b in zip(grads_c, grads):
        torch.testing.assert_close(a.cpu(), b, rtol=1e-5, atol=1e-5)


def test_fs_neuron_cuda_16bit_and_opcheck():
    code = spikeops.convert.relu_code(8, 4.0)
    x = torch.rand(5000, device="cuda") * 4
    for dtype in (torch.float16, torch.bfloat16):
        got = F.fs_neuron(x.to(dtype), *(c.cuda() for c in code[:3]))
        want = F.fs_neuron(x.to(dtype).float().cpu(), *code[:3]).to(dtype)
        assert torch.equal(got.cpu(), want)
    h = code.h.cuda()
    torch.library.opcheck(torch.ops.spikeops.fs_neuron.default, (x[:99], h, h, h, 1, 1.0, 25.0, True))
    torch.library.opcheck(torch.ops.spikeops.soft_lif.default, (x[:99], 0.02, 0.002, 0.02, 1.0, 0.063))


@pytest.mark.parametrize("cfg", [
    dict(du=4096, dv=0, vth_mant=100),
    dict(du=1000, dv=300, vth_mant=5000, reset="subtract", refractory=2),
    dict(du=4095, dv=4095, vth_mant=2 ** 17 - 1, du_plus_one=True),
])
def test_lif_fixed_cuda_bit_identical_to_cpu(cfg):
    gen = torch.Generator().manual_seed(3)
    a_in = torch.randint(-2 ** 31, 2 ** 31 - 1, (33, 5, 1031), generator=gen, dtype=torch.int64).to(torch.int32)
    a_in[:, :2] = a_in[:, :2] >> 14  # part of it small enough to spike without wrapping
    bias = torch.randint(-4096, 4096, (5, 1031), generator=gen, dtype=torch.int32)
    state = F.FixedState(torch.randint(-2 ** 23, 2 ** 23, (5, 1031), generator=gen, dtype=torch.int32),
                         torch.randint(-2 ** 23 + 1, 2 ** 23, (5, 1031), generator=gen, dtype=torch.int32),
                         torch.zeros(5, 1031, dtype=torch.int32))
    cpu = F.lif_fixed(a_in, bias_mant=bias, bias_exp=5, state=state, return_states=True, **cfg)
    gpu = F.lif_fixed(a_in.to(CUDA), bias_mant=bias.to(CUDA), bias_exp=5,
                      state=F.FixedState(*(s.to(CUDA) for s in state)), return_states=True, **cfg)
    assert cpu[0].any()
    for c, g in zip((cpu[0], *cpu[1], cpu[2], cpu[3]), (gpu[0], *gpu[1], gpu[2], gpu[3])):
        assert g.device.type == "cuda" and torch.equal(c, g.cpu())
    torch.library.opcheck(op.lif_fixed, (a_in[:4, :2].to(CUDA), 10, 20, 30, None, 0, 1, "zero", False, None, None,
                                         None, True))


def test_integrations_run_on_cuda_as_on_cpu():
    """The framework backends and the hardware emulation on CUDA tensors give the CPU results."""
    import copy

    pytest.importorskip("snntorch")
    pytest.importorskip("spikingjelly")
    pytest.importorskip("norse")
    import norse.torch as nt
    import snntorch as snn
    from spikingjelly.activation_based import functional as sjf
    from spikingjelly.activation_based import neuron

    from spikeops.integrations import norse as so_norse
    from spikeops.integrations import snntorch as so_snn
    from spikeops.integrations import spikingjelly as so_sj

    torch.manual_seed(0)
    x = torch.randn(20, 4, 300) * 0.7 + 0.4
    leaky = so_snn.Leaky(snn.Leaky(beta=0.85, learn_beta=True))
    node = so_sj.accelerate(neuron.LIFNode(tau=3.0, v_reset=None, step_mode="m"))
    cell = so_norse.LIFBox()
    outs = []
    for dev in ("cpu", "cuda"):
        xd = x.to(dev)
        m = copy.deepcopy(leaky).to(dev)
        s1, _ = m.forward_sequence(xd)
        n = copy.deepcopy(node).to(dev)
        sjf.reset_net(n)
        s2 = n(xd)
        s3, _ = cell(xd * 30)
        outs.append([s.cpu() for s in (s1, s2, s3)])
    for a, b in zip(*outs):
        assert torch.equal(a, b) and a.sum() > 0


def test_lif_substep_cuda_bit_identical_to_cpu():
    j = torch.randn(300, 4099) * 2 + 1.2
    v0, r0 = torch.rand(4099), torch.rand(4099) * 0.003
    args = (0.001, 0.02, 0.002, 0.0, 0.063)
    got = op.lif_substep(j.to(CUDA), v0.to(CUDA), r0.to(CUDA), *args)
    want = op.lif_substep(j, v0, r0, *args)
    for a, b in zip(got, want):
        assert torch.equal(a.cpu(), b)



@pytest.mark.parametrize("n_in, n_out", [(70, 3), (1024, 1024)])
@pytest.mark.parametrize("rate", [0.0, 0.05, 1.0])
def test_spike_linear_cuda_bit_identical_to_cpu(n_in, n_out, rate):
    """Packing, the event-driven forward pass and weight gradient on the GPU: the CPU kernels'
    sums in the same order (nvcc --fmad=false), so the same bits."""
    torch.manual_seed(0)
    x = (torch.rand(3, 50, n_in) < rate).float()
    w, b = torch.randn(n_out, n_in), torch.randn(n_out)
    cpu, gpu = F.pack_spikes(x), F.pack_spikes(x.cuda())
    assert torch.equal(gpu.words.cpu(), cpu.words) and torch.equal(gpu.row_start.cpu(), cpu.row_start)
    assert torch.equal(gpu.to_dense().cpu(), x)
    wc, bc = w.cuda().requires_grad_(), b.cuda()
    y = F.spike_linear(x.cuda(), wc, bc, crossover=1.0)
    want = F.spike_linear(x, w.requires_grad_(), b, crossover=1.0)
    assert torch.equal(y.cpu(), want.detach())
    g = torch.randn_like(want)
    (gw,) = torch.autograd.grad(y, [wc], g.cuda())
    (want_gw,) = torch.autograd.grad(want, [w], g)
    assert torch.equal(gw.cpu(), want_gw)
    with pytest.raises(ValueError, match="must hold spikes"):
        F.pack_spikes(torch.full((4, 8), 0.5, device="cuda"))
