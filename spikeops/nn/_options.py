"""Checks of the modules' own options: values no op sees (time constants in seconds,
noise settings, step counts). The ops check their arguments themselves."""
from __future__ import annotations

import math


def check_number(name: str, value, *, lo: float = -math.inf, hi: float = math.inf, lo_open: bool = False):
    """``value`` if it is a finite real number in [lo, hi] ((lo, hi] with ``lo_open``)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not (math.isfinite(value) and (value > lo if lo_open else value >= lo) and value <= hi):
        raise ValueError(f"{name} must be a finite number in {'(' if lo_open else '['}{lo}, {hi}], got {value!r}")
    return value


def check_steps(T) -> int:
    """``T`` if it is a number of time steps (an int >= 1)."""
    if not isinstance(T, int) or isinstance(T, bool) or T < 1:
        raise ValueError(f"T (time steps) must be an int >= 1, got {T!r}")
    return T
