"""What the user passes to `cr.numeric`, checked and converted: the point x, f's values, and the
`stencil=` keyword under its old name `method=`.

Finite differences evaluate f at concrete points, so a traced value (a numeric derivative being
differentiated by an AD transform) is refused here with a message saying what to do instead.
"""
from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np

from .._core import tree
from .._core.primitive import Tracer

_F = TypeVar("_F", bound=Callable[..., Any])


def renamed_keyword(old: str, new: str) -> Callable[[_F], _F]:
    """Accept the keyword `old` as the deprecated name of the parameter `new`.

    `method=` picks the differentiation engine everywhere else in chainrule
    (`cr.grad(f, method="numeric")`); in `cr.numeric` it used to pick the finite-difference
    stencil, which is now `stencil=` (and `methods=` is now `stencils=`). The old keyword still
    works, with a `DeprecationWarning`; giving both is a `TypeError`, as for any argument given
    twice. The wrapped function keeps its signature and docstring (`functools.wraps`)."""

    def wrap(fn: _F) -> _F:
        position = list(inspect.signature(fn).parameters).index(new)
        who = fn.__name__

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            if old in kwargs:
                value = kwargs.pop(old)
                if new in kwargs or len(args) > position:
                    raise TypeError(f"{who}() got both {new}= and {old}= ({old}= is the old "
                                    f"name of {new}=); pass {new}= only")
                warnings.warn(f"{who}(): the keyword {old}= is deprecated, use {new}= instead "
                              f"({old}= names the differentiation engine elsewhere in "
                              f"chainrule, as in cr.grad(f, method='numeric'))",
                              DeprecationWarning, stacklevel=2)
                kwargs[new] = value
            return fn(*args, **kwargs)

        return cast(_F, call)

    return wrap


def as_point(x: Any, who: str) -> np.ndarray:
    """x as a floating-point array (a copy), refusing what cannot be differentiated."""
    if isinstance(x, Tracer):
        raise TypeError(traced_message(who))
    if isinstance(x, (tuple, list, dict)) or tree.structure(x) != tree.LEAF:
        raise TypeError(f"{who}: x must be a number or an array, got {type(x).__name__}; for "
                        f"pytrees of arrays use cr.numeric.grad, .jacobian or .hessian")
    if not tree.is_float_leaf(x):
        dt = "str" if isinstance(x, str) else np.asarray(x).dtype
        raise TypeError(f"{who}: x has dtype {dt}, which cannot be differentiated; pass a "
                        f"floating-point value (e.g. 3.0 instead of 3, or x.astype(float))")
    return np.array(x)


def traced_message(who: str) -> str:
    return (f"{who}: finite differences evaluate f at concrete points, but got a traced value "
            f"(this numeric derivative is itself being differentiated by an AD transform); "
            f"make the numeric derivative the outermost one, or use an AD method inside")


def as_output(result: Any, who: str) -> np.ndarray:
    """f's value at a point of a one-variable difference, as a numeric array."""
    if isinstance(result, Tracer):
        raise TypeError(traced_message(who))
    out = np.asarray(result)
    if out.dtype.kind not in "biufc":
        raise TypeError(f"{who}: f must return a number or a numeric array, got "
                        f"{type(result).__name__}")
    return out


def scalar(a: np.ndarray) -> Any:
    """A 0-d array as a NumPy scalar; anything else as it is."""
    return a[()] if isinstance(a, np.ndarray) and a.ndim == 0 else a
