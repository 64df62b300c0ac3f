"""`chainrule.scipy.special`: SciPy's special functions, differentiable, with SciPy's signatures.

    import chainrule.scipy.special as cs
    cr.grad(lambda a: cs.gammaln(a).sum())(a)          # digamma(a)

Values are SciPy's; the derivative rules live with the primitives in `ops/special.py`. Plain SciPy
calls work on traced values too where SciPy's ufunc protocol lets them (`scipy.special.gammaln(x)`
dispatches here as `np.sin(x)` does to chainrule.numpy); the Python-level functions of SciPy
(`logsumexp`, `softmax`, `log_softmax`, `polygamma`, `multigammaln`) convert their input to a NumPy
array first, which a traced value refuses: call them from this module instead.

Derivatives that SciPy gives nothing to build from raise `NotImplementedError` naming the
argument when asked for: `gammainc`/`gammaincc`/`betainc` in their shape parameters, the Bessel
functions in their order, `zeta` in its exponent, `polygamma` in its order.

Examples
--------
>>> import numpy as np
>>> import chainrule as cr
>>> from chainrule.scipy import special
>>> bool(np.isclose(cr.grad(special.gammaln)(3.5), special.digamma(3.5)))
True
>>> print(round(float(cr.grad(special.erf)(0.0)), 6))                # 2 / sqrt(pi)
1.128379
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.special as _sc

from .. import numpy as cnp
from .._core.primitive import innermost_value
from ..numpy._methods import register_ufunc
from ..numpy._operands import operand
from ..ops import elementwise as _E
from ..ops import nn as _N
from ..ops import reduce as _R
from ..ops import shape as _S
from ..ops import special as _P

__all__ = [
    "gamma", "gammaln", "loggamma", "digamma", "psi", "polygamma", "multigammaln", "rgamma",
    "beta", "betaln", "betainc", "gammainc", "gammaincc",
    "erf", "erfc", "erfinv", "erfcinv", "erfcx", "ndtr", "ndtri", "log_ndtr",
    "expit", "logit", "log_expit", "xlogy", "xlog1py", "entr", "rel_entr", "kl_div",
    "logsumexp", "softmax", "log_softmax",
    "j0", "j1", "jn", "jv", "y0", "y1", "yn", "i0", "i0e", "i1", "i1e", "iv", "ive", "kv", "kve",
    "zeta", "sinc",
]


# ---------------------------------------------------------------------------------------------
# gamma and beta functions


def gamma(z: Any) -> Any:
    """The gamma function (complex z too); d gamma = gamma * digamma."""
    return _P.gamma(operand(z))


def gammaln(x: Any) -> Any:
    """log |gamma(x)| for real x; d gammaln = digamma."""
    return _P.gammaln(operand(x))


def loggamma(z: Any) -> Any:
    """The principal branch of log gamma (complex z too; nan for real z < 0)."""
    return _P.loggamma(operand(z))


def digamma(z: Any) -> Any:
    """psi(z) = d/dz log gamma(z); its derivative is polygamma(1, z)."""
    return _P.digamma(operand(z))


psi = digamma


def polygamma(n: Any, x: Any) -> Any:
    """The n-th derivative of digamma (n an integer, not differentiated); d/dx is
    polygamma(n + 1, x)."""
    return _P.polygamma(operand(n), operand(x))


def multigammaln(a: Any, d: int) -> Any:
    """The log of the multivariate gamma function of dimension `d` (a positive integer):
    d (d - 1) / 4 log(pi) + sum_j gammaln(a - j / 2), j = 0 .. d - 1. Needs a > (d - 1) / 2."""
    a = operand(a)
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise ValueError(f"multigammaln: d should be a positive integer (the dimension), got "
                         f"{d!r}")
    d = int(d)
    value = innermost_value(a)  # (None under a graph being built: checked when it runs)
    if value is not None and np.any(np.asarray(value) <= 0.5 * (d - 1)):
        raise ValueError(f"multigammaln: the condition a > (d - 1) / 2 = {0.5 * (d - 1)} is not "
                         f"met (a = {value})")
    terms = [_P.gammaln(_E.sub(a, 0.5 * j)) for j in range(d)]
    return _E.add(sum(terms[1:], terms[0]), d * (d - 1) * 0.25 * math.log(math.pi))


def rgamma(z: Any) -> Any:
    """1 / gamma(z), zero at the poles of gamma."""
    return _P.rgamma(operand(z))


def beta(a: Any, b: Any) -> Any:
    """The beta function gamma(a) gamma(b) / gamma(a + b)."""
    return _P.beta(operand(a), operand(b))


def betaln(a: Any, b: Any) -> Any:
    """log |beta(a, b)|."""
    return _P.betaln(operand(a), operand(b))


def betainc(a: Any, b: Any, x: Any) -> Any:
    """The regularized incomplete beta function I_x(a, b); differentiable in x only (in a or b:
    NotImplementedError)."""
    return _P.betainc(operand(a), operand(b), operand(x))


def gammainc(a: Any, x: Any) -> Any:
    """The regularized lower incomplete gamma function P(a, x); differentiable in x only."""
    return _P.gammainc(operand(a), operand(x))


def gammaincc(a: Any, x: Any) -> Any:
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x); differentiable in
    x only."""
    return _P.gammaincc(operand(a), operand(x))


