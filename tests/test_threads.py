"""Two threads differentiating different functions at the same time get correct answers."""
import threading

import numpy as np

import chainrule as cr
import chainrule.numpy as cnp


def test_two_threads():
    x = np.linspace(0.1, 1.0, 50)
    results = {}
    errors = []
    start = threading.Barrier(2)

    def work(name, f, want):
        try:
            start.wait()
            for _ in range(200):
                g = cr.grad(lambda v: cnp.sum(f(v)))(x)
                h = cr.grad(cr.grad(lambda s: cnp.sum(f(s * x))))(0.7)
                if not np.allclose(g, want):
                    raise AssertionError(f"{name}: wrong gradient")
            results[name] = h
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    t1 = threading.Thread(target=work, args=("sin", cnp.sin, np.cos(x)))
    t2 = threading.Thread(target=work, args=("exp", cnp.exp, np.exp(x)))
    t1.start(); t2.start(); t1.join(); t2.join()  # noqa: E702
    assert not errors, errors
    np.testing.assert_allclose(results["sin"], np.sum(-np.sin(0.7 * x) * x * x))
    np.testing.assert_allclose(results["exp"], np.sum(np.exp(0.7 * x) * x * x))
