"""`chainrule.numpy.linalg` (eig, eigvals, eigvalsh, qr, matrix_power, lstsq, multi_dot,
tensorsolve, tensorinv, matrix_norm, vector_norm) and `chainrule.scipy.linalg`.

The primitives themselves are in the rule table (tests/cases_linalg_more.py); here: the values of
the traced functions against NumPy's and SciPy's, their derivatives against finite differences
(order 2 where the function is smooth enough), complex matrices against central differences
along the real and imaginary parts separately (the README's convention), the refusals, and a few
programs run by every method."""
from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.linalg as sl

import chainrule as cr
import chainrule.numpy as cnp
import chainrule.scipy.linalg as csl
from chainrule.graph import spec
from chainrule.testing import check_grads


def _traced(f: Callable[..., Any], *args: Any) -> Any:
    """The value of `f` computed on traced arguments (the path that differentiates)."""
    return cr.jvp(f, args, tuple(np.zeros_like(a) for a in args))[0]


def _close(got: Any, want: Any, rtol: float = 1e-10, atol: float = 1e-12) -> None:
    if isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(want)
        for g, w in zip(got, want):
            _close(g, w, rtol, atol)
        return
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def _wc(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Well conditioned: 2 I + noise."""
    return rng.standard_normal(shape) * 0.5 + 2.0 * np.eye(shape[-1])


def _spd(rng: np.random.Generator, n: int) -> np.ndarray:
    m = _wc(rng, n, n)
    return m @ m.T


def _cplx(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def fd_grad(f: Callable[[np.ndarray], Any], z: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """dL/dx + i dL/dy by central differences along each real and imaginary part."""
    z = np.asarray(z, dtype=complex)
    g = np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        for unit in (1.0, 1j):
            zp, zm = z.copy(), z.copy()
            zp[idx] += h * unit
            zm[idx] -= h * unit
            g[idx] += (float(np.real(f(zp))) - float(np.real(f(zm)))) / (2 * h) * unit
    return g


# ---------------------------------------------------------------------------------------------
# chainrule.numpy.linalg: values on traced inputs against NumPy

def test_eig_values_and_gauge(rng):
    a = rng.standard_normal((2, 4, 4))
    w, v = _traced(lambda x: tuple(cnp.linalg.eig(x)), a)
    assert w.dtype == v.dtype == np.complex128
    np.testing.assert_allclose(a.astype(complex) @ v, v * w[..., None, :], atol=1e-12)
    ref = np.linalg.eigvals(a)
    for k in range(2):  # the same eigenvalues (as sets)
        _close(np.sort_complex(w[k]), np.sort_complex(ref[k]))
        _close(np.sort_complex(_traced(cnp.linalg.eigvals, a)[k]), np.sort_complex(ref[k]))
    # the tangent keeps each eigenvector's length: Re(v_i^H dv_i) = 0
    da = rng.standard_normal(a.shape)
    _, (dw, dv) = cr.jvp(lambda x: tuple(cnp.linalg.eig(x)), (a,), (da,))
    np.testing.assert_allclose(np.real(np.sum(np.conj(v) * dv, axis=-2)), 0, atol=1e-12)
    # plain arrays: NumPy's own result (real when the eigenvalues are)
    s = a + np.swapaxes(a, -1, -2)
    assert cnp.linalg.eig(s).eigenvalues.dtype == np.float64
    # np.linalg.eig on a traced value dispatches here
    w2 = _traced(lambda x: np.linalg.eig(x).eigenvalues, a)
    _close(w2, w)


def test_eigvalsh_and_eigvals_are_finite_at_repeated_eigenvalues():
    a = np.diag([1.0, 1.0, 2.0])
    g = cr.grad(lambda x: cnp.sum(cnp.linalg.eigvalsh(x) * np.array([1.0, 2.0, 3.0])))(a)
    assert np.all(np.isfinite(g))
    _close(np.trace(g), 6.0)
    g = cr.grad(lambda x: cnp.sum(cnp.real(cnp.linalg.eigvals(x))))(a)  # d tr(A) = I
    _close(g, np.eye(3))


@pytest.mark.parametrize("mode", ["reduced", "complete", "r"])
@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (3, 5), (2, 4, 3)])
def test_qr_values_and_gradients(rng, mode, shape):
    a = rng.standard_normal(shape)
    if mode == "complete" and shape[-2] > shape[-1]:
        with pytest.raises(NotImplementedError, match="mode='reduced'"):
            _traced(lambda x: cnp.linalg.qr(x, mode), a)
        return
    got = _traced(lambda x: cnp.linalg.qr(x, mode), a)
    _close(got if mode == "r" else tuple(got), np.linalg.qr(a, mode))
    w = rng.standard_normal(np.shape(got[0] if mode != "r" else got))

    def loss(x):
        out = cnp.linalg.qr(x, mode)
        return cnp.sum(out * out[..., :1, :] if mode == "r" else out[0] * w) + cnp.sum(out[-1] ** 3)

    check_grads(loss, [a], order=2)


def test_qr_raw_refused(rng):
    with pytest.raises(NotImplementedError, match="raw"):
        _traced(lambda x: cnp.linalg.qr(x, "raw"), rng.standard_normal((3, 3)))


@pytest.mark.parametrize("shape,b_shape", [((6, 3), (6,)), ((6, 3), (6, 2)), ((3, 5), (3,)),
                                           ((4, 4), (4, 2))])
def test_lstsq_outputs_and_gradients(rng, shape, b_shape):
    a, b = rng.standard_normal(shape), rng.standard_normal(b_shape)
    x, res, rank, s = _traced(lambda a, b: cnp.linalg.lstsq(a, b), a, b)
    want = np.linalg.lstsq(a, b)
    _close((x, res, s), (want[0], want[1], want[3]))
    assert rank == want[2]
    check_grads(lambda a, b: cnp.linalg.lstsq(a, b)[0], [a, b], order=2)
    if shape[0] > shape[1]:
        check_grads(lambda a, b: cnp.linalg.lstsq(a, b)[1], [a, b], order=2)
        # the normal equations: x = (A^T A)^-1 A^T b, differentiated
        g = cr.grad(lambda a: cnp.sum(cnp.sin(cnp.linalg.lstsq(a, b)[0])))(a)
        ref = cr.grad(lambda a: cnp.sum(cnp.sin(cnp.linalg.solve(a.T @ a, a.T @ b))))(a)
        _close(g, ref, rtol=1e-9)


def test_lstsq_rank_deficient_and_abstract(rng):
    a = rng.standard_normal((5, 2)) @ rng.standard_normal((2, 3))  # rank 2
    b = rng.standard_normal(5)
    x, res, rank, s = _traced(lambda a, b: cnp.linalg.lstsq(a, b), a, b)
    want = np.linalg.lstsq(a, b)
    assert rank == want[2] == 2 and np.shape(res) == want[1].shape == (0,)
    _close(x, want[0], rtol=1e-8)
    # under the graph engine no value is known: x is exact, rank is that of a full-rank matrix
    g = cr.graph.trace(lambda a, b: cnp.linalg.lstsq(a, b)[0], spec((6, 3)), spec((6,)))
    a2, b2 = rng.standard_normal((6, 3)), rng.standard_normal(6)
    _close(g.run_flat(a2, b2)[0], np.linalg.lstsq(a2, b2)[0])


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, -1, -3])
def test_matrix_power(rng, n):
    a = _wc(rng, 2, 3, 3)
    _close(_traced(lambda x: cnp.linalg.matrix_power(x, n), a), np.linalg.matrix_power(a, n),
           rtol=1e-9)
    if n:
        check_grads(lambda x: cnp.linalg.matrix_power(x, n), [a], order=2)


@pytest.mark.parametrize("shapes", [[(3, 4), (4, 2)], [(5,), (5, 3), (3, 2), (2, 6)],
                                    [(2, 7), (7, 3), (3, 4), (4,)], [(3,), (3, 4), (4,)]])
def test_multi_dot(rng, shapes):
    arrs = [rng.standard_normal(s) for s in shapes]
    f = lambda *xs: cnp.linalg.multi_dot(list(xs))  # noqa: E731
    _close(_traced(f, *arrs), np.linalg.multi_dot(arrs))
    check_grads(f, arrs, order=2)


def test_tensorsolve_and_tensorinv(rng):
    t = _wc(rng, 6, 6)
    a, b = t.reshape(2, 3, 2, 3), rng.standard_normal((2, 3))
    _close(_traced(cnp.linalg.tensorsolve, a, b), np.linalg.tensorsolve(a, b))
    check_grads(cnp.linalg.tensorsolve, [a, b], order=2)
    a2 = np.moveaxis(a, 0, 3)
    f = lambda a, b: cnp.linalg.tensorsolve(a, b, axes=(3,))  # noqa: E731
    _close(_traced(f, a2, b), np.linalg.tensorsolve(a2, b, axes=(3,)))
    for ind, x in ((1, t.reshape(6, 2, 3)), (2, t.reshape(2, 3, 6)), (2, t.reshape(2, 3, 3, 2))):
        g = lambda x, ind=ind: cnp.linalg.tensorinv(x, ind)  # noqa: E731
        _close(_traced(g, x), np.linalg.tensorinv(x, ind))
        check_grads(g, [x], order=2)


@pytest.mark.parametrize("ord", ["fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf])
@pytest.mark.parametrize("keepdims", [False, True])
def test_matrix_norm(rng, ord, keepdims):
    x = rng.standard_normal((2, 3, 4))
    f = lambda x: cnp.linalg.matrix_norm(x, ord=ord, keepdims=keepdims)  # noqa: E731
    _close(_traced(f, x), np.linalg.matrix_norm(x, ord=ord, keepdims=keepdims))
    check_grads(f, [x], order=2 if ord in ("fro", "nuc", 2, -2) else 1)


@pytest.mark.parametrize("ord", [2, 1, 3, 0.5, np.inf, -np.inf, 0])
@pytest.mark.parametrize("axis", [None, 1, -1, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_vector_norm(rng, ord, axis, keepdims):
    x = rng.uniform(0.5, 2.0, (2, 3, 4)) * rng.choice([-1.0, 1.0], (2, 3, 4))
    f = lambda x: cnp.linalg.vector_norm(x, axis=axis, keepdims=keepdims, ord=ord)  # noqa: E731
    _close(_traced(f, x), np.linalg.vector_norm(x, axis=axis, keepdims=keepdims, ord=ord))
    if ord != 0:
        check_grads(f, [x], order=1 if ord in (np.inf, -np.inf) else 2)


def test_norms_of_complex_vectors(rng):
    z = _cplx(rng, 5)
    for f in (lambda z: cnp.linalg.vector_norm(z), lambda z: cnp.linalg.vector_norm(z, ord=3),
              lambda z: cnp.linalg.matrix_norm(cnp.reshape(z[:4], (2, 2)), ord="nuc")):
        np.testing.assert_allclose(cr.grad(f)(z), fd_grad(f, z), rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------------------------------
# complex matrices: real losses against central differences along real and imaginary parts

def _phase_free_eig(a):
    w, v = cnp.linalg.eig(a)
    # |v_ij|^2 and the eigenvalues: nothing here depends on the phase of an eigenvector
    return cnp.sum(cnp.abs(v) ** 2 * np.arange(1.0, 4.0)) + cnp.sum(cnp.real(w) * cnp.imag(w))


COMPLEX_LOSSES: dict[str, tuple[Callable[[Any], Any], Callable[[np.random.Generator], Any]]] = {
    "eig": (_phase_free_eig, lambda r: _cplx(r, 3, 3)),
    "eig-projector": (lambda a: cnp.sum(cnp.real(cnp.linalg.eig(a)[1][:, 0:1]
                                                 * cnp.conj(cnp.linalg.eig(a)[1][:, 0:1]).T
                                                 * np.arange(9.0).reshape(3, 3))),
                      lambda r: _cplx(r, 3, 3)),
    "eigvals": (lambda a: cnp.sum(cnp.abs(cnp.linalg.eigvals(a)) ** 3),
                lambda r: _cplx(r, 3, 3)),
    "eigvalsh": (lambda a: cnp.sum(cnp.linalg.eigvalsh(a) ** 3), lambda r: _cplx(r, 3, 3)),
    "qr": (lambda a: cnp.sum(cnp.abs(cnp.linalg.qr(a)[0] - 0.3) ** 2)
           + cnp.sum(cnp.real(cnp.linalg.qr(a)[1] * (1 + 2j))), lambda r: _cplx(r, 4, 3)),
    "qr-wide": (lambda a: cnp.sum(cnp.abs(cnp.linalg.qr(a)[1] + 0.5) ** 2),
                lambda r: _cplx(r, 2, 3)),
    "lstsq": (lambda a: cnp.sum(cnp.abs(cnp.linalg.lstsq(a, np.arange(5.0) + 1j)[0]) ** 2),
              lambda r: _cplx(r, 5, 3)),
    "lstsq-wide": (lambda a: cnp.sum(cnp.abs(cnp.linalg.lstsq(a, np.arange(2.0) - 1j)[0]) ** 2),
                   lambda r: _cplx(r, 2, 4)),
    "matrix_power": (lambda a: cnp.abs(cnp.sum(cnp.linalg.matrix_power(a, -2))),
                     lambda r: _cplx(r, 3, 3) + 3 * np.eye(3)),
    "solve_triangular-T": (lambda a: cnp.sum(cnp.abs(csl.solve_triangular(
        a, np.arange(3.0) + 1j, trans="T", lower=True)) ** 2), lambda r: _cplx(r, 3, 3) * 0.3
        + 2 * np.eye(3)),
    "solve_triangular-C": (lambda a: cnp.sum(cnp.abs(csl.solve_triangular(
        a, np.arange(3.0) + 1j, trans=2)) ** 2), lambda r: _cplx(r, 3, 3) * 0.3 + 2 * np.eye(3)),
    "lu": (lambda a: cnp.sum(cnp.abs(csl.lu(a)[1] * 2.0 - csl.lu(a)[2]) ** 2),
           lambda r: _cplx(r, 3, 3) + np.diag([6.0, 3.0, 1.0])),
    "lu_solve-T": (lambda a: cnp.sum(cnp.abs(csl.lu_solve(csl.lu_factor(a), np.ones(3) + 1j,
                                                          trans=1)) ** 2),
                   lambda r: _cplx(r, 3, 3) * 0.3 + 2 * np.eye(3)),
    "lu_solve-C": (lambda a: cnp.sum(cnp.abs(csl.lu_solve(csl.lu_factor(a), np.ones(3) + 1j,
                                                          trans=2)) ** 2),
                   lambda r: _cplx(r, 3, 3) * 0.3 + 2 * np.eye(3)),
    "cho": (lambda a: cnp.sum(cnp.abs(csl.cho_solve(csl.cho_factor(a, lower=True),
                                                    np.arange(3.0) * 1j + 1)) ** 2),
            lambda r: _cplx(r, 3, 3) * 0.3 + 3 * np.eye(3)),
    "expm": (lambda a: cnp.sum(cnp.abs(csl.expm(a)) ** 2), lambda r: _cplx(r, 3, 3) * 0.5),
    "logm": (lambda a: cnp.sum(cnp.abs(csl.logm(a) + 1j) ** 2),
             lambda r: _cplx(r, 3, 3) * 0.3 + 2 * np.eye(3)),
    "sqrtm": (lambda a: cnp.sum(cnp.abs(csl.sqrtm(a) - 1) ** 2),
              lambda r: _cplx(r, 3, 3) * 0.3 + 2 * np.eye(3)),
    "solve_sylvester": (lambda a: cnp.sum(cnp.abs(csl.solve_sylvester(
        a, a[:2, :2] * 1j + 3, a[:, :2])) ** 2), lambda r: _cplx(r, 3, 3) * 0.3 + 2 * np.eye(3)),
    "solve_banded": (lambda a: cnp.sum(cnp.abs(csl.solve_banded((1, 1), a, np.ones(4) * 1j))
                                       ** 2), lambda r: _cplx(r, 3, 4) * 0.3
                     + np.array([[0.0], [3.0], [0.0]])),
}


@pytest.mark.parametrize("name", sorted(COMPLEX_LOSSES))
def test_complex_matrices_against_finite_differences(rng, name):
    f, draw = COMPLEX_LOSSES[name]
    z = draw(rng)
    np.testing.assert_allclose(cr.grad(f)(z), fd_grad(f, z), rtol=1e-5, atol=1e-6)


def test_complex_second_order(rng):
    z = _cplx(rng, 3, 3) * 0.5
    f = COMPLEX_LOSSES["expm"][0]
    d = _cplx(rng, 3, 3)
    hv = cr.hvp(f, (z,), (d,))
    fd = (cr.grad(f)(z + 1e-6 * d) - cr.grad(f)(z - 1e-6 * d)) / 2e-6
    np.testing.assert_allclose(hv, fd, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# chainrule.scipy.linalg: values on traced inputs against SciPy, gradients against differences

@pytest.mark.parametrize("lower", [False, True])
@pytest.mark.parametrize("b_shape", [(3,), (3, 2)])
def test_cho_factor_and_cho_solve(rng, lower, b_shape):
    a, b = _spd(rng, 3), rng.standard_normal(b_shape)
    c = _traced(lambda a: csl.cho_factor(a, lower=lower)[0], a)
    _close(c, sl.cho_factor(a, lower=lower)[0])  # SciPy keeps a's entries in the other triangle
    f = lambda a, b: csl.cho_solve(csl.cho_factor(a, lower=lower), b)  # noqa: E731
    _close(_traced(f, a, b), sl.cho_solve(sl.cho_factor(a, lower=lower), b))
    check_grads(f, [a, b], order=2)
    # through the factor as stored: only its triangle is read
    c0 = sl.cho_factor(a, lower=lower)[0]
    g = cr.grad(lambda c: cnp.sum(csl.cho_solve((c, lower), b) ** 2))(c0)
    other = np.triu(np.ones((3, 3)), 1) if lower else np.tril(np.ones((3, 3)), -1)
    assert np.all(g[other.astype(bool)] == 0.0)
    check_grads(lambda c: csl.cho_solve((c, lower), b), [c0], order=2)
    # differentiating through the factorisation gives solve's derivative (symmetric input,
    # symmetric perturbation)
    sym = lambda m: (m + m.T) / 2  # noqa: E731
    g1 = cr.grad(lambda a: cnp.sum(cnp.sin(f(sym(a), b))))(a)
    g2 = cr.grad(lambda a: cnp.sum(cnp.sin(cnp.linalg.solve(sym(a), b))))(a)
    _close(g1, g2, rtol=1e-9)


@pytest.mark.parametrize("shape", [(3, 3), (4, 3), (3, 5), (2, 3, 3)])
def test_lu_family(rng, shape):
    a = rng.standard_normal(shape) + np.eye(*shape[-2:]) * 3
    _close(tuple(_traced(lambda x: tuple(csl.lu(x)), a)), tuple(sl.lu(a)))
    _close(tuple(_traced(lambda x: tuple(csl.lu(x, permute_l=True)), a)),
           tuple(sl.lu(a, permute_l=True)))
    packed, piv = _traced(lambda x: tuple(csl.lu_factor(x)), a)
    ref_lu, ref_piv = sl.lu_factor(a)
    _close(packed, ref_lu)
    assert np.array_equal(piv, ref_piv) and piv.dtype == ref_piv.dtype
    check_grads(lambda x: list(csl.lu(x)[1:]), [a], order=2)
    check_grads(lambda x: csl.lu_factor(x)[0], [a], order=2)
    if len(shape) == 2:  # p_indices, read from the value (a = l[p] u)
        p, lo, up = _traced(lambda x: tuple(csl.lu(x, p_indices=True)), a)
        assert np.array_equal(p, sl.lu(a, p_indices=True)[0])
        _close(lo[p] @ up, a)


@pytest.mark.parametrize("trans", [0, 1, 2])
@pytest.mark.parametrize("b_shape", [(3,), (3, 2)])
def test_lu_solve_through_lu_factor_is_solve(rng, trans, b_shape):
    a, b = _wc(rng, 3, 3), rng.standard_normal(b_shape)
    f = lambda a, b: csl.lu_solve(csl.lu_factor(a), b, trans=trans)  # noqa: E731
    _close(_traced(f, a, b), sl.lu_solve(sl.lu_factor(a), b, trans=trans))
    check_grads(f, [a, b], order=2)
    op = (lambda m: m) if trans == 0 else (lambda m: m.T)
    g1 = cr.grad(lambda a: cnp.sum(cnp.sin(f(a, b))))(a)
    g2 = cr.grad(lambda a: cnp.sum(cnp.sin(cnp.linalg.solve(op(a), b))))(a)
    _close(g1, g2, rtol=1e-9)
    # a factor from SciPy itself, differentiated in its entries as stored
    lu, piv = sl.lu_factor(a)
    check_grads(lambda lu, b: csl.lu_solve((lu, piv), b, trans=trans), [lu, b], order=2)


ASSUME = [None, "gen", "sym", "her", "pos", "diagonal", "tridiagonal", "banded",
          "upper triangular", "lower triangular"]


@pytest.mark.parametrize("assume_a", ASSUME)
@pytest.mark.parametrize("lower", [False, True])
def test_solve_reads_what_scipy_reads(rng, assume_a, lower):
    a = _spd(rng, 4) + 0.2 * rng.standard_normal((4, 4))  # not symmetric: the triangle matters
    if assume_a == "pos":  # SciPy needs the triangle it reads to be positive definite
        a = _spd(rng, 4) + 0.2 * (np.triu if lower else np.tril)(rng.standard_normal((4, 4)),
                                                                   1 if lower else -1)
    b = rng.standard_normal((4, 2))
    f = lambda a, b: csl.solve(a, b, lower=lower, assume_a=assume_a)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = sl.solve(a, b, lower=lower, assume_a=assume_a)
    _close(_traced(f, a, b), want, rtol=1e-9)
    check_grads(f, [a, b], order=2)
    if assume_a in (None, "gen", "sym", "her", "pos", "upper triangular", "lower triangular"):
        g = lambda a: csl.inv(a, assume_a=assume_a, lower=lower)  # noqa: E731
        _close(_traced(g, a), sl.inv(a, assume_a=assume_a, lower=lower), rtol=1e-9)
        check_grads(g, [a], order=2)


def test_solve_options(rng):
    a, b = _wc(rng, 2, 3, 3), rng.standard_normal(3)
    _close(_traced(csl.solve, a, b), sl.solve(a, b))  # a 1-D b against a stack
    f = lambda a, b: csl.solve(a[0], b, transposed=True)  # noqa: E731
    _close(_traced(f, a, b), sl.solve(a[0], b, transposed=True))
    _close(_traced(csl.det, a), sl.det(a))
    _close(_traced(csl.inv, a), sl.inv(a))
    with pytest.raises(ValueError, match="not a recognized"):
        _traced(lambda a: csl.solve(a, b[:, None], assume_a="nonsense"), a[0])
    with pytest.raises(NotImplementedError, match="complex"):
        _traced(lambda a: csl.solve(a, b, transposed=True), a[0] + 1j)


@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("trans", [0, 1, 2, "N", "T", "C"])
@pytest.mark.parametrize("unit_diagonal", [False, True])
def test_solve_triangular(rng, lower, trans, unit_diagonal):
    a, b = _wc(rng, 3, 3), rng.standard_normal(3)
    f = lambda a, b: csl.solve_triangular(a, b, trans=trans, lower=lower,  # noqa: E731
                                          unit_diagonal=unit_diagonal)
    _close(_traced(f, a, b), sl.solve_triangular(a, b, trans=trans, lower=lower,
                                                 unit_diagonal=unit_diagonal))
    check_grads(f, [a, b], order=2)
    g = cr.grad(lambda a: cnp.sum(f(a, b) ** 2))(a)
    read = np.tri(3, k=-1 if unit_diagonal else 0) if lower else \
        np.triu(np.ones((3, 3)), 1 if unit_diagonal else 0)
    assert np.all(g[read == 0] == 0.0)


@pytest.mark.parametrize("mode", ["full", "economic", "r"])
@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (3, 4)])
def test_scipy_qr(rng, mode, shape):
    a = rng.standard_normal(shape)
    f = lambda x: csl.qr(x, mode=mode)  # noqa: E731
    if mode == "full" and shape[0] > shape[1]:
        with pytest.raises(NotImplementedError, match="economic"):
            _traced(f, a)
        return
    _close(tuple(_traced(lambda x: tuple(f(x)), a)), tuple(sl.qr(a, mode=mode)))
    check_grads(lambda x: list(f(x)), [a], order=2)


@pytest.mark.parametrize("kind", [None, 1, 2, 3])
@pytest.mark.parametrize("lower", [True, False])
def test_scipy_eigh(rng, kind, lower):
    a = _spd(rng, 3) + rng.standard_normal((3, 3)) * 0.1  # read from one triangle
    bm = None if kind is None else _spd(rng, 3)
    kw = {"lower": lower, "type": kind or 1}
    w, v = _traced(lambda a, *b: tuple(csl.eigh(a, *b, **kw)), a, *([] if bm is None else [bm]))
    ref_w, ref_v = sl.eigh(a, bm, **kw)
    _close(w, ref_w, rtol=1e-9)
    _close(np.abs(v), np.abs(ref_v), rtol=1e-8, atol=1e-10)  # eigenvectors up to sign
    args = [a] + ([] if bm is None else [bm])
    check_grads(lambda *x: csl.eigh(*x, eigvals_only=True, **kw), args, order=2)
    check_grads(lambda *x: [v * v for v in csl.eigh(*x, **kw)], args, order=2)
    w2 = _traced(lambda a: csl.eigh(a, lower=lower, subset_by_index=[1, 2],
                                    eigvals_only=True), a)
    _close(w2, sl.eigh(a, lower=lower, subset_by_index=[1, 2], eigvals_only=True))


def test_scipy_svd_det_inv(rng):
    a = rng.standard_normal((4, 3))
    u, s, vh = _traced(lambda x: tuple(csl.svd(x, full_matrices=False)), a)
    ru, rs, rvh = sl.svd(a, full_matrices=False)
    _close(s, rs)
    _close(np.abs(u), np.abs(ru))
    _close(_traced(lambda x: csl.svd(x, compute_uv=False), a), rs)
    with pytest.raises(NotImplementedError, match="full_matrices"):
        _traced(lambda x: csl.svd(x), a)
    check_grads(lambda x: csl.svd(x, compute_uv=False), [a], order=2)
    m = _wc(rng, 3, 3)
    check_grads(csl.det, [m], order=2)
    check_grads(csl.inv, [m], order=2)


@pytest.mark.parametrize("name", ["expm", "logm", "sqrtm"])
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4)])
def test_matrix_functions(rng, name, shape):
    f, ref = getattr(csl, name), getattr(sl, name)
    a = rng.standard_normal(shape) * 0.6 if name == "expm" else _wc(rng, *shape)
    _close(_traced(f, a), ref(a), rtol=1e-9, atol=1e-11)
    check_grads(f, [a], order=2)


def test_expm_frechet_matches_scipy(rng):
    a, e = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    _, t = cr.jvp(csl.expm, (a,), (e,))
    _close(t, sl.expm_frechet(a, e, compute_expm=False), rtol=1e-9)
    # the inverse functions undo each other, and so do their derivatives
    s = _spd(rng, 4)
    _close(cr.jacfwd(lambda x: csl.expm(csl.logm(x)))(s), np.eye(16).reshape(4, 4, 4, 4),
           atol=1e-8)
    _close(cr.jacrev(lambda x: csl.sqrtm(x) @ csl.sqrtm(x))(s), np.eye(16).reshape(4, 4, 4, 4),
           atol=1e-9)


def test_logm_sqrtm_of_a_real_matrix_with_a_complex_result(rng):
    a = np.diag([-1.0, 2.0, 3.0])
    for f in (csl.logm, csl.sqrtm):
        with pytest.raises(ValueError, match="astype\\(complex\\)"):
            _traced(f, a)
        _close(_traced(f, a.astype(complex)), getattr(sl, f.__name__)(a.astype(complex)))


def test_solve_sylvester(rng):
    a, b, q = _wc(rng, 3, 3), _wc(rng, 2, 2), rng.standard_normal((3, 2))
    _close(_traced(csl.solve_sylvester, a, b, q), sl.solve_sylvester(a, b, q))
    check_grads(csl.solve_sylvester, [a, b, q], order=2)


@pytest.mark.parametrize("l_and_u", [(1, 1), (2, 1), (0, 2), (0, 0)])
@pytest.mark.parametrize("b_shape", [(5,), (5, 2)])
def test_solve_banded(rng, l_and_u, b_shape):
    ab = rng.standard_normal((sum(l_and_u) + 1, 5)) * 0.5
    ab[l_and_u[1]] += 3.0
    b = rng.standard_normal(b_shape)
    f = lambda ab, b: csl.solve_banded(l_and_u, ab, b)  # noqa: E731
    _close(_traced(f, ab, b), sl.solve_banded(l_and_u, ab, b))
    check_grads(f, [ab, b], order=2)
    # the same as the dense solve, and the unused corners of ab get no derivative
    dense = np.zeros((5, 5))
    for i in range(5):
        for j in range(5):
            if -l_and_u[0] <= j - i <= l_and_u[1]:
                dense[i, j] = ab[l_and_u[1] + i - j, j]
    g = cr.grad(lambda ab: cnp.sum(cnp.sin(f(ab, b))))(ab)
    gd = cr.grad(lambda m: cnp.sum(cnp.sin(cnp.linalg.solve(m, b))))(dense)
    for i in range(5):
        for j in range(5):
            if -l_and_u[0] <= j - i <= l_and_u[1]:
                assert g[l_and_u[1] + i - j, j] == pytest.approx(gd[i, j], rel=1e-9, abs=1e-12)
    corners = np.ones_like(ab, dtype=bool)
    for i in range(5):
        for j in range(5):
            if -l_and_u[0] <= j - i <= l_and_u[1]:
                corners[l_and_u[1] + i - j, j] = False
    assert np.all(g[corners] == 0.0)


def test_block_diag(rng):
    xs = [rng.standard_normal((2, 2)), rng.standard_normal(3), np.float64(2.5),
          rng.standard_normal((1, 2)), rng.standard_normal((3, 1))]
    _close(_traced(lambda *x: csl.block_diag(*x), *xs), sl.block_diag(*xs))
    arrays = [x for x in xs if np.ndim(x)]
    check_grads(lambda *x: csl.block_diag(*x), arrays, order=2)
    mixed = _traced(lambda x: csl.block_diag(x, np.ones((1, 1), np.complex64)), xs[0])
    assert mixed.dtype == sl.block_diag(xs[0], np.ones((1, 1), np.complex64)).dtype


def test_refusals_name_the_way_out(rng):
    a = rng.standard_normal((3, 3))
    with pytest.raises(NotImplementedError, match="schur"):
        _traced(csl.schur, a)
    assert len(csl.schur(a)) == 2  # plain arrays: SciPy's
    with pytest.raises(NotImplementedError, match="pivoting=False"):
        _traced(lambda x: csl.qr(x, pivoting=True), a)
    with pytest.raises(NotImplementedError, match="raw"):
        _traced(lambda x: csl.qr(x, mode="raw"), a)
    with pytest.raises(NotImplementedError, match="subset_by_index"):
        _traced(lambda x: csl.eigh(x, subset_by_value=(0, 1)), a + a.T)
    with pytest.raises(TypeError, match="out="):
        _traced(lambda x: cnp.linalg.multi_dot([x, x], out=np.empty((3, 3))), a)
    with pytest.raises(ValueError, match="rows"):
        _traced(lambda x: csl.solve_banded((1, 1), x, np.ones(3)), a[:2])


# ---------------------------------------------------------------------------------------------
# float32 and batching through the public functions

def test_float32_stays_float32(rng):
    a = _wc(rng, 3, 3).astype(np.float32)
    b = rng.standard_normal((3, 2)).astype(np.float32)
    for f in (lambda a, b: csl.solve_triangular(a, b), lambda a, b: csl.expm(a),
              lambda a, b: csl.solve_sylvester(a, a[:2, :2], b), lambda a, b: csl.lu(a)[1],
              lambda a, b: csl.sqrtm(a), lambda a, b: cnp.linalg.qr(a)[0],
              lambda a, b: cnp.linalg.lstsq(a, b)[0]):
        out = _traced(f, a, b)
        assert out.dtype == np.float32
    assert _traced(lambda a: cnp.linalg.eig(a)[1], a).dtype == np.complex64


def test_jacobians_of_stacks_batch_without_loops(rng):
    a = _wc(rng, 2, 3, 3)
    for f in (csl.expm, csl.sqrtm, lambda x: csl.lu(x)[2],
              lambda x: csl.solve_triangular(x, np.ones((3, 1)), lower=True)):
        jf, jr = cr.jacfwd(f)(a), cr.jacrev(f)(a)
        _close(jf, jr, rtol=1e-9, atol=1e-11)
    b = rng.standard_normal((4, 2))
    m = rng.standard_normal((4, 3))
    jf = cr.jacfwd(lambda b: cnp.linalg.lstsq(m, b)[0])(b)
    jr = cr.jacrev(lambda b: cnp.linalg.lstsq(m, b)[0])(b)
    _close(jf, jr, rtol=1e-9, atol=1e-11)


# ---------------------------------------------------------------------------------------------
# every method on a few programs

def prog_spectral(a):
    w = cnp.linalg.eigvalsh(a + a.T)
    return cnp.sum(w * np.arange(1.0, 4.0)) + cnp.sum(cnp.abs(cnp.linalg.eigvals(a)) ** 2)


def prog_factorisations(a):
    q, r = cnp.linalg.qr(a)
    lu, piv = csl.lu_factor(a)
    x = csl.lu_solve((lu, piv), np.arange(3.0), trans=1)
    c = csl.cho_factor(a @ a.T + np.eye(3))
    return cnp.sum(q * r) + cnp.sum(x ** 2) + cnp.sum(csl.cho_solve(c, np.ones(3)))


def prog_matrix_functions(a):
    s = a @ a.T + np.eye(3)
    return (cnp.sum(csl.expm(0.3 * a)) + cnp.sum(csl.logm(s)) + cnp.sum(csl.sqrtm(s) ** 2)
            + cnp.sum(csl.solve_sylvester(s, s, a)))


def prog_solves(a):
    x = cnp.linalg.lstsq(a[:, :2], np.arange(3.0))[0]
    y = csl.solve_banded((1, 1), a, np.ones((3, 2)))
    z = csl.solve_triangular(a, np.ones(3), lower=True, trans="T")
    return (cnp.sum(x ** 3) + cnp.sum(y * y) + cnp.sum(z)
            + cnp.linalg.vector_norm(cnp.linalg.multi_dot([a, a, np.ones(3)]), ord=3)
            + cnp.sum(cnp.linalg.matrix_power(a, -2)) + cnp.linalg.matrix_norm(a, ord="nuc"))


_TURN = np.array([[0.0, 2.0, 0.0], [-2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])


def prog_complex_pair(a):
    # a real matrix with a complex pair of eigenvalues: complex values made from real ones
    w, v = cnp.linalg.eig(a + _TURN)
    return cnp.sum(cnp.imag(w) ** 2 * np.arange(1.0, 4.0)) + cnp.sum(cnp.abs(v[0]) ** 2 * w.real)


PROGRAMS = [prog_spectral, prog_factorisations, prog_matrix_functions, prog_solves,
            prog_complex_pair]


@pytest.mark.parametrize("method", ["graph", "source", "numeric"])
@pytest.mark.parametrize("prog", PROGRAMS, ids=lambda p: p.__name__)
def test_methods_agree(rng, prog, method):
    a = _wc(rng, 3, 3)
    want = cr.grad(prog)(a)
    got = cr.grad(prog, method=method)(a)
    tol = dict(rtol=1e-5, atol=1e-7) if method == "numeric" else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got, want, **tol)


@pytest.mark.parametrize("prog", [prog_factorisations, prog_matrix_functions],
                         ids=lambda p: p.__name__)
def test_hessian_by_graph_and_overload(rng, prog):
    a = _wc(rng, 3, 3)
    _close(cr.hessian(prog, method="graph")(a), cr.hessian(prog)(a), rtol=1e-9, atol=1e-10)


def test_graph_json_round_trip_keeps_the_parameters(rng):
    g = cr.graph.trace(cr.grad(prog_solves), spec((3, 3)))
    again = cr.graph.Graph.from_json(g.to_json())
    a = _wc(rng, 3, 3)
    _close(again.run_flat(a)[0], g.run_flat(a)[0])
    prims = {e["prim"] for e in json.loads(g.to_json())["eqns"]}
    assert {"lstsq", "solve_banded", "solve_triangular"} <= prims
