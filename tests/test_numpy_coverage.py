"""Coverage of `chainrule.numpy` against the list in SPEC.md section 2 (spec/numpy_coverage.txt).

Every name the list holds has at least one entry in `CASES` (a name without one fails
`test_every_listed_name_is_enrolled`). Each entry is one way of calling the function: a builder
of the differentiated arguments (a seeded Generator, inputs inside a domain where finite
differences are valid: away from kinks, ties, branch cuts, integers for floor/round, with
well-conditioned or symmetric positive definite matrices for linear algebra), and the call
itself, written once against a namespace `ns` so the same code runs as `cnp.<name>` and as plain
`np.<name>` on traced values (NumPy's dispatch protocols).

For every entry:

* `test_value`: the result equals NumPy's own on plain arrays, both when `cnp` is called on plain
  arrays and when it runs on traced values (the primal of a JVP and of a VJP);
* `test_grads_cnp`: `check_grads` to second order, forward and reverse, through `cnp`;
* `test_grads_np`: the same through plain NumPy on traced values, where NumPy has the function;
* piecewise constant functions (floor, ceil, round, sign, ...) also check that their derivative
  is exactly zero.

The deep-learning helpers only exist in `cnp`; their values are compared with hand-written, stable
NumPy formulas. `np.array` / `np.asarray` cannot see traced values inside a list unless asked
with `like=`; their NumPy path is `np.array([...], like=x)`.
"""
from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.testing import check_grads

#: the list, shipped with the tests (a copy of the shared spec's, kept equal by
#: test_the_shipped_list_is_the_specs when the spec sits beside the checkout)
COVERAGE_FILE = Path(__file__).resolve().parent / "data" / "numpy_coverage.txt"
SPEC_FILE = Path(__file__).resolve().parents[2] / "shared" / "spec" / "numpy_coverage.txt"

#: names of the list that only chainrule.numpy has (no NumPy function to dispatch from)
CNP_ONLY = ("logsumexp", "softmax", "log_softmax", "relu", "sigmoid", "softplus")


@dataclass
class Case:
    """One way of calling one listed function.

    `make(rng)` returns the differentiated arguments (float arrays); constants live in `call`.
    `call(ns, *args)` runs the function with `ns` = `chainrule.numpy` or `numpy`. `ref(*args)` is
    the expected value on plain arrays (by default `call(numpy, *args)`). `zero` marks a
    piecewise-constant function (True: every output; a tuple: those output leaves) whose
    derivative must be exactly zero. `xfail` maps a test kind ("value", "cnp", "np", "zero") to
    the reason of a known bug (strict xfail)."""

    name: str
    label: str
    make: Callable[[np.random.Generator], tuple[Any, ...]]
    call: Callable[..., Any]
    ref: Callable[..., Any] | None = None
    via_np: bool = True
    zero: bool | tuple[int, ...] = False
    order: int = 2
    tol: dict[str, float] = field(default_factory=dict)
    xfail: dict[str, str] = field(default_factory=dict)
    quiet: bool = False  # nan/inf met on purpose (untaken branches): silence the FP warnings

    @property
    def id(self) -> str:
        return f"{self.name}-{self.label}"

    def args(self) -> tuple[np.ndarray, ...]:
        rng = np.random.default_rng(zlib.crc32(self.id.encode()))
        return tuple(np.asarray(a, dtype=np.float64) for a in self.make(rng))


CASES: list[Case] = []


def add(name: str, label: str, make: Callable[..., Any], call: Callable[..., Any],
        **kw: Any) -> None:
    CASES.append(Case(name, label, make, call, **kw))


# ---------------------------------------------------------------------------------------------
# input builders (all return float64 arrays)

