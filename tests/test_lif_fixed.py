"""The fixed-point LIF op (docs/math.md §8): bit-exact on every CPU ISA against a plain-Python
integer implementation written from the spec, the torch reference, state hand-over, the
edge cases of the 24-bit arithmetic, and argument checking."""
import random

import pytest
import torch

from spikeops import functional as F
from spikeops import reference

STATE_MAX = 2 ** 23 - 1


def python_lif_fixed(a_in, du, dv, vth_mant, bias=None, bias_exp=0, refractory=0, reset="zero",
                     du_plus_one=False, state=None):
    """docs/math.md §8 on Python ints, neuron by neuron. a_in: T rows of N ints."""
    T, N = len(a_in), len(a_in[0])

    def decay(y, d):
        mag = (abs(y) * (4096 - d)) >> 12
        return -mag if y < 0 else mag

    def wrap24(y):
        y &= (1 << 24) - 1
        return y - (1 << 24) if y >= 1 << 23 else y

    d_u = du + 1 if du_plus_one else du
    threshold = vth_mant << 6
    spikes = [[0] * N for _ in range(T)]
    us = [[0] * N for _ in range(T)]
    vs = [[0] * N for _ in range(T)]
    final = []
    for n in range(N):
        u, v, r = (0, 0, 0) if state is None else (state[0][n], state[1][n], state[2][n])
        b = 0 if bias is None else (bias[n] if len(bias) > 1 else bias[0]) << bias_exp
        for t in range(T):
            u = wrap24(decay(u, d_u) + (a_in[t][n] << 6))
            if r > 0:
                v, r = 0, r - 1
            else:
                v = max(-STATE_MAX, min(STATE_MAX, decay(v, dv) + u + b))
                if v > threshold:
                    spikes[t][n] = 1
                    v = v - threshold if reset == "subtract" else 0
                    r = refractory
            us[t][n], vs[t][n] = u, v
        final.append((u, v, r))
    return spikes, [list(x) for x in zip(*final)], us, vs


def run_op(a_in, **kw):
    spikes, state, u_seq, v_seq = F.lif_fixed(a_in, return_states=True, **kw)
    return spikes, state, u_seq, v_seq


def check_against_python(a_in, bias=None, state=None, **kw):
    spikes, st, u_seq, v_seq = run_op(a_in, bias_mant=bias, state=state, **kw)
    py_state = None if state is None else [s.tolist() for s in state]
    py_bias = None if bias is None else bias.reshape(-1).tolist()
    p_spikes, p_final, p_u, p_v = python_lif_fixed(a_in.tolist(), bias=py_bias, state=py_state, **kw)
    assert spikes.dtype == torch.uint8 and u_seq.dtype == torch.int32
    assert spikes.tolist() == p_spikes
    assert u_seq.tolist() == p_u
    assert v_seq.tolist() == p_v
    assert [s.tolist() for s in st] == p_final
    return spikes


CONFIGS = [
    dict(du=4096, dv=0, vth_mant=100),                             # IF with instantaneous current
    dict(du=0, dv=4096, vth_mant=1),                               # current never decays, voltage forgets
    dict(du=1000, dv=300, vth_mant=5000, reset="subtract"),
    dict(du=4095, dv=4095, vth_mant=2 ** 17 - 1, du_plus_one=True),  # large decays, largest threshold
    dict(du=123, dv=3071, vth_mant=0, refractory=3),
    dict(du=2048, dv=17, vth_mant=777, refractory=1, reset="subtract", du_plus_one=True),
]


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("scale", [2 ** 8, 2 ** 18, 2 ** 31 - 1])
def test_matches_python_integers(isa, cfg, scale):
    """Random inputs from small to the full int32 range (the current wraps), 37 neurons (vector
    lanes and a scalar tail), per-neuron biases and random initial states at the extremes."""
    gen = torch.Generator().manual_seed(scale + len(str(cfg)))
    T, N = 23, 37
    a_in = torch.randint(-scale, scale, (T, N), generator=gen, dtype=torch.int64).to(torch.int32)
    bias = torch.randint(-4096, 4096, (N,), generator=gen, dtype=torch.int32)
    u0 = torch.randint(-2 ** 23, 2 ** 23, (N,), generator=gen, dtype=torch.int32)
    v0 = torch.randint(-STATE_MAX, STATE_MAX + 1, (N,), generator=gen, dtype=torch.int32)
    u0[:2] = torch.tensor([-2 ** 23, STATE_MAX])
    v0[:2] = torch.tensor([-STATE_MAX, STATE_MAX])
    r0 = torch.randint(0, cfg.get("refractory", 0) + 1, (N,), generator=gen, dtype=torch.int32)
    check_against_python(a_in, bias=bias, bias_exp=7, state=F.FixedState(u0, v0, r0), **cfg)
    check_against_python(a_in, **cfg)
    check_against_python(a_in, bias=torch.tensor([-4096], dtype=torch.int32), bias_exp=3, **cfg)


