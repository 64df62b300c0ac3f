"""The table-driven rule tests (DESIGN.md, "Tests that can be trusted").

Every registered primitive has entries in one table here, checked against finite differences to
second order in forward and reverse mode, against its own JVP (hand-written VJPs and transposes),
against a Python loop (batching rules), and against its implementation (abstract evaluation).
A primitive without an entry fails `test_every_primitive_is_enrolled`; the only primitives left
out are the call primitives, named in `CALL_PRIMITIVES`, which take a function parameter and are
tested with `custom_jvp`, `custom_vjp` and `checkpoint`.

Primitives take already-normalised parameters (tuples of axes, normalised indices), so the cases
bind them directly: `prim.bind(*args, **params)`.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule._core.primitive import REGISTRY, Primitive
from chainrule._core.rules import CUSTOM_RULES, Zero, def_rule, derived_vjp
from chainrule.ops._batching import elementwise_batcher
from chainrule.ops.index import normalize_index
from chainrule.testing import GradCheckError, check_grads

#: primitives that take a function parameter; tested with custom_jvp / custom_vjp / checkpoint
CALL_PRIMITIVES = ("custom_jvp_call", "custom_vjp_call", "checkpoint")

Args = tuple[Any, ...]


from rulecase import Case, extra_cases  # noqa: E402  (the table's record, shared)
from rulecase import arr as _arr  # noqa: E402
from rulecase import lbl as _lbl  # noqa: E402
from rulecase import normal as _normal  # noqa: E402
from rulecase import retry as _retry  # noqa: E402
from rulecase import uniform as _uniform  # noqa: E402

# ---------------------------------------------------------------------------------------------
# unary elementwise: (lo, hi, signed) -- x in [lo, hi]; when signed, |x| in [lo, hi] with a
# random sign (away from a singularity or kink at 0)

UNARY_DOMAINS: dict[str, tuple[float, float, bool]] = {
    "neg": (-2.0, 2.0, False),
    "sigmoid": (-4.0, 4.0, False),
    "conj": (-2.0, 2.0, False),  # real inputs here; complex ones in tests/test_complex.py
    "real": (-2.0, 2.0, False),
    "imag": (-2.0, 2.0, False),
    "softplus": (-4.0, 4.0, False),
    "abs": (0.2, 2.0, True),  # away from the kink at 0
    "exp": (-2.0, 2.0, False),
    "exp2": (-2.0, 2.0, False),
    "expm1": (-2.0, 2.0, False),
    "log": (0.3, 3.0, False),
    "log2": (0.3, 3.0, False),
    "log10": (0.3, 3.0, False),
    "log1p": (-0.6, 2.0, False),
    "sqrt": (0.3, 3.0, False),
    "cbrt": (0.3, 2.0, True),
    "square": (-2.0, 2.0, False),
    "reciprocal": (0.3, 2.0, True),
    "sin": (-3.0, 3.0, False),
    "cos": (-3.0, 3.0, False),
    "tan": (-1.2, 1.2, False),
    "arcsin": (-0.8, 0.8, False),
    "arccos": (-0.8, 0.8, False),
    "arctan": (-3.0, 3.0, False),
    "sinh": (-2.0, 2.0, False),
    "cosh": (-2.0, 2.0, False),
    "tanh": (-2.0, 2.0, False),
    "arcsinh": (-3.0, 3.0, False),
    "arccosh": (1.3, 3.0, False),
    "arctanh": (-0.8, 0.8, False),
    "nan_to_num": (-2.0, 2.0, False),
}
UNARY_SHAPES = [(), (4,), (3, 4)]
NAN_TO_NUM_DEFAULTS = {"nan": 0.0, "posinf": None, "neginf": None}


def _unary_maker(shape: tuple[int, ...], lo: float, hi: float, signed: bool
                 ) -> Callable[[np.random.Generator], Args]:
    def make(rng: np.random.Generator) -> Args:
        return (_uniform(rng, shape, lo, hi, signed),)
    return make


def _nonfinite(rng: np.random.Generator) -> Args:
    x = _normal(rng, (3, 4))
    x[0, 1], x[1, 2], x[2, 0] = np.nan, np.inf, -np.inf
    return (x,)


def _unary_cases() -> list[Case]:
    out = []
    for name, (lo, hi, signed) in UNARY_DOMAINS.items():
        params = dict(NAN_TO_NUM_DEFAULTS) if name == "nan_to_num" else {}
        for s in UNARY_SHAPES:
            out.append(Case(name, _lbl(s), _unary_maker(s, lo, hi, signed), params))
    for s in UNARY_SHAPES:  # a change of dtype (one that loses nothing, for the checks)
        out.append(Case("convert", f"to-float64-{_lbl(s)}", _unary_maker(s, -2.0, 2.0, False),
                        {"dtype": np.dtype(np.float64)}))
        out.append(Case("convert", f"to-complex128-{_lbl(s)}",
                        _unary_maker(s, -2.0, 2.0, False), {"dtype": np.dtype(np.complex128)}))
    out.append(Case("nan_to_num", "nonfinite", _nonfinite, NAN_TO_NUM_DEFAULTS))
    out.append(Case("nan_to_num", "nonfinite-custom-fill", _nonfinite,
                    {"nan": 1.5, "posinf": 10.0, "neginf": -10.0}))
    return out


# ---------------------------------------------------------------------------------------------
# binary elementwise (broadcasting)

PAIR_SHAPES = [((), ()), ((4,), (4,)), ((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)),
               ((), (3, 4)), ((3, 4), ())]

Draw = Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]


def _std(rng: np.random.Generator, s: tuple[int, ...]) -> np.ndarray:
    return _normal(rng, s)


def _distinct(x: np.ndarray, y: np.ndarray) -> bool:
    return bool(np.all(np.abs(np.subtract(x, y)) > 0.1))


def _away_from_origin(x: np.ndarray, y: np.ndarray) -> bool:
    return bool(np.all(np.hypot(x, y) > 0.5))


def _arctan2_ok(y: np.ndarray, x: np.ndarray) -> bool:
    # away from the origin and from the branch cut (x < 0, y = 0) where arctan2 jumps by 2 pi
    yb, xb = np.broadcast_arrays(y, x)
    return _away_from_origin(yb, xb) and not np.any((xb < 0.1) & (np.abs(yb) < 0.2))


def _mod_ok(x: np.ndarray, y: np.ndarray) -> bool:
    # x / y at least 0.1 away from an integer: mod jumps there
    frac = np.mod(np.divide(x, y), 1.0)
    return bool(np.all((frac > 0.1) & (frac < 0.9)))


BINARY_DOMAINS: dict[str, tuple[Draw, Draw, Callable[..., bool] | None]] = {
    "add": (_std, _std, None),
    "sub": (_std, _std, None),
    "mul": (_std, _std, None),
    "div": (_std, lambda r, s: _uniform(r, s, 0.5, 2.0, signed=True), None),
    "power": (lambda r, s: _uniform(r, s, 0.5, 2.0), lambda r, s: _uniform(r, s, -2.0, 2.0),
              None),
    "float_power": (lambda r, s: _uniform(r, s, 0.5, 2.0),
                    lambda r, s: _uniform(r, s, -2.0, 2.0), None),
    "maximum": (_std, _std, _distinct),
    "minimum": (_std, _std, _distinct),
    "fmax": (_std, _std, _distinct),
    "fmin": (_std, _std, _distinct),
    "arctan2": (_std, _std, _arctan2_ok),
    "hypot": (_std, _std, _away_from_origin),
    "logaddexp": (_std, _std, None),
    "logaddexp2": (_std, _std, None),
    "mod": (lambda r, s: _uniform(r, s, -3.0, 3.0),
            lambda r, s: _uniform(r, s, 0.7, 2.0, signed=True), _mod_ok),
}


def _pair_maker(dx: Draw, dy: Draw, ok: Callable[..., bool] | None, sx: tuple[int, ...],
                sy: tuple[int, ...]) -> Callable[[np.random.Generator], Args]:
    def draw(rng: np.random.Generator) -> Args:
        return dx(rng, sx), dy(rng, sy)
    return draw if ok is None else _retry(draw, ok)


def _with_nan(which: int) -> Callable[[np.random.Generator], Args]:
    def make(rng: np.random.Generator) -> Args:
        x, y = _normal(rng, (4,)), _normal(rng, (4,))
        (x, y)[which][[1, 3]] = np.nan
        return x, y
    return _retry(make, lambda x, y: bool(np.all(np.isnan(x - y) | (np.abs(x - y) > 0.1))))


def _ties(rng: np.random.Generator) -> Args:
    x = _normal(rng, (3, 4))
    y = _normal(rng, (3, 4))
    y[0], y[2, 1] = x[0], x[2, 1]
    return x, y



def _binary_cases() -> list[Case]:
    out = []
    for name, (dx, dy, ok) in BINARY_DOMAINS.items():
        for sx, sy in PAIR_SHAPES:
            out.append(Case(name, f"{_lbl(sx)},{_lbl(sy)}", _pair_maker(dx, dy, ok, sx, sy)))
    for name in ("maximum", "minimum", "fmax", "fmin"):
        # ties split the derivative: no finite differences, but the rules must still agree
        out.append(Case(name, "ties", _ties, fd=False))
    for name in ("fmax", "fmin"):
        # fmax/fmin ignore NaN: the derivative follows the operand that became the answer
        out.append(Case(name, "nan-in-x", _with_nan(0)))
        out.append(Case(name, "nan-in-y", _with_nan(1)))
    # power with a constant Python exponent (the rule's scalar fast path), through x = 0
    for p in ("power", "float_power"):
        for e in (3.0, 2, 0.0, -1.5):
            if e == -1.5:
                def make(rng: np.random.Generator, e: Any = e) -> Args:
                    return _uniform(rng, (3, 4), 0.5, 2.0), e
            else:
                def make(rng: np.random.Generator, e: Any = e) -> Args:
                    x = _uniform(rng, (3, 4), -1.5, 1.5)
                    x[1, 1] = 0.0
                    return x, e
            out.append(Case(p, f"const-exponent-{e!r}", make))
        # an exponent array held constant, with the base through 0: x**2 and x**0 are smooth
        # there, and the rule promises d/dx x**0 = 0 even at x = 0
        for e in (2.0, 0.0):
            def make_arr(rng: np.random.Generator, e: float = e) -> Args:
                x = _uniform(rng, (3, 4), -1.5, 1.5)
                x[1, 1] = x[2, 3] = 0.0
                return x, np.full((4,), e)
            out.append(Case(p, f"exponent-array-{e!r}-held-constant", make_arr, const=(1,),
                            quiet=True))
    return out


# ---------------------------------------------------------------------------------------------
# select (the boolean condition is an argument, never differentiated)

SELECT_SHAPES = [((3, 4), (3, 4), (3, 4)), ((3, 4), (4,), ()), ((4,), (3, 4), (3, 1)),
                 ((), (4,), (4,)), ((3, 1), (1, 4), (3, 4))]


def _select_maker(sc: tuple[int, ...], sa: tuple[int, ...], sb: tuple[int, ...]
                  ) -> Callable[[np.random.Generator], Args]:
    def make(rng: np.random.Generator) -> Args:
        c = np.asarray(rng.random(sc) > 0.5)
        return c, _normal(rng, sa), _normal(rng, sb)
    return make


def _select_cases() -> list[Case]:
    return [Case("select", ",".join(map(_lbl, shapes)), _select_maker(*shapes))
            for shapes in SELECT_SHAPES]


# ---------------------------------------------------------------------------------------------
# reductions and scans

REDUCE_AXES = [((), ()), ((4,), (0,)), ((3, 4), ()), ((3, 4), (0,)), ((3, 4), (1,)),
               ((3, 4), (0, 1)), ((2, 3, 4), (0, 2)), ((2, 3, 4), (1,))]


def _spread(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Distinct values at least 0.25 apart (max has no ties within finite-difference steps)."""
    n = int(np.prod(shape, dtype=np.int64))
    x = (rng.permutation(n) - n / 2) * 0.25 + rng.uniform(0.0, 0.05, n)
    return _arr(x.reshape(shape))


