"""The eager Tensor (PyTorch style): operations record themselves as they run; `backward()` walks
the recorded graph and accumulates gradients into the `.grad` of leaf tensors.

It is the tape interpreter of `tape.py` at level 0, always active: the functional transforms open
their levels above it, so the two styles mix without confusing each other.
"""
from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .._core import tree
from .._core.errors import ConcretizationError, InPlaceError
from .._core.primitive import Primitive, Trace, shape_of
from .._core.rules import CUSTOM_RULES
from .tape import LeafNode, Node, TapeTracer, backward, grad_mode, record_custom, unwrap_args


class EagerTrace(Trace):
    """Records only while grad mode is on and some argument requires grad. It keeps no list of
    nodes: the graph hangs off the tensors, and backward() orders what it reaches."""

    __slots__ = ()

    def process(self, prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
        vals, parents, _ = unwrap_args(self, args)
        if prim.nondiff or not parents or not grad_mode.enabled:
            ans = prim.bind(*vals, **params)
            if prim.multiple_results:
                return [Tensor._wrap(a, None) for a in ans]
            return Tensor._wrap(ans, None)
        # the Tensors themselves are saved, so that create_graph can differentiate the backward
        node: Node | None
        custom = CUSTOM_RULES.get(prim) if prim.multiple_results else None
        if custom is not None and custom.fwd is not None:
            ans, node = record_custom(self, custom, prim, args, vals, parents, params, args)
            if node is None:
                return ans
        else:
            ans = prim.bind(*vals, **params)
            node = Node(prim, params, args, ans, parents)
        if prim.multiple_results:
            return [Tensor._wrap(a, node, k) for k, a in enumerate(ans)]
        return Tensor._wrap(ans, node)


EAGER = EagerTrace(0)


class Tensor(TapeTracer):
    """An array that records the operations applied to it (see `cr.tensor`)."""

    __slots__ = ("grad", "__weakref__")

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        value = np.array(data.value if isinstance(data, Tensor) else data, dtype=dtype)
        if requires_grad and not np.issubdtype(value.dtype, np.inexact):
            raise TypeError(f"only floating-point tensors can require gradients, got dtype "
                            f"{value.dtype}; pass dtype=float or floating-point data")
        super().__init__(EAGER, value, None, 0)
        self.grad: Any = None
        if requires_grad:
            self._make_leaf()

    @classmethod
    def _wrap(cls, value: Any, node: Node | None, idx: int = 0) -> Tensor:
        t = cls.__new__(cls)
        TapeTracer.__init__(t, EAGER, value, node, idx)
        t.grad = None
        return t

    def _make_leaf(self) -> None:
        self.node = LeafNode(weakref.ref(self))

    # -- autograd state ---------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self.node is not None

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if not self.is_leaf:
            raise RuntimeError("requires_grad can only be changed on leaf tensors; use "
                               ".detach() to get a new leaf")
        if flag and self.node is None:
            if not np.issubdtype(np.asarray(self.value).dtype, np.inexact):
                raise TypeError("only floating-point tensors can require gradients")
            self._make_leaf()
        elif not flag:
            self.node = None

    def requires_grad_(self, flag: bool = True) -> Tensor:
        self.requires_grad = flag
        return self

    @property
    def is_leaf(self) -> bool:
        return self.node is None or self.node.prim is None

    @property
    def grad_fn(self) -> str | None:
        """The name of the primitive that made this tensor (None for leaves)."""
        if self.node is None or self.node.prim is None:
            return None
        return self.node.prim.name

    def detach(self) -> Tensor:
        return Tensor._wrap(self.value, None)

    def backward(self, gradient: Any = None, retain_graph: bool = False,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into `leaf.grad` for every leaf that requires grad."""
        if self.node is None:
            raise RuntimeError("backward(): this tensor does not require grad and has no "
                               "grad_fn; create its inputs with requires_grad=True")
        if gradient is None:
            if shape_of(self.value) != ():
                raise RuntimeError(f"backward(): grad can be implicitly created only for scalar "
                                   f"outputs, this one has shape {shape_of(self.value)}; pass "
                                   f"gradient= with that shape")
            gradient = np.ones((), np.asarray(self.value).dtype)
        _run_backward([self], [gradient], retain_graph, create_graph, accumulate=True)

    # -- in-place updates (the optimiser's `p -= lr * p.grad` under no_grad) -----------------
    def _inplace(self, ufunc: Any, other: Any) -> Tensor:
        if grad_mode.enabled and self.requires_grad:
            raise InPlaceError(
                "in-place update of a tensor that requires grad would corrupt its graph; do it "
                "inside `with cr.no_grad():` (as an optimiser step does), or write x = x - v")
        o = other.value if isinstance(other, Tensor) else other
        if isinstance(self.value, np.ndarray) and self.value.flags.writeable:
            ufunc(self.value, o, out=self.value, casting="same_kind")
        else:
            self.value = np.asarray(ufunc(self.value, o))
        return self

    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace(np.add, other)

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace(np.subtract, other)

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace(np.multiply, other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._inplace(np.true_divide, other)

    def __setitem__(self, idx: Any, value: Any) -> None:
        if grad_mode.enabled and (self.requires_grad or isinstance(value, Tensor)
                                  and value.requires_grad):
            raise InPlaceError("x[idx] = v on a tensor that requires grad cannot be "
                               "differentiated; use x = cnp.at(x)[idx].set(v), or do it "
                               "inside `with cr.no_grad():`")
        self.value[idx] = value.value if isinstance(value, Tensor) else value

    # -- conversions ------------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise RuntimeError("numpy() of a tensor that requires grad; use "
                               "tensor.detach().numpy()")
        return np.asarray(self.value)

    def item(self) -> Any:
        return np.asarray(self.value).item()

    def tolist(self) -> Any:
        return np.asarray(self.value).tolist()

    def __float__(self) -> float:
        return float(self.value)

    def __int__(self) -> int:
        return int(self.value)

    def __bool__(self) -> bool:
        return bool(self.value)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if self.requires_grad:
            raise ConcretizationError("a tensor that requires grad cannot become a NumPy array "
                                      "silently; use tensor.detach().numpy()")
        return np.asarray(self.value, dtype=dtype)

    def __repr__(self) -> str:
        body = np.array2string(np.asarray(self.value), separator=", ", prefix="tensor(")
        extra = ""
        if self.grad_fn is not None:
            extra = f", grad_fn=<{self.grad_fn}>"
        elif self.requires_grad:
            extra = ", requires_grad=True"
        return f"tensor({body}{extra})"


def _run_backward(outputs: Sequence[Tensor], cts: Sequence[Any], retain: bool, create: bool,
                  accumulate: bool, inputs: Sequence[Tensor] = ()) -> dict[Any, Any]:
    roots = []
    for o, c in zip(outputs, cts):
        if o.node is None:
            continue
        c = c.value if isinstance(c, Tensor) and not create else c
        if shape_of(c) != shape_of(o.value):
            raise ValueError(f"backward(): gradient of shape {shape_of(c)} given for a tensor of "
                             f"shape {shape_of(o.value)}; they must match")
        roots.append((o.node, o.idx, c))
    capture = {(t.node, t.idx) for t in inputs if t.node is not None}
    unwrap = None if create else _values
    ctx = contextlib.nullcontext() if create else no_grad()
    with ctx:
        got = backward(roots, retain=retain or create, capture=capture, unwrap=unwrap,
                       recompute=create)
    if accumulate:
        owned = iter(tree.owned_arrays([g for g in got.values()], list(cts)))
        got = {key: next(owned) for key in got}
        for (node, _), g in got.items():
            if isinstance(node, LeafNode) and node.owner is not None:
                leaf = node.owner()
                if leaf is None:
                    continue
                g = _as_grad(g, leaf, create)
                leaf.grad = g if leaf.grad is None else leaf.grad + g
    return got


def _as_grad(g: Any, leaf: Tensor, create: bool) -> Any:
    if isinstance(g, Tensor):
        return g if create else g.value
    g = np.asarray(g, dtype=np.asarray(leaf.value).dtype)
    if g.base is not None or not g.flags.writeable:
        g = g.copy()  # .grad is the tensor's own, writable array
    return Tensor._wrap(g, None) if create else g


def _values(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(a.value if isinstance(a, Tensor) else a for a in args)


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A new leaf Tensor holding a copy of `data` (Python floats become float64)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def gradients(outputs: Any, inputs: Any, grad_outputs: Any = None, retain_graph: bool = False,
              create_graph: bool = False, allow_unused: bool = False) -> tuple[Any, ...]:
    """The functional form of backward(): d(outputs)/d(inputs), returned, not accumulated."""
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        cts = []
        for o in outs:
            if shape_of(o.value) != ():
                raise RuntimeError(f"gradients(): grad_outputs is needed for non-scalar outputs "
                                   f"(shape {shape_of(o.value)})")
            cts.append(np.ones((), np.asarray(o.value).dtype))
    else:
        cts = [grad_outputs] if not isinstance(grad_outputs, (list, tuple)) else list(grad_outputs)
    for t in ins:
        if t.node is None:
            raise RuntimeError("gradients(): one of the inputs does not require grad")
    got = _run_backward(outs, cts, retain_graph, create_graph, accumulate=False, inputs=ins)
    result = []
    for t in ins:
        g = got.get((t.node, t.idx))
        if g is None:
            if not allow_unused:
                raise RuntimeError("gradients(): one of the inputs was not used to compute the "
                                   "outputs; pass allow_unused=True to get None for it")
            result.append(None)
        else:
            result.append(_as_grad(g, t, create_graph))
    return tuple(result)


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Within this block, Tensor operations record nothing."""
    prev = grad_mode.enabled
    grad_mode.enabled = False
    try:
        yield
    finally:
        grad_mode.enabled = prev


@contextlib.contextmanager
def enable_grad() -> Iterator[None]:
    prev = grad_mode.enabled
    grad_mode.enabled = True
    try:
        yield
    finally:
        grad_mode.enabled = prev
