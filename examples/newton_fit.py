"""Second order: Newton's method on a small nonlinear least-squares problem, with `cr.hessian`.

Fit `y ≈ a · exp(-b t) + c` to noisy samples by minimising `½ Σ (model - y)²` over `(a, b, c)`.
Each Newton step solves `H Δ = -g` with the exact gradient (`cr.grad`) and Hessian
(`cr.hessian`, forward over reverse) of the loss; near the minimum the error squares at every
step (quadratic convergence), which the printed gradient norms show.

    python examples/newton_fit.py
"""
from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import chainrule as cr
import chainrule.numpy as cnp

TRUE = np.array([2.5, 1.3, 0.5])  # a, b, c


def model(p: Any, t: np.ndarray) -> Any:
    return p[0] * cnp.exp(-p[1] * t) + p[2]


def loss(p: Any, t: np.ndarray, y: np.ndarray) -> Any:
    r = model(p, t) - y
    return 0.5 * cnp.sum(r * r)


def newton(p: np.ndarray, t: np.ndarray, y: np.ndarray, iters: int = 20, tol: float = 1e-12,
           method: str = "overload", verbose: bool = True) -> tuple[np.ndarray, list[float]]:
    """Damped Newton: the full step when it lowers the loss, else halved until it does."""
    grad = cr.grad(loss, method=method)
    hess = cr.hessian(loss, method=method)
    norms = []
    for it in range(iters):
        g = np.asarray(grad(p, t, y))
        norms.append(float(np.linalg.norm(g)))
        if verbose:
            print(f"  step {it:2d}: loss {float(loss(p, t, y)):.12e}   |grad| {norms[-1]:.3e}")
        if norms[-1] < tol:
            break
        step = np.linalg.solve(np.asarray(hess(p, t, y)), -g)
        s = 1.0
        while float(loss(p + s * step, t, y)) > float(loss(p, t, y)) and s > 1e-8:
            s *= 0.5
        p = p + s * step
    return p, norms


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--noise", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    t = np.linspace(0.0, 4.0, args.samples)
    y = model(TRUE, t) + args.noise * rng.standard_normal(args.samples)
    p0 = np.array([1.0, 0.5, 0.0])
    print(f"fitting a·exp(-b·t) + c to {args.samples} noisy samples, from (a, b, c) = {p0}")
    p, norms = newton(p0, t, y)
    # the least-squares optimum satisfies J^T r = 0; check it with a Jacobian of the residuals
    jac = np.asarray(cr.jacrev(lambda q: model(q, t) - y)(p))
    normal_eq = float(np.linalg.norm(jac.T @ (np.asarray(model(p, t)) - y)))
    print(f"  fitted (a, b, c) = ({p[0]:.4f}, {p[1]:.4f}, {p[2]:.4f}); true "
          f"({TRUE[0]}, {TRUE[1]}, {TRUE[2]}); |J^T r| = {normal_eq:.1e}")
    return {"params": p, "grad_norms": norms, "normal_equations": normal_eq}


if __name__ == "__main__":
    main()
