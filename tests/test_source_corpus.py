"""A corpus of Python programs differentiated by source transformation (`method="source"`,
`cr.source`) and checked against the tape and dual numbers (`method="overload"`).

Every program is a real `def` in this file (the transformer reads source with `inspect`),
written the way numeric code is written: branches on data values, nested loops, `while` loops
with data-dependent trip counts (Newton, bisection, series to a tolerance), variables
overwritten in loops, helpers calling helpers, comprehensions, subscript assignment into arrays,
dict / tuple / list parameters and results, early `return`, `break`, `continue`, and NumPy code
(RNNs, losses, layers, physics, linear algebra, reductions, indexing, `where`).

For each program:
- reverse mode: `cr.grad` / `cr.value_and_grad` with respect to every argument (scalar output)
  or `cr.vjp` with a random cotangent (any other output), source against overload;
- forward mode: `cr.jvp` with random tangents, source against overload;
- one scalar input: the second derivative three ways, `cr.grad(cr.grad(f))` (overload),
  `cr.source.grad(cr.source.grad(f))` and `cr.hessian(f, method="source")`;
- programs marked `jac=True`: `cr.jacrev`, `cr.jacfwd`, `cr.hessian` and `cr.hvp` with
  `method="source"` against overload.

The overload method cannot assign a traced value into a plain NumPy array (`v[i] = x`); for
those programs the reference is a twin written with `cnp.at(v)[i].set(x)` (`ref=`). The `math`
module's functions do not accept traced values at all; those programs are checked against
central finite differences with the tolerance given in `fd_tol` (differences of step 1e-5 on
smooth functions of size ~1: truncation ~1e-10, rounding ~1e-11).

Where the source method gives a different answer or fails today, the program stays in the
corpus and the affected checks are marked xfail(strict=True) with the reason (and the
exceptions it raises), so that fixing a bug turns its xfail into a failure asking for the mark
to be removed. A last test checks that a module global is read when the derivative runs."""
from __future__ import annotations

import dataclasses
import inspect
import math
import sys
import zlib
from collections import namedtuple
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp

RTOL = 1e-10
ATOL = 1e-12

_rng = np.random.default_rng(20240611)


def _normal(*shape: int, scale: float = 1.0) -> np.ndarray:
    return _rng.standard_normal(shape) * scale


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    ref: Callable[..., Any] | None = None  # the overload reference, when it is not `fn` itself
    fd_tol: float | None = None  # no overload reference: central differences at this tolerance
    jac: bool = False  # also jacrev / jacfwd / hessian / hvp with method="source"
    xfail: dict[str, str] = dataclasses.field(default_factory=dict)  # kind -> why
    raises: tuple[type[BaseException], ...] = (AssertionError,)  # what those xfails raise


CORPUS: list[Case] = []
KINDS = ("rev", "fwd", "second", "jacrev", "jacfwd", "hessian")


def case(name: str, fn: Callable[..., Any], args: tuple[Any, ...], **kw: Any) -> None:
    CORPUS.append(Case(name, fn, args, **kw))


def bug(reason: str, kinds: tuple[str, ...] = KINDS, raises: Any = AssertionError
        ) -> dict[str, Any]:
    """xfail marks for the given kinds of check (those that apply to the program)."""
    return {"xfail": {k: reason for k in kinds},
            "raises": raises if isinstance(raises, tuple) else (raises,)}


COEFFS = (0.5, -1.25, 2.0, 0.75, -0.3)

# =============================================================================================
# A. one scalar in, one scalar out: also checked at second order


def horner(x):
    p = 0.0
    for c in COEFFS:
        p = p * x + c
    return p


case("horner_over_constant_tuple", horner, (0.7,))


def horner_reversed(x):
    p = 0.0
    for c in reversed(COEFFS):
        p = p * x + c
    return p


case("horner_reversed", horner_reversed, (0.7,))


def piecewise_cubic(x):
    if x < -1.0:
        y = -x - 2.0 / 3.0
    elif x < 1.0:
        y = x * x / 2.0 - x ** 4 / 12.0 + 0.25
    else:
        y = x - 0.5 + 0.1 * (x - 1.0) ** 3
    return 2.0 * y


case("piecewise_if_elif_else_middle", piecewise_cubic, (0.4,))
case("piecewise_if_elif_else_right", piecewise_cubic, (1.7,))
case("piecewise_if_elif_else_left", piecewise_cubic, (-2.5,))


def smooth_abs(x):
    if x >= 0.0:
        return x * x / (1.0 + x)
    y = -x
    return y * y / (1.0 + y)


case("smooth_abs_early_return", smooth_abs, (-0.8,))


def newton_sqrt(a):
    y = a
    while abs(y * y - a) > 1e-13 * a:
        y = 0.5 * (y + a / y)
    return y


case("newton_sqrt_while_tolerance", newton_sqrt, (2.7,))


def newton_cbrt(a):
    y = 1.0
    for _ in range(60):
        step = (y * y * y - a) / (3.0 * y * y)
        y = y - step
        if abs(step) < 1e-15:
            break
    return y


case("newton_cbrt_break_on_tolerance", newton_cbrt, (5.0,))


def bisection_root(a):
    # the root of t**3 + t = a on [0, a]: the bracket moves with a
    lo = 0.0
    hi = a
    while hi - lo > 1e-9:
        mid = 0.5 * (lo + hi)
        if mid ** 3 + mid - a > 0.0:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


case("bisection_bracket_depends_on_input", bisection_root, (2.0,))


def exp_series(x):
    term = 1.0
    total = 1.0
    k = 1
    while abs(term) > 1e-17 * abs(total):
        term = term * x / k
        total += term
        k += 1
    return total


case("exp_series_until_tolerance", exp_series, (1.3,))


def sin_series(x):
    term = x
    total = x
    k = 1
    while abs(term) > 1e-18:
        term = -term * x * x / ((2 * k) * (2 * k + 1))
        total = total + term
        k = k + 1
    return total


case("sin_series_alternating", sin_series, (0.9,))


def log1p_series(x):
    total = 0.0
    power = x
    n = 1
    while True:
        contribution = power / n
        if n % 2 == 0:
            contribution = -contribution
        total = total + contribution
        if abs(contribution) < 1e-16:
            break
        power = power * x
        n += 1
    return total


case("log1p_series_while_true_break", log1p_series, (0.3,))


def cumulative_product(x):
    p = 1.0
    for k in range(1, 6):
        p *= 1.0 + x / k
    return p


case("cumulative_product_augassign", cumulative_product, (0.45,))


def iterated_sine(x):
    for k in range(5):
        x = cnp.sin(x) * 1.1 + 0.05 * k
    return x


case("iterated_sine_overwrites_param", iterated_sine, (0.8,))


def logistic_map(r):
    x = 0.3
    for _ in range(12):
        x = r * x * (1.0 - x)
    return x


case("logistic_map_parameter", logistic_map, (2.9,))


def odd_powers(x):
    total = 0.0
    for k in range(9):
        if k % 2 == 0:
            continue
        total = total + x ** k / k
    return total


case("odd_powers_continue", odd_powers, (0.6,))


def exp_until_two(x):
    total = 0.0
    term = 1.0
    for k in range(1, 40):
        total += term
        if total > 2.0:
            break
        term = term * x / k
    return total * x


case("partial_sum_break_when_large", exp_until_two, (0.9,))


def grow_until(x):
    for k in range(10):
        x = x * 1.3 + 0.1
        if x > 3.0:
            return x - k
    return -x


case("early_return_inside_loop_taken", grow_until, (0.7,))
case("early_return_inside_loop_not_taken", grow_until, (0.01,))


def triangle_loops(x):
    total = 0.0
    for i in range(4):
        for j in range(i + 1):
            total = total + cnp.cos(x * i + j) / (1.0 + j)
    return total


case("nested_triangular_loops", triangle_loops, (0.35,))


def while_continue(x):
    k = 0
    total = 0.0
    while k < 8:
        k += 1
        if k == 3:
            continue
        total = total + x / k + x * x
    return total


case("while_with_continue", while_continue, (0.25,))


def _sq(v):
    return v * v


def _quartic_plus(v):
    return _sq(_sq(v)) + _sq(v)


def helper_chain(x):
    return _quartic_plus(x) - 3.0 * _sq(cnp.sin(x))


case("helpers_calling_helpers", helper_chain, (0.6,))


def conditional_expressions(x):
    y = x * x if x > 0 else -x
    z = y if y < 1.0 else 1.0 + cnp.log(y)
    return z * x


case("conditional_expressions_taken", conditional_expressions, (1.3,))
case("conditional_expressions_other", conditional_expressions, (-0.4,))


def chained_compare(x):
    if 0.0 < x < 1.0 and x != 0.5:
        return cnp.sqrt(x) * (1.0 - x)
    elif x >= 1.0 or x < -3.0:
        return cnp.log(abs(x) + 1.0)
    return x ** 3


case("chained_comparison_and_or", chained_compare, (0.3,))
case("chained_comparison_and_or_elif", chained_compare, (2.0,))


def fib_recurrence(x):
    a, b = 1.0, x
    for _ in range(6):
        a, b = b, a + b * x
    return b


case("tuple_swap_recurrence", fib_recurrence, (0.8,))


def listcomp_poly(x):
    terms = [c * x ** k for k, c in enumerate(COEFFS)]
    return sum(terms)


case("list_comprehension_enumerate_sum", listcomp_poly, (1.1,))


def append_features(x):
    vals = []
    for k in range(1, 5):
        vals.append(cnp.sin(k * x) / k)
    return vals[0] * vals[-1] + sum(vals) + len(vals)


