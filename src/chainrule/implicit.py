"""Solutions of equations, differentiated implicitly: `custom_root` and `fixed_point`.

A solver's iterations are never differentiated. The solution x*(p) of F(x, p) = 0 is computed on
plain values by whatever solver the user gives (a NumPy Newton loop, SciPy, a black box), and
its derivative comes from the implicit function theorem: with A = dF/dx and B = dF/dp at the
solution,

    forward  (JVP)   x_dot = -A^{-1} B p_dot
    reverse  (VJP)   p_bar = -B^T A^{-T} x_bar

one linear solve per direction. Two call primitives carry this to every interpreter:

- `custom_root` (operands: the initial guess's leaves, then the parameters' leaves): its
  implementation runs the solver; its JVP rule and its custom reverse rule are the formulas
  above, written with chainrule's own transforms of F, so that they differentiate again
  (Hessians, any order);
- `root_linear_solve` (operands: the right-hand side, the solution, the parameters): the
  solution of A v = b (or A^T v = b). Its implementation calls the linear solver on plain
  values; its rules are those of a linear solve whose matrix depends on the solution and the
  parameters (d(A^{-1} b) = A^{-1}(db - dA A^{-1} b)), so reverse mode transposes the solve
  instead of the solver, and second derivatives differentiate the matrix.

Both primitives have an abstract evaluation (the solution has the initial guess's shape), so
the graph engine records them as single equations that run the solvers when the compiled code
runs. Parameters reach the primitives as explicit operands: a function that closes over values
being differentiated is converted first (its closure cells, defaults and `functools.partial`
arguments holding traced values become operands, as JAX's `closure_convert` does); a traced
value reached any other way (an attribute of an object, a global) is refused with an error
that says to pass it explicitly.

Examples
--------
>>> import chainrule as cr
>>> def newton(f, x):
...     for _ in range(30):
...         x = x - f(x) / cr.grad(f)(x)
...     return x
>>> sqrt = lambda a: cr.custom_root(lambda x: x * x - a, 1.0, newton, lambda g, y: y / g(1.0))
>>> print(round(float(sqrt(2.0)), 12), round(float(cr.grad(sqrt)(4.0)), 12))
1.414213562373 0.25
"""
from __future__ import annotations

import functools
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._core import tree
from ._core.primitive import Primitive, Trace, Tracer, dtype_of, open_trace, shape_of
from ._core.rules import Zero, def_custom_rule, def_rule
from .ops import elementwise as E
from .ops._batching import loop_batch  # (a solver batches one solve per example)
from .overload import transforms as overload

#: up to this many unknowns, the default linear solvers build the matrix (one product per
#: column) and factorise it; above, they iterate (matrix-free)
DENSE_MAX = 64

Aval = tuple[tuple[int, ...], np.dtype]


# ---------------------------------------------------------------------------------------------
# closure conversion: the traced values a function reaches become explicit operands

