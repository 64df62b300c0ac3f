"""Shape arguments NumPy checks are checked the same way on traced values: an axis out of range
is NumPy's AxisError (never wrapped around into another axis), and `order="F"` is honoured by
the ndarray methods (never dropped, which gave C-order values and a wrong gradient)."""
import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp

A = np.arange(6.0).reshape(2, 3)

OUT_OF_RANGE = {
    "swapaxes": lambda m, a: m.swapaxes(a, 5, 0),
    "moveaxis": lambda m, a: m.moveaxis(a, 4, 0),
    "expand_dims": lambda m, a: m.expand_dims(a, 7),
    "transpose": lambda m, a: m.transpose(a, (0, 4)),
    "concatenate": lambda m, a: m.concatenate([a, a], axis=2),
    "sort": lambda m, a: m.sort(a, axis=3),
    "argsort": lambda m, a: m.argsort(a, axis=-3),
    "take": lambda m, a: m.take(a, [0], axis=2),
    "repeat": lambda m, a: m.repeat(a, 2, axis=2),
    "diff": lambda m, a: m.diff(a, axis=2),
    "rot90": lambda m, a: m.rot90(a, axes=(0, 3)),
    "flip": lambda m, a: m.flip(a, axis=2),
}


@pytest.mark.parametrize("name", list(OUT_OF_RANGE))
def test_an_axis_out_of_range_is_numpys_axis_error(name):
    call = OUT_OF_RANGE[name]
    with pytest.raises((np.exceptions.AxisError, ValueError)) as numpys:
        call(np, A)  # (what NumPy does: AxisError, or ValueError for rot90)
    with pytest.raises(numpys.type):
        call(cnp, A)
    for method in ("overload", "graph"):
        with pytest.raises(numpys.type):
            cr.grad(lambda a: cnp.sum(call(cnp, a)), method=method)(A)


def test_traced_swapaxes_method_checks_its_axes():
    with pytest.raises(np.exceptions.AxisError):
        cr.grad(lambda a: cnp.sum(a.swapaxes(3, 0)))(A)


@pytest.mark.parametrize("method", ["overload", "graph", "source", "numeric"])
def test_reshape_and_flatten_methods_honour_fortran_order(method):
    w = np.arange(6.0) + 1.0

    def f(x):
        return np.sum(x.reshape(3, 2, order="F").ravel() * w)

    def g(x):
        return np.sum(x.flatten("F") * w)

    # by hand: x.reshape(3, 2, order="F").ravel()[k] is x.ravel(order="F")[p[k]]
    p = np.arange(6).reshape(3, 2, order="F").ravel()
    want_f = np.zeros(6)
    want_f[p] = w
    want_f = want_f.reshape(2, 3, order="F")
    np.testing.assert_allclose(cr.grad(f, method=method)(A), want_f, atol=1e-6)
    np.testing.assert_allclose(cr.grad(g, method=method)(A), w.reshape(2, 3, order="F"),
                               atol=1e-6)
