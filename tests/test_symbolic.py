"""The symbolic engine (cr.symbolic): hash-consed expressions, diff through the rule table,
simplify, printing, evaluate/lambdify, from_function, method="symbolic" on every transform, and
the expression-swell table. (Agreement with SymPy is in test_symbolic_sympy.py.)"""
import gc
import math
import sys

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.symbolic import (
    Const,
    Expr,
    Symbol,
    SymbolicError,
    diff,
    from_function,
    lambdify,
    simplify,
    symbols,
)
from chainrule.symbolic.expr import topo_order

x, y, z = symbols("x y z")


def textbook(x1, x2):
    return cnp.log(x1) + x1 * x2 - cnp.sin(x2)


# ---------------------------------------------------------------------------------------------
# expressions: the interpreter and hash-consing

def test_symbols_api():
    assert symbols("x") is x
    assert symbols("x y") == (x, y)  # a tuple compares its items by identity first
    assert symbols("x, y z") == (x, y, z)
    assert symbols(["y", "x"]) == (y, x)
    assert Symbol("x") is x
    with pytest.raises(ValueError, match="not a Python identifier"):
        symbols("x-y 2a")
    with pytest.raises(ValueError, match="no names"):
        symbols("  ")


def test_hash_consing_shares_nodes():
    assert (x * y) is (x * y)
    assert cnp.sin(x + 1.0) is cnp.sin(x + 1.0)
    assert np.exp(x) is cnp.exp(x)  # plain NumPy dispatches into the same primitive
    assert Const(2.0) is Const(2) and Const(0.0) is Const(-0.0)
    assert (x * y) is not (y * x)  # the order of operands is structure
    e = cnp.sin(x * y) + cnp.cos(x * y)
    assert e.args[0].args[0] is e.args[1].args[0]


def test_interning_table_is_weak():
    from chainrule.symbolic.expr import _TABLE
    before = len(_TABLE)
    e = cnp.sinh(cnp.cosh(x * 12345.0))
    assert len(_TABLE) >= before + 3
    del e
    gc.collect()
    assert len(_TABLE) <= before + 1


def test_dag_size_below_tree_size_on_shared_expressions():
    s = cnp.sin(x * y)
    e = s * s + s
    assert e.dag_size() == 6      # x, y, x*y, sin, s*s, + ...
    assert e.tree_size() == 14    # ... but printed, sin(x*y) appears three times
    assert e.dag_size() < e.tree_size()
    ln = x
    for _ in range(20):  # the logistic map: the tree doubles, the DAG grows by 3 nodes a step
        ln = 4 * ln * (1 - ln)
    assert ln.dag_size() == 3 + 20 * 3  # x, 4, 1 and (4*l, 1 - l, their product) per step
    assert ln.tree_size() > 2 ** 20


def test_expressions_are_tracers_with_operators_and_numpy():
    from chainrule._core.primitive import Tracer
    assert isinstance(x, Tracer) and x.shape == () and x.dtype == np.float64
    e = np.sin(x) ** 2 + abs(y) / 2.0 - np.tanh(-x)
    assert str(e) == "sin(x)**2 + abs(y)/2 - tanh(-x)"
    assert str(cnp.where(x > 0, x, -x)) == "where(x > 0, x, -x)"
    assert str(cnp.maximum(x, 0.0)) == "maximum(x, 0)"
    # object arrays of expressions: NumPy applies the operators and ufunc methods elementwise
    v = np.array([x, y], dtype=object)
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    out = cnp.tanh(A @ v)
    assert [str(o) for o in out] == ["tanh(1*x + 2*y)", "tanh(3*x + 4*y)"]
    assert str(cnp.sum(v ** 2)) == "x**2 + y**2"


def test_symbol_arrays_act_elementwise_through_chainrule():
    from chainrule.symbolic import SymbolArray, symbol_array
    v = symbol_array("v", 3)
    assert isinstance(v, SymbolArray) and [s.name for s in v] == ["v_0", "v_1", "v_2"]
    assert [str(e) for e in cnp.maximum(v, 0.0)] == [f"maximum(v_{i}, 0)" for i in range(3)]
    w = cnp.where(v > 0, v, 0.1 * v)
    assert str(w[1]) == "where(v_1 > 0, v_1, 0.1*v_1)" and isinstance(w, SymbolArray)
    assert str(cnp.max(v)) == "maximum(maximum(v_0, v_1), v_2)"
    assert str(cnp.sum(cnp.tanh(v))) == "tanh(v_0) + tanh(v_1) + tanh(v_2)"
    assert str((x * v)[2]) == "x*v_2" and str((v * x)[2]) == "v_2*x"
    assert symbol_array("M", (2, 2))[1, 0].name == "M_1_0"
    relu_sq = lambda t: cnp.sum(cnp.maximum(t, 0.0) ** 2) + cnp.max(t * t)  # noqa: E731
    a = np.array([0.3, -0.7, 1.2])
    np.testing.assert_allclose(cr.grad(relu_sq, method="symbolic")(a), cr.grad(relu_sq)(a))


