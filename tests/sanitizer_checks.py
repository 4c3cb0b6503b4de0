"""Run by `make test-sanitize` only (not collected by `pytest tests`): the sanitizer build is the one under
test, and it reports kernel bugs. Each probe kernel (spikeops._emulated_cuda) has a deliberate bug and runs
in a subprocess that the sanitizer must stop with a report."""
import os
import subprocess
import sys
import textwrap

import pytest

import spikeops

SITE = os.environ.get("SPIKEOPS_TEST_SITE")
pytestmark = pytest.mark.skipif(not SITE, reason="run by `make test-sanitize` (SPIKEOPS_TEST_SITE names its build)")


def test_the_sanitizer_build_is_loaded():
    assert os.path.abspath(spikeops.__file__).startswith(os.path.abspath(SITE))
    with open("/proc/self/maps") as maps:
        loaded = maps.read()
    assert "libasan" in loaded and "libubsan" in loaded


def run_probe(call):
    script = textwrap.dedent(f"""
        import sys
        sys.meta_path[:] = [f for f in sys.meta_path if not type(f).__name__.startswith("ScikitBuild")]
        sys.path.insert(0, {os.path.abspath(SITE)!r})
        import spikeops._emulated_cuda as probes
        print(probes.{call})
    """)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)


def test_out_of_bounds_read_in_a_kernel_is_reported():
    proc = run_probe("out_of_bounds_read(100)")
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "AddressSanitizer: heap-buffer-overflow" in proc.stderr, proc.stderr[-3000:]
    assert "out_of_bounds_kernel" in proc.stderr


def test_out_of_range_float_to_int_conversion_in_a_kernel_is_reported():
    proc = run_probe("out_of_range_conversion(100)")
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "is outside the range of representable values of type 'int'" in proc.stderr, proc.stderr[-3000:]
