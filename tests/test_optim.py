"""cr.optim: the update formulas by hand and against torch.optim, both styles (stateful and
functional, also under jit), gradient accumulation, state dicts, schedules and clipping."""
import dataclasses
import doctest
import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.optim as optim
from chainrule.optim import clip as clip_module
from chainrule.optim import optimizers as optimizers_module
from chainrule.optim import schedules as schedules_module


@cr.tree.register_dataclass
@dataclasses.dataclass
class Layer:
    """A module-like pytree: its leaves are the parameter arrays."""
    weight: np.ndarray
    bias: np.ndarray


class Normed:
    """A pytree whose static part holds a buffer by value, as cr.nn modules hold BatchNorm's
    running statistics, which a forward pass changes in place."""

    def __init__(self, w, running):
        self.w, self.running = w, running


cr.tree.register(Normed, lambda m: ((m.w,), tuple(m.running)),
                 lambda aux, ch: Normed(ch[0], np.array(aux)))


def _problem():
    """A least-squares quadratic in (w, b) with unequal curvatures, and its gradient."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, 3)) * np.array([1.0, 3.0, 0.3])
    y = rng.normal(size=16)
    params = {"w": np.array([0.5, -1.0, 2.0]), "b": np.array([0.3])}

    def loss(p):
        r = X @ p["w"] + p["b"] - y
        return 0.5 * np.mean(r * r)

    def grad(p):
        r = X @ p["w"] + p["b"] - y
        return {"w": X.T @ r / len(y), "b": np.array([r.mean()])}

    return X, y, params, loss, grad


def _copy(tree):
    return cr.tree.tree_map(np.copy, tree)


# -- hand-computed updates ---------------------------------------------------------------------

def test_sgd_plain_and_weight_decay_by_hand():
    p = {"w": np.array([1.0, -2.0])}
    g = {"w": np.array([0.5, 0.25])}
    optim.SGD(p, lr=0.1).step(g)
    np.testing.assert_allclose(p["w"], [1.0 - 0.05, -2.0 - 0.025], rtol=0, atol=1e-15)
    p = {"w": np.array([1.0, -2.0])}
    optim.SGD(p, lr=0.1, weight_decay=0.01).step(g)
    np.testing.assert_allclose(p["w"], [1.0 - 0.1 * (0.5 + 0.01), -2.0 - 0.1 * (0.25 - 0.02)],
                               rtol=0, atol=1e-15)


def test_sgd_momentum_nesterov_and_dampening_by_hand():
    g1, g2, g3 = 1.0, -2.0, 0.5
    lr, mu = 0.1, 0.9
    # heavy ball: b1 = g1, b2 = mu b1 + g2, b3 = mu b2 + g3
    p = np.array([1.0])
    opt = optim.SGD([p], lr=lr, momentum=mu)
    b, x = 0.0, 1.0
    for t, g in enumerate((g1, g2, g3)):
        opt.step([np.array([g])])
        b = g if t == 0 else mu * b + g
        x -= lr * b
        assert p[0] == pytest.approx(x, abs=1e-15)
    # Nesterov: step with g + mu * b
    p = np.array([1.0])
    opt = optim.SGD([p], lr=lr, momentum=mu, nesterov=True)
    b, x = 0.0, 1.0
    for t, g in enumerate((g1, g2, g3)):
        opt.step([np.array([g])])
        b = g if t == 0 else mu * b + g
        x -= lr * (g + mu * b)
        assert p[0] == pytest.approx(x, abs=1e-15)
    # dampening: the first step keeps g undamped, as PyTorch's buffer starts at g
    p = np.array([1.0])
    opt = optim.SGD([p], lr=lr, momentum=mu, dampening=0.5)
    b, x = 0.0, 1.0
    for t, g in enumerate((g1, g2, g3)):
        opt.step([np.array([g])])
        b = g if t == 0 else mu * b + 0.5 * g
        x -= lr * b
        assert p[0] == pytest.approx(x, abs=1e-15)


def _adam_by_hand(x, grads, lr, b1, b2, eps, wd=0.0, decoupled=False, amsgrad=False):
    m = v = vmax = 0.0
    for t, g in enumerate(grads, start=1):
        if decoupled:
            x = x * (1 - lr * wd)
        else:
            g = g + wd * x
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = max(vmax, v)
        vv = vmax if amsgrad else v
        x = x - lr / (1 - b1 ** t) * m / (math.sqrt(vv) / math.sqrt(1 - b2 ** t) + eps)
    return x


@pytest.mark.parametrize("cls, kw", [
    (optim.Adam, {}),
    (optim.Adam, {"weight_decay": 0.1}),
    (optim.Adam, {"amsgrad": True}),
    (optim.AdamW, {"weight_decay": 0.1}),
    (optim.AdamW, {"weight_decay": 0.1, "amsgrad": True}),
])
def test_adam_family_by_hand(cls, kw):
    grads = [0.3, -1.2, 0.05, 2.0]  # a large late gradient makes amsgrad's max matter
    lr, b1, b2, eps = 0.05, 0.8, 0.9, 1e-3
    p = np.array([1.5])
    opt = cls([p], lr=lr, betas=(b1, b2), eps=eps, **kw)
    for g in grads:
        opt.step([np.array([g])])
    want = _adam_by_hand(1.5, grads, lr, b1, b2, eps, wd=kw.get("weight_decay", 0.0),
                         decoupled=cls is optim.AdamW, amsgrad=kw.get("amsgrad", False))
    assert p[0] == pytest.approx(want, abs=1e-14)


def test_amsgrad_changes_the_result():
    out = []
    for ams in (False, True):
        p = np.array([1.0])
        opt = optim.Adam([p], lr=0.1, betas=(0.5, 0.5), amsgrad=ams)
        for g in (5.0, 0.1, 0.1):
            opt.step([np.array([g])])
        out.append(p[0])
    assert out[0] != out[1]


# -- against torch.optim -----------------------------------------------------------------------

_TORCH_CASES = [
    ("SGD", {"lr": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-2}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 1e-3}),
    ("Adam", {"lr": 0.05}),
    ("Adam", {"lr": 0.05, "betas": (0.8, 0.95), "eps": 1e-6, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.05, "amsgrad": True}),
    ("AdamW", {"lr": 0.05}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.2, "amsgrad": True}),
]


@pytest.mark.parametrize("name, kw", _TORCH_CASES)
def test_agrees_with_torch_for_20_steps(name, kw):
    torch = pytest.importorskip("torch")
    X, y, params, loss, grad = _problem()
    tp = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    topt = getattr(torch.optim, name)([tp["w"], tp["b"]], foreach=False, **kw)
    tX, ty = torch.tensor(X), torch.tensor(y)

    ours = _copy(params)
    opt = getattr(optim, name)(ours, **kw)
    fopt = getattr(optim, name)(**kw)
    fparams, fstate = _copy(params), fopt.init(params)
    for _ in range(20):
        topt.zero_grad()
        r = tX @ tp["w"] + tp["b"] - ty
        (0.5 * torch.mean(r * r)).backward()
        topt.step()
        opt.step(grad(ours))
        fparams, fstate = fopt.update(fparams, grad(fparams), fstate)
    for k in params:
        want = tp[k].detach().numpy()
        np.testing.assert_allclose(ours[k], want, rtol=0, atol=1e-12)
        np.testing.assert_allclose(fparams[k], want, rtol=0, atol=1e-12)
    assert loss(ours) < loss(params)


def test_schedules_agree_with_torch():
    torch = pytest.importorskip("torch")
    for make_ours, make_torch in [
        (lambda o: optim.StepLR(o, step_size=3, gamma=0.5),
         lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)),
        (lambda o: optim.CosineAnnealingLR(o, T_max=7, eta_min=0.01),
         lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.01)),
    ]:
        topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.3)
        tsched = make_torch(topt)
        opt = optim.SGD([np.zeros(1)], lr=0.3)
        sched = make_ours(opt)
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr()[0], abs=1e-15)
        for _ in range(20):  # past T_max, where the cosine climbs back
            topt.step()
            tsched.step()
            sched.step()
            assert opt.lr == pytest.approx(topt.param_groups[0]["lr"], abs=1e-12)
            assert sched.get_last_lr() == opt.lr


def test_clip_grad_norm_agrees_with_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    grads = {"a": rng.normal(size=(3, 4)), "b": rng.normal(size=5)}
    for norm_type in (2.0, 1.0, 3.0, math.inf):
        for max_norm in (0.5, 100.0):
            ts = [torch.zeros(3, 4, dtype=torch.float64, requires_grad=True),
                  torch.zeros(5, dtype=torch.float64, requires_grad=True)]
            ts[0].grad, ts[1].grad = torch.tensor(grads["a"]), torch.tensor(grads["b"])
            tnorm = torch.nn.utils.clip_grad_norm_(ts, max_norm, norm_type=norm_type)
            out, norm = optim.clip_grad_norm(grads, max_norm, norm_type=norm_type)
            assert norm == pytest.approx(float(tnorm), rel=1e-12)
            np.testing.assert_allclose(out["a"], ts[0].grad.numpy(), rtol=1e-12, atol=0)
            np.testing.assert_allclose(out["b"], ts[1].grad.numpy(), rtol=1e-12, atol=0)


# -- the two styles ----------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda p=None: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01),
    lambda p=None: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    lambda p=None: optim.Adam(p, lr=0.1, amsgrad=True, weight_decay=0.01),
    lambda p=None: optim.AdamW(p, lr=0.1),
    # (the stateful step computes in place, with `out=`: it must agree to the last bit)
    lambda p=None: optim.SGD(p, lr=0.1),
    lambda p=None: optim.SGD(p, lr=0.1, weight_decay=0.05),
    lambda p=None: optim.SGD(p, lr=0.1, momentum=0.8),
    lambda p=None: optim.Adam(p, lr=0.05, betas=(0.8, 0.95), eps=1e-6),
    lambda p=None: optim.AdamW(p, lr=0.1, weight_decay=0.05, amsgrad=True),
])
def test_functional_matches_stateful_and_is_pure(make):
    _, _, params, _, grad = _problem()
    stateful = _copy(params)
    opt = make(stateful)
    fopt = make()
    fp, state = _copy(params), fopt.init(params)
    for _ in range(5):
        before_p, before_s = _copy(fp), _copy(state)
        g = grad(fp)
        new_fp, new_state = fopt.update(fp, g, state)
        for a, b in zip(cr.tree.leaves((fp, state)), cr.tree.leaves((before_p, before_s))):
            np.testing.assert_array_equal(a, b)  # the arguments are untouched
        fp, state = new_fp, new_state
        opt.step(grad(stateful))
    assert float(state["step"]) == opt.step_count == 5
    for k in params:
        np.testing.assert_array_equal(fp[k], stateful[k])


def test_functional_update_under_jit():
    _, _, params, _, grad = _problem()
    opt = optim.Adam(lr=0.1)
    jitted = cr.graph.jit(opt.update)
    p1, s1 = _copy(params), opt.init(params)
    p2, s2 = _copy(params), opt.init(params)
    for t in range(6):
        lr = 0.1 * 0.5 ** t  # a changing rate reaches the compiled code as an argument
        p1, s1 = opt.update(p1, grad(p1), s1, lr=lr)
        p2, s2 = jitted(p2, grad(p2), s2, lr=lr)
        for k in params:
            np.testing.assert_allclose(p2[k], p1[k], rtol=1e-13, atol=1e-15)
    assert float(s2["step"]) == 6


def test_sgd_with_dampening_under_jit():
    _, _, params, _, grad = _problem()
    opt = optim.SGD(lr=0.1, momentum=0.9, dampening=0.5)
    jitted = cr.graph.jit(opt.update)
    p1, s1 = _copy(params), opt.init(params)
    p2, s2 = _copy(params), opt.init(params)
    for _ in range(4):
        p1, s1 = opt.update(p1, grad(p1), s1)
        p2, s2 = jitted(p2, grad(p2), s2)
    for k in params:
        np.testing.assert_allclose(p2[k], p1[k], rtol=1e-13, atol=1e-15)


def test_trains_a_module_like_pytree_in_place_with_value_and_grad():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3
    layer = Layer(np.zeros(3), np.zeros(1))
    weight = layer.weight

    def loss(m, X, y):
        r = X @ m.weight + m.bias - y
        return np.mean(r * r)

    opt = optim.Adam(layer, lr=0.05)
    first = None
    for _ in range(300):
        value, grads = cr.value_and_grad(loss)(layer, X, y)
        first = value if first is None else first
        assert isinstance(grads, Layer)
        assert opt.step(grads) is layer
    assert layer.weight is weight  # updated in place
    assert loss(layer, X, y) < 1e-3 * first
    np.testing.assert_allclose(layer.weight, [1.0, -2.0, 0.5], atol=1e-2)


def test_module_whose_static_part_changes_during_forward():
    model = Normed(np.ones(2), np.zeros(2))
    opt = optim.SGD(model, lr=0.5)
    for _ in range(2):
        model.running += 1.0  # (as a training-mode forward pass would)
        grads = cr.grad(lambda m: np.sum(m.w * np.array([1.0, 2.0])))(model)
        opt.step(grads)  # the gradient's snapshot of `running` differs from the parameters'
    np.testing.assert_array_equal(model.w, [0.0, -1.0])
    with pytest.raises(ValueError, match=r"parameter \.w has shape \(2,\).*shape \(3,\)"):
        optim.SGD(Normed(np.ones(3), np.zeros(1))).step(grads)


def test_float32_parameters_stay_float32():
    p = {"w": np.ones(3, dtype=np.float32)}
    opt = optim.Adam(p, lr=0.1)
    opt.step({"w": np.ones(3)})  # float64 gradients
    assert p["w"].dtype == np.float32 and opt.state_dict()["exp_avg.0"].dtype == np.float32
    fp, state = opt.update(p, {"w": np.ones(3, dtype=np.float32)}, opt.init(p))
    assert fp["w"].dtype == np.float32


def test_constant_leaves_are_left_alone_and_none_gradients_accepted():
    params = {"w": np.ones(2), "name": "fc", "n": 3}
    opt = optim.SGD(params, lr=0.5)
    grads = cr.grad(lambda p: np.sum(p["w"] ** 2))(params)
    assert grads["name"] is None
    opt.step(grads)
    np.testing.assert_array_equal(params["w"], [0.0, 0.0])
    assert params["name"] == "fc" and params["n"] == 3
    opt.step({"w": np.ones(2), "name": "fc", "n": 3})  # a full-structure tree works too
    np.testing.assert_array_equal(params["w"], [-0.5, -0.5])
    fp, _ = opt.update(params, grads, opt.init(params))
    assert fp["name"] == "fc"


def test_pytorch_style_parameter_list():
    layer = Layer(np.ones((2, 2)), np.zeros(2))
    opt = optim.SGD(iter([layer.weight, layer.bias]), lr=0.5)  # a generator, as parameters()
    opt.step(Layer(np.ones((2, 2)), np.ones(2)))  # any tree with the same leaves, in order
    np.testing.assert_array_equal(layer.weight, 0.5)
    np.testing.assert_array_equal(layer.bias, -0.5)


# -- gradient accumulation ---------------------------------------------------------------------

def test_accumulate_then_step_equals_one_step_with_the_sum():
    _, _, params, _, grad = _problem()
    a, b = _copy(params), _copy(params)
    opt_a, opt_b = optim.Adam(a, lr=0.1), optim.Adam(b, lr=0.1)
    g1 = grad(a)
    g2 = cr.tree.tree_map(lambda x: 2.0 * x + 1.0, g1)
    opt_a.accumulate(g1)
    g1["w"][:] = 99.0  # the optimiser kept its own copy
    opt_a.accumulate(g2)
    g1 = grad(a)
    total = cr.tree.tree_map(np.add, g1, g2)
    np.testing.assert_array_equal(opt_a.accumulated["w"], total["w"])
    opt_a.step()
    opt_b.step(total)
    for k in params:
        np.testing.assert_array_equal(a[k], b[k])
    assert opt_a.accumulated is None  # step() cleared the sum
    with pytest.raises(ValueError, match=r"accumulate\(grads\)"):
        opt_a.step()
    opt_a.accumulate(g1)
    opt_a.zero_grad()
    assert opt_a.accumulated is None
    with pytest.raises(ValueError, match="no gradients"):
        opt_a.step()


def test_clip_the_accumulated_gradient():
    p = {"w": np.zeros(2)}
    opt = optim.SGD(p, lr=1.0)
    opt.accumulate({"w": np.array([3.0, 4.0])})
    clipped, norm = optim.clip_grad_norm(opt.accumulated, 1.0)
    assert norm == 5.0
    opt.step(clipped)
    opt.zero_grad()
    np.testing.assert_allclose(p["w"], [-0.6, -0.8], atol=1e-6)


# -- state dicts -------------------------------------------------------------------------------

def test_state_dict_round_trip_continues_identically(tmp_path):
    _, _, params, _, grad = _problem()
    a = _copy(params)
    opt_a = optim.Adam(a, lr=0.1, amsgrad=True)
    for _ in range(3):
        opt_a.step(grad(a))
    path = tmp_path / "opt.npz"
    np.savez(path, **opt_a.state_dict())
    b = _copy(a)
    opt_b = optim.Adam(b, lr=0.5, amsgrad=True)
    opt_b.load_state_dict(np.load(path))
    assert opt_b.lr == 0.1 and opt_b.step_count == 3
    for _ in range(3):
        opt_a.step(grad(a))
        opt_b.step(grad(b))
    for k in params:
        np.testing.assert_array_equal(a[k], b[k])


def test_state_dict_is_a_copy():
    p = {"w": np.ones(2)}
    opt = optim.SGD(p, lr=0.1, momentum=0.9)
    opt.step({"w": np.ones(2)})
    sd = opt.state_dict()
    sd["momentum_buffer.0"][:] = 7.0
    assert opt.state_dict()["momentum_buffer.0"][0] == 1.0


def test_load_state_dict_names_the_parameter():
    p = {"b": np.ones(2), "w": np.ones((2, 3))}
    opt = optim.Adam(p)
    sd = opt.state_dict()
    bad = dict(sd, **{"exp_avg.1": np.zeros((3, 2))})
    with pytest.raises(ValueError, match=r"exp_avg of parameter \['w'\].*\(3, 2\).*\(2, 3\)"):
        opt.load_state_dict(bad)
    missing = {k: v for k, v in sd.items() if k != "exp_avg_sq.0"}
    with pytest.raises(ValueError, match=r"no 'exp_avg_sq.0' \(the exp_avg_sq of parameter "
                                         r"\['b'\]\)"):
        opt.load_state_dict(missing)
    with pytest.raises(ValueError, match="unexpected entries"):
        opt.load_state_dict(dict(sd, **{"max_exp_avg_sq.0": np.zeros(2)}))


# -- errors ------------------------------------------------------------------------------------

def test_parameters_that_cannot_be_updated_in_place_are_named():
    with pytest.raises(TypeError, match=r"parameter \['b'\] is a float.*opt.update"):
        optim.SGD({"w": np.ones(2), "b": 0.5}, lr=0.1)
    with pytest.raises(TypeError, match=r"parameter \[1\] has dtype int64"):
        optim.Adam((np.ones(2), np.arange(3)))
    ro = np.ones(2)
    ro.flags.writeable = False
    with pytest.raises(TypeError, match=r"parameter \.weight is a read-only array"):
        optim.SGD(Layer(ro, np.ones(1)))
    with pytest.raises(TypeError, match=r"parameter \[0\] is a traced value or cr.Tensor"):
        optim.SGD([cr.tensor(np.ones(2), requires_grad=True)])
    with pytest.raises(ValueError, match="no float arrays"):
        optim.SGD({"name": "x"})


def test_gradient_mismatches_are_named():
    opt = optim.SGD(Layer(np.ones((2, 2)), np.ones(2)), lr=0.1)
    with pytest.raises(ValueError, match=r"parameter \.bias has shape \(3,\).*shape \(2,\)"):
        opt.step(Layer(np.ones((2, 2)), np.ones(3)))
    with pytest.raises(ValueError, match="structure"):
        opt.step({"weight": np.ones((2, 2)), "bias": np.ones(2)})
    with pytest.raises(ValueError, match=r"state has no 'exp_avg'"):
        optim.Adam().update({"w": np.ones(1)}, {"w": np.ones(1)}, {"step": np.zeros(())})


def test_functional_optimiser_has_no_stateful_methods():
    with pytest.raises(TypeError, match=r"construct the optimiser with them"):
        optim.SGD(lr=0.1).step({"w": np.ones(1)})


@pytest.mark.parametrize("make, match", [
    (lambda: optim.SGD(lr=-1.0), "lr=-1.0 is invalid"),
    (lambda: optim.SGD(lr=float("nan")), "lr=nan is invalid"),
    (lambda: optim.SGD(lr="fast"), "lr must be a number"),
    (lambda: optim.SGD(momentum=-0.1), "momentum"),
    (lambda: optim.SGD(nesterov=True), "nesterov=True needs momentum > 0"),
    (lambda: optim.SGD(momentum=0.9, dampening=0.1, nesterov=True), "dampening = 0"),
    (lambda: optim.Adam(betas=(0.9, 1.0)), r"betas\[1\]=1.0 is invalid; it must be >= 0.0 and "
                                            r"< 1.0"),
    (lambda: optim.Adam(betas=0.9), "betas must be a pair"),
    (lambda: optim.AdamW(eps=-1e-8), "eps"),
    (lambda: optim.Adam(weight_decay=-1), "weight_decay"),
])
def test_bad_hyperparameters(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_repr():
    assert repr(optim.SGD(lr=0.1, momentum=0.9)) == (
        "SGD(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False)")
    assert repr(optim.AdamW()).startswith("AdamW(lr=0.001, betas=(0.9, 0.999)")


# -- schedules ---------------------------------------------------------------------------------

def test_step_lr_closed_form():
    opt = optim.SGD([np.zeros(1)], lr=0.8)
    sched = optim.StepLR(opt, step_size=3, gamma=0.5)
    lrs = [sched.get_last_lr()] + [sched.step() for _ in range(10)]
    assert lrs == pytest.approx([0.8 * 0.5 ** (t // 3) for t in range(11)], abs=1e-15)
    assert opt.lr == lrs[-1] and sched.lr_at(6) == pytest.approx(0.2)


def test_cosine_closed_form_and_warmup():
    opt = optim.Adam([np.zeros(1)], lr=1.0)
    sched = optim.CosineAnnealingLR(opt, T_max=10, eta_min=0.1, warmup_steps=4)
    lrs = [sched.get_last_lr()] + [sched.step() for _ in range(14)]
    warm = [(t + 1) / 5 for t in range(4)]
    cos = [0.1 + 0.9 * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(11)]
    assert lrs == pytest.approx(warm + cos, abs=1e-15)
    assert lrs[4] == 1.0 and lrs[-1] == pytest.approx(0.1)


def test_schedule_state_dict_and_errors():
    opt = optim.SGD([np.zeros(1)], lr=1.0)
    sched = optim.CosineAnnealingLR(opt, T_max=5)
    for _ in range(3):
        sched.step()
    sd = sched.state_dict()
    opt2 = optim.SGD([np.zeros(1)], lr=123.0)
    sched2 = optim.CosineAnnealingLR(opt2, T_max=5)
    sched2.load_state_dict(sd)
    assert opt2.lr == opt.lr and sched2.step() == sched.step()
    with pytest.raises(ValueError, match="step_size=0 is invalid"):
        optim.StepLR(opt, step_size=0)
    with pytest.raises(TypeError, match="T_max must be an integer"):
        optim.CosineAnnealingLR(opt, T_max=2.5)
    with pytest.raises(TypeError, match="with an `lr` attribute"):
        optim.StepLR(object(), step_size=1)
    with pytest.raises(ValueError, match="warmup_steps=-1"):
        optim.StepLR(opt, step_size=1, warmup_steps=-1)


# -- clipping ----------------------------------------------------------------------------------

def test_clip_grad_norm_values_and_purity():
    g = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]]), "name": None}
    out, norm = optim.clip_grad_norm(g, max_norm=1.0)
    assert norm == 5.0
    assert out["name"] is None
    np.testing.assert_allclose(out["a"], [3.0 / (5 + 1e-6), 0.0], rtol=1e-15)
    np.testing.assert_array_equal(g["a"], [3.0, 0.0])  # the argument is untouched
    out, norm = optim.clip_grad_norm(g, max_norm=10.0)
    np.testing.assert_array_equal(out["b"], [[4.0]])
    _, norm = optim.clip_grad_norm(g, 1.0, norm_type=math.inf)
    assert norm == 4.0
    _, norm = optim.clip_grad_norm(g, 1.0, norm_type=1)
    assert norm == 7.0
    assert optim.clip_grad_norm({}, 1.0) == ({}, 0.0)


def test_clip_grad_norm_errors_and_nonfinite():
    with pytest.raises(ValueError, match="max_norm"):
        optim.clip_grad_norm([np.ones(2)], -1.0)
    with pytest.raises(ValueError, match="norm_type"):
        optim.clip_grad_norm([np.ones(2)], 1.0, norm_type=0)
    bad = [np.array([np.inf, 1.0])]
    with np.errstate(invalid="ignore"):  # inf * 0, as in PyTorch
        _, norm = optim.clip_grad_norm(bad, 1.0)
    assert norm == math.inf
    with pytest.raises(FloatingPointError, match="non-finite"):
        optim.clip_grad_norm(bad, 1.0, error_if_nonfinite=True)


def test_clip_grad_norm_under_jit():
    g = {"a": np.array([3.0, 0.0]), "b": np.array([4.0])}
    out, norm = cr.graph.jit(lambda g: optim.clip_grad_norm(g, 1.0))(g)
    assert float(norm) == pytest.approx(5.0)
    np.testing.assert_allclose(out["b"], [4.0 / (5 + 1e-6)], rtol=1e-14)


# -- docstrings --------------------------------------------------------------------------------

@pytest.mark.parametrize("module", [optimizers_module, schedules_module, clip_module])
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("make", [
    lambda p=None: optim.AdamW(p, lr=0.1, weight_decay=0.05, amsgrad=True),
    lambda p=None: optim.Adam(p, lr=0.1, weight_decay=0.01),
])
def test_adam_over_arrays_of_several_shapes_and_dtypes(make):
    # (arrays of one dtype are updated together, their moments views of one flat array; a
    # mixed set one by one: both as the functional update, to the last bit, and the state
    # keeps one moment array per parameter, in its shape)
    rng = np.random.default_rng(3)
    for dtypes in ((np.float64, np.float64, np.float64), (np.float64, np.float32, np.float64)):
        params = {"w": rng.normal(size=(4, 3)).astype(dtypes[0]),
                  "b": rng.normal(size=3).astype(dtypes[1]),
                  "s": np.array(0.5, dtype=dtypes[2])}
        stateful = _copy(params)
        opt, fopt = make(stateful), make()
        fp, state = _copy(params), fopt.init(params)
        for k in range(4):
            g = {n: (np.sin(v * (k + 1)) + 0.1).astype(v.dtype) for n, v in fp.items()}
            fp, state = fopt.update(fp, g, state)
            opt.step({n: v.copy() for n, v in g.items()})
        for n in params:
            np.testing.assert_array_equal(fp[n], stateful[n])
            assert stateful[n].dtype == params[n].dtype
        saved = opt.state_dict()
        for k, n in enumerate(sorted(params)):  # (a dict's leaves in key order)
            assert saved[f"exp_avg.{k}"].shape == params[n].shape
