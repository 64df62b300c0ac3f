"""cr.explain: the evaluation-trace tables of the AD literature, from a real run of the rules."""
import math
import unicodedata

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule._core.primitive import Primitive
from chainrule._core.rules import def_rule
from chainrule.explain import ExplainError, Explanation, ExpressionError, Row, parse_expression
from chainrule.ops import elementwise as E


def textbook(x1, x2):
    return cnp.log(x1) + x1 * x2 - cnp.sin(x2)


def _width(s):
    return sum(1 for c in s if not unicodedata.combining(c))


def nfc(s):
    # the tables print ẋ, ẏ, ȳ precomposed (NFC), as typed; compare in that form
    return unicodedata.normalize("NFC", s)


def test_textbook_numbers():
    ex = cr.explain(textbook, 2.0, 5.0)
    assert isinstance(ex, Explanation)
    by_index = {r.index: r for r in ex.rows}
    assert [r.index for r in ex.rows] == [-1, 0, 1, 2, 3, 4, 5]
    assert (by_index[-1].name, by_index[0].name) == ("x1", "x2")
    assert [by_index[i].primitive for i in range(1, 6)] == ["log", "mul", "sin", "add", "sub"]
    assert by_index[2].operands == (-1, 0) and by_index[5].operands == (4, 3)
    values = [round(by_index[i].value, 3) for i in range(-1, 6)]
    assert values == [2.0, 5.0, 0.693, 10.0, -0.959, 10.693, 11.652]
    tangents = [by_index[i].tangent for i in range(-1, 6)]
    assert np.allclose(tangents, [1, 0, 0.5, 5, 0, 5.5, 5.5])
    assert ex.tangent == pytest.approx(5.5)
    assert ex.gradient == pytest.approx((5.5, 2 - math.cos(5)))
    assert round(ex.gradient[1], 3) == 1.716
    # v̄₀ = v̄₂ ∂v₂/∂v₀ + v̄₃ ∂v₃/∂v₀: the contributions that were summed, by row
    (i2, c2), (i3, c3) = by_index[0].adjoint_terms
    assert (i2, i3) == (2, 3) and c2 == pytest.approx(2.0) and c3 == pytest.approx(-math.cos(5))
    assert [i for i, _ in by_index[-1].adjoint_terms] == [1, 2]
    assert [c for _, c in by_index[-1].adjoint_terms] == pytest.approx([0.5, 5.0])


def test_textbook_text():
    text = str(cr.explain(textbook, 2.0, 5.0))
    for line in ["v₋₁ = x₁       =  2", "v₁  = ln v₋₁   =  0.693", "v₂  = v₋₁ × v₀ = 10",
                 "v₃  = sin v₀   = −0.959", "v₄  = v₁ + v₂  = 10.693",
                 "v₅  = v₄ − v₃  = 11.652", "y   = v₅       = 11.652",
                 "v̇₋₁ = ẋ₁                  = 1", "v̇₁  = v̇₋₁ / v₋₁           = 0.5",
                 "v̇₂  = v̇₋₁ × v₀ + v₋₁ × v̇₀ = 5", "v̇₃  = v̇₀ × cos v₀         = 0",
                 "ẏ   = v̇₅                  = 5.5",
                 "v̄₅  = ȳ", "v̄₃  = v̄₅ ∂v₅/∂v₃                = −v̄₅",
                 "v̄₀  = v̄₂ ∂v₂/∂v₀ + v̄₃ ∂v₃/∂v₀   = v̄₂ × v₋₁ + v̄₃ × cos v₀ =  1.716",
                 "x̄₁  = v̄₋₁", "x̄₂  = v̄₀"]:
        assert nfc(line) in text, line
    assert text.index("Forward primal trace") < text.index("Forward tangent trace, w.r.t. x₁") \
        < text.index("Reverse adjoint trace")
    lines = text.splitlines()
    assert lines[-2].endswith("=  5.5") and lines[-1].endswith("=  1.716")


def test_columns_line_up():
    for ex in (cr.explain(textbook, 2.0, 5.0),
               cr.explain(lambda x: 2 * x ** 3 - cnp.exp(x) / x + x, 1.5, digits=5)):
        for block in str(ex).split("\n\n"):
            rows = block.splitlines()[1:]
            # the last " = " (before the number) and the decimal points sit in one column
            ends = {_width(r[:r.rindex(" = ")]) for r in rows}
            assert len(ends) == 1, block
            points = {_width(r[:r.index(".", r.rindex(" = "))]) for r in rows
                      if "." in r[r.rindex(" = "):]}
            assert len(points) <= 1, block
            starts = {_width(r[:r.index(" = ")]) for r in rows}  # the first " = " too
            assert len(starts) == 1, block


