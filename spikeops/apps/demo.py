"""The main job: ``python -m spikeops demo`` (``make demo``).

On scikit-learn's 8x8 digits (80/20 split, fixed seed): train a small conv ANN and convert
it to an SNN by rate conversion (constant-current and Poisson-rate input), by hybrid
conversion + STDB fine-tuning at few steps, and to FS neurons; train the same network with
soft-LIF activations and noise and run it on spiking LIF neurons; train a deep SNN directly
with surrogate gradients. Reports accuracy, time steps, spikes per neuron and synaptic
operations against the ANN's MACs. Writes ``table.md``, ``results.json`` and
``accuracy_vs_T.png`` to the output folder. Every SNN runs on the fused spikeops kernels.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Dict, List

import torch
from torch import nn

from spikeops import analysis, convert
from spikeops.datasets import digits
from spikeops.nn import encode_constant, encode_rate, integrate
from spikeops.train import accuracy, deep_conv_snn, fine_tune_stdb, fit, layer_grad_norms, start_at_half_threshold

from .common import make_ann, progress_bar, train_ann_with_progress

POISSON_DRAWS = 5


def first_within(curve: torch.Tensor, target: float) -> int:
    """The first number of steps whose accuracy reaches target (0 if none)."""
    hits = (curve >= target).nonzero()
    return int(hits[0]) + 1 if len(hits) else 0


def _poisson_mean(snn, x, y, T, seed, what):
    """Accuracy after every step 1..T with Poisson-rate input, averaged over POISSON_DRAWS draws."""
    bar = progress_bar(POISSON_DRAWS, f"{what}, Poisson draws")
    runs = []
    for draw in range(POISSON_DRAWS):
        g = torch.Generator().manual_seed(seed * 100 + draw)
        runs.append(convert.evaluate(snn, x, y, T, encoder="rate", generator=g))
        bar.update()
    bar.close()
    return torch.stack(runs).mean(0)


def _poisson_activity(snn, x, T, seed):
    g = torch.Generator().manual_seed(seed * 100)
    return analysis.snn_activity(snn, x, T, encoder="rate", generator=g, progress=False)


def run(out_dir: Path, *, max_T: int = 64, ann_epochs: int = 30, snn_epochs: int = 15, direct_T: int = 4,
        hybrid_T: int = 4, hybrid_epochs: int = 10, fs_steps: int = 6, soft_lif_T: int = 200,
        soft_lif_settle: int = 50, seed: int = 0) -> Dict[str, object]:
    torch.manual_seed(seed)
    t_start = time.time()
    xtr, ytr, xte, yte = digits(seed=seed)
    print(f"digits: {len(ytr)} train / {len(yte)} test images, 8x8; torch threads {torch.get_num_threads()}")
    rows: List[Dict[str, object]] = []
    curves: Dict[str, List[float]] = {}

    ann = train_ann_with_progress(make_ann(), xtr, ytr, ann_epochs, "train ANN", rate_noise=0.5, noise_T=hybrid_T)
    ann_acc = accuracy(ann, xte, yte)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save(ann, out_dir / "ann.pt")  # e.g. for python -m spikeops hw --model
    macs = sum(analysis.ann_macs(ann, xte))
    rows.append(dict(method="ANN (ReLU)", accuracy=ann_acc, T=None, spikes_per_neuron=None, synops=None,
                     ann_macs=macs))
    print(f"ANN test accuracy {ann_acc:.4f}, {macs} MACs per image")

    # Rate conversion: data-based normalisation (99.9th percentile), IF neurons, subtract reset.
    snn = convert.convert_rate(ann, xtr, percentile=99.9)
    curves["rate conversion, constant current"] = convert.evaluate(snn, xte, yte, max_T).tolist()
    curves["rate conversion, Poisson input (mean of 5)"] = _poisson_mean(snn, xte, yte, max_T, seed,
                                                                         "rate conversion").tolist()
    for name, encode in (("constant current", encode_constant), ("Poisson input (mean of 5)", encode_rate)):
        curve = torch.tensor(curves[f"rate conversion, {name}"])
        T_close = first_within(curve, ann_acc - 0.01)
        for T in sorted({T_close, max_T} - {0}):
            act = analysis.snn_activity(snn, xte, T, encoder=encode, progress=False)
            rows.append(dict(method=f"rate conversion, {name}", accuracy=curve[T - 1].item(), T=T,
                             spikes_per_neuron=act["spikes_per_neuron"], synops=act["synops"], ann_macs=macs))

    # Hybrid: threshold balancing at hybrid_T steps (scale 0.3, membranes starting at half the
    # threshold), then STDB fine-tuning through time at the same steps, Poisson-rate input,
    # with BatchNorm on the neurons' input currents while training (folded back afterwards).
    hybrid = convert.convert_rate(ann, xtr, method="balance", scale=0.3, T=hybrid_T, encoder="rate")
    start_at_half_threshold(hybrid)
    for name, trained in (("conversion alone (balanced thresholds)", False), ("hybrid STDB fine-tuning", True)):
        if trained:
            bar = progress_bar(hybrid_epochs, f"STDB fine-tuning (T={hybrid_T})")
            fine_tune_stdb(hybrid, xtr, ytr, hybrid_T, epochs=hybrid_epochs, lr=1e-3, batch_norm=True,
                           progress=lambda epoch, loss: (bar.update(), bar.set_postfix_str(f"loss {loss:.3f}")))
            bar.close()
        curve = _poisson_mean(hybrid, xte, yte, hybrid_T, seed, name)
        curves[f"{name}, Poisson (mean of 5)"] = curve.tolist()
        act = _poisson_activity(hybrid, xte, hybrid_T, seed)
        rows.append(dict(method=f"{name}, Poisson input (mean of 5)", accuracy=curve[-1].item(), T=hybrid_T,
                         spikes_per_neuron=act["spikes_per_neuron"], synops=act["synops"], ann_macs=macs))

    # FS neurons: every ReLU replaced by a K-step FS neuron with the binary ReLU code.
    fs = convert.convert_fs(ann, xtr, preset=None, K=fs_steps, percentile=99.9)
    act = convert.fs_activity(fs, xte, progress=False)
    rows.append(dict(method=f"FS neurons (K={fs_steps}, binary ReLU code)", accuracy=accuracy(fs, xte, yte),
                     T=fs_steps, spikes_per_neuron=act["spikes_per_neuron"], synops=act["synops"], ann_macs=macs))

    # Soft-LIF: the same network with soft-LIF activations trained with Gaussian noise, then
    # run on the papers' spiking LIF (spike times inside the 1 ms step) with 5 ms alpha
    # synapses, read out after a settling time.
    soft = train_ann_with_progress(convert.soft_lif_ann(noise="gaussian"), xtr, ytr, ann_epochs,
                                   "train soft-LIF ANN")
    soft_acc = accuracy(soft, xte, yte)
    soft_macs = sum(analysis.ann_macs(soft, xte))
    rows.append(dict(method="soft-LIF ANN (Gaussian noise training)", accuracy=soft_acc, T=None,
                     spikes_per_neuron=None, synops=None, ann_macs=soft_macs))
    soft_snn = convert.convert_soft_lif(soft, dt=0.001, tau_s=0.005)
    window = convert.evaluate_window(soft_snn, xte, yte, soft_lif_T, soft_lif_settle)
    curves["soft-LIF SNN (window after 50 steps)"] = [None] * soft_lif_settle + window.tolist()
    act = analysis.snn_activity(soft_snn, xte, soft_lif_T, progress=False)
    name = f"soft-LIF SNN (sub-step LIF, alpha synapses, dt 1 ms, read after {soft_lif_settle} steps)"
    rows.append(dict(method=name,
                     accuracy=window[-1].item(), T=soft_lif_T, spikes_per_neuron=act["spikes_per_neuron"],
                     synops=act["synops"], ann_macs=soft_macs))

    # Direct surrogate-gradient training: 8 spiking conv layers, BatchNorm on input currents.
    model = deep_conv_snn()
    bar = progress_bar(snn_epochs, f"train SNN directly (T={direct_T})")

    def progress(epoch, loss):
        bar.update()
        bar.set_postfix_str(f"loss {loss:.3f}")

    fit(model, xtr, ytr, direct_T, epochs=snn_epochs, lr=3e-3, progress=progress)
    bar.close()
    direct_acc = convert.evaluate(model, xte, yte, direct_T)[-1].item()
    act = analysis.snn_activity(model, xte, direct_T, progress=False)
    rows.append(dict(method="direct training (8 spiking conv layers)", accuracy=direct_acc, T=direct_T,
                     spikes_per_neuron=act["spikes_per_neuron"], synops=act["synops"],
                     ann_macs=sum(analysis.ann_macs(_as_ann(model), xte))))
    model.zero_grad()
    nn.functional.cross_entropy(integrate(model(encode_constant(xtr[:256], direct_T))),
                                ytr[:256]).backward()
    norms = layer_grad_norms(model)

    result = {"rows": rows, "curves": curves, "direct_grad_norms": norms, "seconds": time.time() - t_start,
              "settings": dict(max_T=max_T, ann_epochs=ann_epochs, snn_epochs=snn_epochs, direct_T=direct_T,
                               hybrid_T=hybrid_T, hybrid_epochs=hybrid_epochs, fs_steps=fs_steps,
                               soft_lif_T=soft_lif_T, soft_lif_settle=soft_lif_settle, seed=seed)}
    write(out_dir, result)
    return result


def _as_ann(snn: nn.Sequential) -> nn.Sequential:
    """The weight layers of an SNN as an ANN of the same shape (for its MAC count)."""
    return nn.Sequential(*[m.module for m in snn if hasattr(m, "module")])


def table(rows) -> str:
    lines = ["| method | test accuracy | time steps | spikes / neuron | synaptic ops / image | ANN MACs / image |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        cells = [f"{100 * r['accuracy']:.2f}%", "" if r["T"] is None else str(r["T"]),
                 "" if r["spikes_per_neuron"] is None else f"{r['spikes_per_neuron']:.2f}",
                 "" if r["synops"] is None else f"{r['synops']:,.0f}", f"{r['ann_macs']:,}"]
        lines.append(f"| {r['method']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write(out_dir: Path, result) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    md = table(result["rows"])
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
        fig, ax = plt.subplots(figsize=(6, 4))
        for name, curve in result["curves"].items():
            ax.plot(range(1, len(curve) + 1), [float("nan") if a is None else 100 * a for a in curve], label=name)
        ann = result["rows"][0]["accuracy"]
        ax.axhline(100 * ann, color="k", ls="--", lw=1, label="ANN")
        ax.set(xlabel="time steps T", ylabel="test accuracy (%)", xscale="log", ylim=(0, 100),
               title="digits: SNN accuracy vs time steps")
        ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        fig.savefig(out_dir / "accuracy_vs_T.png", dpi=120)
        plt.close(fig)
    print(f"\nwrote {out_dir}/table.md, results.json, accuracy_vs_T.png in {result['seconds']:.0f} s")


def main(args) -> int:
    run(Path(args.out), max_T=args.max_T, ann_epochs=args.ann_epochs, snn_epochs=args.snn_epochs, seed=args.seed)
    return 0
