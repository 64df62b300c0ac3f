"""The reference workloads W1..W6 of bench/WORKLOADS.md (a copy of the shared spec's).

Each workload body is written once against a NumPy-like namespace `xp` (NumPy, `chainrule.numpy`,
`jax.numpy`, `autograd.numpy`, or the small PyTorch shim in `peers.py`), so every library runs
exactly the same arithmetic. Beside each body sits its hand-written NumPy derivative (closed form),
returned with the function's value as `(value, derivative)`: the derivative is what every other one
is checked against, and the pair is timed as the "hand-written NumPy" column (the other columns
compute the value too: "forward pass included").

Inputs are float64 and drawn from `np.random.default_rng(seed)` in the order: data, labels, then
parameters layer by layer (W, b).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

W1_STEPS = 100
W1_OPS = 9 * W1_STEPS  # sin, *1.001, 0.1*x, *x, x*x, neg, exp, +, -


@dataclass
class Workload:
    """One row of the benchmark table.

    `body(xp, *args)` is the function; `kind` says which derivative is taken ("grad", "jacrev",
    "jacfwd" or "hessian") with respect to `argnums`; `hand(*args)` returns `(value, derivative)`
    in closed form, the derivative shaped like the transform's result.
    """

    name: str
    family: str
    description: str
    body: Callable[..., Any]
    hand: Callable[..., Any]
    args: tuple[Any, ...]
    kind: str = "grad"
    argnums: int | tuple[int, ...] = 0
    #: WORKLOADS.md's targets, ratio = derivative time / NumPy forward time, per method family:
    #: "overload" (the default), "source" (as written) and "compiled" (graph, source + jit)
    targets: dict[str, float] = field(default_factory=dict)
    #: the default method's target per primitive operation (µs), where WORKLOADS.md gives one
    target_us_per_op: float | None = None
    n_ops: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def function(self, xp: Any) -> Callable[..., Any]:
        """The workload written with namespace `xp`, as a function of `args`."""
        body = self.body

        def f(*args: Any) -> Any:
            return body(xp, *args)

        f.__name__ = f.__qualname__ = f"{self.family.lower()}_{body.__name__}"
        return f

    def forward(self) -> Callable[[], Any]:
        """The plain NumPy forward pass, ready to time."""
        f, args = self.function(np), self.args
        return lambda: f(*args)


# ---------------------------------------------------------------------------------------------
# W1: a chain of scalar operations (per-op overhead)

def scalar_chain(xp: Any, x: Any) -> Any:
    for _ in range(W1_STEPS):
        x = xp.sin(x) * 1.001 + 0.1 * x * x - xp.exp(-x * x)
    return x


def scalar_chain_grad(x: float) -> tuple[float, float]:
    d = 1.0
    for _ in range(W1_STEPS):
        e = np.exp(-x * x)
        d = d * (1.001 * np.cos(x) + 0.2 * x + 2.0 * x * e)
        x = np.sin(x) * 1.001 + 0.1 * x * x - e
    return x, d


# ---------------------------------------------------------------------------------------------
# W2, W3: MLPs with mean softmax cross-entropy

def softmax_xent(xp: Any, z: Any, rows: Any, labels: Any) -> Any:
    """Mean softmax cross-entropy, stabilised by the row maximum (whose derivative cancels)."""
    zs = z - xp.max(z, axis=1, keepdims=True)
    logp = zs - xp.log(xp.sum(xp.exp(zs), axis=1, keepdims=True))
    return -xp.mean(logp[rows, labels])


def _softmax_xent_value_grad(z: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """The mean cross-entropy and its derivative (softmax(z) - onehot(labels)) / n."""
    n = len(labels)
    rows = np.arange(n)
    zs = z - z.max(axis=1, keepdims=True)
    p = np.exp(zs)
    total = p.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(total[:, 0]) - zs[rows, labels]))
    p /= total
    p[rows, labels] -= 1.0
    return loss, p / n


def mlp_tanh(xp: Any, w1: Any, b1: Any, w2: Any, b2: Any, x: Any, rows: Any,
             labels: Any) -> Any:
    h = xp.tanh(x @ w1 + b1)
    return softmax_xent(xp, h @ w2 + b2, rows, labels)


def mlp_tanh_grad(w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray, x: np.ndarray,
                  rows: np.ndarray, labels: np.ndarray) -> tuple[float, tuple[np.ndarray, ...]]:
    h = np.tanh(x @ w1 + b1)
    loss, dz = _softmax_xent_value_grad(h @ w2 + b2, labels)
    da = (dz @ w2.T) * (1.0 - h * h)
    return loss, (x.T @ da, da.sum(axis=0), h.T @ dz, dz.sum(axis=0))


def mlp_relu(xp: Any, w1: Any, b1: Any, w2: Any, b2: Any, w3: Any, b3: Any, x: Any, rows: Any,
             labels: Any) -> Any:
    h1 = xp.maximum(x @ w1 + b1, 0.0)
    h2 = xp.maximum(h1 @ w2 + b2, 0.0)
    return softmax_xent(xp, h2 @ w3 + b3, rows, labels)


def mlp_relu_grad(w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray,
                  w3: np.ndarray, b3: np.ndarray, x: np.ndarray, rows: np.ndarray,
                  labels: np.ndarray) -> tuple[float, tuple[np.ndarray, ...]]:
    h1 = np.maximum(x @ w1 + b1, 0.0)
    h2 = np.maximum(h1 @ w2 + b2, 0.0)
    loss, dz = _softmax_xent_value_grad(h2 @ w3 + b3, labels)
    da2 = (dz @ w3.T) * (h2 > 0)
    da1 = (da2 @ w2.T) * (h1 > 0)
    return loss, (x.T @ da1, da1.sum(axis=0), h1.T @ da2, da2.sum(axis=0), h2.T @ dz,
                  dz.sum(axis=0))


def _mlp_inputs(seed: int, sizes: list[int], batch: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0]))
    labels = rng.integers(0, sizes[-1], size=batch)
    params: list[np.ndarray] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        params.append(rng.standard_normal((n_in, n_out)) / np.sqrt(n_in))
        params.append(0.1 * rng.standard_normal(n_out))
    return (*params, x, np.arange(batch), labels)


# ---------------------------------------------------------------------------------------------
# W4: a large elementwise function

def elementwise(xp: Any, x: Any) -> Any:
    return xp.sum(xp.sin(x) * xp.exp(-x**2) + xp.log1p(x**2))


def elementwise_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
    x2 = x * x
    e = np.exp(-x2)
    s = np.sin(x)
    value = float(np.sum(s * e + np.log1p(x2)))
    return value, (np.cos(x) - 2.0 * x * s) * e + 2.0 * x / (1.0 + x2)


# ---------------------------------------------------------------------------------------------
# W5: a dense Jacobian (A is a constant of the function)

def tanh_cubic(xp: Any, x: Any, a: Any) -> Any:
    return xp.tanh(a @ x) + x**3


def tanh_cubic_jacobian(x: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = np.tanh(a @ x)
    x2 = x * x
    jac = (1.0 - t * t)[:, None] * a
    jac.flat[:: len(x) + 1] += 3.0 * x2
    return t + x2 * x, jac


# ---------------------------------------------------------------------------------------------
# W6: a dense Hessian

def exp_quartic(xp: Any, x: Any, a: Any) -> Any:
    return xp.sum(xp.exp(a @ x)) + (x @ x) ** 2


def exp_quartic_hessian(x: np.ndarray, a: np.ndarray) -> tuple[float, np.ndarray]:
    e = np.exp(a @ x)
    s = x @ x
    hess = (a.T * e) @ a
    hess += 8.0 * np.outer(x, x)
    hess.flat[:: len(x) + 1] += 4.0 * s
    return float(e.sum() + s * s), hess


# ---------------------------------------------------------------------------------------------

def _targets(overload: float | None, source: float, compiled: float) -> dict[str, float]:
    """WORKLOADS.md's ratio targets of one row (W1 gives the default method's per operation)."""
    out = {"source": source, "compiled": compiled}
    if overload is not None:
        out["overload"] = overload
    return out


def make_workloads() -> list[Workload]:
    """All rows, in table order. Every argument past `argnums` is data, not differentiated."""
    w2 = _mlp_inputs(2, [64, 128, 10], 32)
    w3 = _mlp_inputs(3, [784, 512, 512, 10], 256)
    x4 = np.random.default_rng(4).standard_normal(1_000_000)
    rng5 = np.random.default_rng(5)
    a5 = rng5.standard_normal((100, 100)) / 10.0
    x5 = 0.5 * rng5.standard_normal(100)
    rng6 = np.random.default_rng(6)
    a6 = 0.5 * rng6.standard_normal((50, 50)) / np.sqrt(50)
    x6 = rng6.standard_normal(50)

    return [
        Workload("W1", "W1", "scalar chain, 900 primitive ops", scalar_chain, scalar_chain_grad,
                 (0.5,), targets=_targets(None, 6.0, 1.5), target_us_per_op=2.5, n_ops=W1_OPS),
        Workload("W2", "W2", "MLP 64-128-10 tanh, batch 32", mlp_tanh, mlp_tanh_grad, w2,
                 argnums=(0, 1, 2, 3), targets=_targets(4.0, 2.5, 1.4)),
        Workload("W3", "W3", "MLP 784-512-512-10 relu, batch 256", mlp_relu, mlp_relu_grad, w3,
                 argnums=(0, 1, 2, 3, 4, 5), targets=_targets(2.5, 2.6, 2.5)),
        Workload("W4", "W4", "elementwise, x of 1e6", elementwise, elementwise_grad, (x4,),
                 targets=_targets(1.7, 2.0, 1.0)),
        Workload("W5 rev", "W5", "Jacobian 100x100, reverse", tanh_cubic, tanh_cubic_jacobian,
                 (x5, a5), kind="jacrev", targets=_targets(10.0, 8.0, 3.0)),
        Workload("W5 fwd", "W5", "Jacobian 100x100, forward", tanh_cubic, tanh_cubic_jacobian,
                 (x5, a5), kind="jacfwd", targets=_targets(10.0, 8.0, 3.0)),
        Workload("W6", "W6", "Hessian 50x50", exp_quartic, exp_quartic_hessian, (x6, a6),
                 kind="hessian", targets=_targets(30.0, 10.0, 6.0)),
    ]
