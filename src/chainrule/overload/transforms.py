"""The overload engine's transforms: derivatives by running the function on the interpreters of
this package (`DualTrace` forward, `TapeTrace` reverse, `BatchTrace` for a whole basis at once).

The public front (`chainrule.transforms`) checks the arguments and calls these; the other engines
that reuse operator overloading (graph traces these transforms; source falls back on them for
calls it cannot write out) import this module by name.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._core import checks, jacobian, tree
from .._core.primitive import (
    Tracer,
    in_library_of,
    innermost_value,
    library_array,
    open_trace,
    shape_of,
)
from .._core.rules import Zero, set_function_vjp, skipping_strong_zeros
from ..ops import elementwise as E
from ..ops import shape as S
from .batch import BatchTrace, BatchTracer
from .dual import DualTrace, DualTracer
from .tape import TapeTrace, TapeTracer, backward

#: what the front may ask of this engine
CAPABILITIES = checks.Capabilities(
    "overload", has_aux=True,
    transforms=("grad", "value_and_grad", "vjp", "jvp", "linearize", "jacfwd", "jacrev",
                "hessian", "hvp", "vmap"))


# ---------------------------------------------------------------------------------------------
# reverse mode

def vjp_flat(f: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
             nums: tuple[int, ...], has_aux: bool, transform: str, retain: bool) -> Any:
    """Run `f` on a tape with the float leaves of `args[nums]` as inputs: `(out, vjp_fn, aux)`,
    where `vjp_fn(ct)` returns one cotangent tree per entry of `nums`."""
    diff = checks.diff_leaves(args, nums, f, transform)
    with open_trace(TapeTrace) as trace:
        new_args = list(args)
        leaf_tracers: list[list[TapeTracer | None]] = []
        tracers_of: dict[int, list[TapeTracer | None]] = {}
        for i, (leaves, td) in zip(nums, diff):
            ts = tracers_of.get(i)
            if ts is None and td is tree.LEAF and leaves[0].__class__ is np.ndarray:
                # (the common case: one float array, as diff_leaves found it)
                ts = tracers_of[i] = [trace.leaf(leaves[0])]
                new_args[i] = ts[0]
            elif ts is None:  # (an argument named twice in argnums: one variable, two slots)
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
        aux = tree.tree_map(lambda a: lower(a, trace), aux)
    out_leaves, out_td = tree.flatten(result)
    primal_leaves = [lower(o, trace) for o in out_leaves]
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
                    flat.append(_zeros(x) if g is None else checks.cast_like(g, x))
        it = iter(tree.owned_arrays(flat, ct_leaves))
        return tuple(next(it) if td is tree.LEAF else
                     tree.unflatten(td, [next(it) for _ in leaves]) for leaves, td in diff)

    return primal_out, vjp_fn, aux


def _zeros(x: Any) -> Any:
    """The derivative of an argument the output does not reach: zeros of its shape and dtype;
    in a traced program (a graph), zeros made from the argument when the code runs, in the
    argument's own array library (Dask's lazy, with its chunks)."""
    if isinstance(x, Tracer) and innermost_value(x) is None:
        return E.zeros_like_p.bind(x)
    return checks.zeros(x)


def lower(x: Any, trace: Any) -> Any:
    """The value of `x` below `trace` (what escapes the transform)."""
    if isinstance(x, Tracer) and x._trace is trace:
        return x.value if isinstance(x, TapeTracer) else x.primal  # type: ignore[attr-defined]
    return x


def vjp(f: Callable[..., Any], *primals: Any, has_aux: bool = False) -> Any:
    out, fn, aux = vjp_flat(f, primals, {}, tuple(range(len(primals))), has_aux, "vjp",
                            retain=True)
    return (out, fn, aux) if has_aux else (out, fn)


def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
                   has_aux: bool = False, *, transform: str = "grad") -> Callable[..., Any]:
    """(`transform`: the name the user called, for the messages: a Hessian's gradient says
    "hessian".)"""
    argnums = checks.argnums_spec(argnums, "value_and_grad")

    @functools.wraps(f)
    def value_and_grad_f(*args: Any, **kwargs: Any) -> Any:
        nums = checks.resolve_argnums(argnums, len(args), transform)
        out, fn, aux = vjp_flat(f, args, kwargs, nums, has_aux, transform, retain=False)
        grads = fn(checks.grad_seed(out, f, transform))
        g = grads[0] if isinstance(argnums, int) else grads
        return ((out, aux), g) if has_aux else (out, g)

    return value_and_grad_f


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
         has_aux: bool = False, *, transform: str = "grad") -> Callable[..., Any]:
    vg = value_and_grad(f, argnums, has_aux, transform=transform)

    @functools.wraps(f)
    def grad_f(*args: Any, **kwargs: Any) -> Any:
        (value, g) = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return grad_f


# ---------------------------------------------------------------------------------------------
# forward mode

def per_argument(nums: tuple[int, ...], tangent_leaves: list[list[Any]]
                  ) -> dict[int, list[Any]]:
    """Each differentiated argument's leaf tangents (None where a leaf carries none); an
    argument named twice in argnums moves along the sum of its slots' tangents."""
    per_arg: dict[int, list[Any]] = {}
    for i, ts in zip(nums, tangent_leaves):
        seen = per_arg.get(i)
        per_arg[i] = list(ts) if seen is None else [
            b if a is None else a if b is None else a + b for a, b in zip(seen, ts)]
    return per_arg


