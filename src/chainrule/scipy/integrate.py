"""`chainrule.scipy.integrate`: `trapezoid`, differentiable in the samples and the sample points.

(`odeint` and `solve_ivp`, differentiated by the adjoint method, belong to the issue on ODE
adjoints.)

Examples
--------
>>> import numpy as np
>>> import chainrule as cr
>>> from chainrule.scipy import integrate
>>> x = np.linspace(0.0, 1.0, 5)
>>> print(integrate.trapezoid(x ** 2, x))
0.34375
>>> print(cr.grad(lambda y: integrate.trapezoid(y, x))(x ** 2))
[0.125 0.25  0.25  0.25  0.125]
"""
from __future__ import annotations

from typing import Any

from .. import numpy as cnp
from .._core.primitive import ndim_of


def trapezoid(y: Any, x: Any = None, dx: float = 1.0, axis: int = -1) -> Any:
    """The integral of `y` along `axis` by the trapezoidal rule, as `scipy.integrate.trapezoid`:
    sample points `x` (1-d along `axis`, or of y's shape), else the spacing `dx`."""
    y = cnp.asarray(y)
    n = ndim_of(y)
    if not -n <= axis < n:
        raise ValueError(f"trapezoid: axis={axis} is out of range for y with {n} dimension(s)")
    ym = cnp.moveaxis(y, axis, -1)
    mid = (ym[..., 1:] + ym[..., :-1]) / 2.0
    if x is None:
        return cnp.sum(mid, axis=-1) * dx
    x = cnp.asarray(x)
    if ndim_of(x) == 1:
        d = cnp.diff(x)
    else:
        d = cnp.diff(cnp.moveaxis(x, axis, -1), axis=-1)
    return cnp.sum(d * mid, axis=-1)


__all__ = ["trapezoid"]
