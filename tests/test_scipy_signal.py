"""chainrule.scipy.signal: values against SciPy for every mode and shape; gradients in both
inputs against the transposes' closed form (a convolution's adjoint is a correlation) and central
differences; the methods agreeing."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.signal as ss

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.scipy import signal as cs

SHAPES = [((7,), (3,)), ((3,), (7,)), ((5,), (5,)), ((4, 6), (2, 3)), ((3, 3), (3, 5)),
          ((2, 3, 4), (2, 2, 2))]


def _valid_ok(s1, s2):
    return all(p >= q for p, q in zip(s1, s2)) or all(q >= p for p, q in zip(s1, s2))


@pytest.mark.parametrize("s1,s2", SHAPES)
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("name", ["convolve", "correlate", "fftconvolve"])
def test_values_match_scipy(name, s1, s2, mode):
    if mode == "valid" and not _valid_ok(s1, s2):
        pytest.skip("SciPy refuses these shapes too")
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(s1), rng.standard_normal(s2)
    want = getattr(ss, name)(a, b, mode=mode)
    np.testing.assert_allclose(getattr(cs, name)(a, b, mode=mode), want, atol=1e-12)
    za = a + 1j * rng.standard_normal(s1)
    np.testing.assert_allclose(getattr(cs, name)(za, b, mode=mode),
                               getattr(ss, name)(za, b, mode=mode), atol=1e-12)


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_convolve2d_and_fftconvolve_axes(mode):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((5, 6)), rng.standard_normal((2, 3))
    np.testing.assert_allclose(cs.convolve2d(a, b, mode=mode), ss.convolve2d(a, b, mode=mode),
                               atol=1e-12)
    x, k = rng.standard_normal((3, 8)), rng.standard_normal((3, 4))
    np.testing.assert_allclose(cs.fftconvolve(x, k, mode=mode, axes=1),
                               ss.fftconvolve(x, k, mode=mode, axes=1), atol=1e-12)
    with pytest.raises(NotImplementedError, match="boundary='wrap'"):
        cs.convolve2d(a, b, boundary="wrap")


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="mode='middle'"):
        cs.convolve(np.ones(3), np.ones(2), mode="middle")
    with pytest.raises(ValueError, match="mode='valid'"):
        cs.convolve(np.ones((3, 2)), np.ones((2, 3)), mode="valid")


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_gradients_in_both_inputs(mode):
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal(7), rng.standard_normal(3)
    w = rng.standard_normal(np.shape(ss.convolve(a, b, mode=mode)))

    def loss(a, b):
        return cnp.sum(w * cs.convolve(a, b, mode=mode))

    ga, gb = cr.grad(loss, argnums=(0, 1))(a, b)
    for x, g, i in ((a, ga, 0), (b, gb, 1)):
        for k in range(len(x)):
            e = np.zeros_like(x)
            e[k] = 1e-6
            args_up = (a + e, b) if i == 0 else (a, b + e)
            args_dn = (a - e, b) if i == 0 else (a, b - e)
            fd = (float(loss(*args_up)) - float(loss(*args_dn))) / 2e-6
            assert g[k] == pytest.approx(fd, rel=1e-6, abs=1e-9)
    if mode == "full":  # (the adjoint of convolution with b is correlation with b)
        np.testing.assert_allclose(ga, ss.correlate(w, b, mode="valid"), atol=1e-12)


def test_second_order_and_methods_agree():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal(6), rng.standard_normal(3)

    def f(a, b):
        return cnp.sum(cs.correlate(cnp.tanh(a), b, mode="same") ** 2)

    want = cr.grad(f, argnums=(0, 1))(a, b)
    for method in ("graph", "source", "numeric"):
        got = cr.grad(f, argnums=(0, 1), method=method)(a, b)
        tol = 1e-5 if method == "numeric" else 1e-10
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=tol, atol=tol)
    h = cr.hessian(lambda b: f(a, b))(b)
    gfun = cr.grad(lambda b: f(a, b))
    for k in range(3):
        e = np.zeros(3)
        e[k] = 1e-5
        np.testing.assert_allclose(h[:, k], (gfun(b + e) - gfun(b - e)) / 2e-5, rtol=1e-5,
                                   atol=1e-7)
