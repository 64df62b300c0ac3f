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

import threading
from collections.abc import Callable, Sequence
from typing import Any

from .errors import RegistrationError, RuleError
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
    """Whether `x` says "no derivative flows here". Interpreters and rules use `Zero`; generated
    derivative code (source) also writes None (an integer's entry, a missing one) and the
    number 0.0 (the zeros of a whole container, whatever its structure). One test for all."""
    return x is Zero or x is None or (isinstance(x, float) and x == 0.0)


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


# ---------------------------------------------------------------------------------------------
# the reverse rule of argument i: hand-written VJP, else transpose, else derived from the JVP

#: the transposes adapted to the VJP signature, one function per (primitive, argument), so that
#: caches keyed on the rule see the same object every time
_ADAPTED: dict[tuple[Primitive, int], Callable[..., Any]] = {}


def reverse_rule(prim: Primitive, i: int) -> Callable[..., Any] | None:
    """The written reverse rule of argument `i`, as `rule(ct, ans, *args, **params) -> ct_i`:
    the hand-written VJP, else the transpose (for a primitive linear in that argument); None
    when neither is written (see `derived_vjp` for the rule obtained from the JVP)."""
    rule = _entry(prim.vjp, i)
    if rule is not None:
        return rule
    t = _entry(prim.transpose, i)
    if t is None:
        return None
    key = (prim, i)
    rule = _ADAPTED.get(key)
    if rule is None:

        def transposed(ct: Any, ans: Any, *args: Any, **params: Any) -> Any:
            return t(ct, *args, **params)

        transposed.__name__ = f"{getattr(t, '__name__', 'transpose')}_as_vjp"
        rule = _ADAPTED[key] = transposed
    return rule


def _entry(rules: Any, i: int) -> Callable[..., Any] | None:
    """Entry i of a rule sequence (variadic primitives give an object that indexes any i)."""
    if rules is None:
        return None
    try:
        return rules[i]  # type: ignore[no-any-return]
    except IndexError:  # (a rule tuple shorter than the arguments: none for the rest)
        return None


class _Reverse:
    """The reverse interpreter, as the kernel knows it: the overload engine registers itself
    here on import (the kernel has no tape of its own, and `ops/` must not import one)."""

    derive: Callable[..., list[Any]] | None = None
    function_vjp: Callable[..., Any] | None = None


_REVERSE = _Reverse()


def set_vjp_deriver(fn: Callable[..., list[Any]]) -> None:
    """Register `fn(prim, args, params, ct, needed) -> cotangents` (the tape does, on import)."""
    _REVERSE.derive = fn


def set_function_vjp(fn: Callable[..., Any]) -> None:
    """Register `fn(f, *primals) -> (out, vjp_fn)` (the overload engine does, on import)."""
    _REVERSE.function_vjp = fn


def _no_reverse(what: str) -> RuleError:
    return RuleError(what, "reverse", "no reverse interpreter is loaded; import chainrule")


def function_vjp(f: Callable[..., Any], *primals: Any) -> Any:
    """`(out, vjp_fn)` of a function written with primitives, by the registered reverse
    interpreter: for a rule whose transpose is easiest to state as a function's."""
    if _REVERSE.function_vjp is None:
        raise _no_reverse(getattr(f, "__name__", "function"))
    return _REVERSE.function_vjp(f, *primals)


def derived_vjp(prim: Primitive, args: tuple[Any, ...], params: dict[str, Any], ct: Any,
                needed: Sequence[int]) -> list[Any]:
    """The cotangents of arguments `needed` obtained from the JVP rule alone (one entry per
    argument; the others None): the rule's tangent computation recorded and pulled back."""
    if _REVERSE.derive is None:  # (only before chainrule.overload is imported)
        raise _no_reverse(prim.name)
    return _REVERSE.derive(prim, args, params, ct, list(needed))


