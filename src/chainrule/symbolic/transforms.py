"""`method="symbolic"` for every transform: trace, differentiate, simplify, compile, evaluate.

Each transform runs `f` once per input signature (the tree structure, shapes and dtypes of the
arguments, and the values of non-float leaves) on symbols: one symbol per element of each
floating-point leaf. A float64 scalar is passed as a `Symbol`, anything else as an `ExprArray`
(arrays.py), the symbolic interpreter's array, which keeps the argument's dtype and is the
function's own copy (it may write into it). The outputs are simplified, differentiated
symbolically (`diff.jvp_exprs`: the rule table's JVP rules run on expressions; `diff.gradients`
for reverse-mode transforms, which differ only where a custom_vjp's bwd applies), simplified
again, and compiled by `lambdify` into one NumPy function, cached; each call then only evaluates
that function. Called on traced values (a transform of this one, of any method), the derivative
expressions are evaluated with `bind` instead, so that the outer transform sees every operation.
Results have the shapes, structures and dtypes of the overload method.

Constants that `f` closes over are baked into the expression when it is traced. Python control
flow on an argument's value raises `SymbolicError` (write it with `cnp.where`, or use the
overload method), and so does an operation without a closed form on symbols; an error NumPy
raises on the arrays of expressions becomes a SymbolicError naming the operation.
"""
from __future__ import annotations

import collections
import functools
import inspect
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import numpy as cnp
from .._core import checks, tree
from .._core.cache import PerFunction, leaf_key
from .._core.checks import Capabilities
from .._core.errors import ChainruleError, in_library, traceback_lines, where
from .._core.primitive import Tracer, dtype_of, shape_of
from .._core.rules import Zero
from ..ops import index as I
from .arrays import ExprArray, array_result, elements, refusal
from .calls import is_reverse_call
from .diff import columns, gradients, jvp_exprs
from .expr import Const, Expr, Symbol, as_expr, symbol_array, topo_order
from .lambdify import Lambdified, lambdify
from .simplify import simplify_many

#: what the front may ask of this engine (its transforms return derivatives only: no has_aux)
CAPABILITIES = Capabilities(
    "symbolic", has_aux=False, complex=False, python_control_flow=False,
    transforms=("grad", "value_and_grad", "vjp", "jvp", "jacfwd", "jacrev", "hessian", "hvp"))

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


class _Nesting(threading.local):
    depth = 0


#: how many symbolic traces are running in this thread (a transform called inside a function
#: being traced names its symbols apart, so that values it closes over stay distinct)
_NESTING = _Nesting()


def _argument(syms: np.ndarray, dtype: np.dtype) -> Any:
    """What the function receives for one floating-point leaf: a symbol for a float64 scalar,
    else an ExprArray (of its own copy of the symbols: the function may write into it)."""
    if syms.ndim == 0 and dtype == np.dtype("float64"):
        return syms[()]
    return ExprArray(syms.copy(), dtype)


def _stand_in(x: Any) -> Any:
    """What a trace keeps of a floating-point argument: its shape and dtype (not its values,
    nor a tracer of a transform that has since finished)."""
    return x if type(x) is float else np.zeros(shape_of(x), dtype_of(x))