class ClosureConversion:
    """The traced values a function reaches, made explicit (JAX's `closure_convert`).

    Finds the traced values a function reaches through its closure cells, its defaults,
    `functools.partial` arguments, containers (pytrees) held there and bound methods' pytree
    owners, recursively through the functions it closes over; `rebuild(values)` makes a copy
    of the function with other values in their places (the original is left alone). What it
    cannot reach (an attribute of an object, a global) stays in the function: the solvers'
    own check then refuses it (`refuse_outer_traced`).

    Parameters
    ----------
    fn : callable
        The function.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.implicit import ClosureConversion
    >>> def probe(a):
    ...     conv = ClosureConversion(lambda x: x * a)
    ...     print(len(conv.consts), conv.rebuild([10.0])(2.0))
    ...     return a
    >>> _ = cr.grad(probe)(3.0)      # a traced value: made an explicit slot
    1 20.0
    >>> _ = probe(3.0)               # a plain value stays in the function
    0 6.0
    """

    _MAX_DEPTH = 16

    def __init__(self, fn: Any) -> None:
        self.consts: list[Any] = []
        self._slot: dict[int, int] = {}  # id(tracer) -> its operand
        self._plans: dict[int, Any] = {}
        self._plan = self._find(fn, 0)
        # (the plans keep what they rebuild from without the traced values, and the function
        # itself is kept only where it reaches none: a conversion travels as a primitive's
        # parameter, into compiled code, which must not keep a trace alive)
        self.fn = fn if self._plan is None else None
        self._plans.clear()
        self._slot.clear()

    def rebuild(self, values: Sequence[Any]) -> Any:
        """The function with `values` in place of `consts` (the function itself when it reaches
        no traced value)."""
        return self.fn if self._plan is None else self._plan(values)

    def _find(self, obj: Any, depth: int) -> Callable[[Sequence[Any]], Any] | None:
        if isinstance(obj, Tracer):
            k = self._slot.get(id(obj))
            if k is None:
                k = self._slot[id(obj)] = len(self.consts)
                self.consts.append(obj)
            return functools.partial(_pick, k)
        if depth > self._MAX_DEPTH:
            return None
        key = id(obj)
        if key in self._plans:  # (seen: shared helpers, and recursive functions' own cells)
            return self._plans[key]  # type: ignore[no-any-return]
        self._plans[key] = None
        plan = self._find_in(obj, depth)
        self._plans[key] = plan
        return plan

    def _find_in(self, obj: Any, depth: int) -> Callable[[Sequence[Any]], Any] | None:
        if isinstance(obj, types.FunctionType):
            return self._function(obj, depth)
        if isinstance(obj, functools.partial):
            fn = self._find(obj.func, depth + 1)
            args = [self._find(a, depth + 1) for a in obj.args]
            kws = {k: self._find(v, depth + 1) for k, v in obj.keywords.items()}
            if fn is None and all(a is None for a in args) and \
                    all(v is None for v in kws.values()):
                return None
            kept = functools.partial(
                obj.func if fn is None else _placeholder,
                *[a if p is None else None for a, p in zip(obj.args, args)],
                **{k: v if kws[k] is None else None for k, v in obj.keywords.items()})
            return functools.partial(_rebuild_partial, kept, fn, args, kws)
        if isinstance(obj, types.MethodType):
            fn = self._find(obj.__func__, depth + 1)
            owner = self._find(obj.__self__, depth + 1)
            if fn is None and owner is None:
                return None
            return functools.partial(_rebuild_method, None if fn else obj.__func__,
                                     None if owner else obj.__self__, fn, owner)
        if isinstance(obj, (str, bytes, np.ndarray, np.generic, float, int, complex)):
            return None
        leaves, td = tree.flatten(obj)
        if td is tree.LEAF:
            return None
        plans = [self._find(x, depth + 1) for x in leaves]
        if all(p is None for p in plans):
            return None
        kept_leaves = [x if p is None else None for x, p in zip(leaves, plans)]
        return functools.partial(_rebuild_tree, td, kept_leaves, plans)

    def _function(self, fn: types.FunctionType, depth: int) -> Any:
        cells = fn.__closure__ or ()
        cell_plans = []
        for cell in cells:
            try:
                content = cell.cell_contents
            except ValueError:  # (an empty cell: a variable not assigned yet)
                cell_plans.append(None)
                continue
            cell_plans.append(self._find(content, depth + 1))
        defaults = fn.__defaults__ or ()
        default_plans = [self._find(d, depth + 1) for d in defaults]
        kwdefaults = fn.__kwdefaults__ or {}
        kw_plans = {k: self._find(v, depth + 1) for k, v in kwdefaults.items()}
        if all(p is None for p in cell_plans) and all(p is None for p in default_plans) and \
                all(p is None for p in kw_plans.values()):
            return None
        # (a copy of the function without the cells and defaults that the plans fill in)
        kept = types.FunctionType(
            fn.__code__, fn.__globals__, fn.__name__,
            None if fn.__defaults__ is None else
            tuple(d if p is None else None for d, p in zip(defaults, default_plans)),
            tuple(c if p is None else types.CellType(None)
                  for c, p in zip(cells, cell_plans)) or None)
        kept.__kwdefaults__ = None if fn.__kwdefaults__ is None else \
            {k: v if kw_plans.get(k) is None else None for k, v in kwdefaults.items()}
        kept.__qualname__, kept.__module__ = fn.__qualname__, fn.__module__
        return functools.partial(_rebuild_function, kept, cell_plans, default_plans, kw_plans)


def _pick(k: int, values: Sequence[Any]) -> Any:
    return values[k]


def _rebuild_function(fn: types.FunctionType, cell_plans: list[Any], default_plans: list[Any],
                      kw_plans: dict[str, Any], values: Sequence[Any]) -> types.FunctionType:
    """A copy of `fn` (same code, same globals) whose closure cells and defaults hold the new
    values; the original function and its cells are left alone."""
    cells = fn.__closure__ or ()
    closure = tuple(c if p is None else types.CellType(p(values))
                    for c, p in zip(cells, cell_plans))
    defaults = fn.__defaults__
    if defaults is not None:
        defaults = tuple(d if p is None else p(values) for d, p in zip(defaults, default_plans))
    new = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, defaults,
                             closure or None)
    if fn.__kwdefaults__ is not None:
        new.__kwdefaults__ = {k: v if kw_plans.get(k) is None else kw_plans[k](values)
                              for k, v in fn.__kwdefaults__.items()}
    new.__qualname__ = fn.__qualname__
    new.__module__ = fn.__module__
    return new


def _rebuild_partial(obj: functools.partial, fn: Any, args: list[Any], kws: dict[str, Any],
                     values: Sequence[Any]) -> functools.partial:
    return functools.partial(
        obj.func if fn is None else fn(values),
        *[a if p is None else p(values) for a, p in zip(obj.args, args)],
        **{k: v if kws[k] is None else kws[k](values) for k, v in obj.keywords.items()})


def _rebuild_method(func: Any, self_: Any, fn: Any, owner: Any,
                    values: Sequence[Any]) -> types.MethodType:
    return types.MethodType(func if fn is None else fn(values),
                            self_ if owner is None else owner(values))


