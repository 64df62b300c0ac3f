"""`chainrule.scipy.optimize`: `minimize`, `root` and `fixed_point` with SciPy's signatures, their
solutions differentiable with respect to `args` by implicit differentiation.

SciPy solves the problem on plain values, exactly as `scipy.optimize` would; its iterations are
never differentiated. The solution's derivative with respect to the parameters (SciPy's `args`,
and traced values the function closes over) comes from the optimality condition at the
solution, F(x*, args) = 0, by the implicit function theorem (`chainrule.implicit`):

- `minimize`: F = the gradient of `fun` in x; the linear equations of the derivative have the
  Hessian as their matrix, applied by Hessian-vector products;
- `root`: F = `fun`; the matrix is its Jacobian in x;
- `fixed_point`: F(x) = func(x) - x.

The derivative's linear equations are solved densely up to `DENSE_MAX` unknowns (one product
per column, then a factorisation), above that matrix-free: conjugate gradients for the
(symmetric) Hessian of `minimize`, GMRES otherwise. Every transform works: forward and reverse
mode, every method, any order (the rules are written with chainrule's transforms of `fun`, so
they differentiate again; a Hessian of the solution uses third derivatives of `fun`).

`fun` must be written with `chainrule.numpy` (or NumPy functions applied to traced values, which
dispatch to it): chainrule differentiates it. Where SciPy would estimate derivatives by finite
differences (`jac=None`), it is given chainrule's exact gradient instead (the Jacobian for
`root`'s 'hybr' and 'lm'), and the Hessian-vector product (the Hessian) for the methods that
take one when neither `hess` nor `hessp` is given. A `jac` of your own is used by SciPy only.

`minimize` and `root` return SciPy's `OptimizeResult` whose `x` (and, for `minimize`, `fun`,
recomputed at the differentiable `x`) carry the derivative; `fixed_point` returns the array, as
SciPy does. SciPy's other fields (`success`, `nit`, ...) are those of the solve that ran; while a
graph is being traced (`method="graph"`, `cr.jit`) the solve runs later, so the result has `x`
and `fun` only. The derivative of a constrained minimiser (`constraints`, or a bound active at
the solution) needs the KKT conditions and is refused with a NotImplementedError; the values are
computed as usual.

Examples
--------
Ridge regression's coefficients as a function of the penalty, differentiated through BFGS:

>>> import numpy as np
>>> import chainrule as cr
>>> import chainrule.numpy as cnp
>>> from chainrule.scipy import optimize
>>> X = np.array([[1.0, 0.5], [0.3, 2.0], [1.5, -1.0]])
>>> y = np.array([1.0, 2.0, 0.5])
>>> def loss(w, lam):
...     return 0.5 * cnp.sum((X @ w - y) ** 2) + 0.5 * lam * cnp.sum(w ** 2)
>>> def w_of(lam):
...     return optimize.minimize(loss, np.zeros(2), args=(lam,), method="BFGS",
...                              options={"gtol": 1e-12}).x
>>> dw = cr.jacfwd(w_of)(0.1)
>>> w = np.linalg.solve(X.T @ X + 0.1 * np.eye(2), X.T @ y)           # closed form
>>> exact = -np.linalg.solve(X.T @ X + 0.1 * np.eye(2), w)            # dw/dlam
>>> print(np.allclose(dw, exact, rtol=1e-7))
True
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.optimize as _so
import scipy.sparse.linalg as _spla

from .. import implicit
from .._core import tree
from .._core.primitive import Tracer, shape_of
from ..ops import shape as S
from ..overload import transforms as overload

#: up to this many unknowns the derivative's linear equations are solved densely; above,
#: matrix-free (conjugate gradients for minimize's Hessian, GMRES otherwise)
DENSE_MAX = 64
#: the relative residual the iterative solvers of the derivative's equations reach
RTOL = 1e-10

_DERIVATIVE_FREE = {"nelder-mead", "powell", "cobyla", "cobyqa"}
_TAKES_HESSP = {"newton-cg", "trust-ncg", "trust-krylov", "trust-constr"}
_NEEDS_HESS = {"dogleg", "trust-exact"}
_TAKES_JAC_ROOT = {"hybr", "lm"}


# ---------------------------------------------------------------------------------------------
# what the three functions share

class _Setup:
    """The user's function and `args` split into operands (arrays, traced values: what the
    implicit primitive takes) and the static rest; `parts(ps)` rebuilds both from operands."""

    def __init__(self, fun: Callable[..., Any], args: Any, name: str) -> None:
        if not callable(fun):
            raise TypeError(f"{name}: the function must be callable, got {type(fun).__name__}")
        self.args = args if isinstance(args, tuple) else (args,)  # (as SciPy does)
        self.conv = implicit.ClosureConversion(fun)
        self.given = implicit.Params(self.args)
        self.n_given = len(self.given.values)
        self.operands = self.given.values + self.conv.consts

    def take_operands(self) -> list[Any]:
        """The operands, handed over: what the solver's parameter keeps (and compiled code with
        it) must not hold traced values, or it would keep their trace alive."""
        ops, self.operands, self.args = self.operands, [], ()
        self.conv.consts, self.given.values = [], []
        return ops

    def parts(self, ps: Sequence[Any]) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return self.conv.rebuild(ps[self.n_given:]), self.given.rebuild(ps[:self.n_given])

    def checked(self, f: Callable[..., Any], name: str) -> Callable[..., Any]:
        """`f` as SciPy calls it (plain values), refusing a traced value it returns: one it
        reached in a way the closure conversion could not see."""
        level = implicit.current_level()

        def call(x: Any, *a: Any) -> Any:
            out = f(x, *a)
            implicit.refuse_outer_traced(tree.flatten(out)[0], level, name, "the function")
            return out
        return call


def _vector_x0(x0: Any, name: str, flatten: bool) -> Any:
    """The initial guess as SciPy takes it: 1-d (a scalar becomes shape (1,)); `flatten` ravels
    any shape (root), otherwise more than one dimension is refused (minimize)."""
    if not isinstance(x0, Tracer):
        x0 = np.asarray(x0, dtype=np.float64)
    shape = shape_of(x0)
    if len(shape) == 1:
        return x0
    if len(shape) > 1 and not flatten:
        raise ValueError(f"{name}: x0 must have one dimension (as in SciPy), got shape {shape}; "
                         f"ravel it and reshape inside fun")
    return S.reshape(x0, (-1,))


def _scalar(out: Any, name: str) -> Any:
    s = shape_of(out)
    if s == ():
        return out
    if int(np.prod(s)) == 1:
        return S.reshape(out, ())
    raise ValueError(f"{name}: fun must return a scalar, got an array of shape {s}")


def _plain(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A chainrule-computed derivative handed to SciPy as a plain float array."""
    def call(x: Any, *a: Any) -> np.ndarray:
        return np.asarray(fn(x, *a), dtype=np.float64)
    return call