case("append_then_index_and_sum", append_features, (0.9,))


def _to_polar(a, b):
    r = cnp.sqrt(a * a + b * b)
    return r, cnp.arctan2(b, a)


def tuple_helper(x):
    r, theta = _to_polar(x, 2.0 * x + 1.0)
    return r * cnp.cos(theta) + theta


case("helper_returning_tuple", tuple_helper, (0.6,))


def _moments(v):
    return {"mean": v / 2.0, "second": v * v / 3.0}


def dict_helper(x):
    d = _moments(x)
    return d["second"] - d["mean"] ** 2


case("helper_returning_dict", dict_helper, (1.4,))


def stop_gradient_mix(x):
    y = cr.stop_gradient(x * x)
    return y * x + cnp.sin(x)


case("stop_gradient", stop_gradient_mix, (0.7,))


@cr.custom_vjp
def softclip(x):
    return cnp.tanh(x) * 2.0


def _softclip_fwd(x):
    return softclip(x), x


def _softclip_bwd(x, g):
    return (cnp.clip(g * 2.0 / cnp.cosh(x) ** 2, -1.5, 1.5),)  # a clipped gradient


softclip.defvjp(_softclip_fwd, _softclip_bwd)


def custom_vjp_call(x):
    return softclip(x * x) + x


case("custom_vjp_function", custom_vjp_call, (0.6,))


def fori_lambda(x):
    return cr.fori_loop(0, 4, lambda i, c: c * x + 0.1 * i, 1.0)


case("fori_loop_with_lambda", fori_lambda, (0.6,))


def builtins_mix(x):
    return abs(x - 1.0) * max(x, 0.5) + min(x * x, 2.0)


case("abs_max_min_builtins", builtins_mix, (0.7,))


def pow_forms(x):
    return x ** 0.5 + 2.0 ** x + x ** x - x ** -1.5


case("pow_forms", pow_forms, (1.3,))


def _rec_pow(x, n):
    if n == 0:
        return 1.0
    return x * _rec_pow(x, n - 1)


def recursive_helper(x):
    return _rec_pow(x, 3) + x


case("recursive_helper", recursive_helper, (0.7,))


def _scaled_square(v, s=3.0):
    return s * v * v


def default_argument(x):
    return _scaled_square(x) + _scaled_square(x, 0.5)


case("helper_with_default_argument", default_argument, (0.7,))


def _make_scaler(c):
    def scale(v):
        return c * v * v
    return scale


scale_by_two = _make_scaler(2.0)
scale_by_three = _make_scaler(3.0)


def factory_closures(x):
    return scale_by_two(x) + scale_by_three(x)


case("closures_from_one_factory", factory_closures, (0.7,))


def comprehension_shadow(x):
    y = x * 2.0
    vals = [cnp.sin(y) for y in [x, x * x]]
    return y + vals[0] + vals[1]


case("comprehension_variable_shadows_local", comprehension_shadow, (0.7,))


def local_named_acc(x):
    acc = 0.0
    for k in range(4):
        acc = acc + x ** k
    total = acc
    return total * 2.0


case("local_variable_named_acc", local_named_acc, (0.7,))


def projectile_range(v0):
    # Euler steps with quadratic drag until the projectile falls below the ground
    dt = 0.01
    x, y = 0.0, 0.0
    vx = v0 * 0.8
    vy = v0 * 0.6
    while y >= 0.0:
        speed = cnp.sqrt(vx * vx + vy * vy)
        vx = vx - dt * 0.1 * speed * vx
        vy = vy - dt * (9.81 + 0.1 * speed * vy)
        x = x + dt * vx
        y = y + dt * vy
    return x


case("projectile_until_landing", projectile_range, (3.0,))


def damped_oscillator(c):
    x, v = 1.0, 0.0
    dt = 0.05
    for _ in range(30):
        v = v + 0.5 * dt * (-4.0 * x - c * v)
        x = x + dt * v
        v = v + 0.5 * dt * (-4.0 * x - c * v)
    return x * x + 0.25 * v * v


case("damped_oscillator_leapfrog", damped_oscillator, (0.3,))


def lgamma_stirling(x):
    shift = 0.0
    while x < 7.0:
        shift = shift - cnp.log(x)
        x = x + 1.0
    inv = 1.0 / x
    series = inv / 12.0 - inv ** 3 / 360.0 + inv ** 5 / 1260.0
    return shift + (x - 0.5) * cnp.log(x) - x + 0.5 * cnp.log(2.0 * np.pi) + series


case("lgamma_shift_while_then_stirling", lgamma_stirling, (2.3,))


def softplus_stable(x):
    if x > 30.0:
        return x
    if x < -30.0:
        return cnp.exp(x)
    return cnp.log1p(cnp.exp(-abs(x))) + max(x, 0.0)


case("softplus_branches", softplus_stable, (0.8,))
case("softplus_branches_large", softplus_stable, (35.0,))


def kepler_eccentric_anomaly(mean_anomaly):
    e = 0.3
    big_e = mean_anomaly
    for _ in range(50):
        f = big_e - e * cnp.sin(big_e) - mean_anomaly
        step = f / (1.0 - e * cnp.cos(big_e))
        big_e = big_e - step
        if abs(step) < 1e-15:
            break
    return big_e


case("kepler_newton", kepler_eccentric_anomaly, (1.2,))


def _arctan_series(t):
    total = 0.0
    power = t
    k = 0
    while abs(power) > 1e-18:
        total += power / (2 * k + 1) * (-1.0) ** k
        power = power * t * t
        k += 1
    return total


def arctan_reduced(x):
    if x > 1.0:
        return np.pi / 2.0 - _arctan_series(1.0 / x)
    return _arctan_series(x)


case("arctan_reduction_helper_series", arctan_reduced, (2.5,))
case("arctan_reduction_helper_series_small", arctan_reduced, (0.4,))


def trapezoid_integral(a):
    n = 16
    h = 1.0 / n
    total = 0.5 * (1.0 + cnp.exp(-a))
    for i in range(1, n):
        t = i * h
        total = total + cnp.exp(-a * t * t)
    return total * h


case("trapezoid_rule_parameter", trapezoid_integral, (0.8,))


def _integrand(t, a):
    return cnp.sin(a * t) / (1.0 + t * t)


def simpson(a):
    n = 10
    h = 2.0 / n
    total = _integrand(0.0, a) + _integrand(2.0, a)
    for i in range(1, n):
        weight = 4.0 if i % 2 == 1 else 2.0
        total = total + weight * _integrand(i * h, a)
    return total * h / 3.0


case("simpson_rule_helper_in_loop", simpson, (1.7,))


def rk4_decay(k):
    y = 1.0
    t = 0.0
    h = 0.1
    for _ in range(10):
        k1 = -k * y + cnp.sin(t)
        k2 = -k * (y + 0.5 * h * k1) + cnp.sin(t + 0.5 * h)
        k3 = -k * (y + 0.5 * h * k2) + cnp.sin(t + 0.5 * h)
        k4 = -k * (y + h * k3) + cnp.sin(t + h)
        y = y + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        t = t + h
    return y


case("rk4_ode_steps", rk4_decay, (0.7,))


def fixed_point_cos(x):
    y = 0.5
    delta = 1.0
    while delta > 1e-14:
        y_new = cnp.cos(x * y)
        delta = abs(y_new - y)
        y = y_new
    return y


case("fixed_point_iteration", fixed_point_cos, (0.9,))


def tan_continued_fraction(x):
    frac = 0.0
    for k in range(12, 0, -1):
        frac = x * x / ((2 * k + 1) - frac)
    return x / (1.0 - frac)


case("continued_fraction_backwards_range", tan_continued_fraction, (0.6,))


def trip_count_from_value(x):
    n = int(x * 4.0)
    total = 0.0
    for k in range(n):
        total = total + cnp.sqrt(x + k)
    return total


case("trip_count_from_int_of_value", trip_count_from_value, (1.8,))


def _activation(v, kind):
    if kind == "tanh":
        return cnp.tanh(v)
    elif kind == "softsign":
        return v / (1.0 + abs(v))
    return cnp.maximum(v, 0.0)


def string_mode_helper(x):
    return _activation(x, "tanh") * _activation(2.0 * x, "softsign") + _activation(x, "relu")


case("helper_with_string_mode", string_mode_helper, (0.45,))


def _scaled(v, scale):
    return scale * cnp.sin(v)


def keyword_helper_call(x):
    return _scaled(x, scale=2.5) + _scaled(x * x, 0.5)


case("helper_called_with_keyword", keyword_helper_call, (0.45,))


def math_module(x):
    return math.exp(-x) * math.sin(3.0 * x) + math.log(1.0 + x * x)


case("math_module_functions", math_module, (0.8,), fd_tol=1e-8)


def map_lambda(x):
    return sum(map(lambda c: c * x * x, COEFFS))


case("sum_of_map_with_lambda", map_lambda, (0.8,))


def _cubic(t):
    return t ** 3 + 2.0 * t


def _dcubic(t):
    return 3.0 * t * t + 2.0


def inverse_by_newton(y):
    t = 1.0
    while abs(_cubic(t) - y) > 1e-13:
        t = t - (_cubic(t) - y) / _dcubic(t)
    return t


case("inverse_function_newton_helpers", inverse_by_newton, (4.0,))


def while_containing_for(x):
    total = 0.0
    level = 1
    while total < 3.0:
        for j in range(level):
            total = total + x / (j + 1)
        level += 1
    return total * x


