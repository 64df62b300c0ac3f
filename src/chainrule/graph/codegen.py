"""Code generation: a Graph becomes a Python function of NumPy calls, one line per equation.

    def graph_fn(a, b):
        c = matmul(a, b)                  # each name is the primitive's NumPy implementation
        d = tanh(c)
        e = sum(d, axis=(0, 1), keepdims=False)
        return (e,)

Parameters and constants that print as Python literals are written in the source; others
(arrays, for instance) are bound in the function's namespace as k0, k1, ... The generated text is
in `.source`.
"""
from __future__ import annotations

import builtins
import keyword
from collections.abc import Callable
from typing import Any

import numpy as np

from .ir import Atom, Const, Graph, Var, _Names


def _literal(v: Any) -> str | None:
    """Python source for a value when it is a plain literal, else None."""
    if v is None or type(v) in (bool, int, str):
        return repr(v)
    if type(v) is float:  # (NumPy scalars print as np.float64(...): they become constants)
        return repr(v) if np.isfinite(v) else None
    if v is Ellipsis:
        return "..."
    if isinstance(v, slice):
        parts = [_literal(p) for p in (v.start, v.stop, v.step)]
        return None if None in parts else f"slice({', '.join(parts)})"  # type: ignore[arg-type]
    if isinstance(v, tuple):
        parts = [_literal(p) for p in v]
        if None in parts:
            return None
        return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"  # type: ignore
    return None


class _Source:
    def __init__(self) -> None:
        self.names = _Names()
        self.namespace: dict[str, Any] = {}
        self.consts = 0

    def constant(self, value: Any) -> str:
        lit = _literal(value)
        if lit is not None:
            return lit
        name = f"k{self.consts}"
        self.consts += 1
        self.namespace[name] = value
        return name

    def atom(self, a: Atom) -> str:
        return self.constant(a.value) if isinstance(a, Const) else self.var(a)

    def var(self, v: Var) -> str:
        n = self.names(v)
        # keep generated names clear of keywords and the primitives' own names
        return f"{n}_" if keyword.iskeyword(n) or n in self.namespace or hasattr(builtins, n) \
            else n

    def function(self, prim: Any) -> str:
        name = prim.name if prim.name.isidentifier() else f"p_{abs(hash(prim.name))}"
        self.namespace[name] = prim.impl
        return name


def compile_graph(graph: Graph, name: str = "graph_fn") -> Callable[..., Any]:
    """A Python function computing `graph`'s outputs (flat list) from its inputs (flat)."""
    src = _Source()
    for e in graph.eqns:  # bind the implementations first, so variable names avoid them
        src.function(e.prim)
    args = ", ".join(src.var(v) for v in graph.inputs)
    lines = [f"def {name}({args}):"]
    # free each intermediate after its last use, as the tape does during a backward pass: the
    # peak memory of the generated code stays that of the computation, not of all its values
    keep = {a.id for a in graph.outputs if isinstance(a, Var)}
    last: dict[int, int] = {}
    for k, e in enumerate(graph.eqns):
        for a in e.inputs:
            if isinstance(a, Var):
                last[a.id] = k
    dead_after: dict[int, list[Var]] = {}
    seen: set[int] = set()
    for k, e in enumerate(graph.eqns):
        for a in e.inputs:
            if isinstance(a, Var) and last[a.id] == k and a.id not in keep and a.id not in seen:
                seen.add(a.id)
                dead_after.setdefault(k, []).append(a)
    for k, e in enumerate(graph.eqns):
        fn = src.function(e.prim)
        call_args = [src.atom(a) for a in e.inputs]
        call_args += [f"{k_}={src.constant(v)}" for k_, v in e.params.items()]
        outs = ", ".join(src.var(v) for v in e.outputs)
        if e.prim.multiple_results:
            outs += "," if len(e.outputs) == 1 else ""
        lines.append(f"    {outs} = {fn}({', '.join(call_args)})")
        if k in dead_after:
            lines.append(f"    del {', '.join(src.var(v) for v in dead_after[k])}")
    rets = ", ".join(src.atom(a) for a in graph.outputs)
    lines.append(f"    return [{rets}]")
    source = "\n".join(lines) + "\n"
    namespace = dict(src.namespace)
    code = builtins.compile(source, f"<chainrule graph {name}>", "exec")
    exec(code, namespace)  # noqa: S102 - our own generated source, never user text
    fn = namespace[name]
    fn.source = source
    return fn
