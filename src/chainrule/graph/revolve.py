"""Loops under a checkpoint policy: `cr.fori_loop(..., checkpoint=cr.binomial(s))` and
`cr.scan(..., checkpoint=...)`. This module owns the primitives `binomial_scan` and
`binomial_scan_reverse`, their rules, and the runner that ops/control.py calls for such a loop
(`checkpointed_scan`, registered on import); the schedule itself, pure Python, is
chainrule.checkpoint's (`binomial_schedule`).

A checkpointed loop is staged like a scan in a graph, whatever the interpreter: the step is
traced once into a closed sub-graph (values it closes over become inputs of the equation, so
that they get cotangents under any interpreter), and one `binomial_scan` equation runs it:

- implementation: the compiled step, once per step (as `scan`);
- forward mode: the same primitive over the JVP of the step, tangents riding in the carry;
- reverse mode, a custom forward/backward pair: the forward pass runs every step once and
  returns, beside its results, only the states that the forward sweep of the binomial
  schedule stores (the carry entering each step listed in `keep`) and the last one; the
  backward pass is one `binomial_scan_reverse` equation, which follows the rest of the
  schedule: it restores stored states, runs steps forward again with the compiled step, and
  takes the VJP of one step at a time with the compiled VJP of the step, holding at most
  `snapshots` states whatever the number of steps;
- batching: the same primitive over the batched step.

`binomial_scan_reverse` is differentiated and batched like `while_loop_ad`: its parameter
`chain` lists the transforms applied to it, and its implementation runs the overload engine's
transforms over the schedule written with primitives. So a derivative of the backward pass
(grad of grad, a Hessian) is right; the outer reverse pass keeps what the inner backward pass
computed, which the inner one did not (it still stores only its snapshots).
"""
from __future__ import annotations

import functools
import itertools
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._core.primitive import Primitive, Tracer, dtype_of, numpy_values
from .._core.rules import Zero, def_custom_rule, def_rule
from ..checkpoint import Binomial, binomial_first_sweep, binomial_schedule
from ..ops import shape as S
from ..ops.control import _scan_abstract, _split3, set_checkpointed_scan
from .control import (
    _batch_size,
    _batched_all,
    _float_indices,
    _floating,
    _instantiate,
    _reorder,
    jvp_fn,
    jvp_graph,
    vjp_fn,
    vjp_graph,
    vmap_fn,
    vmap_graph,
)
from .ir import Graph, GraphError, Spec
from .trace import (
    ConcretizationError,
    scan_body,
)


class StepCounts:
    """How many steps the checkpointed loops ran, forward (`forward`: the forward passes and
    the steps run again by the backward passes) and reversed (`reverse`: one VJP of a step
    each), since the last `reset()`: for measuring a schedule (bench/binomial_checkpoint.py)."""

    __slots__ = ("forward", "reverse")

    def __init__(self) -> None:
        self.forward = 0
        self.reverse = 0

    def reset(self) -> None:
        """Set both counts to zero."""
        self.forward = 0
        self.reverse = 0


#: the steps run by every checkpointed loop of this process (not per thread: a count only)
STEPS = StepCounts()


# ---------------------------------------------------------------------------------------------
# the runner ops/control.py calls


def checkpointed_scan(policy: Any, f: Callable[[Any, Any], tuple[Any, Any]], init: Any,
                      xs: Any, length: int, reverse: bool) -> tuple[Any, Any]:
    """`scan(f, init, xs)` of `length` >= 1 steps under the checkpoint `policy`: the step
    traced into a closed sub-graph, one `binomial_scan` equation."""
    if not isinstance(policy, Binomial):
        raise TypeError(f"no checkpointed loop for the policy {type(policy).__name__}; use "
                        f"cr.binomial(snapshots=...)")
    try:
        g, consts, c_vals, x_vals, finish = scan_body(f, init, xs)
    except ConcretizationError as exc:
        raise ConcretizationError(f"{exc} (a loop with checkpoint={policy} runs its body as a "
                                  f"graph, traced once)") from None
    outs = binomial_scan_p.bind(*consts, *c_vals, *x_vals, body=g, n_consts=len(consts),
                                n_carry=len(c_vals), length=length, reverse=reverse,
                                snapshots=policy.snapshots, keep=())
    return finish(outs)


