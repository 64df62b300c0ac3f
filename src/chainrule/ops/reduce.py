"""Reductions and scans: sum, max, prod, cumsum, cumprod (mean, var, std, min are built on them).

`axis` is always a normalised tuple of non-negative ints by the time a primitive sees it (the
NumPy-shaped wrappers in `chainrule.numpy` do the normalising), so rules never guess.
"""
from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from .._core.primitive import Primitive, dtype_of, in_library_of, ndim_of, scalar, shape_of
from .._core.rules import def_rule
from . import elementwise as E
from . import linalg
from . import shape as S
from ._batching import axis_batcher


def normalize_axis(axis: Any, ndim: int, *, scalar_0d: bool = True) -> tuple[int, ...]:
    """`axis` as a sorted tuple of non-negative ints. With `scalar_0d`, a 0-d array also takes
    the integer axis 0 or -1, meaning no axis (NumPy's ufunc reductions np.sum, np.max, np.prod,
    and np.squeeze allow it); np.mean, np.flip and np.roll do not (scalar_0d=False), and a tuple
    of axes never does."""
    if axis is None:
        return tuple(range(ndim))
    if ndim == 0 and scalar_0d and isinstance(axis, (int, np.integer)) and int(axis) in (0, -1):
        return ()
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < ndim:
            raise np.exceptions.AxisError(a, ndim)
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"duplicate value in 'axis': {axis}")
    return tuple(sorted(out))


def _reduced_shape(shape: tuple[int, ...], axis: tuple[int, ...], keepdims: bool) -> tuple:
    if keepdims:
        return tuple(1 if i in axis else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in axis)


def _abstract_reduce(x: Any, *, axis: tuple[int, ...], keepdims: bool) -> tuple[tuple, np.dtype]:
    return _reduced_shape(shape_of(x), axis, keepdims), dtype_of(x)


def keep_reduced(ct: Any, shape: tuple[int, ...], axis: tuple[int, ...], keepdims: bool) -> Any:
    """A reduced value with its reduced axes kept (as length 1): it broadcasts against `shape`."""
    return ct if keepdims else S.reshape(ct, _reduced_shape(shape, axis, True))


def expand_reduced(ct: Any, shape: tuple[int, ...], axis: tuple[int, ...],
                   keepdims: bool) -> Any:
    """Broadcast a reduced value back over the reduced axes to `shape`."""
    if not keepdims and axis != tuple(range(len(axis))):
        # (reduced leading axes need no reshape: broadcasting prepends them)
        ct = S.reshape(ct, _reduced_shape(shape, axis, True))
    return S.broadcast_to(ct, shape)


# ---------------------------------------------------------------------------------------------
# sum (linear)

# The ufuncs' reduce methods are np.sum / np.max / np.prod without their Python wrappers (a few
# microseconds a call on small arrays). Other array types take them through __array_ufunc__
# where they implement them (chainrule's symbolic arrays), else the functions, which every array
# library implements through __array_function__ (Dask: `np.add.reduce` returns NotImplemented).


def _reduced(ufunc: Any, function: Any, x: Any, axis: tuple[int, ...], keepdims: bool) -> Any:
    try:
        return ufunc.reduce(x, axis=axis, keepdims=keepdims)
    except TypeError:  # (the array type has no such method)
        return function(x, axis=axis, keepdims=keepdims)



def _sum_impl(x: Any, *, axis: tuple[int, ...], keepdims: bool) -> Any:
    return _reduced(np.add, np.sum, x, axis, keepdims)


def _sum_jvp(primals: list[Any], tangents: list[Any], **params: Any) -> tuple[Any, Any]:
    return sum_p.bind(primals[0], **params), sum_p.bind(tangents[0], **params)


def _sum_transpose(ct: Any, x: Any, *, axis: tuple[int, ...], keepdims: bool) -> Any:
    return expand_reduced(ct, shape_of(x), axis, keepdims)


sum_p = def_rule(Primitive("sum", _sum_impl, _abstract_reduce), jvp=_sum_jvp,
                 transpose=(_sum_transpose,))
