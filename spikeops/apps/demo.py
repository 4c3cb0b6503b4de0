"""The main job: ``python -m spikeops demo`` (``make demo``); ``--quick`` for the 8x8 digits.

On MNIST (50,000 training images, the 10,000 test images), every method of the library,
each as its paper runs it where a preset exists:

- a conv ANN (ReLU), the starting point of the conversions;
- rate conversion with the hybrid paper's threshold balancing (``convert_rate(preset="rathi2020")``,
  Poisson input);
- hybrid conversion + STDB fine-tuning (``fine_tune_stdb(preset="rathi2020")``) at few steps;
- FS conversion with the published coefficients (``convert_fs``, preset ``"stoeckl2021"``);
- the same network with soft-LIF activations trained with and without noise, run on the
  papers' spiking LIF neuron with alpha synapses (``convert_soft_lif``);
- a conv SNN trained directly with surrogate gradients (``train.fit``).

One table (test accuracy, time steps, spikes per neuron, synaptic operations, latency, wall
time, and the closest figure the papers report), ``results.json`` and ``accuracy_vs_T.png`` in
the output folder. :data:`MNIST` and :data:`DIGITS` hold every setting.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import time
from pathlib import Path
from typing import Dict, List, Optional

import torch
from torch import nn

from spikeops import analysis, convert
from spikeops.datasets import digits, mnist
from spikeops.nn import LIF, SoftLIF, TimeDistributed
from spikeops.train import accuracy, deep_conv_snn, fine_tune_stdb, fit

from spikeops.benchmarks.timing import cpu_model

from .common import make_ann, mnist_ann, train_ann_with_progress, with_epoch_bar


@dataclasses.dataclass(frozen=True)
class Protocol:
    """Every setting of one run of the demo."""

    dataset: str
    ann_epochs: int
    rate_T: int  # longest rate-conversion run
    balance_T: int  # threshold balancing: steps and images (the paper: 1000 and 512)
    balance_images: int
    hybrid_T: int
    hybrid_scale: float  # threshold scale for the hybrid run (the paper's 0.7 is for 100+ steps)
    hybrid_epochs: int
    soft_epochs: int
    soft_T: int  # presentation time (steps of 1 ms) of the soft-LIF SNN; output read from soft_settle on
    soft_settle: int
    short_T: int  # the short presentation that compares training with and without noise
    direct_T: int
    direct_epochs: int
    activity_images: int  # spikes and synaptic operations: counted on this many test images
    batch_size: int = 128


MNIST = Protocol("mnist", ann_epochs=5, rate_T=40, balance_T=200, balance_images=256, hybrid_T=8,
                 hybrid_scale=0.3, hybrid_epochs=1, soft_epochs=3, soft_T=60, soft_settle=25, short_T=35,
                 direct_T=4, direct_epochs=4, activity_images=1024)
DIGITS = Protocol("digits", ann_epochs=30, rate_T=64, balance_T=200, balance_images=256, hybrid_T=8,
                  hybrid_scale=0.3, hybrid_epochs=10, soft_epochs=30, soft_T=200, soft_settle=50, short_T=100,
                  direct_T=4, direct_epochs=15, activity_images=360, batch_size=64)

# The closest figure each paper (or its reference code) reports, beside the row it compares with.
PAPER = {
    "rate": "no figure for conversion alone on MNIST in the paper or its code",
    "hybrid": "MNIST VGG5: 99.18 % at T = 50 after 50 epochs (ANN 99.17 %; reference code, results_summary.txt)",
    "fs": "ImageNet ResNet50: 75.10 % vs ANN 75.22 %, ~2 spikes / neuron (Stöckl & Maass 2021, Table 1)",
    "soft": "MNIST: 0.88 % error spiking vs 0.79 % soft-LIF ANN (Hunsberger & Eliasmith 2016, results table)",
    "direct": "no MNIST figure (the paper trains ResNets on CIFAR-100 and Imagenette)",
}




def _load(protocol: Protocol, seed: int):
    if protocol.dataset == "mnist":
        d = mnist()
        return d.x_train, d.y_train, d.x_test, d.y_test, mnist_ann
    xtr, ytr, xte, yte = digits(seed=seed)
    return xtr, ytr, xte, yte, make_ann


def _row(method: str, preset: str, acc: float, *, T=None, activity=None, latency=None, seconds=0.0,
         paper: str = "", macs=None) -> Dict[str, object]:
    """One row of the table; ``paper`` is a key of :data:`PAPER`."""
    return dict(method=method, preset=preset, accuracy=acc, T=T,
                spikes_per_neuron=None if activity is None else activity["spikes_per_neuron"],
                synops=None if activity is None else activity["synops"], ann_macs=macs, latency=latency,
                seconds=seconds, paper=paper)


def first_within(curve: torch.Tensor, target: float) -> int:
    """The first number of steps whose accuracy reaches target (0 if none)."""
    hits = (curve >= target).nonzero()
    return int(hits[0]) + 1 if len(hits) else 0


def run(out_dir: Path, protocol: Protocol = MNIST, *, seed: int = 0) -> Dict[str, object]:
    p = protocol
    torch.manual_seed(seed)
    t_start = time.time()
    xtr, ytr, xte, yte, network = _load(p, seed)
    print(f"{p.dataset}: {len(ytr)} train / {len(yte)} test images; torch threads {torch.get_num_threads()}")
    sample = xte[:p.activity_images]
    rows: List[Dict[str, object]] = []
    curves: Dict[str, List[Optional[float]]] = {}
    out_dir.mkdir(parents=True, exist_ok=True)

    def rate_input(offset: int) -> torch.Generator:  # Poisson draws, reproducible per evaluation
        return torch.Generator().manual_seed(seed * 1000 + offset)

    # The ANN every conversion starts from.
    t = time.time()
    ann = train_ann_with_progress(network(), xtr, ytr, p.ann_epochs, "train ANN", batch_size=p.batch_size,
                                  schedule="cosine")
    ann_acc = accuracy(ann, xte, yte)
    macs = sum(analysis.ann_macs(ann, xte[:1]))
    torch.save(ann, out_dir / "ann.pt")  # with --quick: for python -m spikeops hw --model (8x8 inputs)
    rows.append(_row("ANN (ReLU)", "", ann_acc, seconds=time.time() - t, macs=macs))
    print(f"ANN test accuracy {100 * ann_acc:.2f}%, {macs:,} MACs per image")

    # Rate conversion: the hybrid paper's threshold balancing, Poisson input.
    t = time.time()
    snn = convert.convert_rate(ann, xtr, preset="rathi2020", T=p.balance_T, images=p.balance_images)
    curve = convert.evaluate(snn, xte, yte, p.rate_T, encoder="rate", generator=rate_input(1))
    curves["rate conversion (rathi2020 balancing, Poisson)"] = curve.tolist()
    seconds = time.time() - t
    T_close = first_within(curve, ann_acc - 0.005)
    for T in sorted({T_close, p.rate_T} - {0}):
        act = analysis.snn_activity(snn, sample, T, encoder="rate", generator=rate_input(2), progress=False)
        rows.append(_row("rate conversion, Poisson input", "rathi2020", curve[T - 1].item(), T=T, activity=act,
                         latency=T, seconds=seconds, paper="rate", macs=macs))

    # Hybrid: the converted network at few steps, before and after STDB fine-tuning.
    t = time.time()
    hybrid = copy.deepcopy(snn)
    for n in convert.spiking_layers(hybrid):  # thresholds are 0.7 x the balanced maxima
        n.threshold = float(n.threshold) / convert.rate.RATHI2020["scale"] * p.hybrid_scale
    before = convert.evaluate(hybrid, xte, yte, p.hybrid_T, encoder="rate", generator=rate_input(3))
    curves[f"conversion alone, scale {p.hybrid_scale}"] = before.tolist()
    act = analysis.snn_activity(hybrid, sample, p.hybrid_T, encoder="rate", generator=rate_input(4), progress=False)
    rows.append(_row(f"conversion alone (thresholds x {p.hybrid_scale})", "rathi2020", before[-1].item(),
                     T=p.hybrid_T, activity=act, latency=p.hybrid_T, seconds=time.time() - t, macs=macs))
    t = time.time()
    with_epoch_bar(p.hybrid_epochs, f"STDB fine-tuning (T={p.hybrid_T})",
                   lambda progress: fine_tune_stdb(hybrid, xtr, ytr, p.hybrid_T, preset="rathi2020",
                                                   epochs=p.hybrid_epochs, progress=progress))
    after = convert.evaluate(hybrid, xte, yte, p.hybrid_T, encoder="rate", generator=rate_input(3))
    curves["hybrid: + STDB fine-tuning"] = after.tolist()
    act = analysis.snn_activity(hybrid, sample, p.hybrid_T, encoder="rate", generator=rate_input(4), progress=False)
    rows.append(_row(f"hybrid conversion + STDB fine-tuning ({p.hybrid_epochs} epoch(s))", "rathi2020",
                     after[-1].item(), T=p.hybrid_T, activity=act, latency=p.hybrid_T, seconds=time.time() - t,
                     paper="hybrid", macs=macs))

    # FS neurons with the published coefficients.
    t = time.time()
    fs = convert.convert_fs(ann)
    fs_acc = accuracy(fs, xte, yte)
    act = convert.fs_activity(fs, sample, progress=False)
    rows.append(_row("FS conversion", "stoeckl2021", fs_acc, T=act["steps"], activity=act,
                     latency=act["latency_steps"], seconds=time.time() - t, paper="fs", macs=macs))

    # Soft-LIF: the same network with soft-LIF activations, trained with and without noise,
    # run on the papers' spiking LIF with alpha synapses (dt 1 ms), read as the mean output
    # from soft_settle ms on: after soft_T ms, and after the short presentation short_T ms
    # (the same run read earlier), where training with noise shows.
    for noise in ("gaussian", None):
        t = time.time()
        soft = train_ann_with_progress(network(activation=lambda: SoftLIF(noise=noise)), xtr, ytr, p.soft_epochs,
                                       f"train soft-LIF ANN (noise {noise})", batch_size=p.batch_size,
                                       schedule="cosine")
        how = "with Gaussian noise" if noise else "without noise"
        rows.append(_row(f"soft-LIF ANN trained {how}", "hunsberger2016", accuracy(soft, xte, yte),
                         seconds=time.time() - t, macs=macs))
        t = time.time()
        soft_snn = convert.convert_soft_lif(soft)
        T = p.soft_T if noise else p.short_T  # the network without noise is only read early
        window = convert.evaluate_window(soft_snn, xte, yte, T, p.soft_settle)
        if noise:
            curves[f"soft-LIF SNN (mean from {p.soft_settle} ms)"] = [None] * p.soft_settle + window.tolist()
            act = analysis.snn_activity(soft_snn, sample, p.soft_T, progress=False)
            rows.append(_row(f"soft-LIF SNN (noise), {p.soft_T} ms", "hunsberger2016", window[-1].item(), T=p.soft_T,
                             activity=act, latency=p.soft_T, seconds=time.time() - t, paper="soft", macs=macs))
        rows.append(_row(f"soft-LIF SNN ({'noise' if noise else 'no noise'}), short: {p.short_T} ms",
                         "hunsberger2016", window[p.short_T - p.soft_settle - 1].item(), T=p.short_T,
                         latency=p.short_T, seconds=0.0 if noise else time.time() - t, macs=macs))

    # Direct surrogate-gradient training: a conv SNN with BatchNorm on the input currents.
    t = time.time()
    if p.dataset == "digits":  # eight spiking conv layers: depth is what the method is about
        model = deep_conv_snn()
    else:  # the ANN's layers with LIF neurons for its ReLUs; its BatchNorms normalise the currents
        model = nn.Sequential(*[LIF(0.5, surrogate="atan") if isinstance(m, nn.ReLU) else TimeDistributed(m)
                                for m in network()])
    with_epoch_bar(p.direct_epochs, f"train SNN directly (T={p.direct_T})",
                   lambda progress: fit(model, xtr, ytr, p.direct_T, epochs=p.direct_epochs, lr=3e-3,
                                        batch_size=p.batch_size, progress=progress))
    direct = convert.evaluate(model, xte, yte, p.direct_T)
    act = analysis.snn_activity(model, sample, p.direct_T, progress=False)
    rows.append(_row("direct surrogate-gradient training", "", direct[-1].item(), T=p.direct_T, activity=act,
                     latency=p.direct_T, seconds=time.time() - t, paper="direct",
                     macs=sum(analysis.ann_macs(_as_ann(model), xte[:1]))))

    command = "python -m spikeops demo" + (" --quick" if p.dataset == "digits" else "")
    result = {"dataset": p.dataset, "test_images": len(yte), "rows": rows, "curves": curves,
              "seconds": time.time() - t_start, "protocol": dataclasses.asdict(p), "seed": seed,
              "threads": torch.get_num_threads(), "machine": cpu_model(), "command": command}
    write(out_dir, result)
    return result


def _as_ann(snn: nn.Sequential) -> nn.Sequential:
    """The weight layers of an SNN as an ANN of the same shape (for its MAC count)."""
    return nn.Sequential(*[m.module for m in snn if hasattr(m, "module")])


def _number(value, fmt: str) -> str:
    return "" if value is None else format(value, fmt)


def table(result) -> str:
    n = result["protocol"]["activity_images"]
    lines = ["| method | preset | test accuracy | time steps | spikes / neuron | synaptic ops / image | "
             "latency (steps) | wall time | paper (closest setting) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in result["rows"]:
        cells = [r["method"], r["preset"], f"{100 * r['accuracy']:.2f}%", _number(r["T"], "d"),
                 _number(r["spikes_per_neuron"], ".2f"), _number(r["synops"], ",.0f"), _number(r["latency"], "d"),
                 f"{r['seconds']:.0f} s" if r["seconds"] else "", PAPER.get(r["paper"], "")]
        lines.append("| " + " | ".join(cells) + " |")
    ann = result["rows"][0]
    lines.append("")
    lines.append(f"{result['dataset']}: accuracy on all {result['test_images']:,} test images; spikes and synaptic "
                 f"operations per image on the first {n:,}; the ANN has {ann['ann_macs']:,} MACs per image; "
                 f"`{result.get('command', 'python -m spikeops demo')}` on {result.get('machine', 'this machine')}, "
                 f"{result['threads']} threads: {result['seconds']:.0f} s in all.")
    return "\n".join(lines)


def write(out_dir: Path, result) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    md = table(result)
    (out_dir / "table.md").write_text(md + "\n")
    (out_dir / "results.json").write_text(json.dumps(result, indent=2))
    print()
    print(md)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install 'spikeops[demo]')")
    else:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for name, curve in result["curves"].items():
            ax.plot(range(1, len(curve) + 1), [float("nan") if a is None else 100 * a for a in curve], label=name)
        ax.axhline(100 * result["rows"][0]["accuracy"], color="k", ls="--", lw=1, label="ANN")
        ax.set(xlabel="time steps T", ylabel="test accuracy (%)", xscale="log", ylim=(80, 100),
               title=f"{result['dataset']}: SNN test accuracy vs time steps")
        ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        fig.savefig(out_dir / "accuracy_vs_T.png", dpi=120)
        plt.close(fig)
    print(f"\nwrote {out_dir}/table.md, results.json, accuracy_vs_T.png in {result['seconds']:.0f} s")


def main(args) -> int:
    run(Path(args.out), DIGITS if args.quick else MNIST, seed=args.seed)
    return 0