case("while_containing_for", while_containing_for, (0.6,))


def for_containing_while(x):
    total = 0.0
    for i in range(3):
        y = x + i
        while y > 0.5:
            y = y * 0.6
        total = total + y * y
    return total


case("for_containing_while", for_containing_while, (1.3,))


def return_from_nested_loops(x):
    total = 0.0
    for i in range(5):
        for j in range(5):
            total = total + x * (i + 1) / (j + 1)
            if total > 4.0:
                return total * x
    return -total


case("return_from_nested_loops", return_from_nested_loops, (0.4,))


def break_inner_only(x):
    total = 0.0
    for i in range(4):
        for j in range(10):
            if j > i:
                break
            total = total + cnp.sin(x * (j + 1))
        total = total * 0.9
    return total


case("break_inner_loop_only", break_inner_only, (0.3,))


def if_inside_while(x):
    y = x
    n = 0
    while n < 7:
        if y > 1.0:
            y = cnp.sqrt(y)
        elif y > 0.2:
            y = y * y + 0.3
        else:
            y = y + 0.5
        n += 1
    return y


case("if_elif_inside_while", if_inside_while, (0.9,))


def reassign_param(x):
    x = x + 1.0
    x = x * x
    x = cnp.sqrt(x) + cnp.log(x)
    return x


case("param_reassigned_three_times", reassign_param, (0.6,))


def branch_defines_variable(x):
    if x > 0.0:
        y = cnp.exp(-x)
        z = y * x
    else:
        z = x ** 2
        y = z + 1.0
    return y * z


case("variables_defined_in_branches", branch_defines_variable, (0.7,))
case("variables_defined_in_branches_else", branch_defines_variable, (-0.7,))


def multiple_targets(x):
    a = b = x * 2.0
    a = a + 1.0
    return a * b


case("multiple_assignment_targets", multiple_targets, (0.7,))


def nested_unpack(x):
    (a, b), c = (x, 2.0 * x), x * x
    a, b = b - a, a * c
    return a * b + c


case("nested_tuple_unpacking", nested_unpack, (0.7,))


def loop_var_after_loop(x):
    total = 0.0
    for k in range(4):  # noqa: B007 - k is read after the loop
        total = total + x
    return total * k + x * k


case("loop_variable_used_after_loop", loop_var_after_loop, (0.7,))


def geometric_until(x):
    term = 1.0
    total = 0.0
    while term > 1e-12:
        total = total + term
        term = term * x
    return total


case("geometric_series_until_tolerance", geometric_until, (0.55,))


def raise_guard(x):
    if x < 0.0:
        raise ValueError("negative input")
    assert x < 100.0, "too large"
    return cnp.sqrt(x) * cnp.log(x + 1.0)


case("raise_and_assert_guards", raise_guard, (0.7,))


def _first_crossing(v, limit):
    for k in range(20):
        v = v * 1.2
        if v > limit:
            return v - limit + k
    return v


def helper_early_return_in_loop(x):
    total = 0.0
    for limit in (1.0, 2.0, 3.0):
        total = total + _first_crossing(x, limit)
    return total


case("helper_with_early_return_called_in_loop", helper_early_return_in_loop, (0.7,))


def numpy_on_scalars(x):
    return np.sin(x) * np.exp(-x) + np.tanh(x) ** 2


case("plain_numpy_functions_on_scalars", numpy_on_scalars, (0.8,))


def clamp_chain(x):
    y = x
    if y > 1.0:
        y = 1.0 + cnp.log(y)
    if y < 0.0:
        y = 0.0 * y
    y = y * y
    if y > 0.5:
        y = y - 0.25
    return y


case("sequential_ifs_without_else", clamp_chain, (1.6,))


def sum_of_squares_digits(x):
    # integer work on the side (not differentiated) steering float work
    n = int(x * 1000)
    total = 0.0
    while n > 0:
        d = n % 10
        n = n // 10
        total = total + d * x
    return total


case("integer_side_computation_steers_loop", sum_of_squares_digits, (0.738,))


def _apply(g, v):
    return g(v) + g(2.0 * v)


def function_as_argument(x):
    return _apply(cnp.sin, x) + _apply(cnp.exp, -x)


case("function_passed_as_argument", function_as_argument, (0.5,))

# =============================================================================================
# B. several scalars, tuples, lists and dicts in and out


def rosenbrock(a, b):
    return (1.0 - a) ** 2 + 100.0 * (b - a * a) ** 2


case("rosenbrock", rosenbrock, (0.3, 0.8), jac=True)


def himmelblau_branch(x, y):
    f = (x * x + y - 11.0) ** 2 + (x + y * y - 7.0) ** 2
    if f > 50.0:
        return cnp.log(f)
    return f / 50.0 + cnp.log(50.0) - 1.0


case("himmelblau_with_log_branch", himmelblau_branch, (0.5, -0.4), jac=True)


def median_of_three(a, b, c):
    s = sorted([a, b, c])
    return s[1] * 2.0 + a


case("median_of_three_sorted", median_of_three, (1.0, 3.0, 2.0))


def clamp_lerp(a, b, t):
    t = min(max(t, 0.0), 1.0)
    return a + t * (b - a)


case("clamp_then_lerp", clamp_lerp, (1.0, 3.0, 0.3))


def quadratic_root(a, b, c):
    disc = b * b - 4.0 * a * c
    if disc < 0.0:
        return -b / (2.0 * a)
    s = cnp.sqrt(disc)
    if b >= 0.0:
        q = -0.5 * (b + s)
    else:
        q = -0.5 * (b - s)
    return max(q / a, c / q)


case("stable_quadratic_root", quadratic_root, (1.0, -3.0, 1.5), jac=True)


def polar_to_cartesian(r, theta):
    return r * cnp.cos(theta), r * cnp.sin(theta)


case("tuple_output", polar_to_cartesian, (1.5, 0.4), jac=True)


def energies(m, v, h):
    kinetic = 0.5 * m * v * v
    potential = m * 9.81 * h
    return {"kinetic": kinetic, "potential": potential, "total": kinetic + potential}


case("dict_output", energies, (2.0, 1.5, 0.7), jac=True)


def _normal_cdf(z):
    return 0.5 * (1.0 + cnp.tanh(0.7978845608 * (z + 0.044715 * z ** 3)))


def call_price(spot, strike, sigma):
    t = 0.5
    d1 = (cnp.log(spot / strike) + 0.5 * sigma * sigma * t) / (sigma * np.sqrt(t))
    d2 = d1 - sigma * np.sqrt(t)
    return spot * _normal_cdf(d1) - strike * _normal_cdf(d2)


case("option_price_with_helper_cdf", call_price, (100.0, 95.0, 0.25), jac=True)


def enumerate_zip(xs, ys):
    total = 0.0
    for k, (a, b) in enumerate(zip(xs, ys)):
        total = total + (k + 1) * a * b
    return total


case("enumerate_of_zip", enumerate_zip, ([1.0, 2.0, 0.5], [3.0, -1.0, 2.0]))


def tuple_param(p):
    a, b, c = p
    return a * cnp.exp(-b) + c * c * a


case("tuple_parameter_unpacked", tuple_param, ((1.2, 0.3, -0.7),))


def dict_param(p):
    return p["k"] * cnp.sin(p["w"] * 2.0) + p["k"] ** 2 / p["c"]


case("dict_parameter", dict_param, ({"k": 1.5, "w": 0.3, "c": 2.0},))


def list_param_loop(ws):
    total = 0.0
    prev = 1.0
    for w in ws:
        total = total + w * prev
        prev = w
    return total


case("loop_over_list_parameter", list_param_loop, ([0.5, -1.0, 2.0, 0.25],))


def zip_lists(xs, ys):
    total = 0.0
    for a, b in zip(xs, ys):
        if a > b:
            total = total + (a - b) ** 2
        else:
            total = total + 0.1 * (b - a)
    return total


case("zip_over_two_lists_with_branch", zip_lists, ([0.5, 2.0, 1.0], [1.0, 1.5, -0.5]))


def enumerate_list(xs):
    total = 0.0
    for k, v in enumerate(xs):
        total = total + v ** (k + 1)
    return total


case("enumerate_over_list", enumerate_list, ([0.9, 1.1, 0.7, 1.3],))


# Python's `+` and `*` on lists and tuples join and repeat them: no arithmetic at all (a
# derivative written as if they were once came out wrong, silently)

def list_joined(xs):
    ys = xs + xs
    zs = ys + [2.0]
    return ys[0] * ys[3] + zs[4] * xs[1] ** 2


case("list_concatenation", list_joined, ([0.5, -1.5],))


def list_repeated(xs):
    n = len(xs) + 1
    ys = xs * n
    zs = 2 * xs
    return ys[0] * ys[n * 2 - 1] + zs[3] ** 2 + cnp.sum(cnp.stack(ys) ** 2)


case("list_repetition_by_an_integer", list_repeated, ([0.5, -1.5],))


def tuple_joined_repeated(x):
    t = (x,) * 3
    u = t + (x * x,)
    v = -x * x  # (arithmetic: -x is a number)
    return t[0] * t[2] + u[3] * u[1] + v


case("tuple_concatenation_and_repetition", tuple_joined_repeated, (0.7,))


def array_plus_list(x, ws):
    y = x + ws  # NumPy adds a list to an array elementwise
    z = ws * x
    return cnp.sum(y * z)


case("array_with_list_operands", array_plus_list, (np.array([0.5, 1.5]), [2.0, -1.0]))


def numpy_reads_lists(x, ws, m):
    y = np.sin(ws) + x
    z = x @ m
    return cnp.sum(y * z)


