"""One full training step of two tutorial convolutional networks on MNIST-shaped batches, each
peer on its own fastest CPU backend against the same network built from spikeops modules,
with dense synapses and with the synapses on spikes (``spikeops.nn.fuse``: SpikeConv2d and
SpikeLinear), at several T to show how time and memory grow with T:

- snnTorch tutorial 6 (12C5-MP2-64C5-MP2-FC10, Leaky beta 0.5, fast-sigmoid slope 25, the
  rate cross-entropy loss, Adam), as the tutorial writes it: a Python loop over the steps;
- SpikingJelly's CSNN ({Conv3x3-BN-IFNode-MaxPool2} x2, Linear-IFNode, Linear-IFNode, ATan,
  multi-step mode, MSE of the firing rate, SGD), on its 'torch' backend (its others are GPU only).

``python bench/conv_step.py [--steps 8 25 100] [--batch 128] [--repeats 3] [--channels 128]``
writes bench/results/conv_step_cpu.{md,json}. Every configuration runs in its own process, so
that its peak resident memory is its own. "saved" counts the bytes of the distinct tensors
autograd keeps for the backward pass (torch.autograd.graph.saved_tensors_hooks; parameters
excluded); "peak" is the growth of the process's peak RSS over the first training step (default
allocator only: where freed memory is kept, the pages are resident already). The images
are real MNIST digits, fed at every step: the peers as their tutorials do (snnTorch calls the
network once per step, SpikingJelly repeats the image T times), spikeops as a broadcast view
(``encode_constant``), through which TimeDistributed runs the layers before the first neuron
once instead of T times (the same values and gradients). "loss rel. diff." compares the
first step's loss with the peer's (same initial weights, same batch)."""
from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import torch
import torch.nn.functional as tF
from torch import nn

from spikeops.benchmarks.timing import peak_rss_growth, saved_bytes

NETS = {"tutorial6": ("snnTorch", "snnTorch tutorial 6"), "csnn": ("SpikingJelly", "SpikingJelly CSNN")}
VARIANTS = ("peer", "spikeops", "spikeops + fuse")
# glibc's allocator returns every block above its mmap threshold to the system when freed, so
# each large tensor of a step is fresh memory whose pages fault in again: with T x B images per
# call that is most of a step's time. "kept": freed memory stays in the process for reuse.
ALLOCATORS = {"default": {}, "kept": {"MALLOC_MMAP_THRESHOLD_": str(2**34), "MALLOC_TRIM_THRESHOLD_": str(2**34)}}


def tutorial6_peer(T):
    import snntorch as snn
    import snntorch.functional as SF
    from snntorch import surrogate, utils
    sg = surrogate.fast_sigmoid(slope=25)
    net = nn.Sequential(nn.Conv2d(1, 12, 5), nn.MaxPool2d(2), snn.Leaky(beta=0.5, spike_grad=sg, init_hidden=True),
                        nn.Conv2d(12, 64, 5), nn.MaxPool2d(2), snn.Leaky(beta=0.5, spike_grad=sg, init_hidden=True),
                        nn.Flatten(), nn.Linear(64 * 4 * 4, 10),
                        snn.Leaky(beta=0.5, spike_grad=sg, init_hidden=True, output=True))
    loss_fn = SF.ce_rate_loss()

    def forward(x):
        utils.reset(net)
        return torch.stack([net(x)[0] for _ in range(T)])

    return net, forward, lambda spk, y: loss_fn(spk, y), torch.optim.Adam(net.parameters(), lr=1e-2)


def tutorial6_spikeops(T, peer, fused):
    from spikeops.nn import LIF, TimeDistributed as TD, fuse
    from spikeops.surrogate import FastSigmoid

    def lif():
        return LIF(0.5, deferred_reset=True, detach_reset=True, surrogate=FastSigmoid(25.0))

    net = nn.Sequential(TD(peer[0]), TD(peer[1]), lif(), TD(peer[3]), TD(peer[4]), lif(),
                        nn.Flatten(2), peer[7], lif())
    if fused:
        fuse(net)

    def forward(x):  # the image at every step as a broadcast view: conv 1 and its pooling run once (TimeDistributed)
        return net(x.expand(T, *x.shape))

    def loss(spk, y):  # snnTorch's ce_rate_loss: the mean over steps of each step's cross entropy
        return sum(tF.cross_entropy(spk[t], y) for t in range(T)) / T

    return net, forward, loss, torch.optim.Adam(net.parameters(), lr=1e-2)


