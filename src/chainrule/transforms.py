"""The functional transforms: grad, value_and_grad, vjp, jvp, linearize, jacrev, jacfwd, jacobian,
hessian, hvp, vmap. Each takes a Python function of arrays (or pytrees of them) and returns a new
function; `method=` picks how the derivative is computed (see README, "Methods")."""
from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._core import checks, tree
from ._core.cache import BoundedCache
from ._core.primitive import Tracer, dtype_of, open_trace, shape_of
from ._core.rules import Zero, skipping_strong_zeros
from .ops import index as I
from .ops import shape as S
from .overload.batch import BatchTrace, BatchTracer
from .overload.dual import DualTrace, DualTracer
from .overload.tape import TapeTrace, TapeTracer, backward

METHODS = ("overload", "graph", "source", "symbolic", "numeric")
#: the non-AD methods: each engine's `transforms` module has the transforms of this one, with
#: the same signatures less `has_aux` and `method` (grad, value_and_grad, vjp, jvp, jacfwd,
#: jacrev, hessian, hvp)
_ENGINES = {"symbolic": "chainrule.symbolic.transforms",
            "numeric": "chainrule.numeric.transforms"}


def _check_method(method: str, transform: str) -> None:
    if method in ("overload", "graph", "source") or method in _ENGINES:
        return
    raise ValueError(f"{transform}: unknown method={method!r}; choose one of {', '.join(METHODS)}")


def _engine(method: str, has_aux: bool, transform: str) -> Any:
    """The transforms module of a non-AD method (symbolic, numeric), or None for the others."""
    name = _ENGINES.get(method)
    if name is None:
        return None
    _no_aux(has_aux, transform, method)
    import importlib
    return importlib.import_module(name)


def _no_aux(has_aux: bool, transform: str, method: str = "source") -> None:
    """The generated-code and non-AD methods return derivatives only: refuse `has_aux`."""
    if has_aux:
        raise NotImplementedError(f"{transform}(..., has_aux=True, method={method!r}) is not "
                                  f"supported; return the auxiliary value from a separate call, "
                                  f"or use method='overload'")


def _graph(fn: Callable[..., Any]) -> Callable[..., Any]:
    """method="graph": the overload derivative traced into an expression graph (the tape and dual
    interpreters run on graph tracers, so the rule table writes the backward/forward graph),
    optimised, and compiled to NumPy code once per input signature."""
    from .graph.jit import jit
    return jit(fn)


# (kind, function) -> its compiled transform. Bounded: the compiled code holds its function,
# so a lambda made per call would otherwise be kept forever. (Each compiled transform checks
# what the function reads before it reuses code: see graph.jit.)
_GRAPH_CALLS = BoundedCache(64)


def _graph_call(kind: str, f: Callable[..., Any], build: Callable[[], Any]) -> Any:
    """The compiled graph of a one-shot transform (jvp, vjp, hvp), kept per function."""
    key = (kind, f)
    fn = _GRAPH_CALLS.get(key)
    if fn is None:
        fn = _GRAPH_CALLS[key] = _graph(build())
    return fn


# ---------------------------------------------------------------------------------------------
# reverse mode

