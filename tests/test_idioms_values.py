"""Issue 15, "Idioms that must work": integer- and boolean-valued NumPy functions on traced values
give plain values (no derivative), ndarray methods on traced values, and `h[i] = traced` naming
the `cnp.at` fix."""
from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule._core.errors import ConcretizationError, InPlaceError
from chainrule._core.primitive import Tracer

X = np.array([3.0, 1.0, 2.0, 3.0, 0.5])
METHODS = ["overload", "source"]


def _fd(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = eps
        g.flat[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


# --- 1. integer-valued functions: the value, computed from the concrete value --------------

QUERIES = {
    "argmax": lambda m, x: m.argmax(x),
    "argmin": lambda m, x: m.argmin(x),
    "argsort": lambda m, x: m.argsort(x, kind="stable"),
    "argpartition": lambda m, x: m.argpartition(x, 2),
    "nonzero": lambda m, x: m.nonzero(x > 1.5),
    "nonzero_traced": lambda m, x: m.nonzero(x - 1.0),
    "unique_counts": lambda m, x: m.unique(x, return_counts=True)[1:],
    "isclose": lambda m, x: m.isclose(x, 3.0),
    "allclose": lambda m, x: m.allclose(x, X),
    "array_equal": lambda m, x: m.array_equal(x, X),
    "searchsorted": lambda m, x: m.searchsorted(np.sort(X), x),
    "searchsorted_a": lambda m, x: m.searchsorted(m.sort(x), 2.5, side="right"),
    "result_type": lambda m, x: m.result_type(x, np.float32),
    "all": lambda m, x: m.all(x > 0.7),
    "any": lambda m, x: m.any(x, axis=0),
}


@pytest.mark.parametrize("module", [np, cnp], ids=["np", "cnp"])
@pytest.mark.parametrize("name", sorted(QUERIES))
def test_query_gives_the_value_under_grad(module, name):
    q = QUERIES[name]
    seen = []

    def f(x):
        seen.append(q(module, x))
        return (x ** 2).sum()

    g = cr.grad(f)(X)
    np.testing.assert_allclose(g, 2 * X)
    expected = q(np, X)
    got = seen[0]
    if isinstance(expected, tuple):
        assert len(got) == len(expected)
        for a, b in zip(got, expected):
            np.testing.assert_array_equal(a, b)
    else:
        assert not isinstance(got, Tracer)
        np.testing.assert_array_equal(got, expected)
        assert np.asarray(got).dtype == np.asarray(expected).dtype
        assert np.ndim(got) == np.ndim(expected)


@pytest.mark.parametrize("method", METHODS)
def test_index_from_argmax_drives_the_derivative(method):
    def f(x):
        i = np.argmax(x)
        j = cnp.argmin(x)
        return x[i] * 2.0 + x[j] * 3.0 + x[np.argsort(x)[1]]

    g = cr.grad(f, method=method)(X)
    np.testing.assert_allclose(g, [2.0, 1.0, 0.0, 0.0, 3.0])  # first max, min, 2nd smallest


@pytest.mark.parametrize("method", METHODS)
def test_value_queries_under_source(method):
    def f(x):
        k = np.searchsorted(np.sort(X), 2.5) + len(np.unique(x)) + np.nonzero(x > 1.5)[0].size
        ok = np.allclose(x, X) and np.array_equal(x, X) and bool(np.all(np.isclose(x, X)))
        return x.sum() * (k + ok)

    np.testing.assert_allclose(cr.grad(f, method=method)(X), np.full(5, 3 + 4 + 3 + 1))


@pytest.mark.parametrize("axis,keepdims", [(None, False), (None, True), (0, False), (1, True),
                                           (-1, False)])
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin_axes_ties_nan(name, axis, keepdims):
    a = np.array([[1.0, 5.0, 5.0, -2.0], [np.nan, 0.0, np.nan, 0.0], [2.0, 2.0, 2.0, 2.0]])
    for m in (a, a.astype(np.float32), np.nan_to_num(a).astype(np.int32), a > 1):
        seen = []

        def f(x, seen=seen):
            seen.append(getattr(np, name)(x, axis=axis, keepdims=keepdims))
            return np.sum(x * 1.0)

        x0 = m.astype(np.float64) if m.dtype.kind == "f" else m
        if x0.dtype.kind == "f":
            cr.grad(f)(x0)
            got = seen[0]
        else:  # integer or boolean inputs are not differentiated: traced by vmap instead
            got = cr.vmap(lambda x: getattr(cnp, name)(x, axis=axis, keepdims=keepdims))(
                x0[None])[0]
        expected = getattr(np, name)(x0, axis=axis, keepdims=keepdims)
        np.testing.assert_array_equal(got, expected)
        assert np.shape(got) == np.shape(expected)


def test_argmax_under_vmap():
    np.testing.assert_array_equal(cr.vmap(np.argmax)(np.eye(3)), [0, 1, 2])
    np.testing.assert_array_equal(cr.vmap(cnp.argmax)(np.eye(3)), [0, 1, 2])
    b = np.array([[1.0, np.nan, 3.0], [3.0, 3.0, 1.0], [0.0, -1.0, -1.0]])
    np.testing.assert_array_equal(cr.vmap(np.argmax)(b), np.argmax(b, axis=1))
    np.testing.assert_array_equal(cr.vmap(np.argmin)(b), np.argmin(b, axis=1))
    np.testing.assert_array_equal(cr.vmap(np.argsort)(b), np.argsort(b, axis=1, kind="stable"))
    np.testing.assert_array_equal(cr.vmap(lambda r: np.searchsorted([0.0, 1.5, 3.0], r))(b[:, :2]
                                  .clip(0)), np.searchsorted([0.0, 1.5, 3.0], b[:, :2].clip(0)))
    np.testing.assert_array_equal(cr.vmap(lambda r: np.isclose(r, 3.0))(b), np.isclose(b, 3.0))
    np.testing.assert_array_equal(cr.vmap(np.all)(b > -0.5), np.all(b > -0.5, axis=1))
    np.testing.assert_array_equal(cr.vmap(lambda r: r.any())(b), np.any(b, axis=1))
    parts = cr.vmap(lambda r: np.argpartition(r, 1))(b)  # a valid partition of each row
    for row, p in zip(b, parts):
        assert sorted(p) == [0, 1, 2]
        assert np.array_equal(np.sort(row)[1], row[p[1]], equal_nan=True)


def test_vmap_of_grad_through_argmax():
    f = cr.vmap(cr.grad(lambda x: x[np.argmax(x)] ** 2))
    np.testing.assert_allclose(f(np.array([[1.0, 3.0], [4.0, 2.0]])), [[0, 6.0], [8.0, 0]])


@pytest.mark.parametrize("method", METHODS)
def test_unique_values_keep_their_derivative(method):
    def f(x):
        u, idx, inv, counts = np.unique(x, return_index=True, return_inverse=True,
                                        return_counts=True)
        return (u ** 2 * counts).sum() + x[idx[0]] * inv[0]

    x = np.array([3.0, 1.0, 2.5, 0.5, 4.0])
    np.testing.assert_allclose(cr.grad(f, method=method)(x), _fd(f, x), atol=1e-6)


def test_shape_dependent_queries_refuse_without_a_value():
    with pytest.raises(ConcretizationError, match="nonzero"):
        cr.vmap(np.nonzero)(np.eye(3))
    with pytest.raises(ConcretizationError, match="unique"):
        cr.vmap(np.unique)(np.eye(3))


# --- 2. ndarray methods on traced values -----------------------------------------------------

A = np.arange(1.0, 10.0).reshape(3, 3) * np.array([1.0, -0.5, 2.0])

DIFF_METHODS = {
    "trace": lambda x: x.trace() ** 2,
    "trace_offset": lambda x: x.trace(1) * x.trace(),
    "diagonal": lambda x: (x.diagonal() ** 3).sum(),
    "diagonal_offset": lambda x: np.sin(x.diagonal(-1)).sum(),
    "take": lambda x: (x.take([0, 4, 4]) ** 2).sum(),
    "take_axis": lambda x: (x.take([2, 0], axis=1) * A[:, :2]).sum(),
    "repeat": lambda x: (x.repeat(2) * np.arange(18.0)).sum(),
    "repeat_axis": lambda x: (x.repeat([1, 2, 0], axis=0) ** 2).sum(),
    "argmax": lambda x: x.ravel()[x.argmax()] * x[x.argmin(axis=0), 0].sum(),
    "argsort": lambda x: (x[0][x[0].argsort()] * np.arange(3.0)).sum(),
    "searchsorted": lambda x: x[0, np.sort(X).searchsorted(1.5)] ** 2,
    "nonzero": lambda x: x[(x > 2).nonzero()].sum(),
    "all_any": lambda x: x.sum() * (1.0 + (x > -9).all() + (x > 100).any() + x.any(axis=1)[0]),
}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("name", sorted(DIFF_METHODS))
def test_method_derivative_matches_finite_differences(name, method):
    f = DIFF_METHODS[name]
    g = cr.grad(f, method=method)(A)
    np.testing.assert_allclose(g, _fd(f, A), rtol=1e-6, atol=1e-6)


def test_methods_under_vmap():
    out = cr.vmap(lambda x: x.trace() + x.diagonal().sum() + x.argmax())(np.stack([A, -A]))
    expected = [2 * np.trace(A) + A.argmax(), -2 * np.trace(A) + (-A).argmax()]
    np.testing.assert_allclose(out, expected)


def test_integer_methods_values():
    seen = {}

    def f(x):
        seen.update(argmax=x.argmax(), argmin=x.argmin(axis=1), argsort=x.argsort(axis=0),
                    nonzero=(x > 2).nonzero(), all=x.all(), any=(x > 100).any(),
                    argpartition=x[0].argpartition(1))
        return x.sum()

    cr.grad(f)(A)
    assert seen["argmax"] == A.argmax() and isinstance(seen["argmax"], np.integer)
    np.testing.assert_array_equal(seen["argmin"], A.argmin(axis=1))
    np.testing.assert_array_equal(seen["argsort"], A.argsort(axis=0, kind="stable"))
    np.testing.assert_array_equal(seen["nonzero"], (A > 2).nonzero())
    assert seen["all"] == A.all() and seen["any"] == (A > 100).any()
    np.testing.assert_array_equal(seen["argpartition"], A[0].argpartition(1))


@pytest.mark.parametrize("method", METHODS)
def test_tolist_raises_naming_stop_gradient(method):
    with pytest.raises(ConcretizationError, match="stop_gradient"):
        cr.grad(lambda x: sum(x.tolist()), method=method)(X)


def _sorts_in_place(x):
    x.sort()
    return x[0]


def test_sort_method_raises_in_place_naming_np_sort():
    with pytest.raises(InPlaceError, match=r"np\.sort\(x\)"):
        cr.grad(_sorts_in_place)(X)


def test_sort_method_under_source_is_refused_as_in_place():
    # the source transform refuses it when it reads the code, before running anything
    with pytest.raises(Exception, match="in place"):
        cr.grad(_sorts_in_place, method="source")(X)


# --- 3. h[i] = traced --------------------------------------------------------------------------

def _writes_into_numpy(x):
    h = np.zeros(3)
    h[1] = x[0]
    return (h * x[:3]).sum()


def test_setitem_into_numpy_array_names_cnp_at():
    with pytest.raises(InPlaceError, match=r"cnp\.at\(y\)\[i\]\.set\(x\)") as info:
        cr.grad(_writes_into_numpy)(X)
    assert "setting an array element with a sequence" not in str(info.value)


def test_setitem_into_numpy_array_under_source_differentiates():
    # the source transform rewrites h[i] = v as a new value (h = setitem(h, i, v)): it works
    g = cr.grad(_writes_into_numpy, method="source")(X)
    np.testing.assert_allclose(g, _fd(_writes_into_numpy, X), atol=1e-6)


def test_setitem_into_numpy_array_under_vmap():
    def f(x):
        h = np.zeros(3)
        h[0] = x[0]
        return h

    with pytest.raises(InPlaceError, match=r"cnp\.at"):
        cr.vmap(f)(np.eye(3))


def test_the_cnp_at_fix_differentiates():
    def f(x):
        h = cnp.at(np.zeros(3))[1].set(x[0])
        return (h * x[:3]).sum()

    np.testing.assert_allclose(cr.grad(f)(X), _fd(f, X), atol=1e-6)
