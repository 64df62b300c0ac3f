"""Elementwise primitives (unary and broadcasting binary) and their rules.

Most primitives here are declared by one line giving the NumPy function and the derivative as a
function of the input `x` and the output `ans`; the factories turn that into a JVP, a VJP and a
batching rule. Derivatives are written with chainrule's own functions, so they differentiate again.
"""
from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from .._core import tree
from .._core.primitive import (
    Primitive,
    Tracer,
    dtype_of,
    innermost_value,
    library_array,
    scalar,
    shape_of,
)
from .._core.primitive import zeros_like as _zeros_like
from .._core.rules import STRONG_ZEROS, Zero, def_nondiff, def_rule, note_complex_made
from . import reduce as R
from . import shape as S
from ._batching import align_batched, elementwise_batcher


def _weak_dtype(a: Any) -> Any:
    # Python numbers are "weak" in NumPy 2 (NEP 50): float32 * 2.0 stays float32
    return a if type(a) in (float, int, bool, complex) else dtype_of(a)


def _abstract_elementwise(*args: Any, **params: Any) -> tuple[tuple[int, ...], np.dtype]:
    shapes = [shape_of(a) for a in args]
    shape = shapes[0] if all(s == shapes[0] for s in shapes) else np.broadcast_shapes(*shapes)
    dtypes = [_weak_dtype(a) for a in args]
    if all(isinstance(d, np.dtype) and d == dtypes[0] for d in dtypes):
        return shape, dtypes[0]  # the common case, without np.result_type's cost
    return shape, np.result_type(*dtypes)


def _arity(name: str, n: int, abstract: Callable[..., Any] = _abstract_elementwise
           ) -> Callable[..., Any]:
    """`abstract`, refusing a number of operands other than `n` (a graph from a file could
    give `mul` one operand, which only its implementation would notice, when it runs)."""
    def checked(*args: Any, **params: Any) -> Any:
        if len(args) != n:
            raise TypeError(f"'{name}' takes {n} operand(s), {len(args)} given")
        return abstract(*args, **params)
    checked.__name__ = f"_{name}_abstract"
    checked.shape_rule = abstract  # type: ignore[attr-defined]  (the rule it checks for)
    checked.arity = n  # type: ignore[attr-defined]
    return checked


def shape_rule(prim: Primitive) -> Callable[..., Any] | None:
    """The shape rule of an elementwise primitive (broadcasting, the predicates', abs/real/
    imag's), seen through the operand-count check; None for a primitive that is not
    elementwise. What "elementwise" means is decided here, once (the symbolic interpreter and
    the elemental library ask)."""
    rule = getattr(prim.abstract_eval, "shape_rule", prim.abstract_eval)
    return rule if rule in (_abstract_elementwise, _abstract_predicate, _abstract_real) else None


def _abstract_real(x: Any) -> tuple[tuple[int, ...], np.dtype]:
    """abs, real, imag: the shape of x; a complex dtype becomes its real counterpart."""
    shape, dtype = _abstract_elementwise(x)
    return shape, np.empty(0, dtype).real.dtype if np.dtype(dtype).kind == "c" else dtype


def _abstract_predicate(*args: Any, **params: Any) -> tuple[tuple[int, ...], np.dtype]:
    return np.broadcast_shapes(*(shape_of(a) for a in args)), np.dtype(bool)


def _fix_shape(t: Any, ans: Any) -> Any:
    """Tangents of broadcast operands must take the output's shape."""
    if t is Zero:
        return t
    s = shape_of(ans)
    if shape_of(t) != s:
        return S.broadcast_to(t, s)
    return t


# ---------------------------------------------------------------------------------------------
# implementations of the arithmetic primitives
#
# A ufunc call on scalars costs about a microsecond; the operators of NumPy scalars and arrays
# reach the same ufunc loops without that overhead, so +, -, * and comparisons are implemented by
# the operators themselves. Where Python numbers would differ from NumPy (1.0 / 0.0 raises instead
# of giving inf; (-1.0) ** 0.5 is complex instead of nan), the ufunc takes over.


def _div_impl(x: Any, y: Any) -> Any:
    try:
        return x / y
    except ArithmeticError:
        return np.true_divide(x, y)


def _pow_impl(x: Any, y: Any) -> Any:
    try:
        ans = x ** y
    except ArithmeticError:
        return np.power(x, y)
    if type(ans) is complex and type(x) is not complex and type(y) is not complex:
        return np.power(x, y)
    return ans


# ---------------------------------------------------------------------------------------------
# complex numbers
#
# Convention (PyTorch's): the gradient of a real-valued L with respect to a complex z = x + iy is
# dL/dx + i dL/dy, the direction of steepest ascent, so `z -= lr * grad` descends. Cotangents of
# complex values carry that meaning, and the chain rule through a holomorphic f multiplies a
# cotangent by conj(f'(z)). JAX returns the conjugate of this; see the README.


_REAL_SCALARS = (float, np.float64, np.float32, int)


def _is_complex(x: Any) -> bool:
    if type(x) in _REAL_SCALARS:  # the hot case of scalar code: no attribute lookups
        return False
    dt = getattr(x, "dtype", None)
    if dt is not None:
        return dt.kind == "c"
    return type(x) is complex


