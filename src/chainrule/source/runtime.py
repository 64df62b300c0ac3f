"""What generated derivative code calls: the rule table, reached from the functions the user
wrote (operators, `np.`/`cnp.`/`math.` functions), and a few helpers for containers.

`pullback(fn, i, ct, ans, *args, **kw)` is the cotangent of argument `i` of `ans = fn(*args)`:
for a function that binds one primitive (an operator, `np.sin`, `cnp.exp`, ...) it is that
primitive's VJP rule from the table; for anything else built from primitives (`cnp.mean`,
`np.linalg.solve`, a `custom_vjp` function, `cr.fori_loop`) it is the rule table again, reached
through a tape recorded for this one call. `pushforward` is the forward-mode counterpart.
"""
from __future__ import annotations

import collections
import functools
import inspect
import linecache
import math
import operator
import sys
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import numpy as cnp
from .._core import checks, tree
from .._core.cache import BoundedCache
from .._core.primitive import (
    Primitive,
    Tracer,
    ndim_of,
    open_trace,
    other_array,
    shape_of,
    zeros_like,
)
from .._core.rules import STRONG_ZEROS, Zero, is_zero, reverse_rule
from ..numpy._operands import operand as _operand
from ..ops import elementwise as E
from ..ops import index as I
from ..ops import linalg as L
from ..ops import reduce as R
from ..ops.reduce import cotangent_like as _cotangent_like
from ..ops.reduce import normalize_axis
from ..overload import transforms as overload
from ..overload.tape import TapeTrace, TapeTracer, backward
from . import kernels
from .parse import TransformError

_REAL_SCALARS = (float, np.float64, np.float32)
_ARRAYS = (np.ndarray, np.float64)

# callables that bind exactly one primitive to their positional arguments (no parameters)
_PRIMITIVE_OF: dict[Any, Primitive] = {
    operator.add: E.add_p, operator.sub: E.sub_p, operator.mul: E.mul_p,
    operator.truediv: E.div_p, operator.neg: E.neg_p, operator.pow: E.power_p,
    operator.matmul: L.matmul_p,
}


def _arity(p: Primitive) -> int | None:
    return getattr(p.abstract_eval, "arity", None)


def _required_positional(fn: Any) -> int | None:
    try:
        ps = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # (a builtin without a signature)
        return None
    return sum(1 for q in ps if q.default is q.empty
               and q.kind in (q.POSITIONAL_ONLY, q.POSITIONAL_OR_KEYWORD))


def _register_binders() -> None:
    """The functions that bind one elementwise primitive to their arguments: chainrule.numpy's
    and NumPy's ufunc of the primitive's name, and `math`'s. A name alone does not make one
    (np.select(condlist, choicelist) is not the select primitive): the number of arguments
    must be the primitive's, here and at each call (`primitive_of`)."""
    for name in dir(E):
        p = getattr(E, name)
        if not isinstance(p, Primitive) or p.multiple_results or _arity(p) is None:
            continue
        fn = getattr(cnp, p.name, None)
        if fn is not None and getattr(fn, "__name__", None) == p.name \
                and _required_positional(fn) == _arity(p):
            _PRIMITIVE_OF.setdefault(fn, p)
        fn = getattr(np, p.name, None)
        # (NumPy's ufunc of the same name dispatches to the same primitive on traced values)
        if isinstance(fn, np.ufunc) and fn.__name__ == p.name and fn.nin == _arity(p):
            _PRIMITIVE_OF.setdefault(fn, p)
        if hasattr(math, p.name):
            _PRIMITIVE_OF.setdefault(getattr(math, p.name), p)


def primitive_of(fn: Any, nargs: int | None = None) -> Primitive | None:
    """The elementwise primitive `fn(*args)` binds, when called with `nargs` arguments."""
    if len(_PRIMITIVE_OF) < 10:
        _register_binders()
    try:
        p = _PRIMITIVE_OF.get(fn)
    except TypeError:  # unhashable callables
        return None
    if p is not None and nargs is not None and nargs != _arity(p):
        return None  # (math.log(x, 10), np.round(x, 2): not the primitive's call)
    return p


# (callable, argument) -> its VJP as `rule(ct, ans, *args)`, or None: looked up once (bounded:
# the callables include the user's closures)
_RULES = BoundedCache(4096)
_NO_RULE = object()


def grad_seed(out: Any, name: str) -> Any:
    """The cotangent a generated gradient starts from: ones like its output, once the output
    passed grad's checks (`checks.grad_seed`, the same as every method's)."""
    return checks.grad_seed(out, name)


def view(d: dict[Any, Any], which: str) -> list[Any]:
    """`list(d.items())`, `list(d.keys())` or `list(d.values())`: a view, read once, as a list
    (a list is a value the interpreters can carry; a view object is not)."""
    return list(getattr(d, which)())


def _view_vjp(ct: Any, ans: Any, d: dict[Any, Any], which: str) -> Any:
    """The cotangent of the dict behind a view (keys carry none), entry by entry."""
    if which == "keys" or is_zero(ct):
        return 0.0
    parts = [c[1] if isinstance(c, (tuple, list)) else 0.0 for c in ct] \
        if which == "items" else list(ct)
    return {k: p for k, p in zip(d, parts)}


def _view_tangent(t: Any, d: dict[Any, Any], which: str) -> Any:
    if which == "keys" or not isinstance(t, dict):
        return 0.0
    if which == "items":
        return [(0.0, t.get(k, 0.0)) for k in d]
    return [t.get(k, 0.0) for k in d]


_CONTAINERS = (tuple, list, dict)


def _container(x: Any) -> bool:
    """Whether `x` is a pytree node, not a leaf: a tuple, list or dict, or an instance of a
    class registered with `cr.tree` (a dataclass, an `OptimizeResult`, a `cr.nn` Module).
    The one test of "a container" here: a registered node taken for an array would get a
    zero derivative."""
    return isinstance(x, _CONTAINERS) or tree.node_children(x) is not None


# ---------------------------------------------------------------------------------------------
# values out of the generated code's sight: what a function value closes over, what a plain
# object keeps in its attributes

_FUNCTIONS = (types.FunctionType, types.MethodType, functools.partial)
#: values that keep no others (an array is a leaf: a derivative flows to it as it is)
_KEEP_NOTHING = (str, bytes, int, float, complex, bool, type, types.ModuleType, range, slice,
                 np.dtype, np.generic, np.ndarray)
#: generated file name -> the file of the function it was generated from (see `user_line`)
ORIGINS: dict[str, str] = {}


def user_line(filename: str, lineno: int) -> tuple[str, int, str] | None:
    """The user's (file, line, code) that the statement at `lineno` of the generated file
    `filename` came from: each block of generated statements follows a `# line N: code`
    heading (`transform.Unit.comment`), N a line of the file `ORIGINS` names for it. None
    outside generated code."""
    if not filename.startswith("<chainrule.source"):
        return None
    lines = linecache.getlines(filename)
    for k in range(min(lineno, len(lines)) - 1, -1, -1):
        text = lines[k].strip()
        if text.startswith("# line "):
            number, _, code = text[len("# line "):].partition(": ")
            if not number.isdigit():
                return None
            origin = ORIGINS.get(filename, "?")
            # (code generated from generated code, as a Hessian's: the user's line behind it)
            return user_line(origin, int(number)) or (origin, int(number), code)
    return None


