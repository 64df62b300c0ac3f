"""Expressions given as text, for `chainrule explain`: parsed with `ast`, checked against a
whitelist, and interpreted node by node. The text is data: nothing of it reaches `eval`, `exec` or
`compile` to code (only `ast.parse`, which builds a syntax tree and runs nothing).

`parse_expression("log(x1) + x1*x2 - sin(x2)", ["x1", "x2"])` is a function of x1 and x2 built
from closures over the whitelisted `chainrule.numpy` functions; anything outside the whitelist
raises `ExpressionError` naming the construct and what an expression may contain.
"""
from __future__ import annotations

import ast
import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

from .. import numpy as cnp
from .._core.errors import ChainruleError


class ExpressionError(ChainruleError, ValueError):
    """An expression text was refused: it uses something outside the whitelist. `construct`
    names what was refused, `reason` says why, `allowed` what an expression may contain."""

    def __init__(self, reason: str, construct: str = "", allowed: str = "") -> None:
        super().__init__(reason + (f"; {allowed}" if allowed else ""))
        self.reason = reason
        self.construct = construct
        self.allowed = allowed


def _functions() -> dict[str, tuple[Callable[..., Any], int]]:
    unary = ["exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "cbrt", "square",
             "reciprocal", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh",
             "tanh", "arcsinh", "arccosh", "arctanh", "abs"]
    binary = ["arctan2", "hypot", "power", "maximum", "minimum", "logaddexp"]
    table = {name: (getattr(cnp, name), 1) for name in unary}
    table.update({name: (getattr(cnp, name), 2) for name in binary})
    # the spellings of Python's math module and of calculus books
    aliases = {"ln": "log", "asin": "arcsin", "acos": "arccos", "atan": "arctan",
               "asinh": "arcsinh", "acosh": "arccosh", "atanh": "arctanh", "atan2": "arctan2",
               "pow": "power"}
    table.update({alias: table[name] for alias, name in aliases.items()})
    return table


#: the functions an expression text may call: name -> (chainrule.numpy function, arity)
FUNCTIONS: dict[str, tuple[Callable[..., Any], int]] = _functions()
#: the named constants an expression text may use
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}

_BINOPS = {ast.Add: "add", ast.Sub: "subtract", ast.Mult: "multiply", ast.Div: "divide",
           ast.Pow: "power"}
_CONSTRUCTS = {
    ast.Attribute: "attribute access", ast.Subscript: "subscript", ast.Lambda: "lambda",
    ast.ListComp: "list comprehension", ast.SetComp: "set comprehension",
    ast.DictComp: "dict comprehension", ast.GeneratorExp: "generator expression",
    ast.Compare: "comparison", ast.BoolOp: "boolean operator ('and'/'or')",
    ast.IfExp: "conditional expression", ast.Tuple: "tuple", ast.List: "list",
    ast.Dict: "dict", ast.Set: "set", ast.Starred: "starred argument",
    ast.NamedExpr: "assignment expression (:=)", ast.JoinedStr: "f-string",
    ast.FormattedValue: "f-string", ast.Await: "await", ast.Yield: "yield",
    ast.YieldFrom: "yield", ast.Slice: "slice",
}
_MAX_DEPTH = 100  # nesting of the expression tree; deeper texts are refused, not recursed into
# longest expression text: ast.parse builds hundreds of bytes of tree per character before
# the whitelist sees any of it, so a long text is refused before it is parsed
_MAX_LENGTH = 10_000


def _allowed(variables: Sequence[str]) -> str:
    names = ", ".join(variables) if variables else "(none given)"
    return (f"allowed are numbers, the variables {names}, the constants "
            f"{', '.join(CONSTANTS)}, the operators + - * / ** and unary + -, parentheses, and "
            f"calls by name of {', '.join(sorted(FUNCTIONS))}")