def cconj(d: Any) -> Any:
    """conj(d) for complex d, d itself otherwise (the common, free case)."""
    return conj_p.bind1(d) if _is_complex(d) else d


def _conj_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    return conj_p.bind1(primals[0]), conj_p.bind1(tangents[0])


def _conj_transpose(ct: Any, x: Any) -> Any:
    return conj_p.bind1(ct)


def _real_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    return real_p.bind1(primals[0]), real_p.bind1(tangents[0])


def _real_transpose(ct: Any, x: Any) -> Any:
    return add(ct, scalar(0, dtype_of(x)))  # a real cotangent, as a complex number


def _imag_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    return imag_p.bind1(primals[0]), imag_p.bind1(tangents[0])


def _imag_transpose(ct: Any, x: Any) -> Any:
    if not _is_complex(x):
        return zeros_like(ct)  # the imaginary part of a real number is the constant 0
    return mul(ct, scalar(1j, dtype_of(x)))  # L = Im(z): dL/dy = 1, i.e. the gradient i


conj_p = def_rule(Primitive("conj", np.conjugate, _arity("conj", 1)), jvp=_conj_jvp,
                  transpose=(_conj_transpose,))
def_rule(conj_p, batch=elementwise_batcher(conj_p))
real_p = def_rule(Primitive("real", np.real, _arity("real", 1, _abstract_real)), jvp=_real_jvp,
                  transpose=(_real_transpose,))
def_rule(real_p, batch=elementwise_batcher(real_p))
imag_p = def_rule(Primitive("imag", np.imag, _arity("imag", 1, _abstract_real)), jvp=_imag_jvp,
                  transpose=(_imag_transpose,))
def_rule(imag_p, batch=elementwise_batcher(imag_p))


# ---------------------------------------------------------------------------------------------
# strong zeros: the "where trap"
#
# In `where(x > 0, sqrt(x), 0)` at x = 0 the branch not taken receives a zero cotangent, and
# sqrt's VJP would multiply it by sqrt'(0) = inf: 0 * inf = nan, which then poisons the whole
# gradient (the same with p * log(p) at p = 0, or exp overflowing in the untaken branch). The
# elementwise VJPs treat a zero cotangent as a strong zero: its contribution is exactly 0. When
# the product is finite everywhere (the usual case; checked on concrete values by one summation,
# whose result is finite exactly when every term is, barring overflow) nothing changes;
# otherwise the zero-cotangent positions are set to 0 and real infinities stay.


def _all_finite(r: Any) -> bool:
    t = type(r)
    if t is float or t is np.float64 or t is np.float32:
        return math.isfinite(r)
    if t is np.ndarray:
        if r.dtype.kind == "f":
            return math.isfinite(np.add.reduce(r, axis=None))
        return bool(np.isfinite(r).all())
    if isinstance(r, (np.generic, complex)):
        return bool(np.isfinite(r))
    if isinstance(r, Tracer):  # its array (a batch holds every example); None if abstract
        inner = innermost_value(r)
        return inner is not None and _all_finite(inner)
    if hasattr(r, "__dask_graph__"):
        # a lazy array: testing it would compute it; the mask is applied lazily instead (the
        # strong_mask primitive, whose result is r itself where r is finite)
        return False
    try:  # array subclasses and other array types
        return bool(np.all(np.isfinite(r)))
    except TypeError:
        return False


_EXACT_REAL = (float, np.float64)


def _scalar_product(ct: Any, d: Any) -> Any:
    """`ct * d` when both are real scalars (float or np.float64) and the product is finite:
    what `strong_zero(ct, mul(ct, cconj(d)))` computes then, without its five calls (the hot
    path of scalar code in reverse mode); None otherwise (then that general path runs)."""
    if type(ct) in _EXACT_REAL and type(d) in _EXACT_REAL:
        r = ct * d
        if math.isfinite(r):
            return r
    return None


def strong_zero(ct: Any, r: Any) -> Any:
    """`r` (a product with the cotangent `ct`), with an exact 0 wherever `ct` is 0."""
    if STRONG_ZEROS.skip or _all_finite(r):
        return r
    return strong_mask_p.bind(ct, r, r)


def _strong_mask_impl(ct: Any, r: Any, t: Any) -> Any:
    # the same test at run time, so that compiled code pays for the mask only when needed
    if _all_finite(r):
        return t
    dropped = np.logical_and(np.equal(ct, 0), np.logical_not(np.isfinite(r)))
    return np.where(dropped, scalar(0, dtype_of(t)), t)


def _strong_mask_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    (ct, r, t), (_, _, t_dot) = primals, tangents  # piecewise constant in ct and r
    ans = strong_mask_p.bind(ct, r, t)
    return ans, (Zero if t_dot is Zero else strong_mask_p.bind(ct, r, t_dot))


def _strong_mask_transpose_t(g: Any, ct: Any, r: Any, t: Any) -> Any:
    return R.cotangent_like(strong_mask_p.bind(ct, r, g), t)


def _strong_mask_no_ct(g: Any, ct: Any, r: Any, t: Any) -> Any:
    return Zero  # the mask is piecewise constant in ct and r


