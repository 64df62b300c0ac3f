"""The eager Tensor under PyTorch's method names (x.exp(), x.view(2, -1), x.sum(dim=0),
x.max(dim=1), ...): each value against NumPy written out by hand, each gradient against a hand
formula or central finite differences of that NumPy reference (never against chainrule itself).
PyTorch is not needed: the expectations are derived here."""
import doctest
import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.overload.tensor as tensor_module

RNG = np.random.default_rng(20240615)


def fd_vjp(f, v, w, h=1e-6):
    """d/dv of sum(w * f(v)) by central differences, f a NumPy function."""
    v = np.asarray(v, dtype=float)
    g = np.zeros_like(v)
    for i in np.ndindex(v.shape):
        vp, vm = v.copy(), v.copy()
        vp[i] += h
        vm[i] -= h
        g[i] = np.sum(w * (np.asarray(f(vp)) - np.asarray(f(vm)))) / (2 * h)
    return g


def run(method, v, w=None):
    """Apply `method` to a fresh leaf holding v, backward with weights w: (value, grad, w)."""
    x = cr.tensor(v, requires_grad=True)
    y = method(x)
    assert isinstance(y, cr.Tensor) and y.requires_grad
    value = y.detach().numpy()
    if w is None:
        w = RNG.standard_normal(value.shape)
    y.backward(w)
    return value, x.grad, w


def check_against(method, reference, v, rtol=1e-6, atol=1e-8):
    """Value against the NumPy reference; gradient against its finite differences."""
    value, grad, w = run(method, v)
    want = np.asarray(reference(np.asarray(v, dtype=float)))
    assert value.shape == want.shape
    np.testing.assert_allclose(value, want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grad, fd_vjp(reference, v, w), rtol=rtol, atol=atol)


# -- elementwise: value and derivative by hand formula ------------------------------------------

def _sig(v):
    return 1.0 / (1.0 + np.exp(-v))


POS = np.array([[0.3, 0.7, 0.45], [0.9, 0.2, 0.55]])     # inside every domain used below
SIGNED = np.array([[-1.3, 0.7, 0.0], [2.1, -0.2, 0.55]])  # includes the kink at 0

