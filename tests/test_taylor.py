"""Taylor mode (`cr.jet`, `cr.derivatives`): against hand-derived series, nested `grad` / `jvp`,
finite differences, and, rule by rule, against the route that uses no recurrence at all (every
primitive through its JVP rule, nested)."""
import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
import chainrule.scipy.special as csp
from chainrule import taylor
from chainrule.ops import nn as N

# ---------------------------------------------------------------------------------------------
# references


def nested_grads(f, x, k):
    """[f(x), f'(x), ..., f^(k)(x)] by nesting reverse mode k times (the naive route)."""
    out, g = [float(f(x))], f
    for _ in range(k):
        g = cr.grad(g)
        out.append(float(g(x)))
    return np.array(out)


def nested_jvps(f, x, v, k):
    """The j-th directional derivatives of f along v, j = 0..k, by nesting forward mode."""
    out = []
    g = f
    for _ in range(k + 1):
        out.append(np.asarray(g(x)))
        g = (lambda h: lambda y: cr.jvp(h, (y,), (v,))[1])(g)
    return out


def curve_derivatives(f, x0, terms):
    """d^j/dt^j f(x(t)) at 0 for x(t) = x0 + sum_j terms[j-1] t^j / j!, by nesting forward mode
    in the scalar t (independent of jet: the curve is written out)."""
    def along(t):
        x = x0
        for j, c in enumerate(terms, 1):
            x = x + c * t**j / math.factorial(j)
        return f(x)
    return nested_jvps(along, 0.0, 1.0, len(terms))


@pytest.fixture
def no_recurrences(monkeypatch):
    """Every primitive through the fallback: its JVP rule run under Taylor propagation one
    order lower (nested forward mode); no recurrence is used anywhere."""
    monkeypatch.setattr(taylor, "RECURRENCES", {})


def assert_series_close(got, want, rtol=1e-10, atol=1e-10):
    assert len(got) == len(want)
    for j, (a, b) in enumerate(zip(got, want)):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"term {j}")


# ---------------------------------------------------------------------------------------------
# hand-derived series

E_SIN_AT_0 = [1, 1, 1, 0, -3, -8, -3, 56, 217]  # e^{sin x}: 1 + x + x²/2 - x⁴/8 - x⁵/15 - ...


@pytest.mark.parametrize("f, x, want", [
    (cnp.exp, 0.4, [math.exp(0.4)] * 9),
    (cnp.sin, 0.4, [math.sin(0.4), math.cos(0.4), -math.sin(0.4), -math.cos(0.4)] * 2
     + [math.sin(0.4)]),
    (lambda x: 1 / (1 - x), 0.3, [math.factorial(j) / 0.7 ** (j + 1) for j in range(9)]),
    (cnp.log, 2.0, [math.log(2.0)] + [(-1) ** (j - 1) * math.factorial(j - 1) / 2.0**j
                                      for j in range(1, 9)]),
    (lambda x: cnp.exp(cnp.sin(x)), 0.0, E_SIN_AT_0),
    (cnp.tan, 0.0, [0, 1, 0, 2, 0, 16, 0, 272, 0]),
    (cnp.tanh, 0.0, [0, 1, 0, -2, 0, 16, 0, -272, 0]),
    (cnp.arctan, 0.0, [0, 1, 0, -2, 0, 24, 0, -720, 0]),
    (cnp.arcsin, 0.0, [0, 1, 0, 1, 0, 9, 0, 225, 0]),
    (N.sigmoid, 0.0, [0.5, 0.25, 0, -0.125, 0, 0.25, 0, -1.0625, 0]),
    (csp.erf, 0.0, [2 / math.sqrt(math.pi) * c for c in (0, 1, 0, -2, 0, 12, 0, -120, 0)]),
    (lambda x: x**3, 0.0, [0, 0, 0, 6, 0, 0, 0, 0, 0]),  # exact at 0 (no division by x0)
    (lambda y: 2.0**y, 0.5, [math.log(2.0) ** j * 2.0**0.5 for j in range(9)]),
    (lambda y: np.array([0.0, 3.0]) ** y, 1.5,  # 0^y: derivative 0, as the JVP rule says
     [[0.0, math.log(3.0) ** j * 3.0**1.5] for j in range(9)]),
    (lambda x: x**2.5, 1.5, [math.prod(2.5 - i for i in range(j)) * 1.5 ** (2.5 - j)
                             for j in range(9)]),
    (cnp.sqrt, 4.0, [math.prod(0.5 - i for i in range(j)) * 4.0 ** (0.5 - j)
                     for j in range(9)]),
    # cbrt(x) = -(8 - (x + 8))^(1/3) near x = -8: the chain rule gives the sign (-1)^(j+1)
    (cnp.cbrt, -8.0, [(-1) ** (j + 1) * math.prod(1 / 3 - i for i in range(j)) * 8.0 ** (1 / 3 - j)
                      for j in range(9)]),
])
def test_derivatives_match_hand_derived_series(f, x, want):
    np.testing.assert_allclose(cr.derivatives(f, x, order=8), want, rtol=1e-11, atol=1e-11)


