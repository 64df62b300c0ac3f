"""The finite-difference stencils of `cr.numeric`: their weights and truncation orders, the step
each one takes, the one-variable estimate (a stencil, complex step, Richardson extrapolation) and
`derivative`, which applies it to a function of one variable.

A stencil's weights are derived, not tabulated: `stencil_table(stencil, order)` solves the
Taylor conditions for its offsets in exact rational arithmetic. The default step balances the
stencil's truncation error against round-off (`default_step`); the step actually taken is made
exact, (x + h) - x (`exact_step`). `estimate` is shared by `derivative` and by the
several-variable functions of `arrays.py`, which call it one coordinate at a time.
"""
from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from .inputs import as_output, as_point, renamed_keyword, scalar

__all__ = ["STENCILS", "HIGHER_ORDER_STENCILS", "METHODS", "HIGHER_ORDER_METHODS", "derivative",
           "default_step", "truncation_order"]

STENCILS = ("forward", "backward", "central", "five_point", "richardson", "complex_step")
#: the stencils that give second (and higher) derivatives; complex step gives first ones only
HIGHER_ORDER_STENCILS = ("forward", "backward", "central", "five_point", "richardson")
#: the old names of `STENCILS` and `HIGHER_ORDER_STENCILS` (from when `stencil=` was `method=`)
METHODS = STENCILS
HIGHER_ORDER_METHODS = HIGHER_ORDER_STENCILS

# Richardson extrapolation: central differences at RICHARDSON_STEPS steps h0, h0/2, h0/4, ... (h0 =
# _R_BASE * max(1, |x|)), extrapolated up to _R_LEVELS times (each level removes the next even
# power of h). The sequence is long on purpose: the entry with the smallest error estimate is
# taken, so a function that varies on a scale much smaller than 1 still finds steps that suit it.
_R_BASE = 0.25
RICHARDSON_STEPS = 16
_R_LEVELS = 3
# complex step: no cancellation, so the step only has to make the O(h^2) truncation negligible
_COMPLEX_STEP = 1e-20

# np.exceptions is NumPy >= 1.25; the warning lived at the top level before
_ComplexWarning: type[Warning] = getattr(np, "exceptions", np).ComplexWarning


# ---------------------------------------------------------------------------------------------
# stencils, their truncation orders and their steps

def check_stencil(stencil: str, order: int, who: str) -> None:
    if not isinstance(stencil, str) or stencil not in STENCILS:
        raise ValueError(f"{who}: unknown stencil={stencil!r}; choose one of "
                         f"{', '.join(repr(s) for s in STENCILS)}")
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
        raise ValueError(f"{who}: order={order!r} must be a positive integer (1 for the first "
                         f"derivative, 2 for the second, ...)")
    if stencil == "complex_step" and order != 1:
        raise ValueError(f"{who}: stencil='complex_step' gives first derivatives only (order=1); "
                         f"for order={order} use one of "
                         f"{', '.join(repr(s) for s in HIGHER_ORDER_STENCILS)}")
    if stencil == "five_point" and order > 2:
        raise ValueError(f"{who}: stencil='five_point' supports order 1 and 2; for order={order} "
                         f"use 'central' or 'richardson'")


def _offsets(stencil: str, order: int) -> tuple[int, ...]:
    if stencil == "forward":
        return tuple(range(order + 1))
    if stencil == "backward":
        return tuple(range(-order, 1))
    if stencil == "five_point":
        return (-2, -1, 0, 1, 2)
    half = (order + 1) // 2  # central (and richardson's base): the narrowest symmetric stencil
    return tuple(range(-half, half + 1))