ELEMENTWISE = {
    # name: (input, value f(v), derivative f'(v)), each formula written out here
    "exp": (SIGNED, np.exp, np.exp),
    "exp2": (SIGNED, lambda v: 2.0 ** v, lambda v: 2.0 ** v * math.log(2.0)),
    "expm1": (SIGNED, lambda v: np.exp(v) - 1.0, np.exp),
    "log": (POS, np.log, lambda v: 1.0 / v),
    "log2": (POS, lambda v: np.log(v) / math.log(2.0), lambda v: 1.0 / (v * math.log(2.0))),
    "log10": (POS, lambda v: np.log(v) / math.log(10.0), lambda v: 1.0 / (v * math.log(10.0))),
    "log1p": (POS, lambda v: np.log(1.0 + v), lambda v: 1.0 / (1.0 + v)),
    "sqrt": (POS, lambda v: v ** 0.5, lambda v: 0.5 * v ** -0.5),
    "rsqrt": (POS, lambda v: v ** -0.5, lambda v: -0.5 * v ** -1.5),
    "square": (SIGNED, lambda v: v * v, lambda v: 2.0 * v),
    "reciprocal": (POS, lambda v: 1.0 / v, lambda v: -1.0 / (v * v)),
    "sin": (SIGNED, np.sin, np.cos),
    "cos": (SIGNED, np.cos, lambda v: -np.sin(v)),
    "tan": (SIGNED, np.tan, lambda v: 1.0 + np.tan(v) ** 2),
    "asin": (POS, np.arcsin, lambda v: (1.0 - v * v) ** -0.5),
    "acos": (POS, np.arccos, lambda v: -(1.0 - v * v) ** -0.5),
    "atan": (SIGNED, np.arctan, lambda v: 1.0 / (1.0 + v * v)),
    "sinh": (SIGNED, lambda v: (np.exp(v) - np.exp(-v)) / 2,
             lambda v: (np.exp(v) + np.exp(-v)) / 2),
    "cosh": (SIGNED, lambda v: (np.exp(v) + np.exp(-v)) / 2,
             lambda v: (np.exp(v) - np.exp(-v)) / 2),
    "tanh": (SIGNED, np.tanh, lambda v: 1.0 / np.cosh(v) ** 2),
    "asinh": (SIGNED, lambda v: np.log(v + np.sqrt(v * v + 1)), lambda v: (v * v + 1) ** -0.5),
    "acosh": (POS + 1.0, lambda v: np.log(v + np.sqrt(v * v - 1)), lambda v: (v * v - 1) ** -0.5),
    "atanh": (POS - 0.5, lambda v: 0.5 * np.log((1 + v) / (1 - v)), lambda v: 1.0 / (1 - v * v)),
    "sigmoid": (SIGNED, _sig, lambda v: _sig(v) * (1.0 - _sig(v))),
    "relu": (SIGNED, lambda v: np.where(v > 0, v, 0.0), lambda v: (v > 0).astype(float)),
    "abs": (SIGNED, lambda v: np.where(v < 0, -v, v), np.sign),
    "neg": (SIGNED, lambda v: -v, lambda v: -np.ones_like(v)),
    "negative": (SIGNED, lambda v: -v, lambda v: -np.ones_like(v)),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_value_and_derivative(name):
    v, f, df = ELEMENTWISE[name]
    value, grad, w = run(lambda x: getattr(x, name)(), v)
    np.testing.assert_allclose(value, f(v), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grad, w * df(v), rtol=1e-12, atol=1e-15)
    if name not in ("relu", "abs"):  # (finite differences straddle their kink at 0)
        np.testing.assert_allclose(grad, fd_vjp(f, v, w), rtol=1e-6, atol=1e-8)


def test_kinks_follow_the_documented_convention():
    # relu'(0) = 0 and abs'(0) = 0, as PyTorch
    for name in ("relu", "abs"):
        _, grad, _ = run(lambda x, name=name: getattr(x, name)(), np.zeros(3), np.ones(3))
        np.testing.assert_array_equal(grad, np.zeros(3))


def test_sigmoid_does_not_overflow():
    value, grad, _ = run(lambda x: x.sigmoid(), np.array([-800.0, 800.0]), np.ones(2))
    np.testing.assert_array_equal(value, [0.0, 1.0])
    np.testing.assert_array_equal(grad, [0.0, 0.0])


def test_pow_both_arguments():
    v = np.array([0.5, 1.5, 2.0])
    _, grad, w = run(lambda x: x.pow(3), v)
    np.testing.assert_allclose(grad, w * 3 * v ** 2, rtol=1e-13)
    x = cr.tensor(v, requires_grad=True)
    p = cr.tensor(2.5, requires_grad=True)
    y = x.pow(p)
    np.testing.assert_allclose(y.detach().numpy(), v ** 2.5, rtol=1e-13)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 2.5 * v ** 1.5, rtol=1e-13)
    assert float(p.grad) == pytest.approx(np.sum(v ** 2.5 * np.log(v)), rel=1e-13)
    _, grad, _ = run(lambda x: x.pow([1.0, 2.0, 3.0]), v, np.ones(3))  # a list exponent
    np.testing.assert_allclose(grad, [1.0, 3.0, 12.0], rtol=1e-13)


