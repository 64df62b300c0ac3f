"""`cr.explain`: the evaluation-trace tables of the AD literature, generated from a real run.

    print(cr.explain(f, 2.0, 5.0))          # f(x1, x2) = ln(x1) + x1*x2 - sin(x2)

prints the three tables of Griewank & Walther and of Baydin et al.'s survey: the forward primal
trace (inputs v₁₋ₙ … v₀, then one row vᵢ = primitive(operands) per primitive that ran), the
forward tangent trace for one input, and the reverse adjoint trace (each v̄ⱼ as the sum of the
contributions v̄ᵢ ∂vᵢ/∂vⱼ of the rows that use vⱼ).

Nothing here knows a derivative. The program is recorded by a small interpreter of the rule table
(`trace.RecordTrace`); each tangent row is the primitive's JVP rule run on symbolic operands
(`trace.SymTrace` records the operations the rule performs, with their values), and each adjoint
contribution is the primitive's VJP (or transpose) rule run the same way. So the expression shown
in a row is the one the rule computed, and the numbers are the rule's numbers.

`parse_expression` turns a text such as ``"log(x1) + x1*x2 - sin(x2)"`` into a function without
`eval`: the text is parsed with `ast`, checked against a whitelist and interpreted node by node
(the `chainrule explain` command uses it).

The tables print with the typographic minus, ∞ and π (`−0.959`, `2π`); `to_text(unicode=False)`
writes ASCII numbers instead (`-0.959`, `inf`, `2*pi`), which paste into Python. `.to_dot()` is the
computational graph (Graphviz DOT) and `.to_html()` a self-contained page with the three tables and
that graph. A reverse rule's guards (`strong_mask`: a zero adjoint times an infinite partial
derivative counts as zero) appear as the branch they took, never by their internal name.

The modules, lowest first: `model.py` (the table model: rows, recorded equations, the expressions
shown), `trace.py` (the interpreters that record the run and run the rules), `render.py` (the
text), `page.py` (the HTML page), `explanation.py` (`explain` and `Explanation`, which put them
together), and `parse.py` (the expression parser, on its own).
"""
from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

from .explanation import Explanation, explain
from .model import Row
from .parse import CONSTANTS, FUNCTIONS, ExpressionError, parse_expression
from .trace import ExplainError

__all__ = ["explain", "Explanation", "Row", "ExplainError", "ExpressionError",
           "parse_expression", "FUNCTIONS", "CONSTANTS"]


# ---------------------------------------------------------------------------------------------
# `cr.explain` is the function `explain`, but importing this package (`from chainrule.explain
# import Explanation`) makes Python set the attribute `chainrule.explain` to the package itself,
# replacing the function. A callable module keeps `cr.explain(f, *args)` working either way.

class _CallableModule(types.ModuleType):
    def __call__(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> Explanation:
        return explain(f, *args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
