"""Linear algebra. Products: `matmul` and `einsum` are primitives; dot, tensordot, inner and
outer are built on them (tensordot the way NumPy does it: transpose, reshape, one matrix product).
Matrix functions and decompositions of NumPy (inv, solve, det, slogdet, cholesky, eigh, svd, eig,
eigvals, eigvalsh, qr, lstsq) and of SciPy (solve_triangular, lu, lu_factor, lu_solve, expm,
logm, sqrtm, solve_sylvester, solve_banded: SciPy is imported when one of these first computes a
value, so `import chainrule` never needs it)."""
from __future__ import annotations

import math
import string
import warnings
from typing import Any

import numpy as np

from .._core.primitive import Primitive, dtype_of, in_library_of, ndim_of, scalar, shape_of
from .._core.rules import Zero, def_rule, derived_vjp, note_complex_made
from . import elementwise as E
from . import reduce as R
from . import shape as S
from ._batching import align_batched, loop_batch

# ---------------------------------------------------------------------------------------------
# matmul


def _matmul_abstract(x: Any, y: Any) -> tuple[tuple, np.dtype]:
    probe = [np.broadcast_to(np.zeros((), dtype_of(a)), shape_of(a)) for a in (x, y)]
    return np.matmul(*probe).shape, np.result_type(dtype_of(x), dtype_of(y))


def _matmul_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    (x, y), (x_dot, y_dot) = primals, tangents
    ans = matmul(x, y)
    t: Any = Zero
    if x_dot is not Zero:
        t = matmul(x_dot, y)
    if y_dot is not Zero:
        t = t + matmul(x, y_dot)
    return ans, t


def _as_matrices(ct: Any, x: Any, y: Any) -> tuple[Any, Any, Any]:
    """Promote vector operands to matrices (and the cotangent with them)."""
    if ndim_of(x) == 1:
        x = S.reshape(x, (1,) + shape_of(x))
        ct = S.expand_dims(ct, -2)
    if ndim_of(y) == 1:
        y = S.reshape(y, shape_of(y) + (1,))
        ct = S.expand_dims(ct, -1)
    return ct, x, y


_T2 = (1, 0)  # a matrix's transpose


def _matmul_vjp_x(ct: Any, ans: Any, x: Any, y: Any) -> Any:
    y = E.cconj(y)
    nx, ny = ndim_of(x), ndim_of(y)
    if nx == 1 and ny == 1:
        return R.cotangent_like(E.mul(ct, y), x)
    if nx == 2 and ny == 1:  # matrix @ vector: the outer product of ct and y
        return R.cotangent_like(E.mul(S.expand_dims(ct, -1), y), x)
    if nx == 2 and ny == 2:
        return R.cotangent_like(matmul_p.bind(ct, S.transpose_p.bind(y, axes=_T2)), x)
    ct2, x2, y2 = _as_matrices(ct, x, y)
    g = R.cotangent_like(matmul(ct2, S.swapaxes(y2, -1, -2)), x2)
    return S.reshape(g, shape_of(x))


def _matmul_vjp_y(ct: Any, ans: Any, x: Any, y: Any) -> Any:
    x = E.cconj(x)
    nx, ny = ndim_of(x), ndim_of(y)
    if nx == 1 and ny == 1:
        return R.cotangent_like(E.mul(ct, x), y)
    if nx == 2 and ny == 1:  # matrix @ vector: ct @ matrix
        return R.cotangent_like(matmul(ct, x), y)
    if nx == 2 and ny == 2:
        return R.cotangent_like(matmul_p.bind(S.transpose_p.bind(x, axes=_T2), ct), y)
    ct2, x2, y2 = _as_matrices(ct, x, y)
    g = R.cotangent_like(matmul(S.swapaxes(x2, -1, -2), ct2), y2)
    return S.reshape(g, shape_of(y))


def _matmul_batch(args: list[Any], batched: tuple[bool, ...]) -> Any:
    x, y = args
    bx, by = batched
    xv = (ndim_of(x) - bx) == 1
    yv = (ndim_of(y) - by) == 1
    # the shapes Jacobians meet most: a batch of vectors against one matrix is one product
    if bx and xv and not by and ndim_of(y) == 2:
        return matmul_p.bind(x, y)
    if by and yv and not bx and ndim_of(x) == 2:
        return matmul_p.bind(y, S.swapaxes(x, -1, -2))
    if bx and not by and ndim_of(x) >= 3 and ndim_of(y) == 2:
        return matmul_p.bind(x, y)
    if xv:
        x = S.expand_dims(x, -2)
    if yv:
        y = S.expand_dims(y, -1)
    rx, ry = ndim_of(x) - bx, ndim_of(y) - by
    top = max(rx, ry)
    if bx and rx < top:
        s = shape_of(x)
        x = S.reshape(x, s[:1] + (1,) * (top - rx) + s[1:])
    if by and ry < top:
        s = shape_of(y)
        y = S.reshape(y, s[:1] + (1,) * (top - ry) + s[1:])
    out = matmul_p.bind(x, y)
    if xv and yv:
        return S.reshape(out, shape_of(out)[:-2])
    if xv:
        return S.squeeze(out, -2)
    if yv:
        return S.squeeze(out, -1)
    return out


matmul_p = def_rule(Primitive("matmul", np.matmul, _matmul_abstract), jvp=_matmul_jvp,
                    vjp=(_matmul_vjp_x, _matmul_vjp_y), batch=_matmul_batch)


def matmul(x: Any, y: Any) -> Any:
    if ndim_of(x) == 0 or ndim_of(y) == 0:
        raise ValueError("matmul: input operand does not have enough dimensions (scalars are "
                         "not allowed; use multiply)")
    return matmul_p.bind(x, y)


# ---------------------------------------------------------------------------------------------
# einsum: the primitive takes an explicit spec (no ellipsis, always with '->')

def _split_spec(spec: str) -> tuple[list[str], str]:
    ins, out = spec.split("->")
    return ins.split(","), out


def _einsum_impl(*ops: Any, spec: str) -> Any:
    return np.einsum(spec, *ops, optimize=len(ops) > 2)


def _einsum_abstract(*ops: Any, spec: str) -> tuple[tuple, np.dtype]:
    ins, out = _split_spec(spec)
    sizes = _letter_sizes(ins, ops)
    return tuple(sizes[c] for c in out), np.result_type(*(dtype_of(o) for o in ops))


def _letter_sizes(ins: list[str], ops: Any) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for sub, op in zip(ins, ops):
        for c, n in zip(sub, shape_of(op)):
            sizes[c] = n
    return sizes


def _einsum_jvp(primals: list[Any], tangents: list[Any], *, spec: str) -> tuple[Any, Any]:
    ans = einsum_p.bind(*primals, spec=spec)
    t: Any = Zero
    for i, dot in enumerate(tangents):
        if dot is not Zero:
            ops = list(primals)
            ops[i] = dot
            t = t + einsum_p.bind(*ops, spec=spec)
    return ans, t


def _unused_letters(spec: str) -> list[str]:
    return [c for c in string.ascii_letters if c not in spec]


def _einsum_transposer(i: int) -> Any:
    def _einsum_transpose(ct: Any, *ops: Any, spec: str) -> Any:
        ins, out = _split_spec(spec)
        sizes = _letter_sizes(ins, ops)
        target = ins[i]
        fresh = iter(_unused_letters(spec))
        dt = dtype_of(ct)
        terms: list[tuple[str, Any]] = [(out, ct)]
        terms += [(ins[j], E.cconj(ops[j])) for j in range(len(ops)) if j != i]
        renamed = []
        seen: set[str] = set()
        for c in target:
            if c in seen:  # a repeated letter (a diagonal): spread the cotangent onto it
                f = next(fresh)
                renamed.append(f)
                terms.append((c + f, in_library_of(ct, np.eye(sizes[c], dtype=dt))))
            else:
                seen.add(c)
                renamed.append(c)
        available = set("".join(s for s, _ in terms))
        for c in dict.fromkeys(target):
            if c not in available:  # summed only inside operand i: broadcast back along it
                terms.append((c, in_library_of(ct, np.ones(sizes[c], dtype=dt))))
        new_spec = ",".join(s for s, _ in terms) + "->" + "".join(renamed)
        g = einsum_p.bind(*[o for _, o in terms], spec=new_spec)
        return R.cotangent_like(g, ops[i])  # size-1 axes broadcast against other operands

    _einsum_transpose.__name__ = f"_einsum_transpose_{i}"
    return _einsum_transpose


class _EinsumTransposes:
    def __getitem__(self, i: int) -> Any:
        return _einsum_transposer(i)


def _einsum_batch(args: list[Any], batched: tuple[bool, ...], *, spec: str) -> Any:
    ins, out = _split_spec(spec)
    b = _unused_letters(spec)[0]
    ins = [b + s if bt else s for s, bt in zip(ins, batched)]
    return einsum_p.bind(*args, spec=",".join(ins) + "->" + b + out)


einsum_p = def_rule(Primitive("einsum", _einsum_impl, _einsum_abstract), jvp=_einsum_jvp,
                    batch=_einsum_batch)
einsum_p.transpose = _EinsumTransposes()  # type: ignore[assignment]


