"""chainrule.scipy.integrate.odeint and solve_ivp: values against closed forms and SciPy,
derivatives (adjoint in reverse mode, sensitivity equations in forward mode) against closed forms
(the matrix exponential and its Frechet derivative), central differences of SciPy's own solver,
and the naive route (differentiating through a fine fixed-step RK4 loop); every method that
handles the primitive; second order; errors for bad input. The rules' table entries (second
order against finite differences, batching against a loop) are in tests/cases_ode.py."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.integrate
from scipy.linalg import expm, expm_frechet

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.scipy.integrate import odeint, solve_ivp

METHODS = ["overload", "graph", "source"]

A = np.array([[-0.5, 1.0], [-1.0, -0.3]])
Y0 = np.array([1.0, 0.5])
T = np.array([0.0, 0.4, 1.0, 1.7])
W = np.array([[1.0, 2.0], [0.5, -1.0], [0.3, 0.2], [1.0, 1.0]])  # weights of the outputs


def linear(y, t, a):
    return a @ y


def loss(y0, a, t):
    return cnp.sum(W * odeint(linear, y0, t, a, rtol=1e-11, atol=1e-11))


def exact(y0, a, t):
    return np.stack([expm(a * (s - t[0])) @ y0 for s in t])


def exact_grads(y0, a, t):
    """d loss / d (y0, A, t) of the closed form y_i = expm(A (t_i - t_0)) y0."""
    g_y0 = sum(expm(a * (s - t[0])).T @ w for s, w in zip(t, W))
    g_a = np.zeros_like(a)
    g_t = np.zeros_like(t)
    for i, (s, w) in enumerate(zip(t, W)):
        dt = s - t[0]
        # d/dA of w . expm(A dt) y0 is dt * (Frechet derivative of expm at A dt)^T applied
        for j, k in np.ndindex(a.shape):
            e = np.zeros_like(a)
            e[j, k] = 1.0
            g_a[j, k] += w @ expm_frechet(a * dt, e * dt, compute_expm=False) @ y0
        rate = w @ a @ expm(a * dt) @ y0
        if i > 0:
            g_t[i] += rate
            g_t[0] -= rate
    return g_y0, g_a, g_t


def test_values_match_the_matrix_exponential_and_scipy():
    ys = odeint(linear, Y0, T, A, rtol=1e-11, atol=1e-11)
    assert ys.shape == (4, 2)
    np.testing.assert_allclose(ys, exact(Y0, A, T), rtol=1e-9, atol=1e-10)
    # the default tolerances are JAX's; the value is SciPy's LSODA at them
    want = scipy.integrate.odeint(lambda y, t: A @ y, Y0, T, rtol=1.4e-8, atol=1.4e-8)
    np.testing.assert_allclose(odeint(linear, Y0, T, A), want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("method", METHODS)
def test_gradients_in_y0_a_and_t_match_the_closed_form(method):
    got = cr.grad(loss, argnums=(0, 1, 2), method=method)(Y0, A, T)
    for g, w in zip(got, exact_grads(Y0, A, T)):
        np.testing.assert_allclose(g, w, rtol=1e-7, atol=1e-8)


def test_gradients_match_central_differences_of_the_closed_form():
    g = cr.grad(loss, argnums=(0, 1, 2))(Y0, A, T)
    args = [Y0, A, T]
    for k, x in enumerate(args):
        fd = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            e = np.zeros_like(x)
            e[idx] = 1e-6
            up, down = list(args), list(args)
            up[k], down[k] = x + e, x - e
            fd[idx] = (np.sum(W * exact(*up)) - np.sum(W * exact(*down))) / 2e-6
        np.testing.assert_allclose(g[k], fd, rtol=1e-6, atol=1e-7)


def rk4_loss(a, steps):
    """The naive route: a fixed-step RK4 loop from t=0 to t=1.7, differentiated through."""
    h = 1.7 / steps

    def step(i, y):
        k1 = a @ y
        k2 = a @ (y + 0.5 * h * k1)
        k3 = a @ (y + 0.5 * h * k2)
        k4 = a @ (y + h * k3)
        return y + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)

    y = cr.fori_loop(0, steps, step, cnp.asarray(Y0))
    return cnp.sum(W[-1] * y)


def test_adjoint_gradient_agrees_with_differentiating_a_fine_rk4_loop():
    def adjoint_loss(a):
        ys = odeint(linear, Y0, np.array([0.0, 1.7]), a, rtol=1e-11, atol=1e-11)
        return cnp.sum(W[-1] * ys[-1])

    g_adjoint = cr.grad(adjoint_loss)(A)
    g_naive = cr.grad(lambda a: rk4_loss(a, 400))(A)
    np.testing.assert_allclose(g_adjoint, g_naive, rtol=1e-8, atol=1e-9)
    # and the forward mode (sensitivity equations) with it
    np.testing.assert_allclose(cr.jacfwd(adjoint_loss)(A), g_naive, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_forward_mode_equals_reverse_mode(method):
    def solution(y0, a, t):
        return odeint(linear, y0, t, a, rtol=1e-11, atol=1e-11)

    for arg in (0, 1, 2):
        jf = cr.jacfwd(solution, argnums=arg, method=method)(Y0, A, T)
        jr = cr.jacrev(solution, argnums=arg, method=method)(Y0, A, T)
        assert jf.shape == jr.shape == (4, 2) + np.shape((Y0, A, T)[arg])
        np.testing.assert_allclose(jf, jr, rtol=1e-8, atol=1e-9)
    v = np.array([0.3, -0.2])
    _, tangent = cr.jvp(lambda y0: solution(y0, A, T), (Y0,), (v,), method=method)
    np.testing.assert_allclose(tangent, exact(v, A, T), rtol=1e-8, atol=1e-9)


def lotka_volterra(z, t, p):
    u, v = z[0], z[1]
    return cnp.stack([p[0] * u - p[1] * u * v, p[2] * u * v - p[3] * v])


LV_P = np.array([1.1, 0.4, 0.1, 0.4])
LV_Z0 = np.array([10.0, 5.0])
LV_T = np.linspace(0.0, 5.0, 11)


def lv_reference(z0, p):
    """SciPy's own solver on plain values, at tight tolerances (for central differences)."""
    return scipy.integrate.odeint(lambda z, t: np.array(
        [p[0] * z[0] - p[1] * z[0] * z[1], p[2] * z[0] * z[1] - p[3] * z[1]]), z0, LV_T,
        rtol=1e-12, atol=1e-12)


