"""Puts a main-job run's table (``python -m spikeops demo --out DIR``) into README.md between
the demo markers, so the README's demo figures come from a committed results folder:
``python scripts/demo_readme.py bench/results/demo-mnist``."""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- demo results: begin -->", "<!-- demo results: end -->"


def main(argv=None) -> int:
    out = Path((argv or sys.argv[1:])[0]).resolve()
    sys.path.insert(0, str(ROOT))
    from spikeops.apps.demo import table
    result = json.loads((out / "results.json").read_text())
    rel = out.relative_to(ROOT)
    body = [f"As printed by the run in [{rel}]({rel}) ([results.json]({rel}/results.json), "
            f"[accuracy_vs_T.png]({rel}/accuracy_vs_T.png)):", "", table(result), ""]
    readme = ROOT / "README.md"
    text = readme.read_text()
    begin, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    readme.write_text(text[:begin] + "\n" + "\n".join(body) + text[end:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
