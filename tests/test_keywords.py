"""Keyword arguments reach the differentiated function the same way in every method: through
the transforms that return functions (grad, value_and_grad, jacfwd, jacrev, jacobian, hessian,
elementwise_grad, vmap), and through functools.partial for those that take values (jvp, vjp,
hvp). Keyword-only parameters are constants; a keyword naming a positional parameter is bound
to its position, so argnums counts it. Expected values are written out by hand."""
import functools

import numpy as np
import pytest

import chainrule as cr
from chainrule.transforms import METHODS

X = np.array([0.3, 0.7, -1.1])


def scaled(x, *, scale=1.0, shift):
    return np.sum(np.sin(x) * scale + shift * x ** 2)


def scaled_vec(x, *, scale=1.0, power=2):
    return np.sin(x) * scale + x ** power


def positional(x, scale=1.0, shift=0.0):
    return np.sum(np.sin(x) * scale + shift * x)


def d_scaled(x, scale, shift):
    return scale * np.cos(x) + 2 * shift * x


@pytest.mark.parametrize("method", METHODS)
def test_grad_and_value_and_grad_take_keyword_only_arguments(method):
    for scale, shift in [(2.0, 0.5), (3.0, -1.0)]:  # (a cache keyed on too little fails here)
        g = cr.grad(scaled, method=method)(X, scale=scale, shift=shift)
        np.testing.assert_allclose(g, d_scaled(X, scale, shift), rtol=1e-6)
        v, g2 = cr.value_and_grad(scaled, method=method)(X, shift=shift, scale=scale)
        np.testing.assert_allclose(v, np.sum(np.sin(X) * scale + shift * X ** 2), rtol=1e-12)
        np.testing.assert_allclose(g2, d_scaled(X, scale, shift), rtol=1e-6)
    # the default of a keyword-only parameter
    np.testing.assert_allclose(cr.grad(scaled, method=method)(X, shift=0.0), np.cos(X),
                               rtol=1e-6)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("transform", ["jacfwd", "jacrev", "jacobian"])