def test_lotka_volterra_gradient_matches_central_differences():
    target = lv_reference(LV_Z0, LV_P * 1.05)

    def lv_loss(z0, p):
        zs = odeint(lotka_volterra, z0, LV_T, p, rtol=1e-10, atol=1e-10)
        return cnp.sum((zs - target) ** 2)

    g_z0, g_p = cr.grad(lv_loss, argnums=(0, 1))(LV_Z0, LV_P)
    for x, g, which in ((LV_Z0, g_z0, 0), (LV_P, g_p, 1)):
        for k in range(x.size):
            e = np.zeros_like(x)
            e[k] = 1e-5
            args_up = [LV_Z0, LV_P]
            args_dn = [LV_Z0, LV_P]
            args_up[which], args_dn[which] = x + e, x - e
            fd = (np.sum((lv_reference(*args_up) - target) ** 2)
                  - np.sum((lv_reference(*args_dn) - target) ** 2)) / 2e-5
            assert g[k] == pytest.approx(fd, rel=2e-5, abs=1e-5)


def test_reverse_mode_memory_does_not_grow_with_the_solver_steps():
    """The adjoint keeps the solution at the output times only: four times the right-hand
    side evaluations (a tighter tolerance) leave the gradient's peak memory about the same."""
    import gc
    import tracemalloc

    rng = np.random.default_rng(0)
    n = 16
    w0 = rng.standard_normal((n, n)) * 1.5 / np.sqrt(n)
    y0 = rng.standard_normal(n)
    calls = []

    def rates(y, t, w):
        calls.append(1)
        return -y + cnp.tanh(w @ y)

    def final(w, tol):
        ys = odeint(rates, y0, np.array([0.0, 5.0]), w, rtol=tol, atol=tol)
        return cnp.sum(ys[-1] ** 2)

    grad = cr.grad(final)
    peaks, evaluations = [], []
    for tol in (1e-4, 1e-10):
        grad(w0, tol)  # (warm: caches filled before measuring)
        calls.clear()
        gc.collect()
        tracemalloc.start()
        try:
            grad(w0, tol)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        evaluations.append(len(calls))
    assert evaluations[1] > 3 * evaluations[0]
    assert peaks[1] < 1.6 * peaks[0], (peaks, evaluations)


