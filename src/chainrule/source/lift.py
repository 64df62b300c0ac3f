"""Nested function definitions, lifted out of the function being transformed.

    def f(x):                              def f(x):
        a = x * 2.0                            a = x * 2.0
        def g(z):                              return f__g(a, x) + fori_loop(
            return z * a                           0, 3, lambda i, c: f__body(a, i, c), x)
        def body(i, c):
            return g(c)                    def f__g(a, z): return z * a
        return g(x) + fori_loop(0, 3,      def f__body(a, i, c): return f__g(a, c)
                                body, x)

Each `def` inside the function becomes a function of its own (`f__g`), whose first parameters
are the enclosing function's variables it reads (and those the nested functions it calls read),
so it closes over nothing that is differentiated: a call `g(x)` becomes `f__g(a, x)`, a call of
a user function like any other, transformed in its turn (its own control flow, its own nested
defs). A nested function used as a value (passed to `cr.fori_loop`, say) becomes a lambda that
calls it, written where it is used, so the transformer sees what it closes over. The lifted
functions keep the user's file and line numbers: their statements are reported and commented
as the user's lines.
"""
from __future__ import annotations

import ast
import copy
import types
from typing import Any

from .parse import Scope, Source, walk

_REFUSED_KINDS = (ast.AsyncFunctionDef,)


def _direct_defs(stmts: list[ast.stmt]) -> list[ast.FunctionDef]:
    """The defs among these statements, in compound statements too, but not inside another
    def (those are lifted when their own function is)."""
    found: list[ast.FunctionDef] = []
    for s in stmts:
        if isinstance(s, ast.FunctionDef):
            found.append(s)
        elif isinstance(s, (ast.If, ast.For, ast.While, ast.With, ast.Try)):
            for field in ("body", "orelse", "finalbody"):
                found += _direct_defs(getattr(s, field, []) or [])
            for h in getattr(s, "handlers", []) or []:
                found += _direct_defs(h.body)
    return found


def _bound(node: ast.FunctionDef) -> set[str]:
    """The names a function binds: its parameters, what it assigns, the defs in it."""
    a = node.args
    names = {p.arg for p in a.posonlyargs + a.args + a.kwonlyargs}
    names |= {p.arg for p in (a.vararg, a.kwarg) if p is not None}
    for n in walk(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            names.add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n is not node:
            names.add(n.name)
    return names


def _loads(node: ast.AST) -> set[str]:
    return {n.id for n in walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


class _Rewrite(ast.NodeTransformer):
    """Calls of the nested functions become calls of the lifted ones (free variables first);
    any other use of one becomes a lambda calling it."""

    def __init__(self, lifted: dict[str, tuple[str, list[str], ast.FunctionDef]]) -> None:
        self.lifted = lifted

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        f = node.func
        if isinstance(f, ast.Lambda) and isinstance(f.body, ast.Call) and \
                getattr(f, "_cr_lifted", None) is not None:
            # (the callee was a nested function's name, already made a lambda: call it)
            name, free = f._cr_lifted  # type: ignore[attr-defined]
            return ast.Call(func=ast.Name(id=name, ctx=ast.Load()),
                            args=[ast.Name(id=v, ctx=ast.Load()) for v in free] + node.args,
                            keywords=node.keywords)
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        got = self.lifted.get(node.id)
        if got is None or not isinstance(node.ctx, ast.Load):
            return node
        name, free, d = got
        args = copy.deepcopy(d.args)
        params = [ast.Name(id=p.arg, ctx=ast.Load()) for p in args.posonlyargs + args.args]
        lam = ast.Lambda(args=args, body=ast.Call(
            func=ast.Name(id=name, ctx=ast.Load()),
            args=[ast.Name(id=v, ctx=ast.Load()) for v in free] + params, keywords=[]))
        lam._cr_lifted = (name, free)  # type: ignore[attr-defined]
        return ast.copy_location(lam, node)


def lift(src: Source) -> None:
    """Lift the defs nested in `src`'s function out of it (see the module's docstring): the
    function's AST loses them, and its scope gains the lifted functions."""
    outer = src.node
    defs = _direct_defs(outer.body)
    if not defs:
        return
    names = [d.name for d in defs]
    for d in defs:
        if d.decorator_list:
            raise src.error("a decorated nested function", d,
                            "define it at module level, where the decorator runs once")
        if names.count(d.name) > 1 or any(
                isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id == d.name
                for n in walk(outer)):
            raise src.error(f"a nested function {d.name} that is defined more than once", d,
                            "give each definition its own name")
    outer_locals = _bound(outer) - set(names)
    # the free variables of each nested function: the enclosing function's variables it
    # reads, and those of the nested functions it calls (a fixed point)
    direct = {d.name: (_loads(d) - (_bound(d) - {d.name})) for d in defs}
    free = {n: sorted(direct[n] & outer_locals) for n in names}
    changed = True
    while changed:
        changed = False
        for n in names:
            more = set(free[n])
            for m in direct[n] & set(names):
                more |= set(free[m])
            if more != set(free[n]):
                free[n] = sorted(more)
                changed = True
    base = "".join(c for c in outer.name if c.isalnum() or c == "_") or "fn"
    lifted = {d.name: (f"{base}__{d.name}", free[d.name], d) for d in defs}
    rewrite = _Rewrite(lifted)
    # the lifted functions' namespace: the enclosing function's, plus each other
    namespace = Scope(dict(src.scope.closure), src.scope.module)
    made: dict[str, types.FunctionType] = {}
    for d in defs:
        name, fv, _ = lifted[d.name]
        node = copy.deepcopy(d)
        node.name = name
        node.args.args = [ast.arg(arg=v) for v in fv] + node.args.args
        node.body = [rewrite.visit(s) for s in node.body]
        ast.fix_missing_locations(node)
        made[d.name] = _compile(node, src, namespace)
        namespace[name] = made[d.name]
    # the enclosing function: the defs removed, their uses rewritten
    outer.body = _without_defs(outer.body)
    outer.body = [rewrite.visit(s) for s in outer.body]
    ast.fix_missing_locations(outer)
    for d in defs:
        src.scope.closure[lifted[d.name][0]] = made[d.name]


def _without_defs(stmts: list[ast.stmt]) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for s in stmts:
        if isinstance(s, ast.FunctionDef):
            continue
        for field in ("body", "orelse", "finalbody"):
            if hasattr(s, field) and isinstance(getattr(s, field), list):
                setattr(s, field, _without_defs(getattr(s, field)) or
                        ([ast.Pass()] if field == "body" else []))
        out.append(s)
    return out


def _compile(node: ast.FunctionDef, src: Source, namespace: Scope) -> types.FunctionType:
    """The lifted function as a function object: compiled from its AST (the user's own code)
    with the user's file and line numbers, its `Source` attached for the transformer."""
    shifted = copy.deepcopy(node)
    ast.increment_lineno(shifted, src.first_line - 1)
    code = compile(ast.Module(body=[shifted], type_ignores=[]), src.filename, "exec")
    exec(code, namespace)  # noqa: S102 - the user's own function, lifted out of theirs
    fn: Any = namespace[node.name]
    fn.__qualname__ = f"{src.fn.__qualname__}.<locals>.{node.name}"
    fn._cr_source = Source(fn, node, src.filename, src.first_line,
                           Scope({}, namespace))
    return fn