set_checkpointed_scan(checkpointed_scan)


# ---------------------------------------------------------------------------------------------
# binomial_scan: operands (constants, carry, xs), as scan's; the body maps (constants, carry,
# x) to (carry, y). Results: the carry, the stacked ys, then the carry entering each step of
# `keep` (the states a reverse pass needs; empty as the user binds it).


@functools.lru_cache(maxsize=256)
def _own_states(length: int, snapshots: int) -> tuple[tuple[int, ...], frozenset[int]]:
    """(the states the forward pass hands to the backward pass: those the schedule's forward
    sweep stores and the one it ends at, x_{n-1}; those of them that are snapshots)."""
    sweep = frozenset(binomial_first_sweep(length, snapshots))
    return tuple(sorted((sweep | {length - 1}) - {0})), sweep


def _data_index(k: int, length: int, reverse: bool) -> int:
    """The slice of xs (and ys) that step k, in the order the steps run, reads (and writes)."""
    return length - 1 - k if reverse else k


def _scan_impl(*args: Any, body: Graph, n_consts: int, n_carry: int, length: int,
               reverse: bool, snapshots: int, keep: tuple[int, ...]) -> list[Any]:
    consts, carry, xs = _split3(args, n_consts, n_carry)
    step = body.compiled_for(args)
    y_avals = body.out_avals()[n_carry:]
    own = numpy_values(args)  # (another library's ys are stacked by it, from rows)
    ys: list[Any] = ([np.empty((length,) + s, d) for s, d in y_avals] if own
                     else [[None] * length for _ in y_avals])
    wanted: dict[int, list[int]] = {}
    for k, p in enumerate(keep):
        wanted.setdefault(p, []).append(k)
    kept: list[Any] = [None] * len(keep)
    for k in range(length):
        for h in wanted.get(k, ()):
            kept[h] = carry
        i = _data_index(k, length, reverse)
        out = step(*consts, *carry, *[x[i] for x in xs])
        carry = out[:n_carry]
        for y, v in zip(ys, out[n_carry:]):
            y[i] = v
    STEPS.forward += length
    if not own:
        ys = [np.stack(rows) for rows in ys]
    return list(carry) + ys + [leaf for state in kept for leaf in state]


def _scan_avals(*args: Any, body: Graph, n_consts: int, n_carry: int, length: int,
                reverse: bool, snapshots: int, keep: tuple[int, ...]) -> list[Any]:
    outs = _scan_abstract(*args, body=body, n_consts=n_consts, n_carry=n_carry,
                          length=length, reverse=reverse)
    for p in keep:
        if not 0 <= p < length:
            raise GraphError(f"binomial_scan: keeps the state entering step {p} of {length}")
    return outs + outs[:n_carry] * len(keep)


