"""`cr.numeric.grad`, `jacobian` and `hessian`: finite differences of functions of arrays and
pytrees, one coordinate at a time.

`Point` is f around a point x given as a pytree: its float leaves flattened to coordinates (a
complex element gives two, its real and imaginary parts), f evaluated with some of them moved,
and the results assembled back with chainrule's conventions (a gradient shaped like x, Jacobians
`out.shape + in.shape` with the output structure outside, `None` for leaves that are not
floating point). `method="numeric"` on the transforms (`transforms.py`) uses the same machinery.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._core import tree
from .._core.primitive import Tracer
from .inputs import renamed_keyword, scalar, traced_message
from .stencils import (
    HIGHER_ORDER_STENCILS,
    RICHARDSON_STEPS,
    as_step,
    check_stencil,
    eps_of,
    estimate,
    exact_step,
    nominal_step,
    real_dtype,
    richardson_table,
    stencil_table,
    weighted,
)

__all__ = ["grad", "jacobian", "hessian"]


# ---------------------------------------------------------------------------------------------
# several variables: a pytree flattened to coordinates

class Point:
    """f around a point x given as a pytree: its float leaves, coordinate by coordinate.

    `self(moves, along=None, s=0.0)` evaluates f at x + s*along + sum(t e_c for c, t in moves)
    and returns the float leaves of the output, raveled and joined into one vector."""

    def __init__(self, f: Callable[[Any], Any], x: Any, who: str) -> None:
        self.f, self.who = f, who
        leaves, self.td = tree.flatten(x)
        if any(isinstance(v, Tracer) for v in leaves):
            raise TypeError(traced_message(who))
        if self.td == tree.LEAF and not tree.is_float_leaf(leaves[0]):
            dt = "str" if isinstance(leaves[0], str) else np.asarray(leaves[0]).dtype
            raise TypeError(f"{who}: x has dtype {dt}, which cannot be differentiated; pass a "
                            f"floating-point value (e.g. 3.0 instead of 3, or x.astype(float)) "
                            f"or a pytree whose float leaves are the variables")
        self.leaves = leaves
        self.floats = [k for k, v in enumerate(leaves) if tree.is_float_leaf(v)]
        self.arrays = {k: np.array(leaves[k]) for k in self.floats}
        # a coordinate is (leaf, element, part): a complex element has two, its real part (0)
        # and its imaginary part (1), each leaf's real parts first
        self.coords: list[tuple[int, int, int]] = [
            (k, j, part) for k in self.floats
            for part in ((0, 1) if self.arrays[k].dtype.kind == "c" else (0,))
            for j in range(self.arrays[k].size)]
        self.out_leaves: list[Any] | None = None
        out = self(())
        self.out = out
        self.out_is_float = [tree.is_float_leaf(o) for o in self.out_leaves]  # type: ignore

    @property
    def n(self) -> int:
        return len(self.coords)

    def value(self, c: int) -> np.ndarray:
        """The coordinate's value: an element, or its real or imaginary part."""
        k, j, part = self.coords[c]
        v = self.arrays[k].reshape(-1)[j:j + 1].reshape(())
        if self.arrays[k].dtype.kind == "c":
            v = np.asarray(v.imag if part else v.real)
        return v

    def dtype(self, c: int) -> np.dtype:
        return real_dtype(self.arrays[self.coords[c][0]].dtype)

    def args(self, moves: Sequence[tuple[int, Any]], along: Sequence[Any] | None = None,
             s: Any = 0.0) -> Any:
        new = {k: a for k, a in self.arrays.items()}
        if along is not None:
            for k, v in zip(self.floats, along):
                # np.array: arithmetic on 0-d arrays gives scalars, which cannot be written into
                new[k] = np.array(self.arrays[k] + s * np.asarray(v, self.arrays[k].dtype))
        for c, t in moves:
            k, j, part = self.coords[c]
            a = new[k]
            t = np.asarray(t) * 1j if part else np.asarray(t)  # (a step of the imaginary part)
            dt = np.result_type(a.dtype, t.dtype) if t.dtype.kind == "c" else a.dtype
            if a is self.arrays[k] or a.dtype != dt or not a.flags.c_contiguous:
                # (a C-ordered copy: reshape(-1) of a transposed view is a copy, and the step
                # written into it would be lost)
                a = np.array(a, dtype=dt, order="C", copy=True)
            a.reshape(-1)[j] += t
            new[k] = a
        leaves = list(self.leaves)
        for k, a in new.items():
            if a is self.arrays[k]:  # (f may write into its arguments: never into the point)
                a = a.copy()
            # keep each leaf's kind: an array stays an array, a number stays a (NumPy) number
            leaves[k] = a if isinstance(self.leaves[k], np.ndarray) else a[()]
        for k, v in enumerate(leaves):
            if k not in new and isinstance(v, np.ndarray):
                leaves[k] = v.copy()  # (nor into the caller's integer arrays)
        return tree.unflatten(self.td, leaves)

    def __call__(self, moves: Sequence[tuple[int, Any]], along: Sequence[Any] | None = None,
                 s: Any = 0.0) -> np.ndarray:
        return self.flat_out(self.f(self.args(moves, along, s)))

    def flat_out(self, result: Any) -> np.ndarray:
        leaves, td = tree.flatten(result)
        if any(isinstance(o, Tracer) for o in leaves):
            raise TypeError(traced_message(self.who))
        if self.out_leaves is None:
            self.out_leaves, self.out_td = leaves, td
            for o in leaves:
                if tree.is_float_leaf(o) or isinstance(o, (bool, int, np.integer, np.bool_)):
                    continue
                if isinstance(o, np.ndarray) and o.dtype.kind in "biu":
                    continue
                raise TypeError(f"{self.who}: f must return numbers, arrays or pytrees of them; "
                                f"its output has a leaf of type {type(o).__name__}")
            float_out = [np.asarray(o) for o in leaves if tree.is_float_leaf(o)]
        else:
            if td != self.out_td:
                raise ValueError(f"{self.who}: f returned structure {td} at a moved point but "
                                 f"{self.out_td} at x; it must return the same structure")
            float_out = [np.asarray(o) for o, keep in zip(leaves, self.out_is_float) if keep]
        if not float_out:
            return np.zeros(0)
        return np.concatenate([o.reshape(-1) for o in float_out])

    # -- assembling results ---------------------------------------------------------------

    def out_blocks(self) -> list[tuple[int, int, Any]]:
        """(start, stop, leaf) of each float output leaf within the output vector."""
        blocks, off = [], 0
        for o, keep in zip(self.out_leaves, self.out_is_float):  # type: ignore[arg-type]
            if keep:
                size = int(np.size(o))
                blocks.append((off, off + size, o))
                off += size
        return blocks

    def in_blocks(self) -> list[tuple[int, int, int]]:
        """(start, stop, leaf index) of each float input leaf among the coordinates (a complex
        leaf's block holds its real parts, then its imaginary parts)."""
        blocks, off = [], 0
        for k in self.floats:
            a = self.arrays[k]
            size = a.size * (2 if a.dtype.kind == "c" else 1)
            blocks.append((off, off + size, k))
            off += size
        return blocks

    def pulled_back(self, block: np.ndarray, k: int) -> np.ndarray:
        """A reverse-mode quantity over leaf k's coordinates (the last axis of `block`) as one
        value per element, by chainrule's complex convention: for a real L of z = x + iy,
        dL/dx + i dL/dy; a real leaf gets the real part."""
        a = self.arrays[k]
        if a.dtype.kind != "c":
            return np.real(block)
        return np.real(block[..., :a.size]) + 1j * np.real(block[..., a.size:])

    def like_x(self, flat: np.ndarray) -> Any:
        """A reverse-mode vector over the coordinates (a gradient, a vector-Jacobian product)
        as a pytree shaped like x (None for other leaves); each leaf keeps its dtype, a number
        comes back as a NumPy scalar."""
        leaves: list[Any] = [None] * len(self.leaves)
        for start, stop, k in self.in_blocks():
            a = self.arrays[k]
            part = np.array(self.pulled_back(flat[start:stop], k).reshape(a.shape),
                            dtype=a.dtype)
            leaves[k] = scalar(part)
        return tree.unflatten(self.td, leaves)

    def steps(self, h: Any, stencil: str, order: int) -> tuple[np.ndarray, bool]:
        """Per-coordinate steps: the default ones, or the user's h (a number or a pytree like
        x with a step, or an array of steps, for each float leaf)."""
        if h is None:
            return np.array([nominal_step(self.value(c), stencil, order)
                             for c in range(self.n)], dtype=np.float64), False
        if np.ndim(h) == 0 and not isinstance(h, (tuple, list, dict)):
            hs = [h] * len(self.floats)
        else:
            h_leaves, h_td = tree.flatten(h)
            if h_td != self.td:
                raise ValueError(f"{self.who}: h must be a number or a pytree with x's structure "
                                 f"{self.td}, got structure {h_td}")
            hs = [h_leaves[k] for k in self.floats]
        out = []
        for k, hk in zip(self.floats, hs):
            step, _ = as_step(hk, self.arrays[k], stencil, order, self.who)
            step = np.broadcast_to(step, self.arrays[k].shape).reshape(-1)
            out += [step, step] if self.arrays[k].dtype.kind == "c" else [step]
        return (np.concatenate(out).astype(np.float64) if out else np.zeros(0)), True


