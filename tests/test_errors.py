"""Bad input gets a specific exception naming the argument and the fix (SPEC section 8)."""
import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule._core.primitive import Primitive
from chainrule._core.rules import def_rule


def test_grad_of_non_scalar_output_suggests_jacrev():
    with pytest.raises(TypeError, match=r"shape \(3,\).*jacrev"):
        cr.grad(lambda x: x * 2.0)(np.ones(3))


def test_grad_with_respect_to_integer_argument():
    with pytest.raises(TypeError, match=r"argument 0 has dtype int64"):
        cr.grad(lambda x: x * 2.0)(3)
    with pytest.raises(TypeError, match=r"argument 1 has dtype int"):
        cr.grad(lambda x, n: x * n, argnums=1)(2.0, np.arange(3))


def test_cotangent_of_wrong_shape_names_both_shapes():
    _, f_vjp = cr.vjp(lambda x: x * 2.0, np.ones(3))
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        f_vjp(np.ones(2))


def test_tangent_of_wrong_shape():
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        cr.jvp(lambda x: x, (np.ones(3),), (np.ones(2),))


def test_primitive_without_rule_names_primitive_and_mode():
    p = Primitive("test_norule_square", np.square)
    with pytest.raises(NotImplementedError, match="forward-mode rule for primitive .test_norule"):
        cr.jvp(lambda x: p.bind(x), (2.0,), (1.0,))
    with pytest.raises(NotImplementedError, match="test_norule_square"):
        cr.grad(lambda x: p.bind(x))(2.0)
    with pytest.raises(NotImplementedError, match="batching-mode rule for primitive .test_norule"):
        cr.vmap(lambda x: p.bind(x))(np.ones(2))


def test_registering_twice_is_loud():
    Primitive("test_twice", np.sin)
    with pytest.raises(Exception, match="already registered"):
        Primitive("test_twice", np.cos)
    p = Primitive("test_rule_twice", np.sin)
    def_rule(p, jvp=lambda primals, tangents: (0, 0))
    with pytest.raises(Exception, match="already has a jvp"):
        def_rule(p, jvp=lambda primals, tangents: (0, 0))


def test_in_place_mutation_points_to_at():
    def f(x):
        x[0] = 1.0
        return cnp.sum(x)

    with pytest.raises(TypeError, match=r"cnp\.at"):
        cr.grad(f)(np.ones(3))


def test_silent_conversions_are_refused():
    with pytest.raises(TypeError, match="stop_gradient"):
        cr.grad(lambda x: float(x) * x)(2.0)
    with pytest.raises(TypeError, match="NumPy array"):
        cr.grad(lambda x: cnp.sum(np.asarray(x)))(np.ones(2))
    with pytest.raises(TypeError, match="out="):
        cr.grad(lambda x: np.sin(x, out=np.empty(())))(1.0)


def test_uncovered_numpy_function_is_named():
    with pytest.raises(NotImplementedError, match="numpy.polyfit"):
        cr.grad(lambda x: np.polyfit(x, x * x, 1).sum())(np.array([1.0, 2.0, 3.0]))
    with pytest.raises(NotImplementedError, match="numpy.vander"):
        cr.grad(lambda x: np.vander(x).sum())(np.array([0.3, -0.5, 1.2]))
    with pytest.raises(NotImplementedError, match="nanmedian"):
        cr.grad(lambda x: cnp.nanmedian(x))(np.ones(3))
    assert cnp.pi == np.pi and cnp.arange(3).tolist() == [0, 1, 2]  # pass-through still works


def test_argnums_out_of_range():
    with pytest.raises(ValueError, match="argnums"):
        cr.grad(lambda x: x, argnums=2)(1.0)


def test_has_aux_needs_a_pair():
    with pytest.raises(TypeError, match="pair"):
        cr.grad(lambda x: x * 2.0, has_aux=True)(1.0)


def test_leaked_tracer_is_detected():
    leaked = []

    def f(x):
        leaked.append(x)
        return x * 2.0

    cr.grad(f)(1.0)
    with pytest.raises(Exception, match="escaped"):
        cr.grad(lambda y: y * leaked[0])(1.0)
