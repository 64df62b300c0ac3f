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
from .calls import is_reverse_call
from .expr import Const, Expr, Symbol, as_expr, topo_order


def _primal(node: Expr) -> Any:
    """What a rule sees for an operand: constants as plain numbers, so that rules take their
    fast paths for constants (`x ** 2` differentiates to `2 * x`, not to a `where` that guards
    a symbolic exponent against zero)."""
    return node.value if isinstance(node, Const) else node


def jvp_exprs(outputs: Sequence[Any], seeds: Mapping[Symbol, Any]) -> list[Any]:
    """The tangents of expressions when some symbols are given tangents.

    The tangents of `outputs` when each symbol in `seeds` has the given tangent (a number or
    an expression) and every other symbol has none: a list of expressions, or `Zero` for an
    output that does not depend on the seeded symbols.

    Parameters
    ----------
    outputs : sequence of Expr
        The expressions.
    seeds : Mapping
        Symbol to its tangent.

    Returns
    -------
    list
        One tangent expression (or `Zero`) per output.

    Examples
    --------
    >>> import chainrule as cr
    >>> x, y = cr.symbolic.symbols("x y")
    >>> print(cr.symbolic.simplify_many(cr.symbolic.jvp_exprs([x * y, x + y], {x: 1.0})))
    [y, 1]
    """
    return _forward([as_expr(o, "diff") for o in outputs], {id(s): v for s, v in seeds.items()})


def columns(outputs: Sequence[Any], wrt: Sequence[Symbol]) -> list[list[Any]]:
    """`[jvp_exprs(outputs, {w: 1.0}) for w in wrt]`, walking the DAG's order once."""
    roots = [as_expr(o, "diff") for o in outputs]
    order = topo_order(roots)
    return [_forward(roots, {id(w): 1.0}, order=order) for w in wrt]


def _forward(roots: list[Expr], seed: dict[int, Any], cut: frozenset[int] = frozenset(),
             order: list[Expr] | None = None) -> list[Any]:
    """Forward mode over the DAG of `roots`. `seed` gives tangents by node identity; a node in
    `cut` (an output of a custom call, as `gradients` treats them) takes its seed (or none)
    instead of its rule's tangent."""
    tangent: dict[int, Any] = {}
    for node in _order(roots, cut) if order is None else order:
        nid = id(node)
        if not node.args or nid in cut:
            tangent[nid] = seed.get(nid, Zero)
            continue
        tans = [tangent[id(a)] for a in node.args]
        prim = node.prim
        if prim is None or prim.nondiff or all(t is Zero for t in tans):
            tangent[nid] = Zero
            continue
        if prim.jvp is None:
            raise RuleError(prim.name, "forward", "symbolic differentiation reads the JVP rule")
        _, t = prim.jvp([_primal(a) for a in node.args], tans, **node.params)
        tangent[nid] = t
    return [tangent[id(r)] for r in roots]


def _order(roots: list[Expr], cut: frozenset[int]) -> list[Expr]:
    """`topo_order`, not entering the first operand of the nodes in `cut`: the value of a custom
    call's output, whose derivative the call's rule replaces (its other operands are the
    call's inputs)."""
    if not cut:
        return topo_order(roots)
    return topo_order(roots, lambda node: node.args[1:] if id(node) in cut else node.args)


def _plus(acc: Any, term: Any) -> Any:
    if term is Zero:
        return acc
    return term if acc is Zero else acc + term


def _times(c: Any, t: Any) -> Any:
    if t is Zero or c is Zero or (not isinstance(c, Expr) and c == 0):
        return Zero
    return t if not isinstance(c, Expr) and c == 1 else c * t


def _contract(cts: Sequence[Any], tans: Sequence[Any]) -> Any:
    acc: Any = Zero
    for c, t in zip(cts, tans):
        acc = _plus(acc, _times(c, t))
    return acc


