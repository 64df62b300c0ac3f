"""The interpreters of `cr.explain`, which build its tables from a real run.

`record` runs the function under `RecordTrace`, a small interpreter of the rule table that computes
on plain values and writes one equation vᵢ = primitive(operands) per primitive that met a recorded
value. `rule_tangent` and `rule_contribution` run a primitive's JVP rule, and its reverse rule
(`chainrule._core.rules.pull_back`: the VJP, or the transpose), on operands of `SymTrace`, which
computes the plain numbers and records the operations the rule performs as an expression: so the
expression shown in a row is the one the rule computed, and the number is the rule's number.
Nothing here knows a derivative.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import ops as _ops  # noqa: F401  (registers every primitive)
from .._core.errors import ChainruleError, LeakedTracerError
from .._core.primitive import (
    Primitive,
    Trace,
    Tracer,
    dead_trace_message,
    dtype_of,
    open_trace,
    shape_of,
)
from .._core.rules import Zero, pull_back
from ..ops.elementwise import select_p, strong_mask_p
from .model import MASKED, Apply, Eqn, Num, Ref, params_key, replace


class ExplainError(ChainruleError, ValueError):
    """The function cannot be shown as a trace table (non-scalar values, multiple outputs...)."""


# ---------------------------------------------------------------------------------------------
# recording the program: one equation per primitive that ran on a recorded value

class RecordTrace(Trace):
    """Runs each primitive on plain values and appends one equation per primitive that met a
    recorded value. Nondifferentiable primitives (comparisons, floor...) give constants, as in
    every differentiating interpreter, so Python control flow on values just runs."""

    __slots__ = ("eqns", "next_index")

    def __init__(self, level: int, first_index: int) -> None:
        super().__init__(level)
        self.eqns: list[Eqn] = []
        self.next_index = first_index

    def process(self, prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
        if not self.active:
            raise LeakedTracerError(dead_trace_message(prim.name))
        vals = []
        refs: list[Any] = []
        for a in args:
            if isinstance(a, RecordTracer) and a._trace is self:
                vals.append(a.value)
                refs.append(Ref("v", a.index))
            else:
                vals.append(a)
                refs.append(_constant(a))
        if prim.nondiff:
            return prim.bind(*vals, **params)
        if prim.multiple_results or prim.jvp is None:
            raise ExplainError(
                f"explain shows programs of scalar primitives with a forward rule; "
                f"'{prim.name}' (a multiple-result, control-flow or custom-rule primitive) cannot "
                f"be one row of the trace. Explain a function without it")
        ans = prim.bind(*vals, **params)
        if shape_of(ans) != ():
            raise ExplainError(
                f"explain shows functions of scalars: primitive '{prim.name}' produced a value "
                f"of shape {shape_of(ans)} (operands of shapes "
                f"{[shape_of(v) for v in vals]}); the trace tables have one number per row")
        eqn = Eqn(self.next_index, prim, refs, dict(params), ans)
        self.next_index += 1
        self.eqns.append(eqn)
        return RecordTracer(self, ans, eqn.index)


def _constant(a: Any) -> Any:
    if isinstance(a, Tracer):
        raise ExplainError("explain records plain numbers; it met a value traced by another "
                           "transform. Call cr.explain outside cr.grad / cr.jvp / cr.vmap")
    return a


class ValueTracer(Tracer):
    """A tracer carrying its plain value (both of this module's interpreters compute as they
    go): shape, dtype and the concrete value come from it."""

    __slots__ = ("value",)

    @property
    def shape(self) -> tuple[int, ...]:
        return shape_of(self.value)

    @property
    def dtype(self) -> Any:
        return dtype_of(self.value)

    def _below(self) -> Any:
        return self.value

    _concrete = _below


class RecordTracer(ValueTracer):
    __slots__ = ("index",)

    def __init__(self, trace: RecordTrace, value: Any, index: int) -> None:
        self._trace = trace
        self.value = value
        self.index = index

    def __repr__(self) -> str:
        return f"v{self.index}={self.value!r}"


# ---------------------------------------------------------------------------------------------
# running a rule on symbolic operands: values and the expression of the operations performed

class SymTrace(Trace):
    """Each primitive a rule binds is computed on the plain values and recorded as an expression
    node. A `select` on a known scalar condition passes its taken branch through (that is all the
    rule did at this point), and comparisons give constants, so the expression shows the branch
    the rule actually took."""

    __slots__ = ()

    def process(self, prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
        if not self.active:
            raise LeakedTracerError(dead_trace_message(prim.name))
        vals = [a.value if isinstance(a, Sym) and a._trace is self else a for a in args]
        if prim is select_p and np.ndim(vals[0]) == 0 and not isinstance(vals[0], Tracer):
            return args[1] if bool(vals[0]) else args[2]
        if prim is strong_mask_p and _all_scalars(vals):
            # strong_mask(ct, r, t): t, except 0 where the cotangent ct is 0 and the product r
            # is not finite (0 × ∞ counted as 0). Shown as the branch it took, as select is:
            # the internal guard is no part of the mathematics the row shows
            ct, r, _ = vals
            if not (ct == 0 and not np.isfinite(r)):
                return args[2]
            return Sym(self, np.zeros((), dtype_of(vals[2]))[()],
                       Apply(MASKED, (_expr(self, args[0]),)))
        ans = prim.bind(*vals, **params)
        if ans is Zero:  # an operand was the rules' Zero: nothing flows
            return Zero
        if prim.multiple_results:
            raise ExplainError(f"explain cannot show a rule that uses the multiple-result "
                               f"primitive '{prim.name}'")
        if prim.nondiff and np.dtype(dtype_of(ans)) == np.bool_:
            return ans
        expr = Apply(prim.name, tuple(_expr(self, a) for a in args), params_key(params))
        return Sym(self, ans, expr)


def _all_scalars(vals: list[Any]) -> bool:
    return all(np.ndim(v) == 0 and not isinstance(v, Tracer) for v in vals)


def _expr(trace: SymTrace, a: Any) -> Any:
    if isinstance(a, Sym) and a._trace is trace:
        return a.expr
    return Num(a)


class Sym(ValueTracer):
    __slots__ = ("expr",)

    def __init__(self, trace: SymTrace, value: Any, expr: Any) -> None:
        self._trace = trace
        self.value = value
        self.expr = expr

    def __repr__(self) -> str:
        return f"Sym({self.expr!r}={self.value!r})"


def result(trace: SymTrace, out: Any) -> tuple[float, Any]:
    """(number, expression) of what a rule returned."""
    if out is Zero or out is None:
        return 0.0, Num(0.0)
    if isinstance(out, Sym) and out._trace is trace:
        return scalar(out.value), out.expr
    return scalar(out), Num(out)


def scalar(x: Any) -> float:
    return float(np.real(np.asarray(x)).reshape(()))


# ---------------------------------------------------------------------------------------------
# the run, and its rows numbered as the textbook does

def record(f: Callable[..., Any], point: Sequence[float]) -> tuple[list[Eqn], int | float]:
    """Run `f` on recorded inputs v₁₋ₙ … v₀ holding `point`: the equations of the run, in the
    order the primitives ran, and the output (the index of its row, or a constant)."""
    first = 1 - len(point)
    with open_trace(RecordTrace, 1) as trace:
        tracers = [RecordTracer(trace, v, first + k) for k, v in enumerate(point)]
        out = f(*tracers)
    if isinstance(out, (tuple, list, dict)):
        raise ExplainError(f"explain: f must return one scalar; it returned a "
                           f"{type(out).__name__}. Explain one output at a time")
    if not isinstance(out, Tracer) and np.ndim(out) != 0:
        raise ExplainError(f"explain: f must return one scalar; it returned shape "
                           f"{np.shape(out)}")
    if isinstance(out, Tracer) and not (isinstance(out, RecordTracer) and out._trace is trace):
        raise ExplainError("explain: f returned a value traced by another transform")
    output: int | float = out.index if isinstance(out, RecordTracer) else scalar(out)
    return trace.eqns, output


def by_level(eqns: list[Eqn], output: int | float) -> tuple[list[Eqn], int | float]:
    """The rows renumbered level by level: a row's level is one more than its operands'
    highest (inputs are level 0), and rows of one level keep the order in which they ran.
    This is a topological order, like the order of execution, and it is the textbook's
    numbering: in ln(x1) + x1*x2 - sin(x2) Python runs the addition before the sine, but the
    sine is ready as soon as x2 is, so it is v₃ and the addition v₄."""
    level: dict[int, int] = {}
    for e in eqns:
        level[e.index] = 1 + max((level.get(a.index, 0) for a in e.args
                                  if isinstance(a, Ref)), default=0)
    ordered = sorted(eqns, key=lambda e: level[e.index])  # sorted() is stable
    renumber = {e.index: k + 1 for k, e in enumerate(ordered)}
    out = [Eqn(renumber[e.index], e.prim,
               [Ref("v", renumber.get(a.index, a.index)) if isinstance(a, Ref) else a
                for a in e.args],
               e.params, e.value) for e in ordered]
    if isinstance(output, int):
        output = renumber.get(output, output)
    return out, output


# ---------------------------------------------------------------------------------------------
# the rules of one row, run on symbolic operands

def _operand(st: SymTrace, a: Any, kind: str, numbers: dict[int, float]) -> Any:
    """Argument `a` of an equation as the rule sees it: a constant as it is, vⱼ (or v̇ⱼ, by
    `kind`) as a symbolic operand holding its number."""
    if not isinstance(a, Ref):
        return a
    return Sym(st, np.float64(numbers[a.index]), Ref(kind, a.index))


def rule_tangent(e: Eqn, values: dict[int, float], dots: dict[int, float],
                 primal: Any) -> tuple[float, Any]:
    """v̇ᵢ of row `e` by its primitive's JVP rule: the number and the expression the rule
    computed (`primal`, the row's own expression, and the rule's recomputation of it are shown
    as vᵢ)."""
    with open_trace(SymTrace) as st:
        primals = [_operand(st, a, "v", values) for a in e.args]
        tangents = [_operand(st, a, "dot", dots) if isinstance(a, Ref) else Zero
                    for a in e.args]
        ans, ans_dot = e.prim.jvp(primals, tangents, **e.params)  # type: ignore[misc]
        value, expr = result(st, ans_dot)
        if isinstance(ans, Sym) and ans._trace is st:
            expr = replace(expr, ans.expr, Ref("v", e.index))
        expr = replace(expr, primal, Ref("v", e.index))
    return value, expr


def rule_contribution(e: Eqn, pos: int, ct_value: float, values: dict[int, float],
                      primal: Any) -> tuple[float, Any]:
    """v̄ᵢ ∂vᵢ/∂vⱼ for argument `pos` of row i, by the primitive's reverse rule."""
    with open_trace(SymTrace) as st:
        args = [_operand(st, a, "v", values) for a in e.args]
        ct = Sym(st, np.float64(ct_value), Ref("bar", e.index))
        ans = Sym(st, np.asarray(e.value).reshape(())[()], Ref("v", e.index))
        out = pull_back(e.prim, [pos], ct, ans, tuple(args), e.params)[pos]
        value, expr = result(st, out)
        expr = replace(expr, primal, Ref("v", e.index))
    return value, expr


__all__ = ["ExplainError", "RecordTrace", "RecordTracer", "Sym", "SymTrace", "by_level",
           "record", "result", "rule_contribution", "rule_tangent", "scalar"]
