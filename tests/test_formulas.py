"""The kernels against facts stated in docs/math.md, computed by hand here (not by the reference)."""
import math

import pytest
import torch

from spikeops import functional as F
from spikeops import surrogate as S


def test_if_neuron_counts_input_exactly(isa):
    # IF with subtract reset is a perfect integrator: spikes = floor(T c / theta), residue stays in v.
    # (no partial sum k*c, k <= T, is an integer, so rounding cannot decide a crossing)
    c = torch.tensor([0.07, 0.23, 0.31, 0.57, 0.73, 0.97])
    T = 64
    spikes, st = F.lif(c.expand(T, -1).contiguous(), decay=1.0, threshold=1.0)
    count = spikes.sum(0)
    torch.testing.assert_close(count, torch.floor(T * c))
    torch.testing.assert_close(st.v, T * c - count, rtol=0, atol=1e-4)


def test_fires_strictly_above_threshold(isa):
    s, st = F.lif(torch.tensor([[1.0, 1.0000001]]), decay=1.0, threshold=1.0)
    assert s.tolist() == [[0.0, 1.0]]


def test_deferred_reset_follows_snntorch_ordering(isa):
    # mem[t] = beta*mem[t-1] + x[t] - theta*H(mem[t-1] - theta), the subtraction not decayed.
    x = torch.tensor([1.5, 0.0, 0.0, 1.2]).unsqueeze(1)
    s, st = F.lif(x, decay=0.5, deferred_reset=True)
    assert s.squeeze(1).tolist() == [1.0, 0.0, 0.0, 1.0]
    mem = [1.5, 0.5 * 1.5 - 1.0, 0.5 * (0.5 * 1.5 - 1.0), 0.25 * (0.5 * 1.5 - 1.0) + 1.2]
    torch.testing.assert_close(st.v, torch.tensor([mem[-1]]))
    # the standard ordering decays the subtraction: v1 = 0.5, h2 = 0.25, h3 = 0.125, h4 = 1.2625
    s2, st2 = F.lif(x, decay=0.5)
    torch.testing.assert_close(st2.v, torch.tensor([1.2625 - 1.0]))


def test_zero_reset_and_refractory_period(isa):
    # constant drive 2 > theta: fires every step without refractoriness, every R+1 steps with it.
    x = torch.full((12, 1), 2.0)
    s, _ = F.lif(x, decay=0.9, reset="zero")
    assert s.sum() == 12
    s, st = F.lif(x, decay=0.9, reset="zero", refractory=2, v_reset=-0.5)
    assert s.squeeze(1).tolist() == [1, 0, 0] * 4
    assert st.refractory.item() == 2 - 2  # last spike at t = 9, held at 10 and 11
    torch.testing.assert_close(st.v, torch.tensor([-0.5]))


def test_spike_age(isa):
    x = torch.tensor([2.0, 0.0, 0.0, 2.0, 0.0]).unsqueeze(1)
    _, st, ages = F.lif(x, decay=0.0, return_ages=True, age_init=1000)
    # a[t] = steps since the most recent spike strictly before t; never fired: a0 + t
    assert ages.squeeze(1).tolist() == [1001, 1, 2, 3, 1]
    assert st.age.item() == 1


def _one_step_grad(sg, u, theta=1.0, age_init=1000):
    x = torch.tensor([[theta + u]], dtype=torch.float64, requires_grad=True)
    s, _ = F.lif(x, decay=0.5, threshold=theta, surrogate=sg, age_init=age_init)
    (g,) = torch.autograd.grad(s.sum(), x)
    return g.item()


@pytest.mark.parametrize("u", [-0.7, -0.1, 0.0, 0.05, 0.3, 1.2])
def test_surrogates_match_spec_formulas(u):
    theta = 1.3
    spec = {
        S.ATan(2.0): (2.0 / 2) / (1 + (math.pi / 2 * 2.0 * u) ** 2),
        S.FastSigmoid(25.0): 1 / (1 + 25 * abs(u)) ** 2,
        S.Sigmoid(4.0): 4 * (1 / (1 + math.exp(-4 * u))) * (1 - 1 / (1 + math.exp(-4 * u))),
        S.Triangle(None, height=0.3): 0.3 * max(0.0, 1 - abs(u / theta)),
        S.Triangle(0.5, height=2.0): 2.0 * max(0.0, 1 - abs(u) / 0.5),
        S.Rectangle(0.4): (1 / 0.4) if abs(u) < 0.2 else 0.0,
    }
    for sg, want in spec.items():
        assert _one_step_grad(sg, u, theta) == pytest.approx(want, rel=1e-6, abs=1e-9), sg


def test_stdb_surrogate_depends_on_spike_age():
    theta = 0.8
    for age_init, beta, c in [(0, 0.01, 0.3), (41, 0.035, 0.5), (1000, 0.01, 0.3)]:
        want = c * math.exp(-beta * (age_init + 1)) / theta
        got = _one_step_grad(S.STDB(c, beta), 0.2, theta, age_init)
        assert got == pytest.approx(want, rel=1e-6)
