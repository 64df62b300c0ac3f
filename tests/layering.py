"""The import graph of the chainrule package, read from its source, and the layering rules it must
keep (tests/test_layering.py checks them; `python tests/layering.py --write` regenerates the
diagram in docs/architecture.md).

Every `import` and `from ... import` of a chainrule module counts, at the top of a file or inside a
function, and so does `importlib.import_module("chainrule...")` with a literal name (the front's
engine registry and the package's lazy attributes).
"""
from __future__ import annotations

import ast
import collections
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "chainrule"
ARCHITECTURE = ROOT / "docs" / "architecture.md"

#: the units of the package, lowest first: a unit may import units of lower layers only. Units
#: in one layer do not import each other unless SIDEWAYS lists the arrow.
LAYERS: list[tuple[str, ...]] = [
    ("_core",),                      # the kernel: primitives, bind, rules, pytrees, caches
    ("ops",),                        # every primitive with its rules
    ("overload", "taylor"),          # the interpreters (dual, tape, batch; Taylor) and their
                                     # transforms
    ("custom", "checkpoint", "implicit"),  # user rules, rematerialisation, implicit solutions
    ("numpy",),                      # the differentiable NumPy namespace
    ("scipy",),                      # chainrule.scipy (needs SciPy, an optional extra)
    ("graph", "source", "symbolic", "numeric"),  # the other engines
    ("transforms",),                 # the public front: checks, engine registry, one hop
    ("elemental", "explain", "testing", "sparse"),  # built on the front and the engines
    ("nn", "optim", "data", "distributed"),  # the framework layer
    ("chainrule",),                  # the package itself: public names, re-exported
    ("demo",),                       # the demo and the command use the public API
    ("cli",),
]

#: arrows between units of one layer, each with its reason
SIDEWAYS: dict[tuple[str, str], str] = {
    ("checkpoint", "custom"): "checkpoint is bound like a custom function (the flat calling "
                              "convention)",
    ("source", "graph"): "the source engine compiles its kernels and rule templates through "
                         "the graph engine",
    ("symbolic", "graph"): "swell_table compares expression swell with the size of the AD "
                           "graph of the same gradient",
}

#: imports written inside a function, each with its reason; any other one fails the test
IN_FUNCTION: dict[tuple[str, str], str] = {
    ("chainrule", "<dynamic>"): "the package's lazy attributes (cr.symbolic, cr.nn, cr.explain, "
                                "...): not needed to differentiate, imported on first use so "
                                "that `import chainrule` stays quick",
    ("chainrule.transforms", "<dynamic>"): "the front's engine registry (ENGINES): an engine's "
                                           "module is imported when a method first names it",
}

MAX_IN_FUNCTION = 15

#: the target of an import whose module name is computed when it runs
DYNAMIC = "<dynamic>"


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


