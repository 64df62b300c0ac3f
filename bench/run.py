"""Run the reference workloads (bench/WORKLOADS.md, a copy of the shared spec's) and report
derivative-time ratios.

    python bench/run.py                  # chainrule, hand-written NumPy and every installed peer
    python bench/run.py --markdown       # the same, as a markdown table
    python bench/run.py --only W1,W5 --no-peers --repeats 9

Ratio = time of the derivative (forward pass included) / time of the plain NumPy forward pass,
both measured in this process, pinned to one core (`BENCH_CPU`, else the idlest one) with
single-threaded BLAS. Each time is the median of `--repeats` repeats after a warm-up; a repeat
times a loop of enough calls to last `--min-time` seconds, so tiny workloads are not lost in timer
noise. Every derivative is checked against the hand-written NumPy one (np.allclose, rtol 1e-6)
before it is timed, and a wrong one stops the run. The forward pass is re-timed interleaved with
each derivative, and each ratio uses that pair, so a slow spell of a shared machine cancels out.
"""
from __future__ import annotations

from isolation import isolate

isolate()

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import chainrule as cr  # noqa: E402
import chainrule.numpy as cnp  # noqa: E402
from peers import PEER_COLUMNS, Peer, load_peers  # noqa: E402
from workloads import W1_OPS, Workload, make_workloads  # noqa: E402

HAND = "hand-written NumPy"
CHAINRULE = "chainrule overload"
GRAPH = "chainrule graph"
SOURCE = "chainrule source"
SOURCE_JIT = "chainrule source+jit"
#: which of WORKLOADS.md's target families (`Workload.targets`) each column answers to
FAMILY = {CHAINRULE: "overload", SOURCE: "source", GRAPH: "compiled", SOURCE_JIT: "compiled"}
RTOL = 1e-6


# ---------------------------------------------------------------------------------------------
# timing and checking

class Timer:
    """Seconds per call of `call`: one warm-up call, then repeats of a loop of `number` calls,
    with `number` chosen so that a repeat lasts at least `min_time`."""

    def __init__(self, call: Callable[[], Any], min_time: float) -> None:
        self.call = call
        call()
        t0 = time.perf_counter()
        call()
        single = time.perf_counter() - t0
        self.number = max(1, math.ceil(min_time / single)) if single > 0 else 1000
        self.samples: list[float] = []

    def repeat(self) -> None:
        call, number = self.call, self.number
        t0 = time.perf_counter()
        for _ in range(number):
            call()
        self.samples.append((time.perf_counter() - t0) / number)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def paired_medians(forward: Callable[[], Any], deriv: Callable[[], Any], repeats: int,
                   min_time: float) -> tuple[float, float]:
    """Median seconds per call of the forward pass and of the derivative, their repeats
    interleaved so that a slow spell of the machine (another process on the core) hits both
    alike and cancels in their ratio."""
    fwd, der = Timer(forward, min_time), Timer(deriv, min_time)
    gc.collect()
    for _ in range(repeats):
        fwd.repeat()
        der.repeat()
    return fwd.median, der.median


def as_arrays(x: Any) -> list[np.ndarray]:
    return [np.asarray(a) for a in (x if isinstance(x, (tuple, list)) else (x,))]


class WrongDerivative(AssertionError):
    pass


def check(who: str, w: Workload, got: list[np.ndarray], want: list[np.ndarray]) -> None:
    """Fail loudly unless `got` matches the hand-written derivative."""
    if len(got) != len(want):
        raise WrongDerivative(f"{w.name}, {who}: {len(got)} derivative arrays, expected "
                              f"{len(want)}")
    for k, (g, r) in enumerate(zip(got, want)):
        if g.shape != r.shape:
            raise WrongDerivative(f"{w.name}, {who}: derivative {k} has shape {g.shape}, "
                                  f"expected {r.shape}")
        if not np.allclose(g, r, rtol=RTOL):
            err = float(np.max(np.abs(g - r)))
            raise WrongDerivative(f"{w.name}, {who}: derivative {k} is wrong (max abs error "
                                  f"{err:.3g}, rtol {RTOL})")


