"""Optimisation passes, each a pure `Graph -> Graph`: dead-code elimination, common-subexpression
elimination, constant folding, and algebraic simplification (multiplying by one, adding zero,
double negation, chains of transposes, reshapes and broadcasts, strong zeros whose cotangent is a
constant without zeros). `optimize` runs them to a fixed point.

`x * 0` is left alone: it is NaN when x is infinite or NaN, and no variable of a graph is known
to be finite before it runs (products of constants are folded).

Examples
--------
>>> import chainrule as cr
>>> import chainrule.numpy as cnp
>>> g = cr.graph.trace(lambda x: cnp.exp(x) * 1.0 + 0.0, cr.graph.spec((2,)))
>>> print(g.num_nodes, cr.graph.optimize(g).num_nodes)
3 1
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..ops import elementwise as E
from ..ops import linalg as L
from ..ops import reduce as R
from ..ops import shape as S
from .ir import Atom, Const, Eqn, Graph, Var


def _copy(g: Graph, eqns: list[Eqn], outputs: list[Atom] | None = None) -> Graph:
    new = Graph(list(g.inputs), eqns, list(g.outputs if outputs is None else outputs),
                g.in_tree, g.out_tree)
    new.inlined_rules = g.inlined_rules
    return new


def dce(g: Graph) -> Graph:
    """Drop equations whose outputs nobody uses.

    Parameters
    ----------
    g : Graph
        The graph.

    Returns
    -------
    Graph
        A new graph without the dead equations.

    Examples
    --------
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> g = cr.graph.trace(lambda x: (cnp.sin(x), x * 2.0)[1], cr.graph.spec((2,)))
    >>> print(g.num_nodes, cr.graph.dce(g).num_nodes)
    2 1
    """
    live = {a.id for a in g.outputs if isinstance(a, Var)}
    kept = []
    for e in reversed(g.eqns):
        if any(v.id in live for v in e.outputs):
            kept.append(e)
            live.update(a.id for a in e.inputs if isinstance(a, Var))
    return _copy(g, kept[::-1])


def _key(v: Any) -> Any:
    if type(v) is float:  # 0.0 == -0.0, but they differ (1/x, atan2): the sign is in the key
        return ("float", v, math.copysign(1.0, v))
    if isinstance(v, (complex, np.inexact)):
        return (type(v).__name__, repr(v))
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
    """Reuse the result of an identical earlier equation (same primitive, inputs and params).

    Parameters
    ----------
    g : Graph
        The graph.

    Returns
    -------
    Graph
        A new graph where each repeated computation refers to the first one (the repeats are
        left for `dce` to drop).

    Examples
    --------
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> g = cr.graph.trace(lambda x: cnp.exp(x) * cnp.exp(x), cr.graph.spec((2,)))
    >>> print(g.num_nodes, cr.graph.dce(cr.graph.cse(g)).num_nodes)
    3 2
    """
    seen: dict[Any, Eqn] = {}
    rename: dict[int, Atom] = {}
    eqns = []
    for e in g.eqns:
        key = (e.prim.name, tuple(_atom_key(a, rename) for a in e.inputs),
               _key(e.params) if e.params else ())
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


_CHAINS = ("transpose", "reshape", "broadcast_to")


def _moves_only_unit_axes(shape: tuple[int, ...], axes: tuple[int, ...]) -> bool:
    """Whether a transpose keeps the order of the axes longer than one (so it is a reshape)."""
    big = [a for a in axes if shape[a] != 1]
    return big == sorted(big)


def simplify(g: Graph) -> Graph:
    """Algebraic simplification.

    x * 1 -> x, x + 0 -> x, x - 0 -> x, --x -> x, x ** 2 and x * x -> square(x) (floats),
    transpose(transpose(x)) -> one transpose
    (none for the identity), reshape(reshape(x)) and broadcast_to(broadcast_to(x)) -> one, either
    to the shape x has -> x, strong_mask with a constant cotangent that has no zeros -> its
    value; each only when the shape and dtype stay the same.

    Parameters
    ----------
    g : Graph
        The graph.

    Returns
    -------
    Graph
        The simplified graph.

    Examples
    --------
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> g = cr.graph.trace(lambda x: cnp.exp(x) * 1.0 + 0.0, cr.graph.spec((2,)))
    >>> print(cr.graph.simplify(g))
    { lambda a:f64[2] .
        b:f64[2] = exp a
      in (b,) }
    """
    rename: dict[int, Atom] = {}
    negated: dict[int, Atom] = {}
    made_by: dict[int, Eqn] = {}
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

        if out is not None and len(ins) == 2 and out.dtype.kind == "f" and \
                ins[0].shape == out.shape and ins[0].dtype == out.dtype and (
                    (name == "power" and _is_constant(ins[1], 2) and ins[1].shape == ())
                    or (name == "mul" and isinstance(ins[0], Var) and ins[1] is ins[0])):
            # x ** 2 and x * x -> square(x), the same number (one rounding of x * x), so that
            # cse finds the square the derivative computes again (tanh' = 1 - tanh ** 2)
            e = Eqn(E.square_p, [ins[0]], {}, e.outputs)
            ins, name = list(e.inputs), "square"
        if out is not None and name in ("reshape", "broadcast_to") and ins[0].shape == out.shape:
            keep = ins[0]  # to the shape it already has
        if out is not None and name == "transpose" and \
                tuple(e.params["axes"]) == tuple(range(len(out.shape))):
            keep = ins[0]
        if out is not None and name == "transpose" and _moves_only_unit_axes(
                ins[0].shape, e.params["axes"]):
            e = Eqn(S.reshape_p, ins, {"shape": out.shape}, e.outputs)
            name = "reshape"
        if out is not None and name in _CHAINS and isinstance(ins[0], Var) \
                and ins[0].id in made_by and made_by[ins[0].id].prim.name == name:
            inner = made_by[ins[0].id]  # f(f(x)) -> one f of x
            params = dict(e.params)
            if name == "transpose":
                params["axes"] = tuple(inner.params["axes"][a] for a in e.params["axes"])
            e = Eqn(e.prim, [inner.inputs[0]], params, e.outputs)
            ins = list(e.inputs)
            if name == "transpose" and params["axes"] == tuple(range(len(out.shape))):
                keep = ins[0]
            elif name != "transpose" and ins[0].shape == out.shape:
                keep = ins[0]
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
        if out is not None:
            made_by[out.id] = new
        eqns.append(new)
    return _copy(g, eqns, [_substitute(a, rename) for a in g.outputs])


def _is_identity(value: Any) -> bool:
    v = np.asarray(value)
    return v.ndim == 2 and v.shape[0] == v.shape[1] and v.shape[0] > 1 and \
        bool(np.array_equal(v, np.eye(v.shape[0], dtype=v.dtype)))


def _identity_product(e: Eqn) -> list[Eqn] | None:
    """Equations that replace `e` (a matmul) when one operand is the identity, possibly as the
    stack of its rows (n, 1, n) or columns (n, n, 1) that a batched Jacobian pushes through:
    I @ y = y, x @ I = x, rows @ y = y[:, None, :], x @ columns = x.T[:, :, None]."""
    x, y = e.inputs
    out = e.outputs[0]

    def reshaped(v: Atom) -> list[Eqn]:
        return [Eqn(S.reshape_p, [v], {"shape": out.shape}, [out])]

    if isinstance(x, Const) and isinstance(y, Var) and y.dtype == out.dtype:
        c = np.asarray(x.value)
        if c.ndim == 2 and len(y.shape) >= 2 and y.shape == out.shape and _is_identity(c):
            return reshaped(y)  # reshape to its own shape: simplify drops it
        if c.ndim == 3 and c.shape[1] == 1 and len(y.shape) == 2 and \
                y.shape[0] == c.shape[0] == c.shape[2] and _is_identity(c[:, 0, :]):
            return reshaped(y)
    if isinstance(y, Const) and isinstance(x, Var) and x.dtype == out.dtype:
        c = np.asarray(y.value)
        if c.ndim == 2 and len(x.shape) >= 1 and x.shape == out.shape and _is_identity(c):
            return reshaped(x)
        if c.ndim == 3 and c.shape[2] == 1 and len(x.shape) == 2 and \
                x.shape[1] == c.shape[0] == c.shape[1] and _is_identity(c[:, :, 0]):
            t = Var((x.shape[1], x.shape[0]), x.dtype)
            return [Eqn(S.transpose_p, [x], {"axes": (1, 0)}, [t])] + reshaped(t)
    return None


def _stacked_product(e: Eqn) -> list[Eqn] | None:
    """A stack of row vectors times a matrix is one matrix product (one BLAS call instead of a
    loop over the stack): x (..., 1, k) @ y (k, m) -> (x as (N, k) @ y) reshaped; likewise a
    matrix times a stack of column vectors, x (p, k) @ y (..., k, 1) -> (y as (N, k) @ x.T)."""
    x, y = e.inputs
    out = e.outputs[0]
    if len(x.shape) >= 3 and x.shape[-2] == 1 and len(y.shape) == 2:
        n, k = int(np.prod(x.shape[:-2])), x.shape[-1]
        rows = Var((n, k), x.dtype)
        prod = Var((n, y.shape[1]), out.dtype)
        return [Eqn(S.reshape_p, [x], {"shape": (n, k)}, [rows]),
                Eqn(L.matmul_p, [rows, y], {}, [prod]),
                Eqn(S.reshape_p, [prod], {"shape": out.shape}, [out])]
    if len(y.shape) >= 3 and y.shape[-1] == 1 and len(x.shape) == 2:
        n, k = int(np.prod(y.shape[:-2])), y.shape[-2]
        cols = Var((n, k), y.dtype)
        xt = Var((x.shape[1], x.shape[0]), x.dtype)
        prod = Var((n, x.shape[0]), out.dtype)
        return [Eqn(S.reshape_p, [y], {"shape": (n, k)}, [cols]),
                Eqn(S.transpose_p, [x], {"axes": (1, 0)}, [xt]),
                Eqn(L.matmul_p, [cols, xt], {}, [prod]),
                Eqn(S.reshape_p, [prod], {"shape": out.shape}, [out])]
    return None


def diagonal_products(g: Graph) -> Graph:
    """Turn products with identity and diagonal matrices into scalings.

    A product with the identity is its other operand; a product with a diagonal matrix is
    a scaling: with D = I * v (a vector v broadcast
    against the identity, as Jacobians of elementwise functions are), D @ B becomes v[:, None] * B
    and A @ D becomes A * v — O(n^2) instead of O(n^3).

    Parameters
    ----------
    g : Graph
        The graph.

    Returns
    -------
    Graph
        The graph with those products rewritten.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> f = lambda a, v: (np.eye(3) * v) @ a
    >>> g = cr.graph.trace(f, cr.graph.spec((3, 2)), cr.graph.spec((3,)))
    >>> print(cr.graph.dce(cr.graph.diagonal_products(g)))
    { lambda a:f64[3,2] b:f64[3] .
        c:f64[3,1] = reshape[shape=(3, 1)] b
        d:f64[3,2] = mul c a
      in (d,) }
    """
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
        if name == "matmul":
            plain = _identity_product(e) or _stacked_product(e)
            if plain is not None:  # a product with the identity (a basis of a Jacobian)
                eqns.extend(plain)
                continue
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


_SINKS = {"add", "sub", "mul", "div"}


def sink_transposes(g: Graph) -> Graph:
    """Move the transpose of a matrix that an elementwise operation made onto its operands.

    `transpose(x op y)`, where nothing else reads `x op y`, becomes `x' op y'` when each operand
    can be transposed where it is without a transpose of its own: the input of a transpose (the
    two cancel), a constant (transposed now), a vector broadcast along the rows (a column), a
    number, or such an operation read only there (the same, further in). A Jacobian by jacfwd ends
    with such a transpose (its basis axis goes last); moved onto the operands, it cancels the
    transpose of a matrix the basis met, and the elementwise work reads its operands in their
    own order, not across their rows (W5 forward, compiled: 20.6 -> 17.1 us of NumPy).

    Parameters
    ----------
    g : Graph
        The graph.

    Returns
    -------
    Graph
        The graph with those transposes moved (the operation they followed is left to `dce`).

    Examples
    --------
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> g = cr.graph.trace(lambda a, v: (a.T * v).T, cr.graph.spec((2, 3)), cr.graph.spec((2,)))
    >>> print(cr.graph.dce(cr.graph.sink_transposes(g)))
    { lambda a:f64[2,3] b:f64[2] .
        c:f64[2,1] = reshape[shape=(2, 1)] b
        d:f64[2,3] = mul a c
      in (d,) }
    """
    reads: dict[int, int] = {}
    made: dict[int, Eqn] = {}
    for e in g.eqns:
        for a in e.inputs:
            if isinstance(a, Var):
                reads[a.id] = reads.get(a.id, 0) + 1
        for v in e.outputs:
            made[v.id] = e
    for a in g.outputs:
        if isinstance(a, Var):
            reads[a.id] = reads.get(a.id, 0) + 1

    def moved(a: Atom, rows: int, cols: int, out: list[Eqn]) -> Atom | None:
        """`a` as an operand of the transposed (cols, rows) result, or None."""
        if len(a.shape) == 0:
            return a
        if isinstance(a, Const):
            value = np.asarray(a.value)
            return Const(value.T if value.ndim == 2 else value.reshape(-1, 1)) \
                if value.ndim in (1, 2) else None
        if len(a.shape) == 2:
            src = made.get(a.id)
            if src is not None and src.prim is S.transpose_p and src.params.get("axes") == (1, 0):
                return src.inputs[0]  # (the transposes cancel)
            if src is not None and sinks(src, a):  # (further in: its operands transposed)
                ops = [moved(b, a.shape[0], a.shape[1], out) for b in src.inputs]
                if all(b is not None for b in ops):
                    t = Var((a.shape[1], a.shape[0]), a.dtype)
                    out.append(Eqn(src.prim, ops, {}, [t]))  # type: ignore[arg-type]
                    return t
            return None  # (a transpose of its own: nothing gained)
        if len(a.shape) == 1 and a.shape[0] in (1, cols):
            col = Var((a.shape[0], 1), a.dtype)
            out.append(Eqn(S.reshape_p, [a], {"shape": col.shape}, [col]))
            return col
        return None

    def sinks(op: Eqn, z: Var) -> bool:
        """Whether the transpose of `z`, which `op` makes, can move onto op's operands."""
        return reads.get(z.id) == 1 and op.prim.name in _SINKS and not op.params \
            and len(op.inputs) == 2 and len(op.outputs) == 1

    eqns: list[Eqn] = []
    for e in g.eqns:
        z = e.inputs[0] if e.prim is S.transpose_p and e.params.get("axes") == (1, 0) else None
        op = made.get(z.id) if isinstance(z, Var) and len(z.shape) == 2 else None
        if op is not None and sinks(op, z):  # type: ignore[arg-type]
            extra: list[Eqn] = []
            ops = [moved(a, z.shape[0], z.shape[1], extra) for a in op.inputs]
            if all(a is not None for a in ops):
                eqns.extend(extra)
                eqns.append(Eqn(op.prim, ops, {}, list(e.outputs)))  # type: ignore[arg-type]
                continue
        eqns.append(e)
    return _copy(g, eqns)


