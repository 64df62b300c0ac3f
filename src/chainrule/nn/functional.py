"""The layers' computations as functions of arrays (`cr.nn.functional`): written with
`chainrule.numpy`, so every method (overload, graph, source) differentiates them, in forward and
reverse mode, to any order. The losses are here too.

Convolution and pooling gather their windows with one strided slice per kernel offset (a 3×3
kernel: nine slices of the whole batch), never a Python loop over pixels; a convolution is then
one matrix product.

Examples
--------
>>> import numpy as np
>>> import chainrule as cr
>>> F = cr.nn.functional
>>> x, w = np.ones((2, 3)), np.full((3, 4), 0.5)
>>> print(F.relu(F.linear(x, w, np.zeros(4))))
[[1.5 1.5 1.5 1.5]
 [1.5 1.5 1.5 1.5]]
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import numpy as cnp
from .._core.primitive import Tracer, abstract_trace_active, innermost_value, scalar

__all__ = ["linear", "relu", "gelu", "sigmoid", "tanh", "dropout", "layer_norm", "batch_norm",
           "embedding", "conv2d", "max_pool2d", "avg_pool2d", "flatten", "cross_entropy", "mse",
           "binary_cross_entropy_with_logits"]


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(cnp.shape(x))


# ---------------------------------------------------------------------------------------------
# dense layers and activations

def linear(x: Any, weight: Any, bias: Any = None) -> Any:
    """`x @ weight + bias` with `weight` of shape (in_features, out_features).

    Parameters
    ----------
    x : array_like
        Inputs, shape (..., in_features).
    weight : array_like
        Shape (in_features, out_features).
    bias : array_like, optional
        Shape (out_features,).

    Returns
    -------
    array
        Shape (..., out_features).

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(cr.nn.functional.linear(np.ones((1, 2)), np.ones((2, 3)), np.arange(3.0)))
    [[2. 3. 4.]]
    """
    out = cnp.matmul(x, weight)
    return out if bias is None else out + bias


def relu(x: Any) -> Any:
    """max(x, 0), with relu'(0) = 0.

    Parameters
    ----------
    x : array_like
        The input.

    Returns
    -------
    array
        The activation, elementwise.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(cr.nn.functional.relu(np.array([-1.0, 0.0, 2.0])))
    [0. 0. 2.]
    """
    return cnp.relu(x)


def sigmoid(x: Any) -> Any:
    """1 / (1 + exp(-x)), elementwise, without overflow.

    Parameters
    ----------
    x : array_like
        The input.

    Returns
    -------
    array
        The activation.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(cr.nn.functional.sigmoid(np.zeros(2)))
    [0.5 0.5]
    """
    return cnp.sigmoid(x)


def tanh(x: Any) -> Any:
    """The hyperbolic tangent, elementwise.

    Parameters
    ----------
    x : array_like
        The input.

    Returns
    -------
    array
        The activation.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(cr.nn.functional.tanh(np.zeros(2)))
    [0. 0.]
    """
    return cnp.tanh(x)


_GELU_C = math.sqrt(2.0 / math.pi)


def gelu(x: Any) -> Any:
    """GELU, tanh approximation (Hendrycks & Gimpel; PyTorch's `approximate="tanh"`):
    0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). (chainrule.numpy has no `erf` for the exact
    form.)

    Parameters
    ----------
    x : array_like
        The input.

    Returns
    -------
    array
        The activation.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(np.round(cr.nn.functional.gelu(np.array([0.0, 1.0])), 4))
    [0.     0.8412]
    """
    return 0.5 * x * (1.0 + cnp.tanh(_GELU_C * (x + 0.044715 * x * x * x)))


def flatten(x: Any, start_dim: int = 1) -> Any:
    """`x` with the axes from `start_dim` on merged into one.

    Parameters
    ----------
    x : array_like
        The input.
    start_dim : int, optional
        The first axis merged.

    Returns
    -------
    array
        The reshaped input.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(cr.nn.functional.flatten(np.ones((2, 3, 4))).shape)
    (2, 12)
    """
    shape = _shape(x)
    start = start_dim % len(shape) if shape else 0
    return cnp.reshape(x, shape[:start] + (-1,))


def dropout(x: Any, p: float, rng: np.random.Generator, training: bool = True) -> Any:
    """Zero each element with probability `p` and scale the rest by 1/(1-p) (inverted dropout);
    the identity when not training.

    The mask is drawn from `rng` on every call, which a graph compiled once
    (`method="graph"`, `cr.graph.jit`) could only freeze: there it is refused.

    Parameters
    ----------
    x : array_like
        The input.
    p : float
        The probability of zeroing, in [0, 1].
    rng : numpy.random.Generator
        The generator drawing the mask.
    training : bool, optional
        False makes this the identity.

    Returns
    -------
    array
        The input with elements dropped.

    Raises
    ------
    ValueError
        If `p` is outside [0, 1].
    NotImplementedError
        While a graph is being traced, in training.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> y = cr.nn.functional.dropout(np.ones(100), 0.5, np.random.default_rng(0))
    >>> print(sorted(set(y.tolist())))
    [0.0, 2.0]
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p!r}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    if abstract_trace_active():
        raise NotImplementedError(
            "Dropout in training mode draws a new random mask on every call, but a graph being "
            "compiled (method='graph' or cr.graph.jit) would freeze the mask it drew while "
            "tracing into every later call; differentiate a model in training mode with "
            "method='overload' (or 'source'), or call model.eval() first")
    keep = rng.random(_shape(x)) >= p
    return x * (keep / (1.0 - p)).astype(_float_dtype(x))


