"""Tracing Python into a graph (define-then-run).

`trace(f, *args_or_specs)` runs `f` on `GraphTracer`s: every primitive they meet is recorded as
an equation instead of computed, its output shape and dtype given by the primitive's
`abstract_eval`. Arguments may be `spec(shape, dtype)` placeholders, so a graph can be built before
any data exists. Non-floating leaves (ints, strings, ...) are static: they are baked into the
graph. Python control flow on a traced value cannot be recorded and raises ConcretizationError.

Structured control flow is staged instead: `cr.cond`, `cr.while_loop`, `cr.fori_loop` and
`cr.scan` (ops/control.py) find the open `GraphTrace` (`_core.primitive.staging_trace`) and call
its hooks `stage_cond`, `stage_while`, `stage_fori` and `stage_scan`, which trace their
functions once into closed sub-graphs (`closed_graph`: values they reach through a closure
become explicit inputs) and record one equation of the primitive `cond`, `while_loop` or
`scan`.
"""
from __future__ import annotations

import os
import threading
import traceback
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._core import tree
from .._core.errors import ConcretizationError as _BaseConcretizationError
from .._core.primitive import Primitive, Trace, Tracer, dtype_of, open_trace, shape_of
from ..ops.control import cond_p, scan_p, while_p
from .ir import Const, Eqn, Graph, Spec, Var, _aval, type_str


class ConcretizationError(_BaseConcretizationError):
    """Python control flow (`if`, `while`, `bool()`, `float()`) met a value the graph traces
    abstractly: it has no value yet.

    A subclass of `chainrule.ConcretizationError`; the message names the user's line and the
    structured alternatives (`cr.cond`, `cr.while_loop`, `cnp.where`).

    Examples
    --------
    >>> import chainrule as cr
    >>> try:
    ...     cr.graph.trace(lambda x: x if x > 0 else -x, cr.graph.spec(()))
    ... except cr.graph.ConcretizationError as exc:
    ...     print(type(exc).__name__, isinstance(exc, cr.ConcretizationError))
    ConcretizationError True
    """

    abstract_graph = True


def spec(shape: Any, dtype: Any = "float64") -> Spec:
    """An input of the given shape and dtype with no data (for `trace`).

    Parameters
    ----------
    shape : int or tuple of int
        The shape (an int `n` means `(n,)`).
    dtype : Any, optional
        The dtype, float64 by default.

    Returns
    -------
    Spec
        The placeholder.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.graph.spec((2, 3))
    spec((2, 3), 'float64')
    >>> cr.graph.spec(4, "float32")
    spec((4,), 'float32')
    """
    return Spec(shape, dtype)


