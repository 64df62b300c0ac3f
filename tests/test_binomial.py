"""Binomial checkpointing of loops (`cr.binomial`, `checkpoint=` of `cr.fori_loop` and
`cr.scan`): the schedule is valid, stores at most s states and runs exactly Griewank and
Walther's minimum of forward steps, checked against a brute-force search over all split
points; the loop runs what the schedule says; its derivatives, in every mode and method and
nested, equal the store-all loop's and finite differences; memory stays flat in the number of
steps."""
from __future__ import annotations

import functools
import math
import tracemalloc

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.checkpoint import (
    binomial_first_sweep,
    binomial_forward_steps,
    binomial_schedule,
)
from chainrule.graph.revolve import STEPS

METHODS = ("overload", "graph", "source")

# ---------------------------------------------------------------------------------------------
# the schedule, pure Python


@functools.cache
def fewest_steps(m: int, s: int) -> int:
    """The fewest forward steps that reverse m steps with s stored states (the first one's
    included), by trying every place for the next snapshot: no closed form involved."""
    if m == 1:
        return 0
    if s == 1:
        return m * (m - 1) // 2
    return min(c + fewest_steps(m - c, s - 1) + fewest_steps(c, s) for c in range(1, m))


def replay(n: int, s: int) -> tuple[int, int]:
    """Run the schedule on a model of the loop, checking every action: (forward steps, most
    snapshots held at once)."""
    stored: set[int] = set()
    current: int | None = 0
    reversed_next = n - 1
    forward = most = 0
    for action in binomial_schedule(n, s):
        kind, j = action[0], action[1]
        if kind == "advance":
            assert current == j and j < action[2] <= n - 1, action
            forward += action[2] - j
            current = action[2]
        elif kind == "store":
            assert current == j and j not in stored, action
            stored.add(j)
            most = max(most, len(stored))
        elif kind == "restore":
            assert j in stored, action
            current = j
        elif kind == "free":
            assert j in stored, action
            stored.remove(j)
        else:
            assert kind == "reverse" and j == reversed_next == current, (action, current)
            reversed_next -= 1
            current = None  # (the VJP consumed it)
    assert reversed_next == -1, f"steps {reversed_next}..0 never reversed"
    return forward, most


def test_the_closed_form_is_the_brute_force_minimum():
    # (the draft read C(s + r, s - 1); the literature's C(s + r, s + 1) is the minimum)
    for s in range(1, 9):
        for n in range(1, 90):
            assert binomial_forward_steps(n, s) == fewest_steps(n, s), (n, s)


@pytest.mark.parametrize("s", [1, 2, 3, 4, 6, 10])
def test_schedule_is_valid_minimal_and_within_s(s):
    for n in list(range(1, 70)) + [100, 257, 1000]:
        forward, most = replay(n, s)
        assert forward == binomial_forward_steps(n, s), (n, s)
        assert most <= s, (n, s, most)
    assert binomial_forward_steps(1000, 1) == 1000 * 999 // 2


def test_enough_snapshots_store_every_state():
    for n in (1, 2, 5, 40):
        for s in (n - 1, n, n + 7):
            if s >= 1:
                assert replay(n, s)[0] == n - 1  # the forward sweep alone: nothing recomputed
    assert binomial_first_sweep(6, 10) == [1, 2, 3, 4]  # x_5 is current when reversal starts


def test_repetitions_bound_every_step():
    """With r the repetition number, no step runs forward more than r times."""
    for n, s in ((50, 3), (120, 4), (35, 2)):
        r = next(r for r in range(n + 1) if math.comb(s + r, s) >= n)
        runs = [0] * n
        for action in binomial_schedule(n, s):
            if action[0] == "advance":
                for k in range(action[1], action[2]):
                    runs[k] += 1
        assert max(runs) <= r


def test_schedule_of_a_long_loop_is_generated_lazily():
    """The schedule of 10^6 steps starts at once and holds a few actions."""
    actions = binomial_schedule(10 ** 6, 20)
    first = [next(actions) for _ in range(3)]
    assert first[0] == ("store", 0) and first[1][0] == "advance"


def test_policy_errors():
    with pytest.raises(ValueError, match="snapshots=0"):
        cr.binomial(0)
    with pytest.raises(ValueError, match="at least 1"):
        cr.binomial(snapshots=-3)
    for bad in (2.5, "4", True, None):
        with pytest.raises(TypeError, match="snapshots must be an integer"):
            cr.binomial(bad)
    assert cr.binomial(np.int64(4)) == cr.binomial(4)
    with pytest.raises(TypeError, match=r"checkpoint=.*cr.binomial\(snapshots=5\)"):
        cr.fori_loop(0, 3, lambda i, v: v, 1.0, checkpoint=5)
    with pytest.raises(TypeError, match="call it"):
        cr.scan(lambda c, x: (c, x), 1.0, np.ones(3), checkpoint=cr.binomial)
    with pytest.raises(TypeError, match="got str"):
        cr.scan(lambda c, x: (c, x), 1.0, np.ones(3), checkpoint="binomial")


