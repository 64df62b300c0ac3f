"""Single-threaded, one-core conditions for the benchmarks. Import and call `isolate()` before
NumPy (or any BLAS-backed library) is imported: BLAS libraries read the thread variables once,
when they load."""
from __future__ import annotations

import os
import sys
import time

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_PINNED: list[int | None] = []  # the core chosen by the first call (later calls reuse it)


def _busy_jiffies() -> dict[int, tuple[int, int]]:
    """Per CPU: (busy, total) jiffies since boot, from /proc/stat."""
    out = {}
    with open("/proc/stat") as fh:
        for line in fh:
            name, *fields = line.split()
            if name.startswith("cpu") and name != "cpu":
                ticks = [int(f) for f in fields]
                idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
                out[int(name[3:])] = (sum(ticks) - idle, sum(ticks))
    return out


def idlest_cpu(allowed: set[int], window: float = 0.3) -> int:
    """The allowed CPU that was least busy during the last `window` seconds (the machine may be
    shared with test runs: pinning to a busy core would time the other process too)."""
    try:
        before = _busy_jiffies()
        time.sleep(window)
        after = _busy_jiffies()
    except (OSError, ValueError, IndexError):
        return min(allowed)

    def load(cpu: int) -> float:
        (b0, t0), (b1, t1) = before.get(cpu, (0, 0)), after.get(cpu, (0, 0))
        return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0

    return min(sorted(allowed), key=load)


def isolate() -> int | None:
    """Set the thread variables and pin this process to one core: `BENCH_CPU` if set, otherwise
    the idlest allowed one. Returns the core, or None where affinity cannot be set. A second
    call (a benchmark script importing another) changes nothing."""
    if _PINNED:
        return _PINNED[0]
    for var in THREAD_VARS:
        os.environ[var] = "1"
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                                       "intra_op_parallelism_threads=1")
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "numpy" in sys.modules:
        print("warning: NumPy was imported before the thread variables were set; its BLAS may "
              "be multi-threaded", file=sys.stderr)
    if not hasattr(os, "sched_setaffinity"):
        _PINNED.append(None)
        return None
    allowed = os.sched_getaffinity(0)
    cpu = int(os.environ["BENCH_CPU"]) if "BENCH_CPU" in os.environ else idlest_cpu(allowed)
    os.sched_setaffinity(0, {cpu})
    _PINNED.append(cpu)
    return cpu
