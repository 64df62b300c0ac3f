"""The source engine's transforms (method="source"): generated derivative code, run.

Each transform generates (and caches) Python source for `f` with `transform.reverse_function`
or `forward_function`, runs its fast form and, when a derivative is not finite, its careful
form (see `fast_then_careful`); Jacobians run the generated code on a whole basis at once."""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._core import checks, jacobian, tree
from .._core.checks import Capabilities
from .._core.errors import traceback_lines
from .._core.primitive import Tracer, innermost_value
from .._core.rules import COMPLEX_MADE, Zero, skipping_strong_zeros
from ..ops.elementwise import _all_finite
from ..overload import transforms as overload
from . import kernels, runtime
from .transform import careful_of, forward_function, reverse_function

CAPABILITIES = Capabilities(
    "source", has_aux=False,
    transforms=("grad", "value_and_grad", "vjp", "jvp", "jacfwd", "jacrev", "hessian", "hvp"))


def _user_line(exc: BaseException) -> None:
    """Add to `exc` the user's line that the failing generated statement came from."""
    origin = None
    for frame, lineno, _ in traceback_lines(exc):
        got = runtime.user_line(frame.f_code.co_filename, lineno)
        if got is not None:
            origin = (frame.f_code.co_name, lineno, *got)
    if origin is not None:
        name, line, user_file, number, code = origin
        exc.add_note(f"raised in {name} (generated code, line {line}) for "
                     f"{user_file}:{number}: {code}")


def _as_numpy(x: Any) -> Any:
    """Python floats and complex numbers as NumPy scalars: the other methods compute on
    arrays, where 1.0 / 0.0 is inf (with a warning), not a ZeroDivisionError."""
    t = type(x)
    if t is np.ndarray:
        return x
    if t is float:
        return np.float64(x)
    if t is complex:
        return np.complex128(x)
    if t in (tuple, list, dict) or tree.node_children(x) is not None:
        return tree.tree_map(_as_numpy, x)
    return x