def _user_site() -> tuple[str, int] | None:
    """The user's (file, line) of the generated statement running now (the innermost one on
    the stack, a helper's generated code included), or None."""
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None:
        got = user_line(frame.f_code.co_filename, frame.f_lineno)
        if got is not None:
            return got[0], got[1]
        frame = frame.f_back
    return None


def holds_values(fn: Any) -> bool:
    """Whether the function value `fn` (a closure, a partial, a bound method) holds
    floating-point values (in its closure cells, defaults, bound arguments or object), which
    a derivative may flow through: `_find`'s search, an empty closure cell (assigned later, to
    what is not known yet) and a search that cannot tell counting as holding some."""
    if not isinstance(fn, _FUNCTIONS):
        return False
    return _find(fn, _holds_value) is not _NOT_FOUND


def _holds_value(x: Any, _: bool = False) -> bool:
    return x is _EMPTY_CELL or isinstance(x, Tracer) or tree.is_float_leaf(x)


class UnknownDerivative:
    """The adjoint or tangent of a value whose derivative cannot be followed from outside it:
    a function value that holds floating-point values (see `holds_values`), or a plain object
    -- an instance of a class that is not a registered pytree -- that keeps in its attributes
    values a derivative may flow through (see `_plain_object`).

    In reverse mode it flows on as an adjoint would -- through additions, products, indexing
    and NumPy's functions it stays itself, and a pullback of it is itself -- so that it reaches
    the adjoints of the values the function or object was made of. A caller that does not
    differentiate those drops it, rightly; so does the call that made a plain object when the
    object keeps nothing computed from an argument (`_pullback`: the argument's adjoint there
    is zero). A derivative that is asked for and holds it raises a TransformError (`finish`),
    as does any use of it as a number. In forward mode (a tangent) it raises where it is used.
    `where` is the user's (file, line) that made the value, `read` the one that read a plain
    object (an attribute, a method), when known."""

    __slots__ = ("value", "where", "read")

    def __init__(self, value: Any, where: tuple[str, int] | None = None,
                 read: tuple[str, int] | None = None) -> None:
        self.value = value
        self.where = where
        self.read = read

    def _same(self, *_: Any, **__: Any) -> UnknownDerivative:
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _same
    __truediv__ = __rtruediv__ = __matmul__ = __rmatmul__ = __pow__ = __rpow__ = _same
    __neg__ = __getitem__ = __array_ufunc__ = __array_function__ = _same

    def _refuse(self, *_: Any, **__: Any) -> Any:
        raise self.error()

    __array__ = __iter__ = __float__ = __bool__ = __len__ = _refuse

    def made_at(self, obj: Any, where: tuple[str, int] | None) -> UnknownDerivative:
        """This derivative, as that of the plain object `obj` made at the user's line `where`
        of the values it was read from (functions keep the line they were written at)."""
        if self.where is not None or where is None or isinstance(self.value, _FUNCTIONS):
            return self
        return UnknownDerivative(obj, where, self.read)

    def error(self, where: tuple[str, int] | None = None) -> TransformError:
        if not isinstance(self.value, _FUNCTIONS):
            return self._object_error(where)
        fn = self.value
        inner = fn.func if isinstance(fn, functools.partial) else \
            fn.__func__ if isinstance(fn, types.MethodType) else fn
        where = where or self.where
        if where is None:  # (the function's own code: the user's, or generated code)
            code = getattr(inner, "__code__", None)
            where = (code.co_filename, code.co_firstlineno) if code is not None else ("?", 0)
        name = getattr(inner, "__name__", type(inner).__name__)
        what = "a lambda" if name == "<lambda>" else name
        if isinstance(fn, functools.partial):
            what = f"functools.partial of {what}"
        elif isinstance(fn, types.MethodType):
            what = f"the bound method {what}"
        return TransformError(
            f"a function value ({what}) made from differentiated values and used as a value "
            f"(passed to a function, stored, returned)", where[0], where[1],
            "the derivative through the values it holds cannot be followed; write the lambda "
            "or functools.partial where it is used, or bind it to a local name; or pass those "
            "values as arguments instead; or use method='overload'")

    def _object_error(self, where: tuple[str, int] | None) -> TransformError:
        cls = type(self.value)
        name = cls.__qualname__
        made, read = where or self.where, self.read
        site = made or read or ("?", 0)
        what = f"a {name} object (its class is not a registered pytree) keeping " \
            f"differentiated values in its attributes"
        if read is not None and read != site:
            what += f", read at {read[0]}:{read[1]}" if read[0] != site[0] else \
                f", read at line {read[1]}"
        if (cls.__module__ or "").split(".")[0] == "chainrule":  # (not the user's to register)
            fix = "pass the arrays to the functions that use them instead (write cnp.at(x)[i]" \
                ".set(v) in one expression)"
        else:
            fix = f"register {name} as a pytree (@cr.tree.register_dataclass on a dataclass, " \
                f"or cr.tree.register({name}, flatten, unflatten)), or pass the arrays " \
                f"themselves instead of the object"
        return TransformError(
            what, site[0], site[1],
            f"the source method cannot follow a derivative through an object's attributes; "
            f"{fix}; or use method='overload'")


def _poisoned(d: Any) -> UnknownDerivative | None:
    """The UnknownDerivative in the adjoint or tangent `d`, if any."""
    if d.__class__ is UnknownDerivative:
        return d  # type: ignore[no-any-return]
    if _container(d):
        for leaf in tree.leaves(d):
            if leaf.__class__ is UnknownDerivative:
                return leaf  # type: ignore[no-any-return]
    return None


def _function_adjoint(fn: Any) -> Any:
    """The adjoint (or tangent) of a function value: none, unless it holds values."""
    return UnknownDerivative(fn) if holds_values(fn) else Zero


def function_cotangent(ct: Any, filename: str, line: int, refuse: bool = False) -> Any:
    """Generated reverse code's adjoint, for each differentiated value it reads, of a lambda
    made at the user's `filename`:`line` and used as a value (not written out where it is
    used): Zero, or the UnknownDerivative that reached the lambda (see there). With
    `refuse` (the values it reads may change after it is made), that one is raised."""
    bad = _poisoned(ct)
    if bad is None:
        return Zero
    if refuse:
        raise bad.error((filename, line))
    return UnknownDerivative(bad.value, (filename, line))


