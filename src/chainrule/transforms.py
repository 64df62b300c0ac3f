"""The public transforms: grad, value_and_grad, vjp, jvp, linearize, jacrev, jacfwd, jacobian,
hessian, hvp, vmap. Each takes a Python function of arrays (or pytrees of them) and returns a new
function or the derivative's value.

This module is the front only. It checks what every method checks the same way (`argnums`,
`has_aux`, the method's name), picks the engine that `method=` names from `ENGINES`, and calls
the transform of the same name there: `method` makes one hop. The engines (`overload/`,
`graph/`, `source/`, `symbolic/`, `numeric/`, each in its `transforms.py`) do the rest with the
shared rules of `_core/checks.py`, and never call this module back.
"""
from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import numpy as np

from ._core import checks
from .overload import transforms as _overload

#: method name -> the module of its engine's transforms (imported on first use: symbolic and
#: numeric are not needed to differentiate, and `import chainrule` stays quick)
ENGINES = {"overload": "chainrule.overload.transforms", "graph": "chainrule.graph.transforms",
           "source": "chainrule.source.transforms", "symbolic": "chainrule.symbolic.transforms",
           "numeric": "chainrule.numeric.transforms"}
METHODS = tuple(ENGINES)


def engine(method: str, transform: str, has_aux: bool = False) -> ModuleType:
    """The engine `method` names, checked to offer `transform` (with `has_aux` if asked)."""
    if not isinstance(method, str) or method not in ENGINES:
        raise ValueError(f"{transform}: unknown method={method!r}; choose one of "
                         f"{', '.join(METHODS)}")
    module = _module(method)
    caps: checks.Capabilities = module.CAPABILITIES
    if transform not in caps.transforms:
        offered = [m for m in METHODS if transform in _module(m).CAPABILITIES.transforms]
        raise NotImplementedError(f"{transform}(..., method={method!r}) is not available; "
                                  f"use one of {', '.join(offered)}")
    if has_aux and not caps.has_aux:
        raise NotImplementedError(f"{transform}(..., has_aux=True, method={method!r}) is not "
                                  f"supported; return the auxiliary value from a separate call, "
                                  f"or use method='overload'")
    return module


def _module(method: str) -> ModuleType:
    # (by name from ENGINES, each an engine below this front: see tests/test_layering.py)
    return importlib.import_module(ENGINES[method])


def _keywords(f: Callable[..., Any], transformed: Callable[..., Any]) -> Callable[..., Any]:
    """`transformed` (a transform of `f`) called with keyword arguments too, the same way in
    every method, and without NumPy's floating-point warnings (`checks.quiet`). A keyword
    naming a positional parameter of `f` is bound to its position first (parameters before it
    that were not given take their defaults), so `argnums` counts it and it is differentiated
    when `argnums` names it; the other keywords (keyword-only parameters, `**kwargs`) reach `f`
    as they are and are never differentiated."""
    read: list[list[inspect.Parameter]] = []  # (f's signature, read on the first keyword)

    @functools.wraps(transformed)
    def with_keywords(*args: Any, **kwargs: Any) -> Any:
        if kwargs:
            if not read:
                read.append(_positional_parameters(f))
            if len(read[0]) > len(args):
                args, kwargs = _bind_positions(read[0], args, kwargs)
        with checks.quiet():
            return transformed(*args, **kwargs)

    target = checks.transform_target(transformed)
    if target is not None:  # (the source engine transforms what `transformed` runs)
        checks.set_transform_target(with_keywords, target)
    return with_keywords


def _positional_parameters(f: Callable[..., Any]) -> list[inspect.Parameter]:
    try:
        return [p for p in inspect.signature(f).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):  # (no signature to read: keywords go through as given)
        return []


