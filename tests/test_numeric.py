"""cr.numeric (finite differences) and method="numeric" on the transforms, against hand-derived
derivatives: each stencil's accuracy at its default step, the step rules, float32, higher orders,
arrays and pytrees, the error curve's V, and the errors for bad input."""
import inspect
import math
import sys

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule import numeric
from chainrule._core import tree
from chainrule.numeric.stencils import stencil_table

EPS = np.finfo(np.float64).eps
COS1, SIN1 = math.cos(1.0), math.sin(1.0)


# ---------------------------------------------------------------------------------------------
# derivative: each stencil at its default step

@pytest.mark.parametrize("stencil,tol", [
    ("forward", 3e-8), ("backward", 3e-8), ("central", 1e-10), ("five_point", 1e-12),
    ("richardson", 1e-13), ("complex_step", 1e-15)])
def test_derivative_of_sin_at_1_default_step(stencil, tol):
    d = numeric.derivative(np.sin, 1.0, stencil)
    assert isinstance(d, np.float64)
    assert abs(d - COS1) < tol


def test_the_stencils_rank_as_their_error_orders_say():
    err = {m: abs(numeric.derivative(np.exp, 0.5, m) - math.exp(0.5)) for m in numeric.STENCILS}
    assert err["complex_step"] <= err["richardson"] < err["five_point"] < err["central"]
    assert err["central"] < 1e-3 * min(err["forward"], err["backward"])


def test_richardson_error_estimate_is_sensible():
    for f, x, exact in [(np.sin, 1.0, COS1), (np.exp, 3.0, math.exp(3.0)),
                        (np.log, 0.01, 100.0), (lambda x: 1 / x, 0.1, -100.0)]:
        value, err = numeric.derivative(f, x, "richardson", full_output=True)
        actual = abs(value - exact)
        assert actual <= err, (f, actual, err)          # it bounds the error ...
        assert err < 1e-11 * max(1.0, abs(exact)), (f, err)  # ... without crying wolf


@pytest.mark.parametrize("stencil", ["forward", "central", "five_point", "complex_step"])
def test_full_output_bounds_the_error_of_the_other_stencils(stencil):
    value, err = numeric.derivative(np.sin, 1.0, stencil, full_output=True)
    assert abs(value - COS1) <= err
    assert err < 1e-6


@pytest.mark.parametrize("h", [1e-8, 1e-20, 1e-100, 1e-200, 1e-300])
def test_complex_step_is_exact_for_any_tiny_step(h):
    assert abs(numeric.derivative(np.sin, 1.0, "complex_step", h=h) - COS1) <= 1e-15
    z = numeric.derivative(cnp.exp, 2.0, "complex_step", h=h)   # chainrule.numpy is complex-safe
    assert abs(z - math.exp(2.0)) <= 2 * EPS * math.exp(2.0)


def test_central_difference_with_a_given_step_follows_its_formula():
    # (sin(1+h) - sin(1-h)) / 2h = cos(1) sin(h)/h exactly, up to rounding
    for h in (0.5, 0.1, 0.01):
        expected = COS1 * math.sin(h) / h
        assert numeric.derivative(np.sin, 1.0, "central", h=h) == pytest.approx(expected,
                                                                                  rel=1e-13)
    # forward: (e^(h) - 1) / h at x = 0
    assert numeric.derivative(np.exp, 0.0, "forward", h=0.5) == pytest.approx(
        (math.exp(0.5) - 1) / 0.5, rel=1e-15)


# ---------------------------------------------------------------------------------------------
# step sizes

def test_default_steps_follow_the_error_model():
    for x in (0.0, 1.0, -3.0, 1e4):
        s = max(1.0, abs(x))
        assert numeric.default_step(x, "forward") == pytest.approx(EPS ** 0.5 * s, rel=1e-6)
        assert numeric.default_step(x, "backward") == pytest.approx(EPS ** 0.5 * s, rel=1e-6)
        assert numeric.default_step(x, "central") == pytest.approx(EPS ** (1 / 3) * s, rel=1e-6)
        assert numeric.default_step(x, "five_point") == pytest.approx(EPS ** 0.2 * s, rel=1e-6)
        assert numeric.default_step(x, "central", order=2) == pytest.approx(EPS ** 0.25 * s,
                                                                           rel=1e-6)
        assert numeric.default_step(x, "complex_step") == pytest.approx(1e-20 * s)


