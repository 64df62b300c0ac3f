"""Sparse Jacobians and Hessians: sparsity detected by tracing, columns coloured, one
derivative pass per colour, the matrix recovered from the compressed products.

This module owns three things:

- **Detection.** `jacobian_sparsity` traces `f` into the graph engine's IR (no data: shapes
  only) and propagates, through every equation, which input elements each element of each value
  depends on: a boolean sparse matrix per value (rows: its elements in C order, columns: the
  input's). Each primitive of the rule table has a propagation rule here (`_RULES`):
  elementwise ops take the union over their broadcast operands, reductions the union along their
  axes, shape and indexing ops move rows (`getitem`, `reshape`, `transpose`, `concatenate`...
  are run on an array of element numbers to learn where each element goes), `matmul` and
  `einsum` combine along the contracted letters (using the zeros of a constant operand),
  control flow is followed into its sub-graphs, a `custom_jvp` function into its JVP rule and
  a `checkpoint` into its function. Anything else is *dense*: every output of the
  equation depends on everything its operands depend on. The pattern is therefore never missing
  a nonzero of the true Jacobian, at any point (it does not depend on `x`'s values; a constant's
  zeros are used because they are the same at every point). A detected pattern is kept per
  function and input shape and dtype (with its colouring), for as long as what the function
  reads from outside its arguments is unchanged (`_core.cache.Reads`, as the compiled and
  symbolic engines' caches): a second call at another point skips detection.
- **Colouring.** Columns of the Jacobian that share no row can be seeded together: a
  distance-1 colouring of the column intersection graph. Cheap colourings first, the costlier
  ones only where those miss the lower bound (the longest row): columns numbered along chains
  of nearest earlier neighbours (vectorised; the optimal lattice colouring of a structured
  grid), a greedy pass in the columns' order that steps each colour on from the nearest
  earlier neighbour's, greedy largest degree first, and DSATUR. For a Hessian, symmetry
  allows fewer colours: a greedy *star* colouring of the adjacency graph (Gebremedhin, Manne
  and Pothen, "What color is your Jacobian?", SIAM Review 2005, Alg. 4.1).
- **Evaluation and recovery.** One JVP per colour (batched into one vectorised pass with the
  default engine), or one Hessian-vector product per colour, then each nonzero read from the
  compressed product: directly for a Jacobian, by the star colouring's symmetric rule for a
  Hessian.

SciPy (the optional extra ``pip install chainrule[scipy]``) is imported when one of these
functions runs, never when chainrule is imported.
"""
from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from . import transforms
from ._core import checks, tree
from ._core.cache import BoundedCache, PerFunction, leaf_key
from ._core.errors import ConcretizationError
from ._core.primitive import Tracer
from .graph.ir import Const, Graph, Var
from .graph.jit import jit
from .graph.trace import spec, trace
from .overload import transforms as _overload

__all__ = ["jacobian_sparsity", "hessian_sparsity", "sparse_jacobian", "sparse_hessian",
           "column_coloring", "star_coloring"]


def _sp() -> Any:
    """scipy.sparse, or an ImportError that says how to install it."""
    try:
        import scipy.sparse as sp
    except ModuleNotFoundError as exc:
        raise ImportError("chainrule's sparse Jacobians and Hessians return scipy.sparse "
                          "matrices; SciPy is not installed: pip install chainrule[scipy]"
                          ) from exc
    return sp


# ---------------------------------------------------------------------------------------------
# arguments

def _point(x: Any, who: str) -> np.ndarray:
    """`x` as a real floating-point NumPy array (any shape: its elements are the columns)."""
    if isinstance(x, Tracer):
        raise TypeError(f"{who}: x is a traced value; the sparse transforms compute a matrix "
                        f"at a concrete point and cannot be differentiated themselves "
                        f"(call them outside other transforms)")
    arr = np.asarray(x)
    if arr.dtype.kind != "f":
        raise TypeError(f"{who}: x must be a real floating-point array, got dtype {arr.dtype}; "
                        f"convert it first, e.g. np.asarray(x, dtype=float)")
    return arr


def _pattern_argument(sparsity: Any, shape: tuple[int, int], who: str, what: str) -> Any:
    """A user's `sparsity` as a canonical boolean CSR matrix of `shape`."""
    sp = _sp()
    if sp.issparse(sparsity):
        p = sp.csr_matrix(sparsity, dtype=bool)
    else:
        arr = np.asarray(sparsity)
        if arr.ndim != 2 or arr.dtype == object:
            raise ValueError(f"{who}: sparsity must be a 2-D boolean array or a scipy.sparse "
                             f"matrix of shape {shape} ({what}), got "
                             f"{type(sparsity).__name__} of shape {np.shape(sparsity)}")
        p = sp.csr_matrix(arr != 0)
    if p.shape != shape:
        raise ValueError(f"{who}: sparsity has shape {p.shape}, but {what} has shape {shape}; "
                         f"pass the pattern of this function at this x (cr.jacobian_sparsity)")
    p.eliminate_zeros()
    p.sum_duplicates()
    p.sort_indices()
    return p


# ---------------------------------------------------------------------------------------------
# detection: boolean dependency propagation through the graph IR
#
# A pattern is a boolean CSR matrix with one row per element of a value (C order) and one
# column per input element, or None where the value depends on no input (a constant, a
# comparison, anything non-differentiable). Patterns are never modified once made.

def _csr(data: Any, indices: Any, indptr: Any, shape: tuple[int, int]) -> Any:
    return _sp().csr_matrix((data, indices, indptr), shape=shape)


def _empty(rows: int, n: int) -> Any:
    return _sp().csr_matrix((rows, n), dtype=bool)


