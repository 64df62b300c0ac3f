"""Function values made in the function being transformed, written out where they are used.

    def f(x):                                  def f(x):
        if x > 0:                                  _t1 = 0.0
            step = lambda v: v * x                 _t2 = None
        else:                                      if x > 0:
            step = lambda v, c=2 * x: v + c            _t2 = 0
        return apply(step, x)                      else:
                                                       _t1 = 2 * x
                                                       _t2 = 1
                                                   return apply((lambda v: v * x) if _t2 == 0
                                                                else (lambda v, c=_t1: v + c), x)

A function value carries the values it closes over inside it, where generated derivative code
cannot see them: `apply(step, x)` would be differentiated in `x` alone, and the derivative
through the `x` inside `step` silently dropped. So a local name bound only to function values
written in the function -- lambdas, and `functools.partial` of a lambda or of a module-level
function -- however many times (in branches, in loops), is replaced wherever it is read by the
value itself: a lambda (several bindings: the one the last binding chose, by a tag each binding
sets), whose closed-over names the transformer then sees at the call.

What such a value fixes when it is made is kept: a lambda's defaults and a partial's arguments
are computed where the binding was (into fresh names), a conditional expression of function
values becomes an `if` with a binding in each branch, and a lambda's free names are read where
it is used, as Python's closures read them (late binding). A name that cannot be written out
-- bound to anything else too, recursive, or used where a lambda's parameter or a
comprehension's variable would capture a name its value reads -- is left as it is; calls of it
and uses of it as a value are refused where they would drop a derivative
(`Unit.refuse_active_callee`, and at run time `runtime.UnknownDerivative`).
"""
from __future__ import annotations

import ast
import copy
import functools
from collections.abc import Callable
from typing import Any, cast

from .parse import walk


def names_read(node: ast.AST) -> set[str]:
    """The names `node` reads, less those a lambda inside it binds (`lambda h: h * 2` reads no
    `h` of the function's: a parameter of the same name may be differentiated)."""
    out: set[str] = set()

    def visit(n: ast.AST, bound: frozenset[str]) -> None:
        if isinstance(n, ast.Lambda):
            a = n.args
            for d in a.defaults + [d for d in a.kw_defaults if d is not None]:
                visit(d, bound)
            visit(n.body, bound | _params(n))
            return
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id not in bound:
            out.add(n.id)
        for child in ast.iter_child_nodes(n):
            visit(child, bound)

    visit(node, frozenset())
    return out


def _params(lam: ast.Lambda) -> frozenset[str]:
    a = lam.args
    names = {p.arg for p in a.posonlyargs + a.args + a.kwonlyargs}
    names |= {p.arg for p in (a.vararg, a.kwarg) if p is not None}
    return frozenset(names)


_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)