_ZEROS = object()  # (jvp_flat's default: tangents that nothing reaches are arrays of zeros)


def jvp_flat(f: Callable[..., Any], args: tuple[Any, ...], nums: tuple[int, ...],
              tangent_leaves: list[list[Any]], has_aux: bool = False,
              kwargs: dict[str, Any] | None = None, dead: Any = _ZEROS) -> Any:
    """Run `f` on dual numbers: `tangent_leaves[k]` are the tangents of argument `nums[k]`'s
    leaves (None for leaves that carry none). Returns (out, out_tangent, aux) trees; the tangent
    is `dead` instead when given and the tangents reach no output (none is instantiated)."""
    per_arg = per_argument(nums, tangent_leaves)
    with open_trace(DualTrace) as trace:
        new_args = list(args)
        for i, ts in per_arg.items():
            leaves, td = tree.flatten(args[i])
            new_args[i] = tree.unflatten(td, [
                DualTracer(trace, x, t) if t is not None and tree.is_float_leaf(x) else x
                for x, t in zip(leaves, ts)])
        result = checks.call(f, new_args, kwargs or {})
    aux = None
    if has_aux:
        result, aux = result
        aux = tree.tree_map(lambda a: lower(a, trace), aux)
    leaves, td = tree.flatten(result)
    primals, tangents = [], []
    for o in leaves:
        if isinstance(o, DualTracer) and o._trace is trace:
            primals.append(o.primal)
            if not tree.is_float_leaf(o.primal):  # integers and booleans have no tangent
                tangents.append(None)
            else:
                tangents.append(o.tangent)
        else:
            primals.append(o)
            tangents.append(Zero if tree.is_float_leaf(o) else None)
    if dead is not _ZEROS and all(t is Zero or t is None for t in tangents):
        return tree.unflatten(td, primals), dead, aux
    tangents = [checks.zeros(p) if t is Zero else t for p, t in zip(primals, tangents)]
    return tree.unflatten(td, primals), tree.unflatten(td, tangents), aux


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any],
        has_aux: bool = False) -> Any:
    tls = checks.jvp_tangents(primals, tangents)
    out, out_t, aux = jvp_flat(f, tuple(primals), tuple(range(len(primals))), tls, has_aux)
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
        out, out_t, _ = jvp_flat(f, primals, nums, seeds)
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
    entry per positional argument; an entry is an int, None, or (as in JAX) a pytree whose
    structure is a prefix of the argument's, its int or None applying to every leaf below it
    (`({"w": 0, "b": None}, None)`). Keyword arguments reach every call of `f` unmapped, as
    in `torch.func.vmap` (JAX maps them over axis 0: pass mapped values positionally)."""

    @functools.wraps(f)
    def vmapped(*args: Any, **kwargs: Any) -> Any:
        axes = in_axes if isinstance(in_axes, (tuple, list)) else (in_axes,) * len(args)
        if len(axes) != len(args):
            raise ValueError(f"vmap: in_axes has {len(axes)} entries for {len(args)} arguments")
        size = None
        flat = []
        for k, (a, ax) in enumerate(zip(args, axes)):
            leaves, td = tree.flatten(a)
            leaf_axes = _leaf_axes(ax, a, f"in_axes[{k}]", len(leaves))
            for x, lax in zip(leaves, leaf_axes):
                if lax is None:
                    continue
                nd = len(shape_of(x))
                if not isinstance(lax, int) or not -nd <= lax < nd:
                    raise ValueError(f"vmap: in_axes={lax!r} for argument {k}, which has "
                                     f"{nd} dimension(s); map an existing axis or pass None")
                n = shape_of(x)[lax]
                if size is not None and n != size:
                    raise ValueError(f"vmap: mapped axes have different sizes {size} and {n}")
                size = n
            flat.append((leaves, td, leaf_axes))
        if size is None:
            raise ValueError("vmap: in_axes maps no argument; give at least one axis")
        with open_trace(BatchTrace, size) as trace:
            new_args = []
            for leaves, td, leaf_axes in flat:
                new_args.append(tree.unflatten(td, [
                    x if lax is None else
                    BatchTracer(trace, x if lax == 0 else S.moveaxis(x, lax, 0))
                    for x, lax in zip(leaves, leaf_axes)]))
            result = checks.call(f, new_args, kwargs)
        # (an output the batch does not reach is broadcast in the mapped inputs' library)
        like = next((v for leaves, _, axes in flat for v, lax in zip(leaves, axes)
                     if lax is not None and library_array(v) is not None), None)
        return tree.tree_map(lambda o: _unbatch(o, trace, size, out_axes, like), result)

    return vmapped


def _leaf_axes(ax: Any, a: Any, where: str, n: int | None = None) -> list[Any]:
    """The axis of each leaf of `a` (flatten order; `n` of them when known) given `ax`: an int
    or None for them all, or a pytree of them shaped like a prefix of `a`'s structure."""
    if ax is None or isinstance(ax, int):
        return [ax] * (len(tree.leaves(a)) if n is None else n)
    ax_items, a_items = tree.node_items(ax), tree.node_items(a)
    if ax_items is None or a_items is None or type(ax) is not type(a) or \
            [k for k, _ in ax_items] != [k for k, _ in a_items]:
        raise ValueError(f"vmap: {where} is {ax!r}, which does not match the argument's "
                         f"structure {tree.structure(a)}; give an int, None, or a pytree "
                         f"of them shaped like the argument (a prefix of it)")
    out: list[Any] = []
    for (key, sub_ax), (_, sub_a) in zip(ax_items, a_items):
        out.extend(_leaf_axes(sub_ax, sub_a, f"{where}[{key!r}]"))
    return out


