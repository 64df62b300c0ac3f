"""Rematerialisation: `checkpoint(f)` keeps only the inputs of `f` for the backward pass and
recomputes its intermediates when the backward pass reaches it, trading time for memory.

Examples
--------
>>> import numpy as np
>>> import chainrule as cr
>>> import chainrule.numpy as cnp
>>> block = cr.checkpoint(lambda h: cnp.tanh(2.0 * h))
>>> print(cr.grad(lambda h: cnp.sum(block(block(h))))(np.zeros(2)))
[4. 4.]
"""
from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

from ._core import checks, tree
from ._core.primitive import Primitive, zeros_like
from ._core.rules import Zero, def_custom_rule, def_rule
from .custom import _Flat, _vmap_flat
from .overload.transforms import jvp, vjp

POLICIES = (None, "nothing_saveable", "everything_saveable")


def _checkpoint_impl(*leaves: Any, fun: Any) -> Any:
    return fun(*leaves)


def _checkpoint_fwd(*leaves: Any, fun: Any) -> tuple[Any, Any]:
    # run on plain values: nothing inside is recorded; the residuals are the inputs alone
    return fun(*leaves), leaves


def _checkpoint_bwd(res: Any, cts: list[Any], needed: list[int], *, fun: Any) -> list[Any]:
    """Recompute the segment from its saved inputs and pull the cotangents back, to the inputs
    being differentiated only (the others are constants of the recomputation)."""
    def segment(*diff: Any) -> Any:
        full = list(res)
        for i, d in zip(needed, diff):
            full[i] = d
        return fun(*full)

    _, pullback = vjp(segment, *[res[i] for i in needed])
    out: list[Any] = [None] * len(res)
    for i, g in zip(needed, pullback(cts)):
        out[i] = g
    return out


def _checkpoint_closure(args: Any, *, fun: Any) -> Any:
    warnings.warn(
        "cr.checkpoint: the function closes over values that are being differentiated, so it is "
        "recorded as usual and not rematerialised; pass those values (parameters, for "
        "instance) to the checkpointed function as arguments to save their memory",
        stacklevel=5)  # past this function, process, bind and remat: the user's call
    return fun(*args)


def _checkpoint_jvp(primals: list[Any], tangents: list[Any], *, fun: Any) -> tuple[Any, Any]:
    ts = [zeros_like(p) if t is Zero else t for p, t in zip(primals, tangents)]
    return jvp(lambda *ls: fun(*ls), tuple(primals), tuple(ts))


def _batch_call(args: list[Any], batched: tuple[bool, ...], *, fun: Any, **params: Any) -> Any:
    """checkpoint under vmap: the vectorised function, checkpointed again."""
    return checkpoint_p.bind(*args, fun=_vmap_flat(fun, batched))


checkpoint_p = Primitive("checkpoint", _checkpoint_impl, multiple_results=True)
def_rule(checkpoint_p, jvp=_checkpoint_jvp, batch=_batch_call)
def_custom_rule(checkpoint_p, fwd=_checkpoint_fwd, bwd=_checkpoint_bwd,
                on_closure=_checkpoint_closure)


def checkpoint(f: Callable[..., Any] | None = None, *, policy: str | None = None) -> Any:
    """Make `f` recompute its intermediates in the backward pass instead of storing them.

    Reverse mode keeps only the inputs of the checkpointed function; when the backward pass
    reaches it, `f` is run again from those inputs and differentiated. The derivative is the
    same; memory goes down and time goes up. A checkpointed function should take what it
    differentiates as arguments: one that closes over values being differentiated is recorded
    as usual (not rematerialised), with a warning. Usable as `@checkpoint` or
    `@checkpoint(policy=...)`.

    Parameters
    ----------
    f : callable, optional
        The function (its arguments and result may be pytrees). Omitted, `checkpoint` returns a
        decorator.
    policy : str, optional
        `None` or `"nothing_saveable"`: save nothing inside `f` (rematerialise it all);
        `"everything_saveable"`: save everything, so `f` is returned unchanged.

    Returns
    -------
    callable
        The checkpointed function (or, without `f`, a decorator making one).

    Raises
    ------
    ValueError
        If `policy` is not one of the policies above.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> @cr.checkpoint
    ... def layer(h):
    ...     return cnp.sin(h) * h
    >>> print(cr.grad(lambda h: cnp.sum(layer(layer(h))))(np.zeros(3)))
    [0. 0. 0.]
    >>> same = cr.checkpoint(policy="everything_saveable")(cnp.sin)
    >>> same is cnp.sin
    True
    """
    if policy not in POLICIES:
        raise ValueError(f"checkpoint: unknown policy={policy!r}; choose one of {POLICIES}")

    def wrap(fun: Callable[..., Any]) -> Callable[..., Any]:
        if policy == "everything_saveable":
            return fun

        @functools.wraps(fun)
        def remat(*args: Any) -> Any:
            leaves, in_td = tree.flatten(args)
            flat = _Flat(fun, in_td)
            outs = checkpoint_p.bind(*leaves, fun=flat)
            return tree.unflatten(flat.out_td, outs)  # type: ignore[arg-type]

        # (generated code differentiates `fun` itself: recomputation changes no derivative)
        checks.set_transform_target(remat, lambda: fun)
        return remat

    return wrap if f is None else wrap(f)