def _scan_jvp(primals: list[Any], tangents: list[Any], *, body: Graph, n_consts: int,
              n_carry: int, length: int, reverse: bool, snapshots: int, keep: tuple[int, ...]
              ) -> tuple[list[Any], list[Any]]:
    """The same loop over the JVP of the step: (constants, their tangents), (carry, its
    tangents), (xs, their tangents) in, (carry, tangents), (ys, tangents) and each kept
    (carry, tangents) out."""
    consts, carry, xs = _split3(primals, n_consts, n_carry)
    dconsts, dcarry, dxs = _split3(tangents, n_consts, n_carry)
    km, cm, xm = _float_indices(consts), _float_indices(carry), _float_indices(xs)
    nk, nc, nx = len(consts), len(carry), len(xs)
    g = jvp_graph(body, km + [nk + i for i in cm] + [nk + nc + i for i in xm])
    base = nk + nc + nx  # its inputs: consts carry xs dconsts dcarry dxs, grouped by role
    order = (list(range(nk)) + [base + k for k in range(len(km))]
             + list(range(nk, nk + nc)) + [base + len(km) + k for k in range(len(cm))]
             + list(range(nk + nc, base))
             + [base + len(km) + len(cm) + k for k in range(len(xm))])
    outs = body.out_avals()
    ny = len(outs) - nc
    yf = [j for j in range(ny) if _floating(outs[nc + j][1])]
    n_out = nc + ny  # its outputs: carry ys dcarry dys -> carry dcarry ys dys
    out_order = (list(range(nc)) + [n_out + k for k in range(len(cm))]
                 + list(range(nc, n_out)) + [n_out + len(cm) + k for k in range(len(yf))])
    out = binomial_scan_p.bind(
        *consts, *[_instantiate(dconsts[i], consts[i]) for i in km],
        *carry, *[_instantiate(dcarry[i], carry[i]) for i in cm],
        *xs, *[_instantiate(dxs[i], xs[i]) for i in xm],
        body=_reorder(g, order, out_order), n_consts=nk + len(km), n_carry=nc + len(cm),
        length=length, reverse=reverse, snapshots=snapshots, keep=keep)
    width = nc + len(cm)  # (a carry of the new loop: the carry, then its tangents)

    def split(state: Sequence[Any]) -> tuple[list[Any], list[Any]]:
        dstate: list[Any] = [Zero] * nc
        for i, d in zip(cm, state[nc:]):
            dstate[i] = d
        return list(state[:nc]), dstate

    c_out, dc_out = split(out[:width])
    y_out, dy_flat = out[width:width + ny], out[width + ny:width + ny + len(yf)]
    dys: list[Any] = [Zero] * ny
    for j, d in zip(yf, dy_flat):
        dys[j] = d
    primal, tangent = c_out + list(y_out), dc_out + dys
    rest = out[width + ny + len(yf):]
    for k in range(len(keep)):
        p, d = split(rest[k * width:(k + 1) * width])
        primal += p
        tangent += d
    return primal, tangent


def _scan_fwd(*args: Any, **params: Any) -> tuple[list[Any], Any]:
    """The forward pass of reverse mode: the loop, also keeping the states the schedule's
    forward sweep stores (after those the caller already keeps)."""
    own, _ = _own_states(params["length"], params["snapshots"])
    out = binomial_scan_p.bind(*args, **{**params, "keep": params["keep"] + own})
    n_ans = len(out) - len(own) * params["n_carry"]
    return out[:n_ans], (args, out[n_ans:])


def _scan_bwd(res: Any, ct: list[Any], needed: list[int], *, body: Graph, n_consts: int,
              n_carry: int, length: int, reverse: bool, snapshots: int, keep: tuple[int, ...]
              ) -> list[Any]:
    args, states = res
    consts, init, xs = _split3(args, n_consts, n_carry)
    nk, nc = len(consts), len(init)
    outs = body.out_avals()
    cf = [j for j in range(nc) if _floating(outs[j][1])]
    yf = [j for j in range(nc, len(outs)) if _floating(outs[j][1])]
    ny = len(outs) - nc
    need = set(needed)
    # the step's VJP goes to the needed float constants and xs, and always to the float carry
    mask = tuple([i for i in _float_indices(consts) if i in need] + [nk + j for j in cf]
                 + [nk + nc + i for i in _float_indices(xs) if nk + nc + i in need])
    ct_kept = [ct[nc + ny + k * nc + j] for k in range(len(keep)) for j in cf]
    own, _ = _own_states(length, snapshots)
    got = binomial_scan_reverse_p.bind(
        *args, *states, *[ct[j] for j in cf], *[ct[j] for j in yf], *ct_kept,
        body=body, n_consts=n_consts, n_carry=n_carry, length=length, reverse=reverse,
        snapshots=snapshots, states=own, ct_at=keep, mask=mask, chain=())
    result: list[Any] = [None] * len(args)
    for i, g in zip(mask, got):  # (the body's inputs are the loop's operands, in order)
        if i in need:
            result[i] = g
    return result