def _for_source() -> dict[str, Any]:
    """The workload bodies with their namespace argument `xp` bound to `chainrule.numpy` in
    the text itself (the source transformer reads source: `xp.tanh` becomes `cnp.tanh`, calls
    drop the `xp` argument). Same arithmetic, one file, registered so inspect can read it."""
    import ast
    import inspect
    import linecache

    import workloads

    class BindXp(ast.NodeTransformer):
        def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
            if node.args.args and node.args.args[0].arg == "xp":
                node.args.args = node.args.args[1:]
            self.generic_visit(node)
            return node

        def visit_Call(self, node: ast.Call) -> ast.Call:
            if node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == "xp":
                node.args = node.args[1:]
            self.generic_visit(node)
            return node

        def visit_Name(self, node: ast.Name) -> ast.Name:
            return ast.Name(id="cnp", ctx=node.ctx) if node.id == "xp" else node

    module = ast.parse(inspect.getsource(workloads))
    module.body = [n for n in module.body if isinstance(n, (ast.FunctionDef, ast.Assign)) or (
        isinstance(n, (ast.Import, ast.ImportFrom)) and getattr(n, "module", "") != "__future__")]
    tree = ast.fix_missing_locations(BindXp().visit(module))
    text = ast.unparse(tree)
    filename = "<bench workloads for cr.source>"
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    namespace: dict[str, Any] = {"__name__": "bench_source_workloads", "cnp": cnp}
    exec(compile(text, filename, "exec"), namespace)  # noqa: S102 - our own workloads file
    return namespace


_SOURCE_NS: dict[str, Any] = {}


def chainrule_derivative(w: Workload, method: str = "overload") -> Callable[[], Any]:
    transform = {"grad": cr.grad, "jacrev": cr.jacrev, "jacfwd": cr.jacfwd,
                 "hessian": cr.hessian}[w.kind]
    if method in ("source", "source+jit"):
        if not _SOURCE_NS:
            _SOURCE_NS.update(_for_source())
        fn = _SOURCE_NS[w.body.__name__]
        g = transform(fn, argnums=w.argnums, method="source")
        if method == "source+jit":  # the generated code, traced and compiled by the graph engine
            g = cr.graph.jit(g)
        args = w.args
        return lambda: g(*args)
    g = transform(w.function(cnp), argnums=w.argnums, method=method)
    args = w.args
    return lambda: g(*args)


# ---------------------------------------------------------------------------------------------
# one row

@dataclass
class Row:
    """Per column: the derivative's median time and the forward's median time measured
    interleaved with it (the ratio uses that pair)."""

    workload: Workload
    times: dict[str, float] = field(default_factory=dict)
    forward_times: dict[str, float] = field(default_factory=dict)

    @property
    def forward_s(self) -> float:
        return statistics.median(self.forward_times.values())

    def ratio(self, column: str) -> float | None:
        t = self.times.get(column)
        return None if t is None else t / self.forward_times[column]

    def us_per_op(self, column: str) -> float | None:
        t = self.times.get(column)
        n = self.workload.n_ops
        return None if t is None or not n else 1e6 * t / n

    def met(self, column: str = CHAINRULE) -> bool | None:
        """Whether `column` meets its WORKLOADS.md target (None: not run)."""
        w = self.workload
        r = self.ratio(column)
        if r is None:
            return None
        if column == CHAINRULE and w.target_us_per_op is not None:
            return self.us_per_op(column) <= w.target_us_per_op  # type: ignore[operator]
        return r <= w.targets[FAMILY[column]]