def _strong_mask_abstract(ct: Any, r: Any, t: Any) -> tuple[tuple[int, ...], np.dtype]:
    return shape_of(t), dtype_of(t)  # ct and r broadcast into t


def _strong_mask_batch(args: list[Any], batched: tuple[bool, ...]) -> Any:
    ct, r, t = align_batched(args, batched)
    if not batched[2]:  # the output has t's shape: give t the batch axis too
        t = S.broadcast_to(t, (next(shape_of(a)[0] for a, b in zip(args, batched) if b),)
                           + shape_of(t))
    return strong_mask_p.bind(ct, r, t)


# t, except where a zero cotangent ct met a non-finite product r: there 0. Linear in t; its
# derivative in ct and r is zero (it is piecewise constant there).
strong_mask_p = Primitive("strong_mask", _strong_mask_impl, _strong_mask_abstract)
def_rule(strong_mask_p, jvp=_strong_mask_jvp,
         transpose=(_strong_mask_no_ct, _strong_mask_no_ct, _strong_mask_transpose_t),
         batch=_strong_mask_batch)


# ---------------------------------------------------------------------------------------------
# a change of floating-point or complex dtype (float32 <-> float64, real -> complex): linear


def _convert_impl(x: Any, *, dtype: Any) -> Any:
    if np.dtype(dtype).kind == "c" and np.dtype(dtype_of(x)).kind != "c":
        note_complex_made()  # (see rules.COMPLEX_MADE)
    astype = getattr(x, "astype", None)  # (any array type: NumPy, Dask, CuPy keep their own)
    if astype is not None:
        return astype(dtype)
    return np.asarray(x, dtype=dtype)[()]


def _convert_abstract(x: Any, *, dtype: Any) -> tuple[tuple[int, ...], np.dtype]:
    return shape_of(x), np.dtype(dtype)


def convert(x: Any, dtype: Any) -> Any:
    """`x` as `dtype` (floating or complex), differentiably."""
    return convert_p.bind(x, dtype=np.dtype(dtype))


def _convert_jvp(primals: list[Any], tangents: list[Any], *, dtype: Any
                 ) -> tuple[Any, Any]:
    (x,), (t,) = primals, tangents
    return convert(x, dtype), (t if t is Zero else convert(t, dtype))


def _convert_transpose(ct: Any, x: Any, *, dtype: Any) -> Any:
    if _is_complex(ct) and not _is_complex(x):
        ct = real_p.bind1(ct)  # (a real value gets a real cotangent)
    return convert(ct, dtype_of(x))


def _convert_batch(args: list[Any], batched: tuple[bool, ...], *, dtype: Any) -> Any:
    return convert(args[0], dtype)


convert_p = def_rule(Primitive("convert", _convert_impl, _convert_abstract),
                     jvp=_convert_jvp, transpose=(_convert_transpose,), batch=_convert_batch)


# ---------------------------------------------------------------------------------------------
# factories

Deriv = Callable[..., Any]


def unary(name: str, impl: Callable[..., Any], deriv: Deriv | None = None, *,
          over: Deriv | None = None) -> Primitive:
    """A differentiable unary primitive whose derivative is `deriv(x, ans, **params)`, or
    `1 / over(x, ans)` (then the rules divide by it: one pass instead of a reciprocal and a
    product). Its VJP keeps zero cotangents exactly zero (see strong_zero)."""
    p = Primitive(name, impl, _arity(name, 1))

    if over is None:
        def jvp(primals: list[Any], tangents: list[Any], **params: Any) -> tuple[Any, Any]:
            (x,), (x_dot,) = primals, tangents
            ans = p.bind(x, **params)
            return ans, mul(x_dot, deriv(x, ans, **params))  # type: ignore[misc]

        def vjp(ct: Any, ans: Any, x: Any, **params: Any) -> Any:
            d = deriv(x, ans, **params)  # type: ignore[misc]
            r = _scalar_product(ct, d)
            return strong_zero(ct, mul(ct, cconj(d))) if r is None else r
    else:
        def jvp(primals: list[Any], tangents: list[Any], **params: Any) -> tuple[Any, Any]:
            (x,), (x_dot,) = primals, tangents
            ans = p.bind(x, **params)
            return ans, div(x_dot, over(x, ans))

        def vjp(ct: Any, ans: Any, x: Any, **params: Any) -> Any:
            return strong_zero(ct, div(ct, cconj(over(x, ans))))

    jvp.__name__ = jvp.__qualname__ = f"_{name}_jvp"
    vjp.__name__ = vjp.__qualname__ = f"_{name}_vjp"
    return def_rule(p, jvp=jvp, vjp=(vjp,), batch=elementwise_batcher(p))


