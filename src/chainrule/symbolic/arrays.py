"""Arrays of expressions under the symbolic interpreter: `ExprArray`, and how primitives run on
them.

The symbolic transforms pass each array argument to the function as an `ExprArray`: a tracer of
the symbolic interpreter that holds a NumPy object array of expressions (one per element) and
the array's dtype. Being a tracer, every chainrule operation on it (operators, `cnp`
functions, plain NumPy through `__array_ufunc__` / `__array_function__`, the structured control
functions, custom rules, other transforms run inside the function) binds a primitive that
reaches `process` below, so that one place decides how each primitive acts on expressions:

- elementwise primitives build one scalar node per element;
- `max`/`min` reductions build one `max_of` node per output element, whose derivative splits
  evenly among ties (as the rule table's `max` does, and unlike a chain of pairwise maxima);
- `sort` is written with comparisons and `where` (its derivative follows the stable order);
- `det`, `inv`, `solve`, `slogdet` and `cholesky` of small matrices are written in closed form
  (cofactor expansion, the Cholesky recurrence); `eigh`, `svd` refuse with `SymbolicError`;
- `custom_jvp`/`custom_vjp` calls become nodes that keep the user's rule (`calls.py`);
- every other primitive runs its NumPy implementation on the object arrays, and a failure there
  becomes a `SymbolicError` naming the primitive (see `refusal`).

A 0-d `ExprArray` stands for a scalar whose dtype is not the float64 of expressions (a float32
argument): it keeps that dtype through the computation, so float32 in gives float32 out.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from .. import numpy as cnp
from .._core.errors import ChainruleError, InPlaceError
from .._core.primitive import REGISTRY, Primitive, Tracer, dtype_of
from .._core.rules import Zero, def_rule
from ..numpy._methods import ufunc_target
from ..ops import elementwise as E
from ..ops._batching import align_batched
from .expr import (
    SYMBOLIC,
    Apply,
    Const,
    Expr,
    NoNumber,
    SymbolArray,
    SymbolicError,
    _no_value,
    _user_line,
    as_expr,
    object_scalar,
)

# ---------------------------------------------------------------------------------------------
# refusals: a failure of NumPy on arrays of expressions, as a SymbolicError

_MIXED: dict[type, type] = {}


def _refusal_class(exc: BaseException) -> type:
    """SymbolicError, also a subclass of the builtin class of `exc` (ValueError, IndexError,
    NotImplementedError...), so that code catching the original kind still catches it."""
    base = next((c for c in type(exc).__mro__ if c.__module__ == "builtins"), Exception)
    if issubclass(SymbolicError, base):
        return SymbolicError
    cls = _MIXED.get(base)
    if cls is None:
        cls = _MIXED[base] = type(f"Symbolic{base.__name__}", (SymbolicError, base), {
            "__doc__": f"A SymbolicError that is also a {base.__name__}.",
            "__module__": SymbolicError.__module__})
    return cls


def refusal(exc: BaseException, what: str, where: str | None = None) -> SymbolicError:
    """The SymbolicError for `exc`, raised by NumPy (or chainrule) while running `what` on
    arrays of expressions; it names `what`, the user's line (`where`, else the innermost line
    of the user's code on the stack) and the original error."""
    msg = (f"{what} failed on symbols ({type(exc).__name__}: {exc}) at "
           f"{where or _user_line()}. method='symbolic' runs the function on arrays of "
           f"expressions; if it runs with method='overload', this operation has no closed form "
           f"on them: use the chainrule.numpy function if there is one, or method='overload'")
    return _refusal_class(exc)(msg)  # type: ignore[no-any-return]


def unsupported(what: str, why: str) -> SymbolicError:
    """A SymbolicError (also a NotImplementedError) for a construct symbolic cannot express."""
    cls = _refusal_class(NotImplementedError())
    return cls(f"{what} at {_user_line()}: {why}; use method='overload'")  # type: ignore


# ---------------------------------------------------------------------------------------------
# the array tracer