def _reduce_maker(name: str, shape: tuple[int, ...]) -> Callable[[np.random.Generator], Args]:
    def make(rng: np.random.Generator) -> Args:
        if name == "max":
            return (_spread(rng, shape),)
        if name == "prod":
            return (_uniform(rng, shape, 0.5, 1.5, signed=True),)
        return (_normal(rng, shape),)
    return make


def _with_zeros(shape: tuple[int, ...], zeros: list[tuple[int, ...]]
                ) -> Callable[[np.random.Generator], Args]:
    def make(rng: np.random.Generator) -> Args:
        x = _uniform(rng, shape, 0.5, 1.5, signed=True)
        for z in zeros:
            x[z] = 0.0
        return (x,)
    return make


def _max_ties(rng: np.random.Generator) -> Args:
    x = _normal(rng, (3, 4))
    x[0, 3] = x[0, 1] = 5.0
    x[2, :] = 7.0
    return (x,)


SCAN_AXES = [((4,), 0), ((3, 4), 0), ((3, 4), 1), ((2, 3, 4), 1), ((2, 3, 4), 2)]


def _reduce_cases() -> list[Case]:
    out = []
    for name in ("sum", "max", "prod"):
        for (shape, axis), keep in itertools.product(REDUCE_AXES, (False, True)):
            label = f"{_lbl(shape)}-axis{axis}-keepdims{keep}".replace(" ", "")
            out.append(Case(name, label, _reduce_maker(name, shape),
                            {"axis": axis, "keepdims": keep}))
    # prod is zero-safe: one zero, and two zeros in the same reduced slice
    for keep in (False, True):
        out.append(Case("prod", f"one-zero-keepdims{keep}", _with_zeros((3, 4), [(1, 2)]),
                        {"axis": (1,), "keepdims": keep}))
        out.append(Case("prod", f"two-zeros-keepdims{keep}",
                        _with_zeros((3, 4), [(0, 1), (0, 3), (2, 2)]),
                        {"axis": (1,), "keepdims": keep}))
    out.append(Case("prod", "two-zeros-all-axes", _with_zeros((3, 4), [(0, 1), (2, 3)]),
                    {"axis": (0, 1), "keepdims": False}))
    out.append(Case("max", "ties", _max_ties, {"axis": (1,), "keepdims": False}, fd=False))
    out.append(Case("max", "ties-all-axes", _max_ties, {"axis": (0, 1), "keepdims": True},
                    fd=False))
    for name in ("cumsum", "cumprod"):
        for shape, axis in SCAN_AXES:
            maker = (_reduce_maker("prod", shape) if name == "cumprod"
                     else _reduce_maker("sum", shape))
            out.append(Case(name, f"{_lbl(shape)}-axis{axis}", maker, {"axis": axis}))
    out.append(Case("cumprod", "zeros", _with_zeros((3, 4), [(0, 1), (2, 0), (2, 2)]),
                    {"axis": 1}))
    return out


