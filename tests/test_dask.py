"""Dask arrays through every engine (issue 17): derivatives of functions of chunked Dask arrays
are Dask arrays, lazy until computed, equal to NumPy's.

The method-agreement corpus (tests/test_method_agreement.py's ITEMS) runs with each floating
array argument made a Dask array, in overload, graph and source, against the same method on the
NumPy arguments (rtol 1e-12). A program the method refuses on NumPy must be refused the same way
on Dask; the only other outcomes allowed are Dask's own limits, named below with their reason.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

import chainrule as cr  # noqa: E402
import chainrule.numpy as cnp  # noqa: E402
import test_method_agreement as M  # noqa: E402
from chainrule._core import tree  # noqa: E402

METHODS = ("overload", "graph", "source")

# Dask's own limits met by corpus programs (their forward pass, or a function they call): the
# message Dask raises -> why. Anything else a program raises on Dask and not on NumPy fails.
DASK_LIMITS = {
    "Don't yet support nd fancy indexing": "Dask indexes with one integer array at a time "
                                           "(x[rows, labels] is refused by Dask itself)",
    "object has no attribute 'chunks'": "dask.array.linalg.solve with a NumPy matrix and a "
                                        "Dask right-hand side fails inside Dask",
    "names one position twice": "chainrule's refusal: the derivative of an index that repeats "
                                "a position needs np.add.at, which Dask arrays do not have",
}


def to_dask(x: Any) -> Any:
    """A floating array as a Dask array: square matrices in one chunk (Dask's LU and Cholesky
    take square chunks only), others split in two along their first axis."""
    if isinstance(x, np.ndarray) and x.dtype.kind == "f" and x.ndim >= 1:
        if x.ndim == 2 and x.shape[0] == x.shape[1]:
            return da.from_array(x, chunks=x.shape)
        return da.from_array(x, chunks=(max(1, (x.shape[0] + 1) // 2),) + x.shape[1:])
    return x


def computed(t: Any) -> Any:
    return tree.tree_map(lambda v: v.compute() if hasattr(v, "compute") else v, t)


def _dask_items() -> list[Any]:
    """Every corpus program with a floating array argument."""
    items = [it for it in M.ITEMS
             if any(to_dask(leaf) is not leaf for leaf in tree.leaves(it.args))]
    return items


ITEMS = _dask_items()


def _derivative(item: Any, method: str, args: tuple[Any, ...]) -> Any:
    kind = "grad" if "grad" in item.kinds else "jacrev"
    return getattr(cr, kind)(item.fn, argnums=item.argnums, method=method)(*args)


@pytest.mark.filterwarnings("ignore")  # (Dask's warnings about NumPy functions it runs as they are)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("item", ITEMS, ids=[it.id for it in ITEMS])
def test_the_corpus_with_dask_arrays_agrees_with_numpy(item: Any, method: str) -> None:
    dargs = tuple(tree.tree_map(to_dask, a) for a in item.args)
    try:
        want = _derivative(item, method, item.args)
    except Exception as exc:  # noqa: BLE001 - the method refuses the program on NumPy
        with pytest.raises(type(exc)):
            computed(_derivative(item, method, dargs))
        return
    try:
        got = computed(_derivative(item, method, dargs))
    except Exception as exc:
        if any(limit in str(exc) for limit in DASK_LIMITS):
            return
        raise
    g_leaves, g_td = tree.flatten(got)
    w_leaves, w_td = tree.flatten(want)
    assert g_td == w_td
    for g, w in zip(g_leaves, w_leaves):
        np.testing.assert_allclose(np.asarray(g, float), np.asarray(w, float), rtol=1e-12,
                                   atol=1e-14)


def test_the_corpus_slice_is_large():
    assert len(ITEMS) >= 130  # (every program with a floating array argument)


def _never_computed(dsk: Any, keys: Any, **kwargs: Any) -> Any:
    raise AssertionError("a Dask array was computed while the derivative was being built")


def loss(w, X):
    return cnp.mean(cnp.tanh(X @ w) ** 2)


@pytest.mark.parametrize("method", METHODS)
def test_gradients_stay_lazy_and_keep_the_chunks(method: str) -> None:
    rng = np.random.default_rng(0)
    Xn = rng.standard_normal((400, 30))
    wn = 0.1 * rng.standard_normal(30)
    X = da.from_array(Xn, chunks=(100, 30))
    with dask.config.set(scheduler=_never_computed):
        gw, gX = cr.grad(loss, argnums=(0, 1), method=method)(wn, X)
    assert isinstance(gw, da.Array) and isinstance(gX, da.Array)
    assert gX.chunks == X.chunks  # (a gradient with respect to a Dask array: its chunks)
    t = np.tanh(Xn @ wn)
    s = 2.0 * t * (1.0 - t * t) / len(Xn)  # d loss / d (X @ w), by hand
    np.testing.assert_allclose(gw.compute(), Xn.T @ s, rtol=1e-12)
    np.testing.assert_allclose(gX.compute(), np.outer(s, wn), rtol=1e-12)


def cubic_tanh(x, a):
    return cnp.tanh(a @ x) + x ** 3


def exp_quartic(x, a):
    return cnp.sum(cnp.exp(a @ x)) + (x @ x) ** 2


@pytest.mark.parametrize("method", METHODS)
def test_jacobians_and_hessians_of_dask_arrays(method: str) -> None:
    rng = np.random.default_rng(1)
    a = 0.3 * rng.standard_normal((6, 6))
    x = rng.standard_normal(6)
    xd, ad = da.from_array(x, chunks=3), da.from_array(a, chunks=3)
    t = np.tanh(a @ x)
    jac = (1.0 - t * t)[:, None] * a + np.diag(3.0 * x * x)
    e, s = np.exp(a @ x), x @ x
    hess = (a.T * e) @ a + 8.0 * np.outer(x, x) + 4.0 * s * np.eye(6)
    for transform in (cr.jacrev, cr.jacfwd):
        got = transform(cubic_tanh, method=method)(xd, ad)
        np.testing.assert_allclose(np.asarray(computed(got)), jac, rtol=1e-12)
    got = cr.hessian(exp_quartic, method=method)(xd, ad)
    np.testing.assert_allclose(np.asarray(computed(got)), hess, rtol=1e-12)


def unused_X(w, X):
    return cnp.sum(w * 2.0)


@pytest.mark.parametrize("method", METHODS)
def test_the_gradient_of_an_unused_dask_argument_is_lazy_zeros_with_its_chunks(method: str):
    X = da.ones((4, 3), chunks=(2, 3))
    with dask.config.set(scheduler=_never_computed):
        g = cr.grad(unused_X, argnums=1, method=method)(np.ones(3), X)
    assert isinstance(g, da.Array) and g.chunks == X.chunks
    np.testing.assert_array_equal(g.compute(), np.zeros((4, 3)))