def spec_of(x: Any) -> Spec:
    """The `Spec` of a value: its shape and dtype.

    Parameters
    ----------
    x : Any
        An array, a number or a traced value.

    Returns
    -------
    Spec
        Its shape and dtype.
    """
    return Spec(shape_of(x), dtype_of(x))


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

    # -- structured control flow: the hooks ops/control.py calls on the open abstract trace ----
    def stage_cond(self, pred: Any, true_fun: Callable[..., Any], false_fun: Callable[..., Any],
                   operands: tuple[Any, ...]) -> Any:
        """`cr.cond`: both branches traced into sub-graphs taking the same inputs, one `cond`
        equation."""
        leaves, vals, td = _flat_leaves(operands)
        avals = [spec_of(v) for v in vals]
        graphs, caps, trees = [], [], []
        for fun in (false_fun, true_fun):
            def flat(*xs: Any, fun: Callable[..., Any] = fun) -> list[Any]:
                out = fun(*tree.unflatten(td, _refill(leaves, xs)))
                o_leaves, o_td = tree.flatten(out)
                trees.append(o_td)
                return o_leaves
            g, c = closed_graph(flat, avals)
            graphs.append(g)
            caps.append(c)
        if trees[0] != trees[1]:
            raise TypeError(f"cond: both branches must return the same structure: true_fun "
                            f"gives {trees[1]}, false_fun gives {trees[0]}")
        _same_types("cond: true_fun and false_fun disagree", graphs[1].out_avals(),
                    graphs[0].out_avals())
        graphs, consts = _union_inputs(graphs, caps)
        outs = cond_p.bind(pred, *consts, *vals, branches=(graphs[0], graphs[1]))
        return tree.unflatten(trees[0], outs)

    def stage_while(self, cond_fun: Callable[[Any], Any], body_fun: Callable[[Any], Any],
                    init_val: Any) -> Any:
        """`cr.while_loop`: the condition and the body as sub-graphs, one `while_loop`
        equation."""
        leaves, vals, td = _flat_leaves(init_val)
        avals = [spec_of(v) for v in vals]

        def test(*c: Any) -> list[Any]:
            pred = cond_fun(tree.unflatten(td, _refill(leaves, c)))
            if shape_of(pred) != ():
                raise ValueError(f"while_loop: cond_fun must return a scalar, not an array of "
                                 f"shape {shape_of(pred)}; reduce it with .all() or .any()")
            return [pred]

        def step(*c: Any) -> list[Any]:
            out = body_fun(tree.unflatten(td, _refill(leaves, c)))
            o_leaves, o_td = tree.flatten(out)
            if o_td != td:
                raise TypeError(f"while_loop: body_fun must return the structure of init_val "
                                f"({td}), got {o_td}")
            return [o for o in o_leaves if _is_value(o)]

        cg, cc = closed_graph(test, avals)
        bg, bc = closed_graph(step, avals)
        _same_types("while_loop: body_fun changes the carry", bg.out_avals(), avals)
        outs = while_p.bind(*cc, *bc, *vals, cond=cg, body=bg, n_cond=len(cc), n_body=len(bc))
        return tree.unflatten(td, _refill(leaves, outs))

    def stage_scan(self, f: Callable[[Any, Any], tuple[Any, Any]], init: Any, xs: Any,
                   length: int, reverse: bool) -> tuple[Any, Any]:
        """`cr.scan`: the step as a sub-graph, one `scan` equation."""
        g, consts, c_vals, x_vals, finish = scan_body(f, init, xs)
        outs = scan_p.bind(*consts, *c_vals, *x_vals, body=g, n_consts=len(consts),
                           n_carry=len(c_vals), length=length, reverse=reverse)
        return finish(outs)

    def stage_fori(self, lower: int, upper: int, body_fun: Callable[[Any, Any], Any],
                   init_val: Any) -> Any:
        """`cr.fori_loop`: a scan over the step index."""
        steps = np.arange(lower, upper)
        carry, _ = self.stage_scan(lambda c, i: (body_fun(i, c), ()), init_val, steps,
                                   len(steps), False)
        return carry


def scan_body(f: Callable[[Any, Any], tuple[Any, Any]], init: Any, xs: Any
              ) -> tuple[Graph, list[Any], list[Any], list[Any], Callable[[list[Any]], Any]]:
    """The step of `scan(f, init, xs)` traced into a closed sub-graph, for an equation that runs
    it (`scan`, the checkpointed loops of graph/revolve.py): `(graph, its constants, the
    carry's values, the xs' values, finish)`, where `finish(outs)` rebuilds `(carry, ys)` from
    the equation's outputs (the carry's values first, then the stacked ys)."""
    c_leaves, c_vals, c_td = _flat_leaves(init)
    x_leaves, x_vals, x_td = _flat_leaves(xs)
    y_tree: list[Any] = []

    def step(*a: Any) -> list[Any]:
        c = tree.unflatten(c_td, _refill(c_leaves, a[:len(c_vals)]))
        x = tree.unflatten(x_td, _refill(x_leaves, a[len(c_vals):])) if x_leaves else None
        new, y = f(c, x)
        n_leaves, n_td = tree.flatten(new)
        if n_td != c_td:
            raise TypeError(f"scan: f must return the carry with the structure of init "
                            f"({c_td}), got {n_td}")
        y_leaves, y_td = tree.flatten(y)
        y_tree.append(y_td)
        return [v for v in n_leaves if _is_value(v)] + y_leaves

    avals = [spec_of(v) for v in c_vals] + [Spec(shape_of(x)[1:], dtype_of(x)) for x in x_vals]
    g, consts = closed_graph(step, avals)
    nc = len(c_vals)
    _same_types("scan: f changes the carry", g.out_avals()[:nc], avals[:nc])

    def finish(outs: list[Any]) -> tuple[Any, Any]:
        return (tree.unflatten(c_td, _refill(c_leaves, outs[:nc])),
                tree.unflatten(y_tree[0], outs[nc:]))
    return g, consts, c_vals, x_vals, finish


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
    """Trace `f` into a Graph, before any data exists.

    `f` runs once on traced values: every primitive it meets is recorded as an equation. Each
    floating-point leaf of the arguments (or `spec`) becomes an input; other leaves (ints,
    strings, integer arrays, ...) are static and baked in.

    Parameters
    ----------
    f : callable
        The function; its arguments and result may be pytrees.
    *args_or_specs : Any
        Its arguments: values, or `spec(shape, dtype)` placeholders, in any pytree.

    Returns
    -------
    Graph
        The graph, with the arguments' and result's pytree structures.

    Raises
    ------
    ConcretizationError
        If `f` uses Python control flow (or `float()`, `bool()`) on a traced value; use
        `cr.cond`, `cr.while_loop`, `cr.fori_loop`, `cr.scan` or `cnp.where` instead.

    Examples
    --------
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> g = cr.graph.trace(lambda x, n: cnp.sum(x ** n), cr.graph.spec((3,)), 2)
    >>> print(g)
    { lambda a:f64[3] .
        b:f64[3] = power a 2
        c:f64[] = sum[axis=(0,) keepdims=False] b
      in (c,) }
    """
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