def _union(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return a + b  # (boolean sparse addition is a logical or)


def _take(p: Any, idx: np.ndarray) -> Any:
    """Rows `idx` of `p`; an entry -1 gives an empty row (an element that depends on nothing
    through this operand)."""
    idx = np.asarray(idx, dtype=np.intp).ravel()
    rows = p.shape[0]
    if len(idx) == rows and np.array_equal(idx, np.arange(rows)):
        return p
    if len(idx) and idx.min() < 0:
        p = _sp().vstack([p, _empty(1, p.shape[1])], format="csr")
        idx = np.where(idx < 0, rows, idx)
    return p[idx]


def _select(rows_of_out: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> Any:
    """The boolean matrix with a True at each (rows_of_out[k], cols[k])."""
    m = _sp().coo_matrix((np.ones(len(cols), bool), (rows_of_out, cols)), shape=shape)
    return m.tocsr()


def _positions(shape: tuple[int, ...]) -> np.ndarray:
    return np.arange(math.prod(shape), dtype=np.intp).reshape(shape)


def _broadcast_index(shape: tuple[int, ...], out_shape: tuple[int, ...]) -> np.ndarray:
    return np.broadcast_to(_positions(shape), out_shape).ravel()


def _const_value(atom: Any) -> np.ndarray | None:
    return np.asarray(atom.value) if isinstance(atom, Const) else None


def _dense(eqn: Any, ins: list[Any], n: int) -> list[Any]:
    """Every output element depends on every input element any operand depends on."""
    cols = np.unique(np.concatenate([p.indices for p in ins if p is not None]))
    out = []
    for v in eqn.outputs:
        rows = math.prod(v.shape)
        if len(cols) == 0:
            out.append(None)
            continue
        indptr = np.arange(rows + 1, dtype=np.intp) * len(cols)
        out.append(_csr(np.ones(rows * len(cols), bool), np.tile(cols, rows), indptr,
                        (rows, n)))
    return out


def _elementwise(eqn: Any, ins: list[Any], n: int) -> list[Any]:
    out_shape = eqn.outputs[0].shape
    if eqn.prim.name == "select":  # (condition, on true, on false): no derivative in the first
        cond = _const_value(eqn.inputs[0])
        ins = [None] + ins[1:]
        masks: list[Any] = [None, None, None]
        if cond is not None:  # a constant condition picks one branch per element, everywhere
            chosen = np.broadcast_to(cond.astype(bool), out_shape).ravel()
            masks = [None, chosen, ~chosen]
    elif eqn.prim.name == "mul":  # a constant factor's zeros stop the dependence
        values = [_const_value(a) for a in eqn.inputs]
        masks = [None if v is None else np.broadcast_to(v != 0, out_shape).ravel()
                 for v in reversed(values)]
    elif eqn.prim.name == "strong_mask":  # (ct, r, t): piecewise constant in ct and r
        ins = [None, None, ins[2]]
        masks = [None, None, None]
    else:
        masks = [None] * len(ins)
    acc = None
    for atom, p, mask in zip(eqn.inputs, ins, masks):
        if p is None:
            continue
        idx = _broadcast_index(atom.shape, out_shape)
        if mask is not None:
            idx = np.where(mask, idx, -1)
        acc = _union(acc, _take(p, idx))
    return [acc]


def _moved(eqn: Any, ins: list[Any], n: int) -> list[Any]:
    """A primitive that only moves elements (indexing, reshape, transpose, broadcast): its own
    implementation, run on the element numbers, says where each output element comes from."""
    (x,), (p,) = eqn.inputs, ins
    src = eqn.prim.impl(_positions(x.shape), **eqn.params)
    return [_take(p, np.asarray(src))]


def _concatenate(eqn: Any, ins: list[Any], n: int) -> list[Any]:
    offsets = np.cumsum([0] + [math.prod(a.shape) for a in eqn.inputs])
    numbered = [_positions(a.shape) + off for a, off in zip(eqn.inputs, offsets)]
    src = eqn.prim.impl(*numbered, **eqn.params)
    stacked = _sp().vstack([_empty(math.prod(a.shape), n) if p is None else p
                            for a, p in zip(eqn.inputs, ins)], format="csr")
    return [_take(stacked, np.asarray(src))]


def _gather(eqn: Any, ins: list[Any], n: int) -> list[Any]:
    x, idx = eqn.inputs
    where = _const_value(idx)
    if where is None or ins[1] is not None:  # (an index that is computed: any element)
        return _dense(eqn, ins, n)
    src = np.take(_positions(x.shape), where, axis=eqn.params["axis"])
    return [_take(ins[0], src)]


def _scattered(targets: np.ndarray, ct_shape: tuple[int, ...], p: Any,
               out_rows: int) -> Any:
    """Sum-scatter: the update element k lands on output element targets[k]."""
    src = _broadcast_index(ct_shape, targets.shape)
    return _select(targets.ravel(), src, (out_rows, math.prod(ct_shape))) @ p


def _scatter_add(eqn: Any, ins: list[Any], n: int) -> list[Any]:
    (ct,), (p,) = eqn.inputs, ins
    shape = tuple(eqn.params["shape"])
    targets = np.asarray(_positions(shape)[eqn.params["idx"]])
    return [_scattered(targets, ct.shape, p, math.prod(shape))]


def _gather_add(eqn: Any, ins: list[Any], n: int) -> list[Any]:
    ct, idx = eqn.inputs
    where = _const_value(idx)
    if where is None or ins[1] is not None or ins[0] is None:
        return _dense(eqn, ins, n)
    shape = tuple(eqn.params["shape"])
    targets = np.take(_positions(shape), where, axis=eqn.params["axis"])
    return [_scattered(targets, ct.shape, ins[0], math.prod(shape))]


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axis = (axis,)
    return tuple(sorted(int(a) % ndim for a in axis)) if ndim else ()


def _reduce(eqn: Any, ins: list[Any], n: int) -> list[Any]:
    (x,), (p,) = eqn.inputs, ins
    axes = _axes(eqn.params.get("axis"), len(x.shape))
    kept = [d for d in range(len(x.shape)) if d not in axes]
    out_rows = math.prod(x.shape[d] for d in kept)
    width = math.prod(x.shape[d] for d in axes)
    src = _positions(x.shape).transpose(kept + list(axes)).reshape(out_rows, width)
    indptr = np.arange(out_rows + 1, dtype=np.intp) * width
    group = _csr(np.ones(src.size, bool), src.ravel(), indptr, (out_rows, src.size))
    return [group @ p]


def _lines(shape: tuple[int, ...], axis: int) -> np.ndarray:
    """Element numbers arranged (lines along `axis`, position on the line)."""
    return np.moveaxis(_positions(shape), axis, -1).reshape(-1, shape[axis])


def _cumulative(eqn: Any, ins: list[Any], n: int) -> list[Any]:
    (x,), (p,) = eqn.inputs, ins
    if not x.shape:
        return [p]
    lines = _lines(x.shape, int(eqn.params["axis"]) % len(x.shape))
    length = lines.shape[1]
    rows, cols = [], []
    for k in range(length):  # element k of a line: the line's elements 0..k
        rows.append(np.repeat(lines[:, k], k + 1))
        cols.append(lines[:, :k + 1].ravel())
    size = math.prod(x.shape)
    return [_select(np.concatenate(rows), np.concatenate(cols), (size, size)) @ p]


def _along_axis(eqn: Any, ins: list[Any], n: int) -> list[Any]:
    """Sorting and partitioning: an element may come from anywhere on its line."""
    (x,), (p,) = eqn.inputs, ins
    if not x.shape:
        return [p]
    lines = _lines(x.shape, int(eqn.params["axis"]) % len(x.shape))
    size = math.prod(x.shape)
    line_of = np.empty(size, np.intp)
    line_of[lines.ravel()] = np.repeat(np.arange(lines.shape[0]), lines.shape[1])
    per_line = _select(line_of, np.arange(size), (lines.shape[0], size)) @ p
    return [_take(per_line, line_of)]


def _contract(p: Any, op_shape: tuple[int, ...], op_letters: str, out_shape: tuple[int, ...],
              out_letters: str) -> Any:
    """One operand's share of an einsum-like product: an output element depends on an operand
    element when they agree on every letter both carry (a size-1 operand axis broadcasts) and
    the operand's repeated letters agree among themselves (its diagonal)."""
    size = math.prod(op_shape)
    index = np.indices(op_shape, dtype=np.intp).reshape(len(op_shape), size)
    valid = np.ones(size, bool)
    first: dict[str, int] = {}
    for k, c in enumerate(op_letters):
        if c in first:
            valid &= index[k] == index[first[c]]
        else:
            first[c] = k
    shared = [c for c in dict.fromkeys(out_letters)
              if c in first and op_shape[first[c]] == out_shape[out_letters.index(c)]]
    dims = tuple(out_shape[out_letters.index(c)] for c in shared)
    key = (np.ravel_multi_index(tuple(index[first[c]] for c in shared), dims)
           if shared else np.zeros(size, np.intp))
    reduced = _select(key[valid], np.arange(size)[valid], (math.prod(dims), size)) @ p
    if not shared:
        return _take(reduced, np.zeros(math.prod(out_shape), np.intp))
    out_index = np.indices(out_shape, dtype=np.intp).reshape(len(out_shape), -1)
    return _take(reduced, np.ravel_multi_index(
        tuple(out_index[out_letters.index(c)] for c in shared), dims))


def _einsum(eqn: Any, ins: list[Any], n: int) -> list[Any]:
    spec_ = eqn.params["spec"]
    if "." in spec_:
        return _dense(eqn, ins, n)
    subs, out_letters = spec_.split("->")
    out_shape = eqn.outputs[0].shape
    acc = None
    for atom, p, letters in zip(eqn.inputs, ins, subs.split(",")):
        if p is not None:
            acc = _union(acc, _contract(p, atom.shape, letters, out_shape, out_letters))
    return [acc]


_LETTERS = "abcdefghijklmnopqrstuvw"


def _matmul(eqn: Any, ins: list[Any], n: int) -> list[Any]:
    (a, b), out_shape = eqn.inputs, eqn.outputs[0].shape
    sa, sb = a.shape, b.shape
    if not sa or not sb:
        return _dense(eqn, ins, n)
    a2 = sa if len(sa) > 1 else (1,) + sa
    b2 = sb if len(sb) > 1 else sb + (1,)
    ca, cb = _const_value(a), _const_value(b)
    sp = _sp()
    if len(a2) == 2 and len(b2) == 2 and (ca is not None or cb is not None):
        # one constant 2-D operand: its zeros are the same at every point, so they decide
        if ca is not None:  # out[i, j] from b[l, j] where a[i, l] != 0
            m = sp.kron(sp.csr_matrix(ca.reshape(a2) != 0), sp.identity(b2[1], bool))
            return [(m.tocsr() @ ins[1]) if ins[1] is not None else None]
        m = sp.kron(sp.identity(a2[0], bool), sp.csr_matrix(cb.reshape(b2) != 0).T)
        return [(m.tocsr() @ ins[0]) if ins[0] is not None else None]
    nb = max(len(a2), len(b2)) - 2
    batch = _LETTERS[:nb]
    la = batch[nb - (len(a2) - 2):] + "xy"
    lb = batch[nb - (len(b2) - 2):] + "yz"
    lo = batch + ("x" if len(sa) > 1 else "") + ("z" if len(sb) > 1 else "")
    acc = None
    for p, shape, letters in ((ins[0], a2, la), (ins[1], b2, lb)):
        if p is not None:
            acc = _union(acc, _contract(p, shape, letters, out_shape, lo))
    return [acc]


def _cond(eqn: Any, ins: list[Any], n: int) -> list[Any]:
    """Either branch may run: the union of what each makes of the operands."""
    acc: list[Any] = [None] * len(eqn.outputs)
    for branch in eqn.params["branches"]:
        got = _propagate(branch, ins[1:], n)
        acc = [_union(u, v) for u, v in zip(acc, got)]
    return acc


#: a loop with at most this many trips is followed trip by trip; a longer one (or a
#: while_loop) to the fixed point of the union over trips
UNROLL = 64
#: trips of the fixed-point iteration before the carry is taken as dense
MAX_FIXED_POINT = 64


def _same(a: list[Any], b: list[Any]) -> bool:
    for u, v in zip(a, b):
        if (u is None) != (v is None):
            return False
        if u is not None and (u.nnz != v.nnz or (u != v).nnz):
            return False
    return True


def _fixed_point(step: Callable[[list[Any]], list[Any]], carry: list[Any], shapes: list[Any],
                 n: int) -> list[Any]:
    """The union of the carry's patterns over any number of trips of `step`."""
    for _ in range(MAX_FIXED_POINT):
        grown = [_union(c, s) for c, s in zip(carry, step(carry))]
        if _same(grown, carry):
            return carry
        carry = grown
    every = [p for p in carry if p is not None]
    if not every:
        return carry
    cols = np.unique(np.concatenate([p.indices for p in every]))
    return [_full(math.prod(s), cols, n) for s in shapes]


def _full(rows: int, cols: np.ndarray, n: int) -> Any:
    if len(cols) == 0:
        return None
    indptr = np.arange(rows + 1, dtype=np.intp) * len(cols)
    return _csr(np.ones(rows * len(cols), bool), np.tile(cols, rows), indptr, (rows, n))


def _slice_rows(p: Any, shape: tuple[int, ...], k: int) -> Any:
    """The rows of element k along axis 0 of a value of `shape` (a scan's k-th x)."""
    if p is None:
        return None
    per = math.prod(shape[1:])
    return p[k * per:(k + 1) * per]


def _scan(eqn: Any, ins: list[Any], n: int) -> list[Any]:
    body: Graph = eqn.params["body"]
    nc, nk, length = eqn.params["n_consts"], eqn.params["n_carry"], eqn.params["length"]
    consts, carry, xs = ins[:nc], list(ins[nc:nc + nk]), ins[nc + nk:]
    x_shapes = [a.shape for a in eqn.inputs[nc + nk:]]
    y_shapes = [v.shape for v in eqn.outputs[nk:]]
    sp = _sp()
    if length <= UNROLL:
        order = range(length - 1, -1, -1) if eqn.params["reverse"] else range(length)
        ys: list[list[Any]] = [[None] * length for _ in y_shapes]
        for k in order:
            got = _propagate(body, consts + carry + [_slice_rows(p, s, k)
                                                     for p, s in zip(xs, x_shapes)], n)
            carry = got[:nk]
            for j, y in enumerate(got[nk:]):
                ys[j][k] = y
        stacked = []
        for j, s in enumerate(y_shapes):
            per = math.prod(s[1:])
            rows = [_empty(per, n) if y is None else y for y in ys[j]]
            stacked.append(sp.vstack(rows, format="csr") if any(y is not None for y in ys[j])
                           else None)
        return carry + stacked
    # every trip sees the union of all x's slices; the carry grows to its fixed point
    x_any = []
    for p, s in zip(xs, x_shapes):
        if p is None:
            x_any.append(None)
            continue
        per = math.prod(s[1:])
        acc = None
        for k in range(length):
            acc = _union(acc, p[k * per:(k + 1) * per])
        x_any.append(acc)
    carry_shapes = [v.shape for v in eqn.outputs[:nk]]
    carry = _fixed_point(lambda c: _propagate(body, consts + c + x_any, n)[:nk], carry,
                         carry_shapes, n)
    ys_any = _propagate(body, consts + carry + x_any, n)[nk:]
    out = [None if y is None else sp.vstack([y] * length, format="csr") for y in ys_any]
    return carry + out


def _while(eqn: Any, ins: list[Any], n: int) -> list[Any]:
    body: Graph = eqn.params["body"]
    n_cond, n_body = eqn.params["n_cond"], eqn.params["n_body"]
    consts, carry = ins[n_cond:n_cond + n_body], ins[n_cond + n_body:]
    shapes = [v.shape for v in eqn.outputs]
    return _fixed_point(lambda c: _propagate(body, consts + c, n), list(carry), shapes, n)


def _sub_trace(eqn: Any, ins: list[Any], fn: Callable[..., Any], tangents: bool
               ) -> tuple[Graph, list[Any]] | None:
    """`fn` (a function of the equation's operands, or with `tangents` of operands and their
    tangents) traced into a graph, with its inputs' patterns; None where it cannot be: a rule
    that reads values, a non-float operand."""
    args: list[Any] = []
    patterns: list[Any] = []
    for a, p in zip(eqn.inputs, ins):
        if isinstance(a, Var):
            args.append(spec(a.shape, a.dtype))
            patterns.append(None if tangents else p)
        else:
            args.append(a.value)
            if tree.is_float_leaf(a.value):
                patterns.append(None)
    if tangents:
        if any(np.dtype(a.dtype).kind not in "fc" for a in eqn.inputs):
            return None
        k = len(args)
        args += [spec(a.shape, a.dtype) for a in eqn.inputs]
        patterns += list(ins)

        def traced(*pt: Any) -> Any:
            return list(fn(list(pt[:k]), list(pt[k:]))[1])
    else:
        def traced(*xs: Any) -> Any:
            return list(fn(*xs))
    try:
        g = trace(traced, *args)
    except Exception:  # noqa: BLE001  (any rule that cannot be traced abstractly: dense)
        return None
    if len(g.outputs) != len(eqn.outputs) or len(g.inputs) != len(patterns):
        return None
    return g, patterns


def _checkpointed(eqn: Any, ins: list[Any], n: int) -> list[Any]:
    """The function itself: rematerialising it changes nothing of its derivative."""
    got = _sub_trace(eqn, ins, eqn.params["fun"], tangents=False)
    return _dense(eqn, ins, n) if got is None else _propagate(got[0], got[1], n)


def _custom_jvp(eqn: Any, ins: list[Any], n: int) -> list[Any]:
    """The user's JVP rule decides: how its output tangents depend on its input tangents."""
    got = _sub_trace(eqn, ins, eqn.params["jvp"], tangents=True)
    return _dense(eqn, ins, n) if got is None else _propagate(got[0], got[1], n)


def _nothing(eqn: Any, ins: list[Any], n: int) -> list[Any]:
    return [None] * len(eqn.outputs)


_RULES: dict[str, Callable[[Any, list[Any], int], list[Any]]] = {
    "getitem": _moved, "reshape": _moved, "transpose": _moved, "broadcast_to": _moved,
    "concatenate": _concatenate, "gather": _gather, "scatter_add": _scatter_add,
    "gather_add": _gather_add, "sum": _reduce, "max": _reduce, "prod": _reduce,
    "cumsum": _cumulative, "cumprod": _cumulative, "sort": _along_axis,
    "partition": _along_axis, "matmul": _matmul, "einsum": _einsum, "cond": _cond,
    "scan": _scan, "while_loop": _while, "convert": _elementwise, "select": _elementwise,
    "strong_mask": _elementwise, "stop_gradient": _nothing, "checkpoint": _checkpointed,
    "custom_jvp_call": _custom_jvp,
}

#: the abstract evaluations of the broadcasting elementwise primitives (their qualified names)
_ELEMENTWISE_ABSTRACT = ("_arity.<locals>.checked", "_abstract_real", "_abstract_elementwise",
                         "_abstract_predicate")


def _is_elementwise(prim: Any) -> bool:
    ae = prim.abstract_eval
    # (ops/special.py holds SciPy's special functions: ufuncs, elementwise with broadcasting)
    return (getattr(ae, "__qualname__", "") in _ELEMENTWISE_ABSTRACT
            or getattr(ae, "__module__", "") == "chainrule.ops.special")


def _rule(eqn: Any, ins: list[Any], n: int) -> list[Any]:
    prim = eqn.prim
    if prim.nondiff:
        return [None] * len(eqn.outputs)
    rule = _RULES.get(prim.name)
    if rule is None:
        rule = _elementwise if _is_elementwise(prim) and not prim.multiple_results else _dense
    if rule is _elementwise:
        out_shape = eqn.outputs[0].shape
        try:
            broadcast = np.broadcast_shapes(*(a.shape for a in eqn.inputs))
        except ValueError:
            broadcast = None
        if broadcast != out_shape:  # (not the broadcasting kind after all)
            rule = _dense
    return rule(eqn, ins, n)


def _propagate(g: Graph, in_patterns: list[Any], n: int) -> list[Any]:
    """The output patterns of graph `g`, given its inputs' patterns."""
    env: dict[int, Any] = {id(v): p for v, p in zip(g.inputs, in_patterns)}
    for eqn in g.eqns:
        ins = [env.get(id(a)) if isinstance(a, Var) else None for a in eqn.inputs]
        if all(p is None for p in ins):
            outs: list[Any] = [None] * len(eqn.outputs)
        else:
            outs = _rule(eqn, ins, n)
        for v, p in zip(eqn.outputs, outs):
            env[id(v)] = p
    return [env.get(id(o)) if isinstance(o, Var) else None for o in g.outputs]


def _traced_pattern(f: Callable[..., Any], x: np.ndarray, who: str) -> Any:
    """The pattern of `f`'s (one) output with respect to `x`'s elements, shape (m, n)."""
    sp = _sp()
    try:
        g = trace(f, spec(x.shape, x.dtype))
    except ConcretizationError as exc:
        if hasattr(exc, "add_note"):
            exc.add_note(f"{who} traces f with the graph engine (shapes, no values); write "
                         f"branches on values with cr.cond / cnp.where, or pass sparsity= "
                         f"to sparse_jacobian / sparse_hessian")
        raise
    if len(g.outputs) != 1:
        raise TypeError(f"{who}: f must return one array, got {len(g.outputs)} outputs; "
                        f"concatenate them (cnp.concatenate of the raveled parts)")
    (out,) = g.outputs
    m, n = math.prod(out.shape), x.size
    identity = sp.identity(n, dtype=bool, format="csr")
    (p,) = _propagate(g, [identity], n)
    if p is None:
        return sp.csr_matrix((m, n), dtype=bool)
    p = p.tocsr()
    p.sum_duplicates()
    p.eliminate_zeros()
    p.sort_indices()
    return p


class _Detected:
    """A pattern found by tracing, and its colouring once one is made: an entry of
    `_DETECTED`, never modified once filled and never handed out (callers get copies)."""

    __slots__ = ("pattern", "colour")

    def __init__(self, pattern: Any) -> None:
        self.pattern = pattern
        self.colour: np.ndarray | None = None


#: detected patterns per function, kind ("jacobian", "hessian") and input shape and dtype.
#: A pattern depends on nothing else: tracing sees shapes only, and the values the function
#: reads from outside its arguments (a captured matrix's zeros count) are checked before an
#: entry is used, the entries dropped when one changed (`_core.cache.Reads`, as the compiled
#: and symbolic engines' caches)
_DETECTED = PerFunction(16)


def _detected(f: Callable[..., Any], x: np.ndarray, who: str, kind: str) -> _Detected:
    _sp()  # (SciPy is needed all the same: its absence is said at once, kept pattern or not)

    def build() -> _Detected:
        if kind == "jacobian":
            return _Detected(_traced_pattern(f, x, who))
        return _Detected(_symmetric(_traced_pattern(_overload.grad(f, transform=who), x, who)))

    return _DETECTED.get_or_build(f, (kind, leaf_key(x)), build)


def jacobian_sparsity(f: Callable[[Any], Any], x: Any) -> Any:
    """The sparsity pattern of the Jacobian of `f` at any point shaped like `x`.

    `f` is traced by the graph engine (shapes only, no values) and each element's dependence on
    the input's elements is propagated through every primitive. The pattern holds every
    nonzero the Jacobian can have at any point (it never misses one); where a primitive has no
    finer rule, its outputs are taken to depend on all that its operands depend on. A
    constant's zeros count (a matrix captured by `f` that has zeros keeps them everywhere).
    The pattern is kept per function and input shape and dtype, and found again when a value
    `f` reads from outside its arguments changed (a global, a closure value, an array's
    contents), as the compiled engine's cache is: `sparse_jacobian(f, x)` at a new point reuses
    it.

    Parameters
    ----------
    f : callable
        A function of one array returning one array, traceable by the graph engine: branches on
        values through `cr.cond` / `cnp.where`, not Python's `if`.
    x : array_like
        A point (only its shape and dtype are used). Any shape: the Jacobian's columns are its
        elements in C order, its rows those of the output (`jacfwd`'s Jacobian reshaped to
        ``(out.size, x.size)``).

    Returns
    -------
    scipy.sparse.csr_matrix
        Boolean, of shape ``(m, n)`` with ``m = f(x).size`` and ``n = x.size``.

    Raises
    ------
    ImportError
        If SciPy is not installed (``pip install chainrule[scipy]``).
    TypeError
        If `x` is not a real floating-point array, `f` returns several arrays, or Python
        control flow meets a traced value (a `ConcretizationError`).

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> def f(x):  # a second difference: tridiagonal
    ...     return x[:-2] - 2.0 * x[1:-1] + x[2:] + x[1:-1] ** 3
    >>> print(cr.jacobian_sparsity(f, np.zeros(5)).toarray().astype(int))
    [[1 1 1 0 0]
     [0 1 1 1 0]
     [0 0 1 1 1]]
    """
    who = "jacobian_sparsity"
    return _detected(f, _point(x, who), who, "jacobian").pattern.copy()


def hessian_sparsity(f: Callable[[Any], Any], x: Any) -> Any:
    """The sparsity pattern of the Hessian of a scalar `f`, symmetric.

    The pattern of the Jacobian of ``cr.grad(f)``, found by tracing the gradient (its reverse
    pass included) and propagating as `jacobian_sparsity` does, then made symmetric.

    Parameters
    ----------
    f : callable
        A scalar-valued function of one array, traceable by the graph engine.
    x : array_like
        A point (only its shape and dtype are used).

    Returns
    -------
    scipy.sparse.csr_matrix
        Boolean, of shape ``(n, n)`` with ``n = x.size``.

    Raises
    ------
    TypeError
        If `f`'s output is not a real scalar, or as `jacobian_sparsity`.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule.numpy as cnp
    >>> from chainrule.sparse import hessian_sparsity
    >>> def f(x):
    ...     return cnp.sum((x[1:] - x[:-1] ** 2) ** 2)
    >>> print(hessian_sparsity(f, np.zeros(4)).toarray().astype(int))
    [[1 1 0 0]
     [1 1 1 0]
     [0 1 1 1]
     [0 0 1 1]]
    """
    who = "hessian_sparsity"
    return _detected(f, _point(x, who), who, "hessian").pattern.copy()


def _symmetric(p: Any) -> Any:
    s = (p + p.T).tocsr()
    s.sum_duplicates()
    s.sort_indices()
    return s


# ---------------------------------------------------------------------------------------------
# colouring

_COLORINGS = BoundedCache(16)


def _key(kind: str, p: Any) -> tuple[Any, ...]:
    import hashlib  # (here: loading OpenSSL would add 10 ms to `import chainrule`)

    digest = hashlib.blake2b(p.indptr.tobytes(), digest_size=16)
    digest.update(p.indices.tobytes())
    return (kind, p.shape, digest.hexdigest())


def _off_diagonal(a: Any) -> tuple[np.ndarray, np.ndarray]:
    """(indptr, indices) of a square CSR matrix with sorted indices, its diagonal left out."""
    n = a.shape[0]
    rows = np.repeat(np.arange(n, dtype=a.indices.dtype), np.diff(a.indptr))
    keep = a.indices != rows
    indptr = np.zeros(n + 1, np.intp)
    np.cumsum(np.bincount(rows[keep], minlength=n), out=indptr[1:])
    return indptr, a.indices[keep]


def _adjacency(p: Any) -> tuple[list[int], list[int], np.ndarray]:
    """(indptr, indices, degree) of a symmetric boolean matrix without its diagonal."""
    a = p.tocsr()
    if not a.has_sorted_indices:
        a = a.copy()
        a.sort_indices()
    indptr, indices = _off_diagonal(a)
    return indptr.tolist(), indices.tolist(), np.diff(indptr)


def _intersections(p: Any) -> Any:
    """The column intersection graph of a pattern: (n, n) CSR with an entry where two columns
    share a row (the diagonal included), indices sorted."""
    a = (p.T @ p).tocsr()
    a.sort_indices()
    return a


def _earlier(a: Any) -> tuple[list[int], list[int]]:
    """(indptr, indices) of each vertex's neighbours of lower number, ascending (so the last
    one is the nearest), from an intersection graph with sorted indices."""
    n = a.shape[0]
    rows = np.repeat(np.arange(n, dtype=a.indices.dtype), np.diff(a.indptr))
    keep = a.indices < rows
    indptr = np.zeros(n + 1, np.intp)
    np.cumsum(np.bincount(rows[keep], minlength=n), out=indptr[1:])
    return indptr.tolist(), a.indices[keep].tolist()


def _bit_numbers(bits: list[int]) -> np.ndarray:
    """The position of the one set bit of each int (a colour kept as a bit)."""
    if not bits:
        return np.zeros(0, np.intp)
    if max(bits).bit_length() <= 1000:  # (exact as floats: frexp reads the exponent)
        return (np.frexp(np.array(bits, dtype=np.float64))[1] - 1).astype(np.intp)
    return np.array([b.bit_length() - 1 for b in bits], dtype=np.intp)


def _distinct_per_row(p: Any, colour: np.ndarray, palette: int) -> bool:
    """Whether no two columns of a row of `p` have one colour (colours below `palette`)."""
    ptr = p.indptr
    starts = ptr[:-1][np.diff(ptr) > 0]
    if len(starts) == 0:
        return True
    c = colour[p.indices]
    if palette <= 56:
        # a row's colours are distinct iff the sum of their bits is their OR (a row has at
        # most `palette` entries here: the sum stays below 2**62)
        bits = np.left_shift(np.int64(1), c.astype(np.int64))
        return bool(np.array_equal(np.add.reduceat(bits, starts),
                                   np.bitwise_or.reduceat(bits, starts)))
    rows = np.repeat(np.arange(p.shape[0], dtype=np.int64), np.diff(ptr))
    key = np.sort(rows * palette + c)
    return not bool(np.any(key[1:] == key[:-1]))


def _by_chains(p: Any, palette: int) -> np.ndarray | None:
    """Each column numbered by the length of its chain of nearest earlier neighbours (the
    nearest column before it that shares a row with it, that one's, and so on), the number
    taken mod `palette`; None where that gives two columns of a row one colour.

    On a structured grid numbered row by row, the nearest earlier neighbour is the point
    before on the grid row, or for a row's first point one on the row before, so the numbers
    are a linear function of the grid coordinates (2i + j for a 5-point stencil, 3i + j for a
    9-point one, 3i + 2j + k for the 3-D 7-point one) and, mod the longest row's length, the
    lattice colouring that meets the lower bound. Vectorised: the chains' lengths by pointer
    jumping, in as many rounds as the longest chain has binary digits."""
    ind, ptr = p.indices, p.indptr
    n = p.shape[1]
    before = np.empty(len(ind), np.intp)  # (each entry's column before it on its row, or -1)
    before[1:] = ind[:-1]
    before[ptr[:-1][np.diff(ptr) > 0]] = -1
    parent = np.full(n, -1, np.intp)
    np.maximum.at(parent, ind, before)
    root = parent < 0
    up = np.where(root, np.arange(n), parent)
    depth = (~root).astype(np.intp)  # (the chain's length from each column to `up`'s)
    while True:
        further = up[up]
        if np.array_equal(further, up):
            break
        depth = depth + depth[up]
        up = further
    colour = depth % palette
    return colour if _distinct_per_row(p, colour, palette) else None


def _rotating(indptr: list[int], earlier: list[int], palette: int) -> np.ndarray:
    """Greedy colouring in the natural order that continues the colours of its neighbours:
    each vertex takes, of the colours 0..palette-1 that no earlier neighbour has, the first
    one after the colour of its nearest earlier neighbour (cyclically); where all are taken,
    the smallest colour that no earlier neighbour has.

    Smallest-colour greedy settles a row of a grid numbered row by row into a period of three
    (0, 1, 2, 0, ...), which the rows after it cannot extend in five colours: a 5-point
    stencil takes 7. Stepping on from the nearest neighbour's colour makes the colours advance
    with the numbering instead, and the rows of a structured grid then take a colouring
    c = (i + a j + b k) mod palette where one exists (5 colours for the 5-point stencils
    tried, 7 for the 3-D 7-point one, 9 for the 9-point one, 5 for a periodic 5-point stencil
    whose side is a multiple of 5, where the chains of `_by_chains` wrap around). One pass,
    O(edges), with the colours of the neighbours as bits of an int."""
    n = len(indptr) - 1
    bits = [0] * n  # (each vertex's colour c as the int 1 << c)
    full = (1 << palette) - 1
    start = 0
    for v in range(n):
        end = indptr[v + 1]
        used = 0
        for w in earlier[start:end]:
            used |= bits[w]
        free = ~used & full
        if free:
            if end > start:  # (the free colours after the nearest earlier neighbour's)
                after = free & -(bits[earlier[end - 1]] << 1)
                if after:
                    free = after
            bits[v] = free & -free
        else:
            bits[v] = ~used & (used + 1)
        start = end
    return _bit_numbers(bits)


def _greedy(indptr: list[int], indices: list[int], order: np.ndarray) -> np.ndarray:
    colour = [-1] * (len(indptr) - 1)
    for v in order.tolist():
        used = {colour[w] for w in indices[indptr[v]:indptr[v + 1]]}
        c = 0
        while c in used:
            c += 1
        colour[v] = c
    return np.asarray(colour, dtype=np.intp)


def _saturation(indptr: list[int], indices: list[int], degree: np.ndarray) -> np.ndarray:
    """Greedy colouring in DSATUR order (Brelaz): next the vertex whose neighbours already
    show the most colours, the largest degree first among ties."""
    n = len(indptr) - 1
    colour = [-1] * n
    seen = [0] * n  # (a bit per colour among the vertex's coloured neighbours)
    deg = degree.tolist()
    span = max(deg, default=0) + 1
    # one int per heap entry: more colours seen first, then larger degree, then lower index
    heap = [-(d * n) + v for v, d in enumerate(deg)]
    heapq.heapify(heap)
    pop, push = heapq.heappop, heapq.heappush
    while heap:
        key = pop(heap)
        v = key % n
        m = seen[v]
        if colour[v] >= 0 or -((key - v) // n) != m.bit_count() * span + deg[v]:
            continue  # (a stale entry: v was coloured, or has seen more colours since)
        c = (~m & (m + 1)).bit_length() - 1  # the lowest colour not seen
        colour[v] = c
        bit = 1 << c
        for w in indices[indptr[v]:indptr[v + 1]]:
            mw = seen[w]
            if colour[w] < 0 and not mw & bit:
                seen[w] = mw = mw | bit
                push(heap, -((mw.bit_count() * span + deg[w]) * n) + w)
    return np.asarray(colour, dtype=np.intp)


def column_coloring(sparsity: Any) -> np.ndarray:
    """A colouring of a Jacobian pattern's columns: columns of one colour share no row.

    A distance-1 colouring of the column intersection graph. The number of colours is the
    number of JVPs `sparse_jacobian` makes, and the longest row's number of entries is a lower
    bound on it. These colourings are tried in turn until one meets the bound, and the one
    with the fewest colours is kept:

    1. each column numbered by the length of its chain of nearest earlier neighbours (the
       nearest column before it that shares a row with it, that one's, and so on), mod the
       bound: vectorised, and on a structured grid numbered row by row (at least three
       points a side) the lattice colouring that meets the bound (5 colours for a 5-point
       stencil, 9 for a 9-point one, 7 for the 3-D 7-point one, 3 for a tridiagonal matrix);
    2. greedy in the columns' order, each column taking the first colour free after its
       nearest earlier neighbour's (cyclically, among as many colours as the bound, then one
       more);
    3. greedy, largest degree first;
    4. greedy in saturation-degree order (DSATUR).

    Parameters
    ----------
    sparsity : scipy.sparse matrix or 2-D array
        The pattern, shape ``(m, n)``.

    Returns
    -------
    numpy.ndarray
        The colour (0, 1, ...) of each of the ``n`` columns.

    Examples
    --------
    >>> import numpy as np
    >>> from chainrule.sparse import column_coloring
    >>> tridiagonal = np.eye(6) + np.eye(6, k=1) + np.eye(6, k=-1)
    >>> print(column_coloring(tridiagonal))
    [0 1 2 0 1 2]
    """
    shape = _shape_of(sparsity)
    if len(shape) != 2:
        raise ValueError(f"column_coloring: the pattern must be 2-D, got shape {shape}")
    return _column_colouring(_pattern_argument(sparsity, shape, "column_coloring",
                                               "the pattern"))


def _shape_of(sparsity: Any) -> tuple[int, ...]:
    """The shape of a user's `sparsity` (a scipy.sparse matrix or anything array-like)."""
    return sparsity.shape if _sp().issparse(sparsity) else tuple(np.shape(sparsity))


def _cached_colouring(kind: str, p: Any, colour: Callable[[Any], np.ndarray]) -> np.ndarray:
    """`colour(p)`, kept read-only in `_COLORINGS` under the pattern's hash."""
    key = _key(kind, p)
    got = _COLORINGS.get(key)
    if got is None:
        got = colour(p)
        got.flags.writeable = False
        _COLORINGS[key] = got
    return got


def _column_colouring(p: Any) -> np.ndarray:
    return _cached_colouring("column", p, _colour_columns)


def _colour_columns(p: Any) -> np.ndarray:
    """The colouring of `column_coloring`, for a canonical boolean CSR pattern."""
    n = p.shape[1]
    bound = int(np.diff(p.indptr).max(initial=0))
    if bound <= 1:  # (no two columns share a row)
        return np.zeros(n, np.intp)
    got = _by_chains(p, bound)
    if got is not None:
        return got
    a = _intersections(p)
    indptr, earlier = _earlier(a)
    best = _rotating(indptr, earlier, bound)
    if int(best.max()) + 1 == bound:
        return best
    # the bound missed: the other colourings too (each O(edges) in Python, DSATUR the
    # costliest), while the best so far is above the bound
    full: list[Any] = []

    def adjacency() -> tuple[list[int], list[int], np.ndarray]:
        if not full:
            full.append(_adjacency(a))
        return full[0]

    def largest_first() -> np.ndarray:
        ptr, idx, degree = adjacency()
        return _greedy(ptr, idx, np.argsort(-degree, kind="stable"))

    def one_more() -> np.ndarray:
        return _rotating(indptr, earlier, bound + 1)

    def dsatur() -> np.ndarray:
        return _saturation(*adjacency())

    for attempt in (one_more, largest_first, dsatur):
        other = attempt()
        if other.max() < best.max():
            best = other
        if int(best.max()) + 1 == bound:
            break
    return best


def star_coloring(sparsity: Any) -> np.ndarray:
    """A star colouring of a symmetric pattern's adjacency graph.

    A distance-1 colouring in which every path on four vertices uses at least three colours:
    enough to recover a symmetric matrix from one product per colour (`sparse_hessian`). Greedy,
    largest degree first (Gebremedhin, Manne and Pothen 2005, Algorithm 4.1); the pattern is
    made symmetric first.

    Parameters
    ----------
    sparsity : scipy.sparse matrix or 2-D array
        The pattern, shape ``(n, n)``.

    Returns
    -------
    numpy.ndarray
        The colour (0, 1, ...) of each of the ``n`` vertices.

    Examples
    --------
    >>> import numpy as np
    >>> from chainrule.sparse import star_coloring
    >>> tridiagonal = np.eye(6) + np.eye(6, k=1) + np.eye(6, k=-1)
    >>> print(star_coloring(tridiagonal))
    [2 0 1 0 2 0]
    """
    shape = _shape_of(sparsity)
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"star_coloring: the pattern must be square, got shape {shape}")
    return _star_colouring(_symmetric(_pattern_argument(sparsity, shape, "star_coloring",
                                                        "the pattern")))


def _star_colouring(p: Any) -> np.ndarray:
    """`star_coloring` of a canonical symmetric boolean CSR pattern."""
    return _cached_colouring("star", p, lambda q: _star(*_adjacency(q)))


def _star(indptr: list[int], indices: list[int], degree: np.ndarray) -> np.ndarray:
    n = len(indptr) - 1
    colour = [-1] * n
    # seen[x][c]: how many coloured neighbours of x have colour c
    seen: list[dict[int, int]] = [{} for _ in range(n)]
    for v in np.argsort(-degree, kind="stable").tolist():
        forbidden = set()
        for w in indices[indptr[v]:indptr[v + 1]]:
            cw = colour[w]
            if cw >= 0:
                forbidden.add(cw)
            for x in indices[indptr[w]:indptr[w + 1]]:
                cx = colour[x]
                if cx < 0 or x == v:
                    continue
                if cw < 0:
                    # v and x would meet at distance two through a vertex not coloured yet
                    forbidden.add(cx)
                elif seen[x].get(cw, 0) >= 2:
                    # x has another neighbour of w's colour: v - w - x - y would be two-coloured
                    forbidden.add(cx)
        c = 0
        while c in forbidden:
            c += 1
        colour[v] = c
        for w in indices[indptr[v]:indptr[v + 1]]:
            seen[w][c] = seen[w].get(c, 0) + 1
    return np.asarray(colour, dtype=np.intp)


# ---------------------------------------------------------------------------------------------
# evaluation

_PUSHES = BoundedCache(32)


def _seeds(colour: np.ndarray, x: np.ndarray) -> np.ndarray:
    k = int(colour.max()) + 1 if len(colour) else 0
    seeds = np.zeros((k, x.size), x.dtype)
    seeds[colour, np.arange(x.size)] = 1
    return seeds.reshape((k,) + x.shape)


def _one_array(y: Any, who: str) -> np.ndarray:
    if not isinstance(y, (np.ndarray, np.generic, float, int)):
        raise TypeError(f"{who}: f must return one array, got {type(y).__name__}; "
                        f"concatenate the parts (cnp.concatenate of the raveled parts)")
    return np.asarray(y)


def _compressed_jvps(f: Callable[..., Any], x: np.ndarray, seeds: np.ndarray,
                     method: str) -> tuple[np.ndarray, np.ndarray]:
    """(f(x), the JVPs of `f` along each seed stacked on axis 0); `seeds` is not empty."""
    who = "sparse_jacobian"
    if method == "overload":  # one vectorised pass: the seeds as a batch of tangents
        def push(s: Any) -> Any:
            return _overload.jvp(f, (x,), (s,))
        outs, tangents = transforms.vmap(push)(seeds)
    elif method == "graph":  # the same pass, traced once per function and shapes, compiled
        fn = _PUSHES.get(("jvp", f))
        if fn is None:
            def compressed(x_: Any, seeds_: Any) -> Any:
                return _overload.vmap(lambda s: _overload.jvp(f, (x_,), (s,)))(seeds_)
            fn = _PUSHES[("jvp", f)] = jit(compressed)
        outs, tangents = fn(x, seeds)
    else:  # one JVP per colour
        got = [transforms.jvp(f, (x,), (s,), method=method) for s in seeds]
        return (_one_array(got[0][0], who),
                np.stack([_one_array(t, who) for _, t in got]))
    return _one_array(outs, who)[0], _one_array(tangents, who)


def sparse_jacobian(f: Callable[[Any], Any], x: Any, sparsity: Any = None,
                    method: str = "overload") -> Any:
    """The Jacobian of `f` at `x` as a sparse matrix, from one JVP per colour.

    The columns of the pattern are coloured so that columns of one colour share no row; the
    JVP along the sum of a colour's basis vectors then holds each of those columns' nonzeros
    in its own row, and the matrix is read back from these products. A banded or stencil
    Jacobian needs a handful of JVPs whatever its size (three for a tridiagonal one).

    Parameters
    ----------
    f : callable
        A function of one array returning one array.
    x : array_like
        The point: a real floating-point array (any shape; columns are its elements in C
        order, rows those of ``f(x)``).
    sparsity : scipy.sparse matrix or 2-D boolean array, optional
        The pattern, shape ``(f(x).size, x.size)``, e.g. from `jacobian_sparsity` once for
        many points. It must hold every nonzero: entries outside it are taken to be zero, and
        a wrong pattern gives a wrong matrix. Default: detected by `jacobian_sparsity`.
    method : {"overload", "graph", "source", "symbolic", "numeric"}, optional
        The engine of the JVPs (default "overload": all colours in one vectorised pass;
        "graph" compiles that pass; the others make one JVP call per colour).

    Returns
    -------
    scipy.sparse.csr_matrix
        Shape ``(m, n)``, with the pattern's entries stored (some may be 0.0 at this point).

    Raises
    ------
    ImportError
        If SciPy is not installed (``pip install chainrule[scipy]``).
    TypeError
        If `x` is not a real floating-point array or `f` returns several arrays.
    ValueError
        If `sparsity` has the wrong shape, or `method` is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> def f(x):
    ...     return x[:-2] - 2.0 * x[1:-1] + x[2:] + x[1:-1] ** 3
    >>> J = cr.sparse_jacobian(f, np.arange(5.0))
    >>> print(J.toarray())
    [[ 1.  1.  1.  0.  0.]
     [ 0.  1. 10.  1.  0.]
     [ 0.  0.  1. 25.  1.]]
    >>> print(np.allclose(J.toarray(), cr.jacfwd(f)(np.arange(5.0))))
    True
    """
    who = "sparse_jacobian"
    x = _point(x, who)
    transforms.engine(method, "jvp")  # (an unknown method is refused before any work)
    n = x.size
    entry = None
    if sparsity is None:
        entry = _detected(f, x, who, "jacobian")
        p = entry.pattern
    else:
        shape = _shape_of(sparsity)
        if len(shape) != 2 or shape[1] != n:
            raise ValueError(f"{who}: sparsity has shape {tuple(shape)}, but x has {n} "
                             f"element(s): it must have shape (f(x).size, {n})")
        p = _pattern_argument(sparsity, (shape[0], n), who, "the Jacobian")
    if p.nnz == 0:
        return _sp().csr_matrix(p.shape, dtype=x.dtype)
    if entry is None:
        colour = _column_colouring(p)
    else:  # (kept with the pattern: a later call skips hashing the pattern too)
        if entry.colour is None:
            entry.colour = _column_colouring(p)
        colour = entry.colour
    with checks.quiet():  # (no floating-point warnings, as from every transform)
        out, tangents = _compressed_jvps(f, x, _seeds(colour, x), method)
    if out.size != p.shape[0]:
        raise ValueError(f"{who}: sparsity has shape {p.shape}, but f(x) has {out.size} "
                         f"element(s): it must have shape ({out.size}, {n})")
    compressed = np.asarray(tangents).reshape(len(tangents), out.size)
    rows = np.repeat(np.arange(p.shape[0]), np.diff(p.indptr))
    values = compressed[colour[p.indices], rows]
    return _sp().csr_matrix((values, p.indices.copy(), p.indptr.copy()), shape=p.shape)


def _compressed_hvps(f: Callable[..., Any], x: np.ndarray, seeds: np.ndarray,
                     method: str) -> np.ndarray:
    if method == "overload":
        return np.asarray(transforms.vmap(lambda s: _overload.hvp(f, (x,), (s,)))(seeds))
    if method == "graph":
        fn = _PUSHES.get(("hvp", f))
        if fn is None:
            def compressed(x_: Any, seeds_: Any) -> Any:
                return _overload.vmap(lambda s: _overload.hvp(f, (x_,), (s,)))(seeds_)
            fn = _PUSHES[("hvp", f)] = jit(compressed)
        return np.asarray(fn(x, seeds))
    return np.stack([np.asarray(transforms.hvp(f, (x,), (s,), method=method))
                     for s in seeds])


def sparse_hessian(f: Callable[[Any], Any], x: Any, sparsity: Any = None,
                   method: str = "overload") -> Any:
    """The Hessian of a scalar `f` at `x` as a sparse matrix, from one HVP per colour.

    The pattern's adjacency graph is star coloured, which uses the Hessian's symmetry: each
    nonzero ``H[i, j]`` is read from the product of colour ``c(j)`` in row ``i`` or, where that
    row mixes it with another entry, from the product of colour ``c(i)`` in row ``j``. A star
    colouring needs fewer colours than the columns of a non-symmetric matrix would.

    Parameters
    ----------
    f : callable
        A scalar-valued function of one array.
    x : array_like
        The point: a real floating-point array (any shape; rows and columns are its elements
        in C order).
    sparsity : scipy.sparse matrix or 2-D boolean array, optional
        The pattern, shape ``(x.size, x.size)`` (made symmetric). It must hold every nonzero.
        Default: detected by tracing the gradient (`chainrule.sparse.hessian_sparsity`).
    method : {"overload", "graph", "source", "symbolic", "numeric"}, optional
        The engine of the Hessian-vector products (default "overload": one vectorised pass;
        "graph" compiles it; the others make one `hvp` call per colour).

    Returns
    -------
    scipy.sparse.csr_matrix
        Shape ``(n, n)``, symmetric, with the pattern's entries stored.

    Raises
    ------
    ImportError
        If SciPy is not installed (``pip install chainrule[scipy]``).
    TypeError
        If `x` is not a real floating-point array or `f`'s output is not a real scalar.
    ValueError
        If `sparsity` has the wrong shape, or `method` is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> def f(x):
    ...     return cnp.sum((x[1:] - x[:-1]) ** 2) + cnp.sum(x ** 4)
    >>> H = cr.sparse_hessian(f, np.array([1.0, 0.0, 2.0]))
    >>> print(H.toarray())
    [[14. -2.  0.]
     [-2.  4. -2.]
     [ 0. -2. 50.]]
    >>> print(np.allclose(H.toarray(), cr.hessian(f)(np.array([1.0, 0.0, 2.0]))))
    True
    """
    who = "sparse_hessian"
    x = _point(x, who)
    transforms.engine(method, "hvp")
    n = x.size
    entry = None
    if sparsity is None:
        entry = _detected(f, x, who, "hessian")
        p = entry.pattern
    else:
        p = _symmetric(_pattern_argument(sparsity, (n, n), who, "the Hessian of f at x"))
    if p.nnz == 0:
        _overload.grad(f, transform=who)(x)  # (the output is checked even so)
        return _sp().csr_matrix((n, n), dtype=x.dtype)
    if entry is None:
        colour = _star_colouring(p)  # (p is already canonical and symmetric)
    else:
        if entry.colour is None:
            entry.colour = _star_colouring(p)
        colour = entry.colour
    k = int(colour.max()) + 1
    with checks.quiet():
        compressed = np.asarray(_compressed_hvps(f, x, _seeds(colour, x), method))
    compressed = compressed.reshape(k, n).T
    rows = np.repeat(np.arange(n), np.diff(p.indptr))
    cols = p.indices
    # H[i, j] is B[i, c(j)] when j is the only column of colour c(j) in row i; else B[j, c(i)]
    counts = np.bincount(rows * k + colour[cols], minlength=n * k)
    direct = counts[rows * k + colour[cols]] == 1
    mirrored = counts[cols * k + colour[rows]] == 1
    if not np.all(direct | mirrored):  # (a star colouring rules this out)
        raise RuntimeError("sparse_hessian: the colouring does not determine every entry "
                           "(not a star colouring); please report this with the pattern")
    values = np.where(direct, compressed[rows, colour[cols]], compressed[cols, colour[rows]])
    return _sp().csr_matrix((values, cols.copy(), p.indptr.copy()), shape=(n, n))

