"""The error curve: the total error of each finite-difference stencil against the step size.

A finite difference trades truncation error (step too large, falling as h^p) against round-off
(step too small, rising as eps/h^n): on a log-log plot each stencil's error is a V whose bottom
is its best step. `error_curve` measures it against an exact reference (chainrule's forward
mode), `ErrorCurve` holds the result, and `plot_error_curve` draws it with matplotlib, an
optional dependency imported only when a plot is asked for.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..overload import transforms as overload
from .inputs import as_output, as_point, renamed_keyword, scalar
from .stencils import (
    HIGHER_ORDER_STENCILS,
    STENCILS,
    check_stencil,
    eps_of,
    estimate,
    real_dtype,
)

__all__ = ["ErrorCurve", "error_curve", "plot_error_curve"]


class ErrorCurve(dict):
    """The errors of finite differences against the step size, per stencil (made by `error_curve`).

    A dict `stencil -> np.ndarray` of absolute errors, one per step in `.hs` (for Richardson the
    step is the largest of its sequence). `.exact` is the reference derivative,
    `.best()` the step with the smallest error per stencil and `.table()` a printable summary.

    Parameters
    ----------
    hs : ndarray
        The steps.
    errors : dict
        Stencil name to its errors, aligned with `hs`.
    exact : Any
        The reference derivative.
    order : int
        The order of the derivative.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> curve = cr.numeric.error_curve(np.sin, 1.0, hs=np.logspace(-12, 0, 7),
    ...                                stencils=["forward", "central"])
    >>> print(curve.table())
    stencil         best h  min error
    forward          1e-08      4e-07
    central          1e-06      9e-10
    """

    def __init__(self, hs: np.ndarray, errors: dict[str, np.ndarray], exact: Any,
                 order: int) -> None:
        super().__init__(errors)
        self.hs = hs
        self.exact = exact
        self.order = order

    def best(self, robust: bool = True) -> dict[str, tuple[float, float]]:
        """`stencil -> (h, error)` at the bottom of each curve.

        Round-off errors are noisy: at one step they may happen to cancel and give an error
        far below the curve around it, an accident no one can count on. So by default the step
        returned is the one whose neighbourhood (it and the steps either side in `hs`) has the
        smallest worst error, and the error returned is that worst error. `robust=False` gives
        the plain minimum.

        Parameters
        ----------
        robust : bool, optional
            Judge each step by the worst error of its neighbourhood.

        Returns
        -------
        dict
            Stencil name to `(h, error)`.
        """
        out = {}
        for stencil, errs in self.items():
            errs = np.where(np.isnan(errs), np.inf, errs)
            if robust and errs.size > 2:
                padded = np.concatenate([errs[:1], errs, errs[-1:]])
                errs = np.maximum(np.maximum(padded[:-2], padded[1:-1]), padded[2:])
            if not np.any(np.isfinite(errs)):
                out[stencil] = (math.nan, math.nan)
                continue
            k = int(np.argmin(errs))
            out[stencil] = (float(self.hs[k]), float(errs[k]))
        return out

    def table(self) -> str:
        """The bottom of each curve (`best()`), rounded to one significant digit.

        Returns
        -------
        str
            The table.
        """
        lines = [f"{'stencil':<14}{'best h':>8}{'min error':>11}"]
        for stencil, (h, err) in self.best().items():
            lines.append(f"{stencil:<14}{h:>8.0e}{err:>11.0e}")
        return "\n".join(lines)


def _ad_derivative(f: Callable[[Any], Any], x: np.ndarray, order: int) -> Any:
    """The exact reference: chainrule's forward mode (the overload engine's jvp, what `cr.jvp`
    runs by default), nested for higher orders."""

    def nth(k: int) -> Callable[[Any], Any]:
        if k == 0:
            return f

        def d(y: Any) -> Any:
            return overload.jvp(nth(k - 1), (y,), (np.ones_like(y),))[1]
        return d

    try:
        return np.asarray(nth(order)(x[()] if x.ndim == 0 else x))
    except Exception as exc:
        # keep the exception's type (a caller may catch it) but say where it came from
        msg = (f"error_curve: the exact derivative is taken by chainrule's forward mode "
               f"(cr.jvp), which failed: {exc}. Pass exact=<the derivative's value> instead")
        try:
            new = type(exc)(msg)
        except Exception:  # an exception class with a different constructor
            new = RuntimeError(msg)
        raise new from exc


@renamed_keyword("methods", "stencils")
def error_curve(f: Callable[[Any], Any], x: Any, hs: Any = None,
                stencils: Sequence[str] | None = None, exact: Any = None,
                order: int = 1) -> ErrorCurve:
    """The absolute error of `derivative(f, x, stencil, h, order)` for each step in `hs` and each
    stencil: an `ErrorCurve`, a dict `stencil -> np.ndarray` aligned with `hs`.

    The error falls with h while truncation dominates (slope p on a log-log plot) and rises
    again as h shrinks and round-off takes over (slope -n): the V whose bottom is the best step.
    Complex step has no round-off branch. For an array x (elementwise f) the error is
    the largest over the elements. Steps too small to move x (x + h == x) give a difference
    of 0, as a naive implementation would, rather than an error.

    Parameters
    ----------
    f : callable
        A function of one number (elementwise over arrays).
    x : float or array_like
        The point.
    hs : array_like, optional
        The steps; `np.logspace(-16, 0, 33)` by default.
    stencils : sequence of str, optional
        The stencils; by default every stencil that supports `order`.
    exact : Any, optional
        The reference value; by default chainrule's forward-mode derivative, `cr.jvp`.
    order : int, optional
        The order of the derivative.

    Returns
    -------
    ErrorCurve
        The errors.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> curve = cr.numeric.error_curve(np.exp, 0.0, hs=[1e-1, 1e-5], stencils=["forward"])
    >>> print(np.round(curve["forward"], 3))
    [0.052 0.   ]
    """
    xa = as_point(x, "error_curve")
    hs = np.logspace(-16, 0, 33) if hs is None else np.asarray(hs, dtype=np.float64).reshape(-1)
    if hs.size == 0 or not np.all(np.isfinite(hs) & (hs > 0)):
        raise ValueError("error_curve: hs must be a non-empty sequence of positive steps")
    if stencils is None:
        stencils = STENCILS if order == 1 else HIGHER_ORDER_STENCILS
    elif isinstance(stencils, str):
        stencils = (stencils,)
    for s in stencils:
        check_stencil(s, order, "error_curve")
    ref = _ad_derivative(f, xa, order) if exact is None else np.asarray(exact)
    errors = {}
    for s in stencils:
        who = f"error_curve(stencil={s!r})"
        errs = []
        for h in hs:
            step = np.broadcast_to(np.asarray(h, real_dtype(xa.dtype)), xa.shape)

            def at(t: Any, who: str = who) -> np.ndarray:
                return as_output(f(xa + t), who)

            with np.errstate(all="ignore"):
                est, _ = estimate(at, xa, step, s, order, False, False, who)
            errs.append(float(np.max(np.abs(np.asarray(est) - ref))))
        errors[s] = np.array(errs)
    return ErrorCurve(hs, errors, scalar(ref), order)


@renamed_keyword("methods", "stencils")
def plot_error_curve(f: Callable[[Any], Any], x: Any, hs: Any = None,
                     path: Any = "error_curve.png", stencils: Sequence[str] | None = None,
                     exact: Any = None, order: int = 1) -> Any:
    """Draw `error_curve(f, x, hs, stencils, exact, order)` on log-log axes and save it to `path`.

    Each stencil's curve shows the V: truncation error falling as h shrinks (slope = the stencil's
    order), round-off rising as 1/h^n below the best step (marked with a dot); complex step
    stays flat at the precision of the result. A dashed guide shows the round-off level
    eps |f(x)| / h^n. Needs matplotlib (`pip install matplotlib`); it draws with the Agg
    backend on its own figure, so it changes no global pyplot state.

    Parameters
    ----------
    f : callable
        A function of one number.
    x : float or array_like
        The point.
    hs : array_like, optional
        The steps, as in `error_curve`.
    path : str or path-like, optional
        Where to save it (any format matplotlib writes).
    stencils : sequence of str, optional
        As in `error_curve`.
    exact : Any, optional
        As in `error_curve`.
    order : int, optional
        The order of the derivative.

    Returns
    -------
    str or path-like
        `path`.

    Raises
    ------
    ImportError
        Without matplotlib.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import chainrule as cr
    >>> path = os.path.join(tempfile.mkdtemp(), "curve.png")
    >>> cr.numeric.plot_error_curve(np.sin, 1.0, path=path) == path   # doctest: +SKIP
    True
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("plot_error_curve needs matplotlib, an optional dependency: "
                          "pip install matplotlib") from exc
    curve = error_curve(f, x, hs, stencils, exact, order)
    xa = as_point(x, "plot_error_curve")
    eps = eps_of(xa.dtype)
    # a log axis cannot show an error of exactly 0: draw those at a floor below everything else
    floor = eps * max(1.0, float(np.max(np.abs(curve.exact)))) / 10
    fig = Figure(figsize=(8.5, 5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for stencil, errs in curve.items():
        (line,) = ax.loglog(curve.hs, np.maximum(errs, floor), marker=".", label=stencil)
        h_best, e_best = curve.best()[stencil]
        if np.isfinite(e_best):
            ax.plot([h_best], [max(e_best, floor)], "o", color=line.get_color(), markersize=8)
    fx = float(np.max(np.abs(as_output(f(xa[()] if xa.ndim == 0 else xa), "plot_error_curve"))))
    guide = eps * max(fx, 1e-300) / curve.hs ** order
    ax.loglog(curve.hs, guide, "k--", linewidth=1, label="round-off ~ eps |f| / h" +
              ("" if order == 1 else f"^{order}"))
    ax.set_ylim(floor / 2, max(1.0, float(np.nanmax([np.nanmax(e) for e in curve.values()]))) * 2)
    ax.set_xlabel("step h (Richardson: the largest of its steps)")
    ax.set_ylabel("absolute error")
    name = getattr(f, "__name__", "f")
    ax.set_title(f"finite-difference error of {name}" + ("'" * order if order <= 3 else
                                                         f"^({order})") + f" at x = {x}")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5),
              title="dot: best step", title_fontsize=8)
    fig.savefig(path)
    return path
