"""NumPy's operators, methods and dispatch protocols on traced values.

Installed once on the `Tracer` base class, so every interpreter's values (and the eager Tensor)
behave like arrays: `x * y`, `x @ W`, `x.sum(axis=0)`, `x.T`, `x[1:3]`, and plain `np.sin(x)` or
`np.sum(x)` through `__array_ufunc__` / `__array_function__`.
"""
from __future__ import annotations

import sys
from typing import Any

import numpy as np

from .. import numpy as cnp
from .._core.errors import ConcretizationError, InPlaceError, TracerConversionError
from .._core.primitive import Tracer, concrete_value
from .._core.rules import ZeroType
from ..ops import elementwise as E
from ..ops import index as I
from ..ops import shape as S
from ._operands import operand

# The other operand of an operator may be a Python list or tuple (`x @ [1.0, 2.0]`,
# `[1.0, 2.0] * x`): it becomes an array here, before the primitive records it (see _operands).

def _swap(f: Any) -> Any:
    bind = getattr(f, "bind2", None)
    if bind is not None:  # a primitive: bind it directly (operators are the hot path)
        def reflected_prim(self: Any, other: Any) -> Any:
            t = type(other)
            if t is ZeroType:
                return NotImplemented
            if t is list or t is tuple:
                other = operand(other)
            return bind(other, self)
        return reflected_prim

    def reflected(self: Any, other: Any) -> Any:
        t = type(other)
        if t is ZeroType:
            return NotImplemented
        if t is list or t is tuple:
            other = operand(other)
        return f(other, self)
    return reflected


def _binop(f: Any) -> Any:
    # the symbolic Zero of rules does its own arithmetic (Zero * x is Zero, Zero + x is x)
    bind = getattr(f, "bind2", None)
    if bind is not None:
        def op_prim(self: Any, other: Any) -> Any:
            t = type(other)
            if t is ZeroType:
                return NotImplemented
            if t is list or t is tuple:
                other = operand(other)
            return bind(self, other)
        return op_prim

    def op(self: Any, other: Any) -> Any:
        t = type(other)
        if t is ZeroType:
            return NotImplemented
        if t is list or t is tuple:
            other = operand(other)
        return f(self, other)
    return op


def _bool(self: Tracer) -> bool:
    return bool(concrete_value(self, "bool() of a traced value"))


def _conversion_message(what: str) -> str:
    return (f"{what} would silently drop its derivative. If you are writing a traced value "
            f"into a NumPy array, write y = cnp.at(y)[i].set(x) instead (a new array, "
            f"differentiable); if you are converting one, keep it traced (chainrule.numpy "
            f"functions accept traced values), or call cr.stop_gradient(x) first if you really "
            f"want a constant")


def _float(self: Tracer) -> float:
    # Also how NumPy stores x into an element of a float or complex array (y[0] = x; complex()
    # falls back to __float__). For a float array NumPy then raises "ValueError: setting an
    # array element with a sequence." (any object with __getitem__ is a sequence to it) from
    # this error; the transforms raise this error instead (_core.checks.call).
    raise TracerConversionError(_conversion_message(
        "float() of a traced value (also what NumPy asks for to store it in an element of an "
        "array, y[i] = x)"))


def _int(self: Tracer) -> int:
    return int(concrete_value(self, "int() of a traced value"))


def _invert(self: Tracer) -> Any:
    return E.invert_p.bind1(self)


def _index(self: Tracer) -> int:
    if self.dtype.kind not in "iub":
        raise TypeError(f"a traced {self.dtype} value cannot be used as an index (only integer "
                        f"values can, as in NumPy)")
    return int(concrete_value(self, "using a traced value as an index"))


def _array(self: Tracer, dtype: Any = None, copy: Any = None) -> Any:
    raise TracerConversionError(_conversion_message(
        "Turning a traced value into a NumPy array (np.asarray(x), np.array([x, ...]), "
        "storing it in a slice of an array, y[i:j] = x, or a NumPy array's method called "
        "with it, W.dot(x): NumPy does not dispatch those, so write W @ x or np.dot(W, x); "
        "build an array of traced values with cnp.array([x, ...]))") + _scipy_hint())


def _scipy_hint() -> str:
    """When SciPy's own code asked for the conversion (a SciPy function that is not a ufunc,
    `scipy.special.logsumexp(traced)`): the chainrule.scipy function to call instead."""
    frame = sys._getframe(2)
    public = None
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("scipy."):
            public = (module.split(".")[1], frame.f_code.co_name)  # (the outermost one wins)
        elif public is not None:
            break
        frame = frame.f_back
    if public is None or public[1].startswith("_"):
        return ""
    return (f". It was SciPy's {public[0]}.{public[1]}, which converts its arguments to NumPy "
            f"arrays: call chainrule.scipy.{public[0]}.{public[1]} instead")