def parse_expression(text: str, variables: Sequence[str]) -> Callable[..., Any]:
    """A function of `variables` (positional, in that order) computing the expression `text`.

    The text is parsed with `ast.parse(mode="eval")` and every node is checked against a
    whitelist: numbers, the given variables, the constants pi and e, + - * / ** and unary + -,
    and calls by name, with positional arguments, of the functions in FUNCTIONS (chainrule.numpy
    functions). The checked tree is interpreted node by node; nothing is `eval`'d or compiled.
    Anything else raises ExpressionError naming the construct and what is allowed.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_expression: text must be a str, got {type(text).__name__}")
    variables = list(variables)
    for v in variables:
        _check_variable_name(v)
    if len(text) > _MAX_LENGTH:
        raise ExpressionError(f"refused {_short(text)}: it is {len(text)} characters long, "
                              f"more than {_MAX_LENGTH}", "length", _allowed(variables))
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        where = f" (column {err.offset})" if err.offset else ""
        raise ExpressionError(
            f"refused {_short(text)}: not one expression{where}: {err.msg}. Statements, "
            f"imports and ';' are not accepted", "syntax", _allowed(variables)) from None
    except (ValueError, RecursionError, MemoryError) as err:
        raise ExpressionError(f"refused {_short(text)}: it cannot be parsed ({err})", "syntax",
                              _allowed(variables)) from None
    index = {name: k for k, name in enumerate(variables)}
    node = _Checker(text, variables, index).check(tree.body, 0)

    def expression(*values: Any) -> Any:
        if len(values) != len(variables):
            raise TypeError(f"the expression takes {len(variables)} value(s) "
                            f"({', '.join(variables)}), got {len(values)}")
        return node(values)

    expression.__name__ = "expression"
    expression.__qualname__ = "expression"
    expression.__doc__ = f"{text} (parsed and checked by chainrule.explain.parse_expression)"
    # the variables as the function's parameters, so explain names its inputs after them
    expression.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(v, inspect.Parameter.POSITIONAL_ONLY) for v in variables])
    return expression


def _short(text: str, limit: int = 80) -> str:
    """The text quoted for a message, cut when long (a message should not echo a whole file)."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


def _check_variable_name(name: str) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise ExpressionError(f"variable name {name!r} is not a name (letters, digits, _)",
                              "variable")
    if "__" in name:
        raise ExpressionError(f"variable name {name!r}: names with a double underscore are "
                              f"never allowed", "dunder name")
    if name in FUNCTIONS or name in CONSTANTS:
        raise ExpressionError(f"variable name {name!r} is already a function or constant of "
                              f"expressions; pick another name", "variable")


Evaluator = Callable[[Sequence[Any]], Any]