def function_tangent(fn: Any, tangents: tuple[Any, ...] | None, filename: str,
                     line: int) -> Any:
    """Generated forward code's tangent of the lambda `fn` made at the user's
    `filename`:`line` and used as a value: an UnknownDerivative (raising where it is used)
    when `fn` holds floating-point values and a tangent of the values it reads is live (or
    unknown: None), else none."""
    if tangents is not None and all(is_zero(t) for t in tangents) or not holds_values(fn):
        return 0.0
    return UnknownDerivative(fn, (filename, line))


# plain objects: instances of classes that are not pytree nodes. What one keeps in its
# attributes is out of the generated code's sight (`b = Box(x)` then `b.v`: the derivative
# of `b.v` in `x` would be lost). Where a derivative reaches one, it is unknown
# (UnknownDerivative); the call that made the object is then asked whether it kept anything
# computed from its differentiated arguments (`_keeps_arguments`): where it did not, nothing
# is lost and the derivative is zero; where it did, a derivative asked for through it is
# refused, with the class and the line.

_SLOTS = BoundedCache(1024)


def _slots(cls: type) -> tuple[str, ...]:
    """The attribute names `cls` declares in `__slots__` (mangled as Python stores them)."""
    got = _SLOTS.get(cls)
    if got is None:
        names = []
        for c in getattr(cls, "__mro__", ()):
            declared = c.__dict__.get("__slots__", ())
            for n in (declared,) if isinstance(declared, str) else declared:
                if n in ("__dict__", "__weakref__"):
                    continue
                if n.startswith("__") and not n.endswith("__"):
                    n = f"_{c.__name__.lstrip('_')}{n}"
                names.append(n)
        got = _SLOTS[cls] = tuple(names)
    return got


def _plain_object(x: Any) -> bool:
    """Whether `x` is a plain object: an instance keeping values in attributes (`__dict__` or
    `__slots__`) whose class is not a registered pytree; not a number, array, container,
    function value, class or module."""
    if x is None or x is Zero or isinstance(x, _KEEP_NOTHING) or isinstance(x, _FUNCTIONS) \
            or isinstance(x, (Tracer, UnknownDerivative)):
        return False
    if _container(x) or other_array(x):
        return False
    return hasattr(x, "__dict__") or bool(_slots(type(x)))


def _attributes(x: Any) -> list[Any]:
    """The values a plain object keeps in its attributes."""
    found = getattr(x, "__dict__", None)
    out = list(found.values()) if isinstance(found, dict) else []
    for name in _slots(type(x)):
        try:
            out.append(object.__getattribute__(x, name))
        except AttributeError:  # (a slot never set)
            pass
    return out


def _parts(v: Any) -> Any:
    """What `v` holds one level down: entries of containers (registered nodes, sets and
    deques too), what a function value closes over or binds, a plain object's attributes."""
    if isinstance(v, (tuple, list, set, frozenset, collections.deque)):
        return v
    if isinstance(v, dict):
        return v.values()
    got = tree.node_children(v)
    if got is not None:
        return got[0]
    if isinstance(v, functools.partial):
        return [v.func, *v.args, *v.keywords.values()]
    if isinstance(v, types.MethodType):
        return [v.__self__, v.__func__]
    if isinstance(v, types.FunctionType):
        cells = []
        for cell in v.__closure__ or ():
            try:
                cells.append(cell.cell_contents)
            except ValueError:  # (an empty cell: see `holds_values`)
                cells.append(_EMPTY_CELL)
        return [*(v.__defaults__ or ()), *(v.__kwdefaults__ or {}).values(), *cells]
    return _attributes(v) if _plain_object(v) else ()


_NOT_FOUND = object()
_EMPTY_CELL = object()  # (a closure cell not assigned yet, as `_parts` gives it)
_NO_VALUE = object()  # (an argument not given)
#: how deep `_find` looks, and how many values it visits at most (then it cannot tell)
_DEPTH, _VISITS = 10, 100_000


def _find(v: Any, hit: Callable[[Any, bool], bool]) -> Any:
    """The first value reachable from `v` (itself included, through `_parts`) for which
    `hit(value, inside)` holds, `inside` telling whether the path to it passed through a
    plain object's attributes; `_NOT_FOUND`; or None where the search ended before it could
    tell (a structure too large or too deep)."""
    seen: set[int] = set()
    left = [_VISITS]

    def visit(x: Any, depth: int, inside: bool) -> Any:
        if hit(x, inside):
            return x
        if x is None or isinstance(x, _KEEP_NOTHING):
            return _NOT_FOUND
        if id(x) in seen:  # (shared and cyclic structures: each value once)
            return _NOT_FOUND
        left[0] -= 1
        if depth > _DEPTH or left[0] < 0:
            return None
        seen.add(id(x))
        inner = inside or _plain_object(x)
        for part in _parts(x):
            got = visit(part, depth + 1, inner)
            if got is not _NOT_FOUND:
                return got
        return _NOT_FOUND

    return visit(v, 0, False)


def _is_float(x: Any, _: bool = False) -> bool:
    return isinstance(x, Tracer) or tree.is_float_leaf(x)


def _holds_floats(x: Any) -> bool:
    """Whether `x` is or holds (anywhere `_find` looks) a floating-point value or a traced
    one: what a derivative may flow through. True where that cannot be told."""
    return _find(x, _is_float) is not _NOT_FOUND


def _object_in(x: Any) -> Any:
    """The first plain object holding floating-point values in `x` (x itself, or what it
    holds); None where there is none."""
    got = _find(x, lambda v, _: _plain_object(v) and _holds_floats(v))
    if got is _NOT_FOUND:
        return None
    return x if got is None else got  # (a search that could not tell: x itself stands)


def _object_adjoint(x: Any, ans: Any = _NO_VALUE) -> Any:
    """The adjoint of the plain object `x`, read by a call (an attribute, a method) whose
    result `ans` a cotangent reached: unknown (an UnknownDerivative, see there) where both
    hold floating-point values, else none."""
    if ans is not _NO_VALUE and not _holds_floats(ans) or not _holds_floats(x):
        return Zero
    return UnknownDerivative(x, read=_user_site())


def _keeps_arguments(fn: Callable[..., Any], args: tuple[Any, ...], which: list[int],
                     kw: dict[str, Any]) -> bool:
    """Whether `fn(*args, **kw)` keeps, in the attributes of a plain object of its result, a
    value computed from the floating-point values of the arguments at `which`: the call is run
    again with those recorded on a tape of its own, and its result searched for the tape's
    values. True where that cannot be told."""
    flat = [tree.flatten(args[k]) for k in which]
    if any(not tree.is_float_leaf(v) and _holds_floats(v) for leaves, _ in flat for v in leaves):
        return True  # (an object or a function value among them: what it holds is not traced)
    try:
        with open_trace(TapeTrace) as trace:
            full = list(args)
            for k, (leaves, td) in zip(which, flat):
                full[k] = tree.unflatten(td, [trace.leaf(v) if tree.is_float_leaf(v) else v
                                              for v in leaves])
            out = fn(*full, **kw)
    except Exception:  # (it does not run on traced values: what it keeps is not known)
        return True
    got = _find(out, lambda v, inside: inside and isinstance(v, Tracer) and v._trace is trace)
    return got is not _NOT_FOUND


