"""Tracing Python into a graph (define-then-run).

`trace(f, *args_or_specs)` runs `f` on `GraphTracer`s: every primitive they meet is recorded as
an equation instead of computed, its output shape and dtype given by the primitive's
`abstract_eval`. Arguments may be `spec(shape, dtype)` placeholders, so a graph can be built before
any data exists. Non-floating leaves (ints, strings, ...) are static: they are baked into the
graph. Python control flow on a traced value cannot be recorded and raises ConcretizationError.
"""
from __future__ import annotations

import os
import threading
import traceback
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from .._core import tree
from .._core.errors import ConcretizationError as _BaseConcretizationError
from .._core.primitive import Primitive, Trace, Tracer, dtype_of, open_trace, shape_of
from .ir import Const, Eqn, Graph, Spec, Var, _aval


class ConcretizationError(_BaseConcretizationError):
    """Python control flow (`if`, `while`, `bool()`, `float()`) met a value the graph traces
    abstractly: it has no value yet."""

    abstract_graph = True


def spec(shape: Any, dtype: Any = "float64") -> Spec:
    """An input of the given shape and dtype with no data (for `trace`)."""
    return Spec(shape, dtype)


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _user_line() -> str:
    """The innermost source line outside chainrule (where the user's code branched)."""
    for frame in reversed(traceback.extract_stack()):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE):
            return f"{frame.filename}:{frame.lineno}: {frame.line}"
    return "<unknown>"


class _Open(threading.local):
    def __init__(self) -> None:
        # (weakly: a finished trace holds its equations, which its graph shares)
        self.traces: list[weakref.ref[GraphTrace]] = []

    def active(self) -> list[GraphTrace]:
        return [t for t in (r() for r in self.traces) if t is not None and t.active]


_OPEN = _Open()  # the graph traces open in this thread, outermost first


