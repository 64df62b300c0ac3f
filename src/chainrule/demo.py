"""`chainrule demo`: train a network on the handwritten digits, end to end, then train one epoch
with each reverse-mode method from the same seed and compare.

The data are the 8×8 digits that scikit-learn ships (1,797 images, no download), split 75/25
with the classes balanced. The model is a `cr.nn` network (an MLP, or with `--model cnn` a small
convolutional one), trained with AdamW on mini-batches of 32; gradients come from
`cr.value_and_grad(loss, method=...)` with the model itself as the differentiated pytree.

The comparison trains the same model (the MLP, or the CNN with `--model cnn`) for one epoch, from
the same initial weights and the same batches, with plain SGD, by `overload` (tape), `graph`
(traced and compiled) and `source` (generated Python); all three differentiate the very same
`loss_fn`, and the three runs must produce the same losses to 1e-10.

The demo needs scikit-learn (the data) and matplotlib (the picture): `run` checks for them first
and, when one is missing, says in one line what to install.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import chainrule as cr

from . import distributed

METHODS = ("overload", "graph", "source")
HIDDEN = 256  # the MLP's hidden units


@dataclass
class History:
    """Per epoch: mean training loss, training and test accuracy; seconds per step."""

    loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    step_seconds: list[float] = field(default_factory=list)


def build_model(kind: str, seed: int) -> Any:
    nn = cr.nn
    rng = np.random.default_rng(seed)
    if kind == "mlp":
        return nn.Sequential(nn.Linear(64, HIDDEN, rng=rng), nn.ReLU(),
                             nn.Linear(HIDDEN, 10, rng=rng))
    if kind == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),   # 16×4×4
            nn.Conv2d(16, 32, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),  # 32×2×2
            nn.Flatten(), nn.Linear(128, 10, rng=rng))
    raise ValueError(f"--model must be 'mlp' or 'cnn', not {kind!r}")


def loss_fn(model: Any, x: Any, y: Any) -> Any:
    return cr.nn.cross_entropy(model(x), y)


def accuracy(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    logits = np.asarray(model(x))
    model.train()
    return float(np.mean(np.argmax(logits, axis=1) == y))


def _progress(iterable: Iterable[Any], total: int, desc: str, quiet: bool) -> Iterable[Any]:
    if quiet:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:  # (a plain loop: the epoch lines still print)
        return iterable
    # (disable=None: no bar when the output is not a terminal, e.g. a log file)
    return tqdm(iterable, total=total, desc=desc, leave=False, ncols=80, disable=None)


#: per model: (epochs, learning rate, weight decay) of AdamW
SETTINGS = {"mlp": (30, 3e-3, 0.05), "cnn": (40, 1e-3, 0.0)}


def train(model: Any, data: tuple[np.ndarray, ...], epochs: int, method: str, seed: int,
          lr: float, weight_decay: float, quiet: bool, say: Callable[[str], None]) -> History:
    x_tr, x_te, y_tr, y_te = data
    opt = cr.optim.AdamW(model, lr=lr, weight_decay=weight_decay)
    loader = cr.data.DataLoader((x_tr, y_tr), batch_size=32, shuffle=True, seed=seed)
    value_and_grad = cr.value_and_grad(loss_fn, method=method)
    hist = History()
    for epoch in range(1, epochs + 1):
        losses, seconds = [], 0.0
        for xb, yb in _progress(loader, len(loader), f"epoch {epoch}", quiet):
            t0 = time.perf_counter()
            value, grads = value_and_grad(model, xb, yb)
            opt.step(grads)
            seconds += time.perf_counter() - t0
            losses.append(float(value))
        hist.loss.append(float(np.mean(losses)))
        hist.train_acc.append(accuracy(model, x_tr, y_tr))
        hist.test_acc.append(accuracy(model, x_te, y_te))
        hist.step_seconds.append(seconds / len(losses))
        say(f"epoch {epoch:3d}  loss {hist.loss[-1]:.4f}  train acc {hist.train_acc[-1]:.4f}  "
            f"test acc {hist.test_acc[-1]:.4f}  ({hist.step_seconds[-1] * 1e3:.2f} ms/step)")
    return hist


# ---------------------------------------------------------------------------------------------
# the same epoch by every reverse-mode method


def one_epoch(method: str, kind: str, seed: int, batches: list[tuple[np.ndarray, ...]],
              lr: float) -> tuple[list[float], float]:
    """Losses per step and seconds per step of one epoch of plain SGD on a fresh `kind` model
    (the same initial weights for every method: `seed`), its gradients by `method` (the first
    step, which traces or generates code, is timed apart)."""
    model = build_model(kind, seed)
    opt = cr.optim.SGD(model, lr=lr)
    vg = cr.value_and_grad(loss_fn, method=method)
    losses, seconds = [], []
    for xb, yb in batches:
        t0 = time.perf_counter()
        value, grads = vg(model, xb, yb)
        opt.step(grads)
        seconds.append(time.perf_counter() - t0)
        losses.append(float(value))
    return losses, float(np.median(seconds[1:])) if len(seconds) > 1 else seconds[0]


def compare_methods(kind: str, data: tuple[np.ndarray, ...], seed: int,
                    say: Callable[[str], None]) -> dict[str, tuple[list[float], float]]:
    """One epoch of the `kind` model by each reverse-mode method, from the same weights and the
    same batches; prints the table and returns each method's (losses, seconds per step)."""
    x_tr, _, y_tr, _ = data
    batches = list(cr.data.DataLoader((x_tr, y_tr), batch_size=32, shuffle=True, seed=seed,
                                      drop_last=True))
    results = {m: one_epoch(m, kind, seed, batches, lr=0.1) for m in METHODS}
    ref = results["overload"][0]
    say("")
    say(f"one epoch of the {kind} ({len(batches)} steps of SGD) by each reverse-mode method, "
        f"same seed:")
    say(f"  {'method':<10} {'first loss':>14} {'last loss':>14} {'max |Δ| vs overload':>20} "
        f"{'ms/step':>8}")
    for m, (losses, sec) in results.items():
        diff = max(abs(a - b) for a, b in zip(losses, ref))
        say(f"  {m:<10} {losses[0]:>14.10f} {losses[-1]:>14.10f} {diff:>20.1e} "
            f"{sec * 1e3:>8.3f}")
    return results


