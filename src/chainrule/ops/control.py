"""Structured control flow: `cond`, `while_loop`, `fori_loop`, `scan`, and the primitives
`cond`, `while_loop` and `scan` that stage them.

Under the overload interpreters these run as the Python control flow they describe, so the tape
records what actually ran and reverse mode goes through any number of iterations (residuals are
kept per iteration; `while_loop` included). When a predicate is batched by `vmap`, so that some
examples take one way and some the other, `cond` evaluates both branches and selects per example,
and `while_loop` keeps stepping the examples still running while the finished ones keep their
values.

An abstract interpreter (a graph being traced) has no values to branch or loop on, so while one is
open each function hands itself to it whole, through the hooks of `_core.primitive.staging_trace`
(`stage_cond`, `stage_while`, `stage_fori`, `stage_scan`): the graph engine traces the functions
into sub-graphs and records one equation of the primitives declared here. Their parameters are
those sub-programs, which this module knows only by a few methods (`SubProgram`), so ops does not
depend on the graph engine; their rules (forward mode, batching, and the reverse mode registered
with `def_custom_rule`) transform sub-graphs, and the graph engine attaches them (graph/control.py,
which also declares `while_loop_ad`, the differentiated loop).

`fori_loop` and `scan` given a checkpoint policy (`checkpoint=cr.binomial(s)`, a
`LoopCheckpoint`) are staged that way under every interpreter, by the runner the graph engine
registers (`set_checkpointed_scan`, graph/revolve.py), so that reverse mode stores only the
states the policy says.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from .._core import tree
from .._core.errors import ConcretizationError
from .._core.primitive import (
    Primitive,
    concrete_value,
    dtype_of,
    innermost_value,
    numpy_values,
    shape_of,
    staging_trace,
)
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
    """Call `true_fun(*operands)` if `pred` is true, else `false_fun(*operands)`.

    Differentiable through the branch taken. Under `vmap`, where `pred` differs from one example
    to the next, both branches are evaluated and each example takes its own result; while a
    graph is being traced (`method="graph"`, `cr.jit`) both branches become sub-graphs of one
    node.

    Parameters
    ----------
    pred : bool or scalar array
        The predicate; a scalar (shape `()`), traced or not.
    true_fun, false_fun : callable
        The two branches, each called with `*operands`; they must return pytrees of the same
        structure (and, when staged into a graph or batched, the same shapes and dtypes).
    *operands : Any
        The arguments passed to the branch taken.

    Returns
    -------
    Any
        What the branch taken returned.

    Raises
    ------
    ValueError
        If `pred` is not a scalar (reduce it with `.all()` or `.any()`).

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> f = lambda x: cr.cond(x > 0, lambda x: x ** 2, lambda x: -x, x)
    >>> print(f(3.0), cr.grad(f)(3.0), cr.grad(f)(-2.0))
    9.0 6.0 -1.0
    >>> print(cr.vmap(f)(np.array([-2.0, 3.0])))
    [2. 9.]
    """
    stage = staging_trace()
    if stage is not None and innermost_value(pred) is None:
        return stage.stage_cond(pred, true_fun, false_fun, operands)  # type: ignore[attr-defined]
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
    """Run `val = init_val; while cond_fun(val): val = body_fun(val)` and return `val`.

    Differentiable in both modes: reverse mode keeps what each iteration needs, so it goes
    through a data-dependent number of iterations. Under `vmap` the examples still running keep
    stepping while the finished ones keep their values. While a graph is being traced the loop
    becomes one node holding its condition and body as sub-graphs.

    Parameters
    ----------
    cond_fun : callable
        `cond_fun(val)` returns a scalar boolean: whether to run another iteration.
    body_fun : callable
        `body_fun(val)` returns the next value, a pytree of the same structure as `init_val`.
    init_val : Any
        The initial value (a pytree).

    Returns
    -------
    Any
        The value once `cond_fun` returned false.

    Raises
    ------
    ValueError
        If `cond_fun` returns something other than a scalar.

    Examples
    --------
    Newton's iteration for the square root, differentiated through the loop:

    >>> import numpy as np
    >>> import chainrule as cr
    >>> def newton_sqrt(a):
    ...     return cr.while_loop(lambda x: abs(x * x - a) > 1e-12,
    ...                          lambda x: 0.5 * (x + a / x), a)
    >>> print(round(float(newton_sqrt(9.0)), 12), round(float(cr.grad(newton_sqrt)(9.0)), 6))
    3.0 0.166667
    >>> print(cr.vmap(newton_sqrt)(np.array([4.0, 16.0])))
    [2. 4.]
    """
    stage = staging_trace()
    if stage is not None:
        return stage.stage_while(cond_fun, body_fun, init_val)  # type: ignore[attr-defined]
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


class LoopCheckpoint:
    """Base class of the checkpoint policies `fori_loop` and `scan` take (`checkpoint=`): a
    policy decides which states of the loop reverse mode stores (`chainrule.checkpoint`'s
    `binomial`). The loop under a policy runs as a staged sub-graph, which ops cannot build:
    the graph engine registers how (`set_checkpointed_scan`, graph/revolve.py)."""

    __slots__ = ()

    def scan(self, f: Callable[[Any, Any], tuple[Any, Any]], init: Any, xs: Any,
             length: int, reverse: bool) -> tuple[Any, Any]:
        """`scan(f, init, xs)` of `length` >= 1 steps under this policy."""
        if _CHECKPOINTED_SCAN[0] is None:  # (only before chainrule.graph is imported)
            raise RuntimeError("checkpointed loops need the graph engine: import chainrule")
        return _CHECKPOINTED_SCAN[0](self, f, init, xs, length, reverse)  # type: ignore[misc]


#: how a loop under a checkpoint policy runs (registered by the graph engine on import)
_CHECKPOINTED_SCAN: list[Callable[..., tuple[Any, Any]] | None] = [None]


def set_checkpointed_scan(run: Callable[..., tuple[Any, Any]]) -> None:
    """Register `run(policy, f, init, xs, length, reverse) -> (carry, ys)` (graph/revolve.py
    does, on import)."""
    _CHECKPOINTED_SCAN[0] = run


def _loop_policy(checkpoint: Any, fn_name: str) -> LoopCheckpoint | None:
    if checkpoint is None or isinstance(checkpoint, LoopCheckpoint):
        return checkpoint
    hint = ("; call it to make one" if callable(checkpoint)
            else f"; for {checkpoint} stored states write cr.binomial(snapshots={checkpoint})"
            if isinstance(checkpoint, int) and not isinstance(checkpoint, bool) else "")
    raise TypeError(f"{fn_name}: checkpoint= takes a checkpoint policy such as "
                    f"cr.binomial(snapshots=10), or None (keep every step); got "
                    f"{type(checkpoint).__name__}{hint}")


def fori_loop(lower: int, upper: int, body_fun: Callable[[int, Any], Any],
              init_val: Any, checkpoint: LoopCheckpoint | None = None) -> Any:
    """Run `for i in range(lower, upper): val = body_fun(i, val)` and return `val`.

    The bounds are concrete integers, so the number of steps is known; a graph records one node
    for the loop, and every transform goes through it. Reverse mode keeps what every step
    needs, unless `checkpoint` gives a policy that stores fewer states and recomputes the rest
    (`cr.binomial`).

    Parameters
    ----------
    lower, upper : int
        The loop bounds (concrete integers, not traced values).
    body_fun : callable
        `body_fun(i, val)` returns the next value, a pytree of the same structure as `val`.
    init_val : Any
        The initial value (a pytree).
    checkpoint : LoopCheckpoint, optional
        `None` (reverse mode keeps what every step needs), or a checkpoint policy such as
        `cr.binomial(snapshots=s)`: reverse mode then stores at most `s` states and runs steps
        forward again from them; `body_fun` is traced once into a sub-graph (Python control
        flow on `i` or on traced values raises `ConcretizationError`; use `cr.cond`).

    Returns
    -------
    Any
        The value after the last iteration (`init_val` if `upper <= lower`).

    Raises
    ------
    ConcretizationError
        If a bound is a traced value (use `while_loop` for a traced number of steps).
    TypeError
        If `checkpoint` is neither `None` nor a checkpoint policy.

    Examples
    --------
    >>> import chainrule as cr
    >>> power = lambda x: cr.fori_loop(0, 3, lambda i, v: v * x, 1.0)   # x ** 3
    >>> print(power(2.0), cr.grad(power)(2.0))
    8.0 12.0
    >>> stored = lambda x: cr.fori_loop(0, 3, lambda i, v: v * x, 1.0,
    ...                                 checkpoint=cr.binomial(snapshots=2))
    >>> print(stored(2.0), cr.grad(stored)(2.0))
    8.0 12.0
    """
    try:
        lo, hi = int(lower), int(upper)
    except ConcretizationError:
        raise ConcretizationError("fori_loop: the bounds must be concrete integers; for a "
                                  "traced number of steps use while_loop") from None
    policy = _loop_policy(checkpoint, "fori_loop")
    if policy is not None and hi > lo:  # (as a scan over the index: the same sub-graph)
        steps = np.arange(lo, hi)
        return policy.scan(lambda c, i: (body_fun(i, c), ()), init_val, steps, hi - lo,
                           False)[0]
    stage = staging_trace()
    if stage is not None:
        return stage.stage_fori(lo, hi, body_fun, init_val)  # type: ignore[attr-defined]
    val = init_val
    for i in range(lo, hi):
        val = body_fun(i, val)
    return val


def scan(f: Callable[[Any, Any], tuple[Any, Any]], init: Any, xs: Any = None,
         length: int | None = None, reverse: bool = False,
         checkpoint: LoopCheckpoint | None = None) -> tuple[Any, Any]:
    """Scan `f` over the leading axis of `xs`, carrying a state, as JAX's `lax.scan`.

    Runs `carry, y = f(carry, x)` for each slice `x` of `xs` along its leading axis and stacks
    the `y`s along a new leading axis. Differentiable in both modes and under `vmap`; with
    `checkpoint`, reverse mode stores only the states the policy says (`cr.binomial`).

    Parameters
    ----------
    f : callable
        `f(carry, x)` returns `(new_carry, y)`; `new_carry` has the structure of `init`.
    init : Any
        The initial carry (a pytree).
    xs : Any, optional
        A pytree of arrays sharing their leading axis, scanned over; `None` to scan `length`
        times with `x = None`.
    length : int, optional
        The number of steps when `xs` is `None`.
    reverse : bool, optional
        Scan from the last slice to the first (the `y`s are still stacked in the order of
        `xs`).
    checkpoint : LoopCheckpoint, optional
        `None` (reverse mode keeps what every step needs), or a checkpoint policy such as
        `cr.binomial(snapshots=s)`: reverse mode then stores at most `s` carries and runs
        steps forward again from them; `f` is traced once into a sub-graph (Python control
        flow on traced values raises `ConcretizationError`; use `cr.cond`).

    Returns
    -------
    carry : Any
        The final carry.
    ys : Any
        The `y`s stacked along a new leading axis (a pytree of the structure of `y`), or `None`
        when there were no steps.

    Raises
    ------
    ValueError
        If neither `xs` nor `length` is given, or the leaves of `xs` have different leading
        axes.
    TypeError
        If `checkpoint` is neither `None` nor a checkpoint policy.

    Examples
    --------
    A cumulative sum, and its gradient:

    >>> import numpy as np
    >>> import chainrule as cr
    >>> final, cumulative = cr.scan(lambda c, x: (c + x, c + x), 0.0, np.arange(4.0))
    >>> print(final, cumulative)
    6.0 [0. 1. 3. 6.]
    >>> total = lambda xs: cr.scan(lambda c, x: (c * x, None), 1.0, xs)[0]   # the product
    >>> print(cr.grad(total)(np.array([2.0, 3.0, 4.0])))
    [12.  8.  6.]
    """
    x_leaves, x_td = tree.flatten(xs)
    n = length if not x_leaves else shape_of(x_leaves[0])[0]
    if n is None:
        raise ValueError("scan: give xs or length")
    for leaf in x_leaves:
        if shape_of(leaf)[0] != n:
            raise ValueError(f"scan: xs leaves have leading axes {shape_of(leaf)[0]} and {n}")
    policy = _loop_policy(checkpoint, "scan")
    if policy is not None and n > 0:
        return policy.scan(f, init, xs, n, reverse)
    stage = staging_trace()
    if stage is not None:
        return stage.stage_scan(f, init, xs, n, reverse)  # type: ignore[attr-defined]
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


# ---------------------------------------------------------------------------------------------
# the primitives that stage control flow: declared here (name, implementation, abstract
# evaluation), their rules attached by the graph engine (graph/control.py)


class SubProgram(Protocol):
    """What the control primitives need of a parameter holding a branch or a loop body (the graph
    engine's `Graph`): its inputs and outputs (each with a shape and a dtype), and these."""

    inputs: list[Any]
    outputs: list[Any]

    def compiled_for(self, values: Sequence[Any]) -> Callable[..., list[Any]]:
        """Its generated code (inputs in, the list of outputs out) for operands like `values`,
        built on first use: with NumPy's `out=` buffers for NumPy's own values; for another
        array library's, without, and its array constants made in that library."""

    def out_avals(self) -> list[tuple[tuple[int, ...], np.dtype]]:
        """The shape and dtype of each output."""

    def check_operands(self, name: str, types: list[tuple[tuple[int, ...], Any]],
                       what: str) -> None:
        """Raise `error` unless the operands (shape, dtype) fit the inputs."""

    def error(self, message: str) -> Exception:
        """The engine's exception for an equation that misuses this program."""


def _type(x: Any) -> tuple[tuple[int, ...], np.dtype]:
    return tuple(shape_of(x)), dtype_of(x)


def _split3(args: Sequence[Any], a: int, b: int) -> tuple[list[Any], list[Any], list[Any]]:
    return list(args[:a]), list(args[a:a + b]), list(args[a + b:])


# cond: operands (pred, *ops); the branches (false, true) take ops

def _cond_impl(pred: Any, *ops: Any, branches: tuple[SubProgram, SubProgram]) -> list[Any]:
    return (branches[1] if pred else branches[0]).compiled_for(ops)(*ops)


def _cond_abstract(pred: Any, *ops: Any, branches: tuple[SubProgram, SubProgram]) -> list[Any]:
    if shape_of(pred) != ():
        raise branches[0].error(f"cond: the predicate must be a scalar, not {shape_of(pred)}")
    for g, which in zip(branches, ("false branch", "true branch")):
        g.check_operands("cond", [_type(x) for x in ops], which)
    return branches[0].out_avals()


cond_p = Primitive("cond", _cond_impl, _cond_abstract, multiple_results=True)


# while_loop: operands (cond's constants, body's constants, carry)

def _while_impl(*args: Any, cond: SubProgram, body: SubProgram, n_cond: int, n_body: int
                ) -> list[Any]:
    cc, bc, carry = _split3(args, n_cond, n_body)
    test, step = cond.compiled_for(args), body.compiled_for(args)
    while test(*cc, *carry)[0]:
        carry = step(*bc, *carry)
    return carry


def _while_abstract(*args: Any, cond: SubProgram, body: SubProgram, n_cond: int, n_body: int
                    ) -> list[Any]:
    cc, bc, carry = _split3(args, n_cond, n_body)
    cond.check_operands("while_loop", [_type(x) for x in cc + carry], "cond_fun")
    body.check_operands("while_loop", [_type(x) for x in bc + carry], "body_fun")
    return [_type(x) for x in carry]


while_p = Primitive("while_loop", _while_impl, _while_abstract, multiple_results=True)


# scan: operands (constants, carry, xs); the body maps (constants, carry, x) to (carry, y)

def _scan_impl(*args: Any, body: SubProgram, n_consts: int, n_carry: int, length: int,
               reverse: bool) -> list[Any]:
    consts, carry, xs = _split3(args, n_consts, n_carry)
    step = body.compiled_for(args)
    order = range(length - 1, -1, -1) if reverse else range(length)
    if not numpy_values(args):  # (another library's ys, stacked by it: written into a NumPy
        rows: list[list[Any]] = [[] for _ in body.out_avals()[n_carry:]]  # array they would
        for i in order:                                                   # leave their library)
            out = step(*consts, *carry, *[x[i] for x in xs])
            carry = out[:n_carry]
            for row, v in zip(rows, out[n_carry:]):
                row.append(v)
        ys = [np.stack(row[::-1] if reverse else row) if row else np.empty((0,) + s, d)
              for row, (s, d) in zip(rows, body.out_avals()[n_carry:])]
        return list(carry) + ys
    ys = [np.empty((length,) + s, d) for s, d in body.out_avals()[n_carry:]]
    for i in order:
        out = step(*consts, *carry, *[x[i] for x in xs])
        carry = out[:n_carry]
        for y, v in zip(ys, out[n_carry:]):
            y[i] = v
    return list(carry) + ys


def _scan_abstract(*args: Any, body: SubProgram, n_consts: int, n_carry: int, length: int,
                   reverse: bool) -> list[Any]:
    consts, carry, xs = _split3(args, n_consts, n_carry)
    for x in xs:
        if shape_of(x)[:1] != (length,):
            raise body.error(f"scan: xs of shape {shape_of(x)} has no leading axis {length}")
    body.check_operands("scan", [_type(x) for x in consts + carry]
                        + [(tuple(shape_of(x)[1:]), dtype_of(x)) for x in xs], "its body")
    outs = body.out_avals()
    return outs[:n_carry] + [((length,) + s, d) for s, d in outs[n_carry:]]


scan_p = Primitive("scan", _scan_impl, _scan_abstract, multiple_results=True)