def _norm_axes(ndim: int, normalized_shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(range(ndim - len(normalized_shape), ndim))


def layer_norm(x: Any, normalized_shape: tuple[int, ...], weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Any:
    """Normalise over the last `len(normalized_shape)` axes (biased variance), then scale by
    `weight` and shift by `bias`.

    Parameters
    ----------
    x : array_like
        The input.
    normalized_shape : tuple of int
        The shape of the last axes.
    weight : array_like, optional
        Scale, of shape `normalized_shape`.
    bias : array_like, optional
        Shift, of shape `normalized_shape`.
    eps : float, optional
        Added to the variance.

    Returns
    -------
    array
        The normalised input.

    Raises
    ------
    ValueError
        If `x` does not end with `normalized_shape`.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(np.round(cr.nn.functional.layer_norm(np.array([[1.0, 3.0]]), (2,)), 4))
    [[-1.  1.]]
    """
    shape = _shape(x)
    n = len(normalized_shape)
    if shape[len(shape) - n:] != tuple(normalized_shape) or len(shape) < n:
        raise ValueError(f"layer_norm: input of shape {shape} does not end with "
                         f"normalized_shape {tuple(normalized_shape)}")
    axes = _norm_axes(len(shape), tuple(normalized_shape))
    mean = cnp.mean(x, axis=axes, keepdims=True)
    centred = x - mean
    var = cnp.mean(centred * centred, axis=axes, keepdims=True)
    y = centred / cnp.sqrt(var + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def _channel_shape(ndim: int, c: int) -> tuple[int, ...]:
    return (1, c) + (1,) * (ndim - 2)


def concrete(x: Any) -> np.ndarray | None:
    """The value of `x` as a NumPy array when it has one, else None.

    (A plain array, or a traced value of a transform that computes values as it goes, like
    `method="overload"`, has one; a graph being traced has no values; a vmap batch has its
    examples stacked.)

    Parameters
    ----------
    x : Any
        The value.

    Returns
    -------
    ndarray or None
        Its value, when known.
    """
    v = innermost_value(x) if isinstance(x, Tracer) else x
    if v is None or np.shape(v) != _shape(x):
        return None
    return np.asarray(v)


def batch_norm(x: Any, running_mean: np.ndarray | None, running_var: np.ndarray | None,
               weight: Any = None, bias: Any = None, training: bool = True,
               momentum: float = 0.1, eps: float = 1e-5) -> Any:
    """Batch normalisation over axis 1 of an (N, C) or (N, C, L) input.

    In training the batch's mean and biased variance normalise it, and the running buffers (when
    given) are updated in place from the batch's concrete values: running = (1 - momentum)·running
    + momentum·batch, with the unbiased variance (as PyTorch). Otherwise the running statistics
    normalise it.

    Parameters
    ----------
    x : array_like
        Shape (N, C) or (N, C, L).
    running_mean : ndarray or None
        Shape (C,), updated in place in training.
    running_var : ndarray or None
        Shape (C,), updated in place in training.
    weight : array_like, optional
        Scale per channel.
    bias : array_like, optional
        Shift per channel.
    training : bool, optional
        Use (and update from) the batch's statistics.
    momentum : float, optional
        The weight of the batch in the running statistics.
    eps : float, optional
        Added to the variance.

    Returns
    -------
    array
        The normalised input.

    Raises
    ------
    ValueError
        For an input of another rank, a batch of one value per channel in training, or evaluation
        without running statistics.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> x = np.array([[1.0, 2.0], [3.0, 6.0]])
    >>> print(np.round(cr.nn.functional.batch_norm(x, None, None), 3))
    [[-1. -1.]
     [ 1.  1.]]
    """
    shape = _shape(x)
    if len(shape) not in (2, 3):
        raise ValueError(f"batch_norm: input must have shape (N, C) or (N, C, L), got {shape}")
    c = shape[1]
    axes = (0,) if len(shape) == 2 else (0, 2)
    bshape = _channel_shape(len(shape), c)
    if training:
        count = shape[0] * (shape[2] if len(shape) == 3 else 1)
        if count < 2:
            raise ValueError(f"batch_norm: training needs more than one value per channel to "
                             f"estimate a variance, got input of shape {shape}; use a larger "
                             f"batch or eval() mode")
        mean = cnp.mean(x, axis=axes, keepdims=True)
        centred = x - mean
        var = cnp.mean(centred * centred, axis=axes, keepdims=True)
        if running_mean is not None and running_var is not None:
            _update_running(x, axes, count, running_mean, running_var, momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: evaluation needs running statistics; this layer was "
                             "built with track_running_stats=False, so keep it in train() mode")
        # copies: a graph bakes these in, and the buffers change in place later
        mean = np.array(running_mean, copy=True).reshape(bshape)
        centred = x - mean
        var = np.array(running_var, copy=True).reshape(bshape)
    y = centred / cnp.sqrt(var + eps)
    if weight is not None:
        y = y * cnp.reshape(weight, bshape)
    if bias is not None:
        y = y + cnp.reshape(bias, bshape)
    return y


def _update_running(x: Any, axes: tuple[int, ...], count: int, running_mean: np.ndarray,
                    running_var: np.ndarray, momentum: float) -> None:
    """The running statistics' update, on concrete values and in place, outside any
    differentiation (it is a side effect, not part of the function being differentiated)."""
    xv = concrete(x)
    if xv is None:
        import warnings
        warnings.warn(
            "BatchNorm1d in training mode: the running statistics are not updated here, where "
            "the forward pass has no concrete values (a graph being compiled by method='graph' "
            "or cr.graph.jit, whose code has no side effects, or a vmap batch); update them "
            "with a plain forward call model(x) in train() mode, or train with "
            "method='overload'", stacklevel=4)
        return
    batch_mean = xv.mean(axis=axes)
    batch_var = xv.var(axis=axes, ddof=1)
    running_mean *= 1.0 - momentum
    running_mean += momentum * batch_mean
    running_var *= 1.0 - momentum
    running_var += momentum * batch_var


def embedding(indices: Any, weight: Any) -> Any:
    """Rows of `weight` (num_embeddings, dim) at integer `indices` of any shape.

    Parameters
    ----------
    indices : array_like of int
        The rows to take.
    weight : array_like
        The table.

    Returns
    -------
    array
        Shape `indices.shape + (dim,)`.

    Raises
    ------
    TypeError
        If the indices are not integers.
    IndexError
        If an index is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(cr.nn.functional.embedding(np.array([2, 0]), np.arange(6.0).reshape(3, 2)))
    [[4. 5.]
     [0. 1.]]
    """
    if isinstance(indices, Tracer):
        if np.dtype(indices.dtype).kind not in "iu":
            raise TypeError(f"embedding: indices must be integers, got a traced value of dtype "
                            f"{indices.dtype}")
        return cnp.take(weight, indices, axis=0)
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {idx.dtype}; "
                        f"pass e.g. indices.astype(int)")
    n = _shape(weight)[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(f"embedding: indices must be in [0, {n}) for {n} embeddings, got "
                         f"values from {idx.min()} to {idx.max()}")
    return cnp.take(weight, idx, axis=0)


# ---------------------------------------------------------------------------------------------
# convolution and pooling

def _pair(value: Any, name: str, who: str, minimum: int) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer))
                             or v < minimum for v in pair):
        raise ValueError(f"{who}: {name} must be an int >= {minimum} or a pair of them, "
                         f"got {value!r}")
    return int(pair[0]), int(pair[1])