@functools.cache
def stencil_table(stencil: str, order: int) -> tuple[tuple[int, ...], tuple[float, ...], int]:
    """`(offsets, weights, p)`: f^(n)(x) ~ sum(w * f(x + a*h)) / h^n with error O(h^p).

    The weights solve sum_a w_a a^m / m! = [m == n] for m = 0 .. len(offsets) - 1 (the stencil
    is exact on polynomials of that degree), in exact rational arithmetic; points with weight 0
    are dropped so they cost no evaluation."""
    offs = _offsets(stencil, order)
    size = len(offs)
    rows = [[Fraction(a) ** m / math.factorial(m) for a in offs] + [Fraction(int(m == order))]
            for m in range(size)]
    for col in range(size):  # Gauss-Jordan on a small Vandermonde system
        pivot = next(r for r in range(col, size) if rows[r][col] != 0)
        rows[col], rows[pivot] = rows[pivot], rows[col]
        rows[col] = [v / rows[col][col] for v in rows[col]]
        for r in range(size):
            if r != col and rows[r][col] != 0:
                rows[r] = [v - rows[r][col] * c for v, c in zip(rows[r], rows[col])]
    weights = [rows[k][size] for k in range(size)]
    # the first Taylor term the stencil does not cancel gives the truncation order
    p = next(m - order for m in range(size, size + 3)
             if sum(w * Fraction(a) ** m for w, a in zip(weights, offs)) != 0)
    kept = [(a, float(w)) for a, w in zip(offs, weights) if w != 0]
    return tuple(a for a, _ in kept), tuple(w for _, w in kept), p


@renamed_keyword("method", "stencil")
def truncation_order(stencil: str, order: int = 1) -> int:
    """The order p of a stencil's truncation error, O(h^p), for the `order`-th derivative.

    (Richardson: of the central base, before extrapolation.)

    Parameters
    ----------
    stencil : str
        One of `STENCILS`.
    order : int, optional
        The order of the derivative.

    Returns
    -------
    int
        p.

    Raises
    ------
    ValueError
        If the stencil is unknown or does not support `order`.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.numeric.truncation_order("central"), cr.numeric.truncation_order("five_point")
    (2, 4)
    """
    check_stencil(stencil, order, "truncation_order")
    if stencil == "complex_step":
        return 2
    return stencil_table("central" if stencil == "richardson" else stencil, order)[2]


def eps_of(dtype: Any) -> float:
    """Machine epsilon of the real part of `dtype` (float64 for anything not floating)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        dtype = np.empty((), dtype).real.dtype
    return float(np.finfo(dtype if dtype.kind == "f" else np.float64).eps)


def nominal_step(x: np.ndarray, stencil: str, order: int) -> np.ndarray:
    """The step before it is made exact: c * max(1, |x|) with c from the error model."""
    scale = np.maximum(1.0, np.abs(x)).astype(real_dtype(x.dtype))
    if stencil == "complex_step":
        return _COMPLEX_STEP * scale
    if stencil == "richardson":
        return _R_BASE * scale
    p = stencil_table(stencil, order)[2]
    # truncation C1 h^p against round-off C2 eps / h^n: the sum is smallest at h ~ eps^(1/(n+p))
    return eps_of(x.dtype) ** (1.0 / (order + p)) * scale


def real_dtype(dtype: np.dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        return np.empty((), dtype).real.dtype
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def exact_step(x: np.ndarray, h: np.ndarray, strict: bool, who: str) -> np.ndarray:
    """The step actually taken: (x + h) - x, exact in floating point, so that the difference
    quotient divides by the distance between the points f was evaluated at.

    A step below the spacing of the floating-point numbers around x vanishes (x + h == x). With
    `strict` that is an error; otherwise the nominal h is kept and the difference, exactly 0,
    shows the round-off limit (what `error_curve` wants to plot)."""
    h = np.asarray(h, real_dtype(x.dtype))
    moved = (x + h) - x
    if moved.dtype.kind == "c":
        moved = moved.real
    moved = np.asarray(moved, h.dtype)
    lost = (moved == 0) & (h != 0)
    if np.any(lost):
        if strict:
            bad = np.broadcast_to(h, lost.shape)[lost].flat[0]
            at = np.broadcast_to(x, lost.shape)[lost].flat[0]
            raise ValueError(f"{who}: the step h={bad:.3g} is below the spacing of "
                             f"floating-point numbers at x={at:.6g} (x + h == x), so every "
                             f"difference would be 0; use a larger h, or leave h=None for the "
                             f"default step")
        moved = np.where(lost, h, moved)
    return moved


def as_step(h: Any, x: np.ndarray, stencil: str, order: int, who: str) -> tuple[np.ndarray, bool]:
    """(step, strict): the user's h (positive, broadcast to x) or the default one."""
    if h is None:
        return nominal_step(x, stencil, order), False
    try:
        step = np.asarray(h, dtype=real_dtype(x.dtype))
        np.broadcast_shapes(step.shape, x.shape)
    except (TypeError, ValueError):
        raise ValueError(f"{who}: h must be a positive number or an array broadcastable to x's "
                         f"shape {x.shape}, got {h!r}") from None
    if not np.all(np.isfinite(step) & (step > 0)):
        raise ValueError(f"{who}: h must be positive and finite, got {h!r}")
    return np.broadcast_to(step, np.broadcast_shapes(step.shape, x.shape)), True


