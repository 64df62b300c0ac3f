"""`method="symbolic"` for every transform: trace, differentiate, simplify, compile, evaluate.

Each transform runs `f` once per input signature (the tree structure, shapes and dtypes of the
arguments, and the values of non-float leaves) on symbols: one symbol per element of each
floating-point leaf (an array leaf becomes a NumPy object array of symbols, so keep arrays small).
The outputs are differentiated symbolically (`diff.jvp_exprs`, the rule table's JVP rules run on
expressions), simplified, and compiled by `lambdify` into one NumPy function, cached; each call
then only evaluates that function. Results have the shapes and structures of the overload method.

Constants that `f` closes over are baked into the expression when it is traced. Python control
flow on an argument's value raises `SymbolicError` (write it with `cnp.where`, or use the
overload method).
"""
from __future__ import annotations

import collections
import functools
import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._core import tree
from .._core.primitive import dtype_of, shape_of
from .._core.rules import Zero
from .diff import jvp_exprs
from .expr import Const, Expr, Symbol, SymbolArray, as_expr, symbol_array
from .lambdify import Lambdified, lambdify
from .simplify import simplify_many

# ---------------------------------------------------------------------------------------------
# tracing on symbols


def _fname(f: Callable[..., Any]) -> str:
    return getattr(f, "__name__", type(f).__name__)


