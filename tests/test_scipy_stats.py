"""chainrule.scipy.stats: values against SciPy's, derivatives in every argument against central
differences (and second derivatives against differences of the gradient), the methods agreeing."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.stats as sps

import chainrule as cr
from chainrule.scipy import stats as cs

X = np.array([-1.3, -0.2, 0.4, 1.7])
POS = np.array([0.3, 0.9, 1.6, 3.2])
UNIT = np.array([0.1, 0.35, 0.6, 0.85])
KS = np.array([0.0, 1.0, 3.0, 6.0])

# (name, chainrule method, scipy method, x, parameters): every parameter is differentiated
CONTINUOUS = [
    ("norm", X, (0.3, 1.7)),
    ("t", X, (4.5, 0.3, 1.7)),
    ("cauchy", X, (0.3, 1.7)),
    ("laplace", X, (0.3, 1.7)),
    ("logistic", X, (0.3, 1.7)),
    ("expon", POS, (0.1, 1.7)),
    ("gamma", POS, (2.5, 0.1, 1.3)),
    ("chi2", POS, (3.5, 0.1, 1.3)),
    ("beta", UNIT, (2.5, 1.5, 0.0, 1.0)),
    ("uniform", UNIT, (0.05, 1.2)),
]
DISCRETE = [
    ("poisson", KS, (2.5,)),
    ("binom", KS, (8.0, 0.35)),
    ("bernoulli", np.array([0.0, 1.0]), (0.35,)),
    ("geom", KS + 1.0, (0.35,)),
]


def central_grad(f: Callable[..., Any], args: tuple[float, ...], i: int, h: float = 1e-6
                 ) -> Any:
    a = list(args)
    up, down = list(a), list(a)
    up[i] = a[i] + h
    down[i] = a[i] - h
    return (f(*up) - f(*down)) / (2 * h)


@pytest.mark.parametrize("name,x,params", CONTINUOUS, ids=[c[0] for c in CONTINUOUS])
@pytest.mark.parametrize("method", ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"])
def test_continuous_values_match_scipy(name, x, params, method):
    ours = getattr(getattr(cs, name), method)(x, *params)
    want = getattr(getattr(sps, name), method)(x, *params)
    np.testing.assert_allclose(ours, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,x,params", CONTINUOUS, ids=[c[0] for c in CONTINUOUS])
def test_continuous_ppf_matches_scipy(name, x, params):
    np.testing.assert_allclose(getattr(cs, name).ppf(UNIT, *params),
                               getattr(sps, name).ppf(UNIT, *params), rtol=1e-9)


@pytest.mark.parametrize("name,k,params", DISCRETE, ids=[c[0] for c in DISCRETE])
@pytest.mark.parametrize("method", ["logpmf", "pmf", "cdf", "sf"])
def test_discrete_values_match_scipy(name, k, params, method):
    ours = getattr(getattr(cs, name), method)(k, *params)
    want = getattr(getattr(sps, name), method)(k, *params)
    np.testing.assert_allclose(ours, want, rtol=1e-10, atol=1e-12)


def test_outside_the_support_is_minus_infinity_with_zero_gradient():
    assert cs.gamma.logpdf(-1.0, 2.0) == -np.inf
    assert cs.beta.logpdf(1.5, 2.0, 3.0) == -np.inf
    assert cs.poisson.logpmf(2.5, 3.0) == -np.inf  # (not a whole number)
    assert cs.expon.logpdf(-0.5) == sps.expon.logpdf(-0.5)
    g = cr.grad(lambda a: cs.gamma.logpdf(-1.0, a))(2.0)
    assert g == 0.0


@pytest.mark.parametrize("name,x,params", CONTINUOUS, ids=[c[0] for c in CONTINUOUS])
def test_logpdf_gradient_in_every_argument(name, x, params):
    dist = getattr(cs, name)
    for xi in x[1:3]:
        args = (float(xi), *params)
        if name == "beta":
            args = args[:3]  # (loc and scale of beta's support kept where x is inside)

        def f(*a):
            return dist.logpdf(a[0], *a[1:])

        got = cr.grad(f, argnums=tuple(range(len(args))))(*args)
        for i in range(len(args)):
            want = central_grad(lambda *a: getattr(sps, name).logpdf(a[0], *a[1:]), args, i)
            assert float(got[i]) == pytest.approx(float(want), rel=1e-5, abs=1e-7), (name, i)


@pytest.mark.parametrize("name,x,params", CONTINUOUS, ids=[c[0] for c in CONTINUOUS])
def test_cdf_gradient_in_x_is_the_density(name, x, params):
    dist = getattr(cs, name)
    g = cr.grad(lambda v: dist.cdf(v, *params))(float(x[2]))
    assert float(g) == pytest.approx(float(getattr(sps, name).pdf(x[2], *params)), rel=1e-8)


@pytest.mark.parametrize("name,x,params", [c for c in CONTINUOUS if c[0] in
                                           ("norm", "cauchy", "laplace", "logistic", "expon")])
def test_cdf_gradient_in_loc_and_scale(name, x, params):
    dist = getattr(cs, name)
    args = (float(x[2]), *params)
    got = cr.grad(lambda *a: dist.cdf(*a), argnums=(1, 2))(*args)
    for i, g in zip((1, 2), got):
        want = central_grad(lambda *a: getattr(sps, name).cdf(*a), args, i)
        assert float(g) == pytest.approx(float(want), rel=1e-5, abs=1e-8)


@pytest.mark.parametrize("name,k,params", DISCRETE, ids=[c[0] for c in DISCRETE])
def test_discrete_gradient_in_the_probability_parameter(name, k, params):
    dist = getattr(cs, name)
    last = len(params) - 1  # (mu or p; binom's n is a count)
    for kk in k[:2]:
        def f(p, kk=kk):
            ps = list(params)
            ps[last] = p
            return dist.logpmf(kk, *ps)

        def f_sp(p, kk=kk):
            ps = list(params)
            ps[last] = p
            return getattr(sps, name).logpmf(kk, *ps)

        got = cr.grad(f)(params[last])
        assert float(got) == pytest.approx(float(central_grad(f_sp, (params[last],), 0)),
                                           rel=1e-6, abs=1e-8)
        got_cdf = cr.grad(lambda p, kk=kk: dist.cdf(kk, *params[:last], p))(params[last])
        want_cdf = central_grad(lambda p, kk=kk: getattr(sps, name).cdf(kk, *params[:last], p),
                                (params[last],), 0)
        assert float(got_cdf) == pytest.approx(float(want_cdf), rel=1e-5, abs=1e-8)


@pytest.mark.parametrize("name,x,params", [c for c in CONTINUOUS if c[0] in
                                           ("norm", "t", "gamma", "beta", "logistic")])
def test_second_derivatives(name, x, params):
    dist = getattr(cs, name)
    v = float(x[2])
    h = cr.hessian(lambda a: dist.logpdf(a, *params))(v)
    g = cr.grad(lambda a: dist.logpdf(a, *params))
    want = (g(v + 1e-5) - g(v - 1e-5)) / 2e-5
    assert float(h) == pytest.approx(float(want), rel=1e-5, abs=1e-7)


def test_ppf_derivative_in_q_and_refusal_in_shape():
    g = cr.grad(lambda q: cs.t.ppf(q, 4.5))(0.3)
    assert float(g) == pytest.approx(1.0 / sps.t.pdf(sps.t.ppf(0.3, 4.5), 4.5), rel=1e-8)
    g = cr.grad(lambda q: cs.norm.ppf(q, 1.0, 2.0))(0.3)
    assert float(g) == pytest.approx(2.0 / sps.norm.pdf(sps.norm.ppf(0.3)), rel=1e-8)
    with pytest.raises(NotImplementedError, match="shape parameters"):
        cr.grad(lambda df: cs.t.ppf(0.3, df))(4.5)


def test_frozen_distributions():
    d = cs.norm(0.3, 1.7)
    np.testing.assert_allclose(d.logpdf(X), sps.norm(0.3, 1.7).logpdf(X))
    np.testing.assert_allclose(cs.gamma(2.5, scale=1.3).cdf(POS),
                               sps.gamma(2.5, scale=1.3).cdf(POS))
    np.testing.assert_allclose(cs.poisson(2.5).pmf(KS), sps.poisson(2.5).pmf(KS))


def test_multivariate_normal():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 3))
    cov = a @ a.T + 3 * np.eye(3)
    mean = rng.standard_normal(3)
    x = rng.standard_normal((5, 3))
    np.testing.assert_allclose(cs.multivariate_normal.logpdf(x, mean, cov),
                               sps.multivariate_normal.logpdf(x, mean, cov), rtol=1e-10)
    np.testing.assert_allclose(cs.multivariate_normal.logpdf(x[0], mean, np.diag(cov)),
                               sps.multivariate_normal.logpdf(x[0], mean, np.diag(cov)))
    np.testing.assert_allclose(cs.multivariate_normal.pdf(x[0], mean, 2.0),
                               sps.multivariate_normal.pdf(x[0], mean, 2.0))
    # gradients in x, mean and cov (cov perturbed symmetrically)
    f = lambda m, c: cs.multivariate_normal.logpdf(x[1], m, c)  # noqa: E731
    gm, gc = cr.grad(f, argnums=(0, 1))(mean, cov)
    prec = np.linalg.inv(cov)
    r = x[1] - mean
    np.testing.assert_allclose(gm, prec @ r, rtol=1e-9)
    want_c = 0.5 * (prec @ np.outer(r, r) @ prec - prec)
    # (the Cholesky factor reads one triangle: compare along a symmetric direction)
    e = rng.standard_normal((3, 3))
    e = e + e.T
    assert float(np.sum(gc * e)) == pytest.approx(float(np.sum(want_c * e)), rel=1e-8)


def test_dirichlet():
    alpha = np.array([1.5, 2.0, 3.5])
    x = np.array([0.2, 0.3, 0.5])
    assert float(cs.dirichlet.logpdf(x, alpha)) == pytest.approx(
        sps.dirichlet.logpdf(x, alpha), rel=1e-12)
    g = cr.grad(lambda a: cs.dirichlet.logpdf(x, a))(alpha)
    from scipy.special import digamma
    np.testing.assert_allclose(g, np.log(x) + digamma(alpha.sum()) - digamma(alpha), rtol=1e-9)
    xs = np.array([[0.2, 0.1], [0.3, 0.6], [0.5, 0.3]])
    np.testing.assert_allclose(cs.dirichlet.logpdf(xs, alpha), sps.dirichlet.logpdf(xs, alpha))


@pytest.mark.parametrize("method", ["overload", "graph", "source", "numeric"])
def test_methods_agree_on_a_likelihood(method):
    data = np.array([0.3, 1.2, 2.5, 0.8, 1.9])
    counts = np.array([0.0, 2.0, 1.0, 4.0])

    def nll(mu, log_sigma, df, rate):
        sigma = cr.numpy.exp(log_sigma)
        return -(cr.numpy.sum(cs.t.logpdf(data, df, mu, sigma))
                 + cr.numpy.sum(cs.norm.logpdf(data, mu, sigma))
                 + cr.numpy.sum(cs.poisson.logpmf(counts, rate)))

    args = (1.1, -0.2, 5.0, 1.7)
    got = cr.grad(nll, argnums=(0, 1, 2, 3), method=method)(*args)
    want = cr.grad(nll, argnums=(0, 1, 2, 3))(*args)
    tol = 1e-5 if method == "numeric" else 1e-10
    for g, w in zip(got, want):
        assert float(g) == pytest.approx(float(w), rel=tol, abs=tol)
    for i in range(4):
        fd = central_grad(lambda *a: float(nll(*a)), args, i)
        assert float(want[i]) == pytest.approx(float(fd), rel=1e-5)


def test_review_cases_medians_ties_and_tails():
    # the Laplace cdf/ppf are smooth at the median: the whole slope, not half of it
    assert float(cr.grad(cs.laplace.cdf)(0.0)) == pytest.approx(0.5)
    assert float(cr.grad(cs.laplace.sf)(0.0)) == pytest.approx(-0.5)
    assert float(cr.grad(cs.laplace.logcdf)(0.0)) == pytest.approx(1.0)
    assert float(cr.grad(cs.laplace.ppf)(0.5)) == pytest.approx(2.0)
    assert float(cr.grad(lambda m: cs.laplace.cdf(0.3, m))(0.3)) == pytest.approx(-0.5)
    # the t cdf at its centre (through betainc it was 0 * inf)
    for m in ("overload", "graph", "source"):
        g = cr.grad(lambda x: cs.t.cdf(x, 4.0), method=m)(0.0)
        assert float(g) == pytest.approx(sps.t.pdf(0.0, 4.0), rel=1e-12)
    # upper tails: isf and sf where 1 - q or 1 - cdf would round away
    for name, args in (("norm", ()), ("expon", ()), ("logistic", ()), ("laplace", ()),
                       ("cauchy", ()), ("t", (3.0,))):
        got = getattr(cs, name).isf(1e-18, *args)
        assert float(got) == pytest.approx(getattr(sps, name).isf(1e-18, *args), rel=1e-9)
    assert float(cs.beta.sf(0.999999, 2.0, 3.0)) == pytest.approx(
        sps.beta.sf(0.999999, 2.0, 3.0), rel=1e-6)
    # binom with a traced n is a probability computation like any other (graph too)
    g = cr.grad(lambda p: cs.binom.logpmf(2.0, 5.0, p), method="graph")(0.3)
    assert float(g) == pytest.approx(2 / 0.3 - 3 / 0.7, rel=1e-10)


def test_numeric_steps_reach_a_transposed_input():
    a = np.arange(6.0).reshape(2, 3).T  # (a view in Fortran order)
    got = cr.grad(lambda m: cr.numpy.sum(m ** 2), method="numeric")(a)
    np.testing.assert_allclose(got, 2 * a, rtol=1e-6)