def run_workload(w: Workload, peers: list[Peer], repeats: int, min_time: float,
                 compile_times: dict[str, dict[str, float]], log: Callable[[str], None]) -> Row:
    want = as_arrays(w.hand(*w.args)[1])
    derivs: list[tuple[str, Callable[[], Any]]] = [(HAND, lambda: w.hand(*w.args))]
    cr_call = chainrule_derivative(w)
    check(CHAINRULE, w, as_arrays(cr_call()), want)
    derivs.append((CHAINRULE, cr_call))
    graph_call = chainrule_derivative(w, "graph")
    t0 = time.perf_counter()
    first = graph_call()  # trace + differentiate + optimise + generate code
    compile_times.setdefault(GRAPH, {})[w.name] = time.perf_counter() - t0
    check(GRAPH, w, as_arrays(first), want)
    derivs.append((GRAPH, graph_call))
    t0 = time.perf_counter()
    source_call = chainrule_derivative(w, "source")  # read, normalise, generate, compile
    first = source_call()
    compile_times.setdefault(SOURCE, {})[w.name] = time.perf_counter() - t0
    check(SOURCE, w, as_arrays(first), want)
    derivs.append((SOURCE, source_call))
    t0 = time.perf_counter()
    jit_call = chainrule_derivative(w, "source+jit")  # ... then traced, optimised, compiled
    first = jit_call()
    # (the generated code is cached: its first call above is part of this one's cost too)
    compile_times.setdefault(SOURCE_JIT, {})[w.name] = time.perf_counter() - t0 + \
        compile_times[SOURCE][w.name]
    check(SOURCE_JIT, w, as_arrays(first), want)
    derivs.append((SOURCE_JIT, jit_call))
    for peer in peers:
        prep = peer.prepare(w)
        check(peer.column, w, prep.to_numpy(prep.call()), want)
        if prep.compile_s is not None:
            compile_times.setdefault(peer.column, {})[w.name] = prep.compile_s
        derivs.append((peer.column, prep.call))

    row = Row(w)
    log(f"{w.name}:")
    forward = w.forward()
    for column, call in derivs:
        row.forward_times[column], row.times[column] = paired_medians(forward, call, repeats,
                                                                      min_time)
        log(f"  {column:<20} {fmt_time(row.times[column]):>10}  forward "
            f"{fmt_time(row.forward_times[column]):>10}  ratio {row.ratio(column):.3g}")
    return row


# ---------------------------------------------------------------------------------------------
# reporting

