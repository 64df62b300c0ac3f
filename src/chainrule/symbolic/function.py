"""Turning straight-line Python into expressions: `from_function`."""
from __future__ import annotations

import inspect
import keyword
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .expr import Expr, Symbol, as_expr


def _param_names(f: Callable[..., Any], n: int) -> list[str] | None:
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        return None
    names = [p.name for p in params
             if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][:n]
    if len(names) != n or any(not s.isidentifier() or keyword.iskeyword(s) for s in names):
        return None
    return names


def arg_names(f: Callable[..., Any], n_args: int | str | Sequence[str] | None,
              caller: str = "from_function") -> list[str]:
    """Symbol names for `f`'s arguments: given, or the parameter names, or x0, x1, ..."""
    if isinstance(n_args, str):
        return [p for p in n_args.replace(",", " ").split() if p]
    if n_args is None:
        names = _param_names(f, len(inspect.signature(f).parameters))
        if names is None:
            raise TypeError(f"{caller}: cannot read the arguments of {f!r}; pass n_args "
                            f"(a count) or the names, e.g. {caller}(f, 'x y')")
        return names
    if isinstance(n_args, int) and not isinstance(n_args, bool):
        if n_args < 0:
            raise ValueError(f"{caller}: n_args={n_args} must be >= 0")
        return _param_names(f, n_args) or [f"x{i}" for i in range(n_args)]
    names = list(n_args)
    if not all(isinstance(s, str) for s in names):
        raise TypeError(f"{caller}: names must be strings, got {names!r}")
    return names


def _to_expr(out: Any) -> Any:
    if isinstance(out, (tuple, list)):
        return type(out)(_to_expr(o) for o in out)
    if isinstance(out, np.ndarray) and out.dtype == object:
        return np.vectorize(_to_expr_leaf, otypes=[object])(out) if out.ndim else \
            _to_expr_leaf(out[()])
    return _to_expr_leaf(out)


def _to_expr_leaf(o: Any) -> Expr:
    try:
        return as_expr(o, "from_function")
    except TypeError as exc:
        raise TypeError(f"from_function: the function returned {type(o).__name__}, which is "
                        f"not a number or an expression; return an expression built from its "
                        f"arguments (or a tuple of them)") from exc


def from_function(f: Callable[..., Any], n_args: int | str | Sequence[str] | None = None,
                  ) -> Any:
    """Run `f` on fresh symbols and return its expression (a tuple of them for a tuple result).

    `n_args` is the number of arguments (symbols are named after `f`'s parameters, else x0,
    x1, ...) or their names (`"x y"` or `["x", "y"]`). Python control flow that needs a value
    (`if x > 0`, `while`, `bool(x)`, `float(x)`) raises `SymbolicError`: write choices as
    `cnp.where`.

    Parameters
    ----------
    f : callable
        A straight-line function of scalars.
    n_args : int or str or sequence of str, optional
        The number of arguments, or their names (default: `f`'s parameters).

    Returns
    -------
    Expr or tuple of Expr
        The expression `f` computes.

    Raises
    ------
    SymbolicError
        If `f` branches or loops on a symbolic value.

    Examples
    --------
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> print(cr.symbolic.from_function(lambda a, b: a * b + cnp.exp(a)))
    a*b + exp(a)
    """
    syms = [Symbol(n) for n in arg_names(f, n_args)]
    return _to_expr(f(*syms))
