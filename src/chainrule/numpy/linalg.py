"""`chainrule.numpy.linalg`: NumPy's linear algebra, differentiable. Stacks of matrices
(..., m, n) work as in NumPy, and so do complex matrices (with chainrule's complex convention: the
gradient of a real L with respect to z = x + iy is dL/dx + i dL/dy).

`cholesky`, `eigh` and `eigvalsh` read one triangle of their input, as NumPy (LAPACK) does: their
derivative is that of the function NumPy computes, so it is zero with respect to the triangle not
read, and on a symmetric (Hermitian) input and perturbation it is the usual one.

`eig` and `eigvals` of a traced matrix always return complex arrays (NumPy returns real ones when
every eigenvalue happens to be real: a dtype that depends on the values, which a graph built from
shapes cannot follow). Each eigenvector has an arbitrary phase: differentiate only quantities
that do not depend on it (see `eig`).

Called on plain arrays, every function here is NumPy's own.

Examples
--------
>>> import numpy as np
>>> import chainrule as cr
>>> import chainrule.numpy as cnp
>>> A = np.array([[2.0, 1.0], [1.0, 3.0]])
>>> print(np.round(cr.grad(cnp.linalg.det)(A), 6))           # det(A) inv(A).T
[[ 3. -1.]
 [-1.  2.]]
>>> g = cr.grad(lambda a: cnp.sum(cnp.linalg.eigvalsh(a)))(A)     # the trace: the identity
>>> bool(np.allclose(g, np.eye(2)))
True
"""
from __future__ import annotations

import operator as _operator
from typing import Any

import numpy as _np

from .._core.errors import ConcretizationError as _ConcretizationError
from .._core.primitive import Tracer as _Tracer
from .._core.primitive import concrete_value as _concrete_value
from .._core.primitive import dtype_of as _dtype_of
from .._core.primitive import ndim_of as _ndim_of
from .._core.primitive import scalar as _number
from .._core.primitive import shape_of as _shape_of
from ..custom import custom_jvp
from ..ops import elementwise as _E
from ..ops import linalg as _L
from ..ops import reduce as _R
from ..ops import shape as _S
from ._docs import document as _document
from ._operands import contains_tracer as _contains_tracer
from ._operands import guarded as _guarded
from ._operands import operand as _operand

LinAlgError = _np.linalg.LinAlgError

inv = _L.inv
det = _L.det
# NumPy's named results (namedtuples: pytrees, with .sign .logabsdet and the like)
try:
    from numpy.linalg._linalg import (  # NumPy >= 2
        EighResult,
        EigResult,
        QRResult,
        SlogdetResult,
        SVDResult,
    )
except ImportError:  # pragma: no cover - NumPy 1.x returns plain tuples; name them alike
    from collections import namedtuple
    SlogdetResult = namedtuple("SlogdetResult", "sign logabsdet")  # type: ignore[misc]
    EighResult = namedtuple("EighResult", "eigenvalues eigenvectors")  # type: ignore[misc]
    EigResult = namedtuple("EigResult", "eigenvalues eigenvectors")  # type: ignore[misc]
    QRResult = namedtuple("QRResult", "Q R")  # type: ignore[misc]
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
    """Eigenvalues of the Hermitian matrix read from one triangle of `a` (see `eigh`). Their
    derivative needs no eigenvector derivative, so it stays finite where eigenvalues repeat."""
    a = _operand(a)
    if not isinstance(a, _Tracer):
        return _np.linalg.eigvalsh(a, UPLO=UPLO)
    return _L.eigvalsh(a, UPLO)