def _vjp(f: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
         nums: tuple[int, ...], has_aux: bool, transform: str, retain: bool) -> Any:
    diff = checks.diff_leaves(args, nums, f, transform)
    with open_trace(TapeTrace) as trace:
        new_args = list(args)
        leaf_tracers: list[list[TapeTracer | None]] = []
        tracers_of: dict[int, list[TapeTracer | None]] = {}
        for i, (leaves, td) in zip(nums, diff):
            ts = tracers_of.get(i)
            if ts is None:  # (an argument named twice in argnums: one variable, two slots)
                ts = tracers_of[i] = [trace.leaf(x) if tree.is_float_leaf(x) else None
                                      for x in leaves]
                new_args[i] = tree.unflatten(td, [x if t is None else t
                                                  for x, t in zip(leaves, ts)])
            leaf_tracers.append(ts)
        result = checks.call(f, new_args, kwargs)
    aux = None
    if has_aux:
        if not (isinstance(result, tuple) and len(result) == 2):
            raise TypeError(f"{transform} of {checks.fname(f)} with has_aux=True: the function "
                            f"must return a pair (output, aux), got {type(result).__name__}")
        result, aux = result
        aux = tree.tree_map(lambda a: _lower(a, trace), aux)
    out_leaves, out_td = tree.flatten(result)
    primal_leaves = [_lower(o, trace) for o in out_leaves]
    primal_out = tree.unflatten(out_td, primal_leaves)

    def vjp_fn(ct: Any) -> tuple[Any, ...]:
        ct_leaves = checks.check_cotangent(ct, primal_out, f)
        roots = []
        for o, c in zip(out_leaves, ct_leaves):
            if isinstance(o, TapeTracer) and o._trace is trace and o.node is not None:
                roots.append((o.node, o.idx, c))
        # a gradient computed here may be compared or selected on by the code around it:
        # always with strong zeros (see source's fast form)
        with skipping_strong_zeros(False):
            got = backward(roots, retain=retain, tape=trace.nodes) if roots else {}
        flat: list[Any] = []
        for (leaves, _), ts in zip(diff, leaf_tracers):
            for x, t in zip(leaves, ts):
                if t is None:
                    flat.append(None)
                else:
                    g = got.get((t.node, 0))  # type: ignore[arg-type]
                    flat.append(checks.zeros(x) if g is None else checks.cast_like(g, x))
        it = iter(tree.owned_arrays(flat, ct_leaves))
        return tuple(tree.unflatten(td, [next(it) for _ in leaves]) for leaves, td in diff)

    return primal_out, vjp_fn, aux


def _lower(x: Any, trace: Any) -> Any:
    """The value of `x` below `trace` (what escapes the transform)."""
    if isinstance(x, Tracer) and x._trace is trace:
        return x.value if isinstance(x, TapeTracer) else x.primal  # type: ignore[attr-defined]
    return x


def vjp(f: Callable[..., Any], *primals: Any, has_aux: bool = False,
        method: str = "overload") -> Any:
    """`(out, vjp_fn)` (or `(out, vjp_fn, aux)`): `vjp_fn(ct)` returns one cotangent per primal
    and may be called any number of times."""
    _check_method(method, "vjp")
    engine = _engine(method, has_aux, "vjp")
    if engine is not None:
        return engine.vjp(f, *primals)
    if method == "source":
        from . import source
        _no_aux(has_aux, "vjp")
        return source.vjp(f, *primals)
    if method == "graph":
        aux_tag = "-aux" if has_aux else ""
        forward = _graph_call(f"vjp-forward{aux_tag}", f,
                              lambda: lambda p: vjp(f, *p, has_aux=has_aux)[0::2]
                              if has_aux else vjp(f, *p)[0])
        pull = _graph_call(f"vjp-backward{aux_tag}", f,
                           lambda: lambda p, c: vjp(f, *p, has_aux=has_aux)[1](c))
        res = forward(tuple(primals))
        out, aux = (res[0], res[1]) if has_aux else (res, None)

        def graph_vjp_fn(ct: Any) -> tuple[Any, ...]:
            return tuple(pull(tuple(primals), ct))

        return (out, graph_vjp_fn, aux) if has_aux else (out, graph_vjp_fn)
    out, fn, aux = _vjp(f, primals, {}, tuple(range(len(primals))), has_aux, "vjp", retain=True)
    return (out, fn, aux) if has_aux else (out, fn)


