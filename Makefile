# make demo   set up, build, run the main job (the CPU benchmark)
# make test   set up, build, run the test suite
# Set-up reuses a torch the Python already has (e.g. a CUDA build); otherwise it
# installs $(TORCH), by default the CPU build torch==2.13.0.
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV ?= .venv
PY := $(VENV)/bin/python
BUILD_DEPS := scikit-build-core pybind11 ninja "cmake>=3.18"
TEST_DEPS := pytest numpy
SOURCES := $(shell find csrc include spikeops -type f \( -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.py' \)) CMakeLists.txt pyproject.toml

.PHONY: setup build demo test bench info clean

$(VENV)/.ready:
	@if $(PYTHON) -c "import torch" 2>/dev/null; then \
	  echo "using the torch already installed for $(PYTHON)"; \
	  $(PYTHON) -m venv --system-site-packages $(VENV); \
	else \
	  $(PYTHON) -m venv $(VENV) && $(PY) -m pip install -q "$(TORCH)"; \
	fi
	$(PY) -m pip install -q $(BUILD_DEPS) $(TEST_DEPS)
	touch $@

setup: $(VENV)/.ready

$(VENV)/.built: $(VENV)/.ready $(SOURCES)
	$(PY) -m pip install -q --no-build-isolation --no-deps -e .
	touch $@

build: $(VENV)/.built

demo: build
	$(PY) -m spikeops bench

bench: demo

info: build
	$(PY) -m spikeops info

test: build
	$(PY) -m spikeops info
	$(PY) -m pytest -q tests

clean:
	rm -rf build $(VENV)
