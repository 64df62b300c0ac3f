"""Random NumPy programs for differential fuzzing of every method against central differences.

Used by tests/test_fuzz.py (a quick, fixed profile) and bench/fuzz.py (the long run); no tests
here. Three parts:

1. `generate(seed)`: a seeded random program over the functions of spec/numpy_coverage.txt —
   elementwise math, reductions, shape functions, products, a little linear algebra, `cnp.where`,
   Python control flow on shapes (and, in a few programs, on values), loops and helper `def`s.
   The generator evaluates every statement as it writes it, on the concrete arguments, with
   plain NumPy: that is how it keeps the domain away from kinks and singularities (a `max`,
   `where`, `abs`, `sort`... is only written where the values are at least `MARGIN` away from
   switching; `log`/`sqrt` only see positive values; matrices get a diagonal shift that makes
   them diagonally dominant) and every intermediate bounded, so that central differences are a
   valid oracle at that point.
2. `load(program, directory)`: the program's source is written into a real .py file and
   imported (the source method reads functions with `inspect.getsource`). It is imported twice:
   once as written (`cnp` is chainrule.numpy) and once as a *NumPy twin* whose `cnp` is plain
   NumPy, so that the oracle shares no code with the library, not even its forward functions.
3. `check(program, ...)`: grad, jvp, hessian, jacrev and jacfwd under each method, compared
   with this module's own central differences and with the other exact methods; every
   (program, method, transform) gets one `Outcome`. `shrink(...)` removes statements while a
   failure keeps its signature.
"""
from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import itertools
import re
import signal
import sys
import time
import types
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import chainrule as cr

METHODS = ("overload", "graph", "source", "symbolic", "numeric")
EXACT_METHODS = ("overload", "graph", "source", "symbolic")
TRANSFORMS = ("grad", "jvp", "vjp", "hessian", "jacrev", "jacfwd")

# Distance to a kink (a where/max/abs/sort switching, a jump of floor/mod), relative to
# max(1, |values|). The Hessian oracle's stencil moves the inputs by ~1.2e-4 (x2 on the
# diagonal) and an intermediate by that times its sensitivity (up to ~10 here), so 1e-3
# would sit at the edge; 1e-2 keeps the stencil on one side. The oracle's own consistency
# check (two step sizes) is the backstop for kinks the generator cannot see.
MARGIN = 1e-2
MAX_ABS = 1e3  # no intermediate larger than this: keeps round-off of the differences small
MAX_SIZE = 48  # elements of an intermediate
HESSIAN_MAX_INPUTS = 8  # total differentiated elements for a Hessian (symbolic time, oracle)
JACOBIAN_MAX = 12  # elements of the output and of the inputs for jacrev/jacfwd

# Tolerances against central differences, as tests/test_method_agreement.py: first order
# rtol 1e-5 / atol 1e-7, second order rtol 1e-4 / atol 1e-5, both with atol scaled by the
# magnitude of the values (the differences' round-off is eps |f| / h^k).
FD_TOL = {1: (1e-5, 1e-7), 2: (1e-4, 1e-5)}
# Exact methods against each other: round-off of differently arranged expressions only. A
# difference the differences cannot see (below FD_TOL) but above this is still a wrong number.
EXACT_TOL = (1e-7, 1e-9)


# ---------------------------------------------------------------------------------------------
# the NumPy twin: `cnp` for the oracle and for generation, written with NumPy only