def numpy_reads_lists_ref(x, ws, m):  # (the overload method stacks traced lists explicitly)
    y = np.sin(cnp.stack(ws)) + x
    z = x @ cnp.stack([cnp.stack(row) for row in m])
    return cnp.sum(y * z)


case("numpy_reads_lists_as_arrays", numpy_reads_lists,
     (np.array([0.5, 1.5]), [2.0, -1.0], [[2.0, -1.0], [1.0, 3.0]]), ref=numpy_reads_lists_ref)


def swap_sort_two(a, b):
    if a > b:
        a, b = b, a
    return a * 3.0 + b


case("swap_by_tuple_assignment_in_branch", swap_sort_two, (2.0, 0.5))


def dict_build_and_read(a, b):
    d = {}
    d["sum"] = a + b
    d["prod"] = a * b
    d["ratio"] = d["sum"] / d["prod"]
    return d["ratio"] + d["sum"] * 0.1


case("dict_subscript_assignment", dict_build_and_read, (1.5, 0.8))


def list_subscript_assign(a, b):
    vals = [0.0, 0.0, 0.0]
    vals[0] = a
    vals[2] = a * b
    vals[1] = vals[0] + vals[2]
    vals[1] += b
    return vals[1] * vals[2] - vals[0]


case("list_subscript_assignment", list_subscript_assign, (1.5, 0.8))


def nested_dict_param(p):
    enc = p["encoder"]
    return enc["w"] * p["x"] + enc["b"] * p["x"] ** 2


case("nested_dict_parameter", nested_dict_param,
     ({"encoder": {"w": 0.7, "b": -0.2}, "x": 1.3},))


def tuple_of_dict_output(a, b):
    return {"p": a * b, "q": a - b}, (a / b, cnp.sin(a))


case("tuple_of_dict_output", tuple_of_dict_output, (1.2, 0.6))


def list_output(a, b):
    out = []
    x = a
    for _ in range(3):
        x = x * b + 0.1
        out.append(x)
    return out


case("list_output_built_by_append", list_output, (0.7, 1.2))

# =============================================================================================
# C. NumPy programs

RNN_W = _normal(4, 4, scale=0.4)
RNN_U = _normal(4, 3, scale=0.5)
RNN_XS = _normal(5, 3)
X_DATA = _normal(6, 3)
Y_LABELS = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
ONEHOT = np.eye(4)[[2, 0, 3]]
SPD = (lambda m: m @ m.T + 3.0 * np.eye(4))(_normal(4, 4, scale=0.5))


def rnn_loop(W, U, xs):
    h = cnp.zeros(W.shape[0])
    for t in range(xs.shape[0]):
        h = cnp.tanh(W @ h + U @ xs[t])
    return cnp.sum(h ** 2)


case("rnn_over_time_steps", rnn_loop, (RNN_W, RNN_U, RNN_XS), jac=True)


def rnn_rows(W, xs):
    h = cnp.zeros(3)
    total = 0.0
    for x_t in xs:
        h = cnp.tanh(W @ h + x_t)
        total = total + cnp.sum(h)
    return total


case("rnn_iterating_array_rows", rnn_rows, (_normal(3, 3, scale=0.5), RNN_XS))


def gated_rnn(Wz, Wh, xs):
    h = cnp.zeros(3)
    for t in range(len(xs)):
        z = cnp.sigmoid(Wz @ h + xs[t])
        cand = cnp.tanh(Wh @ (z * h) + xs[t])
        h = (1.0 - z) * h + z * cand
    return h


case("gated_rnn_vector_output", gated_rnn,
     (_normal(3, 3, scale=0.5), _normal(3, 3, scale=0.5), RNN_XS), jac=True)


def logistic_regression(w, b, X, y):
    z = X @ w + b
    p = 1.0 / (1.0 + cnp.exp(-z))
    eps = 1e-12
    return -cnp.mean(y * cnp.log(p + eps) + (1.0 - y) * cnp.log(1.0 - p + eps))


case("logistic_regression_loss", logistic_regression,
     (_normal(3), 0.1, X_DATA, Y_LABELS), jac=True)


def bilinear(x, W, y):
    return x @ W @ y


case("bilinear_layer", bilinear, (_normal(3), _normal(3, 4), _normal(4)), jac=True)


def softmax_cross_entropy(logits, onehot):
    z = logits - cnp.max(logits, axis=1, keepdims=True)
    logp = z - cnp.log(cnp.sum(cnp.exp(z), axis=1, keepdims=True))
    return -cnp.sum(onehot * logp) / logits.shape[0]


case("softmax_cross_entropy", softmax_cross_entropy, (_normal(3, 4), ONEHOT), jac=True)


def softmax_vector(z):
    e = cnp.exp(z - cnp.max(z))
    return e / cnp.sum(e)


case("softmax_vector_output", softmax_vector, (_normal(5),), jac=True)


def mlp_layers(layers, x):
    h = x
    for W, b in layers:
        h = cnp.tanh(h @ W + b)
    return cnp.sum(h ** 2)


case("mlp_list_of_tuples", mlp_layers,
     ([(_normal(3, 4, scale=0.5), _normal(4, scale=0.1)),
       (_normal(4, 2, scale=0.5), _normal(2, scale=0.1))], X_DATA))


def mlp_dict(params, x):
    h = cnp.maximum(x @ params["W1"] + params["b1"], 0.0)
    out = h @ params["W2"] + params["b2"]
    return cnp.mean((out - 1.0) ** 2)


case("mlp_dict_params", mlp_dict,
     ({"W1": _normal(3, 5, scale=0.5), "b1": _normal(5, scale=0.1) + 0.2,
       "W2": _normal(5, 1, scale=0.5), "b2": np.zeros(1)}, X_DATA))


def cumprod_append(x):
    out = []
    p = 1.0
    for v in x:
        p = p * v
        out.append(p)
    return cnp.stack(out)


case("cumulative_product_by_append", cumprod_append, (_normal(5) + 1.0,), jac=True)


def cumprod_setitem(x):
    out = cnp.zeros(len(x))
    p = 1.0
    for i in range(len(x)):
        p = p * x[i]
        out[i] = p
    return out


def cumprod_setitem_twin(x):
    out = np.zeros(len(x))
    p = 1.0
    for i in range(len(x)):
        p = p * x[i]
        out = cnp.at(out)[i].set(p)
    return out


case("cumulative_product_by_subscript_assignment", cumprod_setitem, (_normal(5) + 1.0,),
     ref=cumprod_setitem_twin, jac=True)


def cumsum_cumprod_library(x):
    return cnp.sum(cnp.cumprod(1.0 + 0.1 * x) * cnp.cumsum(x))


case("cumsum_cumprod_library", cumsum_cumprod_library, (_normal(6),))


def spring_chain(k, x0):
    # velocity Verlet for masses joined by springs, fixed ends
    x = x0
    v = cnp.zeros_like(x0)
    dt = 0.05
    for _ in range(20):
        left = cnp.concatenate([cnp.zeros(1), x[:-1]])
        right = cnp.concatenate([x[1:], cnp.zeros(1)])
        a = k * (left - 2.0 * x + right)
        v = v + 0.5 * dt * a
        x = x + dt * v
        left = cnp.concatenate([cnp.zeros(1), x[:-1]])
        right = cnp.concatenate([x[1:], cnp.zeros(1)])
        a = k * (left - 2.0 * x + right)
        v = v + 0.5 * dt * a
    return cnp.sum(x ** 2) + 0.5 * cnp.sum(v ** 2)


case("spring_chain_verlet", spring_chain, (2.0, _normal(4, scale=0.3)), jac=True)


def heat_explicit(u):
    r = 0.2
    for _ in range(15):
        interior = u[1:-1] + r * (u[2:] - 2.0 * u[1:-1] + u[:-2])
        u = cnp.concatenate([u[:1], interior, u[-1:]])
    return u


case("heat_equation_slices", heat_explicit, (_normal(6),), jac=True)


def linear_solve(A, b):
    x = cnp.linalg.solve(A + 4.0 * np.eye(4), b)
    return cnp.sum(x * b) + cnp.sum(x ** 2)


case("linalg_solve", linear_solve, (_normal(4, 4, scale=0.5), _normal(4)), jac=True)


def det_and_quadratic(A, x):
    d = cnp.linalg.det(A)
    if d < 0.0:
        d = -d
    return cnp.log(d) + x @ A @ x


case("det_with_sign_branch", det_and_quadratic, (_normal(3, 3) + 2.0 * np.eye(3), _normal(3)))


def gaussian_elimination(A, b):
    n = len(b)
    A = A + 0.0
    b = b + 0.0
    for k in range(n):
        for i in range(k + 1, n):
            factor = A[i, k] / A[k, k]
            A[i, :] = A[i, :] - factor * A[k, :]
            b[i] = b[i] - factor * b[k]
    x = cnp.zeros(n)
    for i in range(n - 1, -1, -1):
        x[i] = (b[i] - A[i, i + 1:] @ x[i + 1:]) / A[i, i]
    return x


def gaussian_elimination_twin(A, b):
    n = len(b)
    for k in range(n):
        for i in range(k + 1, n):
            factor = A[i, k] / A[k, k]
            A = cnp.at(A)[i, :].set(A[i, :] - factor * A[k, :])
            b = cnp.at(b)[i].set(b[i] - factor * b[k])
    x = np.zeros(n)
    for i in range(n - 1, -1, -1):
        x = cnp.at(x)[i].set((b[i] - A[i, i + 1:] @ x[i + 1:]) / A[i, i])
    return x


