"""Shared batching rules. The batch axis is always axis 0 of a batched value."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._core.primitive import Primitive, ndim_of, shape_of
from . import shape as S


def batch_size(args: list[Any], batched: tuple[bool, ...]) -> int:
    for a, b in zip(args, batched):
        if b:
            return shape_of(a)[0]
    raise ValueError("batch_size: no batched argument")


def align_batched(args: list[Any], batched: tuple[bool, ...]) -> list[Any]:
    """Insert unit axes after the batch axis so batched and unbatched operands broadcast the way
    their unbatched versions would (NumPy aligns shapes from the right)."""
    ranks = [ndim_of(a) - 1 if b else ndim_of(a) for a, b in zip(args, batched)]
    top = max(ranks)
    if min(ranks) == top:
        return args
    out = []
    for a, b, r in zip(args, batched, ranks):
        if b and r < top:
            s = shape_of(a)
            a = S.reshape(a, (s[0],) + (1,) * (top - r) + s[1:])
        out.append(a)
    return out


def elementwise_batcher(prim: Primitive) -> Callable[..., Any]:
    def _batch_elementwise(args: list[Any], batched: tuple[bool, ...], **params: Any) -> Any:
        return prim.bind(*align_batched(args, batched), **params)

    _batch_elementwise.__name__ = f"_{prim.name}_batch"
    return _batch_elementwise


def axis_batcher(prim: Primitive) -> Callable[..., Any]:
    """For primitives of one array argument with an `axis` parameter (an int or a tuple)."""

    def _batch_axis(args: list[Any], batched: tuple[bool, ...], *, axis: Any,
                    **params: Any) -> Any:
        (x,) = args
        shifted = tuple(a + 1 for a in axis) if isinstance(axis, tuple) else axis + 1
        return prim.bind(x, axis=shifted, **params)

    _batch_axis.__name__ = f"_{prim.name}_batch"
    return _batch_axis


def materialize(x: Any, size: int) -> Any:
    """Give an unbatched value a batch axis of `size` (a broadcast, no copy)."""
    return S.broadcast_to(x, (size,) + shape_of(x))


def loop_batch(prim: Primitive) -> Any:
    """A batching rule that runs the primitive once per example (for NumPy functions that take
    one matrix only, like lstsq), stacking the results."""

    def _batch(args: list[Any], batched: tuple[bool, ...], **params: Any) -> Any:
        n = next(shape_of(a)[0] for a, b in zip(args, batched) if b)
        outs = [prim.bind(*[S.getitem(a, k) if b else a for a, b in zip(args, batched)],
                          **params) for k in range(n)]
        if prim.multiple_results:
            return [S.stack(list(o)) for o in zip(*outs)]
        return S.stack(outs)

    _batch.__name__ = f"_{prim.name}_batch"
    return _batch
