"""Rule-test cases of the checkpointed loop (graph/revolve.py): `binomial_scan`, the loop (also
keeping the states a reverse pass needs), and `binomial_scan_reverse`, its backward pass, which
follows the binomial schedule. Both are bound with a step traced here; the reverse pass's own
derivatives and batching go through its `chain`."""
from __future__ import annotations

from typing import Any

import numpy as np

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.checkpoint import binomial_first_sweep
from rulecase import Case, normal

_LENGTH = 5
_V3 = cr.graph.spec((3,))
# (constant k, carry c, slice x) -> (carry, y)
_STEP = cr.graph.trace(lambda k, c, x: [c * cnp.sin(x) + k, c * x], _V3, _V3, _V3)
_LOOP = {"body": _STEP, "n_consts": 1, "n_carry": 1, "length": _LENGTH}


def _loop_args(rng: np.random.Generator) -> tuple[Any, ...]:
    return 0.5 * normal(rng, (3,)), normal(rng, (3,)), normal(rng, (_LENGTH, 3))


def _states(snapshots: int) -> tuple[int, ...]:
    """The states the forward pass hands to the reverse one (as graph/revolve.py says)."""
    sweep = set(binomial_first_sweep(_LENGTH, snapshots))
    return tuple(sorted((sweep | {_LENGTH - 1}) - {0}))


def _reverse_args(states: tuple[int, ...], ct_at: tuple[int, ...]) -> Any:
    def make(rng: np.random.Generator) -> tuple[Any, ...]:
        k, c, xs = _loop_args(rng)
        given = tuple(normal(rng, (3,)) for _ in states)  # (any states: the rule is tested)
        return (k, c, xs, *given, normal(rng, (3,)), normal(rng, (_LENGTH, 3)),
                *[normal(rng, (3,)) for _ in ct_at])
    return make


def _cases() -> list[Case]:
    out = [Case("binomial_scan", f"s{s}-reverse{r}-keep{''.join(map(str, keep))}", _loop_args,
                {**_LOOP, "reverse": r, "snapshots": s, "keep": keep})
           for s, r, keep in ((2, False, ()), (1, True, ()), (3, False, (1, 4)))]
    for s, ct_at in ((2, ()), (1, (2,))):
        states = _states(s)
        out.append(Case("binomial_scan_reverse", f"s{s}-ct_at{''.join(map(str, ct_at))}",
                        _reverse_args(states, ct_at),
                        {**_LOOP, "reverse": False, "snapshots": s, "states": states,
                         "ct_at": ct_at, "mask": (0, 1, 2), "chain": ()}))
    return out


DIFF_CASES = _cases()