def _object_tangent(fn: Callable[..., Any], args: tuple[Any, ...], ans: Any,
                    live: list[bool], kw: dict[str, Any]) -> Any:
    """The tangent of `ans = fn(*args, **kw)` where `ans` is or holds a plain object: an
    UnknownDerivative (raising where it is used) when the object keeps a value computed from
    the arguments with a tangent, else None (the object is a constant: the caller's tangent
    stands)."""
    obj = _object_in(ans)
    if obj is None:
        return None
    which = [k for k, on in enumerate(live) if on]
    if not _keeps_arguments(fn, args, which, kw):
        return None
    return UnknownDerivative(obj, _user_site())


_INDEXABLE = (list, tuple, np.ndarray, Tracer)


def _indexable(x: Any) -> bool:
    """A list, tuple or array of any library (NumPy, Dask, CuPy: NEP 18's __array_function__),
    read by index as it is; a dict or a generator is not."""
    return isinstance(x, _INDEXABLE) or other_array(x)


def as_sequence(x: Any) -> Any:
    """What a `for` loop reads by index: a list, tuple or array as it is; any other iterable
    (a dict: its keys, a generator) as a list."""
    return x if _indexable(x) else list(x)


def _as_sequence_vjp(ct: Any, ans: Any, x: Any) -> Any:
    return ct if _indexable(x) else 0.0  # (a dict's keys carry no derivative)


def _rule(fn: Any, i: int, nargs: int) -> Callable[..., Any] | None:
    key = (fn, i, nargs)
    try:
        got = _RULES.get(key, _NO_RULE)
    except TypeError:  # an unhashable callable
        return None
    if got is not _NO_RULE:
        return got
    if fn is as_sequence:
        _RULES[key] = _as_sequence_vjp
        return _as_sequence_vjp
    if fn is view:
        _RULES[key] = _view_vjp if i == 0 else None
        return _view_vjp if i == 0 else None
    prim = primitive_of(fn, nargs)
    rule = None if prim is None else reverse_rule(prim, i)
    _RULES[key] = rule
    return rule


def pullback(fn: Callable[..., Any], i: int, ct: Any, ans: Any, /, *args: Any,
             **kw: Any) -> Any:
    """The cotangent of argument `i` of `ans = fn(*args, **kw)` given the output's `ct` (which
    may carry leading batch axes that `ans` lacks: a Jacobian's basis, pulled back at once)."""
    if ct is Zero or (ct.__class__ is float and ct == 0.0
                      and not _container(ans)):
        return Zero  # nothing flows back (an output never used)
    short = None
    sig = kernels.signature((ct, ans, *args))
    if sig is not None:  # arrays only: the kernel straight from its shapes (kernels.fast)
        short = (fn, i, STRONG_ZEROS.skip, sig, tuple(kw.items()) if kw else ())
        try:
            hit = kernels.fast(short)
        except TypeError:  # (an unhashable keyword value)
            hit = short = None
        if hit is not None:
            return hit[0](ct, ans, *args)[0]
    x = args[i] if 0 <= i < len(args) else None
    if isinstance(x, _FUNCTIONS):  # (its adjoint does not depend on the cotangent)
        return _function_adjoint(x)
    if _plain_object(x):  # (what it keeps is out of sight: see `_object_adjoint`)
        return _object_adjoint(x, ans)
    if is_sequence(x):  # (NumPy reads it as an array)
        return _unstacked(_pullback(fn, i, ct, ans, args, kw, short), x)
    return _pullback(fn, i, ct, ans, args, kw, short)


def _pullback(fn: Callable[..., Any], i: int, ct: Any, ans: Any, args: tuple[Any, ...],
              kw: dict[str, Any], short: Any) -> Any:
    if any(a is Zero for a in args):  # an adjoint with nothing in it yet, as a value: 0.0
        args = tuple(0.0 if a is Zero else a for a in args)
    bad = _poisoned(ct)
    if bad is not None:  # (a function value's or a plain object's: unknown, and so is what
        # made it; unless this call made the plain object `ans` and kept nothing computed
        # from argument i in it: then nothing flows to that argument)
        if ct is bad and _plain_object(ans):
            if not _keeps_arguments(fn, args, [i], kw):
                return Zero
            return bad.made_at(ans, _user_site())
        return bad
    joined = _joins(fn, args)  # (no rule: the call is recorded on a tape, see _rule_and_params)
    rule, params = _rule_and_params(fn, i, args, kw)
    if rule is not None and fn is not as_sequence and fn is not view:
        # (a primitive's rule takes arrays: `x @ [1.0, 2.0]` gives it a list)
        args = tuple(_operand(a) for a in args)
    got = kernels.FAILED if joined else \
        kernels.pullback(rule, fn, i, ct, ans, args, params, kw, short)
    if got is not kernels.FAILED:
        return got
    nb = _batch_axes(ct, ans)
    if nb:  # (traced values, or a rule that needs concrete ones: one seed at a time, vmapped)
        if _container(ans):
            ct = _batched(ct, ans, _batch_shape(ct, ans, nb))  # type: ignore[arg-type]
        return overload.vmap(lambda c: pullback(fn, i, c, ans, *args, **kw))(ct)
    if rule is not None:
        return rule(ct, ans, *args, **params)  # (Zero stays Zero: adding it costs nothing)
    if getattr(fn, "__module__", None) == "_operator" and not joined:
        # (an operator on a list and an array: NumPy reads the list as an array)
        args = tuple(_operand(a) for a in args)
    return pullback_of(lambda *a: fn(*a, **kw), args, ct, (i,))[0]


def _leaf_batch_axes(d: Any, x: Any) -> int:
    if is_zero(d) or _container(d) or _container(x):
        return 0
    return max(ndim_of(d) - ndim_of(x), 0)


def _batch_axes(d: Any, x: Any) -> int:
    """How many leading batch axes the adjoint or tangent `d` has that its value `x` lacks
    (for a container, those of its entries: a zero placeholder has none)."""
    return max(tree.leaves(tree.map_paired(_leaf_batch_axes, d, x)), default=0)


def _batch_shape(d: Any, x: Any, nb: int) -> tuple[int, ...] | None:
    """The leading `nb` axes of a batched entry of `d` (None where none has them)."""
    found: list[tuple[int, ...]] = []

    def lead(a: Any, b: Any) -> None:
        if not found and _leaf_batch_axes(a, b) >= nb:
            found.append(tuple(shape_of(a)[:nb]))

    tree.map_paired(lead, d, x)
    return found[0] if found else None


def _batched(d: Any, x: Any, lead: tuple[int, ...]) -> Any:
    """A container's adjoint or tangent `d` with every entry carrying the batch axes `lead`
    (a zero placeholder becomes zeros), so that vmap can map it entry by entry."""
    def leaf(a: Any, b: Any) -> Any:
        if not tree.is_float_leaf(b):
            return np.zeros(lead + tuple(shape_of(b)))
        return np.zeros(lead + tuple(shape_of(b)), np.result_type(b)) if is_zero(a) else a
    return tree.map_paired(leaf, d, x)


