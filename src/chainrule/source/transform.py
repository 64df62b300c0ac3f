"""Writing derivative code: a reverse sweep (primal statements that save what the adjoint
statements need, then those in reverse order) and a forward sweep (tangent statements beside
the primal ones), as Python source for people to read.

The saving is functional: the stack is a chain of pairs, `_stack = (x, _stack)` pushes and
`x, _stack = _stack` pops, so the generated code is itself plain Python of the forms it accepts,
and transforming it again (higher order) needs nothing special.
"""
from __future__ import annotations

import ast
import functools
import itertools
import linecache
import operator
import re
import threading
import types
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import numpy as cnp
from .._core.cache import PerFunction, Reads, collector_paused
from .._core.checks import resolve_argnums, transform_target
from .._core.rules import Zero
from ..ops.elementwise import stop_gradient
from . import runtime
from .function_values import names_read as _names_in
from .lift import lift
from .normalize import index_value, local_names, normalize
from .parse import Source, check, load, walk
from .templates import adjoint, tangent

_OPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "truediv",
        ast.Pow: "pow", ast.MatMult: "matmul", ast.Mod: "mod",
        ast.USub: "neg"}
_NONDIFF_OPS = (ast.FloorDiv, ast.BitAnd, ast.BitOr, ast.BitXor, ast.LShift,
                ast.RShift, ast.Invert, ast.Not)
_NONDIFF_CALLS = {"len", "range", "int", "bool", "isinstance", "type", "print", "str", "repr",
                  "round", "hash", "id"}
_NONDIFF_ATTRS = {"shape", "ndim", "dtype", "size"}
_units = itertools.count(1)
#: what generated code calls, by the name it has when no name of the user's is in the way
HELPERS: dict[str, Any] = {
    "operator": operator, "pullback": runtime.pullback, "pullback_of": runtime.pullback_of,
    "pushforward": runtime.pushforward, "acc": runtime.acc, "part": runtime.part,
    "add_at": runtime.add_at, "setitem": runtime.setitem, "append": runtime.append,
    "at_update": runtime.at_update, "as_sequence": runtime.as_sequence,
    "view": runtime.view, "Zero": Zero, "unbroadcast": runtime.unbroadcast, "np": np,
    "lift": runtime.lift, "grad_seed": runtime.grad_seed, "finish": runtime.finish,
    "is_sequence": runtime.is_sequence, "function_cotangent": runtime.function_cotangent,
    "function_tangent": runtime.function_tangent}
#: helpers that take no batch of seeds (generated code calling them is run seed by seed)
_UNBATCHED = ("part", "add_at", "pullback_of", "setitem", "at_update", "append", "view",
              "as_sequence")
_READING: set[Any] = set()
#: generated file name -> the file of the function it was generated from
ORIGINS = runtime.ORIGINS


def _count(stmts: list[ast.stmt]) -> int:
    return sum(1 for n in walk(ast.Module(body=stmts, type_ignores=[]))
               if isinstance(n, ast.stmt))


def _identifier(name: str) -> str:
    """A function's name as part of a Python name (`<lambda>` -> `lambda`)."""
    return "".join(c for c in name if c.isalnum() or c == "_") or "fn"


def _u(node: ast.AST) -> str:
    return ast.unparse(node)


def _complex_value(v: Any, depth: int = 0) -> bool:
    if isinstance(v, complex):
        return True
    if isinstance(v, (np.ndarray, np.generic)):
        return v.dtype.kind == "c"
    if isinstance(v, (list, tuple)) and depth < 3:  # (numbers in a container of constants)
        return any(_complex_value(x, depth + 1) for x in v[:4096])
    return False