def _calling(gen: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    if any(runtime.is_sequence(a) for a in args):
        gen = careful_of(gen)  # (the fast form is written for arguments that are neither, see
        # Unit.mark_arithmetic: Python's `+` and `*` join and repeat them)
    args = tuple(_as_numpy(a) for a in args)
    kw = {k: _as_numpy(v) for k, v in kw.items()}
    try:
        with checks.quiet():  # (generated derivative code prints no floating-point warnings)
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
        return careful_of(gen)
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
    leaves = tree.leaves((args, kw))
    if not all(leaf.__class__ is np.ndarray and leaf.dtype.kind != "c" for leaf in leaves):
        if any(_is_complex(leaf) for leaf in leaves):
            return _calling(careful_of(gen), *args, **kw)  # (the fast form is derived for reals)
        if any(isinstance(leaf, Tracer) and innermost_value(leaf) is None for leaf in leaves):
            # a graph being built (`cr.graph.jit` over generated code): no values to test,
            # and the compiled graph makes its own fast form (graph.passes.drop_strong_zeros)
            return _calling(careful_of(gen), *args, **kw)
    out, made = run_fast(gen, *args, **kw)
    if not made and finite(pick(out)):
        return out
    return _calling(careful_of(gen), *args, **kw)


def run_fast(gen: Callable[..., Any], *args: Any, **kw: Any) -> tuple[Any, bool]:
    """Generated code's fast form on these values, and whether it made complex values from
    real ones on the way (an FFT, say: then its expressions, derived for real numbers, do not
    hold, and the careful form must run; `rules.COMPLEX_MADE`)."""
    before = COMPLEX_MADE.made
    COMPLEX_MADE.made = False
    try:
        with skipping_strong_zeros(True):  # (speculative; quiet, as `_calling` runs it)
            out = _calling(gen, *args, **kw)
        made = COMPLEX_MADE.made
    finally:
        COMPLEX_MADE.made = before
    if made:
        COMPLEX_MADE.made = True  # (an enclosing fast form must not hold either)
    return out, made


def value_of(gen: Callable[..., Any], args: tuple[Any, ...],
             kwargs: dict[str, Any] | None = None) -> Any:
    """What `f` returns, computed by its generated VJP code `gen` (with a zero cotangent, the
    adjoint sweep does nothing): unlike `f` itself, it never changes its arguments in place."""
    kwargs = kwargs or {}
    return _calling(for_values(gen, args, kwargs), *args, **kwargs, **{gen.cotangent: Zero})[0]


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


def _unpartial(f: Callable[..., Any]) -> tuple[Callable[..., Any], tuple[Any, ...],
                                                dict[str, Any]]:
    """`functools.partial(g, *pre, **kw)` (nested ones too) as `(g, pre, kw)`: the source
    engine transforms `g`, and the bound values are constants of the derivative."""
    pre: tuple[Any, ...] = ()
    kw: dict[str, Any] = {}
    while isinstance(f, functools.partial):
        pre, kw = tuple(f.args) + pre, {**f.keywords, **kw}
        f = f.func
    return f, pre, kw


def _through_partial(make: Callable[..., Callable[..., Any]]
                     ) -> Callable[..., Callable[..., Any]]:
    """A transform returning a function, given a `functools.partial` too: the transform of
    its function, with argnums counted past the bound leading arguments."""

    @functools.wraps(make)
    def transform(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Any:
        func, pre, kw = _unpartial(f)
        if func is f:
            return make(f, argnums)
        n = len(pre)
        argnums = checks.argnums_spec(argnums, make.__name__)
        shifted = (argnums + n if argnums >= 0 else argnums) if isinstance(argnums, int) \
            else tuple(a + n if a >= 0 else a for a in argnums)
        inner = make(func, shifted)

        @functools.wraps(inner)
        def partial_transform(*args: Any, **kwargs: Any) -> Any:
            return inner(*pre, *args, **{**kw, **kwargs})

        return partial_transform

    return transform


@_through_partial
def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The gradient of scalar-valued `f`, as a generated Python function.

    `f`'s source is normalised (one operation per statement) and adjoint statements are written
    for each one, in reverse: the result is ordinary Python (``.source`` shows it) that runs a
    primal sweep, then an adjoint sweep. ``cr.grad(f, method="source")`` calls this.

    Parameters
    ----------
    f : callable
        A Python function whose source `inspect` can read (a `def` or a lambda), or a
        `functools.partial` of one (its bound values are constants).
    argnums : int or tuple of int, optional
        The positional argument(s) to differentiate (default 0).

    Returns
    -------
    callable
        ``grad_f(*args, **kwargs)`` with a ``.source`` attribute (the generated code).

    Raises
    ------
    TransformError
        When `f` uses a construct the transformer does not handle (``*args``, in-place changes
        of an argument, ...): the message names the file, line and construct.

    Examples
    --------
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> def f(x):
    ...     return cnp.sin(x) * x
    >>> g = cr.source.grad(f)
    >>> print(round(g(1.0), 6), "adjoint sweep" in g.source)
    1.381773 True
    """
    argnums = checks.argnums_spec(argnums, "grad")
    first = reverse_function(f, argnums, "grad")  # (refusals at once; `.source`)

    @functools.wraps(f)
    def grad_f(*args: Any, **kwargs: Any) -> Any:
        nums = _checked_args(f, args, argnums, "grad")
        gen = reverse_function(f, nums, "grad")  # (generated again if what f reads changed)
        return _finish_grads(fast_then_careful(gen, lambda r: r, *args, **kwargs), nums)

    grad_f.source = first.source  # type: ignore[attr-defined]
    checks.set_transform_target(grad_f, lambda: reverse_function(f, argnums, "grad"))
    return grad_f


@_through_partial
def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0
                   ) -> Callable[..., Any]:
    """`(f(*args), gradient)` from one generated function.

    Parameters
    ----------
    f : callable
        A Python function whose source `inspect` can read (a `def` or a lambda), or a
        `functools.partial` of one (its bound values are constants).
    argnums : int or tuple of int, optional
        The positional argument(s) to differentiate (default 0).

    Returns
    -------
    callable
        ``value_and_grad_f(*args, **kwargs)`` returning ``(value, gradient)``; ``.source``
        shows its code.

    Raises
    ------
    TransformError
        When `f` uses a construct the transformer does not handle (``*args``, in-place changes
        of an argument, ...): the message names the file, line and construct.

    Examples
    --------
    >>> import chainrule as cr
    >>> def f(x):
    ...     return x ** 3
    >>> value, g = cr.source.value_and_grad(f)(2.0)
    >>> print(value, g)
    8.0 12.0
    """
    argnums = checks.argnums_spec(argnums, "value_and_grad")
    first = reverse_function(f, argnums, "value_and_grad")

    @functools.wraps(f)
    def value_and_grad_f(*args: Any, **kwargs: Any) -> Any:
        nums = _checked_args(f, args, argnums, "grad")
        gen = reverse_function(f, nums, "value_and_grad")
        out, g = fast_then_careful(gen, lambda r: r[1], *args, **kwargs)
        return out, _finish_grads(g, nums)

    value_and_grad_f.source = first.source  # type: ignore[attr-defined]
    return value_and_grad_f


def vjp(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[..., Any]]:
    """`(out, vjp_fn)` like `cr.vjp`, by generated primal and adjoint sweeps.

    The value comes from the generated code too (it never changes the arguments in place, as
    `f` itself may).

    Parameters
    ----------
    f : callable
        A Python function with readable source, or a `functools.partial` of one.
    *primals : array_like or pytree
        The point; every primal is differentiated.

    Returns
    -------
    tuple
        ``(out, vjp_fn)``: ``vjp_fn(ct)`` returns one cotangent per primal; ``vjp_fn.source``
        shows the code.

    Raises
    ------
    TransformError
        When `f` uses a construct the transformer does not handle (``*args``, in-place changes
        of an argument, ...): the message names the file, line and construct.

    Examples
    --------
    >>> import chainrule as cr
    >>> def f(x, y):
    ...     return x * y
    >>> out, vjp_fn = cr.source.vjp(f, 2.0, 3.0)
    >>> dx, dy = vjp_fn(1.0)
    >>> print(out, dx, dy)
    6.0 3.0 2.0
    """
    checks.diff_leaves(primals, tuple(range(len(primals))), f, "vjp")
    func, pre, kw = _unpartial(f)
    n = len(pre)
    gen = reverse_function(func, tuple(range(n, n + len(primals))) if n else None)
    out = value_of(gen, pre + primals, kw)

    def vjp_fn(ct: Any) -> tuple[Any, ...]:
        checks.check_cotangent(ct, out, f)
        # (the primals' cotangents tested: those of values the partial binds are dropped,
        # unknown ones included, see runtime.UnknownDerivative)
        _, cts = fast_then_careful(gen, lambda r: r[1][n:n + len(primals)], *pre, *primals,
                                   **kw, **{gen.cotangent: ct})
        cts = cts[n:n + len(primals)]  # (one per parameter: those bound by the partial dropped)
        finished = [runtime.finish(c, p) for c, p in zip(cts, primals)]
        return tuple(_owned(finished, tree.leaves(ct)))

    vjp_fn.source = gen.source  # type: ignore[attr-defined]
    return out, vjp_fn


def jvp(f: Callable[..., Any], primals: Sequence[Any] | None = None,
        tangents: Sequence[Any] | None = None) -> Any:
    """The Jacobian-vector product by generated tangent code (forward mode).

    Parameters
    ----------
    f : callable
        A Python function with readable source (or, with primals and tangents, a
        `functools.partial` of one).
    primals : tuple, optional
        The point. Omitted, the generated function itself is returned.
    tangents : tuple, optional
        The direction, shaped like `primals`.

    Returns
    -------
    tuple or callable
        ``(out, out_tangent)`` like `cr.jvp`; with `f` alone, the generated function
        ``(*args, d_arg=...) -> (out, out_tangent)``, tangents passed by keyword
        (``.tangents`` names them, ``.source`` shows it).

    Raises
    ------
    TransformError
        When `f` uses a construct the transformer does not handle (``*args``, in-place changes
        of an argument, ...): the message names the file, line and construct.

    Examples
    --------
    >>> import chainrule as cr
    >>> def f(x):
    ...     return x ** 2
    >>> out, out_tangent = cr.source.jvp(f, (3.0,), (1.0,))
    >>> print(out, out_tangent)
    9.0 6.0
    """
    func, pre, kw = _unpartial(f)
    gen = forward_function(func)
    if primals is None:
        if pre or kw:
            raise TypeError("cr.source.jvp(f) alone generates code for a function, not for a "
                            "functools.partial; give primals and tangents, or the function")
        return gen
    checked = checks.jvp_tangents(primals, tangents)
    kw = {**kw, **{name: tree.unflatten(tree.structure(p), [0.0 if t is None else t
                                                             for t in ts])
                   for name, p, ts in zip(gen.tangents[len(pre):], primals, checked)}}
    out, t = fast_then_careful(gen, lambda r: r[1], *pre, *primals, **kw)
    return out, runtime.finish(t, out)


def show(f: Callable[..., Any], mode: str = "reverse", argnums: int | Sequence[int] = 0
         ) -> str:
    """Print (and return) the code generated for `f`.

    Parameters
    ----------
    f : callable
        A Python function with readable source.
    mode : {"reverse", "forward"}, optional
        "reverse" (the gradient, default) or "forward" (the JVP).
    argnums : int or tuple of int, optional
        The argument(s) the reverse code differentiates (default 0).

    Returns
    -------
    str
        The generated source, also printed.

    Raises
    ------
    ValueError
        If `mode` is neither "reverse" nor "forward".

    Examples
    --------
    >>> import chainrule as cr
    >>> def f(x):
    ...     return x * x
    >>> text = cr.source.show(f)  # doctest: +ELLIPSIS
    def f_grad(x):
    ...
    >>> "adjoint sweep" in text
    True
    """
    if mode == "reverse":
        text = reverse_function(f, checks.argnums_spec(argnums, "show"), "grad").source
    elif mode == "forward":
        text = forward_function(f).source
    else:
        raise ValueError(f"show: mode must be 'reverse' or 'forward', not {mode!r}")
    print(text)
    return text


# ---------------------------------------------------------------------------------------------
# Jacobians: the generated tangent or adjoint code run on a whole basis at once where it can
# be, else seed by seed under the overload engine's vmap

def _plain(args: Any) -> bool:
    """No traced values among the arguments (generated code then runs on a batch of seeds)."""
    return not any(isinstance(x, Tracer) for x in tree.leaves(args))


def _tangent_kwargs(gen: Callable[..., Any], nums: tuple[int, ...], tls: list[list[Any]],
                    diff: list[Any]) -> dict[str, Any]:
    """The generated tangent code's keyword arguments: each differentiated argument's tangent
    (the sum of its slots' when argnums names it twice), 0.0 where a leaf carries none."""
    per_arg = overload.per_argument(nums, tls)
    structure = {i: td for i, (_, td) in zip(nums, diff)}
    return {gen.tangents[i]: tree.unflatten(structure[i], [0.0 if t is None else t
                                                           for t in ts])
            for i, ts in per_arg.items()}


def _seeds(diff: list[Any], seeds: Any) -> list[list[Any]]:
    it = iter(seeds)
    return [[next(it) if tree.is_float_leaf(x) else None for x in leaves] for leaves, _ in diff]


@_through_partial
def jacfwd(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Jacobian by the generated tangent code (forward mode).

    The tangent code runs once on the whole basis of seeds where it can (a batch axis in
    front), else seed by seed under `vmap`; shaped like `cr.jacfwd`'s.

    Parameters
    ----------
    f : callable
        A Python function whose source `inspect` can read (a `def` or a lambda), or a
        `functools.partial` of one (its bound values are constants).
    argnums : int or tuple of int, optional
        The positional argument(s) to differentiate (default 0).

    Returns
    -------
    callable
        ``jacfwd_f(*args, **kwargs)``: the Jacobian, shape ``out.shape + in.shape``.

    Raises
    ------
    TransformError
        When `f` uses a construct the transformer does not handle (``*args``, in-place changes
        of an argument, ...): the message names the file, line and construct.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> def f(x):
    ...     return x ** 2
    >>> print(cr.source.jacfwd(f)(np.array([1.0, 2.0])))
    [[2. 0.]
     [0. 4.]]
    """
    argnums = checks.argnums_spec(argnums, "jacfwd")
    forward_function(f, batched=True)  # (refusals at once)

    @functools.wraps(f)
    def jacfwd_f(*args: Any, **kwargs: Any) -> Any:
        nums = checks.resolve_argnums(argnums, len(args), "jacfwd")
        diff = checks.diff_leaves(args, nums, f, "jacfwd")
        basis = jacobian.basis([x for leaves, _ in diff for x in leaves
                                if tree.is_float_leaf(x)])
        # (generated again when what f reads changed)
        batched = forward_function(f, batched=True)  # run on the whole basis at once
        res = None
        if batched.batchable and basis and _plain(args):
            kw = {**kwargs, **_tangent_kwargs(batched, nums, _seeds(diff, basis), diff)}
            gen = for_values(batched, args, kw)
            (out, t), made = run_fast(gen, *args, **kw) if gen is batched else (
                _calling(gen, *args, **kw), False)
            res = runtime.finish_batch(t, out, len(basis[0]))
            if made or not finite(res):  # (the careful form's answer, seed by seed)
                res = None
        if res is None:
            # seed by seed (under vmap), the plain variant: the batched one's lifts read batch
            # axes from ranks, and under vmap there are none to read
            gen = forward_function(f)

            def push(*bs: Any) -> Any:
                kw = {**kwargs, **_tangent_kwargs(gen, nums, _seeds(diff, bs), diff)}
                out, t = fast_then_careful(gen, lambda r: r[1], *args, **kw)
                return runtime.finish(t, out)

            res = overload.vmap(push, in_axes=(0,) * len(basis))(*basis)
        return jacobian.from_tangents(res, diff, argnums)

    return jacfwd_f


@_through_partial
def jacrev(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Jacobian by the generated adjoint code (reverse mode).

    Parameters
    ----------
    f : callable
        A Python function whose source `inspect` can read (a `def` or a lambda), or a
        `functools.partial` of one (its bound values are constants).
    argnums : int or tuple of int, optional
        The positional argument(s) to differentiate (default 0).

    Returns
    -------
    callable
        ``jacrev_f(*args, **kwargs)``: the Jacobian, shape ``out.shape + in.shape``.

    Raises
    ------
    TransformError
        When `f` uses a construct the transformer does not handle (``*args``, in-place changes
        of an argument, ...): the message names the file, line and construct.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> def f(x):
    ...     return x ** 2
    >>> print(cr.source.jacrev(f)(np.array([1.0, 2.0])))
    [[2. 0.]
     [0. 4.]]
    """
    argnums = checks.argnums_spec(argnums, "jacrev")
    reverse_function(f, None)  # (refusals at once)

    @functools.wraps(f)
    def jacrev_f(*args: Any, **kwargs: Any) -> Any:
        nums = checks.resolve_argnums(argnums, len(args), "jacrev")
        # the adjoint code of the differentiated arguments only (the others' cotangents, an
        # outer product per seed for a matrix argument, would be computed and thrown away);
        # generated again when what f reads changed
        backward = reverse_function(f, tuple(sorted(set(nums))))
        checks.diff_leaves(args, nums, f, "jacrev")
        got = _jacrev_by_known_output(backward, args, kwargs)
        if got is not None:  # (one run: the output's shapes were those of the last call)
            out, batched, m = got
            cts = tuple(runtime.finish_batch(batched[i], args[i], m) for i in nums)
            return jacobian.from_cotangents(cts, out, [tree.flatten(args[i]) for i in nums],
                                            argnums)
        out = value_of(backward, args, kwargs)
        out_leaves, out_td = tree.flatten(out)
        basis = jacobian.basis(out_leaves)
        m = len(basis[0]) if basis else 0
        if backward.batchable and m and _plain(args):
            _remember_output(backward, args, kwargs, out)
            ct = tree.unflatten(out_td, list(basis))  # the whole basis in one run
            got = fast_then_careful(backward, lambda r: r[1], *args,
                                    **kwargs, **{backward.cotangent: ct})[1]
            cts = tuple(runtime.finish_batch(got[i], args[i], m) for i in nums)
        else:
            def pull(*bs: Any) -> tuple[Any, ...]:
                ct = tree.unflatten(out_td, list(bs))
                got = fast_then_careful(backward, lambda r: r[1], *args,
                                        **kwargs, **{backward.cotangent: ct})[1]
                return tuple(runtime.finish(got[i], args[i]) for i in nums)

            cts = overload.vmap(pull, in_axes=(0,) * len(basis))(*basis)
        return jacobian.from_cotangents(cts, out, [tree.flatten(args[i]) for i in nums],
                                        argnums)

    return jacrev_f


# The output's structure, shapes and dtypes per generated VJP and input signature: jacrev
# needs them for its basis of cotangents before it runs, and would otherwise run the primal
# sweep once more to learn them. The one run then returns the output too, and the entry is used
# only when that output is exactly what it said (a function whose output shape depends on its
# values, not only on its inputs' shapes, falls back to the two runs). Kept on the generated
# function itself (it lives as long as that does), a few signatures each.
_MAX_OUTPUTS = 16


def _outputs(backward: Callable[..., Any]) -> dict[Any, Any]:
    return backward.__dict__.setdefault("output_specs", {})  # type: ignore[no-any-return]


def _output_key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if not kwargs:
        sig = kernels.signature(args)
        if sig is not None:  # (arrays and numbers only: no structure to tell apart)
            return sig
    sig = kernels.signature(tuple(tree.leaves((args, kwargs))))
    if sig is None:
        return None
    try:  # (the structure too: a tuple of arrays and a list of them differ)
        key = (tree.structure((args, kwargs)), sig)
        hash(key)
    except TypeError:
        return None
    return key


def _output_spec(out: Any) -> Any:
    leaves, td = tree.flatten(out)
    sig = kernels.signature(tuple(leaves))
    return None if sig is None else (td, sig)


def _remember_output(backward: Callable[..., Any], args: tuple[Any, ...],
                     kwargs: dict[str, Any], out: Any) -> None:
    key = _output_key(args, kwargs)
    spec = _output_spec(out)
    if key is None or spec is None:
        return
    known = _outputs(backward)
    if len(known) >= _MAX_OUTPUTS:
        known.clear()
    known[key] = spec


def _jacrev_by_known_output(backward: Callable[..., Any], args: tuple[Any, ...],
                            kwargs: dict[str, Any]) -> tuple[Any, Any, int] | None:
    """(out, cotangents of every argument batched, batch size) from one run of the generated
    VJP on the basis built from the remembered output spec; None when there is none, or the
    output turns out different (then the caller takes the general path)."""
    key = _output_key(args, kwargs) if backward.batchable else None
    known = _outputs(backward)
    spec = known.get(key) if key is not None else None
    if spec is None:
        return None
    td, sig = spec
    placeholders = [0.0 if entry is float else np.empty(entry[0], entry[1]) for entry in sig]
    basis = jacobian.basis(placeholders)
    if not basis or not len(basis[0]):
        return None
    ct = tree.unflatten(td, list(basis))
    try:
        out, cts = fast_then_careful(backward, lambda r: r[1], *args, **kwargs,
                                     **{backward.cotangent: ct})
    except Exception:  # noqa: BLE001 - a basis of other shapes than this output's met it:
        out = None  # the general path runs (and raises again if the error is the function's)
    if out is None or _output_spec(out) != spec:
        known.pop(key, None)
        return None
    return out, cts, len(basis[0])


@_through_partial
def hessian(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Hessian: the generated gradient code, differentiated by generated tangent code.

    Parameters
    ----------
    f : callable
        A Python function whose source `inspect` can read (a `def` or a lambda), or a
        `functools.partial` of one (its bound values are constants).
    argnums : int or tuple of int, optional
        The positional argument(s) to differentiate (default 0).

    Returns
    -------
    callable
        ``hessian_f(*args, **kwargs)``: shape ``in.shape + in.shape``.

    Raises
    ------
    TransformError
        When `f` uses a construct the transformer does not handle (``*args``, in-place changes
        of an argument, ...): the message names the file, line and construct.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> def f(x):
    ...     return np.sum(x ** 3)
    >>> print(cr.source.hessian(f)(np.array([1.0, 2.0])))
    [[ 6.  0.]
     [ 0. 12.]]
    """
    return jacfwd(grad(f, argnums), argnums)


def hvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> Any:
    """H·v, forward over reverse, both generated.

    Parameters
    ----------
    f : callable
        A scalar-valued Python function with readable source, or a `functools.partial` of one.
    primals : tuple
        The point.
    tangents : tuple
        The vector v, shaped like `primals`.

    Returns
    -------
    array or tuple
        H·v: one array with one primal, a tuple with several.

    Raises
    ------
    TransformError
        When `f` uses a construct the transformer does not handle (``*args``, in-place changes
        of an argument, ...): the message names the file, line and construct.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> def f(x):
    ...     return np.sum(x ** 3)
    >>> print(cr.source.hvp(f, (np.array([1.0, 2.0]),), (np.array([1.0, 1.0]),)))
    [ 6. 12.]
    """
    func, pre, kw = _unpartial(f)
    n = len(pre)
    g = grad(func, argnums=tuple(range(n, n + len(primals))))
    _, t = jvp(functools.partial(g, *pre, **kw) if n or kw else g, tuple(primals),
               tuple(tangents))
    return t[0] if len(primals) == 1 else t
