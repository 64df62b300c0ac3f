"""`chainrule.numpy.fft`: NumPy's discrete Fourier transforms, differentiable."""
from __future__ import annotations

__all__: list[str] = []
