"""Rule-test cases of the Fourier transforms (ops/fft.py): `fft` (forward and inverse, one axis
and several), `rfft` and `irfft`, over shapes, axes, even and odd lengths and the three norms.

The table differentiates real arrays only, so `fft` and `rfft` meet it with real signals and
complex spectra. Two of the table's checks pair a complex output with a real cotangent by the
plain product sum(ct * L v), whose imaginary part the library's convention (the real pairing
Re(sum(conj(ct) * L v))) leaves out, and compare jacfwd with jacrev, which for a real input and
a complex output is Re(jacfwd) by that convention: those two are strict xfails for the real-to-
complex cases, and tests/test_fft.py checks the same identities with the real pairing (complex
inputs too)."""
from __future__ import annotations

from typing import Any

import numpy as np

from rulecase import Case, normal

_NORMS = ("backward", "ortho", "forward")


def _signal(shape: tuple[int, ...]) -> Any:
    def make(rng: np.random.Generator) -> tuple[Any, ...]:
        return (normal(rng, shape),)
    return make


def _label(shape: tuple[int, ...], **params: Any) -> str:
    parts = ["x".join(map(str, shape))]
    for k, v in params.items():
        if isinstance(v, tuple):
            v = "".join(map(str, v))
        parts.append(f"{k}{v}")
    return "-".join(parts)


def _fft_cases() -> list[Case]:
    out = []
    layouts = [((5,), (0,)), ((3, 4), (1,)), ((3, 4), (0,)), ((3, 4), (0, 1)),
               ((2, 3, 4), (0, 2)), ((2, 3, 4), (2, 1, 0))]
    for k, (shape, axes) in enumerate(layouts):
        for inverse in (False, True):
            norm = _NORMS[k % 3] if inverse else _NORMS[(k + 1) % 3]
            params = {"axes": axes, "inverse": inverse, "norm": norm}
            out.append(Case("fft", _label(shape, **params), _signal(shape), params))
    return out


def _rfft_cases() -> list[Case]:
    out = []
    layouts = [((1,), 0), ((2,), 0), ((5,), 0), ((6,), 0), ((3, 4), 1), ((3, 5), 0),
               ((2, 3, 4), 1)]
    for k, (shape, axis) in enumerate(layouts):
        params = {"axis": axis, "norm": _NORMS[k % 3]}
        out.append(Case("rfft", _label(shape, **params), _signal(shape), params))
    return out


def _irfft_cases() -> list[Case]:
    out = []
    # (the length of the output along the axis) n: the input has n//2 + 1 there
    layouts = [((1,), 0, 1), ((2,), 0, 2), ((3,), 0, 4), ((3,), 0, 5), ((3, 4), 1, 6),
               ((3, 4), 1, 7), ((4, 3), 0, 6), ((2, 3, 4), 1, 5)]
    for k, (shape, axis, n) in enumerate(layouts):
        params = {"axis": axis, "n": n, "norm": _NORMS[k % 3]}
        out.append(Case("irfft", _label(shape, **params), _signal(shape), params))
    return out


DIFF_CASES: list[Case] = _fft_cases() + _rfft_cases() + _irfft_cases()