def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
                   has_aux: bool = False, method: str = "overload") -> Callable[..., Any]:
    """A function returning `(value, grad)`, or `((value, aux), grad)` with `has_aux`."""
    _check_method(method, "value_and_grad")
    argnums = checks.argnums_spec(argnums, "value_and_grad")
    engine = _engine(method, has_aux, "value_and_grad")
    if engine is not None:
        return engine.value_and_grad(f, argnums)
    if method == "source":
        from . import source
        _no_aux(has_aux, "value_and_grad")
        return source.value_and_grad(f, argnums)
    if method == "graph":
        return _graph(value_and_grad(f, argnums, has_aux))

    @functools.wraps(f)
    def value_and_grad_f(*args: Any, **kwargs: Any) -> Any:
        nums = checks.resolve_argnums(argnums, len(args), "grad")
        out, fn, aux = _vjp(f, args, kwargs, nums, has_aux, "grad", retain=False)
        grads = fn(checks.grad_seed(out, f))
        g = grads[0] if isinstance(argnums, int) else grads
        return ((out, aux), g) if has_aux else (out, g)

    return value_and_grad_f


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False,
         method: str = "overload") -> Callable[..., Any]:
    """The gradient of a scalar function, with the structure of the differentiated argument(s)."""
    _check_method(method, "grad")
    argnums = checks.argnums_spec(argnums, "grad")
    engine = _engine(method, has_aux, "grad")
    if engine is not None:
        return engine.grad(f, argnums)
    if method == "source":
        from . import source
        _no_aux(has_aux, "grad")
        return source.grad(f, argnums)
    if method == "graph":
        return _graph(grad(f, argnums, has_aux))
    vg = value_and_grad(f, argnums, has_aux, method)

    @functools.wraps(f)
    def grad_f(*args: Any, **kwargs: Any) -> Any:
        (value, g) = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return grad_f


# ---------------------------------------------------------------------------------------------
# forward mode

def _per_argument(nums: tuple[int, ...], tangent_leaves: list[list[Any]]
                  ) -> dict[int, list[Any]]:
    """Each differentiated argument's leaf tangents (None where a leaf carries none); an
    argument named twice in argnums moves along the sum of its slots' tangents."""
    per_arg: dict[int, list[Any]] = {}
    for i, ts in zip(nums, tangent_leaves):
        seen = per_arg.get(i)
        per_arg[i] = list(ts) if seen is None else [
            b if a is None else a if b is None else a + b for a, b in zip(seen, ts)]
    return per_arg


def _jvp_flat(f: Callable[..., Any], args: tuple[Any, ...], nums: tuple[int, ...],
              tangent_leaves: list[list[Any]], has_aux: bool = False) -> Any:
    """Run `f` on dual numbers: `tangent_leaves[k]` are the tangents of argument `nums[k]`'s
    leaves (None for leaves that carry none). Returns (out, out_tangent, aux) trees."""
    per_arg = _per_argument(nums, tangent_leaves)
    with open_trace(DualTrace) as trace:
        new_args = list(args)
        for i, ts in per_arg.items():
            leaves, td = tree.flatten(args[i])
            new_args[i] = tree.unflatten(td, [
                DualTracer(trace, x, t) if t is not None and tree.is_float_leaf(x) else x
                for x, t in zip(leaves, ts)])
        result = checks.call(f, new_args, {})
    aux = None
    if has_aux:
        result, aux = result
        aux = tree.tree_map(lambda a: _lower(a, trace), aux)
    leaves, td = tree.flatten(result)
    primals, tangents = [], []
    for o in leaves:
        if isinstance(o, DualTracer) and o._trace is trace:
            primals.append(o.primal)
            if not tree.is_float_leaf(o.primal):  # integers and booleans have no tangent
                tangents.append(None)
            else:
                tangents.append(checks.zeros(o.primal) if o.tangent is Zero else o.tangent)
        else:
            primals.append(o)
            tangents.append(checks.zeros(o) if tree.is_float_leaf(o) else None)
    return tree.unflatten(td, primals), tree.unflatten(td, tangents), aux


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any],
        has_aux: bool = False, method: str = "overload") -> Any:
    """`(out, out_tangent)`: the Jacobian-vector product of `f` at `primals` along `tangents`."""
    _check_method(method, "jvp")
    engine = _engine(method, has_aux, "jvp")
    if engine is not None:
        return engine.jvp(f, tuple(primals), tuple(tangents))
    if method == "source":
        from . import source
        _no_aux(has_aux, "jvp")
        return source.jvp(f, tuple(primals), tuple(tangents))
    if method == "graph":
        run = _graph_call(f"jvp{'-aux' if has_aux else ''}", f,
                          lambda: lambda p, t: jvp(f, p, t, has_aux))
        return run(tuple(primals), tuple(tangents))
    tls = checks.jvp_tangents(primals, tangents)
    out, out_t, aux = _jvp_flat(f, tuple(primals), tuple(range(len(primals))), tls, has_aux)
    return (out, out_t, aux) if has_aux else (out, out_t)


