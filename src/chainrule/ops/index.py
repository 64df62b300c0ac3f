"""Indexing: `getitem` (x[idx]) and its transpose `scatter_add` (add into zeros at idx).

Both are linear. Repeated integer indices accumulate in reverse mode (`np.add.at`), so
`x[[0, 0]]` gets a gradient of 2 at position 0. The index is a parameter: integers, slices,
`None`, `Ellipsis`, integer arrays and boolean masks (turned into integer arrays).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .._core.errors import ConcretizationError
from .._core.primitive import Primitive, Tracer, dtype_of, shape_of
from .._core.rules import def_rule
from . import shape as S


def normalize_index(idx: Any) -> tuple[Any, ...]:
    if not isinstance(idx, tuple):
        idx = (idx,)
    out = []
    for i in idx:
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
    return x[idx]


def _getitem_abstract(x: Any, *, idx: tuple[Any, ...]) -> tuple[tuple, np.dtype]:
    probe = np.broadcast_to(np.zeros((), dtype_of(x)), shape_of(x))
    return probe[idx].shape, dtype_of(x)


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
    z = np.zeros(shape, dtype=dtype_of(ct))
    if _has_advanced(idx):
        np.add.at(z, idx, ct)
    else:
        z[idx] = ct
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
    return getitem_p.bind(x, idx=normalize_index(idx))
