"""cr.data: DataLoader batching and seeded shuffling, train_test_split (stratified too), and the
digits data set read from scikit-learn's installed files."""
import doctest

import numpy as np
import pytest

import chainrule.data as data
from chainrule.data import datasets as datasets_module
from chainrule.data import loader as loader_module

# -- DataLoader --------------------------------------------------------------------------------


def test_batches_in_order_are_views():
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10)
    loader = data.DataLoader((X, y), batch_size=4)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [len(yb) for _, yb in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([xb for xb, _ in batches]), X)
    assert all(isinstance(b, tuple) for b in batches)
    assert np.shares_memory(batches[0][0], X)


def test_drop_last_and_exact_division():
    X = np.zeros((10, 3))
    assert len(data.DataLoader(X, batch_size=4, drop_last=True)) == 2
    assert [len(b) for b in data.DataLoader(X, batch_size=4, drop_last=True)] == [4, 4]
    assert len(data.DataLoader(X, batch_size=5)) == len(data.DataLoader(X, 5, drop_last=True)) == 2
    assert len(data.DataLoader(X, batch_size=32)) == 1
    assert len(data.DataLoader(X, batch_size=32, drop_last=True)) == 0
    assert list(data.DataLoader(X, batch_size=32, drop_last=True)) == []


def test_single_array_and_dict_datasets():
    X = np.arange(6.0)
    batches = list(data.DataLoader(X, batch_size=4))
    assert isinstance(batches[0], np.ndarray) and batches[1].tolist() == [4.0, 5.0]
    d = {"x": np.arange(6.0), "y": np.arange(6) * 10}
    b = next(iter(data.DataLoader(d, batch_size=2, shuffle=True, seed=1)))
    assert set(b) == {"x", "y"}
    np.testing.assert_array_equal(b["y"], b["x"] * 10)  # rows stay together


def test_shuffle_is_seeded_reshuffles_each_epoch_and_keeps_rows_together():
    X, y = np.arange(100.0), np.arange(100) * 2
    a = data.DataLoader((X, y), batch_size=16, shuffle=True, seed=3)
    b = data.DataLoader((X, y), batch_size=16, shuffle=True, seed=3)
    epochs_a = [np.concatenate([xb for xb, _ in a]) for _ in range(3)]
    epochs_b = [np.concatenate([xb for xb, _ in b]) for _ in range(3)]
    for ea, eb in zip(epochs_a, epochs_b):
        np.testing.assert_array_equal(ea, eb)  # reproducible for a seed
        np.testing.assert_array_equal(np.sort(ea), X)  # a permutation: every sample once
    assert not np.array_equal(epochs_a[0], epochs_a[1])  # a new order each epoch
    assert not np.array_equal(epochs_a[0], X)
    for xb, yb in a:
        np.testing.assert_array_equal(yb, xb * 2)
    c = data.DataLoader((X, y), batch_size=16, shuffle=True, seed=4)
    assert not np.array_equal(np.concatenate([xb for xb, _ in c]), epochs_a[0])


def test_order_is_drawn_at_iter():
    X = np.arange(50.0)
    a = data.DataLoader(X, batch_size=50, shuffle=True, seed=0)
    b = data.DataLoader(X, batch_size=50, shuffle=True, seed=0)
    it1, it2 = iter(a), iter(a)  # two epochs, consumed in the opposite order
    second, first = next(it2), next(it1)
    np.testing.assert_array_equal(first, next(iter(b)))
    np.testing.assert_array_equal(second, next(iter(b)))


def test_loader_errors():
    with pytest.raises(ValueError, match=r"same number of samples.*dataset\[0\].*: 5.*: 4"):
        data.DataLoader((np.zeros(5), np.zeros(4)))
    with pytest.raises(ValueError, match="batch_size=0 is invalid"):
        data.DataLoader(np.zeros(5), batch_size=0)
    with pytest.raises(TypeError, match="batch_size must be an integer"):
        data.DataLoader(np.zeros(5), batch_size=2.5)
    with pytest.raises(ValueError, match="empty"):
        data.DataLoader(())
    with pytest.raises(ValueError, match="scalar"):
        data.DataLoader((np.zeros(3), np.float64(1.0)))


# -- train_test_split --------------------------------------------------------------------------


def test_split_sizes_order_and_reproducibility():
    X, y = np.arange(40.0).reshape(20, 2), np.arange(20)
    X_tr, X_te, y_tr, y_te = data.train_test_split(X, y, seed=0)
    assert X_tr.shape == (15, 2) and X_te.shape == (5, 2)  # ceil(0.25 * 20) = 5
    np.testing.assert_array_equal(X_tr[:, 0] / 2, y_tr)  # rows stay together
    np.testing.assert_array_equal(X_te[:, 0] / 2, y_te)
    assert sorted(np.concatenate([y_tr, y_te]).tolist()) == list(range(20))
    again = data.train_test_split(X, y, seed=0)
    np.testing.assert_array_equal(again[3], y_te)
    assert len(data.train_test_split(y, test_size=0.33)[1]) == 7  # rounded up, as sklearn
    assert len(data.train_test_split(y, test_size=3)[1]) == 3
    tr, te = data.train_test_split(y, test_size=4, shuffle=False)
    assert te.tolist() == [16, 17, 18, 19] and tr.tolist() == list(range(16))


