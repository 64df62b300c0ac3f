"""Complex numbers. Convention (PyTorch's): for a real-valued L of z = x + iy, grad(L)(z) is
dL/dx + i dL/dy, the direction of steepest ascent. Every case is checked against central
differences taken separately along the real and the imaginary parts."""
import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp


def fd_grad(f, z, h=1e-6):
    z = np.asarray(z, dtype=complex)
    g = np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        for unit in (1.0, 1j):
            zp, zm = z.copy(), z.copy()
            zp[idx] += h * unit
            zm[idx] -= h * unit
            d = (float(f(zp)) - float(f(zm))) / (2 * h)
            g[idx] += d * unit
    return g


@pytest.fixture
def z(rng):
    return rng.standard_normal(4) + 1j * rng.standard_normal(4)


LOSSES = {
    "abs2": lambda z: cnp.sum(cnp.abs(z) ** 2),
    "real_square": lambda z: cnp.sum(cnp.real(z * z)),
    "imag_exp": lambda z: cnp.sum(cnp.imag(cnp.exp(z))),
    "abs_sin": lambda z: cnp.sum(cnp.abs(cnp.sin(z) + 1.0)),
    "log_div": lambda z: cnp.real(cnp.sum(cnp.log(z) / (z + 2.0))),
    "conj_prod": lambda z: cnp.real(cnp.prod(cnp.conj(z) + 1.0)),
    "angle": lambda z: cnp.sum(cnp.angle(z) * cnp.abs(z)),
    "sqrt_tanh": lambda z: cnp.sum(cnp.abs(cnp.tanh(cnp.sqrt(z)))),
    "power": lambda z: cnp.sum(cnp.abs(z ** 3 - 2.0 * z)),
    "cumsum": lambda z: cnp.sum(cnp.real(cnp.cumsum(z) * cnp.conj(z))),
    "mean_var": lambda z: cnp.abs(cnp.mean(z * z)),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_gradient_of_real_loss_matches_finite_differences(name, z):
    f = LOSSES[name]
    np.testing.assert_allclose(cr.grad(f)(z), fd_grad(f, z), rtol=1e-6, atol=1e-7)


def test_the_convention_on_textbook_cases(z):
    np.testing.assert_allclose(cr.grad(LOSSES["abs2"])(z), 2 * z)
    np.testing.assert_allclose(cr.grad(LOSSES["real_square"])(z), 2 * np.conj(z))
    # gradient descent with this convention walks downhill as written
    w = z.copy()
    for _ in range(50):
        w = w - 0.1 * cr.grad(LOSSES["abs2"])(w)
    assert np.abs(w).max() < 1e-3


def test_matmul_dot_and_einsum_with_complex(rng):
    A = rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))
    v = rng.standard_normal(4) + 1j * rng.standard_normal(4)
    for f in (lambda v: cnp.sum(cnp.abs(A @ v) ** 2),
              lambda v: cnp.abs(cnp.dot(v, cnp.conj(v)) + cnp.sum(A @ v)),
              lambda v: cnp.sum(cnp.real(cnp.einsum("ij,j->i", A, v) * 1j))):
        np.testing.assert_allclose(cr.grad(f)(v), fd_grad(f, v), rtol=1e-6, atol=1e-7)
    # with respect to the matrix
    f = lambda A: cnp.sum(cnp.abs(A @ v))  # noqa: E731
    np.testing.assert_allclose(cr.grad(f)(A), fd_grad(f, A), rtol=1e-6, atol=1e-7)


def test_real_parameters_through_complex_intermediates(rng):
    c = rng.standard_normal(3) + 1j * rng.standard_normal(3)

    def f(x):  # real x, complex in between, real loss: the gradient is real
        return cnp.sum(cnp.real(cnp.exp(1j * x) * c))

    x = rng.standard_normal(3)
    g = cr.grad(f)(x)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, np.real(1j * np.exp(1j * x) * c), rtol=1e-12)
    np.testing.assert_allclose(cr.jacfwd(f)(x), g, rtol=1e-12)


def test_forward_mode_of_holomorphic_functions(z):
    dz = np.ones_like(z) * (0.3 - 0.7j)
    _, t = cr.jvp(cnp.sin, (z,), (dz,))
    np.testing.assert_allclose(t, np.cos(z) * dz)
    _, t = cr.jvp(lambda z: z * z / (z + 1.0), (z,), (dz,))
    np.testing.assert_allclose(t, (z * z + 2 * z) / (z + 1.0) ** 2 * dz)
    # non-holomorphic: d|z| = Re(conj(z) dz) / |z|
    _, t = cr.jvp(cnp.abs, (z,), (dz,))
    np.testing.assert_allclose(t, np.real(np.conj(z) * dz) / np.abs(z))


def test_second_order_with_complex(z):
    f = LOSSES["abs_sin"]
    hv = cr.hvp(f, (z,), (np.ones_like(z),))
    fd = (cr.grad(f)(z + 1e-6) - cr.grad(f)(z - 1e-6)) / 2e-6
    np.testing.assert_allclose(hv, fd, rtol=1e-5, atol=1e-6)
