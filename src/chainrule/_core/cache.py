"""What a cached transform may reuse: the one cache-key mechanism and the one bounded cache.

An engine that turns a user's function into something reusable (a compiled graph, generated
source, a symbolic expression) has read values the function closes over or finds in its module
while it did so: a global `SCALE`, an array `W`, a list in a closure cell, a helper function, an
attribute of a config object. Reusing the result after one of those changed would silently give
the derivative of the old function. So every such cache keeps, beside its entries, the `Reads`
of the function: each value the function's code can reach from outside its arguments, as it was
when the entries were made, and checks it again before an entry is used:

- closure cells and the globals the code loads (`LOAD_GLOBAL`), including those of the
  functions, lambdas and comprehensions it defines, and of the user functions it reaches
  (helpers it calls, the function inside a transform's wrapper);
- inside those values: the items of tuples, lists and dicts, and the attributes the code reads
  (`LOAD_ATTR`) from objects it reaches (`cfg.scale`, `self.W`);
- identity for everything, and the contents of what can change in place without a new
  identity: NumPy arrays are compared with a copy kept for the purpose (a few microseconds per
  thousand elements), lists and dicts item by item.

Modules, classes and library functions (NumPy, chainrule itself) are compared by identity only.
What the code reaches another way (a random draw, a file it reads) cannot be checked: a
transform that bakes values in documents that.
"""
from __future__ import annotations

import collections
import dis
import gc
import types
import weakref
from collections.abc import Hashable
from typing import Any

import numpy as np

from .errors import in_library

#: modules whose functions are never looked into: their globals are a library's, not the user's
_LIBRARIES = ("numpy", "scipy", "chainrule", "builtins", "math", "operator", "functools",
              "itertools", "collections", "abc", "typing", "dask", "cupy", "sympy")
#: beyond these, a container's items are not compared (its identity still is)
_MAX_ITEMS = 4096
_MAX_DEPTH = 6
_MISSING = object()


def leaf_key(x: Any, bake: bool = False, python_apart: bool = False) -> Hashable:
    """What of an argument leaf cached work depends on, the one key every engine's cache uses:
    the shape and dtype of a floating-point array or number (an input of the cached code); with
    `bake` the whole value of an integer or boolean array (baked into the cached code), else its
    shape and dtype; the value of anything else (its repr where it cannot be hashed). With
    `python_apart`, a Python float or complex is keyed apart from NumPy's (for code that returns
    a number where it was given one)."""
    t = type(x)
    if t is np.ndarray:
        if x.dtype.kind in "fc" or not bake:
            return (x.shape, x.dtype.char)
        return ("array", x.dtype.str, x.shape, x.tobytes())
    if python_apart and (t is float or t is complex):
        return t.__name__
    d = getattr(x, "dtype", None)
    if d is not None and not isinstance(x, bool) and np.dtype(d).kind in "fc":
        if t is np.float64 or t is np.float32 or t is np.complex128 or t is np.complex64:
            return (tuple(getattr(x, "shape", ())), np.dtype(d).char)
        # another array library's array (Dask, CuPy): code for it is made apart (see jit)
        return (tuple(getattr(x, "shape", ())), np.dtype(d).char, t)
    if t is float or t is complex:
        return ((), np.result_type(x).char)
    try:
        hash(x)
        return (t.__name__, x)
    except TypeError:
        return ("repr", t.__name__, repr(x))


class collector_paused:  # noqa: N801 - a context, used as `with collector_paused():`
    """The cyclic garbage collector held off while code is built (a graph traced and compiled,
    a function's source transformed): building makes hundreds of thousands of short-lived,
    acyclic objects (AST nodes, graph equations), and each collection pass over a heap that
    large (a process with torch or jax loaded, say) costs more than the building itself
    (a 10,000-line function's source transform: 4.9 -> 4.1 s). Reference counting frees
    them as usual; the collector runs again when the context ends."""

    __slots__ = ("_enabled",)

    def __enter__(self) -> None:
        self._enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self._enabled:
            gc.enable()


