"""The docstrings of the `chainrule.numpy` functions that mirror a NumPy function one for one.

Most of them are generated here, from the name of the NumPy function and, where it is one
formula, the derivative rule the rule table gives it (`document`, called at the end of each
module of this package); functions that say more keep the docstring written with them. NumPy's
functions that chainrule passes through without a derivative are documented by `guarded`
(`_operands.py`).
"""
from __future__ import annotations

from typing import Any

# the derivative, in a phrase, for the functions whose rule is one formula (x the argument)
_UNARY = {
    "abs": "d|x|/dx = sign(x), 0 at 0 (for complex z, the gradient is z / |z|)",
    "absolute": "d|x|/dx = sign(x), 0 at 0",
    "fabs": "d|x|/dx = sign(x), 0 at 0",
    "exp": "d/dx exp(x) = exp(x)",
    "exp2": "d/dx 2**x = ln(2) 2**x",
    "expm1": "d/dx (exp(x) - 1) = exp(x)",
    "log": "d/dx log(x) = 1/x",
    "log2": "d/dx log2(x) = 1/(x ln 2)",
    "log10": "d/dx log10(x) = 1/(x ln 10)",
    "log1p": "d/dx log(1 + x) = 1/(1 + x)",
    "sqrt": "d/dx sqrt(x) = 1/(2 sqrt(x)), inf at 0",
    "cbrt": "d/dx x**(1/3) = 1/(3 x**(2/3))",
    "square": "d/dx x**2 = 2x",
    "reciprocal": "d/dx 1/x = -1/x**2",
    "sin": "d/dx sin(x) = cos(x)",
    "cos": "d/dx cos(x) = -sin(x)",
    "tan": "d/dx tan(x) = 1 + tan(x)**2",
    "arcsin": "d/dx arcsin(x) = 1/sqrt(1 - x**2)",
    "arccos": "d/dx arccos(x) = -1/sqrt(1 - x**2)",
    "arctan": "d/dx arctan(x) = 1/(1 + x**2)",
    "sinh": "d/dx sinh(x) = cosh(x)",
    "cosh": "d/dx cosh(x) = sinh(x)",
    "tanh": "d/dx tanh(x) = 1 - tanh(x)**2",
    "arcsinh": "d/dx arcsinh(x) = 1/sqrt(x**2 + 1)",
    "arccosh": "d/dx arccosh(x) = 1/sqrt(x**2 - 1)",
    "arctanh": "d/dx arctanh(x) = 1/(1 - x**2)",
    "negative": "d/dx (-x) = -1",
    "positive": "d/dx (+x) = 1",
    "deg2rad": "a constant factor, pi/180",
    "radians": "a constant factor, pi/180",
    "rad2deg": "a constant factor, 180/pi",
    "degrees": "a constant factor, 180/pi",
    "conj": "linear: the tangent is conjugated too",
    "conjugate": "linear: the tangent is conjugated too",
    "real": "linear: the real part of the tangent",
    "imag": "linear: the imaginary part of the tangent",
    "angle": "d angle(z) = Im(conj(z) dz) / |z|**2",
    "nan_to_num": "1 where x is finite, 0 where it was replaced",
    "add": "d(x + y) = dx + dy (summed back over broadcast axes)",
    "subtract": "d(x - y) = dx - dy",
    "multiply": "d(x y) = dx y + x dy",
    "divide": "d(x / y) = dx / y - x dy / y**2",
    "true_divide": "d(x / y) = dx / y - x dy / y**2",
    "power": "d(x**y) = y x**(y-1) dx + log(x) x**y dy",
    "float_power": "d(x**y) = y x**(y-1) dx + log(x) x**y dy, in float64",
    "maximum": "the derivative flows to the larger argument, split evenly on ties",
    "minimum": "the derivative flows to the smaller argument, split evenly on ties",
    "fmax": "as maximum, ignoring NaN: the derivative follows the argument taken, split on ties",
    "fmin": "as minimum, ignoring NaN: the derivative follows the argument taken, split on ties",
    "arctan2": "d arctan2(y, x) = (x dy - y dx) / (x**2 + y**2)",
    "hypot": "d hypot(x, y) = (x dx + y dy) / hypot(x, y)",
    "logaddexp": "the weights exp(x - r) and exp(y - r), r = logaddexp(x, y)",
    "logaddexp2": "the weights 2**(x - r) and 2**(y - r), r = logaddexp2(x, y)",
    "mod": "d(x mod y) = dx - floor(x / y) dy",
    "remainder": "d(x mod y) = dx - floor(x / y) dy",
    "sum": "linear: the cotangent is broadcast back over the summed axes",
    "mean": "linear: the cotangent, divided by the count, is broadcast back",
    "prod": "d prod = sum over i of (the product of the other entries) dx_i",
    "cumsum": "linear: the cotangent is summed in reverse",
    "cumprod": "through the products of the entries before each one",
    "min": "the derivative flows to the minimum, split evenly among ties",
    "amin": "the derivative flows to the minimum, split evenly among ties",
    "trace": "linear: the identity times the cotangent",
    "dot": "bilinear: d(a b) = da b + a db",
    "vdot": "bilinear: d(a b) = da b + a db (the first argument conjugated)",
    "inner": "bilinear: d(a b) = da b + a db",
    "outer": "bilinear: d(a b) = da b + a db",
    "matmul": "bilinear: d(a @ b) = da @ b + a @ db",
    "tensordot": "bilinear: d(a b) = da b + a db",
    "kron": "bilinear: d kron(a, b) = kron(da, b) + kron(a, db)",
    "sort": "the derivative follows the (stable) sorting permutation",
    "inv": "d inv(A) = -inv(A) dA inv(A)",
    "det": "d det(A) = trace(adj(A) dA), the adjugate: defined at singular matrices too",
}