class _Traced:
    """`f` traced on symbols for one input signature."""

    def __init__(self, f: Callable[..., Any], args: tuple[Any, ...], transform: str,
                 keywords: bool = False) -> None:
        """With `keywords`, the last entry of `args` is the dict of keyword arguments (their
        floating-point values are inputs too, never differentiated: `_with_keywords`)."""
        self.f = f
        self.keywords = keywords
        leaves, self.in_td = tree.flatten(args)
        self.arg_of_leaf: list[int] = []
        for i, a in enumerate(args):
            self.arg_of_leaf += [i] * len(tree.flatten(a)[0])
        prefixes = _arg_prefixes(f, len(args) - keywords) + (["kw"] if keywords else [])
        suffix = f"__{_NESTING.depth}" if _NESTING.depth else ""
        counts = collections.Counter(self.arg_of_leaf)
        self.leaves: list[Any] = []
        self.syms: list[np.ndarray | None] = []  # per leaf: object array of symbols, or None
        seen: collections.Counter[int] = collections.Counter()
        sym_leaves = []
        for x, i in zip(leaves, self.arg_of_leaf):
            k = seen[i]
            seen[i] += 1
            if not tree.is_float_leaf(x):
                self.syms.append(None)
                self.leaves.append(x)
                sym_leaves.append(x)
                continue
            if dtype_of(x).kind == "c":
                raise TypeError(f"{transform} of {_fname(f)} with method='symbolic': argument "
                                f"{i} is complex; symbolic expressions are real-valued (use "
                                f"method='overload' for complex functions)")
            base = (prefixes[i] if counts[i] == 1 else f"{prefixes[i]}_{k}") + suffix
            shape = shape_of(x)
            syms = np.empty(shape, dtype=object)
            syms[...] = symbol_array(base, shape) if shape else Symbol(base)
            self.syms.append(syms)
            self.leaves.append(_stand_in(x))
            sym_leaves.append(_argument(syms, dtype_of(x)))
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
                    fresh[idx] = Symbol(f"_s{next(it)}{suffix}")
                self.syms[k] = fresh
                sym_leaves[k] = _argument(fresh, dtype_of(self.leaves[k]))
        _NESTING.depth += 1
        try:
            given = tree.unflatten(self.in_td, sym_leaves)
            out = _call(f, given[:-1], transform, given[-1]) if keywords else \
                _call(f, given, transform)
        finally:
            _NESTING.depth -= 1
        out_leaves, self.out_td = tree.flatten(out)
        what = f"{transform} of {_fname(f)} (output)"
        self.out_exprs: list[np.ndarray] = []
        self.out_dtypes: list[np.dtype] = []
        for o in out_leaves:
            a, dt = _output_leaf(o, what)
            self.out_exprs.append(a)
            self.out_dtypes.append(dt)
        self._simplify_outputs()

    def _simplify_outputs(self) -> None:
        """Differentiate the simplified function: a part that is constant, though written with
        the arguments (`x - x`, the deviation of one value from its mean), then has derivative
        exactly 0 rather than the 0 * inf = nan of a kink it sits on (the std of one value).
        Simplifying keeps every value where the function is defined, so it keeps derivatives
        wherever the function is differentiable."""
        flat = self.flat_outputs()
        if not flat or len(topo_order(flat)) > SIMPLIFY_MAX_NODES:
            return
        it = iter(simplify_many(flat))
        for a in self.out_exprs:
            for idx in np.ndindex(*a.shape):
                a[idx] = next(it)

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
                out += _leaf_values(x)
        return out

    def scalar_output(self, transform: str) -> Expr:
        """The one output, which must pass grad's rule for outputs (`checks.grad_seed`: a real
        floating-point value with one element), as in every method."""
        if len(self.out_exprs) != 1 or self.out_td != tree.LEAF:
            raise TypeError(f"{transform} of {_fname(self.f)}: the function must return a "
                            f"scalar array, got a pytree {self.out_td}; use cr.vjp or "
                            f"cr.jacrev for other outputs")
        checks.grad_seed(np.empty(self.out_exprs[0].shape, self.out_dtypes[0]), self.f,
                         transform)
        return self.flat_outputs()[0]  # type: ignore[no-any-return]

    def reverse_rules(self) -> bool:
        """Whether a custom_vjp call is among the outputs' nodes (reverse mode then differs
        from forward mode: the call's bwd is applied to the cotangent)."""
        return any(n.prim is not None and is_reverse_call(n)
                   for n in topo_order(self.flat_outputs()))