def eig(a: Any) -> Any:
    """Eigenvalues and right eigenvectors of a general square matrix (or a stack of them).

    For a traced matrix both are complex arrays, whatever the values (NumPy's are real when all
    eigenvalues are). Eigenvalues must be distinct for the eigenvectors to have a derivative.

    The gauge: NumPy normalises each eigenvector to unit length, and the derivative keeps that
    (Re(v_i^H dv_i) = 0); its phase is arbitrary (LAPACK makes the largest entry real, a choice
    that is not differentiable), and the derivative takes none of it into account. So a loss
    must not depend on the eigenvectors' phases: functions of the eigenvalues, of |v_ij|^2, of
    v_i v_i^H, of V diag(w) V^-1 are fine; Re(v_ij) alone is not."""
    a = _operand(a)
    if not isinstance(a, _Tracer):
        return _np.linalg.eig(a)
    return EigResult(*_L.eig(a))


def eigvals(a: Any) -> Any:
    """Eigenvalues of a general square matrix: complex for a traced one (see `eig`). Their
    derivative is finite where eigenvalues repeat only if the matrix stays diagonalisable."""
    a = _operand(a)
    if not isinstance(a, _Tracer):
        return _np.linalg.eigvals(a)
    return _L.eigvals(a)


def qr(a: Any, mode: str = "reduced") -> Any:
    """np.linalg.qr: modes 'reduced' (Q, R), 'complete' (Q, R) and 'r' (R) are differentiable.

    mode='complete' of a tall matrix (m > n) is refused for a traced one: the last m - n columns
    of Q are any orthonormal basis of the complement, with no derivative; use 'reduced'.
    mode='raw' (LAPACK's Householder reflectors) is refused too."""
    a = _operand(a)
    if not isinstance(a, _Tracer):
        return _np.linalg.qr(a, mode=mode)
    if mode not in ("reduced", "complete", "r", "raw"):
        raise ValueError(f"qr: unrecognized mode {mode!r}")
    _L._matrix(a, "qr")
    m, n = _shape_of(a)[-2], _shape_of(a)[-1]
    if mode == "raw":
        raise NotImplementedError("qr(..., mode='raw') of a traced matrix is not differentiable "
                                  "(Householder reflectors); use mode='reduced'")
    if mode == "complete" and m > n:
        raise NotImplementedError(
            f"qr(..., mode='complete') of a traced {m} x {n} matrix (m > n) is not "
            f"differentiable: the last {m - n} columns of Q are any orthonormal basis of the "
            f"complement of the range. Use mode='reduced'")
    q, r = _L.qr(a)
    return r if mode == "r" else QRResult(q, r)


def lstsq(a: Any, b: Any, rcond: Any = None) -> Any:
    """np.linalg.lstsq: (x, residuals, rank, s).

    x is differentiable in `a` and `b` by the derivative of the pseudo-inverse (the normal
    equations' one for a full-column-rank `a`), exact wherever the rank is locally constant;
    `s` (the singular values) and `residuals` (computed as sum |b - a x|^2, as NumPy) are
    differentiable too; `rank` is an integer. Under an abstract trace (the graph engine), where
    no value is known, rank and the shape of residuals are those of a full-rank `a`."""
    a, b = _operand(a), _operand(b)
    if not (_contains_tracer(a) or _contains_tracer(b)):
        return _np.linalg.lstsq(a, b, rcond=rcond)
    if _ndim_of(a) != 2:
        raise LinAlgError(f"lstsq: {_ndim_of(a)}-dimensional array given. Array must be two-"
                          f"dimensional")
    if _ndim_of(b) not in (1, 2):
        raise LinAlgError(f"lstsq: b must be 1- or 2-dimensional, not {_ndim_of(b)}-dimensional")
    m, n = _shape_of(a)
    if _shape_of(b)[0] != m:
        raise LinAlgError(f"lstsq: incompatible dimensions, a is {m} x {n} and b has "
                          f"{_shape_of(b)[0]} rows")
    x = _L.lstsq(a, b, rcond)
    s = _L.svd(a, compute_uv=False)
    eps = _np.finfo(_L._float_dtype(_dtype_of(a))).eps
    cut = eps * max(m, n) if rcond is None else (eps if rcond < 0 else rcond)
    try:
        s_val = _np.asarray(_concrete_value(s, "lstsq's rank"))
        rank = int(_np.sum(s_val > cut * s_val.max())) if s_val.size else 0
    except _ConcretizationError:  # no value: a graph is being built from shapes
        rank = min(m, n)
    real = _L._real_dtype(_L._result_float(a, b))
    if m > n and rank == n:
        res = _R.sum(_abs2(_E.sub(b, _L.matmul(a, x))), 0)
        if _ndim_of(b) == 1:
            res = _S.reshape(res, (1,))
    else:
        res = _np.empty((0,), real)
    return x, res, rank, s