def _placeholder(*args: Any, **kwargs: Any) -> Any:
    """Stands for a partial's function that its plan rebuilds (never called)."""
    raise RuntimeError("a closure conversion's placeholder was called")


def _rebuild_tree(td: tree.TreeDef, leaves: list[Any], plans: list[Any],
                  values: Sequence[Any]) -> Any:
    return tree.unflatten(td, [x if p is None else p(values) for x, p in zip(leaves, plans)])


# ---------------------------------------------------------------------------------------------
# parameters: the leaves that become operands and the ones that stay as they are

def _is_operand(x: Any) -> bool:
    """Arrays, NumPy scalars, Python floats and traced values travel as operands; Python ints
    and bools (often sizes and flags), strings, callables and other objects stay static."""
    if isinstance(x, bool):
        return False
    return isinstance(x, (Tracer, np.ndarray, np.generic, float, complex))


class Params:
    """A pytree of parameters split into operands (`values`) and the static rest.

    Parameters
    ----------
    params : Any
        The parameters (a pytree).
    """

    def __init__(self, params: Any) -> None:
        leaves, self.td = tree.flatten(params)
        self.slots = [k for k, x in enumerate(leaves) if _is_operand(x)]
        self.values = [leaves[k] for k in self.slots]
        # (the static rest only: the operands travel as operands, see ClosureConversion)
        operand = set(self.slots)
        self.leaves = [None if k in operand else x for k, x in enumerate(leaves)]

    def rebuild(self, values: Sequence[Any]) -> Any:
        """The parameters with `values` in the operands' places."""
        leaves = list(self.leaves)
        for k, v in zip(self.slots, values):
            leaves[k] = v
        return tree.unflatten(self.td, leaves)


# ---------------------------------------------------------------------------------------------
# the problem: what both primitives carry as their parameter

class Problem:
    """One root-finding call: F and the solvers, on flat leaves. The primitives' parameter
    (compared by identity, so the graph engine's passes never merge two problems).

    Parameters
    ----------
    make : callable
        `make(params) -> residual`, where `params` are the parameter operands and
        `residual(x)` is F(x, params) for x in the solution's structure (written with
        chainrule's operations: it is differentiated).
    forward : callable
        `forward(x0, params) -> x`: the solver, called with plain values only.
    linear : callable
        `linear(g, y, x, params, transposed) -> v`: solves g(v) = y for the linear map `g` (A,
        or A^T when `transposed`), on plain values; `x` and `params` are the solution's and the
        parameters' leaves.
    x_td : TreeDef
        The solution's structure.
    x_avals : list
        The solution leaves' (shape, dtype).
    name : str
        The public function, for messages.
    symmetric : bool
        Whether A is symmetric (a Hessian): A^T is then A itself.
    """

    def __init__(self, make: Callable[[Sequence[Any]], Callable[[Any], Any]],
                 forward: Callable[[Any, list[Any]], Any], linear: Callable[..., Any],
                 x_td: tree.TreeDef, x_avals: list[Aval], name: str,
                 symmetric: bool = False) -> None:
        self.make = make
        self.forward = forward
        self.linear = linear
        self.x_td = x_td
        self.x_avals = x_avals
        self.n = len(x_avals)
        self.name = name
        self.symmetric = symmetric

    def __repr__(self) -> str:
        return f"<{self.name} problem>"

    def residual(self, xs: Sequence[Any], ps: Sequence[Any]) -> list[Any]:
        """F(x, p) on leaves, checked to have the solution's structure and shapes."""
        out = self.make(ps)(tree.unflatten(self.x_td, xs))
        return self.leaves_of(out, "its function")

    def leaves_of(self, value: Any, what: str) -> list[Any]:
        leaves, td = tree.flatten(value)
        if td != self.x_td:
            raise ValueError(f"{self.name}: {what} returned a value of structure {td}; it must "
                             f"have the structure of the initial guess, {self.x_td}")
        for v, (shape, _) in zip(leaves, self.x_avals):
            if shape_of(v) != shape:
                raise ValueError(f"{self.name}: {what} returned an array of shape "
                                 f"{shape_of(v)} where the initial guess has shape {shape}")
        return leaves

    def plain(self, value: Any, what: str) -> list[Any]:
        """Leaves of a solver's result, as arrays of the solution's dtypes."""
        leaves = self.leaves_of(value, what)
        _refuse_traced(leaves, self.name, what)
        out = []
        for v, (_, dt) in zip(leaves, self.x_avals):
            a = np.asarray(v, dtype=dt)
            out.append(a[()] if a.ndim == 0 else a)
        return out


def _closure_message(name: str, what: str) -> str:
    return (f"{name}: {what} reaches a value being differentiated that {name} could not make "
            f"an explicit argument (an attribute of an object, a global). Pass that value as a "
            f"parameter explicitly (the params of cr.fixed_point, the args of the SciPy "
            f"functions), or read it into a local variable the function closes over")


def _refuse_traced(leaves: Sequence[Any], name: str, what: str) -> None:
    """Solvers run on plain values: a traced value in what the user's function returned there
    came through a closure the conversion could not see."""
    if any(isinstance(v, Tracer) for v in leaves):
        raise TypeError(_closure_message(name, what))


