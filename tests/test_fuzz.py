"""Differential fuzzing, quick profile: random NumPy programs (tests/fuzzgen.py) under every
method, against central differences and against each other.

The promise checked: every method gives the same right derivative, or a clear refusal. For a
fixed list of program seeds (the same programs on every machine), per seed:

- no (program, method, transform) disagrees — with central differences on the program's NumPy
  twin, or with the other exact methods when they agree among themselves;
- no method crashes or runs out of time: overload, graph, source and numeric raise nothing but
  the graph engine's refusal of Python control flow on a value; symbolic may also refuse, with
  `SymbolicError` or `NotImplementedError` only;
- the AD methods refuse only what the spec lets them refuse (every function used is on the
  coverage list, every construct on the source method's list).

Then the check itself: the oracle flags a derivative 0.05% wrong (first and second order), a
method whose results are 0.05% wrong is reported as disagreeing, and a kink inside the
differences' stencil makes a program skipped rather than compared. The long run is
`python bench/fuzz.py --programs 2000 --seed 0`.
"""
from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import fuzzgen as fz

# ~0.15 s a program on one core (source and symbolic compile; symbolic simplifies): 64 seeds
# keep the file near 10 s
QUICK_SEEDS = tuple(range(64))
TIMEOUT = 10.0  # seconds per derivative: far above any quick seed's (the slowest is ~1 s)

SYMBOLIC_REFUSALS = (cr.symbolic.SymbolicError, NotImplementedError)

_RUNS: dict[int, tuple[fz.Program, list[fz.Outcome]]] = {}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _run(seed: int, workdir: Path) -> tuple[fz.Program, list[fz.Outcome]]:
    """Each seed runs once; the tests below read its outcomes."""
    if seed not in _RUNS:
        program = fz.generate(seed)
        loaded = fz.load(program, workdir)
        try:
            _RUNS[seed] = (program, fz.check(program, loaded, timeout=TIMEOUT))
        finally:
            fz.unload(loaded)
    return _RUNS[seed]


def _report(program: fz.Program, bad: list[fz.Outcome]) -> str:
    lines = [f"{o.method} {o.transform}: {o.status} {o.error} {o.detail}" for o in bad]
    return "\n".join(lines) + "\n\n" + fz.describe(program) + \
        f"\n(repro: python bench/fuzz.py --programs 1 --seed {program.seed})"


@pytest.mark.parametrize("seed", QUICK_SEEDS)
def test_every_method_agrees_or_refuses_clearly(seed: int, workdir: Path) -> None:
    program, outcomes = _run(seed, workdir)
    bad = []
    for o in outcomes:
        if o.status in ("disagree", "crash", "timeout"):
            bad.append(o)
        elif o.status == "refused" and o.method == "symbolic":
            assert o.exc_type is not None
            if not issubclass(o.exc_type, SYMBOLIC_REFUSALS):
                bad.append(o)
    assert not bad, _report(program, bad)


@pytest.mark.parametrize("seed", QUICK_SEEDS)
def test_ad_methods_refuse_only_control_flow_on_values(seed: int, workdir: Path) -> None:
    """overload, source and numeric run every generated program; graph refuses only Python
    control flow on a traced value (the program has some)."""
    program, outcomes = _run(seed, workdir)
    bad = [o for o in outcomes if o.status == "refused" and o.method != "symbolic"
           and not (o.method == "graph" and program.value_control
                    and o.exc_type is not None
                    and issubclass(o.exc_type, cr.ConcretizationError))]
    assert not bad, _report(program, bad)


def test_the_quick_profile_compares_what_it_claims(workdir: Path) -> None:
    """Not vacuous: the programs cover every kind of statement, and nearly every cell is
    compared (central differences are reliable at the generated points)."""
    runs = [_run(seed, workdir) for seed in QUICK_SEEDS]
    features = collections.Counter(f.split(":")[0] + (":" + f.split(":")[1]
                                                      if f.startswith("control") else "")
                                   for p, _ in runs for f in p.features)
    for kind in ("unary", "positive", "binary", "kink", "where", "reduce", "shape", "product",
                 "linalg", "method", "scalars", "dispatch", "control:loop", "control:if_shape",
                 "control:if_value", "control:helper"):
        assert features[kind] >= 3, (kind, features)
    cells = [o for _, outs in runs for o in outs if o.method == "overload"]
    transforms = collections.Counter(o.transform for o in cells)
    assert all(transforms[t] >= 15 for t in fz.TRANSFORMS), transforms
    skipped = sum(o.status == "skipped" for o in cells)
    assert skipped <= 0.05 * len(cells), (skipped, len(cells))
    assert sum(o.status == "agree" for o in cells) >= 0.9 * len(cells)


