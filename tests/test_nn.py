"""cr.nn.Module: parameters found from attributes, pytrees, every method on a whole model,
state dicts and files, modes, repr, and a small training loop."""
import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule import tree
from chainrule._core.checks import transform_target

nn = cr.nn


def _mlp(seed=0):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Linear(6, 16, rng=rng), nn.Tanh(), nn.Linear(16, 8, rng=rng),
                         nn.ReLU(), nn.Linear(8, 3, rng=rng))


def _cnn(seed=0):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3, stride=2, padding=1, rng=rng), nn.GELU(),
                         nn.AvgPool2d(2), nn.Flatten(), nn.Linear(6, 3, rng=rng))


def _data(shape, n=8, seed=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n,) + shape), rng.integers(0, 3, n)


def loss_fn(model, x, y):
    return nn.cross_entropy(model(x), y)


class Block(nn.Module):
    """A module with its own parameter, a submodule, a list of submodules, a buffer, a private
    array and hyper-parameters, assigned interleaved."""

    def __init__(self):
        self.scale = np.full(3, 2.0)
        self.first = nn.Linear(3, 3, seed=0)
        self.steps = 4  # hyper-parameter
        self.blocks = [nn.Linear(3, 3, seed=1), nn.Tanh(), nn.Linear(3, 3, seed=2)]
        self.register_buffer("count", np.zeros(1))
        self._cache = np.ones(3)  # private: not a parameter
        self.table = np.arange(3)  # integers: not a parameter

    def forward(self, x):
        h = self.first(x) * self.scale
        for b in self.blocks:
            h = b(h)
        return h


# ---------------------------------------------------------------------------------------------
# parameters from attributes

def test_named_parameters_follow_assignment_order():
    m = Block()
    assert [n for n, _ in m.named_parameters()] == [
        "scale", "first.weight", "first.bias", "blocks.0.weight", "blocks.0.bias",
        "blocks.2.weight", "blocks.2.bias"]
    assert m.num_parameters() == 3 + 3 * 12
    assert [n for n, _ in m.named_buffers()] == ["count"]
    assert list(m.state_dict()) == [n for n, _ in m.named_parameters()] + ["count"]
    assert [n for n, _ in m.named_modules()] == ["", "first", "blocks.0", "blocks.1", "blocks.2"]
    assert len(m.children()) == 4
    assert all(p is q for p, q in zip(m.parameters(), tree.leaves(m)))


def test_reassigning_and_deleting_attributes():
    m = nn.Linear(2, 2, seed=0)
    m.bias = None  # now a hyper-parameter
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    m.bias = np.zeros(2)  # a parameter again, at the end
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    del m.weight
    assert [n for n, _ in m.named_parameters()] == ["bias"]
    with pytest.raises(ValueError, match="already a parameter"):
        m.register_buffer("bias", np.zeros(2))


def test_sequential_indexing_and_errors():
    model = _mlp()
    assert len(model) == 5 and isinstance(model[0], nn.Linear) and model[-1] is model[4]
    assert [type(m).__name__ for m in model] == ["Linear", "Tanh", "Linear", "ReLU", "Linear"]
    head = model[:2]
    assert isinstance(head, nn.Sequential) and head[0] is model[0]
    with pytest.raises(IndexError, match="out of range"):
        model[5]
    with pytest.raises(TypeError, match="argument 1 is a ufunc, not a cr.nn.Module"):
        nn.Sequential(nn.ReLU(), np.tanh)
    model.append(nn.Sigmoid())
    assert len(model) == 6


def test_module_without_forward_says_what_to_do():
    class Empty(nn.Module):
        pass

    with pytest.raises(NotImplementedError, match="defines forward"):
        Empty()(1.0)


# ---------------------------------------------------------------------------------------------
# modules are pytrees