# ---------------------------------------------------------------------------------------------
# the error function and the normal distribution


def erf(z: Any) -> Any:
    """The error function (complex z too); d erf = 2 / sqrt(pi) exp(-z**2)."""
    return _P.erf(operand(z))


def erfc(x: Any) -> Any:
    """1 - erf(x), without cancellation for large x."""
    return _P.erfc(operand(x))


def erfinv(y: Any) -> Any:
    """The inverse of erf on (-1, 1); d erfinv = sqrt(pi) / 2 exp(erfinv(y)**2)."""
    return _P.erfinv(operand(y))


def erfcinv(y: Any) -> Any:
    """The inverse of erfc on (0, 2)."""
    return _P.erfcinv(operand(y))


def erfcx(x: Any) -> Any:
    """The scaled complementary error function exp(x**2) erfc(x)."""
    return _P.erfcx(operand(x))


def ndtr(x: Any) -> Any:
    """The standard normal CDF."""
    return _P.ndtr(operand(x))


def ndtri(y: Any) -> Any:
    """The inverse of ndtr (the standard normal quantile function)."""
    return _P.ndtri(operand(y))


def log_ndtr(x: Any) -> Any:
    """log of the standard normal CDF, accurate in both tails, and so is its derivative."""
    return _P.log_ndtr(operand(x))


# ---------------------------------------------------------------------------------------------
# the logistic function and information theory


def expit(x: Any) -> Any:
    """The logistic sigmoid 1 / (1 + exp(-x)) (chainrule's `sigmoid`)."""
    return _N.sigmoid(operand(x))


def logit(x: Any) -> Any:
    """log(x / (1 - x)), the inverse of expit."""
    return _P.logit(operand(x))


def log_expit(x: Any) -> Any:
    """log(expit(x)), accurate for large |x|."""
    return _P.log_expit(operand(x))


def xlogy(x: Any, y: Any) -> Any:
    """x * log(y), 0 where x = 0; the derivative in y, x / y, is exactly 0 there too."""
    return _P.xlogy(operand(x), operand(y))


def xlog1py(x: Any, y: Any) -> Any:
    """x * log1p(y), 0 where x = 0 (and so is the derivative in y there)."""
    return _P.xlog1py(operand(x), operand(y))


def entr(x: Any) -> Any:
    """-x log(x) for x > 0, 0 at x = 0, -inf for x < 0."""
    return _P.entr(operand(x))


def rel_entr(x: Any, y: Any) -> Any:
    """x log(x / y) for x, y > 0, 0 at x = 0 (the derivative in y too), inf elsewhere."""
    return _P.rel_entr(operand(x), operand(y))


def kl_div(x: Any, y: Any) -> Any:
    """x log(x / y) - x + y for x, y > 0; y at x = 0; inf elsewhere."""
    return _P.kl_div(operand(x), operand(y))


def logsumexp(a: Any, axis: Any = None, b: Any = None, keepdims: bool = False,
              return_sign: bool = False) -> Any:
    """log(sum(b * exp(a))) over `axis`, without overflow; differentiable in `a` and `b`.
    With `return_sign=True`, returns (log |s|, sign(s)) for s = sum(b * exp(a)), which may be
    negative when b is; otherwise a negative s gives nan, as in SciPy."""
    a = operand(a)
    if b is None and not return_sign:
        return _N.logsumexp(a, axis, keepdims)
    ndim = np.ndim(a) if b is None else len(np.broadcast_shapes(np.shape(a), np.shape(b)))
    ax = _R.normalize_axis(axis, ndim)
    if b is None:
        weighted_a = a
    else:
        b = operand(b)
        shape = np.broadcast_shapes(np.shape(a), np.shape(b))
        a, b = _S.broadcast_to(a, shape), _S.broadcast_to(b, shape)
        # terms with weight 0 take no part in the maximum (as in SciPy)
        weighted_a = cnp.where(_E.equal(b, 0), -np.inf, a)
    # the maximum is taken out as a constant: the result does not depend on it
    m = _E.stop_gradient(_R.max(weighted_a, ax, keepdims=True))
    m = _E.select(_E.isfinite(m), m, _E.zeros_like(m))
    shift = _E.sub(a, m)
    if b is not None:
        # a term of weight 0 is 0, but its derivative in b is exp(a - m) / s: exp stays, clipped
        # where it would overflow (0 * inf would make the value nan; that derivative is beyond
        # float64 anyway)
        shift = cnp.where(_E.equal(b, 0), cnp.minimum(shift, 700.0), shift)
    e = _E.exp(shift)
    s = _R.sum(e if b is None else _E.mul(b, e), ax, keepdims=True)
    if return_sign:
        sgn = _E.sign(s)
        out = _E.add(_E.log(_E.abs(s)), m)
    else:
        out = _E.add(_E.log(s), m)
    if not keepdims:
        out = _S.squeeze(out, ax)
        if return_sign:
            sgn = _S.squeeze(sgn, ax)
    return (out, sgn) if return_sign else out