# ---------------------------------------------------------------------------------------------
# closed sub-graphs (the branches and bodies of control flow)


def closed_graph(fn: Callable[..., Sequence[Any]], avals: Sequence[Any]
                 ) -> tuple[Graph, list[Any]]:
    """Trace `fn(*inputs) -> list of outputs` into a graph. Values of enclosing interpreters
    that `fn` reaches through a closure become inputs too: the graph's inputs are those captured
    values (returned, to be passed in) followed by one input per aval."""
    with open_trace(GraphTrace, True) as gt:
        ins = [gt.new_input(tuple(a.shape), a.dtype) for a in avals]
        outs = [gt.atom(o) for o in fn(*ins)]
    return Graph(gt.captured_vars + [t._var for t in ins], gt.eqns, outs), gt.captured_values


def _is_value(x: Any) -> bool:
    """Leaves that become graph values (arrays and numbers); anything else stays static."""
    return isinstance(x, (Tracer, np.ndarray, np.generic, bool, int, float, complex))


def _flat_leaves(x: Any) -> tuple[list[Any], list[Any], tree.TreeDef]:
    """(all leaves, the value leaves among them, structure)."""
    leaves, td = tree.flatten(x)
    return leaves, [v for v in leaves if _is_value(v)], td


def _refill(leaves: list[Any], values: Sequence[Any]) -> list[Any]:
    it = iter(values)
    return [next(it) if _is_value(v) else v for v in leaves]


def _same_types(what: str, got: Sequence[Any], want: Sequence[Any]) -> None:
    for k, (g, w) in enumerate(zip(got, want)):
        gs, gd = (tuple(g[0]), np.dtype(g[1])) if isinstance(g, tuple) else (g.shape, g.dtype)
        ws, wd = (tuple(w[0]), np.dtype(w[1])) if isinstance(w, tuple) else (w.shape, w.dtype)
        if gs != ws or gd != wd:
            raise TypeError(f"{what}: leaf {k} is {type_str(gs, gd)} but must stay "
                            f"{type_str(ws, wd)} (the carry keeps its shape and dtype; cast the "
                            f"initial value, e.g. 0.0 rather than 0)")


def _union_inputs(graphs: list[Graph], captured: list[list[Any]]
                  ) -> tuple[list[Graph], list[Any]]:
    """Give every graph the same leading inputs: all values any of them captured."""
    order: list[Any] = []
    position: dict[int, int] = {}
    for caps in captured:
        for c in caps:
            if id(c) not in position:
                position[id(c)] = len(order)
                order.append(c)
    out = []
    for g, caps in zip(graphs, captured):
        mine = {position[id(c)]: v for c, v in zip(caps, g.inputs)}
        lead = [mine.get(k) or Var(shape_of(c), dtype_of(c)) for k, c in enumerate(order)]
        out.append(Graph(lead + g.inputs[len(caps):], g.eqns, list(g.outputs)))
    return out, order
