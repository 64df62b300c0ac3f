"""Structured control flow: `cond`, `while_loop`, `fori_loop`, `scan`.

While a graph is being traced (method="graph", `cr.graph.trace`), each of them becomes one
equation holding its functions as sub-graphs (see graph/control.py). Under the overload
interpreters these run as the Python control flow they describe, so the tape
records what actually ran and reverse mode goes through any number of iterations (residuals are
kept per iteration; `while_loop` included). When a predicate is batched by `vmap`, so that some
examples take one way and some the other, `cond` evaluates both branches and selects per example,
and `while_loop` keeps stepping the examples still running while the finished ones keep their
values.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._core import tree
from .._core.errors import ConcretizationError
from .._core.primitive import abstract_trace_active, concrete_value, innermost_value, shape_of
from . import elementwise as E
from . import index as I
from . import shape as S


def _concrete_bool(pred: Any) -> bool | None:
    """The truth of a scalar predicate, or None when it differs across a vmap batch."""
    if shape_of(pred) != ():
        raise ValueError(f"the predicate must be a scalar, not an array of shape "
                         f"{shape_of(pred)}; reduce it with .all() or .any()")
    try:
        return bool(pred)
    except ConcretizationError:
        return None


def _select_tree(pred: Any, on_true: Any, on_false: Any) -> Any:
    t_leaves, t_td = tree.flatten(on_true)
    f_leaves, f_td = tree.flatten(on_false)
    if t_td != f_td:
        raise TypeError(f"both branches must return the same structure: {t_td} vs {f_td}")
    return tree.unflatten(t_td, [E.select(pred, a, b) for a, b in zip(t_leaves, f_leaves)])


def cond(pred: Any, true_fun: Callable[..., Any], false_fun: Callable[..., Any],
         *operands: Any) -> Any:
    """`true_fun(*operands)` if `pred` else `false_fun(*operands)`, differentiable through the
    branch taken (both branches and a per-example choice when `pred` is batched)."""
    if abstract_trace_active() and innermost_value(pred) is None:
        from ..graph import control
        return control.cond(pred, true_fun, false_fun, *operands)
    take = _concrete_bool(pred)
    if take is None:  # batched: both branches, chosen per element
        return _select_tree(pred, true_fun(*operands), false_fun(*operands))
    return true_fun(*operands) if take else false_fun(*operands)


def _any_true(c: Any) -> bool:
    """Whether any example of a batched predicate holds (looking through the interpreters)."""
    v = innermost_value(c)
    if v is None:  # a graph being built: no value at all (the interpreter says why)
        concrete_value(c, "while_loop's condition")
    return bool(np.any(v))


def while_loop(cond_fun: Callable[[Any], Any], body_fun: Callable[[Any], Any],
               init_val: Any) -> Any:
    """`val = init_val; while cond_fun(val): val = body_fun(val)`, differentiable in both modes
    (reverse mode keeps what each iteration needs)."""
    if abstract_trace_active():
        from ..graph import control
        return control.while_loop(cond_fun, body_fun, init_val)
    return python_while(cond_fun, body_fun, init_val)


def python_while(cond_fun: Callable[[Any], Any], body_fun: Callable[[Any], Any],
                 init_val: Any) -> Any:
    """The loop run by Python, each step recorded by whatever interpreters are active."""
    val = init_val
    while True:
        c = cond_fun(val)
        go = _concrete_bool(c)
        if go is None:  # batched: step the examples that still run
            while _any_true(c):
                val = _select_tree(c, body_fun(val), val)
                c = cond_fun(val)
            return val
        if not go:
            return val
        val = body_fun(val)


def fori_loop(lower: int, upper: int, body_fun: Callable[[int, Any], Any],
              init_val: Any) -> Any:
    """`for i in range(lower, upper): val = body_fun(i, val)`."""
    try:
        lo, hi = int(lower), int(upper)
    except ConcretizationError:
        raise ConcretizationError("fori_loop: the bounds must be concrete integers; for a "
                                  "traced number of steps use while_loop") from None
    if abstract_trace_active():
        from ..graph import control
        return control.fori_loop(lo, hi, body_fun, init_val)
    val = init_val
    for i in range(lo, hi):
        val = body_fun(i, val)
    return val


def scan(f: Callable[[Any, Any], tuple[Any, Any]], init: Any, xs: Any = None,
         length: int | None = None, reverse: bool = False) -> tuple[Any, Any]:
    """JAX's scan: `carry, y = f(carry, x)` over the leading axis of `xs` (a pytree); returns
    the final carry and the `y`s stacked along a new leading axis."""
    x_leaves, x_td = tree.flatten(xs)
    n = length if not x_leaves else shape_of(x_leaves[0])[0]
    if n is None:
        raise ValueError("scan: give xs or length")
    for leaf in x_leaves:
        if shape_of(leaf)[0] != n:
            raise ValueError(f"scan: xs leaves have leading axes {shape_of(leaf)[0]} and {n}")
    if abstract_trace_active():
        from ..graph import control
        return control.scan(f, init, xs, n, reverse)
    carry = init
    ys = []
    steps = range(n - 1, -1, -1) if reverse else range(n)
    for i in steps:
        x = tree.unflatten(x_td, [I.getitem(leaf, i) for leaf in x_leaves]) if x_leaves else None
        carry, y = f(carry, x)
        ys.append(y)
    if reverse:
        ys.reverse()
    if not ys:
        return carry, None
    y_leaves = [tree.flatten(y)[0] for y in ys]
    y_td = tree.flatten(ys[0])[1]
    stacked = [S.stack([leaves[k] for leaves in y_leaves]) for k in range(len(y_leaves[0]))]
    return carry, tree.unflatten(y_td, stacked)
