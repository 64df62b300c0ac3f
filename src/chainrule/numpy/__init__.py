"""`chainrule.numpy` (import as `cnp`): NumPy's namespace, differentiable.

The functions here keep NumPy's signatures and semantics and bind chainrule primitives, so they
work on plain arrays (calling NumPy directly) and on traced values alike. Names NumPy has that are
not differentiable functions (dtypes, `pi`, `newaxis`, `random`, predicates) pass through; a NumPy
function without a derivative raises `NotImplementedError` naming it when a traced value reaches it.

Examples
--------
>>> import numpy as np
>>> import chainrule as cr
>>> import chainrule.numpy as cnp
>>> f = lambda x: cnp.sum(cnp.tanh(x) * cnp.exp(-x ** 2))
>>> print(cnp.round(cr.grad(f)(np.zeros(3)), 6))
[1. 1. 1.]
>>> print(cnp.sin(np.array([0.0])))          # on plain arrays, NumPy's own result
[0.]
"""
from __future__ import annotations

import builtins
import functools as _functools
import math as _math
import operator as _operator
import warnings as _warnings
from collections.abc import Callable as _Callable
from typing import Any

import numpy as _np

from .._core.errors import ConcretizationError as _ConcretizationError
from .._core.errors import InPlaceError as _InPlaceError
from .._core.primitive import Tracer as _Tracer
from .._core.primitive import concrete_value as _concrete_value
from .._core.primitive import dtype_of as _dtype_of
from .._core.primitive import in_library_of as _in_library_of
from .._core.primitive import ndim_of as _ndim_of
from .._core.primitive import scalar as _number
from .._core.primitive import shape_of as _shape_of
from ..ops import elementwise as _E
from ..ops import index as _I
from ..ops import linalg as _L
from ..ops import nn as _NN
from ..ops import reduce as _R
from ..ops import shape as _S
from . import fft as fft  # (before __getattr__ below, which would answer with NumPy's)
from . import linalg as linalg  # (the same)
from ._docs import document as _document
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

def _unary(p: Any) -> _Callable[[Any], Any]:
    """The elementwise function binding `p`, taking a (nested) list or tuple of values too
    (`cnp.exp([x, 1.0])`), which becomes an array first (see _operands.py)."""
    bind1 = p.bind1

    def f(x: Any) -> Any:
        t = type(x)
        if t is list or t is tuple:
            x = _stack_nested(x)
        return bind1(x)
    f.__name__ = f.__qualname__ = p.name
    f.__doc__ = f"Elementwise {p.name} (primitive '{p.name}')."
    return f


abs = _unary(_E.abs_p)  # noqa: A001
absolute = abs
exp = _unary(_E.exp_p)
exp2 = _unary(_E.exp2_p)
expm1 = _unary(_E.expm1_p)
log = _unary(_E.log_p)
log2 = _unary(_E.log2_p)
log10 = _unary(_E.log10_p)
log1p = _unary(_E.log1p_p)
sqrt = _unary(_E.sqrt_p)
cbrt = _unary(_E.cbrt_p)
square = _unary(_E.square_p)
reciprocal = _unary(_E.reciprocal_p)
sin = _unary(_E.sin_p)
cos = _unary(_E.cos_p)
tan = _unary(_E.tan_p)
arcsin = _unary(_E.arcsin_p)
arccos = _unary(_E.arccos_p)
arctan = _unary(_E.arctan_p)
sinh = _unary(_E.sinh_p)
cosh = _unary(_E.cosh_p)
tanh = _unary(_E.tanh_p)
arcsinh = _unary(_E.arcsinh_p)
arccosh = _unary(_E.arccosh_p)
arctanh = _unary(_E.arctanh_p)


def negative(x: Any) -> Any:
    return _E.neg(_operand(x))


def positive(x: Any) -> Any:
    x = _operand(x)
    return x if isinstance(x, _Tracer) else _np.positive(x)


def fabs(x: Any) -> Any:
    return _E.abs(_operand(x))


def sign(x: Any) -> Any:
    return _E.sign_p.bind(_operand(x))


def floor(x: Any) -> Any:
    return _E.floor_p.bind(_operand(x))


def ceil(x: Any) -> Any:
    return _E.ceil_p.bind(_operand(x))


def trunc(x: Any) -> Any:
    return _E.trunc_p.bind(_operand(x))


def rint(x: Any) -> Any:
    return _E.round_p.bind(_operand(x))


def round(x: Any, decimals: int = 0) -> Any:  # noqa: A001
    """Piecewise constant: its derivative is zero wherever it exists."""
    x = _operand(x)
    if decimals == 0:
        return _E.round_p.bind(x)
    scale = 10.0 ** decimals
    return _E.div(_E.round_p.bind(_E.mul(stop(x), scale)), scale)


around = round


def stop(x: Any) -> Any:
    return _E.stop_gradient(x)


_DEG = 180.0 / _math.pi


def deg2rad(x: Any) -> Any:
    return _E.mul(_operand(x), 1.0 / _DEG)


def rad2deg(x: Any) -> Any:
    return _E.mul(_operand(x), _DEG)


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
    return _E.nan_to_num_p.bind(_operand(x), nan=nan, posinf=posinf, neginf=neginf)


def _is_complex(x: Any) -> bool:
    return _np.issubdtype(_dtype_of(x), _np.complexfloating)


def real(x: Any) -> Any:
    x = _operand(x)
    return _E.real_p.bind1(x) if _is_complex(x) else x


def imag(x: Any) -> Any:
    x = _operand(x)
    return _E.imag_p.bind1(x) if _is_complex(x) else _E.zeros_like(x)


def conj(x: Any) -> Any:
    x = _operand(x)
    return _E.conj_p.bind1(x) if _is_complex(x) else x


def angle(z: Any, deg: bool = False) -> Any:
    z = _operand(z)
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
    return _E.logical_not_p.bind(_operand(x))


def isfinite(x: Any) -> Any:
    return _E.isfinite_p.bind(_operand(x))


def isnan(x: Any) -> Any:
    return _E.isnan_p.bind(_operand(x))


def isinf(x: Any) -> Any:
    return _E.isinf_p.bind(_operand(x))


def signbit(x: Any) -> Any:
    return _E.signbit_p.bind(_operand(x))


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
    a = _operand(a)
    a = _masked(a if dtype is None else _astype(a, dtype), where, 0)
    s = _R.sum(a, axis, keepdims)
    return s if initial is None else _E.add(s, initial)


def mean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
         keepdims: bool = False, *, where: Any = True) -> Any:
    _no_out("mean", out)
    a = _operand(a)
    a = a if dtype is None else _astype(a, dtype)
    if where is True:
        return _R.mean(a, axis, keepdims)
    count = _np.sum(_np.broadcast_to(where, _shape_of(a)), axis=axis, keepdims=keepdims)
    return _E.div(_R.sum(_masked(a, where, 0), axis, keepdims), count)


def prod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
         keepdims: bool = False) -> Any:
    _no_out("prod", out)
    a = _operand(a)
    return _R.prod(a if dtype is None else _astype(a, dtype), axis, keepdims)


def max(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False,  # noqa: A001
        initial: Any = None, where: Any = True) -> Any:
    """Maximum; ties share the derivative evenly."""
    _no_out("max", out)
    a = _operand(a)
    m = _R.max(_masked(a, where, -_np.inf), axis, keepdims)
    return m if initial is None else _E.maximum_p.bind(m, initial)


def min(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False,  # noqa: A001
        initial: Any = None, where: Any = True) -> Any:
    _no_out("min", out)
    a = _operand(a)
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
    a = _operand(a)
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
    a = _operand(a)
    ddof = ddof if correction is None else correction
    return _R.std(a if dtype is None else _astype(a, dtype), axis, ddof, keepdims)


def cumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    _no_out("cumsum", out)
    a = _operand(a)
    return _R.cumsum(a if dtype is None else _astype(a, dtype), axis)


def cumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    _no_out("cumprod", out)
    a = _operand(a)
    return _R.cumprod(a if dtype is None else _astype(a, dtype), axis)


def _astype(a: Any, dtype: Any) -> Any:
    """`a` as `dtype`: between floating and complex dtypes a traced value keeps its derivative
    (x.astype's rules: to an integer dtype it has none, complex to real is refused)."""
    if isinstance(a, _Tracer):
        return a if _np.dtype(dtype) == a.dtype else a.astype(_np.dtype(dtype))
    return _np.asarray(a, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# shapes

def reshape(a: Any, shape: Any = None, order: str = "C", *, newshape: Any = None) -> Any:
    shape = newshape if shape is None else shape
    a = _operand(a)
    if order == "F":  # column-major: reverse the axes on both sides of a C-order reshape
        sh = (shape,) if isinstance(shape, (int, _np.integer)) else tuple(shape)
        return _S.transpose(_S.reshape(_S.transpose(a), sh[::-1]))
    if order not in ("C", "A"):
        raise ValueError(f"reshape: order must be 'C' or 'F', not {order!r}")
    return _S.reshape(a, shape)


def ravel(a: Any, order: str = "C") -> Any:
    return reshape(a, (-1,), order=order)

def _first_array(f: _Callable[..., Any]) -> _Callable[..., Any]:
    """`f` with its first argument taken as an array operand (a list or tuple of values becomes
    an array); the others (axes, shapes) are passed as they are."""
    @_functools.wraps(f)
    def with_array(a: Any, *args: Any, **kwargs: Any) -> Any:
        return f(_operand(a), *args, **kwargs)

    return with_array


transpose = _first_array(_S.transpose)
swapaxes = _first_array(_S.swapaxes)
moveaxis = _first_array(_S.moveaxis)
expand_dims = _first_array(_S.expand_dims)
squeeze = _first_array(_S.squeeze)
broadcast_to = _first_array(_S.broadcast_to)


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
    return _in_library_of(a, _np.zeros(_shape_of(a), dtype or _dtype_of(a)))


def ones_like(a: Any, dtype: Any = None) -> Any:
    return _in_library_of(a, _np.ones(_shape_of(a), dtype or _dtype_of(a)))


def full_like(a: Any, fill_value: Any, dtype: Any = None) -> Any:
    if isinstance(fill_value, _Tracer):
        return _S.broadcast_to(fill_value, _shape_of(a))
    return _in_library_of(a, _np.full(_shape_of(a), fill_value, dtype or _dtype_of(a)))


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


def einsum(subscripts: Any, *operands: Any, optimize: Any = False, **kwargs: Any) -> Any:
    """np.einsum, in the subscripts-string form (`einsum('ij,jk->ik', a, b)`) and the sublist
    form (`einsum(a, [0, 1], b, [1, 2], [0, 2])`); the contraction order chosen by `optimize`
    does not change the result."""
    if kwargs.get("out") is not None:
        _no_out("einsum", kwargs["out"])
    if not isinstance(subscripts, str):
        subscripts, operands = _einsum_sublists((subscripts,) + operands)
    return _L.einsum(subscripts, *_operand_seq(operands))


def _einsum_letters(sublist: Any) -> str:
    """A sublist ([0, 1], [Ellipsis, 0]) as subscripts, with NumPy's labels: 0-25 are 'A'-'Z',
    26-51 'a'-'z'."""
    out = []
    for k in sublist:
        if k is Ellipsis:
            out.append("...")
            continue
        if isinstance(k, bool) or not isinstance(k, (int, _np.integer)) or not 0 <= k < 52:
            raise ValueError(f"einsum: a subscript in a sublist must be an integer in [0, 52) "
                             f"or Ellipsis, not {k!r}")
        out.append(chr(ord("A") + k) if k < 26 else chr(ord("a") + k - 26))
    return "".join(out)


def _einsum_sublists(args: tuple[Any, ...]) -> tuple[str, list[Any]]:
    """einsum(op0, sublist0, op1, sublist1, ..., [sublistout]) as (subscripts, operands)."""
    arrays, subs = list(args[0::2]), [_einsum_letters(s) for s in args[1::2]]
    spec = ""
    if len(arrays) > len(subs):  # an odd count: the last entry is the output sublist
        spec = "->" + _einsum_letters(arrays.pop())
    return ",".join(subs) + spec, arrays


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
    out = tuple(_S.atleast_nd(_operand(a), 1) for a in arys)
    return out[0] if len(out) == 1 else out


def atleast_2d(*arys: Any) -> Any:
    out = tuple(_S.atleast_nd(_operand(a), 2) for a in arys)
    return out[0] if len(out) == 1 else out


def atleast_3d(*arys: Any) -> Any:
    out = tuple(_S.atleast_nd(_operand(a), 3) for a in arys)
    return out[0] if len(out) == 1 else out


def hstack(tup: Any, dtype: Any = None, casting: str = "same_kind") -> Any:
    return _S.hstack(_operand_seq(tup))


def vstack(tup: Any, dtype: Any = None, casting: str = "same_kind") -> Any:
    return _S.vstack(_operand_seq(tup))


def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Any]:
    return _S.split(_operand(ary), indices_or_sections, axis, even=True)