def test_symbolic_values_have_no_number():
    with pytest.raises(SymbolicError, match="closed form"):
        bool(x > 0)
    with pytest.raises(SymbolicError, match="float"):
        float(x)
    with pytest.raises(SymbolicError):
        math.sin(x)
    with pytest.raises(SymbolicError):
        np.asarray(x, dtype=float)
    assert isinstance(SymbolicError("m"), cr.ConcretizationError)


def test_equals_and_subs():
    assert (x * y).equals(x * y) and not (x * y).equals(y * x)
    assert (x + 2.0).subs({x: y * 3.0}) is y * 3.0 + 2.0
    assert (x + y).subs({"x": 1.0}) is Const(1.0) + y
    with pytest.raises(TypeError, match="symbols or names"):
        x.subs({x * 2: 1.0})


def test_interpreters_run_on_top_of_symbolic_values():
    # the tape and dual numbers carry expressions: their rules build expression nodes
    g = cr.grad(textbook, argnums=(0, 1))(x, y)
    assert [str(simplify(t)) for t in g] == ["1/x + y", "x - cos(y)"]
    _, t = cr.jvp(textbook, (x, y), (1.0, 0.0))
    assert str(simplify(t)) == "1/x + y"
    # nested transforms over a symbol agree with diff
    d2 = cr.grad(cr.grad(lambda t: cnp.sin(t) * t))(x)
    assert simplify(d2) is simplify(diff(cnp.sin(x) * x, x, 2))
    # cr.cond with a symbolic predicate becomes a where
    assert str(cr.cond(x > 0, lambda t: t * 2.0, lambda t: -t, x)) == "where(x > 0, x*2, -x)"


# ---------------------------------------------------------------------------------------------
# diff

def test_diff_textbook():
    f = textbook(x, y)
    assert str(diff(f, x)) == "1/x + 1*y"
    assert str(simplify(diff(f, x))) == "1/x + y"
    assert str(simplify(diff(f, y))) == "x - cos(y)"
    assert diff(f, x).evaluate(x=2.0, y=5.0) == 5.5
    assert diff(f, y).evaluate(x=2.0, y=5.0) == pytest.approx(1.7163378145367738, abs=0)


@pytest.mark.parametrize("expr,var,n,expected", [
    (lambda: x ** 5, "x", 3, "60*x**2"),
    (lambda: cnp.sin(x), "x", 4, "sin(x)"),
    (lambda: cnp.exp(2.0 * x), "x", 2, "4*exp(2*x)"),
    (lambda: x * y ** 2, "y", 2, "2*x"),
    (lambda: x * y, "z", 1, "0"),
    (lambda: x ** 2, "x", 0, "x**2"),
    (lambda: cnp.exp(cnp.log(x)), "x", 1, "1"),
    (lambda: cnp.tan(x), "x", 1, "tan(x)**2 + 1"),
    (lambda: cnp.sqrt(x), "x", 2, "-0.25/x**1.5"),
    (lambda: cnp.log(cnp.exp(x) + 1.0), "x", 1, "exp(x)/(exp(x) + 1)"),
])
def test_diff_simplified_forms(expr, var, n, expected):
    assert str(simplify(diff(expr(), Symbol(var), n))) == expected


def test_diff_reaches_exact_one():
    assert simplify(diff(cnp.exp(cnp.log(x)), x)) is Const(1.0)
    assert simplify(diff(cnp.log(cnp.exp(x)), x)) is Const(1.0)
    assert simplify(diff(cnp.sin(x) ** 2 + cnp.cos(x) ** 2, x)) is Const(0.0)


def test_diff_uses_the_rule_table(monkeypatch):
    # the symbolic engine has no formula of its own: change the rule and diff follows
    from chainrule.ops import elementwise as E
    seen = []
    rule = E.sin_p.jvp

    def spy(primals, tangents, **params):
        seen.append(primals[0])
        return rule(primals, tangents, **params)

    monkeypatch.setattr(E.sin_p, "jvp", spy)
    diff(cnp.sin(x * y), x)
    assert len(seen) == 1 and seen[0] is x * y


