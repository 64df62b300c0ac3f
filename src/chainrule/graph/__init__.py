"""`chainrule.graph`: the expression-graph engine (define-then-run).

`trace` records a function as a typed SSA `Graph` before any data exists; a graph can be
differentiated into another graph (`Graph.grad`, `Graph.jvp`), optimised (`optimize` and the
passes), compiled into straight-line NumPy (`Graph.compile`, `jit`), saved and loaded
(`Graph.to_json`, `Graph.from_json`). `method="graph"` on every transform uses it.

Modules, lowest first: ir (the Graph: data, checking, running, printing), serialize, dot,
passes, codegen, trace (tracing, and the hooks that stage control flow), control (the rules of
the control primitives declared in ops/control.py), jit, transforms (method="graph"); _methods
installs the Graph methods the others implement (grad, jvp, to_json, optimize, compile, ...).

Examples
--------
>>> import numpy as np
>>> import chainrule as cr
>>> import chainrule.numpy as cnp
>>> g = cr.graph.trace(lambda x: cnp.sum(cnp.sin(x) ** 2), cr.graph.spec((3,)))
>>> print(g)
{ lambda a:f64[3] .
    b:f64[3] = sin a
    c:f64[3] = power b 2
    d:f64[] = sum[axis=(0,) keepdims=False] c
  in (d,) }
>>> value, grad = cr.graph.optimize(g.grad()).compile()(np.zeros(3))
>>> print(value, grad)
0.0 [0. 0. 0.]
"""
from __future__ import annotations

# _methods installs Graph.grad, .to_json, .optimize, .compile, ...; control attaches the rules
# of the cond / while_loop / scan primitives
from . import _methods, control  # noqa: F401
from .ir import Const, Eqn, Graph, GraphError, Var
from .jit import jit
from .passes import (
    PASSES,
    cse,
    dce,
    diagonal_products,
    implicit_broadcasts,
    optimize,
    simplify,
    sink_transposes,
)
from .trace import ConcretizationError, Spec, spec, trace

__all__ = ["Graph", "GraphError", "Var", "Const", "Eqn", "trace", "spec", "Spec",
           "ConcretizationError", "jit", "optimize", "dce", "cse", "simplify",
           "implicit_broadcasts", "diagonal_products", "sink_transposes", "PASSES"]
