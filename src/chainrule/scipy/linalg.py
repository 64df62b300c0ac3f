"""`chainrule.scipy.linalg`: SciPy's linear algebra, differentiable, with SciPy's signatures.

    import chainrule.scipy.linalg as csl
    cr.grad(lambda a: csl.expm(a).sum())(a)

Called on plain arrays, every function is SciPy's own. Called on traced values, the primitives
(`solve_triangular`, `lu`, `lu_factor`, `lu_solve`, `expm`, `logm`, `sqrtm`, `solve_sylvester`,
`solve_banded`) compute their values with SciPy; the rest are built on them and on
`chainrule.numpy.linalg` (`cho_factor` on Cholesky, `eigh`/`det`/`inv`/`svd` are NumPy's
decompositions, whose values agree with SciPy's to rounding). Complex matrices follow the
library's convention (README, "Complex numbers").

What SciPy reads, chainrule differentiates: a function that reads one triangle of its input
(`cho_factor`, `eigh`, `solve_triangular`, `solve` with assume_a='pos'/'sym'/'her' or a
triangular one, `cho_solve` and `lu_solve` of a factor) has an exact zero derivative with respect
to the entries it does not read.

Refused on traced values, each with a NotImplementedError that says why: `schur` (the real Schur
form's derivative is not implemented), `qr(..., pivoting=True)`, `qr` with mode='full' of a tall
matrix and mode='raw', `svd(..., full_matrices=True)` of a non-square matrix,
`eigh(..., subset_by_value=...)`. `logm` and `sqrtm` of a real matrix whose principal logarithm
(square root) is complex raise a ValueError asking for a complex matrix.

Examples
--------
>>> import numpy as np
>>> import chainrule as cr
>>> import chainrule.numpy as cnp
>>> from chainrule.scipy import linalg
>>> print(np.round(cr.grad(lambda a: cnp.trace(linalg.expm(a)))(np.zeros((2, 2))), 6))
[[1. 0.]
 [0. 1.]]
"""
from __future__ import annotations

import operator
from typing import Any

import numpy as np
import scipy.linalg as _sl

from .._core.primitive import concrete_value as _concrete_value
from .._core.primitive import dtype_of as _dtype_of
from .._core.primitive import ndim_of as _ndim_of
from .._core.primitive import scalar as _number
from .._core.primitive import shape_of as _shape_of
from ..numpy import linalg as _nla
from ..numpy._operands import contains_tracer as _contains_tracer
from ..numpy._operands import operand as _operand
from ..ops import elementwise as _E
from ..ops import linalg as _L
from ..ops import shape as _S

__all__ = ["cho_factor", "cho_solve", "lu", "lu_factor", "lu_solve", "qr", "solve_triangular",
           "solve", "expm", "logm", "sqrtm", "schur", "eigh", "det", "inv", "svd", "block_diag",
           "solve_sylvester", "solve_banded"]

LinAlgError = np.linalg.LinAlgError


def _traced(*xs: Any) -> bool:
    return any(_contains_tracer(x) for x in xs)


def _mH(x: Any) -> Any:
    return _E.cconj(_S.swapaxes(x, -1, -2))


def _mT(x: Any) -> Any:
    return _S.swapaxes(x, -1, -2)


def _as_columns(b: Any) -> tuple[Any, bool]:
    """A right-hand side as (..., n, k): a 1-D `b` is one column (and is made 1-D again)."""
    if _ndim_of(b) == 1:
        return _S.expand_dims(b, -1), True
    return b, False


def _back(x: Any, vector: bool) -> Any:
    return _S.squeeze(x, -1) if vector else x


def _trans_code(trans: Any) -> int:
    codes = {0: 0, 1: 1, 2: 2, "N": 0, "T": 1, "C": 2, "n": 0, "t": 1, "c": 2}
    try:
        return codes[trans]
    except (KeyError, TypeError):
        raise ValueError(f"trans must be 0, 1, 2 or 'N', 'T', 'C', not {trans!r}") from None


def _square(a: Any, name: str) -> int:
    s = _shape_of(a)
    if len(s) < 2 or s[-1] != s[-2]:
        raise ValueError(f"{name}: expected a square matrix (or a stack of them), got shape {s}")
    return s[-1]


