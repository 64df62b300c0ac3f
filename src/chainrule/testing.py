"""`check_grads`: compare a function's derivatives with finite differences.

Forward mode is checked by comparing `jvp(f, x, v)` with a high-order central difference of `f`
along random directions `v`; reverse mode by the adjoint identity <u, J v> = <J^T u, v> with
random `u`, where `J v` is the finite difference. `order=2` then checks the derivative functions
themselves the same way (so the rules' own rules are checked). The checks are deliberately tight:
a rule that is off by 0.05% fails.

Examples
--------
>>> import numpy as np
>>> import chainrule as cr
>>> import chainrule.numpy as cnp
>>> cr.testing.check_grads(lambda x: cnp.sum(cnp.sin(x) * cnp.cumprod(x)), (np.ones(3),))
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._core import tree
from .overload.transforms import jvp, vjp


class GradCheckError(AssertionError):
    """A derivative disagrees with finite differences (a subclass of `AssertionError`).

    Examples
    --------
    >>> import chainrule as cr
    >>> bad = cr.custom_jvp(lambda x: x ** 2)
    >>> _ = bad.defjvp(lambda p, t: (bad(*p), 2.1 * p[0] * t[0]))   # off by 5%
    >>> try:
    ...     cr.testing.check_grads(bad, (1.5,), modes=("fwd",))
    ... except cr.testing.GradCheckError as exc:
    ...     print(str(exc).split(":")[0])
    JVP of <lambda> (output 0)
    """


def _as_float_arrays(args: Sequence[Any]) -> list[np.ndarray]:
    out = []
    for a in args:
        arr = np.asarray(a)
        if not np.issubdtype(arr.dtype, np.inexact):
            raise TypeError(f"check_grads: arguments must be floating point, got {arr.dtype}")
        out.append(arr.astype(np.float64) if arr.dtype != np.complex128 else arr)
    return out


def _numeric_jvp(f: Callable[..., Any], args: list[np.ndarray], dirs: list[np.ndarray],
                 eps: float) -> Any:
    """Five-point central difference of f along dirs: error O(eps^4)."""

    def at(t: float) -> list[np.ndarray]:
        out = f(*[a + t * d for a, d in zip(args, dirs)])
        return [_wide(v) for v in tree.leaves(out)
                if tree.is_float_leaf(v)]  # integer outputs have no derivative

    fp1, fm1, fp2, fm2 = at(eps), at(-eps), at(2 * eps), at(-2 * eps)
    return [(8 * (a - b) - (c - d)) / (12 * eps) for a, b, c, d in zip(fp1, fm1, fp2, fm2)]


def _direction(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """A random direction like `x`: complex where `x` is (its imaginary part moves too)."""
    d = rng.standard_normal(x.shape)
    return d + 1j * rng.standard_normal(x.shape) if x.dtype.kind == "c" else d


def _pair(a: Any, b: Any) -> float:
    return float(np.real(np.sum(np.conj(np.asarray(a)) * b)))


def _wide(v: Any) -> np.ndarray:
    """`v` in double precision, complex values staying complex (both parts are checked)."""
    v = np.asarray(v)
    return v.astype(np.complex128 if v.dtype.kind == "c" else np.float64)


def _close(name: str, got: Any, want: Any, atol: float, rtol: float) -> None:
    got, want = _wide(got), _wide(want)
    if got.shape != want.shape:
        raise GradCheckError(f"{name}: shape {got.shape} differs from the expected {want.shape}")
    err = np.abs(got - want)
    tol = atol + rtol * np.abs(want)
    if not np.all(err <= tol):
        k = int(np.argmax(err - tol))
        raise GradCheckError(f"{name}: got {got.ravel()[k]!r}, finite differences give "
                             f"{want.ravel()[k]!r} (max abs error {err.max():.3g}, tolerance "
                             f"atol={atol:g} rtol={rtol:g})")


def check_grads(f: Callable[..., Any], args: Sequence[Any], order: int = 2,
                modes: Sequence[str] = ("fwd", "rev"), eps: float = 1e-3, atol: float = 1e-6,
                rtol: float = 1e-5, seed: int = 0) -> None:
    """Check the derivatives of `f` at `args` against finite differences.

    Raise `GradCheckError` unless the forward ("fwd") and reverse ("rev") derivatives of `f`
    at `args` (arrays or floats; outputs may be pytrees) agree with finite differences, up to
    `order`. Forward mode compares `jvp` along a random direction with a five-point central
    difference; reverse mode checks the adjoint identity <u, J v> = <J^T u, v> for random `u`.
    With `order` > 1 the derivative functions are checked in turn.

    Parameters
    ----------
    f : callable
        The function, of floating-point positional arguments.
    args : sequence
        The point: one float or floating-point array per positional argument.
    order : int, optional
        The highest order of derivative checked.
    modes : sequence of str, optional
        `"fwd"`, `"rev"` or both.
    eps : float, optional
        The finite-difference step.
    atol, rtol : float, optional
        The absolute and relative tolerances (the absolute one scaled by the derivative's size).
    seed : int, optional
        The seed of the random directions.

    Returns
    -------
    None

    Raises
    ------
    GradCheckError
        If a derivative disagrees with finite differences, naming which.
    TypeError
        If an argument is not floating point.
    ValueError
        If a mode is unknown or `order` is below 1.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> cr.testing.check_grads(lambda x, y: cnp.tanh(x) * y, (np.ones(2), 0.5), order=2)
    """
    for m in modes:
        if m not in ("fwd", "rev"):
            raise ValueError(f"check_grads: unknown mode {m!r}; use 'fwd' and/or 'rev'")
    if order < 1:
        raise ValueError("check_grads: order must be at least 1")
    rng = np.random.default_rng(seed)
    xs = _as_float_arrays(args)
    dirs = [_direction(rng, x) for x in xs]
    num = _numeric_jvp(f, xs, dirs, eps)
    scale = [max(1.0, float(np.max(np.abs(n)))) if np.size(n) else 1.0 for n in num]

    if "fwd" in modes:
        _, t = jvp(f, tuple(xs), tuple(dirs))
        for k, (got, want) in enumerate(zip(tree.leaves(t), num)):
            _close(f"JVP of {getattr(f, '__name__', 'f')} (output {k})", got, want,
                   atol * scale[k], rtol)
    if "rev" in modes:
        out, pullback = vjp(f, *xs)
        cts = tree.tree_map(lambda o: _direction(rng, np.asarray(o)) if tree.is_float_leaf(o)
                            else np.zeros(np.shape(o)), out)
        grads = pullback(cts)
        # <ct, J d> = <vjp(ct), d>, the pairing of chainrule's complex convention (a gradient
        # dL/dx + i dL/dy moves L by Re(conj(g) d) along d): real parts of conj(a) b
        lhs = sum(_pair(g, d) for g, d in zip(grads, dirs))
        float_cts = [c for c, o in zip(tree.leaves(cts), tree.leaves(out)) if tree.is_float_leaf(o)]
        rhs = sum(_pair(c, n) for c, n in zip(float_cts, num))
        mag = sum(float(np.sum(np.abs(c * n))) for c, n in zip(float_cts, num))
        _close(f"VJP of {getattr(f, '__name__', 'f')} (adjoint test <J^T u, v> = <u, J v>)",
               lhs, rhs, atol * max(1.0, mag), rtol)

    if order > 1:
        if "fwd" in modes:
            def f_jvp(*a: Any) -> Any:
                return jvp(f, a, tuple(dirs))[1]
            f_jvp.__name__ = f"jvp({getattr(f, '__name__', 'f')})"
            check_grads(f_jvp, xs, order - 1, modes, eps, atol, rtol, seed + 1)
        if "rev" in modes:
            out0 = f(*xs)
            cts0 = tree.tree_map(lambda o: rng.standard_normal(np.shape(o)), out0)

            def f_vjp(*a: Any) -> Any:
                return vjp(f, *a)[1](cts0)
            f_vjp.__name__ = f"vjp({getattr(f, '__name__', 'f')})"
            check_grads(f_vjp, xs, order - 1, modes, eps, atol, rtol, seed + 2)
