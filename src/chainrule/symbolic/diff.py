"""Symbolic differentiation, with the rules of the one rule table.

`diff` is forward mode over the expression DAG: nodes are visited operands-first, and each node's
tangent is what its primitive's `jvp` rule returns when given the node's operands (symbolic
primals) and their tangents (symbolic, or `Zero` where nothing flows). The rules are written with
primitives, so called on expressions they build expression nodes: this module holds no derivative
formula. Tangents are memoised per node, so the derivative DAG shares structure with the
expression (its size is a small multiple of the expression's DAG size, while the printed tree
can swell).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._core.errors import RuleError
from .._core.rules import Zero
from .expr import Const, Expr, Symbol, as_expr, topo_order


def _primal(node: Expr) -> Any:
    """What a rule sees for an operand: constants as plain numbers, so that rules take their
    fast paths for constants (`x ** 2` differentiates to `2 * x`, not to a `where` that guards
    a symbolic exponent against zero)."""
    return node.value if isinstance(node, Const) else node


def jvp_exprs(outputs: Sequence[Any], seeds: Mapping[Symbol, Any]) -> list[Any]:
    """The tangents of `outputs` when each symbol in `seeds` has the given tangent (a number or
    an expression) and every other symbol has none: a list of expressions, or `Zero` for an
    output that does not depend on the seeded symbols."""
    seed = {id(s): v for s, v in seeds.items()}
    roots = [as_expr(o, "diff") for o in outputs]
    tangent: dict[int, Any] = {}
    for node in topo_order(roots):
        if not node.args:
            tangent[id(node)] = seed.get(id(node), Zero)
            continue
        tans = [tangent[id(a)] for a in node.args]
        prim = node.prim
        if prim is None or prim.nondiff or all(t is Zero for t in tans):
            tangent[id(node)] = Zero
            continue
        if prim.jvp is None:
            raise RuleError(prim.name, "forward", "symbolic differentiation reads the JVP rule")
        _, t = prim.jvp([_primal(a) for a in node.args], tans, **node.params)
        tangent[id(node)] = t
    return [tangent[id(r)] for r in roots]


def _check_symbol(x: Any) -> Symbol:
    if not isinstance(x, Symbol):
        raise TypeError(f"diff: the variable must be a symbol (from cr.symbolic.symbols), got "
                        f"{type(x).__name__} {x!r}; to differentiate with respect to an "
                        f"expression, introduce a symbol for it and substitute")
    return x


def diff(expr: Any, x: Symbol, n: int = 1) -> Expr:
    """The `n`-th derivative of `expr` with respect to the symbol `x`, unsimplified (pass the
    result to `simplify` for a readable form; the raw form shows what the rules produce)."""
    _check_symbol(x)
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"diff: n={n!r} must be a non-negative int (the derivative's order)")
    e = as_expr(expr, "diff")
    for _ in range(n):
        (t,) = jvp_exprs([e], {x: 1.0})
        e = Const(0.0) if t is Zero else as_expr(t, "diff")
    return e


def gradient(expr: Any, wrt: Sequence[Symbol]) -> list[Expr]:
    """`[diff(expr, s) for s in wrt]`."""
    return [diff(expr, s) for s in wrt]


def jacobian(outputs: Sequence[Any], wrt: Sequence[Symbol]) -> list[list[Expr]]:
    """`J[i][j] = d outputs[i] / d wrt[j]`, one forward pass per symbol."""
    cols = []
    for s in wrt:
        _check_symbol(s)
        ts = jvp_exprs(outputs, {s: 1.0})
        cols.append([Const(0.0) if t is Zero else as_expr(t, "diff") for t in ts])
    return [[cols[j][i] for j in range(len(wrt))] for i in range(len(outputs))]
