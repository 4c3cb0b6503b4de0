"""``python -m spikeops hw``: a converted network on the digits in float and in fixed point.

Trains the demo's ANN (or loads ``--model``, a whole ``nn.Sequential`` saved with
``torch.save``: a ReLU ANN, which is rate-converted, or a spikeops float SNN), quantises the
SNN, runs both on the same Poisson-rate input and prints the quantisation report, float vs
fixed accuracy and spike agreement per layer, and the energy estimate against the ANN.
Writes ``table.md`` and ``results.json`` to ``--out``.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from spikeops import convert
from spikeops.datasets import digits
from spikeops.hardware import compare, energy_report, quantize
from spikeops.nn import LIF
from spikeops.train import accuracy

from .common import make_ann, train_ann_with_progress


def _load(path: str) -> nn.Module:
    model = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"{path}: expected a whole nn.Sequential saved with torch.save, got {type(model).__name__}")
    return model.eval()


def run(out_dir: Path, *, model_path=None, T: int = 32, draws: int = 3, ann_epochs: int = 30, seed: int = 0):
    for name, value in (("T", T), ("draws", draws), ("ann_epochs", ann_epochs)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    torch.manual_seed(seed)
    xtr, ytr, xte, yte = digits(seed=seed)
    model = _load(model_path) if model_path else train_ann_with_progress(
        make_ann(), xtr, ytr, ann_epochs, "train ANN", rate_noise=0.5)
    is_snn = any(isinstance(m, LIF) for m in model.modules())
    ann = None if is_snn else model
    snn = model if is_snn else convert.convert_rate(model, xtr, percentile=99.9)
    fixed = quantize(snn)
    runs = [compare(snn, fixed, xte, yte, T, encoder="rate",
                    generator=torch.Generator().manual_seed(seed * 100 + d), progress=False)
            for d in range(draws)]
    mean = {k: sum(r[k] for r in runs) / draws for k in ("float_accuracy", "fixed_accuracy")}
    agreement = [sum(r["spike_agreement"][i] for r in runs) / draws for i in range(len(runs[0]["spike_agreement"]))]
    count_ratio = [sum(r["spike_count_ratio"][i] for r in runs) / draws
                   for i in range(len(runs[0]["spike_count_ratio"]))]
    energy = energy_report(snn, xte, T, encoder="rate", generator=torch.Generator().manual_seed(seed), progress=False,
                           ann=ann, ann_input=xte if ann is not None else None)
    result = dict(T=T, draws=draws, ann_accuracy=accuracy(ann, xte, yte) if ann is not None else None, **mean,
                  spike_agreement=agreement, spike_count_ratio=count_ratio, quantisation=fixed.report(),
                  energy=energy)
    write(out_dir, result)
    return result


def table(result) -> str:
    lines = [f"Poisson-rate input, T = {result['T']}, mean of {result['draws']} draws.", ""]
    if result["ann_accuracy"] is not None:
        lines.append(f"ANN accuracy: {100 * result['ann_accuracy']:.2f}%")
    lines += [f"float SNN accuracy: {100 * result['float_accuracy']:.2f}%",
              f"fixed-point SNN accuracy: {100 * result['fixed_accuracy']:.2f}%", "",
              "| layer | kind | weight exp | vth_mant | dv | bias exp | weight rel. err | threshold rel. err | "
              "spike agreement | spike count fixed/float |",
              "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    neuron = 0
    for row in result["quantisation"]:
        cells = [row["layer"], row["kind"], row["weight_exp"], "", "", "", f"{row['weight_rel_err']:.2e}", "", "", ""]
        if row["spiking"]:
            cells[3:6] = [row["vth_mant"], row["dv"], row["bias_exp"]]
            cells[7:] = [f"{row['threshold_rel_err']:.2e}", f"{100 * result['spike_agreement'][neuron]:.2f}%",
                         f"{result['spike_count_ratio'][neuron]:.4f}"]
            neuron += 1
        else:
            cells[1] += " (output)"
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    e = result["energy"]
    lines += ["", f"Per image: {e['spikes_per_neuron']:.2f} spikes per neuron, {e['synops']:,.0f} synaptic ops, "
              f"{e['neuron_updates']:,} neuron updates: {1e6 * e['snn_energy_j']:.2f} uJ at "
              f"{1e12 * e['costs']['synop']:.1f} pJ/synop and {1e12 * e['costs']['neuron_update']:.0f} pJ/update."]
    if "ann_macs" in e:
        lines.append(f"ANN: {e['ann_macs']:,} MACs: {1e6 * e['ann_energy_j']:.2f} uJ at "
                     f"{1e12 * e['costs']['mac']:.1f} pJ/MAC; ANN / SNN energy {e['ann_over_snn_energy']:.3f}.")
    return "\n".join(lines) + "\n"


def write(out_dir: Path, result) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(result, indent=2))
    text = table(result)
    (out_dir / "table.md").write_text(text)
    print(text)
    print(f"wrote {out_dir}/table.md, results.json")


def main(args) -> int:
    run(Path(args.out), model_path=args.model, T=args.T, draws=args.draws, ann_epochs=args.ann_epochs,
        seed=args.seed)
    return 0
