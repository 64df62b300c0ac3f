import numpy as np
import pytest

import chainrule.scipy  # noqa: F401  (every library primitive registered before the tests)
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
        p = REGISTRY[name]
        rule = p.jvp or p.batch or p.impl
        if not (getattr(rule, "__module__", "") or "").startswith("chainrule."):
            del REGISTRY[name]  # (a library module imported first inside a test keeps its own)