# operations that pass a non-finite operand on to a non-finite result (the operands listed):
# inf or nan in, inf or nan out, whatever the other operands are
_SPREADS_NONFINITE = {"add": (0, 1), "sub": (0, 1), "mul": (0, 1), "neg": (0,), "div": (0,),
                      "sum": (0,), "matmul": (0, 1), "reshape": (0,), "transpose": (0,),
                      "broadcast_to": (0,), "scatter_add": (0,), "square": (0,), "abs": (0,),
                      "strong_mask": (2,)}


def _reaches_outputs(g: Graph) -> set[int]:
    """Variables whose non-finite values would make some output of `g` non-finite."""
    seen = {a.id for a in g.outputs if isinstance(a, Var) and a.dtype.kind in "fc"}
    for e in reversed(g.eqns):
        spread = _SPREADS_NONFINITE.get(e.prim.name)
        if spread is None or e.outputs[0].id not in seen or 0 in e.outputs[0].shape:
            continue
        for k in spread:
            a = e.inputs[k] if k < len(e.inputs) else None
            if isinstance(a, Var):
                seen.add(a.id)
    return seen


def witnesses(g: Graph) -> list[int]:
    """The outputs whose finiteness `drop_strong_zeros(g)` hangs on: for each mask it drops, the
    smallest output its value reaches. A non-finite value there makes every output it reaches
    non-finite (that is what reaching means), so when those few outputs are finite, all the
    dropped masks were no-ops and the fast form's answer is the careful one."""
    masks = [e.outputs[0].id for e in g.eqns if e.prim.name == "strong_mask"]
    if not masks:
        return []
    reached = [_reaches_outputs(_copy(g, g.eqns, [o])) if isinstance(o, Var) else set()
               for o in g.outputs]
    chosen = set()
    for m in masks:
        hit = [k for k, r in enumerate(reached) if m in r]
        if hit:
            chosen.add(min(hit, key=lambda k: math.prod(g.outputs[k].shape)))
    return sorted(chosen)


