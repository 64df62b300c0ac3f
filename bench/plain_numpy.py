"""Plain `import numpy as np` code against the same code written with `chainrule.numpy`.

    python bench/plain_numpy.py            # W2 and W3 (and the others with --all)

The workload bodies of bench/workloads.py are written once against a NumPy-like namespace, so the
same function runs with `cnp` (chainrule's namespace) and with `np` itself, whose calls on traced
values reach chainrule through __array_ufunc__ / __array_function__. The dispatch should cost
little: the target is within 10% of the `cnp` version.
"""
from __future__ import annotations

from isolation import isolate

isolate()

import argparse  # noqa: E402

import numpy as np  # noqa: E402

import chainrule as cr  # noqa: E402
import chainrule.numpy as cnp  # noqa: E402
from run import Timer, as_arrays, check  # noqa: E402
from workloads import make_workloads  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--all", action="store_true", help="every workload, not only W2 and W3")
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args()
    print(f"{'id':<7} {'with cnp':>10} {'with np':>10} {'np / cnp':>9}")
    for w in make_workloads():
        if not args.all and w.name not in ("W2", "W3"):
            continue
        transform = {"grad": cr.grad, "jacrev": cr.jacrev, "jacfwd": cr.jacfwd,
                     "hessian": cr.hessian}[w.kind]
        want = as_arrays(w.hand(*w.args)[1])
        calls = {}
        for label, ns in (("cnp", cnp), ("np", np)):
            g = transform(w.function(ns), argnums=w.argnums)
            check(f"chainrule with {label}", w, as_arrays(g(*w.args)), want)
            calls[label] = (lambda g=g, a=w.args: g(*a))
        timers = {label: Timer(call, 0.05) for label, call in calls.items()}
        for _ in range(args.repeats):  # interleaved, so a slow spell hits both
            for t in timers.values():
                t.repeat()
        a, b = timers["cnp"].median, timers["np"].median
        print(f"{w.name:<7} {a * 1e6:>8.1f}µs {b * 1e6:>8.1f}µs {b / a:>9.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
