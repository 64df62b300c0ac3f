"""Evaluating expressions, and compiling them to NumPy code (`lambdify`).

`evaluate` walks the DAG once, calling each primitive's NumPy implementation, so a shared node is
computed once. `lambdify` generates the source of a Python function: a node used more than once
(common subexpression) is computed once into a temporary, single-use nodes are written inline,
and constant subexpressions are folded while generating. The source is kept in `.source`.
"""
from __future__ import annotations

import functools
import itertools
import math
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..ops.operators import ATOM, NEG
from .expr import Const, Expr, Symbol, as_expr, topo_order
from .printing import FUNC_NAMES, Part, Printer, is_custom_call


def _value(x: Any) -> Any:
    """Inputs follow NumPy's semantics (1/0 is inf, (-8)**(1/3) is nan), not Python's."""
    return x if isinstance(x, np.ndarray) else np.float64(x) if isinstance(x, (int, float)) \
        else np.asarray(x)


def _bindings(expr_symbols: Sequence[Symbol], values: Mapping[Any, Any] | None,
              kwargs: dict[str, Any]) -> dict[int, Any]:
    given: dict[str, Any] = {}
    for k, v in (values or {}).items():
        name = k.name if isinstance(k, Symbol) else k
        if not isinstance(name, str):
            raise TypeError(f"evaluate: keys must be symbols or names, got {type(k).__name__}")
        given[name] = v
    given.update(kwargs)
    names = {s.name for s in expr_symbols}
    missing = sorted(names - set(given))
    if missing:
        raise TypeError(f"evaluate: no value for symbol(s) {', '.join(missing)}; pass them as "
                        f"keywords, e.g. evaluate({missing[0]}=1.0)")
    unknown = sorted(set(given) - names)
    if unknown:
        raise TypeError(f"evaluate: got value(s) for {', '.join(unknown)}, which the expression "
                        f"does not contain (its symbols: {', '.join(sorted(names)) or 'none'})")
    return {id(s): _value(given[s.name]) for s in expr_symbols}


def evaluate(expr: Any, values: Mapping[Any, Any] | None = None, **kwargs: Any) -> Any:
    """The value of `expr` with symbols bound to numbers or arrays (NumPy broadcasting and
    semantics: 1/0 is inf, log(-1) is NaN, without warnings).

    Parameters
    ----------
    expr : Expr or sequence of Expr
        The expression (a list or tuple of them gives a list).
    values : Mapping, optional
        Symbol (or name) to value.
    **kwargs : Any
        More values, by symbol name.

    Returns
    -------
    Any
        The value (a NumPy number or array).

    Raises
    ------
    ValueError
        If a symbol of the expression has no value.

    Examples
    --------
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> x, y = cr.symbolic.symbols("x y")
    >>> print(cr.symbolic.evaluate(cnp.sin(x) * y, {x: 0.0}, y=2.0))
    0.0
    """
    e = as_expr(expr, "evaluate")
    order = topo_order([e])
    env = _bindings([n for n in order if isinstance(n, Symbol)], values, kwargs)
    with np.errstate(all="ignore"):  # both branches of a where run: NaN/inf stay quiet
        return _run(order, env)[id(e)]


def _run(order: list[Expr], env: dict[int, Any]) -> dict[int, Any]:
    for n in order:
        if isinstance(n, Const):
            env[id(n)] = np.float64(n.value) if not isinstance(n.value, bool) else n.value
        elif n.prim is not None:
            env[id(n)] = n.prim.impl(*[env[id(a)] for a in n.args], **n.params)
    return env