def test_clamp_value_mask_and_bounds():
    v = np.array([-2.0, -1.0, 0.3, 1.0, 4.0])
    value, grad, _ = run(lambda x: x.clamp(min=-1.0, max=1.0), v, np.ones(5))
    np.testing.assert_array_equal(value, [-1.0, -1.0, 0.3, 1.0, 1.0])
    np.testing.assert_array_equal(grad, [0.0, 1.0, 1.0, 1.0, 0.0])  # boundaries included
    value, grad, _ = run(lambda x: x.clamp(min=0.0), v, np.ones(5))
    np.testing.assert_array_equal(value, [0.0, 0.0, 0.3, 1.0, 4.0])
    np.testing.assert_array_equal(grad, [0.0, 0.0, 1.0, 1.0, 1.0])
    value, grad, _ = run(lambda x: x.clamp(max=0.0), v, np.ones(5))
    np.testing.assert_array_equal(grad, [1.0, 1.0, 0.0, 0.0, 0.0])
    value, _, _ = run(lambda x: x.clamp(min=1.0, max=-1.0), v, np.ones(5))
    np.testing.assert_array_equal(value, -np.ones(5))  # min > max: max, as PyTorch
    # a bound that requires grad gets the derivative where it was taken
    x = cr.tensor(v, requires_grad=True)
    lo = cr.tensor(-1.5, requires_grad=True)
    x.clamp(min=lo, max=[1.0, 1.0, 1.0, 1.0, 1.0]).sum().backward()
    assert float(lo.grad) == 1.0
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 1.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="min= and max="):
        x.clamp()


# -- reductions ---------------------------------------------------------------------------------

V3 = RNG.standard_normal((2, 3, 4))


@pytest.mark.parametrize("dim", [None, 0, 1, -1, (0, 2), [1, 2]])
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum_and_mean_with_dim(dim, keepdim):
    axis = tuple(dim) if isinstance(dim, list) else dim
    value, grad, w = run(lambda x: x.sum(dim=dim, keepdim=keepdim), V3)
    np.testing.assert_allclose(value, np.sum(V3, axis=axis, keepdims=keepdim), rtol=1e-13)
    # d sum / d x_i = 1: the weight of the slot each element was summed into
    np.testing.assert_allclose(grad, np.broadcast_to(
        w if keepdim else np.expand_dims(w, axis if axis is not None else (0, 1, 2)),
        V3.shape), rtol=1e-13)
    value, grad, w = run(lambda x: x.mean(dim=dim, keepdim=keepdim), V3)
    np.testing.assert_allclose(value, np.mean(V3, axis=axis, keepdims=keepdim), rtol=1e-13)
    n = V3.size // np.asarray(value).size
    np.testing.assert_allclose(grad, np.broadcast_to(
        w if keepdim else np.expand_dims(w, axis if axis is not None else (0, 1, 2)),
        V3.shape) / n, rtol=1e-13)


def test_numpy_spellings_still_work_and_mix():
    x = cr.tensor(V3, requires_grad=True)
    np.testing.assert_allclose(x.sum(axis=1).detach().numpy(), V3.sum(axis=1), rtol=1e-13)
    np.testing.assert_allclose(x.sum(1, keepdim=True).detach().numpy(),
                               V3.sum(1, keepdims=True), rtol=1e-13)
    np.testing.assert_allclose(x.mean(axis=(0, 2), keepdims=True).detach().numpy(),
                               V3.mean(axis=(0, 2), keepdims=True), rtol=1e-13)
    np.testing.assert_allclose(x.max(0).detach().numpy(), V3.max(0))  # NumPy's: values
    np.testing.assert_allclose(x.squeeze(axis=None).detach().numpy(), V3)
    assert x.transpose().shape == (4, 3, 2) and x.transpose((1, 0, 2)).shape == (3, 2, 4)
    assert float(cr.tensor([1.0, 2.0, 6.0]).var()) == pytest.approx(14 / 3)  # NumPy's ddof=0
    with pytest.raises(TypeError, match="dim= .* or axis="):
        x.sum(0, dim=1)
    with pytest.raises(TypeError, match="keepdim= .* or keepdims="):
        x.mean(dim=1, keepdim=True, keepdims=True)
    with pytest.raises(ValueError, match="ambiguous"):
        x.sum(dim=())
    with pytest.raises(np.exceptions.AxisError, match=r"dimension 3 is out of range.*\[-3, 2\]"):
        x.sum(dim=3)
    with pytest.raises(ValueError, match="repeated"):
        x.sum(dim=(1, -2))


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("which", ["max", "min"])
def test_max_min_with_dim_return_values_and_indices(which, dim, keepdim):
    x = cr.tensor(V3, requires_grad=True)
    values, indices = getattr(x, which)(dim=dim, keepdim=keepdim)
    want = getattr(np, which)(V3, axis=dim, keepdims=keepdim)
    arg = (np.argmax if which == "max" else np.argmin)(V3, axis=dim, keepdims=keepdim)
    np.testing.assert_array_equal(values.detach().numpy(), want)
    np.testing.assert_array_equal(indices.numpy(), arg)
    assert indices.dtype == np.int64 and not indices.requires_grad
    assert isinstance(getattr(x, which)(dim=dim), tensor_module.ValuesIndices)  # a named pair
    w = RNG.standard_normal(want.shape)
    values.backward(w)
    # (distinct random values) the whole weight goes to the selected element
    expect = np.zeros_like(V3)
    idx = arg if keepdim else np.expand_dims(arg, dim)
    np.put_along_axis(expect, idx, w if keepdim else np.expand_dims(w, dim), axis=dim)
    np.testing.assert_allclose(x.grad, expect, rtol=1e-14)


