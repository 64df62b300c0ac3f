"""Rule-test cases of the ODE primitive `odeint` (chainrule.scipy.integrate), for the table of
tests/test_rules.py: the primitive bound directly, its right-hand side a flat function of
(state leaves, t, parameter leaves).

The solves run at tolerances of 1e-13 so that the table's comparisons (the adjoint against the
VJP derived from the sensitivity equations, jacfwd against jacrev, the joined batch against a
loop of solves, all at rtol 1e-10) see the rules and not the solver's error. The systems are
small and smooth: a linear system y' = A y (state and matrix differentiated), a nonlinear one
(Lotka-Volterra with a time-dependent forcing, two state leaves) and solve_ivp's RK45. The
closed-form values, the other engines and the public functions are tested in
tests/test_scipy_ode.py.
"""
from __future__ import annotations

from typing import Any

import numpy as np

import chainrule.numpy as cnp
import chainrule.scipy.integrate  # noqa: F401  (registers the primitive the table enrolls)
from rulecase import Case, arr

Args = tuple[Any, ...]

_TIGHT = {"rtol": 1e-13, "atol": 1e-13}


class _Linear:
    """y' = A y."""

    solver = "odeint"

    def __call__(self, ys: list[Any], t: Any, ps: list[Any]) -> list[Any]:
        return [cnp.matmul(ps[0], ys[0])]


class _PredatorPrey:
    """Lotka-Volterra with a forcing in time: prey u, predator v (two state leaves), rates
    p = (a, b, c, d)."""

    solver = "odeint"

    def __call__(self, ys: list[Any], t: Any, ps: list[Any]) -> list[Any]:
        u, v = ys
        p = ps[0]
        du = p[0] * u - p[1] * u * v + 0.1 * cnp.sin(t)
        dv = p[2] * u * v - p[3] * v
        return [du, dv]


def _times(rng: np.random.Generator, n: int, span: float) -> np.ndarray:
    return arr(np.sort(rng.uniform(0.0, span, n)) + np.arange(n) * 0.1)


def _linear(rng: np.random.Generator) -> Args:
    a = 0.5 * rng.standard_normal((2, 2)) - 0.3 * np.eye(2)
    return arr(rng.standard_normal(2)), _times(rng, 3, 0.8), arr(a)


def _predator_prey(rng: np.random.Generator) -> Args:
    u, v = rng.uniform(0.8, 1.2, 2)
    p = rng.uniform([1.0, 0.4, 0.3, 0.8], [1.2, 0.6, 0.5, 1.0])
    return arr(u), arr(v), _times(rng, 3, 0.6), arr(p)


def _ivp(rng: np.random.Generator) -> Args:
    y0, t, a = _linear(rng)
    return y0, t, a


DIFF_CASES: list[Case] = [
    Case("odeint", "linear-2x2", _linear,
         {"fun": _Linear(), "n_y": 1, "method": "odeint", "options": (), **_TIGHT}),
    Case("odeint", "predator-prey", _predator_prey,
         {"fun": _PredatorPrey(), "n_y": 2, "method": "odeint", "options": (), **_TIGHT}),
    Case("odeint", "solve-ivp-rk45", _ivp,
         {"fun": _Linear(), "n_y": 1, "method": "RK45", "options": (), **_TIGHT}),
]
