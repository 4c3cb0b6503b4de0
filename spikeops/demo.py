"""The main job: ``python -m spikeops demo`` (``make demo``).

On scikit-learn's 8x8 digits (80/20 split, fixed seed): train a small conv ANN, convert it
to an SNN by rate conversion (constant-current and Poisson-rate input), train a deep SNN
directly with surrogate gradients, and report accuracy, time steps, spikes per neuron and
synaptic operations against the ANN's MACs. Writes ``table.md``, ``results.json`` and
``accuracy_vs_T.png`` to the output folder. Every SNN runs on the fused spikeops kernels.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Dict, List

import torch
from torch import nn

from . import analysis, convert
from .datasets import digits
from .nn import encode_constant, encode_rate, integrate
from .train import deep_conv_snn, fit, layer_grad_norms

POISSON_DRAWS = 5


def _bar(total: int, desc: str):
    try:
        from tqdm import tqdm
        return tqdm(total=total, desc=desc, leave=False)
    except ImportError:  # progress bars are optional
        class Plain:
            def update(self, n=1):
                pass

            def set_postfix_str(self, s):
                pass

            def close(self):
                print(f"{desc}: done", flush=True)
        return Plain()


def make_ann() -> nn.Sequential:
    """The demo's ANN: three conv layers with BatchNorm and ReLU, average pooling, a linear output."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(64 * 2 * 2, 10))


def train_ann(model: nn.Module, x, y, epochs: int, lr: float = 3e-3, batch_size: int = 64) -> nn.Module:
    opt = torch.optim.Adam(model.parameters(), lr)
    bar = _bar(epochs, "train ANN")
    for _ in range(epochs):
        model.train()
        for idx in torch.randperm(len(y)).split(batch_size):
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        bar.update()
        bar.set_postfix_str(f"loss {loss.item():.3f}")
    bar.close()
    return model.eval()


@torch.no_grad()
def accuracy(model, x, y) -> float:
    return (model.eval()(x).argmax(1) == y).double().mean().item()


def first_within(curve: torch.Tensor, target: float) -> int:
    """The first number of steps whose accuracy reaches target (0 if none)."""
    hits = (curve >= target).nonzero()
    return int(hits[0]) + 1 if len(hits) else 0


def run(out_dir: Path, *, max_T: int = 64, ann_epochs: int = 30, snn_epochs: int = 15, direct_T: int = 4,
        seed: int = 0) -> Dict[str, object]:
    torch.manual_seed(seed)
    t_start = time.time()
    xtr, ytr, xte, yte = digits(seed=seed)
    print(f"digits: {len(ytr)} train / {len(yte)} test images, 8x8; torch threads {torch.get_num_threads()}")
    rows: List[Dict[str, object]] = []
    curves: Dict[str, List[float]] = {}

    ann = train_ann(make_ann(), xtr, ytr, ann_epochs)
    ann_acc = accuracy(ann, xte, yte)
    macs = sum(analysis.ann_macs(ann, xte))
    rows.append(dict(method="ANN (ReLU)", accuracy=ann_acc, T=None, spikes_per_neuron=None, synops=None,
                     ann_macs=macs))
    print(f"ANN test accuracy {ann_acc:.4f}, {macs} MACs per image")

    # Rate conversion: data-based normalisation (99.9th percentile), IF neurons, subtract reset.
    snn = convert.convert_rate(ann, xtr, percentile=99.9)
    curves["rate conversion, constant current"] = convert.evaluate(snn, xte, yte, max_T).tolist()
    bar = _bar(POISSON_DRAWS, "rate conversion, Poisson draws")
    poisson = []
    for draw in range(POISSON_DRAWS):
        g = torch.Generator().manual_seed(seed * 100 + draw)
        poisson.append(convert.evaluate(snn, xte, yte, max_T, encoder="rate", generator=g))
        bar.update()
    bar.close()
    curves["rate conversion, Poisson input (mean of 5)"] = torch.stack(poisson).mean(0).tolist()
    for name, encode in (("constant current", encode_constant), ("Poisson input (mean of 5)", encode_rate)):
        curve = torch.tensor(curves[f"rate conversion, {name}"])
        T_close = first_within(curve, ann_acc - 0.01)
        for T in sorted({T_close, max_T} - {0}):
            act = analysis.snn_activity(snn, encode(xte, T))
            rows.append(dict(method=f"rate conversion, {name}", accuracy=curve[T - 1].item(), T=T,
                             spikes_per_neuron=act["spikes_per_neuron"], synops=act["synops"], ann_macs=macs))

    # Direct surrogate-gradient training: 8 spiking conv layers, BatchNorm on input currents.
    model = deep_conv_snn()
    bar = _bar(snn_epochs, f"train SNN directly (T={direct_T})")

    def progress(epoch, loss):
        bar.update()
        bar.set_postfix_str(f"loss {loss:.3f}")

    fit(model, xtr, ytr, direct_T, epochs=snn_epochs, lr=3e-3, progress=progress)
    bar.close()
    direct_acc = convert.evaluate(model, xte, yte, direct_T)[-1].item()
    act = analysis.snn_activity(model, encode_constant(xte, direct_T))
    rows.append(dict(method="direct training (8 spiking conv layers)", accuracy=direct_acc, T=direct_T,
                     spikes_per_neuron=act["spikes_per_neuron"], synops=act["synops"],
                     ann_macs=sum(analysis.ann_macs(_as_ann(model), xte))))
    model.zero_grad()
    nn.functional.cross_entropy(integrate(model(encode_constant(xtr[:256], direct_T))),
                                ytr[:256]).backward()
    norms = layer_grad_norms(model)

    result = {"rows": rows, "curves": curves, "direct_grad_norms": norms, "seconds": time.time() - t_start,
              "settings": dict(max_T=max_T, ann_epochs=ann_epochs, snn_epochs=snn_epochs, direct_T=direct_T,
                               seed=seed)}
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
            ax.plot(range(1, len(curve) + 1), [100 * a for a in curve], label=name)
        ann = result["rows"][0]["accuracy"]
        ax.axhline(100 * ann, color="k", ls="--", lw=1, label="ANN")
        ax.set(xlabel="time steps T", ylabel="test accuracy (%)", xscale="log", ylim=(0, 100),
               title="digits: converted SNN accuracy vs time steps")
        ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        fig.savefig(out_dir / "accuracy_vs_T.png", dpi=120)
        plt.close(fig)
    print(f"\nwrote {out_dir}/table.md, results.json, accuracy_vs_T.png in {result['seconds']:.0f} s")


def main(args) -> int:
    run(Path(args.out), max_T=args.max_T, ann_epochs=args.ann_epochs, snn_epochs=args.snn_epochs, seed=args.seed)
    return 0
