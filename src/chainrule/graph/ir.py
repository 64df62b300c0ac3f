"""The expression graph: a typed SSA program of primitive applications.

    { lambda v0:f64[32,64] v1:f64[64,128] .
      v2:f64[32,128] = matmul v0 v1
      v3:f64[32,128] = tanh v2
      in (v3,) }

Inputs are variables with a shape and a dtype; each equation applies one primitive of the rule
table to variables and constants and defines new variables; outputs name variables or constants.
`run` interprets a graph by binding its primitives, so running it under another interpreter (a
tape, dual numbers, vmap) differentiates or vectorises it: that is how graph autodiff works.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._core import tree
from .._core.primitive import Primitive, dtype_of, shape_of

_ids = itertools.count()


class Var:
    """A value of the graph: defined once, by an input or an equation."""

    __slots__ = ("id", "shape", "dtype")

    def __init__(self, shape: tuple[int, ...], dtype: Any) -> None:
        self.id = next(_ids)
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)

    def __repr__(self) -> str:
        return f"Var({self.id}, {type_str(self.shape, self.dtype)})"


class Const:
    """A constant operand (an array or a Python number captured while tracing)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    @property
    def shape(self) -> tuple[int, ...]:
        return shape_of(self.value)

    @property
    def dtype(self) -> np.dtype:
        return dtype_of(self.value)


Atom = Var | Const


def type_str(shape: tuple[int, ...], dtype: Any) -> str:
    short = {"float64": "f64", "float32": "f32", "int64": "i64", "int32": "i32", "bool": "bool",
             "complex128": "c128", "complex64": "c64"}.get(np.dtype(dtype).name,
                                                           np.dtype(dtype).name)
    return f"{short}[{','.join(map(str, shape))}]"


class Eqn:
    """`outputs = prim(inputs; params)`."""

    __slots__ = ("prim", "inputs", "params", "outputs")

    def __init__(self, prim: Primitive, inputs: Sequence[Atom], params: dict[str, Any],
                 outputs: Sequence[Var]) -> None:
        self.prim = prim
        self.inputs = list(inputs)
        self.params = params
        self.outputs = list(outputs)


class GraphError(ValueError):
    """A graph that breaks the rules of the IR (use before definition, wrong shapes, ...)."""