class FunctionValues:
    """The rewriting described in the module's docstring, for one function body.

    `resolve(expr)` is what a non-local expression names (None for a local value or anything
    else), `temp()` a fresh local name, `params` the function's parameters."""

    def __init__(self, resolve: Callable[[ast.expr], Any], temp: Callable[[], str],
                 params: set[str]) -> None:
        self.resolve = resolve
        self.temp = temp
        self.params = params

    # -- what a function value is ----------------------------------------------------------------
    def is_partial(self, e: ast.expr) -> bool:
        """`functools.partial(fn, ...)` (under any name), of a lambda or a module-level
        function, without starred arguments."""
        if not (isinstance(e, ast.Call) and e.args and self.resolve(e.func) is functools.partial):
            return False
        if any(isinstance(a, ast.Starred) for a in e.args) or \
                any(k.arg is None for k in e.keywords):
            return False
        fn = e.args[0]
        return isinstance(fn, ast.Lambda) or self.resolve(fn) is not None

    def is_value(self, e: ast.expr) -> bool:
        """A function value written out: a lambda or a partial (see `is_partial`)."""
        return isinstance(e, ast.Lambda) or self.is_partial(e)

    def is_choice(self, e: ast.expr) -> bool:
        """`A if c else B` of function values (or of such choices)."""
        return isinstance(e, ast.IfExp) and all(
            self.is_value(b) or self.is_choice(b) for b in (e.body, e.orelse))

    # -- the rewriting ---------------------------------------------------------------------------
    def rewrite(self, body: list[ast.stmt]) -> list[ast.stmt]:
        body = [_Choices(self).visit(s) for s in body]  # `g = A if c else B` as an if
        module = ast.Module(body=body, type_ignores=[])
        stores: dict[str, int] = {}
        bindings: dict[str, list[ast.Assign]] = {}
        for n in walk(module):
            if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load):
                stores[n.id] = stores.get(n.id, 0) + 1
            elif isinstance(n, ast.Assign) and len(n.targets) == 1 and \
                    isinstance(n.targets[0], ast.Name) and self.is_value(n.value):
                bindings.setdefault(n.targets[0].id, []).append(n)
        followed = {g for g, bs in bindings.items()
                    if stores.get(g) == len(bs) and g not in self.params}
        if not followed:
            return body
        order = sorted(followed)  # (fresh names in the same order every time)
        for k, b in enumerate(b for g in order for b in bindings[g]):
            b._cr_binding = k  # type: ignore[attr-defined]  # (kept by the copies below)
        made = {b._cr_binding: self.made(b.value)  # type: ignore[attr-defined]
                for g in order for b in bindings[g]}
        tags = {g: self.temp() for g in order if len(bindings[g]) > 1}
        while followed:
            inline = {g: _chosen([made[_key(b)][1] for b in bindings[g]], tags.get(g))
                      for g in followed}
            reads = {g: names_read(e) for g, e in inline.items()}
            cyclic = {g for g in followed if g in _reachable(g, reads, followed)}
            if cyclic:
                followed -= cyclic
                continue
            replaced: dict[int, list[ast.stmt]] = {}
            for g in followed:
                for k, b in enumerate(bindings[g]):
                    line = getattr(b, "lineno", 1)
                    stmts = [_at(ast.Assign(targets=[ast.Name(t, ast.Store())], value=v), line)
                             for t, v in made[_key(b)][0]]
                    if g in tags:
                        stmts.append(_at(ast.Assign(targets=[ast.Name(tags[g], ast.Store())],
                                                    value=ast.Constant(k)), line))
                    replaced[_key(b)] = stmts
            sub = _Substitute(inline, reads, replaced)
            try:
                # (on a copy: a name found not to be followable leaves the body as it was)
                out = [o for s in copy.deepcopy(body) for o in _as_list(sub.visit(s))]
            except _Captured as c:
                followed.discard(c.name)
                continue
            # the values fixed by a name's other bindings are read (not used) where one is
            # used, by code that passes each name it reads on (the transformer's closures):
            # they start as a number (a placeholder of no derivative), a name's tag as None
            line = getattr(body[0], "lineno", 1) if body else 1
            fixed = sorted({t for g in followed if g in tags for b in bindings[g]
                            for t, _ in made[_key(b)][0]})
            unset: list[tuple[str, float | None]] = [(t, 0.0) for t in fixed]
            unset += [(tags[g], None) for g in sorted(followed) if g in tags]
            return [_at(ast.Assign(targets=[ast.Name(t, ast.Store())], value=ast.Constant(v)),
                        line) for t, v in unset] + out
        return body

    def made(self, e: ast.expr) -> tuple[list[tuple[str, ast.expr]], ast.expr]:
        """(fresh name, value) for each value the function value fixes when it is made, in
        the order Python computes them, and the function value reading those names."""
        fixed: list[tuple[str, ast.expr]] = []

        def keep(v: ast.expr) -> ast.expr:
            if isinstance(v, ast.Constant):
                return v
            t = self.temp()
            fixed.append((t, v))
            return ast.Name(t, ast.Load())

        def value(v: ast.expr) -> ast.expr:
            v = copy.deepcopy(v)
            if isinstance(v, ast.Lambda):
                a = v.args
                a.defaults = [keep(d) for d in a.defaults]
                a.kw_defaults = [None if d is None else keep(d) for d in a.kw_defaults]
                return v
            call = cast(ast.Call, v)  # (a partial: see is_partial)
            fn = value(call.args[0]) if isinstance(call.args[0], ast.Lambda) else call.args[0]
            args = [keep(a) for a in call.args[1:]]
            kws = [ast.keyword(arg=k.arg, value=keep(k.value)) for k in call.keywords]
            return ast.Call(func=call.func, args=[fn, *args], keywords=kws)

        return fixed, value(e)


