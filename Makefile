# make demo      set up, build, run the main job (python -m spikeops demo)
# make bench     the CPU benchmark (python -m spikeops bench)
# make test      set up, build, run the test suite
# make test-gpu  on a machine with an NVIDIA GPU, a CUDA torch and nvcc: build
#                with the CUDA kernels required, run every test (CUDA ones
#                included) and the CUDA benchmark
# Set-up reuses a torch the Python already has (e.g. a CUDA build); otherwise it
# installs $(TORCH), by default the CPU build torch==2.13.0.
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
MISSING = $(PY) -c "import importlib.util as u, shutil, sys; \
  print(' '.join(p for p, m in (d.rsplit('=', 1) for d in sys.argv[1:]) \
                 if (shutil.which(m[1:]) if m[0] == '@' else u.find_spec(m)) is None))"
SOURCES := $(shell find csrc include spikeops -type f \( -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.py' \)) CMakeLists.txt pyproject.toml

.PHONY: setup build demo test test-gpu bench info clean

$(VENV)/.ready:
	@if $(PYTHON) -c "import torch" 2>/dev/null; then \
	  echo "using the torch already installed for $(PYTHON)"; \
	  $(PYTHON) -m venv --system-site-packages $(VENV); \
	else \
	  $(PYTHON) -m venv $(VENV) && $(PY) -m pip install -q "$(TORCH)"; \
	fi
	@missing="$$($(MISSING) $(DEPS))"; if [ -n "$$missing" ]; then $(PY) -m pip install -q $$missing; fi
	@missing="$$($(MISSING) $(PEERS))"; if [ -n "$$missing" ]; then $(PY) -m pip install -q --no-deps $$missing; fi
	touch $@

setup: $(VENV)/.ready

$(VENV)/.built: $(VENV)/.ready $(SOURCES)
	$(PY) -m pip install -q --no-build-isolation --no-deps -C cmake.define.SPIKEOPS_EMULATED_CUDA=AUTO -e .
	touch $@

build: $(VENV)/.built

demo: build
	$(PY) -m spikeops demo

bench: build
	$(PY) -m spikeops bench

info: build
	$(PY) -m spikeops info

test: build
	$(PY) -m spikeops info
	$(PY) -m pytest -q tests

test-gpu: setup
	$(PY) -m pip install -q --no-build-isolation --no-deps -C cmake.define.SPIKEOPS_CUDA=ON -e .
	rm -f $(VENV)/.built
	$(PY) -m spikeops info
	$(PY) -m pytest -q tests
	$(PY) -m spikeops bench --device cuda

clean:
	rm -rf build $(VENV)
