"""`cr.symbolic`: symbolic differentiation with the rules of chainrule's one rule table.

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
(`calls.py`); `swell.py` measures expression swell. How operators are written (symbols,
precedence, associativity) is the table of `ops/operators.py`, shared with `cr.explain` and the
code generators.

The modules import only modules below them: expr.py (the nodes) imports none of the others, so
the behaviour of `Expr` that the higher modules implement is installed on the class here, once,
when the package is imported (`_assemble` below): what the interpreter does with a primitive
(`arrays.process`), NumPy's ufunc protocol (`arrays.array_ufunc`), and the methods `evaluate`,
`diff`, `simplify`, `to_latex` and `str`.

Examples
--------
>>> import chainrule as cr, chainrule.numpy as cnp
>>> x, y = cr.symbolic.symbols("x y")
>>> f = cnp.log(x) + x * y - cnp.sin(y)
>>> print(cr.symbolic.simplify(cr.symbolic.diff(f, y)))
x - cos(y)
>>> print(cr.symbolic.evaluate(cr.symbolic.diff(f, x), x=2.0, y=5.0))
5.5
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import (
    arrays,
    calls,  # noqa: F401  (registers the handler of custom_jvp/custom_vjp calls)
    expr,
    printing,
)
from .arrays import ExprArray
from .diff import diff, gradient, jacobian, jvp_exprs
from .expr import (
    Const,
    Expr,
    Symbol,
    SymbolArray,
    SymbolicError,
    symbol_array,
    symbols,
)
from .function import from_function
from .lambdify import Lambdified, evaluate, lambdify
from .simplify import simplify, simplify_many
from .swell import SwellRow, ad_trace_length, format_swell, logistic, plot_swell, swell_table


def _assemble() -> None:
    """Install on `Expr` (expr.py) the behaviour that the modules above it implement."""
    expr.install_process(arrays.process)

    def expr_array_ufunc(self: Expr, ufunc: Any, ufunc_method: str, *inputs: Any,
                         **kwargs: Any) -> Any:
        # as for every tracer, plus reductions and `v += x` into an object array
        return arrays.array_ufunc(ufunc, ufunc_method, inputs, kwargs)

    def expr_evaluate(self: Expr, values: Mapping[Any, Any] | None = None, /,
                      **kwargs: Any) -> Any:
        """The value at `x=2.0, y=np.array([...])` (numbers or NumPy arrays, broadcast); a
        mapping from symbols (or names) to values may be given instead."""
        return evaluate(self, values, **kwargs)

    def expr_diff(self: Expr, x: Symbol, n: int = 1) -> Expr:
        """`cr.symbolic.diff(self, x, n)`."""
        return diff(self, x, n)

    def expr_simplify(self: Expr) -> Expr:
        """`cr.symbolic.simplify(self)`."""
        return simplify(self)

    def expr_to_latex(self: Expr) -> str:
        """The expression as LaTeX (`\\frac`, `\\sin`, `^{}`, `\\left(\\right)` where needed)."""
        return printing.to_latex(self)

    def expr_str(self: Expr) -> str:
        return printing.to_str(self)

    for name, fn in [("__array_ufunc__", expr_array_ufunc), ("evaluate", expr_evaluate),
                     ("diff", expr_diff), ("simplify", expr_simplify),
                     ("to_latex", expr_to_latex), ("__str__", expr_str)]:
        fn.__name__ = name
        fn.__qualname__ = f"Expr.{name}"
        setattr(Expr, name, fn)


_assemble()

__all__ = [
    "Const", "Expr", "ExprArray", "Lambdified", "SwellRow", "Symbol", "SymbolArray",
    "SymbolicError",
    "ad_trace_length", "diff", "evaluate", "format_swell", "from_function", "gradient",
    "jacobian", "jvp_exprs", "lambdify", "logistic", "plot_swell", "simplify", "simplify_many",
    "swell_table", "symbol_array", "symbols",
]
