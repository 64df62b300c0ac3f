"""Code generation: a Graph becomes a Python function of NumPy calls, one line per equation.

    def graph_fn(a, b):
        c = matmul(a, b)                  # each name is the primitive's NumPy implementation
        d = tanh(c)
        e = sum(d, axis=(0, 1), keepdims=False)
        return (e,)

Numbers, None, slices and tuples of them are written in the source as literals; every other
parameter or constant (arrays, strings, sub-graphs) is bound in the function's namespace as
k0, k1, ... Keyword names must be identifiers the primitive accepts (`serialize.param_names`),
else GraphError: the only text in the source is what this module writes itself, never a string
that came with the graph (a graph may be loaded from a file). The generated text is in `.source`.
"""
from __future__ import annotations

import builtins
import keyword
import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from .._core import tree
from ..ops.operators import INFIX, NEGATION
from .ir import Atom, Const, Graph, GraphError, Var, _is_static, _Names
from .serialize import param_names


def _literal(v: Any) -> str | None:
    """Python source for a value when it is a plain literal, else None. Only exact bools, ints
    and floats (whose repr is a number) qualify: strings, whatever they hold, are bound as
    constants instead, so no text that came with a graph is written into the source."""
    if v is None or type(v) in (bool, int):
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


#: names a generated variable must not take: Python's keywords and builtins
_RESERVED = frozenset(keyword.kwlist) | frozenset(dir(builtins))


class _Source:
    def __init__(self, like: Any = None) -> None:
        self.like = like
        self.names = _Names()
        self.namespace: dict[str, Any] = {"np": np}
        self.consts = 0
        self.var_names: dict[int, str] = {}

    def constant(self, value: Any) -> str:
        lit = _literal(value)
        if lit is not None:
            return lit
        name = f"k{self.consts}"
        self.consts += 1
        if self.like is not None and type(value) is np.ndarray and value.dtype.kind in "fcb":
            # (in the inputs' array library: CuPy refuses NumPy's arrays among its operands;
            # integer arrays stay NumPy's, as indices every library reads)
            value = np.asarray(value, like=self.like)
        self.namespace[name] = value
        return name

    def atom(self, a: Atom) -> str:
        return self.constant(a.value) if isinstance(a, Const) else self.var(a)

    def var(self, v: Var) -> str:
        name = self.var_names.get(v.id)
        if name is None:
            n = self.names(v)
            # keep generated names clear of keywords and the primitives' own names
            name = f"{n}_" if n in _RESERVED or n in self.namespace else n
            self.var_names[v.id] = name
        return name

    def keyword(self, prim: Any, name: Any) -> str:
        """A parameter name to write as `name=`: only identifiers the primitive accepts."""
        if type(name) is not str or not name.isascii() or not name.isidentifier() \
                or keyword.iskeyword(name) or name not in param_names(prim):
            accepted = ", ".join(sorted(param_names(prim))) or "none"
            shown = repr(name[:40]) if isinstance(name, str) else type(name).__name__
            raise GraphError(f"cannot generate code for {prim.name}: it has no parameter "
                             f"{shown} (its parameters: {accepted}; an implementation declares "
                             f"its parameters keyword-only)")
        return name

    def function(self, prim: Any) -> str:
        name = prim.name if prim.name.isidentifier() else f"p_{abs(hash(prim.name))}"
        self.namespace[name] = prim.impl
        return name


# elementwise primitives that can write their result into a buffer (NumPy's `out=`)
_OUT_UFUNCS = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide,
               "neg": np.negative}
# primitives whose result is always a new array (never a view of an operand)
_FRESH = {"matmul", "select", "sum", "max", "prod", "exp", "log", "tanh", "sin", "cos",
          "square", "sqrt", "power", "abs"} | set(_OUT_UFUNCS)


# implementations that are Python's operators, written as such in the generated code
_INFIX = {operator.add: INFIX["add"].python.strip(), operator.sub: INFIX["sub"].python.strip(),
          operator.mul: INFIX["mul"].python.strip(), operator.neg: NEGATION.python}


