"""The CUDA kernels, run on the CPU by the emulation, against the CPU kernels.

spikeops._emulated_cuda compiles csrc/cuda/*.cu unchanged with the host compiler and runs
them over the grid their launchers choose (csrc/emulation/cuda_emulation.h: every CUDA
thread a fiber, real __syncthreads and warp-shuffle semantics). Its ops,
torch.ops.spikeops_emulated_cuda.*, are the glue of torch.ops.spikeops with CPU tensors
going to the CUDA launchers. So the code a GPU runs (thread bodies, grid sizes, the choice
between the 4-neuron vector kernel and the 1-neuron kernel, pack loads and stores, 16-bit
conversions, the saved-h encoding, integer stores, tails, the FS block reduction) runs here.

What is bit-identical, and why:
- float32 (every op) and int32 (fixed point): the same IEEE operations from include/spikeops/,
  compiled without FMA contraction (nvcc --fmad=false, here -ffp-contract=off).
- float16/bfloat16: the kernels compute in float32 and round what they store; the CPU float32
  kernels on the upcast inputs, rounded the same way (round to nearest even;
  spikeops.reference.round_saved_h for the saved membrane), give the same bits.
- float64 soft-LIF and FS: equal to the CPU here, where both call the host's libm exp/log; a
  GPU's libdevice may differ in the last bit (tests/test_cuda.py compares with a tolerance).
- FS coefficient gradients are sums in the device's reduction order (per thread over its
  elements, then per lane over threads l, l + 32, ..., then warp shuffles), not the CPU's:
  compared with a tolerance.
"""
import itertools
import os
import pathlib
import shutil

import pytest
import torch

from spikeops import reference as R
from conftest import DEVICE_CONFIGS, LIF_CASES, OP_DEFAULTS, SURROGATES, device_lif_inputs
from spikeops.kinds import ResetMode, SurrogateKind


def cuda_headers_present():
    nvcc = shutil.which("nvcc")
    homes = [os.environ.get("CUDA_HOME"), str(pathlib.Path(nvcc).resolve().parents[1]) if nvcc else None,
             "/usr/local/cuda"]
    return any(h and (pathlib.Path(h) / "include" / "cuda_fp16.h").is_file() for h in homes)


try:
    import spikeops._emulated_cuda as emulated
except ImportError:
    if cuda_headers_present():  # the build should have made it: a failure, not a skip
        raise
    pytest.skip("spikeops._emulated_cuda is built only where CUDA's headers exist", allow_module_level=True)
EMU = torch.ops.spikeops_emulated_cuda
CPU = torch.ops.spikeops
SIZES = [1, 3, 4, 5, 1031, 4096, 65537]
DTYPES = [torch.float32, torch.float16, torch.bfloat16]


def placed(t, offset):
    """t's values in a buffer `offset` elements past an aligned allocation (offset 1 defeats the vector kernels)."""
    if offset == 0:
        return t.clone()
    storage = torch.empty(t.numel() + offset, dtype=t.dtype)
    out = storage[offset:].view(t.shape)
    out.copy_(t)
    return out


def lif_config(**overrides):
    c = dict(OP_DEFAULTS, **overrides)
    return [c[k] for k in ("reset", "v_reset", "refractory", "deferred_reset", "detach_reset", "surrogate",
                           "sg_height", "sg_width")]


def lif_forward(ops, x, state, params, cfg, track_age, return_ages):
    v0, r0, a0 = state
    return ops.lif_forward(x, v0, r0, a0, *params, *cfg, track_age, 1000, return_ages, True)


def lif_backward(ops, g_s, g_v, saved_h, saved_age, x, state, params, cfg):
    v0, _, a0 = state
    return ops.lif_backward(g_s, g_v, saved_h, saved_age, x, v0, a0, *params, *cfg, 1000, True, True, True, True)