@renamed_keyword("method", "stencil")
def default_step(x: Any, stencil: str = "central", order: int = 1) -> Any:
    """The step `derivative` takes at `x` when `h` is not given.

    With eps the machine epsilon of x's dtype (`np.finfo(x.dtype).eps`: float32 gets larger
    steps than float64) and s = max(1, |x|):

    - ``forward``, ``backward`` (truncation O(h)):    h = eps^(1/(n+1)) * s
    - ``central`` (O(h^2)):                           h = eps^(1/(n+2)) * s
    - ``five_point`` (O(h^4)):                        h = eps^(1/(n+4)) * s
    - ``richardson``: the largest of its steps,       h0 = 0.25 * s, then h0/2, h0/4, ...
    - ``complex_step``:                               h = 1e-20 * s

    For the n-th derivative a difference quotient with truncation error C1 h^p divides round-off
    errors of size eps |f| by h^n; the total C1 h^p + C2 eps / h^n is smallest at
    h ~ eps^(1/(n+p)), where the error is ~ eps^(p/(n+p)): about 1e-8 for forward differences,
    1e-11 central, 1e-13 five-point (float64, n = 1). The factor s keeps the step above the
    spacing of the numbers around a large x. Complex step subtracts nothing, so its step only
    has to be small. The step returned is the one actually taken, (x + h) - x.

    Parameters
    ----------
    x : float or array_like
        The point.
    stencil : str, optional
        One of `STENCILS`.
    order : int, optional
        The order of the derivative, n.

    Returns
    -------
    float or ndarray
        The step (one per element of an array `x`).

    Raises
    ------
    ValueError
        If the stencil is unknown or does not support `order`.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(f"{cr.numeric.default_step(1.0):.2e}", f"{cr.numeric.default_step(100.0):.2e}")
    6.06e-06 6.06e-04
    """
    check_stencil(stencil, order, "default_step")
    xa = as_point(x, "default_step")
    h = nominal_step(xa, stencil, order)
    if stencil != "complex_step":
        h = exact_step(xa, h, strict=False, who="default_step")
    return h[()] if h.ndim == 0 else h


# ---------------------------------------------------------------------------------------------
# the one-variable estimate, shared by derivative, jacobian and hessian

_Evaluate = Callable[[Any], np.ndarray]  # f at x + t, as an array


def weighted(values: Sequence[Any], weights: Sequence[float], denom: Any,
             eps: float) -> tuple[np.ndarray, np.ndarray]:
    """sum(w * v) / denom, and a bound of its round-off: eps * sum(|w v|) / |denom| (each value
    carries a relative error of about eps, which the subtraction does not cancel)."""
    total = sum(w * v for w, v in zip(weights, values))
    spread = sum(abs(w) * np.abs(v) for w, v in zip(weights, values))
    return total / denom, eps * spread / np.abs(denom)


def _out_eps(values: Iterable[np.ndarray]) -> float:
    return max(eps_of(np.asarray(v).dtype) for v in values)


def _stencil_estimate(at: _Evaluate, x: np.ndarray, h: np.ndarray, stencil: str, order: int,
                      strict: bool, who: str) -> tuple[np.ndarray, np.ndarray]:
    """(estimate, round-off bound) of a stencil at step h."""
    offs, ws, _ = stencil_table(stencil, order)
    step = exact_step(x, h, strict, who)
    values = [at(a * step) for a in offs]
    eps = max(_out_eps(values), eps_of(x.dtype))
    return weighted(values, ws, step ** order, eps)