def test_python_control_flow_in_the_body_is_refused_clearly():
    def f(x):
        return cr.fori_loop(0, 3, lambda i, v: v * 2.0 if i > 0 else v, x,
                            checkpoint=cr.binomial(2))

    with pytest.raises(cr.ConcretizationError, match="cr.cond.*checkpoint=binomial"):
        cr.grad(f)(1.0)


# ---------------------------------------------------------------------------------------------
# the loop: what it runs, and its derivatives


def finite_differences(f, x, h=1e-6):
    x = np.asarray(x, dtype=float)
    g = np.zeros_like(x)
    for k in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[k] = h
        g[k] = (float(f(x + e)) - float(f(x - e))) / (2 * h)
    return g


def chain_loss(v, policy, n=12):
    """A nonlinear chain closing over one of the values differentiated (`v[0]`)."""
    k = v[0]

    def body(i, c):
        x, y = c
        return cnp.sin(x) * k + 0.3 * y, y * 0.9 + 0.1 * cnp.tanh(x) + 0.01 * i

    x, y = cr.fori_loop(0, n, body, (v, v * 0.5), checkpoint=policy)
    return cnp.sum(x * x) + cnp.sum(y)


V = np.array([0.6, -0.4, 0.25])


@pytest.mark.parametrize("method", METHODS)
def test_fori_loop_gradients_equal_store_all_and_finite_differences(method):
    plain = cr.grad(lambda v: chain_loss(v, None), method=method)(V)
    np.testing.assert_allclose(plain, finite_differences(lambda v: chain_loss(v, None), V),
                               rtol=1e-6, atol=1e-8)
    for s in (1, 2, 3, 5, 12, 40):
        got = cr.grad(lambda v, s=s: chain_loss(v, cr.binomial(s)), method=method)(V)
        np.testing.assert_allclose(got, plain, rtol=1e-12, atol=1e-14)


def scan_loss(c0, xs, w, policy, reverse=False):
    """A scan with two xs, stacked ys (a pytree) and a closed-over weight."""
    def step(c, x):
        a, b = x
        c = cnp.tanh(c * w + a * b)
        return c, {"sq": c * c, "dot": cnp.sum(c) * a}

    c, ys = cr.scan(step, c0, xs, reverse=reverse, checkpoint=policy)
    return cnp.sum(c) + 0.3 * cnp.sum(ys["sq"]) + cnp.sum(cnp.sin(ys["dot"]))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("reverse", [False, True])
