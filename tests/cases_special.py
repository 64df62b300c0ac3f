"""Rule-test cases of the special functions (ops/special.py, `chainrule.scipy.special`).

Each function is drawn inside a domain where it is smooth and finite differences are valid, over
the shapes (and, for the binary ones, the broadcasting pairs) of the elementwise tables, plus its
hard regions where finite differences still hold (the tails of log_ndtr, large arguments,
gamma's negative half-line between the poles). Arguments that have no derivative (the order of
a Bessel function or of polygamma, the shape parameters of the incomplete gamma and beta
functions, zeta's exponent) are integer arrays or held constant (`const`). Values against SciPy
over many points, the conventions at x = 0 and the NotImplementedError of the missing derivatives
are in tests/test_scipy_special.py.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import chainrule.scipy.special  # noqa: F401  (registers the primitives the table enrolls)
from rulecase import Case, arr, lbl, uniform

Args = tuple[Any, ...]
Draw = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]

_SHAPES = [(), (4,), (3, 4)]
_PAIRS = [((), ()), ((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((), (3, 4))]

#: unary: name -> {label: (lo, hi, signed)}; signed: |x| in [lo, hi] with a random sign
UNARY: dict[str, dict[str, tuple[float, float, bool]]] = {
    "gamma": {"": (0.3, 4.0, False), "negative": (1.2, 1.8, False)},  # (drawn negated)
    "gammaln": {"": (0.3, 5.0, False), "large": (50.0, 200.0, False)},
    "loggamma": {"": (0.3, 5.0, False)},
    "digamma": {"": (0.3, 5.0, False), "negative": (0.3, 0.7, False)},  # (drawn negated)
    "rgamma": {"": (0.3, 4.0, False), "negative": (0.1, 3.5, False)},  # (drawn negated; entire)
    "erf": {"": (-2.0, 2.0, False)},
    "erfc": {"": (-2.0, 2.0, False)},
    "erfinv": {"": (-0.9, 0.9, False)},
    "erfcinv": {"": (0.1, 1.9, False)},
    "erfcx": {"": (-2.0, 3.0, False), "large": (10.0, 50.0, False)},
    "ndtr": {"": (-3.0, 3.0, False)},
    "ndtri": {"": (0.05, 0.95, False)},  # (its tails: tests/test_scipy_special.py)
    "log_ndtr": {"": (-4.0, 4.0, False), "lower-tail": (-40.0, -8.0, False),
                 "upper-tail": (4.0, 9.0, False)},
    "logit": {"": (0.05, 0.95, False)},
    "log_expit": {"": (-5.0, 5.0, False), "tails": (10.0, 40.0, True)},
    "entr": {"": (0.2, 3.0, False)},
    "j0": {"": (-6.0, 6.0, False)},
    "j1": {"": (-6.0, 6.0, False)},
    "y0": {"": (0.5, 6.0, False)},
    "y1": {"": (0.5, 6.0, False)},
    "i0": {"": (-3.0, 3.0, False)},
    "i0e": {"": (0.2, 3.0, True), "large": (20.0, 80.0, True)},
    "i1": {"": (-3.0, 3.0, False)},
    "i1e": {"": (0.2, 3.0, True)},
}
_NEGATED = {("gamma", "negative"), ("digamma", "negative"), ("rgamma", "negative")}


def _unary_maker(shape: tuple[int, ...], lo: float, hi: float, signed: bool, negate: bool
                 ) -> Callable[[np.random.Generator], Args]:
    def make(rng: np.random.Generator) -> Args:
        x = uniform(rng, shape, lo, hi, signed)
        return (arr(-x) if negate else x,)
    return make


def _unary_cases() -> list[Case]:
    out = []
    for name, domains in UNARY.items():
        for label, (lo, hi, signed) in domains.items():
            for s in _SHAPES:
                out.append(Case(name, "-".join(p for p in (label, lbl(s)) if p),
                                _unary_maker(s, lo, hi, signed, (name, label) in _NEGATED)))
    return out


def _u(lo: float, hi: float) -> Draw:
    def draw(rng: np.random.Generator, s: tuple[int, ...]) -> np.ndarray:
        return uniform(rng, s, lo, hi)
    return draw


def _ints(values: tuple[int, ...]) -> Draw:
    def draw(rng: np.random.Generator, s: tuple[int, ...]) -> np.ndarray:
        return np.asarray(rng.choice(values, size=s), dtype=np.int64)
    return draw


def _with_zeros(draw: Draw) -> Draw:
    """`draw`, with about a third of the entries exactly 0 (the x = 0 convention of xlogy)."""
    def zeroed(rng: np.random.Generator, s: tuple[int, ...]) -> np.ndarray:
        x = draw(rng, s)
        return arr(np.where(rng.random(s) < 0.35, 0.0, x))
    return zeroed


#: binary: name -> {label: (draw x, draw y, arguments held constant)}
BINARY: dict[str, dict[str, tuple[Draw, Draw, tuple[int, ...]]]] = {
    "polygamma": {"": (_ints((0, 1, 2, 3)), _u(0.5, 4.0), ())},
    "beta": {"": (_u(0.5, 3.0), _u(0.5, 3.0), ())},
    "betaln": {"": (_u(0.5, 3.0), _u(0.5, 3.0), ()), "large": (_u(20.0, 90.0), _u(20.0, 90.0), ())},
    "gammainc": {"": (_u(0.5, 4.0), _u(0.2, 5.0), (0,))},
    "gammaincc": {"": (_u(0.5, 4.0), _u(0.2, 5.0), (0,))},
    "xlogy": {"": (_u(-2.0, 2.0), _u(0.3, 3.0), ()),
              "x-zeros": (_with_zeros(_u(-2.0, 2.0)), _u(0.3, 3.0), ())},
    "xlog1py": {"": (_u(-2.0, 2.0), _u(-0.7, 2.0), ()),
                "x-zeros": (_with_zeros(_u(-2.0, 2.0)), _u(-0.7, 2.0), ())},
    "rel_entr": {"": (_u(0.2, 3.0), _u(0.2, 3.0), ())},
    "kl_div": {"": (_u(0.2, 3.0), _u(0.2, 3.0), ())},
    "jv": {"": (_u(-2.5, 2.5), _u(0.5, 6.0), (0,)), "integer-order": (_ints((0, 1, 2, 5)),
                                                                     _u(-6.0, 6.0), ())},
    "yn": {"": (_ints((0, 1, 2, 3)), _u(0.5, 6.0), ())},
    "iv": {"": (_u(-1.5, 2.5), _u(0.2, 3.0), (0,))},
    "ive": {"": (_u(-1.5, 2.5), _u(0.2, 3.0), (0,)), "large": (_u(0.0, 2.0), _u(30.0, 90.0),
                                                                (0,))},
    "kv": {"": (_u(-1.5, 2.5), _u(0.3, 4.0), (0,))},
    "kve": {"": (_u(-1.5, 2.5), _u(0.3, 4.0), (0,)), "large": (_u(0.0, 2.0), _u(30.0, 90.0),
                                                                (0,))},
    "zeta": {"": (_u(1.5, 4.0), _u(0.5, 3.0), (0,))},
}


def _pair_maker(dx: Draw, dy: Draw, sx: tuple[int, ...], sy: tuple[int, ...]
                ) -> Callable[[np.random.Generator], Args]:
    def make(rng: np.random.Generator) -> Args:
        return dx(rng, sx), dy(rng, sy)
    return make


def _binary_cases() -> list[Case]:
    out = []
    for name, domains in BINARY.items():
        for label, (dx, dy, const) in domains.items():
            for sx, sy in _PAIRS:
                shapes = f"{lbl(sx)},{lbl(sy)}"
                out.append(Case(name, f"{label}-{shapes}" if label else shapes,
                                _pair_maker(dx, dy, sx, sy), const=const))
    return out


def _betainc_maker(sa: tuple[int, ...], sb: tuple[int, ...], sx: tuple[int, ...]
                   ) -> Callable[[np.random.Generator], Args]:
    def make(rng: np.random.Generator) -> Args:
        return uniform(rng, sa, 0.5, 3.0), uniform(rng, sb, 0.5, 3.0), uniform(rng, sx, 0.1, 0.9)
    return make


def _betainc_cases() -> list[Case]:
    # a = 1 or b = 1 exactly: the density's factors x**0, (1-x)**0 (xlogy's convention)
    def ones(rng: np.random.Generator) -> Args:
        a = np.array([1.0, 2.0, 1.0, 0.7])
        b = np.array([1.0, 1.0, 3.0, 1.0])
        return a, b, uniform(rng, (3, 4), 0.1, 0.9)

    shapes = [((), (), ()), ((3, 4), (3, 4), (3, 4)), ((4,), (3, 1), (3, 4)), ((), (), (3, 4))]
    return ([Case("betainc", ",".join(map(lbl, s)), _betainc_maker(*s), const=(0, 1))
             for s in shapes]
            + [Case("betainc", "shape-parameters-one", ones, const=(0, 1))])


DIFF_CASES: list[Case] = _unary_cases() + _binary_cases() + _betainc_cases()