def fold(e: Expr) -> Any:
    """The value of a constant expression (no symbols), NumPy warnings silenced."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _run(topo_order([e]), {})[id(e)]


# ---------------------------------------------------------------------------------------------
# code generation

_NP_NAMES = {"select": "where", "abs": "abs", "neg": "negative"}


def _code_const(v: Any) -> Part:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v)), ATOM
    v = float(v)
    if math.isnan(v):
        return "np.nan", ATOM
    if math.isinf(v):
        return ("np.inf", ATOM) if v > 0 else ("-np.inf", NEG)
    text = str(int(v)) if v.is_integer() and abs(v) < 1e16 else repr(v)
    return text, (NEG if v < 0 else ATOM)


class CodePrinter(Printer):
    """NumPy source: operators for arithmetic, `np.<name>` for functions, and a namespace entry
    for primitives NumPy has no function for (their implementation, parameters bound)."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {"np": np}
        self._impls: dict[Any, str] = {}

    def const(self, node: Const) -> Part:
        return _code_const(node.value)

    def call(self, node: Expr, parts: list[Part]) -> Part:
        name = node.name
        args = ", ".join(t for t, _ in parts)
        np_name = _NP_NAMES.get(name, FUNC_NAMES.get(name, name))
        if not node.params and isinstance(getattr(np, np_name, None), np.ufunc) \
                or name == "select":
            return f"np.{np_name}({args})", ATOM
        key = (name, tuple(sorted((k, repr(v)) for k, v in node.params.items())))
        fn = self._impls.get(key)
        if fn is None:
            fn = self._impls[key] = f"_impl_{name}_{len(self._impls)}"
            impl = node.prim.impl if node.prim is not None else None
            self.namespace[fn] = (functools.partial(impl, **node.params)
                                  if node.params else impl)
        return f"{fn}({args})", ATOM

    def node(self, node: Expr, parts: list[Part]) -> Part:
        if is_custom_call(node):  # its value: the rule only matters to derivatives
            return parts[0]
        if node.name == "power" and not (isinstance(node.args[1], Const)
                                         and float(node.args[1].value).is_integer()):
            # np.power: a Python float base with a fractional exponent would turn complex
            return f"np.power({parts[0][0]}, {parts[1][0]})", ATOM
        return super().node(node, parts)


#: expressions nested deeper than this inline get a temporary (Python's parser has limits)
_MAX_INLINE_DEPTH = 24


class Lambdified:
    """A compiled expression: call it with values for its arguments. `.source` is the code.

    Made by `lambdify`. Calling it with the wrong number of arguments raises `TypeError`.

    Parameters
    ----------
    fn : callable
        The generated function.
    source : str
        Its source code.
    args : tuple of Symbol
        Its arguments.
    outputs : Any
        The expression(s) it computes.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.symbolic.symbols("x")
    >>> f = cr.symbolic.lambdify(x, x ** 2 + 1.0)
    >>> print(f, f(3.0))
    <lambdified (x)> 10.0
    """

    def __init__(self, fn: Callable[..., Any], source: str, args: tuple[Symbol, ...],
                 outputs: Any) -> None:
        self._fn = fn
        self.source = source
        self.args = args
        self.outputs = outputs
        functools.update_wrapper(self, fn)

    def __call__(self, *values: Any) -> Any:
        if len(values) != len(self.args):
            raise TypeError(f"this lambdified function takes {len(self.args)} argument(s) "
                            f"({', '.join(s.name for s in self.args)}), got {len(values)}")
        with np.errstate(all="ignore"):
            return self._fn(*values)

    def __repr__(self) -> str:
        return f"<lambdified ({', '.join(s.name for s in self.args)})>"