def _logsumexp(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    a = np.asarray(a, float)
    m = np.max(a, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    if keepdims:
        return out
    return out.reshape(()) if axis is None else np.squeeze(out, axis=axis)


def _softmax(x: Any, axis: int = -1) -> Any:
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


class _TwinAtIndex:
    def __init__(self, x: Any, idx: Any) -> None:
        self.x, self.idx = np.array(x, float), idx

    def get(self) -> Any:
        return self.x[self.idx]

    def set(self, v: Any) -> Any:
        y = self.x.copy()
        y[self.idx] = v
        return y

    def add(self, v: Any) -> Any:
        y = self.x.copy()
        np.add.at(y, self.idx, v)
        return y

    def multiply(self, v: Any) -> Any:
        y = self.x.copy()
        np.multiply.at(y, self.idx, v)
        return y


class _TwinAt:
    def __init__(self, x: Any) -> None:
        self.x = x

    def __getitem__(self, idx: Any) -> _TwinAtIndex:
        return _TwinAtIndex(self.x, idx)


class _NumpyTwin(types.ModuleType):
    """chainrule.numpy's names, computed by NumPy itself."""

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)


TWIN = _NumpyTwin("cnp_twin")
TWIN.linalg = np.linalg  # type: ignore[attr-defined]
TWIN.logsumexp = _logsumexp  # type: ignore[attr-defined]
TWIN.softmax = _softmax  # type: ignore[attr-defined]
TWIN.log_softmax = (  # type: ignore[attr-defined]
    lambda x, axis=-1: x - _logsumexp(x, axis=axis, keepdims=True))
TWIN.relu = lambda x: np.maximum(x, 0.0)  # type: ignore[attr-defined]
TWIN.sigmoid = lambda x: 1.0 / (1.0 + np.exp(-x))  # type: ignore[attr-defined]
TWIN.softplus = lambda x: np.logaddexp(x, 0.0)  # type: ignore[attr-defined]
TWIN.at = _TwinAt  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# programs


@dataclasses.dataclass
class Stmt:
    """A statement (or a block: a loop, an if) of the main function, with the names it binds."""
    lines: list[str]
    defines: tuple[str, ...]

    def uses(self) -> set[str]:
        return set(_NAME.findall("\n".join(self.lines))) - set(self.defines)


_NAME = re.compile(r"\b([xv]\d+)\b")
_HELPER = re.compile(r"\b(h\d+)\(")


@dataclasses.dataclass
class Program:
    """A generated program: `f(x0, ...)` and what it is compared on."""
    seed: int
    args: tuple[Any, ...]
    argnums: int | tuple[int, ...]
    scalar_out: bool
    value_control: bool  # Python control flow on a value: graph and symbolic must refuse
    consts: dict[str, str]  # name -> literal
    helpers: dict[str, str]  # name -> `def` source
    stmts: list[Stmt]
    shapes: dict[str, tuple[int, ...]]  # every main-body name -> its shape
    features: tuple[str, ...] = ()
    tangent: tuple[Any, ...] = ()
    quiet: frozenset[str] = frozenset()  # parameters the shrinker left out of the return
    cotangent: Any = None  # for vjp (array outputs)

    @property
    def params(self) -> list[str]:
        return [f"x{i}" for i in range(len(self.args))]

    def output_line(self) -> str:
        """The return: the names no later statement uses, combined (rebuilt after shrinking)."""
        return _combine(self.stmts, self.params, self.shapes, self.scalar_out, self.quiet)

    @property
    def source(self) -> str:
        body = [line for s in self.stmts for line in s.lines] + [self.output_line()]
        text = "\n".join(body)
        used_helpers = _closure_of_helpers(text, self.helpers)
        consts_text = text + "".join(self.helpers[h] for h in used_helpers)
        sections = ["import numpy as np\nimport chainrule.numpy as cnp"]
        consts = [f"{k} = {v}" for k, v in self.consts.items()
                  if re.search(rf"\b{k}\b", consts_text)]
        if consts:
            sections.append("\n".join(consts))
        sections += [self.helpers[h] for h in sorted(used_helpers, key=lambda n: int(n[1:]))]
        sections.append("\n".join([f"def f({', '.join(self.params)}):"]
                                  + ["    " + line for line in body]))
        return "\n\n\n".join(sections) + "\n"

    @property
    def n_lines(self) -> int:
        return sum(len(s.lines) for s in self.stmts)

    def diff_sizes(self) -> int:
        nums = (self.argnums,) if isinstance(self.argnums, int) else self.argnums
        return sum(int(np.size(self.args[i])) for i in nums)

    def transforms(self) -> tuple[str, ...]:
        """What this program is checked on: a scalar output gets grad and jvp (and a Hessian
        when small), an array output jvp, vjp and the two Jacobians (when small)."""
        if self.scalar_out:
            out: tuple[str, ...] = ("grad", "jvp")
            if self.diff_sizes() <= HESSIAN_MAX_INPUTS:
                out += ("hessian",)
            return out
        out_size = int(np.prod(self.shapes["__out__"]))
        if out_size <= JACOBIAN_MAX and self.diff_sizes() <= JACOBIAN_MAX:
            return ("jvp", "vjp", "jacrev", "jacfwd")
        return ("jvp", "vjp")


def _closure_of_helpers(text: str, helpers: dict[str, str]) -> set[str]:
    found: set[str] = set()
    todo = set(_HELPER.findall(text)) & set(helpers)
    while todo:
        h = todo.pop()
        found.add(h)
        todo |= (set(_HELPER.findall(helpers[h])) & set(helpers)) - found
    return found


def _combine(stmts: Sequence[Stmt], params: Sequence[str],
             shapes: dict[str, tuple[int, ...]], scalar_out: bool,
             quiet: frozenset[str] = frozenset()) -> str:
    used: set[str] = set(quiet)
    for s in stmts:
        used |= s.uses()
    defined = list(params) + [n for s in stmts for n in s.defines]
    dangling = [n for n in defined if n not in used] or list(params)
    if scalar_out:
        terms = [n if shapes[n] == () else f"cnp.sum({n})" for n in dangling]
        return "return " + " + ".join(terms)
    arrays = [n for n in dangling if shapes[n] != ()]
    base = arrays[-1] if arrays else None
    if base is None:  # only scalars left: make a vector of them
        return f"return cnp.stack([{', '.join(dangling)}, {dangling[-1]} * 2.0])"
    terms = [base if int(np.prod(shapes[base])) <= JACOBIAN_MAX
             else f"cnp.ravel({base})[:{JACOBIAN_MAX}]"]
    terms += [n if shapes[n] == () else f"cnp.sum({n})" for n in dangling if n != base]
    return "return " + " + ".join(terms)


def output_shape(stmts: Sequence[Stmt], params: Sequence[str],
                 shapes: dict[str, tuple[int, ...]],
                 quiet: frozenset[str] = frozenset()) -> tuple[int, ...]:
    line = _combine(stmts, params, shapes, False, quiet)
    if line.startswith("return cnp.stack"):
        return (line.count(",") + 1,)
    first = line[len("return "):].split(" + ")[0]
    return (JACOBIAN_MAX,) if first.startswith("cnp.ravel") else shapes[first]


# ---------------------------------------------------------------------------------------------
# the generator


@dataclasses.dataclass
class Var:
    name: str
    value: Any  # what the program holds (a Python float for a scalar argument)

    @property
    def a(self) -> np.ndarray:
        return np.asarray(self.value, dtype=float)

    @property
    def shape(self) -> tuple[int, ...]:
        return np.shape(self.value)

    @property
    def ndim(self) -> int:
        return len(self.shape)


class _Reject(Exception):
    """The candidate statement does not fit (a kink too close, a value too large)."""


def _margin(*vals: np.ndarray) -> float:
    top = max((float(np.max(np.abs(v))) if np.size(v) else 0.0) for v in vals)
    return MARGIN * max(1.0, top)


def _lit(x: float) -> str:
    return repr(round(float(x), 3))


class _Module:
    """What the functions of one generated module share: rng, constants, helpers, flags."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.consts: dict[str, str] = {}
        self.helpers: dict[str, str] = {}
        self.globals: dict[str, Any] = {"np": np, "cnp": TWIN}
        self.features: set[str] = set()
        self.value_control = False

    def const(self, shape: tuple[int, ...], low: float = -1.0, high: float = 1.0) -> str:
        name = f"K{len(self.consts)}"
        value = np.round(self.rng.uniform(low, high, size=shape), 3)
        self.consts[name] = f"np.array({value.tolist()!r})"
        self.globals[name] = value
        return name


class _Body:
    """One function body being generated: a pool of named values and its statements."""

    def __init__(self, mod: _Module, params: list[Var], prefix: str, depth: int) -> None:
        self.mod, self.rng = mod, mod.rng
        self.pool: list[Var] = list(params)
        self.ns: dict[str, Any] = {p.name: p.value for p in params}
        self.stmts: list[Stmt] = []
        self.prefix = prefix
        self.depth = depth  # 0: f itself, 1: a helper f calls, 2: a helper's helper
        self.count = 0

    # ---- naming, picking, evaluating

    def fresh(self) -> str:
        self.count += 1
        return f"{self.prefix}{self.count}"

    def choice(self, seq: Sequence[Any]) -> Any:
        return seq[int(self.rng.integers(len(seq)))]

    def pick(self, pred: Callable[[Var], bool] = lambda v: True) -> Var:
        cands = [v for v in self.pool if pred(v)]
        if not cands:
            raise _Reject("no operand")
        w = np.arange(1, len(cands) + 1, dtype=float) ** 1.5  # recent values more often
        return cands[int(self.rng.choice(len(cands), p=w / w.sum()))]

    def evaluate(self, code: str, names: Sequence[str]) -> list[Any]:
        ns = dict(self.ns)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                exec(code, self.mod.globals, ns)
            except Exception as exc:  # a shape the generator got wrong: try something else
                raise _Reject(f"{type(exc).__name__}: {exc}") from None
        out = []
        for n in names:
            v = ns[n]
            a = np.asarray(v)
            if a.dtype.kind != "f" or a.ndim > 3 or a.size > MAX_SIZE or a.size == 0:
                raise _Reject(f"{n}: dtype {a.dtype}, shape {a.shape}")
            if not np.all(np.isfinite(a)) or np.max(np.abs(a)) > MAX_ABS:
                raise _Reject(f"{n}: not finite or too large")
            out.append(v)
        return out

    def emit(self, lines: list[str], names: Sequence[str], feature: str) -> list[Var]:
        values = self.evaluate("\n".join(lines), names)
        for n, v in zip(names, values):
            self.ns[n] = v
            self.pool.append(Var(n, v))
        self.stmts.append(Stmt(lines, tuple(names)))
        self.mod.features.add(feature)
        return self.pool[-len(names):]

    def assign(self, expr: str, feature: str) -> Var:
        name = self.fresh()
        if self.rng.random() < 0.12:
            # the same call through plain NumPy (__array_ufunc__ / __array_function__)
            plain = _CNP_TO_NP.sub("np.", expr)
            if plain != expr:
                expr = plain
                self.mod.features.add("dispatch:np")
        return self.emit([f"{name} = {expr}"], [name], feature)[0]

    def broadcast_partner(self, a: Var) -> str:
        """A name or literal that broadcasts with `a`, the result no larger than MAX_SIZE."""
        r = self.rng.random()
        if r < 0.55:
            cands = [v for v in self.pool if v.name != a.name and _bshape(a.shape, v.shape)]
            if cands:
                return self.pick(lambda v: v in cands).name
        if r < 0.7 or a.ndim == 0:
            return _lit(self.rng.uniform(-2, 2))
        if r < 0.85:
            return self.mod.const(a.shape[-1:])
        return self.mod.const(a.shape)

    # ---- the statement kinds

    def op_unary(self) -> None:
        a = self.pick()
        v = a.a
        amax = float(np.max(np.abs(v)))
        table: list[tuple[str, bool]] = [
            ("cnp.sin({a})", True), ("cnp.cos({a})", True), ("cnp.tanh({a})", True),
            ("cnp.arctan({a})", True), ("np.sin({a})", True), ("np.tanh({a})", True),
            ("cnp.exp({a})", v.max() < 3), ("cnp.expm1({a})", v.max() < 3),
            ("cnp.exp2({a})", v.max() < 4), ("np.exp(-{a})", v.min() > -3),
            ("cnp.sinh({a})", amax < 3), ("cnp.cosh({a})", amax < 3),
            ("cnp.square({a})", amax < 10), ("{a} ** 2", amax < 10), ("{a} ** 3", amax < 5),
            ("cnp.power({a}, 2)", amax < 10), ("{a} * {a}", amax < 10),
            ("cnp.sigmoid({a})", True), ("cnp.softplus({a})", True),
            ("cnp.arcsinh({a})", True), ("cnp.deg2rad({a})", True), ("cnp.radians({a})", True),
            ("cnp.rad2deg({a}) / 60.0", True), ("cnp.degrees({a}) / 60.0", True),
            ("-{a}", True), ("cnp.negative({a})", True), ("cnp.positive({a})", True),
            ("cnp.cbrt({a})", float(np.min(np.abs(v))) > 0.1),
            ("cnp.log1p({a})", v.min() > -0.8), ("cnp.arcsin({a})", amax < 0.9),
            ("cnp.arccos({a})", amax < 0.9), ("cnp.arctanh({a})", amax < 0.9),
            ("cnp.arccosh({a})", v.min() > 1.1), ("cnp.tan({a})", amax < 1.2),
            ("cnp.reciprocal({a})", float(np.min(np.abs(v))) > 0.2),
            ("1.0 / {a}", float(np.min(np.abs(v))) > 0.2),
            ("cnp.nan_to_num({a})", True), ("cnp.real({a})", True), ("cnp.conj({a})", True),
            ("{a} + cnp.imag({a})", True), ("2.5 * {a} - 1.0", True), ("{a} / 3.0", True),
        ]
        ok = [t for t, c in table if c]
        t = self.choice(ok)
        self.assign(t.format(a=a.name), "unary:" + t.split("(")[0])

    def positive(self, a: Var) -> str:
        """An expression of `a` that is >= 0.1 on a neighbourhood of the point."""
        v = a.a
        forms = ["({a} * {a} + 0.5)", "(cnp.square({a}) + 1.0)", "cnp.hypot({a}, 1.0)",
                 "cnp.logaddexp({a}, 0.5)", "cnp.sqrt({a} ** 2 + 0.25)"]
        if float(np.max(np.abs(v))) < 5:
            forms += ["cnp.exp(0.5 * {a})", "cnp.cosh({a})"]
        if float(np.min(np.abs(v))) > _margin(v):
            forms += ["(cnp.abs({a}) + 0.25)", "(np.abs({a}) + 0.1)"]
        if v.min() > 0.1 and self.rng.random() < 0.5:
            return a.name
        return self.choice(forms).format(a=a.name)

    def op_positive_domain(self) -> None:
        a = self.pick(lambda v: float(np.max(np.abs(v.a))) < 20)
        p = self.positive(a)
        forms = ["cnp.log({p})", "cnp.sqrt({p})", "cnp.log2({p})", "cnp.log10({p})",
                 "{p} ** 0.5", "cnp.power({p}, -0.5)", "cnp.float_power({p}, 1.5)",
                 "1.0 / {p}", "cnp.reciprocal({p})", "np.log({p})", "np.sqrt({p})",
                 "{p} ** 1.5", "cnp.power({p}, {b})", "{p} ** {b}"]
        if float(np.max(a.a)) < 5:
            forms += [f"2.0 ** {a.name}", f"cnp.power(1.5, {a.name})",
                      f"cnp.float_power(0.8, {a.name})"]
        t = self.choice(forms)
        b = ""
        if "{b}" in t:
            b = self.pick(lambda v: _bshape(a.shape, v.shape)
                          and float(np.max(np.abs(v.a))) < 2.5).name
        self.assign(t.format(p=p, b=b), "positive:" + t.split("(")[0])

    def op_binary(self) -> None:
        a = self.pick()
        b = self.broadcast_partner(a)
        bv = np.asarray(eval(b, self.mod.globals, self.ns), float)
        av = a.a
        forms = ["{a} + {b}", "{a} - {b}", "{a} * {b}", "cnp.add({a}, {b})",
                 # NumPy scalars and 0-d arrays meet the traced value from both sides
                 "np.float64(0.5) * {a}", "{a} * np.float64(1.5)", "np.float64(2.0) - {a}",
                 "np.array(0.7) * {a}", "{a} ** np.int64(2)", "{a} - np.array(-1.25)",
                 "cnp.subtract({a}, {b})", "cnp.multiply({a}, {b})", "np.multiply({a}, {b})",
                 "{b} - {a}", "cnp.logaddexp({a}, {b})", "cnp.logaddexp2({a}, {b})"]
        if float(np.min(np.abs(bv))) > 0.2:
            forms += ["{a} / {b}", "cnp.divide({a}, {b})", "cnp.true_divide({a}, {b})"]
        if float(np.min(np.abs(av))) > 0.2:
            forms += ["{b} / {a}"]
        ab = np.broadcast_arrays(av, bv)
        if float(np.min(np.hypot(*ab))) > 0.2:
            forms += ["cnp.hypot({a}, {b})"]
            # arctan2 jumps by 2 pi across the negative x axis (b < 0, a = 0)
            if not np.any((ab[1] < 0) & (np.abs(ab[0]) < _margin(*ab))):
                forms += ["cnp.arctan2({a}, {b})"]
        t = self.choice(forms)
        self.assign(t.format(a=a.name, b=b), "binary:" + t.split("(")[0])

    def op_kink(self) -> None:
        """Non-smooth functions, written only where the point is MARGIN away from the kink."""
        a = self.pick()
        v = a.a
        m = _margin(v)
        forms: list[str] = []
        if float(np.min(np.abs(v))) > m:
            forms += ["cnp.abs({a})", "cnp.absolute({a})", "cnp.fabs({a})", "cnp.relu({a})",
                      "cnp.sign({a}) * {a}", "np.abs({a})", "cnp.maximum({a}, 0.0)",
                      "cnp.minimum({a}, 0.0)"]
            if a.ndim == 0:
                forms += ["abs({a})"]
        frac = v - np.floor(v)
        if float(np.min(np.minimum(frac, 1 - frac))) > m:
            forms += ["cnp.floor({a}) + {a}", "cnp.ceil({a}) * {a}"]
        if float(np.min(np.abs(frac - 0.5))) > m:
            forms += ["cnp.round({a}) + {a}"]
        lo, hi = np.quantile(v, 0.25) - 0.05, np.quantile(v, 0.75) + 0.05
        lo, hi = round(float(lo), 2), round(float(hi), 2)
        if np.min(np.abs(v - lo)) > m and np.min(np.abs(v - hi)) > m and lo < hi:
            forms += [f"cnp.clip({{a}}, {lo}, {hi})", f"cnp.clip({{a}}, None, {hi})",
                      f"cnp.clip({{a}}, {lo}, None)"]
            if a.ndim >= 1:
                forms += [f"{{a}}.clip(min={lo})"]
        if a.ndim == 1 and float(np.min(np.abs(v))) > m:
            top = np.sort(np.abs(v))
            forms += ["cnp.linalg.norm({a}, 1)", "cnp.linalg.norm({a}, 3)"]
            if v.size == 1 or float(top[-1] - top[-2]) > m:
                forms += ["cnp.linalg.norm({a}, np.inf)"]
        for c in (0.7, 1.3, 2.0):
            q = v / c
            fq = q - np.floor(q)
            if float(np.min(np.minimum(fq, 1 - fq))) * c > m:
                forms += [f"cnp.mod({{a}}, {c})", f"cnp.remainder({{a}}, {c})", f"{{a}} % {c}"]
                break
        b = self.broadcast_partner(a)
        bv = np.asarray(eval(b, self.mod.globals, self.ns), float)
        if float(np.min(np.abs(np.subtract(v, bv)))) > _margin(v, bv):
            forms += ["cnp.maximum({a}, {b})", "cnp.minimum({a}, {b})", "cnp.fmax({a}, {b})",
                      "cnp.fmin({a}, {b})", "np.maximum({a}, {b})"]
        if not forms:
            raise _Reject("every kink is close")
        t = self.choice(forms)
        self.assign(t.format(a=a.name, b=b), "kink:" + t.split("(")[0])

    def op_where(self) -> None:
        """cnp.where on a comparison away from ties, sometimes with a branch that is NaN or
        inf where it is not taken (the double-where trap)."""
        c = self.pick()
        cv = c.a
        thr = round(float(self.rng.choice(cv.ravel())) + float(self.rng.uniform(-0.3, 0.3)), 2)
        if float(np.min(np.abs(cv - thr))) <= _margin(cv, np.asarray(thr)):
            raise _Reject("where condition close to switching")
        x = self.pick(lambda v: _bshape(v.shape, c.shape))
        y = self.broadcast_partner(x)
        r = self.rng.random()
        if r < 0.3 and thr > 0.1:
            # taken where c > thr >= 0.1: log/sqrt of c there; NaN/-inf where c <= 0
            t = self.choice(["cnp.log({c})", "cnp.sqrt({c})", "1.0 / {c}"]).format(c=c.name)
            expr = f"cnp.where({c.name} > {thr}, {t}, {y})"
            feature = "where:trap"
        elif r < 0.5:
            expr = f"cnp.where({c.name} < {thr}, {x.name} * 2.0, cnp.sin({y}))"
            feature = "where:sin"
        elif r < 0.62 and x.ndim >= 1:
            mask = (self.rng.random(x.shape) < 0.5).tolist()
            expr = f"cnp.where(np.array({mask!r}), {x.name}, {self.choice(['0.0', y])})"
            feature = "where:mask"
        else:
            expr = f"cnp.where({c.name} > {thr}, {x.name}, {y})"
            feature = "where"
        self.assign(expr, feature)

    def op_reduce(self) -> None:
        a = self.pick(lambda v: v.ndim >= 1)
        v = a.a
        nd = a.ndim
        kind = self.choice(["sum", "mean", "prod", "max", "min", "amax", "amin", "var", "std",
                            "logsumexp", "cumsum", "cumprod", "softmax", "log_softmax",
                            "method_sum", "method_mean", "np_sum", "norm"])
        r = self.rng.random()
        axis: Any = None if r < 0.35 else int(self.rng.integers(-nd, nd))
        if nd >= 2 and r > 0.85:
            axis = tuple(sorted(int(i) for i in self.rng.choice(nd, 2, replace=False)))
        keep = bool(self.rng.random() < 0.3)
        kw = "" if axis is None else f", axis={axis}"
        kw += ", keepdims=True" if keep else ""
        red = _reduced(v, axis)  # (..., k): the values each output element sees
        if kind in ("max", "min", "amax", "amin"):
            s = np.sort(red, axis=-1)
            if red.shape[-1] > 1 and float(np.min(s[..., -1] - s[..., -2] if kind in (
                    "max", "amax") else s[..., 1] - s[..., 0])) <= _margin(v):
                raise _Reject("tie in max/min")
            expr = f"cnp.{kind}({a.name}{kw})"
        elif kind in ("var", "std"):
            ddof = int(self.rng.integers(0, 2))
            if red.shape[-1] <= ddof or float(np.min(np.var(red, axis=-1))) < 1e-2:
                raise _Reject("variance near zero")
            expr = f"cnp.{kind}({a.name}{kw}" + (f", ddof={ddof})" if ddof else ")")
        elif kind == "prod":
            if red.shape[-1] > 6:
                raise _Reject("long product")
            expr = f"cnp.prod({a.name}{kw})"
        elif kind == "logsumexp":
            expr = f"cnp.logsumexp({a.name}{kw})"
        elif kind in ("cumsum", "cumprod", "softmax", "log_softmax"):
            ax = int(self.rng.integers(-nd, nd))
            expr = f"cnp.{kind}({a.name}, axis={ax})"
        elif kind == "method_sum":
            expr = f"{a.name}.sum({kw[2:]})"
        elif kind == "method_mean":
            expr = f"{a.name}.mean({kw[2:]})"
        elif kind == "np_sum":
            expr = f"np.sum({a.name}{kw})"
        elif kind == "norm":
            if float(np.min(np.sqrt(np.sum(red ** 2, axis=-1)))) < 0.1:
                raise _Reject("norm near zero")
            expr = f"cnp.linalg.norm({a.name}{kw})"
        else:
            expr = f"cnp.{kind}({a.name}{kw})"
        self.assign(expr, "reduce:" + kind)

    def op_shape(self) -> None:
        a = self.pick(lambda v: v.ndim >= 1)
        n, sh = a.name, a.shape
        nd = len(sh)
        forms: list[str] = [
            f"cnp.reshape({n}, {_random_reshape(self.rng, sh)!r})",
            f"{n}.reshape({_random_reshape(self.rng, sh)!r})",
            f"cnp.ravel({n})", f"cnp.flip({n}, axis={int(self.rng.integers(nd))})",
            f"cnp.roll({n}, {int(self.rng.integers(1, 3))}, axis={int(self.rng.integers(nd))})",
            f"cnp.diff({n}, axis={int(self.rng.integers(nd))})" if max(sh) > 1 else f"-{n}",
            f"{n}[::-1]", f"{n}[1:]" if sh[0] > 1 else f"{n}[:1]", f"{n}[0]",
            f"{n}[{int(self.rng.integers(-sh[0], sh[0]))}]",
            f"{n}[{list(int(i) for i in self.rng.integers(0, sh[0], size=3))!r}]",
            f"{n}[np.array({[bool(b) for b in self.rng.random(sh[0]) < 0.6]!r})]",
            f"cnp.take({n}, {list(int(i) for i in self.rng.integers(0, sh[-1], 3))!r}, "
            f"axis=-1)",
            f"cnp.tile({n}, 2)", f"cnp.repeat({n}, 2, axis={int(self.rng.integers(nd))})",
            f"cnp.pad({n}, 1)", f"cnp.expand_dims({n}, {int(self.rng.integers(nd + 1))})",
            f"cnp.atleast_2d({n})", f"cnp.atleast_3d({n})", f"cnp.atleast_1d({n})",
            f"cnp.broadcast_to({n}, {(2,) + sh!r})", f"{n}[None]",
            f"cnp.split({n}, {sh[0]}, axis=0)[{int(self.rng.integers(sh[0]))}]",
            f"cnp.array_split({n}, 2)[0]", f"cnp.asarray({n})",
            f"cnp.zeros_like({n}) + {n} * 2.0", f"cnp.ones_like({n}) * {n}",
            f"cnp.full_like({n}, 0.5) - {n}",
            f"cnp.stack([{n}, cnp.sin({n})], axis={int(self.rng.integers(nd + 1))})",
            f"cnp.concatenate([{n}, {n} ** 2], axis={int(self.rng.integers(nd))})",
            f"cnp.hstack([{n}, {n}])", f"cnp.vstack([{n}, -{n}])",
        ]
        forms += [f"{n}[np.array({self.rng.integers(0, sh[0], (2, 2)).tolist()!r})]",
                  f"cnp.at({n})[1:].set(0.5 * {n}[:-1])" if sh[0] > 1 else f"{n} * 1.0",
                  f"cnp.at({n})[::2].add({n}[::2] ** 2)",
                  f"cnp.pad({n}, 1, mode={self.choice(['edge', 'reflect', 'wrap'])!r})"
                  if min(sh) > 1 else f"cnp.pad({n}, (1, 2))",
                  f"cnp.cumsum({n})", f"cnp.roll({n}, -1)",
                  f"cnp.repeat({n}, {[int(i) for i in self.rng.integers(1, 3, sh[0])]!r},"
                  f" axis=0)",
                  f"cnp.tile({n}, {(2,) + (1,) * (nd - 1)!r})"]
        if sh[0] > 2:
            forms += [f"cnp.diff({n}, n=2, axis=0)", f"cnp.split({n}, [1], axis=0)[1]",
                      f"cnp.array_split({n}, 2, axis=0)[1]"]
        idx = [int(i) for i in self.rng.permutation(sh[0])[:2]]
        forms += [f"cnp.at({n})[{idx!r}].set(cnp.cos({n}[{idx!r}]))",
                  f"cnp.at({n})[{[idx[0], idx[0]]!r}].add(1.5 * {n}[{idx!r}])",
                  f"cnp.at({n})[{idx[0]}].multiply(2.0)"]
        if nd == 1:
            forms += [f"cnp.diag({n})", f"cnp.outer({n}, {n}[:2])",
                      f"{n}[:, None] * {n}[None, :]"]
            if sh[0] <= 3:
                forms += [f"cnp.kron({n}, {n})"]
        if nd >= 2:
            perm = tuple(int(i) for i in self.rng.permutation(nd))
            forms += [f"{n}.T", f"cnp.transpose({n})", f"cnp.transpose({n}, {perm!r})",
                      f"cnp.swapaxes({n}, 0, {nd - 1})", f"cnp.moveaxis({n}, 0, -1)",
                      f"cnp.diagonal({n})", f"cnp.tril({n})", f"cnp.triu({n}, 1) + {n}",
                      f"cnp.diagonal({n}, 1)", f"cnp.tril({n}, -1) + {n}",
                      f"cnp.trace({n}, offset=1)" if sh[1] > 1 else f"cnp.trace({n})",
                      f"cnp.fliplr({n})", f"cnp.flipud({n})", f"cnp.rot90({n})",
                      f"{n}[:, {int(self.rng.integers(sh[1]))}]", f"{n}[..., -1]",
                      f"{n}[:, 1:]" if sh[1] > 1 else f"{n}[:, :1]",
                      f"cnp.squeeze({n}[:, :1])", f"cnp.trace({n})",
                      f"cnp.take_along_axis({n}, "
                      f"np.array({self.rng.integers(0, sh[-1], sh[:-1] + (2,)).tolist()!r})"
                      f", axis=-1)"]
            if nd == 2 and sh[0] == sh[1]:
                forms += [f"cnp.diag({n})"]
        if nd == 2 and sh[0] <= 2 and sh[1] <= 2:
            forms += [f"cnp.kron({n}, {n})"]
        # sort: only where the values are distinct (the order is the same on a neighbourhood)
        s = np.sort(a.a, axis=-1)
        if sh[-1] == 1 or float(np.min(np.diff(s, axis=-1))) > _margin(a.a):
            forms += [f"cnp.sort({n})", f"cnp.sort({n}, axis=-1)[..., ::-1]"]
        t = self.choice(forms)
        self.assign(t, "shape:" + re.sub(r"\(.*", "", t.replace(n, "_")))

    def op_product(self) -> None:
        a = self.pick(lambda v: v.ndim >= 1)
        sh = a.shape
        kind = self.choice(["matmul", "matmul", "dot", "einsum", "einsum", "tensordot",
                            "inner", "vdot", "outer"])
        if kind in ("matmul", "dot"):
            k = sh[-1]
            b = self.pick_or_const(lambda s: len(s) in (1, 2) and s[0] == k,
                                   self.choice([(k,), (k, 2), (k, 3)]))
            if self.rng.random() < 0.25:
                # a NumPy array on the left: ndarray.__matmul__ must defer to the tracer
                c = self.mod.const(self.choice([(sh[0],), (2, sh[0])]) if a.ndim <= 2
                                   else (sh[-2],))
                self.assign(self.choice([f"{c} @ {a.name}", f"np.dot({c}, {a.name})",
                                         f"cnp.matmul({c}, {a.name})"]), "product:left")
                return
            ops = (["{a} @ {b}", "cnp.matmul({a}, {b})", "np.matmul({a}, {b})"]
                   if kind == "matmul" or a.ndim > 2 else
                   ["cnp.dot({a}, {b})", "np.dot({a}, {b})", "{a}.dot({b})"])
            expr = self.choice(ops).format(a=a.name, b=b)
        elif kind == "einsum":
            expr = self.einsum(a)
        elif kind == "tensordot":
            k = sh[-1]
            b = self.pick_or_const(lambda s: len(s) >= 1 and s[0] == k, (k, 2))
            expr = f"cnp.tensordot({a.name}, {b}, axes=1)"
            if self.rng.random() < 0.3 and a.ndim >= 2:
                bs = (sh[0], sh[1])
                b = self.pick_or_const(lambda s: s[:2] == bs, bs)
                expr = f"cnp.tensordot({a.name}, {b}, axes=([0, 1], [0, 1]))"
        elif kind == "inner":
            b = self.pick_or_const(lambda s: len(s) >= 1 and s[-1] == sh[-1], (sh[-1],))
            expr = f"cnp.inner({a.name}, {b})"
        elif kind == "vdot":
            b = self.pick_or_const(lambda s: int(np.prod(s)) == int(np.prod(sh)), sh)
            expr = f"cnp.vdot({a.name}, {b})"
        else:
            b = self.pick_or_const(lambda s: 1 <= int(np.prod(s)) <= 6, (3,))
            expr = f"cnp.outer({a.name}, {b})"
        self.assign(expr, "product:" + kind)

    def pick_or_const(self, fits: Callable[[tuple[int, ...]], bool],
                      default: tuple[int, ...]) -> str:
        cands = [v for v in self.pool if v.ndim >= 1 and fits(v.shape)]
        if cands and self.rng.random() < 0.6:
            return self.pick(lambda v: v in cands).name
        return self.mod.const(default)

    def einsum(self, a: Var) -> str:
        letters = "ijk"[:a.ndim]
        dims = dict(zip(letters, a.shape))
        if self.rng.random() < 0.1 and a.ndim >= 2:
            return f"cnp.einsum('...i,...i->...', {a.name}, {a.name})"
        if self.rng.random() < 0.3:  # one operand: a transpose, a trace, a sum
            if a.ndim == 2 and a.shape[0] == a.shape[1] and self.rng.random() < 0.5:
                return f"cnp.einsum('ii->', {a.name})"
            out = "".join(self.rng.permutation(list(letters))[:int(self.rng.integers(a.ndim
                                                                                    + 1))])
            return f"cnp.einsum('{letters}->{out}', {a.name})"
        b = self.pick(lambda v: v.ndim >= 1)
        bl = ""
        for i, d in enumerate(b.shape):
            shared = [c for c in letters if dims[c] == d and c not in bl]
            if shared and self.rng.random() < 0.7:
                bl += self.choice(shared)
            else:
                bl += "pqr"[i]
                dims["pqr"[i]] = d
        union = sorted(set(letters + bl))
        n_out = int(self.rng.integers(0, min(3, len(union)) + 1))
        out = "".join(self.rng.permutation(union)[:n_out])
        return f"cnp.einsum('{letters},{bl}->{out}', {a.name}, {b.name})"

    def square_matrix(self) -> tuple[str, int, np.ndarray]:
        """An expression of a pool value that is an n x n matrix (n <= 4), and its value."""
        r = self.rng.random()
        sq = [v for v in self.pool if v.ndim == 2 and v.shape[0] == v.shape[1] <= 4]
        if sq and r < 0.5:
            v = self.pick(lambda u: u in sq)
            return v.name, v.shape[0], v.a
        vec = [v for v in self.pool if v.ndim == 1 and 2 <= v.shape[0] <= 4]
        if vec and r < 0.7:
            v = self.pick(lambda u: u in vec)
            c = self.mod.const((v.shape[0], v.shape[0]))
            return (f"cnp.outer({v.name}, {v.name}) + {c}", v.shape[0],
                    np.outer(v.a, v.a) + self.mod.globals[c])
        mats = [v for v in self.pool if v.ndim == 2 and max(v.shape) <= 4]
        if mats:
            v = self.pick(lambda u: u in mats)
            return f"{v.name} @ {v.name}.T", v.shape[0], v.a @ v.a.T
        raise _Reject("no matrix")

    def op_linalg(self) -> None:
        batch = [v for v in self.pool if v.ndim == 3 and v.shape[1] == v.shape[2] <= 3]
        if batch and self.rng.random() < 0.3:
            self.op_linalg_batched(self.pick(lambda u: u in batch))
            return
        s, n, sv = self.square_matrix()
        rowsum = float(np.max(np.sum(np.abs(sv), axis=1)))
        # diagonally dominant: eigenvalues within shift +- rowsum, condition number below 5
        shift = round(1.0 + 1.5 * rowsum, 2)
        m = f"({s} + {shift} * cnp.eye({n}))"
        kind = self.choice(["solve", "solve", "inv", "det", "slogdet", "slogdet_unpack",
                            "cholesky", "eigh", "eigh_rebuild", "svd", "svd_rebuild",
                            "norm2", "nuc", "fro", "pinv"])
        if kind == "solve":
            b = self.pick_or_const(lambda sh: sh[0] == n and len(sh) <= 2,
                                   self.choice([(n,), (n, 2)]))
            self.assign(f"cnp.linalg.solve({m}, {b})", "linalg:solve")
        elif kind == "inv":
            self.assign(self.choice([f"cnp.linalg.inv({m})", f"cnp.linalg.inv({m}) @ {s}"]),
                        "linalg:inv")
        elif kind == "det":
            self.assign(f"cnp.linalg.det({m})", "linalg:det")
        elif kind == "slogdet":
            self.assign(f"cnp.linalg.slogdet({m})[1]", "linalg:slogdet")
        elif kind == "slogdet_unpack":
            sign, logdet = self.fresh(), self.fresh()
            self.emit([f"{sign}, {logdet} = cnp.linalg.slogdet({m})"], [sign, logdet],
                      "linalg:slogdet")
        elif kind == "cholesky":
            self.assign(f"cnp.linalg.cholesky({m} @ {m}.T)", "linalg:cholesky")
        elif kind == "fro":
            self.assign(self.choice([f"cnp.linalg.norm({s})", f"cnp.linalg.norm({m}, 'fro')"]),
                        "linalg:norm")
        elif kind == "pinv":
            self.assign(f"cnp.linalg.pinv({m})", "linalg:pinv")
        else:
            # spectral functions: smooth only where the eigen/singular values are distinct
            # (and, for singular values, nonzero)
            sym = f"({s} + ({s}).T)"
            eig = kind.startswith("eigh")
            w = np.linalg.eigvalsh(sv + sv.T) if eig else np.linalg.svd(sv, compute_uv=False)
            gaps = np.diff(np.sort(w))
            if (not eig and float(np.min(np.abs(w))) <= _margin(w)) or \
                    (gaps.size and float(np.min(gaps)) <= _margin(w)):
                raise _Reject("repeated or zero eigen/singular values")
            if kind == "eigh":
                self.assign(self.choice([f"cnp.linalg.eigh({sym})[0]",
                                         f"cnp.linalg.eigh({sym})[1] ** 2"]), "linalg:eigh")
            elif kind == "eigh_rebuild":
                w_, q_ = self.fresh(), self.fresh()
                self.emit([f"{w_}, {q_} = cnp.linalg.eigh({sym})"], [w_, q_], "linalg:eigh")
                self.assign(f"({q_} * {w_}) @ {q_}.T", "linalg:eigh")
            elif kind == "svd":
                self.assign(f"cnp.linalg.svd({s}, compute_uv=False)", "linalg:svd")
            elif kind == "svd_rebuild":
                u, sg, vt = self.fresh(), self.fresh(), self.fresh()
                self.emit([f"{u}, {sg}, {vt} = cnp.linalg.svd({s})"], [u, sg, vt],
                          "linalg:svd")
                self.assign(self.choice([f"({u} * {sg}) @ {vt}", f"{u} ** 2 + {vt} ** 2"]),
                            "linalg:svd")
            elif kind == "norm2":
                self.assign(f"cnp.linalg.norm({s}, 2)", "linalg:norm")
            else:
                self.assign(f"cnp.linalg.norm({s}, 'nuc')", "linalg:norm")

    def op_linalg_batched(self, a: Var) -> None:
        """A stack of matrices (k, n, n): NumPy's linalg broadcasts over the leading axis."""
        n = a.shape[-1]
        rowsum = float(np.max(np.sum(np.abs(a.a), axis=-1)))
        m = f"({a.name} + {round(1.0 + 1.5 * rowsum, 2)} * cnp.eye({n}))"
        kind = self.choice(["solve", "inv", "det", "slogdet"])
        if kind == "solve":
            b = self.pick_or_const(lambda sh: sh == a.shape[:2] + (2,), a.shape[:2] + (2,))
            self.assign(f"cnp.linalg.solve({m}, {b})", "linalg:batched")
        elif kind == "slogdet":
            self.assign(f"cnp.linalg.slogdet({m})[1]", "linalg:batched")
        else:
            self.assign(f"cnp.linalg.{kind}({m})", "linalg:batched")

    def op_loop(self) -> None:
        a = self.pick(lambda v: float(np.max(np.abs(v.a))) < 5)
        acc = self.fresh()
        b = self.broadcast_partner(a)
        if not _bshape_into(np.shape(eval(b, self.mod.globals, self.ns)), a.shape):
            b = "0.5"
        body_forms = [f"{acc} = 0.5 * {acc} + 0.3 * cnp.sin({acc} * {b})",
                      f"{acc} = cnp.tanh({acc} + 0.1 * i * {b})",
                      f"{acc} = {acc} * 0.8 + cnp.cos({b}) / (i + 1)",
                      f"{acc} = cnp.sqrt({acc} * {acc} + 0.5) - 0.5"]
        if a.ndim == 0:
            # augmented assignment only rebinds a scalar; on an array it would write into
            # the argument itself (`acc = x` aliases it) in plain NumPy
            body_forms += [f"{acc} += 0.2 * cnp.exp(-{acc} * {acc})", f"{acc} *= 0.9"]
        k = int(self.rng.integers(1, 4))
        style = self.rng.random()
        # a scalar accumulator starts as a new value (`* 1.0`): `+=` on an alias of a 0-d
        # array argument would write into the argument
        lines = [f"{acc} = {a.name}" + (" * 1.0" if a.ndim == 0 else "")]
        if style < 0.5:
            lines.append(f"for i in range({k}):")
            lines += ["    " + self.choice(body_forms)
                      for _ in range(int(self.rng.integers(1, 3)))]
        elif style < 0.7:
            lines += ["i = 0", f"while i < {k}:", "    " + self.choice(body_forms),
                      "    i += 1"]
        else:
            rows = self.pick(lambda v: v.ndim >= 1 and _bshape_into(v.shape[1:], a.shape)
                             and v.shape[0] <= 4)
            form = self.choice([f"for row in {rows.name}:",
                                f"for i in range(len({rows.name})):"])
            item = "row" if form.startswith("for row") else f"{rows.name}[i]"
            lines += [form, f"    {acc} = 0.7 * {acc} + 0.3 * cnp.sin({item})"]
        self.emit(lines, [acc], "control:loop")

    def op_if_shape(self) -> None:
        a = self.pick(lambda v: v.ndim >= 1)
        out = self.fresh()
        cond = self.choice([f"{a.name}.shape[0] > 2", f"{a.name}.ndim == 2",
                            f"len({a.name}) == 3", f"{a.name}.size > 4"])
        e1, e2 = (self.choice(_SMOOTH).format(a=a.name) for _ in range(2))
        self.emit([f"if {cond}:", f"    {out} = {e1}", "else:", f"    {out} = {e2}"], [out],
                  "control:if_shape")

    def op_if_value(self) -> None:
        a = self.pick()
        out = self.fresh()
        total = float(np.sum(a.a))
        thr = round(total + self.choice([-1, 1]) * float(self.rng.uniform(0.1, 1.0)), 2)
        e1, e2 = (self.choice(_SMOOTH).format(a=a.name) for _ in range(2))
        if a.ndim == 0 and self.rng.random() < 0.5:
            lines = [f"{out} = {e1} if {a.name} > {thr} else {e2}"]
        else:
            test = f"{a.name} > {thr}" if a.ndim == 0 else f"cnp.sum({a.name}) > {thr}"
            lines = [f"if {test}:", f"    {out} = {e1}", "else:", f"    {out} = {e2}"]
        self.emit(lines, [out], "control:if_value")
        self.mod.value_control = True

    def op_helper(self) -> None:
        k = int(self.rng.integers(1, 3))
        params = [self.pick() for _ in range(k)]
        if len(params) == 2 and params[0].name == params[1].name:
            params = params[:1]
        # the last parameter may have a default; the call then leaves it out or passes it
        # by keyword
        default = _lit(self.rng.uniform(0.5, 1.5)) if self.rng.random() < 0.3 else None
        call_style = self.choice(["omit", "keyword", "positional"]) if default else ""
        inner_values = [p.value for p in params]
        if call_style == "omit":
            inner_values.append(float(default))  # type: ignore[arg-type]
        name = f"h{len(self.mod.helpers)}"
        self.mod.helpers[name] = ""  # reserve the name (a helper may call another)
        pnames = [f"p{i}" for i in range(len(inner_values))]
        inner = _Body(self.mod, [Var(n, v) for n, v in zip(pnames, inner_values)],
                      prefix=f"{name}_t", depth=self.depth + 1)
        inner.run(int(self.rng.integers(1, 4)))
        two = len(inner.pool) > 2 and self.rng.random() < 0.3
        rets = [inner.pool[-1].name] + ([inner.pool[-2].name] if two else [])
        body = [line for s in inner.stmts for line in s.lines]
        sig = pnames[:-1] + [f"{pnames[-1]}={default}"] if default else pnames
        src = "\n".join([f"def {name}({', '.join(sig)}):"]
                        + ["    " + line for line in body] + [f"    return {', '.join(rets)}"])
        try:
            exec(src, self.mod.globals)
        except Exception as exc:
            del self.mod.helpers[name]
            raise _Reject(str(exc)) from None
        self.mod.helpers[name] = src
        outs = [self.fresh() for _ in rets]
        given = [p.name for p in params]
        if call_style == "keyword":
            given[-1] = f"{pnames[-1]}={given[-1]}"
        self.emit([f"{', '.join(outs)} = {name}({', '.join(given)})"], outs,
                  "control:helper" + (f"_{call_style}" if call_style else ""))

    def op_method(self) -> None:
        """Array methods (the tracer's, NumPy's on the twin)."""
        a = self.pick(lambda v: v.ndim >= 1)
        n, sh, nd, v = a.name, a.shape, a.ndim, a.a
        ax = int(self.rng.integers(-nd, nd))
        red = _reduced(v, ax)
        forms = [f"{n}.sum(axis={ax})", f"{n}.mean()", f"{n}.cumsum(axis={ax})",
                 f"{n}.reshape(-1)", f"{n}.ravel()", f"{n}.flatten()", f"{n}.transpose()",
                 f"{n}.squeeze()", f"{n}.conj()", f"{n}.real", f"{n}.copy()",
                 f"{n}.swapaxes(0, -1)", f"{n}.sum(keepdims=True)", f"{n}.mean(axis={ax})"]
        if red.shape[-1] <= 6:
            forms += [f"{n}.prod(axis={ax})"]
        if red.shape[-1] > 1 and float(np.min(np.var(red, axis=-1))) > 1e-2:
            forms += [f"{n}.std(axis={ax})", f"{n}.var()"]
        srt = np.sort(red, axis=-1)
        if red.shape[-1] == 1 or float(np.min(srt[..., -1] - srt[..., -2])) > _margin(v):
            forms += [f"{n}.max(axis={ax})"]
        srt = np.sort(v.ravel())
        if v.size == 1 or float(srt[1] - srt[0]) > _margin(v):
            forms += [f"{n}.min()"]
        lo, hi = round(float(np.quantile(v, 0.3)) - 0.03, 2), \
            round(float(np.quantile(v, 0.7)) + 0.03, 2)
        if lo < hi and min(np.min(np.abs(v - lo)), np.min(np.abs(v - hi))) > _margin(v):
            forms += [f"{n}.clip({lo}, {hi})"]
        frac = v - np.floor(v)
        if float(np.min(np.abs(frac - 0.5))) > _margin(v):
            forms += [f"{n}.round() + {n}"]
        k = sh[-1]
        b = [u for u in self.pool if u.ndim in (1, 2) and u.shape[0] == k]
        if b:
            forms += [f"{n}.dot({self.pick(lambda u: u in b).name})"]
        t = self.choice(forms)
        self.assign(t, "method:" + t.split(".")[1].split("(")[0])

    def op_scalars(self) -> None:
        """Python-level constructions from scalars and lists: cnp.array of traced scalars,
        builtin sum, list comprehensions, tuple unpacking, builtin max (control flow on a
        value)."""
        scal = [v for v in self.pool if v.ndim == 0]
        vecs = [v for v in self.pool if v.ndim >= 1 and v.shape[0] <= 4]
        r = self.rng.random()
        if r < 0.35 and len(scal) >= 2:
            s1, s2 = self.pick(lambda u: u in scal), self.pick(lambda u: u in scal)
            t = self.choice([f"cnp.array([{s1.name}, {s2.name}, {s1.name} * {s2.name}])",
                             f"cnp.stack([{s1.name}, {s2.name}])",
                             f"sum([{s1.name}, {s2.name}, 1.0])",
                             f"cnp.asarray([{s2.name}, {s1.name}])"])
            if t.startswith("sum") is False and self.rng.random() < 0.2 and \
                    abs(float(s1.a) - float(s2.a)) > _margin(s1.a, s2.a):
                t = f"max({s1.name}, {s2.name}) + {s1.name}"
                self.mod.value_control = True
                self.assign(t, "control:builtin_max")
                return
            self.assign(t, "scalars:array")
            return
        if not vecs:
            raise _Reject("no vector")
        a = self.pick(lambda u: u in vecs)
        m = a.shape[0]
        if r < 0.55:
            self.assign(f"sum([{a.name}[i] * (i + 1.0) for i in range({m})])",
                        "scalars:comprehension")
        elif r < 0.75:
            self.assign(f"cnp.stack([cnp.sin(r) * r for r in {a.name}])",
                        "scalars:comprehension")
        elif m >= 2:
            t1, t2 = self.fresh(), self.fresh()
            self.emit([f"{t1}, {t2} = {a.name}[0], {a.name}[-1]"], [t1, t2], "scalars:unpack")
        else:
            raise _Reject("vector too short")

    # ---- driving

    def step(self, allow_control: bool) -> None:
        kinds: list[tuple[Callable[[], None], float]] = [
            (self.op_unary, 3), (self.op_positive_domain, 2), (self.op_binary, 3),
            (self.op_kink, 1.5), (self.op_where, 1), (self.op_reduce, 2), (self.op_shape, 3),
            (self.op_product, 2), (self.op_linalg, 0.7), (self.op_method, 1.5),
            (self.op_scalars, 1)]
        if allow_control:
            kinds += [(self.op_loop, 0.8), (self.op_if_shape, 0.5), (self.op_if_value, 0.25)]
        if self.depth <= 1:
            kinds += [(self.op_helper, 0.7 if self.depth == 0 else 0.2)]
        w = np.array([k[1] for k in kinds])
        for _ in range(30):
            op = kinds[int(self.rng.choice(len(kinds), p=w / w.sum()))][0]
            try:
                op()
                return
            except _Reject:
                continue

    def run(self, n_ops: int) -> None:
        for _ in range(n_ops):
            self.step(allow_control=self.depth <= 1)


# not asarray/array: NumPy's own never dispatch (no protocol reaches a traced value there)
_CNP_TO_NP = re.compile(
    r"\bcnp\.(?!(?:logsumexp|softmax|log_softmax|relu|sigmoid|softplus|at|asarray|array)\b)")

_SMOOTH = ["cnp.sin({a}) * 2.0", "{a} * {a}", "cnp.tanh({a})", "{a} + 1.0",
           "cnp.exp(-{a} * {a})", "cnp.cos({a}) - {a}"]


def _bshape(s1: tuple[int, ...], s2: tuple[int, ...]) -> bool:
    try:
        out = np.broadcast_shapes(s1, s2)
    except ValueError:
        return False
    return len(out) <= 3 and int(np.prod(out)) <= MAX_SIZE


def _bshape_into(small: tuple[int, ...], big: tuple[int, ...]) -> bool:
    try:
        return np.broadcast_shapes(small, big) == tuple(big)
    except ValueError:
        return False


def _reduced(v: np.ndarray, axis: Any) -> np.ndarray:
    """v with the reduced axes moved last and merged: what each output element reduces."""
    if axis is None:
        return v.reshape(1, -1)
    axes = (axis,) if isinstance(axis, int) else axis
    axes = tuple(a % v.ndim for a in axes)
    moved = np.moveaxis(v, axes, tuple(range(v.ndim - len(axes), v.ndim)))
    return moved.reshape(moved.shape[:v.ndim - len(axes)] + (-1,))


def _random_reshape(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[int, ...]:
    size = int(np.prod(shape))
    options = [(size,), (1, size), (size, 1)]
    options += [(d, size // d) for d in range(2, size) if size % d == 0]
    options += [(d, e, size // (d * e)) for d in range(2, size) for e in range(2, size)
                if size % (d * e) == 0 and size // (d * e) >= 2]
    options += [(-1,), (2, -1) if size % 2 == 0 else (-1,)]
    return options[int(rng.integers(len(options)))]


ARG_SHAPES: list[tuple[int, ...]] = [(), (), (2,), (3,), (4,), (2, 2), (2, 3), (3, 2), (3, 3),
                                     (2, 2, 2)]


def generate(seed: int) -> Program:
    """The program of this seed (the same on every machine: NumPy's PCG64 stream)."""
    for attempt in itertools.count():
        rng = np.random.default_rng([seed, attempt])
        try:
            return _generate(seed, rng)
        except _Reject:
            continue
    raise AssertionError("unreachable")


def _generate(seed: int, rng: np.random.Generator) -> Program:
    mod = _Module(rng)
    n_args = int(rng.integers(1, 4))
    args: list[Any] = []
    for _ in range(n_args):
        shape = ARG_SHAPES[int(rng.integers(len(ARG_SHAPES)))]
        value = np.round(rng.uniform(-1.5, 1.5, size=shape), 4)
        if shape and rng.random() < 0.1:
            value.flat[int(rng.integers(value.size))] = 0.0  # an exact zero: prod, x ** 3 ...
        # a scalar is a Python float, or (a third of the time) a 0-d array
        args.append(float(value) if shape == () and rng.random() < 0.67 else np.asarray(value))
    body = _Body(mod, [Var(f"x{i}", a) for i, a in enumerate(args)], prefix="v", depth=0)
    body.run(int(rng.integers(2, 9)))
    shapes = {v.name: v.shape for v in body.pool}
    params = [f"x{i}" for i in range(n_args)]
    scalar_out = bool(rng.random() < 0.6)
    # the output as the program computes it, checked like every intermediate
    out_line = _combine(body.stmts, params, shapes, scalar_out)
    (out,) = body.evaluate(out_line.replace("return ", "__out__ = ", 1), ["__out__"])
    shapes["__out__"] = np.shape(out)
    if scalar_out:
        argnums: int | tuple[int, ...] = 0 if n_args == 1 or rng.random() < 0.3 else \
            tuple(sorted(int(i) for i in rng.choice(n_args, int(rng.integers(1, n_args + 1)),
                                                    replace=False)))
    else:
        argnums = 0 if n_args == 1 or rng.random() < 0.4 else tuple(range(n_args))
    tangent = tuple(_like(a, rng) for a in args)
    cotangent = None if scalar_out else np.round(rng.normal(size=np.shape(out)), 3)
    return Program(seed=seed, args=tuple(args), argnums=argnums, scalar_out=scalar_out,
                   value_control=mod.value_control, consts=dict(mod.consts),
                   helpers={k: v for k, v in mod.helpers.items() if v}, stmts=body.stmts,
                   shapes=shapes, features=tuple(sorted(mod.features)), tangent=tangent,
                   cotangent=cotangent)


def _like(a: Any, rng: np.random.Generator) -> Any:
    t = np.round(rng.normal(size=np.shape(a)), 3)
    return float(t) if type(a) is float else t


# ---------------------------------------------------------------------------------------------
# loading: a real .py file, imported as written and as its NumPy twin

_LOADED = itertools.count()


@dataclasses.dataclass
class Loaded:
    program: Program
    fn: Callable[..., Any]  # f as written: cnp is chainrule.numpy
    twin: Callable[..., Any]  # the same source with cnp bound to NumPy
    path: Path


def load(program: Program, directory: Path) -> Loaded:
    k = next(_LOADED)
    name = f"fuzzprog_{program.seed}_{k}"
    path = Path(directory) / f"{name}.py"
    path.write_text(program.source)
    mods = []
    for mod_name in (name, name + "_twin"):
        spec = importlib.util.spec_from_file_location(mod_name, path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = mod  # inspect.getsource finds the module through sys.modules
        spec.loader.exec_module(mod)
        mods.append(mod)
    setattr(mods[1], "cnp", TWIN)  # noqa: B010  (functions read their globals at call time)
    return Loaded(program, mods[0].f, mods[1].f, path)


def unload(loaded: Loaded) -> None:
    for mod_name in (loaded.path.stem, loaded.path.stem + "_twin"):
        sys.modules.pop(mod_name, None)


# ---------------------------------------------------------------------------------------------
# the oracle: central differences on the NumPy twin


class _Flat:
    """The differentiated arguments as one flat vector z, and back."""

    def __init__(self, args: Sequence[Any], nums: tuple[int, ...]) -> None:
        self.args, self.nums = list(args), nums
        self.shapes = [np.shape(args[i]) for i in nums]
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        self.z = np.concatenate([np.ravel(np.asarray(args[i], float)) for i in nums]) \
            if nums else np.zeros(0)

    def args_at(self, z: np.ndarray) -> list[Any]:
        out = list(self.args)
        start = 0
        for i, shape, size in zip(self.nums, self.shapes, self.sizes):
            piece = z[start:start + size].reshape(shape)
            out[i] = float(piece) if type(self.args[i]) is float else piece
            start += size
        return out

    def split(self, d: np.ndarray, lead: tuple[int, ...]) -> list[np.ndarray]:
        """Split the last axis of d (lead + (n,)) into one block per argument."""
        out, start = [], 0
        for shape, size in zip(self.shapes, self.sizes):
            out.append(d[..., start:start + size].reshape(lead + shape))
            start += size
        return out


def _quiet_call(fn: Callable[..., Any], args: Sequence[Any]) -> np.ndarray:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(fn(*args), dtype=float)


@dataclasses.dataclass
class Oracle:
    value: np.ndarray  # f at the point (the twin)
    results: dict[str, Any]  # transform -> derivative in the library's structure
    scale: dict[str, float]  # transform -> max(1, |derivative|, |f|)
    unreliable: dict[str, str]  # transform -> why central differences cannot be trusted there


def _first_order(F: Callable[[np.ndarray], np.ndarray], z: np.ndarray, dirs: np.ndarray,
                 hs: np.ndarray) -> np.ndarray:
    """Central differences along each row of dirs; the last axis of the result is the row."""
    cols = [(F(z + h * d) - F(z - h * d)) / (2 * h) for d, h in zip(dirs, hs)]
    return np.stack(cols, axis=-1)


def _check_steps(d1: np.ndarray, d2: np.ndarray, order: int, f_scale: float) -> str:
    """'' when the differences at steps h (d1) and 2h (d2) agree to a quarter of the
    tolerance, else why not. Their truncation errors are c h^2 and 4 c h^2, so d1's own error
    is about |d1 - d2| / 3: this keeps it below a tenth of what a method is allowed. A kink
    or jump inside the stencil makes the two disagree, which is how points the generator could
    not see as non-smooth are left out."""
    rtol, atol = FD_TOL[order]
    s = max(1.0, float(np.max(np.abs(d1), initial=0.0)), f_scale)
    bad = np.abs(d1 - d2) > 0.25 * (atol * s + rtol * np.abs(d1))
    if np.any(bad):
        k = int(np.argmax(np.abs(d1 - d2)))
        return (f"steps h and 2h differ: {d1.ravel()[k]:.6g} vs {d2.ravel()[k]:.6g} "
                f"(a kink or a steep derivative near the point)")
    return ""


def oracle(program: Program, twin: Callable[..., Any], transforms: Sequence[str]) -> Oracle:
    """Central differences of the NumPy twin, in the structure the library returns. Steps:
    eps^(1/3) max(1, |x|) for first derivatives, eps^(1/4) max(1, |x|) for the Hessian (the
    steps that balance truncation and round-off)."""
    args = program.args
    value = _quiet_call(twin, args)
    f_scale = float(np.max(np.abs(value), initial=0.0))
    nums = (program.argnums,) if isinstance(program.argnums, int) else tuple(program.argnums)
    results: dict[str, Any] = {}
    unreliable: dict[str, str] = {}
    eps = np.finfo(float).eps

    def pack(blocks: list[np.ndarray]) -> Any:
        return blocks[0] if isinstance(program.argnums, int) else tuple(blocks)

    for t in transforms:
        if t == "jvp":
            flat = _Flat(args, tuple(range(len(args))))
            tan = np.concatenate([np.ravel(np.asarray(x, float)) for x in program.tangent])
            F = _flat_fn(twin, flat)
            tn = max(float(np.max(np.abs(tan))), 1e-300)
            h = eps ** (1 / 3) * max(1.0, float(np.max(np.abs(flat.z), initial=0.0))) / tn
            d1 = _first_order(F, flat.z, tan[None], np.array([h]))[..., 0]
            d2 = _first_order(F, flat.z, tan[None], np.array([2 * h]))[..., 0]
            results[t] = (value, d1)
            unreliable[t] = _check_steps(d1, d2, 1, f_scale)
        elif t == "vjp":
            # <ct, f> differentiated in every argument
            flat = _Flat(args, tuple(range(len(args))))
            ct = np.asarray(program.cotangent, float)
            G = _projected(_flat_fn(twin, flat), ct)
            eye = np.eye(flat.z.size)
            hs = eps ** (1 / 3) * np.maximum(1.0, np.abs(flat.z))
            d1 = _first_order(G, flat.z, eye, hs)
            d2 = _first_order(G, flat.z, eye, 2 * hs)
            results[t] = (value, tuple(flat.split(d1, ())))
            g_scale = float(np.sum(np.abs(ct) * np.abs(value)))
            unreliable[t] = _check_steps(d1, d2, 1, g_scale)
        elif t in ("grad", "jacrev", "jacfwd"):
            flat = _Flat(args, nums)
            F = _flat_fn(twin, flat)
            eye = np.eye(flat.z.size)
            hs = eps ** (1 / 3) * np.maximum(1.0, np.abs(flat.z))
            d1 = _first_order(F, flat.z, eye, hs)
            d2 = _first_order(F, flat.z, eye, 2 * hs)
            results[t] = pack(flat.split(d1, value.shape))
            unreliable[t] = _check_steps(d1, d2, 1, f_scale)
        elif t == "hessian":
            flat = _Flat(args, nums)
            F = _flat_fn(twin, flat)
            hs = eps ** (1 / 4) * np.maximum(1.0, np.abs(flat.z))
            h1 = _second_order(F, flat.z, hs)
            h2 = _second_order(F, flat.z, 2 * hs)
            starts = np.cumsum([0] + flat.sizes)
            k = len(flat.sizes)
            blocks = [[h1[starts[i]:starts[i + 1], starts[j]:starts[j + 1]].reshape(
                flat.shapes[i] + flat.shapes[j]) for j in range(k)] for i in range(k)]
            results[t] = blocks[0][0] if isinstance(program.argnums, int) else \
                tuple(tuple(r) for r in blocks)
            unreliable[t] = _check_steps(h1, h2, 2, f_scale)
    scale = {t: max(1.0, f_scale, max((float(np.max(np.abs(leaf), initial=0.0))
                                       for leaf in _leaves(results[t])), default=0.0))
             for t in results}
    return Oracle(value, results, scale, unreliable)


def _projected(F: Callable[[np.ndarray], np.ndarray],
               ct: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    return lambda z: np.asarray(np.sum(ct * F(z)))


def _flat_fn(twin: Callable[..., Any], flat: _Flat) -> Callable[[np.ndarray], np.ndarray]:
    return lambda z: _quiet_call(twin, flat.args_at(z))


def _second_order(F: Callable[[np.ndarray], np.ndarray], z: np.ndarray,
                  hs: np.ndarray) -> np.ndarray:
    """H_ij = [F(+i+j) - F(+i-j) - F(-i+j) + F(-i-j)] / (4 h_i h_j) (i = j included)."""
    n = z.size
    H = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            ei = np.zeros(n)
            ej = np.zeros(n)
            ei[i], ej[j] = hs[i], hs[j]
            val = (F(z + ei + ej) - F(z + ei - ej) - F(z - ei + ej) + F(z - ei - ej)) / \
                (4 * hs[i] * hs[j])
            H[i, j] = H[j, i] = float(val)
    return H


def _leaves(x: Any) -> Iterator[Any]:
    if isinstance(x, (tuple, list)):
        for y in x:
            yield from _leaves(y)
    else:
        yield x


# ---------------------------------------------------------------------------------------------
# running the methods and classifying


@dataclasses.dataclass
class Outcome:
    seed: int
    method: str
    transform: str
    status: str  # agree | disagree | refused | crash | timeout | skipped
    error: str = ""  # the exception's class for refused / crash / timeout
    detail: str = ""
    got: Any = None
    seconds: float = 0.0
    exc_type: type[BaseException] | None = None

    @property
    def signature(self) -> tuple[str, str, str, str]:
        """What a shrunk program must keep failing with."""
        return (self.method, self.transform, self.status, self.error)


class Timeout(BaseException):
    """One derivative took longer than its budget. A BaseException, so that no `except
    Exception` in the code under test can swallow it."""


@contextlib.contextmanager
def _alarm(seconds: float | None) -> Iterator[None]:
    """Raise Timeout in the block after `seconds` (main thread, POSIX); None: no limit."""
    if not seconds or not hasattr(signal, "setitimer"):
        yield
        return

    def _raise(signum: int, frame: Any) -> None:
        raise Timeout(f"over {seconds} s")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_transform(program: Program, fn: Callable[..., Any], transform: str,
                  method: str) -> Any:
    p = program
    if transform == "jvp":
        return cr.jvp(fn, p.args, p.tangent, method=method)
    if transform == "vjp":
        out, vjp_fn = cr.vjp(fn, *p.args, method=method)
        return out, vjp_fn(p.cotangent)
    return getattr(cr, transform)(fn, argnums=p.argnums, method=method)(*p.args)


def classify_exception(exc: BaseException, method: str, program: Program) -> tuple[str, str]:
    """(status, error class name): a documented refusal, or a crash."""
    name = type(exc).__name__
    if isinstance(exc, Timeout):
        return "timeout", name
    if isinstance(exc, cr.symbolic.SymbolicError):
        return "refused", name
    if isinstance(exc, cr.source.TransformError):
        return "refused", name
    if isinstance(exc, NotImplementedError):
        return "refused", name
    if isinstance(exc, cr.ConcretizationError):
        # graph's refusal of Python control flow on a value; on a program without such
        # control flow it is an op that asked for a concrete value: a bug, except a NumPy
        # array's own method called with a traced argument (W.dot(x)), which NumPy never
        # dispatches: chainrule refuses the conversion and names the fix
        if program.value_control or ".dot(" in program.source:
            return "refused", name
        return "crash", name
    return "crash", name


def _structure_and_shapes(x: Any) -> Any:
    if isinstance(x, (tuple, list)):
        return tuple(_structure_and_shapes(y) for y in x)
    return np.shape(x)


def compare(got: Any, want: Any, rtol: float, atol: float) -> str:
    """'' when got matches want (same nesting, shapes, values within tolerance), else why."""
    if _structure_and_shapes(got) != _structure_and_shapes(want):
        return (f"structure/shapes {_structure_and_shapes(got)} instead of "
                f"{_structure_and_shapes(want)}")
    for k, (g, w) in enumerate(zip(_leaves(got), _leaves(want))):
        try:
            g = np.asarray(g, dtype=float)
        except (TypeError, ValueError) as exc:
            return f"leaf {k}: not a float array ({type(exc).__name__}: {exc})"
        w = np.asarray(w, dtype=float)
        err = np.abs(g - w)
        bad = ~(err <= atol + rtol * np.abs(w))  # NaN counts as bad
        if np.any(bad):
            i = int(np.argmax(np.where(bad, np.nan_to_num(err, nan=np.inf), -1)))
            return (f"leaf {k} entry {np.unravel_index(i, g.shape) if g.shape else ()}: "
                    f"{g.ravel()[i]!r} vs {w.ravel()[i]!r} (|diff| {err.ravel()[i]:.3g}, "
                    f"tol {atol + rtol * abs(w.ravel()[i]):.3g})")
    return ""


def check(program: Program, loaded: Loaded, methods: Sequence[str] = METHODS,
          transforms: Sequence[str] | None = None, timeout: float | None = None
          ) -> list[Outcome]:
    """Every (method, transform) of the program, classified against the oracle and against the
    other exact methods."""
    transforms = [t for t in (transforms or TRANSFORMS) if t in program.transforms()]
    orc = oracle(program, loaded.twin, transforms)
    outcomes: list[Outcome] = []
    for t in transforms:
        order = 2 if t == "hessian" else 1
        rtol, atol = FD_TOL[order]
        s = orc.scale[t]
        got_ok: dict[str, Any] = {}
        cell: dict[str, Outcome] = {}
        for m in methods:
            t0 = time.perf_counter()
            try:
                with np.errstate(all="ignore"), warnings.catch_warnings(), _alarm(timeout):
                    warnings.simplefilter("ignore")
                    got = run_transform(program, loaded.fn, t, m)
            except (Exception, Timeout) as exc:
                status, err = classify_exception(exc, m, program)
                msg = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
                cell[m] = Outcome(program.seed, m, t, status, err, msg,
                                  seconds=time.perf_counter() - t0, exc_type=type(exc))
                continue
            dt = time.perf_counter() - t0
            if orc.unreliable[t]:
                cell[m] = Outcome(program.seed, m, t, "skipped", detail=orc.unreliable[t],
                                  got=got, seconds=dt)
                continue
            why = compare(got, orc.results[t], rtol, atol * s)
            if t in ("jvp", "vjp") and not why:  # the primal too, against NumPy's evaluation
                why = compare(got[0], orc.value, 1e-9, 1e-12 * s)
                why = f"primal: {why}" if why else ""
            if why:
                cell[m] = Outcome(program.seed, m, t, "disagree",
                                  detail=f"vs central differences: {why}", got=got,
                                  seconds=dt)
            else:
                cell[m] = Outcome(program.seed, m, t, "agree", got=got, seconds=dt)
                if m in EXACT_METHODS:
                    got_ok[m] = got
        # exact methods among themselves: one that the others agree against is wrong even
        # below what central differences can resolve
        for m, g in got_ok.items():
            others = [o for o in got_ok if o != m]
            if len(others) < 2:
                continue
            ref = got_ok[others[0]]
            if any(compare(got_ok[o], ref, EXACT_TOL[0], EXACT_TOL[1] * s) for o in others):
                continue
            why = compare(g, ref, EXACT_TOL[0], EXACT_TOL[1] * s)
            if why:
                cell[m].status = "disagree"
                cell[m].detail = f"vs {', '.join(others)} (which agree): {why}"
        outcomes += [cell[m] for m in methods]
    return outcomes


def oracle_flags(program: Program, loaded: Loaded, transform: str, wrong: Any) -> str:
    """compare() of a given (e.g. deliberately wrong) derivative with the oracle: '' when the
    oracle accepts it. For the test that the check can fail."""
    orc = oracle(program, loaded.twin, [transform])
    order = 2 if transform == "hessian" else 1
    rtol, atol = FD_TOL[order]
    return compare(wrong, orc.results[transform], rtol, atol * orc.scale[transform])


# ---------------------------------------------------------------------------------------------
# shrinking


def _reductions(program: Program) -> Iterator[Program]:
    """Smaller programs: one statement fewer (the last first), or a parameter left out of the
    return."""
    stmts = program.stmts
    for k in reversed(range(len(stmts))):
        later: set[str] = set().union(*(s.uses() for s in stmts[k + 1:]))
        if not set(stmts[k].defines) & later:
            yield dataclasses.replace(program, stmts=stmts[:k] + stmts[k + 1:])
    for p in program.params:
        if p not in program.quiet:
            yield dataclasses.replace(program, quiet=program.quiet | {p})


def shrink(program: Program, directory: Path, signature: tuple[str, str, str, str],
           timeout: float | None = None, max_tries: int = 200) -> Program:
    """Greedily drop statements whose names nothing else uses, and parameters from the return
    (rebuilt from the names left dangling), while the failure keeps `signature` (method,
    transform, status, error class). The statements kept compute the same values, so the
    margins the generator checked still hold."""
    method, transform, status, error = signature
    current = program
    tries = 0
    changed = True
    while changed and tries < max_tries:
        changed = False
        for cand in _reductions(current):
            try:
                cand = _refresh(cand)
            except (_Reject, KeyError, ValueError):
                continue
            if transform not in cand.transforms():
                continue
            tries += 1
            loaded = load(cand, directory)
            try:
                outs = check(cand, loaded, methods=_methods_for(method), transforms=[transform],
                             timeout=timeout)
            except Exception:  # the oracle itself failed on the candidate: not a reduction
                continue
            finally:
                unload(loaded)
            if any(o.signature == signature for o in outs):
                current = cand
                changed = True
                break
    return current


def _methods_for(method: str) -> tuple[str, ...]:
    # the exact-method consensus needs the others; a crash or refusal needs only itself
    return EXACT_METHODS if method in EXACT_METHODS else (method,)


_BUILTIN_MAX = re.compile(r"(?<![\w.])max\(")
_VALUE_IF = re.compile(r"\bif (?!.*(shape|ndim|len\(|\.size))")


def _refresh(program: Program) -> Program:
    """After a reduction: the output's shape (it may change), whether Python control flow on
    a value is left, the features of what is left."""
    shapes = dict(program.shapes)
    shapes["__out__"] = () if program.scalar_out else output_shape(
        program.stmts, program.params, shapes, program.quiet)
    value_control = any(_VALUE_IF.search(ln) or _BUILTIN_MAX.search(ln)
                        for s in program.stmts for ln in s.lines)
    cotangent = program.cotangent
    if not program.scalar_out and np.shape(cotangent) != shapes["__out__"]:
        cotangent = np.round(np.random.default_rng(program.seed).normal(
            size=shapes["__out__"]), 3)
    return dataclasses.replace(program, shapes=shapes, value_control=value_control,
                               cotangent=cotangent)


def describe(program: Program) -> str:
    """The program and its point, as a self-contained repro."""
    with np.printoptions(precision=17, floatmode="unique", threshold=1000):
        args = ", ".join(repr(a) if isinstance(a, float) else f"np.array({a.tolist()!r})"
                         for a in program.args)
        tangent = ", ".join(repr(a) if isinstance(a, float) else f"np.array({a.tolist()!r})"
                            for a in program.tangent)
    out = (f"# seed {program.seed}\n{program.source}\n"
           f"args = ({args},)\nargnums = {program.argnums!r}\ntangent = ({tangent},)\n")
    if program.cotangent is not None:
        out += f"cotangent = np.array({np.asarray(program.cotangent).tolist()!r})\n"
    return out


def fmt_value(x: Any) -> str:
    """Short: a long array shows its shape, its largest entry and its first entries."""
    if x is None:
        return "None"
    if isinstance(x, (tuple, list)):
        return "(" + ", ".join(fmt_value(y) for y in x) + ")"
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        return repr(x)[:200]
    if a.ndim == 0:
        return repr(float(a))
    if a.size <= 6:
        return np.array2string(a.ravel(), precision=10, separator=", ").replace("\n", "") + \
            (f".reshape{a.shape}" if a.ndim > 1 else "")
    first = ", ".join(f"{v:.10g}" for v in a.ravel()[:4])
    return f"<shape {a.shape}, max |.| {np.max(np.abs(a)):.6g}, ravel [{first}, ...]>"


__all__ = ["METHODS", "EXACT_METHODS", "TRANSFORMS", "FD_TOL", "MARGIN", "Program", "Outcome",
           "generate", "load", "unload", "check", "oracle", "oracle_flags", "shrink",
           "describe", "fmt_value", "compare", "TWIN"]