def _ufunc(prim: Any) -> np.ufunc | None:
    f = _OUT_UFUNCS.get(prim.name, prim.impl)
    # (written as np.<name>(..., out=...): NumPy's own ufuncs only, not SciPy's)
    return f if isinstance(f, np.ufunc) and f.nout == 1 and getattr(np, f.__name__, None) is f \
        else None


def _last_uses(graph: Graph) -> tuple[set[int], dict[int, int]]:
    """(the returned variables, each variable's last reading equation)."""
    keep = {a.id for a in graph.outputs if isinstance(a, Var)}
    last: dict[int, int] = {}
    for k, e in enumerate(graph.eqns):
        for a in e.inputs:
            if isinstance(a, Var):
                last[a.id] = k
    return keep, last


def reuse_plan(graph: Graph) -> dict[int, Var]:
    """For each equation that can compute in place, the operand whose buffer it may overwrite:
    an elementwise result of the operand's shape and dtype, where the operand is an array this
    code made itself (not an input, constant or view), and neither it nor any view of it is
    used later or returned."""
    if not any(len(v.shape) > 0 for e in graph.eqns for v in e.outputs):
        return {}  # (scalars only: nothing worth reusing)
    keep, last = _last_uses(graph)
    owned: set[int] = set()
    bases: dict[int, set[int]] = {v.id: set() for v in graph.inputs}  # what a value may alias
    alias_end: dict[int, int] = {}  # owned buffer -> last use of anything aliasing it
    for e in graph.eqns:
        fresh = not e.prim.multiple_results and (e.prim.name in _FRESH or _ufunc(e.prim)) \
            and len(e.outputs[0].shape) > 0
        for v in e.outputs:
            if fresh:
                owned.add(v.id)
                bases[v.id] = {v.id}
            else:  # conservatively a view of every operand
                bases[v.id] = set().union(*(bases.get(a.id, set()) for a in e.inputs
                                            if isinstance(a, Var)))
    for v_id, bs in bases.items():
        end = float("inf") if v_id in keep else last.get(v_id, -1)
        for b in bs:
            alias_end[b] = max(alias_end.get(b, -1), end)  # type: ignore[arg-type]
    plan: dict[int, Var] = {}
    used: set[int] = set()
    for k, e in enumerate(graph.eqns):
        if e.prim.multiple_results or _ufunc(e.prim) is None or e.params:
            continue
        out = e.outputs[0]
        for a in e.inputs:
            if isinstance(a, Var) and a.id in owned and a.id not in used \
                    and a.shape == out.shape and a.dtype == out.dtype \
                    and alias_end.get(a.id, -1) <= k:
                plan[k] = a
                used.add(a.id)
                break
    return plan


#: values smaller than this (elements) are not freed early: their memory is negligible and a
#: `del` per scalar would make long scalar programs (thousands of statements) slower to compile
_DEL_AT_LEAST = 64


#: equations per generated function: CPython's compiler needs memory and time that grow with a
#: function's length (about 2.5 KB a line, so a graph of 4 million equations as one function
#: needed 10 GB), so a longer graph is written as several functions, compiled one at a time
#: and called in turn: memory stays proportional to the graph with a small constant
MAX_STATEMENTS = 2000


#: how deep `_statements` nests the expressions of straight-line scalar code (Python's parser
#: refuses deeply nested ones; a few levels take the temporaries away)
_FUSE_DEPTH = 6