def test_cbrt_reference_is_the_real_cube_root():
    # (the reference above writes cbrt(x) = -(-x)^(1/3) for x < 0: check its first term)
    d = cr.derivatives(cnp.cbrt, -8.0, order=1)
    assert d[1] == pytest.approx(1 / 12)


def test_unscaled_coefficients_are_taylor_coefficients():
    y0, ys = cr.jet(cnp.exp, (0.0,), ([1.0, 0.0, 0.0, 0.0],), factorial_scaled=False)
    np.testing.assert_allclose([y0] + ys, [1, 1, 1 / 2, 1 / 6, 1 / 24])
    # and the input is read the same way: x(t) = t + t² has (x²)(t) = t² + 2t³ + t⁴
    _, ys = cr.jet(lambda x: x * x, (0.0,), ([1.0, 1.0, 0.0, 0.0],), factorial_scaled=False)
    np.testing.assert_allclose(ys, [0, 1, 2, 1])


def test_factorial_scaled_series_is_jax_convention():
    """x(t) = x0 + x1 t + x2 t²/2!: for f(x) = x², f(x(t))'' = 2 x1² + 2 x0 x2."""
    _, (y1, y2) = cr.jet(lambda x: x * x, (3.0,), ([2.0, 5.0],))
    assert y1 == pytest.approx(2 * 3 * 2)
    assert y2 == pytest.approx(2 * 2**2 + 2 * 3 * 5)


# ---------------------------------------------------------------------------------------------
# against nested reverse mode and finite differences

COMPOSITES = [
    lambda x: cnp.exp(cnp.sin(x)) * cnp.tanh(x) / (1 + x**2),
    lambda x: cnp.log1p(x**2) * cnp.sqrt(x) - cnp.arctan(x) ** 3,
    lambda x: cnp.arcsinh(x) / cnp.cosh(x) + x**x,
    lambda x: cnp.maximum(cnp.sin(3 * x), x) * cnp.abs(x - 2.0) + N.softplus(x),
]


