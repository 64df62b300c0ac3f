"""Memory and time of the adjoint gradient of `chainrule.scipy.integrate.odeint` against
differentiating through a fixed-step RK4 loop.

    python bench/ode_adjoint.py [--n 64] [--repeats 3] [--rk4-steps 1000 3000 10000]

The system: n = 64 units, dy/dt = -y + tanh(W y) + b, W ~ N(0, 1.5²/n) and b ~ N(0, 0.1²)
(seed 0), y0 ~ N(0, 1), integrated from t = 0 to t = 5; loss = sum(y(5)²). The gradient is
taken with respect to W (n² = 4096 parameters) and b:

- adjoint: `cr.grad` of `odeint` (SciPy's LSODA forward, the adjoint system backwards), at
  rtol = atol = 1e-4 ... 1e-10: the solver's step count grows with the accuracy asked for;
- naive: `cr.grad` of a fixed-step RK4 loop written with `cr.fori_loop`, at 1e3, 3e3 and 1e4
  steps: reverse mode keeps what every step needs.

Peak memory is tracemalloc's peak of traced allocations during one gradient call (the inputs
exist before tracing starts; NumPy reports its buffers to tracemalloc). Times are medians of
`--repeats` calls without tracing. The gradients are checked against each other: the adjoint at
1e-10 against RK4 at 1e4 steps (whose own error is about h⁴ ~ 1e-10). The step counts are
LSODA's (forward solve; the backward solve takes a similar number).
"""
from __future__ import annotations

from isolation import isolate

isolate()

import argparse  # noqa: E402
import gc  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import scipy.integrate  # noqa: E402

import chainrule as cr  # noqa: E402
import chainrule.numpy as cnp  # noqa: E402
from chainrule.scipy.integrate import odeint  # noqa: E402

MIB = 2.0**20
T_END = 5.0
TOLERANCES = (1e-4, 1e-6, 1e-8, 1e-10)


def make_inputs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((n, n)) * 1.5 / np.sqrt(n)
    b = 0.1 * rng.standard_normal(n)
    y0 = rng.standard_normal(n)
    return w, b, y0


def rates(y: Any, t: Any, w: Any, b: Any) -> Any:
    return -y + cnp.tanh(w @ y) + b


def adjoint_loss(w: Any, b: Any, y0: np.ndarray, tol: float) -> Any:
    ys = odeint(rates, y0, np.array([0.0, T_END]), w, b, rtol=tol, atol=tol)
    return cnp.sum(ys[-1] ** 2)


def rk4_loss(w: Any, b: Any, y0: np.ndarray, steps: int) -> Any:
    h = T_END / steps

    def step(i: int, y: Any) -> Any:
        k1 = rates(y, 0.0, w, b)
        k2 = rates(y + 0.5 * h * k1, 0.0, w, b)
        k3 = rates(y + 0.5 * h * k2, 0.0, w, b)
        k4 = rates(y + h * k3, 0.0, w, b)
        return y + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)

    y = cr.fori_loop(0, steps, step, cnp.asarray(y0))
    return cnp.sum(y ** 2)


def lsoda_steps(w: np.ndarray, b: np.ndarray, y0: np.ndarray, tol: float) -> int:
    _, info = scipy.integrate.odeint(lambda y, t: -y + np.tanh(w @ y) + b, y0, [0.0, T_END],
                                     rtol=tol, atol=tol, full_output=True)
    return int(info["nst"][-1])


def traced_peak_mib(call: Callable[[], Any]) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        result = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return peak / MIB


def median_seconds(call: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def relative(a: tuple[Any, Any], b: tuple[Any, Any]) -> float:
    num = sum(float(np.linalg.norm(np.asarray(x) - np.asarray(y))) for x, y in zip(a, b))
    return num / sum(float(np.linalg.norm(np.asarray(y))) for y in b)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rk4-steps", type=int, nargs="+", default=[1000, 3000, 10000])
    args = ap.parse_args(argv)

    w, b, y0 = make_inputs(args.n)
    print(f"dy/dt = -y + tanh(W y) + b, n = {args.n}, t in [0, {T_END}], gradient of "
          f"sum(y(T)^2) w.r.t. W ({args.n}x{args.n}) and b; inputs "
          f"{(w.nbytes + b.nbytes + y0.nbytes) / MIB:.2f} MiB (not traced)")
    print()
    header = f"{'route':<9} {'setting':<14} {'steps':>7} {'peak MiB':>9} {'time s':>8}"
    print(header)
    print("-" * len(header))
    grads: dict[str, Any] = {}
    peaks: list[float] = []
    for tol in TOLERANCES:
        g = cr.grad(adjoint_loss, argnums=(0, 1))

        def call(g: Any = g, tol: float = tol) -> Any:
            return g(w, b, y0, tol)

        grads[f"adjoint {tol:g}"] = call()
        peak = traced_peak_mib(call)
        peaks.append(peak)
        secs = median_seconds(call, args.repeats)
        print(f"{'adjoint':<9} {f'tol {tol:g}':<14} {lsoda_steps(w, b, y0, tol):>7} "
              f"{peak:>9.2f} {secs:>8.3f}")
    naive_peaks = []
    for steps in args.rk4_steps:
        g = cr.grad(rk4_loss, argnums=(0, 1))

        def call(g: Any = g, steps: int = steps) -> Any:
            return g(w, b, y0, steps)

        grads[f"rk4 {steps}"] = call()
        peak = traced_peak_mib(call)
        naive_peaks.append(peak)
        secs = median_seconds(call, max(1, args.repeats // 2))
        print(f"{'RK4 loop':<9} {f'{steps} steps':<14} {steps:>7} {peak:>9.2f} {secs:>8.3f}")
    print()
    best_adjoint = grads[f"adjoint {TOLERANCES[-1]:g}"]
    best_naive = grads[f"rk4 {args.rk4_steps[-1]}"]
    diff = relative(best_adjoint, best_naive)
    print(f"adjoint (tol {TOLERANCES[-1]:g}) vs RK4 ({args.rk4_steps[-1]} steps): relative "
          f"difference of the gradients {diff:.2e}")
    for tol in TOLERANCES[:-1]:
        d = relative(grads[f"adjoint {tol:g}"], best_adjoint)
        print(f"  adjoint at tol {tol:g} vs adjoint at {TOLERANCES[-1]:g}: {d:.2e}")
    for steps in args.rk4_steps[:-1]:
        d = relative(grads[f"rk4 {steps}"], best_adjoint)
        print(f"  RK4 at {steps} steps vs adjoint at {TOLERANCES[-1]:g}: {d:.2e}")
    spread = max(peaks) / min(peaks)
    print(f"adjoint peak memory: {min(peaks):.2f} to {max(peaks):.2f} MiB over "
          f"{TOLERANCES[0]:g}..{TOLERANCES[-1]:g} (x{spread:.2f}); RK4 loop: "
          f"{naive_peaks[0]:.1f} to {naive_peaks[-1]:.1f} MiB over {args.rk4_steps[0]} to "
          f"{args.rk4_steps[-1]} steps (x{naive_peaks[-1] / naive_peaks[0]:.1f})")
    return 0 if diff < 1e-6 else 1


if __name__ == "__main__":
    sys.exit(main())
