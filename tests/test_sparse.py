"""Sparse Jacobians and Hessians (chainrule.sparse): patterns detected by tracing, colourings,
compressed evaluation and recovery.

Patterns are checked against hand-written expected patterns and against the nonzeros of the
dense Jacobian (`cr.jacfwd`, another code path) at random points: a pattern may hold more than
the nonzeros (a value-dependent primitive), never fewer. Matrices are checked against the dense
`cr.jacfwd` / `cr.hessian` and against central differences."""
from __future__ import annotations

import itertools
import sys

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp

sp = pytest.importorskip("scipy.sparse")
from chainrule.sparse import (  # noqa: E402
    column_coloring,
    hessian_sparsity,
    star_coloring,
)

RNG = np.random.default_rng(20260)


def dense_jacobian(f, x):
    out = np.asarray(f(x))
    return np.asarray(cr.jacfwd(f)(x)).reshape(out.size, x.size)


def central_differences(f, x, h=1e-6):
    x = np.asarray(x, float)
    cols = []
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = h
        e = e.reshape(x.shape)
        cols.append((np.ravel(f(x + e)) - np.ravel(f(x - e))) / (2 * h))
    return np.stack(cols, axis=1)


def tridiagonal(n):
    return np.eye(n, dtype=bool) | np.eye(n, k=1, dtype=bool) | np.eye(n, k=-1, dtype=bool)


def five_point(side):
    t = tridiagonal(side)
    i = np.eye(side, dtype=bool)
    return np.kron(i, t) | np.kron(t, i)


# ---------------------------------------------------------------------------------------------
# functions with known patterns

def second_difference(x):  # tridiagonal, n x n (zero boundary values)
    padded = cnp.concatenate([np.zeros(1), x, np.zeros(1)])
    return padded[:-2] - 2.0 * x + padded[2:] + x ** 3


SIDE = 6


def bratu(u):  # the 5-point Laplacian plus a nonlinear term, on a SIDE x SIDE grid
    g = u.reshape(SIDE, SIDE)
    p = cnp.pad(g, 1)
    lap = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4.0 * g
    return (lap + 0.5 * cnp.exp(g)).ravel()


def arrow(x):  # first row and column dense, and the diagonal
    head = cnp.sum(x ** 2)[None]
    return cnp.concatenate([head, x[1:] * x[0] + cnp.sin(x[1:])])


def all_of_them(x):
    return x * cnp.sum(cnp.sin(x))


def elementwise(x):
    return cnp.sin(x) * cnp.exp(x) + x ** 2 / (1.0 + x ** 2)


def row_sums(x):  # a reduction along an axis
    return cnp.sum(x.reshape(3, 4) ** 2, axis=1)


def shifted(x):  # np.roll: a circulant pattern
    return np.roll(x, 1) * x - np.roll(x, -2)


def picked(x):  # indexing: fancy, reversed slices
    return x[np.array([0, 2, 2, 5])] * x[::-1][:4]


def joined(x):  # concatenate
    return cnp.concatenate([x[:3] ** 2, x[::-1], cnp.tanh(x[1:2])])


A_SPARSE = np.array([[2.0, 0.0, 0.0, 1.0],
                     [0.0, 0.0, 3.0, 0.0],
                     [1.0, 0.0, 0.0, 0.0]])


def constant_matrix(x):  # a constant's zeros are zeros at every point
    return A_SPARSE @ x + 0.0 * x[:3]


def expected_arrow(n):
    p = np.eye(n, dtype=bool)
    p[0, :] = True
    p[:, 0] = True
    return p


def expected_shifted(n):
    k = np.arange(n)
    p = np.zeros((n, n), bool)
    p[k, k] = p[k, (k - 1) % n] = p[k, (k + 2) % n] = True
    return p


def expected_picked():
    p = np.zeros((4, 6), bool)
    for r, (a, b) in enumerate(zip([0, 2, 2, 5], [5, 4, 3, 2])):
        p[r, a] = p[r, b] = True
    return p


def expected_joined():
    p = np.zeros((10, 6), bool)
    p[np.arange(3), np.arange(3)] = True
    p[3 + np.arange(6), 5 - np.arange(6)] = True
    p[9, 1] = True
    return p


EXACT = [
    ("tridiagonal", second_difference, 8, tridiagonal(8)),
    ("5-point stencil", bratu, SIDE * SIDE, five_point(SIDE)),
    ("arrow", arrow, 7, expected_arrow(7)),
    ("dense", all_of_them, 5, np.ones((5, 5), bool)),
    ("diagonal", elementwise, 6, np.eye(6, dtype=bool)),
    ("row sums", row_sums, 12, np.kron(np.eye(3, dtype=bool), np.ones((1, 4), bool))),
    ("roll", shifted, 7, expected_shifted(7)),
    ("indexing", picked, 6, expected_picked()),
    ("concatenate", joined, 6, expected_joined()),
    ("constant matrix", constant_matrix, 4, A_SPARSE != 0),
]


