"""How time and memory grow with a program's length, per method: a chain of n scalar operations
(x <- sin(x) * 1.001 + 0.1, three primitives a step), differentiated by

- overload grad (a tape), graph grad and graph jvp (traced, optimised, compiled: first call),
- source grad (the function's source is written out as n / 3 statements, transformed, run),

each in a fresh process (so one method's memory does not hide another's), reporting the wall
time of the first call and the peak resident memory of the process above its baseline. A
method is skipped at a length where the previous one took longer than --budget seconds.

    python bench/scaling.py                       # 10^3 .. 10^5 operations
    python bench/scaling.py --ops 1000,10000,100000,1000000 --png bench/results/scaling.png
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

METHODS = ("overload grad", "graph grad", "graph jvp", "source grad")

_CHILD = r'''
import json, resource, sys, time, linecache
import numpy as np
import chainrule as cr
import chainrule.numpy as cnp

method, n_ops = sys.argv[1], int(sys.argv[2])
steps = n_ops // 3
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

def chain(x):
    for _ in range(steps):
        x = cnp.sin(x) * 1.001 + 0.1
    return x

if method == "source grad":
    # straight-line source, n / 3 statements (the source engine reads a function's text)
    lines = ["def chain_src(x):"] + ["    x = np.sin(x) * 1.001 + 0.1"] * steps + ["    return x"]
    text = "\n".join(lines) + "\n"
    name = "<scaling chain_src>"
    linecache.cache[name] = (len(text), None, text.splitlines(True), name)
    ns = {"np": np}
    exec(compile(text, name, "exec"), ns)
    fn = ns["chain_src"]
t0 = time.perf_counter()
if method == "overload grad":
    got = cr.grad(chain)(0.5)
elif method == "graph grad":
    got = cr.grad(chain, method="graph")(0.5)
elif method == "graph jvp":
    got = cr.jvp(chain, (0.5,), (1.0,), method="graph")[1]
else:
    got = cr.grad(fn, method="source")(0.5)
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base  # KiB on Linux
print(json.dumps({"seconds": seconds, "peak_mib": peak / 1024, "value": float(got)}))
'''


def run(method: str, n_ops: int, timeout: float) -> dict[str, float] | None:
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(_CHILD)
        path = f.name
    try:
        out = subprocess.run([sys.executable, path, method, str(n_ops)], capture_output=True,
                             text=True, timeout=timeout, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (subprocess.TimeoutExpired, subprocess.CalledProcessError):
        return None
    finally:
        os.unlink(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", default="1000,10000,100000",
                    help="chain lengths in primitive operations (default: %(default)s)")
    ap.add_argument("--budget", type=float, default=120.0,
                    help="skip a method's longer chains once one took this many seconds "
                         "(default: %(default)s)")
    ap.add_argument("--png", help="draw the log-log plot into this file (matplotlib)")
    ap.add_argument("--json", help="also write the measurements to this file")
    ap.add_argument("--replot", metavar="JSON",
                    help="draw --png from measurements written by --json, measuring nothing")
    args = ap.parse_args()
    if args.replot:
        with open(args.replot) as f:
            saved = json.load(f)
        plot({m: [(int(n), r) for n, r in saved[m]] for m in METHODS}, args.png)
        return
    sizes = [int(s) for s in args.ops.split(",")]
    results: dict[str, list[tuple[int, dict[str, float]]]] = {m: [] for m in METHODS}
    print("| operations | " + " | ".join(f"{m}: s, MiB" for m in METHODS) + " |")
    print("|---|" + "---|" * len(METHODS))
    stopped: set[str] = set()
    values: list[float] = []
    for n in sizes:
        cells = []
        row_values = []
        for m in METHODS:
            got = None if m in stopped else run(m, n, timeout=20 * args.budget)
            if got is None:
                cells.append("—")
                stopped.add(m)
                continue
            results[m].append((n, got))
            row_values.append(got["value"])
            cells.append(f"{got['seconds']:.3g} s, {got['peak_mib']:.4g} MiB")
            if got["seconds"] > args.budget:
                stopped.add(m)
        if row_values and max(row_values) - min(row_values) > 1e-9 * max(1.0, abs(row_values[0])):
            raise SystemExit(f"the methods disagree at n = {n}: {row_values}")
        values += row_values
        per_op = ""
        over = results["overload grad"]
        if over and over[-1][0] == n:
            per_op = f" (overload: {over[-1][1]['peak_mib'] * 2**20 / n:.0f} bytes/op)"
        print(f"| {n:,} | " + " | ".join(cells) + f" |{per_op}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if args.png:
        plot(results, args.png)


def plot(results: dict[str, list[tuple[int, dict[str, float]]]], png: str) -> None:
    """The log-log plot of time and memory against the chain's length, per method."""
    if png:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4))
        for m in METHODS:
            if results[m]:
                ns = [n for n, _ in results[m]]
                ax_t.loglog(ns, [r["seconds"] for _, r in results[m]], "o-", label=m)
                ax_m.loglog(ns, [max(r["peak_mib"], 1e-2) for _, r in results[m]], "o-",
                            label=m)
        ax_t.set(xlabel="scalar operations", ylabel="first call (s)", title="time")
        ax_m.set(xlabel="scalar operations", ylabel="peak memory above baseline (MiB)",
                 title="memory")
        ax_t.legend()
        fig.suptitle("chainrule: a chain of scalar operations, differentiated")
        fig.tight_layout()
        fig.savefig(png, dpi=120)
        print(f"plot saved to {png}")


if __name__ == "__main__":
    main()