# ---------------------------------------------------------------------------------------------
# shape primitives

def _std_maker(*shapes: tuple[int, ...]) -> Callable[[np.random.Generator], Args]:
    def make(rng: np.random.Generator) -> Args:
        return tuple(_normal(rng, s) for s in shapes)
    return make


def _shape_cases() -> list[Case]:
    out = []
    for src, dst in [((3, 4), (12,)), ((3, 4), (4, 3)), ((3, 4), (2, 2, 3)), ((3, 4), (1, 12)),
                     ((), (1,)), ((4,), (2, 2)), ((2, 3, 4), (6, 4)), ((1,), ())]:
        out.append(Case("reshape", f"{_lbl(src)}-to-{_lbl(dst)}", _std_maker(src),
                        {"shape": dst}))
    for src, axes in [((3, 4), (1, 0)), ((3, 4), (0, 1)), ((2, 3, 4), (2, 0, 1)),
                      ((2, 3, 4), (1, 0, 2)), ((), ())]:
        out.append(Case("transpose", f"{_lbl(src)}-axes{axes}".replace(" ", ""),
                        _std_maker(src), {"axes": axes}))
    for src, dst in [((4,), (3, 4)), ((3, 1), (3, 4)), ((), (2, 3)), ((1, 4), (2, 3, 4)),
                     ((3, 4), (3, 4))]:
        out.append(Case("broadcast_to", f"{_lbl(src)}-to-{_lbl(dst)}", _std_maker(src),
                        {"shape": dst}))
    for shapes, axis in [([(3, 4), (2, 4)], 0), ([(3, 4), (3, 2)], 1),
                         ([(4,), (2,), (3,)], 0), ([(2, 3, 4), (2, 1, 4)], 1),
                         ([(3, 4)], 1)]:
        out.append(Case("concatenate", f"{'+'.join(map(_lbl, shapes))}-axis{axis}",
                        _std_maker(*shapes), {"axis": axis}))
    return out


def _empty_cases() -> list[Case]:
    """Zero-size arrays and size-1 axes, where shape bookkeeping in rules goes wrong first."""
    return [
        Case("sum", "0x4-axis0", _std_maker((0, 4)), {"axis": (0,), "keepdims": False}),
        Case("prod", "0x4-axis0", _std_maker((0, 4)), {"axis": (0,), "keepdims": False}),
        Case("prod", "3x0-axis1-keepdims", _std_maker((3, 0)), {"axis": (1,), "keepdims": True}),
        Case("prod", "3x1-axis1", _std_maker((3, 1)), {"axis": (1,), "keepdims": False}),
        Case("max", "3x1-axis1", _std_maker((3, 1)), {"axis": (1,), "keepdims": False}),
        Case("cumsum", "3x0-axis1", _std_maker((3, 0)), {"axis": 1}),
        Case("cumprod", "3x0-axis1", _std_maker((3, 0)), {"axis": 1}),
        Case("cumprod", "3x1-axis1", _std_maker((3, 1)), {"axis": 1}),
        Case("cumprod", "1x4-axis0", _std_maker((1, 4)), {"axis": 0}),
        Case("reshape", "0x4-to-4x0", _std_maker((0, 4)), {"shape": (4, 0)}),
        Case("transpose", "0x4-axes(1,0)", _std_maker((0, 4)), {"axes": (1, 0)}),
        Case("broadcast_to", "4-to-0x4", _std_maker((4,)), {"shape": (0, 4)}),
        Case("concatenate", "0x4+2x4-axis0", _std_maker((0, 4), (2, 4)), {"axis": 0}),
        Case("mul", "0x4,4", _std_maker((0, 4), (4,))),
        Case("sin", "0x4", _std_maker((0, 4))),
        Case("matmul", "3x0@0x5", _std_maker((3, 0), (0, 5))),
        Case("einsum", "ij,jk->ik-empty-inner", _std_maker((3, 0), (0, 5)),
             {"spec": "ij,jk->ik"}),
    ]


# ---------------------------------------------------------------------------------------------
# indexing: getitem and its transpose scatter_add (idx is already normalised)

_MASK_RNG = np.random.default_rng(20240611)
_MASK_2D = _MASK_RNG.random((3, 4)) > 0.5
_MASK_ROWS = np.array([True, False, True])

GETITEM: list[tuple[str, tuple[int, ...], tuple[Any, ...]]] = [
    ("int", (4,), (1,)),
    ("int-row", (3, 4), (1,)),
    ("negative-int", (3, 4), (-1,)),
    ("int-int", (3, 4), (2, -3)),
    ("slice", (3, 4), (slice(1, 3),)),
    ("strided-slice", (3, 4), (slice(None), slice(0, 4, 2))),
    ("negative-step", (3, 4), (slice(None, None, -1), slice(3, 0, -2))),
    ("none-ellipsis-int", (3, 4), (None, Ellipsis, 1)),
    ("ellipsis-none-slice", (2, 3, 4), (Ellipsis, None, slice(1, 3))),
    ("repeated-int-array", (4,), (np.array([0, 0, 2]),)),
    ("slice-and-int-array", (3, 4), (slice(None), np.array([3, 0, 3, -1]))),
    ("2d-int-arrays", (3, 4), (np.array([[0, 1], [2, 2]]), np.array([1, 3]))),
    ("bool-mask", (3, 4), normalize_index(_MASK_2D)),
    ("bool-mask-rows", (3, 4), normalize_index((_MASK_ROWS, slice(None)))),
    ("split-arrays", (2, 3, 4), (np.array([0, 1, 1]), slice(None), np.array([1, 2, 3]))),
    ("int-slice-array", (2, 3, 4), (0, slice(None), np.array([1, 1, 2]))),
    ("scalar-empty", (), ()),
    ("scalar-none", (), (None,)),
    ("empty-selection", (3, 4), (np.array([], dtype=np.intp),)),
]


def _index_cases() -> list[Case]:
    out = []
    for label, shape, idx in GETITEM:
        out.append(Case("getitem", label, _std_maker(shape), {"idx": idx}))
        result = np.zeros(shape)[idx].shape
        out.append(Case("scatter_add", label, _std_maker(result), {"idx": idx, "shape": shape}))
    # gathers at an index that is an operand (traced under a graph); repeats accumulate
    for shape, idx_shape, axis in [((4, 3), (5,), 0), ((2, 4, 3), (2, 2), 1), ((4, 3), (), 0),
                                   ((3, 4), (3,), 1)]:
        def gather_args(rng: np.random.Generator, shape: tuple = shape, idx_shape: tuple =
                        idx_shape, axis: int = axis) -> Args:
            return _normal(rng, shape), rng.integers(0, shape[axis], size=idx_shape)

        def add_args(rng: np.random.Generator, shape: tuple = shape, idx_shape: tuple =
                     idx_shape, axis: int = axis) -> Args:
            ct_shape = shape[:axis] + idx_shape + shape[axis + 1:]
            return _normal(rng, ct_shape), rng.integers(0, shape[axis], size=idx_shape)

        label = f"{_lbl(shape)}-at-{_lbl(idx_shape)}-axis{axis}"
        out.append(Case("gather", label, gather_args, {"axis": axis}))
        out.append(Case("gather_add", label, add_args, {"axis": axis, "shape": shape}))
    return out


# ---------------------------------------------------------------------------------------------
# products

MATMUL_SHAPES = [((4,), (4, 5)), ((3, 4), (4,)), ((3, 4), (4, 5)), ((2, 3, 4), (4, 5)),
                 ((2, 3, 4), (2, 4, 5)), ((4,), (4,)), ((4,), (2, 4, 5)), ((3, 4), (2, 4, 5)),
                 ((2, 1, 3, 4), (3, 4, 2))]