def test_max_with_dim_ties_share_the_derivative():
    x = cr.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], requires_grad=True)
    values, indices = x.max(dim=1)
    np.testing.assert_array_equal(indices.numpy(), [1, 0])  # the first, as PyTorch
    values.sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 0.5, 0.5], [0.5, 0.5, 0.0]])


def test_max_with_dim_errors_and_scalar():
    x = cr.tensor(V3)
    with pytest.raises(TypeError, match="one int dimension"):
        x.max(dim=(0, 1))
    with pytest.raises(TypeError, match="axis= instead of dim="):
        x.min(dim=0, initial=3.0)
    s = cr.tensor(2.5, requires_grad=True)
    values, indices = s.max(dim=0)
    assert float(values) == 2.5 and int(indices) == 0
    values.backward()
    assert float(s.grad) == 1.0


def test_argmax_argmin_with_dim():
    x = cr.tensor(V3)
    np.testing.assert_array_equal(np.asarray(x.argmax(dim=1).value), V3.argmax(axis=1))
    np.testing.assert_array_equal(np.asarray(x.argmin(dim=-1, keepdim=True).value),
                                  V3.argmin(axis=-1, keepdims=True))
    assert int(x.argmax()) == int(V3.argmax())


@pytest.mark.parametrize("which", ["var", "std"])
def test_var_std_pytorch_keywords_are_unbiased(which):
    for dim, keepdim in [(0, False), (1, True), ((0, 2), False)]:
        value, grad, w = run(lambda x, d=dim, k=keepdim: getattr(x, which)(dim=d, keepdim=k),
                             V3)
        n = V3.size // value.size
        mean = V3.mean(axis=dim, keepdims=True)
        var = ((V3 - mean) ** 2).sum(axis=dim, keepdims=True) / (n - 1)
        out = var if which == "var" else np.sqrt(var)
        np.testing.assert_allclose(value, out if keepdim else np.squeeze(out, dim), rtol=1e-12)
        wk = w if keepdim else np.expand_dims(w, dim)
        # d var / d x_i = 2 (x_i - mean) / (n - 1); d std = d var / (2 std)
        dvar = 2 * (V3 - mean) / (n - 1)
        expect = wk * (dvar if which == "var" else dvar / (2 * np.sqrt(var)))
        np.testing.assert_allclose(grad, expect, rtol=1e-10)
    v = np.array([1.0, 2.0, 6.0])  # mean 3, squared deviations 4 + 1 + 9 = 14
    x = cr.tensor(v)
    sq = (lambda t: float(t)) if which == "var" else (lambda t: float(t) ** 2)
    assert sq(getattr(x, which)(dim=0)) == pytest.approx(7.0, rel=1e-14)
    assert sq(getattr(x, which)(dim=0, unbiased=False)) == pytest.approx(14 / 3, rel=1e-14)
    assert sq(getattr(x, which)(unbiased=True)) == pytest.approx(7.0, rel=1e-14)
    assert sq(getattr(x, which)(dim=0, correction=0)) == pytest.approx(14 / 3, rel=1e-14)
    assert sq(getattr(x, which)()) == pytest.approx(14 / 3, rel=1e-14)  # NumPy's default
    assert sq(getattr(x, which)(ddof=1)) == pytest.approx(7.0, rel=1e-14)
    with pytest.raises(TypeError, match="not both"):
        getattr(x, which)(dim=0, unbiased=True, correction=1)


