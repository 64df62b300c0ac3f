"""The special functions of `scipy.special` as primitives, with their rules.

Values are SciPy's own; every derivative is written with chainrule's primitives (most of them the
special functions of this module: d gammaln = digamma, d digamma = polygamma(1, .), the Bessel
recurrences), so that rules differentiate again. Nearly all are elementwise, built with the
`unary` / `binary` factories of `elementwise`, so broadcasting, batching, strong zeros and the
symbolic engine's elementwise support come with them.

Where SciPy has nothing to build a derivative from (the incomplete gamma and beta functions in
their shape parameters, Bessel functions in their order, zeta in its exponent) the rule raises
`NotImplementedError` naming the argument, when that derivative is asked for.

SciPy is an optional dependency: `ops/__init__.py` does not import this module;
`chainrule.scipy.special` does.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.special as sc

from .._core.primitive import Primitive, dtype_of
from .._core.rules import Zero, def_rule
from . import elementwise as E
from . import nn as N
from . import reduce as R
from ._batching import elementwise_batcher

_SQRT_PI = math.sqrt(math.pi)
_TWO_OVER_SQRT_PI = 2.0 / _SQRT_PI
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_SQRT_HALF = math.sqrt(0.5)


def _no_derivative(fn: str, arg: str, why: str) -> NotImplementedError:
    return NotImplementedError(
        f"{fn}: no derivative in the argument '{arg}' ({why}); hold '{arg}' constant (a plain "
        f"array, or cr.stop_gradient({arg})) to differentiate in the other arguments")


def _scipy(ufunc: np.ufunc) -> Any:
    """SciPy's ufunc behind a plain function, as a primitive's implementation. (The graph
    engine's code generator writes a ufunc implementation as `np.<its name>(..., out=...)`,
    which exists for NumPy's ufuncs only.)"""
    def impl(*args: Any) -> Any:
        return ufunc(*args)
    impl.__name__ = impl.__qualname__ = f"_{ufunc.__name__}_impl"
    return impl


def _scalar(out: Any) -> Any:
    """A 0-d array result as a NumPy scalar, as ufuncs return (SciPy's Python-level functions
    return 0-d arrays)."""
    return out[()] if isinstance(out, np.ndarray) and out.ndim == 0 else out


# ---------------------------------------------------------------------------------------------
# the gamma family


def _d_gamma(x: Any, ans: Any) -> Any:
    return E.mul(ans, digamma(x))


def _d_gammaln(x: Any, ans: Any) -> Any:
    return digamma(x)


def _d_digamma(x: Any, ans: Any) -> Any:
    if E._is_complex(x):
        raise NotImplementedError(
            "digamma(z): no derivative for complex z (it is polygamma(1, z), and SciPy's "
            "polygamma takes real arguments only); this is also the second derivative of gamma "
            "and loggamma")
    return polygamma(1, x)


def _d_rgamma(x: Any, ans: Any) -> Any:
    # -rgamma(x) digamma(x) is 0 * inf at the zeros of rgamma (x = 0, -1, -2, ...), and SciPy's
    # digamma loses digits near them. For x <= 0, the reflection formula
    # rgamma(x) = sin(pi x) gamma(1 - x) / pi differentiates into a form that is accurate there:
    # gamma(1 - x) (cos(pi x) - sin(pi x) digamma(1 - x) / pi). Each branch sees only its side.
    if E._is_complex(x):
        return E.neg(E.mul(ans, digamma(x)))
    negative = E.less_equal_p.bind(x, 0.0)
    x_neg = E.select(negative, x, E.ones_like(ans) * -0.5)
    x_pos = E.select(negative, E.ones_like(ans), x)
    pix = E.mul(x_neg, math.pi)
    one_minus = E.sub(1.0, x_neg)
    reflected = E.mul(gamma(one_minus), E.sub(E.cos(pix), E.mul(E.sin(pix), E.div(
        digamma(one_minus), math.pi))))
    return E.select(negative, reflected, E.neg(E.mul(ans, digamma(x_pos))))


def _polygamma_impl(n: Any, x: Any) -> Any:
    return _scalar(sc.polygamma(n, x))


def _polygamma_dn(n: Any, x: Any, ans: Any) -> Any:
    raise _no_derivative("polygamma(n, x)", "n", "the order n is an integer")


def _polygamma_dx(n: Any, x: Any, ans: Any) -> Any:
    return polygamma(E.add(n, 1), x)


def _beta_da(a: Any, b: Any, ans: Any) -> Any:
    return E.mul(ans, E.sub(digamma(a), digamma(E.add(a, b))))


def _beta_db(a: Any, b: Any, ans: Any) -> Any:
    return E.mul(ans, E.sub(digamma(b), digamma(E.add(a, b))))


def _betaln_da(a: Any, b: Any, ans: Any) -> Any:
    return E.sub(digamma(a), digamma(E.add(a, b)))


def _betaln_db(a: Any, b: Any, ans: Any) -> Any:
    return E.sub(digamma(b), digamma(E.add(a, b)))


def _gammainc_density(a: Any, x: Any) -> Any:
    # x**(a-1) exp(-x) / Gamma(a), in logs; xlogy keeps x = 0, a = 1 exact (the value 1)
    return E.exp(E.sub(E.sub(xlogy(E.sub(a, 1.0), x), x), gammaln(a)))


def _gammainc_da(a: Any, x: Any, ans: Any) -> Any:
    raise _no_derivative("gammainc(a, x)", "a", "SciPy offers nothing to build the derivative "
                         "in the shape parameter from")


def _gammaincc_da(a: Any, x: Any, ans: Any) -> Any:
    raise _no_derivative("gammaincc(a, x)", "a", "SciPy offers nothing to build the derivative "
                         "in the shape parameter from")


def _gammainc_dx(a: Any, x: Any, ans: Any) -> Any:
    return _gammainc_density(a, x)


def _gammaincc_dx(a: Any, x: Any, ans: Any) -> Any:
    return E.neg(_gammainc_density(a, x))


gamma_p = E.unary("gamma", _scipy(sc.gamma), _d_gamma)
gammaln_p = E.unary("gammaln", _scipy(sc.gammaln), _d_gammaln)
loggamma_p = E.unary("loggamma", _scipy(sc.loggamma), _d_gammaln)
digamma_p = E.unary("digamma", _scipy(sc.digamma), _d_digamma)
rgamma_p = E.unary("rgamma", _scipy(sc.rgamma), _d_rgamma)
polygamma_p = E.binary("polygamma", _polygamma_impl, _polygamma_dn, _polygamma_dx)
beta_p = E.binary("beta", _scipy(sc.beta), _beta_da, _beta_db)
betaln_p = E.binary("betaln", _scipy(sc.betaln), _betaln_da, _betaln_db)
gammainc_p = E.binary("gammainc", _scipy(sc.gammainc), _gammainc_da, _gammainc_dx)
gammaincc_p = E.binary("gammaincc", _scipy(sc.gammaincc), _gammaincc_da, _gammaincc_dx)


def gamma(x: Any) -> Any:
    return gamma_p.bind1(x)


def gammaln(x: Any) -> Any:
    return gammaln_p.bind1(x)


def loggamma(x: Any) -> Any:
    return loggamma_p.bind1(x)


def digamma(x: Any) -> Any:
    return digamma_p.bind1(x)


def rgamma(x: Any) -> Any:
    return rgamma_p.bind1(x)


def polygamma(n: Any, x: Any) -> Any:
    return polygamma_p.bind2(n, x)


def beta(a: Any, b: Any) -> Any:
    return beta_p.bind2(a, b)


def betaln(a: Any, b: Any) -> Any:
    return betaln_p.bind2(a, b)


def gammainc(a: Any, x: Any) -> Any:
    return gammainc_p.bind2(a, x)


def gammaincc(a: Any, x: Any) -> Any:
    return gammaincc_p.bind2(a, x)


# ---------------------------------------------------------------------------------------------
# betainc(a, b, x): three broadcasting operands, a derivative in x only


def _betainc_density(a: Any, b: Any, x: Any) -> Any:
    # x**(a-1) (1-x)**(b-1) / B(a, b), in logs; xlogy / xlog1py keep a = 1 or b = 1 exact at
    # the ends of [0, 1]
    log_num = E.add(xlogy(E.sub(a, 1.0), x), xlog1py(E.sub(b, 1.0), E.neg(x)))
    return E.exp(E.sub(log_num, betaln(a, b)))


def _betainc_shape(which: str) -> NotImplementedError:
    return _no_derivative("betainc(a, b, x)", which, "SciPy offers nothing to build the "
                          "derivative in the shape parameters from")


def _betainc_jvp(primals: list[Any], tangents: list[Any]) -> tuple[Any, Any]:
    (a, b, x), (a_dot, b_dot, x_dot) = primals, tangents
    if a_dot is not Zero:
        raise _betainc_shape("a")
    if b_dot is not Zero:
        raise _betainc_shape("b")
    ans = betainc(a, b, x)
    if x_dot is Zero:
        return ans, Zero
    return ans, E._fix_shape(E.mul(x_dot, _betainc_density(a, b, x)), ans)


def _betainc_vjp_a(ct: Any, ans: Any, a: Any, b: Any, x: Any) -> Any:
    raise _betainc_shape("a")


def _betainc_vjp_b(ct: Any, ans: Any, a: Any, b: Any, x: Any) -> Any:
    raise _betainc_shape("b")


def _betainc_vjp_x(ct: Any, ans: Any, a: Any, b: Any, x: Any) -> Any:
    return R.cotangent_like(E.strong_zero(ct, E.mul(ct, _betainc_density(a, b, x))), x)


betainc_p = Primitive("betainc", _scipy(sc.betainc), E._arity("betainc", 3))
def_rule(betainc_p, jvp=_betainc_jvp, vjp=(_betainc_vjp_a, _betainc_vjp_b, _betainc_vjp_x),
         batch=elementwise_batcher(betainc_p))


def betainc(a: Any, b: Any, x: Any) -> Any:
    return betainc_p.bind(a, b, x)


# ---------------------------------------------------------------------------------------------
# the error function and the normal distribution


def _d_erf(x: Any, ans: Any) -> Any:
    return E.mul(E.exp(E.neg(E.square(x))), _TWO_OVER_SQRT_PI)


def _d_erfc(x: Any, ans: Any) -> Any:
    return E.mul(E.exp(E.neg(E.square(x))), -_TWO_OVER_SQRT_PI)


def _d_erfinv(x: Any, ans: Any) -> Any:
    return E.mul(E.exp(E.square(ans)), _SQRT_PI / 2.0)


def _d_erfcinv(x: Any, ans: Any) -> Any:
    return E.mul(E.exp(E.square(ans)), -_SQRT_PI / 2.0)


#: beyond this, erfcx' by its asymptotic series (the direct formula cancels: both of its terms
#: tend to 2 / sqrt(pi), and its relative error grows as x**2 eps)
_ERFCX_ASYMPTOTIC = 22.0
# erfcx'(x) ~ x**-2 / sqrt(pi) * sum_k (-1)**(k+1) (2k+1)!! / 2**k x**(-2k), k = 0..5; the first
# term left out is 2e-13 relative at x = 22 (and falls as x**-12), about the direct formula's
# error there
_ERFCX_SERIES = (10395.0 / 32.0, -945.0 / 16.0, 105.0 / 8.0, -15.0 / 4.0, 3.0 / 2.0, -1.0)


def _d_erfcx(x: Any, ans: Any) -> Any:
    # erfcx = exp(x**2) erfc(x): 2 x erfcx(x) - 2 / sqrt(pi)
    direct = E.sub(E.mul(E.mul(x, ans), 2.0), _TWO_OVER_SQRT_PI)
    if E._is_complex(x):
        return direct
    far = E.greater(x, _ERFCX_ASYMPTOTIC)
    r = E.reciprocal(E.square(E.select(far, x, E.ones_like(ans) * _ERFCX_ASYMPTOTIC)))
    series: Any = _ERFCX_SERIES[0]
    for c in _ERFCX_SERIES[1:]:
        series = E.add(E.mul(series, r), c)
    return E.select(far, E.mul(series, E.div(r, _SQRT_PI)), direct)


def _d_ndtr(x: Any, ans: Any) -> Any:
    return E.div(E.exp(E.mul(E.square(x), -0.5)), _SQRT_2PI)


def _d_ndtri(x: Any, ans: Any) -> Any:
    return E.mul(E.exp(E.mul(E.square(ans), 0.5)), _SQRT_2PI)


def _d_log_ndtr(x: Any, ans: Any) -> Any:
    # phi(x) / Phi(x). Lower tail: Phi(x) = exp(-x**2/2) erfcx(-x/sqrt 2) / 2, so the ratio is
    # sqrt(2/pi) / erfcx(-x/sqrt 2), which neither underflows nor cancels; upper tail:
    # Phi >= 1/2 and phi / Phi is direct. Each branch sees only its own half of the line, so the
    # branch not taken stays finite (and so do its derivatives).
    if E._is_complex(x):
        return E.div(E.exp(E.sub(E.mul(E.square(x), -0.5), ans)), _SQRT_2PI)
    lower = E.less_p.bind(x, 0.0)
    zero = E.zeros_like(x)
    x_lo = E.select(lower, x, zero)
    x_hi = E.select(lower, zero, x)
    d_lo = E.div(_SQRT_2_OVER_PI, erfcx(E.mul(x_lo, -_SQRT_HALF)))
    d_hi = E.div(E.exp(E.mul(E.square(x_hi), -0.5)), E.mul(ndtr(x_hi), _SQRT_2PI))
    return E.select(lower, d_lo, d_hi)


erf_p = E.unary("erf", _scipy(sc.erf), _d_erf)
erfc_p = E.unary("erfc", _scipy(sc.erfc), _d_erfc)
erfinv_p = E.unary("erfinv", _scipy(sc.erfinv), _d_erfinv)
erfcinv_p = E.unary("erfcinv", _scipy(sc.erfcinv), _d_erfcinv)
erfcx_p = E.unary("erfcx", _scipy(sc.erfcx), _d_erfcx)
ndtr_p = E.unary("ndtr", _scipy(sc.ndtr), _d_ndtr)
ndtri_p = E.unary("ndtri", _scipy(sc.ndtri), _d_ndtri)
log_ndtr_p = E.unary("log_ndtr", _scipy(sc.log_ndtr), _d_log_ndtr)


def erf(x: Any) -> Any:
    return erf_p.bind1(x)


def erfc(x: Any) -> Any:
    return erfc_p.bind1(x)


def erfinv(x: Any) -> Any:
    return erfinv_p.bind1(x)


def erfcinv(x: Any) -> Any:
    return erfcinv_p.bind1(x)


def erfcx(x: Any) -> Any:
    return erfcx_p.bind1(x)


def ndtr(x: Any) -> Any:
    return ndtr_p.bind1(x)


def ndtri(x: Any) -> Any:
    return ndtri_p.bind1(x)


def log_ndtr(x: Any) -> Any:
    return log_ndtr_p.bind1(x)


# ---------------------------------------------------------------------------------------------
# the logistic function (expit is ops.nn's sigmoid) and information theory


def _over_logit(x: Any, ans: Any) -> Any:
    return E.mul(x, E.sub(1.0, x))


def _d_log_expit(x: Any, ans: Any) -> Any:
    return N.sigmoid(E.neg(x))


def _d_entr(x: Any, ans: Any) -> Any:
    return E.neg(E.add(E.log(x), 1.0))


def _safe(x: Any, y: Any, pole: float, ans: Any) -> Any:
    """`y`, with `pole` replaced by 0 where x == 0 too: x / (y - pole) is then exactly 0 wherever
    x == 0 (the x = 0 convention of xlogy and its relatives: their derivative in y is 0 there),
    and still differentiable in x (its derivative in x, 1 / (y - pole), is the mixed second
    derivative)."""
    both = E.logical_and_p.bind2(E.equal(x, 0), E.equal(y, pole))
    return E.select(both, E.ones_like(ans) + pole, y)  # (a constant array)


def _xlogy_dx(x: Any, y: Any, ans: Any) -> Any:
    return E.log(y)


def _xlogy_dy(x: Any, y: Any, ans: Any) -> Any:
    return E.div(x, _safe(x, y, 0.0, ans))


def _xlog1py_dx(x: Any, y: Any, ans: Any) -> Any:
    return E.log1p(y)


def _xlog1py_dy(x: Any, y: Any, ans: Any) -> Any:
    return E.div(x, E.add(_safe(x, y, -1.0, ans), 1.0))


def _rel_entr_dx(x: Any, y: Any, ans: Any) -> Any:
    return E.add(E.sub(E.log(x), E.log(y)), 1.0)


def _rel_entr_dy(x: Any, y: Any, ans: Any) -> Any:
    return E.neg(E.div(x, _safe(x, y, 0.0, ans)))


def _kl_div_dx(x: Any, y: Any, ans: Any) -> Any:
    return E.sub(E.log(x), E.log(y))


def _kl_div_dy(x: Any, y: Any, ans: Any) -> Any:
    return E.sub(1.0, E.div(x, _safe(x, y, 0.0, ans)))


logit_p = E.unary("logit", _scipy(sc.logit), over=_over_logit)
log_expit_p = E.unary("log_expit", _scipy(sc.log_expit), _d_log_expit)
entr_p = E.unary("entr", _scipy(sc.entr), _d_entr)
xlogy_p = E.binary("xlogy", _scipy(sc.xlogy), _xlogy_dx, _xlogy_dy)
xlog1py_p = E.binary("xlog1py", _scipy(sc.xlog1py), _xlog1py_dx, _xlog1py_dy)
rel_entr_p = E.binary("rel_entr", _scipy(sc.rel_entr), _rel_entr_dx, _rel_entr_dy)
kl_div_p = E.binary("kl_div", _scipy(sc.kl_div), _kl_div_dx, _kl_div_dy)


def logit(x: Any) -> Any:
    return logit_p.bind1(x)


def log_expit(x: Any) -> Any:
    return log_expit_p.bind1(x)


def entr(x: Any) -> Any:
    return entr_p.bind1(x)


def xlogy(x: Any, y: Any) -> Any:
    return xlogy_p.bind2(x, y)


def xlog1py(x: Any, y: Any) -> Any:
    return xlog1py_p.bind2(x, y)


def rel_entr(x: Any, y: Any) -> Any:
    return rel_entr_p.bind2(x, y)


def kl_div(x: Any, y: Any) -> Any:
    return kl_div_p.bind2(x, y)


# ---------------------------------------------------------------------------------------------
# Bessel functions: the recurrences J0' = -J1, J_v' = (J_{v-1} - J_{v+1}) / 2, ...; the scaled
# ones (i0e = exp(-|x|) i0, kve = exp(x) kv) add the derivative of their factor. The order is a
# parameter of the family, not a variable: no derivative in it.


def _order(fn: str, arg: str) -> Any:
    def d_order(v: Any, x: Any, ans: Any) -> Any:
        raise _no_derivative(f"{fn}({arg}, x)", arg, f"SciPy offers no derivative of Bessel "
                             f"functions in their order {arg}")
    d_order.__name__ = d_order.__qualname__ = f"_{fn}_d{arg}"
    return d_order


def _d_j0(x: Any, ans: Any) -> Any:
    return E.neg(j1(x))


def _d_j1(x: Any, ans: Any) -> Any:
    return E.mul(E.sub(j0(x), jv(2.0, x)), 0.5)  # (not j0 - j1/x: finite at x = 0)


def _d_y0(x: Any, ans: Any) -> Any:
    return E.neg(y1(x))


def _d_y1(x: Any, ans: Any) -> Any:
    return E.mul(E.sub(y0(x), yn(2, x)), 0.5)


def _d_i0(x: Any, ans: Any) -> Any:
    return i1(x)


def _d_i1(x: Any, ans: Any) -> Any:
    return E.mul(E.add(i0(x), iv(2.0, x)), 0.5)


def _real_only(fn: str, x: Any) -> None:
    if E._is_complex(x):
        raise NotImplementedError(
            f"{fn}: no derivative for complex x (its factor exp(-|Re x|) is not holomorphic); "
            f"write the unscaled function times exp(-abs(x.real)) instead")


def _d_i0e(x: Any, ans: Any) -> Any:
    return E.sub(i1e(x), E.mul(E.sign(x), ans))


def _d_i1e(x: Any, ans: Any) -> Any:
    return E.sub(E.mul(E.add(i0e(x), ive(2.0, x)), 0.5), E.mul(E.sign(x), ans))


def _jv_dx(v: Any, x: Any, ans: Any) -> Any:
    return E.mul(E.sub(jv(E.sub(v, 1), x), jv(E.add(v, 1), x)), 0.5)


def _yn_dx(n: Any, x: Any, ans: Any) -> Any:
    return E.mul(E.sub(yn(E.sub(n, 1), x), yn(E.add(n, 1), x)), 0.5)


def _iv_dx(v: Any, x: Any, ans: Any) -> Any:
    return E.mul(E.add(iv(E.sub(v, 1), x), iv(E.add(v, 1), x)), 0.5)


def _ive_dx(v: Any, x: Any, ans: Any) -> Any:
    _real_only("ive(v, x)", x)
    half_sum = E.mul(E.add(ive(E.sub(v, 1), x), ive(E.add(v, 1), x)), 0.5)
    return E.sub(half_sum, E.mul(E.sign(x), ans))


def _kv_dx(v: Any, x: Any, ans: Any) -> Any:
    return E.mul(E.add(kv(E.sub(v, 1), x), kv(E.add(v, 1), x)), -0.5)


def _kve_dx(v: Any, x: Any, ans: Any) -> Any:
    # kve = exp(x) kv is holomorphic: the same rule for complex x
    return E.add(E.mul(E.add(kve(E.sub(v, 1), x), kve(E.add(v, 1), x)), -0.5), ans)


j0_p = E.unary("j0", _scipy(sc.j0), _d_j0)
j1_p = E.unary("j1", _scipy(sc.j1), _d_j1)
y0_p = E.unary("y0", _scipy(sc.y0), _d_y0)
y1_p = E.unary("y1", _scipy(sc.y1), _d_y1)
i0_p = E.unary("i0", _scipy(sc.i0), _d_i0)
i0e_p = E.unary("i0e", _scipy(sc.i0e), _d_i0e)
i1_p = E.unary("i1", _scipy(sc.i1), _d_i1)
i1e_p = E.unary("i1e", _scipy(sc.i1e), _d_i1e)
jv_p = E.binary("jv", _scipy(sc.jv), _order("jv", "v"), _jv_dx)
yn_p = E.binary("yn", _scipy(sc.yn), _order("yn", "n"), _yn_dx)
iv_p = E.binary("iv", _scipy(sc.iv), _order("iv", "v"), _iv_dx)
ive_p = E.binary("ive", _scipy(sc.ive), _order("ive", "v"), _ive_dx)
kv_p = E.binary("kv", _scipy(sc.kv), _order("kv", "v"), _kv_dx)
kve_p = E.binary("kve", _scipy(sc.kve), _order("kve", "v"), _kve_dx)


def j0(x: Any) -> Any:
    return j0_p.bind1(x)


def j1(x: Any) -> Any:
    return j1_p.bind1(x)


def y0(x: Any) -> Any:
    return y0_p.bind1(x)


def y1(x: Any) -> Any:
    return y1_p.bind1(x)


def i0(x: Any) -> Any:
    return i0_p.bind1(x)


def i0e(x: Any) -> Any:
    return i0e_p.bind1(x)


def i1(x: Any) -> Any:
    return i1_p.bind1(x)


def i1e(x: Any) -> Any:
    return i1e_p.bind1(x)


def jv(v: Any, x: Any) -> Any:
    return jv_p.bind2(v, x)


def yn(n: Any, x: Any) -> Any:
    return yn_p.bind2(n, x)


def iv(v: Any, x: Any) -> Any:
    return iv_p.bind2(v, x)


def ive(v: Any, x: Any) -> Any:
    return ive_p.bind2(v, x)


def kv(v: Any, x: Any) -> Any:
    return kv_p.bind2(v, x)


def kve(v: Any, x: Any) -> Any:
    return kve_p.bind2(v, x)


# ---------------------------------------------------------------------------------------------
# the Hurwitz zeta function zeta(x, q); Riemann's is zeta(x, 1)


def _zeta_impl(x: Any, q: Any) -> Any:
    out = sc.zeta(x, q)
    # at q = 1 this is Riemann's zeta, which SciPy computes apart (its Hurwitz zeta leaves x < 1
    # undefined, and differs in the last bit elsewhere): Riemann's there, as scipy's zeta(x)
    riemann = np.equal(q, 1)
    if np.any(riemann):
        out = np.where(riemann, np.asarray(sc.zeta(x), np.result_type(out)), out)[()]
    return out


def _zeta_dx(x: Any, q: Any, ans: Any) -> Any:
    raise _no_derivative("zeta(x, q)", "x", "SciPy offers no derivative of zeta in its "
                         "exponent")


def _zeta_dq(x: Any, q: Any, ans: Any) -> Any:
    return E.neg(E.mul(x, zeta(E.add(x, 1.0), q)))


zeta_p = E.binary("zeta", _zeta_impl, _zeta_dx, _zeta_dq)


def zeta(x: Any, q: Any = 1.0) -> Any:
    return zeta_p.bind2(x, q)


# ---------------------------------------------------------------------------------------------
# result dtypes: SciPy's ufunc picks its loop by its own list of type signatures (integer and
# boolean operands give float64 or float32, float16 float32 or float64, depending on the
# function), so the abstract evaluation asks the ufunc itself (`resolve_dtypes`, Python numbers
# weak as in a call). polygamma computes in float64 whatever it gets. The elementwise shape rule
# is kept (it is how the symbolic engine and the elemental library recognise an elementwise
# primitive); only the dtype it reports is SciPy's.

_WEAK = (float, int, complex)


def _ufunc_dtype(ufunc: np.ufunc, args: tuple[Any, ...], fallback: Any) -> np.dtype:
    dtypes = tuple(type(a) if type(a) in _WEAK else dtype_of(a) for a in args)
    try:
        return ufunc.resolve_dtypes(dtypes + (None,))[-1]
    except TypeError:  # no loop for these types: the implementation will say so when it runs
        return fallback


def _scipy_results(p: Primitive, ufunc: np.ufunc | None) -> None:
    checked = p.abstract_eval

    def abstract(*args: Any, **params: Any) -> tuple[tuple[int, ...], np.dtype]:
        shape, dtype = checked(*args, **params)
        if ufunc is None:  # (polygamma)
            return shape, np.promote_types(dtype, np.float64)
        return shape, _ufunc_dtype(ufunc, args, dtype)

    abstract.__name__ = abstract.__qualname__ = checked.__name__
    abstract.shape_rule = checked.shape_rule  # type: ignore[attr-defined]
    abstract.arity = checked.arity  # type: ignore[attr-defined]
    p.abstract_eval = abstract


for _p, _u in ((gamma_p, sc.gamma), (gammaln_p, sc.gammaln), (loggamma_p, sc.loggamma),
               (digamma_p, sc.digamma), (rgamma_p, sc.rgamma), (polygamma_p, None),
               (beta_p, sc.beta), (betaln_p, sc.betaln), (gammainc_p, sc.gammainc),
               (gammaincc_p, sc.gammaincc), (betainc_p, sc.betainc), (erf_p, sc.erf),
               (erfc_p, sc.erfc), (erfinv_p, sc.erfinv), (erfcinv_p, sc.erfcinv),
               (erfcx_p, sc.erfcx), (ndtr_p, sc.ndtr), (ndtri_p, sc.ndtri),
               (log_ndtr_p, sc.log_ndtr), (logit_p, sc.logit), (log_expit_p, sc.log_expit),
               (entr_p, sc.entr), (xlogy_p, sc.xlogy), (xlog1py_p, sc.xlog1py),
               (rel_entr_p, sc.rel_entr), (kl_div_p, sc.kl_div), (j0_p, sc.j0), (j1_p, sc.j1),
               (y0_p, sc.y0), (y1_p, sc.y1), (i0_p, sc.i0), (i0e_p, sc.i0e), (i1_p, sc.i1),
               (i1e_p, sc.i1e), (jv_p, sc.jv), (yn_p, sc.yn), (iv_p, sc.iv), (ive_p, sc.ive),
               (kv_p, sc.kv), (kve_p, sc.kve), (zeta_p, sc._ufuncs._zeta)):
    _scipy_results(_p, _u)
del _p, _u