def _rule_and_params(fn: Any, i: int, args: tuple[Any, ...], kw: dict[str, Any]
                     ) -> tuple[Callable[..., Any] | None, dict[str, Any]]:
    """The rule table's VJP for argument i of `fn(*args, **kw)` and its parameters: a
    primitive's (no keywords), or a reduction's with `axis` / `keepdims` normalised as the
    function does; (None, {}) for anything else, and for a `+` or `*` that joins or repeats
    lists or tuples (Python's, not arithmetic: `_joins`)."""
    if _joins(fn, args):
        return None, {}
    if not kw:
        return _rule(fn, i, len(args)), {}
    if i != 0 or len(args) != 1 or not set(kw) <= {"axis", "keepdims"}:
        return None, {}
    try:
        prim = _REDUCTIONS.get(fn)
    except TypeError:
        return None, {}
    if prim is None:
        return None, {}
    params = {"axis": normalize_axis(kw.get("axis"), ndim_of(args[0])),
              "keepdims": bool(kw.get("keepdims", False))}
    return reverse_rule(prim, 0), params


_REDUCTIONS: dict[Any, Primitive] = {}


def _register_reductions() -> None:
    for name, prim in (("sum", R.sum_p), ("max", R.max_p), ("amax", R.max_p)):
        _REDUCTIONS[getattr(cnp, name)] = prim
        _REDUCTIONS[getattr(np, name)] = prim


def pullback_of(fn: Callable[..., Any], args: tuple[Any, ...], ct: Any,
                which: tuple[int, ...]) -> tuple[Any, ...]:
    """Cotangents of `args[which]` of `fn(*args)`, by the tape (for calls the rule table does
    not name a primitive for: library functions made of primitives, closures). Arguments
    without floating-point values (integers, strings) get 0.0."""

    bad = _poisoned(ct)
    if bad is not None:  # (a function value's or a plain object's: unknown, and so is what
        # made it)
        return tuple(bad for _ in which)
    # (function values holding values get an UnknownDerivative: see `holds_values`)
    got: dict[int, Any] = {k: UnknownDerivative(args[k]) for k in which
                           if isinstance(args[k], _FUNCTIONS) and holds_values(args[k])}
    objects = [k for k in which if _plain_object(args[k])]
    if objects and not is_zero(ct):  # (and so do plain objects holding them, where the
        # result holds some too)
        try:
            out = fn(*args)
        except Exception:  # (not known: taken to hold some)
            out = _NO_VALUE
        got.update((k, _object_adjoint(args[k], out)) for k in objects)
    floating = [k for k in which if tree.is_float_leaf(args[k]) or _has_float(args[k])]
    if not floating:
        return tuple(got.get(k, 0.0) for k in which)
    if all(tree.is_float_leaf(args[k]) for k in floating):
        got_leaves = _pullback_leaves(fn, args, ct, floating)
        if got_leaves is not None:
            got.update(got_leaves)
            return tuple(got.get(k, 0.0) for k in which)

    out, pull = overload.vjp(_varying(fn, args, floating), *[args[k] for k in floating])
    got.update(zip(floating, pull(_dense_like(ct, out))))
    return tuple(got.get(k, 0.0) for k in which)


def _varying(fn: Callable[..., Any], args: tuple[Any, ...], which: list[int],
             kw: dict[str, Any] | None = None) -> Callable[..., Any]:
    """`fn` as a function of the arguments at `which` only (the others fixed)."""
    def at(*d: Any) -> Any:
        full = list(args)
        for k, v in zip(which, d):
            full[k] = v
        return fn(*full, **(kw or {}))
    return at


def _pullback_leaves(fn: Callable[..., Any], args: tuple[Any, ...], ct: Any,
                     floating: list[int]) -> dict[int, Any] | None:
    """pullback_of for array (or number) arguments and one array result: the call recorded
    on a tape of its own and pulled back, without the general transform's pytree handling.
    None when the result is not a single array."""
    with open_trace(TapeTrace) as trace:
        full = list(args)
        leaves = {k: trace.leaf(args[k]) for k in floating}
        for k, leaf in leaves.items():
            full[k] = leaf
        out = fn(*full)
    if _container(out):
        return None
    if not (isinstance(out, TapeTracer) and out._trace is trace and out.node is not None):
        return {}  # the result does not depend on them
    got = backward([(out.node, out.idx, _dense_like(ct, out.value))], tape=trace.nodes)
    result = {}
    for k, leaf in leaves.items():
        g = got.get((leaf.node, 0))
        if g is not None:
            result[k] = g
    return result


def _has_float(x: Any) -> bool:
    return any(tree.is_float_leaf(v) for v in tree.leaves(x))


def _dense_like(d: Any, x: Any) -> Any:
    """An adjoint or tangent `d` in the structure of `x`, its 0.0 / Zero / None placeholders
    filled with zeros (integer leaves get a zero placeholder: no derivative flows there)."""
    return tree.map_paired(_dense_leaf, d, x)


def _dense_leaf(d: Any, x: Any) -> Any:
    if not tree.is_float_leaf(x):
        return np.zeros(np.shape(x))
    if is_zero(d):
        return zeros_for(x)
    if ndim_of(d) == 0 and ndim_of(x) > 0:
        # a container's zero placeholder that a higher-order transform made a traced number:
        # its value is zero; it takes the shape of the array it stands for
        return cnp.broadcast_to(d, shape_of(x))
    return d


