"""cr.nn layers, losses and initialisers: values against naive references written here, and
derivatives against finite differences (cr.testing.check_grads) or hand-derived formulas —
never against the code path being tested."""
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import tree
from chainrule.nn import functional as F

nn = cr.nn
METHODS = ("overload", "graph", "source")


def _rng(seed=0):
    return np.random.default_rng(seed)


def _separated(shape, seed=0, scale=0.1):
    """Distinct values at least `scale` apart, of both signs (no ties, no kinks nearby)."""
    n = math.prod(shape)
    return (_rng(seed).permutation(n) - n / 2 + 0.5).reshape(shape) * scale


def _module_fd_check(loss, model, *args, seed=0, eps=1e-4, rtol=1e-6):
    """The model's gradient against a five-point finite difference of the loss along a random
    direction in parameter space (the directional derivative is <grad, direction>)."""
    g = cr.grad(loss)(model, *args)
    rng = _rng(seed)
    direction = tree.map(lambda p: rng.standard_normal(np.shape(p)), model)

    def at(t):
        return float(loss(tree.map(lambda p, d: p + t * d, model, direction), *args))

    fd = (8 * (at(eps) - at(-eps)) - (at(2 * eps) - at(-2 * eps))) / (12 * eps)
    ad = sum(float(np.sum(a * d)) for a, d in zip(tree.leaves(g), tree.leaves(direction)))
    assert ad == pytest.approx(fd, rel=rtol, abs=1e-8)
    return g


# ---------------------------------------------------------------------------------------------
# Linear

def test_linear_values_and_hand_derived_gradients():
    rng = _rng()
    layer = nn.Linear(3, 2, seed=0)
    assert layer.weight.shape == (3, 2) and layer.bias.shape == (2,)
    x = rng.standard_normal((4, 3))
    c = rng.standard_normal((4, 2))
    np.testing.assert_allclose(layer(x), x @ layer.weight + layer.bias, rtol=0, atol=1e-15)

    def loss(m, x):
        return cr.numpy.sum(m(x) * c)

    for method in ("overload", "graph"):
        g, gx = cr.grad(loss, argnums=(0, 1), method=method)(layer, x)
        assert type(g) is nn.Linear
        np.testing.assert_allclose(g.weight, x.T @ c, rtol=1e-13)
        np.testing.assert_allclose(g.bias, c.sum(0), rtol=1e-13)
        np.testing.assert_allclose(gx, c @ layer.weight.T, rtol=1e-13)


def test_linear_without_bias_and_default_init_bounds():
    layer = nn.Linear(100, 7, bias=False, seed=1)
    assert layer.bias is None and [n for n, _ in layer.named_parameters()] == ["weight"]
    assert np.abs(layer.weight).max() <= 1 / math.sqrt(100)
    with_bias = nn.Linear(16, 5, seed=2)
    assert np.abs(with_bias.bias).max() <= 0.25
    np.testing.assert_array_equal(nn.Linear(4, 3, seed=5).weight, nn.Linear(4, 3, seed=5).weight)
    assert not np.array_equal(nn.Linear(4, 3, seed=5).weight, nn.Linear(4, 3, seed=6).weight)


# ---------------------------------------------------------------------------------------------
# convolution against a naive loop

def _conv_reference(x, w, b, stride, padding):
    sh, sw = stride
    ph, pw = padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, c, h, wd = xp.shape
    o, _, kh, kw = w.shape
    oh, ow = (h - kh) // sh + 1, (wd - kw) // sw + 1
    out = np.zeros((n, o, oh, ow))
    for i in range(n):
        for f in range(o):
            for p in range(oh):
                for q in range(ow):
                    window = xp[i, :, p * sh:p * sh + kh, q * sw:q * sw + kw]
                    out[i, f, p, q] = np.sum(window * w[f]) + (b[f] if b is not None else 0)
    return out


def _conv_reference_grads(x, w, g, stride, padding):
    """dL/dx and dL/dw of L = sum(conv(x, w) * g), accumulated window by window."""
    sh, sw = stride
    ph, pw = padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    n, o, oh, ow = g.shape
    kh, kw = w.shape[2:]
    for i in range(n):
        for f in range(o):
            for p in range(oh):
                for q in range(ow):
                    window = xp[i, :, p * sh:p * sh + kh, q * sw:q * sw + kw]
                    dw[f] += g[i, f, p, q] * window
                    dxp[i, :, p * sh:p * sh + kh, q * sw:q * sw + kw] += g[i, f, p, q] * w[f]
    return dxp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]], dw


