"""User-defined derivative rules (`custom_jvp`, `custom_vjp`).

A custom function is bound as one call primitive whose parameters carry the user's function and
rules, so every interpreter sees it as a single operation:

- `custom_jvp`: forward mode calls the user's JVP; reverse mode derives the VJP from it by
  recording the user's JVP on a tape and pulling the cotangent back (the JVP is linear in the
  tangents, so this is exact).
- `custom_vjp`: reverse mode runs the user's `fwd` (keeping its residuals) and `bwd`; forward mode
  derives the JVP by transposing `bwd`, which works whenever `bwd` is written with chainrule
  operations; otherwise a clear error says to define a `custom_jvp`.

Examples
--------
>>> import chainrule as cr
>>> import chainrule.numpy as cnp
>>> @cr.custom_jvp
... def softplus(x):
...     return cnp.log1p(cnp.exp(x))
>>> @softplus.defjvp
... def softplus_jvp(primals, tangents):
...     (x,), (t,) = primals, tangents
...     return softplus(x), t * cnp.sigmoid(x)
>>> print(cr.grad(softplus)(0.0))
0.5
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ._core import tree
from ._core.primitive import Primitive, open_trace, shape_of, zeros_like
from ._core.rules import Zero, def_custom_rule, def_rule
from .ops import reduce as R
from .overload.tape import TapeTrace, TapeTracer, backward
from .overload.transforms import vmap

# ---------------------------------------------------------------------------------------------
# the flat calling convention shared by custom functions and checkpoint

class _Flat:
    """Wraps a pytree function as a function of flat leaves returning flat leaves; remembers the
    output structure of the last call."""

    def __init__(self, fun: Callable[..., Any], in_td: tree.TreeDef) -> None:
        self.fun = fun
        self.in_td = in_td
        self.out_td: tree.TreeDef | None = None

    def __call__(self, *leaves: Any) -> list[Any]:
        args = tree.unflatten(self.in_td, leaves)
        out_leaves, self.out_td = tree.flatten(self.fun(*args))
        return out_leaves


def _vmap_flat(fun: Callable[..., Any], batched: tuple[bool, ...]) -> Callable[..., Any]:
    return vmap(lambda *ls: fun(*ls), in_axes=tuple(0 if b else None for b in batched))


def _batch_custom_jvp(args: list[Any], batched: tuple[bool, ...], *, fun: Any,
                      jvp: Any) -> Any:
    """custom_jvp under vmap: the function and its rule are both vectorised, and bound again,
    so that a transform below the vmap still uses the user's rule."""
    axes = tuple(0 if b else None for b in batched)

    def jvp_b(primals: list[Any], tangents: list[Any]) -> Any:
        n = len(primals)
        split = vmap(lambda *pt: list(jvp(list(pt[:n]), list(pt[n:]))), in_axes=axes + axes)
        out, out_dot = split(*primals, *tangents)
        return out, out_dot

    return custom_jvp_call_p.bind(*args, fun=_vmap_flat(fun, batched), jvp=jvp_b)


def _batch_custom_vjp(args: list[Any], batched: tuple[bool, ...], *, fun: Any, fwd: Any,
                      bwd: Any) -> Any:
    """custom_vjp under vmap: fun, fwd and bwd vectorised and bound again. The cotangent of an
    argument that was not batched is summed over the batch."""
    axes = tuple(0 if b else None for b in batched)

    def fwd_b(*leaves: Any) -> Any:
        out, res = vmap(lambda *ls: fwd(*ls), in_axes=axes)(*leaves)
        return out, res

    def bwd_b(res: Any, cts: list[Any]) -> list[Any]:
        per_example = vmap(lambda r, *c: bwd(r, list(c)), in_axes=(0,) * (1 + len(cts)))(
            res, *cts)
        return [g if g is None or b else R.sum(g, 0) for g, b in zip(per_example, batched)]

    fwd_b.name = getattr(fwd, "name", "?")  # type: ignore[attr-defined]
    return custom_vjp_call_p.bind(*args, fun=_vmap_flat(fun, batched), fwd=fwd_b, bwd=bwd_b)


