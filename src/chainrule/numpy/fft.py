"""`chainrule.numpy.fft`: NumPy's discrete Fourier transforms, differentiable.

The functions keep NumPy's signatures (`n=` / `s=`, `axis=` / `axes=`, `norm=`) and results
(dtypes included: a float32 signal gives a complex64 spectrum). They are built on three
primitives (`ops/fft.py`): the complex transform over any axes, `rfft` and `irfft`; the padding
or cropping of `n=` / `s=` is done first, differentiably, and the shifts are rolls.

Derivatives follow chainrule's complex convention: for a real loss L of z = x + iy,
`grad(L)(z)` is dL/dx + i dL/dy, and a real signal gets a real gradient. `irfft`, `irfftn` and
`hfft` read only the Hermitian half of their input and ignore the imaginary part of the zero
frequency (and of the Nyquist frequency, for an even length), as NumPy does: the derivative is
that of this function, zero with respect to what is not read.

Examples
--------
>>> import numpy as np
>>> import chainrule as cr
>>> import chainrule.numpy as cnp
>>> power = lambda v: cnp.sum(cnp.abs(cnp.fft.fft(v)) ** 2)   # Parseval: N·Σv², gradient 2·N·v
>>> print(cr.grad(power)(np.array([1.0, 0.0, -0.5, 0.0])))
[ 8.  0. -4.  0.]
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as _np

from .._core.errors import InPlaceError as _InPlaceError
from .._core.primitive import dtype_of as _dtype_of
from .._core.primitive import ndim_of as _ndim_of
from .._core.primitive import shape_of as _shape_of
from ..ops import elementwise as _E
from ..ops import fft as _F
from ..ops import shape as _S
from ._operands import contains_tracer as _contains_tracer
from ._operands import operand as _operand

__all__: list[str] = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft",
                      "rfft2", "irfft2", "rfftn", "irfftn", "hfft", "ihfft", "fftshift",
                      "ifftshift", "fftfreq", "rfftfreq"]

# the sample frequencies: functions of a length and a spacing, computed by NumPy (a traced
# spacing `d` goes through NumPy's own arithmetic, which chainrule overloads)
fftfreq = _np.fft.fftfreq
rfftfreq = _np.fft.rfftfreq


# ---------------------------------------------------------------------------------------------
# arguments, as NumPy reads them

def _axis(axis: Any, ndim: int) -> int:
    a = int(axis)
    if not -ndim <= a < ndim:
        raise _np.exceptions.AxisError(a, ndim)
    return a % ndim


def _length(n: Any) -> int:
    n = int(n)
    if n < 1:
        raise ValueError(f"Invalid number of FFT data points ({n}) specified.")
    return n


def _cook(a: Any, s: Any, axes: Any, invreal: bool = False) -> tuple[list[Any], list[int]]:
    """NumPy's `_cook_nd_args`: the lengths and (normalised) axes of an n-d transform."""
    shape = _shape_of(a)
    nd = len(shape)
    if axes is not None:
        axes = [_axis(ax, nd) for ax in axes]
    shapeless = s is None
    if shapeless:
        s = list(shape) if axes is None else [shape[ax] for ax in axes]
    s = list(s)
    if axes is None:
        if not shapeless:
            warnings.warn("`axes` should not be `None` if `s` is not `None` (Deprecated in "
                          "NumPy 2.0). In a future version of NumPy, this will raise an error "
                          "and `s[i]` will correspond to the size along the transformed axis "
                          "specified by `axes[i]`. To retain current behaviour, pass a sequence "
                          "[0, ..., k-1] to `axes` for an array of dimension k.",
                          DeprecationWarning, stacklevel=3)
        axes = [_axis(ax, nd) for ax in range(-len(s), 0)]
    if len(s) != len(axes):
        raise ValueError("Shape and axes have different lengths.")
    if invreal and shapeless:
        s[-1] = (shape[axes[-1]] - 1) * 2
    if None in s:
        warnings.warn("Passing an array containing `None` values to `s` is deprecated in NumPy "
                      "2.0 and will raise an error in a future version of NumPy. To use the "
                      "default behaviour of the corresponding 1-D transform, pass the value "
                      "matching the default for its `n` parameter. To use the default "
                      "behaviour for every axis, the `s` argument can be omitted.",
                      DeprecationWarning, stacklevel=3)
    s = [shape[ax] if n is not None and int(n) == -1 else n for n, ax in zip(s, axes)]
    return s, axes


def _resize(a: Any, n: int, axis: int) -> Any:
    """`a` cropped or zero-padded to length `n` along `axis` (differentiably)."""
    size = _shape_of(a)[axis]
    if n < size:
        return _S.getitem(a, (slice(None),) * axis + (slice(0, n),))
    if n > size:
        widths = [(0, 0)] * _ndim_of(a)
        widths[axis] = (0, n - size)
        return _S.pad(a, widths)
    return a