def _scan_batch(args: list[Any], batched: tuple[bool, ...], *, body: Graph, n_consts: int,
                n_carry: int, length: int, reverse: bool, snapshots: int,
                keep: tuple[int, ...]) -> list[Any]:
    size = _batch_size(args, batched)
    consts, carry, xs = _split3(args, n_consts, n_carry)
    fk, fc, fx = _split3(batched, n_consts, n_carry)
    carry = _batched_all(carry, fc, size)
    xs = [S.moveaxis(x, 0, 1) if b else x for x, b in zip(xs, fx)]  # time first, then batch
    g = vmap_graph(body, list(fk) + [True] * len(carry) + list(fx), size)
    out = binomial_scan_p.bind(*consts, *carry, *xs, body=g, n_consts=n_consts,
                               n_carry=n_carry, length=length, reverse=reverse,
                               snapshots=snapshots, keep=keep)
    n_ys = len(body.outputs) - n_carry
    ys = [S.moveaxis(y, 1, 0) for y in out[n_carry:n_carry + n_ys]]
    return list(out[:n_carry]) + ys + list(out[n_carry + n_ys:])


binomial_scan_p = Primitive("binomial_scan", _scan_impl, _scan_avals, multiple_results=True)
def_custom_rule(binomial_scan_p, fwd=_scan_fwd, bwd=_scan_bwd)
def_rule(binomial_scan_p, jvp=_scan_jvp, batch=_scan_batch)


# ---------------------------------------------------------------------------------------------
# binomial_scan_reverse: the backward pass. Operands: constants, initial carry, xs, the
# states handed over by the forward pass (one carry per position of `states`), the cotangents
# of the float carries out, of the float ys (stacked), and of the float part of the carry at
# each position of `ct_at` (the states a forward pass kept for an outer derivative). Results:
# the cotangents of the body's inputs listed in `mask` (constants, the carry: all its float
# leaves, xs: stacked), then whatever the transforms of `chain` make of them.

#: the VJP graph of each body, per mask (kept while the body lives: one per loop equation)
_VJPS: weakref.WeakKeyDictionary[Graph, dict[tuple[int, ...], Graph]] = \
    weakref.WeakKeyDictionary()


def _step_vjp(body: Graph, mask: tuple[int, ...]) -> Graph:
    """(body's inputs, cotangents of its float outputs) -> cotangents of its inputs `mask`."""
    per_body = _VJPS.setdefault(body, {})
    g = per_body.get(mask)
    if g is None:
        g = per_body[mask] = vjp_graph(body, mask)
    return g


