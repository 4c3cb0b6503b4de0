"""The kernels' enumerations, as Python enums made from the compiled library's
own tables (include/spikeops/neuron.h, surrogate.h), so that each number has
one owner: ``ResetMode`` (subtract, zero, none) and ``SurrogateKind``."""
from __future__ import annotations

from enum import IntEnum

from . import _C

__all__ = ["ResetMode", "SurrogateKind", "reset_mode"]

ResetMode = IntEnum("ResetMode", dict(_C.reset_modes))
SurrogateKind = IntEnum("SurrogateKind", dict(_C.surrogate_kinds))


def reset_mode(name: str) -> ResetMode:
    """The mode spelled ``name`` ('subtract', 'zero' or 'none')."""
    if isinstance(name, str) and name in ResetMode.__members__:
        return ResetMode[name]
    raise ValueError(f"reset must be one of {list(ResetMode.__members__)}, got {name!r}")
