"""float16 and bfloat16 data on the CPU kernels (docs/math.md §9).

The 16-bit kernels compute in float32 and round what they store (round to nearest even); the
state, parameters and their gradients are float32. So, independently of how they are
vectorised, they must equal the float32 kernels run on the upcast inputs, with each stored
[T, N] output rounded by torch's own conversion, and the saved membrane rounded by the
side-keeping rule of spikeops.reference.round_saved_h. Every ISA, every configuration.
"""
import pytest
import torch

import spikeops
from spikeops import functional as F
from spikeops import reference as R
from conftest import DEVICE_CONFIGS, OP_DEFAULTS, device_lif_inputs

OPS = torch.ops.spikeops
HALF_DTYPES = [torch.float16, torch.bfloat16]


def config(name):
    c = dict(OP_DEFAULTS, **DEVICE_CONFIGS[name])
    return [c[k] for k in ("reset", "v_reset", "refractory", "deferred_reset", "detach_reset", "surrogate",
                           "sg_height", "sg_width")], c["track_age"]


def forward(x, state, params, cfg, track_age):
    return OPS.lif_forward(x, *state, *params, *cfg, track_age, 1000, track_age, True)


def backward(g_s, g_v, saved_h, saved_age, x, state, params, cfg):
    return OPS.lif_backward(g_s, g_v, saved_h, saved_age, x, state[0], state[2], *params, *cfg, 1000,
                            True, True, True, True)


@pytest.mark.parametrize("dtype", HALF_DTYPES, ids=str)
@pytest.mark.parametrize("name", sorted(DEVICE_CONFIGS))
@pytest.mark.parametrize("N", [5, 1031, 4096])
def test_16bit_kernels_equal_float32_kernels_rounded(isa, dtype, name, N):
    cfg, track_age = config(name)
    refractory = cfg[2]
    x, params, state, g_s, g_v = device_lif_inputs(7, N, N != 4096, refractory, wide_grads=True)
    x16, g16 = x.to(dtype), g_s.to(dtype)
    got = forward(x16, state, params, cfg, track_age)
    want = forward(x16.float(), state, params, cfg, track_age)
    spikes, v, r, age, ages, saved_h, saved_age = got
    assert spikes.dtype == saved_h.dtype == dtype and v.dtype == torch.float32
    assert torch.equal(spikes.float(), want[0])
    for a, b in zip(got[1:5], want[1:5]):
        assert torch.equal(a, b)
    assert torch.equal(saved_h.float(), R.round_saved_h(want[5], params[2], dtype))
    assert torch.equal(saved_age, want[6])

    grads = backward(g16, g_v, saved_h, saved_age, x16, state, params, cfg)
    want_grads = backward(g16.float(), g_v, saved_h.float(), saved_age, x16.float(), state, params, cfg)
    assert grads[0].dtype == dtype
    assert torch.equal(grads[0], want_grads[0].to(dtype))
    for a, b in zip(grads[1:], want_grads[1:]):  # v0, decay, gain, threshold: float32
        assert a.dtype == torch.float32 and torch.equal(a, b)


@pytest.mark.parametrize("dtype", HALF_DTYPES, ids=str)
def test_saved_membrane_keeps_its_side_of_the_threshold(isa, dtype):
    """h just above the threshold rounds down onto it in 16 bits: the saved value must be the next one
    up, or the backward would recompute 'no spike'. Likewise just below (rounding up onto it is fine:
    theta itself is not above theta), and membranes past float16's range saturate."""
    theta = torch.tensor(1.0)
    eps = 2.0 ** -12
    x = torch.tensor([[1.0, 1.0, 1.0, 60000.0, -60000.0, 0.5] * 3])
    # h = 1 + 2^-12 rounds down onto theta in both formats; 90000 is beyond float16's range.
    gain = torch.tensor([1.0 + eps, 1.0 - eps / 4, 1.0, 1.5, 1.5, 1.0] * 3)
    params = (torch.tensor(0.0), gain, theta)
    cfg = config("subtract-atan")[0]
    out = forward(x.to(dtype), (None, None, None), params, cfg, False)
    exact = forward(x.to(dtype).float(), (None, None, None), params, cfg, False)
    saved = out[5].float()
    assert torch.equal(saved > theta, exact[5] > theta)
    assert torch.equal(saved, R.round_saved_h(exact[5], theta, dtype))
    assert torch.isfinite(saved).all()
    assert (saved[0, ::6] > theta).all()  # the next value up, not theta


