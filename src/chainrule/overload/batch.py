"""Vectorisation by operator overloading (`vmap`): a batch axis carried through every primitive.

A `BatchTracer` holds a value whose axis 0 is the batch axis. Each primitive's batching rule maps
the batched computation onto one NumPy call, so `jacfwd`, `jacrev` and `hessian` push a whole basis
of tangents or cotangents through a single pass instead of a Python loop.
"""
from __future__ import annotations

from typing import Any

from .._core.errors import LeakedTracerError, RuleError
from .._core.primitive import (
    Primitive,
    Trace,
    Tracer,
    dead_trace_message,
    dtype_of,
    ndim_of,
    shape_of,
)
from .._core.rules import CUSTOM_RULES
from .tape import closed_over


class BatchTrace(Trace):
    __slots__ = ("size",)

    def __init__(self, level: int, size: int) -> None:
        super().__init__(level)
        self.size = size

    def process(self, prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
        if not self.active:
            raise LeakedTracerError(dead_trace_message(prim.name))
        vals = []
        batched = []
        for a in args:
            if type(a) is BatchTracer and a._trace is self:
                vals.append(a.val)
                batched.append(True)
            else:
                vals.append(a)
                batched.append(False)
        rule = prim.batch
        if rule is None:
            raise RuleError(prim.name, "batching")
        out = rule(vals, tuple(batched), **params)
        custom = CUSTOM_RULES.get(prim) if prim.multiple_results else None
        if custom is not None and custom.on_closure is not None and closed_over(out, self):
            return custom.on_closure(args, **params)
        if prim.multiple_results:
            return [BatchTracer(self, o) for o in out]
        return BatchTracer(self, out)


class BatchTracer(Tracer):
    __slots__ = ("val",)

    def __init__(self, trace: BatchTrace, val: Any) -> None:
        self._trace = trace
        self.val = val

    @property
    def shape(self) -> tuple[int, ...]:
        return shape_of(self.val)[1:]

    @property
    def ndim(self) -> int:
        return ndim_of(self.val) - 1

    @property
    def dtype(self) -> Any:
        return dtype_of(self.val)

    def _below(self) -> Any:
        return self.val  # every example: fine for a finiteness test, not for a bool

    def __repr__(self) -> str:
        return f"BatchTracer({self.val!r})"
