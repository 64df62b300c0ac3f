"""Layers without spatial structure: `Linear`, `Embedding`, the activations, `Flatten`,
`Dropout`, `LayerNorm`, `BatchNorm1d`.

Default initialisation (each layer takes `seed=` or `rng=`; with neither it draws from a fresh,
OS-seeded generator, so pass one `rng` to every layer of a model to make it reproducible):

- `Linear`: weight and bias uniform in ±1/√in_features (PyTorch's default, which is
  Kaiming-uniform with a = √5); for deep ReLU networks `init.kaiming_normal` is a common choice.
- `Embedding`: standard normal.
- `LayerNorm`, `BatchNorm1d`: weight ones, bias zeros; running mean zeros, running variance ones.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import functional as F
from . import init
from .module import Module

__all__ = ["Linear", "Embedding", "ReLU", "Tanh", "Sigmoid", "GELU", "Flatten", "Dropout",
           "LayerNorm", "BatchNorm1d", "Identity"]


def positive_int(value: Any, name: str, who: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{who}: {name} must be a positive int, got {value!r}")
    return int(value)


def _fraction(value: Any, name: str, who: str, top_open: bool = False) -> float:
    ok = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool)
    if not ok or not (0.0 <= value < 1.0 if top_open else 0.0 <= value <= 1.0):
        raise ValueError(f"{who}: {name} must be a number in [0, 1{')' if top_open else ']'}, "
                         f"got {value!r}")
    return float(value)


class Linear(Module):
    """A fully connected layer: `y = x @ weight + bias`.

    **Layout:** `weight` has shape (in_features, out_features) — transposed with respect to
    PyTorch's — so no transpose is needed; `bias` has shape (out_features,). Initialised uniform
    in ±1/√in_features (see the module docstring).

    Parameters
    ----------
    in_features : int
        The size of each input's last axis.
    out_features : int
        The size of each output's last axis.
    bias : bool, optional
        Whether to add a bias.
    seed : int, optional
        Seed of the generator drawing the initial weights.
    rng : numpy.random.Generator, optional
        The generator (instead of `seed`; with neither, one seeded by the operating system).

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> layer = cr.nn.Linear(3, 2, seed=0)
    >>> print(layer.weight.shape, layer.bias.shape, layer(np.ones((4, 3))).shape)
    (3, 2) (2,) (4, 2)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 seed: int | None = None, rng: np.random.Generator | None = None) -> None:
        self.in_features = positive_int(in_features, "in_features", "Linear")
        self.out_features = positive_int(out_features, "out_features", "Linear")
        gen = init.make_rng(seed, rng, "Linear")
        self.weight = init.kaiming_uniform((self.in_features, self.out_features), a=math.sqrt(5),
                                           rng=gen)
        bound = 1.0 / math.sqrt(self.in_features)
        self.bias = gen.uniform(-bound, bound, self.out_features) if bias else None

    def forward(self, x: Any) -> Any:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Embedding(Module):
    """A lookup table: integer indices of any shape → rows of `weight`.

    `weight` has shape (num_embeddings, embedding_dim), initialised standard normal.

    Parameters
    ----------
    num_embeddings : int
        The number of rows.
    embedding_dim : int
        The size of each row.
    seed : int, optional
        Seed of the generator drawing the initial weights.
    rng : numpy.random.Generator, optional
        The generator (instead of `seed`; with neither, one seeded by the operating system).

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(cr.nn.Embedding(5, 3, seed=0)(np.array([[0, 4]])).shape)
    (1, 2, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, *, seed: int | None = None,
                 rng: np.random.Generator | None = None) -> None:
        self.num_embeddings = positive_int(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = positive_int(embedding_dim, "embedding_dim", "Embedding")
        self.weight = init.normal((self.num_embeddings, self.embedding_dim),
                                  rng=init.make_rng(seed, rng, "Embedding"))

    def forward(self, indices: Any) -> Any:
        return F.embedding(indices, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class Identity(Module):
    """Returns its input.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.Identity()(3.0)
    3.0
    """

    def forward(self, x: Any) -> Any:
        return x


class ReLU(Module):
    """max(x, 0), with relu'(0) = 0.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(cr.nn.ReLU()(np.array([-1.0, 2.0])))
    [0. 2.]
    """

    def forward(self, x: Any) -> Any:
        return F.relu(x)


class Tanh(Module):
    """The hyperbolic tangent, elementwise.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(cr.nn.Tanh()(np.zeros(2)))
    [0. 0.]
    """
    def forward(self, x: Any) -> Any:
        return F.tanh(x)


class Sigmoid(Module):
    """1 / (1 + exp(-x)), without overflow for any x.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(cr.nn.Sigmoid()(np.array([0.0, -1000.0])))
    [0.5 0. ]
    """

    def forward(self, x: Any) -> Any:
        return F.sigmoid(x)


class GELU(Module):
    """GELU in its tanh approximation, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).

    The same as PyTorch's `GELU(approximate="tanh")` (the exact form needs `erf`, which
    chainrule.numpy does not have).

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(cr.nn.GELU()(np.array([0.0])))
    [0.]
    """

    def forward(self, x: Any) -> Any:
        return F.gelu(x)

    def extra_repr(self) -> str:
        return "approximate='tanh'"


class Flatten(Module):
    """Merges the axes from `start_dim` (default 1: all but the batch axis) into one.

    Parameters
    ----------
    start_dim : int, optional
        The first axis merged.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(cr.nn.Flatten()(np.ones((2, 3, 4))).shape)
    (2, 12)
    """

    def __init__(self, start_dim: int = 1) -> None:
        if isinstance(start_dim, bool) or not isinstance(start_dim, (int, np.integer)):
            raise TypeError(f"Flatten: start_dim must be an int, got {start_dim!r}")
        self.start_dim = int(start_dim)

    def forward(self, x: Any) -> Any:
        return F.flatten(x, self.start_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}"


class Dropout(Module):
    """Dropout: in training mode, zeroes each element with probability `p` and scales the others by
    1/(1 - p); in eval mode, the identity.

    A new mask is drawn on every call from the layer's own generator (`seed=` or `rng=`), so a
    run is reproducible from its seed.

    A graph compiled once cannot draw new masks, so differentiating a model in training mode
    that contains Dropout with `method="graph"` raises `NotImplementedError`; use
    `method="overload"`. (With `method="source"` the call is re-run for its derivative, which
    draws a second mask: use `method="overload"` there too.)

    Parameters
    ----------
    p : float, optional
        The probability of zeroing an element, in [0, 1).
    seed : int, optional
        Seed of the generator drawing the initial weights.
    rng : numpy.random.Generator, optional
        The generator (instead of `seed`; with neither, one seeded by the operating system).

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> drop = cr.nn.Dropout(0.5, seed=0)
    >>> print(sorted(set(drop(np.ones(100)).tolist())), drop.eval()(np.ones(3)))
    [0.0, 2.0] [1. 1. 1.]
    """

    def __init__(self, p: float = 0.5, *, seed: int | None = None,
                 rng: np.random.Generator | None = None) -> None:
        self.p = _fraction(p, "p", "Dropout")
        self.rng = init.make_rng(seed, rng, "Dropout")

    def forward(self, x: Any) -> Any:
        return F.dropout(x, self.p, self.rng, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _normalized_shape(value: Any) -> tuple[int, ...]:
    shape = (value,) if isinstance(value, (int, np.integer)) else tuple(value)
    if not shape:
        raise ValueError("LayerNorm: normalized_shape must not be empty")
    return tuple(positive_int(s, "normalized_shape", "LayerNorm") for s in shape)


class LayerNorm(Module):
    """Layer normalisation over the last axes.

    Normalises each example over its last axes (`normalized_shape`) to zero mean and unit
    (biased) variance, then applies an elementwise `weight` (ones) and `bias` (zeros).

    Parameters
    ----------
    normalized_shape : int or sequence of int
        The shape of the last axes normalised over.
    eps : float, optional
        Added to the variance.
    elementwise_affine : bool, optional
        Whether to learn `weight` and `bias`.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(np.round(cr.nn.LayerNorm(3)(np.array([[1.0, 2.0, 3.0]])), 4))
    [[-1.2247  0.      1.2247]]
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5,
                 elementwise_affine: bool = True) -> None:
        self.normalized_shape = _normalized_shape(normalized_shape)
        if not eps > 0:
            raise ValueError(f"LayerNorm: eps must be positive, got {eps!r}")
        self.eps = float(eps)
        self.weight = np.ones(self.normalized_shape) if elementwise_affine else None
        self.bias = np.zeros(self.normalized_shape) if elementwise_affine else None

    def forward(self, x: Any) -> Any:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.weight is not None}")


