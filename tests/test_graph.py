"""The expression-graph engine: tracing, the IR and its checker, passes, code generation,
method="graph" against the overload method."""
import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.graph import ConcretizationError, GraphError, spec


def mlp_loss(W1, b1, W2, b2, x, labels):
    h = cnp.tanh(x @ W1 + b1)
    z = h @ W2 + b2
    logp = z - cnp.logsumexp(z, axis=1, keepdims=True)
    return -cnp.mean(logp[np.arange(len(labels)), labels])


def test_trace_from_placeholders_prints_and_checks():
    g = cr.graph.trace(lambda x, W: cnp.sum(cnp.tanh(x @ W) ** 2), spec((4, 3)), spec((3, 2)))
    text = str(g)
    assert text.splitlines()[0] == "{ lambda a:f64[4,3] b:f64[3,2] ."
    assert "c:f64[4,2] = matmul a b" in text and "sum[axis=(0, 1) keepdims=False]" in text
    assert g.num_nodes == 4
    g.check()
    x, W = np.ones((4, 3)), np.full((3, 2), 0.1)
    assert g.run(x, W) == pytest.approx(np.sum(np.tanh(x @ W) ** 2))


def test_checker_rejects_broken_graphs():
    g = cr.graph.trace(lambda x: cnp.sin(x) * 2.0, spec((3,)))
    g.eqns[1].inputs[0] = g.eqns[1].outputs[0]  # use before definition
    with pytest.raises(GraphError, match="before it is defined"):
        g.check()
    g = cr.graph.trace(lambda x: cnp.sin(x) * 2.0, spec((3,)))
    g.eqns[0].outputs[0].shape = (4,)
    with pytest.raises(GraphError, match="declares"):
        g.check()


def test_gradient_graph_of_the_mlp_and_its_passes(rng):
    W1, b1 = rng.standard_normal((8, 16)) * 0.3, np.zeros(16)
    W2, b2 = rng.standard_normal((16, 4)) * 0.3, np.zeros(4)
    x, labels = rng.standard_normal((5, 8)), np.array([0, 3, 1, 1, 2])
    args = (W1, b1, W2, b2, x, labels)
    g = cr.graph.trace(cr.value_and_grad(mlp_loss, argnums=(0, 1, 2, 3)), *args)
    sizes = [g.num_nodes]
    for p in (cr.graph.simplify, cr.graph.cse, cr.graph.dce):
        g = p(g).check()
        sizes.append(g.num_nodes)
    assert sizes[-1] < sizes[0]
    want = cr.value_and_grad(mlp_loss, argnums=(0, 1, 2, 3))(*args)
    for got in (g.run(*args), g.compile()(*args)):
        assert got[0] == pytest.approx(want[0], rel=1e-12)
        for a, b in zip(got[1], want[1]):
            np.testing.assert_allclose(a, b, rtol=1e-12)
    src = g.compile().source
    assert src.startswith("def graph_fn(") and "matmul(" in src
    assignments = [ln for ln in src.splitlines()[1:-1] if not ln.strip().startswith("del ")]
    assert len(assignments) == g.num_nodes  # one line per equation (plus `del`s of dead values)


def test_python_branching_on_a_traced_value_names_the_line():
    def f(x):
        if x > 0:  # the user's line
            return x
        return -x

    with pytest.raises(ConcretizationError, match=r"test_graph.py:\d+.*if x > 0.*cr.cond"):
        cr.graph.trace(f, spec(()))
    # a Python loop with a concrete count unrolls
    g = cr.graph.trace(lambda x: [x := x * 1.5 for _ in range(3)][-1], spec(()))
    assert g.num_nodes == 3
    # a structured loop is one node holding its body
    g = cr.graph.trace(lambda x: cr.fori_loop(0, 3, lambda i, v: v * x, 1.0), spec(()))
    assert [e.prim.name for e in g.eqns] == ["scan"]
    assert g.run(2.0) == 8.0


