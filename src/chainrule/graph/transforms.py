"""The graph engine's transforms (method="graph"): the overload engine's derivative traced into
an expression graph (the tape and dual interpreters run on graph tracers, so the rule table
writes the backward or forward graph), optimised, and compiled to NumPy code once per input
signature by `jit`. One-shot transforms (vjp, jvp, hvp) keep their compiled graphs per
function."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .._core.cache import BoundedCache
from .._core.checks import Capabilities
from ..overload import transforms as overload
from .jit import jit

CAPABILITIES = Capabilities(
    "graph", has_aux=True, python_control_flow=False,
    transforms=("grad", "value_and_grad", "vjp", "jvp", "jacfwd", "jacrev", "hessian", "hvp"))

# (kind, function) -> its compiled transform. Bounded: the compiled code holds its function,
# so a lambda made per call would otherwise be kept forever. (Each compiled transform checks
# what the function reads before it reuses code: see graph.jit.)
_CALLS = BoundedCache(64)


def _compiled(kind: str, f: Callable[..., Any], build: Callable[[], Any]) -> Any:
    """The compiled graph of a one-shot transform, kept per function."""
    key = (kind, f)
    fn = _CALLS.get(key)
    if fn is None:
        fn = _CALLS[key] = jit(build())
    return fn


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
         has_aux: bool = False) -> Callable[..., Any]:
    return jit(overload.grad(f, argnums, has_aux))


def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
                   has_aux: bool = False) -> Callable[..., Any]:
    return jit(overload.value_and_grad(f, argnums, has_aux))


def jacfwd(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
           has_aux: bool = False) -> Callable[..., Any]:
    return jit(overload.jacfwd(f, argnums, has_aux))


def jacrev(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
           has_aux: bool = False) -> Callable[..., Any]:
    return jit(overload.jacrev(f, argnums, has_aux))


def hessian(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
            has_aux: bool = False) -> Callable[..., Any]:
    return jit(overload.hessian(f, argnums, has_aux))


def vjp(f: Callable[..., Any], *primals: Any, has_aux: bool = False) -> Any:
    tag = "-aux" if has_aux else ""

    def forward_fn(p: Any) -> Any:
        return overload.vjp(f, *p, has_aux=True)[0::2] if has_aux else overload.vjp(f, *p)[0]

    def pull_fn(p: Any, c: Any) -> Any:
        return overload.vjp(f, *p, has_aux=has_aux)[1](c)

    forward = _compiled(f"vjp-forward{tag}", f, lambda: forward_fn)
    pull = _compiled(f"vjp-backward{tag}", f, lambda: pull_fn)
    res = forward(tuple(primals))
    out, aux = (res[0], res[1]) if has_aux else (res, None)

    def graph_vjp_fn(ct: Any) -> tuple[Any, ...]:
        return tuple(pull(tuple(primals), ct))

    return (out, graph_vjp_fn, aux) if has_aux else (out, graph_vjp_fn)


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any],
        has_aux: bool = False) -> Any:
    def push(p: Any, t: Any) -> Any:
        return overload.jvp(f, p, t, has_aux)

    return _compiled(f"jvp{'-aux' if has_aux else ''}", f, lambda: push)(tuple(primals),
                                                                          tuple(tangents))


def hvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> Any:
    def product(p: Any, t: Any) -> Any:
        return overload.hvp(f, p, t)

    return _compiled("hvp", f, lambda: product)(tuple(primals), tuple(tangents))