def _unbatch(o: Any, trace: BatchTrace, size: int, out_axes: int, like: Any = None) -> Any:
    if isinstance(o, BatchTracer) and o._trace is trace:
        v = o.val
    else:
        if like is not None and not isinstance(o, Tracer) and library_array(o) is None:
            o = in_library_of(like, np.asarray(o))  # (a number names no array library)
        v = S.broadcast_to(o, (size,) + shape_of(o))
    return S.moveaxis(v, 0, out_axes) if out_axes != 0 else v


def jacfwd(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
           has_aux: bool = False, *, transform: str = "jacfwd") -> Callable[..., Any]:
    argnums = checks.argnums_spec(argnums, "jacfwd")

    @functools.wraps(f)
    def jacfwd_f(*args: Any, **kwargs: Any) -> Any:
        nums = checks.resolve_argnums(argnums, len(args), transform)
        diff = checks.diff_leaves(args, nums, f, transform)
        basis = jacobian.basis([x for leaves, _ in diff for x in leaves
                                if tree.is_float_leaf(x)])

        def push(*bs: Any) -> Any:
            it = iter(bs)
            tls = [[next(it) if tree.is_float_leaf(x) else None for x in leaves]
                   for leaves, _ in diff]
            _, t, aux = jvp_flat(f, args, nums, tls, has_aux, kwargs)
            return (t, aux) if has_aux else t

        res = vmap(push, in_axes=(0,) * len(basis))(*basis)
        out_t, aux = res if has_aux else (res, None)
        if has_aux:
            aux = tree.tree_map(lambda a: a[0], aux)
        jac = jacobian.from_tangents(out_t, diff, argnums)
        return (jac, aux) if has_aux else jac

    return jacfwd_f


def jacrev(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
           has_aux: bool = False) -> Callable[..., Any]:
    argnums = checks.argnums_spec(argnums, "jacrev")

    @functools.wraps(f)
    def jacrev_f(*args: Any, **kwargs: Any) -> Any:
        nums = checks.resolve_argnums(argnums, len(args), "jacrev")
        out, fn, aux = vjp_flat(f, args, kwargs, nums, has_aux, "jacrev", retain=False)
        out_leaves, out_td = tree.flatten(out)
        basis = jacobian.basis(out_leaves)
        cts = vmap(lambda *bs: fn(tree.unflatten(out_td, list(bs))),
                   in_axes=(0,) * len(basis))(*basis)
        jac = jacobian.from_cotangents(cts, out, [tree.flatten(args[i]) for i in nums],
                                       argnums)
        return (jac, aux) if has_aux else jac

    return jacrev_f


def hessian(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
            has_aux: bool = False) -> Callable[..., Any]:
    # (the forward derivative of the gradient: grad's rule for the output holds here as in
    # every method; for a function with several outputs, jacfwd(jacrev(f)) gives one Hessian
    # per output)
    return jacfwd(grad(f, argnums, has_aux, transform="hessian"), argnums, has_aux,
                  transform="hessian")


def hvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> Any:
    nums = tuple(range(len(primals)))
    _, t = jvp(grad(f, argnums=nums), tuple(primals), tuple(tangents))
    return t[0] if len(primals) == 1 else t


def _function_vjp(f: Callable[..., Any], *primals: Any) -> Any:
    return vjp(f, *primals)


set_function_vjp(_function_vjp)
vjp._cr_makes_functions = True  # type: ignore[attr-defined]
linearize._cr_makes_functions = True  # type: ignore[attr-defined]