def pushforward(fn: Callable[..., Any], args: tuple[Any, ...], tangents: tuple[Any, ...], /,
                **kw: Any) -> tuple[Any, Any]:
    """(fn(*args, **kw), its tangent) for tangents of the arguments (0.0 for none). A tangent
    may carry leading batch axes that its value lacks (a Jacobian's basis, pushed at once)."""
    short = None
    if fn is pullback:  # (forward over reverse: the values are `(fn, i, ct, ans, *xs)`)
        sig, tsig = kernels.signature(args[2:]), kernels.signature(tangents[2:], tangents=True)
        if sig is not None and tsig is not None and tsig.count(None) < len(tsig) \
                and is_zero(tangents[0]) and is_zero(tangents[1]) and not is_zero(args[2]):
            short = ("jvp-pullback", args[0], args[1], STRONG_ZEROS.skip, sig, tsig,
                     tuple(kw.items()) if kw else ())
            values, tans = args[2:], tangents[2:]
    elif fn.__class__ is not _FUNCTION or fn not in _LINEAR_TANGENTS:
        sig, tsig = kernels.signature(args), kernels.signature(tangents, tangents=True)
        if sig is not None and tsig is not None and tsig.count(None) < len(tsig):
            short = ("jvp", fn, STRONG_ZEROS.skip, sig, tsig, tuple(kw.items()) if kw else ())
            values, tans = args, tangents
    if short is not None:  # arrays only: the kernel straight from its shapes (kernels.fast)
        try:
            hit = kernels.fast(short)
        except TypeError:  # (an unhashable keyword value)
            hit = short = None
        if hit is not None:
            got = hit[0](*values, *[t for t, s in zip(tans, tsig) if s is not None])
            return got[0], got[1]
    if any(a is Zero for a in args):  # an adjoint with nothing in it yet, as a value: 0.0
        args = tuple(0.0 if a is Zero else a for a in args)
    for t in tangents:
        bad = _poisoned(t)
        if bad is not None:  # (a function value's: the call would drop it)
            raise bad.error()
    live = [not is_zero(t) for t in tangents]
    if not any(live) or (fn is pullback and not live[2] and is_zero(args[2])):
        # (a pullback is linear in its cotangent: with a zero one that has no tangent, it and
        # its tangent are zero, whatever moves the values it is taken at)
        return fn(*args, **kw), 0.0
    # (a rule's JVP reads each tangent in its value's shape: see `fit`)
    fitted = tuple(fit(t, a) if on else t for t, a, on in zip(tangents, args, live))
    if any(f is not t for f, t in zip(fitted, tangents)):
        short = None  # (the kernel takes them fitted: not under the key of the others)
    tangents = fitted
    if fn is as_sequence:
        return as_sequence(args[0]), _as_sequence_vjp(tangents[0], None, args[0])
    if fn is view:
        return view(*args), _view_tangent(tangents[0], *args)
    linear = _LINEAR_TANGENTS.get(fn) if not kw and fn.__class__ is _FUNCTION else None
    if linear is not None:  # the generated code's own helpers, linear in what they carry
        # (a dead tangent is Zero there, as for the rules: 0.0 would be summed to a shape)
        return fn(*args), linear(args, [t if on else Zero for t, on in zip(tangents, live)])
    prim = primitive_of(fn, len(args)) if not kw and not _joins(fn, args) else None
    if prim is not None:  # (a primitive's rule takes arrays, not lists)
        tangents = tuple(_stacked(t, a) for t, a in zip(tangents, args))
        args = tuple(_operand(a) for a in args)
    if fn is pullback and not any(live[:2]) and not _joins(args[0], args[4:]):
        # forward over reverse: the rule's own tangent
        got = kernels.pushforward_pullback(args, tangents[2:], live[2:], kw, _rule_and_params,
                                           short)
    else:
        got = kernels.pushforward(prim, fn, args, tangents, live, kw, short)
    if got is not kernels.FAILED:
        return got
    nbs = [_batch_axes(t, a) if on else 0 for t, a, on in zip(tangents, args, live)]
    if any(nbs):  # (traced values, or a rule that needs concrete ones: vmapped)
        tangents = tuple(_batched(t, a, _batch_shape(t, a, n))  # type: ignore[arg-type]
                         if n and _container(a) else t
                         for t, a, n in zip(tangents, args, nbs))
        ans = fn(*args, **kw)
        if isinstance(ans, _FUNCTIONS):
            return ans, _made_function_tangent(ans)
        unknown = _object_tangent(fn, args, ans, live, kw)
        if unknown is not None:  # (a plain object keeping values with tangents)
            return ans, unknown
        dead = []

        def one(*ts: Any) -> Any:
            d = pushforward(fn, args, ts, **kw)[1]
            if is_zero(d):  # (for every seed: the seeds do not reach it)
                dead.append(True)
            return d

        dot = overload.vmap(one, in_axes=tuple(0 if n else None for n in nbs))(*tangents)
        return ans, (0.0 if dead else dot)
    if prim is not None and prim.jvp is not None:
        ans, dot = prim.jvp(list(args), [t if on else Zero for t, on in zip(tangents, live)])
        return ans, (0.0 if dot is Zero else dot)
    which = [k for k, on in enumerate(live) if on and (tree.is_float_leaf(args[k])
                                                      or _has_float(args[k]))]
    if not which:
        return fn(*args, **kw), 0.0

    # (where the tangents reach no output, 0.0: the generated code's dead tangent, which later
    # statements skip as the other methods skip a Zero)
    primals = tuple(args[k] for k in which)
    seeds = checks.jvp_tangents(primals, tuple(_dense_like(tangents[k], args[k])
                                               for k in which))
    ans, dot, _ = overload.jvp_flat(_varying(fn, args, which, kw), primals,
                                    tuple(range(len(which))), seeds, dead=0.0)
    if isinstance(ans, _FUNCTIONS):  # (a bound method, say: made again, of the values)
        ans = fn(*args, **kw)
        return ans, _made_function_tangent(ans)
    unknown = _object_tangent(fn, args, ans, live, kw)
    if unknown is not None:  # (a plain object keeping traced values: made again, of the
        # values, as the traced ones would escape the transform)
        ans = fn(*args, **kw)
        return ans, unknown
    return ans, dot


def _made_function_tangent(fn: Any) -> Any:
    """The tangent of a function value computed from values with tangents (a bound method of
    one): an UnknownDerivative where it holds values, raising where it would be used."""
    return UnknownDerivative(fn) if holds_values(fn) else 0.0


_FUNCTION = type(lambda: None)


def is_sequence(x: Any) -> bool:
    """Whether `x` is a list or a tuple (generated code asks it of `a + b` and `a * b` that
    may have joined or repeated them, see `transform.Unit.mark_arithmetic`)."""
    return x.__class__ is list or x.__class__ is tuple


def _joins(fn: Any, args: tuple[Any, ...]) -> bool:
    """Whether `fn(*args)` joins or repeats lists or tuples: Python's `+` and `*` do (`[a, b] *
    2` is `[a, b, a, b]`), and no arithmetic, no rule of the rule table, applies."""
    if fn is operator.add:
        return len(args) == 2 and is_sequence(args[0]) and is_sequence(args[1])
    if fn is operator.mul and len(args) == 2:
        for a, b in (args, args[::-1]):
            if is_sequence(a) and isinstance(b, (int, np.integer)):
                return True
    return False


# tangents of the helpers reverse code calls (forward mode over generated reverse code, as in
# Hessians): each is linear in the adjoints it moves, so its tangent is the helper itself
# applied to the tangents
_LINEAR_TANGENTS: dict[Any, Callable[..., Any]] = {}


def _register_linear() -> None:
    _LINEAR_TANGENTS.update({
        unbroadcast: lambda a, t: unbroadcast(t[0], a[1], a[2]),
        lift: lambda a, t: lift(t[0], *a[1:]),
        acc: lambda a, t: acc(t[0], t[1]),
        part: lambda a, t: part(t[0], *a[1:]),
        finish: lambda a, t: finish(t[0], a[1]),
        # (a plain object's adjoint is unknown or none, whatever the cotangent: its tangent
        # stays, as that of `pullback_of`'s, whose value decides, see `_pullback`)
        add_at: lambda a, t: t[0] if _plain_object(a[1]) else add_at(t[0], a[1], a[2], t[3]),
    })