def softmax(x: Any, axis: Any = None) -> Any:
    """exp(x) / sum(exp(x)) over `axis` (by default, as in SciPy, over every element)."""
    return _N.softmax(operand(x), axis)


def log_softmax(x: Any, axis: Any = None) -> Any:
    """x - logsumexp(x) over `axis` (by default, as in SciPy, over every element)."""
    return _N.log_softmax(operand(x), axis)


# ---------------------------------------------------------------------------------------------
# Bessel functions (differentiable in x; in the order: NotImplementedError)


def j0(x: Any) -> Any:
    """The Bessel function of the first kind of order 0; j0' = -j1."""
    return _P.j0(operand(x))


def j1(x: Any) -> Any:
    """The Bessel function of the first kind of order 1; j1' = (j0 - jv(2, .)) / 2."""
    return _P.j1(operand(x))


def jv(v: Any, z: Any) -> Any:
    """The Bessel function of the first kind of real order v; d/dz = (jv(v-1) - jv(v+1)) / 2."""
    return _P.jv(operand(v), operand(z))


def jn(n: Any, x: Any) -> Any:
    """The Bessel function of the first kind of integer order n (SciPy's alias of jv)."""
    return _P.jv(operand(n), operand(x))


def y0(x: Any) -> Any:
    """The Bessel function of the second kind of order 0; y0' = -y1."""
    return _P.y0(operand(x))


def y1(x: Any) -> Any:
    """The Bessel function of the second kind of order 1."""
    return _P.y1(operand(x))


def yn(n: Any, x: Any) -> Any:
    """The Bessel function of the second kind of integer order n."""
    return _P.yn(operand(n), operand(x))


def i0(x: Any) -> Any:
    """The modified Bessel function of the first kind of order 0; i0' = i1."""
    return _P.i0(operand(x))


def i0e(x: Any) -> Any:
    """exp(-|x|) i0(x)."""
    return _P.i0e(operand(x))


def i1(x: Any) -> Any:
    """The modified Bessel function of the first kind of order 1."""
    return _P.i1(operand(x))


def i1e(x: Any) -> Any:
    """exp(-|x|) i1(x)."""
    return _P.i1e(operand(x))


def iv(v: Any, z: Any) -> Any:
    """The modified Bessel function of the first kind of real order v; d/dz = (iv(v-1) +
    iv(v+1)) / 2."""
    return _P.iv(operand(v), operand(z))


def ive(v: Any, z: Any) -> Any:
    """exp(-|Re z|) iv(v, z)."""
    return _P.ive(operand(v), operand(z))


def kv(v: Any, z: Any) -> Any:
    """The modified Bessel function of the second kind of real order v; d/dz = -(kv(v-1) +
    kv(v+1)) / 2."""
    return _P.kv(operand(v), operand(z))


def kve(v: Any, z: Any) -> Any:
    """exp(z) kv(v, z)."""
    return _P.kve(operand(v), operand(z))


# ---------------------------------------------------------------------------------------------
# zeta and sinc


def zeta(x: Any, q: Any = None) -> Any:
    """The Hurwitz zeta function sum_k (k + q)**-x; Riemann's when q is None. Differentiable in
    q (d/dq = -x zeta(x + 1, q)); in x: NotImplementedError."""
    return _P.zeta(operand(x), 1.0 if q is None else operand(q))


def sinc(x: Any) -> Any:
    """sin(pi x) / (pi x), 1 at 0: SciPy's sinc is NumPy's, so this is chainrule.numpy's."""
    return cnp.sinc(x)


# ---------------------------------------------------------------------------------------------
# plain SciPy calls on traced values: scipy.special's ufuncs dispatch here


def _zeta_ufunc(x: Any, q: Any) -> Any:
    return zeta(x, q)


def _riemann_zeta_ufunc(x: Any) -> Any:
    return zeta(x)


for _name in __all__:
    _ufunc = getattr(_sc, _name, None)
    if isinstance(_ufunc, np.ufunc):
        register_ufunc(_ufunc, globals()[_name])
# (scipy.special.zeta is a Python function calling these two ufuncs of SciPy's)
for _name, _fn in (("_zeta", _zeta_ufunc), ("_riemann_zeta", _riemann_zeta_ufunc)):
    _ufunc = getattr(getattr(_sc, "_ufuncs", None), _name, None)
    if isinstance(_ufunc, np.ufunc):
        register_ufunc(_ufunc, _fn)
del _name, _ufunc, _fn
