"""Symbolic expressions: immutable, hash-consed DAG nodes that are tracers of the symbolic
interpreter.

An expression is a `Tracer` whose trace is `SYMBOLIC`, an interpreter that builds a node instead
of computing: so `x * y`, `cnp.sin(x)` and plain `np.exp(x)` build expressions through the same
`bind` every other interpreter sees, and this module has no per-function code.

Nodes are interned: building the same (primitive, operands, parameters) twice returns the very
same object, so a shared subexpression is one node and identity (`is`) is structural equality.
Leaves are `Symbol`s (interned by name) and `Const`s (interned by value).

The symbolic interpreter lives at level -1, below every transform (they open levels >= 1, the eager
Tensor sits at 0): a dual number or a tape can therefore carry symbolic values, and the rules they
run build expressions.

This module is the bottom of the symbolic package and imports none of its other modules: it holds
the nodes and the walks over them. What the interpreter does with a primitive (`arrays.process`)
and the methods of `Expr` that the higher modules implement (`diff`, `simplify`, `evaluate`,
`to_latex`, `str`, NumPy's ufunc protocol) are installed by the package when it is imported
(`symbolic/__init__.py`), so that no module of the package imports a higher one.
"""
from __future__ import annotations

import hashlib
import keyword
import math
import os
import threading
import traceback
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from .. import numpy as cnp
from .._core.errors import NUMPY_DIR, ConcretizationError, InPlaceError, in_library, where
from .._core.primitive import Primitive, Trace, Tracer
from ..numpy._methods import ufunc_target


class SymbolicError(ConcretizationError):
    """Symbolic differentiation cannot express what the function does.

    Python control flow (`if`, `while`, `bool()`, `float()`) met a symbolic value (a symbol has no
    number, and the function must be one closed-form expression), or an operation has no closed
    form on symbols. A subclass of `chainrule.ConcretizationError`; the message names the user's
    line and what to write instead (`cnp.where` for a choice).

    Examples
    --------
    >>> import chainrule as cr
    >>> try:
    ...     cr.symbolic.from_function(lambda x: x if x > 0 else -x)
    ... except cr.symbolic.SymbolicError:
    ...     print("use cnp.where")
    use cnp.where
    """


def _user_frames() -> tuple[Any, Any]:
    """The innermost stack frame outside chainrule and NumPy (the user's code), and the frame
    it called (None if that one is the user's too)."""
    stack = traceback.extract_stack()
    for k in range(len(stack) - 1, -1, -1):
        if not in_library(stack[k].filename):
            return stack[k], (stack[k + 1] if k + 1 < len(stack) else None)
    return None, None


def _user_line() -> str:
    """The innermost source line outside chainrule and NumPy (where the user's code needed a
    value)."""
    return _line(_user_frames()[0])


def _line(frame: Any) -> str:
    if frame is None:
        return "<unknown>"
    return where(frame.filename, frame.lineno, frame.line or "")


def _no_value(what: str) -> SymbolicError:
    what = what.replace("traced value", "symbolic value")
    user, callee = _user_frames()
    inside = ""
    if callee is not None and os.path.abspath(callee.filename).startswith(NUMPY_DIR):
        inside = f" (inside NumPy's `{callee.name}`, which compares or converts elements)"
    return SymbolicError(
        f"{what} at {_line(user)}{inside}: a symbolic value has no number, and symbolic "
        f"differentiation needs the function in closed form (straight-line code). Write the "
        f"choice as cnp.where(cond, a, b) (or cr.cond, which becomes a where on symbols), keep "
        f"loops to a fixed number of iterations, or use method='overload', which follows Python "
        f"control flow as it runs")


# ---------------------------------------------------------------------------------------------
# the interpreter

