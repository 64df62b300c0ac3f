"""`chainrule.numpy.linalg`: NumPy's linear algebra, differentiable. Stacks of matrices
(..., m, n) work as in NumPy, and so do complex matrices (with chainrule's complex convention: the
gradient of a real L with respect to z = x + iy is dL/dx + i dL/dy).

`cholesky`, `eigh` and `eigvalsh` read one triangle of their input, as NumPy (LAPACK) does: their
derivative is that of the function NumPy computes, so it is zero with respect to the triangle not
read, and on a symmetric (Hermitian) input and perturbation it is the usual one."""
from __future__ import annotations

from typing import Any

import numpy as _np

from .._core.primitive import Tracer as _Tracer
from .._core.primitive import dtype_of as _dtype_of
from .._core.primitive import ndim_of as _ndim_of
from .._core.primitive import shape_of as _shape_of
from ..custom import custom_jvp
from ..ops import elementwise as _E
from ..ops import linalg as _L
from ..ops import reduce as _R
from ..ops import shape as _S
from ._operands import contains_tracer as _contains_tracer
from ._operands import guarded as _guarded
from ._operands import operand as _operand

LinAlgError = _np.linalg.LinAlgError

inv = _L.inv
det = _L.det
# NumPy's named results (namedtuples: pytrees, with .sign .logabsdet and the like)
try:
    from numpy.linalg._linalg import EighResult, SlogdetResult, SVDResult  # NumPy >= 2
except ImportError:  # pragma: no cover - NumPy 1.x returns plain tuples; name them alike
    from collections import namedtuple
    SlogdetResult = namedtuple("SlogdetResult", "sign logabsdet")  # type: ignore[misc]
    EighResult = namedtuple("EighResult", "eigenvalues eigenvectors")  # type: ignore[misc]
    SVDResult = namedtuple("SVDResult", "U S Vh")  # type: ignore[misc]


def solve(a: Any, b: Any) -> Any:
    """np.linalg.solve: a 1-D `b` is one right-hand side; otherwise `b` is (..., n, k)."""
    return _L.solve(_operand(a), _operand(b))


def slogdet(a: Any) -> Any:
    """(sign, logabsdet). A real matrix's sign is piecewise constant (zero derivative); a complex
    one's is det / |det|, which turns with the phase of det."""
    return SlogdetResult(*_L.slogdet(a))


def cholesky(a: Any, /, *, upper: bool = False) -> Any:
    """The Cholesky factor of the Hermitian matrix NumPy reads from `a`: its lower triangle (with
    `upper=True`, its upper triangle, and the factor R = L^H of A = R^H R). The derivative is that
    of this function: zero with respect to the triangle not read."""
    if upper:  # the upper triangle of a is the lower triangle of a^H
        return _mH(_L.cholesky(_mH(a)))
    return _L.cholesky(a)


def eigh(a: Any, UPLO: str = "L") -> Any:  # noqa: N803 - NumPy's name
    """Eigenvalues (ascending) and eigenvectors of the Hermitian matrix NumPy reads from `a`: its
    lower triangle, or with UPLO='U' its upper triangle, and the real part of the diagonal.

    The derivative is that of this function, for any input: zero with respect to the strict
    triangle not read (and the imaginary part of the diagonal), while an entry of the triangle
    read counts for itself and its mirror image. On a symmetric (Hermitian) matrix and a
    symmetric perturbation this is the usual derivative; to differentiate with respect to
    symmetric perturbations of a general matrix, symmetrise first: eigh((a + a.T) / 2).
    Eigenvectors of repeated eigenvalues are not unique and have no derivative (it is inf/nan)."""
    return EighResult(*_L.eigh(a, UPLO))


