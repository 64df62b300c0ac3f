"""Shape primitives: reshape, transpose, broadcast_to, concatenate (all linear), and the shape
functions built on them (expand_dims, squeeze, moveaxis, swapaxes, ravel, stack, flip)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._core.primitive import Primitive, dtype_of, ndim_of, shape_of
from .._core.rules import Zero, def_rule
from . import index
from . import reduce as R
from ._batching import materialize


def _resolve_shape(shape: Any, size: int) -> tuple[int, ...]:
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    if shape.count(-1) > 1:
        raise ValueError(f"reshape: can only specify one unknown dimension, got {shape}")
    if -1 in shape:
        known = math.prod([s for s in shape if s != -1])
        if known == 0 or size % known:
            raise ValueError(f"cannot reshape array of size {size} into shape {shape}")
        shape = tuple(size // known if s == -1 else s for s in shape)
    if math.prod(shape) != size:
        raise ValueError(f"cannot reshape array of size {size} into shape {shape}")
    return shape


# ---------------------------------------------------------------------------------------------
# reshape

def _reshape_impl(x: Any, *, shape: tuple[int, ...]) -> Any:
    try:
        return x.reshape(shape)  # the method skips np.reshape's Python wrapper
    except AttributeError:
        return np.reshape(x, shape)


def _reshape_abstract(x: Any, *, shape: tuple[int, ...]) -> tuple[tuple, np.dtype]:
    return shape, dtype_of(x)


def _reshape_jvp(primals: list[Any], tangents: list[Any], *, shape: tuple) -> tuple[Any, Any]:
    return reshape_p.bind(primals[0], shape=shape), reshape_p.bind(tangents[0], shape=shape)


def _reshape_transpose(ct: Any, x: Any, *, shape: tuple[int, ...]) -> Any:
    return reshape_p.bind(ct, shape=shape_of(x))


def _reshape_batch(args: list[Any], batched: tuple[bool, ...], *, shape: tuple) -> Any:
    (x,) = args
    return reshape_p.bind(x, shape=(shape_of(x)[0],) + shape)


reshape_p = def_rule(Primitive("reshape", _reshape_impl, _reshape_abstract), jvp=_reshape_jvp,
                     transpose=(_reshape_transpose,), batch=_reshape_batch)


def reshape(x: Any, shape: Any) -> Any:
    old = shape_of(x)
    if type(shape) is not tuple or -1 in shape:
        shape = _resolve_shape(shape, math.prod(old))
    elif math.prod(shape) != math.prod(old):
        raise ValueError(f"cannot reshape array of size {math.prod(old)} into shape {shape}")
    if old == shape:
        return x
    return reshape_p.bind(x, shape=shape)


# ---------------------------------------------------------------------------------------------
# transpose

def _transpose_impl(x: Any, *, axes: tuple[int, ...]) -> Any:
    try:
        return x.transpose(axes)
    except AttributeError:
        return np.transpose(x, axes)


def _transpose_abstract(x: Any, *, axes: tuple[int, ...]) -> tuple[tuple, np.dtype]:
    s = shape_of(x)
    return tuple(s[a] for a in axes), dtype_of(x)


def _transpose_jvp(primals: list[Any], tangents: list[Any], *, axes: tuple) -> tuple[Any, Any]:
    return transpose_p.bind(primals[0], axes=axes), transpose_p.bind(tangents[0], axes=axes)


def _transpose_transpose(ct: Any, x: Any, *, axes: tuple[int, ...]) -> Any:
    return transpose_p.bind(ct, axes=tuple(int(i) for i in np.argsort(axes)))


def _transpose_batch(args: list[Any], batched: tuple[bool, ...], *, axes: tuple) -> Any:
    return transpose_p.bind(args[0], axes=(0,) + tuple(a + 1 for a in axes))


transpose_p = def_rule(Primitive("transpose", _transpose_impl, _transpose_abstract),
                       jvp=_transpose_jvp, transpose=(_transpose_transpose,),
                       batch=_transpose_batch)


def transpose(x: Any, axes: Any = None) -> Any:
    n = ndim_of(x)
    axes = tuple(range(n))[::-1] if axes is None else tuple(int(a) % n for a in axes)
    if sorted(axes) != list(range(n)):
        raise ValueError(f"transpose: 'axes' {axes} is not a permutation of {n} axes")
    if axes == tuple(range(n)):
        return x
    return transpose_p.bind(x, axes=axes)


def moveaxis(x: Any, source: Any, destination: Any) -> Any:
    n = ndim_of(x)
    src = [int(s) % n for s in np.atleast_1d(source)]
    dst = [int(d) % n for d in np.atleast_1d(destination)]
    if len(src) != len(dst):
        raise ValueError("moveaxis: 'source' and 'destination' must have the same length")
    order = [i for i in range(n) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


def swapaxes(x: Any, axis1: int, axis2: int) -> Any:
    n = ndim_of(x)
    axes = list(range(n))
    a, b = axis1 % n, axis2 % n
    axes[a], axes[b] = axes[b], axes[a]
    return transpose(x, axes)


# ---------------------------------------------------------------------------------------------
# broadcast_to

_SMALL = 1 << 15


def _broadcast_impl(x: Any, *, shape: tuple[int, ...]) -> Any:
    # np.broadcast_to is a few microseconds of Python; for small results a copy made by two C
    # calls is cheaper. Large results stay zero-copy views.
    if type(x) is np.ndarray and math.prod(shape) <= _SMALL:
        out = np.empty(shape, x.dtype)
        np.copyto(out, x)
        return out
    return np.broadcast_to(x, shape)


def _broadcast_abstract(x: Any, *, shape: tuple[int, ...]) -> tuple[tuple, np.dtype]:
    return np.broadcast_shapes(shape_of(x), shape), dtype_of(x)


def _broadcast_jvp(primals: list[Any], tangents: list[Any], *, shape: tuple) -> tuple[Any, Any]:
    return (broadcast_p.bind(primals[0], shape=shape),
            broadcast_p.bind(tangents[0], shape=shape))


def _broadcast_transpose(ct: Any, x: Any, *, shape: tuple[int, ...]) -> Any:
    return R.sum_to_shape(ct, shape_of(x))


def _broadcast_batch(args: list[Any], batched: tuple[bool, ...], *, shape: tuple) -> Any:
    (x,) = args
    s = shape_of(x)
    x = reshape(x, (s[0],) + (1,) * (len(shape) - len(s) + 1) + s[1:])
    return broadcast_p.bind(x, shape=(s[0],) + shape)


broadcast_p = def_rule(Primitive("broadcast_to", _broadcast_impl, _broadcast_abstract),
                       jvp=_broadcast_jvp, transpose=(_broadcast_transpose,),
                       batch=_broadcast_batch)


def broadcast_to(x: Any, shape: Any) -> Any:
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    if shape_of(x) == shape:
        return x
    return broadcast_p.bind(x, shape=shape)


# ---------------------------------------------------------------------------------------------
# concatenate

def _concat_impl(*xs: Any, axis: int) -> Any:
    return np.concatenate(xs, axis=axis)


def _concat_abstract(*xs: Any, axis: int) -> tuple[tuple, np.dtype]:
    s = list(shape_of(xs[0]))
    s[axis] = int(np.sum([shape_of(x)[axis] for x in xs]))
    return tuple(s), np.result_type(*(dtype_of(x) for x in xs))


def _concat_jvp(primals: list[Any], tangents: list[Any], *, axis: int) -> tuple[Any, Any]:
    ts = [np.zeros(shape_of(p), dtype_of(p)) if t is Zero else t
          for p, t in zip(primals, tangents)]
    return concat_p.bind(*primals, axis=axis), concat_p.bind(*ts, axis=axis)


def _concat_transposer(i: int) -> Any:
    def _concat_transpose(ct: Any, *xs: Any, axis: int) -> Any:
        start = int(np.sum([shape_of(x)[axis] for x in xs[:i]], dtype=np.int64))
        stop = start + shape_of(xs[i])[axis]
        idx = (slice(None),) * axis + (slice(start, stop),)
        return getitem(ct, idx)

    _concat_transpose.__name__ = f"_concatenate_transpose_{i}"
    return _concat_transpose


class _ConcatTransposes:
    """Any number of operands: the i-th transpose slices the cotangent."""

    def __getitem__(self, i: int) -> Any:
        return _concat_transposer(i)


def _concat_batch(args: list[Any], batched: tuple[bool, ...], *, axis: int) -> Any:
    size = next(shape_of(a)[0] for a, b in zip(args, batched) if b)
    xs = [a if b else materialize(a, size) for a, b in zip(args, batched)]
    return concat_p.bind(*xs, axis=axis + 1)


concat_p = Primitive("concatenate", _concat_impl, _concat_abstract)
def_rule(concat_p, jvp=_concat_jvp, batch=_concat_batch)
concat_p.transpose = _ConcatTransposes()  # type: ignore[assignment]


def concatenate(xs: Any, axis: int | None = 0) -> Any:
    xs = list(xs)
    if not xs:
        raise ValueError("need at least one array to concatenate")
    if axis is None:
        xs, axis = [reshape(x, (-1,)) for x in xs], 0
    n = ndim_of(xs[0])
    if n == 0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    return concat_p.bind(*xs, axis=int(axis) % n)


# ---------------------------------------------------------------------------------------------
# functions built on the primitives above

def expand_dims(x: Any, axis: Any) -> Any:
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    n = ndim_of(x) + len(axes)
    axes = sorted(int(a) % n for a in axes)
    shape = list(shape_of(x))
    for a in axes:
        shape.insert(a, 1)
    return reshape(x, tuple(shape))


def squeeze(x: Any, axis: Any = None) -> Any:
    s = shape_of(x)
    if axis is None:
        return reshape(x, tuple(d for d in s if d != 1))
    axes = R.normalize_axis(axis, len(s))
    for a in axes:
        if s[a] != 1:
            raise ValueError(f"cannot select an axis to squeeze out which has size not equal to "
                             f"one (axis {a} has size {s[a]})")
    return reshape(x, tuple(d for i, d in enumerate(s) if i not in axes))


def squeeze_axis(x: Any, axis: int) -> Any:
    return squeeze(x, axis)


def ravel(x: Any) -> Any:
    return reshape(x, (-1,))


def stack(xs: Any, axis: int = 0) -> Any:
    xs = list(xs)
    if not xs:
        raise ValueError("need at least one array to stack")
    shapes = {shape_of(x) for x in xs}
    if len(shapes) != 1:
        raise ValueError(f"all input arrays must have the same shape, got {sorted(shapes)}")
    n = ndim_of(xs[0]) + 1
    axis = int(axis) % n
    return concatenate([expand_dims(x, axis) for x in xs], axis)


def flip(x: Any, axis: Any = None) -> Any:
    n = ndim_of(x)
    axes = R.normalize_axis(axis, n)
    idx = tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(n))
    return getitem(x, idx)


def flip_last(x: Any) -> Any:
    return getitem(x, (Ellipsis, slice(None, None, -1)))


def getitem(x: Any, idx: Any) -> Any:
    return index.getitem(x, idx)