def _out_size(size: int, k: int, s: int, who: str, what: str) -> int:
    if size < k:
        raise ValueError(f"{who}: the input's {what} ({size}, after padding) is smaller than the "
                         f"kernel ({k})")
    return (size - k) // s + 1


def _windows(x: Any, k: tuple[int, int], s: tuple[int, int], out: tuple[int, int],
             axes: tuple[int, int]) -> list[Any]:
    """One strided slice of `x` per kernel offset (i, j), in row-major order: slice (i, j) holds
    the element at offset (i, j) of every window, so it has the output's spatial shape."""
    (kh, kw), (sh, sw), (oh, ow) = k, s, out
    ndim = len(_shape(x))
    slices = []
    for i in range(kh):
        for j in range(kw):
            idx = [slice(None)] * ndim
            idx[axes[0]] = slice(i, i + sh * (oh - 1) + 1, sh)
            idx[axes[1]] = slice(j, j + sw * (ow - 1) + 1, sw)
            slices.append(x[tuple(idx)])
    return slices


def _check_nchw(x: Any, who: str) -> tuple[int, int, int, int]:
    shape = _shape(x)
    if len(shape) != 4:
        raise ValueError(f"{who}: the input must have shape (N, C, H, W), got {shape}")
    return shape  # type: ignore[return-value]


