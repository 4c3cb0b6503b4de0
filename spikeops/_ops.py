"""Loads the compiled ops: importing ``spikeops._C`` registers torch.ops.spikeops.*,
their autograd formulas (csrc/torch/autograd.cpp) and their fake kernels, which are
the ops' own C++ implementations on meta tensors (the same argument checks as
eager, no kernel launched)."""
from __future__ import annotations

from . import _C  # noqa: F401
