"""The rules of structured control flow in graphs: `cond`, `while_loop` and `scan` equations
hold their branches and bodies as sub-graphs.

A graph has no values while it is built, so a loop cannot be unrolled and a branch cannot be
chosen: `cr.cond`, `cr.while_loop`, `cr.fori_loop` and `cr.scan` called while a graph is being
traced hand their functions to the open GraphTrace (its `stage_*` hooks, graph/trace.py), which
traces them once into closed sub-graphs (values they reach through a closure become explicit
inputs) and records a single equation. The primitives `cond`, `while_loop` and `scan` are
declared in ops/control.py (name, implementation, abstract evaluation, all through a few methods
of the sub-graph); their rules transform sub-graphs, so the graph engine attaches them here with
`def_rule` and `def_custom_rule`. `while_loop_ad` is declared here whole: its implementation runs
the loop under the overload engine's transforms. The rules build new sub-graphs:

- forward mode: the same node over the JVP of its sub-graphs (tangents ride in the carry);
- `cond` in reverse: a `cond` over the VJPs of the branches;
- `scan` in reverse: the forward scan also stacks the carry entering each step, and a reverse
  scan runs the VJP of the body over those, accumulating the cotangents of the constants;
- `while_loop` in reverse: the trip count is unknown until it runs, so the backward node
  (`while_loop_ad`) runs the loop again on a tape, which keeps what each iteration needs, and
  pulls the cotangent back through it. Its own derivatives and batching compose the same way
  (its `chain` parameter lists the transforms applied), so any order works;
- batching: the node over the batched sub-graphs; a batched predicate makes `cond` take both
  branches and select per example, and `while_loop` step on while any example still runs.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._core.primitive import Primitive, dtype_of, shape_of, zeros_like
from .._core.rules import Zero, def_custom_rule, def_rule
from ..ops import elementwise as E
from ..ops import reduce as R
from ..ops import shape as S
from ..ops.control import _split3, cond_p, python_while, scan_p, while_p
from ..overload import transforms as overload
from .ir import Graph, GraphError, Spec, Var
from .trace import closed_graph, spec_of

# ---------------------------------------------------------------------------------------------
# sub-graphs


def _floating(dtype: Any) -> bool:
    return np.dtype(dtype).kind in "fc"


def _reorder(g: Graph, inputs: list[int], outputs: list[int] | None = None) -> Graph:
    """The same graph with its inputs (and outputs) permuted."""
    outs = g.outputs if outputs is None else [g.outputs[k] for k in outputs]
    return Graph([g.inputs[k] for k in inputs], g.eqns, list(outs))


def _with_unused_inputs(g: Graph, avals: Sequence[Any], at: int) -> Graph:
    """`g` taking extra inputs it ignores, inserted at position `at`."""
    extra = [Var(tuple(a.shape), a.dtype) for a in avals]
    return Graph(g.inputs[:at] + extra + g.inputs[at:], g.eqns, list(g.outputs))


# ---------------------------------------------------------------------------------------------
# transforms of flat functions (lists in, lists out), shared by sub-graphs and while_loop_ad


def jvp_fn(f: Callable[..., list[Any]], n: int, mask: Sequence[int],
           out_float: Sequence[int]) -> Callable[..., list[Any]]:
    """(xs, tangents of xs[mask]) -> outputs + tangents of the outputs `out_float`."""
    def pushforward(*a: Any) -> list[Any]:
        xs = list(a[:n])

        def along(*d: Any) -> list[Any]:
            ys = list(xs)
            for i, v in zip(mask, d):
                ys[i] = v
            return list(f(*ys))

        outs, douts = overload.jvp(along, tuple(xs[i] for i in mask), tuple(a[n:]))
        return list(outs) + [douts[j] for j in out_float]

    return pushforward


def vjp_fn(f: Callable[..., list[Any]], n: int, mask: Sequence[int],
           out_float: Sequence[int]) -> Callable[..., list[Any]]:
    """(xs, cotangents of the outputs `out_float`) -> cotangents of xs[mask]."""
    def pullback(*a: Any) -> list[Any]:
        xs = list(a[:n])

        def along(*d: Any) -> list[Any]:
            ys = list(xs)
            for i, v in zip(mask, d):
                ys[i] = v
            outs = f(*ys)
            return [outs[j] for j in out_float]

        _, pull = overload.vjp(along, *[xs[i] for i in mask])
        return list(pull(list(a[n:])))

    return pullback


def vmap_fn(f: Callable[..., list[Any]], batched: Sequence[bool], size: int
            ) -> Callable[..., list[Any]]:
    """The batched function: inputs flagged in `batched` carry a leading batch axis of `size`;
    every output does."""
    if not any(batched):
        return lambda *a: [S.broadcast_to(o, (size,) + shape_of(o)) for o in f(*a)]
    return lambda *a: list(overload.vmap(lambda *x: list(f(*x)), in_axes=tuple(
        0 if b else None for b in batched))(*a))


def jvp_graph(g: Graph, mask: Sequence[int]) -> Graph:
    fl = [j for j, (_, d) in enumerate(g.out_avals()) if _floating(d)]
    avals = g.in_avals()
    return closed_graph(jvp_fn(g.run_flat, len(avals), mask, fl),
                        avals + [avals[i] for i in mask])[0]


def vjp_graph(g: Graph, mask: Sequence[int]) -> Graph:
    outs = g.out_avals()
    fl = [j for j, (_, d) in enumerate(outs) if _floating(d)]
    return closed_graph(vjp_fn(g.run_flat, len(g.inputs), mask, fl),
                        g.in_avals() + [Spec(*outs[j]) for j in fl])[0]


def vmap_graph(g: Graph, batched: Sequence[bool], size: int) -> Graph:
    avals = [Spec((size,) + a.shape, a.dtype) if b else a
             for a, b in zip(g.in_avals(), batched)]
    return closed_graph(vmap_fn(g.run_flat, batched, size), avals)[0]


def _float_indices(xs: Sequence[Any]) -> list[int]:
    return [i for i, x in enumerate(xs) if _floating(dtype_of(x))]


def _instantiate(t: Any, x: Any) -> Any:
    return zeros_like(x) if t is Zero else t


def _batch_size(args: Sequence[Any], batched: Sequence[bool]) -> int:
    return next(shape_of(a)[0] for a, b in zip(args, batched) if b)


def _batched_all(xs: Sequence[Any], flags: Sequence[bool], size: int) -> list[Any]:
    return [x if b else S.broadcast_to(x, (size,) + shape_of(x)) for x, b in zip(xs, flags)]


def _per_example(pred: Any, x: Any) -> Any:
    """A batch of scalar predicates shaped to broadcast against a batch of `x`s."""
    nd = len(shape_of(x)) - 1
    return S.reshape(pred, shape_of(pred) + (1,) * nd) if nd else pred


def _select_all(pred: Any, on_true: Sequence[Any], on_false: Sequence[Any]) -> list[Any]:
    return [E.select(_per_example(pred, a), a, b) for a, b in zip(on_true, on_false)]


# ---------------------------------------------------------------------------------------------
# cond


def _cond_jvp(primals: list[Any], tangents: list[Any], *, branches: tuple[Graph, Graph]
              ) -> tuple[list[Any], list[Any]]:
    pred, ops = primals[0], primals[1:]
    mask = _float_indices(ops)
    dops = [_instantiate(tangents[1 + i], ops[i]) for i in mask]
    new = tuple(jvp_graph(g, mask) for g in branches)
    out = cond_p.bind(pred, *ops, *dops, branches=new)
    n = len(branches[0].outputs)
    douts = iter(out[n:])
    return out[:n], [next(douts) if _floating(d) else Zero for _, d in branches[0].out_avals()]


def _cond_fwd(*args: Any, branches: tuple[Graph, Graph]) -> tuple[list[Any], Any]:
    return cond_p.bind(*args, branches=branches), args


def _cond_bwd(res: Any, ct: list[Any], needed: list[int], *, branches: tuple[Graph, Graph]
              ) -> list[Any]:
    pred, ops = res[0], res[1:]
    mask = [i - 1 for i in needed if i > 0 and _floating(dtype_of(res[i]))]
    outs = branches[0].out_avals()
    cts = [c for c, (_, d) in zip(ct, outs) if _floating(d)]
    got = cond_p.bind(pred, *ops, *cts, branches=tuple(vjp_graph(g, mask) for g in branches))
    result: list[Any] = [None] * len(res)
    for i, g in zip(mask, got):
        result[1 + i] = g
    return result


def _cond_batch(args: list[Any], batched: tuple[bool, ...], *, branches: tuple[Graph, Graph]
                ) -> list[Any]:
    size = _batch_size(args, batched)
    pred, ops = args[0], args[1:]
    new = [vmap_graph(g, batched[1:], size) for g in branches]
    if not batched[0]:
        return cond_p.bind(pred, *ops, branches=tuple(new))
    # examples disagree: take both ways and choose per example
    return _select_all(pred, new[1].run_flat(*ops), new[0].run_flat(*ops))


def_custom_rule(cond_p, fwd=_cond_fwd, bwd=_cond_bwd)
def_rule(cond_p, jvp=_cond_jvp, batch=_cond_batch)


# ---------------------------------------------------------------------------------------------
# while_loop


def _while_jvp(primals: list[Any], tangents: list[Any], *, cond: Graph, body: Graph,
               n_cond: int, n_body: int) -> tuple[list[Any], list[Any]]:
    cc, bc, init = _split3(primals, n_cond, n_body)
    _, dbc, dinit = _split3(tangents, n_cond, n_body)
    bm, cm = _float_indices(bc), _float_indices(init)
    nb, nc = len(bc), len(init)
    # body over (consts, carry) with tangents appended, reordered to (consts, dconsts, carry,
    # dcarry) -> (carry, dcarry)
    g = jvp_graph(body, bm + [nb + i for i in cm])
    order = (list(range(nb)) + [nb + nc + k for k in range(len(bm))] + list(range(nb, nb + nc))
             + [nb + nc + len(bm) + k for k in range(len(cm))])
    new_body = _reorder(g, order)
    new_cond = _with_unused_inputs(cond, [spec_of(init[i]) for i in cm], len(cond.inputs))
    out = while_p.bind(*cc, *bc, *[_instantiate(dbc[i], bc[i]) for i in bm], *init,
                       *[_instantiate(dinit[i], init[i]) for i in cm],
                       cond=new_cond, body=new_body, n_cond=n_cond, n_body=nb + len(bm))
    dout: list[Any] = [Zero] * nc
    for i, d in zip(cm, out[nc:]):
        dout[i] = d
    return out[:nc], dout


def _while_fwd(*args: Any, **params: Any) -> tuple[list[Any], Any]:
    return while_p.bind(*args, **params), args


def _while_bwd(res: Any, ct: list[Any], needed: list[int], *, cond: Graph, body: Graph,
               n_cond: int, n_body: int) -> list[Any]:
    mask = [i for i in needed if _floating(dtype_of(res[i]))]
    carry = res[n_cond + n_body:]
    cts = [ct[j] for j in _float_indices(carry)]
    got = while_ad_p.bind(*res, *cts, cond=cond, body=body, n_cond=n_cond, n_body=n_body,
                          chain=(("vjp", tuple(mask)),))
    result: list[Any] = [None] * len(res)
    for i, g in zip(mask, got):
        result[i] = g
    return result


def _while_batch(args: list[Any], batched: tuple[bool, ...], *, cond: Graph, body: Graph,
                 n_cond: int, n_body: int) -> list[Any]:
    size = _batch_size(args, batched)
    cc, bc, init = _split3(args, n_cond, n_body)
    fc, fb, _ = _split3(batched, n_cond, n_body)
    carry = _batched_all(init, [b for b in batched[n_cond + n_body:]], size)
    test = vmap_graph(cond, list(fc) + [True] * len(carry), size)
    step = vmap_graph(body, list(fb) + [True] * len(carry), size)
    nc, nb = len(cc), len(bc)

    def any_running(*a: Any) -> list[Any]:
        return [R.max(test.run_flat(*a)[0])]

    def step_running(*a: Any) -> list[Any]:
        c = list(a[nc + nb:])
        running = test.run_flat(*a[:nc], *c)[0]
        return _select_all(running, step.run_flat(*a[nc:nc + nb], *c), c)

    new_cond = closed_graph(any_running, [spec_of(x) for x in cc + carry])[0]
    new_body = closed_graph(step_running, [spec_of(x) for x in cc + bc + carry])[0]
    return while_p.bind(*cc, *cc, *bc, *carry, cond=new_cond, body=new_body, n_cond=nc,
                        n_body=nc + nb)


def_custom_rule(while_p, fwd=_while_fwd, bwd=_while_bwd)
def_rule(while_p, jvp=_while_jvp, batch=_while_batch)


# while_loop_ad: a transformed while loop, run on a tape when its values exist

def _while_base(cond: Graph, body: Graph, n_cond: int, n_body: int
                ) -> Callable[..., list[Any]]:
    """The loop as Python over interpreted sub-graphs: differentiable by every interpreter."""
    def loop(*args: Any) -> list[Any]:
        cc, bc, carry = _split3(args, n_cond, n_body)
        return list(python_while(lambda c: cond.run_flat(*cc, *c)[0],
                                 lambda c: body.run_flat(*bc, *c), carry))

    return loop


#: most operands or results a while_loop_ad may have: each forward-mode step doubles its
#: results (tangents of tangents), so a chain of a few hundred bytes could otherwise describe
#: 2**40 of them (a graph file is checked with this before anything is built)
MAX_CHAIN_VALUES = 100_000


def _chain_avals(cond: Graph, body: Graph, n_cond: int, n_body: int, chain: tuple
                 ) -> tuple[list[Spec], list[Spec]]:
    """Input and output types of the loop after each transform of `chain`."""
    ins = cond.in_avals()[:n_cond] + body.in_avals()
    outs = body.in_avals()[n_body:]
    for k, step in enumerate(chain):
        if len(ins) > MAX_CHAIN_VALUES or len(outs) > MAX_CHAIN_VALUES:
            raise GraphError(f"while_loop_ad: after {k} of its {len(chain)} transforms the loop "
                             f"already has {len(ins)} operands and {len(outs)} results (at "
                             f"most {MAX_CHAIN_VALUES}); a chain this long is not a program's")
        kind = step[0]
        if kind == "jvp":
            ins = ins + [ins[i] for i in step[1]]
            outs = outs + [o for o in outs if _floating(o.dtype)]
        elif kind == "vjp":
            ins, outs = ins + [o for o in outs if _floating(o.dtype)], [ins[i] for i in step[1]]
        elif kind == "vmap":
            n = step[2]
            ins = [Spec((n,) + a.shape, a.dtype) if b else a for a, b in zip(ins, step[1])]
            outs = [Spec((n,) + o.shape, o.dtype) for o in outs]
        else:
            raise GraphError(f"while_loop_ad: unknown transform {kind!r} in its chain")
    return ins, outs


def _while_ad_fn(cond: Graph, body: Graph, n_cond: int, n_body: int, chain: tuple
                 ) -> Callable[..., list[Any]]:
    f = _while_base(cond, body, n_cond, n_body)
    ins, outs = _chain_avals(cond, body, n_cond, n_body, ())
    for k, step in enumerate(chain):
        fl = [j for j, o in enumerate(outs) if _floating(o.dtype)]
        if step[0] == "jvp":
            f = jvp_fn(f, len(ins), step[1], fl)
        elif step[0] == "vjp":
            f = vjp_fn(f, len(ins), step[1], fl)
        else:
            f = vmap_fn(f, step[1], step[2])
        ins, outs = _chain_avals(cond, body, n_cond, n_body, chain[:k + 1])
    return f


def _while_ad_impl(*args: Any, cond: Graph, body: Graph, n_cond: int, n_body: int,
                   chain: tuple) -> list[Any]:
    return _while_ad_fn(cond, body, n_cond, n_body, chain)(*args)


def _while_ad_abstract(*args: Any, cond: Graph, body: Graph, n_cond: int, n_body: int,
                       chain: tuple) -> list[Any]:
    ins, outs = _chain_avals(cond, body, n_cond, n_body, chain)
    if len(args) != len(ins):
        raise GraphError(f"while_loop_ad: takes {len(ins)} inputs, given {len(args)}")
    return [(o.shape, o.dtype) for o in outs]


def _while_ad_jvp(primals: list[Any], tangents: list[Any], *, chain: tuple, **params: Any
                  ) -> tuple[list[Any], list[Any]]:
    mask = _float_indices(primals)
    _, outs = _chain_avals(chain=chain, **params)
    out = while_ad_p.bind(*primals, *[_instantiate(tangents[i], primals[i]) for i in mask],
                          chain=chain + (("jvp", tuple(mask)),), **params)
    n = len(outs)
    douts = iter(out[n:])
    return out[:n], [next(douts) if _floating(o.dtype) else Zero for o in outs]


def _while_ad_fwd(*args: Any, **params: Any) -> tuple[list[Any], Any]:
    return while_ad_p.bind(*args, **params), args


def _while_ad_bwd(res: Any, ct: list[Any], needed: list[int], *, chain: tuple, **params: Any
                  ) -> list[Any]:
    mask = [i for i in needed if _floating(dtype_of(res[i]))]
    _, outs = _chain_avals(chain=chain, **params)
    cts = [c for c, o in zip(ct, outs) if _floating(o.dtype)]
    got = while_ad_p.bind(*res, *cts, chain=chain + (("vjp", tuple(mask)),), **params)
    result: list[Any] = [None] * len(res)
    for i, g in zip(mask, got):
        result[i] = g
    return result


def _while_ad_batch(args: list[Any], batched: tuple[bool, ...], *, chain: tuple, **params: Any
                    ) -> list[Any]:
    size = _batch_size(args, batched)
    return while_ad_p.bind(*args, chain=chain + (("vmap", tuple(batched), size),), **params)


while_ad_p = Primitive("while_loop_ad", _while_ad_impl, _while_ad_abstract,
                       multiple_results=True)
def_custom_rule(while_ad_p, fwd=_while_ad_fwd, bwd=_while_ad_bwd)
def_rule(while_ad_p, jvp=_while_ad_jvp, batch=_while_ad_batch)


# ---------------------------------------------------------------------------------------------
# scan


def _scan_split(args: Sequence[Any], n_consts: int, n_carry: int
                ) -> tuple[list[Any], list[Any], list[Any]]:
    return _split3(args, n_consts, n_carry)


def _scan_jvp(primals: list[Any], tangents: list[Any], *, body: Graph, n_consts: int,
              n_carry: int, length: int, reverse: bool) -> tuple[list[Any], list[Any]]:
    consts, carry, xs = _scan_split(primals, n_consts, n_carry)
    dconsts, dcarry, dxs = _scan_split(tangents, n_consts, n_carry)
    km, cm, xm = _float_indices(consts), _float_indices(carry), _float_indices(xs)
    nk, nc, nx = len(consts), len(carry), len(xs)
    g = jvp_graph(body, km + [nk + i for i in cm] + [nk + nc + i for i in xm])
    base = nk + nc + nx  # inputs: consts carry xs dconsts dcarry dxs -> grouped by role
    order = (list(range(nk)) + [base + k for k in range(len(km))]
             + list(range(nk, nk + nc)) + [base + len(km) + k for k in range(len(cm))]
             + list(range(nk + nc, base)) + [base + len(km) + len(cm) + k
                                              for k in range(len(xm))])
    outs = body.out_avals()
    ny = len(outs) - nc
    yf = [j for j in range(ny) if _floating(outs[nc + j][1])]
    n_out = nc + ny  # outputs: carry ys dcarry dys -> carry dcarry ys dys
    out_order = (list(range(nc)) + [n_out + k for k in range(len(cm))]
                 + list(range(nc, n_out)) + [n_out + len(cm) + k for k in range(len(yf))])
    new = _reorder(g, order, out_order)
    out = scan_p.bind(*consts, *[_instantiate(dconsts[i], consts[i]) for i in km],
                      *carry, *[_instantiate(dcarry[i], carry[i]) for i in cm],
                      *xs, *[_instantiate(dxs[i], xs[i]) for i in xm],
                      body=new, n_consts=nk + len(km), n_carry=nc + len(cm), length=length,
                      reverse=reverse)
    c_out, dc_out = out[:nc], out[nc:nc + len(cm)]
    y_out, dy_out = out[nc + len(cm):nc + len(cm) + ny], out[nc + len(cm) + ny:]
    dcarry_out: list[Any] = [Zero] * nc
    for i, d in zip(cm, dc_out):
        dcarry_out[i] = d
    dys: list[Any] = [Zero] * ny
    for j, d in zip(yf, dy_out):
        dys[j] = d
    return list(c_out) + list(y_out), dcarry_out + dys


def _scan_fwd(*args: Any, body: Graph, n_consts: int, n_carry: int, length: int,
              reverse: bool) -> tuple[list[Any], Any]:
    # the same scan, also stacking the carry that enters each step
    saving = Graph(list(body.inputs), body.eqns,
                   list(body.outputs) + body.inputs[n_consts:n_consts + n_carry])
    out = scan_p.bind(*args, body=saving, n_consts=n_consts, n_carry=n_carry, length=length,
                      reverse=reverse)
    n_out = len(body.outputs)
    return out[:n_out], (args, out[n_out:])


def _scan_bwd(res: Any, ct: list[Any], needed: list[int], *, body: Graph, n_consts: int,
              n_carry: int, length: int, reverse: bool) -> list[Any]:
    args, saved = res
    consts, carry, xs = _scan_split(args, n_consts, n_carry)
    nk, nc, nx = len(consts), len(carry), len(xs)
    km, cm, xm = _float_indices(consts), _float_indices(carry), _float_indices(xs)
    outs = body.out_avals()
    of = [j for j, (_, d) in enumerate(outs) if _floating(d)]
    cf = [j for j in of if j < nc]
    yf = [j for j in of if j >= nc]
    pull = vjp_fn(body.run_flat, nk + nc + nx, km + [nk + i for i in cm]
                  + [nk + nc + i for i in xm], of)

    def back(*a: Any) -> list[Any]:
        # consts | ct of the float carry, accumulated ct of the float consts | saved carry,
        # xs, ct of the float ys
        k = 0
        ks = list(a[k:k + nk])
        k += nk
        ct_c = list(a[k:k + len(cf)])
        k += len(cf)
        acc = list(a[k:k + len(km)])
        k += len(km)
        c = list(a[k:k + nc])
        k += nc
        x = list(a[k:k + nx])
        k += nx
        ct_y = list(a[k:])
        got = pull(*ks, *c, *x, *ct_c, *ct_y)
        g_k, g_c, g_x = got[:len(km)], got[len(km):len(km) + len(cm)], got[len(km) + len(cm):]
        by_carry = dict(zip(cm, g_c))
        return ([by_carry[j] for j in cf] + [E.add(s, g) for s, g in zip(acc, g_k)] + g_x)

    avals = ([spec_of(k) for k in consts] + [Spec(*outs[j]) for j in cf]
             + [spec_of(consts[i]) for i in km] + [Spec(shape_of(s)[1:], dtype_of(s))
                                                 for s in saved]
             + [Spec(shape_of(x)[1:], dtype_of(x)) for x in xs]
             + [Spec(*outs[j]) for j in yf])
    g = closed_graph(back, avals)[0]
    ct_carry = [ct[j] for j in cf]
    ct_ys = [ct[j] for j in yf]
    got = scan_p.bind(*consts, *ct_carry, *[zeros_like(consts[i]) for i in km], *saved, *xs,
                      *ct_ys, body=g, n_consts=nk, n_carry=len(cf) + len(km), length=length,
                      reverse=not reverse)
    ct_init = dict(zip(cf, got[:len(cf)]))  # carry j's cotangent (float carries: cf == cm)
    ct_consts = dict(zip(km, got[len(cf):len(cf) + len(km)]))
    ct_xs = dict(zip(xm, got[len(cf) + len(km):]))
    result: list[Any] = [None] * len(args)
    for i in needed:
        if i < nk:
            result[i] = ct_consts.get(i)
        elif i < nk + nc:
            result[i] = ct_init.get(i - nk)
        else:
            result[i] = ct_xs.get(i - nk - nc)
    return result


def _scan_batch(args: list[Any], batched: tuple[bool, ...], *, body: Graph, n_consts: int,
                n_carry: int, length: int, reverse: bool) -> list[Any]:
    size = _batch_size(args, batched)
    consts, carry, xs = _scan_split(args, n_consts, n_carry)
    fk, fc, fx = _scan_split(batched, n_consts, n_carry)
    carry = _batched_all(carry, fc, size)
    xs = [S.moveaxis(x, 0, 1) if b else x for x, b in zip(xs, fx)]  # time first, then batch
    g = vmap_graph(body, list(fk) + [True] * len(carry) + list(fx), size)
    out = scan_p.bind(*consts, *carry, *xs, body=g, n_consts=n_consts, n_carry=n_carry,
                      length=length, reverse=reverse)
    return out[:n_carry] + [S.moveaxis(y, 1, 0) for y in out[n_carry:]]


def_custom_rule(scan_p, fwd=_scan_fwd, bwd=_scan_bwd)
def_rule(scan_p, jvp=_scan_jvp, batch=_scan_batch)
