"""chainrule.data: a batching `DataLoader`, `train_test_split`, and the small `digits` data set
that scikit-learn ships (loaded without a download)::

    import chainrule as cr

    X, y = cr.data.digits()
    X_train, X_test, y_train, y_test = cr.data.train_test_split(X, y, test_size=0.2, seed=0,
                                                                stratify=y)
    for xb, yb in cr.data.DataLoader((X_train, y_train), batch_size=64, shuffle=True, seed=0):
        ...

Examples
--------
>>> import chainrule as cr
>>> X, y = cr.data.digits()
>>> X_tr, X_te, y_tr, y_te = cr.data.train_test_split(X, y, test_size=0.2, seed=0, stratify=y)
>>> batches = cr.data.DataLoader((X_tr, y_tr), batch_size=64, shuffle=True, seed=0)
>>> xb, yb = next(iter(batches))
>>> print(len(batches), xb.shape, yb.shape)
23 (64, 64) (64,)
"""
from __future__ import annotations

from .datasets import digits
from .loader import DataLoader, train_test_split

__all__ = ["DataLoader", "train_test_split", "digits"]