def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Any]:
    return _S.split(_operand(ary), indices_or_sections, axis, even=False)


tile = _first_array(_S.tile)
fliplr = _first_array(_S.fliplr)
flipud = _first_array(_S.flipud)
rot90 = _first_array(_S.rot90)
diff = _first_array(_S.diff)
take_along_axis = _first_array(_I.take_along_axis)
diagonal = _first_array(_I.diagonal)
diag = _first_array(_I.diag)
tril = _first_array(_I.tril)
triu = _first_array(_I.triu)


def repeat(a: Any, repeats: Any, axis: int | None = None) -> Any:
    return _S.repeat(_operand(a), repeats, axis)


def flip(m: Any, axis: Any = None) -> Any:
    return _S.flip(_operand(m), axis)


def roll(a: Any, shift: Any, axis: Any = None) -> Any:
    return _S.roll(_operand(a), shift, axis)


def pad(array: Any, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Any:
    return _S.pad(_operand(array), pad_width, mode, kwargs.get("constant_values", 0))


def take(a: Any, indices: Any, axis: int | None = None, out: Any = None,
         mode: str = "raise") -> Any:
    _no_out("take", out)
    return _I.take(_operand(a), indices, axis, mode)


def sort(a: Any, axis: int | None = -1, kind: Any = None, order: Any = None,
         stable: Any = None) -> Any:
    return _I.sort(_operand(a), axis)


def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None,
          out: Any = None) -> Any:
    _no_out("trace", out)
    return _R.sum(_I.diagonal(_operand(a), offset, axis1, axis2), -1)


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
# the rest of NumPy's numerical functions, written with the functions above (so they
# differentiate, to every order, under every interpreter). Where no argument is traced they are
# NumPy's own functions, called directly: the values, warnings and errors are NumPy's.


def _traced(*objs: Any) -> bool:
    """Whether any of `objs` is a traced value or a (nested) list or tuple holding one."""
    return builtins.any(_contains_tracer(o) for o in objs)


_PY_NUMBERS = (bool, int, float, complex)


def _weak(x: Any) -> Any:
    """What np.result_type should see of `x`: a Python number as itself (NumPy's weak
    promotion, float32 with 2.0 stays float32), anything else as its dtype."""
    return x if type(x) in _PY_NUMBERS else _dtype_of(x)


def _inexact_type(*xs: Any) -> _np.dtype:
    """The floating or complex dtype NumPy computes `xs` in (integers become float64)."""
    dt = _np.result_type(*(_weak(x) for x in xs))
    return dt if dt.kind in "fc" else _np.dtype(_np.float64)


def _as_dtype(x: Any, dtype: Any) -> Any:
    """`x` as an array of `dtype` (a traced value converted differentiably)."""
    if isinstance(x, _Tracer):
        return x if x.dtype == dtype else _astype(x, dtype)
    return _np.asarray(x, dtype=dtype)


def _known(x: Any) -> Any:
    """The concrete value of `x`, or None under an interpreter without one (a graph being
    built, a batch): for NumPy's checks on values, made when they can be."""
    try:
        return _concrete_value(x, "a check on values")
    except _ConcretizationError:
        return None


def _zeros_for(x: Any) -> Any:
    return _np.zeros(_shape_of(x), _dtype_of(x))


def _ends(a: Any, axis: int, n: int) -> tuple[Any, Any]:
    """a[..., :n, ...] and a[..., -n:, ...] along `axis`."""
    lead = (slice(None),) * axis
    return _I.getitem(a, lead + (slice(None, n),)), _I.getitem(a, lead + (slice(-n, None),))


def _along(a: Any, axis: int, sl: Any) -> Any:
    return _I.getitem(a, (slice(None),) * axis + (sl,))


# --- creating ranges: linspace, logspace, geomspace, meshgrid

def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, retstep: bool = False,
             dtype: Any = None, axis: int = 0, *, device: Any = None) -> Any:
    """np.linspace, differentiable in `start` and `stop` (arrays too: the samples then run
    along `axis`)."""
    if not _traced(start, stop):
        kw = {} if device is None else {"device": device}
        return _np.linspace(start, stop, num, endpoint, retstep, dtype, axis, **kw)
    num = _operator.index(num)
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    div = (num - 1) if endpoint else num
    start, stop = _operand(start), _operand(stop)
    dt = _inexact_type(start, stop)
    start, stop = _as_dtype(start, dt), _as_dtype(stop, dt)
    delta = _E.sub(stop, start)
    nd = _ndim_of(delta)
    y = _np.arange(0, num, dtype=dt).reshape((-1,) + (1,) * nd)
    if div > 0:
        step = _E.div(delta, div)
        y = _E.mul(y, step)
    else:  # no samples, or one with endpoint=True: the step is undefined
        step = _np.nan
        y = _E.mul(y, delta)
    y = _E.add(y, start)
    if endpoint and num > 1:
        last = _S.broadcast_to(stop, _shape_of(y)[1:])
        y = _S.concatenate([_along(y, 0, slice(None, -1)), _S.expand_dims(last, 0)], 0)
    if axis != 0:
        y = _S.moveaxis(y, 0, axis)
    if dtype is not None:
        if _np.issubdtype(dtype, _np.integer):
            y = _E.floor_p.bind(y)
        y = _astype(y, dtype)
    return (y, step) if retstep else y


def logspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, base: Any = 10.0,
             dtype: Any = None, axis: int = 0) -> Any:
    """np.logspace: base ** linspace(start, stop), differentiable in start, stop and base."""
    if not _traced(start, stop, base):
        return _np.logspace(start, stop, num, endpoint, base, dtype, axis)
    start, stop, base = _operand(start), _operand(stop), _operand(base)
    if _ndim_of(base):
        # a non-scalar base is broadcast with the others: it may decide what `axis` means
        nd = len(_np.broadcast_shapes(_shape_of(start), _shape_of(stop), _shape_of(base)))
        start, stop, base = (_S.atleast_nd(v, nd) if isinstance(v, _Tracer)
                             else _np.array(v, ndmin=nd) for v in (start, stop, base))
        base = _S.expand_dims(base, axis)
    y = _E.power(base, linspace(start, stop, num=num, endpoint=endpoint, axis=axis))
    return y if dtype is None else _astype(y, dtype)


def geomspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, dtype: Any = None,
              axis: int = 0) -> Any:
    """np.geomspace (negative and complex ends too), differentiable in start and stop."""
    if not _traced(start, stop):
        return _np.geomspace(start, stop, num, endpoint, dtype, axis)
    start, stop = _operand(start), _operand(stop)
    for end in (start, stop):
        v = _known(end)
        if v is not None and _np.any(_np.asarray(v) == 0):
            raise ValueError("Geometric sequence cannot include zero")
    dt = _np.result_type(_weak(start), _weak(stop), float(num), _np.zeros((), dtype).dtype)
    start, stop = _as_dtype(start, dt), _as_dtype(stop, dt)
    # as NumPy: start rotated onto the positive reals, and back (a constant factor: the
    # derivative of the result does not depend on it)
    out_sign = _E.sign_p.bind(start)
    start = _E.div(start, out_sign)
    stop = _E.div(stop, out_sign)
    result = logspace(_E.log10(start), _E.log10(stop), num=num, endpoint=endpoint, base=10.0)
    if num > 0:  # the ends are start and stop exactly (10 ** log10(x) need not be x)
        shape = _shape_of(result)[1:]
        parts = [_S.expand_dims(_S.broadcast_to(start, shape), 0)]
        inner = slice(1, -1) if (num > 1 and endpoint) else slice(1, None)
        parts.append(_along(result, 0, inner))
        if num > 1 and endpoint:
            parts.append(_S.expand_dims(_S.broadcast_to(stop, shape), 0))
        result = _S.concatenate(parts, 0)
    result = _E.mul(result, out_sign)
    if axis != 0:
        result = _S.moveaxis(result, 0, axis)
    return result if dtype is None else _astype(result, dtype)


def meshgrid(*xi: Any, copy: bool = True, sparse: bool = False, indexing: str = "xy") -> Any:
    """np.meshgrid: coordinate arrays from coordinate vectors (a tuple, as NumPy 2's)."""
    if not _traced(*xi):
        return _np.meshgrid(*xi, copy=copy, sparse=sparse, indexing=indexing)
    if indexing not in ("xy", "ij"):
        raise ValueError("Valid values for `indexing` are 'xy' and 'ij'.")
    ndim = len(xi)
    s0 = (1,) * ndim
    shapes = [s0[:i] + (-1,) + s0[i + 1:] for i in range(ndim)]
    if indexing == "xy" and ndim > 1:
        shapes[0], shapes[1] = (1, -1) + s0[2:], (-1, 1) + s0[2:]
    output = [_S.reshape(_operand(x), sh) for x, sh in zip(xi, shapes)]
    if not sparse:
        full = _np.broadcast_shapes(*(_shape_of(o) for o in output))
        output = [_S.broadcast_to(o, full) for o in output]
    return tuple(output)


