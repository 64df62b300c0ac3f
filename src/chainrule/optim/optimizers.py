"""The optimisers `SGD`, `Adam` and `AdamW`, with PyTorch's update formulas, in two styles.

Stateful (PyTorch's habit): the optimiser holds the parameter arrays and updates them in place,
so a module holding them sees the new values::

    opt = cr.optim.SGD(params, lr=0.1, momentum=0.9)
    for xb, yb in loader:
        loss, grads = cr.value_and_grad(loss_fn)(params, xb, yb)
        opt.step(grads)

Functional (pure, so it can run under `cr.graph.jit`)::

    opt = cr.optim.Adam(lr=1e-3)
    state = opt.init(params)
    params, state = opt.update(params, grads, state)

Both styles run the same per-parameter update (`_update_leaf`), written with NumPy operators so it
works on arrays and on traced values alike.

Parameters are any pytree: a dict of arrays, a tuple, a `cr.nn` module. Its float leaves are the
parameters; other leaves (strings, integers) are constants and are left alone. The gradient has
the structure of the parameters (as `cr.grad` returns it).
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from .._core import tree
from .._core.primitive import Tracer
from ._pytree import ParamIndex

__all__ = ["Optimizer", "SGD", "Adam", "AdamW"]


def _check_range(owner: str, name: str, value: float, low: float, high: float = math.inf,
                 *, high_open: bool = False) -> float:
    """`value` as a float, or a ValueError naming the argument and its allowed range."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}") from None
    ok = v >= low and (v < high if high_open else v <= high)  # (False for NaN too)
    if not ok:
        rule = (f">= {low}" if high == math.inf
                else f">= {low} and {'<' if high_open else '<='} {high}")
        raise ValueError(f"{owner}: {name}={value!r} is invalid; it must be {rule}")
    return v


def _concrete(x: Any) -> Any:
    """A Python float for a concrete number, the value itself when traced (under jit): Python
    floats never change an array's dtype, NumPy float64 scalars would (NEP 50)."""
    return x if isinstance(x, Tracer) else float(x)