def test_flatten_and_unflatten_a_module():
    m = Block()
    leaves, structure = tree.flatten(m)
    assert len(leaves) == 7 and all(isinstance(v, np.ndarray) for v in leaves)
    assert tree.structure(m) == structure and hash(tree.structure(m)) == hash(structure)
    copy = tree.unflatten(structure, [2 * v for v in leaves])
    assert type(copy) is Block and copy.steps == 4 and copy.count is m.count
    np.testing.assert_array_equal(copy.first.weight, 2 * m.first.weight)
    assert m.first.weight is leaves[1]  # the original is unchanged
    assert copy.table is m.table and copy._cache is m._cache


def test_static_part_distinguishes_modes_hyperparameters_and_buffer_values():
    m = Block()
    s = tree.structure(m)
    assert tree.structure(Block()) == s  # other parameter values, same structure
    m.eval()
    assert tree.structure(m) != s
    m.train()
    assert tree.structure(m) == s
    m.count[0] = 1.0  # a buffer's value is part of it (a graph may have baked it in)
    assert tree.structure(m) != s
    other = Block()
    other.steps = 5
    assert tree.structure(other) != s


class Scaled(nn.Module):
    def __init__(self):
        self.w = np.array([1.0, -2.0])
        self.power = 2            # hyper-parameters: ints, a list, a tuple
        self.offsets = [0.5, 0.25]
        self.names = ("a", "b")

    def forward(self, x):
        return cnp.sum((self.w * x) ** self.power) + self.offsets[0] * cnp.sum(x)


def test_a_compiled_model_sees_each_change_of_its_hyperparameters():
    """The static part of a module is reused from one flattening to the next only when it is the
    same objects of immutable kinds (cr.jit keys every call by it): an int rebound, a list
    changed in place, an array written in place each give a new key and the right value."""
    lin = nn.Linear(3, 3, seed=0)  # (ints and a tuple of names: reused once keyed)
    first = tree.structure(lin)
    hash(first)
    assert tree.structure(lin).aux is first.aux
    m, x = Scaled(), np.array([0.3, 0.7])
    s = tree.structure(m)
    assert tree.structure(m) == s and tree.structure(m).aux is not s.aux  # (a list: made anew)
    vg = cr.jit(cr.value_and_grad(lambda model, x: model(x)))

    def want(m):
        return float(np.sum((m.w * x) ** m.power) + m.offsets[0] * np.sum(x))

    assert np.isclose(vg(m, x)[0], want(m), rtol=1e-14)
    m.power = 3
    assert np.isclose(vg(m, x)[0], want(m), rtol=1e-14)
    m.offsets[0] = 2.0  # (in place: a list is compared by value)
    assert np.isclose(vg(m, x)[0], want(m), rtol=1e-14)
    m.names = ("a", "c")
    assert tree.structure(m) != s
    assert np.isclose(vg(m, x)[0], want(m), rtol=1e-14)


def test_grad_is_module_shaped_and_tree_map_updates():
    model = _mlp()
    x, y = _data((6,))
    g = cr.grad(loss_fn)(model, x, y)
    assert type(g) is nn.Sequential and type(g[0]) is nn.Linear
    assert [n for n, _ in g.named_parameters()] == [n for n, _ in model.named_parameters()]
    assert all(a.shape == p.shape for a, p in zip(g.parameters(), model.parameters()))
    new = tree.map(lambda p, d: p - 0.5 * d, model, g)
    assert type(new) is nn.Sequential and new[0].in_features == 6
    assert loss_fn(new, x, y) < loss_fn(model, x, y)


def test_forward_mode_along_the_gradient_gives_its_squared_norm():
    model = _mlp()
    x, y = _data((6,))
    g = cr.grad(loss_fn)(model, x, y)
    _, slope = cr.jvp(lambda m: loss_fn(m, x, y), (model,), (g,))
    assert slope == pytest.approx(sum(float(np.sum(a * a)) for a in tree.leaves(g)), rel=1e-12)


@pytest.mark.parametrize("build,shape", [(_mlp, (6,)), (_cnn, (1, 8, 8))],
                         ids=["mlp", "cnn"])
