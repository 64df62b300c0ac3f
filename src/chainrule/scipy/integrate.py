"""`chainrule.scipy.integrate`: `trapezoid`, and the ODE solvers `odeint` and `solve_ivp`,
differentiated by the adjoint method in reverse mode and by the sensitivity equations in forward
mode.

`trapezoid` is written with chainrule.numpy, so every method differentiates it.

The ODE solvers own one primitive, `odeint` (`odeint_p`), which solves an initial value problem
on plain NumPy values with SciPy (`scipy.integrate.odeint`, LSODA, for `odeint`;
`scipy.integrate.solve_ivp` with its `method` for `solve_ivp`), calling the user's function on
plain arrays. Its rules never look inside the solver's steps:

- forward mode (its JVP rule) solves the sensitivity equations: the state `y` and its tangent
  `s` move together, `s' = ∂f/∂y·s + ∂f/∂θ·θ̇` (`θ` the extra arguments), in one more solve;
- reverse mode (its custom forward/backward pair, as for the control-flow and `custom_vjp`
  primitives) keeps only the inputs and the solution at the output times, then integrates the
  adjoint system backwards between consecutive output times: the augmented state
  `[y, a, q]` with `y' = f`, `a' = -a·∂f/∂y`, `q' = -a·∂f/∂θ` (Chen et al. 2018; the
  convention of JAX's `odeint`), restarting `y` from the stored solution at each output time.
  Memory is constant in the number of solver steps; the gradient is that of the exact solution,
  up to the solver's tolerance;
- batching (`vmap`, and the bases `jacfwd`/`jacrev`/`hessian` push) joins the examples into one
  larger system whose right-hand side is the user's function under `vmap`.

The right-hand sides of those solves (the sensitivity system, the adjoint system, the batched
system) are built from the user's function with chainrule's own `jvp`, `vjp` and `vmap`, and the
solves are the same primitive again: so the rules differentiate again (`hessian` works: the
adjoint of the adjoint system), and every engine sees one operation. A graph (`method="graph"`,
`cr.jit`) records one equation per solve; the source engine reaches it through the rule table
like any library call.

Why a primitive here and not in `ops/`: its rules differentiate a user function with the overload
engine's transforms, which sit above `ops/` (the same reason `custom_vjp_call` lives in
custom.py). Why a primitive rather than a `custom_vjp`: forward mode must solve the sensitivity
equations, not transpose the backward pass, and a `custom_vjp` has one rule only.

Examples
--------
>>> import numpy as np
>>> import chainrule as cr
>>> from chainrule.scipy import integrate
>>> x = np.linspace(0.0, 1.0, 5)
>>> print(integrate.trapezoid(x ** 2, x))
0.34375
>>> print(cr.grad(lambda y: integrate.trapezoid(y, x))(x ** 2))
[0.125 0.25  0.25  0.25  0.125]

Exponential decay `y' = -k y`, `y(1) = exp(-k)`, and its derivative in `k`:

>>> decay = lambda y, t, k: -k * y
>>> y1 = lambda k: integrate.odeint(decay, 1.0, np.array([0.0, 1.0]), k)[-1]
>>> print(round(float(y1(0.5)), 6), round(float(cr.grad(y1)(0.5)), 6))
0.606531 -0.606531
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.integrate as _si

from .. import numpy as cnp
from .._core import tree
from .._core.errors import ConcretizationError
from .._core.primitive import (
    Primitive,
    Tracer,
    concrete_value,
    dtype_of,
    ndim_of,
    shape_of,
    zeros_like,
)
from .._core.rules import Zero, def_custom_rule, def_rule
from ..ops import shape as S
from ..ops._batching import loop_batch
from ..overload import transforms as overload


def trapezoid(y: Any, x: Any = None, dx: float = 1.0, axis: int = -1) -> Any:
    """The integral of `y` along `axis` by the trapezoidal rule, as `scipy.integrate.trapezoid`:
    sample points `x` (1-d along `axis`, or of y's shape), else the spacing `dx`."""
    y = cnp.asarray(y)
    n = ndim_of(y)
    if not -n <= axis < n:
        raise ValueError(f"trapezoid: axis={axis} is out of range for y with {n} dimension(s)")
    ym = cnp.moveaxis(y, axis, -1)
    mid = (ym[..., 1:] + ym[..., :-1]) / 2.0
    if x is None:
        return cnp.sum(mid, axis=-1) * dx
    x = cnp.asarray(x)
    if ndim_of(x) == 1:
        d = cnp.diff(x)
    else:
        d = cnp.diff(cnp.moveaxis(x, axis, -1), axis=-1)
    return cnp.sum(d * mid, axis=-1)


# ---------------------------------------------------------------------------------------------
# the primitive: operands (*y0 leaves, t, *parameter leaves); outputs one array per y0 leaf,
# of shape (len(t),) + leaf shape. `fun(ys, t, ps)` is the right-hand side on flat leaves.

#: the methods of scipy.integrate.solve_ivp (a string names one; "odeint" is LSODA through
#: scipy.integrate.odeint, JAX's keyword arguments)
IVP_METHODS = ("RK45", "RK23", "DOP853", "Radau", "BDF", "LSODA")


def _split(operands: Sequence[Any], n_y: int) -> tuple[list[Any], Any, list[Any]]:
    return list(operands[:n_y]), operands[n_y], list(operands[n_y + 1:])


def _out_dtype(d: Any) -> np.dtype:
    d = np.dtype(d)
    return d if np.issubdtype(d, np.floating) else np.dtype(np.float64)


def _plain_rates(fun: Any, ys: list[np.ndarray], t: float, ps: list[Any]) -> list[Any]:
    out = fun(ys, t, ps)
    for o in out:
        if isinstance(o, Tracer):
            raise TypeError(
                f"{_fun_name(fun)}: the right-hand side returned a traced value "
                f"({type(o).__name__}) when called on plain arrays: it closes over a value that "
                f"is being differentiated. Pass that value to the solver as an extra argument "
                f"(odeint(func, y0, t, *args) or solve_ivp(..., args=(...))) so that its "
                f"derivative comes from the adjoint")
    return out


def _fun_name(fun: Any) -> str:
    """The public name a right-hand side was given to (for messages)."""
    return getattr(fun, "solver", "odeint")


def _odeint_impl(*operands: Any, fun: Any, n_y: int, method: str, rtol: float, atol: float,
                 options: tuple[tuple[str, Any], ...]) -> list[np.ndarray]:
    for x in operands:
        if dtype_of(x) == np.dtype(object):
            # (the symbolic engine's arrays of expressions: a solution has no closed form)
            raise NotImplementedError(
                f"{_fun_name(fun)}: the solver needs numbers, not an array of objects (symbolic "
                f"expressions?); an ODE's solution has no closed form, so method='symbolic' "
                f"cannot differentiate it: use 'overload', 'graph' or 'source'")
    ys0, t, ps = _split(operands, n_y)
    t = np.asarray(t, dtype=np.float64)
    shapes = [shape_of(y) for y in ys0]
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    offsets = np.cumsum([0] + sizes)
    z0 = np.concatenate([np.ravel(np.asarray(y, dtype=np.float64)) for y in ys0])

    def rhs(z: np.ndarray, s: Any) -> np.ndarray:
        leaves = [z[offsets[k]:offsets[k + 1]].reshape(shapes[k]) for k in range(n_y)]
        out = _plain_rates(fun, leaves, np.float64(s), ps)
        return np.concatenate([np.ravel(np.asarray(o, dtype=np.float64)) for o in out])

    # repeated times (a zero-length interval of the adjoint sweep, t_eval starting at t0) are
    # solved once: SciPy's solve_ivp refuses them
    new = np.concatenate([[True], t[1:] != t[:-1]])
    distinct = t[new]
    if distinct.size == 1:
        zs = z0[None, :]
    elif method == "odeint":
        opts = dict(options)
        mxstep = opts.get("mxstep", np.inf)
        hmax = opts.get("hmax", np.inf)
        zs, info = _si.odeint(rhs, z0, distinct, rtol=rtol, atol=atol,
                              mxstep=int(min(mxstep, 2 ** 31 - 1)),
                              hmax=0.0 if np.isinf(hmax) else float(hmax), full_output=True)
        if info["message"] != "Integration successful.":
            reached = info["tcur"][-1] if len(info.get("tcur", ())) else distinct[0]
            raise RuntimeError(
                f"odeint: the solver stopped near t={reached:.6g} before reaching "
                f"t={distinct[-1]:.6g} ({info['message']}); raise mxstep, loosen rtol/atol, "
                f"or check func for a singularity")
    else:
        sol = _si.solve_ivp(lambda s, z: rhs(z, s), (distinct[0], distinct[-1]), z0,
                            method=method, t_eval=distinct, rtol=rtol, atol=atol,
                            **dict(options))
        if sol.status != 0 or sol.y.shape[1] != distinct.size:
            raise RuntimeError(
                f"solve_ivp: the solver stopped before reaching t={distinct[-1]:.6g} "
                f"({sol.message}); loosen rtol/atol, try method='LSODA' or 'BDF' for a stiff "
                f"problem, or check fun for a singularity")
        zs = sol.y.T
    zs = zs[np.cumsum(new) - 1]  # (each repeated time takes the value of its first)
    return [zs[:, offsets[k]:offsets[k + 1]].reshape((t.size,) + shapes[k])
            .astype(_out_dtype(dtype_of(y)), copy=False) for k, y in enumerate(ys0)]


def _odeint_abstract(*operands: Any, fun: Any, n_y: int, **params: Any) -> list[Any]:
    ys0, t, _ = _split(operands, n_y)
    if len(shape_of(t)) != 1:
        raise ValueError(f"{_fun_name(fun)}: the times must be a 1-d array, not of shape "
                         f"{shape_of(t)}")
    n_t = shape_of(t)[0]
    return [((n_t,) + shape_of(y), _out_dtype(dtype_of(y))) for y in ys0]


odeint_p = Primitive("odeint", _odeint_impl, _odeint_abstract, multiple_results=True)


# ---------------------------------------------------------------------------------------------
# the right-hand sides of the derived solves: plain callables of flat leaves; they hold the
# user's function and structure only (everything traced reaches them as operands)

class _Sensitivity:
    """The sensitivity system: state `[y, s]`, operands `[θ, θ̇ of the live parameters]`;
    `y' = f(y, t, θ)` and `s' = ∂f/∂y·s + ∂f/∂θ·θ̇` by chainrule's forward mode."""

    def __init__(self, fun: Any, n_y: int, n_p: int, live: list[int]) -> None:
        self.fun, self.n_y, self.n_p, self.live = fun, n_y, n_p, live
        self.solver = _fun_name(fun)

    def __call__(self, leaves: list[Any], t: Any, operands: list[Any]) -> list[Any]:
        n, fun, live = self.n_y, self.fun, self.live
        ps, p_dots = operands[:self.n_p], operands[self.n_p:]

        def rates(ys: list[Any], moving: list[Any]) -> list[Any]:
            full = list(ps)
            for k, p in zip(live, moving):
                full[k] = p
            return list(fun(ys, t, full))

        dy, ds = overload.jvp(rates, (list(leaves[:n]), [ps[k] for k in live]),
                              (list(leaves[n:]), list(p_dots)))
        return list(dy) + list(ds)


class _Adjoint:
    """The adjoint system, integrated backwards in time: state `[y, a, q]`, operands `θ`;
    `y' = f`, `a' = -a·∂f/∂y`, `q' = -a·∂f/∂θ` (for the parameters in `needed`), the vector-
    Jacobian products by chainrule's reverse mode."""

    def __init__(self, fun: Any, n_y: int, needed: list[int]) -> None:
        self.fun, self.n_y, self.needed = fun, n_y, needed
        self.solver = _fun_name(fun)

    def __call__(self, leaves: list[Any], t: Any, ps: list[Any]) -> list[Any]:
        n, fun, needed = self.n_y, self.fun, self.needed

        def rates(ys: list[Any], chosen: list[Any]) -> list[Any]:
            full = list(ps)
            for k, p in zip(needed, chosen):
                full[k] = p
            return list(fun(ys, t, full))

        dy, pull = overload.vjp(rates, list(leaves[:n]), [ps[k] for k in needed])
        a_bar, q_bar = pull(list(leaves[n:2 * n]))
        return list(dy) + [-g for g in a_bar] + [-g for g in q_bar]


class _Batched:
    """The right-hand side of a batch of problems joined into one: the user's function under
    `vmap`, every state leaf batched along axis 0, the parameters where `batched` says."""

    def __init__(self, fun: Any, n_y: int, batched: tuple[bool, ...]) -> None:
        self.fun, self.n_y, self.batched = fun, n_y, batched
        self.solver = _fun_name(fun)

    def __call__(self, leaves: list[Any], t: Any, ps: list[Any]) -> list[Any]:
        fun = self.fun
        axes = ([0] * self.n_y, [0 if b else None for b in self.batched])
        return list(overload.vmap(lambda ys, qs: list(fun(ys, t, qs)), in_axes=axes)(
            list(leaves), list(ps)))


# ---------------------------------------------------------------------------------------------
# forward mode: the sensitivity equations

def _odeint_jvp(primals: list[Any], tangents: list[Any], *, fun: Any, n_y: int,
                **params: Any) -> tuple[list[Any], list[Any]]:
    ys0, t, ps = _split(primals, n_y)
    y_dots, t_dot, p_dots = _split(tangents, n_y)
    live = [k for k, d in enumerate(p_dots) if d is not Zero]
    starts = list(y_dots)
    if t_dot is not Zero:
        # moving the initial time by dt0 with y0 held is moving y0 by -f(y0, t0) dt0
        f0 = fun(ys0, t[0], ps)
        starts = [d - f * t_dot[0] for d, f in zip(starts, f0)]
    if not live and all(s is Zero for s in starts):
        ans = odeint_p.bind(*primals, fun=fun, n_y=n_y, **params)
        out_dots: list[Any] = [Zero] * n_y
    else:
        starts = [zeros_like(y) if s is Zero else s for s, y in zip(starts, ys0)]
        outs = odeint_p.bind(*ys0, *starts, t, *ps, *[p_dots[k] for k in live],
                             fun=_Sensitivity(fun, n_y, len(ps), live), n_y=2 * n_y, **params)
        ans, out_dots = list(outs[:n_y]), list(outs[n_y:])
    if t_dot is not Zero:
        # each output moves with its time: dy_i += f(y_i, t_i) dt_i
        rates = overload.vmap(lambda ys, s: list(fun(ys, s, ps)), in_axes=([0] * n_y, 0))(
            list(ans), t)
        out_dots = [d + r * S.reshape(t_dot, shape_of(t_dot) + (1,) * (ndim_of(r) - 1))
                    for d, r in zip(out_dots, rates)]
    return list(ans), out_dots


# ---------------------------------------------------------------------------------------------
# reverse mode: the adjoint system, one backward solve per interval between output times

def _odeint_fwd(*operands: Any, fun: Any, n_y: int, **params: Any) -> tuple[list[Any], Any]:
    ys = odeint_p.bind(*operands, fun=fun, n_y=n_y, **params)
    return ys, (operands, ys)


def _dot(cts: list[Any], rates: list[Any]) -> Any:
    total: Any = 0.0
    for c, r in zip(cts, rates):
        total = total + cnp.sum(c * r)
    return total


def _odeint_bwd(res: Any, cts: list[Any], needed: list[int], *, fun: Any, n_y: int,
                **params: Any) -> list[Any]:
    operands, ys = res
    _, t, ps = _split(operands, n_y)
    cts = [zeros_like(y) if c is Zero or c is None else c for c, y in zip(cts, ys)]
    n_t = shape_of(t)[0]
    need_t = n_y in needed
    need_p = [k for k in range(len(ps)) if n_y + 1 + k in needed]
    adjoint = _Adjoint(fun, n_y, need_p)
    a = [c[n_t - 1] for c in cts]
    q: list[Any] = [zeros_like(ps[k]) for k in need_p]
    a_after_t0: list[Any] = [zeros_like(y[0]) for y in ys]  # (what later outputs send to t0)
    t_bar: list[Any] = []
    for i in range(n_t - 1, 0, -1):
        y_i = [y[i] for y in ys]
        if need_t:  # the output y_i moves with t_i at the rate f(y_i, t_i)
            t_bar.append(_dot([c[i] for c in cts], fun(y_i, t[i], ps)))
        back = cnp.stack([t[i], t[i - 1]])
        outs = odeint_p.bind(*y_i, *a, *q, back, *ps, fun=adjoint, n_y=2 * n_y + len(q),
                             **params)
        a = [o[1] for o in outs[n_y:2 * n_y]]
        q = [o[1] for o in outs[2 * n_y:]]
        if i == 1:
            a_after_t0 = a
        a = [x + c[i - 1] for x, c in zip(a, cts)]
    out: list[Any] = [None] * len(operands)
    out[:n_y] = a
    if need_t:
        # t0 moves every later output as y0 moving by -f(y0, t0) dt0 does (y_0 = y0 itself)
        t_bar.append(-_dot(a_after_t0, fun([y[0] for y in ys], t[0], ps)))
        out[n_y] = cnp.stack(t_bar[::-1])
    for k, g in zip(need_p, q):
        out[n_y + 1 + k] = g
    return out


# ---------------------------------------------------------------------------------------------
# batching: the examples joined into one system (or, with batched times, one solve each)

def _odeint_batch(args: list[Any], batched: tuple[bool, ...], *, fun: Any, n_y: int,
                  **params: Any) -> list[Any]:
    if batched[n_y]:  # each example its own times: its own steps
        return loop_batch(odeint_p)(args, batched, fun=fun, n_y=n_y, **params)
    size = next(shape_of(a)[0] for a, b in zip(args, batched) if b)
    ys0, t, ps = _split(args, n_y)
    ys_b = [y if b else S.broadcast_to(y, (size,) + shape_of(y))
            for y, b in zip(ys0, batched[:n_y])]
    outs = odeint_p.bind(*ys_b, t, *ps, fun=_Batched(fun, n_y, batched[n_y + 1:]), n_y=n_y,
                         **params)
    return [S.moveaxis(o, 1, 0) for o in outs]


def_rule(odeint_p, jvp=_odeint_jvp, batch=_odeint_batch)
def_custom_rule(odeint_p, fwd=_odeint_fwd, bwd=_odeint_bwd)


# ---------------------------------------------------------------------------------------------
# the public functions

class _UserRHS:
    """The user's right-hand side on flat leaves: `fun(ys, t, ps)` calls `func(y, t, *args)`
    (or `func(t, y, *args)`) with the pytrees rebuilt, the non-float arguments held as
    constants, and checks that the result has y0's structure and shapes."""

    def __init__(self, func: Callable[..., Any], solver: str, tfirst: bool, y_td: Any,
                 a_leaves: list[Any], a_td: Any, float_at: list[int]) -> None:
        self.func, self.solver, self.tfirst = func, solver, tfirst
        self.y_td, self.a_leaves, self.a_td, self.float_at = y_td, a_leaves, a_td, float_at

    def __call__(self, ys: list[Any], t: Any, ps: list[Any]) -> list[Any]:
        y = tree.unflatten(self.y_td, list(ys))
        full = list(self.a_leaves)
        for j, p in zip(self.float_at, ps):
            full[j] = p
        args = tree.unflatten(self.a_td, full)
        out = self.func(t, y, *args) if self.tfirst else self.func(y, t, *args)
        out_leaves, out_td = tree.flatten(out)
        what = "fun(t, y, *args)" if self.tfirst else "func(y, t, *args)"
        if out_td != self.y_td:
            raise ValueError(f"{self.solver}: {what} returned {tree.structure(out)}, but y0 has "
                             f"the structure {self.y_td}; it must return dy/dt shaped like y0 "
                             f"(build an array with chainrule.numpy.stack or .array)")
        for o, leaf in zip(out_leaves, ys):
            if shape_of(o) != shape_of(leaf):
                raise ValueError(f"{self.solver}: {what} returned an array of shape "
                                 f"{shape_of(o)} for y of shape {shape_of(leaf)}; dy/dt must "
                                 f"have the shape of y0")
        return out_leaves


def _state_leaf(x: Any, solver: str) -> Any:
    """A leaf of y0 as a floating-point array (integers become float64)."""
    if isinstance(x, Tracer):
        d = dtype_of(x)
    else:
        x = np.asarray(x)
        d = x.dtype
        if not np.issubdtype(d, np.inexact):
            if not np.issubdtype(d, np.number) and d != np.bool_:
                raise TypeError(f"{solver}: y0 must hold numbers, got an array of dtype {d}")
            x = x.astype(np.float64)
            d = x.dtype
    if np.issubdtype(d, np.complexfloating):
        raise TypeError(f"{solver}: complex y0 is not supported; split it into its real and "
                        f"imaginary parts (a real system of twice the size)")
    return x


def _times(t: Any, name: str, solver: str) -> Any:
    """`t` as a 1-d float array (a traced one is kept), its order checked where it has a
    value: strictly increasing (or, when `name` allows it, strictly decreasing)."""
    t = cnp.asarray(t)  # (a list may hold traced values)
    d = dtype_of(t)
    if not np.issubdtype(d, np.number) or np.issubdtype(d, np.complexfloating):
        raise TypeError(f"{solver}: {name} must hold real numbers, got dtype {d}")
    if not isinstance(t, Tracer):
        t = np.asarray(t, dtype=np.float64)
    if ndim_of(t) != 1 or shape_of(t)[0] < 1:
        raise ValueError(f"{solver}: {name} must be a 1-d array of at least one time, not of "
                         f"shape {shape_of(t)}")
    return t


def _value(x: Any) -> Any:
    """The plain value under every interpreter, or None where there is none (a graph being
    traced, a vmap batch)."""
    try:
        return np.asarray(concrete_value(x, "the solver's times"))
    except ConcretizationError:
        return None


def _parameters(args: tuple[Any, ...], solver: str) -> tuple[list[Any], Any, list[int],
                                                                 list[Any]]:
    """The leaves of the extra arguments: all of them, their structure, where the floating-point
    ones are, and those (the operands: the others are constants of the right-hand side)."""
    leaves, td = tree.flatten(tuple(args))
    float_at = [j for j, x in enumerate(leaves) if tree.is_float_leaf(x)]
    for j in float_at:
        if np.issubdtype(dtype_of(leaves[j]), np.complexfloating):
            raise TypeError(f"{solver}: complex arguments are not supported (argument leaf "
                            f"{j}); pass the real and imaginary parts separately")
    return leaves, td, float_at, [leaves[j] for j in float_at]


def _tolerances(rtol: Any, atol: Any, solver: str) -> tuple[float, float]:
    try:
        r, a = float(rtol), float(atol)
    except TypeError:
        raise TypeError(f"{solver}: rtol and atol must be numbers (one tolerance for every "
                        f"component), got {type(rtol).__name__} and {type(atol).__name__}"
                        ) from None
    if not (r > 0 and a > 0):
        raise ValueError(f"{solver}: rtol and atol must be positive, got rtol={rtol}, "
                         f"atol={atol}")
    return r, a


def odeint(func: Callable[..., Any], y0: Any, t: Any, *args: Any, rtol: float = 1.4e-8,
           atol: float = 1.4e-8, mxstep: float = np.inf, hmax: float = np.inf) -> Any:
    """Solve `dy/dt = func(y, t, *args)` from `y(t[0]) = y0`, with JAX's `odeint` convention.

    Values come from SciPy's LSODA (`scipy.integrate.odeint`), which calls `func` on plain
    arrays. Differentiable in `y0`, `t` and `args`: reverse mode integrates the adjoint system
    backwards (Chen et al. 2018, as JAX's `odeint`), so its memory does not grow with the
    number of solver steps; forward mode integrates the sensitivity equations with the state.
    The derivatives are those of the exact solution, to the solver's tolerance. Works under
    every transform (second order included) and the methods `"overload"`, `"graph"` and
    `"source"`.

    Parameters
    ----------
    func : callable
        `func(y, t, *args)` returns dy/dt with the structure and shapes of `y0`. It must be
        written with array operations (NumPy or chainrule.numpy) and take what it
        differentiates through `args`: a closure over a value being differentiated is refused
        with a `TypeError`.
    y0 : array_like or pytree of arrays
        The initial state (real; integers are converted to float64).
    t : array_like
        The output times, a strictly increasing 1-d array; `t[0]` is the initial time.
    *args : Any
        Extra arguments of `func` (arrays or pytrees of them); floating-point leaves are
        differentiated, the others are constants.
    rtol, atol : float, optional
        The solver's relative and absolute tolerances (also those of the derivative solves).
    mxstep : int, optional
        The most steps the solver takes between two output times (unlimited by default).
    hmax : float, optional
        The largest step the solver takes (unlimited by default).

    Returns
    -------
    array or pytree of arrays
        The solution at each time: `y0`'s structure, each leaf of shape `(len(t),) +
        leaf.shape`.

    Raises
    ------
    ValueError
        If `t` is not a strictly increasing 1-d array, `func` returns something not shaped
        like `y0`, or a tolerance is not positive.
    TypeError
        If `y0` or an argument is complex, or `func` closes over a value being
        differentiated.
    RuntimeError
        If the solver cannot reach the last time (the message says where it stopped).

    See Also
    --------
    solve_ivp : SciPy's interface, with its choice of methods.

    Examples
    --------
    The harmonic oscillator `y'' = -w² y` from `y(0) = 1`, `y'(0) = 0` is `cos(w t)`; its
    derivative in `w` at `t = 1` is `-sin(w)`:

    >>> import numpy as np
    >>> import chainrule as cr
    >>> from chainrule.scipy.integrate import odeint
    >>> def oscillator(y, t, w):
    ...     return cr.numpy.stack([y[1], -w ** 2 * y[0]])
    >>> ts = np.array([0.0, 0.5, 1.0])
    >>> position = lambda w: odeint(oscillator, np.array([1.0, 0.0]), ts, w)[-1, 0]
    >>> print(round(float(position(1.0)), 6), round(float(np.cos(1.0)), 6))
    0.540302 0.540302
    >>> print(round(float(cr.grad(position)(1.0)), 6), round(float(-np.sin(1.0)), 6))
    -0.841471 -0.841471
    """
    solver = "odeint"
    if not callable(func):
        raise TypeError(f"odeint: func must be callable, got {type(func).__name__}")
    r, a = _tolerances(rtol, atol, solver)
    if not (float(mxstep) >= 1 and float(hmax) > 0):
        raise ValueError(f"odeint: mxstep must be at least 1 and hmax positive, got "
                         f"mxstep={mxstep}, hmax={hmax}")
    y_leaves, y_td = tree.flatten(y0)
    if not y_leaves:
        raise ValueError("odeint: y0 has no arrays; give the initial state as an array or a "
                         "pytree of arrays")
    y_leaves = [_state_leaf(y, solver) for y in y_leaves]
    t = _times(t, "t", solver)
    tv = _value(t)
    if tv is not None and np.any(np.diff(tv) <= 0):
        k = int(np.flatnonzero(np.diff(tv) <= 0)[0]) + 1
        raise ValueError(f"odeint: t must be strictly increasing, but t[{k}]={tv[k]:.6g} "
                         f"follows t[{k - 1}]={tv[k - 1]:.6g}; sort the times (or, to "
                         f"integrate backwards, use solve_ivp with a decreasing t_span)")
    a_leaves, a_td, float_at, ps = _parameters(args, solver)
    fun = _UserRHS(func, solver, False, y_td, a_leaves, a_td, float_at)
    outs = odeint_p.bind(*y_leaves, t, *ps, fun=fun, n_y=len(y_leaves), method="odeint",
                         rtol=r, atol=a, options=(("mxstep", float(mxstep)),
                                                  ("hmax", float(hmax))))
    return tree.unflatten(y_td, list(outs))


class OdeResult:
    """The result of `solve_ivp`, with SciPy's fields, read as attributes or as keys.

    A pytree (`t` and `y` are its children, the other fields static), so a function may return
    it whole to a transform.

    Attributes
    ----------
    t : array, shape (n_points,)
        The times.
    y : array, shape (n, n_points)
        The solution at those times (differentiable).
    sol, t_events, y_events : None
        Dense output and events are not supported (always None).
    status : int
        0: the solver reached the end of the interval.
    message : str
        A description of the outcome.
    success : bool
        True (a failed solve raises `RuntimeError` instead).

    Examples
    --------
    >>> import numpy as np
    >>> from chainrule.scipy.integrate import solve_ivp
    >>> res = solve_ivp(lambda t, y: -y, (0.0, 1.0), np.array([1.0]), t_eval=[1.0])
    >>> res.success, res.y.shape, res["t"]
    (True, (1, 1), array([1.]))
    """

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    def __getitem__(self, name: str) -> Any:
        return self.__dict__[name]

    def keys(self) -> Any:
        """The names of the fields, as a dict's keys (SciPy's result is a dict)."""
        return self.__dict__.keys()

    def __repr__(self) -> str:
        width = max(len(k) for k in self.__dict__)
        return "\n".join(f"{k.rjust(width)}: {v!r}" for k, v in self.__dict__.items())


_RESULT_ARRAYS = ("t", "y")


def _flatten_result(res: OdeResult) -> tuple[tuple[Any, ...], tuple[tuple[str, Any], ...]]:
    # (a pytree: the times and the solution are its children, the rest is static, so a
    # function returning the result can be differentiated or traced whole)
    return (tuple(res[k] for k in _RESULT_ARRAYS),
            tuple((k, v) for k, v in vars(res).items() if k not in _RESULT_ARRAYS))


def _unflatten_result(aux: tuple[tuple[str, Any], ...], children: Any) -> OdeResult:
    return OdeResult(**dict(zip(_RESULT_ARRAYS, children)), **dict(aux))


tree.register(OdeResult, _flatten_result, _unflatten_result)


def _ivp_times(t_span: Any, t_eval: Any) -> tuple[Any, Any, Any]:
    """(t0, tf, t_eval): the span's ends (traced ones kept) and t_eval checked against them."""
    try:
        t0, tf = t_span
    except (TypeError, ValueError):
        raise ValueError(f"solve_ivp: t_span must be a pair (t0, tf), got {t_span!r}") from None
    t0v, tfv = _value(t0), _value(tf)
    if t0v is not None and tfv is not None and float(t0v) == float(tfv):
        raise ValueError(f"solve_ivp: t_span has equal ends {float(t0v)}; give t0 != tf")
    if t_eval is None:
        return t0, tf, None
    t_eval = _times(t_eval, "t_eval", "solve_ivp")
    tv = _value(t_eval)
    if tv is not None and t0v is not None and tfv is not None and tv.ndim == 1:
        sign = 1.0 if float(tfv) > float(t0v) else -1.0
        if np.any(sign * np.diff(tv) <= 0):
            raise ValueError(f"solve_ivp: t_eval must be strictly "
                             f"{'increasing' if sign > 0 else 'decreasing'}, in the direction "
                             f"of t_span ({float(t0v)} to {float(tfv)})")
        lo, hi = sorted((float(t0v), float(tfv)))
        if tv.min() < lo or tv.max() > hi:
            raise ValueError(f"solve_ivp: t_eval must lie within t_span [{lo}, {hi}], got "
                             f"values from {tv.min()} to {tv.max()}")
    return t0, tf, t_eval


def solve_ivp(fun: Callable[..., Any], t_span: Any, y0: Any, method: str = "RK45",
              t_eval: Any = None, dense_output: bool = False, events: Any = None,
              vectorized: bool = False, args: tuple[Any, ...] | None = None, *,
              rtol: float = 1e-3, atol: float = 1e-6, **options: Any) -> OdeResult:
    """Solve `dy/dt = fun(t, y, *args)` from `y(t0) = y0`, with SciPy's `solve_ivp` signature.

    Values come from `scipy.integrate.solve_ivp` with the same `method`, `rtol`, `atol` and
    step options, calling `fun` on plain arrays. `.y` is differentiable in `y0`, `args`,
    `t_eval` and `t_span[0]` (and, without `t_eval`, in `t_span[1]`, the last output time):
    reverse mode integrates the adjoint system backwards with the same
    method (memory constant in the number of steps), forward mode the sensitivity equations.

    Parameters
    ----------
    fun : callable
        `fun(t, y, *args)` returns dy/dt, an array of y's shape `(n,)`, written with array
        operations. What it differentiates must come through `args` (a closure over a value
        being differentiated is refused with a `TypeError`).
    t_span : pair of float
        `(t0, tf)`, the interval; `tf < t0` integrates backwards.
    y0 : array_like, shape (n,)
        The initial state (real).
    method : str, optional
        One of SciPy's: `"RK45"` (default), `"RK23"`, `"DOP853"`, `"Radau"`, `"BDF"`,
        `"LSODA"`.
    t_eval : array_like, optional
        The times at which the solution is returned, within `t_span` and ordered in its
        direction. Without it, the times are the solver's own steps (found by a first solve on
        plain values), held constant when differentiating.
    dense_output, events : optional
        Not supported (`NotImplementedError` when given): give `t_eval`.
    vectorized : bool, optional
        Accepted for compatibility; `fun` is always called with one state.
    args : tuple, optional
        Extra arguments of `fun`.
    rtol, atol : float, optional
        The tolerances (SciPy's defaults, 1e-3 and 1e-6).
    **options
        `first_step`, `max_step`, `min_step` (LSODA), passed to SciPy's solver.

    Returns
    -------
    OdeResult
        With `.t` (the times) and `.y` of shape `(n, len(t))`, plus SciPy's `status`,
        `message` and `success`.

    Raises
    ------
    ValueError
        If `y0` is not 1-d, `t_span` is not a pair of distinct times, `t_eval` is outside it or
        out of order, or `fun` returns an array not shaped like `y0`.
    NotImplementedError
        For `dense_output=True`, `events`, or a solver option other than the above.
    RuntimeError
        If the solver fails.

    See Also
    --------
    odeint : JAX's interface, LSODA.

    Examples
    --------
    Logistic growth `y' = r y (1 - y)`: the values are SciPy's, and the derivative of the final
    value in `r` agrees with a central difference:

    >>> import numpy as np
    >>> import chainrule as cr
    >>> import scipy.integrate
    >>> from chainrule.scipy.integrate import solve_ivp
    >>> growth = lambda t, y, r: r * y * (1.0 - y)
    >>> kw = dict(t_eval=[1.0, 2.0], args=(1.5,), rtol=1e-10, atol=1e-12)
    >>> ours = solve_ivp(growth, (0.0, 2.0), np.array([0.1]), **kw)
    >>> theirs = scipy.integrate.solve_ivp(growth, (0.0, 2.0), np.array([0.1]), **kw)
    >>> bool(np.allclose(ours.y, theirs.y, rtol=1e-12))
    True
    >>> final = lambda r: solve_ivp(growth, (0.0, 2.0), np.array([0.1]), t_eval=[2.0],
    ...                             args=(r,), rtol=1e-10, atol=1e-12).y[0, -1]
    >>> fd = (final(1.5 + 1e-6) - final(1.5 - 1e-6)) / 2e-6
    >>> bool(abs(cr.grad(final)(1.5) - fd) < 1e-6)
    True
    """
    solver = "solve_ivp"
    if not callable(fun):
        raise TypeError(f"solve_ivp: fun must be callable, got {type(fun).__name__}")
    if dense_output:
        raise NotImplementedError("solve_ivp: dense_output=True is not supported (its "
                                  "interpolant is not differentiable here); pass t_eval with "
                                  "the times you need")
    if events is not None:
        raise NotImplementedError("solve_ivp: events are not supported; solve up to a fixed "
                                  "time and locate the event with a root finder")
    unknown = sorted(set(options) - {"first_step", "max_step", "min_step"})
    if unknown:
        raise NotImplementedError(f"solve_ivp: the option(s) {unknown} are not supported; "
                                  f"first_step, max_step and min_step are")
    if isinstance(method, str) and method not in IVP_METHODS:
        raise ValueError(f"solve_ivp: method={method!r} is not one of {IVP_METHODS}")
    if not isinstance(method, str):
        raise TypeError("solve_ivp: method must be the name of one of SciPy's solvers "
                        f"{IVP_METHODS}, not {type(method).__name__}")
    del vectorized  # (fun is always called with one state: any fun works either way)
    r, a = _tolerances(rtol, atol, solver)
    if args is None:
        args = ()
    elif not isinstance(args, (tuple, list)):
        raise TypeError(f"solve_ivp: args must be a tuple, got {type(args).__name__}; for one "
                        f"argument write args=(value,)")
    y0 = _state_leaf(cnp.asarray(y0), solver)  # (a list may hold traced values)
    if ndim_of(y0) != 1:
        raise ValueError(f"solve_ivp: y0 must be 1-dimensional, not of shape {shape_of(y0)}")
    t0, tf, t_eval = _ivp_times(t_span, t_eval)
    a_leaves, a_td, float_at, ps = _parameters(tuple(args), solver)
    rhs = _UserRHS(fun, solver, True, tree.LEAF, a_leaves, a_td, float_at)
    opts = tuple(sorted((k, float(v)) for k, v in options.items() if v is not None))
    if t_eval is None:
        # the solver's own steps: found on plain values, then constants of the derivative
        plain = [_value(x) for x in (t0, tf, y0, *ps)]
        if any(v is None for v in plain):
            raise ValueError("solve_ivp: without t_eval the output times are the solver's own "
                             "steps, which need concrete values (not a graph being traced or "
                             "a vmap batch); pass t_eval")
        t0v, tfv, y0v, *pv = plain
        sol = _si.solve_ivp(lambda s, z: rhs([z], s, pv)[0], (float(t0v), float(tfv)),
                            y0v.astype(np.float64), method=method, rtol=r, atol=a,
                            **dict(opts))
        if sol.status != 0:
            raise RuntimeError(f"solve_ivp: the solver failed ({sol.message})")
        t_out: Any = sol.t
        # the inner steps are constants; the ends are t_span's own values, so that the last
        # output moves with tf (its derivative in tf is f(tf, y(tf)), not 0) as the first's
        # later values move with t0
        times = cnp.concatenate([cnp.reshape(cnp.asarray(t0, dtype=np.float64), (1,)),
                                 sol.t[1:-1],
                                 cnp.reshape(cnp.asarray(tf, dtype=np.float64), (1,))])
        ys = odeint_p.bind(y0, times, *ps, fun=rhs, n_y=1, method=method, rtol=r, atol=a,
                           options=opts)[0]
    else:
        t_out = t_eval
        times = cnp.concatenate([cnp.reshape(cnp.asarray(t0, dtype=np.float64), (1,)),
                                 t_eval])
        ys = odeint_p.bind(y0, times, *ps, fun=rhs, n_y=1, method=method, rtol=r, atol=a,
                           options=opts)[0][1:]
    return OdeResult(t=t_out, y=cnp.transpose(ys), sol=None, t_events=None, y_events=None,
                     status=0, message="The solver successfully reached the end of the "
                     "integration interval.", success=True)


__all__ = ["trapezoid", "odeint", "solve_ivp", "OdeResult"]