def test_prod_cumsum_cumprod_logsumexp_with_dim():
    v = RNG.uniform(0.5, 1.5, (2, 3, 4))
    check_against(lambda x: x.prod(dim=1), lambda a: np.prod(a, axis=1), v)
    check_against(lambda x: x.prod(dim=2, keepdim=True), lambda a: np.prod(a, 2, keepdims=True), v)
    check_against(lambda x: x.cumsum(dim=1), lambda a: np.cumsum(a, axis=1), v)
    check_against(lambda x: x.cumprod(dim=-1), lambda a: np.cumprod(a, axis=-1), v)
    check_against(lambda x: x.logsumexp(dim=1),
                  lambda a: np.log(np.sum(np.exp(a), axis=1)), v)
    check_against(lambda x: x.logsumexp(dim=(0, 2), keepdim=True),
                  lambda a: np.log(np.sum(np.exp(a), axis=(0, 2), keepdims=True)), v)


# -- softmax, norm, matmul ----------------------------------------------------------------------

@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_and_log_softmax(dim):
    value, grad, w = run(lambda x: x.softmax(dim=dim), V3)
    e = np.exp(V3)
    s = e / e.sum(axis=dim, keepdims=True)
    np.testing.assert_allclose(value, s, rtol=1e-13)
    # vector-Jacobian product of softmax: s * (w - sum(w * s))
    np.testing.assert_allclose(grad, s * (w - (w * s).sum(axis=dim, keepdims=True)),
                               rtol=1e-11, atol=1e-14)
    value, grad, w = run(lambda x: x.log_softmax(dim), V3)
    np.testing.assert_allclose(value, np.log(s), rtol=1e-12)
    np.testing.assert_allclose(grad, w - s * w.sum(axis=dim, keepdims=True), rtol=1e-11,
                               atol=1e-14)
    big, _, _ = run(lambda x: x.softmax(0), np.array([1000.0, 1000.0]), np.ones(2))
    np.testing.assert_allclose(big, [0.5, 0.5], rtol=1e-13)  # no overflow


def _pnorm(a, p, axis, keepdims=False):
    a = np.abs(a)
    if p == np.inf:
        return a.max(axis=axis, keepdims=keepdims)
    if p == -np.inf:
        return a.min(axis=axis, keepdims=keepdims)
    return (a ** p).sum(axis=axis, keepdims=keepdims) ** (1.0 / p)


@pytest.mark.parametrize("p", ["fro", 1, 2, 3, 0.5, np.inf, -np.inf])
@pytest.mark.parametrize("dim", [None, 1, (0, 2)])
def test_norm(p, dim):
    q = 2 if p == "fro" else p
    for keepdim in (False, True):
        check_against(lambda x, k=keepdim: x.norm(p=p, dim=dim, keepdim=k),
                      lambda a, k=keepdim: _pnorm(a, q, dim, k), V3)


def test_norm_gradients_by_hand_and_nuclear():
    v = np.array([3.0, -4.0])
    _, grad, _ = run(lambda x: x.norm(), v, np.array(1.0))
    np.testing.assert_allclose(grad, v / 5.0, rtol=1e-14)  # x / |x|
    _, grad, _ = run(lambda x: x.norm(p=1), v, np.array(1.0))
    np.testing.assert_array_equal(grad, [1.0, -1.0])  # sign(x)
    _, grad, _ = run(lambda x: x.norm(p=np.inf), v, np.array(1.0))
    np.testing.assert_array_equal(grad, [0.0, -1.0])  # at the largest magnitude
    assert float(cr.tensor([0.0, 2.0, -1.0]).norm(p=0)) == 2.0  # the count of nonzeros
    # the documented convention at the zero vector: nan for p > 1 (sqrt'(0) = inf), sign for 1
    _, grad, _ = run(lambda x: x.norm(), np.zeros(2), np.array(1.0))
    assert np.isnan(grad).all()
    _, grad, _ = run(lambda x: x.norm(p=1), np.zeros(2), np.array(1.0))
    np.testing.assert_array_equal(grad, [0.0, 0.0])
    m = np.array([[2.0, 1.0], [0.5, 3.0]])
    value, grad, _ = run(lambda x: x.norm(p="nuc"), m, np.array(1.0))
    u, s, vt = np.linalg.svd(m)
    assert float(value) == pytest.approx(s.sum(), rel=1e-13)
    np.testing.assert_allclose(grad, u @ vt, rtol=1e-12)  # d sum(s) / dA = U V^T
    with pytest.raises(ValueError, match="two dimensions"):
        cr.tensor(V3).norm(p="nuc")
    with pytest.raises(ValueError, match="p must be"):
        cr.tensor(V3).norm(p="max")


