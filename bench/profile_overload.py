"""Where chainrule's `overload` method spends its time on the reference workloads (cProfile).

    python bench/profile_overload.py                 # W1, W2, W5 rev, W5 fwd, W6
    python bench/profile_overload.py --only W4 --top 25
    python bench/profile_overload.py --only W3,W4 --kernels   # time inside each primitive's impl

For each workload the derivative is called in a loop under cProfile (after a warm-up) and the
functions with the most own time (tottime) are listed with their share of the total. NumPy ufuncs
and matmul are C calls that cProfile does not list separately: their time counts as the own time
of the Python function that called them.
"""
from __future__ import annotations

from isolation import isolate

isolate()

import argparse  # noqa: E402
import cProfile  # noqa: E402
import os  # noqa: E402
import pstats  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

from run import chainrule_derivative  # noqa: E402
from workloads import make_workloads  # noqa: E402

DEFAULT = "W1,W2,W5 rev,W5 fwd,W6"


def _where(key: tuple[str, int, str]) -> str:
    path, line, name = key
    if path == "~":
        return name
    parts = path.split(os.sep)
    if "chainrule" in parts:
        path = "/".join(parts[len(parts) - 1 - parts[::-1].index("chainrule"):])
    else:
        path = "/".join(parts[-2:])
    return f"{path}:{line}({name})"


def _category(key: tuple[str, int, str]) -> str:
    path = key[0].replace(os.sep, "/")
    if path == "~":
        return "builtins (isinstance, getattr, ufunc methods, ...)"
    if "/chainrule/" in path:
        sub = path.split("/chainrule/")[-1].split("/")[0]
        return f"chainrule {sub.removesuffix('.py')}"
    if "/numpy/" in path:
        return "NumPy Python wrappers (fromnumeric, stride_tricks, ...)"
    if path.endswith("workloads.py"):
        return "workload body (bench)"
    return "other"


def _phases(stats: dict[Any, Any], body: str) -> dict[str, float]:
    """Inclusive times of the parts of a derivative call: the user function (forward pass,
    recording included) and the tape's backward pass."""
    out: dict[str, float] = {}
    for (path, _, name), (_, _, _, cum, _) in stats.items():
        if path.endswith("workloads.py") and name == body:
            out["forward (user function, recording included)"] = cum
        if path.replace(os.sep, "/").endswith("overload/tape.py") and name == "backward":
            out["tape backward()"] = cum
    return out


def profile(call: Callable[[], Any], seconds: float, top: int, body: str) -> None:
    call()
    t0 = time.perf_counter()
    call()
    n = max(1, int(seconds / max(time.perf_counter() - t0, 1e-9)))
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        call()
    prof.disable()
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in stats.values())
    rows = sorted(stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    fcalls = sum(v[1] for v in stats.values()) / n
    print(f"  {n} calls, {total / n * 1e3:.3f} ms per call under the profiler, {fcalls:,.0f} "
          f"function calls per call")
    by_cat: dict[str, float] = {}
    for key, v in stats.items():
        by_cat[_category(key)] = by_cat.get(_category(key), 0.0) + v[2]
    print("  own time by place (NumPy kernels count in the chainrule function that calls them):")
    for cat, t in sorted(by_cat.items(), key=lambda kv: kv[1], reverse=True):
        print(f"  {t / total:>6.1%}  {cat}")
    for phase, t in _phases(stats, body).items():
        print(f"  inclusive: {t / total:>6.1%}  {phase}")
    print(f"  {'share':>6} {'tottime/call':>13} {'calls/call':>10}  function")
    for key, (_, ncalls, tottime, _, _) in rows:
        print(f"  {tottime / total:>6.1%} {tottime / n * 1e6:>10.1f} µs {ncalls / n:>10.0f}  "
              f"{_where(key)}")


def kernel_times(call: Callable[[], Any], seconds: float, top: int) -> None:
    """Time spent inside each primitive's NumPy implementation (`impl`), by primitive name,
    whoever called it (user code or a derivative rule), against the wall time of the call."""
    from chainrule._core.primitive import REGISTRY

    spent: dict[str, float] = {}
    count: dict[str, int] = {}
    saved = {name: prim.impl for name, prim in REGISTRY.items()}

    def timed(name: str, impl: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **params: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return impl(*args, **params)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - t0
                count[name] = count.get(name, 0) + 1

        return run

    call()
    t0 = time.perf_counter()
    call()
    n = max(1, int(seconds / max(time.perf_counter() - t0, 1e-9)))
    for name, prim in REGISTRY.items():
        prim.impl = timed(name, prim.impl)
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            call()
        wall = time.perf_counter() - t0
    finally:
        for name, prim in REGISTRY.items():
            prim.impl = saved[name]
    inside = sum(spent.values())
    print(f"  {n} calls, {wall / n * 1e3:.3f} ms per call; inside primitive implementations "
          f"{inside / wall:.1%}, outside (interpreter overhead, timer included) "
          f"{1 - inside / wall:.1%}")
    for name, t in sorted(spent.items(), key=lambda kv: kv[1], reverse=True)[:top]:
        print(f"  {t / wall:>6.1%} {t / n * 1e6:>10.1f} µs {count[name] / n:>6.0f}x  {name}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default=DEFAULT, help=f"comma-separated ids (default {DEFAULT})")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--seconds", type=float, default=2.0, help="profiled seconds per workload")
    ap.add_argument("--kernels", action="store_true",
                    help="instead of cProfile, time each primitive's NumPy implementation")
    args = ap.parse_args(argv)
    wanted = {s.strip().upper() for s in args.only.split(",")}
    for w in make_workloads():
        if w.name.upper() in wanted or w.family in wanted:
            print(f"{w.name}: {w.kind} of {w.description}")
            if args.kernels:
                kernel_times(chainrule_derivative(w), args.seconds, args.top)
            else:
                profile(chainrule_derivative(w), args.seconds, args.top, w.body.__name__)
            print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