def check_lif(T, N, dtype, cfg, per_neuron=True, refractory=0, track_age=True, return_ages=True, offset=0):
    """Forward and backward of the emulated CUDA kernels equal the CPU kernels (16-bit: rounded as stored)."""
    x, params, state, g_s, g_v = device_lif_inputs(T, N, per_neuron, refractory)
    stdb = cfg[5] in (SurrogateKind.stdb, SurrogateKind.stdb_float32)
    return_ages = return_ages and track_age
    x16, g16 = x.to(dtype), g_s.to(dtype)
    got = lif_forward(EMU, placed(x16, offset), state, params, cfg, track_age, return_ages)
    vec = 4 if N % 4 == 0 and offset == 0 else 1  # the launcher's choice: 4 neurons per thread where aligned
    threads = (N + vec - 1) // vec
    assert emulated.last_launch_blocks() == (threads + emulated.threads_per_block - 1) // emulated.threads_per_block
    want = lif_forward(CPU, x16.float(), state, params, cfg, track_age, return_ages)
    spikes, v, r, age, ages, saved_h, saved_age = got
    assert spikes.dtype == dtype and saved_h.dtype == dtype and v.dtype == torch.float32
    assert torch.equal(spikes.float(), want[0])
    for a, b in zip(got[1:5], want[1:5]):  # v, refractory count, age, ages
        assert torch.equal(a, b)
    want_h = want[5] if dtype == torch.float32 else R.round_saved_h(want[5], params[2], dtype)
    assert torch.equal(saved_h.float(), want_h)
    assert torch.equal(saved_age, want[6])
    assert saved_age.numel() == (T * N if stdb else 0)

    grads = lif_backward(EMU, placed(g16, offset), g_v, saved_h, saved_age, placed(x16, offset), state, params, cfg)
    want_grads = lif_backward(CPU, g16.float(), g_v, want_h, want[6], x16.float(), state, params, cfg)
    assert grads[0].dtype == dtype
    assert torch.equal(grads[0], want_grads[0].to(dtype))
    for a, b in zip(grads[1:], want_grads[1:]):  # v0, decay, gain, threshold: float32 per neuron
        assert a.dtype == torch.float32 and torch.equal(a, b)


# ---------------------------------------------------------------- LIF

@pytest.mark.parametrize("reset,sg_index,refractory,deferred,detach", LIF_CASES)
@pytest.mark.parametrize("N", [1031, 1032])  # one neuron per thread / four
def test_lif_every_mode_float32(reset, sg_index, refractory, deferred, detach, N):
    sg = SURROGATES[sg_index]
    reset_code = ResetMode[reset]
    width = sg.width if sg.width is not None else 0.0
    cfg = lif_config(reset=reset_code, v_reset=-0.2 if reset == "zero" else 0.1, refractory=refractory,
                     deferred_reset=deferred, detach_reset=detach, surrogate=sg.kind, sg_height=sg.height,
                     sg_width=width)
    check_lif(9, N, torch.float32, cfg, refractory=refractory)