def test_default_steps_are_exact_and_follow_the_dtype():
    for x in (0.1, 1.0 / 3.0, 7.77, -123.456):
        for stencil in ("forward", "central", "five_point", "richardson"):
            h = numeric.default_step(x, stencil)
            assert (x + h) - x == h  # x + h is representable: the quotient divides by h itself
    h32 = numeric.default_step(np.float32(1.0), "central")
    assert h32.dtype == np.float32
    assert h32 == pytest.approx(np.finfo(np.float32).eps ** (1 / 3), rel=1e-4)
    assert h32 > 100 * numeric.default_step(1.0, "central")   # float32 gets a bigger step
    hs = numeric.default_step(np.array([0.5, 2.0, -8.0]), "central")
    assert hs.shape == (3,) and hs[2] == pytest.approx(8 * hs[0], rel=1e-6)


def test_stencil_weights_are_the_textbook_ones():
    offs, ws, p = stencil_table("five_point", 1)
    assert offs == (-2, -1, 1, 2) and p == 4
    assert np.allclose(ws, np.array([1, -8, 8, -1]) / 12)
    offs, ws, p = stencil_table("five_point", 2)
    assert np.allclose(ws, np.array([-1, 16, -30, 16, -1]) / 12) and p == 4
    assert stencil_table("central", 2) == ((-1, 0, 1), (1.0, -2.0, 1.0), 2)
    assert stencil_table("forward", 1) == ((0, 1), (-1.0, 1.0), 1)
    assert stencil_table("backward", 2) == ((-2, -1, 0), (1.0, -2.0, 1.0), 1)
    assert numeric.truncation_order("richardson") == 2  # of its base, before extrapolation


# ---------------------------------------------------------------------------------------------
# higher orders, float32, arrays

@pytest.mark.parametrize("stencil,tol", [
    ("forward", 2e-5), ("backward", 2e-5), ("central", 1e-7), ("five_point", 1e-9),
    ("richardson", 1e-11)])
def test_second_derivative(stencil, tol):
    assert abs(numeric.derivative(np.sin, 1.0, stencil, order=2) + SIN1) < tol
    # x^4 / 12 has second derivative x^2
    assert abs(numeric.derivative(lambda x: x ** 4 / 12, 3.0, stencil, order=2) - 9.0) < 1e4 * tol


def test_third_and_fourth_derivatives():
    assert abs(numeric.derivative(np.sin, 1.0, "central", order=3) + COS1) < 1e-6
    assert abs(numeric.derivative(np.sin, 1.0, "richardson", order=3) + COS1) < 1e-8
    assert abs(numeric.derivative(np.sin, 1.0, "richardson", order=4) - SIN1) < 1e-6


@pytest.mark.parametrize("stencil,tol", [
    ("forward", 1e-3), ("backward", 1e-3), ("central", 3e-5), ("five_point", 3e-5),
    ("richardson", 3e-6), ("complex_step", 1e-7)])
def test_float32_input(stencil, tol):
    d = numeric.derivative(np.sin, np.float32(1.0), stencil)
    assert d.dtype == np.float32
    assert abs(float(d) - COS1) < tol
    d2 = numeric.derivative(np.sin, np.ones(3, np.float32), stencil)
    assert d2.dtype == np.float32 and d2.shape == (3,)


def test_float32_second_derivative():
    d = numeric.derivative(np.sin, np.float32(1.0), "central", order=2)
    assert d.dtype == np.float32 and abs(float(d) + SIN1) < 1e-3


@pytest.mark.parametrize("stencil", numeric.STENCILS)
def test_elementwise_derivative_of_an_array(stencil):
    x = np.linspace(-2.0, 2.0, 7)
    d = numeric.derivative(cnp.tanh, x, stencil)
    assert d.shape == x.shape
    tol = 3e-8 if stencil in ("forward", "backward") else 1e-10
    assert np.allclose(d, 1 - np.tanh(x) ** 2, atol=tol, rtol=0)
    d = numeric.derivative(np.exp, x.reshape(7, 1), stencil, h=np.full((7, 1), 1e-3)
                           if stencil == "central" else None)
    assert d.shape == (7, 1) and np.allclose(d, np.exp(x).reshape(7, 1), rtol=1e-6)


def test_plain_numpy_and_chainrule_numpy_functions_both_work():
    assert numeric.derivative(np.cos, 0.5) == pytest.approx(-math.sin(0.5), abs=1e-10)
    assert numeric.derivative(cnp.cos, 0.5) == pytest.approx(-math.sin(0.5), abs=1e-10)
    assert numeric.derivative(math.sin, 0.5) == pytest.approx(math.cos(0.5), abs=1e-10)