class Optimizer:
    """Base class of the optimisers: the bookkeeping of both styles.

    A subclass names its per-parameter buffers (`_buffer_names`) and implements the update of one
    parameter (`_update_leaf`). `lr` is the learning rate (schedules such as `cr.optim.StepLR`
    change it between steps); `params` is the parameter pytree of the stateful style (None for a
    functional optimiser).

    Parameters
    ----------
    params : Any
        The parameter pytree, or None.
    lr : float
        The learning rate.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> opt = cr.optim.SGD({"w": np.ones(2)}, lr=0.5)
    >>> isinstance(opt, cr.optim.Optimizer), opt.lr
    (True, 0.5)
    """

    def __init__(self, params: Any, lr: float) -> None:
        self.lr = _check_range(type(self).__name__, "lr", lr, 0.0)
        self._step_count = 0
        self._accum: list[np.ndarray] | None = None
        self.params: Any = None
        self._index: ParamIndex | None = None
        self._buffers: dict[str, list[np.ndarray]] = {}
        if params is None:
            return
        if isinstance(params, Iterator):  # `model.parameters()` as a generator, PyTorch style
            params = list(params)
        self.params = params
        self._index = ParamIndex(params)
        self._check_params()
        self._buffers = {name: [np.zeros_like(p) for p in self._index.float_leaves()]
                         for name in self._buffer_names()}

    # -- what a subclass defines ------------------------------------------------------------

    def _buffer_names(self) -> tuple[str, ...]:
        """Names of the per-parameter state arrays (moments), each shaped like its parameter."""
        return ()

    def _hyperparams(self) -> dict[str, Any]:
        return {"lr": self.lr}

    def _update_leaf(self, p: Any, g: Any, bufs: dict[str, Any], t: Any,
                     lr: Any) -> tuple[Any, dict[str, Any]]:
        """The new value of parameter `p` and its new buffers, given its gradient `g`, its
        buffers, and `t`, the number of this step (1 on the first)."""
        raise NotImplementedError

    # -- the stateful style -----------------------------------------------------------------

    def _check_params(self) -> None:
        """Every parameter must be an array the update can write into."""
        index = self._require("__init__")
        name = type(self).__name__
        fix = (f"or use the functional style ({name}(lr=...) with opt.init(params) and "
               f"opt.update(params, grads, state))")
        for leaf, path in zip(index.leaves, index.paths):
            if isinstance(leaf, Tracer):
                raise TypeError(f"{name}: parameter {path} is a traced value or cr.Tensor; the "
                                f"stateful optimisers update NumPy arrays in place: pass the "
                                f"arrays themselves, {fix}")
            if isinstance(leaf, np.ndarray):
                if leaf.dtype.kind != "f":
                    raise TypeError(f"{name}: parameter {path} has dtype {leaf.dtype}; "
                                    f"parameters must be real floating-point arrays "
                                    f"(np.asarray(..., dtype=np.float64)), since integer leaves "
                                    f"get no gradient")
                if not leaf.flags.writeable:
                    raise TypeError(f"{name}: parameter {path} is a read-only array; the "
                                    f"optimiser updates parameters in place: pass a writeable "
                                    f"copy (np.array(...)), {fix}")
            elif tree.is_float_leaf(leaf):
                raise TypeError(f"{name}: parameter {path} is a {type(leaf).__name__}, which "
                                f"cannot be updated in place; make it a float NumPy array "
                                f"(np.asarray(..., dtype=np.float64)), {fix}")
        if not index.float_idx:
            raise ValueError(f"{name}: params has no float arrays to optimise (got "
                             f"{index.treedef}); pass the model's parameters")

    def _require(self, method: str) -> ParamIndex:
        if self._index is None:
            name = type(self).__name__
            raise TypeError(f"{name}.{method} needs the parameters: construct the optimiser "
                            f"with them ({name}(params, lr=...)), or use the functional style "
                            f"(state = opt.init(params); params, state = opt.update(params, "
                            f"grads, state))")
        return self._index

    def step(self, grads: Any = None) -> Any:
        """Update the parameters in place, and return them.

        With `grads` (a pytree shaped like the parameters), or, when called without an argument,
        with the sum of the gradients given to `accumulate` since the last step (which is then
        cleared).

        Parameters
        ----------
        grads : Any, optional
            The gradients.

        Returns
        -------
        Any
            The parameters.

        Raises
        ------
        ValueError
            If the gradients do not match the parameters, or none were given or accumulated.
        """
        name = type(self).__name__
        index = self._require("step")
        if grads is None:
            if self._accum is None:
                raise ValueError(f"{name}.step(): no gradients; pass them (opt.step(grads)) or "
                                 f"add them first with opt.accumulate(grads)")
            gs: list[Any] = self._accum
            self._accum = None
        else:
            gs = index.align(grads, f"{name}.step")
        self._step_count += 1
        self._step_leaves(index.float_leaves(), gs, float(self._step_count), self.lr)
        return self.params

    def _step_leaves(self, ps: list[np.ndarray], gs: list[Any], t: float, lr: float) -> None:
        """`step`'s update of every parameter array, in place, one `_step_leaf` each."""
        names = self._buffer_names()
        for k, p in enumerate(ps):
            bufs = {n: self._buffers[n][k] for n in names}
            # in the parameter's dtype, so that float64 gradients keep float32 moments float32
            g = np.asarray(_concrete_array(gs[k]), dtype=p.dtype)
            if np.may_share_memory(g, p):  # (the update writes p before it is done with g)
                g = g.copy()
            new_bufs = self._step_leaf(p, g, bufs, t, lr)
            for n in names:
                self._buffers[n][k] = new_bufs[n]

    def _step_leaf(self, p: np.ndarray, g: np.ndarray, bufs: dict[str, np.ndarray], t: float,
                   lr: float) -> dict[str, np.ndarray]:
        """`step`'s update of one parameter array, in place (its buffers too, or new ones
        returned): `_update_leaf`'s arithmetic, operation for operation, so that both styles
        give the same numbers to the last bit (tests/test_optim.py compares them); an optimiser
        may write it with `out=` to spare the temporaries."""
        new_p, new_bufs = self._update_leaf(p, g, bufs, t, lr)
        np.copyto(p, new_p, casting="same_kind")
        return new_bufs

    def accumulate(self, grads: Any) -> None:
        """Add `grads` to the optimiser's running sum (gradient accumulation over several batches).

        `step()` without an argument then applies the sum and clears it. The sum is not averaged:
        scale the loss by 1/k to average over k batches.

        Parameters
        ----------
        grads : Any
            The gradients, shaped like the parameters.

        Returns
        -------
        None
        """
        index = self._require("accumulate")
        gs = index.align(grads, f"{type(self).__name__}.accumulate")
        if self._accum is None:
            # copies: the caller may reuse or overwrite its gradient arrays
            self._accum = [np.array(g, dtype=p.dtype) for p, g in zip(index.float_leaves(), gs)]
        else:
            for acc, g in zip(self._accum, gs):
                acc += g

    def zero_grad(self) -> None:
        """Clear the gradients summed by `accumulate` (PyTorch's habit; gradients passed to
        `step(grads)` are never stored, so there is nothing else to clear)."""
        self._accum = None

    @property
    def accumulated(self) -> Any:
        """The gradient sum of `accumulate`, as a pytree shaped like the parameters (to clip it
        before the step, say), or None when nothing has been accumulated."""
        if self._accum is None:
            return None
        index = self._require("accumulated")
        leaves = list(index.leaves)
        for i, acc in zip(index.float_idx, self._accum):
            leaves[i] = acc
        return tree.unflatten(index.treedef, leaves)

    @property
    def step_count(self) -> int:
        """Number of steps taken by `step`."""
        return self._step_count

    def state_dict(self) -> dict[str, np.ndarray]:
        """The step count, the learning rate and copies of the buffers, as a flat dict of arrays.

        (`"step"`, `"lr"`, `"<buffer>.<k>"` for the k-th parameter in pytree order), so that
        `np.savez(path, **opt.state_dict())` saves it.

        Returns
        -------
        dict
            Name to array.
        """
        self._require("state_dict")
        out = {"step": np.array(self._step_count), "lr": np.array(self.lr)}
        for n, arrs in self._buffers.items():
            for k, a in enumerate(arrs):
                out[f"{n}.{k}"] = a.copy()
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what `state_dict` returned (or `np.load` of a saved one).

        Checks that every buffer is there with its parameter's shape, and names the parameter when
        not.

        Parameters
        ----------
        state : Mapping
            Name to array.

        Returns
        -------
        None

        Raises
        ------
        ValueError
            For a missing, unexpected or misshapen entry.
        """
        name = type(self).__name__
        index = self._require("load_state_dict")
        keys = set(state.keys())
        expected = {"step", "lr"} | {f"{n}.{k}" for n in self._buffers
                                     for k in range(len(index.float_idx))}
        missing = sorted(expected - keys)
        if missing:
            key = missing[0]
            what = _describe(key, index)
            raise ValueError(f"{name}.load_state_dict: the state has no {key!r}{what}; it was "
                             f"saved from a different optimiser or model")
        extra = sorted(keys - expected)
        if extra:
            raise ValueError(f"{name}.load_state_dict: unexpected entries {extra[:5]}; the state "
                             f"was saved from a different optimiser or model")
        new: dict[str, list[np.ndarray]] = {}
        for n in self._buffers:
            new[n] = []
            for k, p in enumerate(index.float_leaves()):
                a = np.asarray(state[f"{n}.{k}"])
                if a.shape != p.shape:
                    raise ValueError(f"{name}.load_state_dict: {n}.{k} (the {n} of parameter "
                                     f"{index.path(k)}) has shape {a.shape}, but the parameter "
                                     f"has shape {p.shape}")
                new[n].append(np.array(a, dtype=p.dtype))
        self._buffers = new
        self._step_count = int(np.asarray(state["step"]))
        self.lr = float(np.asarray(state["lr"]))

    # -- the functional style ---------------------------------------------------------------

    def init(self, params: Any) -> dict[str, Any]:
        """The initial state of the functional style.

        `{"step": 0-d float64 array, <buffer>: tuple of zero arrays, one per float leaf of params in
        pytree order}`. The step count is a float array so that `cr.graph.jit` traces it instead of
        compiling once per step.

        Parameters
        ----------
        params : Any
            The parameter pytree.

        Returns
        -------
        dict
            The state.
        """
        index = ParamIndex(params)
        state: dict[str, Any] = {"step": np.zeros(())}
        for n in self._buffer_names():
            state[n] = tuple(np.zeros_like(p) for p in index.float_leaves())
        return state

    def update(self, params: Any, grads: Any, state: Mapping[str, Any], *,
               lr: Any = None) -> tuple[Any, dict[str, Any]]:
        """`(new_params, new_state)`: one step of the optimiser, without changing its arguments.

        `lr` overrides `self.lr` for this step. Under `cr.graph.jit`, pass it explicitly
        (`update(params, grads, state, lr=opt.lr)`) when a schedule changes it: a value read
        from `self` is fixed into the compiled code when it is traced.

        Parameters
        ----------
        params : Any
            The parameter pytree.
        grads : Any
            The gradients, shaped like it.
        state : Mapping
            The state from `init` or the previous `update`.
        lr : float, optional
            The learning rate for this step.

        Returns
        -------
        new_params : Any
            The updated parameters.
        new_state : dict
            The updated state.

        Raises
        ------
        ValueError
            If the state or the gradients do not match the parameters.

        Examples
        --------
        >>> import numpy as np
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD(lr=0.1)
        >>> params = {"w": np.array([1.0, 2.0])}
        >>> state = opt.init(params)
        >>> params, state = opt.update(params, {"w": np.ones(2)}, state)
        >>> print(params["w"])
        [0.9 1.9]
        """
        name = type(self).__name__
        index = ParamIndex(params)
        gs = index.align(grads, f"{name}.update")
        names = self._buffer_names()
        n_params = len(index.float_idx)
        for n in ("step", *names):
            if n not in state:
                raise ValueError(f"{name}.update: the state has no {n!r}; make it with "
                                 f"opt.init(params) using this optimiser")
        for n in names:
            if len(state[n]) != n_params:
                raise ValueError(f"{name}.update: the state holds {len(state[n])} {n} arrays "
                                 f"for {n_params} parameters; make it with opt.init(params)")
        t = _concrete(state["step"]) + 1.0
        lr = _concrete(self.lr if lr is None else lr)
        leaves = list(index.leaves)
        new_bufs: dict[str, list[Any]] = {n: [] for n in names}
        for k, (i, g) in enumerate(zip(index.float_idx, gs)):
            p = leaves[i]
            if isinstance(p, np.ndarray) and not isinstance(g, Tracer):
                g = np.asarray(g, dtype=p.dtype)  # (float64 gradients of float32 parameters)
            new_p, bufs = self._update_leaf(p, g, {n: state[n][k] for n in names}, t, lr)
            leaves[i] = new_p
            for n in names:
                new_bufs[n].append(bufs[n])
        new_state: dict[str, Any] = {"step": t if isinstance(t, Tracer) else np.array(t)}
        new_state.update((n, tuple(v)) for n, v in new_bufs.items())
        return tree.unflatten(index.treedef, leaves), new_state

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._hyperparams().items())
        return f"{type(self).__name__}({args})"


def _concrete_array(g: Any) -> Any:
    if isinstance(g, Tracer):
        raise TypeError("step: the gradients are traced values; the stateful step runs on "
                        "concrete arrays: call it outside the transform, or use opt.update")
    return g


def _describe(key: str, index: ParamIndex) -> str:
    """` (the exp_avg of parameter ['w'])` for a buffer key, else nothing."""
    n, _, k = key.rpartition(".")
    if n and k.isdigit() and int(k) < len(index.float_idx):
        return f" (the {n} of parameter {index.path(int(k))})"
    return ""


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, PyTorch's `torch.optim.SGD`.

    Each step, for a parameter p with gradient g (t counts steps from 1; b is the momentum
    buffer)::

        g = g + weight_decay * p                  # L2 penalty, if weight_decay != 0
        b = g                          if t == 1  # if momentum != 0
        b = momentum * b + (1 - dampening) * g    otherwise
        g = g + momentum * b           if nesterov else  g = b
        p = p - lr * g

    Parameters
    ----------
    params : Any, optional
        The parameters: a pytree of float NumPy arrays (a `cr.nn.Module` included), updated in
        place by `step`. None makes a functional optimiser (`init` / `update` only).
    lr : float, optional
        The learning rate.
    momentum : float, optional
        The momentum factor (0: plain gradient descent).
    dampening : float, optional
        Dampening of the momentum.
    weight_decay : float, optional
        The L2 penalty.
    nesterov : bool, optional
        Nesterov momentum (needs momentum > 0 and dampening = 0).

    Raises
    ------
    ValueError
        For a hyper-parameter out of range, or parameters without float arrays.
    TypeError
        For parameters that are not writable float NumPy arrays.

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> params = {"w": np.array([1.0, -2.0])}
    >>> opt = cr.optim.SGD(params, lr=0.1, momentum=0.9)
    >>> opt.step({"w": np.array([1.0, 1.0])})["w"]
    array([ 0.9, -2.1])
    >>> opt.step({"w": np.array([1.0, 1.0])})["w"]   # b = 0.9 * 1 + 1 = 1.9
    array([ 0.71, -2.29])
    """

    def __init__(self, params: Any = None, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False) -> None:
        self.momentum = _check_range("SGD", "momentum", momentum, 0.0)
        self.dampening = _check_range("SGD", "dampening", dampening, -math.inf)
        self.weight_decay = _check_range("SGD", "weight_decay", weight_decay, 0.0)
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(f"SGD: nesterov=True needs momentum > 0 and dampening = 0 (got "
                             f"momentum={momentum}, dampening={dampening})")
        super().__init__(params, lr)

    def _buffer_names(self) -> tuple[str, ...]:
        return ("momentum_buffer",) if self.momentum != 0 else ()

    def _hyperparams(self) -> dict[str, Any]:
        return {"lr": self.lr, "momentum": self.momentum, "dampening": self.dampening,
                "weight_decay": self.weight_decay, "nesterov": self.nesterov}

    def _update_leaf(self, p: Any, g: Any, bufs: dict[str, Any], t: Any,
                     lr: Any) -> tuple[Any, dict[str, Any]]:
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        if self.momentum == 0:
            return p - lr * g, {}
        b = bufs["momentum_buffer"]
        if self.dampening == 0:
            b = self.momentum * b + g  # the buffer starts at zero, so step 1 gives b = g
        else:
            # PyTorch starts the buffer at g itself, undamped: the factor is 1 on step 1,
            # (1 - dampening) after; min(t - 1, 1) also works on a traced step count
            seen = min(t - 1.0, 1.0) if isinstance(t, float) else np.minimum(t - 1.0, 1.0)
            b = self.momentum * b + (1.0 - self.dampening * seen) * g
        g = g + self.momentum * b if self.nesterov else b
        return p - lr * g, {"momentum_buffer": b}

    def _step_leaf(self, p: np.ndarray, g: np.ndarray, bufs: dict[str, np.ndarray], t: float,
                   lr: float) -> dict[str, np.ndarray]:
        if self.weight_decay != 0:
            g = np.add(g, self.weight_decay * p)
        if self.momentum == 0:
            p -= lr * g
            return {}
        b = bufs["momentum_buffer"]
        b *= self.momentum
        if self.dampening == 0:
            b += g
        else:
            b += (1.0 - self.dampening * min(t - 1.0, 1.0)) * g
        step = g + self.momentum * b if self.nesterov else b
        p -= lr * step
        return {"momentum_buffer": b}


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), PyTorch's `torch.optim.Adam`.

    Each step, for a parameter p with gradient g (t counts steps from 1; m, v start at zero)::

        g = g + weight_decay * p                  # L2 penalty (coupled), if weight_decay != 0
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        v_max = maximum(v_max, v)                 # if amsgrad, and then v_max replaces v below
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    For weight decay that does not pass through the moments, use `AdamW`.

    Parameters
    ----------
    params : Any, optional
        The parameters: a pytree of float NumPy arrays (a `cr.nn.Module` included), updated in
        place by `step`. None makes a functional optimiser (`init` / `update` only).
    lr : float, optional
        The learning rate.
    betas : tuple of float, optional
        (beta1, beta2), the decay rates of the moment estimates.
    eps : float, optional
        Added to the denominator.
    weight_decay : float, optional
        The L2 penalty (coupled: it enters the moments).
    amsgrad : bool, optional
        Use the maximum of the second moments so far.

    Raises
    ------
    ValueError
        For a hyper-parameter out of range, or parameters without float arrays.
    TypeError
        For parameters that are not writable float NumPy arrays.

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> params = {"w": np.array([1.0, -2.0])}
    >>> opt = cr.optim.Adam(params, lr=0.1)
    >>> opt.step({"w": np.array([3.0, -0.5])})["w"]   # the first step moves by ~lr * sign(g)
    array([ 0.9, -1.9])
    """

    def __init__(self, params: Any = None, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        name = type(self).__name__
        try:
            b1, b2 = betas
        except (TypeError, ValueError):
            raise TypeError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}") from None
        self.betas = (_check_range(name, "betas[0]", b1, 0.0, 1.0, high_open=True),
                      _check_range(name, "betas[1]", b2, 0.0, 1.0, high_open=True))
        self.eps = _check_range(name, "eps", eps, 0.0)
        self.weight_decay = _check_range(name, "weight_decay", weight_decay, 0.0)
        self.amsgrad = bool(amsgrad)
        super().__init__(params, lr)

    def _buffer_names(self) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if self.amsgrad else ("exp_avg",
                                                                                  "exp_avg_sq")

    def _hyperparams(self) -> dict[str, Any]:
        return {"lr": self.lr, "betas": self.betas, "eps": self.eps,
                "weight_decay": self.weight_decay, "amsgrad": self.amsgrad}

    def _decay(self, p: Any, g: Any, lr: Any) -> tuple[Any, Any]:
        """Weight decay: Adam's adds the L2 gradient (AdamW overrides this)."""
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        return p, g

    def _update_leaf(self, p: Any, g: Any, bufs: dict[str, Any], t: Any,
                     lr: Any) -> tuple[Any, dict[str, Any]]:
        b1, b2 = self.betas
        p, g = self._decay(p, g, lr)
        m = b1 * bufs["exp_avg"] + (1.0 - b1) * g
        v = b2 * bufs["exp_avg_sq"] + (1.0 - b2) * (g * g)
        # bias corrections: Python floats on concrete steps (so float32 stays float32), traced
        # values under jit
        bc1 = 1.0 - b1 ** t
        bc2_sqrt = (1.0 - b2 ** t) ** 0.5
        out = {"exp_avg": m, "exp_avg_sq": v}
        if self.amsgrad:
            v = out["max_exp_avg_sq"] = np.maximum(bufs["max_exp_avg_sq"], v)
        denom = np.sqrt(v) / bc2_sqrt + self.eps
        return p - (lr / bc1) * (m / denom), out

    def _step_leaf(self, p: np.ndarray, g: np.ndarray, bufs: dict[str, np.ndarray], t: float,
                   lr: float) -> dict[str, np.ndarray]:
        g = self._decay_in_place(p, g, lr)
        out, step = self._moments_and_step(g, bufs, t, lr)
        p -= step
        return out

    def _step_leaves(self, ps: list[np.ndarray], gs: list[Any], t: float, lr: float) -> None:
        # Several arrays of one dtype (a network's weights and biases): the moments live in one
        # flat array per buffer (each parameter's buffer a view of it) and the update's dozen
        # operations run once over all the parameters instead of once per array (a small bias
        # costs a NumPy call's overhead per operation, as a large matrix does: the demo MLP's
        # step 113 -> 103 µs). Every element goes through the same operations as in
        # `_step_leaf`: the same numbers.
        dtype = ps[0].dtype if ps else None
        if len(ps) < 2 or any(p.dtype != dtype for p in ps):
            super()._step_leaves(ps, gs, t, lr)
            return
        flat = self._flat_buffers(ps)
        g = np.concatenate([np.asarray(_concrete_array(gk), dtype=dtype).reshape(-1)
                            for gk in gs])  # (a new array: it shares nothing with p)
        if self.weight_decay != 0:
            if self._decoupled:  # (AdamW: each parameter shrinks in place)
                for p in ps:
                    self._decay_in_place(p, g, lr)
            else:  # (Adam: the L2 gradient, as `_decay_in_place` adds it)
                g = g + self.weight_decay * np.concatenate([p.reshape(-1) for p in ps])
        _, step = self._moments_and_step(g, flat, t, lr)  # (the buffers change in place)
        off = 0
        for p in ps:
            n = p.size
            p -= step[off:off + n].reshape(p.shape)
            off += n

    #: AdamW decays the parameter itself (`_decay_in_place`), Adam the gradient
    _decoupled = False

    def _flat_buffers(self, ps: list[np.ndarray]) -> dict[str, np.ndarray]:
        """Each buffer as one flat array whose slices are the parameters' buffers (made once,
        and again when the buffers were replaced: `load_state_dict`)."""
        names = self._buffer_names()
        cached = getattr(self, "_flat", None)
        if cached is not None and all(
                len(self._buffers[n]) == len(ps) and
                all(b is view for b, view in zip(self._buffers[n], cached[1][n]))
                for n in names):
            return cached[0]  # type: ignore[no-any-return]
        flat: dict[str, np.ndarray] = {}
        views: dict[str, list[np.ndarray]] = {}
        for n in names:
            flat[n] = np.concatenate([np.asarray(b, dtype=ps[0].dtype).reshape(-1)
                                      for b in self._buffers[n]])
            views[n], off = [], 0
            for p in ps:
                views[n].append(flat[n][off:off + p.size].reshape(p.shape))
                off += p.size
            self._buffers[n] = list(views[n])
        self._flat = (flat, views)
        return flat

    def _moments_and_step(self, g: np.ndarray, bufs: dict[str, np.ndarray], t: float,
                          lr: float) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The moments updated in place, and the amount to subtract from the parameter."""
        # `_update_leaf` with two temporaries instead of a dozen (each operation the same, in
        # the same order: b * m + c * g is m *= b, then m += c * g)
        b1, b2 = self.betas
        m, v = bufs["exp_avg"], bufs["exp_avg_sq"]
        # (an array even for a 0-d parameter: a ufunc gives a NumPy scalar there, and the
        # scratch is written into below)
        scratch = np.multiply(g, 1.0 - b1, out=np.empty(np.shape(g), np.result_type(g)))
        m *= b1
        m += scratch
        np.multiply(g, g, out=scratch)
        scratch *= 1.0 - b2
        v *= b2
        v += scratch
        bc1 = 1.0 - b1 ** t
        bc2_sqrt = (1.0 - b2 ** t) ** 0.5
        out = {"exp_avg": m, "exp_avg_sq": v}
        if self.amsgrad:
            v = out["max_exp_avg_sq"] = np.maximum(bufs["max_exp_avg_sq"], v,
                                                   out=bufs["max_exp_avg_sq"])
        np.sqrt(v, out=scratch)
        scratch /= bc2_sqrt
        scratch += self.eps
        np.divide(m, scratch, out=scratch)
        scratch *= lr / bc1
        return out, scratch

    def _decay_in_place(self, p: np.ndarray, g: np.ndarray, lr: float) -> np.ndarray:
        """`_decay` for `_step_leaf`: the gradient to use (L2: a new array), `p` changed in
        place where the decay acts on it (AdamW)."""
        return g + self.weight_decay * p if self.weight_decay != 0 else g


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), PyTorch's `torch.optim.AdamW`.

    The decay shrinks the parameter directly instead of entering the moments::

        p = p * (1 - lr * weight_decay)
        (then Adam's step, without its L2 term)

    Note PyTorch's default `weight_decay=0.01`, kept here.

    Parameters
    ----------
    params : Any, optional
        The parameters: a pytree of float NumPy arrays (a `cr.nn.Module` included), updated in
        place by `step`. None makes a functional optimiser (`init` / `update` only).
    lr : float, optional
        The learning rate.
    betas : tuple of float, optional
        (beta1, beta2), the decay rates of the moment estimates.
    eps : float, optional
        Added to the denominator.
    weight_decay : float, optional
        The decoupled decay rate.
    amsgrad : bool, optional
        Use the maximum of the second moments so far.

    Raises
    ------
    ValueError
        For a hyper-parameter out of range, or parameters without float arrays.
    TypeError
        For parameters that are not writable float NumPy arrays.

    Examples
    --------
    >>> import numpy as np, chainrule as cr
    >>> params = {"w": np.array([1.0])}
    >>> opt = cr.optim.AdamW(params, lr=0.1, weight_decay=0.5)
    >>> opt.step({"w": np.array([0.0])})["w"]   # no gradient: the decay alone, 1 * (1 - 0.05)
    array([0.95])
    """

    def __init__(self, params: Any = None, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)

    def _decay(self, p: Any, g: Any, lr: Any) -> tuple[Any, Any]:
        if self.weight_decay != 0:
            p = p * (1.0 - lr * self.weight_decay)
        return p, g

    _decoupled = True

    def _decay_in_place(self, p: np.ndarray, g: np.ndarray, lr: float) -> np.ndarray:
        if self.weight_decay != 0:
            p *= 1.0 - lr * self.weight_decay
        return g
