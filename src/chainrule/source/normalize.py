"""Normalising a function body so that derivative code can be written statement by statement.

1. `lower_exits`: `break`, `continue` and early `return` become flags, and the statements they
   skip are guarded by `if not flag:`; so every block runs to its end and the only `return` is
   the last statement.
2. `Normalizer`: A-normal form. Each assignment applies one operation to names and constants
   (`_t3 = x * y`), with fresh `_tN` names for intermediate values and the user's names kept;
   tuple unpacking, augmented assignment (`x += e` -> `x = x + e`), subscript assignment
   (`y[i] = e` -> `y = setitem(y, i, e)`: a new value, so nothing is changed in place),
   `xs.append(v)`, conditional expressions, `and`/`or` (short-circuiting kept) and list
   comprehensions are rewritten into these few forms; `for` loops run over `range` (a loop over
   a sequence, `enumerate` or `zip` reads its items by index).

Every statement keeps the line number of the user's line it came from (`lineno`).
"""
from __future__ import annotations

import ast
import copy
import itertools
import operator
from typing import Any, cast

from .. import numpy as cnp
from .function_values import FunctionValues
from .parse import Source, walk

_LOOP_FLAGS = itertools.count(1)


def _name(id_: str, ctx: ast.expr_context | None = None) -> ast.Name:
    return ast.Name(id=id_, ctx=ctx or ast.Load())


def _assign(target: str, value: ast.expr, line: int) -> ast.Assign:
    node = ast.Assign(targets=[_name(target, ast.Store())], value=value)
    node.lineno = line
    return node


def _const(v: Any) -> ast.Constant:
    return ast.Constant(value=v)


def _not_any(flags: list[str]) -> ast.expr:
    test: ast.expr = _name(flags[0]) if len(flags) == 1 else ast.BoolOp(
        op=ast.Or(), values=[_name(f) for f in flags])
    return ast.UnaryOp(op=ast.Not(), operand=test)


def _exits(stmts: list[ast.stmt]) -> set[str]:
    """Which exits a block may take: `return`, and `break` / `continue` of the loop it is in
    (those of inner loops stay inside them)."""
    found: set[str] = set()
    for s in stmts:
        if isinstance(s, ast.Return):
            found.add("return")
        elif isinstance(s, ast.Break):
            found.add("break")
        elif isinstance(s, ast.Continue):
            found.add("continue")
        elif isinstance(s, ast.If):
            found |= _exits(s.body) | _exits(s.orelse)
        elif isinstance(s, (ast.For, ast.While)) and "return" in _exits(s.body):
            found.add("return")
    return found