# --- joining and splitting

def append(arr: Any, values: Any, axis: int | None = None) -> Any:
    """np.append: `values` after `arr` (both flattened when axis is None)."""
    if not _traced(arr, values):
        return _np.append(arr, values, axis)
    arr, values = _operand(arr), _operand(values)
    if axis is None:
        return _S.concatenate([_S.ravel(arr), _S.ravel(values)], 0)
    return _S.concatenate([arr, values], axis)


def column_stack(tup: Any) -> Any:
    """np.column_stack: 1-D arrays become columns, then side by side."""
    if not _traced(tup):
        return _np.column_stack(tup)
    arrays = []
    for v in _operand_seq(tup):
        if _ndim_of(v) < 2:  # as np.array(v, ndmin=2).T
            v = _S.transpose(_S.atleast_nd(v, 2))
        arrays.append(v)
    return _S.concatenate(arrays, 1)


def row_stack(tup: Any, *, dtype: Any = None, casting: str = "same_kind") -> Any:
    """np.row_stack, the old name of vstack."""
    if not _traced(tup):
        return _np.vstack(tup, dtype=dtype, casting=casting)
    return vstack(tup)


def dstack(tup: Any) -> Any:
    """np.dstack: stacked along the third axis (arrays made at least 3-D first)."""
    if not _traced(tup):
        return _np.dstack(tup)
    return _S.concatenate([_S.atleast_nd(v, 3) for v in _operand_seq(tup)], 2)


def vsplit(ary: Any, indices_or_sections: Any) -> list[Any]:
    if _ndim_of(ary) < 2:
        raise ValueError("vsplit only works on arrays of 2 or more dimensions")
    return split(ary, indices_or_sections, 0)


def hsplit(ary: Any, indices_or_sections: Any) -> list[Any]:
    if _ndim_of(ary) == 0:
        raise ValueError("hsplit only works on arrays of 1 or more dimensions")
    return split(ary, indices_or_sections, 1 if _ndim_of(ary) > 1 else 0)


def dsplit(ary: Any, indices_or_sections: Any) -> list[Any]:
    if _ndim_of(ary) < 3:
        raise ValueError("dsplit only works on arrays of 3 or more dimensions")
    return split(ary, indices_or_sections, 2)


def rollaxis(a: Any, axis: int, start: int = 0) -> Any:
    """np.rollaxis: `axis` moved to lie before position `start` (prefer moveaxis)."""
    a = _operand(a)
    n = _ndim_of(a)
    axis = _normalize_axis_index(axis, n)
    if not -n <= start <= n:
        raise _np.exceptions.AxisError(f"'start' arg requires {-n} <= start < {n + 1}, but "
                                       f"{start} was passed in")
    if start < 0:
        start += n
    if axis < start:  # the axis is removed first, so what was at `start` moved back by one
        start -= 1
    if axis == start:
        return a
    return _S.moveaxis(a, axis, start)


def _normalize_axis_index(axis: Any, ndim: int) -> int:
    axis = _operator.index(axis)
    if not -ndim <= axis < ndim:
        raise _np.exceptions.AxisError(axis, ndim)
    return axis % ndim


# --- selection and piecewise functions

def select(condlist: Any, choicelist: Any, default: Any = 0) -> Any:
    """np.select: where the first true condition holds, its choice; elsewhere `default`. The
    derivative flows to the choice taken (exactly zero to the others)."""
    if not _traced(condlist, choicelist, default):
        return _np.select(condlist, choicelist, default)
    if len(condlist) != len(choicelist):
        raise ValueError("list of cases must be same length as list of conditions")
    if len(choicelist) == 0:
        raise ValueError("select with an empty condition list is not possible")
    conds = _operand_seq(condlist)
    for i, c in enumerate(conds):
        if _dtype_of(c) != _np.dtype(bool):
            raise TypeError(f"invalid entry {i} in condlist: should be boolean ndarray")
    choices = _operand_seq(choicelist)
    dt = _np.result_type(*(_dtype_of(c) for c in choices), _dtype_of(default))
    shape = _np.broadcast_shapes(*(_shape_of(v) for v in conds + choices),
                                 _shape_of(default))
    result = _S.broadcast_to(_as_dtype(_operand(default), dt), shape)
    for c, v in zip(conds[::-1], choices[::-1]):
        result = _E.select(c, _as_dtype(v, dt), result)
    return result


def heaviside(x1: Any, x2: Any) -> Any:
    """np.heaviside: 0 for x1 < 0, 1 for x1 > 0, x2 where x1 == 0 (nan for nan); its
    derivative is 0 in x1 (where it has one) and flows to x2 where x1 == 0."""
    if not _traced(x1, x2):
        return _np.heaviside(x1, x2)
    x1, x2 = _operand(x1), _operand(x2)
    dt = _np.result_type(_weak(x1), _weak(x2))
    zero, one = _number(0, dt), _number(1, dt)
    out = _E.select(_E.less_p.bind(x1, 0), zero,
                    _E.select(_E.greater_p.bind(x1, 0), one, _as_dtype(x2, dt)))
    return _E.select(_E.isnan_p.bind(x1), _as_dtype(_E.stop_gradient(x1), dt), out)


def sinc(x: Any) -> Any:
    """np.sinc, sin(pi x) / (pi x). Near 0 (|pi x| < 0.1) it is its Taylor polynomial, exact to
    rounding there, so that the derivatives at 0 are right to every order (0, -pi^2/3, ...)."""
    if not _traced(x):
        return _np.sinc(x)
    x = _operand(x)
    t = _E.mul(x, _math.pi)
    small = _E.less_p.bind(_E.abs(_E.stop_gradient(t)), 0.1)
    safe = _E.select(small, _number(1, _dtype_of(t)), t)
    direct = _E.div(_E.sin(safe), safe)
    t2 = _E.mul(t, t)
    series = _number(0, _dtype_of(t))  # sum of (-t^2)^k / (2k + 1)!, k = 0..5
    for k in range(5, -1, -1):
        series = _E.add(_E.mul(series, t2), (-1.0) ** k / _math.factorial(2 * k + 1))
    return _E.select(small, series, direct)


# np.i0 as NumPy computes it beyond 8 (Cephes' Chebyshev coefficients); below 8 its power
# series sum (x^2/4)^k / (k!)^2, which is even in x, so that no |x| (and its kink at 0) enters
_I0_B = (-7.23318048787475395456e-18, -4.83050448594418207126e-18, 4.46562142029675999901e-17,
         3.46122286769746109310e-17, -2.82762398051658348494e-16, -3.42548561967721913462e-16,
         1.77256013305652638360e-15, 3.81168066935262242075e-15, -9.55484669882830764870e-15,
         -4.15056934728722208663e-14, 1.54008621752140982691e-14, 3.85277838274214270114e-13,
         7.18012445138366623367e-13, -1.79417853150680611778e-12, -1.32158118404477131188e-11,
         -3.14991652796324136454e-11, 1.18891471078464383424e-11, 4.94060238822496958910e-10,
         3.39623202570838634515e-9, 2.26666899049817806459e-8, 2.04891858946906374183e-7,
         2.89137052083475648297e-6, 6.88975834691682398426e-5, 3.36911647825569408990e-3,
         8.04490411014108831608e-1)
_I0_SERIES = tuple(1.0 / _math.factorial(k) ** 2 for k in range(27))


def i0(x: Any) -> Any:
    """np.i0, the modified Bessel function of the first kind of order 0 (real x), written
    with elementwise primitives (its derivative is i1, which NumPy does not have)."""
    if not _traced(x):
        return _np.i0(x)
    x = _operand(x)
    if _is_complex(x):
        raise TypeError("i0 not supported for complex values")
    if _dtype_of(x).kind != "f":
        x = _astype(x, _np.float64)
    small = _E.less_equal_p.bind(_E.abs(_E.stop_gradient(x)), 8.0)
    xs = _E.select(small, x, _number(0, _dtype_of(x)))
    u = _E.mul(_E.mul(xs, xs), 0.25)
    series = _number(0, _dtype_of(x))
    for c in _I0_SERIES[::-1]:
        series = _E.add(_E.mul(series, u), c)
    a = _E.abs(_E.select(small, _np.full((), 9.0, _dtype_of(x)), x))  # (9: any value > 8)
    z = _E.sub(_E.div(32.0, a), 2.0)
    b0, b1, b2 = _I0_B[0], _number(0, _dtype_of(x)), _number(0, _dtype_of(x))
    for c in _I0_B[1:]:  # Clenshaw's recurrence, as NumPy's _chbevl
        b2, b1 = b1, b0
        b0 = _E.add(_E.sub(_E.mul(z, b1), b2), c)
    large = _E.div(_E.mul(_E.exp(a), _E.mul(_E.sub(b0, b2), 0.5)), _E.sqrt(a))
    return _E.select(small, series, large)


def interp(x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None,
           period: Any = None) -> Any:
    """np.interp: the piecewise-linear interpolant through (xp, fp) at x, differentiable in x
    (the slope of the segment; at a sample point, the segment to its right's), in fp and in xp.
    """
    if not _traced(x, xp, fp, left, right, period):
        return _np.interp(x, xp, fp, left, right, period)
    x, xp, fp = _operand(x), _operand(xp), _operand(fp)
    if _ndim_of(xp) != 1 or _ndim_of(fp) != 1:
        raise ValueError("interp: xp and fp must be one-dimensional")
    if _shape_of(xp)[0] != _shape_of(fp)[0]:
        raise ValueError("fp and xp are not of the same length.")
    if _shape_of(xp)[0] == 0:
        raise ValueError("array of sample points is empty")
    fdt = _np.result_type(_np.complex128 if _is_complex(fp) else _np.float64)
    x, xp, fp = (_as_dtype(x, _np.float64), _as_dtype(xp, _np.float64), _as_dtype(fp, fdt))
    if period is not None:
        if _known(period) is not None and _known(period) == 0:
            raise ValueError("period must be a non-zero value")
        period = _E.abs(_operand(period))
        left = right = None
        x = _E.mod_p.bind(x, period)
        xp = _E.mod_p.bind(xp, period)
        order = _I.argsort(xp)
        xp, fp = _I.take(xp, order), _I.take(fp, order)
        xp = _S.concatenate([_E.sub(_along(xp, 0, slice(-1, None)), period), xp,
                             _E.add(_along(xp, 0, slice(0, 1)), period)], 0)
        fp = _S.concatenate([_along(fp, 0, slice(-1, None)), fp, _along(fp, 0, slice(0, 1))], 0)
    n = _shape_of(xp)[0]
    first, last = _I.getitem(xp, 0), _I.getitem(xp, -1)
    f_first, f_last = _I.getitem(fp, 0), _I.getitem(fp, -1)
    left = f_first if left is None else _as_dtype(_operand(left), fdt)
    right = f_last if right is None else _as_dtype(_operand(right), fdt)
    if n == 1:
        inside = _S.broadcast_to(f_first, _shape_of(x))
    else:
        # the segment [xp[j], xp[j + 1]] holding x: j = (the number of xp <= x) - 1, within
        # 0..n-2 (beyond the ends the value is left or right)
        j = _E.sub(_I.searchsorted(_E.stop_gradient(xp), _E.stop_gradient(x), "right"), 1)
        j = _E.minimum_p.bind(_E.maximum_p.bind(j, 0), n - 2)
        lo, hi = _I.take(xp, j), _I.take(xp, _E.add(j, 1))
        f_lo, f_hi = _I.take(fp, j), _I.take(fp, _E.add(j, 1))
        slope = _E.div(_E.sub(f_hi, f_lo), _E.sub(hi, lo))
        inside = _E.add(_E.mul(slope, _E.sub(x, lo)), f_lo)
        inside = _E.select(_E.equal_p.bind(x, last), _S.broadcast_to(f_last, _shape_of(x)),
                           inside)
    out = _E.select(_E.greater_p.bind(x, last), right, inside)
    return _E.select(_E.less_p.bind(x, first), left, out)