def test_diff_memoises_shared_nodes():
    ln = logistic_expr(31)
    d = diff(ln, x)
    assert d.dag_size() < 10 * ln.dag_size()     # linear in the DAG ...
    assert d.tree_size() > 2 ** 30               # ... while the printed tree swells


def test_diff_errors():
    with pytest.raises(TypeError, match="must be a symbol"):
        diff(x * y, x * y)
    with pytest.raises(ValueError, match="non-negative int"):
        diff(x, x, -1)
    with pytest.raises(ValueError, match="non-negative int"):
        diff(x, x, 1.5)
    assert diff(3.0, x) is Const(0.0)


def test_diff_of_nondifferentiable_pieces():
    # comparisons and sign are constants; where's untaken branch gets an exact zero
    assert simplify(diff(cnp.sign(x) * x, x)) is cnp.sign(x)
    d = diff(cnp.where(x > 0, cnp.sqrt(x), 0.0), x)
    assert str(simplify(d)) == "where(x > 0, 0.5/sqrt(x), 0)"
    assert d.evaluate(x=0.0) == 0.0  # no 0 * inf


# ---------------------------------------------------------------------------------------------
# simplify

SIMPLIFY_CASES = [  # (expression, simplified text, tree size reduced?)
    (lambda: x + 0.0, "x"),
    (lambda: x * 1.0, "x"),
    (lambda: x * 0.0, "0"),
    (lambda: x - x, "0"),
    (lambda: x / x, "1"),
    (lambda: np.negative(-x), "x"),
    (lambda: 2.0 * x + 3.0 * x, "5*x"),
    (lambda: x * x, "x**2"),
    (lambda: x ** 2 * x ** 3, "x**5"),
    (lambda: x ** y * x ** z, "x**(y + z)"),
    (lambda: cnp.exp(cnp.log(x)), "x"),
    (lambda: cnp.log(cnp.exp(x)), "x"),
    (lambda: cnp.sin(x) ** 2 + cnp.cos(x) ** 2, "1"),
    (lambda: 2.0 * y * cnp.sin(x) ** 2 + 2.0 * cnp.cos(x) ** 2 * y, "2*y"),
    (lambda: cnp.cosh(x) ** 2 - cnp.sinh(x) ** 2, "1"),
    (lambda: cnp.sin(-x), "-sin(x)"),
    (lambda: cnp.cos(-x), "cos(x)"),
    (lambda: cnp.tanh(-x) + cnp.tanh(x), "0"),
    (lambda: (x + y) - (x - y), "2*y"),
    (lambda: x * y / x, "y"),
    (lambda: cnp.sqrt(x) * cnp.sqrt(x), "x"),
    (lambda: cnp.sqrt(x ** 2), "abs(x)"),
    (lambda: (x + 1.0) ** 2 * (x + 1.0), "(x + 1)**3"),
    (lambda: (4.0 - 8.0 * x) * (8.0 * x - 4.0), "-(4 - 8*x)**2"),
    (lambda: (x - y) ** 2 * (y - x) / (x - 1.0), "-(x - y)**3/(x - 1)"),
    (lambda: 3.0 - x + 2.0, "5 - x"),
    (lambda: 2.0 * (x + 1.0) - 2.0 * x, "2"),
    (lambda: cnp.expm1(x) + 1.0, "exp(x)"),
    (lambda: cnp.sin(cnp.arcsin(x)), "x"),
    (lambda: Const(2.0) * 3.0 + cnp.log(Const(1.0)), "6"),
    (lambda: cnp.where(Const(1.0) > 0, x, y), "x"),
    (lambda: x * y + 1.0 + y * x * x + x * x * y, "2*x**2*y + x*y + 1"),
]


@pytest.mark.parametrize("build,expected", SIMPLIFY_CASES,
                         ids=[c[1] + f"-{i}" for i, c in enumerate(SIMPLIFY_CASES)])
def test_simplify_known_cases(build, expected):
    e = build()
    s = simplify(e)
    assert str(s) == expected
    assert s.tree_size() <= e.tree_size()
    assert simplify(s) is s  # a fixed point


