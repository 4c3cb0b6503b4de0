"""The CPU kernels' outputs for fixed inputs against stored digests (tests/data/kernel_digests.json).

The kernels' schedule (blocking, vector width, specialisation, threads) may change; their
results may not: every output and gradient of every op family, on every ISA, must hash to
the digest stored when the math was last changed on purpose. Inputs come from integer
formulas (exact on every machine). After an intended change of the math, regenerate with
``python tests/test_kernel_digest.py --write`` and say why in the commit.
"""
import hashlib
import json
import sys
from pathlib import Path

import pytest
import torch

from spikeops import functional as F

DIGESTS = Path(__file__).parent / "data" / "kernel_digests.json"
T, N = 37, 1013  # a whole block of neurons, part of another, and a tail narrower than a vector


def pattern(shape, lo, hi, salt, dtype=torch.float32):
    """Values in [lo, hi) from an integer hash of the position: the same bits on every machine."""
    k = torch.arange(int(torch.tensor(shape).prod()), dtype=torch.int64).view(shape)
    frac = ((k * 7919 + salt * 104729) % 1009).to(torch.float64) / 1009
    return (lo + (hi - lo) * frac).to(dtype)


LIF_CONFIGS = {
    "subtract-atan": dict(),
    "zero-refractory-sigmoid": dict(reset="zero", v_reset=-0.1, refractory=2, surrogate="sigmoid"),
    "deferred-fast_sigmoid": dict(deferred_reset=True, surrogate="fast_sigmoid"),
    "none-detach-triangle": dict(reset="none", detach_reset=True, surrogate="triangle"),
    "subtract-stdb-ages": dict(surrogate="stdb", track_age=True, age_init=3),
    "subtract-linear": dict(surrogate="linear"),
}


def lif_outputs(config, dtype, per_neuron):
    shape = (N,) if per_neuron else ()
    x = pattern((T, N), -0.6, 1.6, 1, dtype).requires_grad_()
    decay = pattern(shape or (1,), 0.4, 1.0, 2, dtype).reshape(shape).requires_grad_()
    gain = pattern(shape or (1,), 0.7, 1.3, 3, dtype).reshape(shape).requires_grad_()
    threshold = pattern(shape or (1,), 0.6, 1.4, 4, dtype).reshape(shape).requires_grad_()
    v0 = pattern((N,), -0.5, 1.0, 5, dtype).requires_grad_()
    cfg = LIF_CONFIGS[config]
    counts = (pattern((N,), 0, 4, 14, torch.float64) // 1).to(torch.int32)  # refractory steps / ages left
    state = F.LIFState(v0, counts if cfg.get("refractory") else None, counts if cfg.get("track_age") else None)
    spikes, out = F.lif(x, state, decay=decay, gain=gain, threshold=threshold, **cfg)
    loss = (spikes * pattern((T, N), -1.0, 1.0, 6, dtype)).sum() + (out.v * pattern((N,), -1.0, 1.0, 7, dtype)).sum()
    loss.backward()
    # Shared parameters' gradients are torch's sum of the kernel's per-neuron ones, whose order
    # depends on torch's own vector width: only the per-neuron case's are the kernel's bits.
    params = [decay.grad, gain.grad, threshold.grad] if per_neuron else []
    return [spikes, out.v, out.refractory, out.age, x.grad, v0.grad, *params]


def family_outputs(name, dtype):
    if name == "soft_lif":
        x = pattern((T, N), -0.5, 2.0, 8, dtype).requires_grad_()
        y = F.soft_lif(x)
        (y * pattern((T, N), -1.0, 1.0, 9, dtype)).sum().backward()
        return [y, x.grad]
    if name == "fs_neuron":
        x = pattern((T, N), -0.5, 3.0, 10, dtype).requires_grad_()
        K = 8
        h = (2.0 ** -torch.arange(K, dtype=dtype) * 2).requires_grad_()
        d, th = h.detach().clone().requires_grad_(), h.detach().clone().requires_grad_()
        out, spikes = F.fs_neuron(x, h, d, th, return_spikes=True)
        (out * pattern((T, N), -1.0, 1.0, 11, dtype)).sum().backward()
        return [out, spikes, x.grad, h.grad, d.grad, th.grad]
    if name == "lif_substep":
        spikes, state = F.lif_substep(pattern((T, N), 0.0, 4.0, 12, torch.float32))
        return [spikes, *state]
    if name == "lif_fixed":
        a_in = (pattern((T, N), -300, 900, 13, torch.float64)).to(torch.int32)
        spikes, state = F.lif_fixed(a_in, du=410, dv=205, vth_mant=2000, refractory=1)
        return [spikes, *state]
    raise ValueError(name)


def cases():
    for config in LIF_CONFIGS:
        for dtype in (torch.float32, torch.float64):
            for per_neuron in (False, True):
                yield f"lif/{config}/{str(dtype)[6:]}/{'per_neuron' if per_neuron else 'shared'}", \
                    lambda c=config, d=dtype, p=per_neuron: lif_outputs(c, d, p)
    for name in ("soft_lif", "fs_neuron"):
        for dtype in (torch.float32, torch.float64):
            yield f"{name}/{str(dtype)[6:]}", lambda n=name, d=dtype: family_outputs(n, d)
    for name in ("lif_substep", "lif_fixed"):
        yield name, lambda n=name: family_outputs(n, None)


def digest(tensors) -> str:
    h = hashlib.sha256()
    for t in tensors:
        if t is None:
            h.update(b"none")
            continue
        t = t.detach().contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


CASES = dict(cases())


@pytest.mark.parametrize("case", sorted(CASES))
def test_outputs_match_the_stored_digest(case, isa):
    stored = json.loads(DIGESTS.read_text())
    assert digest(CASES[case]()) == stored[case], f"{case} on {isa} differs from its stored digest"


def test_every_case_has_a_stored_digest():
    assert sorted(json.loads(DIGESTS.read_text())) == sorted(CASES)


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        raise SystemExit("usage: python tests/test_kernel_digest.py --write  (after an intended change of the math)")
    DIGESTS.parent.mkdir(exist_ok=True)
    DIGESTS.write_text(json.dumps({name: digest(run()) for name, run in sorted(CASES.items())}, indent=1) + "\n")
    print(f"wrote {len(CASES)} digests to {DIGESTS}")