def test_matmul_and_mm():
    A = RNG.standard_normal((3, 4))
    B = RNG.standard_normal((4, 2))
    value, grad, w = run(lambda x: x.matmul(B), A)
    np.testing.assert_allclose(value, A @ B, rtol=1e-13)
    np.testing.assert_allclose(grad, w @ B.T, rtol=1e-13)  # d/dA sum(w * (A B)) = w B^T
    value, grad, w = run(lambda x: x.mm(B), A)
    np.testing.assert_allclose(grad, w @ B.T, rtol=1e-13)
    b = cr.tensor(B, requires_grad=True)
    a = cr.tensor(A)
    a.mm(b).backward(np.ones((3, 2)))
    np.testing.assert_allclose(b.grad, A.T @ np.ones((3, 2)), rtol=1e-13)
    _, grad, _ = run(lambda x: x.matmul([1.0, 2.0, 3.0, 4.0]), A, np.ones(3))
    np.testing.assert_allclose(grad, np.tile([1.0, 2.0, 3.0, 4.0], (3, 1)))
    with pytest.raises(ValueError, match="2-D"):
        cr.tensor(A).mm(B[:, 0])


# -- shapes -------------------------------------------------------------------------------------

def test_view_reshape_flatten_move_the_gradient_back():
    checks = [
        (lambda x: x.view(4, -1), lambda a: a.reshape(4, -1)),
        (lambda x: x.view((6, 4)), lambda a: a.reshape(6, 4)),
        (lambda x: x.view(-1), lambda a: a.reshape(-1)),
        (lambda x: x.reshape(3, 8), lambda a: a.reshape(3, 8)),
        (lambda x: x.reshape((2, -1)), lambda a: a.reshape(2, -1)),
        (lambda x: x.flatten(), lambda a: a.reshape(-1)),
        (lambda x: x.flatten(1), lambda a: a.reshape(2, 12)),
        (lambda x: x.flatten(0, 1), lambda a: a.reshape(6, 4)),
        (lambda x: x.flatten(-2, -1), lambda a: a.reshape(2, 12)),
        (lambda x: x.flatten(1, 1), lambda a: a),
    ]
    for method, ref in checks:
        value, grad, w = run(method, V3)
        np.testing.assert_array_equal(value, ref(V3))
        np.testing.assert_array_equal(grad, w.reshape(V3.shape))  # a reshape is linear
    assert cr.tensor(2.0).flatten().shape == (1,)
    with pytest.raises(ValueError, match="reshape"):
        cr.tensor(V3).view(5, -1)
    with pytest.raises(TypeError, match="astype"):
        cr.tensor(V3).view(np.float32)
    with pytest.raises(ValueError, match="order='C'"):
        cr.tensor(V3).reshape(24, order="F")
    with pytest.raises(ValueError, match="comes after"):
        cr.tensor(V3).flatten(2, 0)


