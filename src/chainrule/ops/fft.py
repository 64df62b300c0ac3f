"""The discrete Fourier transforms as primitives (filled in by issue 14)."""
from __future__ import annotations