class ExitLowering:
    def __init__(self, src: Source) -> None:
        self.src = src
        self.uses_return = False

    def function(self, body: list[ast.stmt]) -> list[ast.stmt]:
        # a final top-level `return` stays as it is; any other return sets flags
        last = body[-1] if body else None
        if isinstance(last, ast.Return) and "return" not in _exits(body[:-1]):
            return self.block(body[:-1], None) + [last]
        out = self.block(body, None)
        if not self.uses_return:
            return out + [ast.Return(value=_const(None), lineno=getattr(last, "lineno", 1))]
        init = [_assign("_returned", _const(False), 1), _assign("_retval", _const(None), 1)]
        return init + out + [ast.Return(value=_name("_retval"), lineno=last.lineno
                                        if last else 1)]

    def block(self, stmts: list[ast.stmt], loop: tuple[str, str] | None) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for k, s in enumerate(stmts):
            line = getattr(s, "lineno", 1)
            if isinstance(s, ast.Return):
                self.uses_return = True
                out.append(_assign("_retval", s.value or _const(None), line))
                out.append(_assign("_returned", _const(True), line))
                return out
            if isinstance(s, ast.Break):
                if loop is None:
                    raise self.src.error("break outside a loop", s)
                out.append(_assign(loop[0], _const(True), line))
                return out
            if isinstance(s, ast.Continue):
                if loop is None:
                    raise self.src.error("continue outside a loop", s)
                out.append(_assign(loop[1], _const(True), line))
                return out
            if isinstance(s, ast.If):
                may = self._flags(s.body + s.orelse, loop)
                new = ast.If(test=s.test, body=self.block(s.body, loop) or [ast.Pass()],
                             orelse=self.block(s.orelse, loop))
                new.lineno = line
                out.append(new)
                if may and stmts[k + 1:]:
                    return out + [self.guard(may, stmts[k + 1:], loop, line)]
                continue
            if isinstance(s, (ast.For, ast.While)):
                if s.orelse:
                    raise self.src.error(f"{'for' if isinstance(s, ast.For) else 'while'} "
                                         f"... else", s)
                out.extend(self.loop(s))
                if "return" in _exits(s.body) and stmts[k + 1:]:
                    return out + [self.guard(["_returned"], stmts[k + 1:], loop, line)]
                continue
            out.append(s)
        return out

    def guard(self, flags: list[str], rest: list[ast.stmt], loop: tuple[str, str] | None,
              line: int) -> ast.If:
        """`if not (flag or ...): rest`: the statements an exit may skip."""
        node = ast.If(test=_not_any(flags), body=self.block(rest, loop), orelse=[])
        node.lineno = line
        return node

    def _flags(self, stmts: list[ast.stmt], loop: tuple[str, str] | None) -> list[str]:
        exits = _exits(stmts)
        flags = []
        if "return" in exits:
            flags.append("_returned")
        if loop is not None and "break" in exits:
            flags.append(loop[0])
        if loop is not None and "continue" in exits:
            flags.append(loop[1])
        return flags

    def loop(self, s: ast.For | ast.While) -> list[ast.stmt]:
        exits = _exits(s.body)
        line = s.lineno
        k = next(_LOOP_FLAGS)
        brk, cont = f"_break{k}", f"_continue{k}"
        body = self.block(s.body, (brk, cont))
        pre: list[ast.stmt] = []
        stop = []
        if "break" in exits:
            pre.append(_assign(brk, _const(False), line))
            stop.append(brk)
        if "return" in exits:
            stop.append("_returned")
        if "continue" in exits:
            body = [_assign(cont, _const(False), line)] + body
        if isinstance(s, ast.While):
            test = s.test if not stop else ast.BoolOp(op=ast.And(), values=[
                _not_any(stop), s.test])
            new: ast.stmt = ast.While(test=test, body=body, orelse=[])
        else:
            if stop:
                body = [ast.If(test=_not_any(stop), body=body, orelse=[], lineno=line)]
            new = ast.For(target=s.target, iter=s.iter, body=body, orelse=[])
        new.lineno = line
        return pre + [new]


# ---------------------------------------------------------------------------------------------
# A-normal form

_NONDIFF_ATTRS = {"shape", "ndim", "dtype", "size"}