def binary(name: str, impl: Callable[..., Any], dx: Deriv, dy: Deriv) -> Primitive:
    """A broadcasting binary primitive with partial derivatives `dx(x, y, ans)`, `dy(x, y, ans)`;
    its VJPs keep zero cotangents exactly zero (see strong_zero)."""
    p = Primitive(name, impl, _arity(name, 2))

    def jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
        (x, y), (x_dot, y_dot) = primals, tangents
        ans = p.bind(x, y)
        t = Zero
        if x_dot is not Zero:
            t = x_dot * dx(x, y, ans)
        if y_dot is not Zero:
            t = t + y_dot * dy(x, y, ans)
        return ans, _fix_shape(t, ans)

    def vjp_x(ct: Any, ans: Any, x: Any, y: Any) -> Any:
        return R.cotangent_like(strong_zero(ct, mul(ct, cconj(dx(x, y, ans)))), x)

    def vjp_y(ct: Any, ans: Any, x: Any, y: Any) -> Any:
        return R.cotangent_like(strong_zero(ct, mul(ct, cconj(dy(x, y, ans)))), y)

    for f, kind in ((jvp, "jvp"), (vjp_x, "vjp_x"), (vjp_y, "vjp_y")):
        f.__name__ = f.__qualname__ = f"_{name}_{kind}"
    return def_rule(p, jvp=jvp, vjp=(vjp_x, vjp_y), batch=elementwise_batcher(p))


def nondiff(name: str, impl: Callable[..., Any], predicate: bool = False) -> Primitive:
    """A primitive with zero derivative everywhere it has one (comparisons, floor, sign, ...);
    a `predicate` returns booleans."""
    abstract = _abstract_predicate if predicate else _abstract_elementwise
    nin = getattr(impl, "nin", None)  # (a ufunc says how many operands it takes)
    p = Primitive(name, impl, _arity(name, nin, abstract) if nin else abstract)
    return def_nondiff(p, batch=elementwise_batcher(p))


# ---------------------------------------------------------------------------------------------
# linear primitives: negation, addition, subtraction, selection

def _neg_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    return neg(primals[0]), neg(tangents[0])


def _neg_transpose(ct: Any, x: Any) -> Any:
    return neg(ct)


neg_p = def_rule(Primitive("neg", operator.neg, _arity("neg", 1)), jvp=_neg_jvp,
                 transpose=(_neg_transpose,))
def_rule(neg_p, batch=elementwise_batcher(neg_p))


def _add_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    ans = add(*primals)
    return ans, _fix_shape(tangents[0] + tangents[1], ans)


def _add_transpose_x(ct: Any, x: Any, y: Any) -> Any:
    return R.cotangent_like(ct, x)


def _add_transpose_y(ct: Any, x: Any, y: Any) -> Any:
    return R.cotangent_like(ct, y)


add_p = def_rule(Primitive("add", operator.add,
                           _arity("add", 2)), jvp=_add_jvp,
                 transpose=(_add_transpose_x, _add_transpose_y))
def_rule(add_p, batch=elementwise_batcher(add_p))


def _sub_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    ans = sub(*primals)
    return ans, _fix_shape(tangents[0] - tangents[1], ans)


def _sub_transpose_y(ct: Any, x: Any, y: Any) -> Any:
    return neg(R.cotangent_like(ct, y))  # (negated after the reduction: fewer elements)


sub_p = def_rule(Primitive("sub", operator.sub,
                           _arity("sub", 2)), jvp=_sub_jvp,
                 transpose=(_add_transpose_x, _sub_transpose_y))
def_rule(sub_p, batch=elementwise_batcher(sub_p))


def _select_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    c, a, b = primals
    _, a_dot, b_dot = tangents
    ans = select(c, a, b)
    if a_dot is Zero and b_dot is Zero:
        return ans, Zero
    # the branch not taken contributes an exact zero, never 0 * (its derivative)
    a_dot = zeros_like(ans) if a_dot is Zero else a_dot
    b_dot = zeros_like(ans) if b_dot is Zero else b_dot
    return ans, _fix_shape(select(c, a_dot, b_dot), ans)


def _select_transpose_a(ct: Any, c: Any, a: Any, b: Any) -> Any:
    return R.cotangent_like(select(c, ct, zeros_like(ct)), a)


def _select_transpose_b(ct: Any, c: Any, a: Any, b: Any) -> Any:
    return R.cotangent_like(select(c, zeros_like(ct), ct), b)


select_p = def_rule(Primitive("select", np.where, _arity("select", 3)), jvp=_select_jvp,
                    transpose=(None, _select_transpose_a, _select_transpose_b))
def_rule(select_p, batch=elementwise_batcher(select_p))


# ---------------------------------------------------------------------------------------------
# multiplication and division (bilinear / nonlinear, hand-written VJPs for speed)

def _mul_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    (x, y), (x_dot, y_dot) = primals, tangents
    ans = mul(x, y)
    return ans, _fix_shape(x_dot * y + x * y_dot, ans)


def _mul_vjp_x(ct: Any, ans: Any, x: Any, y: Any) -> Any:
    r = _scalar_product(ct, y)
    if r is not None and type(r) is type(x):  # (cotangent_like would return it as it is)
        return r
    return R.cotangent_like(strong_zero(ct, mul(ct, cconj(y))), x)


def _mul_vjp_y(ct: Any, ans: Any, x: Any, y: Any) -> Any:
    r = _scalar_product(ct, x)
    if r is not None and type(r) is type(y):
        return r
    return R.cotangent_like(strong_zero(ct, mul(ct, cconj(x))), y)


