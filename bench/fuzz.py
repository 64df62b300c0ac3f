"""The long differential fuzz run: random NumPy programs (tests/fuzzgen.py), every method, against
central differences.

    python bench/fuzz.py --programs 2000 --seed 0        # program seeds 0 .. 1999
    python bench/fuzz.py --programs 1 --seed 1234 -v     # one program, every outcome printed

Prints a table per method (programs run; (program, transform) cells that agree, were refused
— by exception class —, disagree, crash, time out, or were skipped because central differences
are not reliable at the program's point), then one minimal repro per distinct failure: the
program shrunk while it keeps failing the same way, its arguments, what each method returns
and what central differences give.
"""
from __future__ import annotations

import argparse
import collections
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import fuzzgen as fz  # noqa: E402

STATUSES = ("agree", "refused", "disagree", "crash", "timeout", "skipped")


def failure_key(o: fz.Outcome) -> tuple[str, ...]:
    """Outcomes that are probably one bug: a disagreement by method, transform and what
    differs; an exception by method, status, class and the message with its numbers, quoted
    names and paths blanked out (one bug usually breaks every transform of a method)."""
    if o.status == "disagree":
        kind = ("shape" if "structure/shapes" in o.detail else
                "primal" if "primal" in o.detail else
                "exact-consensus" if "which agree" in o.detail else "value")
        return (o.method, o.transform, o.status, kind)
    msg = re.sub(r"/\S+\.py:\d+", "<file>", o.detail)
    msg = re.sub(r"\b(fuzzprog_\w+|[xv]\d+|h\d+(_t\d+)?)\b", "<name>", msg)
    msg = re.sub(r"'[^']*'", "'#'", msg)
    msg = re.sub(r"-?\d+(\.\d+)?(e-?\d+)?", "#", msg)[:90]
    return (o.method, o.status, o.error, msg)


def print_table(outcomes: list[fz.Outcome], n_programs: int, methods: tuple[str, ...]) -> None:
    print(f"\n{n_programs} programs; counts are (program, transform) cells\n")
    head = f"{'method':10} {'programs':>8} " + " ".join(f"{s:>9}" for s in STATUSES)
    print(head)
    print("-" * len(head))
    for m in methods:
        mine = [o for o in outcomes if o.method == m]
        count = collections.Counter(o.status for o in mine)
        programs = len({o.seed for o in mine})
        print(f"{m:10} {programs:8d} " + " ".join(f"{count[s]:9d}" for s in STATUSES))
    print()
    for m in methods:
        refused = collections.Counter(o.error for o in outcomes
                                      if o.method == m and o.status == "refused")
        crashed = collections.Counter(o.error for o in outcomes
                                      if o.method == m and o.status == "crash")
        bad_programs = {o.seed for o in outcomes
                        if o.method == m and o.status in ("disagree", "crash")}
        if refused or crashed:
            print(f"{m:10} refused: {dict(refused) or '-'}   crash: {dict(crashed) or '-'}   "
                  f"programs with a disagreement or crash: {len(bad_programs)}")
    print()


def repro(outcome: fz.Outcome, program: fz.Program, directory: Path, shrink: bool,
          timeout: float) -> str:
    """The (shrunk) program with every method's result for the failing transform."""
    if shrink:
        program = fz.shrink(program, directory, outcome.signature, timeout=timeout)
    loaded = fz.load(program, directory)
    lines = [fz.describe(program).rstrip()]
    try:
        t = outcome.transform
        orc = fz.oracle(program, loaded.twin, [t])
        outs = fz.check(program, loaded, transforms=[t], timeout=timeout)
        lines.append(f"transform: {t}")
        lines.append(f"  central differences (oracle): {fz.fmt_value(orc.results[t])}"
                     + (f"   [unreliable: {orc.unreliable[t]}]" if orc.unreliable[t] else ""))
        for o in outs:
            what = fz.fmt_value(o.got) if o.got is not None else f"{o.error}: {o.detail}"
            lines.append(f"  {o.method:9} {o.status:9} {what}")
            if o.status == "disagree":
                lines.append(f"  {'':9} {'':9} ({o.detail})")
    finally:
        fz.unload(loaded)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--programs", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0, help="the first program seed")
    ap.add_argument("--methods", default=",".join(fz.METHODS))
    ap.add_argument("--transforms", default=",".join(fz.TRANSFORMS))
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per derivative")
    ap.add_argument("--no-shrink", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every outcome")
    args = ap.parse_args(argv)
    methods = tuple(args.methods.split(","))
    transforms = tuple(args.transforms.split(","))

    outcomes: list[fz.Outcome] = []
    programs: dict[int, fz.Program] = {}
    first: dict[tuple[str, ...], fz.Outcome] = {}
    seeds_of: dict[tuple[str, ...], list[tuple[str, int]]] = collections.defaultdict(list)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="chainrule-fuzz-") as tmp:
        directory = Path(tmp)
        for k, seed in enumerate(range(args.seed, args.seed + args.programs)):
            program = fz.generate(seed)
            loaded = fz.load(program, directory)
            try:
                outs = fz.check(program, loaded, methods, transforms, timeout=args.timeout)
            except Exception as exc:  # the harness itself: report it, keep going
                print(f"seed {seed}: harness error {type(exc).__name__}: {exc}",
                      file=sys.stderr)
                continue
            finally:
                fz.unload(loaded)
            outcomes += outs
            for o in outs:
                if args.verbose:
                    print(f"seed {seed} {o.method:9} {o.transform:8} {o.status:9} {o.error} "
                          f"{o.detail[:150]}")
                if o.status in ("disagree", "crash", "timeout") or (
                        o.status == "refused" and o.method != "symbolic"
                        and not program.value_control):
                    key = failure_key(o)
                    seeds_of[key].append((o.transform, seed))
                    # keep the smallest program of each kind of failure for its repro
                    if key not in first or program.n_lines < programs[first[key].seed].n_lines:
                        first[key] = o
                        programs[seed] = program
            if (k + 1) % 100 == 0:
                print(f"... {k + 1} programs, {time.perf_counter() - t0:.0f} s",
                      file=sys.stderr, flush=True)

        print_table(outcomes, args.programs, methods)
        print(f"{time.perf_counter() - t0:.0f} s\n")
        print(f"{len(first)} distinct failures (see failure_key), each with one repro\n")
        for i, (key, o) in enumerate(sorted(first.items(), key=lambda kv: kv[0]), 1):
            print("=" * 100)
            print(f"[{i}] {' | '.join(key)}")
            kinds = sorted({t for t, _ in seeds_of[key]})
            seeds = [s for _, s in seeds_of[key]]
            print(f"    {len(seeds)} cells ({', '.join(kinds)}); "
                  f"seeds {sorted(set(seeds))[:25]}"
                  f"{' ...' if len(set(seeds)) > 25 else ''}")
            print(f"    first message: {o.error} {o.detail[:300]}")
            print("-" * 100)
            print(repro(o, programs[o.seed], directory, not args.no_shrink, args.timeout))
            print(flush=True)
    bad = sum(o.status in ("disagree", "crash") for o in outcomes)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