def lambdify(args: Symbol | Sequence[Symbol], expr: Any, name: str = "f") -> Lambdified:
    """Compile expressions into a NumPy function.

    A Python function of `args` computing `expr` (one expression, or a sequence of them: then
    a tuple is returned) with NumPy. Common subexpressions are computed once; see `.source`.

    Parameters
    ----------
    args : Symbol or sequence of Symbol
        The function's arguments, in order.
    expr : Expr or sequence of Expr
        What it computes.
    name : str, optional
        The generated function's name.

    Returns
    -------
    Lambdified
        The compiled function.

    Raises
    ------
    TypeError
        If an argument is not a symbol.
    ValueError
        If a symbol repeats or is reserved, `name` is not an identifier, or the expression uses a
        symbol not among `args`.

    Examples
    --------
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> x, y = cr.symbolic.symbols("x y")
    >>> f = cr.symbolic.lambdify([x, y], cnp.sin(x) * y)
    >>> print(f(0.0, 3.0))
    0.0
    >>> print(f.source)
    def f(x, y):
        x = _input(x)
        y = _input(y)
        return np.sin(x)*y
    """
    arg_list = (args,) if isinstance(args, Symbol) else tuple(args)
    for a in arg_list:
        if not isinstance(a, Symbol):
            raise TypeError(f"lambdify: the arguments must be symbols, got "
                            f"{type(a).__name__} ({a!r})")
    for a in arg_list:
        if a.name in ("np", "_input") or re.fullmatch(r"_t\d+|_impl_\w+", a.name):
            raise ValueError(f"lambdify: the symbol name {a.name!r} is reserved in the "
                             f"generated code; rename the symbol")
    if len({id(a) for a in arg_list}) != len(arg_list):
        raise ValueError("lambdify: a symbol appears twice among the arguments")
    if not name.isidentifier():
        raise ValueError(f"lambdify: name={name!r} is not a Python identifier")
    many = isinstance(expr, (list, tuple))
    outs = [as_expr(e, "lambdify") for e in (expr if many else [expr])]
    order = topo_order(outs)
    known = {id(a) for a in arg_list}
    missing = sorted({n.name for n in order if isinstance(n, Symbol) and id(n) not in known})
    if missing:
        raise ValueError(f"lambdify: the expression uses symbol(s) {', '.join(missing)} that are "
                         f"not among the arguments; add them to the argument list")

    # which nodes depend on an argument (the rest are folded to constants)
    live: set[int] = set(known)
    for n in order:
        if any(id(a) in live for a in n.args):
            live.add(id(n))
    uses: dict[int, int] = {}
    for n in order:
        if id(n) in live:
            for a in n.args:
                uses[id(a)] = uses.get(id(a), 0) + 1
    for o in outs:
        uses[id(o)] = uses.get(id(o), 0) + 1

    printer = CodePrinter()
    lines: list[str] = []
    temps = itertools.count()
    done: dict[int, Part] = {}
    depth: dict[int, int] = {}
    for n in order:
        if isinstance(n, Symbol):
            done[id(n)] = (n.name, ATOM)
            depth[id(n)] = 0
            continue
        if id(n) not in live:
            value = fold(n) if n.args else (n.value if isinstance(n, Const) else None)
            done[id(n)] = _code_const(value) if np.ndim(value) == 0 and not isinstance(
                value, complex) else printer.node(n, [done[id(a)] for a in n.args])
            depth[id(n)] = 0
            continue
        part = printer.node(n, [done[id(a)] for a in n.args])
        d = 1 + max((depth[id(a)] for a in n.args), default=0)
        if uses.get(id(n), 0) > 1 or d > _MAX_INLINE_DEPTH:
            t = f"_t{next(temps)}"
            lines.append(f"    {t} = {part[0]}")
            part, d = (t, ATOM), 0
        done[id(n)] = part
        depth[id(n)] = d
    results = [done[id(o)][0] for o in outs]
    params = ", ".join(a.name for a in arg_list)
    head = [f"def {name}({params}):"]
    head += [f"    {a.name} = _input({a.name})" for a in arg_list]
    ret = ", ".join(results) + ("," if many and len(results) == 1 else "")
    source = "\n".join(head + lines + [f"    return {ret}"])
    namespace = dict(printer.namespace)
    namespace["_input"] = _value
    code = compile(source + "\n", f"<lambdify {name}>", "exec")
    exec(code, namespace)  # noqa: S102 - our own generated code, from the expression's nodes
    fn = namespace[name]
    fn.__source__ = source
    return Lambdified(fn, source, arg_list, tuple(outs) if many else outs[0])