# --- SpikingJelly CSNN ---------------------------------------------------------------------

def csnn_peer(T, channels):
    from spikingjelly.activation_based import functional, layer, neuron, surrogate
    c = channels
    net = nn.Sequential(
        layer.Conv2d(1, c, 3, padding=1, bias=False), layer.BatchNorm2d(c),
        neuron.IFNode(surrogate_function=surrogate.ATan()), layer.MaxPool2d(2, 2),
        layer.Conv2d(c, c, 3, padding=1, bias=False), layer.BatchNorm2d(c),
        neuron.IFNode(surrogate_function=surrogate.ATan()), layer.MaxPool2d(2, 2),
        layer.Flatten(), layer.Linear(c * 7 * 7, c * 4 * 4, bias=False),
        neuron.IFNode(surrogate_function=surrogate.ATan()), layer.Linear(c * 4 * 4, 10, bias=False),
        neuron.IFNode(surrogate_function=surrogate.ATan()))
    functional.set_step_mode(net, "m")

    def forward(x):
        functional.reset_net(net)
        return net(x.unsqueeze(0).repeat(T, 1, 1, 1, 1))

    return net, forward, csnn_loss, torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)


def csnn_loss(spk, y):
    return tF.mse_loss(spk.mean(0), tF.one_hot(y, 10).float())


def csnn_spikeops(T, peer, fused):
    from spikeops.nn import IF, TimeDistributed as TD, encode_constant, fuse
    from spikeops.surrogate import ATan

    def plain(m, cls):  # SpikingJelly's layer as the torch layer it subclasses, same Parameters
        out = cls.__new__(cls)
        out.__dict__.update({k: v for k, v in m.__dict__.items() if k != "step_mode"})
        return out

    def if_node():
        return IF(reset="zero", v_reset=0.0, surrogate=ATan(2.0))

    net = nn.Sequential(TD(plain(peer[0], nn.Conv2d)), TD(plain(peer[1], nn.BatchNorm2d)), if_node(),
                        TD(plain(peer[3], nn.MaxPool2d)), TD(plain(peer[4], nn.Conv2d)),
                        TD(plain(peer[5], nn.BatchNorm2d)), if_node(), TD(plain(peer[7], nn.MaxPool2d)),
                        nn.Flatten(2), plain(peer[9], nn.Linear), if_node(), plain(peer[11], nn.Linear), if_node())
    if fused:
        fuse(net)

    def forward(x):  # spikeops' constant encoding: a broadcast view, so conv 1 runs once (TimeDistributed)
        return net(encode_constant(x, T))

    return net, forward, csnn_loss, torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)


def build(net_name, variant, T, channels, state=None):
    """(net, forward, loss, optimiser) of one variant; the spikeops ones share the peer's
    Parameters, initialised by seed 0 or loaded from ``state``."""
    torch.manual_seed(0)
    peer = tutorial6_peer(T) if net_name == "tutorial6" else csnn_peer(T, channels)
    if state:
        peer[0].load_state_dict(torch.load(state))
    if variant == "peer":
        return peer
    make = tutorial6_spikeops if net_name == "tutorial6" else csnn_spikeops
    return make(T, peer[0], variant.endswith("fuse"))