@pytest.mark.parametrize("kernel,stride,padding", [
    ((3, 3), (1, 1), (0, 0)), ((3, 3), (1, 1), (1, 1)), ((2, 3), (2, 1), (1, 2)),
    ((3, 2), (2, 3), (0, 1)), ((1, 1), (1, 1), (0, 0)),
])
def test_conv2d_matches_naive_loop_values_and_gradients(kernel, stride, padding):
    rng = _rng(1)
    conv = nn.Conv2d(3, 4, kernel, stride=stride, padding=padding, seed=0)
    assert conv.weight.shape == (4, 3) + kernel
    x = rng.standard_normal((2, 3, 7, 6))
    want = _conv_reference(x, conv.weight, conv.bias, stride, padding)
    got = conv(x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    g_out = rng.standard_normal(want.shape)
    want_dx, want_dw = _conv_reference_grads(x, conv.weight, g_out, stride, padding)

    def loss(m, x):
        return cr.numpy.sum(m(x) * g_out)

    for method in ("overload", "graph"):
        gm, gx = cr.grad(loss, argnums=(0, 1), method=method)(conv, x)
        np.testing.assert_allclose(gx, want_dx, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(gm.weight, want_dw, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(gm.bias, g_out.sum((0, 2, 3)), rtol=1e-12)


def _conv_loss_functional(x, w, b, g_out):
    return cr.numpy.sum(F.conv2d(x, w, b, stride=2, padding=1) * g_out)


def test_conv2d_functional_with_every_method():
    rng = _rng(2)
    x, w, b = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), \
        rng.standard_normal(3)
    g_out = rng.standard_normal((2, 3, 3, 3))
    want_dx, want_dw = _conv_reference_grads(x, w, g_out, (2, 2), (1, 1))
    for method in METHODS:
        dx, dw, db = cr.grad(_conv_loss_functional, argnums=(0, 1, 2), method=method)(
            x, w, b, g_out)
        np.testing.assert_allclose(dx, want_dx, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dw, want_dw, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(db, g_out.sum((0, 2, 3)), rtol=1e-12)


def test_conv2d_second_order_against_finite_differences():
    rng = _rng(3)
    x, w = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((2, 2, 2, 2))

    def f(x, w):
        return cr.numpy.tanh(F.conv2d(x, w, None, stride=1, padding=1))

    cr.testing.check_grads(f, (x, w), order=2)


# ---------------------------------------------------------------------------------------------
# pooling against naive loops

def _pool_reference(x, k, s, p, kind):
    pad = -np.inf if kind == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])), constant_values=pad)
    n, c, h, w = xp.shape
    oh, ow = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
    out = np.zeros((n, c, oh, ow))
    dx = np.zeros_like(xp)  # the gradient of sum(out)
    for i in range(n):
        for ch in range(c):
            for a in range(oh):
                for b in range(ow):
                    rows = slice(a * s[0], a * s[0] + k[0])
                    cols = slice(b * s[1], b * s[1] + k[1])
                    win = xp[i, ch, rows, cols]
                    if kind == "max":
                        out[i, ch, a, b] = win.max()
                        r, q = np.unravel_index(np.argmax(win), win.shape)
                        dx[i, ch, rows, cols][r, q] += 1.0
                    else:
                        out[i, ch, a, b] = win.mean()
                        dx[i, ch, rows, cols] += 1.0 / win.size
    return out, dx[:, :, p[0]:p[0] + x.shape[2], p[1]:p[1] + x.shape[3]]


@pytest.mark.parametrize("layer_cls,kind", [(nn.MaxPool2d, "max"), (nn.AvgPool2d, "avg")])
@pytest.mark.parametrize("k,s,p", [((2, 2), None, (0, 0)), ((3, 3), (2, 2), (1, 1)),
                                   ((2, 3), (1, 2), (1, 0))])
