"""Would an elementwise fusion backend (numexpr) speed up W4 here? Measured before building one.

W4's compiled derivative is NumPy calls on arrays of 10^6 float64: three transcendental
functions (sin, cos, exp) and nine arithmetic passes, written into dead buffers in place. A
fusion backend evaluates a whole expression block by block in cache, saving the memory traffic
between passes, but computes each function with its own kernels. This script times, on one
core (numexpr with one thread, as bench/run.py runs everything):

- W4's function as one numexpr expression against NumPy's calls;
- the arithmetic of its derivative alone (no transcendental function) both ways;

and reports the largest relative difference of the values.

    pip install numexpr && python bench/fusion_probe.py
"""
from __future__ import annotations

from isolation import isolate

isolate()  # (one core, single-threaded BLAS: before NumPy)

import statistics  # noqa: E402
import timeit  # noqa: E402

import numpy as np  # noqa: E402


def main() -> None:
    try:
        import numexpr as ne
    except ImportError:
        raise SystemExit("numexpr is not installed: pip install numexpr") from None
    ne.set_num_threads(1)
    x = np.random.default_rng(4).standard_normal(1_000_000)
    s, e, x2 = np.sin(x), np.exp(-x * x), x * x
    names = {"x": x, "s": s, "e": e, "x2": x2}
    cases = {
        "W4's function (sin, exp, log1p)": (
            lambda: np.sin(x) * np.exp(-x ** 2) + np.log1p(x ** 2),
            "sin(x) * exp(-(x ** 2)) + log1p(x ** 2)"),
        "its derivative's arithmetic": (
            lambda: (2.0 - 2.0 * x * s) * e + 2.0 * x / (1.0 + x2),
            "(2.0 - 2.0 * x * s) * e + 2.0 * x / (1.0 + x2)"),
    }
    print(f"numexpr {ne.__version__} (VML: {ne.use_vml}), NumPy {np.__version__}, 10^6 float64, "
          "one thread; median of 7")
    for label, (numpy_fn, expr) in cases.items():
        def fused(expr: str = expr) -> np.ndarray:
            return ne.evaluate(expr, local_dict=names)
        t_np = statistics.median(timeit.repeat(numpy_fn, number=5, repeat=7)) / 5
        t_ne = statistics.median(timeit.repeat(fused, number=5, repeat=7)) / 5
        a, b = fused(), numpy_fn()
        rel = float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))
        print(f"{label:34s} NumPy {1e3 * t_np:6.2f} ms  numexpr {1e3 * t_ne:6.2f} ms  "
              f"(x{t_np / t_ne:.2f})  largest relative difference {rel:.1e}")


if __name__ == "__main__":
    main()