def linearize(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[..., Any]]:
    """`(out, jvp_fn)`: `f` is evaluated and linearised once; each `jvp_fn(*tangents)` replays only
    the recorded linear (tangent) computation, never `f` itself."""
    nums = tuple(range(len(primals)))
    checks.diff_leaves(primals, nums, f, "linearize")
    with open_trace(TapeTrace) as rec:
        seeds = []
        structures = []
        for p in primals:
            leaves, td = tree.flatten(p)
            structures.append(td)
            seeds.append([rec.leaf(checks.zeros(x)) if tree.is_float_leaf(x) else None
                          for x in leaves])
        out, out_t, _ = _jvp_flat(f, primals, nums, seeds)
    t_leaves, t_td = tree.flatten(out_t)

    def jvp_fn(*tangents: Any) -> Any:
        if len(tangents) != len(primals):
            raise TypeError(f"jvp_fn takes {len(primals)} tangent(s), got {len(tangents)}")
        env: dict[tuple[int, int], Any] = {}
        for k, (p, t, ss) in enumerate(zip(primals, tangents, seeds)):
            pl, _ = tree.flatten(p)
            tl, ttd = tree.flatten(t)
            if ttd != structures[k]:
                raise ValueError(f"jvp_fn: tangent {k} has structure {ttd}, but the primal has "
                                 f"structure {structures[k]}")
            for a, b, s in zip(pl, tl, ss):
                if s is not None:
                    env[(id(s.node), 0)] = checks.checked_tangent(a, b)
        _replay(rec, env)
        outs = [env[(id(o.node), o.idx)]
                if isinstance(o, TapeTracer) and o._trace is rec and o.node is not None
                else (None if o is None else checks.zeros(o)) for o in t_leaves]
        return tree.unflatten(t_td, outs)

    return out, jvp_fn


def _replay(rec: TapeTrace, env: dict[tuple[int, int], Any]) -> None:
    """Re-run the recorded (linear) tape on new input values, in creation order."""
    for node in rec.nodes:
        args = list(node.args)
        for i, parent, pidx in node.parents:
            args[i] = env[(id(parent), pidx)]
        ans = node.prim.bind(*args, **node.params)  # type: ignore[union-attr]
        if node.prim.multiple_results:  # type: ignore[union-attr]
            for k, a in enumerate(ans):
                env[(id(node), k)] = a
        else:
            env[(id(node), 0)] = ans


# ---------------------------------------------------------------------------------------------
# vectorisation and Jacobians

def vmap(f: Callable[..., Any], in_axes: Any = 0, out_axes: int = 0) -> Callable[..., Any]:
    """Vectorise `f` over an axis of its arguments. `in_axes` is an int, None, or a tuple with one
    entry (int or None) per positional argument; every leaf of a mapped argument is mapped."""

    @functools.wraps(f)
    def vmapped(*args: Any) -> Any:
        axes = in_axes if isinstance(in_axes, (tuple, list)) else (in_axes,) * len(args)
        if len(axes) != len(args):
            raise ValueError(f"vmap: in_axes has {len(axes)} entries for {len(args)} arguments")
        size = None
        flat = []
        for k, (a, ax) in enumerate(zip(args, axes)):
            leaves, td = tree.flatten(a)
            if ax is not None:
                for x in leaves:
                    nd = len(shape_of(x))
                    if not isinstance(ax, int) or not -nd <= ax < nd:
                        raise ValueError(f"vmap: in_axes={ax!r} for argument {k}, which has "
                                         f"{nd} dimension(s); map an existing axis or pass None")
                    n = shape_of(x)[ax]
                    if size is not None and n != size:
                        raise ValueError(f"vmap: mapped axes have different sizes {size} and {n}")
                    size = n
            flat.append((leaves, td, ax))
        if size is None:
            raise ValueError("vmap: in_axes maps no argument; give at least one axis")
        with open_trace(BatchTrace, size) as trace:
            new_args = []
            for leaves, td, ax in flat:
                if ax is None:
                    new_args.append(tree.unflatten(td, leaves))
                else:
                    new_args.append(tree.unflatten(
                        td, [BatchTracer(trace, x if ax == 0 else S.moveaxis(x, ax, 0))
                             for x in leaves]))
            result = checks.call(f, new_args, {})
        return tree.tree_map(lambda o: _unbatch(o, trace, size, out_axes), result)

    return vmapped


