"""Reading a function's source: its AST, where it came from, what its names refer to, and the
constructs the transformer refuses (each with file, line and the construct's name)."""
from __future__ import annotations

import ast
import builtins
import copy
import inspect
import linecache
import textwrap
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .._core.errors import in_library


class TransformError(Exception):
    """A construct the source transformer does not handle (it never writes wrong code).

    Parameters
    ----------
    construct : str
        What was met ("a starred argument (*args)", "attribute assignment", ...).
    filename : str
        The file of the user's function.
    line : int
        The line of the construct; the message quotes it.
    why : str, optional
        What to do instead.

    Examples
    --------
    >>> import chainrule as cr
    >>> def f(*xs):
    ...     return xs[0] * 2.0
    >>> try:
    ...     cr.grad(f, method="source")(1.0)
    ... except cr.source.TransformError as e:
    ...     print(e.construct)
    *args, **kwargs or positional-only parameters
    """

    def __init__(self, construct: str, filename: str, line: int, why: str = "") -> None:
        self.construct = construct
        self.filename = filename
        self.line = line
        text = linecache.getline(filename, line).strip()
        where = f"{filename}:{line}"
        msg = f"{where}: cannot transform {construct}"
        if why:
            msg += f" ({why})"
        if text:
            msg += f"\n    {text}"
        super().__init__(msg)


class Scope(dict):  # type: ignore[type-arg]
    """The generated code's globals: its own names (the runtime helpers, transformed callees)
    first, then the values the function closes over, its module's globals (read when the code
    runs, as the function itself would) and the builtins."""

    def __init__(self, closure: dict[str, Any], module: dict[str, Any]) -> None:
        super().__init__()
        self.closure = closure
        self.module = module

    def __missing__(self, key: str) -> Any:
        if key in self.closure:
            return self.closure[key]
        value = self.module[key]  # (a KeyError when absent; a Scope looks further itself)
        if isinstance(value, types.ModuleType):
            self[key] = value  # modules (np, cnp) are not rebound: found once
        return value

    def lookup(self, key: str) -> Any:
        """What `key` names now (None when nothing): for resolving callees."""
        try:
            return self[key]
        except KeyError:
            return getattr(builtins, key, None)

    def taken(self, key: str) -> bool:
        try:
            self[key]
            return True
        except KeyError:
            return hasattr(builtins, key)


@dataclass
class Source:
    """A function ready to transform: its definition node and what its free names mean."""

    fn: Callable[..., Any]
    node: ast.FunctionDef
    filename: str
    first_line: int
    scope: Scope = field(default_factory=lambda: Scope({}, {}))
    helpers: dict[str, str] = field(default_factory=dict)

    def helper(self, name: str) -> str:
        """The name generated code uses for runtime helper `name` (clear of the user's)."""
        return self.helpers.get(name, name)

    def resolve(self, expr: ast.expr, local: set[str]) -> Any:
        """The object an expression of non-local names (`np.sin`, `helper`) refers to, or
        None (a local value, or not a name at all)."""
        if isinstance(expr, ast.Name):
            return None if expr.id in local else self.scope.lookup(expr.id)
        if isinstance(expr, ast.Attribute):
            base = self.resolve(expr.value, local)
            return getattr(base, expr.attr, None) if base is not None else None
        return None

    def error(self, construct: str, node: ast.AST | None, why: str = "") -> TransformError:
        line = self.first_line + getattr(node, "lineno", 1) - 1
        return TransformError(construct, self.filename, line, why)


def walk(node: ast.AST) -> list[ast.AST]:
    """Every node under `node` (itself first), in `ast.walk`'s order, as a list: about twice
    as fast as `ast.walk`, which a long function's transformation calls a dozen times."""
    out = [node]
    append = out.append
    node_type = ast.AST
    for n in out:  # (the list grows as it is read: breadth first)
        for name in n._fields:
            v = getattr(n, name, None)
            if isinstance(v, node_type):
                append(v)
            elif v.__class__ is list:
                for x in v:
                    if isinstance(x, node_type):
                        append(x)
    return out