class _Checker:
    """Walks the parsed tree once, refusing anything outside the whitelist, and returns an
    evaluator built from closures over whitelisted functions only."""

    def __init__(self, text: str, variables: list[str], index: dict[str, int]) -> None:
        self.text = text
        self.variables = variables
        self.index = index

    def snip(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.text.strip(), node) or type(node).__name__

    def refuse(self, construct: str, detail: str) -> ExpressionError:
        return ExpressionError(f"refused {_short(self.text)}: {detail}", construct,
                               _allowed(self.variables))

    def check(self, node: ast.AST, depth: int) -> Evaluator:
        if depth > _MAX_DEPTH:
            raise self.refuse("depth", f"it is nested more than {_MAX_DEPTH} levels deep")
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.BinOp):
            op = _BINOPS.get(type(node.op))
            if op is None:
                symbol = _op_symbol(node.op)
                raise self.refuse(f"operator {symbol}", f"the operator {symbol} in "
                                  f"`{self.snip(node)}` is not allowed")
            fn = getattr(cnp, op)
            left = self.check(node.left, depth + 1)
            right = self.check(node.right, depth + 1)
            return _binary(fn, left, right)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return _unary(cnp.negative, self.check(node.operand, depth + 1))
            if isinstance(node.op, ast.UAdd):
                return self.check(node.operand, depth + 1)
            symbol = _op_symbol(node.op)
            raise self.refuse(f"operator {symbol}", f"the operator {symbol} in "
                              f"`{self.snip(node)}` is not allowed")
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        construct = _CONSTRUCTS.get(type(node), type(node).__name__)
        raise self.refuse(construct, f"{construct} `{self.snip(node)}` is not allowed")

    def _constant(self, node: ast.Constant) -> Evaluator:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = {str: "string", bytes: "bytes", complex: "complex number",
                    bool: "boolean"}.get(type(value), type(value).__name__)
            raise self.refuse(f"{kind} constant", f"the {kind} `{self.snip(node)}` is not "
                              f"allowed, only real numbers are")
        try:
            number = float(value)
        except OverflowError:
            raise self.refuse("number", f"the number `{self.snip(node)[:20]}...` is too large "
                              f"for a float") from None
        return _const(number)

    def _name(self, node: ast.Name) -> Evaluator:
        name = node.id
        if "__" in name:
            raise self.refuse("dunder name", f"the name `{name}` is not allowed: names with a "
                              f"double underscore never are")
        if name in self.index:
            return _variable(self.index[name])
        if name in CONSTANTS:
            return _const(CONSTANTS[name])
        if name in FUNCTIONS:
            raise self.refuse("function name", f"`{name}` is a function: call it, as "
                              f"{name}(...)")
        raise self.refuse("unknown name", f"the name `{name}` is unknown: it is not one of the "
                          f"variables, constants or functions")

    def _call(self, node: ast.Call, depth: int) -> Evaluator:
        func = node.func
        if not isinstance(func, ast.Name):
            kind = _CONSTRUCTS.get(type(func), type(func).__name__)
            raise self.refuse(f"call of {kind}", f"calling `{self.snip(func)}` ({kind}) is not "
                              f"allowed: functions are called by their name alone")
        name = func.id
        if "__" in name:
            raise self.refuse("dunder name", f"calling `{name}` is not allowed: names with a "
                              f"double underscore never are")
        if name not in FUNCTIONS:
            raise self.refuse("call", f"calling `{name}` is not allowed: it is not one of the "
                              f"functions")
        if node.keywords:
            raise self.refuse("keyword argument", f"the keyword argument in "
                              f"`{self.snip(node)}` is not allowed, arguments are positional")
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise self.refuse("starred argument", f"the starred argument in "
                              f"`{self.snip(node)}` is not allowed")
        fn, arity = FUNCTIONS[name]
        if len(node.args) != arity:
            raise self.refuse("argument count", f"`{name}` takes {arity} argument(s), "
                              f"`{self.snip(node)}` gives {len(node.args)}")
        args = [self.check(a, depth + 1) for a in node.args]
        return _unary(fn, args[0]) if arity == 1 else _binary(fn, args[0], args[1])


def _op_symbol(op: ast.AST) -> str:
    symbols = {ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<",
               ast.RShift: ">>", ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&",
               ast.Invert: "~", ast.Not: "not"}
    return f"'{symbols.get(type(op), type(op).__name__)}'"


# the evaluator's pieces: small named closures (tracebacks then say what was being computed)

def _const(value: float) -> Evaluator:
    def constant(values: Sequence[Any]) -> Any:
        return value
    return constant


def _variable(k: int) -> Evaluator:
    def variable(values: Sequence[Any]) -> Any:
        return values[k]
    return variable


def _unary(fn: Callable[[Any], Any], arg: Evaluator) -> Evaluator:
    def apply_unary(values: Sequence[Any]) -> Any:
        return fn(arg(values))
    return apply_unary


def _binary(fn: Callable[[Any, Any], Any], left: Evaluator, right: Evaluator) -> Evaluator:
    def apply_binary(values: Sequence[Any]) -> Any:
        return fn(left(values), right(values))
    return apply_binary


__all__ = ["CONSTANTS", "FUNCTIONS", "ExpressionError", "parse_expression"]
