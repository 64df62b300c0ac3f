"""Gradient clipping by global norm (PyTorch's `clip_grad_norm_`, but pure: it returns the
clipped gradients instead of changing them)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._core import tree
from .._core.primitive import Tracer

__all__ = ["clip_grad_norm"]


def clip_grad_norm(grads: Any, max_norm: float, norm_type: float = 2.0, *,
                   error_if_nonfinite: bool = False) -> tuple[Any, Any]:
    """Scale the gradients of a pytree together so that their global norm is at most `max_norm`.

    The global norm is the `norm_type`-norm of all float leaves taken as one vector (`inf` for
    the largest absolute value). As in PyTorch, every leaf is multiplied by
    `min(1, max_norm / (total_norm + 1e-6))`, so gradients already within the bound come back
    unchanged in value; the arguments are never modified. Non-float leaves pass through.

    Parameters
    ----------
    grads : Any
        A pytree of gradients.
    max_norm : float
        The largest norm allowed (>= 0).
    norm_type : float, optional
        The p of the p-norm (`inf` allowed).
    error_if_nonfinite : bool, optional
        Raise when the total norm is inf or NaN.

    Returns
    -------
    clipped_grads : Any
        The scaled gradients, of `grads`' structure.
    total_norm : float
        The norm before clipping, a Python float (a traced value under `jit`).

    Raises
    ------
    ValueError
        For a negative `max_norm` or a bad `norm_type`.
    FloatingPointError
        With `error_if_nonfinite`, when the norm is not finite.

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> g, norm = cr.optim.clip_grad_norm({"a": np.array([3.0]), "b": np.array([4.0])}, 1.0)
    >>> norm, np.round(g["a"], 6), np.round(g["b"], 6)
    (5.0, array([0.6]), array([0.8]))
    """
    max_norm = float(max_norm)
    p = float(norm_type)
    if not max_norm >= 0:
        raise ValueError(f"clip_grad_norm: max_norm={max_norm!r} is invalid; it must be >= 0")
    if math.isnan(p) or p <= 0:
        raise ValueError(f"clip_grad_norm: norm_type={norm_type!r} is invalid; use a positive "
                         f"number or float('inf')")
    leaves, td = tree.flatten(grads)
    floats = [g for g in leaves if tree.is_float_leaf(g)]
    if not floats:
        return grads, 0.0
    total = _global_norm(floats, p)
    concrete = not isinstance(total, Tracer)
    if concrete:
        total = float(total)
        if error_if_nonfinite and not math.isfinite(total):
            raise FloatingPointError(f"clip_grad_norm: the total {norm_type}-norm of the "
                                     f"gradients is {total}, so they cannot be clipped; find the "
                                     f"step that produces non-finite gradients, or pass "
                                     f"error_if_nonfinite=False")
        coef: Any = min(max_norm / (total + 1e-6), 1.0)
    else:  # under jit: no Python branch on the traced norm
        coef = np.minimum(max_norm / (total + 1e-6), 1.0)
    out = [g * coef if tree.is_float_leaf(g) else g for g in leaves]
    return tree.unflatten(td, out), total


def _global_norm(floats: list[Any], p: float) -> Any:
    """The p-norm of all the leaves together."""
    if p == math.inf:
        return _max_all(np.max(np.abs(g)) for g in floats)
    if p == 2.0:
        return np.sqrt(_sum_all(np.sum(g * g) for g in floats))
    if p == 1.0:
        return _sum_all(np.sum(np.abs(g)) for g in floats)
    return _sum_all(np.sum(np.abs(g) ** p) for g in floats) ** (1.0 / p)


def _sum_all(parts: Any) -> Any:
    total: Any = 0.0
    for x in parts:
        total = total + x
    return total


def _max_all(parts: Any) -> Any:
    best: Any = None
    for x in parts:
        best = x if best is None else np.maximum(best, x)
    return best
