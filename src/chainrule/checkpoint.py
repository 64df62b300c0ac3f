"""Rematerialisation: `checkpoint(f)` keeps only the inputs of `f` for the backward pass and
recomputes its intermediates when the backward pass reaches it, trading time for memory.

Loops have a policy of their own: `binomial(snapshots=s)`, given to `fori_loop` or `scan` as
`checkpoint=`, is Griewank and Walther's binomial checkpointing (Revolve). This module owns its
schedule, in pure Python (`binomial_schedule`: which states to store, which steps to run again,
in what order; `binomial_forward_steps`: how many forward steps that costs, the proven minimum);
the loop that runs a schedule is the graph engine's (graph/revolve.py), which traces the body
into a sub-graph so that the values it closes over get their cotangents.

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
import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ._core import checks, tree
from ._core.primitive import Primitive, zeros_like
from ._core.rules import Zero, def_custom_rule, def_rule
from .custom import _Flat, _vmap_flat
from .ops.control import LoopCheckpoint
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


# ---------------------------------------------------------------------------------------------
# binomial checkpointing of loops (Griewank & Walther, "Algorithm 799: Revolve", ACM TOMS 26,
# 2000): the optimal schedule, in pure Python. Steps are numbered 0 .. n-1; step j maps the
# state x_j to x_{j+1}; x_0 (the loop's input) is stored from the start.

#: one action of a schedule: ("advance", a, b) runs steps a .. b-1 forward from the current
#: state x_a (to x_b, without recording); ("store", j) keeps the current state x_j as a
#: snapshot; ("restore", j) makes snapshot x_j the current state; ("free", j) drops snapshot
#: x_j; ("reverse", j) takes the VJP of step j at the current state x_j (the cotangent of
#: x_{j+1} becomes that of x_j)
Action = tuple[Any, ...]


def _beta(s: int, r: int) -> int:
    """beta(s, r) = C(s + r, s): the most steps s snapshots reverse with r repetitions."""
    return math.comb(s + r, s) if r >= 0 else 0


def binomial_repetitions(n: int, snapshots: int) -> int:
    """The repetition number r: the least r with C(snapshots + r, snapshots) >= n (no step of
    the optimal schedule runs forward more than r times, the first sweep included)."""
    r, beta = 0, 1
    while beta < n:
        r += 1
        beta = beta * (snapshots + r) // r  # (exact: beta(s, r) = beta(s, r-1) (s+r) / r)
    return r


def binomial_forward_steps(n: int, snapshots: int) -> int:
    """t(n, s): the number of forward steps ("advance" actions, the first sweep included) of
    the optimal schedule that reverses `n` steps storing at most `snapshots` states.

    Griewank and Walther's minimum: t(n, s) = r n - C(s + r, s + 1), with r the repetition
    number (`binomial_repetitions`). With s >= n - 1 it is n - 1 (every state stored: the
    forward sweep alone); with s = 1 it is n (n - 1) / 2.

    Examples
    --------
    >>> from chainrule.checkpoint import binomial_forward_steps
    >>> binomial_forward_steps(10, 1), binomial_forward_steps(10, 3), binomial_forward_steps(10, 9)
    (45, 15, 9)
    """
    _check_counts(n, snapshots)
    if n == 0:
        return 0
    r = binomial_repetitions(n, snapshots)
    return r * n - math.comb(snapshots + r, snapshots + 1)


def binomial_split(m: int, snapshots: int) -> int:
    """Where to store the next snapshot, counted from the current one, when `m` >= 2 steps are
    left to reverse with `snapshots` >= 2 (the current one's included): the largest c for which
    c + t(m - c, s - 1) + t(c, s) = t(m, s), which is min(beta(s, r - 1), m - beta(s - 1, r - 1))
    (the left part is then reversed with r - 1 repetitions, the right part with r)."""
    r = binomial_repetitions(m, snapshots)
    return min(_beta(snapshots, r - 1), m - _beta(snapshots - 1, r - 1))


def binomial_schedule(n: int, snapshots: int) -> Iterator[Action]:
    """The optimal schedule reversing `n` steps with at most `snapshots` stored states.

    Yields the actions in order (see `Action`): first ("store", 0), then the forward sweep
    (advances, each followed by the store of a snapshot), then reversals of steps n-1, n-2,
    ..., 0, each from a state restored from a snapshot and advanced again where needed. The
    "advance" actions cover `binomial_forward_steps(n, snapshots)` steps, the minimum, and no
    more than `snapshots` snapshots are held at once. The recursion: with x_a stored and k
    snapshots for steps a .. b-1, advance to c = a + binomial_split(b - a, k), store x_c,
    reverse c .. b-1 with k - 1 snapshots, free x_c, restore x_a and reverse a .. c-1 with k.
    It runs on an explicit stack (a few entries per level), so the schedule is generated as
    it is used, in memory that does not grow with `n`.

    Examples
    --------
    >>> from chainrule.checkpoint import binomial_schedule
    >>> for action in binomial_schedule(3, 2):
    ...     print(action)
    ('store', 0)
    ('advance', 0, 1)
    ('store', 1)
    ('advance', 1, 2)
    ('reverse', 2)
    ('restore', 1)
    ('reverse', 1)
    ('free', 1)
    ('restore', 0)
    ('reverse', 0)
    """
    _check_counts(n, snapshots)
    if n == 0:
        return
    yield ("store", 0)
    stack: list[Action] = [("revolve", 0, n, snapshots)]
    while stack:
        task = stack.pop()
        if task[0] != "revolve":
            yield task
            continue
        # reverse steps a .. b-1; x_a is current and stored; k snapshots, x_a's included
        _, a, b, k = task
        m = b - a
        if m == 1:
            yield ("reverse", a)
        elif k >= m - 1:  # enough for every state: one sweep, storing all but the last
            for j in range(a + 1, b):
                yield ("advance", j - 1, j)
                if j < b - 1:
                    yield ("store", j)
            yield ("reverse", b - 1)
            for j in range(b - 2, a - 1, -1):
                yield ("restore", j)
                yield ("reverse", j)
                if j > a:
                    yield ("free", j)
        elif k == 1:  # x_a alone: run forward from it to each step in turn
            for j in range(b - 1, a - 1, -1):
                if j < b - 1:
                    yield ("restore", a)
                if j > a:
                    yield ("advance", a, j)
                yield ("reverse", j)
        else:
            c = a + binomial_split(m, k)
            yield ("advance", a, c)
            yield ("store", c)
            # (pushed in reverse: the right part runs first)
            stack.append(("revolve", a, c, k))
            stack.append(("restore", a))
            stack.append(("free", c))
            stack.append(("revolve", c, b, k - 1))


def binomial_first_sweep(n: int, snapshots: int) -> list[int]:
    """The states the forward sweep of `binomial_schedule` stores, x_0 aside: the positions,
    in increasing order, that a forward pass must keep for the reversal to follow the
    schedule (the reversal starts from x_{n-1}, the state the sweep ends at)."""
    stored = []
    for action in binomial_schedule(n, snapshots):
        if action[0] == "reverse":
            break
        if action[0] == "store" and action[1] > 0:
            stored.append(action[1])
    return stored


def _check_counts(n: int, snapshots: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"the number of steps must be an integer >= 0, not {n!r}")
    if isinstance(snapshots, bool) or not isinstance(snapshots, int) or snapshots < 1:
        raise ValueError(f"snapshots must be an integer >= 1, not {snapshots!r}")


class Binomial(LoopCheckpoint):
    """Binomial checkpointing of a loop (Griewank and Walther's Revolve), made by `binomial`.

    Reverse mode through `n` steps stores at most `snapshots` states of the loop and runs
    `forward_steps(n)` forward steps, the proven minimum for that many stored states.

    Parameters
    ----------
    snapshots : int
        How many states of the loop may be stored at once (the initial one included), >= 1.

    Attributes
    ----------
    snapshots : int
        The number given.

    Examples
    --------
    >>> import chainrule as cr
    >>> policy = cr.binomial(snapshots=3)
    >>> print(policy, policy.forward_steps(10))
    binomial(snapshots=3) 15
    """

    __slots__ = ("snapshots",)

    def __init__(self, snapshots: int) -> None:
        if isinstance(snapshots, bool) or not isinstance(snapshots, (int, np.integer)):
            raise TypeError(f"binomial: snapshots must be an integer (how many states of the "
                            f"loop may be stored at once), not {type(snapshots).__name__}")
        if snapshots < 1:
            raise ValueError(f"binomial: snapshots={snapshots} stores nothing; give at least 1 "
                             f"(the loop's initial state), e.g. snapshots=10")
        self.snapshots = int(snapshots)

    def schedule(self, n: int) -> Iterator[Action]:
        """The actions reversing `n` steps (see `binomial_schedule`).

        Parameters
        ----------
        n : int
            The number of steps.

        Returns
        -------
        iterator of tuple
            The actions, generated as they are read.
        """
        return binomial_schedule(n, self.snapshots)

    def forward_steps(self, n: int) -> int:
        """The forward steps the schedule runs for `n` steps: t(n, s) (see
        `binomial_forward_steps`).

        Parameters
        ----------
        n : int
            The number of steps.

        Returns
        -------
        int
            The number of forward steps, the first sweep included.
        """
        return binomial_forward_steps(n, self.snapshots)

    def __repr__(self) -> str:
        return f"binomial(snapshots={self.snapshots})"

    def __eq__(self, other: object) -> bool:
        return type(other) is Binomial and other.snapshots == self.snapshots

    def __hash__(self) -> int:
        return hash(("binomial", self.snapshots))


def binomial(snapshots: int) -> Binomial:
    """Binomial checkpointing for `fori_loop` and `scan`: store few states, recompute optimally.

    Given as `checkpoint=cr.binomial(snapshots=s)` to `cr.fori_loop` or `cr.scan`, reverse
    mode no longer keeps what every step needs: the forward pass stores at most `s` states of
    the loop, and the backward pass runs segments forward again from them and takes each
    step's VJP in turn, in Griewank and Walther's binomial schedule (Revolve), which runs the
    fewest forward steps possible with `s` stored states: t(n, s) = r n - C(s + r, s + 1),
    where r is the least integer with C(s + r, s) >= n. Each step then runs forward at most
    r + 1 times (the step's own VJP included), and memory is `s` states, whatever `n`. With
    `s >= n` every state is stored (nothing is recomputed); with `s = 1` only the initial state
    is, and the step count grows as n² / 2.

    The body is traced once into a sub-graph (as under `cr.jit`): Python control flow on the
    loop index or on traced values raises `ConcretizationError` (use `cr.cond`); values it
    closes over become inputs of the loop and get their cotangents. Forward mode runs the loop
    with tangents; nested derivatives (grad of grad, Hessians) work, the outer ones keeping
    what they need of the inner backward pass. Every method (`overload`, `graph`, `source`)
    uses it.

    Parameters
    ----------
    snapshots : int
        How many states of the loop may be stored at once (the initial one included), >= 1.

    Returns
    -------
    Binomial
        The policy, to pass as `checkpoint=`.

    Raises
    ------
    TypeError
        If `snapshots` is not an integer.
    ValueError
        If `snapshots` < 1.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> def power(x):   # x ** 100, through 100 steps, storing 5 states
    ...     return cr.fori_loop(0, 100, lambda i, v: v * x, 1.0,
    ...                         checkpoint=cr.binomial(snapshots=5))
    >>> print(np.isclose(cr.grad(power)(1.01), 100 * 1.01 ** 99))
    True
    >>> cr.binomial(5).forward_steps(100)   # forward steps in all, against 99 storing all
    316
    """
    return Binomial(snapshots)
