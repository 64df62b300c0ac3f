"""chainrule.distributed: data-parallel training on a Dask LocalCluster of two worker processes,
against the same training in one process."""
from __future__ import annotations

import os
import sys
import threading
import time

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed_pkg = pytest.importorskip("distributed")

import chainrule as cr  # noqa: E402
from chainrule import demo, distributed  # noqa: E402

# (this module's functions go to the workers by value: they cannot import a test module)
pytest.importorskip("cloudpickle").register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def client():
    cluster = distributed_pkg.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=50)
    c = distributed_pkg.Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


def _data(n: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 64)), rng.integers(0, 10, n)


def test_a_step_is_the_single_process_mean_over_all_rows(client):
    x, y = _data()
    X = da.from_array(x, chunks=(50, 64)).persist()  # (uneven chunks: 50, 50, 50, 50, 40)
    Y = da.from_array(y, chunks=50).persist()
    model = demo.build_model("mlp", 0)
    value, grads = distributed.value_and_grad(demo.loss_fn)(model, X, Y)
    want_value, want = cr.value_and_grad(demo.loss_fn)(model, x, y)
    assert abs(value - want_value) <= 1e-12 * abs(want_value)
    for g, w in zip(cr.tree.leaves(grads), cr.tree.leaves(want)):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-14)


def test_training_matches_the_single_process_run(client):
    x, y = _data(seed=1)
    X = da.from_array(x, chunks=(40, 64)).persist()
    Y = da.from_array(y, chunks=40).persist()
    step = distributed.value_and_grad(demo.loss_fn, method="graph")
    local = cr.value_and_grad(demo.loss_fn, method="graph")
    models = [demo.build_model("mlp", 3), demo.build_model("mlp", 3)]
    opts = [cr.optim.AdamW(m, lr=3e-3, weight_decay=0.05) for m in models]
    rng = np.random.default_rng(2)
    curves: list[list[float]] = [[], []]
    for batch in list(distributed.chunk_batches(len(X.chunks[0]), 2, rng)) * 2:
        value, grads = step(models[0], X, Y, blocks=batch)
        opts[0].step(grads)
        rows = np.concatenate([np.arange(40 * b, 40 * b + 40) for b in batch])
        lv, lg = local(models[1], x[rows], y[rows])
        opts[1].step(lg)
        curves[0].append(float(value))
        curves[1].append(float(lv))
    np.testing.assert_allclose(curves[0], curves[1], rtol=1e-10)
    assert curves[0][-1] < curves[0][0]


def test_a_worker_that_dies_mid_step_changes_nothing(client):
    x, y = _data(n=2400, seed=4)
    X = da.from_array(x, chunks=(20, 64)).persist()  # (120 blocks: a step of many tasks)
    Y = da.from_array(y, chunks=20).persist()
    model = demo.build_model("mlp", 5)
    want_value, want = cr.value_and_grad(demo.loss_fn)(model, x, y)
    workers = list(client.scheduler_info()["workers"])
    step = distributed.value_and_grad(demo.loss_fn)
    # one worker process exits a moment after the step starts (holding its blocks and its
    # tasks): the scheduler runs them again on the other, from the data it can still reach
    client.run(_exit_after, 0.2, workers=workers[:1])
    start = time.perf_counter()
    value, grads = step(model, X, Y)
    elapsed = time.perf_counter() - start
    assert abs(value - want_value) <= 1e-12 * abs(want_value)
    for g, w in zip(cr.tree.leaves(grads), cr.tree.leaves(want)):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-14)
    client.wait_for_workers(2, timeout=60)  # (its nanny starts another)
    assert workers[0] not in client.scheduler_info()["workers"]  # (it did die...)
    assert elapsed > 0.2  # (... while the step ran)


def _exit_after(seconds: float) -> None:
    threading.Timer(seconds, os._exit, (1,)).start()


def test_without_dask_arrays_the_error_says_what_to_pass():
    step = distributed.value_and_grad(demo.loss_fn)
    with pytest.raises(TypeError, match="Dask arrays"):
        step(demo.build_model("mlp", 0), *_data(20))


def test_without_dask_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)  # (import dask then raises ImportError)
    with pytest.raises(ImportError, match=r"chainrule\[distributed\]"):
        distributed.value_and_grad(demo.loss_fn)
