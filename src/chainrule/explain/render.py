"""Text of `cr.explain`'s tables: subscripts, overdots, numbers, expressions, aligned columns.

Expressions are written as the textbook writes them (v₁ × v₀, sin v₀, v₋₁², v̄₅ ∂v₅/∂v₄), with
the operators, precedence and associativity of the table that `str()` of symbolic expressions
also reads (`chainrule.ops.operators`), in its `math` notation.
"""
from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

import numpy as np

from ..ops.operators import ATOM, INFIX, MUL, NEG, NEGATION, POW
from .model import MASKED, Apply, Num, Ref

DOT = "\u0307"   # combining dot above: v̇
BAR = "\u0304"   # combining macron: v̄
_MINUS = "\u2212"  # a negative number's sign
_SUB = str.maketrans("0123456789-", "₀₁₂₃₄₅₆₇₈₉₋")
_SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_NAME = re.compile(r"^([^\W\d_]+)_?(\d+)$")


def split_name(name: str) -> tuple[str, str]:
    """"x1" -> ("x", "₁"): a trailing number is written as a subscript, as in the textbook."""
    m = _NAME.match(name)
    if m:
        return m.group(1), m.group(2).translate(_SUB)
    return name, ""


def display_name(name: str) -> str:
    base, sub = split_name(name)
    return base + sub


def mark_name(name: str, mark: str) -> str:
    base, sub = split_name(name)
    return base + mark + sub


def nfc(text: str) -> str:
    """Letters with a dot or a bar in their precomposed form where Unicode has one (ẋ, ẏ, ȳ),
    so that the text compares equal to what people type; v̇ and x̄ stay combined."""
    return unicodedata.normalize("NFC", text)


def width(s: str) -> int:
    """Columns on screen: combining marks (the overdot, the bar) take none."""
    return sum(1 for c in s if not unicodedata.combining(c))


def fmt(x: Any, digits: int, unicode: bool = True) -> str:
    """A number as in the textbook tables: `digits` decimals, trailing zeros dropped; a value too
    small or too large for that is written in scientific notation. With `unicode` the sign is a
    true minus (−0.959) and infinity is ∞; without it, ASCII that pastes into Python and
    spreadsheets (-0.959, inf)."""
    if x is None:
        return ""
    if isinstance(x, (bool, np.bool_)):  # a mask a rule multiplies by: 1 or 0
        return str(int(x))
    v = float(np.real(x))
    if math.isnan(v):
        return "nan"
    minus = _MINUS if unicode else "-"
    if math.isinf(v):
        infinity = "∞" if unicode else "inf"
        return infinity if v > 0 else minus + infinity
    text = f"{v:.{digits}f}"
    if (v != 0 and float(text) == 0) or abs(v) >= 1e15:
        text = f"{v:.{max(digits, 1)}g}"
    elif "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", "-0.0"):
        text = "0"
    return text.replace("-", minus)


#: the denominators q of the multiples (p/q)·π that expressions write with π
_PI_DENOMINATORS = (1, 2, 3, 4, 6, 8, 12)


def pi_multiple(x: Any) -> tuple[int, int] | None:
    """(p, q) when the constant `x` is (p/q)·π in lowest terms (q one of 1, 2, 3, 4, 6, 8, 12,
    |p| < 100, to a few units in the last place: 2*pi, pi/2, -3*pi/4 as Python computes them);
    None for any other number."""
    if isinstance(x, (bool, np.bool_)) or np.ndim(x) != 0:
        return None
    try:
        v = float(np.real(x))
    except (TypeError, ValueError):
        return None
    if not math.isfinite(v) or v == 0 or np.iscomplexobj(x) and np.imag(x) != 0:
        return None
    for q in _PI_DENOMINATORS:
        p = round(v * q / math.pi)
        if p != 0 and abs(p) < 100 and math.gcd(p, q) == 1 \
                and abs(v - p * math.pi / q) <= 4 * math.ulp(v):
            return p, q
    return None


def pi_text(p: int, q: int, unicode: bool) -> str:
    """(p/q)·π as written: 2π, π/2, −3π/4 (unicode), or as an expression's text would write it:
    2*pi, pi/2, -3*pi/4 (ASCII)."""
    sign = (_MINUS if unicode else "-") if p < 0 else ""
    pi, times = ("π", "") if unicode else ("pi", "*")
    numerator = pi if abs(p) == 1 else f"{abs(p)}{times}{pi}"
    return sign + numerator + (f"/{q}" if q != 1 else "")


# how a primitive's name is written, where the textbook writes it differently (display only)
_SHOWN_AS = {"log": "ln"}