def _arg_prefixes(f: Callable[..., Any], n: int) -> list[str]:
    try:
        params = [p for p in inspect.signature(f).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    out = []
    for i in range(n):
        name = params[i].name if i < len(params) else ""
        ok = name.isidentifier() and not name.startswith("_") and name != "np"
        out.append(name if ok else f"a{i}")
    if len(set(out)) != n:
        out = [f"a{i}" for i in range(n)]
    return out


def _static_key(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return ("array", x.shape, x.dtype.str, x.tobytes())
    try:
        hash(x)
    except TypeError:
        return ("repr", type(x).__name__, repr(x))
    return (type(x).__name__, x)


class _Traced:
    """`f` traced on symbols for one input signature."""

    def __init__(self, f: Callable[..., Any], args: tuple[Any, ...], transform: str) -> None:
        self.f = f
        self.leaves, self.in_td = tree.flatten(args)
        self.arg_of_leaf: list[int] = []
        for i, a in enumerate(args):
            self.arg_of_leaf += [i] * len(tree.flatten(a)[0])
        prefixes = _arg_prefixes(f, len(args))
        counts = collections.Counter(self.arg_of_leaf)
        self.syms: list[np.ndarray | None] = []  # per leaf: object array of symbols, or None
        seen: collections.Counter[int] = collections.Counter()
        sym_leaves = []
        for x, i in zip(self.leaves, self.arg_of_leaf):
            k = seen[i]
            seen[i] += 1
            if not tree.is_float_leaf(x):
                self.syms.append(None)
                sym_leaves.append(x)
                continue
            if np.iscomplexobj(x):
                raise TypeError(f"{transform} of {_fname(f)} with method='symbolic': argument "
                                f"{i} is complex; symbolic expressions are real-valued (use "
                                f"method='overload' for complex functions)")
            base = prefixes[i] if counts[i] == 1 else f"{prefixes[i]}_{k}"
            shape = shape_of(x)
            arr = symbol_array(base, shape) if shape else Symbol(base)
            self.syms.append(np.asarray(arr, dtype=object))
            sym_leaves.append(arr)
        names = [s.name for a in self.syms if a is not None for s in a.ravel()]
        if len(set(names)) != len(names):
            # parameter names that collide once elements are numbered (an array `v` and a
            # parameter `v_0`): number every symbol instead
            it = iter(range(len(names)))
            for k, a in enumerate(self.syms):
                if a is None:
                    continue
                fresh = np.empty(a.shape, dtype=object)
                for idx in np.ndindex(*a.shape):
                    fresh[idx] = Symbol(f"_s{next(it)}")
                self.syms[k] = fresh
                sym_leaves[k] = fresh.view(SymbolArray) if a.shape else fresh[()]
        out = f(*tree.unflatten(self.in_td, sym_leaves))
        self.out_leaves, self.out_td = tree.flatten(out)
        self.out_exprs: list[np.ndarray] = []
        for o in self.out_leaves:
            a = np.asarray(o, dtype=object) if not isinstance(o, Expr) else None
            if a is None:
                a = np.empty((), dtype=object)
                a[()] = o
            conv = np.empty(a.shape, dtype=object)
            for idx in np.ndindex(*a.shape):
                conv[idx] = as_expr(a[idx], f"{transform} of {_fname(f)} (output)")
            self.out_exprs.append(conv)

    # flat views
    def leaf_syms(self, leaf: int) -> list[Symbol]:
        s = self.syms[leaf]
        return [] if s is None else list(s.ravel())

    def all_syms(self) -> list[Symbol]:
        return [s for k in range(len(self.leaves)) for s in self.leaf_syms(k)]

    def arg_leaves(self, i: int) -> list[int]:
        return [k for k, a in enumerate(self.arg_of_leaf) if a == i]

    def diff_syms(self, nums: Sequence[int]) -> list[Symbol]:
        return [s for i in nums for k in self.arg_leaves(i) for s in self.leaf_syms(k)]

    def flat_outputs(self) -> list[Expr]:
        return [e for a in self.out_exprs for e in a.ravel()]

    def values(self, args: tuple[Any, ...]) -> list[Any]:
        """The flat input values, in the order of `all_syms`."""
        leaves = tree.flatten(args)[0]
        out: list[Any] = []
        for x, s in zip(leaves, self.syms):
            if s is not None:
                out += list(np.asarray(x, dtype=np.float64).ravel())
        return out


def _signature(args: tuple[Any, ...]) -> Any:
    leaves, td = tree.flatten(args)
    sig = []
    for x in leaves:
        if tree.is_float_leaf(x):
            sig.append(("float", shape_of(x), str(dtype_of(x))))
        else:
            sig.append(_static_key(x))
    return td, tuple(sig)


_CACHE: collections.OrderedDict[Any, Any] = collections.OrderedDict()
_CACHE_MAX = 128


def _cached(key: Any, build: Callable[[], Any]) -> Any:
    got = _CACHE.get(key)
    if got is None:
        got = _CACHE[key] = build()
        if len(_CACHE) > _CACHE_MAX:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    return got


def _tangent(t: Any) -> Expr:
    return Const(0.0) if t is Zero else as_expr(t, "symbolic derivative")


def _compile(args: list[Symbol], exprs: list[Expr]) -> Lambdified:
    return lambdify(args, list(simplify_many(exprs)))


# ---------------------------------------------------------------------------------------------
# shaping results like the overload method

def _argnums(argnums: int | Sequence[int], nargs: int, transform: str) -> tuple[int, ...]:
    """argnums as a tuple of non-negative ints, checked as the other methods do."""
    from ..transforms import _argnums as check
    return check(argnums, nargs, transform)


def _check_args(args: tuple[Any, ...], nums: tuple[int, ...], f: Callable[..., Any],
                transform: str) -> None:
    """Refuse a differentiated argument that is an integer, as the other methods do."""
    from ..transforms import _diff_leaves
    _diff_leaves(args, nums, f, transform)


def _like(values: Any, x: Any) -> Any:
    """Values for a leaf shaped like `x`, in its dtype: a NumPy scalar for a scalar."""
    dt = dtype_of(x)
    a = np.asarray(values, dtype=np.float64).reshape(shape_of(x)).astype(dt, copy=False)
    return a[()] if a.ndim == 0 else a


def _per_arg(tr: _Traced, i: int, flat: list[Any]) -> tuple[Any, list[Any]]:
    """Unflatten the next values (one per symbol of argument i) into argument i's structure."""
    leaves = []
    for k in tr.arg_leaves(i):
        n = len(tr.leaf_syms(k))
        if tr.syms[k] is None:
            leaves.append(None)
        else:
            leaves.append(_like(flat[:n], tr.leaves[k]))
            flat = flat[n:]
    _, td = tree.flatten(_arg_value(tr, i))
    return tree.unflatten(td, leaves), flat


def _arg_value(tr: _Traced, i: int) -> Any:
    return tree.unflatten(tr.in_td, tr.leaves)[i]


def _outputs(tr: _Traced, flat: list[Any]) -> Any:
    leaves = []
    for a in tr.out_exprs:
        n = a.size
        v = np.asarray(flat[:n], dtype=np.float64).reshape(a.shape)
        leaves.append(v[()] if v.ndim == 0 else v)
        flat = flat[n:]
    return tree.unflatten(tr.out_td, leaves)


# ---------------------------------------------------------------------------------------------
# the transforms

def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """`(value, grad)`, the gradient computed symbolically."""

    @functools.wraps(f)
    def value_and_grad_f(*args: Any) -> Any:
        nums = _argnums(argnums, len(args), "grad")
        _check_args(args, nums, f, "grad")

        def build() -> Any:
            tr = _Traced(f, args, "grad")
            if len(tr.out_exprs) != 1 or tr.out_exprs[0].shape != ():
                shape = tr.out_exprs[0].shape if len(tr.out_exprs) == 1 else "a tuple"
                raise TypeError(f"grad of {_fname(f)}: the output has shape {shape}, but grad "
                                f"needs a scalar; use cr.jacrev (or cr.vjp with a cotangent) "
                                f"for other outputs, or reduce it (e.g. .sum())")
            (out,) = tr.flat_outputs()
            wrt = tr.diff_syms(nums)
            grads = [_tangent(t) for s in wrt for t in jvp_exprs([out], {s: 1.0})]
            return tr, _compile(tr.all_syms(), [out] + grads)

        tr, fn = _cached(("grad", f, nums, _signature(args)), build)
        got = list(fn(*tr.values(args)))
        value, rest = np.float64(got[0]), got[1:]
        per = []
        for i in nums:
            g, rest = _per_arg(tr, i, rest)
            per.append(g)
        return value, (per[0] if isinstance(argnums, int) else tuple(per))

    return value_and_grad_f


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The gradient of a scalar function, computed symbolically."""
    vg = value_and_grad(f, argnums)

    @functools.wraps(f)
    def grad_f(*args: Any) -> Any:
        return vg(*args)[1]

    return grad_f


def _jacobian_exprs(tr: _Traced, nums: tuple[int, ...]) -> list[Expr]:
    """Row-major over (output element, input symbol): one forward pass per input symbol."""
    outs = tr.flat_outputs()
    wrt = tr.diff_syms(nums)
    cols = [[_tangent(t) for t in jvp_exprs(outs, {s: 1.0})] for s in wrt]
    return [cols[j][i] for i in range(len(outs)) for j in range(len(wrt))]


def _assemble(tr: _Traced, nums: tuple[int, ...], argnums: Any, flat: list[Any],
              ) -> Any:
    """Jacobian blocks `out.shape + in.shape`: output structure outside, inputs inside."""
    n_in = len(tr.diff_syms(nums))
    per_out = []
    row = 0
    for a in tr.out_exprs:
        rows = np.asarray(flat[row * n_in:(row + a.size) * n_in], dtype=np.float64)
        rows = rows.reshape(a.size, n_in)
        row += a.size
        col = 0
        per_arg = []
        for i in nums:
            blocks = []
            for k in tr.arg_leaves(i):
                if tr.syms[k] is None:
                    blocks.append(None)
                    continue
                x = tr.leaves[k]
                m = math.prod(shape_of(x))
                block = rows[:, col:col + m].reshape(a.shape + shape_of(x))
                blocks.append(block.astype(dtype_of(x), copy=False))
                col += m
            _, td = tree.flatten(_arg_value(tr, i))
            per_arg.append(tree.unflatten(td, blocks))
        per_out.append(per_arg[0] if isinstance(argnums, int) else tuple(per_arg))
    return tree.unflatten(tr.out_td, per_out)


def _jacobian(f: Callable[..., Any], argnums: int | Sequence[int], kind: str,
              ) -> Callable[..., Any]:
    @functools.wraps(f)
    def jac_f(*args: Any) -> Any:
        nums = _argnums(argnums, len(args), kind)
        _check_args(args, nums, f, kind)

        def build() -> Any:
            tr = _Traced(f, args, kind)
            return tr, _compile(tr.all_syms(), _jacobian_exprs(tr, nums))

        tr, fn = _cached(("jac", f, nums, _signature(args)), build)
        return _assemble(tr, nums, argnums, list(fn(*tr.values(args))))

    return jac_f


def jacfwd(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Jacobian (shape `out.shape + in.shape`), computed symbolically."""
    return _jacobian(f, argnums, "jacfwd")


def jacrev(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Jacobian (shape `out.shape + in.shape`), computed symbolically (the same expressions
    as `jacfwd`: a symbolic derivative has no mode)."""
    return _jacobian(f, argnums, "jacrev")


def hessian(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Hessian (shape `in.shape + in.shape`), computed symbolically."""

    @functools.wraps(f)
    def hessian_f(*args: Any) -> Any:
        nums = _argnums(argnums, len(args), "hessian")
        _check_args(args, nums, f, "hessian")

        def build() -> Any:
            tr = _Traced(f, args, "hessian")
            if len(tr.out_exprs) != 1 or tr.out_exprs[0].shape != ():
                raise TypeError(f"hessian of {_fname(f)}: the output must be a scalar; use "
                                f"jacfwd(jacrev(f)) for other outputs")
            (out,) = tr.flat_outputs()
            wrt = tr.diff_syms(nums)
            grads = [_tangent(t) for s in wrt for t in jvp_exprs([out], {s: 1.0})]
            cols = [[_tangent(t) for t in jvp_exprs(grads, {s: 1.0})] for s in wrt]
            n = len(wrt)
            flat = [cols[k][j] for j in range(n) for k in range(n)]
            return tr, _compile(tr.all_syms(), flat)

        tr, fn = _cached(("hessian", f, nums, _signature(args)), build)
        flat = list(fn(*tr.values(args)))
        n = len(tr.diff_syms(nums))
        rows = np.asarray(flat, dtype=np.float64).reshape(n, n)
        # the gradient's leaves are the outputs: one block row per differentiated leaf
        leaves = [(i, k) for i in nums for k in tr.arg_leaves(i)]
        offsets, off = {}, 0
        for i, k in leaves:
            offsets[(i, k)] = off
            off += len(tr.leaf_syms(k))

        def row_block(i: int, k: int) -> Any:
            if tr.syms[k] is None:
                return None
            xi = tr.leaves[k]
            ri = offsets[(i, k)]
            mi = len(tr.leaf_syms(k))
            per_arg = []
            for j in nums:
                blocks = []
                for q in tr.arg_leaves(j):
                    if tr.syms[q] is None:
                        blocks.append(None)
                        continue
                    xj = tr.leaves[q]
                    cj = offsets[(j, q)]
                    mj = len(tr.leaf_syms(q))
                    blk = rows[ri:ri + mi, cj:cj + mj].reshape(shape_of(xi) + shape_of(xj))
                    blocks.append(blk.astype(dtype_of(xj), copy=False))
                _, td = tree.flatten(_arg_value(tr, j))
                per_arg.append(tree.unflatten(td, blocks))
            return per_arg[0] if isinstance(argnums, int) else tuple(per_arg)

        per = []
        for i in nums:
            _, td = tree.flatten(_arg_value(tr, i))
            per.append(tree.unflatten(td, [row_block(i, k) for k in tr.arg_leaves(i)]))
        return per[0] if isinstance(argnums, int) else tuple(per)

    return hessian_f


def _tangent_symbols(tr: _Traced, prefix: str) -> list[Symbol]:
    return [Symbol(f"{prefix}{k}") for k in range(len(tr.all_syms()))]


def _check_like(kind: str, given: Any, like: Any, what: str) -> list[Any]:
    g_leaves, g_td = tree.flatten(given)
    l_leaves, l_td = tree.flatten(like)
    if g_td != l_td:
        raise ValueError(f"{kind}: the {what} has structure {g_td}, but it must match {l_td}")
    for g, x in zip(g_leaves, l_leaves):
        if tree.is_float_leaf(x) and shape_of(g) != shape_of(x):
            raise ValueError(f"{kind}: {what} of shape {shape_of(g)} given for a value of "
                             f"shape {shape_of(x)}; they must match")
    return g_leaves


def _flat_like(tr: _Traced, given_leaves: list[Any]) -> list[Any]:
    out: list[Any] = []
    for g, s in zip(given_leaves, tr.syms):
        if s is not None:
            out += list(np.asarray(g, dtype=np.float64).ravel())
    return out


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> Any:
    """`(out, out_tangent)`: the directional derivative, computed symbolically (one forward pass
    over the expression with symbolic tangents)."""
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples, e.g. jvp(f, (x,), (v,))")
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    primals = tuple(primals)
    _check_args(primals, tuple(range(len(primals))), f, "jvp")
    t_leaves = _check_like("jvp", tuple(tangents), primals, "tangent")

    def build() -> Any:
        tr = _Traced(f, primals, "jvp")
        dots = _tangent_symbols(tr, "_dot")
        outs = tr.flat_outputs()
        tans = [_tangent(t) for t in jvp_exprs(outs, dict(zip(tr.all_syms(), dots)))]
        return tr, _compile(tr.all_syms() + dots, outs + tans)

    tr, fn = _cached(("jvp", f, _signature(primals)), build)
    flat = list(fn(*tr.values(primals), *_flat_like(tr, t_leaves)))
    n = len(tr.flat_outputs())
    return _outputs(tr, flat[:n]), _outputs(tr, flat[n:])


def vjp(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[..., Any]]:
    """`(out, vjp_fn)`; `vjp_fn(ct)` returns one cotangent per primal, computed symbolically
    (`sum_i ct_i * d out_i / d x_j`)."""
    _check_args(primals, tuple(range(len(primals))), f, "vjp")
    nums = tuple(range(len(primals)))

    def build() -> Any:
        tr = _Traced(f, primals, "vjp")
        outs = tr.flat_outputs()
        cts = [Symbol(f"_ct{i}") for i in range(len(outs))]
        wrt = tr.all_syms()
        jac = _jacobian_exprs(tr, nums)
        pulled = []
        for j in range(len(wrt)):
            acc: Any = Const(0.0)
            for i, c in enumerate(cts):
                acc = acc + c * jac[i * len(wrt) + j]
            pulled.append(acc)
        return tr, lambdify(wrt, list(simplify_many(outs))), \
            _compile(wrt + cts, pulled)

    tr, fwd, bwd = _cached(("vjp", f, _signature(primals)), build)
    values = tr.values(primals)
    out = _outputs(tr, list(fwd(*values)))

    def vjp_fn(ct: Any) -> tuple[Any, ...]:
        ct_leaves, ct_td = tree.flatten(ct)
        if ct_td != tr.out_td:
            raise ValueError(f"vjp: the cotangent has structure {ct_td} but the output of "
                             f"{_fname(f)} has structure {tr.out_td}")
        flat_ct: list[Any] = []
        for c, a in zip(ct_leaves, tr.out_exprs):
            if shape_of(c) != a.shape:
                raise ValueError(f"vjp: cotangent of shape {shape_of(c)} given for an output "
                                 f"of shape {a.shape}; they must match")
            flat_ct += list(np.asarray(c, dtype=np.float64).ravel())
        rest = list(bwd(*values, *flat_ct))
        per = []
        for i in nums:
            g, rest = _per_arg(tr, i, rest)
            per.append(g)
        return tuple(per)

    return out, vjp_fn


def hvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> Any:
    """The Hessian-vector product, computed symbolically (the gradient's expressions, pushed
    forward along symbolic tangents), without forming the Hessian."""
    primals = tuple(primals)
    nums = tuple(range(len(primals)))
    _check_args(primals, nums, f, "hvp")
    t_leaves = _check_like("hvp", tuple(tangents), primals, "tangent")

    def build() -> Any:
        tr = _Traced(f, primals, "hvp")
        if len(tr.out_exprs) != 1 or tr.out_exprs[0].shape != ():
            raise TypeError(f"hvp of {_fname(f)}: the output must be a scalar")
        (out,) = tr.flat_outputs()
        wrt = tr.all_syms()
        grads = [_tangent(t) for s in wrt for t in jvp_exprs([out], {s: 1.0})]
        dots = _tangent_symbols(tr, "_dot")
        hv = [_tangent(t) for t in jvp_exprs(grads, dict(zip(wrt, dots)))]
        return tr, _compile(wrt + dots, hv)

    tr, fn = _cached(("hvp", f, _signature(primals)), build)
    rest = list(fn(*tr.values(primals), *_flat_like(tr, t_leaves)))
    per = []
    for i in nums:
        g, rest = _per_arg(tr, i, rest)
        per.append(g)
    return per[0] if len(primals) == 1 else tuple(per)


__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacfwd", "jacrev", "hessian", "hvp"]