class Normalizer:
    def __init__(self, src: Source) -> None:
        self.src = src
        self.count = itertools.count(1)
        self.line = 1
        a = src.node.args
        # function values made in the function: written out where they are used (names bound
        # to them included: `rewrite`, before the body is normalised)
        self.values = FunctionValues(self.resolve, self.temp,
                                     {p.arg for p in a.posonlyargs + a.args + a.kwonlyargs})

    def function_value(self, e: ast.expr) -> tuple[list[ast.stmt], ast.expr]:
        """A function value passed to a call, kept as it is written (the transformer sees
        what it closes over there): a lambda as it is, a partial with its arguments computed
        first, as names (see function_values.py)."""
        if isinstance(e, ast.Lambda):
            return [], e
        e = cast(ast.Call, e)  # (a partial: FunctionValues.is_partial)
        pre, fn = self.function_value(e.args[0]) if isinstance(e.args[0], ast.Lambda) \
            else ([], e.args[0])
        p, args = self.atoms(e.args[1:])
        pre += p
        kws = []
        for kw in e.keywords:
            q, v = self.atom(kw.value)
            pre += q
            kws.append(ast.keyword(arg=kw.arg, value=v))
        return pre, ast.Call(func=e.func, args=[fn, *args], keywords=kws)

    def distributed(self, e: ast.Call) -> ast.expr | None:
        """A call of (or with an argument) `A if c else B`, function values, as `call(A) if c
        else call(B)`, so that each branch passes a function value written out; None when no
        such part is there. Only a test that calls nothing moves ahead of the arguments
        before it."""
        parts = [e.func, *e.args, *[kw.value for kw in e.keywords]]
        n = len(e.args)
        for k, v in enumerate(parts):
            if not (isinstance(v, ast.IfExp) and self.values.is_choice(v)) or \
                    any(isinstance(c, ast.Call) for c in walk(v.test)):
                continue
            calls = []
            for b in (v.body, v.orelse):
                new = [copy.deepcopy(p) for p in parts[:k] + [b] + parts[k + 1:]]
                calls.append(ast.Call(func=new[0], args=new[1:1 + n], keywords=[
                    ast.keyword(arg=kw.arg, value=x) for kw, x in zip(e.keywords, new[1 + n:])]))
            return ast.IfExp(test=v.test, body=calls[0], orelse=calls[1])
        return None

    def temp(self) -> str:
        """A fresh name for an intermediate value (never one the function already uses: the
        function may itself be generated code, transformed again)."""
        while True:
            name = f"_t{next(self.count)}"
            if name not in self.src.locals:  # type: ignore[attr-defined]
                self.src.locals.add(name)  # type: ignore[attr-defined]
                return name

    # -- statements ----------------------------------------------------------------------------
    def block(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for s in stmts:
            self.line = getattr(s, "lineno", self.line)
            out.extend(self.stmt(s))
        return out

    def stmt(self, s: ast.stmt) -> list[ast.stmt]:
        line = self.line
        if isinstance(s, ast.Assign):
            pre, value = self.expr(s.value)
            if len(s.targets) == 1:
                return pre + self.store(s.targets[0], value)
            t = self.temp()
            out = pre + [_assign(t, value, line)]
            for target in s.targets:
                out += self.store(target, _name(t))
            return out
        if isinstance(s, ast.AnnAssign):
            if s.value is None:
                return []
            pre, value = self.expr(s.value)
            return pre + self.store(s.target, value)
        if isinstance(s, ast.AugAssign):
            load = _as_load(s.target)
            return self.stmt(ast.Assign(targets=[s.target], value=ast.BinOp(
                left=load, op=s.op, right=s.value), lineno=line))
        if isinstance(s, ast.Expr):
            v = s.value
            if isinstance(v, ast.Constant):
                return []  # a docstring
            params = {a.arg for a in self.src.node.args.args + self.src.node.args.kwonlyargs}
            if isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute) and \
                    isinstance(v.func.value, ast.Name) and v.func.value.id in params:
                raise self.src.error(f"a method call changing the argument {v.func.value.id} "
                                     f"in place (.{v.func.attr})", s,
                                     "the caller's object would change; return a new value")
            if isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute) and \
                    isinstance(v.func.value, ast.Name) and self.is_local(v.func.value.id) and \
                    v.func.attr in ("append", "extend") and len(v.args) == 1:
                lst = v.func.value.id
                if v.func.attr == "append":
                    call = ast.Call(func=_name(self.src.helper("append")),
                                    args=[_name(lst), v.args[0]], keywords=[])
                else:
                    call = ast.BinOp(left=_name(lst), op=ast.Add(), right=ast.Call(
                        func=_name("list"), args=[v.args[0]], keywords=[]))
                return self.stmt(ast.Assign(targets=[_name(lst, ast.Store())], value=call,
                                            lineno=line))
            if isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute) and \
                    isinstance(v.func.value, ast.Name) and self.is_local(v.func.value.id):
                raise self.src.error(f"a method call changing {v.func.value.id} in place "
                                     f"(.{v.func.attr})", s, "rebind a new value instead")
            pre, value = self.expr(v)
            node = ast.Expr(value=value)
            node.lineno = line
            return pre + [node]
        if isinstance(s, ast.If):
            pre, test = self.atom(s.test)
            node = ast.If(test=test, body=self.block(s.body), orelse=self.block(s.orelse))
            node.lineno = line
            return pre + [node]
        if isinstance(s, ast.While):
            cond = self.temp()
            pre, test = self.expr(s.test)
            again = self.block([ast.Assign(targets=[_name(cond, ast.Store())], value=s.test,
                                           lineno=line)])
            node = ast.While(test=_name(cond), body=self.block(s.body) + again, orelse=[])
            node.lineno = line
            return pre + [_assign(cond, test, line), node]
        if isinstance(s, ast.For):
            return self.for_loop(s)
        if isinstance(s, ast.Return):
            if s.value is None:
                return [ast.Return(value=_const(None), lineno=line)]
            pre, value = self.atom(s.value)
            return pre + [ast.Return(value=value, lineno=line)]
        if isinstance(s, ast.Pass):
            return []
        if isinstance(s, ast.Delete):
            for t in s.targets:
                if not isinstance(t, ast.Name):
                    raise self.src.error("del of a subscript or attribute", s)
            return []
        if isinstance(s, ast.Raise):
            return [s]
        if isinstance(s, ast.Assert):
            pre, test = self.atom(s.test)
            node = ast.Assert(test=test, msg=s.msg)
            node.lineno = line
            return pre + [node]
        raise self.src.error(type(s).__name__.lower() + " statement", s)

    def store(self, target: ast.expr, value: ast.expr) -> list[ast.stmt]:
        line = self.line
        if isinstance(target, ast.Name):
            return [_assign(target.id, value, line)]
        if isinstance(target, (ast.Tuple, ast.List)):
            out: list[ast.stmt] = []
            if not isinstance(value, ast.Name):
                t = self.temp()
                out.append(_assign(t, value, line))
                value = _name(t)
            for k, elt in enumerate(target.elts):
                out += self.store(elt, ast.Subscript(value=_name(value.id), slice=_const(k),
                                                     ctx=ast.Load()))
            return out
        if isinstance(target, ast.Subscript):
            root = target.value
            while isinstance(root, (ast.Subscript, ast.Attribute)):
                root = root.value
            if isinstance(root, ast.Name) and not self.is_local(root.id):
                raise self.src.error(
                    f"an assignment into {root.id}, a value from outside the function (a "
                    f"global or a closure's)", target,
                    "the generated code changes no value in place, and a derivative kept "
                    "outside the function is out of its sight; make a local copy and return "
                    "it, or use method='overload'")
            # y[i] = v  ->  y = setitem(y, i, v), from the inside out for y[i][j] = v
            pre, idx = self.index(target.slice)
            out = list(pre)
            if not (isinstance(value, (ast.Name, ast.Constant))):
                t = self.temp()
                out.append(_assign(t, value, line))
                value = _name(t)
            container = target.value
            pre_c, current = self.expr(container)
            call = ast.Call(func=_name(self.src.helper("setitem")),
                            args=[_load_of(current, self, out, pre_c),
                                                         index_value(idx), value], keywords=[])
            return out + self.store(container, call)
        raise self.src.error(f"assignment to {type(target).__name__}", target)

    def for_loop(self, s: ast.For) -> list[ast.stmt]:
        line = self.line
        it = s.iter
        body = s.body
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range" \
                and not self.is_local("range"):
            pre, args = self.atoms(it.args)
            if not isinstance(s.target, ast.Name):
                raise self.src.error("a for target that is not a name", s)
            node = ast.For(target=s.target, iter=ast.Call(func=_name("range"), args=args,
                                                          keywords=[]),
                           body=self.block(body), orelse=[])
            node.lineno = line
            return pre + [node]
        # a loop over a sequence (or enumerate / zip of sequences): read the items by index;
        # any other iterable (reversed, a dict, an items view, map...) becomes a list first
        k = self.temp()
        seqs: list[ast.expr]
        targets: list[ast.expr]
        names_only = isinstance(it, ast.Call) and not it.keywords and all(
            isinstance(a, ast.Name) for a in it.args)
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and names_only and \
                it.func.id == "enumerate" and len(it.args) == 1 and \
                isinstance(s.target, ast.Tuple) and len(s.target.elts) == 2:
            seqs, targets = [it.args[0]], [s.target.elts[1]]
            first: list[ast.stmt] = [ast.Assign(targets=[s.target.elts[0]], value=_name(k),
                                                lineno=line)]
        elif isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "zip" \
                and names_only and isinstance(s.target, ast.Tuple) and \
                len(s.target.elts) == len(it.args):
            seqs, targets, first = list(it.args), list(s.target.elts), []
        elif isinstance(it, (ast.List, ast.Tuple)):
            seqs, targets, first = [it], [s.target], []
        elif isinstance(it, ast.Name):  # a list, tuple or array; a dict's keys as a list
            seqs, targets, first = [ast.Call(func=_name(self.src.helper("as_sequence")),
                                             args=[it], keywords=[])], [s.target], []
        else:
            seqs, targets, first = [ast.Call(func=_name("list"), args=[it], keywords=[])], \
                [s.target], []
        pre: list[ast.stmt] = []
        names = []
        for seq in seqs:
            p, a = self.atom(seq)
            pre += p
            if not isinstance(a, ast.Name):
                t = self.temp()
                pre.append(_assign(t, a, line))
                a = _name(t)
            names.append(a)
        n = self.temp()
        lengths = [ast.Call(func=_name("len"), args=[a], keywords=[]) for a in names]
        pre.append(_assign(n, lengths[0] if len(lengths) == 1 else ast.Call(
            func=_name("min"), args=lengths, keywords=[]), line))
        reads = [ast.Assign(targets=[t], value=ast.Subscript(value=a, slice=_name(k),
                                                              ctx=ast.Load()), lineno=line)
                 for t, a in zip(targets, names)]
        node = ast.For(target=_name(k, ast.Store()), iter=ast.Call(
            func=_name("range"), args=[_name(n)], keywords=[]),
            body=self.block(first + reads + body), orelse=[])
        node.lineno = line
        return pre + [node]

    # -- expressions ---------------------------------------------------------------------------
    def is_local(self, name: str) -> bool:
        return name in self.src.locals  # type: ignore[attr-defined]

    def atom(self, e: ast.expr) -> tuple[list[ast.stmt], ast.expr]:
        """A name or constant for `e`, and the statements computing it."""
        if isinstance(e, ast.Constant):
            return [], e
        if isinstance(e, ast.Name):
            return [], e
        pre, value = self.expr(e)
        if isinstance(value, (ast.Name, ast.Constant)) or self.is_global_attribute(value):
            return pre, value
        t = self.temp()
        return pre + [_assign(t, value, self.line)], _name(t)

    def at_update(self, e: ast.Call) -> ast.Call | None:
        """`cnp.at(v)[i].set(x)` (or .add, .multiply) as `at_update(v, i, x, "set")`."""
        f = e.func
        if not (isinstance(f, ast.Attribute) and f.attr in ("set", "add", "multiply")
                and isinstance(f.value, ast.Subscript) and isinstance(f.value.value, ast.Call)
                and len(e.args) == 1 and not e.keywords):
            return None
        at_call = f.value.value
        root = at_call.func
        while isinstance(root, ast.Attribute):
            root = root.value
        if not (isinstance(root, ast.Name) and not self.is_local(root.id)):
            return None
        if self.resolve(at_call.func) is not cnp.at or len(at_call.args) != 1:
            return None
        return ast.Call(func=_name(self.src.helper("at_update")), args=[
            at_call.args[0], index_value(f.value.slice), e.args[0], _const(f.attr)], keywords=[])

    def resolve(self, expr: ast.expr) -> Any:
        return self.src.resolve(expr, self.src.locals)  # type: ignore[attr-defined]

    def is_global_attribute(self, e: ast.expr) -> bool:
        """`np.pi`, `operator.mul`: an attribute of a module or global, a constant here."""
        root = e
        while isinstance(root, ast.Attribute):
            root = root.value
        return root is not e and isinstance(root, ast.Name) and not self.is_local(root.id)

    def atoms(self, es: list[ast.expr]) -> tuple[list[ast.stmt], list[ast.expr]]:
        pre: list[ast.stmt] = []
        out = []
        for e in es:
            p, a = self.atom(e)
            pre += p
            out.append(a)
        return pre, out

    def callee(self, f: ast.expr) -> tuple[list[ast.stmt], ast.expr, bool]:
        """(statements, the callee expression, whether it is a method of a local value)."""
        if isinstance(f, ast.Lambda):
            return [], f, True
        root = f
        while isinstance(root, ast.Attribute):
            root = root.value
        if isinstance(root, ast.Name) and not self.is_local(root.id):
            return [], f, False  # a module function, a global or builtin: left as written
        if isinstance(f, ast.Attribute):
            pre, base = self.atom(f.value)
            return pre, ast.Attribute(value=base, attr=f.attr, ctx=ast.Load()), True
        pre, a = self.atom(f)
        return pre, a, True

    def index(self, sl: ast.expr) -> tuple[list[ast.stmt], ast.expr]:
        if isinstance(sl, ast.Slice):
            pre: list[ast.stmt] = []
            parts = []
            for p in (sl.lower, sl.upper, sl.step):
                if p is None:
                    parts.append(None)
                else:
                    q, a = self.atom(p)
                    pre += q
                    parts.append(a)
            return pre, ast.Slice(lower=parts[0], upper=parts[1], step=parts[2])
        if isinstance(sl, ast.Tuple):
            pre = []
            elts = []
            for e in sl.elts:
                q, a = self.index(e)
                pre += q
                elts.append(a)
            return pre, ast.Tuple(elts=elts, ctx=ast.Load())
        return self.atom(sl)

    def expr(self, e: ast.expr) -> tuple[list[ast.stmt], ast.expr]:
        """Statements and one simple expression (one operation on atoms) for `e`."""
        line = self.line
        if isinstance(e, (ast.Name, ast.Constant)):
            return [], e
        if isinstance(e, ast.BinOp):
            p1, a = self.atom(e.left)
            p2, b = self.atom(e.right)
            return p1 + p2, _folded(ast.BinOp(left=a, op=e.op, right=b))
        if isinstance(e, ast.UnaryOp):
            if isinstance(e.op, ast.UAdd):
                return self.expr(e.operand)
            p, a = self.atom(e.operand)
            return p, _folded(ast.UnaryOp(op=e.op, operand=a))
        if isinstance(e, ast.Compare):
            if len(e.ops) == 1:
                p1, a = self.atom(e.left)
                p2, b = self.atom(e.comparators[0])
                return p1 + p2, ast.Compare(left=a, ops=e.ops, comparators=[b])
            parts = []
            left = e.left
            for op, right in zip(e.ops, e.comparators):
                parts.append(ast.Compare(left=left, ops=[op], comparators=[right]))
                left = right
            return self.expr(ast.BoolOp(op=ast.And(), values=parts))
        if isinstance(e, ast.BoolOp):
            # a and b  ->  t = a; if t: t = b   (b is evaluated only when needed)
            t = self.temp()
            pre, first = self.expr(e.values[0])
            out = pre + [_assign(t, first, line)]
            rest = e.values[1] if len(e.values) == 2 else ast.BoolOp(op=e.op,
                                                                       values=e.values[1:])
            p2, second = self.expr(rest)
            test: ast.expr = _name(t) if isinstance(e.op, ast.And) else ast.UnaryOp(
                op=ast.Not(), operand=_name(t))
            pre_t, test_atom = self.atom(test) if not isinstance(test, ast.Name) else ([], test)
            node = ast.If(test=test_atom, body=p2 + [_assign(t, second, line)], orelse=[])
            node.lineno = line
            return out + pre_t + [node], _name(t)
        if isinstance(e, ast.IfExp):
            t = self.temp()
            pre, test = self.atom(e.test)
            p1, a = self.expr(e.body)
            p2, b = self.expr(e.orelse)
            node = ast.If(test=test, body=p1 + [_assign(t, a, line)],
                          orelse=p2 + [_assign(t, b, line)])
            node.lineno = line
            return pre + [node], _name(t)
        if isinstance(e, ast.Call):
            update = self.at_update(e)
            if update is not None:  # cnp.at(v)[i].set(e): one call of v, i and e
                return self.expr(update)
            f = e.func
            if isinstance(f, ast.Attribute) and f.attr in ("items", "keys", "values") and \
                    isinstance(f.value, ast.Name) and self.is_local(f.value.id) and not e.args:
                return self.expr(ast.Call(func=_name(self.src.helper("view")),
                                          args=[f.value, _const(f.attr)], keywords=[]))
            choice = self.distributed(e)
            if choice is not None:
                return self.expr(choice)
            if isinstance(f, ast.Call) and self.values.is_partial(f):
                # partial(fn, *a, **k)(*b, **kk) is fn(*a, *b, **{**k, **kk})
                mine = {kw.arg for kw in e.keywords}
                return self.expr(ast.Call(
                    func=f.args[0], args=f.args[1:] + e.args,
                    keywords=[kw for kw in f.keywords if kw.arg not in mine] + e.keywords))
            if isinstance(e.func, ast.Name) and e.func.id in _LAZY and \
                    not self.is_local(e.func.id):
                # map, zip, reversed...: an iterator would be used up by the first reader
                pre, inner = self.expr(ast.Call(func=ast.Name(id="_lazy_" + e.func.id,
                                                              ctx=ast.Load()),
                                                args=e.args, keywords=e.keywords))
                inner.func = _name(e.func.id)  # type: ignore[attr-defined]
                return pre, ast.Call(func=_name("list"), args=[inner], keywords=[])
            pre, func, _ = self.callee(e.func)
            # a function value is passed as written: what it closes over is then seen where
            # it is used (a name would hide it from the transformer)
            args = []
            for a in e.args:
                q, a = self.function_value(a) if self.values.is_value(a) else self.atom(a)
                pre += q
                args.append(a)
            kws = []
            for kw in e.keywords:
                if kw.arg is None:
                    raise self.src.error("**kwargs in a call", e)
                q, a = self.function_value(kw.value) if self.values.is_value(kw.value) else \
                    self.atom(kw.value)
                pre += q
                kws.append(ast.keyword(arg=kw.arg, value=a))
            return pre, ast.Call(func=func, args=args, keywords=kws)
        if isinstance(e, ast.Lambda):
            return [], e  # a function value (passed to a call): used as it is
        if isinstance(e, ast.Subscript):
            p1, v = self.atom(e.value)
            p2, idx = self.index(e.slice)
            return p1 + p2, ast.Subscript(value=v, slice=idx, ctx=ast.Load())
        if isinstance(e, ast.Attribute):
            root = e
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and not self.is_local(root.id):
                return [], e  # a module attribute (np.pi): a constant
            p, v = self.atom(e.value)
            return p, ast.Attribute(value=v, attr=e.attr, ctx=ast.Load())
        if isinstance(e, (ast.Tuple, ast.List)):
            p, elts = self.atoms(e.elts)
            return p, type(e)(elts=elts, ctx=ast.Load())
        if isinstance(e, ast.Dict):
            if any(k is None for k in e.keys):
                raise self.src.error("**mapping in a dict display", e)
            p1, keys = self.atoms(e.keys)  # type: ignore[arg-type]
            p2, values = self.atoms(e.values)
            return p1 + p2, ast.Dict(keys=keys, values=values)
        if isinstance(e, (ast.ListComp, ast.GeneratorExp)):
            return self.comprehension(ast.ListComp(elt=e.elt, generators=e.generators))
        if isinstance(e, ast.JoinedStr):
            return [], e
        raise self.src.error(f"the expression {type(e).__name__}", e)

    def comprehension(self, e: ast.ListComp) -> tuple[list[ast.stmt], ast.expr]:
        """[elt for x in xs if c]  ->  t = []; for x_ in xs: if c: t = append(t, elt), the
        comprehension's variables renamed (they are its own, not the function's)."""
        line = self.line
        renames: dict[str, str] = {}
        for gen in e.generators:
            for n in walk(gen.target):
                if isinstance(n, ast.Name) and n.id not in renames:
                    renames[n.id] = self.temp()
        renamer = _Rename(renames)
        first_iter = e.generators[0].iter  # evaluated in the enclosing scope
        e = renamer.visit(e)
        e.generators[0].iter = first_iter
        t = self.temp()
        inner: list[ast.stmt] = [ast.Assign(
            targets=[_name(t, ast.Store())], value=ast.Call(func=_name(self.src.helper("append")),
                                                            args=[
                _name(t), e.elt], keywords=[]), lineno=line)]
        for gen in reversed(e.generators):
            if gen.is_async:
                raise self.src.error("an async comprehension", e)
            for cond in reversed(gen.ifs):
                inner = [ast.If(test=cond, body=inner, orelse=[], lineno=line)]
            inner = [ast.For(target=gen.target, iter=gen.iter, body=inner, orelse=[],
                             lineno=line)]
        for n in walk(e):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                self.src.locals.add(n.id)  # type: ignore[attr-defined]
        return [_assign(t, ast.List(elts=[], ctx=ast.Load()), line)] + self.block(inner), \
            _name(t)