class ExprArray(NoNumber):
    """An array of expressions (a NumPy object array, `.arr`) with a dtype, traced by the
    symbolic interpreter. Writing into it (`x[i] = v`, `x += v`) changes it in place, as for a
    NumPy array.

    `method="symbolic"` passes each array argument to the function as one; the `cnp` functions
    and NumPy's operators act on it as on an array of numbers.

    Parameters
    ----------
    arr : numpy.ndarray
        An object array of expressions (and numbers).
    dtype : Any
        The dtype the array stands for.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> v = cr.symbolic.ExprArray(np.array(cr.symbolic.symbols("a b"), dtype=object), "float64")
    >>> print(v, v.shape)
    ExprArray([a, b], dtype=float64) (2,)
    >>> print(cnp.sum(v * 2.0))
    a*2 + b*2
    """

    __slots__ = ("arr", "_dtype")

    def __init__(self, arr: np.ndarray, dtype: Any) -> None:
        self._trace = SYMBOLIC
        self.arr = arr
        self._dtype = np.dtype(dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.arr.shape  # type: ignore[no-any-return]

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def ndim(self) -> int:
        return self.arr.ndim  # type: ignore[no-any-return]

    @property
    def size(self) -> int:
        return self.arr.size  # type: ignore[no-any-return]

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        if dtype is None or np.dtype(dtype) == np.dtype(object):
            return self.arr.copy()
        raise _no_value(f"converting a symbolic array to a NumPy {np.dtype(dtype)} array")

    def __repr__(self) -> str:
        body = np.array2string(self.arr, separator=", ", formatter={"all": str})
        return f"ExprArray({body}, dtype={self._dtype})"

    # -- writing, as NumPy does -------------------------------------------------------------
    def __setitem__(self, idx: Any, value: Any) -> None:
        _check_index(idx)
        self.arr[idx] = elements(value)

    def _inplace(self, op: Callable[[Any, Any], Any], other: Any) -> ExprArray:
        new = elements(op(self, other))
        if new.shape != self.shape and np.broadcast_shapes(new.shape, self.shape) != self.shape:
            raise ValueError(f"non-broadcastable output operand with shape {self.shape} "
                             f"doesn't match the broadcast shape {new.shape}")
        self.arr[...] = new
        return self

    def __iadd__(self, other: Any) -> ExprArray:
        return self._inplace(lambda a, b: a + b, other)

    def __isub__(self, other: Any) -> ExprArray:
        return self._inplace(lambda a, b: a - b, other)

    def __imul__(self, other: Any) -> ExprArray:
        return self._inplace(lambda a, b: a * b, other)

    def __itruediv__(self, other: Any) -> ExprArray:
        return self._inplace(lambda a, b: a / b, other)

    def __ipow__(self, other: Any) -> ExprArray:
        return self._inplace(lambda a, b: a ** b, other)

    def __imatmul__(self, other: Any) -> ExprArray:
        return self._inplace(lambda a, b: a @ b, other)

    # -- the ndarray methods that differ from a read-only tracer's --------------------------
    def copy(self, order: str = "C") -> ExprArray:
        """A copy (an ExprArray can be written to, so a copy is a new array)."""
        return ExprArray(self.arr.copy(), self._dtype)

    def astype(self, dtype: Any, copy: bool = True) -> Any:
        dt = np.dtype(dtype)
        if dt.kind == "f":
            return ExprArray(self.arr.copy() if copy else self.arr, dt)
        raise _no_value(f"astype({dt}) of a symbolic array")

    def tolist(self) -> Any:
        return self.arr.tolist()

    def item(self, *args: Any) -> Any:
        if args:
            return self.arr.item(*args)
        if self.arr.size != 1:
            raise ValueError("can only convert an array of size 1 to a Python scalar")
        return self.arr.reshape(-1)[0]

    @property
    def flat(self) -> Iterator[Any]:
        return iter(self.arr.reshape(-1).tolist())

    def fill(self, value: Any) -> None:
        self.arr[...] = elements(value)

    def __array_ufunc__(self, ufunc: Any, ufunc_method: str, *inputs: Any, **kwargs: Any) -> Any:
        return array_ufunc(ufunc, ufunc_method, inputs, kwargs)


def _check_index(idx: Any) -> None:
    parts = idx if isinstance(idx, tuple) else (idx,)
    for p in parts:
        if isinstance(p, Tracer):
            raise _no_value("using a symbolic value as an index")


def elements(x: Any) -> np.ndarray:
    """`x` as a NumPy array whose elements are expressions or numbers (object dtype where it
    holds expressions; a numeric array stays numeric)."""
    if isinstance(x, ExprArray):
        return x.arr
    if isinstance(x, Expr):
        return object_scalar(x).view(np.ndarray)
    if isinstance(x, SymbolArray):
        return x.view(np.ndarray)
    if isinstance(x, Tracer):
        raise TypeError(f"a value traced by another transform ({type(x).__name__}) met a "
                        f"symbolic expression; run the transform on the symbolic values instead")
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, (list, tuple)) and any(isinstance(v, Tracer) for v in _walk(x)):
        out = np.empty(np.shape(np.asarray(x, dtype=object)), dtype=object)
        out[...] = np.asarray(x, dtype=object)
        return out
    return np.asarray(x)


