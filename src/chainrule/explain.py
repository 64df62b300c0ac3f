"""`cr.explain`: the evaluation-trace tables of the AD literature, generated from a real run.

    print(cr.explain(f, 2.0, 5.0))          # f(x1, x2) = ln(x1) + x1*x2 - sin(x2)

prints the three tables of Griewank & Walther and of Baydin et al.'s survey: the forward primal
trace (inputs v₁₋ₙ … v₀, then one row vᵢ = primitive(operands) per primitive that ran), the
forward tangent trace for one input, and the reverse adjoint trace (each v̄ⱼ as the sum of the
contributions v̄ᵢ ∂vᵢ/∂vⱼ of the rows that use vⱼ).

Nothing here knows a derivative. The program is recorded by a small interpreter of the rule table
(`_RecordTrace`); each tangent row is the primitive's JVP rule run on symbolic operands
(`_SymTrace` records the operations the rule performs, with their values), and each adjoint
contribution is the primitive's VJP (or transpose) rule run the same way. So the expression shown
in a row is the one the rule computed, and the numbers are the rule's numbers.

`parse_expression` turns a text such as ``"log(x1) + x1*x2 - sin(x2)"`` into a function without
`eval`: the text is parsed with `ast`, checked against a whitelist and interpreted node by node
(the `chainrule explain` command uses it).
"""
from __future__ import annotations

import ast
import inspect
import math
import re
import sys
import types
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import ops as _ops  # noqa: F401  (registers every primitive)
from ._core.errors import ChainruleError, LeakedTracerError
from ._core.primitive import (
    Primitive,
    Trace,
    Tracer,
    dead_trace_message,
    dtype_of,
    open_trace,
    shape_of,
)
from ._core.rules import Zero, pull_back
from .ops.elementwise import select_p

__all__ = ["explain", "Explanation", "Row", "ExplainError", "ExpressionError",
           "parse_expression", "FUNCTIONS", "CONSTANTS"]


class ExplainError(ChainruleError, ValueError):
    """The function cannot be shown as a trace table (non-scalar values, multiple outputs...)."""


class ExpressionError(ChainruleError, ValueError):
    """An expression text was refused: it uses something outside the whitelist. `construct`
    names what was refused, `reason` says why, `allowed` what an expression may contain."""

    def __init__(self, reason: str, construct: str = "", allowed: str = "") -> None:
        super().__init__(reason + (f"; {allowed}" if allowed else ""))
        self.reason = reason
        self.construct = construct
        self.allowed = allowed


# ---------------------------------------------------------------------------------------------
# the public record of a trace

@dataclass(frozen=True)
class Row:
    """One variable vᵢ of the evaluation trace.

    `index` is i (inputs are numbered 1-n … 0, the primitives' rows 1, 2, ... by level, or in
    the order they ran with `order="run"`);
    `name` is the input's name (None for other rows); `primitive` the primitive's name (None for
    an input); `operands` one entry per argument: an int is the index j of vⱼ, a float a
    constant. `value` is vᵢ, `tangent` v̇ᵢ for the chosen input, `adjoint` v̄ᵢ, and
    `adjoint_terms` the contributions (k, v̄ₖ ∂vₖ/∂vᵢ) that were summed into it, by row k.
    """

    index: int
    name: str | None
    primitive: str | None
    operands: tuple[int | float, ...]
    value: float
    tangent: float
    adjoint: float
    adjoint_terms: tuple[tuple[int, float], ...]


# ---------------------------------------------------------------------------------------------
# expressions, for display only: what a rule computed, as a tree of primitive applications

@dataclass(frozen=True)
class _Ref:
    """vᵢ (kind "v"), v̇ᵢ ("dot"), v̄ᵢ ("bar"), or the seed ȳ ("seed")."""

    kind: str
    index: int


@dataclass(frozen=True)
class _Num:
    value: Any


@dataclass(frozen=True)
class _Apply:
    prim: str
    args: tuple[Any, ...]
    params: tuple[tuple[str, str], ...] = ()