def_rule(sum_p, batch=axis_batcher(sum_p))


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    return sum_p.bind(x, axis=normalize_axis(axis, ndim_of(x)), keepdims=bool(keepdims))


def sum_to_shape(ct: Any, shape: tuple[int, ...]) -> Any:
    """Undo broadcasting: sum `ct` over the axes along which a value of `shape` was broadcast."""
    cshape = shape_of(ct)
    if cshape == shape:
        return ct
    lead = len(cshape) - len(shape)
    inner = tuple(i + lead for i, s in enumerate(shape) if s == 1 and cshape[i + lead] != 1)
    if not inner:  # (leading axes only: the sum has the shape, an array of its own, no view)
        return sum_p.bind(ct, axis=tuple(range(lead)), keepdims=False)
    ct = sum_p.bind(ct, axis=tuple(range(lead)) + inner, keepdims=True)
    return S.reshape(ct, shape) if lead else ct


def cotangent_like(ct: Any, x: Any) -> Any:
    """The cotangent for `x`: summed over the axes along which `x` was broadcast, and its real
    part when `x` is real (a real input's gradient is real, whatever complex values it met)."""
    if type(ct) is np.ndarray and type(x) is np.ndarray and ct.shape == x.shape and (
            ct.dtype.kind != "c" or x.dtype.kind == "c"):
        return ct  # (the common case, without the general checks)
    if E._is_complex(ct) and not E._is_complex(x):
        ct = E.real_p.bind1(ct)
    if type(ct) is type(x) and type(ct) in E._REAL_SCALARS:
        return ct  # scalars of scalars: nothing was broadcast
    return sum_to_shape(ct, shape_of(x))


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    ax = normalize_axis(axis, ndim_of(x), scalar_0d=False)
    n = math.prod([shape_of(x)[a] for a in ax])
    return E.div(sum_p.bind(x, axis=ax, keepdims=bool(keepdims)), float(n))


