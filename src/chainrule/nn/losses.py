"""Losses: `cross_entropy` (from logits, log-sum-exp stable, label smoothing), `mse`,
`binary_cross_entropy_with_logits` (stable). They are defined in `functional` beside the
layers' computations; this module gathers them.

Examples
--------
>>> import numpy as np
>>> import chainrule as cr
>>> from chainrule.nn.losses import mse
>>> print(mse(np.ones(3), np.zeros(3)))
1.0
"""
from __future__ import annotations

from .functional import binary_cross_entropy_with_logits, cross_entropy, mse

__all__ = ["cross_entropy", "mse", "binary_cross_entropy_with_logits"]