def real_if_close(a: Any, tol: float = 100) -> Any:
    """np.real_if_close: the real part when every imaginary part is within tol machine
    epsilons of 0 (decided on the values, so a traced `a` needs concrete values)."""
    if not _traced(a):
        return _np.real_if_close(a, tol)
    a = _operand(a)
    if not _is_complex(a):
        return a
    if tol > 1:
        tol = _np.finfo(_dtype_of(a).type).eps * tol
    imag_part = _concrete_value(_E.stop_gradient(imag(a)), "real_if_close of a traced value")
    return real(a) if _np.all(_np.absolute(imag_part) < tol) else a


def partition(a: Any, kth: Any, axis: int | None = -1, kind: str = "introselect",
              order: Any = None) -> Any:
    """np.partition, with NumPy's values; the derivative follows the values (as sort's)."""
    if not _traced(a):
        return _np.partition(a, kth, axis, kind, order)
    return _I.partition(_operand(a), kth, axis)


def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1,
          axis: int | None = None) -> Any:
    """np.cross of 3-vectors (and of 2-vectors, which NumPy deprecates)."""
    if not _traced(a, b):
        return _np.cross(a, b, axisa, axisb, axisc, axis)
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = _operand(a), _operand(b)
    if _ndim_of(a) < 1 or _ndim_of(b) < 1:
        raise ValueError("At least one array has zero dimension")
    a = _S.moveaxis(a, _normalize_axis_index(axisa, _ndim_of(a)), -1)
    b = _S.moveaxis(b, _normalize_axis_index(axisb, _ndim_of(b)), -1)
    na, nb = _shape_of(a)[-1], _shape_of(b)[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError("incompatible dimensions for cross product\n"
                         "(dimension must be 2 or 3)")
    if na == 2 or nb == 2:
        _warnings.warn("Arrays of 2-dimensional vectors are deprecated. Use arrays of "
                       "3-dimensional vectors instead. (deprecated in NumPy 2.0)",
                       DeprecationWarning, stacklevel=2)
    a0, a1 = _I.getitem(a, (Ellipsis, 0)), _I.getitem(a, (Ellipsis, 1))
    b0, b1 = _I.getitem(b, (Ellipsis, 0)), _I.getitem(b, (Ellipsis, 1))
    cp2 = _E.sub(_E.mul(a0, b1), _E.mul(a1, b0))
    if na == 2 and nb == 2:
        return cp2
    a2 = _I.getitem(a, (Ellipsis, 2)) if na == 3 else None
    b2 = _I.getitem(b, (Ellipsis, 2)) if nb == 3 else None
    if a2 is None:
        cp0, cp1 = _E.mul(a1, b2), _E.neg(_E.mul(a0, b2))
    elif b2 is None:
        cp0, cp1 = _E.neg(_E.mul(a2, b1)), _E.mul(a2, b0)
    else:
        cp0 = _E.sub(_E.mul(a1, b2), _E.mul(a2, b1))
        cp1 = _E.sub(_E.mul(a2, b0), _E.mul(a0, b2))
    shape = _shape_of(cp2)
    cp = _S.stack([_S.broadcast_to(c, shape) for c in (cp0, cp1, cp2)], -1)
    return _S.moveaxis(cp, -1, _normalize_axis_index(axisc, len(shape) + 1))


# --- reductions that ignore NaN


def _nan_parts(a: Any, where: Any) -> tuple[Any, Any]:
    """(the entries that count: not NaN, and inside `where`; `a` with the others set to 0)."""
    valid = _E.logical_not_p.bind(_E.isnan_p.bind(a))
    if where is not True:
        valid = _E.logical_and_p.bind(valid, _np.broadcast_to(where, _shape_of(a)))
    return valid, _E.select(valid, a, _number(0, _dtype_of(a)))


def _count(mask: Any, axis: Any, keepdims: bool) -> Any:
    """The number of True entries of `mask` along `axis`, as an integer array."""
    ones = _E.select(mask, _number(1, _np.intp), _number(0, _np.intp))
    return _R.sum(ones, axis, keepdims)


def _no_value(x: Any) -> bool:
    return x is _np._NoValue


def _given(**kwargs: Any) -> dict[str, Any]:
    """The keyword arguments that were given (NumPy's newer keywords, which older NumPy
    versions refuse even at their default)."""
    return {k: v for k, v in kwargs.items() if v is not _np._NoValue}


def nansum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
           keepdims: Any = _np._NoValue, initial: Any = _np._NoValue,
           where: Any = _np._NoValue) -> Any:
    """np.nansum: NaN counts as 0; the derivative at a NaN entry is exactly 0."""
    if not _traced(a, initial):
        return _np.nansum(a, axis, dtype, out, keepdims, initial, where)
    _no_out("nansum", out)
    a = _operand(a)
    a = a if dtype is None else _astype(a, dtype)
    _, filled = _nan_parts(a, True if _no_value(where) else where)
    s = _R.sum(filled, axis, not _no_value(keepdims) and bool(keepdims))
    return s if _no_value(initial) else _E.add(s, initial)


def nanmean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
            keepdims: Any = _np._NoValue, *, where: Any = _np._NoValue) -> Any:
    """np.nanmean: the mean of the entries that are not NaN (nan where there are none)."""
    if not _traced(a):
        return _np.nanmean(a, axis, dtype, out, keepdims, where=where)
    _no_out("nanmean", out)
    a = _operand(a)
    a = a if dtype is None else _astype(a, dtype)
    keep = not _no_value(keepdims) and bool(keepdims)
    valid, filled = _nan_parts(a, True if _no_value(where) else where)
    return _E.div(_R.sum(filled, axis, keep), _count(valid, axis, keep))


def _nan_extreme(a: Any, axis: Any, keepdims: Any, initial: Any, where: Any,
                 sign: float) -> Any:
    a = _operand(a)
    keep = not _no_value(keepdims) and bool(keepdims)
    valid, _ = _nan_parts(a, True if _no_value(where) else where)
    x = a if sign > 0 else _E.neg(a)
    m = _R.max(_E.select(valid, x, _np.full((), -_np.inf, _dtype_of(a))), axis, keep)
    if not _no_value(initial):
        m = _E.maximum_p.bind(m, initial if sign > 0 else _E.neg(initial))
    else:  # a slice with no number in it: nan (NumPy warns "All-NaN slice encountered")
        none = _E.equal_p.bind(_count(valid, axis, keep), 0)
        m = _E.select(none, _np.full((), _np.nan, _dtype_of(a)), m)
    return m if sign > 0 else _E.neg(m)


def nanmax(a: Any, axis: Any = None, out: Any = None, keepdims: Any = _np._NoValue,
           initial: Any = _np._NoValue, where: Any = _np._NoValue) -> Any:
    """np.nanmax: the maximum of the entries that are not NaN (ties share the derivative)."""
    if not _traced(a, initial):
        return _np.nanmax(a, axis, out, keepdims, initial, where)
    _no_out("nanmax", out)
    return _nan_extreme(a, axis, keepdims, initial, where, 1.0)


def nanmin(a: Any, axis: Any = None, out: Any = None, keepdims: Any = _np._NoValue,
           initial: Any = _np._NoValue, where: Any = _np._NoValue) -> Any:
    """np.nanmin: the minimum of the entries that are not NaN."""
    if not _traced(a, initial):
        return _np.nanmin(a, axis, out, keepdims, initial, where)
    _no_out("nanmin", out)
    return _nan_extreme(a, axis, keepdims, initial, where, -1.0)


def nanvar(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
           keepdims: Any = _np._NoValue, *, where: Any = _np._NoValue, mean: Any = _np._NoValue,
           correction: Any = _np._NoValue) -> Any:
    """np.nanvar: the variance of the entries that are not NaN (nan where fewer than ddof + 1
    are left); the derivative at a NaN entry is exactly 0."""
    if not _traced(a, mean):
        return _np.nanvar(a, axis, dtype, out, ddof, keepdims, where=where,
                          **_given(mean=mean, correction=correction))
    _no_out("nanvar", out)
    if not _no_value(correction):
        if ddof != 0:
            raise ValueError("ddof and correction can't be provided simultaneously.")
        ddof = correction
    a = _operand(a)
    a = a if dtype is None else _astype(a, dtype)
    keep = not _no_value(keepdims) and bool(keepdims)
    valid, filled = _nan_parts(a, True if _no_value(where) else where)
    cnt = _count(valid, axis, True)
    avg = _E.div(_R.sum(filled, axis, True), cnt) if _no_value(mean) else _operand(mean)
    centred = _E.select(valid, _E.sub(filled, avg), _number(0, _dtype_of(a)))
    if _is_complex(centred):
        sq = _E.real_p.bind1(_E.mul(centred, _E.conj_p.bind1(centred)))
    else:
        sq = _E.mul(centred, centred)
    dof = _E.sub(cnt if keep else _count(valid, axis, False), ddof)
    v = _E.div(_R.sum(sq, axis, keep), _E.maximum_p.bind(dof, 1))
    return _E.select(_E.less_equal_p.bind(dof, 0), _np.full((), _np.nan, _dtype_of(v)), v)


def nanstd(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: Any = 0,
           keepdims: Any = _np._NoValue, *, where: Any = _np._NoValue, mean: Any = _np._NoValue,
           correction: Any = _np._NoValue) -> Any:
    """np.nanstd: sqrt of nanvar (the derivative is nan where the entries are all equal, as
    std's)."""
    if not _traced(a, mean):
        return _np.nanstd(a, axis, dtype, out, ddof, keepdims, where=where,
                          **_given(mean=mean, correction=correction))
    return _E.sqrt(nanvar(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean,
                          correction=correction))


# --- order statistics: median, quantile, percentile; ptp, average


def _gather_axis0(a: Any, axis: Any) -> tuple[Any, tuple[int, ...]]:
    """`a` with the axes `axis` (all for None) moved to the front and flattened into one:
    (that array, the normalised axes)."""
    nd = _ndim_of(a)
    axes = tuple(range(nd)) if axis is None else _R.normalize_axis(axis, nd, scalar_0d=False)
    moved = _S.moveaxis(a, axes, tuple(range(len(axes)))) if axes else a
    shape = _shape_of(moved)
    n = _math.prod(shape[:len(axes)])
    return _S.reshape(moved, (n,) + shape[len(axes):]), axes


def _keep_reduced(r: Any, lead: int, shape: tuple[int, ...], axes: tuple[int, ...]) -> Any:
    """The result `r` (its first `lead` axes from q) with the reduced axes kept as 1s."""
    s = _shape_of(r)[:lead] + tuple(1 if i in axes else d for i, d in enumerate(shape))
    return _S.reshape(r, s)


def median(a: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
           keepdims: bool = False) -> Any:
    """np.median: the middle value, or the mean of the two middle values; nan for a slice
    holding a NaN. The derivative goes to the middle entries (half to each of two)."""
    if not _traced(a):
        return _np.median(a, axis, out, overwrite_input, keepdims)
    _no_out("median", out)
    a = _operand(a)
    arr, axes = _gather_axis0(a, axis)
    n = _shape_of(arr)[0]
    s = _I.sort(arr, 0)
    half = n // 2
    rows = slice(half, half + 1) if n % 2 else slice(half - 1, half + 1)
    r = _R.mean(_along(s, 0, rows), 0)
    if n and _dtype_of(a).kind in "fc":
        last = _I.getitem(s, -1)
        r = _E.select(_E.isnan_p.bind(last), last, r)
    return _keep_reduced(r, 0, _shape_of(a), axes) if keepdims else r


def _floor_index(v: Any, lo: int, hi: int) -> Any:
    """floor(v) as an integer array, clipped to [lo, hi] (for an index computed from a traced
    value under an interpreter without concrete values: the count of the integers of (lo, hi]
    that are <= v)."""
    if not isinstance(v, _Tracer):
        return _np.clip(_np.floor(v), lo, hi).astype(_np.intp)
    ks = _np.arange(lo + 1, hi + 1, dtype=_dtype_of(v))
    below = _E.less_equal_p.bind(ks, _S.expand_dims(v, -1))
    return _E.add(_count(below, -1, False), lo)


def _virtual_index(method: str, n: int, q: Any) -> Any:
    """The position in the sorted sample that `method` takes for q (NumPy's table)."""
    alpha_beta = {"interpolated_inverted_cdf": (0.0, 1.0), "hazen": (0.5, 0.5),
                  "weibull": (0.0, 0.0), "median_unbiased": (1 / 3.0, 1 / 3.0),
                  "normal_unbiased": (3 / 8.0, 3 / 8.0)}
    if method in ("linear", "lower", "higher", "nearest", "midpoint"):
        return _E.mul(q, n - 1)
    if method in alpha_beta:
        al, be = alpha_beta[method]
        return _E.sub(_E.add(_E.mul(q, n), _E.add(_E.mul(q, 1 - al - be), al)), 1)
    if method in ("inverted_cdf", "averaged_inverted_cdf"):
        return _E.sub(_E.mul(q, n), 1)
    if method == "closest_observation":
        return _E.sub(_E.mul(q, n), 1.5)
    raise ValueError(f"{method!r} is not a valid method. Use one of: {tuple(_QUANTILE_METHODS)}")


_QUANTILE_METHODS = ("inverted_cdf", "averaged_inverted_cdf", "closest_observation",
                     "interpolated_inverted_cdf", "hazen", "weibull", "linear", "median_unbiased",
                     "normal_unbiased", "lower", "higher", "midpoint", "nearest")


def _quantile_positions(method: str, n: int, q: Any) -> tuple[Any, Any, Any]:
    """(previous index, next index, interpolation weight gamma) of NumPy's quantile method
    at q; gamma is None for the methods that take one entry (next is then unused), and a
    function of q (so differentiable in q) for the continuous ones."""
    qc = _E.stop_gradient(q)
    vi = _virtual_index(method, n, qc)
    fl = _E.floor_p.bind(vi)
    if method in ("lower", "higher", "nearest", "inverted_cdf", "closest_observation"):
        if method == "lower":
            idx = fl
        elif method == "higher":
            idx = _E.ceil_p.bind(vi)
        elif method == "nearest":
            idx = _E.round_p.bind(vi)  # (halves to even, as np.around)
        elif method == "inverted_cdf":  # the next index, or this one where vi is integral
            idx = _E.ceil_p.bind(vi)
        else:  # closest_observation: at an integral vi, the nearest even order statistic
            odd = _E.equal_p.bind(_E.mod_p.bind(fl, 2.0), 1.0)
            at = _E.logical_and_p.bind(_E.equal_p.bind(vi, fl), odd)
            idx = _E.select(at, fl, _E.add(fl, 1.0))
        i = _floor_index(idx, 0, n - 1)
        return i, i, None
    prev = _floor_index(fl, -1, n)
    above = _E.greater_equal_p.bind(vi, n - 1)
    below = _E.less_p.bind(vi, 0)
    nxt = _E.select(above, n - 1, _E.select(below, 0, _E.add(prev, 1)))
    prev = _E.select(above, n - 1, _E.select(below, 0, prev))
    nan_vi = _E.isnan_p.bind(vi)
    prev, nxt = _E.select(nan_vi, n - 1, prev), _E.select(nan_vi, n - 1, nxt)
    if method == "midpoint":
        gamma = _E.select(_E.equal_p.bind(vi, fl), 0.0, 0.5)
    elif method == "averaged_inverted_cdf":
        gamma = _E.select(_E.equal_p.bind(vi, fl), 0.5, 1.0)
    else:  # the fractional part, a function of q
        gamma = _E.sub(_virtual_index(method, n, q), fl)
    return prev, nxt, gamma


def _quantile(a: Any, q: Any, axis: Any, method: str, keepdims: bool) -> Any:
    a, q = _operand(a), _operand(q)
    arr, axes = _gather_axis0(a, axis)
    n = _shape_of(arr)[0]
    s = _I.sort(arr, 0)
    rest = _ndim_of(arr) - 1
    prev, nxt, gamma = _quantile_positions(method, n, q)
    lo = _I.take(s, prev, 0)
    if gamma is None:
        r = lo
    else:
        hi = _I.take(s, nxt, 0)
        t = _S.reshape(gamma, _shape_of(gamma) + (1,) * rest)
        if _dtype_of(t) != _dtype_of(s) and _dtype_of(s).kind == "f":
            t = _as_dtype(t, _dtype_of(s))
        d = _E.sub(hi, lo)
        # NumPy's lerp: from the nearer end (exact at t = 0 and t = 1)
        r = _E.select(_E.greater_equal_p.bind(t, 0.5),
                      _E.sub(hi, _E.mul(d, _E.sub(1.0, t))), _E.add(lo, _E.mul(d, t)))
    if n and _dtype_of(s).kind in "fc":
        last = _I.getitem(s, -1)
        r = _E.select(_E.isnan_p.bind(last), last, r)
    return _keep_reduced(r, _ndim_of(q), _shape_of(a), axes) if keepdims else r


def _check_method(method: str) -> None:
    if method not in _QUANTILE_METHODS:
        raise ValueError(f"{method!r} is not a valid method. Use one of: {_QUANTILE_METHODS}")


def quantile(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
             method: str = "linear", keepdims: bool = False, *, weights: Any = None) -> Any:
    """np.quantile with NumPy's 13 methods, through sort: differentiable in `a` (the entries
    taken, weighted as interpolated) and in `q` (for the continuous methods; the discrete ones
    are piecewise constant in q)."""
    if not _traced(a, q, weights):
        kw = {} if weights is None else {"weights": weights}
        return _np.quantile(a, q, axis, out, overwrite_input, method, keepdims, **kw)
    _no_out("quantile", out)
    _check_method(method)
    if weights is not None:
        raise NotImplementedError("quantile(..., weights=...) of traced values is not "
                                  "differentiable in chainrule; call it without weights")
    qv = _known(_operand(q))
    if qv is not None and not (_np.all(_np.asarray(qv) >= 0) and _np.all(_np.asarray(qv) <= 1)):
        raise ValueError("Quantiles must be in the range [0, 1]")
    return _quantile(a, q, axis, method, keepdims)


def percentile(a: Any, q: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False,
               method: str = "linear", keepdims: bool = False, *, weights: Any = None) -> Any:
    """np.percentile: quantile at q / 100."""
    if not _traced(a, q, weights):
        kw = {} if weights is None else {"weights": weights}
        return _np.percentile(a, q, axis, out, overwrite_input, method, keepdims, **kw)
    qv = _known(_operand(q))
    if qv is not None and not (_np.all(_np.asarray(qv) >= 0)
                               and _np.all(_np.asarray(qv) <= 100)):
        raise ValueError("Percentiles must be in the range [0, 100]")
    return quantile(a, _E.div(_operand(q), 100), axis, out, overwrite_input, method, keepdims,
                    weights=weights)


def ptp(a: Any, axis: Any = None, out: Any = None, keepdims: Any = _np._NoValue) -> Any:
    """np.ptp, max - min."""
    if not _traced(a):
        return _np.ptp(a, axis, out, keepdims)
    _no_out("ptp", out)
    a, keep = _operand(a), not _no_value(keepdims) and bool(keepdims)
    return _E.sub(_R.max(a, axis, keep), _R.min(a, axis, keep))


def average(a: Any, axis: Any = None, weights: Any = None, returned: bool = False, *,
            keepdims: Any = _np._NoValue) -> Any:
    """np.average, differentiable in `a` and in `weights`."""
    if not _traced(a, weights):
        return _np.average(a, axis, weights, returned, keepdims=keepdims)
    a = _operand(a)
    keep = not _no_value(keepdims) and bool(keepdims)
    nd = _ndim_of(a)
    axes = None if axis is None else _R.normalize_axis(axis, nd, scalar_0d=False)
    if weights is None:
        avg = _R.mean(a, axes, keep)
        scl = _np.asarray(_math.prod(_shape_of(a)) / _math.prod(_shape_of(avg)),
                          _dtype_of(avg))
    else:
        w = _operand(weights)
        if _dtype_of(a).kind in "biu":
            dt = _np.result_type(_dtype_of(a), _dtype_of(w), "f8")
        else:
            dt = _np.result_type(_dtype_of(a), _dtype_of(w))
        if _shape_of(a) != _shape_of(w):
            if axes is None:
                raise TypeError("Axis must be specified when shapes of a and weights differ.")
            if _shape_of(w) != tuple(_shape_of(a)[ax] for ax in _normalize_axes_in_order(
                    axis, nd)):
                raise ValueError("Shape of weights must be consistent with shape of a along "
                                 "specified axis.")
            order = _normalize_axes_in_order(axis, nd)
            w = _S.transpose(w, tuple(int(i) for i in _np.argsort(order)))
            w = _S.reshape(w, tuple(s if ax in axes else 1 for ax, s in enumerate(_shape_of(a))))
        w = _as_dtype(w, dt)
        scl = _R.sum(_S.broadcast_to(w, _np.broadcast_shapes(_shape_of(w), _shape_of(a))),
                     axes, keep)
        known = _known(scl)
        if known is not None and _np.any(_np.asarray(known) == 0.0):
            raise ZeroDivisionError("Weights sum to zero, can't be normalized")
        avg = _E.div(_R.sum(_E.mul(_as_dtype(a, dt), w), axes, keep), scl)
    if returned:
        if _shape_of(scl) != _shape_of(avg):
            scl = _S.broadcast_to(scl, _shape_of(avg))
        return avg, scl
    return avg


def _normalize_axes_in_order(axis: Any, nd: int) -> tuple[int, ...]:
    axes = (axis,) if isinstance(axis, (int, _np.integer)) else tuple(axis)
    return tuple(_normalize_axis_index(ax, nd) for ax in axes)


# --- statistics of several variables: cov, corrcoef


def cov(m: Any, y: Any = None, rowvar: bool = True, bias: bool = False, ddof: Any = None,
        fweights: Any = None, aweights: Any = None, *, dtype: Any = None) -> Any:
    """np.cov, differentiable in m, y and aweights (fweights are counts)."""
    if not _traced(m, y, fweights, aweights):
        return _np.cov(m, y, rowvar, bias, ddof, fweights, aweights, dtype=dtype)
    if ddof is not None and ddof != int(ddof):
        raise ValueError("ddof must be integer")
    m = _operand(m)
    if _ndim_of(m) > 2:
        raise ValueError("m has more than 2 dimensions")
    if y is not None:
        y = _operand(y)
        if _ndim_of(y) > 2:
            raise ValueError("y has more than 2 dimensions")
    if dtype is None:
        dtype = _np.result_type(_dtype_of(m), *(() if y is None else (_dtype_of(y),)),
                                _np.float64)
    X = _S.atleast_nd(_as_dtype(m, dtype), 2)
    if not rowvar and _ndim_of(m) != 1:
        X = _S.transpose(X)
    if _shape_of(X)[0] == 0:
        return _np.array([]).reshape(0, 0)
    if y is not None:
        Y = _S.atleast_nd(_as_dtype(y, dtype), 2)
        if not rowvar and _shape_of(Y)[0] != 1:
            Y = _S.transpose(Y)
        X = _S.concatenate([X, Y], 0)
    if ddof is None:
        ddof = 1 if bias == 0 else 0
    nobs = _shape_of(X)[1]
    w = None
    if fweights is not None:
        fw = _operand(fweights)
        known = _known(fw)
        if known is not None and not _np.all(_np.asarray(known) == _np.around(known)):
            raise TypeError("fweights must be integer")
        if _ndim_of(fw) > 1:
            raise RuntimeError("cannot handle multidimensional fweights")
        if _shape_of(fw)[0] != nobs:
            raise RuntimeError("incompatible numbers of samples and fweights")
        if known is not None and _np.any(_np.asarray(known) < 0):
            raise ValueError("fweights cannot be negative")
        w = _as_dtype(fw, _np.float64)
    aw = None
    if aweights is not None:
        aw = _as_dtype(_operand(aweights), _np.float64)
        if _ndim_of(aw) > 1:
            raise RuntimeError("cannot handle multidimensional aweights")
        if _shape_of(aw)[0] != nobs:
            raise RuntimeError("incompatible numbers of samples and aweights")
        known = _known(aw)
        if known is not None and _np.any(_np.asarray(known) < 0):
            raise ValueError("aweights cannot be negative")
        w = aw if w is None else _E.mul(w, aw)
    avg, w_sum = average(X, axis=1, weights=w, returned=True)
    w_sum = _I.getitem(w_sum, 0)
    if w is None:
        fact: Any = nobs - ddof
    elif ddof == 0:
        fact = w_sum
    elif aw is None:
        fact = _E.sub(w_sum, ddof)
    else:
        fact = _E.sub(w_sum, _E.div(_E.mul(ddof, _R.sum(_E.mul(w, aw))), w_sum))
    known = _known(fact)
    if known is not None and known <= 0:
        _warnings.warn("Degrees of freedom <= 0 for slice", RuntimeWarning, stacklevel=2)
        fact = 0.0
    X = _E.sub(X, _S.expand_dims(avg, 1))
    X_T = _S.transpose(X if w is None else _E.mul(X, w))
    c = _L.matmul(X, conj(X_T))
    c = _E.mul(c, _E.div(1.0, fact))
    return _S.squeeze(c)


def corrcoef(x: Any, y: Any = None, rowvar: bool = True, *, dtype: Any = None) -> Any:
    """np.corrcoef, the covariance normalised by the standard deviations, clipped to [-1, 1]
    as NumPy does."""
    if not _traced(x, y):
        return _np.corrcoef(x, y, rowvar, dtype=dtype)
    c = cov(x, y, rowvar, dtype=dtype)
    if _ndim_of(c) != 2:  # one variable: NumPy returns c / c
        return _E.div(c, c)
    d = _I.diagonal(c)
    stddev = _E.sqrt(real(d))
    c = _E.div(c, _S.expand_dims(stddev, 1))
    c = _E.div(c, _S.expand_dims(stddev, 0))
    if _is_complex(c):
        re, im = clip(real(c), -1, 1), clip(imag(c), -1, 1)
        return _E.add(_astype(re, _dtype_of(c)), _E.mul(_astype(im, _dtype_of(c)), 1j))
    return clip(c, -1, 1)


# --- sequences: convolve, correlate, polyval, trapezoid, unwrap, ediff1d, gradient


def _full_correlation(a: Any, v: Any) -> Any:
    """c[k] = sum_n a[n + k - (N - 1)] v[n] for k = 0..M+N-2 (zeros outside a; no
    conjugation): one gather of the windows of the longer operand, one matrix product."""
    M, N = _shape_of(a)[0], _shape_of(v)[0]
    if N > M:  # the same sums, read backwards, with the roles exchanged
        return _S.flip(_full_correlation(v, a), 0)
    dt = _np.result_type(_dtype_of(a), _dtype_of(v))
    pad = _np.zeros(N - 1, dt)
    padded = _S.concatenate([pad, _as_dtype(a, dt), pad], 0) if N > 1 else _as_dtype(a, dt)
    idx = _np.arange(M + N - 1)[:, None] + _np.arange(N)[None, :]
    return _L.matmul(_I.getitem(padded, idx), _as_dtype(v, dt))


_CONV_MODES = {"valid": 0, "same": 1, "full": 2, 0: 0, 1: 1, 2: 2}


def _correlation_mode(a: Any, v: Any, mode: Any) -> Any:
    """NumPy's (old) correlate of a with v in `mode`, for len(a) >= len(v)."""
    try:
        m = _CONV_MODES[mode]
    except (KeyError, TypeError):
        raise ValueError(f"mode must be one of 'valid', 'same', or 'full' (got {mode!r})") \
            from None
    full = _full_correlation(a, v)
    M, N = _shape_of(a)[0], _shape_of(v)[0]
    if m == 2:
        return full
    if m == 1:
        start = (N - 1) - N // 2
        return _along(full, 0, slice(start, start + M))
    return _along(full, 0, slice(N - 1, M))


def _vectors(a: Any, v: Any) -> tuple[Any, Any]:
    a, v = _S.atleast_nd(_operand(a), 1), _S.atleast_nd(_operand(v), 1)
    if _ndim_of(a) != 1 or _ndim_of(v) != 1:
        raise ValueError("object too deep for desired array")
    if _shape_of(a)[0] == 0:
        raise ValueError("a cannot be empty")
    if _shape_of(v)[0] == 0:
        raise ValueError("v cannot be empty")
    return a, v


def convolve(a: Any, v: Any, mode: str = "full") -> Any:
    """np.convolve of two 1-D sequences (modes full, same, valid), differentiable in both."""
    if not _traced(a, v):
        return _np.convolve(a, v, mode)
    a, v = _vectors(a, v)
    if _shape_of(v)[0] > _shape_of(a)[0]:
        a, v = v, a
    return _correlation_mode(a, _S.flip(v, 0), mode)


def correlate(a: Any, v: Any, mode: str = "valid") -> Any:
    """np.correlate, c[k] = sum_n a[n + k] conj(v[n]) (modes valid, same, full)."""
    if not _traced(a, v):
        return _np.correlate(a, v, mode)
    a, v = _vectors(a, v)
    v = conj(v)
    if _shape_of(a)[0] >= _shape_of(v)[0]:
        return _correlation_mode(a, v, mode)
    return _S.flip(_correlation_mode(v, a, mode), 0)


def polyval(p: Any, x: Any) -> Any:
    """np.polyval by Horner's scheme, differentiable in the coefficients and in x."""
    if not _traced(p, x):
        return _np.polyval(p, x)
    x = _operand(x)
    coeffs = list(p) if isinstance(p, (list, tuple)) else [
        _I.getitem(p, i) for i in range(_shape_of(p)[0])]
    y: Any = _zeros_for(x)
    for c in coeffs:
        y = _E.add(_E.mul(y, x), _operand(c))
    return y


def trapezoid(y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1) -> Any:
    """np.trapezoid, the trapezoidal rule, differentiable in y, x and dx."""
    if not _traced(y, x, dx):
        plain = getattr(_np, "trapezoid", None) or _np.trapz  # (NumPy < 2)
        return plain(y, x, dx, axis)
    y = _operand(y)
    nd = _ndim_of(y)
    ax = _normalize_axis_index(axis, nd)
    if x is None:
        d = _operand(dx)
    else:
        x = _operand(x)
        if _ndim_of(x) == 1:
            d = _S.diff(x)
            shape = [1] * nd
            shape[ax] = _shape_of(d)[0]
            d = _S.reshape(d, tuple(shape))
        else:
            d = _S.diff(x, axis=axis)
    mids = _E.add(_along(y, ax, slice(1, None)), _along(y, ax, slice(None, -1)))
    return _R.sum(_E.div(_E.mul(d, mids), 2.0), ax)


