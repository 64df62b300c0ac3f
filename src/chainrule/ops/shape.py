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


def checked_axis(axis: Any, ndim: int) -> int:
    """One axis as a non-negative int; NumPy's AxisError when it is out of range (an axis is
    never wrapped around: `swapaxes(a, 5, 0)` of a 2-d array is an error, as in NumPy)."""
    a = int(axis)
    if not -ndim <= a < ndim:
        raise np.exceptions.AxisError(a, ndim)
    return a % ndim


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
    axes = tuple(range(n))[::-1] if axes is None else tuple(checked_axis(a, n) for a in axes)
    if sorted(axes) != list(range(n)):
        raise ValueError(f"transpose: 'axes' {axes} is not a permutation of {n} axes")
    if axes == tuple(range(n)):
        return x
    return transpose_p.bind(x, axes=axes)


def moveaxis(x: Any, source: Any, destination: Any) -> Any:
    n = ndim_of(x)
    src = [checked_axis(s, n) for s in np.atleast_1d(source)]
    dst = [checked_axis(d, n) for d in np.atleast_1d(destination)]
    if len(src) != len(dst):
        raise ValueError("moveaxis: 'source' and 'destination' must have the same length")
    order = [i for i in range(n) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


def swapaxes(x: Any, axis1: int, axis2: int) -> Any:
    n = ndim_of(x)
    axes = list(range(n))
    a, b = checked_axis(axis1, n), checked_axis(axis2, n)
    axes[a], axes[b] = axes[b], axes[a]
    return transpose(x, axes)


# ---------------------------------------------------------------------------------------------
# broadcast_to

_SMALL = 1 << 15


def _broadcast_impl(x: Any, *, shape: tuple[int, ...]) -> Any:
    # np.broadcast_to is a few microseconds of Python; for small results a copy made by two C
    # calls is cheaper. Large results stay zero-copy views.
    t = type(x)
    if (t is np.ndarray or t is np.float64 or t is np.float32) and math.prod(shape) <= _SMALL:
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
    return R.cotangent_like(ct, x)


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
    return concat_p.bind(*xs, axis=checked_axis(axis, n))


# ---------------------------------------------------------------------------------------------
# functions built on the primitives above

def expand_dims(x: Any, axis: Any) -> Any:
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    n = ndim_of(x) + len(axes)
    axes = sorted(checked_axis(a, n) for a in axes)
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
    axis = checked_axis(axis, n)
    return concatenate([expand_dims(x, axis) for x in xs], axis)


def flip(x: Any, axis: Any = None) -> Any:
    n = ndim_of(x)
    axes = R.normalize_axis(axis, n, scalar_0d=False)
    if not axes:  # nothing to reverse (a 0-d value, or axis=()): NumPy returns the values as is
        return x
    idx = tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(n))
    return getitem(x, idx)


def flip_last(x: Any) -> Any:
    return getitem(x, (Ellipsis, slice(None, None, -1)))


def getitem(x: Any, idx: Any) -> Any:
    return index.getitem(x, idx)


# ---------------------------------------------------------------------------------------------
# more of NumPy's array manipulation, built on the primitives above and on indexing

def atleast_nd(x: Any, n: int) -> Any:
    s = shape_of(x)
    if len(s) >= n:
        return x
    if n == 3 and len(s) == 2:
        return reshape(x, s + (1,))
    if n == 3 and len(s) == 1:
        return reshape(x, (1,) + s + (1,))
    return reshape(x, (1,) * (n - len(s)) + s)


def hstack(xs: Any) -> Any:
    xs = [atleast_nd(x, 1) for x in xs]
    return concatenate(xs, 0 if ndim_of(xs[0]) == 1 else 1)


def vstack(xs: Any) -> Any:
    return concatenate([atleast_nd(x, 2) for x in xs], 0)


def _split_points(n: int, sections: Any, even: bool) -> list[int]:
    if isinstance(sections, (int, np.integer)):
        k = int(sections)
        if k <= 0:
            raise ValueError("number sections must be larger than 0")
        if even and n % k:
            raise ValueError("array split does not result in an equal division; use "
                             "array_split for unequal parts")
        base, extra = divmod(n, k)
        sizes = [base + 1] * extra + [base] * (k - extra)
        return [int(v) for v in np.cumsum(sizes)[:-1]]
    return [int(i) for i in sections]


def split(x: Any, indices_or_sections: Any, axis: int = 0, even: bool = True) -> list[Any]:
    n = ndim_of(x)
    axis = checked_axis(axis, n)
    size = shape_of(x)[axis]
    cuts = [0] + _split_points(size, indices_or_sections, even) + [size]
    lead = (slice(None),) * axis
    return [getitem(x, lead + (slice(a, max(a, b)),)) for a, b in zip(cuts[:-1], cuts[1:])]