def eigvalsh(a: Any, UPLO: str = "L") -> Any:  # noqa: N803 - NumPy's name
    """Eigenvalues of the Hermitian matrix read from one triangle of `a` (see `eigh`)."""
    if not isinstance(a, _Tracer):
        return _np.linalg.eigvalsh(a, UPLO=UPLO)
    return eigh(a, UPLO).eigenvalues


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True,
        hermitian: bool = False) -> Any:
    """np.linalg.svd. With `hermitian=True` the matrix is the Hermitian one read from the lower
    triangle of `a` (as NumPy reads it); for a traced input its singular vectors then come from
    the general SVD and may differ in sign (phase) from NumPy's, the singular values do not."""
    if not isinstance(a, _Tracer):  # plain arrays: NumPy itself, every option
        return _np.linalg.svd(a, full_matrices=full_matrices, compute_uv=compute_uv,
                              hermitian=hermitian)
    out = _L.svd(a, full_matrices, compute_uv, hermitian)
    return SVDResult(*out) if compute_uv else out


def matrix_transpose(x: Any) -> Any:
    return _S.swapaxes(x, -1, -2)


def _mH(x: Any) -> Any:
    return _E.cconj(_S.swapaxes(x, -1, -2))


def _abs2(x: Any) -> Any:
    """|x|^2, real, smooth everywhere (x * conj(x) for complex x)."""
    if _np.issubdtype(_dtype_of(x), _np.complexfloating):
        return _E.real_p.bind1(_E.mul(x, _E.conj_p.bind1(x)))
    return _E.mul(x, x)


def _vector_norm(x: Any, ord: Any, axis: Any, keepdims: bool) -> Any:
    if ord is None or ord == 2:
        return _E.sqrt(_R.sum(_abs2(x), axis, keepdims))
    if ord == _np.inf:
        return _R.max(_E.abs(x), axis, keepdims)
    if ord == -_np.inf:
        return _R.min(_E.abs(x), axis, keepdims)
    if ord == 0:  # the number of nonzeros: piecewise constant
        real = _np.empty(0, _dtype_of(x)).real.dtype
        return _R.sum(_E.not_equal_p.bind(x, 0).astype(real) if hasattr(x, "astype")
                      else _np.asarray(x != 0, real), axis, keepdims)
    if ord == 1:
        return _R.sum(_E.abs(x), axis, keepdims)
    p = float(ord)
    return _E.power(_R.sum(_E.power(_E.abs(x), p), axis, keepdims), 1.0 / p)


def _matrix_norm(x: Any, ord: Any, axes: tuple[int, int], keepdims: bool) -> Any:
    r, c = axes
    if ord in (None, "fro"):
        out = _E.sqrt(_R.sum(_abs2(x), axes, keepdims=True))
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
    """np.linalg.norm (real-valued for complex input, as NumPy). The 2-norm's derivative at the
    zero vector is nan (sqrt'(0) = inf), as in JAX; add a tiny constant inside if you need a
    subgradient there."""
    x = _operand(x)
    nd = _ndim_of(x)
    if axis is None:
        if ord is None:
            out = _E.sqrt(_R.sum(_abs2(x)))
            return _S.reshape(out, (1,) * nd) if keepdims else out
        axis = tuple(range(nd))
    axes = (axis,) if isinstance(axis, (int, _np.integer)) else tuple(axis)
    for a in axes:
        if not -nd <= int(a) < nd:
            raise _np.exceptions.AxisError(int(a), nd)
    axes = tuple(int(a) % nd for a in axes)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes, keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, (axes[0], axes[1]), keepdims)
    raise ValueError(f"norm: improper number of dimensions to norm ({len(axes)})")


# ---------------------------------------------------------------------------------------------
# pinv: a function with its own forward rule. Through the SVD, its derivative would divide by
# s_i^2 - s_j^2, which is 0 / 0 = nan whenever singular values repeat (pinv(s * I)), although
# pinv itself is smooth there. Its derivative has a closed form in pinv itself (Golub & Pereyra
# 1973), exact wherever the rank is locally constant (full-rank matrices in particular):
#   dA+ = -A+ dA A+ + A+ A+^H dA^H (I - A A+) + (I - A+ A) dA^H A+^H A+
# Written with chainrule operations, so it differentiates again; reverse mode transposes it.