def _chosen(values: list[ast.expr], tag: str | None) -> ast.expr:
    """The function value a name holds: its one binding's, or the one its tag says."""
    if tag is None:
        return values[0]
    out = values[-1]
    for k in range(len(values) - 2, -1, -1):
        test = ast.Compare(left=ast.Name(tag, ast.Load()), ops=[ast.Eq()],
                           comparators=[ast.Constant(k)])
        out = ast.IfExp(test=test, body=values[k], orelse=out)
    return out


def _reachable(g: str, reads: dict[str, set[str]], followed: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(reads[g] & followed)
    while todo:
        h = todo.pop()
        if h not in seen:
            seen.add(h)
            todo += list(reads[h] & followed)
    return seen


def _key(b: ast.Assign) -> int:
    return b._cr_binding  # type: ignore[attr-defined, no-any-return]


def _at(node: ast.stmt, line: int) -> ast.stmt:
    node.lineno = line
    return node


def _as_list(x: Any) -> list[ast.stmt]:
    return x if isinstance(x, list) else [x]


class _Captured(Exception):
    def __init__(self, name: str) -> None:
        self.name = name


class _Choices(ast.NodeTransformer):
    """`g = A if c else B` (function values) as `if c: g = A` / `else: g = B`: each branch a
    binding of its own, its values fixed only when it is taken."""

    def __init__(self, values: FunctionValues) -> None:
        self.values = values

    def visit_Assign(self, node: ast.Assign) -> ast.stmt:
        v = node.value
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) and \
                isinstance(v, ast.IfExp) and self.values.is_choice(v):
            line = getattr(node, "lineno", 1)
            target = node.targets[0].id

            def branch(e: ast.expr) -> ast.stmt:
                return self.visit(_at(ast.Assign(targets=[ast.Name(target, ast.Store())],
                                                 value=e), line))

            return _at(ast.If(test=v.test, body=[branch(v.body)], orelse=[branch(v.orelse)]),
                       line)
        return node


class _Substitute(ast.NodeTransformer):
    """Reads of the followed names replaced by their values; their bindings by the statements
    fixing what the values fix. `_Captured(name)` where a value would be read under a lambda
    parameter or comprehension variable that shadows a name it reads."""

    def __init__(self, inline: dict[str, ast.expr], reads: dict[str, set[str]],
                 replaced: dict[int, list[ast.stmt]]) -> None:
        self.inline = inline
        self.reads = reads
        self.replaced = replaced
        self.bound: list[frozenset[str]] = [frozenset()]

    def visit_Assign(self, node: ast.Assign) -> Any:
        stmts = self.replaced.get(getattr(node, "_cr_binding", -1))
        if stmts is None:
            return self.generic_visit(node)
        return [self.visit(copy.deepcopy(s)) for s in stmts]

    def visit_Name(self, node: ast.Name) -> ast.expr:
        value = self.inline.get(node.id)
        if value is None or not isinstance(node.ctx, ast.Load) or node.id in self.bound[-1]:
            return node
        if self.reads[node.id] & self.bound[-1]:
            raise _Captured(node.id)
        return self.visit(copy.deepcopy(value))  # (the names it reads, followed in their turn)

    def visit_Lambda(self, node: ast.Lambda) -> ast.Lambda:
        a = node.args
        a.defaults = [self.visit(d) for d in a.defaults]
        a.kw_defaults = [None if d is None else self.visit(d) for d in a.kw_defaults]
        self.bound.append(self.bound[-1] | _params(node))
        try:
            node.body = self.visit(node.body)
        finally:
            self.bound.pop()
        return node

    def _comprehension(self, node: Any) -> Any:
        gens = node.generators
        gens[0].iter = self.visit(gens[0].iter)  # (read in the enclosing scope)
        targets = {n.id for g in gens for n in walk(g.target) if isinstance(n, ast.Name)}
        self.bound.append(self.bound[-1] | targets)
        try:
            for k, g in enumerate(gens):
                if k:
                    g.iter = self.visit(g.iter)
                g.ifs = [self.visit(c) for c in g.ifs]
            for field in ("elt", "key", "value"):
                if hasattr(node, field):
                    setattr(node, field, self.visit(getattr(node, field)))
        finally:
            self.bound.pop()
        return node

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension
