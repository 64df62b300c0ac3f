"""`chainrule.numpy` (import as `cnp`): NumPy's namespace, differentiable.

The functions here keep NumPy's signatures and semantics and bind chainrule primitives, so they
work on plain arrays (calling NumPy directly) and on traced values alike. Names NumPy has that are
not differentiable functions (dtypes, `pi`, `newaxis`, `random`, predicates) pass through; a NumPy
function without a derivative raises `NotImplementedError` naming it when a traced value reaches it.
"""
from __future__ import annotations

import builtins
import functools as _functools
import math as _math
from collections.abc import Callable as _Callable
from typing import Any

import numpy as _np

from .._core.errors import ConcretizationError as _ConcretizationError
from .._core.errors import InPlaceError as _InPlaceError
from .._core.primitive import Tracer as _Tracer
from .._core.primitive import dtype_of as _dtype_of
from .._core.primitive import ndim_of as _ndim_of
from .._core.primitive import shape_of as _shape_of
from ..ops import elementwise as _E
from ..ops import index as _I
from ..ops import linalg as _L
from ..ops import nn as _NN
from ..ops import reduce as _R
from ..ops import shape as _S
from . import fft as fft  # (before __getattr__ below, which would answer with NumPy's)
from . import linalg as linalg  # (the same)
from ._operands import contains_tracer as _contains_tracer
from ._operands import guarded as _guarded
from ._operands import operand as _operand
from ._operands import operand_seq as _operand_seq
from ._operands import stack_nested as _stack_nested

# constants and dtypes people reach for through the namespace
pi = _np.pi
e = _np.e
inf = _np.inf
nan = _np.nan
newaxis = None
float32 = _np.float32
float64 = _np.float64
int32 = _np.int32
int64 = _np.int64
complex128 = _np.complex128
ndarray = _np.ndarray


def _arrays(f: _Callable[..., Any]) -> _Callable[..., Any]:
    """`f` with its positional arguments taken as array operands: a Python list or tuple among
    them becomes an array before any primitive (and its rules) sees it (see _operands.py)."""
    @_functools.wraps(f)
    def with_arrays(*args: Any, **kwargs: Any) -> Any:
        return f(*[_operand(a) for a in args], **kwargs)

    return with_arrays


def _no_out(name: str, out: Any) -> None:
    if out is not None:
        raise _InPlaceError(f"{name}(..., out=...) writes in place, which cannot be differentiated;"
                           f" use the returned value instead")


# ---------------------------------------------------------------------------------------------
# elementwise, unary

abs = _E.abs  # noqa: A001
absolute = _E.abs
exp = _E.exp
exp2 = _E.exp2
expm1 = _E.expm1
log = _E.log
log2 = _E.log2
log10 = _E.log10
log1p = _E.log1p
sqrt = _E.sqrt
cbrt = _E.cbrt
square = _E.square
reciprocal = _E.reciprocal
sin = _E.sin
cos = _E.cos
tan = _E.tan
arcsin = _E.arcsin
arccos = _E.arccos
arctan = _E.arctan
sinh = _E.sinh
cosh = _E.cosh
tanh = _E.tanh
arcsinh = _E.arcsinh
arccosh = _E.arccosh
arctanh = _E.arctanh


def negative(x: Any) -> Any:
    return _E.neg(x)


def positive(x: Any) -> Any:
    return x if isinstance(x, _Tracer) else _np.positive(x)


def fabs(x: Any) -> Any:
    return _E.abs(x)


def sign(x: Any) -> Any:
    return _E.sign_p.bind(x)


def floor(x: Any) -> Any:
    return _E.floor_p.bind(x)


def ceil(x: Any) -> Any:
    return _E.ceil_p.bind(x)


def trunc(x: Any) -> Any:
    return _E.trunc_p.bind(x)


def rint(x: Any) -> Any:
    return _E.round_p.bind(x)


def round(x: Any, decimals: int = 0) -> Any:  # noqa: A001
    """Piecewise constant: its derivative is zero wherever it exists."""
    if decimals == 0:
        return _E.round_p.bind(x)
    scale = 10.0 ** decimals
    return _E.div(_E.round_p.bind(_E.mul(stop(x), scale)), scale)


around = round


def stop(x: Any) -> Any:
    return _E.stop_gradient(x)


_DEG = 180.0 / _math.pi


def deg2rad(x: Any) -> Any:
    return _E.mul(x, 1.0 / _DEG)


def rad2deg(x: Any) -> Any:
    return _E.mul(x, _DEG)


radians = deg2rad
degrees = rad2deg