class GraphTrace(Trace):
    """Records equations. With `lift`, values of enclosing interpreters that the traced function
    reaches through a closure become extra inputs (`captured_vars`, bound to `captured_values`):
    that is how loop bodies and branches become closed sub-graphs."""

    __slots__ = ("eqns", "lift", "captured_vars", "captured_values", "_lifted", "inlined_rules",
                 "__weakref__")
    abstract = True

    def __init__(self, level: int, lift: bool = False) -> None:
        super().__init__(level)
        self.eqns: list[Eqn] = []
        self.lift = lift
        self.captured_vars: list[Var] = []
        self.captured_values: list[Any] = []
        self._lifted: dict[int, Var] = {}
        # custom-rule functions that were inlined (they closed over traced values): a
        # derivative taken from this graph would not see their rules (Graph.grad refuses)
        self.inlined_rules: set[str] = set()
        _OPEN.traces[:] = [weakref.ref(t) for t in _OPEN.active()] + [weakref.ref(self)]

    def new_input(self, shape: tuple[int, ...], dtype: Any) -> GraphTracer:
        return GraphTracer(self, Var(shape, dtype))

    def process(self, prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
        if prim.abstract_eval is None:  # a call primitive (custom rule, checkpoint)
            return self.call(prim, args, params)
        atoms = [self.atom(a) for a in args]
        for a in atoms:
            if isinstance(a, Const) and isinstance(a.value, Tracer):
                raise NotImplementedError(
                    f"primitive '{prim.name}' mixes a value being traced into a graph with a "
                    f"value of an enclosing transform ({type(a.value).__name__}); trace the "
                    f"whole computation into the graph instead (e.g. cr.grad(f, "
                    f"method='graph')), or differentiate the graph with Graph.grad")
        got = prim.abstract_eval(*[_aval(a) for a in atoms], **params)
        avals = got if prim.multiple_results else [got]
        outs = [Var(tuple(shape), dtype) for shape, dtype in avals]
        self.eqns.append(Eqn(prim, atoms, params, outs))
        tracers = [GraphTracer(self, v) for v in outs]
        return tracers if prim.multiple_results else tracers[0]


    def call(self, prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
        """A call primitive (a custom_jvp or custom_vjp function, a checkpoint) as one equation
        that keeps the primitive, so that a derivative taken from the graph (Graph.grad) applies
        its rules; the output types come from tracing its function once on placeholders. A
        function that closes over values this graph traces cannot run later on its own: it is
        inlined (the values it computes), and for a custom rule that is noted: its rule cannot
        give those values a derivative, as under the overload method."""
        fun = params["fun"]
        with open_trace(GraphTrace, True) as probe:
            ins = [GraphTracer(probe, Var(tuple(a.shape), a.dtype)) if isinstance(a, Tracer)
                   else a for a in args]
            got = fun(*ins)
        if probe.captured_vars or probe.inlined_rules:
            if prim.name != "checkpoint":  # (recomputation changes no derivative)
                name = getattr(params.get("fwd"), "name", None) or getattr(
                    getattr(fun, "fun", None), "__name__", prim.name)
                for t in _OPEN.active():
                    t.inlined_rules.add(name)
            return prim.impl(*args, **params)
        outs = [Var(tuple(o.shape), o.dtype) if isinstance(o, Tracer)
                else Var(shape_of(o), dtype_of(o)) for o in got]
        self.eqns.append(Eqn(prim, [self.atom(a) for a in args], params, outs))
        return [GraphTracer(self, v) for v in outs]

    def atom(self, x: Any) -> Var | Const:
        """The graph operand standing for `x`: its variable, a lifted input, or a constant."""
        if isinstance(x, GraphTracer) and x._trace is self:
            return x._var
        if self.lift and isinstance(x, Tracer):
            v = self._lifted.get(id(x))
            if v is None:
                v = self._lifted[id(x)] = Var(tuple(x.shape), x.dtype)
                self.captured_vars.append(v)
                self.captured_values.append(x)
            return v
        return Const(x)


class GraphTracer(Tracer):
    # (not `var`: NumPy's methods are installed on tracers, and `x.var()` is one of them)
    __slots__ = ("_var",)

    def __init__(self, trace: GraphTrace, var: Var) -> None:
        self._trace = trace
        self._var = var

    @property
    def shape(self) -> tuple[int, ...]:
        return self._var.shape

    @property
    def dtype(self) -> Any:
        return self._var.dtype

    @property
    def ndim(self) -> int:
        return len(self._var.shape)

    def _refuse(self, what: str) -> None:
        raise ConcretizationError(
            f"{what} at {_user_line()}: the graph has no value to go by while it is being "
            f"built. Use cr.cond(pred, true_fun, false_fun, ...) or cr.while_loop(cond_fun, "
            f"body_fun, init) instead, cnp.where for an elementwise choice, or make the value "
            f"a static (non-float) argument")

    def __repr__(self) -> str:
        return f"GraphTracer(v{self._var.id})"


def trace(f: Callable[..., Any], *args_or_specs: Any) -> Graph:
    """Trace `f` into a Graph. Each floating-point leaf of the arguments (or `spec`) becomes an
    input; other leaves are static and baked in."""
    leaves, in_tree = tree.flatten(args_or_specs)
    with open_trace(GraphTrace) as gt:
        inputs: list[Var] = []
        new_leaves = []
        for x in leaves:
            if isinstance(x, Spec) or tree.is_float_leaf(x):
                t = gt.new_input(tuple(x.shape) if hasattr(x, "shape") else (),
                                 x.dtype if hasattr(x, "dtype") else np.result_type(x))
                inputs.append(t._var)
                new_leaves.append(t)
            else:
                new_leaves.append(x)
        out = f(*tree.unflatten(in_tree, new_leaves))
    out_leaves, out_tree = tree.flatten(out)
    outputs = [o._var if isinstance(o, GraphTracer) and o._trace is gt else Const(o)
               for o in out_leaves]
    g = Graph(inputs, gt.eqns, outputs, in_tree, out_tree)
    g.inlined_rules = tuple(sorted(gt.inlined_rules))
    return g