def test_pooling_matches_naive_loop(layer_cls, kind, k, s, p):
    x = _separated((2, 3, 7, 6), seed=4)
    layer = layer_cls(k, stride=s, padding=p)
    want, want_dx = _pool_reference(x, k, s if s is not None else k, p, kind)
    np.testing.assert_allclose(layer(x), want, rtol=1e-13, atol=1e-15)

    def total(x):
        return cr.numpy.sum(layer(x))

    for method in ("overload", "graph"):
        np.testing.assert_allclose(cr.grad(total, method=method)(x), want_dx, atol=1e-14)
    cr.testing.check_grads(lambda x: layer(x), (x,), order=1, eps=1e-4)


def test_max_pool_splits_the_derivative_among_tied_maxima():
    x = np.zeros((1, 1, 2, 2))
    g = cr.grad(lambda x: cr.numpy.sum(F.max_pool2d(x, 2)))(x)
    np.testing.assert_allclose(g, np.full((1, 1, 2, 2), 0.25))


def test_pooling_and_conv_reject_bad_shapes():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        nn.MaxPool2d(2)(np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match="smaller than the kernel"):
        nn.AvgPool2d(5)(np.zeros((1, 1, 4, 4)))
    with pytest.raises(ValueError, match="padding"):
        nn.MaxPool2d(2, padding=2)
    with pytest.raises(ValueError, match="kernel must have shape"):
        F.conv2d(np.zeros((1, 3, 5, 5)), np.zeros((2, 2, 3, 3)))
    with pytest.raises(ValueError, match="stride"):
        nn.Conv2d(1, 1, 3, stride=0)
    with pytest.raises(ValueError, match="in_channels"):
        nn.Conv2d(0, 1, 3)


# ---------------------------------------------------------------------------------------------
# activations, flatten

@pytest.mark.parametrize("layer,order", [(nn.Tanh(), 2), (nn.Sigmoid(), 2), (nn.GELU(), 2),
                                         (nn.ReLU(), 1), (nn.Identity(), 2)])
def test_activations_against_finite_differences(layer, order):
    x = _separated((3, 4), seed=5, scale=0.37)
    cr.testing.check_grads(lambda x: layer(x), (x,), order=order)


def test_activation_values():
    x = np.array([-3.0, -0.5, 0.0, 0.5, 3.0])
    np.testing.assert_allclose(nn.ReLU()(x), np.maximum(x, 0))
    np.testing.assert_allclose(nn.Sigmoid()(x), 1 / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_allclose(nn.Tanh()(x), np.tanh(x))
    c = math.sqrt(2 / math.pi)
    np.testing.assert_allclose(nn.GELU()(x), 0.5 * x * (1 + np.tanh(c * (x + 0.044715 * x ** 3))),
                               rtol=1e-15)
    np.testing.assert_allclose(cr.grad(lambda x: cr.numpy.sum(nn.ReLU()(x)))(x),
                               [0, 0, 0, 1, 1])  # relu'(0) = 0
    assert np.isfinite(nn.Sigmoid()(np.array([-1e4, 1e4]))).all()


def test_flatten():
    x = np.arange(24.0).reshape(2, 3, 4)
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten(start_dim=2)(x).shape == (2, 3, 4)
    assert nn.Flatten(start_dim=0)(x).shape == (24,)
    g = cr.grad(lambda x: cr.numpy.sum(nn.Flatten()(x) ** 2))(x)
    np.testing.assert_allclose(g, 2 * x)


# ---------------------------------------------------------------------------------------------
# normalisation

def test_layer_norm_values_and_gradients():
    rng = _rng(6)
    x = rng.standard_normal((3, 5)) * 4 + 2
    ln = nn.LayerNorm(5)
    y = ln(x)
    np.testing.assert_allclose(y.mean(-1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(-1), 1 / (1 + 1e-5 / x.var(-1)), rtol=1e-10)
    w, b = rng.standard_normal(5), rng.standard_normal(5)
    cr.testing.check_grads(lambda x, w, b: F.layer_norm(x, (5,), w, b), (x, w, b), order=2)
    x3 = rng.standard_normal((2, 3, 4))
    cr.testing.check_grads(lambda x: F.layer_norm(x, (3, 4)), (x3,), order=1)
    with pytest.raises(ValueError, match="normalized_shape"):
        ln(np.zeros((3, 4)))


def test_batch_norm_training_eval_and_running_statistics():
    rng = _rng(7)
    bn = nn.BatchNorm1d(3, momentum=0.25)
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    assert [n for n, _ in bn.named_buffers()] == ["running_mean", "running_var"]
    x = rng.standard_normal((8, 3)) * [1.0, 2.0, 3.0] + [5.0, -1.0, 0.0]
    y = bn(x)  # training: batch statistics
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(y, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), rtol=1e-12)
    np.testing.assert_allclose(bn.running_mean, 0.25 * x.mean(0), rtol=1e-14)
    np.testing.assert_allclose(bn.running_var, 0.75 + 0.25 * x.var(0, ddof=1), rtol=1e-14)
    bn.eval()
    rm, rv = bn.running_mean.copy(), bn.running_var.copy()
    np.testing.assert_allclose(bn(x), (x - rm) / np.sqrt(rv + 1e-5), rtol=1e-12)
    np.testing.assert_array_equal(bn.running_mean, rm)  # eval does not update


def test_batch_norm_gradients_and_update_under_differentiation():
    rng = _rng(8)
    x3 = rng.standard_normal((4, 2, 3))
    w, b = rng.standard_normal(2), rng.standard_normal(2)
    cr.testing.check_grads(lambda x, w, b: F.batch_norm(x, None, None, w, b), (x3, w, b),
                           order=2)
    bn = nn.BatchNorm1d(2)
    x = rng.standard_normal((6, 2))
    # the update happens once per differentiated call, on the copy the transform made, and is
    # seen by the model (the buffers are shared, updated in place)
    cr.grad(lambda m: cr.numpy.sum(m(x) ** 3))(bn)
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.mean(0), rtol=1e-14)
    bn.eval()
    cr.testing.check_grads(lambda x: bn(x), (x,), order=2)