def pretrain(args, net_name, path) -> None:
    """``args.pretrain`` training steps of the fused spikeops variant at T = 25 on successive
    batches, saved to ``path``: the benchmark then runs at trained weights' spike rates."""
    from spikeops.datasets import mnist
    data = mnist()
    torch.manual_seed(0)
    peer = tutorial6_peer(25)[0] if net_name == "tutorial6" else csnn_peer(25, args.channels)[0]
    make = tutorial6_spikeops if net_name == "tutorial6" else csnn_spikeops
    net, forward, loss_fn, opt = make(25, peer, True)
    for i in range(1, args.pretrain + 1):
        x, y = data.x_train[i * args.batch:(i + 1) * args.batch], data.y_train[i * args.batch:(i + 1) * args.batch]
        loss = loss_fn(forward(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f"{net_name}: pretrained {args.pretrain} steps, loss {loss.item():.4f}", flush=True)
    torch.save(peer.state_dict(), path)


def run_one(args) -> dict:
    """One configuration, in this process: the first step's loss, the median step time, the
    bytes saved for backward, the peak RSS growth of a step and the synapses' input spike rates."""
    import time

    from spikeops.datasets import mnist
    torch.set_num_threads(args.threads)
    data = mnist()
    x, y = data.x_train[:args.batch].clone(), data.y_train[:args.batch].clone()
    net, forward, loss_fn, opt = build(args.net, args.variant, args.T, args.channels, args.state)
    params = list(net.parameters())

    neurons = [m for m in net.modules() if type(m).__name__ in ("Leaky", "IFNode", "LIF", "IF")]
    fired = {m: [] for m in neurons}  # each neuron layer's spike rate per call (snnTorch: per step)

    def record(module, inputs, output):
        fired[module].append(float((output[0] if isinstance(output, tuple) else output).float().mean()))

    hooks = [m.register_forward_hook(record) for m in neurons]

    def step(measure_saved=False):
        if measure_saved:
            out = []
            saved = saved_bytes(lambda: out.append(forward(x)), params)
            spk = out[0]
        else:
            spk, saved = forward(x), 0
        loss = loss_fn(spk, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss), saved

    first = []
    peak = peak_rss_growth(lambda: first.append(step(measure_saved=True)))
    first_loss, saved = first[0]
    for h in hooks:
        h.remove()
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    times.sort()
    return {"net": args.net, "variant": args.variant, "T": args.T, "loss": first_loss, "seconds": times[len(times) // 2],
            "saved_bytes": saved, "peak_rss_bytes": peak, "rates": [sum(v) / len(v) for v in fired.values()]}


def markdown(meta, rows) -> str:
    lines = ["# Convolutional networks: one training step (CPU)", "",
             "Allocator: default (glibc as configured) and kept (`MALLOC_MMAP_THRESHOLD_=2**34 "
             "MALLOC_TRIM_THRESHOLD_=2**34`: freed memory stays in the process for reuse, for every library "
             "alike); speedups and memory ratios are against the peer under the same allocator.", "",
             "Input: the image at every step, as each library's tutorial feeds it (snnTorch: the network called "
             "once per step; SpikingJelly: the image repeated T times) and, for spikeops, as a broadcast view "
             "(`encode_constant`), through which TimeDistributed runs the first convolution (and, in tutorial 6, "
             "its pooling) once instead of T times, with the same values and gradients.", "",
             f"Machine: {meta['machine']}, {meta['threads']} threads; torch {meta['torch']}; batch {meta['batch']}, "
             f"CSNN channels {meta['channels']}; weights after {meta['pretrain']} training steps; median of "
             f"{meta['repeats']} training steps after one.", "",
             f"Command: `{meta['command']}`", ""]
    for net_name, (peer, title) in NETS.items():
        sel = [r for r in rows if r["net"] == net_name]
        if not sel:
            continue
        lines += [f"### {title}", "",
                  "| T | allocator | variant | step s | speedup vs " + peer + " | saved MB | saved vs " + peer +
                  " | peak RSS MB | loss rel. diff. | synapse input rates |",
                  "|---:|---|---|---:|---:|---:|---:|---:|---:|---|"]
        for T, alloc in sorted({(r["T"], r["allocator"]) for r in sel}, key=lambda k: (k[0], list(ALLOCATORS).index(k[1]))):
            same = [r for r in sel if r["T"] == T and r["allocator"] == alloc]
            ref = next((r for r in same if r["variant"] == "peer"), None)
            for r in same:
                name = peer if r["variant"] == "peer" else r["variant"]
                speed = f"{ref['seconds'] / r['seconds']:.2f}x" if ref else "-"
                mem = f"{r['saved_bytes'] / ref['saved_bytes']:.2f}" if ref and ref["saved_bytes"] else "-"
                diff = f"{abs(r['loss'] - ref['loss']) / abs(ref['loss']):.1e}" if ref else "-"
                rates = ", ".join(f"{100 * v:.1f}%" for v in r["rates"][:-1])
                # kept: freed memory stays resident, so a step's RSS growth says nothing
                peak = f"{r['peak_rss_bytes'] / 2**20:.0f}" if alloc == "default" else "-"
                lines.append(f"| {T} | {alloc} | {name} | {r['seconds']:.2f} | {speed} | {r['saved_bytes'] / 2**20:.0f} | {mem} | "
                             f"{peak} | {diff} | {rates} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, nargs="+", default=[8, 25, 100], help="the T values")
    p.add_argument("--csnn-steps", type=int, nargs="+",
                   help="the CSNN's T values, if other than --steps (it needs ~4x the memory per step)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--channels", type=int, default=128, help="the CSNN's channels (the tutorial's 128)")
    p.add_argument("--nets", nargs="+", default=list(NETS), choices=list(NETS))
    p.add_argument("--allocators", nargs="+", default=list(ALLOCATORS), choices=list(ALLOCATORS))
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--pretrain", type=int, default=20,
                   help="training steps (spikeops, T 25) before the benchmark, for trained spike rates; 0: none")
    p.add_argument("--state", help=argparse.SUPPRESS)
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    p.add_argument("--one", nargs=3, metavar=("NET", "VARIANT", "T"), help=argparse.SUPPRESS)
    p.add_argument("--markdown", action="store_true", help="only rewrite the .md from the committed .json")
    args = p.parse_args(argv)
    if args.markdown:
        results = json.loads((Path(args.out) / "conv_step_cpu.json").read_text())
        (Path(args.out) / "conv_step_cpu.md").write_text(markdown(results["meta"], results["rows"]) + "\n")
        return 0
    if args.one:
        args.net, args.variant, args.T = args.one[0], args.one[1], int(args.one[2])
        print(json.dumps(run_one(args)))
        return 0
    from spikeops.benchmarks.timing import cpu_model
    import tempfile
    rows = []
    tmp = tempfile.mkdtemp()
    for net_name in args.nets:
        state = str(Path(tmp) / f"{net_name}.pt") if args.pretrain else None
        if state:
            pretrain(args, net_name, state)
        for T, alloc, variant in itertools.product((args.csnn_steps or args.steps) if net_name == "csnn" else args.steps,
                                                   args.allocators, VARIANTS):
            cmd = [sys.executable, __file__, "--one", net_name, variant, str(T), "--batch", str(args.batch),
                   "--repeats", str(args.repeats), "--channels", str(args.channels), "--threads",
                   str(args.threads)] + (["--state", state] if state else [])
            out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **ALLOCATORS[alloc]})
            if out.returncode != 0:
                print(out.stderr, file=sys.stderr)
                return 1
            rows.append(dict(json.loads(out.stdout.strip().splitlines()[-1]), allocator=alloc))
            r = rows[-1]
            print(f"{net_name} T={T} {alloc} {variant}: {r['seconds']:.2f} s, saved {r['saved_bytes'] / 2**20:.0f} MB, "
                  f"peak {r['peak_rss_bytes'] / 2**20:.0f} MB, loss {r['loss']:.6f}", flush=True)
    meta = {"machine": cpu_model(), "threads": args.threads, "torch": torch.__version__, "batch": args.batch,
            "channels": args.channels, "repeats": args.repeats, "pretrain": args.pretrain,
            "command": "python bench/conv_step.py " + " ".join(sys.argv[1:])}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "conv_step_cpu.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    (out / "conv_step_cpu.md").write_text(markdown(meta, rows) + "\n")
    print(markdown(meta, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
