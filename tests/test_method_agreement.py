"""The non-AD methods against the overload method, on the programs of the two corpora:
`method="numeric"` (central differences) and `method="symbolic"` (trace on symbols,
differentiate, simplify, compile) must give the derivatives of `method="overload"`.

The programs are not copied: they are the `CORPUS` lists of tests/test_graph_corpus.py (83
programs, `Program`) and tests/test_source_corpus.py (`Case`), imported, with the argument
numbers and the derivative kinds each one declares there:

- graph corpus: `grad` for a scalar output, `jacrev` and `jacfwd` always, `hessian` where the
  program allows it (`hessian=True`, a scalar output, at most 12 inputs);
- source corpus: `grad` for a scalar output (`jacrev` otherwise), `jvp` along the corpus's own
  random tangent, `hessian` for one scalar input (its "second" checks) and, for `jac=True`,
  `jacrev`, `jacfwd` and `hessian` (scalar output). The function differentiated is the one the
  overload method differentiates there (the `ref=` twin where there is one).

Nothing is skipped silently. Each exclusion below is a named list with its reason: a program
that finite differences cannot reach, or on which the overload reference is not the derivative
of the function on purpose, runs as `xfail(strict=True)`; so does a known symbolic limitation.
Programs whose control flow depends on the values of their arguments must make the symbolic
method raise `cr.symbolic.SymbolicError`, and that is asserted. Only the programs whose
symbolic derivative takes seconds (expression swell) are not run, for time, in a named list."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import test_graph_corpus as G
import test_source_corpus as S

# Tolerances of central differences against exact derivatives (float64, eps ~ 2.2e-16).
# First order (grad, jacrev, jacfwd, jvp): the step is h ~ eps^(1/3) max(1, |x|) ~ 6e-6, so
# truncation h^2 |f'''| / 6 ~ 1e-11 and round-off eps |f| / h ~ 4e-11 |f|: about 1e-10 for
# functions of size ~1 (the corpora's worst is 2e-10 of the largest entry). rtol 1e-5 leaves
# a margin for outputs of size ~1e3 and steep third derivatives; atol 1e-7 covers the entries
# that are exactly 0 in the reference.
# Second order (hessian): h ~ eps^(1/4) ~ 1.2e-4, truncation h^2 |f''''| / 12 ~ 1e-9 and
# round-off eps |f| / h^2 ~ 1.5e-8 |f|, so about 1e-7 in practice (the corpora's worst is
# 5e-7 of the largest entry): rtol 1e-4, atol 1e-5.
NUMERIC_TOL = {1: dict(rtol=1e-5, atol=1e-7), 2: dict(rtol=1e-4, atol=1e-5)}
# symbolic derivatives are exact up to the rounding of a differently arranged expression
SYMBOLIC_TOL = dict(rtol=1e-10, atol=1e-12)

KINDS = ("grad", "jacrev", "jacfwd", "hessian", "jvp")


@dataclasses.dataclass(frozen=True)
class Item:
    """One corpus program, as the two methods are checked on it."""
    id: str  # "graph-<name>" or "source-<name>"
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    argnums: int | tuple[int, ...]
    kinds: tuple[str, ...]
    tangent: Any = None  # jvp only
    nonfinite_inside: bool = False


def _from_graph(p: G.Program) -> Item:
    scalar = G._is_scalar(p)
    kinds = (("grad",) if scalar else ()) + ("jacrev", "jacfwd")
    if p.hessian and scalar and G._n_inputs(p) <= 12:
        kinds += ("hessian",)
    return Item(f"graph-{p.name}", p.fn, p.args, G._argnums(p), kinds,
                nonfinite_inside=p.nonfinite_inside)


def _from_source(c: S.Case) -> Item:
    scalar = S._scalar_out(c)
    kinds = ("grad" if scalar else "jacrev", "jvp")
    if c.jac:
        kinds += ("jacrev", "jacfwd")
    if scalar and (S._one_scalar_in(c) or c.jac):
        kinds += ("hessian",)
    return Item(f"source-{c.name}", S._reference(c), c.args, S._argnums(c),
                tuple(dict.fromkeys(kinds)),
                tangent=S._random_like(c.args, S._rng_for(c, "tangent")))


# The source corpus's programs that call the `math` module: the overload method cannot run
# them (math.sin refuses a traced value), so there is no overload reference to agree with (the
# source corpus checks them against central differences itself).
NO_OVERLOAD_REFERENCE = {
    "source-math_module_functions": "math.* on a traced value",
    "source-subscript_assignment_against_finite_differences": "math.* on a traced value",
}

ITEMS = [_from_graph(p) for p in G.CORPUS] + [
    _from_source(c) for c in S.CORPUS if f"source-{c.name}" not in NO_OVERLOAD_REFERENCE]

# ---------------------------------------------------------------------------------------------
# method="numeric": what central differences cannot reach

_KINK = "finite differences straddle a kink or a jump"
_NOT_THE_DERIVATIVE = "the overload reference is not the derivative of the function on purpose"
NUMERIC_OUT_OF_REACH: dict[str, str] = {
    "graph-where_trap_at_zero": f"{_KINK}: sqrt at 0 (x +- h is on both sides)",
    "graph-non_smooth_conventions": f"{_KINK}: every input sits on a kink of abs, relu, a tie "
                                    f"of maximum/max or a bound of clip",
    "graph-custom_vjp_clip_gradient": f"{_NOT_THE_DERIVATIVE}: a custom_vjp clips the gradient "
                                      f"(reverse mode only: jacfwd agrees)",
    "graph-stop_gradient_product": f"{_NOT_THE_DERIVATIVE}: stop_gradient drops a term",
    "graph-bisection_then_newton": "hessian only: AD differentiates the last Newton step with "
                                   "the bisected y held constant (its second derivative is 0); "
                                   "the function itself is ~sqrt(a), with f'' = -a^(-3/2)/4",
    "source-stop_gradient": f"{_NOT_THE_DERIVATIVE}: stop_gradient drops a term",
    "source-custom_vjp_function": f"{_NOT_THE_DERIVATIVE}: a custom_vjp rule (reverse mode: "
                                  f"jvp agrees)",
    "source-bisection_bracket_depends_on_input": f"{_KINK}: the bisected root is a step "
                                                f"function of a at the scale 1e-9 < h",
    "source-integer_side_computation_steers_loop": f"{_KINK}: int(x * 1000) is a step "
                                                   f"function",
    "source-conjugate_gradient_vector_output": f"{_KINK}: the iteration count (break when "
                                               f"r.r < 1e-20) is 3 at A, 4 or 5 at A +- h e_ij",
}
# the kinds that do agree on those programs
NUMERIC_AGREES_ANYWAY = {
    "graph-custom_vjp_clip_gradient": ("jacfwd",),
    "graph-bisection_then_newton": ("grad", "jacrev", "jacfwd"),
    "source-custom_vjp_function": ("jvp",),
}

# ---------------------------------------------------------------------------------------------
# method="symbolic"

# Python control flow (if, while, bool(), int(), min/max builtins, an assert) on an argument's
# value, or a `cr.while_loop` (a data-dependent trip count): no closed-form expression, so
# tracing on symbols must raise SymbolicError for every kind.
SYMBOLIC_REFUSES = {f"graph-{p.name}" for p in G.CORPUS if p.branches_on_value} | {
    "graph-newton_sqrt_while_loop", "graph-newton_sqrt_while_loop_9",
    "graph-newton_cube_root_int_counter", "graph-bisection_then_newton",
    "graph-fixed_point_cos_while", "graph-while_loop_inside_scan",
} | {f"source-{name}" for name in (
    "abs_max_min_builtins", "adaptive_step_ode", "arctan_reduction_helper_series",
    "arctan_reduction_helper_series_small", "augmented_subscript_assignment_data_dependent_index",
    "bisection_bracket_depends_on_input", "chained_comparison_and_or",
    "chained_comparison_and_or_elif", "clamp_then_lerp", "conditional_expressions_other",
    "conditional_expressions_taken", "conjugate_gradient_vector_output",
    "early_return_inside_loop_not_taken", "early_return_inside_loop_taken",
    "early_return_on_first_negative_element", "exp_series_until_tolerance",
    "fixed_point_iteration", "for_containing_while", "geometric_series_until_tolerance",
    "helper_with_early_return_called_in_loop", "himmelblau_with_log_branch",
    "huber_loss_elementwise_branches", "if_elif_inside_while",
    "integer_side_computation_steers_loop", "inverse_function_newton_helpers", "kepler_newton",
    "lgamma_shift_while_then_stirling", "log1p_series_while_true_break",
    "matrix_row_subscript_assignment_with_branch", "median_of_three_sorted",
    "newton_cbrt_break_on_tolerance", "newton_sqrt_while_tolerance",
    "partial_sum_break_when_large", "piecewise_if_elif_else_left",
    "piecewise_if_elif_else_middle", "piecewise_if_elif_else_right", "power_iteration_break",
    "prefix_sum_continue_and_break", "projectile_until_landing", "raise_and_assert_guards",
    "return_from_nested_loops", "running_maximum_by_branch", "sequential_ifs_without_else",
    "sin_series_alternating", "smooth_abs_early_return", "softplus_branches",
    "softplus_branches_large", "stable_quadratic_root", "swap_by_tuple_assignment_in_branch",
    "trip_count_from_int_of_value", "variables_defined_in_branches",
    "variables_defined_in_branches_else", "while_containing_for",
    "zip_over_two_lists_with_branch", "project_to_unit_ball_branch", "while_not_done_flag",
)}

_LINALG = "np.linalg on an object array of symbols (symbolic expressions are scalar)"
# known symbolic limitations: program -> (reason, the exception they raise today)
SYMBOLIC_KNOWN: dict[str, tuple[str, type[BaseException] | tuple[type[BaseException], ...]]] = {
    **{f"graph-{n}": (_LINALG, TypeError) for n in (
        "linalg_eigh_eigenvalues",)},
    **{f"source-{n}": (_LINALG, TypeError) for n in (
        "det_with_sign_branch", "newton_for_nonlinear_system", "eigh_namedtuple_result_unpacked")},
    "graph-complex_intermediate_modulus": ("symbolic expressions are real-valued", TypeError),
    "source-boolean_mask_fancy_index_no_slices": ("x[x > 0] on symbols: the mask is an object "
                                                  "array of expressions, NumPy refuses it as "
                                                  "an index (a SymbolicError would say why)",
                                                  IndexError),
}
SYMBOLIC_AGREES_ANYWAY: dict[str, tuple[str, ...]] = {}

# Expression swell: the symbolic derivative of these (long unrolled loops: leapfrog and Verlet
# integrators, an RNN's Hessian) is correct but takes seconds to minutes to simplify and
# compile (measured: spring_leapfrog_fori's hessian 320 s, spring_chain_verlet's 100 s; the
# shortest listed here take 2 to 5 s). They are not run here, for time only; every other kind
# of the same program is.
SYMBOLIC_SWELL: dict[str, tuple[str, ...]] = {
    "graph-spring_leapfrog_fori": KINDS,
    "source-spring_chain_verlet": KINDS,
    "source-damped_oscillator_leapfrog": KINDS,
    "source-periodic_springs_roll_no_slices": KINDS,
    "source-two_body_leapfrog": KINDS,
    "source-rk4_ode_steps": KINDS,
    "source-rnn_over_time_steps": ("hessian",),
    "source-sinkhorn_iterations": ("grad", "jvp"),
    "source-logistic_regression_loss": ("hessian",),
    "source-gated_rnn_vector_output": KINDS,
    "source-tuple_params_lstm_like": KINDS,
    "source-softmax_entropy_with_temperature": ("hessian",),
    "source-pendulum_helper_returns_tuple_in_loop": ("hessian",),
}

# ---------------------------------------------------------------------------------------------
# running one kind of derivative


def _derivative(item: Item, kind: str, **method: Any) -> Any:
    if kind == "jvp":
        return cr.jvp(item.fn, item.args, item.tangent, **method)
    transform = getattr(cr, kind)
    return transform(item.fn, argnums=item.argnums, **method)(*item.args)


def _assert_same(got: Any, want: Any, rtol: float, atol: float) -> None:
    g_leaves, g_td = cr.tree.flatten(got)
    w_leaves, w_td = cr.tree.flatten(want)
    assert g_td == w_td, f"structure {g_td} differs from {w_td}"
    for k, (a, b) in enumerate(zip(g_leaves, w_leaves)):
        if a is None or b is None:
            assert a is b, f"leaf {k}: {a!r} vs {b!r}"
            continue
        assert np.shape(a) == np.shape(b), f"leaf {k}: shape {np.shape(a)} vs {np.shape(b)}"
        np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=rtol,
                                   atol=atol, err_msg=f"leaf {k}")


class _known:
    """`with _known(item, method):` around a check. The exception of a known failure (an xfail
    of this file) keeps its type and message but loses its traceback below the test's own frame
    and its chained exceptions: pytest formats an xfail's traceback like a failure's, parsing
    every file of every frame, for a report it does not show (that was half of this file's run
    time). Any other exception propagates untouched, with its whole traceback."""

    def __init__(self, item: Item, method: str) -> None:
        self.expected: Any = ()
        if method == "numeric" and item.id in NUMERIC_OUT_OF_REACH:
            self.expected = AssertionError
        elif method == "symbolic" and item.id in SYMBOLIC_KNOWN:
            self.expected = SYMBOLIC_KNOWN[item.id][1]

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is not None and self.expected and isinstance(exc, self.expected):
            tb.tb_next = None
            exc.__traceback__ = tb
            exc.__cause__ = exc.__context__ = None
        return False


def _params(method: str) -> list[Any]:
    """(item, kind) pairs, item by item (so that the symbolic cache, shared by jacrev and
    jacfwd, is warm for the second), each with its marks."""
    out = []
    for item in ITEMS:
        for kind in item.kinds:
            marks = []
            if item.nonfinite_inside:
                marks.append(pytest.mark.filterwarnings("ignore::RuntimeWarning"))
            if method == "numeric":
                if item.id in NUMERIC_OUT_OF_REACH and \
                        kind not in NUMERIC_AGREES_ANYWAY.get(item.id, ()):
                    marks.append(pytest.mark.xfail(strict=True, raises=AssertionError,
                                                   reason=NUMERIC_OUT_OF_REACH[item.id]))
            else:
                if kind in SYMBOLIC_SWELL.get(item.id, ()):
                    continue
                if item.id in SYMBOLIC_KNOWN and \
                        kind not in SYMBOLIC_AGREES_ANYWAY.get(item.id, ()):
                    reason, raises = SYMBOLIC_KNOWN[item.id]
                    marks.append(pytest.mark.xfail(strict=True, raises=raises, reason=reason))
            out.append(pytest.param(item, kind, id=f"{item.id}-{kind}", marks=marks))
    return out


NUMERIC_PARAMS = _params("numeric")
SYMBOLIC_PARAMS = _params("symbolic")


def test_the_exclusion_lists_name_corpus_programs():
    ids = {item.id for item in ITEMS}
    assert len(ids) == len(ITEMS)
    assert len(ITEMS) >= 250
    for table in (NUMERIC_OUT_OF_REACH, NUMERIC_AGREES_ANYWAY, SYMBOLIC_REFUSES, SYMBOLIC_KNOWN,
                  SYMBOLIC_AGREES_ANYWAY, SYMBOLIC_SWELL):
        assert set(table) <= ids, set(table) - ids
    assert not set(SYMBOLIC_REFUSES) & set(SYMBOLIC_KNOWN)
    assert not set(SYMBOLIC_REFUSES) & set(SYMBOLIC_SWELL)
    # the programs without an overload reference are exactly the corpus's fd_tol ones
    assert set(NO_OVERLOAD_REFERENCE) == {f"source-{c.name}" for c in S.CORPUS
                                          if c.fd_tol is not None}


@pytest.mark.parametrize("item,kind", NUMERIC_PARAMS)
def test_numeric_agrees_with_overload(item, kind):
    want = _derivative(item, kind)
    with _known(item, "numeric"):
        got = _derivative(item, kind, method="numeric")
        _assert_same(got, want, **NUMERIC_TOL[2 if kind == "hessian" else 1])


@pytest.mark.parametrize("item,kind", SYMBOLIC_PARAMS)
def test_symbolic_agrees_with_overload_or_refuses_value_dependent_control_flow(item, kind):
    if item.id in SYMBOLIC_REFUSES:
        with pytest.raises(cr.symbolic.SymbolicError):
            _derivative(item, kind, method="symbolic")
        return
    want = _derivative(item, kind)
    with _known(item, "symbolic"):
        got = _derivative(item, kind, method="symbolic")
        _assert_same(got, want, **SYMBOLIC_TOL)


# ---------------------------------------------------------------------------------------------
# method="source" on the graph corpus (the source corpus checks source itself)
#
# This is how a lambda continued on the next line (`lambda A: f(A)\n + g(A)`) was found
# transformed without its second line: inspect gives the first line only, which parses alone.

SOURCE_TOL = dict(rtol=1e-9, atol=1e-12)
# constructs the source transformer refuses, by name (TransformError): `with` (np.errstate) and
# a call of a function computed from differentiated values (an inner transform's result)
SOURCE_REFUSES = {
    "graph-where_trap_at_zero": "with", "graph-where_on_an_inner_gradient": "with",
    "graph-perturbation_confusion": "a call of _t1, a function computed from",
    "graph-per_example_loss_vmap": "a call of _t1, a function computed from",
}
SOURCE_KNOWN = {
    ("graph-gaussian_loglik_slogdet_solve", "hessian"):
        "forward over the generated reverse code gives np.linalg.solve's VJP rule a (3,) "
        "tangent for its (6, 3) right-hand side: a crash (ValueError from jvp's check), no "
        "value",
}
SOURCE_PARAMS = [
    pytest.param(item, kind, id=f"{item.id}-{kind}", marks=(
        [pytest.mark.filterwarnings("ignore::RuntimeWarning")] if item.nonfinite_inside else [])
        + ([pytest.mark.xfail(strict=True, raises=ValueError,
                              reason=SOURCE_KNOWN[(item.id, kind)])]
           if (item.id, kind) in SOURCE_KNOWN else []))
    for item in ITEMS if item.id.startswith("graph-") for kind in item.kinds if kind != "jvp"]


@pytest.mark.parametrize("item,kind", SOURCE_PARAMS)
def test_source_agrees_with_overload_on_the_graph_corpus_or_names_the_construct(item, kind):
    if item.id in SOURCE_REFUSES:
        with pytest.raises(cr.source.TransformError, match=SOURCE_REFUSES[item.id]):
            _derivative(item, kind, method="source")
        return
    want = _derivative(item, kind)
    _assert_same(_derivative(item, kind, method="source"), want, **SOURCE_TOL)