def test_batch_norm_errors():
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        nn.BatchNorm1d(3)(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="more than one value"):
        nn.BatchNorm1d(3)(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="momentum"):
        nn.BatchNorm1d(3, momentum=2.0)


# ---------------------------------------------------------------------------------------------
# embedding, dropout

def test_embedding_rows_and_accumulated_gradient():
    emb = nn.Embedding(5, 3, seed=0)
    idx = np.array([[0, 2], [2, 4]])
    np.testing.assert_array_equal(emb(idx), emb.weight[idx])
    c = _rng(9).standard_normal((2, 2, 3))

    def loss(m):
        return cr.numpy.sum(m(idx) * c)

    want = np.zeros((5, 3))
    np.add.at(want, idx, c)
    for method in ("overload", "graph"):
        np.testing.assert_allclose(cr.grad(loss, method=method)(emb).weight, want, rtol=1e-14)
    with pytest.raises(TypeError, match="integers"):
        emb(np.array([0.0, 1.0]))
    with pytest.raises(IndexError, match=r"\[0, 5\)"):
        emb(np.array([5]))


def test_dropout_modes_masks_and_gradient():
    x = np.ones((200, 50))
    drop = nn.Dropout(0.3, seed=0)
    y1, y2 = drop(x), drop(x)
    assert not np.array_equal(y1, y2)  # a new mask per call
    assert set(np.unique(y1)) <= {0.0, 1 / 0.7}
    assert abs((y1 == 0).mean() - 0.3) < 0.02
    np.testing.assert_array_equal(nn.Dropout(0.3, seed=0)(x), y1)  # reproducible from the seed
    g = cr.grad(lambda x: cr.numpy.sum(nn.Dropout(0.3, seed=0)(x)))(x)
    np.testing.assert_array_equal(g, y1)  # the mask, scaled
    drop.eval()
    assert drop(x) is x
    assert nn.Dropout(0.0)(x) is x
    np.testing.assert_array_equal(nn.Dropout(1.0)(x), 0 * x)
    with pytest.raises(ValueError, match="p must be"):
        nn.Dropout(1.5)


def test_dropout_refuses_to_be_frozen_into_a_graph():
    model = nn.Sequential(nn.Linear(3, 3, seed=0), nn.Dropout(0.5, seed=0))
    x = np.ones((2, 3))

    def loss(m, x):
        return cr.numpy.sum(m(x))

    with pytest.raises(NotImplementedError, match="method='overload'"):
        cr.grad(loss, method="graph")(model, x)
    model.eval()
    np.testing.assert_allclose(cr.grad(loss, method="graph")(model, x)[0].weight,
                               cr.grad(loss)(model, x)[0].weight, rtol=1e-15)