CORPUS = {
    "textbook": (lambda a, b: cnp.log(a) + a * b - cnp.sin(b), (2.0, 5.0)),
    "tanh_chain": (lambda x: cnp.sum(cnp.tanh(cnp.tanh(x) * 2.0) ** 2), (np.linspace(-1, 1, 5),)),
    "where": (lambda x: cnp.sum(cnp.where(x > 0, cnp.sqrt(cnp.abs(x)), x ** 2)),
              (np.array([0.5, -1.0, 2.0]),)),
    "reductions": (lambda x: cnp.max(x, axis=0).sum() + cnp.var(x) + cnp.prod(x[0]),
                   (np.array([[1.0, 2.0, 3.0], [0.5, 4.0, -1.0]]),)),
    "linalg": (lambda A: cnp.linalg.slogdet(A @ A.T + np.eye(3))[1] + cnp.trace(cnp.linalg.inv(
        A + 3 * np.eye(3))), (np.arange(9.0).reshape(3, 3) / 10,)),
    "indexing": (lambda x: cnp.sum(x[[0, 0, 2]] * x[::-1]) + cnp.sum(cnp.at(x)[1].set(0.0) ** 3),
                 (np.array([1.0, 2.0, 3.0]),)),
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_graph_method_matches_overload(name):
    f, args = CORPUS[name]
    nums = tuple(range(len(args)))
    for transform in (cr.grad, cr.jacfwd, cr.jacrev, cr.hessian):
        want = transform(f, argnums=nums)(*args)
        got = transform(f, argnums=nums, method="graph")(*args)
        for a, b in zip(np.atleast_1d(got) if not isinstance(got, tuple) else got,
                        np.atleast_1d(want) if not isinstance(want, tuple) else want):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    out, pull = cr.vjp(f, *args, method="graph")
    for a, b in zip(pull(np.ones_like(out)), cr.vjp(f, *args)[1](np.ones_like(out))):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_compiled_once_per_signature():
    traces = []

    def f(x):
        traces.append(1)
        return cnp.sum(cnp.sin(x) ** 2)

    g = cr.grad(f, method="graph")
    for _ in range(3):
        g(np.ones(3))
    g(np.ones(4))
    assert len(traces) == 2  # one per shape
    np.testing.assert_allclose(g(np.ones(4)), np.sin(2.0) * np.ones(4))


def test_newton_while_loop_through_the_graph_method():
    def newton_sqrt(a):
        return cr.while_loop(lambda x: cnp.abs(x * x - a) > 1e-12,
                             lambda x: 0.5 * (x + a / x), a)

    # the trip count depends on the value: the loop is one graph node, and reverse mode
    # re-runs it on a tape in the backward pass
    g = cr.graph.trace(newton_sqrt, spec(()))
    assert [e.prim.name for e in g.eqns] == ["while_loop"]
    for a in (0.3, 2.0, 9.0, 1e4):
        want = 0.5 / np.sqrt(a)  # d sqrt(a) / da, by hand
        assert cr.grad(newton_sqrt, method="graph")(a) == pytest.approx(want, rel=1e-12)
        assert cr.grad(newton_sqrt)(a) == pytest.approx(want, rel=1e-12)
        assert cr.jvp(newton_sqrt, (a,), (1.0,), method="graph")[1] == pytest.approx(want,
                                                                                   rel=1e-12)
        assert cr.hessian(newton_sqrt, method="graph")(a) == pytest.approx(-0.25 * a ** -1.5,
                                                                         rel=1e-9)


def test_graph_grad_and_jvp_are_graph_to_graph():
    g = cr.graph.trace(lambda x: cnp.sum(cnp.sin(x) ** 2), spec((3,)))
    x = np.array([0.1, 0.2, 0.3])
    value, grad = g.grad().check().run_flat(x)
    np.testing.assert_allclose(grad, np.sin(2 * x))
    # the gradient graph is a graph like any other: differentiate it again
    second = cr.graph.trace(lambda v: cnp.sum(g.grad().run_flat(v)[1]), spec((3,))).grad()
    np.testing.assert_allclose(second.run_flat(x)[1], 2 * np.cos(2 * x))
    out, tangent = g.jvp().check().run_flat(x, np.ones(3))
    assert tangent == pytest.approx(np.sum(np.sin(2 * x)))


def test_json_round_trip_and_refusals():
    import json

    g = cr.graph.trace(cr.grad(lambda x: cnp.sum(cnp.tanh(x[1:] * 2.0) ** 2)), spec((4,)))
    g = g.optimize()
    again = cr.graph.Graph.from_json(g.to_json())
    x = np.linspace(-1, 1, 4)
    assert np.array_equal(g.run_flat(x)[0], again.run_flat(x)[0])
    assert again.num_nodes == g.num_nodes and str(again) == str(g)
    data = json.loads(g.to_json())
    for broken, message in [
        ({**data, "format": "pickle"}, "not a chainrule graph"),
        ({**data, "eqns": [{**data["eqns"][0], "prim": "eval"}] + data["eqns"][1:]},
         "unknown primitive 'eval'"),
        ({**data, "eqns": [{"prim": "sin"}]}, "malformed"),
        ({**data, "eqns": data["eqns"][1:]}, "before it is defined"),
    ]:
        with pytest.raises(GraphError, match=message):
            cr.graph.Graph.from_json(json.dumps(broken))
    with pytest.raises(GraphError, match="not JSON"):
        cr.graph.Graph.from_json("{oops")


def test_dot_marks_the_backward_part():
    g = cr.graph.trace(cr.value_and_grad(lambda x: cnp.sum(cnp.tanh(x) ** 2)), spec((4,)))
    dot = g.to_dot()
    assert dot.startswith("digraph chainrule {") and dot.rstrip().endswith("}")
    assert dot.count("fillcolor") >= 3  # equations only the gradient needs
    # (the forward tanh, labelled with its value's name and type, is not shaded)
    tanh_node = next(line for line in dot.splitlines() if 'label="tanh\\n' in line)
    assert "style=filled" not in tanh_node


def test_cond_in_a_graph_is_one_node_taking_one_branch():
    f = lambda x: cr.cond(x > 0, lambda v: v ** 2, lambda v: -3.0 * v, x)  # noqa: E731
    g = cr.grad(f, method="graph")
    assert g(2.0) == 4.0 and g(-1.0) == -3.0
    assert cr.jacfwd(f, method="graph")(0.5) == pytest.approx(1.0)
    assert [e.prim.name for e in cr.graph.trace(f, spec(())).eqns] == ["greater", "cond"]


@pytest.mark.parametrize("name", ["fold_constants", "simplify", "implicit_broadcasts",
                                  "diagonal_products", "cse", "dce", "drop_strong_zeros"])
def test_each_pass_keeps_the_graph_valid_and_its_values(name, rng):
    from chainrule.graph import passes

    A = rng.standard_normal((5, 5))

    def f(x):
        y = cnp.tanh(A @ x) + x ** 3
        return cnp.sum(y * y) + cnp.max(y)

    x = rng.standard_normal(5)
    for transform in (cr.grad, cr.jacrev, cr.jacfwd, cr.hessian):
        g = cr.graph.trace(transform(f), spec((5,)))
        out = getattr(passes, name)(g).check()
        if name != "diagonal_products":  # which trades one product for a reshape and a cheaper one
            assert out.num_nodes <= g.num_nodes
        np.testing.assert_allclose(out.run_flat(x)[0], g.run_flat(x)[0], rtol=1e-12)
        assert passes.optimize(g).check().num_nodes <= g.num_nodes


# ---------------------------------------------------------------------------------------------
# the passes one by one, on graphs where each has something to do

def _names(g):
    return [e.prim.name for e in g.eqns]


def test_fold_constants_evaluates_constant_equations_once():
    from chainrule.graph import Const, Eqn, Graph, Var
    from chainrule.graph.passes import fold_constants
    from chainrule.ops import elementwise as E
    from chainrule.ops import reduce as R

    # tracing computes constant operations on the spot; rules and passes can leave some behind
    c = np.array([1.0, 2.0, 3.0])
    x, e, p, s, y = (Var((3,), "float64"), Var((3,), "float64"), Var((3,), "float64"),
                     Var((), "float64"), Var((3,), "float64"))
    g = Graph([x], [Eqn(E.exp_p, [Const(c)], {}, [e]), Eqn(E.mul_p, [x, e], {}, [p]),
                    Eqn(R.sum_p, [Const(c)], {"axis": (0,), "keepdims": False}, [s]),
                    Eqn(E.add_p, [p, s], {}, [y])], [y]).check()
    folded = fold_constants(g).check()
    assert _names(folded) == ["mul", "add"]
    v = np.array([0.5, -1.0, 2.0])
    np.testing.assert_array_equal(folded.run_flat(v)[0], v * np.exp(c) + np.sum(c))


def test_simplify_collapses_transpose_reshape_and_broadcast_chains(rng):
    from chainrule.graph.passes import dce, simplify

    def f(x):
        a = cnp.transpose(cnp.transpose(x, (1, 2, 0)), (2, 0, 1))  # the identity permutation
        b = cnp.reshape(cnp.reshape(x, (6, 4)), (2, 12))            # one reshape
        c = cnp.reshape(cnp.reshape(x, (24,)), (2, 3, 4))           # back to its own shape
        d = cnp.broadcast_to(cnp.broadcast_to(x[0, 0], (3, 4)), (5, 3, 4))
        e = cnp.transpose(cnp.reshape(x[0, 0], (1, 4)))             # moves a unit axis only
        return cnp.sum(a * c) + cnp.sum(b) + cnp.sum(d) + cnp.sum(e)

    g = cr.graph.trace(f, spec((2, 3, 4)))
    out = dce(simplify(g)).check()  # the inner links of each chain are dead now
    names = _names(out)
    assert "transpose" not in names
    assert names.count("reshape") == 2 and names.count("broadcast_to") == 1
    x = rng.standard_normal((2, 3, 4))
    assert out.run_flat(x)[0] == pytest.approx(g.run_flat(x)[0], rel=1e-14)


def test_products_with_the_identity_and_stacks_of_vectors(rng):
    from chainrule.graph.passes import diagonal_products

    eye = np.eye(4)
    rows = np.eye(4)[:, None, :]   # the stack of basis rows a batched Jacobian pushes through
    cols = np.eye(4)[:, :, None]
    m = rng.standard_normal((4, 4))

    def f(x, y):
        return (eye @ x, x @ eye, rows @ x, y @ cols, cnp.reshape(x, (4, 1, 4)) @ m)

    g = cr.graph.trace(f, spec((4, 4)), spec((3, 4)))
    out = diagonal_products(g).check()
    shapes = [tuple(e.inputs[0].shape) for e in out.eqns if e.prim.name == "matmul"]
    assert shapes == [(4, 4)], shapes  # only the genuine product is left, as one 2-D matmul
    x, y = rng.standard_normal((4, 4)), rng.standard_normal((3, 4))
    for a, b in zip(out.run_flat(x, y), g.run_flat(x, y)):
        np.testing.assert_allclose(a, b, rtol=1e-14)


def test_generated_code_reuses_dead_buffers_but_never_inputs_or_views(rng):
    def f(x, w):
        h = cnp.tanh(x @ w + 1.0)      # x @ w is made here: tanh may overwrite it
        v = h.T                         # a view of h, used after h's last elementwise use
        s = cnp.exp(h)
        return cnp.sum(v @ s) + cnp.sum(cnp.sin(x))   # x is an input: never written

    g = cr.graph.trace(f, spec((3, 3)), spec((3, 3)))
    src = g.compile().source
    assert "out=" in src
    x, w = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    x0, w0 = x.copy(), w.copy()
    got = g.compile()(x, w)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(w, w0)
    h = np.tanh(x @ w + 1.0)
    assert got == pytest.approx(np.sum(h.T @ np.exp(h)) + np.sum(np.sin(x)), rel=1e-13)
    for line in src.splitlines():  # never in place into an argument of the function
        if "out=" in line:
            assert line.split("out=")[1].rstrip(")") not in ("a", "b")
    # and the gradient code, which reuses many buffers, agrees with the overload engine
    gx = cr.grad(f, argnums=(0, 1), method="graph")(x, w)
    for a, b in zip(gx, cr.grad(f, argnums=(0, 1))(x, w)):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_control_flow_prints_nested_and_round_trips_through_json():
    def f(a, x):
        y = cr.cond(a > 0, lambda v: v * a, lambda v: -v, x)
        return y + cr.fori_loop(0, 3, lambda i, c: c * x, 1.0)

    g = cr.graph.trace(f, spec(()), spec(()))
    text = str(g)
    assert [ln.split(" = ")[1].split()[0] for ln in text.splitlines()[1:4]] == \
        ["greater", "cond", "{"]  # the cond equation, its false branch nested below it
    assert "branches[0] = { lambda" in text and "body = { lambda" in text
    loaded = cr.graph.Graph.from_json(g.to_json())
    for a in (1.5, -1.5):
        assert loaded.run_flat(a, 2.0) == g.run_flat(a, 2.0)
    grad = g.grad((0, 1)).check()
    again = cr.graph.Graph.from_json(grad.to_json())
    assert again.run_flat(1.5, 2.0) == grad.run_flat(1.5, 2.0)
    assert grad.run_flat(1.5, 2.0)[1:] == [2.0, 1.5 + 3 * 2.0 ** 2]


def test_control_flow_errors_name_the_problem():
    with pytest.raises(TypeError, match=r"leaf 0 is f64\[\] but must stay i64\[\].*0\.0 rather"):
        cr.graph.trace(lambda x: cr.while_loop(lambda c: c < 3, lambda c: c + 0.5, 0), spec(()))
    with pytest.raises(TypeError, match="same structure"):
        cr.graph.trace(lambda x: cr.cond(x > 0, lambda: (x, x), lambda: x), spec(()))
    with pytest.raises(TypeError, match="structure of init"):
        cr.graph.trace(lambda x: cr.scan(lambda c, v: ((c, c), v), x, np.ones(3)), spec(()))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # (inf * 0, then masked)
def test_fast_form_checks_one_witness_per_dropped_mask():
    from chainrule.graph.passes import witnesses
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])

    def f(w, b):
        z = x @ w + b
        return cnp.sum(cnp.where(z > 0, cnp.sqrt(cnp.abs(z)), 0.0))

    w = np.array([[1.0, -1.0, 0.5], [0.0, 2.0, -0.5]])
    b = np.array([0.0, 1.0, 0.0])  # z has exact zeros: sqrt' is inf there, its cotangent 0
    g = cr.graph.trace(cr.grad(f, argnums=(0, 1)), w, b)
    assert witnesses(g) == [1]  # the gradient of b (3 values) stands for that of w (6)
    got = cr.graph.jit(cr.grad(f, argnums=(0, 1)))(w, b)
    z = x @ w + b
    dz = np.where(z > 0, 0.5 / np.sqrt(np.where(z > 0, z, 1.0)), 0.0)  # by hand, no inf
    np.testing.assert_allclose(got[0], x.T @ dz)
    np.testing.assert_allclose(got[1], dz.sum(axis=0))


