"""Deep-learning helpers: the stable `sigmoid` and `softplus` primitives, and `logsumexp`,
`softmax`, `log_softmax`, `relu` built on primitives."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import elementwise as E
from . import reduce as R
from . import shape as S


def _float_dtype(x: Any) -> np.dtype:
    dt = np.result_type(x)
    return dt if dt.kind in "fc" else np.dtype(np.float64)


def _sigmoid_impl(x: Any) -> Any:
    # exp of a non-positive number only: no overflow for large |x|
    e = np.exp(-np.abs(x))
    out = np.where(np.greater_equal(x, 0), 1.0 / (1.0 + e), e / (1.0 + e))
    return out.astype(_float_dtype(x), copy=False)[()]


def _d_sigmoid(x: Any, ans: Any) -> Any:
    # σ(x)·σ(−x), not σ(1 − σ): for large x, 1 − σ(x) has no digits left (0 beyond x ≈ 37)
    return E.mul(ans, sigmoid(E.neg(x)))


def _softplus_impl(x: Any) -> Any:
    return np.asanyarray(np.logaddexp(0.0, x)).astype(_float_dtype(x), copy=False)[()]


def _d_softplus(x: Any, ans: Any) -> Any:
    return sigmoid(x)


sigmoid_p = E.unary("sigmoid", _sigmoid_impl, _d_sigmoid)
softplus_p = E.unary("softplus", _softplus_impl, _d_softplus)


def sigmoid(x: Any) -> Any:
    """1 / (1 + exp(-x)), computed without overflow for any x."""
    return sigmoid_p.bind1(x)


def softplus(x: Any) -> Any:
    """log(1 + exp(x)), computed without overflow for any x; its derivative is sigmoid."""
    return softplus_p.bind1(x)


def relu(x: Any) -> Any:
    """max(x, 0) with relu'(0) = 0 (PyTorch's and JAX's convention)."""
    return E.select(E.greater(x, 0), x, E.zeros_like(x))


def logsumexp(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """log(sum(exp(a))) without overflow: the maximum is taken out first (as a constant, since
    the result does not depend on it)."""
    m = E.stop_gradient(R.max(a, axis, keepdims=True))
    m = E.select(E.isfinite(m), m, E.zeros_like(m))
    out = E.add(E.log(R.sum(E.exp(E.sub(a, m)), axis, keepdims=True)), m)
    if keepdims:
        return out
    return S.squeeze(out, R.normalize_axis(axis, len(np.shape(out)) if not hasattr(out, "ndim")
                                            else out.ndim))


def log_softmax(x: Any, axis: int = -1) -> Any:
    return E.sub(x, logsumexp(x, axis, keepdims=True))


def softmax(x: Any, axis: int = -1) -> Any:
    return E.exp(log_softmax(x, axis))