class Unit:
    """One function being transformed: its normalised body and what the analyses found.
    A `careful` unit is written with the rules' own calls (strong zeros, complex values) and
    calls and transforms careful code only; a fast one uses the written-out expressions."""

    def __init__(self, fn: Callable[..., Any], careful: bool = True) -> None:
        self.careful = careful
        target = transform_target(fn)  # (a wrapper: what it runs now)
        if target is not None:
            fn = target()
            fn = careful_of(fn) if careful else fn
        self.src: Source = load(fn)
        lift(self.src)  # (nested defs become functions of their own)
        check(self.src)
        self.params = [a.arg for a in self.src.node.args.args]
        # keyword-only parameters: constants of the derivative (never differentiated), passed
        # by keyword to the generated code as to the function
        self.keyword_only = [a.arg for a in self.src.node.args.kwonlyargs]
        taken = local_names(self.src.node)
        for helper, obj in HELPERS.items():  # a user's `acc` or `part` keeps its name
            name = helper
            while name in taken or (self.src.scope.taken(name)
                                    and self.src.scope.lookup(name) is not obj):
                name += "_"
            self.src.helpers[helper] = name
            self.src.scope[name] = obj
        self.body = normalize(self.src)
        self.locals = (set(self.src.locals) | set(self.params)  # type: ignore[attr-defined]
                       | set(self.keyword_only))
        self._check_called_for_effect()
        self.stack = self._fresh("_stack")
        # the generated code's own names, clear of the function's (which may be generated too)
        self.ans, self.ct, self.cts = self._fresh("_ans"), self._fresh("_ct"), self._fresh("_cts")
        self.out, self.skip = self._fresh("_out"), self._fresh("_")
        self.callees: list[Any] = []  # generated functions the generated code calls
        self.prefix = "d_"
        while any(n.startswith(self.prefix) for n in self.locals):
            self.prefix = "d" + self.prefix

    def comment(self, node: ast.stmt) -> str:
        """`# line N: <the user's line>` for a normalised statement."""
        line = self.src.first_line + getattr(node, "lineno", 1) - 1
        text = linecache.getline(self.src.filename, line).strip()
        return f"# line {line}: {text}" if text else f"# line {line}"

    def index_trick(self, value: ast.expr) -> bool:
        """Whether `value[...]` is an object computing from its index (NumPy's and
        chainrule's `r_`, `c_`): not a container or an array, whose items the index picks."""
        obj = self.resolve(value)
        return obj is not None and not isinstance(obj, (list, tuple, dict, np.ndarray)) and \
            type(obj).__module__.split(".")[0] in ("numpy", "chainrule") and \
            hasattr(type(obj), "__getitem__")

    def has_complex_constants(self) -> bool:
        """Whether the function holds complex constants: literals in its code, or complex
        values among what it reads from outside its arguments (a global array, a closure
        value, an attribute). The fast form's expressions are derived for real numbers; the
        generated code is made again when what the function reads changes (`_core.cache`)."""
        if any(isinstance(n, ast.Constant) and isinstance(n.value, complex)
               for n in walk(self.src.node)):
            return True
        return any(_complex_value(v) for v in Reads(self.src.fn).values())

    def _check_called_for_effect(self) -> None:
        """A function of the user's called as a statement (its result unused) is read too:
        what it could do to its arguments in place is refused there (TransformError)."""
        for node in walk(ast.Module(body=self.body, type_ignores=[])):
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
                obj = self.resolve(node.value.func)
                if self.is_user_function(obj) and obj is not self.src.fn \
                        and obj not in _READING:
                    _READING.add(obj)  # (functions calling each other: each read once)
                    try:
                        Unit(obj)
                    finally:
                        _READING.discard(obj)

    def signature(self) -> list[str]:
        """The parameters as the generated function declares them (defaults kept)."""
        defaults = getattr(self.src.fn, "__defaults__", None) or ()
        first_default = len(self.params) - len(defaults)
        out = []
        for k, p in enumerate(self.params):
            if k < first_default:
                out.append(p)
            else:
                out.append(f"{p}={self.bind(f'_default_{p}', defaults[k - first_default])}")
        return out

    def keyword_signature(self, extra: list[str]) -> list[str]:
        """The keyword-only part of the generated function's parameters: the function's own
        (defaults kept), then the generated code's `extra` ones (a seed, tangents)."""
        defaults = getattr(self.src.fn, "__kwdefaults__", None) or {}
        own = [f"{p}={self.bind(f'_default_{p}', defaults[p])}" if p in defaults else p
               for p in self.keyword_only]
        return ["*"] + own + extra if own or extra else []

    def bind(self, name: str, obj: Any) -> str:
        """`name` (or name2, name3...) bound to `obj` in the generated code's scope."""
        scope = self.src.scope
        k, base = 2, name
        while name in self.locals or (scope.taken(name) and scope.lookup(name) is not obj):
            name, k = f"{base}{k}", k + 1
        scope[name] = obj
        return name

    def _fresh(self, base: str) -> str:
        """`base`, or `base2`, `base3`...: a name the function does not use yet."""
        name, k = base, 2
        while name in self.locals:
            name, k = f"{base}{k}", k + 1
        self.locals.add(name)
        return name

    # -- what a name refers to -------------------------------------------------------------------
    def resolve(self, expr: ast.expr) -> Any:
        return self.src.resolve(expr, self.locals)

    def is_user_function(self, obj: Any) -> bool:
        if not isinstance(obj, types.FunctionType):
            return False
        mod = getattr(obj, "__module__", "") or ""
        if mod.split(".")[0] in ("chainrule", "numpy", "scipy", "math", "builtins"):
            return transform_target(obj) is not None
        return True

    # -- activity --------------------------------------------------------------------------------
    def useful(self) -> set[str]:
        """Names the result depends on (through assignments; tests of branches and loops
        decide which way the code goes but carry no derivative)."""
        ret = self.body[-1]
        useful = _names_in(ret)
        # (last to first: in straight-line code one pass finds them all; nesting takes more)
        assigns = self._assignments()[::-1]
        changed = True
        while changed:
            changed = False
            for target, reads, _ in assigns:
                if target in useful:
                    new = reads - useful
                    if new:
                        useful |= new
                        changed = True
        return useful

    def _assignments(self) -> list[tuple[str, set[str], ast.expr]]:
        """(target, names its value reads, value) of each assignment, loop and branch bodies
        included, in the order of a breadth-first walk (the top level in program order, then
        what is nested): read once per body; the analyses iterate to a fixed point."""
        body = self.body
        cached = getattr(self, "_assigns", None)
        if cached is not None and cached[0] is body:
            return cached[1]
        out = [(node.targets[0].id, _names_in(node.value), node.value)  # type: ignore
               for node in walk(ast.Module(body=body, type_ignores=[]))
               if isinstance(node, ast.Assign)]
        self._assigns = (body, out)
        return out

    def activity(self, seeds: set[str]) -> set[str]:
        """Names that depend on the seeds and that the result depends on."""
        return self._depends_on(seeds) & (self.useful() | seeds)

    def _depends_on(self, seeds: set[str]) -> set[str]:
        active = set(seeds)
        assigns = [(t, reads) for t, reads, value in self._assignments()
                   if self.differentiable(value)]
        changed = True
        while changed:
            changed = False
            for t, reads in assigns:
                if t not in active and not reads.isdisjoint(active):
                    active.add(t)
                    changed = True
        return active

    def differentiable(self, v: ast.expr) -> bool:
        if isinstance(v, (ast.Compare, ast.BoolOp, ast.JoinedStr, ast.Constant)):
            return False
        if isinstance(v, ast.UnaryOp) and isinstance(v.op, _NONDIFF_OPS):
            return False
        if isinstance(v, ast.BinOp) and isinstance(v.op, _NONDIFF_OPS):
            return False
        if isinstance(v, ast.Attribute) and v.attr in _NONDIFF_ATTRS:
            return False
        if isinstance(v, ast.Call):
            obj = self.resolve(v.func)
            if isinstance(v.func, ast.Name) and v.func.id in _NONDIFF_CALLS and \
                    v.func.id not in self.locals:
                return False
            if obj is stop_gradient or obj is runtime.grad_seed or obj is runtime.is_sequence:
                return False
            try:
                if obj in _structure_queries():
                    return False
            except TypeError:  # (an unhashable callable)
                pass
        return True

    def refuse_active_callee(self, v: ast.Call, active: set[str], node: ast.AST) -> None:
        """A function value computed from differentiated values (the `jvp_fn` of a
        `cr.linearize` inside the function, a `vjp_fn`, a closure a helper returned) carries
        its dependence on them inside it, where generated code cannot follow it: calling one
        would drop that part of the derivative, so it is refused, and so is making one with
        chainrule's transforms that return functions. (Lambdas and nested defs are fine: the
        normaliser writes them out where they are used, and lift.py lifts defs out.)"""
        made = _makes_functions(self.resolve(v.func)) and any(
            isinstance(a, ast.Name) and a.id in active
            for a in [*v.args, *[k.value for k in v.keywords]])
        if made:
            raise self.src.error(
                f"a function value made by {_u(v.func)} from differentiated values", node,
                "its derivative through those values cannot be written out; write a "
                "functools.partial where it is used (or bind it to a local name), compute the "
                "value with a transform of a function of them instead (e.g. cr.jvp(g, (x,), "
                "(v,)) for a cr.linearize), or use method='overload'")
        if isinstance(v.func, ast.Name) and v.func.id in active \
                and v.func.id not in self.params:  # (a function passed in is given)
            raise self.src.error(
                f"a call of {v.func.id}, a function computed from differentiated values", node,
                "its derivative through those values cannot be written out; compute the "
                "value with a transform of a function of them instead (e.g. cr.jvp(g, (x,), "
                "(v,)) for a cr.linearize), or use method='overload'")

    def refuse_hidden_stores(self, differentiated: set[str]) -> None:
        """A call made for its effect (its result unused) that is passed a differentiated value
        may keep it where generated code cannot see it: in an attribute (`setattr(box, "w",
        y)`), a list outside the function (`cache.append(y)`), an array (`np.copyto(buf,
        y)`). Read back from there, the value would come without its derivative, silently.
        So such a call is refused when the function reads, after it (or anywhere in a loop
        around it), a value the call could have changed: the object whose method it is, an
        argument that is not differentiated, or a local value those were made from. (A call
        that only reads, a `print`, or keeps a value nothing here reads back, a log, is no
        matter.)"""
        steps: list[ast.AST] = []  # statements, and the tests and iterables of the blocks
        loops: list[tuple[int, int]] = []  # the steps each loop spans

        def visit(stmts: list[ast.stmt]) -> None:
            for st in stmts:
                if isinstance(st, ast.If):
                    steps.append(st.test)
                    visit(st.body)
                    visit(st.orelse)
                elif isinstance(st, (ast.For, ast.While)):
                    start = len(steps)
                    steps.append(st.iter if isinstance(st, ast.For) else st.test)
                    visit(st.body)
                    loops.append((start, len(steps)))
                else:
                    steps.append(st)

        visit(self.body)
        made_of: dict[str, set[str]] = {}
        for st in steps:
            if isinstance(st, ast.Assign):
                made_of.setdefault(st.targets[0].id, set()).update(  # type: ignore[attr-defined]
                    _names_in(st.value))
        for k, st in enumerate(steps):
            if not (isinstance(st, ast.Expr) and isinstance(st.value, ast.Call)):
                continue
            call = st.value
            passed = [*call.args, *(kw.value for kw in call.keywords)]
            if not any(_names_in(a) & differentiated for a in passed):
                continue
            root = call.func
            while isinstance(root, (ast.Attribute, ast.Subscript)):
                root = root.value
            places = {root.id} if isinstance(root, ast.Name) and root is not call.func \
                else set()
            places |= {a.id for a in passed
                       if isinstance(a, ast.Name) and a.id not in differentiated}
            todo = [p for p in places if p in self.locals]
            while todo:  # (a local value a changed one was made from: `d = vars(obj)`)
                for q in made_of.get(todo.pop(), ()):
                    if q not in places and q not in differentiated:
                        places.add(q)
                        if q in self.locals:
                            todo.append(q)
            later = set(range(k + 1, len(steps)))
            for a, b in loops:
                if a <= k < b:
                    later |= set(range(a, b)) - {k}
            read_later = {n.id for j in later for n in walk(steps[j])
                          if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
            read = sorted(p for p in places & read_later if self.may_keep(p))
            if not read:
                continue
            callee = self.resolve(call.func)
            what = f"setattr of a differentiated value on {_u(call.args[0])}" \
                if (callee is setattr or callee is object.__setattr__) and call.args \
                else f"a differentiated value passed to {_u(call.func)}, called for its effect"
            raise self.src.error(
                f"{what}, where the function reads {read[0]} again", st,
                f"the call may keep the value in {read[0]}, and read back from there it would "
                f"come without its derivative; pass values on as arguments and results "
                f"instead (a new value of a registered pytree class for an object: "
                f"cr.tree.register_dataclass and dataclasses.replace), or use "
                f"method='overload'")

    def may_keep(self, name: str) -> bool:
        """Whether the value `name` names may keep values put in it: anything local, and
        anything from outside but a module, a class or a function."""
        if name in self.locals:
            return True
        obj = self.resolve(ast.Name(id=name, ctx=ast.Load()))
        return not (obj is None or isinstance(obj, (types.ModuleType, type, types.FunctionType,
                                                    types.BuiltinFunctionType, np.ufunc)))

    def is_pure(self, v: ast.expr) -> bool:
        """Whether computing `v` only makes a value (a call to NumPy, chainrule or math, a
        lambda: making a function runs nothing)."""
        if isinstance(v, ast.Lambda):
            return True
        for n in walk(v):
            if isinstance(n, ast.Call):
                obj = self.resolve(n.func)
                mod = (getattr(obj, "__module__", None) or type(obj).__module__ or "")
                if obj is None or mod.split(".")[0] not in ("numpy", "chainrule", "math",
                                                            "_operator", "operator"):
                    return False
        return True

    def dead_code_removed(self) -> list[ast.stmt]:
        """The body without assignments whose values nothing reads (and that do nothing else)."""
        body = self.body
        while True:
            loads = {n.id for n in walk(ast.Module(body=body, type_ignores=[]))
                     if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
            kept = self._keep_read(body, loads)
            if _count(kept) == _count(body):
                return kept
            body = kept

    def _keep_read(self, stmts: list[ast.stmt], loads: set[str]) -> list[ast.stmt]:
        out = []
        for st in stmts:
            if isinstance(st, ast.Assign) and st.targets[0].id not in loads \
                    and self.is_pure(st.value):  # type: ignore[attr-defined]
                continue
            if isinstance(st, (ast.If, ast.For, ast.While)):
                st.body = self._keep_read(st.body, loads)
                st.orelse = self._keep_read(st.orelse, loads)
            out.append(st)
        return out

    def assigned_counts(self) -> tuple[dict[str, int], set[str]]:
        counts: dict[str, int] = {p: 1 for p in self.params}
        in_loop: set[str] = set()

        def visit(stmts: list[ast.stmt], loop: bool) -> None:
            for s in stmts:
                if isinstance(s, ast.Assign):
                    t = s.targets[0].id  # type: ignore[attr-defined]
                    counts[t] = counts.get(t, 0) + 1
                    if loop:
                        in_loop.add(t)
                elif isinstance(s, ast.If):
                    visit(s.body, loop)
                    visit(s.orelse, loop)
                elif isinstance(s, (ast.For, ast.While)):
                    if isinstance(s, ast.For):
                        t = s.target.id  # type: ignore[attr-defined]
                        counts[t] = counts.get(t, 0) + 1
                        in_loop.add(t)
                    visit(s.body, True)

        visit(self.body, False)
        return counts, in_loop

    def reads_fixed_values(self, s: ast.Assign, active: set[str]) -> bool:
        """Whether the differentiated values the lambda that `s` assigns reads keep, wherever
        it is called, the values they had when it was made: each assigned once, outside
        loops, before `s` (or a parameter never assigned). A derivative that reaches the
        function value then belongs to those values (runtime.UnknownDerivative); otherwise
        a closure reads later values, and there is no place to put it."""
        counts, in_loop = self.assigned_counts()
        before = set(self.params)
        found = False

        def visit(stmts: list[ast.stmt]) -> None:
            nonlocal found
            for st in stmts:
                if found or st is s:
                    found = True
                    return
                if isinstance(st, ast.Assign):
                    before.add(st.targets[0].id)  # type: ignore[attr-defined]
                elif isinstance(st, ast.If):
                    visit(st.body)
                    visit(st.orelse)
                elif isinstance(st, (ast.For, ast.While)):
                    visit(st.body)

        visit(self.body)
        target = s.targets[0].id  # type: ignore[attr-defined]
        return all(counts.get(n) == 1 and n in before and n not in in_loop
                   for n in _names_in(s.value) & active - {target})

    def mark_arithmetic(self) -> None:
        """Mark each `a + b` and `a * b` of the body that is arithmetic for certain (`node.
        _arithmetic`): Python's own `+` and `*` join and repeat lists and tuples, which no rule
        of the rule table describes. The others are written as runtime calls, which look at
        the values (`runtime._joins`).

        What is known of a name at a statement is whether it holds no list or tuple: so are
        results of arithmetic and of NumPy's elementwise functions, and so is an operand of an
        operation that succeeded where a list could not (`-x`, `x * 0.5`, `x + 1.0`, `x ** 2`).
        The facts flow forward through the statements (exits are flags by now, see normalize);
        a branch keeps what both ways know, a loop what holds before and after each trip. A
        fast unit is written for arguments that are no lists or tuples (`transforms._calling`
        runs the careful form for those): its parameters are known from the start. Each call
        gets `node._plain_args`: whether all its arguments are known so (a user function
        called otherwise runs its careful form)."""
        def known(e: ast.expr, facts: dict[str, Any]) -> bool:
            if isinstance(e, ast.Constant):
                return type(e.value) in (int, float, complex, bool)
            return isinstance(e, ast.Name) and e.id in facts

        def assign(s: ast.Assign, facts: dict[str, Any], looped: bool) -> None:
            if isinstance(s.value, ast.Call):
                s.value._plain_args = all(  # type: ignore[attr-defined]
                    known(a, facts) for a in s.value.args)
            sure = self._arithmetic_value(s.value, facts, known)
            t = s.targets[0].id  # type: ignore[attr-defined]
            if sure:
                facts[t] = True
            else:
                facts.pop(t, None)

        _flow_facts(self.body, {} if self.careful else dict.fromkeys(self.params, True), assign)

    def mark_shapes(self) -> None:
        """Mark each operation whose operands have one shape for certain, as far as it matters
        for broadcasting (`node._same_shape`): its adjoints need no `unbroadcast` and its
        tangents no `lift`. (Run after mark_arithmetic: a join changes the shape.)

        A name's fact is a shape class: the shape a parameter had on entry, or that of the
        value a statement made that runs at most once (outside loops). Elementwise operations
        (arithmetic, NumPy's and chainrule's elementwise functions) of operands of one class,
        or of a class and Python numbers, are of that class. The flow is mark_arithmetic's."""
        def cls(e: ast.expr, facts: dict[str, Any]) -> Any:
            if isinstance(e, ast.Constant):
                return _NUMBER if type(e.value) in (int, float) else None
            return facts.get(e.id) if isinstance(e, ast.Name) else None

        def combined(operands: list[ast.expr], facts: dict[str, Any]) -> Any:
            found = {cls(o, facts) for o in operands} - {_NUMBER}
            return found.pop() if len(found) == 1 and None not in found else None

        def assign(s: ast.Assign, facts: dict[str, Any], looped: bool) -> None:
            v = s.value
            got = None
            if isinstance(v, ast.Name):
                got = facts.get(v.id)
            elif isinstance(v, ast.UnaryOp) and isinstance(v.op, (ast.USub, ast.UAdd)):
                got = cls(v.operand, facts)
            elif isinstance(v, ast.BinOp) and isinstance(v.op, _ELEMENTWISE_OPS) and (
                    getattr(v, "_arithmetic", False) or not isinstance(v.op, (ast.Add,
                                                                              ast.Mult))):
                got = combined([v.left, v.right], facts)
                v._same_shape = got is not None  # type: ignore[attr-defined]
            elif isinstance(v, ast.Call) and not v.keywords and self._elementwise_call(v):
                got = combined(v.args, facts)
                v._same_shape = got is not None  # type: ignore[attr-defined]
            if got is None and not looped:  # (a value made once has a shape of its own)
                got = s
            t = s.targets[0].id  # type: ignore[attr-defined]
            if got is None:
                facts.pop(t, None)
            else:
                facts[t] = got

        _flow_facts(self.body, {p: p for p in self.params}, assign)

    def _elementwise_call(self, v: ast.Call) -> bool:
        """Whether `v` calls a NumPy or chainrule elementwise function (whose result has the
        broadcast shape of its arguments; `math`'s functions make floats of 1-element arrays)."""
        obj = self.resolve(v.func)
        mod = getattr(obj, "__module__", None) or type(obj).__module__ or ""
        try:
            return mod.split(".")[0] in ("numpy", "chainrule") and \
                runtime.primitive_of(obj, len(v.args)) is not None
        except TypeError:
            return False

    def _arithmetic_value(self, v: ast.expr, facts: dict[str, Any],
                          known: Callable[[ast.expr, dict[str, Any]], bool]) -> bool:
        """Whether `v` holds no list or tuple (and mark its `+` or `*`, see mark_arithmetic);
        `facts` gains the operands that its success shows to be no list or tuple."""
        if isinstance(v, ast.Constant):
            return type(v.value) in (int, float, complex, bool)
        if isinstance(v, ast.Name):
            return v.id in facts
        if isinstance(v, ast.UnaryOp) and isinstance(v.op, (ast.USub, ast.UAdd)):
            if isinstance(v.operand, ast.Name):  # (-[1.0] raises)
                facts[v.operand.id] = True
            return True
        if isinstance(v, ast.BinOp):
            a, b = v.left, v.right
            v._plain = {o.id for o in (a, b)  # type: ignore[attr-defined]
                        if isinstance(o, ast.Name) and o.id in facts}
            same = isinstance(a, ast.Name) and isinstance(b, ast.Name) and a.id == b.id
            mult = isinstance(v.op, ast.Mult)

            if isinstance(v.op, ast.Add):  # joins two lists or two tuples
                sure = known(a, facts) or known(b, facts)
            elif mult:  # repeats a list by an integer
                sure = (known(a, facts) and known(b, facts)) or same \
                    or _number(a, (float, complex)) or _number(b, (float, complex))
            else:
                sure = True  # (no other operator means anything for lists)
            v._arithmetic = sure  # type: ignore[attr-defined]
            # a list meets a Python number only in `*` by an integer, and itself nowhere: an
            # operand of an operation that succeeded against one is no list
            against = (float, complex) if mult else (int, float, complex)
            for o, other in ((a, b), (b, a)):
                if isinstance(o, ast.Name) and (same and mult or _number(other, against)):
                    facts[o.id] = True
            return sure
        if isinstance(v, ast.Compare):
            return True
        if isinstance(v, ast.Call):
            try:
                return runtime.primitive_of(self.resolve(v.func), len(v.args)) is not None
            except TypeError:
                return False
        return False


def _number(e: ast.expr, kinds: tuple[type, ...]) -> bool:
    """Whether `e` is a Python number constant of one of `kinds` (exactly: a bool is no int)."""
    return isinstance(e, ast.Constant) and type(e.value) in kinds


#: the shape class of a Python number (broadcasting with one keeps the other's shape)
_NUMBER = object()
#: operators that act elementwise on arrays (broadcasting their operands)
_ELEMENTWISE_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)


def _flow_facts(body: list[ast.stmt], entry: dict[str, Any],
                assign: Callable[[ast.Assign, dict[str, Any], bool], None]) -> None:
    """Facts about names, carried forward through `body` (normalised: exits are flags, see
    normalize): `assign(statement, facts, looped)` updates them at each assignment (`looped`:
    inside a loop). A branch keeps the facts both ways agree on; a loop those that hold on
    entry and after every trip, iterated down to a fixed point, whose pass marks the body."""
    def flow(stmts: list[ast.stmt], facts: dict[str, Any], looped: bool) -> dict[str, Any]:
        for s in stmts:
            if isinstance(s, ast.Assign):
                assign(s, facts, looped)
            elif isinstance(s, ast.If):
                a, b = flow(s.body, dict(facts), looped), flow(s.orelse, dict(facts), looped)
                facts = {k: v for k, v in a.items() if k in b and b[k] == v}
            elif isinstance(s, (ast.For, ast.While)):
                target = s.target.id if isinstance(s, ast.For) else None  # type: ignore
                head = {k: v for k, v in facts.items() if k != target}
                while True:
                    end = flow(s.body, dict(head), True)
                    new = {k: v for k, v in head.items() if k in end and end[k] == v}
                    if new == head:
                        break
                    head = new
                facts = head
        return facts

    flow(body, dict(entry), False)


_WORD = re.compile(r"\w+")
_ZEROED = re.compile(r"((?:\w+ = )+)\$Zero")  # a = b = $Zero
_ADDED = re.compile(r"(\w+) = \1 \+ (.*)")  # d = d + e
_ASSIGNED = re.compile(r"(\w+(?:, \w+)*) = ")  # a = ..., or a, b = ...
_HEADERS = ("for ", "while ", "if ", "else:")


def _first_writes(lines: list[str]) -> list[str]:
    """Adjoint statements `d = d + e` where `d` holds the symbolic Zero on every path that
    reaches them, written `d = e` (what `Zero + e` gives: `e` itself). The facts flow as in
    `_flow_facts`, over the generated lines themselves (their blocks by indentation: reading
    them as Python would cost as much as the rest of a long function's transform). A line of
    another form than the generator writes leaves all lines as they are."""
    text = "\n".join(lines).split("\n")
    rows = [(len(t) - len(t.lstrip()), t.strip(), k) for k, t in enumerate(text)]
    rows = [r for r in rows if r[1] and not r[1].startswith("#")]
    pos = 0

    def block(indent: int) -> list[Any]:
        """The items at this indentation: ("stmt", k) | ("loop", body) | ("if", body, orelse)."""
        nonlocal pos
        items: list[Any] = []
        while pos < len(rows) and rows[pos][0] >= indent:
            depth, line, k = rows[pos]
            if depth > indent:
                raise ValueError(line)
            pos += 1
            if line.startswith(_HEADERS):
                inner = rows[pos][0] if pos < len(rows) else indent
                if not line.endswith(":") and ":  #" not in line or inner <= indent:
                    raise ValueError(line)
                body = block(inner)
                if line.startswith("else:"):
                    if not items or items[-1][0] != "if" or items[-1][2]:
                        raise ValueError(line)
                    items[-1] = ("if", items[-1][1], body)
                else:
                    items.append(("if", body, []) if line.startswith("if ") else ("loop", body))
            else:
                items.append(("stmt", k))
        return items

    first: dict[int, str] = {}  # line -> the adjoint written there for the first time

    def flow(items: list[Any], zero: set[str]) -> set[str]:
        for item in items:
            if item[0] == "stmt":
                line = text[item[1]].strip()
                m = _ZEROED.fullmatch(line)
                if m:
                    zero |= set(m.group(1).split(" = ")[:-1])
                    continue
                m = _ADDED.fullmatch(line)
                t = m.group(1) if m else None
                if t is not None and t in zero and t not in _WORD.findall(m.group(2)):
                    first[item[1]] = t  # (`e` does not read `d`: the words of its text)
                else:
                    first.pop(item[1], None)
                a = _ASSIGNED.match(line)
                if a:
                    zero -= set(a.group(1).split(", "))
                elif " = " in line.split("(", 1)[0]:  # (an assignment of another form)
                    raise ValueError(line)
            elif item[0] == "if":
                zero = flow(item[1], set(zero)) & flow(item[2], set(zero))
            else:  # (a loop: what holds on entry and after every trip, to a fixed point)
                head = zero
                while True:
                    new = head & flow(item[1], set(head))
                    if new == head:
                        break
                    head = new
                zero = head
        return zero

    try:
        items = block(rows[0][0]) if rows else []
        if pos != len(rows):
            raise ValueError("indentation")
        flow(items, set())
    except ValueError:
        return lines
    for k, t in first.items():
        body = text[k].lstrip()
        text[k] = text[k][:len(text[k]) - len(body)] + f"{t} = " + body[len(t) * 2 + 6:]
    return text


# ---------------------------------------------------------------------------------------------
# reverse mode

class Reverse:
    def __init__(self, unit: Unit, argnums: int | tuple[int, ...] | None,
                 templates: bool = False) -> None:
        self.u = unit
        self.templates = templates  # adjoints as NumPy expressions (see templates.py)
        self.full = argnums is None  # the VJP in every argument (what callers use)
        self.single = isinstance(argnums, int)
        if argnums is None:
            argnums = tuple(range(len(unit.params)))
        argnums = resolve_argnums(argnums, len(unit.params), "grad")  # (its parameters)
        self.argnums = argnums
        seeds = {unit.params[i] for i in argnums}
        self.active = unit.activity(seeds)
        unit.refuse_hidden_stores(unit._depends_on(seeds))
        unit.body = unit.dead_code_removed()
        unit.mark_arithmetic()
        unit.mark_shapes()
        counts, in_loop = unit.assigned_counts()
        # values the adjoint statements read: the operands and result of each active assignment
        needed: set[str] = set()
        for node in walk(ast.Module(body=unit.body, type_ignores=[])):
            if isinstance(node, ast.Assign) and node.targets[0].id in self.active:  # type: ignore
                needed |= _names_in(node.value) | {node.targets[0].id}  # type: ignore
        # ... restored to what they were at that point when they are assigned more than once
        self.saved = {n for n, c in counts.items() if (c > 1 or n in in_loop)
                      and n in needed and n != unit.stack}
        self.seed_name = self.d(unit.out)  # the cotangent parameter (a fresh name's adjoint)
        self.last_line: int | None = None
        self.defined: set[str] = set()  # names assigned so far, in program order
        self.first_defs: set[str] = set()  # ... whose first assignment is at the top level

    def d(self, name: str) -> str:
        return self.u.prefix + name

    def push(self, what: str) -> str:
        return f"{self.u.stack} = ({what}, {self.u.stack})"

    def pop(self, into: str) -> str:
        return f"{into}, {self.u.stack} = {self.u.stack}"

    def comment(self, node: ast.stmt) -> str:
        return self.u.comment(node)

    def line_comment(self, node: ast.stmt, ind: str) -> list[str]:
        """The user's line, once where the generated statements for it begin."""
        line = getattr(node, "lineno", None)
        if line == self.last_line:
            return []
        self.last_line = line
        return [ind + self.comment(node)]

    def records(self) -> bool:
        """Whether any branch or loop will be recorded."""
        return any(isinstance(n, (ast.If, ast.For, ast.While)) and self.needs_adjoint(n.body)
                   for n in walk(ast.Module(body=self.u.body, type_ignores=[])))

    def needs_adjoint(self, stmts: list[ast.stmt]) -> bool:
        for n in walk(ast.Module(body=stmts, type_ignores=[])):
            if isinstance(n, ast.Assign) and (n.targets[0].id in self.active  # type: ignore
                                              or n.targets[0].id in self.saved):  # type: ignore
                return True
            if isinstance(n, ast.For) and n.target.id in self.saved:  # type: ignore
                return True
        return False

    # -- primal sweep ----------------------------------------------------------------------------
    def primal(self, stmts: list[ast.stmt], ind: str) -> list[str]:
        out: list[str] = []
        for s in stmts:
            if not isinstance(s, (ast.If, ast.For, ast.While)):
                out += self.line_comment(s, ind)
            if isinstance(s, ast.Assign):
                t = s.targets[0].id  # type: ignore[attr-defined]
                # a name's first definition, outside loops and branches, overwrites nothing
                s._first = ind == "    " and t not in self.defined \
                    and t not in self.u.params  # type: ignore[attr-defined]
                if s._first:  # type: ignore[attr-defined]
                    self.first_defs.add(t)
                self.defined.add(t)
                if t in self.saved and not s._first:  # type: ignore[attr-defined]
                    out.append(ind + self.push(t))
                out.append(ind + _u(s))
            elif isinstance(s, ast.If):
                out += self.line_comment(s, ind)
                record = self.needs_adjoint(s.body + s.orelse)
                out.append(f"{ind}if {_u(s.test)}:")
                out += self.primal(s.body, ind + "    ") or [ind + "    pass"]
                if record:
                    out.append(ind + "    " + self.push("True"))
                if s.orelse or record:
                    out.append(f"{ind}else:")
                    out += self.primal(s.orelse, ind + "    ")
                    if record:
                        out.append(ind + "    " + self.push("False"))
                s._record = record  # type: ignore[attr-defined]
            elif isinstance(s, (ast.For, ast.While)):
                out += self.line_comment(s, ind)
                record = self.needs_adjoint(s.body)
                n = self.u._fresh("_n")
                s._trips = n if record else None  # type: ignore[attr-defined]
                if record:
                    out.append(f"{ind}{n} = 0")
                if isinstance(s, ast.For):
                    target = s.target.id  # type: ignore[attr-defined]
                    if record and target in self.saved:
                        out.append(ind + self.push(target))  # its value before the loop
                    self.defined.add(target)
                    out.append(f"{ind}for {target} in {_u(s.iter)}:")
                else:
                    out.append(f"{ind}while {_u(s.test)}:")
                body = self.primal(s.body, ind + "    ")
                out += body or [ind + "    pass"]
                if record:
                    if isinstance(s, ast.For) and s.target.id in self.saved:  # type: ignore
                        out.append(ind + "    " + self.push(s.target.id))  # type: ignore
                    out.append(f"{ind}    {n} += 1")
                    if ind != "    ":  # a loop inside a loop or branch: its count, every time
                        out.append(ind + self.push(n))
                        s._count_saved = True  # type: ignore[attr-defined]
            elif isinstance(s, ast.Return):
                continue
            else:
                out.append(ind + _u(s))
        return out

    # -- adjoint sweep ---------------------------------------------------------------------------
    def adjoint(self, stmts: list[ast.stmt], ind: str) -> list[str]:
        out: list[str] = []
        for s in reversed(stmts):
            if isinstance(s, ast.Assign):
                out += self.assign_adjoint(s, ind)
            elif isinstance(s, ast.If) and getattr(s, "_record", False):
                taken = self.u._fresh("_taken")
                out += self.line_comment(s, ind)
                out.append(ind + self.pop(taken))
                out.append(f"{ind}if {taken}:")
                out += self.adjoint(s.body, ind + "    ") or [ind + "    pass"]
                if s.orelse:
                    body = self.adjoint(s.orelse, ind + "    ")
                    if body:
                        out.append(f"{ind}else:")
                        out += body
            elif isinstance(s, (ast.For, ast.While)) and getattr(s, "_trips", None):
                out += self.line_comment(s, ind)
                if getattr(s, "_count_saved", False):
                    out.append(ind + self.pop(s._trips))  # type: ignore[attr-defined]
                out.append(f"{ind}for {self.u.skip} in range({s._trips}):")  # type: ignore
                inner = []
                if isinstance(s, ast.For) and s.target.id in self.saved:  # type: ignore
                    inner.append(ind + "    " + self.pop(s.target.id))  # type: ignore
                inner += self.adjoint(s.body, ind + "    ")
                out += inner or [ind + "    pass"]
                if isinstance(s, ast.For) and s.target.id in self.saved:  # type: ignore
                    out.append(ind + self.pop(s.target.id))  # type: ignore[attr-defined]
        return out

    def assign_adjoint(self, s: ast.Assign, ind: str) -> list[str]:
        t = s.targets[0].id  # type: ignore[attr-defined]
        v = s.value
        out: list[str] = []
        contributions = self.contributions(v, t, s) if t in self.active else []
        if t in self.saved and not getattr(s, "_first", False):
            if contributions:
                # the value this statement made, and its cotangent; the variable gets back the
                # value it had before, whose cotangent starts from zero
                out.append(f"{ind}{self.u.ans}, {self.u.ct} = {t}, {self.d(t)}")
                out.append(f"{ind}{self.d(t)} = $Zero")
                out.append(ind + self.pop(t))
                ans, ct = self.u.ans, self.u.ct
            else:
                out.append(ind + self.pop(t))
                if t in self.active:
                    out.append(f"{ind}{self.d(t)} = $Zero")
                return out
        else:
            ans, ct = t, self.d(t)
        if not contributions:
            return out
        out[:0] = self.line_comment(s, ind)
        for line in contributions:
            out.append(ind + line.replace("{ans}", ans).replace("{ct}", ct))
        return out

    def contributions(self, v: ast.expr, t: str, node: ast.stmt) -> list[str]:
        act = self.active
        d = self.d
        out: list[str] = []
        if isinstance(v, ast.Name):
            if v.id in act:
                out.append(f"{d(v.id)} = $acc({d(v.id)}, {{ct}})")
        elif isinstance(v, ast.BinOp) and not isinstance(v.op, _NONDIFF_OPS):
            fn = f"$operator.{_OPS[type(v.op)]}"
            args = f"{_u(v.left)}, {_u(v.right)}"
            prim = runtime.primitive_of(getattr(operator, _OPS[type(v.op)]))
            joined = []
            plain = getattr(v, "_plain", set())  # (operands known to be no list or tuple)
            for k, a in enumerate((v.left, v.right)):
                if isinstance(a, ast.Name) and a.id in act:
                    pulled = f"$pullback({fn}, {k}, {{ct}}, {{ans}}, {args})"
                    accumulated = f"{d(a.id)} = $acc({d(a.id)}, {pulled})"
                    # (the pullback of a list is a list, added entry by entry; a template's
                    # value is an array, which NumPy adds to a list as to an array)
                    out.append(self.template(prim, k, [v.left, v.right], a.id, v) or (
                        f"{d(a.id)} = {d(a.id)} + {pulled}" if a.id in plain else accumulated))
                    joined.append("    " + accumulated)
            if joined and not getattr(v, "_arithmetic", False):  # (see Unit.mark_arithmetic)
                op = "+" if isinstance(v.op, ast.Add) else "*"
                out = [f"if $is_sequence({{ans}}):  # (Python's {op} joined lists or tuples)",
                       *joined, "else:", *["    " + line for line in out]]
        elif isinstance(v, ast.UnaryOp) and isinstance(v.op, ast.USub):
            a = v.operand
            if isinstance(a, ast.Name) and a.id in act:
                out.append(self.template(runtime.primitive_of(operator.neg), 0, [a], a.id) or
                           f"{d(a.id)} = {d(a.id)} + $pullback($operator.neg, 0, {{ct}}, "
                           f"{{ans}}, {a.id})")
        elif isinstance(v, ast.Subscript):
            idx = index_value(v.slice)
            if isinstance(v.value, ast.Name) and v.value.id in act:
                c = v.value.id
                out.append(f"{d(c)} = $add_at({d(c)}, {c}, {_u(idx)}, {{ct}})")
            elif self.u.index_trick(v.value):
                # (cnp.r_[x, 0.0, y]: an object whose __getitem__ computes from the index)
                parts = idx.elts if isinstance(idx, ast.Tuple) else [idx]
                live = [(k, e.id) for k, e in enumerate(parts)
                        if isinstance(e, ast.Name) and e.id in act]
                if live:
                    ci = self.u._fresh("_ci")
                    out.append(f"{ci} = $pullback_of(lambda _i: {_u(v.value)}[_i], "
                               f"({_u(idx)},), {{ct}}, (0,))[0]")
                    for k, name in live:
                        got = f"$part({ci}, {k})" if isinstance(idx, ast.Tuple) else ci
                        out.append(f"{d(name)} = $acc({d(name)}, {got})")
        elif isinstance(v, (ast.Tuple, ast.List)):
            for k, e in enumerate(v.elts):
                if isinstance(e, ast.Name) and e.id in act:
                    out.append(f"{d(e.id)} = $acc({d(e.id)}, $part({{ct}}, {k}))")
        elif isinstance(v, ast.Dict):
            for key, e in zip(v.keys, v.values):
                if isinstance(e, ast.Name) and e.id in act:
                    out.append(f"{d(e.id)} = $acc({d(e.id)}, $part({{ct}}, {_u(key)}))")
        elif isinstance(v, ast.Attribute):
            if isinstance(v.value, ast.Name) and v.value.id in act:
                c = v.value.id
                out.append(f"{d(c)} = $acc({d(c)}, $pullback_of(lambda {c}: {_u(v)}, ({c},), "
                           f"{{ct}}, (0,))[0])")
        elif isinstance(v, ast.Call):
            out += self.call_contributions(v, node)
        elif isinstance(v, ast.Lambda):
            # a lambda made from differentiated values and used as a value (one that can be
            # written out where it is used is: function_values.py): an adjoint reaching it is
            # unknown, and so are those of the values it reads (runtime.UnknownDerivative);
            # where those may change after it is made, there is no telling which: refused
            line = self.u.src.first_line + getattr(node, "lineno", 1) - 1
            where = f"{self.u.src.filename!r}, {line}"
            if not self.u.reads_fixed_values(node, act):  # type: ignore[arg-type]
                return [f"$function_cotangent({{ct}}, {where}, True)"]
            for name in sorted(_names_in(v) & act - {t}):  # (a recursive lambda reads t)
                out.append(f"{d(name)} = $acc({d(name)}, $function_cotangent({{ct}}, "
                           f"{where}))")
        return out

    def template(self, prim: Any, k: int, operands: list[ast.expr], name: str,
                 node: ast.expr | None = None) -> str | None:
        """`d_name = d_name + <the rule's VJP as an expression>`, or None (see templates.py).
        An operand a binary operation may have broadcast gets its cotangent summed back."""
        if not self.templates or prim is None:
            return None
        ops = [(_u(o), o.value if isinstance(o, ast.Constant) else None) for o in operands]
        if any(c is not None and type(c) not in (int, float) for _, c in ops):
            return None
        expr = adjoint(prim, k, "{ct}", "{ans}", ops)
        if expr is None:
            return None
        others = [o for o in operands if not (isinstance(o, ast.Name) and o.id == name)]
        if others and not all(isinstance(o, ast.Constant) for o in others) \
                and not getattr(node, "_same_shape", False):
            # (a Python number against `name` broadcasts nothing back onto it, nor does an
            # operand of its shape: Unit.mark_shapes)
            expr = f"$unbroadcast({expr}, {{ans}}, {name})"
        return f"{self.d(name)} = {self.d(name)} + {expr}"

    def call_contributions(self, v: ast.Call, node: ast.stmt) -> list[str]:
        act = self.active
        d = self.d
        used = sorted(_names_in(v) & act)
        if not used:
            return []
        self.u.refuse_active_callee(v, act, node)
        obj = self.u.resolve(v.func)
        plain = all(_atom(a, act) for a in v.args) and \
            all(_atom(k.value, act) for k in v.keywords)
        kw_active = any(isinstance(k.value, ast.Name) and k.value.id in act for k in v.keywords)
        callee_local = obj is None
        if plain and not kw_active and not callee_local and self.u.is_user_function(obj) \
                and not v.keywords:
            name, gen = self.user_call(obj, v)
            ct_param = gen.cotangent if gen is not None else self.seed_name
            args = ", ".join(_u(a) for a in v.args)
            cts = self.u.cts
            lines = [f"{self.u.skip}, {cts} = {name}({args}{', ' if args else ''}"
                     f"{ct_param}={{ct}})"]
            for k, a in enumerate(v.args):
                if isinstance(a, ast.Name) and a.id in act:
                    lines.append(f"{d(a.id)} = $acc({d(a.id)}, {cts}[{k}])")
            return lines
        if plain and not kw_active and not callee_local:
            args = ", ".join([_u(a) for a in v.args] + [f"{k.arg}={_u(k.value)}"
                                                         for k in v.keywords])
            prim = runtime.primitive_of(obj, len(v.args))
            if prim is not None:  # an array function of arrays
                return [(self.template(prim, k, v.args, a.id, v) if not v.keywords else None) or
                        f"{d(a.id)} = {d(a.id)} + $pullback({_u(v.func)}, {k}, {{ct}}, {{ans}}, "
                        f"{args})"
                        for k, a in enumerate(v.args)
                        if isinstance(a, ast.Name) and a.id in act]
            # anything else may take containers (tuples, lists, dicts): added entry by entry
            return [f"{d(a.id)} = $acc({d(a.id)}, $pullback({_u(v.func)}, {k}, {{ct}}, {{ans}}, "
                    f"{args}))" for k, a in enumerate(v.args)
                    if isinstance(a, ast.Name) and a.id in act]
        # closures (lambdas over differentiated values), methods of values, local callables:
        # the call as a function of the differentiated names it uses
        params = ", ".join(used)
        cts = self.u.cts
        lines = [f"{cts} = $pullback_of(lambda {params}: {_u(v)}, ({params},), {{ct}}, "
                 f"tuple(range({len(used)})))"]
        for k, name in enumerate(used):
            lines.append(f"{d(name)} = $acc({d(name)}, {cts}[{k}])")
        return lines

    def user_call(self, obj: Callable[..., Any], call: ast.Call) -> Any:
        """(the name of obj's generated VJP here, that function or None for recursion)."""
        if obj is self.u.src.fn and self.full:
            # recursion: the function being generated, found by its name when it runs
            self.u.callees.append(None)
            return f"{_identifier(obj.__name__)}_vjp", None
        gen = reverse_function(obj, None)  # (transformed once for every caller: cached)
        if self.u.careful or not getattr(call, "_plain_args", False):
            gen = careful_of(gen)  # (careful code calls careful code; so do lists, see
            # Unit.mark_arithmetic)
        self.u.callees.append(gen)
        return self.u.bind(f"{_identifier(obj.__name__)}_vjp", gen), gen

    # -- the whole function ----------------------------------------------------------------------
    def function(self, name: str, kind: str) -> str:
        """The generated function's source. `kind` is "vjp" (`(*args, d_out) -> (out, cts)`),
        "grad" (`(*args) -> gradient`) or "value_and_grad" (`(*args) -> (out, gradient)`);
        the last two check the output as every method's grad does (`checks.grad_seed`)."""
        u = self.u
        params = u.params
        ret = u.body[-1]
        if not isinstance(ret, ast.Return):  # (normalisation always ends with the return)
            raise u.src.error("a function without a final return", ret)
        grad_only = kind != "vjp"
        seed = self.u._fresh("_seed") if grad_only else self.seed_name
        head = ", ".join(u.signature() + u.keyword_signature([] if grad_only else [seed]))
        lines = [f"def {name}({head}):"]
        what = {"vjp": "VJP", "grad": "Gradient", "value_and_grad": "Value and gradient"}[kind]
        lines.append(f'    """{what} of {u.src.fn.__name__} '
                     f'(generated by chainrule.source from {u.src.filename}:'
                     f'{u.src.first_line})."""')
        ind = "    "
        primal = self.primal(u.body[:-1], ind)
        if any(u.stack in line for line in primal):
            lines.append(f"{ind}{u.stack} = None  # saved values, last in first out: (top, rest)")
        pre_init = sorted(n for n in self.saved if n not in params and n != u.stack
                          and n not in self.first_defs)
        if pre_init:  # (saved before their first assignment, inside a loop or branch)
            lines.append(f"{ind}{' = '.join(pre_init)} = None")
        lines.append(f"{ind}# ---- primal sweep: the function, saving what the adjoints need")
        lines += primal
        out_atom = _u(ret.value) if ret.value is not None else "None"
        if kind != "grad":  # (the adjoint sweep restores variables: keep the result aside)
            lines.append(f"{ind}{u.out} = {out_atom}")
        if grad_only:  # (ones of the output's shape and dtype, once it is known to be a scalar)
            lines.append(f"{ind}{seed} = $grad_seed({out_atom}, {u.src.fn.__name__!r})")
        self.last_line = None
        lines.append(f"{ind}# ---- adjoint sweep: cotangents, statement by statement, in reverse")
        adjoint_names = sorted(self.active)
        start = len(lines)
        if adjoint_names:
            # (Zero: "nothing yet"; adding to it gives the other term itself, with no copy, and
            # no adjoint is ever changed in place, so terms may share arrays)
            lines.append(f"{ind}{' = '.join(self.d(n) for n in adjoint_names)} = $Zero")
        if isinstance(ret.value, ast.Name) and ret.value.id in self.active:
            lines.append(f"{ind}{self.d(ret.value.id)} = {seed}")
        lines += self.adjoint(u.body[:-1], ind)
        lines[start:] = _first_writes(lines[start:])
        if grad_only:
            # (values of the inputs' shapes and dtypes, not Zero: this code may be transformed
            # again, as a Hessian does, and then its results are values like any other)
            grads = [f"$finish({self.d(params[i]) if params[i] in self.active else '0.0'}, "
                     f"{params[i]})" for i in self.argnums]
            result = grads[0] if self.single else "(" + ", ".join(grads) + \
                ("," if len(grads) == 1 else "") + ")"
            lines.append(f"{ind}return {result}" if kind == "grad" else
                         f"{ind}return {u.out}, {result}")
        else:
            grads = [self.d(p) if p in self.active else "0.0" for p in params]
            lines.append(f"{ind}return {u.out}, ({', '.join(grads)}"
                         f"{',' if len(grads) == 1 else ''})")
        return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# forward mode

class Forward:
    def __init__(self, unit: Unit, templates: bool = False, batched: bool = False) -> None:
        self.u = unit
        self.templates = templates  # tangents as NumPy expressions (see templates.py)
        self.batched = batched  # tangents may carry a batch of leading axes (see `lifted`)
        self.active = unit.activity(set(unit.params))
        unit.refuse_hidden_stores(unit._depends_on(set(unit.params)))
        unit.mark_arithmetic()
        unit.mark_shapes()
        self.last_line: int | None = None

    def d(self, name: str) -> str:
        return self.u.prefix + name

    def comment(self, node: ast.stmt) -> str:
        return self.u.comment(node)

    def tangent_of(self, a: ast.expr) -> str:
        return self.d(a.id) if isinstance(a, ast.Name) and a.id in self.active else "0.0"

    def block(self, stmts: list[ast.stmt], ind: str) -> list[str]:
        out: list[str] = []
        for s in stmts:
            if getattr(s, "lineno", None) != self.last_line:
                out.append(ind + self.comment(s))
                self.last_line = getattr(s, "lineno", None)
            if isinstance(s, ast.Assign):
                out += [ind + line for line in self.assign(s)]
            elif isinstance(s, ast.If):
                out.append(f"{ind}if {_u(s.test)}:")
                out += self.block(s.body, ind + "    ") or [ind + "    pass"]
                if s.orelse:
                    out.append(f"{ind}else:")
                    out += self.block(s.orelse, ind + "    ")
            elif isinstance(s, ast.For):
                out.append(f"{ind}for {_u(s.target)} in {_u(s.iter)}:")
                out += self.block(s.body, ind + "    ") or [ind + "    pass"]
            elif isinstance(s, ast.While):
                out.append(f"{ind}while {_u(s.test)}:")
                out += self.block(s.body, ind + "    ") or [ind + "    pass"]
            elif isinstance(s, ast.Return):
                v = s.value
                out.append(f"{ind}return {_u(v)}, {self.tangent_of(v)}")
            else:
                out.append(ind + _u(s))
        return out

    def assign(self, s: ast.Assign) -> list[str]:
        t = s.targets[0].id  # type: ignore[attr-defined]
        v = s.value
        plain = f"{t} = {_u(v)}"
        if t not in self.active:
            return [plain]
        dt = self.d(t)
        if isinstance(v, ast.Name):
            return [plain, f"{dt} = {self.tangent_of(v)}"]
        if isinstance(v, ast.BinOp):
            fn = f"$operator.{_OPS[type(v.op)]}"
            prim = runtime.primitive_of(getattr(operator, _OPS[type(v.op)]))
            written = self.template(prim, [v.left, v.right], t, v)
            generic = f"{t}, {dt} = $pushforward({fn}, ({_u(v.left)}, {_u(v.right)}), " \
                f"({self.tangent_of(v.left)}, {self.tangent_of(v.right)}))"
            if written is None:
                return [generic]
            lines = self.in_order(t, [v.left, v.right], plain, f"{dt} = {written}")
            names = [o.id for o in (v.left, v.right) if isinstance(o, ast.Name)]
            if getattr(v, "_arithmetic", False) or not names:  # (see Unit.mark_arithmetic)
                return lines
            op = "+" if isinstance(v.op, ast.Add) else "*"
            test = " or ".join(f"$is_sequence({n})" for n in dict.fromkeys(names))
            return [f"if {test}:  # (Python's {op} joins lists and tuples)", "    " + generic,
                    "else:", *["    " + line for line in lines]]
        if isinstance(v, ast.UnaryOp):
            written = self.template(runtime.primitive_of(operator.neg), [v.operand], t)
            if written is not None:
                return self.in_order(t, [v.operand], plain, f"{dt} = {written}")
            return [f"{t}, {dt} = $pushforward($operator.neg, ({_u(v.operand)},), "
                    f"({self.tangent_of(v.operand)},))"]
        if isinstance(v, ast.Subscript):
            idx = index_value(v.slice)
            if self.u.index_trick(v.value):
                if isinstance(idx, ast.Tuple):
                    tangent = "(" + "".join(f"{self.tangent_of(e)}, " for e in idx.elts) + ")"
                else:
                    tangent = self.tangent_of(idx)
                return [f"{t}, {dt} = $pushforward(lambda _i: {_u(v.value)}[_i], ({_u(idx)},), "
                        f"({tangent},))"]
            return self.in_order(t, [v.value], plain, f"{dt} = $part({self.tangent_of(v.value)}, "
                                 f"{_u(idx)}, {_u(v.value)})")
        if isinstance(v, (ast.Tuple, ast.List)):
            elts = ", ".join(self.tangent_of(e) for e in v.elts)
            if isinstance(v, ast.Tuple):
                return [plain, f"{dt} = ({elts}{',' if len(v.elts) == 1 else ''})"]
            return [plain, f"{dt} = [{elts}]"]
        if isinstance(v, ast.Dict):
            items = ", ".join(f"{_u(k)}: {self.tangent_of(e)}" for k, e in zip(v.keys,
                                                                                 v.values))
            return [plain, f"{dt} = {{{items}}}"]
        if isinstance(v, ast.Attribute):
            c = _u(v.value)
            return [f"{t}, {dt} = $pushforward(lambda {c}: {_u(v)}, ({c},), "
                    f"({self.tangent_of(v.value)},))"]
        if isinstance(v, ast.Call):
            return self.call(s, v, t, dt)
        if isinstance(v, ast.Lambda):  # (see Reverse.contributions)
            # (the tangents of the values it reads, when those keep their values; None where
            # a closure may read later ones: unknown)
            line = self.u.src.first_line + getattr(s, "lineno", 1) - 1
            tans = "".join(f"{self.d(n)}, " for n in sorted(_names_in(v) & self.active - {t}))
            tangents = f"({tans})" if self.u.reads_fixed_values(s, self.active) else "None"
            return [plain, f"{dt} = $function_tangent({t}, {tangents}, "
                           f"{self.u.src.filename!r}, {line})"]
        return [plain, f"{dt} = 0.0"]

    @staticmethod
    def in_order(t: str, operands: list[ast.expr], primal: str, tangent: str) -> list[str]:
        """The value, then its tangent; the tangent first when the statement overwrites one of
        its operands (`p = p * x`: the tangent reads the old p)."""
        if any(isinstance(o, ast.Name) and o.id == t for o in operands):
            return [tangent, primal]
        return [primal, tangent]

    def template(self, prim: Any, operands: list[ast.expr], target: str,
                 node: ast.expr | None = None) -> str | None:
        """The output tangent of `target = prim(*operands)` written out from the rule's JVP,
        reading `target` where the rule uses the result (unless the statement overwrites an
        operand: its tangent is then computed first), or None (see templates.py)."""
        if not self.templates or prim is None:
            return None
        ops = [(_u(o), o.value if isinstance(o, ast.Constant) else None) for o in operands]
        if any(c is not None and type(c) not in (int, float) for _, c in ops):
            return None
        names = [o.id for o in operands if isinstance(o, ast.Name)]
        same = getattr(node, "_same_shape", False)  # (no lifts: Unit.mark_shapes)
        tans = [(self.d(o.id) if same else self.lifted(o.id, names))
                if isinstance(o, ast.Name) and o.id in self.active
                else None for o in operands]
        ans = None if target in names else target
        # (a tangent may come out of a lower rank than its value, where an operand without
        # one was broadcast: it broadcasts alike, and the runtime fits it where a shape counts)
        return tangent(prim, ops, tans, ans) if any(tans) else None

    def lifted(self, name: str, names: list[str]) -> str:
        """`name`'s tangent as an operand of an operation on `names`. In the batched variant,
        with other variables there, it is lifted to the result's rank: a tangent of a lower
        rank operand must meet the others' batch axes, not their leading value axes."""
        others = [n for n in names if n != name]
        if not others or not self.batched:
            return self.d(name)
        return f"$lift({self.d(name)}, {name}, {', '.join(others)})"

    def call(self, s: ast.Assign, v: ast.Call, t: str, dt: str) -> list[str]:
        self.u.refuse_active_callee(v, self.active, s)
        obj = self.u.resolve(v.func)
        plain = all(_atom(a, self.active) for a in v.args) and \
            all(_atom(k.value, self.active) for k in v.keywords)
        kw_active = any(isinstance(k.value, ast.Name) and k.value.id in self.active
                        for k in v.keywords)
        if plain and not kw_active and obj is not None:
            args = ", ".join(_u(a) for a in v.args)
            tans = ", ".join(self.tangent_of(a) for a in v.args)
            comma = "," if len(v.args) == 1 else ""
            if self.u.is_user_function(obj) and not v.keywords:
                if obj is self.u.src.fn:  # recursion: found by its name when it runs
                    key, names = self.name, self.tangent_names
                    self.u.callees.append(None)
                else:
                    gen = forward_function(obj, self.batched)
                    if self.u.careful or not getattr(v, "_plain_args", False):
                        gen = careful_of(gen)  # (as Reverse.user_call)
                    self.u.callees.append(gen)
                    key, names = self.u.bind(f"{_identifier(obj.__name__)}_jvp", gen), \
                        gen.tangents
                kw = ", ".join(f"{n}={self.tangent_of(a)}" for n, a in zip(names, v.args))
                return [f"{t}, {dt} = {key}({args}{', ' if args and kw else ''}{kw})"]
            written = self.template(runtime.primitive_of(obj, len(v.args)), v.args, t, v) \
                if not v.keywords else None
            if written is not None:
                return self.in_order(t, v.args, f"{t} = {_u(v)}", f"{dt} = {written}")
            kws = "".join(f", {k.arg}={_u(k.value)}" for k in v.keywords)
            return [f"{t}, {dt} = $pushforward({_u(v.func)}, ({args}{comma}), "
                    f"({tans}{comma}){kws})"]
        used = sorted(_names_in(v) & self.active)
        params = ", ".join(used)
        tans = ", ".join(self.d(n) for n in used)
        return [f"{t}, {dt} = $pushforward(lambda {params}: {_u(v)}, ({params},), ({tans},))"]

    def function(self, name: str) -> str:
        u = self.u
        params = u.params
        self.name = name
        self.tangent_names = [self.d(p) for p in params]
        head = ", ".join(u.signature()
                         + u.keyword_signature([f"{t}=0.0" for t in self.tangent_names]))
        lines = [f"def {name}({head}):",
                 f'    """JVP of {u.src.fn.__name__} (generated by chainrule.source from '
                 f'{u.src.filename}:{u.src.first_line})."""']
        lines += self.block(u.body, "    ")
        return "\n".join(lines) + "\n"


def _makes_functions(fn: Any) -> bool:
    """Calls that return functions closing over their arguments (see refuse_active_callee): the
    transforms that do say so with `_cr_makes_functions` (cr.vjp, cr.linearize), and partial."""
    return fn is functools.partial or getattr(fn, "_cr_makes_functions", False) is True


_QUERIES: set[Any] = set()


def _structure_queries() -> set[Any]:
    """Functions whose results describe an array (its shape, size, dtype, which entries are
    finite, where its largest entry is) rather than compute with its values: no derivative
    flows through them."""
    if not _QUERIES:
        names = ("shape", "ndim", "size", "result_type", "iscomplexobj", "isrealobj",
                 "isscalar", "isfinite", "isnan", "isinf", "isposinf", "isneginf", "signbit",
                 "argmax", "argmin", "argsort", "argwhere", "nonzero", "flatnonzero",
                 "count_nonzero", "searchsorted", "shares_memory", "may_share_memory",
                 "array_equal", "allclose", "isclose", "iscomplex", "isreal")
        for namespace in (np, cnp):
            for name in names:
                fn = getattr(namespace, name, None)
                if fn is not None:
                    _QUERIES.add(fn)
    return _QUERIES


def _atom(a: ast.expr, active: set[str]) -> bool:
    """An argument passed as it is: a name, a constant, or a dotted reference to something
    not differentiated (`operator.matmul` in generated code, `np.pi`, `x.shape` of an
    inactive `x`)."""
    if isinstance(a, (ast.Name, ast.Constant)):
        return True
    while isinstance(a, ast.Attribute):
        a = a.value
    return isinstance(a, ast.Name) and a.id not in active


# ---------------------------------------------------------------------------------------------
# compiling generated source into functions people can read, step through and transform again

def _namespace(unit: Unit) -> dict[str, Any]:
    return unit.src.scope  # (the helpers are bound in it when the unit is made)


_HELPER_MARK = re.compile(r"\$(" + "|".join(sorted(HELPERS, key=len, reverse=True)) + r")\b")


def _compile(source: str, name: str, ns: dict[str, Any], unit: Unit) -> Callable[..., Any]:
    # `$name` marks a runtime helper in the emitters' text ('$' cannot occur in Python code):
    # it becomes the name the helper has here, clear of the user's names
    source = _HELPER_MARK.sub(lambda m: unit.src.helper(m.group(1)), source)
    # a batch of seeds (leading axes the values lack) runs through it at once when every helper
    # it calls, and every generated function it calls, takes one
    unbatched = re.compile(r"\b(" + "|".join(unit.src.helper(h) for h in _UNBATCHED) + r")\b")
    batchable = not unbatched.search(source) and all(getattr(g, "batchable", False)
                                                     for g in unit.callees)
    filename = f"<chainrule.source {name} #{next(_units)}>"
    lines = source.splitlines(keepends=True)
    linecache.cache[filename] = (len(source), None, lines, filename)
    ORIGINS[filename] = unit.src.filename
    code = compile(source, filename, "exec")
    exec(code, ns)  # noqa: S102 - source we generated from the user's own function
    fn = ns[name]
    # its lines stay readable (tracebacks, debuggers) as long as the function lives
    weakref.finalize(fn, _forget, filename)
    fn.source = source
    fn.batchable = batchable
    fn.__module__ = unit.src.fn.__module__
    return fn


def _forget(filename: str) -> None:
    linecache.cache.pop(filename, None)
    ORIGINS.pop(filename, None)


# generated functions, per function and kind: a function is transformed again only when what
# it reads from outside its arguments changed (the generated code holds closure values and
# the functions its callees resolved to; `_core.cache`)
_CACHE = PerFunction(16)


def _cached(fn: Callable[..., Any], kind: Any, make: Callable[[], Any]) -> Any:
    return _CACHE.get_or_build(fn, kind, make)


def reverse_function(fn: Callable[..., Any], argnums: int | tuple[int, ...] | None,
                     kind: str = "vjp") -> Callable[..., Any]:
    """Generated `(*args, d_out) -> (out, (d_arg, ...))` (kind "vjp", argnums None), the
    gradient function `(*args) -> d_arg` (kind "grad"; a tuple when argnums is a tuple), or
    `(*args) -> (out, d_arg)` (kind "value_and_grad")."""
    return _cached(fn, ("reverse", argnums, kind),
                   lambda: _paused(_reverse_function, fn, argnums, kind))


def careful_of(gen: Callable[..., Any]) -> Callable[..., Any]:
    """The careful form of generated code `gen` (with strong zeros and the rules' own calls,
    complex values too): `gen` itself when it is one, made on first use for a fast form (most
    calls never need it, and a long function takes as long again to generate)."""
    got = gen.__dict__.get("careful")
    if got is not None:
        return got  # type: ignore[no-any-return]
    make = gen.__dict__.get("make_careful")
    if make is None:
        return gen
    with _CAREFUL_LOCK, collector_paused():
        got = gen.__dict__.get("careful")
        if got is None:
            got = make()
            gen.careful = got  # type: ignore[attr-defined]
    return got  # type: ignore[no-any-return]


_CAREFUL_LOCK = threading.RLock()


def _held_weakly(fn: Callable[..., Any]) -> Callable[[], Callable[..., Any]]:
    """`fn` for a generated function's `make_careful` to reach later, held weakly: the
    generated code lives in a cache keyed weakly by `fn`, and a strong reference from the
    value would keep the key, and the cache entry, alive for ever."""
    try:
        ref = weakref.ref(fn)
    except TypeError:  # (not weakly referenceable: not cached either)
        return lambda: fn

    def get() -> Callable[..., Any]:
        got = ref()
        if got is None:
            raise ReferenceError("the function this code was generated from no longer exists")
        return got
    return get


def _reverse_function(fn: Callable[..., Any], argnums: int | tuple[int, ...] | None,
                      kind: str) -> Callable[..., Any]:
    fast_unit = Unit(fn, careful=False)
    name = f"{_identifier(fast_unit.src.fn.__name__)}_{'vjp' if kind == 'vjp' else 'grad'}"
    source_of = _held_weakly(fn)

    def make_careful() -> Callable[..., Any]:
        unit = Unit(source_of())
        careful_rev = Reverse(unit, argnums)
        careful = _compile(careful_rev.function(name, kind), name, _namespace(unit), unit)
        careful.cotangent = careful_rev.seed_name if kind == "vjp" else None  # keyword-only
        careful.careful = careful
        return careful

    if fast_unit.has_complex_constants():  # (the expressions are derived for real numbers)
        return make_careful()
    fast_rev = Reverse(fast_unit, argnums, templates=True)
    fast = _compile(fast_rev.function(name, kind), name, _namespace(fast_unit), fast_unit)
    # (the careful form's cotangent parameter has the same name: both come from one
    # normalisation of the same function)
    fast.cotangent = fast_rev.seed_name if kind == "vjp" else None
    fast.make_careful = make_careful
    return fast


def forward_function(fn: Callable[..., Any], batched: bool = False) -> Callable[..., Any]:
    """Generated `(*args, *tangents) -> (out, out_tangent)`. The `batched` variant takes
    tangents with leading batch axes (a Jacobian's whole basis at once, see `Forward.lifted`)."""
    return _cached(fn, ("forward", batched), lambda: _paused(_forward_function, fn, batched))


def _paused(build: Callable[..., Any], *args: Any) -> Any:
    with collector_paused():  # (a long function's transform makes many short-lived nodes)
        return build(*args)


def _forward_function(fn: Callable[..., Any], batched: bool) -> Callable[..., Any]:
    fast_unit = Unit(fn, careful=False)
    name = f"{_identifier(fast_unit.src.fn.__name__)}_jvp"
    source_of = _held_weakly(fn)

    def make_careful() -> Callable[..., Any]:
        unit = Unit(source_of())
        fwd = Forward(unit)
        careful = _compile(fwd.function(name), name, _namespace(unit), unit)
        careful.tangents = fwd.tangent_names  # its keyword-only tangent parameters
        careful.careful = careful
        return careful

    if fast_unit.has_complex_constants():  # (the expressions are derived for real numbers)
        return make_careful()
    fast_fwd = Forward(fast_unit, templates=True, batched=batched)
    fast = _compile(fast_fwd.function(name), name, _namespace(fast_unit), fast_unit)
    fast.tangents = fast_fwd.tangent_names
    fast.batchable = fast.batchable and batched  # (without the lifts, ranks may not pair up)
    fast.make_careful = make_careful  # (the rules' own calls: complex values too)
    return fast
