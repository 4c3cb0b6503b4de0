"""FS-neuron conversion (Stöckl & Maass) of a ReLU network."""
import pytest
import torch
from torch import nn

from spikeops import convert
from spikeops import functional as F
from spikeops.nn import FSNeuron


def test_fs_conversion_on_digits(digits_data, relu_ann):
    xtr, ytr, xte, yte = digits_data
    ann = relu_ann
    with torch.no_grad():
        ann_acc = (ann(xte).argmax(1) == yte).float().mean().item()
    fs = convert.convert_fs(ann, xtr, preset=None, K=8)
    assert sum(isinstance(m, FSNeuron) for m in fs) == 2
    with torch.no_grad():
        fs_acc = (fs(xte).argmax(1) == yte).float().mean().item()
    assert fs_acc >= ann_acc - 0.01
    act = convert.fs_activity(fs, xte)
    assert 0 < act["spikes_per_neuron"] <= 2.5 and act["steps"] == 8
    with pytest.raises(ValueError, match="no ReLU"):
        convert.convert_fs(nn.Sequential(nn.Linear(2, 2)), torch.randn(3, 2))


def test_fs_activity_counts_by_hand():
    lin1, lin2 = nn.Linear(2, 3, bias=False), nn.Linear(3, 4, bias=False)
    with torch.no_grad():
        lin1.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    code = convert.relu_code(4, 2.0)  # levels of 1/8 below 2
    model = nn.Sequential(lin1, code.neuron(), lin2)
    x = torch.tensor([[1.0, 0.5]])  # hidden inputs 1.0, 0.5, 1.5 -> codes 0.875 (3 spikes), 0.375 (2), 1.375 (3)
    act = convert.fs_activity(model, x)
    assert act["spikes_per_neuron"] == pytest.approx(8 / 3)
    assert act["synops"] == pytest.approx(8 * 4)  # every spike reaches the 4 outputs


def paper_fs(x, h, d, T):
    """The FS neuron as the paper writes it (v(1) = x; for t = 1..K: z = [v > T(t)],
    out += d(t) z, v -= h(t) z), in plain PyTorch."""
    v, out = x.clone(), torch.zeros_like(x)
    for t in range(len(h)):
        z = (v > T[t]).to(x.dtype)
        out = out + d[t] * z
        v = v - h[t] * z
    return out


# Spot values of the sets in the reference code's fs_weights.py: (K, h[0], d[-1], T[2]).
PUBLISHED_SPOTS = {"sigmoid": (12, 1.6558512, 0.01021793, 1.0080122), "swish": (16, 0.7844085, -0.14830568, 1.3066754)}


@pytest.mark.parametrize("name", ["sigmoid", "swish", "relu"])
def test_published_sets_run_as_the_paper_writes_them(name):
    code = convert.published_code(name)
    if name == "relu":
        expected = 25.0 * 2.0 ** -torch.arange(1, 11, dtype=torch.float64)
        for c in (code.h, code.d, code.threshold):
            assert torch.equal(c, expected.float())
    else:
        K, h0, d_last, t2 = PUBLISHED_SPOTS[name]
        assert len(code.h) == K and (code.h[0].item(), code.d[-1].item(), code.threshold[2].item()) == \
            pytest.approx((h0, d_last, t2), rel=1e-7)
    lo, hi = convert.PUBLISHED_RANGE[name]
    x = torch.linspace(lo - 2, hi + 2, 20001)
    torch.testing.assert_close(FSNeuron(code.h, code.d, code.threshold)(x), paper_fs(x, code.h, code.d, code.threshold),
                               rtol=0, atol=0)
    fn = {"relu": torch.relu, "sigmoid": torch.sigmoid, "swish": nn.functional.silu}[name]
    xs = torch.linspace(lo, hi, 100001)
    assert code.mse == pytest.approx((paper_fs(xs, code.h, code.d, code.threshold) - fn(xs)).pow(2).mean().item())
    # the published fits are good ones: the error docs/math.md states
    assert code.mse < {"relu": 1e-3, "sigmoid": 2e-4, "swish": 3e-3}[name]


def test_stoeckl2021_preset_converts_relu_sigmoid_and_silu():
    torch.manual_seed(0)
    ann = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 16), nn.Sigmoid(),
                        nn.Linear(16, 8), nn.SiLU(), nn.Linear(8, 3)).eval()
    fs = convert.convert_fs(ann)
    assert [m.steps for m in fs if isinstance(m, FSNeuron)] == [10, 12, 16]
    x = torch.randn(64, 6)
    folded = convert.fold_batchnorm(ann)
    h = x
    for m in folded:  # the ANN with every activation replaced by the paper's FS equations
        h = paper_fs(h, *convert.published_code({nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.SiLU: "swish"}[type(m)])[:3]) \
            if isinstance(m, (nn.ReLU, nn.Sigmoid, nn.SiLU)) else m(h)
    torch.testing.assert_close(fs(x), h)
    act = convert.fs_activity(fs, x, progress=False)
    assert act["latency_steps"] == 10 + 12 + 16 and act["steps"] == 16
    with pytest.raises(ValueError, match="preset=None"):
        convert.convert_fs(ann, x, K=8)
    with pytest.raises(ValueError, match="rate equivalent"):
        convert.convert_rate(ann, x)


class _PaperSpike(torch.autograd.Function):
    """z = [s > 0] with dz/ds = max(0, 1 - |s|) (the paper's code, fs_coding.py)."""

    @staticmethod
    def forward(ctx, s):
        ctx.save_for_backward(s)
        return (s > 0).to(s.dtype)

    @staticmethod
    def backward(ctx, grad):
        (s,) = ctx.saved_tensors
        return grad * torch.clamp(1 - s.abs(), min=0)


def paper_fs_with_gradients(x, h, d, T):
    """The paper's FS neuron with its code's surrogate, written from the equations: the spike of
    step t is taken on the normalised membrane s = (v - T(t)) / (|v| + 1)."""
    v, out = x, torch.zeros_like(x)
    for t in range(len(h)):
        z = _PaperSpike.apply((v - T[t]) / (v.abs() + 1))
        out = out + d[t] * z
        v = v - h[t] * z
    return out


@pytest.mark.parametrize("name", ["sigmoid", "swish", "relu"])
def test_stoeckl2021_preset_trains_with_the_papers_surrogate(name):
    code = convert.published_code(name)
    neuron = convert.convert_fs(nn.Sequential(nn.Linear(3, 3), {"relu": nn.ReLU, "sigmoid": nn.Sigmoid,
                                                                "swish": nn.SiLU}[name]()))[1]
    assert neuron.surrogate.name == "fs_triangle"
    x = (torch.randn(4000) * 4).requires_grad_()
    coef = [c.clone().requires_grad_() for c in code[:3]]
    g = torch.randn(4000)
    F.fs_neuron(x, *coef, surrogate=neuron.surrogate).backward(g)
    ours = [x.grad] + [c.grad for c in coef]
    x2 = x.detach().clone().requires_grad_()
    coef2 = [c.detach().clone().requires_grad_() for c in code[:3]]
    paper_fs_with_gradients(x2, *coef2).backward(g)
    for a, b in zip(ours, [x2.grad] + [c.grad for c in coef2]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-3)

