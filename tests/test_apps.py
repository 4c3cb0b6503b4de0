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
    from spikeops.apps import demo
    result = demo.run(tmp_path, max_T=24, ann_epochs=8, snn_epochs=4, hybrid_epochs=2, soft_lif_T=60,
                      soft_lif_settle=20)
    rows = {r["method"]: r for r in result["rows"]}
    assert rows["ANN (ReLU)"]["accuracy"] >= 0.95
    assert any(k.startswith("rate conversion, Poisson") for k in rows)
    for prefix in ("conversion alone", "hybrid STDB", "FS neurons", "soft-LIF ANN", "soft-LIF SNN", "direct"):
        row = next(r for k, r in rows.items() if k.startswith(prefix))
        assert 0.5 <= row["accuracy"] <= 1.0, (prefix, row)
    fs = next(r for k, r in rows.items() if k.startswith("FS neurons"))
    assert 0 < fs["spikes_per_neuron"] <= fs["T"]
    saved = json.loads((tmp_path / "results.json").read_text())
    assert len(saved["curves"]["rate conversion, constant current"]) == 24
    assert (tmp_path / "table.md").read_text().startswith("| method |")
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