def _unbatch(o: Any, trace: BatchTrace, size: int, out_axes: int) -> Any:
    if isinstance(o, BatchTracer) and o._trace is trace:
        v = o.val
    else:
        v = S.broadcast_to(o, (size,) + shape_of(o))
    return S.moveaxis(v, 0, out_axes) if out_axes != 0 else v


def _basis(leaves: list[Any]) -> tuple[list[Any], int]:
    """Rows of the identity, split per leaf: leaf k gets an array of shape (N, *leaf.shape)."""
    if len(leaves) == 1:
        shape = shape_of(leaves[0])
        n = math.prod(shape)
        return [np.eye(n, dtype=dtype_of(leaves[0])).reshape((n,) + shape)], n
    sizes = [math.prod(shape_of(x)) for x in leaves]
    n = int(sum(sizes))
    out, off = [], 0
    for x, s in zip(leaves, sizes):
        e = np.zeros((n, s), dtype_of(x))
        e[np.arange(off, off + s), np.arange(s)] = 1
        out.append(e.reshape((n,) + shape_of(x)))
        off += s
    return out, n


def _blocks(batched: Any, in_leaves: list[Any], out_shape: tuple[int, ...],
            batch_first_is_input: bool) -> list[Any]:
    """Split a batched result along the basis axis into one Jacobian block per input leaf."""
    blocks, off = [], 0
    for x in in_leaves:
        s = math.prod(shape_of(x))
        part = batched if len(in_leaves) == 1 else I.getitem(batched, (slice(off, off + s),))
        off += s
        if batch_first_is_input:  # (s, *out) -> out + in
            part = S.reshape(part, shape_of(x) + out_shape)
            nin, nout = len(shape_of(x)), len(out_shape)
            part = S.transpose(part, tuple(range(nin, nin + nout)) + tuple(range(nin)))
        else:  # (s_out, *in) -> out + in
            part = S.reshape(part, out_shape + shape_of(x))
        blocks.append(part)
    return blocks


def jacfwd(f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False,
           method: str = "overload") -> Callable[..., Any]:
    """The Jacobian by forward mode: a whole basis of tangents pushed through one batched pass.
    Shape `out.shape + in.shape`; pytrees: output structure outside, input structure inside."""
    _check_method(method, "jacfwd")
    argnums = checks.argnums_spec(argnums, "jacfwd")
    engine = _engine(method, has_aux, "jacfwd")
    if engine is not None:
        return engine.jacfwd(f, argnums)
    if method == "source":
        _no_aux(has_aux, "jacfwd")
    if method == "graph":
        return _graph(jacfwd(f, argnums, has_aux))
    if method == "source":  # the generated tangent code, run on a batch of tangents
        from .source.transform import forward_function
        forward_function(f, batched=True)  # (refusals at once)

    @functools.wraps(f)
    def jacfwd_f(*args: Any) -> Any:
        nums = checks.resolve_argnums(argnums, len(args), "jacfwd")
        diff = checks.diff_leaves(args, nums, f, "jacfwd")
        flat_in = [x for leaves, _ in diff for x in leaves if tree.is_float_leaf(x)]
        basis, _ = _basis(flat_in)
        forward = batched = None
        if method == "source":  # (generated again when what f reads changed)
            from .source.transform import forward_function
            batched = forward_function(f, batched=True)  # (run on the whole basis at once)
            # seed by seed (under vmap), the plain variant: the batched one's lifts read batch
            # axes from ranks, and under vmap there are none to read
            forward = forward_function(f)

        def push(*bs: Any) -> Any:
            it = iter(bs)
            tls = [[next(it) if tree.is_float_leaf(x) else None for x in leaves]
                   for leaves, _ in diff]
            if forward is not None:
                from .source import fast_then_careful
                from .source.runtime import finish
                kw = _source_tangents(forward, nums, tls, diff)
                out, t = fast_then_careful(forward, lambda r: r[1], *args, **kw)
                return finish(t, out)
            _, t, aux = _jvp_flat(f, args, nums, tls, has_aux)
            return (t, aux) if has_aux else t

        res = None
        if batched is not None and batched.batchable and basis and _plain(args):
            from .source import finite
            res = _source_batch_jvp(batched, args, nums, diff, basis)
            if not finite(res):  # (the fast form's answer: the careful one, seed by seed)
                res = None
        if res is None:
            res = vmap(push, in_axes=(0,) * len(basis))(*basis)
        out_t, aux = res if has_aux else (res, None)
        if has_aux:
            aux = tree.tree_map(lambda a: a[0], aux)
        jac = _assemble(out_t, diff, argnums, input_first=True)
        return (jac, aux) if has_aux else jac

    return jacfwd_f


