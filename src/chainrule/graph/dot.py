"""Graphviz DOT output of a graph (`Graph.to_dot`).

The picture shows what the graph computes and nothing else: the equations some output needs
(dead ones are left out), each drawn once with the constants it takes, arrows from the inputs
through the equations to the outputs. Inputs are boxes (named after the function's parameters
when the caller knows them), outputs are labelled (`value`, `d/dW`, ...) and the equations only
the gradient needs are shaded. The reverse rules' internal guards (`strong_mask`: a zero
cotangent times an infinite partial derivative counts as zero) pass their value through and are
drawn only with `internals=True`.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .ir import Atom, Eqn, Graph, Var, _Names, const_str, type_str

#: primitives that are bookkeeping of the reverse rules, not mathematics: for each, the position
#: of the operand whose value it passes on where it changes nothing
INTERNAL = {"strong_mask": 2}

_SHADE = "#dde7f5"   # equations only the gradient needs
_INPUT = "#eef5e9"
_OUTPUT = "#fdf1d6"


def to_dot(g: Graph, input_names: Sequence[str] | None = None,
           output_names: Sequence[str] | None = None, internals: bool = False) -> str:
    """Graphviz DOT of `g`: inputs as boxes, equations as ellipses (the ones only the gradient
    needs shaded), outputs as labelled boxes.

    `input_names` names the inputs (default: the listing's a, b, ...; `chainrule graph` passes
    the function's parameter names); `output_names` the outputs (default: out 0, out 1, ...).
    Only equations an output needs are drawn. `internals=True` also draws the reverse rules'
    `strong_mask` guards, which otherwise pass their operand through.
    """
    names = _Names()
    for v in g.inputs:  # the listing's names: a, b, ... for the inputs, then in order
        names(v)
    for e in g.eqns:
        for v in e.outputs:
            names(v)
    in_names = _names_for(g.inputs, input_names, "input_names", lambda k, v: names(v))
    out_names = _names_for(g.outputs, output_names, "output_names",
                           lambda k, a: f"out {k}")

    source = _sources(g, internals)  # var id -> the node that draws it (and which output)
    live = _live(g, source)
    forward = _forward_ids(g, source)
    lines = ["digraph chainrule {", "  rankdir=TB;", '  fontname="Helvetica"; fontsize=11;',
             '  node [fontname="Helvetica", fontsize=11];',
             '  edge [color="#555555", arrowsize=0.7];']
    for k, v in enumerate(g.inputs):
        shown = in_names[k] if in_names[k] == names(v) else f"{in_names[k]} ({names(v)})"
        label = _dot_string(shown, type_str(v.shape, v.dtype))
        lines.append(f'  v{v.id} [shape=box, style="rounded,filled", fillcolor="{_INPUT}", '
                     f"label={label}];")
    for k, e in enumerate(g.eqns):
        if k not in live:
            continue
        outs = ", ".join(f"{names(v)}: {type_str(v.shape, v.dtype)}" for v in e.outputs)
        label = _dot_string(_call_text(e), outs)
        shaded = not any(v.id in forward for v in e.outputs)
        style = f', style=filled, fillcolor="{_SHADE}"' if shaded else ""
        lines.append(f"  e{k} [label={label}{style}];")
        seen: set[str] = set()
        for a in e.inputs:
            if isinstance(a, Var):
                node, index = source[a.id]
                edge = f"  {node} -> e{k}" + (f' [label="{index}"]' if index is not None else "")
                if edge not in seen:  # mul a a: one arrow
                    seen.add(edge)
                    lines.append(edge + ";")
    for k, a in enumerate(g.outputs):
        if isinstance(a, Var):
            label = _dot_string(out_names[k], type_str(a.shape, a.dtype))
        else:
            label = _dot_string(f"{out_names[k]} = {_constant(a.value)}")
        lines.append(f'  out{k} [shape=box, style=filled, fillcolor="{_OUTPUT}", '
                     f"label={label}];")
        if isinstance(a, Var):
            node, index = source[a.id]
            lines.append(f"  {node} -> out{k}"
                         + (f' [label="{index}"]' if index is not None else "") + ";")
    if any(k in live and not any(v.id in forward for v in e.outputs)
           for k, e in enumerate(g.eqns)):
        lines.append('  labelloc=b; label="shaded: computed only for the gradient";')
    lines.append("}")
    return "\n".join(lines)


def _names_for(atoms: Sequence[Atom], given: Sequence[str] | None, what: str,
               default: object) -> list[str]:
    if given is None:
        return [default(k, a) for k, a in enumerate(atoms)]  # type: ignore[operator]
    got = [str(s) for s in given]
    if len(got) != len(atoms):
        raise ValueError(f"to_dot: {what} has {len(got)} name(s) for {len(atoms)} "
                         f"{'input' if what == 'input_names' else 'output'}(s)")
    return got


def _sources(g: Graph, internals: bool) -> dict[int, tuple[str, int | None]]:
    """Each variable's node in the picture, and its output position when that node has several
    outputs: an input's box, its equation's ellipse, or (an internal guard being hidden) the
    node of the operand it passes through."""
    source: dict[int, tuple[str, int | None]] = {v.id: (f"v{v.id}", None) for v in g.inputs}
    for k, e in enumerate(g.eqns):
        through = None if internals else INTERNAL.get(e.prim.name)
        if through is not None and len(e.outputs) == 1 and through < len(e.inputs) \
                and isinstance(e.inputs[through], Var):
            source[e.outputs[0].id] = source[e.inputs[through].id]  # type: ignore[union-attr]
            continue
        for j, v in enumerate(e.outputs):
            source[v.id] = (f"e{k}", j if len(e.outputs) > 1 else None)
    return source


def _drawn(g: Graph, source: dict[int, tuple[str, int | None]]) -> dict[str, Eqn]:
    return {f"e{k}": e for k, e in enumerate(g.eqns)
            if any(source[v.id][0] == f"e{k}" for v in e.outputs)}


def _needed(g: Graph, source: dict[int, tuple[str, int | None]],
            roots: Sequence[Atom]) -> set[str]:
    """The nodes the `roots` depend on, following hidden guards to what they pass on."""
    drawn = _drawn(g, source)
    need = {source[a.id][0] for a in roots if isinstance(a, Var)}
    stack = list(need)
    while stack:
        e = drawn.get(stack.pop())
        if e is None:
            continue
        for a in e.inputs:
            if isinstance(a, Var) and source[a.id][0] not in need:
                need.add(source[a.id][0])
                stack.append(source[a.id][0])
    return need


def _live(g: Graph, source: dict[int, tuple[str, int | None]]) -> set[int]:
    """Positions of the equations drawn: those some output needs."""
    need = _needed(g, source, g.outputs)
    return {k for k in range(len(g.eqns)) if f"e{k}" in need}


def _forward_ids(g: Graph, source: dict[int, tuple[str, int | None]]) -> set[int]:
    """Variables the first output depends on."""
    if not g.outputs or not isinstance(g.outputs[0], Var):
        return set()
    need = _needed(g, source, g.outputs[:1])
    ids = {v.id for v in g.inputs if f"v{v.id}" in need}
    for k, e in enumerate(g.eqns):
        if f"e{k}" in need:
            ids.update(v.id for v in e.outputs)
    return ids


def _call_text(e: Eqn) -> str:
    """The primitive's name; with the constants it takes when it takes any (`mul(·, 2.0)`), and
    its parameters (`sum[axis=(0,)]`)."""
    params = ""
    shown = {k: v for k, v in e.params.items() if not callable(v) and not isinstance(v, Graph)}
    if shown and len(shown) == len(e.params):
        params = "[" + " ".join(f"{k}={_short(v)}" for k, v in shown.items()) + "]"
    name = e.prim.name + params
    if all(isinstance(a, Var) for a in e.inputs):
        return name
    return name + "(" + ", ".join("·" if isinstance(a, Var) else _constant(a.value)
                                  for a in e.inputs) + ")"


def _constant(value: object) -> str:
    if np.ndim(value) != 0:
        return "const:" + type_str(np.shape(value), np.asarray(value).dtype)
    return const_str(value)


def _short(value: object, limit: int = 24) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _dot_string(*lines: str) -> str:
    """The lines as one quoted DOT string, a line break between them."""
    escaped = [s.replace("\\", "\\\\").replace('"', '\\"') for s in lines]
    return '"' + "\\n".join(escaped) + '"'