def _symmetric_from_triangle(a: Any, lower: bool) -> Any:
    """The complex symmetric (not Hermitian) matrix read from one triangle: LAPACK's ?SYSV."""
    strict = _L._tri(a, lower, -1 if lower else 1)
    return _E.add(_L._tri(a, lower), _mT(strict))


# ---------------------------------------------------------------------------------------------
# triangular and general solves

def solve_triangular(a: Any, b: Any, trans: Any = 0, lower: bool = False,
                     unit_diagonal: bool = False, overwrite_b: bool = False,
                     check_finite: bool = True) -> Any:
    """x with op(a) x = b, op given by `trans` (0/'N': a, 1/'T': a^T, 2/'C': a^H), reading only
    the lower (upper) triangle of `a`, and not its diagonal with unit_diagonal=True: the
    derivative is zero with respect to the entries not read."""
    a, b = _operand(a), _operand(b)
    if not _traced(a, b):
        return _sl.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit_diagonal,
                                    overwrite_b=overwrite_b, check_finite=check_finite)
    _square(a, "solve_triangular")
    cols, vector = _as_columns(b)
    x = _L.solve_tri(a, cols, bool(lower), _trans_code(trans), bool(unit_diagonal))
    return _back(x, vector)


_STRUCTURES = {
    None: "gen", "gen": "gen", "general": "gen", "banded": "gen", "unknown": "gen",
    "sym": "sym", "symmetric": "sym", "her": "her", "hermitian": "her",
    "pos": "her", "positive definite": "her", "diagonal": "diagonal",
    "tridiagonal": "tridiagonal", "upper triangular": "upper", "lower triangular": "lower",
}


def _structured(a: Any, assume_a: Any, lower: bool, name: str) -> Any:
    """The matrix SciPy's solver for `assume_a` reads from `a` (one triangle, the diagonal, the
    three central diagonals, or all of it)."""
    try:
        kind = _STRUCTURES[assume_a]
    except (KeyError, TypeError):
        raise ValueError(f"{name}: {assume_a!r} is not a recognized matrix structure") from None
    n = _shape_of(a)[-1]
    zero = _number(0, _dtype_of(a))
    if kind == "sym":
        return _symmetric_from_triangle(a, lower)
    if kind == "her":
        return _L.hermitian_from_triangle(a, lower)
    if kind == "diagonal":
        return _E.select(np.eye(n, dtype=bool), a, zero)
    if kind == "tridiagonal":
        band = np.abs(np.subtract.outer(np.arange(n), np.arange(n))) <= 1
        return _E.select(band, a, zero)
    if kind in ("upper", "lower"):
        return _L._tri(a, kind == "lower")
    return a


def solve(a: Any, b: Any, lower: bool = False, overwrite_a: bool = False,
          overwrite_b: bool = False, check_finite: bool = True, assume_a: Any = None,
          transposed: bool = False) -> Any:
    """x with a x = b (a^T x = b with transposed=True). With assume_a 'sym', 'her' or 'pos'
    only the triangle `lower` names is read; 'diagonal', 'tridiagonal' and the triangular ones
    read those entries only, as SciPy's solvers do. A 1-D `b` is one right-hand side."""
    a, b = _operand(a), _operand(b)
    if not _traced(a, b):
        return _sl.solve(a, b, lower=lower, overwrite_a=overwrite_a, overwrite_b=overwrite_b,
                         check_finite=check_finite, assume_a=assume_a, transposed=transposed)
    n = _square(a, "solve")
    m = _structured(a, assume_a, bool(lower), "solve")
    if transposed:
        if np.issubdtype(_dtype_of(a), np.complexfloating):
            raise NotImplementedError("solve: transposed=True is not supported for complex "
                                      "matrices (as in SciPy); solve with a.T instead")
        m = _mT(m)
    if _ndim_of(b) == 1:
        if _shape_of(b)[0] != n:
            raise ValueError(f"solve: b has {_shape_of(b)[0]} entries, a is {n} x {n}")
        return _S.squeeze(_L.solve(m, _S.expand_dims(b, -1)), -1)
    return _L.solve(m, b)