def _params_key(params: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((k, repr(v)) for k, v in params.items())


def _replace(e: Any, old: Any, new: Any) -> Any:
    """`e` with every subtree equal to `old` replaced by `new` (the rule's recomputation of the
    row's own primitive is shown as vᵢ)."""
    if e == old:
        return new
    if isinstance(e, _Apply):
        return _Apply(e.prim, tuple(_replace(a, old, new) for a in e.args), e.params)
    return e


# ---------------------------------------------------------------------------------------------
# recording the program: one row per primitive that ran on a recorded value

@dataclass
class _Eqn:
    index: int
    prim: Primitive
    args: list[Any]         # _Ref('v', j): a recorded variable; anything else: a constant
    params: dict[str, Any]
    value: Any


class _RecordTrace(Trace):
    """Runs each primitive on plain values and appends one equation per primitive that met a
    recorded value. Nondifferentiable primitives (comparisons, floor...) give constants, as in
    every differentiating interpreter, so Python control flow on values just runs."""

    __slots__ = ("eqns", "next_index")

    def __init__(self, level: int, first_index: int) -> None:
        super().__init__(level)
        self.eqns: list[_Eqn] = []
        self.next_index = first_index

    def process(self, prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
        if not self.active:
            raise LeakedTracerError(dead_trace_message(prim.name))
        vals = []
        refs: list[Any] = []
        for a in args:
            if isinstance(a, _RecordTracer) and a._trace is self:
                vals.append(a.value)
                refs.append(_Ref("v", a.index))
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
        eqn = _Eqn(self.next_index, prim, refs, dict(params), ans)
        self.next_index += 1
        self.eqns.append(eqn)
        return _RecordTracer(self, ans, eqn.index)


def _constant(a: Any) -> Any:
    if isinstance(a, Tracer):
        raise ExplainError("explain records plain numbers; it met a value traced by another "
                           "transform. Call cr.explain outside cr.grad / cr.jvp / cr.vmap")
    return a


class _ValueTracer(Tracer):
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


class _RecordTracer(_ValueTracer):
    __slots__ = ("index",)

    def __init__(self, trace: _RecordTrace, value: Any, index: int) -> None:
        self._trace = trace
        self.value = value
        self.index = index

    def __repr__(self) -> str:
        return f"v{self.index}={self.value!r}"


# ---------------------------------------------------------------------------------------------
# running a rule on symbolic operands: values and the expression of the operations performed

class _SymTrace(Trace):
    """Each primitive a rule binds is computed on the plain values and recorded as an expression
    node. A `select` on a known scalar condition passes its taken branch through (that is all the
    rule did at this point), and comparisons give constants, so the expression shows the branch
    the rule actually took."""

    __slots__ = ()

    def process(self, prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
        if not self.active:
            raise LeakedTracerError(dead_trace_message(prim.name))
        vals = [a.value if isinstance(a, _Sym) and a._trace is self else a for a in args]
        if prim is select_p and np.ndim(vals[0]) == 0 and not isinstance(vals[0], Tracer):
            return args[1] if bool(vals[0]) else args[2]
        ans = prim.bind(*vals, **params)
        if ans is Zero:  # an operand was the rules' Zero: nothing flows
            return Zero
        if prim.multiple_results:
            raise ExplainError(f"explain cannot show a rule that uses the multiple-result "
                               f"primitive '{prim.name}'")
        if prim.nondiff and np.dtype(dtype_of(ans)) == np.bool_:
            return ans
        expr = _Apply(prim.name, tuple(_expr(self, a) for a in args), _params_key(params))
        return _Sym(self, ans, expr)


def _expr(trace: _SymTrace, a: Any) -> Any:
    if isinstance(a, _Sym) and a._trace is trace:
        return a.expr
    return _Num(a)


class _Sym(_ValueTracer):
    __slots__ = ("expr",)

    def __init__(self, trace: _SymTrace, value: Any, expr: Any) -> None:
        self._trace = trace
        self.value = value
        self.expr = expr

    def __repr__(self) -> str:
        return f"_Sym({self.expr!r}={self.value!r})"


def _result(trace: _SymTrace, out: Any) -> tuple[float, Any]:
    """(number, expression) of what a rule returned."""
    if out is Zero or out is None:
        return 0.0, _Num(0.0)
    if isinstance(out, _Sym) and out._trace is trace:
        return _scalar(out.value), out.expr
    return _scalar(out), _Num(out)


def _scalar(x: Any) -> float:
    return float(np.real(np.asarray(x)).reshape(()))


# ---------------------------------------------------------------------------------------------
# explain

def explain(f: Callable[..., Any], *args: Any, wrt: int | str = 0, digits: int = 3,
            names: Sequence[str] | None = None, order: str = "level") -> Explanation:
    """The evaluation-trace tables of `f` at the scalar arguments `args`.

    `wrt` picks the input of the tangent trace, by position or by name. `names` names the
    inputs (default: `f`'s parameter names, else x1, x2, ...). `digits` is the number of decimals
    printed. `order="level"` numbers the rows level by level, as the textbook does (an operation
    as soon as its operands are ready); `order="run"` in the order the primitives ran. `str()` of
    the result gives the three tables, `.to_markdown()` the same as Markdown, `.rows` the numbers
    (see `Row`).
    """
    if not callable(f):
        raise TypeError(f"explain: f must be a function, got {type(f).__name__}")
    if not args:
        raise TypeError("explain: give the point, one scalar per input of f: "
                        "cr.explain(f, 2.0, 5.0)")
    if isinstance(digits, bool) or not isinstance(digits, (int, np.integer)) or digits < 0:
        raise ValueError(f"explain: digits={digits!r}; give a number of decimals >= 0")
    point = [_input_value(a, k) for k, a in enumerate(args)]
    input_names = _input_names(f, len(point), names)
    wrt_pos = _wrt_position(wrt, input_names)
    n = len(point)
    first = 1 - n

    with open_trace(_RecordTrace, 1) as trace:
        tracers = [_RecordTracer(trace, v, first + k) for k, v in enumerate(point)]
        out = f(*tracers)
    if isinstance(out, (tuple, list, dict)):
        raise ExplainError(f"explain: f must return one scalar; it returned a "
                           f"{type(out).__name__}. Explain one output at a time")
    if not isinstance(out, Tracer) and np.ndim(out) != 0:
        raise ExplainError(f"explain: f must return one scalar; it returned shape "
                           f"{np.shape(out)}")
    if isinstance(out, Tracer) and not (isinstance(out, _RecordTracer) and out._trace is trace):
        raise ExplainError("explain: f returned a value traced by another transform")
    output: int | float = out.index if isinstance(out, _RecordTracer) else _scalar(out)
    if order == "level":
        eqns, output = _by_level(trace.eqns, output)
    elif order == "run":
        eqns = trace.eqns
    else:
        raise ValueError(f"explain: order={order!r}; give 'level' (the textbook numbering) or "
                         f"'run' (the order the primitives ran)")
    return Explanation(point, input_names, wrt_pos, eqns, output, digits)


def _by_level(eqns: list[_Eqn], output: int | float) -> tuple[list[_Eqn], int | float]:
    """The rows renumbered level by level: a row's level is one more than its operands'
    highest (inputs are level 0), and rows of one level keep the order in which they ran.
    This is a topological order, like the order of execution, and it is the textbook's
    numbering: in ln(x1) + x1*x2 - sin(x2) Python runs the addition before the sine, but the
    sine is ready as soon as x2 is, so it is v₃ and the addition v₄."""
    level: dict[int, int] = {}
    for e in eqns:
        level[e.index] = 1 + max((level.get(a.index, 0) for a in e.args
                                  if isinstance(a, _Ref)), default=0)
    ordered = sorted(eqns, key=lambda e: level[e.index])  # sorted() is stable
    renumber = {e.index: k + 1 for k, e in enumerate(ordered)}
    out = [_Eqn(renumber[e.index], e.prim,
                [_Ref("v", renumber.get(a.index, a.index)) if isinstance(a, _Ref) else a
                 for a in e.args],
                e.params, e.value) for e in ordered]
    if isinstance(output, int):
        output = renumber.get(output, output)
    return out, output


def _input_value(a: Any, k: int) -> float:
    if isinstance(a, Tracer):
        raise ExplainError("explain records plain numbers; argument "
                           f"{k} is traced by another transform. Call cr.explain outside it")
    if np.ndim(a) != 0:
        raise TypeError(f"explain: argument {k} has shape {np.shape(a)}; the trace tables are "
                        f"for functions of scalars (one number per row)")
    x = np.asarray(a)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"explain: argument {k} is {x.dtype}; give a real number")
    return float(x)


def _input_names(f: Callable[..., Any], n: int, names: Sequence[str] | None) -> list[str]:
    if names is not None:
        got = [str(s) for s in names]
        if len(got) != n:
            raise ValueError(f"explain: names has {len(got)} entries for {n} argument(s)")
        if len(set(got)) != n:
            raise ValueError(f"explain: names {got} repeat a name; give one name per input")
        return got
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        params = []
    positional = [p.name for p in params
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) == n and all(p.kind != p.VAR_POSITIONAL for p in params):
        return positional
    return [f"x{k + 1}" for k in range(n)]


def _wrt_position(wrt: int | str, names: list[str]) -> int:
    if isinstance(wrt, str):
        if wrt not in names:
            raise ValueError(f"explain: wrt={wrt!r} is not an input; the inputs are "
                             f"{', '.join(names)}")
        return names.index(wrt)
    if isinstance(wrt, bool) or not isinstance(wrt, (int, np.integer)):
        raise TypeError(f"explain: wrt={wrt!r}; give an input's position or name")
    if not -len(names) <= wrt < len(names):
        raise ValueError(f"explain: wrt={wrt} but f has {len(names)} input(s)")
    return int(wrt) % len(names)


class Explanation:
    """The evaluation trace of one run: `str()` prints the tables, `.to_markdown()` gives them
    as Markdown, `.rows` the numbers. `.value` is f's value, `.tangent` its derivative along the
    chosen input, `.gradient` the adjoints x̄ of all inputs."""

    def __init__(self, point: list[float], names: list[str], wrt: int, eqns: list[_Eqn],
                 output: int | float, digits: int) -> None:
        self.digits = digits
        self.names = list(names)
        self.wrt = wrt
        self._n = n = len(point)
        self._eqns = eqns
        self._output = output
        first = 1 - n
        self._values: dict[int, float] = {first + k: v for k, v in enumerate(point)}
        for e in eqns:
            self._values[e.index] = _scalar(e.value)
        self._primal_exprs = {e.index: _Apply(e.prim.name, tuple(_operand(a) for a in e.args),
                                              _params_key(e.params)) for e in eqns}
        self._tangent_pass(first)
        self._adjoint_pass(first)
        self.rows = self._make_rows(first)
        self.value = self._values[output] if isinstance(output, int) else float(output)
        self.tangent = self._dots[output] if isinstance(output, int) else 0.0
        self.gradient = tuple(self._bars[first + k] for k in range(n))

    # -- the two derivative passes, each by the rules --------------------------------------
    def _tangent_pass(self, first: int) -> None:
        self._dots: dict[int, float] = {first + k: float(k == self.wrt) for k in range(self._n)}
        self._dot_exprs: dict[int, Any] = {}
        for e in self._eqns:
            with open_trace(_SymTrace) as st:
                primals = [self._sym(st, a, "v") for a in e.args]
                tangents = [self._sym(st, a, "dot") if isinstance(a, _Ref) else Zero
                            for a in e.args]
                ans, ans_dot = e.prim.jvp(primals, tangents, **e.params)  # type: ignore[misc]
                value, expr = _result(st, ans_dot)
                if isinstance(ans, _Sym) and ans._trace is st:
                    expr = _replace(expr, ans.expr, _Ref("v", e.index))
                expr = _replace(expr, self._primal_exprs[e.index], _Ref("v", e.index))
            self._dots[e.index] = value
            self._dot_exprs[e.index] = expr

    def _adjoint_pass(self, first: int) -> None:
        indices = list(range(first, 1)) + [e.index for e in self._eqns]
        self._bars: dict[int, float] = dict.fromkeys(indices, 0.0)
        # contributions to v̄ⱼ, by the row i that sent them: i -> (value, expression)
        self._terms: dict[int, dict[int, list[tuple[float, Any]]]] = {j: {} for j in indices}
        self._seeded = isinstance(self._output, int)
        if self._seeded:
            self._bars[self._output] = 1.0  # type: ignore[index]
        # the tape's order: from the last row to the first, each row's adjoint complete when
        # it is reached (later rows are the only ones that use it)
        for e in reversed(self._eqns):
            ct_value = self._bars[e.index]
            for pos, a in enumerate(e.args):
                if not isinstance(a, _Ref):
                    continue
                value, expr = self._contribution(e, pos, ct_value)
                self._terms[a.index].setdefault(e.index, []).append((value, expr))
                self._bars[a.index] += value

    def _contribution(self, e: _Eqn, pos: int, ct_value: float) -> tuple[float, Any]:
        """v̄ᵢ ∂vᵢ/∂vⱼ for argument `pos` of row i, by the primitive's reverse rule."""
        prim = e.prim
        with open_trace(_SymTrace) as st:
            args = [self._sym(st, a, "v") for a in e.args]
            ct = _Sym(st, np.float64(ct_value), _Ref("bar", e.index))
            ans = _Sym(st, np.asarray(e.value).reshape(())[()], _Ref("v", e.index))
            out = pull_back(prim, [pos], ct, ans, tuple(args), e.params)[pos]
            value, expr = _result(st, out)
            expr = _replace(expr, self._primal_exprs[e.index], _Ref("v", e.index))
        return value, expr

    def _sym(self, st: _SymTrace, a: Any, kind: str) -> Any:
        if not isinstance(a, _Ref):
            return a
        value = self._values[a.index] if kind == "v" else self._dots[a.index]
        return _Sym(st, np.float64(value), _Ref(kind, a.index))

    # -- rows ------------------------------------------------------------------------------
    def _make_rows(self, first: int) -> list[Row]:
        rows = []
        for k in range(self._n):
            i = first + k
            rows.append(Row(i, self.names[k], None, (), self._values[i], self._dots[i],
                            self._bars[i], self._term_values(i)))
        for e in self._eqns:
            i = e.index
            operands = tuple(a.index if isinstance(a, _Ref) else _scalar(a) for a in e.args)
            rows.append(Row(i, None, e.prim.name, operands, self._values[i], self._dots[i],
                            self._bars[i], self._term_values(i)))
        return rows

    def _term_values(self, j: int) -> tuple[tuple[int, float], ...]:
        return tuple((i, sum(v for v, _ in terms)) for i, terms in sorted(self._terms[j].items()))

    # -- printing ----------------------------------------------------------------------------
    def _labels(self) -> tuple[str, str, str]:
        """(output, its tangent, its adjoint): y, ẏ, ȳ (f when an input is called y)."""
        base = "f" if any(_split_name(s)[0] == "y" for s in self.names) else "y"
        return base, base + _DOT, base + _BAR

    def _tables(self, digits: int) -> list[tuple[str, list[list[str]], list[float | None]]]:
        """Each table: its title, its rows of text cells, and the number ending each row."""
        r = _Renderer(digits, self)
        first = 1 - self._n
        y, y_dot, y_bar = self._labels()
        primal: list[list[str]] = []
        tangent: list[list[str]] = []
        nums_p: list[float | None] = []
        nums_t: list[float | None] = []
        for k, name in enumerate(self.names):
            i = first + k
            primal.append([r.ref(_Ref("v", i)), _display_name(name)])
            nums_p.append(self._values[i])
            tangent.append([r.ref(_Ref("dot", i)), _mark_name(name, _DOT)])
            nums_t.append(self._dots[i])
        for e in self._eqns:
            primal.append([r.ref(_Ref("v", e.index)), r.text(self._primal_exprs[e.index])])
            nums_p.append(self._values[e.index])
            tangent.append([r.ref(_Ref("dot", e.index)), r.text(self._dot_exprs[e.index])])
            nums_t.append(self._dots[e.index])
        out = self._output
        primal.append([y, r.ref(_Ref("v", out)) if isinstance(out, int) else r.num(out)])
        nums_p.append(self.value)
        tangent.append([y_dot, r.ref(_Ref("dot", out)) if isinstance(out, int) else "0"])
        nums_t.append(self.tangent)

        adjoint: list[list[str]] = []
        nums_a: list[float | None] = []
        for j in sorted(self._bars, reverse=True):
            partials: list[str] = []
            rules: list[Any] = []  # the expressions the reverse rules computed
            if self._seeded and j == out:
                partials.append(y_bar)
                rules.append(_Ref("seed", 0))
            for i, terms in sorted(self._terms[j].items()):
                partials.append(f"{r.ref(_Ref('bar', i))} ∂{r.ref(_Ref('v', i))}"
                                f"/∂{r.ref(_Ref('v', j))}")
                rules.extend(x for _, x in terms)
            if not partials:
                partials = ["0"]
            cells = [r.ref(_Ref("bar", j)), " + ".join(partials)]
            rule_text = r.sum(rules)
            cells.append("" if rule_text in ("", cells[1]) else rule_text)
            adjoint.append(cells)
            nums_a.append(self._bars[j])
        for k, name in enumerate(self.names):
            adjoint.append([_mark_name(name, _BAR), r.ref(_Ref("bar", first + k)), ""])
            nums_a.append(self._bars[first + k])
        wrt_name = _display_name(self.names[self.wrt])
        return [("Forward primal trace", primal, nums_p),
                (f"Forward tangent trace, w.r.t. {wrt_name}", tangent, nums_t),
                ("Reverse adjoint trace", adjoint, nums_a)]

    def __str__(self) -> str:
        blocks = []
        for title, cells, nums in self._tables(self.digits):
            blocks.append("\n".join([title, *_layout(cells, nums, self.digits)]))
        return _nfc("\n\n".join(blocks))

    def to_markdown(self) -> str:
        """The three tables as Markdown (one table per trace, its title in bold above it)."""
        heads = {"Forward primal trace": ["vᵢ", "expression", "value"],
                 "Reverse adjoint trace": ["v̄ᵢ", "sum of", "by the rules", "value"]}
        blocks = []
        for title, cells, nums in self._tables(self.digits):
            head = heads.get(title, ["v̇ᵢ", "expression", "value"])
            width = len(head) - 1
            lines = [f"**{title}**", "", "| " + " | ".join(head) + " |",
                     "|" + "---|" * width + "--:|"]
            for row, x in zip(cells, nums):
                texts = [c.replace("|", "\\|") for c in row][:width]
                texts += [""] * (width - len(texts))
                lines.append("| " + " | ".join(texts) + f" | {_fmt(x, self.digits)} |")
            blocks.append("\n".join(lines))
        return _nfc("\n\n".join(blocks))

    def _repr_markdown_(self) -> str:  # Jupyter shows the Markdown tables
        return self.to_markdown()

    def __repr__(self) -> str:
        return (f"<Explanation of {len(self._eqns)} primitive(s): value {self.value!r}, "
                f"tangent {self.tangent!r}, gradient {self.gradient!r}>")


def _operand(a: Any) -> Any:
    return a if isinstance(a, _Ref) else _Num(a)


# ---------------------------------------------------------------------------------------------
# text: subscripts, overdots, numbers, expressions, aligned columns

_DOT = "\u0307"   # combining dot above: v̇
_BAR = "\u0304"   # combining macron: v̄
_MINUS = "\u2212"
_SUB = str.maketrans("0123456789-", "₀₁₂₃₄₅₆₇₈₉₋")
_SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_NAME = re.compile(r"^([^\W\d_]+)_?(\d+)$")


def _split_name(name: str) -> tuple[str, str]:
    """"x1" -> ("x", "₁"): a trailing number is written as a subscript, as in the textbook."""
    m = _NAME.match(name)
    if m:
        return m.group(1), m.group(2).translate(_SUB)
    return name, ""


def _display_name(name: str) -> str:
    base, sub = _split_name(name)
    return base + sub


def _mark_name(name: str, mark: str) -> str:
    base, sub = _split_name(name)
    return base + mark + sub


def _nfc(text: str) -> str:
    """Letters with a dot or a bar in their precomposed form where Unicode has one (ẋ, ẏ, ȳ),
    so that the text compares equal to what people type; v̇ and x̄ stay combined."""
    return unicodedata.normalize("NFC", text)


def _width(s: str) -> int:
    """Columns on screen: combining marks (the overdot, the bar) take none."""
    return sum(1 for c in s if not unicodedata.combining(c))


def _fmt(x: Any, digits: int) -> str:
    """A number as in the textbook tables: `digits` decimals, trailing zeros dropped, a true
    minus sign; a value too small or too large for that is written in scientific notation."""
    if x is None:
        return ""
    if isinstance(x, (bool, np.bool_)):  # a mask a rule multiplies by: 1 or 0
        return str(int(x))
    v = float(np.real(x))
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "∞" if v > 0 else _MINUS + "∞"
    text = f"{v:.{digits}f}"
    if (v != 0 and float(text) == 0) or abs(v) >= 1e15:
        text = f"{v:.{max(digits, 1)}g}"
    elif "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", "-0.0"):
        text = "0"
    return text.replace("-", _MINUS)


# precedence of the printed forms: a sum < a product < a prefix (−x, sin x) < a power < an atom
_ADD, _MUL, _PREFIX, _POW, _ATOM = 1, 2, 3, 4, 5
_INFIX = {"add": (" + ", _ADD), "sub": (f" {_MINUS} ", _ADD), "mul": (" × ", _MUL),
          "div": (" / ", _MUL)}
# how a primitive's name is written, where the textbook writes it differently (display only)
_SHOWN_AS = {"log": "ln"}


class _Renderer:
    def __init__(self, digits: int, ex: Explanation) -> None:
        self.digits = digits
        self.ex = ex

    def ref(self, r: _Ref) -> str:
        if r.kind == "seed":
            return self.ex._labels()[2]
        mark = {"v": "", "dot": _DOT, "bar": _BAR}[r.kind]
        return "v" + mark + str(r.index).translate(_SUB)

    def num(self, x: Any) -> str:
        if np.ndim(x) != 0:
            return f"const[{','.join(map(str, np.shape(x)))}]"
        return _fmt(x, self.digits)

    def sum(self, terms: list[Any]) -> str:
        """Terms that were added, as one sum; a negated term reads `a − b` rather than
        `a + −b` (the same number: the tape added the negation)."""
        out = ""
        for k, t in enumerate(terms):
            if k == 0:
                out = self.text(t, _ADD)
            elif _is(t, "neg"):
                out += f" {_MINUS} " + self.text(t.args[0], _MUL)
            else:
                out += " + " + self.text(t, _MUL)
        return out

    def text(self, e: Any, need: int = 0) -> str:
        s, prec = self._form(e)
        return f"({s})" if prec < need else s

    def _form(self, e: Any) -> tuple[str, int]:
        if isinstance(e, _Ref):
            return self.ref(e), _ATOM
        if isinstance(e, _Num):
            s = self.num(e.value)
            return s, _PREFIX if s.startswith(_MINUS) else _ATOM
        name, args = e.prim, e.args
        params = "" if not e.params else "[" + " ".join(f"{k}={v}" for k, v in e.params) + "]"
        if name in _INFIX and len(args) == 2 and not params:
            op, prec = _INFIX[name]
            # a left-associative chain: the right operand binds tighter, except that a product
            # of products reads the same either way
            right_need = prec if name == "mul" and _is(args[1], "mul") else prec + 1
            return self.text(args[0], prec) + op + self.text(args[1], right_need), prec
        if name == "neg" and len(args) == 1:
            return _MINUS + self.text(args[0], _PREFIX), _PREFIX
        if name == "square" and len(args) == 1:
            return self.text(args[0], _ATOM) + "²", _POW
        if name in ("power", "float_power") and len(args) == 2 and not params:
            base = self.text(args[0], _ATOM)
            if isinstance(args[1], _Num) and _is_small_int(args[1].value):
                return base + str(int(args[1].value)).translate(_SUP), _POW
            return base + "^" + self.text(args[1], _ATOM), _POW
        if name == "abs" and len(args) == 1:
            return "|" + self.text(args[0]) + "|", _ATOM
        shown = _SHOWN_AS.get(name, name) + params
        if len(args) == 1:
            inner, prec = self._form(args[0])
            if prec == _ATOM:
                return f"{shown} {inner}", _PREFIX  # sin v₀, as the textbook writes it
            return f"{shown}({inner})", _ATOM
        return f"{shown}(" + ", ".join(self.text(a) for a in args) + ")", _ATOM


def _is(e: Any, prim: str) -> bool:
    return isinstance(e, _Apply) and e.prim == prim


def _is_small_int(x: Any) -> bool:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return False
    return v.is_integer() and abs(v) <= 99


def _layout(cells: list[list[str]], nums: list[float | None], digits: int) -> list[str]:
    """Rows `label = expression [= expression] = number`, each column padded to its widest
    entry, numbers aligned on the decimal point. An empty cell leaves its column blank."""
    ncols = max(len(c) for c in cells)
    rows = [c + [""] * (ncols - len(c)) for c in cells]
    widths = [max(_width(r[k]) for r in rows) for k in range(ncols)]
    texts = [_fmt(x, digits) for x in nums]
    int_parts = [t.split(".")[0] for t in texts]
    int_width = max(_width(t) for t in int_parts)
    lines = []
    for r, t, ip in zip(rows, texts, int_parts):
        parts = []
        for k, (cell, w) in enumerate(zip(r, widths)):
            if k == 0:
                parts.append(cell + " " * (w - _width(cell)))
                continue
            if not any(row[k] for row in rows):
                continue  # a column empty in every row
            sep = " = " if cell else "   "
            parts.append(sep + cell + " " * (w - _width(cell)))
        number = " " * (int_width - _width(ip)) + t
        lines.append(("  " + "".join(parts) + " = " + number).rstrip())
    return lines


# ---------------------------------------------------------------------------------------------
# expressions given as text: parsed with ast, checked against a whitelist, never eval'd

def _functions() -> dict[str, tuple[Callable[..., Any], int]]:
    from . import numpy as cnp

    unary = ["exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "cbrt", "square",
             "reciprocal", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh",
             "tanh", "arcsinh", "arccosh", "arctanh", "abs"]
    binary = ["arctan2", "hypot", "power", "maximum", "minimum", "logaddexp"]
    table = {name: (getattr(cnp, name), 1) for name in unary}
    table.update({name: (getattr(cnp, name), 2) for name in binary})
    # the spellings of Python's math module and of calculus books
    aliases = {"ln": "log", "asin": "arcsin", "acos": "arccos", "atan": "arctan",
               "asinh": "arcsinh", "acosh": "arccosh", "atanh": "arctanh", "atan2": "arctan2",
               "pow": "power"}
    table.update({alias: table[name] for alias, name in aliases.items()})
    return table


#: the functions an expression text may call: name -> (chainrule.numpy function, arity)
FUNCTIONS: dict[str, tuple[Callable[..., Any], int]] = _functions()
#: the named constants an expression text may use
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}

