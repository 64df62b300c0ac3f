"""What every method accepts and returns, decided once (README, "What every method agrees on").

Every engine (overload, graph, source, symbolic, numeric) calls these, so a rule changes in one
place and a user meets the same behaviour and the same message whichever `method=` they pick:

- `argnums` is an int or a tuple of ints (checked when the transform is made), within the
  call's positional arguments (checked at each call); a position may appear twice and then gets
  the same derivative in both slots.
- A differentiated argument that is itself an integer, a boolean or a string is refused with
  `TypeError` naming it and its dtype; such leaves inside a pytree are constants whose slot in
  the result is `None`.
- `grad` needs a real floating-point output with one element (shape `()`, or `(1,)`, `(1, 1)`...
  as PyTorch and autograd accept); anything else is a `TypeError` that says what to use.
- A cotangent or tangent must have the structure and shape of what it belongs to
  (`ValueError` with both); a tangent takes the dtype of its primal.
- A derivative has the dtype of the value it belongs to (float32 stays float32); an input the
  output does not depend on gets zeros, never `None`.
"""
from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import tree
from .errors import ChainruleError
from .primitive import Tracer, dtype_of, library_array, other_array, shape_of, zeros_like

try:  # NumPy 2's error state: a context variable holding an opaque object
    from numpy._core._ufunc_config import _extobj_contextvar  # type: ignore[attr-defined]
    from numpy._core.umath import _make_extobj
except ImportError:  # pragma: no cover - NumPy 1.x
    _extobj_contextvar = None  # (NumPy 1.x: np.seterr below)


#: NumPy error state -> the same with divide, invalid and over ignored (made once each)
_QUIET_OF: dict[Any, Any] = {}


def quiet_on() -> Any:
    """Enter the quiet error state (`quiet`) without a context manager object, for the hot
    path of compiled code; returns the token `quiet_off` takes. np.errstate makes the error
    state again on every entry (about 0.9 µs); this makes it once per state it starts from."""
    if _extobj_contextvar is None:  # pragma: no cover - NumPy 1.x
        return np.seterr(divide="ignore", invalid="ignore", over="ignore")
    now = _extobj_contextvar.get()
    made = _QUIET_OF.get(now)
    if made is None:
        if len(_QUIET_OF) > 32:  # (error states the user set: a handful at most)
            _QUIET_OF.clear()
        made = _QUIET_OF[now] = _make_extobj(divide="ignore", invalid="ignore", over="ignore")
    return _extobj_contextvar.set(made)


def quiet_off(token: Any) -> None:
    """Leave the quiet error state `quiet_on` entered."""
    if _extobj_contextvar is None:  # pragma: no cover - NumPy 1.x: the settings it replaced
        np.seterr(**token)
    else:
        _extobj_contextvar.reset(token)


class _Quiet:
    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = quiet_on()

    def __exit__(self, *exc: Any) -> None:
        quiet_off(self._token)


def quiet() -> Any:
    """A context in which NumPy's floating-point warnings (divide by zero, invalid value,
    overflow) are not printed: every transform computes its derivative in one. A rule's
    partial derivative may be inf or nan on the branch a `where` discards (sqrt'(0) times an
    exact zero), which the result does not keep; what survives shows in the result itself, as
    with PyTorch and JAX. (The function called on its own warns as NumPy does.)"""
    return _Quiet()


#: function chainrule made -> what it runs now (see `set_transform_target`)
_TARGETS: weakref.WeakKeyDictionary[Any, Callable[[], Any]] = weakref.WeakKeyDictionary()


def set_transform_target(wrapper: Callable[..., Any], target: Callable[[], Any]) -> None:
    """Record that `wrapper` (a function chainrule made: a compiled function, a checkpoint, a
    generated gradient) computes what `target()` returns, so that the source engine transforms
    that in its place. Kept beside the function, not as an attribute of it: functools.wraps
    copies attributes onto a wrapper of the wrapper, and a Jacobian of a gradient would then
    pass for the gradient."""
    _TARGETS[wrapper] = target