def _pad_hw(x: Any, p: tuple[int, int], value: float) -> Any:
    if p == (0, 0):
        return x
    return cnp.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])), constant_values=value)


def conv2d(x: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0) -> Any:
    """2-D cross-correlation (what deep-learning libraries call convolution) of an NCHW input.

    With a kernel of shape (out_channels, in_channels, kh, kw), zero padding, and an optional
    bias of shape (out_channels,). The windows are laid out as the rows of a matrix (im2col,
    built from kh·kw strided slices) and multiplied by the flattened kernel.

    Parameters
    ----------
    x : array_like
        Shape (N, C, H, W).
    weight : array_like
        Shape (out_channels, C, kh, kw).
    bias : array_like, optional
        Shape (out_channels,).
    stride : int or tuple of int, optional
        The step between windows.
    padding : int or tuple of int, optional
        Zeros added on each side.

    Returns
    -------
    array
        Shape (N, out_channels, H_out, W_out).

    Raises
    ------
    ValueError
        For inputs or kernels of the wrong shape, or an input smaller than the kernel.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> out = cr.nn.functional.conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)))
    >>> print(out)
    [[[[4. 4.]
       [4. 4.]]]]
    """
    n, c, _, _ = _check_nchw(x, "conv2d")
    wshape = _shape(weight)
    if len(wshape) != 4 or wshape[1] != c:
        raise ValueError(f"conv2d: the kernel must have shape (out_channels, {c}, kh, kw) for an "
                         f"input with {c} channels, got {wshape}")
    o, _, kh, kw = wshape
    s = _pair(stride, "stride", "conv2d", 1)
    p = _pair(padding, "padding", "conv2d", 0)
    x = _pad_hw(x, p, 0.0)
    _, _, h, w = _shape(x)
    oh, ow = _out_size(h, kh, s[0], "conv2d", "height"), _out_size(w, kw, s[1], "conv2d", "width")
    xt = cnp.transpose(x, (0, 2, 3, 1))  # NHWC: each window's channels become contiguous rows
    cols = cnp.stack(_windows(xt, (kh, kw), s, (oh, ow), (1, 2)), axis=-1)  # N, oh, ow, C, K
    rows = cnp.reshape(cols, (n * oh * ow, c * kh * kw))
    out = cnp.matmul(rows, cnp.transpose(cnp.reshape(weight, (o, c * kh * kw))))
    if bias is not None:
        out = out + bias
    return cnp.transpose(cnp.reshape(out, (n, oh, ow, o)), (0, 3, 1, 2))


