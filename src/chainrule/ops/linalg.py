"""Products: `matmul` and `einsum` are primitives; dot, tensordot, inner and outer are built on
them (tensordot the way NumPy does it: transpose, reshape, one matrix product)."""
from __future__ import annotations

import math
import string
from typing import Any

import numpy as np

from .._core.primitive import Primitive, dtype_of, ndim_of, shape_of
from .._core.rules import Zero, def_rule, derived_vjp
from . import elementwise as E
from . import reduce as R
from . import shape as S
from ._batching import align_batched

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


def _matmul_vjp_x(ct: Any, ans: Any, x: Any, y: Any) -> Any:
    y = E.cconj(y)
    nx, ny = ndim_of(x), ndim_of(y)
    if nx == 1 and ny == 1:
        return R.cotangent_like(E.mul(ct, y), x)
    if nx == 2 and ny == 1:  # matrix @ vector: the outer product of ct and y
        return R.cotangent_like(E.mul(S.expand_dims(ct, -1), y), x)
    if nx == 2 and ny == 2:
        return R.cotangent_like(matmul(ct, S.swapaxes(y, -1, -2)), x)
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
        return R.cotangent_like(matmul(S.swapaxes(x, -1, -2), ct), y)
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
                terms.append((c + f, np.eye(sizes[c], dtype=dt)))
            else:
                seen.add(c)
                renamed.append(c)
        available = set("".join(s for s, _ in terms))
        for c in dict.fromkeys(target):
            if c not in available:  # summed only inside operand i: broadcast back along it
                terms.append((c, np.ones(sizes[c], dtype=dt)))
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
    zero = np.zeros((), dtype_of(x))
    strict = np.tril(np.ones((n, n), dtype=bool), -1)
    tri = E.select(strict if lower else strict.T, x, zero)
    diag = _real_part(E.select(np.eye(n, dtype=bool), x, zero))
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


# det and slogdet: d det A = det A tr(A^-1 dA), d log|det A| = Re tr(A^-1 dA)

def _trace_inv_dot(a: Any, a_dot: Any) -> Any:
    return R.sum(E.mul(_mT(inv(a)), a_dot), axis=(-2, -1))


def _det_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    (a,), (a_dot,) = primals, tangents
    ans = det_p.bind(a)
    return ans, E.mul(ans, _trace_inv_dot(a, a_dot))


def _det_vjp(ct: Any, ans: Any, a: Any) -> Any:
    # det is holomorphic with gradient matrix det(A) A^-T: the cotangent meets its conjugate
    scale = S.expand_dims(E.mul(ct, E.cconj(ans)), (-2, -1))
    return E.mul(scale, _mH(inv(a)))


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
    turn = E.mul(E.imag_p.bind1(t), np.asarray(1j, dtype_of(sign)))
    return [sign, logabs], [E.mul(sign, turn), E.real_p.bind1(t)]


def _slogdet_vjp(cts: list[Any], ans: list[Any], a: Any) -> Any:
    ct_sign, ct_log = cts
    scale = ct_log
    if E._is_complex(ans[0]) and ct_sign is not Zero:
        # the adjoint of the JVP above: (ct_log - i Im(conj(ct_sign) sign)) A^-H
        spin = E.imag_p.bind1(E.mul(E.cconj(ct_sign), ans[0]))
        scale = E.sub(scale, E.mul(spin, np.asarray(1j, dtype_of(ans[0]))))
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
    return L, matmul(L, E.mul(tmp, _phi_mask(n, dtype_of(a))))


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
    off = ~np.eye(n, dtype=bool)
    safe = E.select(off, gaps, np.ones((), dtype_of(d)))
    return E.select(off, E.reciprocal(safe), np.zeros((), dtype_of(d)))


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
        phase = E.mul(E.div(E.imag_p.bind1(dp_diag), s), np.asarray(1j, dtype_of(dp)))
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