EINSUM_SPECS: list[tuple[str, list[tuple[int, ...]]]] = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij->j", [(3, 4)]),
    ("ii->i", [(4, 4)]),
    ("ii->", [(4, 4)]),
    ("i,i->", [(4,), (4,)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ij,kj->ik", [(3, 4), (5, 4)]),
    ("ij->", [(3, 4)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ijk->kij", [(2, 3, 4)]),
    ("ij,ij->ij", [(3, 4), (3, 4)]),
    ("bij,jk->bik", [(2, 3, 4), (4, 5)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
]


def _well_conditioned(*shape: int) -> Callable[[np.random.Generator], Args]:
    def make(rng: np.random.Generator) -> Args:
        n = shape[-1]
        return (_normal(rng, shape) * 0.5 + 2.0 * np.eye(n),)
    return make


def _sym(m: Any) -> Any:
    return (m + cnp.swapaxes(m, -1, -2)) * 0.5


def _spd(m: Any) -> Any:
    return m @ cnp.swapaxes(m, -1, -2) + 2.0 * np.eye(np.shape(m)[-1])


def _square_vectors(outs: Any) -> Any:
    return [o * o for o in outs]


def _strong_mask_cases() -> list[Case]:
    def with_zero_cotangents(rng: np.random.Generator) -> Args:
        ct = _normal(rng, (3, 4))
        ct[0, 1] = ct[2, 2] = 0.0
        return ct, _normal(rng, (3, 4)), _normal(rng, (3, 4))

    def masking(rng: np.random.Generator) -> Args:  # zero cotangents meeting infinities
        ct, r, t = with_zero_cotangents(rng)
        r[0, 1] = np.inf
        r[1, 1] = np.inf  # a nonzero cotangent: not masked
        return ct, r, t

    return [Case("strong_mask", "3x4", _std_maker((3, 4), (3, 4), (3, 4))),
            Case("strong_mask", "broadcast", _std_maker((4,), (3, 4), (3, 4))),
            Case("strong_mask", "zero-cotangents", with_zero_cotangents, const=(0, 1)),
            Case("strong_mask", "masking", masking, const=(0, 1), quiet=True)]


def _control_cases() -> list[Case]:
    """The control-flow primitives, bound with sub-graphs traced here. Loops count with an
    integer carry, so their trip count (and so the function) is smooth in the float inputs."""
    spec = cr.graph.spec
    v3 = spec((3,))

    def sub(f: Callable[..., Any], *specs: Any) -> Any:
        return cr.graph.trace(lambda *a: list(f(*a)), *specs)

    branches = (sub(lambda x, y: [x * y ** 2, cnp.sum(y)], v3, v3),
                sub(lambda x, y: [cnp.sin(x) * y, cnp.sum(x * y)], v3, v3))

    def cond_args(take: bool) -> Callable[[np.random.Generator], Args]:
        return lambda rng: (np.array(take), _normal(rng, (3,)), _normal(rng, (3,)))

    counter = spec((), "int64")
    test = sub(lambda i, x: [i < 3], counter, v3)
    body = sub(lambda a, i, x: [i + 1, cnp.sin(x) * a + x], v3, counter, v3)
    loop = {"cond": test, "body": body, "n_cond": 0, "n_body": 1}

    def loop_args(rng: np.random.Generator) -> Args:
        return _normal(rng, (3,)), np.array(0), _normal(rng, (3,))

    def loop_ad_args(rng: np.random.Generator) -> Args:  # (a, i, x) and the cotangent of x
        return (*loop_args(rng), _normal(rng, (3,)))

    step = sub(lambda k, c, x: [c * cnp.sin(x) + k, c * x], v3, v3, v3)

    def scan_args(rng: np.random.Generator) -> Args:
        return _normal(rng, (3,)), _normal(rng, (3,)), _normal(rng, (4, 3))

    return [Case("cond", "true", cond_args(True), {"branches": branches}),
            Case("cond", "false", cond_args(False), {"branches": branches}),
            Case("while_loop", "3-steps", loop_args, loop),
            Case("while_loop_ad", "vjp", loop_ad_args, {**loop, "chain": (("vjp", (0, 2)),)}),
            *[Case("scan", f"reverse={r}", scan_args,
                   {"body": step, "n_consts": 1, "n_carry": 1, "length": 4, "reverse": r})
              for r in (False, True)]]


def _sort_cases() -> list[Case]:
    # distinct values (a tie would make the permutation jump under finite differences)
    def distinct(shape: tuple[int, ...]) -> Callable[[np.random.Generator], Args]:
        def make(rng: np.random.Generator) -> Args:
            n = int(np.prod(shape))
            return (_arr(rng.permutation(n).reshape(shape) * 0.5 + rng.uniform(0, 0.1, shape)),)
        return make

    return [Case("sort", f"{_lbl(s)}-axis{a}", distinct(s), {"axis": a})
            for s, a in (((5,), 0), ((3, 4), 0), ((3, 4), 1), ((2, 3, 4), 2))]


def _linalg_cases() -> list[Case]:
    out = [Case("matmul", f"{_lbl(a)}@{_lbl(b)}", _std_maker(a, b)) for a, b in MATMUL_SHAPES]
    out += [Case("einsum", spec, _std_maker(*shapes), {"spec": spec})
            for spec, shapes in EINSUM_SPECS]
    for name in ("inv", "det", "slogdet", "adjugate"):
        out += [Case(name, "3x3", _well_conditioned(3, 3)),
                Case(name, "2x3x3", _well_conditioned(2, 3, 3))]

    def singular(rank: int) -> Any:  # (det and the adjugate are polynomials: defined there)
        def make(rng: np.random.Generator) -> Args:
            return (_arr(_normal(rng, (3, rank)) @ _normal(rng, (rank, 3))),)
        return make

    for name in ("det", "adjugate"):
        out += [Case(name, "3x3-rank2", singular(2)), Case(name, "3x3-rank1", singular(1))]

    def with_direction(make_a: Any, shape: tuple[int, ...]) -> Any:
        def make(rng: np.random.Generator) -> Args:
            return make_a(rng) + (_normal(rng, shape),)
        return make

    out += [Case("adjugate_tangent", "3x3", with_direction(_well_conditioned(3, 3), (3, 3))),
            Case("adjugate_tangent", "2x3x3", with_direction(_well_conditioned(2, 3, 3),
                                                             (2, 3, 3))),
            Case("adjugate_tangent", "3x3-rank1", with_direction(singular(1), (3, 3)))]

    def solve_maker(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> Any:
        def make(rng: np.random.Generator) -> Args:
            return _well_conditioned(*a_shape)(rng) + (_normal(rng, b_shape),)
        return make

    for a_shape, b_shape in [((3, 3), (3, 2)), ((2, 3, 3), (3, 1)), ((2, 3, 3), (2, 3, 2))]:
        out.append(Case("solve", f"{_lbl(a_shape)}-{_lbl(b_shape)}", solve_maker(a_shape,
                                                                                  b_shape)))
    for shape in ((3, 3), (2, 3, 3)):
        out.append(Case("cholesky", _lbl(shape), _well_conditioned(*shape), pre=_spd))
        out.append(Case("eigh", _lbl(shape), _well_conditioned(*shape), pre=_spd,
                        post=_square_vectors))
    for shape in ((4, 3), (3, 4), (3, 3), (2, 4, 3)):
        out.append(Case("svd", _lbl(shape), _std_maker(shape), post=_square_vectors))
        out.append(Case("svdvals", _lbl(shape), _std_maker(shape)))
    return out


# ---------------------------------------------------------------------------------------------
# nondifferentiable primitives: compared with NumPy, and their derivatives must be exact zeros

NONDIFF_REFERENCE: dict[str, Callable[..., Any]] = {
    "greater": np.greater, "greater_equal": np.greater_equal, "less": np.less,
    "less_equal": np.less_equal, "equal": np.equal, "not_equal": np.not_equal,
    "logical_and": np.logical_and, "logical_or": np.logical_or,
    "logical_xor": np.logical_xor, "logical_not": np.logical_not,
    "isfinite": np.isfinite, "isnan": np.isnan, "isinf": np.isinf, "signbit": np.signbit,
    "sign": np.sign, "floor": np.floor, "ceil": np.ceil, "trunc": np.trunc, "round": np.round,
    "floor_divide": np.floor_divide, "stop_gradient": lambda x: x, "zeros_like": np.zeros_like,
    "bitwise_and": np.bitwise_and, "bitwise_or": np.bitwise_or, "bitwise_xor": np.bitwise_xor,
    "invert": np.invert,
    "pick": lambda take, eq: np.add(take, np.multiply(eq, 0.5)),
    "argsort": lambda x: np.argsort(x, axis=-1, kind="stable"),
}

_HALVES = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.3, -0.7, 0.0, -0.0, 1.0, -2.0])


def _small_ints(rng: np.random.Generator, s: tuple[int, ...]) -> np.ndarray:
    return _arr(rng.integers(-2, 3, size=s))  # many ties and zeros


def _special(rng: np.random.Generator, s: tuple[int, ...]) -> np.ndarray:
    pool = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.5, -2.25, 1e300])
    return _arr(rng.choice(pool, size=s))


def _halves(rng: np.random.Generator, s: tuple[int, ...]) -> np.ndarray:
    n = int(np.prod(s, dtype=np.int64))
    return _arr(rng.choice(_HALVES, size=n, replace=n > _HALVES.size).reshape(s))


def _nondiff_cases() -> list[Case]:
    out = []
    binary = ("greater", "greater_equal", "less", "less_equal", "equal", "not_equal",
              "logical_and", "logical_or", "logical_xor")
    for name in binary:
        for sx, sy in [((3, 4), (3, 4)), ((3, 4), (4,)), ((), (3, 4)), ((3, 1), (1, 4))]:
            out.append(Case(name, f"{_lbl(sx)},{_lbl(sy)}",
                            _pair_maker(_small_ints, _small_ints, None, sx, sy)))
    for name, draw in [("logical_not", _small_ints), ("isfinite", _special), ("isnan", _special),
                       ("isinf", _special), ("signbit", _special), ("sign", _halves),
                       ("floor", _halves), ("ceil", _halves), ("trunc", _halves),
                       ("round", _halves), ("stop_gradient", _std), ("zeros_like", _std)]:
        for s in [(), (12,), (3, 4)]:
            out.append(Case(name, _lbl(s), _unary_from(draw, s)))
    def ints(rng: np.random.Generator, s: tuple[int, ...]) -> np.ndarray:
        return rng.integers(-8, 9, size=s)  # integer operands: nothing to differentiate

    for name in ("bitwise_and", "bitwise_or", "bitwise_xor"):
        out.append(Case(name, "3x4,4", _pair_maker(ints, ints, None, (3, 4), (4,))))
    out.append(Case("invert", "3x4", _unary_from(ints, (3, 4))))

    def pick_args(rng: np.random.Generator) -> Args:
        x, y = _small_ints(rng, (3, 4)), _small_ints(rng, (3, 4))
        return x > y, x == y

    out.append(Case("pick", "ties", pick_args, {"dtype": "<f8"}))
    for s in [(5,), (3, 4)]:
        out.append(Case("argsort", _lbl(s), _unary_from(_small_ints, s), {"axis": len(s) - 1}))
    for sx, sy in [((3, 4), (3, 4)), ((3, 4), (4,)), ((), (3, 4))]:
        out.append(Case("floor_divide", f"{_lbl(sx)},{_lbl(sy)}",
                        _pair_maker(lambda r, s: _uniform(r, s, -3, 3),
                                    lambda r, s: _uniform(r, s, 0.5, 2.0, signed=True),
                                    None, sx, sy)))
    return out


def _unary_from(draw: Draw, s: tuple[int, ...]) -> Callable[[np.random.Generator], Args]:
    def make(rng: np.random.Generator) -> Args:
        return (draw(rng, s),)
    return make


# ---------------------------------------------------------------------------------------------
# the table

DIFF_CASES: list[Case] = (_unary_cases() + _binary_cases() + _select_cases() + _reduce_cases()
                          + _shape_cases() + _index_cases() + _linalg_cases() + _sort_cases()
                          + _strong_mask_cases() + _control_cases()
                          + _empty_cases() + extra_cases("DIFF_CASES"))
NONDIFF_CASES: list[Case] = _nondiff_cases() + extra_cases("NONDIFF_CASES")
CASES: list[Case] = DIFF_CASES + NONDIFF_CASES

assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"

def _param(case: Case, kind: str, *extra: Any, suffix: str = "") -> Any:
    marks = []
    if case.quiet:
        marks.append(pytest.mark.filterwarnings("ignore::RuntimeWarning"))
    reason = case.xfail.get(kind)
    if reason:
        marks.append(pytest.mark.xfail(strict=True, reason=reason))
    return pytest.param(case, *extra, id=case.id + suffix, marks=marks)


def _prim(case: Case) -> Primitive:
    return REGISTRY[case.prim]


def _diff_indices(args: Args, case: Case | None = None) -> list[int]:
    const = case.const if case is not None else ()
    return [i for i, a in enumerate(args) if i not in const
            and isinstance(a, np.ndarray) and np.issubdtype(a.dtype, np.floating)]


def _bind_over(prim: Primitive, args: Args, params: dict[str, Any], which: list[int]
               ) -> Callable[..., Any]:
    """`prim` as a function of the arguments at `which`; the others are closure constants."""

    def f(*xs: Any) -> Any:
        full = list(args)
        for i, x in zip(which, xs):
            full[i] = x
        return prim.bind(*full, **params)

    f.__name__ = prim.name
    return f


# ---------------------------------------------------------------------------------------------
# 2, 3: enrolment and rule presence

def test_every_primitive_is_enrolled() -> None:
    enrolled = {c.prim for c in CASES}
    missing = sorted(set(REGISTRY) - enrolled - set(CALL_PRIMITIVES))
    assert not missing, (f"registered primitives with no case in tests/test_rules.py: {missing}; "
                         f"add cases to the table")
    unknown = sorted(enrolled - set(REGISTRY))
    assert not unknown, f"cases name primitives that are not registered: {unknown}"
    stale = sorted(set(CALL_PRIMITIVES) - set(REGISTRY))
    assert not stale, f"CALL_PRIMITIVES names primitives that no longer exist: {stale}"
    # a primitive sits in the table matching its kind, so a change of kind is noticed
    wrong = sorted({c.prim for c in DIFF_CASES if REGISTRY[c.prim].nondiff}
                   | {c.prim for c in NONDIFF_CASES if not REGISTRY[c.prim].nondiff})
    assert not wrong, f"primitives in the wrong table (differentiable vs nondiff): {wrong}"
    no_fd = sorted({c.prim for c in DIFF_CASES} - {c.prim for c in DIFF_CASES if c.fd})
    assert not no_fd, f"differentiable primitives without a finite-difference case: {no_fd}"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_primitive_has_rules(name: str) -> None:
    p = REGISTRY[name]
    assert p.batch is not None, f"'{name}' has no batching rule"
    if p.nondiff:
        return
    assert p.jvp is not None, f"'{name}' has no JVP rule"
    if name in CALL_PRIMITIVES:
        return  # reverse mode derives from the JVP, or uses its custom fwd/bwd
    assert p.vjp is not None or p.transpose is not None or p in CUSTOM_RULES, \
        f"'{name}' has neither VJP, transpose nor a reverse pass of its own"


# ---------------------------------------------------------------------------------------------
# 4: finite differences, second order, both modes

@pytest.mark.parametrize("case", [_param(c, "grads") for c in DIFF_CASES if c.fd])
def test_rule_matches_finite_differences(case: Case) -> None:
    prim = _prim(case)
    args = case.args()
    which = _diff_indices(args, case)
    assert which, "a differentiable case needs a floating-point argument"
    check_grads(_fd_function(case, _bind_over(prim, args, case.params, which)),
                [args[i] for i in which], order=2, modes=("fwd", "rev"))


def _fd_function(case: Case, f: Callable[..., Any]) -> Callable[..., Any]:
    if case.pre is None and case.post is None:
        return f
    pre = case.pre or (lambda x: x)
    post = case.post or (lambda y: y)

    def wrapped(*xs: Any) -> Any:
        return post(f(*[pre(x) for x in xs]))

    wrapped.__name__ = f.__name__
    return wrapped


def _one_arg_params() -> list[Any]:
    out = []
    for c in DIFF_CASES:
        which = _diff_indices(c.args(), c)
        if c.fd and len(which) > 1:
            out += [_param(c, "grads", i, suffix=f"-wrt-arg{i}") for i in which]
    return out


@pytest.mark.parametrize("case,argnum", _one_arg_params())
def test_rule_matches_finite_differences_one_argument(case: Case, argnum: int) -> None:
    """The other arguments are constants, so their tangents are the symbolic Zero and the rules'
    Zero paths (and VJPs asked for one argument only) are exercised."""
    args = case.args()
    check_grads(_fd_function(case, _bind_over(_prim(case), args, case.params, [argnum])),
                [args[argnum]], order=2, modes=("fwd", "rev"))


# ---------------------------------------------------------------------------------------------
# 5: hand-written VJPs and transposes agree with the VJP derived from the JVP rule

def _dense(g: Any, like: Any) -> np.ndarray:
    if g is Zero:
        return np.zeros(np.shape(like))
    return np.asarray(g, dtype=np.float64)


@pytest.mark.parametrize("case", [_param(c, "vjp") for c in DIFF_CASES])
def test_vjp_matches_derived_from_jvp(case: Case) -> None:
    prim = _prim(case)
    args = case.args()
    params = case.params
    ans = prim.impl(*args, **params)
    ct_rng = np.random.default_rng(1)
    if prim.multiple_results:
        ct: Any = [ct_rng.standard_normal(np.shape(a)) for a in ans]
    else:
        ct = ct_rng.standard_normal(np.shape(ans))
    custom = CUSTOM_RULES.get(prim)
    assert prim.vjp is not None or prim.transpose is not None or custom is not None
    for i in _diff_indices(args, case):
        want = _dense(derived_vjp(prim, tuple(args), dict(params), ct, [i])[i], args[i])
        assert want.shape == np.shape(args[i])
        assert np.all(np.isfinite(want)), f"non-finite derived VJP of argument {i}"
        if custom is not None:  # a reverse pass with residuals (control flow)
            fwd_ans, res = custom.fwd(*args, **params)
            for a, b in zip(fwd_ans, ans):
                np.testing.assert_array_equal(a, b)
            got = _dense(custom.bwd(res, ct, [i], **params)[i], args[i])
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12,
                                       err_msg=f"reverse pass of argument {i}")
        if prim.vjp is not None:
            got = _dense(prim.vjp[i](ct, ans, *args, **params), args[i])
            assert got.shape == want.shape, f"VJP of argument {i}: shape"
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12,
                                       err_msg=f"hand-written VJP of argument {i}")
        if prim.transpose is not None:
            got = _dense(prim.transpose[i](ct, *args, **params), args[i])
            assert got.shape == want.shape, f"transpose of argument {i}: shape"
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12,
                                       err_msg=f"transpose of argument {i}")
            # and, independently of the JVP rule, the adjoint identity against the implementation
            # (affine in argument i): <ct, L v> = <L^T ct, v> with L v = impl(v) - impl(0)
            v = np.random.default_rng(2).standard_normal(np.shape(args[i]))
            at_v = list(args)
            at_v[i] = v
            at_0 = list(args)
            at_0[i] = np.zeros_like(v)
            lv = np.subtract(prim.impl(*at_v, **params), prim.impl(*at_0, **params))
            # (the real inner product, Re(sum(conj(a) * b)): complex outputs pair so, README)
            np.testing.assert_allclose(np.real(np.sum(np.conj(got) * v)),
                                       np.real(np.sum(np.conj(ct) * lv)), rtol=1e-10,
                                       atol=1e-12,
                                       err_msg=f"transpose of argument {i}: adjoint identity")