def einsum(subscripts: str, *operands: Any) -> Any:
    """NumPy's einsum (explicit and implicit modes, ellipsis broadcasting)."""
    if not isinstance(subscripts, str):
        raise TypeError("einsum: only the subscripts-string form is supported, e.g. "
                        "einsum('ij,jk->ik', a, b)")
    spec = subscripts.replace(" ", "")
    ins_s, _, out_s = spec.partition("->")
    ins = ins_s.split(",")
    if len(ins) != len(operands):
        raise ValueError(f"einsum: {len(ins)} operand subscripts given for {len(operands)} "
                         f"operands")
    fresh = iter(_unused_letters(spec))
    ell_nd = max((ndim_of(op) - (len(s) - 3) for s, op in zip(ins, operands) if "..." in s),
                 default=0)
    ell = "".join(next(fresh) for _ in range(ell_nd))
    # the broadcast size of each ellipsis letter
    ell_sizes: dict[str, int] = {}
    for s, op in zip(ins, operands):
        if "..." in s:
            nd = ndim_of(op) - (len(s) - 3)
            pre = s.index("...")
            for j, c in enumerate(ell[ell_nd - nd:] if nd else ""):
                ell_sizes[c] = max(ell_sizes.get(c, 1), shape_of(op)[pre + j])
    ops = list(operands)
    new_ins = []
    for k, (s, op) in enumerate(zip(ins, operands)):
        if "..." in s:
            nd = ndim_of(op) - (len(s) - 3)
            pre = s.index("...")
            shp = shape_of(op)
            keep, drop = [], []
            for j, c in enumerate(ell[ell_nd - nd:] if nd else ""):
                if shp[pre + j] == 1 and ell_sizes[c] != 1:
                    drop.append(pre + j)  # broadcast along this letter: squeeze it here
                else:
                    keep.append(c)
            if drop:
                ops[k] = S.reshape(op, tuple(d for j, d in enumerate(shp) if j not in drop))
            s = s.replace("...", "".join(keep))
        new_ins.append(s)
    if "->" in spec:
        out = out_s.replace("...", ell)
    else:
        counts: dict[str, int] = {}
        for c in "".join(new_ins):
            counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return einsum_p.bind(*ops, spec=",".join(new_ins) + "->" + out)


# ---------------------------------------------------------------------------------------------
# built on matmul / einsum

def tensordot(a: Any, b: Any, axes: Any = 2) -> Any:
    na, nb = ndim_of(a), ndim_of(b)
    if isinstance(axes, (int, np.integer)):
        ax_a = list(range(na - int(axes), na))
        ax_b = list(range(int(axes)))
    else:
        ax_a, ax_b = axes
        ax_a = [int(x) % na for x in np.atleast_1d(ax_a)]
        ax_b = [int(x) % nb for x in np.atleast_1d(ax_b)]
    sa, sb = shape_of(a), shape_of(b)
    if len(ax_a) != len(ax_b) or any(sa[i] != sb[j] for i, j in zip(ax_a, ax_b)):
        raise ValueError(f"tensordot: shape mismatch for sum over axes {ax_a} of {sa} and "
                         f"{ax_b} of {sb}")
    free_a = [i for i in range(na) if i not in ax_a]
    free_b = [j for j in range(nb) if j not in ax_b]
    k = math.prod([sa[i] for i in ax_a])
    m = math.prod([sa[i] for i in free_a])
    n = math.prod([sb[j] for j in free_b])
    a2 = S.reshape(S.transpose(a, free_a + ax_a), (m, k))
    b2 = S.reshape(S.transpose(b, ax_b + free_b), (k, n))
    out = matmul_p.bind(a2, b2)
    return S.reshape(out, tuple(sa[i] for i in free_a) + tuple(sb[j] for j in free_b))


def dot(a: Any, b: Any) -> Any:
    na, nb = ndim_of(a), ndim_of(b)
    if na == 0 or nb == 0:
        return E.mul(a, b)
    if nb <= 2 or na == 1:
        return matmul_p.bind(a, b)
    return tensordot(a, b, ([-1], [-2]))


def inner(a: Any, b: Any) -> Any:
    if ndim_of(a) == 0 or ndim_of(b) == 0:
        return E.mul(a, b)
    return tensordot(a, b, ([-1], [-1]))


def outer(a: Any, b: Any) -> Any:
    return E.mul(S.reshape(a, (-1, 1)), S.reshape(b, (1, -1)))


# ---------------------------------------------------------------------------------------------
# matrix functions: inv, solve, det, slogdet, cholesky, eigh, svd. All work on stacks of matrices
# (..., m, n) as NumPy does, so their batching rule is the primitive itself on the stacked
# operands.
#
# Complex matrices follow the convention of the whole library (see elementwise.py): a tangent is
# pushed through the R-linear map J, and a cotangent through its adjoint J* for the real inner
# product Re(sum(conj(a) * b)); for a holomorphic matrix function this means conjugate
# transposes (A^H) wherever the real formulas have A^T. `_mH` is that transpose (a plain
# transpose for real matrices), and outputs that are real (singular values, eigenvalues of a
# Hermitian matrix, log|det|) get real tangents.
#
# Decompositions differentiate the function NumPy computes. cholesky and eigh read one triangle
# only (LAPACK's UPLO, 'L' by default) and take the real part of the diagonal: their input is the
# Hermitian matrix built from that triangle, so their derivative is zero with respect to the
# other strict triangle and the imaginary part of the diagonal, and an entry of the triangle read
# counts for itself and its mirror image. On a symmetric (Hermitian) matrix and a symmetric
# perturbation this is the usual derivative.

def _mT(x: Any) -> Any:
    return S.swapaxes(x, -1, -2)


def _mH(x: Any) -> Any:
    """The conjugate transpose of the last two axes (the transpose of a real matrix)."""
    return E.cconj(S.swapaxes(x, -1, -2))


def _real_part(x: Any) -> Any:
    return E.real_p.bind1(x) if E._is_complex(x) else x


def hermitian_from_triangle(x: Any, lower: bool = True) -> Any:
    """The Hermitian matrix LAPACK's symmetric routines see in `x`: the strict lower (or upper)
    triangle, its conjugate mirror image, and the real part of the diagonal. Linear in `x`."""
    n = shape_of(x)[-1]
    zero = scalar(0, dtype_of(x))
    strict = np.tril(np.ones((n, n), dtype=bool), -1)
    strict = in_library_of(x, strict if lower else strict.T)
    tri = E.select(strict, x, zero)
    diag = _real_part(E.select(in_library_of(x, np.eye(n, dtype=bool)), x, zero))
    return E.add(E.add(tri, _mH(tri)), diag)


def _stacked_batch(prim: Primitive) -> Any:
    def _batch(args: list[Any], batched: tuple[bool, ...], **params: Any) -> Any:
        # stacks broadcast like elementwise operands once the batch axes are lined up
        return prim.bind(*align_batched(args, batched), **params)

    _batch.__name__ = f"_{prim.name}_batch"
    return _batch


def _vjp_from_jvp(prim: Primitive, n_args: int) -> tuple[Any, ...]:
    """VJPs obtained by transposing the JVP rule (`rules.derived_vjp`): for the
    decompositions, whose reverse formulas are the JVP's linear algebra read backwards."""

    def make(i: int) -> Any:
        def _vjp(ct: Any, ans: Any, *args: Any, **params: Any) -> Any:
            return derived_vjp(prim, tuple(args), params, ct, [i])[i]

        _vjp.__name__ = f"_{prim.name}_vjp_{i}_from_jvp"
        return _vjp

    return tuple(make(i) for i in range(n_args))


# Shapes and dtypes of the decompositions, from the input's: computed, never by running the
# function (an O(n^3) factorisation of a placeholder, or a graph file declaring a huge one)

def _float_dtype(dt: Any) -> np.dtype:
    """What np.linalg computes in: float32/64 and complex64/128 as they are, else float64."""
    dt = np.dtype(dt)
    return dt if dt.kind in "fc" and dt.itemsize in (4, 8, 16) else np.dtype(np.float64)


def _real_dtype(dt: Any) -> np.dtype:
    dt = _float_dtype(dt)
    return np.dtype(np.float32 if dt in (np.float32, np.complex64) else np.float64)


def _square(a: Any, name: str) -> tuple[tuple[int, ...], int]:
    """(batch shape, n) of a stack of n x n matrices; LinAlgError as NumPy's otherwise."""
    s = shape_of(a)
    if len(s) < 2:
        raise np.linalg.LinAlgError(f"{name}: {len(s)}-dimensional array given. Array must be "
                                    f"at least two-dimensional")
    if s[-1] != s[-2]:
        raise np.linalg.LinAlgError(f"{name}: last 2 dimensions of the array must be square")
    return tuple(s[:-2]), s[-1]


def _matrix(a: Any, name: str) -> tuple[tuple[int, ...], int, int]:
    s = shape_of(a)
    if len(s) < 2:
        raise np.linalg.LinAlgError(f"{name}: {len(s)}-dimensional array given. Array must be "
                                    f"at least two-dimensional")
    return tuple(s[:-2]), s[-2], s[-1]


def _inv_abstract(a: Any) -> tuple[tuple[int, ...], np.dtype]:
    _square(a, "inv")
    return shape_of(a), _float_dtype(dtype_of(a))


def _cholesky_abstract(a: Any) -> tuple[tuple[int, ...], np.dtype]:
    _square(a, "cholesky")
    return shape_of(a), _float_dtype(dtype_of(a))


def _solve_abstract(a: Any, b: Any) -> tuple[tuple[int, ...], np.dtype]:
    batch, n = _square(a, "solve")
    sb = shape_of(b)
    dt = _float_dtype(np.result_type(_float_dtype(dtype_of(a)), _float_dtype(dtype_of(b))))
    if len(sb) == 1:  # (NumPy 2: a 1-d b is one vector)
        if sb[0] != n:
            raise ValueError(f"solve: b has {sb[0]} rows but a is {n} x {n}")
        return batch + (n,), dt
    if len(sb) < 2 or sb[-2] != n:
        raise ValueError(f"solve: b of shape {sb} does not fit a of shape {shape_of(a)}")
    return tuple(np.broadcast_shapes(batch, tuple(sb[:-2]))) + (n, sb[-1]), dt


def _det_abstract(a: Any) -> tuple[tuple[int, ...], np.dtype]:
    batch, _ = _square(a, "det")
    return batch, _float_dtype(dtype_of(a))


def _slogdet_abstract(a: Any) -> list[tuple[tuple[int, ...], np.dtype]]:
    batch, _ = _square(a, "slogdet")
    return [(batch, _float_dtype(dtype_of(a))), (batch, _real_dtype(dtype_of(a)))]


def _eigh_abstract(a: Any, *, UPLO: str = "L") -> list[tuple[tuple[int, ...], np.dtype]]:  # noqa: N803
    batch, n = _square(a, "eigh")
    return [(batch + (n,), _real_dtype(dtype_of(a))), (batch + (n, n), _float_dtype(dtype_of(a)))]


