"""Timing and machine facts shared by the benchmarks."""
from __future__ import annotations

import platform
import statistics
import time
from pathlib import Path

import torch


def median_time(fn, repeats: int, warmup: int = 1, sync=None) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs after ``warmup`` runs; ``sync`` (e.g.
    ``torch.cuda.synchronize``) is called after every run so that device work is counted."""
    for _ in range(warmup):
        fn()
        if sync:
            sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def copy_bandwidth(repeats: int, numel: int = 2**26) -> float:
    """GB/s of ``dst.copy_(src)`` into an existing tensor (read + write counted)."""
    src = torch.rand(numel)
    dst = torch.empty_like(src)
    t = median_time(lambda: dst.copy_(src), repeats)
    return 2 * src.numel() * src.element_size() / t / 1e9


def peak_rss_growth(fn) -> int:
    """How far ``fn()`` raises the process's peak resident memory above what was resident
    before it (Linux: /proc/self/status VmHWM, reset through /proc/self/clear_refs). Memory
    that an allocator keeps after an earlier call is not counted again."""
    def rss(field: str) -> int:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field + ":"))

    with open("/proc/self/clear_refs", "w") as f:  # "5" resets VmHWM (Linux >= 4.0)
        f.write("5")
    base = rss("VmRSS")
    fn()
    return rss("VmHWM") - base


def saved_bytes(fn, skip=()) -> int:
    """Bytes of the distinct storages autograd saves for the backward pass while ``fn()`` runs,
    other than those of the tensors in ``skip`` (parameters, say)."""
    seen, skipped = {}, {t.untyped_storage().data_ptr() for t in skip}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in skipped:
            seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(seen.values())


def write_results(out, stem: str, title: str, meta: dict, notes: list, columns: list, cells, rows: list) -> None:
    """Writes ``out/stem.json`` (meta and rows) and ``out/stem.md``: the title, the command and
    machine, ``notes`` (one bullet each), and a table with ``columns`` (``(name, align)``,
    align ``"l"`` or ``"r"``) whose cells for a row are ``cells(row)``."""
    import json

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(dict(meta=meta, rows=rows), indent=2))
    lines = [f"# {title}", "", f"- command: `{meta['command']}`",
             f"- machine: {meta['machine']}; torch {meta['torch']}, spikeops {meta['spikeops']}"]
    lines += [f"- {note}" for note in notes] + [""]
    lines += ["| " + " | ".join(name for name, _ in columns) + " |",
              "|" + "|".join("---:" if align == "r" else "---" for _, align in columns) + "|"]
    lines += ["| " + " | ".join(cells(r)) + " |" for r in rows]
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out}/{stem}.md and .json")