def _walk(x: Any) -> Iterator[Any]:
    for v in x:
        if isinstance(v, (list, tuple)):
            yield from _walk(v)
        else:
            yield v


def array_ufunc(ufunc: Any, ufunc_method: str, inputs: Sequence[Any],
                kwargs: dict[str, Any]) -> Any:
    """A NumPy ufunc called on a symbolic value: the chainrule function of the same name (as
    for every tracer), reductions through `cnp.sum`/`prod`/`max`/`min`, and `out=` honoured
    when the output is an array that can hold expressions (`v += x` on an object array)."""
    out = kwargs.pop("out", None)
    name = ufunc.__name__
    if ufunc_method == "__call__":
        fn = ufunc_target(ufunc)
        if fn is None:
            raise unsupported(f"numpy.{name} of a symbolic value",
                              "chainrule has no derivative for this ufunc")
        result = fn(*inputs, **kwargs)
    elif ufunc_method in ("reduce", "accumulate") and len(inputs) == 1 and \
            set(kwargs) <= {"axis", "keepdims"}:
        table = ({"add": cnp.sum, "multiply": cnp.prod, "maximum": cnp.max,
                  "minimum": cnp.min, "logical_and": cnp.all, "logical_or": cnp.any}
                 if ufunc_method == "reduce" else {"add": cnp.cumsum, "multiply": cnp.cumprod})
        fn = table.get(name)
        if fn is None:
            raise unsupported(f"numpy.{name}.{ufunc_method} of a symbolic value",
                              "chainrule has no derivative for it")
        axis = kwargs.get("axis", 0)
        result = fn(inputs[0], axis=axis, **({"keepdims": kwargs["keepdims"]}
                                             if "keepdims" in kwargs else {}))
    else:
        raise unsupported(f"numpy.{name}.{ufunc_method} of a symbolic value",
                          "chainrule has no derivative for it")
    if out is None:
        return result
    target = out[0] if isinstance(out, tuple) else out
    if isinstance(target, ExprArray):
        target.arr[...] = elements(result)
        return target
    if isinstance(target, np.ndarray) and target.dtype == object:
        target[...] = elements(result)
        return target
    raise InPlaceError(
        f"numpy.{name}(..., out=...) would store symbolic values in a NumPy "
        f"{getattr(target, 'dtype', type(target).__name__)} array, which holds numbers only "
        f"(`v += x` on a float array is such a call); write `v = v + x`, or start from an "
        f"array of the function's own values (e.g. `v = x * 0.0`)")


# ---------------------------------------------------------------------------------------------
# results: object arrays back into expressions and ExprArrays

def _has_expr(a: np.ndarray) -> bool:
    return a.dtype == object and any(isinstance(v, Expr) for v in a.reshape(-1).tolist())


def _float_dtype(args: Sequence[Any]) -> np.dtype:
    """The dtype a result takes when the primitive has no shape rule: that of its tracers."""
    dts = [a.dtype for a in args if isinstance(a, Tracer) and a.dtype.kind == "f"]
    return np.result_type(*dts) if dts else np.dtype("float64")