def pull_back(prim: Primitive, needed: Sequence[int], ct: Any, ans: Any, args: tuple[Any, ...],
              params: dict[str, Any]) -> list[Any]:
    """The cotangents of the arguments `needed` of one application `ans = prim(*args)`, by the
    lookup every reverse interpreter shares (one entry per argument; the others None): the
    same order as `reverse_rule`, then the VJP derived from the JVP. (Written out rather than
    calling `reverse_rule`: the tape runs this once per recorded transpose.)"""
    out: list[Any] = [None] * len(args)
    vjps, transposes = prim.vjp, prim.transpose
    missing = []
    for i in needed:
        rule = _entry(vjps, i)
        if rule is not None:
            out[i] = rule(ct, ans, *args, **params)
            continue
        t = _entry(transposes, i)
        if t is not None:
            out[i] = t(ct, *args, **params)
        else:
            missing.append(i)
    if missing:
        if prim.jvp is None:
            raise RuleError(prim.name, "reverse", f"argument {missing[0]} has neither a VJP, a "
                            f"transpose nor a JVP rule")
        got = derived_vjp(prim, args, params, ct, missing)
        for i in missing:
            out[i] = got[i]
    return out


# ---------------------------------------------------------------------------------------------
# custom rules: primitives whose reverse pass runs a forward of their own (custom_vjp,
# checkpoint, the control-flow nodes) and what to do when their function closes over a
# traced value of the interpreter running it

class CustomRule:
    """The custom rules of a call primitive (one with `multiple_results`: its outputs are the
    called function's). `fwd(*args, **params) -> (ans, residuals)` replaces `impl` under a
    reverse interpreter, and `bwd(residuals, ct, needed, **params) -> cotangents` the VJPs;
    `on_closure(args, **params)` is called instead when the outputs turn out to be traced by
    the very interpreter that ran the primitive (the function closed over its values)."""

    __slots__ = ("fwd", "bwd", "on_closure")

    def __init__(self, fwd: Callable[..., Any] | None, bwd: Callable[..., Any] | None,
                 on_closure: Callable[..., Any] | None) -> None:
        self.fwd = fwd
        self.bwd = bwd
        self.on_closure = on_closure


#: the custom rules, by primitive (read by the interpreters; most primitives have none)
CUSTOM_RULES: dict[Primitive, CustomRule] = {}


def def_custom_rule(prim: Primitive, *, fwd: Callable[..., Any] | None = None,
                    bwd: Callable[..., Any] | None = None,
                    on_closure: Callable[..., Any] | None = None) -> Primitive:
    """Attach a custom forward/backward pair (both or neither) and a closure handler."""
    if prim in CUSTOM_RULES:
        raise RegistrationError(f"primitive '{prim.name}' already has custom rules")
    if not prim.multiple_results:  # (the interpreters look for custom rules only there)
        raise RegistrationError(f"primitive '{prim.name}': custom rules are for call primitives, "
                                f"which return a list of outputs; create it with "
                                f"multiple_results=True")
    if (fwd is None) != (bwd is None):
        raise RegistrationError(f"primitive '{prim.name}': give both fwd and bwd, or neither")
    CUSTOM_RULES[prim] = CustomRule(fwd, bwd, on_closure)
    return prim


# ---------------------------------------------------------------------------------------------
# strong zeros: a cotangent that is exactly 0 gives an exact 0, even times inf or nan

class _StrongZeros(threading.local):
    """Per thread: `skip` while generated derivative code runs its fast form (it checks its
    results once at the end and runs again with strong zeros when one is not finite)."""

    def __init__(self) -> None:
        self.skip = False


STRONG_ZEROS = _StrongZeros()


class skipping_strong_zeros:  # noqa: N801 - used as a function: `with skipping_strong_zeros(True)`
    """A context in which the rules drop (skip=True) or keep their strong-zero masks. A class,
    not a generator: generated code's fast form enters it on every call."""

    __slots__ = ("_skip", "_before")

    def __init__(self, skip: bool) -> None:
        self._skip = skip

    def __enter__(self) -> None:
        self._before = STRONG_ZEROS.skip
        STRONG_ZEROS.skip = self._skip

    def __exit__(self, *exc: object) -> None:
        STRONG_ZEROS.skip = self._before


class _ComplexMade(threading.local):
    """Per thread: set when a primitive made complex values from real ones (an FFT, a cast to a
    complex dtype). Generated derivative code's fast form is derived for real numbers: it runs
    with this cleared and runs again in its careful form when it was set (source/transforms)."""

    def __init__(self) -> None:
        self.made = False


COMPLEX_MADE = _ComplexMade()


def note_complex_made() -> None:
    """Called by the implementation of a primitive that made complex values from real ones."""
    COMPLEX_MADE.made = True
