"""Copies a benchmark's committed results table into README.md between that benchmark's
markers, so the README's figures come from the committed results:
``python scripts/results_readme.py lif_cpu ceilings_cpu`` (names of bench/results/NAME.md)."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def markers(name: str):
    return f"<!-- {name} results: begin -->", f"<!-- {name} results: end -->"


def main(argv=None) -> int:
    readme = ROOT / "README.md"
    text = readme.read_text()
    for name in argv or sys.argv[1:]:
        results = ROOT / "bench" / "results" / f"{name}.md"
        body = results.read_text().split("\n", 1)[1].strip()  # without its title
        begin_mark, end_mark = markers(name)
        if begin_mark not in text:
            raise SystemExit(f"README.md has no {begin_mark} ... {end_mark} markers")
        begin, end = text.index(begin_mark) + len(begin_mark), text.index(end_mark)
        text = (text[:begin] + f"\nFrom [bench/results/{name}.md](bench/results/{name}.md):\n\n" + body + "\n"
                + text[end:])
    readme.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
