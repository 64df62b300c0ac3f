"""`jit`: trace a function into a graph on its first call per input signature, optimise it,
generate NumPy code, and reuse that code for every later call with the same signature (shapes,
dtypes, pytree structure and the values of static, non-floating arguments)."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from .._core import tree
from .passes import optimize
from .trace import trace


def _static_key(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return ("array", x.dtype.str, x.shape, x.tobytes())
    try:
        hash(x)
        return (type(x).__name__, x)
    except TypeError:
        return ("repr", repr(x))


def signature(args: tuple[Any, ...]) -> Any:
    leaves, td = tree.flatten(args)
    return td, tuple((np.shape(x), np.result_type(x).str) if tree.is_float_leaf(x)
                     else _static_key(x) for x in leaves)


def jit(f: Callable[..., Any]) -> Callable[..., Any]:
    """`f` compiled through the expression graph, once per input signature."""
    cache: dict[Any, Any] = {}

    @functools.wraps(f)
    def compiled(*args: Any) -> Any:
        key = signature(args)
        fn = cache.get(key)
        if fn is None:
            graph = optimize(trace(f, *args))
            fn = cache[key] = graph.compile()
            fn.graph = graph
        return fn(*args)

    compiled.cache = cache  # type: ignore[attr-defined]
    return compiled