def test_overload_and_graph_agree_on_a_model(build, shape):
    model = build()
    x, y = _data(shape)
    v1, g1 = cr.value_and_grad(loss_fn, method="overload")(model, x, y)
    vg = cr.value_and_grad(loss_fn, method="graph")
    v2, g2 = vg(model, x, y)
    assert type(g2) is type(model)
    assert abs(v1 - v2) <= 1e-12
    for a, b in zip(tree.leaves(g1), tree.leaves(g2)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    # an updated model (new parameter values, same structure) reuses the compiled code
    model2 = tree.map(lambda p, d: p - 0.1 * d, model, g1)
    v3, g3 = vg(model2, x, y)
    assert len(vg.cache) == 1
    v4, g4 = cr.value_and_grad(loss_fn)(model2, x, y)
    assert abs(v3 - v4) <= 1e-12 and v3 != v2
    for a, b in zip(tree.leaves(g3), tree.leaves(g4)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_graph_recompiles_when_eval_statistics_change():
    model = nn.Sequential(nn.Linear(4, 3, seed=0), nn.BatchNorm1d(3)).eval()
    x, y = _data((4,))
    vg = cr.value_and_grad(loss_fn, method="graph")
    v1, _ = vg(model, x, y)
    model[1].running_mean[:] = [0.5, -1.0, 2.0]  # in place, as training updates it
    v2, g2 = vg(model, x, y)
    assert len(vg.cache) == 2 and v1 != v2
    v3, g3 = cr.value_and_grad(loss_fn)(model, x, y)
    assert abs(v2 - v3) <= 1e-12
    np.testing.assert_allclose(g2[0].weight, g3[0].weight, atol=1e-12)


def test_graph_warns_that_it_cannot_update_batch_norm_statistics():
    model = nn.Sequential(nn.Linear(4, 3, seed=0), nn.BatchNorm1d(3))
    x, y = _data((4,))
    with pytest.warns(UserWarning, match="running statistics are not updated"):
        cr.value_and_grad(loss_fn, method="graph")(model, x, y)
    assert not model[1].running_mean.any()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cr.value_and_grad(loss_fn)(model, x, y)  # overload: updated, no warning
    assert model[1].running_mean.any()


def loss_of_params(params, model, x, y):
    return nn.cross_entropy(nn.functional_call(model, params, x), y)


@pytest.mark.parametrize("method", ["overload", "graph", "source"])
def test_functional_call_makes_a_dict_of_parameters_differentiable_by_every_method(method):
    model = _cnn()
    x, y = _data((1, 8, 8))
    params = dict(model.named_parameters())
    v, g = cr.value_and_grad(loss_of_params, method=method)(params, model, x, y)
    v0, g0 = cr.value_and_grad(loss_fn)(model, x, y)
    assert abs(v - v0) <= 1e-12 and set(g) == set(params)
    for name, want in g0.named_parameters():
        np.testing.assert_allclose(g[name], want, rtol=0, atol=1e-12)
    with pytest.raises(KeyError, match="no parameter named 'nope'"):
        nn.functional_call(model, {"nope": np.zeros(1)}, x)


def test_generated_gradient_code_gives_the_module_shaped_gradient():
    # the generated adjoint code itself (not only the wrapper around it) returns a Sequential
    model = _mlp()
    x, y = _data((6,))
    target = transform_target(cr.source.grad(loss_fn))()
    inner = target(model, x, y)
    g0 = cr.grad(loss_fn)(model, x, y)
    assert type(inner) is nn.Sequential
    for a, b in zip(tree.leaves(inner), tree.leaves(g0)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_source_method_on_a_module_argument():
    model = _mlp()
    x, y = _data((6,))
    g = cr.grad(loss_fn, method="source")(model, x, y)
    want = cr.grad(loss_fn)(model, x, y)
    assert type(g) is nn.Sequential
    for (name, a), (_, b) in zip(g.named_parameters(), want.named_parameters()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=name)


# ---------------------------------------------------------------------------------------------
# state

def test_state_dict_round_trip_reproduces_predictions_exactly(tmp_path):
    model = _cnn(seed=0)
    x, _ = _data((1, 8, 8))
    want = model(x)
    other = _cnn(seed=1)
    assert not np.array_equal(other(x), want)
    other.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(other(x), want)
    fresh = _cnn(seed=2)
    path = model.save(tmp_path / "cnn")
    assert path.endswith("cnn.npz")
    assert fresh.load(path) is fresh
    np.testing.assert_array_equal(fresh(x), want)
    with np.load(path, allow_pickle=False) as data:
        assert sorted(data.files) == sorted(model.state_dict())


def test_state_dict_holds_copies_and_buffers():
    model = nn.Sequential(nn.Linear(3, 4, seed=0), nn.BatchNorm1d(4))
    state = model.state_dict()
    assert list(state) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                           "1.running_var"]
    state["0.weight"][:] = 0.0
    assert model[0].weight.any()
    x = np.random.default_rng(0).standard_normal((6, 3))
    model(x)  # updates running statistics
    trained = model.state_dict()
    fresh = nn.Sequential(nn.Linear(3, 4, seed=1), nn.BatchNorm1d(4))
    fresh.load_state_dict(trained)
    np.testing.assert_array_equal(fresh[1].running_var, model[1].running_var)
    np.testing.assert_array_equal(fresh.eval()(x), model.eval()(x))


def test_loading_a_missing_or_wrongly_shaped_array_names_the_parameter(tmp_path):
    model = _mlp()
    state = model.state_dict()
    del state["2.bias"]
    with pytest.raises(KeyError, match=r"parameter '2\.bias' of shape \(8,\)"):
        model.load_state_dict(state)
    state = model.state_dict()
    state["4.weight"] = np.zeros((3, 8))
    with pytest.raises(ValueError, match=r"'4\.weight' has shape \(8, 3\) in the model but "
                                         r"shape \(3, 8\)"):
        model.load_state_dict(state)
    state = model.state_dict()
    state["extra"] = np.zeros(1)
    with pytest.raises(KeyError, match="'extra'"):
        model.load_state_dict(state)
    model.load_state_dict(state, strict=False)
    # through a file: saved by a model of other sizes
    path = nn.Sequential(nn.Linear(6, 16, seed=0), nn.Tanh(), nn.Linear(16, 9, seed=0),
                         nn.ReLU(), nn.Linear(9, 3, seed=0)).save(tmp_path / "other.npz")
    before = [p.copy() for p in model.parameters()]
    with pytest.raises(ValueError, match=r"'2\.weight' has shape \(16, 8\)"):
        model.load(path)
    for p, q in zip(before, model.parameters()):  # checked before anything is copied
        np.testing.assert_array_equal(p, q)
    np.savez(tmp_path / "partial.npz", **{"0.weight": np.zeros((6, 16))})
    with pytest.raises(KeyError, match=r"'0\.bias'"):
        model.load(tmp_path / "partial.npz")


# ---------------------------------------------------------------------------------------------
# modes and printing

def test_train_and_eval_change_dropout_and_batch_norm():
    model = nn.Sequential(nn.Linear(4, 8, seed=0), nn.BatchNorm1d(8), nn.Dropout(0.5, seed=0),
                          nn.Linear(8, 2, seed=1))
    x = np.random.default_rng(0).standard_normal((16, 4))
    assert model.training and all(m.training for m in model.modules())
    a, b = model(x), model(x)
    assert not np.array_equal(a, b)  # dropout masks differ
    assert model.eval() is model and not any(m.training for m in model.modules())
    c, d = model(x), model(x)
    np.testing.assert_array_equal(c, d)
    stats = model[1].running_mean.copy()
    model(x)
    np.testing.assert_array_equal(model[1].running_mean, stats)
    assert model.train() is model and model[2].training
    with pytest.raises(TypeError, match="True or False"):
        model.train("yes")


def test_repr_golden():
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, seed=0), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(128, 10, seed=0), nn.Dropout(0.25),
                          nn.Sequential(nn.LayerNorm(10), nn.GELU()))
    assert repr(model) == """\
Sequential(
  (0): Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=True)
  (1): ReLU()
  (2): MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))
  (3): Flatten(start_dim=1)
  (4): Linear(in_features=128, out_features=10, bias=True)
  (5): Dropout(p=0.25)
  (6): Sequential(
    (0): LayerNorm((10,), eps=1e-05, elementwise_affine=True)
    (1): GELU(approximate='tanh')
  )
)"""
    assert repr(Block()).splitlines()[:3] == [
        "Block(", "  (first): Linear(in_features=3, out_features=3, bias=True)", "  (blocks): ["]


