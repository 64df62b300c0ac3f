"""How operators are written: one table of symbols, precedence and associativity, by primitive
name, for every printer of expressions: `str(expr)` and LaTeX (`symbolic/printing.py`), the NumPy
code of `lambdify` (`symbolic/lambdify.py`), the expressions in the trace tables of `cr.explain`
(`explain/render.py`), and the operators in generated code (`graph/codegen.py`,
`source/templates.py`).

A printer gives each subexpression a text and the precedence of its outermost operator, and puts
an operand in parentheses where its precedence is lower than its place needs (printing.py and
explain/render.py say where, for their notations). This module imports nothing: it is data.
"""
from __future__ import annotations

from dataclasses import dataclass

#: precedence levels, higher binds tighter: a comparison < a sum < a product < a prefix (unary
#: minus, a negative number, and in the trace tables a function applied without parentheses,
#: `sin v₀`) < a power < an atom (a name, a number, a call, a parenthesised expression)
CMP, ADD, MUL, NEG, POW, ATOM = 1, 2, 3, 4, 5, 6


@dataclass(frozen=True)
class Operator:
    """How one operator is written in each notation.

    `python`: in Python (`str(expr)`, lambdify's code), with its spacing;
    `math`: in the trace tables of `cr.explain` ("": written as a function call there);
    `latex`: in LaTeX ("": the LaTeX printer writes it otherwise, by juxtaposition, `\\frac`,
    `^{}`, or as a function call);
    `precedence`: one of the levels above; `right_assoc`: whether `a op b op c` is
    `a op (b op c)` (only `**`).
    """

    python: str
    math: str
    latex: str
    precedence: int
    right_assoc: bool = False


#: primitive name -> the binary operator that writes it
INFIX: dict[str, Operator] = {
    "add": Operator(" + ", " + ", " + ", ADD),
    "sub": Operator(" - ", " \u2212 ", " - ", ADD),
    "mul": Operator("*", " \u00d7 ", "", MUL),
    "div": Operator("/", " / ", "", MUL),
    "mod": Operator(" % ", "", "", MUL),
    "floor_divide": Operator("//", "", "", MUL),
    "power": Operator("**", "^", "", POW, right_assoc=True),
    "greater": Operator(" > ", "", " > ", CMP),
    "greater_equal": Operator(" >= ", "", r" \geq ", CMP),
    "less": Operator(" < ", "", " < ", CMP),
    "less_equal": Operator(" <= ", "", r" \leq ", CMP),
    "equal": Operator(" == ", "", " = ", CMP),
    "not_equal": Operator(" != ", "", r" \neq ", CMP),
}

#: the prefix operator of the primitive `neg`
NEGATION = Operator("-", "\u2212", "-", NEG)

__all__ = ["ADD", "ATOM", "CMP", "INFIX", "MUL", "NEG", "NEGATION", "POW", "Operator"]
