"""The eager Tensor (PyTorch style)."""
import gc
import math
import weakref

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp


def test_spec_example():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    assert isinstance(x.grad, np.ndarray)
    np.testing.assert_allclose(x.grad, [2.0, 4.0])


def test_attributes_and_conversions():
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    assert x.shape == (2, 2) and x.ndim == 2 and x.dtype == np.float64
    assert x.requires_grad and x.is_leaf and x.grad_fn is None
    y = x.T @ x
    assert y.grad_fn == "matmul" and not y.is_leaf
    assert (x.sum(axis=0) * 2).grad_fn == "mul"
    assert x.detach().requires_grad is False
    np.testing.assert_allclose(x.detach().numpy(), [[1, 2], [3, 4]])
    assert x[1, 0].item() == 3.0 and float(x[0, 1]) == 2.0
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    assert "requires_grad=True" in repr(x) and "grad_fn=<matmul>" in repr(y)
    assert cr.tensor(3).dtype.kind == "i"
    with pytest.raises(TypeError, match="floating"):
        cr.tensor([1, 2], requires_grad=True)


def test_grad_accumulates_and_zeroing():
    x = cr.tensor(3.0, requires_grad=True)
    (x * x).backward()
    (x * x).backward()
    assert x.grad == 12.0
    x.grad = None
    (x * 5.0).backward()
    assert x.grad == 5.0


def test_backward_with_gradient_argument():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = cnp.sin(x)
    y.backward(np.array([1.0, 0.0, 2.0]))
    np.testing.assert_allclose(x.grad, np.cos([1.0, 2.0, 3.0]) * [1, 0, 2])
    with pytest.raises(RuntimeError, match="scalar"):
        cnp.sin(x).backward()
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        cnp.sin(x).backward(np.ones(2))


def test_second_backward_needs_retain_graph():
    x = cr.tensor(2.0, requires_grad=True)
    y = cnp.exp(x) * x
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()
    z = cnp.exp(x) * x
    x.grad = None
    z.backward(retain_graph=True)
    z.backward()
    assert x.grad == pytest.approx(2 * math.exp(2) * 3)


def test_create_graph_gives_higher_derivatives():
    x = cr.tensor(0.8, requires_grad=True)
    y = cnp.sin(x) * x ** 2
    (g,) = cr.gradients(y, x, create_graph=True)
    assert isinstance(g, cr.Tensor) and g.grad_fn is not None
    assert float(g) == pytest.approx(math.cos(0.8) * 0.64 + 2 * 0.8 * math.sin(0.8))
    (h,) = cr.gradients(g, x)
    want = -math.sin(0.8) * 0.64 + 4 * 0.8 * math.cos(0.8) + 2 * math.sin(0.8)
    assert float(h) == pytest.approx(want, rel=1e-12)
    # backward(create_graph=True) then backward on the gradient
    x2 = cr.tensor(1.5, requires_grad=True)
    (x2 ** 3).backward(create_graph=True)
    g2 = x2.grad
    x2.grad = None
    g2.backward()
    assert x2.grad == pytest.approx(6 * 1.5)


def test_gradients_functional_form_and_intermediates():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3.0
    y = (h * h).sum()
    gx, gh = cr.gradients(y, [x, h])
    np.testing.assert_allclose(gh, 2 * np.array([3.0, 6.0]))
    np.testing.assert_allclose(gx, 18 * np.array([1.0, 2.0]))
    assert x.grad is None  # gradients() does not accumulate
    w = cr.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        cr.gradients((x * 2).sum(), [x, w])
    assert cr.gradients((x * 2).sum(), [x, w], allow_unused=True)[1] is None


def test_no_grad_records_nothing():
    x = cr.tensor(2.0, requires_grad=True)
    with cr.no_grad():
        y = x * x
    assert not y.requires_grad and y.grad_fn is None
    with pytest.raises(RuntimeError, match="requires_grad"):
        y.backward()


def test_detach_stops_gradient():
    x = cr.tensor(2.0, requires_grad=True)
    y = x * x.detach()
    y.backward()
    assert x.grad == 2.0


def test_backward_frees_intermediates():
    class Big(np.ndarray):
        pass

    x = cr.tensor(np.ones(1000), requires_grad=True)
    h = x * 2.0
    big = h.value.view(Big)  # the tape saves h's value as a residual of the next op
    ref = weakref.ref(big)
    h.value = big
    y = (h * h).sum()
    del big, h
    gc.collect()
    assert ref() is not None  # still needed by the graph
    y.backward()
    gc.collect()
    assert ref() is None  # freed with the graph's saved values


def test_plain_numpy_and_mixed_operands():
    x = cr.tensor([0.5, 1.5], requires_grad=True)
    y = np.sum(np.exp(x) * np.array([1.0, 2.0]))
    y.backward()
    np.testing.assert_allclose(x.grad, np.exp([0.5, 1.5]) * [1, 2])


def test_python_control_flow_on_tensors():
    x = cr.tensor(3.0, requires_grad=True)
    y = x
    while y < 100:
        y = y * x
    y.backward()  # y = x^5 = 243
    assert x.grad == pytest.approx(5 * 3.0 ** 4)
