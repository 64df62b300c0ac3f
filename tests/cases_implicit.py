"""Rule-test cases of the implicit-differentiation primitives `custom_root` and
`root_linear_solve` (chainrule.implicit), for the table of tests/test_rules.py: the primitives
bound directly, each with a `Problem` of its own (F, its solver and the linear solver).

Three problems F(x, p) = 0, each solved to machine precision on plain values so that the
table's comparisons (finite differences of the solution, the custom reverse rule against the
VJP derived from the JVP, jacfwd against jacrev, the batch against a loop) see the rules and
not the solver's error:
- a cubic, elementwise: x^3 + a x - b (a > 0, so one real root and dF/dx = 3 x^2 + a > 0),
  flagged symmetric (its Jacobian is diagonal);
- a linear system A x - b with a well-conditioned, non-symmetric A;
- a coupled pair of leaves u + sin(v) / 2 - p, v + sin(u) / 2 - q (a non-symmetric Jacobian,
  diagonally dominant), solved by its contraction.

The initial guesses are held constant (`const`): the solution does not depend on them. The
public functions, closures and every method are tested in tests/test_implicit.py.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import chainrule.numpy as cnp
from chainrule._core import tree
from chainrule.implicit import Problem, dense_solve
from rulecase import Case, arr, normal, uniform

Args = tuple[Any, ...]


def _dense(g: Callable[[Any], Any], y: Any, x: Any, ps: Any, transposed: bool) -> Any:
    return dense_solve(g, y)


def _problem(make: Callable[[Sequence[Any]], Callable[[Any], Any]],
             forward: Callable[[Any, list[Any]], Any], x0: Any, name: str,
             symmetric: bool = False) -> Problem:
    leaves, td = tree.flatten(x0)
    return Problem(make, forward, _dense, td, [(np.shape(v), np.dtype(np.float64))
                                               for v in leaves], name, symmetric)


# -- the cubic --------------------------------------------------------------------------------

def _cubic(ps: Sequence[Any]) -> Callable[[Any], Any]:
    a, b = ps
    return lambda x: x ** 3 + a * x - b


def _cubic_solve(x0: Any, ps: list[Any]) -> np.ndarray:
    a, b = (np.asarray(p, dtype=np.float64) for p in ps)
    x = np.asarray(x0, dtype=np.float64)
    for _ in range(100):  # Newton: quadratic convergence, then two more steps at the floor
        step = (x ** 3 + a * x - b) / (3 * x ** 2 + a)
        x = x - step
        if np.max(np.abs(step)) < 1e-16 * (1 + np.max(np.abs(x))):
            break
    return x


CUBIC = _problem(_cubic, _cubic_solve, np.zeros(4), "cubic", symmetric=True)


def _cubic_root_args(rng: np.random.Generator) -> Args:
    return arr(np.zeros(4)), uniform(rng, (4,), 1.0, 2.0), normal(rng, (4,))


def _cubic_linear_args(rng: np.random.Generator) -> Args:
    # (rhs, the point x where dF/dx is taken, a, b)
    return normal(rng, (4,)), normal(rng, (4,)), uniform(rng, (4,), 1.0, 2.0), normal(rng, (4,))


# -- the linear system ------------------------------------------------------------------------

def _linear(ps: Sequence[Any]) -> Callable[[Any], Any]:
    a, b = ps
    return lambda x: cnp.matmul(a, x) - b


def _linear_solve(x0: Any, ps: list[Any]) -> np.ndarray:
    return np.linalg.solve(np.asarray(ps[0]), np.asarray(ps[1]))


LINEAR = _problem(_linear, _linear_solve, np.zeros(3), "linear")


def _matrix(rng: np.random.Generator) -> np.ndarray:
    return arr(3.0 * np.eye(3) + 0.5 * rng.standard_normal((3, 3)))  # non-symmetric


def _linear_root_args(rng: np.random.Generator) -> Args:
    return arr(np.zeros(3)), _matrix(rng), normal(rng, (3,))


def _linear_linear_args(rng: np.random.Generator) -> Args:
    return normal(rng, (3,)), normal(rng, (3,)), _matrix(rng), normal(rng, (3,))


# -- the coupled pair -------------------------------------------------------------------------

def _coupled(ps: Sequence[Any]) -> Callable[[Any], Any]:
    p, q = ps
    return lambda x: (x[0] + 0.5 * cnp.sin(x[1]) - p, x[1] + 0.5 * cnp.sin(x[0]) - q)


def _coupled_solve(x0: Any, ps: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    p, q = (np.asarray(v, dtype=np.float64) for v in ps)
    u, v = (np.asarray(w, dtype=np.float64) for w in x0)
    for _ in range(200):  # a contraction of factor 1/2: 60 steps reach the floor
        u_new, v_new = p - 0.5 * np.sin(v), q - 0.5 * np.sin(u)
        moved = max(np.max(np.abs(u_new - u)), np.max(np.abs(v_new - v)))
        u, v = u_new, v_new
        if moved == 0.0:
            break
    return u, v


COUPLED = _problem(_coupled, _coupled_solve, (np.zeros(2), np.zeros(2)), "coupled")


def _coupled_root_args(rng: np.random.Generator) -> Args:
    return arr(np.zeros(2)), arr(np.zeros(2)), normal(rng, (2,)), normal(rng, (2,))


def _coupled_linear_args(rng: np.random.Generator) -> Args:
    # (rhs u, rhs v, the point u, v, p, q)
    return tuple(normal(rng, (2,)) for _ in range(6))


DIFF_CASES: list[Case] = [
    Case("custom_root", "cubic-4", _cubic_root_args, {"problem": CUBIC}, const=(0,)),
    Case("custom_root", "linear-3", _linear_root_args, {"problem": LINEAR}, const=(0,)),
    Case("custom_root", "coupled-2x2", _coupled_root_args, {"problem": COUPLED},
         const=(0, 1)),
    Case("root_linear_solve", "cubic-4", _cubic_linear_args,
         {"problem": CUBIC, "transposed": False}),
    Case("root_linear_solve", "linear-3", _linear_linear_args,
         {"problem": LINEAR, "transposed": False}),
    Case("root_linear_solve", "linear-3-transposed", _linear_linear_args,
         {"problem": LINEAR, "transposed": True}),
    Case("root_linear_solve", "coupled-2x2-transposed", _coupled_linear_args,
         {"problem": COUPLED, "transposed": True}),
]