def _plain(args: Any) -> bool:
    """No traced values among the arguments (generated code then runs on a batch of seeds)."""
    return not any(isinstance(x, Tracer) for x in tree.leaves(args))


def _source_batch_jvp(forward: Callable[..., Any], args: tuple[Any, ...], nums: tuple[int, ...],
                      diff: list[Any], basis: list[Any]) -> Any:
    """The generated tangent code run once on the whole basis (a leading axis on each
    tangent): the output tangents, batched."""
    from .source import for_values
    from .source.runtime import finish_batch
    it = iter(basis)
    tls = [[next(it) if tree.is_float_leaf(x) else None for x in leaves] for leaves, _ in diff]
    kw = _source_tangents(forward, nums, tls, diff)
    out, t = for_values(forward, args, kw)(*args, **kw)
    return finish_batch(t, out, len(basis[0]))


def _source_tangents(forward: Callable[..., Any], nums: tuple[int, ...], tls: list[list[Any]],
                     diff: list[Any]) -> dict[str, Any]:
    """The generated tangent code's keyword arguments: each differentiated argument's tangent
    (the sum of its slots' when argnums names it twice), 0.0 where a leaf carries none."""
    per_arg = _per_argument(nums, tls)
    structure = {i: td for i, (_, td) in zip(nums, diff)}
    return {forward.tangents[i]: tree.unflatten(structure[i], [0.0 if t is None else t
                                                               for t in ts])
            for i, ts in per_arg.items()}


def _assemble(batched_out: Any, diff: list[tuple[list[Any], tree.TreeDef]], argnums: Any,
              input_first: bool) -> Any:
    out_leaves, out_td = tree.flatten(batched_out)
    flat_in = [x for leaves, _ in diff for x in leaves if tree.is_float_leaf(x)]
    per_out = []
    for o in out_leaves:
        if o is None:
            per_out.append(None)
            continue
        oshape = shape_of(o)[1:]
        blocks = iter(_blocks(o, flat_in, oshape, input_first))
        per_arg = [tree.unflatten(td, [next(blocks) if tree.is_float_leaf(x) else None
                                       for x in leaves]) for leaves, td in diff]
        per_out.append(per_arg[0] if isinstance(argnums, int) else tuple(per_arg))
    return tree.unflatten(out_td, per_out)


