"""`custom_jvp` and `custom_vjp` functions under the symbolic interpreter: their rules are kept.

A call of a custom function on symbols becomes, for each element of its (floating-point)
outputs, one node `custom_call(value, *inputs)`: `value` is the element as the function
computes it (the function is traced on the symbols, so the node evaluates, simplifies and
prints like any expression), and `inputs` are the elements of the call's arguments. The node's
derivative is not that of `value` but the user's rule's:

- forward (`diff`, `jvp`, `jacfwd`, the second pass of `hessian`): the primitive's own JVP rule
  from the rule table, run on expressions: a `custom_jvp`'s rule, or for a `custom_vjp` the
  transpose of its `bwd` (as the overload method's forward mode does);
- reverse (`grad`, `vjp`, `jacrev`, the gradient of `hessian` and `hvp`): `diff.gradients`
  gives the call the cotangent of its outputs and calls the user's `bwd` on it (`pull_back`), so
  a `bwd` that is not linear in the cotangent (clipping it, say) gives what reverse mode gives.

A rule that cannot run on expressions (Python control flow on a value, a library outside
chainrule) raises `SymbolicError` naming the custom function, as does a custom function that
closes over a differentiated value (its rule could not give that value a derivative).
"""
from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import numpy as cnp
from .._core.errors import ChainruleError
from .._core.primitive import Primitive, Tracer, dtype_of, shape_of
from .._core.rules import CUSTOM_RULES, Zero, def_rule
from ..ops import index as I
from .arrays import (
    ExprArray,
    array_result,
    elements,
    handles,
    private_primitive,
    refusal,
    unsupported,
)
from .expr import Apply, Expr, Symbol, SymbolicError, as_expr, rebuild, topo_order


@dataclasses.dataclass
class _Leaf:
    """One argument leaf of a call: its shape and dtype, and either its constant value or
    (`symbolic`) the number of its elements among the node's inputs."""
    shape: tuple[int, ...]
    dtype: np.dtype
    const: Any
    n: int
    symbolic: bool