def test_unsqueeze_and_squeeze():
    for d, shape in [(0, (1, 2, 3, 4)), (2, (2, 3, 1, 4)), (3, (2, 3, 4, 1)),
                     (-1, (2, 3, 4, 1)), (-4, (1, 2, 3, 4))]:
        value, grad, w = run(lambda x, d=d: x.unsqueeze(d), V3)
        assert value.shape == shape
        np.testing.assert_array_equal(value, np.expand_dims(V3, d))
        np.testing.assert_array_equal(grad, w.reshape(V3.shape))
    with pytest.raises(np.exceptions.AxisError, match=r"\[-4, 3\]"):
        cr.tensor(V3).unsqueeze(4)
    v = RNG.standard_normal((1, 3, 1, 2))
    for kw, shape in [({}, (3, 2)), ({"dim": None}, (3, 2)), ({"dim": 0}, (3, 1, 2)),
                      ({"dim": 1}, (1, 3, 1, 2)), ({"dim": -2}, (1, 3, 2)),
                      ({"dim": (0, 1, 2)}, (3, 2))]:
        value, grad, w = run(lambda x, kw=kw: x.squeeze(**kw), v)
        assert value.shape == shape, kw
        np.testing.assert_array_equal(value.reshape(-1), v.reshape(-1))
        np.testing.assert_array_equal(grad, w.reshape(v.shape))
    assert cr.tensor(v).squeeze(2).shape == (1, 3, 2)  # NumPy's axis, positional
    with pytest.raises(ValueError, match=r"squeeze\(dim=\.\.\.\)"):
        cr.tensor(v).squeeze(1)  # NumPy's meaning raises; the message names PyTorch's
    with pytest.raises(np.exceptions.AxisError):
        cr.tensor(v).squeeze(dim=4)


def test_permute_transpose_t():
    value, grad, w = run(lambda x: x.permute(2, 0, 1), V3)
    np.testing.assert_array_equal(value, np.moveaxis(V3, 2, 0))
    np.testing.assert_array_equal(grad, np.moveaxis(w, 0, 2))  # the inverse permutation
    value, _, _ = run(lambda x: x.permute((1, 2, 0)), V3)
    assert value.shape == (3, 4, 2)
    value, grad, w = run(lambda x: x.transpose(0, 2), V3)
    np.testing.assert_array_equal(value, np.swapaxes(V3, 0, 2))
    np.testing.assert_array_equal(grad, np.swapaxes(w, 0, 2))
    value, _, _ = run(lambda x: x.transpose(dim0=-1, dim1=1), V3)
    np.testing.assert_array_equal(value, np.swapaxes(V3, 1, 2))
    m = RNG.standard_normal((2, 3))
    # PyTorch's reading of two ints: (0, 1) swaps a matrix's dimensions too
    for method in (lambda x: x.transpose(0, 1), lambda x: x.transpose(1, 0), lambda x: x.t()):
        value, grad, w = run(method, m)
        np.testing.assert_array_equal(value, m.T)
        np.testing.assert_array_equal(grad, w.T)
    value, _, _ = run(lambda x: x.transpose(1, 1), m)
    np.testing.assert_array_equal(value, m)
    vec = cr.tensor([1.0, 2.0])
    assert vec.t() is vec
    with pytest.raises(ValueError, match="at most 2"):
        cr.tensor(V3).t()
    with pytest.raises(ValueError, match="not a permutation"):
        cr.tensor(V3).permute(0, 0, 1)
    with pytest.raises(ValueError, match="2 dimensions given for a tensor with 3"):
        cr.tensor(V3).permute(0, 1)
    with pytest.raises(np.exceptions.AxisError):
        cr.tensor(V3).transpose(0, 3)
    with pytest.raises(TypeError, match="both dim0= and dim1="):
        cr.tensor(V3).transpose(dim0=1)


# -- sizes and conversions ----------------------------------------------------------------------

def test_sizes_item_detach():
    x = cr.tensor(np.zeros((2, 3, 4)), requires_grad=True)
    assert x.size == 24 and isinstance(x.size, int)  # NumPy's property, still an int
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.numel() == 24 and x.dim() == 3 and x.shape == (2, 3, 4)
    with pytest.raises(np.exceptions.AxisError):
        x.size(3)
    assert cr.tensor(2.0).size() == () and cr.tensor(2.0).numel() == 1
    assert cr.tensor([[2.5]], requires_grad=True).item() == 2.5
    assert cr.tensor([1.0, 2.0]).item(1) == 2.0  # NumPy's item(i)
    with pytest.raises(ValueError, match=r"shape \(2,\).*x\.sum\(\)\.item\(\)"):
        cr.tensor([1.0, 2.0]).item()
    d = x.detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None