def clip(a: Any, a_min: Any = None, a_max: Any = None, out: Any = None, *, min: Any = None,  # noqa: A002
         max: Any = None) -> Any:  # noqa: A002
    """NumPy's clip. The derivative is 1 inside [a_min, a_max] (boundaries included, as PyTorch's
    clamp) and flows to the bound that was taken otherwise."""
    _no_out("clip", out)
    a_min = _operand(min if a_min is None else a_min)
    a_max = _operand(max if a_max is None else a_max)
    r = _operand(a)
    if a_min is not None:
        r = _E.select(_E.less_p.bind(r, a_min), a_min, r)
    if a_max is not None:
        r = _E.select(_E.greater_p.bind(r, a_max), a_max, r)
    return r


def nan_to_num(x: Any, copy: bool = True, nan: float = 0.0, posinf: Any = None,
               neginf: Any = None) -> Any:
    return _E.nan_to_num_p.bind(x, nan=nan, posinf=posinf, neginf=neginf)


def _is_complex(x: Any) -> bool:
    return _np.issubdtype(_dtype_of(x), _np.complexfloating)


def real(x: Any) -> Any:
    return _E.real_p.bind1(x) if _is_complex(x) else x


def imag(x: Any) -> Any:
    return _E.imag_p.bind1(x) if _is_complex(x) else _E.zeros_like(x)


def conj(x: Any) -> Any:
    return _E.conj_p.bind1(x) if _is_complex(x) else x


def angle(z: Any, deg: bool = False) -> Any:
    a = _E.arctan2_p.bind(imag(z), real(z))
    return _E.mul(a, _DEG) if deg else a


conjugate = conj

# ---------------------------------------------------------------------------------------------
# elementwise, binary (broadcasting)

add = _arrays(_E.add)
subtract = _arrays(_E.sub)
multiply = _arrays(_E.mul)
divide = true_divide = _arrays(_E.div)
power = _arrays(_E.power)


@_arrays
def float_power(x: Any, y: Any) -> Any:
    return _E.float_power_p.bind(x, y)


@_arrays
def maximum(x: Any, y: Any) -> Any:
    return _E.maximum_p.bind(x, y)


@_arrays
def minimum(x: Any, y: Any) -> Any:
    return _E.minimum_p.bind(x, y)


@_arrays
def fmax(x: Any, y: Any) -> Any:
    return _E.fmax_p.bind(x, y)


@_arrays
def fmin(x: Any, y: Any) -> Any:
    return _E.fmin_p.bind(x, y)


@_arrays
def arctan2(y: Any, x: Any) -> Any:
    return _E.arctan2_p.bind(y, x)


@_arrays
def hypot(x: Any, y: Any) -> Any:
    return _E.hypot_p.bind(x, y)


@_arrays
def logaddexp(x: Any, y: Any) -> Any:
    return _E.logaddexp_p.bind(x, y)


@_arrays
def logaddexp2(x: Any, y: Any) -> Any:
    return _E.logaddexp2_p.bind(x, y)


@_arrays
def mod(x: Any, y: Any) -> Any:
    return _E.mod_p.bind(x, y)


remainder = mod


@_arrays
def floor_divide(x: Any, y: Any) -> Any:
    return _E.floor_divide_p.bind(x, y)


def where(condition: Any, x: Any = None, y: Any = None) -> Any:
    """`where(c, x, y)`; the branch not taken receives an exact zero derivative."""
    if x is None and y is None:
        return _np.where(_concrete_condition(condition))
    if x is None or y is None:
        raise ValueError("where: either both or neither of 'x' and 'y' should be given")
    return _E.select(_operand(condition), _operand(x), _operand(y))


def _concrete_condition(c: Any) -> Any:
    if isinstance(c, _Tracer):
        raise _ConcretizationError("where(condition) with one argument returns indices, which "
                                  "need a concrete condition; use where(c, x, y) on traced values")
    return c


@_arrays
def greater(x: Any, y: Any) -> Any:
    return _E.greater_p.bind(x, y)


@_arrays
def greater_equal(x: Any, y: Any) -> Any:
    return _E.greater_equal_p.bind(x, y)


@_arrays
def less(x: Any, y: Any) -> Any:
    return _E.less_p.bind(x, y)


@_arrays
def less_equal(x: Any, y: Any) -> Any:
    return _E.less_equal_p.bind(x, y)


@_arrays
def equal(x: Any, y: Any) -> Any:
    return _E.equal_p.bind(x, y)


@_arrays
def not_equal(x: Any, y: Any) -> Any:
    return _E.not_equal_p.bind(x, y)


@_arrays
def logical_and(x: Any, y: Any) -> Any:
    return _E.logical_and_p.bind(x, y)


