"""The discrete Fourier transforms as primitives: `fft` (complex, over any axes, forward or
inverse), `rfft` (of a real signal, one axis: the non-redundant half of the spectrum) and `irfft`
(its inverse, one axis, a real signal of a given length). The NumPy-shaped functions of
`chainrule.numpy.fft` are built on these three, with the zero-padding or cropping of `n=`/`s=`
done by the (differentiable) shape functions before a primitive sees the operand, so a primitive
always transforms its whole axis.

Every transform is linear, so its JVP is the transform itself and its reverse rule a transpose,
written with these same primitives (so both differentiate again). Complex cotangents follow the
library's convention (see elementwise.py): the transpose is the adjoint for the real inner
product Re(sum(conj(a) * b)), and a real operand gets the real part.

- fft with norm `m` is a multiple of the unitary DFT; its adjoint is the inverse transform with
  the dual norm (`backward` <-> `forward`, `ortho` itself): fft(x, "backward") = F x has adjoint
  F^H = N ifft(., "backward") = ifft(., "forward").
- rfft keeps the first N//2 + 1 rows of F, so its adjoint is Re(F^H zero-padded(ct)). irfft
  sums every frequency but the zero one (and Nyquist's, N even) twice, so this is
  irfft(w * ct) with the Hermitian weights w = 1 there and 1/2 elsewhere (with the dual norm).
- irfft(c) = Re(G H(c)), G the inverse DFT and H the Hermitian extension of the half spectrum;
  its adjoint is a * rfft(ct) with a = 1/w (with the dual norm). The imaginary parts of the zero
  frequency (and of Nyquist's) do not reach the output, and their cotangents are 0: rfft of a
  real signal is real there.
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .._core.primitive import Primitive, dtype_of, ndim_of, shape_of
from .._core.rules import def_rule, note_complex_made
from . import elementwise as E
from . import reduce as R

NORMS = ("backward", "ortho", "forward")
#: the norm of the adjoint (and of the inverse) transform
DUAL_NORM = {"backward": "forward", "ortho": "ortho", "forward": "backward"}


def check_norm(norm: Any) -> str:
    """`norm` as one of NORMS (None is "backward"), else NumPy's ValueError."""
    if norm is None:
        return "backward"
    if not isinstance(norm, str) or norm not in NORMS:
        raise ValueError(f'Invalid norm value {norm!r}; should be "backward", "ortho" or '
                         f'"forward".')
    return norm


def _check_axis(prim: str, axis: Any, ndim: int) -> int:
    if type(axis) is not int or not 0 <= axis < ndim:
        raise ValueError(f"'{prim}': axis must be an int in [0, {ndim}) (normalised), got "
                         f"{axis!r}")
    return axis


def _complex_dtype(dt: Any) -> np.dtype:
    return np.result_type(dt, 1j)  # what numpy.fft computes in (float32 stays single)


def _real_dtype(dt: Any) -> np.dtype:
    return np.result_type(np.empty(0, dt).real.dtype, 1.0)


# ---------------------------------------------------------------------------------------------
# fft: the complex transform over `axes` (forward, or inverse with `inverse=True`)

def _fft_impl(x: Any, *, axes: tuple[int, ...], inverse: bool, norm: Any) -> Any:
    if np.dtype(dtype_of(x)).kind != "c":
        note_complex_made()  # (complex values from real ones: see rules.COMPLEX_MADE)
    if len(axes) == 1:  # (one axis: numpy.fft.fft without fftn's loop)
        return (np.fft.ifft if inverse else np.fft.fft)(x, axis=axes[0], norm=norm)
    return (np.fft.ifftn if inverse else np.fft.fftn)(x, axes=axes, norm=norm)


def _fft_abstract(x: Any, *, axes: tuple[int, ...], inverse: bool, norm: str
                  ) -> tuple[tuple[int, ...], np.dtype]:
    nd = ndim_of(x)
    if type(axes) is not tuple or not axes:
        raise ValueError(f"'fft': axes must be a non-empty tuple of ints, got {axes!r}")
    for a in axes:
        _check_axis("fft", a, nd)
    if type(inverse) is not bool:
        raise ValueError(f"'fft': inverse must be a bool, got {inverse!r}")
    check_norm(norm)
    return shape_of(x), _complex_dtype(dtype_of(x))


def _fft_jvp(primals: list[Any], tangents: list[Any], **params: Any) -> tuple[Any, Any]:
    return fft_p.bind(primals[0], **params), fft_p.bind(tangents[0], **params)


def _fft_transpose(ct: Any, x: Any, *, axes: tuple[int, ...], inverse: bool, norm: str) -> Any:
    g = fft_p.bind(ct, axes=axes, inverse=not inverse, norm=DUAL_NORM[norm])
    return R.cotangent_like(g, x)  # (the real part, for a real signal)


def _fft_batch(args: list[Any], batched: tuple[bool, ...], *, axes: tuple[int, ...],
               **params: Any) -> Any:
    return fft_p.bind(args[0], axes=tuple(a + 1 for a in axes), **params)


fft_p = def_rule(Primitive("fft", _fft_impl, _fft_abstract), jvp=_fft_jvp,
                 transpose=(_fft_transpose,), batch=_fft_batch)