@pytest.mark.parametrize("f", COMPOSITES)
def test_composites_against_nested_grad(f):
    np.testing.assert_allclose(cr.derivatives(f, 0.7, order=5), nested_grads(f, 0.7, 5),
                               rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("f", COMPOSITES)
def test_first_two_against_finite_differences(f):
    x, h = 0.7, 1e-4
    fd1 = (f(x + h) - f(x - h)) / (2 * h)
    fd2 = (f(x + h) - 2 * f(x) + f(x - h)) / h**2
    d = cr.derivatives(f, x, order=2)
    assert d[1] == pytest.approx(fd1, rel=1e-7, abs=1e-7)
    assert d[2] == pytest.approx(fd2, rel=1e-5, abs=1e-5)


# ---------------------------------------------------------------------------------------------
# every recurrence against the fallback (nested forward mode through the JVP rules), order 6

X = np.array([[0.3, 0.45, 0.6], [0.2, 0.55, 0.35]])
V = np.array([[1.0, -0.5, 2.0], [0.3, 0.8, -1.2]])
W = np.array([[0.2, 0.1, -0.3], [-0.4, 0.5, 0.15]])
U = np.array([[0.05, -0.2, 0.1], [0.3, 0.0, -0.1]])
SERIES6 = [V, W, U, 0.5 * V, -W, 0.3 * U]  # every term nonzero: all of each rule is used

UNARY = {
    "exp": cnp.exp, "expm1": cnp.expm1, "exp2": cnp.exp2, "log": cnp.log, "log1p": cnp.log1p,
    "log2": cnp.log2, "log10": cnp.log10, "sqrt": cnp.sqrt, "cbrt": cnp.cbrt,
    "square": cnp.square, "reciprocal": cnp.reciprocal, "sin": cnp.sin, "cos": cnp.cos,
    "tan": cnp.tan, "sinh": cnp.sinh, "cosh": cnp.cosh, "tanh": cnp.tanh,
    "arcsin": cnp.arcsin, "arccos": cnp.arccos, "arctan": cnp.arctan,
    "arcsinh": cnp.arcsinh, "arccosh": cnp.arccosh, "arctanh": cnp.arctanh,
    "sigmoid": N.sigmoid, "erf": csp.erf, "erfc": csp.erfc, "abs": cnp.abs,
}
SHIFT = {"arccosh": 1.5, "abs": -0.4}  # (into the domain; abs on both sides of 0)

BINARY = {
    "add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
    "div": lambda x, y: x / y, "power": lambda x, y: x**y,
    "float_power": lambda x, y: cnp.float_power(x, y),
    "maximum": cnp.maximum, "minimum": cnp.minimum,
    "select": lambda x, y: cnp.where(x > 0.4, x, y),
    "matmul": lambda x, y: x @ y.T, "einsum": lambda x, y: cnp.einsum("ij,kj->ik", x, y),
}


def _compare_with_fallback(f, primals, series, monkeypatch, rtol=1e-9):
    got0, got = cr.jet(f, primals, series)
    with monkeypatch.context() as m:
        m.setattr(taylor, "RECURRENCES", {})
        want0, want = cr.jet(f, primals, series)
    np.testing.assert_allclose(got0, want0, rtol=1e-14)
    assert_series_close(got, want, rtol=rtol, atol=1e-9)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_recurrence_matches_nested_jvp_fallback(name, monkeypatch):
    assert name in taylor.RECURRENCES  # (the test is about a recurrence that exists)
    shift = SHIFT.get(name, 0.0)
    f = UNARY[name]
    _compare_with_fallback(lambda x: f(x + shift), (X,), (SERIES6,), monkeypatch)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_recurrence_matches_nested_jvp_fallback(name, monkeypatch):
    assert name in taylor.RECURRENCES
    y = X[::-1] + 0.1
    ys = [W, U, V, -U, 0.2 * V, W]
    _compare_with_fallback(BINARY[name], (X, y), (SERIES6, ys), monkeypatch)
    # and with one operand constant to the jet (a different branch of several rules)
    _compare_with_fallback(lambda x: BINARY[name](x, y), (X,), (SERIES6,), monkeypatch)
    _compare_with_fallback(lambda x: BINARY[name](y, x), (X,), (SERIES6,), monkeypatch)


@pytest.mark.parametrize("exponent", [0, 1, 2, 3, 7, -2, 0.5, -1.5, 2.5])
def test_constant_powers_match_fallback(exponent, monkeypatch):
    _compare_with_fallback(lambda x: x**exponent, (X,), (SERIES6,), monkeypatch)


@pytest.mark.parametrize("name, f", [
    ("sum", lambda x: cnp.sum(x, axis=0)),
    ("reshape", lambda x: cnp.reshape(x, (3, 2))),
    ("transpose", lambda x: x.T),
    ("getitem", lambda x: x[1, ::-2]),
    ("broadcast_to", lambda x: cnp.broadcast_to(x[0], (4, 3))),
    ("concatenate", lambda x: cnp.concatenate([x, x[:1] * 2.0], axis=0)),
    ("cumsum", lambda x: cnp.cumsum(x, axis=1)),
    ("prod", lambda x: cnp.prod(x, axis=1)),
    ("neg", lambda x: -x),
])
def test_structural_rules_match_fallback(name, f, monkeypatch):
    assert name in taylor.RECURRENCES
    _compare_with_fallback(lambda x: cnp.sin(f(x)), (X,), (SERIES6,), monkeypatch)


@pytest.mark.parametrize("f, want", [
    # x^2.5 at 0: 0, 0, 2.5 * 1.5 * 0^0.5 = 0 (the recurrence divided by the base: nan)
    (lambda x: x**2.5, [0.0, 0.0, 0.0]),
    (lambda x: x**70, [0.0, 0.0, 0.0]),  # (an integer exponent above the repeated squaring's)
    # an array of exponents: x^2 + x^3 has derivatives 0, 0, 2 at 0
    (lambda x: cnp.sum(x ** np.array([2.0, 3.0])), [0.0, 0.0, 2.0]),
])
def test_constant_powers_at_a_zero_base(f, want):
    np.testing.assert_allclose(cr.derivatives(f, 0.0, order=2), want, atol=1e-12)


def test_a_constant_buffer_overwritten_between_calls_is_not_taken_for_the_same():
    # the fallback shares results between calls with the same operands: a NumPy buffer that
    # the function overwrites between two calls is the same object holding another value
    def f(x):
        c = np.array(0.0)
        acc = 0.0
        for i in range(3):
            c[()] = i + 1.0
            acc = acc + cnp.arctan2(x, c)
        return acc

    got = cr.derivatives(f, 0.7, order=2)
    c = np.arange(1.0, 4.0)
    # arctan2(x, c): first derivative c / (x² + c²), second -2 x c / (x² + c²)²
    want = [np.sum(np.arctan2(0.7, c)), np.sum(c / (0.49 + c**2)),
            np.sum(-1.4 * c / (0.49 + c**2) ** 2)]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_prod_is_zero_safe():
    x = np.array([0.0, 2.0, -1.5, 3.0, 0.5])  # (odd length, an exact zero)
    got = cr.derivatives(lambda t: cnp.prod(x + t * np.arange(1.0, 6.0)), 0.0, order=6)
    # the product of five linear factors is a quintic: compare its derivatives exactly
    coef = np.poly1d([1.0])
    for a, b in zip(x, np.arange(1.0, 6.0)):
        coef = coef * np.poly1d([b, a])
    want = [coef.deriv(j)(0.0) if j else coef(0.0) for j in range(7)]
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_the_comparison_detects_a_wrong_recurrence(monkeypatch):
    """(the fallback comparison can fail: a rule 0.01% off in one coefficient is caught)"""
    right = taylor.RECURRENCES["sin"]

    def wrong(k, primals, series, prim, **params):
        y0, ys = right(k, primals, series, prim, **params)
        return y0, ys[:-1] + [ys[-1] * 1.0001]

    monkeypatch.setitem(taylor.RECURRENCES, "sin", wrong)
    with pytest.raises(AssertionError):
        _compare_with_fallback(cnp.sin, (X,), (SERIES6,), monkeypatch)


def test_fallback_agrees_with_curve_written_out(no_recurrences):
    """The fallback itself, against nested jvp in t of f(x0 + x1 t + x2 t²/2 + x3 t³/6)."""
    def f(x):
        return cnp.sum(cnp.exp(cnp.sin(x)) * x)
    terms = [V, W, U]
    got0, got = cr.jet(f, (X,), (terms,))
    want = curve_derivatives(f, X, terms)
    assert_series_close([got0] + got, want)


# ---------------------------------------------------------------------------------------------
# primitives without a recurrence: the fallback, against nested reverse mode

A = np.array([[2.0, 0.3], [0.1, 1.5]])


@pytest.mark.parametrize("f", [
    lambda x: csp.gamma(x + 2.0),
    lambda x: csp.gammaln(x + 2.0) * csp.digamma(x + 1.0),
    lambda x: csp.erfinv(0.5 * x),
    lambda x: cnp.logaddexp(x, 2 * x) + cnp.hypot(x, x + 1) + cnp.arctan2(x, x + 1),
    lambda x: cnp.linalg.inv(A + x)[0, 1] + cnp.linalg.det(A * x),
    lambda x: cnp.linalg.solve(A + x, cnp.stack([x, 1.0]))[0],
    lambda x: cnp.linalg.cholesky(A @ A.T + x)[1, 1],
    lambda x: cnp.max(cnp.stack([x, x**2, cnp.sin(x)])) + cnp.cumprod(cnp.stack([x, x + 1]))[1],
    lambda x: csp.j0(x) + cnp.abs(cnp.fft.fft(cnp.stack([x, x**2, 1.0]))[1]),
    # primitives with several results
    lambda x: cnp.linalg.eigh(A @ A.T + x * np.array([[0.0, 1.0], [1.0, 0.0]]))[0][0],
    lambda x: cnp.linalg.slogdet(A * x)[1] + cnp.sort(cnp.stack([cnp.sin(x), x, x**2]))[1],
])
def test_primitives_without_recurrence_against_nested_grad(f):
    np.testing.assert_allclose(cr.derivatives(f, 0.4, order=4), nested_grads(f, 0.4, 4),
                               rtol=1e-9, atol=1e-10)


def test_fallback_cost_stays_polynomial_for_self_calling_rules():
    # gamma's rule calls gamma and digamma, digamma's polygamma(1), ...: the shared results
    # keep order 10 cheap (without them, thousands of rule evaluations)
    calls = []
    original = taylor.JetTrace._by_jvp

    def counting(self, prim, *args):
        calls.append(prim.name)
        return original(self, prim, *args)

    try:
        taylor.JetTrace._by_jvp = counting
        cr.derivatives(lambda x: csp.gamma(x + 2.0), 0.4, order=10)
    finally:
        taylor.JetTrace._by_jvp = original
    assert len(calls) < 200


# ---------------------------------------------------------------------------------------------
# arrays, several arguments, pytrees

def test_multidimensional_arrays_and_two_arguments():
    y = np.array([0.5, -0.25, 1.0])
    vy = np.array([0.1, 0.2, -0.3])

    def f(x, y):
        return {"a": cnp.tanh(x * y), "b": cnp.sum(cnp.exp(x) / (1 + y**2), axis=1)}

    out0, out = cr.jet(f, (X, y), ([V, W, U], [vy, 0 * vy, -vy]))
    assert set(out) == {"a", "b"} and len(out["a"]) == 3
    for key in ("a", "b"):
        want = curve_derivatives(lambda xy, key=key: f(xy[:2], xy[2])[key], np.vstack([X, y]),
                                 [np.vstack([V, vy]), np.vstack([W, 0 * vy]),
                                  np.vstack([U, -vy])])
        assert_series_close([out0[key]] + out[key], want)


def test_matmul_sum_and_indexing():
    rng = np.random.default_rng(0)
    M = rng.normal(size=(4, 3))

    def f(x):
        h = cnp.tanh(M @ x)
        return cnp.sum(h[1:] ** 2) + x[0] * x[2] - cnp.dot(x, x[::-1])

    x = np.array([0.3, -0.2, 0.5])
    v = np.array([1.0, 0.5, -0.7])
    _, got = cr.jet(f, (x,), ([v] + [np.zeros(3)] * 4,))
    want = nested_jvps(f, x, v, 5)
    assert_series_close(got, want[1:])


def test_vector_valued_function_of_a_scalar():
    d = cr.derivatives(lambda x: cnp.stack([cnp.sin(x), x**2]), 0.5, order=3)
    assert d.shape == (4, 2)
    np.testing.assert_allclose(d[:, 0], [math.sin(0.5), math.cos(0.5), -math.sin(0.5),
                                         -math.cos(0.5)])
    np.testing.assert_allclose(d[:, 1], [0.25, 1.0, 2.0, 0.0])


def test_outputs_that_do_not_depend_on_the_input():
    y0, ys = cr.jet(lambda x: (x * 0 + 1.0, 2.0, cnp.floor(x)), (np.array([1.5, 2.5]),),
                    ([np.ones(2), np.ones(2)],))
    assert y0[1] == 2.0
    for terms in ys:
        assert len(terms) == 2
        for t in terms:
            assert not np.any(t)


def test_piecewise_conventions_follow_the_jvp_rules():
    # abs'(0) = 0 and every higher coefficient too; maximum splits a tie evenly
    assert list(cr.derivatives(cnp.abs, 0.0, order=3)) == [0, 0, 0, 0]
    _, ys = cr.jet(cnp.maximum, (1.0, 1.0), ([2.0, 4.0], [0.0, 0.0]))
    np.testing.assert_allclose(ys, [1.0, 2.0])
    # where: the branch not taken (here with an infinite series) contributes exact zeros
    d = cr.derivatives(lambda x: cnp.where(x > 0, cnp.sqrt(x), x), 0.0, order=3)
    np.testing.assert_array_equal(d, [0, 1, 0, 0])


def test_complex_values_match_fallback(monkeypatch):
    z = np.array([0.3 + 0.2j, -0.1 + 0.5j])
    v = np.array([1.0 + 0.5j, 0.2 - 0.1j])
    _compare_with_fallback(lambda z: cnp.exp(cnp.sin(z)) * z**2 / (1 + z) + cnp.sqrt(z),
                           (z,), ([v, 0.5 * v, 0.1j * v, v],), monkeypatch)


def test_gradient_with_respect_to_the_direction():
    # y2 = -sin(x0) v² for sin along v: d/dv = -2 sin(x0) v
    g = cr.grad(lambda v: cr.jet(cnp.sin, (0.5,), ([v, 0.0],))[1][1])(1.5)
    assert g == pytest.approx(-2 * math.sin(0.5) * 1.5)


def test_float32_stays_float32():
    y0, ys = cr.jet(cnp.sin, (np.float32(0.5),), ([np.float32(1.0), np.float32(0.0)],))
    assert np.asarray(y0).dtype == np.float32
    assert all(np.asarray(t).dtype == np.float32 for t in ys)


# ---------------------------------------------------------------------------------------------
# nesting with the other transforms


def f_comp(x):
    return cnp.exp(cnp.sin(x)) * cnp.tanh(x) / (1 + x**2)


def test_grad_of_jet_and_jet_of_grad():
    d = cr.derivatives(f_comp, 0.7, order=5)
    assert cr.grad(lambda x: cr.derivatives(f_comp, x, 3)[3])(0.7) == pytest.approx(d[4])
    np.testing.assert_allclose(cr.derivatives(cr.grad(f_comp), 0.7, 4), d[1:], rtol=1e-12)
    np.testing.assert_allclose(cr.derivatives(cr.hessian(f_comp), 0.7, 2), d[2:5], rtol=1e-12)


def test_no_perturbation_confusion():
    # d/dx of x * (d²/dy² of x y² at y = 1) = d/dx 2x² = 4x
    d = cr.derivatives(lambda x: x * cr.derivatives(lambda y: x * y**2, 1.0, 2)[2], 3.0, 2)
    np.testing.assert_allclose(d, [18.0, 12.0, 4.0])


def test_under_jit():
    jitted = cr.jit(lambda x: cr.derivatives(f_comp, x, 4))
    np.testing.assert_allclose(jitted(0.7), cr.derivatives(f_comp, 0.7, 4), rtol=1e-13)
    np.testing.assert_allclose(cr.derivatives(cr.jit(f_comp), 0.7, 4),
                               cr.derivatives(f_comp, 0.7, 4), rtol=1e-13)


def test_structured_control_flow():
    def branchy(x):
        return cr.cond(x > 0, cnp.sin, lambda x: x**2, x)

    np.testing.assert_allclose(cr.derivatives(branchy, 0.5, 3),
                               [math.sin(0.5), math.cos(0.5), -math.sin(0.5), -math.cos(0.5)])
    np.testing.assert_allclose(cr.derivatives(branchy, -0.5, 3), [0.25, -1.0, 2.0, 0.0])

    def cubed(x):  # x³ by a loop
        return cr.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * x), (0, 1.0))[1]

    np.testing.assert_allclose(cr.derivatives(cubed, 2.0, 4), [8, 12, 12, 6, 0])
    np.testing.assert_allclose(cr.jit(lambda x: cr.derivatives(cubed, x, 4))(2.0),
                               [8, 12, 12, 6, 0])

    def horner(x):  # x² + x + 2 by a scan
        return cr.scan(lambda c, a: (c * x + a, c), 1.0, np.array([1.0, 2.0]))[0]

    np.testing.assert_allclose(cr.derivatives(horner, 2.0, 3), [8, 5, 2, 0])