def gradients(outputs: Sequence[Any], cts: Sequence[Any], wrt: Sequence[Symbol]) -> list[Any]:
    """For each symbol `w` of `wrt`, the derivative of `sum_i cts[i] * outputs[i]` (the
    cotangents `cts` are numbers or expressions that do not depend on `wrt`): a gradient, or a
    vector-Jacobian product. `Zero` where it does not depend on `w`.

    Reverse mode's meaning is kept at custom_vjp calls: each is given the cotangent of its
    outputs (the derivative of the sum with respect to them, other custom_vjp calls included)
    and its own `bwd` pulls it back, so a `bwd` that is not linear in the cotangent (one that
    clips it) gives the overload method's reverse-mode result. Elsewhere this is forward mode,
    one pass per symbol."""
    roots = [as_expr(o, "diff") for o in outputs]
    calls: dict[Any, dict[int, Expr]] = {}
    for node in _order(roots, frozenset()):
        if node.prim is not None and is_reverse_call(node):
            calls.setdefault(node.params["call"], {})[node.params["k"]] = node
    if not calls:
        order = topo_order(roots)
        return [_contract(cts, _forward(roots, {id(w): 1.0}, order=order)) for w in wrt]
    # the calls reached other than through another call's own value (which its rule replaces)
    cut = frozenset(id(n) for nodes in calls.values() for n in nodes.values())
    live = {n.params["call"] for n in _order(roots, cut) if id(n) in cut}
    calls = {c: nodes for c, nodes in calls.items() if c in live}
    cut = frozenset(id(n) for nodes in calls.values() for n in nodes.values())
    inputs = {c: list(next(iter(nodes.values())).args[1:]) for c, nodes in calls.items()}
    targets = roots + [e for c in calls for e in inputs[c]]
    start, off = {}, len(roots)
    for c in calls:
        start[c] = off
        off += len(inputs[c])

    order = _order(targets, cut)

    def pieces(seed: Expr) -> list[Any]:
        return _forward(targets, {id(seed): 1.0}, cut, order)

    through = {(c, k): pieces(node) for c, nodes in calls.items() for k, node in nodes.items()}
    users: dict[Any, set[Any]] = {c: set() for c in calls}  # calls fed by c's outputs
    for (c, _), tans in through.items():
        for h in calls:
            if any(t is not Zero for t in tans[start[h]:start[h] + len(inputs[h])]):
                users[c].add(h)
    ct_in: dict[Any, list[Any]] = {}

    def with_calls(tans: list[Any], among: Any) -> Any:
        acc = _contract(cts, tans[:len(roots)])
        for h in among:
            acc = _plus(acc, _contract(ct_in[h], tans[start[h]:start[h] + len(inputs[h])]))
        return acc

    for c in _users_first(users):
        ct = [with_calls(through[(c, k)], users[c]) if k in calls[c] else Zero
              for k in range(c.n_out)]
        ct_in[c] = c.pull_back([Const(0.0) if t is Zero else t for t in ct])
    return [with_calls(pieces(w), calls) for w in wrt]


def _users_first(users: dict[Any, set[Any]]) -> list[Any]:
    """The calls ordered so that every call comes after the calls its outputs feed."""
    order: list[Any] = []
    done: set[int] = set()

    def visit(c: Any) -> None:
        if id(c) in done:
            return
        done.add(id(c))
        for h in users[c]:
            visit(h)
        order.append(c)

    for c in users:
        visit(c)
    return order


def _check_symbol(x: Any) -> Symbol:
    if not isinstance(x, Symbol):
        raise TypeError(f"diff: the variable must be a symbol (from cr.symbolic.symbols), got "
                        f"{type(x).__name__} {x!r}; to differentiate with respect to an "
                        f"expression, introduce a symbol for it and substitute")
    return x


def diff(expr: Any, x: Symbol, n: int = 1) -> Expr:
    """The `n`-th derivative of `expr` with respect to the symbol `x`, unsimplified (pass the
    result to `simplify` for a readable form; the raw form shows what the rules produce).

    Parameters
    ----------
    expr : Expr or float
        The expression.
    x : Symbol
        The symbol.
    n : int, optional
        The order of the derivative (0 gives `expr` back).

    Returns
    -------
    Expr
        The derivative, as the rules build it.

    Raises
    ------
    ValueError
        If `n` is not a non-negative int.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.symbolic.symbols("x")
    >>> d2 = cr.symbolic.diff(x ** 3, x, 2)
    >>> print(d2, "=", cr.symbolic.simplify(d2))
    1*(1*(x*2)*3) = 6*x
    """
    _check_symbol(x)
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"diff: n={n!r} must be a non-negative int (the derivative's order)")
    e = as_expr(expr, "diff")
    for _ in range(n):
        (t,) = jvp_exprs([e], {x: 1.0})
        e = Const(0.0) if t is Zero else as_expr(t, "diff")
    return e


def gradient(expr: Any, wrt: Sequence[Symbol]) -> list[Expr]:
    """The partial derivatives of one expression: `[diff(expr, s) for s in wrt]`.

    Parameters
    ----------
    expr : Expr
        The expression.
    wrt : sequence of Symbol
        The symbols.

    Returns
    -------
    list of Expr
        One derivative per symbol, unsimplified.

    Examples
    --------
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> x, y = cr.symbolic.symbols("x y")
    >>> print(cr.symbolic.simplify_many(cr.symbolic.gradient(cnp.sin(x) * y, [x, y])))
    [y*cos(x), sin(x)]
    """
    return [diff(expr, s) for s in wrt]


def jacobian(outputs: Sequence[Any], wrt: Sequence[Symbol]) -> list[list[Expr]]:
    """The Jacobian `J[i][j] = d outputs[i] / d wrt[j]`, one forward pass per symbol.

    Parameters
    ----------
    outputs : sequence of Expr
        The expressions.
    wrt : sequence of Symbol
        The symbols.

    Returns
    -------
    list of list of Expr
        One row per output, one column per symbol, unsimplified.

    Examples
    --------
    >>> import chainrule as cr
    >>> x, y = cr.symbolic.symbols("x y")
    >>> J = cr.symbolic.jacobian([x * y, x + y], [x, y])
    >>> print([cr.symbolic.simplify_many(row) for row in J])
    [[y, x], [1, 1]]
    """
    cols = []
    for s in wrt:
        _check_symbol(s)
        ts = jvp_exprs(outputs, {s: 1.0})
        cols.append([Const(0.0) if t is Zero else as_expr(t, "diff") for t in ts])
    return [[cols[j][i] for j in range(len(wrt))] for i in range(len(outputs))]