def transform_target(fn: Any) -> Callable[[], Any] | None:
    """What `set_transform_target` recorded for `fn` itself (None for any other function)."""
    try:
        return _TARGETS.get(fn)
    except TypeError:  # (not weakly referenceable: nothing recorded)
        return None


def fname(f: Callable[..., Any] | str) -> str:
    """The name messages give a function (generated code passes the name itself)."""
    if isinstance(f, str):
        return f
    return getattr(f, "__name__", type(f).__name__)


# ---------------------------------------------------------------------------------------------
# arguments

def argnums_spec(argnums: Any, transform: str) -> int | tuple[int, ...]:
    """`argnums` as given when the transform is made: an int, or a tuple of ints (a list is
    taken as a tuple)."""
    if isinstance(argnums, (int, np.integer)) and not isinstance(argnums, (bool, np.bool_)):
        return int(argnums)
    if isinstance(argnums, (tuple, list)) and argnums and all(
            isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_))
            for i in argnums):
        return tuple(int(i) for i in argnums)
    raise TypeError(f"{transform}: argnums must be an int or a non-empty tuple of ints "
                    f"(positions of the arguments to differentiate), got {argnums!r}")


def resolve_argnums(argnums: int | Sequence[int], nargs: int, transform: str
                    ) -> tuple[int, ...]:
    """The positions `argnums` names in a call with `nargs` positional arguments (negative
    positions count from the end)."""
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not isinstance(i, int) or not -nargs <= i < nargs:
            raise ValueError(f"{transform}: argnums={argnums!r} does not fit a call with {nargs} "
                             f"positional argument(s)")
    return tuple(i % nargs for i in nums)


def refuse_integer(x: Any, i: int, f: Callable[..., Any], transform: str) -> None:
    """A differentiated argument that is a single non-floating value cannot be differentiated."""
    if not isinstance(x, (str, bytes, int, float, complex, bool)) and not hasattr(x, "dtype") \
            and not isinstance(x, (list, tuple, dict)):
        # (an object of the user's own class: a pytree only once registered)
        raise TypeError(
            f"{transform} of {fname(f)}: argument {i} is a {type(x).__name__}, which is not an "
            f"array or a registered pytree; register its class (@cr.tree.register_dataclass "
            f"on a dataclass, or cr.tree.register(cls, flatten, unflatten)) or pass its arrays")
    dt = "str" if isinstance(x, str) else (
        dtype_of(x) if hasattr(x, "dtype") or isinstance(x, (int, float, complex, bool))
        else type(x).__name__)
    raise TypeError(
        f"{transform} of {fname(f)}: argument {i} has dtype {dt}, which cannot be "
        f"differentiated; pass a floating-point value (e.g. 3.0 instead of 3, or "
        f"x.astype(float)) or leave it out of argnums")


def diff_leaves(args: Sequence[Any], nums: tuple[int, ...], f: Callable[..., Any],
                transform: str) -> list[tuple[list[Any], tree.TreeDef]]:
    """Flatten the differentiated arguments; refuse one that is itself not floating point."""
    out = []
    for i in nums:
        a = args[i]
        if a.__class__ is np.ndarray and a.dtype.kind in "fc":  # (the common case)
            out.append(([a], tree.LEAF))
            continue
        leaves, td = tree.flatten(a)
        if td == tree.LEAF and not tree.is_float_leaf(leaves[0]):
            refuse_integer(leaves[0], i, f, transform)
        out.append((leaves, td))
    return out


