"""cr.numeric — derivatives by finite differences, the approximation AD is measured against.

This package owns the value-style finite-difference API:

- `derivative(f, x, stencil="central", h=None, order=1)`: the derivative of a function of one
  variable (elementwise over an array `x`), by one of the stencils of `STENCILS`;
- `grad`, `jacobian`, `hessian`: the same over arrays and pytrees;
- `default_step`: the step each stencil takes when `h` is not given;
- `error_curve` and `plot_error_curve`: the total error against the step size, which shows the
  trade-off every finite difference makes between truncation (step too large) and round-off
  (step too small) — the V shape on a log-log plot.

`stencil=` was called `method=` before; the old keyword still works, with a
`DeprecationWarning` (and `METHODS` is `STENCILS`). Everywhere else in chainrule `method=` picks
the differentiation engine: `cr.grad(f, method="numeric")` and the other transforms with
`method="numeric"` live in `chainrule.numeric.transforms`, built on the same machinery.

The stencils, for a step `h` and the n-th derivative (`order=n`):

========================  =====================================================  ============
stencil                   formula (n = 1)                                        truncation
========================  =====================================================  ============
``forward``               (f(x+h) - f(x)) / h                                    O(h)
``backward``              (f(x) - f(x-h)) / h                                    O(h)
``central``               (f(x+h) - f(x-h)) / 2h                                 O(h^2)
``five_point``            (f(x-2h) - 8f(x-h) + 8f(x+h) - f(x+2h)) / 12h          O(h^4)
``richardson``            central differences at h, h/2, h/4, ... extrapolated   O(h^8)
``complex_step``          Im f(x + ih) / h  (no subtraction, so no cancellation)  O(h^2)
========================  =====================================================  ============

Higher orders use the stencil of the same width with the weights that make it exact for
polynomials of the highest degree it can (for n = 2 central is (f(x+h) - 2f(x) + f(x-h)) / h^2).

The modules: `inputs.py` checks and converts what the user passes (and accepts `method=` for
`stencil=`); `stencils.py` derives the stencils' weights, chooses the steps and estimates one
derivative (`derivative`, `default_step`, `truncation_order`); `arrays.py` flattens arrays and
pytrees to coordinates for `grad`, `jacobian` and `hessian`; `curves.py` measures and draws the
error curve; `transforms.py` is `method="numeric"` on chainrule's transforms.

Examples
--------
>>> import numpy as np
>>> import chainrule as cr
>>> exact = np.cos(1.0)
>>> for stencil in ("forward", "central", "five_point", "complex_step"):
...     error = abs(cr.numeric.derivative(np.sin, 1.0, stencil=stencil) - exact)
...     print(f"{stencil:>12}: {error:.0e}")
     forward: ...e-0...
     central: ...e-1...
  five_point: ...e-1...
complex_step: 0e+00
"""
from __future__ import annotations

from .arrays import grad, hessian, jacobian
from .curves import ErrorCurve, error_curve, plot_error_curve
from .stencils import (
    HIGHER_ORDER_METHODS,
    HIGHER_ORDER_STENCILS,
    METHODS,
    STENCILS,
    default_step,
    derivative,
    truncation_order,
)

__all__ = ["STENCILS", "HIGHER_ORDER_STENCILS", "METHODS", "HIGHER_ORDER_METHODS", "derivative",
           "default_step", "truncation_order", "grad", "jacobian", "hessian", "error_curve",
           "ErrorCurve", "plot_error_curve"]