def test_simplify_reduces_sizes():
    # the known reductions, listed: derivatives as the rules produce them
    cases = [diff(textbook(x, y), x), diff(cnp.tanh(x), x, 3), diff(x ** 4, x, 2),
             diff(cnp.exp(cnp.log(x)) * y, x), diff(logistic_expr(6), x)]
    for d in cases:
        assert simplify(d).tree_size() < d.tree_size(), str(d)


def logistic_expr(n):
    ln = x
    for _ in range(n - 1):
        ln = 4 * ln * (1 - ln)
    return ln


def _random_expr(rng, depth):
    leaves = [x, y, z, 0.5, 2.0, 3.0, -1.0]
    if depth == 0 or rng.random() < 0.2:
        return leaves[rng.integers(len(leaves))]
    unary = [cnp.sin, cnp.cos, cnp.exp, cnp.tanh, cnp.arctan, cnp.square, np.negative,
             lambda a: cnp.log(cnp.square(a) + 1.0), lambda a: cnp.sqrt(cnp.square(a) + 0.5)]
    binary = [np.add, np.subtract, np.multiply, lambda a, b: a / (cnp.square(b) + 0.5),
              lambda a, b: a * a * b, lambda a, b: a - a + b]
    if rng.random() < 0.35:
        return unary[rng.integers(len(unary))](_random_expr(rng, depth - 1))
    a, b = _random_expr(rng, depth - 1), _random_expr(rng, depth - 1)
    e = binary[rng.integers(len(binary))](a, b)
    return e if isinstance(e, Expr) or rng.random() < 0.5 else e + x


def test_simplify_never_changes_values(rng):
    pts = {s: rng.uniform(-2, 2, size=7) for s in ("x", "y", "z")}
    checked = 0
    for _ in range(300):
        e = _random_expr(rng, 5)
        if not isinstance(e, Expr):
            continue
        vals = {k: v for k, v in pts.items() if any(s.name == k for s in e.free_symbols())}
        before = e.evaluate(**vals)
        s = simplify(e)
        svals = {k: v for k, v in vals.items() if any(t.name == k for t in s.free_symbols())}
        after = s.evaluate(**svals) if svals else s.evaluate()
        assert np.allclose(np.broadcast_to(after, np.shape(before)), before, rtol=1e-9,
                           atol=1e-9), (str(e), str(s))
        for v in (x, y):  # and derivatives of them
            d = diff(e, v)
            d_vals = {k: q for k, q in pts.items() if any(t.name == k for t in d.free_symbols())}
            sd = simplify(d)
            sd_vals = {k: q for k, q in d_vals.items()
                       if any(t.name == k for t in sd.free_symbols())}
            np.testing.assert_allclose(
                np.broadcast_to(sd.evaluate(**sd_vals), (7,)),
                np.broadcast_to(d.evaluate(**d_vals), (7,)), rtol=1e-8, atol=1e-8)
        checked += 1
    assert checked > 150


# ---------------------------------------------------------------------------------------------
# printing

STR_CASES = [
    (lambda: x - (y - z), "x - (y - z)", r"x - \left(y - z\right)"),
    (lambda: x - y + z, "x - y + z", "x - y + z"),
    (lambda: -x ** 2, "-x**2", "-x^{2}"),
    (lambda: (-x) ** 2, "(-x)**2", r"\left(-x\right)^{2}"),
    (lambda: x + (y + z), "x + (y + z)", r"x + \left(y + z\right)"),
    (lambda: x / (y * z), "x/(y*z)", r"\frac{x}{y z}"),
    (lambda: x ** (y ** z), "x**y**z", "x^{y^{z}}"),
    (lambda: (x ** y) ** z, "(x**y)**z", r"\left(x^{y}\right)^{z}"),
    (lambda: x * -y, "x*(-y)", r"x \left(-y\right)"),
    (lambda: -(x + y), "-(x + y)", r"-\left(x + y\right)"),
    (lambda: 2 ** -x, "2**(-x)", "2^{-x}"),
    (lambda: x - (-2.0), "x - (-2)", r"x - \left(-2\right)"),
    (lambda: cnp.sin(x) ** 2 + cnp.cos(x), "sin(x)**2 + cos(x)",
     r"\sin^{2}\left(x\right) + \cos\left(x\right)"),
    (lambda: cnp.sqrt(x + 1) / (x - 1), "sqrt(x + 1)/(x - 1)", r"\frac{\sqrt{x + 1}}{x - 1}"),
    (lambda: 3 * x ** 2 * cnp.log(y), "3*x**2*log(y)", r"3 x^{2} \log\left(y\right)"),
    (lambda: abs(x - y), "abs(x - y)", r"\left|x - y\right|"),
    (lambda: cnp.cbrt(x) * cnp.arctan2(y, x), "cbrt(x)*arctan2(y, x)",
     r"\sqrt[3]{x} \operatorname{arctan2}\left(y, x\right)"),
    (lambda: cnp.where(x > 0, x, 0.0), "where(x > 0, x, 0)",
     r"\begin{cases} x & \text{if } x > 0 \\ 0 & \text{otherwise} \end{cases}"),
    (lambda: 1e-20 * x + 0.5, "1e-20*x + 0.5", r"10^{-20} x + 0.5"),
    (lambda: Symbol("x1") ** 2 + Symbol("alpha") * Symbol("theta_2"), "x1**2 + alpha*theta_2",
     r"x_{1}^{2} + \alpha \theta_{2}"),
]