@pytest.mark.parametrize("N", SIZES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("config", DEVICE_CONFIGS)
@pytest.mark.parametrize("offset", [0, 1])
def test_lif_sizes_dtypes_and_alignment(N, dtype, config, offset):
    cfg = lif_config(**DEVICE_CONFIGS[config])
    # The initial refractory counts' range; with stdb (refractory 0) the kernels must ignore them.
    refractory = {"zero-refractory-sigmoid": 2, "stdb": 1}.get(config, 0)
    T = 3 if N > 5000 else 7
    check_lif(T, N, dtype, cfg, per_neuron=N % 2 == 1, refractory=refractory, offset=offset)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("config", DEVICE_CONFIGS)
@pytest.mark.parametrize("N", [5, 1031, 4096])
def test_lif_16bit_cpu_kernels_equal_the_cuda_kernels(isa, dtype, config, N):
    """The CPU's own 16-bit kernels (every ISA) and the CUDA kernels: the same bits, outputs and gradients."""
    cfg = lif_config(**DEVICE_CONFIGS[config])
    refractory = {"zero-refractory-sigmoid": 2, "stdb": 1}.get(config, 0)
    x, params, state, g_s, g_v = device_lif_inputs(7, N, N % 2 == 1, refractory)
    x16, g16 = x.to(dtype), g_s.to(dtype)
    track_age = config == "stdb"
    got = [lif_forward(ops, x16, state, params, cfg, track_age, track_age) for ops in (CPU, EMU)]
    for a, b in zip(*got):
        assert a.dtype == b.dtype and torch.equal(a, b)
    grads = [lif_backward(ops, g16, g_v, got[0][5], got[0][6], x16, state, params, cfg) for ops in (CPU, EMU)]
    for a, b in zip(*grads):
        assert a.dtype == b.dtype and torch.equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_lif_without_age_tracking(dtype):
    check_lif(6, 1031, dtype, lif_config(reset=ResetMode.zero), track_age=False)
    check_lif(6, 1032, dtype, lif_config(refractory=1), refractory=1, track_age=False)


def test_long_run_with_scalar_parameters():
    check_lif(200, 37, torch.float32, lif_config(**DEVICE_CONFIGS["stdb"]), per_neuron=False)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("N", [4096, 4097])
def test_out_variants(dtype, N):
    T = 5
    x, params, state, g_s, _ = device_lif_inputs(T, N, True, 0)
    x = x.to(dtype)
    cfg = (ResetMode.subtract, 0.0, False)  # reset, v_reset, deferred_reset

    def run(ops, x_in):
        spikes, saved_h = torch.empty_like(x_in), torch.empty_like(x_in)
        v = torch.empty(N, dtype=torch.float32)
        ops.lif_forward_out(x_in, state[0], *params, *cfg, spikes, v, saved_h)
        grad_x = torch.empty_like(x_in)
        ops.lif_backward_out(g_s.to(x_in.dtype), saved_h, *params, *cfg, False, SurrogateKind.atan, 1.0, 2.0, grad_x)
        return spikes, v, saved_h, grad_x

    got = run(EMU, x)
    want = run(CPU, x.float())
    assert torch.equal(got[0].float(), want[0]) and torch.equal(got[1], want[1])
    want_h = want[2] if dtype == torch.float32 else R.round_saved_h(want[2], params[2], dtype)
    assert torch.equal(got[2].float(), want_h)
    if dtype == torch.float32:
        assert torch.equal(got[3], want[3])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
def test_saved_h_beyond_the_16bit_range_saturates(dtype):
    """A membrane past float16's largest value (65504) is saved as that value, not inf: the gradients stay
    finite and equal the float32 kernels' on the saturated membrane."""
    T, N = 6, 8
    x = torch.full((T, N), 6.0e4)
    x[:, 1::2] = -6.0e4
    x[2, 2] = 3.0  # a neuron below range at one step
    theta = torch.full((N,), 1.0)
    params = (torch.tensor(0.9), torch.tensor(1.0), theta)
    cfg = lif_config(reset=ResetMode.none)  # no reset: the membrane keeps growing
    state = (None, None, None)
    got = lif_forward(EMU, x.to(dtype), state, params, cfg, False, False)
    want = lif_forward(CPU, x.to(dtype).float(), state, params, cfg, False, False)
    saved = got[5].float()
    assert saved.isfinite().all()
    if dtype == torch.float16:
        assert (want[5].abs() > 65504).any() and saved.abs().max() == 65504
    assert torch.equal(saved, R.round_saved_h(want[5], theta, dtype))
    assert torch.equal(saved > theta, want[5] > theta)
    g = torch.randn(T, N)
    grads = lif_backward(EMU, g.to(dtype), None, got[5], got[6], x.to(dtype), state, params, cfg)
    want_grads = lif_backward(CPU, g.to(dtype).float(), None, saved, want[6], x.to(dtype).float(), state, params, cfg)
    assert all(t.float().isfinite().all() for t in grads)
    assert torch.equal(grads[0], want_grads[0].to(dtype))
    for a, b in zip(grads[1:], want_grads[1:]):
        assert torch.equal(a, b)


def test_subtract_reset_at_the_last_neuron():
    """The expectation of tests/test_cuda.py's 2^31-element test on a small N: decay 0.5, input 3 at the last
    step of the last neuron fires once and leaves 3 - 1 = 2 after the subtract reset."""
    for dtype in DTYPES:
        x = torch.zeros(2, 1031, dtype=dtype)
        x[1, -1] = 3.0
        spikes, v = EMU.lif_forward(x, None, None, None, torch.tensor(0.5), torch.tensor(1.0), torch.tensor(1.0),
                                    *lif_config(), False, 0, False, False)[:2]
        assert spikes[1, -1].item() == 1.0 and spikes.float().sum().item() == 1.0
        assert v[-1].item() == 2.0 and v[-2].item() == 0.0


# ---------------------------------------------------------------- soft-LIF

SOFT_LIF = (0.02, 0.002, 0.02, 1.0, 0.063)


@pytest.mark.parametrize("N", SIZES)
@pytest.mark.parametrize("dtype", DTYPES + [torch.float64], ids=str)
def test_soft_lif(N, dtype):
    x = torch.randn(N, generator=torch.Generator().manual_seed(N)) * 2
    x[: N // 3] *= 40  # the far tail of the softplus
    g = torch.randn(N)
    xd, gd = x.to(dtype), g.to(dtype)
    compute = torch.float64 if dtype == torch.float64 else torch.float32
    got = EMU.soft_lif(xd, *SOFT_LIF)
    want = CPU.soft_lif(xd.to(compute), *SOFT_LIF).to(dtype)
    assert got.dtype == dtype and torch.equal(got, want)
    got_g = EMU.soft_lif_backward(gd, xd, *SOFT_LIF)
    want_g = CPU.soft_lif_backward(gd.to(compute), xd.to(compute), *SOFT_LIF).to(dtype)
    assert torch.equal(got_g, want_g)
    # The CPU ops take the 16-bit data themselves, with the same bits.
    assert torch.equal(CPU.soft_lif(xd, *SOFT_LIF), got)
    assert torch.equal(CPU.soft_lif_backward(gd, xd, *SOFT_LIF), got_g)


# ---------------------------------------------------------------- FS neuron

def fs_coefficients(K, dtype, seed=0):
    gen = torch.Generator().manual_seed(seed)
    h = torch.rand(K, generator=gen, dtype=torch.float64) + 0.1
    d = torch.rand(K, generator=gen, dtype=torch.float64)
    th = torch.rand(K, generator=gen, dtype=torch.float64) * 2 - 0.5
    compute = torch.float64 if dtype == torch.float64 else torch.float32
    return h.to(compute), d.to(compute), th.to(compute)


# Every size with K = 12; K = 1 and 64 (the largest) on two sizes.
FS_CASES = [(N, 12) for N in SIZES] + [(N, K) for K in (1, 64) for N in (5, 4097)]


@pytest.mark.parametrize("N,K", FS_CASES)
@pytest.mark.parametrize("dtype", DTYPES + [torch.float64], ids=str)
def test_fs_neuron(N, K, dtype):
    gen = torch.Generator().manual_seed(K * 100003 + N)
    x, g = (torch.randn(N, generator=gen) * 2).to(dtype), torch.randn(N, generator=gen).to(dtype)
    h, d, th = fs_coefficients(K, dtype)
    compute = h.dtype
    sg = (1, 1.0, 25.0)  # fast sigmoid
    out, spikes = EMU.fs_neuron(x, h, d, th, *sg, True)
    want_out, want_spikes = CPU.fs_neuron(x.to(compute), h, d, th, *sg, True)
    assert out.dtype == dtype and torch.equal(out, want_out.to(dtype)) and torch.equal(spikes, want_spikes)

    gx, gh, gd, gt = EMU.fs_neuron_backward(g, x, h, d, th, *sg, True)
    want = CPU.fs_neuron_backward(g.to(compute), x.to(compute), h, d, th, *sg, True)
    assert gx.dtype == dtype and torch.equal(gx, want[0].to(dtype))
    tol = dict(rtol=1e-12, atol=1e-12) if compute == torch.float64 else dict(rtol=2e-5, atol=2e-5 * N ** 0.5)
    for a, b in zip((gh, gd, gt), want[1:]):
        torch.testing.assert_close(a, b, **tol)
    gx_only = EMU.fs_neuron_backward(g, x, h, d, th, *sg, False)[0]
    assert torch.equal(gx_only, gx)
    cpu_out, cpu_spikes = CPU.fs_neuron(x, h, d, th, *sg, True)  # the CPU op on the data's own dtype
    assert cpu_out.dtype == dtype and torch.equal(cpu_out, out) and torch.equal(cpu_spikes, spikes)
    cpu_grads = CPU.fs_neuron_backward(g, x, h, d, th, *sg, True)
    assert torch.equal(cpu_grads[0], gx)
    for a, b in zip((gh, gd, gt), cpu_grads[1:]):
        torch.testing.assert_close(a, b, **tol)
    again = EMU.fs_neuron_backward(g, x, h, d, th, *sg, True)
    assert all(torch.equal(a, b) for a, b in zip(again, (gx, gh, gd, gt)))  # deterministic


# ---------------------------------------------------------------- fixed point

def fixed_case(N, refractory, seed):
    gen = torch.Generator().manual_seed(seed)
    T = 4 if N > 5000 else 9
    a_in = torch.randint(-300, 900, (T, N), generator=gen, dtype=torch.int32)
    a_in[:, ::3] = torch.randint(-2 ** 31, 2 ** 31, (T, (N + 2) // 3), generator=gen, dtype=torch.int64).int()
    u0 = torch.randint(-5000, 5000, (N,), generator=gen, dtype=torch.int32)
    v0 = torch.randint(-5000, 5000, (N,), generator=gen, dtype=torch.int32)
    r0 = torch.randint(0, refractory + 1, (N,), generator=gen, dtype=torch.int32)
    bias = torch.randint(-4000, 4000, (N,), generator=gen, dtype=torch.int32)
    return a_in, u0, v0, r0, bias


@pytest.mark.parametrize("N", SIZES)
@pytest.mark.parametrize("reset,refractory,with_state", [("zero", 0, False), ("subtract", 2, True),
                                                        ("zero", 3, True)])
def test_lif_fixed(N, reset, refractory, with_state):
    a_in, u0, v0, r0, bias = fixed_case(N, refractory, N + refractory)
    state = (u0, v0, r0) if with_state else (None, None, None)
    args = (a_in, 1200, 300, 200, bias if with_state else None, 3, refractory, reset, with_state, *state, True)
    got, want = EMU.lif_fixed(*args), CPU.lif_fixed(*args)
    for a, b in zip(got, want):
        assert torch.equal(a, b)


def test_lif_fixed_saturates_out_of_range_state_on_cuda():
    """The CUDA path never reads device memory to check ranges (a sync): it saturates instead."""
    a_in, u0, v0, r0, bias = fixed_case(1031, 2, 7)
    big = 2 ** 23
    u0[:5] = big + 10
    v0[5:10] = -big - 10
    r0[10:15] = 99
    bias[15:20] = 2 ** 14
    args = lambda b, u, v, r: (a_in, 1200, 300, 200, b, 3, 2, "subtract", False, u, v, r, True)  # noqa: E731
    got = EMU.lif_fixed(*args(bias, u0, v0, r0))
    with pytest.raises(ValueError, match="values must lie in"):
        CPU.lif_fixed(*args(bias, u0, v0, r0))
    want = CPU.lif_fixed(*args(bias.clamp(-4096, 4095), u0.clamp(-big, big - 1), v0.clamp(-big + 1, big - 1),
                               r0.clamp(0, 2)))
    assert not torch.equal(got[0], CPU.lif_fixed(*args(bias.clamp(-4096, 4095), u0.clamp(-big, big - 1),
                                                       v0.clamp(-big + 1, big - 1), r0.clamp(0, 1)))[0])
    for a, b in zip(got, want):
        assert torch.equal(a, b)


# ---------------------------------------------------------------- the emulation itself

@pytest.mark.parametrize("width", [32, 16, 8])
def test_warp_shuffles_and_block_barriers(width):
    blocks, threads = 3, emulated.probe_threads
    out = torch.tensor(emulated.shuffle_probe(blocks, width)).view(blocks, threads, 4)
    for b, t in itertools.product(range(blocks), range(threads)):
        own, lane = 1000 * b + t, t % 32
        for column, delta in enumerate((1, 5, 16)):
            want = own + delta if lane % width + delta < width else own
            assert out[b, t, column].item() == want, (b, t, delta)
        assert out[b, t, 3].item() == threads * 1000 * b + threads * (threads - 1) // 2


def test_divergent_barrier_is_reported():
    with pytest.raises(RuntimeError, match="emulated kernel failed"):
        emulated.divergent_barrier()


# ---------------------------------------------------------------- LIF with spike times inside the step

@pytest.mark.parametrize("N", SIZES)
def test_lif_substep(N):
    gen = torch.Generator().manual_seed(N)
    j = torch.randn(40, N, generator=gen) * 2 + 1.2
    v0, r0 = torch.rand(N, generator=gen), torch.rand(N, generator=gen) * 0.003
    args = (0.001, 0.02, 0.002, -0.5, 0.063)
    got = EMU.lif_substep(j, v0, r0, *args)
    want = CPU.lif_substep(j, v0, r0, *args)
    assert emulated.last_launch_blocks() == (N + emulated.threads_per_block - 1) // emulated.threads_per_block
    for a, b in zip(got, want):
        assert torch.equal(a, b)


def test_fs_neuron_with_the_papers_surrogate():
    gen = torch.Generator().manual_seed(5)
    x, g = torch.randn(4097, generator=gen) * 2, torch.randn(4097, generator=gen)
    h, d, th = fs_coefficients(12, torch.float32)
    sg = (int(SurrogateKind.fs_triangle), 1.0, 0.0)
    for ops in (EMU, CPU):
        assert torch.equal(ops.fs_neuron(x, h, d, th, *sg, False)[0], CPU.fs_neuron(x, h, d, th, *sg, False)[0])
    got, want = EMU.fs_neuron_backward(g, x, h, d, th, *sg, True), CPU.fs_neuron_backward(g, x, h, d, th, *sg, True)
    assert torch.equal(got[0], want[0])
    for a, b in zip(got[1:], want[1:]):  # per-block sums in the device's order
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)



def random_spikes(shape, rate, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < rate).float()


@pytest.mark.parametrize("n", [1, 63, 64, 65, 300])
@pytest.mark.parametrize("dtype", DTYPES)
def test_spike_pack_and_unpack(n, dtype):
    x = random_spikes((7, n), 0.3).to(dtype)
    words, row_start = EMU.spike_pack(x)
    want_words, want_start = CPU.spike_pack(x)
    assert torch.equal(words, want_words) and torch.equal(row_start, want_start)
    assert torch.equal(EMU.spike_unpack(words, n), x.float())
    x[5, n // 2] = 0.5
    with pytest.raises(ValueError, match="must hold spikes, 0 or 1: row 5"):
        EMU.spike_pack(x)


def test_spike_pack_without_rows():
    words, row_start = EMU.spike_pack(torch.zeros(0, 70))
    assert words.shape == (0, 2) and torch.equal(row_start, torch.zeros(1, dtype=torch.int64))


@pytest.mark.parametrize("n_in, n_out", [(1, 1), (70, 3), (300, 130)])
@pytest.mark.parametrize("rate", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("with_bias", [True, False])
def test_spike_linear_is_bit_identical_to_the_cpu_kernels(n_in, n_out, rate, with_bias):
    """Both sum each output in the same order (bias, then the active inputs ascending; rows
    ascending for the weight gradient), without FMA: the same bits."""
    x = random_spikes((33, n_in), rate, seed=n_in)
    w, b = torch.randn(n_out, n_in), (torch.randn(n_out) if with_bias else None)
    words, row_start = CPU.spike_pack(x)
    y = EMU.spike_linear(words, row_start, n_in, w, b)
    assert torch.equal(y, CPU.spike_linear(words, row_start, n_in, w, b))
    torch.testing.assert_close(y, x @ w.t() + (b if with_bias else 0), rtol=1e-5, atol=1e-5)
    g = torch.randn(33, n_out)
    gw = EMU.spike_linear_grad_weight(words, row_start, n_in, g)
    assert torch.equal(gw, CPU.spike_linear_grad_weight(words, row_start, n_in, g))
    torch.testing.assert_close(gw, g.t() @ x, rtol=1e-5, atol=1e-5)


def test_spike_linear_argument_checks():
    words, row_start = CPU.spike_pack(random_spikes((4, 100), 0.2))
    with pytest.raises(ValueError, match="weight must have shape"):
        EMU.spike_linear(words, row_start, 100, torch.randn(5, 99), None)
    with pytest.raises(ValueError, match="row_start must have 5 entries"):
        EMU.spike_linear(words, row_start[:-1], 100, torch.randn(5, 100), None)
    with pytest.raises(ValueError, match="grad_out must have shape"):
        EMU.spike_linear_grad_weight(words, row_start, 100, torch.randn(3, 5))
