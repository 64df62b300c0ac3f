"""Primitives, `bind`, and the interpreter stack.

A primitive is one operation chainrule knows how to differentiate. `bind` is the single entry point
every operation goes through: it finds the innermost interpreter ("trace") among its arguments and
lets it handle the primitive; when no argument is traced it calls the NumPy implementation directly.

Interpreters nest by *level*. Every transform opens a trace one level above the innermost one
that is active in this thread; a tracer of a lower level met inside a higher trace is an
ordinary constant to that trace. This is what keeps `grad(grad(f))` from confusing its two
perturbations.
"""
from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np

from .errors import ConcretizationError, LeakedTracerError, RegistrationError

#: every primitive ever created, by name (registration is loud: a second one with a name raises)
REGISTRY: dict[str, Primitive] = {}


T = TypeVar("T")


class Primitive:
    """One operation and its rules (attached with `rules.def_rule`, beside the primitive)."""

    __slots__ = ("name", "impl", "abstract_eval", "jvp", "vjp", "transpose", "batch",
                 "multiple_results", "nondiff", "__weakref__")

    def __init__(self, name: str, impl: Callable[..., Any],
                 abstract_eval: Callable[..., Any] | None = None, *,
                 multiple_results: bool = False) -> None:
        if name in REGISTRY:
            raise RegistrationError(f"a primitive named '{name}' is already registered; "
                                    f"pick another name")
        self.name = name
        self.impl = impl
        self.abstract_eval = abstract_eval
        self.multiple_results = multiple_results
        self.jvp: Callable[..., Any] | None = None
        self.vjp: tuple[Callable[..., Any] | None, ...] | None = None
        self.transpose: tuple[Callable[..., Any] | None, ...] | None = None
        self.batch: Callable[..., Any] | None = None
        self.nondiff = False
        REGISTRY[name] = self

    def bind(self, *args: Any, **params: Any) -> Any:
        top = None
        for a in args:
            if isinstance(a, Tracer):
                t = a._trace
                if top is None or t.level > top.level:
                    top = t
                elif t is not top and t.level == top.level:
                    raise LeakedTracerError(_leak_message(self.name))
        if top is None:
            return self.impl(*args, **params)
        return top.process(self, args, params)

    # Fast paths for the commonest calls (one or two arguments, no parameters), the same logic as
    # `bind` without building *args and **params: operators and elementwise functions use them.
    def bind1(self, x: Any) -> Any:
        if isinstance(x, Tracer):
            return x._trace.process(self, (x,), _NO_PARAMS)
        return self.impl(x)

    def bind2(self, x: Any, y: Any) -> Any:
        if isinstance(x, Tracer):
            top = x._trace
            if isinstance(y, Tracer):
                other = y._trace
                if other.level > top.level:
                    top = other
                elif other is not top and other.level == top.level:
                    raise LeakedTracerError(_leak_message(self.name))
            return top.process(self, (x, y), _NO_PARAMS)
        if isinstance(y, Tracer):
            return y._trace.process(self, (x, y), _NO_PARAMS)
        return self.impl(x, y)

    def __repr__(self) -> str:
        return f"Primitive({self.name!r})"


_NO_PARAMS: dict[str, Any] = {}  # shared, never mutated


def dead_trace_message(name: str) -> str:
    return (f"primitive '{name}' received a traced value whose transform has already finished: "
            f"it escaped (through a global, a closure, or an attribute) and was used later. "
            f"Return it from the transformed function instead")


def _leak_message(name: str) -> str:
    return (f"primitive '{name}' received values traced by two different transforms at the same "
            f"level: a traced value escaped the transform that created it (stored in a global or "
            f"a closure and used later). Return it from the function instead.")


