"""Sparse against dense Jacobians of a discretised PDE residual (`cr.sparse_jacobian` vs
`cr.jacfwd`).

    python bench/sparse_jacobian.py                # 100 x 100 grid: 10^4 unknowns
    python bench/sparse_jacobian.py --side 60      # another grid
    python bench/sparse_jacobian.py --extrapolate  # dense jacfwd on a subset of columns only

The residual is the 2-D Bratu problem on the unit square with zero boundary values, the
5-point Laplacian plus a nonlinear term: F(u) = (u_N + u_S + u_E + u_W - 4u)/h^2 + lam*exp(u).
Its Jacobian is the 5-point matrix plus diag(lam*exp(u)): about 5 nonzeros per row.

Timed, in one process pinned to one core with single-threaded BLAS, medians of repeats (the
process itself warm: imports done, one call made before timing):

- detection: `cr.jacobian_sparsity` of a new residual function each time (tracing F and
  propagating the index sets; a pattern is kept per function, so the same function would
  not be traced again);
- colouring: `chainrule.sparse.column_coloring`, its cache cleared before each run;
- evaluation: `cr.sparse_jacobian(F, u, sparsity=P)` (colouring cached: what a Newton loop
  pays at each step), for the overload and graph methods;
- the first call `cr.sparse_jacobian(F, u)` from nothing, cold: a new residual function each
  time and the colouring cache cleared, so it detects, colours and evaluates. The >= 100x
  target is judged on this one;
- a second call `cr.sparse_jacobian(F, u2)` of the same function at another point, warm: the
  pattern and its colouring are kept with the function (checked unchanged: what it reads
  from outside its arguments), so only the evaluation runs;
- dense `cr.jacfwd(F)(u)`, whole: at 10^4 unknowns the dense Jacobian is 10^8 numbers (800
  MB) and jacfwd's batched pass holds several arrays of that size (about 4 GB at the peak).
  Where that does not fit, `--extrapolate` times jacfwd's own pass (the JVPs of k basis
  vectors pushed at once through `cr.vmap` of `cr.jvp`, which is what `cr.jacfwd` does with
  all n of them) on k = n/20, n/10, n/5 columns and extrapolates linearly to n, and checks
  that extrapolation against the whole `cr.jacfwd` on a smaller grid (`--check-side`). It
  underestimates: the whole pass also assembles the (m, n) matrix and runs out of cache.

The sparse Jacobians (given pattern, cold and warm calls) are checked against the hand-derived
one at their points (SciPy's 5-point matrix plus the diagonal), and the first against the dense
columns that were computed. Results go to stdout only.
"""
from __future__ import annotations

from isolation import isolate

isolate()

import argparse  # noqa: E402
import gc  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

import chainrule as cr  # noqa: E402
import chainrule.numpy as cnp  # noqa: E402
import chainrule.sparse as crs  # noqa: E402

LAM = 6.0


def make_residual(side: int) -> Callable[[Any], Any]:
    h = 1.0 / (side + 1)

    def bratu(u: Any) -> Any:
        g = u.reshape(side, side)
        p = cnp.pad(g, 1)
        lap = (p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:] - 4.0 * g) / h ** 2
        return (lap + LAM * cnp.exp(g)).ravel()

    return bratu


def exact_jacobian(side: int, u: np.ndarray) -> Any:
    """By hand: the 5-point matrix / h^2 plus diag(lam * exp(u))."""
    h = 1.0 / (side + 1)
    t = sp.diags([1.0, -2.0, 1.0], [-1, 0, 1], shape=(side, side))
    i = sp.identity(side)
    return (sp.kron(i, t) + sp.kron(t, i)) / h ** 2 + sp.diags(LAM * np.exp(u))


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # (warm-up: imports, caches, compiled code)
    times = []
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def dense_columns(f: Callable[[Any], Any], u: np.ndarray, k: int) -> np.ndarray:
    """jacfwd's batched pass on the first k basis vectors: (k, m) tangents."""
    basis = np.eye(k, u.size)
    return np.asarray(cr.vmap(lambda s: cr.jvp(f, (u,), (s,))[1])(basis))


