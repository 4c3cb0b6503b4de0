"""Convolutions on spikes (CPU): the event-driven forward pass and weight gradient of
``spikeops.functional.spike_conv2d`` against torch's dense convolution on the same 0/1 spikes,
and a whole layer's forward + backward (SpikeConv2d against nn.Conv2d), at several spike
rates, for the second convolution of two tutorial networks:
``python bench/spike_conv.py [--repeats N] [--images N]``.
Writes bench/results/spike_conv_cpu.{md,json}; SPIKE_CONV_CROSSOVER comes from it."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import nn

import spikeops
from spikeops import functional as F
from spikeops.benchmarks.timing import cpu_model, median_time, write_results
from spikeops.cli import output_dir, positive_int
from spikeops.nn import SpikeConv2d

RATES = (0.01, 0.05, 0.1, 0.2, 0.3)
# (name, C, H, W, C_out, kernel, padding)
SHAPES = (("snnTorch tutorial 6, conv 2", 12, 12, 12, 64, 5, 0),
          ("SpikingJelly CSNN (64 ch), conv 2", 64, 14, 14, 64, 3, 1))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=positive_int, default=5)
    parser.add_argument("--images", type=positive_int, default=800, help="images per call (T x batch)")
    parser.add_argument("--out", type=output_dir, default=str(Path(__file__).resolve().parent / "results"))
    args = parser.parse_args(argv)
    rows = []
    for name, c, h, w, c_out, k, pad in SHAPES:
        torch.manual_seed(1)
        conv = nn.Conv2d(c, c_out, k, padding=pad)
        layer = SpikeConv2d.from_conv(conv)
        for rate in RATES:
            x = (torch.rand(args.images, c, h, w) < rate).float()
            y = conv(x)
            g = torch.randn_like(y)
            p = F.pack_spikes(x, neuron_dims=3)
            weight_only = [False, True, False]
            r = dict(shape=name, rate=rate)
            r["dense_fwd_ms"] = 1e3 * median_time(lambda: conv(x.detach()), args.repeats)
            r["event_fwd_ms"] = 1e3 * median_time(lambda: F.spike_conv2d(x, conv.weight, conv.bias, padding=pad,
                                                                         crossover=1.0), args.repeats)
            r["dense_grad_w_ms"] = 1e3 * median_time(lambda: torch.ops.aten.convolution_backward(
                g, x, conv.weight, None, [1, 1], [pad, pad], [1, 1], False, [0, 0], 1, weight_only), args.repeats)
            r["event_grad_w_ms"] = 1e3 * median_time(lambda: torch.ops.spikeops.spike_conv2d_grad_weight(
                p.words, p.row_start, [c, h, w], g, [k, k], [1, 1], [pad, pad], [1, 1]), args.repeats)
            xg = x.clone().requires_grad_()
            for impl, module in (("nn.Conv2d", conv), ("SpikeConv2d", layer)):
                r[f"{impl}_ms"] = 1e3 * median_time(lambda: module(xg).backward(g), args.repeats)
            rows.append(r)
            print(f"{name} {rate:.0%}: forward {r['dense_fwd_ms']:.1f} -> {r['event_fwd_ms']:.1f} ms, weight gradient "
                  f"{r['dense_grad_w_ms']:.1f} -> {r['event_grad_w_ms']:.1f} ms, layer fwd+bwd {r['nn.Conv2d_ms']:.1f} "
                  f"-> {r['SpikeConv2d_ms']:.1f} ms", flush=True)
    meta = dict(command=" ".join(["python bench/spike_conv.py", *(sys.argv[1:] if argv is None else argv)]),
                machine=f"{cpu_model()}, {torch.get_num_threads()} threads", torch=torch.__version__,
                spikeops=spikeops.__version__, images=args.images, crossover=F.SPIKE_CONV_CROSSOVER)

    def ratio(a, b):
        return f"{a:.1f} -> {b:.1f} ({a / b:.2f}x)"

    write_results(args.out, "spike_conv_cpu", "Convolutions on spikes (CPU)", meta,
                  [f"{args.images} images of random 0/1 spikes at the rate; float32; median of {args.repeats}",
                   "forward and weight gradient: torch's dense convolution -> spikeops' event-driven kernels "
                   "(ms, speedup); layer: nn.Conv2d -> SpikeConv2d forward + backward at the default crossover "
                   f"({F.SPIKE_CONV_CROSSOVER:.0%}: event-driven at or below it)"],
                  [("layer", "l"), ("rate", "r"), ("forward ms", "r"), ("weight gradient ms", "r"),
                   ("layer fwd+bwd ms", "r")],
                  lambda r: [r["shape"], f"{r['rate']:.0%}", ratio(r["dense_fwd_ms"], r["event_fwd_ms"]),
                             ratio(r["dense_grad_w_ms"], r["event_grad_w_ms"]),
                             ratio(r["nn.Conv2d_ms"], r["SpikeConv2d_ms"])], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
