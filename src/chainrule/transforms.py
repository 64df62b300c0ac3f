"""The public transforms: grad, value_and_grad, vjp, jvp, linearize, jacrev, jacfwd, jacobian,
hessian, hvp, vmap. Each takes a Python function of arrays (or pytrees of them) and returns a new
function or the derivative's value.

This module is the front only. It checks what every method checks the same way (`argnums`,
`has_aux`, the method's name), picks the engine that `method=` names from `ENGINES`, and calls
the transform of the same name there: `method` makes one hop. The engines (`overload/`,
`graph/`, `source/`, `symbolic/`, `numeric/`, each in its `transforms.py`) do the rest with the
shared rules of `_core/checks.py`, and never call this module back.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import numpy as np

from ._core import checks
from .overload import transforms as _overload

#: method name -> the module of its engine's transforms (imported on first use: symbolic and
#: numeric are not needed to differentiate, and `import chainrule` stays quick)
ENGINES = {"overload": "chainrule.overload.transforms", "graph": "chainrule.graph.transforms",
           "source": "chainrule.source.transforms", "symbolic": "chainrule.symbolic.transforms",
           "numeric": "chainrule.numeric.transforms"}
METHODS = tuple(ENGINES)


def engine(method: str, transform: str, has_aux: bool = False) -> ModuleType:
    """The engine `method` names, checked to offer `transform` (with `has_aux` if asked)."""
    if not isinstance(method, str) or method not in ENGINES:
        raise ValueError(f"{transform}: unknown method={method!r}; choose one of "
                         f"{', '.join(METHODS)}")
    module = _module(method)
    caps: checks.Capabilities = module.CAPABILITIES
    if transform not in caps.transforms:
        offered = [m for m in METHODS if transform in _module(m).CAPABILITIES.transforms]
        raise NotImplementedError(f"{transform}(..., method={method!r}) is not available; "
                                  f"use one of {', '.join(offered)}")
    if has_aux and not caps.has_aux:
        raise NotImplementedError(f"{transform}(..., has_aux=True, method={method!r}) is not "
                                  f"supported; return the auxiliary value from a separate call, "
                                  f"or use method='overload'")
    return module


def _module(method: str) -> ModuleType:
    # (by name from ENGINES, each an engine below this front: see tests/test_layering.py)
    return importlib.import_module(ENGINES[method])


def _aux(has_aux: bool) -> dict[str, bool]:
    """`has_aux` passed on only when asked (the engines without it do not take the keyword)."""
    return {"has_aux": True} if has_aux else {}


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False,
         method: str = "overload") -> Callable[..., Any]:
    """The gradient of a scalar function, with the structure of the differentiated argument(s).

    `argnums` (an int or a tuple of ints) picks the positional arguments to differentiate; with
    a tuple the result is a tuple. With `has_aux=True`, `f` returns `(output, aux)` and the
    gradient function returns `(gradient, aux)`. `method` picks the engine: "overload" (the
    default), "graph", "source", "symbolic" or "numeric" (README, "Methods and modes")."""
    spec = checks.argnums_spec(argnums, "grad")
    return engine(method, "grad", has_aux).grad(f, spec, **_aux(has_aux))


def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
                   has_aux: bool = False, method: str = "overload") -> Callable[..., Any]:
    """A function returning `(value, grad)`, or `((value, aux), grad)` with `has_aux`."""
    spec = checks.argnums_spec(argnums, "value_and_grad")
    return engine(method, "value_and_grad", has_aux).value_and_grad(f, spec, **_aux(has_aux))


def vjp(f: Callable[..., Any], *primals: Any, has_aux: bool = False,
        method: str = "overload") -> Any:
    """`(out, vjp_fn)` (or `(out, vjp_fn, aux)`): `vjp_fn(ct)` returns one cotangent per primal
    and may be called any number of times."""
    return engine(method, "vjp", has_aux).vjp(f, *primals, **_aux(has_aux))


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any],
        has_aux: bool = False, method: str = "overload") -> Any:
    """`(out, out_tangent)`: the Jacobian-vector product of `f` at `primals` along `tangents`."""
    return engine(method, "jvp", has_aux).jvp(f, tuple(primals), tuple(tangents),
                                               **_aux(has_aux))


def linearize(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[..., Any]]:
    """`(out, jvp_fn)`: `f` is evaluated and linearised once; each `jvp_fn(*tangents)` replays only
    the recorded linear (tangent) computation, never `f` itself."""
    return _overload.linearize(f, *primals)


def vmap(f: Callable[..., Any], in_axes: Any = 0, out_axes: int = 0) -> Callable[..., Any]:
    """Vectorise `f` over an axis of its arguments. `in_axes` is an int, None, or a tuple with one
    entry (int or None) per positional argument; every leaf of a mapped argument is mapped."""
    return _overload.vmap(f, in_axes, out_axes)


def jacfwd(f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False,
           method: str = "overload") -> Callable[..., Any]:
    """The Jacobian by forward mode: a whole basis of tangents pushed through one batched pass.
    Shape `out.shape + in.shape`; pytrees: output structure outside, input structure inside."""
    spec = checks.argnums_spec(argnums, "jacfwd")
    return engine(method, "jacfwd", has_aux).jacfwd(f, spec, **_aux(has_aux))


def jacrev(f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False,
           method: str = "overload") -> Callable[..., Any]:
    """The Jacobian by reverse mode: one forward pass, then a whole basis of cotangents pulled
    back through one batched backward pass. Shape `out.shape + in.shape`."""
    spec = checks.argnums_spec(argnums, "jacrev")
    return engine(method, "jacrev", has_aux).jacrev(f, spec, **_aux(has_aux))


jacobian = jacrev


def hessian(f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False,
            method: str = "overload") -> Callable[..., Any]:
    """The Hessian of a scalar function, forward-over-reverse: `jacfwd(grad(f))`. Shape
    `in.shape + in.shape`; the output must pass grad's rule (one real floating-point element).
    For a function with several outputs, `jacfwd(jacrev(f))` gives one Hessian per output."""
    spec = checks.argnums_spec(argnums, "hessian")
    return engine(method, "hessian", has_aux).hessian(f, spec, **_aux(has_aux))


def hvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any],
        method: str = "overload") -> Any:
    """The Hessian-vector product H·v, forward-over-reverse, without forming H. With one primal
    it returns one array (pytree); with several, a tuple."""
    for what, given in (("primals", primals), ("tangents", tangents)):
        if not isinstance(given, (tuple, list)):
            raise TypeError(f"hvp: {what} must be a tuple with one entry per argument of f, "
                            f"got {type(given).__name__}; write hvp(f, (x,), (v,))")
    return engine(method, "hvp").hvp(f, tuple(primals), tuple(tangents))


def elementwise_grad(f: Callable[..., Any], argnum: int = 0,
                     method: str = "overload") -> Callable[..., Any]:
    """HIPS autograd's `elementwise_grad`: the sum of the Jacobian's rows, one reverse pass
    (`vjp` with a cotangent of ones). For a function acting elementwise it is the derivative
    of each output with respect to its own input; in general it is the gradient of
    `sum(f(x))`. (`vmap(grad(g))` is the recipe for a scalar `g` applied per example.)"""
    if not isinstance(argnum, int):
        raise TypeError(f"elementwise_grad: argnum must be an int, got {argnum!r}")

    def elementwise_grad_f(*args: Any) -> Any:
        # (one reverse pass for every positional argument, as vjp takes them: the other
        # arguments are floating-point values too; cotangents of ones, the output's shape)
        out, pull = vjp(f, *args, method=method)
        return pull(_ones_like(out))[argnum]

    return elementwise_grad_f


def _ones_like(out: Any) -> Any:
    return np.ones(np.shape(out), np.result_type(out))


# (the transforms that return functions closing over their arguments: source refuses to make
# one from differentiated values, whose dependence it could not follow into the function)
vjp._cr_makes_functions = True  # type: ignore[attr-defined]
linearize._cr_makes_functions = True  # type: ignore[attr-defined]

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "linearize", "jacrev", "jacfwd", "jacobian",
           "hessian", "hvp", "vmap", "elementwise_grad"]