# ---------------------------------------------------------------------------------------------
# training

def test_plain_gradient_descent_reduces_the_loss():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (128, 2))
    y = ((x[:, 0] * x[:, 1]) > 0).astype(int)  # XOR of the signs: not linearly separable
    model = nn.Sequential(nn.Linear(2, 16, rng=rng), nn.Tanh(), nn.Linear(16, 2, rng=rng))
    step = cr.value_and_grad(loss_fn)
    first, _ = step(model, x, y)
    for _ in range(300):
        value, g = step(model, x, y)
        model = tree.map(lambda p, d: p - 0.5 * d, model, g)
    assert value < 0.5 * first
    accuracy = np.mean(np.argmax(model(x), axis=1) == y)
    assert accuracy > 0.9


def test_per_example_gradients_with_vmap_and_a_checkpointed_model():
    model = _mlp()
    x, y = _data((6,))

    def one(m, xi, yi):
        return loss_fn(m, xi[None], yi[None])

    per = cr.vmap(cr.grad(one), in_axes=(None, 0, 0))(model, x, y)
    assert type(per) is nn.Sequential and per[0].weight.shape == (8, 6, 16)
    g = cr.grad(loss_fn)(model, x, y)
    for a, b in zip(tree.leaves(per), tree.leaves(g)):
        np.testing.assert_allclose(a.mean(0), b, rtol=1e-12, atol=1e-15)
    block = cr.checkpoint(lambda m, h: m(h))
    g2 = cr.grad(lambda m: nn.cross_entropy(block(m, x), y))(model)
    for a, b in zip(tree.leaves(g2), tree.leaves(g)):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-16)


