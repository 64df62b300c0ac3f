"""Measure what docs/which-method.md reports: for each method, the first call of a gradient
(tracing, code generation, compilation included), a repeated call (median), and the peak memory
of the first call (tracemalloc: Python allocations, NumPy's arrays included); then the cliffs:
a Python loop under the graph method (unrolled: its graph grows with the trip count) against
`cr.fori_loop`, and the symbolic method on growing arrays.

    python bench/which_method.py            # pinned to one core with taskset where available
"""
from __future__ import annotations

import gc
import statistics
import sys
import time
import tracemalloc

import numpy as np

import chainrule as cr
import chainrule.numpy as cnp

METHODS = ("overload", "graph", "source", "symbolic", "numeric")


def make_mlp_loss():
    """A new function object each time (the code-generating methods cache per function: each
    table measures its own first call)."""
    def mlp_loss(w1, w2, x, y):
        h = np.tanh(x @ w1)
        return np.mean((h @ w2 - y) ** 2)
    return mlp_loss


def measure(make, args, repeats=20):
    gc.collect()
    tracemalloc.start()
    t0 = time.perf_counter()
    g = make()
    g(*args)
    first = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        g(*args)
        times.append(time.perf_counter() - t0)
    return first, statistics.median(times), peak


def fmt_t(s):
    return f"{s * 1e3:.3g} ms" if s < 1 else f"{s:.3g} s"


def table(name, args, make_f, methods=METHODS, repeats=20):
    print(f"\n{name}")
    print("| method | first call | repeated call | peak memory, first call |")
    print("|---|---|---|---|")
    for m in methods:
        f = make_f()
        first, again, peak = measure(lambda m=m, f=f: cr.grad(f, argnums=(0, 1), method=m), args,
                                     repeats)
        print(f"| {m} | {fmt_t(first)} | {fmt_t(again)} | {peak / 2**20:.3g} MiB |")
    f = make_f()
    first, again, peak = measure(lambda: cr.jit(cr.grad(f, argnums=(0, 1))), args, repeats)
    print(f"| graph via cr.jit(cr.grad(f)) | {fmt_t(first)} | {fmt_t(again)} | "
          f"{peak / 2**20:.3g} MiB |")


def loop_cliff(n_values=(100, 1000, 10000)):
    print("\nA Python loop of n steps, x <- sin(x) * 0.99 + 0.01 (graph unrolls it)")
    print("| n | Python loop: first call | repeated call | peak memory | cr.fori_loop: first "
          "call | repeated call | peak memory |")
    print("|---|---|---|---|---|---|---|")

    for n in n_values:
        def unrolled(x, n=n):
            for _ in range(n):
                x = np.sin(x) * 0.99 + 0.01
            return np.sum(x)

        def rolled(x, n=n):
            return cnp.sum(cr.fori_loop(0, n, lambda i, x: cnp.sin(x) * 0.99 + 0.01, x))

        x = np.linspace(0.0, 1.0, 8)
        a = measure(lambda: cr.grad(unrolled, method="graph"), (x,), repeats=3)
        b = measure(lambda: cr.grad(rolled, method="graph"), (x,), repeats=3)
        np.testing.assert_allclose(cr.grad(unrolled, method="graph")(x),
                                   cr.grad(rolled, method="graph")(x), rtol=1e-9)
        print(f"| {n} | {fmt_t(a[0])} | {fmt_t(a[1])} | {a[2] / 2**20:.3g} MiB | "
              f"{fmt_t(b[0])} | {fmt_t(b[1])} | {b[2] / 2**20:.3g} MiB |")


def symbolic_cliff(sizes=(4, 16, 64)):
    print("\nThe symbolic method on growing arrays: f(x) = sum(tanh(A @ x)), A n x n")
    print("| n | symbolic: first call | overload: first call |")
    print("|---|---|---|")
    for n in sizes:
        a = np.random.default_rng(0).normal(size=(n, n)) / n

        def f(x, a=a):
            return np.sum(np.tanh(a @ x))

        x = np.ones(n)
        s = measure(lambda: cr.grad(f, method="symbolic"), (x,), repeats=1)
        o = measure(lambda: cr.grad(f, method="overload"), (x,), repeats=1)
        print(f"| {n} | {fmt_t(s[0])} | {fmt_t(o[0])} |")


def main():
    rng = np.random.default_rng(0)
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}")
    small = (rng.normal(size=(3, 4)), rng.normal(size=(4, 1)), rng.normal(size=(5, 3)),
             rng.normal(size=(5, 1)))
    table("Small (a 3-4-1 tanh network, 5 examples: 16 parameters)", small, make_mlp_loss)
    big = (rng.normal(size=(64, 128)) / 8, rng.normal(size=(128, 10)) / 11,
           rng.normal(size=(256, 64)), rng.normal(size=(256, 10)))
    table("Medium (a 64-128-10 tanh network, 256 examples: 9472 parameters)", big, make_mlp_loss,
          methods=("overload", "graph", "source", "numeric"), repeats=5)
    loop_cliff()
    symbolic_cliff()


if __name__ == "__main__":
    main()
