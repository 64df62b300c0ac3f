"""Taylor mode: truncated Taylor polynomials carried through every primitive (`jet`,
`derivatives`).

`jet(f, primals, series)` pushes the curve x(t) = x0 + x1 t + x2 t²/2! + ... + xK t^K/K! through
`f` and returns the first K derivatives in t of f(x(t)) at t = 0, in one pass: the higher-order
analogue of `jvp`, with JAX's `jax.experimental.jet.jet` convention (the series terms are
*derivative* coefficients, scaled by factorials; `factorial_scaled=False` reads and returns the
plain Taylor coefficients instead). `derivatives(f, x, order=k)` is the common case
[f(x), f'(x), ..., f^(k)(x)] of a function of one scalar.

Design: an interpreter on the primitive-bind stack, not a pass over the graph IR. A `JetTracer`
holds a primal and its K normalized Taylor coefficients (x_j / j!, the form in which the
recurrences are short); `JetTrace.process` runs each primitive's recurrence on them. Being an
interpreter at a level like `DualTrace` makes it nest with everything else for free: a
coefficient may itself be a tracer of a lower level (`grad` of a `jet`), a `jet` may run inside
`grad` or `jit` (its coefficients are then recorded or staged like any other value), Python
control flow sees the concrete primal, and `cond` / `while_loop` / `scan` run as the Python they
describe. A graph pass would have needed a graph first (no eager use, no Python control flow) and
a second implementation of every rule for the IR.

Rules. Elementwise functions use the standard recurrences (Griewank & Walther, *Evaluating
Derivatives*, ch. 13), O(K²) each: the Cauchy product for `mul`, the division recurrence, and
for a function v = g(u) whose derivative satisfies a short equation (v' = v u' for exp,
u v' = u' for log, sin and cos together, v' = (1 - v²) u' for tanh, ...) the coefficient-matching
recursion that equation gives. Linear primitives (sums, reshapes, transposes, indexing, FFTs)
apply to each coefficient; bilinear ones (`mul`, `matmul`, two-operand `einsum`) convolve.
Piecewise functions (`abs`, `maximum`, `minimum`, `select`/`where`) choose their branch on the
primal, as their JVP rules do (ties of `maximum`/`minimum` split evenly).

Every other primitive (the special functions, linear algebra, sorting, control flow, custom
rules) goes through one fallback that needs only its JVP rule: y = p(x) has y'(t) = jvp(p)(x(t),
x'(t)), so the order-K series of y is p(x0) followed by the order-(K-1) series of the JVP rule run
on the series of x and of x'. The rule is run under a Taylor interpreter one order lower, which
recurses until order 1 is a plain JVP. This is nested forward mode, correct for any primitive
with a JVP rule, and costlier than a recurrence; results of the fallback are shared within one
`jet` call, so a rule that calls its own primitive again (gamma's calls gamma and digamma, whose
calls polygamma, ...) costs a polynomial, not an exponential, in K.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._core import tree
from ._core.errors import LeakedTracerError, RuleError
from ._core.primitive import (
    Primitive,
    Trace,
    Tracer,
    dead_trace_message,
    dtype_of,
    ndim_of,
    open_trace,
    shape_of,
    zeros_like,
)
from ._core.rules import CUSTOM_RULES, Zero
from .ops import elementwise as E
from .ops import nn as N
from .ops import shape as S

__all__ = ["jet", "derivatives"]

Series = list[Any]  # normalized Taylor coefficients 1..K (entries may be the symbolic Zero)


# ---------------------------------------------------------------------------------------------
# the interpreter

class JetTrace(Trace):
    """Taylor propagation of order `order`. `memo` holds the fallback's results for one `jet`
    call, shared with the lower-order interpreters the fallback opens."""

    __slots__ = ("order", "memo")

    def __init__(self, level: int, order: int, memo: dict[Any, Any]) -> None:
        super().__init__(level)
        self.order = order
        self.memo = memo

    def process(self, prim: Primitive, args: tuple[Any, ...], params: dict[str, Any]) -> Any:
        if not self.active:
            raise LeakedTracerError(dead_trace_message(prim.name))
        primals: list[Any] = []
        series: list[Series | None] = []
        live = False
        for a in args:
            if type(a) is JetTracer and a._trace is self:
                primals.append(a.primal)
                series.append(a.series)
                live = True
            else:
                primals.append(a)
                series.append(None)  # a constant of this interpreter
        if prim.nondiff or not live:
            return prim.bind(*primals, **params)
        rule = RECURRENCES.get(prim.name)
        out = None if rule is None else rule(self.order, primals, series, prim, **params)
        if out is None:  # (no recurrence, or none for these arguments)
            return self._fallback(prim, args, primals, series, params)
        return self._wrap(*out)

    def _wrap(self, primal: Any, coeffs: Series) -> Any:
        shape = shape_of(primal)
        coeffs = [_fit(c, shape) for c in coeffs]
        if all(c is Zero for c in coeffs):  # (nothing flows: a constant, as DualTrace makes)
            return primal
        return JetTracer(self, primal, coeffs)

    def _fallback(self, prim: Primitive, args: tuple[Any, ...], primals: list[Any],
                  series: list[Series | None], params: dict[str, Any]) -> Any:
        """The series of prim(x(t)) from its JVP rule: y(0) and, one order lower, the series
        of y'(t) = jvp(x(t), x'(t))."""
        rule = prim.jvp
        if rule is None:
            raise RuleError(prim.name, "forward", "Taylor mode (jet) differentiates a primitive "
                            "without a recurrence through its JVP rule")
        key = _memo_key(prim, self.order, primals, series, params)
        got = self.memo.get(key)
        if got is None:
            got = self._by_jvp(prim, rule, primals, series, params)
            if got is _CLOSED:
                custom = CUSTOM_RULES.get(prim)
                if custom is None or custom.on_closure is None:
                    raise TypeError(
                        f"jet: the function given to primitive '{prim.name}' closes over a value "
                        f"whose Taylor series is being propagated; pass that value to it as an "
                        f"argument instead")
                return custom.on_closure(args, **params)
            # (the inputs and parameters are kept with the result, so that the ids in the key
            # stay theirs: no new object, a function made for the next call, can take one)
            self.memo[key] = got = (got, primals, series, params)
        outs = got[0]
        if prim.multiple_results:
            return [self._wrap(y0, ys) for y0, ys in outs]
        return self._wrap(*outs[0])

    def _by_jvp(self, prim: Primitive, rule: Callable[..., Any], primals: list[Any],
                series: list[Series | None], params: dict[str, Any]) -> Any:
        k = self.order
        if k == 1:
            tangents = [Zero if s is None else s[0] for s in series]
            ans, ans_dot = rule(primals, tangents, **params)
            pairs = _pairs(prim, ans, ans_dot)
            outs = [(a, [d]) for a, d in pairs]
        else:
            with open_trace(JetTrace, k - 1, self.memo) as inner:
                in_p, in_t = [], []
                for x, s in zip(primals, series):
                    if s is None:
                        in_p.append(x)
                        in_t.append(Zero)
                        continue
                    in_p.append(_tracer(inner, x, s[:k - 1]))
                    # x'(t) in normalized coefficients: (j + 1) x_{j+1} t^j
                    d = [s[0]] + [_scale(s[j], float(j + 1)) for j in range(1, k)]
                    if all(c is Zero for c in d):
                        in_t.append(Zero)
                    else:
                        d0 = zeros_like(x) if d[0] is Zero else d[0]
                        in_t.append(_tracer(inner, d0, d[1:]))
                ans, ans_dot = rule(in_p, in_t, **params)
            outs = []
            for a, d in _pairs(prim, ans, ans_dot):
                a0, _ = _unwrap(a, inner, k - 1)
                d0, ds = _unwrap(d, inner, k - 1)
                # y_{j+1} = (y')_j / (j + 1)
                outs.append((a0, [d0] + [_scale(c, 1.0 / (j + 2)) for j, c in enumerate(ds)]))
        for y0, ys in outs:
            if _traced_by(y0, self) or any(_traced_by(c, self) for c in ys):
                return _CLOSED
        return outs


_CLOSED = object()  # (the fallback's function reached this interpreter's values by a closure)


def _pairs(prim: Primitive, ans: Any, ans_dot: Any) -> list[tuple[Any, Any]]:
    if prim.multiple_results:
        return list(zip(ans, ans_dot))
    return [(ans, ans_dot)]


def _traced_by(x: Any, trace: Trace) -> bool:
    return isinstance(x, Tracer) and x._trace is trace


def _tracer(trace: JetTrace, primal: Any, coeffs: Series) -> Any:
    if all(c is Zero for c in coeffs):
        return primal
    return JetTracer(trace, primal, list(coeffs))


def _unwrap(x: Any, trace: JetTrace, order: int) -> tuple[Any, Series]:
    """(primal, coefficients) of a value an interpreter of `order` returned; a constant or the
    symbolic Zero has Zero coefficients (Zero stays Zero: "no derivative flows here")."""
    if type(x) is JetTracer and x._trace is trace:
        return x.primal, list(x.series)
    return x, [Zero] * order


def _memo_key(prim: Primitive, order: int, primals: list[Any], series: list[Series | None],
              params: dict[str, Any]) -> tuple[Any, ...]:
    # by identity: the same objects give the same result (the entry keeps them alive); a
    # NumPy array constant by its contents, for it may be a buffer the function overwrites
    # between two calls (the same object, other values: an identity key would give the first
    # call's result to the second)
    coeffs = tuple(_constant_key(x) if s is None else (id(x),) + tuple(id(c) for c in s)
                   for x, s in zip(primals, series))
    return (prim.name, order, coeffs, tuple((k, _constant_key(v)) for k, v in params.items()))


def _constant_key(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return ("array", x.dtype.str, x.shape, x.tobytes())
    if type(x) is tuple and any(isinstance(v, np.ndarray) for v in x):
        return ("tuple",) + tuple(_constant_key(v) for v in x)
    return id(x)


class JetTracer(Tracer):
    """A value and its normalized Taylor coefficients 1..K (`series`, Zero where none)."""

    __slots__ = ("primal", "series")

    def __init__(self, trace: JetTrace, primal: Any, series: Series) -> None:
        self._trace = trace
        self.primal = primal
        self.series = series

    @property
    def shape(self) -> tuple[int, ...]:
        return shape_of(self.primal)

    @property
    def ndim(self) -> int:
        return ndim_of(self.primal)

    @property
    def dtype(self) -> Any:
        return dtype_of(self.primal)

    def __repr__(self) -> str:
        return f"JetTracer(primal={self.primal!r}, series={self.series!r})"

    def _below(self) -> Any:
        return self.primal

    _concrete = _below


# ---------------------------------------------------------------------------------------------
# arithmetic on coefficients that may be the symbolic Zero (and may be tracers of lower levels:
# everything is done with primitives, so that a jet can be differentiated or staged)

def _add(a: Any, b: Any) -> Any:
    if a is Zero:
        return b
    if b is Zero:
        return a
    return E.add(a, b)


def _sub(a: Any, b: Any) -> Any:
    if b is Zero:
        return a
    if a is Zero:
        return E.neg(b)
    return E.sub(a, b)


def _neg(a: Any) -> Any:
    return Zero if a is Zero else E.neg(a)


def _mul(a: Any, b: Any) -> Any:
    if a is Zero or b is Zero:
        return Zero
    return E.mul(a, b)


def _scale(a: Any, c: float) -> Any:
    if a is Zero:
        return Zero
    return a if c == 1.0 else E.mul(a, c)


def _div(a: Any, b: Any) -> Any:
    return Zero if a is Zero else E.div(a, b)


def _conv(a: Sequence[Any], b: Sequence[Any], k: int, lo: int = 0, hi: int | None = None,
          product: Callable[[Any, Any], Any] = E.mul) -> Any:
    """sum_{j=lo}^{hi} a_j b_{k-j} (hi defaults to k), skipping Zero terms."""
    acc: Any = Zero
    for j in range(lo, k + 1 if hi is None else hi + 1):
        x, y = a[j], b[k - j]
        if x is not Zero and y is not Zero:
            acc = _add(acc, product(x, y))
    return acc


def _fit(c: Any, shape: tuple[int, ...]) -> Any:
    """A coefficient broadcast to its primal's shape (a broadcasting operation whose series
    came from the smaller operand only)."""
    if c is Zero or shape_of(c) == shape:
        return c
    return S.broadcast_to(c, shape)


def _full(x0: Any, s: Series | None, k: int) -> list[Any]:
    """[x0, x1, ..., xK], Zero beyond the primal for a constant."""
    return [x0] + (list(s) if s is not None else [Zero] * k)


def _weighted(u: list[Any], k: int) -> list[Any]:
    """[0, 1 u1, 2 u2, ..., K uK]: the coefficients of t u'(t), which the recurrences use."""
    return [Zero] + [_scale(u[j], float(j)) for j in range(1, k + 1)]


