"""Memory and time of binomial checkpointing (`checkpoint=cr.binomial(s)`) on a long loop.

    python bench/binomial_checkpoint.py                       # 64 masses, 100,000 steps
    python bench/binomial_checkpoint.py --steps 20000 --snapshots 10 100

The spring chain of examples/spring_chain.py (its `step`: semi-implicit Euler, cubic springs,
damping) is run for `--steps` steps by `cr.fori_loop` from rest with random initial velocities
(seed 0, scale 0.1); the loss is the mean squared final position, differentiated with respect
to the initial velocities by reverse mode (method="overload"). (Over 100,000 steps the damping
takes most of the motion away: the loss and its gradient are small, so the checks below are
relative.) Variants:

- `store all`: `checkpoint=None`, today's loop: the tape keeps what every step needs;
- `every state`: `cr.binomial(steps)`, the checkpointed loop storing every state (nothing is
  recomputed): the same machinery as the binomial rows, so that the difference between them
  is the recomputation alone;
- `binomial s`: `cr.binomial(s)` for each `--snapshots`.

Peak memory is tracemalloc's peak of traced allocations during one gradient call, after a
warm-up call (the inputs exist before tracing starts, so they are excluded). Times are medians
of `--repeats` calls without tracing, the variants taking turns. The forward steps each variant
ran are counted in the loop (chainrule.graph.revolve.STEPS) and shown beside the theory: the
forward pass runs the `steps` steps once; the backward pass reverses each step once (its VJP,
which runs that step forward inside it) and runs steps forward again between snapshots:
Griewank and Walther's minimum t(n, s) = r n - C(s + r, s + 1) forward steps in all, the forward
sweep included, where r is the least integer with C(s + r, s) >= n; the loop runs one more, the
last step, run by the forward pass for the loop's value (Revolve counts it inside the first
reversal). Every gradient is checked against the store-all one (largest difference relative to
the largest entry), which is checked against a central finite difference along a random
direction.

Targets (issue 18): peak memory at least 100x lower than storing every step, at most 3x the
time.
"""
from __future__ import annotations

from isolation import isolate

isolate()

import argparse  # noqa: E402
import gc  # noqa: E402
import pathlib  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import chainrule as cr  # noqa: E402
import chainrule.numpy as cnp  # noqa: E402
from chainrule.graph.revolve import STEPS  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "examples"))
from spring_chain import step  # noqa: E402

MIB = 2.0 ** 20


def make_loss(steps: int, policy: Any) -> Callable[[Any], Any]:
    def loss(v0: Any) -> Any:
        state = (cnp.zeros_like(v0), v0)
        x = cr.fori_loop(0, steps, lambda i, s: step(s), state, checkpoint=policy)[0]
        return cnp.mean(x ** 2)
    return loss


def traced_mib(call: Callable[[], Any]) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak / MIB


def median_seconds(calls: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            gc.collect()
            t0 = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=64, help="number of masses")
    ap.add_argument("--steps", type=int, default=100_000, help="time steps")
    ap.add_argument("--snapshots", type=int, nargs="+", default=[10, 30, 100, 300])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    n, steps = args.n, args.steps
    rng = np.random.default_rng(0)
    v0 = 0.1 * rng.standard_normal(n)

    variants: dict[str, Any] = {"store all": None, "every state": cr.binomial(steps)}
    variants.update({f"binomial {s}": cr.binomial(s) for s in args.snapshots})
    grads = {name: cr.grad(make_loss(steps, policy)) for name, policy in variants.items()}

    print(f"spring chain of {n} masses, {steps} steps (examples/spring_chain.py), gradient "
          f"w.r.t. the {n} initial velocities; one state: {2 * n * 8 / 1024:.1f} KiB")
    print()
    got: dict[str, np.ndarray] = {}
    measured: dict[str, tuple[int, int]] = {}
    peaks: dict[str, float] = {}
    for name, g in grads.items():
        STEPS.reset()
        got[name] = np.asarray(g(v0))  # (warm-up; also counts one call's steps)
        measured[name] = (STEPS.forward, STEPS.reverse)
        peaks[name] = traced_mib(lambda g=g: g(v0))

    # the store-all gradient against a central difference along a random direction
    u = rng.standard_normal(n)
    h = 1e-6
    loss = make_loss(steps, None)
    fd = (float(loss(v0 + h * u)) - float(loss(v0 - h * u))) / (2 * h)
    along = float(got["store all"] @ u)
    fd_ok = abs(fd - along) <= 1e-5 * abs(along)  # (relative: the damping makes both small)
    failed = not fd_ok
    print(f"loss {float(loss(v0)):.3e}; store-all gradient along a random direction "
          f"{along:.9e}, central difference {fd:.9e}: {'agree' if fd_ok else 'DISAGREE'}")
    print()

    secs = median_seconds({name: (lambda g=g: g(v0)) for name, g in grads.items()},
                          args.repeats)
    header = (f"{'variant':<14} {'peak MiB':>9} {'time s':>8} {'mem ÷':>8} {'time ×':>7} "
              f"{'fwd steps':>10} {'t(n,s)+1':>10} {'reversed':>9} {'rel. diff':>9}")
    print(header)
    print("-" * len(header))
    base_mem, base_t = peaks["store all"], secs["store all"]
    for name, policy in variants.items():
        diff = float(np.max(np.abs(got[name] - got["store all"])))
        scale = float(np.max(np.abs(got["store all"])))
        same = diff <= 1e-9 * scale
        failed = failed or not same
        fwd, rev = measured[name]
        theory = "" if policy is None else str(policy.forward_steps(steps) + 1)
        counts = "" if policy is None else str(fwd)
        reversed_ = "" if policy is None else str(rev)
        if policy is not None and (fwd, rev) != (policy.forward_steps(steps) + 1, steps):
            failed = True
        print(f"{name:<14} {peaks[name]:>9.2f} {secs[name]:>8.2f} "
              f"{base_mem / peaks[name]:>8.1f} {secs[name] / base_t:>7.2f} {counts:>10} "
              f"{theory:>10} {reversed_:>9} {diff / scale:>9.1e}"
              f"{'' if same else '  DISAGREES'}")
    print()
    every_mem, every_t = peaks["every state"], secs["every state"]
    for s in args.snapshots:
        name = f"binomial {s}"
        mem, slow = base_mem / peaks[name], secs[name] / base_t
        print(f"{name}: memory ÷{mem:.0f} ({'met' if mem >= 100 else 'MISSED'}: >= 100), time "
              f"×{slow:.2f} ({'met' if slow <= 3 else 'MISSED'}: <= 3) against store all; "
              f"against every state (the same loop, nothing recomputed): memory "
              f"÷{every_mem / peaks[name]:.0f}, time ×{secs[name] / every_t:.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
