"""Layers over images in NCHW layout (batch, channels, height, width): `Conv2d`, `MaxPool2d`,
`AvgPool2d`. The computations are in `functional` (windows gathered by strided slices, one per
kernel offset; the convolution is one matrix product)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import functional as F
from . import init
from .layers import positive_int
from .module import Module

__all__ = ["Conv2d", "MaxPool2d", "AvgPool2d"]


class Conv2d(Module):
    """2-D convolution (cross-correlation, as in every deep-learning library) of NCHW inputs.

    `weight` has shape (out_channels, in_channels, kh, kw) (PyTorch's layout), `bias`
    (out_channels,); both initialised uniform in ±1/√(in_channels·kh·kw) (PyTorch's default).

    Parameters
    ----------
    in_channels : int
        The channels of the input.
    out_channels : int
        The channels of the output.
    kernel_size : int or tuple of int
        (kh, kw), or one int for both.
    stride : int or tuple of int, optional
        The step between windows.
    padding : int or tuple of int, optional
        Zeros added on each side.
    bias : bool, optional
        Whether to add a bias.
    seed : int, optional
        Seed of the generator drawing the initial weights.
    rng : numpy.random.Generator, optional
        The generator (instead of `seed`).

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> conv = cr.nn.Conv2d(1, 2, 3, padding=1, seed=0)
    >>> print(conv.weight.shape, conv(np.ones((1, 1, 4, 4))).shape)
    (2, 1, 3, 3) (1, 2, 4, 4)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 bias: bool = True, *, seed: int | None = None,
                 rng: np.random.Generator | None = None) -> None:
        self.in_channels = positive_int(in_channels, "in_channels", "Conv2d")
        self.out_channels = positive_int(out_channels, "out_channels", "Conv2d")
        self.kernel_size = F._pair(kernel_size, "kernel_size", "Conv2d", 1)
        self.stride = F._pair(stride, "stride", "Conv2d", 1)
        self.padding = F._pair(padding, "padding", "Conv2d", 0)
        gen = init.make_rng(seed, rng, "Conv2d")
        shape = (self.out_channels, self.in_channels) + self.kernel_size
        self.weight = init.kaiming_uniform(shape, a=math.sqrt(5), rng=gen)
        bound = 1.0 / math.sqrt(init.fans(shape)[0])
        self.bias = gen.uniform(-bound, bound, self.out_channels) if bias else None

    def forward(self, x: Any) -> Any:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")


class _Pool2d(Module):
    _who = "pool"

    def __init__(self, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] | None = None,
                 padding: int | tuple[int, int] = 0) -> None:
        self.kernel_size = F._pair(kernel_size, "kernel_size", self._who, 1)
        self.stride = self.kernel_size if stride is None else F._pair(stride, "stride",
                                                                      self._who, 1)
        self.padding = F._pair(padding, "padding", self._who, 0)
        if self.padding[0] > self.kernel_size[0] // 2 or self.padding[1] > self.kernel_size[1] // 2:
            raise ValueError(f"{self._who}: padding {self.padding} must be at most half the "
                             f"kernel size {self.kernel_size}")

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}")


class MaxPool2d(_Pool2d):
    """The maximum over each `kernel_size` window of an NCHW input.

    The stride defaults to the kernel size; padding is -inf. Tied maxima share the derivative
    evenly (chainrule's convention for `max`; PyTorch gives it all to one of them).

    Parameters
    ----------
    kernel_size : int or tuple of int
        The window.
    stride : int or tuple of int, optional
        The step between windows (the kernel size by default).
    padding : int or tuple of int, optional
        Padding on each side.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(cr.nn.MaxPool2d(2)(np.arange(16.0).reshape(1, 1, 4, 4)))
    [[[[ 5.  7.]
       [13. 15.]]]]
    """

    _who = "MaxPool2d"

    def forward(self, x: Any) -> Any:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    """The mean over each `kernel_size` window of an NCHW input.

    The stride defaults to the kernel size; zero padding counts in the mean.

    Parameters
    ----------
    kernel_size : int or tuple of int
        The window.
    stride : int or tuple of int, optional
        The step between windows (the kernel size by default).
    padding : int or tuple of int, optional
        Zero padding on each side.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(cr.nn.AvgPool2d(2)(np.arange(16.0).reshape(1, 1, 4, 4)))
    [[[[ 2.5  4.5]
       [10.5 12.5]]]]
    """

    _who = "AvgPool2d"

    def forward(self, x: Any) -> Any:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)