def _plain(name: str, a: Any, out: Any, *args: Any) -> Any:
    """NumPy's own function, for `out=` (plain arrays only: writing in place into an array
    cannot be differentiated)."""
    if _contains_tracer(a):
        raise _InPlaceError(f"numpy.fft.{name}(..., out=...) writes in place, which cannot be "
                            f"differentiated; use the returned value instead")
    return getattr(_np.fft, name)(a, *args, out=out)


def _array(a: Any) -> Any:
    a = _operand(a)
    return _np.asarray(a) if isinstance(a, (int, float, complex, bool)) else a


def _complex_transform(a: Any, ns: list[Any], axes: list[int], inverse: bool, norm: str) -> Any:
    """NumPy's sequence of 1-D transforms, the last axis first, each after resizing `a` to its
    length: as one primitive over all the axes when none repeats (resizing one axis commutes
    with transforming another)."""
    if not axes:
        return a
    if len(set(axes)) == len(axes):
        for n, ax in zip(ns, axes):
            if n is not None:
                a = _resize(a, _length(n), ax)
        return _F.fft(a, tuple(axes), inverse, norm)
    for n, ax in reversed(list(zip(ns, axes))):  # an axis transformed twice: one at a time
        if n is not None:
            a = _resize(a, _length(n), ax)
        a = _F.fft(a, (ax,), inverse, norm)
    return a


def _real_signal(name: str, a: Any) -> None:
    if _np.dtype(_dtype_of(a)).kind == "c":
        raise TypeError(f"numpy.fft.{name} transforms a real signal and the input is complex; "
                        f"use fft (or pass its real part)")


def _rfft1(a: Any, n: Any, axis: int, norm: str, name: str) -> Any:
    _real_signal(name, a)
    if n is not None:
        a = _resize(a, _length(n), axis)
    elif _shape_of(a)[axis] < 1:
        raise ValueError(f"Invalid number of FFT data points ({_shape_of(a)[axis]}) specified.")
    return _F.rfft(a, axis, norm)