# ---------------------------------------------------------------------------------------------
# adjoints of containers: 0.0 stands for "all zeros" of any structure


def acc(a: Any, b: Any) -> Any:
    """a + b for adjoints: numbers and arrays add; tuples, lists, dicts and registered pytree
    nodes add per entry. A number met by a container is the zero placeholder (possibly
    traced, at higher order)."""
    if b.__class__ is np.ndarray:  # (the common case first)
        if a is Zero:
            return b
        if a.__class__ is np.ndarray:
            return a + b
    if a.__class__ is UnknownDerivative:  # (unknown, whatever is added: see there)
        return a
    if b.__class__ is UnknownDerivative:
        return b
    if is_sequence(a) is not is_sequence(b):
        a, b = _unstacked(a, b), _unstacked(b, a)  # (an array adjoint of a list read as one)
    if is_zero(b) or (_container(a) and not _container(b)):
        return a
    if is_zero(a) or (_container(b) and not _container(a)):
        return b  # (adjoints are never changed in place: sharing the array is safe)
    if isinstance(a, (tuple, list)):
        return tree.rebuild(a, (acc(x, y) for x, y in zip(a, b)))
    if isinstance(a, dict):
        return {k: acc(a.get(k, 0.0), b.get(k, 0.0)) for k in set(a) | set(b)}
    node = _registered(b, a)
    if node is not None:
        return node[2](acc(y, x) for x, y in zip(node[0], node[1]))
    return a + b


def _unstacked(d: Any, x: Any) -> Any:
    """`d`, an adjoint or tangent of the list or tuple `x` that came out as one array (NumPy
    reads a list of numbers as an array: `w + xs`, `np.sin(xs)`), in x's structure: an entry
    per element, each keeping the leading batch axes `d` has beyond x. Anything else, and a
    zero placeholder, as it is."""
    if not is_sequence(x) or not x or is_zero(d) or _container(d) \
            or d.__class__ is UnknownDerivative:
        return d
    depth, leaf = 0, x
    while is_sequence(leaf):
        if not leaf:
            return d
        depth, leaf = depth + 1, leaf[0]
    nb = ndim_of(d) - depth - ndim_of(leaf)
    if nb < 0 or shape_of(d)[nb] != len(x):
        return d  # (not x's array: left to the checks that follow)
    if nb:
        d = cnp.moveaxis(d, nb, 0)
    return type(x)(_unstacked(d[k], x[k]) for k in range(len(x)))


def _stacked(t: Any, x: Any) -> Any:
    """The tangent `t` of the list or tuple `x` (entry by entry) as one array, as NumPy reads
    `x`, its leading batch axes first (the inverse of `_unstacked`). Anything else as it is."""
    if not is_sequence(x) or not _container(t) or not x:
        return t
    parts = [_stacked(p, e) for p, e in zip(t, x)]
    live = [p for p in parts if not is_zero(p)]
    if not live:
        return 0.0
    nb = ndim_of(live[0]) - ndim_of(_operand(x[0]))
    batch = shape_of(live[0])[:nb]
    parts = [cnp.zeros(batch + tuple(shape_of(_operand(e))), dtype=np.result_type(live[0]))
             if is_zero(p) else p for p, e in zip(parts, x)]
    return cnp.stack(parts, axis=nb)


def part(d: Any, key: Any, value: Any = _NO_VALUE) -> Any:
    """The adjoint or tangent of `value[key]` within `value`'s adjoint or tangent `d`. For a
    container, a number `d` is its zero placeholder (possibly traced, at higher order); for
    an array (`value` given), `d` is its tangent, in its shape (`fit`), and is indexed."""
    if is_zero(d):
        return Zero
    if d.__class__ is UnknownDerivative:  # (unknown, and so is every part: see there)
        return d
    if value is not _NO_VALUE and not _container(value):
        return fit(d, value)[key]
    if not isinstance(d, _CONTAINERS) and not getattr(d, "ndim", 0):
        return Zero  # the zero placeholder of a container (possibly traced)
    got = d[key]
    return 0.0 if got is None else got  # (an integer's entry carries no tangent)


def fit(t: Any, x: Any) -> Any:
    """The tangent `t` of a value `x`, in `x`'s shape. In generated forward code a tangent
    may have a lower rank than its value, where an operand without a tangent was broadcast
    (a rule written out on scalars, templates.py, leaves the broadcast out): elementwise
    arithmetic broadcasts it alike, and what needs the exact shape (a rule's JVP, indexing,
    the result) fits it here. Leading axes that `t` has beyond `x` are a batch of tangents
    and stay."""
    if x is Zero:
        return Zero  # (the tangent of an adjoint that is identically zero: see `lift`)
    if t.__class__ is np.ndarray and x.__class__ in _ARRAYS:
        shape = x.shape
        if t.shape == shape or (t.ndim > len(shape)
                                and (not shape or t.shape[-len(shape):] == shape)):
            return t  # (in shape already, batch axes or none)
    if is_zero(t) or _container(x) or not hasattr(t, "shape") and type(t) is not float:
        return t  # (a zero placeholder has every shape; a container's parts fit themselves)
    shape = shape_of(x)
    nb = ndim_of(t) - len(shape)
    target = (tuple(shape_of(t)[:nb]) if nb > 0 else ()) + tuple(shape)
    if tuple(shape_of(t)) == target:
        return t
    return cnp.broadcast_to(t, target)


def add_at(d: Any, value: Any, key: Any, ct: Any) -> Any:
    """The adjoint of `value` after `value[key]` (whose adjoint is `ct`) is read from it."""
    if is_zero(ct):
        return d
    if value.__class__ is np.ndarray and ct.__class__ in _ARRAYS and ct.dtype == value.dtype \
            and (d is Zero or d.__class__ is np.ndarray) and _numpy_index(key):
        # (arrays and a NumPy index, which `normalize_index` would only wrap in a tuple: the
        # scatter-add primitive's implementation, straight)
        idx = key if key.__class__ is tuple else (key,)
        z = I._scatter_add_impl(ct, idx=idx, shape=value.shape)
        return z if d is Zero else d + z
    if isinstance(value, (tuple, list)):
        base = list(d) if isinstance(d, (tuple, list)) else [0.0] * len(value)
        if not isinstance(key, (int, slice, np.integer)):
            key = int(key)
        if isinstance(key, slice):
            for k, c in zip(range(*key.indices(len(value))), ct):
                base[k] = acc(base[k], c)
        else:
            base[key] = acc(base[key], ct)
        return tree.rebuild(value, base)
    if isinstance(value, dict):
        base = dict(d) if isinstance(d, dict) else {}
        base[key] = acc(base.get(key, 0.0), ct)
        return base
    if _plain_object(value):  # (an object's own indexing: what it keeps is out of sight)
        try:
            item = value[key]
        except Exception:  # (not known: taken to hold floating-point values)
            item = _NO_VALUE
        return acc(d, _object_adjoint(value, item))
    if ct.__class__ is UnknownDerivative:  # (unknown: so is the whole value's, see there)
        return acc(d, ct)
    return acc(d, cnp.at(zeros_like(value))[key].add(ct))


