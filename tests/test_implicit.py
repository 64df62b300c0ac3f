"""Implicit differentiation of solvers: cr.custom_root, cr.fixed_point and
chainrule.scipy.optimize (minimize, root, fixed_point).

Derivatives are checked against hand-derived formulas (the square root, a linear system, ridge
regression's closed form, the fixed point of cos), against finite differences of the solution
computed on plain values, and against the naive route (differentiating the unrolled iterations),
in the overload, graph and source methods, forward and reverse, to second order. Other tests
prove the iterations are not differentiated: a black-box SciPy solver works, and the traced
evaluations of f do not grow with the solver's iteration count."""
from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
import scipy.optimize as so

import chainrule as cr
import chainrule.numpy as cnp
import chainrule.scipy.optimize as copt
from chainrule import implicit
from chainrule._core.primitive import Tracer

METHODS = ["overload", "graph", "source"]


def scalar_solve(g, y):
    return y / g(1.0)


def newton(f, x):
    """Newton's method taking f's derivative with chainrule (on plain values)."""
    for _ in range(50):
        x = x - f(x) / cr.grad(f)(x)
    return x


def brentq(f, x0):
    """A black box: SciPy's bracketing solver, which converts f's values to Python floats (a
    traced value would be refused there)."""
    return so.brentq(lambda t: float(f(t)), 0.0, 10.0, xtol=1e-15, rtol=4 * np.finfo(float).eps)


def sqrt_root(a):
    return cr.custom_root(lambda x: x ** 2 - a, 1.0, newton, scalar_solve)


def central(f, x, h=1e-5):
    """Central differences of f (plain values) along each entry of x."""
    x = np.asarray(x, dtype=float)
    out = []
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = h
        e = e.reshape(x.shape)
        out.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h))
    return np.moveaxis(np.array(out), 0, -1).reshape(np.shape(f(x)) + x.shape)


# ---------------------------------------------------------------------------------------------
# hand-derived derivatives

@pytest.mark.parametrize("method", METHODS)
def test_sqrt_by_newton_first_and_second_derivative(method):
    a = 2.5
    assert float(sqrt_root(a)) == pytest.approx(np.sqrt(a), rel=1e-15)
    assert cr.grad(sqrt_root, method=method)(a) == pytest.approx(0.5 / np.sqrt(a), rel=1e-12)
    assert cr.jvp(sqrt_root, (a,), (2.0,), method=method)[1] == \
        pytest.approx(1.0 / np.sqrt(a), rel=1e-12)
    second = -0.25 * a ** -1.5
    assert cr.hessian(sqrt_root, method=method)(a) == pytest.approx(second, rel=1e-10)
    assert cr.grad(cr.grad(sqrt_root, method=method), method=method)(a) == \
        pytest.approx(second, rel=1e-10)


def test_third_derivative_and_every_composition():
    a = 4.0
    assert cr.grad(cr.grad(cr.grad(sqrt_root)))(a) == pytest.approx(3 / 8 * a ** -2.5,
                                                                     rel=1e-10)
    for outer, inner in [(cr.jacfwd, cr.jacrev), (cr.jacrev, cr.jacfwd), (cr.jacrev, cr.jacrev),
                         (cr.jacfwd, cr.jacfwd)]:
        assert outer(inner(sqrt_root))(a) == pytest.approx(-0.25 * a ** -1.5, rel=1e-10)


def linear_root(A, b):
    """The solution of A x = b as a root, found by a dense solve of the (affine) residual."""
    def solve(f, x0):
        return x0 - implicit.dense_solve(lambda v: f(v) - f(np.zeros_like(x0)), f(x0))
    return cr.custom_root(lambda x: A @ x - b, np.zeros(b.shape), solve, implicit.dense_solve)