def jacobian_matrix(point: Point, stencil: str, h: Any) -> np.ndarray:
    """The Jacobian as a matrix (outputs x coordinates), one column per coordinate."""
    steps, strict = point.steps(h, stencil, 1)
    m = point.out.size
    cols = []
    for c in range(point.n):
        x_c = point.value(c)

        def at(t: Any, c: int = c) -> np.ndarray:
            return point(((c, t),))

        h_c = np.asarray(steps[c], real_dtype(x_c.dtype))
        col, _ = estimate(at, x_c, h_c, stencil, 1, strict, False, point.who)
        cols.append(np.broadcast_to(np.asarray(col), (m,)))
    if not cols:
        return np.zeros((m, 0))
    return np.stack(cols, axis=1)


@renamed_keyword("method", "stencil")
def grad(f: Callable[[Any], Any], x: Any, stencil: str = "central", h: Any = None) -> Any:
    """The gradient of a scalar function f at x by finite differences.

    At x (a number, an array or a pytree of them), by finite differences along each coordinate,
    shaped like x: the same pytree structure, float leaves with their dtype, `None` for the
    leaves that are not floating point (constants). Each coordinate gets its own default step
    from its value and dtype. (`cr.grad(f, method="numeric")` is the transform built on it.)

    Parameters
    ----------
    f : callable
        A function of one argument returning a real scalar.
    x : Any
        The point: a number, an array, or a pytree of them.
    stencil : str, optional
        As in `derivative`.
    h : Any, optional
        A number, or a pytree like x with a step per leaf; by default `default_step`.

    Returns
    -------
    Any
        The gradient, shaped like x.

    Raises
    ------
    TypeError
        If f's value is not a real scalar.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(np.round(cr.numeric.grad(lambda x: np.sum(x ** 2), np.array([1.0, 2.0])), 6))
    [2. 4.]
    >>> g = cr.numeric.grad(lambda p: p["a"] * p["b"], {"a": 2.0, "b": 3.0, "n": 1})
    >>> print(round(float(g["a"]), 6), round(float(g["b"]), 6), g["n"])
    3.0 2.0 None
    """
    check_stencil(stencil, 1, "grad")
    point = Point(f, x, f"grad(stencil={stencil!r})")
    _check_scalar_output(point)
    J = jacobian_matrix(point, stencil, h)
    return point.like_x(J[0])


