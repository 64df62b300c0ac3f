import numpy as np
import pytest

from chainrule._core.primitive import REGISTRY


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _forget_test_primitives():
    """Primitives a test registers for itself are unregistered after it, so the registry that
    tests/test_rules.py enrolls holds only the library's own."""
    before = set(REGISTRY)
    yield
    for name in set(REGISTRY) - before:
        del REGISTRY[name]
