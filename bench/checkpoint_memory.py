"""Memory and time of rematerialisation (`cr.checkpoint`) on a deep tanh chain.

    python bench/checkpoint_memory.py

100 layers h = tanh(W_i @ h), h of shape (256, 64), W_i (256, 256) ~ N(0, 1)/sqrt(256) (seed 0),
loss = sum(h**2). The gradient is taken (a) plainly and (b) with `cr.checkpoint` around each
segment of 10 layers, with respect to h0 and with respect to the list of W. Target: peak
(checkpointed) <= 1/4 peak (plain), at <= 1.5x the time.

Peak memory is tracemalloc's peak of traced allocations during one gradient call. Tracing starts
after the inputs exist, so they are excluded; NumPy reports its array buffers to tracemalloc. The
gradient w.r.t. the W list is itself 50 MiB (twice the 25 MiB of saved activations), so that case
sets the floor of that case's peak; the memory held between the forward and the backward pass is
shown as well. Times are medians of 5 calls (the variants taking turns), without
tracing.
"""
from __future__ import annotations

from isolation import isolate

isolate()

import argparse  # noqa: E402
import functools  # noqa: E402
import gc  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import chainrule as cr  # noqa: E402
import chainrule.numpy as cnp  # noqa: E402

DEPTH, WIDTH, BATCH, SEGMENT = 100, 256, 64, 10
MIB = 2.0**20


def make_inputs(seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    ws = [rng.standard_normal((WIDTH, WIDTH)) / np.sqrt(WIDTH) for _ in range(DEPTH)]
    h0 = rng.standard_normal((WIDTH, BATCH))
    return ws, h0


def layers(ws: list[Any], h: Any) -> Any:
    for w in ws:
        h = cnp.tanh(w @ h)
    return h


def loss_plain(ws: list[Any], h0: Any) -> Any:
    return cnp.sum(layers(ws, h0) ** 2)


_layers_remat = cr.checkpoint(layers)


def loss_checkpointed(ws: list[Any], h0: Any) -> Any:
    h = h0
    for i in range(0, len(ws), SEGMENT):
        h = _layers_remat(ws[i:i + SEGMENT], h)
    return cnp.sum(h**2)


def loss_checkpointed_h_only(ws: list[Any], h0: Any) -> Any:
    """Each segment takes h alone and closes over its W: for the gradient w.r.t. h0 only, where
    the W are constants. It shows what the segments' backward costs when it does not also
    compute cotangents for the W that nobody asked for."""
    h = h0
    for i in range(0, len(ws), SEGMENT):
        h = cr.checkpoint(functools.partial(layers, ws[i:i + SEGMENT]))(h)
    return cnp.sum(h**2)


VARIANTS = (("plain", loss_plain), ("checkpointed", loss_checkpointed))
CASES = (("h0", 1, VARIANTS + (("ckpt, W const", loss_checkpointed_h_only),)),
         ("W list", 0, VARIANTS))


def hand_gradients(ws: list[np.ndarray], h0: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Backpropagation written out in NumPy: (d loss / d W_i, d loss / d h0)."""
    hs = [h0]
    for w in ws:
        hs.append(np.tanh(w @ hs[-1]))
    ct = 2.0 * hs[-1]
    gws: list[np.ndarray] = []
    for w, h_in, h_out in zip(ws[::-1], hs[-2::-1], hs[:0:-1]):
        da = ct * (1.0 - h_out * h_out)
        gws.append(da @ h_in.T)
        ct = w.T @ da
    return gws[::-1], ct


def traced_mib(call: Callable[[], Any]) -> tuple[float, float]:
    """(peak MiB traced during `call`, MiB still held when it returns, its result alive)."""
    gc.collect()
    tracemalloc.start()
    try:
        result = call()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return peak / MIB, current / MIB


def median_seconds(calls: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median seconds of each call, after a warm-up; the calls take turns within each repeat so
    that a slow spell of a shared machine hits all of them alike."""
    for call in calls.values():
        call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            t0 = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def agree(a: Any, b: Any) -> bool:
    la = a if isinstance(a, list) else [a]
    lb = b if isinstance(b, list) else [b]
    return len(la) == len(lb) and all(np.allclose(x, y, rtol=1e-6) for x, y in zip(la, lb))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)

    ws, h0 = make_inputs()
    hand_ws, hand_h0 = hand_gradients(ws, h0)
    activations = DEPTH * 2 * WIDTH * BATCH * 8 / MIB
    print(f"{DEPTH} layers h = tanh(W @ h), h {WIDTH}x{BATCH}, segments of {SEGMENT}; inputs "
          f"{(DEPTH * WIDTH * WIDTH + WIDTH * BATCH) * 8 / MIB:.1f} MiB (not traced); "
          f"W@h and tanh outputs of all layers: {activations:.1f} MiB")
    print()
    header = f"{'gradient w.r.t.':<16} {'variant':<13} {'peak MiB':>9} {'time ms':>9}"
    print(header)
    print("-" * len(header))

    failed = False
    for label, argnum, variants in CASES:
        want = hand_h0 if argnum == 1 else hand_ws
        grads = {variant: cr.grad(loss, argnums=argnum) for variant, loss in variants}
        got: dict[str, Any] = {}
        peaks: dict[str, float] = {}
        for variant, g in grads.items():
            got[variant] = g(ws, h0)
            if not agree(got[variant], want):
                print(f"WRONG: {variant} gradient w.r.t. {label} disagrees with hand-written "
                      f"backpropagation", file=sys.stderr)
                failed = True
            peaks[variant], _ = traced_mib(functools.partial(g, ws, h0))
        secs = median_seconds({v: functools.partial(g, ws, h0) for v, g in grads.items()},
                              args.repeats)
        for variant in grads:
            line = f"{label:<16} {variant:<13} {peaks[variant]:>9.2f} {secs[variant] * 1e3:>9.1f}"
            if variant != "plain":
                mem = peaks[variant] / peaks["plain"]
                slow = secs[variant] / secs["plain"]
                same = agree(got["plain"], got[variant])
                failed = failed or not same
                line += (f"   ratio {mem:.3f} memory, {slow:.2f}x time: memory "
                         f"{'met' if mem <= 0.25 else 'MISSED'} (<= 0.25), time "
                         f"{'met' if slow <= 1.5 else 'MISSED'} (<= 1.5x); gradient "
                         f"{'agrees' if same else 'DISAGREES'} with plain")
            print(line)
        print()

    print("Held between the forward and the backward pass (cr.vjp w.r.t. W list and h0, the "
          "pullback alive):")
    for variant, loss in VARIANTS:
        _, held = traced_mib(functools.partial(cr.vjp, loss, ws, h0))
        print(f"  {variant:<13} {held:>7.2f} MiB")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