def _svd_abstract(a: Any) -> list[tuple[tuple[int, ...], np.dtype]]:
    batch, m, n = _matrix(a, "svd")
    k = min(m, n)
    dt, real = _float_dtype(dtype_of(a)), _real_dtype(dtype_of(a))
    return [(batch + (m, k), dt), (batch + (k,), real), (batch + (k, n), dt)]


def _svdvals_abstract(a: Any) -> tuple[tuple[int, ...], np.dtype]:
    batch, m, n = _matrix(a, "svd")
    return batch + (min(m, n),), _real_dtype(dtype_of(a))


# inv

def _inv_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    (a,), (a_dot,) = primals, tangents
    ans = inv(a)
    return ans, E.neg(matmul(matmul(ans, a_dot), ans))


def _inv_vjp(ct: Any, ans: Any, a: Any) -> Any:
    t = _mH(ans)
    return E.neg(matmul(matmul(t, ct), t))


inv_p = Primitive("inv", np.linalg.inv, _inv_abstract)
def_rule(inv_p, jvp=_inv_jvp, vjp=(_inv_vjp,), batch=_stacked_batch(inv_p))


def inv(a: Any) -> Any:
    return inv_p.bind(a)


# solve (the primitive takes a stack of right-hand-side matrices (..., n, k))

def _solve_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    (a, b), (a_dot, b_dot) = primals, tangents
    x = solve_p.bind(a, b)
    rhs = b_dot  # d(A x) = db  =>  A dx = db - dA x
    if a_dot is not Zero:
        rhs = rhs - matmul(a_dot, x)
    return x, solve_p.bind(a, rhs)


def _solve_vjp_a(ct: Any, ans: Any, a: Any, b: Any) -> Any:
    g = solve_p.bind(_mH(a), ct)
    return R.cotangent_like(E.neg(matmul(g, _mH(ans))), a)


def _solve_vjp_b(ct: Any, ans: Any, a: Any, b: Any) -> Any:
    return R.cotangent_like(solve_p.bind(_mH(a), ct), b)


solve_p = Primitive("solve", np.linalg.solve, _solve_abstract)
def_rule(solve_p, jvp=_solve_jvp, vjp=(_solve_vjp_a, _solve_vjp_b), batch=_stacked_batch(solve_p))


def solve(a: Any, b: Any) -> Any:
    """np.linalg.solve: a 1-D `b` is one right-hand side; otherwise `b` is (..., n, k)."""
    if ndim_of(b) == 1:
        return S.squeeze(solve_p.bind(a, S.expand_dims(b, -1)), -1)
    return solve_p.bind(a, b)


# det and slogdet: d det A = tr(adj(A) dA), d log|det A| = Re tr(A^-1 dA)
#
# The adjugate adj(A) (= det(A) A^-1 where A is invertible) is a polynomial in A's entries, so
# det has derivatives of every order at singular matrices too, and they are computed there:
#
# - adj(A) from the SVD A = U S V^H: adj(A) = det(U) det(V^H) V adj(S) U^H, with
#   adj(S) = diag(prod_{j != i} s_j), without any division;
# - its derivative along E (`adjugate_tangent`, the second derivative of det) is the same
#   rotation of the adjugate's derivative at the diagonal S along E' = U^H E V: -P * E' off the
#   diagonal and sum_k P[i, k] E'[k, k] on it, with P[i, k] = prod_{m not in {i, k}} s_m;
# - the derivative of that in A (det's third and higher derivatives) comes from the cofactor
#   C_ij = det(A with row i replaced by e_j), whose derivative along E is the trace of the
#   adjugate of that matrix times E with row i zeroed: the tower closes on `adjugate_tangent`
#   itself, never on the SVD's own derivative (undefined where singular values repeat, as they
#   do at a matrix of rank n - 2).