def _closure_refused(kind: str) -> Any:
    def _refuse(args: Any, **params: Any) -> Any:
        raise TypeError(
            f"a {kind} function closes over a value that is being differentiated; its rule "
            f"cannot give that value a derivative. Pass the value to the function as an "
            f"argument instead")
    return _refuse


# ---------------------------------------------------------------------------------------------
# custom_jvp

def _custom_jvp_impl(*leaves: Any, fun: Any, jvp: Any) -> Any:
    return fun(*leaves)


def _custom_jvp_rule(primals: list[Any], tangents: list[Any], *, fun: Any,
                     jvp: Any) -> tuple[Any, Any]:
    ts = [zeros_like(p) if t is Zero else t for p, t in zip(primals, tangents)]
    return jvp(primals, ts)


custom_jvp_call_p = Primitive("custom_jvp_call", _custom_jvp_impl, multiple_results=True)
def_rule(custom_jvp_call_p, jvp=_custom_jvp_rule, batch=_batch_custom_jvp)
def_custom_rule(custom_jvp_call_p, on_closure=_closure_refused("custom_jvp"))


class custom_jvp:  # noqa: N801 - the name users know from JAX
    """Decorator giving a function its own forward-mode rule (a JVP), as in JAX.

    Forward mode calls the rule; reverse mode derives the VJP from it by recording the rule on a
    tape and transposing it (exact, since a JVP is linear in its tangents); `vmap` vectorises
    the function and its rule together. The function is seen by every transform as one
    operation, so its own code is never differentiated.

    Parameters
    ----------
    fun : callable
        The function; its positional arguments and its result may be pytrees. It must take
        what it differentiates as arguments: a closure over values being differentiated is
        refused with a `TypeError`.

    Raises
    ------
    TypeError
        When called before a rule was given with `defjvp`.

    See Also
    --------
    custom_vjp : a custom reverse-mode rule.

    Examples
    --------
    A derivative that stays finite where the formula's would overflow:

    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> @cr.custom_jvp
    ... def log1pexp(x):
    ...     return cnp.log1p(cnp.exp(x))
    >>> @log1pexp.defjvp
    ... def log1pexp_jvp(primals, tangents):
    ...     (x,), (t,) = primals, tangents
    ...     return log1pexp(x), t * (1.0 - 1.0 / (1.0 + cnp.exp(x)))
    >>> print(cr.grad(log1pexp)(0.0), cr.jvp(log1pexp, (50.0,), (1.0,))[1])
    0.5 1.0
    """

    _cr_has_rule = True  # (its code is not its derivative: see source/parse.py)

    def __init__(self, fun: Callable[..., Any]) -> None:
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.jvp_rule: Callable[..., Any] | None = None

    def defjvp(self, jvp: Callable[..., Any]) -> Callable[..., Any]:
        """Set the forward-mode rule; usable as a decorator.

        Parameters
        ----------
        jvp : callable
            `jvp(primals, tangents)`, where `primals` and `tangents` are tuples of the
            positional arguments and their tangents, returns `(out, tangent_out)`: the
            function's value and its tangent, of the same structure.

        Returns
        -------
        callable
            `jvp` itself, so the decorated name stays bound to the rule.

        Examples
        --------
        >>> import chainrule as cr
        >>> f = cr.custom_jvp(lambda x: x ** 3)
        >>> _ = f.defjvp(lambda p, t: (f(*p), 3.0 * p[0] ** 2 * t[0]))
        >>> print(cr.grad(f)(2.0))
        12.0
        """
        self.jvp_rule = jvp
        return jvp

    def __call__(self, *args: Any) -> Any:
        if self.jvp_rule is None:
            raise TypeError(f"custom_jvp function {self.fun.__name__} has no JVP rule; define one "
                            f"with @{self.fun.__name__}.defjvp")
        leaves, in_td = tree.flatten(args)
        flat_fun = _Flat(self.fun, in_td)
        rule = self.jvp_rule

        def flat_jvp(primals: list[Any], tangents: list[Any]) -> tuple[list[Any], list[Any]]:
            out, out_dot = rule(tree.unflatten(in_td, primals), tree.unflatten(in_td, tangents))
            out_leaves, flat_fun.out_td = tree.flatten(out)
            return out_leaves, tree.flatten(out_dot)[0]

        outs = custom_jvp_call_p.bind(*leaves, fun=flat_fun, jvp=flat_jvp)
        return tree.unflatten(flat_fun.out_td, outs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# custom_vjp

def _custom_vjp_impl(*leaves: Any, fun: Any, fwd: Any, bwd: Any) -> Any:
    return fun(*leaves)


def _custom_vjp_fwd(*leaves: Any, fun: Any, fwd: Any, bwd: Any) -> tuple[Any, Any]:
    return fwd(*leaves)


def _custom_vjp_bwd(res: Any, cts: Any, needed: list[int], *, fun: Any, fwd: Any,
                    bwd: Any) -> list[Any]:
    return bwd(res, cts)


def _custom_vjp_closure(args: Any, *, fun: Any, fwd: Any, bwd: Any) -> Any:
    raise TypeError(
        f"custom_vjp function {getattr(fwd, 'name', '?')} closes over a value that is being "
        f"differentiated; its bwd rule could not return a cotangent for it. Pass that value "
        f"to the function as an argument instead")


def _custom_vjp_jvp(primals: list[Any], tangents: list[Any], *, fun: Any, fwd: Any,
                    bwd: Any) -> tuple[Any, Any]:
    """J·t by transposing the user's bwd (ct -> J^T ct), recorded on a tape."""
    out, res = fwd(*primals)
    try:
        with open_trace(TapeTrace) as rec:
            seeds = [rec.leaf(zeros_like(o)) for o in out]
            in_cts = bwd(res, seeds)
    except Exception as exc:
        raise TypeError(
            f"custom_vjp function {getattr(fwd, 'name', '?')} cannot be forward-differentiated: "
            f"its forward rule is derived by transposing bwd, and running bwd on traced "
            f"cotangents failed ({type(exc).__name__}: {exc}). Write bwd with chainrule.numpy "
            f"operations, or give the function a forward rule with cr.custom_jvp") from exc
    roots = [(c.node, c.idx, t) for c, t in zip(in_cts, tangents)
             if t is not Zero and isinstance(c, TapeTracer) and c._trace is rec
             and c.node is not None]
    got = backward(roots, tape=rec.nodes) if roots else {}
    out_dot = []
    for s, o in zip(seeds, out):
        g = got.get((s.node, 0))  # type: ignore[arg-type]
        out_dot.append(zeros_like(o) if g is None else g)
    return out, out_dot


custom_vjp_call_p = Primitive("custom_vjp_call", _custom_vjp_impl, multiple_results=True)
def_rule(custom_vjp_call_p, jvp=_custom_vjp_jvp, batch=_batch_custom_vjp)
def_custom_rule(custom_vjp_call_p, fwd=_custom_vjp_fwd, bwd=_custom_vjp_bwd,
                on_closure=_custom_vjp_closure)


class custom_vjp:  # noqa: N801
    """Decorator giving a function its own reverse-mode rule (a VJP), as in JAX.

    Reverse mode runs the user's `fwd` (keeping its residuals) and, in the backward pass, `bwd`.
    Forward mode derives a JVP by transposing `bwd`, which works when `bwd` is written with
    chainrule operations (otherwise the error says to define a `custom_jvp`). The function's
    own code is never differentiated.

    Parameters
    ----------
    fun : callable
        The function; its positional arguments and its result may be pytrees. It must take
        what it differentiates as arguments: a closure over values being differentiated is
        refused with a `TypeError`.

    Raises
    ------
    TypeError
        When called before the rule was given with `defvjp`, or when `bwd` does not return a
        tuple with one cotangent per positional argument.
    ValueError
        When a cotangent returned by `bwd` does not match its argument's structure or shape.

    See Also
    --------
    custom_jvp : a custom forward-mode rule.

    Examples
    --------
    Clipping the gradient that flows through a function:

    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> @cr.custom_vjp
    ... def clip_gradient(x):
    ...     return x
    >>> clip_gradient.defvjp(lambda x: (x, None),
    ...                      lambda res, ct: (cnp.clip(ct, -1.0, 1.0),))
    >>> print(cr.grad(lambda x: 10.0 * clip_gradient(x))(2.0))
    1.0
    """

    _cr_has_rule = True

    def __init__(self, fun: Callable[..., Any]) -> None:
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.fwd: Callable[..., Any] | None = None
        self.bwd: Callable[..., Any] | None = None

    def defvjp(self, fwd: Callable[..., Any], bwd: Callable[..., Any]) -> None:
        """Set the reverse-mode rule.

        Parameters
        ----------
        fwd : callable
            `fwd(*args)` returns `(out, residuals)`: the function's value and whatever `bwd`
            needs (any Python object).
        bwd : callable
            `bwd(residuals, ct)` takes the cotangent of the output (the output's structure) and
            returns a tuple with one cotangent per positional argument (`None` for an argument
            that gets none).

        Returns
        -------
        None

        Examples
        --------
        >>> import chainrule as cr
        >>> square = cr.custom_vjp(lambda x: x * x)
        >>> square.defvjp(lambda x: (x * x, x), lambda x, ct: (2.0 * x * ct,))
        >>> print(cr.grad(square)(3.0))
        6.0
        """
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args: Any) -> Any:
        if self.fwd is None or self.bwd is None:
            raise TypeError(f"custom_vjp function {self.fun.__name__} has no VJP rule; define "
                            f"one with {self.fun.__name__}.defvjp(fwd, bwd)")
        leaves, in_td = tree.flatten(args)
        flat_fun = _Flat(self.fun, in_td)
        fwd, bwd, name = self.fwd, self.bwd, self.fun.__name__

        def flat_fwd(*ls: Any) -> tuple[list[Any], Any]:
            out, res = fwd(*tree.unflatten(in_td, ls))
            out_leaves, flat_fun.out_td = tree.flatten(out)
            return out_leaves, res

        def flat_bwd(res: Any, cts: list[Any]) -> list[Any]:
            ct_tree = tree.unflatten(flat_fun.out_td, cts)  # type: ignore[arg-type]
            got = bwd(res, ct_tree)
            if not isinstance(got, tuple) or len(got) != len(args):
                raise TypeError(f"the bwd rule of custom_vjp function {name} must return a tuple "
                                f"with one cotangent per positional argument ({len(args)}), got "
                                f"{type(got).__name__}")
            out = []
            for k, (a, g) in enumerate(zip(args, got)):
                a_leaves, a_td = tree.flatten(a)
                if g is None:
                    out.extend([None] * len(a_leaves))
                    continue
                g_leaves, g_td = tree.flatten(g)
                if g_td != a_td:
                    raise ValueError(f"the bwd rule of custom_vjp function {name} returned a "
                                     f"cotangent of structure {g_td} for argument {k}, which has "
                                     f"structure {a_td}")
                for x, c in zip(a_leaves, g_leaves):
                    if c is not None and shape_of(c) != shape_of(x):
                        raise ValueError(f"the bwd rule of custom_vjp function {name} returned a "
                                         f"cotangent of shape {shape_of(c)} for argument {k} of "
                                         f"shape {shape_of(x)}; they must match")
                out.extend(g_leaves)
            return out

        flat_fwd.name = name  # type: ignore[attr-defined]
        outs = custom_vjp_call_p.bind(*leaves, fun=flat_fun, fwd=flat_fwd, bwd=flat_bwd)
        return tree.unflatten(flat_fun.out_td, outs)  # type: ignore[arg-type]