def fft(x: Any, axes: tuple[int, ...], inverse: bool = False, norm: str = "backward") -> Any:
    """The DFT (or its inverse) of `x` over the normalised, non-empty `axes`."""
    return fft_p.bind(x, axes=tuple(axes), inverse=bool(inverse), norm=norm)


# ---------------------------------------------------------------------------------------------
# rfft and irfft: one axis each

@functools.lru_cache(maxsize=256)
def _half_weights(n: int, dtype: np.dtype) -> np.ndarray:
    """The Hermitian weights of the n//2 + 1 frequencies of a real signal of length n: 1 where
    the frequency is its own mirror image (0, and n/2 for even n), 1/2 elsewhere. Read-only."""
    w = np.full(n // 2 + 1, 0.5, dtype)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    w.flags.writeable = False
    return w


def _along(w: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    """A 1-D array shaped to broadcast along `axis` of an array of `ndim` dimensions."""
    return w.reshape(w.shape + (1,) * (ndim - 1 - axis))


def _rfft_impl(x: Any, *, axis: int, norm: Any) -> Any:
    note_complex_made()  # (a real signal's spectrum: see rules.COMPLEX_MADE)
    return np.fft.rfft(x, axis=axis, norm=norm)


def _rfft_abstract(x: Any, *, axis: int, norm: str) -> tuple[tuple[int, ...], np.dtype]:
    s = list(shape_of(x))
    _check_axis("rfft", axis, len(s))
    check_norm(norm)
    if np.dtype(dtype_of(x)).kind == "c":
        raise TypeError("'rfft' transforms a real signal, and the input is complex: use fft")
    if s[axis] < 1:
        raise ValueError(f"Invalid number of FFT data points ({s[axis]}) specified.")
    s[axis] = s[axis] // 2 + 1
    return tuple(s), _complex_dtype(dtype_of(x))


def _rfft_jvp(primals: list[Any], tangents: list[Any], **params: Any) -> tuple[Any, Any]:
    return rfft_p.bind(primals[0], **params), rfft_p.bind(tangents[0], **params)


def _rfft_transpose(ct: Any, x: Any, *, axis: int, norm: str) -> Any:
    n = shape_of(x)[axis]
    w = _half_weights(n, _real_dtype(dtype_of(ct)))
    return irfft_p.bind(E.mul(ct, _along(w, axis, ndim_of(x))), axis=axis, n=n,
                        norm=DUAL_NORM[norm])


def _rfft_batch(args: list[Any], batched: tuple[bool, ...], *, axis: int, norm: str) -> Any:
    return rfft_p.bind(args[0], axis=axis + 1, norm=norm)


rfft_p = def_rule(Primitive("rfft", _rfft_impl, _rfft_abstract), jvp=_rfft_jvp,
                  transpose=(_rfft_transpose,), batch=_rfft_batch)


def _irfft_impl(x: Any, *, axis: int, n: int, norm: Any) -> Any:
    return np.fft.irfft(x, n=n, axis=axis, norm=norm)


def _irfft_abstract(x: Any, *, axis: int, n: int, norm: str) -> tuple[tuple[int, ...], np.dtype]:
    s = list(shape_of(x))
    _check_axis("irfft", axis, len(s))
    check_norm(norm)
    if type(n) is not int or n < 1:
        raise ValueError(f"Invalid number of FFT data points ({n!r}) specified.")
    if s[axis] != n // 2 + 1:
        raise ValueError(f"'irfft': a real signal of length {n} has {n // 2 + 1} frequencies, "
                         f"and the input has {s[axis]} along axis {axis}; crop or pad it first "
                         f"(chainrule.numpy.fft.irfft does)")
    s[axis] = n
    return tuple(s), _real_dtype(dtype_of(x))


def _irfft_jvp(primals: list[Any], tangents: list[Any], **params: Any) -> tuple[Any, Any]:
    return irfft_p.bind(primals[0], **params), irfft_p.bind(tangents[0], **params)


def _irfft_transpose(ct: Any, x: Any, *, axis: int, n: int, norm: str) -> Any:
    if E._is_complex(ct):  # (the output is real: so is a cotangent by the convention)
        ct = E.real_p.bind1(ct)
    g = rfft_p.bind(ct, axis=axis, norm=DUAL_NORM[norm])
    a = 1.0 / _half_weights(n, _real_dtype(dtype_of(ct)))
    return R.cotangent_like(E.mul(g, _along(a, axis, ndim_of(x))), x)


def _irfft_batch(args: list[Any], batched: tuple[bool, ...], *, axis: int, **params: Any) -> Any:
    return irfft_p.bind(args[0], axis=axis + 1, **params)


irfft_p = def_rule(Primitive("irfft", _irfft_impl, _irfft_abstract), jvp=_irfft_jvp,
                   transpose=(_irfft_transpose,), batch=_irfft_batch)


def rfft(x: Any, axis: int, norm: str = "backward") -> Any:
    """The n//2 + 1 frequencies of the real signal `x` of length n along the normalised `axis`."""
    return rfft_p.bind(x, axis=int(axis), norm=norm)


def irfft(x: Any, axis: int, n: int, norm: str = "backward") -> Any:
    """The real signal of length `n` whose rfft is `x` (n//2 + 1 long along the normalised
    `axis`)."""
    return irfft_p.bind(x, axis=int(axis), n=int(n), norm=norm)