def matrix_power(a: Any, n: Any) -> Any:
    """np.linalg.matrix_power: repeated squaring (and inv for n < 0), differentiable."""
    a = _operand(a)
    if not isinstance(a, _Tracer):
        return _np.linalg.matrix_power(a, n)
    try:
        n = _operator.index(n)
    except TypeError:
        raise TypeError("matrix_power: the exponent must be an integer") from None
    _L._square(a, "matrix_power")
    if n == 0:  # the identity, a constant
        m = _shape_of(a)[-1]
        return _np.broadcast_to(_np.eye(m, dtype=_dtype_of(a)), _shape_of(a)).copy()
    if n < 0:
        a, n = _L.inv(a), -n
    out = None
    z = a
    while True:
        if n & 1:
            out = z if out is None else _L.matmul(out, z)
        n >>= 1
        if not n:
            return out
        z = _L.matmul(z, z)


def _chain_order(dims: list[int]) -> list[list[int]]:
    """The optimal split points of a product of matrices with these dimensions (NumPy's)."""
    k = len(dims) - 1
    cost = [[0] * k for _ in range(k)]
    split = [[0] * k for _ in range(k)]
    for length in range(1, k):
        for i in range(k - length):
            j = i + length
            cost[i][j] = _np.inf  # type: ignore[call-overload]
            for s in range(i, j):
                c = cost[i][s] + cost[s + 1][j] + dims[i] * dims[s + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, s
    return split


def multi_dot(arrays: Any, *, out: Any = None) -> Any:
    """np.linalg.multi_dot: the product of the arrays in NumPy's cheapest order; the first may
    be a vector (a row), the last a vector (a column)."""
    arrays = [_operand(x) for x in arrays]
    if not any(_contains_tracer(x) for x in arrays):
        return _np.linalg.multi_dot(arrays, out=out)
    if out is not None:
        raise TypeError("multi_dot(..., out=...) on traced values would write the result where "
                        "no derivative follows it; use the returned value")
    if len(arrays) < 2:
        raise ValueError("multi_dot: expecting at least two arrays.")
    first, last = _ndim_of(arrays[0]), _ndim_of(arrays[-1])
    if first == 1:
        arrays[0] = _S.reshape(arrays[0], (1, -1))
    if last == 1:
        arrays[-1] = _S.reshape(arrays[-1], (-1, 1))
    for x in arrays:
        if _ndim_of(x) != 2:
            raise LinAlgError(f"multi_dot: {_ndim_of(x)}-dimensional array given. Array must be "
                              f"two-dimensional")
    split = _chain_order([_shape_of(x)[0] for x in arrays] + [_shape_of(arrays[-1])[1]])

    def product(i: int, j: int) -> Any:
        if i == j:
            return arrays[i]
        return _L.matmul(product(i, split[i][j]), product(split[i][j] + 1, j))

    res = product(0, len(arrays) - 1)
    if first == 1 and last == 1:
        return _S.reshape(res, ())
    if first == 1:
        return _S.reshape(res, (-1,))
    if last == 1:
        return _S.reshape(res, (-1,))
    return res


def tensorsolve(a: Any, b: Any, axes: Any = None) -> Any:
    """np.linalg.tensorsolve: the tensor x with tensordot(a, x, x.ndim) = b (reshape + solve)."""
    a, b = _operand(a), _operand(b)
    if not (_contains_tracer(a) or _contains_tracer(b)):
        return _np.linalg.tensorsolve(a, b, axes=axes)
    an = _ndim_of(a)
    if axes is not None:
        order = list(range(an))
        for k in axes:
            order.remove(k % an if k < 0 else k)
            order.insert(an, k % an if k < 0 else k)
        a = _S.transpose(a, tuple(order))
    old = tuple(_shape_of(a)[-(an - _ndim_of(b)):])
    prod = int(_np.prod(old))
    if int(_np.prod(_shape_of(a))) != prod ** 2:
        raise LinAlgError("Input arrays must satisfy the requirement "
                          "prod(a.shape[b.ndim:]) == prod(a.shape[:b.ndim])")
    x = _L.solve(_S.reshape(a, (prod, prod)), _S.reshape(b, (prod,)))
    return _S.reshape(x, old)


def tensorinv(a: Any, ind: int = 2) -> Any:
    """np.linalg.tensorinv: the inverse for tensordot over the first `ind` axes (reshape +
    inv)."""
    a = _operand(a)
    if not isinstance(a, _Tracer):
        return _np.linalg.tensorinv(a, ind=ind)
    if ind <= 0:
        raise ValueError("Invalid ind argument.")
    old = tuple(_shape_of(a))
    prod = int(_np.prod(old[ind:]))
    ia = _L.inv(_S.reshape(a, (prod, -1)))
    return _S.reshape(ia, old[ind:] + old[:ind])


def matrix_norm(x: Any, /, *, keepdims: bool = False, ord: Any = "fro") -> Any:
    """np.linalg.matrix_norm: `norm` over the last two axes."""
    x = _operand(x)
    if not isinstance(x, _Tracer):
        return _np.linalg.matrix_norm(x, keepdims=keepdims, ord=ord)
    if _ndim_of(x) < 2:
        raise ValueError(f"matrix_norm: the input must be at least 2-dimensional, not "
                         f"{_ndim_of(x)}-dimensional")
    return norm(x, ord=ord, axis=(-2, -1), keepdims=keepdims)


def vector_norm(x: Any, /, *, axis: Any = None, keepdims: bool = False,
                ord: Any = 2) -> Any:
    """np.linalg.vector_norm: the norm of the entries along `axis` (all of them when None, or
    several axes at once), as one vector."""
    x = _operand(x)
    if not isinstance(x, _Tracer):
        return _np.linalg.vector_norm(x, axis=axis, keepdims=keepdims, ord=ord)
    nd = _ndim_of(x)
    if axis is None:
        axes = tuple(range(nd))
    else:
        axes = (axis,) if isinstance(axis, (int, _np.integer)) else tuple(axis)
        for k in axes:
            if not -nd <= int(k) < nd:
                raise _np.exceptions.AxisError(int(k), nd)
        axes = tuple(int(k) % nd for k in axes)
        if len(set(axes)) != len(axes):
            raise ValueError("vector_norm: repeated axis")
    if ord in ("fro", "nuc"):
        raise ValueError(f"vector_norm: invalid norm order {ord!r} for vectors")
    if nd == 0:
        return _vector_norm(_S.reshape(x, (1,)), ord, (0,), False)
    return _vector_norm(x, ord, axes, keepdims)


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
    safe = _E.select(keep, s, _number(1, _dtype_of(s)))
    s_inv = _E.select(keep, _E.reciprocal(safe), _number(0, _dtype_of(s)))
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


# docstrings for the functions without one of their own (see _docs.py)
_document(globals(), "linalg.")


def __getattr__(name: str) -> Any:
    try:
        obj = getattr(_np.linalg, name)
    except AttributeError:
        raise AttributeError(f"module 'chainrule.numpy.linalg' has no attribute '{name}'") from None
    return _guarded(f"linalg.{name}", obj) if callable(obj) and not isinstance(obj, type) else obj
