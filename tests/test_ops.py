"""Op registration (opcheck, torch.compile), determinism, ISA identity, 64-bit indexing."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

import spikeops
from spikeops import functional as F

from conftest import SUPPORTED_ISAS

SCALARS = dict(reset=0, v_reset=0.0, refractory=0, deferred_reset=False, detach_reset=False, surrogate=0,
               sg_height=1.0, sg_width=2.0, track_age=False, age_init=1000, return_ages=False)


def forward_args(T=5, N=23, grad=True, per_neuron=False, **overrides):
    cfg = dict(SCALARS, **overrides)
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


@pytest.mark.parametrize("config", [
    {},
    {"reset": 1, "v_reset": -0.1, "refractory": 2, "track_age": True, "return_ages": True},
    {"reset": 0, "deferred_reset": True, "detach_reset": True, "surrogate": 1, "sg_width": 25.0},
    {"surrogate": 5, "sg_height": 0.3, "sg_width": 0.01, "track_age": True},
    {"reset": 2, "surrogate": 3, "sg_width": 0.0},
])
@pytest.mark.parametrize("per_neuron", [False, True])
def test_opcheck_forward(config, per_neuron):
    torch.library.opcheck(torch.ops.spikeops.lif_forward.default, forward_args(per_neuron=per_neuron, **config))


def test_opcheck_backward():
    T, N = 4, 19
    saved_h = torch.randn(T, N)
    args = (torch.randn(T, N), torch.randn(N), saved_h, torch.zeros(0, dtype=torch.int16), torch.randn(T, N),
            torch.randn(N), None, torch.tensor(0.9), torch.tensor(1.0), torch.rand(N) + 0.5, 0, 0.0, 0, False,
            False, 0, 1.0, 2.0, 1000, True, True, True, True)
    torch.library.opcheck(torch.ops.spikeops.lif_backward.default, args)


class ConvSNN(nn.Module):
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


def test_torch_compile_fullgraph_matches_eager():
    model = ConvSNN()
    x = torch.rand(4, 3, 2, 6, 6) * 2
    eager_out = model(x)
    eager_out.sum().backward()
    eager_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    compiled = torch.compile(model, fullgraph=True)
    out = compiled(x)
    out.sum().backward()
    torch.testing.assert_close(out, eager_out)
    for p, g in zip(model.parameters(), eager_grads):
        torch.testing.assert_close(p.grad, g, rtol=1e-4, atol=1e-5)


def _forward_backward(x, alpha, theta):
    x = x.clone().requires_grad_()
    alpha = alpha.clone().requires_grad_()
    theta = theta.clone().requires_grad_()
    s, st = F.lif(x, decay=alpha, threshold=theta, surrogate="sigmoid", reset="subtract", refractory=1)
    (s * torch.arange(x.shape[0]).view(-1, 1)).sum().add(st.v.sum()).backward()
    return s, st.v, x.grad, alpha.grad, theta.grad


def test_isas_bitwise_identical(monkeypatch):
    """Every ISA computes the same IEEE operations in the same order: identical bits."""
    T, N = 20, 4099
    x, alpha, theta = torch.randn(T, N) + 0.4, torch.rand(N) * 0.5 + 0.5, torch.rand(N) + 0.5
    results = {}
    for isa in SUPPORTED_ISAS:
        monkeypatch.setenv("SPIKEOPS_CPU_ISA", isa)
        results[isa] = _forward_backward(x, alpha, theta)
    for isa in SUPPORTED_ISAS[1:]:
        for got, want in zip(results[isa], results["scalar"]):
            assert torch.equal(got, want), isa


def test_deterministic_across_thread_counts():
    T, N = 16, 70001
    x, alpha, theta = torch.randn(T, N) + 0.4, torch.rand(N) * 0.5 + 0.5, torch.rand(N) + 0.5
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = _forward_backward(x, alpha, theta)
        torch.set_num_threads(2)
        two = _forward_backward(x, alpha, theta)
    finally:
        torch.set_num_threads(old)
    for a, b in zip(one, two):
        assert torch.equal(a, b)


def test_unknown_isa_override_is_an_error(monkeypatch):
    monkeypatch.setenv("SPIKEOPS_CPU_ISA", "sse9")
    with pytest.raises(RuntimeError, match="SPIKEOPS_CPU_ISA"):
        F.lif(torch.randn(2, 3))


def test_indexing_beyond_2_to_31_elements():
    """A [2, 2^30 + 5] input (2^31 + 10 elements): spikes past element 2^31 land where they belong."""
    n = 2**30 + 5
    x_np = np.zeros((2, n), dtype=np.float32)  # calloc'd: untouched pages cost no memory
    x = torch.from_numpy(x_np)
    x[1, -3:] = 5.0
    x[0, -1] = 5.0
    with torch.no_grad():
        spikes, st = F.lif(x, decay=1.0)
    assert spikes[1, -3:].tolist() == [1.0, 1.0, 1.0]
    assert spikes[0, -1].item() == 1.0 and spikes[0, -2].item() == 0.0
    assert spikes[1, -4].item() == 0.0
    assert spikes[:, :1000].sum().item() == 0.0
    assert st.v[-1].item() == pytest.approx(5.0 - 1.0 + 5.0 - 1.0)
    del spikes, st


def test_info_command():
    out = subprocess.run([sys.executable, "-m", "spikeops", "info"], capture_output=True, text=True, check=True,
                         env=dict(os.environ, SPIKEOPS_CPU_ISA="scalar")).stdout
    assert "cpu isa: scalar" in out and "torch" in out and "cuda kernels built:" in out


def test_out_variants_match_the_allocating_ops():
    T, N = 7, 45
    x = torch.randn(T, N) + 0.5
    alpha, gamma, theta = torch.tensor(0.8), torch.tensor(1.0), torch.rand(N) + 0.5
    spikes, v, saved_h = torch.empty(T, N), torch.empty(N), torch.empty(T, N)
    args = (x, None, alpha, gamma, theta, 1, -0.2, False)
    torch.ops.spikeops.lif_forward_out(*args, spikes, v, saved_h)
    ref = torch.ops.spikeops.lif_forward(x, None, None, None, alpha, gamma, theta, 1, -0.2, 0, False, False, 2, 1.0,
                                         4.0, False, 1000, False, True)
    assert torch.equal(spikes, ref[0]) and torch.equal(v, ref[1]) and torch.equal(saved_h, ref[5])
    g, grad_x = torch.randn(T, N), torch.empty(T, N)
    torch.ops.spikeops.lif_backward_out(g, saved_h, alpha, gamma, theta, 1, -0.2, False, False, 2, 1.0, 4.0, grad_x)
    want = torch.ops.spikeops.lif_backward(g, None, saved_h, torch.empty(0, dtype=torch.int16), None, None, None,
                                           alpha, gamma, theta, 1, -0.2, 0, False, False, 2, 1.0, 4.0, 1000, False,
                                           False, False, False)[0]
    assert torch.equal(grad_x, want)
    torch.library.opcheck(torch.ops.spikeops.lif_forward_out.default, args + (spikes, v, saved_h),
                          test_utils=("test_schema", "test_faketensor"))
    with pytest.raises(ValueError, match="spikes must be a contiguous"):
        torch.ops.spikeops.lif_forward_out(*args, torch.empty(T, N + 1), v, saved_h)


FAKE_CHECK_CASES = {
    "state shape": lambda x: F.lif(x, F.LIFState(torch.zeros(5))),
    "state dtype": lambda x: F.lif(x, F.LIFState(torch.zeros(6), torch.zeros(6)), refractory=1),
    "integer input": lambda x: F.lif(x.int()),
    "parameter shape": lambda x: F.lif(x, threshold=torch.ones(5)),
    "gain dtype": lambda x: F.lif(x, gain=torch.ones(6, dtype=torch.int64)),
    "soft_lif dtype": lambda x: F.soft_lif(x.long()),
    "fs steps": lambda x: F.fs_neuron(x, torch.ones(3), torch.ones(2), torch.ones(3)),
    "lif_fixed dtype": lambda x: F.lif_fixed(x, du=1, dv=1, vth_mant=1),
    "lif_fixed bias shape": lambda x: F.lif_fixed(x.int(), du=1, dv=1, vth_mant=1,
                                                  bias_mant=torch.zeros(5, dtype=torch.int32)),
}


@pytest.mark.parametrize("case", FAKE_CHECK_CASES)
def test_fake_kernels_reject_what_eager_rejects(case):
    """torch.compile and FakeTensor run the ops' meta kernels, which are the eager ops' own checks."""
    from torch._subclasses.fake_tensor import FakeTensorMode
    call, x = FAKE_CHECK_CASES[case], torch.randn(4, 6)
    with pytest.raises((TypeError, ValueError)) as eager:
        call(x)
    with FakeTensorMode() as mode:
        with pytest.raises(eager.type) as fake:
            call(mode.from_tensor(x))
    eager_msg, fake_msg = (str(e.value).splitlines()[0] for e in (eager, fake))
    if spikeops.cuda_built:  # meta tensors then stand for CPU or CUDA ones, whose dtype rules differ
        assert fake_msg.split()[0] == eager_msg.split()[0]
    else:
        assert fake_msg == eager_msg


def test_compiled_lif_rejects_bad_state_as_eager_does():
    fn = torch.compile(lambda x, v: F.lif(x, F.LIFState(v))[0], backend="eager", fullgraph=True)
    with pytest.raises(Exception, match=r"state.v\) must have shape \[6\]"):
        fn(torch.randn(4, 6), torch.zeros(5))
