"""CPU benchmark of the fused LIF op: ``python -m spikeops bench`` (also bench/lif_cpu.py).

Bandwidth figures divide the minimal traffic (each input read once, each output
written once) by the time; the ceiling is ``Tensor.copy_`` into an existing
tensor, measured in the same run. Speeds are medians of repeated runs.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from spikeops import functional as F
from spikeops import reference as R

from .timing import copy_bandwidth, cpu_model, median_time

_OPS = torch.ops.spikeops
SHAPES = [(8, 2**20), (32, 2**20), (128, 2**20), (32, 64 * 8192)]
QUICK_SHAPES = [(8, 2**16), (32, 2**16)]
# Calls whose fixed cost shows: one step of a step-by-step loop, and a layer of a
# typical tutorial network (T 25, batch 128, 100 neurons).
SMALL_SHAPES = [(1, 1024), (25, 128 * 100)]
LIF_KW = dict(decay=0.9, threshold=1.0, surrogate="atan")


def _forward_backward(x, g):
    xr = x.detach().requires_grad_()
    s, _ = F.lif(xr, **LIF_KW)
    s.backward(g)
    return xr.grad


def _reference_forward_backward(x, g, index_time=False):
    xr = x.detach().requires_grad_()
    s, _ = R.lif(xr, index_time=index_time, **LIF_KW)
    s.backward(g)
    return xr.grad


def _same_traffic_forward_backward(x, g):
    # Forward: one read, two fresh outputs of 4 bytes (as spikes + saved membrane);
    # backward: two reads, one fresh output (as grad x).
    mantissa, exponent = torch.frexp(x)
    return g * mantissa


def _three_elementwise_ops(x, g):
    # Three fresh outputs from the cheapest element-wise kernels (reads x twice: 12 B more traffic).
    y = x * 2
    z = x + 1
    return g * y, z


def bench_shape(T: int, N: int, repeats: int, ref_repeats: int, copy_gbs: float, with_compile: bool):
    x = torch.randn(T, N) * 0.6 + 0.4
    g = torch.randn(T, N)
    alpha, gamma, theta = torch.tensor(0.9), torch.tensor(1.0), torch.tensor(1.0)
    tn = T * N
    rows = []

    def row(name, seconds, traffic_bytes=None, baseline=None, baseline_name=None):
        r = {"shape": f"[{T}, {N}]", "case": name, "ms": seconds * 1e3}
        if traffic_bytes is not None:
            gbs = traffic_bytes / seconds / 1e9
            r.update(gb_s=gbs, of_copy=gbs / copy_gbs)
        if baseline is not None:
            r.update(baseline=baseline_name, baseline_ms=baseline * 1e3, vs_baseline=baseline / seconds)
        rows.append(r)
        return r

    # Kernels into preallocated outputs.
    spikes, v, saved_h, grad_x = (torch.empty(T, N), torch.empty(N), torch.empty(T, N), torch.empty(T, N))
    no_save = torch.empty(0)
    fwd_args = (x, None, alpha, gamma, theta, 0, 0.0, False)
    bwd_args = (g, saved_h, alpha, gamma, theta, 0, 0.0, False, False, 0, 1.0, 2.0)
    t = median_time(lambda: _OPS.lif_forward_out(*fwd_args, spikes, v, no_save), repeats)
    row("forward kernel, no grad (preallocated)", t, 8 * tn)
    t = median_time(lambda: _OPS.lif_forward_out(*fwd_args, spikes, v, saved_h), repeats)
    row("forward kernel, saving h (preallocated)", t, 12 * tn)
    t = median_time(lambda: _OPS.lif_backward_out(*bwd_args, grad_x), repeats)
    row("backward kernel (preallocated)", t, 12 * tn)

    # What a user sees: fresh outputs, autograd.
    with torch.no_grad():
        t_x2 = median_time(lambda: x * 2, repeats)
        t = median_time(lambda: F.lif(x, **LIF_KW), repeats)
    row("forward, no grad (F.lif)", t, 8 * tn, t_x2, "x * 2")
    t_same = median_time(lambda: _same_traffic_forward_backward(x, g), repeats)
    t_three = median_time(lambda: _three_elementwise_ops(x, g), repeats)
    t_ours = median_time(lambda: _forward_backward(x, g), repeats)
    row("forward+backward (F.lif + autograd)", t_ours, 24 * tn, t_same, "frexp(x); g * mantissa")
    row("forward+backward (F.lif + autograd)", t_ours, 24 * tn, t_three, "x * 2; x + 1; g * y (more traffic)")

    t = median_time(lambda: _reference_forward_backward(x, g), ref_repeats, warmup=0)
    row("reference eager (unbind), forward+backward", t, None, t_ours, "spikeops")["speedup_of_spikeops"] = t / t_ours
    if T <= 32:
        t = median_time(lambda: _reference_forward_backward(x, g, index_time=True), ref_repeats, warmup=0)
        row("reference eager (x[t]), forward+backward", t, None, t_ours, "spikeops")["speedup_of_spikeops"] = (
            t / t_ours)
    if with_compile and T <= 32:
        compiled = torch.compile(lambda xr: R.lif(xr, **LIF_KW)[0])

        def run_compiled():
            xr = x.detach().requires_grad_()
            compiled(xr).backward(g)

        t = median_time(run_compiled, ref_repeats, warmup=1)
        row("torch.compile(reference), forward+backward", t, None, t_ours, "spikeops")["speedup_of_spikeops"] = (
            t / t_ours)
    for r in rows:
        if "speedup_of_spikeops" in r:  # the baseline column of these rows is spikeops itself
            r.pop("vs_baseline")
    return rows


def bench_small_calls(T: int, N: int, repeats: int):
    """Microseconds per call where the call's fixed cost matters, against the cheapest
    torch ops with fresh outputs."""
    x = torch.randn(T, N) * 0.6 + 0.4
    g = torch.randn(T, N)
    state = F.LIFState(torch.zeros(N))
    rows = []

    def row(name, seconds, baseline, baseline_name):
        rows.append({"shape": f"[{T}, {N}]", "case": name, "us": seconds * 1e6, "baseline": baseline_name,
                     "baseline_us": baseline * 1e6, "vs_baseline": baseline / seconds})

    with torch.no_grad():
        t_x2 = median_time(lambda: x * 2, repeats)
        row("forward, no grad (F.lif)", median_time(lambda: F.lif(x, **LIF_KW), repeats), t_x2, "x * 2")
        row("forward, no grad, with state (F.lif)", median_time(lambda: F.lif(x, state, **LIF_KW), repeats),
            t_x2, "x * 2")
    t_three = median_time(lambda: _three_elementwise_ops(x, g), repeats)
    row("forward+backward (F.lif + autograd)", median_time(lambda: _forward_backward(x, g), repeats), t_three,
        "x * 2; x + 1; g * y")
    return rows


def _thp_probe(repeats: int) -> dict:
    """Fresh-output timings at [32, 2^20] in a child process with THP_MEM_ALLOC_ENABLE=1."""
    code = "\n".join([
        "import json, torch, spikeops.benchmarks.cpu as b",
        "x = torch.randn(32, 2**20) * 0.6 + 0.4",
        "g = torch.randn(32, 2**20)",
        f"r = {repeats}",
        "out = {}",
        "with torch.no_grad():",
        "    out['forward, no grad: x * 2'] = b.median_time(lambda: x * 2, r) * 1e3",
        "    out['forward, no grad: F.lif'] = b.median_time(lambda: b.F.lif(x, **b.LIF_KW), r) * 1e3",
        "out['forward+backward: x * 2; x + 1; g * y'] = b.median_time(lambda: b._three_elementwise_ops(x, g), r) * 1e3",
        "out['forward+backward: F.lif + autograd'] = b.median_time(lambda: b._forward_backward(x, g), r) * 1e3",
        "print(json.dumps(out))",
    ])
    env = dict(os.environ, THP_MEM_ALLOC_ENABLE="1")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if res.returncode != 0:
        return {"error": res.stderr[-500:]}
    return json.loads(res.stdout.strip().splitlines()[-1])


def _markdown(meta, rows, small, thp) -> str:
    lines = [
        "# spikeops CPU benchmark", "",
        f"- command: `{meta['command']}`",
        f"- machine: {meta['cpu']}, {meta['threads']} threads, ISA {meta['isa']}",
        f"- torch {meta['torch']}, spikeops {meta['spikeops']}, float32",
        f"- copy bandwidth (`dst.copy_(src)`, 256 MiB): {meta['copy_gb_s']:.1f} GB/s", "",
        "| shape [T, N] | case | ms | GB/s | of copy | baseline | baseline ms | speed vs baseline |",
        "|---|---|---:|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        gbs = f"{r['gb_s']:.1f}" if "gb_s" in r else ""
        of_copy = f"{r['of_copy']:.2f}" if "of_copy" in r else ""
        base = r.get("baseline", "")
        base_ms = f"{r['baseline_ms']:.1f}" if "baseline_ms" in r else ""
        if "speedup_of_spikeops" in r:
            ratio = f"spikeops {r['speedup_of_spikeops']:.1f}x faster"
        elif "vs_baseline" in r:
            ratio = f"{r['vs_baseline']:.2f} (baseline time / ours)"
        else:
            ratio = ""
        lines.append(f"| {r['shape']} | {r['case']} | {r['ms']:.1f} | {gbs} | {of_copy} | {base} | {base_ms} | {ratio} |")
    if small:
        lines += ["", "Small calls, where the fixed cost per call shows (1 thread):", "",
                  "| shape [T, N] | case | us | baseline | baseline us | speed vs baseline |", "|---|---|---:|---|---:|---:|"]
        lines += [f"| {r['shape']} | {r['case']} | {r['us']:.1f} | {r['baseline']} | {r['baseline_us']:.1f} | "
                  f"{r['vs_baseline']:.2f} (baseline time / ours) |" for r in small]
    if thp:
        lines += ["", "With `THP_MEM_ALLOC_ENABLE=1` (torch allocates large tensors on transparent huge pages), "
                  "[32, 2^20], fresh outputs:", "", "| case | ms |", "|---|---:|"]
        lines += [f"| {k} | {v:.1f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in thp.items()]
    lines.append("")
    return "\n".join(lines)


def main(args) -> int:
    import spikeops

    quick = getattr(args, "quick", False)
    repeats = args.repeats or (3 if quick else 15)
    ref_repeats = 1 if quick else 3
    shapes = QUICK_SHAPES if quick else SHAPES
    torch.manual_seed(0)
    meta = {
        "command": "python -m spikeops bench" + (" --quick" if quick else ""),
        "cpu": cpu_model(), "threads": torch.get_num_threads(), "isa": spikeops.cpu_isa(),
        "torch": torch.__version__, "spikeops": spikeops.__version__,
    }
    meta["copy_gb_s"] = copy_bandwidth(repeats)
    print(f"{meta['cpu']} | {meta['threads']} threads | ISA {meta['isa']} | torch {meta['torch']}")
    print(f"copy_ bandwidth: {meta['copy_gb_s']:.1f} GB/s")
    rows = []
    for T, N in shapes:
        for r in bench_shape(T, N, repeats, ref_repeats, meta["copy_gb_s"], with_compile=not quick):
            rows.append(r)
            extra = ""
            if "of_copy" in r:
                extra += f"  {r['gb_s']:6.1f} GB/s  {r['of_copy']:.2f} of copy"
            if "vs_baseline" in r:
                extra += f"  {r['baseline']}: {r['baseline_ms']:.1f} ms ({r['vs_baseline']:.2f})"
            if "speedup_of_spikeops" in r:
                extra += f"  spikeops {r['speedup_of_spikeops']:.1f}x faster"
            print(f"{r['shape']:>16} {r['case']:<46} {r['ms']:9.2f} ms{extra}", flush=True)
    small = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for T, N in SMALL_SHAPES:
            small += bench_small_calls(T, N, max(repeats, 200))
    finally:
        torch.set_num_threads(threads)
    for r in small:
        print(f"{r['shape']:>16} {r['case']:<46} {r['us']:9.1f} us  {r['baseline']}: {r['baseline_us']:.1f} us "
              f"({r['vs_baseline']:.2f})", flush=True)
    thp = {} if quick else _thp_probe(repeats)
    if thp:
        print("THP_MEM_ALLOC_ENABLE=1:", json.dumps(thp))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "lif_cpu_quick" if quick else "lif_cpu"
    (out / f"{name}.json").write_text(json.dumps({"meta": meta, "rows": rows, "small_calls": small, "thp": thp},
                                                   indent=2))
    (out / f"{name}.md").write_text(_markdown(meta, rows, small, thp))
    print(f"wrote {out / (name + '.md')} and .json")
    return 0
