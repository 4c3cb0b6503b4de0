"""The element-wise neuron ops on CPU: soft-LIF rate and the FS neuron, forward and
forward+backward, per ISA, against the pure-PyTorch reference (spikeops.reference) and the
copy bandwidth: ``python bench/elementwise.py [--repeats N]``. Writes
bench/results/elementwise_cpu.{md,json}. Minimal traffic: soft-LIF forward 8 bytes per
element (x in, r out), backward 12 (x, grad in; grad out); FS forward 9 (x in, out and a
uint8 count out is optional: 8 without it)."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

import spikeops
from spikeops import _C
from spikeops import functional as F
from spikeops import reference as R
from spikeops.benchmarks.timing import copy_bandwidth, cpu_model, median_time, write_results
from spikeops.cli import output_dir, positive_int

N = 2 ** 24
K = 8


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=positive_int, default=10)
    parser.add_argument("--out", type=output_dir, default=str(Path(__file__).resolve().parent / "results"))
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    copy_gbs = copy_bandwidth(args.repeats)
    x = torch.randn(N) * 0.5
    g = torch.randn(N)
    h = 2.0 ** -torch.arange(K, dtype=torch.float32)
    rows = []

    def row(case, impl, seconds, traffic):
        gbs = traffic * N / seconds / 1e9
        rows.append(dict(case=case, impl=impl, ms=seconds * 1e3, gb_s=gbs, of_copy=gbs / copy_gbs))
        print(f"{case:<34} {impl:<26} {seconds * 1e3:8.1f} ms {gbs:6.1f} GB/s {gbs / copy_gbs:.2f} of copy",
              flush=True)

    def forward_backward(fn):
        def run():
            xr = x.detach().requires_grad_()
            fn(xr).backward(g)
        return run

    soft = lambda t: F.soft_lif(t)  # noqa: E731
    fs = lambda t: F.fs_neuron(t, h, h, h)  # noqa: E731
    for isa in [i for i in ("scalar", "avx2", "avx512") if _C.cpu_isa_supported(i)]:
        os.environ["SPIKEOPS_CPU_ISA"] = isa
        with torch.no_grad():
            row("soft_lif forward", f"spikeops {isa}", median_time(lambda: soft(x), args.repeats), 8)
        row("soft_lif forward+backward", f"spikeops {isa}", median_time(forward_backward(soft), args.repeats), 20)
    with torch.no_grad():
        row("soft_lif forward", "reference (torch ops)", median_time(lambda: R.soft_lif(x), 3), 8)
        row("fs_neuron forward (K=8)", "spikeops", median_time(lambda: fs(x), args.repeats), 8)
        row("fs_neuron forward (K=8)", "reference (torch ops)", median_time(lambda: R.fs_neuron(x, h, h, h), 3), 8)
    row("soft_lif forward+backward", "reference (torch ops)",
        median_time(forward_backward(lambda t: R.soft_lif(t)), 3), 20)
    row("fs_neuron forward+backward (K=8)", "spikeops", median_time(forward_backward(fs), args.repeats), 20)
    row("fs_neuron forward+backward (K=8)", "reference (torch ops)",
        median_time(forward_backward(lambda t: R.fs_neuron(t, h, h, h)), 3), 20)
    meta = dict(command=f"python bench/elementwise.py --repeats {args.repeats}",
                machine=f"{cpu_model()}, {torch.get_num_threads()} threads", torch=torch.__version__,
                spikeops=spikeops.__version__, copy_gb_s=copy_gbs, elements=N)
    write_results(args.out, "elementwise_cpu", "Element-wise neuron ops (CPU)", meta,
                  [f"2^24 float32 elements; copy bandwidth {copy_gbs:.1f} GB/s; GB/s counts the minimal traffic"],
                  [("case", "l"), ("implementation", "l"), ("ms", "r"), ("GB/s", "r"), ("of copy", "r")],
                  lambda r: [r["case"], r["impl"], f"{r['ms']:.1f}", f"{r['gb_s']:.1f}", f"{r['of_copy']:.2f}"], rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
