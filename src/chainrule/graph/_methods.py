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
- `g.compiled_for(values)`: jit (the optimised code of a sub-graph, run by the control
  primitives).
"""
from __future__ import annotations

from typing import Any

from ..overload import transforms as overload
from . import codegen, dot, jit, passes, serialize
from .ir import Graph
from .trace import trace


def grad(self: Graph, argnums: Any = 0) -> Graph:
    """Differentiate the graph into a new graph of (outputs, gradients).

    A new graph computing (outputs, gradients w.r.t. the inputs `argnums`) of this graph,
    whose single output must be a scalar. Built by running the rule table's reverse-mode
    interpreter over this graph while tracing: the backward part is graph equations too,
    so the result can be differentiated again or optimised together with the forward.

    Parameters
    ----------
    argnums : int or tuple of int, optional
        The inputs to differentiate with respect to.

    Returns
    -------
    Graph
        A graph of the same inputs returning `(value, gradient)` (a tuple of gradients when
        `argnums` is a tuple).

    Raises
    ------
    NotImplementedError
        If custom-rule functions were inlined while this graph was traced (their rules are not in
        it).

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> g = cr.graph.trace(lambda x: cnp.sum(x ** 2), cr.graph.spec((3,)))
    >>> value, grad = g.grad().run(np.arange(3.0))
    >>> print(value, grad)
    5.0 [0. 2. 4.]
    """
    self._differentiable("grad")
    flat = overload.value_and_grad(lambda *xs: self.run_flat(*xs)[0], argnums)
    return trace(flat, *self.in_avals())


def jvp(self: Graph) -> Graph:
    """Differentiate the graph in forward mode, into a new graph.

    Returns
    -------
    Graph
        A graph taking the inputs followed by one tangent per input, returning
        `(outputs, output tangents)`.

    Raises
    ------
    NotImplementedError
        If custom-rule functions were inlined while this graph was traced.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> g = cr.graph.trace(lambda x: cnp.sin(x), cr.graph.spec(()))
    >>> y, dy = g.jvp().run_flat(np.float64(0.0), np.float64(2.0))
    >>> print(float(y), float(dy))
    0.0 2.0
    """
    self._differentiable("jvp")
    n = len(self.inputs)

    def pushforward(*xs: Any) -> Any:
        return overload.jvp(lambda *p: self.run_flat(*p), tuple(xs[:n]), tuple(xs[n:]))

    return trace(pushforward, *self.in_avals(), *self.in_avals())


def to_json(self: Graph) -> str:
    """The graph as plain JSON text (see serialize); `Graph.from_json` reads it back without
    executing anything from it.

    Returns
    -------
    str
        The JSON text.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> g = cr.graph.trace(lambda x: x * 3.0, cr.graph.spec((2,)))
    >>> again = cr.graph.Graph.from_json(g.to_json())
    >>> print(again.run_flat(np.ones(2))[0])
    [3. 3.]
    """
    return serialize.to_json(self)


def optimize(self: Graph) -> Graph:
    """The graph after simplification, common-subexpression and dead-code elimination.

    Returns
    -------
    Graph
        `cr.graph.optimize(self)`: the default passes run to a fixed point.

    Examples
    --------
    >>> import chainrule as cr
    >>> g = cr.graph.trace(lambda x: (x + 0.0) * 1.0, cr.graph.spec((2,)))
    >>> print(g.optimize().num_nodes)
    0
    """
    return passes.optimize(self)


def compile(self: Graph) -> Any:  # noqa: A001 - the method's public name
    """A Python function of NumPy calls computing the graph (see codegen); its `.source`
    shows the generated code. Called with the same arguments as `run`.

    Returns
    -------
    callable
        The generated function.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> fn = cr.graph.trace(lambda x: cnp.tanh(x) * 2.0, cr.graph.spec((2,))).compile()
    >>> print(fn.source.strip())
    def graph_fn(a):
        b = tanh(a)
        c = np.multiply(b, 2.0, out=b)
        return [c]
    >>> print(fn(np.zeros(2)))
    [0. 0.]
    """
    return codegen.compile_function(self)


Graph.grad = grad  # type: ignore[attr-defined]
Graph.jvp = jvp  # type: ignore[attr-defined]
Graph.to_json = to_json  # type: ignore[attr-defined]
Graph.from_json = staticmethod(serialize.from_json)  # type: ignore[attr-defined]
Graph.to_dot = dot.to_dot  # type: ignore[attr-defined]
Graph.optimize = optimize  # type: ignore[attr-defined]
Graph.compile = compile  # type: ignore[attr-defined]
Graph.compiled_for = jit.compiled_for  # type: ignore[attr-defined]