def test_numpy_float_scalars_are_parameters_and_float32_is_kept():
    class Scaled(nn.Module):
        def __init__(self):
            self.alpha = np.float64(2.0)
            self.eps = 1e-3  # a Python float: a hyper-parameter
            self.drop = nn.Dropout(0.5, seed=0)

        def forward(self, x):
            return self.drop(x) * self.alpha + self.eps

    m = Scaled()
    assert [n for n, _ in m.named_parameters()] == ["alpha"]
    assert nn.Dropout(0.5, seed=0)(np.ones(6, np.float32)).dtype == np.float32
    g = cr.grad(lambda m: cr.numpy.sum(m(np.ones(6))))(m.eval())
    assert type(g) is Scaled and g.alpha == 6.0


def test_source_gives_a_module_argument_a_module_of_gradients():
    # (docs/nn.md: "a Module argument gets a Module of gradients, as with overload")
    model = nn.Linear(3, 2)
    x = np.linspace(-1.0, 1.0, 12).reshape(4, 3)

    def loss(m, x):
        return cnp.sum(m(x) ** 2)

    want = cr.grad(loss)(model, x)
    got = cr.grad(loss, method="source")(model, x)
    assert type(got) is nn.Linear
    np.testing.assert_allclose(got.weight, want.weight, rtol=1e-12)
    np.testing.assert_allclose(got.bias, want.bias, rtol=1e-12)