def drop_strong_zeros(g: Graph) -> Graph:
    """The graph with strong_masks replaced by their masked values, where that is provably
    harmless. Strong zeros only change non-finite values that meet a zero cotangent; a mask
    whose value would carry such a non-finite value on to an output (through sums, products,
    reshapes: operations that cannot turn inf or nan into a finite number) can go, because when
    the outputs come out finite no such value was there. `jit` runs this fast form first and
    falls back to the original on a non-finite output. Masks whose value goes through a
    comparison, a selection or an indexing first stay: those can hide a nan."""
    reaches = _reaches_outputs(g)
    rename: dict[int, Atom] = {}
    eqns = []
    for e in g.eqns:
        ins = [_substitute(a, rename) for a in e.inputs]
        if e.prim.name == "strong_mask" and isinstance(ins[2], Var) \
                and ins[2].shape == e.outputs[0].shape and e.outputs[0].id in reaches:
            rename[e.outputs[0].id] = ins[2]
            continue
        eqns.append(Eqn(e.prim, ins, e.params, e.outputs))
    return _copy(g, eqns, [_substitute(a, rename) for a in g.outputs])


_ELEMENTWISE_BINARY = {"add", "sub", "mul", "div", "power", "maximum", "minimum", "equal",
                       "not_equal", "greater", "greater_equal", "less", "less_equal"}