def _fusable(graph: Graph, keep: set[int]) -> dict[int, int]:
    """For straight-line scalar code: the equations whose one result one later equation of the
    same generated function reads once (equation index -> that reader's index), whose value can
    be written inside the reader's expression instead of into a variable of its own. On Python
    floats a variable's store and load cost as much as the arithmetic (W1 compiled: 100 -> 70
    µs); the values are scalars, so the order of evaluation changes no memory."""
    if not _scalar_graph(graph):
        return {}
    reads: dict[int, list[int]] = {}
    for k, e in enumerate(graph.eqns):
        for a in e.inputs:
            if isinstance(a, Var):
                reads.setdefault(a.id, []).append(k)
    made = {e.outputs[0].id: k for k, e in enumerate(graph.eqns)
            if len(e.outputs) == 1 and not e.prim.multiple_results}
    return {made[v]: r[0] for v, r in reads.items() if v in made and len(r) == 1
            and v not in keep and made[v] // MAX_STATEMENTS == r[0] // MAX_STATEMENTS}


def _statements(graph: Graph, src: _Source, reuse: bool) -> list[list[str]]:
    """The statements of each equation (unindented), the `del` of what dies there included."""
    keep, last = _last_uses(graph)
    fusable = _fusable(graph, keep)
    inline: dict[int, tuple[str, int]] = {}  # a variable's id -> (its expression, its depth)

    def atom(a: Atom) -> str:
        got = inline.pop(a.id, None) if isinstance(a, Var) else None
        return got[0] if got is not None else src.atom(a)

    def depth(e: Any) -> int:
        return 1 + max((inline[a.id][1] for a in e.inputs if isinstance(a, Var)
                        and a.id in inline), default=0)

    # free each intermediate after its last use, as the tape does during a backward pass: the
    # peak memory of the generated code stays that of the computation, not of all its values
    dead_after: dict[int, list[Var]] = {}
    seen: set[int] = set()
    for k, e in enumerate(graph.eqns):
        for a in e.inputs:
            if isinstance(a, Var) and last[a.id] == k and a.id not in keep and a.id not in seen \
                    and math.prod(a.shape) >= _DEL_AT_LEAST:
                seen.add(a.id)
                dead_after.setdefault(k, []).append(a)
    plan = reuse_plan(graph) if reuse else {}
    out: list[list[str]] = []
    for k, e in enumerate(graph.eqns):
        lines = []
        fn = src.function(e.prim)
        level = depth(e) if fusable else 0
        call_args = [atom(a) for a in e.inputs]
        call_args += [f"{src.keyword(e.prim, k_)}={src.constant(v)}"
                      for k_, v in e.params.items()]
        if k in plan:
            fn = f"np.{_ufunc(e.prim).__name__}"  # type: ignore[union-attr]
            call_args.append(f"out={src.var(plan[k])}")
        outs = ", ".join(src.var(v) for v in e.outputs)
        if e.prim.multiple_results:
            outs += "," if len(e.outputs) == 1 else ""
        # (an operator only for the operands it takes: a graph from a file may give others, and
        # the call then refuses them when it runs, where `*k1` would not even compile)
        infix = _INFIX.get(e.prim.impl) if k not in plan and not e.params \
            and len(call_args) == (1 if e.prim.impl is operator.neg else 2) else None
        if not e.outputs:  # (a multiple-results equation with none, e.g. an empty scan)
            lines.append(f"{fn}({', '.join(call_args)})")
        elif e.prim.name == "stop_gradient" and len(call_args) == 1:
            lines.append(f"{outs} = {call_args[0]}")  # (the identity, once differentiated)
        else:
            if infix is not None:  # the implementation is the operator: write it, not a call
                operands = [f"({a})" if a.startswith("-") else a for a in call_args]
                expr = f"{infix}{operands[0]}" if len(operands) == 1 else \
                    f"{operands[0]} {infix} {operands[1]}"
                inner = f"({expr})"
            else:
                expr = inner = f"{fn}({', '.join(call_args)})"
            if k in fusable and level < _FUSE_DEPTH:  # (written inside its reader: _fusable)
                inline[e.outputs[0].id] = (inner, level)
                out.append(lines)
                continue
            lines.append(f"{outs} = {expr}")
        if k in dead_after:
            lines.append(f"del {', '.join(src.var(v) for v in dead_after[k])}")
        out.append(lines)
    return out


def _parts(graph: Graph, size: int) -> list[tuple[int, int, list[Var], list[Var]]]:
    """The graph's equations in runs of `size`: (start, stop, the values a run reads from
    before it, the values it makes that later runs or the outputs read)."""
    n = len(graph.eqns)
    bounds = [(s, min(s + size, n)) for s in range(0, n, size)]
    made_in: dict[int, int] = {v.id: -1 for v in graph.inputs}
    last_part: dict[int, int] = {}
    by_id: dict[int, Var] = {v.id: v for v in graph.inputs}
    for p, (s, t) in enumerate(bounds):
        for e in graph.eqns[s:t]:
            for a in e.inputs:
                if isinstance(a, Var):
                    last_part[a.id] = p
            for v in e.outputs:
                made_in[v.id] = p
                by_id[v.id] = v
    for a in graph.outputs:
        if isinstance(a, Var):
            last_part[a.id] = len(bounds)  # (read by the function that returns them)
    reads: list[dict[int, Var]] = [{} for _ in bounds]
    for p, (s, t) in enumerate(bounds):
        for e in graph.eqns[s:t]:
            for a in e.inputs:
                if isinstance(a, Var) and made_in[a.id] < p:
                    reads[p].setdefault(a.id, a)
    result: list[tuple[int, int, list[Var], list[Var]]] = []
    for p, (s, t) in enumerate(bounds):
        made = [v for e in graph.eqns[s:t] for v in e.outputs
                if last_part.get(v.id, -1) > p]
        result.append((s, t, list(reads[p].values()), made))
    return result


#: elementwise primitives whose `math` function agrees with NumPy's on a real float wherever
#: it returns (it raises ValueError or OverflowError outside its domain, where NumPy gives nan
#: or inf: the NumPy code then runs instead)
_MATH = {"sin": math.sin, "cos": math.cos, "tan": math.tan, "exp": math.exp, "log": math.log,
         "sqrt": math.sqrt, "tanh": math.tanh, "sinh": math.sinh, "cosh": math.cosh,
         "arcsin": math.asin, "arccos": math.acos, "arctan": math.atan, "arcsinh": math.asinh,
         "log1p": math.log1p, "expm1": math.expm1}


def _scalar_graph(graph: Graph) -> bool:
    """Every value a float64 scalar (straight-line scalar code), at least one math function."""
    scalar = (np.dtype("float64"), ())
    return all((v.dtype, v.shape) == scalar for v in graph.inputs) and \
        all((v.dtype, v.shape) == scalar for e in graph.eqns for v in e.outputs) and \
        any(e.prim.name in _MATH and e.prim.impl is getattr(np, e.prim.name, None)
            for e in graph.eqns)


def _on_python_floats(numpy_fn: Callable[..., Any], source: str, namespace: dict[str, Any],
                      parts: list[str], name: str, graph: Graph) -> Callable[..., Any]:
    """`numpy_fn`, which on Python floats runs the same code with the `math` module's functions
    in place of NumPy's (`math.sin` on a float costs a tenth of `np.sin`, and what it returns
    keeps the arithmetic after it on Python floats): compiled on the first such call. An
    argument outside a math function's domain (or a division by zero) raises there, and the
    NumPy code then gives NumPy's inf or nan."""
    state: list[Any] = []

    def graph_fn(*args: Any) -> Any:
        for a in args:
            if type(a) is not float:
                return numpy_fn(*args)
        if not state:
            ns = dict(namespace)
            for e in graph.eqns:
                if e.prim.name in _MATH and ns.get(e.prim.name) is e.prim.impl:
                    ns[e.prim.name] = _MATH[e.prim.name]
            state.append(_define(name, source, ns, parts, numpy_fn.codes))  # type: ignore
        try:
            out = state[0](*args)
        except (ArithmeticError, ValueError):
            return numpy_fn(*args)
        # (NumPy scalars, as the NumPy code gives where a NumPy function is on the way)
        return [np.float64(o) if type(o) is float else o for o in out]

    graph_fn.source = numpy_fn.source  # type: ignore[attr-defined]
    return graph_fn


def compile_graph(graph: Graph, name: str = "graph_fn", reuse: bool = True, like: Any = None
                  ) -> Callable[..., Any]:
    """A Python function computing `graph`'s outputs (flat list) from its inputs (flat). With
    `reuse`, elementwise operations write into a dead operand's buffer (`out=`) where that is
    safe (see reuse_plan). With `like`, another array library's array, the code's floating and
    boolean array constants are made in that library (NEP 35). A graph longer than
    MAX_STATEMENTS equations becomes several functions (`name_0`, `name_1`...) that `name`
    calls in turn. Straight-line scalar code
    called with Python floats runs on the `math` module (`_on_python_floats`)."""
    fn, source, namespace, parts = _compile_graph(graph, name, reuse, like)
    if _scalar_graph(graph):
        return _on_python_floats(fn, source, namespace, parts, name, graph)
    return fn


def _compile_graph(graph: Graph, name: str, reuse: bool, like: Any = None
                   ) -> tuple[Callable[..., Any], str, dict[str, Any], list[str]]:
    src = _Source(like)
    for e in graph.eqns:  # bind the implementations first, so variable names avoid them
        src.function(e.prim)
    args = ", ".join(src.var(v) for v in graph.inputs)
    statements = _statements(graph, src, reuse)
    rets = ", ".join(src.atom(a) for a in graph.outputs)
    namespace = dict(src.namespace)
    if len(graph.eqns) <= MAX_STATEMENTS:
        lines = [f"def {name}({args}):"] + [f"    {line}" for st in statements for line in st]
        lines.append(f"    return [{rets}]")
        source = "\n".join(lines) + "\n"
        return _define(name, source, dict(namespace), []), source, namespace, []
    parts = _parts(graph, MAX_STATEMENTS)
    # the calling function holds what crosses from one part to another, dropped after the
    # last part that reads it
    last_read: dict[int, int] = {}
    for p, (_, _, reads, _) in enumerate(parts):
        for v in reads:
            last_read[v.id] = p
    kept = {a.id for a in graph.outputs if isinstance(a, Var)}
    sources = []
    main = [f"def {name}({args}):"]
    for p, (s, t, reads, made) in enumerate(parts):
        part = f"{name}_{p}"
        ins = ", ".join(src.var(v) for v in reads)
        body = [f"    {line}" for st in statements[s:t] for line in st]
        outs = ", ".join(src.var(v) for v in made) + ("," if len(made) == 1 else "")
        sources.append("\n".join([f"def {part}({ins}):"] + body +
                                 [f"    return ({outs})" if made else "    return None"]) + "\n")
        main.append(f"    {outs} = {part}({ins})" if made else f"    {part}({ins})")
        dead = [src.var(v) for v in reads if last_read[v.id] == p and v.id not in kept]
        if dead:
            main.append(f"    del {', '.join(dead)}")
    main.append(f"    return [{rets}]")
    source = "\n".join(main) + "\n"
    return _define(name, source, dict(namespace), sources), source, namespace, sources


def _define(name: str, source: str, namespace: dict[str, Any], parts: list[str],
            codes: list[Any] | None = None) -> Callable[..., Any]:
    """Compile and define the generated function(s), one compile() each; or, given the `codes`
    compiled from them before (`fn.codes`), define them again in `namespace` without compiling
    (a code object reads its globals from where it is defined: `_on_python_floats`)."""
    if codes is None:
        codes = [builtins.compile(part, f"<chainrule graph {name}_{k}>", "exec")
                 for k, part in enumerate(parts)]
        codes.append(builtins.compile(source, f"<chainrule graph {name}>", "exec"))
    for code in codes:
        exec(code, namespace)  # noqa: S102 - our own generated source, never user text
    fn = namespace[name]
    fn.source = source + "".join("\n" + part for part in parts)
    fn.codes = codes
    return fn


def compile_function(graph: Graph) -> Callable[..., Any]:
    """`Graph.compile`: a Python function of NumPy calls computing the graph, called with the
    same arguments as `run`; its `.source` shows the generated code and `.flat` is the function
    of flat inputs (`compile_graph`)."""
    flat = compile_graph(graph)
    in_tree, out_tree = graph.in_tree, graph.out_tree

    def compiled(*args: Any) -> Any:
        leaves = tree.flatten(args)[0] if in_tree is not None else list(args)
        outs = flat(*[x for x in leaves if not _is_static(x)])
        return tree.unflatten(out_tree, outs) if out_tree is not None else outs

    compiled.source = flat.source  # type: ignore[attr-defined]
    compiled.flat = flat  # type: ignore[attr-defined]
    return compiled
