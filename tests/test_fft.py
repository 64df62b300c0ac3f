"""chainrule.numpy.fft: values against numpy.fft (shapes, axes, n/s, norms, dtypes), derivatives
against finite differences (order 2, both modes, real and complex signals), the transposes
against the adjoint identity of the complex convention, batching against a loop, every method
on the same losses, and the errors. The primitives are also in the rule table (cases_fft.py)."""
from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule._core.errors import InPlaceError
from chainrule.ops import fft as F
from chainrule.testing import check_grads

NORMS = (None, "backward", "ortho", "forward")
ONE_D = ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft")
N_D = ("fftn", "ifftn", "rfftn", "irfftn")
TWO_D = ("fft2", "ifft2", "rfft2", "irfft2")
REAL_ONLY = ("rfft", "ihfft", "rfftn", "rfft2")  # a real signal in


def _signal(rng: np.random.Generator, shape: tuple[int, ...], complex_: bool) -> np.ndarray:
    x = rng.standard_normal(shape)
    return x + 1j * rng.standard_normal(shape) if complex_ else x


def _close(got: Any, want: np.ndarray, rtol: float = 1e-12) -> None:
    got = np.asarray(got)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, want.shape,
                                                                 got.dtype, want.dtype)
    scale = max(1.0, float(np.max(np.abs(want)))) if want.size else 1.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale)


def _traced_value(f: Any, x: np.ndarray) -> Any:
    """f(x) computed on a traced x (the primal of a JVP), so every primitive goes through an
    interpreter rather than its implementation alone."""
    return cr.jvp(f, (x,), (np.ones_like(x),))[0]


def test_the_list_is_complete() -> None:
    names = ("fft ifft fft2 ifft2 fftn ifftn rfft irfft rfft2 irfft2 rfftn irfftn hfft ihfft "
             "fftshift ifftshift").split()
    for name in names:
        assert callable(getattr(cnp.fft, name)) and name in cnp.fft.__all__
    assert cnp.fft.fftfreq is np.fft.fftfreq and cnp.fft.rfftfreq is np.fft.rfftfreq
    # a traced spacing goes through NumPy's own arithmetic: sum((k / (8 d))^2) with
    # sum(k^2) = 44 has derivative -2 * 44 / (64 d^3)
    assert cr.grad(lambda d: cnp.sum(cnp.fft.fftfreq(8, d) ** 2))(0.5) == pytest.approx(-11.0)


# ---------------------------------------------------------------------------------------------
# values

@pytest.mark.parametrize("name", ONE_D)
@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
def test_one_dimensional_values_match_numpy(name: str, norm: str | None, complex_: bool,
                                            rng: np.random.Generator) -> None:
    if complex_ and name in REAL_ONLY:
        return
    x = _signal(rng, (3, 4, 5), complex_)
    for axis in (0, 1, -1):
        for n in (None, 1, 2, 4, 7, 10):
            if n is None and name in ("irfft", "hfft") and x.shape[axis] == 1:
                continue
            want = getattr(np.fft, name)(x, n=n, axis=axis, norm=norm)
            _close(getattr(cnp.fft, name)(x, n, axis, norm), want)
            _close(getattr(cnp.fft, name)(x, n=n, axis=axis, norm=norm), want)
    f = getattr(cnp.fft, name)
    _close(_traced_value(lambda v: f(v, norm=norm), x), getattr(np.fft, name)(x, norm=norm))


ND_LAYOUTS = [  # (s, axes) for a (3, 4, 5) array
    (None, None), (None, (0, 2)), (None, (2, 0)), ((2, 7), (0, 2)), ((5,), (1,)),
    (None, (-1, 0)), ((-1, 8), (0, 1)), ((3, 3, 3), (0, 1, 2)), (None, (1, 1)),
    ((3, 6), (2, 2)), ((4, 2), (-1, -2)),
]


@pytest.mark.parametrize("name", N_D)
@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
def test_n_dimensional_values_match_numpy(name: str, norm: str | None, complex_: bool,
                                          rng: np.random.Generator) -> None:
    if complex_ and name in REAL_ONLY:
        return
    x = _signal(rng, (3, 4, 5), complex_)
    for s, axes in ND_LAYOUTS:
        want = getattr(np.fft, name)(x, s=s, axes=axes, norm=norm)
        _close(getattr(cnp.fft, name)(x, s=s, axes=axes, norm=norm), want)
    f = getattr(cnp.fft, name)
    _close(_traced_value(lambda v: f(v, axes=(0, 2), norm=norm), x),
           getattr(np.fft, name)(x, axes=(0, 2), norm=norm))