def _pool(x: Any, kernel_size: Any, stride: Any, padding: Any, who: str,
          pad_value: float) -> tuple[Any, tuple[int, ...]]:
    """The windows of `x` along new axes, and those axes: windows that tile the input
    (stride = kernel) are a reshape (N, C, oh, kh, ow, kw) of it; others are stacked
    strided slices (N, C, oh, ow, kh·kw)."""
    _check_nchw(x, who)
    k = _pair(kernel_size, "kernel_size", who, 1)
    s = k if stride is None else _pair(stride, "stride", who, 1)
    p = _pair(padding, "padding", who, 0)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"{who}: padding {p} must be at most half the kernel size {k}")
    x = _pad_hw(x, p, pad_value)
    n, c, h, w = _shape(x)
    oh, ow = _out_size(h, k[0], s[0], who, "height"), _out_size(w, k[1], s[1], who, "width")
    if s == k:
        if (h, w) != (oh * k[0], ow * k[1]):  # (the rows and columns no window reaches)
            x = x[:, :, :oh * k[0], :ow * k[1]]
        return cnp.reshape(x, (n, c, oh, k[0], ow, k[1])), (3, 5)
    return cnp.stack(_windows(x, k, s, (oh, ow), (2, 3)), axis=-1), (4,)


def max_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Any:
    """The maximum of each window of an NCHW input.

    The stride defaults to the kernel size; padding is -inf. Where a window has tied maxima the
    derivative is split evenly among them (chainrule's convention for `max`).

    Parameters
    ----------
    x : array_like
        Shape (N, C, H, W).
    kernel_size : int or tuple of int
        The window.
    stride : int or tuple of int, optional
        The step between windows.
    padding : int or tuple of int, optional
        Padding on each side (at most half the kernel).

    Returns
    -------
    array
        The pooled input.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(cr.nn.functional.max_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 2))
    [[[[ 5.  7.]
       [13. 15.]]]]
    """
    windows, axes = _pool(x, kernel_size, stride, padding, "max_pool2d", -np.inf)
    return cnp.max(windows, axis=axes)


def avg_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0) -> Any:
    """The mean of each window of an NCHW input.

    The stride defaults to the kernel size; zero padding counts in the mean, as PyTorch's default
    `count_include_pad=True`.

    Parameters
    ----------
    x : array_like
        Shape (N, C, H, W).
    kernel_size : int or tuple of int
        The window.
    stride : int or tuple of int, optional
        The step between windows.
    padding : int or tuple of int, optional
        Zero padding on each side.

    Returns
    -------
    array
        The pooled input.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(cr.nn.functional.avg_pool2d(np.ones((1, 1, 2, 2)), 2))
    [[[[1.]]]]
    """
    windows, axes = _pool(x, kernel_size, stride, padding, "avg_pool2d", 0.0)
    return cnp.mean(windows, axis=axes)


# ---------------------------------------------------------------------------------------------
# losses

def _reduce(loss: Any, reduction: str, who: str) -> Any:
    if reduction == "mean":
        return cnp.mean(loss)
    if reduction == "sum":
        return cnp.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"{who}: reduction must be 'mean', 'sum' or 'none', not {reduction!r}")


def _float_dtype(x: Any) -> Any:
    dt = np.dtype(getattr(x, "dtype", np.float64))
    return dt if dt.kind == "f" else np.dtype(np.float64)


