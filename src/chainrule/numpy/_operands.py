"""What NumPy calls `array_like`, turned into what primitives take.

NumPy accepts Python lists and tuples of numbers wherever it takes an array (`x @ [1.0, 2.0]`,
`np.add(x, [1, 2])`, `np.concatenate([x, [1.0]])`). The primitives' implementations would accept
them too, but their rules would not: a rule computes with its operands (`ct * y`), and a list
times a float is a Python error, not an array product; the graph engine cannot take a dtype
from a list either. So the NumPy-shaped layer (operators, `__array_ufunc__`, the
`chainrule.numpy` functions that take several operands) passes every operand through `operand`,
once, before any primitive sees it; `Primitive.bind` stays as fast as it is.

Only Python lists and tuples are converted: arrays of any type (NumPy, Dask, CuPy), tracers and
Python scalars pass through unchanged (a Python scalar keeps NumPy's "weak" promotion rules,
float32 * 2.0 staying float32).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .._core.primitive import Tracer
from ..ops import shape as S


def contains_tracer(a: Any) -> bool:
    """Whether `a` is a traced value or a (nested) list or tuple holding one."""
    if isinstance(a, Tracer):
        return True
    if isinstance(a, (list, tuple)):
        return any(contains_tracer(x) for x in a)
    return False


def stack_nested(obj: Any) -> Any:
    """A (nested) list or tuple as one array: NumPy's conversion where it holds numbers only,
    a stack of its entries where some are traced (so their derivatives survive)."""
    if isinstance(obj, (list, tuple)):
        if not contains_tracer(obj):
            return np.asarray(obj)
        return S.stack([stack_nested(o) for o in obj])
    return obj


def operand(v: Any) -> Any:
    """An array operand: a Python list or tuple (of numbers or traced values, nested) becomes an
    array; anything else is returned as it is."""
    t = type(v)
    if t is list or t is tuple:
        return stack_nested(v)
    return v


def operand_seq(vs: Any) -> list[Any]:
    """A sequence of array operands (the first argument of concatenate, stack, ...)."""
    return [operand(v) for v in vs]


def guarded(name: str, fn: Any) -> Any:
    """NumPy's `fn`, refusing traced values (it cannot differentiate them) with a message that
    says what to use instead."""
    def passthrough(*args: Any, **kwargs: Any) -> Any:
        for a in list(args) + list(kwargs.values()):
            if contains_tracer(a):
                raise NotImplementedError(
                    f"numpy.{name} is not differentiable in chainrule: it was called on a traced "
                    f"value. Use a differentiable alternative from chainrule.numpy, or wrap the "
                    f"computation with cr.custom_vjp")
        return fn(*args, **kwargs)

    passthrough.__name__ = name
    passthrough.__doc__ = (f"NumPy's `numpy.{name}`, passed through: chainrule has no derivative "
                           f"for it, so it raises NotImplementedError, naming it, when a traced "
                           f"value reaches it; on other values it is NumPy's function.")
    return passthrough