def test_agrees_with_forward_and_reverse_mode():
    rng = np.random.default_rng(3)
    programs = [
        (lambda a, b: cnp.tanh(a * b) / (1 + a ** 2) + cnp.sqrt(b), 2),
        (lambda a, b, c: cnp.exp(-a) * cnp.cos(b * c) - cnp.arctan2(a, c) + a * a, 3),
        (lambda a: cnp.log1p(a) * cnp.sinh(a) + abs(a - 3.0) + cnp.maximum(a, 0.25), 1),
        (lambda a, b: a ** b + cnp.hypot(a, b) - 2.0 * cnp.logaddexp(a, b), 2),
    ]
    for f, n in programs:
        point = tuple(rng.uniform(0.5, 2.0, n))
        want_grad = cr.grad(f, argnums=tuple(range(n)))(*point)
        for k in range(n):
            ex = cr.explain(f, *point, wrt=k)
            assert ex.value == pytest.approx(f(*point), rel=1e-13)
            assert ex.gradient == pytest.approx(tuple(want_grad), rel=1e-12)
            seed = tuple(float(j == k) for j in range(n))
            assert ex.tangent == pytest.approx(cr.jvp(f, point, seed)[1], rel=1e-12)


def test_wrt_by_name_and_position():
    ex = cr.explain(textbook, 2.0, 5.0, wrt="x2")
    assert ex.tangent == pytest.approx(2 - math.cos(5))
    assert "w.r.t. x₂" in str(ex)
    assert cr.explain(textbook, 2.0, 5.0, wrt=-1).tangent == ex.tangent
    with pytest.raises(ValueError, match="wrt='z' is not an input; the inputs are x1, x2"):
        cr.explain(textbook, 2.0, 5.0, wrt="z")
    with pytest.raises(ValueError, match="wrt=2"):
        cr.explain(textbook, 2.0, 5.0, wrt=2)


def test_names_constants_and_repeated_operands():
    ex = cr.explain(lambda a: 2 * a * a, 3.0, names=["t"])
    text = str(ex)
    assert "v₁ = 2 × v₀" in text and "v₂ = v₁ × v₀" in text  # constants shown as numbers
    assert nfc("ṫ") in text and nfc("t̄  = v̄₀") in text
    assert ex.gradient == pytest.approx((12.0,))
    # v₀ is used by two rows: two contributions, summed
    row0 = ex.rows[0]
    assert [i for i, _ in row0.adjoint_terms] == [1, 2]
    assert isinstance(ex.rows[1].operands[0], float)  # a constant operand is a float


def test_expression_is_the_rules_own(monkeypatch):
    """The tangent row shows what sin's JVP rule computed: replacing the rule changes it."""
    def scaled_sin_jvp(primals, tangents):
        (x,), (x_dot,) = primals, tangents
        return E.sin(x), E.mul(E.mul(x_dot, E.cos(x)), 7.0)

    monkeypatch.setattr(E.sin_p, "jvp", scaled_sin_jvp)
    ex = cr.explain(lambda x: cnp.sin(x), 0.5)
    assert nfc("v̇₁ = v̇₀ × cos v₀ × 7") in str(ex)
    assert ex.tangent == pytest.approx(7 * math.cos(0.5))


def test_rule_recomputing_the_output_shows_it_as_v():
    text = str(cr.explain(lambda x: cnp.exp(x) + cnp.tanh(x), 0.3))
    assert nfc("v̇₁ = v̇₀ × v₁") in text           # exp's rule multiplies by its answer
    assert nfc("v̇₂ = v̇₀ × (1 − v₂²)") in text    # tanh's: 1 - ans²


def test_a_primitive_with_only_a_jvp_rule_uses_the_derived_vjp():
    cube_p = Primitive("test_explain_cube", lambda x: x ** 3, E._abstract_elementwise)

    def _cube_jvp(primals, tangents):
        (x,), (x_dot,) = primals, tangents
        return cube_p.bind(x), E.mul(x_dot, E.mul(E.square(x), 3.0))

    def_rule(cube_p, jvp=_cube_jvp)
    ex = cr.explain(lambda x: cube_p.bind(x), 2.0)
    assert ex.gradient == pytest.approx((12.0,)) and ex.tangent == pytest.approx(12.0)
    assert "test_explain_cube v₀" in str(ex)


