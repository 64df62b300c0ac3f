"""`chainrule.scipy.signal`: `convolve`, `correlate`, `convolve2d`, `fftconvolve`, differentiable
in both inputs.

Every convolution here is computed through the FFT (`chainrule.numpy.fft`): the product of the
spectra of the zero-padded inputs, transformed back and cut to the mode's size. Its derivatives
are then FFTs too (the transpose of a convolution is a correlation), to any order. Values agree
with SciPy's direct and FFT methods to rounding.

Examples
--------
>>> import numpy as np
>>> import chainrule as cr
>>> import chainrule.numpy as cnp
>>> from chainrule.scipy import signal
>>> print(np.round(signal.convolve(np.array([1.0, 2.0]), np.array([1.0, 1.0])), 6))
[1. 3. 2.]
>>> g = cr.grad(lambda h: cnp.sum(signal.convolve(np.array([1.0, 2.0]), h)))(np.ones(2))
>>> print(np.round(g, 6))
[3. 3.]
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import numpy as cnp
from .._core.primitive import dtype_of, ndim_of, shape_of

_MODES = ("full", "same", "valid")


def _check_mode(mode: str, who: str) -> None:
    if mode not in _MODES:
        raise ValueError(f"{who}: mode={mode!r}; choose 'full', 'same' or 'valid'")


def _complex(*xs: Any) -> bool:
    return any(np.dtype(dtype_of(x)).kind == "c" for x in xs)


def _full(a: Any, b: Any, axes: tuple[int, ...]) -> Any:
    """The full linear convolution of `a` and `b` along `axes` (others broadcast)."""
    s = [shape_of(a)[ax] + shape_of(b)[ax] - 1 for ax in axes]
    if _complex(a, b):
        return cnp.fft.ifftn(cnp.fft.fftn(a, s=s, axes=axes) * cnp.fft.fftn(b, s=s, axes=axes),
                             s=s, axes=axes)
    return cnp.fft.irfftn(cnp.fft.rfftn(a, s=s, axes=axes) * cnp.fft.rfftn(b, s=s, axes=axes),
                          s=s, axes=axes)


def _cut(full: Any, starts: Sequence[int], sizes: Sequence[int], axes: tuple[int, ...]) -> Any:
    index: list[Any] = [slice(None)] * ndim_of(full)
    for ax, start, size in zip(axes, starts, sizes):
        index[ax] = slice(start, start + size)
    return full[tuple(index)]


def _mode_window(s1: Sequence[int], s2: Sequence[int], mode: str, who: str
                 ) -> tuple[list[int], list[int]]:
    """Where the `mode` output lies in the full one: starts and sizes, per axis."""
    full = [p + q - 1 for p, q in zip(s1, s2)]
    if mode == "full":
        return [0] * len(full), full
    if mode == "same":
        return [(f - p) // 2 for f, p in zip(full, s1)], list(s1)
    if not (all(p >= q for p, q in zip(s1, s2)) or all(q >= p for p, q in zip(s1, s2))):
        raise ValueError(f"{who}: for mode='valid' one input must be at least as large as the "
                         f"other in every dimension, got shapes {tuple(s1)} and {tuple(s2)}")
    sizes = [abs(p - q) + 1 for p, q in zip(s1, s2)]
    return [min(p, q) - 1 for p, q in zip(s1, s2)], sizes


def _axes(a: Any, b: Any, axes: Any, who: str) -> tuple[int, ...]:
    n = ndim_of(a)
    if ndim_of(b) != n:
        raise ValueError(f"{who}: in1 and in2 should have the same dimensionality, got "
                         f"{n} and {ndim_of(b)}")
    if axes is None:
        return tuple(range(n))
    axes = (axes,) if isinstance(axes, (int, np.integer)) else tuple(axes)
    out = []
    for ax in axes:
        if not -n <= int(ax) < n:
            raise ValueError(f"{who}: axes={axes!r} is out of range for {n} dimensions")
        out.append(int(ax) % n)
    for ax in range(n):  # (the other axes broadcast)
        if ax not in out and shape_of(a)[ax] != shape_of(b)[ax] and 1 not in (
                shape_of(a)[ax], shape_of(b)[ax]):
            raise ValueError(f"{who}: in1 and in2 differ in axis {ax}, which is not among the "
                             f"axes convolved ({shape_of(a)[ax]} and {shape_of(b)[ax]})")
    return tuple(out)


def _convolve(in1: Any, in2: Any, mode: str, axes: Any, who: str) -> Any:
    _check_mode(mode, who)
    a, b = cnp.asarray(in1), cnp.asarray(in2)
    if ndim_of(a) == 0 and ndim_of(b) == 0:
        return a * b
    ax = _axes(a, b, axes, who)
    s1 = [shape_of(a)[k] for k in ax]
    s2 = [shape_of(b)[k] for k in ax]
    if 0 in s1 or 0 in s2:
        raise ValueError(f"{who}: in1 and in2 must not be empty")
    starts, sizes = _mode_window(s1, s2, mode, who)
    return _cut(_full(a, b, ax), starts, sizes, ax)


def fftconvolve(in1: Any, in2: Any, mode: str = "full", axes: Any = None) -> Any:
    """`scipy.signal.fftconvolve`: N-d convolution along `axes` (all by default)."""
    return _convolve(in1, in2, mode, axes, "fftconvolve")


def convolve(in1: Any, in2: Any, mode: str = "full", method: str = "auto") -> Any:
    """`scipy.signal.convolve`: N-d convolution (computed through the FFT whatever `method`
    says; the values agree with SciPy's direct method to rounding)."""
    if method not in ("auto", "direct", "fft"):
        raise ValueError(f"convolve: method={method!r}; choose 'auto', 'direct' or 'fft'")
    return _convolve(in1, in2, mode, None, "convolve")


def correlate(in1: Any, in2: Any, mode: str = "full", method: str = "auto") -> Any:
    """`scipy.signal.correlate`: the cross-correlation, the convolution with `in2` reversed in
    every axis (and conjugated)."""
    if method not in ("auto", "direct", "fft"):
        raise ValueError(f"correlate: method={method!r}; choose 'auto', 'direct' or 'fft'")
    _check_mode(mode, "correlate")
    a, b = cnp.asarray(in1), cnp.asarray(in2)
    if mode == "valid" and ndim_of(a) and all(
            q > p for p, q in zip(shape_of(a), shape_of(b))):
        # (SciPy swaps the inputs: the result is the reversed, conjugated correlation)
        swapped = correlate(b, a, "valid")
        return cnp.conj(cnp.flip(swapped)) if _complex(a, b) else cnp.flip(swapped)
    flipped = cnp.flip(b) if ndim_of(b) else b
    if _complex(b):
        flipped = cnp.conj(flipped)
    return _convolve(a, flipped, mode, None, "correlate")


def convolve2d(in1: Any, in2: Any, mode: str = "full", boundary: str = "fill",
               fillvalue: Any = 0) -> Any:
    """`scipy.signal.convolve2d` for the zero-filled boundary (`boundary='fill'`,
    `fillvalue=0`)."""
    if boundary != "fill" or fillvalue != 0:
        raise NotImplementedError(f"convolve2d: boundary={boundary!r}, fillvalue={fillvalue!r} "
                                  f"is not available; pad the input with cnp.pad (mode='wrap' or "
                                  f"'symmetric') and use mode='valid'")
    a, b = cnp.asarray(in1), cnp.asarray(in2)
    if ndim_of(a) != 2 or ndim_of(b) != 2:
        raise ValueError(f"convolve2d: in1 and in2 must be two-dimensional, got "
                         f"{ndim_of(a)} and {ndim_of(b)} dimensions")
    if mode == "valid" and not all(p >= q for p, q in zip(shape_of(a), shape_of(b))):
        a, b = b, a  # (SciPy's convention: the larger input first)
    return _convolve(a, b, mode, None, "convolve2d")


__all__ = ["convolve", "correlate", "convolve2d", "fftconvolve"]
