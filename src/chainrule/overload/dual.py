"""Forward mode by operator overloading: dual numbers (primal, tangent).

A `DualTracer` carries a primal value and its tangent; every primitive applied to it runs the
primitive's JVP rule from the rule table. Tangents may be `Zero` (nothing flows) and may be
tracers of other interpreters themselves (batched by `vmap`, recorded by a tape), which is how
Jacobians and higher derivatives compose.
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
from .._core.rules import CUSTOM_RULES, Zero
from .tape import closed_over


class DualTrace(Trace):
    __slots__ = ()

    def process(self, prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
        if not self.active:
            raise LeakedTracerError(dead_trace_message(prim.name))
        primals = []
        tangents = []
        live = False
        for a in args:
            if type(a) is DualTracer and a._trace is self:
                primals.append(a.primal)
                tangents.append(a.tangent)
                live = live or a.tangent is not Zero
            else:
                primals.append(a)
                tangents.append(Zero)
        if prim.nondiff or not live:
            return prim.bind(*primals, **params)
        rule = prim.jvp
        if rule is None:
            raise RuleError(prim.name, "forward")
        ans, ans_dot = rule(primals, tangents, **params)
        custom = CUSTOM_RULES.get(prim) if prim.multiple_results else None
        if custom is not None and custom.on_closure is not None and (
                closed_over(ans, self) or closed_over(ans_dot, self)):
            return custom.on_closure(args, **params)
        if prim.multiple_results:
            return [DualTracer(self, a, t) for a, t in zip(ans, ans_dot)]
        return DualTracer(self, ans, ans_dot)


class DualTracer(Tracer):
    __slots__ = ("primal", "tangent")

    def __init__(self, trace: DualTrace, primal: Any, tangent: Any) -> None:
        self._trace = trace
        self.primal = primal
        self.tangent = tangent

    @property
    def shape(self) -> tuple[int, ...]:
        return shape_of(self.primal)

    @property
    def ndim(self) -> int:
        return ndim_of(self.primal)

    @property
    def dtype(self) -> Any:
        return dtype_of(self.primal)

    def __repr__(self) -> str:
        return f"DualTracer(primal={self.primal!r}, tangent={self.tangent!r})"

    def _below(self) -> Any:
        return self.primal

    _concrete = _below
