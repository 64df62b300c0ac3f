"""One training step of the demo's MLP, chainrule against PyTorch.

The model of `chainrule demo`: 64 → 256 → 10, ReLU, mean softmax cross-entropy, a batch of 32
digits, AdamW (lr 3e-3, weight decay 0.05). A step is the gradient of the loss with respect to
the four parameter arrays plus the optimiser's update. The chainrule columns use `cr.nn` and
`cr.optim` as the demo does (`cr.value_and_grad(loss, method=...)(model, x, y)` and
`opt.step(grads)`); PyTorch runs the same weights with `torch.nn` and `torch.optim.AdamW`. All
float64, one core, single-threaded BLAS, the steps' times interleaved (see run.py); the ratio is
the step's time over the NumPy forward pass (the loss alone), measured in the same process.

    python bench/train_step.py [--repeats 7]
"""
from __future__ import annotations

from isolation import isolate

isolate()

import argparse  # noqa: E402
import statistics  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule import demo  # noqa: E402
from run import Timer  # noqa: E402


def numpy_forward(w: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    h = np.maximum(x @ w[0] + w[1], 0.0)
    z = h @ w[2] + w[3]
    z = z - z.max(axis=1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), y]))


def chainrule_step(method: str, x: np.ndarray, y: np.ndarray) -> Callable[[], Any]:
    model = demo.build_model("mlp", 0)
    opt = cr.optim.AdamW(model, lr=3e-3, weight_decay=0.05)
    value_and_grad = cr.value_and_grad(demo.loss_fn, method=method)

    def step() -> Any:
        value, grads = value_and_grad(model, x, y)
        opt.step(grads)
        return value

    return step


def torch_step(weights: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> Callable[[], Any] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    lin1 = torch.nn.Linear(64, demo.HIDDEN).double()
    lin2 = torch.nn.Linear(demo.HIDDEN, 10).double()
    with torch.no_grad():  # the same weights (chainrule's Linear is x @ W, torch's x @ W.T)
        lin1.weight.copy_(torch.from_numpy(weights[0].T))
        lin1.bias.copy_(torch.from_numpy(weights[1]))
        lin2.weight.copy_(torch.from_numpy(weights[2].T))
        lin2.bias.copy_(torch.from_numpy(weights[3]))
    model = torch.nn.Sequential(lin1, torch.nn.ReLU(), lin2)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.05)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step() -> Any:
        opt.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()
        return loss

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--min-time", type=float, default=0.1)
    args = ap.parse_args()
    x_all, y_all = cr.data.digits()
    x, y = x_all[:32], y_all[:32]
    weights = [np.asarray(p) for _, p in demo.build_model("mlp", 0).named_parameters()]
    # the first step of each, checked: all start from the same weights, so the same loss
    losses = {m: float(chainrule_step(m, x, y)()) for m in demo.METHODS}
    want = numpy_forward(weights, x, y)
    for m, v in losses.items():
        if abs(v - want) > 1e-10:
            raise SystemExit(f"{m}: first loss {v!r} differs from NumPy's {want!r}")
    steps: dict[str, Callable[[], Any]] = {f"chainrule {m}": chainrule_step(m, x, y)
                                           for m in demo.METHODS}
    torch_call = torch_step(weights, x, y)
    if torch_call is not None:
        if abs(float(torch_call()) - want) > 1e-10:
            raise SystemExit("PyTorch's first loss differs from NumPy's")
        steps["PyTorch eager"] = torch_call
    forward = Timer(lambda: numpy_forward(weights, x, y), args.min_time)
    timers = {name: Timer(call, args.min_time) for name, call in steps.items()}
    for _ in range(args.repeats):
        forward.repeat()
        for t in timers.values():
            t.repeat()
    fwd = statistics.median(forward.samples)
    print(f"NumPy forward (the loss): {fwd * 1e6:.1f} µs")
    print("| training step | time | ratio to the forward pass |")
    print("|---|---|---|")
    for name, t in timers.items():
        print(f"| {name} | {t.median * 1e6:.1f} µs | {t.median / fwd:.2f} |")


if __name__ == "__main__":
    main()