mul_p = def_rule(Primitive("mul", operator.mul,
                           _arity("mul", 2)), jvp=_mul_jvp,
                 vjp=(_mul_vjp_x, _mul_vjp_y))
def_rule(mul_p, batch=elementwise_batcher(mul_p))


def _div_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    (x, y), (x_dot, y_dot) = primals, tangents
    ans = div(x, y)
    t = Zero
    if x_dot is not Zero:
        t = div(x_dot, y)
    if y_dot is not Zero:
        t = t - div(mul(y_dot, ans), y)
    return ans, _fix_shape(t, ans)


def _div_vjp_x(ct: Any, ans: Any, x: Any, y: Any) -> Any:
    return R.cotangent_like(strong_zero(ct, div(ct, cconj(y))), x)


def _div_vjp_y(ct: Any, ans: Any, x: Any, y: Any) -> Any:
    return R.cotangent_like(strong_zero(ct, neg(mul(ct, cconj(div(ans, y))))), y)


div_p = def_rule(Primitive("div", _div_impl,
                           _arity("div", 2)), jvp=_div_jvp,
                 vjp=(_div_vjp_x, _div_vjp_y))
def_rule(div_p, batch=elementwise_batcher(div_p))


# ---------------------------------------------------------------------------------------------
# the binders used by rules and by chainrule.numpy

def neg(x: Any) -> Any:
    return neg_p.bind1(x)


def add(x: Any, y: Any) -> Any:
    return add_p.bind2(x, y)


def sub(x: Any, y: Any) -> Any:
    return sub_p.bind2(x, y)


def mul(x: Any, y: Any) -> Any:
    return mul_p.bind2(x, y)


def div(x: Any, y: Any) -> Any:
    return div_p.bind2(x, y)


def select(c: Any, a: Any, b: Any) -> Any:
    return select_p.bind(c, a, b)


zeros_like = _zeros_like  # a constant, never traced: it has no derivative


def ones_like(x: Any) -> Any:
    like = library_array(x)
    if like is None:
        return np.ones(shape_of(x), dtype_of(x))
    return np.ones(shape_of(x), dtype_of(x), like=like)


# ---------------------------------------------------------------------------------------------
# nondifferentiable elementwise primitives

greater_p = nondiff("greater", operator.gt, predicate=True)
greater_equal_p = nondiff("greater_equal", operator.ge, predicate=True)
less_p = nondiff("less", operator.lt, predicate=True)
less_equal_p = nondiff("less_equal", operator.le, predicate=True)
equal_p = nondiff("equal", operator.eq, predicate=True)
not_equal_p = nondiff("not_equal", operator.ne, predicate=True)
logical_and_p = nondiff("logical_and", np.logical_and, predicate=True)
logical_or_p = nondiff("logical_or", np.logical_or, predicate=True)
logical_xor_p = nondiff("logical_xor", np.logical_xor, predicate=True)
logical_not_p = nondiff("logical_not", np.logical_not, predicate=True)
isfinite_p = nondiff("isfinite", np.isfinite, predicate=True)
isnan_p = nondiff("isnan", np.isnan, predicate=True)
isinf_p = nondiff("isinf", np.isinf, predicate=True)
signbit_p = nondiff("signbit", np.signbit, predicate=True)
sign_p = nondiff("sign", np.sign)
floor_p = nondiff("floor", np.floor)
ceil_p = nondiff("ceil", np.ceil)
trunc_p = nondiff("trunc", np.trunc)
round_p = nondiff("round", np.round)
floor_divide_p = nondiff("floor_divide", np.floor_divide)
bitwise_and_p = nondiff("bitwise_and", operator.and_)
bitwise_or_p = nondiff("bitwise_or", operator.or_)
bitwise_xor_p = nondiff("bitwise_xor", operator.xor)
invert_p = nondiff("invert", operator.invert)


def sign(x: Any) -> Any:
    return sign_p.bind1(x)


def greater(x: Any, y: Any) -> Any:
    return greater_p.bind(x, y)


def equal(x: Any, y: Any) -> Any:
    return equal_p.bind(x, y)


def isfinite(x: Any) -> Any:
    return isfinite_p.bind(x)


def floor(x: Any) -> Any:
    return floor_p.bind(x)


def _mask(m: Any, like: Any) -> Any:
    """A boolean mask as 0/1 in the dtype of `like`, as a constant (of the mask's shape)."""
    dt = dtype_of(like)
    return select(m, scalar(1, dt), scalar(0, dt))


def _no_ties(eq: Any) -> bool:
    """True when `eq` is a concrete boolean array with no True in it (under an abstract
    interpreter the answer is unknown, and the general formula is used)."""
    if isinstance(eq, (bool, np.bool_)):
        return not eq
    return isinstance(eq, np.ndarray) and not eq.any()


def _pick(take: Any, eq: Any, like: Any) -> Any:
    """The derivative of a selection: 1 where `take`, 1/2 where tied, else 0. A boolean mask
    serves as the 0/1 factor directly; the tie term is added only when there are ties."""
    if _no_ties(eq):
        return take
    return pick_p.bind(take, eq, dtype=dtype_of(like).str)


