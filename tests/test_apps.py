"""The applications behind the command line: demo, hw, info."""
import importlib.util
import json
import math
import os
import subprocess
import sys

import pytest
import torch
from torch import nn

from spikeops import convert
from spikeops.cli import main as cli_main
from spikeops.nn import LIF

from conftest import relu_cnn


def test_demo_end_to_end(tmp_path):
    """The digits version of the main job (make demo QUICK=1), shortened: every method runs and
    lands in the table, results.json and the plot."""
    import dataclasses
    from spikeops.apps import demo
    protocol = dataclasses.replace(demo.DIGITS, ann_epochs=8, rate_T=24, balance_T=40, balance_images=128,
                                   hybrid_epochs=2, soft_epochs=6, soft_T=150, soft_settle=50, short_T=100,
                                   direct_epochs=3, activity_images=128)
    result = demo.run(tmp_path, protocol)
    rows = result["rows"]
    assert rows[0]["method"] == "ANN (ReLU)" and rows[0]["accuracy"] >= 0.9
    for prefix in ("rate conversion", "conversion alone", "hybrid conversion", "FS conversion",
                   "soft-LIF ANN trained with ", "soft-LIF ANN trained without", "soft-LIF SNN (noise), 150 ms",
                   "soft-LIF SNN (noise), short: 100 ms", "soft-LIF SNN (no noise), short: 100 ms", "direct"):
        row = next(r for r in rows if r["method"].startswith(prefix))
        assert 0.3 <= row["accuracy"] <= 1.0, (prefix, row)
    fs = next(r for r in rows if r["method"].startswith("FS"))
    assert 0 < fs["spikes_per_neuron"] <= fs["T"] and fs["latency"] == 3 * fs["T"] == 30  # K = 10, three FS layers
    assert all(r["seconds"] >= 0 for r in rows)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert len(saved["curves"]["rate conversion (rathi2020 balancing, Poisson)"]) == 24
    assert saved["protocol"]["rate_T"] == 24
    table = (tmp_path / "table.md").read_text()
    assert table.startswith("| method | preset |") and "stoeckl2021" in table and "Table 1" in table
    if importlib.util.find_spec("matplotlib"):
        assert (tmp_path / "accuracy_vs_T.png").stat().st_size > 1000


def test_hw_command_writes_results(tmp_path, digits_data):
    out = tmp_path / "hw"
    assert cli_main(["hw", "--ann-epochs", "2", "--T", "8", "--draws", "1", "--out", str(out)]) == 0
    result = json.loads((out / "results.json").read_text())
    assert 0 <= result["fixed_accuracy"] <= 1 and 0 <= result["float_accuracy"] <= 1
    assert len(result["quantisation"]) == 4 and "ann_macs" in result["energy"]
    assert "fixed-point SNN accuracy" in (out / "table.md").read_text()
    # a saved ReLU ANN is rate-converted; a saved float SNN is used as it is
    torch.manual_seed(0)
    torch.save(relu_cnn(nn.AvgPool2d).eval(), tmp_path / "ann.pt")
    assert cli_main(["hw", "--model", str(tmp_path / "ann.pt"), "--T", "4", "--draws", "1", "--out", str(out)]) == 0
    result = json.loads((out / "results.json").read_text())
    assert result["ann_accuracy"] is not None and len(result["quantisation"]) == 3
    torch.save(convert.convert_rate(torch.load(tmp_path / "ann.pt", weights_only=False), digits_data[0][:64]),
               tmp_path / "snn.pt")
    assert cli_main(["hw", "--model", str(tmp_path / "snn.pt"), "--T", "4", "--draws", "1", "--out", str(out)]) == 0
    result = json.loads((out / "results.json").read_text())
    assert result["ann_accuracy"] is None and "ann_macs" not in result["energy"]
    assert math.isfinite(result["energy"]["snn_energy_j"])
    torch.save(LIF(1.0), tmp_path / "lif.pt")
    with pytest.raises(TypeError, match="nn.Sequential"):
        cli_main(["hw", "--model", str(tmp_path / "lif.pt"), "--out", str(out)])


def test_info_command():
    out = subprocess.run([sys.executable, "-m", "spikeops", "info"], capture_output=True, text=True, check=True,
                         env=dict(os.environ, SPIKEOPS_CPU_ISA="scalar")).stdout
    assert "cpu isa: scalar" in out and "torch" in out and "cuda kernels built:" in out


def test_the_library_imports_no_application():
    code = ("import sys, spikeops, spikeops.convert, spikeops.train, spikeops.hardware, spikeops.nn, spikeops.nir, "
            "spikeops.analysis, spikeops.cli, spikeops.integrations; "
            "print(sorted(m for m in sys.modules if m.startswith(('spikeops.apps', 'spikeops.benchmarks'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
