"""`chainrule.graph`: the expression-graph engine (define-then-run).

    g = cr.graph.trace(f, cr.graph.spec((32, 64)), ...)   # a Graph, built before any data
    print(g)                                               # the SSA listing
    g.run(x, ...)                                          # interpret

Modules, lowest first: ir (the Graph: data, checking, running, printing), serialize, dot,
passes, codegen, trace (tracing, and the hooks that stage control flow), control (the rules of
the control primitives declared in ops/control.py), jit, transforms (method="graph"); _methods
installs the Graph methods the others implement (grad, jvp, to_json, optimize, compile, ...).
"""
from __future__ import annotations

# _methods installs Graph.grad, .to_json, .optimize, .compile, ...; control attaches the rules
# of the cond / while_loop / scan primitives
from . import _methods, control  # noqa: F401
from .ir import Const, Eqn, Graph, GraphError, Var
from .jit import jit
from .passes import PASSES, cse, dce, diagonal_products, implicit_broadcasts, optimize, simplify
from .trace import ConcretizationError, Spec, spec, trace

__all__ = ["Graph", "GraphError", "Var", "Const", "Eqn", "trace", "spec", "Spec",
           "ConcretizationError", "jit", "optimize", "dce", "cse", "simplify",
           "implicit_broadcasts", "diagonal_products", "PASSES"]