@pytest.mark.parametrize("build,text,latex", STR_CASES,
                         ids=[c[1] for c in STR_CASES])
def test_printing_golden(build, text, latex):
    e = build()
    assert str(e) == text
    assert e.to_latex() == latex


def test_str_parses_back_to_the_same_value(rng):
    names = {n: getattr(cnp, n) for n in ("sin", "cos", "exp", "log", "sqrt", "tanh", "where",
                                         "arctan2", "square", "cbrt")}
    names["abs"] = abs
    for build, _, _ in STR_CASES[:-1]:
        e = build()
        rebuilt = eval(str(e), {**names, "x": x, "y": y, "z": z})  # noqa: S307 - our own text
        vals = {"x": 0.7, "y": 1.3, "z": 0.4}
        used = {k: v for k, v in vals.items() if any(s.name == k for s in e.free_symbols())}
        assert rebuilt.evaluate(**used) == e.evaluate(**used)


def test_negated_remainder_and_floor_division_keep_their_parentheses():
    # -(a % b) is not (-a) % b, nor -(a // b) (-a) // b: `-x % y` would parse as the latter
    for e, text in [(-(x % y), "-(x % y)"), (-(x // y), "-(x//y)")]:
        assert str(e) == text
        rebuilt = eval(str(e), {"x": x, "y": y})  # noqa: S307 - our own text
        assert rebuilt.evaluate(x=7.0, y=2.0) == e.evaluate(x=7.0, y=2.0)
        assert cr.symbolic.lambdify([x, y], e)(7.0, 2.0) == e.evaluate(x=7.0, y=2.0)
    assert str(-x % y) == "-x % y"  # (-x) % y itself needs none


def test_repr_is_readable_and_bounded():
    assert repr(x * y) == "x*y"
    big = logistic_expr(14)
    r = repr(big)
    assert r.startswith("<symbolic expression: mul node, tree size") and len(r) < 200
    assert f"{x + 1:>7}" == "  x + 1"


# ---------------------------------------------------------------------------------------------
# evaluate and lambdify

def test_evaluate_numbers_and_arrays():
    f = textbook(x, y)
    assert f.evaluate(x=2.0, y=5.0) == pytest.approx(math.log(2) + 10 - math.sin(5))
    v = f.evaluate(x=np.array([1.0, 2.0]), y=5.0)
    assert v.shape == (2,)
    assert f.evaluate({x: 2.0, "y": 5.0}) == f.evaluate(x=2.0, y=5.0)
    assert (1.0 / x).evaluate(x=0.0) == np.inf  # NumPy semantics, not ZeroDivisionError
    with pytest.raises(TypeError, match="no value for symbol"):
        f.evaluate(x=1.0)
    with pytest.raises(TypeError, match="does not contain"):
        f.evaluate(x=1.0, y=2.0, w=3.0)


def test_lambdify_hoists_common_subexpressions():
    e = cnp.sin(x) * y + cnp.sin(x) ** 2
    f = lambdify([x, y], e)
    assert f.source.count("np.sin(x)") == 1
    assert f.source == ("def f(x, y):\n    x = _input(x)\n    y = _input(y)\n"
                        "    _t0 = np.sin(x)\n    return _t0*y + _t0**2")
    assert f(0.3, 2.0) == pytest.approx(e.evaluate(x=0.3, y=2.0), rel=1e-15)
    xs = np.linspace(-1, 1, 5)
    np.testing.assert_allclose(f(xs, 2.0), e.evaluate(x=xs, y=2.0), rtol=1e-15)


def test_lambdify_many_outputs_share_work_and_fold_constants():
    d = diff(logistic_expr(6), x)
    f = lambdify(x, [logistic_expr(6), d])
    assert f.source.count("1 - x") == 1
    got = f(0.3)
    assert isinstance(got, tuple) and len(got) == 2
    assert got[1] == pytest.approx(cr.grad(lambda t: logistic_expr_fn(t, 6))(0.3), rel=1e-13)
    g = lambdify([x], Const(2.0) * Const(3.0) + x)
    assert "return 6 + x" in g.source
    assert lambdify([x], [x]).__call__(2.0) == (2.0,)


def logistic_expr_fn(t, n):
    for _ in range(n - 1):
        t = 4 * t * (1 - t)
    return t


def test_lambdify_errors_and_odd_primitives():
    with pytest.raises(ValueError, match="not among the arguments"):
        lambdify([x], x * y)
    with pytest.raises(TypeError, match="must be symbols"):
        lambdify([x * 2], x)
    with pytest.raises(TypeError, match="takes 2 argument"):
        lambdify([x, y], x)(1.0)
    with pytest.raises(ValueError, match="reserved"):
        lambdify([Symbol("np")], Symbol("np"))
    e = cnp.nan_to_num(x / y) + cr.stop_gradient(x) + cnp.maximum(x, 1.0)
    f = lambdify([x, y], e)
    assert f(2.0, 0.0) == pytest.approx(e.evaluate(x=2.0, y=0.0))
    deep = x
    for k in range(300):  # deeper than Python's parser would take inline
        deep = cnp.sin(deep) + float(k)
    assert lambdify(x, deep)(0.1) == pytest.approx(deep.evaluate(x=0.1))


# ---------------------------------------------------------------------------------------------
# from_function

def test_from_function():
    f = from_function(textbook, 2)
    assert str(f) == "log(x1) + x1*x2 - sin(x2)"
    assert str(from_function(lambda a: a ** 2, "t")) == "t**2"
    assert str(from_function(lambda *a: a[0] * a[1], 2)) == "x0*x1"
    pair = from_function(lambda u, v: (u * v, u + v))
    assert isinstance(pair, tuple) and str(pair[1]) == "u + v"
    assert from_function(lambda u: 3.0, 1) is Const(3.0)
    with pytest.raises(TypeError, match="not a number or an expression"):
        from_function(lambda u: "text", 1)


def branching(x):
    if x > 0:  # control flow on a value
        return x
    return -x


def looping(x):
    while x < 10:
        x = x * 2
    return x


@pytest.mark.parametrize("fn", [branching, looping, lambda t: math.exp(t),
                                lambda t: range(t), lambda t: [1, 2][t]])
def test_control_flow_raises_symbolic_error(fn):
    with pytest.raises(SymbolicError, match="closed form") as info:
        from_function(fn, 1)
    assert "method='overload'" in str(info.value) and "cnp.where" in str(info.value)


def test_symbolic_error_names_the_users_line():
    with pytest.raises(SymbolicError) as info:
        from_function(branching, 1)
    assert "test_symbolic.py" in str(info.value) and "if x > 0:" in str(info.value)


# ---------------------------------------------------------------------------------------------
# method="symbolic" on every transform, against the overload method

def test_textbook_grad_symbolic():
    g = cr.grad(textbook, argnums=(0, 1), method="symbolic")(2.0, 5.0)
    assert g[0] == 5.5 and g[1] == pytest.approx(1.7163378145367738, abs=1e-15)
    assert isinstance(g[0], np.float64)


def _same(a, b):
    la, ta = cr.tree.flatten(a)
    lb, tb = cr.tree.flatten(b)
    assert ta == tb, (a, b)
    for u, v in zip(la, lb):
        assert np.shape(u) == np.shape(v)
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)


A = np.array([[1.0, 2.0], [3.0, 4.0]])
FUNCS = [
    (textbook, (2.0, 5.0)),
    (lambda v: cnp.sum(cnp.exp(v)) * cnp.sum(v ** 2), (np.array([0.1, -0.2]),)),
    (lambda v, s: cnp.tanh(A @ v) * s, (np.array([0.1, -0.2]), 1.5)),
    (lambda p: p["w"] * cnp.sin(p["b"]) + p["w"] ** 3, ({"w": 0.7, "b": 1.2},)),
    (lambda M: cnp.sum(M * M.T) + cnp.prod(M), (np.array([[0.5, 1.0], [1.5, -0.3]]),)),
]


@pytest.mark.parametrize("f,args", FUNCS, ids=range(len(FUNCS)))
def test_symbolic_jacobians_match_overload(f, args):
    for transform in (cr.jacfwd, cr.jacrev):
        for argnums in (0, tuple(range(len(args)))):
            _same(transform(f, argnums, method="symbolic")(*args),
                  transform(f, argnums)(*args))


SCALAR = [FUNCS[0], FUNCS[1], FUNCS[3], FUNCS[4],
          (lambda v, s: cnp.sum(cnp.tanh(A @ v) * s), (np.array([0.1, -0.2]), 1.5))]


@pytest.mark.parametrize("f,args", SCALAR, ids=range(len(SCALAR)))
def test_symbolic_scalar_transforms_match_overload(f, args):
    nums = tuple(range(len(args)))
    _same(cr.grad(f, method="symbolic")(*args), cr.grad(f)(*args))
    _same(cr.grad(f, nums, method="symbolic")(*args), cr.grad(f, nums)(*args))
    _same(cr.value_and_grad(f, nums, method="symbolic")(*args), cr.value_and_grad(f, nums)(*args))
    _same(cr.hessian(f, method="symbolic")(*args), cr.hessian(f)(*args))
    _same(cr.hessian(f, nums, method="symbolic")(*args), cr.hessian(f, nums)(*args))
    tangents = cr.tree.tree_map(lambda a: np.ones_like(a) * 0.3, args)
    _same(cr.hvp(f, args, tangents, method="symbolic"), cr.hvp(f, args, tangents))
    _same(cr.jvp(f, args, tangents, method="symbolic"), cr.jvp(f, args, tangents))
    out_s, fn_s = cr.vjp(f, *args, method="symbolic")
    out_o, fn_o = cr.vjp(f, *args)
    _same(out_s, out_o)
    _same(fn_s(2.0), fn_o(2.0))



def test_sigmoid_of_an_array_of_symbols():
    # sigmoid's implementation ends with .astype(float64), which must keep the expressions
    x = np.array([0.3, -1.2, 2.0])
    f = lambda v: cnp.sum(cnp.sigmoid(v) ** 2)  # noqa: E731
    _same(cr.grad(f, method="symbolic")(x), cr.grad(f)(x))
    _same(cr.jacrev(cnp.sigmoid, method="symbolic")(x), cr.jacrev(cnp.sigmoid)(x))

def test_symbolic_vjp_and_jvp_of_vector_functions():
    f = FUNCS[2][0]
    args = FUNCS[2][1]
    ct = np.array([1.0, -2.0])
    out_s, fn_s = cr.vjp(f, *args, method="symbolic")
    out_o, fn_o = cr.vjp(f, *args)
    _same(out_s, out_o)
    _same(fn_s(ct), fn_o(ct))
    tangents = (np.array([0.5, 1.0]), 2.0)
    _same(cr.jvp(f, args, tangents, method="symbolic"), cr.jvp(f, args, tangents))
    with pytest.raises(ValueError, match="shape"):
        fn_s(np.ones(3))
    with pytest.raises(ValueError, match="structure"):
        cr.jvp(f, args, (np.ones(2), (1.0, 2.0)), method="symbolic")


def test_symbolic_closed_forms():
    d = cr.grad(lambda t: t ** 3 * cnp.exp(t), method="symbolic")(0.5)
    assert d == pytest.approx((3 * 0.25 + 0.125) * math.exp(0.5), rel=1e-15)
    H = cr.hessian(lambda a, b: a * a * b, argnums=(0, 1), method="symbolic")(2.0, 3.0)
    assert [[float(v) for v in row] for row in H] == [[6.0, 4.0], [4.0, 0.0]]
    assert cr.hvp(lambda t: cnp.sin(t), (1.0,), (2.0,), method="symbolic") == \
        pytest.approx(-2 * math.sin(1.0))


def test_symbolic_transforms_trace_once_per_signature():
    calls = []

    def f(t):
        calls.append(1)
        return cnp.sin(t) * t

    g = cr.grad(f, method="symbolic")
    assert [g(v) for v in (0.1, 0.2, 0.3)] == pytest.approx(
        [math.cos(v) * v + math.sin(v) for v in (0.1, 0.2, 0.3)])
    assert len(calls) == 1
    g(np.array(0.4))   # a 0-d float64 array has the same signature as a float
    g(np.float32(0.4))  # float32 is another
    assert len(calls) == 2
    assert isinstance(g(np.float32(0.4)), np.float32)


def test_symbolic_transforms_keep_symbols_apart():
    # an array v has elements v_0, v_1: a parameter named v_0 must stay a different symbol
    def f(v, v_0):
        return cnp.sum(v * v) * v_0

    a = np.array([1.0, 2.0])
    _same(cr.grad(f, argnums=(0, 1), method="symbolic")(a, 3.0), cr.grad(f, argnums=(0, 1))(a, 3.0))


def test_symbolic_transforms_errors():
    with pytest.raises(SymbolicError, match="closed form"):
        cr.grad(branching, method="symbolic")(1.0)
    with pytest.raises(SymbolicError):
        cr.jacfwd(looping, method="symbolic")(1.0)
    with pytest.raises(TypeError, match="dtype int"):
        cr.grad(lambda t: t * 2.0, method="symbolic")(3)
    with pytest.raises(TypeError, match="scalar"):
        cr.grad(lambda t: t * np.ones(2), method="symbolic")(3.0)
    with pytest.raises(TypeError, match="complex"):
        cr.grad(lambda t: t * t, method="symbolic")(1.0 + 2.0j)
    with pytest.raises(NotImplementedError, match="has_aux"):
        cr.grad(lambda t: (t, 1), has_aux=True, method="symbolic")
    with pytest.raises(ValueError, match="argnums"):
        cr.grad(textbook, argnums=2, method="symbolic")(1.0, 2.0)


def test_symbolic_where_and_integer_leaves():
    f = lambda t, k: cnp.where(t > 0, t ** k, -t)  # noqa: E731
    assert cr.grad(f, method="symbolic")(2.0, 3) == pytest.approx(12.0)
    assert cr.grad(f, method="symbolic")(-2.0, 3) == -1.0
    g = cr.grad(lambda p: f(p["t"], p["k"]), method="symbolic")({"t": 2.0, "k": 3})
    assert g["t"] == pytest.approx(12.0) and g["k"] is None


# ---------------------------------------------------------------------------------------------
# expression swell

EXPECTED_SWELL = [  # n, l_n tree, d/dx tree, simplified tree, d/dx DAG, simplified DAG, AD ops
    (1, 1, 1, 1, 1, 1, 0), (2, 7, 11, 5, 9, 5, 8), (3, 19, 46, 31, 17, 18, 16),
    (4, 43, 140, 104, 25, 31, 24), (5, 91, 376, 290, 33, 46, 32),
    (6, 187, 944, 742, 41, 61, 40), (7, 379, 2272, 1806, 49, 76, 48),
    (8, 763, 5312, 4254, 57, 93, 56), (9, 1531, 12160, 9790, 65, 110, 64),
    (10, 3067, 27392, 22142, 73, 131, 72),
]


def test_swell_table():
    import dataclasses
    rows = cr.symbolic.swell_table(10)
    assert [dataclasses.astuple(r) for r in rows] == EXPECTED_SWELL
    text = cr.symbolic.format_swell(rows)
    assert text.splitlines()[0].split()[:3] == ["n", "l_n", "tree"]
    # the shape of the argument: the tree doubles, the DAG and the AD tape grow linearly
    for a, b in zip(rows[4:], rows[5:]):
        assert b.diff_tree > 2 * a.diff_tree and b.diff_dag - a.diff_dag == 8
        assert b.ad_ops - a.ad_ops == 8
    with pytest.raises(ValueError, match="n_max"):
        cr.symbolic.swell_table(0)


def test_plot_swell(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    rows = cr.symbolic.swell_table(5)
    path = cr.symbolic.plot_swell(rows, str(tmp_path / "swell.png"))
    assert (tmp_path / "swell.png").stat().st_size > 1000 and path.endswith("swell.png")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        cr.symbolic.plot_swell(rows, str(tmp_path / "again.png"))


def test_topo_order_is_iterative():
    deep = x
    for _ in range(5000):
        deep = deep + 1.0
    assert len(topo_order([deep])) == 5002
    assert deep.tree_size() == 10001
    assert len(str(deep)) > 5000
    assert simplify(deep) is x + 5000.0


def test_softplus_of_an_array_of_symbols():
    x = np.array([0.3, -1.2, 2.0])
    got = cr.grad(lambda v: cnp.sum(cnp.softplus(v)), method="symbolic")(x)
    np.testing.assert_allclose(got, 1.0 / (1.0 + np.exp(-x)), rtol=1e-14)  # softplus' = sigmoid