def fmt_time(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def fmt_ratio(r: float | None) -> str:
    if r is None:
        return "—"
    if r >= 100:
        return f"{r:,.0f}"
    return f"{r:.3g}"


def cell(row: Row, column: str) -> str:
    r = row.ratio(column)
    if r is None:
        return "—"
    us = row.us_per_op(column)
    return fmt_ratio(r) if us is None else f"{fmt_ratio(r)} ({us:.2g} µs/op)"


def target_text(w: Workload, column: str = CHAINRULE) -> str:
    if column == CHAINRULE and w.target_us_per_op is not None:
        return f"≤ {w.target_us_per_op:g} µs/op"
    return f"≤ {w.targets[FAMILY[column]]:g}"


def met_text(row: Row, column: str = CHAINRULE) -> str:
    met = row.met(column)
    return "—" if met is None else ("met" if met else "**missed**")


def table(rows: list[Row], columns: list[str], markdown: bool) -> str:
    head = ["id", "NumPy forward", HAND, CHAINRULE, "target", "met?", SOURCE, "target",
            "met?", GRAPH, SOURCE_JIT, "compiled target", "met? (graph / source+jit)", *columns]
    body = [[r.workload.name, fmt_time(r.forward_s), cell(r, HAND), cell(r, CHAINRULE),
             target_text(r.workload), met_text(r), cell(r, SOURCE),
             target_text(r.workload, SOURCE), met_text(r, SOURCE), cell(r, GRAPH),
             cell(r, SOURCE_JIT), target_text(r.workload, GRAPH),
             f"{met_text(r, GRAPH)} / {met_text(r, SOURCE_JIT)}",
             *(cell(r, c) for c in columns)]
            for r in rows]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(b) + " |" for b in body]
        return "\n".join(lines)
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    lines = ["  ".join(x.ljust(n) for x, n in zip(line, widths)) for line in [head, *body]]
    lines.insert(1, "  ".join("-" * n for n in widths))
    return "\n".join(lines).replace("**", "")


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"chainrule": os.path.dirname(cr.__file__),
                            "python": platform.python_version(), "numpy": np.__version__,
                            "nproc": os.cpu_count()}
    if hasattr(os, "sched_getaffinity"):
        info["pinned to cpu"] = sorted(os.sched_getaffinity(0))
    try:
        with open("/proc/cpuinfo") as fh:
            models = [ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")]
        info["cpu"] = models[0] if models else platform.processor()
    except OSError:
        info["cpu"] = platform.processor()
    try:
        from threadpoolctl import threadpool_info
        info["blas"] = [{k: p.get(k) for k in ("internal_api", "version", "architecture",
                                               "num_threads", "filepath")}
                        for p in threadpool_info()]
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if var in os.environ:
            info[var] = os.environ[var]
    return info


# ---------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="comma-separated ids, e.g. W1,W5 (W5 selects both W5 rows)")
    ap.add_argument("--repeats", type=int, default=7, help="repeats per timing (default 7)")
    ap.add_argument("--min-time", type=float, default=0.05,
                    help="seconds each repeat lasts at least (default 0.05)")
    ap.add_argument("--markdown", action="store_true", help="print a markdown table")
    ap.add_argument("--no-peers", action="store_true", help="skip PyTorch, JAX and autograd")
    ap.add_argument("--json", metavar="PATH", help="also write every timing to PATH")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")

    workloads = make_workloads()
    if args.only:
        wanted = {s.strip().upper() for s in args.only.split(",") if s.strip()}
        workloads = [w for w in workloads if w.name.upper() in wanted or w.family in wanted]
        if not workloads:
            ap.error(f"--only {args.only}: no such workload (W1..W6, 'W5 rev', 'W5 fwd')")

    def log(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    notes: list[str] = []
    peers = [] if args.no_peers else load_peers(notes)
    if args.no_peers:
        notes.append("peers not run (--no-peers)")
    columns = [c for c in PEER_COLUMNS if any(p.column == c for p in peers)]

    info = machine()
    versions = {p.column: p.version for p in peers}
    log(f"machine: {info}")
    log(f"peers: {versions or 'none'}")

    t_start = time.perf_counter()
    rows: list[Row] = []
    compile_times: dict[str, dict[str, float]] = {}
    for w in workloads:
        rows.append(run_workload(w, peers, args.repeats, args.min_time, compile_times, log))
    elapsed = time.perf_counter() - t_start

    print(table(rows, columns, args.markdown))
    print()
    print(f"Ratio = derivative time / NumPy forward time (forward pass included), median of "
          f"{args.repeats} repeats, one core, single-threaded BLAS; W1 also in µs per primitive "
          f"op ({W1_OPS} ops).")
    for column, per in compile_times.items():
        print(f"{column} compile time (first call, excluded above): "
              + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in per.items()))
    if versions:
        print("Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items())
              + f", numpy {np.__version__}")
    for note in notes:
        print(f"Note: {note}")
    print(f"Total time {elapsed:.1f} s.")

    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"machine": info, "versions": versions, "repeats": args.repeats,
                       "compile_s": compile_times, "notes": notes,
                       "rows": [{"id": r.workload.name, "forward_s": r.forward_times,  # per column
                                 "times_s": r.times,
                                 "ratios": {c: r.ratio(c) for c in r.times},
                                 "us_per_op": {c: r.us_per_op(c) for c in r.times}
                                 if r.workload.n_ops else None,
                                 "targets": {c: target_text(r.workload, c)
                                             for c in FAMILY if c in r.times},
                                 "met": {c: r.met(c) for c in FAMILY if c in r.times}}
                                for r in rows]}, fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