def test_every_isa_gives_identical_bits(monkeypatch):
    from spikeops import _C
    gen = torch.Generator().manual_seed(7)
    a_in = torch.randint(-3000, 4000, (40, 3, 2100), generator=gen, dtype=torch.int32)  # crosses a 2048 block
    bias = torch.randint(-4096, 4096, (3, 2100), generator=gen, dtype=torch.int32)
    kw = dict(du=3000, dv=200, vth_mant=300, bias_mant=bias, bias_exp=2, refractory=2, reset="subtract",
              return_states=True)
    results = {}
    for isa in ("scalar", "avx2", "avx512"):
        if _C.cpu_isa_supported(isa):
            monkeypatch.setenv("SPIKEOPS_CPU_ISA", isa)
            results[isa] = F.lif_fixed(a_in, **kw)
    ref = reference.lif_fixed(a_in, du=3000, dv=200, vth_mant=300, bias_mant=bias, bias_exp=2, refractory=2,
                              reset="subtract")
    assert ref[0].sum() > 1000  # a meaningful amount of spiking
    for isa, (spikes, state, u_seq, v_seq) in results.items():
        assert torch.equal(spikes, ref[0]), isa
        assert all(torch.equal(a, b) for a, b in zip(state, ref[1])), isa
        assert torch.equal(u_seq, ref[2]) and torch.equal(v_seq, ref[3]), isa


def test_state_hand_over_equals_one_run(isa):
    a_in = torch.randint(-500, 800, (30, 1000), dtype=torch.int32)
    kw = dict(du=700, dv=100, vth_mant=200, refractory=4, reset="zero")
    spikes, state = F.lif_fixed(a_in, **kw)
    s1, st1 = F.lif_fixed(a_in[:11], **kw)
    s2, st2 = F.lif_fixed(a_in[11:], state=st1, **kw)
    assert torch.equal(torch.cat([s1, s2]), spikes)
    assert all(torch.equal(a, b) for a, b in zip(st2, state))


def test_edge_cases_by_hand(isa):
    one = dict(dv=4096, vth_mant=2 ** 17 - 1, return_states=True)
    # Wrap: without decay the current grows by 2^22 a step and wraps from 2^23 - 2^22 to -2^23.
    _, _, u, _ = F.lif_fixed(torch.full((3, 1), 2 ** 16, dtype=torch.int32), du=0, **one)
    assert u.flatten().tolist() == [2 ** 22, -2 ** 23, -2 ** 22]
    # Saturation: v is held at -(2^23 - 1) however negative the input.
    _, _, _, v = F.lif_fixed(torch.full((3, 1), -2 ** 17, dtype=torch.int32), du=4096, dv=0, vth_mant=1,
                             return_states=True)
    assert v.flatten().tolist() == [-2 ** 23 + 1] * 3
    # Decay rounds toward zero: -5 * 2048 / 4096 = -2.5 -> -2, and +5 -> +2.
    state = F.FixedState(torch.tensor([-5, 5], dtype=torch.int32), torch.zeros(2, dtype=torch.int32),
                         torch.zeros(2, dtype=torch.int32))
    _, st = F.lif_fixed(torch.zeros((1, 2), dtype=torch.int32), du=2048, dv=0, vth_mant=1000, state=state)
    assert st.u.tolist() == [-2, 2]
    # The bit-accurate current decay: du + 1 (4095 + 1 = everything forgotten).
    _, st = F.lif_fixed(torch.zeros((1, 2), dtype=torch.int32), du=4095, dv=0, vth_mant=1000, state=state,
                        du_plus_one=True)
    assert st.u.tolist() == [0, 0]
    # Threshold is strict and shifted by 6; zero reset; refractory steps hold v at 0.
    a = torch.tensor([[10], [0], [1], [5], [5]], dtype=torch.int32)  # u = a << 6 with du = 4096
    spikes, _, _, v = F.lif_fixed(a, du=4096, dv=0, vth_mant=10, refractory=1, return_states=True)
    assert spikes.flatten().tolist() == [0, 0, 1, 0, 0]
    assert v.flatten().tolist() == [640, 640, 0, 0, 320]


