#!/usr/bin/env python3
"""The CUDA half of spikeops checked on a GPU machine in one short run (``make gpu-check``).

    python3 scripts/gpu_check.py --out DIR --wheels DIR    # every step below, results in DIR
    python3 scripts/gpu_check.py install-wheels WHEELS TARGET   # only the offline install
    python3 scripts/gpu_check.py readme DIR                     # README.md's GPU results from DIR

Runs with the Python it is started with (never a new virtual environment): its torch is the
one the kernels are built against. Steps, each logged with its wall time to stdout and
DIR/log.txt, each with a timeout, a failure recorded without stopping the rest:

    probe          python, torch, whether torch sees a GPU
    nvidia-smi     ``nvidia-smi -q`` (nvidia-smi.txt) and a summary: GPU, driver, memory, clocks
    install-wheels the peer libraries' wheels (``make gpu-wheels``) installed offline into a
                   temporary folder that is on PYTHONPATH for every later step
    build          ``pip install --no-build-isolation --no-deps -e .``; with a GPU: SPIKEOPS_CUDA=ON,
                   TORCH_CUDA_ARCH_LIST of that GPU, one job per core, and a failure if
                   spikeops._C.cuda_built is false; without one: SPIKEOPS_CUDA=AUTO (the options of
                   ``make build``, so the result is the same build)
    info           ``python -m spikeops info``
    pytest         tests/test_cuda.py, tests/test_emulated_cuda.py, tests/test_cuda_build.py
                   (pytest.txt, junit.xml)
    sanitizer      compute-sanitizer memcheck on a small script (sanitizer_case.py): F.lif forward and
                   backward in float32/float16/bfloat16 at N = 64 and 61 (stdb surrogate, refractory
                   1, learnable per-neuron threshold), soft_lif, fs_neuron, lif_fixed
    resources      ``scripts/cuda_resources.py --out DIR`` (register/stack/spill counts) when present
    bench          ``python -m spikeops bench --device cuda --out DIR`` (lif_cuda.md, lif_cuda.json)

Without a GPU the steps that need one are recorded as skipped, so the same command is a
rehearsal on a CPU machine. At the end: DIR/summary.md (and printed) and DIR/summary.json;
the exit status is 1 if any step failed. After a run on a GPU, README.md's GPU results
(between its gpu-check markers) are rewritten from DIR.
The whole run keeps to --budget seconds (default
470 with a GPU: under 8 minutes): each step's timeout is its own cap or what is left.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST_FILES = ["tests/test_cuda.py", "tests/test_emulated_cuda.py", "tests/test_cuda_build.py"]
NEEDS_GPU = "needs a GPU"
# Per-step time caps in seconds on the GPU machine (16 cores); multiplied by CPU_SCALE without a GPU.
CAPS = {"probe": 90, "nvidia-smi": 30, "install-wheels": 60, "build": 200, "info": 60, "pytest": 200,
        "sanitizer": 120, "resources": 90, "bench": 180}
CPU_SCALE = 4
GPU_BUDGET = 470
CPU_BUDGET = 1800


# --------------------------------------------------------------------------- wheels

def install_wheels_command(wheels_dir, target, python=None) -> list[str]:
    """The offline install of every wheel in wheels_dir into target (no index, no dependencies)."""
    wheels = sorted(Path(wheels_dir).glob("*.whl"))
    if not wheels:
        raise FileNotFoundError(f"no wheels in {wheels_dir}: run `make gpu-wheels` where the package registry "
                                "is reachable and bring that folder along")
    return [python or sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
            "--no-cache-dir", "--upgrade", "--target", str(target), *map(str, wheels)]


def install_wheels(wheels_dir, target, python=None, timeout=None, out_file=None, env=None):
    """Installs every wheel of wheels_dir into target, offline; returns pip's exit status (None: timed out).

    Put target on PYTHONPATH afterwards. The install-wheels step and the install-wheels
    subcommand (run by tests/test_gpu_wheels.py) both come here, so CI checks the very
    install the GPU machine runs. out_file: where pip's output goes (default: this terminal).
    """
    cmd = install_wheels_command(wheels_dir, target, python)
    Path(target).mkdir(parents=True, exist_ok=True)
    if out_file is None:
        try:
            return subprocess.run(cmd, timeout=timeout, env=env).returncode
        except subprocess.TimeoutExpired:
            return None
    return run_logged(cmd, out_file, timeout, env=env)[0]


# --------------------------------------------------------------------------- running commands

def run_logged(cmd, out_file, timeout, env=None, cwd=ROOT, append=False):
    """Runs cmd with stdout+stderr streamed into out_file (so a killed run keeps its output).

    Returns (exit status or None on timeout, seconds). On timeout the whole process group
    is stopped (SIGTERM, then SIGKILL).
    """
    out_file = Path(out_file)
    if not append:
        out_file.write_text("")
    with out_file.open("a") as f:  # O_APPEND: the child's output and these notes never overwrite each other
        f.write(f"$ {' '.join(map(str, cmd))}\n")
        f.flush()
        start = time.monotonic()
        try:
            proc = subprocess.Popen(list(map(str, cmd)), stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, cwd=cwd, start_new_session=True)
        except OSError as e:
            f.write(f"could not start: {e}\n")
            return 127, 0.0
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(timeout=grace)
                    break
                except subprocess.TimeoutExpired:
                    continue
            f.write(f"\n[stopped after the step's timeout of {timeout:.0f} s]\n")
            rc = None
        return rc, time.monotonic() - start


def tail(path, n=15) -> str:
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    " + ln for ln in lines[-n:])


def status_of(rc, timeout, what="") -> tuple[str, str]:
    if rc is None:
        return "FAILED", f"timed out after {timeout:.0f} s"
    if rc != 0:
        return "FAILED", f"{what}exit status {rc}"
    return "ok", ""


# --------------------------------------------------------------------------- nvidia-smi -q

SMI_FIELDS = [("GPU", "Product Name"), ("driver", "Driver Version"), ("CUDA (driver)", "CUDA Version"),
              ("memory total", "FB Memory Usage/Total"), ("max clocks SM", "Max Clocks/SM"),
              ("max clocks memory", "Max Clocks/Memory"), ("clocks SM (at the query)", "Clocks/SM"),
              ("clocks memory (at the query)", "Clocks/Memory"), ("power limit", "GPU Power Readings/Current Power Limit"),
              ("power limit", "Power Readings/Power Limit"), ("performance state", "Performance State"),
              ("persistence mode", "Persistence Mode"), ("MIG mode", "MIG Mode/Current"),
              ("compute mode", "Compute Mode"), ("bus id", "Bus Id")]


def parse_nvidia_smi(text: str) -> dict:
    """The SMI_FIELDS of the first GPU of `nvidia-smi -q` ('Section/Key' paths from the indentation)."""
    values, stack, gpus = {}, [], 0
    for line in text.splitlines():
        if not line.strip() or line.startswith("="):
            continue
        if re.match(r"GPU [0-9A-Fa-f]+:", line):  # "GPU 00000000:00:05.0" opens a GPU's block
            gpus += 1
            if gpus > 1:
                break
            stack = []
            continue
        indent = len(line) - len(line.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        key, sep, value = (part.strip() for part in line.partition(":"))
        if sep and value:
            values.setdefault("/".join([name for _, name in stack] + [key]), value)
        else:
            stack.append((indent, key))
    summary = {}
    for label, key in SMI_FIELDS:
        if key in values and label not in summary:
            summary[label] = values[key]
    return summary


# --------------------------------------------------------------------------- the sanitizer case

SANITIZER_CASE = textwrap.dedent('''\
    """Small runs of every CUDA kernel for compute-sanitizer memcheck (written by scripts/gpu_check.py).

    python sanitizer_case.py [cuda|cpu]: cpu runs the float32 cases only (a check of the script).
    """
    import sys

    import torch

    import spikeops
    from spikeops import functional as F

    dev = sys.argv[1] if len(sys.argv) > 1 else "cuda"
    dtypes = (torch.float32, torch.float16, torch.bfloat16) if dev == "cuda" else (torch.float32,)
    torch.manual_seed(0)
    for dtype in dtypes:
        for N in (64, 61):
            # LIF: stdb surrogate (saved ages), refractory steps, a learnable per-neuron threshold.
            x = (torch.randn(7, 3, N, device=dev) * 0.8 + 0.6).to(dtype).requires_grad_()
            theta = (torch.rand(N, device=dev) + 0.5).requires_grad_()
            s, st = F.lif(x, decay=0.7, threshold=theta, surrogate="stdb", refractory=1)
            (s.float().sum() + st.v.float().square().sum()).backward()
            assert x.grad is not None and theta.grad is not None and torch.isfinite(theta.grad).all()
            # Element-wise neurons.
            y = (torch.randn(3, N, device=dev) * 2).to(dtype).requires_grad_()
            F.soft_lif(y).float().sum().backward()
            z = (torch.rand(3, N, device=dev) * 4).to(dtype).requires_grad_()
            K = 6
            h = (2.0 ** -torch.arange(K, device=dev, dtype=torch.float32) * 2).requires_grad_()
            d = (2.0 ** -torch.arange(K, device=dev, dtype=torch.float32) * 2).requires_grad_()
            th = (2.0 ** -torch.arange(K, device=dev, dtype=torch.float32) * 2).requires_grad_()
            out = F.fs_neuron(z, h, d, th)
            out.float().sum().backward()
            assert y.grad is not None and z.grad is not None and h.grad is not None
            print(f"{dev} {str(dtype).replace('torch.', '')} N={N}: lif, soft_lif, fs_neuron forward+backward ok")
    # Fixed-point LIF (integer input), twice, handing the state over.
    for N in (64, 61):
        a = torch.randint(-2000, 2000, (9, 2, N), device=dev, dtype=torch.int32)
        bias = torch.randint(-100, 100, (2, N), device=dev, dtype=torch.int32)
        spk, state = F.lif_fixed(a, du=1024, dv=256, vth_mant=30, bias_mant=bias, bias_exp=3, refractory=1)
        spk2, state2, *traces = F.lif_fixed(a, du=1024, dv=256, vth_mant=30, bias_mant=bias, bias_exp=3,
                                            refractory=1, state=state, return_states=True)
        print(f"{dev} N={N}: lif_fixed ok ({int(spk.sum()) + int(spk2.sum())} spikes)")
    if dev == "cuda":
        torch.cuda.synchronize()
    print("sanitizer case: done")
''')


def find_tool(name):
    for candidate in (shutil.which(name), os.path.join(os.environ.get("CUDA_HOME", "/usr/local/cuda"), "bin", name),
                      f"/usr/local/cuda/bin/{name}"):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


# --------------------------------------------------------------------------- the check

class Check:
    def __init__(self, out: Path, wheels: Path, python: str, budget: float | None, bench_repeats: int):
        self.out, self.wheels, self.python, self.bench_repeats = out, wheels, python, bench_repeats
        self.out.mkdir(parents=True, exist_ok=True)
        self.log = (out / "log.txt").open("w")
        self.start = time.monotonic()
        self.budget = budget
        self.deadline = None
        self.steps = []
        self.gpu = False
        self.probe = {}
        self.gpu_info = {}
        self.missing_tests = []
        self.pytest_counts = {}
        self.site = Path(tempfile.mkdtemp(prefix="spikeops-gpu-check-site-"))
        self.env = dict(os.environ, PYTHONUNBUFFERED="1")

    def say(self, msg: str):
        print(msg, flush=True)
        self.log.write(msg + "\n")
        self.log.flush()

    def step(self, name, fn, needs_gpu=False):
        cap = CAPS[name] * (1 if self.gpu else CPU_SCALE)
        now = time.monotonic()
        if self.deadline is not None:
            cap = min(cap, self.deadline - now)
        if needs_gpu and not self.gpu:
            status, detail, wall = "skipped", NEEDS_GPU + " (torch sees no CUDA GPU here)", 0.0
            self.say(f"== {name}: skipped: {NEEDS_GPU}")
        elif cap < 5:
            status, detail, wall = "skipped", f"the time budget of {self.budget:.0f} s was spent", 0.0
            self.say(f"== {name}: skipped: {detail}")
        else:
            self.say(f"== {name} (timeout {cap:.0f} s) ...")
            try:
                status, detail = fn(cap)
            except Exception as e:  # a bug or a missing tool: recorded, the other steps still run
                status, detail = "FAILED", f"{type(e).__name__}: {e}"
            wall = time.monotonic() - now
            self.say(f"-- {name}: {status}{': ' + detail if detail else ''} ({wall:.1f} s)")
        self.steps.append({"step": name, "status": status, "detail": detail, "wall_s": round(wall, 1)})
        return status

    def run(self, name, cmd, timeout, env=None, append=False):
        out_file = self.out / f"{name}.txt"
        shown = [("<script>" if i and cmd[i - 1] == "-c" else str(a)) for i, a in enumerate(cmd)]
        self.say(f"   $ {' '.join(shown)}  > {out_file.name}")
        rc, _ = run_logged(cmd, out_file, timeout, env=env or self.env, append=append)
        if rc != 0:
            self.say(tail(out_file))
        return rc

    # ---- steps

    def s_probe(self, timeout):
        code = ("import json, sys, platform, importlib.util as u, torch\n"
                "d = {'python': platform.python_version(), 'executable': sys.executable, 'torch': torch.__version__,\n"
                "     'cuda': torch.version.cuda, 'gpu': torch.cuda.is_available(),\n"
                "     'pytest_timeout': u.find_spec('pytest_timeout') is not None,\n"
                "     'xdist': u.find_spec('xdist') is not None}\n"
                "if d['gpu']:\n"
                "    p = torch.cuda.get_device_properties(0)\n"
                "    d.update(device=p.name, capability=f'{p.major}.{p.minor}', sms=p.multi_processor_count,\n"
                "             memory_gib=round(p.total_memory / 2**30, 1), devices=torch.cuda.device_count())\n"
                "print('PROBE ' + json.dumps(d))\n")
        rc = self.run("probe", [self.python, "-c", code], timeout)
        for line in (self.out / "probe.txt").read_text(errors="replace").splitlines():
            if line.startswith("PROBE "):
                self.probe = json.loads(line[6:])
        self.gpu = bool(self.probe.get("gpu"))
        if self.budget is None:
            self.budget = GPU_BUDGET if self.gpu else CPU_BUDGET
        self.deadline = self.start + self.budget
        status, detail = status_of(rc, timeout)
        if status == "ok":
            p = self.probe
            detail = (f"python {p.get('python')}, torch {p.get('torch')} (CUDA {p.get('cuda') or 'none'}), " +
                      (f"GPU {p.get('device')} (sm_{p.get('capability', '').replace('.', '')})" if self.gpu
                       else "no GPU visible to torch: CPU rehearsal"))
        return status, detail

    def s_nvidia_smi(self, timeout):
        smi = find_tool("nvidia-smi")
        if smi is None:
            if self.gpu:
                return "FAILED", "nvidia-smi not found"
            return "skipped", NEEDS_GPU + " (no nvidia-smi here)"
        rc = self.run("nvidia-smi", [smi, "-q"], timeout)
        text = (self.out / "nvidia-smi.txt").read_text(errors="replace")
        self.gpu_info = parse_nvidia_smi(text)
        status, detail = status_of(rc, timeout)
        if status == "ok":
            detail = ", ".join(f"{k} {v}" for k, v in self.gpu_info.items() if k in ("GPU", "driver", "memory total"))
        elif not self.gpu:
            return "skipped", NEEDS_GPU + f" (nvidia-smi: exit status {rc})"
        return status, detail

    def s_install_wheels(self, timeout):
        out_file = self.out / "install-wheels.txt"
        self.say(f"   $ {self.python} -m pip install ... --target {self.site} {self.wheels}/*.whl  > {out_file.name}")
        try:
            rc = install_wheels(self.wheels, self.site, self.python, timeout, out_file, self.env)
        except FileNotFoundError as e:
            out_file.write_text(str(e) + "\n")
            return "FAILED", str(e)
        status, detail = status_of(rc, timeout)
        if status != "ok":
            self.say(tail(out_file))
            return status, detail
        self.env["PYTHONPATH"] = os.pathsep.join([str(self.site)] + ([os.environ["PYTHONPATH"]]
                                                                     if os.environ.get("PYTHONPATH") else []))
        names = sorted(w.name for w in self.wheels.glob("*.whl"))
        with out_file.open("a") as f:
            f.write("installed:\n" + "".join(f"  {n}\n" for n in names))
        return "ok", f"{len(names)} wheels, on PYTHONPATH from here on"

    def s_build(self, timeout):
        cmd = [self.python, "-m", "pip", "install", "-v", "--no-build-isolation", "--no-deps"]
        env = dict(self.env)
        if self.gpu:
            arch = self.probe.get("capability") or "9.0"
            cmd += ["-C", "cmake.define.SPIKEOPS_CUDA=ON"]
            jobs = str(os.cpu_count() or 16)
            env.update(TORCH_CUDA_ARCH_LIST=arch, CMAKE_BUILD_PARALLEL_LEVEL=jobs, MAX_JOBS=jobs)
            self.say(f"   TORCH_CUDA_ARCH_LIST={arch} CMAKE_BUILD_PARALLEL_LEVEL={jobs}")
        # Without a GPU: SPIKEOPS_CUDA left at AUTO, the options of `make build`.
        cmd += ["-C", "cmake.define.SPIKEOPS_EMULATED_CUDA=AUTO", "-e", "."]
        rc = self.run("build", cmd, timeout, env=env)
        status, detail = status_of(rc, timeout)
        if status != "ok":
            return status, detail
        code = ("import importlib.util as u, spikeops._C as c; "
                "print('CUDA_BUILT', bool(c.cuda_built), u.find_spec('spikeops._emulated_cuda') is not None)")
        rc = self.run("build", [self.python, "-c", code], 60, append=True)
        line = next((ln for ln in (self.out / "build.txt").read_text(errors="replace").splitlines()
                     if ln.startswith("CUDA_BUILT ")), "")
        if rc != 0 or not line:
            return "FAILED", "the build finished but `import spikeops._C` failed"
        cuda_built, emulated = (w == "True" for w in line.split()[1:3])
        what = (f"CUDA kernels {'built' if cuda_built else 'NOT built'}, "
                f"emulated-CUDA test module {'built' if emulated else 'not built'}")
        if self.gpu and not cuda_built:
            return "FAILED", f"a GPU is present but spikeops._C.cuda_built is False ({what})"
        return "ok", ("SPIKEOPS_CUDA=ON: " if self.gpu else "CPU build, SPIKEOPS_CUDA=AUTO: ") + what

    def s_info(self, timeout):
        rc = self.run("info", [self.python, "-m", "spikeops", "info"], timeout)
        status, detail = status_of(rc, timeout)
        if status == "ok":
            detail = "; ".join((self.out / "info.txt").read_text(errors="replace").splitlines()[1:])
        return status, detail

    def s_pytest(self, timeout):
        files = [f for f in TEST_FILES if (ROOT / f).exists()]
        self.missing_tests = [f for f in TEST_FILES if f not in files]
        if not files:
            return "FAILED", "none of the test files exists"
        junit = self.out / "junit.xml"
        junit.unlink(missing_ok=True)
        cmd = [self.python, "-m", "pytest", *files, "-p", "no:cacheprovider", "-o", "addopts=", "-v", "-rfEs",
               "--durations=15", "--junitxml", str(junit)]
        if self.probe.get("pytest_timeout"):  # one hanging test fails alone instead of ending the step
            cmd += ["--timeout", str(int(max(30, min(150, timeout - 20))))]
        if self.probe.get("xdist") and len(files) > 1:
            # One worker per file, each file's tests in their usual order in one process: the run
            # takes as long as the longest file instead of the sum (nvcc, the GPU, the emulation).
            cmd += ["-n", str(len(files)), "--dist", "loadfile"]
        rc = self.run("pytest", cmd, timeout)
        counts = junit_counts(junit)
        self.pytest_counts = counts
        missing = f"; missing: {', '.join(self.missing_tests)}" if self.missing_tests else ""
        if rc is None:
            return "FAILED", f"timed out after {timeout:.0f} s (partial output in pytest.txt){missing}"
        summary = counts_text(counts) if counts else "no junit.xml"
        return ("ok" if rc == 0 else "FAILED"), f"{summary}{missing}" + ("" if rc in (0, 1) else f" (exit status {rc})")

    def s_sanitizer(self, timeout):
        case = self.out / "sanitizer_case.py"
        case.write_text(SANITIZER_CASE)
        if not self.gpu:
            # No memcheck without a GPU; the case script itself is checked on the CPU (float32).
            rc = self.run("sanitizer", [self.python, case, "cpu"], timeout)
            if rc != 0:
                return "FAILED", "the case script fails on the CPU (float32), see sanitizer.txt"
            return "skipped", NEEDS_GPU + " (its case script ran on the CPU in float32: ok)"
        tool = find_tool("compute-sanitizer")
        if tool is None:
            return "FAILED", "compute-sanitizer not found"
        env = dict(self.env, PYTORCH_NO_CUDA_MEMORY_CACHING="1")
        rc = self.run("sanitizer", [tool, "--tool", "memcheck", "--error-exitcode", "3", "--print-limit", "50",
                                    self.python, case, "cuda"], timeout, env=env)
        text = (self.out / "sanitizer.txt").read_text(errors="replace")
        m = re.search(r"ERROR SUMMARY: (\d+) error", text)
        if rc is None:
            return "FAILED", f"timed out after {timeout:.0f} s"
        if "Device not supported" in text:
            return "FAILED", "compute-sanitizer cannot run on this machine (Device not supported)"
        if rc == 3 or (m and int(m.group(1)) > 0):
            return "FAILED", f"memcheck: {m.group(1) if m else 'some'} errors (sanitizer.txt)"
        if rc != 0 or "sanitizer case: done" not in text:
            return "FAILED", f"the case script did not finish (exit status {rc})"
        return "ok", f"memcheck: {m.group(0) if m else 'no error summary'}"

    def s_resources(self, timeout):
        script = ROOT / "scripts" / "cuda_resources.py"
        if not script.exists():
            return "skipped", "scripts/cuda_resources.py does not exist"
        rc = self.run("resources", [self.python, script, "--out", self.out], timeout)
        return status_of(rc, timeout)

    def s_bench(self, timeout):
        rc = self.run("bench", [self.python, "-m", "spikeops", "bench", "--device", "cuda", "--out", self.out,
                                "--repeats", str(self.bench_repeats)], timeout)
        status, detail = status_of(rc, timeout)
        if rc is None:
            detail += " (rows measured so far are in bench.txt; lif_cuda.md was not written)"
        elif status == "ok":
            detail = f"--repeats {self.bench_repeats}: lif_cuda.md, lif_cuda.json"
        return status, detail

    # ---- the whole run

    def run_all(self) -> int:
        self.say(f"spikeops GPU check: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}, "
                 f"{platform.node()}, out {self.out}")
        self.step("probe", self.s_probe)
        if self.deadline is None:  # the probe itself failed
            self.budget = self.budget or CPU_BUDGET
            self.deadline = self.start + self.budget
        self.say(f"   budget {self.budget:.0f} s, GPU: {'yes' if self.gpu else 'no (CPU rehearsal)'}")
        self.step("nvidia-smi", self.s_nvidia_smi)
        self.step("install-wheels", self.s_install_wheels)
        self.step("build", self.s_build)
        self.step("info", self.s_info)
        self.step("pytest", self.s_pytest)
        self.step("sanitizer", self.s_sanitizer)
        self.step("resources", self.s_resources)
        self.step("bench", self.s_bench, needs_gpu=True)
        total = time.monotonic() - self.start
        shutil.rmtree(self.site, ignore_errors=True)
        failed = [s["step"] for s in self.steps if s["status"] == "FAILED"]
        md = self.summary_md(total, failed)
        (self.out / "summary.md").write_text(md)
        (self.out / "summary.json").write_text(json.dumps({
            "date": datetime.date.today().isoformat(), "command": " ".join(sys.argv), "gpu": self.gpu,
            "probe": self.probe, "budget_s": self.budget, "total_s": round(total, 1), "steps": self.steps,
            "pytest": self.pytest_counts, "missing_tests": self.missing_tests, "nvidia_smi": self.gpu_info,
            "failed": failed}, indent=2) + "\n")
        self.say("")
        self.say(md)
        if self.gpu:
            update_readme(self.out)
            self.say(f"README.md: GPU results updated from {self.out}")
        self.log.close()
        return 1 if failed else 0

    def summary_md(self, total, failed) -> str:
        p = self.probe
        machine = (f"{p.get('device')} (sm_{p.get('capability', '').replace('.', '')}, {p.get('sms')} SMs, "
                   f"{p.get('memory_gib')} GiB)" if self.gpu else "no GPU visible to torch: CPU rehearsal, "
                   "GPU steps skipped")
        lines = [f"# spikeops GPU check, {datetime.date.today().isoformat()}", "",
                 f"- command: `{Path(sys.executable).name} {' '.join(sys.argv)}`",
                 f"- machine: {machine}; {platform.node()}, {os.cpu_count()} cores",
                 f"- python {p.get('python')} ({p.get('executable')}), torch {p.get('torch')} (CUDA {p.get('cuda') or 'none'})",
                 f"- total {total:.0f} s (budget {self.budget:.0f} s); "
                 + (f"FAILED steps: {', '.join(failed)}" if failed else "no step failed"), "",
                 "| step | status | wall s | detail |", "|---|---|---:|---|"]
        for s in self.steps:
            status = s["status"] if s["status"] != "skipped" else f"skipped: {s['detail']}"
            detail = s["detail"] if s["status"] != "skipped" else ""
            lines.append(f"| {s['step']} | {status} | {s['wall_s']:.1f} | {detail.replace('|', '/')} |")
        lines.append("")
        if self.pytest_counts:
            lines.append(f"pytest ({', '.join(f for f in TEST_FILES if f not in self.missing_tests)}): "
                         f"{counts_text(self.pytest_counts)} (junit.xml)")
        else:
            lines.append("pytest: no junit.xml")
        if self.missing_tests:
            lines.append(f"test files not present: {', '.join(self.missing_tests)}")
        if self.gpu_info:
            lines += ["", "GPU (nvidia-smi -q, nvidia-smi.txt):", ""]
            lines += [f"- {k}: {v}" for k, v in self.gpu_info.items()]
        outputs = sorted({f.name for f in self.out.iterdir() if f.is_file()} | {"summary.md", "summary.json"})
        lines += ["", "Files: " + ", ".join(outputs), ""]
        return "\n".join(lines)


README_BEGIN, README_END = "<!-- gpu-check results: begin -->", "<!-- gpu-check results: end -->"


def update_readme(out: Path) -> None:
    """Puts a GPU run's summary.md and benchmark table (lif_cuda.md) into README.md between the markers,
    so the README's GPU figures always come from a committed results folder."""
    readme = ROOT / "README.md"
    text = readme.read_text()
    begin, end = text.index(README_BEGIN) + len(README_BEGIN), text.index(README_END)
    rel = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    body = [f"From `make gpu-check` ([{rel}/summary.md]({rel}/summary.md)):", ""]
    body += (out / "summary.md").read_text().split("\n", 1)[1].strip().splitlines()  # without its title
    bench = out / "lif_cuda.md"
    if bench.is_file():
        body += ["", f"Benchmark ([{rel}/lif_cuda.md]({rel}/lif_cuda.md)):", ""]
        body += [line.replace("# ", "#### ", 1) if line.startswith("# ") else line
                 for line in bench.read_text().strip().splitlines()]
    readme.write_text(text[:begin] + "\n" + "\n".join(body) + "\n" + text[end:])


