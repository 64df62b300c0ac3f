"""method="numeric": chainrule's transforms computed by finite differences.

`cr.grad(f, method="numeric")` and the other transforms with `method="numeric"` dispatch here
(see `ENGINES` in chainrule/transforms.py). Each function has the signature of its chainrule
counterpart without `has_aux` and `method`, and returns results with the same structure: a
gradient shaped like the differentiated argument(s) (a tuple for a tuple of argnums), Jacobians
of shape `out.shape + in.shape` with the output structure outside and the input structure
inside, Hessians `in.shape + in.shape`, `None` for leaves that are not floating point.

Everything uses central differences with the default steps of `cr.numeric` (accurate to about
1e-10 relative for first derivatives and 1e-7 for second ones, in float64): an approximation to
check AD against, not a replacement for it. Costs, for n input coordinates: a gradient or a
Jacobian 2n evaluations of f, `vjp` the same (once, on the first call of `vjp_fn`), `jvp` 2
(one directional difference), `hvp` 4n, a Hessian about 2n^2.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._core import checks, tree
from .._core.checks import Capabilities
from .._core.checks import fname as _fname
from .arrays import Point, assemble_hessian, assemble_jacobian, hessian_matrix, jacobian_matrix
from .inputs import scalar
from .stencils import eps_of, exact_step

#: what the front may ask of this engine (its transforms return derivatives only: no has_aux)
CAPABILITIES = Capabilities(
    "numeric", has_aux=False, custom_rules=False,
    transforms=("grad", "value_and_grad", "vjp", "jvp", "jacfwd", "jacrev", "hessian", "hvp"))

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacfwd", "jacrev", "hessian", "hvp"]

_STENCIL = "central"


def _who(transform: str, f: Callable[..., Any]) -> str:
    return f"{transform} of {_fname(f)} (method='numeric')"


def _point(f: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
           argnums: int | Sequence[int], transform: str) -> Point:
    """f as a function of the differentiated arguments only: one argument itself for an int
    argnums, a tuple of them for a sequence (so results come back with that structure)."""
    nums = checks.resolve_argnums(argnums, len(args), transform)
    checks.diff_leaves(args, nums, f, transform)  # an integer argument: cr.grad's TypeError

    def of_diff_args(xs: Any) -> Any:
        new = list(args)
        if isinstance(argnums, int):
            new[nums[0]] = xs
            return f(*new, **kwargs)
        placed: set[int] = set()
        for i, x in zip(nums, xs):
            if i in placed:  # an argument named twice: it moves by each slot's step
                new[i] = tree.tree_map(_moved, new[i], x, args[i])
            else:
                new[i] = x
                placed.add(i)
        return f(*new, **kwargs)

    x = args[nums[0]] if isinstance(argnums, int) else tuple(args[i] for i in nums)
    return Point(of_diff_args, x, _who(transform, f))


def _moved(a: Any, b: Any, base: Any) -> Any:
    return a + (b - base) if tree.is_float_leaf(base) else a


def _check_scalar_output(point: Point, transform: str, f: Callable[..., Any]) -> None:
    """grad's rule for the output (`checks.grad_seed`): a real floating-point value with one
    element."""
    checks.grad_seed(_output(point), f, transform)


def _output(point: Point) -> Any:
    """f's own output at the point, as it returned it."""
    return tree.unflatten(point.out_td, point.out_leaves or [])


# ---------------------------------------------------------------------------------------------
# reverse-mode shaped transforms