def _setitem(self: Tracer, idx: Any, value: Any) -> None:
    raise InPlaceError(
        "in-place assignment x[idx] = v on a traced array cannot be differentiated; write "
        "x = cnp.at(x)[idx].set(v) (or .add(v)) to get a new array instead")


def _getitem(self: Tracer, idx: Any) -> Any:
    return I.getitem(self, idx)


def _iter(self: Tracer) -> Any:
    n = len(self)
    return (I.getitem(self, i) for i in range(n))


def _T(self: Tracer) -> Any:
    return S.transpose(self)


def _mT(self: Tracer) -> Any:
    return S.swapaxes(self, -1, -2)


def _reshape(self: Tracer, *shape: Any, order: str = "C") -> Any:
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        shape = tuple(shape[0])
    return cnp.reshape(self, shape, order=order)  # (order="F" too: never dropped)


def _flatten(self: Tracer, order: str = "C") -> Any:
    return cnp.ravel(self, order=order)


def _transpose(self: Tracer, *axes: Any) -> Any:
    if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
        axes = axes[0]
    return S.transpose(self, axes or None)


def _method(name: str) -> Any:
    def m(self: Tracer, *args: Any, **kwargs: Any) -> Any:
        return getattr(cnp, name)(self, *args, **kwargs)
    m.__name__ = name
    return m


def _astype(self: Tracer, dtype: Any, copy: bool = True) -> Any:
    dtype = np.dtype(dtype)
    if dtype == self.dtype:
        return self
    if not np.issubdtype(dtype, np.inexact):
        # integers and booleans carry no derivative: the concrete value is all there is
        return np.asarray(concrete_value(self, "astype to a non-float dtype")).astype(dtype)
    if self.dtype.kind == "c" and dtype.kind != "c":
        raise TypeError(f"astype({dtype}) of a complex value drops its imaginary part (NumPy "
                        f"warns); take cnp.real(x) first, then astype")
    return E.convert(self, dtype)


def _copy(self: Tracer) -> Any:
    return self


def _item(self: Tracer) -> Any:
    raise ConcretizationError(
        "item() of a traced value would silently drop its derivative; call "
        "cr.stop_gradient(x) first if you want a constant")


def _tolist(self: Tracer) -> Any:
    raise ConcretizationError(
        "tolist() of a traced value would silently drop its derivative; keep it an array "
        "(index it, x[i], or iterate over it, for traced entries), or call "
        "cr.stop_gradient(x) first if you want plain numbers")


def _sort(self: Tracer, axis: int = -1, kind: Any = None, order: Any = None) -> None:
    # NumPy's x.sort() sorts in place and returns None: giving back a sorted copy would leave
    # `x.sort(); use(x)` silently unsorted, so say what to write instead
    raise InPlaceError(
        "x.sort() sorts in place, which a traced value cannot do; write x = np.sort(x) (or "
        "cnp.sort(x)) instead, which is differentiable")


def _array_ufunc(self: Tracer, ufunc: Any, ufunc_method: str, *inputs: Any, **kwargs: Any) -> Any:
    if kwargs.get("out") is not None:
        raise InPlaceError(f"numpy.{ufunc.__name__}(..., out=...) on a traced value writes in "
                           f"place, which cannot be differentiated; use the returned value")
    if ufunc_method != "__call__":
        raise NotImplementedError(f"numpy.{ufunc.__name__}.{ufunc_method} is not differentiable in "
                                  f"chainrule (called on a traced value)")
    fn = ufunc_target(ufunc)
    if fn is None:
        raise NotImplementedError(f"numpy.{ufunc.__name__} is not differentiable in chainrule "
                                  f"(called on a traced value)")
    kwargs.pop("out", None)
    return fn(*[operand(i) for i in inputs], **kwargs)


#: ufuncs of other libraries (scipy.special's), by the ufunc object -> chainrule's function
_UFUNC_OBJECTS: dict[Any, Any] = {}


def ufunc_target(ufunc: Any) -> Any:
    """chainrule's differentiable counterpart of a ufunc (NumPy's, or another library's that
    registered one), or None."""
    fn = _UFUNC_OBJECTS.get(ufunc)
    return UFUNCS.get(ufunc.__name__) if fn is None else fn


def register_ufunc(ufunc: Any, fn: Any) -> None:
    """Let a ufunc of another library (`scipy.special.gammaln`) called on a traced value run
    chainrule's differentiable `fn` instead, as NumPy's own ufuncs do."""
    _UFUNC_OBJECTS[ufunc] = fn


def register_function(func: Any, fn: Any) -> None:
    """The same for a plain function that dispatches through `__array_function__`."""
    _FUNCTIONS[func] = fn


_FUNCTIONS: dict[Any, Any] = {}  # NumPy function -> its chainrule.numpy counterpart


