"""chainrule.scipy.integrate.trapezoid: values against SciPy, derivatives against hand formulas
and finite differences, every method."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.integrate

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.scipy import integrate as ci

METHODS = ["overload", "graph", "source", "symbolic", "numeric"]


@pytest.mark.parametrize("shape,axis", [((5,), -1), ((3, 4), 0), ((3, 4), 1), ((2, 3, 4), 1)])
def test_values_match_scipy(shape, axis):
    rng = np.random.default_rng(0)
    y = rng.standard_normal(shape)
    x = np.sort(rng.uniform(0, 3, shape[axis]))
    assert np.allclose(ci.trapezoid(y, axis=axis), scipy.integrate.trapezoid(y, axis=axis))
    assert np.allclose(ci.trapezoid(y, dx=0.3, axis=axis),
                       scipy.integrate.trapezoid(y, dx=0.3, axis=axis))
    assert np.allclose(ci.trapezoid(y, x, axis=axis),
                       scipy.integrate.trapezoid(y, x, axis=axis))
    xs = np.sort(rng.uniform(0, 3, shape), axis=axis)
    assert np.allclose(ci.trapezoid(y, xs, axis=axis),
                       scipy.integrate.trapezoid(y, xs, axis=axis))


def test_bad_axis_names_the_argument():
    with pytest.raises(ValueError, match="axis=2"):
        ci.trapezoid(np.ones(3), axis=2)


@pytest.mark.parametrize("method", METHODS)
def test_gradients_in_samples_and_points(method):
    y = np.array([0.5, 1.5, -0.25, 2.0])
    x = np.array([0.0, 0.4, 1.1, 2.0])
    gy, gx = cr.grad(lambda y, x: ci.trapezoid(y, x), argnums=(0, 1), method=method)(y, x)
    dx = np.diff(x)
    want_y = np.concatenate([[dx[0] / 2], (dx[:-1] + dx[1:]) / 2, [dx[-1] / 2]])
    # d/dx_i: -(y_i + y_{i+1})/2 from segment i, +(y_{i-1} + y_i)/2 from segment i-1
    mid = (y[1:] + y[:-1]) / 2
    want_x = np.concatenate([[0.0], mid]) - np.concatenate([mid, [0.0]])
    tol = 1e-6 if method == "numeric" else 1e-12
    np.testing.assert_allclose(gy, want_y, atol=tol)
    np.testing.assert_allclose(gx, want_x, atol=tol)


def test_hessian_of_a_nonlinear_integrand():
    t = np.linspace(0.0, 1.0, 7)

    def f(a):
        return ci.trapezoid(cnp.exp(a * t) ** 2, t)

    h = cr.hessian(f)(0.3)
    eps = 1e-4
    fd = (f(0.3 + eps) - 2 * f(0.3) + f(0.3 - eps)) / eps ** 2
    assert float(h) == pytest.approx(float(fd), rel=1e-5)
