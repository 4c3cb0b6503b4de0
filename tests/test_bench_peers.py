"""The peer benchmark runs end to end (quick shapes) and every library is configured to the
same dynamics: the same spike rate as spikeops (snnTorch's undecayed reset aside)."""
import json

import pytest

from spikeops.cli import main

pytest.importorskip("spikingjelly")
pytest.importorskip("norse")
pytest.importorskip("sinabs")
pytest.importorskip("snntorch")


def test_peer_benchmark_quick(tmp_path):
    assert main(["bench", "--peers", "--quick", "--repeats", "1", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "peers-cpu-quick.json").read_text())
    rows = result["rows"]
    libraries = {r["library"] for r in rows}
    assert libraries == {"spikeops", "snnTorch", "SpikingJelly", "Norse", "Sinabs"}
    for case in {r["case"] for r in rows}:
        rates = {r["library"]: r["spike_rate"] for r in rows if r["case"] == case}
        for lib in ("SpikingJelly", "Norse", "Sinabs"):
            assert rates[lib] == pytest.approx(rates["spikeops"], abs=2e-3), (case, lib)
        assert 0 < rates["spikeops"] < 1
    assert "spikeops faster by" in (tmp_path / "peers-cpu-quick.md").read_text()
