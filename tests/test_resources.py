"""Resources under sustained and concurrent use: memory stays flat over many calls, and
calls from several Python threads at once give what the same calls give one after another."""
import threading

import torch

import spikeops
from spikeops import functional as F


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_rss_is_flat_over_ten_thousand_forward_backward_calls():
    """Every op family with autograd, 10 000 calls: after a warm-up, resident memory grows by
    less than 8 MiB (a leak of one small tensor per call would exceed it)."""
    x = torch.randn(8, 64, requires_grad=True)
    theta = torch.full((64,), 0.8, requires_grad=True)
    k = torch.ones(4, requires_grad=True)
    v0 = torch.zeros(64, requires_grad=True)

    def call():
        s, st = F.lif(x, F.LIFState(v0, None, None), decay=0.9, threshold=theta, surrogate="stdb")
        loss = s.sum() + st.v.sum() + F.soft_lif(x).sum() + F.fs_neuron(x, k * 0.5, k * 0.25, k * 0.4).sum()
        loss.backward()

    for _ in range(1000):
        call()
    before = _rss_bytes()
    for _ in range(10_000):
        call()
    grown = _rss_bytes() - before
    assert grown < 8 << 20, f"resident memory grew by {grown / 2**20:.1f} MiB over 10 000 calls"


def test_large_outputs_are_reused_not_accumulated():
    """Fresh outputs of 4 MiB and more come from the output cache: repeated calls keep at most
    the cache's limit, and empty_cache() gives the free blocks back."""
    x = torch.randn(16, 2**17)  # 8 MiB in, 8 MiB of spikes out
    for _ in range(5):
        F.lif(x, decay=0.9)
    before = _rss_bytes()
    for _ in range(200):
        F.lif(x, decay=0.9)
    assert _rss_bytes() - before < 32 << 20
    assert spikeops.output_cache_info()["free_bytes"] <= spikeops.output_cache_info()["limit_bytes"]
    spikeops.empty_cache()
    assert spikeops.output_cache_info()["free_bytes"] == 0


def test_concurrent_calls_from_four_threads_match_serial_calls():
    """Four Python threads, each with its own module and data, forward and backward 20 times
    at once (the kernels themselves also run on torch's thread pool): the same spikes and
    gradients, bit for bit, as the same work done serially."""
    torch.manual_seed(0)
    modules = [spikeops.LIF(decay=0.8 + 0.03 * i, learn_threshold=True, surrogate="sigmoid") for i in range(4)]
    inputs = [torch.randn(12, 3, 200) + 0.4 for _ in range(4)]

    def work(i):
        out = []
        for j in range(20):
            x = (inputs[i] * (1 + 0.01 * j)).requires_grad_()
            s = modules[i](x)
            gx, gt = torch.autograd.grad((s * s.detach().roll(1, 0)).sum() + s.sum(), (x, modules[i].threshold))
            out.append((s, gx, gt))
        return out

    serial = [work(i) for i in range(4)]
    results = [None] * 4
    errors = []

    def run(i):
        try:
            results[i] = work(i)
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i in range(4):
        for got, want in zip(results[i], serial[i]):
            for a, b in zip(got, want):
                assert torch.equal(a, b)
