"""Rule-test cases (tests/test_rules.py) of the linear-algebra primitives added for
`chainrule.numpy.linalg` (eig, eigvals, eigvalsh, qr, lstsq) and `chainrule.scipy.linalg`
(solve_triangular, lu, lu_factor, lu_solve, expm, logm, sqrtm, solve_sylvester, solve_banded).

Inputs are drawn well conditioned and with well separated eigenvalues, so that finite
differences (steps of 1e-3) stay inside the region where the decompositions are smooth.
Eigenvectors of `eig` have an arbitrary phase each: their finite-difference checks go through
|v_ij|^2, which does not depend on it.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.linalg as sl

import chainrule.numpy as cnp
from rulecase import Args, Case, lbl, normal, retry

Draw = Callable[[np.random.Generator], Args]


def _well_conditioned(*shape: int) -> Draw:
    def make(rng: np.random.Generator) -> Args:
        return (normal(rng, shape) * 0.5 + 2.0 * np.eye(shape[-1]),)
    return make


def _std(*shapes: tuple[int, ...]) -> Draw:
    def make(rng: np.random.Generator) -> Args:
        return tuple(normal(rng, s) for s in shapes)
    return make


def _similar_to(d: Callable[[np.random.Generator], np.ndarray], *shape: int) -> Draw:
    """S D S^-1 for a well-conditioned random S: a general matrix with the spectrum of D."""

    def make(rng: np.random.Generator) -> Args:
        (s,) = _well_conditioned(*shape)(rng)
        return (np.linalg.solve(np.swapaxes(s, -1, -2),
                                np.swapaxes(s @ d(rng), -1, -2)).swapaxes(-1, -2),)
    return make


def _real_spectrum(*shape: int) -> Draw:
    """Eigenvalues real and at least 0.5 apart."""
    n = shape[-1]

    def d(rng: np.random.Generator) -> np.ndarray:
        w = np.cumsum(rng.uniform(0.5, 1.5, size=shape[:-1]), axis=-1) - n / 2
        return w[..., :, None] * np.eye(n)

    return _similar_to(d, *shape)


def _complex_pair(rng: np.random.Generator) -> np.ndarray:
    a, b = rng.uniform(-1, 1), rng.uniform(0.6, 1.2)
    return np.array([[a, b, 0.0], [-b, a, 0.0], [0.0, 0.0, rng.uniform(1.5, 2.5)]])


def _sym_separated(*shape: int) -> Draw:
    def draw(rng: np.random.Generator) -> Args:
        m = normal(rng, shape)
        return (m + np.swapaxes(m, -1, -2),)

    def ok(a: np.ndarray) -> bool:
        return bool(np.diff(np.linalg.eigvalsh(a), axis=-1).min() > 0.3)

    return retry(draw, ok)


def _gauge_free(outs: Any) -> Any:
    """(w, |V|^2): what does not depend on the phase chosen for each eigenvector."""
    w, v = outs
    return [w, cnp.real(v * cnp.conj(v))]


def _eig_cases() -> list[Case]:
    out = []
    for shape in ((3, 3), (2, 3, 3), (4, 4)):
        out.append(Case("eig", lbl(shape), _real_spectrum(*shape), post=_gauge_free))
        out.append(Case("eigvals", lbl(shape), _real_spectrum(*shape)))
    # a complex pair: the eigenvalues of a real matrix move in the complex plane
    out.append(Case("eig", "complex-pair", _similar_to(_complex_pair, 3, 3), post=_gauge_free))
    out.append(Case("eigvals", "complex-pair", _similar_to(_complex_pair, 3, 3)))
    for shape in ((3, 3), (2, 3, 3)):
        out.append(Case("eigvalsh", lbl(shape), _sym_separated(*shape)))
        out.append(Case("eigvalsh", f"{lbl(shape)}-U", _sym_separated(*shape), {"UPLO": "U"}))
    # a general (nonsymmetric) input: the triangle not read has an exact zero derivative
    out.append(Case("eigvalsh", "nonsymmetric", retry(
        _std((3, 3)), lambda a: bool(np.diff(np.linalg.eigvalsh(a)).min() > 0.3))))
    return out


def _qr_cases() -> list[Case]:
    return [Case("qr", lbl(s), _std(s)) for s in ((4, 3), (3, 3), (3, 4), (2, 4, 3), (2, 3, 5),
                                                   (5, 1), (1, 3))]


def _lstsq_cases() -> list[Case]:
    out = []
    for a, b in (((5, 3), (5, 2)), ((3, 5), (3, 2)), ((4, 4), (4, 1)), ((6, 2), (6, 3))):
        out.append(Case("lstsq", f"{lbl(a)}-{lbl(b)}", _std(a, b), {"rcond": None}))
    return out


def _with_rhs(a_draw: Draw, b_shape: tuple[int, ...]) -> Draw:
    def make(rng: np.random.Generator) -> Args:
        return a_draw(rng) + (normal(rng, b_shape),)
    return make


def _solve_triangular_cases() -> list[Case]:
    out = []
    for lower in (True, False):
        for trans in (0, 1, 2):
            for unit in (False, True):
                params = {"lower": lower, "trans": trans, "unit_diagonal": unit}
                name = f"{'L' if lower else 'U'}-trans{trans}{'-unit' if unit else ''}"
                out.append(Case("solve_triangular", name,
                                _with_rhs(_well_conditioned(3, 3), (3, 2)), params))
    out.append(Case("solve_triangular", "stack", _with_rhs(_well_conditioned(2, 3, 3), (2, 3, 2)),
                    {"lower": True, "trans": 0, "unit_diagonal": False}))
    out.append(Case("solve_triangular", "stack-one-rhs",
                    _with_rhs(_well_conditioned(2, 3, 3), (3, 1)),
                    {"lower": False, "trans": 1, "unit_diagonal": False}))
    return out


def _stable_pivots(*shape: int) -> Draw:
    """Matrices whose partial pivoting does not change under perturbations much larger than the
    finite-difference steps (a change of pivot is a jump of L and U)."""

    def ok(a: np.ndarray) -> bool:
        p = sl.lu(a)[0]
        rng = np.random.default_rng(0)
        return all(np.array_equal(sl.lu(a + 0.05 * rng.standard_normal(a.shape))[0], p)
                   for _ in range(8))

    return retry(_std(shape), ok)


def _lu_cases() -> list[Case]:
    out = []
    for shape in ((3, 3), (4, 3), (3, 4), (2, 3, 3), (2, 4, 3)):
        out.append(Case("lu", lbl(shape), _stable_pivots(*shape)))
        out.append(Case("lu_factor", lbl(shape), _stable_pivots(*shape)))

    def factored(shape: tuple[int, ...], b_shape: tuple[int, ...]) -> Draw:
        def make(rng: np.random.Generator) -> Args:
            (a,) = _well_conditioned(*shape)(rng)
            lu, piv = sl.lu_factor(a)
            return lu, piv, normal(rng, b_shape)
        return make

    for trans in (0, 1, 2):
        out.append(Case("lu_solve", f"3x3-trans{trans}", factored((3, 3), (3, 2)),
                        {"trans": trans}))
    out.append(Case("lu_solve", "stack", factored((2, 3, 3), (2, 3, 2)), {"trans": 0}))
    out.append(Case("lu_solve", "stack-trans1", factored((2, 3, 3), (3, 1)), {"trans": 1}))
    return out


def _matfun_cases() -> list[Case]:
    out = []
    for shape in ((3, 3), (2, 3, 3), (1, 1)):
        out.append(Case("expm", lbl(shape), lambda r, s=shape: (normal(r, s) * 0.7,)))
        out.append(Case("logm", lbl(shape), _well_conditioned(*shape)))
        out.append(Case("sqrtm", lbl(shape), _well_conditioned(*shape)))
    return out


def _sylvester_cases() -> list[Case]:
    def make(m: int, n: int, batch: tuple[int, ...] = ()) -> Draw:
        def draw(rng: np.random.Generator) -> Args:
            (a,) = _well_conditioned(*batch, m, m)(rng)
            (b,) = _well_conditioned(*batch, n, n)(rng)
            return a, b, normal(rng, batch + (m, n))
        return draw

    return [Case("solve_sylvester", "3x3-2x2", make(3, 2)),
            Case("solve_sylvester", "2x2-2x2", make(2, 2)),
            Case("solve_sylvester", "stack", make(3, 2, (2,)))]


def _banded_cases() -> list[Case]:
    def make(nl: int, nu: int, n: int, k: int, batch: tuple[int, ...] = ()) -> Draw:
        def draw(rng: np.random.Generator) -> Args:
            ab = normal(rng, batch + (nl + nu + 1, n)) * 0.5
            ab[..., nu, :] += 3.0  # a dominant diagonal
            return ab, normal(rng, batch + (n, k))
        return draw

    out = []
    for nl, nu in ((1, 2), (1, 1), (0, 1), (2, 0), (0, 0)):
        out.append(Case("solve_banded", f"l{nl}-u{nu}", make(nl, nu, 5, 2),
                        {"l_and_u": (nl, nu)}))
    out.append(Case("solve_banded", "stack", make(1, 1, 4, 1, (2,)), {"l_and_u": (1, 1)}))
    return out


DIFF_CASES: list[Case] = (_eig_cases() + _qr_cases() + _lstsq_cases() + _solve_triangular_cases()
                          + _lu_cases() + _matfun_cases() + _sylvester_cases() + _banded_cases())