def _pick_impl(take: Any, eq: Any, *, dtype: str) -> Any:
    # decided at run time too, so that a compiled graph adds the tie term only when needed
    if _no_ties(eq):
        return np.asarray(take).astype(dtype)
    return np.add(take, np.multiply(eq, scalar(0.5, dtype)))


def _pick_abstract(take: Any, eq: Any, *, dtype: str) -> tuple[tuple[int, ...], np.dtype]:
    return np.broadcast_shapes(shape_of(take), shape_of(eq)), np.dtype(dtype)


pick_p = def_nondiff(Primitive("pick", _pick_impl, _pick_abstract))
def_rule(pick_p, batch=elementwise_batcher(pick_p))


# ---------------------------------------------------------------------------------------------
# unary primitives: one line each, derivative in terms of x and ans

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


def _d_exp(x: Any, ans: Any) -> Any:
    return ans


def _d_exp2(x: Any, ans: Any) -> Any:
    return mul(ans, _LN2)


def _d_expm1(x: Any, ans: Any) -> Any:
    return add(ans, 1.0)


def _over_log(x: Any, ans: Any) -> Any:
    return x


def _over_log2(x: Any, ans: Any) -> Any:
    return mul(x, _LN2)


def _over_log10(x: Any, ans: Any) -> Any:
    return mul(x, _LN10)


def _over_log1p(x: Any, ans: Any) -> Any:
    return add(x, 1.0)


def _over_sqrt(x: Any, ans: Any) -> Any:
    return mul(ans, 2.0)  # sqrt'(0) = inf


def _over_cbrt(x: Any, ans: Any) -> Any:
    return mul(square(ans), 3.0)


def _d_square(x: Any, ans: Any) -> Any:
    return mul(x, 2.0)


def _d_reciprocal(x: Any, ans: Any) -> Any:
    return neg(square(ans))


def _d_sin(x: Any, ans: Any) -> Any:
    return cos(x)


def _d_cos(x: Any, ans: Any) -> Any:
    return neg(sin(x))


def _d_tan(x: Any, ans: Any) -> Any:
    return add(square(ans), 1.0)


def _over_arcsin(x: Any, ans: Any) -> Any:
    return sqrt(sub(1.0, square(x)))


def _over_arccos(x: Any, ans: Any) -> Any:
    return neg(sqrt(sub(1.0, square(x))))


def _over_arctan(x: Any, ans: Any) -> Any:
    return add(square(x), 1.0)


def _d_sinh(x: Any, ans: Any) -> Any:
    return cosh(x)


def _d_cosh(x: Any, ans: Any) -> Any:
    return sinh(x)


def _d_tanh(x: Any, ans: Any) -> Any:
    return sub(1.0, square(ans))


def _over_arcsinh(x: Any, ans: Any) -> Any:
    return sqrt(add(square(x), 1.0))


def _over_arccosh(x: Any, ans: Any) -> Any:
    return sqrt(sub(square(x), 1.0))


def _over_arctanh(x: Any, ans: Any) -> Any:
    return sub(1.0, square(x))


abs_p = Primitive("abs", np.abs, _abstract_real)


def _abs_direction(x: Any, ans: Any) -> Any:
    """sign(x) for real x (abs'(0) = 0, piecewise constant); z / |z| for complex z, which is not
    constant and so must stay differentiable."""
    if not _is_complex(x):
        return sign(x)
    return strong_zero(x, div(x, ans))


def _abs_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    (x,), (x_dot,) = primals, tangents
    ans = abs_p.bind1(x)
    t = mul(x_dot, cconj(_abs_direction(x, ans)))  # Re(conj(z) dz) / |z| for complex z
    return ans, real_p.bind1(t) if _is_complex(t) else t


def _abs_vjp(ct: Any, ans: Any, x: Any) -> Any:
    return mul(ct, _abs_direction(x, ans))  # |z| is real: its cotangent points along z / |z|


def_rule(abs_p, jvp=_abs_jvp, vjp=(_abs_vjp,), batch=elementwise_batcher(abs_p))
exp_p = unary("exp", np.exp, _d_exp)
exp2_p = unary("exp2", np.exp2, _d_exp2)
expm1_p = unary("expm1", np.expm1, _d_expm1)
log_p = unary("log", np.log, over=_over_log)
log2_p = unary("log2", np.log2, over=_over_log2)
log10_p = unary("log10", np.log10, over=_over_log10)
log1p_p = unary("log1p", np.log1p, over=_over_log1p)
sqrt_p = unary("sqrt", np.sqrt, over=_over_sqrt)
cbrt_p = unary("cbrt", np.cbrt, over=_over_cbrt)
square_p = unary("square", np.square, _d_square)
reciprocal_p = unary("reciprocal", np.reciprocal, _d_reciprocal)
sin_p = unary("sin", np.sin, _d_sin)
cos_p = unary("cos", np.cos, _d_cos)
tan_p = unary("tan", np.tan, _d_tan)
arcsin_p = unary("arcsin", np.arcsin, over=_over_arcsin)
arccos_p = unary("arccos", np.arccos, over=_over_arccos)
arctan_p = unary("arctan", np.arctan, over=_over_arctan)
sinh_p = unary("sinh", np.sinh, _d_sinh)
cosh_p = unary("cosh", np.cosh, _d_cosh)
tanh_p = unary("tanh", np.tanh, _d_tanh)
arcsinh_p = unary("arcsinh", np.arcsinh, over=_over_arcsinh)
arccosh_p = unary("arccosh", np.arccosh, over=_over_arccosh)
arctanh_p = unary("arctanh", np.arctanh, over=_over_arctanh)
nan_to_num_p = Primitive("nan_to_num", np.nan_to_num, _arity("nan_to_num", 1))