def test_hessian_matches_finite_differences_of_the_closed_form():
    def final_energy(a):
        y = odeint(linear, Y0, np.array([0.0, 1.2]), a, rtol=1e-11, atol=1e-11)[-1]
        return cnp.sum(y ** 2)

    def closed(a):
        return np.sum((expm(a * 1.2) @ Y0) ** 2)

    h = 1e-4
    want = np.zeros((2, 2, 2, 2))
    for i in np.ndindex(2, 2):
        for j in np.ndindex(2, 2):
            ei, ej = np.zeros((2, 2)), np.zeros((2, 2))
            ei[i], ej[j] = h, h
            want[i + j] = (closed(A + ei + ej) - closed(A + ei - ej) - closed(A - ei + ej)
                           + closed(A - ei - ej)) / (4 * h * h)
    np.testing.assert_allclose(cr.hessian(final_energy)(A), want, rtol=1e-5, atol=1e-6)
    # reverse over reverse: the adjoint of the adjoint system
    np.testing.assert_allclose(cr.jacrev(cr.grad(final_energy))(A), want, rtol=1e-5, atol=1e-6)


def test_vmap_over_initial_states_and_parameters():
    y0s = np.array([[1.0, 0.5], [0.2, -0.3], [2.0, 1.0]])
    got = cr.vmap(lambda y0: odeint(linear, y0, T, A, rtol=1e-11, atol=1e-11))(y0s)
    np.testing.assert_allclose(got, np.stack([exact(y, A, T) for y in y0s]), rtol=1e-8,
                               atol=1e-9)
    scales = np.array([0.5, 1.0, 1.5])
    got = cr.vmap(lambda s: odeint(linear, Y0, T, s * A, rtol=1e-11, atol=1e-11))(scales)
    np.testing.assert_allclose(got, np.stack([exact(Y0, s * A, T) for s in scales]), rtol=1e-8,
                               atol=1e-9)


def test_pytree_state_and_arguments():
    def rates(state, t, params):
        return {"x": state["v"], "v": -params["k"] * state["x"] - params["c"] * state["v"]}

    ts = np.linspace(0.0, 2.0, 5)

    def final_position(k):
        out = odeint(rates, {"x": 1.0, "v": 0.0}, ts, {"k": k, "c": 0.1}, rtol=1e-10,
                     atol=1e-10)
        assert set(out) == {"x", "v"} and np.shape(out["x"]) == (5,)
        return out["x"][-1]

    def reference(k):
        return scipy.integrate.odeint(lambda z, t: [z[1], -k * z[0] - 0.1 * z[1]], [1.0, 0.0],
                                      ts, rtol=1e-12, atol=1e-12)[-1, 0]

    assert float(final_position(2.0)) == pytest.approx(reference(2.0), rel=1e-8)
    fd = (reference(2.0 + 1e-6) - reference(2.0 - 1e-6)) / 2e-6
    assert float(cr.grad(final_position)(2.0)) == pytest.approx(fd, rel=1e-5)
    assert float(cr.jvp(final_position, (2.0,), (1.0,))[1]) == pytest.approx(fd, rel=1e-5)


def test_float32_state_keeps_its_dtype_and_integer_state_becomes_float():
    assert odeint(linear, Y0.astype(np.float32), T, A).dtype == np.float32
    ys = odeint(lambda y, t: -y, np.array([1, 2]), T)
    assert ys.dtype == np.float64
    np.testing.assert_allclose(ys[-1], np.exp(-1.7) * np.array([1.0, 2.0]), rtol=1e-6)


