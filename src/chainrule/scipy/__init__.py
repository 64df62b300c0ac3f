"""`chainrule.scipy`: differentiable SciPy — `special`, `stats`, `linalg`, `signal`, `integrate`,
`optimize`.

    import chainrule.scipy as csp
    cr.grad(lambda a: csp.special.gammaln(a).sum())(a)

Values are computed by SciPy itself; each function's derivative rules are written with
chainrule's primitives (ops/special.py, ...), so they differentiate again. SciPy is an optional
dependency: `pip install "chainrule[scipy]"`.

Examples
--------
>>> import numpy as np
>>> import chainrule as cr
>>> import chainrule.scipy as csp
>>> a = np.array([1.5, 3.0])
>>> bool(np.allclose(cr.grad(lambda a: csp.special.gammaln(a).sum())(a), csp.special.digamma(a)))
True
"""
from __future__ import annotations

try:
    import scipy as _scipy  # noqa: F401
except ModuleNotFoundError as exc:  # pragma: no cover - exercised without SciPy installed
    raise ModuleNotFoundError(
        "chainrule.scipy needs SciPy, an optional dependency: pip install \"chainrule[scipy]\" "
        "(or pip install scipy)", name=exc.name) from None

from . import integrate, linalg, optimize, signal, special, stats

__all__: list[str] = ["integrate", "linalg", "optimize", "signal", "special", "stats"]
