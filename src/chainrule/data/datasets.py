"""Small data sets that need no download: `digits`, the 8×8 handwritten digits scikit-learn ships.

The file is read straight from scikit-learn's installed package (`sklearn/datasets/data/
digits.csv.gz`), without importing scikit-learn, which takes a second or two; when the file is not
where it is expected, `sklearn.datasets.load_digits` is the fallback.
"""
from __future__ import annotations

import functools
import importlib.util
import os

import numpy as np

__all__ = ["digits"]

_N_SAMPLES, _N_PIXELS, _MAX_INTENSITY = 1797, 64, 16
_INSTALL = ("cr.data.digits() reads the handwritten digits that scikit-learn ships; install it "
            "with: pip install scikit-learn")


def _sklearn_dirs() -> list[str]:
    """The directories of the installed `sklearn` package (found without importing it)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None:
        raise ImportError(_INSTALL)
    return list(spec.submodule_search_locations or [])


def _read_bundled() -> tuple[np.ndarray, np.ndarray] | None:
    """Pixels and labels parsed from scikit-learn's digits.csv.gz (one sample a row: 64 pixel
    counts 0..16, then the label), or None when the file is missing or not that layout."""
    for d in _sklearn_dirs():
        path = os.path.join(d, "datasets", "data", "digits.csv.gz")
        if not os.path.isfile(path):
            continue
        try:
            table = np.loadtxt(path, delimiter=",", dtype=np.float64)
        except (OSError, ValueError):
            return None
        if table.shape != (_N_SAMPLES, _N_PIXELS + 1):
            return None
        pixels, labels = table[:, :-1], table[:, -1]
        if pixels.min() < 0 or pixels.max() > _MAX_INTENSITY or np.any(labels % 1):
            return None
        return pixels, labels.astype(np.int64)
    return None


def _load_with_sklearn() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ImportError(_INSTALL) from exc
    bunch = load_digits()
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.int64)


@functools.lru_cache(maxsize=1)
def _raw_digits() -> tuple[np.ndarray, np.ndarray]:
    """The pixel counts (0..16) and labels, read once per process (read-only: callers copy)."""
    loaded = _read_bundled()
    pixels, labels = loaded if loaded is not None else _load_with_sklearn()
    pixels.flags.writeable = False
    labels.flags.writeable = False
    return pixels, labels


def digits(images: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 8×8 handwritten digits of the UCI optical-recognition set, as scikit-learn
    ships them: `(X, y)`.

    Fresh arrays on every call. Needs scikit-learn installed (it holds the file); nothing is
    downloaded.

    Parameters
    ----------
    images : bool, optional
        Return `X` with shape `(1797, 1, 8, 8)` (samples, channels, rows, columns), for
        convolutional networks, instead of `(1797, 64)`.

    Returns
    -------
    X : ndarray
        float64, the pixel intensities (counts 0..16 in the original) divided by 16, so in
        [0, 1].
    y : ndarray
        int64, the digit 0..9 (about 180 of each).

    Raises
    ------
    ImportError
        Without scikit-learn.

    Examples
    --------
    >>> import chainrule as cr
    >>> X, y = cr.data.digits()
    >>> X.shape, X.dtype, y.shape, y.dtype, float(X.max())
    ((1797, 64), dtype('float64'), (1797,), dtype('int64'), 1.0)
    """
    pixels, labels = _raw_digits()
    X = pixels / float(_MAX_INTENSITY)  # a power of two: exact, equal to sklearn's data / 16
    if images:
        X = X.reshape(-1, 1, 8, 8)
    return X, labels.copy()