def _reverse_base(body: Graph, n_consts: int, n_carry: int, length: int, reverse: bool,
                  snapshots: int, states: tuple[int, ...], ct_at: tuple[int, ...],
                  mask: tuple[int, ...]) -> Callable[..., list[Any]]:
    """The backward pass as a function of the flat operands, written with primitives (so that
    the overload engine's transforms go through it); on plain values it runs compiled code."""
    outs = body.out_avals()
    cf = [j for j in range(n_carry) if _floating(outs[j][1])]
    yf = [j for j in range(n_carry, len(outs)) if _floating(outs[j][1])]
    km = [i for i in mask if i < n_consts]
    xm = [i - n_consts - n_carry for i in mask if i >= n_consts + n_carry]
    pull_graph = _step_vjp(body, mask)
    _, sweep = _own_states(length, snapshots)
    extra: dict[int, list[int]] = {}
    for k, p in enumerate(ct_at):
        extra.setdefault(p, []).append(k)

    def backward(*ops: Any) -> list[Any]:
        nk, nc, nf = n_consts, n_carry, len(cf)
        consts, init = list(ops[:nk]), list(ops[nk:nk + nc])
        at = nk + nc
        nx = len(body.inputs) - nk - nc
        xs = list(ops[at:at + nx])
        at += nx
        given = [list(ops[at + k * nc:at + (k + 1) * nc]) for k in range(len(states))]
        at += len(states) * nc
        ct_c = list(ops[at:at + nf])
        at += nf
        ct_ys = list(ops[at:at + len(yf)])
        at += len(yf)
        ct_extra = [list(ops[at + k * nf:at + (k + 1) * nf]) for k in range(len(ct_at))]
        traced = any(isinstance(v, Tracer) for v in ops)
        step = body.run_flat if traced else body.compiled_for(ops)
        pull = pull_graph.run_flat if traced else pull_graph.compiled_for(ops)
        by_position = dict(zip(states, given))
        # the snapshots the forward sweep stored, and the state it ended at (x_{n-1})
        stored = {0: init, **{p: s for p, s in by_position.items() if p in sweep}}
        current, at_step = by_position.get(length - 1, init), length - 1
        acc: list[Any] = [None] * len(km)
        rows: list[list[Any]] = [[None] * length for _ in xm]
        actions = binomial_schedule(length, snapshots)
        # (the forward sweep, up to the first reversal, was the forward pass's)
        first = next(a for a in actions if a[0] == "reverse")
        for action in itertools.chain((first,), actions):
            kind = action[0]
            if kind == "reverse":
                j = action[1]
                if at_step != j:  # (a schedule that breaks its own invariant: never)
                    raise GraphError(f"binomial schedule: reversing step {j} at state {at_step}")
                i = _data_index(j, length, reverse)
                got = pull(*consts, *current, *[x[i] for x in xs], *ct_c,
                           *[c[i] for c in ct_ys])
                for k, g in enumerate(got[:len(km)]):
                    acc[k] = g if acc[k] is None else acc[k] + g
                ct_c = list(got[len(km):len(km) + nf])
                for k in extra.get(j, ()):
                    ct_c = [a + b for a, b in zip(ct_c, ct_extra[k])]
                for row, g in zip(rows, got[len(km) + nf:]):
                    row[i] = g
                current, at_step = None, -1
                STEPS.reverse += 1
            elif kind == "advance":
                if at_step != action[1]:
                    raise GraphError(f"binomial schedule: advancing from step {action[1]} at "
                                     f"state {at_step}")
                for k in range(action[1], action[2]):
                    i = _data_index(k, length, reverse)
                    current = step(*consts, *current, *[x[i] for x in xs])[:nc]
                at_step = action[2]
                STEPS.forward += action[2] - action[1]
            elif kind == "restore":
                current, at_step = stored[action[1]], action[1]
            elif kind == "store":
                stored[action[1]] = current
            else:  # "free"
                del stored[action[1]]
        return acc + ct_c + [S.stack(row) for row in rows]

    return backward


def _reverse_avals(body: Graph, n_consts: int, n_carry: int, length: int, mask: tuple[int, ...],
                   states: tuple[int, ...], ct_at: tuple[int, ...], chain: tuple
                   ) -> tuple[list[Spec], list[Spec]]:
    """Operand and result types of the backward pass after each transform of `chain`."""
    ins = body.in_avals()
    outs = [Spec(*o) for o in body.out_avals()]
    nk, nc = n_consts, n_carry
    carry, cf = ins[nk:nk + nc], [outs[j] for j in range(nc) if _floating(outs[j].dtype)]
    stacked = [Spec((length,) + a.shape, a.dtype) for a in ins[nk + nc:]]
    ys = [Spec((length,) + o.shape, o.dtype) for o in outs[nc:] if _floating(o.dtype)]
    operands = ins[:nk] + carry + stacked + carry * len(states) + cf + ys + cf * len(ct_at)
    results = [ins[i] if i < nk + nc else stacked[i - nk - nc] for i in mask]
    for step in chain:
        kind = step[0]
        if kind == "jvp":
            operands = operands + [operands[i] for i in step[1]]
            results = results + [r for r in results if _floating(r.dtype)]
        elif kind == "vjp":
            operands, results = (operands + [r for r in results if _floating(r.dtype)],
                                 [operands[i] for i in step[1]])
        elif kind == "vmap":
            n = step[2]
            operands = [Spec((n,) + a.shape, a.dtype) if b else a
                        for a, b in zip(operands, step[1])]
            results = [Spec((n,) + r.shape, r.dtype) for r in results]
        else:
            raise GraphError(f"binomial_scan_reverse: unknown transform {kind!r} in its chain")
    return operands, results