def current_level() -> int:
    """The level of the innermost interpreter open in this thread (0: none).

    Returns
    -------
    int
        The level; interpreters opened later have higher ones.

    Examples
    --------
    >>> from chainrule.implicit import current_level
    >>> current_level()
    0
    """
    with open_trace(Trace) as probe:
        return probe.level - 1


def refuse_outer_traced(leaves: Sequence[Any], level: int, name: str, what: str) -> None:
    """Refuse a value traced by an interpreter opened before a solver ran.

    A solver may transform the user's function itself (Newton's method takes its derivative):
    tracers of interpreters it opened are its own. One of an interpreter at `level` or below,
    open before the solver ran, came through a closure the conversion could not see.

    Parameters
    ----------
    leaves : sequence
        What the user's function returned, flattened.
    level : int
        `current_level()` when the solver started.
    name, what : str
        The public function and the user's function, for the message.

    Raises
    ------
    TypeError
        Saying to pass the value explicitly.
    """
    for v in leaves:
        while isinstance(v, Tracer):
            if v._trace.level <= level:
                raise TypeError(_closure_message(name, what))
            v = v._below()


def _on_closure(args: Any, *, problem: Problem, **params: Any) -> Any:
    raise TypeError(_closure_message(problem.name, "its function"))


# ---------------------------------------------------------------------------------------------
# differentiating F: with chainrule's own transforms, so that the rules differentiate again

def _push(fn: Callable[..., list[Any]], primals: Sequence[Any],
          tangents: Sequence[Any]) -> list[Any]:
    """The directional derivative of `fn` (leaves -> list of leaves) at `primals`."""
    _, out_t, _ = overload.jvp_flat(fn, tuple(primals), tuple(range(len(primals))),
                                    [[t] for t in tangents])
    return list(out_t)


def _pull(fn: Callable[..., list[Any]], primals: Sequence[Any],
          cts: Sequence[Any]) -> list[Any]:
    """The cotangents of `primals` of `fn` (leaves -> list of leaves) pulled back from `cts`."""
    _, vjp_fn, _ = overload.vjp_flat(fn, tuple(primals), {}, tuple(range(len(primals))),
                                     False, "implicit differentiation", retain=False)
    return list(vjp_fn(list(cts)))


def _with(values: Sequence[Any], idx: Sequence[int], new: Sequence[Any]) -> list[Any]:
    out = list(values)
    for k, v in zip(idx, new):
        out[k] = v
    return out


def _moving(values: Sequence[Any], tangents: Sequence[Any]) -> list[int]:
    """The floating-point entries whose tangent is not the symbolic zero."""
    return [k for k, (v, t) in enumerate(zip(values, tangents))
            if t is not Zero and t is not None and tree.is_float_leaf(v)]


def _product(problem: Problem, transposed: bool, v: Sequence[Any], xs: Sequence[Any],
             ps: Sequence[Any]) -> list[Any]:
    """M v, with M = A = dF/dx at (xs, ps), or A^T when `transposed` (A when symmetric)."""
    def at_x(*x: Any) -> list[Any]:
        return problem.residual(list(x), ps)

    if transposed and not problem.symmetric:
        return _pull(at_x, xs, v)
    return _push(at_x, xs, v)


# ---------------------------------------------------------------------------------------------
# the root primitive

def _root_impl(*ops: Any, problem: Problem) -> list[Any]:
    if any(isinstance(v, Tracer) or dtype_of(v).kind == "O" for v in ops):
        # (the symbolic engine hands implementations arrays of symbols)
        raise NotImplementedError(
            f"{problem.name}: the solution of an equation has no closed form, so it cannot be "
            f"computed on symbols (method='symbolic'); use method='overload', 'graph' or "
            f"'source'")
    n = problem.n
    x0 = tree.unflatten(problem.x_td, ops[:n])
    return problem.plain(problem.forward(x0, list(ops[n:])), "its solver")


def _root_abstract(*avals: Any, problem: Problem) -> list[Aval]:
    return problem.x_avals


def _root_jvp(primals: list[Any], tangents: list[Any], *,
              problem: Problem) -> tuple[list[Any], list[Any]]:
    n = problem.n
    xs = root_p.bind(*primals, problem=problem)
    ps = primals[n:]
    idx = _moving(ps, tangents[n:])  # (the initial guess's tangent does not matter)
    if not idx:
        return xs, [Zero] * n

    def at_p(*q: Any) -> list[Any]:
        return problem.residual(xs, _with(ps, idx, q))

    rhs = _push(at_p, [ps[k] for k in idx], [tangents[n + k] for k in idx])
    v = linear_solve_p.bind(*rhs, *xs, *ps, problem=problem, transposed=False)
    return xs, [E.neg(t) for t in v]


def _root_fwd(*ops: Any, problem: Problem) -> tuple[list[Any], Any]:
    xs = root_p.bind(*ops, problem=problem)
    return xs, (ops, xs)