def _complex_estimate(at: _Evaluate, x: np.ndarray, h: np.ndarray,
                      who: str) -> tuple[np.ndarray, np.ndarray]:
    if x.dtype.kind == "c":
        raise ValueError(f"{who}: stencil='complex_step' needs a real x (it moves x along the "
                         f"imaginary axis); x has dtype {x.dtype}. Use 'central' for complex x")
    h = np.asarray(h, x.dtype)
    with warnings.catch_warnings():
        # a complex value cast to real inside f silently drops the part that carries the result
        warnings.simplefilter("error", _ComplexWarning)
        try:
            value = at(1j * h)
        except _ComplexWarning as exc:
            what = f"it cast a complex value to real ({exc})"
            raise TypeError(_complex_message(who, what)) from None
        except TypeError as exc:
            raise TypeError(_complex_message(who, f"it raised TypeError: {exc}")) from exc
    if value.dtype.kind != "c":
        raise TypeError(_complex_message(
            who, f"it returned a real value (dtype {value.dtype}) for the complex input x + ih"))
    est = value.imag / h
    return est, eps_of(value.dtype) * np.abs(est)


def _complex_message(who: str, what: str) -> str:
    return (f"{who}: stencil='complex_step' evaluates f at x + ih and reads the derivative from "
            f"the imaginary part of the result, but f dropped it: {what}. f must be complex-safe "
            f"(chainrule.numpy and NumPy functions are; abs, real, float(), comparisons and "
            f"casts are not), or use stencil='central' or 'richardson'")