def inv(a: Any, overwrite_a: bool = False, check_finite: bool = True, *, assume_a: Any = None,
        lower: bool = False) -> Any:
    """The inverse (of the matrix read as `assume_a` says, as in `solve`)."""
    a = _operand(a)
    if not _traced(a):
        return _sl.inv(a, overwrite_a=overwrite_a, check_finite=check_finite,
                       assume_a=assume_a, lower=lower)
    _square(a, "inv")
    return _L.inv(_structured(a, assume_a, bool(lower), "inv"))


def det(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> Any:
    """Differentiable `scipy.linalg.det`; same signature and semantics as SciPy's.

    On plain arrays SciPy's own; on traced values NumPy's determinant, whose derivative is
    d det(A) = det(A) trace(inv(A) dA).
    """
    a = _operand(a)
    if not _traced(a):
        return _sl.det(a, overwrite_a=overwrite_a, check_finite=check_finite)
    _square(a, "det")
    return _L.det(a)


# ---------------------------------------------------------------------------------------------
# Cholesky

def cho_factor(a: Any, lower: bool = False, overwrite_a: bool = False,
               check_finite: bool = True) -> tuple[Any, bool]:
    """(c, lower): the Cholesky factor of the Hermitian matrix read from the triangle `lower`
    names, stored in that triangle; the other one keeps the entries of `a` (as SciPy leaves
    them), differentiably."""
    a = _operand(a)
    if not _traced(a):
        return _sl.cho_factor(a, lower=lower, overwrite_a=overwrite_a,
                              check_finite=check_finite)
    n = _square(a, "cho_factor")
    if lower:
        factor, mask = _L.cholesky(a), np.tri(n, dtype=bool)
    else:  # A = U^H U, U = L^H for the L of the lower triangle of a^H (the upper one of a)
        factor, mask = _mH(_L.cholesky(_mH(a))), ~np.tri(n, k=-1, dtype=bool)
    return _E.select(mask, factor, a), bool(lower)


def cho_solve(c_and_lower: Any, b: Any, overwrite_b: bool = False,
              check_finite: bool = True) -> Any:
    """x with A x = b for the A whose Cholesky factor cho_factor stored in c. Differentiable in
    b and in the factor's entries as stored (the triangle `lower` names; the other triangle of c
    is not read)."""
    c, lower = c_and_lower
    c, b = _operand(c), _operand(b)
    if not _traced(c, b):
        return _sl.cho_solve((c, lower), b, overwrite_b=overwrite_b, check_finite=check_finite)
    n = _square(c, "cho_solve")
    if _shape_of(b)[0 if _ndim_of(b) == 1 else -2] != n:
        raise ValueError(f"cho_solve: incompatible dimensions ({_shape_of(c)} and "
                         f"{_shape_of(b)})")
    cols, vector = _as_columns(b)
    if lower:  # A = L L^H: x = L^-H L^-1 b
        x = _L.solve_tri(c, _L.solve_tri(c, cols, True, 0), True, 2)
    else:  # A = U^H U: x = U^-1 U^-H b
        x = _L.solve_tri(c, _L.solve_tri(c, cols, False, 2), False, 0)
    return _back(x, vector)


# ---------------------------------------------------------------------------------------------
# LU

def lu(a: Any, permute_l: bool = False, overwrite_a: bool = False, check_finite: bool = True,
       p_indices: bool = False) -> Any:
    """(p, l, u) with a = p l u; (p l, u) with permute_l=True. p is a constant (the pivoting
    does not move under small perturbations); l and u have the LU derivative. With
    p_indices=True the permutation comes as row indices (a = l[p] u), read from the value of the
    traced matrix (so not while a graph is built from shapes)."""
    a = _operand(a)
    if not _traced(a):
        return _sl.lu(a, permute_l=permute_l, overwrite_a=overwrite_a,
                      check_finite=check_finite, p_indices=p_indices)
    _L._matrix(a, "lu")
    p, lo, up = _L.lu_p.bind(a)
    if permute_l:
        return _L.matmul(p, lo), up
    if p_indices:
        pm = np.asarray(_concrete_value(p, "lu(..., p_indices=True)"))
        return np.argmax(pm, axis=-1).astype(np.int32), lo, up
    return p, lo, up


def lu_factor(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> tuple[Any, Any]:
    """(lu, piv): L below the diagonal (its unit diagonal implied) and U on and above it, and
    LAPACK's pivot indices (integers, constant)."""
    a = _operand(a)
    if not _traced(a):
        return _sl.lu_factor(a, overwrite_a=overwrite_a, check_finite=check_finite)
    _L._matrix(a, "lu_factor")
    packed, piv = _L.lu_factor_p.bind(a)
    return packed, piv


def lu_solve(lu_and_piv: Any, b: Any, trans: Any = 0, overwrite_b: bool = False,
             check_finite: bool = True) -> Any:
    """x with op(A) x = b for the A = P L U that lu_factor packed in (lu, piv); differentiable
    in b and in the entries of lu as stored (so through lu_factor, in the original matrix)."""
    packed, piv = lu_and_piv
    packed, b = _operand(packed), _operand(b)
    if not _traced(packed, b):
        return _sl.lu_solve((packed, piv), b, trans=trans, overwrite_b=overwrite_b,
                            check_finite=check_finite)
    _square(packed, "lu_solve")
    cols, vector = _as_columns(b)
    if not isinstance(piv, np.ndarray) and not _contains_tracer(piv):
        piv = np.asarray(piv, np.int32)
    x = _L.lu_solve_p.bind(packed, piv, cols, trans=_trans_code(trans))
    return _back(x, vector)


# ---------------------------------------------------------------------------------------------
# QR, eigh, SVD, Schur

def qr(a: Any, overwrite_a: bool = False, lwork: Any = None, mode: str = "full",
       pivoting: bool = False, check_finite: bool = True) -> Any:
    """SciPy's qr: mode 'full' (Q, R), 'economic' (Q, R reduced), 'r' ((R,)), 'raw'.

    On a traced matrix, mode='full' of a tall one (m > n) is refused (the last m - n columns of
    Q are not unique; use mode='economic'), and so are 'raw' and pivoting=True."""
    a = _operand(a)
    if not _traced(a):
        return _sl.qr(a, overwrite_a=overwrite_a, lwork=lwork, mode=mode, pivoting=pivoting,
                      check_finite=check_finite)
    if mode not in ("full", "r", "economic", "raw"):
        raise ValueError("Mode argument should be one of ['full', 'r', 'economic', 'raw']")
    if pivoting:
        raise NotImplementedError("qr(..., pivoting=True) of a traced matrix is not "
                                  "implemented; use pivoting=False")
    if mode == "raw":
        raise NotImplementedError("qr(..., mode='raw') of a traced matrix is not "
                                  "differentiable (Householder reflectors); use "
                                  "mode='economic'")
    _L._matrix(a, "qr")
    m, n = _shape_of(a)[-2], _shape_of(a)[-1]
    q, r = _L.qr(a)
    if mode == "r":
        if m > n:  # the full R: zero rows below the reduced one
            zeros = np.zeros(tuple(_shape_of(r)[:-2]) + (m - n, n), _dtype_of(r))
            r = _S.concatenate([r, zeros], axis=-2)
        return (r,)
    if mode == "full" and m > n:
        raise NotImplementedError(
            f"qr(..., mode='full') of a traced {m} x {n} matrix (m > n) is not "
            f"differentiable: the last {m - n} columns of Q are any orthonormal basis of the "
            f"complement of the range. Use mode='economic'")
    return q, r


def eigh(a: Any, b: Any = None, *, lower: bool = True, eigvals_only: bool = False,
         overwrite_a: bool = False, overwrite_b: bool = False, type: int = 1,  # noqa: A002
         check_finite: bool = True, subset_by_index: Any = None, subset_by_value: Any = None,
         driver: Any = None) -> Any:
    """Eigenvalues (and eigenvectors) of the Hermitian matrix read from one triangle of `a`;
    with `b`, of the generalized problem (type 1: a v = w b v, 2: a b v = w v, 3: b a v = w v),
    by the Cholesky factor of b (read from the same triangle). Eigenvectors are normalised as
    SciPy's (v^H b v = 1; v^H b^-1 v = 1 for type 3) and defined up to sign (phase): see
    `chainrule.numpy.linalg.eigh`. subset_by_index is supported, subset_by_value is not (the
    number of eigenvalues returned would depend on the values)."""
    a = _operand(a)
    b = None if b is None else _operand(b)
    if not _traced(a, b):
        return _sl.eigh(a, b, lower=lower, eigvals_only=eigvals_only, overwrite_a=overwrite_a,
                        overwrite_b=overwrite_b, type=type, check_finite=check_finite,
                        subset_by_index=subset_by_index, subset_by_value=subset_by_value,
                        driver=driver)
    if subset_by_value is not None:
        raise NotImplementedError("eigh(..., subset_by_value=...) of a traced matrix: how many "
                                  "eigenvalues it returns depends on the values; take the ones "
                                  "you need from the full result, or use subset_by_index")
    if type not in (1, 2, 3):
        raise ValueError(f"eigh: type must be 1, 2 or 3, not {type!r}")
    _square(a, "eigh")
    uplo = "L" if lower else "U"
    if b is None:
        if eigvals_only:
            w, v = _L.eigvalsh(a, uplo), None
        else:
            w, v = _L.eigh(a, uplo)
    else:
        _square(b, "eigh")
        ha = _L.hermitian_from_triangle(a, bool(lower))
        fb = _L.cholesky(_L.hermitian_from_triangle(b, bool(lower)))  # b = F F^H
        if type == 1:  # F^-1 a F^-H y = w y, v = F^-H y
            c = _L.solve_tri(fb, _mH(_L.solve_tri(fb, ha, True, 0)), True, 0)
        else:  # F^H a F y = w y; v = F^-H y (type 2) or F y (type 3)
            c = _L.matmul(_L.matmul(_mH(fb), ha), fb)
        if eigvals_only:
            w, v = _L.eigvalsh(c), None
        else:
            w, y = _L.eigh(c)
            v = _L.matmul(fb, y) if type == 3 else _L.solve_tri(fb, y, True, 2)
    if subset_by_index is not None:
        lo, hi = (operator.index(i) for i in subset_by_index)
        n = _shape_of(a)[-1]
        if not 0 <= lo <= hi < n:
            raise ValueError(f"eigh: subset_by_index {subset_by_index!r} is out of range for "
                             f"{n} eigenvalues")
        w = _S.getitem(w, (Ellipsis, slice(lo, hi + 1)))
        if v is not None:
            v = _S.getitem(v, (Ellipsis, slice(None), slice(lo, hi + 1)))
    return w if eigvals_only else (w, v)


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True, overwrite_a: bool = False,
        check_finite: bool = True, lapack_driver: str = "gesdd") -> Any:
    """(U, s, Vh), or s with compute_uv=False; see `chainrule.numpy.linalg.svd` (full_matrices
    of a non-square traced matrix is refused: the extra singular vectors are not unique)."""
    a = _operand(a)
    if not _traced(a):
        return _sl.svd(a, full_matrices=full_matrices, compute_uv=compute_uv,
                       overwrite_a=overwrite_a, check_finite=check_finite,
                       lapack_driver=lapack_driver)
    out = _L.svd(a, full_matrices, compute_uv)
    return tuple(out) if compute_uv else out


def schur(a: Any, output: str = "real", lwork: Any = None, overwrite_a: bool = False,
          sort: Any = None, check_finite: bool = True) -> Any:
    """SciPy's Schur decomposition, for plain arrays only: its derivative is not implemented."""
    a = _operand(a)
    if _traced(a):
        raise NotImplementedError(
            "scipy.linalg.schur is not differentiable in chainrule: the derivative of the Schur "
            "form (its 2 x 2 blocks in the real form, a phase per column in the complex one) is "
            "not implemented. For a function of a matrix use expm, logm or sqrtm; for its "
            "spectrum, chainrule.numpy.linalg.eig or eigvals")
    return _sl.schur(a, output=output, lwork=lwork, overwrite_a=overwrite_a, sort=sort,
                     check_finite=check_finite)


# ---------------------------------------------------------------------------------------------
# functions of a matrix

def expm(A: Any) -> Any:  # noqa: N803 - SciPy's name
    """The matrix exponential (of each matrix of a stack). Its derivative is the Frechet
    derivative, the top right block of expm([[A, E], [0, A]]), so it differentiates again."""
    A = _operand(A)  # noqa: N806
    if not _traced(A):
        return _sl.expm(A)
    _square(A, "expm")
    return _L.expm_p.bind(A)


def logm(A: Any, disp: Any = None) -> Any:  # noqa: N803 - SciPy's name
    """The principal matrix logarithm. Its derivative is the Frechet derivative, the top right
    block of logm([[A, E], [0, A]]). For a traced real matrix the result is real, and one whose
    principal logarithm is complex (an eigenvalue on the negative real axis) is refused with a
    ValueError: pass a complex matrix. (`disp` is accepted and ignored, as SciPy deprecates
    it.)"""
    A = _operand(A)  # noqa: N806
    if not _traced(A):
        return _sl.logm(A) if disp is None else _sl.logm(A, disp)
    _square(A, "logm")
    return _L.logm_p.bind(A)


def sqrtm(A: Any, disp: Any = None, blocksize: Any = None) -> Any:  # noqa: N803 - SciPy's name
    """The principal matrix square root X. Its derivative solves the Sylvester equation
    X dX + dX X = dA. Real traced matrices as in `logm`."""
    A = _operand(A)  # noqa: N806
    if not _traced(A):
        kwargs = {k: v for k, v in (("disp", disp), ("blocksize", blocksize)) if v is not None}
        return _sl.sqrtm(A, **kwargs)
    _square(A, "sqrtm")
    return _L.sqrtm_p.bind(A)


def solve_sylvester(a: Any, b: Any, q: Any) -> Any:
    """X with a X + X b = q; differentiable in all three (each derivative is another Sylvester
    solve)."""
    a, b, q = _operand(a), _operand(b), _operand(q)
    if not _traced(a, b, q):
        return _sl.solve_sylvester(a, b, q)
    _square(a, "solve_sylvester")
    _square(b, "solve_sylvester")
    return _L.solve_sylvester_p.bind(a, b, q)


def solve_banded(l_and_u: Any, ab: Any, b: Any, overwrite_ab: bool = False,
                 overwrite_b: bool = False, check_finite: bool = True) -> Any:
    """x with A x = b, A given by its bands (ab[u + i - j, j] = A[i, j]); differentiable in b
    and in the entries of ab that hold A (the unused corners of ab get zero)."""
    ab, b = _operand(ab), _operand(b)
    if not _traced(ab, b):
        return _sl.solve_banded(l_and_u, ab, b, overwrite_ab=overwrite_ab,
                                overwrite_b=overwrite_b, check_finite=check_finite)
    nl, nu = (operator.index(k) for k in l_and_u)
    if nl < 0 or nu < 0:
        raise ValueError(f"solve_banded: l and u must be nonnegative, got {(nl, nu)}")
    if _ndim_of(ab) < 2 or _shape_of(ab)[-2] != nl + nu + 1:
        raise ValueError(f"solve_banded: ab must have l + u + 1 = {nl + nu + 1} rows (one per "
                         f"band), its shape is {_shape_of(ab)}")
    cols, vector = _as_columns(b)
    return _back(_L.solve_banded_p.bind(ab, cols, l_and_u=(nl, nu)), vector)


def block_diag(*arrs: Any) -> Any:
    """The block-diagonal matrix of the arrays (0-d and 1-d ones as 1 x n rows, as SciPy)."""
    arrs = tuple(_operand(x) for x in arrs)
    if not _traced(*arrs):
        return _sl.block_diag(*arrs)
    blocks = []
    for k, x in enumerate(arrs):
        nd = _ndim_of(x)
        if nd > 2:
            raise ValueError(f"block_diag: argument {k} has {nd} dimensions; arguments must be "
                             f"at most 2-dimensional")
        blocks.append(_S.reshape(x, (1, -1) if nd < 2 else _shape_of(x)))
    dt = np.result_type(*(_dtype_of(x) for x in blocks))
    widths = [_shape_of(x)[1] for x in blocks]
    total = sum(widths)
    rows, left = [], 0
    for x, w in zip(blocks, widths):
        r = _shape_of(x)[0]
        parts = [np.zeros((r, left), dt), _E.convert(x, dt) if _dtype_of(x) != dt else x,
                 np.zeros((r, total - left - w), dt)]
        rows.append(_S.concatenate(parts, axis=1))
        left += w
    return _S.concatenate(rows, axis=0)


# the numpy.linalg names SciPy shares, for `from chainrule.scipy.linalg import norm` code
norm = _nla.norm