def _linear_solve(g: Callable[[Any], Any], y: Any, symmetric: bool, name: str) -> Any:
    """g(v) = y on plain values: dense when small, else CG (symmetric) or GMRES."""
    matvec, b, to_tree = implicit.as_matrix(g, y)
    n = b.size
    if n <= DENSE_MAX:
        return implicit.dense_solve(g, y)
    op = _spla.LinearOperator((n, n), matvec=matvec, dtype=np.float64)
    if symmetric:
        v, info = _spla.cg(op, b, rtol=RTOL, atol=0.0, maxiter=10 * n)
        if info == 0:
            return to_tree(v)
        # (not positive definite, or slow: GMRES asks nothing of the matrix but an inverse)
    v, info = _spla.gmres(op, b, rtol=RTOL, atol=0.0, restart=min(n, 50), maxiter=10 * n)
    if info != 0:
        raise RuntimeError(f"{name}: the linear equations of the implicit derivative did not "
                           f"converge (GMRES, {n} unknowns); is the solution an isolated one "
                           f"(an invertible {'Hessian' if symmetric else 'Jacobian'})?")
    return to_tree(v)


#: a solution SciPy reported as failed is still differentiated when a Newton step from it moves
#: no entry by more than this (relative to 1 + max |x|): "precision loss" at the optimum
NEWTON_STEP_TOL = 1e-6