def test_stratified_split_keeps_class_proportions():
    y = np.repeat([0, 1, 2], [60, 30, 10])
    X = np.arange(100.0)
    X_tr, X_te, y_tr, y_te = data.train_test_split(X, y, test_size=0.2, seed=1, stratify=y)
    assert np.bincount(y_te).tolist() == [12, 6, 2]
    assert np.bincount(y_tr).tolist() == [48, 24, 8]
    np.testing.assert_array_equal(y[X_te.astype(int)], y_te)
    # uneven shares are rounded so the test part has exactly the asked size
    y = np.repeat([0, 1, 2], [7, 7, 7])
    _, y_te = data.train_test_split(y, test_size=0.25, seed=0, stratify=y)
    assert len(y_te) == 6 and sorted(np.bincount(y_te).tolist()) == [2, 2, 2]
    _, y_te = data.train_test_split(y, test_size=8, seed=0, stratify=y)
    assert sorted(np.bincount(y_te).tolist()) == [2, 3, 3]


def test_stratified_is_closer_to_the_proportions_than_random():
    y = np.repeat([0, 1], [90, 10])
    for seed in range(10):
        _, y_te = data.train_test_split(y, test_size=0.3, seed=seed, stratify=y)
        assert np.bincount(y_te).tolist() == [27, 3]


def test_split_errors():
    with pytest.raises(ValueError, match=r"same number of samples.*array 0.*: 4.*array 1.*: 3"):
        data.train_test_split(np.zeros(4), np.zeros(3))
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        data.train_test_split(np.zeros(4), test_size=1.5)
    with pytest.raises(ValueError, match="between 1 and 3"):
        data.train_test_split(np.zeros(4), test_size=4)
    with pytest.raises(ValueError, match="leaves no training samples"):
        data.train_test_split(np.zeros(4), test_size=0.9)
    with pytest.raises(TypeError, match="at least one array"):
        data.train_test_split()
    with pytest.raises(ValueError, match="class 2 of stratify has a single member"):
        data.train_test_split(np.zeros(5), stratify=[0, 0, 1, 1, 2])
    with pytest.raises(ValueError, match=r"one label per sample \(shape \(5,\)\)"):
        data.train_test_split(np.zeros(5), stratify=[0, 1])
    with pytest.raises(ValueError, match="needs shuffle=True"):
        data.train_test_split(np.zeros(4), stratify=[0, 0, 1, 1], shuffle=False)
    with pytest.raises(ValueError, match="stratifying 2 classes"):
        data.train_test_split(np.zeros(10), stratify=[0] * 5 + [1] * 5, test_size=1)


# -- digits ------------------------------------------------------------------------------------


def test_digits_shapes_dtypes_range_and_classes():
    X, y = data.digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    counts = np.bincount(y)
    assert len(counts) == 10 and counts.min() >= 170 and counts.max() <= 190
    images, y2 = data.digits(images=True)
    assert images.shape == (1797, 1, 8, 8)
    np.testing.assert_array_equal(images.reshape(1797, 64), X)
    np.testing.assert_array_equal(y2, y)


def test_digits_are_fresh_arrays():
    X, y = data.digits()
    X[:] = -1.0
    y[:] = -1
    X2, y2 = data.digits()
    assert X2.min() == 0.0 and y2.min() == 0


def test_digits_equal_sklearn_exactly():
    datasets = pytest.importorskip("sklearn.datasets")
    bunch = datasets.load_digits()
    X, y = data.digits()
    np.testing.assert_array_equal(X, bunch.data / 16)
    np.testing.assert_array_equal(y, bunch.target)
    images, _ = data.digits(images=True)
    np.testing.assert_array_equal(images[:, 0], bunch.images / 16)


def test_digits_falls_back_to_load_digits(monkeypatch):
    pytest.importorskip("sklearn")
    want = data.digits()
    monkeypatch.setattr(datasets_module, "_read_bundled", lambda: None)
    datasets_module._raw_digits.cache_clear()
    try:
        got = data.digits()
    finally:
        datasets_module._raw_digits.cache_clear()
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_digits_without_sklearn_says_how_to_install(monkeypatch):
    monkeypatch.setattr(datasets_module.importlib.util, "find_spec",
                        lambda name, *a: None)
    datasets_module._raw_digits.cache_clear()
    try:
        with pytest.raises(ImportError, match="pip install scikit-learn"):
            data.digits()
    finally:
        monkeypatch.undo()
        datasets_module._raw_digits.cache_clear()


def test_digits_do_not_import_sklearn():
    import subprocess
    import sys
    code = ("import sys, chainrule as cr; X, y = cr.data.digits(); "
            "print('sklearn' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"


@pytest.mark.parametrize("module", [loader_module, datasets_module])
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