def _call(f: Callable[..., Any], args: Any, transform: str,
          kwargs: dict[str, Any] | None = None) -> Any:
    """`f(*args)` on symbols. An error NumPy (or chainrule) raises on arrays of expressions
    becomes a SymbolicError naming the operation and the user's line; an error of the user's
    own code is left as it is."""
    try:
        return checks.call(f, args, kwargs or {})  # (NumPy's wrapping of chainrule's errors undone)
    except ChainruleError:
        raise
    except Exception as exc:  # noqa: BLE001 - translated below, or re-raised untouched
        seen = traceback_lines(exc)
        frames = [fr for fr, _, _ in seen]
        if not frames or not in_library(frames[-1].f_code.co_filename):
            raise
        user = max((k for k, fr in enumerate(frames) if not in_library(fr.f_code.co_filename)),
                   default=None)
        callee = frames[user + 1] if user is not None and user + 1 < len(frames) else None
        name = "this operation"
        if callee is not None and callee.f_globals.get("__name__", "").startswith("numpy"):
            fn, module = callee.f_code.co_name, callee.f_globals["__name__"]
            name = f"numpy.{fn}" if hasattr(np, fn) else f"{module}.{fn}"
        at = None
        if user is not None:
            fr, lineno, line = seen[user]
            at = where(fr.f_code.co_filename, lineno, line)
        raise refusal(exc, f"{name} (in {transform} of {_fname(f)})", at) from exc


def _output_leaf(o: Any, what: str) -> tuple[np.ndarray, np.dtype]:
    """An output leaf as an object array of expressions, and its dtype."""
    a: np.ndarray
    if isinstance(o, ExprArray):
        a, dt = o.arr, o.dtype
    elif isinstance(o, Expr):
        a, dt = np.empty((), dtype=object), o.dtype
        a[()] = o
    elif isinstance(o, Tracer):
        as_expr(o, what)  # raises: a value of another transform
        raise TypeError(what)
    else:
        a = elements(o)
        dt = np.dtype("float64") if a.dtype == object else dtype_of(o)
    conv = np.empty(a.shape, dtype=object)
    for idx in np.ndindex(*a.shape):
        conv[idx] = as_expr(a[idx], what)
    return conv, np.dtype(dt)


def _leaf_values(x: Any) -> list[Any]:
    """The element values of one floating-point argument leaf: numbers, or (a transform
    called on traced values) expressions or other tracers."""
    if isinstance(x, Expr):
        return [x]
    if isinstance(x, ExprArray):
        return elements(x).reshape(-1).tolist()  # type: ignore[no-any-return]
    if isinstance(x, Tracer):
        shape = shape_of(x)
        if shape == ():
            return [x]
        return [I.getitem(x, idx) for idx in np.ndindex(*shape)]
    return list(np.asarray(x, dtype=np.float64).ravel())


def _signature(args: tuple[Any, ...]) -> Any:
    """The cache key of a call: structure, and per leaf `cache.leaf_key` with integer arrays
    baked in (the expressions hold their values)."""
    leaves, td = tree.flatten(args)
    return td, tuple(leaf_key(x, bake=True) for x in leaves)


# traced, differentiated and compiled functions, per function, kind and input signature; a
# function is traced again when what it reads from outside its arguments changed (the
# expressions bake in its globals, closure values and captured arrays: `_core.cache`)
_CACHE = PerFunction(32)


def _cached(f: Callable[..., Any], key: Any, build: Callable[[], Any]) -> Any:
    return _CACHE.get_or_build(f, key, build)


def _tangent(t: Any) -> Expr:
    return Const(0.0) if t is Zero else as_expr(t, "symbolic derivative")


#: derivatives larger than this (distinct nodes) are compiled as they are: simplifying costs
#: about half a millisecond a node, and on such sets (the Hessian of a closed-form `solve`)
#: it removes a fifth of the nodes at most
SIMPLIFY_MAX_NODES = 10_000


class _Compiled:
    """Derivative expressions (simplified) and their symbols. A call with numbers runs them
    compiled to NumPy (`lambdify`, on the first such call); a call with traced values (a
    transform applied to this one, `method="symbolic"` or another) interprets them with
    `bind`, so that the outer transform sees, and differentiates, every operation."""

    def __init__(self, args: Sequence[Symbol], exprs: Sequence[Any]) -> None:
        self.args = list(args)
        self.exprs = list(exprs)
        order = topo_order(self.exprs)
        if self.exprs and len(order) <= SIMPLIFY_MAX_NODES:
            self.exprs = list(simplify_many(self.exprs))
            order = topo_order(self.exprs)
        self._fn: Lambdified | None = None
        # symbols of an enclosing trace, which the function closed over: they stay symbols
        own = {id(s) for s in self.args}
        self.closes_over = any(isinstance(n, Symbol) and id(n) not in own for n in order)

    def __call__(self, values: Sequence[Any]) -> list[Any]:
        if not self.exprs:
            return []
        if self.closes_over or any(isinstance(v, Tracer) for v in values):
            return _interpret(self.args, self.exprs, values)
        if self._fn is None:
            self._fn = lambdify(self.args, self.exprs)
        return list(self._fn(*values))


