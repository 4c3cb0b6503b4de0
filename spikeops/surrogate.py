"""Surrogate derivatives for the spike's Heaviside (docs/math.md §2).

The forward pass always fires on the exact Heaviside ``h > threshold``; a
surrogate only replaces ``ds/dh`` in the backward pass. Each surrogate has a
height and a width (or slope); both can be set per layer, since in deep SNNs
trained through time they decide whether gradients vanish or explode.

``grad(u, theta, age)`` is the plain-PyTorch formula, used by
:mod:`spikeops.reference`; the kernels evaluate the same formulas in C++.
"""
from __future__ import annotations

import abc
import math

import torch

from . import _C
from .kinds import SurrogateKind

__all__ = ["Surrogate", "ATan", "FastSigmoid", "Sigmoid", "Triangle", "Rectangle", "STDB", "Linear", "FSTriangle",
           "Custom", "get"]


class Surrogate(abc.ABC):
    """Base class. ``kind`` is the kernel's id; ``height``/``width`` its two constants, checked
    when the object is made by the same code that checks them in every op."""

    kind: SurrogateKind
    name: str = ""
    uses_ages: bool = False  # whether the forward pass must track spike ages for it

    def __init__(self, height: float, width: float):
        for arg, value in (("height", height), ("width", width)):
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise TypeError(f"{type(self).__name__}: {arg} must be a number, got {value!r}")
        if not torch.compiler.is_compiling():  # traced code leaves the check to the op itself
            _C.check_surrogate(self.kind, height, width)
        self.height = float(height)
        self.width = float(width)

    @abc.abstractmethod
    def grad(self, u: torch.Tensor, theta: torch.Tensor, age: torch.Tensor | None) -> torch.Tensor:
        """sigma'(u) for membrane offset ``u = h - theta`` and spike age ``age``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(height={self.height}, width={self.width})"


class ATan(Surrogate):
    """``height / (1 + (pi/2 * alpha * u)^2)``; height defaults to ``alpha / 2`` (peak of the
    derivative of ``atan(pi/2 alpha u)/pi``, SpikingJelly's and snnTorch's default with alpha = 2)."""

    kind, name = SurrogateKind.atan, "atan"

    def __init__(self, alpha: float = 2.0, height: float | None = None):
        super().__init__(alpha / 2 if height is None else height, alpha)

    def grad(self, u, theta, age):
        return self.height / (1 + (math.pi / 2 * self.width * u) ** 2)


class FastSigmoid(Surrogate):
    """SuperSpike: ``height / (1 + slope |u|)^2`` (snnTorch's fast_sigmoid, slope 25)."""

    kind, name = SurrogateKind.fast_sigmoid, "fast_sigmoid"

    def __init__(self, slope: float = 25.0, height: float = 1.0):
        super().__init__(height, slope)

    def grad(self, u, theta, age):
        return self.height / (1 + self.width * u.abs()) ** 2


class Sigmoid(Surrogate):
    """``4 height * sig(slope u) (1 - sig(slope u))``; height defaults to ``slope / 4``, which is
    the derivative of ``sig(slope u)`` (SpikingJelly's Sigmoid, slope 4)."""

    kind, name = SurrogateKind.sigmoid, "sigmoid"

    def __init__(self, slope: float = 4.0, height: float | None = None):
        super().__init__(slope / 4 if height is None else height, slope)

    def grad(self, u, theta, age):
        sig = torch.sigmoid(self.width * u)
        return 4 * self.height * sig * (1 - sig)


class Triangle(Surrogate):
    """``height * max(0, 1 - |u| / width)``. ``width=None`` uses each neuron's threshold, as the
    hybrid-conversion code does with height 0.3."""

    kind, name = SurrogateKind.triangle, "triangle"

    def __init__(self, width: float | None = 1.0, height: float = 1.0):
        if width is not None and not width > 0:  # the kernels read a width <= 0 as "the threshold"
            raise ValueError(f"Triangle: width must be > 0 or None (threshold), got {width!r}")
        super().__init__(height, 0.0 if width is None else width)

    def grad(self, u, theta, age):
        w = theta if self.width <= 0 else self.width
        return self.height * torch.clamp(1 - u.abs() / w, min=0)


class Rectangle(Surrogate):
    """``height`` where ``|u| < width / 2``, else 0; height defaults to ``1 / width``."""

    kind, name = SurrogateKind.rectangle, "rectangle"

    def __init__(self, width: float = 1.0, height: float | None = None):
        if height is None:
            height = 1 / width if isinstance(width, (int, float)) and width > 0 else 1.0
        super().__init__(height, width)

    def grad(self, u, theta, age):
        window = torch.where(u.abs() < self.width / 2, self.height, 0.0).to(u.dtype)
        return torch.where(u.isnan(), u, window)  # NaN propagates, as through every surrogate of u


class STDB(Surrogate):
    """Spike-timing dependent (Rathi et al.): ``height * exp(-beta * age) / threshold``, where
    ``age`` is the number of steps since the neuron's last spike. Defaults are the paper's VGG
    values (0.3, 0.01); its ResNets use (0.5, 0.035)."""

    kind, name, uses_ages = SurrogateKind.stdb, "stdb", True

    def __init__(self, height: float = 0.3, beta: float = 0.01, float32_underflow: bool = False):
        # float32_underflow: 0 where age >= 104, as the hybrid-conversion code's float32
        # exp(-age)^beta evaluates it (exp underflows there); the analytic value elsewhere.
        self.float32_underflow = bool(float32_underflow)
        if self.float32_underflow:
            self.kind = SurrogateKind.stdb_float32
        super().__init__(height, beta)

    @property
    def beta(self) -> float:
        return self.width

    def grad(self, u, theta, age):
        if age is None:
            raise ValueError("STDB surrogate needs the spike age")
        age = age.to(u.dtype)
        grad = self.height * torch.exp(-self.width * age) / theta
        return torch.where(age < 104, grad, torch.zeros_like(grad)) if self.float32_underflow else grad

    def __repr__(self) -> str:
        extra = ", float32_underflow=True" if self.float32_underflow else ""
        return f"STDB(height={self.height}, beta={self.width}{extra})"


class Linear(Surrogate):
    """Bellec et al. (2018): ``height * max(0, 1 - |v/theta - 1|)`` as the derivative of the
    spike with respect to the normalised membrane ``v/theta``, so with respect to the membrane
    ``height * max(0, 1 - |u| / theta) / theta`` (u = h - theta). Height 0.3, the papers' and the
    hybrid-conversion code's dampening factor. (:class:`Triangle` with ``width=None`` has no
    1/theta: theta times this.)"""

    kind, name = SurrogateKind.linear, "linear"

    def __init__(self, height: float = 0.3):
        super().__init__(height, 0.0)

    def grad(self, u, theta, age):
        return self.height * torch.clamp(1 - u.abs() / theta, min=0) / theta

    def __repr__(self) -> str:
        return f"Linear(height={self.height})"


class FSTriangle(Surrogate):
    """The FS-neuron paper's surrogate (Stöckl & Maass; reference code fs_coding.py), for the FS
    neuron only: the spike z = [s > 0] of the normalised membrane ``s = (v - T) / (|v| + 1)``
    has ``dz/ds = height * max(0, 1 - |s|)``, chained through s to the membrane v and the
    threshold T (so dz/dv and dz/dT differ). Height 1, as in the code."""

    kind, name = SurrogateKind.fs_triangle, "fs_triangle"

    def __init__(self, height: float = 1.0):
        super().__init__(height, 0.0)

    def grad(self, u, theta, age):
        raise ValueError("fs_triangle is the FS neuron's surrogate: it needs the membrane, not only h - theta")

    def __repr__(self) -> str:
        return f"FSTriangle(height={self.height})"


_BY_NAME = {
    "atan": ATan,
    "fast_sigmoid": FastSigmoid,
    "superspike": FastSigmoid,
    "sigmoid": Sigmoid,
    "triangle": Triangle,
    "rectangle": Rectangle,
    "stdb": STDB,
    "linear": Linear,
    "fs_triangle": FSTriangle,
}


class Custom(Surrogate):
    """A surrogate of your own: ``fn(u, theta, age) -> sigma'(u)`` in plain PyTorch, for
    ``u = h - theta`` (``age``: the spike ages, with ``uses_ages=True``; else zeros).

    The fused kernels evaluate the built-in surrogates only, so a neuron with this one runs
    as :func:`spikeops.reference.lif` (the same neuron as a PyTorch loop over time, in the
    input's dtype): correct, and as fast as plain PyTorch, not as the kernels."""

    kind = None
    name = "custom"

    def __init__(self, fn, *, uses_ages: bool = False):
        if not callable(fn):
            raise TypeError(f"Custom surrogate: fn must be callable as fn(u, theta, age), got {fn!r}")
        self.fn = fn
        self.uses_ages = bool(uses_ages)
        self.height, self.width = 1.0, 0.0  # not used: fn is the whole formula

    def grad(self, u, theta, age):
        return self.fn(u, theta, age)

    def __repr__(self) -> str:
        return f"Custom({getattr(self.fn, '__name__', self.fn)!r})"


def get(spec: str | Surrogate) -> Surrogate:
    """A surrogate from its name (default constants) or an instance (returned as is)."""
    if isinstance(spec, Surrogate):
        return spec
    if isinstance(spec, str) and spec.lower() in _BY_NAME:
        return _BY_NAME[spec.lower()]()
    raise ValueError(f"surrogate must be one of {sorted(_BY_NAME)} or a spikeops.surrogate.Surrogate, got {spec!r}")
