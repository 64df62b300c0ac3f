"""Printing expressions: `str` (Python infix), LaTeX, and the NumPy code of `lambdify`.

Printing is bottom-up over the DAG (no recursion, so deep expressions print), each node giving a
text and its precedence; an operand is parenthesised only where the grammar needs it:

- `str(expr)` parses back, as Python with the `cnp` names in scope, to the same tree with the same
  value. Left-associative operators keep parentheses on a right operand of equal precedence
  (`a - (b - c)`, `a + (b + c)`: floating-point addition is not associative), none on the left
  (`a - b + c`); `**` is right-associative (`a**b**c`, `(a**b)**c`); unary minus binds looser than
  `**` (`-x**2` is `-(x**2)`, `(-x)**2` keeps its parentheses). A negated product or quotient is
  written `-a*b`: IEEE negation is exact, so `(-a)*b` and `-(a*b)` are the same number (but
  `-(a % b)` and `-(a//b)` keep their parentheses: `%` and `//` do not commute with negation).
  A negative right operand is always parenthesised (`a*(-b)`, `a - (-2)`).
- `to_latex(expr)` uses `\\frac`, `\\sqrt`, `^{}`, `\\left( \\right)`.

The operators' symbols, precedence and associativity are the table of `ops/operators.py`, which
the trace tables of `cr.explain` and the code generators read too.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from ..ops.operators import ATOM, CMP, INFIX, MUL, NEG, NEGATION, POW
from .expr import Const, Expr, Symbol, topo_order

#: operators of the precedence of `*` that a leading minus does not pass through: `-a % b` and
#: `-a//b` are (-a) % b and (-a)//b, not -(a % b) and -(a//b)
_NO_NEG_THROUGH = ("mod", "floor_divide")

#: primitive name -> the function name `str` prints (the `cnp` name where it differs)
FUNC_NAMES = {"select": "where"}

Part = tuple[str, int]  # text and precedence


def _const_text(v: Any) -> tuple[str, int]:
    if isinstance(v, bool):
        return str(v), ATOM
    if math.isnan(v):
        return "nan", ATOM
    if math.isinf(v):
        return ("inf", ATOM) if v > 0 else ("-inf", NEG)
    text = str(int(v)) if v.is_integer() and abs(v) < 1e16 else repr(v)
    return text, (NEG if v < 0 else ATOM)


def _wrap(text: str) -> str:
    return "(" + text + ")"


class Printer:
    """Infix Python syntax. Subclasses change the leaves, function names and decorations."""

    def symbol(self, node: Symbol) -> Part:
        return node.name, ATOM

    def const(self, node: Const) -> Part:
        return _const_text(node.value)

    def paren(self, text: str) -> str:
        return _wrap(text)

    def func_name(self, node: Expr) -> str:
        return FUNC_NAMES.get(node.name, node.name)

    def params_text(self, node: Expr) -> list[str]:
        return [f"{k}={v!r}" for k, v in node.params.items()]

    def call(self, node: Expr, parts: list[Part]) -> Part:
        args = [t for t, _ in parts] + self.params_text(node)
        return f"{self.func_name(node)}({', '.join(args)})", ATOM

    def neg(self, part: Part) -> Part:
        text, prec = part
        if prec < MUL or text.startswith("-"):
            text = self.paren(text)
        return NEGATION.python + text, NEG

    def infix(self, op: str, prec: int, right_assoc: bool, left: Part, right: Part) -> Part:
        lt, lp = left
        rt, rp = right
        if lp < prec or (right_assoc and lp <= prec) or (prec == CMP and lp <= CMP):
            lt = self.paren(lt)
        if rp < prec or (not right_assoc and rp == prec) or rt.startswith("-"):
            rt = self.paren(rt)
        return lt + op + rt, prec

    def node(self, node: Expr, parts: list[Part]) -> Part:
        if isinstance(node, Symbol):
            return self.symbol(node)
        if isinstance(node, Const):
            return self.const(node)
        name = node.name
        if name == "neg":
            if node.args[0].name in _NO_NEG_THROUGH:  # -(a % b): not (-a) % b
                return self.neg((self.paren(parts[0][0]), ATOM))
            return self.neg(parts[0])
        op = INFIX.get(name)
        if op is not None and len(parts) == 2:
            return self.infix(op.python, op.precedence, op.right_assoc, parts[0], parts[1])
        if is_custom_call(node):
            return self.custom_call(node, parts)
        return self.call(node, parts)

    def custom_call(self, node: Expr, parts: list[Part]) -> Part:
        """An output of a custom_jvp/custom_vjp call: the function's name applied to the call's
        inputs (its first operand, the value, is how the function computes it)."""
        call = node.params["call"]
        text = f"{call.name}({', '.join(t for t, _ in parts[1:])})"
        return (text + f"[{node.params['k']}]" if call.n_out > 1 else text), ATOM

    def render(self, roots: list[Expr], override: Callable[[Expr], Part | None] | None = None,
               ) -> dict[int, Part]:
        """Text and precedence of every node reachable from `roots` (bottom-up)."""
        done: dict[int, Part] = {}
        for n in topo_order(roots):
            got = override(n) if override is not None else None
            done[id(n)] = got if got is not None else self.node(
                n, [done[id(a)] for a in n.args])
        return done


def is_custom_call(node: Expr) -> bool:
    """Whether `node` is an output of a custom_jvp/custom_vjp call (see calls.py)."""
    return node.name == "custom_call" and "call" in node.params


_STR = Printer()


def to_str(expr: Expr) -> str:
    return _STR.render([expr])[id(expr)][0]


# ---------------------------------------------------------------------------------------------
# LaTeX

_GREEK = set("""alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi pi rho
sigma tau upsilon phi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi
Omega""".split())

_LATEX_FUNCS = {
    "sin": r"\sin", "cos": r"\cos", "tan": r"\tan", "arcsin": r"\arcsin", "arccos": r"\arccos",
    "arctan": r"\arctan", "sinh": r"\sinh", "cosh": r"\cosh", "tanh": r"\tanh", "log": r"\log",
    "log2": r"\log_{2}", "log10": r"\log_{10}",
}


def _latex_name(name: str) -> str:
    m = re.fullmatch(r"([A-Za-z]+?)_?(\d+)", name)
    base, sub = (m.group(1), m.group(2)) if m else (name, "")
    if "_" in base and not sub:
        base, _, sub = base.partition("_")
    base = "\\" + base if base in _GREEK else (base if len(base) == 1 else
                                                r"\mathrm{" + base + "}")
    return base + (f"_{{{sub}}}" if sub else "")


class LatexPrinter(Printer):
    """LaTeX: products by juxtaposition (`\\cdot` before a number), quotients as `\\frac`."""

    def symbol(self, node: Symbol) -> Part:
        return _latex_name(node.name), ATOM

    def const(self, node: Const) -> Part:
        v = node.value
        if not isinstance(v, bool) and math.isinf(v):
            return (r"\infty", ATOM) if v > 0 else (r"-\infty", NEG)
        text, prec = _const_text(v)
        if "e" in text and not isinstance(v, bool) and text != "nan":
            mant, _, exp = text.partition("e")
            power = rf"10^{{{int(exp)}}}"
            if mant in ("1", "-1", "1.0", "-1.0"):
                return ("-" if mant.startswith("-") else "") + power, prec
            return rf"{mant} \cdot {power}", min(prec, MUL)
        return (r"\mathrm{NaN}" if text == "nan" else text), prec

    def paren(self, text: str) -> str:
        return r"\left(" + text + r"\right)"

    def node(self, node: Expr, parts: list[Part]) -> Part:
        if isinstance(node, (Symbol, Const)):
            return super().node(node, parts)
        name = node.name
        if name == "neg":
            return self.neg(parts[0])
        if name == "mul":
            (lt, lp), (rt, rp) = parts
            if lp < MUL:
                lt = self.paren(lt)
            if rp <= MUL or rt.startswith("-"):
                rt = self.paren(rt)
            sep = r" \cdot " if rt[:1].isdigit() else " "
            return lt + sep + rt, MUL
        if name == "div":
            return rf"\frac{{{parts[0][0]}}}{{{parts[1][0]}}}", POW
        if name in ("power", "square"):
            base, bp = parts[0]
            exp = parts[1][0] if name == "power" else "2"
            fn = _LATEX_FUNCS.get(node.args[0].name) if node.args[0].args else None
            exp_node = node.args[1] if name == "power" else None
            if (fn is not None and fn.startswith("\\") and "_" not in fn
                    and (exp_node is None or (isinstance(exp_node, Const)
                                              and not isinstance(exp_node.value, bool)
                                              and exp_node.value > 0
                                              and float(exp_node.value).is_integer()))):
                inner = parts[0][0][len(fn):]
                return f"{fn}^{{{exp}}}{inner}", POW
            if bp < ATOM or base.startswith("-") or "^" in base:
                base = self.paren(base)
            return f"{base}^{{{exp}}}", POW
        if name == "reciprocal":
            return rf"\frac{{1}}{{{parts[0][0]}}}", POW
        if name == "sqrt":
            return rf"\sqrt{{{parts[0][0]}}}", ATOM
        if name == "cbrt":
            return rf"\sqrt[3]{{{parts[0][0]}}}", ATOM
        if name == "exp":
            return rf"e^{{{parts[0][0]}}}", POW
        if name == "exp2":
            return rf"2^{{{parts[0][0]}}}", POW
        if name == "abs":
            return rf"\left|{parts[0][0]}\right|", ATOM
        op = INFIX.get(name)
        if op is not None and op.latex and len(parts) == 2:  # + - and comparisons
            return self.infix(op.latex, op.precedence, op.right_assoc, parts[0], parts[1])
        if is_custom_call(node):
            call = node.params["call"]
            text = (r"\operatorname{" + call.name.replace("_", r"\_") + "}"
                    + self.paren(", ".join(p[0] for p in parts[1:])))
            return (text + f"_{{{node.params['k']}}}" if call.n_out > 1 else text), POW
        if name == "select":
            c, a, b = (p[0] for p in parts)
            return (r"\begin{cases} " + a + r" & \text{if } " + c + r" \\ " + b
                    + r" & \text{otherwise} \end{cases}"), ATOM
        fn = _LATEX_FUNCS.get(name, r"\operatorname{" + name.replace("_", r"\_") + "}")
        return fn + self.paren(", ".join(p[0] for p in parts)), POW


_LATEX = LatexPrinter()


def to_latex(expr: Expr) -> str:
    return _LATEX.render([expr])[id(expr)][0]