def test_nondifferentiable_arguments_are_constants():
    def rates(y, t, k, label):
        assert label == "decay"
        return -k * y

    g = cr.grad(lambda k: odeint(rates, 1.0, np.array([0.0, 1.0]), k, "decay",
                                 rtol=1e-10, atol=1e-10)[-1])(0.5)
    assert float(g) == pytest.approx(-np.exp(-0.5), rel=1e-7)


# ---------------------------------------------------------------------------------------------
# solve_ivp

@pytest.mark.parametrize("method", ["RK45", "DOP853", "LSODA", "Radau"])
def test_solve_ivp_values_match_scipy(method):
    def fun(t, z, p):
        return cnp.stack([p[0] * z[0] - p[1] * z[0] * z[1], p[2] * z[0] * z[1] - p[3] * z[1]])

    def plain(t, z, p):
        return np.array([p[0] * z[0] - p[1] * z[0] * z[1], p[2] * z[0] * z[1] - p[3] * z[1]])

    t_eval = np.linspace(0.0, 3.0, 7)
    ours = solve_ivp(fun, (0.0, 3.0), LV_Z0, method=method, t_eval=t_eval, args=(LV_P,))
    theirs = scipy.integrate.solve_ivp(plain, (0.0, 3.0), LV_Z0, method=method,
                                       t_eval=t_eval, args=(LV_P,))
    assert ours.success and ours.y.shape == (2, 7)
    np.testing.assert_array_equal(ours.t, t_eval)
    np.testing.assert_allclose(ours.y, theirs.y, rtol=1e-12, atol=1e-12)


def test_solve_ivp_without_t_eval_returns_the_solvers_steps():
    fun = lambda t, y: -0.5 * y  # noqa: E731
    ours = solve_ivp(fun, (0.0, 4.0), np.array([2.0, 1.0]))
    theirs = scipy.integrate.solve_ivp(fun, (0.0, 4.0), np.array([2.0, 1.0]))
    np.testing.assert_array_equal(ours.t, theirs.t)
    np.testing.assert_allclose(ours.y, theirs.y, rtol=1e-12, atol=1e-12)
    g = cr.grad(lambda y0: cnp.sum(solve_ivp(fun, (0.0, 4.0), y0, rtol=1e-10,
                                             atol=1e-10).y[:, -1]))(np.array([2.0, 1.0]))
    np.testing.assert_allclose(g, np.exp(-2.0) * np.ones(2), rtol=1e-7)


@pytest.mark.parametrize("method", ["overload", "source"])  # (graph: no steps without values)
def test_solve_ivp_without_t_eval_last_value_moves_with_both_ends(method):
    # y' = -y/2 + sin t: the last value is y(tf), so d/dtf = f(tf, y(tf)) (it was 0: the
    # solver's last step was a constant) and d/dt0 = -Phi(tf, t0) f(t0, y0)
    fun = lambda t, y: -0.5 * y + cnp.sin(t)  # noqa: E731
    y0 = np.array([1.0, 2.0])

    def last(span):
        return solve_ivp(fun, (span[0], span[1]), y0, rtol=1e-11, atol=1e-12).y[:, -1]

    span = np.array([0.0, 1.5])
    y_tf = np.asarray(last(span))
    want = np.stack([-np.exp(-0.75) * (-0.5 * y0 + np.sin(0.0)), -0.5 * y_tf + np.sin(1.5)],
                    axis=1)
    np.testing.assert_allclose(cr.jacrev(last, method=method)(span), want, rtol=1e-8)
    np.testing.assert_allclose(cr.jacfwd(last, method=method)(span), want, rtol=1e-8)


