"""Throughput of the fixed-point LIF op (docs/math.md §8) against the float LIF op and the
memory-bandwidth limit: ``python bench/lif_fixed.py [--device cuda] [--repeats N]``.

Minimal traffic of the integer op without state traces: the int32 input read once (4 bytes
per neuron-step) and the uint8 spikes written once (1 byte): 5 bytes per neuron-step; the
float op without saved state moves 8 (float32 in, float32 spikes out). The ceiling is
``Tensor.copy_`` into an existing tensor, measured in the same run. Times are medians.
Writes bench/results/fixed_<device>.{md,json}.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

import spikeops
from spikeops import _C
from spikeops import functional as F
from spikeops import reference as R
from spikeops.benchmarks.timing import copy_bandwidth, cpu_model, median_time, write_results
from spikeops.cli import output_dir, positive_int

SHAPES = [(32, 2 ** 20), (128, 2 ** 20), (32, 64 * 8192)]
FIXED_KW = dict(du=4096, dv=256, vth_mant=300, reset="zero")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--repeats", type=positive_int, default=15)
    parser.add_argument("--out", type=output_dir, default=str(Path(__file__).resolve().parent / "results"))
    args = parser.parse_args(argv)
    dev = torch.device(args.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    torch.manual_seed(0)
    if dev.type == "cuda":
        machine = torch.cuda.get_device_name()
        src = torch.rand(2 ** 28, device=dev)
        dst = torch.empty_like(src)
        copy_gbs = 2 * src.numel() * 4 / median_time(lambda: dst.copy_(src), args.repeats, sync=sync) / 1e9
        del src, dst
    else:
        machine = f"{cpu_model()}, {torch.get_num_threads()} threads"
        copy_gbs = copy_bandwidth(args.repeats)
    rows = []
    for T, N in SHAPES:
        a_in = torch.randint(-200, 400, (T, N), dtype=torch.int32, device=dev)
        x = (a_in.float() / 300.0).contiguous()
        tn = T * N

        def row(case, seconds, traffic, isa=""):
            gbs = traffic / seconds / 1e9
            rows.append(dict(shape=f"[{T}, {N}]", case=case, isa=isa, ms=seconds * 1e3, gb_s=gbs,
                             of_copy=gbs / copy_gbs, neuron_steps_per_s=tn / seconds))
            print(f"[{T}, {N}] {case:<40} {isa:<7} {seconds * 1e3:8.2f} ms {gbs:6.1f} GB/s "
                  f"{gbs / copy_gbs:.2f} of copy", flush=True)

        isas = [i for i in ("scalar", "avx2", "avx512") if _C.cpu_isa_supported(i)] if dev.type == "cpu" else [""]
        for isa in isas:
            if isa:
                import os
                os.environ["SPIKEOPS_CPU_ISA"] = isa
            with torch.no_grad():
                row("fixed-point LIF (lif_fixed)",
                    median_time(lambda: F.lif_fixed(a_in, **FIXED_KW), args.repeats, sync=sync), 5 * tn, isa)
                row("float LIF forward (F.lif, float32)",
                    median_time(lambda: F.lif(x, decay=0.94, threshold=1.0, reset="zero"), args.repeats, sync=sync),
                    8 * tn, isa)
        if T == 32 and N == 2 ** 20:
            t_ref = median_time(lambda: R.lif_fixed(a_in, **FIXED_KW), 2, sync=sync)
            row("reference.lif_fixed (torch int64 ops)", t_ref, 5 * tn)
    meta = dict(command=f"python bench/lif_fixed.py --device {args.device} --repeats {args.repeats}",
                machine=machine, torch=torch.__version__, spikeops=spikeops.__version__, copy_gb_s=copy_gbs)
    write_results(args.out, f"lif_fixed_{args.device}", "Fixed-point LIF op vs the float LIF op", meta,
                  [f"copy bandwidth (`dst.copy_(src)`): {copy_gbs:.1f} GB/s",
                   "minimal traffic: 5 bytes per neuron-step for lif_fixed (int32 in, uint8 spikes out), "
                   "8 for the float op (float32 in, float32 spikes out)"],
                  [("shape [T, N]", "l"), ("case", "l"), ("ISA", "l"), ("ms", "r"), ("GB/s", "r"), ("of copy", "r"),
                   ("neuron-steps/s", "r")],
                  lambda r: [r["shape"], r["case"], r["isa"], f"{r['ms']:.2f}", f"{r['gb_s']:.1f}",
                             f"{r['of_copy']:.2f}", f"{r['neuron_steps_per_s']:.3g}"], rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