# ---------------------------------------------------------------------------------------------
# grad, jacobian, hessian over arrays and pytrees

def rosenbrock(v):
    return (1 - v[0]) ** 2 + 100 * (v[1] - v[0] ** 2) ** 2


def rosenbrock_grad(x, y):
    return np.array([-2 * (1 - x) - 400 * x * (y - x ** 2), 200 * (y - x ** 2)])


def rosenbrock_hessian(x, y):
    return np.array([[2 - 400 * (y - x ** 2) + 800 * x ** 2, -400 * x], [-400 * x, 200.0]])


@pytest.mark.parametrize("stencil,rtol", [
    ("forward", 1e-5), ("central", 1e-9), ("five_point", 1e-11), ("richardson", 1e-12),
    ("complex_step", 1e-14)])
def test_grad_of_an_array_function(stencil, rtol):
    v = np.array([-1.2, 1.0])
    g = numeric.grad(rosenbrock, v, stencil)
    assert g.shape == (2,) and g.dtype == np.float64
    assert np.allclose(g, rosenbrock_grad(*v), rtol=rtol, atol=0)


@pytest.mark.parametrize("stencil,rtol", [
    ("forward", 1e-3), ("central", 1e-6), ("five_point", 1e-8), ("richardson", 1e-9)])
def test_hessian_of_an_array_function(stencil, rtol):
    v = np.array([-1.2, 1.0])
    H = numeric.hessian(rosenbrock, v, stencil)
    assert H.shape == (2, 2)
    assert np.array_equal(H, H.T)  # exactly symmetric
    assert np.allclose(H, rosenbrock_hessian(*v), rtol=rtol, atol=rtol * 100)


def test_hessian_of_a_matrix_argument_has_shape_in_in():
    X = np.arange(6.0).reshape(2, 3) / 10
    H = numeric.hessian(lambda X: cnp.sum(X ** 3), X)
    assert H.shape == (2, 3, 2, 3)
    expected = np.diag((6 * X).reshape(-1)).reshape(2, 3, 2, 3)
    assert np.allclose(H, expected, atol=1e-6)


@pytest.mark.parametrize("stencil", ["central", "five_point", "richardson", "complex_step"])
def test_jacobian_of_an_array_function(stencil):
    A = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, 1.0]])
    x = np.array([0.3, -0.7, 1.1])
    J = numeric.jacobian(lambda x: A @ x ** 2, x, stencil)
    assert J.shape == (2, 3)
    assert np.allclose(J, A * 2 * x, atol=1e-9)
    M = numeric.jacobian(lambda X: cnp.sin(X), x.reshape(3, 1), stencil)
    assert M.shape == (3, 1, 3, 1)
    assert np.allclose(M.reshape(3, 3), np.diag(np.cos(x)), atol=1e-9)


def params_loss(p):
    a, (b, c) = p["a"], p["bc"]
    return a * cnp.sum(cnp.sin(b)) + c ** 2 * a + 0.0 * p["n"]


P = {"a": 1.5, "bc": (np.array([0.2, -0.4]), 0.7), "n": 3, "tag": "x"}


def test_grad_of_a_pytree():
    for stencil in ("central", "richardson", "complex_step"):
        g = numeric.grad(params_loss, P, stencil)
        assert set(g) == {"a", "bc", "n", "tag"} and g["n"] is None and g["tag"] is None
        b = P["bc"][0]
        assert isinstance(g["a"], np.float64)
        assert g["a"] == pytest.approx(np.sum(np.sin(b)) + 0.49, abs=1e-9)
        assert np.allclose(g["bc"][0], 1.5 * np.cos(b), atol=1e-9)
        assert g["bc"][1] == pytest.approx(2 * 0.7 * 1.5, abs=1e-9)


def test_hessian_of_a_pytree():
    H = numeric.hessian(params_loss, P)
    b = P["bc"][0]
    assert H["n"] is None and H["a"]["n"] is None
    assert H["a"]["a"].shape == () and H["a"]["a"] == pytest.approx(0.0, abs=1e-6)
    assert np.allclose(H["a"]["bc"][0], np.cos(b), atol=1e-6)
    assert np.allclose(H["bc"][0]["a"], np.cos(b), atol=1e-6)
    assert H["bc"][0]["bc"][0].shape == (2, 2)
    assert np.allclose(H["bc"][0]["bc"][0], np.diag(-1.5 * np.sin(b)), atol=1e-6)
    assert H["bc"][1]["bc"][1] == pytest.approx(3.0, abs=1e-6)
    assert H["bc"][1]["a"] == pytest.approx(1.4, abs=1e-6)


