"""Taylor mode against nested reverse mode: the k-th derivative of a scalar composite.

    python bench/taylor.py [--max-order 12] [--budget 3]

f(x) = exp(sin(x)) * tanh(x) / (1 + x²) at x = 0.7. For k = 1..12, `cr.derivatives(f, x,
order=k)` (one Taylor pass, all k derivatives at once) is timed against `cr.grad` nested k times
(the k-th derivative alone), which re-differentiates the whole derivative program each time: its
size and time grow about 2^k or faster. Nesting stops once one call of the nested gradient takes
more than `--budget` seconds, and the table says so. Times are medians of several calls after a
warm-up (one call where a call takes longer than a second), pinned to one core, single-threaded
BLAS. Every value is checked: the Taylor derivatives against the nested gradient where it ran,
and, where mpmath is installed, all of them against mpmath's derivatives in 50-digit arithmetic.
"""
from __future__ import annotations

from isolation import isolate

isolate()

import argparse  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import chainrule as cr  # noqa: E402
import chainrule.numpy as cnp  # noqa: E402

X0 = 0.7


def f(x: Any) -> Any:
    return cnp.exp(cnp.sin(x)) * cnp.tanh(x) / (1 + x**2)


def timed(call: Callable[[], Any], reps: int = 7) -> tuple[float, Any]:
    """(median seconds of a call, its value); fewer repeats for slow calls."""
    t0 = time.perf_counter()
    value = call()  # (warm-up, and a first estimate)
    first = time.perf_counter() - t0
    if first > 1.0:
        return first, value
    n = reps if first < 0.1 else 3
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), value


def reference(order: int) -> list[float] | None:
    """f's derivatives at X0 in 50-digit arithmetic (mpmath), or None without mpmath."""
    try:
        import mpmath
    except ImportError:
        return None
    mpmath.mp.dps = 50

    def g(x: Any) -> Any:
        return mpmath.exp(mpmath.sin(x)) * mpmath.tanh(x) / (1 + x**2)

    return [float(d) for d in mpmath.diffs(g, mpmath.mpf(X0), order)]


def fmt(seconds: float) -> str:
    return f"{seconds * 1e3:9.2f} ms" if seconds < 10 else f"{seconds:8.1f} s "


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-order", type=int, default=12)
    parser.add_argument("--budget", type=float, default=3.0,
                        help="stop nesting grad once one call takes longer (seconds)")
    args = parser.parse_args(argv)
    kmax = args.max_order
    ref = reference(kmax)
    print(f"f(x) = exp(sin(x)) * tanh(x) / (1 + x^2) at x = {X0}; k-th derivative")
    print()
    print("| k | cr.derivatives (all 0..k) | nested cr.grad (k-th only) | ratio grad/jet "
          "| f^(k)(x) | rel. diff jet vs grad | rel. diff jet vs mpmath |")
    print("|---|---|---|---|---|---|---|")
    nested: Callable[..., Any] | None = f
    stopped_at = None
    worst = 0.0
    for k in range(1, kmax + 1):
        t_jet, d = timed(lambda k=k: cr.derivatives(f, X0, order=k))
        row = f"| {k} | {fmt(t_jet)} |"
        if nested is not None:
            nested = cr.grad(nested)
            t_grad, g = timed(lambda: nested(X0))  # noqa: B023 - called at once
            diff = abs(d[k] - g) / max(1.0, abs(g))
            worst = max(worst, diff)
            row += f" {fmt(t_grad)} | {t_grad / t_jet:10.1f} |"
            if t_grad > args.budget:
                stopped_at = k
                nested = None
        else:
            diff = math.nan
            row += " (stopped) | |"
        row += f" {d[k]: .6e} | {diff:.1e} |"
        if ref is not None:
            e = abs(d[k] - ref[k]) / max(1.0, abs(ref[k]))
            worst = max(worst, e)
            row += f" {e:.1e} |"
        else:
            row += " (no mpmath) |"
        print(row)
    print()
    if stopped_at is not None:
        print(f"nested grad stopped after k = {stopped_at}: one call took more than "
              f"{args.budget:g} s")
    print(f"worst relative difference: {worst:.1e}")
    if worst > 1e-8:
        print("FAILED: the Taylor derivatives disagree with the references", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