# ---------------------------------------------------------------------------------------------
# losses

def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_cross_entropy_value_and_gradient_softmax_minus_onehot():
    rng = _rng(10)
    logits = rng.standard_normal((6, 4))
    labels = np.array([0, 3, 1, 1, 2, 0])
    p = _softmax(logits)
    assert nn.cross_entropy(logits, labels) == pytest.approx(
        -np.mean(np.log(p[np.arange(6), labels])), rel=1e-14)
    onehot = np.eye(4)[labels]
    for method in METHODS:
        g = cr.grad(nn.cross_entropy, method=method)(logits, labels)
        np.testing.assert_allclose(g, (p - onehot) / 6, rtol=1e-12, atol=1e-15)
    g_sum = cr.grad(lambda z: nn.cross_entropy(z, labels, reduction="sum"))(logits)
    np.testing.assert_allclose(g_sum, p - onehot, rtol=1e-12, atol=1e-15)
    per = nn.cross_entropy(logits, labels, reduction="none")
    assert per.shape == (6,)
    # probabilities, and float class indices, give the same
    assert nn.cross_entropy(logits, onehot) == pytest.approx(per.mean(), rel=1e-14)
    assert nn.cross_entropy(logits, labels.astype(float)) == pytest.approx(per.mean(), rel=1e-14)


def test_cross_entropy_label_smoothing_against_hand_formula():
    rng = _rng(11)
    logits, labels, eps = rng.standard_normal((5, 3)), np.array([2, 0, 1, 1, 0]), 0.2
    logp = np.log(_softmax(logits))
    target = (1 - eps) * np.eye(3)[labels] + eps / 3
    want = -np.mean(np.sum(target * logp, -1))
    assert nn.cross_entropy(logits, labels, label_smoothing=eps) == pytest.approx(want, rel=1e-14)
    want_alt = (1 - eps) * -np.mean(logp[np.arange(5), labels]) + eps * -np.mean(logp)
    assert want == pytest.approx(want_alt, rel=1e-14)
    g = cr.grad(lambda z: nn.cross_entropy(z, labels, label_smoothing=eps))(logits)
    np.testing.assert_allclose(g, (_softmax(logits) - target) / 5, rtol=1e-12, atol=1e-15)


def test_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 1e4]])
    labels = np.array([0, 1])
    # exact: row 0 loss 0 (exp(-1e4) underflows), row 1 loss log 2
    assert nn.cross_entropy(logits, labels) == pytest.approx(math.log(2) / 2, rel=1e-14)
    g = cr.grad(nn.cross_entropy)(logits, labels)
    np.testing.assert_allclose(g, [[0, 0, 0], [0, -0.25, 0.25]], atol=1e-15)
    worst = nn.cross_entropy(logits, np.array([2, 0]))
    assert worst == pytest.approx(1e4 + 0.5 * (2e4 + math.log(2)), rel=1e-14)


def test_cross_entropy_under_graph_with_float_labels_compiles_once():
    logits = _rng(12).standard_normal((4, 3))
    f = cr.grad(nn.cross_entropy, method="graph")
    g1 = f(logits, np.array([0.0, 1.0, 2.0, 0.0]))
    g2 = f(logits, np.array([2.0, 2.0, 1.0, 0.0]))
    assert len(f.cache) == 1  # float labels are an input of the compiled code
    np.testing.assert_allclose(g2, cr.grad(nn.cross_entropy)(logits, np.array([2, 2, 1, 0])),
                               rtol=1e-14)
    assert not np.allclose(g1, g2)


def test_cross_entropy_errors():
    with pytest.raises(ValueError, match=r"in \[0, 3\)"):
        nn.cross_entropy(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="do not fit"):
        nn.cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="reduction"):
        nn.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        nn.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), label_smoothing=-0.1)


def test_mse_value_and_gradient():
    rng = _rng(13)
    pred, target = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    assert nn.mse(pred, target) == pytest.approx(np.mean((pred - target) ** 2), rel=1e-14)
    for method in METHODS:
        np.testing.assert_allclose(cr.grad(nn.mse, method=method)(pred, target),
                                   2 * (pred - target) / 8, rtol=1e-13)
    with pytest.raises(ValueError, match="must match"):
        nn.mse(pred, target[:, :1])


