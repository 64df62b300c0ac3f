"""`chainrule.nn` (`cr.nn`): modules, layers, losses and initialisers for training models with
any of chainrule's reverse-mode methods.

Modules are pytrees (their parameters are the leaves), so the functional transforms take them
as arguments; see `module.py` for how parameters, submodules and buffers are found, and
docs/nn.md for a worked example. `cr.nn.functional` has the layers' computations as
functions, `cr.nn.init` the initialisers.

Examples
--------
>>> import numpy as np
>>> import chainrule as cr
>>> model = cr.nn.Sequential(cr.nn.Linear(4, 8, seed=0), cr.nn.ReLU(),
...                          cr.nn.Linear(8, 3, seed=1))
>>> x, y = np.ones((5, 4)), np.array([0, 1, 2, 0, 1])
>>> loss = lambda m, x, y: cr.nn.cross_entropy(m(x), y)
>>> value, grads = cr.value_and_grad(loss)(model, x, y)
>>> print(type(grads).__name__, grads[0].weight.shape)
Sequential (4, 8)
"""
from __future__ import annotations

from . import functional, init
from .conv import AvgPool2d, Conv2d, MaxPool2d
from .functional import binary_cross_entropy_with_logits, cross_entropy, mse
from .layers import (
    GELU,
    BatchNorm1d,
    Dropout,
    Embedding,
    Flatten,
    Identity,
    LayerNorm,
    Linear,
    ReLU,
    Sigmoid,
    Tanh,
)
from .module import Module, Sequential, functional_call

__all__ = [
    "Module", "Sequential", "Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "Flatten", "ReLU",
    "Tanh", "Sigmoid", "GELU", "Dropout", "LayerNorm", "BatchNorm1d", "Embedding", "Identity",
    "cross_entropy", "mse", "binary_cross_entropy_with_logits", "functional_call",
    "functional", "init",
]