def value_and_grad(f: Callable[..., Any],
                   argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """A function returning `(value, grad)`, the gradient by central differences."""

    @functools.wraps(f)
    def value_and_grad_f(*args: Any, **kwargs: Any) -> Any:
        point = _point(f, args, kwargs, argnums, "grad")
        _check_scalar_output(point, "grad", f)
        g = point.like_x(jacobian_matrix(point, _STENCIL, None)[0])
        return _output(point), g

    return value_and_grad_f


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The gradient of a scalar function by central differences, with the structure of the
    differentiated argument(s)."""
    vg = value_and_grad(f, argnums)

    @functools.wraps(f)
    def grad_f(*args: Any, **kwargs: Any) -> Any:
        return vg(*args, **kwargs)[1]

    return grad_f


def vjp(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[[Any], tuple[Any, ...]]]:
    """`(out, vjp_fn)`: `vjp_fn(ct)` returns one cotangent per primal, ct · J. Finite
    differences have no reverse mode: the Jacobian is formed by central differences on the
    first call of `vjp_fn` and reused by later ones."""
    checks.diff_leaves(primals, tuple(range(len(primals))), f, "vjp")

    def of_primals(xs: tuple[Any, ...]) -> Any:
        return f(*xs)

    point = Point(of_primals, tuple(primals), _who("vjp", f))
    out = _output(point)
    jac: list[np.ndarray] = []

    def vjp_fn(ct: Any) -> tuple[Any, ...]:
        ct_leaves = checks.check_cotangent(ct, out, f)
        parts = []
        for c, keep in zip(ct_leaves, point.out_is_float):
            if keep:
                parts.append(np.asarray(c).reshape(-1))
        if not jac:
            jac.append(jacobian_matrix(point, _STENCIL, None))
        vec = np.concatenate(parts) if parts else np.zeros(0)
        # ct · J for a real L with dL/dw = ct: Re(conj(ct) dw), per coordinate (see like_x)
        return tuple(point.like_x(np.conj(vec) @ jac[0]))

    return out, vjp_fn


def _jacobian(transform: str, f: Callable[..., Any],
              argnums: int | Sequence[int]) -> Callable[..., Any]:
    @functools.wraps(f)
    def jacobian_f(*args: Any, **kwargs: Any) -> Any:
        point = _point(f, args, kwargs, argnums, transform)
        return assemble_jacobian(point, jacobian_matrix(point, _STENCIL, None),
                                 reverse=transform == "jacrev")

    return jacobian_f


def jacrev(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Jacobian by central differences, one input coordinate at a time (finite differences
    have no reverse mode, so this is the same computation as `jacfwd`). Shape
    `out.shape + in.shape`; pytrees: output structure outside, input structure inside."""
    return _jacobian("jacrev", f, argnums)


def jacfwd(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Jacobian by central differences, one column (input coordinate) at a time. Shape
    `out.shape + in.shape`; pytrees: output structure outside, input structure inside."""
    return _jacobian("jacfwd", f, argnums)


def hessian(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Hessian of a scalar function by second differences (`cr.numeric.hessian`): shape
    `in.shape + in.shape`, exactly symmetric; for a tuple of argnums a tuple of tuples."""

    @functools.wraps(f)
    def hessian_f(*args: Any, **kwargs: Any) -> Any:
        point = _point(f, args, kwargs, argnums, "hessian")
        _check_scalar_output(point, "hessian", f)
        return assemble_hessian(point, hessian_matrix(point, _STENCIL, None))

    return hessian_f


# ---------------------------------------------------------------------------------------------
# directional differences

def _directions(transform: str, f: Callable[..., Any], primals: Sequence[Any],
                tangents: Sequence[Any]) -> tuple[Point, list[Any], float, float]:
    """The point, the tangent of each float leaf, the largest |x| (at least 1) and |v|."""
    checked = checks.jvp_tangents(primals, tangents, transform)

    def of_primals(xs: tuple[Any, ...]) -> Any:
        return f(*xs)

    point = Point(of_primals, tuple(primals), _who(transform, f))
    t_leaves = [t for ts in checked for t in ts]
    along = [np.asarray(t_leaves[k]) for k in point.floats]
    x_max = max([1.0] + [float(np.max(np.abs(a))) for a in point.arrays.values() if a.size])
    v_max = max([0.0] + [float(np.max(np.abs(v))) for v in along if v.size])
    return point, along, x_max, v_max


def _step(point: Point, x_max: float, v_max: float, power: float) -> float:
    """A step along v: eps^power * max(1, |x|) / |v|, as a power of two so that s * v is exact."""
    eps = max((eps_of(a.dtype) for a in point.arrays.values()), default=eps_of(np.float64))
    h = eps ** power * x_max / v_max
    return float(2.0 ** round(math.log2(h)))


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> Any:
    """`(out, out_tangent)`: J·v by one central difference along v,
    (f(x + h v) - f(x - h v)) / 2h, with h = eps^(1/3) max(1, |x|) / |v| (max norms)."""
    point, along, x_max, v_max = _directions("jvp", f, primals, tangents)
    if v_max == 0:
        flat = np.zeros(point.out.size)
    else:
        h = _step(point, x_max, v_max, 1 / 3)
        flat = (point((), along, h) - point((), along, -h)) / (2 * h)
    parts: list[Any] = []
    blocks = iter(point.out_blocks())
    for o, keep in zip(point.out_leaves or [], point.out_is_float):
        if not keep:
            parts.append(None)
            continue
        start, stop, _ = next(blocks)
        oa = np.asarray(o)
        parts.append(scalar(flat[start:stop].reshape(oa.shape).astype(oa.dtype)))
    return _output(point), tree.unflatten(point.out_td, parts)


def hvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> Any:
    """The Hessian-vector product H·v without forming H: for each coordinate i the mixed
    second difference of f along v and e_i,
    (f(x+hv+k e_i) - f(x+hv-k e_i) - f(x-hv+k e_i) + f(x-hv-k e_i)) / 4hk,
    4 evaluations per coordinate. With one primal it returns one array (pytree); with several,
    a tuple."""
    point, along, x_max, v_max = _directions("hvp", f, primals, tangents)
    _check_scalar_output(point, "hvp", f)
    flat = np.zeros(point.n)
    if v_max != 0:
        h = _step(point, x_max, v_max, 1 / 4)
        ks, _ = point.steps(None, _STENCIL, 2)
        for c in range(point.n):
            k = float(exact_step(point.value(c), np.asarray(ks[c]), False, point.who))
            total = 0.0
            for a in (1.0, -1.0):
                for b in (1.0, -1.0):
                    total += a * b * float(point(((c, b * k),), along, a * h)[0])
            flat[c] = total / (4 * h * k)
    result = point.like_x(flat)
    return result[0] if len(primals) == 1 else result
