"""det's derivatives hold at singular matrices, in every method: the gradient is the cofactor
matrix adj(A)^T (as JAX gives), the Hessian the signed second minors. The expected values are
computed here from minors by their definition, independently of chainrule's SVD-based rule."""
import itertools

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.transforms import METHODS


def _minor(a, rows, cols):
    keep_r = [r for r in range(a.shape[0]) if r not in rows]
    keep_c = [c for c in range(a.shape[1]) if c not in cols]
    sub = a[np.ix_(keep_r, keep_c)]
    return 1.0 if sub.size == 0 else np.linalg.det(sub)


def cofactors(a):
    n = a.shape[0]
    return np.array([[(-1) ** (i + j) * _minor(a, [i], [j]) for j in range(n)]
                     for i in range(n)])


def second_minors(a):
    """d^2 det / da_ij da_kl: zero when i == k or j == l, else the minor without rows i, k and
    columns j, l, signed by the permutation sign of deleting them."""
    n = a.shape[0]
    h = np.zeros((n, n, n, n))
    for i, j, k, m in itertools.product(range(n), repeat=4):
        if i == k or j == m:
            continue
        sign = (-1) ** (i + j + k + m) * (1 if (i < k) == (j < m) else -1)
        h[i, j, k, m] = sign * _minor(a, [i, k], [j, m])
    return h


def det(a):
    return cnp.linalg.det(a)


SINGULAR = {
    "rank n-1": np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]),
    "rank n-2": np.outer([1.0, -2.0, 0.5], [3.0, 1.0, 2.0]),
    "zero": np.zeros((3, 3)),
    "rank n-1, 2x2": np.array([[1.0, 2.0], [2.0, 4.0]]),
    "repeated zero rows": np.array([[0.0, 0, 0, 0], [1, 2, 3, 4], [0, 0, 0, 0], [2, 1, 0, 1]]),
}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", list(SINGULAR))
def test_grad_of_det_at_a_singular_matrix_is_the_cofactor_matrix(method, name):
    a = SINGULAR[name]
    np.testing.assert_allclose(cr.grad(det, method=method)(a), cofactors(a), atol=1e-6)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", list(SINGULAR))
def test_hessian_of_det_at_a_singular_matrix_is_the_signed_second_minors(method, name):
    a = SINGULAR[name]
    tol = 1e-4 if method == "numeric" else 1e-9
    np.testing.assert_allclose(cr.hessian(det, method=method)(a), second_minors(a), atol=tol)


@pytest.mark.parametrize("method", ["overload", "graph", "symbolic"])
@pytest.mark.parametrize("name", ["rank n-1", "rank n-2", "zero"])
def test_third_derivative_of_det_at_a_singular_matrix(method, name):
    # for 3x3, d^3 det / da_{i1 j1} da_{i2 j2} da_{i3 j3} = eps_{i1 i2 i3} eps_{j1 j2 j3}
    eps = np.zeros((3, 3, 3))
    for p in itertools.permutations(range(3)):
        eps[p] = np.linalg.det(np.eye(3)[list(p)])
    want = np.einsum("ace,bdf->abcdef", eps, eps)
    third = cr.jacfwd(cr.hessian(det, method=method), method=method)(SINGULAR[name])
    np.testing.assert_allclose(third, want, atol=1e-9)


@pytest.mark.parametrize("method", ["overload", "graph", "source"])
def test_det_derivatives_at_a_regular_matrix_and_in_forward_mode(method):
    a = np.random.default_rng(3).normal(size=(4, 4))
    np.testing.assert_allclose(cr.grad(det, method=method)(a),
                               np.linalg.det(a) * np.linalg.inv(a).T, rtol=1e-9)
    np.testing.assert_allclose(cr.jacfwd(det, method=method)(a), cofactors(a), rtol=1e-9)
    np.testing.assert_allclose(cr.hessian(det, method=method)(a), second_minors(a),
                               rtol=1e-7, atol=1e-10)


def test_det_of_a_stack_with_a_singular_member_and_complex_matrices():
    stack = np.stack([SINGULAR["rank n-1"], np.eye(3) * 2.0])
    g = cr.grad(lambda s: cnp.sum(cnp.linalg.det(s)))(stack)
    np.testing.assert_allclose(g, np.stack([cofactors(m) for m in stack]), atol=1e-9)
    per = cr.vmap(cr.grad(det))(stack)
    np.testing.assert_allclose(per, g, atol=1e-9)
    # complex: det is holomorphic, d det = tr(adj(A) dA) along any complex direction
    rng = np.random.default_rng(0)
    z = np.array([[1 + 1j, 2.0], [2 + 2j, 4.0]])  # singular
    dz = rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2))
    _, t = cr.jvp(det, (z,), (dz,))
    np.testing.assert_allclose(t, np.sum(cofactors(z) * dz), atol=1e-12)