def cross_entropy(logits: Any, labels: Any, label_smoothing: float = 0.0,
                  reduction: str = "mean") -> Any:
    """Softmax cross-entropy from unnormalised `logits` of shape (..., C).

    `labels` are class indices of shape (...) — integers, or floats holding whole numbers
    (handy under `method="graph"`, where a float argument is an input of the compiled code
    while an integer one is baked into it) — or class probabilities of the logits' shape.
    With `label_smoothing` ε the target is (1 - ε)·onehot + ε/C. Computed from a log-softmax
    with the maximum taken out (log-sum-exp), so logits of any size are fine.

    Parameters
    ----------
    logits : array_like
        Shape (..., C).
    labels : array_like
        Class indices of shape (...), or probabilities of shape (..., C).
    label_smoothing : float, optional
        ε, in [0, 1].
    reduction : str, optional
        `"mean"` (default), `"sum"` or `"none"` (one loss per example).

    Returns
    -------
    array
        The loss.

    Raises
    ------
    ValueError
        For labels that do not fit the logits, out of range, or a bad `reduction`.
    TypeError
        For labels that are neither indices nor probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(round(float(cr.nn.cross_entropy(np.zeros((2, 3)), np.array([0, 2]))), 6))
    1.098612
    >>> print(cr.grad(cr.nn.cross_entropy)(np.zeros((1, 2)), np.array([0])))
    [[-0.5  0.5]]
    """
    shape = _shape(logits)
    if not shape:
        raise ValueError("cross_entropy: logits must have a class axis, shape (..., C)")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing!r}")
    c = shape[-1]
    logp = cnp.log_softmax(logits, axis=-1)
    lshape = _shape(labels)
    if lshape == shape:
        target = labels
    elif lshape == shape[:-1]:
        target = _one_hot(labels, c, _float_dtype(logits))
    else:
        raise ValueError(f"cross_entropy: labels of shape {lshape} do not fit logits of shape "
                         f"{shape}; give class indices of shape {shape[:-1]} or probabilities "
                         f"of shape {shape}")
    if label_smoothing:
        target = (1.0 - label_smoothing) * target + label_smoothing / c
    loss = -cnp.sum(target * logp, axis=-1)
    return _reduce(loss, reduction, "cross_entropy")


def _one_hot(labels: Any, c: int, dtype: Any) -> Any:
    classes = np.arange(c)
    if not isinstance(labels, Tracer):
        lab = np.asarray(labels)
        if lab.dtype.kind not in "iuf":
            raise TypeError(f"cross_entropy: labels must be class indices (integers) or "
                            f"probabilities, got dtype {lab.dtype}")
        if lab.size and (lab.min() < 0 or lab.max() >= c
                         or (lab.dtype.kind == "f" and not np.all(lab == np.round(lab)))):
            raise ValueError(f"cross_entropy: labels must be whole numbers in [0, {c}) for "
                             f"{c} classes, got values from {lab.min()} to {lab.max()}")
        return (lab[..., None] == classes).astype(dtype)
    hit = cnp.equal(cnp.expand_dims(labels, -1), classes)  # traced labels: no derivative
    return cnp.where(hit, scalar(1, dtype), scalar(0, dtype))


def mse(pred: Any, target: Any, reduction: str = "mean") -> Any:
    """Mean squared error: mean((pred - target)²).

    Parameters
    ----------
    pred : array_like
        The predictions.
    target : array_like
        The targets, of the same shape.
    reduction : str, optional
        `"mean"` (default), `"sum"` or `"none"` (one loss per example).

    Returns
    -------
    array
        The loss.

    Raises
    ------
    ValueError
        If the shapes differ.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(cr.nn.mse(np.array([1.0, 3.0]), np.zeros(2)))
    5.0
    """
    if _shape(pred) != _shape(target):
        raise ValueError(f"mse: pred has shape {_shape(pred)} but target has shape "
                         f"{_shape(target)}; they must match (broadcasting here usually hides "
                         f"a bug)")
    d = pred - target
    return _reduce(d * d, reduction, "mse")


def binary_cross_entropy_with_logits(logits: Any, targets: Any, reduction: str = "mean") -> Any:
    """Binary cross-entropy from logits, computed stably.

    -[t·log σ(x) + (1 - t)·log(1 - σ(x))] from logits x, computed stably as
    softplus(x) - x·t = max(x, 0) - x·t + log1p(exp(-|x|)); its derivative is σ(x) - t.

    Parameters
    ----------
    logits : array_like
        x.
    targets : array_like
        t, in [0, 1], of the logits' shape.
    reduction : str, optional
        `"mean"` (default), `"sum"` or `"none"` (one loss per example).

    Returns
    -------
    array
        The loss.

    Raises
    ------
    ValueError
        If the shapes differ.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> print(round(float(cr.nn.binary_cross_entropy_with_logits(np.zeros(2), np.ones(2))), 6))
    0.693147
    """
    if _shape(logits) != _shape(targets):
        raise ValueError(f"binary_cross_entropy_with_logits: logits have shape "
                         f"{_shape(logits)} but targets have shape {_shape(targets)}; they "
                         f"must match")
    return _reduce(cnp.softplus(logits) - logits * targets, reduction,
                   "binary_cross_entropy_with_logits")