_BINOPS = {ast.Add: "add", ast.Sub: "subtract", ast.Mult: "multiply", ast.Div: "divide",
           ast.Pow: "power"}
_CONSTRUCTS = {
    ast.Attribute: "attribute access", ast.Subscript: "subscript", ast.Lambda: "lambda",
    ast.ListComp: "list comprehension", ast.SetComp: "set comprehension",
    ast.DictComp: "dict comprehension", ast.GeneratorExp: "generator expression",
    ast.Compare: "comparison", ast.BoolOp: "boolean operator ('and'/'or')",
    ast.IfExp: "conditional expression", ast.Tuple: "tuple", ast.List: "list",
    ast.Dict: "dict", ast.Set: "set", ast.Starred: "starred argument",
    ast.NamedExpr: "assignment expression (:=)", ast.JoinedStr: "f-string",
    ast.FormattedValue: "f-string", ast.Await: "await", ast.Yield: "yield",
    ast.YieldFrom: "yield", ast.Slice: "slice",
}
_MAX_DEPTH = 100  # nesting of the expression tree; deeper texts are refused, not recursed into
# longest expression text: ast.parse builds hundreds of bytes of tree per character before
# the whitelist sees any of it, so a long text is refused before it is parsed
_MAX_LENGTH = 10_000


