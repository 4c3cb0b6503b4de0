#!/usr/bin/env python3
"""Wheels of the peer SNN libraries for a GPU machine without network access (``make gpu-wheels``).

Run where the package registry is reachable. Downloads, without dependencies and one
version each, the wheels the CUDA tests and benchmarks import (snntorch, spikingjelly,
norse, sinabs, nir, nirtorch and the small pure-Python packages they import that a
torch + pytest + scikit-build-core + numpy/h5py/matplotlib machine lacks: loguru, pbr),
for CPython 3.12 on x86-64 Linux, into one folder. ``scripts/gpu_check.py`` installs them
there offline.

norse 1.1.0 exists only as an sdist: its wheel is built here from that sdist. It is pure
Python (the sdist's CMakeLists.txt names a norse/csrc folder that the sdist does not ship,
and its setuptools build has no extension modules), so the wheel is py3-none-any and works
on any CPython 3. Every wheel is checked to be pure Python (tag ``none-any``, no compiled
files), so the same folder also installs on the Python running this script.

Not included, because such a machine already has them: packaging (pytest and
scikit-build-core require it), setuptools (pbr's own requirement; torch requires it on
Python >= 3.12, and pbr.version does not import it), numpy, h5py, matplotlib, torch.
Dependencies the libraries declare but do not import for what spikeops uses
(torchvision, torchaudio, tensorboard, requests, SciencePlots, samna) are left out.

Usage: python scripts/gpu_wheels.py [--dest gpu-wheels] [--python-version 3.12]
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

# Wheels published on the registry, pinned (the peers as in the Makefile's PEERS).
DOWNLOAD = ["snntorch==1.0.0", "spikingjelly==2.0.0", "sinabs==3.1.3", "nir==1.0.8", "nirtorch==2.6",
            "loguru==0.7.3", "pbr==7.1.3"]
# Published as an sdist only: a wheel is built from it.
BUILD = ["norse==1.1.0"]
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"]
COMPILED = re.compile(r"\.(so|pyd|dll|dylib)$|\.so\.")


def project(filename: str) -> str:
    """Normalised project name of a wheel file name."""
    return re.sub(r"[-_.]+", "-", filename.split("-")[0]).lower()


def run(cmd: list[str]) -> None:
    print("+", " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # pip's notes about the machine's local index folders are noise here.
    lines = [ln for ln in proc.stdout.splitlines() if "is ignored: it is neither a file nor a directory" not in ln]
    if proc.returncode != 0:
        print("\n".join(lines[-40:]))
        raise SystemExit(f"failed (exit {proc.returncode}): {' '.join(cmd)}\n"
                         "is the package registry reachable from this machine?")


def check_pure(wheel: Path) -> None:
    """A wheel that would not install and import on every CPython 3 is an error."""
    tag = wheel.name[:-len(".whl")].split("-")[-2:]
    with zipfile.ZipFile(wheel) as z:
        compiled = [n for n in z.namelist() if COMPILED.search(n)]
    if tag != ["none", "any"] or compiled:
        raise SystemExit(f"{wheel.name} is not pure Python (tag {'-'.join(tag)}, compiled files {compiled[:3]}); "
                         "it would need a wheel per Python version")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dest", default="gpu-wheels", help="folder for the wheels (default gpu-wheels)")
    ap.add_argument("--python-version", default="3.12", help="CPython version of the GPU machine (default 3.12)")
    args = ap.parse_args(argv)
    dest = Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip"]
    with tempfile.TemporaryDirectory(prefix="gpu-wheels-") as tmp:
        stage = Path(tmp)
        platforms = [a for p in PLATFORMS for a in ("--platform", p)]
        run([*pip, "download", "--no-deps", "--only-binary=:all:", "--python-version", args.python_version,
             "--implementation", "cp", *platforms, "-d", str(stage), *DOWNLOAD])
        # --no-cache-dir: built from the sdist every time, never a wheel cached by an earlier install.
        run([*pip, "wheel", "--no-deps", "--no-cache-dir", "--no-binary", ",".join(r.split("==")[0] for r in BUILD),
             "-w", str(stage), *BUILD])
        wheels = sorted(stage.glob("*.whl"))
        for w in wheels:
            check_pure(w)
        got = {project(w.name) for w in wheels}
        want = {project(r.split("==")[0]) for r in DOWNLOAD + BUILD}
        if got != want or len(wheels) != len(want):
            raise SystemExit(f"expected one wheel each of {sorted(want)}, got {[w.name for w in wheels]}")
        # One version each in dest: an earlier run's wheel of the same project goes.
        for old in dest.glob("*.whl"):
            if project(old.name) in want and not (stage / old.name).exists():
                print(f"removing {old}")
                old.unlink()
        for w in wheels:
            shutil.copy2(w, dest / w.name)
    print(f"{len(wheels)} wheels in {dest}:")
    for w in sorted(dest.glob("*.whl")):
        print(f"  {w.name}  ({w.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