def _check_scalar_output(point: Point, instead: str = "cr.numeric.jacobian") -> None:
    """A gradient or Hessian needs a real scalar output; otherwise say what to use instead."""
    leaves = point.out_leaves or []
    if point.out_td != tree.LEAF:
        raise TypeError(f"{point.who}: the function must return a scalar, got a pytree "
                        f"{point.out_td}; use {instead} for other outputs")
    out = np.asarray(leaves[0])
    if out.shape != ():
        raise TypeError(f"{point.who}: the output has shape {out.shape}, but a gradient needs a "
                        f"scalar; use {instead} for non-scalar outputs, or reduce it (e.g. .sum())")
    if out.dtype.kind != "f":
        raise TypeError(f"{point.who}: the output has dtype {out.dtype}; a gradient needs a "
                        f"real floating-point scalar")


def assemble_jacobian(point: Point, J: np.ndarray, reverse: bool = False) -> Any:
    """Output structure outside, input structure inside; blocks of shape out.shape + in.shape.
    For a complex input the columns are those of its real parts (jacfwd: the derivative along
    a real tangent) or, with `reverse`, as jacrev's rows are (one vector-Jacobian product per
    output element, `Point.pulled_back`)."""
    out_parts: list[Any] = []
    blocks = iter(point.out_blocks())
    for o, keep in zip(point.out_leaves, point.out_is_float):  # type: ignore[arg-type]
        if not keep:
            out_parts.append(None)
            continue
        r0, r1, _ = next(blocks)
        oa = np.asarray(o)
        leaves: list[Any] = [None] * len(point.leaves)
        for c0, c1, k in point.in_blocks():
            a = point.arrays[k]
            if reverse:
                block = point.pulled_back(J[r0:r1, c0:c1], k).reshape(oa.shape + a.shape)
                leaves[k] = block.astype(a.dtype, copy=False)
            else:
                block = J[r0:r1, c0:c0 + a.size].reshape(oa.shape + a.shape)
                leaves[k] = block.astype(np.result_type(oa.dtype, a.dtype), copy=False)
        out_parts.append(tree.unflatten(point.td, leaves))
    return tree.unflatten(point.out_td, out_parts)


