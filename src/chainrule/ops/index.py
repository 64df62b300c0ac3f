"""Indexing: `getitem` (x[idx]) and its transpose `scatter_add` (add into zeros at idx).

Both are linear. Repeated integer indices accumulate in reverse mode (`np.add.at`), so
`x[[0, 0]]` gets a gradient of 2 at position 0. The index is a parameter: integers, slices,
`None`, `Ellipsis`, integer arrays and boolean masks (turned into integer arrays).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._core.errors import ConcretizationError
from .._core.primitive import (
    Primitive,
    Tracer,
    dtype_of,
    in_library_of,
    other_array,
    scalar,
    shape_of,
    zeros_like,
)
from .._core.rules import def_nondiff, def_rule, function_vjp
from . import elementwise as E
from . import shape as S


def normalize_index(idx: Any) -> tuple[Any, ...]:
    if not isinstance(idx, tuple):
        idx = (idx,)
    out = []
    for i in idx:
        if isinstance(i, Tracer) and getattr(i, "node", 0) is None and hasattr(i, "grad"):
            i = i.value  # an eager Tensor that records nothing: its values are the index
        if isinstance(i, Tracer):
            if np.issubdtype(i.dtype, np.inexact):
                raise TypeError("an index must be an integer or boolean array, not a floating "
                                "traced value")
            raise ConcretizationError(
                "an index array computed from a traced value cannot be used here; compute the "
                "index from concrete values (NumPy arrays) or use cnp.where for masking")
        if isinstance(i, list):
            i = np.asarray(i)
        if isinstance(i, np.ndarray) and i.dtype == bool:
            out.extend(np.nonzero(i))
            continue
        out.append(i)
    return tuple(out)


def _is_advanced(i: Any) -> bool:
    return isinstance(i, np.ndarray)


def _advanced_layout(idx: tuple[Any, ...]) -> tuple[bool, int]:
    """(whether advanced indices are split by slices, ndim of their broadcast result)."""
    arrays = [i for i in idx if _is_advanced(i)]
    if not arrays:
        return False, 0
    pos = [k for k, i in enumerate(idx) if _is_advanced(i) or isinstance(i, (int, np.integer))]
    split = pos[-1] - pos[0] + 1 != len(pos)
    return split, len(np.broadcast_shapes(*(a.shape for a in arrays)))


def _has_advanced(idx: tuple[Any, ...]) -> bool:
    return any(_is_advanced(i) for i in idx)


# ---------------------------------------------------------------------------------------------

def _getitem_impl(x: Any, *, idx: tuple[Any, ...]) -> Any:
    try:
        return x[idx]
    except TypeError:
        if type(x) in _PY_SCALARS:  # a Python number is a 0-d value: index it as one
            return np.asarray(x)[idx]
        raise


_PY_SCALARS = (float, int, bool, complex)


_NO_BYTES = np.dtype([])  # (elements of no size: NumPy computes an index's result shape from
#                           such an array, its errors included, without allocating anything)


def _getitem_abstract(x: Any, *, idx: tuple[Any, ...]) -> tuple[tuple, np.dtype]:
    return np.empty(shape_of(x), _NO_BYTES)[idx].shape, dtype_of(x)


def _getitem_jvp(primals: list[Any], tangents: list[Any], *, idx: tuple) -> tuple[Any, Any]:
    return getitem_p.bind(primals[0], idx=idx), getitem_p.bind(tangents[0], idx=idx)


def _getitem_transpose(ct: Any, x: Any, *, idx: tuple[Any, ...]) -> Any:
    return scatter_add_p.bind(ct, idx=idx, shape=shape_of(x))


def _getitem_batch(args: list[Any], batched: tuple[bool, ...], *, idx: tuple) -> Any:
    out = getitem_p.bind(args[0], idx=(slice(None),) + idx)
    split, adv_nd = _advanced_layout(idx)
    if split:
        out = S.moveaxis(out, adv_nd, 0)
    return out


getitem_p = def_rule(Primitive("getitem", _getitem_impl, _getitem_abstract), jvp=_getitem_jvp,
                     transpose=(_getitem_transpose,), batch=_getitem_batch)


def _scatter_add_impl(ct: Any, *, idx: tuple[Any, ...], shape: tuple[int, ...]) -> Any:
    if other_array(ct):
        return _scatter_into_zeros(ct, idx, shape)
    z = np.zeros(shape, dtype=dtype_of(ct))
    if _has_advanced(idx):
        np.add.at(z, idx, ct)
    else:
        z[idx] = ct
    return z


def _scatter_into_zeros(ct: Any, idx: tuple[Any, ...], shape: tuple[int, ...]) -> Any:
    """Scatter-add for other array types (Dask, CuPy): zeros of `ct`'s own type, then an
    accumulating scatter where the library has one (CuPy's `add.at`), else an assignment, which
    accumulates nothing: refused where the index names one position twice."""
    # (a 0-d integer array is a plain position: Dask assigns to none)
    idx = tuple(int(i) if isinstance(i, np.ndarray) and i.ndim == 0 and i.dtype.kind in "iu"
                else i for i in idx)
    advanced = [i for i in idx if _is_advanced(i) or other_array(i)]
    z = np.zeros_like(ct, shape=shape)  # (NEP 18: the operand's array library makes them)
    if advanced:
        try:
            np.add.at(z, idx, ct)
            return z
        except TypeError:
            pass  # (Dask's arrays have no ufunc methods: assign, where no position repeats)
        # (a boolean mask selects its nonzero positions, one index array per axis it covers)
        advanced = [p for a in map(np.asarray, advanced)
                    for p in (np.nonzero(a) if a.dtype == bool else (a,))]
        rows = np.stack([a.ravel() for a in np.broadcast_arrays(*advanced)], axis=-1)
        if len(np.unique(rows, axis=0)) != len(rows):
            lib = type(ct).__module__.split('.')[0]
            raise NotImplementedError(
                f"the derivative of indexing a {lib} array with an index that names one "
                f"position twice needs an accumulating scatter (np.add.at), which {lib} arrays "
                f"do not have; index without repeats, or compute the array first")
        z[idx] = ct
        return z
    # a basic index: the Ellipsis as the full slices it stands for, integers as slices of length
    # 1 and the value reshaped to match (Dask's assignment broadcasts a value into an integer
    # position, or past a None, its own way)
    if any(i is Ellipsis for i in idx):
        k = next(j for j, i in enumerate(idx) if i is Ellipsis)
        named = sum(1 for i in idx if i is not None and i is not Ellipsis)
        idx = idx[:k] + (slice(None),) * (len(shape) - named) + idx[k + 1:]
    key: list[Any] = []
    kept: list[int] = []
    axis = 0
    for i in idx:
        if i is None:  # (a new axis of length 1 in ct: the reshape drops it)
            continue
        n = shape[axis]
        if isinstance(i, slice):
            key.append(i)
            kept.append(len(range(*i.indices(n))))
        else:
            j = int(i) % n
            key.append(slice(j, j + 1))
            kept.append(1)
        axis += 1
    if 0 not in kept:  # (an empty selection scatters nothing)
        z[tuple(key)] = np.reshape(ct, tuple(kept) + tuple(shape[axis:]))
    return z


def _scatter_add_abstract(ct: Any, *, idx: tuple, shape: tuple) -> tuple[tuple, np.dtype]:
    return shape, dtype_of(ct)


def _scatter_add_jvp(primals: list[Any], tangents: list[Any], **params: Any) -> tuple[Any, Any]:
    return scatter_add_p.bind(primals[0], **params), scatter_add_p.bind(tangents[0], **params)


def _scatter_add_transpose(ct: Any, x: Any, *, idx: tuple, shape: tuple) -> Any:
    return getitem_p.bind(ct, idx=idx)


def _scatter_add_batch(args: list[Any], batched: tuple[bool, ...], *, idx: tuple,
                       shape: tuple) -> Any:
    (ct,) = args
    split, adv_nd = _advanced_layout(idx)
    if split:
        ct = S.moveaxis(ct, 0, adv_nd)
    return scatter_add_p.bind(ct, idx=(slice(None),) + idx, shape=(shape_of(args[0])[0],) + shape)


scatter_add_p = def_rule(Primitive("scatter_add", _scatter_add_impl, _scatter_add_abstract),
                         jvp=_scatter_add_jvp, transpose=(_scatter_add_transpose,),
                         batch=_scatter_add_batch)


def getitem(x: Any, idx: Any) -> Any:
    entries = idx if isinstance(idx, tuple) else (idx,)
    if any(_traced_int(i) for i in entries):
        return _gather_index(x, entries)
    return getitem_p.bind(x, idx=normalize_index(idx))


# ---------------------------------------------------------------------------------------------
# gather: x taken at an index that is itself a value (traced: a loop counter, a permutation)

def _gather_abstract(x: Any, idx: Any, *, axis: int) -> tuple[tuple, np.dtype]:
    sx = shape_of(x)
    return sx[:axis] + tuple(shape_of(idx)) + sx[axis + 1:], dtype_of(x)


def _gather_jvp(primals: list[Any], tangents: list[Any], *, axis: int) -> tuple[Any, Any]:
    (x, idx), (x_dot, _) = primals, tangents
    return gather_p.bind(x, idx, axis=axis), gather_p.bind(x_dot, idx, axis=axis)


def _gather_transpose(ct: Any, x: Any, idx: Any, *, axis: int) -> Any:
    return gather_add_p.bind(ct, idx, axis=axis, shape=shape_of(x))


def _batch_offsets(idx: Any, size: int, n: int) -> Any:
    """A batch of indices into n positions each, as indices into the batch stacked flat."""
    offsets = (np.arange(size) * n).reshape((size,) + (1,) * (len(shape_of(idx)) - 1))
    return E.add(idx, offsets)


def _gather_batch(args: list[Any], batched: tuple[bool, ...], *, axis: int) -> Any:
    x, idx = args
    if not batched[1]:
        return gather_p.bind(x, idx, axis=axis + 1)
    ni = len(shape_of(idx)) - 1
    if not batched[0]:  # the index axes land at `axis`: the batch axis comes to the front
        return S.moveaxis(gather_p.bind(x, idx, axis=axis), axis, 0)
    size, n = shape_of(x)[0], shape_of(x)[axis + 1]
    xm = S.moveaxis(x, axis + 1, 1)            # (B, n, *pre, *post)
    flat = S.reshape(xm, (size * n,) + shape_of(xm)[2:])
    g = gather_p.bind(flat, _batch_offsets(idx, size, n), axis=0)   # (B, *is, *pre, *post)
    npre, npost = axis, len(shape_of(x)) - axis - 2
    perm = ((0,) + tuple(1 + ni + k for k in range(npre)) + tuple(1 + k for k in range(ni))
            + tuple(1 + ni + npre + k for k in range(npost)))
    return S.transpose(g, perm)


gather_p = def_rule(Primitive("gather", lambda x, idx, *, axis: np.take(x, idx, axis=axis),
                              _gather_abstract),
                    jvp=_gather_jvp, transpose=(_gather_transpose, None), batch=_gather_batch)


def _gather_add_impl(ct: Any, idx: Any, *, axis: int, shape: tuple[int, ...]) -> Any:
    if other_array(ct):
        i = idx if other_array(idx) else np.asarray(idx)
        if dtype_of(i).kind == "b":  # (np.take reads booleans as the positions 0 and 1)
            i = i.astype(np.int64)
        if len(shape_of(i)) != 1:  # (one flat index: Dask assigns through 1-d ones only)
            ct = np.reshape(ct, tuple(shape[:axis]) + (math.prod(shape_of(i)),)
                            + tuple(shape[axis + 1:]))
            i = np.reshape(i, (-1,))
        return _scatter_into_zeros(ct, (slice(None),) * axis + (i,), shape)
    if axis == 0 and len(shape) == 1 and np.dtype(dtype_of(ct)).kind == "f":
        # a vector's scatter-add is a weighted bincount (a few times faster than np.add.at)
        flat = np.asarray(idx).ravel()
        try:
            got = np.bincount(flat, weights=np.broadcast_to(ct, np.shape(idx)).ravel(),
                              minlength=shape[0])
        except (ValueError, TypeError):  # negative entries: np.add.at below handles them
            got = None
        if got is not None and len(got) == shape[0]:
            return got.astype(dtype_of(ct), copy=False)
    z = np.zeros(shape, dtype=dtype_of(ct))
    np.add.at(z, (slice(None),) * axis + (np.asarray(idx),), ct)
    return z


def _gather_add_abstract(ct: Any, idx: Any, *, axis: int, shape: tuple) -> tuple[tuple, Any]:
    return tuple(shape), dtype_of(ct)


def _gather_add_jvp(primals: list[Any], tangents: list[Any], **params: Any) -> tuple[Any, Any]:
    (ct, idx), (ct_dot, _) = primals, tangents
    return gather_add_p.bind(ct, idx, **params), gather_add_p.bind(ct_dot, idx, **params)


def _gather_add_transpose(g: Any, ct: Any, idx: Any, *, axis: int, shape: tuple) -> Any:
    return gather_p.bind(g, idx, axis=axis)


def _gather_add_batch(args: list[Any], batched: tuple[bool, ...], *, axis: int,
                      shape: tuple) -> Any:
    ct, idx = args
    if not batched[1]:
        size = shape_of(ct)[0]
        return gather_add_p.bind(ct, idx, axis=axis + 1, shape=(size,) + tuple(shape))
    size = shape_of(idx)[0]
    ni = len(shape_of(idx)) - 1
    if not batched[0]:
        ct = S.broadcast_to(ct, (size,) + shape_of(ct))
    n, npre = shape[axis], axis
    npost = len(shape) - axis - 1
    # ct: (B, *pre, *is, *post) -> (B, *is, *pre, *post), then one scatter into the flat stack
    perm = ((0,) + tuple(1 + npre + k for k in range(ni)) + tuple(1 + k for k in range(npre))
            + tuple(1 + npre + ni + k for k in range(npost)))
    rest = tuple(shape[:axis]) + tuple(shape[axis + 1:])
    flat = gather_add_p.bind(S.transpose(ct, perm), _batch_offsets(idx, size, n), axis=0,
                             shape=(size * n,) + rest)
    return S.moveaxis(S.reshape(flat, (size, n) + rest), 1, axis + 1)


gather_add_p = def_rule(Primitive("gather_add", _gather_add_impl, _gather_add_abstract),
                        jvp=_gather_add_jvp, transpose=(_gather_add_transpose, None),
                        batch=_gather_add_batch)


def _traced_int(i: Any) -> bool:
    return isinstance(i, Tracer) and not np.issubdtype(i.dtype, np.inexact) \
        and not (getattr(i, "node", 0) is None and hasattr(i, "grad"))


def _int_array(i: Any) -> bool:
    """An integer index entry: a traced integer, an integer array, or an int."""
    return _traced_int(i) or (isinstance(i, np.ndarray) and i.dtype.kind in "iu") \
        or (isinstance(i, (int, np.integer)) and not isinstance(i, bool))


def _gather_leading(x: Any, idx: tuple[Any, ...]) -> Any:
    """x[i0, i1, ..., :, :] for integers or integer arrays i0, i1, ... (some traced) on x's
    leading axes: one gather from x with those axes flattened, at the flat index
    i0*n1 + i1 ... (as np.ravel_multi_index), negative entries counted from the end (entries
    out of range are not detected: they wrap around)."""
    k, shape = len(idx), shape_of(x)
    flat: Any = None
    for i, n in zip(idx, shape[:k]):
        i = E.mod_p.bind(i, n)  # (x[-1] is x[n - 1]; entries are in -n..n-1, as NumPy checks)
        flat = i if flat is None else E.add(E.mul(flat, n), i)
    rows = S.reshape(x, (math.prod(shape[:k]),) + tuple(shape[k:]))
    return gather_p.bind(rows, flat, axis=0)


def _gather_index(x: Any, idx: tuple[Any, ...]) -> Any:
    """x[idx] where one entry of idx is a traced integer and the others take whole axes, or
    where integer arrays (one of them traced) index x's leading axes: `z[rows, labels]`."""
    lead = 0
    while lead < len(idx) and _int_array(idx[lead]):
        lead += 1
    if 2 <= lead <= len(shape_of(x)) and all(isinstance(i, slice) and i == slice(None)
                                            for i in idx[lead:]):
        return _gather_leading(x, idx[:lead])
    pos = [k for k, i in enumerate(idx) if _traced_int(i)]
    rest_ok = all(isinstance(i, slice) and i == slice(None) for k, i in enumerate(idx)
                  if k != pos[0])
    if len(pos) != 1 or not rest_ok or pos[0] >= len(shape_of(x)):
        raise ConcretizationError(
            "an index computed from a traced value can be used alone, with ':' for the axes "
            "before it (x[i], x[:, i]), or with other integer arrays on the leading axes "
            "(x[rows, cols]); for other indexing use cnp.take(x, i, axis) or compute the index "
            "from concrete values")
    return gather_p.bind(x, idx[pos[0]], axis=pos[0])


def take_along_traced(x: Any, idx: Any, axis: int) -> Any:
    """np.take_along_axis(x, idx, axis) for an index of x's shape that is a traced value."""
    xm, im = S.moveaxis(x, axis, -1), S.moveaxis(idx, axis, -1)
    lead, n = shape_of(xm)[:-1], shape_of(xm)[-1]
    rows = math.prod(lead)
    flat_idx = _batch_offsets(S.reshape(im, (rows, shape_of(im)[-1])), rows, n)
    got = gather_p.bind(S.reshape(xm, (rows * n,)), flat_idx, axis=0)
    return S.moveaxis(S.reshape(got, lead + (shape_of(im)[-1],)), -1, axis)


# ---------------------------------------------------------------------------------------------
# gathers built on getitem: take, take_along_axis, diagonal, diag, tril, triu; and sort

def take(a: Any, indices: Any, axis: int | None = None, mode: str = "raise") -> Any:
    if axis is None:
        a, axis = S.ravel(a), 0
    axis = S.checked_axis(axis, len(shape_of(a)))
    if _traced_int(indices) and mode == "raise":
        return gather_p.bind(a, indices, axis=axis)
    indices = np.asarray(indices)
    n = shape_of(a)[axis]
    if mode == "wrap":
        indices = indices % n
    elif mode == "clip":
        indices = np.clip(indices, 0, n - 1)
    elif mode != "raise":
        raise ValueError(f"take: mode must be 'raise', 'wrap' or 'clip', not {mode!r}")
    return getitem(a, (slice(None),) * axis + (indices,))


def take_along_axis(arr: Any, indices: Any, axis: int | None) -> Any:
    if axis is None:
        arr, axis = S.ravel(arr), 0
    n = len(shape_of(arr))
    axis = S.checked_axis(axis, n)
    if _traced_int(indices):
        return take_along_traced(arr, indices, axis)
    indices = np.asarray(indices)
    idx = []
    for d in range(n):
        if d == axis:
            idx.append(indices)
        else:  # the other axes broadcast between arr and indices, as in NumPy
            shape = [1] * n
            shape[d] = shape_of(arr)[d]
            idx.append(np.arange(shape_of(arr)[d]).reshape(shape))
    return getitem(arr, tuple(idx))


def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    m = S.moveaxis(a, (axis1, axis2), (-2, -1))
    rows, cols = shape_of(m)[-2], shape_of(m)[-1]
    i = np.arange(max(0, -offset), min(rows, cols - offset))
    return getitem(m, (Ellipsis, i, i + offset))


def diag(v: Any, k: int = 0) -> Any:
    s = shape_of(v)
    if len(s) == 2:
        return diagonal(v, k)
    if len(s) != 1:
        raise ValueError("diag: input must be 1-D or 2-D")
    n = s[0] + abs(k)
    i = np.arange(s[0])
    rows, cols = (i, i + k) if k >= 0 else (i - k, i)
    return scatter_add_p.bind(v, idx=(rows, cols), shape=(n, n))


def _matrix_dims(m: Any) -> tuple[int, int]:
    s = shape_of(m)
    return (s[0], s[0]) if len(s) == 1 else (s[-2], s[-1])  # NumPy broadcasts a 1-D input


def tril(m: Any, k: int = 0) -> Any:
    r, c = _matrix_dims(m)
    mask = np.tri(r, c, k, dtype=bool)
    return E.select(mask, m, scalar(0, dtype_of(m)))


def triu(m: Any, k: int = 0) -> Any:
    r, c = _matrix_dims(m)
    mask = ~np.tri(r, c, k - 1, dtype=bool)
    return E.select(mask, m, scalar(0, dtype_of(m)))


def _sort_impl(x: Any, *, axis: int) -> Any:
    return np.sort(x, axis=axis, kind="stable")


def _sort_abstract(x: Any, *, axis: int) -> tuple[tuple, np.dtype]:
    return shape_of(x), dtype_of(x)


def _argsort_batch(args: list[Any], batched: tuple[bool, ...], *, axis: int) -> Any:
    return argsort_p.bind(args[0], axis=axis + 1)


#: the stable sorting permutation: an integer value like any other, so the derivative of sort
#: follows it under every interpreter (a graph included, where it is computed at run time)
argsort_p = def_nondiff(
    Primitive("argsort", lambda x, *, axis: np.argsort(x, axis=axis, kind="stable"),
              lambda x, *, axis: (shape_of(x), np.dtype(np.int64))), batch=_argsort_batch)


def _order(x: Any, axis: int) -> Any:
    concrete = x if not isinstance(x, Tracer) else None
    if concrete is not None:  # plain values: the permutation as a constant index
        return np.argsort(concrete, axis=axis, kind="stable")
    return argsort_p.bind(x, axis=axis)


def _sort_jvp(primals: list[Any], tangents: list[Any], *, axis: int) -> tuple[Any, Any]:
    (x,), (x_dot,) = primals, tangents
    return sort_p.bind(x, axis=axis), take_along_axis(x_dot, _order(x, axis), axis)


def _sort_vjp(ct: Any, ans: Any, x: Any, *, axis: int) -> Any:
    return _untake_along(ct, _order(x, axis), x, axis)


def _untake_along(ct: Any, order: Any, x: Any, axis: int) -> Any:
    """The transpose of `take_along_axis(x, order, axis)` for a permutation `order` (concrete
    or traced) along `axis`: `ct` put back where each of its entries was taken from."""
    if isinstance(order, Tracer):  # the transpose of take_along_traced, through the rules
        return function_vjp(lambda v: take_along_traced(v, order, axis), zeros_like(x))[1](ct)[0]
    if other_array(order):  # (another library's permutation: gather by its inverse, which
        # needs no scatter; NumPy's integer index arrays are what scatter_add takes)
        return take_along_axis(ct, np.argsort(order, axis=axis), axis)
    n = len(shape_of(x))
    idx = tuple(order if d == axis else np.arange(order.shape[d]).reshape(
        [order.shape[d] if e == d else 1 for e in range(n)]) for d in range(n))
    return scatter_add_p.bind(ct, idx=idx, shape=shape_of(x))


def _sort_batch(args: list[Any], batched: tuple[bool, ...], *, axis: int) -> Any:
    return sort_p.bind(args[0], axis=axis + 1)


sort_p = def_rule(Primitive("sort", _sort_impl, _sort_abstract), jvp=_sort_jvp,
                  vjp=(_sort_vjp,), batch=_sort_batch)


def sort(a: Any, axis: int | None = -1) -> Any:
    """Sorted values; the derivative follows the permutation (ties in the stable order)."""
    if axis is None:
        a, axis = S.ravel(a), 0
    return sort_p.bind(a, axis=S.checked_axis(axis, len(shape_of(a))))


def argsort(x: Any, axis: int = -1) -> Any:
    """The stable sorting permutation along `axis` (an integer array, concrete or traced: no
    derivative)."""
    return _order(x, S.checked_axis(axis, len(shape_of(x))))


# ---------------------------------------------------------------------------------------------
# partition: np.partition's values; the derivative follows the permutation that produced them


def _partition_impl(x: Any, *, kth: tuple[int, ...], axis: int) -> Any:
    return np.partition(x, kth, axis=axis)


def _partition_abstract(x: Any, *, kth: tuple[int, ...], axis: int) -> tuple[tuple, np.dtype]:
    return shape_of(x), dtype_of(x)


def _partition_order(x: Any, ans: Any, axis: int) -> Any:
    """A permutation `p` along `axis` with take_along_axis(x, p) == ans: the k-th smallest of
    x and of ans are the same value, so p maps the sorted positions of ans onto those of x
    (equal values are interchangeable; NaN sorts last in both)."""
    order_x, order_ans = _order(x, axis), _order(ans, axis)
    return take_along_axis(order_x, _order(order_ans, axis), axis)


def _partition_jvp(primals: list[Any], tangents: list[Any], *, kth: tuple[int, ...],
                   axis: int) -> tuple[Any, Any]:
    (x,), (x_dot,) = primals, tangents
    ans = partition_p.bind(x, kth=kth, axis=axis)
    return ans, take_along_axis(x_dot, _partition_order(x, ans, axis), axis)


def _partition_vjp(ct: Any, ans: Any, x: Any, *, kth: tuple[int, ...], axis: int) -> Any:
    return _untake_along(ct, _partition_order(x, ans, axis), x, axis)


def _partition_batch(args: list[Any], batched: tuple[bool, ...], *, kth: tuple[int, ...],
                     axis: int) -> Any:
    return partition_p.bind(args[0], kth=kth, axis=axis + 1)


partition_p = def_rule(Primitive("partition", _partition_impl, _partition_abstract),
                       jvp=_partition_jvp, vjp=(_partition_vjp,), batch=_partition_batch)


def partition(a: Any, kth: Any, axis: int | None = -1) -> Any:
    """np.partition: the values NumPy gives; the derivative is sort's (it follows the values)."""
    if axis is None:
        a, axis = S.ravel(a), 0
    n = len(shape_of(a))
    if n == 0:
        raise np.exceptions.AxisError(axis, 0)
    kths = (int(kth),) if np.ndim(kth) == 0 else tuple(int(k) for k in np.ravel(kth))
    return partition_p.bind(a, kth=kths, axis=S.checked_axis(axis, n))


# ---------------------------------------------------------------------------------------------
# searchsorted, built on the stable argsort (so it runs on traced values under every
# interpreter, a graph included); its result is an integer array without a derivative


def searchsorted(a: Any, v: Any, side: str = "left") -> Any:
    """np.searchsorted(a, v, side) for a sorted 1-D `a`: the insertion points of `v`.

    Computed from ranks: stably sorted together with `a`, an entry of v lands after the
    entries of `a` below it (side='left') or not above it (side='right'), and after the
    entries of v that sort before it; its own rank among v is taken off."""
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', not {side!r}")
    if len(shape_of(a)) != 1:
        raise ValueError("searchsorted: 'a' must be one-dimensional")
    if not isinstance(a, Tracer) and not isinstance(v, Tracer):
        return np.searchsorted(a, v, side=side)
    vshape = shape_of(v)
    flat = S.reshape(v, (-1,))
    n, m = shape_of(a)[0], math.prod(vshape)
    both = S.concatenate([a, flat] if side == "right" else [flat, a], 0)
    rank = _order(_order(both, 0), 0)  # (the inverse of a permutation is its argsort)
    start = n if side == "right" else 0
    mine = getitem(rank, (slice(start, start + m),))
    own = _order(_order(flat, 0), 0)
    return S.reshape(E.sub(mine, own), vshape)


# ---------------------------------------------------------------------------------------------
# functional updates: cnp.at(x)[idx].set(v) / .add(v) / .multiply(v)

def _write_order(shape: tuple[int, ...], idx: tuple[Any, ...]) -> tuple[np.ndarray, ...]:
    """For each element of x[idx]: the flat position of x it writes to, how many earlier
    elements write to the same position, and how many elements write there in all."""
    pos = np.asarray(np.arange(math.prod(shape)).reshape(shape)[idx])
    flat = pos.ravel()
    order = np.argsort(flat, kind="stable")
    starts = np.r_[0, np.flatnonzero(np.diff(flat[order])) + 1]
    lengths = np.diff(np.r_[starts, flat.size])
    occurrence = np.empty(flat.size, dtype=np.int64)
    occurrence[order] = np.arange(flat.size) - np.repeat(starts, lengths)
    count = np.empty(flat.size, dtype=np.int64)
    count[order] = np.repeat(lengths, lengths)
    return pos, occurrence.reshape(pos.shape), count.reshape(pos.shape)


def index_update(x: Any, idx: Any, v: Any, mode: str) -> Any:
    """x with x[idx] set to / increased by / multiplied by v, as a new array. Repeated positions:
    `add` accumulates (np.add.at), `multiply` multiplies in turn, `set` keeps the last write."""
    nidx = normalize_index(idx)
    shape = shape_of(x)
    target = np.shape(np.broadcast_to(np.zeros((), dtype_of(x)), shape)[nidx])
    vb = S.broadcast_to(v, target) if shape_of(v) != target else v
    if mode == "add":
        return E.add(x, scatter_add_p.bind(vb, idx=nidx, shape=shape))
    pos, occurrence, count = _write_order(shape, nidx)
    zero = scalar(0, dtype_of(vb))

    def hit(mask: np.ndarray) -> Any:
        out = np.zeros(math.prod(shape), dtype=bool)
        out[pos[mask]] = True
        return in_library_of(x, out.reshape(shape))

    if mode == "set":
        winner = in_library_of(x, occurrence == count - 1)
        placed = scatter_add_p.bind(E.select(winner, vb, zero), idx=nidx, shape=shape)
        return E.select(hit(np.ones(pos.shape, dtype=bool)), placed, x)
    if mode == "multiply":
        out = x
        for r in range(int(count.max(initial=0))):
            this_round = occurrence == r
            chosen = E.select(in_library_of(x, this_round), vb, zero)
            factor = scatter_add_p.bind(chosen, idx=nidx, shape=shape)
            out = E.select(hit(this_round), E.mul(out, factor), out)
        return out
    raise ValueError(f"unknown update mode {mode!r}; use set, add or multiply")
