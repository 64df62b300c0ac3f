"""Programs written the way HIPS autograd's and JAX's users write them against `autograd.scipy`,
`jax.scipy` and `numpy.fft`, run with chainrule's modules swapped in for theirs (the function
lists and argument conventions of those libraries' documentation; our own programs). Each runs
unchanged: values against SciPy/NumPy, gradients against central differences."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as onp
import pytest
import scipy.special
import scipy.stats

import chainrule as cr
import chainrule.numpy as np  # (the swap: `import autograd.numpy as np`)
import chainrule.scipy.signal as signal
import chainrule.scipy.special as special
import chainrule.scipy.stats as stats

RNG = onp.random.default_rng(0)


def central(f: Callable[[onp.ndarray], Any], x: onp.ndarray, h: float = 1e-6) -> onp.ndarray:
    x = onp.asarray(x, dtype=float)
    out = onp.zeros(x.shape)
    for i in onp.ndindex(*x.shape):
        e = onp.zeros(x.shape)
        e[i] = h
        out[i] = (float(f(x + e)) - float(f(x - e))) / (2 * h)
    return out


def check(f: Callable[[Any], Any], x: Any, rtol: float = 1e-6, atol: float = 1e-8) -> None:
    onp.testing.assert_allclose(cr.grad(f)(x), central(f, x), rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------------------------
# autograd-style programs

def test_gaussian_mixture_log_likelihood():
    """autograd's mixture-of-Gaussians example style: logsumexp over components."""
    x = RNG.standard_normal(20)

    def log_likelihood(params):
        means, log_stds, logits = params[:3], params[3:6], params[6:]
        log_weights = logits - special.logsumexp(logits)
        lp = stats.norm.logpdf(x[:, None], means, np.exp(log_stds)) + log_weights
        return np.sum(special.logsumexp(lp, axis=1))

    p = onp.array([-1.0, 0.0, 1.5, -0.3, 0.1, 0.2, 0.5, -0.2, 0.1])
    means, stds, w = p[:3], onp.exp(p[3:6]), onp.exp(p[6:]) / onp.exp(p[6:]).sum()
    want = onp.sum(scipy.special.logsumexp(
        scipy.stats.norm.logpdf(x[:, None], means, stds) + onp.log(w), axis=1))
    assert float(log_likelihood(p)) == pytest.approx(want, rel=1e-12)
    check(log_likelihood, p)


def test_bayesian_models_with_autograd_stats():
    """The distributions autograd.scipy.stats offers, with its argument conventions."""
    data = onp.array([0.4, 1.3, 2.2, 0.9])
    counts = onp.array([0.0, 3.0, 1.0, 2.0])
    simplex = onp.array([0.2, 0.5, 0.3])

    def log_posterior(theta):
        mu, log_s, a, b = theta
        s = np.exp(log_s)
        return (np.sum(stats.t.logpdf(data, 5.0, mu, s))
                + np.sum(stats.poisson.logpmf(counts, np.exp(mu)))
                + stats.dirichlet.logpdf(simplex, np.exp(np.array([a, b, a + b])))
                + stats.beta.logpdf(0.3, np.exp(a), np.exp(b))
                + stats.gamma.logpdf(s, 2.0) + stats.chi2.logpdf(s + 1.0, 3.0)
                + stats.norm.logcdf(mu) + stats.multivariate_normal.logpdf(
                    np.array([mu, a]), np.zeros(2), np.array([[2.0, 0.3], [0.3, 1.0]])))

    theta = onp.array([0.8, -0.1, 0.3, 0.6])
    mu, s, a, b = theta[0], onp.exp(theta[1]), theta[2], theta[3]
    want = (scipy.stats.t.logpdf(data, 5.0, mu, s).sum()
            + scipy.stats.poisson.logpmf(counts, onp.exp(mu)).sum()
            + scipy.stats.dirichlet.logpdf(simplex, onp.exp([a, b, a + b]))
            + scipy.stats.beta.logpdf(0.3, onp.exp(a), onp.exp(b))
            + scipy.stats.gamma.logpdf(s, 2.0) + scipy.stats.chi2.logpdf(s + 1.0, 3.0)
            + scipy.stats.norm.logcdf(mu) + scipy.stats.multivariate_normal.logpdf(
                [mu, a], onp.zeros(2), [[2.0, 0.3], [0.3, 1.0]]))
    assert float(log_posterior(theta)) == pytest.approx(want, rel=1e-11)
    check(log_posterior, theta, rtol=1e-5)


@pytest.mark.parametrize("name,args", [
    ("gammaln", ()), ("digamma", ()), ("psi", ()), ("gamma", ()), ("rgamma", ()),
    ("erf", ()), ("erfc", ()), ("expit", ()), ("i0", ()), ("i1", ()), ("j0", ()), ("j1", ()),
    ("y0", ()), ("y1", ()), ("i0e", ()), ("i1e", ()), ("ndtr", ()), ("log_ndtr", ()),
])
def test_autograd_special_unary(name, args):
    x = onp.array([0.7, 1.3, 2.9])
    f = getattr(special, name)
    onp.testing.assert_allclose(f(x), getattr(scipy.special, name)(x), rtol=1e-12)
    check(lambda v: np.sum(f(v) ** 2), x, rtol=1e-5)