def _products_without_one(s: np.ndarray) -> np.ndarray:
    """prod_{m != i} s_m for each i (last axis), by prefix and suffix products, never dividing
    (singular values may be zero)."""
    ones = np.ones_like(s[..., :1])
    before = np.cumprod(np.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)
    after = np.cumprod(np.concatenate([ones, s[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return before * after


def _products_without_two(s: np.ndarray) -> np.ndarray:
    """P[..., i, k] = prod_{m not in {i, k}} s_m, and 0 where i == k."""
    n = s.shape[-1]
    eye = np.eye(n, dtype=bool)
    rows = np.where(eye, 1.0, s[..., None, :])  # row i: s with s_i replaced by 1
    return np.where(eye, 0.0, _products_without_one(rows))


def _svd_frame(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(V, s, U^H, det(U) det(V^H)) of the SVD of `a`."""
    u, s, vh = np.linalg.svd(a)
    scale = (np.linalg.det(u) * np.linalg.det(vh))[..., None, None]
    return np.conj(np.swapaxes(vh, -1, -2)), s, np.conj(np.swapaxes(u, -1, -2)), scale


def _adjugate_impl(a: np.ndarray) -> np.ndarray:
    v, s, uh, scale = _svd_frame(a)
    return scale * ((v * _products_without_one(s)[..., None, :]) @ uh)


def _adjugate_tangent_impl(a: np.ndarray, e: np.ndarray) -> np.ndarray:
    v, s, uh, scale = _svd_frame(a)
    rotated = uh @ e @ v  # E' = U^H E V
    pairs = _products_without_two(s)
    diag = np.sum(pairs * np.diagonal(rotated, axis1=-2, axis2=-1)[..., None, :], axis=-1)
    d_adj_s = -pairs * rotated
    idx = np.arange(s.shape[-1])
    d_adj_s[..., idx, idx] = diag
    return scale * (v @ d_adj_s @ uh)


def _square_abstract(name: str) -> Any:
    def abstract(a: Any, *rest: Any) -> tuple[tuple[int, ...], np.dtype]:
        _square(a, name)
        shape = np.broadcast_shapes(shape_of(a), *(shape_of(r) for r in rest))
        return shape, np.result_type(dtype_of(a), *(dtype_of(r) for r in rest))
    return abstract


def _adjugate_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    (a,), (a_dot,) = primals, tangents
    return adjugate_p.bind(a), adjugate_tangent_p.bind(a, a_dot)


def _adjoint_of_tangent(a: Any, ct: Any) -> Any:
    """The adjoint of E -> adjugate_tangent(A, E) for the real inner product: the map is
    the symmetric second derivative of det read as a matrix, so its adjoint is itself, with
    transposes (conjugate ones: holomorphic)."""
    return _mH(adjugate_tangent_p.bind(a, _mH(ct)))


def _adjugate_vjp(ct: Any, ans: Any, a: Any) -> Any:
    return _adjoint_of_tangent(a, ct)


def _bordered(a: Any, e: Any) -> tuple[Any, Any]:
    """For every (i, j): A with row i replaced by e_j (axes ..., i, j, n, n), and E with row i
    zeroed (axes ..., i, 1, n, n)."""
    n = shape_of(a)[-1]
    row = np.eye(n)[:, None, :, None]  # [i, -, r, -]: r == i
    unit = np.eye(n)[None, :, None, :]  # [-, j, -, c]: c == j
    dt = np.result_type(dtype_of(a), np.float64)
    b = E.add(E.mul(S.expand_dims(a, (-4, -3)), (1.0 - row).astype(dt)),
              (row * unit).astype(dt))
    e_rows = E.mul(S.expand_dims(e, (-4, -3)), (1.0 - row).astype(dt))
    return b, e_rows


def _adjugate_tangent_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    a, e = primals
    a_dot, e_dot = tangents
    out = adjugate_tangent_p.bind(a, e)
    parts = []
    if e_dot is not Zero:  # (linear in E)
        parts.append(adjugate_tangent_p.bind(a, e_dot))
    if a_dot is not Zero:
        # d C_ij = tr(adj(B_ij) E_(i)): its derivative along A' is tr(adjugate_tangent(B_ij,
        # A'_(i)) E_(i)), and adj = C^T
        b, e_rows = _bordered(a, e)
        _, a_rows = _bordered(a, a_dot)
        inner = adjugate_tangent_p.bind(b, a_rows)
        parts.append(_mT(R.sum(E.mul(_mT(inner), e_rows), axis=(-2, -1))))
    t = parts[0] if len(parts) == 1 else E.add(parts[0], parts[1])
    return out, t


def _adjugate_tangent_vjp_e(ct: Any, ans: Any, a: Any, e: Any) -> Any:
    return _adjoint_of_tangent(a, ct)


adjugate_p = Primitive("adjugate", _adjugate_impl, _square_abstract("adjugate"))
def_rule(adjugate_p, jvp=_adjugate_jvp, vjp=(_adjugate_vjp,),
         batch=_stacked_batch(adjugate_p))

adjugate_tangent_p = Primitive("adjugate_tangent", _adjugate_tangent_impl,
                               _square_abstract("adjugate_tangent"))
def_rule(adjugate_tangent_p, jvp=_adjugate_tangent_jvp,
         vjp=(_vjp_from_jvp(adjugate_tangent_p, 2)[0], _adjugate_tangent_vjp_e),
         batch=_stacked_batch(adjugate_tangent_p))


def adjugate(a: Any) -> Any:
    """The adjugate (classical adjoint) of a square matrix or a stack of them: det(A) A^-1 where
    A is invertible, and defined (with derivatives of every order) at singular matrices too."""
    return adjugate_p.bind(a)


def _trace_inv_dot(a: Any, a_dot: Any) -> Any:
    return R.sum(E.mul(_mT(inv(a)), a_dot), axis=(-2, -1))


def _det_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    (a,), (a_dot,) = primals, tangents
    return det_p.bind(a), R.sum(E.mul(_mT(adjugate(a)), a_dot), axis=(-2, -1))


def _det_vjp(ct: Any, ans: Any, a: Any) -> Any:
    # det is holomorphic with gradient matrix adj(A)^T: the cotangent meets its conjugate
    return E.mul(S.expand_dims(ct, (-2, -1)), _mH(adjugate(a)))


det_p = Primitive("det", np.linalg.det, _det_abstract)
def_rule(det_p, jvp=_det_jvp, vjp=(_det_vjp,), batch=_stacked_batch(det_p))


def det(a: Any) -> Any:
    return det_p.bind(a)


def _slogdet_impl(a: Any) -> list[Any]:
    sign, logabs = np.linalg.slogdet(a)
    return [sign, logabs]


def _slogdet_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    (a,), (a_dot,) = primals, tangents
    sign, logabs = slogdet_p.bind(a)
    t = _trace_inv_dot(a, a_dot)
    if not E._is_complex(t):  # a real sign is piecewise constant
        return [sign, logabs], [E.zeros_like(sign), t]
    # sign = det / |det| turns with the phase of det: d sign = i sign Im(t), d log|det| = Re(t)
    turn = E.mul(E.imag_p.bind1(t), scalar(1j, dtype_of(sign)))
    return [sign, logabs], [E.mul(sign, turn), E.real_p.bind1(t)]


def _slogdet_vjp(cts: list[Any], ans: list[Any], a: Any) -> Any:
    ct_sign, ct_log = cts
    scale = ct_log
    if E._is_complex(ans[0]) and ct_sign is not Zero:
        # the adjoint of the JVP above: (ct_log - i Im(conj(ct_sign) sign)) A^-H
        spin = E.imag_p.bind1(E.mul(E.cconj(ct_sign), ans[0]))
        scale = E.sub(scale, E.mul(spin, scalar(1j, dtype_of(ans[0]))))
    return E.mul(S.expand_dims(scale, (-2, -1)), _mH(inv(a)))


slogdet_p = Primitive("slogdet", _slogdet_impl, _slogdet_abstract,
                      multiple_results=True)
def_rule(slogdet_p, jvp=_slogdet_jvp, vjp=(_slogdet_vjp,), batch=_stacked_batch(slogdet_p))


def slogdet(a: Any) -> tuple[Any, Any]:
    sign, logabs = slogdet_p.bind(a)
    return sign, logabs


# cholesky (of the lower triangle): dL = L Phi(L^-1 dA L^-H), Phi = lower triangle with the
# diagonal halved, dA the Hermitian matrix read from the lower triangle of the perturbation

def _phi_mask(n: int, dtype: Any) -> np.ndarray:
    real = np.empty(0, dtype).real.dtype
    return np.tril(np.ones((n, n), real), -1) + 0.5 * np.eye(n, dtype=real)


def _cholesky_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    (a,), (a_dot,) = primals, tangents
    L = cholesky_p.bind(a)
    n = shape_of(a)[-1]
    tmp = solve_p.bind(L, hermitian_from_triangle(a_dot))  # L^-1 dA
    tmp = _mH(solve_p.bind(L, _mH(tmp)))                     # L^-1 dA L^-H
    return L, matmul(L, E.mul(tmp, in_library_of(a, _phi_mask(n, dtype_of(a)))))


cholesky_p = Primitive("cholesky", np.linalg.cholesky, _cholesky_abstract)
def_rule(cholesky_p, jvp=_cholesky_jvp, vjp=_vjp_from_jvp(cholesky_p, 1),
         batch=_stacked_batch(cholesky_p))


def cholesky(a: Any) -> Any:
    """The lower Cholesky factor of the Hermitian matrix read from the lower triangle of `a`."""
    return cholesky_p.bind(a)


# eigh (of the triangle UPLO names): with X = V^H dA V, dw = Re diag(X), dV = V (F o X),
# F_ij = 1 / (w_j - w_i) off the diagonal (the gauge diag(V^H dV) = 0 for complex vectors)

def _eigh_impl(a: Any, *, UPLO: str = "L") -> list[Any]:  # noqa: N803 - NumPy's name
    w, v = np.linalg.eigh(a, UPLO=UPLO)
    return [w, v]


def _inverse_gaps(d: Any) -> Any:
    """F_ij = 1 / (d_j - d_i) for i != j and 0 on the diagonal (both branches kept finite)."""
    n = shape_of(d)[-1]
    gaps = E.sub(S.expand_dims(d, -2), S.expand_dims(d, -1))
    off = in_library_of(d, ~np.eye(n, dtype=bool))
    safe = E.select(off, gaps, scalar(1, dtype_of(d)))
    return E.select(off, E.reciprocal(safe), scalar(0, dtype_of(d)))


def _eigh_jvp(primals: list[Any], tangents: list[Any], **params: Any) -> tuple[Any, Any]:
    (a,), (a_dot,) = primals, tangents
    w, v = eigh_p.bind(a, **params)
    lower = params.get("UPLO", "L") == "L"
    vdv = matmul(matmul(_mH(v), hermitian_from_triangle(a_dot, lower)), v)
    w_dot = _real_part(einsum("...ii->...i", vdv))
    v_dot = matmul(v, E.mul(_inverse_gaps(w), vdv))
    return [w, v], [w_dot, v_dot]


eigh_p = Primitive("eigh", _eigh_impl, _eigh_abstract, multiple_results=True)
def_rule(eigh_p, jvp=_eigh_jvp, vjp=_vjp_from_jvp(eigh_p, 1), batch=_stacked_batch(eigh_p))


def eigh(a: Any, UPLO: str = "L") -> tuple[Any, Any]:  # noqa: N803 - NumPy's name
    """Eigenvalues and eigenvectors of the Hermitian matrix read from the lower (UPLO='L') or
    upper (UPLO='U') triangle of `a`."""
    if UPLO not in ("L", "U"):
        raise ValueError(f"eigh: UPLO must be 'L' or 'U', not {UPLO!r}")
    # (the default is left out of the parameters, so that graphs record eigh as before)
    w, v = eigh_p.bind(a) if UPLO == "L" else eigh_p.bind(a, UPLO="U")
    return w, v


# svd (thin), A = U S V^H: with dP = U^H dA V, ds = Re diag(dP),
#   dU = U (F o (dP S + S dP^H) + i Im diag(dP) S^-1) + (I - U U^H) dA V S^-1
#   dV = V (F o (S dP + dP^H S)) + (I - V V^H) dA^H U S^-1,  F_ij = 1 / (s_j^2 - s_i^2)
# (for complex matrices only the difference of the phases of u_i and v_i is determined; the
# imaginary diagonal term puts it on U, the gauge diag(V^H dV) = 0)

def _svd_impl(a: Any) -> list[Any]:
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return [u, s, vh]


def _svd_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    (a,), (a_dot,) = primals, tangents
    u, s, vh = svd_p.bind(a)
    v = _mH(vh)
    dp = matmul(matmul(_mH(u), a_dot), v)
    dp_diag = einsum("...ii->...i", dp)
    s_dot = _real_part(dp_diag)
    f = _inverse_gaps(E.mul(s, s))
    s_row = S.expand_dims(s, -2)     # multiplies columns: X S
    s_col = S.expand_dims(s, -1)     # multiplies rows: S X
    dp_h = _mH(dp)
    du_inner = E.mul(f, E.add(E.mul(dp, s_row), E.mul(s_col, dp_h)))
    dv_inner = E.mul(f, E.add(E.mul(s_col, dp), E.mul(dp_h, s_row)))
    k = shape_of(s)[-1]
    if E._is_complex(dp):
        phase = E.mul(E.div(E.imag_p.bind1(dp_diag), s), scalar(1j, dtype_of(dp)))
        du_inner = E.add(du_inner, E.mul(S.expand_dims(phase, -1), np.eye(k, dtype=bool)))
    m, n = shape_of(a)[-2], shape_of(a)[-1]
    u_dot = matmul(u, du_inner)
    v_dot = matmul(v, dv_inner)
    inv_s = S.expand_dims(E.reciprocal(s), -2)
    if m > k:  # the part of dA outside the span of U
        proj = E.sub(a_dot, matmul(u, matmul(_mH(u), a_dot)))
        u_dot = E.add(u_dot, E.mul(matmul(proj, v), inv_s))
    if n > k:
        a_dot_h = _mH(a_dot)
        proj = E.sub(a_dot_h, matmul(v, matmul(vh, a_dot_h)))
        v_dot = E.add(v_dot, E.mul(matmul(proj, u), inv_s))
    return [u, s, vh], [u_dot, s_dot, _mH(v_dot)]


svd_p = Primitive("svd", _svd_impl, _svd_abstract,
                  multiple_results=True)
def_rule(svd_p, jvp=_svd_jvp, vjp=_vjp_from_jvp(svd_p, 1), batch=_stacked_batch(svd_p))


def _svdvals_impl(a: Any) -> Any:
    return np.linalg.svd(a, compute_uv=False)


def _svdvals_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    (a,), (a_dot,) = primals, tangents
    u, s, vh = svd_p.bind(a)
    return s, _real_part(einsum("...ii->...i", matmul(matmul(_mH(u), a_dot), _mH(vh))))


def _svdvals_vjp(ct: Any, ans: Any, a: Any) -> Any:
    u, _, vh = svd_p.bind(a)
    return matmul(E.mul(u, S.expand_dims(ct, -2)), vh)  # U diag(ct) V^H


svdvals_p = Primitive("svdvals", _svdvals_impl, _svdvals_abstract)
def_rule(svdvals_p, jvp=_svdvals_jvp, vjp=(_svdvals_vjp,), batch=_stacked_batch(svdvals_p))


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True,
        hermitian: bool = False) -> Any:
    """NumPy's svd; with `hermitian`, of the Hermitian matrix read from the lower triangle of
    `a` (what NumPy's eigh-based route reads). Singular vectors of a complex matrix are defined up
    to a phase per pair; chainrule's derivative keeps diag(V^H dV) = 0."""
    if hermitian:
        a = hermitian_from_triangle(a)
    if not compute_uv:
        return svdvals_p.bind(a)
    m, n = shape_of(a)[-2], shape_of(a)[-1]
    if full_matrices and m != n:
        raise NotImplementedError(
            "svd(..., full_matrices=True) of a non-square traced matrix is not differentiable: "
            "the extra singular vectors are not unique. Pass full_matrices=False")
    u, s, vh = svd_p.bind(a)
    return u, s, vh


# ---------------------------------------------------------------------------------------------
# helpers of the decompositions below

def _tri(x: Any, lower: bool, k: int = 0) -> Any:
    """The lower (upper) triangle of the last two axes of `x`, from diagonal `k` on (a linear
    map: the other entries become exact zeros)."""
    r, c = shape_of(x)[-2], shape_of(x)[-1]
    mask = np.tri(r, c, k, dtype=bool) if lower else ~np.tri(r, c, k - 1, dtype=bool)
    return E.select(in_library_of(x, mask), x, scalar(0, dtype_of(x)))


def _diag_part(x: Any) -> Any:
    return einsum("...ii->...i", x)


def _diag_matrix(d: Any) -> Any:
    n = shape_of(d)[-1]
    return E.mul(S.expand_dims(d, -1), in_library_of(d, np.eye(n, dtype=bool)))


def _i_imag(x: Any) -> Any:
    """i Im(x), for complex x."""
    return E.mul(E.imag_p.bind1(x), scalar(1j, dtype_of(x)))


def _complex_dtype(dt: Any) -> np.dtype:
    return np.dtype(np.complex64 if _real_dtype(dt) == np.float32 else np.complex128)


# ---------------------------------------------------------------------------------------------
# eig and eigvals (general square matrices; complex results always, as JAX, since whether NumPy's
# are real depends on the values, which a graph built from shapes cannot know).
# With X = V^-1 dA V: dw = diag(X), dV = V (F o X), F_ij = 1 / (w_j - w_i) off the diagonal,
# then each column's component along itself made imaginary: NumPy normalises the eigenvectors to
# unit length, so Re(v_i^H dv_i) = 0. The phase of each v_i is not determined (NumPy's LAPACK
# makes the largest entry real, a choice that is not differentiable): the derivative keeps
# Im(v_i^H dv_i) = (V^H V (F o X))_ii, and a loss must not depend on the phases (functions of the
# eigenvalues, |v_ij|^2, v_i v_i^H are fine).

def _eig_abstract(a: Any) -> list[tuple[tuple[int, ...], np.dtype]]:
    batch, n = _square(a, "eig")
    dt = _complex_dtype(dtype_of(a))
    return [(batch + (n,), dt), (batch + (n, n), dt)]


def _eig_impl(a: Any) -> list[Any]:
    if np.dtype(dtype_of(a)).kind != "c":
        note_complex_made()  # (complex values from real ones: see rules.COMPLEX_MADE)
    w, v = np.linalg.eig(a)
    dt = _complex_dtype(dtype_of(a))
    return [w.astype(dt, copy=False), v.astype(dt, copy=False)]


def _eig_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    (a,), (a_dot,) = primals, tangents
    w, v = eig_p.bind(a)
    x = solve_p.bind(v, matmul(a_dot, v))  # V^-1 dA V
    w_dot = _diag_part(x)
    v_dot = matmul(v, E.mul(_inverse_gaps(w), x))
    along = _real_part(R.sum(E.mul(E.cconj(v), v_dot), axis=-2, keepdims=True))
    return [w, v], [w_dot, E.sub(v_dot, E.mul(v, along))]


eig_p = Primitive("eig", _eig_impl, _eig_abstract, multiple_results=True)
def_rule(eig_p, jvp=_eig_jvp, vjp=_vjp_from_jvp(eig_p, 1), batch=_stacked_batch(eig_p))


def eig(a: Any) -> tuple[Any, Any]:
    w, v = eig_p.bind(a)
    return w, v


def _eigvals_abstract(a: Any) -> tuple[tuple[int, ...], np.dtype]:
    batch, n = _square(a, "eigvals")
    return batch + (n,), _complex_dtype(dtype_of(a))


def _eigvals_impl(a: Any) -> Any:
    # the eigenvalues of eig (the same order as the eigenvectors its rule uses)
    return _eig_impl(a)[0]


def _eigvals_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    # dw_i = u_i^H dA v_i with U^H = V^-1: finite where eigenvalues repeat (no 1 / gap)
    (a,), (a_dot,) = primals, tangents
    w, v = eig_p.bind(a)
    return w, _diag_part(solve_p.bind(v, matmul(a_dot, v)))


eigvals_p = Primitive("eigvals", _eigvals_impl, _eigvals_abstract)
def_rule(eigvals_p, jvp=_eigvals_jvp, vjp=_vjp_from_jvp(eigvals_p, 1),
         batch=_stacked_batch(eigvals_p))


def eigvals(a: Any) -> Any:
    return eigvals_p.bind(a)


# eigvalsh: dw = Re diag(V^H dA V), dA the Hermitian matrix read from the triangle UPLO names

def _eigvalsh_abstract(a: Any, *, UPLO: str = "L") -> tuple[tuple[int, ...], np.dtype]:  # noqa: N803
    batch, n = _square(a, "eigvalsh")
    return batch + (n,), _real_dtype(dtype_of(a))


def _eigvalsh_impl(a: Any, *, UPLO: str = "L") -> Any:  # noqa: N803 - NumPy's name
    return np.linalg.eigvalsh(a, UPLO=UPLO)


def _eigvalsh_jvp(primals: list[Any], tangents: list[Any], **params: Any) -> tuple[Any, Any]:
    (a,), (a_dot,) = primals, tangents
    w = eigvalsh_p.bind(a, **params)
    _, v = eigh_p.bind(a, **params)
    h = hermitian_from_triangle(a_dot, params.get("UPLO", "L") == "L")
    return w, _real_part(R.sum(E.mul(E.cconj(v), matmul(h, v)), axis=-2))


eigvalsh_p = Primitive("eigvalsh", _eigvalsh_impl, _eigvalsh_abstract)
def_rule(eigvalsh_p, jvp=_eigvalsh_jvp, vjp=_vjp_from_jvp(eigvalsh_p, 1),
         batch=_stacked_batch(eigvalsh_p))


def eigvalsh(a: Any, UPLO: str = "L") -> Any:  # noqa: N803 - NumPy's name
    if UPLO not in ("L", "U"):
        raise ValueError(f"eigvalsh: UPLO must be 'L' or 'U', not {UPLO!r}")
    return eigvalsh_p.bind(a) if UPLO == "L" else eigvalsh_p.bind(a, UPLO="U")


# ---------------------------------------------------------------------------------------------
# qr (reduced: Q is m x k, R is k x n, k = min(m, n)). For m >= n, with C = Q^H dA R^-1 and
# Omega = tril(C, -1) - tril(C, -1)^H (+ i Im diag(C) for complex matrices, whose R has a real
# diagonal): dQ = Q (Omega - C) + dA R^-1, dR = (C - Omega) R. For m < n, A = Q [R1 R2] with R1
# square: Q and R1 move as the QR of the first m columns, and dR2 = Q^H (dA2 - dQ R2).

def _qr_abstract(a: Any) -> list[tuple[tuple[int, ...], np.dtype]]:
    batch, m, n = _matrix(a, "qr")
    k = min(m, n)
    dt = _float_dtype(dtype_of(a))
    return [(batch + (m, k), dt), (batch + (k, n), dt)]


def _qr_impl(a: Any) -> list[Any]:
    q, r = np.linalg.qr(a, mode="reduced")
    return [q, r]


def _right_solve(x: Any, m: Any) -> Any:
    """x M^-1, by a solve with M^T (plain transposes: also right for complex matrices)."""
    return _mT(solve_p.bind(_mT(m), _mT(x)))


def _qr_tall_jvp(q: Any, r: Any, a_dot: Any) -> tuple[Any, Any]:
    dx_rinv = _right_solve(a_dot, r)
    c = matmul(_mH(q), dx_rinv)
    low = _tri(c, True, -1)
    omega = E.sub(low, _mH(low))
    if E._is_complex(c):
        omega = E.add(omega, _diag_matrix(_i_imag(_diag_part(c))))
    q_dot = E.add(matmul(q, E.sub(omega, c)), dx_rinv)
    return q_dot, matmul(E.sub(c, omega), r)


def _qr_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    (a,), (a_dot,) = primals, tangents
    q, r = qr_p.bind(a)
    m, n = shape_of(a)[-2], shape_of(a)[-1]
    if m >= n:
        q_dot, r_dot = _qr_tall_jvp(q, r, a_dot)
        return [q, r], [q_dot, r_dot]
    left, right = (Ellipsis, slice(None), slice(0, m)), (Ellipsis, slice(None), slice(m, None))
    q_dot, r1_dot = _qr_tall_jvp(q, S.getitem(r, left), S.getitem(a_dot, left))
    r2_dot = matmul(_mH(q), E.sub(S.getitem(a_dot, right), matmul(q_dot, S.getitem(r, right))))
    return [q, r], [q_dot, S.concatenate([r1_dot, r2_dot], axis=-1)]


qr_p = Primitive("qr", _qr_impl, _qr_abstract, multiple_results=True)
def_rule(qr_p, jvp=_qr_jvp, vjp=_vjp_from_jvp(qr_p, 1), batch=_stacked_batch(qr_p))


def qr(a: Any) -> tuple[Any, Any]:
    """The reduced QR decomposition (NumPy's mode='reduced')."""
    q, r = qr_p.bind(a)
    return q, r


# ---------------------------------------------------------------------------------------------
# lstsq: the solution x = A+ b of NumPy's lstsq (a is m x n, b is m x k). Its derivative is that
# of the pseudo-inverse applied to b (Golub & Pereyra 1973), exact where the rank of A is locally
# constant (full-rank matrices of any shape):
#   dx = A+ (db - dA x) + A+ A+^H dA^H r + (I - A+ A) dA^H A+^H x,   r = b - A x
# (for m >= n and full rank, A+ A = I and this is the normal equations' derivative; for m < n
# the residual r is zero). Every A+ is a least-squares solve, and A+^H = (A^H)+, so the rule is
# written with lstsq itself and differentiates again.

def _lstsq_abstract(a: Any, b: Any, *, rcond: Any = None) -> tuple[tuple[int, ...], np.dtype]:
    sa, sb = shape_of(a), shape_of(b)
    if len(sa) != 2 or len(sb) != 2 or sb[0] != sa[0]:
        raise np.linalg.LinAlgError(f"lstsq: a must be m x n and b m x k, got {sa} and {sb}")
    dt = _float_dtype(np.result_type(_float_dtype(dtype_of(a)), _float_dtype(dtype_of(b))))
    return (sa[1], sb[1]), dt


def _lstsq_impl(a: Any, b: Any, *, rcond: Any = None) -> Any:
    return np.linalg.lstsq(a, b, rcond=rcond)[0]


def _lstsq(a: Any, b: Any, rcond: Any) -> Any:
    return lstsq_p.bind(a, b, rcond=rcond)


def _lstsq_jvp(primals: list[Any], tangents: list[Any], *, rcond: Any = None
               ) -> tuple[Any, Any]:
    (a, b), (a_dot, b_dot) = primals, tangents
    x = _lstsq(a, b, rcond)
    rhs = b_dot
    t: Any = Zero
    if a_dot is not Zero:
        rhs = rhs - matmul(a_dot, x)
        a_h, a_dot_h = _mH(a), _mH(a_dot)
        r = E.sub(b, matmul(a, x))
        t = _lstsq(a, _lstsq(a_h, matmul(a_dot_h, r), rcond), rcond)
        w = matmul(a_dot_h, _lstsq(a_h, x, rcond))
        t = E.add(t, E.sub(w, _lstsq(a, matmul(a, w), rcond)))
    return x, t + _lstsq(a, rhs, rcond)


def _lstsq_vjp_a(ct: Any, ans: Any, a: Any, b: Any, *, rcond: Any = None) -> Any:
    a_h = _mH(a)
    g_b = _lstsq(a_h, ct, rcond)
    r = E.sub(b, matmul(a, ans))
    z = _lstsq(a_h, ans, rcond)
    u = E.sub(ct, _lstsq(a, matmul(a, ct), rcond))
    g = E.neg(matmul(g_b, _mH(ans)))
    g = E.add(g, matmul(r, _mH(_lstsq(a, g_b, rcond))))
    return R.cotangent_like(E.add(g, matmul(z, _mH(u))), a)


def _lstsq_vjp_b(ct: Any, ans: Any, a: Any, b: Any, *, rcond: Any = None) -> Any:
    return R.cotangent_like(_lstsq(_mH(a), ct, rcond), b)


def _lstsq_batch(args: list[Any], batched: tuple[bool, ...], **params: Any) -> Any:
    a, b = args
    if batched == (False, True):  # one matrix, a batch of right-hand sides: more columns
        nb, m, k = shape_of(b)
        wide = S.reshape(S.transpose(b, (1, 0, 2)), (m, nb * k))
        x = lstsq_p.bind(a, wide, **params)
        return S.transpose(S.reshape(x, (shape_of(x)[0], nb, k)), (1, 0, 2))
    return loop_batch(lstsq_p)(args, batched, **params)


lstsq_p = Primitive("lstsq", _lstsq_impl, _lstsq_abstract)
def_rule(lstsq_p, jvp=_lstsq_jvp, vjp=(_lstsq_vjp_a, _lstsq_vjp_b), batch=_lstsq_batch)


def lstsq(a: Any, b: Any, rcond: Any = None) -> Any:
    """The least-squares solution of NumPy's lstsq (the first of its results); a 1-D `b` is one
    right-hand side."""
    if ndim_of(b) == 1:
        return S.squeeze(lstsq_p.bind(a, S.expand_dims(b, -1), rcond=rcond), -1)
    return lstsq_p.bind(a, b, rcond=rcond)


# ---------------------------------------------------------------------------------------------
# primitives of chainrule.scipy.linalg: their values are SciPy's, imported when first computed
# (SciPy is an optional dependency; `import chainrule` never needs it)

def _scipy_linalg() -> Any:
    try:
        import scipy.linalg
    except ModuleNotFoundError as exc:  # pragma: no cover - exercised without SciPy installed
        raise ModuleNotFoundError(
            "this scipy.linalg primitive needs SciPy, an optional dependency: pip install "
            "\"chainrule[scipy]\" (or pip install scipy)", name=exc.name) from None
    return scipy.linalg


def _batch_shape(*pairs: tuple[Any, int]) -> tuple[int, ...]:
    """The broadcast batch shape of operands with `core` trailing axes each."""
    return tuple(np.broadcast_shapes(*(tuple(shape_of(x)[:ndim_of(x) - core])
                                       for x, core in pairs)))


def _core_batch(prim: Primitive, cores: tuple[int, ...]) -> Any:
    """Batching for a primitive whose operands have `cores` trailing core axes each and
    broadcast over the leading ones (SciPy's batched linear algebra): batch axes lined up."""

    def _batch(args: list[Any], batched: tuple[bool, ...], **params: Any) -> Any:
        extra = [ndim_of(a) - c - (1 if b else 0) for a, b, c in zip(args, batched, cores)]
        top = max(extra)
        out = []
        for a, b, e in zip(args, batched, extra):
            if b and e < top:
                s = shape_of(a)
                a = S.reshape(a, s[:1] + (1,) * (top - e) + s[1:])
            out.append(a)
        return prim.bind(*out, **params)

    _batch.__name__ = f"_{prim.name}_batch"
    return _batch


def _result_float(*xs: Any) -> np.dtype:
    return _float_dtype(np.result_type(*(_float_dtype(dtype_of(x)) for x in xs)))


def _check_trans(name: str, trans: Any) -> None:
    if trans not in (0, 1, 2) or isinstance(trans, bool):
        raise ValueError(f"{name}: trans must be 0 (a), 1 (a^T) or 2 (a^H), not {trans!r}")


def _op(x: Any, trans: int) -> Any:
    """op(X) of LAPACK's TRANS: X, X^T or X^H."""
    return x if trans == 0 else _mT(x) if trans == 1 else _mH(x)


# solve_triangular: x = op(T)^-1 b, T the triangle `lower` names (with a unit diagonal when
# unit_diagonal: SciPy reads neither the other triangle nor then the diagonal, so their
# derivative is zero). dx = op(T)^-1 (db - op(dT) x).

def _solve_triangular_abstract(a: Any, b: Any, *, lower: bool = False, trans: int = 0,
                               unit_diagonal: bool = False) -> tuple[tuple[int, ...], np.dtype]:
    _check_trans("solve_triangular", trans)
    _, n = _square(a, "solve_triangular")
    sb = shape_of(b)
    if len(sb) < 2 or sb[-2] != n:
        raise ValueError(f"solve_triangular: b of shape {sb} does not fit a of shape "
                         f"{shape_of(a)} (b is (..., n, k) here)")
    return _batch_shape((a, 2), (b, 2)) + (n, sb[-1]), _result_float(a, b)


def _solve_triangular_impl(a: Any, b: Any, *, lower: bool = False, trans: int = 0,
                           unit_diagonal: bool = False) -> Any:
    return _scipy_linalg().solve_triangular(a, b, trans=trans, lower=lower,
                                            unit_diagonal=unit_diagonal)


def _triangle_read(a: Any, lower: bool, unit_diagonal: bool) -> Any:
    return _tri(a, lower, (-1 if lower else 1) if unit_diagonal else 0)


def solve_tri(a: Any, b: Any, lower: bool, trans: int = 0, unit: bool = False) -> Any:
    return solve_triangular_p.bind(a, b, lower=lower, trans=trans, unit_diagonal=unit)


def _solve_triangular_jvp(primals: list[Any], tangents: list[Any], *, lower: bool = False,
                          trans: int = 0, unit_diagonal: bool = False) -> tuple[Any, Any]:
    (a, b), (a_dot, b_dot) = primals, tangents
    x = solve_tri(a, b, lower, trans, unit_diagonal)
    rhs = b_dot
    if a_dot is not Zero:
        rhs = rhs - matmul(_op(_triangle_read(a_dot, lower, unit_diagonal), trans), x)
    return x, solve_tri(a, rhs, lower, trans, unit_diagonal)


def _solve_triangular_adjoint(a: Any, ct: Any, lower: bool, trans: int, unit: bool) -> Any:
    """op(T)^-H ct."""
    if trans == 1 and E._is_complex(a):  # (T^T)^-H = conj(T)^-1
        return E.cconj(solve_tri(a, E.cconj(ct), lower, 0, unit))
    return solve_tri(a, ct, lower, 2 if trans == 0 else 0, unit)


def _solve_triangular_vjp_a(ct: Any, ans: Any, a: Any, b: Any, *, lower: bool = False,
                            trans: int = 0, unit_diagonal: bool = False) -> Any:
    g_b = _solve_triangular_adjoint(a, ct, lower, trans, unit_diagonal)
    g_op = E.neg(matmul(g_b, _mH(ans)))  # the cotangent of op(T)
    g = _triangle_read(_op(g_op, trans), lower, unit_diagonal)
    return R.cotangent_like(g, a)


def _solve_triangular_vjp_b(ct: Any, ans: Any, a: Any, b: Any, *, lower: bool = False,
                            trans: int = 0, unit_diagonal: bool = False) -> Any:
    return R.cotangent_like(_solve_triangular_adjoint(a, ct, lower, trans, unit_diagonal), b)


solve_triangular_p = Primitive("solve_triangular", _solve_triangular_impl,
                               _solve_triangular_abstract)
def_rule(solve_triangular_p, jvp=_solve_triangular_jvp,
         vjp=(_solve_triangular_vjp_a, _solve_triangular_vjp_b),
         batch=_core_batch(solve_triangular_p, (2, 2)))


# lu: A = P L U, P a permutation (constant), L unit lower m x k, U upper k x n. With L and U
# padded to square Lp (m x m, unit lower) and Up (n x n, identity below U) and
# F = Lp^-1 P^T dA Up^-1: dL = Lp tril(F, -1), dU = triu(F) Up (the first k columns / rows).

def _lu_abstract(a: Any) -> list[tuple[tuple[int, ...], np.dtype]]:
    batch, m, n = _matrix(a, "lu")
    k = min(m, n)
    dt = _float_dtype(dtype_of(a))
    return [(batch + (m, m), _real_dtype(dt)), (batch + (m, k), dt), (batch + (k, n), dt)]


def _lu_impl(a: Any) -> list[Any]:
    p, lo, up = _scipy_linalg().lu(a)
    return [p, lo, up]


def _lu_tangents(lo: Any, up: Any, pt_a_dot: Any) -> tuple[Any, Any, int]:
    """(dL, dU, k) for the LU factors of P^T A, each as an m x n matrix (dL strictly below the
    diagonal, dU on and above it: their sum is the tangent of the packed factors)."""
    m, n = shape_of(pt_a_dot)[-2], shape_of(pt_a_dot)[-1]
    k = min(m, n)
    batch = tuple(shape_of(lo)[:-2])
    dt = dtype_of(lo)
    if m > k:
        pad = np.broadcast_to(np.eye(m, dtype=dt)[:, k:], batch + (m, m - k))
        lo = S.concatenate([lo, pad], axis=-1)
    if n > k:
        pad = np.broadcast_to(np.eye(n, dtype=dt)[k:, :], batch + (n - k, n))
        up = S.concatenate([up, pad], axis=-2)
    f = solve_tri(lo, pt_a_dot, True, 0, True)
    f = _mT(solve_tri(up, _mT(f), False, 1))  # F Up^-1
    return matmul(lo, _tri(f, True, -1)), matmul(_tri(f, False), up), k


def _lu_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    (a,), (a_dot,) = primals, tangents
    p, lo, up = lu_p.bind(a)
    lo_dot, up_dot, k = _lu_tangents(lo, up, matmul(_mT(p), a_dot))
    lo_dot = S.getitem(lo_dot, (Ellipsis, slice(None), slice(0, k)))
    up_dot = S.getitem(up_dot, (Ellipsis, slice(0, k), slice(None)))
    return [p, lo, up], [E.zeros_like(p), lo_dot, up_dot]


lu_p = Primitive("lu", _lu_impl, _lu_abstract, multiple_results=True)
def_rule(lu_p, jvp=_lu_jvp, vjp=_vjp_from_jvp(lu_p, 1), batch=_stacked_batch(lu_p))


# lu_factor: the packed factors (L below the diagonal, U on and above it) and LAPACK's pivots:
# row i was swapped with row piv[i], in order. The same rule as lu, P^T dA by the swaps.

def _lu_factor_abstract(a: Any) -> list[tuple[tuple[int, ...], np.dtype]]:
    batch, m, n = _matrix(a, "lu_factor")
    return [(batch + (m, n), _float_dtype(dtype_of(a))), (batch + (min(m, n),), np.dtype(np.int32))]


def _lu_factor_impl(a: Any) -> list[Any]:
    lu, piv = _scipy_linalg().lu_factor(a)
    return [lu, piv]


def apply_pivots(piv: Any, x: Any) -> Any:
    """P^T x: the rows of x swapped as LAPACK's pivots say (row i with row piv[i], for i in
    order). Linear in x; piv may be traced (it is then a constant)."""
    m = shape_of(x)[-2]
    rows = np.arange(m)
    one, zero = scalar(1, dtype_of(x)), scalar(0, dtype_of(x))
    for i in range(shape_of(piv)[-1]):
        e_p = E.select(E.equal_p.bind(rows, S.getitem(piv, (Ellipsis, slice(i, i + 1)))),
                       one, zero)                          # (..., m): the unit vector of piv[i]
        e_i = (rows == i).astype(dtype_of(x))
        row_i = S.getitem(x, (Ellipsis, slice(i, i + 1), slice(None)))
        row_p = R.sum(E.mul(S.expand_dims(e_p, -1), x), axis=-2, keepdims=True)
        x = E.add(x, E.mul(S.expand_dims(E.sub(e_i, e_p), -1), E.sub(row_p, row_i)))
    return x


def _unpack_lu(lu: Any) -> tuple[Any, Any]:
    m, n = shape_of(lu)[-2], shape_of(lu)[-1]
    k = min(m, n)
    lo = E.add(_tri(S.getitem(lu, (Ellipsis, slice(None), slice(0, k))), True, -1),
               in_library_of(lu, np.eye(m, k, dtype=dtype_of(lu))))
    return lo, _tri(S.getitem(lu, (Ellipsis, slice(0, k), slice(None))), False)


def _lu_factor_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    (a,), (a_dot,) = primals, tangents
    lu, piv = lu_factor_p.bind(a)
    lo, up = _unpack_lu(lu)
    lo_dot, up_dot, _ = _lu_tangents(lo, up, apply_pivots(piv, a_dot))
    return [lu, piv], [E.add(lo_dot, up_dot), Zero]


lu_factor_p = Primitive("lu_factor", _lu_factor_impl, _lu_factor_abstract, multiple_results=True)
def_rule(lu_factor_p, jvp=_lu_factor_jvp, vjp=_vjp_from_jvp(lu_factor_p, 1),
         batch=_stacked_batch(lu_factor_p))


# lu_solve: x = op(A)^-1 b for A = P L U given as lu_factor's (lu, piv), differentiated in the
# entries of lu as stored (L's strict lower triangle, U's upper one) and in b:
#   trans 0: dx = A^-1 db - U^-1 (L^-1 dL U x + dU x)
#   trans 1, 2: dx = op(A)^-1 (db - op(dU) op(L) y - op(U) op(dL) y),
#               y = P^T x = op(L)^-1 op(U)^-1 b

def _lu_solve_abstract(lu: Any, piv: Any, b: Any, *, trans: int = 0
                       ) -> tuple[tuple[int, ...], np.dtype]:
    _check_trans("lu_solve", trans)
    _, n = _square(lu, "lu_solve")
    sb = shape_of(b)
    if len(sb) < 2 or sb[-2] != n:
        raise ValueError(f"lu_solve: b of shape {sb} does not fit lu of shape {shape_of(lu)}")
    return _batch_shape((lu, 2), (piv, 1), (b, 2)) + (n, sb[-1]), _result_float(lu, b)


def _lu_solve_impl(lu: Any, piv: Any, b: Any, *, trans: int = 0) -> Any:
    return _scipy_linalg().lu_solve((lu, piv), b, trans=trans)


def _lu_solve_jvp(primals: list[Any], tangents: list[Any], *, trans: int = 0
                  ) -> tuple[Any, Any]:
    (lu, piv, b), (lu_dot, _, b_dot) = primals, tangents
    x = lu_solve_p.bind(lu, piv, b, trans=trans)
    t: Any = Zero if b_dot is Zero else lu_solve_p.bind(lu, piv, b_dot, trans=trans)
    if lu_dot is Zero:
        return x, t
    d_lo, d_up = _tri(lu_dot, True, -1), _tri(lu_dot, False)
    up = _tri(lu, False)
    if trans == 0:
        y = E.add(solve_tri(lu, matmul(d_lo, matmul(up, x)), True, 0, True), matmul(d_up, x))
        return x, t - solve_tri(lu, y, False)
    lo = E.add(_tri(lu, True, -1), in_library_of(lu, np.eye(shape_of(lu)[-1], dtype=dtype_of(lu))))
    y = solve_tri(lu, solve_tri(lu, b, False, trans), True, trans, True)  # P^T x
    rhs = E.add(matmul(_op(d_up, trans), matmul(_op(lo, trans), y)),
                matmul(_op(up, trans), matmul(_op(d_lo, trans), y)))
    return x, t - lu_solve_p.bind(lu, piv, rhs, trans=trans)


def _lu_solve_vjp_b(ct: Any, ans: Any, lu: Any, piv: Any, b: Any, *, trans: int = 0) -> Any:
    if trans == 1 and E._is_complex(lu):  # (A^T)^-H = conj(A)^-1
        g = E.cconj(lu_solve_p.bind(lu, piv, E.cconj(ct), trans=0))
    else:
        g = lu_solve_p.bind(lu, piv, ct, trans=2 if trans == 0 else 0)
    return R.cotangent_like(g, b)


def _lu_solve_vjp_lu(ct: Any, ans: Any, lu: Any, piv: Any, b: Any, *, trans: int = 0) -> Any:
    return derived_vjp(lu_solve_p, (lu, piv, b), {"trans": trans}, ct, [0])[0]


lu_solve_p = Primitive("lu_solve", _lu_solve_impl, _lu_solve_abstract)
def_rule(lu_solve_p, jvp=_lu_solve_jvp, vjp=(_lu_solve_vjp_lu, None, _lu_solve_vjp_b),
         batch=_core_batch(lu_solve_p, (2, 1, 2)))


# matrix functions f = expm, logm: the Frechet derivative L_f(A, E) is the top right block of
# f([[A, E], [0, A]]) (Higham, Functions of Matrices, 3.2), and its adjoint for the real inner
# product is L_f(A^H, .) (both have real Taylor coefficients). Written with f itself, so it
# differentiates again. sqrtm's derivative solves X dX + dX X = dA (a Sylvester equation).

def _frechet(prim: Primitive, a: Any, e: Any) -> Any:
    n = shape_of(a)[-1]
    dt = np.result_type(dtype_of(a), dtype_of(e))
    batch = _batch_shape((a, 2), (e, 2))
    a = S.broadcast_to(E.convert(a, dt) if dtype_of(a) != dt else a, batch + (n, n))
    e = S.broadcast_to(E.convert(e, dt) if dtype_of(e) != dt else e, batch + (n, n))
    zero = in_library_of(a, np.zeros(batch + (n, n), dt))
    big = S.concatenate([S.concatenate([a, e], axis=-1), S.concatenate([zero, a], axis=-1)],
                        axis=-2)
    return S.getitem(prim.bind(big), (Ellipsis, slice(0, n), slice(n, None)))


def _matfun_abstract(name: str) -> Any:
    def _abstract(a: Any) -> tuple[tuple[int, ...], np.dtype]:
        _square(a, name)
        dt = _float_dtype(dtype_of(a))
        if name == "logm":  # (SciPy's logm computes in double precision)
            dt = np.dtype(np.complex128 if dt.kind == "c" else np.float64)
        return shape_of(a), dt

    _abstract.__name__ = f"_{name}_abstract"
    return _abstract


def _real_or_refuse(name: str, a: Any, out: Any, dt: np.dtype) -> Any:
    """SciPy's result as the dtype the graph was promised: for a real matrix whose principal
    logarithm (square root) is complex, SciPy returns a complex matrix, which a real input's
    function cannot (its dtype would depend on the values)."""
    out = np.asarray(out)
    if out.dtype.kind == "c" and dt.kind != "c":
        if np.any(out.imag != 0):
            raise ValueError(
                f"{name}: the principal {'logarithm' if name == 'logm' else 'square root'} of "
                f"this real matrix is complex (it has eigenvalues on the negative real axis); "
                f"differentiate it as a complex matrix: {name}(a.astype(complex))")
        out = out.real
    return out.astype(dt, copy=False)


def _expm_impl(a: Any) -> Any:
    return _scipy_linalg().expm(a)


def _logm_impl(a: Any) -> Any:
    with warnings.catch_warnings():  # (its accuracy estimate; the value is the same)
        warnings.simplefilter("ignore", RuntimeWarning)
        out = _scipy_linalg().logm(a)
    return _real_or_refuse("logm", a, out, _matfun_abstract("logm")(a)[1])


def _sqrtm_impl(a: Any) -> Any:
    return _real_or_refuse("sqrtm", a, _scipy_linalg().sqrtm(a),
                           _matfun_abstract("sqrtm")(a)[1])


def _frechet_jvp(prim: Primitive) -> Any:
    def _jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
        (a,), (a_dot,) = primals, tangents
        return prim.bind(a), _frechet(prim, a, a_dot)

    def _vjp(ct: Any, ans: Any, a: Any) -> Any:
        return R.cotangent_like(_frechet(prim, _mH(a), ct), a)

    _jvp.__name__, _vjp.__name__ = f"_{prim.name}_jvp", f"_{prim.name}_vjp"
    return _jvp, _vjp


expm_p = Primitive("expm", _expm_impl, _matfun_abstract("expm"))
logm_p = Primitive("logm", _logm_impl, _matfun_abstract("logm"))
for _p in (expm_p, logm_p):
    _jvp, _vjp = _frechet_jvp(_p)
    def_rule(_p, jvp=_jvp, vjp=(_vjp,), batch=_stacked_batch(_p))


def _sqrtm_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    (a,), (a_dot,) = primals, tangents
    x = sqrtm_p.bind(a)
    return x, solve_sylvester_p.bind(x, x, a_dot)


def _sqrtm_vjp(ct: Any, ans: Any, a: Any) -> Any:
    x_h = _mH(ans)
    return R.cotangent_like(solve_sylvester_p.bind(x_h, x_h, ct), a)


sqrtm_p = Primitive("sqrtm", _sqrtm_impl, _matfun_abstract("sqrtm"))
def_rule(sqrtm_p, jvp=_sqrtm_jvp, vjp=(_sqrtm_vjp,), batch=_stacked_batch(sqrtm_p))


# solve_sylvester: A X + X B = Q. dX solves A dX + dX B = dQ - dA X - X dB; the adjoint of
# Y -> A Y + Y B is G -> A^H G + G B^H, so the cotangent of Q solves the Sylvester equation of
# (A^H, B^H), and those of A and B are -G X^H and -X^H G.

def _solve_sylvester_abstract(a: Any, b: Any, q: Any) -> tuple[tuple[int, ...], np.dtype]:
    _, m = _square(a, "solve_sylvester")
    _, n = _square(b, "solve_sylvester")
    sq = shape_of(q)
    if len(sq) < 2 or sq[-2:] != (m, n):
        raise ValueError(f"solve_sylvester: q of shape {sq} does not fit a ({m} x {m}) and "
                         f"b ({n} x {n})")
    return _batch_shape((a, 2), (b, 2), (q, 2)) + (m, n), _result_float(a, b, q)


def _solve_sylvester_impl(a: Any, b: Any, q: Any) -> Any:
    return _scipy_linalg().solve_sylvester(a, b, q)


def _solve_sylvester_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    (a, b, q), (a_dot, b_dot, q_dot) = primals, tangents
    x = solve_sylvester_p.bind(a, b, q)
    rhs = q_dot
    if a_dot is not Zero:
        rhs = rhs - matmul(a_dot, x)
    if b_dot is not Zero:
        rhs = rhs - matmul(x, b_dot)
    return x, solve_sylvester_p.bind(a, b, rhs)


def _sylvester_adjoint(ct: Any, a: Any, b: Any) -> Any:
    return solve_sylvester_p.bind(_mH(a), _mH(b), ct)


def _solve_sylvester_vjp_a(ct: Any, ans: Any, a: Any, b: Any, q: Any) -> Any:
    return R.cotangent_like(E.neg(matmul(_sylvester_adjoint(ct, a, b), _mH(ans))), a)


def _solve_sylvester_vjp_b(ct: Any, ans: Any, a: Any, b: Any, q: Any) -> Any:
    return R.cotangent_like(E.neg(matmul(_mH(ans), _sylvester_adjoint(ct, a, b))), b)


def _solve_sylvester_vjp_q(ct: Any, ans: Any, a: Any, b: Any, q: Any) -> Any:
    return R.cotangent_like(_sylvester_adjoint(ct, a, b), q)


solve_sylvester_p = Primitive("solve_sylvester", _solve_sylvester_impl,
                              _solve_sylvester_abstract)
def_rule(solve_sylvester_p, jvp=_solve_sylvester_jvp,
         vjp=(_solve_sylvester_vjp_a, _solve_sylvester_vjp_b, _solve_sylvester_vjp_q),
         batch=_core_batch(solve_sylvester_p, (2, 2, 2)))


# solve_banded: A given by its bands, ab[u + i - j, j] = A[i, j]. The derivative goes through
# the dense matrix of the bands (dA x), and the solves stay banded: A^H has the bands (u, l).

def _band_selector(l_and_u: tuple[int, int], n: int) -> np.ndarray:
    """E[k, i, j] = 1 where band row k holds A[i, j] (k = u + i - j)."""
    nl, nu = l_and_u
    k = np.arange(nl + nu + 1)[:, None, None]
    i = np.arange(n)[None, :, None]
    j = np.arange(n)[None, None, :]
    return (k == nu + i - j).astype(np.float64)


def banded_to_dense(ab: Any, l_and_u: tuple[int, int]) -> Any:
    sel = _band_selector(l_and_u, shape_of(ab)[-1]).astype(_real_dtype(dtype_of(ab)))
    return einsum("...kj,kij->...ij", ab, sel)


def dense_to_banded(a: Any, l_and_u: tuple[int, int]) -> Any:
    sel = _band_selector(l_and_u, shape_of(a)[-1]).astype(_real_dtype(dtype_of(a)))
    return einsum("...ij,kij->...kj", a, sel)


def _solve_banded_abstract(ab: Any, b: Any, *, l_and_u: tuple[int, int]
                           ) -> tuple[tuple[int, ...], np.dtype]:
    sa, sb = shape_of(ab), shape_of(b)
    nl, nu = l_and_u
    if not all(isinstance(k, (int, np.integer)) and k >= 0 for k in (nl, nu)):
        raise ValueError(f"solve_banded: l_and_u must be two nonnegative integers, not "
                         f"{l_and_u!r}")
    if len(sa) < 2 or sa[-2] != nl + nu + 1:
        raise ValueError(f"solve_banded: ab must have l + u + 1 = {nl + nu + 1} rows, its shape "
                         f"is {sa}")
    n = sa[-1]
    if len(sb) < 2 or sb[-2] != n:
        raise ValueError(f"solve_banded: b of shape {sb} does not fit ab of shape {sa}")
    return _batch_shape((ab, 2), (b, 2)) + (n, sb[-1]), _result_float(ab, b)


def _solve_banded_impl(ab: Any, b: Any, *, l_and_u: tuple[int, int]) -> Any:
    return _scipy_linalg().solve_banded(tuple(l_and_u), ab, b)


def _solve_banded_jvp(primals: list[Any], tangents: list[Any], *, l_and_u: tuple[int, int]
                      ) -> tuple[Any, Any]:
    (ab, b), (ab_dot, b_dot) = primals, tangents
    x = solve_banded_p.bind(ab, b, l_and_u=l_and_u)
    rhs = b_dot
    if ab_dot is not Zero:
        rhs = rhs - matmul(banded_to_dense(ab_dot, l_and_u), x)
    return x, solve_banded_p.bind(ab, rhs, l_and_u=l_and_u)


def _banded_adjoint(ct: Any, ab: Any, l_and_u: tuple[int, int]) -> Any:
    """A^-H ct, by the bands of A^H."""
    flipped = (l_and_u[1], l_and_u[0])
    ab_h = dense_to_banded(_mH(banded_to_dense(ab, l_and_u)), flipped)
    return solve_banded_p.bind(ab_h, ct, l_and_u=flipped)


def _solve_banded_vjp_ab(ct: Any, ans: Any, ab: Any, b: Any, *, l_and_u: tuple[int, int]
                         ) -> Any:
    g_b = _banded_adjoint(ct, ab, l_and_u)
    return R.cotangent_like(dense_to_banded(E.neg(matmul(g_b, _mH(ans))), l_and_u), ab)


def _solve_banded_vjp_b(ct: Any, ans: Any, ab: Any, b: Any, *, l_and_u: tuple[int, int]
                        ) -> Any:
    return R.cotangent_like(_banded_adjoint(ct, ab, l_and_u), b)


solve_banded_p = Primitive("solve_banded", _solve_banded_impl, _solve_banded_abstract)
def_rule(solve_banded_p, jvp=_solve_banded_jvp,
         vjp=(_solve_banded_vjp_ab, _solve_banded_vjp_b),
         batch=_core_batch(solve_banded_p, (2, 2)))