case("gaussian_elimination_subscript_assignment", gaussian_elimination, (SPD, _normal(4)),
     ref=gaussian_elimination_twin, jac=True)


def power_iteration(A):
    v = cnp.ones(A.shape[0]) / 2.0
    lam = 0.0
    for _ in range(200):
        w = A @ v
        lam_new = v @ w
        v = w / cnp.sqrt(w @ w)
        if abs(lam_new - lam) < 1e-13:
            break
        lam = lam_new
    return lam_new


case("power_iteration_break", power_iteration, (SPD,))


def conjugate_gradient(A, b):
    x = cnp.zeros_like(b)
    r = b - A @ x
    p = r
    rs = r @ r
    for _ in range(10):
        Ap = A @ p
        alpha = rs / (p @ Ap)
        x = x + alpha * p
        r = r - alpha * Ap
        rs_new = r @ r
        if rs_new < 1e-20:
            break
        p = r + (rs_new / rs) * p
        rs = rs_new
    return x


case("conjugate_gradient_vector_output", conjugate_gradient, (SPD, _normal(4)), jac=True)


def gram_schmidt(V):
    basis = []
    for v in V:
        w = v
        for q in basis:
            w = w - (q @ w) * q
        basis.append(w / cnp.sqrt(w @ w))
    return cnp.stack(basis)


case("gram_schmidt_lists_of_arrays", gram_schmidt, (_normal(3, 4),))


def reductions_axis(M):
    a = cnp.sum(M, axis=0)
    b = cnp.mean(M, axis=1, keepdims=True)
    c = cnp.max(M, axis=1)
    d = cnp.var(M, axis=0)
    return cnp.sum(a * a) + cnp.sum((M - b) ** 2) + cnp.sum(c) + cnp.sum(d * a)


case("reductions_with_axis", reductions_axis, (_normal(4, 3),), jac=True)


def indexing_slicing(x):
    M = cnp.reshape(x, (3, 4))
    first_col = M[:, 0]
    last_row = M[-1]
    evens = x[::2]
    block = M[1:, 1:3]
    picked = x[np.array([0, 5, 5, 11])]
    outer = first_col[:, None] * last_row[None, :]
    return (cnp.sum(first_col * last_row[:3]) + cnp.sum(evens ** 2) + cnp.sum(block)
            + cnp.sum(picked) + cnp.sum(outer) + x[-2] * M[2, 3] + cnp.sum(M[..., 1]))


case("indexing_and_slicing", indexing_slicing, (_normal(12),))


def leaky_where(x):
    y = cnp.where(x > 0.0, x, 0.1 * x)
    return cnp.sum(y * y * cnp.where(y > 0.5, 1.0, -2.0))


case("where_leaky_relu", leaky_where, (_normal(6),), jac=True)


def huber_loop(r):
    delta = 0.7
    total = 0.0
    for i in range(r.shape[0]):
        a = abs(r[i])
        if a <= delta:
            total = total + 0.5 * r[i] ** 2
        else:
            total = total + delta * (a - 0.5 * delta)
    return total


case("huber_loss_elementwise_branches", huber_loop, (_normal(6),))


def huber_where(r):
    a = cnp.abs(r)
    return cnp.sum(cnp.where(a <= 0.7, 0.5 * r * r, 0.7 * (a - 0.35)))


case("huber_loss_where", huber_where, (_normal(6),))


def attention(Q, K, V):
    scores = Q @ K.T / np.sqrt(Q.shape[1])
    scores = scores - cnp.max(scores, axis=1, keepdims=True)
    w = cnp.exp(scores)
    w = w / cnp.sum(w, axis=1, keepdims=True)
    return w @ V


case("attention_matrix_output", attention, (_normal(2, 3), _normal(4, 3), _normal(4, 2)),
     jac=True)


def layer_norm(x, gain, bias):
    mu = cnp.mean(x, axis=-1, keepdims=True)
    var = cnp.mean((x - mu) ** 2, axis=-1, keepdims=True)
    return cnp.sum(((x - mu) / cnp.sqrt(var + 1e-5) * gain + bias) ** 3)


case("layer_norm", layer_norm, (_normal(3, 4), _normal(4), _normal(4)))


def conv1d_loop(x, k):
    n = x.shape[0] - k.shape[0] + 1
    out = []
    for i in range(n):
        out.append(cnp.sum(x[i:i + k.shape[0]] * k))
    y = cnp.stack(out)
    return cnp.sum(cnp.tanh(y))


case("conv1d_sliding_window", conv1d_loop, (_normal(8), _normal(3)))


def horner_array(c, x):
    p = cnp.zeros_like(x)
    for i in range(c.shape[0]):
        p = p * x + c[i]
    return p


case("horner_on_arrays_coefficients_param", horner_array, (_normal(4), _normal(5)), jac=True)


def pairwise_distances(X):
    diff = X[:, None, :] - X[None, :, :]
    d2 = cnp.sum(diff ** 2, axis=-1) + 1e-9
    return cnp.sum(cnp.exp(-d2)) + cnp.sum(cnp.sqrt(d2))


case("pairwise_distance_broadcasting", pairwise_distances, (_normal(4, 2),))


def kalman_filter(q, r, zs):
    m = 0.0
    P = 1.0
    loglik = 0.0
    for z in zs:
        P = P + q
        S = P + r
        K = P / S
        resid = z - m
        loglik = loglik - 0.5 * (cnp.log(2.0 * np.pi * S) + resid * resid / S)
        m = m + K * resid
        P = (1.0 - K) * P
    return loglik


case("kalman_filter_loglik", kalman_filter, (0.3, 0.5, _normal(6)), jac=True)


def hmm_forward(logA, logB):
    alpha = -np.log(3.0) + logB[:, 0]
    for t in range(1, logB.shape[1]):
        alpha = cnp.logsumexp(alpha[:, None] + logA, axis=0) + logB[:, t]
    return cnp.logsumexp(alpha)


case("hmm_forward_logsumexp", hmm_forward, (_normal(3, 3, scale=0.5), _normal(3, 5)))


def adaptive_euler(k):
    t = 0.0
    y = 1.0
    h = 0.1
    steps = 0
    while t < 2.0 and steps < 100:
        slope = -k * y + cnp.sin(3.0 * t)
        half = y + 0.5 * h * slope
        full = y + h * slope
        better = half + 0.5 * h * (-k * half + cnp.sin(3.0 * (t + 0.5 * h)))
        err = abs(better - full)
        if err > 1e-3 and h > 0.01:
            h = h * 0.5
            continue
        y = better
        t = t + h
        steps += 1
        if err < 1e-4:
            h = h * 1.5
    return y


case("adaptive_step_ode", adaptive_euler, (1.3,))


def batch_norm(X):
    mu = cnp.mean(X, axis=0)
    sd = cnp.std(X, axis=0)
    Z = (X - mu) / (sd + 1e-6)
    return cnp.sum(cnp.tanh(Z) * X)


case("batch_norm_std", batch_norm, (X_DATA,))


def pairwise_energy_loops(X):
    energy = 0.0
    for i, xi in enumerate(X):
        for j in range(i + 1, X.shape[0]):
            d = xi - X[j]
            energy = energy + 1.0 / (1.0 + d @ d)
    return energy


case("pairwise_energy_enumerate_rows", pairwise_energy_loops, (_normal(4, 2),))


def listcomp_moments(x):
    feats = [cnp.sum(x ** k) / x.shape[0] for k in range(1, 4)]
    return cnp.stack(feats)


case("list_comprehension_of_reductions", listcomp_moments, (_normal(5),), jac=True)


def array_methods(M):
    return (M.T @ M).sum() + M.reshape(-1).mean() + M.mean(axis=0).max() + M.sum(axis=1) @ M[:, 0]


case("array_methods_and_transpose", array_methods, (_normal(3, 2),))


def numpy_plain_functions(x):
    return np.sum(np.sin(x) * np.exp(-x * x)) + np.mean(np.tanh(x) ** 2)


case("plain_numpy_ufuncs_on_arrays", numpy_plain_functions, (_normal(5),))


def l2_over_dict(params):
    total = 0.0
    for name in params:
        total = total + cnp.sum(params[name] ** 2)
    return total


case("loop_over_dict_keys", l2_over_dict, ({"w": _normal(3), "b": _normal(2)},))


def l2_over_items(params):
    total = 0.0
    for name, value in params.items():
        scale = 2.0 if name == "w" else 1.0
        total = total + scale * cnp.sum(value ** 2)
    return total


case("loop_over_dict_items", l2_over_items, ({"w": _normal(3), "b": _normal(2)},))


def mean_and_var(x):
    m = cnp.mean(x)
    return m, cnp.mean((x - m) ** 2)


case("tuple_of_arrays_output", mean_and_var, (_normal(5),), jac=True)


def stats_dict(x):
    return {"norm": cnp.sqrt(cnp.sum(x * x)), "soft": cnp.exp(x) / cnp.sum(cnp.exp(x))}


case("dict_of_arrays_output", stats_dict, (_normal(4),))


def matrix_rows_setitem(M):
    out = cnp.zeros((M.shape[0], M.shape[1]))
    for i in range(M.shape[0]):
        row = M[i]
        if cnp.sum(row) > 0.0:
            out[i, :] = row / cnp.sum(row * row)
        else:
            out[i, :] = row * 2.0
        out[i, 0] = out[i, 0] + 1.0
    return out


