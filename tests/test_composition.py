"""Transforms composed with custom rules, stop_gradient and checkpoint in every order, and the
guards against escaped tracers and aliased results."""
import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp


def test_stop_gradient_under_vmap_inside_grad_and_jvp():
    f = lambda x: cnp.sum(cr.vmap(lambda y: cr.stop_gradient(y) * y)(x))  # noqa: E731
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(cr.grad(f)(x), x)
    np.testing.assert_allclose(cr.jvp(f, (x,), (np.ones(2),))[1], x.sum())


@cr.custom_jvp
def doubled_sin(x):
    return cnp.sin(x)


@doubled_sin.defjvp
def _doubled_sin_jvp(primals, tangents):  # deliberately not sin's derivative
    return doubled_sin(primals[0]), 2.0 * cnp.cos(primals[0]) * tangents[0]


@cr.custom_vjp
def tripled_sin(x):
    return cnp.sin(x)


tripled_sin.defvjp(lambda x: (cnp.sin(x), cnp.cos(x)), lambda c, ct: (3.0 * ct * c,))


@pytest.mark.parametrize("f,scale", [(doubled_sin, 2.0), (tripled_sin, 3.0)])
def test_custom_rules_survive_vmap_inside_other_transforms(f, scale):
    x = np.array([0.1, 0.2, 0.3])
    want = scale * np.cos(x)
    np.testing.assert_allclose(cr.grad(lambda v: cnp.sum(cr.vmap(f)(v)))(x), want)
    np.testing.assert_allclose(cr.vmap(cr.grad(f))(x), want)
    np.testing.assert_allclose(np.diag(cr.jacrev(lambda v: cr.vmap(f)(v))(x)), want)
    if f is doubled_sin:
        np.testing.assert_allclose(cr.jvp(lambda v: cr.vmap(f)(v), (x,), (np.ones(3),))[1],
                                   want)


def test_custom_vjp_under_vmap_with_an_unbatched_argument():
    @cr.custom_vjp
    def scaled(x, w):
        return x * w

    scaled.defvjp(lambda x, w: (x * w, (x, w)), lambda r, ct: (ct * r[1], ct * r[0]))
    xs = np.array([1.0, 2.0, 3.0])
    g = cr.grad(lambda w: cnp.sum(cr.vmap(scaled, in_axes=(0, None))(xs, w)))(2.0)
    assert g == pytest.approx(xs.sum())  # the unbatched w collects the whole batch


def test_checkpoint_closing_over_a_traced_value_in_forward_mode_and_vmap():
    with pytest.warns(UserWarning):
        out, t = cr.jvp(lambda w: cr.checkpoint(lambda x: x * w)(w), (3.0,), (1.0,))
    assert (out, t) == (9.0, 6.0)
    with pytest.warns(UserWarning):
        v = cr.vmap(lambda w: cr.checkpoint(lambda x: x * w)(w))(np.array([3.0, 4.0]))
    np.testing.assert_allclose(v, [9.0, 16.0])


def test_custom_jvp_closing_over_a_traced_value_is_refused():
    def f(w, x):
        @cr.custom_jvp
        def g(x):
            return x * w

        g.defjvp(lambda p, t: (g(p[0]), t[0] * w))
        return g(x)

    with pytest.raises(TypeError, match="as an argument"):
        cr.jvp(f, (2.0, 3.0), (1.0, 0.0))


def test_eager_create_graph_through_checkpoint_and_custom_vjp():
    x = cr.tensor(2.0, requires_grad=True)
    y = cr.checkpoint(lambda x: x ** 3)(x) + x ** 2
    (g,) = cr.gradients(y, x, create_graph=True)
    g.backward()
    assert x.grad == pytest.approx(6 * 2.0 + 2)
    z = cr.tensor(0.5, requires_grad=True)
    (g,) = cr.gradients(tripled_sin(z), z, create_graph=True)
    g.backward()
    assert z.grad == pytest.approx(-3 * math.sin(0.5))


