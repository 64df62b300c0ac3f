"""Batching and splitting arrays: `DataLoader` and `train_test_split`.

A data set here is plain NumPy arrays that share their first dimension (the samples), such as
`(X, y)`; there is no Dataset class to subclass.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

__all__ = ["DataLoader", "train_test_split"]


def _check_batch_size(batch_size: Any) -> int:
    if isinstance(batch_size, bool) or not hasattr(batch_size, "__index__"):
        raise TypeError(f"DataLoader: batch_size must be an integer, got {batch_size!r}")
    b = int(batch_size)
    if b < 1:
        raise ValueError(f"DataLoader: batch_size={b} is invalid; it must be >= 1")
    return b


def _same_length(who: str, names: Sequence[str], arrays: Sequence[np.ndarray]) -> int:
    """The common number of samples (first dimension) of `arrays`, or a ValueError listing them."""
    for name, a in zip(names, arrays):
        if a.ndim == 0:
            raise ValueError(f"{who}: {name} is a scalar; every array needs a first dimension "
                             f"that indexes the samples")
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) > 1:
        listed = ", ".join(f"{name}: {n}" for name, n in zip(names, lengths))
        raise ValueError(f"{who}: the arrays must have the same number of samples (first "
                         f"dimension), got {listed}")
    return lengths[0]


class DataLoader:
    """Iterate over a data set in mini-batches.

    Each batch has the structure of `dataset`: a tuple of arrays for a tuple (or list), a dict
    for a dict, an array for an array. Without shuffling the batches are views of the arrays
    (slices); with shuffling they are copies (gathered with the permutation). `len()` is the
    number of batches per pass.

    Parameters
    ----------
    dataset : Any
        A tuple (or list) of arrays with the same first dimension, e.g. `(X, y)`; a dict of such
        arrays; or a single array.
    batch_size : int, optional
        Samples per batch; the last batch is smaller when it does not divide the number of
        samples (unless `drop_last`).
    shuffle : bool, optional
        Visit the samples in a new random order on every pass (every `iter()`).
    seed : int or numpy.random.Generator, optional
        Seeds `np.random.default_rng`, so the sequence of orders over the epochs is
        reproducible; None draws fresh entropy. A `np.random.Generator` is used as is.
    drop_last : bool, optional
        Drop the last, incomplete batch.

    Raises
    ------
    TypeError
        If `batch_size` is not an integer.
    ValueError
        If `batch_size` < 1, the data set is empty, or its arrays differ in length.

    Examples
    --------
    >>> import numpy as np
    >>> from chainrule.data import DataLoader
    >>> X, y = np.arange(10.0).reshape(5, 2), np.arange(5)
    >>> loader = DataLoader((X, y), batch_size=2)
    >>> len(loader), [yb.tolist() for _, yb in loader]
    (3, [[0, 1], [2, 3], [4]])
    >>> len(DataLoader(X, batch_size=2, drop_last=True))
    2
    """

    def __init__(self, dataset: Any, batch_size: int = 32, shuffle: bool = False,
                 seed: int | np.random.Generator | None = None, drop_last: bool = False) -> None:
        self._keys: list[Any] | None = None
        self._single = False
        if isinstance(dataset, (tuple, list)):
            if not dataset:
                raise ValueError("DataLoader: dataset is empty; pass an array or a tuple of "
                                 "arrays such as (X, y)")
            arrays = [np.asarray(a) for a in dataset]
            names = [f"dataset[{i}] (shape {a.shape})" for i, a in enumerate(arrays)]
        elif isinstance(dataset, dict):
            if not dataset:
                raise ValueError("DataLoader: dataset is an empty dict")
            self._keys = list(dataset)
            arrays = [np.asarray(dataset[k]) for k in self._keys]
            names = [f"dataset[{k!r}] (shape {a.shape})" for k, a in zip(self._keys, arrays)]
        else:
            self._single = True
            arrays = [np.asarray(dataset)]
            names = [f"dataset (shape {arrays[0].shape})"]
        self.arrays: tuple[np.ndarray, ...] = tuple(arrays)
        self.num_samples = _same_length("DataLoader", names, arrays)
        self.batch_size = _check_batch_size(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        """The number of batches in one pass."""
        if self.drop_last:
            return self.num_samples // self.batch_size
        return math.ceil(self.num_samples / self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        # the order is drawn here, not when the first batch is asked for, so that each iter()
        # is one epoch of the seeded sequence, however the iterators are consumed
        order = self._rng.permutation(self.num_samples) if self.shuffle else None
        return self._batches(order)

    def _batches(self, order: np.ndarray | None) -> Iterator[Any]:
        n, b = self.num_samples, self.batch_size
        stop = n - n % b if self.drop_last else n
        for start in range(0, stop, b):
            if order is None:
                parts = [a[start:start + b] for a in self.arrays]
            else:
                idx = order[start:start + b]
                parts = [a[idx] for a in self.arrays]
            if self._single:
                yield parts[0]
            elif self._keys is not None:
                yield dict(zip(self._keys, parts))
            else:
                yield tuple(parts)

    def __repr__(self) -> str:
        return (f"DataLoader(num_samples={self.num_samples}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, seed={self.seed!r}, drop_last={self.drop_last})")


def _test_count(test_size: Any, n: int) -> int:
    """The number of test samples for `test_size` (a fraction, or a count), as scikit-learn
    computes it: ceil(fraction * n)."""
    if isinstance(test_size, bool):
        raise TypeError(f"train_test_split: test_size must be a fraction or a count, got "
                        f"{test_size!r}")
    if isinstance(test_size, (int, np.integer)):
        n_test = int(test_size)
        if not 1 <= n_test <= n - 1:
            raise ValueError(f"train_test_split: test_size={n_test} samples is invalid for "
                             f"{n} samples; it must be between 1 and {n - 1}")
        return n_test
    try:
        frac = float(test_size)
    except (TypeError, ValueError):
        raise TypeError(f"train_test_split: test_size must be a fraction or a count, got "
                        f"{test_size!r}") from None
    if not 0.0 < frac < 1.0:
        raise ValueError(f"train_test_split: test_size={test_size!r} is invalid; a fraction "
                         f"must lie strictly between 0 and 1 (or pass a number of samples)")
    n_test = math.ceil(frac * n)
    if n_test >= n:
        raise ValueError(f"train_test_split: test_size={test_size!r} of {n} samples leaves no "
                         f"training samples; use a smaller test_size")
    return n_test


def _stratified(labels: np.ndarray, n_test: int, rng: np.random.Generator) -> tuple[np.ndarray,
                                                                                     np.ndarray]:
    """Train and test indices with each class split in (nearly) the proportion n_test / n."""
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    n = len(labels)
    rare = classes[counts < 2]
    if len(rare):
        raise ValueError(f"train_test_split: class {rare[0].item()!r} of stratify has a single "
                         f"member, so it cannot be in both parts; remove it or do not stratify")
    if n_test < len(classes) or n - n_test < len(classes):
        raise ValueError(f"train_test_split: stratifying {len(classes)} classes needs at least "
                         f"that many samples in each part, got {n - n_test} train and {n_test} "
                         f"test; change test_size")
    # each class's share of the test set, rounded down, and the samples still owed handed to
    # the classes with the largest remainders, so the part sizes are exact
    exact = counts * (n_test / n)
    per_class = np.floor(exact).astype(np.int64)
    owed = n_test - int(per_class.sum())
    per_class[np.argsort(-(exact - per_class), kind="stable")[:owed]] += 1
    train, test = [], []
    for c, k in enumerate(per_class):
        members = rng.permutation(np.flatnonzero(inverse == c))
        test.append(members[:k])
        train.append(members[k:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def train_test_split(*arrays: Any, test_size: float | int = 0.25,
                     seed: int | np.random.Generator | None = None, stratify: Any = None,
                     shuffle: bool = True) -> tuple[np.ndarray, ...]:
    """Split arrays (same first dimension) into random train and test parts.

    Returns `(a_train, a_test, b_train, b_test, ...)` in scikit-learn's order.

    Parameters
    ----------
    *arrays : array_like
        The arrays, sharing their first dimension.
    test_size : float or int, optional
        The fraction of samples in the test part (rounded up, as scikit-learn does), or their
        number when an int.
    seed : int or numpy.random.Generator, optional
        Seeds `np.random.default_rng` (None: fresh entropy).
    stratify : array_like, optional
        Class labels, one per sample (usually `y`): each class is split in the same proportion,
        so both parts keep the class balance of the whole.
    shuffle : bool, optional
        False takes the last samples as the test part, in order (no stratify then).

    Returns
    -------
    list
        The train and test part of each array, in turn.

    Raises
    ------
    TypeError
        If `test_size` is neither a fraction nor a count.
    ValueError
        If `test_size` leaves an empty part, or the arrays differ in length.

    Examples
    --------
    >>> import numpy as np
    >>> from chainrule.data import train_test_split
    >>> X, y = np.arange(20.0).reshape(10, 2), np.arange(10) % 2
    >>> X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, seed=0, stratify=y)
    >>> X_tr.shape, X_te.shape, sorted(y_te.tolist())
    ((8, 2), (2, 2), [0, 1])
    """
    if not arrays:
        raise TypeError("train_test_split: pass at least one array, e.g. train_test_split(X, y)")
    arrs = [np.asarray(a) for a in arrays]
    names = [f"array {i} (shape {a.shape})" for i, a in enumerate(arrs)]
    n = _same_length("train_test_split", names, arrs)
    n_test = _test_count(test_size, n)
    if stratify is not None:
        labels = np.asarray(stratify)
        if labels.ndim != 1 or len(labels) != n:
            raise ValueError(f"train_test_split: stratify must hold one label per sample "
                             f"(shape ({n},)), got shape {labels.shape}")
        if not shuffle:
            raise ValueError("train_test_split: stratify needs shuffle=True")
        train, test = _stratified(labels, n_test, np.random.default_rng(seed))
    elif shuffle:
        perm = np.random.default_rng(seed).permutation(n)
        test, train = perm[:n_test], perm[n_test:]
    else:
        train, test = np.arange(n - n_test), np.arange(n - n_test, n)
    out: list[np.ndarray] = []
    for a in arrs:
        out += [a[train], a[test]]
    return tuple(out)
