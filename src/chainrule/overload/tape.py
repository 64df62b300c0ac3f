"""Reverse mode by operator overloading: a tape (Wengert list) of the primitives that actually ran.

Each primitive applied to a `TapeTracer` appends a `Node` that remembers the primitive, its
parameters, its argument values (the residuals) and which arguments were themselves recorded.
`backward` walks the recorded nodes from the outputs towards the inputs in reverse creation order
(creation order is a topological order) and applies each primitive's VJP from the rule table.

Because VJP rules are written with primitives, running them while a lower-level interpreter is
active records or perturbs them in turn: that is all reverse-over-reverse and forward-over-reverse
need. Python control flow simply runs; the tape holds what happened.
"""
from __future__ import annotations

import itertools
import threading
from typing import Any

from .._core.errors import FreedGraphError, LeakedTracerError
from .._core.primitive import (
    Primitive,
    Trace,
    Tracer,
    dead_trace_message,
    dtype_of,
    ndim_of,
    open_trace,
    shape_of,
    zeros_like,
)
from .._core.rules import CUSTOM_RULES, CustomRule, Zero, pull_back, set_vjp_deriver

_seq = itertools.count()  # creation order; thread safe in CPython (next() on count is atomic)


class Node:
    """One recorded primitive application (or, with prim None, an input leaf)."""

    __slots__ = ("prim", "params", "args", "ans", "parents", "seq")

    def __init__(self, prim: Primitive | None, params: dict[str, Any], args: Any,
                 ans: Any, parents: tuple[tuple[int, Node, int], ...]) -> None:
        self.prim = prim
        self.params = params
        self.args = args
        self.ans = ans
        self.parents = parents
        self.seq = next(_seq)

    def __repr__(self) -> str:
        return f"Node({self.prim.name if self.prim else 'leaf'}, seq={getattr(self, 'seq', None)})"


class TapeNode(Node):
    """A node of a functional trace (grad, vjp, jacrev): the tape list orders them, so it
    carries no creation number (an int object per node: a tenth of the tape's memory)."""

    __slots__ = ()

    def __init__(self, prim: Primitive, params: dict[str, Any], args: Any, ans: Any,
                 parents: tuple[tuple[int, Node, int], ...]) -> None:
        self.prim = prim
        self.params = params
        self.args = args
        self.ans = ans
        self.parents = parents


class CustomNode(Node):
    """A node of a primitive with its own forward pass (custom_vjp, checkpoint): keeps residuals."""

    __slots__ = ("res",)


class LeafNode(Node):
    """An input. For an eager Tensor, `owner` is a weak reference to it (for `.grad`)."""

    __slots__ = ("owner",)

    def __init__(self, owner: Any = None) -> None:
        # (Node.__init__'s assignments, without its call: one per differentiated input)
        self.prim = None
        self.params = _NO_PARAMS
        self.args = self.ans = None
        self.parents = ()
        self.seq = next(_seq)
        self.owner = owner


_NO_PARAMS: dict[str, Any] = {}


