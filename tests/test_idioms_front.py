"""Idioms users of JAX, autograd and PyTorch type (issue 15): cr.jit, cr.elementwise_grad,
hvp's tuples, `chainrule --version`, the demo without its extras."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp


def test_jit_is_the_graph_compiler_under_jaxs_name():
    f = cr.jit(lambda x: cnp.sum(cnp.sin(x) ** 2))
    x = np.array([0.3, 1.1])
    assert float(f(x)) == pytest.approx(float(np.sum(np.sin(x) ** 2)))
    g = cr.jit(cr.grad(lambda x: cnp.sum(cnp.sin(x) ** 2)))
    np.testing.assert_allclose(g(x), 2 * np.sin(x) * np.cos(x), rtol=1e-12)


@pytest.mark.parametrize("method", ["overload", "graph", "source"])
def test_elementwise_grad(method):
    x = np.array([-0.5, 0.0, 1.5])
    got = cr.elementwise_grad(cnp.tanh, method=method)(x)
    np.testing.assert_allclose(got, 1 / np.cosh(x) ** 2, rtol=1e-12)
    # a second argument held fixed, as autograd's argnum does
    got = cr.elementwise_grad(lambda a, b: a * cnp.exp(b), argnum=1, method=method)(2.0, x)
    np.testing.assert_allclose(got, 2.0 * np.exp(x), rtol=1e-12)
    # the recipe for per-example gradients of a scalar function: vmap(grad)
    per = cr.vmap(cr.grad(lambda v: cnp.sum(v ** 3)))(np.arange(6.0).reshape(3, 2))
    np.testing.assert_allclose(per, 3 * np.arange(6.0).reshape(3, 2) ** 2)


def test_hvp_says_it_wants_tuples():
    f = lambda x: cnp.sum(x ** 3)  # noqa: E731
    with pytest.raises(TypeError, match=r"tangents must be a tuple.*hvp\(f, \(x,\), \(v,\)\)"):
        cr.hvp(f, (np.ones(2),), np.ones(2))
    with pytest.raises(TypeError, match="primals must be a tuple"):
        cr.hvp(f, np.ones(2), (np.ones(2),))
    np.testing.assert_allclose(cr.hvp(f, (np.ones(2),), (np.ones(2),)), 6 * np.ones(2))


def test_version_on_the_command_line():
    out = subprocess.run([sys.executable, "-m", "chainrule.cli", "--version"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"chainrule {cr.__version__}"


def test_demo_without_its_dataset_says_what_to_install(monkeypatch, capsys):
    from chainrule import demo
    from chainrule.data import datasets

    def missing():
        raise ImportError("the digits dataset needs scikit-learn: pip install scikit-learn")

    monkeypatch.setattr(datasets, "_raw_digits", missing)
    monkeypatch.setattr(demo, "_run", lambda args: (missing(), 0)[1])
    assert demo.run(type("A", (), {"quiet": True})()) == 1
    assert capsys.readouterr().out.strip().startswith("chainrule demo: the digits dataset")


def test_an_unregistered_class_says_to_register_it():
    class P:
        def __init__(self, w):
            self.w = w

    with pytest.raises(TypeError, match=r"P, which is not an array or a registered pytree.*"
                                        r"register_dataclass"):
        cr.grad(lambda p: cnp.sum(p.w ** 2))(P(np.ones(2)))


@pytest.mark.parametrize("method", ["overload", "graph"])
def test_messages_name_the_transform_the_user_called(method):
    with pytest.raises(TypeError, match=r"^hessian of <lambda>: the output has shape \(2,\)"):
        cr.hessian(lambda x: x * 2.0, method=method)(np.ones(2))
    with pytest.raises(TypeError, match=r"^hessian of <lambda>: argument 0 has dtype int64"):
        cr.hessian(lambda x: x * 2.0, method=method)(np.arange(2))


def test_vmap_with_pytree_in_axes():
    params = {"w": np.arange(6.0).reshape(3, 2), "b": np.array([0.5, -1.0])}
    x = np.array([1.0, 2.0])

    def f(p, x):
        return cnp.sum(p["w"] * x + p["b"])

    got = cr.vmap(f, in_axes=({"w": 0, "b": None}, None))(params, x)
    want = [float(np.sum(params["w"][i] * x + params["b"])) for i in range(3)]
    np.testing.assert_allclose(got, want)
    per_example = cr.vmap(cr.grad(f), in_axes=({"w": 0, "b": None}, None))(params, x)
    np.testing.assert_allclose(per_example["w"], np.tile(x, (3, 1)))
    np.testing.assert_allclose(per_example["b"], np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"in_axes\[0\].*does not match"):
        cr.vmap(f, in_axes=({"w": 0}, None))(params, x)


@pytest.mark.parametrize("method", ["overload", "graph", "source", "symbolic"])
def test_no_transform_prints_a_warning_for_a_discarded_branch(method):
    """Derivatives run without NumPy's floating-point warnings in every method and mode: the
    rules evaluate the branch a `where` discards (sqrt'(0) = inf times an exact zero)."""
    import warnings

    def f(x):
        return cnp.sum(cnp.where(x > 0, cnp.sqrt(cnp.abs(x)), 0.0))

    x, v = np.array([0.0, 4.0]), np.array([1.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        g = cr.grad(f, method=method)(x)
        jac = cr.jacfwd(f, method=method)(x)
        hess = cr.hessian(f, method=method)(x)
        _, tangent = cr.jvp(f, (x,), (v,), method=method)
        _, pull = cr.vjp(f, x, method=method)
        pulled = pull(1.0)[0]
        compiled = cr.jit(cr.grad(f))(x)
    for got in (g, jac, pulled, compiled):
        np.testing.assert_allclose(got, [0.0, 0.25])
    np.testing.assert_allclose(hess, [[0.0, 0.0], [0.0, -1.0 / 32.0]])
    assert tangent == 0.25
    with warnings.catch_warnings():  # the eager Tensor's backward() as well
        warnings.simplefilter("error", RuntimeWarning)
        t = cr.tensor(x, requires_grad=True)
        f(t).backward()
    np.testing.assert_allclose(t.grad, [0.0, 0.25])
    with pytest.warns(RuntimeWarning):  # (the function called on its own: NumPy's warning)
        np.float64(1.0) / np.float64(0.0)