@_arrays
def logical_or(x: Any, y: Any) -> Any:
    return _E.logical_or_p.bind(x, y)


@_arrays
def logical_xor(x: Any, y: Any) -> Any:
    return _E.logical_xor_p.bind(x, y)


def logical_not(x: Any) -> Any:
    return _E.logical_not_p.bind(x)


def isfinite(x: Any) -> Any:
    return _E.isfinite_p.bind(x)


def isnan(x: Any) -> Any:
    return _E.isnan_p.bind(x)


def isinf(x: Any) -> Any:
    return _E.isinf_p.bind(x)


def signbit(x: Any) -> Any:
    return _E.signbit_p.bind(x)


# ---------------------------------------------------------------------------------------------
# reductions


def _masked(a: Any, where: Any, fill: Any) -> Any:
    """`a` where `where` holds, `fill` elsewhere (for the where= argument of reductions)."""
    if where is True:
        return a
    return _E.select(_np.broadcast_to(where, _shape_of(a)), a, _np.asarray(fill, _dtype_of(a)))


def sum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,  # noqa: A001
        keepdims: bool = False, initial: Any = None, where: Any = True) -> Any:
    _no_out("sum", out)
    a = _masked(a if dtype is None else _astype(a, dtype), where, 0)
    s = _R.sum(a, axis, keepdims)
    return s if initial is None else _E.add(s, initial)


def mean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
         keepdims: bool = False, *, where: Any = True) -> Any:
    _no_out("mean", out)
    a = a if dtype is None else _astype(a, dtype)
    if where is True:
        return _R.mean(a, axis, keepdims)
    count = _np.sum(_np.broadcast_to(where, _shape_of(a)), axis=axis, keepdims=keepdims)
    return _E.div(_R.sum(_masked(a, where, 0), axis, keepdims), count)


def prod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
         keepdims: bool = False) -> Any:
    _no_out("prod", out)
    return _R.prod(a if dtype is None else _astype(a, dtype), axis, keepdims)


def max(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False,  # noqa: A001
        initial: Any = None, where: Any = True) -> Any:
    """Maximum; ties share the derivative evenly."""
    _no_out("max", out)
    m = _R.max(_masked(a, where, -_np.inf), axis, keepdims)
    return m if initial is None else _E.maximum_p.bind(m, initial)


def min(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False,  # noqa: A001
        initial: Any = None, where: Any = True) -> Any:
    _no_out("min", out)
    m = _R.min(_masked(a, where, _np.inf), axis, keepdims)
    return m if initial is None else _E.minimum_p.bind(m, initial)


amax = max
amin = min


def var(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
        keepdims: bool = False, *, correction: Any = None) -> Any:
    """np.var (real for complex input: the mean of |a - mean|^2). Of one value it is identically
    0, with derivative exactly 0; where N - ddof <= 0 the value is nan (or inf) as in NumPy, and
    so is the derivative."""
    _no_out("var", out)
    ddof = ddof if correction is None else correction
    return _R.var(a if dtype is None else _astype(a, dtype), axis, ddof, keepdims)


def std(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
        keepdims: bool = False, *, correction: Any = None) -> Any:
    """np.std. Derivatives at the special points:

    - one value (N = 1, ddof < 1): std is 0 whatever the value, so the derivative is exactly 0
      (forward, reverse, every order);
    - N > 1 equal values: std is a norm of the deviations, with a kink at 0; following
      sqrt'(0) = inf the derivative is nan there (as for linalg.norm at 0, and in JAX and
      PyTorch);
    - N - ddof <= 0 (np.std([x], ddof=1)): NumPy's value is nan (with a RuntimeWarning), and so
      is the derivative."""
    _no_out("std", out)
    ddof = ddof if correction is None else correction
    return _R.std(a if dtype is None else _astype(a, dtype), axis, ddof, keepdims)


def cumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    _no_out("cumsum", out)
    return _R.cumsum(a if dtype is None else _astype(a, dtype), axis)


def cumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    _no_out("cumprod", out)
    return _R.cumprod(a if dtype is None else _astype(a, dtype), axis)