@pytest.mark.parametrize("method", METHODS)
def test_linear_system_solution_against_the_inverse(method):
    A = np.array([[3.0, 1.0, 0.2], [0.5, 2.0, -0.3], [0.1, 0.4, 1.5]])
    b = np.array([1.0, -1.0, 0.5])
    Ai = np.linalg.inv(A)
    x = Ai @ b
    np.testing.assert_allclose(linear_root(A, b), x, rtol=1e-13)
    dA = -np.einsum("ij,k->ijk", Ai, x)  # dx_i/dA_jk = -(A^-1)_ij x_k
    for jac in (cr.jacfwd, cr.jacrev):
        JA, Jb = jac(linear_root, argnums=(0, 1), method=method)(A, b)
        np.testing.assert_allclose(Jb, Ai, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(JA, dA, rtol=1e-12, atol=1e-14)


X_RIDGE = np.array([[1.0, 0.5, -0.2], [0.3, 2.0, 0.1], [1.5, -1.0, 0.7], [0.2, 0.3, -1.1],
                    [-0.6, 0.8, 0.4]])
Y_RIDGE = np.array([1.0, 2.0, 0.5, -0.3, 0.9])


def ridge_loss(w, lam):
    return 0.5 * cnp.sum((X_RIDGE @ w - Y_RIDGE) ** 2) + 0.5 * lam * cnp.sum(w ** 2)


def ridge_norm(lam):
    w = copt.minimize(ridge_loss, np.zeros(3), args=(lam,), method="BFGS",
                      options={"gtol": 1e-13}).x
    return cnp.sum(w ** 2)


@pytest.mark.parametrize("method", METHODS)
def test_ridge_minimiser_against_its_closed_form(method):
    lam = 0.7
    M = X_RIDGE.T @ X_RIDGE + lam * np.eye(3)
    w = np.linalg.solve(M, X_RIDGE.T @ Y_RIDGE)
    dw = -np.linalg.solve(M, w)                     # dw/dlam
    d2w = 2 * np.linalg.solve(M, np.linalg.solve(M, w))
    g = 2 * w @ dw
    h = 2 * (dw @ dw + w @ d2w)
    assert float(ridge_norm(lam)) == pytest.approx(w @ w, rel=1e-10)
    assert cr.grad(ridge_norm, method=method)(lam) == pytest.approx(g, rel=1e-8)
    assert cr.jvp(ridge_norm, (lam,), (1.0,), method=method)[1] == pytest.approx(g, rel=1e-8)
    assert cr.hessian(ridge_norm, method=method)(lam) == pytest.approx(h, rel=1e-7)


def cos_point(a):
    return cr.fixed_point(lambda x, a: cnp.cos(a * x), 0.5, a, tol=1e-14)


@pytest.mark.parametrize("method", METHODS)
def test_fixed_point_of_cos_forward_reverse_and_second_order(method):
    a = 0.9
    x = float(cos_point(a))
    assert x == pytest.approx(np.cos(a * x), abs=1e-14)
    s = np.sin(a * x)
    exact = -x * s / (1 + a * s)                    # from x = cos(a x)
    assert cr.grad(cos_point, method=method)(a) == pytest.approx(exact, rel=1e-10)
    assert cr.jvp(cos_point, (a,), (1.0,), method=method)[1] == pytest.approx(exact, rel=1e-10)
    plain_grad = cr.grad(cos_point)
    fd2 = (plain_grad(a + 1e-5) - plain_grad(a - 1e-5)) / 2e-5
    assert cr.hessian(cos_point, method=method)(a) == pytest.approx(fd2, rel=1e-6)


# ---------------------------------------------------------------------------------------------
# finite differences and the naive route (unrolled iterations), pytrees of parameters

def contraction(x, p):
    """A contraction of pytrees: {"u", "v"} -> {"u", "v"}."""
    return {"u": 0.5 * cnp.tanh(x["v"]) + p["c"],
            "v": 0.3 * cnp.sin(x["u"]) * p["d"] + 0.1 * x["v"]}


X0 = {"u": np.zeros(2), "v": np.zeros(2)}
P0 = {"c": np.array([0.2, -0.1]), "d": 1.5}


def fp_objective(c, d):
    x = cr.fixed_point(contraction, X0, {"c": c, "d": d}, tol=1e-14)
    return cnp.sum(x["u"] ** 2) + cnp.sum(x["v"] * x["u"])


def unrolled_objective(c, d):
    x = X0
    for _ in range(120):
        x = contraction(x, {"c": c, "d": d})
    return cnp.sum(x["u"] ** 2) + cnp.sum(x["v"] * x["u"])


@pytest.mark.parametrize("method", METHODS)
def test_fixed_point_against_finite_differences_and_the_unrolled_loop(method):
    c, d = P0["c"], P0["d"]
    assert float(fp_objective(c, d)) == pytest.approx(float(unrolled_objective(c, d)),
                                                      rel=1e-13)
    gc, gd = cr.grad(fp_objective, argnums=(0, 1), method=method)(c, d)
    uc, ud = cr.grad(unrolled_objective, argnums=(0, 1))(c, d)      # the naive route
    np.testing.assert_allclose(gc, uc, rtol=1e-11)
    assert gd == pytest.approx(ud, rel=1e-11)
    np.testing.assert_allclose(gc, central(lambda c: fp_objective(c, d), c), rtol=1e-7)
    assert gd == pytest.approx(central(lambda d: fp_objective(c, d), d), rel=1e-7)
    # forward mode: the Jacobian of the fixed point itself
    J = cr.jacfwd(lambda c: cr.fixed_point(contraction, X0, {"c": c, "d": d}, tol=1e-14)["u"],
                  method=method)(c)
    fd = central(lambda c: cr.fixed_point(contraction, X0, {"c": c, "d": d}, tol=1e-14)["u"], c)
    np.testing.assert_allclose(J, fd, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("method", METHODS)
def test_second_order_against_finite_differences_of_the_gradient(method):
    c, d = P0["c"], P0["d"]
    H = cr.hessian(lambda c: fp_objective(c, d), method=method)(c)
    grad = cr.grad(lambda c: fp_objective(c, d))
    np.testing.assert_allclose(H, central(grad, c), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(H, cr.hessian(lambda c: unrolled_objective(c, d))(c),
                               rtol=1e-9, atol=1e-12)


def logistic_loss(w, lam, X, y):
    z = X @ w
    return cnp.sum(cnp.logaddexp(0.0, z) - y * z) + 0.5 * lam * cnp.sum(w ** 2)


@pytest.mark.parametrize("method", METHODS)
def test_minimize_non_quadratic_against_finite_differences(method):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((30, 4))
    y = (rng.uniform(size=30) < 0.5).astype(float)

    def val_loss(lam):  # a bilevel problem: a validation loss of the trained weights
        w = copt.minimize(logistic_loss, np.zeros(4), args=(lam, X, y), method="Newton-CG",
                          options={"xtol": 1e-14}).x
        return cnp.sum((X[:5] @ w - 1.0) ** 2)

    lam = 0.8
    g = cr.grad(val_loss, method=method)(lam)
    assert g == pytest.approx(central(val_loss, lam, h=1e-4), rel=1e-6)
    gf = cr.grad(val_loss)
    fd2 = (gf(lam + 1e-4) - gf(lam - 1e-4)) / 2e-4
    assert cr.hessian(val_loss, method=method)(lam) == pytest.approx(fd2, rel=1e-5)


# ---------------------------------------------------------------------------------------------
# the iterations are never differentiated

def test_a_black_box_solver_is_differentiated_through_the_equation():
    cube = lambda a: cr.custom_root(lambda x: x ** 3 - a, 1.0, brentq, scalar_solve)  # noqa: E731
    a = 5.0
    for method in METHODS:
        assert cr.grad(cube, method=method)(a) == pytest.approx(a ** (-2 / 3) / 3, rel=1e-12)
        assert cr.hessian(cube, method=method)(a) == \
            pytest.approx(-2 / 9 * a ** (-5 / 3), rel=1e-10)


def test_traced_evaluations_do_not_grow_with_the_iterations():
    calls = {"plain": 0, "traced": 0}

    def counted(a):
        def f(x):
            calls["traced" if isinstance(x, Tracer) else "plain"] += 1
            return x ** 2 - a
        return f

    def run(iterations):
        def solve(f, x):  # plain Newton with the hand derivative: f on plain values only
            for _ in range(iterations):
                x = x - f(x) / (2 * x)
            return x

        calls.update(plain=0, traced=0)
        g = cr.grad(lambda a: cr.custom_root(counted(a), 1.0, solve, scalar_solve))(3.0)
        return g, dict(calls)

    g10, c10 = run(10)
    g60, c60 = run(60)
    assert g10 == pytest.approx(g60, rel=1e-15) and g10 == pytest.approx(0.5 / np.sqrt(3.0))
    assert c60["plain"] - c10["plain"] == 50          # the solver's own calls, on plain values
    assert c60["traced"] == c10["traced"] <= 6        # the derivative's: a fixed few


def test_the_graph_holds_one_solve_not_the_iterations():
    g = cr.graph.trace(sqrt_root, 2.0)
    assert [e.prim.name for e in g.eqns] == ["custom_root"]
    dg = cr.graph.trace(cr.grad(sqrt_root), 2.0)
    names = [e.prim.name for e in dg.eqns]
    assert names.count("custom_root") == 1 and names.count("root_linear_solve") == 1
    assert len(names) < 15
    assert cr.jit(cr.grad(sqrt_root))(9.0) == pytest.approx(1 / 6, rel=1e-12)


def test_the_initial_guess_gets_no_derivative():
    T = lambda x, a: cnp.cos(a * x)  # noqa: E731
    assert cr.grad(lambda x0: cr.fixed_point(T, x0, 1.0))(0.5) == 0.0
    assert cr.grad(lambda x0: cr.custom_root(lambda x: x ** 2 - 2.0, x0, newton,
                                             scalar_solve))(1.0) == 0.0
    # an initial guess computed from the parameter adds nothing to its derivative
    same = cr.grad(lambda a: cr.fixed_point(T, 0.5 * a, a, tol=1e-14))(1.0)
    assert same == pytest.approx(cr.grad(lambda a: cr.fixed_point(T, 0.5, a, tol=1e-14))(1.0),
                                 rel=1e-12)


# ---------------------------------------------------------------------------------------------
# closures: made explicit, or refused

def closing(kind):
    def f(a):
        if kind == "partial":
            fn = functools.partial(lambda x, c: x ** 3 - c, c=a)
        elif kind == "helper":
            def helper(t):
                return a * t
            fn = lambda x: x ** 3 - helper(1.0)  # noqa: E731
        elif kind == "default":
            fn = lambda x, c=a: x ** 3 - c  # noqa: E731
        else:
            pair = (a, {"one": 1.0})
            fn = lambda x: x ** 3 - pair[0] * pair[1]["one"]  # noqa: E731
        return cr.custom_root(fn, 1.0, brentq, scalar_solve)
    return f


@pytest.mark.parametrize("kind", ["partial", "helper", "default", "container"])
@pytest.mark.parametrize("method", METHODS)
def test_closed_over_values_become_explicit_arguments(kind, method):
    a = 2.0
    assert cr.grad(closing(kind), method=method)(a) == pytest.approx(a ** (-2 / 3) / 3,
                                                                     rel=1e-12)
    assert cr.hessian(closing(kind), method=method)(a) == \
        pytest.approx(-2 / 9 * a ** (-5 / 3), rel=1e-10)


def helper_closure(a):
    def helper(t):
        return a * t
    return cr.custom_root(lambda x: x ** 3 - helper(1.0), 1.0, brentq, scalar_solve)


def default_closure(a):
    fn = lambda x, c=a: x ** 3 - c  # noqa: E731
    return cr.custom_root(fn, 1.0, brentq, scalar_solve)


@pytest.mark.parametrize("f", [helper_closure, default_closure])
def test_closures_in_the_source_method(f):
    assert cr.grad(f, method="source")(2.0) == pytest.approx(2.0 ** (-2 / 3) / 3, rel=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_a_function_made_in_a_branch_or_by_partial_is_followed(method):
    # (the source method once took such a function value, passed on by name, for a constant:
    # a zero derivative; it now writes the value out where it is used, see
    # chainrule/source/function_values.py)
    def by_branch(a, cubic=True):
        if cubic:
            fn = lambda x: x ** 3 - a  # noqa: E731
        else:
            fn = lambda x, c=a: x ** 2 - c  # noqa: E731
        return cr.custom_root(fn, 1.0, brentq, scalar_solve)

    assert cr.grad(by_branch, method=method)(2.0) == pytest.approx(2.0 ** (-2 / 3) / 3,
                                                                   rel=1e-12)
    assert cr.grad(lambda a: by_branch(a, False), method=method)(2.0) == \
        pytest.approx(0.5 / np.sqrt(2.0), rel=1e-12)

    def by_partial(a):
        T = functools.partial(lambda x, c: cnp.cos(c * x), c=a)
        return cr.fixed_point(lambda x, _: T(x), 0.5, 0.0, tol=1e-14)

    a = 1.0
    x = float(by_partial(a))  # x = cos(a x): dx/da = -x sin(a x) / (1 + a sin(a x))
    expected = -x * np.sin(a * x) / (1 + a * np.sin(a * x))
    assert cr.grad(by_partial, method=method)(a) == pytest.approx(expected, rel=1e-10)


class Box:
    pass


@pytest.mark.parametrize("method", ["overload", "graph"])
def test_a_value_reached_through_an_attribute_is_refused(method):
    def f(a):
        box = Box()
        box.a = a
        return cr.custom_root(lambda x: x ** 3 - box.a, 1.0, brentq, scalar_solve)

    with pytest.raises(TypeError, match="explicit"):
        cr.grad(f, method=method)(2.0)

    def closed_form(a):  # a solver that never calls f: f is evaluated once at its answer
        box = Box()
        box.a = a
        return cr.custom_root(lambda x: x ** 3 - box.a, 1.0, lambda f, x0: 2.0 ** (1 / 3),
                              scalar_solve)

    with pytest.raises(TypeError, match="explicit"):  # (was a derivative of 0, silently)
        cr.grad(closed_form, method=method)(2.0)
    with pytest.raises(TypeError, match="explicit"):
        cr.jacfwd(closed_form, method=method)(2.0)

    def g(a):
        box = Box()
        box.a = a
        return copt.minimize(lambda w: cnp.sum((w - box.a) ** 2), np.zeros(2)).x[0]

    with pytest.raises(TypeError, match="minimize: the function reaches a value being "
                                        "differentiated"):
        cr.grad(g, method=method)(2.0)


@pytest.mark.parametrize("method", METHODS)
def test_scipy_functions_close_over_parameters_too(method):
    # (the source method once took minimize's OptimizeResult, a registered pytree, for an
    # array of no derivative in reverse mode: a zero gradient)
    def x0_of(a):  # no args: the parameter is closed over, and made an operand
        return copt.minimize(lambda w: cnp.sum((w - a) ** 2) + cnp.sum(w ** 4), np.zeros(2),
                             method="BFGS", options={"gtol": 1e-12}).x[0]

    a = 0.5
    w = float(x0_of(a))  # 2 (w - a) + 4 w^3 = 0, so dw/da = 2 / (2 + 12 w^2)
    assert cr.grad(x0_of, method=method)(a) == pytest.approx(2 / (2 + 12 * w ** 2), rel=1e-8)


# ---------------------------------------------------------------------------------------------
# vectorisation, Jacobians, the eager Tensor

def test_vmap_and_jacobians_of_a_vector_root():
    def roots(a):
        return cr.custom_root(lambda x: x ** 2 - a, np.ones_like(a),
                              lambda f, x: np.sqrt(np.asarray(a_plain)), implicit.dense_solve)

    a_plain = np.array([1.0, 4.0, 9.0])
    np.testing.assert_allclose(roots(a_plain), [1.0, 2.0, 3.0])
    for jac in (cr.jacfwd, cr.jacrev):
        np.testing.assert_allclose(jac(roots)(a_plain), np.diag(0.5 / np.sqrt(a_plain)),
                                   rtol=1e-13)
    np.testing.assert_allclose(cr.vmap(sqrt_root)(a_plain), [1.0, 2.0, 3.0], rtol=1e-15)
    np.testing.assert_allclose(cr.vmap(cr.grad(sqrt_root))(a_plain), 0.5 / np.sqrt(a_plain),
                               rtol=1e-12)


def test_eager_tensor_backward():
    a = cr.tensor(4.0, requires_grad=True)
    x = sqrt_root(a)
    x.backward()
    assert float(a.grad) == pytest.approx(0.25, rel=1e-13)


def test_fixed_point_iterative_derivative_for_many_unknowns(monkeypatch):
    rng = np.random.default_rng(5)
    W = 0.4 * rng.standard_normal((6, 6)) / np.sqrt(6)

    def point(b):
        return cr.fixed_point(lambda x, b: cnp.tanh(W @ x + b), np.zeros(6), b, tol=1e-14)

    b = rng.standard_normal(6)
    dense = cr.jacrev(point)(b)
    monkeypatch.setattr(implicit, "DENSE_MAX", 0)  # the linear iteration instead
    np.testing.assert_allclose(cr.jacrev(point)(b), dense, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(cr.jacfwd(point)(b), dense, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(dense, central(point, b), rtol=1e-7, atol=1e-10)


# ---------------------------------------------------------------------------------------------
# chainrule.scipy.optimize

def test_minimize_values_and_fields_are_scipys():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 4))
    f = lambda w, A: cnp.sum((A @ w - 1.0) ** 2) + cnp.sum(w ** 4)  # noqa: E731
    ours = copt.minimize(f, np.zeros(4), args=(A,), method="BFGS")
    theirs = so.minimize(lambda w, A: float(np.sum((A @ w - 1) ** 2) + np.sum(w ** 4)),
                         np.zeros(4), args=(A,), method="BFGS")
    np.testing.assert_allclose(ours.x, theirs.x, atol=1e-5)
    assert ours.success and ours["nit"] > 0 and "message" in ours
    assert float(ours.fun) == pytest.approx(theirs.fun, rel=1e-8)


@pytest.mark.parametrize("method", METHODS)
def test_minimize_optimal_value_and_hessian_of_the_minimiser(method):
    # min_x (x0 - a)^2 + (x1 - a^2)^4/4 + x0 x1 / 10: the derivative of the value is
    # d/da f(x*(a), a) (the envelope theorem), and x* has a Hessian in a
    def f(x, a):
        return (x[0] - a) ** 2 + 0.25 * (x[1] - a ** 2) ** 2 + 0.1 * x[0] * x[1] + x[1] ** 4

    def xstar(a):
        return copt.minimize(f, np.zeros(2), (a,), method="trust-exact",
                             options={"gtol": 1e-13}).x

    def value(a):
        return copt.minimize(f, np.zeros(2), (a,), method="trust-exact",
                             options={"gtol": 1e-13}).fun

    a = 0.6
    x = np.asarray(xstar(a))
    envelope = -2 * (x[0] - a) - a * (x[1] - a ** 2)
    assert cr.grad(value, method=method)(a) == pytest.approx(envelope, rel=1e-9)
    J = cr.jacfwd(xstar, method=method)(a)
    np.testing.assert_allclose(J, central(xstar, a), rtol=1e-6)
    def weighted(a):
        x = xstar(a)
        return 0.7 * x[0] - 1.3 * x[1]

    second = central(cr.grad(weighted), a, h=1e-4)
    assert cr.hessian(weighted, method=method)(a) == pytest.approx(second, rel=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_root_against_the_inverse_jacobian(method):
    def F(x, a):
        return cnp.stack([x[0] ** 3 + x[1] - a[0], x[0] - x[1] ** 3 - a[1]])

    a = np.array([2.0, 0.5])
    r = lambda a: copt.root(F, np.ones(2), (a,), tol=1e-14).x  # noqa: E731
    x = np.asarray(r(a))
    np.testing.assert_allclose(np.asarray(F(x, a)), 0.0, atol=1e-12)
    Jx = np.array([[3 * x[0] ** 2, 1.0], [1.0, -3 * x[1] ** 2]])
    for jac in (cr.jacfwd, cr.jacrev):
        np.testing.assert_allclose(jac(r, method=method)(a), np.linalg.inv(Jx), rtol=1e-10)


@pytest.mark.parametrize("method", METHODS)
def test_scipy_fixed_point_against_the_hand_formula(method):
    fp = lambda a: copt.fixed_point(lambda x, a: 0.5 * np.cos(x) + a, np.zeros(3),  # noqa
                                    (a,), xtol=1e-14)
    a = np.array([0.1, 0.2, 0.3])
    x = np.asarray(fp(a))
    np.testing.assert_allclose(x, 0.5 * np.cos(x) + a, atol=1e-13)
    np.testing.assert_allclose(cr.jacrev(fp, method=method)(a),
                               np.diag(1 / (1 + 0.5 * np.sin(x))), rtol=1e-11, atol=1e-14)


def test_matrix_free_paths_agree_with_the_dense_one(monkeypatch):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((12, 5))
    y = rng.standard_normal(12)

    def w_of(lam):
        return copt.minimize(lambda w, lam: 0.5 * cnp.sum((X @ w - y) ** 2) + 0.5 * lam *
                             cnp.sum(w ** 2), np.zeros(5), (lam,), method="BFGS",
                             options={"gtol": 1e-13}).x

    def r_of(a):
        return copt.root(lambda x, a: cnp.tanh(x) + 2.0 * x - a, np.zeros(5), (a,),
                         tol=1e-14).x

    lam, a = 0.4, rng.standard_normal(5)
    M = X.T @ X + lam * np.eye(5)
    exact_w = -np.linalg.solve(M, np.linalg.solve(M, X.T @ y))
    dense_r = cr.jacrev(r_of)(a)
    monkeypatch.setattr(copt, "DENSE_MAX", 0)  # conjugate gradients, GMRES
    np.testing.assert_allclose(cr.jacfwd(w_of)(lam), exact_w, rtol=1e-8)
    np.testing.assert_allclose(cr.jacrev(r_of)(a), dense_r, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# errors: specific, naming the argument and the fix

def test_errors():
    f = lambda w, a: cnp.sum((w - a) ** 2)  # noqa: E731
    # a minimiser on a bound, or constrained: the values, but no derivative
    on_bound = lambda a: copt.minimize(f, np.zeros(2), (a,), bounds=[(0.0, 1.0)] * 2).x  # noqa
    np.testing.assert_allclose(on_bound(np.array([-1.0, 0.5])), [0.0, 0.5], atol=1e-8)
    with pytest.raises(NotImplementedError, match="bound in entries \\[0\\]"):
        cr.jacfwd(on_bound)(np.array([-1.0, 0.5]))
    inside = cr.jacfwd(on_bound)(np.array([0.3, 0.5]))
    np.testing.assert_allclose(inside, np.eye(2), atol=1e-7)
    cons = [{"type": "eq", "fun": lambda w: w[0] - 0.2}]
    with pytest.raises(NotImplementedError, match="KKT"):
        cr.grad(lambda a: copt.minimize(f, np.zeros(2), (a,), constraints=cons).x[1])(
            np.array([1.0, 1.0]))
    with pytest.raises(ValueError, match="x0 must have one dimension"):
        copt.minimize(f, np.zeros((2, 2)), (1.0,))
    with pytest.raises(ValueError, match="must return a scalar"):
        copt.minimize(lambda w: w ** 2, np.ones(2), method="BFGS")
    # fixed_point
    with pytest.raises(RuntimeError, match="did not converge in max_iter=20"):
        cr.fixed_point(lambda x, a: 2.0 * x + a, 1.0, 1.0, max_iter=20)
    with pytest.raises(ValueError, match="tol must be positive"):
        cr.fixed_point(lambda x: x, 1.0, tol=0.0)
    with pytest.raises(ValueError, match="max_iter"):
        cr.fixed_point(lambda x: x, 1.0, max_iter=0)
    # a solver or function of the wrong shape, an initial guess of strings
    with pytest.raises(ValueError, match="shape \\(3,\\) where the initial guess has shape "
                                         "\\(2,\\)"):
        cr.custom_root(lambda x: x, np.zeros(2), lambda f, x: np.zeros(3), scalar_solve)
    with pytest.raises(ValueError, match="structure"):
        cr.grad(lambda a: cr.custom_root(lambda x: (x, x - a), 1.0, lambda f, x: 1.0,
                                         scalar_solve))(1.0)
    with pytest.raises(TypeError, match="real numbers"):
        cr.custom_root(lambda x: x, "1.0", newton, scalar_solve)
    # a singular linearisation: the root is not isolated
    with pytest.raises(ValueError, match="singular"):
        cr.grad(lambda a: cr.custom_root(lambda x: (x - a) ** 2, np.zeros(1),
                                         lambda f, x: np.ones(1), implicit.dense_solve)[0]
                )(1.0)
    # the symbolic method: no closed form
    with pytest.raises(NotImplementedError, match="no closed form"):
        cr.grad(sqrt_root, method="symbolic")(2.0)


def test_a_failed_solve_warns_when_differentiated():
    f = lambda w, a: cnp.sum((w - a) ** 4)  # noqa: E731
    res = copt.minimize(f, np.zeros(2), (np.ones(2),), method="BFGS", options={"maxiter": 1})
    assert not res.success
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        cr.jacfwd(lambda a: copt.minimize(f, np.zeros(2), (a,), method="BFGS",
                                          options={"maxiter": 1}).x)(np.ones(2))
    assert any("x is not a solution" in str(w.message) for w in got)
    # BFGS reports "precision loss" at the optimum: no warning there, the derivative is right
    rng = np.random.default_rng(0)
    w_true = rng.standard_normal(5)
    X = rng.standard_normal((20, 5))
    y = X @ w_true + 0.5 * rng.standard_normal(20)
    ridge = lambda w, lam: 0.5 * cnp.sum((X @ w - y) ** 2) + 0.5 * lam * cnp.sum(w ** 2)  # noqa
    solve = lambda lam: copt.minimize(ridge, np.zeros(5), (lam,), method="BFGS",  # noqa: E731
                                      options={"gtol": 1e-10})
    assert not solve(2.0).success
    M = X.T @ X + 2.0 * np.eye(5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dw = cr.jacfwd(lambda lam: solve(lam).x)(2.0)
    np.testing.assert_allclose(dw, -np.linalg.solve(M, np.linalg.solve(M, X.T @ y)), rtol=1e-6)


def test_compiled_solvers_keep_no_trace_alive():
    """The primitives' parameter (the problem: closure conversion, SciPy setup) travels into
    the graph's compiled code; it must not hold the traced values it was made from, or every
    compiled derivative would keep its whole trace alive."""
    import gc
    import sys
    trace_module = sys.modules["chainrule.graph.trace"]
    cr.jvp(ridge_norm, (0.7,), (1.0,), method="graph")
    cr.jvp(sqrt_root, (2.5,), (1.0,), method="graph")
    cr.grad(cos_point, method="graph")(0.9)
    gc.collect()
    assert not [o for o in gc.get_objects() if type(o) is trace_module.GraphTrace]