def _warn_if_unsolved(record: dict[str, Any], name: str, g: Callable[[Any], Any],
                      residual: Callable[[Any], Any], xs: list[Any], symmetric: bool) -> None:
    """When SciPy reported failure, estimate how far x is from a solution (one Newton step,
    once per solve) and warn when the derivative would be taken at a point that is not one."""
    res = record.get("result")
    if res is None or bool(res.get("success", True)) or record.get("checked"):
        return
    record["checked"] = True
    x = np.asarray(xs[0], dtype=np.float64)
    step = np.asarray(_linear_solve(g, np.asarray(residual(x), dtype=np.float64), symmetric,
                                    name))
    moved = float(np.max(np.abs(step), initial=0.0))
    if moved > NEWTON_STEP_TOL * (1.0 + float(np.max(np.abs(x), initial=0.0))):
        warnings.warn(f"{name}: SciPy reported failure ({res.get('message', '')!s}) and x is "
                      f"not a solution: a Newton step from it moves an entry by {moved:.3g}. "
                      f"The implicit derivative assumes x solves the problem: tighten the "
                      f"solver's options or raise its iteration limit", RuntimeWarning,
                      stacklevel=2)


class OptimizeResult:
    """The result of `minimize` and `root`: SciPy's `OptimizeResult` fields, read as attributes
    or items (`res.x`, `res["x"]`), with `x` (and `fun`) differentiable.

    A pytree whose children are `fun` and `x` (the other fields are static), so a transformed
    function may return it whole. Not a `dict` subclass as SciPy's is: the source engine pairs a
    dict's derivative with a plain dict, which would not match it.

    Parameters
    ----------
    fields : dict
        The fields.

    Examples
    --------
    >>> from chainrule.scipy.optimize import OptimizeResult
    >>> res = OptimizeResult({"x": 1.0, "success": True})
    >>> print(res.x, res["success"], sorted(res.keys()))
    1.0 True ['success', 'x']
    """

    def __init__(self, fields: dict[str, Any]) -> None:
        object.__setattr__(self, "_fields", dict(fields))

    def __getattr__(self, name: str) -> Any:
        if name == "_fields":  # (not yet set: copying, unpickling)
            raise AttributeError(name)
        try:
            return self._fields[name]
        except KeyError:
            raise AttributeError(f"OptimizeResult has no field {name!r} (fields: "
                                 f"{', '.join(sorted(self._fields))})") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._fields[name] = value

    def __getitem__(self, name: str) -> Any:
        return self._fields[name]

    def __contains__(self, name: object) -> bool:
        return name in self._fields

    def __iter__(self) -> Any:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def keys(self) -> Any:
        """The field names."""
        return self._fields.keys()

    def items(self) -> Any:
        """(name, value) pairs."""
        return self._fields.items()

    def get(self, name: str, default: Any = None) -> Any:
        """A field, or `default` when there is none."""
        return self._fields.get(name, default)

    def __dir__(self) -> list[str]:
        return sorted(set(self._fields) | set(super().__dir__()))

    def __repr__(self) -> str:
        return repr(_so.OptimizeResult(self._fields))


#: the fields that may carry a derivative: a result's children as a pytree (the others are
#: static: SciPy's counters, flags, messages and plain arrays)
_CHILDREN = ("fun", "x")


class _Fields:
    """The static fields of a result, as a pytree's auxiliary data. Two results have the same
    structure when they have the same fields (values aside: a derivative is unflattened with
    the fields of whichever result gave the structure)."""

    __slots__ = ("fields", "_names")

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields
        self._names = tuple(sorted(fields))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Fields) and self._names == other._names

    def __hash__(self) -> int:
        return hash(self._names)

    def __repr__(self) -> str:
        return f"fields{self._names}"


def _flatten_result(res: OptimizeResult) -> tuple[tuple[Any, ...], Any]:
    names = tuple(k for k in _CHILDREN if k in res._fields)
    rest = _Fields({k: v for k, v in res._fields.items() if k not in names})
    return tuple(res._fields[k] for k in names), (names, rest)


def _unflatten_result(aux: Any, children: Any) -> OptimizeResult:
    names, rest = aux
    return OptimizeResult({**rest.fields, **dict(zip(names, children))})