def _reverse_fn(body: Graph, n_consts: int, n_carry: int, length: int, reverse: bool,
                snapshots: int, states: tuple[int, ...], ct_at: tuple[int, ...],
                mask: tuple[int, ...], chain: tuple) -> Callable[..., list[Any]]:
    f = _reverse_base(body, n_consts, n_carry, length, reverse, snapshots, states, ct_at, mask)
    for k, step in enumerate(chain):
        ins, outs = _reverse_avals(body, n_consts, n_carry, length, mask, states, ct_at,
                                   chain[:k])
        fl = [j for j, o in enumerate(outs) if _floating(o.dtype)]
        if step[0] == "jvp":
            f = jvp_fn(f, len(ins), step[1], fl)
        elif step[0] == "vjp":
            f = vjp_fn(f, len(ins), step[1], fl)
        else:
            f = vmap_fn(f, step[1], step[2])
    return f


def _reverse_impl(*args: Any, body: Graph, n_consts: int, n_carry: int, length: int,
                  reverse: bool, snapshots: int, states: tuple[int, ...],
                  ct_at: tuple[int, ...], mask: tuple[int, ...], chain: tuple) -> list[Any]:
    return _reverse_fn(body, n_consts, n_carry, length, reverse, snapshots, states, ct_at,
                       mask, chain)(*args)


def _reverse_abstract(*args: Any, body: Graph, n_consts: int, n_carry: int, length: int,
                      reverse: bool, snapshots: int, states: tuple[int, ...],
                      ct_at: tuple[int, ...], mask: tuple[int, ...], chain: tuple
                      ) -> list[Any]:
    ins, outs = _reverse_avals(body, n_consts, n_carry, length, mask, states, ct_at, chain)
    if len(args) != len(ins):
        raise GraphError(f"binomial_scan_reverse: takes {len(ins)} inputs, given {len(args)}")
    return [(o.shape, o.dtype) for o in outs]


def _results(params: dict[str, Any]) -> list[Spec]:
    keys = ("body", "n_consts", "n_carry", "length", "mask", "states", "ct_at", "chain")
    return _reverse_avals(*[params[k] for k in keys])[1]


def _reverse_jvp(primals: list[Any], tangents: list[Any], **params: Any
                 ) -> tuple[list[Any], list[Any]]:
    mask = tuple(_float_indices(primals))
    outs = _results(params)
    out = binomial_scan_reverse_p.bind(
        *primals, *[_instantiate(tangents[i], primals[i]) for i in mask],
        **{**params, "chain": params["chain"] + (("jvp", mask),)})
    n = len(outs)
    douts = iter(out[n:])
    return out[:n], [next(douts) if _floating(o.dtype) else Zero for o in outs]


def _reverse_fwd(*args: Any, **params: Any) -> tuple[list[Any], Any]:
    return binomial_scan_reverse_p.bind(*args, **params), args


def _reverse_bwd(res: Any, ct: list[Any], needed: list[int], **params: Any) -> list[Any]:
    mask = tuple(i for i in needed if _floating(dtype_of(res[i])))
    cts = [c for c, o in zip(ct, _results(params)) if _floating(o.dtype)]
    got = binomial_scan_reverse_p.bind(*res, *cts,
                                       **{**params, "chain": params["chain"] + (("vjp", mask),)})
    result: list[Any] = [None] * len(res)
    for i, g in zip(mask, got):
        result[i] = g
    return result


def _reverse_batch(args: list[Any], batched: tuple[bool, ...], **params: Any) -> list[Any]:
    size = _batch_size(args, batched)
    chain = params["chain"] + (("vmap", tuple(batched), size),)
    return binomial_scan_reverse_p.bind(*args, **{**params, "chain": chain})


binomial_scan_reverse_p = Primitive("binomial_scan_reverse", _reverse_impl, _reverse_abstract,
                                    multiple_results=True)
def_custom_rule(binomial_scan_reverse_p, fwd=_reverse_fwd, bwd=_reverse_bwd)
def_rule(binomial_scan_reverse_p, jvp=_reverse_jvp, batch=_reverse_batch)