# ---------------------------------------------------------------------------------------------
# the series of the elementwise functions (full lists [v0, ..., vK] in, full lists out)

def _cauchy(a: list[Any], b: list[Any], k: int) -> list[Any]:
    return [_conv(a, b, n) for n in range(k + 1)]


def _square_series(u: list[Any], k: int, v0: Any = None) -> list[Any]:
    """u² with each cross product counted once."""
    out = [E.mul(u[0], u[0]) if v0 is None else v0]
    for n in range(1, k + 1):
        acc = _scale(_conv(u, u, n, 0, (n - 1) // 2), 2.0)
        if n % 2 == 0:
            acc = _add(acc, _mul(u[n // 2], u[n // 2]))
        out.append(acc)
    return out


def _driven(ju: list[Any], w: list[Any], n: int) -> Any:
    """(1/n) sum_{j=1}^{n} j u_j w_{n-j}: coefficient n of v where v' = w u'."""
    return _scale(_conv(ju, w, n, 1), 1.0 / n)


def _exp_series(u: list[Any], v0: Any, k: int) -> list[Any]:
    ju = _weighted(u, k)
    v = [v0]
    for n in range(1, k + 1):
        v.append(_driven(ju, v, n))
    return v


def _inverse_driven(u: list[Any], w: list[Any], v0: Any, k: int) -> list[Any]:
    """v with w v' = u' (log: w = u; arctan: w = 1 + u²; arcsin: w = sqrt(1 - u²); ...):
    v_n = (u_n - (1/n) sum_{j=1}^{n-1} j v_j w_{n-j}) / w_0."""
    v = [v0]
    jv: list[Any] = [Zero]
    for n in range(1, k + 1):
        acc = _scale(_conv(jv, w, n, 1, n - 1), 1.0 / n)
        v.append(_div(_sub(u[n], acc), w[0]))
        jv.append(_scale(v[n], float(n)))
    return v


def _sqrt_series(u: list[Any], v0: Any, k: int) -> list[Any]:
    """v = sqrt(u): v_n = (u_n - sum_{j=1}^{n-1} v_j v_{n-j}) / (2 v_0)."""
    v = [v0]
    two_v0 = E.mul(v0, 2.0)
    for n in range(1, k + 1):
        v.append(_div(_sub(u[n], _conv(v, v, n, 1, n - 1)), two_v0))
    return v


def _shift(u: list[Any], c: Any) -> list[Any]:
    """c + u (c added to the primal only)."""
    return [E.add(u[0], c)] + u[1:]


def _negated(u: list[Any]) -> list[Any]:
    return [_neg(c) for c in u]


def _power_int(u: list[Any], n: int, v0: Any, k: int) -> list[Any]:
    """u^n for an integer n >= 0 by repeated squaring: exact where u0 = 0, which the general
    recurrence divides by."""
    result: list[Any] | None = None
    base = u
    while True:
        if n & 1:
            result = base if result is None else _cauchy(result, base, k)
        n >>= 1
        if not n:
            break
        base = _square_series(base, k)
    if result is None:  # u^0
        return [v0] + [Zero] * k
    return [v0] + result[1:]


def _power_const(u: list[Any], r: Any, v0: Any, k: int) -> list[Any]:
    """u^r for a constant r: n u0 v_n = sum_{j=0}^{n-1} (r (n - j) - j) u_{n-j} v_j."""
    v = [v0]
    for n in range(1, k + 1):
        acc: Any = Zero
        for j in range(n):
            if u[n - j] is Zero or v[j] is Zero:
                continue
            c = E.sub(E.mul(r, float(n - j)), float(j))
            acc = _add(acc, E.mul(E.mul(c, u[n - j]), v[j]))
        v.append(_div(acc, E.mul(u[0], float(n))))
    return v


# ---------------------------------------------------------------------------------------------
# the recurrences: rule(order, primals, series, prim, **params) -> (primal, coefficients) or
# None (then the fallback runs)

Rule = Callable[..., "tuple[Any, Series] | None"]
RECURRENCES: dict[str, Rule] = {}


def _unary(name: str, series_fn: Callable[[list[Any], Any, Any, int], list[Any]]) -> None:
    """A rule for a unary elementwise primitive: series_fn(u, v0, x0, order) -> [v0, ..., vK]."""
    def rule(k: int, primals: list[Any], series: list[Series | None], prim: Primitive,
             **params: Any) -> tuple[Any, Series] | None:
        (x0,), (s,) = primals, series
        if name in _REAL_ONLY and dtype_of(x0).kind == "c":
            return None
        v0 = prim.bind(x0, **params)
        return v0, series_fn(_full(x0, s, k), v0, x0, k)[1:]

    rule.__name__ = f"_{name}_taylor"
    RECURRENCES[name] = rule


_REAL_ONLY = {"abs"}


def _sin_cos(u: list[Any], s0: Any, c0: Any, k: int) -> tuple[list[Any], list[Any]]:
    ju = _weighted(u, k)
    s, c = [s0], [c0]
    for n in range(1, k + 1):
        s.append(_driven(ju, c, n))
        c.append(_neg(_driven(ju, s, n)))
    return s, c


def _sinh_cosh(u: list[Any], s0: Any, c0: Any, k: int) -> tuple[list[Any], list[Any]]:
    ju = _weighted(u, k)
    s, c = [s0], [c0]
    for n in range(1, k + 1):
        s.append(_driven(ju, c, n))
        c.append(_driven(ju, s, n))
    return s, c


def _tan_like(sign: float) -> Callable[[list[Any], Any, Any, int], list[Any]]:
    """tan (v' = (1 + v²) u', sign +1) and tanh (v' = (1 - v²) u', sign -1)."""
    def series(u: list[Any], v0: Any, x0: Any, k: int) -> list[Any]:
        ju = _weighted(u, k)
        v = [v0]
        w = [E.add(1.0, E.mul(E.mul(v0, v0), sign))]
        for n in range(1, k + 1):
            v.append(_driven(ju, w, n))
            if n < k:
                w.append(_scale(_conv(v, v, n), sign))
        return v
    return series


def _sigmoid_series(u: list[Any], v0: Any, x0: Any, k: int) -> list[Any]:
    # v' = v (1 - v) u', with 1 - v written s = sigmoid(-u): s0 keeps its digits for large u
    ju = _weighted(u, k)
    v = [v0]
    s = [N.sigmoid(E.neg(x0))]
    w = [E.mul(v0, s[0])]
    for n in range(1, k + 1):
        v.append(_driven(ju, w, n))
        s.append(_neg(v[n]))
        if n < k:
            w.append(_conv(v, s, n))
    return v


def _erf_series(sign: float) -> Callable[[list[Any], Any, Any, int], list[Any]]:
    """erf (v' = 2/sqrt(pi) exp(-u²) u') and erfc (the same, negated)."""
    def series(u: list[Any], v0: Any, x0: Any, k: int) -> list[Any]:
        minus_sq = _negated(_square_series(u, k - 1))
        w = _exp_series(minus_sq, E.exp(minus_sq[0]), k - 1)
        w = [_scale(c, sign * 2.0 / math.sqrt(math.pi)) for c in w]
        ju = _weighted(u, k)
        return [v0] + [_driven(ju, w, n) for n in range(1, k + 1)]
    return series


def _by_inverse(w_of: Callable[[list[Any], Any, int], list[Any]]
                ) -> Callable[[list[Any], Any, Any, int], list[Any]]:
    """v with w(u) v' = u' (the arc functions, log)."""
    def series(u: list[Any], v0: Any, x0: Any, k: int) -> list[Any]:
        return _inverse_driven(u, w_of(u, x0, k - 1), v0, k)
    return series


def _w_log(u: list[Any], x0: Any, k: int) -> list[Any]:
    return u


def _w_log1p(u: list[Any], x0: Any, k: int) -> list[Any]:
    return _shift(u, 1.0)


def _w_arctan(u: list[Any], x0: Any, k: int) -> list[Any]:
    return _shift(_square_series(u, k), 1.0)


def _w_arctanh(u: list[Any], x0: Any, k: int) -> list[Any]:
    return _shift(_negated(_square_series(u, k)), 1.0)


def _w_arcsin(u: list[Any], x0: Any, k: int) -> list[Any]:
    w = _shift(_negated(_square_series(u, k)), 1.0)   # 1 - u²
    return _sqrt_series(w, E.sqrt(w[0]), k)


def _w_arccos(u: list[Any], x0: Any, k: int) -> list[Any]:
    return _negated(_w_arcsin(u, x0, k))


def _w_arcsinh(u: list[Any], x0: Any, k: int) -> list[Any]:
    w = _shift(_square_series(u, k), 1.0)
    return _sqrt_series(w, E.sqrt(w[0]), k)


def _w_arccosh(u: list[Any], x0: Any, k: int) -> list[Any]:
    w = _shift(_square_series(u, k), -1.0)
    return _sqrt_series(w, E.sqrt(w[0]), k)


# (v0, the primitive's own value, seeds its half of the pair: only the partner is computed)

def _sin(u: list[Any], v0: Any, x0: Any, k: int) -> list[Any]:
    return _sin_cos(u, v0, E.cos(x0), k)[0]


def _cos(u: list[Any], v0: Any, x0: Any, k: int) -> list[Any]:
    return _sin_cos(u, E.sin(x0), v0, k)[1]


def _sinh(u: list[Any], v0: Any, x0: Any, k: int) -> list[Any]:
    return _sinh_cosh(u, v0, E.cosh(x0), k)[0]


def _cosh(u: list[Any], v0: Any, x0: Any, k: int) -> list[Any]:
    return _sinh_cosh(u, E.sinh(x0), v0, k)[1]


def _exp(u: list[Any], v0: Any, x0: Any, k: int) -> list[Any]:
    return _exp_series(u, v0, k)


def _expm1(u: list[Any], v0: Any, x0: Any, k: int) -> list[Any]:
    return [v0] + _exp_series(u, E.exp(x0), k)[1:]


def _exp2(u: list[Any], v0: Any, x0: Any, k: int) -> list[Any]:
    return _exp_series([_scale(c, math.log(2.0)) for c in u], v0, k)


def _logb(base: float) -> Callable[[list[Any], Any, Any, int], list[Any]]:
    def series(u: list[Any], v0: Any, x0: Any, k: int) -> list[Any]:
        v = _inverse_driven(u, u, v0, k)
        return [v0] + [_scale(c, 1.0 / math.log(base)) for c in v[1:]]
    return series


def _sqrt(u: list[Any], v0: Any, x0: Any, k: int) -> list[Any]:
    return _sqrt_series(u, v0, k)


def _cbrt(u: list[Any], v0: Any, x0: Any, k: int) -> list[Any]:
    return _power_const(u, 1.0 / 3.0, v0, k)


def _square(u: list[Any], v0: Any, x0: Any, k: int) -> list[Any]:
    return _square_series(u, k, v0)


def _reciprocal(u: list[Any], v0: Any, x0: Any, k: int) -> list[Any]:
    # u v = 1: v_n = -(sum_{j=1}^{n} u_j v_{n-j}) / u0
    v = [v0]
    for n in range(1, k + 1):
        v.append(_div(_neg(_conv(u, v, n, 1)), u[0]))
    return v


def _abs(u: list[Any], v0: Any, x0: Any, k: int) -> list[Any]:
    # the branch of the primal: sign(x0) u (abs'(0) = 0, as the JVP rule)
    sgn = E.sign(x0)
    return [v0] + [_mul(sgn, c) for c in u[1:]]


for _name, _fn in {
    "exp": _exp, "expm1": _expm1, "exp2": _exp2,
    "log": _by_inverse(_w_log), "log1p": _by_inverse(_w_log1p),
    "log2": _logb(2.0), "log10": _logb(10.0),
    "sqrt": _sqrt, "cbrt": _cbrt, "square": _square, "reciprocal": _reciprocal,
    "sin": _sin, "cos": _cos, "tan": _tan_like(1.0),
    "sinh": _sinh, "cosh": _cosh, "tanh": _tan_like(-1.0),
    "arcsin": _by_inverse(_w_arcsin), "arccos": _by_inverse(_w_arccos),
    "arctan": _by_inverse(_w_arctan), "arcsinh": _by_inverse(_w_arcsinh),
    "arccosh": _by_inverse(_w_arccosh), "arctanh": _by_inverse(_w_arctanh),
    "sigmoid": _sigmoid_series, "erf": _erf_series(1.0), "erfc": _erf_series(-1.0),
    "abs": _abs,
}.items():
    _unary(_name, _fn)


# --- binary elementwise

def _add_rule(k: int, primals: list[Any], series: list[Series | None], prim: Primitive
              ) -> tuple[Any, Series]:
    (x, y), (sx, sy) = primals, series
    a, b = _full(x, sx, k), _full(y, sy, k)
    combine = _add if prim.name == "add" else _sub
    return prim.bind(x, y), [combine(a[n], b[n]) for n in range(1, k + 1)]


def _mul_rule(k: int, primals: list[Any], series: list[Series | None], prim: Primitive,
              **params: Any) -> tuple[Any, Series] | None:
    """mul, matmul and two-operand einsum: bilinear, so the Cauchy product with the primitive
    as the product."""
    if len(primals) != 2:
        return None  # (an einsum of three or more operands: the fallback)
    (x, y), (sx, sy) = primals, series
    a, b = _full(x, sx, k), _full(y, sy, k)

    def product(p: Any, q: Any) -> Any:
        return prim.bind(p, q, **params)

    return prim.bind(x, y, **params), [_conv(a, b, n, product=product) for n in range(1, k + 1)]


def _div_rule(k: int, primals: list[Any], series: list[Series | None], prim: Primitive
              ) -> tuple[Any, Series]:
    (x, y), (sx, sy) = primals, series
    v0 = prim.bind(x, y)
    a = _full(x, sx, k)
    if sy is None:
        return v0, [_div(a[n], y) for n in range(1, k + 1)]
    # v y = x: v_n = (x_n - sum_{j=0}^{n-1} v_j y_{n-j}) / y0
    b = _full(y, sy, k)
    v = [v0]
    for n in range(1, k + 1):
        v.append(_div(_sub(a[n], _conv(v, b, n, 0, n - 1)), y))
    return v0, v[1:]


def _power_rule(k: int, primals: list[Any], series: list[Series | None], prim: Primitive
                ) -> tuple[Any, Series] | None:
    (x, y), (sx, sy) = primals, series
    v0 = prim.bind(x, y)
    u = _full(x, sx, k)
    if sy is None:
        if sx is None:  # (not reached: process binds constants directly)
            return v0, [Zero] * k
        n = _small_natural(y)
        if n is not None:
            return v0, _power_int(u, n, v0, k)[1:]
        if _has_zero(x):
            # the recurrence divides by the base: at a zero base (x ** 2.5, x ** 70, an array
            # of exponents at x = 0) it would give nan where the derivatives are finite; the
            # nested JVP rule keeps them
            return None
        return v0, _power_const(u, y, v0, k)[1:]
    # x^y = exp(y log x)
    if sx is None:
        # a constant base: log x, with 0 where x = 0 (0^y has derivative 0 in y, as the JVP
        # rule says, not 0 * log 0)
        dt = dtype_of(v0)
        safe = E.select(E.equal(x, 0), np.ones((), dt), x)
        w = [E.log(safe)] + [Zero] * k
    else:
        w = _inverse_driven(u, u, E.log(x), k)
    z = _cauchy(_full(y, sy, k), w, k)
    return v0, _exp_series(z, v0, k)[1:]


def _has_zero(x: Any) -> bool:
    """Whether a concrete base has a zero element (a traced one is taken to have none)."""
    if isinstance(x, Tracer):
        return False
    return bool(np.any(np.asarray(x) == 0))


def _small_natural(y: Any) -> int | None:
    """y as an int when it is a plain (untraced) scalar natural number up to 64: x**2, x**3
    are then repeated products, exact at x = 0."""
    if isinstance(y, Tracer) or ndim_of(y) != 0:
        return None
    try:
        f = float(y)
    except (TypeError, ValueError):
        return None
    if f.is_integer() and 0 <= f <= 64:
        return int(f)
    return None


def _extremum_rule(k: int, primals: list[Any], series: list[Series | None], prim: Primitive
                   ) -> tuple[Any, Series]:
    """maximum / minimum: the branch the primal takes; ties split evenly, as the JVP rule."""
    (x, y), (sx, sy) = primals, series
    v0 = prim.bind(x, y)
    dt = dtype_of(v0)
    first = E.greater(x, y) if prim.name == "maximum" else E.greater(y, x)
    one, half, zero = (np.asarray(c, dt) for c in (1.0, 0.5, 0.0))
    tie = E.select(E.equal(x, y), half, zero)
    wx = E.select(first, one, tie)
    wy = E.sub(one, wx)
    a, b = _full(x, sx, k), _full(y, sy, k)
    return v0, [_add(_mul(wx, a[n]), _mul(wy, b[n])) for n in range(1, k + 1)]


def _select_rule(k: int, primals: list[Any], series: list[Series | None], prim: Primitive
                 ) -> tuple[Any, Series] | None:
    (c, x, y), (sc, sx, sy) = primals, series
    if sc is not None:
        return None
    v0 = prim.bind(c, x, y)
    a, b = _full(x, sx, k), _full(y, sy, k)
    out = []
    for n in range(1, k + 1):
        if a[n] is Zero and b[n] is Zero:
            out.append(Zero)
            continue
        # the branch not taken contributes an exact zero, never 0 * its coefficient
        p = zeros_like(v0) if a[n] is Zero else a[n]
        q = zeros_like(v0) if b[n] is Zero else b[n]
        out.append(E.select(c, p, q))
    return v0, out


def _prod_rule(k: int, primals: list[Any], series: list[Series | None], prim: Primitive, *,
               axis: tuple[int, ...], keepdims: bool) -> tuple[Any, Series]:
    """A product over axes: the reduced elements multiplied pairwise (Cauchy products of the
    even and the odd halves, padded with a one when odd), log2(n) rounds, zero-safe."""
    (x,), (s,) = primals, series
    v0 = prim.bind(x, axis=axis, keepdims=keepdims)
    shape = shape_of(x)
    keep = [i for i in range(len(shape)) if i not in axis]
    perm = tuple(keep) + tuple(axis)
    lead = tuple(shape[i] for i in keep)
    n = math.prod(shape[a] for a in axis)
    if n == 0:  # (the empty product is the constant 1)
        return v0, [Zero] * k

    def flat(c: Any) -> Any:
        return Zero if c is Zero else S.reshape(S.transpose(c, perm), lead + (n,))

    u = [flat(c) for c in _full(x, s, k)]
    dt = dtype_of(x)
    while n > 1:
        if n % 2:
            pad = [np.ones(lead + (1,), dt)] + [np.zeros(lead + (1,), dt)] * k
            u = [c if c is Zero else S.concatenate([c, p], -1) for c, p in zip(u, pad)]
            n += 1
        even = [_take(c, slice(0, None, 2)) for c in u]
        odd = [_take(c, slice(1, None, 2)) for c in u]
        u = _cauchy(even, odd, k)
        n //= 2
    out_shape = shape_of(v0)
    return v0, [Zero if c is Zero else S.reshape(c, out_shape) for c in u[1:]]


def _take(c: Any, sl: slice) -> Any:
    return Zero if c is Zero else S.getitem(c, (Ellipsis, sl))


RECURRENCES.update({
    "prod": _prod_rule,
    "add": _add_rule, "sub": _add_rule, "mul": _mul_rule, "matmul": _mul_rule,
    "einsum": _mul_rule, "div": _div_rule, "power": _power_rule, "float_power": _power_rule,
    "maximum": _extremum_rule, "minimum": _extremum_rule, "select": _select_rule,
})


# --- linear primitives: the primitive applied to each coefficient

def _linear(positions: tuple[int, ...] | None) -> Rule:
    """A rule for a primitive linear in the arguments at `positions` (None: all of them); the
    others (indices) must be constants of the interpreter."""
    def rule(k: int, primals: list[Any], series: list[Series | None], prim: Primitive,
             **params: Any) -> tuple[Any, Series] | None:
        at = range(len(primals)) if positions is None else positions
        if any(s is not None for i, s in enumerate(series) if i not in at):
            return None
        out = []
        for n in range(k):
            coeffs = [Zero if series[i] is None else series[i][n] for i in at]  # type: ignore
            if all(c is Zero for c in coeffs):
                out.append(Zero)
                continue
            args = list(primals)
            for i, c in zip(at, coeffs):
                args[i] = zeros_like(primals[i]) if c is Zero else c
            out.append(prim.bind(*args, **params))
        return prim.bind(*primals, **params), out
    return rule


def _convert_rule(k: int, primals: list[Any], series: list[Series | None], prim: Primitive,
                  *, dtype: Any) -> tuple[Any, Series] | None:
    if np.dtype(dtype).kind not in "fc":  # (an integer result carries no derivative)
        return prim.bind(primals[0], dtype=dtype), [Zero] * k
    return _linear((0,))(k, primals, series, prim, dtype=dtype)


for _name in ("neg", "sum", "reshape", "transpose", "broadcast_to", "getitem", "scatter_add",
              "gather", "gather_add", "cumsum", "conj", "real", "imag", "fft", "rfft", "irfft"):
    RECURRENCES[_name] = _linear((0,))
RECURRENCES["concatenate"] = _linear(None)
RECURRENCES["convert"] = _convert_rule


# ---------------------------------------------------------------------------------------------
# the public functions

def _factorials(k: int) -> list[float]:
    return [float(math.factorial(j)) for j in range(k + 1)]


def _check_primal(x: Any, i: int) -> Any:
    if isinstance(x, Tracer):
        if np.dtype(x.dtype).kind not in "fc":
            raise TypeError(f"jet: primal {i} has dtype {x.dtype}, which cannot be "
                            f"differentiated; pass a floating-point value")
        return x
    if isinstance(x, (list, tuple, dict)) or not (
            isinstance(x, (int, float, complex, np.generic)) or hasattr(x, "dtype")):
        raise TypeError(f"jet: primal {i} is a {type(x).__name__}; jet takes one array per "
                        f"argument (primals=(x, y), not a pytree); flatten it first")
    dt = dtype_of(x)
    if dt.kind not in "fc":
        raise TypeError(f"jet: primal {i} has dtype {dt}, which cannot be differentiated; pass "
                        f"a floating-point value (e.g. 3.0 instead of 3, or x.astype(float))")
    return x if hasattr(x, "shape") else np.asarray(x)


def _check_series(primals: Sequence[Any], series: Any) -> tuple[list[list[Any]], int]:
    if not isinstance(series, (tuple, list)):
        raise TypeError(f"jet: series must be a tuple with one list of terms per primal, "
                        f"got {type(series).__name__}")
    if len(series) != len(primals):
        raise ValueError(f"jet: {len(primals)} primals but {len(series)} series; give one list "
                         f"of terms [x1, ..., xK] per primal")
    terms: list[list[Any]] = []
    for i, s in enumerate(series):
        if not isinstance(s, (tuple, list)):
            raise TypeError(f"jet: series {i} must be a list of terms [x1, ..., xK], got "
                            f"{type(s).__name__}; for one term write [x1]")
        terms.append(list(s))
    orders = {len(s) for s in terms}
    if len(orders) > 1:
        lengths = [len(s) for s in terms]
        raise ValueError(f"jet: every primal needs the same number of series terms, got "
                         f"{lengths}; pad the shorter ones with zeros")
    k = orders.pop() if orders else 0
    for i, (x, s) in enumerate(zip(primals, terms)):
        for j, t in enumerate(s):
            if shape_of(t) != shape_of(x):
                raise ValueError(f"jet: term {j + 1} of series {i} has shape {shape_of(t)}, but "
                                 f"primal {i} has shape {shape_of(x)}; each term must have its "
                                 f"primal's shape")
            if isinstance(t, (np.ndarray, np.generic, int, float, complex)):
                t = np.asarray(t, dtype=dtype_of(x))
                # a term of zeros is the symbolic Zero: the recurrences skip it
                s[j] = t if np.any(t) else Zero
    return terms, k


def _run(fun: Callable[..., Any], primals: list[Any], coeffs: list[list[Any]], k: int
         ) -> tuple[Any, Any, Any]:
    """f on the normalized series: (out tree, out leaves' primals, their coefficients)."""
    with open_trace(JetTrace, k, {}) as trace:
        args = [_tracer(trace, x, c) for x, c in zip(primals, coeffs)]
        result = fun(*args)
    leaves, td = tree.flatten(result)
    out_p, out_c = [], []
    for o in leaves:
        p, c = _unwrap(o, trace, k)
        out_p.append(p)
        out_c.append([zeros_like(p) if x is Zero else x for x in c])
    return td, out_p, out_c


def jet(fun: Callable[..., Any], primals: Sequence[Any], series: Sequence[Sequence[Any]], *,
        factorial_scaled: bool = True) -> tuple[Any, Any]:
    """Taylor-mode derivatives: push a truncated Taylor series through `fun` in one pass.

    The convention is JAX's (`jax.experimental.jet.jet`): primal `x0` and terms
    `[x1, ..., xK]` describe the curve x(t) = x0 + x1 t + x2 t²/2! + ... + xK t^K/K!, so that
    x_j is the j-th derivative of x(t) at t = 0; the result is f(x(0)) and
    `[y1, ..., yK]` with y_j = d^j/dt^j f(x(t)) at t = 0. With `x1 = v` and the other terms
    zero, y_j is the j-th directional derivative of `fun` along `v`. The cost grows like K²
    (a recurrence per primitive), where nesting `grad` or `jvp` K times grows like 2^K.

    Parameters
    ----------
    fun : callable
        A function of the primals (positional arrays) returning an array or a pytree of them.
    primals : tuple of arrays
        The point x0, one array (or float) per argument of `fun`.
    series : tuple of lists of arrays
        One list `[x1, ..., xK]` per primal, every list of the same length K, each term of its
        primal's shape.
    factorial_scaled : bool, optional
        True (the default, as JAX): terms are derivatives, x(t) = sum_j x_j t^j / j!. False:
        terms are plain Taylor coefficients, x(t) = sum_j x_j t^j, for inputs and results.

    Returns
    -------
    (primal_out, series_out)
        `fun(*primals)`, and the output's pytree with each array replaced by its list of K
        terms (in the convention of the inputs).

    Raises
    ------
    TypeError
        If a primal is not an array (a pytree: flatten it), or is an integer array, or the
        series are not a tuple of lists.
    ValueError
        If the number of series differs from the number of primals, the lists have different
        lengths, or a term's shape differs from its primal's.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> y0, (y1, y2, y3) = cr.jet(cnp.exp, (0.5,), ([1.0, 0.0, 0.0],))
    >>> print(np.allclose([y0, y1, y2, y3], np.exp(0.5)))    # exp is its own derivative
    True
    >>> _, (d1, d2) = cr.jet(lambda x: x ** 3, (2.0,), ([1.0, 0.0],))
    >>> print(d1, d2)                                         # 3 x², 6 x at x = 2
    12.0 12.0
    """
    if not isinstance(primals, (tuple, list)):
        raise TypeError(f"jet: primals must be a tuple of arrays, one per argument of the "
                        f"function, got {type(primals).__name__}; write primals=(x,)")
    xs = [_check_primal(x, i) for i, x in enumerate(primals)]
    terms, k = _check_series(xs, series)
    fact = _factorials(k)
    coeffs = [[_scale(t, 1.0 / fact[j + 1]) if factorial_scaled else t
               for j, t in enumerate(s)] for s in terms]
    td, out_p, out_c = _run(fun, xs, coeffs, k)
    if factorial_scaled:
        out_c = [[_scale(c, fact[j + 1]) for j, c in enumerate(cs)] for cs in out_c]
    return tree.unflatten(td, out_p), tree.unflatten(td, out_c)


def derivatives(fun: Callable[[Any], Any], x: Any, order: int) -> Any:
    """f(x) and its first `order` derivatives, for `fun` of one scalar, by Taylor mode.

    One pass of `jet` along x(t) = x + t: the cost grows like order², where nesting `grad`
    `order` times grows like 2^order.

    Parameters
    ----------
    fun : callable
        A function of one scalar returning an array (of any shape) or a float.
    x : float or 0-d array
        The point (floating point).
    order : int
        The highest derivative wanted (0 gives f(x) alone).

    Returns
    -------
    numpy.ndarray
        `[f(x), f'(x), ..., f^(order)(x)]`, shape `(order + 1,) + f(x).shape`: entry j is the
        j-th derivative (not divided by j!). A traced array when `x` is itself being traced
        (inside `grad` or `jit`), so that the result can be differentiated again.

    Raises
    ------
    TypeError
        If `order` is not an integer, `x` is not a floating-point scalar, or `fun` returns
        something other than one array.
    ValueError
        If `order` is negative or `x` is not a scalar (use `jet` with a direction).

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> d = cr.derivatives(cnp.sin, 0.0, order=5)
    >>> print(np.round(d, 12) + 0.0)           # sin, cos, -sin, -cos, sin, cos at 0
    [ 0.  1.  0. -1.  0.  1.]
    >>> d = cr.derivatives(lambda x: 1 / (1 - x), 0.0, order=4)
    >>> print(d)                               # j! for 1/(1 - x) at 0
    [ 1.  1.  2.  6. 24.]
    """
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)):
        raise TypeError(f"derivatives: order must be an int, got {type(order).__name__}")
    if order < 0:
        raise ValueError(f"derivatives: order must be >= 0, got {order}")
    k = int(order)
    x0 = _check_primal(x, 0)
    if shape_of(x0) != ():
        raise ValueError(f"derivatives: x must be a scalar, got shape {shape_of(x0)}; for a "
                         f"function of an array use cr.jet with a direction, e.g. "
                         f"cr.jet(f, (x,), ([v] + [zeros] * (k - 1),))")
    seed = [np.ones((), dtype_of(x0))] + [Zero] * (k - 1) if k else []
    td, out_p, out_c = _run(fun, [x0], [seed], k)
    if td != tree.LEAF:
        raise TypeError(f"derivatives: the function must return one array, not a "
                        f"{type(tree.unflatten(td, out_p)).__name__}; use cr.jet for pytrees")
    fact = _factorials(k)
    ys = [out_p[0]] + [_scale(c, fact[j + 1]) for j, c in enumerate(out_c[0])]
    if not any(isinstance(y, Tracer) for y in ys):
        return np.stack([np.asarray(y) for y in ys])
    return S.stack(ys)