class BoundedCache:
    """A mapping that keeps its `maxsize` most recently used entries (least recently used
    first out). Every cache of the library is one of these, so none grows without bound."""

    __slots__ = ("maxsize", "_data")

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"BoundedCache: maxsize must be at least 1, got {maxsize}")
        self.maxsize = maxsize
        self._data: collections.OrderedDict[Hashable, Any] = collections.OrderedDict()

    def get(self, key: Hashable, default: Any = None) -> Any:
        try:
            value = self._data[key]
        except KeyError:
            return default
        self._data.move_to_end(key)
        return value

    def __setitem__(self, key: Hashable, value: Any) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        if len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        self._data.clear()


# ---------------------------------------------------------------------------------------------
# what a function's code reads

_CODE_NAMES = BoundedCache(4096)  # code object -> (global names, attribute names)


def _code_names(code: types.CodeType) -> tuple[tuple[str, ...], frozenset[str]]:
    """The globals a code object (and the code objects defined inside it) loads, and the
    attribute names it reads."""
    got = _CODE_NAMES.get(code)
    if got is not None:
        return got
    globals_: dict[str, None] = {}
    attrs: set[str] = set()
    stack = [code]
    while stack:
        c = stack.pop()
        for ins in dis.get_instructions(c):
            if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
                globals_[ins.argval] = None
            elif ins.opname in ("LOAD_ATTR", "LOAD_METHOD"):
                attrs.add(ins.argval)
        stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    got = (tuple(globals_), frozenset(attrs))
    _CODE_NAMES[code] = got
    return got




def _library(obj: Any) -> bool:
    code = getattr(obj, "__code__", None)
    if code is not None and in_library(code.co_filename, numpy=False):
        return True  # (chainrule's own wrappers carry the user's __module__: functools.wraps)
    module = getattr(obj, "__module__", None) or ""
    return module.split(".")[0] in _LIBRARIES


class Reads:
    """The values a function reads from outside its arguments, as they were when this was made.
    `unchanged()` tells whether they still are."""

    __slots__ = ("_checks", "_seen", "_attrs")

    def __init__(self, fn: Any) -> None:
        # each check: (kind, holder, key, value, saved copy); see `_ok`
        self._checks: list[tuple[str, Any, Any, Any, Any]] = []
        self._seen: set[int] = set()
        self._attrs: frozenset[str] = frozenset()
        self._value(fn, 0)
        del self._seen

    # -- building --------------------------------------------------------------------------------
    def _function(self, fn: types.FunctionType, depth: int) -> None:
        code = fn.__code__
        names, attrs = _code_names(code)
        self._attrs = self._attrs | attrs
        for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell (assigned later in the enclosing function)
                value = _MISSING
            self._checks.append(("cell", cell, name, value, _saved(value)))
            self._value(value, depth + 1)
        if _library(fn):  # (a library's own globals do not change between calls)
            return
        g = fn.__globals__
        for name in names:
            value = g.get(name, _MISSING)
            self._checks.append(("global", g, name, value, _saved(value)))
            self._value(value, depth + 1)
        for d in (fn.__defaults__ or ()):
            self._value(d, depth + 1)

    def _value(self, v: Any, depth: int) -> None:
        if depth > _MAX_DEPTH or v is None or v is _MISSING or type(v) in _ATOMS:
            return
        if id(v) in self._seen:
            return
        self._seen.add(id(v))
        if isinstance(v, (types.ModuleType, type)):
            return
        if isinstance(v, np.ndarray):  # (can change in place: its contents are compared)
            self._checks.append(("content", None, None, v, v.copy()))
        elif isinstance(v, types.FunctionType):
            self._function(v, depth)
        elif isinstance(v, types.MethodType):
            self._value(v.__func__, depth)
            self._value(v.__self__, depth)
        elif type(v).__name__ == "partial" and hasattr(v, "func"):
            self._value(v.func, depth)
            for a in tuple(v.args) + tuple(v.keywords.values()):
                self._value(a, depth + 1)
        elif isinstance(v, (tuple, list)):
            for item in v[:_MAX_ITEMS]:
                self._value(item, depth + 1)
        elif isinstance(v, dict):
            for item in list(v.values())[:_MAX_ITEMS]:
                self._value(item, depth + 1)
        elif not isinstance(v, np.generic) and not _library(type(v)):
            # an object of the user's: the attributes the code reads from it, and its
            # __call__ when it is called
            state = getattr(v, "__dict__", None)
            if isinstance(state, dict):
                for name in self._attrs & state.keys():
                    value = state[name]
                    self._checks.append(("attr", state, name, value, _saved(value)))
                    self._value(value, depth + 1)
            call = type(v).__call__ if callable(v) else None
            if isinstance(call, types.FunctionType):
                self._value(call, depth + 1)

    # -- checking --------------------------------------------------------------------------------
    def unchanged(self) -> bool:
        # (runs on every call of a compiled function: identity first, the rest when it fails)
        for kind, holder, key, value, saved in self._checks:
            if kind == "content":
                if not _same_array(value, saved):
                    return False
                continue
            if kind == "cell":
                try:
                    now = holder.cell_contents
                except ValueError:
                    now = _MISSING
            else:
                now = holder.get(key, _MISSING)
            if now is not value and not _same_item(now, value):
                return False
            if saved is not None and not _same(now, saved):
                return False
        return True

    def __len__(self) -> int:
        return len(self._checks)

    def values(self) -> list[Any]:
        """The values read, as they were (closure cells, globals, attributes, arrays)."""
        return [value for _, _, _, value, _ in self._checks if value is not _MISSING]


