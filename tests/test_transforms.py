"""The functional transforms against hand-derived derivatives."""
import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp


def textbook(x1, x2):
    return cnp.log(x1) + x1 * x2 - cnp.sin(x2)


TEXTBOOK_GRAD = (5.5, 2.0 - math.cos(5.0))


def test_textbook_example_reverse():
    g = cr.grad(textbook, argnums=(0, 1))(2.0, 5.0)
    assert g[0] == pytest.approx(TEXTBOOK_GRAD[0], abs=1e-14)
    assert g[1] == pytest.approx(TEXTBOOK_GRAD[1], abs=1e-14)


def test_textbook_example_forward():
    _, t1 = cr.jvp(textbook, (2.0, 5.0), (1.0, 0.0))
    _, t2 = cr.jvp(textbook, (2.0, 5.0), (0.0, 1.0))
    assert (float(t1), float(t2)) == pytest.approx(TEXTBOOK_GRAD, abs=1e-14)


def test_value_and_grad():
    v, g = cr.value_and_grad(lambda x: x ** 3)(2.0)
    assert v == 8.0 and g == 12.0


def test_grad_argnums_int_and_tuple():
    f = lambda x, y: x * x * y  # noqa: E731
    assert cr.grad(f)(3.0, 2.0) == 12.0
    assert cr.grad(f, argnums=1)(3.0, 2.0) == 9.0
    assert cr.grad(f, argnums=(0, 1))(3.0, 2.0) == (12.0, 9.0)
    assert cr.grad(f, argnums=-1)(3.0, 2.0) == 9.0


def test_grad_keeps_float32():
    g = cr.grad(lambda x: cnp.sum(x * x))(np.ones(3, np.float32))
    assert g.dtype == np.float32


def test_has_aux():
    (v, aux), g = cr.value_and_grad(lambda x: (x ** 2, {"cube": x ** 3}), has_aux=True)(2.0)
    assert v == 4.0 and aux["cube"] == 8.0 and g == 4.0
    g, aux = cr.grad(lambda x: (x ** 2, x + 1), has_aux=True)(3.0)
    assert g == 6.0 and aux == 4.0


def test_pytrees_in_and_out():
    params = {"w": np.array([1.0, 2.0]), "b": 0.5, "meta": ("name", 3), "none": None}

    def loss(p):
        return cnp.sum(p["w"] ** 2) * p["b"] + p["meta"][1]

    g = cr.grad(loss)(params)
    np.testing.assert_allclose(g["w"], [1.0, 2.0])
    assert g["b"] == pytest.approx(5.0)
    assert g["meta"] == (None, None)  # string and integer leaves: constants, slot None
    assert g["none"] is None


def test_namedtuple_and_dataclass_pytrees():
    import dataclasses
    from collections import namedtuple

    Point = namedtuple("Point", "x y")

    @cr.tree.register_dataclass
    @dataclasses.dataclass
    class Layer:
        w: np.ndarray
        scale: float
        name: str = dataclasses.field(default="dense", metadata={"static": True})

    def f(pt, layer):
        return pt.x * pt.y * layer.scale + cnp.sum(layer.w)

    gp, gl = cr.grad(f, argnums=(0, 1))(Point(2.0, 3.0), Layer(np.ones(2), 4.0))
    assert isinstance(gp, Point) and gp == (12.0, 8.0)
    assert isinstance(gl, Layer) and gl.scale == 6.0 and gl.name == "dense"
    np.testing.assert_allclose(gl.w, [1.0, 1.0])


def test_vjp_multiple_calls_and_outputs():
    out, f_vjp = cr.vjp(lambda x, y: (x * y, x + y), 2.0, 3.0)
    assert out == (6.0, 5.0)
    assert f_vjp((1.0, 0.0)) == (3.0, 2.0)
    assert f_vjp((0.0, 1.0)) == (1.0, 1.0)  # reusable


def test_jvp_pytree_and_linearize():
    x = np.array([0.3, -1.2, 2.0])
    v = np.array([1.0, 2.0, -1.0])
    out, t = cr.jvp(lambda a: {"s": cnp.sin(a) * a}, (x,), (v,))
    np.testing.assert_allclose(t["s"], (np.cos(x) * x + np.sin(x)) * v)
    out2, f_jvp = cr.linearize(lambda a: cnp.exp(a) * a, x)
    np.testing.assert_allclose(out2, np.exp(x) * x)
    for tv in (v, np.ones(3), np.array([0.0, 5.0, 0.0])):
        np.testing.assert_allclose(f_jvp(tv), np.exp(x) * (x + 1) * tv)


def test_linearize_does_not_rerun_f():
    calls = []

    def f(x):
        calls.append(1)
        return cnp.sin(x) * 2.0

    _, f_jvp = cr.linearize(f, np.array([0.1, 0.2]))
    for _ in range(3):
        f_jvp(np.ones(2))
    assert len(calls) == 1


def test_jacobians_match_closed_form(rng):
    A = rng.standard_normal((4, 3))
    x = rng.standard_normal(3)

    def f(x):
        return cnp.tanh(A @ x) + x[0] * 2.0

    want = (1 - np.tanh(A @ x) ** 2)[:, None] * A
    want[:, 0] += 2.0
    np.testing.assert_allclose(cr.jacrev(f)(x), want, rtol=1e-12)
    np.testing.assert_allclose(cr.jacfwd(f)(x), want, rtol=1e-12)
    np.testing.assert_allclose(cr.jacobian(f)(x), want, rtol=1e-12)