_FOLD = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
         ast.Div: operator.truediv, ast.Pow: operator.pow, ast.USub: operator.neg}


def _folded(e: ast.expr) -> ast.expr:
    """Arithmetic on numeric constants, computed now (constant folding): `-1.0`, `2 * 0.5`."""
    operands = [e.left, e.right] if isinstance(e, ast.BinOp) else [e.operand]  # type: ignore
    fn = _FOLD.get(type(e.op))  # type: ignore[attr-defined]
    if fn is not None and all(isinstance(o, ast.Constant) and type(o.value) in (int, float)
                              for o in operands):
        try:
            value = fn(*[o.value for o in operands])  # type: ignore[attr-defined]
        except (ArithmeticError, ValueError):
            return e  # (1 / 0 stays, and raises where the user wrote it)
        if type(value) in (int, float) and 0 <= value < 1e300:
            return ast.Constant(value=value)
    return e


_LAZY = {"map", "filter", "zip", "reversed", "enumerate", "iter"}


class _Rename(ast.NodeTransformer):
    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def visit_Name(self, node: ast.Name) -> ast.Name:
        return ast.Name(id=self.names.get(node.id, node.id), ctx=node.ctx)

    def visit_Lambda(self, node: ast.Lambda) -> ast.Lambda:
        inner = {k: v for k, v in self.names.items()
                 if k not in {a.arg for a in node.args.args}}
        node.body = _Rename(inner).visit(node.body)
        return node


