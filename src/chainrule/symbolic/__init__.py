"""`cr.symbolic`: symbolic differentiation with the rules of chainrule's one rule table.

    >>> import chainrule as cr, chainrule.numpy as cnp
    >>> x, y = cr.symbolic.symbols("x y")
    >>> f = cnp.log(x) + x * y - cnp.sin(y)
    >>> print(cr.symbolic.simplify(cr.symbolic.diff(f, y)))
    x - cos(y)

Expressions are immutable, hash-consed DAG nodes (`expr.py`): building the same operation on the
same operands twice gives the very same node, so shared subexpressions are shared. They are the
tracers of a symbolic interpreter, so Python operators, the `cnp` functions and plain `np.sin`
build them with no code of their own here, and other interpreters (dual numbers, the tape) run on
top of them. `diff` (`diff.py`) is forward mode over the DAG, calling each primitive's JVP rule
with symbolic operands; `simplify` (`simplify.py`) rewrites to a normal form; `printing.py` gives
`str` and `to_latex`; `lambdify.py` evaluates and compiles to NumPy with common subexpressions
hoisted; `function.py` traces straight-line Python; `transforms.py` is `method="symbolic"` for
every transform, which passes array arguments as `ExprArray`s (`arrays.py`: how each primitive
acts on arrays of expressions, closed-form linear algebra, refusals) and keeps custom rules
(`calls.py`); `swell.py` measures expression swell.
"""
from __future__ import annotations

from .arrays import ExprArray
from .diff import diff, gradient, jacobian, jvp_exprs
from .expr import Const, Expr, Symbol, SymbolArray, SymbolicError, symbol_array, symbols
from .function import from_function
from .lambdify import Lambdified, evaluate, lambdify
from .simplify import simplify, simplify_many
from .swell import SwellRow, ad_trace_length, format_swell, logistic, plot_swell, swell_table

__all__ = [
    "Const", "Expr", "ExprArray", "Lambdified", "SwellRow", "Symbol", "SymbolArray",
    "SymbolicError",
    "ad_trace_length", "diff", "evaluate", "format_swell", "from_function", "gradient",
    "jacobian", "jvp_exprs", "lambdify", "logistic", "plot_swell", "simplify", "simplify_many",
    "swell_table", "symbol_array", "symbols",
]