# ---------------------------------------------------------------------------------------------
# batched tangents and cotangents: jacfwd and jacrev push a basis through the rules under vmap

def _single_output(prim: Primitive, f: Callable[..., Any]) -> Callable[..., Any]:
    """Primitives with several outputs are checked through the concatenation of their outputs."""
    if not prim.multiple_results:
        return f

    def joined(*xs: Any) -> Any:
        return cnp.concatenate([cnp.ravel(o) for o in f(*xs)])

    return joined


@pytest.mark.parametrize("case", [_param(c, "jac") for c in DIFF_CASES])
def test_jacobians_match_jvp_and_vjp(case: Case) -> None:
    prim = _prim(case)
    args = case.args()
    which = _diff_indices(args, case)
    xs = [args[i] for i in which]
    f = _single_output(prim, _bind_over(prim, args, case.params, which))
    nums = tuple(range(len(xs)))
    jf = cr.jacfwd(f, argnums=nums)(*xs)
    jr = cr.jacrev(f, argnums=nums)(*xs)
    rng = np.random.default_rng(4)
    dirs = [rng.standard_normal(np.shape(x)) for x in xs]
    out, t = cr.jvp(f, tuple(xs), tuple(dirs))
    ct = rng.standard_normal(np.shape(out))
    grads = cr.vjp(f, *xs)[1](ct)
    for j in [*jf, *jr, t, *grads]:
        assert np.all(np.isfinite(np.asarray(j))), "non-finite derivative"
    jv = sum(np.tensordot(np.asarray(j), d, axes=np.ndim(d)) for j, d in zip(jf, dirs))
    np.testing.assert_allclose(jv, t, rtol=1e-10, atol=1e-12, err_msg="jacfwd @ v vs jvp")
    for k, (a, b, g) in enumerate(zip(jf, jr, grads)):
        a, b = np.asarray(a), np.asarray(b)
        assert a.shape == b.shape == np.shape(out) + np.shape(xs[k])
        if not np.iscomplexobj(xs[k]):  # (a real input's reverse Jacobian is the real part)
            a = np.real(a)
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg="jacfwd vs jacrev")
        utj = np.tensordot(ct, b, axes=np.ndim(ct))
        np.testing.assert_allclose(utj, g, rtol=1e-10, atol=1e-12, err_msg="u @ jacrev vs vjp")