def jacrev(f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False,
           method: str = "overload") -> Callable[..., Any]:
    """The Jacobian by reverse mode: one forward pass, then a whole basis of cotangents pulled
    back through one batched backward pass. Shape `out.shape + in.shape`."""
    _check_method(method, "jacrev")
    argnums = checks.argnums_spec(argnums, "jacrev")
    engine = _engine(method, has_aux, "jacrev")
    if engine is not None:
        return engine.jacrev(f, argnums)
    if method == "source":
        _no_aux(has_aux, "jacrev")
    if method == "graph":
        return _graph(jacrev(f, argnums, has_aux))
    if method == "source":  # the generated adjoint code, run on a batch of cotangents
        from .source.transform import reverse_function
        reverse_function(f, None)  # (refusals at once)

    @functools.wraps(f)
    def jacrev_f(*args: Any) -> Any:
        nums = checks.resolve_argnums(argnums, len(args), "jacrev")
        backward = None
        if method == "source":  # (generated again when what f reads changed)
            from .source import value_of
            from .source.transform import reverse_function
            backward = reverse_function(f, None)
            checks.diff_leaves(args, nums, f, "jacrev")
        if backward is not None:
            from .source import fast_then_careful
            from .source.runtime import finish
            out, aux = value_of(backward, args), None

            def fn(ct: Any) -> tuple[Any, ...]:
                cts = fast_then_careful(backward, lambda r: r[1], *args,
                                        **{backward.cotangent: ct})[1]
                return tuple(finish(cts[i], args[i]) for i in nums)
        else:
            out, fn, aux = _vjp(f, args, {}, nums, has_aux, "jacrev", retain=False)
        out_leaves, out_td = tree.flatten(out)
        diff = [tree.flatten(args[i]) for i in nums]
        basis, m = _basis(out_leaves)
        if backward is not None and backward.batchable and m and _plain(args):
            from .source import fast_then_careful
            from .source.runtime import finish_batch
            ct = tree.unflatten(out_td, list(basis))  # the whole basis in one run
            got = fast_then_careful(backward, lambda r: r[1], *args,
                                    **{backward.cotangent: ct})[1]
            cts = tuple(finish_batch(got[i], args[i], m) for i in nums)
        else:
            cts = vmap(lambda *bs: fn(tree.unflatten(out_td, list(bs))),
                       in_axes=(0,) * len(basis))(*basis)
        per_out = []
        flat_cts = [c for g in cts for c in tree.flatten(g)[0]]
        off = 0
        for o in out_leaves:
            s = math.prod(shape_of(o))
            per_arg, k = [], 0
            for leaves, td in diff:
                blocks = []
                for x in leaves:
                    if not tree.is_float_leaf(x):
                        blocks.append(None)
                        continue
                    c = flat_cts[k]
                    k += 1
                    part = c if len(out_leaves) == 1 else I.getitem(c, (slice(off, off + s),))
                    blocks.append(S.reshape(part, shape_of(o) + shape_of(x)))
                per_arg.append(tree.unflatten(td, blocks))
            off += s
            per_out.append(per_arg[0] if isinstance(argnums, int) else tuple(per_arg))
        jac = tree.unflatten(out_td, per_out)
        return (jac, aux) if has_aux else jac

    return jacrev_f


jacobian = jacrev


def hessian(f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False,
            method: str = "overload") -> Callable[..., Any]:
    """The Hessian of a scalar function, forward-over-reverse: `jacfwd(grad(f))`. Shape
    `in.shape + in.shape`; the output must pass grad's rule (one real floating-point element).
    For a function with several outputs, `jacfwd(jacrev(f))` gives one Hessian per output."""
    _check_method(method, "hessian")
    argnums = checks.argnums_spec(argnums, "hessian")
    engine = _engine(method, has_aux, "hessian")
    if engine is not None:
        return engine.hessian(f, argnums)
    if method == "graph":
        return _graph(hessian(f, argnums, has_aux))
    if method == "source":  # the generated gradient code, differentiated by generated code
        from . import source
        _no_aux(has_aux, "hessian")
        return jacfwd(source.grad(f, argnums), argnums, method="source")
    # (the forward derivative of the gradient: grad's rule for the output holds here as in
    # every method; for a function with several outputs, jacfwd(jacrev(f)) gives one Hessian
    # per output)
    return jacfwd(grad(f, argnums, has_aux, method), argnums, has_aux, method)


def hvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any],
        method: str = "overload") -> Any:
    """The Hessian-vector product H·v, forward-over-reverse, without forming H. With one primal
    it returns one array (pytree); with several, a tuple."""
    _check_method(method, "hvp")
    engine = _engine(method, False, "hvp")
    if engine is not None:
        return engine.hvp(f, tuple(primals), tuple(tangents))
    if method == "source":  # forward over reverse, both generated
        from . import source
        g = source.grad(f, argnums=tuple(range(len(primals))))
        _, t = source.jvp(g, tuple(primals), tuple(tangents))
        return t[0] if len(primals) == 1 else t
    if method == "graph":
        return _graph_call("hvp", f, lambda: lambda p, t: hvp(f, p, t))(tuple(primals),
                                                                          tuple(tangents))
    nums = tuple(range(len(primals)))
    g = grad(f, argnums=nums)
    _, t = jvp(g, tuple(primals), tuple(tangents))
    return t[0] if len(primals) == 1 else t


__all__ = ["grad", "value_and_grad", "vjp", "jvp", "linearize", "jacrev", "jacfwd", "jacobian",
           "hessian", "hvp", "vmap"]