def richardson_table(values: np.ndarray, roundoff: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The best entry of a Richardson tableau and its error estimate, elementwise.

    values[k] is a central difference at step h0 / 2^k (errors in even powers of h). Level j
    combines neighbours as (4^j T_k - T_(k-1)) / (4^j - 1), removing the h^(2j) term. The error
    of an entry is estimated as the sum of its distances to the two entries of the same level at
    the next larger steps (mostly their own, larger, errors: an over-estimate, and one that two
    values agreeing by accident cannot fool), plus a bound of the round-off carried through the
    combinations; the entry with the smallest estimate wins."""
    level, rnd = values, roundoff
    cands, errs = [], []
    for j in range(min(_R_LEVELS, len(values) - 3) + 1):
        if j:
            c = 4.0 ** j
            level = (c * level[1:] - level[:-1]) / (c - 1)
            rnd = (c * rnd[1:] + rnd[:-1]) / (c - 1)
        cands.append(level[2:])
        errs.append(np.abs(level[2:] - level[1:-1]) + np.abs(level[2:] - level[:-2]) + rnd[2:])
    cand = np.concatenate(cands)
    err = np.concatenate(errs)
    err = np.where(np.isfinite(err) & np.isfinite(cand), err, np.inf)
    best = np.argmin(err, axis=0)[None]
    return (np.take_along_axis(cand, best, axis=0)[0],
            np.take_along_axis(err, best, axis=0)[0])


def _richardson_steps(x: np.ndarray, h0: np.ndarray, strict: bool, who: str) -> list[np.ndarray]:
    first = exact_step(x, h0, strict, who)
    # only the largest step is the user's: the smaller ones are the stencil's business
    return [first] + [exact_step(x, h0 / 2.0 ** k, False, who) for k in range(1, RICHARDSON_STEPS)]


def estimate(at: _Evaluate, x: np.ndarray, h: np.ndarray, stencil: str, order: int,
             strict: bool, want_error: bool, who: str) -> tuple[np.ndarray, Any]:
    """The `order`-th derivative along one coordinate (or elementwise along each): `at(t)` is f
    at x + t. Returns (estimate, error estimate or None)."""
    if stencil == "richardson":
        ests, rnds = [], []
        with np.errstate(all="ignore"):  # the largest steps may leave f's domain: not chosen then
            offs, ws, _ = stencil_table("central", order)
            for step in _richardson_steps(x, h, strict, who):
                values = [at(a * step) for a in offs]
                e, r = weighted(values, ws, step ** order, max(_out_eps(values), eps_of(x.dtype)))
                ests.append(e)
                rnds.append(r)
        shape = np.broadcast_shapes(*(np.shape(e) for e in ests))
        value, err = richardson_table(np.stack([np.broadcast_to(e, shape) for e in ests]),
                                      np.stack([np.broadcast_to(r, shape) for r in rnds]))
        return value, (err if want_error else None)
    if stencil == "complex_step":
        value, rnd = _complex_estimate(at, x, h, who)
        p = 2
    else:
        value, rnd = _stencil_estimate(at, x, h, stencil, order, strict, who)
        p = stencil_table(stencil, order)[2]
    if not want_error:
        return value, None
    # a-posteriori: the same stencil at 2h; with error ~ C h^p the difference is (2^p - 1) C h^p
    if stencil == "complex_step":
        twice, _ = _complex_estimate(at, x, 2 * h, who)
    else:
        twice, _ = _stencil_estimate(at, x, 2 * h, stencil, order, False, who)
    return value, np.abs(value - twice) / (2.0 ** p - 1) + rnd


# ---------------------------------------------------------------------------------------------
# derivative

@renamed_keyword("method", "stencil")
def derivative(f: Callable[[Any], Any], x: Any, stencil: str = "central", h: Any = None,
               order: int = 1, *, full_output: bool = False) -> Any:
    """The `order`-th derivative of f at x by finite differences.

    f maps a number to a number; x may also be an array, and then f must be elementwise (each
    output depends only on the input at the same position): every element is moved by its own
    step in one evaluation, giving the elementwise derivative.

    Parameters
    ----------
    f : callable
        A function of one number (elementwise over arrays).
    x : float or array_like
        The point.
    stencil : str, optional
        One of `STENCILS` (see `cr.numeric`'s docstring for each formula and its error):
        ``"forward"``, ``"backward"``, ``"central"`` (default), ``"five_point"``,
        ``"richardson"`` (central differences at 16 halving steps combined by Richardson
        extrapolation; the entry with the smallest error estimate is returned), ``"complex_step"``
        (Im f(x + ih) / h: f must accept complex input, as chainrule.numpy and NumPy functions
        do; first derivatives only). The old keyword `method=` still works, with a
        `DeprecationWarning`.
    h : float or array_like, optional
        The step (a positive number or an array like x; for Richardson the largest of its
        steps); by default it is chosen from the stencil's error model and x's dtype, see
        `default_step`. The step is made exact, h = (x + h) - x, so the quotient divides by the
        distance between the points actually used.
    order : int, optional
        The order of the derivative.
    full_output : bool, optional
        Also return an error estimate.

    Returns
    -------
    value : float or ndarray
        The derivative.
    error : float or ndarray
        Only with `full_output=True`: for Richardson the estimate from its tableau, for the
        others the difference to the same stencil at step 2h (scaled by the stencil's order) plus
        a bound of the round-off error.

    Raises
    ------
    ValueError
        If the stencil is unknown or does not support `order`, `h` is not positive, or the step
        is so small that x + h == x.
    TypeError
        If `x` is a traced value or not a number, or f does not accept complex input for
        ``"complex_step"``.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(abs(cr.numeric.derivative(np.sin, 1.0) - np.cos(1.0)) < 1e-9)
    True
    >>> print(cr.numeric.derivative(np.sin, 1.0, stencil="complex_step") == np.cos(1.0))
    True
    >>> print(np.round(cr.numeric.derivative(np.exp, np.zeros(2), order=2), 6))
    [1. 1.]
    """
    who = f"derivative(stencil={stencil!r})"
    check_stencil(stencil, order, "derivative")
    xa = as_point(x, "derivative")
    step, strict = as_step(h, xa, stencil, order, "derivative")

    def at(t: Any) -> np.ndarray:
        return as_output(f(xa + t), who)

    value, err = estimate(at, xa, step, stencil, order, strict, full_output, who)
    value = scalar(np.asarray(value))
    return (value, scalar(np.asarray(err))) if full_output else value
