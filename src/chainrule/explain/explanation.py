"""`explain` and its result, `Explanation`: the three tables of one run.

`explain` checks its arguments and records the run (`trace.record`); `Explanation` runs the
tangent pass (each row's JVP rule, forward) and the adjoint pass (each row's reverse rule, from
the last row to the first) on the recorded equations (`trace.rule_tangent`,
`trace.rule_contribution`), keeps the numbers as `Row`s, and lays the three tables out as text or
Markdown (`render.py`).
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._core.primitive import Tracer
from .model import Apply, Eqn, Ref, Row, operand, params_key
from .render import BAR, DOT, Renderer, display_name, fmt, layout, mark_name, nfc, split_name
from .trace import ExplainError, by_level, record, rule_contribution, rule_tangent, scalar


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

    eqns, output = record(f, point)
    if order == "level":
        eqns, output = by_level(eqns, output)
    elif order != "run":
        raise ValueError(f"explain: order={order!r}; give 'level' (the textbook numbering) or "
                         f"'run' (the order the primitives ran)")
    return Explanation(point, input_names, wrt_pos, eqns, output, digits)


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

    def __init__(self, point: list[float], names: list[str], wrt: int, eqns: list[Eqn],
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
            self._values[e.index] = scalar(e.value)
        self._primal_exprs = {e.index: Apply(e.prim.name, tuple(operand(a) for a in e.args),
                                             params_key(e.params)) for e in eqns}
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
            value, expr = rule_tangent(e, self._values, self._dots, self._primal_exprs[e.index])
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
                if not isinstance(a, Ref):
                    continue
                value, expr = rule_contribution(e, pos, ct_value, self._values,
                                                self._primal_exprs[e.index])
                self._terms[a.index].setdefault(e.index, []).append((value, expr))
                self._bars[a.index] += value

    # -- rows ------------------------------------------------------------------------------
    def _make_rows(self, first: int) -> list[Row]:
        rows = []
        for k in range(self._n):
            i = first + k
            rows.append(Row(i, self.names[k], None, (), self._values[i], self._dots[i],
                            self._bars[i], self._term_values(i)))
        for e in self._eqns:
            i = e.index
            operands = tuple(a.index if isinstance(a, Ref) else scalar(a) for a in e.args)
            rows.append(Row(i, None, e.prim.name, operands, self._values[i], self._dots[i],
                            self._bars[i], self._term_values(i)))
        return rows

    def _term_values(self, j: int) -> tuple[tuple[int, float], ...]:
        return tuple((i, sum(v for v, _ in terms)) for i, terms in sorted(self._terms[j].items()))

    # -- printing ----------------------------------------------------------------------------
    def _labels(self) -> tuple[str, str, str]:
        """(output, its tangent, its adjoint): y, ẏ, ȳ (f when an input is called y)."""
        base = "f" if any(split_name(s)[0] == "y" for s in self.names) else "y"
        return base, base + DOT, base + BAR

    def _tables(self, digits: int) -> list[tuple[str, list[list[str]], list[float | None]]]:
        """Each table: its title, its rows of text cells, and the number ending each row."""
        r = Renderer(digits, self._labels()[2])
        first = 1 - self._n
        y, y_dot, y_bar = self._labels()
        primal: list[list[str]] = []
        tangent: list[list[str]] = []
        nums_p: list[float | None] = []
        nums_t: list[float | None] = []
        for k, name in enumerate(self.names):
            i = first + k
            primal.append([r.ref(Ref("v", i)), display_name(name)])
            nums_p.append(self._values[i])
            tangent.append([r.ref(Ref("dot", i)), mark_name(name, DOT)])
            nums_t.append(self._dots[i])
        for e in self._eqns:
            primal.append([r.ref(Ref("v", e.index)), r.text(self._primal_exprs[e.index])])
            nums_p.append(self._values[e.index])
            tangent.append([r.ref(Ref("dot", e.index)), r.text(self._dot_exprs[e.index])])
            nums_t.append(self._dots[e.index])
        out = self._output
        primal.append([y, r.ref(Ref("v", out)) if isinstance(out, int) else r.num(out)])
        nums_p.append(self.value)
        tangent.append([y_dot, r.ref(Ref("dot", out)) if isinstance(out, int) else "0"])
        nums_t.append(self.tangent)

        adjoint: list[list[str]] = []
        nums_a: list[float | None] = []
        for j in sorted(self._bars, reverse=True):
            partials: list[str] = []
            rules: list[Any] = []  # the expressions the reverse rules computed
            if self._seeded and j == out:
                partials.append(y_bar)
                rules.append(Ref("seed", 0))
            for i, terms in sorted(self._terms[j].items()):
                partials.append(f"{r.ref(Ref('bar', i))} ∂{r.ref(Ref('v', i))}"
                                f"/∂{r.ref(Ref('v', j))}")
                rules.extend(x for _, x in terms)
            if not partials:
                partials = ["0"]
            cells = [r.ref(Ref("bar", j)), " + ".join(partials)]
            rule_text = r.sum(rules)
            cells.append("" if rule_text in ("", cells[1]) else rule_text)
            adjoint.append(cells)
            nums_a.append(self._bars[j])
        for k, name in enumerate(self.names):
            adjoint.append([mark_name(name, BAR), r.ref(Ref("bar", first + k)), ""])
            nums_a.append(self._bars[first + k])
        wrt_name = display_name(self.names[self.wrt])
        return [("Forward primal trace", primal, nums_p),
                (f"Forward tangent trace, w.r.t. {wrt_name}", tangent, nums_t),
                ("Reverse adjoint trace", adjoint, nums_a)]

    def __str__(self) -> str:
        blocks = []
        for title, cells, nums in self._tables(self.digits):
            blocks.append("\n".join([title, *layout(cells, nums, self.digits)]))
        return nfc("\n\n".join(blocks))

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
                lines.append("| " + " | ".join(texts) + f" | {fmt(x, self.digits)} |")
            blocks.append("\n".join(lines))
        return nfc("\n\n".join(blocks))

    def _repr_markdown_(self) -> str:  # Jupyter shows the Markdown tables
        return self.to_markdown()

    def __repr__(self) -> str:
        return (f"<Explanation of {len(self._eqns)} primitive(s): value {self.value!r}, "
                f"tangent {self.tangent!r}, gradient {self.gradient!r}>")


__all__ = ["Explanation", "explain"]
