"""Summarises the examples' full-size outputs (bench/results/example_*.txt, each one run's
stdout with its command on the first line) as bench/results/examples.md, the table the README
shows: ``python scripts/examples_table.py``."""
from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results"


def summary(path: Path) -> list:
    text = path.read_text()
    command = text.splitlines()[0].lstrip("$ ").split("#")[0].strip()
    acc = re.search(r"test accuracy: (.+?) ([\d.]+), (.+?) ([\d.]+)\n", text)
    time = re.search(r"training time \((\d+) steps, (\d+) threads\): .+? ([\d.]+) s, .+? ([\d.]+) s, speedup ([\d.]+)x",
                     text)
    drift = re.search(r"largest relative loss difference over the first (\d+) steps: (\S+)", text)
    if not (acc and time and drift):
        raise SystemExit(f"{path.name}: not an example's report")
    return [f"`{command}`", f"{acc.group(1)} / {acc.group(3)}", time.group(1), drift.group(2),
            f"{acc.group(2)} / {acc.group(4)}", f"{time.group(3)} / {time.group(4)}", f"{time.group(5)}x"]


def main() -> int:
    rows = [summary(p) for p in sorted(RESULTS.glob("example_*.txt"))]
    lines = ["# The examples at full size", "",
             "- one run each on the 2-core development VM (2 torch threads), at times sharing it with other work (the times are indicative, the ratio within one run less so); the full outputs are "
             "bench/results/example_*.txt", "",
             "| command | runs (original / accelerated) | training steps | largest relative loss difference, "
             "first 5 steps | test accuracy | training s | speedup |",
             "|---|---|---:|---:|---:|---:|---:|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    (RESULTS / "examples.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS / 'examples.md'} ({len(rows)} examples)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