class TapeTrace(Trace):
    """The functional reverse-mode interpreter (used by grad, vjp, jacrev). Its `nodes` list is the
    tape: nodes in creation order, which the backward pass walks in reverse."""

    __slots__ = ("nodes",)

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.nodes: list[Node] = []

    def leaf(self, value: Any) -> TapeTracer:
        return TapeTracer(self, value, LeafNode(), 0)

    def process(self, prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
        # the hottest function of reverse mode: unwrap_args inlined
        if not self.active:
            raise LeakedTracerError(dead_trace_message(prim.name))
        vals = []
        parents = []
        lower = False
        i = 0
        for a in args:
            if a.__class__ is TapeTracer and a._trace is self:
                v = a.value
                if a.node is not None:
                    parents.append((i, a.node, a.idx))
            else:
                v = a
            if isinstance(v, Tracer):
                lower = True
            vals.append(v)
            i += 1
        if prim.nondiff or not parents:
            return prim.bind(*vals, **params)
        node: Node | None
        custom = CUSTOM_RULES.get(prim) if prim.multiple_results else None
        if custom is not None and custom.fwd is not None:
            ans, node = record_custom(self, custom, prim, args, vals, tuple(parents), params, vals)
            if node is None:
                return ans
        else:
            ans = prim.bind(*vals, **params) if lower else prim.impl(*vals, **params)
            # (the arguments kept as a tuple: a list built by appending holds spare slots)
            node = TapeNode(prim, params, tuple(vals), ans, tuple(parents))
        self.nodes.append(node)
        if prim.multiple_results:
            return [TapeTracer(self, a, node, k) for k, a in enumerate(ans)]
        return TapeTracer(self, ans, node, 0)


def record_custom(trace: Trace, custom: CustomRule, prim: Primitive, args: tuple[Any, ...],
                  vals: Any, parents: tuple[Any, ...], params: dict[str, Any], saved: Any
                  ) -> tuple[Any, Node | None]:
    """Run a custom forward pass (custom_vjp, checkpoint) and make its node, which keeps the
    residuals. When the function turns out to close over values of `trace` itself, the
    primitive's `on_closure` decides instead, and no node is made: (its result, None)."""
    ans, res = custom.fwd(*vals, **params)  # type: ignore[misc]
    if closed_over(ans, trace):
        return custom.on_closure(args, **params), None  # type: ignore[misc]
    node = CustomNode(prim, params, saved, ans, parents)
    node.res = res
    return ans, node


def closed_over(ans: Any, trace: Trace) -> bool:
    """Whether the outputs of a custom forward pass are traced by `trace` itself, which happens
    only when the function reached traced values through a closure."""
    outs = ans if isinstance(ans, (list, tuple)) else (ans,)
    return any(getattr(o, "_trace", None) is trace for o in outs)


def unwrap_args(trace: Trace, args: tuple[Any, ...]) -> tuple[tuple[Any, ...], tuple[Any, ...],
                                                                bool]:
    """The values below `trace` of a primitive's arguments, the recorded parents among them as
    (argument index, node, output index), and whether a lower-level tracer is among the values."""
    vals = []
    parents = []
    lower = False
    i = 0
    for a in args:
        t = getattr(a, "_trace", None)
        if t is trace:
            v = a.value
            if a.node is not None:
                parents.append((i, a.node, a.idx))
        else:
            v = a
        if isinstance(v, Tracer):
            lower = True
        vals.append(v)
        i += 1
    return tuple(vals), tuple(parents), lower


class TapeTracer(Tracer):
    __slots__ = ("value", "node", "idx")

    def __init__(self, trace: TapeTrace, value: Any, node: Node | None, idx: int) -> None:
        self._trace = trace
        self.value = value
        self.node = node
        self.idx = idx

    @property
    def shape(self) -> tuple[int, ...]:
        return shape_of(self.value)

    @property
    def ndim(self) -> int:
        return ndim_of(self.value)

    @property
    def dtype(self) -> Any:
        return dtype_of(self.value)

    def __repr__(self) -> str:
        return f"TapeTracer({self.value!r})"

    def _below(self) -> Any:
        return self.value

    _concrete = _below


# ---------------------------------------------------------------------------------------------
# the backward pass

Root = tuple[Node, int, Any]  # (node, output index, cotangent)


def backward(roots: list[Root], *, retain: bool = False,
             capture: set[tuple[Node, int]] | None = None,
             unwrap: Any = None, recompute: bool = False,
             tape: list[Node] | None = None) -> dict[tuple[Node, int], Any]:
    """Propagate cotangents from `roots` to every node they reach.

    Returns the cotangent of every leaf reached and of every `(node, idx)` in `capture`.
    `tape` is the list of recorded nodes in creation order when the caller has it (the functional
    transforms); otherwise the nodes reachable from the roots are found and ordered by creation.
    `unwrap(args)` turns a node's saved arguments into the values its VJP rule receives (the eager
    Tensor uses it to choose between plain arrays and a differentiable graph); with `recompute`,
    each node's output is recomputed from those arguments so that rules using it stay
    differentiable (eager create_graph). Without `retain`, each node's residuals are released as
    soon as it has been processed.

    Its callers run it in the quiet floating-point state (`checks.quiet`): the transforms'
    front, generated code, and the eager Tensor's backward().
    """
    order = reversed(tape) if tape is not None else _topo_order([r[0] for r in roots])
    grads: dict[Node, list[Any]] = {}
    for node, idx, ct in roots:
        _accumulate(grads, node, idx, ct)
    out: dict[tuple[Node, int], Any] = {}
    pop = grads.pop
    for node in order:
        cts = pop(node, None)
        if cts is None:
            continue
        prim = node.prim
        if prim is None:  # a leaf reached through the ordering of the eager graph
            grads[node] = cts
            continue
        if capture:
            for k, c in enumerate(cts):
                if (node, k) in capture and c is not None:
                    out[(node, k)] = c
        args = node.args
        if args is None:
            raise FreedGraphError(
                f"backward reached '{prim.name}' whose saved values were freed by an earlier "
                f"backward(); pass retain_graph=True to the first backward() to go through the "
                f"graph twice")
        if unwrap is not None:
            args = unwrap(args)
        own = CUSTOM_RULES.get(prim) if prim.multiple_results else None
        custom = own is not None and own.fwd is not None
        res = node.res if custom else None  # type: ignore[attr-defined]
        if not recompute:
            ans = node.ans
        elif custom:  # fresh residuals, recorded, for create_graph
            ans, res = own.fwd(*args, **node.params)  # type: ignore[union-attr]
        else:
            ans = prim.bind(*args, **node.params)
        # the written rules, called directly: VJPs `(ct, ans, *args)`, or for a linear
        # primitive (add, sub, reshape, sum...) its transposes `(ct, *args)`
        vjps = prim.vjp
        linear = vjps is None and type(prim.transpose) is tuple
        if linear:
            vjps = prim.transpose
        if vjps is not None and not custom and not prim.multiple_results:
            ct = cts[0]
            params = node.params
            for i, parent, pidx in node.parents:
                rule = vjps[i] if i < len(vjps) else None
                c = (pull_back(prim, (i,), ct, ans, args, params)[i] if rule is None
                     else rule(ct, *args, **params) if linear
                     else rule(ct, ans, *args, **params))
                if c is not Zero:
                    slot = grads.get(parent)
                    if slot is None:  # (a parent of one result: its slot, without a call)
                        if parent.prim is None or not parent.prim.multiple_results:
                            grads[parent] = [c]
                        else:
                            _accumulate(grads, parent, pidx, c)
                    else:
                        prev = slot[pidx]
                        slot[pidx] = c if prev is None else prev + c
        else:
            ct_in = _node_vjp(node, prim, own, cts, args, ans, res)
            for i, parent, pidx in node.parents:
                c = ct_in[i]
                if c is not None and c is not Zero:
                    _accumulate(grads, parent, pidx, c)
        if not retain:
            node.args = None
            node.ans = None
            if custom:
                node.res = None  # type: ignore[attr-defined]
    for node, cts in grads.items():
        if node.prim is None:
            out[(node, 0)] = cts[0]
        elif capture:
            for k, c in enumerate(cts):
                if (node, k) in capture and c is not None:
                    out[(node, k)] = c
    return out


def _accumulate(grads: dict[Node, list[Any]], node: Node, idx: int, ct: Any) -> None:
    slot = grads.get(node)
    if slot is None:
        n = len(node.ans) if node.prim is not None and node.prim.multiple_results else 1
        slot = grads[node] = [None] * n
    prev = slot[idx]
    slot[idx] = ct if prev is None else prev + ct


def _topo_order(starts: list[Node]) -> list[Node]:
    seen: set[int] = set()
    order: list[Node] = []
    stack = list(starts)
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        order.append(n)
        for _, p, _ in n.parents:
            if id(p) not in seen:
                stack.append(p)
    order.sort(key=_seq_key, reverse=True)
    return order


def _seq_key(n: Node) -> int:
    return n.seq


def _node_vjp(node: Node, prim: Primitive, custom: CustomRule | None, cts: list[Any],
              args: tuple[Any, ...], ans: Any, res: Any) -> list[Any]:
    """Cotangents for the recorded arguments of one node (None where not needed): the general
    path for multiple outputs, custom rules, transposes and VJPs derived from the JVP."""
    needed = [i for i, _, _ in node.parents]
    if prim.multiple_results:
        ct: Any = [c if c is not None else zeros_like(a) for c, a in zip(cts, ans)]
    else:
        ct = cts[0]
    if custom is not None and custom.bwd is not None:
        all_cts = custom.bwd(res, ct, needed, **node.params)
        out: list[Any] = [None] * len(args)
        for i in needed:
            out[i] = all_cts[i]
        return out
    return pull_back(prim, needed, ct, ans, args, node.params)


def _derived_vjp(prim: Primitive, args: tuple[Any, ...], params: dict[str, Any], ct: Any,
                 needed: list[int]) -> list[Any]:
    """The VJP obtained from the JVP rule alone: record the rule's tangent computation on a
    fresh tape, with the tangents of the needed arguments as its inputs, and pull `ct` back
    through it. Exact, and as differentiable as the JVP rule itself."""
    out: list[Any] = [None] * len(args)
    with open_trace(TapeTrace) as trace:
        leaves = {i: trace.leaf(zeros_like(args[i])) for i in needed}
        tangents = [leaves.get(i, Zero) for i in range(len(args))]
        _, ans_dot = prim.jvp(list(args), tangents, **params)
    outs = ans_dot if prim.multiple_results else [ans_dot]
    cts = ct if prim.multiple_results else [ct]
    roots = [(t.node, t.idx, c) for t, c in zip(outs, cts)
             if isinstance(t, TapeTracer) and t._trace is trace and t.node is not None]
    got = backward(roots, tape=trace.nodes) if roots else {}
    for i, leaf in leaves.items():
        g = got.get((leaf.node, 0))  # type: ignore[arg-type]
        out[i] = Zero if g is None else g
    return out


set_vjp_deriver(_derived_vjp)


# ---------------------------------------------------------------------------------------------
# grad mode (for the eager Tensor): recording on or off, per thread

class _GradMode(threading.local):
    def __init__(self) -> None:
        self.enabled = True


grad_mode = _GradMode()