def test_jacobian_of_pytrees_has_output_structure_outside():
    def f(p):
        return {"o": p["a"] * p["b"], "q": (cnp.sum(p["b"]), 7)}

    J = numeric.jacobian(f, {"a": 2.0, "b": np.arange(3.0)})
    assert J["q"][1] is None  # an integer output has no derivative
    assert np.allclose(J["o"]["a"], np.arange(3.0)) and J["o"]["a"].shape == (3,)
    assert np.allclose(J["o"]["b"], 2 * np.eye(3))
    assert np.allclose(J["q"][0]["b"], np.ones(3)) and J["q"][0]["a"].shape == ()


def test_step_per_leaf():
    g = numeric.grad(lambda p: p["x"] ** 2 + p["y"] ** 2, {"x": 1.0, "y": 2.0},
                     h={"x": 0.5, "y": 0.25})
    # central differences are exact on quadratics, whatever the step
    assert g["x"] == pytest.approx(2.0, abs=1e-14) and g["y"] == pytest.approx(4.0, abs=1e-14)


def test_float32_leaves_keep_their_dtype():
    x = np.array([0.5, 1.0], np.float32)
    g = numeric.grad(lambda x: cnp.sum(cnp.sin(x)), x)
    assert g.dtype == np.float32 and np.allclose(g, np.cos(x), atol=3e-5)
    assert numeric.hessian(lambda x: cnp.sum(cnp.sin(x)), x).dtype == np.float32


# ---------------------------------------------------------------------------------------------
# method="numeric" on the transforms

def textbook(x1, x2):
    return cnp.log(x1) + x1 * x2 - cnp.sin(x2)


def same_structure(a, b):
    la, ta = tree.flatten(a)
    lb, tb = tree.flatten(b)
    assert ta == tb
    for x, y in zip(la, lb):
        assert (x is None) == (y is None)
        if x is not None:
            assert np.shape(x) == np.shape(y)
    return la, lb


def test_textbook_example_numeric():
    g = cr.grad(textbook, argnums=(0, 1), method="numeric")(2.0, 5.0)
    assert isinstance(g, tuple) and len(g) == 2
    assert g[0] == pytest.approx(5.5, abs=1e-9)
    assert g[1] == pytest.approx(2.0 - math.cos(5.0), abs=1e-9)
    J = cr.jacfwd(textbook, argnums=0, method="numeric")(2.0, 5.0)
    assert J.shape == () and float(J) == pytest.approx(5.5, abs=1e-9)


def test_grad_and_value_and_grad_numeric():
    f = lambda x, y: x * x * y  # noqa: E731
    assert cr.grad(f, method="numeric")(3.0, 2.0) == pytest.approx(12.0, abs=1e-8)
    assert cr.grad(f, argnums=1, method="numeric")(3.0, 2.0) == pytest.approx(9.0, abs=1e-8)
    assert cr.grad(f, argnums=-1, method="numeric")(3.0, 2.0) == pytest.approx(9.0, abs=1e-8)
    v, (gx, gy) = cr.value_and_grad(f, argnums=(0, 1), method="numeric")(3.0, 2.0)
    assert v == 18.0 and gx == pytest.approx(12.0, abs=1e-8) and gy == pytest.approx(9.0)
    x = np.array([0.1, 0.5, 2.0])
    g = cr.grad(lambda x: cnp.sum(cnp.exp(x) * x), method="numeric")(x)
    assert np.allclose(g, np.exp(x) * (1 + x), rtol=1e-9)
    assert cr.grad(lambda x, k=1.0: x * k, method="numeric")(2.0, k=3.0) == pytest.approx(3.0)


def test_numeric_grad_has_the_overload_structure_on_pytrees():
    want = cr.grad(params_loss)(P)
    got = cr.grad(params_loss, method="numeric")(P)
    for a, b in zip(*same_structure(want, got)):
        if a is not None:
            assert type(a) is type(b) and np.allclose(a, b, atol=1e-9)