# -- backward() without a gradient --------------------------------------------------------------

@pytest.mark.parametrize("shape", [(), (1,), (1, 1), (1, 1, 1)])
def test_backward_of_a_one_element_tensor(shape):
    x = cr.tensor(np.full(shape, 1.5), requires_grad=True)
    y = x.exp() * x  # d/dx x e^x = (1 + x) e^x
    y.backward()
    assert x.grad.shape == shape
    np.testing.assert_allclose(x.grad, np.full(shape, 2.5 * math.exp(1.5)), rtol=1e-14)
    w = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w.sum(dim=0, keepdim=True).backward()  # shape (1,)
    np.testing.assert_array_equal(w.grad, [1.0, 1.0, 1.0])
    (g,) = cr.gradients(x.sin().reshape(shape), x)
    np.testing.assert_allclose(g, np.cos(np.full(shape, 1.5)), rtol=1e-14)


@pytest.mark.parametrize("shape", [(2,), (1, 2), (2, 3)])
def test_backward_of_a_multi_element_tensor_asks_for_a_gradient(shape):
    x = cr.tensor(np.ones(shape), requires_grad=True)
    y = x.exp()
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar "
                                           "outputs") as info:
        y.backward()
    message = str(info.value)
    assert str(shape) in message and "sum()" in message and "gradient=" in message
    with pytest.raises(RuntimeError, match="grad_outputs="):
        cr.gradients(y, x)
    assert x.grad is None
    y.backward(np.ones(shape))  # the graph is intact after the refusal
    np.testing.assert_allclose(x.grad, np.full(shape, math.e), rtol=1e-14)


# -- higher derivatives and the functional transforms --------------------------------------------

def test_create_graph_through_pytorch_methods():
    x = cr.tensor(0.7, requires_grad=True)
    (g,) = cr.gradients(x.tanh(), x, create_graph=True)
    (h,) = cr.gradients(g, x)
    t = math.tanh(0.7)
    assert float(g) == pytest.approx(1 - t * t, rel=1e-14)
    assert float(h) == pytest.approx(-2 * t * (1 - t * t), rel=1e-13)


def test_methods_inside_transforms_with_traced_arguments():
    x = cr.tensor([0.5, 2.0])
    v = np.array([0.5, 2.0])
    want = np.sum(v ** 3 * np.log(v))  # d/dp sum(x**p) at p = 3
    assert float(cr.grad(lambda p: x.pow(p).sum())(3.0)) == pytest.approx(want, rel=1e-13)
    assert float(cr.jacfwd(lambda p: x.pow(p).sum())(3.0)) == pytest.approx(want, rel=1e-13)
    assert float(cr.hessian(lambda p: x.pow(p).sum())(3.0)) == pytest.approx(
        np.sum(v ** 3 * np.log(v) ** 2), rel=1e-13)
    # the lower bound is taken by the first element only
    assert float(cr.grad(lambda lo: x.clamp(min=lo).sum())(1.0)) == 1.0
    np.testing.assert_allclose(cr.grad(lambda w: x.matmul(w))(np.array([1.0, 3.0])), v)
    np.testing.assert_allclose(cr.vmap(lambda p: x.pow(p).sum())(np.array([1.0, 2.0])),
                               [2.5, 4.25])
    # a tensor that requires grad, used inside cr.grad, still records for backward()
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    g = cr.grad(lambda a: (w.exp() * a).sum())(np.array([3.0, 4.0]))  # = exp(w)
    g.sum().backward()
    np.testing.assert_allclose(w.grad, np.exp([1.0, 2.0]), rtol=1e-14)


def test_docstring_examples():
    result = doctest.testmod(tensor_module, extraglobs={"np": np, "cr": cr},
                             optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 100 and result.failed == 0