def save_curves(hist: History, path: str, kind: str, method: str) -> str:
    """The loss and accuracy curves as a PNG at `path`, titled with the model and the method
    of the training gradients. Needs matplotlib (`run` checks for it first)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = np.arange(1, len(hist.loss) + 1)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.8))
    a1.plot(epochs, hist.loss, marker="o")
    a1.set(xlabel="epoch", ylabel="training loss (cross-entropy)", yscale="log",
           title="loss")
    a2.plot(epochs, hist.train_acc, marker="o", label="train")
    a2.plot(epochs, hist.test_acc, marker="s", label="test")
    a2.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    a2.legend()
    name = {"mlp": "MLP", "cnn": "CNN"}[kind]
    fig.suptitle(f"chainrule demo: {name} on the 8×8 digits, gradients by method={method!r} "
                 f"(test accuracy {hist.test_acc[-1]:.4f})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


#: what the demo imports beyond NumPy: module -> (the pip distribution, what it is for); tqdm
#: (progress bars) is optional
NEEDS = {"sklearn": ("scikit-learn", "the digits data"), "matplotlib": ("matplotlib", "the curves")}
#: the one line that says how to get them
INSTALL = 'pip install "chainrule[demo]" (in a source checkout: pip install -e ".[demo]")'


def missing_dependencies() -> list[str]:
    """The distributions in NEEDS that cannot be imported, each with what it is for."""
    return [f"{dist} ({use})" for module, (dist, use) in NEEDS.items() if not _importable(module)]


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing; a module without a spec
        return module in sys.modules and sys.modules[module] is not None


def _one_blas_thread() -> Any:
    """A context limiting BLAS to one thread: these matrices are small, and on a busy machine
    threads that spin waiting for each other cost far more than they save."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="chainrule demo", description=__doc__.split("\n\n")[0])
    add_arguments(ap)
    return run(ap.parse_args(argv))


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--model", choices=("mlp", "cnn"), default="mlp",
                    help="the network: a multilayer perceptron or a small convolutional one "
                         "(default: %(default)s)")
    ap.add_argument("--epochs", type=int, default=None, metavar="N",
                    help="training epochs (default: 30 for mlp, 40 for cnn)")
    ap.add_argument("--method", choices=METHODS, default="overload",
                    help="how the training gradients are computed (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=0, metavar="N",
                    help="seed of the weights, the split and the batches (default: %(default)s)")
    ap.add_argument("--out", default="chainrule-demo", metavar="DIR",
                    help="directory for the curves' PNG, created if missing (default: "
                         "%(default)s)")
    ap.add_argument("--quiet", action="store_true",
                    help="no progress bars or epoch lines (default: show them)")
    ap.add_argument("--workers", type=int, default=None, metavar="N",
                    help="train data-parallel on a local Dask cluster of N worker processes "
                         "(chainrule.distributed; needs the [distributed] extra) and compare "
                         "with the same training in one process (default: one process, no "
                         "cluster)")


def run(args: argparse.Namespace) -> int:
    missing = missing_dependencies()
    if missing:
        print(f"chainrule demo: needs {' and '.join(missing)}, not installed; install with: "
              f"{INSTALL}", file=sys.stderr)
        return 1
    with _one_blas_thread():
        try:
            return _run(args)
        except ImportError as exc:  # (scikit-learn's digits missing: say what to install)
            print(f"chainrule demo: {exc}")
            return 1