def _astype(a: Any, dtype: Any) -> Any:
    if isinstance(a, _Tracer):
        if _np.dtype(dtype) != a.dtype:
            raise NotImplementedError(f"changing the dtype of a traced value ({a.dtype} -> "
                                      f"{_np.dtype(dtype)}) is not differentiable yet")
        return a
    return _np.asarray(a, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# shapes

def reshape(a: Any, shape: Any = None, order: str = "C", *, newshape: Any = None) -> Any:
    shape = newshape if shape is None else shape
    if order == "F":  # column-major: reverse the axes on both sides of a C-order reshape
        sh = (shape,) if isinstance(shape, (int, _np.integer)) else tuple(shape)
        return _S.transpose(_S.reshape(_S.transpose(a), sh[::-1]))
    if order not in ("C", "A"):
        raise ValueError(f"reshape: order must be 'C' or 'F', not {order!r}")
    return _S.reshape(a, shape)


def ravel(a: Any, order: str = "C") -> Any:
    return reshape(a, (-1,), order=order)

transpose = _S.transpose
swapaxes = _S.swapaxes
moveaxis = _S.moveaxis
expand_dims = _S.expand_dims
squeeze = _S.squeeze
broadcast_to = _S.broadcast_to


def concatenate(arrays: Any, axis: int | None = 0, out: Any = None) -> Any:
    _no_out("concatenate", out)
    return _S.concatenate(_operand_seq(arrays), axis)


def stack(arrays: Any, axis: int = 0, out: Any = None) -> Any:
    _no_out("stack", out)
    return _S.stack(_operand_seq(arrays), axis)


def shape(a: Any) -> tuple[int, ...]:
    return _shape_of(a)


def ndim(a: Any) -> int:
    return _ndim_of(a)


def size(a: Any, axis: int | None = None) -> int:
    s = _shape_of(a)
    return _math.prod(s) if axis is None else s[axis]


def zeros_like(a: Any, dtype: Any = None) -> Any:
    return _np.zeros(_shape_of(a), dtype or _dtype_of(a))


def ones_like(a: Any, dtype: Any = None) -> Any:
    return _np.ones(_shape_of(a), dtype or _dtype_of(a))


def full_like(a: Any, fill_value: Any, dtype: Any = None) -> Any:
    if isinstance(fill_value, _Tracer):
        return _S.broadcast_to(fill_value, _shape_of(a))
    return _np.full(_shape_of(a), fill_value, dtype or _dtype_of(a))


# ---------------------------------------------------------------------------------------------
# products

@_arrays
def dot(a: Any, b: Any) -> Any:
    return _L.dot(a, b)


@_arrays
def matmul(x: Any, y: Any) -> Any:
    return _L.matmul(x, y)


def tensordot(a: Any, b: Any, axes: Any = 2) -> Any:
    return _L.tensordot(_operand(a), _operand(b), axes)


def einsum(subscripts: str, *operands: Any, optimize: Any = False, **kwargs: Any) -> Any:
    """np.einsum (the contraction order chosen by `optimize` does not change the result)."""
    if kwargs.get("out") is not None:
        _no_out("einsum", kwargs["out"])
    return _L.einsum(subscripts, *_operand_seq(operands))


@_arrays
def inner(a: Any, b: Any) -> Any:
    return _L.inner(a, b)


@_arrays
def outer(a: Any, b: Any) -> Any:
    return _L.outer(a, b)


def getitem(x: Any, idx: Any) -> Any:
    return _I.getitem(x, idx)


# ---------------------------------------------------------------------------------------------
# array manipulation and gathers


def atleast_1d(*arys: Any) -> Any:
    out = tuple(_S.atleast_nd(a, 1) for a in arys)
    return out[0] if len(out) == 1 else out


def atleast_2d(*arys: Any) -> Any:
    out = tuple(_S.atleast_nd(a, 2) for a in arys)
    return out[0] if len(out) == 1 else out


def atleast_3d(*arys: Any) -> Any:
    out = tuple(_S.atleast_nd(a, 3) for a in arys)
    return out[0] if len(out) == 1 else out


def hstack(tup: Any, dtype: Any = None, casting: str = "same_kind") -> Any:
    return _S.hstack(_operand_seq(tup))


def vstack(tup: Any, dtype: Any = None, casting: str = "same_kind") -> Any:
    return _S.vstack(_operand_seq(tup))


def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Any]:
    return _S.split(ary, indices_or_sections, axis, even=True)


def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Any]:
    return _S.split(ary, indices_or_sections, axis, even=False)


tile = _S.tile
fliplr = _S.fliplr
flipud = _S.flipud
rot90 = _S.rot90
diff = _S.diff
take_along_axis = _I.take_along_axis
diagonal = _I.diagonal
diag = _I.diag
tril = _I.tril
triu = _I.triu


def repeat(a: Any, repeats: Any, axis: int | None = None) -> Any:
    return _S.repeat(a, repeats, axis)


def flip(m: Any, axis: Any = None) -> Any:
    return _S.flip(m, axis)


def roll(a: Any, shift: Any, axis: Any = None) -> Any:
    return _S.roll(a, shift, axis)


