"""Graphviz DOT output of a graph (`Graph.to_dot`)."""
from __future__ import annotations

from .ir import Graph, Var, _Names, type_str


def to_dot(g: Graph) -> str:
    """Graphviz DOT: inputs as boxes, equations as ellipses; equations that only the gradient
    needs (not on the way from inputs to the first output) are drawn shaded."""
    names = _Names()
    forward = _forward_ids(g)
    lines = ["digraph chainrule {", "  rankdir=TB;", '  node [fontname="Helvetica"];']
    for v in g.inputs:
        label = f"{names(v)}: {type_str(v.shape, v.dtype)}"
        lines.append(f'  v{v.id} [shape=box, label="{label}"];')
    for k, e in enumerate(g.eqns):
        shaded = not any(v.id in forward for v in e.outputs)
        style = ', style=filled, fillcolor="#dde7f5"' if shaded else ""
        lines.append(f'  e{k} [label="{e.prim.name}"{style}];')
        for a in e.inputs:
            if isinstance(a, Var):
                lines.append(f"  v{a.id} -> e{k};")
        for v in e.outputs:
            lines.append(f'  v{v.id} [shape=plaintext, label="{names(v)}"];')
            lines.append(f"  e{k} -> v{v.id};")
    for i, a in enumerate(g.outputs):
        if isinstance(a, Var):
            lines.append(f'  out{i} [shape=doublecircle, label="out {i}"];')
            lines.append(f"  v{a.id} -> out{i};")
    lines.append("}")
    return "\n".join(lines)


def _forward_ids(g: Graph) -> set[int]:
    """Variables the first output depends on."""
    if not g.outputs or not isinstance(g.outputs[0], Var):
        return set()
    need = {g.outputs[0].id}
    for e in reversed(g.eqns):
        if any(v.id in need for v in e.outputs):
            need.update(a.id for a in e.inputs if isinstance(a, Var))
    return need