def _run(args: argparse.Namespace) -> int:
    def say(text: str) -> None:
        if not args.quiet:
            print(text, flush=True)

    start = time.perf_counter()
    default_epochs, lr, weight_decay = SETTINGS[args.model]
    epochs = args.epochs if args.epochs is not None else default_epochs
    if epochs < 1:
        raise SystemExit("chainrule demo: --epochs must be at least 1")
    x, y = cr.data.digits(images=args.model == "cnn")
    data = cr.data.train_test_split(x, y, test_size=0.25, seed=args.seed, stratify=y)
    if args.workers is not None:
        return run_workers(args, data, epochs, lr, weight_decay, say, start)
    model = build_model(args.model, args.seed)
    say(f"chainrule demo: {args.model} on the 8×8 digits ({len(data[0])} train, "
        f"{len(data[1])} test images), {model.num_parameters():,} parameters, AdamW, "
        f"method={args.method!r}")
    hist = train(model, data, epochs, args.method, args.seed, lr, weight_decay,
                 quiet=args.quiet, say=say)
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as err:
        print(f"chainrule demo: --out {args.out}: {err.strerror or err}", file=sys.stderr)
        return 2
    png = save_curves(hist, os.path.join(args.out, f"digits-{args.model}.png"), args.model,
                      args.method)
    results = compare_methods(args.model, data, args.seed, say)
    ref = results["overload"][0]
    agree = all(max(abs(a - b) for a, b in zip(r[0], ref)) <= 1e-10 for r in results.values())
    print(f"final test accuracy: {hist.test_acc[-1]:.4f} ({args.model}, {epochs} epochs, "
          f"{np.mean(hist.step_seconds) * 1e3:.2f} ms per training step)")
    print(f"curves saved to {png}")
    print(f"methods agree to 1e-10: {'yes' if agree else 'NO'}; total time "
          f"{time.perf_counter() - start:.1f} s")
    return 0 if agree else 1


# ---------------------------------------------------------------------------------------------
# --workers N: data-parallel on a local Dask cluster

#: rows per chunk of the training set on the workers, and chunks per step
CHUNK, CHUNKS_PER_STEP = 32, 4


def run_workers(args: argparse.Namespace, data: tuple[np.ndarray, ...], epochs: int, lr: float,
                weight_decay: float, say: Callable[[str], None], start: float) -> int:
    """Train with `chainrule.distributed` on a LocalCluster of `--workers` processes (the
    training set persisted on them in chunks of CHUNK rows, each step CHUNKS_PER_STEP chunks),
    and the same steps in this process; the two loss curves must agree to 1e-10."""
    if args.workers < 1:
        raise SystemExit("chainrule demo: --workers must be at least 1")
    try:
        import dask.array as da
        from dask.distributed import Client, LocalCluster
    except ImportError:
        print("chainrule demo --workers: needs Dask; install with: pip install "
              "\"chainrule[distributed]\"", file=sys.stderr)
        return 1
    x_tr, x_te, y_tr, y_te = data
    n = len(x_tr) - len(x_tr) % CHUNK  # (whole chunks: every step's blocks are full)
    x_tr, y_tr = x_tr[:n], y_tr[:n]
    models = [build_model(args.model, args.seed) for _ in range(2)]
    opts = [cr.optim.AdamW(m, lr=lr, weight_decay=weight_decay) for m in models]
    local = cr.value_and_grad(loss_fn, method=args.method)
    step = distributed.value_and_grad(loss_fn, method=args.method)
    rng = np.random.default_rng(args.seed)
    worst = 0.0
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      silence_logs=40) as cluster, Client(cluster) as client:
        say(f"chainrule demo --workers {args.workers}: {args.model}, {n} training rows in "
            f"chunks of {CHUNK} on the workers, {CHUNKS_PER_STEP} chunks a step; dashboard "
            f"{client.dashboard_link}")
        X = da.from_array(x_tr, chunks=(CHUNK,) + x_tr.shape[1:]).persist()
        Y = da.from_array(y_tr, chunks=CHUNK).persist()
        for epoch in range(1, epochs + 1):
            losses: list[list[float]] = [[], []]
            for blocks in distributed.chunk_batches(n // CHUNK, CHUNKS_PER_STEP, rng):
                value, grads = step(models[0], X, Y, blocks=blocks)
                opts[0].step(grads)
                rows = np.concatenate([np.arange(CHUNK * b, CHUNK * (b + 1)) for b in blocks])
                lv, lg = local(models[1], x_tr[rows], y_tr[rows])
                opts[1].step(lg)
                losses[0].append(float(value))
                losses[1].append(float(lv))
            worst = max(worst, max(abs(a - b) for a, b in zip(*losses)))
            say(f"epoch {epoch:3d}  loss {np.mean(losses[0]):.4f} (one process: "
                f"{np.mean(losses[1]):.4f})  test acc {accuracy(models[0], x_te, y_te):.4f}")
    agree = worst <= 1e-10
    print(f"data-parallel on {args.workers} workers: final test accuracy "
          f"{accuracy(models[0], x_te, y_te):.4f}; the loss curve matches the single-process "
          f"run to 1e-10: {'yes' if agree else 'NO'} (largest difference {worst:.1e}); total "
          f"time {time.perf_counter() - start:.1f} s")
    return 0 if agree else 1
