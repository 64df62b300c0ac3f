"""Python control flow inside differentiated functions: the tape records what actually ran."""
import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp


def piecewise(x):
    if x > 0:
        return x * x
    return -3.0 * x


def test_if_branches_both_modes():
    for x, want in ((2.0, 4.0), (-1.0, -3.0)):
        assert cr.grad(piecewise)(x) == want
        assert cr.jvp(piecewise, (x,), (1.0,))[1] == want


def test_for_loop():
    def f(x, n):
        acc = 1.0
        for _ in range(n):
            acc = acc * x
        return acc

    assert cr.grad(f)(1.5, 4) == pytest.approx(4 * 1.5 ** 3)


def test_while_loop_newton_sqrt():
    def my_sqrt(a):
        x = a
        while cnp.abs(x * x - a) > 1e-12:
            x = 0.5 * (x + a / x)
        return x

    assert cr.grad(my_sqrt)(2.0) == pytest.approx(0.5 / math.sqrt(2.0), rel=1e-9)


def test_recursion():
    def power(x, n):
        return 1.0 if n == 0 else x * power(x, n - 1)

    assert cr.grad(power)(2.0, 5) == pytest.approx(80.0)
    assert cr.grad(cr.grad(power))(2.0, 5) == pytest.approx(160.0)


def test_early_return_in_loop():
    def f(xs):
        total = 0.0
        for i in range(len(xs)):
            if xs[i] < 0:
                return total
            total = total + xs[i] ** 2
        return total

    x = np.array([1.0, 2.0, -1.0, 5.0])
    np.testing.assert_allclose(cr.grad(f)(x), [2.0, 4.0, 0.0, 0.0])


def test_data_dependent_loop_under_jacobian():
    def f(x):
        y = x
        for _ in range(3):
            if cnp.sum(y) > 0:
                y = cnp.sin(y)
            else:
                y = y * 2.0
        return y

    x = np.array([0.3, 0.4])
    J = cr.jacrev(f)(x)
    # y = sin(sin(sin(x))) since the sums stay positive
    s1, s2 = np.sin(x), np.sin(np.sin(x))
    np.testing.assert_allclose(J, np.diag(np.cos(s2) * np.cos(s1) * np.cos(x)), rtol=1e-12)
    np.testing.assert_allclose(cr.jacfwd(f)(x), J, rtol=1e-12)