tree.register(OptimizeResult, _flatten_result, _unflatten_result)


def _result(record: dict[str, Any], **fields: Any) -> OptimizeResult:
    res = record.get("result")
    out = {} if res is None else dict(res)
    out.update(fields)
    return OptimizeResult(out)


# ---------------------------------------------------------------------------------------------
# minimize

def _active_bounds(bounds: Any, x: np.ndarray) -> np.ndarray:
    """Which entries of x sit on one of their bounds."""
    if isinstance(bounds, _so.Bounds):
        lb, ub = bounds.lb, bounds.ub
    else:
        pairs = list(bounds)
        lb = [-np.inf if p[0] is None else p[0] for p in pairs]
        ub = [np.inf if p[1] is None else p[1] for p in pairs]
    lb = np.broadcast_to(np.asarray(lb, dtype=np.float64), x.shape)
    ub = np.broadcast_to(np.asarray(ub, dtype=np.float64), x.shape)
    near = np.sqrt(np.finfo(np.float64).eps) * (1.0 + np.abs(x))
    return (x - lb <= near) | (ub - x <= near)  # type: ignore[no-any-return]


def _has_constraints(constraints: Any) -> bool:
    if constraints is None:
        return False
    if isinstance(constraints, (dict, _so.LinearConstraint, _so.NonlinearConstraint)):
        return True
    return len(constraints) > 0


def minimize(fun: Callable[..., Any], x0: Any, args: Any = (), method: Any = None,
             jac: Any = None, hess: Any = None, hessp: Any = None, bounds: Any = None,
             constraints: Any = (), tol: float | None = None, callback: Any = None,
             options: dict[str, Any] | None = None) -> OptimizeResult:
    """`scipy.optimize.minimize`, its minimiser differentiable with respect to `args`.

    SciPy minimises `fun(x, *args)` on plain values; the result's `x` is differentiable with
    respect to the floating-point leaves of `args` (and traced values `fun` closes over) by
    implicit differentiation of the optimality condition grad_x fun(x*, args) = 0: the
    derivative solves H dx = -d(grad)/d(args) with the Hessian H applied by Hessian-vector
    products (dense up to `DENSE_MAX` unknowns, conjugate gradients above). `x0` gets no
    derivative.

    Parameters
    ----------
    fun : callable
        `fun(x, *args)`, a scalar, written with `chainrule.numpy` (or NumPy on traced values).
        With `jac=True` it returns `(value, gradient)`, as in SciPy.
    x0 : array_like
        The initial guess, 1-d (a scalar becomes shape (1,)).
    args : tuple, optional
        The extra arguments of `fun` (a non-tuple is one argument): the parameters.
    method, jac, hess, hessp, bounds, constraints, tol, callback, options
        As in `scipy.optimize.minimize`. With `jac=None` (and a method that uses gradients)
        SciPy is given chainrule's exact gradient instead of finite differences; 'Newton-CG',
        'trust-ncg', 'trust-krylov' and 'trust-constr' get chainrule's Hessian-vector product,
        'dogleg' and 'trust-exact' its Hessian, when neither `hess` nor `hessp` is given.

    Returns
    -------
    OptimizeResult
        SciPy's result, with `x` the differentiable minimiser and `fun` the objective
        recomputed there (differentiable too).

    Raises
    ------
    NotImplementedError
        When a derivative is taken of a minimiser with `constraints` or on an active bound.
    ValueError
        When `x0` has more than one dimension or `fun` does not return a scalar.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> from chainrule.scipy import optimize
    >>> f = lambda x, a: (x[0] - a) ** 2 + 0.5 * (x[1] + 2.0 * a) ** 2
    >>> print(np.round(cr.jacfwd(lambda a: optimize.minimize(f, np.zeros(2), (a,)).x)(1.0), 6))
    [ 1. -2.]
    """
    setup = _Setup(fun, args, "minimize")
    x0 = _vector_x0(x0, "minimize", flatten=False)
    record: dict[str, Any] = {}
    constrained = _has_constraints(constraints)

    def value(f: Callable[..., Any], x: Any, a: tuple[Any, ...]) -> Any:
        out = f(x, *a)
        return _scalar(out[0] if jac is True else out, "minimize")

    def make(ps: Sequence[Any]) -> Callable[[Any], Any]:
        f, a = setup.parts(ps)

        def gradient(x: Any) -> Any:
            return overload.grad(lambda y: value(f, y, a))(x)
        return gradient

    def forward(x_start: Any, ps: list[Any]) -> Any:
        f, a = setup.parts(ps)
        meth = method.lower() if isinstance(method, str) else method
        kw: dict[str, Any] = dict(method=method, jac=jac, hess=hess, hessp=hessp,
                                  bounds=bounds, constraints=constraints, tol=tol,
                                  callback=callback, options=options)

        def objective(x: Any) -> Any:
            return value(f, x, a)

        if jac is None and meth not in _DERIVATIVE_FREE:
            kw["jac"] = _plain(lambda x, *_: overload.grad(objective)(x))
        if hess is None and hessp is None:
            if meth in _TAKES_HESSP:
                kw["hessp"] = _plain(lambda x, p, *_: overload.hvp(objective, (x,), (p,)))
            elif meth in _NEEDS_HESS:
                kw["hess"] = _plain(lambda x, *_: overload.hessian(objective)(x))
        res = _so.minimize(setup.checked(f, "minimize"), x_start, args=a, **kw)
        record.update(result=res, checked=False)
        return res.x

    def linear(g: Callable[[Any], Any], y: Any, xs: list[Any], ps: Any,
               transposed: bool) -> Any:
        if constrained:
            raise NotImplementedError(
                "minimize: the derivative of a constrained minimiser needs its KKT conditions "
                "(the constraints' multipliers), which are not implemented; differentiate an "
                "unconstrained (e.g. penalised or reparametrised) problem instead")
        if bounds is not None:
            on = _active_bounds(bounds, np.asarray(xs[0], dtype=np.float64))
            if np.any(on):
                raise NotImplementedError(
                    f"minimize: the minimiser sits on a bound in entries "
                    f"{np.flatnonzero(on).tolist()}; its derivative there needs the KKT "
                    f"conditions, which are not implemented (only minimisers strictly inside "
                    f"their bounds are differentiated)")
        _warn_if_unsolved(record, "minimize", g, make(ps), xs, True)
        return _linear_solve(g, y, True, "minimize")

    operands = setup.take_operands()
    x = implicit.solve_root(make, x0, operands, forward, linear, name="minimize",
                            symmetric=True)
    f, a = setup.parts(operands)
    return _result(record, x=x, fun=value(f, x, a))