def test_autograd_special_with_parameters():
    x = onp.array([0.3, 0.45, 0.8])
    programs = [
        lambda v: np.sum(special.polygamma(1, v + 1.0)),
        lambda v: np.sum(special.multigammaln(v + 2.0, 2)),
        lambda v: np.sum(special.beta(v + 0.5, 2.0) + special.betaln(1.5, v + 0.2)),
        lambda v: np.sum(special.erfinv(v) + special.erfcinv(v + 0.1) + special.logit(v)),
        lambda v: np.sum(special.iv(1.5, v) + special.ive(0.5, v) + special.jn(2, v)
                         + special.yn(1, v + 1.0)),
        lambda v: np.sum(special.gammainc(2.0, v) + special.gammaincc(1.5, v)
                         + special.betainc(2.0, 3.0, v)),
        lambda v: np.sum(special.xlogy(v, v + 1.0) + special.xlog1py(v, v) + special.entr(v)
                         + special.zeta(3.0, v + 1.0) + special.ndtri(v)),
    ]
    for f in programs:
        check(f, x, rtol=1e-5)


def test_fft_programs():
    """numpy.fft as autograd.numpy.fft and jax.numpy.fft users call it."""
    x = RNG.standard_normal((4, 6))

    def spectral_loss(v):
        F = np.fft.fft2(v)
        power = np.abs(np.fft.fftshift(F)) ** 2
        return np.sum(power * np.linspace(0.0, 1.0, 6)) + np.sum(np.fft.irfft(
            np.fft.rfft(v, axis=1) * 0.5, n=6, axis=1) ** 2)

    F = onp.fft.fft2(x)
    want = onp.sum(onp.abs(onp.fft.fftshift(F)) ** 2 * onp.linspace(0, 1, 6)) + onp.sum(
        onp.fft.irfft(onp.fft.rfft(x, axis=1) * 0.5, n=6, axis=1) ** 2)
    assert float(spectral_loss(x)) == pytest.approx(want, rel=1e-12)
    check(spectral_loss, x, rtol=1e-5)


def test_signal_convolve_program():
    """autograd.scipy.signal.convolve's usual use: a valid-mode filter."""
    k = onp.array([0.25, 0.5, 0.25])

    def smooth_energy(v):
        return np.sum(signal.convolve(v, k, mode="valid") ** 2)

    v = RNG.standard_normal(9)
    assert float(smooth_energy(v)) == pytest.approx(
        float(onp.sum(onp.convolve(v, k, mode="valid") ** 2)), rel=1e-12)
    check(smooth_energy, v)


# ---------------------------------------------------------------------------------------------
# JAX-style programs (jax.scipy.special / jax.scipy.stats function lists)

def test_jax_stats_functions():
    x = onp.array([-0.7, 0.2, 1.4])
    u = onp.array([0.15, 0.4, 0.8])
    programs = [
        (lambda v: np.sum(stats.norm.cdf(v) + stats.norm.logpdf(v, 0.5, 2.0)),
         lambda v: onp.sum(scipy.stats.norm.cdf(v) + scipy.stats.norm.logpdf(v, 0.5, 2.0)), x),
        (lambda v: np.sum(stats.norm.ppf(v) + stats.logistic.isf(v) + stats.logistic.ppf(v)),
         lambda v: onp.sum(scipy.stats.norm.ppf(v) + scipy.stats.logistic.isf(v)
                           + scipy.stats.logistic.ppf(v)), u),
        (lambda v: np.sum(stats.laplace.cdf(v) + stats.logistic.sf(v)
                          + stats.cauchy.logpdf(v)),
         lambda v: onp.sum(scipy.stats.laplace.cdf(v) + scipy.stats.logistic.sf(v)
                           + scipy.stats.cauchy.logpdf(v)), x),
        (lambda v: np.sum(stats.expon.logpdf(v + 1.0) + stats.uniform.logpdf(v, -1.0, 3.0)),
         lambda v: onp.sum(scipy.stats.expon.logpdf(v + 1.0)
                           + scipy.stats.uniform.logpdf(v, -1.0, 3.0)), x),
        (lambda v: np.sum(stats.bernoulli.logpmf(1.0, v) + stats.geom.logpmf(3.0, v)
                          + stats.binom.logpmf(2.0, 5.0, v)),
         lambda v: onp.sum(scipy.stats.bernoulli.logpmf(1, v) + scipy.stats.geom.logpmf(3, v)
                           + scipy.stats.binom.logpmf(2, 5, v)), u),
    ]
    for f, want, at in programs:
        assert float(f(at)) == pytest.approx(float(want(at)), rel=1e-11)
        check(f, at, rtol=1e-5)


def test_plain_scipy_special_ufuncs_on_traced_values():
    """JAX programs import jax.scipy.special; code that kept `scipy.special` still runs, as
    np.sin does (scipy.special's ufuncs dispatch to chainrule)."""
    x = onp.array([0.6, 1.7])
    f = lambda v: np.sum(scipy.special.gammaln(v) * scipy.special.expit(v))  # noqa: E731
    onp.testing.assert_allclose(cr.grad(f)(x), central(f, x), rtol=1e-6)
