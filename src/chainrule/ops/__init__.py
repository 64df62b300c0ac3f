"""Primitives and their rules, one module per family. Importing this package registers them all."""
from . import elementwise, index, linalg, reduce, shape  # noqa: F401
