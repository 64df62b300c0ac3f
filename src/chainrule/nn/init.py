"""Weight initialisers: Kaiming (He) and Xavier (Glorot), uniform and normal, and zeros.

Each takes the shape to make and an explicit source of randomness, `rng=` (a
`np.random.Generator`) or `seed=` (an int), so that a model is reproducible; with neither, a
fresh generator seeded by the operating system is used. They return plain float64 NumPy arrays.

Fan-in and fan-out follow the layouts of this package's layers:

- a 2-D shape is a `Linear` weight, `(in_features, out_features)` (used as `x @ W`):
  fan_in = shape[0], fan_out = shape[1];
- a shape with more axes is a convolution kernel `(out_channels, in_channels, *kernel)`:
  fan_in = in_channels * prod(kernel), fan_out = out_channels * prod(kernel) (as in PyTorch);
- a 1-D shape (a bias) has fan_in = fan_out = shape[0].

Examples
--------
>>> import chainrule as cr
>>> w = cr.nn.init.kaiming_uniform((64, 32), seed=0)
>>> print(w.shape, w.dtype, bool(abs(w).max() <= 2 ** 0.5 * (3 / 64) ** 0.5))
(64, 32) float64 True
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["make_rng", "fans", "gain", "kaiming_uniform", "kaiming_normal", "xavier_uniform",
           "xavier_normal", "uniform", "normal", "zeros", "ones"]


def make_rng(seed: int | None = None, rng: np.random.Generator | None = None,
             who: str = "init") -> np.random.Generator:
    """The generator to draw from: `rng` itself, a new one from `seed`, or (neither given) a new
    one seeded by the operating system. Giving both is refused.

    Parameters
    ----------
    seed : int, optional
        Seed of a new generator.
    rng : numpy.random.Generator, optional
        The generator itself.
    who : str, optional
        The caller's name, for messages.

    Returns
    -------
    numpy.random.Generator
        The generator.

    Raises
    ------
    ValueError
        If both are given.
    TypeError
        If `rng` is not a Generator or `seed` not an int.

    Examples
    --------
    >>> import chainrule as cr
    >>> type(cr.nn.init.make_rng(seed=0)).__name__
    'Generator'
    """
    if rng is not None and seed is not None:
        raise ValueError(f"{who}: pass either seed= or rng=, not both")
    if rng is not None:
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"{who}: rng must be a numpy.random.Generator (e.g. "
                            f"np.random.default_rng(0)), got {type(rng).__name__}")
        return rng
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"{who}: seed must be an int, got {type(seed).__name__}")
    return np.random.default_rng(seed)


def _shape(shape: int | Sequence[int], who: str) -> tuple[int, ...]:
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if not shape or any(not isinstance(s, (int, np.integer)) or s < 0 for s in shape):
        raise ValueError(f"{who}: shape must be a non-empty tuple of non-negative ints, "
                         f"got {shape!r}")
    return tuple(int(s) for s in shape)


def fans(shape: int | Sequence[int]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of this shape (see the module docstring for the layouts).

    Parameters
    ----------
    shape : int or sequence of int
        The weight's shape.

    Returns
    -------
    tuple of int
        (fan_in, fan_out).

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.nn.init.fans((3, 2)), cr.nn.init.fans((8, 4, 3, 3))
    ((3, 2), (36, 72))
    """
    shape = _shape(shape, "fans")
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def gain(nonlinearity: str = "leaky_relu", a: float = 0.0) -> float:
    """The recommended scale for a nonlinearity (PyTorch's `calculate_gain`): 1 for linear,
    sigmoid; 5/3 for tanh; √2 for relu; √(2 / (1 + a²)) for leaky_relu with slope `a`.

    Parameters
    ----------
    nonlinearity : str, optional
        `"linear"`, `"sigmoid"`, `"tanh"`, `"relu"` or `"leaky_relu"`.
    a : float, optional
        The negative slope of leaky_relu.

    Returns
    -------
    float
        The gain.

    Raises
    ------
    ValueError
        For an unknown nonlinearity.

    Examples
    --------
    >>> import chainrule as cr
    >>> print(round(cr.nn.init.gain("relu"), 4), round(cr.nn.init.gain("tanh"), 4))
    1.4142 1.6667
    """
    if nonlinearity in ("linear", "identity", "sigmoid", "conv2d"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        return math.sqrt(2.0 / (1.0 + a * a))
    if nonlinearity == "selu":
        return 0.75
    raise ValueError(f"gain: unknown nonlinearity {nonlinearity!r}; use one of linear, sigmoid, "
                     f"tanh, relu, leaky_relu, selu")


def _fan(shape: tuple[int, ...], mode: str, who: str) -> int:
    fan_in, fan_out = fans(shape)
    if mode == "fan_in":
        fan = fan_in
    elif mode == "fan_out":
        fan = fan_out
    else:
        raise ValueError(f"{who}: mode must be 'fan_in' or 'fan_out', not {mode!r}")
    if fan == 0:
        raise ValueError(f"{who}: a weight of shape {shape} has {mode} 0; nothing to scale by")
    return fan


def kaiming_uniform(shape: int | Sequence[int], *, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", seed: int | None = None,
                    rng: np.random.Generator | None = None) -> np.ndarray:
    """He et al. (2015): uniform in ±gain·√(3 / fan).

    With the defaults (a=0) gain is √2, the choice for ReLU networks; `a=√5` gives PyTorch's
    default for Linear and Conv2d weights, uniform in ±1/√fan_in.

    Parameters
    ----------
    shape : int or sequence of int
        The shape of the array to make.
    a : float, optional
        The negative slope of leaky_relu (for the gain).
    mode : str, optional
        `"fan_in"` (preserves the forward pass's variance) or `"fan_out"` (the backward pass's).
    nonlinearity : str, optional
        The nonlinearity the gain is for (see `gain`).
    seed : int, optional
        Seed of a new generator.
    rng : numpy.random.Generator, optional
        The generator to draw from (not with `seed`; with neither, one seeded by the operating
        system).

    Returns
    -------
    ndarray
        A float64 array of that shape.

    Raises
    ------
    ValueError
        For a bad shape or mode, or both `seed` and `rng`.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(cr.nn.init.kaiming_uniform((3, 2), seed=0).shape)
    (3, 2)
    """
    shape = _shape(shape, "kaiming_uniform")
    bound = gain(nonlinearity, a) * math.sqrt(3.0 / _fan(shape, mode, "kaiming_uniform"))
    return make_rng(seed, rng, "kaiming_uniform").uniform(-bound, bound, shape)


def kaiming_normal(shape: int | Sequence[int], *, a: float = 0.0, mode: str = "fan_in",
                   nonlinearity: str = "leaky_relu", seed: int | None = None,
                   rng: np.random.Generator | None = None) -> np.ndarray:
    """He et al. (2015): normal with standard deviation gain / √fan.

    Parameters
    ----------
    shape : int or sequence of int
        The shape of the array to make.
    a : float, optional
        The negative slope of leaky_relu (for the gain).
    mode : str, optional
        `"fan_in"` (preserves the forward pass's variance) or `"fan_out"` (the backward pass's).
    nonlinearity : str, optional
        The nonlinearity the gain is for (see `gain`).
    seed : int, optional
        Seed of a new generator.
    rng : numpy.random.Generator, optional
        The generator to draw from (not with `seed`; with neither, one seeded by the operating
        system).

    Returns
    -------
    ndarray
        A float64 array of that shape.

    Raises
    ------
    ValueError
        For a bad shape or mode, or both `seed` and `rng`.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> w = cr.nn.init.kaiming_normal((1000, 10), seed=0)
    >>> print(round(float(w.std()), 2))
    0.04
    """
    shape = _shape(shape, "kaiming_normal")
    std = gain(nonlinearity, a) / math.sqrt(_fan(shape, mode, "kaiming_normal"))
    return make_rng(seed, rng, "kaiming_normal").normal(0.0, std, shape)


def xavier_uniform(shape: int | Sequence[int], *, gain: float = 1.0,
                   seed: int | None = None,
                   rng: np.random.Generator | None = None) -> np.ndarray:
    """Glorot & Bengio (2010): uniform in ±gain·√(6 / (fan_in + fan_out)).

    Parameters
    ----------
    shape : int or sequence of int
        The shape of the array to make.
    gain : float, optional
        The scale.
    seed : int, optional
        Seed of a new generator.
    rng : numpy.random.Generator, optional
        The generator to draw from (not with `seed`; with neither, one seeded by the operating
        system).

    Returns
    -------
    ndarray
        A float64 array of that shape.

    Raises
    ------
    ValueError
        For a bad shape or mode, or both `seed` and `rng`.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> w = cr.nn.init.xavier_uniform((2, 2), seed=0)
    >>> print(bool(abs(w).max() <= np.sqrt(6 / 4)))
    True
    """
    shape = _shape(shape, "xavier_uniform")
    fan_in, fan_out = fans(shape)
    if fan_in + fan_out == 0:
        raise ValueError(f"xavier_uniform: a weight of shape {shape} has no fan")
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return make_rng(seed, rng, "xavier_uniform").uniform(-bound, bound, shape)


def xavier_normal(shape: int | Sequence[int], *, gain: float = 1.0,
                  seed: int | None = None,
                  rng: np.random.Generator | None = None) -> np.ndarray:
    """Glorot & Bengio (2010): normal with standard deviation gain·√(2 / (fan_in + fan_out)).

    Parameters
    ----------
    shape : int or sequence of int
        The shape of the array to make.
    gain : float, optional
        The scale.
    seed : int, optional
        Seed of a new generator.
    rng : numpy.random.Generator, optional
        The generator to draw from (not with `seed`; with neither, one seeded by the operating
        system).

    Returns
    -------
    ndarray
        A float64 array of that shape.

    Raises
    ------
    ValueError
        For a bad shape or mode, or both `seed` and `rng`.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(cr.nn.init.xavier_normal((4, 3), seed=0).shape)
    (4, 3)
    """
    shape = _shape(shape, "xavier_normal")
    fan_in, fan_out = fans(shape)
    if fan_in + fan_out == 0:
        raise ValueError(f"xavier_normal: a weight of shape {shape} has no fan")
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return make_rng(seed, rng, "xavier_normal").normal(0.0, std, shape)


def uniform(shape: int | Sequence[int], low: float = 0.0, high: float = 1.0, *,
            seed: int | None = None, rng: np.random.Generator | None = None) -> np.ndarray:
    """Uniform in [low, high).

    Parameters
    ----------
    shape : int or sequence of int
        The shape of the array to make.
    low : float, optional
        The lower bound.
    high : float, optional
        The upper bound (excluded).
    seed : int, optional
        Seed of a new generator.
    rng : numpy.random.Generator, optional
        The generator to draw from (not with `seed`; with neither, one seeded by the operating
        system).

    Returns
    -------
    ndarray
        A float64 array of that shape.

    Raises
    ------
    ValueError
        For a bad shape or mode, or both `seed` and `rng`.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> w = cr.nn.init.uniform(5, -1.0, 1.0, seed=0)
    >>> print(w.shape, bool(np.all((-1.0 <= w) & (w < 1.0))))
    (5,) True
    """
    return make_rng(seed, rng, "uniform").uniform(low, high, _shape(shape, "uniform"))


def normal(shape: int | Sequence[int], mean: float = 0.0, std: float = 1.0, *,
           seed: int | None = None, rng: np.random.Generator | None = None) -> np.ndarray:
    """Normal with the given mean and standard deviation.

    Parameters
    ----------
    shape : int or sequence of int
        The shape of the array to make.
    mean : float, optional
        The mean.
    std : float, optional
        The standard deviation.
    seed : int, optional
        Seed of a new generator.
    rng : numpy.random.Generator, optional
        The generator to draw from (not with `seed`; with neither, one seeded by the operating
        system).

    Returns
    -------
    ndarray
        A float64 array of that shape.

    Raises
    ------
    ValueError
        For a bad shape or mode, or both `seed` and `rng`.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(cr.nn.init.normal((2, 3), seed=0).shape)
    (2, 3)
    """
    return make_rng(seed, rng, "normal").normal(mean, std, _shape(shape, "normal"))


def zeros(shape: int | Sequence[int], *, seed: int | None = None,
          rng: np.random.Generator | None = None) -> np.ndarray:
    """Zeros (takes `seed`/`rng` like the others, and ignores them).

    Parameters
    ----------
    shape : int or sequence of int
        The shape of the array to make.
    seed : int, optional
        Seed of a new generator.
    rng : numpy.random.Generator, optional
        The generator to draw from (not with `seed`; with neither, one seeded by the operating
        system).

    Returns
    -------
    ndarray
        A float64 array of that shape.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(cr.nn.init.zeros(2))
    [0. 0.]
    """
    return np.zeros(_shape(shape, "zeros"))


def ones(shape: int | Sequence[int], *, seed: int | None = None,
         rng: np.random.Generator | None = None) -> np.ndarray:
    """Ones (takes `seed`/`rng` like the others, and ignores them).

    Parameters
    ----------
    shape : int or sequence of int
        The shape of the array to make.
    seed : int, optional
        Seed of a new generator.
    rng : numpy.random.Generator, optional
        The generator to draw from (not with `seed`; with neither, one seeded by the operating
        system).

    Returns
    -------
    ndarray
        A float64 array of that shape.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(cr.nn.init.ones((1, 2)))
    [[1. 1.]]
    """
    return np.ones(_shape(shape, "ones"))