def load(fn: Callable[..., Any]) -> Source:
    """Parse `fn` (a def or a lambda) into a Source. A wrapper made with functools.wraps is
    the wrapper's own code (what it does around the function it wraps counts), not the
    wrapped function's."""
    if getattr(fn, "_cr_has_rule", False):
        return _ruled(fn)
    if not isinstance(fn, types.FunctionType):
        raise TypeError(f"cr.source transforms Python functions, not {type(fn).__name__}")
    lifted = getattr(fn, "_cr_source", None)
    if lifted is not None:  # a def nested in a transformed function (lift.py)
        return Source(fn, copy.deepcopy(lifted.node), lifted.filename, lifted.first_line,
                      Scope({}, lifted.scope.module))
    code = fn.__code__
    filename = code.co_filename
    if in_library(filename, numpy=False) and hasattr(fn, "__wrapped__"):
        # (chainrule's wrapper of a user function: a transform's result, e.g. cr.grad(f))
        raise TransformError(f"{fn.__qualname__}, a function made by chainrule",
                             getattr(fn, "__module__", None) or filename, code.co_firstlineno,
                             "the source engine transforms your own code: give it the function "
                             "itself, nest transforms made with method='source', or use "
                             "method='overload'")
    try:
        lines, first = inspect.getsourcelines(code)  # (the function's own: not unwrapped)
    except (OSError, TypeError) as exc:
        raise TransformError("a function without source", filename, code.co_firstlineno,
                             f"inspect cannot find its source: {exc}") from None
    text, indent = _dedent("".join(lines))
    last = _last_line(code)
    try:
        if first + len(lines) - 1 < last:
            # (inspect's lines end before the code does: a lambda whose body goes on over the
            # next lines, `lambda x: f(x)\n + g(x)`, where the first line alone parses)
            raise SyntaxError("a lambda continued on later lines")
        module = ast.parse(text)
    except SyntaxError:  # a lambda inside a larger expression: parse the enclosing statement
        chunk, first = _enclosing_statement(filename, first, last)
        text, indent = _dedent(chunk)
        module = ast.parse(text)
    node = _find(module, fn, filename, first, indent)
    closure: dict[str, Any] = {}
    if fn.__closure__:
        for name, cell in zip(code.co_freevars, fn.__closure__):
            try:
                closure[name] = cell.cell_contents
            except ValueError:  # an empty cell: defined later in the enclosing function
                pass
    scope = Scope(closure, fn.__globals__)
    wrapped = getattr(fn, "__wrapped__", None)
    callee = _passes_through(node)
    if wrapped is not None and callee is not None and scope.lookup(callee) is wrapped:
        return load(wrapped)  # (`return f(*args, **kwargs)`: the wrapper is f itself)
    return Source(fn, node, filename, first, scope)


def _passes_through(node: ast.FunctionDef) -> str | None:
    """The name a decorator's wrapper calls when all it does is call it with its own arguments:
    `def wrapper(*args, **kwargs): return f(*args, **kwargs)` (a docstring aside); else None.
    Such a wrapper of f is transformed as f; any other wrapper as its own code."""
    a = node.args
    if a.args or a.posonlyargs or a.kwonlyargs or a.vararg is None:
        return None
    body = [s for s in node.body
            if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if len(body) != 1 or not isinstance(body[0], ast.Return):
        return None
    call = body[0].value
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
            and len(call.args) == 1):
        return None
    star = call.args[0]
    if not (isinstance(star, ast.Starred) and isinstance(star.value, ast.Name)
            and star.value.id == a.vararg.arg):
        return None
    if a.kwarg is None:
        return None if call.keywords else call.func.id
    forwards = (len(call.keywords) == 1 and call.keywords[0].arg is None
                and isinstance(call.keywords[0].value, ast.Name)
                and call.keywords[0].value.id == a.kwarg.arg)
    return call.func.id if forwards else None


#: the name under which `_ruled` code calls the function with a rule (a user's parameter never
#: has it: parameter names are checked against it)
RULED = "_cr_ruled"


def _ruled(fn: Any) -> Source:
    """A function with a derivative rule of its own (`cr.custom_jvp`, `cr.custom_vjp`) given to
    the transform itself. Its code is not its derivative, so the function transformed is one
    that calls it with the same parameters; generated code differentiates such a call through
    the rule (README, custom rules)."""
    inner = load(fn.fun)
    args = copy.deepcopy(inner.node.args)
    names = [a.arg for a in args.args]
    if RULED in names:
        raise inner.error(f"a parameter named {RULED}", inner.node, "the name is reserved")
    call = ast.Call(func=ast.Name(RULED, ast.Load()),
                    args=[ast.Name(n, ast.Load()) for n in names], keywords=[])
    node = ast.FunctionDef(name=inner.node.name, args=args, body=[ast.Return(call)],
                           decorator_list=[], returns=None, type_comment=None, type_params=[],
                           lineno=inner.node.lineno, col_offset=0)
    # (the Source is the inner function's: its name, defaults and globals; only the call in
    # its body goes to the function with the rule)
    return Source(inner.fn, ast.fix_missing_locations(node), inner.filename, inner.first_line,
                  Scope({RULED: fn}, inner.fn.__globals__))


def _dedent(text: str) -> tuple[str, int]:
    """`textwrap.dedent(text)` and how many columns it removed from each line."""
    out = textwrap.dedent(text)
    for raw, kept in zip(text.splitlines(), out.splitlines()):
        if raw.strip():
            return out, len(raw) - len(kept)
    return out, 0


def _last_line(code: types.CodeType) -> int:
    """The last line any of `code`'s instructions comes from."""
    return max((line for _, _, line in code.co_lines() if line is not None),
               default=code.co_firstlineno)


