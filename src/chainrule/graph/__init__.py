"""`chainrule.graph`: the expression-graph engine (define-then-run).

    g = cr.graph.trace(f, cr.graph.spec((32, 64)), ...)   # a Graph, built before any data
    print(g)                                               # the SSA listing
    g.run(x, ...)                                          # interpret
"""
from __future__ import annotations

from . import control  # noqa: F401  (registers the cond / while_loop / scan primitives)
from .ir import Const, Eqn, Graph, GraphError, Var
from .jit import jit
from .passes import PASSES, cse, dce, diagonal_products, implicit_broadcasts, optimize, simplify
from .trace import ConcretizationError, Spec, spec, trace

__all__ = ["Graph", "GraphError", "Var", "Const", "Eqn", "trace", "spec", "Spec",
           "ConcretizationError", "jit", "optimize", "dce", "cse", "simplify",
           "implicit_broadcasts", "diagonal_products", "PASSES"]