def test_jit_takes_integer_arrays_as_inputs():
    def loss(w, x, labels):
        z = x @ w
        return cnp.mean(z[np.arange(len(labels)), labels] * z[labels, -1])

    g = cr.graph.jit(cr.grad(loss))
    rng = np.random.default_rng(0)
    w, x = rng.standard_normal((3, 4)), rng.standard_normal((5, 3))
    for _ in range(3):  # a new batch of labels each time, negative ones too
        labels = rng.integers(-4, 4, 5)
        z = x @ w
        n = len(labels)
        dz = np.zeros_like(z)  # by hand: d/dz of mean(z[i, l_i] * z[l_i, -1])
        for i, li in enumerate(labels):
            dz[i, li] += z[li, -1] / n
            dz[li, -1] += z[i, li] / n
        np.testing.assert_allclose(g(w, x, labels), x.T @ dz, rtol=1e-12, atol=1e-14)
    assert len(g.cache) == 1  # compiled once: the labels are an input, not baked in

    def repeat(x, times):  # needs the value of `times` while it is traced: baked in
        for _ in range(int(times[0])):
            x = x * 2.0
        return cnp.sum(x)

    h = cr.graph.jit(cr.grad(repeat))
    np.testing.assert_allclose(h(np.ones(2), np.array([3])), [8.0, 8.0])
    np.testing.assert_allclose(h(np.ones(2), np.array([2])), [4.0, 4.0])