def test_binary_cross_entropy_with_logits_value_gradient_and_stability():
    rng = _rng(14)
    x, t = rng.standard_normal(7) * 3, rng.uniform(size=7)
    s = 1 / (1 + np.exp(-x))
    want = -np.mean(t * np.log(s) + (1 - t) * np.log(1 - s))
    assert nn.binary_cross_entropy_with_logits(x, t) == pytest.approx(want, rel=1e-13)
    for method in METHODS:
        np.testing.assert_allclose(cr.grad(nn.binary_cross_entropy_with_logits, method=method)(
            x, t), (s - t) / 7, rtol=1e-12)
    big = np.array([1e4, -1e4, 1e4, -1e4])
    tb = np.array([1.0, 0.0, 0.0, 1.0])
    per = nn.binary_cross_entropy_with_logits(big, tb, reduction="none")
    np.testing.assert_allclose(per, [0, 0, 1e4, 1e4])
    g = cr.grad(lambda z: nn.binary_cross_entropy_with_logits(z, tb, reduction="sum"))(big)
    np.testing.assert_allclose(g, [0, 0, 1, -1])


# ---------------------------------------------------------------------------------------------
# every layer inside a model, against finite differences of the loss

def test_model_gradients_against_finite_differences():
    rng = _rng(15)
    cnn = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, rng=rng), nn.Tanh(),
                        nn.AvgPool2d(2), nn.Conv2d(3, 2, 2, stride=2, rng=rng), nn.GELU(),
                        nn.Flatten(), nn.Linear(2, 4, rng=rng), nn.LayerNorm(4),
                        nn.Sigmoid(), nn.Linear(4, 3, rng=rng), nn.BatchNorm1d(3))
    x = rng.standard_normal((5, 2, 4, 4))
    y = np.array([0, 1, 2, 1, 0])

    def loss(m, x, y):
        return nn.cross_entropy(m(x), y, label_smoothing=0.1)

    cnn.eval()  # (training mode's BatchNorm would update its statistics at every evaluation)
    _module_fd_check(loss, cnn, x, y)
    emb = nn.Sequential(nn.Embedding(6, 4, rng=rng), nn.Flatten(), nn.Linear(8, 3, rng=rng))
    _module_fd_check(loss, emb, np.array([[1, 5], [0, 1], [2, 2], [3, 4], [5, 5]]), y)


# ---------------------------------------------------------------------------------------------
# initialisers

def test_initialisers_fans_bounds_and_reproducibility():
    assert nn.init.fans((20, 30)) == (20, 30)
    assert nn.init.fans((8, 4, 3, 3)) == (36, 72)
    assert nn.init.fans((5,)) == (5, 5)
    w = nn.init.kaiming_uniform((400, 300), seed=0)
    bound = math.sqrt(2) * math.sqrt(3 / 400)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    w = nn.init.kaiming_normal((400, 300), nonlinearity="relu", seed=0)
    assert w.std() == pytest.approx(math.sqrt(2 / 400), rel=0.02)
    w = nn.init.xavier_uniform((400, 300), seed=0)
    assert np.abs(w).max() <= math.sqrt(6 / 700)
    w = nn.init.xavier_normal((400, 300), seed=0)
    assert w.std() == pytest.approx(math.sqrt(2 / 700), rel=0.02)
    assert not nn.init.zeros((2, 3)).any()
    np.testing.assert_array_equal(nn.init.kaiming_uniform((3, 4), seed=1),
                                  nn.init.kaiming_uniform((3, 4), rng=np.random.default_rng(1)))
    with pytest.raises(ValueError, match="not both"):
        nn.init.xavier_normal((2, 2), seed=0, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        nn.init.xavier_normal((2, 2), rng=0)
    with pytest.raises(ValueError, match="mode"):
        nn.init.kaiming_normal((2, 2), mode="fan_avg", seed=0)


def test_a_shared_rng_makes_a_whole_model_reproducible():
    def build():
        rng = np.random.default_rng(42)
        return nn.Sequential(nn.Linear(3, 4, rng=rng), nn.Linear(4, 2, rng=rng))

    a, b = build(), build()
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p, q)
    assert not np.array_equal(a[0].weight[:2, :2], a[1].weight[:2, :2])
