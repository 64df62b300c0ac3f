"""Rule-test cases (tests/test_rules.py) of the primitives added for the rest of
`chainrule.numpy`: `partition` (NumPy's values; the derivative follows them, as sort's).

Everything else of that work (median, quantile, interp, convolve, ...) is written with existing
primitives and is tested in tests/test_numpy_more.py."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rulecase import Args, Case, arr, lbl


def _distinct(shape: tuple[int, ...]) -> Callable[[np.random.Generator], Args]:
    """Distinct values, far apart compared with the finite-difference steps (a tie would make
    the permutation jump)."""
    def make(rng: np.random.Generator) -> Args:
        n = int(np.prod(shape))
        return (arr(rng.permutation(n).reshape(shape) * 0.5 + rng.uniform(0, 0.1, shape)),)
    return make


DIFF_CASES: list[Case] = [
    Case("partition", f"{lbl(s)}-kth{kth}-axis{a}", _distinct(s), {"kth": kth, "axis": a})
    for s, kth, a in (((7,), (3,), 0), ((7,), (0, 6), 0), ((5, 4), (2,), 0),
                      ((3, 6), (1, 4), 1), ((2, 3, 5), (-1,), 2))
]
