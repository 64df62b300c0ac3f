"""Maximum likelihood with `chainrule.scipy.stats`: fit a Student-t model by Newton's method.

Heavy-tailed data (a location, a scale and the degrees of freedom to estimate) are fitted by
minimising the negative log-likelihood `-Σ t.logpdf(x, df, loc, scale)` over
θ = (loc, log scale, log df) — the logs keep scale and df positive. Each Newton step uses the
exact gradient and Hessian (`cr.grad`, `cr.hessian`: the log-density is written with
`gammaln`, `log1p`, ..., so its second derivatives come from the rule table). At the optimum
the inverse Hessian is the asymptotic covariance of the estimate: its diagonal gives standard
errors, which are compared with the spread of the estimate over repeated samples.

    python examples/student_t_fit.py
"""
from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import scipy.stats

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.scipy import stats

TRUE = {"loc": 1.5, "scale": 0.8, "df": 4.0}


def nll(theta: Any, x: np.ndarray) -> Any:
    """The negative log-likelihood of the sample `x` at θ = (loc, log scale, log df)."""
    loc, scale, df = theta[0], cnp.exp(theta[1]), cnp.exp(theta[2])
    return -cnp.sum(stats.t.logpdf(x, df, loc, scale))


def fit(x: np.ndarray, iters: int = 30, tol: float = 1e-10,
        verbose: bool = True) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Damped Newton from the median and the interquartile range; returns θ̂, the Hessian at
    θ̂ and the gradient norms of the steps."""
    q1, q3 = np.percentile(x, [25, 75])
    theta = np.array([np.median(x), np.log((q3 - q1) / 1.35), np.log(10.0)])
    grad, hess = cr.grad(nll), cr.hessian(nll)
    norms = []
    for it in range(iters):
        g = np.asarray(grad(theta, x))
        norms.append(float(np.linalg.norm(g)))
        if verbose:
            print(f"  step {it:2d}: nll {float(nll(theta, x)):.10f}   |grad| {norms[-1]:.2e}")
        if norms[-1] < tol:
            break
        h = np.asarray(hess(theta, x))
        # (far from the optimum the Hessian may not be positive definite: shift it until it is)
        shift = 0.0
        while np.min(np.linalg.eigvalsh(h + shift * np.eye(3))) <= 0:
            shift = max(2 * shift, 1e-3)
        step = np.linalg.solve(h + shift * np.eye(3), -g)
        s = 1.0
        while float(nll(theta + s * step, x)) > float(nll(theta, x)) and s > 1e-8:
            s *= 0.5
        theta = theta + s * step
    return theta, np.asarray(hess(theta, x)), norms


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=20,
                    help="fresh samples fitted to measure the estimate's spread")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    draw = scipy.stats.t(TRUE["df"], TRUE["loc"], TRUE["scale"])
    x = draw.rvs(args.samples, random_state=rng)
    print(f"fitting a Student-t to {args.samples} samples "
          f"(true loc {TRUE['loc']}, scale {TRUE['scale']}, df {TRUE['df']})")
    theta, h, norms = fit(x)
    cov = np.linalg.inv(h)
    errors = np.sqrt(np.diag(cov))
    names = ["loc", "log scale", "log df"]
    truth = np.array([TRUE["loc"], np.log(TRUE["scale"]), np.log(TRUE["df"])])
    print(f"{'':10s}{'estimate':>12s}{'std error':>12s}{'true':>10s}")
    for n, v, e, w in zip(names, theta, errors, truth):
        print(f"{n:10s}{v:12.4f}{e:12.4f}{w:10.4f}")
    reference = scipy.stats.t.fit(x)  # (SciPy's own optimiser: df, loc, scale)
    print(f"scipy.stats.t.fit: df {reference[0]:.4f}, loc {reference[1]:.4f}, "
          f"scale {reference[2]:.4f}")
    spread = None
    if args.repeats:
        fits = np.array([fit(draw.rvs(args.samples, random_state=rng), verbose=False)[0]
                         for _ in range(args.repeats)])
        spread = fits.std(axis=0, ddof=1)
        print("spread over", args.repeats, "fresh samples:",
              ", ".join(f"{n} {s:.4f}" for n, s in zip(names, spread)))
    return {"theta": theta, "std_errors": errors, "grad_norms": norms, "truth": truth,
            "scipy_fit": reference, "spread": spread}


if __name__ == "__main__":
    main()