def implicit_broadcasts(g: Graph) -> Graph:
    """Drop broadcasts that an elementwise operation would do by itself.

    An elementwise operation broadcasts by itself: feeding it broadcast_to(x) instead of x
    only copies. Also sum(x, keepdims=True) reshaped to the reduced shape becomes
    sum(x, keepdims=False).

    Parameters
    ----------
    g : Graph
        The graph.

    Returns
    -------
    Graph
        The graph with those broadcasts (and reshapes) removed.

    Examples
    --------
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> f = lambda x, y: cnp.broadcast_to(x, (2, 3)) * y
    >>> g = cr.graph.trace(f, cr.graph.spec((3,)), cr.graph.spec((2, 3)))
    >>> print(g.num_nodes, cr.graph.dce(cr.graph.implicit_broadcasts(g)).num_nodes)
    2 1
    """
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


def fold_constants(g: Graph) -> Graph:
    """Evaluate equations whose operands are all constants, once, now."""
    rename: dict[int, Atom] = {}
    eqns = []
    for e in g.eqns:
        ins = [_substitute(a, rename) for a in e.inputs] if rename else e.inputs
        if not all(isinstance(a, Const) for a in ins):
            eqns.append(Eqn(e.prim, ins, e.params, e.outputs) if rename else e)
            continue
        if e.prim.abstract_eval is not None and not any(
                isinstance(p, Graph) or callable(p) for p in e.params.values()):
            ans = e.prim.impl(*[a.value for a in ins], **e.params)
            for v, x in zip(e.outputs, ans if e.prim.multiple_results else [ans]):
                rename[v.id] = Const(x)
            continue
        eqns.append(Eqn(e.prim, ins, e.params, e.outputs))
    return _copy(g, eqns, [_substitute(a, rename) for a in g.outputs])


