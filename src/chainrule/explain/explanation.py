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
from .page import html_page
from .render import BAR, DOT, Renderer, display_name, fmt, layout, mark_name, nfc, split_name
from .trace import ExplainError, by_level, record, rule_contribution, rule_tangent, scalar


def explain(f: Callable[..., Any], *args: Any, wrt: int | str = 0, digits: int = 3,
            names: Sequence[str] | None = None, order: str = "level") -> Explanation:
    """The evaluation-trace tables of `f` at the scalar arguments `args`.

    Records one run of `f` (one row vᵢ = primitive(operands) per primitive that ran), then runs
    each row's JVP rule forward and its reverse rule backward on symbolic operands, so that each
    row shows the expression the rule computed and the rule's number.

    Parameters
    ----------
    f : callable
        A function of scalars returning one scalar, written with `chainrule.numpy` (or NumPy on
        the traced values).
    *args : float
        The point: one real number per input of `f`.
    wrt : int or str, default 0
        The input of the tangent trace, by position or by name.
    digits : int, default 3
        The number of decimals printed.
    names : sequence of str, optional
        The inputs' names (default: `f`'s parameter names, else x1, x2, ...); a trailing
        number is written as a subscript (x1 as x₁).
    order : {"level", "run"}, default "level"
        "level" numbers the rows level by level, as the textbooks do (an operation as soon as
        its operands are ready); "run" in the order the primitives ran.

    Returns
    -------
    Explanation
        `str()` gives the three tables (primal, tangent, adjoint); `.to_text(unicode=False)`
        the same with ASCII numbers, `.to_markdown()` as Markdown, `.to_html()` a
        self-contained page with the computational graph, `.to_dot()` that graph as Graphviz
        DOT; `.rows` the numbers (see `Row`), `.value` f's value, `.tangent` its derivative
        along `wrt`, `.gradient` the adjoints of all inputs.

    Examples
    --------
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> def f(x1, x2):
    ...     return cnp.log(x1) + x1 * x2 - cnp.sin(x2)
    >>> table = cr.explain(f, 2.0, 5.0)
    >>> table.tangent, round(table.gradient[1], 6)
    (5.5, 1.716338)
    >>> print(table.to_text(unicode=False).splitlines()[5])
      v₃  = sin v₀   = -0.959
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


#: the column heads of each table (the tangent table's under "tangent")
_HEADS = {"Forward primal trace": ("vᵢ", "expression", "value"),
          "tangent": ("v̇ᵢ", "expression", "value"),
          "Reverse adjoint trace": ("v̄ᵢ", "sum of", "by the rules", "value")}


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

    def _tables(self, digits: int, unicode: bool = True
                ) -> list[tuple[str, list[list[str]], list[float | None]]]:
        """Each table: its title, its rows of text cells, and the number ending each row."""
        r = Renderer(digits, self._labels()[2], unicode)
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
        return self.to_text()

    def to_text(self, unicode: bool = True) -> str:
        """The three tables as aligned text (what `str()` gives). `unicode=False` writes numbers
        with an ASCII minus and `inf` (-0.959, so that they paste into Python), and multiples of
        π as an expression would (2*pi); `unicode=True` with the typographic − and ∞, and 2π."""
        blocks = []
        for title, cells, nums in self._tables(self.digits, unicode):
            blocks.append("\n".join([title, *layout(cells, nums, self.digits, unicode)]))
        return nfc("\n\n".join(blocks))

    def tables(self, unicode: bool = True
               ) -> list[tuple[str, list[str], list[list[str]], list[str]]]:
        """The three tables as data, for other layouts (`chainrule explain --html`): per table
        its title, its column heads, its rows of text cells (a row may have fewer cells than
        there are heads less one: the rest are empty) and the number ending each row, as text."""
        out = []
        for title, cells, nums in self._tables(self.digits, unicode):
            head = _HEADS.get(title, _HEADS["tangent"])
            out.append((title, list(head), [[nfc(c) for c in row] for row in cells],
                        [fmt(x, self.digits, unicode) for x in nums]))
        return out

    def to_markdown(self, unicode: bool = True) -> str:
        """The three tables as Markdown (one table per trace, its title in bold above it);
        `unicode` as for `to_text`."""
        blocks = []
        for title, cells, nums in self._tables(self.digits, unicode):
            head = _HEADS.get(title, _HEADS["tangent"])
            width = len(head) - 1
            lines = [f"**{title}**", "", "| " + " | ".join(head) + " |",
                     "|" + "---|" * width + "--:|"]
            for row, x in zip(cells, nums):
                texts = [c.replace("|", "\\|") for c in row][:width]
                texts += [""] * (width - len(texts))
                lines.append("| " + " | ".join(texts) + f" | {fmt(x, self.digits, unicode)} |")
            blocks.append("\n".join(lines))
        return nfc("\n\n".join(blocks))

    def to_dot(self, unicode: bool = True) -> str:
        """The computational graph of the run as Graphviz DOT, read left to right: one node per
        input (a box: vᵢ = its name) and per row (vᵢ = the row's expression), each with its
        value, an arrow from every operand to the row using it, and the output y last.
        `unicode` as for `to_text`."""
        r = Renderer(self.digits, self._labels()[2], unicode)
        first = 1 - self._n
        lines = ["digraph explain {", "  rankdir=LR;",
                 '  node [fontname="DejaVu Serif", fontsize=12, shape=ellipse];',
                 '  edge [color="#555555"];']

        def node(i: int) -> str:
            return f"v{i}" if i >= 0 else f"v_{-i}"

        def value(x: float) -> str:
            return fmt(x, self.digits, unicode)

        for k, name in enumerate(self.names):
            i = first + k
            label = _dot_string(f"{r.ref(Ref('v', i))} = {display_name(name)}",
                                value(self._values[i]))
            lines.append(f'  {node(i)} [shape=box, style=filled, fillcolor="#e8f0fb", '
                         f"label={label}];")
        for e in self._eqns:
            expr = r.text(self._primal_exprs[e.index])
            label = _dot_string(f"{r.ref(Ref('v', e.index))} = {expr}",
                                value(self._values[e.index]))
            lines.append(f"  {node(e.index)} [label={label}];")
            for a in dict.fromkeys(a.index for a in e.args if isinstance(a, Ref)):
                lines.append(f"  {node(a)} -> {node(e.index)};")
        y = self._labels()[0]
        out = self._output
        shown = r.ref(Ref("v", out)) if isinstance(out, int) else r.num(out)
        lines.append(f'  y [peripheries=2, style=filled, fillcolor="#fdf1d6", '
                     f"label={_dot_string(f'{y} = {shown}', value(self.value))}];")
        if isinstance(out, int):
            lines.append(f"  {node(out)} -> y;")
        lines.append("}")
        return nfc("\n".join(lines))

    def to_html(self, title: str = "cr.explain: the evaluation trace", subtitle: str = "",
                unicode: bool = True) -> str:
        """A self-contained HTML page: `title`, `subtitle` (an expression text " at " the point
        sets the expression as code), a line of results, the three tables, and the
        computational graph (`to_dot`) as inline SVG when Graphviz's `dot` program is installed,
        else a note and the DOT text. Inline CSS; nothing is fetched. `unicode` as for
        `to_text`."""
        return html_page(self, title, subtitle, unicode)

    def _repr_markdown_(self) -> str:  # Jupyter shows the Markdown tables
        return self.to_markdown()

    def __repr__(self) -> str:
        return (f"<Explanation of {len(self._eqns)} primitive(s): value {self.value!r}, "
                f"tangent {self.tangent!r}, gradient {self.gradient!r}>")


def _dot_string(*lines: str) -> str:
    """The lines as one quoted DOT string, a line break between them."""
    escaped = [s.replace("\\", "\\\\").replace('"', '\\"') for s in lines]
    return '"' + "\\n".join(escaped) + '"'


__all__ = ["Explanation", "explain"]