def _nan_to_num_jvp(primals: list[Any], tangents: list[Any], **params: Any) -> tuple[Any, Any]:
    (x,), (x_dot,) = primals, tangents
    # select, not multiply: a tangent that is itself infinite must not become nan
    return nan_to_num_p.bind(x, **params), select(isfinite(x), x_dot, zeros_like(x))


def _nan_to_num_vjp(ct: Any, ans: Any, x: Any, **params: Any) -> Any:
    return select(isfinite(x), ct, zeros_like(ct))


def_rule(nan_to_num_p, jvp=_nan_to_num_jvp, vjp=(_nan_to_num_vjp,),
         batch=elementwise_batcher(nan_to_num_p))


def _binder(p: Primitive) -> Callable[[Any], Any]:
    bind1 = p.bind1

    def f(x: Any) -> Any:
        return bind1(x)
    f.__name__ = f.__qualname__ = p.name
    f.__doc__ = f"Elementwise {p.name} (primitive '{p.name}')."
    return f


abs = _binder(abs_p)  # noqa: A001
exp = _binder(exp_p)
exp2 = _binder(exp2_p)
expm1 = _binder(expm1_p)
log = _binder(log_p)
log2 = _binder(log2_p)
log10 = _binder(log10_p)
log1p = _binder(log1p_p)
sqrt = _binder(sqrt_p)
cbrt = _binder(cbrt_p)
square = _binder(square_p)
reciprocal = _binder(reciprocal_p)
sin = _binder(sin_p)
cos = _binder(cos_p)
tan = _binder(tan_p)
arcsin = _binder(arcsin_p)
arccos = _binder(arccos_p)
arctan = _binder(arctan_p)
sinh = _binder(sinh_p)
cosh = _binder(cosh_p)
tanh = _binder(tanh_p)
arcsinh = _binder(arcsinh_p)
arccosh = _binder(arccosh_p)
arctanh = _binder(arctanh_p)


# ---------------------------------------------------------------------------------------------
# binary primitives

def _pow_dx(x: Any, y: Any, ans: Any) -> Any:
    # y * x**(y-1), with the y == 0 case exact (d/dx x**0 = 0 even at x = 0)
    if isinstance(y, (int, float)) and not isinstance(y, bool):
        if y == 0:
            return zeros_like(ans)
        if y == 1:
            return ones_like(ans)
        if y == 2:
            return mul(x, 2.0)
        return mul(power(x, y - 1), float(y))
    # where x == y == 0 the base is replaced by 1 before the power, so that the untaken branch
    # is finite and its derivatives (0 * inf otherwise) stay finite too. Only there: at y == 0
    # and x != 0 the product y * x**(y-1) is 0 already, and its derivative in y, 1 / x, must
    # come out of it (a select on y == 0 alone would make it 0)
    both_zero = logical_and_p.bind2(equal(y, 0), equal(x, 0))
    safe_x = select(both_zero, ones_like(ans), x)
    return select(both_zero, zeros_like(ans), mul(y, power(safe_x, sub(y, 1))))


def _pow_dy(x: Any, y: Any, ans: Any) -> Any:
    # ans * log(x), defined as 0 where x == 0 (the limit along x = 0 for y > 0)
    zero_x = equal(x, 0)
    safe_x = select(zero_x, ones_like(ans), x)
    return select(zero_x, zeros_like(ans), mul(ans, log(safe_x)))


def _max_dx(x: Any, y: Any, ans: Any) -> Any:
    # ties split the derivative evenly, as PyTorch and JAX
    return _pick(greater(x, y), equal(x, y), ans)


def _max_dy(x: Any, y: Any, ans: Any) -> Any:
    return _pick(greater(y, x), equal(x, y), ans)


def _fmax_dx(x: Any, y: Any, ans: Any) -> Any:
    # fmax ignores NaN: the derivative follows whichever operand became the answer
    return _pick(logical_or(greater(x, y), isnan(y)), equal(x, y), ans)


def _fmax_dy(x: Any, y: Any, ans: Any) -> Any:
    return _pick(logical_or(greater(y, x), isnan(x)), equal(x, y), ans)


def _min_dx(x: Any, y: Any, ans: Any) -> Any:
    return _max_dx(y, x, ans)  # 1 where x < y: mask(y > x), ties split


def _fmin_dx(x: Any, y: Any, ans: Any) -> Any:
    return _pick(logical_or(greater(y, x), isnan(y)), equal(x, y), ans)


def _fmin_dy(x: Any, y: Any, ans: Any) -> Any:
    return _pick(logical_or(greater(x, y), isnan(x)), equal(x, y), ans)


def _min_dy(x: Any, y: Any, ans: Any) -> Any:
    return _max_dy(y, x, ans)  # 1 where y < x