class BatchNorm1d(Module):
    """Batch normalisation of (N, C) or (N, C, L) inputs over every axis but the channels.

    - **Training mode** normalises with the batch's mean and biased variance, and updates the
      buffers `running_mean` / `running_var` (unbiased variance, `momentum` 0.1 as PyTorch's)
      **in place, on concrete values**: the update is a side effect outside the function being
      differentiated, done when the forward pass has values — a plain call `model(x)`, or
      differentiation with `method="overload"` (whose traced values carry theirs). A graph
      being compiled (`method="graph"`) has no values and its code no side effects: there the
      statistics are not updated and a warning says so. (`method="source"` re-runs the call
      for its derivative, so the statistics are updated twice per step.)
    - **Eval mode** normalises with the running statistics.

    The buffers are saved by `state_dict()` and are not parameters: they get no gradient.

    Parameters
    ----------
    num_features : int
        The number of channels, C.
    momentum : float, optional
        The weight of each batch in the running statistics.
    eps : float, optional
        Added to the variance.
    affine : bool, optional
        Whether to learn a scale `weight` and shift `bias` per channel.
    track_running_stats : bool, optional
        Whether to keep running statistics (without them, eval mode uses the batch's too).

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> bn = cr.nn.BatchNorm1d(2)
    >>> print(np.round(bn(np.array([[1.0, 2.0], [3.0, 6.0]])), 3), bn.running_mean)
    [[-1. -1.]
     [ 1.  1.]] [0.2 0.4]
    """

    def __init__(self, num_features: int, momentum: float = 0.1, eps: float = 1e-5,
                 affine: bool = True, track_running_stats: bool = True) -> None:
        self.num_features = positive_int(num_features, "num_features", "BatchNorm1d")
        self.momentum = _fraction(momentum, "momentum", "BatchNorm1d")
        if not eps > 0:
            raise ValueError(f"BatchNorm1d: eps must be positive, got {eps!r}")
        self.eps = float(eps)
        self.weight = np.ones(self.num_features) if affine else None
        self.bias = np.zeros(self.num_features) if affine else None
        self.register_buffer("running_mean",
                             np.zeros(self.num_features) if track_running_stats else None)
        self.register_buffer("running_var",
                             np.ones(self.num_features) if track_running_stats else None)

    def forward(self, x: Any) -> Any:
        shape = tuple(np.shape(x)) if not hasattr(x, "shape") else tuple(x.shape)
        if len(shape) < 2 or shape[1] != self.num_features:
            raise ValueError(f"BatchNorm1d({self.num_features}): the input must have shape "
                             f"(N, {self.num_features}) or (N, {self.num_features}, L), got "
                             f"{shape}")
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training, self.momentum, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.weight is not None}, "
                f"track_running_stats={self.running_mean is not None}")
