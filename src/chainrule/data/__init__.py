"""chainrule.data: a batching `DataLoader`, `train_test_split`, and the small `digits` data set
that scikit-learn ships (loaded without a download)::

    import chainrule as cr

    X, y = cr.data.digits()
    X_train, X_test, y_train, y_test = cr.data.train_test_split(X, y, test_size=0.2, seed=0,
                                                                stratify=y)
    for xb, yb in cr.data.DataLoader((X_train, y_train), batch_size=64, shuffle=True, seed=0):
        ...
"""
from __future__ import annotations

from .datasets import digits
from .loader import DataLoader, train_test_split

__all__ = ["DataLoader", "train_test_split", "digits"]