def extrapolated_dense(f: Callable[[Any], Any], u: np.ndarray, repeats: int
                       ) -> tuple[float, list[tuple[int, float]]]:
    """Seconds for all n columns, from a least-squares line through k = n/20, n/10, n/5."""
    n = u.size
    points = []
    for k in (max(n // 20, 1), max(n // 10, 1), max(n // 5, 1)):
        points.append((k, median_time(lambda k=k: dense_columns(f, u, k), repeats)))
    ks, ts = np.array([p[0] for p in points], float), np.array([p[1] for p in points])
    slope, intercept = np.polyfit(ks, ts, 1)
    return float(slope * n + max(intercept, 0.0)), points


def fmt(s: float) -> str:
    return f"{s * 1e3:.3g} ms" if s < 1 else f"{s:.3g} s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=100, help="grid side (n = side^2)")
    ap.add_argument("--check-side", type=int, default=60,
                    help="grid where the whole dense jacfwd is timed to check extrapolation")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--extrapolate", action="store_true",
                    help="time dense jacfwd on a subset of columns and extrapolate (less memory)")
    args = ap.parse_args()

    side, n = args.side, args.side ** 2
    f = make_residual(side)
    u = np.random.default_rng(0).uniform(0.0, 0.5, n)
    print(f"2-D Bratu residual, {side} x {side} grid: n = m = {n}, "
          f"lam = {LAM}, u ~ U(0, 0.5) (seed 0)\n")

    pattern = cr.jacobian_sparsity(f, u)
    colours = crs.column_coloring(pattern)
    jvps = int(colours.max()) + 1
    j = cr.sparse_jacobian(f, u, sparsity=pattern)
    err = abs(j - exact_jacobian(side, u)).max() / abs(exact_jacobian(side, u)).max()
    print(f"pattern: {pattern.nnz} nonzeros ({pattern.nnz / n:.2f} per row), exact: "
          f"{(pattern != (exact_jacobian(side, u) != 0)).nnz == 0}; colours (JVPs): {jvps}; "
          f"relative error against the hand-derived Jacobian: {err:.1e}")

    def cold_colouring() -> Any:
        crs._COLORINGS.clear()  # (the colouring cache: measure the colouring itself)
        return crs.column_coloring(pattern)

    def cold_first_call() -> Any:
        # a function never seen (its pattern is not kept) and no colouring cached: from nothing
        crs._COLORINGS.clear()
        return cr.sparse_jacobian(make_residual(side), u)

    rng = np.random.default_rng(2)
    others = [rng.uniform(0.0, 0.5, n) for _ in range(4)]
    turn = [0]

    def warm_second_call() -> Any:
        # the same function at another point: pattern and colouring kept with it
        turn[0] += 1
        return cr.sparse_jacobian(f, others[turn[0] % len(others)])

    t_detect = median_time(lambda: cr.jacobian_sparsity(make_residual(side), u), args.repeats)
    t_colour = median_time(cold_colouring, args.repeats)
    crs.column_coloring(pattern)
    t_eval = median_time(lambda: cr.sparse_jacobian(f, u, sparsity=pattern), args.repeats)
    t_eval_graph = median_time(lambda: cr.sparse_jacobian(f, u, sparsity=pattern,
                                                          method="graph"), args.repeats)
    t_cold = median_time(cold_first_call, args.repeats)
    cr.sparse_jacobian(f, u)  # (the first call of f: what the second calls reuse)
    t_warm = median_time(warm_second_call, args.repeats)

    # the cold and warm calls' results, against the hand-derived Jacobian at their points
    cold_err = abs(cold_first_call() - exact_jacobian(side, u)).max()
    warm_err = max(abs(cr.sparse_jacobian(f, o) - exact_jacobian(side, o)).max()
                   for o in others)
    scale = abs(exact_jacobian(side, u)).max()
    print(f"first (cold) and second (warm, other points) calls: relative errors against the "
          f"hand-derived Jacobians {cold_err / scale:.1e}, {warm_err / scale:.1e}")

    # the dense Jacobian
    points: list[tuple[int, float]] = []
    if args.extrapolate:
        check_side = args.check_side
        fc = make_residual(check_side)
        uc = np.random.default_rng(1).uniform(0.0, 0.5, check_side ** 2)
        t_check_whole = median_time(lambda: cr.jacfwd(fc)(uc), 3)
        t_check_extra, _ = extrapolated_dense(fc, uc, 3)
        t_dense, points = extrapolated_dense(f, u, 3)
        how = "extrapolated from k columns"
        print("dense jacfwd pass on k columns: "
              + ", ".join(f"k={kk}: {fmt(tt)}" for kk, tt in points))
        print(f"extrapolation check on a {check_side} x {check_side} grid (n = "
              f"{check_side ** 2}): whole cr.jacfwd {fmt(t_check_whole)}, extrapolated "
              f"{fmt(t_check_extra)} ({t_check_extra / t_check_whole:.2f}x)")
        k = points[-1][0]
        dense = dense_columns(f, u, k).T  # (m, k)
    else:
        t_dense = median_time(lambda: cr.jacfwd(f)(u), 3)
        how = "measured whole"
        dense = np.asarray(cr.jacfwd(f)(u))
        k = n
    agree = np.allclose(j[:, :k].toarray(), dense, rtol=1e-12, atol=1e-9)
    del dense
    print(f"sparse columns 0..{k - 1} equal cr.jacfwd's: {agree}\n")

    print(f"| {n} unknowns | derivative passes | time | dense jacfwd / this |")
    print("|---|---|---|---|")
    rows = [
        (f"cr.jacfwd, dense ({how})", f"{n} columns, 1 batched pass", t_dense),
        ("jacobian_sparsity (detection)", "0 (tracing)", t_detect),
        ("column_coloring", "0", t_colour),
        ("sparse_jacobian, pattern given (overload)", f"{jvps} JVPs, 1 batched pass", t_eval),
        ("sparse_jacobian, pattern given (graph)", f"{jvps} JVPs, compiled", t_eval_graph),
        ("sparse_jacobian, first call, cold (detect + colour + evaluate)", f"{jvps} JVPs",
         t_cold),
        ("sparse_jacobian, second call at another point, warm (evaluate)", f"{jvps} JVPs",
         t_warm),
    ]
    for name, passes, t in rows:
        print(f"| {name} | {passes} | {fmt(t)} | {t_dense / t:.0f}x |")
    print(f"\ntargets: JVPs <= 10: {jvps <= 10} ({jvps}); sparse_jacobian from nothing (the "
          f"cold first call) >= 100x faster than dense jacfwd: {t_dense / t_cold >= 100} "
          f"({t_dense / t_cold:.0f}x; the warm second call: {t_dense / t_warm:.0f}x, with the "
          f"pattern given: {t_dense / t_eval:.0f}x)")


if __name__ == "__main__":
    main()
