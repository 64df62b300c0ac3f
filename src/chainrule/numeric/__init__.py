"""cr.numeric — derivatives by finite differences, the approximation AD is measured against.

This package owns the value-style finite-difference API:

- `derivative(f, x, method="central", h=None, order=1)`: the derivative of a function of one
  variable (elementwise over an array `x`), by one of the methods of `METHODS`;
- `grad`, `jacobian`, `hessian`: the same over arrays and pytrees;
- `default_step`: the step each method takes when `h` is not given;
- `error_curve` and `plot_error_curve`: the total error against the step size, which shows the
  trade-off every finite difference makes between truncation (step too large) and round-off
  (step too small) — the V shape on a log-log plot.

`method="numeric"` on chainrule's transforms (`cr.grad(f, method="numeric")`, ...) lives in
`chainrule.numeric.transforms` and is built on the same machinery.

The methods, for a step `h` and the n-th derivative (`order=n`):

========================  =====================================================  ============
method                    formula (n = 1)                                        truncation
========================  =====================================================  ============
``forward``               (f(x+h) - f(x)) / h                                    O(h)
``backward``              (f(x) - f(x-h)) / h                                    O(h)
``central``               (f(x+h) - f(x-h)) / 2h                                 O(h^2)
``five_point``            (f(x-2h) - 8f(x-h) + 8f(x+h) - f(x+2h)) / 12h          O(h^4)
``richardson``            central differences at h, h/2, h/4, ... extrapolated   O(h^8)
``complex_step``          Im f(x + ih) / h  (no subtraction, so no cancellation)  O(h^2)
========================  =====================================================  ============

Higher orders use the stencil of the same width with the weights that make it exact for
polynomials of the highest degree it can (for n = 2 central is (f(x+h) - 2f(x) + f(x-h)) / h^2).
"""
from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from .._core import tree
from .._core.primitive import Tracer

__all__ = ["METHODS", "HIGHER_ORDER_METHODS", "derivative", "default_step", "truncation_order",
           "grad", "jacobian", "hessian", "error_curve", "ErrorCurve", "plot_error_curve"]

METHODS = ("forward", "backward", "central", "five_point", "richardson", "complex_step")
#: the methods that give second (and higher) derivatives; complex step gives first ones only
HIGHER_ORDER_METHODS = ("forward", "backward", "central", "five_point", "richardson")

# Richardson extrapolation: central differences at _R_STEPS steps h0, h0/2, h0/4, ... (h0 =
# _R_BASE * max(1, |x|)), extrapolated up to _R_LEVELS times (each level removes the next even
# power of h). The sequence is long on purpose: the entry with the smallest error estimate is
# taken, so a function that varies on a scale much smaller than 1 still finds steps that suit it.
_R_BASE = 0.25
_R_STEPS = 16
_R_LEVELS = 3
# complex step: no cancellation, so the step only has to make the O(h^2) truncation negligible
_COMPLEX_STEP = 1e-20

# np.exceptions is NumPy >= 1.25; the warning lived at the top level before
_ComplexWarning: type[Warning] = getattr(np, "exceptions", np).ComplexWarning


# ---------------------------------------------------------------------------------------------
# methods, stencils and steps

def _check_method(method: str, order: int, who: str) -> None:
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"{who}: unknown method={method!r}; choose one of "
                         f"{', '.join(repr(m) for m in METHODS)}")
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
        raise ValueError(f"{who}: order={order!r} must be a positive integer (1 for the first "
                         f"derivative, 2 for the second, ...)")
    if method == "complex_step" and order != 1:
        raise ValueError(f"{who}: method='complex_step' gives first derivatives only (order=1); "
                         f"for order={order} use one of "
                         f"{', '.join(repr(m) for m in HIGHER_ORDER_METHODS)}")
    if method == "five_point" and order > 2:
        raise ValueError(f"{who}: method='five_point' supports order 1 and 2; for order={order} "
                         f"use 'central' or 'richardson'")


def _offsets(method: str, order: int) -> tuple[int, ...]:
    if method == "forward":
        return tuple(range(order + 1))
    if method == "backward":
        return tuple(range(-order, 1))
    if method == "five_point":
        return (-2, -1, 0, 1, 2)
    half = (order + 1) // 2  # central (and richardson's base): the narrowest symmetric stencil
    return tuple(range(-half, half + 1))


@functools.cache
def _stencil(method: str, order: int) -> tuple[tuple[int, ...], tuple[float, ...], int]:
    """`(offsets, weights, p)`: f^(n)(x) ~ sum(w * f(x + a*h)) / h^n with error O(h^p).

    The weights solve sum_a w_a a^m / m! = [m == n] for m = 0 .. len(offsets) - 1 (the stencil
    is exact on polynomials of that degree), in exact rational arithmetic; points with weight 0
    are dropped so they cost no evaluation."""
    offs = _offsets(method, order)
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


def truncation_order(method: str, order: int = 1) -> int:
    """p such that the method's truncation error is O(h^p) for the `order`-th derivative
    (Richardson: of the central base, before extrapolation)."""
    _check_method(method, order, "truncation_order")
    if method == "complex_step":
        return 2
    return _stencil("central" if method == "richardson" else method, order)[2]