def _bind_positions(positional: list[inspect.Parameter], args: tuple[Any, ...],
                    kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    rest = positional[len(args):]
    last = max((k for k, p in enumerate(rest)
                if p.kind is p.POSITIONAL_OR_KEYWORD and p.name in kwargs), default=-1)
    moved, left = list(args), dict(kwargs)
    for p in rest[:last + 1]:
        if p.name in left and p.kind is p.POSITIONAL_OR_KEYWORD:
            moved.append(left.pop(p.name))
        elif p.default is not p.empty:
            moved.append(p.default)
        else:  # (a required parameter not given: f's own error says so)
            return args, kwargs
    return tuple(moved), left


def _quietly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` (a function a transform returned: vjp's pullback, linearize's pushforward) run
    without NumPy's floating-point warnings, as the transform itself was."""

    @functools.wraps(fn)
    def quietly(*args: Any, **kwargs: Any) -> Any:
        with checks.quiet():
            return fn(*args, **kwargs)

    return quietly


def _aux(has_aux: bool) -> dict[str, bool]:
    """`has_aux` passed on only when asked (the engines without it do not take the keyword)."""
    return {"has_aux": True} if has_aux else {}


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False,
         method: str = "overload") -> Callable[..., Any]:
    """The gradient of a scalar-valued function.

    Reverse mode: `f` runs once (recorded, traced or generated, as `method` does it) and one
    backward pass gives the derivative of its output with respect to every element of the
    differentiated argument(s). The gradient has the structure, shape and dtype of the argument
    (pytrees included); integer and boolean leaves inside it get `None`.

    Parameters
    ----------
    f : callable
        The function. Its output must be a real floating-point value with one element
        (shape ``()``, or ``(1,)``, ``(1, 1)``...).
    argnums : int or tuple of int, optional
        The positional argument(s) to differentiate (default 0). With a tuple the result is a
        tuple with one entry per position; a position may appear twice.
    has_aux : bool, optional
        If True, `f` returns a pair `(output, aux)`: only `output` is differentiated, and `aux`
        (any pytree) is returned beside the derivative, as computed.
    method : {"overload", "graph", "source", "symbolic", "numeric"}, optional
        The engine that computes it (default "overload": operator overloading). All give the
        same derivative or the same refusal; see docs/which-method.md.

    Returns
    -------
    callable
        ``grad_f(*args, **kwargs)``: the gradient at `args`, or ``(gradient, aux)`` with
        `has_aux`.
    Keyword arguments of the returned function reach `f`: a keyword naming a positional
    parameter of `f` is bound to its position first (so `argnums` counts it), the others
    (keyword-only parameters, ``**kwargs``) are constants, never differentiated.

    Raises
    ------
    TypeError
        If the output is not a real scalar (use `vjp` or `jacrev`), or a differentiated
        argument is an integer, boolean or string.
    ValueError
        If `method` is unknown or `argnums` names a position `f` was not given.

    Examples
    --------
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> def f(x1, x2):
    ...     return cnp.log(x1) + x1 * x2 - cnp.sin(x2)
    >>> print(cr.grad(f)(2.0, 5.0))
    5.5
    >>> dx1, dx2 = cr.grad(f, argnums=(0, 1), method="source")(2.0, 5.0)
    >>> print(round(dx2, 6))
    1.716338
    """
    spec = checks.argnums_spec(argnums, "grad")
    return _keywords(f, engine(method, "grad", has_aux).grad(f, spec, **_aux(has_aux)))


def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0,
                   has_aux: bool = False, method: str = "overload") -> Callable[..., Any]:
    """The value of a scalar-valued function and its gradient, from one evaluation.

    Parameters
    ----------
    f : callable
        The function; its output must be a real floating-point value with one element.
    argnums : int or tuple of int, optional
        The positional argument(s) to differentiate (default 0). With a tuple the result is a
        tuple with one entry per position; a position may appear twice.
    has_aux : bool, optional
        If True, `f` returns a pair `(output, aux)`: only `output` is differentiated, and `aux`
        (any pytree) is returned beside the derivative, as computed.
    method : {"overload", "graph", "source", "symbolic", "numeric"}, optional
        The engine that computes it (default "overload": operator overloading). All give the
        same derivative or the same refusal; see docs/which-method.md.

    Returns
    -------
    callable
        ``value_and_grad_f(*args, **kwargs)`` returning ``(value, gradient)``, or
        ``((value, aux), gradient)`` with `has_aux` (the layout JAX uses).
    Keyword arguments of the returned function reach `f`: a keyword naming a positional
    parameter of `f` is bound to its position first (so `argnums` counts it), the others
    (keyword-only parameters, ``**kwargs``) are constants, never differentiated.

    Raises
    ------
    TypeError
        As `grad`.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> value, g = cr.value_and_grad(lambda w: np.sum(w ** 2))(np.array([1.0, 2.0]))
    >>> print(value, g)
    5.0 [2. 4.]
    """
    spec = checks.argnums_spec(argnums, "value_and_grad")
    transformed = engine(method, "value_and_grad", has_aux).value_and_grad(f, spec, **_aux(has_aux))
    return _keywords(f, transformed)


def vjp(f: Callable[..., Any], *primals: Any, has_aux: bool = False,
        method: str = "overload") -> Any:
    """The vector-Jacobian product: `f`'s value and a function pulling cotangents back.

    Reverse mode: `f` runs once; each call of the returned `vjp_fn(ct)` runs one backward pass
    and gives ``ct · J`` for every primal, where `J` is `f`'s Jacobian at `primals`. `vjp_fn`
    may be called any number of times.

    Parameters
    ----------
    f : callable
        The function, of as many positional arguments as `primals` (bind others with
        `functools.partial`).
    *primals : array_like or pytree
        The point: every primal is differentiated.
    has_aux : bool, optional
        If True, `f` returns ``(output, aux)`` and `aux` is returned third.
    method : {"overload", "graph", "source", "symbolic", "numeric"}, optional
        The engine that computes it (default "overload": operator overloading). All give the
        same derivative or the same refusal; see docs/which-method.md.

    Returns
    -------
    tuple
        ``(out, vjp_fn)``, or ``(out, vjp_fn, aux)`` with `has_aux`. ``vjp_fn(ct)`` takes a
        cotangent with the structure and shapes of `out` and returns a tuple with one
        cotangent per primal.

    Raises
    ------
    ValueError
        If a cotangent's structure or shape does not match `out`.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> out, vjp_fn = cr.vjp(lambda x: np.sin(x) * 2.0, np.array([0.0, 1.0]))
    >>> print(vjp_fn(np.array([1.0, 0.0])))
    (array([2., 0.]),)
    """
    with checks.quiet():
        got = engine(method, "vjp", has_aux).vjp(f, *primals, **_aux(has_aux))
    return (got[0], _quietly(got[1])) + tuple(got[2:])


def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any],
        has_aux: bool = False, method: str = "overload") -> Any:
    """The Jacobian-vector product: `f`'s value and its directional derivative.

    Forward mode: `f` runs once on dual numbers (value and tangent together) and gives
    ``J · v`` for the tangents `v`, without forming the Jacobian.

    Parameters
    ----------
    f : callable
        The function, of as many positional arguments as `primals`.
    primals : tuple
        The point, one entry (array or pytree) per argument of `f`.
    tangents : tuple
        The direction, with the structure and shapes of `primals`.
    has_aux : bool, optional
        If True, `f` returns ``(output, aux)`` and `aux` is returned third.
    method : {"overload", "graph", "source", "symbolic", "numeric"}, optional
        The engine that computes it (default "overload": operator overloading). All give the
        same derivative or the same refusal; see docs/which-method.md.

    Returns
    -------
    tuple
        ``(out, out_tangent)`` (``(out, out_tangent, aux)`` with `has_aux`).

    Raises
    ------
    TypeError
        If `primals` or `tangents` is not a tuple (or list).
    ValueError
        If the tangents do not match the primals' structure and shapes.

    Examples
    --------
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> def f(x1, x2):
    ...     return cnp.log(x1) + x1 * x2 - cnp.sin(x2)
    >>> print(cr.jvp(f, (2.0, 5.0), (1.0, 0.0))[1])
    5.5
    """
    with checks.quiet():
        return engine(method, "jvp", has_aux).jvp(f, tuple(primals), tuple(tangents),
                                                   **_aux(has_aux))


def linearize(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[..., Any]]:
    """Evaluate `f` once and return its linear part as a reusable function.

    `f` runs once in forward mode with its tangent computation recorded; each call of the
    returned `jvp_fn(*tangents)` replays only that recorded linear computation, never `f`.

    Parameters
    ----------
    f : callable
        The function (overload method).
    *primals : array_like or pytree
        The point.

    Returns
    -------
    tuple
        ``(out, jvp_fn)``; ``jvp_fn(*tangents)`` returns ``J · tangents``.

    Raises
    ------
    TypeError
        If `jvp_fn` is given a different number of tangents than there are primals.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> out, jvp_fn = cr.linearize(lambda x: x ** 3, 2.0)
    >>> print(out, jvp_fn(1.0), jvp_fn(0.5))
    8.0 12.0 6.0
    """
    with checks.quiet():
        out, jvp_fn = _overload.linearize(f, *primals)
    return out, _quietly(jvp_fn)


def vmap(f: Callable[..., Any], in_axes: Any = 0, out_axes: int = 0) -> Callable[..., Any]:
    """Vectorise `f` over an axis of its arguments.

    `f` is written for one example; the result runs it on a whole batch at once (each primitive
    applied to the stacked values, not a Python loop over examples). Composes with every
    transform: ``vmap(grad(f))`` gives per-example gradients.

    Parameters
    ----------
    f : callable
        The function of one example.
    in_axes : int, None, or tuple, optional
        The mapped axis of each positional argument (default 0): an int or None (not mapped)
        for all of them, or a tuple with one entry per argument; an entry may itself be a pytree
        of ints and Nones shaped like a prefix of its argument (``({"w": 0, "b": None}, 0)``).
    out_axes : int, optional
        Where the batch axis goes in every output (default 0).

    Returns
    -------
    callable
        The batched function. Keyword arguments reach every call of `f` unmapped (as in
        ``torch.func.vmap``; JAX maps them over axis 0: pass mapped values positionally).

    Raises
    ------
    ValueError
        If no argument is mapped, mapped axes differ in size, or `in_axes` does not match the
        arguments.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(cr.vmap(np.argmax)(np.eye(3)))
    [0 1 2]
    >>> per_example = cr.vmap(cr.grad(lambda w, x: np.sum(w * x) ** 2), in_axes=(None, 0))
    >>> print(per_example(np.ones(2), np.array([[1.0, 0.0], [1.0, 1.0]])))
    [[2. 0.]
     [4. 4.]]
    """
    return _overload.vmap(f, in_axes, out_axes)


def jacfwd(f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False,
           method: str = "overload") -> Callable[..., Any]:
    """The Jacobian by forward mode.

    A whole basis of tangents is pushed through one batched forward pass (one Jacobian column
    per input element): the cheaper mode when there are fewer inputs than outputs.

    Parameters
    ----------
    f : callable
        The function.
    argnums : int or tuple of int, optional
        The positional argument(s) to differentiate (default 0). With a tuple the result is a
        tuple with one entry per position; a position may appear twice.
    has_aux : bool, optional
        If True, `f` returns a pair `(output, aux)`: only `output` is differentiated, and `aux`
        (any pytree) is returned beside the derivative, as computed.
    method : {"overload", "graph", "source", "symbolic", "numeric"}, optional
        The engine that computes it (default "overload": operator overloading). All give the
        same derivative or the same refusal; see docs/which-method.md.

    Returns
    -------
    callable
        ``jacfwd_f(*args, **kwargs)``: the Jacobian, of shape ``out.shape + in.shape`` (pytrees:
        the output's structure outside, the input's inside); ``(jacobian, aux)`` with
        `has_aux`.
    Keyword arguments of the returned function reach `f`: a keyword naming a positional
    parameter of `f` is bound to its position first (so `argnums` counts it), the others
    (keyword-only parameters, ``**kwargs``) are constants, never differentiated.

    Raises
    ------
    TypeError
        If a differentiated argument is an integer, boolean or string.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(cr.jacfwd(lambda x: x ** 2)(np.array([1.0, 3.0])))
    [[2. 0.]
     [0. 6.]]
    """
    spec = checks.argnums_spec(argnums, "jacfwd")
    transformed = engine(method, "jacfwd", has_aux).jacfwd(f, spec, **_aux(has_aux))
    return _keywords(f, transformed)


def jacrev(f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False,
           method: str = "overload") -> Callable[..., Any]:
    """The Jacobian by reverse mode.

    One forward pass, then a whole basis of cotangents pulled back through one batched backward
    pass (one Jacobian row per output element): the cheaper mode when there are fewer outputs
    than inputs. `jacobian` is another name for it.

    Parameters
    ----------
    f : callable
        The function.
    argnums : int or tuple of int, optional
        The positional argument(s) to differentiate (default 0). With a tuple the result is a
        tuple with one entry per position; a position may appear twice.
    has_aux : bool, optional
        If True, `f` returns a pair `(output, aux)`: only `output` is differentiated, and `aux`
        (any pytree) is returned beside the derivative, as computed.
    method : {"overload", "graph", "source", "symbolic", "numeric"}, optional
        The engine that computes it (default "overload": operator overloading). All give the
        same derivative or the same refusal; see docs/which-method.md.

    Returns
    -------
    callable
        ``jacrev_f(*args, **kwargs)``: the Jacobian, of shape ``out.shape + in.shape``;
        ``(jacobian, aux)`` with `has_aux`.
    Keyword arguments of the returned function reach `f`: a keyword naming a positional
    parameter of `f` is bound to its position first (so `argnums` counts it), the others
    (keyword-only parameters, ``**kwargs``) are constants, never differentiated.

    Raises
    ------
    TypeError
        If a differentiated argument is an integer, boolean or string.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> print(cr.jacrev(lambda x: cnp.stack([x[0] * x[1], x[1]]))(np.array([2.0, 3.0])))
    [[3. 2.]
     [0. 1.]]
    """
    spec = checks.argnums_spec(argnums, "jacrev")
    transformed = engine(method, "jacrev", has_aux).jacrev(f, spec, **_aux(has_aux))
    return _keywords(f, transformed)


jacobian = jacrev


def hessian(f: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False,
            method: str = "overload") -> Callable[..., Any]:
    """The Hessian of a scalar-valued function, forward over reverse.

    ``jacfwd(grad(f))``: the gradient's forward derivative, one batched forward pass over the
    reverse pass. For a function with several outputs, ``jacfwd(jacrev(f))`` gives one Hessian
    per output.

    Parameters
    ----------
    f : callable
        The function; its output must pass `grad`'s rule (a real value with one element).
    argnums : int or tuple of int, optional
        The positional argument(s) to differentiate (default 0). With a tuple the result is a
        tuple with one entry per position; a position may appear twice.
    has_aux : bool, optional
        If True, `f` returns a pair `(output, aux)`: only `output` is differentiated, and `aux`
        (any pytree) is returned beside the derivative, as computed.
    method : {"overload", "graph", "source", "symbolic", "numeric"}, optional
        The engine that computes it (default "overload": operator overloading). All give the
        same derivative or the same refusal; see docs/which-method.md.

    Returns
    -------
    callable
        ``hessian_f(*args, **kwargs)``: the Hessian, of shape ``in.shape + in.shape`` (nested
        tuples for a tuple `argnums`); ``(hessian, aux)`` with `has_aux`.
    Keyword arguments of the returned function reach `f`: a keyword naming a positional
    parameter of `f` is bound to its position first (so `argnums` counts it), the others
    (keyword-only parameters, ``**kwargs``) are constants, never differentiated.

    Raises
    ------
    TypeError
        If the output is not a real scalar (the message says "hessian").

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(cr.hessian(lambda x: np.sum(x ** 3))(np.array([1.0, 2.0])))
    [[ 6.  0.]
     [ 0. 12.]]
    """
    spec = checks.argnums_spec(argnums, "hessian")
    transformed = engine(method, "hessian", has_aux).hessian(f, spec, **_aux(has_aux))
    return _keywords(f, transformed)


def hvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any],
        method: str = "overload") -> Any:
    """The Hessian-vector product H·v, without forming H.

    Forward over reverse: the gradient's directional derivative along `tangents`, at the cost
    of a few gradients whatever the size of H.

    Parameters
    ----------
    f : callable
        A scalar-valued function of as many positional arguments as `primals` (bind others
        with `functools.partial`).
    primals : tuple
        The point, one entry per argument of `f`.
    tangents : tuple
        The vector v, with the structure and shapes of `primals`.
    method : {"overload", "graph", "source", "symbolic", "numeric"}, optional
        The engine that computes it (default "overload": operator overloading). All give the
        same derivative or the same refusal; see docs/which-method.md.

    Returns
    -------
    array or tuple
        H·v: one array (pytree) with one primal, a tuple with several.

    Raises
    ------
    TypeError
        If `primals` or `tangents` is not a tuple (the message shows ``hvp(f, (x,), (v,))``).

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> x, v = np.array([1.0, 2.0]), np.array([1.0, 0.0])
    >>> print(cr.hvp(lambda x: np.sum(x ** 3), (x,), (v,)))
    [6. 0.]
    """
    for what, given in (("primals", primals), ("tangents", tangents)):
        if not isinstance(given, (tuple, list)):
            raise TypeError(f"hvp: {what} must be a tuple with one entry per argument of f, "
                            f"got {type(given).__name__}; write hvp(f, (x,), (v,))")
    with checks.quiet():
        return engine(method, "hvp").hvp(f, tuple(primals), tuple(tangents))


def elementwise_grad(f: Callable[..., Any], argnum: int = 0,
                     method: str = "overload") -> Callable[..., Any]:
    """HIPS autograd's `elementwise_grad`: the sum of the Jacobian's rows.

    One reverse pass with a cotangent of ones (``vjp``). For a function acting elementwise it
    is the derivative of each output with respect to its own input; in general it is the
    gradient of ``sum(f(x))``. (``vmap(grad(g))`` is the recipe for a scalar `g` applied per
    example.)

    Parameters
    ----------
    f : callable
        The function.
    argnum : int, optional
        The positional argument to differentiate (default 0).
    method : {"overload", "graph", "source", "symbolic", "numeric"}, optional
        The engine that computes it (default "overload": operator overloading). All give the
        same derivative or the same refusal; see docs/which-method.md.

    Returns
    -------
    callable
        ``elementwise_grad_f(*args, **kwargs)``, shaped like argument `argnum`; keyword
        arguments are constants.

    Raises
    ------
    TypeError
        If `argnum` is not an int.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(cr.elementwise_grad(np.tanh)(np.array([0.0, 1.0])).round(4))
    [1.  0.42]
    """
    if not isinstance(argnum, int):
        raise TypeError(f"elementwise_grad: argnum must be an int, got {argnum!r}")

    def elementwise_grad_f(*args: Any, **kwargs: Any) -> Any:
        # (one reverse pass for every positional argument, as vjp takes them: the other
        # arguments are floating-point values too; cotangents of ones, the output's shape;
        # keyword arguments bound as constants, as every transform takes them)
        out, pull = vjp(functools.partial(f, **kwargs) if kwargs else f, *args, method=method)
        return pull(_ones_like(out))[argnum]

    return elementwise_grad_f


def _ones_like(out: Any) -> Any:
    return np.ones(np.shape(out), np.result_type(out))


# (the transforms that return functions closing over their arguments: source refuses to make
# one from differentiated values, whose dependence it could not follow into the function)
vjp._cr_makes_functions = True  # type: ignore[attr-defined]
linearize._cr_makes_functions = True  # type: ignore[attr-defined]

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "linearize", "jacrev", "jacfwd", "jacobian",
           "hessian", "hvp", "vmap", "elementwise_grad"]