def scalar_result(v: Any, dtype: np.dtype | None) -> Any:
    """A scalar result: an expression, a 0-d ExprArray when its dtype is not the expression's
    (float32), or a NumPy number."""
    if isinstance(v, Expr):
        if dtype is None or dtype == v.dtype or dtype.kind not in "f":
            return v
        return ExprArray(object_scalar(v).view(np.ndarray), dtype)
    if dtype is not None and isinstance(v, (int, float, np.number, np.bool_)):
        return np.asarray(v, dtype=dtype)[()]
    return v


def array_result(a: Any, dtype: np.dtype | None, args: Sequence[Any] = ()) -> Any:
    """A primitive's result computed on object arrays, as the symbolic interpreter returns it."""
    if isinstance(a, SymbolArray):
        a = a.view(np.ndarray)
    if not isinstance(a, np.ndarray):
        return scalar_result(a, dtype)
    if a.ndim == 0:
        return scalar_result(a[()], dtype)
    if a.dtype != object:
        return a if dtype is None else a.astype(dtype, copy=False)
    items = a.reshape(-1).tolist()
    if any(isinstance(v, np.ndarray) for v in items):
        # NumPy stores a 0-d array assigned into an object array as it is (scatter_add's
        # `z[idx] = ct`): its element is what the array holds
        for k, v in enumerate(items):
            while isinstance(v, np.ndarray) and v.ndim == 0:
                v = v[()]
            items[k] = v
        fixed = np.empty(len(items), dtype=object)
        fixed[:] = items
        a = fixed.reshape(a.shape)
    if dtype is None:
        flat = [v for v in a.reshape(-1).tolist() if isinstance(v, Expr)]
        all_bool = flat and all(v.dtype == np.dtype(bool) for v in flat)
        dtype = np.dtype(bool) if all_bool else _float_dtype(args)
    if not _has_expr(a):
        return np.array(a.tolist(), dtype=dtype).reshape(a.shape)
    return ExprArray(a, dtype)


def _declared(prim: Primitive, args: Sequence[Any], params: dict[str, Any]) -> Any:
    """The dtype(s) the primitive's shape rule gives (None where it has none or fails)."""
    if prim.abstract_eval is None:
        return None
    try:
        got = prim.abstract_eval(*args, **params)
    except Exception:  # noqa: BLE001 - a shape rule that cannot read object arrays: infer
        return None
    if isinstance(got, list):
        return [_usable(d) for _, d in got]
    return _usable(got[1])


def _usable(d: Any) -> np.dtype | None:
    d = np.dtype(d)
    return None if d == np.dtype(object) else d


def _is_scalar(a: Any) -> bool:
    if isinstance(a, Expr):
        return True
    if isinstance(a, ExprArray):
        return a.arr.ndim == 0
    if isinstance(a, np.ndarray):
        return a.ndim == 0
    return isinstance(a, (int, float, bool, np.number, np.bool_))


def _scalar_of(a: Any) -> Any:
    if isinstance(a, ExprArray):
        return a.arr[()]
    if isinstance(a, np.ndarray):
        return a[()]
    return a


# ---------------------------------------------------------------------------------------------
# the interpreter's dispatch

_HANDLERS: dict[str, Callable[[Primitive, tuple[Any, ...], dict[str, Any]], Any]] = {}


_PER_ELEMENT_NAMES = ("stop_gradient", "strong_mask")
_F8 = np.dtype("float64")
_BOOL = np.dtype(bool)
_SHAPE_RULES: list[Any] = []  # elementwise and predicate shape rules, filled on first use


