"""`jit`: trace a function into a graph on its first call per input signature, optimise it,
generate NumPy code, and reuse that code for every later call with the same signature (shapes,
dtypes, pytree structure and the values of static, non-floating arguments).

Examples
--------
>>> import numpy as np
>>> import chainrule as cr
>>> import chainrule.numpy as cnp
>>> f = cr.jit(lambda x: cnp.sum(x ** 2))
>>> print(f(np.arange(3.0)), f(np.ones(3)))
5.0 3.0
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._core import checks, tree
from .._core.cache import FunctionCache, Reads, collector_paused, leaf_key
from .._core.primitive import Tracer, numpy_values, other_array
from ..ops.elementwise import _all_finite
from .codegen import compile_graph
from .ir import Const, Graph
from .passes import drop_strong_zeros, optimize, witnesses
from .trace import spec, trace


def compiled_for(g: Graph, values: Sequence[Any]) -> Callable[..., list[Any]]:
    """`Graph.compiled_for`: the generated code of a graph (a branch or a loop body, run by the
    control primitives) for operands like `values`, optimised and built on first use, then kept
    on the graph. For values other than NumPy's own, the form without `out=` buffers, its array
    constants made in the values' library (Dask, CuPy): one form per library."""
    if not numpy_values(values):
        like = next((v for v in values if other_array(v)), None)
        fn = g._compiled_plain.get(type(like))
        if fn is None:
            fn = g._compiled_plain[type(like)] = compile_graph(optimize(g), reuse=False,
                                                                like=like)
        return fn  # type: ignore[no-any-return]
    fn = g._compiled
    if fn is None:
        fn = g._compiled = compile_graph(optimize(g))
    return fn


def _integer_array(x: Any) -> bool:
    return type(x) is np.ndarray and x.dtype.kind in "iub"


def signature(args: tuple[Any, ...]) -> Any:
    """The cache key of a call: the arguments' pytree structure and each leaf's key.

    Parameters
    ----------
    args : tuple
        The positional arguments.

    Returns
    -------
    Any
        A hashable key.
    """
    leaves, td = tree.flatten(args)
    return td, tuple(leaf_key(x, python_apart=True) for x in leaves)


class _Compiled:
    """One signature's code: the fast form (strong zeros dropped) and, generated the first time
    an output comes out non-finite, the careful form (see passes.drop_strong_zeros)."""

    def __init__(self, graph: Graph, leaves: list[Any], bake: bool = False) -> None:
        self.inputs = [i for i, x in enumerate(leaves) if tree.is_float_leaf(x)
                       or (not bake and _integer_array(x))]
        self.out_tree = graph.out_tree
        dropped = drop_strong_zeros(graph)
        same = dropped.num_nodes == graph.num_nodes
        # the graph as traced is kept only where a careful form may be needed (it is optimised
        # then): a long program's graph is most of the memory its compilation takes
        self.graph: Graph | None = None if same else graph
        self.checked = [] if same else witnesses(graph)
        del graph
        # (handed over, not kept here: each pass frees the graph before it as it goes)
        owned = [dropped]
        del dropped
        fast = optimize(owned.pop())
        # (elementwise results written into dead buffers, `out=`, for NumPy's arrays only:
        # other libraries' (Dask's lazy arrays) take no `out=`)
        self.reuse = numpy_values(leaves[i] for i in self.inputs)
        # (another array library's inputs: the code's array constants made in that library)
        self.like = next((x for x in leaves if other_array(x)), None)
        self.fast = compile_graph(fast, reuse=self.reuse, like=self.like)
        self.shared = _constants(fast)
        del fast
        self.careful = self.fast if same else None
        self.careful_shared = self.shared
        self.source = self.fast.source

    def __call__(self, leaves: Any) -> Any:
        # (run by `jit` in the quiet error state: a speculative run of the fast form reports
        # nothing; what it meets is reported by the careful one, if needed)
        ins = [leaves[i] for i in self.inputs]
        out, shared = self.fast(*ins), self.shared
        if self.careful is not self.fast and not all(_all_finite(out[k]) for k in self.checked):
            if self.careful is None:
                careful = optimize(self.graph)  # type: ignore[arg-type]
                self.careful = compile_graph(careful, reuse=self.reuse, like=self.like)
                self.careful_shared = _constants(careful)
                self.graph = None
            out, shared = self.careful(*ins), self.careful_shared
        if shared:  # (the code returns its constants themselves: the caller gets copies)
            out = list(out)
            for k in shared:
                out[k] = out[k].copy()
        return tree.unflatten(self.out_tree, out)