def _root_bwd(res: Any, cts: list[Any], needed: list[int], *,
              problem: Problem) -> list[Any]:
    ops, xs = res
    n = problem.n
    ps = list(ops[n:])
    out: list[Any] = [None] * len(ops)  # (the initial guess gets none)
    idx = [i - n for i in needed if i >= n and tree.is_float_leaf(ops[i])]
    if not idx:
        return out
    w = linear_solve_p.bind(*cts, *xs, *ps, problem=problem, transposed=True)

    def at_p(*q: Any) -> list[Any]:
        return problem.residual(xs, _with(ps, idx, q))

    for k, g in zip(idx, _pull(at_p, [ps[k] for k in idx], w)):
        out[n + k] = E.neg(g)
    return out


root_p = Primitive("custom_root", _root_impl, _root_abstract, multiple_results=True)
def_rule(root_p, jvp=_root_jvp, batch=loop_batch(root_p))
def_custom_rule(root_p, fwd=_root_fwd, bwd=_root_bwd, on_closure=_on_closure)


# ---------------------------------------------------------------------------------------------
# the linear solve of the derivative: A v = b (or A^T v = b) with A = dF/dx at the solution

def _linear_impl(*args: Any, problem: Problem, transposed: bool) -> list[Any]:
    n = problem.n
    b, xs, ps = list(args[:n]), list(args[n:2 * n]), list(args[2 * n:])

    def at_x(*x: Any) -> list[Any]:
        return problem.residual(list(x), ps)

    td = problem.x_td
    if transposed and not problem.symmetric:
        _, pullback = overload.vjp(at_x, *xs)  # (recorded once, pulled back per product)

        def g(v: Any) -> Any:
            return tree.unflatten(td, list(pullback(problem.leaves_of(v, "g's argument"))))
    else:
        _, push = overload.linearize(at_x, *xs)  # (recorded once, replayed per product)

        def g(v: Any) -> Any:
            return tree.unflatten(td, list(push(*problem.leaves_of(v, "g's argument"))))

    got = problem.linear(g, tree.unflatten(td, b), xs, ps, transposed)
    return problem.plain(got, "its linear solver")


def _linear_jvp(primals: list[Any], tangents: list[Any], *, problem: Problem,
                transposed: bool) -> tuple[list[Any], list[Any]]:
    n = problem.n
    v = linear_solve_p.bind(*primals, problem=problem, transposed=transposed)
    ops = primals[n:]
    idx = _moving(ops, tangents[n:])
    r = [Zero if t is None else t for t in tangents[:n]]
    if idx:
        def moved(*q: Any) -> list[Any]:
            full = _with(ops, idx, q)
            return _product(problem, transposed, v, full[:n], full[n:])

        dm = _push(moved, [ops[k] for k in idx], [tangents[n + k] for k in idx])
        r = [E.neg(d) if a is Zero else E.sub(a, d) for a, d in zip(r, dm)]
    if all(a is Zero for a in r):
        return v, [Zero] * n
    r = [np.zeros(shape, dt) if a is Zero else a for a, (shape, dt) in zip(r, problem.x_avals)]
    return v, linear_solve_p.bind(*r, *ops, problem=problem, transposed=transposed)


def _linear_fwd(*args: Any, problem: Problem, transposed: bool) -> tuple[list[Any], Any]:
    v = linear_solve_p.bind(*args, problem=problem, transposed=transposed)
    return v, (args, v)


def _linear_bwd(res: Any, cts: list[Any], needed: list[int], *, problem: Problem,
                transposed: bool) -> list[Any]:
    args, v = res
    n = problem.n
    ops = list(args[n:])
    out: list[Any] = [None] * len(args)
    w = linear_solve_p.bind(*cts, *ops, problem=problem, transposed=not transposed)
    for i in needed:
        if i < n:
            out[i] = w[i]
    idx = [i - n for i in needed if i >= n and tree.is_float_leaf(args[i])]
    if idx:
        def moved(*q: Any) -> list[Any]:
            full = _with(ops, idx, q)
            return _product(problem, transposed, v, full[:n], full[n:])

        for k, g in zip(idx, _pull(moved, [ops[k] for k in idx], w)):
            out[n + k] = E.neg(g)
    return out


def _linear_abstract(*avals: Any, problem: Problem, transposed: bool) -> list[Aval]:
    return problem.x_avals


linear_solve_p = Primitive("root_linear_solve", _linear_impl, _linear_abstract,
                           multiple_results=True)
def_rule(linear_solve_p, jvp=_linear_jvp, batch=loop_batch(linear_solve_p))
def_custom_rule(linear_solve_p, fwd=_linear_fwd, bwd=_linear_bwd, on_closure=_on_closure)


# ---------------------------------------------------------------------------------------------
# the entry point shared by custom_root, fixed_point and chainrule.scipy.optimize

def _aval(x: Any) -> Aval:
    dt = dtype_of(x)
    return shape_of(x), (dt if dt.kind == "f" else np.dtype(np.float64))


