"""Differentiable simulation: aim a vibrating chain by its initial velocities.

A chain of `n` masses joined by springs (both ends fixed, a cubic stiffening term, light damping)
is stepped `steps` times with semi-implicit Euler inside `cr.fori_loop`. We look for the initial
velocities that bring the chain to a target shape at the final time: the loss is the mean squared
distance between the final positions and the target, and its gradient with respect to all `n`
initial velocities comes from one reverse-mode pass back through every step.

Reverse mode keeps what each step's backward needs, so its memory grows with the number of steps.
`cr.checkpoint` around segments of the loop keeps only each segment's input state and recomputes
the segment when the backward pass reaches it. Run once plain and once checkpointed, the example
prints both gradients' peak memory (tracemalloc) and time, then optimises the velocities by
L-BFGS (each iteration one checkpointed gradient).

    python examples/spring_chain.py                 # 256 masses, 2,000 steps
    python examples/spring_chain.py --n 64 --steps 200 --iters 50
"""
from __future__ import annotations

import argparse
import math
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

import chainrule as cr
import chainrule.numpy as cnp

DT = 0.005
STIFFNESS = 400.0  # spring constant per link (unit masses)
CUBIC = 2000.0  # stiffening: the force grows like stretch + (CUBIC/STIFFNESS) stretch**3
DAMPING = 0.05


def step(state: tuple[Any, Any]) -> tuple[Any, Any]:
    """One semi-implicit Euler step of the chain: velocities first, then positions."""
    x, v = state
    padded = cnp.concatenate([cnp.zeros(1), x, cnp.zeros(1)])  # fixed ends
    stretch = padded[1:] - padded[:-1]  # one per spring
    tension = STIFFNESS * stretch + CUBIC * stretch ** 3
    force = tension[1:] - tension[:-1] - DAMPING * v
    v = v + DT * force
    return x + DT * v, v


def simulate(v0: Any, steps: int, segment: int | None = None) -> Any:
    """Final positions after `steps` steps from rest at x = 0 with velocities `v0`. With
    `segment`, the loop runs as checkpointed segments of that many steps."""
    state = (cnp.zeros_like(v0), v0)

    def run(k: int) -> Callable[[Any, Any], tuple[Any, Any]]:
        def segment_fn(x: Any, v: Any) -> tuple[Any, Any]:
            return cr.fori_loop(0, k, lambda i, s: step(s), (x, v))
        return segment_fn

    if segment is None:
        return cr.fori_loop(0, steps, lambda i, s: step(s), state)[0]
    done = 0
    while done < steps:
        k = min(segment, steps - done)
        state = cr.checkpoint(run(k))(*state)
        done += k
    return state[0]


def loss(v0: Any, target: np.ndarray, steps: int, segment: int | None = None) -> Any:
    return cnp.mean((simulate(v0, steps, segment) - target) ** 2)


def measured(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """(result, peak MiB allocated while it ran, seconds)."""
    tracemalloc.start()
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return out, peak, seconds


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=256, help="number of masses")
    ap.add_argument("--steps", type=int, default=2000, help="time steps")
    ap.add_argument("--iters", type=int, default=40, help="L-BFGS iterations")
    args = ap.parse_args(argv)
    n, steps = args.n, args.steps
    segment = max(1, round(math.sqrt(steps)))  # √steps segments of √steps steps

    # the target is where a known initial kick (a smooth bump) takes the chain: reachable
    s = np.linspace(0.0, 1.0, n)
    kick = 2.0 * np.exp(-((s - 0.3) / 0.1) ** 2)
    target = np.asarray(simulate(kick, steps))
    v0 = np.zeros(n)

    grad_plain = cr.grad(lambda v: loss(v, target, steps))
    grad_ckpt = cr.grad(lambda v: loss(v, target, steps, segment))
    g1, mem_plain, t_plain = measured(lambda: grad_plain(v0))
    g2, mem_ckpt, t_ckpt = measured(lambda: grad_ckpt(v0))
    # time again without tracemalloc's bookkeeping, which slows allocation-heavy code unevenly
    t_plain = min(measured_time(lambda: grad_plain(v0)) for _ in range(2))
    t_ckpt = min(measured_time(lambda: grad_ckpt(v0)) for _ in range(2))
    same = float(np.max(np.abs(np.asarray(g1) - np.asarray(g2))))
    print(f"chain of {n} masses, {steps} steps; gradient w.r.t. {n} initial velocities")
    print(f"  plain        : peak {mem_plain:8.2f} MiB, {t_plain * 1e3:8.1f} ms")
    print(f"  checkpointed : peak {mem_ckpt:8.2f} MiB, {t_ckpt * 1e3:8.1f} ms "
          f"({segment}-step segments)")
    print(f"  memory ÷ {mem_plain / mem_ckpt:.1f}, time × {t_ckpt / t_plain:.2f}, "
          f"gradients differ by {same:.1e}")

    # L-BFGS on the initial velocities: gradient steps bent by the curvature seen in the last
    # few (step, gradient change) pairs, with a backtracking line search
    value_and_grad = cr.value_and_grad(lambda v: loss(v, target, steps, segment))
    value, g = value_and_grad(v0)
    value, g = float(value), np.asarray(g)
    first, history = value, []
    for it in range(args.iters):
        d = -lbfgs_direction(g, history)
        t = 1.0
        while t > 1e-10:  # Armijo: accept when the loss falls enough along d
            trial = v0 + t * d
            trial_value = float(loss(trial, target, steps))  # (forward only)
            if trial_value <= value + 1e-4 * t * float(g @ d):
                break
            t *= 0.5
        new_value, new_g = value_and_grad(trial)
        new_value, new_g = float(new_value), np.asarray(new_g)
        history = (history + [(trial - v0, new_g - g)])[-10:]
        v0, value, g = trial, new_value, new_g
        if it % max(1, args.iters // 5) == 0 or it == args.iters - 1:
            print(f"  iteration {it:4d}: loss {value:.3e}")
    final = float(loss(v0, target, steps))
    miss = float(np.max(np.abs(np.asarray(simulate(v0, steps)) - target)))
    print(f"  loss {first:.3e} -> {final:.3e}; largest miss of the target shape "
          f"{miss:.2e} (the target's largest displacement is {np.max(np.abs(target)):.2e})")
    return {"memory_ratio": mem_plain / mem_ckpt, "time_ratio": t_ckpt / t_plain,
            "grad_difference": same, "first_loss": first, "final_loss": final,
            "miss": miss, "target_scale": float(np.max(np.abs(target)))}


def lbfgs_direction(g: np.ndarray, history: list[tuple[np.ndarray, np.ndarray]]
                    ) -> np.ndarray:
    """The L-BFGS two-loop recursion: the inverse-Hessian estimate from `history` (pairs of
    parameter step s and gradient change y) applied to the gradient `g`."""
    q, alphas = g.copy(), []
    pairs = [(s, y) for s, y in history if s @ y > 1e-12]  # (keep the estimate positive)
    for s, y in reversed(pairs):
        a = (s @ q) / (s @ y)
        alphas.append(a)
        q -= a * y
    if pairs:
        s, y = pairs[-1]
        q *= (s @ y) / (y @ y)
    for (s, y), a in zip(pairs, reversed(alphas)):
        q += (a - (y @ q) / (s @ y)) * s
    return q


def measured_time(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