def _allowed(variables: Sequence[str]) -> str:
    names = ", ".join(variables) if variables else "(none given)"
    return (f"allowed are numbers, the variables {names}, the constants "
            f"{', '.join(CONSTANTS)}, the operators + - * / ** and unary + -, parentheses, and "
            f"calls by name of {', '.join(sorted(FUNCTIONS))}")


def parse_expression(text: str, variables: Sequence[str]) -> Callable[..., Any]:
    """A function of `variables` (positional, in that order) computing the expression `text`.

    The text is parsed with `ast.parse(mode="eval")` and every node is checked against a
    whitelist: numbers, the given variables, the constants pi and e, + - * / ** and unary + -,
    and calls by name, with positional arguments, of the functions in FUNCTIONS (chainrule.numpy
    functions). The checked tree is interpreted node by node; nothing is `eval`'d or compiled.
    Anything else raises ExpressionError naming the construct and what is allowed.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_expression: text must be a str, got {type(text).__name__}")
    variables = list(variables)
    for v in variables:
        _check_variable_name(v)
    if len(text) > _MAX_LENGTH:
        raise ExpressionError(f"refused {_short(text)}: it is {len(text)} characters long, "
                              f"more than {_MAX_LENGTH}", "length", _allowed(variables))
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        where = f" (column {err.offset})" if err.offset else ""
        raise ExpressionError(
            f"refused {_short(text)}: not one expression{where}: {err.msg}. Statements, "
            f"imports and ';' are not accepted", "syntax", _allowed(variables)) from None
    except (ValueError, RecursionError, MemoryError) as err:
        raise ExpressionError(f"refused {_short(text)}: it cannot be parsed ({err})", "syntax",
                              _allowed(variables)) from None
    index = {name: k for k, name in enumerate(variables)}
    node = _Checker(text, variables, index).check(tree.body, 0)

    def expression(*values: Any) -> Any:
        if len(values) != len(variables):
            raise TypeError(f"the expression takes {len(variables)} value(s) "
                            f"({', '.join(variables)}), got {len(values)}")
        return node(values)

    expression.__name__ = "expression"
    expression.__qualname__ = "expression"
    expression.__doc__ = f"{text} (parsed and checked by chainrule.explain.parse_expression)"
    # the variables as the function's parameters, so explain names its inputs after them
    expression.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(v, inspect.Parameter.POSITIONAL_ONLY) for v in variables])
    return expression


def _short(text: str, limit: int = 80) -> str:
    """The text quoted for a message, cut when long (a message should not echo a whole file)."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


