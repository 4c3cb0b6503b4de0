"""Every CUDA source compiles, also on machines without a GPU or a CUDA torch.

The kernels (csrc/cuda/*.cu) include no torch headers, so nvcc compiles them
standalone for the architectures the package targets; the CUDA glue is compiled
against torch's headers with SPIKEOPS_WITH_CUDA defined. Skipped only where no
nvcc exists at all.
"""
import os
import pathlib
import shutil
import subprocess
import sysconfig
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch
import torch.utils.cpp_extension as cpp_ext

ROOT = pathlib.Path(__file__).resolve().parents[1]


def find_nvcc():
    for candidate in (os.environ.get("CUDACXX"), shutil.which("nvcc"),
                      os.path.join(os.environ.get("CUDA_HOME", "/usr/local/cuda"), "bin", "nvcc")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


NVCC = find_nvcc()
pytestmark = pytest.mark.skipif(NVCC is None, reason="no nvcc on this machine")


def run(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return cmd, proc.returncode, proc.stdout + proc.stderr


def test_every_kernel_compiles_with_nvcc(tmp_path):
    sources = sorted((ROOT / "csrc" / "cuda").glob("*.cu"))
    assert sources, "no CUDA sources found"
    arch = ["-gencode", "arch=compute_80,code=sm_80", "-gencode", "arch=compute_90,code=sm_90"]
    cmds = [[NVCC, "-std=c++17", "-O3", "--fmad=false", "-Werror", "all-warnings", *arch, "-I", str(ROOT / "include"),
             "-c", str(src), "-o", str(tmp_path / (src.stem + ".o"))] for src in sources]
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        results = list(pool.map(run, cmds))
    failures = [f"{' '.join(cmd)}\n{out}" for cmd, rc, out in results if rc != 0]
    assert not failures, "\n\n".join(failures)


def test_cuda_glue_compiles(tmp_path):
    """csrc/torch/ compiled as the CUDA build compiles it (syntax and templates, no link)."""
    homes = [os.environ.get("CUDA_HOME"), str(pathlib.Path(NVCC).resolve().parents[1]), "/usr/local/cuda"]
    cuda_include = next((pathlib.Path(h) / "include" for h in homes
                         if h and (pathlib.Path(h) / "include" / "cuda_runtime_api.h").is_file()), None)
    assert cuda_include is not None, f"nvcc at {NVCC} but no CUDA include directory; set CUDA_HOME"
    includes = [*cpp_ext.include_paths(), str(cuda_include), str(ROOT / "include"),
                sysconfig.get_paths()["include"]]
    if not torch.version.cuda:
        # A CPU build of torch ships the c10/cuda headers but not this generated one.
        macros = tmp_path / "c10" / "cuda" / "impl" / "cuda_cmake_macros.h"
        macros.parent.mkdir(parents=True)
        macros.write_text("#define C10_CUDA_BUILD_SHARED_LIBS\n")
        includes.append(str(tmp_path))
    cxx = os.environ.get("CXX", "c++")
    flags = ["-std=c++20", "-fsyntax-only", "-DSPIKEOPS_WITH_CUDA",
             f"-D_GLIBCXX_USE_CXX11_ABI={int(torch._C._GLIBCXX_USE_CXX11_ABI)}"]
    cmds = [[cxx, *flags, *[f"-I{d}" for d in includes], str(ROOT / "csrc" / "torch" / name)]
            for name in ("ops_cuda.cpp", "lif_ops.cpp", "elementwise_ops.cpp", "lif_fixed_ops.cpp", "lif_substep_ops.cpp",
                         "spike_linear_ops.cpp")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, cmds))
    failures = [f"{' '.join(cmd)}\n{out}" for cmd, rc, out in results if rc != 0]
    assert not failures, "\n\n".join(failures)