def _numpy_index(key: Any) -> bool:
    """Whether `key` is made of integer arrays, ints, slices, None and Ellipsis only (not a
    traced index, a list or a boolean mask)."""
    for k in key if key.__class__ is tuple else (key,):
        c = k.__class__
        if not (c is int or c is slice or k is None or k is Ellipsis
                or (c is np.ndarray and k.dtype.kind in "iu")):
            return False
    return True


def setitem(value: Any, key: Any, item: Any) -> Any:
    """`value` with `value[key] = item`, as a new value (arrays, lists, dicts)."""
    if isinstance(value, list):
        new = list(value)
        new[key] = item
        return new
    if isinstance(value, dict):
        new_d = dict(value)
        new_d[key] = item
        return new_d
    return cnp.at(value)[key].set(item)


def unbroadcast(ct: Any, ans: Any, x: Any) -> Any:
    """The cotangent of an operand `x` that the binary operation giving `ans` may have
    broadcast: summed back to its shape (nothing to do when the shapes agree). Leading axes
    that `ct` has beyond `ans` are a batch of cotangents and stay."""
    if ct is Zero or (ct.__class__ is x.__class__ and ct.__class__ in _REAL_SCALARS) \
            or is_zero(ct):
        return ct  # (scalars of scalars: nothing was broadcast; a zero placeholder fits all)
    if ct.__class__ is np.ndarray and x.__class__ in _ARRAYS and ans.__class__ in _ARRAYS \
            and ct.dtype == x.dtype and ct.ndim == ans.ndim:  # (arrays, no batch: no checks)
        return R.sum_to_shape(ct, x.shape)
    if ct.__class__ is UnknownDerivative:
        return ct
    nb = ndim_of(ct) - ndim_of(ans)
    if nb <= 0:
        return _cotangent_like(ct, x)
    shape = shape_of(x)
    lead = ndim_of(ans) - len(shape)
    axes = tuple(range(nb, nb + lead)) + tuple(
        nb + lead + k for k, n in enumerate(shape) if n == 1 and shape_of(ct)[nb + lead + k] != 1)
    if not axes:
        return ct
    summed = cnp.sum(ct, axis=axes, keepdims=True)
    return cnp.reshape(summed, shape_of(ct)[:nb] + tuple(shape))


def lift(t: Any, x: Any, *others: Any) -> Any:
    """The tangent `t` of operand `x`, ready to meet the other operands' tangents: a batch of
    tangents (leading axes `x` lacks) gets unit axes where `x` has fewer dimensions than the
    operation's result, so that broadcasting pairs the batch axes with each other.

    Generated reverse code, transformed again (a Hessian), has adjoints among its values; one
    that is the symbolic Zero (no cotangent reached it) is identically zero, so its tangent is
    zero, and it gives the operation no rank (it has every shape)."""
    if x is Zero:
        return Zero
    if t is Zero or t.__class__ is float:
        return t
    if t.__class__ is np.ndarray and x.__class__ in _ARRAYS:
        nx = x.ndim
        if t.ndim <= nx or (len(others) == 1 and others[0].__class__ in _ARRAYS
                            and others[0].ndim <= nx):
            return t  # (no batch axes, or no operand of a higher rank: nothing to pair)
    nb = ndim_of(t) - ndim_of(x)
    if nb <= 0:
        return t
    rank = max((ndim_of(o) for o in others if o is not Zero), default=0)
    if rank <= ndim_of(x):
        return t
    return cnp.reshape(t, shape_of(t)[:nb] + (1,) * (rank - ndim_of(x)) + tuple(shape_of(x)))


def at_update(value: Any, key: Any, item: Any, how: str) -> Any:
    """`cnp.at(value)[key].<how>(item)` (set, add, multiply) as one call."""
    return getattr(cnp.at(value)[key], how)(item)


def _registered(d: Any, x: Any) -> tuple[list[Any], list[Any], Callable[..., Any]] | None:
    """For `x` a registered pytree node (a dataclass, a cr.nn Module): the parts of `d` (its
    adjoint or tangent: a node of the same kind, or a zero placeholder), x's children, and the
    function building such a node; None otherwise."""
    got = tree.node_children(x)
    if got is None:
        return None
    kids, rebuild = got
    same = tree.node_children(d) if type(d) is type(x) else None
    return (same[0] if same is not None else [0.0] * len(kids)), kids, rebuild


def append(items: list[Any], item: Any) -> list[Any]:
    """`items + [item]`, as a new list."""
    return list(items) + [item]


def _zero_leaf(_: Any, x: Any) -> Any:
    # (every method's zeros: shape and dtype without touching data, x may be traced; another
    # array library's own, lazy for Dask)
    return checks.zeros(x) if tree.is_float_leaf(x) else None


def zeros_for(x: Any) -> Any:
    """A zero adjoint shaped like `x` (what a gradient returns for an unused input)."""
    return tree.map_paired(_zero_leaf, None, x)


def finish(d: Any, x: Any) -> Any:
    """The adjoint of an input in the structure and dtype of the input."""
    if d.__class__ is np.ndarray and x.__class__ is np.ndarray and d.dtype == x.dtype \
            and d.shape[d.ndim - x.ndim:] == x.shape:
        return d  # (as `_finish_leaf` leaves it: in shape, a batch of them or one)
    bad = _poisoned(d)
    if bad is not None:  # (a derivative asked for, through a function value: unknown)
        raise bad.error()
    return tree.map_paired(_finish_leaf, _unstacked(d, x), x)


def _finish_leaf(d: Any, x: Any) -> Any:
    if not tree.is_float_leaf(x):
        return None
    if is_zero(d):
        return zeros_for(x)
    if type(d) in (float, complex, int):
        d = np.asarray(d)
    # (a tangent of a lower rank than its value, see `fit`; every method's rule for a
    # derivative's dtype and kind)
    return checks.cast_like(fit(d, x), x)


def finish_batch(d: Any, x: Any, n: int) -> Any:
    """`finish` for a batch of `n` adjoints or tangents of `x` (a leading axis of length n;
    a zero placeholder becomes zeros of that shape)."""
    bad = _poisoned(d)
    if bad is not None:  # (see `finish`)
        raise bad.error()

    def leaf(a: Any, b: Any) -> Any:
        if not tree.is_float_leaf(b):
            return None
        shape = (n,) + tuple(shape_of(b))
        if is_zero(a):
            return np.zeros(shape, np.result_type(b))
        if shape_of(a) != shape:  # (a batch that does not depend on the seed, or one seed)
            a = cnp.broadcast_to(a, shape)
        if isinstance(a, np.ndarray) and a.dtype != np.result_type(b):
            a = a.astype(np.result_type(b))
        return a
    return tree.map_paired(leaf, d, x)


_register_linear()
_register_reductions()