@pytest.mark.parametrize("dtype", HALF_DTYPES, ids=str)
def test_lif_autograd_in_16bit(dtype):
    """Through the functional op: outputs in the data's dtype, state and parameter gradients float32."""
    x = (torch.randn(12, 3, 40) + 0.5).to(dtype).requires_grad_()
    decay = torch.full((40,), 0.9, requires_grad=True)
    s, st = F.lif(x, decay=decay, threshold=1.0, surrogate="atan")
    assert s.dtype == dtype and st.v.dtype == torch.float32
    (s.float().sum() + st.v.sum()).backward()
    assert x.grad.dtype == dtype and decay.grad.dtype == torch.float32
    xf = x.detach().float().requires_grad_()
    decay_f = decay.detach().clone().requires_grad_()
    s_f, st_f = F.lif(xf, decay=decay_f, threshold=1.0, surrogate="atan")
    (s_f.sum() + st_f.v.sum()).backward()
    assert torch.equal(s.float(), s_f)
    # The backward reads the membrane as saved in 16 bits: the surrogate sees it rounded.
    torch.testing.assert_close(decay.grad, decay_f.grad, rtol=0.05, atol=0.05)
    torch.testing.assert_close(x.grad.float(), xf.grad, rtol=0.05, atol=0.02)


# ---------------------------------------------------------------- autocast

T_STEPS, BATCH = 6, 8


class ConvSNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 8, 3, padding=1)
        self.lif1 = spikeops.LIF(0.9, threshold=0.3, learn_decay=True, param_shape=(8, 1, 1))
        self.fc = torch.nn.Linear(8 * 8 * 8, 10)
        self.lif2 = spikeops.LIF(0.8, threshold=0.3, learn_threshold=True)

    def forward(self, x):  # [T, B, 1, 8, 8]
        y = self.conv(x.flatten(0, 1)).unflatten(0, x.shape[:2])
        s = self.lif1(y)
        self.spike_dtype = s.dtype
        return self.lif2(self.fc(s.flatten(2))).float().mean(0)


def train_conv_snn(autocast, compile_backend=None, steps=6):
    torch.manual_seed(0)
    net = ConvSNN()
    model = torch.compile(net, backend=compile_backend) if compile_backend else net
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(1)
    x = (torch.rand(T_STEPS, BATCH, 1, 8, 8, generator=gen) < 0.4).float()
    y = torch.randint(0, 10, (BATCH,), generator=gen)
    losses = []
    for _ in range(steps):  # fitting one batch: the loss must fall
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loss = torch.nn.functional.cross_entropy(model(x) * 5, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, net


def test_conv_snn_trains_under_cpu_autocast():
    """Under torch.autocast("cpu", bfloat16) the Linear/Conv layers hand the LIF layers bfloat16 currents:
    they run in bfloat16 with float32 parameters, and training follows the float32 run closely."""
    want, net32 = train_conv_snn(autocast=False)
    got, net16 = train_conv_snn(autocast=True)
    assert net32.spike_dtype == torch.float32 and net16.spike_dtype == torch.bfloat16
    assert net16.lif1.decay.dtype == net16.lif2.threshold.dtype == torch.float32
    assert net16.lif1.decay.grad is not None and net16.lif2.threshold.grad is not None
    assert want[0] != pytest.approx(2.302585, abs=1e-4)  # the network spikes: not a constant output
    assert got[:3] == pytest.approx(want[:3], rel=0.05)
    assert want[-1] < want[0] / 2 and got[-1] < got[0] / 2


def test_autocast_under_torch_compile():
    """The same under torch.compile (the ops' fake kernels take 16-bit CPU data)."""
    want, _ = train_conv_snn(autocast=True, steps=2)
    got, net = train_conv_snn(autocast=True, compile_backend="aot_eager", steps=2)
    assert net.spike_dtype == torch.bfloat16
    assert got == pytest.approx(want, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("dtype", HALF_DTYPES, ids=str)
def test_element_wise_neurons_take_16bit_data(dtype):
    """soft-LIF and the FS neuron on 16-bit CPU data: the float32 kernels on the widened values, rounded
    (what the CUDA kernels compute); inside autocast a Linear feeds them directly."""
    x = (torch.randn(3000) * 3).to(dtype)
    assert torch.equal(F.soft_lif(x), F.soft_lif(x.float()).to(dtype))
    h = 2.0 ** -torch.arange(8, dtype=torch.float32) * 8
    out = F.fs_neuron(x, h, h, h)
    assert out.dtype == dtype and torch.equal(out, F.fs_neuron(x.float(), h, h, h).to(dtype))

    lin = torch.nn.Linear(20, 30)
    inp = torch.randn(16, 20, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        r = F.soft_lif(lin(inp))
    assert r.dtype == torch.bfloat16
    r.float().sum().backward()
    assert inp.grad is not None and lin.weight.grad.dtype == torch.float32