def test_custom_jvp_and_checkpoint():
    @cr.custom_jvp
    def softplus(x):
        return cnp.log1p(cnp.exp(x))

    @softplus.defjvp
    def _(primals, tangents):
        return softplus(primals[0]), tangents[0] * N.sigmoid(primals[0])

    plain = cr.derivatives(lambda x: cnp.log1p(cnp.exp(x)), 0.3, 5)
    np.testing.assert_allclose(cr.derivatives(softplus, 0.3, 5), plain, rtol=1e-12)
    g = cr.checkpoint(lambda x: cnp.sin(x) * x)
    np.testing.assert_allclose(cr.derivatives(g, 0.3, 4),
                               cr.derivatives(lambda x: cnp.sin(x) * x, 0.3, 4), rtol=1e-12)


def test_shared_fallback_results_never_mix_up_two_functions():
    # three custom functions applied to the same input, made one after the other (each may
    # reuse the memory of the one before): the fallback's shared results must tell them apart
    def make(c):
        @cr.custom_jvp
        def g(y):
            return cnp.sin(y) * c

        g.defjvp(lambda p, t: (g(p[0]), t[0] * cnp.cos(p[0]) * c))
        return g

    def f(x):
        return sum(make(c)(x) for c in (1.0, 2.0, 3.0))

    np.testing.assert_allclose(cr.derivatives(f, 0.3, 4), 6 * cr.derivatives(cnp.sin, 0.3, 4))