def tile(x: Any, reps: Any) -> Any:
    reps = (int(reps),) if isinstance(reps, (int, np.integer)) else tuple(int(r) for r in reps)
    s = shape_of(x)
    d = max(len(s), len(reps))
    s = (1,) * (d - len(s)) + s
    reps = (1,) * (d - len(reps)) + reps
    interleaved = tuple(v for pair in zip((1,) * d, s) for v in pair)
    target = tuple(v for pair in zip(reps, s) for v in pair)
    y = broadcast_to(reshape(x, interleaved), target)
    return reshape(y, tuple(r * n for r, n in zip(reps, s)))


def repeat(x: Any, repeats: Any, axis: int | None = None) -> Any:
    if axis is None or (ndim_of(x) == 0 and int(axis) in (0, -1)):
        # no axis: along the flattened array; NumPy repeats a 0-d value along axis 0 or -1 too
        x, axis = ravel(x), 0
    n = ndim_of(x)
    axis = checked_axis(axis, n)
    size = shape_of(x)[axis]
    idx = np.repeat(np.arange(size), repeats)
    return getitem(x, (slice(None),) * axis + (idx,))


def fliplr(x: Any) -> Any:
    if ndim_of(x) < 2:
        raise ValueError("fliplr: the input must be at least 2-D")
    return flip(x, 1)


def flipud(x: Any) -> Any:
    if ndim_of(x) < 1:
        raise ValueError("flipud: the input must be at least 1-D")
    return flip(x, 0)


def roll(x: Any, shift: Any, axis: Any = None) -> Any:
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), shape_of(x))
    shifts = np.broadcast_to(np.asarray(shift), np.shape(axis)).ravel()
    axes = np.atleast_1d(axis)
    for sh, ax in zip(shifts, axes):
        ax = R.normalize_axis(int(ax), ndim_of(x), scalar_0d=False)[0]
        size = shape_of(x)[ax]
        if size:
            idx = (np.arange(size) - int(sh)) % size
            x = getitem(x, (slice(None),) * ax + (idx,))
    return x


def rot90(m: Any, k: int = 1, axes: tuple[int, int] = (0, 1)) -> Any:
    n = ndim_of(m)
    a0, a1 = checked_axis(axes[0], n), checked_axis(axes[1], n)
    if a0 == a1:
        raise ValueError("rot90: axes must be different")
    k %= 4
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, a0), a1)
    perm = list(range(n))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return transpose(flip(m, a1), perm)
    return flip(transpose(m, perm), a1)


def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: Any = 0) -> Any:
    """np.pad for modes constant, edge, reflect, symmetric and wrap."""
    n = ndim_of(x)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (n, 2))
    if mode == "constant":
        shape = shape_of(x)
        new = tuple(int(s + a + b) for s, (a, b) in zip(shape, widths))
        inner = tuple(slice(int(a), int(a) + s) for s, (a, _) in zip(shape, widths))
        out = index.scatter_add_p.bind(x, idx=inner, shape=new)
        if np.any(np.asarray(constant_values) != 0):
            fill = np.empty(new, dtype=np.result_type(dtype_of(x),
                                                      np.asarray(constant_values)))
            fill[...] = np.pad(np.zeros(shape), widths, constant_values=constant_values)
            out = out + fill  # the interior of fill is zero
        return out
    if mode not in ("edge", "reflect", "symmetric", "wrap"):
        raise NotImplementedError(f"pad: mode={mode!r} is not differentiable in chainrule; use "
                                  f"constant, edge, reflect, symmetric or wrap")
    for ax in range(n):
        a, b = (int(v) for v in widths[ax])
        if a or b:
            src = np.pad(np.arange(shape_of(x)[ax]), (a, b), mode=mode)  # type: ignore[call-overload]
            x = getitem(x, (slice(None),) * ax + (src,))
    return x


def diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None) -> Any:
    nd = ndim_of(a)
    axis = checked_axis(axis, nd)
    parts = []
    for extra in (prepend, None, append):
        if extra is None:
            continue
        if not hasattr(extra, "shape"):
            extra = np.asarray(extra, dtype=dtype_of(a))  # a list or a Python number
        shape = list(shape_of(a))
        shape[axis] = 1
        parts.append(broadcast_to(extra, tuple(shape)) if ndim_of(extra) < nd else extra)
    if prepend is not None or append is not None:
        seq = ([parts[0]] if prepend is not None else []) + [a] + (
            [parts[-1]] if append is not None else [])
        a = concatenate(seq, axis)
    lead = (slice(None),) * axis
    for _ in range(n):
        a = getitem(a, lead + (slice(1, None),)) - getitem(a, lead + (slice(None, -1),))
    return a