class Graph:
    """A traced program: `inputs`, `eqns`, `outputs`, and the pytree structures of the arguments
    and of the result it was traced from."""

    def __init__(self, inputs: list[Var], eqns: list[Eqn], outputs: list[Atom],
                 in_tree: tree.TreeDef | None = None, out_tree: tree.TreeDef | None = None
                 ) -> None:
        self.inputs = inputs
        self.eqns = eqns
        self.outputs = outputs
        self.in_tree = in_tree
        self.out_tree = out_tree
        #: custom-rule functions inlined while tracing (see GraphTrace.call): their rules are
        #: not in the graph, so it refuses to be differentiated
        self.inlined_rules: tuple[str, ...] = ()

    @property
    def num_nodes(self) -> int:
        return len(self.eqns)

    # -- evaluation ------------------------------------------------------------------------------
    def run_flat(self, *args: Any) -> list[Any]:
        if len(args) != len(self.inputs):
            raise TypeError(f"the graph takes {len(self.inputs)} input(s), got {len(args)}")
        env: dict[int, Any] = {v.id: a for v, a in zip(self.inputs, args)}

        def read(a: Atom) -> Any:
            return a.value if isinstance(a, Const) else env[a.id]

        for e in self.eqns:
            ans = e.prim.bind(*[read(a) for a in e.inputs], **e.params)
            if e.prim.multiple_results:
                for v, x in zip(e.outputs, ans):
                    env[v.id] = x
            else:
                env[e.outputs[0].id] = ans
        return [read(a) for a in self.outputs]

    def run(self, *args: Any) -> Any:
        """Interpret the graph on arguments shaped like the ones it was traced from."""
        leaves = tree.flatten(args)[0] if self.in_tree is not None else list(args)
        leaves = [x for x in leaves if tree.is_float_leaf(x) or not _is_static(x)]
        outs = self.run_flat(*leaves)
        return tree.unflatten(self.out_tree, outs) if self.out_tree is not None else outs

    # -- graph-to-graph autodiff ---------------------------------------------------------------
    def _specs(self) -> list[Any]:
        return [Spec(v.shape, v.dtype) for v in self.inputs]

    def _differentiable(self, what: str) -> None:
        if self.inlined_rules:
            raise NotImplementedError(
                f"Graph.{what}: the custom-rule function(s) {', '.join(self.inlined_rules)} "
                f"closed over values traced into this graph, so they were traced as the values "
                f"they compute and their rules are not in it; pass those values to the "
                f"function as arguments, or differentiate with cr.{what}(f, method='graph')")

    def grad(self, argnums: Any = 0) -> Graph:
        """A new graph computing (outputs, gradients w.r.t. the inputs `argnums`) of this graph,
        whose single output must be a scalar. Built by running the rule table's reverse-mode
        interpreter over this graph while tracing: the backward part is graph equations too,
        so the result can be differentiated again or optimised together with the forward."""
        from ..overload.transforms import value_and_grad
        from .trace import trace
        self._differentiable("grad")
        flat = value_and_grad(lambda *xs: self.run_flat(*xs)[0], argnums)
        return trace(flat, *self._specs())

    def jvp(self) -> Graph:
        """A new graph of (outputs, output tangents) from (inputs..., input tangents...)."""
        from ..overload.transforms import jvp
        from .trace import trace
        self._differentiable("jvp")
        n = len(self.inputs)

        def pushforward(*xs: Any) -> Any:
            return jvp(lambda *p: self.run_flat(*p), tuple(xs[:n]), tuple(xs[n:]))

        return trace(pushforward, *self._specs(), *self._specs())

    def to_json(self) -> str:
        """Plain JSON (see serialize); `Graph.from_json` reads it back without executing it."""
        from .serialize import to_json
        return to_json(self)

    @staticmethod
    def from_json(text: str) -> Graph:
        from .serialize import from_json
        return from_json(text)

    def to_dot(self) -> str:
        """Graphviz DOT: inputs as boxes, equations as ellipses; equations that only the
        gradient needs (not on the way from inputs to the first output) are drawn shaded."""
        names = _Names()
        forward = self._forward_ids()
        lines = ["digraph chainrule {", "  rankdir=TB;", '  node [fontname="Helvetica"];']
        for v in self.inputs:
            label = f"{names(v)}: {type_str(v.shape, v.dtype)}"
            lines.append(f'  v{v.id} [shape=box, label="{label}"];')
        for k, e in enumerate(self.eqns):
            shaded = not any(v.id in forward for v in e.outputs)
            style = ', style=filled, fillcolor="#dde7f5"' if shaded else ""
            lines.append(f'  e{k} [label="{e.prim.name}"{style}];')
            for a in e.inputs:
                if isinstance(a, Var):
                    lines.append(f"  v{a.id} -> e{k};")
            for v in e.outputs:
                lines.append(f'  v{v.id} [shape=plaintext, label="{names(v)}"];')
                lines.append(f"  e{k} -> v{v.id};")
        for i, a in enumerate(self.outputs):
            if isinstance(a, Var):
                lines.append(f'  out{i} [shape=doublecircle, label="out {i}"];')
                lines.append(f"  v{a.id} -> out{i};")
        lines.append("}")
        return "\n".join(lines)

    def _forward_ids(self) -> set[int]:
        """Variables the first output depends on."""
        if not self.outputs or not isinstance(self.outputs[0], Var):
            return set()
        need = {self.outputs[0].id}
        for e in reversed(self.eqns):
            if any(v.id in need for v in e.outputs):
                need.update(a.id for a in e.inputs if isinstance(a, Var))
        return need

    def optimize(self) -> Graph:
        """The graph after simplification, common-subexpression and dead-code elimination."""
        from .passes import optimize
        return optimize(self)

    def compile(self) -> Any:
        """A Python function of NumPy calls computing the graph (see codegen); its `.source`
        shows the generated code. Called with the same arguments as `run`."""
        from .codegen import compile_graph
        flat = compile_graph(self)
        in_tree, out_tree = self.in_tree, self.out_tree

        def compiled(*args: Any) -> Any:
            leaves = tree.flatten(args)[0] if in_tree is not None else list(args)
            outs = flat(*[x for x in leaves if not _is_static(x)])
            return tree.unflatten(out_tree, outs) if out_tree is not None else outs

        compiled.source = flat.source  # type: ignore[attr-defined]
        compiled.flat = flat  # type: ignore[attr-defined]
        return compiled

    # -- checking ------------------------------------------------------------------------------
    def check(self) -> Graph:
        """Raise GraphError unless every variable is defined once before use and every
        equation's outputs have the number, shapes and dtypes its primitive's abstract_eval
        gives; the sub-graphs of control-flow equations are checked in turn.

        Each graph is checked once, from a work list rather than by recursion: the time is
        linear in the total size however deeply control flow nests, and a sub-graph shared by
        several equations (or branches) is not checked again for each."""
        pending: list[tuple[Graph, str]] = [(self, "")]
        seen = {id(self)}  # (the graphs stay alive, held by their parents, while this runs)
        while pending:
            g, where = pending.pop()
            try:
                subs = g._check_own()
            except GraphError as exc:
                if not where:
                    raise
                raise GraphError(f"{where}: {exc}") from None
            for label, sub in subs:
                if id(sub) not in seen:
                    seen.add(id(sub))
                    pending.append((sub, f"{where} > {label}" if where else label))
        return self

    def _check_own(self) -> list[tuple[str, Graph]]:
        """Check this graph's own equations; return its sub-graphs (labelled) unchecked."""
        subs: list[tuple[str, Graph]] = []
        defined: set[int] = set()
        for v in self.inputs:
            if v.id in defined:
                raise GraphError(f"input {v} is defined twice")
            defined.add(v.id)
        for k, e in enumerate(self.eqns):
            for a in e.inputs:
                if isinstance(a, Var) and a.id not in defined:
                    raise GraphError(f"equation {k} ({e.prim.name}) uses v{a.id} before it is "
                                     f"defined")
            if e.prim.abstract_eval is not None:
                got = e.prim.abstract_eval(*[_aval(a) for a in e.inputs], **e.params)
                avals = list(got) if e.prim.multiple_results else [got]
                if len(avals) != len(e.outputs):
                    raise GraphError(f"equation {k} ({e.prim.name}) declares {len(e.outputs)} "
                                     f"output(s) but its primitive gives {len(avals)}")
                for v, (shape, dtype) in zip(e.outputs, avals):
                    if tuple(shape) != v.shape or np.dtype(dtype) != v.dtype:
                        raise GraphError(f"equation {k} ({e.prim.name}) declares "
                                         f"{type_str(v.shape, v.dtype)} but its primitive gives "
                                         f"{type_str(tuple(shape), dtype)}")
            for v in e.outputs:
                if v.id in defined:
                    raise GraphError(f"v{v.id} is defined twice (equation {k})")
                defined.add(v.id)
            for name, p in e.params.items():  # the sub-graphs of control flow
                if isinstance(p, Graph):
                    subs.append((f"{name} of equation {k} ({e.prim.name})", p))
                elif _holds_graphs(p):
                    subs += [(f"{name}[{i}] of equation {k} ({e.prim.name})", g)
                             for i, g in enumerate(p)]
        for a in self.outputs:
            if isinstance(a, Var) and a.id not in defined:
                raise GraphError(f"output v{a.id} is never defined")
        return subs

    # -- printing ------------------------------------------------------------------------------
    def __str__(self) -> str:
        return "\n".join(self._lines(""))

    def _lines(self, indent: str) -> list[str]:
        names = _Names()
        head = " ".join(f"{names(v)}:{type_str(v.shape, v.dtype)}" for v in self.inputs)
        lines = [f"{{ lambda {head} ."]
        for e in self.eqns:
            outs = " ".join(f"{names(v)}:{type_str(v.shape, v.dtype)}" for v in e.outputs)
            args = " ".join(names.atom(a) for a in e.inputs)
            inline = {k: v for k, v in e.params.items() if not _holds_graphs(v)}
            lines.append(f"{indent}    {outs} = {e.prim.name}{_params_str(inline)} {args}"
                         .rstrip())
            for k, v in e.params.items():  # sub-graphs, nested below their equation
                if _holds_graphs(v):
                    subs = [(k, v)] if isinstance(v, Graph) else \
                        [(f"{k}[{i}]", g) for i, g in enumerate(v)]
                    for label, g in subs:
                        body = g._lines(indent + "      ")
                        lines.append(f"{indent}      {label} = {body[0]}")
                        lines.extend(body[1:])
        outs = ", ".join(names.atom(a) for a in self.outputs)
        lines.append(f"{indent}  in ({outs}{',' if len(self.outputs) == 1 else ''}) }}")
        return lines

    __repr__ = __str__


