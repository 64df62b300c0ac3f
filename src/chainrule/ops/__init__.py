"""Primitives and their rules, one module per family. Importing this package registers them all."""
from . import elementwise, fft, index, linalg, nn, reduce, shape  # noqa: F401