def test_digits_markdown_and_order():
    ex = cr.explain(textbook, 2.0, 5.0, digits=5)
    assert "0.69315" in str(ex) and "1.71634" in str(ex)
    md = cr.explain(textbook, 2.0, 5.0).to_markdown()
    assert md.count("**") == 6
    assert sum(line.startswith("|---|") for line in md.splitlines()) == 3
    assert nfc("| v̄₀ | v̄₂ ∂v₂/∂v₀ + v̄₃ ∂v₃/∂v₀ | v̄₂ × v₋₁ + v̄₃ × cos v₀ | 1.716 |") in md
    assert "\\|v₀\\|" in cr.explain(lambda x: abs(x), -1.0).to_markdown()  # pipes escaped
    run = cr.explain(textbook, 2.0, 5.0, order="run")
    assert [r.primitive for r in run.rows[2:]] == ["log", "mul", "add", "sin", "sub"]
    assert run.gradient == pytest.approx(cr.explain(textbook, 2.0, 5.0).gradient)


def test_control_flow_and_dead_code():
    def f(x, y):
        unused = cnp.cos(y)  # noqa: F841 - a row no output depends on: adjoint 0
        if x > 1:            # Python control flow on a value: it just runs
            return x * x
        return -x

    ex = cr.explain(f, 3.0, 1.0)
    assert ex.gradient == pytest.approx((6.0, 0.0))
    assert any(r.primitive == "cos" and r.adjoint == 0.0 for r in ex.rows)
    assert nfc("f̄") in str(ex)  # an input is called y, so the output is f


def test_constant_output():
    ex = cr.explain(lambda x: 3.0, 1.0)
    assert ex.value == 3.0 and ex.tangent == 0.0 and ex.gradient == (0.0,)
    assert "y  = 3 = 3" in str(ex)


def test_bad_calls_say_what_to_do():
    with pytest.raises(TypeError, match="argument 0 has shape"):
        cr.explain(lambda x: x, np.ones(3))
    with pytest.raises(ExplainError, match="must return one scalar"):
        cr.explain(lambda x: (x, x), 1.0)
    with pytest.raises(ExplainError, match="functions of scalars"):
        cr.explain(lambda x: x * np.ones(3), 1.0)
    with pytest.raises(TypeError, match="give the point"):
        cr.explain(textbook)
    with pytest.raises(ValueError, match="digits"):
        cr.explain(textbook, 2.0, 5.0, digits=-1)
    with pytest.raises(ValueError, match="order="):
        cr.explain(textbook, 2.0, 5.0, order="sideways")
    with pytest.raises(ExplainError, match="outside cr.grad"):
        cr.grad(lambda x: cr.explain(lambda y: y * x, 1.0).value)(2.0)


def test_cr_explain_stays_callable_after_importing_the_module():
    import chainrule.explain  # sets the package attribute to the module

    assert callable(cr.explain)
    assert cr.explain(textbook, 2.0, 5.0).tangent == pytest.approx(5.5)
    assert isinstance(cr.explain(textbook, 2.0, 5.0).rows[0], Row)
    assert chainrule.explain.Explanation is Explanation


def test_parse_expression_interprets_the_checked_tree():
    f = parse_expression("log(x1) + x1*x2 - sin(x2)", ["x1", "x2"])
    assert f(2.0, 5.0) == pytest.approx(math.log(2) + 10 - math.sin(5))
    g = parse_expression("-x ** 2 / (1 + e) + pi * atan2(x, 2) + pow(x, 3) + +x", ["x"])
    x = 0.7
    assert g(x) == pytest.approx(-x ** 2 / (1 + math.e) + math.pi * math.atan2(x, 2)
                                 + x ** 3 + x)
    assert cr.explain(f, 2.0, 5.0).names == ["x1", "x2"]  # named after the variables
    with pytest.raises(TypeError, match="takes 2 value"):
        f(1.0)


@pytest.mark.parametrize("text,construct", [
    ("__import__('os').system('id')", "call of attribute access"),
    ("().__class__", "attribute access"),
    ("x.__class__", "attribute access"),
    ("[x for x in ()]", "list comprehension"),
    ("lambda: 1", "lambda"),
    ("open('f')", "call"),
    ("x; import os", "syntax"),
    ("__import__", "dunder name"),
    ("log(x=1)", "keyword argument"),
    ("'os'", "string constant"),
    ("x // 2", "operator '//'"),
    ("x if x else 1", "conditional expression"),
    ("x[0]", "subscript"),
    ("sin(x, x)", "argument count"),
    ("y", "unknown name"),
    ("True", "boolean constant"),
    ("+".join(["x"] * 300), "depth"),
])
def test_parse_expression_refuses(text, construct):
    with pytest.raises(ExpressionError) as err:
        parse_expression(text, ["x"])
    assert err.value.construct == construct
    assert "allowed are numbers" in str(err.value)