def test_scan_gradients_with_xs_and_stacked_ys(method, reverse, rng):
    c0 = rng.standard_normal(3)
    xs = (rng.standard_normal(9), rng.standard_normal(9))
    w = 0.7
    args = (c0, xs, w)
    grad = functools.partial(cr.grad, argnums=(0, 1, 2), method=method)
    plain = grad(lambda c0, xs, w: scan_loss(c0, xs, w, None, reverse))(*args)
    want = cr.tree.flatten(plain)[0]
    np.testing.assert_allclose(
        want[0], finite_differences(lambda c: scan_loss(c, xs, w, None, reverse), c0),
        rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(
        want[1], finite_differences(lambda a: scan_loss(c0, (a, xs[1]), w, None, reverse),
                                    xs[0]), rtol=1e-6, atol=1e-8)
    for s in (1, 2, 4, 9):
        got = grad(lambda c0, xs, w, s=s: scan_loss(c0, xs, w, cr.binomial(s), reverse))(*args)
        for a, b in zip(cr.tree.flatten(got)[0], want):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_values_are_the_plain_loops(rng):
    c0, xs = rng.standard_normal(3), (rng.standard_normal(6), rng.standard_normal(6))

    def step(c, x):
        return cnp.sin(c) + x[0] * x[1], (c, cnp.sum(c))

    plain = cr.scan(step, c0, xs)
    got = cr.scan(step, c0, xs, checkpoint=cr.binomial(2))
    for a, b in zip(cr.tree.flatten(got)[0], cr.tree.flatten(plain)[0]):
        np.testing.assert_allclose(a, b, rtol=1e-14)
    # no steps: the initial value, as without a policy
    assert cr.fori_loop(4, 4, lambda i, v: v * 2.0, 1.5, checkpoint=cr.binomial(1)) == 1.5
    # a counter in the carry, and xs=None with a length
    total, count = cr.fori_loop(2, 7, lambda i, c: (c[0] + i * 0.5, c[1] + 1), (0.0, 0),
                                checkpoint=cr.binomial(2))
    assert float(total) == 0.5 * sum(range(2, 7)) and int(count) == 5
    carry, ys = cr.scan(lambda c, _: (2.0 * c, c), 1.0, None, length=4,
                        checkpoint=cr.binomial(3))
    assert float(carry) == 16.0 and np.array_equal(ys, [1.0, 2.0, 4.0, 8.0])


@pytest.mark.parametrize("n,s", [(1, 1), (2, 1), (10, 1), (10, 3), (37, 2), (60, 5), (25, 25),
                                 (25, 400)])
def test_the_loop_runs_what_the_schedule_says(n, s):
    """Counted in the loop: every step reversed once, and t(n, s) + 1 forward steps (the
    schedule's, and the last step, which the forward pass runs for the loop's value)."""
    f = cr.grad(lambda v: cnp.sum(cr.fori_loop(0, n, lambda i, c: cnp.sin(c) * 1.01, v,
                                               checkpoint=cr.binomial(s))))
    STEPS.reset()
    f(V)
    assert (STEPS.forward, STEPS.reverse) == (binomial_forward_steps(n, s) + 1, n)


def test_memory_does_not_grow_with_the_steps():
    """Peak memory of the gradient: store-all grows with the steps, binomial(4) does not."""
    x0 = np.linspace(0.0, 1.0, 4000)  # a state of 32 KB

    def peak(n, policy):
        f = cr.grad(lambda x: cnp.sum(cr.fori_loop(0, n, lambda i, c: cnp.sin(c) * 1.001, x,
                                                   checkpoint=policy)))
        f(x0)  # (compiled code and caches built before measuring)
        tracemalloc.start()
        f(x0)
        got = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return got

    short, long = peak(50, cr.binomial(4)), peak(400, cr.binomial(4))
    store_all = peak(400, None)
    assert long < 1.5 * short + 100_000
    assert store_all > 400 * 32_000 > 10 * long


def test_forward_mode_and_vmap(rng):
    t = rng.standard_normal(3)
    for method in METHODS:
        _, plain = cr.jvp(lambda v: chain_loss(v, None), (V,), (t,), method=method)
        _, got = cr.jvp(lambda v: chain_loss(v, cr.binomial(2)), (V,), (t,), method=method)
        np.testing.assert_allclose(got, plain, rtol=1e-12)
    batch = np.stack([V, 0.5 * V, -V])
    plain = cr.vmap(cr.grad(lambda v: chain_loss(v, None)))(batch)
    got = cr.vmap(cr.grad(lambda v: chain_loss(v, cr.binomial(3))))(batch)
    np.testing.assert_allclose(got, plain, rtol=1e-12)


@pytest.mark.parametrize("method", METHODS)
def test_nested_derivatives(method):
    def loss(v, policy):
        return chain_loss(v, policy, n=6)

    plain = cr.hessian(lambda v: loss(v, None), method=method)(V)
    for s in (1, 3):
        got = cr.hessian(lambda v, s=s: loss(v, cr.binomial(s)), method=method)(V)
        np.testing.assert_allclose(got, plain, rtol=1e-10, atol=1e-12)
        # reverse over reverse: the inner backward pass differentiated by an outer tape
        gg = cr.jacrev(cr.grad(lambda v, s=s: loss(v, cr.binomial(s)), method=method),
                       method=method)(V)
        np.testing.assert_allclose(gg, plain, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        plain[0], finite_differences(lambda v: cr.grad(lambda u: loss(u, None))(v)[0], V,
                                     h=1e-5), rtol=1e-5, atol=1e-7)


def test_third_order():
    def f(x, policy):
        return cnp.sum(cr.fori_loop(0, 4, lambda i, c: cnp.sin(c) * x[0] + 0.2 * c, x,
                                    checkpoint=policy))

    d3 = [cr.grad(lambda x, p=p: cr.grad(lambda x: cr.grad(lambda x: f(x, p))(x)[0])(x)[1])(V)
          for p in (None, cr.binomial(2))]
    np.testing.assert_allclose(d3[1], d3[0], rtol=1e-10, atol=1e-12)


def test_eager_tensor_backward():
    grads = []
    for policy in (None, cr.binomial(2)):
        t = cr.tensor(V, requires_grad=True)
        out = cr.fori_loop(0, 7, lambda i, c: cnp.sin(c) * 1.3, t, checkpoint=policy)
        out.sum().backward()
        grads.append(t.grad)
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12)