def test_matches_torch_reference_at_size(isa):
    a_in = torch.randint(-2 ** 17, 2 ** 17, (64, 5000), dtype=torch.int32)
    kw = dict(du=1, dv=4000, vth_mant=20000, refractory=0, reset="subtract", du_plus_one=True)
    spikes, state, u_seq, v_seq = F.lif_fixed(a_in, return_states=True, **kw)
    ref = reference.lif_fixed(a_in, **kw)
    assert ref[0].any()
    assert torch.equal(spikes, ref[0]) and torch.equal(u_seq, ref[2]) and torch.equal(v_seq, ref[3])


@pytest.mark.parametrize("bad, match", [
    (dict(a_in=torch.zeros(3, 2)), "a_in must have dtype int32, got float32"),
    (dict(a_in=torch.zeros(3, 2, dtype=torch.int64)), "a_in must have dtype int32, got int64"),
    (dict(a_in=torch.zeros(0, 2, dtype=torch.int32)), "T >= 1"),
    (dict(du=4097), "du"),
    (dict(du=-1), "du"),
    (dict(du=4096, du_plus_one=True), "du_plus_one"),
    (dict(dv=5000), "dv"),
    (dict(vth_mant=2 ** 17), "17-bit"),
    (dict(vth_mant=-1), "17-bit"),
    (dict(bias_mant=torch.tensor([5000, 0], dtype=torch.int32)), "bias_mant"),
    (dict(bias_mant=torch.zeros(3, dtype=torch.int32)), "bias_mant"),
    (dict(bias_mant=torch.zeros(2)), "bias_mant must have dtype int32"),
    (dict(bias_exp=8), "bias_exp"),
    (dict(refractory=-1), "refractory"),
    (dict(reset="soft"), "reset"),
    (dict(state=F.FixedState(torch.full((2,), 2 ** 23, dtype=torch.int32), torch.zeros(2, dtype=torch.int32),
                             torch.zeros(2, dtype=torch.int32))), "u0"),
    (dict(state=F.FixedState(torch.zeros(2, dtype=torch.int32), torch.full((2,), -2 ** 23, dtype=torch.int32),
                             torch.zeros(2, dtype=torch.int32))), "v0"),
    (dict(state=F.FixedState(torch.zeros(2, dtype=torch.int32), torch.zeros(2, dtype=torch.int32),
                             torch.ones(2, dtype=torch.int32))), "r0"),
    (dict(du=2.5), "du must be an int"),
])
def test_bad_arguments_are_named(bad, match):
    kw = dict(a_in=torch.zeros(3, 2, dtype=torch.int32), du=0, dv=0, vth_mant=10)
    kw.update(bad)
    dtype_error = "must be an int" in match or "dtype" in match  # a wrong dtype or Python type: TypeError; else ValueError
    with pytest.raises(TypeError if dtype_error else ValueError, match=match):
        F.lif_fixed(kw.pop("a_in"), **kw)


def test_opcheck():
    a_in = torch.randint(-100, 100, (5, 4, 3), dtype=torch.int32)
    bias = torch.randint(-10, 10, (4, 3), dtype=torch.int32)
    for states in (False, True):
        torch.library.opcheck(torch.ops.spikeops.lif_fixed,
                              (a_in, 100, 50, 20, bias, 1, 2, "subtract", False, None, None, None, states))


def test_random_configurations_match_python(isa):
    rng = random.Random(5)
    for _ in range(40):
        T, N = rng.randint(1, 9), rng.randint(1, 40)
        cfg = dict(du=rng.randint(0, 4095), dv=rng.randint(0, 4096), vth_mant=rng.randint(0, 2 ** 17 - 1),
                   refractory=rng.randint(0, 3), reset=rng.choice(["zero", "subtract"]),
                   du_plus_one=rng.random() < 0.5)
        scale = rng.choice([2 ** 6, 2 ** 12, 2 ** 17, 2 ** 24])
        a_in = torch.tensor([[rng.randint(-scale, scale) for _ in range(N)] for _ in range(T)], dtype=torch.int32)
        bias = torch.tensor([rng.randint(-4096, 4095) for _ in range(N)], dtype=torch.int32)
        check_against_python(a_in, bias=bias, bias_exp=rng.randint(0, 7), **cfg)