def matrix_rows_setitem_twin(M):
    out = np.zeros((M.shape[0], M.shape[1]))
    for i in range(M.shape[0]):
        row = M[i]
        if cnp.sum(row) > 0.0:
            out = cnp.at(out)[i, :].set(row / cnp.sum(row * row))
        else:
            out = cnp.at(out)[i, :].set(row * 2.0)
        out = cnp.at(out)[i, 0].set(out[i, 0] + 1.0)
    return out


case("matrix_row_subscript_assignment_with_branch", matrix_rows_setitem, (_normal(4, 3),),
     ref=matrix_rows_setitem_twin, jac=True)


def histogram_like_accumulate(x):
    acc_bins = cnp.zeros(3)
    for i in range(x.shape[0]):
        b = 0 if x[i] < -0.5 else (1 if x[i] < 0.5 else 2)
        acc_bins[b] += x[i] ** 2
    return acc_bins


def histogram_like_accumulate_twin(x):
    acc_bins = np.zeros(3)
    for i in range(x.shape[0]):
        b = 0 if x[i] < -0.5 else (1 if x[i] < 0.5 else 2)
        acc_bins = cnp.at(acc_bins)[b].add(x[i] ** 2)
    return acc_bins


case("augmented_subscript_assignment_data_dependent_index", histogram_like_accumulate,
     (_normal(7),), ref=histogram_like_accumulate_twin, jac=True)


def einsum_trace_outer(A, x):
    B = cnp.einsum("ij,jk->ik", A, A.T)
    return cnp.trace(B) + cnp.sum(cnp.outer(x, x) * B) + cnp.sum(cnp.diag(A) ** 2)


case("einsum_trace_outer_diag", einsum_trace_outer, (_normal(3, 3), _normal(3)))


def slogdet_inverse(A):
    M = A @ A.T + np.eye(3)
    sign, logdet = cnp.linalg.slogdet(M)
    return sign * logdet + cnp.trace(cnp.linalg.inv(M))


case("slogdet_and_inverse", slogdet_inverse, (_normal(3, 3, scale=0.5),))


def triangular_sum(A):
    total = 0.0
    for i in range(A.shape[0]):
        for j in range(i):
            total = total + A[i, j] * A[j, i]
        total = total + A[i, i] ** 2
    return total


case("triangular_double_loop_on_matrix", triangular_sum, (_normal(4, 4),))


def prefix_until_threshold(x):
    total = 0.0
    count = 0
    for v in x:
        if v < 0.0:
            continue
        total = total + v * v
        count += 1
        if total > 1.5:
            break
    return total / max(count, 1)


case("prefix_sum_continue_and_break", prefix_until_threshold,
     (np.array([0.5, -1.0, 0.8, 0.9, -0.2, 1.1, 0.3]),))


def first_negative_return(xs):
    total = 0.0
    for i in range(len(xs)):
        if xs[i] < 0.0:
            return total + xs[i] * i
        total = total + cnp.exp(xs[i])
    return total


case("early_return_on_first_negative_element", first_negative_return,
     (np.array([0.3, 0.2, -0.4, 1.0]),))


def at_set_in_source(x):
    v = np.zeros(3)
    for i in range(3):
        v = cnp.at(v)[i].set(x[i] ** 2 + x[(i + 1) % 3])
    return cnp.sum(v * v)


case("cnp_at_set_functional_update", at_set_in_source, (_normal(3),))


def normal_equations(X, y):
    A = X.T @ X + 0.1 * np.eye(X.shape[1])
    w = cnp.linalg.solve(A, X.T @ y)
    resid = X @ w - y
    return resid @ resid


case("ridge_regression_normal_equations", normal_equations, (X_DATA, _normal(6)), jac=True)


def cholesky_logdet(A):
    L = cnp.linalg.cholesky(A @ A.T + np.eye(3))
    return 2.0 * cnp.sum(cnp.log(cnp.diagonal(L)))


case("cholesky_log_determinant", cholesky_logdet, (_normal(3, 3, scale=0.5),))


def newton_system(p):
    # solve x**3 + x = p componentwise coupled by a small matrix, Newton with linear solves
    C = np.array([[0.0, 0.1], [0.2, 0.0]])
    x = cnp.zeros(2)
    for _ in range(30):
        F = x ** 3 + x + C @ x - p
        J = cnp.diag(3.0 * x ** 2 + 1.0) + C
        dx = cnp.linalg.solve(J, F)
        x = x - dx
        if cnp.sqrt(cnp.sum(dx * dx)) < 1e-14:
            break
    return x


case("newton_for_nonlinear_system", newton_system, (np.array([1.0, -0.5]),), jac=True)


def rnn_collect_outputs(W, xs):
    h = cnp.zeros(3)
    hs = []
    for t in range(xs.shape[0]):
        h = cnp.tanh(W @ h + xs[t])
        hs.append(h)
    return cnp.stack(hs)


case("rnn_stacked_outputs", rnn_collect_outputs, (_normal(3, 3, scale=0.5), RNN_XS))


def nbody_leapfrog(pos, vel):
    dt = 0.02
    for _ in range(10):
        d = pos[0] - pos[1]
        r3 = cnp.sum(d * d) ** 1.5 + 0.01
        force = -d / r3
        acc0 = force
        acc1 = -force
        vel = vel + dt * cnp.stack([acc0, acc1])
        pos = pos + dt * vel
    return cnp.sum(pos ** 2) + cnp.sum(vel ** 2)


case("two_body_leapfrog", nbody_leapfrog,
     (np.array([[1.0, 0.0], [-1.0, 0.2]]), np.array([[0.0, 0.3], [0.0, -0.3]])))


def residual_block(x, W1, W2):
    h = cnp.maximum(x @ W1, 0.0)
    y = x + h @ W2
    return cnp.sum(cnp.log(cnp.sum(cnp.exp(y), axis=1)))


case("residual_block_relu", residual_block, (X_DATA, _normal(3, 5), _normal(5, 3)))


def masked_sum_continue(x):
    mask = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    total = 0.0
    for i in range(5):
        if mask[i] == 0.0:
            continue
        total = total + cnp.sin(x[i]) * x[i]
    return total


case("skip_masked_elements_with_continue", masked_sum_continue, (_normal(5),))


def list_of_arrays_param(weights):
    v = np.ones(3)
    for w in weights:
        v = cnp.tanh(w @ v)
    return cnp.sum(v)


case("loop_over_list_of_matrices", list_of_arrays_param,
     ([_normal(3, 3, scale=0.6) for _ in range(3)],))


def where_safe_log(x):
    safe = cnp.where(x > 0.0, x, 1.0)
    return cnp.sum(cnp.where(x > 0.0, cnp.log(safe), x))


case("where_double_where_safe_log", where_safe_log, (_normal(6),))


def clip_and_abs(x):
    return cnp.sum(cnp.clip(x, -0.5, 0.8) * cnp.abs(x))


case("clip_and_abs", clip_and_abs, (_normal(6),))


def polynomial_features_loop(x):
    feats = cnp.zeros((x.shape[0], 3))
    for k in range(3):
        feats[:, k] = x ** (k + 1)
    return cnp.sum(feats @ np.array([1.0, -0.5, 0.25]))


def polynomial_features_loop_twin(x):
    feats = np.zeros((x.shape[0], 3))
    for k in range(3):
        feats = cnp.at(feats)[:, k].set(x ** (k + 1))
    return cnp.sum(feats @ np.array([1.0, -0.5, 0.25]))


case("column_subscript_assignment", polynomial_features_loop, (_normal(4),),
     ref=polynomial_features_loop_twin)


def running_max_branch(x):
    best = x[0]
    total = 0.0
    for i in range(1, x.shape[0]):
        if x[i] > best:
            best = x[i]
        total = total + best * x[i]
    return total


case("running_maximum_by_branch", running_max_branch,
     (np.array([0.3, -0.2, 0.9, 0.4, 1.2, 0.1]),))


def sinkhorn(C):
    K = cnp.exp(-C / 0.5)
    u = np.ones(3) / 3.0
    v = np.ones(3) / 3.0
    for _ in range(20):
        u = (np.ones(3) / 3.0) / (K @ v)
        v = (np.ones(3) / 3.0) / (K.T @ u)
    P = u[:, None] * K * v[None, :]
    return cnp.sum(P * C)


case("sinkhorn_iterations", sinkhorn, (np.abs(_normal(3, 3)),))


def vector_setitem_stencil(x):
    y = x * 1.0
    for i in range(1, x.shape[0] - 1):
        y[i] = 0.25 * y[i - 1] + 0.5 * x[i] + 0.25 * x[i + 1]
    return cnp.sum(y ** 2)


def vector_setitem_stencil_twin(x):
    y = x * 1.0
    for i in range(1, x.shape[0] - 1):
        y = cnp.at(y)[i].set(0.25 * y[i - 1] + 0.5 * x[i] + 0.25 * x[i + 1])
    return cnp.sum(y ** 2)


case("in_place_stencil_reads_updated_values", vector_setitem_stencil, (_normal(6),),
     ref=vector_setitem_stencil_twin)


def kron_and_roll(x):
    K = cnp.kron(x[:2], x[2:])
    return cnp.sum(K * cnp.roll(K, 1)) + cnp.sum(cnp.flip(x) * x)


case("kron_roll_flip", kron_and_roll, (_normal(4),))


def vector_setitem_fd(x):
    v = cnp.zeros(3)
    v[0] = cnp.exp(x[0])
    v[1] = v[0] * x[1]
    v[2] = cnp.sin(v[1]) + x[2] ** 2
    return cnp.sum(v * v)


