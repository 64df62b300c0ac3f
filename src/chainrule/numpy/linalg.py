"""`chainrule.numpy.linalg`: NumPy's linear algebra, differentiable. Stacks of matrices
(..., m, n) work as in NumPy. `cholesky` and `eigh` read a symmetric matrix, so their derivatives
are with respect to symmetric perturbations (the convention of JAX)."""
from __future__ import annotations

from typing import Any

import numpy as _np

from .._core.primitive import Tracer as _Tracer
from .._core.primitive import dtype_of as _dtype_of
from .._core.primitive import ndim_of as _ndim_of
from .._core.primitive import shape_of as _shape_of
from ..ops import elementwise as _E
from ..ops import linalg as _L
from ..ops import reduce as _R
from ..ops import shape as _S
from . import _guarded

LinAlgError = _np.linalg.LinAlgError

inv = _L.inv
solve = _L.solve
det = _L.det
# NumPy's named results (namedtuples: pytrees, with .sign .logabsdet and the like)
try:
    from numpy.linalg._linalg import EighResult, SlogdetResult, SVDResult  # NumPy >= 2
except ImportError:  # pragma: no cover - NumPy 1.x returns plain tuples; name them alike
    from collections import namedtuple
    SlogdetResult = namedtuple("SlogdetResult", "sign logabsdet")  # type: ignore[misc]
    EighResult = namedtuple("EighResult", "eigenvalues eigenvectors")  # type: ignore[misc]
    SVDResult = namedtuple("SVDResult", "U S Vh")  # type: ignore[misc]


def slogdet(a: Any) -> Any:
    """(sign, logabsdet); the sign is piecewise constant (zero derivative)."""
    return SlogdetResult(*_L.slogdet(a))


def cholesky(a: Any, /, *, upper: bool = False) -> Any:
    L = _L.cholesky(a)
    return matrix_transpose(L) if upper else L


def eigh(a: Any, UPLO: str = "L") -> Any:  # noqa: N803 - NumPy's name
    """Eigenvalues and eigenvectors of a symmetric matrix, read from its lower (or, with
    UPLO='U', upper) triangle."""
    if UPLO not in ("L", "U"):
        raise ValueError(f"eigh: UPLO must be 'L' or 'U', not {UPLO!r}")
    return EighResult(*_L.eigh(a if UPLO == "L" else matrix_transpose(a)))


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True,
        hermitian: bool = False) -> Any:
    if not isinstance(a, _Tracer):  # plain arrays: NumPy itself, every option
        return _np.linalg.svd(a, full_matrices=full_matrices, compute_uv=compute_uv,
                              hermitian=hermitian)
    out = _L.svd(a, full_matrices, compute_uv, hermitian)
    return SVDResult(*out) if compute_uv else out


def matrix_transpose(x: Any) -> Any:
    return _S.swapaxes(x, -1, -2)


def _vector_norm(x: Any, ord: Any, axis: Any, keepdims: bool) -> Any:
    if ord is None or ord == 2:
        return _E.sqrt(_R.sum(_E.mul(x, x), axis, keepdims))
    if ord == _np.inf:
        return _R.max(_E.abs(x), axis, keepdims)
    if ord == -_np.inf:
        return _R.min(_E.abs(x), axis, keepdims)
    if ord == 0:  # the number of nonzeros: piecewise constant
        return _R.sum(_E.not_equal_p.bind(x, 0).astype(_dtype_of(x)) if hasattr(x, "astype")
                      else _np.asarray(x != 0, _dtype_of(x)), axis, keepdims)
    if ord == 1:
        return _R.sum(_E.abs(x), axis, keepdims)
    p = float(ord)
    return _E.power(_R.sum(_E.power(_E.abs(x), p), axis, keepdims), 1.0 / p)


def _matrix_norm(x: Any, ord: Any, axes: tuple[int, int], keepdims: bool) -> Any:
    r, c = axes
    if ord in (None, "fro"):
        out = _E.sqrt(_R.sum(_E.mul(x, x), axes, keepdims=True))
    elif ord in ("nuc", 2, -2):
        moved = _S.moveaxis(x, (r, c), (-2, -1))
        sv = _L.svd(moved, compute_uv=False)
        red = (_R.sum(sv, -1) if ord == "nuc" else
               _R.max(sv, -1) if ord == 2 else _R.min(sv, -1))
        out = _S.expand_dims(red, sorted((r, c)))
    elif ord in (1, -1):
        colsums = _R.sum(_E.abs(x), r, keepdims=True)
        out = (_R.max if ord == 1 else _R.min)(colsums, c, keepdims=True)
    elif ord in (_np.inf, -_np.inf):
        rowsums = _R.sum(_E.abs(x), c, keepdims=True)
        out = (_R.max if ord == _np.inf else _R.min)(rowsums, r, keepdims=True)
    else:
        raise ValueError(f"norm: invalid norm order {ord!r} for matrices")
    return out if keepdims else _S.squeeze(out, axes)


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    """np.linalg.norm. The 2-norm's derivative at the zero vector is nan (sqrt'(0) = inf), as in
    JAX; add a tiny constant inside if you need a subgradient there."""
    nd = _ndim_of(x)
    if axis is None:
        if ord is None:
            out = _E.sqrt(_R.sum(_E.mul(x, x)))
            return _S.reshape(out, (1,) * nd) if keepdims else out
        axis = tuple(range(nd))
    axes = (axis,) if isinstance(axis, (int, _np.integer)) else tuple(axis)
    axes = tuple(int(a) % nd for a in axes)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes, keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, (axes[0], axes[1]), keepdims)
    raise ValueError(f"norm: improper number of dimensions to norm ({len(axes)})")


def pinv(a: Any, rcond: Any = None, hermitian: bool = False) -> Any:
    """Moore-Penrose pseudo-inverse through the SVD; singular values below the cutoff are dropped
    (their derivative contributes an exact zero)."""
    m, n = _shape_of(a)[-2], _shape_of(a)[-1]
    u, s, vh = _L.svd(a, full_matrices=False)
    if rcond is None:
        rcond = max(m, n) * _np.finfo(_dtype_of(a)).eps
    from ..custom import stop_gradient
    cutoff = _E.mul(stop_gradient(_R.max(s, -1, keepdims=True)), rcond)
    keep = _E.greater_p.bind(s, cutoff)
    safe = _E.select(keep, s, _np.ones((), _dtype_of(s)))
    s_inv = _E.select(keep, _E.reciprocal(safe), _np.zeros((), _dtype_of(s)))
    return _L.matmul(_S.swapaxes(vh, -1, -2), _E.mul(_S.expand_dims(s_inv, -1),
                                                     _S.swapaxes(u, -1, -2)))


def __getattr__(name: str) -> Any:
    try:
        obj = getattr(_np.linalg, name)
    except AttributeError:
        raise AttributeError(f"module 'chainrule.numpy.linalg' has no attribute '{name}'") from None
    return _guarded(f"linalg.{name}", obj) if callable(obj) and not isinstance(obj, type) else obj
