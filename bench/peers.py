"""The peers chainrule is compared with: PyTorch (eager autograd and torch.func), JAX (with and
without jit) and HIPS autograd. Each runs the workload body of `workloads.py` through its own
NumPy-like namespace, so every library computes the same arithmetic.

A peer that cannot be imported is skipped with a note; `run.py` reports the notes.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from types import SimpleNamespace
from typing import Any

import numpy as np

from workloads import Workload


@dataclass
class Prepared:
    """A derivative ready to time: `call()` computes it, `to_numpy(result)` gives a list of NumPy
    arrays to check, `compile_s` is the first-call (trace + compile) time where there is one."""

    call: Callable[[], Any]
    to_numpy: Callable[[Any], list[np.ndarray]]
    compile_s: float | None = None


@dataclass
class Peer:
    column: str
    version: str
    prepare: Callable[[Workload], Prepared]


def _as_tuple(x: Any) -> tuple[Any, ...]:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _diff_nums(w: Workload) -> tuple[int, ...]:
    return w.argnums if isinstance(w.argnums, tuple) else (w.argnums,)


# ---------------------------------------------------------------------------------------------
# PyTorch

def _torch_namespace(torch: Any) -> SimpleNamespace:
    """The handful of NumPy-shaped functions the workloads use, spelled with PyTorch."""

    def _sum(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return x.sum() if axis is None else torch.sum(x, dim=axis, keepdim=keepdims)

    def _mean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return x.mean() if axis is None else torch.mean(x, dim=axis, keepdim=keepdims)

    def _max(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return x.max() if axis is None else torch.amax(x, dim=axis, keepdim=keepdims)

    def _maximum(x: Any, y: Any) -> Any:
        return torch.clamp_min(x, y) if isinstance(y, float) else torch.maximum(x, y)

    return SimpleNamespace(sin=torch.sin, exp=torch.exp, tanh=torch.tanh, log=torch.log,
                           log1p=torch.log1p, sum=_sum, mean=_mean, max=_max, maximum=_maximum)


def _torch_peer() -> Peer:
    import torch
    import torch.func

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set, or parallel work already started
        pass
    ns = _torch_namespace(torch)
    func_transforms: dict[str, Callable[..., Any]] = {
        "jacrev": torch.func.jacrev, "jacfwd": torch.func.jacfwd, "hessian": torch.func.hessian}

    def to_torch(a: Any) -> Any:
        return torch.from_numpy(a) if isinstance(a, np.ndarray) else torch.tensor(
            a, dtype=torch.float64)

    def to_numpy(r: Any) -> list[np.ndarray]:
        return [t.detach().numpy() for t in _as_tuple(r)]

    def prepare(w: Workload) -> Prepared:
        f = w.function(ns)
        nums = _diff_nums(w)
        args = [to_torch(a) for a in w.args]
        if w.kind == "grad":
            for i in nums:
                args[i] = args[i].clone().requires_grad_(True)
            leaves = [args[i] for i in nums]

            def call() -> Any:
                return torch.autograd.grad(f(*args), leaves)

            return Prepared(call, to_numpy)
        g = func_transforms[w.kind](f, argnums=w.argnums)
        return Prepared(lambda: g(*args), to_numpy)

    return Peer("PyTorch eager", torch.__version__, prepare)


# ---------------------------------------------------------------------------------------------
# JAX

def _jax_peers() -> list[Peer]:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)

    def to_numpy(r: Any) -> list[np.ndarray]:
        return [np.asarray(t) for t in _as_tuple(r)]

    def build(w: Workload) -> tuple[Callable[..., Any], list[Any]]:
        f = w.function(jnp)
        transform = {"grad": jax.grad, "jacrev": jax.jacrev, "jacfwd": jax.jacfwd,
                     "hessian": jax.hessian}[w.kind]
        return transform(f, argnums=w.argnums), [jnp.asarray(a) for a in w.args]

    def prepare_nojit(w: Workload) -> Prepared:
        g, args = build(w)
        return Prepared(lambda: jax.block_until_ready(g(*args)), to_numpy)

    def prepare_jit(w: Workload) -> Prepared:
        g, args = build(w)
        g = jax.jit(g)
        t0 = time.perf_counter()
        jax.block_until_ready(g(*args))
        compile_s = time.perf_counter() - t0
        return Prepared(lambda: jax.block_until_ready(g(*args)), to_numpy, compile_s)

    return [Peer("JAX jit", jax.__version__, prepare_jit),
            Peer("JAX no-jit", jax.__version__, prepare_nojit)]


# ---------------------------------------------------------------------------------------------
# HIPS autograd

def _autograd_peer() -> Peer:
    import autograd
    import autograd.numpy as anp
    from autograd.differential_operators import make_jvp

    ver = metadata.version("autograd")

    def to_numpy(r: Any) -> list[np.ndarray]:
        return [np.asarray(t) for t in _as_tuple(r)]

    def jacfwd_by_jvps(f: Callable[..., Any], argnum: int) -> Callable[..., Any]:
        """autograd has no batched forward mode: one JVP per basis vector."""

        def jac(*args: Any) -> np.ndarray:
            jvp = make_jvp(f, argnum)(*args)
            basis = np.eye(np.size(args[argnum]))
            return np.stack([jvp(e)[1] for e in basis], axis=-1)

        return jac

    def prepare(w: Workload) -> Prepared:
        f = w.function(anp)
        if w.kind == "jacfwd":
            g = jacfwd_by_jvps(f, w.argnums)  # type: ignore[arg-type]
        else:
            transform = {"grad": autograd.grad, "jacrev": autograd.jacobian,
                         "hessian": autograd.hessian}[w.kind]
            g = transform(f, w.argnums)
        args = w.args
        return Prepared(lambda: g(*args), to_numpy)

    return Peer("HIPS autograd", ver, prepare)


PEER_COLUMNS = ["PyTorch eager", "JAX jit", "JAX no-jit", "HIPS autograd"]


def load_peers(notes: list[str]) -> list[Peer]:
    """Every peer that imports; a note for each that does not."""
    peers: list[Peer] = []
    for name, loader in (("PyTorch", _torch_peer), ("JAX", _jax_peers),
                         ("HIPS autograd", _autograd_peer)):
        try:
            got = loader()
        except (ImportError, OSError) as e:  # OSError: a broken shared library
            notes.append(f"{name} skipped: not importable ({e}); "
                         f"install with `pip install -e \".[bench]\"`")
            continue
        peers.extend(got if isinstance(got, list) else [got])
    return peers