class Imports:
    """The modules of the package, each one's imports of others (with where they are written)."""

    def __init__(self) -> None:
        self.files = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
        self.edges: dict[str, set[str]] = collections.defaultdict(set)
        self.in_function: list[tuple[str, str, int]] = []
        for module, path in self.files.items():
            self._read(module, path)

    def _resolve(self, name: str) -> str | None:
        while name and name not in self.files:
            if "." not in name:
                return None
            name = name.rsplit(".", 1)[0]
        return name or None

    def _targets(self, module: str, path: pathlib.Path, node: ast.AST) -> list[str]:
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            names = [f"{prefix}.{a.name}" for a in node.names] or [prefix]
            names = [n if n in self.files else prefix for n in names]
        elif isinstance(node, ast.Call):  # importlib.import_module(...), __import__(...)
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
            if name in ("import_module", "__import__") and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    names = [arg.value]
                else:  # a name computed at run time: any module, so listed for review
                    return [DYNAMIC]
        found = []
        for n in names:
            if n == DYNAMIC:
                return [DYNAMIC]
            if n.split(".")[0] == "chainrule":
                t = self._resolve(n)
                if t is not None and t != module:
                    found.append(t)
        return found

    def _read(self, module: str, path: pathlib.Path) -> None:
        tree = ast.parse(path.read_text(), str(path))

        def visit(node: ast.AST, in_function: bool) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.Import, ast.ImportFrom, ast.Call)):
                    for target in self._targets(module, path, child):
                        if target != DYNAMIC:
                            self.edges[module].add(target)
                        if in_function or isinstance(child, ast.Call):
                            self.in_function.append((module, target, child.lineno))
                visit(child, in_function or isinstance(
                    child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

        visit(tree, False)

    def unit_edges(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = collections.defaultdict(set)
        for a, targets in self.edges.items():
            for b in targets:
                if unit(a) != unit(b):
                    out[unit(a)].add(unit(b))
        return out


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    nodes = sorted(set(edges) | {b for bs in edges.values() for b in bs})
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def layer_of(name: str) -> int:
    for k, layer in enumerate(LAYERS):
        if name in layer:
            return k
    raise KeyError(f"unit {name!r} is in no layer of tests/layering.py; add it to LAYERS")


def violations(imports: Imports) -> list[str]:
    """Every import of a unit that the layers do not allow."""
    out = []
    for a, targets in sorted(imports.edges.items()):
        for b in sorted(targets):
            ua, ub = unit(a), unit(b)
            if ua == ub:
                continue
            la, lb = layer_of(ua), layer_of(ub)
            if lb < la or (la == lb and (ua, ub) in SIDEWAYS):
                continue
            out.append(f"{a} imports {b} ({ua} -> {ub}: "
                       f"{'upward' if lb > la else 'sideways'})")
    return out


def reduced(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    """The transitive reduction of an acyclic graph: an arrow a -> b is left out when b is
    reached from a through other arrows (what the picture can drop without losing a path)."""
    def reach(start: str, skip: tuple[str, str]) -> set[str]:
        seen: set[str] = set()
        stack = [b for b in edges.get(start, ()) if (start, b) != skip]
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack.extend(edges.get(n, ()))
        return seen
    return {a: {b for b in bs if b not in reach(a, (a, b))} for a, bs in edges.items()}


def diagram(imports: Imports) -> str:
    """The units and their imports as a Mermaid flowchart (GitHub and MkDocs draw it), lowest
    layer at the bottom; arrows implied by others are left out (`reduced`)."""
    edges = reduced(imports.unit_edges())
    lines = ["flowchart BT"]
    for k, layer in enumerate(LAYERS):
        lines.append(f"  subgraph L{k} [\" \"]")
        lines.append("    direction LR")
        lines.extend(f"    {_node(u)}[{u}]" for u in layer)
        lines.append("  end")
    for a in sorted(edges):
        for b in sorted(edges[a]):
            arrow = "-.->" if layer_of(a) == layer_of(b) else "-->"
            lines.append(f"  {_node(a)} {arrow} {_node(b)}")
    return "\n".join(lines)


def _node(name: str) -> str:
    return "pkg_" + name.strip("_")


BEGIN = "<!-- import-graph: generated by `python tests/layering.py --write`; do not edit -->"
END = "<!-- end import-graph -->"


def current_doc_diagram() -> str | None:
    text = ARCHITECTURE.read_text() if ARCHITECTURE.exists() else ""
    if BEGIN not in text or END not in text:
        return None
    body = text.split(BEGIN, 1)[1].split(END, 1)[0]
    return body.strip().removeprefix("```mermaid").removesuffix("```").strip()


def write_doc_diagram(imports: Imports) -> None:
    text = ARCHITECTURE.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    ARCHITECTURE.write_text(f"{head}{BEGIN}\n```mermaid\n{diagram(imports)}\n```\n{END}{tail}")


if __name__ == "__main__":
    found = Imports()
    if "--write" in sys.argv:
        write_doc_diagram(found)
    for c in cycles(found.edges):
        print("cycle:", " ".join(c))
    for v in violations(found):
        print("layering:", v)
    listed = set(IN_FUNCTION)
    for module, target, line in found.in_function:
        mark = "" if (module, target) in listed else "  (not allowed)"
        print(f"in function: {module}:{line} -> {target}{mark}")
    print(f"{len(found.in_function)} imports inside functions (at most {MAX_IN_FUNCTION})")