def unwrap(p: Any, discont: Any = None, axis: int = -1, *, period: Any = 2 * _math.pi) -> Any:
    """np.unwrap: jumps larger than period/2 taken out by multiples of period. The
    corrections are piecewise constant in p: the derivative in p is the identity."""
    if not _traced(p, discont, period):
        return _np.unwrap(p, discont, axis, period=period)
    p = _operand(p)
    nd = _ndim_of(p)
    ax = _normalize_axis_index(axis, nd)
    dd = _S.diff(p, axis=ax)
    if discont is None:
        discont = _E.div(period, 2)
    dt = _np.result_type(_dtype_of(dd), _weak(period))
    if _np.issubdtype(dt, _np.integer):
        interval_high, rem = divmod(period, 2)
        boundary_ambiguous = rem == 0
    else:
        interval_high = _E.div(period, 2)
        boundary_ambiguous = True
    interval_low = _E.neg(interval_high)
    ddmod = _E.add(_E.mod_p.bind(_E.sub(dd, interval_low), period), interval_low)
    if boundary_ambiguous:  # a jump of exactly period/2 goes up when dd > 0
        at = _E.logical_and_p.bind(_E.equal_p.bind(ddmod, interval_low),
                                   _E.greater_p.bind(dd, 0))
        ddmod = _E.select(at, _S.broadcast_to(_as_dtype(interval_high, _dtype_of(ddmod)),
                                              _shape_of(ddmod)), ddmod)
    ph_correct = _E.sub(ddmod, dd)
    small = _E.less_p.bind(_E.abs(dd), discont)
    ph_correct = _E.select(small, _number(0, _dtype_of(ph_correct)), ph_correct)
    up = _as_dtype(p, dt)
    head = _along(up, ax, slice(0, 1))
    rest = _E.add(_along(up, ax, slice(1, None)), _R.cumsum(ph_correct, ax))
    return _S.concatenate([head, _as_dtype(rest, dt)], ax)


def ediff1d(ary: Any, to_end: Any = None, to_begin: Any = None) -> Any:
    """np.ediff1d: the differences of the flattened array, with to_begin / to_end around."""
    if not _traced(ary, to_end, to_begin):
        return _np.ediff1d(ary, to_end, to_begin)
    ary = _S.ravel(_operand(ary))
    dt = _dtype_of(ary)

    def end(extra: Any, name: str) -> list[Any]:
        if extra is None:
            return []
        extra = _operand(extra)
        if not _np.can_cast(_dtype_of(extra), dt, casting="same_kind"):
            raise TypeError(f"dtype of `{name}` must be compatible with input `ary` under the "
                            f"`same_kind` rule.")
        return [_S.ravel(_as_dtype(extra, dt))]

    d = _E.sub(_along(ary, 0, slice(1, None)), _along(ary, 0, slice(None, -1)))
    parts = end(to_begin, "to_begin") + [d] + end(to_end, "to_end")
    return _S.concatenate(parts, 0) if len(parts) > 1 else d


def gradient(f: Any, *varargs: Any, axis: Any = None, edge_order: int = 1) -> Any:
    """np.gradient: second-order central differences inside, first- or second-order one-sided
    ones at the ends; differentiable in f and in the spacings (scalars or coordinates)."""
    if not _traced(f, *varargs):
        return _np.gradient(f, *varargs, axis=axis, edge_order=edge_order)
    f = _operand(f)
    N = _ndim_of(f)
    axes = tuple(range(N)) if axis is None else _normalize_axes_in_order(axis, N)
    if len(set(axes)) != len(axes):
        raise ValueError("repeated axis")
    n = len(varargs)
    if n == 0:
        dx: list[Any] = [1.0] * len(axes)
    elif n == 1 and _ndim_of(varargs[0]) == 0:
        dx = [_operand(varargs[0])] * len(axes)
    elif n == len(axes):
        dx = []
        for i, distances in enumerate(varargs):
            distances = _operand(distances)
            if _ndim_of(distances) == 0:
                dx.append(distances)
                continue
            if _ndim_of(distances) != 1:
                raise ValueError("distances must be either scalars or 1d")
            if _shape_of(distances)[0] != _shape_of(f)[axes[i]]:
                raise ValueError("when 1d, distances must match the length of the "
                                 "corresponding dimension")
            if _dtype_of(distances).kind in "iub":
                distances = _as_dtype(distances, _np.float64)
            dx.append(_S.diff(distances))
    else:
        raise TypeError("invalid number of arguments")
    if edge_order > 2:
        raise ValueError("'edge_order' greater than 2 not supported")
    if _dtype_of(f).kind not in "fc":
        f = _as_dtype(f, _np.float64)
    outvals = []
    for ax, ax_dx in zip(axes, dx):
        if _shape_of(f)[ax] < edge_order + 1:
            raise ValueError("Shape of array too small to calculate a numerical gradient, at "
                             "least (edge_order + 1) elements are required.")
        outvals.append(_gradient_along(f, ax, ax_dx, edge_order))
    return outvals[0] if len(axes) == 1 else tuple(outvals)


def _gradient_along(f: Any, ax: int, ax_dx: Any, edge_order: int) -> Any:
    N = _ndim_of(f)
    uniform = _ndim_of(ax_dx) == 0

    def at(i: Any) -> Any:
        return _along(f, ax, i)

    def shaped(c: Any) -> Any:  # coefficients along `ax`, broadcasting over the other axes
        return _S.reshape(c, tuple(-1 if d == ax else 1 for d in range(N)))

    def pick(i: int) -> Any:
        return _I.getitem(ax_dx, i)

    if uniform:
        interior = _E.div(_E.sub(at(slice(2, None)), at(slice(None, -2))), _E.mul(2.0, ax_dx))
    else:
        dx1, dx2 = _along(ax_dx, 0, slice(0, -1)), _along(ax_dx, 0, slice(1, None))
        a = _E.neg(_E.div(dx2, _E.mul(dx1, _E.add(dx1, dx2))))
        b = _E.div(_E.sub(dx2, dx1), _E.mul(dx1, dx2))
        c = _E.div(dx1, _E.mul(dx2, _E.add(dx1, dx2)))
        interior = _E.add(_E.add(_E.mul(shaped(a), at(slice(None, -2))),
                                 _E.mul(shaped(b), at(slice(1, -1)))),
                          _E.mul(shaped(c), at(slice(2, None))))
    if edge_order == 1:
        dx_0 = ax_dx if uniform else pick(0)
        dx_n = ax_dx if uniform else pick(-1)
        first = _E.div(_E.sub(at(slice(1, 2)), at(slice(0, 1))), dx_0)
        last = _E.div(_E.sub(at(slice(-1, None)), at(slice(-2, -1))), dx_n)
    else:
        if uniform:
            a, b, c = (_E.div(-1.5, ax_dx), _E.div(2.0, ax_dx), _E.div(-0.5, ax_dx))
        else:
            dx1, dx2 = pick(0), pick(1)
            a = _E.neg(_E.div(_E.add(_E.mul(2.0, dx1), dx2), _E.mul(dx1, _E.add(dx1, dx2))))
            b = _E.div(_E.add(dx1, dx2), _E.mul(dx1, dx2))
            c = _E.neg(_E.div(dx1, _E.mul(dx2, _E.add(dx1, dx2))))
        first = _E.add(_E.add(_E.mul(a, at(slice(0, 1))), _E.mul(b, at(slice(1, 2)))),
                       _E.mul(c, at(slice(2, 3))))
        if uniform:
            a, b, c = (_E.div(0.5, ax_dx), _E.div(-2.0, ax_dx), _E.div(1.5, ax_dx))
        else:
            dx1, dx2 = pick(-2), pick(-1)
            a = _E.div(dx2, _E.mul(dx1, _E.add(dx1, dx2)))
            b = _E.neg(_E.div(_E.add(dx2, dx1), _E.mul(dx1, dx2)))
            c = _E.div(_E.add(_E.mul(2.0, dx2), dx1), _E.mul(dx2, _E.add(dx1, dx2)))
        last = _E.add(_E.add(_E.mul(a, at(slice(-3, -2))), _E.mul(b, at(slice(-2, -1)))),
                      _E.mul(c, at(slice(-1, None))))
    dt = _np.result_type(_dtype_of(first), _dtype_of(interior), _dtype_of(last))
    return _S.concatenate([_as_dtype(v, dt) for v in (first, interior, last)], ax)


# --- index tricks: r_, c_, ix_


class _Concatenator:
    """`cnp.r_[...]` and `cnp.c_[...]`: NumPy's index tricks, on traced values too (slices
    become ranges, numbers one-element arrays, a leading string sets the axis, the minimum
    number of dimensions and where 1-D entries go)."""

    def __init__(self, numpy_obj: Any, axis: int, ndmin: int, trans1d: int) -> None:
        self._numpy, self.axis, self.ndmin, self.trans1d = numpy_obj, axis, ndmin, trans1d

    def __getitem__(self, key: Any) -> Any:
        if not _traced(key):
            return self._numpy[key]
        if not isinstance(key, tuple):
            key = (key,)
        axis, ndmin, trans1d = self.axis, self.ndmin, self.trans1d
        objs, kinds = [], []
        for k, item in enumerate(key):
            if isinstance(item, str):
                if k != 0:
                    raise ValueError("special directives must be the first entry.")
                if item in ("r", "c"):
                    raise NotImplementedError("the matrix directives 'r' and 'c' of r_/c_ are "
                                              "not supported on traced values (np.matrix)")
                try:
                    vec = [int(v) for v in item.split(",")]
                except ValueError:
                    raise ValueError(f"unknown special directive {item!r}") from None
                axis = vec[0]
                if len(vec) > 1:
                    ndmin = vec[1]
                if len(vec) > 2:
                    trans1d = vec[2]
                continue
            if isinstance(item, slice):
                obj = _np.r_[item]
                if ndmin > 1:
                    obj = _np.array(obj, ndmin=ndmin)
                    if trans1d != -1:
                        obj = obj.swapaxes(-1, trans1d)
                objs.append(obj)
                kinds.append(obj.dtype)
            elif type(item) in _np.ScalarType:
                objs.append(item)
                kinds.append(item)
            else:
                item = _operand(item)
                nd = _ndim_of(item)
                if not isinstance(item, _Tracer):
                    obj = _np.array(item, ndmin=ndmin)
                elif nd < ndmin:  # as np.array(item, ndmin=ndmin): new axes in front
                    obj = _S.reshape(item, (1,) * (ndmin - nd) + _shape_of(item))
                else:
                    obj = item
                if trans1d != -1 and nd < ndmin:
                    k2, k1 = ndmin - nd, trans1d
                    if k1 < 0:
                        k1 += k2 + 1
                    defaxes = list(range(ndmin))
                    obj = _S.transpose(obj, defaxes[:k1] + defaxes[k2:] + defaxes[k1:k2])
                objs.append(obj)
                kinds.append(_dtype_of(obj))
        dt = _np.result_type(*kinds)
        out = []
        for obj in objs:
            if isinstance(obj, _Tracer):
                out.append(_as_dtype(obj, dt))
            else:
                out.append(_np.array(obj, ndmin=ndmin, dtype=dt))
        return _S.concatenate(out, axis)

    def __len__(self) -> int:
        return 0


r_ = _Concatenator(_np.r_, 0, 1, -1)
c_ = _Concatenator(_np.c_, -1, 2, 0)


def ix_(*args: Any) -> tuple[Any, ...]:
    """np.ix_: open-mesh index arrays (integers, no derivative; a traced integer or boolean
    array needs concrete values)."""
    return _np.ix_(*(_concrete_value(a, "ix_ of a traced value") if isinstance(a, _Tracer)
                     else a for a in args))


# --- predicates: plain booleans (or boolean arrays), never a derivative


def iscomplexobj(x: Any) -> bool:
    return _is_complex(_operand(x))


