"""cond, while_loop, fori_loop, scan: differentiable in forward and reverse mode, under vmap."""
import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.testing import check_grads


def test_cond_takes_one_branch_and_differentiates_it():
    f = lambda x: cr.cond(x > 0, lambda v: v ** 2, lambda v: -3.0 * v, x)  # noqa: E731
    assert cr.grad(f)(2.0) == 4.0 and cr.grad(f)(-1.0) == -3.0
    assert cr.jvp(f, (2.0,), (1.0,))[1] == 4.0


def test_cond_with_a_batched_predicate_selects_per_example():
    f = lambda x: cr.cond(x > 0, lambda v: v ** 2, lambda v: -3.0 * v, x)  # noqa: E731
    xs = np.array([2.0, -1.0, 0.5])
    np.testing.assert_allclose(cr.vmap(f)(xs), [4.0, 3.0, 0.25])
    np.testing.assert_allclose(cr.vmap(cr.grad(f))(xs), [4.0, -3.0, 1.0])
    np.testing.assert_allclose(cr.grad(lambda v: cnp.sum(cr.vmap(f)(v)))(xs), [4.0, -3.0, 1.0])


def newton_sqrt(a):
    return cr.while_loop(lambda x: cnp.abs(x * x - a) > 1e-12,
                         lambda x: 0.5 * (x + a / x), a)


def test_while_loop_reverse_and_forward():
    assert cr.grad(newton_sqrt)(2.0) == pytest.approx(0.5 / math.sqrt(2.0), rel=1e-9)
    assert cr.jvp(newton_sqrt, (2.0,), (1.0,))[1] == pytest.approx(0.5 / math.sqrt(2.0),
                                                                   rel=1e-9)
    # second order: d2/da2 sqrt(a) = -1/4 a^-3/2
    assert cr.grad(cr.grad(newton_sqrt))(2.0) == pytest.approx(-0.25 * 2.0 ** -1.5, rel=1e-6)


def test_while_loop_under_vmap_runs_each_example_its_own_number_of_steps():
    a = np.array([2.0, 9.0, 100.0])
    np.testing.assert_allclose(cr.vmap(newton_sqrt)(a), np.sqrt(a))
    np.testing.assert_allclose(cr.vmap(cr.grad(newton_sqrt))(a), 0.5 / np.sqrt(a), rtol=1e-9)
    np.testing.assert_allclose(cr.jacrev(lambda v: cr.vmap(newton_sqrt)(v))(a),
                               np.diag(0.5 / np.sqrt(a)), rtol=1e-9)


def test_fori_loop():
    def power(x, n):
        return cr.fori_loop(0, n, lambda i, acc: acc * x, 1.0)

    assert cr.grad(power)(1.5, 4) == pytest.approx(4 * 1.5 ** 3)

    def weighted(x):  # the loop index is usable as a constant
        return cr.fori_loop(1, 4, lambda i, acc: acc + i * cnp.sin(x), 0.0)

    assert cr.grad(weighted)(0.3) == pytest.approx(6 * math.cos(0.3))


def test_scan_cumulative_and_rnn(rng):
    xs = rng.standard_normal(5)

    def cumsum(xs):
        return cr.scan(lambda c, x: (c + x, c + x), 0.0, xs)[1]

    np.testing.assert_allclose(cumsum(xs), np.cumsum(xs))
    np.testing.assert_allclose(cr.jacrev(cumsum)(xs), np.tril(np.ones((5, 5))))
    W = rng.standard_normal((3, 3)) * 0.5
    seq = rng.standard_normal((4, 3))

    def rnn(W, seq):
        h, hs = cr.scan(lambda h, x: (cnp.tanh(W @ h + x),) * 2, np.zeros(3), seq)
        return cnp.sum(hs ** 2) + cnp.sum(h)

    check_grads(rnn, (W, seq), order=2)
    check_grads(lambda W: cr.scan(lambda h, x: (cnp.tanh(W @ h + x),) * 2, np.zeros(3), seq,
                                  reverse=True)[1], (W,), order=1)


def test_bad_inputs():
    with pytest.raises(ValueError, match="scalar"):
        cr.cond(np.array([True, False]), lambda: 1.0, lambda: 2.0)
    with pytest.raises(TypeError, match="same structure"):
        cr.vmap(lambda x: cr.cond(x > 0, lambda: (x, x), lambda: x))(np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="xs or length"):
        cr.scan(lambda c, x: (c, c), 0.0)
