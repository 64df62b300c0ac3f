"""Real NumPy programs, written with plain `import numpy as np`, differentiated unchanged and
checked against finite differences."""
import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.testing import check_grads


def gaussian_loglik(mu, L_raw, X):
    """Log-likelihood of rows of X under N(mu, Sigma) with Sigma = L L^T + I."""
    n, d = X.shape
    sigma = L_raw @ L_raw.T + np.eye(d)
    sign, logdet = np.linalg.slogdet(sigma)
    centred = X - mu
    sol = np.linalg.solve(sigma, centred.T)
    quad = np.sum(centred.T * sol)
    return -0.5 * (n * d * np.log(2 * np.pi) + n * logdet + quad)


def softmax_regression(W, b, X, y):
    logits = X @ W + b
    logits = logits - np.max(logits, axis=1, keepdims=True)
    logp = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    return -np.mean(logp[np.arange(len(y)), y]) + 1e-3 * np.sum(W ** 2)


def bouncing_ball(state, dt=0.05, steps=40, g=9.81, restitution=0.8):
    """Explicit Euler with a floor: np.where decides the bounce for every ball."""
    pos, vel = state[0], state[1]
    for _ in range(steps):
        vel = vel - g * dt
        pos = pos + vel * dt
        below = pos < 0.0
        vel = np.where(below, -restitution * vel, vel)
        pos = np.where(below, -pos, pos)
    return np.sum(pos ** 2 + 0.1 * vel ** 2)


@pytest.fixture
def data(rng):
    X = rng.standard_normal((6, 3))
    return X


def test_gaussian_loglik_with_slogdet_and_solve(rng, data):
    mu = rng.standard_normal(3)
    L_raw = rng.standard_normal((3, 3)) * 0.5
    check_grads(lambda m, L: gaussian_loglik(m, L, data), (mu, L_raw), order=2)
    # and the closed form for mu: d/dmu = sum_i Sigma^-1 (x_i - mu)
    sigma = L_raw @ L_raw.T + np.eye(3)
    want = np.linalg.solve(sigma, (data - mu).sum(0))
    np.testing.assert_allclose(cr.grad(gaussian_loglik)(mu, L_raw, data), want, rtol=1e-10)


def test_softmax_regression(rng):
    X = rng.standard_normal((8, 4))
    y = rng.integers(0, 3, 8)
    W = rng.standard_normal((4, 3)) * 0.3
    b = rng.standard_normal(3) * 0.1
    check_grads(lambda W, b: softmax_regression(W, b, X, y), (W, b), order=2)
    # closed form: X^T (softmax - onehot) / n + 2e-3 W
    z = X @ W + b
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(8), y] -= 1
    np.testing.assert_allclose(cr.grad(softmax_regression)(W, b, X, y),
                               X.T @ p / 8 + 2e-3 * W, rtol=1e-10)


def test_physics_step_with_where():
    state = np.array([[1.0, 0.6, 2.0], [0.0, 1.5, -0.5]])
    check_grads(bouncing_ball, (state,), order=2, eps=1e-5)
    assert np.all(np.isfinite(cr.grad(bouncing_ball)(state)))


def test_where_trap_gives_finite_correct_gradients():
    sqrt_or_zero = lambda x: cnp.where(x > 0, cnp.sqrt(x), 0.0)  # noqa: E731
    sinc = lambda x: cnp.where(x != 0, cnp.sin(x) / x, 1.0)  # noqa: E731
    with np.errstate(all="ignore"):
        assert cr.grad(sqrt_or_zero)(0.0) == 0.0
        assert cr.grad(sinc)(0.0) == 0.0
        x = np.array([0.0, 0.25, -1.0])
        g = cr.grad(lambda v: cnp.sum(sqrt_or_zero(v) + sinc(v)))(x)
        want = np.array([0.0, 1.0, 0.0]) + np.array(
            [0.0, (0.25 * np.cos(0.25) - np.sin(0.25)) / 0.0625,
             (-1.0 * np.cos(-1.0) - np.sin(-1.0)) / 1.0])
        np.testing.assert_allclose(g, want, rtol=1e-12)
        for jac in (cr.jacfwd, cr.jacrev):
            np.testing.assert_allclose(np.diag(jac(sqrt_or_zero)(x)), [0.0, 1.0, 0.0])
        H = cr.hessian(lambda v: cnp.sum(sqrt_or_zero(v)))(x)
        np.testing.assert_allclose(np.diag(H), [0.0, -1 / (4 * 0.25 ** 1.5), 0.0])
        # written with plain NumPy, unchanged
        g_np = cr.grad(lambda v: np.sum(np.where(v > 0, np.sqrt(v), 0.0)))(x)
        np.testing.assert_allclose(g_np, [0.0, 1.0, 0.0])


def test_real_infinities_are_kept():
    # the strong zero applies only where the cotangent is zero: a real singularity stays
    with np.errstate(all="ignore"):
        assert np.isinf(cr.grad(cnp.sqrt)(0.0))
        assert np.isinf(cr.grad(lambda x: cnp.log(x))(0.0))


def test_non_smooth_conventions():
    assert cr.grad(cnp.abs)(0.0) == 0.0
    assert cr.grad(cnp.relu)(0.0) == 0.0
    assert cr.grad(cnp.maximum, argnums=(0, 1))(1.0, 1.0) == (0.5, 0.5)
    np.testing.assert_allclose(cr.grad(cnp.max)(np.array([1.0, 3.0, 3.0])), [0.0, 0.5, 0.5])
    with np.errstate(divide="ignore"):
        assert cr.grad(cnp.sqrt)(0.0) == np.inf
    assert cr.grad(lambda x: cnp.clip(x, 0.0, 1.0))(1.0) == 1.0  # the bound passes through


def test_silent_conversions_raise():
    with pytest.raises(TypeError, match="drop its derivative"):
        cr.grad(lambda x: float(x) * 2.0)(1.0)
    with pytest.raises(TypeError, match="NumPy array"):
        cr.grad(lambda x: np.asarray(x).sum())(np.ones(2))

    def write_into_numpy(x):
        h = np.zeros(3)
        h[0] = x[0]
        return h.sum()

    # NumPy's element assignment asks for float(x) and, refused, raises its own "setting an
    # array element with a sequence" from chainrule's explanation: the explanation is raised
    with pytest.raises(cr.InPlaceError, match=r"cnp\.at"):
        cr.grad(write_into_numpy)(np.ones(3))

    def in_place(x):
        x[0] = 0.0
        return x.sum()

    with pytest.raises(TypeError, match=r"cnp\.at"):
        cr.grad(in_place)(np.ones(3))


def test_functional_updates_match_numpy_and_differentiate(rng):
    x = rng.standard_normal((3, 4))
    v = rng.standard_normal(3)
    idx = ([0, 0, 2], [1, 1, 3])
    want = x.copy()
    want[idx] = v
    np.testing.assert_allclose(cnp.at(x)[idx].set(v), want)
    want = x.copy()
    np.add.at(want, idx, v)
    np.testing.assert_allclose(cnp.at(x)[idx].add(v), want)
    want = x.copy()
    np.multiply.at(want, idx, v)
    np.testing.assert_allclose(cnp.at(x)[idx].multiply(v), want)
    for mode in ("set", "add", "multiply"):
        check_grads(lambda x, v, mode=mode: getattr(cnp.at(x)[idx], mode)(v), (x, v), order=2)
    # the repeated index: only the last write of .set counts
    g = cr.grad(lambda v: cnp.sum(cnp.at(x)[idx].set(v)))(v)
    np.testing.assert_allclose(g, [0.0, 1.0, 1.0])