_NO_VALUE = _np._NoValue  # NumPy's marker for "rtol not given"


def _pinv_value(a: Any, rcond: Any) -> Any:
    """NumPy's pinv: the SVD with singular values below rcond * max(s) dropped."""
    if not _contains_tracer(a):
        return _np.linalg.pinv(a, rcond=rcond)
    u, s, vh = _L.svd(a, full_matrices=False)
    cutoff = _E.mul(_E.stop_gradient(_R.max(s, -1, keepdims=True)),
                    _np.asarray(rcond)[..., None])
    keep = _E.greater_p.bind(s, cutoff)
    safe = _E.select(keep, s, _np.ones((), _dtype_of(s)))
    s_inv = _E.select(keep, _E.reciprocal(safe), _np.zeros((), _dtype_of(s)))
    return _L.matmul(_mH(vh), _E.mul(_S.expand_dims(s_inv, -1), _mH(u)))


def _pinv_jvp(primals: Any, tangents: Any) -> tuple[Any, Any]:
    (a, rcond), (a_dot, _) = primals, tangents
    p = _pinv(a, rcond)
    m, n = _shape_of(a)[-2], _shape_of(a)[-1]
    p_h, a_dot_h = _mH(p), _mH(a_dot)
    left = _E.sub(_np.eye(m, dtype=_dtype_of(p)), _L.matmul(a, p))    # I - A A+
    right = _E.sub(_np.eye(n, dtype=_dtype_of(p)), _L.matmul(p, a))   # I - A+ A
    t = _E.neg(_L.matmul(_L.matmul(p, a_dot), p))
    t = _E.add(t, _L.matmul(_L.matmul(_L.matmul(p, p_h), a_dot_h), left))
    t = _E.add(t, _L.matmul(_L.matmul(right, a_dot_h), _L.matmul(p_h, p)))
    return p, t


_pinv = custom_jvp(_pinv_value)
_pinv.defjvp(_pinv_jvp)


def pinv(a: Any, rcond: Any = None, hermitian: bool = False, *, rtol: Any = _NO_VALUE) -> Any:
    """Moore-Penrose pseudo-inverse, as NumPy computes it (singular values at or below
    rcond * max(s) are dropped; rcond defaults as in NumPy). With `hermitian=True`, of the
    Hermitian matrix read from the lower triangle of `a`.

    The derivative is the closed form in pinv itself (the Golub-Pereyra formula, as JAX), exact
    where the rank is locally constant, finite for repeated singular values (pinv(s * I)). Where
    a perturbation would change the rank pinv is discontinuous; the formula then gives the
    derivative along the matrices of the same rank."""
    if not isinstance(a, _Tracer):
        if rtol is _NO_VALUE:
            return _np.linalg.pinv(a, rcond, hermitian)
        return _np.linalg.pinv(a, rcond, hermitian, rtol=rtol)
    if rcond is None:
        if rtol is _NO_VALUE:
            rcond = 1e-15
        elif rtol is None:
            rcond = max(_shape_of(a)[-2:]) * _np.finfo(_dtype_of(a)).eps
        else:
            rcond = rtol
    elif rtol is not _NO_VALUE:
        raise ValueError("pinv: `rtol` and `rcond` can't be both set")
    m, n = _shape_of(a)[-2], _shape_of(a)[-1]
    if m == 0 or n == 0:  # nothing to invert: an empty (n, m) result, as NumPy
        return _np.zeros(_shape_of(a)[:-2] + (n, m), _dtype_of(a))
    if hermitian:
        a = _L.hermitian_from_triangle(a)
    rcond = float(rcond) if _np.ndim(rcond) == 0 else _np.asarray(rcond, _np.float64)
    return _pinv(a, rcond)


def __getattr__(name: str) -> Any:
    try:
        obj = getattr(_np.linalg, name)
    except AttributeError:
        raise AttributeError(f"module 'chainrule.numpy.linalg' has no attribute '{name}'") from None
    return _guarded(f"linalg.{name}", obj) if callable(obj) and not isinstance(obj, type) else obj