def junit_counts(path) -> dict:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return {}
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    c = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}
    return {"passed": c["tests"] - c["failures"] - c["errors"] - c["skipped"], "failed": c["failures"],
            "errors": c["errors"], "skipped": c["skipped"], "total": c["tests"]}


def counts_text(c) -> str:
    return f"{c['passed']} passed, {c['failed']} failed, {c['errors']} errors, {c['skipped']} skipped"


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["readme"]:  # README.md's GPU results from a results folder, again
        update_readme(Path(argv[1]).resolve())
        return 0
    if argv[:1] == ["install-wheels"]:
        ap = argparse.ArgumentParser(prog="gpu_check.py install-wheels",
                                     description="install every wheel of WHEELS into TARGET, offline, no dependencies")
        ap.add_argument("wheels")
        ap.add_argument("target")
        args = ap.parse_args(argv[1:])
        try:
            return install_wheels(args.wheels, args.target)
        except FileNotFoundError as e:
            print(e, file=sys.stderr)
            return 2
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="folder for the results (bench/results/gpu-<date> from make)")
    ap.add_argument("--wheels", default=str(ROOT / "gpu-wheels"), help="folder of `make gpu-wheels`")
    ap.add_argument("--budget", type=float, default=None,
                    help=f"seconds for the whole run (default {GPU_BUDGET} with a GPU, {CPU_BUDGET} without)")
    ap.add_argument("--bench-repeats", type=int, default=10, help="timed repeats per benchmark row (default 10)")
    args = ap.parse_args(argv)
    out = Path(args.out).resolve()
    return Check(out, Path(args.wheels).resolve(), sys.executable, args.budget, args.bench_repeats).run_all()


if __name__ == "__main__":
    sys.exit(main())
