"""The AD plumbing the kernel shares (issue 13): the reverse-rule lookup, custom rules, the one
"no derivative here" test, the structural map with placeholder zeros, the cache key, and the
front's engine registry. Derivatives are checked against hand-derived formulas."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import transforms
from chainrule._core import tree
from chainrule._core.cache import leaf_key
from chainrule._core.errors import RegistrationError, RuleError
from chainrule._core.primitive import Primitive
from chainrule._core.rules import (
    Zero,
    def_custom_rule,
    def_rule,
    is_zero,
    pull_back,
    reverse_rule,
)
from chainrule.ops import elementwise as E

METHODS = ["overload", "graph", "source", "symbolic", "numeric"]


def _x_sin_y(name: str, with_vjp_for_x: bool) -> Primitive:
    """x * sin(y), with a JVP rule; optionally a hand-written VJP for x only (none for y)."""
    p = Primitive(name, lambda x, y: x * np.sin(y), E._abstract_elementwise)

    def _jvp(primals, tangents):
        (x, y), (x_dot, y_dot) = primals, tangents
        return p.bind(x, y), x_dot * E.sin(y) + y_dot * (x * E.cos(y))

    def _vjp_x(ct, ans, x, y):
        return ct * E.sin(y)

    def_rule(p, jvp=_jvp, vjp=(_vjp_x, None) if with_vjp_for_x else None)
    return p


@pytest.mark.parametrize("with_vjp_for_x", [False, True])
@pytest.mark.parametrize("method", METHODS)
def test_an_argument_without_a_written_vjp_gets_the_one_derived_from_the_jvp(method,
                                                                           with_vjp_for_x):
    p = _x_sin_y(f"test_kernel_xsiny_{method}_{with_vjp_for_x}", with_vjp_for_x)

    def f(x, y):
        return p.bind(x, y)

    x, y = 1.5, 0.7
    gx, gy = cr.grad(f, argnums=(0, 1), method=method)(x, y)
    tol = 1e-6 if method == "numeric" else 1e-12
    assert float(gx) == pytest.approx(math.sin(y), abs=tol)
    assert float(gy) == pytest.approx(x * math.cos(y), abs=tol)


def test_reverse_rule_order_vjp_then_transpose():
    vjp_first = reverse_rule(E.mul_p, 0)
    assert vjp_first is E.mul_p.vjp[0]
    t = Primitive("test_kernel_linear", lambda x: 2.0 * x, E._abstract_elementwise)

    def _t(ct, x):
        return 2.0 * ct

    def_rule(t, transpose=(_t,))
    rule = reverse_rule(t, 0)
    assert rule is reverse_rule(t, 0), "one adapted function per (primitive, argument)"
    assert rule(3.0, None, 5.0) == 6.0
    assert reverse_rule(t, 1) is None  # (no such argument: no rule)


def test_pull_back_refuses_a_primitive_without_any_rule():
    p = Primitive("test_kernel_norule", lambda x: x, E._abstract_elementwise)
    with pytest.raises(RuleError, match="test_kernel_norule"):
        pull_back(p, [0], 1.0, 1.0, (1.0,), {})


def test_custom_rules_are_for_call_primitives_and_registered_once():
    single = Primitive("test_kernel_single", lambda x: x)
    with pytest.raises(RegistrationError, match="multiple_results=True"):
        def_custom_rule(single, on_closure=lambda args: args)
    call = Primitive("test_kernel_call", lambda x: [x], multiple_results=True)
    with pytest.raises(RegistrationError, match="both fwd and bwd"):
        def_custom_rule(call, fwd=lambda x: ([x], ()))
    def_custom_rule(call, on_closure=lambda args: list(args))
    with pytest.raises(RegistrationError, match="already has custom rules"):
        def_custom_rule(call, on_closure=lambda args: list(args))
    assert not hasattr(call, "custom_fwd"), "the Primitive record holds no tape-only slots"


def test_is_zero_is_one_test_for_every_placeholder():
    for z in (Zero, None, 0.0, np.float64(0.0)):
        assert is_zero(z)
    for nz in (0, 1.0, np.zeros(2), np.float64(1e-300), [0.0]):
        assert not is_zero(nz)


@dataclasses.dataclass
class _Pair:
    a: object
    b: object


tree.register_dataclass(_Pair)


def test_map_paired_reads_placeholders_for_whole_subtrees():
    x = {"w": (np.ones(2), 3.0), "p": _Pair(np.zeros(3), [1.0, 2.0])}
    d = {"w": 0.0, "p": _Pair(np.full(3, 5.0), 0.0)}  # 0.0: zeros of the whole entry

    got = tree.map_paired(lambda part, leaf: (part, np.shape(leaf)), d, x)
    assert got["w"] == ((0.0, (2,)), (0.0, ()))
    assert isinstance(got["p"], _Pair)
    assert got["p"].a[1] == (3,) and np.array_equal(got["p"].a[0], np.full(3, 5.0))
    assert got["p"].b == [(0.0, ()), (0.0, ())]
    missing = tree.map_paired(lambda part, leaf: part, {}, {"k": 1.0}, placeholder=None)
    assert missing == {"k": None}


def test_node_items_in_flatten_order():
    assert tree.node_items({"b": 1, "a": 2}) == [("a", 2), ("b", 1)]
    assert tree.node_items([5, 6]) == [(0, 5), (1, 6)]
    assert tree.node_items(None) == []
    assert tree.node_items(np.ones(2)) is None
    assert [k for k, _ in tree.node_items(_Pair(1.0, 2.0))] == [0, 1]


def test_leaf_key():
    a = np.ones((2, 3))
    assert leaf_key(a) == leaf_key(np.zeros((2, 3))) != leaf_key(np.ones((3, 2)))
    assert leaf_key(1.0) == leaf_key(np.float64(2.0)) == leaf_key(np.array(3.0))
    assert leaf_key(1.0, python_apart=True) != leaf_key(np.float64(1.0), python_apart=True)
    i = np.arange(3)
    assert leaf_key(i) == leaf_key(i + 1)  # shape and dtype only...
    assert leaf_key(i, bake=True) != leaf_key(i + 1, bake=True)  # ...unless baked in
    assert leaf_key(3) != leaf_key(4)
    assert leaf_key([1, 2]) == ("repr", "list", "[1, 2]")


def test_the_front_refuses_what_an_engine_does_not_offer():
    with pytest.raises(ValueError, match="unknown method='tape'.*overload, graph, source"):
        cr.grad(lambda x: x, method="tape")
    with pytest.raises(NotImplementedError, match="has_aux=True, method='numeric'"):
        cr.grad(lambda x: (x, 1), has_aux=True, method="numeric")
    with pytest.raises(NotImplementedError, match="linearize.*method='symbolic'.*overload"):
        transforms.engine("symbolic", "linearize")
    assert transforms.engine("graph", "grad").CAPABILITIES.has_aux


# ---------------------------------------------------------------------------------------------
# each engine's Capabilities record says what it does (each claim tried, both ways)

def _abs_squared(z):
    return (z * cr.numpy.conj(z)).real


def _folded(x):
    return x if x > 0 else -x  # Python control flow on the value being differentiated


@cr.custom_vjp
def _doubled_slope(x):
    return x


def _doubled_fwd(x):
    return x, None


def _doubled_bwd(_, ct):
    return (2.0 * ct,)  # deliberately not the derivative: only a method that applies it says 2


_doubled_slope.defvjp(_doubled_fwd, _doubled_bwd)


@pytest.mark.parametrize("method", METHODS)
def test_each_capability_claim_is_what_the_engine_does(method):
    caps = transforms.engine(method, "grad").CAPABILITIES
    if caps.complex:
        assert complex(cr.grad(_abs_squared, method=method)(3 + 4j)) == pytest.approx(6 + 8j)
    else:
        with pytest.raises(TypeError):
            cr.grad(_abs_squared, method=method)(3 + 4j)
    if caps.python_control_flow:
        assert float(cr.grad(_folded, method=method)(2.0)) == pytest.approx(1.0)
        assert float(cr.grad(_folded, method=method)(-2.0)) == pytest.approx(-1.0)
    else:
        with pytest.raises(cr.ConcretizationError if method == "graph"
                           else cr.symbolic.SymbolicError):
            cr.grad(_folded, method=method)(2.0)
    slope = float(cr.grad(_doubled_slope, method=method)(1.5))
    assert slope == pytest.approx(2.0 if caps.custom_rules else 1.0)
    if not caps.has_aux:
        with pytest.raises(NotImplementedError, match="has_aux"):
            cr.grad(lambda x: (x, 0), has_aux=True, method=method)