# ---------------------------------------------------------------------------------------------
# 6: batching rules agree with a Python loop

BATCH = 3


def _vmap_params() -> list[Any]:
    out = []
    for c in CASES:
        batchable = [i for i, a in enumerate(c.args()) if isinstance(a, np.ndarray)]
        modes = [("all", tuple(batchable))]
        if len(batchable) > 1:
            modes += [(f"only-arg{i}", (i,)) for i in batchable]
        for label, which in modes:
            out.append(_param(c, "vmap", batchable, which, suffix=f"-{label}"))
    return out


@pytest.mark.parametrize("case,batchable,batched", _vmap_params())
def test_batch_rule_matches_loop(case: Case, batchable: list[int], batched: tuple[int, ...]
                                 ) -> None:
    prim = _prim(case)
    examples = [case.args(b) for b in range(BATCH)]

    def example_args(b: int) -> Args:
        return tuple(ex_b if i in batched else ex_0
                     for i, (ex_b, ex_0) in enumerate(zip(examples[b], examples[0])))

    def outputs(result: Any) -> list[Any]:
        return list(result) if prim.multiple_results else [result]

    wants = zip(*[outputs(prim.impl(*example_args(b), **case.params)) for b in range(BATCH)])
    inputs = [np.stack([ex[i] for ex in examples]) if i in batched else examples[0][i]
              for i in batchable]
    in_axes = tuple(0 if i in batched else None for i in batchable)
    f = _bind_over(prim, examples[0], case.params, batchable)
    gots = outputs(cr.vmap(f, in_axes=in_axes)(*inputs))
    for got, want in zip(gots, wants):
        got, want = np.asarray(got), np.stack([np.asarray(w) for w in want])
        assert got.shape == want.shape
        assert got.dtype == want.dtype
        if np.issubdtype(want.dtype, np.inexact):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
        else:
            np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------------------------------------