class Call:
    """One call of a custom function met on symbols (a parameter of its output nodes)."""

    def __init__(self, prim: Primitive, params: dict[str, Any], args: Sequence[Any]) -> None:
        self.prim = prim
        self.params = params
        self.kind = "custom_jvp" if prim.name == "custom_jvp_call" else "custom_vjp"
        fun = params.get("fun")
        self.name = getattr(getattr(fun, "fun", fun), "__name__", None) or \
            getattr(params.get("fwd"), "name", "?")
        self.leaves: list[_Leaf] = []
        self.inputs: list[Expr] = []
        for a in args:
            el = elements(a) if isinstance(a, (Expr, ExprArray)) else None
            if el is None:
                self.leaves.append(_Leaf(shape_of(a), dtype_of(a), a, 0, False))
                continue
            self.leaves.append(_Leaf(el.shape, dtype_of(a), None, el.size, True))
            self.inputs.extend(as_expr(v, self.kind) for v in el.reshape(-1).tolist())
        # per output leaf: shape, dtype, whether its elements are nodes (floating point)
        self.outs: list[tuple[tuple[int, ...], np.dtype, bool]] = []
        self.n_out = 0
        self._memo: dict[Any, Any] = {}

    def __repr__(self) -> str:
        return f"<{self.kind} call of {self.name}>"

    def what(self) -> str:
        return f"the rule of {self.kind} function {self.name}"

    # -- values as the user's functions see them --------------------------------------------
    def arguments(self, values: Sequence[Any]) -> list[Any]:
        """The call's argument leaves, with `values` (one per input element) in place of the
        symbolic elements."""
        it = iter(values)
        return [_assemble([next(it) for _ in range(leaf.n)], leaf.shape, leaf.dtype)
                if leaf.symbolic else leaf.const for leaf in self.leaves]

    def tangent_arguments(self, tangents: Sequence[Any]) -> list[Any]:
        it = iter(tangents)
        out = []
        for leaf in self.leaves:
            if not leaf.symbolic or leaf.n == 0:
                out.append(Zero)
                continue
            ts = [next(it) for _ in range(leaf.n)]
            out.append(Zero if all(t is Zero for t in ts) else
                       _assemble([0.0 if t is Zero else t for t in ts], leaf.shape, leaf.dtype))
        return out

    def cotangent_arguments(self, cts: Sequence[Any], outs: Sequence[Any]) -> list[Any]:
        it = iter(cts)
        result = []
        for (shape, dtype, diff), o in zip(self.outs, outs):
            if not diff:
                result.append(np.zeros(shape_of(o), dtype_of(o)))
                continue
            n = int(np.prod(shape))
            result.append(_assemble([next(it) for _ in range(n)], shape, dtype))
        return result

    def _flat_outputs(self, leaves: Sequence[Any]) -> list[Any]:
        flat: list[Any] = []
        for (shape, _, diff), o in zip(self.outs, leaves):
            if diff:
                flat.extend(_items(o, shape))
        return flat

    # -- the rules ----------------------------------------------------------------------------
    def tangents(self, primals: Sequence[Any], tangents: Sequence[Any]) -> list[Any]:
        """The tangent of every output element, by the primitive's JVP rule (memoised: each
        output element's node asks for the same pass)."""
        key = (tuple(map(id, primals)), tuple(map(id, tangents)))
        got = self._memo.get(key)
        if got is None:
            leaves = self.arguments(primals)
            with _rule(self):
                _, out_dot = self.prim.jvp(leaves,  # type: ignore[misc]
                                           self.tangent_arguments(tangents), **self.params)
            got = self._memo[key] = (tuple(primals), tuple(tangents),
                                     self._flat_outputs(out_dot))
        return got[2]  # type: ignore[no-any-return]

    def pull_back(self, cts: Sequence[Any]) -> list[Any]:
        """The cotangents of the input elements for the cotangents `cts` of the output
        elements, by the user's bwd (reverse mode's meaning of a custom_vjp)."""
        leaves = self.arguments(self.inputs)
        needed = [i for i, leaf in enumerate(self.leaves) if leaf.symbolic]
        with _rule(self):
            custom = CUSTOM_RULES[self.prim]
            outs, res = custom.fwd(*leaves, **self.params)  # type: ignore[misc]
            got = custom.bwd(res, self.cotangent_arguments(cts, outs),  # type: ignore[misc]
                             needed, **self.params)
        flat: list[Any] = []
        for leaf, g in zip(self.leaves, got):
            if not leaf.symbolic:
                continue
            if g is None or g is Zero:
                flat.extend([Zero] * leaf.n)
            else:
                flat.extend(_items(g, leaf.shape))
        return flat


class _rule:
    """Around a user's rule: its failures on symbols name the custom function."""

    def __init__(self, call: Call) -> None:
        self.call = call

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None or isinstance(exc, ChainruleError) and not isinstance(exc, SymbolicError):
            return
        if isinstance(exc, SymbolicError):
            raise type(exc)(f"{self.call.what()} must run on symbols for method='symbolic': "
                            f"{exc}") from exc
        if isinstance(exc, Exception):
            raise refusal(exc, self.call.what()) from exc