def index_value(idx: ast.expr) -> ast.expr:
    """A subscript's index as an ordinary expression (to pass to a call): `1:` becomes
    `slice(1, None, None)`, `(i, :)` becomes `(i, slice(None, None, None))`."""
    if isinstance(idx, ast.Slice):
        parts = [p if p is not None else ast.Constant(value=None)
                 for p in (idx.lower, idx.upper, idx.step)]
        return ast.Call(func=_name("slice"), args=parts, keywords=[])
    if isinstance(idx, ast.Tuple):
        return ast.Tuple(elts=[index_value(e) for e in idx.elts], ctx=ast.Load())
    return idx


def _as_load(target: ast.expr) -> ast.expr:
    if isinstance(target, ast.Name):
        return _name(target.id)
    if isinstance(target, ast.Subscript):
        return ast.Subscript(value=_as_load(target.value), slice=target.slice, ctx=ast.Load())
    return target


def _load_of(current: ast.expr, norm: Normalizer, out: list[ast.stmt],
             pre: list[ast.stmt]) -> ast.expr:
    out.extend(pre)
    if isinstance(current, (ast.Name, ast.Constant)):
        return current
    t = norm.temp()
    out.append(_assign(t, current, norm.line))
    return _name(t)


def local_names(node: ast.FunctionDef) -> set[str]:
    names = {a.arg for a in node.args.args}
    for n in walk(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            names.add(n.id)
    return names


def normalize(src: Source) -> list[ast.stmt]:
    """The function body in A-normal form, exits lowered to flags."""
    src.locals = local_names(src.node) | {"_returned", "_retval"}  # type: ignore[attr-defined]
    body = ExitLowering(src).function(list(src.node.body))
    for n in walk(ast.Module(body=body, type_ignores=[])):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            src.locals.add(n.id)  # type: ignore[attr-defined]
    norm = Normalizer(src)
    return norm.block(norm.values.rewrite(body))