def _holds_graphs(v: Any) -> bool:
    return isinstance(v, Graph) or (isinstance(v, tuple) and bool(v)
                                    and all(isinstance(g, Graph) for g in v))


class _Names:
    """Short names a, b, ..., z, ba, bb, ... in order of first appearance."""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}

    def __call__(self, v: Var) -> str:
        if v.id not in self.names:
            n, s = len(self.names), ""
            while True:
                s = chr(ord("a") + n % 26) + s
                n //= 26
                if n == 0:
                    break
            self.names[v.id] = s
        return self.names[v.id]

    def atom(self, a: Atom) -> str:
        if isinstance(a, Var):
            return self(a)
        return const_str(a.value)


def const_str(value: Any) -> str:
    if isinstance(value, (bool, int, float, complex, np.generic)) or np.ndim(value) == 0:
        return repr(np.asarray(value).item()) if np.ndim(value) == 0 else repr(value)
    return f"const:{type_str(shape_of(value), dtype_of(value))}"


def _params_str(params: dict[str, Any]) -> str:
    if not params:
        return ""
    parts = []
    for k, v in params.items():
        if callable(v):
            v = getattr(v, "__name__", type(v).__name__)
        elif isinstance(v, np.ndarray):
            v = const_str(v)
        parts.append(f"{k}={v}")
    return "[" + " ".join(parts) + "]"


class Spec:
    """A shape and a dtype, no data: a placeholder input of `trace`, and what abstract
    evaluation sees of a graph variable."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape: Any, dtype: Any = "float64") -> None:
        self.shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(
            int(s) for s in shape)
        self.dtype = np.dtype(dtype)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"spec({self.shape}, {self.dtype.name!r})"


def _aval(a: Atom) -> Any:
    return a.value if isinstance(a, Const) else Spec(a.shape, a.dtype)


def _is_static(x: Any) -> bool:
    """Leaves that are not traced inputs: anything that is not a floating-point number/array."""
    return not tree.is_float_leaf(x)