def test_custom_jvp_closing_over_the_jet_is_refused():
    def f(x):
        @cr.custom_jvp
        def g(y):
            return y * x

        g.defjvp(lambda p, t: (g(p[0]), t[0] * x))
        return g(x)  # (x² whose rule would say x: the rule cannot see the closure)

    for order in (1, 3):
        with pytest.raises(TypeError, match="closes over"):
            cr.derivatives(f, 0.5, order)


# ---------------------------------------------------------------------------------------------
# errors


@pytest.mark.parametrize("primals, series, exc, match", [
    (0.5, ([1.0],), TypeError, "primals must be a tuple"),
    ((0.5,), [1.0], TypeError, "series 0 must be a list"),
    ((0.5,), 1.0, TypeError, "series must be a tuple"),
    ((0.5, 1.0), ([1.0],), ValueError, "2 primals but 1 series"),
    ((0.5, 1.0), ([1.0], [1.0, 0.0]), ValueError, r"same number of series terms, got \[1, 2\]"),
    ((np.zeros(3),), ([np.zeros(2)],), ValueError, r"term 1 of series 0 has shape \(2,\)"),
    ((3,), ([1],), TypeError, "dtype int"),
    (({"a": 1.0},), ([1.0],), TypeError, "primal 0 is a dict"),
])
def test_bad_arguments(primals, series, exc, match):
    with pytest.raises(exc, match=match):
        cr.jet(cnp.sin, primals, series)