def _assemble(values: list[Any], shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """Element values as an argument of the given shape: an expression, an ExprArray, a
    NumPy array, or (values traced by another interpreter) a stacked array of them."""
    if any(isinstance(v, Tracer) and not isinstance(v, (Expr, ExprArray)) for v in values):
        return values[0] if shape == () else cnp.reshape(cnp.stack(values), shape)
    a = np.empty(len(values), dtype=object)
    a[:] = [v.arr[()] if isinstance(v, ExprArray) else v for v in values]
    return array_result(a.reshape(shape), dtype if dtype.kind == "f" else None)


def _items(o: Any, shape: tuple[int, ...]) -> list[Any]:
    """The elements of a rule's result `o` (broadcast to `shape`), as a flat list."""
    if isinstance(o, Tracer) and not isinstance(o, (Expr, ExprArray)):
        return [o] if shape == () else [I.getitem(o, idx) for idx in np.ndindex(*shape)]
    return np.broadcast_to(elements(o), shape).reshape(-1).tolist()


# ---------------------------------------------------------------------------------------------
# the output node

def _out_impl(value: Any, *inputs: Any, call: Call, k: int) -> Any:
    return value


def _out_abstract(value: Any, *inputs: Any, call: Call, k: int) -> Any:
    return shape_of(value), dtype_of(value)


def _out_jvp(primals: list[Any], tangents: list[Any], *, call: Call, k: int) -> Any:
    ans = custom_out_p.bind(*primals, call=call, k=k)
    if all(t is Zero for t in tangents[1:]):
        return ans, Zero
    t = call.tangents(primals[1:], tangents[1:])[k]
    return ans, (Zero if t is Zero or t is None else t)


def _out_batch(args: list[Any], batched: tuple[bool, ...], *, call: Call, k: int) -> Any:
    raise unsupported(f"vmap over the symbolic derivative of {call.kind} function {call.name}",
                      "the symbolic node of a custom rule takes scalar operands")


custom_out_p = private_primitive("custom_call", _out_impl, _out_abstract)
def_rule(custom_out_p, jvp=_out_jvp, batch=_out_batch)


def is_reverse_call(node: Expr) -> bool:
    """Whether `node` is an output of a custom_vjp call (whose reverse rule is its own)."""
    return node.prim is custom_out_p and node.params["call"].kind == "custom_vjp"


_FRESH = itertools.count()


@handles("custom_jvp_call", "custom_vjp_call")
def custom_call(prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
    """A custom_jvp or custom_vjp call on symbols: the function traced, each output element
    made a node that keeps the rule (the symbolic interpreter's handler of both primitives)."""
    call = Call(prim, params, args)
    # traced on symbols of its own, so that what it reaches other than through its arguments
    # (a closure over a differentiated value) shows
    fresh = [Symbol(f"_c{next(_FRESH)}") for _ in call.inputs]
    try:
        outs = prim.impl(*call.arguments(fresh), **params)
    except SymbolicError as exc:
        raise type(exc)(f"{call.kind} function {call.name} must run on symbols for "
                        f"method='symbolic': {exc}") from exc
    roots = [v for o in outs for v in elements(o).reshape(-1).tolist() if isinstance(v, Expr)]
    values = _substitute(roots, fresh, call)
    result = []
    k = 0
    for o in outs:
        el = elements(o)
        dt = dtype_of(o)
        diff = dt.kind == "f"
        call.outs.append((el.shape, dt, diff))
        nodes = np.empty(el.shape, dtype=object)
        for idx in np.ndindex(*el.shape):
            v = el[idx]
            value = as_expr(values[id(v)] if isinstance(v, Expr) else v, call.kind)
            if diff:
                value = Apply.make(custom_out_p, (value, *call.inputs), {"call": call, "k": k},
                                   value.dtype)
                k += 1
            nodes[idx] = value
        result.append(array_result(nodes, dt))
    call.n_out = k
    return result


def _substitute(roots: list[Expr], fresh: list[Symbol], call: Call) -> dict[int, Expr]:
    """The traced outputs with the call's own symbols replaced by its inputs; a symbol of
    another origin means the function closed over a traced value, which is refused (the
    overload method refuses it the same way: the rule could not give it a derivative)."""
    done: dict[int, Any] = {id(s): e for s, e in zip(fresh, call.inputs)}
    for n in topo_order(roots):
        if id(n) in done:
            continue
        if isinstance(n, Symbol):
            raise SymbolicError(f"{call.kind} function {call.name} closes over a value that is "
                                f"being differentiated ({n.name}); its rule cannot give that "
                                f"value a derivative. Pass the value to the function as an "
                                f"argument instead")
        done[id(n)] = rebuild(n, tuple(done[id(a)] for a in n.args)) if n.args else n
    return done


__all__ = ["Call", "custom_call", "custom_out_p", "is_reverse_call"]