case("subscript_assignment_against_finite_differences", vector_setitem_fd,
     (np.array([0.2, -0.4, 0.7]),), fd_tol=1e-8)


# =============================================================================================
# D. more of the same, and variants that keep one construct at a time

Params = namedtuple("Params", "w b")


def wrap_angle(theta):
    return cnp.sin(theta % (2.0 * np.pi)) + (theta % 1.0) ** 2


case("modulo_of_a_float_angle_wrap", wrap_angle, (7.3,))


def namedtuple_param(p):
    return p.w * p.b + p.w


case("namedtuple_parameter", namedtuple_param, (Params(1.5, 2.0),))


def local_lambda(x):
    scale = lambda t: t * x  # noqa: E731 - a lambda bound to a local name
    return scale(2.0) + scale(x)


case("lambda_bound_to_a_local_name", local_lambda, (0.7,))


def fstring_keys(params, x):
    h = x
    for i in range(1, 3):
        h = cnp.tanh(h @ params[f"W{i}"] + params["b" + str(i)])
    return cnp.sum(h)


case("dict_keys_built_with_fstrings_in_loop", fstring_keys,
     ({"W1": _normal(3, 3, scale=0.5), "b1": _normal(3), "W2": _normal(3, 2, scale=0.5),
       "b2": _normal(2)}, _normal(3)))


def boolean_mask_and_fancy_index(x):
    return cnp.sum(x[x > 0.0] ** 2) + cnp.sum(x[np.array([0, 0, 2])] * x[-1]) + x[1] * x[3]


case("boolean_mask_fancy_index_no_slices", boolean_mask_and_fancy_index,
     (np.array([0.5, -1.0, 2.0, 0.3]),), jac=True)


def eigh_top(A):
    w, V = cnp.linalg.eigh(A + A.T)
    return w[-1] + cnp.sum(V[0] ** 2)


case("eigh_namedtuple_result_unpacked", eigh_top, (_normal(3, 3),))


def _leapfrog_step(q, p, dt):
    p = p - 0.5 * dt * cnp.sin(q)
    q = q + dt * p
    p = p - 0.5 * dt * cnp.sin(q)
    return q, p


def pendulum(q0):
    q, p = q0, 0.0
    for _ in range(25):
        q, p = _leapfrog_step(q, p, 0.1)
    return q + 0.5 * p * p


case("pendulum_helper_returns_tuple_in_loop", pendulum, (1.1,))


def nested_constant_inner(x):
    total = 0.0
    for i in range(3):
        for j in range(2):
            total = total + cnp.sin(x * (i + 1)) * (j + 1)
    return total


case("nested_loops_constant_inner_count", nested_constant_inner, (0.4,))


def nested_varying_inner(x):
    total = 0.0
    for i in range(3):
        for j in range(i, 3):
            total = total + cnp.sin(x * j)
    return total


case("nested_loops_shrinking_inner_count", nested_varying_inner, (0.5,))


def heat_by_matrix(u):
    n = u.shape[0]
    L = -2.0 * np.eye(n) + np.eye(n, k=1) + np.eye(n, k=-1)
    L[0] = 0.0
    L[-1] = 0.0
    for _ in range(15):
        u = u + 0.2 * (L @ u)
    return u


case("heat_equation_matrix_no_slices", heat_by_matrix, (_normal(6),), jac=True)


def spring_by_roll(k, x0):
    x = x0
    v = x0 * 0.0
    for _ in range(20):
        a = k * (cnp.roll(x, 1) - 2.0 * x + cnp.roll(x, -1))
        v = v + 0.05 * a
        x = x + 0.05 * v
    return cnp.sum(x ** 2) + cnp.sum(v ** 2)


case("periodic_springs_roll_no_slices", spring_by_roll, (1.5, _normal(5, scale=0.3)),
     jac=True)


def list_of_lists(rows):
    total = 0.0
    for i in range(len(rows)):
        for j in range(len(rows[i])):
            total = total + rows[i][j] * (i + 1) - rows[i][j] ** 2
    return total


case("nested_lists_double_subscript", list_of_lists, ([[0.5, 1.0], [2.0, -0.5]],))


def grid_update(x):
    grid = [[0.0, 0.0], [0.0, 0.0]]
    grid[0][0] = x
    grid[0][1] = x * x
    grid[1][0] = grid[0][0] + grid[0][1]
    grid[1][1] = cnp.sin(grid[1][0])
    return grid[1][1] * grid[0][1]


case("nested_list_subscript_assignment", grid_update, (0.6,))


def value_defined_in_while(x):
    k = 0
    while k < 3:
        last = x * k + cnp.cos(x)
        k += 1
    return last * x


case("value_defined_inside_while_used_after", value_defined_in_while, (0.6,))


def helper_returns_list(x):
    parts = _split3(x)
    return parts[0] * parts[2] + parts[1]


def _split3(v):
    return [v, v * v, cnp.exp(v)]


case("helper_returning_list_defined_later", helper_returns_list, (0.6,))


def matvec_loops(A, x):
    y = []
    for i in range(A.shape[0]):
        s = 0.0
        for j in range(A.shape[1]):
            s = s + A[i, j] * x[j]
        y.append(s)
    return cnp.stack(y)


case("matvec_by_scalar_loops", matvec_loops, (_normal(3, 4), _normal(4)), jac=True)


def softmax_temperature(z, temp):
    scaled = z / temp
    e = cnp.exp(scaled - cnp.max(scaled))
    p = e / cnp.sum(e)
    return cnp.sum(p * cnp.log(p + 1e-12))


case("softmax_entropy_with_temperature", softmax_temperature, (_normal(5), 0.7), jac=True)


def cond_on_norm(v):
    n = cnp.sqrt(v @ v)
    if n > 1.0:
        v = v / n
    return cnp.sum(v ** 3) + n


case("project_to_unit_ball_branch", cond_on_norm, (np.array([1.0, -2.0, 0.5]),), jac=True)


def logsumexp_axis(M):
    return cnp.sum(cnp.logsumexp(M, axis=0)) - cnp.sum(cnp.log_softmax(M, axis=1) ** 2)


case("logsumexp_and_log_softmax_axis", logsumexp_axis, (_normal(3, 4),))


def tuple_state_rnn(params, xs):
    W, U, b = params
    h = cnp.zeros(3)
    c = cnp.zeros(3)
    for t in range(xs.shape[0]):
        gate = cnp.sigmoid(W @ h + U @ xs[t] + b)
        c = gate * c + (1.0 - gate) * cnp.tanh(U @ xs[t])
        h = cnp.tanh(c) * gate
    return cnp.sum(h) + cnp.sum(c ** 2)


case("tuple_params_lstm_like", tuple_state_rnn,
     ((_normal(3, 3, scale=0.5), _normal(3, 3, scale=0.5), _normal(3, scale=0.1)), RNN_XS))



def _push_doubled(xs, v):
    xs.append(v * 2.0)


def helper_mutates_callers_list(x):
    xs = [x]
    _push_doubled(xs, x)
    return xs[-1] * xs[0]


def test_a_helper_changing_its_callers_list_is_refused():
    """Rewriting xs.append in the helper as a new list would leave the caller's list as it
    was: wrong values, so the transformer refuses (file, line, construct)."""
    line = inspect.getsourcelines(_push_doubled)[1] + 1
    for transform in (cr.source.grad, cr.source.jvp):
        with pytest.raises(cr.source.TransformError, match=r"argument xs in place \(\.append\)") \
                as info:
            transform(helper_mutates_callers_list)(0.7)
        assert info.value.line == line and info.value.filename.endswith("test_source_corpus.py")


def top_level_default(x, scale=2.0):
    return scale * cnp.sin(x) * x


case("top_level_default_argument", top_level_default, (0.7,))


def two_sets_with_at(x):
    v = np.zeros(2)
    v = cnp.at(v)[0].set(x[0] * x[1])
    v = cnp.at(v)[1].set(x[1] ** 2)
    return cnp.sum(v * v)


case("cnp_at_set_twice", two_sets_with_at, (np.array([0.5, -1.5]),))



def enumerate_start_keyword(xs):
    total = 0.0
    for k, v in enumerate(xs, start=1):
        total = total + k * v * v
    return total


case("enumerate_with_start_keyword", enumerate_start_keyword, ([1.0, 2.0, 3.0],))


def enumerate_start_positional(xs):
    total = 0.0
    for k, v in enumerate(xs, 1):
        total = total + k * v * v
    return total


case("enumerate_with_start_positional", enumerate_start_positional, ([1.0, 2.0, 3.0],))


def back_substitution(U, b):
    n = b.shape[0]
    x = cnp.zeros(n)
    for i in reversed(range(n)):
        x[i] = (b[i] - U[i] @ x) / U[i, i]
    return x


def back_substitution_twin(U, b):
    n = b.shape[0]
    x = np.zeros(n)
    for i in reversed(range(n)):
        x = cnp.at(x)[i].set((b[i] - U[i] @ x) / U[i, i])
    return x


case("back_substitution_reversed_range", back_substitution,
     (np.triu(_normal(4, 4, scale=0.3)) + 2.0 * np.eye(4), _normal(4)),
     ref=back_substitution_twin, jac=True)


def squared_differences(xs):
    total = 0.0
    for a, b in zip(xs[:-1], xs[1:]):
        total = total + (b - a) ** 2
    return total


case("zip_of_list_slices", squared_differences, ([1.0, 2.5, 3.0, 2.0],))


def newton_done_flag(a):
    y = a
    done = False
    while not done:
        step = 0.5 * (y - a / y)
        y = y - step
        done = abs(step) < 1e-14
    return y