def _irfft1(a: Any, n: Any, axis: int, norm: str) -> Any:
    n = _length((_shape_of(a)[axis] - 1) * 2 if n is None else n)
    return _F.irfft(_resize(a, n // 2 + 1, axis), axis, n, norm)


# ---------------------------------------------------------------------------------------------
# complex transforms

def fft(a: Any, n: Any = None, axis: int = -1, norm: Any = None, out: Any = None) -> Any:
    """The one-dimensional DFT, as numpy.fft.fft."""
    if out is not None:
        return _plain("fft", a, out, n, axis, norm)
    a = _array(a)
    return _complex_transform(a, [n], [_axis(axis, _ndim_of(a))], False, _F.check_norm(norm))


def ifft(a: Any, n: Any = None, axis: int = -1, norm: Any = None, out: Any = None) -> Any:
    """The one-dimensional inverse DFT, as numpy.fft.ifft."""
    if out is not None:
        return _plain("ifft", a, out, n, axis, norm)
    a = _array(a)
    return _complex_transform(a, [n], [_axis(axis, _ndim_of(a))], True, _F.check_norm(norm))


def fftn(a: Any, s: Any = None, axes: Any = None, norm: Any = None, out: Any = None) -> Any:
    """The n-dimensional DFT, as numpy.fft.fftn."""
    if out is not None:
        return _plain("fftn", a, out, s, axes, norm)
    a = _array(a)
    norm = _F.check_norm(norm)
    ns, axs = _cook(a, s, axes)
    return _complex_transform(a, ns, axs, False, norm)


def ifftn(a: Any, s: Any = None, axes: Any = None, norm: Any = None, out: Any = None) -> Any:
    """The n-dimensional inverse DFT, as numpy.fft.ifftn."""
    if out is not None:
        return _plain("ifftn", a, out, s, axes, norm)
    a = _array(a)
    norm = _F.check_norm(norm)
    ns, axs = _cook(a, s, axes)
    return _complex_transform(a, ns, axs, True, norm)


def fft2(a: Any, s: Any = None, axes: Any = (-2, -1), norm: Any = None, out: Any = None) -> Any:
    """The two-dimensional DFT, as numpy.fft.fft2 (fftn over the last two axes)."""
    if out is not None:
        return _plain("fft2", a, out, s, axes, norm)
    return fftn(a, s, axes, norm)


def ifft2(a: Any, s: Any = None, axes: Any = (-2, -1), norm: Any = None, out: Any = None) -> Any:
    """The two-dimensional inverse DFT, as numpy.fft.ifft2."""
    if out is not None:
        return _plain("ifft2", a, out, s, axes, norm)
    return ifftn(a, s, axes, norm)


# ---------------------------------------------------------------------------------------------
# real signals

def rfft(a: Any, n: Any = None, axis: int = -1, norm: Any = None, out: Any = None) -> Any:
    """The DFT of a real signal, its n//2 + 1 non-negative frequencies (numpy.fft.rfft)."""
    if out is not None:
        return _plain("rfft", a, out, n, axis, norm)
    a = _array(a)
    return _rfft1(a, n, _axis(axis, _ndim_of(a)), _F.check_norm(norm), "rfft")


def irfft(a: Any, n: Any = None, axis: int = -1, norm: Any = None, out: Any = None) -> Any:
    """The real signal of length n (by default 2 (m - 1)) whose rfft is `a` (numpy.fft.irfft).
    Only the first n//2 + 1 entries of `a` are read (zero-padded when fewer), and the imaginary
    parts of the zero and Nyquist frequencies are ignored: their derivative is zero."""
    if out is not None:
        return _plain("irfft", a, out, n, axis, norm)
    a = _array(a)
    return _irfft1(a, n, _axis(axis, _ndim_of(a)), _F.check_norm(norm))


def rfftn(a: Any, s: Any = None, axes: Any = None, norm: Any = None, out: Any = None) -> Any:
    """The n-dimensional DFT of a real array (numpy.fft.rfftn): rfft along the last axis, then
    the complex transform along the others."""
    if out is not None:
        return _plain("rfftn", a, out, s, axes, norm)
    a = _array(a)
    norm = _F.check_norm(norm)
    ns, axs = _cook(a, s, axes)
    if not axs:
        raise ValueError("rfftn: at least one axis must be transformed")
    a = _rfft1(a, ns[-1], axs[-1], norm, "rfftn")
    return _complex_transform(a, ns[:-1], axs[:-1], False, norm)


def irfftn(a: Any, s: Any = None, axes: Any = None, norm: Any = None, out: Any = None) -> Any:
    """The inverse of rfftn (numpy.fft.irfftn): the inverse complex transform along all axes but
    the last, then irfft along it (by default to length 2 (m - 1))."""
    if out is not None:
        return _plain("irfftn", a, out, s, axes, norm)
    a = _array(a)
    norm = _F.check_norm(norm)
    ns, axs = _cook(a, s, axes, invreal=True)
    if not axs:
        raise ValueError("irfftn: at least one axis must be transformed")
    # NumPy goes through these axes first to last; one primitive when none repeats
    inner = list(zip(ns[:-1], axs[:-1]))
    if len(set(axs[:-1])) == len(axs) - 1:
        a = _complex_transform(a, ns[:-1], axs[:-1], True, norm)
    else:
        for n, ax in inner:
            a = _complex_transform(a, [n], [ax], True, norm)
    return _irfft1(a, ns[-1], axs[-1], norm)


def rfft2(a: Any, s: Any = None, axes: Any = (-2, -1), norm: Any = None, out: Any = None) -> Any:
    """rfftn over the last two axes (numpy.fft.rfft2)."""
    if out is not None:
        return _plain("rfft2", a, out, s, axes, norm)
    return rfftn(a, s, axes, norm)


def irfft2(a: Any, s: Any = None, axes: Any = (-2, -1), norm: Any = None,
           out: Any = None) -> Any:
    """irfftn over the last two axes (numpy.fft.irfft2)."""
    if out is not None:
        return _plain("irfft2", a, out, s, axes, norm)
    return irfftn(a, s, axes, norm)


# ---------------------------------------------------------------------------------------------
# Hermitian signals: NumPy's definitions through irfft and rfft of the conjugate

def hfft(a: Any, n: Any = None, axis: int = -1, norm: Any = None, out: Any = None) -> Any:
    """The real spectrum of a signal with Hermitian symmetry, given by its first half
    (numpy.fft.hfft): irfft(conj(a), n) with the opposite norm."""
    if out is not None:
        return _plain("hfft", a, out, n, axis, norm)
    a = _array(a)
    norm = _F.DUAL_NORM[_F.check_norm(norm)]
    return _irfft1(_E.cconj(a), n, _axis(axis, _ndim_of(a)), norm)


def ihfft(a: Any, n: Any = None, axis: int = -1, norm: Any = None, out: Any = None) -> Any:
    """The inverse of hfft (numpy.fft.ihfft): conj(rfft(a, n)) with the opposite norm."""
    if out is not None:
        return _plain("ihfft", a, out, n, axis, norm)
    a = _array(a)
    norm = _F.DUAL_NORM[_F.check_norm(norm)]
    return _E.conj_p.bind1(_rfft1(a, n, _axis(axis, _ndim_of(a)), norm, "ihfft"))


# ---------------------------------------------------------------------------------------------
# shifts

def _shifts(x: Any, axes: Any, sign: int) -> tuple[Any, Any]:
    shape = _shape_of(x)
    if axes is None:
        axes = tuple(range(len(shape)))
        return [sign * (d // 2) for d in shape], axes
    if isinstance(axes, (int, _np.integer)):
        return sign * (shape[_axis(axes, len(shape))] // 2), axes
    return [sign * (shape[_axis(ax, len(shape))] // 2) for ax in axes], axes


def fftshift(x: Any, axes: Any = None) -> Any:
    """The zero frequency moved to the centre (numpy.fft.fftshift): a roll."""
    x = _array(x)
    shift, axes = _shifts(x, axes, 1)
    return _S.roll(x, shift, axes)


def ifftshift(x: Any, axes: Any = None) -> Any:
    """The inverse of fftshift (numpy.fft.ifftshift)."""
    x = _array(x)
    shift, axes = _shifts(x, axes, -1)
    return _S.roll(x, shift, axes)
