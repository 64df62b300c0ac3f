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

from .._core import checks, tree
from .._core.primitive import Tracer, innermost_value
from .._core.rules import Zero, skipping_strong_zeros
from ..ops.elementwise import _all_finite
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


def _as_numpy(x: Any) -> Any:
    """Python floats and complex numbers as NumPy scalars: the other methods compute on
    arrays, where 1.0 / 0.0 is inf (with a warning), not a ZeroDivisionError."""
    t = type(x)
    if t is float:
        return np.float64(x)
    if t is complex:
        return np.complex128(x)
    if t in (tuple, list, dict) or tree.node_children(x) is not None:
        return tree.tree_map(_as_numpy, x)
    return x


def _calling(gen: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    args = tuple(_as_numpy(a) for a in args)
    kw = {k: _as_numpy(v) for k, v in kw.items()}
    try:
        return gen(*args, **kw)
    except Exception as exc:
        _user_line(exc)
        raise


def finite(x: Any) -> bool:
    """Every leaf of `x` (a result of generated code) is finite."""
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
    """Run generated code (reverse or forward) in its fast form, without the strong zeros'
    checks (one finiteness test per rule), then test the derivatives (`pick(result)`) once:
    when one is not finite, run its careful form, with strong zeros, whose answer is then the
    right one. A zero cotangent meeting an
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
    if finite(pick(out)):
        return out
    return _calling(careful, *args, **kw)


def value_of(gen: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """What `f` returns, computed by its generated VJP code `gen` (with a zero cotangent, the
    adjoint sweep does nothing): unlike `f` itself, it never changes its arguments in place."""
    return _calling(for_values(gen, args), *args, **{gen.cotangent: Zero})[0]


def _argnums(argnums: int | Sequence[int], nargs: int, transform: str
             ) -> int | tuple[int, ...]:
    """argnums checked for this call (`checks`), as the generated code is keyed: an int
    stays an int, a tuple a tuple."""
    nums = checks.resolve_argnums(argnums, nargs, transform)
    return nums[0] if isinstance(argnums, int) else nums


def _checked_args(f: Callable[..., Any], args: tuple[Any, ...], argnums: int | Sequence[int],
                  transform: str) -> int | tuple[int, ...]:
    nums = _argnums(argnums, len(args), transform)
    checks.diff_leaves(args, (nums,) if isinstance(nums, int) else nums, f, transform)
    return nums


def _owned(results: list[Any], foreign: list[Any] = ()) -> list[Any]:  # type: ignore[assignment]
    """`results` (pytrees) with no two arrays shared, nor one of `foreign` (the user's
    cotangent): see `tree.owned_arrays`."""
    leaves, td = tree.flatten(results)
    return tree.unflatten(td, tree.owned_arrays(leaves, foreign))


def _finish_grads(g: Any, nums: int | tuple[int, ...]) -> Any:
    """The gradients the generated code returned (each already `finish`ed there: shaped and
    typed like its argument), none sharing an array with another."""
    if isinstance(nums, int):
        return g
    return tuple(_owned(list(g)))


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The gradient of scalar-valued `f`, as generated Python (`.source` shows it)."""
    argnums = checks.argnums_spec(argnums, "grad")
    first = reverse_function(f, argnums, "grad")  # (refusals at once; `.source`)

    @functools.wraps(f)
    def grad_f(*args: Any) -> Any:
        nums = _checked_args(f, args, argnums, "grad")
        gen = reverse_function(f, nums, "grad")  # (generated again if what f reads changed)
        return _finish_grads(fast_then_careful(gen, lambda r: r, *args), nums)

    grad_f.source = first.source  # type: ignore[attr-defined]
    grad_f._cr_transform_target = lambda: reverse_function(  # type: ignore[attr-defined]
        f, argnums, "grad")
    return grad_f


def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0
                   ) -> Callable[..., Any]:
    """`(f(*args), gradient)` from one generated function."""
    argnums = checks.argnums_spec(argnums, "value_and_grad")
    first = reverse_function(f, argnums, "value_and_grad")

    @functools.wraps(f)
    def value_and_grad_f(*args: Any) -> Any:
        nums = _checked_args(f, args, argnums, "grad")
        gen = reverse_function(f, nums, "value_and_grad")
        out, g = fast_then_careful(gen, lambda r: r[1], *args)
        return out, _finish_grads(g, nums)

    value_and_grad_f.source = first.source  # type: ignore[attr-defined]
    return value_and_grad_f


def vjp(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[..., Any]]:
    """`(out, vjp_fn)` like `cr.vjp`; `vjp_fn(ct)` runs the generated primal and adjoint
    sweeps (`vjp_fn.source`). The value comes from the generated code too (it never changes
    the arguments in place, as `f` itself may)."""
    checks.diff_leaves(primals, tuple(range(len(primals))), f, "vjp")
    gen = reverse_function(f, None)
    out = value_of(gen, primals)

    def vjp_fn(ct: Any) -> tuple[Any, ...]:
        checks.check_cotangent(ct, out, f)
        _, cts = fast_then_careful(gen, lambda r: r[1], *primals, **{gen.cotangent: ct})
        finished = [runtime.finish(c, p) for c, p in zip(cts, primals)]
        return tuple(_owned(finished, tree.leaves(ct)))

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
    checked = checks.jvp_tangents(primals, tangents)
    kw = {name: tree.unflatten(tree.structure(p), [0.0 if t is None else t for t in ts])
          for name, p, ts in zip(gen.tangents, primals, checked)}
    out, t = fast_then_careful(gen, lambda r: r[1], *primals, **kw)
    return out, runtime.finish(t, out)


def show(f: Callable[..., Any], mode: str = "reverse", argnums: int | Sequence[int] = 0
         ) -> str:
    """Print (and return) the code generated for `f`: mode "reverse" (the gradient) or
    "forward" (the JVP)."""
    if mode == "reverse":
        text = reverse_function(f, checks.argnums_spec(argnums, "show"), "grad").source
    elif mode == "forward":
        text = forward_function(f).source
    else:
        raise ValueError(f"show: mode must be 'reverse' or 'forward', not {mode!r}")
    print(text)
    return text