def test_generation_is_deterministic() -> None:
    """A seed names one program on every machine: failing seeds are repros."""
    for seed in (0, 7, 123):
        a, b = fz.generate(seed), fz.generate(seed)
        assert a.source == b.source
        assert all(np.array_equal(x, y) for x, y in zip(a.args, b.args))


# ---------------------------------------------------------------------------------------------
# the check can fail


def _handmade(line: str, args: tuple[Any, ...], scalar_out: bool = True) -> fz.Program:
    """A one-statement program `v1 = <line>`, returned (summed when scalar_out)."""
    shape = np.shape(eval(line.replace("cnp.", "np."), {"np": np},
                          {f"x{i}": a for i, a in enumerate(args)}))
    shapes = {f"x{i}": np.shape(a) for i, a in enumerate(args)} | {"v1": shape}
    shapes["__out__"] = () if scalar_out else shape
    return fz.Program(seed=-1, args=args, argnums=0, scalar_out=scalar_out,
                      value_control=False, consts={}, helpers={},
                      stmts=[fz.Stmt([f"v1 = {line}"], ("v1",))], shapes=shapes,
                      tangent=tuple(np.ones_like(a) for a in args))


def test_the_oracle_flags_a_derivative_wrong_by_five_hundredths_of_a_percent(
        workdir: Path) -> None:
    x = np.array([0.3, -1.1, 0.7])
    program = _handmade("cnp.sin(x0) * cnp.exp(x0 / 3.0)", (x,))
    loaded = fz.load(program, workdir)
    try:
        grad = np.cos(x) * np.exp(x / 3) + np.sin(x) * np.exp(x / 3) / 3
        hess = np.diag(-np.sin(x) * np.exp(x / 3) + 2 * np.cos(x) * np.exp(x / 3) / 3
                       + np.sin(x) * np.exp(x / 3) / 9)
        assert fz.oracle_flags(program, loaded, "grad", grad) == ""
        assert fz.oracle_flags(program, loaded, "hessian", hess) == ""
        for exact, transform in ((grad, "grad"), (hess, "hessian")):
            for k in range(exact.size):
                if exact.flat[k] == 0.0:
                    continue
                wrong = exact.copy()
                wrong.flat[k] *= 1.0005
                assert fz.oracle_flags(program, loaded, transform, wrong), (transform, k)
    finally:
        fz.unload(loaded)


def test_a_method_five_hundredths_of_a_percent_wrong_is_a_disagreement(
        workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = fz.run_transform

    def graph_slightly_wrong(program: fz.Program, fn: Any, transform: str,
                             method: str) -> Any:
        out = real(program, fn, transform, method)
        if method != "graph":
            return out
        if transform == "jvp":
            return out[0], out[1] * 1.0005
        return out * 1.0005

    monkeypatch.setattr(fz, "run_transform", graph_slightly_wrong)
    program = _handmade("cnp.tanh(x0) ** 2 + cnp.log(x0 * x0 + 1.0)",
                        (np.array([0.4, -0.9]),))
    loaded = fz.load(program, workdir)
    try:
        outcomes = fz.check(program, loaded)
    finally:
        fz.unload(loaded)
    status = {(o.method, o.transform): o.status for o in outcomes}
    assert {t for t in fz.TRANSFORMS if (("graph", t) in status)} == {"grad", "jvp", "hessian"}
    for (method, transform), s in status.items():
        assert s == ("disagree" if method == "graph" else "agree"), (method, transform, s)


def test_a_kink_inside_the_stencil_is_skipped_not_compared(workdir: Path) -> None:
    """|x - 1e-6| at 0: the differences at steps h and 2h disagree, so the point is not
    used (AD's -1 and the differences' -1/6 are not a bug of either)."""
    program = _handmade("cnp.abs(x0 - 1e-6)", (np.array([0.0, 0.5]),))
    loaded = fz.load(program, workdir)
    try:
        outcomes = fz.check(program, loaded, methods=("overload",), transforms=("grad",))
    finally:
        fz.unload(loaded)
    assert [o.status for o in outcomes] == ["skipped"]
    assert "steps h and 2h differ" in outcomes[0].detail