# linear functions that move, copy or select entries: the derivative does the same to the
# tangent, and the transposed operation to the cotangent (repeated entries accumulate)
_MOVES = frozenset(
    "reshape ravel transpose swapaxes moveaxis squeeze expand_dims broadcast_to atleast_1d "
    "atleast_2d atleast_3d concatenate stack hstack vstack split array_split hsplit vsplit "
    "dsplit flip fliplr flipud rot90 roll tile repeat pad diag diagonal tril triu take "
    "take_along_axis diff asarray matrix_transpose".split())

# no derivative: the result is an integer, a boolean, a shape or a piecewise constant
_CONSTANT = frozenset(
    "sign floor ceil trunc rint floor_divide equal not_equal greater greater_equal less "
    "less_equal logical_and logical_or logical_xor logical_not isnan isinf isfinite isposinf "
    "isneginf signbit isreal iscomplexobj isrealobj array_equal array_equiv argwhere "
    "flatnonzero shape ndim size result_type ones_like zeros_like".split())

_ZERO = {"sign", "floor", "ceil", "trunc", "rint", "floor_divide"}

# chainrule.numpy's own additions, with what they are
_OWN = {
    "getitem": "`x[index]`, differentiable (the function the `[]` of a traced value calls); "
               "repeated indices accumulate in reverse mode.",
    "stop": "`x` with its derivative stopped, `chainrule.stop_gradient`.",
    "full_like": "Differentiable `numpy.full_like(a, fill_value, dtype)`: an array of `a`'s "
                 "shape filled with `fill_value`, whose derivative (a traced `fill_value`) is "
                 "broadcast; no derivative flows to `a`.",
    "softmax": "Differentiable `scipy.special.softmax(x, axis)`: exp(x - logsumexp(x)).",
    "log_softmax": "Differentiable `scipy.special.log_softmax(x, axis)`: x - logsumexp(x).",
}


def mirror_doc(name: str) -> str:
    """The docstring of the function mirroring `numpy.<name>` (`name` may be `linalg.inv`)."""
    short = name.rsplit(".", 1)[-1]
    if short in _OWN:
        return _OWN[short]
    head = f"Differentiable `numpy.{name}`; same signature and semantics as NumPy's."
    if short in _UNARY:
        return f"{head}\n\nDerivative: {_UNARY[short]}."
    if short in _MOVES:
        return (f"{head}\n\nLinear in its array arguments: the derivative applies the same "
                f"operation to the tangent, and its transpose to the cotangent.")
    if short in _ZERO:
        return f"{head}\n\nPiecewise constant: its derivative is zero wherever it exists."
    if short in _CONSTANT:
        return (f"{head}\n\nIts result (integers, booleans or a shape) carries no derivative; "
                f"traced values are accepted.")
    return head


def document(namespace: dict[str, Any], prefix: str = "") -> None:
    """Give each public chainrule function of a module's namespace that has no docstring of
    its own (or only the generic one of an elementwise wrapper) the one `mirror_doc` writes.
    Functions defined in other modules are documented in place, only where they have none."""
    for name, obj in list(namespace.items()):
        if name.startswith("_") or isinstance(obj, type) or not callable(obj):
            continue
        if not str(getattr(obj, "__module__", "")).startswith("chainrule"):
            continue
        doc = getattr(obj, "__doc__", None)
        if doc and not doc.startswith("Elementwise "):
            continue
        try:
            obj.__doc__ = mirror_doc(prefix + name)
        except (AttributeError, TypeError):  # (an object whose docstring cannot be set)
            pass