def call(f: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
    """`f(*args, **kwargs)` on traced values. Where NumPy converts a value on its own (writing
    a traced value into an element of a NumPy array), it replaces chainrule's explanation (an
    InPlaceError with the `cnp.at` fix, a SymbolicError) by its own ValueError ("setting an
    array element with a sequence"), keeping ours as the cause: ours is raised instead."""
    try:
        return f(*args, **kwargs)
    except ValueError as exc:
        # (exactly NumPy's ValueError: an error chainrule raises on purpose from one of its own,
        # to explain it better, is kept as it is)
        if type(exc) is ValueError and isinstance(exc.__cause__, ChainruleError):
            raise exc.__cause__ from None
        raise


# ---------------------------------------------------------------------------------------------
# grad's output

def grad_seed(out: Any, f: Callable[..., Any], transform: str = "grad") -> Any:
    """The cotangent that starts a gradient: ones of the output's shape and dtype, after
    checking that the output is a real floating-point value with one element."""
    if not isinstance(out, (Tracer, float, int, np.ndarray, np.generic)) and \
            not (hasattr(out, "shape") and hasattr(out, "dtype")):
        raise TypeError(f"{transform} of {fname(f)}: the function must return a scalar array, "
                        f"got {type(out).__name__}; use cr.vjp or cr.jacrev for other outputs")
    if type(out) is np.float64 or type(out) is float:  # (the common case, quickly)
        return np.float64(1.0)
    shape = shape_of(out)
    if math.prod(shape) != 1:
        raise TypeError(f"{transform} of {fname(f)}: the output has shape {shape}, but grad "
                        f"needs a scalar; use cr.jacrev (or cr.vjp with a cotangent) for "
                        f"non-scalar outputs, or reduce it (e.g. .sum())")
    dt = dtype_of(out)
    if dt.kind != "f":
        raise TypeError(f"{transform} of {fname(f)}: the output has dtype {dt}; grad needs a "
                        f"real floating-point scalar")
    like = library_array(out)
    if like is not None:  # ("scalar" is 0-d of any library: CuPy's stays on its device)
        return np.ones(shape, dt, like=like)
    return dt.type(1) if not shape else np.ones(shape, dt)


# ---------------------------------------------------------------------------------------------
# cotangents and tangents

def check_cotangent(ct: Any, out: Any, f: Callable[..., Any]) -> list[Any]:
    """The leaves of `ct`, after checking it has the structure and leaf shapes of `out`."""
    ct_leaves, ct_td = tree.flatten(ct)
    out_leaves, out_td = tree.flatten(out)
    if ct_td != out_td:
        raise ValueError(f"vjp: the cotangent has structure {ct_td} but the output of "
                         f"{fname(f)} has structure {out_td}")
    for c, o in zip(ct_leaves, out_leaves):
        if shape_of(c) != shape_of(o):
            raise ValueError(f"vjp: cotangent of shape {shape_of(c)} given for an output of "
                             f"shape {shape_of(o)}; they must match")
    return ct_leaves


def check_tangent(p: Any, t: Any) -> None:
    if shape_of(p) != shape_of(t):
        raise ValueError(f"jvp: tangent of shape {shape_of(t)} given for a primal of shape "
                         f"{shape_of(p)}; they must match")


def checked_tangent(p: Any, t: Any) -> Any:
    """A tangent of the primal's shape and dtype, as a NumPy value (a Python number divides by
    zero with an exception, and cannot be indexed as a NumPy primal can); an integer or
    boolean tangent is refused."""
    check_tangent(p, t)
    if isinstance(t, Tracer):
        return t
    tk = dtype_of(t).kind
    if tk not in "fc" and not isinstance(t, (int, float)):
        raise TypeError(f"jvp: a tangent of dtype {dtype_of(t)} was given for a primal of dtype "
                        f"{dtype_of(p)}; tangents must be floating point")
    dt = dtype_of(p)
    if dtype_of(t) != dt or type(t) in (int, float, complex):
        # (a NumPy number: 0.0 / 0.0 is nan as in the array code, not a ZeroDivisionError)
        t = np.asarray(t, dtype=dt)
        t = t[()] if t.ndim == 0 else t
    return t


def jvp_tangents(primals: Any, tangents: Any, transform: str = "jvp") -> list[list[Any]]:
    """Check `jvp(f, primals, tangents)`'s arguments: two tuples of one length, each tangent of
    its primal's structure and leaf shapes; a primal that is itself an integer is refused.
    Returns, per primal, its leaves' tangents (None for leaves that are not floating point)."""
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError(f"{transform}: primals and tangents must be tuples, e.g. "
                        f"{transform}(f, (x,), (v,))")
    if len(primals) != len(tangents):
        raise ValueError(f"{transform}: {len(primals)} primals but {len(tangents)} tangents")
    out = []
    for k, (p, t) in enumerate(zip(primals, tangents)):
        pl, ptd = tree.flatten(p)
        tl, ttd = tree.flatten(t)
        if ptd != ttd:
            raise ValueError(f"{transform}: tangent structure {ttd} does not match primal "
                             f"structure {ptd}")
        if ptd == tree.LEAF and not tree.is_float_leaf(pl[0]):
            raise TypeError(f"{transform}: primal {k} has dtype {dtype_of(pl[0])}, which cannot "
                            f"be differentiated; pass a floating-point value (e.g. 3.0, not 3)")
        out.append([checked_tangent(a, b) if tree.is_float_leaf(a) else None
                    for a, b in zip(pl, tl)])
    return out


# ---------------------------------------------------------------------------------------------
# results

def zeros(x: Any) -> Any:
    """The derivative of an input the output does not depend on: zeros of its shape and dtype
    (a NumPy scalar for a scalar, as gradients are), made by the input's own array library
    (NEP 18) where it is another's: a Dask array's are lazy and have its chunks."""
    if other_array(x):
        return np.zeros_like(x)
    z = zeros_like(x)
    return z[()] if z.ndim == 0 else z


def cast_like(g: Any, x: Any) -> Any:
    """A derivative in the dtype of the value it belongs to (float32 stays float32); a Python
    float gets a NumPy scalar back, not a 0-d array. A traced derivative (one taken inside
    another transform, or traced into a graph) is converted differentiably."""
    if isinstance(g, Tracer) or isinstance(x, Tracer):
        gd, xd = dtype_of(g), dtype_of(x)
        if gd != xd and gd.kind in "fc" and xd.kind in "fc":
            if gd.kind == "c" and xd.kind != "c":
                g = g.real  # (a real input always gets a real derivative)
            g = g.astype(xd)  # (a traced value's methods are differentiable)
        return g
    if isinstance(g, (np.ndarray, np.generic)):
        dt = dtype_of(x)
        if g.dtype != dt:
            if g.dtype.kind == "c" and dt.kind != "c":
                g = g.real  # (a real input always gets a real derivative)
            g = g.astype(dt)
        if g.ndim == 0 and not isinstance(x, np.ndarray):
            g = g[()]
    return g


# ---------------------------------------------------------------------------------------------
# engines

class Capabilities:
    """What an engine offers the public front, and where it stops by its nature (README, "What
    every method agrees on"): its `transforms`; whether it returns an auxiliary value
    (`has_aux`); whether it takes complex arguments (`complex`); whether Python control flow
    may depend on the values being differentiated (`python_control_flow`: otherwise it is
    refused and `cr.cond` / `cr.while_loop` are the way); and whether it applies custom rules
    (`custom_rules`: finite differences cannot see them). The front refuses what is not
    offered with one message for every engine; tests/test_kernel.py checks each claim."""

    __slots__ = ("name", "transforms", "has_aux", "complex", "python_control_flow",
                 "custom_rules")

    def __init__(self, name: str, *, transforms: Sequence[str], has_aux: bool,
                 complex: bool = True, python_control_flow: bool = True,
                 custom_rules: bool = True) -> None:
        self.name = name
        self.transforms = frozenset(transforms)
        self.has_aux = has_aux
        self.complex = complex
        self.python_control_flow = python_control_flow
        self.custom_rules = custom_rules

    def __repr__(self) -> str:
        flags = ", ".join(f"{k}={getattr(self, k)}" for k in self.__slots__[2:])
        return f"Capabilities({self.name!r}, transforms={sorted(self.transforms)}, {flags})"