def test_graph_grad_keeps_stop_gradient():
    g = cr.graph.trace(lambda x: x * cr.stop_gradient(x), 3.0)
    assert [e.prim.name for e in g.eqns] == ["stop_gradient", "mul"]
    value, grad = g.grad().run(3.0)
    assert value == 9.0 and grad == 3.0  # d/dx of x * c with c = x held constant
    assert cr.graph.jit(cr.grad(lambda x: x * cr.stop_gradient(x)))(3.0) == 3.0


def test_scalar_code_on_python_floats_runs_on_math_and_falls_back_to_numpy_outside_domains():
    """Straight-line float64 scalar code called with Python floats runs with the math module's
    functions; where one raises (outside its domain, a division by zero) the NumPy code runs
    and gives NumPy's inf or nan, as the other methods do."""
    import math

    def f(x):
        return cnp.log(x) + cnp.sqrt(x) * cnp.sin(x) + cnp.exp(x) / x

    def df(x):  # by hand
        return 1 / x + 0.5 / math.sqrt(x) * math.sin(x) + math.sqrt(x) * math.cos(x) \
            + math.exp(x) / x - math.exp(x) / x ** 2

    g = cr.jit(cr.grad(f))
    assert type(g(0.3)) is np.float64  # (as the NumPy code returns it, and the tape)
    for x in (0.3, 1.7, 2.5):
        assert math.isclose(g(x), df(x), rel_tol=1e-13)
        assert math.isclose(g(np.float64(x)), df(x), rel_tol=1e-13)  # (the NumPy code)
        assert math.isclose(cr.jit(f)(x), float(f(x)), rel_tol=1e-15)
    with np.errstate(all="ignore"):
        assert cr.jit(lambda x: cnp.log(x) * 2.0)(0.0) == -math.inf  # math raises, NumPy: -inf
        assert math.isnan(cr.jit(lambda x: cnp.sin(x) / x)(0.0))  # 0/0: NumPy nan
        assert math.isnan(cr.jit(f)(-1.0))  # sqrt(-1): nan, as NumPy
        assert cr.jit(lambda x: cnp.exp(x))(1000.0) == math.inf  # overflow: inf
        assert math.isnan(cr.grad(f, method="graph")(-1.0)) == math.isnan(cr.grad(f)(-1.0))

