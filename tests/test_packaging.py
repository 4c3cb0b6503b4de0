"""Installing: what a user sees when the build cannot find torch, and the package metadata."""
import shutil
import subprocess
import tomllib
import venv
from pathlib import Path

import pybind11
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is a build requirement of the source install")
def test_build_without_visible_torch_says_how_to_install(tmp_path):
    """pip's default build isolation hides an installed torch from the build: the configure
    step must say so and give the command that works."""
    env_dir = tmp_path / "no-torch"
    venv.create(env_dir, with_pip=False)  # a Python that cannot import torch, as in an isolated build
    python = env_dir / "bin" / "python"
    proc = subprocess.run(["cmake", "-S", str(ROOT), "-B", str(tmp_path / "build"), f"-DPython_EXECUTABLE={python}",
                           f"-Dpybind11_DIR={pybind11.get_cmake_dir()}"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0
    message = " ".join(proc.stderr.split())
    assert "`import torch` failed" in message
    assert "pip install --no-build-isolation ." in message


def test_runtime_dependencies_are_declared():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {d.split(">")[0].split("=")[0].split("<")[0].strip() for d in meta["dependencies"]}
    assert {"torch", "numpy"} <= names
