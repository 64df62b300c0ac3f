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
    assert 'label="tanh"' in dot and "style=filled" not in dot.split('label="tanh"')[1][:5]


def test_cond_in_a_graph_is_one_node_taking_one_branch():
    f = lambda x: cr.cond(x > 0, lambda v: v ** 2, lambda v: -3.0 * v, x)  # noqa: E731
    g = cr.grad(f, method="graph")
    assert g(2.0) == 4.0 and g(-1.0) == -3.0
    assert cr.jacfwd(f, method="graph")(0.5) == pytest.approx(1.0)
    assert [e.prim.name for e in cr.graph.trace(f, spec(())).eqns] == ["greater", "cond"]


@pytest.mark.parametrize("name", ["fold_constants", "simplify", "implicit_broadcasts",
                                  "diagonal_products", "cse", "dce", "drop_strong_zeros",
                                  "zero_products"])
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
