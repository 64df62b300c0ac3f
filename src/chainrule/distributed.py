"""Data-parallel training on a Dask cluster: the dataset lives on the workers as a chunked Dask
array, the parameters are small NumPy arrays (or a `cr.nn` model) on the client.

Each step is one task graph: every chunk's loss and gradient are computed where the chunk is
(`cr.value_and_grad` of the user's loss on that block, any method), weighted by the chunk's share
of the examples, and summed pairwise as a tree; the client receives one value and one gradient,
and the optimiser (`cr.optim`, unchanged) updates the parameters there. Dask is the engine: its
scheduler places the tasks, moves the parameters, and runs a task again on another worker when
the one running it dies, so a step's result does not depend on which workers computed it.

    from dask.distributed import Client, LocalCluster
    import chainrule as cr
    from chainrule import distributed

    client = Client(LocalCluster(n_workers=2, threads_per_worker=1))
    X = da.from_array(x, chunks=(256, 64)).persist()   # on the workers
    y = da.from_array(labels, chunks=256).persist()
    step = distributed.value_and_grad(loss_fn)           # loss_fn(params, xb, yb): a mean
    value, grads = step(model, X, y)                      # the mean over all of X
    opt.step(grads)

The same code runs on a cluster of many machines (`Client("scheduler-address:8786")`) and on
GPUs (chunks that are CuPy arrays). Needs the `distributed` extra: `pip install
"chainrule[distributed]"`.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from . import transforms
from ._core import tree
from ._core.cache import BoundedCache

_INSTALL = ("chainrule.distributed needs Dask's array and distributed packages: "
            "pip install \"chainrule[distributed]\"")


def _dask() -> Any:
    try:
        import dask
        import dask.array  # noqa: F401
    except ImportError as exc:
        raise ImportError(_INSTALL) from exc
    return dask


#: per worker process, the transformed loss of each (loss, method) met: a compiled method
#: (graph) traces and compiles once per signature, not once per task
_TRANSFORMED = BoundedCache(64)


def _scaled_value_and_grad(loss: Callable[..., Any], method: str, params: Any, x: Any, y: Any,
                           weight: float) -> tuple[Any, Any]:
    """On a worker: the block's loss and gradient, times its share of the examples."""
    fn = _TRANSFORMED.get((loss, method))
    if fn is None:
        fn = _TRANSFORMED[(loss, method)] = transforms.value_and_grad(loss, method=method)
    value, grads = fn(params, x, y)  # (a chunk as Dask gives it: NumPy's, or CuPy's on a GPU)
    return weight * value, tree.tree_map(lambda g: weight * g, grads)


def _added(a: tuple[Any, Any], b: tuple[Any, Any]) -> tuple[Any, Any]:
    return a[0] + b[0], tree.tree_map(lambda u, v: u + v, a[1], b[1])


def _tree_sum(parts: list[Any], add: Callable[..., Any]) -> Any:
    """Pairwise sums, level by level (a tree of depth log2 of the number of parts)."""
    while len(parts) > 1:
        parts = [add(parts[k], parts[k + 1]) if k + 1 < len(parts) else parts[k]
                 for k in range(0, len(parts), 2)]
    return parts[0]


def _blocks(X: Any, y: Any, name: str) -> tuple[list[Any], list[Any], tuple[int, ...]]:
    """The row blocks of X and y (delayed), and their lengths; X split along its rows only."""
    if not hasattr(X, "to_delayed") or not hasattr(y, "to_delayed"):
        raise TypeError(f"{name}: X and y must be Dask arrays (dask.array.from_array(x, "
                        f"chunks=...)), not {type(X).__name__} and {type(y).__name__}")
    if any(len(c) != 1 for c in X.chunks[1:]):
        raise ValueError(f"{name}: X must be chunked along its first axis only (chunks "
                         f"{X.chunks}); rechunk it, e.g. X.rechunk({{1: -1}})")
    if y.chunks[0] != X.chunks[0]:
        raise ValueError(f"{name}: y must be chunked along its first axis as X is ({y.chunks[0]} "
                         f"against {X.chunks[0]}); use y.rechunk({{0: X.chunks[0]}})")
    return list(X.to_delayed().ravel()), list(y.to_delayed().ravel()), tuple(X.chunks[0])


def value_and_grad(loss: Callable[..., Any], method: str = "overload") -> Callable[..., Any]:
    """`step(params, X, y) -> (value, grads)`: the mean of `loss` over all of X's rows and its
    gradient with respect to `params`, computed chunk by chunk on the cluster.

    Parameters
    ----------
    loss : callable
        `loss(params, xb, yb)`, the *mean* loss over a block of rows (as `cr.nn.cross_entropy`
        is): each block's value is weighted by its share of the rows, so the result is the mean
        over all of them, whatever the chunks.
    method : str, optional
        The method of `cr.value_and_grad` on each block.

    Returns
    -------
    callable
        ``step(params, X, y, *, blocks=None)``: `X` and `y` Dask arrays chunked alike along
        their first axis; `blocks`, chunk indices to use (a mini-batch of chunks), all by
        default. Computes with the active Dask client (or Dask's default scheduler) and returns
        NumPy values.

    Examples
    --------
    >>> import numpy as np, dask.array as da, chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> from chainrule import distributed
    >>> x = np.arange(8.0).reshape(4, 2); y = np.ones(4)
    >>> loss = lambda w, xb, yb: cnp.mean((xb @ w - yb) ** 2)
    >>> step = distributed.value_and_grad(loss)
    >>> value, g = step(np.zeros(2), da.from_array(x, chunks=(2, 2)), da.from_array(y, chunks=2))
    >>> print(value, g)
    1.0 [-6. -8.]
    """
    dask = _dask()

    @functools.wraps(loss)
    def step(params: Any, X: Any, y: Any, *, blocks: Any = None) -> tuple[Any, Any]:
        xs, ys, sizes = _blocks(X, y, "distributed.value_and_grad")
        chosen = range(len(xs)) if blocks is None else [int(b) for b in blocks]
        total = sum(sizes[k] for k in chosen)
        if total == 0:
            raise ValueError("distributed.value_and_grad: no rows in the blocks chosen")
        shared = dask.delayed(params, pure=True)  # (sent once, read by every block's task)
        work = dask.delayed(_scaled_value_and_grad, pure=True)
        parts = [work(loss, method, shared, xs[k], ys[k], sizes[k] / total) for k in chosen]
        result = _tree_sum(parts, dask.delayed(_added, pure=True))
        (value, grads), = dask.compute(result)
        return value, grads

    return step


def chunk_batches(n_blocks: int, per_batch: int, rng: np.random.Generator
                  ) -> Iterator[list[int]]:
    """One epoch of mini-batches of chunks: the chunk indices shuffled, `per_batch` at a time
    (the last batch may be smaller)."""
    order = rng.permutation(n_blocks)
    for k in range(0, n_blocks, per_batch):
        yield [int(i) for i in order[k:k + per_batch]]