def isrealobj(x: Any) -> bool:
    return not _is_complex(_operand(x))


def iscomplex(x: Any) -> Any:
    """Where the imaginary part is nonzero (False everywhere for a real dtype)."""
    x = _operand(x)
    if not _is_complex(x):
        return _np.zeros(_shape_of(x), bool)[()]
    return _E.not_equal_p.bind(imag(_E.stop_gradient(x)), 0)


def isreal(x: Any) -> Any:
    x = _operand(x)
    if not _is_complex(x):
        return _np.ones(_shape_of(x), bool)[()]
    return _E.equal_p.bind(imag(_E.stop_gradient(x)), 0)


def isclose(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Any:
    """np.isclose (|a - b| <= atol + rtol |b|), a boolean array without a derivative."""
    if not _traced(a, b):
        return _np.isclose(a, b, rtol, atol, equal_nan)
    x, y = _E.stop_gradient(_operand(a)), _E.stop_gradient(_operand(b))
    with _np.errstate(invalid="ignore"):
        close = _E.less_equal_p.bind(_E.abs(_E.sub(x, y)), _E.add(atol, _E.mul(rtol, _E.abs(y))))
        close = _E.logical_and_p.bind(close, _E.isfinite_p.bind(y))
        close = _E.logical_or_p.bind(close, _E.equal_p.bind(x, y))
        if equal_nan:
            both = _E.logical_and_p.bind(_E.isnan_p.bind(x), _E.isnan_p.bind(y))
            close = _E.logical_or_p.bind(close, both)
    return close


def allclose(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """np.allclose: a plain bool (so a traced value needs concrete values)."""
    close = isclose(a, b, rtol, atol, equal_nan)
    return bool(_np.all(_concrete_value(close, "allclose of a traced value")))


def array_equal(a1: Any, a2: Any, equal_nan: bool = False) -> bool:
    if not _traced(a1, a2):
        return _np.array_equal(a1, a2, equal_nan)
    a1, a2 = _operand(a1), _operand(a2)
    if _shape_of(a1) != _shape_of(a2):
        return False
    eq = _E.equal_p.bind(_E.stop_gradient(a1), _E.stop_gradient(a2))
    if equal_nan:
        eq = _E.logical_or_p.bind(eq, _E.logical_and_p.bind(
            _E.isnan_p.bind(_E.stop_gradient(a1)), _E.isnan_p.bind(_E.stop_gradient(a2))))
    return bool(_np.all(_concrete_value(eq, "array_equal of a traced value")))


def array_equiv(a1: Any, a2: Any) -> bool:
    if not _traced(a1, a2):
        return _np.array_equiv(a1, a2)
    a1, a2 = _operand(a1), _operand(a2)
    try:
        _np.broadcast_shapes(_shape_of(a1), _shape_of(a2))
    except ValueError:
        return False
    eq = _E.equal_p.bind(_E.stop_gradient(a1), _E.stop_gradient(a2))
    return bool(_np.all(_concrete_value(eq, "array_equiv of a traced value")))


def isposinf(x: Any) -> Any:
    x = _operand(x)
    return _E.logical_and_p.bind(_E.isinf_p.bind(x), _E.logical_not_p.bind(
        _E.signbit_p.bind(x)))


def isneginf(x: Any) -> Any:
    x = _operand(x)
    return _E.logical_and_p.bind(_E.isinf_p.bind(x), _E.signbit_p.bind(x))


def count_nonzero(a: Any, axis: Any = None, *, keepdims: bool = False) -> Any:
    """np.count_nonzero: an integer count, no derivative."""
    if not _traced(a):
        return _np.count_nonzero(a, axis, keepdims=keepdims)
    return _count(_E.not_equal_p.bind(_E.stop_gradient(_operand(a)), 0), axis, keepdims)


# --- integer-valued queries: indices, truth values and dtypes of traced values, no derivative.
# Those with a fixed result shape are built on the stable argsort primitive, so they run under
# every interpreter (a vmap batch gives each example's answer, a graph computes them at run
# time); those whose shape depends on the values (nonzero, unique) need the concrete value.


def _scalar(r: Any) -> Any:
    """A plain 0-d result as NumPy's scalar (np.argmax gives np.int64(2), not array(2))."""
    return r[()] if isinstance(r, _np.ndarray) and r.ndim == 0 else r


def _values_of(name: str, a: Any) -> Any:
    """The concrete value of a traced `a` for NumPy's `name` (no derivative flows through it)."""
    return _concrete_value(_operand(a), f"numpy.{name} of a traced value (the shape of its "
                                        f"result depends on the values)")


def argsort(a: Any, axis: int | None = -1, kind: Any = None, order: Any = None, *,
            stable: Any = None) -> Any:
    """np.argsort; on a traced value the stable permutation (ties in their original order)."""
    if not _traced(a):
        return _np.argsort(a, axis=axis, kind=kind, order=order,
                           **({} if stable is None else {"stable": stable}))
    if order is not None:
        raise TypeError("argsort: 'order' (field names) is not supported on traced values")
    a = _operand(a)
    if axis is None:
        a, axis = _S.ravel(a), 0
    return _I.argsort(a, _normalize_axis_index(axis, _ndim_of(a)))


def _arg_extreme(name: str, a: Any, axis: Any, keepdims: bool) -> Any:
    """The index of the first largest (argmax) or smallest (argmin) entry along `axis` (the
    first NaN where there is one, as NumPy), from the stable argsort."""
    a = _E.stop_gradient(_operand(a))
    shape = _shape_of(a)
    x, ax = (_S.ravel(a), 0) if axis is None else (a, _normalize_axis_index(axis, len(shape)))
    n = _shape_of(x)[ax]
    if n == 0:
        raise ValueError(f"attempt to get {name} of an empty sequence")
    at = (slice(None),) * ax
    if name == "argmin" and _dtype_of(x).kind not in "fc":
        # no NaN: the stable order's first entry is the first smallest
        k = _I.getitem(_I.argsort(x, ax), at + (slice(0, 1),))
    else:
        if name == "argmin":
            x = _E.neg(x)  # (NaN stays NaN, which sorts last: the first NaN still wins)
        # the last entry of the stable order of the reversed array is the first largest
        last = _I.getitem(_I.argsort(_S.flip(x, ax), ax), at + (slice(n - 1, n),))
        k = _E.sub(_np.int64(n - 1), last)
    if axis is None:
        return _S.reshape(k, (1,) * len(shape) if keepdims else ())
    return k if keepdims else _S.squeeze(k, ax)


def argmax(a: Any, axis: Any = None, out: Any = None, *, keepdims: bool = False) -> Any:
    """np.argmax: an integer index (no derivative), on traced values too."""
    if not _traced(a):
        return _np.argmax(a, axis, out, keepdims=keepdims)
    _no_out("argmax", out)
    return _scalar(_arg_extreme("argmax", a, axis, keepdims))


def argmin(a: Any, axis: Any = None, out: Any = None, *, keepdims: bool = False) -> Any:
    """np.argmin: an integer index (no derivative), on traced values too."""
    if not _traced(a):
        return _np.argmin(a, axis, out, keepdims=keepdims)
    _no_out("argmin", out)
    return _scalar(_arg_extreme("argmin", a, axis, keepdims))


def argpartition(a: Any, kth: Any, axis: int | None = -1, kind: str = "introselect",
                 order: Any = None) -> Any:
    """np.argpartition: NumPy's own answer where the value is concrete; under an interpreter
    without one (a vmap batch, a graph) the stable argsort, which partitions at every kth."""
    if not _traced(a):
        return _np.argpartition(a, kth, axis=axis, kind=kind, order=order)
    known = _known(_operand(a))
    if known is not None:
        return _np.argpartition(known, kth, axis=axis, kind=kind, order=order)
    return argsort(a, axis)


def searchsorted(a: Any, v: Any, side: str = "left", sorter: Any = None) -> Any:
    """np.searchsorted: insertion points (integers, no derivative), on traced values too."""
    if not _traced(a, v):
        return _np.searchsorted(a, v, side=side, sorter=sorter)
    a = _E.stop_gradient(_operand(a))
    if sorter is not None:
        a = _I.take(a, sorter, None, "raise")
    return _scalar(_I.searchsorted(a, _E.stop_gradient(_operand(v)), side))


def nonzero(a: Any) -> tuple[Any, ...]:
    """np.nonzero of the concrete value (its length depends on the values)."""
    return _np.nonzero(_values_of("nonzero", a) if _traced(a) else a)


def flatnonzero(a: Any) -> Any:
    return _np.flatnonzero(_values_of("flatnonzero", a) if _traced(a) else a)


def argwhere(a: Any) -> Any:
    return _np.argwhere(_values_of("argwhere", a) if _traced(a) else a)


def unique(ar: Any, return_index: bool = False, return_inverse: bool = False,
           return_counts: bool = False, axis: Any = None, **kwargs: Any) -> Any:
    """np.unique, found from the concrete value; the unique values are taken from the traced
    array (at their first occurrence), so they keep their derivative; indices and counts are
    plain integers."""
    if not _traced(ar):
        return _np.unique(ar, return_index, return_inverse, return_counts, axis, **kwargs)
    a = _operand(ar)
    found = _np.unique(_values_of("unique", a), True, return_inverse, return_counts, axis,
                       **kwargs)
    index = found[1]
    values = _I.getitem(_S.ravel(a), (index,)) if axis is None else _I.take(a, index, axis)
    out = (values,) + ((index,) if return_index else ()) + tuple(found[2:])
    return out[0] if len(out) == 1 else out


def result_type(*arrays_and_dtypes: Any) -> _np.dtype:
    return _np.result_type(*(a.dtype if isinstance(a, _Tracer) else a
                             for a in arrays_and_dtypes))


def _truth(name: str, a: Any, axis: Any, out: Any, keepdims: bool, where: Any) -> Any:
    _no_out(name, out)
    if where is not True:
        raise NotImplementedError(f"{name}(..., where=) on a traced value")
    a = _E.stop_gradient(_operand(a))
    if name == "any":  # some entry nonzero
        return _E.greater_p.bind(_count(_E.not_equal_p.bind(a, 0), axis, keepdims), 0)
    return _E.equal_p.bind(_count(_E.equal_p.bind(a, 0), axis, keepdims), 0)  # none zero


def all(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, *,
        where: Any = True) -> Any:
    """np.all: booleans (no derivative), on traced values too."""
    if not _traced(a):
        return _np.all(a, axis, out, keepdims, where=where)
    return _scalar(_truth("all", a, axis, out, keepdims, where))


def any(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, *,
        where: Any = True) -> Any:
    """np.any: booleans (no derivative), on traced values too."""
    if not _traced(a):
        return _np.any(a, axis, out, keepdims, where=where)
    return _scalar(_truth("any", a, axis, out, keepdims, where))


# every public function without a docstring of its own gets one naming the NumPy function it
# mirrors and, where it is one formula, its derivative (see _docs.py)
_document(globals())


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
