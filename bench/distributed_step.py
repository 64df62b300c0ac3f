"""Data-parallel step time on a local Dask cluster, 1 and 2 worker processes, against the same
gradient in one process (issue 17).

The demo's MLP (64 -> 256 -> 10) and its loss; X of --rows rows × 64 float64 persisted on the
workers in chunks of --chunk rows; one step = `chainrule.distributed.value_and_grad` over all
chunks (each chunk's gradient on its worker, summed as a tree) — the optimiser's update is on
the client and not timed. Median of --repeats steps after a warm-up.

    python bench/distributed_step.py [--rows 65536] [--chunk 4096] [--method graph]
"""
from __future__ import annotations

import argparse
import functools
import statistics
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=65_536)
    ap.add_argument("--chunk", type=int, default=4096)
    ap.add_argument("--method", default="graph")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()

    import dask.array as da
    from dask.distributed import Client, LocalCluster

    import chainrule as cr
    from chainrule import demo, distributed

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((args.rows, 64)), rng.integers(0, 10, args.rows)
    model = demo.build_model("mlp", 0)
    local = cr.value_and_grad(demo.loss_fn, method=args.method)

    def timed(call: object) -> float:
        call()  # type: ignore[operator]
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            call()  # type: ignore[operator]
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    want = local(model, x, y)[0]
    print(f"{args.rows:,} rows × 64, chunks of {args.chunk:,} rows "
          f"({args.rows // args.chunk} chunks), method={args.method}")
    print(f"one process, no Dask: {timed(lambda: local(model, x, y)) * 1e3:.1f} ms per step")
    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=None, silence_logs=40) as cluster, \
                Client(cluster):
            X = da.from_array(x, chunks=(args.chunk, 64)).persist()
            Y = da.from_array(y, chunks=args.chunk).persist()
            step = distributed.value_and_grad(demo.loss_fn, method=args.method)
            value = step(model, X, Y)[0]
            assert abs(value - want) <= 1e-10 * abs(want)
            seconds = timed(functools.partial(step, model, X, Y))
            print(f"{workers} worker(s): {seconds * 1e3:.1f} ms per step")


if __name__ == "__main__":
    main()