class Trace:
    """An interpreter at one level. Subclasses implement `process`."""

    __slots__ = ("level", "active")
    #: an abstract interpreter has no values (a graph being built): Python control flow cannot
    #: run under it, so the structured control functions record themselves as equations
    abstract = False

    def __init__(self, level: int) -> None:
        self.level = level
        self.active = True

    def process(self, prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
        raise NotImplementedError


class Tracer:
    """A value carried through an interpreter. NumPy's operators and methods are installed on this
    class by `chainrule.numpy`, so user code treats it like an array."""

    __slots__ = ("_trace",)
    __array_priority__ = 1000
    _trace: Trace

    @property
    def shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    @property
    def dtype(self) -> np.dtype:
        raise NotImplementedError

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d traced array")
        return self.shape[0]

    # What each interpreter holds underneath (subclasses override):
    #   _below()      the value one level down, None when the tracer is abstract (a graph);
    #   _concrete()   the same, but only where it *is* this tracer's value: not for a vmap batch,
    #                 whose value holds many examples (a bool of it has no single answer);
    #   _refuse(what) raise the interpreter's own explanation of why it has no value.
    def _below(self) -> Any:
        return None

    _concrete: Any = None

    def _refuse(self, what: str) -> None:
        raise ConcretizationError(
            f"{what} needs a concrete value, but this value is traced abstractly "
            f"({type(self).__name__}); Python control flow cannot depend on it here. Use "
            f"cr.cond / cr.while_loop, or cnp.where for elementwise choices")


def concrete_value(x: Any, what: str) -> Any:
    """The plain value under every interpreter wrapping `x`, for Python control flow (bool,
    int, an argsort); raises ConcretizationError where an interpreter has no single value."""
    while isinstance(x, Tracer):
        get = x._concrete
        if get is None:
            x._refuse(what)
        x = get()
    return x


def innermost_value(x: Any) -> Any:
    """The array under every interpreter wrapping `x` (for a vmap batch: all its examples), or
    None when some interpreter is abstract (a graph being built)."""
    while isinstance(x, Tracer):
        x = x._below()
        if x is None:
            return None
    return x


# ---------------------------------------------------------------------------------------------
# levels: a per-thread depth counter, so two threads differentiating at once never share one

class _ThreadState(threading.local):
    def __init__(self) -> None:
        self.depth = 0
        self.staging: list[Trace] = []  # the open abstract traces, innermost last


_state = _ThreadState()


def abstract_trace_active() -> bool:
    """Whether an abstract interpreter (a graph being traced) is open in this thread."""
    return bool(_state.staging)


def staging_trace() -> Trace | None:
    """The innermost abstract interpreter open in this thread (a graph being traced), or None.
    Structured control flow (ops/control.py) hands its functions to it to be staged whole, as
    it cannot run them (`stage_cond`, `stage_while`, `stage_fori`, `stage_scan`)."""
    return _state.staging[-1] if _state.staging else None


@contextlib.contextmanager
def open_trace(cls: Callable[..., T], *args: Any) -> Iterator[T]:
    """Open an interpreter `cls(level, *args)` one level above the innermost active one in this
    thread. On exit the trace is marked inactive, so that a tracer which escaped it (kept in a
    global or a closure) is refused instead of being silently recorded on a finished trace."""
    abstract = bool(getattr(cls, "abstract", False))
    _state.depth += 1
    trace = cls(_state.depth, *args)
    if abstract:
        _state.staging.append(trace)  # type: ignore[arg-type]
    try:
        yield trace
    finally:
        trace.active = False  # type: ignore[attr-defined]
        _state.depth -= 1
        if abstract:
            _state.staging.pop()


# ---------------------------------------------------------------------------------------------
# shape and dtype of anything (arrays, Python scalars, tracers) without touching data

_SCALAR_TYPES = (float, int, bool, complex)

#: NumPy's own values and Python's numbers: what the ufuncs' methods (`np.add.reduce`) take and
#: what generated code may write into (`out=`); other array libraries' arrays (Dask, CuPy) go
#: through the functions every library implements instead
NUMPY_VALUES = frozenset({np.ndarray, np.float64, np.float32, np.complex128, np.complex64,
                          np.int64, np.int32, np.bool_, float, complex, int, bool})


def numpy_values(values: Any) -> bool:
    """Whether every value is NumPy's own or a Python number (see NUMPY_VALUES)."""
    return all(type(v) in NUMPY_VALUES for v in values)


def other_array(x: Any) -> bool:
    """Whether `x` is another array library's array (Dask, CuPy: NEP 18's __array_function__),
    neither NumPy's nor a traced value: zeros for it are made by its own library."""
    return hasattr(x, "__array_function__") and not isinstance(x, (np.ndarray, np.generic,
                                                                    Tracer))


def scalar(value: Any, dtype: Any) -> Any:
    """A constant number of `dtype` as a NumPy scalar, the one kind of NumPy value every array
    library mixes with (CuPy refuses a 0-d NumPy array among its operands)."""
    return np.dtype(dtype).type(value)


def library_array(x: Any) -> Any:
    """Another library's array (Dask, CuPy) where `x` is one or a tracer holds one underneath;
    else None (NumPy's own values, numbers, a graph's placeholders)."""
    v = innermost_value(x) if isinstance(x, Tracer) else x
    return v if other_array(v) else None


def in_library_of(x: Any, value: Any) -> Any:
    """`value`, a NumPy constant, as an array of `x`'s library where that is another one (NEP
    35's `like=`: CuPy will not mix its arrays with NumPy's); else `value` itself."""
    like = library_array(x)
    return value if like is None else np.asarray(value, like=like)


def shape_of(x: Any) -> tuple[int, ...]:
    if type(x) in _SCALAR_TYPES:
        return ()
    s = getattr(x, "shape", None)
    if s is not None:
        return tuple(s)
    return np.shape(x)


def ndim_of(x: Any) -> int:
    n = getattr(x, "ndim", None)
    if n is not None:
        return int(n)
    return int(np.ndim(x))


def zeros_like(x: Any) -> Any:
    """A constant array of zeros with `x`'s shape and dtype (never traced: `x` may be a tracer
    or a Python number; another library's array gets its own library's zeros)."""
    like = library_array(x)
    if like is None:
        return np.zeros(shape_of(x), dtype_of(x))
    return np.zeros(shape_of(x), dtype_of(x), like=like)


def dtype_of(x: Any) -> np.dtype:
    d = getattr(x, "dtype", None)
    if d is not None:
        return np.dtype(d)
    if isinstance(x, (str, bytes)):  # (np.result_type would read the text as a dtype's name)
        return np.dtype(type(x))
    return np.result_type(x)
