"""Compiled derivative kernels for generated code: one rule, traced once per signature.

A `pullback(np.sum, 0, d_s, s, x, axis=1)` or `pushforward(operator.matmul, ...)` in generated
code would otherwise reach the rule table through the interpreters on every call. Here the rule
(the primitive's VJP or JVP from the table; for a library function made of primitives, its
derivative by the reverse or forward transform) is traced into a graph on the call's shapes and
dtypes, optimised and compiled to NumPy code (graph/codegen.py), and that code is reused for
every later call with the same signature — the generated statement costs a dictionary lookup and
a few NumPy calls.

Batches of cotangents or tangents (a Jacobian's basis, pushed through the generated code in one
run) are leading axes that the primal values lack: a cotangent with `ndim(ct) - ndim(ans)` extra
axes, a tangent with `ndim(t) - ndim(x)`. The kernel for that signature is the rule under `vmap`
over them, so the same generated code serves one seed or a whole basis.

Strong zeros: while generated code runs its fast form (`skipping_strong_zeros`), the kernel is
the rule with its strong-zero masks dropped, as the graph engine's fast form; otherwise they stay.
Anything that cannot be keyed (a traced value, a container, a callable argument) or traced
(a rule that needs concrete values) gets `None`, and the caller takes the general path.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._core import tree
from .._core.cache import BoundedCache
from .._core.jacobian import _IDENTITIES, is_identity_basis
from .._core.primitive import Primitive, ndim_of
from .._core.rules import STRONG_ZEROS, Zero
from ..graph.codegen import compile_graph
from ..graph.ir import Const
from ..graph.passes import drop_strong_zeros, optimize
from ..graph.trace import spec, trace
from ..overload import transforms as overload

FAILED = object()
#: kernels kept at most (the least recently used go first: a program with ever new shapes)
MAX_KERNELS = 4096
_KERNELS = BoundedCache(MAX_KERNELS)
_BY_VALUE: dict[Any, int] = {}  # (keyed by library functions only: a bounded set)
#: distinct signatures with Python int arguments (their values are part of the signature: a
#: loop counter passed to np.roll, say) compiled per function before it stops being compiled
MAX_BY_VALUE = 64


def _leaf_key(x: Any) -> Any:
    """What of an argument the kernel depends on: shape and dtype of an array or float (a
    graph input), the value of a static one (an int, a tuple of ints, None, a string).
    `FAILED` for anything else (traced values, containers of arrays, callables)."""
    t = type(x)
    if t is np.ndarray:
        if is_identity_basis(x):  # (a constant of the kernel: see _compile)
            return (x.shape, x.dtype.char, "identity")
        return (x.shape, x.dtype.char)
    if t is float:
        return "f"
    if t is np.float64 or t is np.float32 or t is np.complex128:
        return ((), x.dtype.char)
    if t is int or t is bool or x is None or t is str:
        return (t, x)
    if t is tuple and all(type(v) is int for v in x):
        return (t, x)
    return FAILED


#: the constants a kernel may give as results
_CONSTANTS = (np.ndarray, np.generic, int, float, complex, bool, str, type(None))


def _is_input(x: Any) -> bool:
    return isinstance(x, (np.ndarray, float, np.floating, np.complexfloating))


def _spec(x: Any) -> Any:
    return spec(np.shape(x), np.result_type(x))


def _compile(body: Callable[..., Any], values: list[Any], tangents: bool = False) -> Any:
    """`body(*values)` traced with the array values as graph inputs, compiled; or `FAILED`.
    The result is `(fn, out_tree, constant)`: `fn(*inputs)` gives the flat outputs, or, when
    every output is a constant (a rule that gives Zero), `fn` is None and `constant` is it.

    With `tangents`, the body returns `(values, tangents)`, and a tangent that comes out a
    constant of zeros is 0.0, the generated code's dead tangent (a rule's tangent in a value it
    reads only the shape of): later statements skip it as the other methods skip their
    symbolic zeros, instead of multiplying by an array of zeros. (Only zeros: a constant
    tangent is zero when every tangent that goes in is an input, but an identity basis is a
    constant here, and what is linear in it is a constant that need not be zero.)"""
    try:
        # (the kernel takes every input; an identity basis among them, read-only, is closed
        # over instead, as a constant: the optimiser folds the products with it, where they
        # would cost a matrix product each. A float array passed to `trace` would be an input)
        fixed: dict[int, Any] = {}  # position among the values -> the basis
        drop: set[int] = set()  # its position among the kernel's inputs
        n_in = 0
        for k, v in enumerate(values):
            if type(v) is np.ndarray and is_identity_basis(v):
                fixed[k] = v
                drop.add(n_in)
            n_in += _is_input(v)
        if fixed:
            inner, n = body, len(values)

            def body(*xs: Any) -> Any:
                it = iter(xs)
                return inner(*[fixed[k] if k in fixed else next(it) for k in range(n)])
            values = [v for k, v in enumerate(values) if k not in fixed]
        g = trace(lambda *xs: body(*xs), *[_spec(v) if _is_input(v) else v for v in values])
        if any(isinstance(o, Const) and not isinstance(o.value, _CONSTANTS) for o in g.outputs):
            # (an object among the results, which may keep traced values in its attributes
            # (`norm(mu, 2.0)`, a frozen distribution): left to the general path, which looks)
            return FAILED
        if STRONG_ZEROS.skip:
            g = drop_strong_zeros(g)
        g = optimize(g)
        if tangents:
            n = g.out_tree.children[0].num_leaves
            g.outputs = [Const(0.0) if k >= n and isinstance(o, Const) and _zeros(o.value)
                         else o for k, o in enumerate(g.outputs)]
        g.outputs = [_frozen(o) for o in g.outputs]
        if all(isinstance(o, Const) for o in g.outputs):
            const = tree.unflatten(g.out_tree, [o.value for o in g.outputs])
            return (None, g.out_tree, const)
        fn = compile_graph(g, "kernel")
        if drop:
            compiled = fn

            def fn(*xs: Any) -> Any:
                return compiled(*[x for k, x in enumerate(xs) if k not in drop])
            fn.source = compiled.source  # type: ignore[attr-defined]
        return (fn, g.out_tree, None)
    except Exception:  # noqa: BLE001 - a rule that needs concrete values: no kernel
        return FAILED


def _frozen(o: Any) -> Any:
    """An output of a kernel, a read-only copy where it is a constant array: the kernel hands
    the same one out on every call, so whoever gets it (a Jacobian's block, a gradient) must
    copy it before writing, as they copy every read-only array they hand out."""
    if isinstance(o, Const) and type(o.value) is np.ndarray:
        value = np.array(o.value)
        value.flags.writeable = False
        return Const(value)
    return o


def _zeros(value: Any) -> bool:
    try:
        return not np.any(value)
    except (TypeError, ValueError):
        return False


def _run(kernel: Any, values: tuple[Any, ...]) -> Any:
    fn, out_tree, const = kernel
    if fn is None:
        return const
    return tree.unflatten(out_tree, fn(*[v for v in values if _is_input(v)]))


# ---------------------------------------------------------------------------------------------
# the hot path: a call whose values are all arrays (or floats)
#
# Generated code calls `pullback(operator.matmul, 0, ct, ans, a, b)` with arrays nearly always;
# keying such a call needs no more than each value's shape and dtype. `_FAST` maps that short
# key, built in one pass, straight to the compiled kernel (set by the general path below on its
# first call with these shapes), so the statement costs the key, one lookup and the kernel.

_FAST: dict[Any, Any] = {}
_PAIR = tree.structure((0.0, 0.0))


def signature(values: tuple[Any, ...], tangents: bool = False) -> tuple[Any, ...] | None:
    """Each value's (shape, dtype) -- `float` for a Python float -- or None when one is
    anything else (a traced value, a container, an int: the general path keys those). With
    `tangents`, a dead tangent (`Zero`, None, a zero number) is None in the signature and a
    live Python float is refused (the general path keys those)."""
    sig: list[Any] = []
    identities = _IDENTITIES  # (empty until a Jacobian is taken)
    for v in values:
        t = v.__class__
        if tangents and (v is Zero or v is None or ((t is float or t is np.float64)
                                                    and v == 0.0)):
            sig.append(None)
        elif t is np.ndarray or t is np.float64:
            if identities and t is np.ndarray and identities.get(id(v)) is v:
                sig.append((v.shape, v.dtype, "identity"))  # (a constant of its kernel)
            else:
                sig.append((v.shape, v.dtype))
        elif t is float and not tangents:
            sig.append(t)
        else:
            return None
    return tuple(sig)


def fast(key: Any) -> Any:
    """The compiled kernel `(fn, unpack)` for a short key, or None (a miss)."""
    return _FAST.get(key)


def _remember(key: Any, kernel: Any) -> None:
    """Keep `kernel` under the short `key` when its outputs are one array or a pair of them."""
    fn, out_tree, _ = kernel
    if fn is None or key is None:
        return
    n = out_tree.num_leaves
    if out_tree == tree.LEAF or out_tree == _PAIR:
        if len(_FAST) >= MAX_KERNELS:
            _FAST.clear()
        _FAST[key] = (fn, n == 2)


def _lookup(key: Any, fn: Any, keys: tuple[Any, ...], make: Callable[[], Any]) -> Any:
    kernel = _KERNELS.get(key)
    if kernel is None:
        if any(type(k) is tuple and k[:1] == (int,) for k in keys):
            count = _BY_VALUE.get(fn, 0)
            if count >= MAX_BY_VALUE:
                return FAILED
            _BY_VALUE[fn] = count + 1
        kernel = make()
        _KERNELS[key] = kernel
    return kernel


def _library(fn: Any) -> bool:
    """A function of the libraries (NumPy, chainrule.numpy, math, operator), safe to key by
    identity: it is the same function on every call and closes over nothing of the user's."""
    module = getattr(fn, "__module__", None) or ""
    return isinstance(fn, np.ufunc) or module.split(".")[0] in ("numpy", "math", "_operator",
                                                                "operator") \
        or (module.startswith("chainrule.") and not module.startswith("chainrule.source"))


def _batched(f: Callable[..., Any], in_axes: tuple[Any, ...], nb: int) -> Callable[..., Any]:
    for _ in range(nb):
        f = overload.vmap(f, in_axes=in_axes)
    return f


def pullback(rule: Callable[..., Any] | None, fn: Any, i: int, ct: Any, ans: Any,
             args: tuple[Any, ...], params: dict[str, Any], kw: dict[str, Any],
             short: Any = None) -> Any:
    """The cotangent of argument i of `ans = fn(*args, **kw)` by a compiled kernel, or
    `FAILED`. `rule(ct, ans, *args, **params)` is the primitive's VJP when there is one;
    otherwise the function's own VJP (by the transform) is traced. The kernel is kept under
    the `short` key too (see `fast`), when one is given."""
    key_ct, key_ans = _leaf_key(ct), _leaf_key(ans)
    if key_ct is FAILED or key_ans is FAILED:
        return FAILED
    keys = tuple(_leaf_key(a) for a in args)
    if FAILED in keys or (rule is None and not _library(fn)):
        return FAILED
    try:
        key = ("vjp", fn, i, keys, key_ct, key_ans, tuple(kw.items()), STRONG_ZEROS.skip)
        hash(key)
    except TypeError:
        return FAILED
    nb = np.ndim(ct) - np.ndim(ans)
    if nb < 0:
        return FAILED

    def make() -> Any:
        return _compile(_vjp_body(rule, params, fn, i, kw, nb), [ct, ans, *args])

    kernel = _lookup(key, fn, keys, make)
    if kernel is FAILED:
        return FAILED
    _remember(short, kernel)
    return _run(kernel, (ct, ans, *args))


def _vjp_body(rule: Callable[..., Any] | None, params: dict[str, Any], fn: Any, i: int,
              kw: dict[str, Any], nb: int) -> Callable[..., Any]:
    """`(ct, ans, *xs) -> cotangent of xs[i]`: the rule (or the transform's VJP of `fn`),
    vmapped over the `nb` leading batch axes of `ct`."""
    def body(c: Any, a: Any, *xs: Any) -> Any:
        if rule is not None:
            one = lambda c1: rule(c1, a, *xs, **params)  # noqa: E731
        else:

            def one(c1: Any) -> Any:
                def of_x(xi: Any) -> Any:
                    full = list(xs)
                    full[i] = xi
                    return fn(*full, **kw)
                return overload.vjp(of_x, xs[i])[1](c1)[0]
        return _batched(one, (0,), nb)(c)
    return body


def pushforward(prim: Primitive | None, fn: Any, args: tuple[Any, ...],
                tangents: tuple[Any, ...], live: list[bool], kw: dict[str, Any],
                short: Any = None) -> Any:
    """`(fn(*args, **kw), tangent)` by a compiled kernel (the primitive's JVP rule, or the
    forward transform of a library function), or `FAILED`; kept under `short` as well."""
    if prim is None and not _library(fn):
        return FAILED
    rule = prim.jvp if prim is not None else None
    return _push(("jvp", fn, tuple(kw.items())), fn, (lambda *xs: fn(*xs, **kw)), rule, args,
                 tangents, live, short)


def pushforward_pullback(args: tuple[Any, ...], tangents: tuple[Any, ...], live: list[bool],
                         kw: dict[str, Any], rule_and_params: Callable[..., Any],
                         short: Any = None) -> Any:
    """The tangent of a `pullback(fn, i, ct, ans, *xs, **kw)` statement (forward mode over
    generated reverse code, as in a Hessian) by one compiled kernel: the VJP rule's own JVP.
    `args` are `(fn, i, ct, ans, *xs)`, `tangents` and `live` those of `(ct, ans, *xs)`."""
    fn, i, values = args[0], args[1], args[2:]
    if type(i) is not int:
        return FAILED
    rule, params = rule_and_params(fn, i, tuple(values[2:]), kw)
    if rule is None and not _library(fn):
        return FAILED

    def call(c: Any, a: Any, *xs: Any) -> Any:
        return _vjp_body(rule, params, fn, i, kw, ndim_of(c) - ndim_of(a))(c, a, *xs)

    return _push(("jvp-pullback", fn, i, tuple(kw.items())), fn, call, None, values,
                 tangents, live, short)


def _push(base: Any, fn: Any, call: Callable[..., Any], rule: Callable[..., Any] | None,
          args: tuple[Any, ...], tangents: tuple[Any, ...], live: list[bool],
          short: Any = None) -> Any:
    keys = tuple(_leaf_key(a) for a in args)
    if FAILED in keys:
        return FAILED
    tans = [t for t, on in zip(tangents, live) if on]
    tkeys = tuple(_leaf_key(t) for t in tans)
    if FAILED in tkeys or any(type(t) is float for t in tans):
        return FAILED
    nbs = [np.ndim(t) - np.ndim(a) for t, a, on in zip(tangents, args, live) if on]
    nb = max(nbs)
    if any(n not in (0, nb) for n in nbs):
        return FAILED
    try:
        key = (base, tuple(live), keys, tkeys, STRONG_ZEROS.skip)
        hash(key)
    except TypeError:
        return FAILED

    def make() -> Any:
        n = len(args)
        on = [k for k, o in enumerate(live) if o]

        def body(*values: Any) -> Any:
            xs, ts = values[:n], values[n:]
            ans = call(*xs)

            def one(*t1: Any) -> Any:
                if rule is not None:
                    it = iter(t1)
                    return rule(list(xs), [next(it) if o else Zero for o in live])[1]

                def of_live(*d: Any) -> Any:
                    full = list(xs)
                    for k, v in zip(on, d):
                        full[k] = v
                    return call(*full)
                return overload.jvp(of_live, tuple(xs[k] for k in on), tuple(t1))[1]
            return ans, _batched(one, tuple(0 if k else None for k in nbs), nb)(*ts)
        return _compile(body, [*args, *tans], tangents=True)

    kernel = _lookup(key, fn, keys, make)
    if kernel is FAILED:
        return FAILED
    _remember(short, kernel)
    return _run(kernel, (*args, *tans))
