"""Products: `matmul` and `einsum` are primitives; dot, tensordot, inner and outer are built on
them (tensordot the way NumPy does it: transpose, reshape, one matrix product)."""
from __future__ import annotations

import math
import string
from typing import Any

import numpy as np

from .._core.primitive import Primitive, dtype_of, ndim_of, shape_of
from .._core.rules import Zero, def_rule
from . import elementwise as E
from . import reduce as R
from . import shape as S

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
    nx, ny = ndim_of(x), ndim_of(y)
    if nx == 1 and ny == 1:
        return E.mul(ct, y)
    if nx == 2 and ny == 1:  # matrix @ vector: the outer product of ct and y
        return E.mul(S.expand_dims(ct, -1), y)
    if nx == 2 and ny == 2:
        return matmul(ct, S.swapaxes(y, -1, -2))
    ct2, x2, y2 = _as_matrices(ct, x, y)
    g = R.sum_to_shape(matmul(ct2, S.swapaxes(y2, -1, -2)), shape_of(x2))
    return S.reshape(g, shape_of(x))


def _matmul_vjp_y(ct: Any, ans: Any, x: Any, y: Any) -> Any:
    nx, ny = ndim_of(x), ndim_of(y)
    if nx == 1 and ny == 1:
        return E.mul(ct, x)
    if nx == 2 and ny == 1:  # matrix @ vector: ct @ matrix
        return matmul(ct, x)
    if nx == 2 and ny == 2:
        return matmul(S.swapaxes(x, -1, -2), ct)
    ct2, x2, y2 = _as_matrices(ct, x, y)
    g = R.sum_to_shape(matmul(S.swapaxes(x2, -1, -2), ct2), shape_of(y2))
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
        terms += [(ins[j], ops[j]) for j in range(len(ops)) if j != i]
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
        return einsum_p.bind(*[o for _, o in terms], spec=new_spec)

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
