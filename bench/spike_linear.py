"""Linear layers on spikes (CPU): the event-driven kernels against torch's dense GEMM on the
same spikes, and a whole Linear n->n + LIF layer (the Open Neuromorphic benchmark's shape,
batch 16, T steps) trained by spikeops with SpikeLinear, spikeops with nn.Linear,
SpikingJelly, snnTorch and Norse (LIFBoxCell), with the activation memory each saves for the backward pass:
``python bench/spike_linear.py [--repeats N] [--sizes 1024 4096] [--steps 100]``.
Writes bench/results/spike_linear_cpu.{md,json}.

The Linear's input is random 0/1 spikes at the given rate (the rate is the fraction of
active inputs, as the layer before would emit); "saved" counts the bytes of the distinct
tensors autograd keeps for the backward pass (torch.autograd.graph.saved_tensors_hooks)."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import torch
from torch import nn

import spikeops
from spikeops import functional as F
from spikeops.benchmarks.timing import cpu_model, median_time, peak_rss_growth, saved_bytes, write_results
from spikeops.cli import output_dir, positive_int
from spikeops.nn import LIF, SpikeLinear, TimeDistributed

RATES = (0.01, 0.05, 0.1, 0.3, 0.5)
BATCH = 16
# The variant whose input spikes arrive with their bits, as a spikeops LIF before it writes them.
WITH_BITS = "spikeops SpikeLinear, input bits from the neuron kernel"


def layers(n: int):
    """Linear n -> n + LIF (decay 0.9) per library, the same initial weights."""
    torch.manual_seed(0)
    lin = nn.Linear(n, n)
    out = {"spikeops SpikeLinear": nn.Sequential(TimeDistributed(SpikeLinear.from_linear(lin)), LIF(0.9)),
           WITH_BITS: nn.Sequential(TimeDistributed(SpikeLinear.from_linear(lin)), LIF(0.9)),
           "spikeops SpikeLinear, float16 membrane": nn.Sequential(
               TimeDistributed(SpikeLinear.from_linear(lin)), LIF(0.9, saved_membrane=torch.float16)),
           "spikeops nn.Linear": nn.Sequential(TimeDistributed(lin), LIF(0.9))}
    try:
        from spikingjelly.activation_based import functional as sjf, layer, neuron
        sj = nn.Sequential(layer.Linear(n, n), neuron.LIFNode(tau=10.0, decay_input=False, v_reset=None))
        sj[0].load_state_dict(lin.state_dict())
        sjf.set_step_mode(sj, "m")

        def run_sj(x, net=sj, reset=sjf.reset_net):
            reset(net)
            return net(x)
        run_sj.parameters = sj.parameters
        out["SpikingJelly (torch backend)"] = run_sj
    except ImportError:
        pass
    try:
        import snntorch as snn
        leaky = snn.Leaky(beta=0.9)
        sn_lin = nn.Linear(n, n)
        sn_lin.load_state_dict(lin.state_dict())

        def run_snn(x):
            mem = leaky.reset_mem()
            spikes = []
            for cur in sn_lin(x).unbind(0):
                s, mem = leaky(cur, mem)
                spikes.append(s)
            return torch.stack(spikes)
        run_snn.parameters = lambda: list(sn_lin.parameters()) + list(leaky.parameters()) + list(leaky.buffers())
        out["snnTorch"] = run_snn
    except ImportError:
        pass
    try:
        import norse.torch as nt
        from norse.torch.functional.lif_box import LIFBoxParameters
        from norse.torch.functional.reset import reset_subtract
        # LIFBoxCell: v <- v + dt * tau_mem_inv * (x - v); dt 1 ms, tau_mem_inv 100: decay 0.9, input x 0.1,
        # so the input is scaled by 10 (bench/peers.py's mapping).
        cell = nt.LIFBoxCell(LIFBoxParameters(tau_mem_inv=torch.tensor(100.0), reset_method=reset_subtract), dt=1e-3)
        no_lin = nn.Linear(n, n)
        no_lin.load_state_dict(lin.state_dict())

        def run_norse(x):
            state, spikes = None, []
            for cur in no_lin(x).unbind(0):
                s, state = cell(cur * 10.0, state)
                spikes.append(s)
            return torch.stack(spikes)
        run_norse.parameters = no_lin.parameters
        out["Norse"] = run_norse
    except ImportError:
        pass
    return out


def layer_input(steps: int, n: int, rate: float, name: str):
    """The layer's input spikes (requiring grad) and the same values detached; the variant fed
    by a spikeops neuron gets them with their bits attached."""
    x = (torch.rand(steps, BATCH, n) < rate).float().requires_grad_()
    x_values = x.detach()
    if name == WITH_BITS:
        bits = F.pack_spikes(x_values)
        F.attach_packed(x, bits)
        F.attach_packed(x_values, bits)
    return x, x_values


def first_step_peak(name: str, n: int, rate: float, steps: int) -> int:
    """Peak RSS growth of a fresh process's first forward+backward step of one variant (in this
    process: glibc keeps memory freed by earlier steps, which later steps reuse unseen)."""
    layer = layers(n)[name]
    x, _ = layer_input(steps, n, rate, name)
    return peak_rss_growth(lambda: layer(x).sum().backward())


def measured_peak(name: str, n: int, rate: float, steps: int) -> int:
    out = subprocess.run([sys.executable, __file__, "--peak", name, str(n), str(rate), str(steps)], check=True,
                         capture_output=True, text=True).stdout
    return int(out.split()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=positive_int, default=5)
    parser.add_argument("--sizes", type=positive_int, nargs="+", default=[1024, 4096])
    parser.add_argument("--steps", type=positive_int, default=100, help="time steps T of the layer runs")
    parser.add_argument("--out", type=output_dir, default=str(Path(__file__).resolve().parent / "results"))
    parser.add_argument("--peak", nargs=4, metavar=("VARIANT", "N", "RATE", "STEPS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.peak:
        name, n, rate, steps = args.peak
        print(first_step_peak(name, int(n), float(rate), int(steps)))
        return 0
    rows = []
    for n in args.sizes:
        rows_of_x = args.steps * BATCH
        torch.manual_seed(1)
        w, b = torch.randn(n, n) / n ** 0.5, torch.zeros(n)
        g = torch.randn(rows_of_x, n)
        blocks = F.spike_linear_weight_blocks(w)
        # the neuron before the Linear: its spikes packed by a separate pass, or by its kernel
        drive = torch.rand(args.steps, BATCH, n) * 0.3
        lif_ms = median_time(lambda: F.lif(drive, decay=0.9), args.repeats) * 1e3
        pass_ms = median_time(lambda: F.pack_spikes(F.lif(drive, decay=0.9)[0]), args.repeats) * 1e3
        kernel_ms = median_time(lambda: F.lif(drive, decay=0.9, packed=1), args.repeats) * 1e3
        rate = F.lif(drive, decay=0.9)[0].mean().item()
        rows.append(dict(kind="neuron", n=n, rate=rate, lif_ms=lif_ms, pack_pass_ms=pass_ms, kernel_bits_ms=kernel_ms))
        print(f"n {n}: LIF forward {lif_ms:.2f} ms; with its spikes packed: by a pass {pass_ms:.2f} ms, "
              f"in the kernel {kernel_ms:.2f} ms", flush=True)
        for rate in RATES:
            x = (torch.rand(rows_of_x, n) < rate).float()
            packed = F.pack_spikes(x)
            words, row_start = packed.words, packed.row_start
            dense_fwd = median_time(lambda: torch.nn.functional.linear(x, w, b), args.repeats)
            event_fwd = median_time(lambda: F.spike_linear(x, w, b, crossover=1.0), args.repeats)
            frozen_fwd = median_time(lambda: F.spike_linear(x, w, b, crossover=1.0, weight_blocks=blocks),
                                     args.repeats)
            dense_gw = median_time(lambda: g.t() @ x, args.repeats)
            event_gw = median_time(lambda: torch.ops.spikeops.spike_linear_grad_weight(words, row_start, n, g),
                                   args.repeats)
            rows.append(dict(kind="op", n=n, rate=rate, rows=rows_of_x, dense_fwd_ms=dense_fwd * 1e3,
                             event_fwd_ms=event_fwd * 1e3, frozen_fwd_ms=frozen_fwd * 1e3,
                             dense_grad_w_ms=dense_gw * 1e3, event_grad_w_ms=event_gw * 1e3))
            print(f"n {n} rate {rate}: forward {dense_fwd * 1e3:.1f} -> {event_fwd * 1e3:.1f} ms "
                  f"({dense_fwd / event_fwd:.2f}x; frozen weights {frozen_fwd * 1e3:.1f} ms, "
                  f"{dense_fwd / frozen_fwd:.2f}x), weight gradient {dense_gw * 1e3:.1f} -> {event_gw * 1e3:.1f} ms "
                  f"({dense_gw / event_gw:.2f}x)", flush=True)
        for name, layer in layers(n).items():
            for rate in RATES:
                x, x_values = layer_input(args.steps, n, rate, name)

                def step():
                    out = layer(x)
                    out.sum().backward()

                fwd = median_time(lambda: layer(x_values), args.repeats)
                both = median_time(step, args.repeats)
                saved = saved_bytes(lambda: layer(x), list(layer.parameters()))
                peak = measured_peak(name, n, rate, args.steps)
                rows.append(dict(kind="layer", n=n, rate=rate, impl=name, fwd_ms=fwd * 1e3, fwd_bwd_ms=both * 1e3,
                                 saved_bytes_per_neuron_step=saved / (args.steps * BATCH * n), peak_rss_bytes=peak))
                print(f"n {n} rate {rate} {name}: forward {fwd * 1e3:.1f} ms, forward+backward {both * 1e3:.1f} ms, "
                      f"saved {saved / (args.steps * BATCH * n):.2f} B per neuron-step, peak RSS +{peak / 2**20:.0f} MB",
                      flush=True)
    meta = dict(command=" ".join(["python bench/spike_linear.py", *(sys.argv[1:] if argv is None else argv)]),
                machine=f"{cpu_model()}, {torch.get_num_threads()} threads", torch=torch.__version__,
                spikeops=spikeops.__version__, steps=args.steps, batch=BATCH)
    ops = [r for r in rows if r["kind"] in ("neuron", "op")]
    layer_rows = [r for r in rows if r["kind"] == "layer"]
    base = {(r["n"], r["rate"]): r for r in layer_rows if r["impl"] == "spikeops nn.Linear"}

    def cells(r):
        if r["kind"] == "neuron":
            return [f"{r['n']}", f"{r['rate']:.0%}", "LIF alone, its spikes packed: by a pass -> in the kernel",
                    f"{r['lif_ms']:.2f} + {r['pack_pass_ms'] - r['lif_ms']:.2f} -> "
                    f"{r['lif_ms']:.2f} + {r['kernel_bits_ms'] - r['lif_ms']:.2f}", "", "", ""]
        if r["kind"] == "op":
            frozen = (f"; frozen weights {r['frozen_fwd_ms']:.1f} ({r['dense_fwd_ms'] / r['frozen_fwd_ms']:.2f}x)"
                      if "frozen_fwd_ms" in r else "")
            return [f"{r['n']}", f"{r['rate']:.0%}", "Linear alone: dense GEMM -> event-driven",
                    f"{r['dense_fwd_ms']:.1f} -> {r['event_fwd_ms']:.1f} ({r['dense_fwd_ms'] / r['event_fwd_ms']:.2f}x)"
                    + frozen,
                    f"weight gradient {r['dense_grad_w_ms']:.1f} -> {r['event_grad_w_ms']:.1f} "
                    f"({r['dense_grad_w_ms'] / r['event_grad_w_ms']:.2f}x)", "", ""]
        ref = base.get((r["n"], r["rate"]))
        ratio = f" ({ref['fwd_bwd_ms'] / r['fwd_bwd_ms']:.2f}x)" if ref else ""
        return [f"{r['n']}", f"{r['rate']:.0%}", r["impl"], f"{r['fwd_ms']:.1f}", f"{r['fwd_bwd_ms']:.1f}{ratio}",
                f"{r['saved_bytes_per_neuron_step']:.2f}",
                f"{r['peak_rss_bytes'] / 2**20:.0f}" if "peak_rss_bytes" in r else "-"]

    write_results(args.out, "spike_linear_cpu", "Linear layers on spikes (CPU)", meta,
                  [f"LIF alone: forward of [{args.steps}, {BATCH}, n], ms (medians of {args.repeats}), plus packing "
                   "its spikes by spikeops.functional.pack_spikes afterwards or by the kernel itself (lif(packed=1))",
                   f"Linear alone: [{args.steps * BATCH}, n] spikes at the rate, float32, ms (medians of "
                   f"{args.repeats}); the event-driven forward includes packing the spikes and laying the weight "
                   "out, or, with frozen weights (SpikeLinear.freeze_weights), the packing only",
                   f"Linear n -> n + LIF (decay 0.9), [T, B] = [{args.steps}, {BATCH}]: forward and forward+backward "
                   "ms, the ratio against spikeops with nn.Linear, the activation bytes saved for backward per "
                   "neuron-step (Linear input + neuron), and how far the first forward+backward step of a fresh "
                   "process raises its peak RSS (glibc's default allocator)"],
                  [("n", "r"), ("rate", "r"), ("implementation", "l"), ("forward ms", "r"),
                   ("forward+backward ms", "r"), ("saved B / neuron-step", "r"), ("peak RSS MB", "r")], cells,
                  ops + layer_rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