def solve_root(make: Callable[[Sequence[Any]], Callable[[Any], Any]], x0: Any,
               params: Sequence[Any], forward: Callable[[Any, list[Any]], Any],
               linear: Callable[..., Any], *, name: str, symmetric: bool = False) -> Any:
    """The solution of F(x, params) = 0, differentiable with respect to `params` by the implicit
    function theorem (the building block of `custom_root`, `fixed_point` and
    `chainrule.scipy.optimize`).

    Parameters
    ----------
    make : callable
        `make(params)` returns F(., params), a function of x written with chainrule operations.
    x0 : pytree of arrays
        The initial guess; the solution has its structure, shapes and (floating) dtypes. It
        gets no derivative.
    params : sequence
        The parameter operands (arrays, numbers, traced values).
    forward : callable
        `forward(x0, params)`, on plain values: the solution.
    linear : callable
        `linear(g, y, x, params, transposed)`, on plain values: v with g(v) = y.
    name : str
        The public function's name, for messages.
    symmetric : bool, optional
        Whether dF/dx is symmetric (F a gradient).

    Returns
    -------
    pytree
        The solution, in `x0`'s structure.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.implicit import solve_root, dense_solve
    >>> def cube_root(a):
    ...     return solve_root(lambda p: (lambda x: x ** 3 - p[0]), 1.0, [a],
    ...                       lambda x0, p: float(p[0]) ** (1 / 3),
    ...                       lambda g, y, x, p, t: dense_solve(g, y), name="cube_root")
    >>> print(round(float(cube_root(8.0)), 12), round(float(cr.grad(cube_root)(8.0)), 12))
    2.0 0.083333333333
    """
    x_leaves, x_td = tree.flatten(x0)
    if not x_leaves:
        raise ValueError(f"{name}: the initial guess has no arrays; give one array (or a pytree "
                         f"of arrays) of the solution's shape")
    for x in x_leaves:
        if not (isinstance(x, (Tracer, np.ndarray, np.generic, float, int)) and
                dtype_of(x).kind in "fiu") or isinstance(x, bool):
            raise TypeError(f"{name}: the initial guess must hold real numbers (arrays or "
                            f"floats); got a leaf of type {type(x).__name__}")
    problem = Problem(make, forward, linear, x_td, [_aval(x) for x in x_leaves], name,
                      symmetric)
    outs = root_p.bind(*x_leaves, *params, problem=problem)
    return tree.unflatten(x_td, outs)


# ---------------------------------------------------------------------------------------------
# default linear solvers, on plain values

def ravel_leaves(leaves: Sequence[Any]) -> np.ndarray:
    """The leaves (plain arrays) as one vector."""
    return np.concatenate([np.ravel(np.asarray(v, dtype=np.float64)) for v in leaves]) \
        if leaves else np.zeros(0)


def unravel_like(vec: np.ndarray, like: Sequence[Any]) -> list[Any]:
    """A vector cut into arrays of the shapes of `like`'s leaves."""
    out, at = [], 0
    for v in like:
        shape = np.shape(v)
        size = int(np.prod(shape))
        out.append(vec[at:at + size].reshape(shape))
        at += size
    return out


def as_matrix(g: Callable[[Any], Any], y: Any) -> tuple[Callable[[np.ndarray], np.ndarray],
                                                        np.ndarray, Callable[[np.ndarray], Any]]:
    """A linear map `g` on pytrees shaped like `y` as a map of vectors: (matvec, y as a vector,
    vector -> pytree)."""
    y_leaves, td = tree.flatten(y)

    def to_tree(vec: np.ndarray) -> Any:
        return tree.unflatten(td, unravel_like(vec, y_leaves))

    def matvec(vec: np.ndarray) -> np.ndarray:
        return ravel_leaves(tree.flatten(g(to_tree(np.asarray(vec, dtype=np.float64))))[0])

    return matvec, ravel_leaves(y_leaves), to_tree


def dense_solve(g: Callable[[Any], Any], y: Any) -> Any:
    """Solve g(v) = y for a linear map `g` on pytrees of arrays by forming its matrix (one
    product per unknown) and factorising it.

    Parameters
    ----------
    g : callable
        The linear map.
    y : pytree of arrays
        The right-hand side.

    Returns
    -------
    pytree
        v, in `y`'s structure.

    Raises
    ------
    ValueError
        When the matrix is singular: the solution is not isolated, so it has no derivative.

    Examples
    --------
    >>> import numpy as np
    >>> from chainrule.implicit import dense_solve
    >>> print(dense_solve(lambda v: np.array([2.0, 4.0]) * v, np.array([1.0, 1.0])))
    [0.5  0.25]
    """
    matvec, b, to_tree = as_matrix(g, y)
    n = b.size
    a = np.empty((n, n))
    for k in range(n):
        e = np.zeros(n)
        e[k] = 1.0
        a[:, k] = matvec(e)
    try:
        return to_tree(np.linalg.solve(a, b))
    except np.linalg.LinAlgError:
        raise ValueError(
            "the linearised equations at the solution are singular (dF/dx has no inverse): "
            "the solution is not an isolated root, so it has no derivative") from None