def test_escaped_tracer_is_refused_after_its_transform():
    leaked = []
    cr.grad(lambda x: (leaked.append(x), x * 2.0)[1])(1.0)
    with pytest.raises(cr.LeakedTracerError, match="already finished"):
        leaked[0] + 1.0
    leaked.clear()
    cr.jvp(lambda x: (leaked.append(x), x)[1], (1.0,), (1.0,))
    with pytest.raises(cr.LeakedTracerError):
        cnp.sin(leaked[0])


def test_results_never_alias_each_other_or_the_cotangent():
    gx, gy = cr.grad(lambda x, y: cnp.sum(x + y), argnums=(0, 1))(np.ones(2), np.ones(2))
    gx[0] = 99.0
    np.testing.assert_allclose(gy, [1.0, 1.0])
    ct = np.ones(2)
    (g,) = cr.vjp(lambda x: x + 1.0, np.ones(2))[1](ct)
    assert g is not ct
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    z = cr.tensor([1.0, 2.0], requires_grad=True)
    (x + z).backward(ct)
    assert x.grad is not z.grad and x.grad is not ct
    big = cr.tensor(np.ones(40000), requires_grad=True)
    cnp.sum(big * 2.0).backward()
    big.grad *= 0.5  # writable, not a broadcast view
    assert big.grad[0] == 1.0


def test_bitwise_operators_and_integer_indices():
    np.testing.assert_array_equal(cr.vmap(lambda i: i & 3)(np.array([5, 6])), [1, 2])
    np.testing.assert_array_equal(cr.vmap(lambda i: ~i)(np.array([5, 6])), [-6, -7])
    with pytest.raises(TypeError, match="index"):
        cr.grad(lambda x: x * [10.0, 20.0, 30.0][x])(1.7)


def test_jvp_checks_primal_and_tangent_dtypes():
    with pytest.raises(TypeError, match="primal 0 has dtype int"):
        cr.jvp(lambda x: x * 2.0, (3,), (1.0,))
    with pytest.raises(TypeError, match="floating point"):
        cr.jvp(lambda x: x * 2.0, (np.ones(2),), (np.ones(2, int),))
    _, t = cr.jvp(lambda x: x * 2.0, (np.ones(2, np.float32),), (np.ones(2),))
    assert t.dtype == np.float32
    _, f_jvp = cr.linearize(lambda x: x * 2.0, np.ones(2))
    with pytest.raises(ValueError, match="structure"):
        f_jvp((np.ones(2),))


def test_float32_kept_through_scalar_operands():
    x = np.ones(2, np.float32)
    assert cnp.clip(x, 0.7, 1.8).dtype == np.float32
    assert cr.jacfwd(lambda v: 2.0 ** v)(x).dtype == np.float32
    assert cr.jacrev(lambda v: cnp.arctan2(v, 1.0))(x).dtype == np.float32


def test_einsum_with_broadcast_named_axes():
    a, b = np.ones((1, 3)), np.arange(6.0).reshape(2, 3)
    g = cr.grad(lambda a: cnp.sum(cnp.einsum("ij,ij->i", a, b)))(a)
    np.testing.assert_allclose(g, b.sum(0, keepdims=True))


def test_eager_optimiser_step_and_tensor_indices():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    with cr.no_grad():
        w -= 0.1 * w.grad
    np.testing.assert_allclose(w.detach().numpy(), [0.8, 1.6])
    with pytest.raises(TypeError, match="no_grad"):
        w += 1.0
    x = cr.tensor([1.0, -2.0, 3.0], requires_grad=True)
    x[x > 0].sum().backward()
    np.testing.assert_allclose(x.grad, [1.0, 0.0, 1.0])


def test_custom_vjp_bwd_of_the_wrong_shape_is_refused():
    @cr.custom_vjp
    def f(x):
        return x * 2.0

    f.defvjp(lambda x: (x * 2.0, None), lambda r, ct: (1.0,))
    with pytest.raises(ValueError, match=r"shape \(\).*\(3,\)"):
        cr.grad(lambda x: cnp.sum(f(x)))(np.ones(3))


def test_vmap_refuses_an_axis_that_does_not_exist():
    with pytest.raises(ValueError, match="in_axes"):
        cr.vmap(lambda a: a)(np.float64(1.0))
    with pytest.raises(ValueError, match="in_axes"):
        cr.vmap(lambda a: a, in_axes=2)(np.ones((2, 2)))
