"""Arrays of a library that will not mix with NumPy's (CuPy) through every engine (issue 17).

Each test runs on `DeviceArray` (tests/device_array.py: a CPU array as strict as CuPy about
mixing, so that these run on every machine) and on CuPy itself where CUDA is. What is checked:
derivatives come back as the library's own arrays (no NumPy array leaks out), equal to the same
method's derivative on NumPy arrays (rtol 1e-12); nothing in chainrule hands the library a NumPy
constant, a NumPy zero, a NumPy seed or a ufunc method (`np.maximum.reduce`) on the way.
"""
from __future__ import annotations

import traceback
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
import test_method_agreement as M
from chainrule._core import tree
from device_array import DeviceArray, MixingError

METHODS = ("overload", "graph", "source")


def _cupy() -> Any:
    try:
        import cupy  # type: ignore[import-not-found]
        if cupy.cuda.runtime.getDeviceCount() > 0:
            return cupy
    except Exception:  # noqa: BLE001 - no CuPy, or CuPy without a CUDA device
        return None
    return None


CUPY = _cupy()


class Library:
    """How a test makes the library's arrays and reads them back."""

    def __init__(self, name: str, array_type: type, to: Any, back: Any) -> None:
        self.name, self.array_type, self.to, self.back = name, array_type, to, back

    def device(self, x: Any) -> Any:
        """A floating NumPy array in the library; anything else as it is."""
        if isinstance(x, np.ndarray) and x.dtype.kind in "fc":
            return self.to(x)
        return x

    def host(self, x: Any) -> Any:
        return self.back(x) if isinstance(x, self.array_type) else x


LIBRARIES = [
    pytest.param(Library("device", DeviceArray, DeviceArray, lambda x: x.get()), id="device"),
    pytest.param(Library("cupy", getattr(CUPY, "ndarray", type(None)),
                         getattr(CUPY, "asarray", None), getattr(CUPY, "asnumpy", None)),
                 id="cupy", marks=pytest.mark.skipif(
                     CUPY is None, reason="CuPy with a CUDA device is not available here")),
]


def loss(w, X):
    return cnp.mean(cnp.tanh(X @ w) ** 2)


def with_maxima(w, X):
    return cnp.max(X @ w) + cnp.sum(cnp.maximum(w, 0.0) ** 2) + cnp.sum(cnp.abs(w))


def plain_numpy(w, X):
    return np.mean(np.tanh(X @ w) ** 2) + np.max(w) ** 2 + np.sum(np.sort(w) * w)