@pytest.mark.parametrize("name", TWO_D)
def test_two_dimensional_values_match_numpy(name: str, rng: np.random.Generator) -> None:
    x = _signal(rng, (2, 4, 6), name not in REAL_ONLY)
    for s in (None, (3, 8)):
        for axes in ((-2, -1), (0, 2), (2, 1)):
            for norm in NORMS:
                want = getattr(np.fft, name)(x, s=s, axes=axes, norm=norm)
                _close(getattr(cnp.fft, name)(x, s=s, axes=axes, norm=norm), want)
    _close(getattr(cnp.fft, name)(x), getattr(np.fft, name)(x))


def test_numpy_deprecated_forms_match_with_their_warnings(rng: np.random.Generator) -> None:
    x = rng.standard_normal((3, 4, 5))
    for name in N_D:
        with pytest.warns(DeprecationWarning, match="`axes` should not be `None`"):
            got = getattr(cnp.fft, name)(x, s=(3, 4))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            _close(got, getattr(np.fft, name)(x, s=(3, 4)))
        with pytest.warns(DeprecationWarning, match="containing `None`"):
            got = getattr(cnp.fft, name)(x, s=(None, 6), axes=(0, 2))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            _close(got, getattr(np.fft, name)(x, s=(None, 6), axes=(0, 2)))


def test_dtypes_empty_axes_lists_and_scalars(rng: np.random.Generator) -> None:
    x32 = rng.standard_normal((4, 6)).astype(np.float32)
    for name in ONE_D + N_D + TWO_D:
        want = getattr(np.fft, name)(x32)
        got = np.asarray(getattr(cnp.fft, name)(x32))
        assert got.dtype == want.dtype, name
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    ints = np.arange(6)
    for name in ONE_D:
        _close(getattr(cnp.fft, name)(ints), getattr(np.fft, name)(ints))
    x = rng.standard_normal((3, 4))
    for name in ("fftn", "ifftn"):  # no axis: NumPy returns the array as it is
        np.testing.assert_array_equal(getattr(cnp.fft, name)(x, axes=()),
                                      getattr(np.fft, name)(x, axes=()))
    _close(cnp.fft.fft([1.0, 2.0, 0.5]), np.fft.fft([1.0, 2.0, 0.5]))
    with pytest.raises(np.exceptions.AxisError):
        cnp.fft.fft(1.0)


@pytest.mark.parametrize("name", ["fftshift", "ifftshift"])
def test_shifts_match_numpy(name: str, rng: np.random.Generator) -> None:
    for shape in ((5,), (4, 5), (2, 3, 6)):  # (NumPy's own fails on a 0-d array)
        x = rng.standard_normal(shape)
        for axes in (None, 0, -1, (0,), (-1, 0)):
            want = getattr(np.fft, name)(x, axes)
            np.testing.assert_array_equal(getattr(cnp.fft, name)(x, axes), want)
            np.testing.assert_array_equal(getattr(cnp.fft, name)(x, axes=axes), want)
    x = rng.standard_normal((4, 5))
    np.testing.assert_array_equal(cnp.fft.ifftshift(cnp.fft.fftshift(x)), x)


