#!/usr/bin/env python3
"""Per-kernel resource usage of the CUDA kernels, from ptxas.

Compiles every csrc/cuda/*.cu with nvcc and the project's build flags
(-std=c++17 -O3 --fmad=false -I include) plus -Xptxas -v for one GPU architecture,
and reads ptxas's report for each kernel: registers, stack frame, spill stores and
loads, barriers, shared memory, and the local (lmem) and constant (cmem[N]) figures
where this ptxas prints them (CUDA 13 prints cmem for sm_80 but not for sm_90).
Kernel names are demangled with cu++filt or c++filt when one is on the PATH.

    python scripts/cuda_resources.py                        # sm_90, into bench/results/
    python scripts/cuda_resources.py --arch sm_90,sm_80 --out /tmp/res

Writes OUT/cuda_resources.md (a table per architecture) and OUT/cuda_resources.json and
prints the tables. Needs nvcc, not a GPU.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
FLAGS = ["-std=c++17", "-O3", "--fmad=false"]

_ENTRY = re.compile(r"Compiling entry function '([^']+)' for '(\w+)'")
_PROPS = re.compile(r"Function properties for (\S+)")
_FRAME = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_USED = re.compile(r"Used (\d+) registers")
_BYTES = re.compile(r"(\d+) bytes (smem|lmem|cmem\[\d+\]|cumulative stack size)")
_BARRIERS = re.compile(r"used (\d+) barriers")
_GMEM = re.compile(r"(\d+) bytes gmem")


def find_nvcc(given: str | None) -> str:
    for candidate in (given, shutil.which("nvcc"),
                      os.path.join(os.environ.get("CUDA_HOME", "/usr/local/cuda"), "bin", "nvcc")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    sys.exit("nvcc not found (give --nvcc or set CUDA_HOME)")


def demangle(names: list[str]) -> dict[str, str]:
    """Mangled -> demangled with cu++filt or c++filt (one call for all); names unchanged without one."""
    tool = shutil.which("cu++filt") or shutil.which("c++filt")
    if not tool or not names:
        return {n: n for n in names}
    out = subprocess.run([tool], input="\n".join(names) + "\n", capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    if len(lines) != len(names):
        return {n: n for n in names}
    return dict(zip(names, lines))


def short_name(demangled: str) -> str:
    """'void ns::(anonymous namespace)::k<float, true>(Args)' -> 'k<float, true>'."""
    s = demangled.replace("(anonymous namespace)::", "")
    depth = 0
    for i, ch in enumerate(s):  # cut the parameter list: the first '(' outside template brackets
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "(" and depth == 0:
            s = s[:i]
            break
    if s.startswith("void "):
        s = s[5:]
    depth, start = 0, 0
    for i, ch in enumerate(s):  # drop the namespaces (the last '::' outside template brackets)
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == ":" and depth == 0 and s[i:i + 2] == "::":
            start = i + 2
    return s[start:]


def parse_ptxas(text: str, source: str) -> tuple[list[dict], int | None]:
    """The kernels ptxas reports in `text` (entry functions, and non-inlined device functions)."""
    kernels: dict[str, dict] = {}
    current = None
    gmem = None
    for line in text.splitlines():
        if m := _GMEM.search(line):
            gmem = int(m.group(1))
        if m := _ENTRY.search(line):
            current = kernels.setdefault(m.group(1), {"mangled": m.group(1), "source": source, "arch": m.group(2),
                                                      "entry": True})
            continue
        if m := _PROPS.search(line):
            current = kernels.setdefault(m.group(1), {"mangled": m.group(1), "source": source, "entry": False})
            continue
        if current is None:
            continue
        if m := _FRAME.search(line):
            current["stack_frame_bytes"] = int(m.group(1))
            current["spill_store_bytes"] = int(m.group(2))
            current["spill_load_bytes"] = int(m.group(3))
        if m := _USED.search(line):
            current["registers"] = int(m.group(1))
            if b := _BARRIERS.search(line):
                current["barriers"] = int(b.group(1))
            for value, what in _BYTES.findall(line):
                key = {"smem": "smem_bytes", "lmem": "lmem_bytes",
                       "cumulative stack size": "cumulative_stack_bytes"}.get(what)
                if key is None:  # cmem[N]
                    current.setdefault("cmem_bytes", {})[what[5:-1]] = int(value)
                else:
                    current[key] = int(value)
    return [k for k in kernels.values() if "registers" in k or k.get("entry")], gmem


def compile_one(nvcc: str, source: pathlib.Path, arch: str, root: pathlib.Path, workdir: str) -> str:
    cmd = [nvcc, *FLAGS, f"-arch={arch}", "-I", str(root / "include"), "-Xptxas", "-v", "-c", str(source),
           "-o", os.path.join(workdir, source.stem + ".o")]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=root)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        sys.exit(f"nvcc failed on {source.relative_to(root)} ({' '.join(cmd)})")
    return proc.stdout + proc.stderr


def nvcc_version(nvcc: str) -> str:
    out = subprocess.run([nvcc, "--version"], capture_output=True, text=True).stdout
    m = re.search(r"release ([\d.]+), (V[\d.]+)", out)
    return f"{m.group(1)} ({m.group(2)})" if m else out.strip().splitlines()[-1]


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return " ".join(f"[{k}]{v}" for k, v in sorted(value.items())) or "-"
    return str(value)


def table(kernels: list[dict]) -> str:
    cols = [("source", "source"), ("kernel", "kernel"), ("registers", "regs"), ("stack_frame_bytes", "stack B"),
            ("spill_store_bytes", "spill st B"), ("spill_load_bytes", "spill ld B"), ("barriers", "barriers"),
            ("smem_bytes", "smem B"), ("lmem_bytes", "lmem B"), ("cmem_bytes", "cmem B")]
    rows = [[_fmt(k.get(key)) for key, _ in cols] for k in kernels]
    head = [title for _, title in cols]
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(cols))]
    numeric = [i >= 2 for i in range(len(cols))]

    def line(cells):
        return "| " + " | ".join(c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric)) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if num else ("-" * (w + 2)) for w, num in zip(widths, numeric)) + "|"
    return "\n".join([line(head), rule] + [line(r) for r in rows])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="sm_90",
                        help="GPU architecture(s) as nvcc's -arch, comma-separated (default sm_90)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"), help="output folder (default bench/results)")
    parser.add_argument("--root", default=str(ROOT), help="source tree holding csrc/cuda and include (default: this one)")
    parser.add_argument("--nvcc", default=None, help="the nvcc to use (default: PATH, then CUDA_HOME)")
    args = parser.parse_args(argv)

    root = pathlib.Path(args.root).resolve()
    nvcc = find_nvcc(args.nvcc)
    archs = [a.strip() for a in args.arch.split(",") if a.strip()]
    sources = sorted((root / "csrc" / "cuda").glob("*.cu"))
    if not sources:
        sys.exit(f"no .cu files under {root / 'csrc' / 'cuda'}")
    version = nvcc_version(nvcc)
    flags = " ".join([*FLAGS, "-I include", "-Xptxas -v"])
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        for arch in archs:
            kernels, gmem = [], {}
            for source in sources:
                rel = str(source.relative_to(root))
                found, gmem[rel] = parse_ptxas(compile_one(nvcc, source, arch, root, workdir), rel)
                kernels += found
            results.append({"arch": arch, "gmem_bytes": gmem, "kernels": kernels})
    names = demangle([k["mangled"] for r in results for k in r["kernels"]])
    first = ("source", "kernel", "demangled")  # mangled names carry a per-compile hash: left out
    for r in results:
        for k in r["kernels"]:
            k["demangled"] = names[k["mangled"]]
            k["kernel"] = short_name(k["demangled"])
            k["source"] = pathlib.PurePath(k["source"]).name
        r["kernels"].sort(key=lambda k: (k["source"], k["kernel"]))
        r["kernels"] = [{key: k[key] for key in first}
                        | {key: v for key, v in k.items() if key not in first and key != "mangled"}
                        for k in r["kernels"]]

    note = ("Per-thread figures from ptxas (-Xptxas -v): registers; stack frame and spill bytes; barriers (named "
            "barriers used); shared memory (static, per block); lmem and cmem[bank] bytes only where this ptxas "
            "reports them ('-' = not reported).")
    command = "python scripts/cuda_resources.py" + (f" --arch {','.join(archs)}" if archs != ["sm_90"] else "")
    md = [f"# CUDA kernel resources\n\n`{command}`: nvcc {version}, `{flags} -arch=ARCH`, every csrc/cuda/*.cu.\n"
          f"{note}\n"]
    for r in results:
        md.append(f"\n## {r['arch']}\n\n{table(r['kernels'])}\n")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "cuda_resources.md").write_text("".join(md))
    (out / "cuda_resources.json").write_text(json.dumps({
        "nvcc": version, "flags": flags, "date": datetime.date.today().isoformat(), "results": results},
        indent=1) + "\n")
    for r in results:
        print(f"{r['arch']} (nvcc {version}, {flags} -arch={r['arch']})")
        print(table(r["kernels"]))
        print()
    print(f"wrote {out / 'cuda_resources.md'} and {out / 'cuda_resources.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
