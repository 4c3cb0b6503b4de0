"""`make gpu-wheels` and the offline install of `make gpu-check`, end to end.

The GPU machine has no network: the peer libraries travel as the wheels of
scripts/gpu_wheels.py and are installed there by scripts/gpu_check.py's install-wheels
(the same function its install step runs). Here, with the package registry: download and
build them, install them offline into a fresh folder, and import every peer from it. The
wheels are for CPython 3.12; they are all pure Python (checked), so they install and import
on the Python running the tests as well. Needs the package registry: without it this test
fails (it does not skip).
"""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEERS = ["snntorch", "spikingjelly", "spikingjelly.activation_based.neuron", "norse", "sinabs", "nir", "nirtorch"]


def tail(text, n=30):
    return "\n".join(text.splitlines()[-n:])


def test_make_target_runs_the_wheels_script():
    if shutil.which("make") is None:
        raise AssertionError("make is not installed")
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}  # under `make test`
    proc = subprocess.run(["make", "--no-print-directory", "-n", "gpu-wheels", "WHEELS=/some/dir"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines()[-1].endswith("scripts/gpu_wheels.py --dest /some/dir"), proc.stdout


def test_wheels_install_offline_and_every_peer_imports_from_them(tmp_path):
    wheels, site = tmp_path / "wheels", tmp_path / "site"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_wheels.py"), "--dest", str(wheels)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, ("scripts/gpu_wheels.py (make gpu-wheels) failed; it needs the package registry:\n"
                                  + tail(proc.stdout + proc.stderr))
    names = sorted(p.name for p in wheels.glob("*.whl"))
    projects = [re.sub(r"[-_.]+", "-", n.split("-")[0]).lower() for n in names]
    assert len(projects) == len(set(projects)), f"more than one version of a project: {names}"
    for peer in ("snntorch", "spikingjelly", "norse", "sinabs", "nir", "nirtorch"):
        assert peer in projects, f"no {peer} wheel in {names}"
    assert all(n.endswith("-none-any.whl") for n in names), f"not all pure Python: {names}"

    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "install-wheels", str(wheels),
                           str(site)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, "offline install failed:\n" + tail(proc.stdout + proc.stderr)

    code = ("import importlib, json, sys\n"
            "print(json.dumps({m: importlib.import_module(m).__file__ for m in sys.argv[1:]}))\n")
    env = dict(os.environ, PYTHONPATH=str(site))
    proc = subprocess.run([sys.executable, "-c", code, *PEERS], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env=env)
    assert proc.returncode == 0, "importing the peers failed:\n" + tail(proc.stdout + proc.stderr)
    files = json.loads(proc.stdout.strip().splitlines()[-1])
    for module, file in files.items():
        assert Path(file).resolve().is_relative_to(site.resolve()), f"{module} came from {file}, not from {site}"