def test_round_trips(rng: np.random.Generator) -> None:
    x = rng.standard_normal((4, 7))
    for norm in NORMS:
        np.testing.assert_allclose(cnp.fft.ifft(cnp.fft.fft(x, norm=norm), norm=norm), x,
                                   atol=1e-12)
        np.testing.assert_allclose(cnp.fft.irfft(cnp.fft.rfft(x, norm=norm), 7, norm=norm), x,
                                   atol=1e-12)
        np.testing.assert_allclose(cnp.fft.hfft(cnp.fft.ihfft(x, norm=norm), 7, norm=norm), x,
                                   atol=1e-12)
        np.testing.assert_allclose(cnp.fft.irfftn(cnp.fft.rfftn(x, norm=norm), x.shape,
                                                  axes=(0, 1), norm=norm), x, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# derivatives against finite differences, order 2, both modes

def _one_d_calls() -> list[Any]:
    out = []
    for name in ONE_D:
        for complex_ in (False, True):
            if complex_ and name in REAL_ONLY:
                continue
            for n, axis, norm in ((None, -1, None), (3, 0, "ortho"), (8, -1, "forward"),
                                  (5, 1, "backward")):
                label = f"{name}-{'complex' if complex_ else 'real'}-n{n}-axis{axis}-{norm}"
                out.append(pytest.param(name, complex_, dict(n=n, axis=axis, norm=norm),
                                        id=label))
    return out


@pytest.mark.parametrize("name,complex_,kwargs", _one_d_calls())
def test_one_dimensional_derivatives_match_finite_differences(
        name: str, complex_: bool, kwargs: dict[str, Any], rng: np.random.Generator) -> None:
    x = _signal(rng, (3, 6), complex_)
    f = getattr(cnp.fft, name)

    def g(v: Any) -> Any:
        return f(v, **kwargs)

    g.__name__ = name
    check_grads(g, [x], order=2, modes=("fwd", "rev"))


def _n_d_calls() -> list[Any]:
    out = []
    for name in N_D + TWO_D + ("fftshift", "ifftshift"):
        for complex_ in (False, True):
            if complex_ and name in REAL_ONLY:
                continue
            if name.endswith("shift"):
                layouts: list[dict[str, Any]] = [{}, {"axes": (0, 2)}, {"axes": 1}]
            elif name.endswith("2"):
                layouts = [{}, {"s": (3, 4), "axes": (0, 2), "norm": "ortho"}]
            else:
                layouts = [{}, {"s": (5, 2), "axes": (2, 0), "norm": "forward"},
                           {"s": (3, 3), "axes": (1, 1)}, {"axes": (1,), "norm": "ortho"}]
            for k, kwargs in enumerate(layouts):
                label = f"{name}-{'complex' if complex_ else 'real'}-{k}"
                out.append(pytest.param(name, complex_, kwargs, id=label))
    return out


@pytest.mark.parametrize("name,complex_,kwargs", _n_d_calls())
def test_n_dimensional_derivatives_match_finite_differences(
        name: str, complex_: bool, kwargs: dict[str, Any], rng: np.random.Generator) -> None:
    x = _signal(rng, (2, 3, 4), complex_)
    f = getattr(cnp.fft, name)

    def g(v: Any) -> Any:
        return f(v, **kwargs)

    g.__name__ = name
    check_grads(g, [x], order=2, modes=("fwd", "rev"))


# ---------------------------------------------------------------------------------------------
# the transposes: the adjoint identity of the convention, <ct, L v> = <L^T ct, v> with the real
# pairing Re(sum(conj(a) b)), for real and complex signals and cotangents (what the rule table
# cannot check for a real input with a complex output: see tests/cases_fft.py)

def _pair(a: Any, b: Any) -> float:
    return float(np.real(np.sum(np.conj(np.asarray(a)) * np.asarray(b))))


def _primitive_calls() -> list[Any]:
    out = []
    for axes in ((0,), (1,), (0, 1)):
        for inverse in (False, True):
            for norm in F.NORMS:
                for complex_ in (False, True):
                    out.append(pytest.param(
                        "fft", (3, 5), dict(axes=axes, inverse=inverse, norm=norm), complex_,
                        id=f"fft-{axes}-inv{inverse}-{norm}-{complex_}"))
    for n in (1, 2, 5, 6):
        for norm in F.NORMS:
            out.append(pytest.param("rfft", (3, n), dict(axis=1, norm=norm), False,
                                    id=f"rfft-{n}-{norm}"))
            for complex_ in (False, True):
                out.append(pytest.param("irfft", (n // 2 + 1, 2), dict(axis=0, n=n, norm=norm),
                                        complex_, id=f"irfft-{n}-{norm}-{complex_}"))
    return out


@pytest.mark.parametrize("prim,shape,params,complex_", _primitive_calls())
def test_transpose_is_the_adjoint_for_the_real_pairing(
        prim: str, shape: tuple[int, ...], params: dict[str, Any], complex_: bool,
        rng: np.random.Generator) -> None:
    p = {"fft": F.fft_p, "rfft": F.rfft_p, "irfft": F.irfft_p}[prim]
    v = _signal(rng, shape, complex_)
    lv = p.impl(v, **params)
    ct = _signal(rng, np.shape(lv), np.iscomplexobj(lv))
    got = np.asarray(p.transpose[0](ct, v, **params))
    assert got.shape == v.shape and got.dtype == v.dtype
    assert np.isclose(_pair(got, v), _pair(ct, lv), rtol=1e-12, atol=1e-12)
    # and through the interpreters: the VJP and the Jacobians agree with it
    f = cr.vjp(lambda a: p.bind(a, **params), v)[1]
    np.testing.assert_allclose(f(ct)[0], got, rtol=1e-12, atol=1e-12)
    if not complex_:  # jacrev of a real input is the real part of jacfwd (the convention)
        jf = cr.jacfwd(lambda a: p.bind(a, **params))(v)
        jr = cr.jacrev(lambda a: p.bind(a, **params))(v)
        np.testing.assert_allclose(jr, np.real(jf), rtol=1e-12, atol=1e-12)


def test_parseval_gradient_by_hand(rng: np.random.Generator) -> None:
    """sum |fft(z)|^2 = N sum |z|^2, so the gradient (dL/dx + i dL/dy) is 2 N z; with
    norm="ortho" the transform is unitary and it is 2 z."""
    z = _signal(rng, (6,), True)
    np.testing.assert_allclose(cr.grad(lambda v: cnp.sum(cnp.abs(cnp.fft.fft(v)) ** 2))(z),
                               12 * z, rtol=1e-12)
    np.testing.assert_allclose(
        cr.grad(lambda v: cnp.sum(cnp.abs(cnp.fft.fft(v, norm="ortho")) ** 2))(z), 2 * z,
        rtol=1e-12)
    x = rng.standard_normal(7)  # a real signal: a real gradient
    g = cr.grad(lambda v: cnp.sum(cnp.abs(cnp.fft.rfft(v)) ** 2))(x)
    assert g.dtype == np.float64
    # |rfft|^2 counts frequency 0 once and the others (their mirror images dropped) once each
    w = np.fft.irfft(np.fft.rfft(x) * np.r_[1.0, 0.5 * np.ones(3)], 7, norm="forward")
    np.testing.assert_allclose(g, 2 * w, rtol=1e-12)


def test_float32_keeps_its_precision(rng: np.random.Generator) -> None:
    x = rng.standard_normal(8).astype(np.float32)
    for f in (lambda v: cnp.sum(cnp.abs(cnp.fft.fft(v)) ** 2),
              lambda v: cnp.sum(cnp.fft.irfft(cnp.fft.rfft(v) * 2.0) ** 2),
              lambda v: cnp.sum(cnp.fft.hfft(v) ** 2)):
        g = cr.grad(f)(x)
        assert g.dtype == np.float32
        want = cr.grad(f)(x.astype(np.float64))
        np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())


# ---------------------------------------------------------------------------------------------
# the complex convention through every method

def _fd_grad(f: Any, z: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """dL/dx + i dL/dy by central differences along the real and imaginary parts."""
    complex_ = np.iscomplexobj(z)
    g = np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        for unit in ((1.0, 1j) if complex_ else (1.0,)):
            zp, zm = z.copy(), z.copy()
            zp[idx] += h * unit
            zm[idx] -= h * unit
            g[idx] += (float(f(zp)) - float(f(zm))) / (2 * h) * unit
    return g


_C = np.array([0.3 - 1.2j, 1.1 + 0.4j, -0.7 + 0.2j, 0.5 + 0.9j, -1.3 - 0.1j, 0.8 - 0.6j])


def loss_fft(v: Any) -> Any:
    y = cnp.fft.fft(v, n=8, norm="ortho")
    return cnp.sum(cnp.abs(y[:6] * _C) ** 2) + cnp.sum(cnp.real(cnp.fft.ifft(v) * _C))


def loss_rfft_irfft(v: Any) -> Any:
    y = cnp.fft.rfft(cnp.real(v) + cnp.imag(v) * 0.5)  # (a real signal from a complex one)
    return cnp.sum(cnp.fft.irfft(y * _C[:4], n=7) ** 2) + cnp.sum(cnp.imag(y))


def loss_n_d(v: Any) -> Any:
    a = cnp.reshape(v, (2, 3))
    y = cnp.fft.fftshift(cnp.fft.fft2(a, s=(3, 4)))
    return cnp.sum(cnp.abs(cnp.fft.ihfft(cnp.abs(y) ** 2)) ** 2) + cnp.sum(cnp.real(y) * 0.2)


def loss_hfft(v: Any) -> Any:
    return cnp.sum(cnp.fft.hfft(v, n=9) ** 2 * cnp.linspace(0.5, 1.5, 9))


LOSSES = [loss_fft, loss_rfft_irfft, loss_n_d, loss_hfft]
METHODS = ("overload", "graph", "source", "numeric", "symbolic")
# (the source method's fast form is derived for real numbers: a real signal whose spectrum meets
# a complex constant must run the careful form, or it loses the convention's conjugations)


def _method_params() -> list[Any]:
    out = []
    for loss in LOSSES:
        for complex_ in (False, True):
            for method in METHODS:
                marks: list[Any] = []
                kind = "complex" if complex_ else "real"
                out.append(pytest.param(loss, complex_, method, marks=marks,
                                        id=f"{loss.__name__}-{kind}-{method}"))
    return out


@pytest.mark.parametrize("loss,complex_,method", _method_params())
def test_every_method_gives_the_convention(loss: Any, complex_: bool, method: str,
                                           rng: np.random.Generator) -> None:
    z = _signal(rng, (6,), complex_)
    if method == "symbolic":
        # symbolic expressions are real-valued: it refuses a complex argument, and works on
        # arrays of symbols, which numpy.fft does not transform
        with pytest.raises(TypeError if complex_ else cr.symbolic.SymbolicError):
            cr.grad(loss, method="symbolic")(z)
        return
    want = _fd_grad(loss, z)
    got = cr.grad(loss, method=method)(z)
    assert np.asarray(got).dtype == z.dtype
    tol = 1e-6 if method == "numeric" else 1e-7
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(want).max())


def test_hessian_through_fft_matches_finite_differences(rng: np.random.Generator) -> None:
    x = rng.standard_normal(5)

    def f(v: Any) -> Any:
        y = cnp.fft.rfft(cnp.sin(v), n=6)
        s = cnp.fft.ifft(y * y, n=5)
        return cnp.sum(cnp.abs(s) ** 2) + cnp.sum(cnp.fft.irfft(y, n=6) * v[:1])

    h = 1e-4
    g = cr.grad(f)
    fd = np.stack([(g(x + h * e) - g(x - h * e)) / (2 * h) for e in np.eye(5)])
    for method in ("overload", "graph"):
        hess = cr.hessian(f, method=method)(x)
        np.testing.assert_allclose(hess, hess.T, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(hess, fd, rtol=1e-6, atol=1e-7)
    # second differences of the function itself, independently of any gradient
    fd2 = np.empty((5, 5))
    for i, j in np.ndindex(5, 5):
        ei, ej = h * np.eye(5)[i], h * np.eye(5)[j] * 10
        fd2[i, j] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (
            4 * h * h * 10)
    np.testing.assert_allclose(cr.hessian(f)(x), fd2, rtol=1e-5, atol=1e-5)
    # and with a complex signal: the Hessian-vector product against differences of gradients
    z = _signal(rng, (6,), True)
    d = _signal(rng, (6,), True)
    hv = cr.hvp(loss_fft, (z,), (d,))
    gz = cr.grad(loss_fft)
    np.testing.assert_allclose(hv, (gz(z + 1e-6 * d) - gz(z - 1e-6 * d)) / 2e-6,
                               rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# batching, graphs, dispatch

@pytest.mark.parametrize("name", ONE_D + N_D + TWO_D + ("fftshift", "ifftshift"))
def test_vmap_matches_a_loop(name: str, rng: np.random.Generator) -> None:
    xs = _signal(rng, (3, 4, 5), name not in REAL_ONLY)
    f = getattr(cnp.fft, name)
    kwargs: dict[str, Any] = {}
    if name not in ("fftshift", "ifftshift"):
        kwargs["norm"] = "ortho"
    got = cr.vmap(lambda v: f(v, **kwargs))(xs)
    _close(got, np.stack([getattr(np.fft, name)(x, **kwargs) for x in xs]))
    # the Jacobians push a basis through the batched rules (a real signal: with a complex one,
    # jacfwd and jacrev are different things by the convention)
    x = np.real(xs[0])
    jf = cr.jacfwd(lambda v: cnp.real(f(v, **kwargs)))(x)
    jr = cr.jacrev(lambda v: cnp.real(f(v, **kwargs)))(x)
    np.testing.assert_allclose(jf, jr, rtol=1e-10, atol=1e-12)


def test_graph_round_trips_through_json(rng: np.random.Generator) -> None:
    def f(v: Any) -> Any:
        y = cnp.fft.rfft2(v, s=(4, 6), norm="ortho")
        w = cnp.fft.ifftn(y, axes=(0,))
        return cnp.sum(cnp.real(w * cnp.conj(w))) + cnp.sum(cnp.fft.irfftn(y, s=(4, 5),
                                                                          axes=(0, 1)))

    g = cr.graph.trace(cr.grad(f), cr.graph.spec((3, 5))).optimize()
    prims = {e.prim.name for e in g.eqns}
    assert {"fft", "rfft", "irfft"} <= prims
    again = cr.graph.Graph.from_json(g.to_json())
    x = rng.standard_normal((3, 5))
    want = cr.grad(f)(x)
    np.testing.assert_allclose(again.run_flat(x)[0], want, rtol=1e-12)
    np.testing.assert_allclose(g.compile()(x), want, rtol=1e-12)
    data = json.loads(g.to_json())
    for e in data["eqns"]:
        if e["prim"] == "irfft":
            e["params"]["n"] = {"int": 99}  # a length its input cannot have
            break
    with pytest.raises(Exception, match="frequencies"):
        cr.graph.Graph.from_json(json.dumps(data)).run_flat(x)


def test_plain_numpy_fft_on_traced_values(rng: np.random.Generator) -> None:
    x = rng.standard_normal(6)

    def f(v: Any) -> Any:
        return np.sum(np.abs(np.fft.fft(v, n=8)) ** 2) + np.sum(np.fft.irfft(np.fft.rfft(v)))

    def g(v: Any) -> Any:
        return cnp.sum(cnp.abs(cnp.fft.fft(v, n=8)) ** 2) + cnp.sum(
            cnp.fft.irfft(cnp.fft.rfft(v)))

    np.testing.assert_allclose(cr.grad(f)(x), cr.grad(g)(x), rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# errors

def test_errors_name_the_argument(rng: np.random.Generator) -> None:
    x = rng.standard_normal((3, 4))
    with pytest.raises(ValueError, match="Invalid norm value"):
        cnp.fft.fft(x, norm="unitary")
    with pytest.raises(ValueError, match=r"Invalid number of FFT data points \(0\)"):
        cnp.fft.fft(x, n=0)
    with pytest.raises(ValueError, match=r"Invalid number of FFT data points \(0\)"):
        cnp.fft.irfft(x[:, :1])
    with pytest.raises(np.exceptions.AxisError):
        cnp.fft.rfft(x, axis=2)
    with pytest.raises(ValueError, match="Shape and axes have different lengths"):
        cnp.fft.fftn(x, s=(2, 3), axes=(0,))
    with pytest.raises(TypeError, match="real signal.*use fft"):
        cnp.fft.rfft(x + 1j)
    with pytest.raises(TypeError, match="real signal.*use fft"):
        cr.grad(lambda v: cnp.sum(cnp.abs(cnp.fft.ihfft(v))))(x + 1j)
    out = np.empty((3, 4), complex)
    assert cnp.fft.fft(x, out=out) is out  # plain arrays: NumPy writes it
    np.testing.assert_allclose(out, np.fft.fft(x))
    with pytest.raises(InPlaceError, match="writes in place"):
        cr.grad(lambda v: cnp.sum(cnp.real(cnp.fft.fft(v, out=out))))(x)
    # the primitives check what a graph file could give them
    with pytest.raises(ValueError, match="axes"):
        F.fft_p.abstract_eval(x, axes=(), inverse=False, norm="backward")
    with pytest.raises(ValueError, match="axis"):
        F.rfft_p.abstract_eval(x, axis=5, norm="backward")
    with pytest.raises(ValueError, match="Invalid norm"):
        F.irfft_p.abstract_eval(x, axis=1, n=6, norm="sideways")
