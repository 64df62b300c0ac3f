"""The methods of `Graph` that other modules of the engine implement, installed on the class once
(graph/__init__.py imports this module after all the others): ir.py keeps the graph's data,
checking, running and printing, and imports none of these, so the engine's modules form no
import cycle.

- `g.grad(argnums)`, `g.jvp()`: graph-to-graph autodiff (here, through the overload engine's
  transforms run while tracing);
- `g.to_json()`, `Graph.from_json(text)`: serialize;
- `g.to_dot()`: dot;
- `g.optimize()`: passes;
- `g.compile()`: codegen;
- `g.compiled_flat()`: jit (the optimised code of a sub-graph, run by the control primitives).
"""
from __future__ import annotations

from typing import Any

from ..overload import transforms as overload
from . import codegen, dot, jit, passes, serialize
from .ir import Graph
from .trace import trace


def grad(self: Graph, argnums: Any = 0) -> Graph:
    """A new graph computing (outputs, gradients w.r.t. the inputs `argnums`) of this graph,
    whose single output must be a scalar. Built by running the rule table's reverse-mode
    interpreter over this graph while tracing: the backward part is graph equations too,
    so the result can be differentiated again or optimised together with the forward."""
    self._differentiable("grad")
    flat = overload.value_and_grad(lambda *xs: self.run_flat(*xs)[0], argnums)
    return trace(flat, *self.in_avals())


def jvp(self: Graph) -> Graph:
    """A new graph of (outputs, output tangents) from (inputs..., input tangents...)."""
    self._differentiable("jvp")
    n = len(self.inputs)

    def pushforward(*xs: Any) -> Any:
        return overload.jvp(lambda *p: self.run_flat(*p), tuple(xs[:n]), tuple(xs[n:]))

    return trace(pushforward, *self.in_avals(), *self.in_avals())


def to_json(self: Graph) -> str:
    """Plain JSON (see serialize); `Graph.from_json` reads it back without executing it."""
    return serialize.to_json(self)


def optimize(self: Graph) -> Graph:
    """The graph after simplification, common-subexpression and dead-code elimination."""
    return passes.optimize(self)


def compile(self: Graph) -> Any:  # noqa: A001 - the method's public name
    """A Python function of NumPy calls computing the graph (see codegen); its `.source`
    shows the generated code. Called with the same arguments as `run`."""
    return codegen.compile_function(self)


Graph.grad = grad  # type: ignore[attr-defined]
Graph.jvp = jvp  # type: ignore[attr-defined]
Graph.to_json = to_json  # type: ignore[attr-defined]
Graph.from_json = staticmethod(serialize.from_json)  # type: ignore[attr-defined]
Graph.to_dot = dot.to_dot  # type: ignore[attr-defined]
Graph.optimize = optimize  # type: ignore[attr-defined]
Graph.compile = compile  # type: ignore[attr-defined]
Graph.compiled_flat = jit.compiled_flat  # type: ignore[attr-defined]