def _check_variable_name(name: str) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise ExpressionError(f"variable name {name!r} is not a name (letters, digits, _)",
                              "variable")
    if "__" in name:
        raise ExpressionError(f"variable name {name!r}: names with a double underscore are "
                              f"never allowed", "dunder name")
    if name in FUNCTIONS or name in CONSTANTS:
        raise ExpressionError(f"variable name {name!r} is already a function or constant of "
                              f"expressions; pick another name", "variable")


Evaluator = Callable[[Sequence[Any]], Any]


class _Checker:
    """Walks the parsed tree once, refusing anything outside the whitelist, and returns an
    evaluator built from closures over whitelisted functions only."""

    def __init__(self, text: str, variables: list[str], index: dict[str, int]) -> None:
        self.text = text
        self.variables = variables
        self.index = index

    def snip(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.text.strip(), node) or type(node).__name__

    def refuse(self, construct: str, detail: str) -> ExpressionError:
        return ExpressionError(f"refused {_short(self.text)}: {detail}", construct,
                               _allowed(self.variables))

    def check(self, node: ast.AST, depth: int) -> Evaluator:
        if depth > _MAX_DEPTH:
            raise self.refuse("depth", f"it is nested more than {_MAX_DEPTH} levels deep")
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.BinOp):
            op = _BINOPS.get(type(node.op))
            if op is None:
                symbol = _op_symbol(node.op)
                raise self.refuse(f"operator {symbol}", f"the operator {symbol} in "
                                  f"`{self.snip(node)}` is not allowed")
            fn = getattr(_cnp(), op)
            left = self.check(node.left, depth + 1)
            right = self.check(node.right, depth + 1)
            return _binary(fn, left, right)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return _unary(_cnp().negative, self.check(node.operand, depth + 1))
            if isinstance(node.op, ast.UAdd):
                return self.check(node.operand, depth + 1)
            symbol = _op_symbol(node.op)
            raise self.refuse(f"operator {symbol}", f"the operator {symbol} in "
                              f"`{self.snip(node)}` is not allowed")
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        construct = _CONSTRUCTS.get(type(node), type(node).__name__)
        raise self.refuse(construct, f"{construct} `{self.snip(node)}` is not allowed")

    def _constant(self, node: ast.Constant) -> Evaluator:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = {str: "string", bytes: "bytes", complex: "complex number",
                    bool: "boolean"}.get(type(value), type(value).__name__)
            raise self.refuse(f"{kind} constant", f"the {kind} `{self.snip(node)}` is not "
                              f"allowed, only real numbers are")
        try:
            number = float(value)
        except OverflowError:
            raise self.refuse("number", f"the number `{self.snip(node)[:20]}...` is too large "
                              f"for a float") from None
        return _const(number)

    def _name(self, node: ast.Name) -> Evaluator:
        name = node.id
        if "__" in name:
            raise self.refuse("dunder name", f"the name `{name}` is not allowed: names with a "
                              f"double underscore never are")
        if name in self.index:
            return _variable(self.index[name])
        if name in CONSTANTS:
            return _const(CONSTANTS[name])
        if name in FUNCTIONS:
            raise self.refuse("function name", f"`{name}` is a function: call it, as "
                              f"{name}(...)")
        raise self.refuse("unknown name", f"the name `{name}` is unknown: it is not one of the "
                          f"variables, constants or functions")

    def _call(self, node: ast.Call, depth: int) -> Evaluator:
        func = node.func
        if not isinstance(func, ast.Name):
            kind = _CONSTRUCTS.get(type(func), type(func).__name__)
            raise self.refuse(f"call of {kind}", f"calling `{self.snip(func)}` ({kind}) is not "
                              f"allowed: functions are called by their name alone")
        name = func.id
        if "__" in name:
            raise self.refuse("dunder name", f"calling `{name}` is not allowed: names with a "
                              f"double underscore never are")
        if name not in FUNCTIONS:
            raise self.refuse("call", f"calling `{name}` is not allowed: it is not one of the "
                              f"functions")
        if node.keywords:
            raise self.refuse("keyword argument", f"the keyword argument in "
                              f"`{self.snip(node)}` is not allowed, arguments are positional")
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise self.refuse("starred argument", f"the starred argument in "
                              f"`{self.snip(node)}` is not allowed")
        fn, arity = FUNCTIONS[name]
        if len(node.args) != arity:
            raise self.refuse("argument count", f"`{name}` takes {arity} argument(s), "
                              f"`{self.snip(node)}` gives {len(node.args)}")
        args = [self.check(a, depth + 1) for a in node.args]
        return _unary(fn, args[0]) if arity == 1 else _binary(fn, args[0], args[1])


