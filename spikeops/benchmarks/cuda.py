"""GPU benchmark of the fused LIF op: ``python -m spikeops bench --device cuda`` (also bench/lif_cuda.py).

Every timed run starts with a cold L2 (a 256 MiB buffer is overwritten first) and is
timed with CUDA events; figures are medians. Bandwidth divides the minimal traffic
(each input read once, each output written once) by the time; the ceiling is
``Tensor.copy_`` between two 1 GiB buffers, measured in the same run. SpikingJelly's
LIFNode (multi-step, each GPU backend it offers) runs on the same shapes and dynamics
when it is installed.
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path

import torch

from spikeops import functional as F
from spikeops import reference as R

SHAPES = [((T, 64, 65536), dt) for T in (4, 16, 32) for dt in (torch.float16, torch.bfloat16, torch.float32)]
SHAPES += [((T, 2**20), torch.float32) for T in (8, 32, 128)]
QUICK_SHAPES = [((8, 4, 65536), torch.float16), ((8, 2**18), torch.float32)]
TAU = 2.0
LIF_KW = dict(tau=TAU, threshold=1.0, surrogate="atan")
_OPS = torch.ops.spikeops


class Timer:
    def __init__(self, repeats: int):
        self.repeats = repeats
        self.flush = torch.empty(64 * 2**20, dtype=torch.float32, device="cuda")

    def __call__(self, fn, repeats=None) -> float:
        """Median seconds of fn() over cold-L2 runs."""
        fn()  # warm-up (allocator, lazy init)
        times = []
        for _ in range(repeats or self.repeats):
            self.flush.zero_()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
        return statistics.median(times)


def copy_bandwidth(timer: Timer) -> float:
    src = torch.rand(2**28, device="cuda")
    dst = torch.empty_like(src)
    t = timer(lambda: dst.copy_(src))
    return 2 * 2**28 * 4 / t / 1e9


def peak_bytes(fn) -> int:
    """Peak memory fn allocates beyond what is already allocated."""
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fn()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - base


def spikingjelly_nodes():
    """SpikingJelly multi-step LIF nodes with the same dynamics, one per GPU backend it offers."""
    try:
        from spikingjelly.activation_based import neuron, surrogate
    except ImportError:
        return {}
    nodes = {}
    probe = neuron.LIFNode(step_mode="m")
    for backend in probe.supported_backends:
        try:
            # decay_input=False, v_reset=None: h = (1 - 1/tau) v + x, subtract reset, as spikeops' defaults.
            node = neuron.LIFNode(tau=TAU, decay_input=False, v_threshold=1.0, v_reset=None,
                                  surrogate_function=surrogate.ATan(), step_mode="m", backend=backend).cuda()
            nodes[backend] = node
        except Exception as e:  # a backend whose dependency (cupy, triton) is missing
            print(f"spikingjelly backend {backend} unavailable: {e}")
    return nodes


def bench_shape(shape, dtype, timer: Timer, copy_gbs: float, sj_nodes, with_reference: bool):
    x = (torch.randn(shape, device="cuda") * 0.6 + 0.4).to(dtype)
    g = torch.randn(shape, device="cuda").to(dtype)
    steps = x.numel()
    e = x.element_size()
    rows = []
    label = f"[{', '.join(map(str, shape))}] {str(dtype).replace('torch.', '')}"

    def row(case, seconds, traffic=None, peak=None, **extra):
        r = {"shape": label, "case": case, "ms": seconds * 1e3, **extra}
        if traffic is not None:
            r["gb_s"] = traffic / seconds / 1e9
            r["of_copy"] = r["gb_s"] / copy_gbs
        if peak is not None:
            r["peak_bytes_per_step"] = peak / steps
        rows.append(r)
        return r

    def forward_backward():
        xr = x.detach().requires_grad_()
        s, _ = F.lif(xr, **LIF_KW)
        s.backward(g)

    with torch.no_grad():
        t = timer(lambda: F.lif(x, **LIF_KW))
        row("spikeops forward (no grad)", t, 2 * e * steps, peak_bytes(lambda: F.lif(x, **LIF_KW)))
    alpha, gamma, theta = torch.tensor(1 - 1 / TAU), torch.tensor(1.0), torch.tensor(1.0)
    fwd = _OPS.lif_forward(x, None, None, None, alpha, gamma, theta, 0, 0.0, 0, False, False, 0, 1.0, 2.0, False,
                           1000, False, True)
    saved_h = fwd[5]
    t = timer(lambda: _OPS.lif_forward(x, None, None, None, alpha, gamma, theta, 0, 0.0, 0, False, False, 0, 1.0,
                                       2.0, False, 1000, False, True))
    row("spikeops forward saving h", t, 3 * e * steps)
    t = timer(lambda: _OPS.lif_backward(g, None, saved_h, saved_h.new_empty(0, dtype=torch.int16), None, None, None,
                                        alpha, gamma, theta, 0, 0.0, 0, False, False, 0, 1.0, 2.0, 1000, False,
                                        False, False, False))
    row("spikeops backward", t, 3 * e * steps)
    t_ours = timer(forward_backward)
    row("spikeops forward+backward (autograd)", t_ours, 6 * e * steps, peak_bytes(forward_backward))

    for backend, node in sj_nodes.items():
        def sj_forward_backward(node=node):
            node.reset()
            xr = x.detach().requires_grad_()
            node(xr).backward(g)

        def sj_forward(node=node):
            node.reset()
            with torch.no_grad():
                node(x)

        try:
            t = timer(sj_forward)
            row(f"SpikingJelly LIFNode[{backend}] forward (no grad)", t, 2 * e * steps, None,
                spikeops_speedup=t / rows[0]["ms"] * 1e3)
            t = timer(sj_forward_backward)
            row(f"SpikingJelly LIFNode[{backend}] forward+backward", t, 6 * e * steps, peak_bytes(sj_forward_backward),
                spikeops_speedup=t / t_ours)
        except Exception as err:  # e.g. a backend without this dtype
            rows.append({"shape": label, "case": f"SpikingJelly LIFNode[{backend}]", "error": str(err)[:200]})

    if with_reference:
        def ref_forward_backward():
            xr = x.detach().requires_grad_()
            s, _ = R.lif(xr, **LIF_KW)
            s.backward(g)

        t = timer(ref_forward_backward, repeats=3)
        row("reference eager, forward+backward", t, None, peak_bytes(ref_forward_backward),
            spikeops_speedup=t / t_ours)
    return rows


def _markdown(meta, rows) -> str:
    lines = [
        "# spikeops CUDA benchmark", "",
        f"- command: `{meta['command']}`",
        f"- GPU: {meta['gpu']}; torch {meta['torch']} (CUDA {meta['cuda']}); spikeops {meta['spikeops']}; "
        f"SpikingJelly {meta['spikingjelly']}",
        f"- copy bandwidth (`dst.copy_(src)`, 1 GiB): {meta['copy_gb_s']:.0f} GB/s; cold L2 for every run; medians",
        "- minimal traffic per neuron-step, e = element size: forward 2e (x, spikes), forward saving h 3e, "
        "backward 3e (grad spikes, h, grad x), forward+backward 6e", "",
        "| shape, dtype | case | ms | GB/s | of copy | peak B / neuron-step | spikeops speed-up |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['shape']} | {r['case']} | error: {r['error']} | | | | |")
            continue
        cells = [f"{r['gb_s']:.0f}" if "gb_s" in r else "", f"{r['of_copy']:.2f}" if "of_copy" in r else "",
                 f"{r['peak_bytes_per_step']:.1f}" if "peak_bytes_per_step" in r else "",
                 f"{r['spikeops_speedup']:.2f}x" if "spikeops_speedup" in r else ""]
        lines.append(f"| {r['shape']} | {r['case']} | {r['ms']:.3f} | " + " | ".join(cells) + " |")
    lines.append("")
    return "\n".join(lines)


def main(args) -> int:
    import spikeops

    if not torch.cuda.is_available():
        print("no CUDA GPU visible to torch: the CUDA benchmark needs one")
        return 1
    if not spikeops.cuda_built:
        print("spikeops was built without CUDA kernels (reinstall with a CUDA torch and nvcc)")
        return 1
    quick = getattr(args, "quick", False)
    timer = Timer(args.repeats or (3 if quick else 20))
    try:
        import spikingjelly
        sj_version = getattr(spikingjelly, "__version__", "installed")
    except ImportError:
        sj_version = "not installed"
    torch.manual_seed(0)
    meta = {
        "command": "python -m spikeops bench --device cuda" + (" --quick" if quick else ""),
        "gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "cuda": torch.version.cuda,
        "spikeops": spikeops.__version__, "spikingjelly": sj_version,
    }
    meta["copy_gb_s"] = copy_bandwidth(timer)
    print(f"{meta['gpu']} | torch {meta['torch']} | copy_ {meta['copy_gb_s']:.0f} GB/s | SpikingJelly {sj_version}")
    sj_nodes = spikingjelly_nodes()
    rows = []
    for i, (shape, dtype) in enumerate(QUICK_SHAPES if quick else SHAPES):
        for r in bench_shape(shape, dtype, timer, meta["copy_gb_s"], sj_nodes, with_reference=quick or i % 3 == 0):
            rows.append(r)
            if "error" in r:
                print(f"{r['shape']:>28} {r['case']:<48} error: {r['error']}")
                continue
            extra = f"  {r['gb_s']:6.0f} GB/s {r['of_copy']:.2f} of copy" if "gb_s" in r else ""
            if "peak_bytes_per_step" in r:
                extra += f"  peak {r['peak_bytes_per_step']:.1f} B/step"
            if "spikeops_speedup" in r:
                extra += f"  spikeops {r['spikeops_speedup']:.2f}x"
            print(f"{r['shape']:>28} {r['case']:<48} {r['ms']:9.3f} ms{extra}", flush=True)
        torch.cuda.empty_cache()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "lif_cuda_quick" if quick else "lif_cuda"
    (out / f"{name}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    (out / f"{name}.md").write_text(_markdown(meta, rows))
    print(f"wrote {out / (name + '.md')} and .json")
    return 0
