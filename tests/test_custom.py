"""custom_jvp, custom_vjp, stop_gradient and checkpoint."""
import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp


@cr.custom_jvp
def softplus(x):
    return cnp.log1p(cnp.exp(x))


@softplus.defjvp
def _softplus_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    calls.append("jvp")
    return softplus(x), t / (1.0 + cnp.exp(-x))


calls = []


def test_custom_jvp_forward_and_reverse():
    calls.clear()
    x = 0.3
    sig = 1 / (1 + math.exp(-x))
    assert cr.jvp(softplus, (x,), (2.0,))[1] == pytest.approx(2 * sig)
    assert cr.grad(softplus)(x) == pytest.approx(sig)  # reverse derived from the custom JVP
    assert "jvp" in calls
    assert cr.grad(cr.grad(softplus))(x) == pytest.approx(sig * (1 - sig))
    np.testing.assert_allclose(cr.jacrev(softplus)(np.array([0.1, 0.2])),
                               np.diag(1 / (1 + np.exp(-np.array([0.1, 0.2])))))


def test_custom_jvp_rule_is_used_not_autodiff():
    @cr.custom_jvp
    def f(x):
        return x * 1.0

    @f.defjvp
    def f_jvp(primals, tangents):
        return f(primals[0]), tangents[0] * 10.0  # deliberately not the true derivative

    assert cr.grad(f)(2.0) == 10.0
    assert cr.jvp(f, (2.0,), (1.0,))[1] == 10.0


def test_custom_vjp_reverse_and_forward():
    @cr.custom_vjp
    def clip_grad(x, lo):
        return x * 1.0

    def fwd(x, lo):
        return x * 1.0, lo

    def bwd(lo, ct):
        return (cnp.maximum(ct, lo), None)

    clip_grad.defvjp(fwd, bwd)
    assert cr.grad(lambda x: clip_grad(x, 0.5) * 0.1)(1.0) == 0.5
    # a bwd written with chainrule functions can be transposed for forward mode
    @cr.custom_vjp
    def f(x):
        return cnp.sin(x)

    f.defvjp(lambda x: (cnp.sin(x), cnp.cos(x)), lambda c, ct: (ct * c,))
    assert cr.jvp(f, (1.0,), (3.0,))[1] == pytest.approx(3 * math.cos(1.0))
    assert cr.grad(cr.grad(f))(1.0) == pytest.approx(-math.sin(1.0))
    assert cr.jacfwd(f)(np.array([0.5, 1.0])).shape == (2, 2)


def test_custom_vjp_forward_mode_error_is_clear():
    @cr.custom_vjp
    def f(x):
        return cnp.sin(x)

    def bwd(res, ct):
        return (np.asarray(ct) * res,)  # raw NumPy: cannot be transposed

    f.defvjp(lambda x: (cnp.sin(x), np.cos(x)), bwd)
    assert cr.grad(f)(1.0) == pytest.approx(math.cos(1.0))
    with pytest.raises(TypeError, match="custom_jvp"):
        cr.jvp(f, (1.0,), (1.0,))


def test_custom_functions_without_rules():
    @cr.custom_vjp
    def f(x):
        return x

    with pytest.raises(TypeError, match="defvjp"):
        f(1.0)

    @cr.custom_jvp
    def g(x):
        return x

    with pytest.raises(TypeError, match="defjvp"):
        g(1.0)


def test_stop_gradient():
    f = lambda x: x * cr.stop_gradient(x * x)  # noqa: E731
    assert cr.grad(f)(3.0) == 9.0
    assert cr.jvp(f, (3.0,), (1.0,))[1] == 9.0
    tree = cr.stop_gradient({"a": 1.0, "b": (2.0, None)})
    assert tree == {"a": 1.0, "b": (2.0, None)}


def test_checkpoint_same_derivatives():
    W = np.random.default_rng(0).standard_normal((4, 4)) * 0.5

    def block(h):
        return cnp.tanh(W @ cnp.tanh(W @ h))

    def plain(h):
        return cnp.sum(block(block(h)) ** 2)

    ck = cr.checkpoint(block)

    def remat(h):
        return cnp.sum(ck(ck(h)) ** 2)

    h = np.linspace(-1, 1, 4)
    np.testing.assert_allclose(cr.grad(remat)(h), cr.grad(plain)(h), rtol=1e-12)
    np.testing.assert_allclose(cr.jacfwd(remat)(h), cr.jacfwd(plain)(h), rtol=1e-12)
    np.testing.assert_allclose(cr.hessian(remat)(h), cr.hessian(plain)(h), rtol=1e-10)
    x = cr.tensor(h, requires_grad=True)
    remat(x).backward()
    np.testing.assert_allclose(x.grad, cr.grad(plain)(h), rtol=1e-12)


def test_checkpoint_recomputes_in_backward():
    calls = []

    @cr.checkpoint
    def seg(x):
        calls.append(1)
        return cnp.sin(x) * x

    cr.grad(lambda x: cnp.sum(seg(x)))(np.ones(3))
    assert len(calls) == 2  # once forward, once again in the backward pass
    with pytest.raises(ValueError, match="policy"):
        cr.checkpoint(seg, policy="bogus")


def test_checkpoint_with_non_float_arguments():
    f = cr.checkpoint(lambda a, n: a * n)
    assert cr.grad(lambda x: f(x, 3))(2.0) == 3.0
    g = cr.checkpoint(lambda a, idx: cnp.sum(a[idx]))
    np.testing.assert_allclose(cr.grad(lambda x: g(x, np.array([0, 2])))(np.arange(3.0)),
                               [1.0, 0.0, 1.0])


def test_checkpoint_pulls_back_only_to_differentiated_inputs(monkeypatch):
    from chainrule.ops import linalg

    calls = {"x": 0, "y": 0}
    vjp_x, vjp_y = linalg.matmul_p.vjp

    def count_x(*a, **k):
        calls["x"] += 1
        return vjp_x(*a, **k)

    def count_y(*a, **k):
        calls["y"] += 1
        return vjp_y(*a, **k)

    monkeypatch.setattr(linalg.matmul_p, "vjp", (count_x, count_y))
    W, h = np.eye(3) * 0.5, np.ones((3, 2))
    seg = cr.checkpoint(lambda w, h: cnp.tanh(w @ h))
    g = cr.grad(lambda h: cnp.sum(seg(W, h)))(h)
    np.testing.assert_allclose(g, W.T @ (1 - np.tanh(W @ h) ** 2))
    assert calls == {"x": 0, "y": 1}  # no cotangent computed for the constant W


def test_checkpoint_closing_over_a_traced_value_warns_and_stays_correct():
    def loss(w, h):
        return cnp.sum(cr.checkpoint(lambda h: cnp.tanh(w * h))(h))

    def plain(w, h):
        return cnp.sum(cnp.tanh(w * h))

    with pytest.warns(UserWarning, match="as arguments"):
        got = cr.grad(loss, argnums=(0, 1))(0.5, np.ones(3))
    want = cr.grad(plain, argnums=(0, 1))(0.5, np.ones(3))
    assert got[0] == pytest.approx(want[0])
    np.testing.assert_allclose(got[1], want[1])


def test_custom_vjp_closing_over_a_traced_value_is_refused():
    def loss(w, x):
        @cr.custom_vjp
        def f(x):
            return x * w

        f.defvjp(lambda x: (x * w, None), lambda _, ct: (ct,))
        return f(x)

    with pytest.raises(TypeError, match="as an argument"):
        cr.grad(loss, argnums=(0, 1))(2.0, 3.0)
