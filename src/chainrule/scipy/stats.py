"""`chainrule.scipy.stats`: probability distributions with SciPy's method names, differentiable in
every argument: `norm.logpdf(x, loc=0, scale=1)`, `t.cdf(x, df, loc, scale)`,
`poisson.logpmf(k, mu)`, `multivariate_normal.logpdf(x, mean, cov)`, ...

Each density is written with chainrule.numpy and chainrule.scipy.special, so its derivatives
(and their derivatives) come from the rule table. Values agree with SciPy's; outside a
distribution's support a log-density is -inf with a zero gradient, as SciPy's value is.
Calling a distribution freezes its parameters, as in SciPy: `norm(loc, scale).logpdf(x)`.

Where SciPy has no closed form the derivative needs:
- `ppf` of `t`, `gamma`, `beta`, `chi2` takes its value from SciPy and is differentiated in `q`
  (dx/dq = 1/pdf(x)); a traced shape parameter there is refused (NotImplementedError);
- the cdf of `gamma`, `beta`, `chi2`, `t` is differentiable in `x`, `loc`, `scale`; in the shape
  parameters the incomplete gamma and beta functions have no derivative in SciPy, and
  `chainrule.scipy.special` refuses it by name.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.stats as _sps

from .. import numpy as cnp
from .._core import tree as _tree
from .._core.primitive import Tracer
from ..custom import custom_jvp
from . import special as sp

_LOG_2PI = math.log(2.0 * math.pi)


def _where_in(ok: Any, value: Any, outside: float) -> Any:
    """`value` where `ok`, else the constant `outside` (no derivative leaks from the other
    side: cnp.where gives the branch not taken an exact zero)."""
    return cnp.where(ok, value, outside)


def _static(name: str, what: str, *values: Any) -> None:
    for v in values:
        if isinstance(v, Tracer):
            raise NotImplementedError(
                f"{name}: the derivative in {what} is not available (SciPy offers no closed "
                f"form for it); pass {what} as a constant (cr.stop_gradient) or differentiate "
                f"another argument")


def _inverse(name: str, scipy_ppf: Callable[..., Any], pdf: Callable[..., Any],
             shapes: tuple[Any, ...]) -> Callable[[Any], Any]:
    """The standardised ppf in q, valued by SciPy, with dx/dq = 1/pdf(x); the shape parameters
    are constants of it (`_static` refuses traced ones)."""
    _static(f"{name}.ppf", "the shape parameters", *shapes)

    @custom_jvp
    def ppf(q: Any) -> Any:
        return scipy_ppf(np.asarray(q), *shapes)

    def ppf_jvp(primals: Any, tangents: Any) -> Any:
        (q,), (q_dot,) = primals, tangents
        x = ppf(q)
        return x, q_dot / pdf(x, *shapes)

    ppf.defjvp(ppf_jvp)
    return ppf  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------
# continuous distributions with loc and scale: each defines its standardised log-density and
# what it has of cdf, sf, their logs and the ppf

class _Continuous:
    """A continuous distribution: `method(x, *shapes, loc=0, scale=1)` for the SciPy method
    names; `self(*shapes, loc=, scale=)` freezes the parameters."""

    name = ""
    shapes: tuple[str, ...] = ()

    # standardised forms, z = (x - loc) / scale; shape parameters follow
    def _logpdf(self, z: Any, *s: Any) -> Any:
        raise NotImplementedError

    def _cdf(self, z: Any, *s: Any) -> Any:
        raise NotImplementedError(f"{self.name}.cdf is not available")

    def _sf(self, z: Any, *s: Any) -> Any:
        return 1.0 - self._cdf(z, *s)

    def _logcdf(self, z: Any, *s: Any) -> Any:
        return cnp.log(self._cdf(z, *s))

    def _logsf(self, z: Any, *s: Any) -> Any:
        return cnp.log(self._sf(z, *s))

    def _ppf(self, q: Any, *s: Any) -> Any:
        raise NotImplementedError(f"{self.name}.ppf is not available")

    def _split(self, args: tuple[Any, ...], loc: Any, scale: Any, method: str
               ) -> tuple[tuple[Any, ...], Any, Any]:
        n = len(self.shapes)
        if len(args) > n + 2:
            raise TypeError(f"{self.name}.{method} takes {n} shape parameter(s) "
                            f"{self.shapes} then loc and scale; got {len(args)} arguments")
        if len(args) < n:
            raise TypeError(f"{self.name}.{method} is missing shape parameter(s) "
                            f"{self.shapes[len(args):]}")
        rest = args[n:]
        if rest:
            loc = rest[0]
        if len(rest) > 1:
            scale = rest[1]
        return args[:n], loc, scale

    def logpdf(self, x: Any, *args: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """The log of the probability density at `x`.

        As SciPy's method of the same name: the shape parameters (if any) follow `x`, then
        `loc` and `scale`.

        Parameters
        ----------
        x : array_like
            The point(s).
        *args : Any
            The distribution's shape parameters, in SciPy's order.
        loc : array_like, optional
            The location.
        scale : array_like, optional
            The scale.

        Returns
        -------
        array
            The value, broadcast over the arguments.
        """
        s, loc, scale = self._split(args, loc, scale, "logpdf")
        z = (cnp.asarray(x) - loc) / scale
        return self._logpdf(z, *s) - cnp.log(scale)

    def pdf(self, x: Any, *args: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """The probability density at `x`.

        As SciPy's method of the same name: the shape parameters (if any) follow `x`, then
        `loc` and `scale`.

        Parameters
        ----------
        x : array_like
            The point(s).
        *args : Any
            The distribution's shape parameters, in SciPy's order.
        loc : array_like, optional
            The location.
        scale : array_like, optional
            The scale.

        Returns
        -------
        array
            The value, broadcast over the arguments.
        """
        return cnp.exp(self.logpdf(x, *args, loc=loc, scale=scale))

    def cdf(self, x: Any, *args: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """The cumulative distribution function at `x`.

        As SciPy's method of the same name: the shape parameters (if any) follow `x`, then
        `loc` and `scale`.

        Parameters
        ----------
        x : array_like
            The point(s).
        *args : Any
            The distribution's shape parameters, in SciPy's order.
        loc : array_like, optional
            The location.
        scale : array_like, optional
            The scale.

        Returns
        -------
        array
            The value, broadcast over the arguments.
        """
        s, loc, scale = self._split(args, loc, scale, "cdf")
        return self._cdf((cnp.asarray(x) - loc) / scale, *s)

    def logcdf(self, x: Any, *args: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """The log of the cumulative distribution function at `x`.

        As SciPy's method of the same name: the shape parameters (if any) follow `x`, then
        `loc` and `scale`.

        Parameters
        ----------
        x : array_like
            The point(s).
        *args : Any
            The distribution's shape parameters, in SciPy's order.
        loc : array_like, optional
            The location.
        scale : array_like, optional
            The scale.

        Returns
        -------
        array
            The value, broadcast over the arguments.
        """
        s, loc, scale = self._split(args, loc, scale, "logcdf")
        return self._logcdf((cnp.asarray(x) - loc) / scale, *s)

    def sf(self, x: Any, *args: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """The survival function, 1 - cdf, at `x`.

        As SciPy's method of the same name: the shape parameters (if any) follow `x`, then
        `loc` and `scale`.

        Parameters
        ----------
        x : array_like
            The point(s).
        *args : Any
            The distribution's shape parameters, in SciPy's order.
        loc : array_like, optional
            The location.
        scale : array_like, optional
            The scale.

        Returns
        -------
        array
            The value, broadcast over the arguments.
        """
        s, loc, scale = self._split(args, loc, scale, "sf")
        return self._sf((cnp.asarray(x) - loc) / scale, *s)

    def logsf(self, x: Any, *args: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """The log of the survival function at `x`.

        As SciPy's method of the same name: the shape parameters (if any) follow `x`, then
        `loc` and `scale`.

        Parameters
        ----------
        x : array_like
            The point(s).
        *args : Any
            The distribution's shape parameters, in SciPy's order.
        loc : array_like, optional
            The location.
        scale : array_like, optional
            The scale.

        Returns
        -------
        array
            The value, broadcast over the arguments.
        """
        s, loc, scale = self._split(args, loc, scale, "logsf")
        return self._logsf((cnp.asarray(x) - loc) / scale, *s)

    def ppf(self, q: Any, *args: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """The percent-point function (inverse cdf) at `q`.

        As SciPy's method of the same name: the shape parameters (if any) follow `q`, then
        `loc` and `scale`.

        Parameters
        ----------
        q : array_like
            The point(s).
        *args : Any
            The distribution's shape parameters, in SciPy's order.
        loc : array_like, optional
            The location.
        scale : array_like, optional
            The scale.

        Returns
        -------
        array
            The value, broadcast over the arguments.
        """
        s, loc, scale = self._split(args, loc, scale, "ppf")
        return loc + scale * self._ppf(cnp.asarray(q), *s)

    def _isf(self, q: Any, *s: Any) -> Any:
        return self._ppf(1.0 - q, *s)

    def isf(self, q: Any, *args: Any, loc: Any = 0.0, scale: Any = 1.0) -> Any:
        """The inverse survival function, x with sf(x) = q (kept accurate in the upper tail
        where the distribution's own form allows)."""
        s, loc, scale = self._split(args, loc, scale, "isf")
        return loc + scale * self._isf(cnp.asarray(q), *s)

    def __call__(self, *args: Any, loc: Any = 0.0, scale: Any = 1.0) -> _Frozen:
        s, loc, scale = self._split(args, loc, scale, "freeze")
        return _Frozen(self, (*s, loc, scale))

    def __repr__(self) -> str:
        return f"<chainrule.scipy.stats.{self.name}>"


class _Frozen:
    """A distribution with its parameters fixed: `norm(0.0, 2.0).logpdf(x)`."""

    def __init__(self, dist: Any, params: tuple[Any, ...]) -> None:
        self.dist = dist
        self.params = params

    def __getattr__(self, method: str) -> Callable[..., Any]:
        f = getattr(self.dist, method)
        if not callable(f) or method.startswith("_"):
            raise AttributeError(method)

        def frozen(x: Any) -> Any:
            return f(x, *self.params)

        frozen.__name__ = method
        return frozen


def _flatten_frozen(f: _Frozen) -> tuple[list[Any], Any]:
    return list(f.params), f.dist


def _unflatten_frozen(dist: Any, params: list[Any]) -> _Frozen:
    return _Frozen(dist, tuple(params))


# (a pytree, so that every engine follows the parameters it keeps: the source method looks into
# registered classes only)
_tree.register(_Frozen, _flatten_frozen, _unflatten_frozen)


class norm_gen(_Continuous):  # noqa: N801 - SciPy's names
    """SciPy's `scipy.stats.norm`, differentiable in every argument.

    Methods with SciPy's names and signatures,
    `method(x, loc=0, scale=1)`: `logpdf`, `pdf`, `cdf`, `logcdf`,
    `sf`, `logsf`, `ppf`, `isf`. Values agree with SciPy's; each density is written with
    chainrule.numpy and chainrule.scipy.special, so its derivatives come from the rule table.
    Calling the distribution freezes its parameters: `norm(loc, scale).logpdf(x)`.
    Use the instance `chainrule.scipy.stats.norm`.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.stats
    >>> import chainrule as cr
    >>> from chainrule.scipy import stats
    >>> bool(np.isclose(stats.norm.logpdf(0.0), scipy.stats.norm.logpdf(0.0)))
    True
    >>> g = cr.grad(stats.norm.logpdf)(0.0)
    >>> bool(np.isfinite(g))
    True
    """
    name = "norm"

    def _logpdf(self, z: Any) -> Any:
        return -0.5 * z * z - 0.5 * _LOG_2PI

    def _cdf(self, z: Any) -> Any:
        return sp.ndtr(z)

    def _sf(self, z: Any) -> Any:
        return sp.ndtr(-z)

    def _logcdf(self, z: Any) -> Any:
        return sp.log_ndtr(z)

    def _logsf(self, z: Any) -> Any:
        return sp.log_ndtr(-z)

    def _ppf(self, q: Any) -> Any:
        return sp.ndtri(q)

    def _isf(self, q: Any) -> Any:
        return -sp.ndtri(q)


class t_gen(_Continuous):  # noqa: N801
    """SciPy's `scipy.stats.t`, differentiable in every argument.

    Methods with SciPy's names and signatures,
    `method(x, df, loc=0, scale=1)`: `logpdf`, `pdf`, `cdf`, `logcdf`,
    `sf`, `logsf`, `ppf`, `isf`. Values agree with SciPy's; each density is written with
    chainrule.numpy and chainrule.scipy.special, so its derivatives come from the rule table.
    Calling the distribution freezes its parameters: `t(df, loc, scale).logpdf(x)`.
    Use the instance `chainrule.scipy.stats.t`.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.stats
    >>> import chainrule as cr
    >>> from chainrule.scipy import stats
    >>> bool(np.isclose(stats.t.logpdf(0.0, 4.0), scipy.stats.t.logpdf(0.0, 4.0)))
    True
    >>> g = cr.grad(stats.t.logpdf)(0.0, 4.0)
    >>> bool(np.isfinite(g))
    True
    """
    name = "t"
    shapes = ("df",)

    def _logpdf(self, z: Any, df: Any) -> Any:
        return (sp.gammaln((df + 1.0) / 2.0) - sp.gammaln(df / 2.0)
                - 0.5 * cnp.log(df * math.pi) - (df + 1.0) / 2.0 * cnp.log1p(z * z / df))

    def _cdf(self, z: Any, df: Any) -> Any:
        # (differentiated in z by the density itself: through betainc the derivative would be
        # 0 · inf at z = 0; in df, betainc has no derivative, and a traced df is refused)
        _static("t.cdf", "df", df)

        @custom_jvp
        def cdf(v: Any) -> Any:
            tail = 0.5 * sp.betainc(df / 2.0, 0.5, df / (df + v * v))
            return cnp.where(v > 0, 1.0 - tail, tail)

        def cdf_jvp(primals: Any, tangents: Any) -> Any:
            (v,), (v_dot,) = primals, tangents
            return cdf(v), v_dot * cnp.exp(self._logpdf(v, df))

        cdf.defjvp(cdf_jvp)
        return cdf(z)

    def _sf(self, z: Any, df: Any) -> Any:
        return self._cdf(-z, df)

    def _ppf(self, q: Any, df: Any) -> Any:
        return _inverse("t", _sps.t.ppf, lambda x, d: cnp.exp(self._logpdf(x, d)), (df,))(q)

    def _isf(self, q: Any, df: Any) -> Any:
        return -self._ppf(q, df)


class cauchy_gen(_Continuous):  # noqa: N801
    """SciPy's `scipy.stats.cauchy`, differentiable in every argument.

    Methods with SciPy's names and signatures,
    `method(x, loc=0, scale=1)`: `logpdf`, `pdf`, `cdf`, `logcdf`,
    `sf`, `logsf`, `ppf`, `isf`. Values agree with SciPy's; each density is written with
    chainrule.numpy and chainrule.scipy.special, so its derivatives come from the rule table.
    Calling the distribution freezes its parameters: `cauchy(loc, scale).logpdf(x)`.
    Use the instance `chainrule.scipy.stats.cauchy`.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.stats
    >>> import chainrule as cr
    >>> from chainrule.scipy import stats
    >>> bool(np.isclose(stats.cauchy.logpdf(0.0), scipy.stats.cauchy.logpdf(0.0)))
    True
    >>> g = cr.grad(stats.cauchy.logpdf)(0.0)
    >>> bool(np.isfinite(g))
    True
    """
    name = "cauchy"

    def _logpdf(self, z: Any) -> Any:
        return -math.log(math.pi) - cnp.log1p(z * z)

    def _cdf(self, z: Any) -> Any:
        return 0.5 + cnp.arctan(z) / math.pi

    def _sf(self, z: Any) -> Any:
        return 0.5 - cnp.arctan(z) / math.pi

    def _ppf(self, q: Any) -> Any:
        return -1.0 / cnp.tan(math.pi * q)  # (-cot(pi q): accurate in both tails)

    def _isf(self, q: Any) -> Any:
        return 1.0 / cnp.tan(math.pi * q)


class laplace_gen(_Continuous):  # noqa: N801
    """SciPy's `scipy.stats.laplace`, differentiable in every argument.

    Methods with SciPy's names and signatures,
    `method(x, loc=0, scale=1)`: `logpdf`, `pdf`, `cdf`, `logcdf`,
    `sf`, `logsf`, `ppf`, `isf`. Values agree with SciPy's; each density is written with
    chainrule.numpy and chainrule.scipy.special, so its derivatives come from the rule table.
    Calling the distribution freezes its parameters: `laplace(loc, scale).logpdf(x)`.
    Use the instance `chainrule.scipy.stats.laplace`.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.stats
    >>> import chainrule as cr
    >>> from chainrule.scipy import stats
    >>> bool(np.isclose(stats.laplace.logpdf(0.0), scipy.stats.laplace.logpdf(0.0)))
    True
    >>> g = cr.grad(stats.laplace.logpdf)(0.0)
    >>> bool(np.isfinite(g))
    True
    """
    name = "laplace"

    def _logpdf(self, z: Any) -> Any:
        return -cnp.abs(z) - math.log(2.0)

    # (each branch guarded by where, not min/max: at the median a min/max tie would split the
    # derivative between two branches that each carry all of it)
    def _cdf(self, z: Any) -> Any:
        below = z < 0
        return cnp.where(below, 0.5 * cnp.exp(cnp.where(below, z, 0.0)),
                         1.0 - 0.5 * cnp.exp(-cnp.where(below, 0.0, z)))

    def _sf(self, z: Any) -> Any:
        return self._cdf(-z)

    def _ppf(self, q: Any) -> Any:
        lower = q < 0.5
        return cnp.where(lower, cnp.log(2.0 * cnp.where(lower, q, 0.5)),
                         -cnp.log(2.0 - 2.0 * cnp.where(lower, 0.5, q)))

    def _isf(self, q: Any) -> Any:
        return -self._ppf(q)


class logistic_gen(_Continuous):  # noqa: N801
    """SciPy's `scipy.stats.logistic`, differentiable in every argument.

    Methods with SciPy's names and signatures,
    `method(x, loc=0, scale=1)`: `logpdf`, `pdf`, `cdf`, `logcdf`,
    `sf`, `logsf`, `ppf`, `isf`. Values agree with SciPy's; each density is written with
    chainrule.numpy and chainrule.scipy.special, so its derivatives come from the rule table.
    Calling the distribution freezes its parameters: `logistic(loc, scale).logpdf(x)`.
    Use the instance `chainrule.scipy.stats.logistic`.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.stats
    >>> import chainrule as cr
    >>> from chainrule.scipy import stats
    >>> bool(np.isclose(stats.logistic.logpdf(0.0), scipy.stats.logistic.logpdf(0.0)))
    True
    >>> g = cr.grad(stats.logistic.logpdf)(0.0)
    >>> bool(np.isfinite(g))
    True
    """
    name = "logistic"

    def _logpdf(self, z: Any) -> Any:
        a = cnp.abs(z)
        return -a - 2.0 * cnp.log1p(cnp.exp(-a))

    def _cdf(self, z: Any) -> Any:
        return sp.expit(z)

    def _sf(self, z: Any) -> Any:
        return sp.expit(-z)

    def _logcdf(self, z: Any) -> Any:
        return sp.log_expit(z)

    def _logsf(self, z: Any) -> Any:
        return sp.log_expit(-z)

    def _ppf(self, q: Any) -> Any:
        return sp.logit(q)

    def _isf(self, q: Any) -> Any:
        return -sp.logit(q)


class expon_gen(_Continuous):  # noqa: N801
    """SciPy's `scipy.stats.expon`, differentiable in every argument.

    Methods with SciPy's names and signatures,
    `method(x, loc=0, scale=1)`: `logpdf`, `pdf`, `cdf`, `logcdf`,
    `sf`, `logsf`, `ppf`, `isf`. Values agree with SciPy's; each density is written with
    chainrule.numpy and chainrule.scipy.special, so its derivatives come from the rule table.
    Calling the distribution freezes its parameters: `expon(loc, scale).logpdf(x)`.
    Use the instance `chainrule.scipy.stats.expon`.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.stats
    >>> import chainrule as cr
    >>> from chainrule.scipy import stats
    >>> bool(np.isclose(stats.expon.logpdf(1.0), scipy.stats.expon.logpdf(1.0)))
    True
    >>> g = cr.grad(stats.expon.logpdf)(1.0)
    >>> bool(np.isfinite(g))
    True
    """
    name = "expon"

    def _logpdf(self, z: Any) -> Any:
        return _where_in(z >= 0, -z, -np.inf)

    def _cdf(self, z: Any) -> Any:
        return _where_in(z >= 0, -cnp.expm1(-cnp.where(z >= 0, z, 0.0)), 0.0)

    def _sf(self, z: Any) -> Any:
        return _where_in(z >= 0, cnp.exp(-cnp.where(z >= 0, z, 0.0)), 1.0)

    def _isf(self, q: Any) -> Any:
        return -cnp.log(q)

    def _logsf(self, z: Any) -> Any:
        return _where_in(z >= 0, -z, 0.0)

    def _ppf(self, q: Any) -> Any:
        return -cnp.log1p(-q)


class uniform_gen(_Continuous):  # noqa: N801
    """SciPy's `scipy.stats.uniform`, differentiable in every argument.

    Methods with SciPy's names and signatures,
    `method(x, loc=0, scale=1)`: `logpdf`, `pdf`, `cdf`, `logcdf`,
    `sf`, `logsf`, `ppf`, `isf`. Values agree with SciPy's; each density is written with
    chainrule.numpy and chainrule.scipy.special, so its derivatives come from the rule table.
    Calling the distribution freezes its parameters: `uniform(loc, scale).logpdf(x)`.
    Use the instance `chainrule.scipy.stats.uniform`.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.stats
    >>> import chainrule as cr
    >>> from chainrule.scipy import stats
    >>> bool(np.isclose(stats.uniform.logpdf(0.5), scipy.stats.uniform.logpdf(0.5)))
    True
    >>> g = cr.grad(stats.uniform.logpdf)(0.5)
    >>> bool(np.isfinite(g))
    True
    """
    name = "uniform"

    def _logpdf(self, z: Any) -> Any:
        return _where_in((z >= 0) & (z <= 1), 0.0 * z, -np.inf)

    def _cdf(self, z: Any) -> Any:
        return cnp.clip(z, 0.0, 1.0)

    def _ppf(self, q: Any) -> Any:
        return q


class gamma_gen(_Continuous):  # noqa: N801
    """SciPy's `scipy.stats.gamma`, differentiable in every argument.

    Methods with SciPy's names and signatures,
    `method(x, a, loc=0, scale=1)`: `logpdf`, `pdf`, `cdf`, `logcdf`,
    `sf`, `logsf`, `ppf`, `isf`. Values agree with SciPy's; each density is written with
    chainrule.numpy and chainrule.scipy.special, so its derivatives come from the rule table.
    Calling the distribution freezes its parameters: `gamma(a, loc, scale).logpdf(x)`.
    Use the instance `chainrule.scipy.stats.gamma`.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.stats
    >>> import chainrule as cr
    >>> from chainrule.scipy import stats
    >>> bool(np.isclose(stats.gamma.logpdf(1.0, 2.0), scipy.stats.gamma.logpdf(1.0, 2.0)))
    True
    >>> g = cr.grad(stats.gamma.logpdf)(1.0, 2.0)
    >>> bool(np.isfinite(g))
    True
    """
    name = "gamma"
    shapes = ("a",)

    def _logpdf(self, z: Any, a: Any) -> Any:
        inside = z > 0
        zs = cnp.where(inside, z, 1.0)
        return _where_in(inside, sp.xlogy(a - 1.0, zs) - zs - sp.gammaln(a), -np.inf)

    def _cdf(self, z: Any, a: Any) -> Any:
        return sp.gammainc(a, cnp.maximum(z, 0.0))

    def _sf(self, z: Any, a: Any) -> Any:
        return sp.gammaincc(a, cnp.maximum(z, 0.0))

    def _ppf(self, q: Any, a: Any) -> Any:
        return _inverse("gamma", _sps.gamma.ppf, lambda x, s: cnp.exp(self._logpdf(x, s)),
                        (a,))(q)


class chi2_gen(_Continuous):  # noqa: N801
    """SciPy's `scipy.stats.chi2`, differentiable in every argument.

    Methods with SciPy's names and signatures,
    `method(x, df, loc=0, scale=1)`: `logpdf`, `pdf`, `cdf`, `logcdf`,
    `sf`, `logsf`, `ppf`, `isf`. Values agree with SciPy's; each density is written with
    chainrule.numpy and chainrule.scipy.special, so its derivatives come from the rule table.
    Calling the distribution freezes its parameters: `chi2(df, loc, scale).logpdf(x)`.
    Use the instance `chainrule.scipy.stats.chi2`.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.stats
    >>> import chainrule as cr
    >>> from chainrule.scipy import stats
    >>> bool(np.isclose(stats.chi2.logpdf(1.0, 3.0), scipy.stats.chi2.logpdf(1.0, 3.0)))
    True
    >>> g = cr.grad(stats.chi2.logpdf)(1.0, 3.0)
    >>> bool(np.isfinite(g))
    True
    """
    name = "chi2"
    shapes = ("df",)

    def _logpdf(self, z: Any, df: Any) -> Any:
        return gamma._logpdf(z / 2.0, df / 2.0) - math.log(2.0)

    def _cdf(self, z: Any, df: Any) -> Any:
        return gamma._cdf(z / 2.0, df / 2.0)

    def _sf(self, z: Any, df: Any) -> Any:
        return gamma._sf(z / 2.0, df / 2.0)

    def _ppf(self, q: Any, df: Any) -> Any:
        return _inverse("chi2", _sps.chi2.ppf, lambda x, d: cnp.exp(self._logpdf(x, d)),
                        (df,))(q)


class beta_gen(_Continuous):  # noqa: N801
    """SciPy's `scipy.stats.beta`, differentiable in every argument.

    Methods with SciPy's names and signatures,
    `method(x, a, b, loc=0, scale=1)`: `logpdf`, `pdf`, `cdf`, `logcdf`,
    `sf`, `logsf`, `ppf`, `isf`. Values agree with SciPy's; each density is written with
    chainrule.numpy and chainrule.scipy.special, so its derivatives come from the rule table.
    Calling the distribution freezes its parameters: `beta(a, b, loc, scale).logpdf(x)`.
    Use the instance `chainrule.scipy.stats.beta`.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.stats
    >>> import chainrule as cr
    >>> from chainrule.scipy import stats
    >>> bool(np.isclose(stats.beta.logpdf(0.5, 2.0, 3.0), scipy.stats.beta.logpdf(0.5, 2.0, 3.0)))
    True
    >>> g = cr.grad(stats.beta.logpdf)(0.5, 2.0, 3.0)
    >>> bool(np.isfinite(g))
    True
    """
    name = "beta"
    shapes = ("a", "b")

    def _logpdf(self, z: Any, a: Any, b: Any) -> Any:
        inside = (z > 0) & (z < 1)
        zs = cnp.where(inside, z, 0.5)
        return _where_in(inside, sp.xlogy(a - 1.0, zs) + sp.xlog1py(b - 1.0, -zs)
                         - sp.betaln(a, b), -np.inf)

    def _cdf(self, z: Any, a: Any, b: Any) -> Any:
        return sp.betainc(a, b, cnp.clip(z, 0.0, 1.0))

    def _sf(self, z: Any, a: Any, b: Any) -> Any:
        return sp.betainc(b, a, 1.0 - cnp.clip(z, 0.0, 1.0))

    def _ppf(self, q: Any, a: Any, b: Any) -> Any:
        return _inverse("beta", _sps.beta.ppf,
                        lambda x, s, u: cnp.exp(self._logpdf(x, s, u)), (a, b))(q)


norm = norm_gen()
t = t_gen()
cauchy = cauchy_gen()
laplace = laplace_gen()
logistic = logistic_gen()
expon = expon_gen()
uniform = uniform_gen()
gamma = gamma_gen()
chi2 = chi2_gen()
beta = beta_gen()


# ---------------------------------------------------------------------------------------------
# discrete distributions: differentiable in their continuous parameters (k is a count)

class _Discrete:
    """A discrete distribution: `logpmf(k, *shapes, loc=0)`, `pmf`, `cdf`, `sf`, `logcdf`,
    `logsf`; `self(*shapes, loc=)` freezes the parameters."""

    name = ""
    shapes: tuple[str, ...] = ()

    def _logpmf(self, k: Any, *s: Any) -> Any:
        raise NotImplementedError

    def _cdf(self, k: Any, *s: Any) -> Any:
        raise NotImplementedError(f"{self.name}.cdf is not available")

    def _sf(self, k: Any, *s: Any) -> Any:
        return 1.0 - self._cdf(k, *s)

    def _split(self, args: tuple[Any, ...], loc: Any, method: str
               ) -> tuple[tuple[Any, ...], Any]:
        n = len(self.shapes)
        if len(args) < n or len(args) > n + 1:
            raise TypeError(f"{self.name}.{method} takes shape parameter(s) {self.shapes} "
                            f"then loc; got {len(args)} argument(s)")
        return args[:n], (args[n] if len(args) > n else loc)

    def _k(self, k: Any, loc: Any) -> Any:
        return cnp.asarray(k) - loc

    def logpmf(self, k: Any, *args: Any, loc: Any = 0) -> Any:
        """The log of the probability mass at `k`.

        As SciPy's method of the same name: the shape parameters follow `k`, then `loc`.

        Parameters
        ----------
        k : array_like
            The point(s).
        *args : Any
            The distribution's shape parameters, in SciPy's order.
        loc : array_like, optional
            The location.

        Returns
        -------
        array
            The value, broadcast over the arguments.
        """
        s, loc = self._split(args, loc, "logpmf")
        k = self._k(k, loc)
        whole = cnp.floor(k) == k
        kk = cnp.where(whole, k, 0.0)
        return _where_in(whole, self._logpmf(kk, *s), -np.inf)

    def pmf(self, k: Any, *args: Any, loc: Any = 0) -> Any:
        """The probability mass at `k`.

        As SciPy's method of the same name: the shape parameters follow `k`, then `loc`.

        Parameters
        ----------
        k : array_like
            The point(s).
        *args : Any
            The distribution's shape parameters, in SciPy's order.
        loc : array_like, optional
            The location.

        Returns
        -------
        array
            The value, broadcast over the arguments.
        """
        return cnp.exp(self.logpmf(k, *args, loc=loc))

    def cdf(self, k: Any, *args: Any, loc: Any = 0) -> Any:
        """The cumulative distribution function at `k`.

        As SciPy's method of the same name: the shape parameters follow `k`, then `loc`.

        Parameters
        ----------
        k : array_like
            The point(s).
        *args : Any
            The distribution's shape parameters, in SciPy's order.
        loc : array_like, optional
            The location.

        Returns
        -------
        array
            The value, broadcast over the arguments.
        """
        s, loc = self._split(args, loc, "cdf")
        return self._cdf(cnp.floor(self._k(k, loc)), *s)

    def sf(self, k: Any, *args: Any, loc: Any = 0) -> Any:
        """The survival function at `k`.

        As SciPy's method of the same name: the shape parameters follow `k`, then `loc`.

        Parameters
        ----------
        k : array_like
            The point(s).
        *args : Any
            The distribution's shape parameters, in SciPy's order.
        loc : array_like, optional
            The location.

        Returns
        -------
        array
            The value, broadcast over the arguments.
        """
        s, loc = self._split(args, loc, "sf")
        return self._sf(cnp.floor(self._k(k, loc)), *s)

    def logcdf(self, k: Any, *args: Any, loc: Any = 0) -> Any:
        """The log of the cumulative distribution function at `k`.

        As SciPy's method of the same name: the shape parameters follow `k`, then `loc`.

        Parameters
        ----------
        k : array_like
            The point(s).
        *args : Any
            The distribution's shape parameters, in SciPy's order.
        loc : array_like, optional
            The location.

        Returns
        -------
        array
            The value, broadcast over the arguments.
        """
        return cnp.log(self.cdf(k, *args, loc=loc))

    def logsf(self, k: Any, *args: Any, loc: Any = 0) -> Any:
        """The log of the survival function at `k`.

        As SciPy's method of the same name: the shape parameters follow `k`, then `loc`.

        Parameters
        ----------
        k : array_like
            The point(s).
        *args : Any
            The distribution's shape parameters, in SciPy's order.
        loc : array_like, optional
            The location.

        Returns
        -------
        array
            The value, broadcast over the arguments.
        """
        return cnp.log(self.sf(k, *args, loc=loc))

    def __call__(self, *args: Any, loc: Any = 0) -> _Frozen:
        s, loc = self._split(args, loc, "freeze")
        return _Frozen(self, (*s, loc))

    def __repr__(self) -> str:
        return f"<chainrule.scipy.stats.{self.name}>"


class poisson_gen(_Discrete):  # noqa: N801
    """SciPy's `scipy.stats.poisson`, differentiable in its real parameters.

    Methods with SciPy's names and signatures,
    `method(k, mu, loc=0)`: `logpmf`, `pmf`, `cdf`, `sf`,
    `logcdf`, `logsf`. Values agree with SciPy's. Calling the distribution freezes its parameters.
    Use the instance `chainrule.scipy.stats.poisson`.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.stats
    >>> from chainrule.scipy import stats
    >>> bool(np.isclose(stats.poisson.logpmf(2, 3.0), scipy.stats.poisson.logpmf(2, 3.0)))
    True
    """
    name = "poisson"
    shapes = ("mu",)

    def _logpmf(self, k: Any, mu: Any) -> Any:
        inside = k >= 0
        ks = cnp.where(inside, k, 0.0)
        return _where_in(inside, sp.xlogy(ks, mu) - mu - sp.gammaln(ks + 1.0), -np.inf)

    def _cdf(self, k: Any, mu: Any) -> Any:
        return _where_in(k >= 0, sp.gammaincc(cnp.maximum(k, 0.0) + 1.0, mu), 0.0)

    def _sf(self, k: Any, mu: Any) -> Any:
        return _where_in(k >= 0, sp.gammainc(cnp.maximum(k, 0.0) + 1.0, mu), 1.0)


class binom_gen(_Discrete):  # noqa: N801
    """SciPy's `scipy.stats.binom`, differentiable in its real parameters.

    Methods with SciPy's names and signatures,
    `method(k, n, p, loc=0)`: `logpmf`, `pmf`, `cdf`, `sf`,
    `logcdf`, `logsf`. Values agree with SciPy's. Calling the distribution freezes its parameters.
    Use the instance `chainrule.scipy.stats.binom`.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.stats
    >>> from chainrule.scipy import stats
    >>> bool(np.isclose(stats.binom.logpmf(2, 5, 0.4), scipy.stats.binom.logpmf(2, 5, 0.4)))
    True
    """
    name = "binom"
    shapes = ("n", "p")

    def _logpmf(self, k: Any, n: Any, p: Any) -> Any:
        inside = cnp.logical_and(k >= 0, k <= n)
        ks = cnp.where(inside, k, 0.0)
        comb = sp.gammaln(n + 1.0) - sp.gammaln(ks + 1.0) - sp.gammaln(n - ks + 1.0)
        return _where_in(inside, comb + sp.xlogy(ks, p) + sp.xlog1py(n - ks, -p), -np.inf)

    def _cdf(self, k: Any, n: Any, p: Any) -> Any:
        inside = (k >= 0) & (k < n)
        ks = cnp.clip(k, 0.0, cnp.maximum(n - 1.0, 0.0))
        mid = sp.betainc(n - ks, ks + 1.0, 1.0 - p)
        return cnp.where(k < 0, 0.0 * p, cnp.where(inside, mid, 1.0 + 0.0 * p))


class bernoulli_gen(_Discrete):  # noqa: N801
    """SciPy's `scipy.stats.bernoulli`, differentiable in its real parameters.

    Methods with SciPy's names and signatures,
    `method(k, p, loc=0)`: `logpmf`, `pmf`, `cdf`, `sf`,
    `logcdf`, `logsf`. Values agree with SciPy's. Calling the distribution freezes its parameters.
    Use the instance `chainrule.scipy.stats.bernoulli`.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.stats
    >>> from chainrule.scipy import stats
    >>> bool(np.isclose(stats.bernoulli.logpmf(1, 0.3), scipy.stats.bernoulli.logpmf(1, 0.3)))
    True
    """
    name = "bernoulli"
    shapes = ("p",)

    def _logpmf(self, k: Any, p: Any) -> Any:
        inside = (k >= 0) & (k <= 1)
        ks = cnp.where(inside, k, 0.0)
        return _where_in(inside, sp.xlogy(ks, p) + sp.xlog1py(1.0 - ks, -p), -np.inf)

    def _cdf(self, k: Any, p: Any) -> Any:
        return cnp.where(k < 0, 0.0 * p, cnp.where(k < 1, 1.0 - p, 1.0 + 0.0 * p))


class geom_gen(_Discrete):  # noqa: N801
    """SciPy's `scipy.stats.geom`, differentiable in its real parameters.

    Methods with SciPy's names and signatures,
    `method(k, p, loc=0)`: `logpmf`, `pmf`, `cdf`, `sf`,
    `logcdf`, `logsf`. Values agree with SciPy's. Calling the distribution freezes its parameters.
    Use the instance `chainrule.scipy.stats.geom`.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.stats
    >>> from chainrule.scipy import stats
    >>> bool(np.isclose(stats.geom.logpmf(2, 0.4), scipy.stats.geom.logpmf(2, 0.4)))
    True
    """
    name = "geom"
    shapes = ("p",)

    def _logpmf(self, k: Any, p: Any) -> Any:
        inside = k >= 1
        ks = cnp.where(inside, k, 1.0)
        return _where_in(inside, sp.xlog1py(ks - 1.0, -p) + cnp.log(p), -np.inf)

    def _cdf(self, k: Any, p: Any) -> Any:
        ks = cnp.maximum(k, 0.0)
        return -cnp.expm1(ks * cnp.log1p(-p))

    def _sf(self, k: Any, p: Any) -> Any:
        ks = cnp.maximum(k, 0.0)
        return cnp.exp(ks * cnp.log1p(-p))


poisson = poisson_gen()
binom = binom_gen()
bernoulli = bernoulli_gen()
geom = geom_gen()


# ---------------------------------------------------------------------------------------------
# multivariate

class multivariate_normal_gen:  # noqa: N801
    """`logpdf(x, mean=None, cov=1)` and `pdf`: x of shape (..., d); cov a (d, d) matrix, a
    vector (its diagonal) or a number (times the identity), as SciPy accepts."""

    name = "multivariate_normal"

    def logpdf(self, x: Any, mean: Any = None, cov: Any = 1.0, allow_singular: bool = False
               ) -> Any:
        if allow_singular:
            raise NotImplementedError("multivariate_normal.logpdf: allow_singular=True is not "
                                      "differentiable here; give a positive-definite cov")
        x = cnp.asarray(x)
        d = x.shape[-1] if x.ndim else 1
        if x.ndim == 0:
            x = cnp.reshape(x, (1,))
        diff = x if mean is None else x - mean
        cov = cnp.asarray(cov)
        if cov.ndim == 0:
            maha = cnp.sum(diff * diff, axis=-1) / cov
            logdet = d * cnp.log(cov)
        elif cov.ndim == 1:
            maha = cnp.sum(diff * diff / cov, axis=-1)
            logdet = cnp.sum(cnp.log(cov))
        else:
            chol = cnp.linalg.cholesky(cov)
            sol = cnp.linalg.solve(chol, cnp.moveaxis(diff, -1, 0) if diff.ndim > 1
                                   else diff)
            maha = cnp.sum(sol * sol, axis=0)
            logdet = 2.0 * cnp.sum(cnp.log(cnp.diagonal(chol)))
        return -0.5 * (d * _LOG_2PI + logdet + maha)

    def pdf(self, x: Any, mean: Any = None, cov: Any = 1.0, allow_singular: bool = False
            ) -> Any:
        return cnp.exp(self.logpdf(x, mean, cov, allow_singular))

    def __repr__(self) -> str:
        return "<chainrule.scipy.stats.multivariate_normal>"


class dirichlet_gen:  # noqa: N801
    """`logpdf(x, alpha)` and `pdf`: x of shape (K,) or (K, N) (quantiles along the first axis,
    as SciPy takes them), alpha of shape (K,)."""

    name = "dirichlet"

    def logpdf(self, x: Any, alpha: Any) -> Any:
        x, alpha = cnp.asarray(x), cnp.asarray(alpha)
        if alpha.ndim != 1:
            raise ValueError(f"dirichlet.logpdf: alpha must be one-dimensional, got shape "
                             f"{alpha.shape}")
        a = alpha if x.ndim == 1 else cnp.reshape(alpha, (alpha.shape[0], 1))
        norm_const = cnp.sum(sp.gammaln(alpha)) - sp.gammaln(cnp.sum(alpha))
        return cnp.sum(sp.xlogy(a - 1.0, x), axis=0) - norm_const

    def pdf(self, x: Any, alpha: Any) -> Any:
        return cnp.exp(self.logpdf(x, alpha))

    def __repr__(self) -> str:
        return "<chainrule.scipy.stats.dirichlet>"


multivariate_normal = multivariate_normal_gen()
dirichlet = dirichlet_gen()

__all__ = ["norm", "t", "cauchy", "laplace", "logistic", "expon", "gamma", "beta", "chi2",
           "uniform", "poisson", "binom", "bernoulli", "geom", "multivariate_normal",
           "dirichlet"]