# 8: abstract evaluation agrees with the implementation

# dtype behaviour the float64 table does not reach: float32 inputs, Python scalars (NumPy 2 keeps
# the array's dtype for those), integer inputs
DTYPE_CASES: list[Case] = [
    Case("sin", "float32", lambda r: (np.ones((3,), np.float32),)),
    Case("mul", "float32,float32", lambda r: (np.ones((3,), np.float32),) * 2),
    Case("mul", "float32,float64", lambda r: (np.ones((3,), np.float32), np.ones(3))),
    Case("mul", "float32,python-float", lambda r: (np.ones((3,), np.float32), 2.0)),
    Case("power", "float32,python-int", lambda r: (np.ones((3,), np.float32), 2)),
    Case("add", "int64,python-float", lambda r: (np.arange(3), 0.5)),
    Case("sum", "float32", lambda r: (np.ones((3, 4), np.float32),),
         {"axis": (1,), "keepdims": False}),
    Case("matmul", "float32", lambda r: (np.ones((3, 4), np.float32),
                                         np.ones((4,), np.float32))),
    Case("greater", "float32,python-float", lambda r: (np.ones((3,), np.float32), 0.5)),
]


@pytest.mark.parametrize("case", [_param(c, "abstract") for c in CASES + DTYPE_CASES
                                  if REGISTRY[c.prim].abstract_eval is not None])
def test_abstract_eval_matches_impl(case: Case) -> None:
    prim = _prim(case)
    args = case.args()
    avals = prim.abstract_eval(*args, **case.params)
    outs = prim.impl(*args, **case.params)
    if not prim.multiple_results:  # one (shape, dtype) pair; otherwise a list of them
        avals, outs = [avals], [outs]
    assert len(avals) == len(outs)
    for (shape, dtype), out in zip(avals, outs):
        out = np.asarray(out)
        assert tuple(shape) == out.shape, f"abstract_eval shape {tuple(shape)}, impl {out.shape}"
        assert np.dtype(dtype) == out.dtype, f"abstract_eval dtype {dtype}, impl {out.dtype}"


# ---------------------------------------------------------------------------------------------
# nondifferentiable primitives: the value is NumPy's, every derivative through them is exactly 0

@pytest.mark.parametrize("case", [_param(c, "nondiff") for c in NONDIFF_CASES])
def test_nondiff_value_and_zero_derivatives(case: Case) -> None:
    prim = _prim(case)
    args = case.args()
    ref = np.asarray(NONDIFF_REFERENCE[case.prim](*args))
    out = np.asarray(prim.bind(*args, **case.params))
    assert out.dtype == ref.dtype
    np.testing.assert_array_equal(out, ref)

    which = _diff_indices(args, case)
    if not which:  # integer operands (bitwise operations): nothing to differentiate
        return
    xs = [args[i] for i in which]
    rng = np.random.default_rng(2)
    dirs = [rng.standard_normal(np.shape(x)) for x in xs]
    f = _bind_over(prim, args, case.params, which)

    # directly: the tangent is absent (boolean output) or exactly zero; cotangents exactly zero
    value, tangent = cr.jvp(f, tuple(xs), tuple(dirs))
    np.testing.assert_array_equal(np.asarray(value), ref)
    if tangent is not None:
        assert np.shape(tangent) == ref.shape
        assert not np.any(np.asarray(tangent)), "nonzero tangent through a nondiff primitive"
    value, pullback = cr.vjp(f, *xs)
    grads = pullback(rng.standard_normal(ref.shape))
    for g, x in zip(grads, xs):
        assert np.shape(g) == np.shape(x)
        assert not np.any(np.asarray(g)), "nonzero cotangent through a nondiff primitive"

    # inside a differentiable expression it is a constant: d(h) is exactly what the constant gives
    def h(*zs: Any) -> Any:
        c = f(*zs)
        if ref.dtype == bool:
            return cnp.where(c, zs[0], cnp.negative(zs[0]))
        return cnp.multiply(c, zs[0])

    if ref.dtype == bool:
        want_t = np.where(ref, dirs[0], -dirs[0])
    else:
        want_t = ref * dirs[0]
    _, t = cr.jvp(h, tuple(xs), tuple(dirs))
    np.testing.assert_array_equal(np.asarray(t), want_t)
    ct = rng.standard_normal(want_t.shape)
    grads = cr.vjp(h, *xs)[1](ct)
    g0 = np.where(ref, ct, -ct) if ref.dtype == bool else ref * ct
    extra = tuple(range(g0.ndim - np.ndim(xs[0])))
    g0 = g0.sum(axis=extra)
    g0 = g0.sum(axis=tuple(k for k, n in enumerate(np.shape(xs[0])) if n == 1), keepdims=True)
    np.testing.assert_allclose(grads[0], g0.reshape(np.shape(xs[0])), rtol=1e-12, atol=1e-12)
    for g in grads[1:]:
        assert not np.any(np.asarray(g))


# ---------------------------------------------------------------------------------------------
# 7: the checker rejects a rule that is 0.05% wrong (and accepts the exact one)

_counter = itertools.count()


@pytest.fixture
def fresh_primitives() -> Any:
    """Create throwaway primitives with unique names; unregister them afterwards so that the
    enrolment test never sees them."""
    made: list[str] = []

    def make(stem: str, impl: Callable[..., Any]) -> Primitive:
        name = f"test_{stem}_{next(_counter)}"
        made.append(name)
        return Primitive(name, impl, lambda x: (np.shape(x), np.result_type(x)))

    yield make
    for name in made:
        REGISTRY.pop(name, None)