@renamed_keyword("method", "stencil")
def jacobian(f: Callable[[Any], Any], x: Any, stencil: str = "central", h: Any = None) -> Any:
    """The Jacobian of f at x by finite differences.

    For array input and output, shape `out.shape + in.shape`. For pytrees, as `cr.jacrev`: the
    output structure outside, the input structure inside (`J[out_leaf][in_leaf]`), `None` for
    leaves that are not floating point.

    Parameters
    ----------
    f : callable
        A function of one argument.
    x : Any
        The point: a number, an array, or a pytree of them.
    stencil : str, optional
        As in `derivative`.
    h : Any, optional
        As in `grad`.

    Returns
    -------
    Any
        The Jacobian.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(np.round(cr.numeric.jacobian(lambda x: x ** 2, np.array([1.0, 2.0])), 6))
    [[2. 0.]
     [0. 4.]]
    """
    check_stencil(stencil, 1, "jacobian")
    point = Point(f, x, f"jacobian(stencil={stencil!r})")
    if stencil == "complex_step" and any(np.asarray(o).dtype.kind == "c"
                                        for o in point.out_leaves or []):
        raise ValueError(f"{point.who}: stencil='complex_step' needs f real-valued at real x, "
                         f"but f returned complex values; use 'central'")
    return assemble_jacobian(point, jacobian_matrix(point, stencil, h))


# ---------------------------------------------------------------------------------------------
# hessian

def _hessian_at(point: Point, steps: np.ndarray, stencil: str,
                strict: bool) -> tuple[np.ndarray, np.ndarray]:
    """(H, round-off bound) at the given per-coordinate steps: the second-derivative stencil
    on the diagonal, the product of the first-derivative stencil with itself off it."""
    n = point.n
    exact = np.array([exact_step(point.value(c), np.asarray(steps[c]), strict, point.who)
                      for c in range(n)], dtype=np.float64)
    offs1, ws1, _ = stencil_table(stencil, 1)
    offs2, ws2, _ = stencil_table(stencil, 2)
    memo: dict[tuple[tuple[int, int], ...], float] = {}

    def F(*moves: tuple[int, int]) -> float:
        key = tuple(sorted(m for m in moves if m[1] != 0))
        if key not in memo:
            memo[key] = float(point(tuple((c, a * exact[c]) for c, a in key))[0])
        return memo[key]

    eps = max(eps_of(np.asarray(point.out).dtype),
              max((eps_of(point.dtype(c)) for c in range(n)), default=0.0))
    H = np.zeros((n, n))
    R = np.zeros((n, n))
    for i in range(n):
        vals = [F((i, a)) for a in offs2]
        H[i, i], R[i, i] = weighted(vals, ws2, exact[i] ** 2, eps)
        for j in range(i + 1, n):
            pairs = [((i, a), (j, b), wa * wb) for a, wa in zip(offs1, ws1)
                     for b, wb in zip(offs1, ws1)]
            vals = [F(p, q) for p, q, _ in pairs]
            H[i, j], R[i, j] = weighted(vals, [w for _, _, w in pairs],
                                         exact[i] * exact[j], eps)
            H[j, i], R[j, i] = H[i, j], R[i, j]
    return H, R


