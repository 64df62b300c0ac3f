"""Adjoint and tangent statements written out as NumPy expressions, derived from the rule table.

For an elementwise primitive, the rule table's VJP (a function of the cotangent, the result and
the operands) is traced once into a graph on float64 scalars, its strong zeros dropped, and the
graph printed as one Python expression in the names of the statement: for `z = x * y`,
`d_z * y`; for `s = np.sin(x)`, `d_s * np.cos(x)`. Forward mode prints the JVP's tangent the
same way (`d_x * y + x * d_y`). No derivative is written here a second time:
the expression is whatever the rule computes. Anything the printer does not know (a parameter,
a non-ufunc implementation, a ufunc applied to the cotangent itself, which could be the symbolic
`Zero`) gives None, and the statement keeps the generic `pullback(...)` call.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .._core.cache import BoundedCache
from .._core.primitive import Primitive
from .._core.rules import Zero, reverse_rule
from ..graph.ir import Const, Var
from ..graph.passes import drop_strong_zeros, optimize
from ..graph.trace import spec, trace
from ..ops.operators import INFIX

#: the primitives written as binary operators in rule templates (always with spaces; operands
#: that are not simple are parenthesised)
_INFIX = {name: INFIX[name].python.strip() for name in ("add", "sub", "mul", "div", "power")}
_CACHE = BoundedCache(4096)  # (keyed by constants of the user's code too)
_NOTHING = object()


def _graph(prim: Primitive, i: int, consts: tuple[Any, ...]) -> Any:
    """The VJP of argument i traced on scalars (operands given as constants stay constants)."""
    key = (prim.name, i, tuple((type(c).__name__, c) for c in consts))
    got = _CACHE.get(key, _NOTHING)
    if got is not _NOTHING:
        return got
    rule = reverse_rule(prim, i)
    g = None
    if rule is not None:
        variable = [k for k, c in enumerate(consts) if c is None]

        def vjp(ct: Any, ans: Any, *xs: Any) -> Any:
            full = list(consts)
            for k, x in zip(variable, xs):
                full[k] = x
            return rule(ct, ans, *full)

        try:
            g = optimize(drop_strong_zeros(trace(vjp, spec(()), spec(()),
                                                 *[spec(()) for _ in variable])))
        except Exception:  # a rule that needs more than scalars to trace: no template
            g = None
    _CACHE[key] = g
    return g


def _print(g: Any, sources: list[str], guarded: frozenset[int] = frozenset(),
           named: dict[int, str] | None = None) -> tuple[str, bool] | None:
    """The graph's last output as an expression in `sources` (the names of its inputs), and
    whether it depends on the inputs `guarded`, to which no ufunc may be applied (a cotangent
    or a tangent can be the symbolic Zero, which only the operators accept). `named` gives
    names to other outputs (output index -> a name holding its value), which the expression
    then uses. None when it cannot be printed."""
    if g is None or isinstance(g.outputs[-1], Const):
        return None
    names: dict[int, tuple[str, bool]] = {
        v.id: (text, k in guarded) for k, (v, text) in enumerate(zip(g.inputs, sources))}
    preset = {g.outputs[k].id: name for k, name in (named or {}).items()
              if isinstance(g.outputs[k], Var)}

    def atom(a: Any) -> tuple[str, bool] | None:
        if isinstance(a, Var):
            return names[a.id]
        v = a.value
        if type(v) in (int, float) or isinstance(v, np.floating) and np.ndim(v) == 0:
            return (repr(v) if isinstance(v, int) else repr(float(v))), False
        return None

    for e in g.eqns:
        if e.params or e.prim.multiple_results:
            return None
        parts = [atom(a) for a in e.inputs]
        if any(p is None for p in parts):
            return None
        texts = [p[0] if _simple(p[0]) else f"({p[0]})" for p in parts]  # type: ignore[index]
        depends = any(p[1] for p in parts)  # type: ignore[index]
        if e.prim.name in _INFIX and len(texts) == 2:
            text = f"{texts[0]} {_INFIX[e.prim.name]} {texts[1]}"
        elif e.prim.name == "neg":
            text = f"-{texts[0]}"
        elif isinstance(e.prim.impl, np.ufunc) and not depends:
            text = f"np.{e.prim.impl.__name__}({', '.join(p[0] for p in parts)})"  # type: ignore
        else:
            return None
        out = e.outputs[0].id
        names[out] = (preset[out], depends) if out in preset else (text, depends)
    return names[g.outputs[-1].id]


def adjoint(prim: Primitive, i: int, ct: str, ans: str, operands: list[tuple[str, Any]]
            ) -> str | None:
    """`ct`'s contribution to operand i of `ans = prim(*operands)` as an expression, or None.
    `operands` are (source text, constant value or None for a name)."""
    g = _graph(prim, i, tuple(c for _, c in operands))
    printed = _print(g, [ct, ans] + [text for text, c in operands if c is None],
                     guarded=frozenset({0}))
    return printed[0] if printed is not None and printed[1] else None


def _simple(text: str) -> bool:
    """No parentheses needed around it: a name, a number, a placeholder, a call."""
    if text in ("{ct}", "{ans}"):
        return True
    return text.replace("_", "a").replace(".", "a").isalnum() or text.startswith("np.") and \
        text.count("(") == 1 and text.endswith(")")


def _jvp_graph(prim: Primitive, consts: tuple[Any, ...], live: tuple[bool, ...]) -> Any:
    """The JVP's tangent traced on scalars: variable operands and the live tangents are
    inputs, constant operands stay constants, dead tangents are the symbolic Zero."""
    key = ("jvp", prim.name, tuple((type(c).__name__, c) for c in consts), live)
    got = _CACHE.get(key, _NOTHING)
    if got is not _NOTHING:
        return got
    variable = [k for k, c in enumerate(consts) if c is None]
    g = None
    if prim.jvp is not None and any(live):
        def tangent(*xs: Any) -> Any:
            full = list(consts)
            for k, x in zip(variable, xs[:len(variable)]):
                full[k] = x
            dots = iter(xs[len(variable):])
            tangents = [next(dots) if on else Zero for on in live]
            return prim.jvp(full, tangents)  # (ans, dot): dot may be written with ans

        try:
            g = optimize(trace(tangent, *[spec(()) for _ in variable],
                               *[spec(()) for on in live if on]))
        except Exception:  # a rule that needs more than scalars to trace: no template
            g = None
    _CACHE[key] = g
    return g


def tangent(prim: Primitive, operands: list[tuple[str, Any]], tangents: list[str | None],
            ans: str | None = None) -> str | None:
    """The output tangent of `prim(*operands)` as an expression in the operands' and the live
    tangents' names (None for a dead one), or None when it cannot be written out. With `ans`,
    the name already holding the result: the expression reads it rather than computing it
    again (`d_y = d_x * y` for `y = np.exp(x)`)."""
    live = tuple(t is not None for t in tangents)
    g = _jvp_graph(prim, tuple(c for _, c in operands), live)
    if g is None or len(g.outputs) != 2:
        return None
    variables = [text for text, c in operands if c is None]
    live = [t for t in tangents if t is not None]
    printed = _print(g, variables + live,
                     guarded=frozenset(range(len(variables), len(variables) + len(live))),
                     named={0: ans} if ans is not None else None)
    return printed[0] if printed is not None else None
