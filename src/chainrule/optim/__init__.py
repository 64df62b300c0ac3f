"""chainrule.optim: optimisers (`SGD`, `Adam`, `AdamW`), learning-rate schedules (`StepLR`,
`CosineAnnealingLR`, with optional linear warmup) and gradient clipping (`clip_grad_norm`).

The formulas are PyTorch's, so hyperparameters carry over. Optimisers work on any pytree of
parameters, in PyTorch's stateful style (`opt.step(grads)` updates the arrays in place) or in a
pure functional style (`params, state = opt.update(params, grads, state)`)::

    import chainrule as cr

    opt = cr.optim.AdamW(params, lr=1e-3)
    sched = cr.optim.CosineAnnealingLR(opt, T_max=epochs * len(loader), warmup_steps=100)
    for epoch in range(epochs):
        for xb, yb in loader:
            loss, grads = cr.value_and_grad(loss_fn)(params, xb, yb)
            grads, norm = cr.optim.clip_grad_norm(grads, max_norm=1.0)
            opt.step(grads)
            sched.step()

Examples
--------
>>> import numpy as np
>>> import chainrule as cr
>>> import chainrule.numpy as cnp
>>> params = {"w": np.array([1.0, -1.0])}
>>> opt = cr.optim.SGD(params, lr=0.25)
>>> for _ in range(2):
...     _ = opt.step(cr.grad(lambda p: cnp.sum(p["w"] ** 2))(params))
>>> print(params["w"])
[ 0.25 -0.25]
"""
from __future__ import annotations

from .clip import clip_grad_norm
from .optimizers import SGD, Adam, AdamW, Optimizer
from .schedules import CosineAnnealingLR, LRScheduler, StepLR

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "LRScheduler", "StepLR", "CosineAnnealingLR",
           "clip_grad_norm"]