PASSES = (fold_constants, simplify, implicit_broadcasts, diagonal_products, sink_transposes,
          cse, dce)


def optimize(g: Graph, passes: Any = PASSES, rounds: int = 3) -> Graph:
    """Run the passes until the graph stops shrinking (at most `rounds` times).

    Parameters
    ----------
    g : Graph
        The graph.
    passes : sequence of callable, optional
        The passes, each `Graph -> Graph`, run in order in each round (`PASSES` by default:
        `fold_constants`, `simplify`, `implicit_broadcasts`, `diagonal_products`, `cse`, `dce`).
    rounds : int, optional
        The most rounds to run.

    Returns
    -------
    Graph
        The optimised graph.

    Examples
    --------
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> g = cr.graph.trace(lambda x: cnp.sum(cnp.sin(x) ** 2), cr.graph.spec((3,))).grad()
    >>> print(g.num_nodes, cr.graph.optimize(g).num_nodes)
    9 7
    """
    for _ in range(rounds):
        n = g.num_nodes
        for p in passes:
            g = p(g)
        if g.num_nodes >= n or (n >= _LONG and n - g.num_nodes < n // 100):
            break  # (a long graph another round barely shrinks: not worth its time)
    return g


#: a graph this long gets another round of the passes only when the last shrank it by 1%:
#: each round costs tens of microseconds per node (a deep program's second round took 1.9 s
#: of its 10.4 s at 10^5 operations and removed 3 nodes)
_LONG = 10_000