def _cnp() -> Any:
    from . import numpy as cnp
    return cnp


def _op_symbol(op: ast.AST) -> str:
    symbols = {ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<",
               ast.RShift: ">>", ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&",
               ast.Invert: "~", ast.Not: "not"}
    return f"'{symbols.get(type(op), type(op).__name__)}'"


# the evaluator's pieces: small named closures (tracebacks then say what was being computed)

def _const(value: float) -> Evaluator:
    def constant(values: Sequence[Any]) -> Any:
        return value
    return constant


def _variable(k: int) -> Evaluator:
    def variable(values: Sequence[Any]) -> Any:
        return values[k]
    return variable


def _unary(fn: Callable[[Any], Any], arg: Evaluator) -> Evaluator:
    def apply_unary(values: Sequence[Any]) -> Any:
        return fn(arg(values))
    return apply_unary


def _binary(fn: Callable[[Any, Any], Any], left: Evaluator, right: Evaluator) -> Evaluator:
    def apply_binary(values: Sequence[Any]) -> Any:
        return fn(left(values), right(values))
    return apply_binary


# ---------------------------------------------------------------------------------------------
# `cr.explain` is the function `explain`, but importing this module (`from chainrule.explain
# import Explanation`) makes Python set the attribute `chainrule.explain` to the module itself,
# replacing the function. A callable module keeps `cr.explain(f, *args)` working either way.

class _CallableModule(types.ModuleType):
    def __call__(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> Explanation:
        return explain(f, *args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