@pytest.mark.parametrize("x, order, exc, match", [
    (0.5, -1, ValueError, "order must be >= 0"),
    (0.5, 2.0, TypeError, "order must be an int"),
    (0.5, True, TypeError, "order must be an int"),
    (np.ones(2), 2, ValueError, "x must be a scalar"),
    (1, 2, TypeError, "dtype int"),
])
def test_derivatives_bad_arguments(x, order, exc, match):
    with pytest.raises(exc, match=match):
        cr.derivatives(cnp.sin, x, order)


def test_derivatives_of_a_pytree_function_is_refused():
    with pytest.raises(TypeError, match="use cr.jet"):
        cr.derivatives(lambda x: (x, x), 0.5, 2)


def test_order_zero_and_empty_series():
    assert list(cr.derivatives(cnp.sin, 0.5, 0)) == [pytest.approx(math.sin(0.5))]
    y0, ys = cr.jet(cnp.sin, (0.5,), ([],))
    assert ys == [] and y0 == pytest.approx(math.sin(0.5))


def test_a_primitive_without_a_jvp_rule_is_named():
    from chainrule._core.primitive import Primitive

    p = Primitive("taylor_test_op", np.sin)
    with pytest.raises(NotImplementedError, match="taylor_test_op"):
        cr.derivatives(lambda x: p.bind(x), 0.5, 2)


def test_matches_jax_jet_when_installed():
    jet_module = pytest.importorskip("jax.experimental.jet")
    jnp = pytest.importorskip("jax.numpy")
    x0, terms = 0.3, [0.7, -0.4, 0.25]
    want0, want = jet_module.jet(lambda x: jnp.exp(jnp.sin(x)) * x, (x0,), (terms,))
    got0, got = cr.jet(lambda x: cnp.exp(cnp.sin(x)) * x, (x0,), (terms,))
    np.testing.assert_allclose(got0, float(want0), rtol=1e-5)
    np.testing.assert_allclose(got, [float(w) for w in want], rtol=1e-4, atol=1e-5)