@pytest.mark.parametrize("jac", [cr.jacfwd, cr.jacrev])
def test_numeric_jacobians(jac):
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    x = np.array([0.1, -0.2])
    J = jac(lambda x: cnp.tanh(A @ x), method="numeric")(x)
    assert J.shape == (2, 2)
    assert np.allclose(J, (1 - np.tanh(A @ x) ** 2)[:, None] * A, atol=1e-9)
    f = lambda x, y: x * y  # noqa: E731
    Jx, Jy = jac(f, argnums=(0, 1), method="numeric")(np.ones(2), 3.0)
    assert np.allclose(Jx, 3 * np.eye(2)) and np.allclose(Jy, np.ones(2))
    same_structure(jac(f, argnums=(0, 1))(np.ones(2), 3.0), (Jx, Jy))


def test_numeric_hessian():
    g = lambda x: cnp.sum(cnp.exp(x)) * cnp.sum(x ** 2)  # noqa: E731
    x = np.array([0.1, -0.2])
    s, q = np.sum(np.exp(x)), np.sum(x ** 2)
    exact = (np.diag(np.exp(x)) * q + 2 * np.outer(np.exp(x), x) + 2 * np.outer(x, np.exp(x))
             + 2 * s * np.eye(2))
    H = cr.hessian(g, method="numeric")(x)
    assert H.shape == (2, 2) and np.allclose(H, exact, atol=1e-6)
    assert np.array_equal(H, H.T)
    # a tuple of argnums: a tuple of tuples, like the overload method's
    f = lambda x, y: cnp.sum(x ** 2 * y)  # noqa: E731
    Hn = cr.hessian(f, argnums=(0, 1), method="numeric")(np.ones(2), 2.0)
    same_structure(cr.hessian(f, argnums=(0, 1))(np.ones(2), 2.0), Hn)
    assert np.allclose(Hn[0][0], 4 * np.eye(2), atol=1e-6)
    assert np.allclose(Hn[0][1], [2.0, 2.0], atol=1e-6)
    assert np.allclose(Hn[1][0], [2.0, 2.0], atol=1e-6) and abs(Hn[1][1]) < 1e-6
    assert cr.hessian(lambda x: x ** 3, method="numeric")(2.0) == pytest.approx(12.0, abs=1e-5)
    same_structure(cr.hessian(params_loss)(P), cr.hessian(params_loss, method="numeric")(P))


def test_numeric_hvp():
    g = lambda x: cnp.sum(x ** 3) + x[0] * x[1]  # noqa: E731
    x, v = np.array([1.0, -2.0]), np.array([0.5, 1.5])
    H = np.diag(6 * x) + np.array([[0.0, 1.0], [1.0, 0.0]])
    hv = cr.hvp(g, (x,), (v,), method="numeric")
    assert hv.shape == (2,) and np.allclose(hv, H @ v, atol=1e-6)
    # several primals give a tuple
    f = lambda w, b: cnp.sum(w ** 2) * b  # noqa: E731
    hw, hb = cr.hvp(f, (np.ones(3), 0.5), (np.ones(3), 1.0), method="numeric")
    assert np.allclose(hw, 2 * 0.5 + 2 * 1.0, atol=1e-6) and hb == pytest.approx(6.0, abs=1e-6)
    # a pytree with a scalar and an integer leaf
    loss = lambda p: cnp.sum(p["w"] ** 2) * p["b"]  # noqa: E731
    out = cr.hvp(loss, ({"w": np.ones(3), "b": 0.5, "n": 3},),
                 ({"w": np.ones(3), "b": 1.0, "n": 0},), method="numeric")
    assert out["n"] is None and out["b"] == pytest.approx(6.0, abs=1e-6)
    assert np.allclose(out["w"], 3.0, atol=1e-6)
    assert np.all(cr.hvp(g, (x,), (np.zeros(2),), method="numeric") == 0)


def test_numeric_vjp_and_jvp():
    f = lambda x, y: cnp.sin(x) * y  # noqa: E731
    x, y = np.array([0.3, 1.1]), 2.0
    out, vjp_fn = cr.vjp(f, x, y, method="numeric")
    assert np.array_equal(out, np.sin(x) * y)
    ct = np.array([1.0, -0.5])
    cx, cy = vjp_fn(ct)
    assert np.allclose(cx, ct * np.cos(x) * y, atol=1e-9)
    assert cy == pytest.approx(np.sum(ct * np.sin(x)), abs=1e-9)
    assert np.allclose(vjp_fn(2 * ct)[0], 2 * cx)  # the Jacobian is reused
    out, t = cr.jvp(f, (x, y), (np.array([1.0, 0.0]), 1.0), method="numeric")
    assert np.array_equal(out, np.sin(x) * y)
    assert np.allclose(t, [np.cos(0.3) * 2 + np.sin(0.3), np.sin(1.1)], atol=1e-9)
    _, t0 = cr.jvp(f, (x, y), (np.zeros(2), 0.0), method="numeric")
    assert np.all(t0 == 0)