def _iterate_fixed_point(g: Callable[[Any], Any], y: Any, tol: float, max_iter: int,
                         name: str) -> Any:
    """(J - I) v = y for g(v) = J v - v, by the linear fixed-point iteration v <- J v - y,
    which converges exactly when the forward iteration x <- T(x) does near its fixed point
    (J's spectral radius below 1)."""
    matvec, b, to_tree = as_matrix(g, y)
    v = -b
    for _ in range(max_iter):
        new = matvec(v) + v - b
        if np.max(np.abs(new - v), initial=0.0) <= tol * (1.0 + np.max(np.abs(new),
                                                                        initial=0.0)):
            return to_tree(new)
        v = new
    raise RuntimeError(f"{name}: the linear equations of the derivative did not converge in "
                       f"max_iter={max_iter} iterations (the map is not a contraction near "
                       f"its fixed point); raise max_iter")


# ---------------------------------------------------------------------------------------------
# the public functions

def custom_root(f: Callable[[Any], Any], initial_guess: Any,
                solve: Callable[[Callable[[Any], Any], Any], Any],
                tangent_solve: Callable[[Callable[[Any], Any], Any], Any]) -> Any:
    """A root of `f` found by `solve`, differentiated implicitly (JAX's `custom_root`).

    The root x* of f(x) = 0 is computed by `solve` on plain values: its iterations are never
    differentiated, so it may be any black box (a NumPy loop, SciPy). The derivative of x* with
    respect to whatever `f` depends on besides x comes from the implicit function theorem:
    x_dot = -A^{-1} (df/dp) p_dot with A = df/dx at the root, one call of `tangent_solve` per
    direction. Forward and reverse mode, every method and any order: the rules are written
    with chainrule's transforms of `f`, so they differentiate again.

    Parameters
    ----------
    f : callable
        `f(x)`, the function whose root is sought, written with chainrule (or NumPy on traced
        values) operations; it returns a value of x's structure and shapes. Its parameters are
        what it closes over: traced values in its closure cells, defaults and
        `functools.partial` arguments (and in the functions it closes over) are made explicit
        arguments of the solve, as JAX's `closure_convert` does. A traced value it reaches
        another way (an attribute of an object, a global) is refused with a `TypeError`.
    initial_guess : pytree of arrays
        Where `solve` starts; the root has its structure. It gets no derivative.
    solve : callable
        `solve(f, initial_guess)` returns the root; called with plain values only.
    tangent_solve : callable
        `tangent_solve(g, y)` returns v with g(v) = y, for a linear function `g` on x's
        structure (for a scalar x, `lambda g, y: y / g(1.0)`; in general
        `chainrule.implicit.dense_solve`). Called with plain values only. Reverse mode
        calls it with the transposed map, as JAX does.

    Returns
    -------
    pytree
        The root, in `initial_guess`'s structure.

    Raises
    ------
    TypeError
        When `f` reaches a traced value that cannot be made an explicit argument.
    ValueError
        When `f`, `solve` or `tangent_solve` returns a value of the wrong structure or shape.

    See Also
    --------
    fixed_point : the solution of x = T(x, *params), found by iteration.

    Examples
    --------
    The square root as the root of x^2 - a, found by Newton's method; its derivative 1/(2 sqrt a)
    comes from the implicit function theorem, not from the iterations:

    >>> import chainrule as cr
    >>> def newton(f, x):
    ...     for _ in range(30):
    ...         x = x - f(x) / cr.grad(f)(x)
    ...     return x
    >>> def sqrt(a):
    ...     return cr.custom_root(lambda x: x ** 2 - a, 1.0, newton, lambda g, y: y / g(1.0))
    >>> print(round(float(sqrt(9.0)), 12), round(float(cr.grad(sqrt)(9.0)), 12))
    3.0 0.166666666667
    >>> print(round(float(cr.grad(cr.grad(sqrt))(9.0)), 12))   # -a^(-3/2) / 4
    -0.009259259259
    """
    conv = ClosureConversion(f)

    def make(ps: Sequence[Any]) -> Callable[[Any], Any]:
        return conv.rebuild(ps)  # type: ignore[no-any-return]

    def forward(x0: Any, ps: list[Any]) -> Any:
        fn = make(ps)
        level = current_level()
        calls: list[None] = []

        def residual(x: Any) -> Any:
            calls.append(None)
            out = fn(x)
            refuse_outer_traced(tree.flatten(out)[0], level, "custom_root", "f")
            return out

        x = solve(residual, x0)
        if not calls and tree.flatten(x)[1] == tree.flatten(x0)[1]:
            # a solver that never evaluates f (a closed form, a table): f is evaluated once at
            # its answer, so that a traced value f reaches where the conversion cannot see it
            # (an attribute, a global) is refused here too; the derivative would leave it out
            residual(x)
        return x

    def linear(g: Callable[[Any], Any], y: Any, xs: Any, ps: Any, transposed: bool) -> Any:
        return tangent_solve(g, y)

    operands, conv.consts = conv.consts, []  # (handed over: see ClosureConversion)
    return solve_root(make, initial_guess, operands, forward, linear, name="custom_root")