class Renderer:
    """Writes references (vᵢ, v̇ᵢ, v̄ᵢ, the seed as `seed`), numbers with `digits` decimals, and
    expressions. `unicode` picks the typographic minus, ∞ and π (2π) over ASCII (-, inf, 2*pi);
    the values column follows the same choice (`fmt`)."""

    def __init__(self, digits: int, seed: str, unicode: bool = True) -> None:
        self.digits = digits
        self.seed = seed
        self.unicode = unicode

    def ref(self, r: Ref) -> str:
        if r.kind == "seed":
            return self.seed
        mark = {"v": "", "dot": DOT, "bar": BAR}[r.kind]
        return "v" + mark + str(r.index).translate(_SUB)

    def num(self, x: Any) -> str:
        if np.ndim(x) != 0:
            return f"const[{','.join(map(str, np.shape(x)))}]"
        return fmt(x, self.digits, self.unicode)

    def sum(self, terms: list[Any]) -> str:
        """Terms that were added, as one sum; a negated term reads `a − b` rather than
        `a + −b` (the same number: the tape added the negation)."""
        add, sub = INFIX["add"], INFIX["sub"]
        out = ""
        for k, t in enumerate(terms):
            if k == 0:
                out = self.text(t, add.precedence)
            elif _is(t, "neg"):
                out += sub.math + self.text(t.args[0], sub.precedence + 1)
            else:
                out += add.math + self.text(t, add.precedence + 1)
        return out

    def text(self, e: Any, need: int = 0) -> str:
        """`e`, in parentheses if its precedence is below `need`."""
        s, prec = self._form(e)
        return f"({s})" if prec < need else s

    def _form(self, e: Any) -> tuple[str, int]:
        if isinstance(e, Ref):
            return self.ref(e), ATOM
        if isinstance(e, Num):
            multiple = pi_multiple(e.value)
            if multiple is not None:  # 2*pi in an expression reads 2π (or 2*pi), not 6.283
                p, q = multiple
                prec = NEG if p < 0 else ATOM if (abs(p), q) == (1, 1) else MUL
                return pi_text(p, q, self.unicode), prec
            s = self.num(e.value)
            return s, NEG if s.startswith((_MINUS, "-")) else ATOM
        name, args = e.prim, e.args
        if name == MASKED and len(args) == 1:
            # a reverse rule's guard: v̄ᵢ × ∂vᵢ/∂vⱼ is 0 where v̄ᵢ is 0, also where the
            # partial derivative is infinite (as at sqrt's 0): the rule took that branch
            return f"0 (as {self.text(args[0])} = 0)", ATOM
        params = "" if not e.params else "[" + " ".join(f"{k}={v}" for k, v in e.params) + "]"
        if name in ("power", "float_power") and len(args) == 2 and not params:
            base = self.text(args[0], ATOM)
            if isinstance(args[1], Num) and _is_small_int(args[1].value):
                return base + str(int(args[1].value)).translate(_SUP), POW
            return base + INFIX["power"].math + self.text(args[1], ATOM), POW
        op = INFIX.get(name)
        if op is not None and op.math and len(args) == 2 and not params:
            prec = op.precedence
            # the operand on the side the operator groups from binds at least as tightly, the
            # other one tighter; but a product of products reads the same either way
            left_need = prec + 1 if op.right_assoc else prec
            right_need = prec if op.right_assoc or (name == "mul" and _is_product(args[1])) \
                else prec + 1
            return self.text(args[0], left_need) + op.math + self.text(args[1], right_need), prec
        if name == "neg" and len(args) == 1:
            return NEGATION.math + self.text(args[0], NEG), NEG
        if name == "square" and len(args) == 1:
            return self.text(args[0], ATOM) + "²", POW
        if name == "abs" and len(args) == 1:
            return "|" + self.text(args[0]) + "|", ATOM
        shown = _SHOWN_AS.get(name, name) + params
        if len(args) == 1:
            inner, prec = self._form(args[0])
            if prec == ATOM:
                return f"{shown} {inner}", NEG  # sin v₀, as the textbook writes it
            return f"{shown}({inner})", ATOM
        return f"{shown}(" + ", ".join(self.text(a) for a in args) + ")", ATOM


def _is(e: Any, prim: str) -> bool:
    return isinstance(e, Apply) and e.prim == prim


def _is_product(e: Any) -> bool:
    """A product, or a positive multiple of π (written 2π, π/2): a × 2π reads the same as
    a × (2π), and a × π/2 as a × (π/2)."""
    if isinstance(e, Num):
        multiple = pi_multiple(e.value)
        return multiple is not None and multiple[0] > 0
    return _is(e, "mul")


def _is_small_int(x: Any) -> bool:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return False
    return v.is_integer() and abs(v) <= 99


def layout(cells: list[list[str]], nums: list[float | None], digits: int,
           unicode: bool = True) -> list[str]:
    """Rows `label = expression [= expression] = number`, each column padded to its widest
    entry, numbers aligned on the decimal point. An empty cell leaves its column blank."""
    ncols = max(len(c) for c in cells)
    rows = [c + [""] * (ncols - len(c)) for c in cells]
    widths = [max(width(r[k]) for r in rows) for k in range(ncols)]
    texts = [fmt(x, digits, unicode) for x in nums]
    int_parts = [t.split(".")[0] for t in texts]
    int_width = max(width(t) for t in int_parts)
    lines = []
    for r, t, ip in zip(rows, texts, int_parts):
        parts = []
        for k, (cell, w) in enumerate(zip(r, widths)):
            if k == 0:
                parts.append(cell + " " * (w - width(cell)))
                continue
            if not any(row[k] for row in rows):
                continue  # a column empty in every row
            sep = " = " if cell else "   "
            parts.append(sep + cell + " " * (w - width(cell)))
        number = " " * (int_width - width(ip)) + t
        lines.append(("  " + "".join(parts) + " = " + number).rstrip())
    return lines


__all__ = ["BAR", "DOT", "Renderer", "display_name", "fmt", "layout", "mark_name", "nfc",
           "pi_multiple", "pi_text", "split_name", "width"]