def _enclosing_statement(filename: str, first: int, last: int) -> tuple[str, int]:
    """The statement holding a lambda that starts on line `first` and whose code reaches line
    `last`, and the line the statement starts on (earlier when the lambda is on a continuation
    line)."""
    lines = linecache.getlines(filename)
    for start in range(first, max(first - 20, 0), -1):
        for end in range(max(first, last), min(max(first, last) + 40, len(lines)) + 1):
            chunk = "".join(lines[start - 1:end])
            try:
                tree = ast.parse(textwrap.dedent(chunk))
            except SyntaxError:
                continue
            # (the whole lambda: its first line's text alone, and the next line's, may each
            # parse as a statement of their own, `lambda x: f(x)` and `+ g(x)`)
            if any(isinstance(n, ast.Lambda) and start + n.lineno - 1 == first
                   and start + n.end_lineno - 1 >= last  # type: ignore[operator]
                   for n in walk(tree)):
                return chunk, start
    raise TransformError("a lambda", filename, first, "its source could not be parsed")


def _lambda_by_position(lambdas: list[ast.Lambda], code: types.CodeType, first: int,
                        indent: int) -> list[ast.Lambda]:
    """The lambdas whose body starts where `code`'s instructions do (Python 3.11 code objects
    carry each instruction's line and column; the function's entry has none)."""
    starts = [(line, col) for line, _, col, end in code.co_positions()
              if line is not None and col is not None and (col, end) != (0, 0)]
    if not starts:
        return lambdas
    line, col = min(starts)
    return [n for n in lambdas
            if (first + n.body.lineno - 1, n.body.col_offset + indent) == (line, col)]


def _find(module: ast.Module, fn: types.FunctionType, filename: str, first: int,
          indent: int) -> ast.FunctionDef:
    name = fn.__code__.co_name  # (the def's own name: functools.wraps copies another's)
    if name == "<lambda>":
        code = fn.__code__
        params = list(code.co_varnames[:code.co_argcount])
        lambdas = [n for n in walk(module) if isinstance(n, ast.Lambda)
                   and [a.arg for a in n.args.args] == params]
        if len(lambdas) > 1 and hasattr(code, "co_positions"):
            lambdas = _lambda_by_position(lambdas, code, first, indent)
        if len(lambdas) != 1:
            raise TransformError("a lambda", filename, first,
                                 "several lambdas with the same parameters on one line, "
                                 "which its code cannot tell apart; write it as a def")
        lam = lambdas[0]
        body = [ast.Return(value=lam.body, lineno=lam.lineno, col_offset=0)]
        node = ast.FunctionDef(name="lambda_", args=lam.args, body=body, decorator_list=[],
                               returns=None, type_comment=None, type_params=[],
                               lineno=lam.lineno, col_offset=0)
        return ast.fix_missing_locations(node)
    for n in walk(module):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name:
            if isinstance(n, ast.AsyncFunctionDef):
                raise TransformError("an async function", filename, first + n.lineno - 1)
            return n
    raise TransformError(f"function {name}", filename, first, "its definition was not found")


# constructs refused wherever they appear, with the name the error gives them
_REFUSED: dict[type, str] = {
    ast.Global: "a global statement", ast.Nonlocal: "a nonlocal statement",
    ast.Try: "try", ast.With: "with", ast.AsyncWith: "async with", ast.AsyncFor: "async for",
    ast.Yield: "yield (a generator)", ast.YieldFrom: "yield from (a generator)",
    ast.Await: "await", ast.ClassDef: "a class definition", ast.Import: "import",
    ast.ImportFrom: "import", ast.NamedExpr: "an assignment expression (:=)",
    ast.Match: "match",
}
if hasattr(ast, "TryStar"):
    _REFUSED[ast.TryStar] = "try"


def check(src: Source) -> None:
    """Raise TransformError at the first construct the transformer refuses."""
    for node in walk(src.node):
        kind = _REFUSED.get(type(node))
        if kind is not None:
            raise src.error(kind, node)
        if isinstance(node, ast.AsyncFunctionDef):
            raise src.error("an async function", node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id in ("eval", "exec", "compile", "globals", "locals"):
            raise src.error(f"{node.func.id}()", node)
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for sub in walk(t):
                    if isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Store):
                        raise src.error("attribute assignment", node,
                                        "objects are not changed in place, and a derivative "
                                        "kept in an attribute is out of the generated code's "
                                        "sight; make a new value (of a registered pytree "
                                        "class: cr.tree.register_dataclass and "
                                        "dataclasses.replace), or use method='overload'")
                    if isinstance(sub, ast.Starred):
                        raise src.error("starred assignment", node)
        if isinstance(node, ast.Starred) and isinstance(node.ctx, ast.Load):
            raise src.error("a starred argument (*args)", node)
    args = src.node.args
    if args.vararg or args.kwarg or args.posonlyargs:
        raise src.error("*args, **kwargs or positional-only parameters", src.node,
                        "name each parameter (keyword-only ones, after a bare *, are fine)")
