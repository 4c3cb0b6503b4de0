"""Peer benchmark: ``python -m spikeops bench --peers [--device cuda]`` (also bench/peers.py).

spikeops against the libraries users would pick instead, in one run, on the same inputs and
the same dynamics: LIF with decay 0.9, threshold 1, subtract reset, from rest:

- snnTorch ``Leaky(beta=0.9)`` stepped over T in Python (its usage pattern);
- SpikingJelly ``LIFNode(tau=10, decay_input=False, v_reset=None)``, multi-step, whatever
  backend it picks for the device;
- Norse ``LIFBoxCell`` (dt 1 ms, tau_mem_inv 100, subtract reset) stepped over T, input
  times 10 (its input is scaled by dt / tau);
- Sinabs ``LIF(tau_mem=-1/ln 0.9, norm_input=False, spike_fn=SingleSpike)``, batch-first.

Rows: LIF alone on [32, 64, 8192] and [32, 2^20], forward (no grad) and forward+backward; the
end-to-end shape, Linear(1024 -> 1024) + LIF with B = 16, T = 100 on CPU (Linear(4096 ->
4096), T = 500 on GPU), forward+backward. Times are medians; "saved" is the memory autograd
keeps for the backward (CPU: bytes of the distinct storages saved, via saved-tensor hooks;
GPU: peak allocated during the step); "rate" the mean spike rate, which must agree.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import nn

import spikeops
from spikeops import functional as F
from .timing import cpu_model, median_time, saved_bytes

DECAY = 0.9


def _spikeops(x):
    return F.lif(x, decay=DECAY, threshold=1.0, reset="subtract", surrogate="atan")[0]


def _stepped(step):
    """A library's single-step neuron run over T in Python, its users' loop:
    ``step(x_t, state) -> (spikes_t, state)``, starting from ``state=None``."""
    def run(x):
        state, out = None, []
        for t in range(x.shape[0]):
            s, state = step(x[t], state)
            out.append(s)
        return torch.stack(out)
    return run


def _make_peers(device):
    """name -> callable(x [T, ...]) -> spikes [T, ...]; libraries that fail to import are left out."""
    peers = {"spikeops": _spikeops}
    try:
        import snntorch as snn

        leaky = snn.Leaky(beta=DECAY).to(device)

        peers["snnTorch"] = _stepped(lambda x, mem: leaky(x, leaky.init_leaky() if mem is None else mem))
    except ImportError:
        pass
    try:
        from spikingjelly.activation_based import functional as sjf
        from spikingjelly.activation_based import neuron

        node = neuron.LIFNode(tau=1 / (1 - DECAY), decay_input=False, v_reset=None, step_mode="m").to(device)

        def run_sj(x):
            sjf.reset_net(node)
            return node(x)

        peers["SpikingJelly"] = run_sj
    except ImportError:
        pass
    try:
        import norse.torch as nt
        from norse.torch.functional.lif_box import LIFBoxParameters
        from norse.torch.functional.reset import reset_subtract

        cell = nt.LIFBoxCell(LIFBoxParameters(tau_mem_inv=torch.tensor(100.0), reset_method=reset_subtract), dt=1e-3)

        peers["Norse"] = _stepped(lambda x, state: cell(x * 10.0, state))
    except ImportError:
        pass
    try:
        import sinabs.activation as sa
        import sinabs.layers as sl

        lif = sl.LIF(tau_mem=-1 / math.log(DECAY), norm_input=False, spike_fn=sa.SingleSpike).to(device)

        def run_sinabs(x):
            lif.reset_states()
            flat = x.reshape(x.shape[0], -1, x.shape[-1]) if x.dim() > 2 else x.unsqueeze(1)
            return lif(flat.transpose(0, 1)).transpose(0, 1).reshape(x.shape)

        peers["Sinabs"] = run_sinabs
    except ImportError:
        pass
    return peers


def main(args) -> int:
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    repeats = args.repeats or (5 if device.type == "cpu" else 20)
    quick = getattr(args, "quick", False)
    torch.manual_seed(0)
    peers = _make_peers(device)
    big = (4096, 500) if device.type == "cuda" else (1024, 100)
    shapes = [(4, 8, 1024)] if quick else [(32, 64, 8192), (32, 2 ** 20)]
    rows = []

    def record(case, name, seconds, saved, rate):
        rows.append(dict(case=case, library=name, ms=seconds * 1e3, saved_mib=saved / 2 ** 20 if saved else None,
                         spike_rate=rate))
        extra = f"  saved {saved / 2 ** 20:8.1f} MiB" if saved else ""
        print(f"{case:<46} {name:<13} {seconds * 1e3:10.2f} ms  rate {rate:.4f}{extra}", flush=True)

    for shape in shapes:
        x = (torch.randn(*shape, device=device) * 0.6 + 0.25)
        g = torch.randn_like(x)
        for name, run in peers.items():
            with torch.no_grad():
                rate = run(x).float().mean().item()
                record(f"LIF {list(shape)}, forward", name, median_time(lambda: run(x), repeats, sync=sync), None, rate)

            def step():
                xr = x.detach().requires_grad_()
                run(xr).backward(g)

            saved = saved_bytes(lambda: run(x.detach().requires_grad_())) if device.type == "cpu" else None
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
                base = torch.cuda.memory_allocated()
                step()
                saved = torch.cuda.max_memory_allocated() - base
            record(f"LIF {list(shape)}, forward+backward", name, median_time(step, repeats, sync=sync), saved, rate)
    width, T = (64, 8) if quick else big
    torch.manual_seed(1)
    lin = nn.Linear(width, width).to(device)
    xs = torch.rand(T, 16, width, device=device)
    case = f"Linear({width}->{width}) + LIF, B=16, T={T}, forward+backward"
    for name, run in peers.items():
        def e2e():
            lin.zero_grad(set_to_none=True)
            run(lin(xs)).sum().backward()

        with torch.no_grad():
            rate = run(lin(xs)).float().mean().item()
        saved = saved_bytes(lambda: run(lin(xs))) if device.type == "cpu" else None
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            e2e()
            saved = torch.cuda.max_memory_allocated() - base
        record(case, name, median_time(e2e, max(3, repeats // 2), sync=sync), saved, rate)

    # speed-up of spikeops per case
    ours = {r["case"]: r["ms"] for r in rows if r["library"] == "spikeops"}
    for r in rows:
        r["spikeops_speedup"] = r["ms"] / ours[r["case"]]
    versions = {}
    for mod in ("snntorch", "spikingjelly", "norse", "sinabs"):
        try:
            from importlib.metadata import version
            versions[mod] = version(mod)
        except Exception:
            pass
    machine = (torch.cuda.get_device_name() if device.type == "cuda"
               else f"{cpu_model()}, {torch.get_num_threads()} threads")
    command = f"python -m spikeops bench --peers --device {args.device}" + (" --quick" if quick else "")
    meta = dict(command=command, machine=machine, torch=torch.__version__, spikeops=spikeops.__version__,
                peers=versions, repeats=repeats)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = f"peers-{args.device}" + ("-quick" if quick else "")
    (out / f"{name}.json").write_text(json.dumps(dict(meta=meta, rows=rows), indent=2))
    (out / f"{name}.md").write_text(markdown(meta, rows))
    print(f"wrote {out / name}.md and .json")
    return 0


def markdown(meta, rows) -> str:
    lines = ["# spikeops vs peer SNN libraries", "", f"- command: `{meta['command']}`",
             f"- machine: {meta['machine']}; torch {meta['torch']}, spikeops {meta['spikeops']}; "
             + ", ".join(f"{k} {v}" for k, v in meta["peers"].items()),
             "- the same dynamics everywhere (decay 0.9, threshold 1, subtract reset); medians of "
             f"{meta['repeats']} runs; 'saved' is the memory kept for the backward", "",
             "| case | library | ms | spikeops faster by | saved MiB | spike rate |", "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        speed = "" if r["library"] == "spikeops" else f"{r['spikeops_speedup']:.1f}x"
        saved = f"{r['saved_mib']:.1f}" if r["saved_mib"] is not None else ""
        lines.append(f"| {r['case']} | {r['library']} | {r['ms']:.1f} | {speed} | {saved} | {r['spike_rate']:.4f} |")
    return "\n".join(lines) + "\n"
