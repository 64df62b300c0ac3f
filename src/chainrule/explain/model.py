"""The table model of `cr.explain`: the rows of an evaluation trace, the equations recorded from a
run, and the expressions shown in the tables (what a rule computed, as a tree of primitive
applications). Data only: the interpreters (`trace.py`) build it, `render.py` writes it as text.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._core.primitive import Primitive

# ---------------------------------------------------------------------------------------------
# the public record of a trace

@dataclass(frozen=True)
class Row:
    """One variable vᵢ of the evaluation trace.

    `index` is i (inputs are numbered 1-n … 0, the primitives' rows 1, 2, ... by level, or in
    the order they ran with `order="run"`);
    `name` is the input's name (None for other rows); `primitive` the primitive's name (None for
    an input); `operands` one entry per argument: an int is the index j of vⱼ, a float a
    constant. `value` is vᵢ, `tangent` v̇ᵢ for the chosen input, `adjoint` v̄ᵢ, and
    `adjoint_terms` the contributions (k, v̄ₖ ∂vₖ/∂vᵢ) that were summed into it, by row k.
    """

    index: int
    name: str | None
    primitive: str | None
    operands: tuple[int | float, ...]
    value: float
    tangent: float
    adjoint: float
    adjoint_terms: tuple[tuple[int, float], ...]


# ---------------------------------------------------------------------------------------------
# expressions, for display only: what a rule computed, as a tree of primitive applications

@dataclass(frozen=True)
class Ref:
    """vᵢ (kind "v"), v̇ᵢ ("dot"), v̄ᵢ ("bar"), or the seed ȳ ("seed")."""

    kind: str
    index: int


@dataclass(frozen=True)
class Num:
    value: Any


@dataclass(frozen=True)
class Apply:
    prim: str
    args: tuple[Any, ...]
    params: tuple[tuple[str, str], ...] = ()


#: the display name of a reverse rule's guard that took its zero branch: a contribution
#: v̄ᵢ × ∂vᵢ/∂vⱼ that is 0 because v̄ᵢ is 0, even where ∂vᵢ/∂vⱼ is infinite. Never a primitive's
#: name: `Apply(MASKED, (the cotangent's expression,))`.
MASKED = "<zero where the adjoint is zero>"


def params_key(params: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((k, repr(v)) for k, v in params.items())


def replace(e: Any, old: Any, new: Any) -> Any:
    """`e` with every subtree equal to `old` replaced by `new` (the rule's recomputation of the
    row's own primitive is shown as vᵢ)."""
    if e == old:
        return new
    if isinstance(e, Apply):
        return Apply(e.prim, tuple(replace(a, old, new) for a in e.args), e.params)
    return e


# ---------------------------------------------------------------------------------------------
# the program as recorded: one equation per primitive that ran on a recorded value

@dataclass
class Eqn:
    """vᵢ = prim(args, **params), which computed `value`."""

    index: int
    prim: Primitive
    args: list[Any]         # Ref('v', j): a recorded variable; anything else: a constant
    params: dict[str, Any]
    value: Any


def operand(a: Any) -> Any:
    """An equation's argument as an expression: vⱼ, or the constant."""
    return a if isinstance(a, Ref) else Num(a)


__all__ = ["MASKED", "Apply", "Eqn", "Num", "Ref", "Row", "operand", "params_key", "replace"]
