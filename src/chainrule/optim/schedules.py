"""Learning-rate schedules: `StepLR` and `CosineAnnealingLR` (PyTorch's closed forms), each with
an optional linear warmup.

A schedule holds an optimiser and sets its `lr` attribute; call `sched.step()` once per step (or
per epoch, as you count) after `opt.step()`, as in PyTorch. Every schedule is also a plain function
of the step number, `sched.lr_at(t)`, which the functional style can pass on directly:
`opt.update(params, grads, state, lr=sched.lr_at(t))`.
"""
from __future__ import annotations

import math
from typing import Any

__all__ = ["LRScheduler", "StepLR", "CosineAnnealingLR"]


def _check_int(owner: str, name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) and not hasattr(value, "__index__"):
        raise TypeError(f"{owner}: {name} must be an integer, got {value!r}")
    v = int(value)
    if v < low:
        raise ValueError(f"{owner}: {name}={value!r} is invalid; it must be >= {low}")
    return v


class LRScheduler:
    """Base class of the schedules: a learning rate as a function of the step count `t`
    (PyTorch's `last_epoch`), with an optional linear warmup in front.

    With `warmup_steps=W > 0` the rate rises linearly over the first W steps, from
    `lr(0) / (W + 1)` to `lr(0)` at t = W, and the schedule proper then runs on `t - W`::

        lr_at(t) = schedule(0) * (t + 1) / (W + 1)    for t < W
        lr_at(t) = schedule(t - W)                    for t >= W

    Constructing a schedule records the optimiser's current `lr` as `base_lr` and sets the rate
    for step 0.

    Parameters
    ----------
    optimizer : Any
        An optimiser with an `lr` attribute.
    warmup_steps : int, optional
        W, the steps of linear warmup.

    Raises
    ------
    TypeError
        If the optimiser has no `lr`.

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> opt = cr.optim.SGD({"w": np.zeros(1)}, lr=1.0)
    >>> sched = cr.optim.StepLR(opt, step_size=10, warmup_steps=3)
    >>> [round(sched.lr_at(t), 2) for t in range(5)]
    [0.25, 0.5, 0.75, 1.0, 1.0]
    """

    def __init__(self, optimizer: Any, *, warmup_steps: int = 0) -> None:
        name = type(self).__name__
        if not hasattr(optimizer, "lr"):
            raise TypeError(f"{name}: expected an optimiser with an `lr` attribute (such as "
                            f"cr.optim.SGD), got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = float(optimizer.lr)
        self.warmup_steps = _check_int(name, "warmup_steps", warmup_steps, 0)
        self.last_epoch = 0
        self._last_lr = self._apply()

    def _schedule(self, t: int) -> float:
        """The rate after `t` steps of the schedule proper (after any warmup)."""
        return self.base_lr

    def lr_at(self, t: int) -> float:
        """The learning rate at step `t` (0 before the first `step()`).

        Parameters
        ----------
        t : int
            The step.

        Returns
        -------
        float
            The rate.
        """
        w = self.warmup_steps
        if t < w:
            return self._schedule(0) * (t + 1) / (w + 1)
        return self._schedule(t - w)

    def _apply(self) -> float:
        lr = self.lr_at(self.last_epoch)
        self.optimizer.lr = lr
        return lr

    def step(self) -> float:
        """Advance one step and set the optimiser's `lr`; returns the new rate.

        Returns
        -------
        float
            The new rate.
        """
        self.last_epoch += 1
        self._last_lr = self._apply()
        return self._last_lr

    def get_last_lr(self) -> float:
        """The rate the schedule last set (a float: chainrule's optimisers have one rate, where
        PyTorch returns one per parameter group)."""
        return self._last_lr

    def state_dict(self) -> dict[str, Any]:
        """`{"last_epoch": int, "base_lr": float}`."""
        return {"last_epoch": self.last_epoch, "base_lr": self.base_lr}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict()`, and set the optimiser's rate to match."""
        for key in ("last_epoch", "base_lr"):
            if key not in state:
                raise ValueError(f"{type(self).__name__}.load_state_dict: the state has no "
                                 f"{key!r}; pass what state_dict() returned")
        self.last_epoch = int(state["last_epoch"])
        self.base_lr = float(state["base_lr"])
        self._last_lr = self._apply()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(base_lr={self.base_lr!r}, last_epoch={self.last_epoch}, "
                f"warmup_steps={self.warmup_steps})")


class StepLR(LRScheduler):
    """Decay the rate by `gamma` every `step_size` steps, PyTorch's `StepLR`::

        lr(t) = base_lr * gamma ** (t // step_size)

    Parameters
    ----------
    optimizer : Any
        An optimiser with an `lr` attribute.
    step_size : int
        The steps between decays.
    gamma : float, optional
        The factor of each decay.
    warmup_steps : int, optional
        Steps of linear warmup before the schedule (see `LRScheduler`).

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> opt = cr.optim.SGD({"w": np.zeros(2)}, lr=1.0)
    >>> sched = cr.optim.StepLR(opt, step_size=2, gamma=0.5)
    >>> [sched.step() for _ in range(5)]
    [1.0, 0.5, 0.5, 0.25, 0.25]
    """

    def __init__(self, optimizer: Any, step_size: int, gamma: float = 0.1, *,
                 warmup_steps: int = 0) -> None:
        self.step_size = _check_int("StepLR", "step_size", step_size, 1)
        self.gamma = float(gamma)
        super().__init__(optimizer, warmup_steps=warmup_steps)

    def _schedule(self, t: int) -> float:
        return self.base_lr * self.gamma ** (t // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from `base_lr` to `eta_min` over `T_max` steps, PyTorch's
    `CosineAnnealingLR` in its closed form::

        lr(t) = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2

    Past `T_max` the cosine carries on (the rate climbs back), as PyTorch's does; make `T_max`
    the total number of steps. With `warmup_steps`, the cosine starts after the warmup.

    Parameters
    ----------
    optimizer : Any
        An optimiser with an `lr` attribute.
    T_max : int
        The steps from `base_lr` down to `eta_min`.
    eta_min : float, optional
        The lowest rate.
    warmup_steps : int, optional
        Steps of linear warmup before the schedule (see `LRScheduler`).

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> opt = cr.optim.SGD({"w": np.zeros(2)}, lr=1.0)
    >>> sched = cr.optim.CosineAnnealingLR(opt, T_max=4)
    >>> [round(sched.step(), 4) for _ in range(4)]
    [0.8536, 0.5, 0.1464, 0.0]
    """

    def __init__(self, optimizer: Any, T_max: int, eta_min: float = 0.0, *,
                 warmup_steps: int = 0) -> None:
        self.T_max = _check_int("CosineAnnealingLR", "T_max", T_max, 1)
        self.eta_min = float(eta_min)
        super().__init__(optimizer, warmup_steps=warmup_steps)

    def _schedule(self, t: int) -> float:
        return self.eta_min + (self.base_lr - self.eta_min) * (
            1.0 + math.cos(math.pi * t / self.T_max)) / 2.0
