"""The benchmarks behind ``python -m spikeops bench``: the CPU kernels (:mod:`.cpu`), the
CUDA kernels (:mod:`.cuda`) and the peer libraries (:mod:`.peers`). They use only the
public API; nothing in the library imports them."""
