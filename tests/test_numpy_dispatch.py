"""Plain NumPy code on traced values dispatches into chainrule."""
import numpy as np
import pytest

import chainrule as cr


def test_ufuncs_and_functions_on_traced_values(rng):
    W = rng.standard_normal((3, 2))
    x = rng.standard_normal(3)

    def f(x):
        h = np.tanh(x @ W)
        return np.sum(np.exp(h) * 2.0) + np.mean(np.sin(x) ** 2) + np.max(h)

    h = np.tanh(x @ W)
    dh = np.exp(h) * 2.0
    dh[np.argmax(h)] += 1.0
    want = W @ (dh * (1 - h ** 2)) + 2 * np.sin(x) * np.cos(x) / 3
    np.testing.assert_allclose(cr.grad(f)(x), want, rtol=1e-12)
    np.testing.assert_allclose(cr.jacfwd(f)(x), want, rtol=1e-12)


def test_methods_and_operators(rng):
    x = rng.standard_normal((2, 3))

    def f(x):
        y = (x.T @ x).sum(axis=0) + x.reshape(6)[::2].mean() - abs(-x).max()
        return (y ** 2).sum() / 3.0 + x[..., None].squeeze(-1)[1, 2]

    cr.testing.check_grads(f, (x,), order=2)


def test_ndarray_on_the_left():
    g = cr.grad(lambda x: np.sum(np.array([1.0, 2.0]) * x + np.array([3.0, 4.0]) @ x))
    # d/dx sum(a * x + b @ x) = a + len(x) * b
    np.testing.assert_allclose(g(np.ones(2)), [1.0 + 2 * 3.0, 2.0 + 2 * 4.0])


def test_comparisons_give_plain_booleans():
    def f(x):
        mask = x > 0
        assert isinstance(mask, np.ndarray) and mask.dtype == bool
        return np.sum(np.where(mask, x, 0.0))

    np.testing.assert_allclose(cr.grad(f)(np.array([-1.0, 2.0])), [0.0, 1.0])


@pytest.mark.parametrize("shape_fn", [
    lambda x: np.transpose(x), lambda x: np.swapaxes(x, 0, 1), lambda x: np.moveaxis(x, 0, -1),
    lambda x: np.expand_dims(x, 1), lambda x: np.squeeze(x[None]), lambda x: np.ravel(x),
    lambda x: np.broadcast_to(x, (2, 2, 3)), lambda x: np.concatenate([x, x * 2], axis=1),
    lambda x: np.stack([x, x], axis=-1), lambda x: np.cumsum(x, axis=1),
    lambda x: np.cumprod(x, axis=0), lambda x: np.prod(x, axis=1), lambda x: np.var(x, axis=0),
    lambda x: np.std(x), lambda x: np.tensordot(x, x, axes=([1], [1])),
    lambda x: np.einsum("ij,kj->ik", x, x), lambda x: np.outer(x[0], x[1]),
    lambda x: np.inner(x, x), lambda x: np.dot(x, x.T), lambda x: np.amin(x, axis=0),
])
def test_plain_numpy_shape_and_reduction_functions(shape_fn, rng):
    x = rng.uniform(0.5, 1.5, (2, 3))
    cr.testing.check_grads(lambda a: shape_fn(a), (x,), order=2)
