"""The record of the table-driven rule tests (tests/test_rules.py) and the helpers that draw
their inputs, shared with the case tables of the primitive families kept in files of their own
(`tests/cases_*.py`, each defining `DIFF_CASES` and, if it has any, `NONDIFF_CASES`).
"""
from __future__ import annotations

import importlib
import pathlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Args = tuple[Any, ...]


@dataclass
class Case:
    """One way of calling one primitive. `make(rng)` builds the positional arguments: the
    floating-point arrays are differentiated (except those listed in `const`); boolean masks and
    Python scalars stay closure constants. `xfail` marks known bugs, per test kind."""

    prim: str
    label: str
    make: Callable[[np.random.Generator], Args]
    params: dict[str, Any] = field(default_factory=dict)
    fd: bool = True  # finite differences are valid here (no ties, no kinks within eps)
    const: tuple[int, ...] = ()  # floating-point arguments held constant (never differentiated)
    xfail: dict[str, str] = field(default_factory=dict)  # test kind -> reason (strict xfail)
    quiet: bool = False  # inf/nan met on purpose in an untaken branch: silence RuntimeWarnings
    # for the finite-difference checks only: applied to each differentiated argument (e.g. to
    # symmetrise the input of cholesky/eigh, whose rules assume symmetric perturbations) and to
    # the outputs (e.g. to square away the sign ambiguity of singular/eigen vectors)
    pre: Callable[[Any], Any] | None = None
    post: Callable[[Any], Any] | None = None

    @property
    def id(self) -> str:
        return f"{self.prim}-{self.label}"

    def args(self, example: int = 0) -> Args:
        seed = zlib.crc32(self.id.encode()) + 7919 * example
        return self.make(np.random.default_rng(seed))


def lbl(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) if shape else "scalar"


def arr(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def uniform(rng: np.random.Generator, shape: tuple[int, ...], lo: float, hi: float,
             signed: bool = False) -> np.ndarray:
    x = arr(rng.uniform(lo, hi, size=shape))
    if signed:
        x = x * rng.choice([-1.0, 1.0], size=shape)
    return arr(x)


def normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return arr(rng.standard_normal(shape))


def retry(draw: Callable[[np.random.Generator], Args], ok: Callable[..., bool]
           ) -> Callable[[np.random.Generator], Args]:
    """Draw until `ok(*args)`: keeps inputs away from kinks and singularities by a margin much
    larger than the finite-difference steps (eps=1e-3 times a standard normal direction)."""

    def make(rng: np.random.Generator) -> Args:
        for _ in range(100_000):
            args = draw(rng)
            if ok(*args):
                return args
        raise RuntimeError("could not draw inputs inside the domain")

    return make


def extra_cases(name: str) -> list[Case]:
    """The list `name` of every `tests/cases_*.py` module, in file-name order."""
    out: list[Case] = []
    for path in sorted(pathlib.Path(__file__).parent.glob("cases_*.py")):
        out.extend(getattr(importlib.import_module(path.stem), name, []))
    return out