def var(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Any:
    """The variance, sum(|x - mean|^2) / (N - ddof) as NumPy (nan or inf where N - ddof <= 0).
    For N = 1 it is identically 0 (x - mean(x) is exactly 0): every derivative is exactly 0."""
    ax = normalize_axis(axis, ndim_of(x), scalar_0d=False)
    n = math.prod([shape_of(x)[a] for a in ax])
    centred = E.sub(x, mean(x, ax, keepdims=True))
    if E._is_complex(centred):  # |x - mean|^2: the variance of complex values is real
        sq = E.real_p.bind1(E.mul(centred, E.conj_p.bind1(centred)))
    else:
        sq = E.mul(centred, centred)
    return E.div(sum_p.bind(sq, axis=ax, keepdims=bool(keepdims)), float(builtins.max(n - ddof, 0)))


def std(x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Any:
    """sqrt(var). Where the values are all equal (N > 1) var is 0 at a minimum, a kink of sqrt
    at 0, and the derivative is nan (sqrt'(0) = inf times 0), as for norm at 0 (JAX and PyTorch
    agree). Of one value (N = 1, N - ddof > 0) std is identically 0, whatever x is: its
    derivative is exactly 0 to every order. Where N - ddof <= 0 the value is nan (inf) as in
    NumPy, and so is the derivative."""
    v = var(x, axis, ddof, keepdims)
    ax = normalize_axis(axis, ndim_of(x), scalar_0d=False)
    n = math.prod([shape_of(x)[a] for a in ax])
    if n == 1 and n - ddof > 0:
        # the variance is exactly 0 with exactly zero derivatives of every order, and so is
        # its square root; sqrt itself would make them 0 / 0 = nan
        return v
    return E.sqrt(v)


# ---------------------------------------------------------------------------------------------
# max (min is -max(-x), exactly)

def _max_impl(x: Any, *, axis: tuple[int, ...], keepdims: bool) -> Any:
    return _reduced(np.maximum, np.max, x, axis, keepdims)


def _max_weights(x: Any, ans: Any, axis: tuple[int, ...], keepdims: bool) -> Any:
    """Where the maximum is attained, 1/(number of ties); elsewhere 0."""
    hit = E.equal(x, keep_reduced(ans, shape_of(x), axis, keepdims))  # (broadcast to x's shape)
    m = E._mask(hit, x)
    return E.div(m, sum_p.bind(m, axis=axis, keepdims=True))


def _max_jvp(primals: list[Any], tangents: list[Any], *, axis: tuple[int, ...],
             keepdims: bool) -> tuple[Any, Any]:
    (x,), (x_dot,) = primals, tangents
    ans = max_p.bind(x, axis=axis, keepdims=keepdims)
    w = _max_weights(x, ans, axis, keepdims)
    return ans, sum_p.bind(E.mul(x_dot, w), axis=axis, keepdims=keepdims)


def _max_vjp(ct: Any, ans: Any, x: Any, *, axis: tuple[int, ...], keepdims: bool) -> Any:
    w = _max_weights(x, ans, axis, keepdims)
    return E.mul(keep_reduced(ct, shape_of(x), axis, keepdims), w)


max_p = def_rule(Primitive("max", _max_impl, _abstract_reduce), jvp=_max_jvp, vjp=(_max_vjp,))
def_rule(max_p, batch=axis_batcher(max_p))


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    return max_p.bind(x, axis=normalize_axis(axis, ndim_of(x)), keepdims=bool(keepdims))


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    return E.neg(max(E.neg(x), axis, keepdims))


# ---------------------------------------------------------------------------------------------
# prod: zero-safe through exclusive products (no division by x)

def _prod_impl(x: Any, *, axis: tuple[int, ...], keepdims: bool) -> Any:
    return _reduced(np.multiply, np.prod, x, axis, keepdims)


def _others_product(x: Any, axis: tuple[int, ...]) -> Any:
    """For every element, the product of the other elements along `axis` (shape of x)."""
    shape = shape_of(x)
    keep = [i for i in range(len(shape)) if i not in axis]
    perm = tuple(keep) + axis
    moved = S.transpose(x, perm)
    lead = tuple(shape[i] for i in keep)
    n = math.prod([shape[a] for a in axis])
    flat = S.reshape(moved, lead + (n,))
    left = _exclusive_cumprod(flat)
    right = S.flip_last(_exclusive_cumprod(S.flip_last(flat)))
    others = E.mul(left, right)
    back = S.reshape(others, tuple(shape[i] for i in perm))
    return S.transpose(back, tuple(np.argsort(perm)))


def _exclusive_cumprod(x: Any) -> Any:
    """[1, x0, x0*x1, ...] along the last axis."""
    shape = shape_of(x)
    if shape[-1] == 0:
        return x
    ones = in_library_of(x, np.ones(shape[:-1] + (1,), dtype_of(x)))
    head = S.getitem(x, (Ellipsis, slice(None, -1)))
    return S.concatenate([ones, cumprod_p.bind(head, axis=len(shape) - 1)], len(shape) - 1)


def _prod_jvp(primals: list[Any], tangents: list[Any], *, axis: tuple[int, ...],
              keepdims: bool) -> tuple[Any, Any]:
    (x,), (x_dot,) = primals, tangents
    ans = prod_p.bind(x, axis=axis, keepdims=keepdims)
    return ans, sum_p.bind(E.mul(x_dot, _others_product(x, axis)), axis=axis, keepdims=keepdims)


def _prod_vjp(ct: Any, ans: Any, x: Any, *, axis: tuple[int, ...], keepdims: bool) -> Any:
    return E.mul(expand_reduced(ct, shape_of(x), axis, keepdims),
                 E.cconj(_others_product(x, axis)))


prod_p = def_rule(Primitive("prod", _prod_impl, _abstract_reduce), jvp=_prod_jvp,
                  vjp=(_prod_vjp,))
def_rule(prod_p, batch=axis_batcher(prod_p))


def prod(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return prod_p.bind(x, axis=normalize_axis(axis, ndim_of(x)), keepdims=bool(keepdims))


# ---------------------------------------------------------------------------------------------
# cumsum (linear) and cumprod

def _abstract_scan(x: Any, *, axis: int) -> tuple[tuple, np.dtype]:
    return shape_of(x), dtype_of(x)


def _cumsum_impl(x: Any, *, axis: int) -> Any:
    return np.cumsum(x, axis=axis)


def _cumsum_jvp(primals: list[Any], tangents: list[Any], *, axis: int) -> tuple[Any, Any]:
    return cumsum_p.bind(primals[0], axis=axis), cumsum_p.bind(tangents[0], axis=axis)


def _cumsum_transpose(ct: Any, x: Any, *, axis: int) -> Any:
    return S.flip(cumsum_p.bind(S.flip(ct, axis), axis=axis), axis)


cumsum_p = def_rule(Primitive("cumsum", _cumsum_impl, _abstract_scan), jvp=_cumsum_jvp,
                    transpose=(_cumsum_transpose,))
def_rule(cumsum_p, batch=axis_batcher(cumsum_p))


def _cumprod_impl(x: Any, *, axis: int) -> Any:
    return np.cumprod(x, axis=axis)


def _cumprod_factors(x: Any, axis: int) -> tuple[Any, Any]:
    """With x moved to (..., n): `left[..., j] = prod_{k<j} x_k` and the matrix
    `mid[..., j, i] = prod_{j<k<=i} x_k` for j <= i, else 0, so that
    d cumprod_i / d x_j = left_j * mid_ji. Zero-safe: nothing is divided by x."""
    xm = S.moveaxis(x, axis, -1)
    n = shape_of(xm)[-1]
    left = _exclusive_cumprod(xm)
    upper = in_library_of(x, np.triu(np.ones((n, n), dtype=bool), 1))  # k > j
    rows = S.broadcast_to(S.expand_dims(xm, -2), shape_of(xm)[:-1] + (n, n))  # [.., j, k] = x_k
    t = E.select(upper, rows, scalar(1, dtype_of(x)))
    mid = cumprod_p.bind(t, axis=len(shape_of(t)) - 1)
    lower = in_library_of(x, np.triu(np.ones((n, n), dtype=bool)))  # j <= i
    return left, E.select(lower, mid, scalar(0, dtype_of(x)))


def _cumprod_jvp(primals: list[Any], tangents: list[Any], *, axis: int) -> tuple[Any, Any]:
    (x,), (x_dot,) = primals, tangents
    ans = cumprod_p.bind(x, axis=axis)
    left, mid = _cumprod_factors(x, axis)
    v = E.mul(S.moveaxis(x_dot, axis, -1), left)
    out = S.squeeze_axis(_matmul(S.expand_dims(v, -2), mid), -2)
    return ans, S.moveaxis(out, -1, axis)


def _cumprod_vjp(ct: Any, ans: Any, x: Any, *, axis: int) -> Any:
    left, mid = _cumprod_factors(E.cconj(x), axis)
    c = S.expand_dims(S.moveaxis(ct, axis, -1), -1)
    g = E.mul(left, S.squeeze_axis(_matmul(mid, c), -1))
    return S.moveaxis(g, -1, axis)


def _matmul(a: Any, b: Any) -> Any:
    return linalg.matmul(a, b)


cumprod_p = def_rule(Primitive("cumprod", _cumprod_impl, _abstract_scan), jvp=_cumprod_jvp,
                     vjp=(_cumprod_vjp,))
def_rule(cumprod_p, batch=axis_batcher(cumprod_p))


def _scan_operand(x: Any, axis: Any) -> tuple[Any, Any]:
    # no axis: along the flattened array; a 0-d array is scanned as one element (NumPy takes
    # axis 0 or -1 there and returns shape (1,))
    if axis is None or (ndim_of(x) == 0 and isinstance(axis, (int, np.integer))
                        and int(axis) in (0, -1)):
        return S.reshape(x, (-1,)), 0
    return x, axis


def cumsum(x: Any, axis: Any = None) -> Any:
    x, axis = _scan_operand(x, axis)
    return cumsum_p.bind(x, axis=normalize_axis(axis, ndim_of(x))[0])


def cumprod(x: Any, axis: Any = None) -> Any:
    x, axis = _scan_operand(x, axis)
    return cumprod_p.bind(x, axis=normalize_axis(axis, ndim_of(x))[0])