class SymbolicTrace(Trace):
    """Builds expression nodes. One instance, always active, at level -1."""

    __slots__ = ()

    def process(self, prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
        return _process(prim, args, params)


def _not_installed(prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
    raise RuntimeError("the symbolic interpreter has no dispatcher: import chainrule.symbolic "
                       "(its __init__ installs arrays.process)")


#: what the interpreter does with one primitive: `arrays.process` (scalar nodes, arrays of
#: expressions, custom rules, closed forms), installed by the package's __init__
_process: Callable[[Primitive, tuple[Any, ...], dict[str, Any]], Any] = _not_installed


def install_process(fn: Callable[[Primitive, tuple[Any, ...], dict[str, Any]], Any]) -> None:
    """Make `fn` what the symbolic interpreter does with each primitive."""
    global _process
    _process = fn


SYMBOLIC = SymbolicTrace(-1)


def object_scalar(x: Any) -> np.ndarray:
    """A 0-d array of expressions holding `x` (NumPy must not try to convert an expression)."""
    a = np.empty((), dtype=object)
    a[()] = x
    return a.view(SymbolArray)


def _plain(a: Any) -> Any:
    if isinstance(a, SymbolArray):
        return a.view(np.ndarray)
    if isinstance(a, Expr):
        return object_scalar(a).view(np.ndarray)
    if isinstance(a, (list, tuple)):
        return type(a)(_plain(x) for x in a)
    return a


def _wrap(r: Any) -> Any:
    if isinstance(r, tuple):
        return tuple(_wrap(x) for x in r)
    if isinstance(r, np.ndarray) and r.dtype == object:
        return r[()] if r.ndim == 0 else r.view(SymbolArray)
    return r


def _elementwise(ufunc: Any) -> Any:
    return None if ufunc.__name__ == "matmul" else ufunc_target(ufunc)


def _reduce(u: Any, arr: np.ndarray, axis: Any, keepdims: bool) -> Any:
    """`u.reduce` over several axes, one at a time (a Python-function ufunc takes one)."""
    axes = range(arr.ndim) if axis is None else (axis,) if isinstance(axis, int) else axis
    for a in sorted((int(a) % max(arr.ndim, 1) for a in axes), reverse=True):
        arr = u.reduce(arr, axis=a, keepdims=keepdims)
    return arr


class SymbolArray(np.ndarray):
    """A NumPy object array of expressions (and numbers) whose NumPy functions act elementwise
    through chainrule's functions: `np.maximum`, comparisons and `np.where` build nodes per
    element instead of asking an expression for its truth (which has none). The symbolic
    transforms pass arrays of symbols to functions as these; `symbol_array` makes one.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> w = cr.symbolic.symbol_array("w", 2)
    >>> print(np.maximum(w, 0.0))
    [maximum(w_0, 0) maximum(w_1, 0)]
    """

    def __array_ufunc__(self, ufunc: Any, ufunc_method: str, *inputs: Any, **kwargs: Any) -> Any:
        out = kwargs.pop("out", None)
        if out is not None:
            # `v += w` on arrays of expressions: computed, then written into v if it can hold
            # expressions (as NumPy would)
            target = out[0] if isinstance(out, tuple) else out
            if not (isinstance(target, np.ndarray) and target.dtype == object):
                raise InPlaceError(f"numpy.{ufunc.__name__}(..., out=...) would store symbolic "
                                   f"values in a NumPy {target.dtype} array; use the returned "
                                   f"value")
            target[...] = _plain(self.__array_ufunc__(ufunc, ufunc_method, *inputs, **kwargs))
            return target
        plain = [_plain(a) for a in inputs]
        fn = _elementwise(ufunc)
        if fn is not None and ufunc_method == "__call__" and not kwargs:
            return _wrap(np.frompyfunc(fn, ufunc.nin, 1)(*plain))
        if fn is not None and ufunc_method == "reduce" and ufunc.nin == 2 and len(plain) == 1 \
                and set(kwargs) <= {"axis", "keepdims"}:
            return _wrap(_reduce(np.frompyfunc(fn, 2, 1), plain[0], kwargs.get("axis", 0),
                                 bool(kwargs.get("keepdims", False))))
        return _wrap(getattr(ufunc, ufunc_method)(*plain, **kwargs))

    def astype(self, dtype: Any, *args: Any, **kwargs: Any) -> Any:
        """A cast to a real floating dtype (the last step of primitives such as `sigmoid`)
        keeps the expressions, which are real numbers without a value; NumPy's own cast would
        ask each of them for a float."""
        if np.dtype(dtype).kind == "f" and any(isinstance(v, Expr) for v in self.flat):
            return self.copy() if kwargs.get("copy", True) else self
        return super().astype(dtype, *args, **kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if func is np.where and len(args) == 3 and not kwargs:
            return _wrap(np.frompyfunc(cnp.where, 3, 1)(*_plain(tuple(args))))
        return _wrap(func(*_plain(tuple(args)), **{k: _plain(v) for k, v in kwargs.items()}))


def symbol_array(name: str, shape: int | tuple[int, ...]) -> SymbolArray:
    """An array of symbols `name_0, name_1, ...` (`name_0_1` in 2-D) of the given shape.

    Parameters
    ----------
    name : str
        The stem of the symbols' names (a Python identifier).
    shape : int or tuple of int
        The shape.

    Returns
    -------
    SymbolArray
        The array of symbols.

    Examples
    --------
    >>> import chainrule as cr
    >>> print(cr.symbolic.symbol_array("w", (2, 2)))
    [[w_0_0 w_0_1]
     [w_1_0 w_1_1]]
    """
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    arr = np.empty(shape, dtype=object)
    for idx in np.ndindex(*shape):
        arr[idx] = Symbol(name + "".join(f"_{j}" for j in idx))
    return arr.view(SymbolArray)


# ---------------------------------------------------------------------------------------------
# nodes

_TABLE: weakref.WeakValueDictionary[Any, Expr] = weakref.WeakValueDictionary()
_LOCK = threading.Lock()


def _freeze(v: Any) -> Any:
    """A hashable stand-in for a parameter value (for the interning key)."""
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    if isinstance(v, (list, tuple)):
        return (type(v).__name__,) + tuple(_freeze(x) for x in v)
    try:
        hash(v)
    except TypeError:
        return repr(v)
    return (type(v).__name__, v)


class NoNumber(Tracer):
    """A symbolic value (an expression, an array of them): it has no number, so every
    conversion to one is refused with SymbolicError naming the user's line."""

    __slots__ = ()

    def _refuse(self, what: str) -> None:
        raise _no_value(what)

    def __float__(self) -> float:
        raise _no_value("float() of a symbolic value")

    def __int__(self) -> int:
        raise _no_value("int() of a symbolic value")

    def __index__(self) -> int:
        raise _no_value("using a symbolic value as an index")

    def __complex__(self) -> complex:
        raise _no_value("complex() of a symbolic value")


class Expr(NoNumber):
    """A symbolic expression (a node of an interned DAG).

    Build them with `symbols`, Python operators and the `cnp` functions; never with the
    constructor. Building the same operation on the same operands twice gives the very same node.
    An expression has no number: converting it to one (`float`, `bool`, `if`) raises
    `SymbolicError`; `==` builds an `equal` node (use `equals` for structural equality).

    Examples
    --------
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> x, y = cr.symbolic.symbols("x y")
    >>> f = cnp.sin(x) * y
    >>> print(f, f.free_symbols(), f.tree_size())
    sin(x)*y (x, y) 4
    >>> print(f.subs({"y": 2.0}), f.equals(cnp.sin(x) * y))
    sin(x)*2 True
    """

    __slots__ = ("prim", "args", "params", "_dtype", "_cache", "__weakref__")
    prim: Primitive | None
    args: tuple[Expr, ...]
    params: dict[str, Any]

    def _init(self, prim: Primitive | None, args: tuple[Expr, ...], params: dict[str, Any],
              dtype: np.dtype) -> None:
        self._trace = SYMBOLIC
        self.prim = prim
        self.args = args
        self.params = params
        self._dtype = dtype
        self._cache: dict[str, Any] = {}

    # -- array protocol -------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return ()

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def ndim(self) -> int:
        return 0

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        # as an element of an object array (np.array([x, y], dtype=object)) an expression is
        # welcome; as a number it is not
        if dtype is None or np.dtype(dtype) == np.dtype(object):
            return object_scalar(self)
        raise _no_value(f"converting a symbolic value to a NumPy {np.dtype(dtype)} array")

    def __len__(self) -> int:
        raise TypeError("len() of a symbolic scalar")

    def __iter__(self) -> Iterator[Any]:
        raise TypeError("a symbolic scalar is not iterable")

    # -- structure ------------------------------------------------------------------------
    @property
    def is_symbol(self) -> bool:
        return False

    @property
    def is_const(self) -> bool:
        return False

    @property
    def name(self) -> str:
        """The primitive's name ('sin', 'add'), or the symbol's name for a symbol."""
        return self.prim.name if self.prim is not None else ""

    def equals(self, other: Any) -> bool:
        """Structural equality, which for interned nodes is identity (`==` builds an `equal`
        node, as on any array).

        Parameters
        ----------
        other : Any
            Another expression or a number.

        Returns
        -------
        bool
            Whether the two are the same expression.
        """
        return self is as_expr(other) if isinstance(other, (Expr, int, float)) else False

    def free_symbols(self) -> tuple[Symbol, ...]:
        """The symbols the expression depends on, sorted by name.

        Returns
        -------
        tuple of Symbol
            The symbols.
        """
        found = {id(n): n for n in topo_order([self]) if isinstance(n, Symbol)}
        return tuple(sorted(found.values(), key=lambda s: s.name))

    def tree_size(self) -> int:
        """The number of nodes as the expression prints, i.e. unfolded into a tree: a shared
        subexpression counts once per use (this is what grows in expression swell).

        Returns
        -------
        int
            The count.
        """
        return tree_size(self)

    def dag_size(self) -> int:
        """The number of distinct nodes (a shared subexpression counts once).

        Returns
        -------
        int
            The count.
        """
        return len(topo_order([self]))

    def subs(self, mapping: Mapping[Any, Any]) -> Expr:
        """The expression with symbols (or names) replaced by expressions or numbers.

        Parameters
        ----------
        mapping : Mapping
            Symbol (or its name) to expression or number.

        Returns
        -------
        Expr
            The new expression.
        """
        return substitute(self, mapping)

    # Installed by the package (symbolic/__init__.py) from the modules that implement them:
    # `evaluate(values=None, /, **kwargs)` (lambdify.py), `diff(x, n=1)` (diff.py),
    # `simplify()` (simplify.py), `to_latex()` and `__str__` (printing.py), `__array_ufunc__`
    # (arrays.py).
    evaluate: Callable[..., Any]
    diff: Callable[..., Expr]
    simplify: Callable[[], Expr]
    to_latex: Callable[[], str]

    def __str__(self) -> str:  # replaced by printing.to_str when the package is imported
        return f"<symbolic expression: {self.name} node>"

    def __repr__(self) -> str:
        text = str(self) if self.tree_size() <= 400 else None
        if text is None or len(text) > 2000:
            return (f"<symbolic expression: {self.name} node, tree size {self.tree_size()}, "
                    f"dag size {self.dag_size()}>")
        return text

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __reduce__(self) -> Any:
        raise TypeError("symbolic expressions are not picklable; keep str(expr) or rebuild it")

    def __copy__(self) -> Expr:
        return self

    def __deepcopy__(self, memo: Any) -> Expr:
        return self

    def __pos__(self) -> Expr:
        return self

    def item(self) -> Expr:
        """The expression itself (a symbolic scalar's only "Python value")."""
        return self

    # NumPy's object-array loops call a method named after the ufunc on each element: these
    # make np.sin(array_of_expressions) work (elementwise, through the primitives)
    def _call(self, name: str, *others: Any) -> Any:
        return getattr(cnp, name)(self, *others)


def _install_ufunc_methods() -> None:
    unary = """exp exp2 expm1 log log2 log10 log1p sqrt cbrt square reciprocal sin cos tan arcsin
    arccos arctan sinh cosh tanh arcsinh arccosh arctanh absolute fabs sign floor ceil trunc rint
    negative positive deg2rad rad2deg isfinite isnan isinf logical_not""".split()
    binary = "arctan2 hypot logaddexp logaddexp2 float_power fmax fmin logical_and logical_or"
    for n in unary:
        def m(self: Expr, _n: str = n) -> Any:
            return self._call(_n)
        m.__name__ = n
        setattr(Expr, n, m)
    for n in binary.split():
        def m2(self: Expr, other: Any, _n: str = n) -> Any:
            return self._call(_n, other)
        m2.__name__ = n
        setattr(Expr, n, m2)


_install_ufunc_methods()


class Apply(Expr):
    """A primitive applied to operand nodes."""

    __slots__ = ()

    @staticmethod
    def make(prim: Primitive, args: tuple[Expr, ...], params: dict[str, Any],
             dtype: np.dtype) -> Expr:
        key = (prim.name, tuple(id(a) for a in args), _freeze(params) if params else ())
        with _LOCK:
            node = _TABLE.get(key)
            if node is None:
                node = Apply.__new__(Apply)
                node._init(prim, args, dict(params), dtype)
                _TABLE[key] = node
        return node


class Symbol(Expr):
    """A named variable. `Symbol("x") is Symbol("x")` (interned by name).

    `Symbol(name)` takes a Python identifier (not a keyword): `lambdify` uses it as an argument
    name. `symbols` makes several at once.

    Raises
    ------
    ValueError
        If the name is not an identifier.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.symbolic.Symbol("x")
    >>> print(x is cr.symbolic.symbols("x"), x.name, x.is_symbol)
    True x True
    """

    __slots__ = ("_name",)

    def __new__(cls, name: str) -> Symbol:
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise ValueError(f"symbol name {name!r} is not a Python identifier; use names like "
                             f"'x', 'x1' or 'theta' (lambdify uses them as argument names)")
        key = ("symbol", name)
        with _LOCK:
            node = _TABLE.get(key)
            if node is None:
                node = object.__new__(cls)
                node._init(None, (), {}, np.dtype("float64"))
                node._name = name
                _TABLE[key] = node
        return node  # type: ignore[return-value]

    @property
    def name(self) -> str:
        return self._name

    @property
    def is_symbol(self) -> bool:
        return True


class Const(Expr):
    """A number (a float, or a bool from a comparison). Interned by value.

    Numbers met while building expressions become constants by themselves; the constructor,
    `Const(value)` with a float or a bool, is rarely needed.

    Examples
    --------
    >>> import chainrule as cr
    >>> c = cr.symbolic.Const(2.0)
    >>> print(c, c.is_const, c is cr.symbolic.Const(2.0))
    2 True True
    """

    __slots__ = ("value",)

    def __new__(cls, value: Any) -> Const:
        if isinstance(value, (bool, np.bool_)):
            v: Any = bool(value)
            key: Any = ("const", "bool", v)
        else:
            v = float(value)
            if v == 0.0:
                v = 0.0  # -0.0 and 0.0 are one constant (they compare equal everywhere we fold)
            key = ("const", "float", v.hex())
        with _LOCK:
            node = _TABLE.get(key)
            if node is None:
                node = object.__new__(cls)
                node._init(None, (), {}, np.dtype(bool) if isinstance(v, bool) else
                           np.dtype("float64"))
                node.value = v
                _TABLE[key] = node
        return node  # type: ignore[return-value]

    @property
    def name(self) -> str:
        return "const"

    @property
    def is_const(self) -> bool:
        return True


def as_expr(v: Any, where: str = "a symbolic expression") -> Expr:
    """`v` as an expression: expressions stay, numbers become constants."""
    if isinstance(v, Expr):
        return v
    if isinstance(v, (bool, np.bool_)):
        return Const(bool(v))
    if isinstance(v, (int, float, np.integer, np.floating)):
        return Const(v)
    if isinstance(v, np.ndarray) and v.ndim == 0:
        return as_expr(v[()], where)
    if isinstance(v, (complex, np.complexfloating)):
        raise TypeError(f"{where}: complex number {v!r} in a symbolic expression; symbolic "
                        f"expressions are real-valued")
    if isinstance(v, Tracer):
        raise TypeError(f"{where}: a value traced by another transform "
                        f"({type(v).__name__}) met a symbolic expression; run the transform on "
                        f"the symbolic values instead (e.g. cr.grad(f)(x) with x a symbol)")
    raise TypeError(f"{where}: cannot use a {type(v).__name__} in a symbolic expression; "
                    f"pass a number, a symbol or an expression")


def symbols(names: str | Iterable[str]) -> Any:
    """Make symbols: `symbols("x y")` -> `(x, y)`; `symbols("x")` -> `x`.

    Names are separated by spaces or commas and must be Python identifiers.

    Parameters
    ----------
    names : str or iterable of str
        The names.

    Returns
    -------
    Symbol or tuple of Symbol
        One symbol for one name, else a tuple.

    Raises
    ------
    ValueError
        If no name is given or a name is not an identifier.

    Examples
    --------
    >>> import chainrule as cr
    >>> x, y = cr.symbolic.symbols("x, y")
    >>> print(x * y + 1.0)
    x*y + 1
    """
    if isinstance(names, str):
        parts = [p for p in names.replace(",", " ").split() if p]
        if not parts:
            raise ValueError("symbols: no names given; write symbols('x y')")
        if len(parts) == 1:
            return Symbol(parts[0])
        return tuple(Symbol(p) for p in parts)
    return tuple(Symbol(p) for p in names)


# ---------------------------------------------------------------------------------------------
# walking the DAG (iteratively: expressions can be deeper than Python's recursion limit)

def topo_order(roots: Iterable[Any],
               children: Callable[[Expr], tuple[Expr, ...]] | None = None) -> list[Expr]:
    """Every node reachable from `roots`, each once, operands before their users (the operands
    `children(node)` gives, all of them by default)."""
    order: list[Expr] = []
    seen: set[int] = set()
    for root in roots:
        if not isinstance(root, Expr) or id(root) in seen:
            continue
        stack: list[tuple[Expr, int]] = [(root, 0)]
        seen.add(id(root))
        while stack:
            node, i = stack[-1]
            args = node.args if children is None else children(node)
            if i < len(args):
                stack[-1] = (node, i + 1)
                child = args[i]
                if id(child) not in seen:
                    seen.add(id(child))
                    stack.append((child, 0))
            else:
                stack.pop()
                order.append(node)
    return order


def tree_size(expr: Expr) -> int:
    got = expr._cache.get("tree_size")
    if got is not None:
        return got  # type: ignore[no-any-return]
    for node in topo_order([expr]):
        if "tree_size" not in node._cache:
            node._cache["tree_size"] = 1 + sum(a._cache["tree_size"] for a in node.args)
    return expr._cache["tree_size"]  # type: ignore[no-any-return]


def struct_hash(expr: Expr) -> int:
    """A structural hash that is the same in every process (Python's str hash is salted), used
    to order terms deterministically."""
    for node in topo_order([expr]):
        if "hash" in node._cache:
            continue
        if isinstance(node, Symbol):
            text = "s:" + node.name
        elif isinstance(node, Const):
            text = "c:" + repr(node.value)
        else:
            text = node.name + "(" + ",".join(str(a._cache["hash"]) for a in node.args) + ")"
            if node.params:
                text += repr(sorted(node.params.items()))
        node._cache["hash"] = int.from_bytes(
            hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
    return expr._cache["hash"]  # type: ignore[no-any-return]


def rebuild(node: Expr, args: tuple[Any, ...]) -> Expr:
    """`node`'s primitive applied to new operands (through `bind`, so it interns)."""
    if all(a is b for a, b in zip(args, node.args)):
        return node
    if node.prim is None:  # a leaf has no operands to replace
        return node
    out = node.prim.bind(*args, **node.params)
    return as_expr(out, node.prim.name)


def substitute(expr: Any, mapping: Mapping[Any, Any]) -> Expr:
    """Replace symbols (given as symbols or names) by expressions or numbers."""
    repl: dict[int, Expr] = {}
    for k, v in mapping.items():
        sym = Symbol(k) if isinstance(k, str) else k
        if not isinstance(sym, Symbol):
            raise TypeError(f"subs: keys must be symbols or names, got {type(k).__name__}")
        repl[id(sym)] = as_expr(v, "subs")
    done: dict[int, Expr] = {}
    for node in topo_order([as_expr(expr)]):
        if id(node) in repl:
            done[id(node)] = repl[id(node)]
        elif node.args:
            done[id(node)] = rebuild(node, tuple(done[id(a)] for a in node.args))
        else:
            done[id(node)] = node
    return done[id(as_expr(expr))]


def is_number(e: Any) -> bool:
    return isinstance(e, Const) and not isinstance(e.value, bool) and math.isfinite(e.value)