def fixed_point(T: Callable[..., Any], x0: Any, *params: Any, tol: float = 1e-10,  # noqa: N803
                max_iter: int = 10_000) -> Any:
    """The fixed point x* = T(x*, *params), found by iteration, differentiated implicitly.

    Forward: x <- T(x, *params) from `x0` on plain values until no entry moves by more than
    tol * (1 + max |x|). Derivative: by the implicit function theorem applied to
    F(x, p) = T(x, p) - x, that is x_dot = (I - dT/dx)^{-1} (dT/dp) p_dot: one linear solve per
    direction (dense up to `DENSE_MAX` unknowns, otherwise the same iteration on the linear
    equations, which converges when the forward one does). The iterations are never
    differentiated, the derivative with respect to `x0` is zero, and every transform works
    (forward and reverse mode, every method, any order).

    Parameters
    ----------
    T : callable
        `T(x, *params)`, written with chainrule (or NumPy on traced values) operations; it
        returns a value of x's structure and shapes. Traced values it closes over are made
        explicit arguments too, as for `custom_root`.
    x0 : pytree of arrays
        The starting point; the fixed point has its structure. It gets no derivative.
    *params : Any
        The parameters (pytrees): the fixed point is differentiable with respect to their
        floating-point leaves.
    tol : float, optional
        The convergence tolerance (of the forward iteration and of the derivative's).
    max_iter : int, optional
        The most iterations; not converging by then raises `RuntimeError`.

    Returns
    -------
    pytree
        The fixed point, in `x0`'s structure.

    Raises
    ------
    RuntimeError
        When the iteration does not converge within `max_iter` steps.
    ValueError
        When `tol` or `max_iter` is not positive, or `T` returns a value of another structure.

    See Also
    --------
    custom_root : a root found by a solver of your own.

    Examples
    --------
    The fixed point of x = cos(a x), and its derivative in a:

    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> T = lambda x, a: cnp.cos(a * x)
    >>> x = cr.fixed_point(T, 0.5, 1.0)
    >>> print(round(float(x), 10))
    0.7390851332
    >>> # implicit: dx/da = -x sin(x) / (1 + sin(x)), at a = 1
    >>> print(round(float(cr.grad(lambda a: cr.fixed_point(T, 0.5, a))(1.0)), 10))
    -0.2974743415
    """
    if not tol > 0:
        raise ValueError(f"fixed_point: tol must be positive, got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or \
            max_iter < 1:
        raise ValueError(f"fixed_point: max_iter must be a positive integer, got {max_iter!r}")
    conv = ClosureConversion(T)
    given = Params(params)
    n_given = len(given.values)

    def make(ps: Sequence[Any]) -> Callable[[Any], Any]:
        fn = conv.rebuild(ps[n_given:])
        args = given.rebuild(ps[:n_given])

        def residual(x: Any) -> Any:
            y = fn(x, *args)
            return tree.unflatten(*_paired_sub(y, x))

        return residual

    def forward(x0: Any, ps: list[Any]) -> Any:
        fn = conv.rebuild(ps[n_given:])
        args = given.rebuild(ps[:n_given])
        x = x0
        x_leaves = tree.flatten(x0)[0]
        for _ in range(int(max_iter)):
            new = fn(x, *args)
            new_leaves = tree.flatten(new)[0]
            _refuse_traced(new_leaves, "fixed_point", "T")
            new_arrays = [np.asarray(v, dtype=np.float64) for v in new_leaves]
            if len(new_arrays) != len(x_leaves):
                return new  # (the structure check of the caller explains)
            change = max((float(np.max(np.abs(a - np.asarray(b, dtype=np.float64)),
                                        initial=0.0))
                          for a, b in zip(new_arrays, x_leaves)), default=0.0)
            scale = max((float(np.max(np.abs(a), initial=0.0)) for a in new_arrays),
                        default=0.0)
            x, x_leaves = new, new_arrays
            if change <= tol * (1.0 + scale):
                return x
        raise RuntimeError(f"fixed_point: the iteration did not converge in max_iter="
                           f"{max_iter} steps (is T a contraction near its fixed point?); "
                           f"raise max_iter or tol")

    def linear(g: Callable[[Any], Any], y: Any, xs: Any, ps: Any, transposed: bool) -> Any:
        if sum(int(np.size(v)) for v in xs) <= DENSE_MAX:
            return dense_solve(g, y)
        return _iterate_fixed_point(g, y, tol, int(max_iter), "fixed_point")

    operands = given.values + conv.consts
    given.values, conv.consts = [], []  # (handed over: see ClosureConversion)
    return solve_root(make, x0, operands, forward, linear, name="fixed_point")


def _paired_sub(y: Any, x: Any) -> tuple[tree.TreeDef, list[Any]]:
    """T(x) - x leaf by leaf (T's structure; the caller checks it is x's)."""
    y_leaves, y_td = tree.flatten(y)
    x_leaves, x_td = tree.flatten(x)
    if y_td != x_td:
        return y_td, y_leaves
    return y_td, [E.sub(a, b) for a, b in zip(y_leaves, x_leaves)]


__all__ = ["custom_root", "fixed_point", "solve_root", "dense_solve", "ClosureConversion",
           "Params", "Problem", "DENSE_MAX", "current_level", "refuse_outer_traced"]
