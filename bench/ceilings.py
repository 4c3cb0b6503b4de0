"""Every CPU kernel family against its two ceilings: ``python bench/ceilings.py [--repeats N]``.

- Compute: one thread, data resident in L2 ([T, N] = [32, 4096]: at most 2 MiB of traffic),
  neuron-steps per second and per cycle at the nominal clock (from /proc/cpuinfo; a VM's
  turbo is not visible, so per-cycle figures are upper bounds), on every ISA.
- Memory: DRAM-sized data ([32, 2^20]), the minimal traffic (each input read once, each
  output written once) per second as a fraction of ``Tensor.copy_`` measured at the same
  thread count, 1 and 2 threads; for the 16-bit LIF rows also the speed-up in neuron-steps per
  second over float32.
- The LIF as users call it: ``F.lif`` under no_grad and forward+backward through autograd,
  both with fresh outputs.

The first LIF rows time the ``_out`` ops (preallocated outputs: the kernel alone); the other
families return fresh outputs (their allocation is in the time). Writes
bench/results/ceilings_cpu.{md,json}.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch

import spikeops
from spikeops import _C
from spikeops import functional as F
from spikeops.benchmarks.timing import copy_bandwidth, cpu_model, median_time, write_results
from spikeops.cli import output_dir, positive_int

OPS = torch.ops.spikeops
CACHE, DRAM = (32, 4096), (32, 2 ** 20)


def nominal_hz() -> float:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                return float(line.split(":")[1]) * 1e6
    except OSError:
        pass
    return float("nan")


def lif_cases(T: int, N: int, dtype):
    """The LIF rows at one dtype: the `_out` kernels, then what users call (fresh outputs, autograd)."""
    b = dtype.itemsize
    x = (torch.randn(T, N) * 0.6 + 0.4).to(dtype)
    g = torch.randn(T, N).to(dtype)
    one = torch.ones((), dtype=torch.float64 if dtype == torch.float64 else torch.float32)
    alpha, gamma, theta = one * 0.9, one, one
    spikes, saved_h, grad_x = (torch.empty(T, N, dtype=dtype) for _ in range(3))
    v = torch.empty(N, dtype=one.dtype)
    no_save = torch.empty(0, dtype=dtype)
    fwd = (x, None, alpha, gamma, theta, 0, 0.0, False)
    name = str(dtype)[6:]
    yield "LIF forward", name, 2 * b, lambda: OPS.lif_forward_out(*fwd, spikes, v, no_save)
    OPS.lif_forward_out(*fwd, spikes, v, saved_h)
    yield "LIF forward, saving h", name, 3 * b, lambda: OPS.lif_forward_out(*fwd, spikes, v, saved_h)
    bwd = (g, saved_h, alpha, gamma, theta, 0, 0.0, False, False, 0, 1.0, 2.0)
    yield "LIF backward", name, 3 * b, lambda: OPS.lif_backward_out(*bwd, grad_x)
    if dtype == torch.float64:
        return

    def no_grad_forward():
        with torch.no_grad():
            F.lif(x, decay=0.9)

    def autograd_forward_backward():
        with torch.enable_grad():
            spikes, _ = F.lif(x.detach().requires_grad_(), decay=0.9)
            spikes.backward(g)

    yield "F.lif under no_grad (fresh outputs)", name, 2 * b, no_grad_forward
    yield "F.lif forward+backward, autograd", name, 6 * b, autograd_forward_backward


def cases(T: int, N: int):
    """(family, dtype, bytes per neuron-step, run) for every kernel family at [T, N]."""
    for dtype in (torch.float32, torch.float16, torch.bfloat16, torch.float64):
        yield from lif_cases(T, N, dtype)
    for dtype in (torch.float32, torch.float64):
        b = dtype.itemsize
        x = (torch.randn(T, N) * 0.6 + 0.4).to(dtype)
        g = torch.randn(T, N).to(dtype)
        name = str(dtype)[6:]
        yield "soft-LIF forward", name, 2 * b, lambda: F.soft_lif(x)
        consts = (0.02, 0.002, 0.02, 1.0, 0.063)
        yield "soft-LIF backward", name, 3 * b, lambda: OPS.soft_lif_backward(g, x, *consts)
        h = 2.0 ** -torch.arange(10, dtype=dtype) * 25
        x10 = x * 10
        yield "FS forward (K = 10)", name, 2 * b, lambda: F.fs_neuron(x10, h, h, h)
    j = torch.rand(T, N) * 4
    yield "sub-step LIF forward", "float32", 8, lambda: F.lif_substep(j)
    a_in = (torch.rand(T, N) * 1200 - 300).to(torch.int32)
    yield "fixed-point LIF forward", "int32", 5, lambda: F.lif_fixed(a_in, du=410, dv=205, vth_mant=2000)


# The compute ceiling of each row's AVX-512 hot loop, from its instruction count ("family|dtype").
ESTIMATES = json.loads((Path(__file__).resolve().parent / "ceiling_estimates.json").read_text())["rows_by_dtype"]


def estimate(family: str, dtype: str):
    """Neuron-steps per cycle the row's hot loops allow, or None: F.lif's rows are the same
    kernels (forward+backward: the forward saving h, then the backward, cycles added)."""
    parts = {"F.lif under no_grad (fresh outputs)": ["LIF forward"],
             "F.lif forward+backward, autograd": ["LIF forward, saving h", "LIF backward"]}.get(family, [family])
    rows = [ESTIMATES.get(f"{part}|{dtype}") for part in parts]
    if not all(rows):
        return None
    return rows[0].get("lanes", 16) / sum(row["cycles_per_vector"] for row in rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=positive_int, default=10)
    parser.add_argument("--out", type=output_dir, default=str(Path(__file__).resolve().parent / "results"))
    parser.add_argument("--render", action="store_true",
                        help="no measuring: rebuild the table from OUT/ceilings_cpu.json (e.g. after the estimates "
                             "change)")
    args = parser.parse_args(argv)
    if args.render:
        stored = json.loads((Path(args.out) / "ceilings_cpu.json").read_text())
        return render(stored["meta"], stored["rows"], args.out)
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    hz = nominal_hz()
    isas = [i for i in ("scalar", "avx2", "avx512") if _C.cpu_isa_supported(i)]
    rows = {}
    with torch.no_grad():  # the autograd rows turn grad mode back on
        torch.set_num_threads(1)
        for isa in isas:
            os.environ["SPIKEOPS_CPU_ISA"] = isa
            for family, dtype, _, run in cases(*CACHE):
                rate = CACHE[0] * CACHE[1] / median_time(run, args.repeats * 10)
                rows.setdefault((family, dtype), dict(family=family, dtype=dtype))[f"cache_{isa}"] = rate
                print(f"L2, 1 thread, {isa:<6} {family:<26} {dtype:<8} {rate / 1e9:6.2f} G neuron-steps/s "
                      f"{rate / hz:5.2f} per cycle", flush=True)
        os.environ.pop("SPIKEOPS_CPU_ISA")
        copies = {}
        for n_threads in sorted({1, threads}):
            torch.set_num_threads(n_threads)
            copies[n_threads] = copy_bandwidth(args.repeats)
            for family, dtype, nbytes, run in cases(*DRAM):
                seconds = median_time(run, args.repeats)
                gbs = DRAM[0] * DRAM[1] * nbytes / seconds / 1e9
                rows[(family, dtype)][f"dram_{n_threads}"] = gbs / copies[n_threads]
                rows[(family, dtype)][f"dram_rate_{n_threads}"] = DRAM[0] * DRAM[1] / seconds
                print(f"DRAM, {n_threads} thread(s) {family:<26} {dtype:<8} {gbs:6.1f} GB/s "
                      f"{gbs / copies[n_threads]:.2f} of copy", flush=True)
        # 16-bit against float32, the LIF `_out` rows at DRAM size on all threads: the dtypes take
        # turns call by call, so a shared machine's drifting speed does not bias the ratio.
        lif = {(family, dtype): run for dtype in (torch.float32, torch.float16, torch.bfloat16)
               for family, _, _, run in list(lif_cases(*DRAM, dtype))[:3]}
        times = {key: [] for key in lif}
        for _ in range(args.repeats * 2):
            for key, run in lif.items():
                times[key].append(median_time(run, 1, warmup=0))
        for (family, dtype), ts in times.items():
            rows[(family, str(dtype)[6:])]["interleaved"] = sorted(ts)[len(ts) // 2]
        torch.set_num_threads(threads)
    meta = dict(command=f"python bench/ceilings.py --repeats {args.repeats}", machine=cpu_model(),
                threads=threads, nominal_ghz=hz / 1e9, isas=isas, torch=torch.__version__,
                spikeops=spikeops.__version__, copy_gb_s={str(k): v for k, v in copies.items()},
                cache_shape=list(CACHE), dram_shape=list(DRAM))
    return render(meta, list(rows.values()), args.out)


def render(meta: dict, rows: list, out) -> int:
    """Writes the results (OUT/ceilings_cpu.json and .md) from the measured rows."""
    hz = meta["nominal_ghz"] * 1e9
    isas = meta["isas"]
    copies = {int(k): v for k, v in meta["copy_gb_s"].items()}
    by_key = {(r["family"], r["dtype"]): r for r in rows}
    best = isas[-1]
    thread_counts = sorted(copies)
    columns = [("kernel", "l"), ("dtype", "l")]
    columns += [(f"L2, 1 thread, {isa}: G steps/s (per cycle)", "r") for isa in isas]
    columns += [("AVX-512 compute ceiling estimate: G steps/s (per cycle)", "r")]
    columns += [(f"DRAM, {n} thread(s): of copy", "r") for n in thread_counts]
    columns += [(f"DRAM, {thread_counts[-1]} thread(s): steps/s vs float32 (interleaved)", "r")]

    def cells(r):
        row = [r["family"], r["dtype"]]
        row += [f"{r[f'cache_{isa}'] / 1e9:.2f} ({r[f'cache_{isa}'] / hz:.2f})" for isa in isas]
        est = estimate(r["family"], r["dtype"])
        row.append(f"{est * hz / 1e9:.2f} ({est:.2f})" if est else "")
        row += [f"{r[f'dram_{n}']:.2f}" for n in thread_counts]
        f32 = by_key.get((r["family"], "float32"), {})
        half = r["dtype"] in ("float16", "bfloat16") and "interleaved" in r
        row.append(f"{f32['interleaved'] / r['interleaved']:.2f}" if half else "")
        return row

    copy_text = ", ".join(f"{n} thread(s) {copies[n]:.1f} GB/s" for n in thread_counts)
    write_results(out, "ceilings_cpu", "CPU kernels against the compute and memory ceilings", meta,
                  [f"L2-resident [T, N] = {meta['cache_shape']}, one thread, neuron-steps per second; per cycle at the "
                   f"nominal {hz / 1e9:.2f} GHz (an upper bound where the VM turbo-boosts)",
                   f"DRAM-sized [T, N] = {meta['dram_shape']}: minimal traffic per second over `copy_` at the same thread "
                   f"count ({copy_text}); ISA {best}",
                   "LIF rows: the `_out` ops into preallocated outputs, then `F.lif` as users call it (fresh "
                   "outputs; forward+backward counts 6 elements per neuron-step: x, spikes, h, grad spikes, h, "
                   "grad x); other families return fresh outputs",
                   "Compute ceiling estimate: cycles per vector (16 lanes, 8 for float64) from the hot loop's "
                   "instruction count (bench/ceiling_estimates.json, bench/NOTES.md: max of 512-bit uops / 2 ports, "
                   "instructions / 4, 10 per vdivps, 16 per vdivpd), at the nominal clock; none for the float64 "
                   "soft-LIF and FS rows (scalar libm calls) or where it was not counted; the F.lif rows run the same kernels (forward+backward: "
                   "the cycles of the forward saving h and of the backward added)",
                   "16-bit rows: the LIF kernels on float16/bfloat16 data with float32 state; the last column is "
                   "their neuron-steps per second over float32's at DRAM size on all threads, the three dtypes "
                   "timed in turns (median of their calls)"],
                  columns, cells, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