def test_numeric_vjp_and_jvp_on_pytrees():
    def f(p):
        return {"o": p["a"] * p["b"], "q": (cnp.sum(p["b"]),)}

    p = {"a": 2.0, "b": np.arange(3.0)}
    ct = {"o": np.ones(3), "q": (2.0,)}
    (want,) = cr.vjp(f, p)[1](ct)
    (got,) = cr.vjp(f, p, method="numeric")[1](ct)
    for a, b in zip(*same_structure(want, got)):
        assert np.allclose(a, b, atol=1e-9)
    want_out, want_t = cr.jvp(f, (p,), (p,))
    got_out, got_t = cr.jvp(f, (p,), (p,), method="numeric")
    for a, b in zip(*same_structure(want_t, got_t)):
        assert np.allclose(a, b, atol=1e-9)


def test_numeric_transforms_compose_with_themselves():
    d2 = cr.grad(cr.grad(lambda x: x ** 3, method="numeric"), method="numeric")(1.0)
    assert d2 == pytest.approx(6.0, abs=1e-4)


# ---------------------------------------------------------------------------------------------
# the error curve

HS = np.logspace(-16, 0, 33)


def test_error_curve_of_sin_at_1():
    curve = numeric.error_curve(cnp.sin, 1.0, HS)
    assert isinstance(curve, dict) and tuple(curve) == numeric.STENCILS
    assert all(e.shape == HS.shape for e in curve.values())
    assert curve.exact == pytest.approx(COS1, abs=1e-16)  # forward-mode AD
    best = curve.best()
    h, err = best["central"]
    assert err < 1e-9 and 1e-6 <= h <= 1e-4           # central: ~1e-11 near h ~ 1e-5
    assert min(curve["central"]) < 1e-9
    assert curve["complex_step"][HS <= 1e-8].max() <= 2.3e-16  # ~eps for every tiny step
    h, err = best["forward"]
    assert 1e-9 <= h <= 1e-7 and err < 1e-7
    assert best["richardson"][1] < best["five_point"][1] < best["central"][1] < best["forward"][1]


def test_error_curve_is_v_shaped():
    curve = numeric.error_curve(np.sin, 1.0, HS, stencils=["forward", "central"], exact=COS1)
    for errs in curve.values():
        k = int(np.argmin(errs))
        assert errs[0] > 1e4 * errs[k] and errs[-1] > 1e4 * errs[k]  # round-off | truncation
    # truncation: the forward error halves with h, the central error quarters
    e = curve["forward"]
    assert e[-3] / e[-5] == pytest.approx(10, rel=0.2)     # two half-decades: h 10x smaller
    e = curve["central"]
    assert e[-3] / e[-5] == pytest.approx(100, rel=0.2)


def test_error_curve_options():
    exact = numeric.error_curve(np.sin, 1.0, [1e-3], exact=COS1)
    ad = numeric.error_curve(cnp.sin, 1.0, [1e-3])
    assert all(np.array_equal(exact[m], ad[m]) for m in numeric.STENCILS)
    second = numeric.error_curve(cnp.sin, 1.0, order=2)
    assert "complex_step" not in second and second.exact == pytest.approx(-SIN1)
    assert second.best()["central"][1] < 1e-6
    arr = numeric.error_curve(cnp.exp, np.array([0.0, 1.0]), [1e-4], stencils="central")
    assert list(arr) == ["central"] and arr["central"][0] < 1e-7 * math.e
    assert numeric.error_curve(cnp.sin, 1.0, HS).table().splitlines()[0].split() == [
        "stencil", "best", "h", "min", "error"]