def _array_function(self: Tracer, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
    target = _FUNCTIONS.get(func)
    if target is None:
        mod = func.__module__ or ""
        name = func.__name__
        namespace = (cnp.linalg.__dict__ if mod.startswith("numpy.linalg")
                     else cnp.fft.__dict__ if mod.startswith("numpy.fft") else cnp.__dict__)
        target = namespace.get(name)
        if target is None or not callable(target) or isinstance(target, type(cnp)):
            raise NotImplementedError(f"{mod}.{name} is not differentiable in chainrule (called "
                                      f"on a traced value)")
        _FUNCTIONS[func] = target
    return target(*args, **kwargs)


UFUNCS: dict[str, Any] = {}


def install() -> None:
    ops = {
        "__add__": E.add_p, "__sub__": E.sub_p, "__mul__": E.mul_p, "__truediv__": E.div_p,
        "__pow__": E.power_p, "__matmul__": cnp.matmul, "__mod__": E.mod_p,
        "__floordiv__": E.floor_divide_p,
        "__lt__": E.less_p, "__le__": E.less_equal_p, "__gt__": E.greater_p,
        "__ge__": E.greater_equal_p, "__eq__": E.equal_p, "__ne__": E.not_equal_p,
        "__and__": E.bitwise_and_p, "__or__": E.bitwise_or_p, "__xor__": E.bitwise_xor_p,
    }
    for name, f in ops.items():
        setattr(Tracer, name, _binop(f))
        if name not in ("__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__"):
            setattr(Tracer, "__r" + name[2:], _swap(f))
    Tracer.__hash__ = object.__hash__  # type: ignore[assignment]
    Tracer.__neg__ = E.neg  # type: ignore[attr-defined]
    Tracer.__pos__ = lambda self: self  # type: ignore[attr-defined]
    Tracer.__abs__ = E.abs  # type: ignore[attr-defined]
    Tracer.__invert__ = _invert  # type: ignore[attr-defined]
    Tracer.__getitem__ = _getitem  # type: ignore[attr-defined]
    Tracer.__setitem__ = _setitem  # type: ignore[attr-defined]
    Tracer.__iter__ = _iter  # type: ignore[attr-defined]
    Tracer.__bool__ = _bool  # type: ignore[attr-defined]
    Tracer.__float__ = _float  # type: ignore[attr-defined]
    Tracer.__int__ = _int  # type: ignore[attr-defined]
    Tracer.__index__ = _index  # type: ignore[attr-defined]
    Tracer.__array__ = _array  # type: ignore[attr-defined]
    Tracer.__array_ufunc__ = _array_ufunc  # type: ignore[attr-defined]
    Tracer.__array_function__ = _array_function  # type: ignore[attr-defined]
    Tracer.T = property(_T)  # type: ignore[attr-defined]
    Tracer.mT = property(_mT)  # type: ignore[attr-defined]
    Tracer.reshape = _reshape  # type: ignore[attr-defined]
    Tracer.transpose = _transpose  # type: ignore[attr-defined]
    Tracer.astype = _astype  # type: ignore[attr-defined]
    Tracer.copy = _copy  # type: ignore[attr-defined]
    Tracer.item = _item  # type: ignore[attr-defined]
    Tracer.flatten = _flatten  # type: ignore[attr-defined]
    Tracer.tolist = _tolist  # type: ignore[attr-defined]
    Tracer.sort = _sort  # type: ignore[attr-defined]
    for name in ("sum", "mean", "prod", "max", "min", "var", "std", "cumsum", "cumprod", "ravel",
                 "swapaxes", "squeeze", "dot", "clip", "round", "conj", "conjugate",
                 # differentiable ones, then the integer- and boolean-valued (no derivative)
                 "trace", "diagonal", "take", "repeat",
                 "argmax", "argmin", "argsort", "argpartition", "searchsorted", "nonzero",
                 "all", "any"):
        setattr(Tracer, name, _method(name))
    Tracer.real = property(lambda self: cnp.real(self))  # type: ignore[attr-defined]
    Tracer.imag = property(lambda self: cnp.imag(self))  # type: ignore[attr-defined]

    ufunc_names = """add subtract multiply divide true_divide power float_power maximum minimum
    fmax fmin arctan2 hypot logaddexp logaddexp2 mod remainder floor_divide negative positive
    absolute fabs sign exp exp2 expm1 log log2 log10 log1p sqrt cbrt square reciprocal sin cos
    tan arcsin arccos arctan sinh cosh tanh arcsinh arccosh arctanh deg2rad rad2deg degrees
    radians floor ceil trunc rint conjugate greater greater_equal less less_equal equal
    not_equal logical_and logical_or logical_xor logical_not isfinite isnan isinf signbit
    matmul heaviside""".split()
    for n in ufunc_names:
        UFUNCS[n] = getattr(cnp, n)