def test_the_math_form_reuses_the_compiled_code(monkeypatch):
    """The code run on Python floats is the NumPy form's code objects defined again with the
    `math` module's functions: nothing is compiled a second time (a long program's compile
    doubled its first call's time)."""
    import builtins
    import math

    from chainrule.graph import codegen

    compiles = []
    real = builtins.compile
    monkeypatch.setattr(codegen.builtins, "compile",
                        lambda *a, **k: compiles.append(a[1]) or real(*a, **k))
    graph = cr.graph.trace(cr.grad(lambda x: cnp.sin(x) * cnp.exp(x)), spec(()))
    fn = codegen.compile_graph(graph)
    made = len(compiles)
    assert made >= 1
    assert math.isclose(fn(0.3)[0], math.exp(0.3) * (math.cos(0.3) + math.sin(0.3)),
                        rel_tol=1e-14)
    assert len(compiles) == made


def test_squares_are_one_equation_that_the_derivative_shares():
    """x ** 2 and x * x become square(x) (the same number: one rounding of x * x), so the
    value of sum(tanh(x) ** 2) and its derivative (1 - tanh(x) ** 2) compute it once."""
    def f(x):
        return cnp.sum(cnp.tanh(x) ** 2) + cnp.sum(x * x)

    g = cr.graph.trace(cr.value_and_grad(f), spec((5,)))
    names = [e.prim.name for e in cr.graph.optimize(g).eqns]
    assert names.count("square") == 2 and "power" not in names
    x = np.linspace(-1.0, 1.0, 5)
    value, grad = cr.jit(cr.value_and_grad(f))(x)
    assert value == np.sum(np.tanh(x) ** 2) + np.sum(x * x)  # (bit for bit)
    np.testing.assert_allclose(grad, 2 * np.tanh(x) * (1 - np.tanh(x) ** 2) + 2 * x,
                               rtol=1e-14)