# ---------------------------------------------------------------------------------------------
# root

def root(fun: Callable[..., Any], x0: Any, args: Any = (), method: str = "hybr",
         jac: Any = None, tol: float | None = None, callback: Any = None,
         options: dict[str, Any] | None = None) -> OptimizeResult:
    """`scipy.optimize.root`, its root differentiable with respect to `args`.

    SciPy solves `fun(x, *args) = 0` on plain values; the result's `x` is differentiable with
    respect to the floating-point leaves of `args` (and traced values `fun` closes over) by the
    implicit function theorem: dx = -J^{-1} d(fun)/d(args), with J the Jacobian in x (dense up
    to `DENSE_MAX` unknowns, GMRES above). `x0` gets no derivative.

    Parameters
    ----------
    fun : callable
        `fun(x, *args)`, a vector of x's size, written with `chainrule.numpy` (or NumPy on
        traced values). With `jac=True` it returns `(value, jacobian)`, as in SciPy.
    x0 : array_like
        The initial guess; raveled to 1-d, as SciPy's 'hybr' does, so `fun` receives 1-d x.
    args : tuple, optional
        The extra arguments of `fun` (a non-tuple is one argument): the parameters.
    method, jac, tol, callback, options
        As in `scipy.optimize.root`. With `jac=None`, the methods that use a Jacobian ('hybr',
        'lm') are given chainrule's exact one instead of finite differences.

    Returns
    -------
    OptimizeResult
        SciPy's result, with `x` the differentiable root.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> from chainrule.scipy import optimize
    >>> import chainrule.numpy as cnp
    >>> F = lambda x, a: cnp.stack([x[0] + x[1] - a, x[0] - x[1] - 1.0])
    >>> print(np.round(cr.jacfwd(lambda a: optimize.root(F, np.zeros(2), (a,)).x)(3.0), 6))
    [0.5 0.5]
    """
    setup = _Setup(fun, args, "root")
    x0 = _vector_x0(x0, "root", flatten=True)
    record: dict[str, Any] = {}

    def value(f: Callable[..., Any], x: Any, a: tuple[Any, ...]) -> Any:
        out = f(x, *a)
        return out[0] if jac is True else out

    def make(ps: Sequence[Any]) -> Callable[[Any], Any]:
        f, a = setup.parts(ps)
        return lambda x: value(f, x, a)

    def forward(x_start: Any, ps: list[Any]) -> Any:
        f, a = setup.parts(ps)
        use_jac = jac
        if jac is None and isinstance(method, str) and method.lower() in _TAKES_JAC_ROOT:
            use_jac = _plain(lambda x, *_: overload.jacfwd(lambda y: value(f, y, a))(x))
        g = setup.checked(f, "root")
        res = _so.root(_plain(g) if jac is not True else g, x_start, args=a, method=method,
                       jac=use_jac, tol=tol, callback=callback, options=options)
        record.update(result=res, checked=False)
        return res.x

    def linear(g: Callable[[Any], Any], y: Any, xs: Any, ps: Any, transposed: bool) -> Any:
        _warn_if_unsolved(record, "root", g, make(ps), xs, False)
        return _linear_solve(g, y, False, "root")

    x = implicit.solve_root(make, x0, setup.take_operands(), forward, linear, name="root")
    return _result(record, x=x)