case("while_not_done_flag", newton_done_flag, (2.0,))


# =============================================================================================
# the checks


def _argnums(c: Case) -> int | tuple[int, ...]:
    return 0 if len(c.args) == 1 else tuple(range(len(c.args)))


def _reference(c: Case) -> Callable[..., Any]:
    return c.ref if c.ref is not None else c.fn


def _output(c: Case) -> Any:
    return (c.fn if c.fd_tol is not None else _reference(c))(*c.args)


def _is_scalar(x: Any) -> bool:
    return not isinstance(x, (tuple, list, dict)) and np.ndim(x) == 0


def _scalar_out(c: Case) -> bool:
    return _is_scalar(_output(c))


def _one_scalar_in(c: Case) -> bool:
    return len(c.args) == 1 and _is_scalar(c.args[0])


def _rng_for(c: Case, what: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(f"{c.name}/{what}".encode()))


def _random_like(tree: Any, rng: np.random.Generator) -> Any:
    def draw(x: Any) -> Any:
        if isinstance(x, np.ndarray):
            return rng.standard_normal(x.shape)
        return float(rng.standard_normal())
    return cr.tree.tree_map(draw, tree)


def _assert_close(got: Any, want: Any, rtol: float = RTOL, atol: float = ATOL,
                  where: str = "") -> None:
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), f"{where}: {got!r} vs {want!r}"
        for k in want:
            _assert_close(got[k], want[k], rtol, atol, f"{where}[{k!r}]")
    elif isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(want), \
            f"{where}: {got!r} vs {want!r}"
        for k, (g, w) in enumerate(zip(got, want)):
            _assert_close(g, w, rtol, atol, f"{where}[{k}]")
    else:
        np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                                   rtol=rtol, atol=atol, err_msg=where)


def _dot(a: Any, b: Any) -> float:
    return float(sum(np.sum(np.asarray(x) * np.asarray(y))
                     for x, y in zip(cr.tree.leaves(a), cr.tree.leaves(b))))


def _fd_jvp(f: Callable[..., Any], args: tuple[Any, ...], tangents: tuple[Any, ...],
            h: float = 1e-5) -> Any:
    """Central differences of `f` along `tangents`."""
    def shifted(s: float) -> Any:
        return f(*cr.tree.tree_map(lambda x, t: x + s * t, args, tangents))
    return cr.tree.tree_map(lambda p, m: (p - m) / (2.0 * h), shifted(h), shifted(-h))


def _params(kind: str, cases: list[Case]) -> list[Any]:
    out = []
    for c in cases:
        marks = []
        if kind in c.xfail:
            marks.append(pytest.mark.xfail(strict=True, raises=c.raises, reason=c.xfail[kind]))
        out.append(pytest.param(c, id=c.name, marks=marks))
    return out


ONE_SCALAR = [c for c in CORPUS if _one_scalar_in(c)]
JAC = [c for c in CORPUS if c.jac]


def test_the_corpus_is_large_and_well_formed():
    names = [c.name for c in CORPUS]
    assert len(names) == len(set(names))
    assert len({c.fn for c in CORPUS}) >= 125
    assert len(JAC) >= 15
    for c in ONE_SCALAR:  # the second-order checks need a scalar result
        assert _scalar_out(c), c.name
    for c in CORPUS:
        assert (c.ref is None) or (c.fd_tol is None), c.name
        assert set(c.xfail) <= set(KINDS), c.name
        if c.ref is not None:  # a twin computes what the program computes
            _assert_close(c.ref(*c.args), c.fn(*c.args), where=c.name)


class _known:
    """`with _known(c, kind):` around a check. The exception of a known bug (an xfail mark)
    keeps its type and message, but not its traceback: pytest formats an xfail's traceback like
    a failure's, parsing the whole file of every frame, which would otherwise take half of this
    file's run time. Any other exception propagates untouched, with its whole traceback."""

    def __init__(self, c: Case, kind: str) -> None:
        self.expected = c.raises if kind in c.xfail else ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is not None and self.expected and isinstance(exc, self.expected):
            tb.tb_next = None  # only the test's own frame, which __tracebackhide__ hides
            exc.__traceback__ = tb
            exc._known_bug = True  # type: ignore[attr-defined]
        return False


def _is_known_bug(excinfo: Any) -> bool:
    return getattr(excinfo.value, "_known_bug", False)


__tracebackhide__ = _is_known_bug  # pytest hides this module's frames for known bugs only


@pytest.mark.parametrize("c", _params("rev", CORPUS))
def test_reverse(c):
    nums = _argnums(c)
    with _known(c, "rev"):
        if c.fd_tol is not None:  # <grad, v> or <ct, J v> against central differences
            v = _random_like(c.args, _rng_for(c, "direction"))
            slope = _fd_jvp(c.fn, c.args, v)
            out, pull = cr.vjp(c.fn, *c.args, method="source")
            ct = _random_like(out, _rng_for(c, "cotangent"))
            _assert_close(out, c.fn(*c.args))
            np.testing.assert_allclose(_dot(pull(ct), v), _dot(ct, slope), rtol=c.fd_tol,
                                       atol=c.fd_tol)
            return
        ref = _reference(c)
        if _scalar_out(c):
            want = cr.grad(ref, argnums=nums)(*c.args)
            _assert_close(cr.grad(c.fn, argnums=nums, method="source")(*c.args), want)
            value, grads = cr.value_and_grad(c.fn, argnums=nums, method="source")(*c.args)
            _assert_close(value, ref(*c.args))
            _assert_close(grads, want)
        else:
            want_out, want_pull = cr.vjp(ref, *c.args)
            ct = _random_like(want_out, _rng_for(c, "cotangent"))
            got_out, got_pull = cr.vjp(c.fn, *c.args, method="source")
            _assert_close(got_out, want_out)
            _assert_close(got_pull(ct), want_pull(ct))


@pytest.mark.parametrize("c", _params("fwd", CORPUS))
def test_forward(c):
    t = _random_like(c.args, _rng_for(c, "tangent"))
    with _known(c, "fwd"):
        got_out, got_t = cr.jvp(c.fn, c.args, t, method="source")
        if c.fd_tol is not None:
            _assert_close(got_out, c.fn(*c.args))
            _assert_close(got_t, _fd_jvp(c.fn, c.args, t), rtol=c.fd_tol, atol=c.fd_tol)
            return
        want_out, want_t = cr.jvp(_reference(c), c.args, t)
        _assert_close(got_out, want_out)
        _assert_close(got_t, want_t)


def _second_reference(c: Case) -> Any:
    x = c.args[0]
    if c.fd_tol is None:
        return cr.grad(cr.grad(_reference(c)))(x)
    g = cr.source.grad(c.fn)  # no overload reference: differences of the (checked) gradient
    return (g(x + 1e-5) - g(x - 1e-5)) / 2e-5


@pytest.mark.parametrize("c", _params("second", ONE_SCALAR))
def test_second_order_source_over_source(c):
    tol = c.fd_tol or RTOL
    with _known(c, "second"):
        got = cr.source.grad(cr.source.grad(c.fn))(c.args[0])
        _assert_close(got, _second_reference(c), rtol=tol, atol=max(tol, ATOL))


@pytest.mark.parametrize("c", _params("hessian", ONE_SCALAR))
def test_second_order_hessian_source(c):
    tol = c.fd_tol or RTOL
    with _known(c, "hessian"):
        got = cr.hessian(c.fn, method="source")(c.args[0])
        _assert_close(got, _second_reference(c), rtol=tol, atol=max(tol, ATOL))


@pytest.mark.parametrize("c", _params("jacrev", JAC))
def test_jacrev(c):
    nums = _argnums(c)
    want = cr.jacrev(_reference(c), argnums=nums)(*c.args)
    with _known(c, "jacrev"):
        _assert_close(cr.jacrev(c.fn, argnums=nums, method="source")(*c.args), want)


@pytest.mark.parametrize("c", _params("jacfwd", JAC))
def test_jacfwd(c):
    nums = _argnums(c)
    want = cr.jacrev(_reference(c), argnums=nums)(*c.args)
    with _known(c, "jacfwd"):
        _assert_close(cr.jacfwd(c.fn, argnums=nums, method="source")(*c.args), want)


@pytest.mark.parametrize("c", _params("hessian", [c for c in JAC if _scalar_out(c)
                                                   and not _one_scalar_in(c)]))
def test_hessian_and_hvp(c):
    nums = _argnums(c)
    want = cr.hessian(_reference(c), argnums=nums)(*c.args)
    v = _random_like(c.args, _rng_for(c, "hvp"))
    with _known(c, "hessian"):
        _assert_close(cr.hessian(c.fn, argnums=nums, method="source")(*c.args), want)
        _assert_close(cr.hvp(c.fn, c.args, v, method="source"),
                      cr.hvp(_reference(c), c.args, v))


# =============================================================================================
# a module global read by a transformed function

SCALE = 2.0


def uses_global_scale(x):
    return SCALE * x * x


def test_globals_are_read_when_the_derivative_runs(monkeypatch):
    g = cr.grad(uses_global_scale, method="source")
    assert g(1.0) == 4.0
    monkeypatch.setattr(sys.modules[__name__], "SCALE", 3.0)
    assert uses_global_scale(1.0) == 3.0
    assert cr.grad(uses_global_scale)(1.0) == 6.0
    assert cr.value_and_grad(uses_global_scale, method="source")(1.0) == (3.0, 6.0)
    assert cr.grad(uses_global_scale, method="source")(1.0) == 6.0
    assert g(1.0) == 6.0