def test_jacobians_take_keyword_arguments(method, transform):
    jac = getattr(cr, transform)
    for scale, power in [(2.0, 2), (0.5, 3)]:
        got = jac(scaled_vec, method=method)(X, scale=scale, power=power)
        np.testing.assert_allclose(got, np.diag(scale * np.cos(X) + power * X ** (power - 1)),
                                   rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_hessian_takes_keyword_arguments(method):
    for scale, shift in [(2.0, 0.5), (3.0, -1.0)]:
        h = cr.hessian(scaled, method=method)(X, scale=scale, shift=shift)
        np.testing.assert_allclose(h, np.diag(-scale * np.sin(X) + 2 * shift), rtol=1e-5,
                                   atol=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_a_keyword_naming_a_positional_parameter_is_bound_to_its_position(method):
    # the differentiated argument given by keyword: argnums=0 still names it
    np.testing.assert_allclose(cr.grad(positional, method=method)(x=X, scale=2.0),
                               2.0 * np.cos(X), rtol=1e-6)
    # a later parameter given by keyword, an earlier one left to its default
    np.testing.assert_allclose(cr.grad(positional, method=method)(X, shift=1.5),
                               np.cos(X) + 1.5, rtol=1e-6)
    # argnums naming a parameter that was given by keyword: differentiated
    g = cr.grad(positional, argnums=1, method=method)(X, scale=2.0)
    np.testing.assert_allclose(g, np.sum(np.sin(X)), rtol=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_partial_binds_keywords_for_jvp_vjp_and_hvp(method):
    def f(a, x, *, p=2.0):
        return np.sum(a * x ** p)

    a = np.array([1.5, -2.0, 0.25])
    pf = functools.partial(f, a, p=3.0)
    v = np.array([1.0, 0.5, -1.0])
    grad = 3 * a * X ** 2
    _, pull = cr.vjp(pf, X, method=method)
    np.testing.assert_allclose(pull(1.0)[0], grad, rtol=1e-6)
    np.testing.assert_allclose(cr.jvp(pf, (X,), (v,), method=method)[1], grad @ v, rtol=1e-6)
    np.testing.assert_allclose(cr.hvp(pf, (X,), (v,), method=method), 6 * a * X * v,
                               rtol=1e-5)
    np.testing.assert_allclose(cr.grad(pf, method=method)(X), grad, rtol=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_elementwise_grad_takes_keyword_arguments(method):
    got = cr.elementwise_grad(scaled_vec, method=method)(X, scale=2.0, power=3)
    np.testing.assert_allclose(got, 2.0 * np.cos(X) + 3 * X ** 2, rtol=1e-6)


def test_vmap_passes_keyword_arguments_unmapped():
    w = np.array([1.0, 2.0, -1.0])
    xs = np.arange(12.0).reshape(4, 3)
    got = cr.vmap(lambda x, *, w: x @ w)(xs, w=w)
    np.testing.assert_allclose(got, xs @ w)
    # and under a transform: the per-example gradient of a function with a keyword
    per_example = cr.vmap(cr.grad(scaled))(xs, scale=2.0, shift=0.5)
    np.testing.assert_allclose(per_example, d_scaled(xs, 2.0, 0.5), rtol=1e-12)


def test_source_code_of_a_function_with_keyword_only_parameters():
    g = cr.grad(scaled, method="source")
    assert "*, scale=" in g.source and "shift" in g.source
    np.testing.assert_allclose(g(X, scale=2.0, shift=0.5), d_scaled(X, 2.0, 0.5), rtol=1e-12)


def test_unknown_keyword_is_the_functions_own_error():
    for method in METHODS:
        with pytest.raises(TypeError, match="unexpected keyword argument 'scael'"):
            cr.grad(positional, method=method)(X, scael=2.0)


def test_keywords_through_nested_and_compiled_transforms():
    def g(x, *, k):
        return x ** 3 * k

    for method in ("overload", "graph", "source"):
        # d2/dx2 (k x^3) = 6 k x, the keyword reaching the innermost function
        assert cr.grad(cr.grad(g, method=method), method=method)(2.0, k=2.0) == 24.0
        assert cr.jacfwd(cr.grad(g, method=method), method=method)(2.0, k=0.5) == 6.0
    for k in (2.0, 3.0):  # (a compiled function keyed on too little would give 24.0 twice)
        assert cr.jit(cr.grad(g, method="source"))(2.0, k=k) == 12.0 * k
        assert cr.jit(cr.grad(g))(2.0, k=k) == 12.0 * k


def test_source_transforms_nested_defs_with_keyword_only_parameters():
    def f(x):
        def inner(y, *, k=2.0):
            return y * k
        return inner(x, k=3.0) + inner(x) + np.sin(x)

    assert np.isclose(cr.grad(f, method="source")(0.5), 5.0 + np.cos(0.5), rtol=1e-14)
    assert np.isclose(cr.hessian(f, method="source")(0.5), -np.sin(0.5), rtol=1e-14)


@pytest.mark.parametrize("method", ["overload", "graph", "source", "symbolic"])
def test_partial_with_leading_arguments_counts_argnums_past_them(method):
    def f(a, x, y, *, p=2.0):
        return np.sum(a * x ** p * y)

    a, x, y = np.array([1.0, 2.0]), np.array([0.5, 1.5]), np.array([3.0, -1.0])
    pf = functools.partial(f, a, p=3.0)
    dx, dy = cr.grad(pf, argnums=(0, 1), method=method)(x, y)
    np.testing.assert_allclose(dx, 3 * a * x ** 2 * y, rtol=1e-12)
    np.testing.assert_allclose(dy, a * x ** 3, rtol=1e-12)
    np.testing.assert_allclose(cr.grad(pf, argnums=-1, method=method)(x, y), a * x ** 3,
                               rtol=1e-12)
    nested = functools.partial(functools.partial(f, a), x, p=3.0)
    np.testing.assert_allclose(cr.grad(nested, method=method)(y), a * x ** 3, rtol=1e-12)