def _eps(dtype: Any) -> float:
    """Machine epsilon of the real part of `dtype` (float64 for anything not floating)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        dtype = np.empty((), dtype).real.dtype
    return float(np.finfo(dtype if dtype.kind == "f" else np.float64).eps)


def _nominal_step(x: np.ndarray, method: str, order: int) -> np.ndarray:
    """The step before it is made exact: c * max(1, |x|) with c from the error model."""
    scale = np.maximum(1.0, np.abs(x)).astype(_real_dtype(x.dtype))
    if method == "complex_step":
        return _COMPLEX_STEP * scale
    if method == "richardson":
        return _R_BASE * scale
    p = _stencil(method, order)[2]
    # truncation C1 h^p against round-off C2 eps / h^n: the sum is smallest at h ~ eps^(1/(n+p))
    return _eps(x.dtype) ** (1.0 / (order + p)) * scale


def _real_dtype(dtype: np.dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        return np.empty((), dtype).real.dtype
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def _exact_step(x: np.ndarray, h: np.ndarray, strict: bool, who: str) -> np.ndarray:
    """The step actually taken: (x + h) - x, exact in floating point, so that the difference
    quotient divides by the distance between the points f was evaluated at.

    A step below the spacing of the floating-point numbers around x vanishes (x + h == x). With
    `strict` that is an error; otherwise the nominal h is kept and the difference, exactly 0,
    shows the round-off limit (what `error_curve` wants to plot)."""
    h = np.asarray(h, _real_dtype(x.dtype))
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


def default_step(x: Any, method: str = "central", order: int = 1) -> Any:
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
    """
    _check_method(method, order, "default_step")
    xa = _as_point(x, "default_step")
    h = _nominal_step(xa, method, order)
    if method != "complex_step":
        h = _exact_step(xa, h, strict=False, who="default_step")
    return h[()] if h.ndim == 0 else h


# ---------------------------------------------------------------------------------------------
# the one-variable estimate, shared by derivative, jacobian and hessian

_Evaluate = Callable[[Any], np.ndarray]  # f at x + t, as an array


def _weighted(values: Sequence[Any], weights: Sequence[float], denom: Any,
              eps: float) -> tuple[np.ndarray, np.ndarray]:
    """sum(w * v) / denom, and a bound of its round-off: eps * sum(|w v|) / |denom| (each value
    carries a relative error of about eps, which the subtraction does not cancel)."""
    total = sum(w * v for w, v in zip(weights, values))
    spread = sum(abs(w) * np.abs(v) for w, v in zip(weights, values))
    return total / denom, eps * spread / np.abs(denom)


def _out_eps(values: Iterable[np.ndarray]) -> float:
    return max(_eps(np.asarray(v).dtype) for v in values)


def _stencil_estimate(at: _Evaluate, x: np.ndarray, h: np.ndarray, method: str, order: int,
                      strict: bool, who: str) -> tuple[np.ndarray, np.ndarray]:
    """(estimate, round-off bound) of a stencil method at step h."""
    offs, ws, _ = _stencil(method, order)
    step = _exact_step(x, h, strict, who)
    values = [at(a * step) for a in offs]
    eps = max(_out_eps(values), _eps(x.dtype))
    return _weighted(values, ws, step ** order, eps)