def _sin_with(make: Callable[..., Primitive], jvp_factor: float, vjp_factor: float,
              cos: Callable[[Any], Any] = cnp.cos) -> Primitive:
    """sin, with derivative rules cos(x) * factor written with chainrule.numpy."""
    p = make("wrong_sin" if (jvp_factor, vjp_factor) != (1.0, 1.0) else "sin", np.sin)

    def _test_sin_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
        (x,), (x_dot,) = primals, tangents
        return p.bind(x), cnp.multiply(x_dot, cnp.multiply(cos(x), jvp_factor))

    def _test_sin_vjp(ct: Any, ans: Any, x: Any) -> Any:
        return cnp.multiply(ct, cnp.multiply(cos(x), vjp_factor))

    return def_rule(p, jvp=_test_sin_jvp, vjp=(_test_sin_vjp,), batch=elementwise_batcher(p))


WRONG = 1.0 + 5e-4  # 0.05% off


def _sin_args() -> list[np.ndarray]:
    return [np.random.default_rng(3).uniform(0.2, 1.2, size=(3, 4))]


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_checker_rejects_slightly_wrong_rule(fresh_primitives: Any, mode: str) -> None:
    wrong = _sin_with(fresh_primitives, WRONG, WRONG)
    for order in (1, 2):
        with pytest.raises(GradCheckError):
            check_grads(lambda x: wrong.bind(x), _sin_args(), order=order, modes=(mode,))
    exact = _sin_with(fresh_primitives, 1.0, 1.0)
    check_grads(lambda x: exact.bind(x), _sin_args(), order=2, modes=(mode,))


def test_checker_checks_each_mode_separately(fresh_primitives: Any) -> None:
    """An exact JVP with a wrong VJP passes forward mode and fails reverse mode, and the other
    way round: each mode is checked through its own rule."""
    bad_vjp = _sin_with(fresh_primitives, 1.0, WRONG)
    check_grads(lambda x: bad_vjp.bind(x), _sin_args(), modes=("fwd",))
    with pytest.raises(GradCheckError):
        check_grads(lambda x: bad_vjp.bind(x), _sin_args(), modes=("rev",))
    bad_jvp = _sin_with(fresh_primitives, WRONG, 1.0)
    check_grads(lambda x: bad_jvp.bind(x), _sin_args(), modes=("rev",))
    with pytest.raises(GradCheckError):
        check_grads(lambda x: bad_jvp.bind(x), _sin_args(), modes=("fwd",))


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_checker_rejects_wrong_second_derivative(fresh_primitives: Any, mode: str) -> None:
    """sin whose rule is exact but calls a cos whose own rule is 0.05% wrong: order 1 passes,
    order 2 (which differentiates the rule) fails."""
    cos_p = fresh_primitives("wrong_cos", np.cos)

    def _test_cos_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
        (x,), (x_dot,) = primals, tangents
        return cos_p.bind(x), cnp.multiply(x_dot, cnp.multiply(cnp.negative(cnp.sin(x)), WRONG))

    def _test_cos_vjp(ct: Any, ans: Any, x: Any) -> Any:
        return cnp.multiply(ct, cnp.multiply(cnp.negative(cnp.sin(x)), WRONG))

    def_rule(cos_p, jvp=_test_cos_jvp, vjp=(_test_cos_vjp,), batch=elementwise_batcher(cos_p))
    sin_p = _sin_with(fresh_primitives, 1.0, 1.0, cos=cos_p.bind)
    check_grads(lambda x: sin_p.bind(x), _sin_args(), order=1, modes=(mode,))
    with pytest.raises(GradCheckError):
        check_grads(lambda x: sin_p.bind(x), _sin_args(), order=2, modes=(mode,))


# ---------------------------------------------------------------------------------------------
# the conventions the rules document at points where finite differences cannot decide

def _b(name: str, **params: Any) -> Callable[..., Any]:
    prim = REGISTRY[name]

    def f(*args: Any) -> Any:
        return prim.bind(*args, **params)

    f.__name__ = name
    return f


_RED = {"axis": (0,), "keepdims": False}
CONVENTIONS: list[tuple[str, Callable[[], Any], Any, str | None]] = [
    ("abs-at-0", lambda: cr.grad(_b("abs"))(0.0), 0.0, None),
    ("maximum-tie-splits", lambda: cr.grad(_b("maximum"), (0, 1))(1.0, 1.0), (0.5, 0.5), None),
    ("minimum-tie-splits", lambda: cr.grad(_b("minimum"), (0, 1))(1.0, 1.0), (0.5, 0.5), None),
    ("minimum-picks-smaller", lambda: cr.grad(_b("minimum"), (0, 1))(0.0, 1.0), (1.0, 0.0),
     None),
    ("maximum-picks-larger", lambda: cr.grad(_b("maximum"), (0, 1))(0.0, 1.0), (0.0, 1.0), None),
    ("fmax-ignores-nan", lambda: cr.grad(_b("fmax"), (0, 1))(1.0, np.nan), (1.0, 0.0), None),
    ("fmin-ignores-nan", lambda: cr.grad(_b("fmin"), (0, 1))(np.nan, 1.0), (0.0, 1.0), None),
    ("max-reduction-ties-split",
     lambda: cr.grad(_b("max", **_RED))(np.array([1.0, 3.0, 3.0, 2.0])), [0, 0.5, 0.5, 0], None),
    ("prod-one-zero", lambda: cr.grad(_b("prod", **_RED))(np.array([0.0, 2.0, 3.0])),
     [6.0, 0.0, 0.0], None),
    ("prod-two-zeros-hessian", lambda: cr.hessian(_b("prod", **_RED))(np.array([0.0, 2.0, 0.0])),
     [[0, 0, 2], [0, 0, 0], [2, 0, 0]], None),
    ("cumprod-through-zero", lambda: cr.jacrev(_b("cumprod", axis=0))(np.array([2.0, 0.0, 3.0])),
     [[1, 0, 0], [0, 2, 0], [0, 6, 0]], None),
    ("power-x0-at-0-const", lambda: cr.grad(lambda x: _b("power")(x, 0.0))(0.0), 0.0, None),
    ("power-x0-at-0-array", lambda: cr.grad(lambda x: _b("power")(x, np.array(0.0)))(0.0), 0.0,
     None),
    ("power-x0-at-0-grad-of-grad",
     lambda: cr.grad(cr.grad(lambda x: _b("power")(x, np.array(0.0))))(0.0), 0.0,
     None),
    ("power-dy-at-base-0", lambda: cr.grad(lambda y: _b("power")(0.0, y))(2.0), 0.0, None),
    ("nan_to_num-zero-at-nonfinite",
     lambda: cr.grad(lambda x: cnp.sum(_b("nan_to_num", **NAN_TO_NUM_DEFAULTS)(x)))(
         np.array([np.nan, np.inf, -np.inf, 1.0])), [0.0, 0.0, 0.0, 1.0], None),
    ("select-untaken-branch-exact-zero",
     lambda: cr.jvp(lambda b: _b("select")(np.array([True, False]), np.ones(2), b),
                    (np.ones(2),), (np.array([np.inf, 1.0]),))[1], [0.0, 1.0], None),
    ("mod-derivatives", lambda: cr.grad(_b("mod"), (0, 1))(5.0, 3.0), (1.0, -1.0), None),
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("compute,want", [
    pytest.param(f, w, id=name,
                 marks=[pytest.mark.xfail(strict=True, reason=r)] if r else [])
    for name, f, w, r in CONVENTIONS])
def test_documented_convention(compute: Callable[[], Any], want: Any) -> None:
    got = compute()
    if isinstance(want, tuple):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(np.asarray(g), np.asarray(w, dtype=float))
    else:
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want, dtype=float))
