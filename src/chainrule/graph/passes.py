"""Optimisation passes, each a pure `Graph -> Graph`: dead-code elimination, common-subexpression
elimination, and algebraic simplification (multiplying by one, adding zero, strong zeros whose
cotangent is a constant without zeros). `optimize` runs them to a fixed point."""
from __future__ import annotations

from typing import Any

import numpy as np

from .ir import Atom, Const, Eqn, Graph, Var


def _copy(g: Graph, eqns: list[Eqn], outputs: list[Atom] | None = None) -> Graph:
    return Graph(list(g.inputs), eqns, list(g.outputs if outputs is None else outputs),
                 g.in_tree, g.out_tree)


def dce(g: Graph) -> Graph:
    """Drop equations whose outputs nobody uses."""
    live = {a.id for a in g.outputs if isinstance(a, Var)}
    kept = []
    for e in reversed(g.eqns):
        if any(v.id in live for v in e.outputs):
            kept.append(e)
            live.update(a.id for a in e.inputs if isinstance(a, Var))
    return _copy(g, kept[::-1])


def _key(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return ("array", id(v))
    if isinstance(v, slice):
        return ("slice", v.start, v.stop, v.step)
    if isinstance(v, (tuple, list)):
        return tuple(_key(x) for x in v)
    if isinstance(v, dict):
        return tuple((k, _key(x)) for k, x in sorted(v.items()))
    try:
        hash(v)
        return (type(v).__name__, v)
    except TypeError:
        return ("id", id(v))


def _atom_key(a: Atom, rename: dict[int, Atom]) -> Any:
    if isinstance(a, Var):
        a = rename.get(a.id, a)
    return ("v", a.id) if isinstance(a, Var) else ("c", _key(a.value))


def _substitute(a: Atom, rename: dict[int, Atom]) -> Atom:
    return rename.get(a.id, a) if isinstance(a, Var) else a


def cse(g: Graph) -> Graph:
    """Reuse the result of an identical earlier equation (same primitive, inputs and params)."""
    seen: dict[Any, Eqn] = {}
    rename: dict[int, Atom] = {}
    eqns = []
    for e in g.eqns:
        key = (e.prim.name, tuple(_atom_key(a, rename) for a in e.inputs), _key(e.params))
        prev = seen.get(key)
        if prev is not None:
            for old, new in zip(e.outputs, prev.outputs):
                rename[old.id] = new
            continue
        e = Eqn(e.prim, [_substitute(a, rename) for a in e.inputs], e.params, e.outputs)
        seen[key] = e
        eqns.append(e)
    return _copy(g, eqns, [_substitute(a, rename) for a in g.outputs])


def _is_constant(a: Atom, value: float) -> bool:
    if not isinstance(a, Const):
        return False
    v = a.value
    try:
        return bool(np.all(np.asarray(v) == value)) and np.size(v) > 0
    except (TypeError, ValueError):
        return False


def simplify(g: Graph) -> Graph:
    """x * 1 -> x, x + 0 -> x, x - 0 -> x, --x -> x, strong_mask with a constant cotangent that
    has no zeros -> its value, each only when the shape and dtype stay the same."""
    rename: dict[int, Atom] = {}
    negated: dict[int, Atom] = {}
    eqns = []
    for e in g.eqns:
        ins = [_substitute(a, rename) for a in e.inputs]
        out = e.outputs[0] if len(e.outputs) == 1 else None
        name = e.prim.name
        keep: Atom | None = None
        if out is not None and len(ins) == 2:
            x, y = ins
            if name == "mul":
                keep = x if _is_constant(y, 1) else y if _is_constant(x, 1) else None
            elif name == "add":
                keep = x if _is_constant(y, 0) else y if _is_constant(x, 0) else None
            elif name == "sub":
                keep = x if _is_constant(y, 0) else None

        if out is not None and name == "strong_mask" and isinstance(ins[0], Const) \
                and np.all(np.asarray(ins[0].value) != 0):
            keep = ins[2]  # a constant cotangent without zeros masks nothing
        if out is not None and name == "neg" and isinstance(ins[0], Var) \
                and ins[0].id in negated:
            keep = negated[ins[0].id]
        if keep is not None and isinstance(keep, Var) and keep.shape == out.shape \
                and keep.dtype == out.dtype:
            rename[out.id] = keep
            continue
        new = Eqn(e.prim, ins, e.params, e.outputs)
        if name == "neg" and out is not None:
            negated[out.id] = ins[0]
        eqns.append(new)
    return _copy(g, eqns, [_substitute(a, rename) for a in g.outputs])


def _is_identity(value: Any) -> bool:
    v = np.asarray(value)
    return v.ndim == 2 and v.shape[0] == v.shape[1] and v.shape[0] > 1 and \
        bool(np.array_equal(v, np.eye(v.shape[0], dtype=v.dtype)))


def diagonal_products(g: Graph) -> Graph:
    """A product with a diagonal matrix is a scaling: with D = I * v (a vector v broadcast
    against the identity, as Jacobians of elementwise functions are), D @ B becomes v[:, None] * B
    and A @ D becomes A * v — O(n^2) instead of O(n^3)."""
    from ..ops import elementwise as E
    from ..ops import shape as S

    diag: dict[int, Atom] = {}
    eqns: list[Eqn] = []
    for e in g.eqns:
        name = e.prim.name
        if name == "mul" and len(e.inputs) == 2:
            x, y = e.inputs
            for c, v in ((x, y), (y, x)):
                if isinstance(c, Const) and _is_identity(c.value) and \
                        v.shape in ((c.shape[0],), (1, c.shape[0])) and \
                        e.outputs[0].shape == c.shape:
                    diag[e.outputs[0].id] = v
        if name == "matmul" and len(e.inputs[0].shape) == 2 and len(e.inputs[1].shape) == 2:
            x, y = e.inputs
            out = e.outputs[0]
            v = diag.get(x.id) if isinstance(x, Var) else None
            if v is not None:  # diag(v) @ y
                col = Var((v.shape[-1], 1), v.dtype)
                eqns.append(Eqn(S.reshape_p, [v], {"shape": col.shape}, [col]))
                eqns.append(Eqn(E.mul_p, [col, y], {}, [out]))
                continue
            v = diag.get(y.id) if isinstance(y, Var) else None
            if v is not None:  # x @ diag(v)
                row = Var((1, v.shape[-1]), v.dtype)
                eqns.append(Eqn(S.reshape_p, [v], {"shape": row.shape}, [row]))
                eqns.append(Eqn(E.mul_p, [x, row], {}, [out]))
                continue
        eqns.append(e)
    return _copy(g, eqns)


def drop_strong_zeros(g: Graph) -> Graph:
    """The graph with every strong_mask replaced by its masked value. Strong zeros only change
    non-finite values that meet a zero cotangent; when the outputs of this graph come out finite,
    no such value reached them, and they equal the outputs of the original. `jit` runs this fast
    form first and falls back to the original only on a non-finite output."""
    rename: dict[int, Atom] = {}
    eqns = []
    for e in g.eqns:
        ins = [_substitute(a, rename) for a in e.inputs]
        if e.prim.name == "strong_mask" and isinstance(ins[2], Var) \
                and ins[2].shape == e.outputs[0].shape:
            rename[e.outputs[0].id] = ins[2]
            continue
        eqns.append(Eqn(e.prim, ins, e.params, e.outputs))
    return _copy(g, eqns, [_substitute(a, rename) for a in g.outputs])


_ELEMENTWISE_BINARY = {"add", "sub", "mul", "div", "power", "maximum", "minimum", "equal",
                       "not_equal", "greater", "greater_equal", "less", "less_equal"}


def implicit_broadcasts(g: Graph) -> Graph:
    """An elementwise operation broadcasts by itself: feeding it broadcast_to(x) instead of x
    only copies. Also sum(x, keepdims=True) reshaped to the reduced shape becomes
    sum(x, keepdims=False)."""
    from ..ops import reduce as R

    source: dict[int, Atom] = {}   # broadcast_to output -> its operand
    sums: dict[int, Eqn] = {}      # sum(keepdims=True) output -> its equation
    eqns: list[Eqn] = []
    for e in g.eqns:
        name = e.prim.name
        out = e.outputs[0] if len(e.outputs) == 1 else None
        if name == "broadcast_to":
            source[out.id] = e.inputs[0]  # type: ignore[union-attr]
        if name == "sum" and e.params.get("keepdims"):
            sums[out.id] = e  # type: ignore[union-attr]
        if name in _ELEMENTWISE_BINARY and out is not None:
            ins = list(e.inputs)
            for k, a in enumerate(ins):
                src = source.get(a.id) if isinstance(a, Var) else None
                if src is None:
                    continue
                trial = ins[:k] + [src] + ins[k + 1:]
                if np.broadcast_shapes(*(t.shape for t in trial)) == out.shape:
                    ins = trial
            e = Eqn(e.prim, ins, e.params, e.outputs)
        if name == "reshape" and isinstance(e.inputs[0], Var) and e.inputs[0].id in sums:
            s_eq = sums[e.inputs[0].id]
            axis = s_eq.params["axis"]
            reduced = tuple(d for i, d in enumerate(s_eq.inputs[0].shape) if i not in axis)
            if out is not None and reduced == out.shape:
                e = Eqn(R.sum_p, s_eq.inputs, {"axis": axis, "keepdims": False}, e.outputs)
        eqns.append(e)
    return _copy(g, eqns)


PASSES = (simplify, implicit_broadcasts, diagonal_products, cse, dce)


def optimize(g: Graph, passes: Any = PASSES, rounds: int = 3) -> Graph:
    """Run the passes until the graph stops shrinking (at most `rounds` times)."""
    for _ in range(rounds):
        n = g.num_nodes
        for p in passes:
            g = p(g)
        if g.num_nodes >= n:
            break
    return g