def pad(array: Any, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Any:
    return _S.pad(array, pad_width, mode, kwargs.get("constant_values", 0))


def take(a: Any, indices: Any, axis: int | None = None, out: Any = None,
         mode: str = "raise") -> Any:
    _no_out("take", out)
    return _I.take(a, indices, axis, mode)


def sort(a: Any, axis: int | None = -1, kind: Any = None, order: Any = None,
         stable: Any = None) -> Any:
    return _I.sort(a, axis)


def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None,
          out: Any = None) -> Any:
    _no_out("trace", out)
    return _R.sum(_I.diagonal(a, offset, axis1, axis2), -1)


@_arrays
def vdot(a: Any, b: Any) -> Any:
    return _R.sum(_E.mul(conj(_S.ravel(a)), _S.ravel(b)))


@_arrays
def kron(a: Any, b: Any) -> Any:
    nd = builtins.max(_ndim_of(a), _ndim_of(b))
    a = _S.reshape(a, (1,) * (nd - _ndim_of(a)) + _shape_of(a))
    b = _S.reshape(b, (1,) * (nd - _ndim_of(b)) + _shape_of(b))
    sa, sb = _shape_of(a), _shape_of(b)
    a2 = _S.reshape(a, tuple(v for d in sa for v in (d, 1)))
    b2 = _S.reshape(b, tuple(v for d in sb for v in (1, d)))
    return _S.reshape(_E.mul(a2, b2), tuple(x * y for x, y in zip(sa, sb)))


def copy(a: Any, order: str = "K", subok: bool = False) -> Any:
    """np.copy. A traced value is never mutated in place, so its copy is the value itself."""
    if _contains_tracer(a):
        return _stack_nested(a)
    return _np.copy(a, order=order, subok=subok)


def array(obj: Any, dtype: Any = None, copy: bool = True, **kwargs: Any) -> Any:
    """np.array that also builds arrays from (nested lists of) traced values."""
    if _contains_tracer(obj):
        out = _stack_nested(obj)
        return out if dtype is None else _astype(out, dtype)
    return _np.array(obj, dtype=dtype, copy=copy, **kwargs)


def asarray(a: Any, dtype: Any = None, **kwargs: Any) -> Any:
    if _contains_tracer(a):
        out = _stack_nested(a)
        return out if dtype is None else _astype(out, dtype)
    return _np.asarray(a, dtype=dtype, **kwargs)


# ---------------------------------------------------------------------------------------------
# deep-learning helpers

logsumexp = _NN.logsumexp
softmax = _NN.softmax
log_softmax = _NN.log_softmax
relu = _NN.relu
sigmoid = _NN.sigmoid
softplus = _NN.softplus


# ---------------------------------------------------------------------------------------------
# functional updates


class _At:
    """`cnp.at(x)[idx]` -> an update that returns a new array (x itself never changes)."""

    __slots__ = ("_x",)

    def __init__(self, x: Any) -> None:
        self._x = x

    def __getitem__(self, idx: Any) -> _AtIndex:
        return _AtIndex(self._x, idx)


class _AtIndex:
    __slots__ = ("_x", "_idx")

    def __init__(self, x: Any, idx: Any) -> None:
        self._x, self._idx = x, idx

    def get(self) -> Any:
        return _I.getitem(self._x, self._idx)

    def set(self, v: Any) -> Any:
        """A copy of x with x[idx] = v (for a repeated index the last write wins)."""
        return _I.index_update(self._x, self._idx, _operand(v), "set")

    def add(self, v: Any) -> Any:
        """A copy of x with v added at idx (repeated indices accumulate, as np.add.at)."""
        return _I.index_update(self._x, self._idx, _operand(v), "add")

    def multiply(self, v: Any) -> Any:
        """A copy of x with x[idx] multiplied by v (repeated indices multiply in turn)."""
        return _I.index_update(self._x, self._idx, _operand(v), "multiply")


def at(x: Any) -> _At:
    """Functional index updates: `cnp.at(x)[idx].set(v)`, `.add(v)`, `.multiply(v)`, `.get()`
    return new arrays and are differentiable in every argument, unlike `x[idx] = v`."""
    return _At(x)


# ---------------------------------------------------------------------------------------------
# everything else NumPy has: pass through, but never let a traced value in silently

def __getattr__(name: str) -> Any:
    try:
        obj = getattr(_np, name)
    except AttributeError:
        raise AttributeError(f"module 'chainrule.numpy' has no attribute '{name}'") from None
    if callable(obj) and not isinstance(obj, type):
        return _guarded(name, obj)
    return obj