def test_jacobian_shapes_are_out_plus_in(rng):
    x = rng.standard_normal((2, 3))
    f = lambda x: cnp.sum(x, axis=0) * x[0]  # noqa: E731  out (3,), in (2, 3)
    assert cr.jacrev(f)(x).shape == (3, 2, 3)
    assert cr.jacfwd(f)(x).shape == (3, 2, 3)
    np.testing.assert_allclose(cr.jacrev(f)(x), cr.jacfwd(f)(x), rtol=1e-12)


def test_jacobian_with_pytrees_and_argnums(rng):
    x, y = rng.standard_normal(2), rng.standard_normal(3)

    def f(x, y):
        return {"p": cnp.outer(x, y), "s": cnp.sum(x) * y}

    for jac in (cr.jacrev, cr.jacfwd):
        J = jac(f, argnums=(0, 1))(x, y)
        assert J["p"][0].shape == (2, 3, 2) and J["p"][1].shape == (2, 3, 3)
        np.testing.assert_allclose(J["s"][0], np.outer(y, np.ones(2)), rtol=1e-12)
        np.testing.assert_allclose(J["s"][1], np.sum(x) * np.eye(3), rtol=1e-12)


def test_hessian_closed_form(rng):
    A = rng.standard_normal((5, 5)) * 0.3
    x = rng.standard_normal(5)

    def f(x):
        return cnp.sum(cnp.exp(A @ x)) + (x @ x) ** 2

    e = np.exp(A @ x)
    want = A.T @ (e[:, None] * A) + 4 * (x @ x) * np.eye(5) + 8 * np.outer(x, x)
    np.testing.assert_allclose(cr.hessian(f)(x), want, rtol=1e-10)
    np.testing.assert_allclose(cr.jacfwd(cr.jacrev(f))(x), want, rtol=1e-10)
    np.testing.assert_allclose(cr.jacrev(cr.jacrev(f))(x), want, rtol=1e-10)
    np.testing.assert_allclose(cr.jacfwd(cr.jacfwd(f))(x), want, rtol=1e-10)
    v = rng.standard_normal(5)
    np.testing.assert_allclose(cr.hvp(f, (x,), (v,)), want @ v, rtol=1e-10)


def test_hessian_of_a_dict_of_arrays():
    def f(p):
        return cnp.sum(p["a"] ** 2) * p["b"] + cnp.sin(p["b"])

    p = {"a": np.array([1.0, 2.0]), "b": 0.5}
    H = cr.hessian(f)(p)
    np.testing.assert_allclose(H["a"]["a"], 2 * 0.5 * np.eye(2))
    np.testing.assert_allclose(H["a"]["b"], 2 * p["a"])
    np.testing.assert_allclose(H["b"]["a"], 2 * p["a"])
    assert float(H["b"]["b"]) == pytest.approx(-math.sin(0.5))


def test_third_derivative():
    f = lambda x: x ** 4 + cnp.sin(x)  # noqa: E731
    x = 0.7
    assert cr.grad(cr.grad(cr.grad(f)))(x) == pytest.approx(24 * x - math.cos(x), abs=1e-12)


def test_perturbation_confusion():
    assert cr.grad(lambda x: x * cr.grad(lambda y: x + y)(1.0))(3.0) == 1.0
    # the same with forward mode inside and outside
    def inner_fwd(x):
        return cr.jvp(lambda y: x * y, (2.0,), (1.0,))[1]
    # d/dx [x * d/dy (x y)] = d/dx [x * x] = 2x
    assert cr.jvp(lambda x: x * inner_fwd(x), (3.0,), (1.0,))[1] == 6.0
    assert cr.grad(lambda x: x * inner_fwd(x))(3.0) == 6.0


def test_grad_of_function_calling_grad():
    # g(x) = d/dx (x^2 sin x) = 2x sin x + x^2 cos x; then d/dx [g(x) * x]
    def g(x):
        return cr.grad(lambda t: t ** 2 * cnp.sin(t))(x)

    x = 1.3
    gx = 2 * x * math.sin(x) + x ** 2 * math.cos(x)
    dgx = 2 * math.sin(x) + 4 * x * math.cos(x) - x ** 2 * math.sin(x)
    assert cr.grad(lambda t: g(t) * t)(x) == pytest.approx(dgx * x + gx, rel=1e-12)


def test_vmap(rng):
    xs = rng.standard_normal((5, 3))
    W = rng.standard_normal((3, 2))
    np.testing.assert_allclose(cr.vmap(lambda x: cnp.tanh(x @ W))(xs), np.tanh(xs @ W))
    per_example = cr.vmap(cr.grad(lambda x: cnp.sum(cnp.sin(x) * x)))(xs)
    np.testing.assert_allclose(per_example, np.cos(xs) * xs + np.sin(xs))
    np.testing.assert_allclose(cr.vmap(lambda a, b: a * b, in_axes=(0, None))(xs, W[:, 0]),
                               xs * W[:, 0])
    np.testing.assert_allclose(cr.vmap(lambda x: cnp.sum(x), in_axes=1)(xs), xs.sum(0))


def test_unknown_method_is_named():
    with pytest.raises(ValueError, match="unknown method"):
        cr.grad(textbook, method="magic")