@pytest.mark.parametrize("name,f,n,expected", EXACT, ids=[e[0] for e in EXACT])
def test_pattern_is_exact(name, f, n, expected):
    x = RNG.standard_normal(n)
    p = cr.jacobian_sparsity(f, x)
    assert sp.issparse(p) and p.format == "csr" and p.dtype == bool
    np.testing.assert_array_equal(p.toarray(), expected)
    # and it is the pattern of the true Jacobian at a generic point
    np.testing.assert_array_equal(dense_jacobian(f, x) != 0, expected)


@pytest.mark.parametrize("name,f,n,expected", EXACT, ids=[e[0] for e in EXACT])
def test_sparse_jacobian_matches_dense_and_differences(name, f, n, expected):
    x = RNG.standard_normal(n) * 0.5
    j = cr.sparse_jacobian(f, x)
    assert sp.issparse(j) and j.format == "csr" and j.shape == expected.shape
    np.testing.assert_allclose(j.toarray(), dense_jacobian(f, x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(j.toarray(), central_differences(f, x), rtol=1e-6, atol=1e-6)


def test_a_tridiagonal_jacobian_takes_three_jvps_and_a_stencil_five():
    assert column_coloring(cr.jacobian_sparsity(second_difference, np.ones(50))).max() + 1 == 3
    side = 20
    p = five_point(side)
    assert column_coloring(p).max() + 1 <= 5
    assert column_coloring(sp.csr_matrix(p)).max() + 1 <= 5


def test_the_number_of_jvps_is_the_number_of_colours():
    seen = []

    def counted(x):
        seen.append(np.shape(x))
        return second_difference(x)

    x = RNG.standard_normal(30)
    cr.jvp(counted, (x,), (x,), method="numeric")
    per_jvp = len(seen)  # (the evaluations of f that one finite-difference JVP makes)
    seen.clear()
    p = cr.jacobian_sparsity(second_difference, x)
    j = cr.sparse_jacobian(counted, x, sparsity=p, method="numeric")
    assert len(seen) == 3 * per_jvp  # one JVP per colour, three colours
    np.testing.assert_allclose(j.toarray(), dense_jacobian(second_difference, x), atol=1e-6)


# ---------------------------------------------------------------------------------------------
# a corpus: the pattern never misses a nonzero; the sparse Jacobian is the dense one

@cr.custom_jvp
def softplus(x):
    return cnp.log1p(cnp.exp(x))


@softplus.defjvp
def _softplus_jvp(primals, tangents):
    return softplus(primals[0]), tangents[0] / (1.0 + cnp.exp(-primals[0]))


@cr.custom_jvp
def rounded(x):
    return cnp.round(x)


@rounded.defjvp
def _straight_through(primals, tangents):  # (round has no derivative; this rule says 1)
    return rounded(primals[0]), tangents[0]


@cr.custom_jvp
def reversed_product(a, b):
    return a * b[::-1]


@reversed_product.defjvp
def _reversed_product_jvp(primals, tangents):
    (a, b), (da, db) = primals, tangents
    return reversed_product(a, b), da * b[::-1] + a * db[::-1]


@cr.custom_vjp
def sine(x):
    return cnp.sin(x)


def _sine_fwd(x):
    return cnp.sin(x), x


def _sine_bwd(x, g):
    return (g * cnp.cos(x),)


sine.defvjp(_sine_fwd, _sine_bwd)

M = RNG.standard_normal((3, 4))
B = np.where(np.abs(RNG.standard_normal((6, 6))) > 0.8, 1.0, 0.0) * RNG.standard_normal((6, 6))

CORPUS = {
    "sum_keepdims": (lambda x: cnp.sum(cnp.exp(x.reshape(3, 4)), axis=1, keepdims=True)
                     * x.reshape(3, 4), (12,)),
    "max_mean": (lambda x: cnp.concatenate([cnp.max(x.reshape(3, 4), axis=1),
                                            cnp.mean(x.reshape(3, 4), axis=0)]), (12,)),
    "prod": (lambda x: cnp.prod(x.reshape(2, 3), axis=1), (6,)),
    "cumsum": (lambda x: cnp.cumsum(x.reshape(2, 3) ** 2, axis=1), (6,)),
    "cumprod": (lambda x: cnp.cumprod(x, axis=0), (5,)),
    "sort": (lambda x: cnp.sort(x.reshape(2, 3), axis=1) * 2.0, (6,)),
    "matmul_const_left": (lambda x: B @ x + x ** 2, (6,)),
    "matmul_const_right": (lambda x: (x.reshape(2, 3) @ B[:3, :3]).ravel(), (6,)),
    "matmul_vars": (lambda x: (x.reshape(2, 3) @ x.reshape(3, 2)).ravel(), (6,)),
    "vector_matrix": (lambda x: x[:3] @ M, (5,)),
    "matrix_vector": (lambda x: M @ x[:4] * x[4], (5,)),
    "batched_matmul": (lambda x: (x.reshape(2, 2, 3) @ x.reshape(2, 3, 2)).ravel(), (12,)),
    "dot": (lambda x: np.dot(x[:3], x[3:]), (6,)),
    "einsum": (lambda x: cnp.einsum("ij,jk->ik", x.reshape(2, 3), x.reshape(3, 2)).ravel(),
               (6,)),
    "einsum_diagonal": (lambda x: cnp.einsum("ii->i", x.reshape(3, 3)) * 2.0, (9,)),
    "outer": (lambda x: np.outer(x[:2], x[2:]).ravel(), (5,)),
    "where": (lambda x: cnp.where(x > 0, x ** 2, cnp.sin(x[::-1])), (6,)),
    "at_set": (lambda x: cnp.at(x)[1:3].set(x[:2] ** 2), (6,)),
    "at_add_repeated": (lambda x: cnp.at(x)[np.array([1, 1, 4])].add(x[:3] ** 2), (6,)),
    "boolean_index": (lambda x: x[np.array([True, False, True, False, True, False])] ** 3,
                      (6,)),
    "transpose": (lambda x: (x.reshape(2, 3).T * np.arange(6.0).reshape(3, 2)).ravel(), (6,)),
    "broadcast": (lambda x: (x[:3, None] * x[None, 3:]).ravel(), (6,)),
    "diff_pad": (lambda x: cnp.pad(np.diff(x), 1) ** 2, (6,)),
    "tile_repeat": (lambda x: np.tile(x, 2) * np.repeat(x, 2), (3,)),
    "minimum_clip": (lambda x: cnp.minimum(x[:3], cnp.clip(x[3:], -0.5, 0.5)), (6,)),
    "trace_triu": (lambda x: np.triu(x.reshape(3, 3)).ravel() * np.trace(x.reshape(3, 3)),
                   (9,)),
    "tensordot": (lambda x: np.tensordot(x.reshape(2, 3), x.reshape(3, 2), axes=1).ravel(),
                  (6,)),
    "stack": (lambda x: cnp.stack([x[:3], x[3:] ** 2], axis=1).ravel(), (6,)),
    "normalise": (lambda x: x / cnp.sqrt(cnp.sum(x ** 2)), (4,)),
    "solve": (lambda x: cnp.linalg.solve(np.eye(3) + 0.1 * x.reshape(3, 3), np.ones(3)), (9,)),
    "fft": (lambda x: cnp.abs(cnp.fft.fft(x)), (4,)),
    "matrix_input": (lambda x: cnp.sum(x * x[::-1], axis=0), (3, 4)),
    "fori_loop": (lambda x: cr.fori_loop(0, 3, lambda i, c: c * np.roll(c, 1), x), (6,)),
    "cond": (lambda x: cr.cond(x[0] > 0, lambda y: y * 2.0, lambda y: y[::-1], x), (6,)),
    "scan": (lambda x: cr.scan(lambda c, xi: (c * xi, c + xi), x[0], x)[1], (6,)),
    "long_scan": (lambda x: cr.scan(lambda c, xi: (c + xi ** 2, c * xi), 0.0,
                                    cnp.concatenate([x] * 20))[1], (4,)),
    "while_loop": (lambda x: cr.while_loop(lambda c: c[1] < 3,
                                           lambda c: (c[0] * np.roll(c[0], 1), c[1] + 1),
                                           (x, 0))[0], (6,)),
    "checkpoint": (lambda x: cr.checkpoint(lambda y: cnp.sin(y) * y[::-1])(x), (5,)),
    "stop_gradient": (lambda x: cr.stop_gradient(x) * x[::-1], (4,)),
    "custom_jvp": (lambda x: softplus(x) * np.roll(x, 1), (6,)),
    "custom_jvp_two_arguments": (lambda x: reversed_product(x[:3], x[3:]), (6,)),
    "custom_vjp": (lambda x: sine(x) * x[0], (5,)),
    "cond_closure": (lambda x: cr.cond(x[0] > 0, lambda y: y * x[1], lambda y: y[::-1], x[2:]),
                     (6,)),
    "scan_closure": (lambda x: cr.scan(lambda c, xi: (c * xi + x[0], c * x[1]), x[2],
                                       x[3:])[1], (7,)),
    "scan_reverse": (lambda x: cr.scan(lambda c, xi: (c + xi, c * xi), 0.0, x,
                                       reverse=True)[1], (5,)),
    "while_closure": (lambda x: cr.while_loop(lambda c: c[1] < 2,
                                              lambda c: (c[0] + x[0] * c[0][::-1], c[1] + 1),
                                              (x[1:], 0))[0], (6,)),
    "long_fori_loop": (lambda x: cr.fori_loop(0, 100, lambda i, c: c * 0.5 + np.roll(c, 1) * 0.1,
                                              x), (6,)),
}


@pytest.mark.parametrize("name", list(CORPUS))
def test_pattern_never_misses_a_nonzero(name):
    f, shape = CORPUS[name]
    for _ in range(2):
        x = RNG.standard_normal(shape)
        p = cr.jacobian_sparsity(f, x).toarray()
        missed = (dense_jacobian(f, x) != 0) & ~p
        assert not missed.any(), f"{name}: missed {np.argwhere(missed)}"


@pytest.mark.parametrize("name", list(CORPUS))
def test_sparse_jacobian_is_the_dense_jacobian(name):
    f, shape = CORPUS[name]
    x = RNG.standard_normal(shape)
    j = cr.sparse_jacobian(f, x)
    np.testing.assert_allclose(j.toarray(), dense_jacobian(f, x), rtol=1e-12, atol=1e-12)


def test_a_custom_jvp_rule_decides_the_pattern():
    # round has no derivative, the straight-through rule passes the tangent on: the identity
    p = cr.jacobian_sparsity(lambda x: rounded(x) * 2.0 + x[::-1] * 3.0, np.ones(5))
    np.testing.assert_array_equal(p.toarray(), np.eye(5, dtype=bool) | np.eye(5, dtype=bool)[::-1])
    x = RNG.standard_normal(5)
    j = cr.sparse_jacobian(lambda x: rounded(x) * 2.0, x)
    np.testing.assert_array_equal(j.toarray(), 2.0 * np.eye(5))


def test_the_stencil_is_detected_from_value_dependent_branches_too():
    # cnp.where on values: both branches count, whatever the point
    def f(x):
        return cnp.where(x > 0, np.roll(x, 1), np.roll(x, -1)) * x

    for x in (np.ones(6), -np.ones(6)):
        p = cr.jacobian_sparsity(f, x).toarray()
        assert p.sum(axis=1).tolist() == [3] * 6


# ---------------------------------------------------------------------------------------------
# what comes in and what goes out

def test_any_shape_of_x_is_flattened_as_jacfwd_does():
    def f(x):
        return x[:, ::-1] ** 2 + x.T[:4, :3].T

    x = RNG.standard_normal((3, 4))
    j = cr.sparse_jacobian(f, x)
    assert j.shape == (12, 12)
    np.testing.assert_allclose(j.toarray(), np.asarray(cr.jacfwd(f)(x)).reshape(12, 12))


def test_scalar_output_gives_one_row():
    f = CORPUS["normalise"][0]
    x = RNG.standard_normal(4)
    j = cr.sparse_jacobian(lambda x: cnp.sum(f(x) ** 3), x)
    assert j.shape == (1, 4)
    np.testing.assert_allclose(j.toarray()[0], cr.grad(lambda x: cnp.sum(f(x) ** 3))(x))


def test_a_given_pattern_is_used_as_given():
    x = RNG.standard_normal(10)
    want = dense_jacobian(second_difference, x)
    # a dense boolean array, and a superset (the full matrix: one colour per column)
    for pattern in (tridiagonal(10), np.ones((10, 10), bool), sp.coo_matrix(tridiagonal(10))):
        j = cr.sparse_jacobian(second_difference, x, sparsity=pattern)
        np.testing.assert_allclose(j.toarray(), want, rtol=1e-12, atol=1e-12)
        assert j.nnz == np.count_nonzero(pattern.toarray() if sp.issparse(pattern) else pattern)


def test_a_function_of_nothing_has_an_empty_jacobian():
    j = cr.sparse_jacobian(lambda x: cr.stop_gradient(x) * 2.0 + 1.0, np.ones(4))
    assert j.shape == (4, 4) and j.nnz == 0


def test_float32_points():
    x = RNG.standard_normal(6).astype(np.float32)
    j = cr.sparse_jacobian(second_difference, x)
    np.testing.assert_allclose(j.toarray(), dense_jacobian(second_difference, x), rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# methods

def rosenbrock(x):
    return cnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def energy(u):  # the 13-point pattern of a squared 5-point residual
    return cnp.sum(bratu(u) ** 2) + cnp.sum(u ** 4)


@pytest.mark.parametrize("method", ["overload", "graph", "source", "symbolic"])
def test_every_exact_method_gives_the_same_sparse_jacobian(method):
    x = RNG.standard_normal(SIDE * SIDE) * 0.3
    j = cr.sparse_jacobian(bratu, x, method=method)
    np.testing.assert_allclose(j.toarray(), dense_jacobian(bratu, x), rtol=1e-12, atol=1e-12)
    again = cr.sparse_jacobian(bratu, x + 0.1, method=method)  # (graph: the compiled pass again)
    np.testing.assert_allclose(again.toarray(), dense_jacobian(bratu, x + 0.1), rtol=1e-12,
                               atol=1e-12)


def test_the_numeric_method_is_compressed_finite_differences():
    x = RNG.standard_normal(SIDE * SIDE) * 0.3
    j = cr.sparse_jacobian(bratu, x, method="numeric")
    np.testing.assert_allclose(j.toarray(), dense_jacobian(bratu, x), atol=1e-6)


@pytest.mark.parametrize("method", ["overload", "graph", "source"])
def test_every_method_gives_the_same_sparse_hessian(method):
    x = RNG.standard_normal(8)
    h = cr.sparse_hessian(rosenbrock, x, method=method)
    np.testing.assert_allclose(h.toarray(), cr.hessian(rosenbrock)(x), rtol=1e-12, atol=1e-10)


# ---------------------------------------------------------------------------------------------
# Hessians

SYM = (lambda a: a + a.T)(np.where(RNG.random((8, 8)) > 0.75, RNG.standard_normal((8, 8)), 0.0))

HESSIANS = {
    "rosenbrock": (rosenbrock, 8),
    "energy": (energy, SIDE * SIDE),
    "quadratic_form": (lambda x: 0.5 * x @ (SYM @ x) + cnp.sum(cnp.cosh(x)), 8),
    "arrow": (lambda x: cnp.sum(x ** 2) * x[0] + cnp.sum(cnp.sin(x[1:]) * x[0]), 8),
    "roll": (lambda x: cnp.sum(x * np.roll(x, 1) * np.roll(x, -1)), 8),
    "logsumexp": (lambda x: cnp.log(cnp.sum(cnp.exp(x))), 5),
    "separable": (lambda x: cnp.sum(cnp.sin(x) ** 2 + x ** 4), 6),
    "cumsum": (lambda x: cnp.sum(cnp.cumsum(x) ** 3), 5),
    "pairs": (lambda x: cnp.sum(x[::2] * x[1::2]) + cnp.max(x ** 2), 6),
    "fori_loop": (lambda x: cnp.sum(cr.fori_loop(0, 2, lambda i, c: c * np.roll(c, 1), x)), 6),
}


@pytest.mark.parametrize("name", list(HESSIANS))
def test_sparse_hessian_is_the_dense_hessian(name):
    f, n = HESSIANS[name]
    x = RNG.standard_normal(n) * 0.5
    want = np.asarray(cr.hessian(f)(x))
    p = hessian_sparsity(f, x).toarray()
    assert not ((want != 0) & ~p).any(), "the pattern missed a nonzero"
    np.testing.assert_array_equal(p, p.T)
    h = cr.sparse_hessian(f, x)
    assert h.shape == (n, n)
    np.testing.assert_allclose(h.toarray(), want, rtol=1e-10, atol=1e-10)


def test_hessian_patterns_are_exact_for_chains_and_stencils():
    np.testing.assert_array_equal(hessian_sparsity(rosenbrock, np.ones(8)).toarray(),
                                  tridiagonal(8))
    x = np.ones(SIDE * SIDE)
    f5 = five_point(SIDE).astype(int)
    np.testing.assert_array_equal(hessian_sparsity(energy, x).toarray(), (f5 @ f5) > 0)


def test_symmetry_saves_colours():
    x = np.ones(SIDE * SIDE)
    p = hessian_sparsity(energy, x)
    # star colouring of the 13-point pattern against the columns' own colouring
    assert star_coloring(p).max() < column_coloring(p).max()
    assert star_coloring(tridiagonal(40)).max() + 1 <= 3
    arrow_pattern = expected_arrow(30)  # a star: two colours, not thirty
    assert star_coloring(arrow_pattern).max() + 1 == 2


def test_a_hessian_with_a_given_pattern_and_against_differences():
    x = RNG.standard_normal(8)
    h = cr.sparse_hessian(rosenbrock, x, sparsity=sp.triu(sp.csr_matrix(tridiagonal(8))))
    fd = central_differences(cr.grad(rosenbrock), x, h=1e-5)
    np.testing.assert_allclose(h.toarray(), fd, rtol=1e-6, atol=1e-4)


# ---------------------------------------------------------------------------------------------
# colourings are what they claim

def random_symmetric(n, density, seed):
    r = np.random.default_rng(seed)
    a = r.random((n, n)) < density
    return a | a.T | np.eye(n, dtype=bool)


@pytest.mark.parametrize("seed", range(6))
def test_column_colouring_separates_columns_that_share_a_row(seed):
    r = np.random.default_rng(seed)
    p = r.random((25, 30)) < 0.12
    c = column_coloring(p)
    for row in p:
        cols = np.flatnonzero(row)
        assert len(set(c[cols])) == len(cols)


def band(n, offsets):
    return sum(np.eye(n, k=k, dtype=int) for k in offsets) > 0


def grid_stencil(rows, cols, offsets=(-1, 0, 1)):  # a 2-D stencil, numbered row by row
    return (np.kron(band(rows, offsets), np.eye(cols, dtype=bool))
            | np.kron(np.eye(rows, dtype=bool), band(cols, offsets)))


def seven_point(side):  # the 3-D 7-point stencil
    t, i = tridiagonal(side), np.eye(side, dtype=bool)
    return np.kron(np.kron(i, i), t) | np.kron(np.kron(i, t), i) | np.kron(np.kron(t, i), i)


def periodic_five_point(side):
    t = tridiagonal(side)
    t[0, -1] = t[-1, 0] = True
    i = np.eye(side, dtype=bool)
    return np.kron(i, t) | np.kron(t, i)


def assert_separates(p, c):
    """By brute force: the columns of each row have distinct colours."""
    p = np.asarray(p.toarray() if sp.issparse(p) else p, bool)
    assert c.shape == (p.shape[1],) and c.min() >= 0
    for row in p:
        cols = np.flatnonzero(row)
        assert len(set(c[cols].tolist())) == len(cols)


def largest_first_colours(p):
    """The number of colours of the textbook greedy colouring, largest degree first, written
    here naively on the dense conflict matrix."""
    p = np.asarray(p, int)
    conflict = (p.T @ p) > 0
    np.fill_diagonal(conflict, False)
    colour = np.full(p.shape[1], -1)
    for v in np.argsort(-conflict.sum(axis=1), kind="stable"):
        used = set(colour[conflict[v]].tolist())
        c = 0
        while c in used:
            c += 1
        colour[v] = c
    return colour.max() + 1


STRUCTURED = [  # (name, pattern, the longest row's entries: no colouring has fewer colours)
    ("tridiagonal", tridiagonal(40), 3),
    ("pentadiagonal", band(40, range(-2, 3)), 5),
    ("5-point 20 x 20", five_point(20), 5),
    ("5-point 19 x 19", five_point(19), 5),
    ("5-point 7 x 13", grid_stencil(7, 13), 5),
    ("9-point 12 x 12", np.kron(tridiagonal(12), tridiagonal(12)), 9),
    ("7-point 6 x 6 x 6", seven_point(6), 7),
    ("two fields, 5-point", np.kron(five_point(8), np.ones((2, 2), bool)), 10),
    ("5-point, numbered by columns", five_point(9)[np.arange(81).reshape(9, 9).T.ravel()]
     [:, np.arange(81).reshape(9, 9).T.ravel()], 5),
]


@pytest.mark.parametrize("name,p,bound", STRUCTURED, ids=[s[0] for s in STRUCTURED])
def test_structured_grids_take_the_fewest_colours_there_can_be(name, p, bound):
    assert p.sum(axis=1).max() == bound
    for given in (p, sp.csr_matrix(p)):
        c = column_coloring(given)
        assert_separates(p, c)
        assert c.max() + 1 == bound


def test_the_3d_stencil_takes_fewer_colours_than_the_textbook_greedy():
    p = seven_point(6)
    assert column_coloring(p).max() + 1 == 7 < largest_first_colours(p)


FALLBACK = [  # patterns where numbering along chains does not separate the columns
    ("periodic 5-point", periodic_five_point(10)),
    ("upwind", grid_stencil(12, 12, (-2, -1, 0))),
    ("13-point", (five_point(10).astype(int) @ five_point(10).astype(int)) > 0),
    ("random wide", np.random.default_rng(3).random((60, 90)) < 0.06),
    ("random tall", np.random.default_rng(4).random((300, 60)) < 0.05),
    ("random, rows of 60 and more", np.random.default_rng(5).random((30, 100)) < 0.7),
]


@pytest.mark.parametrize("name,p", FALLBACK, ids=[f[0] for f in FALLBACK])
def test_where_the_cheap_colourings_miss_the_bound_the_others_are_tried(name, p):
    c = column_coloring(p)
    assert_separates(p, c)
    assert p.sum(axis=1).max() <= c.max() + 1 <= largest_first_colours(p)


def test_a_colouring_is_as_exact_as_the_dense_jacobian_on_a_larger_grid():
    side = 12

    def residual(u):
        g = u.reshape(side, side)
        p = cnp.pad(g, 1)
        return (p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4.0 * g
                + cnp.sin(g) * g).ravel()

    x = RNG.standard_normal(side * side)
    pattern = cr.jacobian_sparsity(residual, x)
    assert column_coloring(pattern).max() + 1 == 5
    j = cr.sparse_jacobian(residual, x)
    np.testing.assert_allclose(j.toarray(), dense_jacobian(residual, x), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# patterns kept per function

def test_a_second_call_at_another_point_does_not_trace_again(monkeypatch):
    import chainrule.sparse as crs

    traced = []
    real = crs._traced_pattern
    monkeypatch.setattr(crs, "_traced_pattern", lambda *a: traced.append(a[1].shape) or real(*a))

    def residual(x):  # (a new function: nothing kept for it yet)
        return x[:-2] - 2.0 * x[1:-1] + x[2:] + cnp.sin(x[1:-1]) * x[:-2]

    for _ in range(3):
        x = RNG.standard_normal(9)
        j = cr.sparse_jacobian(residual, x)
        np.testing.assert_allclose(j.toarray(), dense_jacobian(residual, x), rtol=1e-12,
                                   atol=1e-12)
    cr.jacobian_sparsity(residual, x)
    assert traced == [(9,)]
    # another shape, another dtype: traced again, each once
    for x in (RNG.standard_normal(12), RNG.standard_normal(12).astype(np.float32)):
        for _ in range(2):
            j = cr.sparse_jacobian(residual, x)
            np.testing.assert_allclose(j.toarray(), dense_jacobian(residual, x), rtol=1e-5)
    assert traced == [(9,), (12,), (12,)]

    def energy_of(x):
        return cnp.sum(residual(x) ** 2)

    for _ in range(2):
        x = RNG.standard_normal(9)
        h = cr.sparse_hessian(energy_of, x)
        np.testing.assert_allclose(h.toarray(), cr.hessian(energy_of)(x), rtol=1e-10,
                                   atol=1e-10)
    assert len(traced) == 4


KEPT_GLOBAL = np.array([[1.0, 0.0, 0.0, 2.0], [0.0, 3.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])


def reads_a_global(x):
    return KEPT_GLOBAL @ x * x[:3]


def test_a_kept_pattern_is_found_again_when_what_f_reads_changes():
    global KEPT_GLOBAL
    weights = np.array([[1.0, 0.0, 0.0, 2.0], [0.0, 3.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])

    def reads_a_closure(x):
        return weights @ x * x[:3]

    x = RNG.standard_normal(4)
    for f in (reads_a_closure, reads_a_global):
        np.testing.assert_allclose(cr.sparse_jacobian(f, x).toarray(), dense_jacobian(f, x),
                                   rtol=1e-12, atol=1e-12)
    weights[1, 0] = 5.0  # in place: a new nonzero, which a stale pattern would leave out
    KEPT_GLOBAL = KEPT_GLOBAL.copy()
    KEPT_GLOBAL[2, 1] = 4.0  # a new array under the global's name
    for f, (i, k) in ((reads_a_closure, (1, 0)), (reads_a_global, (2, 1))):
        assert cr.jacobian_sparsity(f, x)[i, k]
        j = cr.sparse_jacobian(f, x)
        assert j[i, k] != 0
        np.testing.assert_allclose(j.toarray(), dense_jacobian(f, x), rtol=1e-12, atol=1e-12)


def test_a_returned_pattern_is_a_copy():
    x = RNG.standard_normal(7)
    p = cr.jacobian_sparsity(second_difference, x)
    p.indices[:] = 0  # (the caller's to spoil)
    p.data[:] = False
    np.testing.assert_array_equal(cr.jacobian_sparsity(second_difference, x).toarray(),
                                  tridiagonal(7))
    np.testing.assert_allclose(cr.sparse_jacobian(second_difference, x).toarray(),
                               dense_jacobian(second_difference, x), rtol=1e-12, atol=1e-12)
    h = hessian_sparsity(rosenbrock, x)
    h.data[:] = False
    np.testing.assert_array_equal(hessian_sparsity(rosenbrock, x).toarray(), tridiagonal(7))


@pytest.mark.parametrize("seed", range(6))
def test_star_colouring_has_no_two_coloured_path_on_four_vertices(seed):
    a = random_symmetric(24, 0.15, seed)
    np.fill_diagonal(a, False)
    c = star_coloring(a)
    nbrs = [np.flatnonzero(r) for r in a]
    for u, v in itertools.combinations(range(len(a)), 2):
        if a[u, v]:
            assert c[u] != c[v]
    for v, w in zip(*np.nonzero(a)):
        for u in nbrs[v]:
            for x in nbrs[w]:
                if len({u, v, w, x}) == 4 and c[u] == c[w] and c[v] == c[x]:
                    raise AssertionError(f"path {u}-{v}-{w}-{x} has two colours")


@pytest.mark.parametrize("seed", range(4))
def test_symmetric_recovery_on_random_patterns(seed):
    a = random_symmetric(20, 0.2, seed)
    r = np.random.default_rng(seed)
    h = np.where(a, r.standard_normal(a.shape), 0.0)
    h = h + h.T

    def f(x):
        return 0.5 * x @ (h @ x) + cnp.sum(x ** 3)

    x = r.standard_normal(20)
    got = cr.sparse_hessian(f, x)
    np.testing.assert_allclose(got.toarray(), h + np.diag(6.0 * x), rtol=1e-12, atol=1e-12)
    assert star_coloring(a).max() + 1 < 20


# ---------------------------------------------------------------------------------------------
# errors

def test_a_pattern_of_the_wrong_shape_is_refused():
    x = np.ones(6)
    with pytest.raises(ValueError, match=r"sparsity has shape \(6, 5\).*6 element"):
        cr.sparse_jacobian(second_difference, x, sparsity=np.ones((6, 5), bool))
    with pytest.raises(ValueError, match=r"sparsity has shape \(4, 6\).*f\(x\) has 6"):
        cr.sparse_jacobian(second_difference, x, sparsity=np.ones((4, 6), bool))
    with pytest.raises(ValueError, match=r"sparsity has shape \(5, 5\).*\(6, 6\)"):
        cr.sparse_hessian(rosenbrock, x, sparsity=np.ones((5, 5), bool))
    with pytest.raises(ValueError, match=r"shape \(6,\).*must have shape \(f\(x\).size, 6\)"):
        cr.sparse_jacobian(second_difference, x, sparsity=np.ones(6, bool))
    with pytest.raises(ValueError, match="2-D"):
        column_coloring(np.ones(6, bool))


def test_bad_points_and_functions_are_refused():
    with pytest.raises(TypeError, match="real floating-point.*int64"):
        cr.jacobian_sparsity(second_difference, np.arange(4))
    with pytest.raises(TypeError, match="real floating-point.*complex"):
        cr.sparse_jacobian(second_difference, np.ones(4, complex))
    with pytest.raises(TypeError, match="one array"):
        cr.jacobian_sparsity(lambda x: (x, x ** 2), np.ones(3))
    with pytest.raises(TypeError, match="one array"):
        cr.sparse_jacobian(lambda x: (x, x ** 2), np.ones(3), sparsity=np.eye(3))
    with pytest.raises(TypeError, match="sparse_hessian.*scalar"):
        cr.sparse_hessian(second_difference, np.ones(4))
    with pytest.raises(ValueError, match="unknown method"):
        cr.sparse_jacobian(second_difference, np.ones(4), method="magic")


def test_python_control_flow_says_how_to_avoid_it():
    def f(x):
        return x * 2.0 if x[0] > 0 else x

    with pytest.raises(cr.ConcretizationError) as info:
        cr.jacobian_sparsity(f, np.ones(3))
    assert "sparsity=" in "\n".join(getattr(info.value, "__notes__", []))
    j = cr.sparse_jacobian(f, np.ones(3), sparsity=np.eye(3))  # (a given pattern: no tracing)
    np.testing.assert_array_equal(j.toarray(), 2.0 * np.eye(3))


def test_without_scipy_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy.sparse", None)
    with pytest.raises(ImportError, match=r"pip install chainrule\[scipy\]"):
        cr.jacobian_sparsity(second_difference, np.ones(4))