def _interpret(args: Sequence[Symbol], exprs: Sequence[Expr], values: Sequence[Any],
               ) -> list[Any]:
    env: dict[int, Any] = {id(s): v for s, v in zip(args, values)}
    for n in topo_order(exprs):
        if id(n) in env:
            continue
        if isinstance(n, Const):
            env[id(n)] = n.value if isinstance(n.value, bool) else np.float64(n.value)
        elif isinstance(n, Symbol):  # a value the traced function closed over
            env[id(n)] = n
        else:
            env[id(n)] = n.prim.bind(*[env[id(a)] for a in n.args],  # type: ignore[union-attr]
                                     **n.params)
    return [env[id(e)] for e in exprs]


# ---------------------------------------------------------------------------------------------
# shaping results like the overload method

_argnums = checks.resolve_argnums  # (every method's rules: chainrule/_core/checks.py)


def _with_keywords(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """The arguments a trace is made for: with keyword arguments, their dict as one more
    (last) entry, so that the cache key and the input values cover them as they cover the
    positional arguments (`_Traced(..., keywords=True)`)."""
    return args + (kwargs,) if kwargs else args


def _check_args(args: tuple[Any, ...], nums: tuple[int, ...], f: Callable[..., Any],
                transform: str) -> None:
    checks.diff_leaves(args, nums, f, transform)


def _pack(values: Sequence[Any], shape: tuple[int, ...], dtype: np.dtype,
          block: bool = False) -> Any:
    """Values (one per element) as a result of the given shape and dtype: a NumPy array (a
    NumPy scalar for shape (), except for a `block` of a Jacobian or Hessian, which the other
    methods give as a 0-d array), or, for traced values, an array of them."""
    if not any(isinstance(v, Tracer) for v in values):
        a = np.asarray(values, dtype=np.float64).reshape(shape).astype(dtype, copy=False)
        return a[()] if a.ndim == 0 and not block else a
    if all(isinstance(v, Expr) or not isinstance(v, Tracer) for v in values):
        a = np.empty(len(values), dtype=object)
        a[:] = list(values)
        return array_result(a.reshape(shape), np.dtype(dtype))
    return values[0] if shape == () else cnp.reshape(cnp.stack(list(values)), shape)


def _per_arg(tr: _Traced, i: int, flat: list[Any]) -> tuple[Any, list[Any]]:
    """Unflatten the next values (one per symbol of argument i) into argument i's structure."""
    leaves: list[Any] = []
    for k in tr.arg_leaves(i):
        n = len(tr.leaf_syms(k))
        if tr.syms[k] is None:
            leaves.append(None)
        else:
            x = tr.leaves[k]
            leaves.append(_pack(flat[:n], shape_of(x), dtype_of(x)))
            flat = flat[n:]
    _, td = tree.flatten(_arg_value(tr, i))
    return tree.unflatten(td, leaves), flat


def _arg_value(tr: _Traced, i: int) -> Any:
    return tree.unflatten(tr.in_td, tr.leaves)[i]


def _outputs(tr: _Traced, flat: list[Any]) -> Any:
    leaves = []
    for a, dt in zip(tr.out_exprs, tr.out_dtypes):
        n = a.size
        leaves.append(_pack(flat[:n], a.shape, dt))
        flat = flat[n:]
    return tree.unflatten(tr.out_td, leaves)


def _matrix(flat: Sequence[Any], rows: int, cols: int) -> np.ndarray:
    m = np.empty(len(flat), dtype=object)
    m[:] = list(flat)
    return m.reshape(rows, cols)


# ---------------------------------------------------------------------------------------------
# the transforms

def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """`(value, grad)`, the gradient computed symbolically."""

    @functools.wraps(f)
    def value_and_grad_f(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums(argnums, len(args), "grad")
        _check_args(args, nums, f, "grad")
        given = _with_keywords(args, kwargs)

        def build() -> Any:
            tr = _Traced(f, given, "grad", bool(kwargs))
            out = tr.scalar_output("grad")
            grads = [_tangent(g) for g in gradients([out], [1.0], tr.diff_syms(nums))]
            return tr, _Compiled(tr.all_syms(), [out] + grads)

        tr, fn = _cached(f, ("grad", nums, _signature(given)), build)
        got = fn(tr.values(given))
        value, rest = _pack(got[:1], tr.out_exprs[0].shape, tr.out_dtypes[0]), got[1:]
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
    def grad_f(*args: Any, **kwargs: Any) -> Any:
        return vg(*args, **kwargs)[1]

    return grad_f


def _jacobian_exprs(tr: _Traced, nums: tuple[int, ...], reverse: bool) -> list[Expr]:
    """Row-major over (output element, input symbol). Forward: one pass per input symbol;
    `reverse` (only where a custom_vjp call makes it differ): one gradient per output."""
    outs = tr.flat_outputs()
    wrt = tr.diff_syms(nums)
    if reverse:
        return [_tangent(g) for o in outs for g in gradients([o], [1.0], wrt)]
    cols = [[_tangent(t) for t in col] for col in columns(outs, wrt)]
    return [cols[j][i] for i in range(len(outs)) for j in range(len(wrt))]


def _assemble(tr: _Traced, nums: tuple[int, ...], argnums: Any, flat: list[Any],
              ) -> Any:
    """Jacobian blocks `out.shape + in.shape`: output structure outside, inputs inside."""
    n_in = len(tr.diff_syms(nums))
    n_out = sum(a.size for a in tr.out_exprs)
    m = _matrix(flat, n_out, n_in)
    per_out = []
    row = 0
    for a in tr.out_exprs:
        rows = m[row:row + a.size]
        row += a.size
        col = 0
        per_arg = []
        for i in nums:
            blocks: list[Any] = []
            for k in tr.arg_leaves(i):
                if tr.syms[k] is None:
                    blocks.append(None)
                    continue
                x = tr.leaves[k]
                size = math.prod(shape_of(x))
                block = rows[:, col:col + size].reshape(-1).tolist()
                blocks.append(_pack(block, a.shape + shape_of(x), dtype_of(x), block=True))
                col += size
            _, td = tree.flatten(_arg_value(tr, i))
            per_arg.append(tree.unflatten(td, blocks))
        per_out.append(per_arg[0] if isinstance(argnums, int) else tuple(per_arg))
    return tree.unflatten(tr.out_td, per_out)


class _JacEntry:
    """A trace and its Jacobians, forward and (where it differs) reverse, built on demand."""

    def __init__(self, tr: _Traced, nums: tuple[int, ...]) -> None:
        self.tr = tr
        self.nums = nums
        self.reverse = tr.reverse_rules()
        self.built: dict[bool, _Compiled] = {}

    def get(self, kind: str) -> _Compiled:
        reverse = self.reverse and kind == "jacrev"
        got = self.built.get(reverse)
        if got is None:
            got = self.built[reverse] = _Compiled(
                self.tr.all_syms(), _jacobian_exprs(self.tr, self.nums, reverse))
        return got


def _jacobian(f: Callable[..., Any], argnums: int | Sequence[int], kind: str,
              ) -> Callable[..., Any]:
    @functools.wraps(f)
    def jac_f(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums(argnums, len(args), kind)
        _check_args(args, nums, f, kind)
        given = _with_keywords(args, kwargs)

        def build() -> Any:
            return _JacEntry(_Traced(f, given, kind, bool(kwargs)), nums)

        entry = _cached(f, ("jac", nums, _signature(given)), build)
        tr = entry.tr
        return _assemble(tr, nums, argnums, entry.get(kind)(tr.values(given)))

    return jac_f


def jacfwd(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Jacobian (shape `out.shape + in.shape`), computed symbolically."""
    return _jacobian(f, argnums, "jacfwd")


def jacrev(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Jacobian (shape `out.shape + in.shape`), computed symbolically (the same expressions
    as `jacfwd`: a symbolic derivative has no mode, except at a custom_vjp call, whose `bwd`
    reverse mode applies to each row's cotangent)."""
    return _jacobian(f, argnums, "jacrev")


def hessian(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Hessian (shape `in.shape + in.shape`), computed symbolically: the forward
    derivative of the gradient, as the overload method's `jacfwd(jacrev(f))`."""

    @functools.wraps(f)
    def hessian_f(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums(argnums, len(args), "hessian")
        _check_args(args, nums, f, "hessian")
        given = _with_keywords(args, kwargs)

        def build() -> Any:
            tr = _Traced(f, given, "hessian", bool(kwargs))
            out = tr.scalar_output("hessian")
            wrt = tr.diff_syms(nums)
            grads = [_tangent(g) for g in gradients([out], [1.0], wrt)]
            cols = [[_tangent(t) for t in col] for col in columns(grads, wrt)]
            n = len(wrt)
            flat = [cols[k][j] for j in range(n) for k in range(n)]
            return tr, _Compiled(tr.all_syms(), flat)

        tr, fn = _cached(f, ("hessian", nums, _signature(given)), build)
        n = len(tr.diff_syms(nums))
        rows = _matrix(fn(tr.values(given)), n, n)
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
                blocks: list[Any] = []
                for q in tr.arg_leaves(j):
                    if tr.syms[q] is None:
                        blocks.append(None)
                        continue
                    xj = tr.leaves[q]
                    cj = offsets[(j, q)]
                    mj = len(tr.leaf_syms(q))
                    blk = rows[ri:ri + mi, cj:cj + mj].reshape(-1).tolist()
                    blocks.append(_pack(blk, shape_of(xi) + shape_of(xj), dtype_of(xj),
                                        block=True))
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
    suffix = f"__{_NESTING.depth}" if _NESTING.depth else ""
    return [Symbol(f"{prefix}{k}{suffix}") for k in range(len(tr.all_syms()))]


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
            out += _leaf_values(g)
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
        return tr, _Compiled(tr.all_syms() + dots, outs + tans)

    tr, fn = _cached(f, ("jvp", _signature(primals)), build)
    flat = fn(tr.values(primals) + _flat_like(tr, t_leaves))
    n = len(tr.flat_outputs())
    return _outputs(tr, flat[:n]), _outputs(tr, flat[n:])


def vjp(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[..., Any]]:
    """`(out, vjp_fn)`; `vjp_fn(ct)` returns one cotangent per primal, computed symbolically
    (`sum_i ct_i * d out_i / d x_j`; a custom_vjp call's `bwd` gets its cotangent)."""
    _check_args(primals, tuple(range(len(primals))), f, "vjp")
    nums = tuple(range(len(primals)))

    def build() -> Any:
        tr = _Traced(f, primals, "vjp")
        outs = tr.flat_outputs()
        suffix = f"__{_NESTING.depth}" if _NESTING.depth else ""
        cts = [Symbol(f"_ct{i}{suffix}") for i in range(len(outs))]
        wrt = tr.all_syms()
        pulled = [_tangent(g) for g in gradients(outs, cts, wrt)]
        return tr, _Compiled(wrt, outs), _Compiled(wrt + cts, pulled)

    tr, fwd, bwd = _cached(f, ("vjp", _signature(primals)), build)
    values = tr.values(primals)
    out = _outputs(tr, fwd(values))

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
            flat_ct += _leaf_values(c)
        rest = bwd(values + flat_ct)
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
        out = tr.scalar_output("hvp")
        wrt = tr.all_syms()
        grads = [_tangent(g) for g in gradients([out], [1.0], wrt)]
        dots = _tangent_symbols(tr, "_dot")
        hv = [_tangent(t) for t in jvp_exprs(grads, dict(zip(wrt, dots)))]
        return tr, _Compiled(wrt + dots, hv)

    tr, fn = _cached(f, ("hvp", _signature(primals)), build)
    rest = fn(tr.values(primals) + _flat_like(tr, t_leaves))
    per = []
    for i in nums:
        g, rest = _per_arg(tr, i, rest)
        per.append(g)
    return per[0] if len(primals) == 1 else tuple(per)


__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacfwd", "jacrev", "hessian", "hvp"]
