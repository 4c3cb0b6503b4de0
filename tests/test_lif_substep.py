"""The LIF with spike times inside the step (lif_substep; docs/math.md §3): its analytic rate,
the kernels against spikeops.reference on every CPU ISA, argument checks, registration, and
the alpha synapse the soft-LIF evaluation uses with it."""
import math

import pytest
import torch

from spikeops import functional as F
from spikeops import reference as R
from spikeops.nn import AlphaSynapse, SubstepLIF, ZOHLIF

TAU_RC, TAU_REF, DT = 0.02, 0.002, 0.001


def analytic_rate(j):
    return 1 / (TAU_REF + TAU_RC * torch.log1p(1 / (j - 1)))


def measured_rate(spikes, dt=DT):
    """Spikes per second between the first and the last spike (no partial periods)."""
    rates = []
    for column in spikes.t():
        times = torch.nonzero(column).flatten().double() * dt
        rates.append((len(times) - 1) / (times[-1] - times[0]).item())
    return torch.tensor(rates, dtype=torch.float64)


def test_rate_over_a_long_constant_input_is_the_analytic_lif_rate(isa):
    j = torch.tensor([1.02, 1.1, 1.3, 1.6, 2.0, 3.0, 5.0, 10.0, 20.0, 40.0])  # ~10 to ~400 Hz
    T = 60000  # a minute of simulated time at 1 ms
    spikes, _ = F.lif_substep(j.expand(T, -1).contiguous(), dt=DT, tau_rc=TAU_RC, tau_ref=TAU_REF)
    want = analytic_rate(j.double())
    got = measured_rate(spikes)
    assert ((got - want).abs() / want).max() < 0.005
    # the whole-step (ZOH) neuron falls below the rate at high rates: what this neuron fixes
    zoh = ZOHLIF(TAU_RC, TAU_REF, gain=1.0, amplitude=DT, dt=DT)(j.expand(6000, -1) - 1)
    assert measured_rate(zoh)[-1] < 0.9 * want[-1]


@pytest.mark.parametrize("min_voltage", [0.0, -1.0])
def test_kernels_equal_the_reference_on_every_isa(isa, min_voltage):
    torch.manual_seed(0)
    T, N = 300, 1037  # vector lanes and a scalar tail
    j = torch.randn(T, N) * 1.5 + 1.2
    state = F.SubstepState(torch.rand(N), torch.rand(N) * 0.003)
    spikes, got = F.lif_substep(j, min_voltage=min_voltage, amplitude=0.5, state=state)
    want_spikes, (v, r) = R.lif_substep(j, min_voltage=min_voltage, amplitude=0.5, state=state)
    # float32 kernels vs the float64 reference: spikes may differ only where v is within rounding of 1
    mismatch = (spikes > 0) != (want_spikes > 0)
    assert mismatch.float().mean() < 1e-3
    first = mismatch.any(1).nonzero()
    steps = first[0].item() if len(first) else T
    head, _ = R.lif_substep(j[:steps], min_voltage=min_voltage, amplitude=0.5, state=state)
    assert torch.equal(spikes[:steps], head.float())
    assert spikes.max() == 0.5 / DT
    if not mismatch.any():
        torch.testing.assert_close(got.v.double(), v, atol=1e-5, rtol=0)
        torch.testing.assert_close(got.r.double(), r, atol=1e-6, rtol=0)


def test_isas_are_bitwise_identical(monkeypatch):
    from conftest import SUPPORTED_ISAS
    j = torch.randn(200, 3001) * 2 + 1
    results = []
    for isa in SUPPORTED_ISAS:
        monkeypatch.setenv("SPIKEOPS_CPU_ISA", isa)
        spikes, state = F.lif_substep(j)
        results.append((spikes, state.v, state.r))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert torch.equal(a, b)


def test_state_carries_across_calls():
    j = torch.rand(100, 64) * 3
    whole, end = F.lif_substep(j)
    first, middle = F.lif_substep(j[:37])
    second, end2 = F.lif_substep(j[37:], state=middle)
    assert torch.equal(torch.cat([first, second]), whole)
    assert torch.equal(end.v, end2.v) and torch.equal(end.r, end2.r)


def test_bad_arguments_are_named():
    j = torch.rand(4, 3)
    with pytest.raises(TypeError, match="j must have dtype float32"):
        F.lif_substep(j.double())
    for name, value in (("dt", 0.0), ("tau_rc", -1.0), ("tau_ref", -0.001), ("min_voltage", 0.5),
                        ("amplitude", 0.0), ("dt", math.nan)):
        with pytest.raises(ValueError, match=name):
            F.lif_substep(j, **{name: value})
    with pytest.raises(ValueError, match="v0"):
        F.lif_substep(j, state=F.SubstepState(torch.zeros(4), torch.zeros(3)))
    with pytest.raises(ValueError, match="T >= 1"):
        F.lif_substep(torch.rand(0, 3))
    with pytest.raises(TypeError, match="SubstepState"):
        F.lif_substep(j, state=(torch.zeros(3), torch.zeros(3)))


def test_opcheck_and_module():
    j = torch.rand(6, 5) * 3
    torch.library.opcheck(torch.ops.spikeops.lif_substep.default, (j, None, None, 0.001, 0.02, 0.002, 0.0, 1.0))
    torch.library.opcheck(torch.ops.spikeops.lif_substep.default,
                          (j, torch.rand(5), torch.rand(5) * 0.002, 0.001, 0.02, 0.002, -1.0, 1.0))
    x = torch.rand(6, 2, 5, dtype=torch.float64)
    out = SubstepLIF(gain=2.0, amplitude=0.063)(x)
    want, _ = F.lif_substep((x * 2 + 1).float(), amplitude=0.063)
    assert out.dtype == torch.float64 and torch.equal(out.float(), want)


def test_alpha_synapse_is_the_alpha_kernel():
    tau, dt, T = 0.005, 0.0001, 2000
    impulse = torch.zeros(T, 1)
    impulse[0] = 1.0 / dt  # unit area
    y = AlphaSynapse(tau, dt)(impulse).flatten().double()
    t = (torch.arange(T, dtype=torch.float64) + 1) * dt  # a filter step answers within the step
    alpha = t / tau ** 2 * torch.exp(-t / tau)
    assert (y.sum() * dt).item() == pytest.approx(1.0, rel=1e-3)  # unit area
    assert (y - alpha).abs().max().item() < 0.02 * alpha.max().item()  # the kernel, to the step's resolution
    assert torch.equal(AlphaSynapse(0.0, dt)(impulse), impulse)
