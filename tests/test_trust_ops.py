"""Derivatives that live in the rules and the NumPy layer, checked in every AD method ("overload",
"graph", "source") and, where finite differences apply, "numeric" too.

Every expected value comes from outside the code path under test: central finite differences of
NumPy itself, or a formula derived by hand in the test. Complex inputs are checked along the real
AND the imaginary directions (chainrule's convention: the gradient of a real L of z = x + iy is
dL/dx + i dL/dy, so that L(z + h d) - L(z - h d) = 2 h Re(sum(conj(grad) * d)) for every d).

Test functions are plain `def`s at module level: the source method reads their source.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule._core.errors import InPlaceError

AD = ("overload", "graph", "source")
ALL = AD + ("numeric",)
H = 1e-6


def fd_dir(f: Callable[[Any], Any], x: Any, d: Any, h: float = H) -> Any:
    """Central difference of NumPy's own `f` at `x` along `d` (a tangent of f's output)."""
    return (np.asarray(f(x + h * d)) - np.asarray(f(x - h * d))) / (2 * h)


def directions(x: np.ndarray, seed: int = 0) -> list[np.ndarray]:
    """A random real direction, and for complex `x` a random imaginary one as well."""
    rng = np.random.default_rng(seed)
    out = [rng.standard_normal(np.shape(x))]
    if np.iscomplexobj(x):
        out.append(1j * rng.standard_normal(np.shape(x)))
    return out


def check_scalar_function(f: Callable[[Any], Any], x: np.ndarray, method: str,
                          rtol: float = 1e-6, atol: float = 1e-7) -> None:
    """grad and jvp of the real scalar function `f` against finite differences of NumPy's `f`,
    along each of `directions(x)`."""
    g = cr.grad(f, method=method)(x)
    assert np.shape(g) == np.shape(x)
    for d in directions(x):
        want = float(fd_dir(f, x, d))
        np.testing.assert_allclose(np.real(np.sum(np.conj(g) * d)), want, rtol=rtol, atol=atol)
        if method != "numeric":
            _, t = cr.jvp(f, (x,), (d,), method=method)
            np.testing.assert_allclose(t, want, rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------------------------
# 1. pinv: no 1 / (s_i - s_j) of equal singular values


def pinv_scaled_identity(s):
    return np.sum(np.linalg.pinv(s * np.eye(3)))


def pinv_sum(a):
    return np.sum(np.linalg.pinv(a))


def inv_sum(a):
    return np.sum(np.linalg.inv(a))


@pytest.mark.parametrize("method", ALL)
def test_pinv_of_a_multiple_of_the_identity(method):
    # sum(pinv(s I_3)) = 3 / s, whose derivative at s = 2 is -3 / s^2 = -0.75
    np.testing.assert_allclose(cr.grad(pinv_scaled_identity, method=method)(2.0), -0.75,
                               rtol=1e-7)


@pytest.mark.parametrize("method", ALL)
def test_pinv_of_a_matrix_with_repeated_singular_values(method):
    a = 2.0 * np.eye(3)
    g = cr.grad(pinv_sum, method=method)(a)
    # d sum(A^-1) = -sum(A^-1 dA A^-1) = -1/4 sum(dA) at A = 2 I: -1/4 for every entry
    np.testing.assert_allclose(g, np.full((3, 3), -0.25), rtol=1e-7)
    if method != "numeric":
        np.testing.assert_allclose(g, cr.grad(inv_sum, method=method)(a), rtol=1e-12)
        check_scalar_function(pinv_sum, a, method)


@pytest.mark.parametrize("method", AD)
def test_pinv_second_order(method):
    # d^2/ds^2 of 3 / s is 6 / s^3 = 0.75 at s = 2
    np.testing.assert_allclose(cr.hessian(pinv_scaled_identity, method=method)(2.0), 0.75,
                               rtol=1e-7)
    # f(A) = 1^T A^-1 1 has gradient G = -A^-T 1 1^T A^-T and dG = A^-T dA^T A^-T J A^-T +
    # A^-T J A^-T dA^T A^-T (J = 1 1^T); at A = 2 I that is (dA^T J + J dA^T) / 8
    hm = cr.hessian(pinv_sum, method=method)(2.0 * np.eye(2))
    d = np.array([[0.3, -1.2], [0.7, 0.4]])
    j = np.ones((2, 2))
    np.testing.assert_allclose(np.tensordot(hm, d, 2), (d.T @ j + j @ d.T) / 8, rtol=1e-10)


def pinv_of(a):
    return np.linalg.pinv(a)


def pinv_weighted(a):
    return np.sum(np.linalg.pinv(a) * np.arange(1.0, 1.0 + a.shape[0] * a.shape[1]).reshape(
        a.shape[1], a.shape[0]))


def pinv_hermitian(a):
    return np.sum(np.linalg.pinv(a, hermitian=True) * np.array([[1.0, 2.0], [3.0, 4.0]]))


@pytest.mark.parametrize("method", AD)
@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (3, 3)])
def test_pinv_rectangular_matches_finite_differences(method, shape):
    a = np.random.default_rng(2).standard_normal(shape)
    check_scalar_function(pinv_weighted, a, method, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", AD)
def test_pinv_complex_matches_finite_differences(method):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 3)) + 1j * rng.standard_normal((4, 3))
    check_scalar_function(complex_pinv_weighted, a, method, rtol=1e-5, atol=1e-6)


def complex_pinv_weighted(a):
    w = np.arange(12.0).reshape(3, 4) - 2.5j
    return np.real(np.sum(np.linalg.pinv(a) * w))


@pytest.mark.parametrize("method", AD)
def test_pinv_of_a_rank_deficient_matrix_along_its_rank(method):
    # rank 2 in 4 x 3: pinv is smooth along perturbations that keep the rank (here A(t) =
    # U(t) S V^T, rank 2 for every t), and the rule's derivative is that one, finite
    rng = np.random.default_rng(4)
    u, _ = np.linalg.qr(rng.standard_normal((4, 2)))
    v, _ = np.linalg.qr(rng.standard_normal((3, 2)))

    def a_of(t):
        return (u + t * np.outer(np.ones(4), [0.3, -0.2])) @ np.diag([2.0, 1.0]) @ v.T

    a = a_of(0.0)
    d = (a_of(H) - a_of(-H)) / (2 * H)
    want = fd_dir(lambda m: np.linalg.pinv(m), a, d, h=1e-5)
    _, t = cr.jvp(pinv_of, (a,), (d,), method=method)
    np.testing.assert_allclose(t, want, rtol=1e-4, atol=1e-6)
    assert np.all(np.isfinite(cr.grad(pinv_weighted, method=method)(a)))


@pytest.mark.parametrize("method", AD)
def test_pinv_hermitian_reads_the_lower_triangle(method):
    a = np.array([[3.0, 0.7], [-0.4, 2.0]])  # not symmetric: NumPy reads the lower triangle
    check_scalar_function(pinv_hermitian, a, method)
    g = cr.grad(pinv_hermitian, method=method)(a)
    assert g[0, 1] == 0.0


@pytest.mark.parametrize("method", AD)
@pytest.mark.parametrize("jac", ["jacrev", "jacfwd"])
def test_pinv_jacobians(jac, method):
    a = np.random.default_rng(6).standard_normal((3, 2))
    want = np.zeros((2, 3, 3, 2))
    for i, j in np.ndindex(3, 2):
        e = np.zeros((3, 2))
        e[i, j] = 1.0
        want[:, :, i, j] = fd_dir(np.linalg.pinv, a, e)
    np.testing.assert_allclose(getattr(cr, jac)(pinv_of, method=method)(a), want, rtol=1e-6,
                               atol=1e-8)


def test_pinv_values_are_numpys():
    a = np.random.default_rng(5).standard_normal((2, 4, 3))
    for kw in ({}, {"rcond": 1e-10}, {"rtol": None}, {"rtol": 0.3}):
        out, _ = cr.jvp(lambda m, kw=kw: cnp.linalg.pinv(m, **kw), (a,), (a,))
        np.testing.assert_allclose(out, np.linalg.pinv(a, **kw), rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------------------------
# 2. complex linear algebra: real and imaginary directions, forward and reverse

_RNG = np.random.default_rng(11)


def _c(*shape):
    return _RNG.standard_normal(shape) + 1j * _RNG.standard_normal(shape)


C_SQ = _c(3, 3) + 3 * np.eye(3)
C_TALL = _c(4, 3)
C_RHS = _c(3, 2)
W33, W32, W34 = _c(3, 3), _c(3, 2), _c(3, 4)
_h = _c(3, 3)
C_HERM = _h + _h.conj().T


def c_svdvals(a):
    return np.sum(np.linalg.svd(a, compute_uv=False))


def c_svd_s(a):
    return np.sum(np.linalg.svd(a, full_matrices=False)[1] * np.array([1.0, 2.0, 3.0]))


def c_svd_vectors(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    # |u|^2 and |vh|^2 do not depend on the phase of each singular pair
    return np.sum(np.abs(u) ** 2 * np.arange(12.0).reshape(4, 3)) + np.sum(
        np.abs(vh) ** 2 * np.arange(9.0).reshape(3, 3))


def c_nuclear(a):
    return np.linalg.norm(a, "nuc")


def c_two_norm(a):
    return np.linalg.norm(a, 2)


def c_fro(a):
    return np.linalg.norm(a)


def c_vector_norm(a):
    return np.linalg.norm(a[0], 3) + np.linalg.norm(a[1])


def c_inv(a):
    return np.real(np.sum(np.conj(W33) * np.linalg.inv(a)))


def c_solve_a(a):
    return np.real(np.sum(np.conj(W32) * np.linalg.solve(a, C_RHS)))


def c_solve_b(b):
    return np.real(np.sum(np.conj(W32) * np.linalg.solve(C_SQ, b)))


def c_det(a):
    return np.real((0.7 - 0.3j) * np.linalg.det(a))


def c_logabsdet(a):
    return np.linalg.slogdet(a)[1]


def c_slogdet_sign(a):
    sign, logabs = np.linalg.slogdet(a)
    return np.real((0.3 + 0.5j) * sign) * logabs


def c_eigh_values(h):
    return np.sum(np.linalg.eigh(h)[0] * np.array([1.0, 2.0, 3.0]))


def c_eigh_vectors(h):
    return np.sum(np.abs(np.linalg.eigh(h)[1]) ** 2 * np.arange(9.0).reshape(3, 3))


def c_cholesky(a):
    return np.real(np.sum(np.conj(W33) * np.linalg.cholesky(a @ a.conj().T + np.eye(3))))


def c_matmul(a):
    return np.real(np.sum(np.conj(W33) * (a.T @ np.conj(C_TALL)))) + np.real(
        np.sum(a @ W33 * np.conj(C_TALL)))


def c_pinv(a):
    return np.real(np.sum(np.conj(W34) * np.linalg.pinv(a)))


def c_var(a):
    return np.var(a) + np.std(a[0])


COMPLEX_CASES = {
    "svdvals": (c_svdvals, C_TALL), "svd-s": (c_svd_s, C_TALL),
    "svd-vectors": (c_svd_vectors, C_TALL), "nuclear-norm": (c_nuclear, C_TALL),
    "2-norm": (c_two_norm, C_TALL), "fro-norm": (c_fro, C_TALL),
    "vector-norms": (c_vector_norm, C_TALL), "inv": (c_inv, C_SQ), "solve-a": (c_solve_a, C_SQ),
    "solve-b": (c_solve_b, C_RHS), "det": (c_det, C_SQ), "logabsdet": (c_logabsdet, C_SQ),
    "slogdet-sign": (c_slogdet_sign, C_SQ), "eigh-values": (c_eigh_values, C_HERM),
    "eigh-vectors": (c_eigh_vectors, C_HERM), "cholesky": (c_cholesky, C_SQ),
    "matmul": (c_matmul, C_TALL), "pinv": (c_pinv, C_TALL), "var-std": (c_var, C_TALL),
}


@pytest.mark.parametrize("method", AD)
@pytest.mark.parametrize("name", sorted(COMPLEX_CASES))
def test_complex_linalg_matches_finite_differences(name, method):
    f, x = COMPLEX_CASES[name]
    check_scalar_function(f, x, method, rtol=1e-5, atol=1e-6)


def test_complex_svd_gradient_is_u_vh_not_its_conjugate():
    # d sum(s) = Re tr(U^H dA V): the gradient is U V^H, the convention's (and PyTorch's) answer
    u, _, vh = np.linalg.svd(C_TALL, full_matrices=False)
    for method in AD:
        np.testing.assert_allclose(cr.grad(c_svdvals, method=method)(C_TALL), u @ vh,
                                   rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(cr.grad(c_nuclear, method=method)(C_TALL), u @ vh,
                                   rtol=1e-10, atol=1e-12)
        _, t = cr.jvp(c_svdvals, (C_TALL,), (1j * C_TALL,), method=method)
        assert np.isrealobj(t)


def test_complex_norms_are_real():
    out, t = cr.jvp(c_fro, (C_TALL,), (C_TALL,))
    assert np.isrealobj(out) and np.isrealobj(t)
    np.testing.assert_allclose(out, np.linalg.norm(C_TALL), rtol=1e-14)


# ---------------------------------------------------------------------------------------------
# 3. eigh / eigvalsh / cholesky read one triangle: the derivative of what NumPy computes


NONSYM = np.array([[4.0, 0.9, -0.3], [0.2, 3.0, 0.5], [-0.6, 1.1, 2.0]])
NONSYM_C = NONSYM + 1j * np.array([[0.3, 0.2, -0.1], [0.4, -0.2, 0.3], [-0.5, 0.1, 0.6]])
WEIGHTS = np.arange(9.0).reshape(3, 3) - 4.0


def eigh_w_lower(a):
    return np.sum(np.linalg.eigh(a)[0] * np.array([1.0, -2.0, 3.0]))


def eigh_w_upper(a):
    return np.sum(np.linalg.eigh(a, UPLO="U")[0] * np.array([1.0, -2.0, 3.0]))


def eigh_v_lower(a):
    return np.sum(np.abs(np.linalg.eigh(a)[1]) ** 2 * WEIGHTS)


def eigh_v_upper(a):
    return np.sum(np.abs(np.linalg.eigh(a, UPLO="U")[1]) ** 2 * WEIGHTS)


def eigvalsh_lower(a):
    return np.sum(np.linalg.eigvalsh(a) ** 2)


def eigvalsh_upper(a):
    return np.sum(np.linalg.eigvalsh(a, UPLO="U") ** 2)


def cholesky_lower(a):
    return np.real(np.sum(np.linalg.cholesky(a) * WEIGHTS))


def cholesky_upper(a):
    return np.real(np.sum(np.linalg.cholesky(a, upper=True) * WEIGHTS))


def svdvals_hermitian(a):
    return np.sum(np.linalg.svd(a - 3.0 * np.eye(3), compute_uv=False, hermitian=True) ** 3)


TRIANGLE_CASES = {"eigh-values-L": (eigh_w_lower, "L"), "eigh-values-U": (eigh_w_upper, "U"),
                  "eigh-vectors-L": (eigh_v_lower, "L"), "eigh-vectors-U": (eigh_v_upper, "U"),
                  "eigvalsh-L": (eigvalsh_lower, "L"), "eigvalsh-U": (eigvalsh_upper, "U"),
                  "cholesky-L": (cholesky_lower, "L"), "cholesky-U": (cholesky_upper, "U"),
                  "svd-hermitian": (svdvals_hermitian, "L")}


@pytest.mark.parametrize("method", AD)
@pytest.mark.parametrize("complex_input", [False, True], ids=["real", "complex"])
@pytest.mark.parametrize("name", sorted(TRIANGLE_CASES))
def test_decompositions_of_a_nonsymmetric_input(name, complex_input, method):
    f, uplo = TRIANGLE_CASES[name]
    a = NONSYM_C if complex_input else NONSYM
    check_scalar_function(f, a, method, rtol=1e-5, atol=1e-6)
    g = cr.grad(f, method=method)(a)
    unread = np.triu(np.ones((3, 3), bool), 1) if uplo == "L" else np.tril(np.ones((3, 3),
                                                                                 bool), -1)
    assert np.all(g[unread] == 0.0)  # exactly: the strict triangle not read has no influence
    if complex_input:
        assert np.all(np.imag(np.diag(g)) == 0.0)  # nor has the imaginary part of the diagonal


@pytest.mark.parametrize("method", AD)
def test_eigvalsh_derivative_by_hand(method):
    # on a symmetric input, moving a_ij alone (i > j) changes the matrix NumPy reads in both
    # (i, j) and (j, i): for w = eigvalsh, dw_k/da_ij = 2 v_ik v_jk, and 0 above the diagonal
    a = NONSYM + NONSYM.T
    w, v = np.linalg.eigh(a)

    def top(m):
        return np.linalg.eigvalsh(m)[2]

    g = cr.grad(top, method=method)(a)
    want = np.tril(2 * np.outer(v[:, 2], v[:, 2]), -1) + np.diag(v[:, 2] ** 2)
    np.testing.assert_allclose(g, want, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# 4. std / var of one value, of equal values, and with ddof >= N


def std_all(x):
    return np.std(x)


def var_all(x):
    return np.var(x)


def std_rows(x):
    return np.sum(np.std(x, axis=1) * np.array([1.0, 2.0]))


def std_ddof1(x):
    return np.std(x, ddof=1)


@pytest.mark.parametrize("method", AD)
def test_std_of_one_value_is_constant(method):
    x = np.array([2.0])
    for f in (std_all, var_all):
        out, t = cr.jvp(f, (x,), (np.array([1.0]),), method=method)
        assert out == 0.0 and t == 0.0  # exactly: std of one value is 0 for every x
        np.testing.assert_array_equal(cr.grad(f, method=method)(x), [0.0])
    np.testing.assert_array_equal(cr.grad(std_rows, method=method)(np.ones((2, 1))), 0.0)


@pytest.mark.parametrize("method", AD)
def test_std_of_one_value_second_order(method):
    np.testing.assert_array_equal(cr.hessian(std_all, method=method)(np.array([2.0])), [[0.0]])


@pytest.mark.parametrize("method", ALL)
def test_std_of_one_value_numeric_agrees(method):
    np.testing.assert_allclose(cr.grad(std_rows, method=method)(np.array([[1.0], [3.0]])), 0.0,
                               atol=1e-9)


@pytest.mark.parametrize("method", AD)
def test_std_of_equal_values_is_a_kink(method):
    # std(x) = |x - mean| / sqrt(n) is a norm: at equal values it has no derivative, and with
    # sqrt'(0) = inf the rules give nan (as for the 2-norm at 0, and in JAX and PyTorch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out, g = cr.value_and_grad(std_all, method=method)(np.ones(3))
    assert out == 0.0 and np.all(np.isnan(g))


@pytest.mark.parametrize("method", AD)
def test_std_with_ddof_at_least_the_count_is_nan(method):
    # NumPy's value is nan (0 / 0, "Degrees of freedom <= 0"); so is the derivative
    x = np.array([2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = np.std(x, ddof=1)
        out, g = cr.value_and_grad(std_ddof1, method=method)(x)
        _, t = cr.jvp(std_ddof1, (x,), (np.array([1.0]),), method=method)
    assert np.isnan(want) and np.isnan(out) and np.all(np.isnan(g)) and np.isnan(t)


@pytest.mark.parametrize("method", AD)
def test_std_elsewhere_matches_finite_differences(method):
    x = np.array([[1.0, 2.5, -0.5], [0.3, 0.1, 0.7]])
    check_scalar_function(std_rows_wide, x, method, rtol=1e-6)


def std_rows_wide(x):
    return np.sum(np.std(x, axis=1) * np.array([1.0, 2.0])) + np.var(x, ddof=1)


# ---------------------------------------------------------------------------------------------
# 5. Python lists and tuples as operands


def list_matmul(x):
    return x @ [1.0, 2.0]


def list_rmatmul(x):
    return [1.0, 2.0] @ x


def list_dot(x):
    return np.dot(x, [1.0, 2.0])


def list_dot_left(x):
    return np.dot([1.0, 2.0], x)


def list_add_ints(x):
    return np.sum(np.add(x, [1, 2]) ** 2)


def list_add_operator(x):
    return np.sum((x + [1.0, 2.0]) ** 2)


def list_rmul(x):
    return np.sum([1.0, 2.0] * x * x)


def tuple_mul(x):
    return np.sum(x * (1.0, 2.0) * x)


def list_einsum(x):
    return np.einsum("i,i", x * x, [1.0, 2.0])


def list_where(x):
    return np.sum(np.where(x > 1.5, x, [0.0, 1.0]) * x)


def list_concatenate(x):
    return np.sum(np.concatenate([x, [1.0]]) ** 3)


def list_stack(x):
    return np.sum(np.stack([x, [1.0, 3.0]]) ** 3)


def list_cnp_multiply(x):
    return cnp.sum(cnp.multiply(x, [1.0, 2.0]) ** 2)


def list_maximum(x):
    return np.sum(np.maximum(x, [1.5, 1.5]) ** 2)


def list_solve(x):
    return np.sum(np.linalg.solve(np.diag(x), [1.0, 2.0]))


def list_clip(x):
    return np.sum(np.clip(x, [0.0, 0.0], [1.2, 2.5]) ** 2)


def list_sub_div_pow(x):
    return np.sum(([5.0, 6.0] - x) ** 2 + [5.0, 6.0] / x + [2.0, 3.0] ** x)


def list_nested(x):
    return np.sum(np.stack([x, x * x]) @ [[1.0], [2.0]])


def list_vdot_kron_outer(x):
    return np.vdot(x, [1.0, 2.0]) + np.sum(np.kron(x, [1.0, 2.0]) ** 2) + np.sum(
        np.outer(x, [1.0, 2.0, 3.0]) ** 2) + np.tensordot(x, [1.0, 2.0], 1)


def list_hstack_vstack(x):
    return np.sum(np.hstack([x, [1.0]]) ** 2) + np.sum(np.vstack([x, [1.0, 2.0]]) ** 3)


def list_at_set(x):
    return np.sum(cnp.at(x * x)[:2].set([1.0, x[0]]) ** 2)


LIST_CASES = [list_matmul, list_rmatmul, list_dot, list_dot_left, list_add_ints,
              list_add_operator, list_rmul, tuple_mul, list_einsum, list_where, list_concatenate,
              list_stack, list_cnp_multiply, list_maximum, list_solve, list_clip,
              list_sub_div_pow, list_nested, list_vdot_kron_outer, list_hstack_vstack]


@pytest.mark.parametrize("method", ALL)
@pytest.mark.parametrize("f", LIST_CASES, ids=[f.__name__ for f in LIST_CASES])
def test_list_operands(f, method):
    check_scalar_function(f, np.array([1.0, 2.0]), method, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("method", ("overload", "graph"))
def test_list_operand_mixing_traced_values_in_an_update(method):
    check_scalar_function(list_at_set, np.array([1.0, 2.0, 0.5]), method)


def test_list_operands_do_not_touch_other_arrays():
    """Only Python lists and tuples are converted: an array of another type stays itself."""

    class Marked(np.ndarray):
        pass

    from chainrule.numpy._operands import operand
    m = np.arange(3.0).view(Marked)
    assert operand(m) is m and operand(2.0) == 2.0 and type(operand(2.0)) is float
    assert type(operand([1.0, 2.0])) is np.ndarray and operand((1, 2)).dtype.kind == "i"


# ---------------------------------------------------------------------------------------------
# 6. shape functions of a 0-d traced value: NumPy's behaviour on 0-d arrays


def s_flip(a):
    return np.flip(a)


def s_flip_no_axes(a):
    return np.flip(a, axis=())


def s_pad(a):
    return np.pad(a, 1)


def s_pad_edge(a):
    return np.pad(a, 2, mode="edge")


def s_roll(a):
    return np.roll(a, 1)


def s_squeeze(a):
    return np.squeeze(a)


def s_squeeze_axis0(a):
    return np.squeeze(a, axis=0)


def s_expand_dims(a):
    return np.expand_dims(a, (0, -1))


def s_atleast_1d(a):
    return np.atleast_1d(a)


def s_atleast_2d(a):
    return np.atleast_2d(a)


def s_ravel(a):
    return np.ravel(a)


def s_broadcast(a):
    return np.broadcast_to(a, (2,) + np.shape(a))


def s_tile(a):
    return np.tile(a, (2, 2))


def s_repeat(a):
    return np.repeat(a, 3)


def s_repeat_axis0(a):
    return np.repeat(a, 3, axis=0)


def s_sum_axis0(a):
    return np.sum(a, axis=0)


def s_max_axis_m1(a):
    return np.max(a, axis=-1)


def s_cumsum_axis0(a):
    return np.cumsum(a, axis=0)


def s_split(a):
    return np.split(np.atleast_1d(a) * np.array([1.0, 2.0]), 2)[1]


def s_array_split(a):
    return np.array_split(np.atleast_1d(a) * np.array([1.0, 2.0, 3.0]), 2)[0]


def s_copy(a):
    return np.copy(a)


def s_index_none(a):
    return a[None]


ZERO_D_CASES = [s_flip, s_flip_no_axes, s_pad, s_pad_edge, s_roll, s_squeeze, s_squeeze_axis0,
                s_expand_dims, s_atleast_1d, s_atleast_2d, s_ravel, s_broadcast, s_tile,
                s_repeat, s_repeat_axis0, s_sum_axis0, s_max_axis_m1, s_cumsum_axis0, s_split,
                s_array_split, s_copy, s_index_none]


@pytest.mark.parametrize("method", AD)
@pytest.mark.parametrize("f", ZERO_D_CASES, ids=[f.__name__ for f in ZERO_D_CASES])
def test_shape_functions_of_a_0d_value(f, method):
    x = np.array(0.5)
    want = f(x)  # NumPy on a 0-d array
    out, t = cr.jvp(f, (x,), (np.array(1.0),), method=method)
    np.testing.assert_array_equal(out, want)
    assert np.shape(out) == np.shape(want) and np.shape(t) == np.shape(want)
    np.testing.assert_allclose(t, fd_dir(f, x, np.array(1.0)), rtol=1e-9)
    weights = np.arange(1.0, 1.0 + np.size(want)).reshape(np.shape(want))

    def weighted(a):
        return np.sum(f(a) * weights)

    g = cr.grad(weighted, method=method)(x)
    np.testing.assert_allclose(g, np.sum(weights * fd_dir(f, x, np.array(1.0))), rtol=1e-9)


def flip_python_float(x):
    return np.flip(x) * 2.0 + np.flip(x * x)


@pytest.mark.parametrize("method", ALL)
def test_flip_of_a_python_float(method):
    np.testing.assert_allclose(cr.grad(flip_python_float, method=method)(0.5), 3.0, rtol=1e-7)


@pytest.mark.parametrize("call", [
    lambda a: np.flip(a, axis=0), lambda a: np.mean(a, axis=0), lambda a: np.roll(a, 1, axis=0),
    lambda a: np.sum(a, axis=1), lambda a: np.concatenate([a, a])])
def test_0d_errors_follow_numpy(call):
    with pytest.raises((ValueError, IndexError)):
        call(np.array(0.5))  # NumPy refuses ...
    with pytest.raises((ValueError, IndexError)):
        cr.grad(lambda a: np.sum(call(a)))(0.5)  # ... and so does chainrule


# ---------------------------------------------------------------------------------------------
# 7. a traced value written into a NumPy array


def write_element(x):
    y = np.zeros_like(x)
    y[0] = x[0]
    return np.sum(y)


def write_slice(x):
    y = np.zeros_like(x)
    y[:1] = x[:1]
    return np.sum(y)


def write_complex_element(x):
    y = np.zeros(2, complex)
    y[0] = x[0]
    return np.real(np.sum(y))


@pytest.mark.parametrize("method", ("overload", "graph"))
def test_writing_a_traced_value_into_a_numpy_array(method):
    x = np.array([1.0, 2.0])
    assert type(cr.jvp(np.zeros_like, (x,), (x,))[0]) is np.ndarray  # a constant, not traced
    for f in (write_slice, write_complex_element):
        with pytest.raises(InPlaceError, match=r"cnp\.at\(y\)\[i\]\.set\(x\)"):
            cr.grad(f, method=method)(x)
    # y[0] = x into a float array: NumPy calls float(x), and for an object it can index it
    # replaces the error by "ValueError: setting an array element with a sequence." raised
    # *from* chainrule's; the transforms raise chainrule's explanation instead
    with pytest.raises(InPlaceError) as info:
        cr.grad(write_element, method=method)(x)
    assert "cnp.at(y)[i].set(x)" in str(info.value) and "stop_gradient" in str(info.value)


@pytest.mark.parametrize("method", ("source", "numeric"))
def test_writing_into_an_array_where_it_is_rewritten(method):
    # the source method rewrites y[i] = v into a functional update; numeric has no tracers
    for f in (write_element, write_slice):
        np.testing.assert_allclose(cr.grad(f, method=method)(np.array([1.0, 2.0])), [1.0, 0.0],
                                   atol=1e-8)


def test_conversions_keep_their_old_error_classes():
    from chainrule._core.errors import ConcretizationError
    with pytest.raises(ConcretizationError, match="stop_gradient"):
        cr.grad(lambda x: float(x) * x)(2.0)
    with pytest.raises(ConcretizationError, match="NumPy array"):
        cr.grad(lambda x: np.sum(np.asarray(x)))(np.ones(2))


@pytest.mark.parametrize("method", AD)
@pytest.mark.xfail(strict=True, raises=AssertionError, reason=(
    "forward and reverse differ at sqrt's kink: a zero tangent times sqrt'(0) = inf is nan in "
    "forward mode, while reverse mode's zero cotangent is a strong zero. Making every "
    "chain-rule product a strong product (either factor exactly 0 gives 0) makes them agree "
    "but turns the nan of std at equal values and of the 2-norm at 0 into 0 (a subgradient): "
    "a convention to decide, see the issue 16 note of 2026-12-05"))
def test_forward_and_reverse_agree_at_a_kink(method):
    x = np.array([0.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fwd = cr.jacfwd(cnp.sqrt, method=method)(x)
        rev = cr.jacrev(cnp.sqrt, method=method)(x)
    # d sqrt(x0) / d x1 is exactly 0: sqrt(x0) does not depend on x1
    assert rev[0, 1] == 0.0 and fwd[0, 1] == 0.0