@pytest.mark.parametrize("method", METHODS)
def test_solve_ivp_gradients_in_y0_args_t_eval_and_t0(method):
    def final(y0, a, t_eval, t0):
        res = solve_ivp(lambda t, y, a: a @ y, (t0, 2.0), y0, "DOP853", t_eval, args=(a,),
                        rtol=1e-11, atol=1e-11)
        return cnp.sum(W[:3] * cnp.transpose(res.y))

    t_eval = np.array([0.5, 1.2, 2.0])
    t0 = 0.1

    def closed(y0, a, t_eval, t0):
        return np.sum(W[:3] * np.stack([expm(a * (s - t0)) @ y0 for s in t_eval]))

    got = cr.grad(final, argnums=(0, 1, 2, 3), method=method)(Y0, A, t_eval, t0)
    args = [Y0, A, t_eval, np.float64(t0)]
    for k, x in enumerate(args):
        fd = np.zeros(np.shape(x))
        for idx in np.ndindex(np.shape(x)):
            e = np.zeros(np.shape(x))
            e[idx] = 1e-6
            up, down = list(args), list(args)
            up[k], down[k] = x + e, x - e
            fd[idx] = (closed(*up) - closed(*down)) / 2e-6
        np.testing.assert_allclose(got[k], fd, rtol=1e-6, atol=1e-7)


def test_solve_ivp_backwards_in_time():
    res = solve_ivp(lambda t, y, k: -k * y, (2.0, 0.0), np.array([1.0]), t_eval=[1.0, 0.0],
                    args=(0.5,), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res.y[0], np.exp(0.5 * np.array([1.0, 2.0])), rtol=1e-8)
    g = cr.grad(lambda k: solve_ivp(lambda t, y, k: -k * y, (2.0, 0.0), np.array([1.0]),
                                    t_eval=[0.0], args=(k,), rtol=1e-10,
                                    atol=1e-12).y[0, 0])(0.5)
    assert float(g) == pytest.approx(2.0 * np.exp(1.0), rel=1e-7)


# ---------------------------------------------------------------------------------------------
# errors

def test_times_must_increase():
    with pytest.raises(ValueError, match=r"t must be strictly increasing.*t\[2\]"):
        odeint(linear, Y0, np.array([0.0, 1.0, 0.5]), A)
    with pytest.raises(ValueError, match="1-d array"):
        odeint(linear, Y0, np.zeros((2, 2)), A)
    with pytest.raises(ValueError, match="t_eval must be strictly increasing"):
        solve_ivp(lambda t, y: -y, (0.0, 1.0), Y0, t_eval=[0.5, 0.2])
    with pytest.raises(ValueError, match="within t_span"):
        solve_ivp(lambda t, y: -y, (0.0, 1.0), Y0, t_eval=[0.5, 2.0])


def test_func_output_must_match_y0():
    with pytest.raises(ValueError, match=r"shape \(3,\) for y of shape \(2,\)"):
        odeint(lambda y, t: cnp.ones(3), Y0, T)
    with pytest.raises(ValueError, match="structure"):
        odeint(lambda y, t: [y[0], y[1]], Y0, T)
    with pytest.raises(ValueError, match="shape"):
        cr.grad(lambda a: cnp.sum(odeint(lambda y, t, a: a, Y0, T, a)))(A)
    with pytest.raises(ValueError, match="y0 must be 1-dimensional"):
        solve_ivp(lambda t, y: -y, (0.0, 1.0), np.ones((2, 2)))


def test_closure_over_a_differentiated_value_is_refused_with_the_fix():
    with pytest.raises(TypeError, match="extra argument"):
        cr.grad(lambda k: odeint(lambda y, t: -k * y, 1.0, T)[-1])(0.5)


def test_bad_options():
    with pytest.raises(ValueError, match="rtol and atol must be positive"):
        odeint(linear, Y0, T, A, rtol=-1.0)
    with pytest.raises(NotImplementedError, match="dense_output"):
        solve_ivp(lambda t, y: -y, (0.0, 1.0), Y0, dense_output=True)
    with pytest.raises(NotImplementedError, match="events"):
        solve_ivp(lambda t, y: -y, (0.0, 1.0), Y0, events=lambda t, y: y[0])
    with pytest.raises(ValueError, match="method="):
        solve_ivp(lambda t, y: -y, (0.0, 1.0), Y0, method="Euler")
    with pytest.raises(TypeError, match="complex"):
        odeint(lambda y, t: -y, np.array([1.0 + 1j]), T)
    with pytest.raises(RuntimeError, match="raise mxstep"):
        odeint(lambda y, t: -y, Y0, np.array([0.0, 100.0]), mxstep=3)
