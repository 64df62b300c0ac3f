"""`chainrule.source`: source-code transformation — Python AST in, readable derivative code out.

    g = cr.source.grad(f)        # an ordinary Python function computing f's gradient
    print(g.source)              # the generated code: primal sweep, then adjoint sweep
    cr.source.show(f, mode="forward")

The function's source is read with `inspect`, normalised (one operation per assignment, exits
turned into flags, loops over `range`), and derivative statements are written for each
assignment from the rule table (`pullback` / `pushforward` in the generated code). Generated
code is plain Python that the transformer accepts again, so derivatives of derivatives work.
Unsupported constructs raise `TransformError` naming the file, line and construct.
"""
from __future__ import annotations

import functools
import linecache
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._core import tree
from .._core.primitive import Tracer, innermost_value
from .._core.rules import Zero
from ..ops.elementwise import _all_finite, skipping_strong_zeros
from . import runtime
from .parse import TransformError
from .transform import ORIGINS, forward_function, reverse_function

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "show", "TransformError"]


def _user_line(exc: BaseException) -> None:
    """Add to `exc` the user's line that the failing generated statement came from."""
    tb = exc.__traceback__
    origin = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.startswith("<chainrule.source"):
            lines = linecache.getlines(filename)
            for k in range(tb.tb_lineno - 1, -1, -1):
                text = lines[k].strip() if k < len(lines) else ""
                if text.startswith("# line "):
                    number, _, code = text[len("# line "):].partition(": ")
                    origin = (tb.tb_frame.f_code.co_name, tb.tb_lineno,
                              ORIGINS.get(filename, "?"), number, code)
                    break
        tb = tb.tb_next
    if origin is not None:
        name, line, user_file, number, code = origin
        exc.add_note(f"raised in {name} (generated code, line {line}) for "
                     f"{user_file}:{number}: {code}")


def _calling(gen: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    try:
        return gen(*args, **kw)
    except Exception as exc:
        _user_line(exc)
        raise


def _finite(x: Any) -> bool:
    return all(leaf is Zero or _all_finite(leaf) for leaf in tree.leaves(x))


def _is_complex(x: Any) -> bool:
    dt = getattr(x, "dtype", None)
    return isinstance(x, complex) or (dt is not None and np.dtype(dt).kind == "c")


def for_values(gen: Callable[..., Any], *values: Any) -> Callable[..., Any]:
    """The generated function to run on these values: its careful form for complex ones (the
    written-out expressions are derived for real numbers)."""
    if any(_is_complex(leaf) for leaf in tree.leaves(values)):
        return getattr(gen, "careful", gen)
    return gen


def fast_then_careful(gen: Callable[..., Any], pick: Callable[[Any], Any], *args: Any,
                      **kw: Any) -> Any:
    """Run generated reverse code without the strong zeros' checks (one finiteness test per
    rule), then test the cotangents (`pick(result)`) once: when one is not finite, run it
    again with strong zeros, whose answer is then the right one. A zero cotangent meeting an
    infinite derivative makes a nan, and a nan cannot become finite on its way to the result
    through the rules, except where a selection drops it, and there a strong zero is dropped
    too; gradients computed inside the function always use strong zeros (transforms.vjp)."""
    careful = getattr(gen, "careful", gen)
    leaves = tree.leaves((args, kw))
    if any(_is_complex(leaf) for leaf in leaves):
        return _calling(careful, *args, **kw)  # (the fast form is derived for real numbers)
    if any(isinstance(leaf, Tracer) and innermost_value(leaf) is None for leaf in leaves):
        # a graph being built (`cr.graph.jit` over generated code): no values to test, and
        # the compiled graph makes its own fast form (graph.passes.drop_strong_zeros)
        return _calling(careful, *args, **kw)
    with skipping_strong_zeros(True), np.errstate(all="ignore"):  # (speculative: see below)
        out = _calling(gen, *args, **kw)
    if _finite(pick(out)):
        return out
    return _calling(careful, *args, **kw)


def _nums(argnums: int | Sequence[int]) -> tuple[int, ...]:
    return (argnums,) if isinstance(argnums, int) else tuple(argnums)


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The gradient of scalar-valued `f`, as generated Python (`.source` shows it)."""
    nums = _nums(argnums)
    gen = reverse_function(f, argnums if isinstance(argnums, int) else nums, grad_only=True)

    @functools.wraps(f)
    def grad_f(*args: Any) -> Any:
        g = fast_then_careful(gen, lambda r: r, *args)
        if isinstance(argnums, int):
            return runtime.finish(g, args[argnums])
        return tuple(runtime.finish(gi, args[i]) for gi, i in zip(g, nums))

    grad_f.source = gen.source  # type: ignore[attr-defined]
    grad_f._cr_transform_target = gen  # type: ignore[attr-defined]
    return grad_f


def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0
                   ) -> Callable[..., Any]:
    """`(f(*args), gradient)` from one generated function."""
    nums = _nums(argnums)
    gen = reverse_function(f, None)

    @functools.wraps(f)
    def value_and_grad_f(*args: Any) -> Any:
        out, cts = fast_then_careful(gen, lambda r: r[1], *args, **{gen.cotangent: 1.0})
        gs = tuple(runtime.finish(cts[i], args[i]) for i in nums)
        return out, (gs[0] if isinstance(argnums, int) else gs)

    value_and_grad_f.source = gen.source  # type: ignore[attr-defined]
    return value_and_grad_f


def vjp(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[..., Any]]:
    """`(out, vjp_fn)` like `cr.vjp`; `vjp_fn(ct)` runs the generated primal and adjoint
    sweeps (`vjp_fn.source`)."""
    gen = reverse_function(f, None)
    out = f(*primals)

    def vjp_fn(ct: Any) -> tuple[Any, ...]:
        _, cts = fast_then_careful(gen, lambda r: r[1], *primals, **{gen.cotangent: ct})
        return tuple(runtime.finish(c, p) for c, p in zip(cts, primals))

    vjp_fn.source = gen.source  # type: ignore[attr-defined]
    return out, vjp_fn


def jvp(f: Callable[..., Any], primals: Sequence[Any] | None = None,
        tangents: Sequence[Any] | None = None) -> Any:
    """With primals and tangents: `(out, out_tangent)` like `cr.jvp`. With `f` alone: the
    generated function `(*args, d_arg=...) -> (out, out_tangent)`, tangents passed by keyword
    (`.tangents` names them, `.source` shows it)."""
    gen = forward_function(f)
    if primals is None:
        return gen
    kw = dict(zip(gen.tangents, tangents))  # type: ignore[arg-type]
    out, t = _calling(for_values(gen, primals, kw), *primals, **kw)
    return out, runtime.finish(t, out) if not isinstance(out, (tuple, list, dict)) else t


def show(f: Callable[..., Any], mode: str = "reverse", argnums: int | Sequence[int] = 0
         ) -> str:
    """Print (and return) the code generated for `f`: mode "reverse" (the gradient) or
    "forward" (the JVP)."""
    if mode == "reverse":
        text = reverse_function(f, argnums if isinstance(argnums, int) else _nums(argnums),
                                grad_only=True).source
    elif mode == "forward":
        text = forward_function(f).source
    else:
        raise ValueError(f"show: mode must be 'reverse' or 'forward', not {mode!r}")
    print(text)
    return text