def test_scalar_code_writes_single_use_values_inside_their_reader():
    """Straight-line scalar code writes a value read once, by one later equation, inside that
    equation's expression (at most a few levels deep: a long chain still compiles); array code
    keeps one line per equation. The values are those of the tape."""
    import math

    def chain(x):
        for _ in range(300):  # (each step's value is read once, by the next step)
            x = cnp.sin(x) * 0.9 + 0.1
        return x

    fn = cr.jit(cr.grad(chain))
    assert math.isclose(fn(0.4), cr.grad(chain)(0.4), rel_tol=1e-13)
    from chainrule.graph import codegen
    from chainrule.graph.passes import drop_strong_zeros

    g = cr.graph.optimize(drop_strong_zeros(cr.graph.trace(cr.grad(chain), spec(()))))
    text = codegen.compile_graph(g).source
    body = [ln for ln in text.splitlines() if ln.startswith("    ")]
    assert len(body) < 0.7 * g.num_nodes  # (fewer statements than equations)

    def nesting(line):
        level = top = 0
        for ch in line:
            level += (ch == "(") - (ch == ")")
            top = max(top, level)
        return top

    # (each level of writing a value inside its reader adds a call's or a group's parentheses)
    assert max(nesting(ln) for ln in body) <= 2 * (codegen._FUSE_DEPTH + 1)
    # the chain itself: each value read once, by the next step (900 levels, were they nested)
    assert math.isclose(cr.jit(chain)(0.4), chain(np.float64(0.4)), rel_tol=1e-15)
    forward = cr.graph.trace(chain, spec(()))
    body = codegen.compile_graph(forward).source.splitlines()[1:]
    assert 1 < max(nesting(ln) for ln in body) <= 2 * (codegen._FUSE_DEPTH + 1)
    arrays = cr.graph.trace(cr.grad(lambda x: cnp.sum(cnp.sin(x) * 0.9)), spec((3,)))
    lines = codegen.compile_graph(arrays).source.splitlines()[1:-1]
    assert len([ln for ln in lines if not ln.strip().startswith("del ")]) == arrays.num_nodes


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_a_transpose_moves_onto_the_operands_of_the_elementwise_operation_before_it(op, rng):
    """transpose(x op y) -> x' op y' (sink_transposes): a transposed operand's transpose
    cancels, constants are transposed, vectors become columns; the values are unchanged, in
    the operands' order (sub, div)."""
    fn = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
          "div": lambda a, b: a / b}[op]
    c = rng.standard_normal((3, 4)) + 3.0

    def f(a, v, w):
        m = fn(fn(a.T, v), c.T)       # (4, 3): a transposed, a vector, a constant
        return fn(w.T, m).T + 1.0     # w transposed as well

    def kept(a, v, w):
        return fn(w, fn(a.T, v)).T    # w as it is: it would need a transpose of its own

    args = (rng.standard_normal((3, 4)) + 3.0, rng.standard_normal(3) + 3.0,
            rng.standard_normal((3, 4)) + 3.0)
    for fun, left in ((f, 0), (kept, 2)):
        w_arg = args[2] if fun is f else args[2].T.copy()
        call = (args[0], args[1], w_arg)
        g = cr.graph.trace(fun, *(spec(x.shape) for x in call))
        sunk = cr.graph.dce(cr.graph.sink_transposes(g))
        assert [e.prim.name for e in sunk.eqns].count("transpose") == left
        np.testing.assert_allclose(sunk.run(*call), g.run(*call), rtol=1e-15)
        np.testing.assert_allclose(cr.jit(fun)(*call), fun(*call), rtol=1e-15)


def test_jacfwd_of_a_matrix_function_ends_without_transposes(rng):
    """The compiled forward Jacobian of tanh(A x) + x^3 (W5) reads A in its own order: the
    transposes of the basis cancel (sink_transposes), and the values are the tape's."""
    a = rng.standard_normal((6, 6))
    x = rng.standard_normal(6)
    f = lambda x: cnp.tanh(a @ x) + x ** 3  # noqa: E731
    g = cr.graph.optimize(cr.graph.trace(cr.jacfwd(f), spec((6,))))
    assert "transpose" not in [e.prim.name for e in g.eqns]
    want = (1.0 - np.tanh(a @ x) ** 2)[:, None] * a + np.diag(3.0 * x ** 2)
    np.testing.assert_allclose(cr.jit(cr.jacfwd(f))(x), want, rtol=1e-13)
    np.testing.assert_allclose(cr.jacfwd(f, method="graph")(x), want, rtol=1e-13)