def _hand(w: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """loss's gradient with respect to w and X, by hand."""
    t = np.tanh(X @ w)
    s = 2.0 * t * (1.0 - t * t) / len(X)
    return X.T @ s, np.outer(s, w)


@pytest.mark.parametrize("lib", LIBRARIES)
@pytest.mark.parametrize("method", METHODS)
def test_gradients_are_the_librarys_arrays_and_right(lib: Library, method: str) -> None:
    rng = np.random.default_rng(0)
    Xn, wn = rng.standard_normal((40, 5)), rng.standard_normal(5)
    gw, gX = cr.grad(loss, argnums=(0, 1), method=method)(lib.device(wn), lib.device(Xn))
    assert isinstance(gw, lib.array_type) and isinstance(gX, lib.array_type)
    want_w, want_X = _hand(wn, Xn)
    np.testing.assert_allclose(lib.host(gw), want_w, rtol=1e-12)
    np.testing.assert_allclose(lib.host(gX), want_X, rtol=1e-12)


@pytest.mark.parametrize("lib", LIBRARIES)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("f", [loss, with_maxima, plain_numpy], ids=lambda f: f.__name__)
def test_jacobians_and_hessians_in_the_library(lib: Library, method: str, f: Any) -> None:
    rng = np.random.default_rng(1)
    Xn, wn = rng.standard_normal((12, 4)), rng.standard_normal(4)
    for transform in (cr.grad, cr.jacfwd, cr.jacrev, cr.hessian):
        want = transform(f, method=method)(wn, Xn)
        got = transform(f, method=method)(lib.device(wn), lib.device(Xn))
        assert isinstance(got, lib.array_type), (transform.__name__, type(got))
        np.testing.assert_allclose(lib.host(got), want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("lib", LIBRARIES)
def test_a_scalar_is_zero_dimensional_of_any_library(lib: Library) -> None:
    x = lib.device(np.array([0.5, -1.0, 2.0]))
    value, g = cr.value_and_grad(lambda v: cnp.sum(v ** 3))(x)
    assert isinstance(value, lib.array_type) and value.shape == ()
    np.testing.assert_allclose(lib.host(g), 3.0 * np.array([0.5, -1.0, 2.0]) ** 2, rtol=1e-15)
    # (forward mode too: a tangent of the library's, seeded by the caller)
    out, t = cr.jvp(lambda v: cnp.exp(v) * 2.0, (x,), (lib.device(np.ones(3)),))
    assert isinstance(t, lib.array_type)
    np.testing.assert_allclose(lib.host(t), 2.0 * np.exp([0.5, -1.0, 2.0]), rtol=1e-15)


@pytest.mark.parametrize("lib", LIBRARIES)
@pytest.mark.parametrize("method", METHODS)
def test_control_flow_and_functional_updates_in_the_library(lib: Library, method: str) -> None:
    def f(x):
        y = cr.fori_loop(0, 3, lambda i, c: cnp.sin(c) * 1.5 + x, x)
        z = cnp.at(y)[1].set(y[0] * y[2])
        h, hs = cr.scan(lambda c, v: (c * v, c + v), x[0], x)
        return cnp.sum(z ** 2) + h + cnp.sum(hs)

    xn = np.array([0.3, -0.4, 0.8])
    want = cr.grad(f, method=method)(xn)
    got = cr.grad(f, method=method)(lib.device(xn))
    assert isinstance(got, lib.array_type)
    np.testing.assert_allclose(lib.host(got), want, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# the method-agreement corpus

#: what may refuse on these arrays alone: the message -> why
LIMITS = {
    "names one position twice": "the derivative of an index that repeats a position needs an "
                                "accumulating scatter (np.add.at), which the library lacks",
}
#: corpus programs a method does not yet run on these arrays: (id, method) -> why
KNOWN = {
    ("graph-cond_pytree_operands", "graph"): "a Python float argument, passed through a "
        "cond branch, is broadcast by the compiled code into a NumPy array (a number names no "
        "array library), which then meets the library's arrays",
    ("graph-cond_pytree_operands", "source"): "source makes the Python float argument a NumPy "
        "scalar, and NumPy turns a scalar into a 0-d NumPy array before comparing it with "
        "another library's array (np.float64(0.9) > x)",
}


def _forward_fails(item: Any, args: tuple[Any, ...]) -> bool:
    """Whether the program fails without any derivative: it mixes NumPy arrays into the
    computation itself (its own NumPy constants, np.eye, a module-level matrix, a constant it
    makes with cnp.zeros(n)), as it would on CuPy, or it meets one of LIMITS."""
    try:
        item.fn(*args)
    except MixingError:
        return True
    except NotImplementedError as exc:
        return any(limit in str(exc) for limit in LIMITS)
    return False


def _items() -> list[Any]:
    lib = Library("device", DeviceArray, DeviceArray, lambda x: x.get())
    out = []
    for it in M.ITEMS:
        args = tuple(tree.tree_map(lib.device, a) for a in it.args)
        if any(isinstance(leaf, DeviceArray) for leaf in tree.leaves(args)) \
                and not _forward_fails(it, args):
            out.append(it)
    return out


ITEMS = _items()
CASES = [pytest.param(it, m, id=f"{it.id}-{m}", marks=pytest.mark.xfail(
    strict=True, reason=KNOWN[(it.id, m)]) if (it.id, m) in KNOWN else ())
    for it in ITEMS for m in METHODS]


def test_the_corpus_slice_is_large():
    assert len(ITEMS) >= 85  # (of 136 programs with a floating array argument)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("item,method", CASES)
def test_the_corpus_on_a_strict_array_library_agrees_with_numpy(item: Any, method: str) -> None:
    lib = Library("device", DeviceArray, DeviceArray, lambda x: x.get())
    kind = "grad" if "grad" in item.kinds else "jacrev"
    transform = getattr(cr, kind)
    try:
        want = transform(item.fn, argnums=item.argnums, method=method)(*item.args)
    except Exception as exc:  # noqa: BLE001 - the method refuses the program on NumPy too
        with pytest.raises(type(exc)):
            transform(item.fn, argnums=item.argnums, method=method)(
                *tuple(tree.tree_map(lib.device, a) for a in item.args))
        return
    args = tuple(tree.tree_map(lib.device, a) for a in item.args)
    try:
        got = transform(item.fn, argnums=item.argnums, method=method)(*args)
    except NotImplementedError as exc:
        if any(limit in str(exc) for limit in LIMITS):
            return
        raise
    except MixingError:
        raise AssertionError("chainrule mixed a NumPy array into the library's computation:\n"
                             + traceback.format_exc()) from None
    g_leaves, g_td = tree.flatten(got)
    w_leaves, w_td = tree.flatten(want)
    assert g_td == w_td
    for g, w in zip(g_leaves, w_leaves):
        assert not isinstance(g, np.ndarray), "a NumPy array came out of the library's derivative"
        np.testing.assert_allclose(np.asarray(lib.host(g), float), np.asarray(w, float),
                                   rtol=1e-12, atol=1e-14)