def test_plot_error_curve(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "curve.png"
    assert numeric.plot_error_curve(cnp.sin, 1.0, path=path) == path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_error_curve_without_matplotlib(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        numeric.plot_error_curve(np.sin, 1.0, path=tmp_path / "x.png")


# ---------------------------------------------------------------------------------------------
# errors

def test_unknown_stencil_names_the_valid_ones():
    with pytest.raises(ValueError, match="forward.*backward.*central.*five_point.*richardson"
                                         ".*complex_step"):
        numeric.derivative(np.sin, 1.0, "centre")
    with pytest.raises(ValueError, match="complex_step"):
        numeric.grad(rosenbrock, np.ones(2), stencil="secant")
    # the message names the keyword, stencil= (method= picks the engine elsewhere)
    with pytest.raises(ValueError, match="unknown stencil='centre'"):
        numeric.derivative(np.sin, 1.0, stencil="centre")
    with pytest.raises(ValueError, match="unknown stencil='secant'"):
        numeric.hessian(rosenbrock, np.ones(2), "secant")
    with pytest.raises(ValueError, match="unknown stencil='secant'"):
        numeric.error_curve(np.sin, 1.0, stencils=["central", "secant"], exact=COS1)


# ---------------------------------------------------------------------------------------------
# the old keyword: method= (now stencil=) and methods= (now stencils=)

def test_the_stencil_keyword_is_in_the_signatures():
    for fn in (numeric.derivative, numeric.grad, numeric.jacobian, numeric.hessian,
               numeric.default_step, numeric.truncation_order):
        params = inspect.signature(fn).parameters
        assert "stencil" in params and "method" not in params, fn.__name__
    for fn in (numeric.error_curve, numeric.plot_error_curve):
        params = inspect.signature(fn).parameters
        assert "stencils" in params and "methods" not in params, fn.__name__
    assert numeric.METHODS is numeric.STENCILS
    assert numeric.HIGHER_ORDER_METHODS is numeric.HIGHER_ORDER_STENCILS


def test_the_old_method_keyword_still_works_with_a_deprecation_warning():
    v = np.array([-1.2, 1.0])
    with pytest.warns(DeprecationWarning, match="method= is deprecated, use stencil="):
        d = numeric.derivative(np.sin, 1.0, method="forward")
    assert d == numeric.derivative(np.sin, 1.0, stencil="forward")
    with pytest.warns(DeprecationWarning, match="stencil="):
        d2 = numeric.derivative(np.sin, 1.0, method="richardson", order=2)
    assert d2 == numeric.derivative(np.sin, 1.0, "richardson", order=2)
    with pytest.warns(DeprecationWarning, match="grad.*stencil="):
        g = numeric.grad(rosenbrock, v, method="five_point")
    assert np.array_equal(g, numeric.grad(rosenbrock, v, "five_point"))
    with pytest.warns(DeprecationWarning, match="jacobian.*stencil="):
        J = numeric.jacobian(cnp.sin, v, method="complex_step")
    assert np.array_equal(J, numeric.jacobian(cnp.sin, v, "complex_step"))
    with pytest.warns(DeprecationWarning, match="hessian.*stencil="):
        H = numeric.hessian(rosenbrock, v, method="central", h=1e-3)
    assert np.array_equal(H, numeric.hessian(rosenbrock, v, "central", h=1e-3))
    with pytest.warns(DeprecationWarning, match="default_step.*stencil="):
        assert numeric.default_step(1.0, method="forward") == numeric.default_step(1.0, "forward")
    with pytest.warns(DeprecationWarning, match="truncation_order.*stencil="):
        assert numeric.truncation_order(method="five_point") == 4
    with pytest.warns(DeprecationWarning, match="methods= is deprecated, use stencils="):
        curve = numeric.error_curve(np.sin, 1.0, [1e-3], methods=["central"], exact=COS1)
    assert list(curve) == ["central"]
    # the old keyword still goes through the checks of the new one
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="stencil='centre'"):
        numeric.derivative(np.sin, 1.0, method="centre")


def test_giving_both_the_old_and_the_new_keyword_is_a_type_error():
    with pytest.raises(TypeError, match="both stencil= and method="):
        numeric.derivative(np.sin, 1.0, stencil="central", method="forward")
    with pytest.raises(TypeError, match="both stencil= and method="):
        numeric.derivative(np.sin, 1.0, "central", method="forward")  # stencil by position
    with pytest.raises(TypeError, match="both stencil= and method="):
        numeric.grad(rosenbrock, np.ones(2), "central", method="forward")
    with pytest.raises(TypeError, match="both stencil= and method="):
        numeric.truncation_order("central", method="forward")
    with pytest.raises(TypeError, match="both stencils= and methods="):
        numeric.error_curve(np.sin, 1.0, [1e-3], ["central"], methods=["forward"])
    with pytest.raises(TypeError, match="both stencils= and methods="):
        numeric.plot_error_curve(np.sin, 1.0, stencils=["central"], methods=["forward"])


def test_complex_step_needs_a_complex_safe_function():
    with pytest.raises(TypeError, match="complex_step.*real value"):
        numeric.derivative(lambda x: np.abs(np.sin(x)), 1.0, "complex_step")
    with pytest.raises(TypeError, match="complex_step.*real value"):
        numeric.derivative(lambda x: np.real(x) ** 2, 1.0, "complex_step")

    def writes_into_a_float_array(x):
        out = np.zeros(1)
        out[0] = x * 2.0  # NumPy drops the imaginary part here, with a ComplexWarning
        return out[0]

    with pytest.raises(TypeError, match="cast a complex value to real"):
        numeric.derivative(writes_into_a_float_array, 1.0, "complex_step")
    with pytest.raises(TypeError, match="complex_step"):
        numeric.grad(lambda x: np.abs(x[0]) + np.abs(x[1]), np.ones(2), "complex_step")
    with pytest.raises(ValueError, match="real x"):
        numeric.derivative(np.sin, 1.0 + 1.0j, "complex_step")


def test_order_errors_name_the_stencils_that_support_it():
    with pytest.raises(ValueError, match="first derivatives only.*'central'.*'richardson'"):
        numeric.derivative(np.sin, 1.0, "complex_step", order=2)
    with pytest.raises(ValueError, match="first derivatives only"):
        numeric.hessian(rosenbrock, np.ones(2), "complex_step")
    with pytest.raises(ValueError, match="five_point.*order 1 and 2"):
        numeric.derivative(np.sin, 1.0, "five_point", order=3)
    with pytest.raises(ValueError, match="positive integer"):
        numeric.derivative(np.sin, 1.0, order=0)


def test_bad_steps_and_inputs():
    with pytest.raises(ValueError, match="x \\+ h == x"):
        numeric.derivative(np.sin, 1.0, h=1e-17)
    with pytest.raises(ValueError, match="positive"):
        numeric.derivative(np.sin, 1.0, h=-0.1)
    with pytest.raises(ValueError, match="broadcastable"):
        numeric.derivative(np.sin, np.ones(3), h=np.ones(2))
    with pytest.raises(TypeError, match="dtype int64.*3.0"):
        numeric.derivative(np.sin, 3)
    with pytest.raises(TypeError, match="cr.numeric.grad"):
        numeric.derivative(np.sin, (1.0, 2.0))
    with pytest.raises(TypeError, match="jacobian"):
        numeric.grad(lambda x: x * 2, np.ones(2))
    with pytest.raises(ValueError, match="structure"):
        numeric.grad(lambda p: p["x"], {"x": 1.0}, h={"y": 0.1})


def test_numeric_transform_errors_match_the_overload_method():
    for fn in (cr.grad, cr.jacrev, cr.hessian):
        with pytest.raises(TypeError) as want:
            fn(lambda x: x * 2.0)(3)
        with pytest.raises(TypeError) as got:
            fn(lambda x: x * 2.0, method="numeric")(3)
        # (the overload hessian names its inner jacfwd; the message is otherwise the same)
        assert str(got.value).split(":", 1)[1] == str(want.value).split(":", 1)[1]
        assert str(got.value).startswith(fn.__name__)
    with pytest.raises(TypeError, match="shape \\(2,\\).*jacrev"):
        cr.grad(lambda x: x, method="numeric")(np.ones(2))
    with pytest.raises(TypeError, match="dtype int64"):
        cr.jvp(lambda x: x, (3,), (1.0,), method="numeric")
    with pytest.raises(ValueError, match="\\(3,\\).*\\(2,\\)"):
        cr.vjp(lambda x: x * 2, np.ones(2), method="numeric")[1](np.ones(3))
    with pytest.raises(ValueError, match="\\(3,\\).*\\(2,\\)"):
        cr.jvp(lambda x: x, (np.ones(2),), (np.ones(3),), method="numeric")
    with pytest.raises(ValueError, match="argnums"):
        cr.grad(lambda x: x, argnums=2, method="numeric")(1.0)


def test_numeric_under_an_ad_transform_is_refused_clearly():
    with pytest.raises(TypeError, match="outermost"):
        cr.grad(cr.grad(lambda x: x ** 3, method="numeric"))(1.0)
