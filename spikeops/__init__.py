"""spikeops: fused leaky integrate-and-fire kernels for spiking neural networks in PyTorch."""
import torch  # noqa: F401  (loads libtorch before the extension)

from . import _ops  # noqa: F401
from . import data, datasets, functional, reference, surrogate
from ._C import cuda_built, cpu_isa, empty_cache, output_cache_info
from .functional import LIFState, lif
from .nn import IF, LIF

__version__ = "0.1.0"

__all__ = ["LIF", "IF", "LIFState", "lif", "functional", "reference", "surrogate", "data", "datasets", "cpu_isa",
           "cuda_built", "empty_cache", "output_cache_info", "__version__"]