# ---------------------------------------------------------------------------------------------
# fixed_point

def fixed_point(func: Callable[..., Any], x0: Any, args: Any = (), xtol: float = 1e-08,
                maxiter: int = 500, method: str = "del2") -> Any:
    """`scipy.optimize.fixed_point`, its fixed point differentiable with respect to `args`.

    SciPy iterates `x = func(x, *args)` on plain values; the fixed point it returns is
    differentiable with respect to the floating-point leaves of `args` (and traced values
    `func` closes over): dx = (I - J)^{-1} d(func)/d(args), J the Jacobian of `func` in x (dense
    up to `DENSE_MAX` unknowns, GMRES above). `x0` gets no derivative.

    Parameters
    ----------
    func : callable
        `func(x, *args)`, of x's shape, written with `chainrule.numpy` (or NumPy on traced
        values).
    x0 : array_like
        The starting point (any shape).
    args : tuple, optional
        The extra arguments of `func` (a non-tuple is one argument): the parameters.
    xtol, maxiter, method
        As in `scipy.optimize.fixed_point`.

    Returns
    -------
    ndarray
        The fixed point, of `x0`'s shape (differentiable), as SciPy returns it.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> from chainrule.scipy import optimize
    >>> g = lambda a: optimize.fixed_point(lambda x, a: np.cos(a * x), 0.5, (a,), xtol=1e-12)
    >>> print(round(float(g(1.0)), 9), round(float(cr.grad(g)(1.0)), 9))
    0.739085133 -0.297474342
    """
    setup = _Setup(func, args, "fixed_point")
    if not isinstance(x0, Tracer):
        x0 = np.asarray(x0, dtype=np.float64)

    def make(ps: Sequence[Any]) -> Callable[[Any], Any]:
        f, a = setup.parts(ps)
        return lambda x: f(x, *a) - x

    def forward(x_start: Any, ps: list[Any]) -> Any:
        f, a = setup.parts(ps)
        return _so.fixed_point(_plain(setup.checked(f, "fixed_point")), x_start, args=a,
                               xtol=xtol, maxiter=maxiter, method=method)

    def linear(g: Callable[[Any], Any], y: Any, xs: Any, ps: Any, transposed: bool) -> Any:
        return _linear_solve(g, y, False, "fixed_point")

    return implicit.solve_root(make, x0, setup.take_operands(), forward, linear,
                               name="fixed_point")


__all__ = ["minimize", "root", "fixed_point", "OptimizeResult"]
