"""`cr.elemental`: the basic-expression library, generated from the rule table.

Before operator overloading, forward-mode AD was often offered as a library of *elemental*
functions: for every elementary operation one routine taking values and their derivatives and
returning both. A program was differentiated by calling those routines by hand::

    import chainrule as cr

    s, ds = cr.elemental.sin(x, dx)              # (sin x, cos(x) dx)
    z, dz = cr.elemental.mul(x, dx, y, dy)       # (x y, dx y + x dy)

This module builds that library at import time, one function per differentiable elementwise
primitive of the rule table (those whose output has the broadcast shape of their inputs: the
primitives of `chainrule.ops.elementwise`, and `sigmoid` / `softplus` of `chainrule.ops.nn`).
It writes no derivative of its own: each function calls its primitive's JVP rule, the very rule
forward mode runs.

Names are the primitives' names (`add`, `sub`, `mul`, `div`, `neg`, `power`, `sin`, ...), with
NumPy's spelling as an alias where it differs (`subtract`, `multiply`, `divide`, `negative`,
`absolute`). Unary functions take `(x, dx)`, binary ones `(x, dx, y, dy)` in the primitive's
argument order (so `arctan2(x, dx, y, dy)` is the angle of the point (y, x), as `np.arctan2(x, y)`).

Tangents: a tangent has the shape of its value, or one more leading axis to push several
directions at once (the rule then runs under `cr.vmap`, the rule table's batching interpreter).
`None` means "no derivative flows in here" (the rules' exact zero).

Examples
--------
>>> import numpy as np
>>> import chainrule as cr
>>> x, dx = 2.0, 1.0
>>> s, ds = cr.elemental.sin(x, dx)
>>> z, dz = cr.elemental.mul(x, dx, s, ds)          # d(x sin x) = sin x + x cos x
>>> bool(np.isclose(dz, np.sin(2.0) + 2.0 * np.cos(2.0)))
True
>>> print(cr.elemental.exp(0.0, np.array([1.0, 2.0]))[1])    # two directions at once
[1. 2.]
"""
from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from . import ops as _ops  # noqa: F401  (registers every primitive)
from ._core.primitive import REGISTRY, Primitive, dtype_of, ndim_of, shape_of
from ._core.rules import Zero
from .ops import elementwise as _E
from .overload.transforms import vmap

#: function name -> the primitive whose rule it runs
PRIMITIVES: dict[str, Primitive] = {}

#: NumPy's name -> the primitive's name, for the operators whose names differ
ALIASES = {"subtract": "sub", "multiply": "mul", "divide": "div", "negative": "neg",
           "absolute": "abs"}

# The shape rules of the elementwise family: a primitive using one of them maps values to a value
# of the broadcast shape, which is what a basic-expression library is made of.
_ELEMENTWISE_SHAPES = (_E._abstract_elementwise, _E._abstract_real)

# select(c, a, b) shares the elementwise shape rule but is a choice, not an elementary function
# (and np.where's signature reads as one required argument, so its arity is not read from it)
_NOT_ELEMENTARY = frozenset({"select"})


def _arity(prim: Primitive) -> int | None:
    """How many array arguments the primitive takes: as its shape rule checks, or read from
    its implementation."""
    known = getattr(prim.abstract_eval, "arity", None)
    if isinstance(known, int):
        return known
    nin = getattr(prim.impl, "nin", None)  # a NumPy ufunc knows
    if isinstance(nin, int):
        return nin
    try:
        sig = inspect.signature(prim.impl)
    except (TypeError, ValueError):  # a builtin without a readable signature
        return None
    required = [p for p in sig.parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                and p.default is p.empty]
    return len(required)


def _zero_tangent(ans: Any) -> Any:
    # the rule said "nothing flows" (Zero); the caller gets an ordinary array of zeros
    return np.zeros(shape_of(ans), dtype_of(ans))


def _several_directions(value: Any, tangent: Any) -> bool:
    return tangent is not Zero and ndim_of(tangent) == ndim_of(value) + 1


def _push(prim: Primitive, primals: tuple[Any, ...], tangents: tuple[Any, ...]
          ) -> tuple[Any, Any]:
    """(value, tangent) of `prim` at `primals` along `tangents`, by the primitive's JVP rule."""
    rule = prim.jvp
    ts = tuple(Zero if t is None else t for t in tangents)
    if all(t is Zero for t in ts):  # as forward mode: no rule runs when nothing flows in
        ans = prim.bind(*primals)
        return ans, _zero_tangent(ans)
    batched = [_several_directions(p, t) for p, t in zip(primals, ts)]
    if not any(batched):
        ans, ans_dot = rule(list(primals), list(ts))  # type: ignore[misc]
        return ans, _zero_tangent(ans) if ans_dot is Zero else ans_dot

    # Several directions: run the same rule under the batching interpreter, mapped over the
    # tangents' leading axis. The primal does not depend on the tangents, so the rule computes it
    # once, unbatched; it is kept from inside the mapped call.
    kept: list[Any] = []

    def tangent_only(*mapped: Any) -> Any:
        it = iter(mapped)
        full = [next(it) if b else t for t, b in zip(ts, batched)]
        ans, ans_dot = rule(list(primals), full)  # type: ignore[misc]
        kept.append(ans)
        return _zero_tangent(ans) if ans_dot is Zero else ans_dot

    mapped_tangents = [t for t, b in zip(ts, batched) if b]
    ans_dot = vmap(tangent_only)(*mapped_tangents)
    return kept[0], ans_dot


