"""The Jacobian assembler every engine shares: the identity basis pushed through a batched pass,
and the batched result cut back into one block per (output leaf, input leaf).

A Jacobian has shape `out.shape + in.shape`; for pytrees, the output structure is outside and the
input structure inside (one entry per differentiated argument when argnums is a sequence). The
blocks are cut with the arrays' own methods (`reshape`, `transpose`, slicing), so they work on
NumPy arrays, on other array types and on traced values alike.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import tree
from .primitive import dtype_of, in_library_of, shape_of

Diff = list[tuple[list[Any], tree.TreeDef]]  # per differentiated argument: (leaves, structure)


#: the identity bases `basis` made, read-only, one per shape and dtype (a Jacobian of the same
#: input again takes the same), and by id: code that runs a batch of seeds may treat one as the
#: known constant it is (source's compiled kernels fold their products with it). Held strongly,
#: so that an id stays its array's; at most MAX_BASES, then cleared (a cleared one is an
#: ordinary array again to whoever still holds it).
_BASES: dict[tuple[tuple[int, ...], np.dtype], np.ndarray] = {}
_IDENTITIES: dict[int, np.ndarray] = {}
MAX_BASES = 32
#: the largest identity basis kept (elements): larger ones are made for each Jacobian
MAX_IDENTITY = 1 << 16


def basis(leaves: list[Any]) -> list[Any]:
    """The rows of the identity over all `leaves` together, split per leaf: leaf k gets an
    array of shape `(N, *leaf.shape)`, N the total number of elements."""
    if len(leaves) == 1:
        return [in_library_of(leaves[0], _identity(shape_of(leaves[0]), dtype_of(leaves[0])))]
    sizes = [math.prod(shape_of(x)) for x in leaves]
    n = int(sum(sizes))
    out, off = [], 0
    for x, s in zip(leaves, sizes):
        e = np.zeros((n, s), dtype_of(x))
        e[np.arange(off, off + s), np.arange(s)] = 1
        out.append(in_library_of(x, e.reshape((n,) + shape_of(x))))
        off += s
    return out


def _identity(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    eye = _BASES.get((shape, dtype))
    if eye is None:
        n = math.prod(shape)
        eye = np.eye(n, dtype=dtype).reshape((n,) + shape)
        if n * n > MAX_IDENTITY:
            return eye
        eye.flags.writeable = False
        if len(_BASES) >= MAX_BASES:
            _BASES.clear()
            _IDENTITIES.clear()
        _BASES[(shape, dtype)] = eye
        _IDENTITIES[id(eye)] = eye
    return eye


def is_identity_basis(x: Any) -> bool:
    """Whether `x` is an identity basis that `basis` keeps (of at most MAX_IDENTITY elements):
    the seeds of a Jacobian, read-only, so that they stay the identity."""
    return _IDENTITIES.get(id(x)) is x


def _writable(block: Any) -> Any:
    """A block the caller may write into: a copy where it is read-only (the seeds themselves,
    or a view of them, when the function passes its input through; a compiled kernel's
    constant)."""
    if isinstance(block, np.ndarray) and not block.flags.writeable:
        return block.copy()
    return block


def _rows(batched: Any, off: int, size: int, whole: bool) -> Any:
    return batched if whole else batched[off:off + size]


def from_tangents(batched_out: Any, diff: Diff, argnums: Any) -> Any:
    """The Jacobian from output tangents batched over the input basis (forward mode): each
    output leaf has shape `(N, *out.shape)`; None where an output carries no tangent."""
    flat_in = [x for leaves, _ in diff for x in leaves if tree.is_float_leaf(x)]
    out_leaves, out_td = tree.flatten(batched_out)
    per_out: list[Any] = []
    for o in out_leaves:
        if o is None:
            per_out.append(None)
            continue
        out_shape = shape_of(o)[1:]
        nout = len(out_shape)
        blocks, off = [], 0
        for x in flat_in:
            s = math.prod(shape_of(x))
            part = _rows(o, off, s, len(flat_in) == 1).reshape(shape_of(x) + out_shape)
            off += s
            nin = len(shape_of(x))  # (in + out) -> out + in
            blocks.append(_writable(part.transpose(tuple(range(nin, nin + nout))
                                                   + tuple(range(nin)))))
        it = iter(blocks)
        per_arg = [tree.unflatten(td, [next(it) if tree.is_float_leaf(x) else None
                                       for x in leaves]) for leaves, td in diff]
        per_out.append(per_arg[0] if isinstance(argnums, int) else tuple(per_arg))
    return tree.unflatten(out_td, per_out)


def from_cotangents(cts: Any, out: Any, diff: Diff, argnums: Any) -> Any:
    """The Jacobian from input cotangents batched over the output basis (reverse mode): `cts`
    holds one cotangent tree per differentiated argument, each leaf `(M, *in.shape)`."""
    out_leaves, out_td = tree.flatten(out)
    flat_cts = [c for g in cts for c in tree.flatten(g)[0]]
    per_out: list[Any] = []
    off = 0
    for o in out_leaves:
        s = math.prod(shape_of(o))
        per_arg, k = [], 0
        for leaves, td in diff:
            blocks: list[Any] = []
            for x in leaves:
                if not tree.is_float_leaf(x):
                    blocks.append(None)
                    continue
                part = _rows(flat_cts[k], off, s, len(out_leaves) == 1)
                k += 1
                blocks.append(_writable(part.reshape(shape_of(o) + shape_of(x))))
            per_arg.append(tree.unflatten(td, blocks))
        off += s
        per_out.append(per_arg[0] if isinstance(argnums, int) else tuple(per_arg))
    return tree.unflatten(out_td, per_out)
