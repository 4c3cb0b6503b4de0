"""The LIF with spike times inside the step (lif_substep) on CPU, per ISA, against its
pure-PyTorch reference (spikeops.reference.lif_substep, float64 torch ops) and the whole-step
ZOH LIF it replaces in the soft-LIF evaluation (spikeops.nn.ZOHLIF, the fused LIF kernel),
with the copy bandwidth: ``python bench/lif_substep.py [--repeats N]``. Writes
bench/results/lif_substep_cpu.{md,json}. Minimal traffic: 8 bytes per neuron-step (the
current in, the spike value out)."""
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
from spikeops.nn import ZOHLIF

T, N = 64, 2 ** 18


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=positive_int, default=10)
    parser.add_argument("--out", type=output_dir, default=str(Path(__file__).resolve().parent / "results"))
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    copy_gbs = copy_bandwidth(args.repeats)
    j = torch.rand(T, N) * 4  # rates from 0 to ~250 Hz at the default constants
    rows = []

    def row(impl, seconds):
        gbs = 8 * T * N / seconds / 1e9
        rows.append(dict(impl=impl, ms=seconds * 1e3, gb_s=gbs, of_copy=gbs / copy_gbs))
        print(f"{impl:<36} {seconds * 1e3:8.1f} ms {gbs:6.1f} GB/s {gbs / copy_gbs:.2f} of copy", flush=True)

    with torch.inference_mode():
        for isa in [i for i in ("scalar", "avx2", "avx512") if _C.cpu_isa_supported(i)]:
            os.environ["SPIKEOPS_CPU_ISA"] = isa
            row(f"spikeops lif_substep {isa}", median_time(lambda: F.lif_substep(j), args.repeats))
        os.environ.pop("SPIKEOPS_CPU_ISA")
        zoh = ZOHLIF(amplitude=1.0)
        row("spikeops ZOHLIF (whole steps)", median_time(lambda: zoh(j - 1), args.repeats))
        row("reference (torch ops, float64)", median_time(lambda: R.lif_substep(j), 3))
    meta = dict(command=f"python bench/lif_substep.py --repeats {args.repeats}",
                machine=f"{cpu_model()}, {torch.get_num_threads()} threads", torch=torch.__version__,
                spikeops=spikeops.__version__, copy_gb_s=copy_gbs, T=T, N=N)
    write_results(args.out, "lif_substep_cpu", "LIF with spike times inside the step (CPU)", meta,
                  [f"[T, N] = [{T}, {N}] float32, forward; copy bandwidth {copy_gbs:.1f} GB/s; GB/s counts the "
                   "minimal traffic (8 bytes per neuron-step)"],
                  [("implementation", "l"), ("ms", "r"), ("GB/s", "r"), ("of copy", "r")],
                  lambda r: [r["impl"], f"{r['ms']:.1f}", f"{r['gb_s']:.1f}", f"{r['of_copy']:.2f}"], rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