_UNARY_DOC = """Elemental `{fname}`: the value of primitive '{prim}' and its tangent.

`z` is {prim}(x) and `dz` its derivative along `dx`, computed by the primitive's JVP rule
`{module}.{rule}` (the rule forward mode runs; no formula is written here).

Parameters
----------
x : array_like
    The value.
dx : array_like or None
    Its tangent: the shape of `x`, or one more leading axis for several directions at once;
    None means no derivative flows in.

Returns
-------
z : ndarray
    {prim}(x).
dz : ndarray
    The tangent of `z` (with the leading axis of `dx`, if it has one).

Examples
--------
>>> import chainrule as cr
>>> x = {x}
>>> z, dz = cr.elemental.{fname}(x, 1.0)
>>> f = lambda x: cr.elemental.{fname}(x, None)[0]
>>> finite_difference = (f(x + 1e-6) - f(x - 1e-6)) / 2e-6
>>> bool((dz - finite_difference) ** 2 < 1e-12)
True
"""

_BINARY_DOC = """Elemental `{fname}`: the value of primitive '{prim}' and its tangent.

`z` is {prim}(x, y) and `dz` its derivative along (`dx`, `dy`), computed by the primitive's JVP
rule `{module}.{rule}` (the rule forward mode runs; no formula is written here).

Parameters
----------
x : array_like
    The first argument.
dx : array_like or None
    Its tangent: the shape of `x`, or one more leading axis for several directions at once;
    None means no derivative flows in through `x`.
y : array_like
    The second argument.
dy : array_like or None
    Its tangent, as `dx`.

Returns
-------
z : ndarray
    {prim}(x, y).
dz : ndarray
    The tangent of `z`.

Examples
--------
>>> import chainrule as cr
>>> x, y = {x}, 0.75
>>> z, dz = cr.elemental.{fname}(x, None, y, 1.0)      # the derivative in y
>>> f = lambda y: cr.elemental.{fname}(x, None, y, None)[0]
>>> finite_difference = (f(y + 1e-6) - f(y - 1e-6)) / 2e-6
>>> bool((dz - finite_difference) ** 2 < 1e-12)
True
"""


# where the examples evaluate (x, the first argument), for the functions 0.5 does not suit
_EXAMPLE_AT = {"arccosh": 1.5, "polygamma": 1.0, "yn": 1.0, "zeta": 2.0}


def _make(prim: Primitive, arity: int) -> Callable[..., tuple[Any, Any]]:
    # Two explicit definitions (not *args) so that inspect.signature shows the real parameters.
    if arity == 1:
        def elemental_unary(x: Any, dx: Any) -> tuple[Any, Any]:
            return _push(prim, (x,), (dx,))
        fn: Callable[..., tuple[Any, Any]] = elemental_unary
        template = _UNARY_DOC
    else:
        def elemental_binary(x: Any, dx: Any, y: Any, dy: Any) -> tuple[Any, Any]:
            return _push(prim, (x, y), (dx, dy))
        fn = elemental_binary
        template = _BINARY_DOC
    rule = prim.jvp
    fn.__name__ = fn.__qualname__ = prim.name
    fn.__module__ = __name__
    fn.__doc__ = template.format(fname=prim.name, prim=prim.name,
                                 rule=getattr(rule, "__qualname__", repr(rule)),
                                 module=getattr(rule, "__module__", "?"),
                                 x=_EXAMPLE_AT.get(prim.name, 0.5))
    return fn


def _build() -> list[str]:
    names = []
    for prim in list(REGISTRY.values()):
        if (_E.shape_rule(prim) not in _ELEMENTWISE_SHAPES or prim.jvp is None or prim.nondiff
                or prim.name in _NOT_ELEMENTARY):
            continue
        arity = _arity(prim)
        if arity not in (1, 2):  # strong_mask and other internal helpers of the rules
            continue
        globals()[prim.name] = _make(prim, arity)
        PRIMITIVES[prim.name] = prim
        names.append(prim.name)
    for alias, target in ALIASES.items():
        if target in PRIMITIVES:
            globals()[alias] = globals()[target]
            PRIMITIVES[alias] = PRIMITIVES[target]
            names.append(alias)
    return names


__all__ = ["PRIMITIVES", "ALIASES", *_build()]