def _fast_scalar(prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
    """The commonest call, an elementwise primitive on expressions and Python numbers, without
    the general path's checks (simplify and diff make millions of them); None otherwise."""
    if not _SHAPE_RULES:
        _SHAPE_RULES[:] = [E._abstract_elementwise, E._abstract_predicate]
    rule = E.shape_rule(prim)
    if rule is not _SHAPE_RULES[0] and rule is not _SHAPE_RULES[1]:
        return None
    nodes = []
    floating = False
    for a in args:
        if isinstance(a, Expr):
            floating = floating or a._dtype == _F8
            nodes.append(a)
        elif type(a) is float:
            floating = True
            nodes.append(Const(a))
        elif type(a) is int:
            nodes.append(Const(a))
        else:
            return None
    dtype: np.dtype
    if rule is _SHAPE_RULES[1]:
        dtype = _BOOL
    elif floating:
        dtype = _F8
    else:
        dtype = np.dtype(rule(*nodes, **params)[1])
    return Apply.make(prim, tuple(nodes), params, dtype)


def process(prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
    """What the symbolic interpreter does with one primitive applied to `args`."""
    handler = _HANDLERS.get(prim.name)
    if handler is not None:
        return handler(prim, args, params)
    fast = _fast_scalar(prim, args, params)
    if fast is not None:
        return fast
    if prim.abstract_eval is None and prim.multiple_results:
        # checkpoint: its function is chainrule code, traced through (it does not change the
        # derivative, only what reverse mode stores)
        return prim.impl(*args, **params)
    if all(_is_scalar(a) for a in args):
        return _scalar(prim, args, params)
    if E.shape_rule(prim) is not None or prim.name in _PER_ELEMENT_NAMES:
        return _per_element(prim, args, params)
    return run_on_objects(prim, args, params)


def _scalar(prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
    if prim.multiple_results:
        return run_on_objects(prim, args, params)
    values = tuple(_scalar_of(a) for a in args)
    nodes = tuple(as_expr(v, prim.name) for v in values)
    if prim.abstract_eval is None:  # single-result without shape rule
        node = Apply.make(prim, nodes, params, nodes[0].dtype if nodes else np.dtype("f8"))
    else:
        shape, dtype = prim.abstract_eval(*nodes, **params)
        if tuple(shape) != ():  # a scalar made into an array (broadcast_to, reshape)
            return run_on_objects(prim, args, params)
        node = Apply.make(prim, nodes, params, np.dtype(dtype))
    if any(isinstance(a, ExprArray) for a in args):  # a float32 scalar among the operands
        return scalar_result(node, _declared(prim, args, params))
    return node


def _per_element(prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
    """An elementwise primitive on arrays: one scalar node per element of the result."""
    objs = [elements(a) for a in args]
    if prim.name == "strong_mask":  # ct and r broadcast into t's shape
        shape = objs[2].shape
    else:
        shape = np.broadcast_shapes(*(o.shape for o in objs))
    objs = [np.broadcast_to(o, shape) for o in objs]
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(*shape):
        elems = tuple(o[idx] for o in objs)
        if any(isinstance(e, Expr) for e in elems):
            out[idx] = _scalar(prim, elems, params)
        else:
            out[idx] = prim.impl(*elems, **params)
    return array_result(out, _declared(prim, args, params), args)


def _objects_for_impl(a: Any) -> Any:
    if isinstance(a, ExprArray):
        return a.arr.view(SymbolArray)
    if isinstance(a, Expr):
        return object_scalar(a)
    if isinstance(a, (list, tuple)):
        return type(a)(_objects_for_impl(v) for v in a)
    return a


def run_on_objects(prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
    """The primitive's NumPy implementation run on object arrays of expressions (NumPy then
    applies chainrule's functions element by element); a failure there is a SymbolicError
    naming the primitive."""
    wrapped = [_objects_for_impl(a) for a in args]
    try:
        r = prim.impl(*wrapped, **params)
    except ChainruleError:
        raise
    except Exception as exc:  # noqa: BLE001 - NumPy's own errors on object arrays
        raise refusal(exc, f"chainrule's '{prim.name}' (NumPy on an array of symbols)") \
            from exc
    declared = _declared(prim, args, params)
    if prim.multiple_results:
        dts = declared if isinstance(declared, list) else [None] * len(r)
        return [array_result(v, d, args) for v, d in zip(r, dts)]
    return array_result(r, declared, args)


def handles(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        for n in names:
            _HANDLERS[n] = fn
        return fn
    return register


def private_primitive(name: str, impl: Callable[..., Any],
                      abstract_eval: Callable[..., Any] | None) -> Primitive:
    """A primitive of the symbolic engine's own expressions. It is not entered in the registry
    of the rule table (it never appears in a program another engine runs, and the rule table's
    tests enrol exactly the library's primitives)."""
    p = Primitive(name, impl, abstract_eval)
    REGISTRY.pop(name, None)
    return p


# ---------------------------------------------------------------------------------------------
# max and min: one n-ary node per output element, ties sharing the derivative evenly

def _max_of_impl(*xs: Any) -> Any:
    return functools.reduce(np.maximum, xs)


def _max_of_abstract(*xs: Any) -> tuple[tuple[int, ...], np.dtype]:
    return E._abstract_elementwise(*xs)


def _max_of_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    m = max_of_p.bind(*primals)
    hits = [E.equal(x, m) for x in primals]
    parts = [E.select(h, t, 0.0) for h, t in zip(hits, tangents) if t is not Zero]
    if not parts:
        return m, Zero
    count = functools.reduce(E.add, [E.select(h, 1.0, 0.0) for h in hits])
    return m, E.div(functools.reduce(E.add, parts), count)


def _max_of_batch(args: list[Any], batched: tuple[bool, ...]) -> Any:
    return max_of_p.bind(*align_batched(args, batched))


#: max(x_1, ..., x_n): the value of np.max over those elements; its derivative is the mean of
#: the tangents of the elements equal to the maximum (the rule table's convention for `max`)
max_of_p = private_primitive("max_of", _max_of_impl, _max_of_abstract)
def_rule(max_of_p, jvp=_max_of_jvp, batch=_max_of_batch)


def max_of(items: Sequence[Any]) -> Any:
    """The maximum of scalars (expressions or numbers) as one node."""
    if len(items) == 1:
        return items[0]
    if not any(isinstance(v, Expr) for v in items):
        return _max_of_impl(*items)
    nodes = tuple(as_expr(v, "max") for v in items)
    dtype = np.dtype(bool) if all(n.dtype == np.dtype(bool) for n in nodes) else \
        np.dtype("float64")
    return Apply.make(max_of_p, nodes, {}, dtype)


def _lanes(x: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, tuple[int, ...]]:
    """`x` with the `axes` moved last and flattened into one: (kept shape..., n)."""
    keep = [d for d in range(x.ndim) if d not in axes]
    moved = np.transpose(x, keep + list(axes))
    kept = tuple(x.shape[d] for d in keep)
    return moved.reshape(kept + (math.prod(x.shape[d] for d in axes),)), kept


@handles("max")
def _max(prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
    (x,) = args
    axis, keepdims = params["axis"], params["keepdims"]
    a = elements(x)
    lanes, kept = _lanes(a, axis)
    if lanes.shape[-1] == 0:
        raise ValueError("zero-size array to reduction operation maximum which has no identity")
    out = np.empty(kept, dtype=object)
    for idx in np.ndindex(*kept):
        out[idx] = max_of(lanes[idx].tolist())
    if keepdims:
        out = out.reshape(tuple(1 if d in axis else s for d, s in enumerate(a.shape)))
    return array_result(out, dtype_of(x), args)


# ---------------------------------------------------------------------------------------------
# sort: each output element picks, with `where`, the element of its rank in the stable order

def _sorted_lane(items: list[Any]) -> list[Any]:
    n = len(items)
    if n < 2:
        return items
    nan = [E.isnan_p.bind(v) if isinstance(v, Expr) else bool(np.isnan(v)) for v in items]

    def before(j: int, i: int) -> Any:
        """Whether items[j] sorts before items[i] (NaN last, ties in the original order)."""
        lt = E.logical_or_p.bind(E.less_p.bind(items[j], items[i]),
                                 E.logical_and_p.bind(nan[i], E.logical_not_p.bind(nan[j])))
        if j > i:
            return lt
        same = E.logical_or_p.bind(E.equal(items[j], items[i]),
                                   E.logical_and_p.bind(nan[i], nan[j]))
        return E.logical_or_p.bind(lt, same)

    ranks = []
    for i in range(n):
        terms = [E.select(before(j, i), 1.0, 0.0) for j in range(n) if j != i]
        ranks.append(functools.reduce(E.add, terms))
    out = []
    for k in range(n):
        acc = items[n - 1]
        for i in range(n - 2, -1, -1):
            acc = E.select(E.equal(ranks[i], float(k)), items[i], acc)
        out.append(acc)
    return out


@handles("sort")
def _sort(prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
    (x,) = args
    a = np.moveaxis(elements(x), params["axis"], -1)
    out = np.empty(a.shape, dtype=object)
    for idx in np.ndindex(*a.shape[:-1]):
        for k, v in enumerate(_sorted_lane(a[idx].tolist())):
            out[idx + (k,)] = v
    return array_result(np.moveaxis(out, -1, params["axis"]), dtype_of(x), args)


@handles("argsort")
def _argsort(prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
    raise unsupported("argsort (or argmax, argmin) of symbols",
                      "the result is an integer index that depends on the values, which a "
                      "closed-form expression cannot be; cnp.sort, cnp.max and cnp.where "
                      "work on symbols")


@handles("gather", "gather_add")
def _gather(prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
    if any(isinstance(a, (Expr, ExprArray)) for a in args[1:]):
        # NumPy's kind of error for an index it cannot use, and a SymbolicError saying why
        raise _refusal_class(IndexError())(
            f"indexing with symbols (a boolean mask such as x[x > 0], or an index computed "
            f"from the values) at {_user_line()}: the result's shape or elements depend on the "
            f"values, which a closed-form expression cannot; write the selection with "
            f"cnp.where (e.g. cnp.sum(cnp.where(x > 0, x, 0.0) ** 2)), or use "
            f"method='overload'")
    return run_on_objects(prim, args, params)


# ---------------------------------------------------------------------------------------------
# linear algebra in closed form, for small matrices

#: the largest matrix whose determinant is expanded (the expansion has about n 2^n products)
MAX_CLOSED_FORM = 8


def _square(a: np.ndarray, name: str) -> int:
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise np.linalg.LinAlgError(
            f"Last 2 dimensions of the array must be square (numpy.linalg.{name})")
    n = a.shape[-1]
    if n > MAX_CLOSED_FORM:
        raise unsupported(f"numpy.linalg.{name} of a {n}x{n} matrix of symbols",
                          f"its closed form grows as 2^n (symbolic writes it for n <= "
                          f"{MAX_CLOSED_FORM})")
    return n


def _is_zero(v: Any) -> bool:
    return not isinstance(v, Expr) and v == 0


class _Minors:
    """Determinants of the square submatrices of `m`, each expanded along its first row and
    computed once (the cofactors of `inv` share their minors)."""

    def __init__(self, m: np.ndarray) -> None:
        self.m = m
        self.memo: dict[tuple[tuple[int, ...], tuple[int, ...]], Any] = {}

    def __call__(self, rows: tuple[int, ...], cols: tuple[int, ...]) -> Any:
        if not rows:
            return 1.0
        key = (rows, cols)
        if key in self.memo:
            return self.memo[key]
        r, rest = rows[0], rows[1:]
        acc: Any = None
        for k, c in enumerate(cols):
            a = self.m[r, c]
            if _is_zero(a):
                continue
            sub = self(rest, cols[:k] + cols[k + 1:])
            if _is_zero(sub):
                continue
            term = a * sub
            if acc is None:
                acc = term if k % 2 == 0 else -term
            else:
                acc = acc + term if k % 2 == 0 else acc - term
        self.memo[key] = 0.0 if acc is None else acc
        return self.memo[key]


def _det2(m: np.ndarray) -> Any:
    n = m.shape[0]
    return _Minors(m)(tuple(range(n)), tuple(range(n)))


def _adjugate(m: np.ndarray) -> tuple[np.ndarray, Any]:
    """The adjugate and the determinant of the square matrix `m`."""
    n = m.shape[0]
    minors = _Minors(m)
    full = tuple(range(n))
    det = minors(full, full)
    adj = np.empty((n, n), dtype=object)
    for i in range(n):
        for j in range(n):
            c = minors(full[:j] + full[j + 1:], full[:i] + full[i + 1:])
            adj[i, j] = c if (i + j) % 2 == 0 else -c
    return adj, det


def _batched(a: np.ndarray, core: int) -> Iterator[tuple[int, ...]]:
    return np.ndindex(*a.shape[:a.ndim - core])


@handles("det")
def _det(prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
    (x,) = args
    a = elements(x)
    _square(a, "det")
    out = np.empty(a.shape[:-2], dtype=object)
    for idx in _batched(a, 2):
        out[idx] = _det2(a[idx])
    return array_result(out, dtype_of(x), args)


@handles("inv")
def _inv(prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
    (x,) = args
    a = elements(x)
    _square(a, "inv")
    out = np.empty(a.shape, dtype=object)
    for idx in _batched(a, 2):
        adj, det = _adjugate(a[idx])
        for i, j in np.ndindex(*adj.shape):
            out[idx + (i, j)] = adj[i, j] / det
    return array_result(out, dtype_of(x), args)


@handles("solve")
def _solve(prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
    """x = adj(a) b / det(a) (Cramer's rule); b is a vector when it is 1-D (NumPy 2)."""
    x, y = args
    a, b = elements(x), elements(y)
    n = _square(a, "solve")
    vector = b.ndim == 1
    bm = b[:, None] if vector else b
    if bm.shape[-2] != n:
        raise ValueError(f"solve: the right-hand side has {bm.shape[-2]} rows for a {n}x{n} "
                         f"matrix")
    batch = np.broadcast_shapes(a.shape[:-2], bm.shape[:-2])
    a = np.broadcast_to(a, batch + a.shape[-2:])
    bm = np.broadcast_to(bm, batch + bm.shape[-2:])
    out = np.empty(batch + bm.shape[-2:], dtype=object)
    for idx in np.ndindex(*batch):
        adj, det = _adjugate(a[idx])
        rhs = bm[idx]
        for i, k in np.ndindex(n, rhs.shape[1]):
            acc: Any = 0.0
            for j in range(n):
                if not (_is_zero(adj[i, j]) or _is_zero(rhs[j, k])):
                    acc = adj[i, j] * rhs[j, k] if _is_zero(acc) else acc + adj[i, j] * rhs[j, k]
            out[idx + (i, k)] = acc / det
    if vector:
        out = out[..., 0]
    return array_result(out, np.result_type(dtype_of(x), dtype_of(y)), args)


@handles("slogdet")
def _slogdet(prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
    (x,) = args
    a = elements(x)
    _square(a, "slogdet")
    sign = np.empty(a.shape[:-2], dtype=object)
    logabs = np.empty(a.shape[:-2], dtype=object)
    for idx in _batched(a, 2):
        d = _det2(a[idx])
        sign[idx] = E.sign(d)
        logabs[idx] = E.log(E.abs(d))
    dt = dtype_of(x)
    return [array_result(sign, dt, args), array_result(logabs, dt, args)]


@handles("cholesky")
def _cholesky(prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
    """The Cholesky recurrence, reading the lower triangle as LAPACK does (so the derivative
    is the rule table's: with respect to symmetric perturbations of that triangle)."""
    (x,) = args
    a = elements(x)
    n = _square(a, "cholesky")
    out = np.empty(a.shape, dtype=object)
    for idx in _batched(a, 2):
        m = a[idx]
        L = np.zeros((n, n), dtype=object)
        for j in range(n):
            s: Any = m[j, j]
            for k in range(j):
                s = s - L[j, k] * L[j, k]
            L[j, j] = E.sqrt(s)
            for i in range(j + 1, n):
                t: Any = m[i, j]
                for k in range(j):
                    t = t - L[i, k] * L[j, k]
                L[i, j] = t / L[j, j]
        out[idx] = L
    return array_result(out, dtype_of(x), args)


_NO_CLOSED_FORM = {
    "eigh": "eigenvalues and eigenvectors (numpy.linalg.eigh, eigvalsh)",
    "svd": "the singular value decomposition (numpy.linalg.svd, pinv, matrix_rank, "
           "lstsq, norm with ord=2 or 'nuc', cond)",
    "svdvals": "singular values (numpy.linalg.svd(compute_uv=False), norm with ord=2 or "
               "'nuc', cond)",
}


@handles(*_NO_CLOSED_FORM)
def _no_closed_form(prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
    raise unsupported(f"{_NO_CLOSED_FORM[prim.name]} of a matrix of symbols",
                      "they are roots of polynomials, with no closed form beyond tiny sizes")


#: whether a source file is NumPy's or chainrule's (not the user's code)

__all__ = ["ExprArray", "elements", "max_of", "process", "refusal",
           "unsupported"]