def _f(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return _f(rng.standard_normal(shape))


def unif(lo: float, hi: float) -> Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]:
    def make(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return _f(rng.uniform(lo, hi, size=shape))
    return make


def signed(lo: float, hi: float) -> Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]:
    """|x| in [lo, hi], random sign: away from the kink of abs / sign / reciprocal at 0."""
    def make(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        return _f(rng.uniform(lo, hi, size=shape) * rng.choice([-1.0, 1.0], size=shape))
    return make


def off_grid(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """k + frac with frac in (0.1, 0.4) or (0.6, 0.9): away from integers and half-integers."""
    k = rng.integers(-3, 3, size=shape)
    frac = rng.uniform(0.1, 0.4, size=shape) + 0.5 * rng.integers(0, 2, size=shape)
    return _f(k + frac)


def distinct(rng: np.random.Generator, shape: tuple[int, ...], gap: float = 0.3) -> np.ndarray:
    """Values at least `gap` apart, in random order: no ties for max / min / sort."""
    n = math.prod(shape)
    v = (rng.permutation(n) - n / 2) * gap + rng.uniform(0, gap / 4, size=n)
    return _f(v.reshape(shape))


def low_bins(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return _f(2 * rng.integers(-2, 2, size=shape) + rng.uniform(0, 0.8, size=shape))


def high_bins(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """With `low_bins`: the two never come closer than 0.2 (maximum / minimum without ties)."""
    return _f(2 * rng.integers(-2, 2, size=shape) + 1 + rng.uniform(0, 0.8, size=shape))


def wellcond(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A (stack of) well-conditioned, non-symmetric square matrices."""
    n = shape[-1]
    return _f(0.3 * rng.standard_normal(shape) + 2.0 * np.eye(n))


def orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def with_singular_values(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A (stack of) matrices with well separated singular values (3, 1.8, 0.9, ...)."""
    *batch, m, n = shape
    k = min(m, n)
    out = np.empty(shape)
    for idx in np.ndindex(*batch):
        u = orthogonal(rng, m)[:, :k]
        v = orthogonal(rng, n)[:, :k]
        s = 3.0 * 0.6 ** np.arange(k) + rng.uniform(0, 0.1, size=k)
        out[idx] = (u * s) @ v.T
    return out


def half_symmetric(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """X with X + X^T = Q diag(-2, 0.5, 3, ...) Q^T: an eigengap of at least about 1."""
    *batch, n, _ = shape
    out = np.empty(shape)
    for idx in np.ndindex(*batch):
        q = orthogonal(rng, n)
        w = np.linspace(-2.0, 3.0, n) + rng.uniform(0, 0.2, size=n)
        out[idx] = 0.5 * (q * w) @ q.T
    return out


# ---------------------------------------------------------------------------------------------
# elementwise, unary

UNARY_SHAPES = [(), (4,), (2, 3)]


def _lbl(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) if shape else "scalar"


def _unary(name: str) -> Callable[..., Any]:
    return lambda ns, x: getattr(ns, name)(x)


UNARY: dict[str, Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]] = {
    "negative": normal, "positive": normal,
    "abs": signed(0.2, 2), "absolute": signed(0.2, 2), "fabs": signed(0.2, 2),
    "exp": unif(-1.5, 1.5), "exp2": unif(-1.5, 1.5), "expm1": unif(-1.5, 1.5),
    "log": unif(0.3, 3), "log2": unif(0.3, 3), "log10": unif(0.3, 3), "log1p": unif(-0.5, 2),
    "sqrt": unif(0.3, 3), "cbrt": signed(0.3, 3), "square": normal,
    "reciprocal": signed(0.4, 2),
    "sin": unif(-3, 3), "cos": unif(-3, 3), "tan": unif(-1.2, 1.2),
    "arcsin": unif(-0.9, 0.9), "arccos": unif(-0.9, 0.9), "arctan": unif(-3, 3),
    "sinh": unif(-2, 2), "cosh": unif(-2, 2), "tanh": unif(-2, 2),
    "arcsinh": unif(-2, 2), "arccosh": unif(1.1, 3), "arctanh": unif(-0.9, 0.9),
    "deg2rad": unif(-200, 200), "rad2deg": unif(-3, 3),
    "degrees": unif(-3, 3), "radians": unif(-200, 200),
    "real": normal, "conj": normal,
}
#: piecewise constant (or identically zero) on real inputs: derivative exactly 0
UNARY_ZERO: dict[str, Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]] = {
    "sign": signed(0.2, 2), "floor": off_grid, "ceil": off_grid, "round": off_grid,
    "imag": normal,
}

for _name, _dom in UNARY.items():
    for _s in UNARY_SHAPES:
        add(_name, _lbl(_s), lambda rng, d=_dom, s=_s: (d(rng, s),), _unary(_name))
for _name, _dom in UNARY_ZERO.items():
    for _s in UNARY_SHAPES:
        add(_name, _lbl(_s), lambda rng, d=_dom, s=_s: (d(rng, s),), _unary(_name), zero=True)

add("round", "decimals-1", lambda rng: (off_grid(rng, (2, 3)) / 10,),
    lambda ns, x: ns.round(x, 1), zero=True)
add("round", "decimals-neg1", lambda rng: (off_grid(rng, (4,)) * 10,),
    lambda ns, x: ns.round(x, -1), zero=True)
add("abs", "operator", lambda rng: (signed(0.2, 2)(rng, (2, 3)),), lambda ns, x: abs(x))
add("negative", "operator", lambda rng: (normal(rng, (3,)),), lambda ns, x: -x)
add("positive", "operator", lambda rng: (normal(rng, (3,)),), lambda ns, x: +x)


def away_from_bounds(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values at least 0.1 away from the clip bounds -0.5 and 0.5."""
    inside = rng.uniform(-0.4, 0.4, size=shape)
    outside = rng.uniform(0.6, 1.5, size=shape) * rng.choice([-1.0, 1.0], size=shape)
    return _f(np.where(rng.random(shape) < 0.5, inside, outside))


for _s in UNARY_SHAPES:
    add("clip", f"{_lbl(_s)}-scalar-bounds", lambda rng, s=_s: (away_from_bounds(rng, s),),
        lambda ns, x: ns.clip(x, -0.5, 0.5))
add("clip", "min-only", lambda rng: (away_from_bounds(rng, (2, 3)),),
    lambda ns, x: ns.clip(x, -0.5, None))
add("clip", "max-only", lambda rng: (away_from_bounds(rng, (2, 3)),),
    lambda ns, x: ns.clip(x, None, 0.5))
add("clip", "array-bounds-traced",
    lambda rng: (away_from_bounds(rng, (2, 3)), -0.5 + unif(-0.05, 0.05)(rng, (3,)),
                 0.5 + unif(-0.05, 0.05)(rng, ())),
    lambda ns, x, lo, hi: ns.clip(x, lo, hi))
add("clip", "scalar-input-broadcast-bounds",
    lambda rng: (np.float64(0.3), np.array([-0.5, 0.4, 0.45]), np.array([0.5, 0.6, 0.2])),
    lambda ns, x, lo, hi: ns.clip(x, lo, hi))
add("round", "method", lambda rng: (off_grid(rng, (2, 3)) / 10,),
    lambda ns, x: x.round(1), zero=True)
add("clip", "method", lambda rng: (away_from_bounds(rng, (2, 3)),),
    lambda ns, x: x.clip(-0.5, 0.5))
add("clip", "min-max-keywords", lambda rng: (away_from_bounds(rng, (2, 3)),),
    lambda ns, x: ns.clip(x, min=-0.5, max=0.5))

for _s in UNARY_SHAPES:
    add("nan_to_num", f"{_lbl(_s)}-finite", lambda rng, s=_s: (normal(rng, s),),
        lambda ns, x: ns.nan_to_num(x))
_NONFINITE = np.array([0.0, np.inf, -np.inf, np.nan, 0.0, 0.0])
add("nan_to_num", "replacements", lambda rng: (normal(rng, (6,)),),
    lambda ns, x: ns.nan_to_num(x + _NONFINITE, nan=0.5, posinf=7.0, neginf=-7.0), quiet=True)
add("nan_to_num", "default-replacements", lambda rng: (normal(rng, (6,)),),
    lambda ns, x: ns.nan_to_num(x + _NONFINITE), quiet=True)
# x * inf has an infinite derivative that nan_to_num's constant output must absorb: reverse
# mode gives the exact 0 (as where() does in both modes), forward mode must agree
add("nan_to_num", "infinite-inner-derivative", lambda rng: (unif(0.5, 2)(rng, (6,)),),
    lambda ns, x: ns.nan_to_num(x * (_NONFINITE + 1.0)), quiet=True)

# ---------------------------------------------------------------------------------------------
# elementwise, binary with broadcasting

BINARY_SHAPES = [((), ()), ((4,), (4,)), ((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 1), (1, 3)),
                 ((), (2, 3)), ((3, 1, 2), (4, 1))]

Dom = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]
BINARY: dict[str, tuple[Dom, Dom]] = {
    "add": (normal, normal), "subtract": (normal, normal), "multiply": (normal, normal),
    "divide": (normal, signed(0.5, 2)), "true_divide": (normal, signed(0.5, 2)),
    "power": (unif(0.5, 2), unif(-2, 2)), "float_power": (unif(0.5, 2), unif(-2, 2)),
    "maximum": (low_bins, high_bins), "minimum": (low_bins, high_bins),
    "fmax": (low_bins, high_bins), "fmin": (high_bins, low_bins),
    "arctan2": (signed(0.3, 2), signed(0.3, 2)), "hypot": (signed(0.3, 2), signed(0.3, 2)),
    "logaddexp": (unif(-2, 2), unif(-2, 2)), "logaddexp2": (unif(-2, 2), unif(-2, 2)),
}


def _pair_lbl(sx: tuple[int, ...], sy: tuple[int, ...]) -> str:
    return f"{_lbl(sx)}-{_lbl(sy)}"


def _binary(name: str) -> Callable[..., Any]:
    return lambda ns, x, y: getattr(ns, name)(x, y)


for _name, (_dx, _dy) in BINARY.items():
    for _sx, _sy in BINARY_SHAPES:
        add(_name, _pair_lbl(_sx, _sy),
            lambda rng, dx=_dx, dy=_dy, sx=_sx, sy=_sy: (dx(rng, sx), dy(rng, sy)),
            _binary(_name))


def mod_args(sx: tuple[int, ...], sy: tuple[int, ...]) -> Callable[..., tuple[Any, ...]]:
    """x / y = k + frac with frac in (0.1, 0.9): away from the jumps of mod; x has the broadcast
    shape. Divisors of both signs."""
    def make(rng: np.random.Generator) -> tuple[Any, ...]:
        y = signed(0.5, 2)(rng, sy)
        k = rng.integers(-2, 3, size=sx)
        x = np.broadcast_to(y, sx) * (k + rng.uniform(0.1, 0.9, size=sx))
        return x, y
    return make


MOD_SHAPES = [((), ()), ((4,), (4,)), ((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 3), (2, 1)),
              ((2, 3), ())]
for _name in ("mod", "remainder"):
    for _sx, _sy in MOD_SHAPES:
        add(_name, _pair_lbl(_sx, _sy), mod_args(_sx, _sy), _binary(_name))
    add(_name, "python-divisor", lambda rng: (off_grid(rng, (2, 3)) * 0.5,),
        lambda ns, x, n=_name: getattr(ns, n)(x, 0.5))
    add(_name, "python-dividend", lambda rng: (unif(0.7, 0.9)(rng, (3,)) * np.array([1, 2, 3]),),
        lambda ns, y, n=_name: getattr(ns, n)(2.5, y))

# one argument a Python number or a constant array (only the other is differentiated)
add("add", "python-scalar", lambda rng: (normal(rng, (2, 3)),), lambda ns, x: ns.add(x, 2.5))
add("subtract", "python-scalar-left", lambda rng: (normal(rng, (3,)),),
    lambda ns, x: ns.subtract(2.5, x))
add("multiply", "constant-array", lambda rng: (normal(rng, (2, 3)),),
    lambda ns, x: ns.multiply(np.array([1.0, -2.0, 0.5]), x))
add("divide", "python-numerator", lambda rng: (signed(0.5, 2)(rng, (2, 3)),),
    lambda ns, x: ns.divide(1.0, x))
add("true_divide", "operator", lambda rng: (normal(rng, (2, 3)), signed(0.5, 2)(rng, (3,))),
    lambda ns, x, y: x / y)
add("power", "integer-exponent-negative-base", lambda rng: (signed(0.3, 2)(rng, (2, 3)),),
    lambda ns, x: ns.power(x, 3))
add("power", "python-base", lambda rng: (unif(-2, 2)(rng, (2, 3)),),
    lambda ns, y: ns.power(2.0, y))
add("power", "square-at-zero", lambda rng: (np.array([0.0, 1.5, -0.7]),),
    lambda ns, x: ns.power(x, 2.0))
add("power", "operator-cube-at-zero", lambda rng: (np.array([0.0, 1.5, -0.7]),),
    lambda ns, x: x ** 3)
add("power", "sqrt-exponent", lambda rng: (unif(0.5, 2)(rng, (4,)),),
    lambda ns, x: ns.power(x, 0.5))
add("float_power", "integer-exponent-negative-base", lambda rng: (signed(0.3, 2)(rng, (4,)),),
    lambda ns, x: ns.float_power(x, 2))
add("maximum", "relu-like", lambda rng: (signed(0.2, 2)(rng, (2, 3)),),
    lambda ns, x: ns.maximum(x, 0.0))
add("minimum", "python-scalar", lambda rng: (signed(0.2, 2)(rng, (2, 3)),),
    lambda ns, x: ns.minimum(0.0, x))
add("fmax", "nan-in-constant", lambda rng: (normal(rng, (4,)),),
    lambda ns, x: ns.fmax(x, np.array([np.nan, -9.0, 9.0, np.nan])))
add("fmin", "nan-in-constant", lambda rng: (normal(rng, (4,)),),
    lambda ns, x: ns.fmin(np.array([np.nan, -9.0, 9.0, np.nan]), x))
add("arctan2", "python-x", lambda rng: (normal(rng, (2, 3)),), lambda ns, y: ns.arctan2(y, 1.0))
add("hypot", "python-y", lambda rng: (normal(rng, (2, 3)),), lambda ns, x: ns.hypot(x, 3.0))
add("logaddexp", "large", lambda rng: (unif(700, 800)(rng, (3,)), unif(700, 800)(rng, (3,))),
    lambda ns, x, y: ns.logaddexp(x, y))
add("logaddexp2", "python-scalar", lambda rng: (normal(rng, (3,)),),
    lambda ns, x: ns.logaddexp2(x, 0.0))

# where(c, x, y): the condition is a constant (or computed from traced values)
_C23 = np.array([[True, False, True], [False, False, True]])
add("where", "same-shapes", lambda rng: (normal(rng, (2, 3)), normal(rng, (2, 3))),
    lambda ns, x, y: ns.where(_C23, x, y))
add("where", "broadcast-condition", lambda rng: (normal(rng, (2, 3)), normal(rng, ())),
    lambda ns, x, y: ns.where(np.array([True, False, True]), x, y))
add("where", "broadcast-branches", lambda rng: (normal(rng, (1, 3)), normal(rng, (2, 1))),
    lambda ns, x, y: ns.where(_C23, x, y))
add("where", "python-scalar-branch", lambda rng: (normal(rng, (2, 3)),),
    lambda ns, x: ns.where(_C23, x, 0.0))
add("where", "traced-condition", lambda rng: (signed(0.2, 2)(rng, (2, 3)),),
    lambda ns, x: ns.where(x > 0, x ** 2, -x))
add("where", "nan-in-untaken-branch", lambda rng: (signed(0.2, 2)(rng, (2, 3)),),
    lambda ns, x: ns.where(x > 0, ns.log(x), x), quiet=True)
add("where", "nan-in-untaken-sqrt", lambda rng: (signed(0.2, 2)(rng, (5,)),),
    lambda ns, x: ns.where(x > 0, ns.sqrt(x), 2.0 * x), quiet=True)

# ---------------------------------------------------------------------------------------------
# reductions: axis in {None, 0, 1, -1, (0, 1)}, keepdims in {False, True}

AXES: list[Any] = [None, 0, 1, -1, (0, 1)]


def _axis_lbl(axis: Any) -> str:
    if axis is None:
        return "axisNone"
    if isinstance(axis, tuple):
        return "axis" + "".join(map(str, axis))
    return f"axis{axis}"


REDUCTIONS: dict[str, Dom] = {
    "sum": normal, "mean": normal, "prod": unif(0.5, 1.5),
    "max": distinct, "min": distinct, "amax": distinct, "amin": distinct,
    "var": normal, "std": normal,
}
for _name, _dom in REDUCTIONS.items():
    ddofs = (0, 1) if _name in ("var", "std") else (None,)
    for _ddof in ddofs:
        for _axis in AXES:
            for _kd in (False, True):
                _kw: dict[str, Any] = {"axis": _axis, "keepdims": _kd}
                if _ddof is not None:
                    _kw["ddof"] = _ddof
                lbl = f"{_axis_lbl(_axis)}-keepdims{_kd}" + (
                    f"-ddof{_ddof}" if _ddof is not None else "")
                add(_name, lbl, lambda rng, d=_dom: (d(rng, (3, 4)),),
                    lambda ns, x, n=_name, kw=_kw: getattr(ns, n)(x, **kw))
    # a 3-d input with a non-adjacent pair of axes, a vector, a scalar, and the method form
    add(_name, "3d-axis02", lambda rng, d=_dom: (d(rng, (2, 3, 4)),),
        lambda ns, x, n=_name: getattr(ns, n)(x, axis=(0, 2)))
    add(_name, "3d-axis-2-keepdims", lambda rng, d=_dom: (d(rng, (2, 3, 4)),),
        lambda ns, x, n=_name: getattr(ns, n)(x, axis=-2, keepdims=True))
    add(_name, "vector", lambda rng, d=_dom: (d(rng, (5,)),),
        lambda ns, x, n=_name: getattr(ns, n)(x))
    add(_name, "positional-axis", lambda rng, d=_dom: (d(rng, (3, 4)),),
        lambda ns, x, n=_name: getattr(ns, n)(x, 1))
    if _name not in ("amax", "amin"):
        add(_name, "method", lambda rng, d=_dom: (d(rng, (3, 4)),),
            lambda ns, x, n=_name: getattr(x, n)(axis=0))

add("sum", "dtype-float64", lambda rng: (normal(rng, (3, 4)),),
    lambda ns, x: ns.sum(x, axis=0, dtype=np.float64))
add("mean", "dtype-float64", lambda rng: (normal(rng, (3, 4)),),
    lambda ns, x: ns.mean(x, axis=1, dtype=np.float64))
add("var", "scalar", lambda rng: (normal(rng, ()),), lambda ns, x: ns.var(x))
# more of NumPy's reduction keywords
_MASK = np.array([[True, False, True, True], [False, True, True, False], [True, True, False, True]])
add("sum", "initial", lambda rng: (normal(rng, (3, 4)),),
    lambda ns, x: ns.sum(x, axis=1, initial=1.5))
add("sum", "where", lambda rng: (normal(rng, (3, 4)),),
    lambda ns, x: ns.sum(x, axis=0, where=_MASK))
add("mean", "where", lambda rng: (normal(rng, (3, 4)),),
    lambda ns, x: ns.mean(x, axis=1, where=_MASK))
add("max", "initial-where", lambda rng: (distinct(rng, (3, 4)),),
    lambda ns, x: ns.max(x, axis=1, initial=-10.0, where=_MASK))
add("var", "correction", lambda rng: (normal(rng, (3, 4)),),
    lambda ns, x: ns.var(x, axis=0, correction=1))
add("std", "correction", lambda rng: (normal(rng, (3, 4)),),
    lambda ns, x: ns.std(x, correction=1))
add("std", "constant-row-free", lambda rng: (normal(rng, (4, 3)),),
    lambda ns, x: ns.std(x, axis=0, ddof=1))
# prod with exact zeros: a polynomial, so finite differences hold; a rule dividing by x fails
_ONE_ZERO = np.array([[1.0, 1.0, 1.0, 1.0], [1.0, 0.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
_TWO_ZEROS = np.array([[1.0, 0.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
for _axis in (None, 0, 1):
    add("prod", f"one-zero-{_axis_lbl(_axis)}",
        lambda rng: (unif(0.5, 1.5)(rng, (3, 4)) * _ONE_ZERO,),
        lambda ns, x, a=_axis: ns.prod(x, axis=a))
    add("prod", f"two-zeros-{_axis_lbl(_axis)}",
        lambda rng: (unif(0.5, 1.5)(rng, (3, 4)) * _TWO_ZEROS,),
        lambda ns, x, a=_axis: ns.prod(x, axis=a))
add("prod", "signed", lambda rng: (signed(0.5, 1.5)(rng, (3, 4)),),
    lambda ns, x: ns.prod(x, axis=1))

for _name in ("cumsum", "cumprod"):
    for _axis in (None, 0, 1, -1):
        add(_name, _axis_lbl(_axis), lambda rng: (unif(0.5, 1.5)(rng, (3, 4)),),
            lambda ns, x, n=_name, a=_axis: getattr(ns, n)(x, axis=a))
    add(_name, "vector", lambda rng: (signed(0.5, 1.5)(rng, (5,)),),
        lambda ns, x, n=_name: getattr(ns, n)(x))
    add(_name, "3d-axis1", lambda rng: (unif(0.5, 1.5)(rng, (2, 3, 2)),),
        lambda ns, x, n=_name: getattr(ns, n)(x, 1))
    add(_name, "method", lambda rng: (unif(0.5, 1.5)(rng, (3, 4)),),
        lambda ns, x, n=_name: getattr(x, n)(axis=0))
for _axis in (None, 1):
    add("cumprod", f"one-zero-{_axis_lbl(_axis)}",
        lambda rng: (unif(0.5, 1.5)(rng, (3, 4)) * _ONE_ZERO,),
        lambda ns, x, a=_axis: ns.cumprod(x, axis=a))
    add("cumprod", f"two-zeros-{_axis_lbl(_axis)}",
        lambda rng: (unif(0.5, 1.5)(rng, (3, 4)) * _TWO_ZEROS,),
        lambda ns, x, a=_axis: ns.cumprod(x, axis=a))

# ---------------------------------------------------------------------------------------------
# linear algebra


def _two(sa: tuple[int, ...], sb: tuple[int, ...]) -> Callable[..., tuple[Any, ...]]:
    return lambda rng: (normal(rng, sa), normal(rng, sb))


for _sa, _sb in [((4,), (4,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 4)), ((), (2, 3)),
                 ((2, 3), ()), ((2, 2, 3), (3, 2)), ((2, 3), (4, 3, 2))]:
    add("dot", _pair_lbl(_sa, _sb), _two(_sa, _sb), lambda ns, a, b: ns.dot(a, b))
add("dot", "method", _two((2, 3), (3, 2)), lambda ns, a, b: a.dot(b))

for _sa, _sb in [((4,), (4,)), ((2, 3), (3, 2)), ((2, 2), (4,))]:
    add("vdot", _pair_lbl(_sa, _sb), _two(_sa, _sb), lambda ns, a, b: ns.vdot(a, b))

for _sa, _sb in [((4,), (4,)), ((2, 3), (4, 3)), ((2, 3), (3,)), ((), (2, 3)),
                 ((2, 2, 3), (4, 3))]:
    add("inner", _pair_lbl(_sa, _sb), _two(_sa, _sb), lambda ns, a, b: ns.inner(a, b))

for _sa, _sb in [((3,), (4,)), ((2, 2), (3,)), ((), (3,))]:
    add("outer", _pair_lbl(_sa, _sb), _two(_sa, _sb), lambda ns, a, b: ns.outer(a, b))

for _sa, _sb in [((2, 3), (3, 4)), ((2, 3), (3,)), ((3,), (3, 2)), ((3,), (3,)),
                 ((2, 2, 3), (3, 4)), ((2, 3), (2, 3, 4)), ((2, 1, 2, 3), (3, 3, 2))]:
    add("matmul", _pair_lbl(_sa, _sb), _two(_sa, _sb), lambda ns, a, b: ns.matmul(a, b))
add("matmul", "operator", _two((2, 3), (3, 4)), lambda ns, a, b: a @ b)
add("matmul", "operator-constant-left", lambda rng: (normal(rng, (3, 2)),),
    lambda ns, b: np.arange(6.0).reshape(2, 3) @ b)

for _lbl_axes, _sa, _sb, _axes in [
        ("axes2", (2, 3, 4), (3, 4, 2), 2), ("axes1", (2, 3), (3, 4), 1),
        ("axes0-outer", (2,), (3,), 0), ("lists", (2, 3, 4), (4, 2, 3), ([1, 2], [2, 0])),
        ("single-pair", (2, 3), (4, 3), ([1], [1]))]:
    add("tensordot", _lbl_axes, _two(_sa, _sb),
        lambda ns, a, b, ax=_axes: ns.tensordot(a, b, axes=ax))
add("tensordot", "default-axes", _two((2, 3, 4), (3, 4, 2)),
    lambda ns, a, b: ns.tensordot(a, b))

add("einsum", "optimize", _two((2, 3), (3, 4)),
    lambda ns, a, b: ns.einsum("ij,jk->ik", a, b, optimize=True))
_EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]), ("ij->", [(2, 3)]), ("ij->ji", [(2, 3)]), ("i,i", [(4,), (4,)]),
    ("i,j->ij", [(2,), (3,)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("ij,ij->ij", [(2, 3), (2, 3)]), ("...ij,...jk->...ik", [(2, 2, 3), (2, 3, 2)]),
    ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 2)]), ("iij->j", [(2, 2, 3)]),
    ("ij,i->j", [(3, 2), (3,)]),
]
for _spec, _shapes in _EINSUM:
    add("einsum", _spec.replace("->", "_to_").replace(",", "_").replace("...", "ell"),
        lambda rng, shapes=_shapes: tuple(normal(rng, s) for s in shapes),
        lambda ns, *ops, spec=_spec: ns.einsum(spec, *ops))

for _sa, _sb in [((2,), (3,)), ((2, 2), (2, 3)), ((3,), (2, 2)), ((2, 1, 2), (2, 2))]:
    add("kron", _pair_lbl(_sa, _sb), _two(_sa, _sb), lambda ns, a, b: ns.kron(a, b))

for _lbl_t, _s, _kw in [("square", (3, 3), {}), ("rectangular", (3, 4), {}),
                        ("offset1", (3, 4), {"offset": 1}), ("offset-1", (4, 3), {"offset": -1}),
                        ("3d-axes12", (2, 3, 3), {"axis1": 1, "axis2": 2}),
                        ("3d-default", (3, 3, 2), {})]:
    add("trace", _lbl_t, lambda rng, s=_s: (normal(rng, s),),
        lambda ns, x, kw=_kw: ns.trace(x, **kw))

for _s in [(3, 3), (2, 3, 3), (1, 1)]:
    add("linalg.inv", _lbl(_s), lambda rng, s=_s: (wellcond(rng, s),),
        lambda ns, a: ns.linalg.inv(a))

for _sa, _sb in [((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (2, 3, 1)), ((2, 3, 3), (3,)),
                 ((2, 3, 3), (2, 3, 2))]:
    add("linalg.solve", _pair_lbl(_sa, _sb),
        lambda rng, sa=_sa, sb=_sb: (wellcond(rng, sa), normal(rng, sb)),
        lambda ns, a, b: ns.linalg.solve(a, b))
add("linalg.solve", "constant-matrix", lambda rng: (normal(rng, (3,)),),
    lambda ns, b: ns.linalg.solve(np.eye(3) * 2.0 + np.tri(3) * 0.3, b))

_SWAP = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
for _s in [(3, 3), (2, 3, 3), (1, 1)]:
    add("linalg.det", _lbl(_s), lambda rng, s=_s: (wellcond(rng, s),),
        lambda ns, a: ns.linalg.det(a))
    add("linalg.slogdet", _lbl(_s), lambda rng, s=_s: (wellcond(rng, s),),
        lambda ns, a: ns.linalg.slogdet(a), zero=(0,))
add("linalg.det", "negative", lambda rng: (_SWAP @ wellcond(rng, (3, 3)),),
    lambda ns, a: ns.linalg.det(a))
add("linalg.slogdet", "namedtuple-fields", lambda rng: (wellcond(rng, (3, 3)),),
    lambda ns, a: (lambda r: (r.sign, r.logabsdet))(ns.linalg.slogdet(a)), zero=(0,))
add("linalg.slogdet", "negative", lambda rng: (_SWAP @ wellcond(rng, (3, 3)),),
    lambda ns, a: ns.linalg.slogdet(a), zero=(0,))


def _spd(ns: Any, x: Any) -> Any:
    n = x.shape[-1]
    return ns.matmul(x, ns.swapaxes(x, -1, -2)) + 3.0 * np.eye(n)


for _s in [(3, 3), (2, 3, 3), (1, 1)]:
    add("linalg.cholesky", _lbl(_s), lambda rng, s=_s: (normal(rng, s),),
        lambda ns, x: ns.linalg.cholesky(_spd(ns, x)))
add("linalg.cholesky", "upper", lambda rng: (normal(rng, (3, 3)),),
    lambda ns, x: ns.linalg.cholesky(_spd(ns, x), upper=True))

_NORMS: list[tuple[str, tuple[int, ...], dict[str, Any]]] = [
    ("vector-default", (4,), {}), ("vector-ord1", (4,), {"ord": 1}),
    ("vector-ord2", (4,), {"ord": 2}), ("vector-ordinf", (4,), {"ord": np.inf}),
    ("vector-ord-inf", (4,), {"ord": -np.inf}), ("vector-ord3", (4,), {"ord": 3}),
    ("vector-ord0.5", (4,), {"ord": 0.5}), ("vector-keepdims", (4,), {"keepdims": True}),
    ("matrix-default", (3, 4), {}), ("matrix-fro", (3, 4), {"ord": "fro"}),
    ("matrix-nuc", (3, 4), {"ord": "nuc"}), ("matrix-ord2", (3, 4), {"ord": 2}),
    ("matrix-ord-2", (3, 4), {"ord": -2}), ("matrix-ord1", (3, 4), {"ord": 1}),
    ("matrix-ord-1", (3, 4), {"ord": -1}), ("matrix-ordinf", (3, 4), {"ord": np.inf}),
    ("matrix-ord-inf", (3, 4), {"ord": -np.inf}),
    ("matrix-axis0", (3, 4), {"axis": 0}), ("matrix-axis1-keepdims", (3, 4),
                                              {"axis": 1, "keepdims": True}),
    ("matrix-axis1-ord1", (3, 4), {"axis": 1, "ord": 1}),
    ("matrix-keepdims", (3, 4), {"keepdims": True}),
    ("3d-axis12", (2, 3, 4), {"axis": (1, 2)}), ("3d-axis20-nuc", (3, 2, 4),
                                                  {"axis": (2, 0), "ord": "nuc"}),
    ("3d-axis-1", (2, 3, 4), {"axis": -1}),
]
for _lbl_n, _s, _kw in _NORMS:
    # distinct magnitudes away from 0 (abs, max of |x|, max of row/column sums: no ties)
    if len(_s) == 2 and _kw.get("ord") in (2, -2, "nuc"):
        def _mk(rng: np.random.Generator, s: tuple[int, ...] = _s) -> tuple[Any, ...]:
            return (with_singular_values(rng, s),)
    else:
        def _mk(rng: np.random.Generator, s: tuple[int, ...] = _s) -> tuple[Any, ...]:
            v = 0.4 + np.abs(distinct(rng, s, 0.25))
            return (v * rng.choice([-1.0, 1.0], size=s),)
    add("linalg.norm", _lbl_n, _mk, lambda ns, x, kw=_kw: ns.linalg.norm(x, **kw))
add("linalg.norm", "vector-ord0", lambda rng: (signed(0.3, 2)(rng, (4,)),),
    lambda ns, x: ns.linalg.norm(x, ord=0), zero=True)


def _eigh(ns: Any, x: Any, **kw: Any) -> tuple[Any, Any]:
    w, v = ns.linalg.eigh(x + ns.swapaxes(x, -1, -2), **kw)
    return w, v * v  # eigenvectors squared: no sign ambiguity


for _s in [(3, 3), (2, 3, 3), (4, 4)]:
    add("linalg.eigh", _lbl(_s), lambda rng, s=_s: (half_symmetric(rng, s),), _eigh)
add("linalg.eigh", "namedtuple-fields", lambda rng: (half_symmetric(rng, (3, 3)),),
    lambda ns, x: (lambda r: (r.eigenvalues, r.eigenvectors ** 2))(
        ns.linalg.eigh(x + ns.swapaxes(x, -1, -2))))
add("linalg.eigh", "UPLO-U", lambda rng: (half_symmetric(rng, (3, 3)),),
    lambda ns, x: _eigh(ns, x, UPLO="U"))


def _svd(ns: Any, x: Any, **kw: Any) -> Any:
    out = ns.linalg.svd(x, **kw)
    if kw.get("compute_uv", True) is False:
        return out
    u, s, vh = out
    return u * u, s, vh * vh  # singular vectors squared: no sign ambiguity


for _lbl_s, _s, _kw in [("square", (3, 3), {}), ("tall-thin", (4, 3), {"full_matrices": False}),
                        ("wide-thin", (3, 4), {"full_matrices": False}),
                        ("square-thin", (3, 3), {"full_matrices": False}),
                        ("stack-thin", (2, 4, 3), {"full_matrices": False}),
                        ("values-only", (4, 3), {"compute_uv": False}),
                        ("values-only-stack", (2, 3, 4), {"compute_uv": False})]:
    add("linalg.svd", _lbl_s, lambda rng, s=_s: (with_singular_values(rng, s),),
        lambda ns, x, kw=_kw: _svd(ns, x, **kw))

add("linalg.svd", "namedtuple-fields", lambda rng: (with_singular_values(rng, (4, 3)),),
    lambda ns, x: (lambda r: (r.U ** 2, r.S, r.Vh ** 2))(ns.linalg.svd(x, full_matrices=False)))

for _lbl_p, _s, _kw in [("tall", (4, 3), {}), ("wide", (3, 4), {}), ("square", (3, 3), {}),
                        ("stack", (2, 4, 3), {}), ("rcond", (4, 3), {"rcond": 1e-10})]:
    add("linalg.pinv", _lbl_p, lambda rng, s=_s: (with_singular_values(rng, s),),
        lambda ns, x, kw=_kw: ns.linalg.pinv(x, **kw))

# ---------------------------------------------------------------------------------------------
# shape and indexing


def _one(shape: tuple[int, ...], dom: Dom = normal) -> Callable[..., tuple[Any, ...]]:
    return lambda rng: (dom(rng, shape),)


SHAPE_CASES: list[tuple[str, str, tuple[int, ...], Callable[..., Any]]] = [
    ("reshape", "to-3x2", (2, 3), lambda ns, x: ns.reshape(x, (3, 2))),
    ("reshape", "to-flat", (2, 3), lambda ns, x: ns.reshape(x, 6)),
    ("reshape", "minus-one", (2, 3, 2), lambda ns, x: ns.reshape(x, (-1, 3))),
    ("reshape", "add-unit-axes", (2, 3), lambda ns, x: ns.reshape(x, (1, 6, 1))),
    ("reshape", "scalar-to-1x1", (), lambda ns, x: ns.reshape(x, (1, 1))),
    ("reshape", "order-F", (2, 3), lambda ns, x: ns.reshape(x, (3, 2), order="F")),
    ("reshape", "method", (2, 3), lambda ns, x: x.reshape(3, 2)),
    ("ravel", "matrix", (2, 3), lambda ns, x: ns.ravel(x)),
    ("ravel", "3d", (2, 3, 2), lambda ns, x: ns.ravel(x)),
    ("ravel", "order-F", (2, 3), lambda ns, x: ns.ravel(x, order="F")),
    ("ravel", "method", (2, 3), lambda ns, x: x.ravel()),
    ("transpose", "matrix", (2, 3), lambda ns, x: ns.transpose(x)),
    ("transpose", "3d-default", (2, 3, 4), lambda ns, x: ns.transpose(x)),
    ("transpose", "3d-axes", (2, 3, 4), lambda ns, x: ns.transpose(x, (1, 0, 2))),
    ("transpose", "negative-axes", (2, 3, 4), lambda ns, x: ns.transpose(x, (-1, 0, -2))),
    ("transpose", "T", (2, 3), lambda ns, x: x.T),
    ("swapaxes", "01", (2, 3), lambda ns, x: ns.swapaxes(x, 0, 1)),
    ("swapaxes", "3d-0-minus1", (2, 3, 4), lambda ns, x: ns.swapaxes(x, 0, -1)),
    ("moveaxis", "0-to-last", (2, 3, 4), lambda ns, x: ns.moveaxis(x, 0, -1)),
    ("moveaxis", "several", (2, 3, 4), lambda ns, x: ns.moveaxis(x, (0, 1), (2, 0))),
    ("expand_dims", "axis0", (2, 3), lambda ns, x: ns.expand_dims(x, 0)),
    ("expand_dims", "axis-1", (2, 3), lambda ns, x: ns.expand_dims(x, -1)),
    ("expand_dims", "tuple", (2, 3), lambda ns, x: ns.expand_dims(x, (0, 3))),
    ("expand_dims", "scalar", (), lambda ns, x: ns.expand_dims(x, 0)),
    ("squeeze", "all", (1, 3, 1), lambda ns, x: ns.squeeze(x)),
    ("squeeze", "axis", (1, 3, 1), lambda ns, x: ns.squeeze(x, axis=2)),
    ("squeeze", "tuple-axis", (1, 3, 1), lambda ns, x: ns.squeeze(x, axis=(0, 2))),
    ("broadcast_to", "vector-to-matrix", (3,), lambda ns, x: ns.broadcast_to(x, (2, 3))),
    ("broadcast_to", "scalar", (), lambda ns, x: ns.broadcast_to(x, (2, 2))),
    ("broadcast_to", "column", (2, 1), lambda ns, x: ns.broadcast_to(x, (2, 3))),
    ("broadcast_to", "new-leading", (1, 3), lambda ns, x: ns.broadcast_to(x, (4, 2, 3))),
    ("atleast_1d", "scalar", (), lambda ns, x: ns.atleast_1d(x)),
    ("atleast_1d", "matrix", (2, 3), lambda ns, x: ns.atleast_1d(x)),
    ("atleast_1d", "several", (3,), lambda ns, x: ns.atleast_1d(x[0], x)),
    ("atleast_2d", "scalar", (), lambda ns, x: ns.atleast_2d(x)),
    ("atleast_2d", "vector", (3,), lambda ns, x: ns.atleast_2d(x)),
    ("atleast_2d", "3d", (2, 1, 2), lambda ns, x: ns.atleast_2d(x)),
    ("atleast_3d", "scalar", (), lambda ns, x: ns.atleast_3d(x)),
    ("atleast_3d", "vector", (3,), lambda ns, x: ns.atleast_3d(x)),
    ("atleast_3d", "matrix", (2, 3), lambda ns, x: ns.atleast_3d(x)),
    ("atleast_3d", "several", (2, 3), lambda ns, x: ns.atleast_3d(x[0], x)),
    ("concatenate", "axis0", (2, 3), lambda ns, x: ns.concatenate([x, 2 * x[:1]], axis=0)),
    ("concatenate", "axis1", (2, 3), lambda ns, x: ns.concatenate([x, x[:, :1] ** 2], axis=1)),
    ("concatenate", "axis-1-three", (2, 3),
     lambda ns, x: ns.concatenate((x, x, np.ones((2, 1))), axis=-1)),
    ("concatenate", "axisNone", (2, 3), lambda ns, x: ns.concatenate([x, x[0]], axis=None)),
    ("concatenate", "default-axis", (2, 3), lambda ns, x: ns.concatenate([x, -x])),
    ("stack", "axis0", (2, 3), lambda ns, x: ns.stack([x, 2 * x])),
    ("stack", "axis1", (2, 3), lambda ns, x: ns.stack([x, x ** 2, np.ones((2, 3))], axis=1)),
    ("stack", "axis-1", (3,), lambda ns, x: ns.stack((x, -x), axis=-1)),
    ("stack", "scalars", (3,), lambda ns, x: ns.stack([x[0], x[2]])),
    ("hstack", "vectors", (3,), lambda ns, x: ns.hstack([x, 2 * x[:2]])),
    ("hstack", "matrices", (2, 3), lambda ns, x: ns.hstack((x, x[:, :1]))),
    ("hstack", "scalars", (3,), lambda ns, x: ns.hstack([x[0], x[1]])),
    ("vstack", "vectors", (3,), lambda ns, x: ns.vstack([x, 2 * x])),
    ("vstack", "matrices", (2, 3), lambda ns, x: ns.vstack((x, x[:1]))),
    ("split", "sections2", (4, 3), lambda ns, x: ns.split(x, 2)),
    ("split", "indices", (5, 2), lambda ns, x: ns.split(x, [1, 3])),
    ("split", "axis1", (2, 6), lambda ns, x: ns.split(x, 3, axis=1)),
    ("split", "axis-1-indices", (2, 5), lambda ns, x: ns.split(x, [2], axis=-1)),
    ("array_split", "uneven", (5, 2), lambda ns, x: ns.array_split(x, 3)),
    ("array_split", "axis1", (2, 7), lambda ns, x: ns.array_split(x, 3, axis=1)),
    ("array_split", "indices", (6,), lambda ns, x: ns.array_split(x, [2, 5])),
    ("tile", "int", (3,), lambda ns, x: ns.tile(x, 2)),
    ("tile", "tuple", (2, 3), lambda ns, x: ns.tile(x, (2, 1))),
    ("tile", "more-dims", (2, 3), lambda ns, x: ns.tile(x, (2, 1, 2))),
    ("tile", "scalar", (), lambda ns, x: ns.tile(x, 3)),
    ("repeat", "flat", (2, 3), lambda ns, x: ns.repeat(x, 2)),
    ("repeat", "axis0", (2, 3), lambda ns, x: ns.repeat(x, 3, axis=0)),
    ("repeat", "per-element", (2, 3), lambda ns, x: ns.repeat(x, [1, 0, 2], axis=1)),
    ("repeat", "axis-1", (2, 3), lambda ns, x: ns.repeat(x, 2, axis=-1)),
    ("flip", "axisNone", (2, 3), lambda ns, x: ns.flip(x)),
    ("flip", "axis0", (2, 3), lambda ns, x: ns.flip(x, 0)),
    ("flip", "axis-1", (2, 3, 2), lambda ns, x: ns.flip(x, -1)),
    ("flip", "tuple", (2, 3, 2), lambda ns, x: ns.flip(x, (0, 2))),
    ("fliplr", "matrix", (2, 3), lambda ns, x: ns.fliplr(x)),
    ("fliplr", "3d", (2, 3, 2), lambda ns, x: ns.fliplr(x)),
    ("flipud", "matrix", (2, 3), lambda ns, x: ns.flipud(x)),
    ("flipud", "vector", (4,), lambda ns, x: ns.flipud(x)),
    ("roll", "flat", (2, 3), lambda ns, x: ns.roll(x, 1)),
    ("roll", "axis1-negative", (2, 3), lambda ns, x: ns.roll(x, -2, axis=1)),
    ("roll", "tuple", (2, 3), lambda ns, x: ns.roll(x, (1, 2), axis=(0, 1))),
    ("roll", "big-shift", (4,), lambda ns, x: ns.roll(x, 9)),
    ("rot90", "k1", (2, 3), lambda ns, x: ns.rot90(x)),
    ("rot90", "k2", (2, 3), lambda ns, x: ns.rot90(x, 2)),
    ("rot90", "k3", (2, 3), lambda ns, x: ns.rot90(x, 3)),
    ("rot90", "k-1-axes", (2, 3, 2), lambda ns, x: ns.rot90(x, -1, axes=(1, 2))),
    ("rot90", "reversed-axes", (2, 3), lambda ns, x: ns.rot90(x, 1, axes=(1, 0))),
    ("pad", "constant-width1", (2, 3), lambda ns, x: ns.pad(x, 1)),
    ("pad", "constant-per-axis", (2, 3), lambda ns, x: ns.pad(x, ((1, 2), (0, 1)))),
    ("pad", "constant-values", (3,),
     lambda ns, x: ns.pad(x, (2, 1), mode="constant", constant_values=2.5)),
    ("pad", "constant-values-pairs", (2, 3),
     lambda ns, x: ns.pad(x, 1, constant_values=((1.0, 2.0), (3.0, 4.0)))),
    ("pad", "edge", (2, 3), lambda ns, x: ns.pad(x, ((1, 1), (2, 0)), mode="edge")),
    ("pad", "reflect", (3, 4), lambda ns, x: ns.pad(x, 2, mode="reflect")),
    ("pad", "symmetric", (3, 4), lambda ns, x: ns.pad(x, ((1, 2), (2, 1)), mode="symmetric")),
    ("pad", "wrap", (4,), lambda ns, x: ns.pad(x, (3, 5), mode="wrap")),
    ("diag", "vector", (3,), lambda ns, x: ns.diag(x)),
    ("diag", "vector-k1", (3,), lambda ns, x: ns.diag(x, 1)),
    ("diag", "vector-k-2", (3,), lambda ns, x: ns.diag(x, k=-2)),
    ("diag", "matrix", (3, 3), lambda ns, x: ns.diag(x)),
    ("diag", "rectangular-k1", (3, 4), lambda ns, x: ns.diag(x, 1)),
    ("diag", "rectangular-k-1", (4, 3), lambda ns, x: ns.diag(x, -1)),
    ("diagonal", "square", (3, 3), lambda ns, x: ns.diagonal(x)),
    ("diagonal", "offset", (3, 4), lambda ns, x: ns.diagonal(x, 1)),
    ("diagonal", "negative-offset", (4, 3), lambda ns, x: ns.diagonal(x, -2)),
    ("diagonal", "3d-axes", (2, 3, 3), lambda ns, x: ns.diagonal(x, 0, 1, 2)),
    ("diagonal", "3d-axes-reversed", (3, 2, 4),
     lambda ns, x: ns.diagonal(x, offset=1, axis1=2, axis2=0)),
    ("diagonal", "method-free-3d", (3, 3, 2), lambda ns, x: ns.diagonal(x)),
    ("tril", "square", (3, 3), lambda ns, x: ns.tril(x)),
    ("tril", "k-1", (3, 4), lambda ns, x: ns.tril(x, -1)),
    ("tril", "k1-stack", (2, 3, 3), lambda ns, x: ns.tril(x, k=1)),
    ("tril", "vector", (3,), lambda ns, x: ns.tril(x)),
    ("triu", "square", (3, 3), lambda ns, x: ns.triu(x)),
    ("triu", "k1", (4, 3), lambda ns, x: ns.triu(x, 1)),
    ("triu", "k-1-stack", (2, 3, 3), lambda ns, x: ns.triu(x, k=-1)),
    ("triu", "vector", (3,), lambda ns, x: ns.triu(x)),
    ("take", "flat", (2, 3), lambda ns, x: ns.take(x, [0, 4, 5])),
    ("take", "repeated", (4,), lambda ns, x: ns.take(x, [1, 1, 3, 1])),
    ("take", "negative", (4,), lambda ns, x: ns.take(x, [-1, 0])),
    ("take", "axis1", (2, 3), lambda ns, x: ns.take(x, [2, 0, 2], axis=1)),
    ("take", "scalar-index", (2, 3), lambda ns, x: ns.take(x, 1, axis=0)),
    ("take", "2d-indices", (5,), lambda ns, x: ns.take(x, [[0, 1], [4, 4]])),
    ("take", "mode-wrap", (4,), lambda ns, x: ns.take(x, [5, -6, 2], mode="wrap")),
    ("take", "mode-clip", (4,), lambda ns, x: ns.take(x, [7, -3, 2], mode="clip")),
    ("diff", "default", (2, 4), lambda ns, x: ns.diff(x)),
    ("diff", "n2", (5,), lambda ns, x: ns.diff(x, n=2)),
    ("diff", "axis0", (3, 4), lambda ns, x: ns.diff(x, axis=0)),
    ("diff", "prepend-append", (4,),
     lambda ns, x: ns.diff(x, prepend=0.0, append=np.array([1.0, 2.0]))),
    ("diff", "append-list", (4,), lambda ns, x: ns.diff(x, append=[1.0, 2.0])),
    ("diff", "prepend-traced", (2, 3), lambda ns, x: ns.diff(x, axis=1, prepend=x[:, :1] ** 2)),
]
for _name, _label, _s, _call in SHAPE_CASES:
    add(_name, _label, _one(_s), _call)

# take_along_axis with the indices of an argsort (computed from the concrete input)
_TAA: list[tuple[str, tuple[int, ...], Callable[..., Any]]] = [
    ("argsort-axis1", (2, 3),
     lambda ns, x: ns.take_along_axis(x, np.array([[2, 0, 1], [1, 2, 0]]), axis=1)),
    ("argsort-axis0", (3, 2),
     lambda ns, x: ns.take_along_axis(x, np.array([[2, 0], [0, 1], [1, 2]]), axis=0)),
    ("axisNone", (2, 3), lambda ns, x: ns.take_along_axis(x, np.array([5, 0, 0, 3]), None)),
    ("repeated-fewer", (2, 4),
     lambda ns, x: ns.take_along_axis(x, np.array([[3, 3], [0, 1]]), axis=-1)),
    ("broadcast-indices", (3, 4),
     lambda ns, x: ns.take_along_axis(x, np.array([[2], [0]]), axis=0)),
    ("argmax-keepdims", (3, 4),
     lambda ns, x: ns.take_along_axis(x, np.array([[1, 0, 2, 2]]), axis=0)),
]
for _label, _s, _call in _TAA:
    add("take_along_axis", _label, _one(_s), _call)

_SORTS: list[tuple[str, tuple[int, ...], dict[str, Any]]] = [
    ("vector", (5,), {}), ("axis-1", (3, 4), {}), ("axis0", (3, 4), {"axis": 0}),
    ("axisNone", (3, 4), {"axis": None}), ("3d-axis1", (2, 3, 2), {"axis": 1})]
for _lbl_s, _s, _kw_sort in _SORTS:
    add("sort", _lbl_s, lambda rng, s=_s: (distinct(rng, s),),
        lambda ns, x, kw=_kw_sort: ns.sort(x, **kw))
add("sort", "kind-stable", lambda rng: (distinct(rng, (6,)),),
    lambda ns, x: ns.sort(x, kind="stable"))

# ---------------------------------------------------------------------------------------------
# construction from traced values. NumPy's own array/asarray only see traced values inside a
# list through `like=` (the __array_function__ protocol has no other hook for them).


def _builder(name: str) -> Callable[..., Callable[..., Any]]:
    def wrap(body: Callable[..., Any]) -> Callable[..., Any]:
        def call(ns: Any, x: Any) -> Any:
            fn = getattr(ns, name)
            if ns is np:
                return fn(body(x), like=x)
            return fn(body(x))
        return call
    return wrap


for _name in ("array", "asarray"):
    _w = _builder(_name)
    add(_name, "list-of-scalars", _one((3,)), _w(lambda x: [x[0], 2 * x[1], x[0] * x[2]]))
    add(_name, "nested-lists", _one((3,)),
        _w(lambda x: [[x[0], x[1]], [x[2], x[0] * x[1]]]))
    add(_name, "tuple-of-vectors", _one((2, 3)), _w(lambda x: (x[0], x[1] ** 2, x[0])))
    add(_name, "mixed-with-constants", _one((3,)), _w(lambda x: [x[0], 1.5, x[2] * 2]))
add("array", "dtype-float64", _one((3,)),
    lambda ns, x: (ns.array([x[0], x[1]], dtype=np.float64, like=x) if ns is np
                   else ns.array([x[0], x[1]], dtype=np.float64)))
add("asarray", "traced-array", _one((2, 3)),
    lambda ns, x: ns.asarray(x, like=x) if ns is np else ns.asarray(x))

for _name in ("zeros_like", "ones_like"):
    for _s in [(), (3,), (2, 3)]:
        add(_name, _lbl(_s), _one(_s), lambda ns, x, n=_name: getattr(ns, n)(x), zero=True)
    add(_name, "in-expression", _one((2, 3)),
        lambda ns, x, n=_name: getattr(ns, n)(x) * x + x)
    add(_name, "dtype", _one((3,)),
        lambda ns, x, n=_name: getattr(ns, n)(x, dtype=np.float64), zero=True)
add("full_like", "traced-fill", lambda rng: (normal(rng, (2, 3)), normal(rng, ())),
    lambda ns, x, v: ns.full_like(x, v))
add("full_like", "traced-fill-times-x", lambda rng: (normal(rng, (2, 3)), normal(rng, ())),
    lambda ns, x, v: ns.full_like(x, v) * x)
add("full_like", "constant-fill", _one((2, 3)), lambda ns, x: ns.full_like(x, 2.5), zero=True)
add("full_like", "constant-fill-scalar", _one(()), lambda ns, x: ns.full_like(x, -1.0),
    zero=True)

# ---------------------------------------------------------------------------------------------
# deep-learning helpers (chainrule.numpy only): values against stable NumPy formulas


def _ref_logsumexp(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    return out if keepdims else np.squeeze(out, axis=axis)


def _ref_log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return x - _ref_logsumexp(x, axis, keepdims=True)


def _ref_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _ref_sigmoid(x: np.ndarray) -> np.ndarray:
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))


def _ref_softplus(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


for _axis in AXES:
    for _kd in (False, True):
        add("logsumexp", f"{_axis_lbl(_axis)}-keepdims{_kd}", _one((3, 4)),
            lambda ns, x, a=_axis, k=_kd: ns.logsumexp(x, axis=a, keepdims=k),
            ref=lambda x, a=_axis, k=_kd: _ref_logsumexp(x, a, k), via_np=False)
add("logsumexp", "large", lambda rng: (normal(rng, (2, 3)) + 1000.0,),
    lambda ns, x: ns.logsumexp(x, axis=1), ref=lambda x: _ref_logsumexp(x, 1), via_np=False)
add("logsumexp", "very-negative", lambda rng: (normal(rng, (4,)) - 1000.0,),
    lambda ns, x: ns.logsumexp(x), ref=_ref_logsumexp, via_np=False)
add("logsumexp", "scalar", _one(()), lambda ns, x: ns.logsumexp(x), ref=_ref_logsumexp,
    via_np=False)
for _name, _ref in (("softmax", _ref_softmax), ("log_softmax", _ref_log_softmax)):
    for _axis in (-1, 0, 1):
        add(_name, _axis_lbl(_axis), _one((3, 4)),
            lambda ns, x, n=_name, a=_axis: getattr(ns, n)(x, axis=a),
            ref=lambda x, r=_ref, a=_axis: r(x, a), via_np=False)
    add(_name, "default-axis-3d", _one((2, 3, 4)),
        lambda ns, x, n=_name: getattr(ns, n)(x), ref=_ref, via_np=False)
    add(_name, "large", lambda rng: (normal(rng, (2, 3)) * 3 + 800.0,),
        lambda ns, x, n=_name: getattr(ns, n)(x), ref=_ref, via_np=False)
    add(_name, "vector", _one((5,)), lambda ns, x, n=_name: getattr(ns, n)(x), ref=_ref,
        via_np=False)
_ELEMENTWISE_NN: list[tuple[str, Callable[[np.ndarray], np.ndarray], Dom]] = [
    ("relu", lambda x: np.maximum(x, 0.0), signed(0.2, 2)),
    ("sigmoid", _ref_sigmoid, unif(-5, 5)), ("softplus", _ref_softplus, unif(-5, 5))]
for _name, _ref1, _dom in _ELEMENTWISE_NN:
    for _s in UNARY_SHAPES:
        add(_name, _lbl(_s), lambda rng, d=_dom, s=_s: (d(rng, s),), _unary(_name), ref=_ref1,
            via_np=False)
add("sigmoid", "large", lambda rng: (np.array([-800.0, -40.0, 40.0, 800.0]),),
    _unary("sigmoid"), ref=_ref_sigmoid, via_np=False)
add("softplus", "large", lambda rng: (np.array([-800.0, -40.0, 40.0, 800.0]),),
    _unary("softplus"), ref=_ref_softplus, via_np=False)
add("relu", "large", lambda rng: (np.array([-1e3, -3.0, 2.0, 1e3]),),
    _unary("relu"), ref=lambda x: np.maximum(x, 0.0), via_np=False)


# operators and array methods (`x @ y`, `abs(x)`, `x.sum(axis=0)`, `x.T`) do not go through a
# namespace: their cnp and np runs would be the same, so they are tested once
for _c in CASES:
    if _c.label in ("operator", "method", "T", "operator-cube-at-zero"):
        _c.via_np = False

# ---------------------------------------------------------------------------------------------
# the tests

def _leaves(tree: Any) -> list[Any]:
    if isinstance(tree, (list, tuple)):
        return [leaf for t in tree for leaf in _leaves(t)]
    return [tree]


def _param(case: Case, kind: str) -> Any:
    marks = []
    if kind in case.xfail:
        marks.append(pytest.mark.xfail(strict=True, reason=case.xfail[kind]))
    return pytest.param(case, id=case.id, marks=marks)


def _quiet(case: Case) -> Any:
    return np.errstate(all="ignore") if case.quiet else np.errstate()


def _fn(case: Case, ns: Any) -> Callable[..., Any]:
    def f(*args: Any) -> Any:
        return case.call(ns, *args)
    f.__name__ = f"{ns.__name__}.{case.name}[{case.label}]"
    return f


def _structure(tree: Any) -> Any:
    if isinstance(tree, (list, tuple)):
        return type(tree).__name__, tuple(_structure(t) for t in tree)
    return "*"


def _assert_same(got: Any, want: Any, what: str) -> None:
    assert _structure(got) == _structure(want), (
        f"{what}: returns {_structure(got)}, NumPy {_structure(want)}")
    g, w = _leaves(got), _leaves(want)
    assert len(g) == len(w), f"{what}: {len(g)} outputs, NumPy gives {len(w)}"
    for k, (a, b) in enumerate(zip(g, w)):
        a = np.asarray(a)
        b = np.asarray(b)
        assert a.shape == b.shape, f"{what} (output {k}): shape {a.shape}, NumPy gives {b.shape}"
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11, err_msg=f"{what} (output {k})")


def _cases(kind: str, pred: Callable[[Case], bool] = lambda c: True) -> list[Any]:
    return [_param(c, kind) for c in CASES if pred(c)]


def _coverage_names() -> list[str]:
    lines = COVERAGE_FILE.read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]


def _np_has(name: str) -> bool:
    obj: Any = np
    for part in name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return False
    return callable(obj)


def test_the_shipped_list_is_the_specs() -> None:
    if SPEC_FILE.exists():  # (in a plain clone there is only the shipped copy)
        assert COVERAGE_FILE.read_text() == SPEC_FILE.read_text(), (
            "tests/data/numpy_coverage.txt differs from the spec's: copy it over")
    assert COVERAGE_FILE.exists()


def test_every_listed_name_is_enrolled() -> None:
    listed = _coverage_names()
    assert len(listed) == len(set(listed)), "a name is listed twice"
    enrolled = {c.name for c in CASES}
    missing = [n for n in listed if n not in enrolled]
    assert not missing, f"listed in numpy_coverage.txt but without a table entry: {missing}"
    unknown = sorted(enrolled - set(listed))
    assert not unknown, f"table entries for names the list does not hold: {unknown}"
    # NumPy has every listed name except the deep-learning helpers: test that path too
    for n in listed:
        assert _np_has(n) == (n not in CNP_ONLY), n
        if n not in CNP_ONLY:
            assert any(c.via_np for c in CASES if c.name == n), f"{n}: no case through numpy"


def test_table_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    assert not dup, dup


@pytest.mark.parametrize("case", _cases("value"))
def test_value(case: Case) -> None:
    args = case.args()
    with _quiet(case):
        want = case.ref(*args) if case.ref is not None else case.call(np, *args)
        _assert_same(case.call(cnp, *args), want, "chainrule.numpy on plain arrays")
        dirs = tuple(np.ones_like(a) for a in args)
        out, _ = cr.jvp(_fn(case, cnp), args, dirs)
        _assert_same(out, want, "chainrule.numpy under jvp")
        out, _ = cr.vjp(_fn(case, cnp), *args)
        _assert_same(out, want, "chainrule.numpy under vjp")
        if case.via_np:
            out, _ = cr.jvp(_fn(case, np), args, dirs)
            _assert_same(out, want, "numpy dispatch under jvp")


def _check(case: Case, ns: Any) -> None:
    args = case.args()
    with _quiet(case):
        check_grads(_fn(case, ns), args, order=case.order, modes=("fwd", "rev"), **case.tol)


@pytest.mark.parametrize("case", _cases("cnp"))
def test_grads_cnp(case: Case) -> None:
    _check(case, cnp)


@pytest.mark.parametrize("case", _cases("np", lambda c: c.via_np))
def test_grads_np(case: Case) -> None:
    _check(case, np)


def _zero_params() -> list[Any]:
    out = []
    for c in CASES:
        for ns in (cnp, np) if c.via_np else (cnp,):
            if c.zero is not False:
                marks = ([pytest.mark.xfail(strict=True, reason=c.xfail["zero"])]
                         if "zero" in c.xfail else [])
                out.append(pytest.param(c, ns, id=f"{c.id}-{ns.__name__}", marks=marks))
    return out


@pytest.mark.parametrize(("case", "ns"), _zero_params())
def test_zero_derivative_is_exact(case: Case, ns: Any) -> None:
    """floor, ceil, round, sign, imag, zeros_like, the sign of slogdet, ...: derivatives are
    exactly 0 (not merely small), forward and reverse, through both namespaces."""
    args = case.args()
    rng = np.random.default_rng(1)
    f = _fn(case, ns)
    out, tangent = cr.jvp(f, args, tuple(rng.standard_normal(a.shape) for a in args))
    leaves = cr.tree.leaves(out)
    which: tuple[int, ...] = (tuple(range(len(leaves))) if case.zero is True
                              else tuple(case.zero or ()))
    t_leaves = cr.tree.leaves(tangent)
    for k in which:
        t = np.asarray(t_leaves[k])
        assert t.shape == np.shape(leaves[k]) and np.all(t == 0), (k, t)
    _, pullback = cr.vjp(f, *args)
    flat, treedef = cr.tree.flatten(out)
    cts = [rng.standard_normal(np.shape(o)) if k in which else np.zeros(np.shape(o))
           for k, o in enumerate(flat)]
    grads = pullback(cr.tree.unflatten(treedef, cts))
    for g, a in zip(grads, args):
        g = np.asarray(g)
        assert g.shape == a.shape and np.all(g == 0), g


# ---------------------------------------------------------------------------------------------
# a few third-order checks, one per family ("to any order")

THIRD_ORDER = ["tan-2x3", "arcsin-4", "power-2x3-3", "maximum-2x3-2x3", "prod-one-zero-axis1",
               "cumprod-two-zeros-axis1", "var-axis0-keepdimsTrue-ddof1", "linalg.solve-3x3-3x2",
               "linalg.eigh-3x3", "linalg.cholesky-3x3", "linalg.svd-tall-thin", "sort-axis0",
               "logsumexp-axis1-keepdimsFalse", "where-nan-in-untaken-branch",
               "einsum-ij_jk_kl_to_il"]


@pytest.mark.parametrize("case", [_param(c, "cnp") for c in CASES if c.id in THIRD_ORDER])
def test_third_order(case: Case) -> None:
    args = case.args()
    with _quiet(case):
        check_grads(_fn(case, cnp), args, order=3, modes=("fwd", "rev"), **case.tol)


def test_third_order_cases_exist() -> None:
    ids = {c.id for c in CASES}
    assert set(THIRD_ORDER) <= ids, sorted(set(THIRD_ORDER) - ids)


# ---------------------------------------------------------------------------------------------
# conventions and loud failures the table cannot express


@pytest.mark.parametrize("name", ["max", "amax", "min", "amin"])
@pytest.mark.parametrize("ns", [cnp, np], ids=["cnp", "np"])
def test_ties_split_the_gradient_evenly(name: str, ns: Any) -> None:
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]) * (1 if "max" in name else -1)
    g = cr.grad(lambda x: getattr(ns, name)(x))(x)
    np.testing.assert_array_equal(g, [[0, 0.5, 0.5], [0, 0, 0]])
    g = cr.grad(lambda x: ns.sum(getattr(ns, name)(x, axis=1)))(x)
    np.testing.assert_allclose(g, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-15)
    _, t = cr.jvp(lambda x: getattr(ns, name)(x, axis=1), (x,), (np.arange(6.0).reshape(2, 3),))
    np.testing.assert_allclose(t, [1.5, 4.0], rtol=1e-15)


@pytest.mark.parametrize("ns", [cnp, np], ids=["cnp", "np"])
def test_nonsmooth_conventions(ns: Any) -> None:
    z = np.zeros(3)
    np.testing.assert_array_equal(cr.grad(lambda x: ns.sum(ns.abs(x)))(z), 0.0)
    np.testing.assert_array_equal(cr.grad(lambda x: ns.sum(cnp.relu(x)))(z), 0.0)
    with np.errstate(divide="ignore"):
        assert np.all(np.isinf(cr.grad(lambda x: ns.sum(ns.sqrt(x)))(z)))


def test_plain_np_array_of_traced_values_is_loud() -> None:
    """np.array([traced, ...]) without like= cannot dispatch; it must fail, never drop the
    derivative."""
    with pytest.raises(cr.ConcretizationError):
        cr.grad(lambda x: np.sum(np.array([x[0], x[1]])))(np.ones(2))


def test_svd_full_matrices_nonsquare_plain() -> None:
    a = np.arange(12.0).reshape(4, 3) ** 0.5
    _assert_same(tuple(cnp.linalg.svd(a)), tuple(np.linalg.svd(a)), "cnp.linalg.svd")


@pytest.mark.parametrize("ns", [cnp, np], ids=["cnp", "np"])
def test_svd_full_matrices_nonsquare_traced_is_loud(ns: Any) -> None:
    """The extra singular vectors of a non-square matrix are not unique: differentiating them
    raises (naming the way out) rather than returning some derivative."""
    a = np.arange(12.0).reshape(4, 3) ** 0.5
    with pytest.raises(NotImplementedError, match="full_matrices=False"):
        cr.jvp(lambda a: ns.linalg.svd(a)[1], (a,), (np.ones_like(a),))