_ATOMS = (bool, int, float, complex, str, bytes, range, slice, type(Ellipsis))


def _saved(v: Any) -> Any:
    """What to compare a list or dict with later, item by item (it can change in place without
    a new identity); None for anything else (arrays have checks of their own)."""
    if isinstance(v, list) and len(v) <= _MAX_ITEMS:
        return list(v)
    if isinstance(v, dict) and len(v) <= _MAX_ITEMS:
        return list(v.items())
    return None


def _same_item(a: Any, b: Any) -> bool:
    return a is b or (type(a) is type(b) and type(a) in _ATOMS and a == b)


def _same(now: Any, saved: list[Any]) -> bool:
    if isinstance(now, list):
        return len(now) == len(saved) and all(map(_same_item, now, saved))
    items = list(now.items())
    return len(items) == len(saved) and all(
        _same_item(k, j) and _same_item(v, w) for (k, v), (j, w) in zip(items, saved))


def _same_array(now: np.ndarray, saved: np.ndarray) -> bool:
    if now.shape != saved.shape or now.dtype != saved.dtype:
        return False
    try:
        return bool(np.array_equal(now, saved, equal_nan=now.dtype.kind in "fc"))
    except Exception:  # noqa: BLE001 - (object arrays whose items do not compare)
        return False


class FunctionCache:
    """Entries made from one function (keyed by an input signature, a kind...), all valid while
    what the function reads is unchanged: `get` checks that first, and drops every entry when
    something changed. At most `maxsize` entries. The function itself is not kept (a cache
    held weakly by its function must not keep it alive): pass the `Reads` taken before an
    entry was built to `put`."""

    __slots__ = ("entries", "reads")

    def __init__(self, maxsize: int = 64) -> None:
        self.entries = BoundedCache(maxsize)
        self.reads: Reads | None = None

    def get(self, key: Hashable) -> Any:
        if self.reads is not None and not self.reads.unchanged():
            self.entries.clear()
            self.reads = None
        return self.entries.get(key)

    def put(self, key: Hashable, value: Any, reads: Reads) -> None:
        """Store an entry built from the values `reads` recorded (take it just after building:
        what the build left in place, so that a function changing what it reads while it is
        traced is not rebuilt for it). The first snapshot is the cache's: any entry stored
        while it holds was built from the same values."""
        if self.reads is None:
            self.reads = reads
        self.entries[key] = value

    def __len__(self) -> int:
        return len(self.entries)


class PerFunction:
    """A `FunctionCache` for each function (held weakly: a function that dies takes its entries
    with it): `get_or_build(fn, key, build)` returns the entry for `key`, built by `build()`
    when there is none or when what `fn` reads changed since its entries were built. A
    callable that cannot be referenced weakly is not cached (built every time)."""

    __slots__ = ("_per", "_maxsize")

    def __init__(self, maxsize: int = 16) -> None:
        self._per: weakref.WeakKeyDictionary[Any, FunctionCache] = weakref.WeakKeyDictionary()
        self._maxsize = maxsize

    def get_or_build(self, fn: Any, key: Hashable, build: Any) -> Any:
        try:
            per = self._per.get(fn)
            if per is None:
                per = self._per[fn] = FunctionCache(self._maxsize)
        except TypeError:  # (not weakly referenceable)
            return build()
        got = per.get(key)
        if got is None:
            got = build()
            per.put(key, got, Reads(fn))
        return got
