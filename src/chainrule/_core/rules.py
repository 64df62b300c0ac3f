"""The one rule table: how each primitive is differentiated and batched.

Rules are attached to the primitive record itself (see `Primitive`), so every interpreter reads the
same place:

- `jvp(primals, tangents, **params) -> (ans, ans_dot)`: the forward rule. Tangents of arguments that
  carry no derivative arrive as `Zero`, which absorbs `*` and vanishes in `+`, so most rules read
  like the calculus they implement.
- `vjp=(f0, f1, ...)`: one function per argument, `f_i(ct, ans, *args, **params) -> ct_i`, or None
  for an argument that is never differentiated. Hand-written VJPs make the tape fast.
- `transpose=(t0, t1, ...)`: for primitives linear in an argument, `t_i(ct, *args, **params)`.
- `batch(args, batched, **params)`: the vectorising rule used by `vmap`, `jacfwd`, `jacrev`; it
  receives the arguments with the batch axis at 0 for those flagged in `batched` and returns
  the output with the batch axis at 0.

Rules are written with chainrule's own primitives, never raw NumPy, so that differentiating a rule
is just running it under another interpreter.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .errors import RegistrationError
from .primitive import Primitive


class ZeroType:
    """The symbolic zero: "no derivative flows here". Rules skip work on it."""

    __slots__ = ()
    __array_ufunc__ = None  # make NumPy defer to our reflected operators
    _instance: ZeroType | None = None

    def __new__(cls) -> ZeroType:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "Zero"

    def __mul__(self, other: Any) -> ZeroType:
        return self

    __rmul__ = __mul__
    __truediv__ = __mul__
    __matmul__ = __mul__
    __rmatmul__ = __mul__

    def __add__(self, other: Any) -> Any:
        return other

    __radd__ = __add__

    def __sub__(self, other: Any) -> Any:
        return -other

    def __rsub__(self, other: Any) -> Any:
        return other

    def __neg__(self) -> ZeroType:
        return self

    def __bool__(self) -> bool:
        raise TypeError("the symbolic Zero has no truth value; test `x is Zero` instead")


Zero = ZeroType()


def is_zero(x: Any) -> bool:
    return x is Zero


RuleSeq = Sequence[Callable[..., Any] | None]


def def_rule(prim: Primitive, *, jvp: Callable[..., Any] | None = None,
             vjp: RuleSeq | Callable[..., Any] | None = None,
             transpose: RuleSeq | Callable[..., Any] | None = None,
             batch: Callable[..., Any] | None = None) -> Primitive:
    """Attach rules to `prim`. Defining the same rule twice raises."""
    for kind, rule in (("jvp", jvp), ("vjp", vjp), ("transpose", transpose), ("batch", batch)):
        if rule is None:
            continue
        if getattr(prim, kind) is not None:
            raise RegistrationError(f"primitive '{prim.name}' already has a {kind} rule")
        if kind in ("vjp", "transpose"):
            rule = (rule,) if callable(rule) else tuple(rule)  # type: ignore[arg-type]
        setattr(prim, kind, rule)
    return prim


def def_nondiff(prim: Primitive, batch: Callable[..., Any] | None = None) -> Primitive:
    """Mark `prim` as having no derivative (comparisons, floor, sign...): its output is a constant
    to every differentiating interpreter, so its gradient is an exact zero."""
    prim.nondiff = True
    if batch is not None:
        def_rule(prim, batch=batch)
    return prim


def has_reverse_rule(prim: Primitive) -> bool:
    return prim.nondiff or prim.vjp is not None or prim.transpose is not None