def _atan2_dx(y: Any, x: Any, ans: Any) -> Any:  # d/dy of arctan2(y, x)
    # x*x rather than square(x): a Python number stays a (weak) Python number, so float32 stays
    return div(x, add(mul(x, x), mul(y, y)))


def _atan2_dy(y: Any, x: Any, ans: Any) -> Any:  # d/dx of arctan2(y, x)
    return div(neg(y), add(mul(x, x), mul(y, y)))


def _hypot_dx(x: Any, y: Any, ans: Any) -> Any:
    return div(x, ans)


def _hypot_dy(x: Any, y: Any, ans: Any) -> Any:
    return div(y, ans)


def _logaddexp_dx(x: Any, y: Any, ans: Any) -> Any:
    return exp(sub(x, ans))


def _logaddexp_dy(x: Any, y: Any, ans: Any) -> Any:
    return exp(sub(y, ans))


def _logaddexp2_dx(x: Any, y: Any, ans: Any) -> Any:
    return exp2(sub(x, ans))


def _logaddexp2_dy(x: Any, y: Any, ans: Any) -> Any:
    return exp2(sub(y, ans))


def _mod_dx(x: Any, y: Any, ans: Any) -> Any:
    return ones_like(ans)


def _mod_dy(x: Any, y: Any, ans: Any) -> Any:
    return neg(floor_divide_p.bind(x, y))


power_p = binary("power", _pow_impl, _pow_dx, _pow_dy)
float_power_p = binary("float_power", np.float_power, _pow_dx, _pow_dy)
maximum_p = binary("maximum", np.maximum, _max_dx, _max_dy)
minimum_p = binary("minimum", np.minimum, _min_dx, _min_dy)
fmax_p = binary("fmax", np.fmax, _fmax_dx, _fmax_dy)
fmin_p = binary("fmin", np.fmin, _fmin_dx, _fmin_dy)
arctan2_p = binary("arctan2", np.arctan2, _atan2_dx, _atan2_dy)
hypot_p = binary("hypot", np.hypot, _hypot_dx, _hypot_dy)
logaddexp_p = binary("logaddexp", np.logaddexp, _logaddexp_dx, _logaddexp_dy)
logaddexp2_p = binary("logaddexp2", np.logaddexp2, _logaddexp2_dx, _logaddexp2_dy)
mod_p = binary("mod", np.mod, _mod_dx, _mod_dy)


def power(x: Any, y: Any) -> Any:
    return power_p.bind2(x, y)


def logical_or(x: Any, y: Any) -> Any:
    return logical_or_p.bind(x, y)


def isnan(x: Any) -> Any:
    return isnan_p.bind(x)


# ---------------------------------------------------------------------------------------------
# stop_gradient


def _identity(x: Any) -> Any:
    return x


def _stop_batch(args: list[Any], batched: tuple[bool, ...]) -> Any:
    # bound again, so that interpreters below the vmap still see a constant
    return stop_gradient_p.bind(args[0])


def _stop_abstract(x: Any) -> tuple[tuple[int, ...], Any]:
    # (an equation of its own in a graph, so that Graph.grad still sees the stop)
    return shape_of(x), dtype_of(x)


def _zeros_like_impl(x: Any) -> Any:
    return np.zeros_like(x)  # (NEP 18: a Dask array's are lazy and have its chunks)


def _zeros_like_batch(args: list[Any], batched: tuple[bool, ...]) -> Any:
    return zeros_like_p.bind(args[0])  # (the batch's zeros: the batch axis comes along)


#: zeros of an argument's shape and dtype, made from the argument when the code runs: what an
#: argument the output does not reach gets in a traced program (a graph's constant zeros would
#: be NumPy's, whatever array the argument is when the compiled code runs)
zeros_like_p = def_nondiff(Primitive("zeros_like", _zeros_like_impl, _stop_abstract),
                           batch=_zeros_like_batch)


stop_gradient_p = def_nondiff(Primitive("stop_gradient", _identity, _stop_abstract),
                              batch=_stop_batch)


def stop_gradient(x: Any) -> Any:
    """Return `x`, treated as a constant by every transform: its derivative is zero.

    Works on pytrees: every traced leaf is replaced by a value no transform differentiates
    through; leaves that are not traced are returned as they are.

    Parameters
    ----------
    x : Any
        A value or a pytree of values.

    Returns
    -------
    Any
        `x`, with the same structure and values, cut off from differentiation.

    Examples
    --------
    >>> import chainrule as cr
    >>> print(cr.grad(lambda x: x * cr.stop_gradient(x))(3.0))   # d/dx of x * c, c = 3
    3.0
    >>> print(cr.stop_gradient({"w": 1.0}))
    {'w': 1.0}
    """
    return tree.tree_map(_stop_leaf, x)


def _stop_leaf(x: Any) -> Any:
    if isinstance(x, np.ndarray) and x.dtype == object:  # an array of traced values (symbols)
        out = x.copy()
        for i, v in np.ndenumerate(x):
            out[i] = _stop_leaf(v)
        return out
    return stop_gradient_p.bind(x) if isinstance(x, Tracer) else x