def _complex_estimate(at: _Evaluate, x: np.ndarray, h: np.ndarray,
                      who: str) -> tuple[np.ndarray, np.ndarray]:
    if x.dtype.kind == "c":
        raise ValueError(f"{who}: method='complex_step' needs a real x (it moves x along the "
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
    return est, _eps(value.dtype) * np.abs(est)


def _complex_message(who: str, what: str) -> str:
    return (f"{who}: method='complex_step' evaluates f at x + ih and reads the derivative from "
            f"the imaginary part of the result, but f dropped it: {what}. f must be complex-safe "
            f"(chainrule.numpy and NumPy functions are; abs, real, float(), comparisons and "
            f"casts are not), or use method='central' or 'richardson'")


def _richardson_table(values: np.ndarray, roundoff: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
    first = _exact_step(x, h0, strict, who)
    # only the largest step is the user's: the smaller ones are the method's business
    return [first] + [_exact_step(x, h0 / 2.0 ** k, False, who) for k in range(1, _R_STEPS)]


def _estimate(at: _Evaluate, x: np.ndarray, h: np.ndarray, method: str, order: int,
              strict: bool, want_error: bool, who: str) -> tuple[np.ndarray, Any]:
    """The `order`-th derivative along one coordinate (or elementwise along each): `at(t)` is f
    at x + t. Returns (estimate, error estimate or None)."""
    if method == "richardson":
        ests, rnds = [], []
        with np.errstate(all="ignore"):  # the largest steps may leave f's domain: not chosen then
            offs, ws, _ = _stencil("central", order)
            for step in _richardson_steps(x, h, strict, who):
                values = [at(a * step) for a in offs]
                e, r = _weighted(values, ws, step ** order, max(_out_eps(values), _eps(x.dtype)))
                ests.append(e)
                rnds.append(r)
        shape = np.broadcast_shapes(*(np.shape(e) for e in ests))
        value, err = _richardson_table(np.stack([np.broadcast_to(e, shape) for e in ests]),
                                       np.stack([np.broadcast_to(r, shape) for r in rnds]))
        return value, (err if want_error else None)
    if method == "complex_step":
        value, rnd = _complex_estimate(at, x, h, who)
        p = 2
    else:
        value, rnd = _stencil_estimate(at, x, h, method, order, strict, who)
        p = _stencil(method, order)[2]
    if not want_error:
        return value, None
    # a-posteriori: the same method at 2h; with error ~ C h^p the difference is (2^p - 1) C h^p
    if method == "complex_step":
        twice, _ = _complex_estimate(at, x, 2 * h, who)
    else:
        twice, _ = _stencil_estimate(at, x, 2 * h, method, order, False, who)
    return value, np.abs(value - twice) / (2.0 ** p - 1) + rnd


# ---------------------------------------------------------------------------------------------
# inputs

def _as_point(x: Any, who: str) -> np.ndarray:
    """x as a floating-point array (a copy), refusing what cannot be differentiated."""
    if isinstance(x, Tracer):
        raise TypeError(_traced_message(who))
    if isinstance(x, (tuple, list, dict)) or tree.structure(x) != tree.LEAF:
        raise TypeError(f"{who}: x must be a number or an array, got {type(x).__name__}; for "
                        f"pytrees of arrays use cr.numeric.grad, .jacobian or .hessian")
    if not tree.is_float_leaf(x):
        dt = "str" if isinstance(x, str) else np.asarray(x).dtype
        raise TypeError(f"{who}: x has dtype {dt}, which cannot be differentiated; pass a "
                        f"floating-point value (e.g. 3.0 instead of 3, or x.astype(float))")
    return np.array(x)


def _traced_message(who: str) -> str:
    return (f"{who}: finite differences evaluate f at concrete points, but got a traced value "
            f"(this numeric derivative is itself being differentiated by an AD transform); "
            f"make the numeric derivative the outermost one, or use an AD method inside")


def _as_step(h: Any, x: np.ndarray, method: str, order: int, who: str) -> tuple[np.ndarray, bool]:
    """(step, strict): the user's h (positive, broadcast to x) or the default one."""
    if h is None:
        return _nominal_step(x, method, order), False
    try:
        step = np.asarray(h, dtype=_real_dtype(x.dtype))
        np.broadcast_shapes(step.shape, x.shape)
    except (TypeError, ValueError):
        raise ValueError(f"{who}: h must be a positive number or an array broadcastable to x's "
                         f"shape {x.shape}, got {h!r}") from None
    if not np.all(np.isfinite(step) & (step > 0)):
        raise ValueError(f"{who}: h must be positive and finite, got {h!r}")
    return np.broadcast_to(step, np.broadcast_shapes(step.shape, x.shape)), True


def _as_output(result: Any, who: str) -> np.ndarray:
    if isinstance(result, Tracer):
        raise TypeError(_traced_message(who))
    out = np.asarray(result)
    if out.dtype.kind not in "biufc":
        raise TypeError(f"{who}: f must return a number or a numeric array, got "
                        f"{type(result).__name__}")
    return out


def _scalar(a: np.ndarray) -> Any:
    return a[()] if isinstance(a, np.ndarray) and a.ndim == 0 else a


# ---------------------------------------------------------------------------------------------
# derivative

def derivative(f: Callable[[Any], Any], x: Any, method: str = "central", h: Any = None,
               order: int = 1, *, full_output: bool = False) -> Any:
    """The `order`-th derivative of f at x by finite differences.

    f maps a number to a number; x may also be an array, and then f must be elementwise (each
    output depends only on the input at the same position): every element is moved by its own
    step in one evaluation, giving the elementwise derivative.

    `method` is one of `METHODS` (see the module docstring for each formula and its error):
    ``"forward"``, ``"backward"``, ``"central"`` (default), ``"five_point"``,
    ``"richardson"`` (central differences at 16 halving steps combined by Richardson
    extrapolation; the entry with the smallest error estimate is returned), ``"complex_step"``
    (Im f(x + ih) / h: f must accept complex input, as chainrule.numpy and NumPy functions do;
    first derivatives only).

    `h` is the step (a positive number or an array like x; for Richardson the largest of its
    steps); by default it is chosen from the method's error model and x's dtype, see
    `default_step`. The step is made exact, h = (x + h) - x, so the quotient divides by the
    distance between the points actually used; a step so small that x + h == x is an error.

    With `full_output=True` returns `(value, error_estimate)`: for Richardson the estimate from
    its tableau, for the others the difference to the same method at step 2h (scaled by the
    method's order) plus a bound of the round-off error.
    """
    who = f"derivative(method={method!r})"
    _check_method(method, order, "derivative")
    xa = _as_point(x, "derivative")
    step, strict = _as_step(h, xa, method, order, "derivative")

    def at(t: Any) -> np.ndarray:
        return _as_output(f(xa + t), who)

    value, err = _estimate(at, xa, step, method, order, strict, full_output, who)
    value = _scalar(np.asarray(value))
    return (value, _scalar(np.asarray(err))) if full_output else value


# ---------------------------------------------------------------------------------------------
# several variables: a pytree flattened to coordinates

class _Point:
    """f around a point x given as a pytree: its float leaves, coordinate by coordinate.

    `self(moves, along=None, s=0.0)` evaluates f at x + s*along + sum(t e_c for c, t in moves)
    and returns the float leaves of the output, raveled and joined into one vector."""

    def __init__(self, f: Callable[[Any], Any], x: Any, who: str) -> None:
        self.f, self.who = f, who
        leaves, self.td = tree.flatten(x)
        if any(isinstance(v, Tracer) for v in leaves):
            raise TypeError(_traced_message(who))
        if self.td == tree.LEAF and not tree.is_float_leaf(leaves[0]):
            dt = "str" if isinstance(leaves[0], str) else np.asarray(leaves[0]).dtype
            raise TypeError(f"{who}: x has dtype {dt}, which cannot be differentiated; pass a "
                            f"floating-point value (e.g. 3.0 instead of 3, or x.astype(float)) "
                            f"or a pytree whose float leaves are the variables")
        self.leaves = leaves
        self.floats = [k for k, v in enumerate(leaves) if tree.is_float_leaf(v)]
        self.arrays = {k: np.array(leaves[k]) for k in self.floats}
        # a coordinate is (leaf, element, part): a complex element has two, its real part (0)
        # and its imaginary part (1), each leaf's real parts first
        self.coords: list[tuple[int, int, int]] = [
            (k, j, part) for k in self.floats
            for part in ((0, 1) if self.arrays[k].dtype.kind == "c" else (0,))
            for j in range(self.arrays[k].size)]
        self.out_leaves: list[Any] | None = None
        out = self(())
        self.out = out
        self.out_is_float = [tree.is_float_leaf(o) for o in self.out_leaves]  # type: ignore

    @property
    def n(self) -> int:
        return len(self.coords)

    def value(self, c: int) -> np.ndarray:
        """The coordinate's value: an element, or its real or imaginary part."""
        k, j, part = self.coords[c]
        v = self.arrays[k].reshape(-1)[j:j + 1].reshape(())
        if self.arrays[k].dtype.kind == "c":
            v = np.asarray(v.imag if part else v.real)
        return v

    def dtype(self, c: int) -> np.dtype:
        return _real_dtype(self.arrays[self.coords[c][0]].dtype)

    def args(self, moves: Sequence[tuple[int, Any]], along: Sequence[Any] | None = None,
             s: Any = 0.0) -> Any:
        new = {k: a for k, a in self.arrays.items()}
        if along is not None:
            for k, v in zip(self.floats, along):
                # np.array: arithmetic on 0-d arrays gives scalars, which cannot be written into
                new[k] = np.array(self.arrays[k] + s * np.asarray(v, self.arrays[k].dtype))
        for c, t in moves:
            k, j, part = self.coords[c]
            a = new[k]
            t = np.asarray(t) * 1j if part else np.asarray(t)  # (a step of the imaginary part)
            dt = np.result_type(a.dtype, t.dtype) if t.dtype.kind == "c" else a.dtype
            a = a.astype(dt, copy=True) if (a is self.arrays[k] or a.dtype != dt) else a
            a.reshape(-1)[j] += t
            new[k] = a
        leaves = list(self.leaves)
        for k, a in new.items():
            if a is self.arrays[k]:  # (f may write into its arguments: never into the point)
                a = a.copy()
            # keep each leaf's kind: an array stays an array, a number stays a (NumPy) number
            leaves[k] = a if isinstance(self.leaves[k], np.ndarray) else a[()]
        for k, v in enumerate(leaves):
            if k not in new and isinstance(v, np.ndarray):
                leaves[k] = v.copy()  # (nor into the caller's integer arrays)
        return tree.unflatten(self.td, leaves)

    def __call__(self, moves: Sequence[tuple[int, Any]], along: Sequence[Any] | None = None,
                 s: Any = 0.0) -> np.ndarray:
        return self.flat_out(self.f(self.args(moves, along, s)))

    def flat_out(self, result: Any) -> np.ndarray:
        leaves, td = tree.flatten(result)
        if any(isinstance(o, Tracer) for o in leaves):
            raise TypeError(_traced_message(self.who))
        if self.out_leaves is None:
            self.out_leaves, self.out_td = leaves, td
            for o in leaves:
                if tree.is_float_leaf(o) or isinstance(o, (bool, int, np.integer, np.bool_)):
                    continue
                if isinstance(o, np.ndarray) and o.dtype.kind in "biu":
                    continue
                raise TypeError(f"{self.who}: f must return numbers, arrays or pytrees of them; "
                                f"its output has a leaf of type {type(o).__name__}")
            float_out = [np.asarray(o) for o in leaves if tree.is_float_leaf(o)]
        else:
            if td != self.out_td:
                raise ValueError(f"{self.who}: f returned structure {td} at a moved point but "
                                 f"{self.out_td} at x; it must return the same structure")
            float_out = [np.asarray(o) for o, keep in zip(leaves, self.out_is_float) if keep]
        if not float_out:
            return np.zeros(0)
        return np.concatenate([o.reshape(-1) for o in float_out])

    # -- assembling results ---------------------------------------------------------------

    def out_blocks(self) -> list[tuple[int, int, Any]]:
        """(start, stop, leaf) of each float output leaf within the output vector."""
        blocks, off = [], 0
        for o, keep in zip(self.out_leaves, self.out_is_float):  # type: ignore[arg-type]
            if keep:
                size = int(np.size(o))
                blocks.append((off, off + size, o))
                off += size
        return blocks

    def in_blocks(self) -> list[tuple[int, int, int]]:
        """(start, stop, leaf index) of each float input leaf among the coordinates (a complex
        leaf's block holds its real parts, then its imaginary parts)."""
        blocks, off = [], 0
        for k in self.floats:
            a = self.arrays[k]
            size = a.size * (2 if a.dtype.kind == "c" else 1)
            blocks.append((off, off + size, k))
            off += size
        return blocks

    def pulled_back(self, block: np.ndarray, k: int) -> np.ndarray:
        """A reverse-mode quantity over leaf k's coordinates (the last axis of `block`) as one
        value per element, by chainrule's complex convention: for a real L of z = x + iy,
        dL/dx + i dL/dy; a real leaf gets the real part."""
        a = self.arrays[k]
        if a.dtype.kind != "c":
            return np.real(block)
        return np.real(block[..., :a.size]) + 1j * np.real(block[..., a.size:])

    def like_x(self, flat: np.ndarray) -> Any:
        """A reverse-mode vector over the coordinates (a gradient, a vector-Jacobian product)
        as a pytree shaped like x (None for other leaves); each leaf keeps its dtype, a number
        comes back as a NumPy scalar."""
        leaves: list[Any] = [None] * len(self.leaves)
        for start, stop, k in self.in_blocks():
            a = self.arrays[k]
            part = np.array(self.pulled_back(flat[start:stop], k).reshape(a.shape),
                            dtype=a.dtype)
            leaves[k] = _scalar(part)
        return tree.unflatten(self.td, leaves)

    def steps(self, h: Any, method: str, order: int) -> tuple[np.ndarray, bool]:
        """Per-coordinate steps: the default ones, or the user's h (a number or a pytree like
        x with a step, or an array of steps, for each float leaf)."""
        if h is None:
            return np.array([_nominal_step(self.value(c), method, order)
                             for c in range(self.n)], dtype=np.float64), False
        if np.ndim(h) == 0 and not isinstance(h, (tuple, list, dict)):
            hs = [h] * len(self.floats)
        else:
            h_leaves, h_td = tree.flatten(h)
            if h_td != self.td:
                raise ValueError(f"{self.who}: h must be a number or a pytree with x's structure "
                                 f"{self.td}, got structure {h_td}")
            hs = [h_leaves[k] for k in self.floats]
        out = []
        for k, hk in zip(self.floats, hs):
            step, _ = _as_step(hk, self.arrays[k], method, order, self.who)
            step = np.broadcast_to(step, self.arrays[k].shape).reshape(-1)
            out += [step, step] if self.arrays[k].dtype.kind == "c" else [step]
        return (np.concatenate(out).astype(np.float64) if out else np.zeros(0)), True


def _jacobian_matrix(point: _Point, method: str, h: Any) -> np.ndarray:
    """The Jacobian as a matrix (outputs x coordinates), one column per coordinate."""
    steps, strict = point.steps(h, method, 1)
    m = point.out.size
    cols = []
    for c in range(point.n):
        x_c = point.value(c)

        def at(t: Any, c: int = c) -> np.ndarray:
            return point(((c, t),))

        h_c = np.asarray(steps[c], _real_dtype(x_c.dtype))
        col, _ = _estimate(at, x_c, h_c, method, 1, strict, False, point.who)
        cols.append(np.broadcast_to(np.asarray(col), (m,)))
    if not cols:
        return np.zeros((m, 0))
    return np.stack(cols, axis=1)


def grad(f: Callable[[Any], Any], x: Any, method: str = "central", h: Any = None) -> Any:
    """The gradient of a scalar function f at x (a number, an array or a pytree of them), by
    finite differences along each coordinate, shaped like x: the same pytree structure, float
    leaves with their dtype, `None` for the leaves that are not floating point (constants).

    `method` and `h` are as in `derivative` (h: a number, or a pytree like x with a step per
    leaf); each coordinate gets its own default step from its value and dtype."""
    _check_method(method, 1, "grad")
    point = _Point(f, x, f"grad(method={method!r})")
    _check_scalar_output(point)
    J = _jacobian_matrix(point, method, h)
    return point.like_x(J[0])


def _check_scalar_output(point: _Point, instead: str = "cr.numeric.jacobian") -> None:
    """A gradient or Hessian needs a real scalar output; otherwise say what to use instead."""
    leaves = point.out_leaves or []
    if point.out_td != tree.LEAF:
        raise TypeError(f"{point.who}: the function must return a scalar, got a pytree "
                        f"{point.out_td}; use {instead} for other outputs")
    out = np.asarray(leaves[0])
    if out.shape != ():
        raise TypeError(f"{point.who}: the output has shape {out.shape}, but a gradient needs a "
                        f"scalar; use {instead} for non-scalar outputs, or reduce it (e.g. .sum())")
    if out.dtype.kind != "f":
        raise TypeError(f"{point.who}: the output has dtype {out.dtype}; a gradient needs a "
                        f"real floating-point scalar")


def _assemble_jacobian(point: _Point, J: np.ndarray, reverse: bool = False) -> Any:
    """Output structure outside, input structure inside; blocks of shape out.shape + in.shape.
    For a complex input the columns are those of its real parts (jacfwd: the derivative along
    a real tangent) or, with `reverse`, as jacrev's rows are (one vector-Jacobian product per
    output element, `_Point.pulled_back`)."""
    out_parts: list[Any] = []
    blocks = iter(point.out_blocks())
    for o, keep in zip(point.out_leaves, point.out_is_float):  # type: ignore[arg-type]
        if not keep:
            out_parts.append(None)
            continue
        r0, r1, _ = next(blocks)
        oa = np.asarray(o)
        leaves: list[Any] = [None] * len(point.leaves)
        for c0, c1, k in point.in_blocks():
            a = point.arrays[k]
            if reverse:
                block = point.pulled_back(J[r0:r1, c0:c1], k).reshape(oa.shape + a.shape)
                leaves[k] = block.astype(a.dtype, copy=False)
            else:
                block = J[r0:r1, c0:c0 + a.size].reshape(oa.shape + a.shape)
                leaves[k] = block.astype(np.result_type(oa.dtype, a.dtype), copy=False)
        out_parts.append(tree.unflatten(point.td, leaves))
    return tree.unflatten(point.out_td, out_parts)


def jacobian(f: Callable[[Any], Any], x: Any, method: str = "central", h: Any = None) -> Any:
    """The Jacobian of f at x by finite differences: for array input and output, shape
    `out.shape + in.shape`. For pytrees, as `cr.jacrev`: the output structure outside, the
    input structure inside (`J[out_leaf][in_leaf]`), `None` for leaves that are not floating
    point. `method` and `h` are as in `grad`."""
    _check_method(method, 1, "jacobian")
    point = _Point(f, x, f"jacobian(method={method!r})")
    if method == "complex_step" and any(np.asarray(o).dtype.kind == "c"
                                        for o in point.out_leaves or []):
        raise ValueError(f"{point.who}: method='complex_step' needs f real-valued at real x, "
                         f"but f returned complex values; use 'central'")
    return _assemble_jacobian(point, _jacobian_matrix(point, method, h))


# ---------------------------------------------------------------------------------------------
# hessian

def _hessian_at(point: _Point, steps: np.ndarray, method: str,
                strict: bool) -> tuple[np.ndarray, np.ndarray]:
    """(H, round-off bound) at the given per-coordinate steps: the method's second-derivative
    stencil on the diagonal, the product of its first-derivative stencil with itself off it."""
    n = point.n
    exact = np.array([_exact_step(point.value(c), np.asarray(steps[c]), strict, point.who)
                      for c in range(n)], dtype=np.float64)
    offs1, ws1, _ = _stencil(method, 1)
    offs2, ws2, _ = _stencil(method, 2)
    memo: dict[tuple[tuple[int, int], ...], float] = {}

    def F(*moves: tuple[int, int]) -> float:
        key = tuple(sorted(m for m in moves if m[1] != 0))
        if key not in memo:
            memo[key] = float(point(tuple((c, a * exact[c]) for c, a in key))[0])
        return memo[key]

    eps = max(_eps(np.asarray(point.out).dtype),
              max((_eps(point.dtype(c)) for c in range(n)), default=0.0))
    H = np.zeros((n, n))
    R = np.zeros((n, n))
    for i in range(n):
        vals = [F((i, a)) for a in offs2]
        H[i, i], R[i, i] = _weighted(vals, ws2, exact[i] ** 2, eps)
        for j in range(i + 1, n):
            pairs = [((i, a), (j, b), wa * wb) for a, wa in zip(offs1, ws1)
                     for b, wb in zip(offs1, ws1)]
            vals = [F(p, q) for p, q, _ in pairs]
            H[i, j], R[i, j] = _weighted(vals, [w for _, _, w in pairs],
                                         exact[i] * exact[j], eps)
            H[j, i], R[j, i] = H[i, j], R[i, j]
    return H, R


def _hessian_matrix(point: _Point, method: str, h: Any) -> np.ndarray:
    if method == "complex_step":
        raise ValueError(f"{point.who}: method='complex_step' gives first derivatives only; "
                         f"for a Hessian use one of "
                         f"{', '.join(repr(m) for m in HIGHER_ORDER_METHODS)}")
    steps, strict = point.steps(h, method, 2)
    if method != "richardson":
        return _hessian_at(point, steps, method, strict)[0]
    Hs, Rs = [], []
    with np.errstate(all="ignore"):
        for k in range(_R_STEPS):
            H, R = _hessian_at(point, steps / 2.0 ** k, "central", strict and k == 0)
            Hs.append(H)
            Rs.append(R)
    H, _ = _richardson_table(np.stack(Hs), np.stack(Rs))
    return (H + H.T) / 2  # the choice per entry is symmetric already; make it exactly so


def hessian(f: Callable[[Any], Any], x: Any, method: str = "central", h: Any = None) -> Any:
    """The Hessian of a scalar function f at x by second differences: shape
    `in.shape + in.shape`, exactly symmetric. For pytrees, as `cr.hessian`: `H[leaf_a][leaf_b]`
    has shape `a.shape + b.shape`, `None` for leaves that are not floating point.

    Diagonal entries use the method's second-derivative stencil, off-diagonal ones the product
    of its first-derivative stencils (central: (f(x+h_i+h_j) - f(x+h_i-h_j) - f(x-h_i+h_j) +
    f(x-h_i-h_j)) / 4 h_i h_j), so a Hessian costs O(n^2) evaluations of f. The default steps
    are those of `default_step(..., order=2)`. `complex_step` gives no second derivatives."""
    _check_method(method, 1, "hessian")
    point = _Point(f, x, f"hessian(method={method!r})")
    _check_scalar_output(point)
    H = _hessian_matrix(point, method, h)
    return _assemble_hessian(point, H)


def _assemble_hessian(point: _Point, H: np.ndarray) -> Any:
    outer: list[Any] = [None] * len(point.leaves)
    blocks = point.in_blocks()
    for r0, r1, ka in blocks:
        a = point.arrays[ka]
        # as cr.hessian (jacfwd of jacrev): rows are gradients (a complex leaf's combine the
        # derivatives along its real and imaginary parts), columns real directions
        rows = point.pulled_back(H[r0:r1].T, ka).T
        inner: list[Any] = [None] * len(point.leaves)
        for c0, _, kb in blocks:
            b = point.arrays[kb]
            dt = np.result_type(a.dtype, _real_dtype(b.dtype))
            inner[kb] = rows[:, c0:c0 + b.size].reshape(a.shape + b.shape).astype(dt)
        outer[ka] = tree.unflatten(point.td, inner)
    return tree.unflatten(point.td, outer)


# ---------------------------------------------------------------------------------------------
# the error curve

class ErrorCurve(dict):
    """`method -> np.ndarray` of absolute errors, one per step in `.hs` (for Richardson the
    step is the largest of its sequence). `.exact` is the reference derivative,
    `.best()` the step with the smallest error per method and `.table()` a printable summary."""

    def __init__(self, hs: np.ndarray, errors: dict[str, np.ndarray], exact: Any,
                 order: int) -> None:
        super().__init__(errors)
        self.hs = hs
        self.exact = exact
        self.order = order

    def best(self, robust: bool = True) -> dict[str, tuple[float, float]]:
        """`method -> (h, error)` at the bottom of each curve.

        Round-off errors are noisy: at one step they may happen to cancel and give an error
        far below the curve around it, an accident no one can count on. So by default the step
        returned is the one whose neighbourhood (it and the steps either side in `hs`) has the
        smallest worst error, and the error returned is that worst error. `robust=False` gives
        the plain minimum."""
        out = {}
        for method, errs in self.items():
            errs = np.where(np.isnan(errs), np.inf, errs)
            if robust and errs.size > 2:
                padded = np.concatenate([errs[:1], errs, errs[-1:]])
                errs = np.maximum(np.maximum(padded[:-2], padded[1:-1]), padded[2:])
            if not np.any(np.isfinite(errs)):
                out[method] = (math.nan, math.nan)
                continue
            k = int(np.argmin(errs))
            out[method] = (float(self.hs[k]), float(errs[k]))
        return out

    def table(self) -> str:
        """The bottom of each curve (`best()`), rounded to one significant digit."""
        lines = [f"{'method':<14}{'best h':>8}{'min error':>11}"]
        for method, (h, err) in self.best().items():
            lines.append(f"{method:<14}{h:>8.0e}{err:>11.0e}")
        return "\n".join(lines)


def _ad_derivative(f: Callable[[Any], Any], x: np.ndarray, order: int) -> Any:
    """The exact reference: chainrule's forward mode (cr.jvp), nested for higher orders."""
    from .. import transforms

    def nth(k: int) -> Callable[[Any], Any]:
        if k == 0:
            return f

        def d(y: Any) -> Any:
            return transforms.jvp(nth(k - 1), (y,), (np.ones_like(y),))[1]
        return d

    try:
        return np.asarray(nth(order)(x[()] if x.ndim == 0 else x))
    except Exception as exc:
        # keep the exception's type (a caller may catch it) but say where it came from
        msg = (f"error_curve: the exact derivative is taken by chainrule's forward mode "
               f"(cr.jvp), which failed: {exc}. Pass exact=<the derivative's value> instead")
        try:
            new = type(exc)(msg)
        except Exception:  # an exception class with a different constructor
            new = RuntimeError(msg)
        raise new from exc


def error_curve(f: Callable[[Any], Any], x: Any, hs: Any = None,
                methods: Sequence[str] | None = None, exact: Any = None,
                order: int = 1) -> ErrorCurve:
    """The absolute error of `derivative(f, x, method, h, order)` for each step in `hs` and each
    method: an `ErrorCurve`, a dict `method -> np.ndarray` aligned with `hs`.

    The error falls with h while truncation dominates (slope p on a log-log plot) and rises
    again as h shrinks and round-off takes over (slope -n): the V whose bottom is the best step.
    Complex step has no round-off branch. `hs` defaults to `np.logspace(-16, 0, 33)`;
    `methods` to every method that supports `order`; `exact` (the reference value) to
    chainrule's forward-mode derivative, `cr.jvp`. For an array x (elementwise f) the error is
    the largest over the elements. Steps too small to move x (x + h == x) give a difference
    of 0, as a naive implementation would, rather than an error."""
    xa = _as_point(x, "error_curve")
    hs = np.logspace(-16, 0, 33) if hs is None else np.asarray(hs, dtype=np.float64).reshape(-1)
    if hs.size == 0 or not np.all(np.isfinite(hs) & (hs > 0)):
        raise ValueError("error_curve: hs must be a non-empty sequence of positive steps")
    if methods is None:
        methods = METHODS if order == 1 else HIGHER_ORDER_METHODS
    elif isinstance(methods, str):
        methods = (methods,)
    for m in methods:
        _check_method(m, order, "error_curve")
    ref = _ad_derivative(f, xa, order) if exact is None else np.asarray(exact)
    errors = {}
    for m in methods:
        who = f"error_curve(method={m!r})"
        errs = []
        for h in hs:
            step = np.broadcast_to(np.asarray(h, _real_dtype(xa.dtype)), xa.shape)

            def at(t: Any, who: str = who) -> np.ndarray:
                return _as_output(f(xa + t), who)

            with np.errstate(all="ignore"):
                est, _ = _estimate(at, xa, step, m, order, False, False, who)
            errs.append(float(np.max(np.abs(np.asarray(est) - ref))))
        errors[m] = np.array(errs)
    return ErrorCurve(hs, errors, _scalar(ref), order)


def plot_error_curve(f: Callable[[Any], Any], x: Any, hs: Any = None,
                     path: Any = "error_curve.png", methods: Sequence[str] | None = None,
                     exact: Any = None, order: int = 1) -> Any:
    """Draw `error_curve(f, x, hs, methods, exact, order)` on log-log axes and save it to `path`
    (any format matplotlib writes); returns `path`.

    Each method's curve shows the V: truncation error falling as h shrinks (slope = the method's
    order), round-off rising as 1/h^n below the best step (marked with a dot); complex step
    stays flat at the precision of the result. A dashed guide shows the round-off level
    eps |f(x)| / h^n. Needs matplotlib (`pip install matplotlib`); it draws with the Agg
    backend on its own figure, so it changes no global pyplot state."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("plot_error_curve needs matplotlib, an optional dependency: "
                          "pip install matplotlib") from exc
    curve = error_curve(f, x, hs, methods, exact, order)
    xa = _as_point(x, "plot_error_curve")
    eps = _eps(xa.dtype)
    # a log axis cannot show an error of exactly 0: draw those at a floor below everything else
    floor = eps * max(1.0, float(np.max(np.abs(curve.exact)))) / 10
    fig = Figure(figsize=(8.5, 5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for method, errs in curve.items():
        (line,) = ax.loglog(curve.hs, np.maximum(errs, floor), marker=".", label=method)
        h_best, e_best = curve.best()[method]
        if np.isfinite(e_best):
            ax.plot([h_best], [max(e_best, floor)], "o", color=line.get_color(), markersize=8)
    fx = float(np.max(np.abs(_as_output(f(xa[()] if xa.ndim == 0 else xa), "plot_error_curve"))))
    guide = eps * max(fx, 1e-300) / curve.hs ** order
    ax.loglog(curve.hs, guide, "k--", linewidth=1, label="round-off ~ eps |f| / h" +
              ("" if order == 1 else f"^{order}"))
    ax.set_ylim(floor / 2, max(1.0, float(np.nanmax([np.nanmax(e) for e in curve.values()]))) * 2)
    ax.set_xlabel("step h (Richardson: the largest of its steps)")
    ax.set_ylabel("absolute error")
    name = getattr(f, "__name__", "f")
    ax.set_title(f"finite-difference error of {name}" + ("'" * order if order <= 3 else
                                                         f"^({order})") + f" at x = {x}")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5),
              title="dot: best step", title_fontsize=8)
    fig.savefig(path)
    return path
