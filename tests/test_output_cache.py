"""The CPU output cache (csrc/torch/output_cache.h): large LIF outputs reuse blocks spikeops owns."""
import os
import subprocess
import sys

import pytest
import torch

import spikeops
from spikeops import functional as F

BIG = (8, 1 << 18)  # 8 MiB of float32: above the 4 MiB the cache starts at


def test_a_dead_output_block_is_reused_and_released():
    spikeops.empty_cache()
    x = torch.rand(BIG)
    with torch.no_grad():
        s, _ = F.lif(x, decay=0.9)
        want = s.clone()
        ptr = s.data_ptr()
        del s
        assert spikeops.output_cache_info()["free_bytes"] >= 8 << 20
        s2, _ = F.lif(x, decay=0.9)
    assert s2.data_ptr() == ptr  # the same block, already faulted in
    assert torch.equal(s2, want)  # and fully overwritten
    del s2
    spikeops.empty_cache()
    assert spikeops.output_cache_info()["free_bytes"] == 0


def test_cached_outputs_behave_like_tensors():
    """Training through autograd (saved membrane and input gradient cached too), resizing, views."""
    x = torch.rand(BIG, requires_grad=True)
    s, st = F.lif(x, decay=0.9)
    s.sum().backward()
    xr = x.detach().requires_grad_()
    s_ref, _ = spikeops.reference.lif(xr, decay=0.9)
    s_ref.sum().backward()
    assert torch.equal(s, s_ref)
    torch.testing.assert_close(x.grad, xr.grad)
    y = s.detach()
    y.resize_(2 * BIG[0], BIG[1])  # grows into memory of torch's allocator
    assert torch.equal(y[: BIG[0]], s_ref)
    s.mul_(2).add_(1)  # in place on a cached block
    assert s.is_contiguous() and s.dtype == torch.float32


def _run(code, **env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


def test_the_limit_comes_from_the_environment():
    code = ("import torch, spikeops; from spikeops import functional as F\n"
            "s, _ = F.lif(torch.rand(8, 1 << 18), decay=0.9); del s\n"
            "print(spikeops.output_cache_info())")
    off = _run(code, SPIKEOPS_CPU_CACHE_MB="0")
    assert off.returncode == 0, off.stderr
    assert "'free_bytes': 0, 'limit_bytes': 0" in off.stdout
    small = _run(code, SPIKEOPS_CPU_CACHE_MB="4")  # below one 8 MiB block: given back at once
    assert "'free_bytes': 0, 'limit_bytes': 4194304" in small.stdout, small.stderr
    bad = _run(code, SPIKEOPS_CPU_CACHE_MB="lots")
    assert bad.returncode != 0 and "SPIKEOPS_CPU_CACHE_MB must be a number of MiB" in bad.stderr


@pytest.mark.parametrize("threads", [1, 2])
def test_outputs_freed_on_other_threads(threads):
    """Blocks may be given back from any thread (a DataLoader worker thread, autograd's)."""
    import threading
    x = torch.rand(BIG)
    outs = [F.lif(x, decay=0.9)[0] for _ in range(4)]
    workers = [threading.Thread(target=outs.pop) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    s, _ = F.lif(x, decay=0.9)
    assert torch.equal(s, outs[0])