def _constants(graph: Graph) -> list[int]:
    """The outputs that are constant arrays: compiled code returns the same array on every call
    (a derivative that does not depend on the inputs, folded by the optimiser)."""
    return [k for k, o in enumerate(graph.outputs)
            if isinstance(o, Const) and isinstance(o.value, np.ndarray)]


#: compiled signatures kept per function (an int argument's value is part of its signature)
MAX_SIGNATURES = 64


def jit(f: Callable[..., Any]) -> Callable[..., Any]:
    """Compile `f` through the expression graph, once per input signature.

    On the first call with a new signature (the arguments' pytree structure, shapes and dtypes,
    and the values of static, non-floating arguments) `f` is traced into a graph, optimised, and
    turned into straight-line NumPy code; later calls with that signature run the code. The code
    bakes in what `f` reads from outside its arguments (globals, closures, captured arrays): each
    call checks those first and compiles again when one changed (`_core.cache`); a large captured
    array costs a comparison per call, an argument does not. Integer and boolean arrays (labels,
    masks) are inputs of the code unless tracing needs their values, in which case they are baked
    in. At most `MAX_SIGNATURES` (64) signatures are kept per function. Called inside another
    transform, the compiled function runs `f` itself, so `jit` composes with every transform.

    Parameters
    ----------
    f : callable
        The function; its arguments and result may be pytrees. Python control flow on traced
        values is not allowed in it (use `cr.cond`, `cr.while_loop`, ...).

    Returns
    -------
    callable
        The compiled function, with `f`'s signature; its `.cache` holds the compiled signatures.

    Raises
    ------
    ConcretizationError
        On the first call, if `f` branches or loops in Python on a traced value.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> loss = lambda w, x: cnp.mean(cnp.tanh(x @ w) ** 2)
    >>> fast = cr.jit(cr.grad(loss))
    >>> w, x = np.full(2, 0.1), np.ones((4, 2))
    >>> print(np.allclose(fast(w, x), cr.grad(loss)(w, x)))
    True
    """
    cache = FunctionCache(MAX_SIGNATURES)
    keywords: dict[str, Any] = {}
    # integer and boolean arrays (labels, indices, masks) are inputs of the compiled code, so a
    # new batch of labels does not compile again; a function that needs their values while it
    # is traced (a shape, a Python loop over them) has them baked in instead, from then on
    bake = [False]

    @functools.wraps(f)
    def compiled(*args: Any, **kwargs: Any) -> Any:
        if kwargs:  # keyword arguments ride along as a last, dict argument
            inner = keywords.get("fn")
            if inner is None:
                inner = keywords["fn"] = jit(lambda *a: f(*a[:-1], **a[-1]))
            return inner(*args, kwargs)
        baked = bake[0]
        # (leaf_key's flags passed by position: this runs on every call)
        if all(type(x) is np.ndarray for x in args):  # (the common case: arrays, no pytree)
            leaves, key = args, tuple(leaf_key(x, baked, True) for x in args)
        else:
            leaves, td = tree.flatten(args)
            if any(isinstance(x, Tracer) for x in leaves):
                return f(*args)  # called inside another transform: run through its interpreters
            key = (td, tuple(leaf_key(x, baked, True) for x in leaves))
        fn = cache.get(key)
        if fn is None:
            fn = _build(args, list(leaves), baked)
            if fn is None:  # (the integer values were needed: bake them, key by value)
                bake[0] = True
                return compiled(*args)
            # what f reads, as its trace left it (a function that appends to a list it
            # closes over while it is traced is not compiled again on every call)
            cache.put(key, fn, Reads(f))
        token = checks.quiet_on()  # (compiled code, as JAX's, prints no floating-point warnings)
        try:
            return fn(leaves)
        finally:
            checks.quiet_off(token)

    def _build(args: tuple[Any, ...], leaves: list[Any], baked: bool) -> _Compiled | None:
        with collector_paused():  # (see there: tracing makes many short-lived objects)
            if baked or not any(_integer_array(x) for x in leaves):
                return _Compiled(trace(f, *args), leaves, baked)
            flat, td = tree.flatten(args)
            specs = [spec(x.shape, x.dtype) if _integer_array(x) else x for x in flat]
            try:
                graph = trace(f, *tree.unflatten(td, specs))
            except Exception:  # noqa: BLE001 - traced again with the values baked in
                return None
            return _Compiled(graph, leaves)

    compiled.cache = cache  # type: ignore[attr-defined]
    # (the source engine differentiates f itself: compiling changes no derivative)
    checks.set_transform_target(compiled, lambda: f)
    return compiled