def hessian_matrix(point: Point, stencil: str, h: Any) -> np.ndarray:
    if stencil == "complex_step":
        raise ValueError(f"{point.who}: stencil='complex_step' gives first derivatives only; "
                         f"for a Hessian use one of "
                         f"{', '.join(repr(s) for s in HIGHER_ORDER_STENCILS)}")
    steps, strict = point.steps(h, stencil, 2)
    if stencil != "richardson":
        return _hessian_at(point, steps, stencil, strict)[0]
    Hs, Rs = [], []
    with np.errstate(all="ignore"):
        for k in range(RICHARDSON_STEPS):
            H, R = _hessian_at(point, steps / 2.0 ** k, "central", strict and k == 0)
            Hs.append(H)
            Rs.append(R)
    H, _ = richardson_table(np.stack(Hs), np.stack(Rs))
    return (H + H.T) / 2  # the choice per entry is symmetric already; make it exactly so


@renamed_keyword("method", "stencil")
def hessian(f: Callable[[Any], Any], x: Any, stencil: str = "central", h: Any = None) -> Any:
    """The Hessian of a scalar function f at x by second differences.

    Shape `in.shape + in.shape`, exactly symmetric. For pytrees, as `cr.hessian`:
    `H[leaf_a][leaf_b]` has shape `a.shape + b.shape`, `None` for leaves that are not floating
    point.

    Diagonal entries use the second-derivative stencil, off-diagonal ones the product of the
    first-derivative stencils (central: (f(x+h_i+h_j) - f(x+h_i-h_j) - f(x-h_i+h_j) +
    f(x-h_i-h_j)) / 4 h_i h_j), so a Hessian costs O(n^2) evaluations of f. The default steps
    are those of `default_step(..., order=2)`. `complex_step` gives no second derivatives.

    Parameters
    ----------
    f : callable
        A function of one argument returning a real scalar.
    x : Any
        The point: a number, an array, or a pytree of them.
    stencil : str, optional
        One of `HIGHER_ORDER_STENCILS`.
    h : Any, optional
        As in `grad`.

    Returns
    -------
    Any
        The Hessian.

    Raises
    ------
    ValueError
        For ``"complex_step"``.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(np.round(cr.numeric.hessian(lambda x: np.sum(x ** 3), np.array([1.0, 2.0])), 4))
    [[ 6.  0.]
     [ 0. 12.]]
    """
    check_stencil(stencil, 1, "hessian")
    point = Point(f, x, f"hessian(stencil={stencil!r})")
    _check_scalar_output(point)
    H = hessian_matrix(point, stencil, h)
    return assemble_hessian(point, H)


def assemble_hessian(point: Point, H: np.ndarray) -> Any:
    outer: list[Any] = [None] * len(point.leaves)
    blocks = point.in_blocks()
    for r0, r1, ka in blocks:
        a = point.arrays[ka]
        # as cr.hessian (jacfwd of jacrev): rows are gradients (a complex leaf's combine the
        # derivatives along its real and imaginary parts), columns real directions
        rows = point.pulled_back(H[r0:r1].T, ka).T
        inner: list[Any] = [None] * len(point.leaves)
        for c0, _, kb in blocks:
            b = point.arrays[kb]
            dt = np.result_type(a.dtype, real_dtype(b.dtype))
            inner[kb] = rows[:, c0:c0 + b.size].reshape(a.shape + b.shape).astype(dt)
        outer[ka] = tree.unflatten(point.td, inner)
    return tree.unflatten(point.td, outer)

