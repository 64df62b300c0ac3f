"""A corpus of programs differentiated by both engines: `method="graph"` (the expression graph,
compiled to NumPy) must give the derivatives of the default `method="overload"` (tape and dual
numbers), or refuse Python `if`/`while` on a traced value with `cr.graph.ConcretizationError`.

The programs are those of the overload tests (test_control.py, test_control_flow.py,
test_numpy_programs.py, test_graph.py, test_transforms.py), copied here, and more in the spirit
of real numeric code: losses, recurrent nets through `cr.scan`, physics through `cr.fori_loop`,
data-dependent `cr.while_loop`s, `cr.cond` over closures, pytree carries, linear algebra,
indexing. The overload reference itself is checked once per program against finite
differences.

Where the graph gives a different answer or fails today, the program stays in the corpus and
the affected checks are marked xfail(strict=True) with the reason: when a bug is fixed, its
xfail turns into a failure that asks for the mark to be removed."""
from __future__ import annotations

import dataclasses
import math
import zlib
from collections import namedtuple
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.testing import check_grads

RTOL = 1e-12
ATOL = 1e-14

_rng = np.random.default_rng(1234)


def _normal(*shape: int, scale: float = 1.0) -> np.ndarray:
    return _rng.standard_normal(shape) * scale


@dataclasses.dataclass(frozen=True)
class Program:
    name: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    argnums: tuple[int, ...] = (0,)
    branches_on_value: bool = False  # Python if/while on a traced value
    hessian: bool = True  # compare Hessians too (only where the inputs are small)
    atol: float = ATOL
    fd: dict[str, Any] = dataclasses.field(default_factory=dict)  # check_grads options
    # test kind (one of GRAPH_KINDS, or "fd") -> why it fails today
    xfail: dict[str, str] = dataclasses.field(default_factory=dict)
    xfail_raises: type[BaseException] = AssertionError  # what those failures raise
    # the compiled graph evaluates both sides of a `where`, so NumPy warns about the inf/nan of
    # the side not taken (the overload code silences them with np.errstate inside the program)
    nonfinite_inside: bool = False


CORPUS: list[Program] = []
GRAPH_KINDS = ("grad", "jacfwd", "jacrev", "hessian", "hvp", "vjp", "jvp")


def program(*args: Any, **kwargs: Any) -> None:
    CORPUS.append(Program(*args, **kwargs))


# =============================================================================================
# from tests/test_graph.py (CORPUS and the MLP)


def mlp_loss(W1, b1, W2, b2, x, labels):
    h = cnp.tanh(x @ W1 + b1)
    z = h @ W2 + b2
    logp = z - cnp.logsumexp(z, axis=1, keepdims=True)
    return -cnp.mean(logp[np.arange(len(labels)), labels])


program("textbook", lambda a, b: cnp.log(a) + a * b - cnp.sin(b), (2.0, 5.0), argnums=(0, 1))
program("tanh_chain", lambda x: cnp.sum(cnp.tanh(cnp.tanh(x) * 2.0) ** 2),
        (np.linspace(-1, 1, 5),))
program("where_sqrt_abs", lambda x: cnp.sum(cnp.where(x > 0, cnp.sqrt(cnp.abs(x)), x ** 2)),
        (np.array([0.5, -1.0, 2.0]),))
program("reductions_max_var_prod",
        lambda x: cnp.max(x, axis=0).sum() + cnp.var(x) + cnp.prod(x[0]),
        (np.array([[1.0, 2.0, 3.0], [0.5, 4.0, -1.0]]),))
program("linalg_slogdet_inv",
        lambda A: cnp.linalg.slogdet(A @ A.T + np.eye(3))[1]
        + cnp.trace(cnp.linalg.inv(A + 3 * np.eye(3))),
        (np.arange(9.0).reshape(3, 3) / 10,))
program("indexing_repeats_and_at",
        lambda x: cnp.sum(x[[0, 0, 2]] * x[::-1]) + cnp.sum(cnp.at(x)[1].set(0.0) ** 3),
        (np.array([1.0, 2.0, 3.0]),))
program("mlp_loss", mlp_loss,
        (_normal(4, 5, scale=0.3), np.zeros(5), _normal(5, 3, scale=0.3), np.zeros(3),
         _normal(6, 4), np.array([0, 2, 1, 1, 0, 2])),
        argnums=(0, 1, 2, 3), hessian=False)


def newton_sqrt(a):
    return cr.while_loop(lambda x: cnp.abs(x * x - a) > 1e-12,
                         lambda x: 0.5 * (x + a / x), a)


program("newton_sqrt_while_loop", newton_sqrt, (2.0,))
program("newton_sqrt_while_loop_9", newton_sqrt, (9.0,))

# =============================================================================================
# from tests/test_control.py


def cond_square_or_scale(x):
    return cr.cond(x > 0, lambda v: v ** 2, lambda v: -3.0 * v, x)


def fori_power(x, n):
    return cr.fori_loop(0, n, lambda i, acc: acc * x, 1.0)


def fori_weighted(x):  # the loop index is usable as a constant
    return cr.fori_loop(1, 4, lambda i, acc: acc + i * cnp.sin(x), 0.0)


def scan_cumsum(xs):
    return cr.scan(lambda c, x: (c + x, c + x), 0.0, xs)[1]


def scan_rnn(W, seq):
    h, hs = cr.scan(lambda h, x: (cnp.tanh(W @ h + x),) * 2, np.zeros(3), seq)
    return cnp.sum(hs ** 2) + cnp.sum(h)


RNN_SEQ = _normal(4, 3)


def scan_rnn_reverse(W):
    return cr.scan(lambda h, x: (cnp.tanh(W @ h + x),) * 2, np.zeros(3), RNN_SEQ,
                   reverse=True)[1]


program("cond_true_branch", cond_square_or_scale, (2.0,))
program("cond_false_branch", cond_square_or_scale, (-1.0,))
program("fori_power", fori_power, (1.5, 4))
program("fori_index_as_constant", fori_weighted, (0.3,))
program("scan_cumsum", scan_cumsum, (_normal(5),))
program("scan_rnn", scan_rnn, (_normal(3, 3, scale=0.5), RNN_SEQ), argnums=(0, 1),
        hessian=False)
program("scan_rnn_reverse", scan_rnn_reverse, (_normal(3, 3, scale=0.5),))

# =============================================================================================
# from tests/test_control_flow.py


def piecewise(x):
    if x > 0:
        return x * x
    return -3.0 * x


def python_for_power(x, n):
    acc = 1.0
    for _ in range(n):
        acc = acc * x
    return acc


def my_sqrt(a):
    x = a
    while cnp.abs(x * x - a) > 1e-12:
        x = 0.5 * (x + a / x)
    return x


def recursive_power(x, n):
    return 1.0 if n == 0 else x * recursive_power(x, n - 1)


def early_return(xs):
    total = 0.0
    for i in range(len(xs)):
        if xs[i] < 0:
            return total
        total = total + xs[i] ** 2
    return total


def data_dependent_loop(x):
    y = x
    for _ in range(3):
        if cnp.sum(y) > 0:
            y = cnp.sin(y)
        else:
            y = y * 2.0
    return y


program("python_if_piecewise", piecewise, (2.0,), branches_on_value=True)
program("python_for_range_unrolls", python_for_power, (1.5, 4))
program("python_while_newton", my_sqrt, (2.0,), branches_on_value=True)
program("python_recursion_static_depth", recursive_power, (2.0, 5))
program("python_early_return", early_return, (np.array([1.0, 2.0, -1.0, 5.0]),),
        branches_on_value=True)
program("python_data_dependent_loop", data_dependent_loop, (np.array([0.3, 0.4]),),
        branches_on_value=True)

# =============================================================================================
# from tests/test_numpy_programs.py (plain `np.` calls on traced values)


# the same functions, not copies (the overload tests check them against NumPy and finite
# differences there)
from test_numpy_programs import bouncing_ball, gaussian_loglik, softmax_regression  # noqa: E402


def where_trap(x):
    with np.errstate(all="ignore"):
        sqrt_or_zero = cnp.where(x > 0, cnp.sqrt(x), 0.0)
        sinc = cnp.where(x != 0, cnp.sin(x) / x, 1.0)
        return cnp.sum(sqrt_or_zero + sinc)


def non_smooth_conventions(x):
    return (cnp.abs(x[0]) + cnp.relu(x[1]) + cnp.maximum(x[2], x[3]) + cnp.max(x[4:7])
            + cnp.clip(x[7], 0.0, 1.0))


UPDATE_IDX = ([0, 0, 2], [1, 1, 3])


def functional_updates(x, v):
    a = cnp.at(x)[UPDATE_IDX].set(v)
    b = cnp.at(x)[UPDATE_IDX].add(v)
    c = cnp.at(x)[UPDATE_IDX].multiply(v)
    return cnp.sum(a * b) + cnp.sum(cnp.sin(c))


program("gaussian_loglik_slogdet_solve", gaussian_loglik,
        (_normal(3), _normal(3, 3, scale=0.5), _normal(6, 3)), argnums=(0, 1))
program("softmax_regression_plain_numpy", softmax_regression,
        (_normal(4, 3, scale=0.3), _normal(3, scale=0.1), _normal(8, 4),
         np.array([0, 2, 1, 1, 0, 2, 2, 1])), argnums=(0, 1), hessian=False)
program("bouncing_ball_where", bouncing_ball,
        (np.array([[1.0, 0.6, 2.0], [0.0, 1.5, -0.5]]),), hessian=False, fd={"eps": 1e-5})
# at 0 the branch not taken has an infinite or nan derivative: a strong zero keeps it out
program("where_trap_at_zero", where_trap, (np.array([0.0, 0.25, -1.0]),), nonfinite_inside=True,
        fd={"skip": "finite differences straddle the kink of sqrt at 0"})
program("non_smooth_conventions", non_smooth_conventions,
        (np.array([0.0, 0.0, 1.0, 1.0, 1.0, 3.0, 3.0, 1.0]),),
        fd={"skip": "every input sits on a kink (abs, relu, ties, clip bound) on purpose"})
program("functional_updates_at", functional_updates, (_normal(3, 4), _normal(3)),
        argnums=(0, 1))

# =============================================================================================
# from tests/test_transforms.py


def dict_params_with_static_leaves(p):
    return cnp.sum(p["w"] ** 2) * p["b"] + p["meta"][1]


Point = namedtuple("Point", "x y")


@cr.tree.register_dataclass
@dataclasses.dataclass
class Layer:
    w: np.ndarray
    scale: float
    name: str = dataclasses.field(default="dense", metadata={"static": True})


def namedtuple_and_dataclass(pt, layer):
    return pt.x * pt.y * layer.scale + cnp.sum(layer.w ** 2)


A_43 = _normal(4, 3)
A_55 = _normal(5, 5, scale=0.3)


def tanh_affine(x):
    return cnp.tanh(A_43 @ x) + x[0] * 2.0


def outer_and_sum(x, y):
    return {"p": cnp.outer(x, y), "s": cnp.sum(x) * y}


def exp_quartic(x):
    return cnp.sum(cnp.exp(A_55 @ x)) + (x @ x) ** 2


def hessian_dict(p):
    return cnp.sum(p["a"] ** 2) * p["b"] + cnp.sin(p["b"])


def calls_grad_inside(t):
    g = cr.grad(lambda s: s ** 2 * cnp.sin(s))(t)
    return g * t


program("dict_params_with_static_leaves", dict_params_with_static_leaves,
        ({"w": np.array([1.0, 2.0]), "b": 0.5, "meta": ("name", 3), "none": None},))
program("namedtuple_and_dataclass", namedtuple_and_dataclass,
        (Point(2.0, 3.0), Layer(np.array([1.0, -0.5]), 4.0)), argnums=(0, 1))
program("jacobian_tanh_affine", tanh_affine, (_normal(3),))
program("jacobian_axis_sum_times_row", lambda x: cnp.sum(x, axis=0) * x[0], (_normal(2, 3),))
program("dict_output_outer", outer_and_sum, (_normal(2), _normal(3)), argnums=(0, 1))
program("hessian_exp_quartic", exp_quartic, (_normal(5),))
program("hessian_of_a_dict", hessian_dict, ({"a": np.array([1.0, 2.0]), "b": 0.5},))
program("quartic_plus_sin", lambda x: x ** 4 + cnp.sin(x), (0.7,))
program("perturbation_confusion", lambda x: x * cr.grad(lambda y: x + y)(1.0), (3.0,))
program("function_calling_grad", calls_grad_inside, (1.3,))

# =============================================================================================
# new: machine learning losses


LR_X = _normal(10, 3)
LR_Y = (_rng.random(10) > 0.5).astype(float)


def logistic_regression(w, b):
    z = LR_X @ w + b
    p = cnp.sigmoid(z)
    nll = -cnp.mean(LR_Y * cnp.log(p) + (1.0 - LR_Y) * cnp.log1p(-p))
    return nll + 0.01 * cnp.sum(w ** 2)


def mlp_relu_mse(W1, b1, W2, x, y):
    h = cnp.relu(x @ W1 + b1)
    pred = h @ W2
    return cnp.mean((pred - y) ** 2)


def softmax_cross_entropy(logits_w, x, labels):
    z = x @ logits_w
    onehot = np.eye(z.shape[1])[labels]
    return -cnp.sum(onehot * cnp.log(cnp.softmax(z, axis=-1))) / len(labels) + cnp.mean(
        cnp.log_softmax(z, axis=-1) ** 2) * 1e-2


def per_example_loss_vmap(W):
    X = LR_X[:4]
    per_example = cr.vmap(lambda xi: cnp.sum(cnp.tanh(W @ xi) ** 2))(X)
    return cnp.mean(per_example)


def rnn_dict_params(params, seq):
    def cell(h, x):
        h = cnp.tanh(params["Wh"] @ h + params["Wx"] @ x + params["b"])
        return h, cnp.sum(h)
    h, outs = cr.scan(cell, np.zeros(3), seq)
    return cnp.sum(h ** 2) + cnp.sum(outs * np.arange(1.0, 1.0 + len(seq)))


program("logistic_regression", logistic_regression, (_normal(3, scale=0.5), 0.1),
        argnums=(0, 1))
program("mlp_relu_mse", mlp_relu_mse,
        (_normal(3, 4, scale=0.5), _normal(4, scale=0.1), _normal(4, 2, scale=0.5),
         _normal(5, 3), _normal(5, 2)), argnums=(0, 1, 2), hessian=False)
program("softmax_cross_entropy", softmax_cross_entropy,
        (_normal(3, 4, scale=0.5), _normal(5, 3), np.array([0, 3, 1, 2, 3])), hessian=False)
program("per_example_loss_vmap", per_example_loss_vmap, (_normal(2, 3, scale=0.5),))
program("rnn_scan_dict_params", rnn_dict_params,
        ({"Wh": _normal(3, 3, scale=0.4), "Wx": _normal(3, 2, scale=0.4),
          "b": _normal(3, scale=0.1)}, _normal(5, 2)), argnums=(0, 1), hessian=False)

# =============================================================================================
# new: physics and iterative solvers


def spring_leapfrog(q0, params):
    """A damped spring integrated by leapfrog: a tuple carry through fori_loop."""
    k, c = params[0], params[1]
    dt = 0.05

    def step(i, state):
        q, p = state
        p = p - 0.5 * dt * (k * q + c * p)
        q = q + dt * p
        p = p - 0.5 * dt * (k * q + c * p)
        return (q, p)

    q, p = cr.fori_loop(0, 25, step, (q0, cnp.zeros_like(q0)))
    return cnp.sum(q ** 2 + p ** 2)


def newton_cube_root(a):
    """Newton on y^3 = a with an iteration counter (an integer leaf) in the carry."""
    def body(s):
        y, it = s
        return (y - (y ** 3 - a) / (3.0 * y ** 2), it + 1)

    y, _ = cr.while_loop(lambda s: (cnp.abs(s[0] ** 3 - a) > 1e-12 * a) & (s[1] < 50),
                         body, (a, 0))
    return y


def bisection_then_newton(a):
    """sqrt(a) by bisection on [0, a + 1] (a cond inside a while_loop), polished by a Newton
    step so that the result is differentiable in a."""
    def step(s):
        lo, hi = s
        mid = 0.5 * (lo + hi)
        return cr.cond(mid * mid > a, lambda: (lo, mid), lambda: (mid, hi))

    lo, hi = cr.while_loop(lambda s: s[1] - s[0] > 1e-13 * (1.0 + a), step,
                           (cnp.zeros_like(a), a + 1.0))
    y = 0.5 * (lo + hi)
    return y - (y * y - a) / (2.0 * y)


def fixed_point_cos(t):
    """x = cos(t x) by fixed-point iteration with a data-dependent trip count."""
    def body(s):
        x, _ = s
        return (cnp.cos(t * x), x)

    x, _ = cr.while_loop(lambda s: cnp.abs(s[0] - s[1]) > 1e-14, body, (1.0 * t, 10.0 * t))
    return x


def counted_while(x):
    """A fixed number of steps counted by an integer carry."""
    _, y = cr.while_loop(lambda s: s[0] < 5, lambda s: (s[0] + 1, cnp.sin(s[1]) + 0.5 * s[1]),
                         (0, x))
    return cnp.sum(y ** 2)


program("spring_leapfrog_fori", spring_leapfrog, (np.array([1.0, -0.5]), np.array([4.0, 0.3])),
        argnums=(0, 1))
program("newton_cube_root_int_counter", newton_cube_root, (5.0,))
program("bisection_then_newton", bisection_then_newton, (3.0,))
program("fixed_point_cos_while", fixed_point_cos, (0.8,))
program("while_counted_int_carry", counted_while, (np.array([0.3, -1.2]),))

# =============================================================================================
# new: structured control flow in combination


def cond_closure_outer(x):
    """Branches with no operands, closing over values computed from x outside them."""
    a = cnp.sum(x ** 2)
    b = cnp.prod(x)
    return cr.cond(cnp.sum(x) > 0.5, lambda: a * cnp.sin(x), lambda: b - x ** 3)


def cond_pytree_operands(x, y):
    def left(d, s):
        return {"u": d["p"] * s, "v": (d["q"] + s, s)}

    def right(d, s):
        return {"u": d["p"] - s, "v": (d["q"] * s, 2.0 * s)}

    out = cr.cond(y > x[0], left, right, {"p": x, "q": x[1:] ** 2}, y)
    return cnp.sum(out["u"]) + cnp.sum(out["v"][0]) * out["v"][1]


def scan_nested_carry(x, xs):
    def body(c, inp):
        a, b = inp
        h = c["h"] * 0.9 + a * c["pair"][1]
        return {"h": h, "pair": (c["pair"][0] + b * h, c["pair"][1] * 0.5 + b)}, h * b
    c, ys = cr.scan(body, {"h": x, "pair": (0.0, 1.0)}, xs)
    return c["h"] + c["pair"][0] * c["pair"][1] + cnp.sum(ys)


def discounted_returns(rewards, gamma):
    """G_t = r_t + gamma G_{t+1}, a reverse scan."""
    _, G = cr.scan(lambda g, r: (r + gamma * g, r + gamma * g), 0.0, rewards, reverse=True)
    return cnp.sum(G * np.linspace(1.0, 2.0, len(rewards)))


def while_inside_scan(x):
    """Each step takes a square root by a Newton while_loop."""
    def body(c, v):
        target = c + v * v
        r = cr.while_loop(lambda t: cnp.abs(t * t - target) > 1e-12 * target,
                          lambda t: 0.5 * (t + target / t), target)
        return 0.5 * r, r
    c, ys = cr.scan(body, 1.0, x)
    return c + cnp.sum(ys)


def cond_inside_fori(x):
    return cr.fori_loop(0, 4, lambda i, acc: cr.cond(i % 2 == 0, lambda a: a * x,
                                                     lambda a: a + x, acc), 1.0)


def fori_nested(x):
    def outer(i, acc):
        return cr.fori_loop(0, 3, lambda j, a: a * 0.5 + cnp.sin(x) * (j + 1), acc) * 1.1
    return cnp.sum(cr.fori_loop(0, 2, outer, x))


def scan_without_xs(x):
    c, ys = cr.scan(lambda c, _: (c * x + 1.0, c), 1.0, None, length=5)
    return c + cnp.sum(ys)


def cond_in_scan_body(x):
    """A per-step choice on the carried value (cr.cond, not Python `if`)."""
    def body(c, v):
        c = cr.cond(c > 1.0, lambda: c * 0.5 + v, lambda: c * v + 1.0)
        return c, c ** 2
    c, ys = cr.scan(body, 0.2, x)
    return c + cnp.sum(ys)


def static_shape_branch(x):
    """Python `if` on a shape (static under the graph too) and on a constant."""
    if x.shape[0] > 2:
        x = x[:2] * x[2]
    if np.pi > 3:
        x = cnp.exp(x)
    return cnp.sum(x)


program("cond_closure_over_outer_values", cond_closure_outer, (np.array([0.4, 0.9, -0.2]),))
program("cond_closure_over_outer_values_false", cond_closure_outer,
        (np.array([0.4, -0.9, -0.2]),))
program("cond_pytree_operands", cond_pytree_operands, (np.array([0.3, 1.2, -0.7]), 0.9),
        argnums=(0, 1))
program("scan_nested_pytree_carry", scan_nested_carry, (0.7, (_normal(4), _normal(4))),
        argnums=(0, 1))
program("scan_reverse_discounted_returns", discounted_returns, (_normal(6), 0.9),
        argnums=(0, 1))
program("while_loop_inside_scan", while_inside_scan, (np.array([0.5, 1.5, -2.0]),))
program("cond_inside_fori_loop", cond_inside_fori, (0.7,))
program("fori_loop_nested", fori_nested, (np.array([0.2, -0.4]),))
program("scan_length_without_xs", scan_without_xs, (0.6,))
program("cond_inside_scan_body", cond_in_scan_body, (np.array([0.5, 2.0, 0.3, 1.5]),))
program("python_if_on_static_shape", static_shape_branch, (np.array([0.3, -0.2, 1.1]),))

# =============================================================================================
# new: linear algebra, indexing, reductions, other NumPy


SPD_A = _normal(3, 3, scale=0.5)


def solve_quadratic(A, b):
    M = A @ A.T + 3.0 * np.eye(3)
    return b @ cnp.linalg.solve(M, b)


def gaussian_slogdet(L):
    S = L @ L.T + np.eye(3)
    sign, logdet = cnp.linalg.slogdet(S)
    x = np.array([0.5, -1.0, 0.2])
    return -0.5 * (logdet + x @ cnp.linalg.solve(S, x))


def cholesky_logdet(A):
    S = A @ A.T + np.eye(3)
    return 2.0 * cnp.sum(cnp.log(cnp.diagonal(cnp.linalg.cholesky(S))))


def eigh_energy(A):
    S = 0.5 * (A + A.T)
    return cnp.sum(cnp.linalg.eigh(S)[0] ** 3)


def det_plus_inv(A):
    return cnp.linalg.det(A) + cnp.sum(cnp.linalg.inv(A) ** 2)


def fancy_indexing(x):
    a = x[[0, 2], 1:]
    b = x[None, ..., 0]
    c = x[np.array([True, False, True])]
    return cnp.sum(a ** 2) + cnp.sum(b * 3.0) + cnp.sum(cnp.sin(c)) + x[1, -1] * x[-1, 0]


def huber(r):
    d = 1.0
    a = cnp.abs(r)
    return cnp.sum(cnp.where(a < d, 0.5 * r ** 2, d * (a - 0.5 * d)))


def axis_reductions(x):
    return (cnp.sum(cnp.logsumexp(x, axis=1)) + cnp.std(x) + cnp.sum(cnp.cumsum(x, axis=0))
            + cnp.sum(cnp.cumprod(x, axis=1)) + cnp.sum(cnp.min(x, axis=1))
            + cnp.sum(cnp.mean(x, axis=0, keepdims=True) * x))


def einsum_tensordot(A, B):
    C = cnp.einsum("ij,jk->ik", A, B)
    D = cnp.tensordot(A, B.T, axes=([1], [1]))
    return cnp.sum(C * D) + cnp.einsum("ii->", C)


def sort_weighted(x):
    return cnp.sum(cnp.sort(x) * np.arange(1.0, 1.0 + len(x))) + cnp.sum(cnp.sort(x ** 2) ** 2)


def shape_functions(x):
    s = x[::-1] * 2.0
    r = cnp.roll(x, 1)
    p = cnp.pad(x, (1, 2))
    t = cnp.take(x, np.array([3, 0, 0]))
    st = cnp.concatenate([s * r, cnp.stack([x, x ** 2]).reshape(-1)])
    return cnp.sum(st ** 2) + cnp.sum(p * np.arange(len(p))) + cnp.sum(t ** 3)


def complex_modulus(x):
    """Real in, real out, complex in between (README: complex numbers)."""
    z = x * (1.0 + 2.0j) + 0.5j
    return cnp.sum(cnp.abs(z) ** 2) + cnp.sum(cnp.real(z * z)) + cnp.sum(cnp.imag(z) ** 3)


@cr.custom_vjp
def clip_gradient(x):
    return x * 1.0


clip_gradient.defvjp(lambda x: (x * 1.0, None),
                     lambda _, ct: (cnp.clip(ct, -1.0, 1.0),))


def custom_vjp_clip(x):
    return cnp.sum(10.0 * clip_gradient(x ** 2) + 0.1 * x)


CKPT_W = _normal(4, 4, scale=0.5)


def checkpointed_blocks(h):
    block = cr.checkpoint(lambda h: cnp.tanh(CKPT_W @ h))
    return cnp.sum(block(block(h)) ** 2)


def stop_gradient_product(x):
    return cnp.sum(x * cr.stop_gradient(x) + cnp.sin(x))


program("linalg_solve_quadratic", solve_quadratic, (SPD_A, _normal(3)), argnums=(0, 1))
program("linalg_slogdet_gaussian", gaussian_slogdet, (_normal(3, 3, scale=0.5),))
program("linalg_cholesky_logdet", cholesky_logdet, (_normal(3, 3, scale=0.5),))
program("linalg_eigh_eigenvalues", eigh_energy, (_normal(3, 3),))
program("linalg_det_and_inv", det_plus_inv, (np.eye(3) * 2.0 + _normal(3, 3, scale=0.3),))
program("fancy_indexing", fancy_indexing, (_normal(3, 3),))
program("where_huber", huber, (np.array([0.3, -2.0, 1.5, -0.1]),))
program("axis_reductions", axis_reductions, (_normal(3, 4),), hessian=False)
program("einsum_tensordot", einsum_tensordot, (_normal(2, 3), _normal(3, 2)), argnums=(0, 1))
program("roll_pad_take_stack_concat", shape_functions, (np.array([0.4, -1.0, 2.0, 0.1]),))
program("sort_weighted", sort_weighted, (np.array([0.4, -1.0, 2.0, 0.1]),))
program("complex_intermediate_modulus", complex_modulus, (np.array([0.5, -1.5]),))
program("custom_vjp_clip_gradient", custom_vjp_clip, (np.array([0.5, 1.0, -2.0]),),
        fd={"skip": "the custom rule clips the gradient on purpose: it is not the derivative"})
program("checkpointed_blocks", checkpointed_blocks, (_normal(4),))
program("stop_gradient_product", stop_gradient_product, (np.array([0.5, -1.0]),),
        fd={"skip": "stop_gradient drops a term of the derivative on purpose"})

# =============================================================================================
# new: programs on which the two methods once disagreed (bugs found by this corpus, fixed)


def fori_indexing_by_counter(x):
    """A loop reading x[i] at its counter: i is a Python int under overload, a traced integer
    inside the graph's scan body."""
    return cr.fori_loop(0, 3, lambda i, acc: acc * 0.5 + x[i] ** 2, 0.0)


def sqrt_or_zero_sum(x):
    return cnp.sum(cnp.where(x > 0, cnp.sqrt(x), 0.0))


def switch_on_inner_gradient(x):
    """A gradient computed inside the program decides a `where`. Its strong zeros (the
    derivative of the branch not taken at x <= 0) are exact zeros under overload; the compiled
    graph's fast form drops them, gets NaN there, and NaN < 0.5 is False: a finite output, so
    the careful form is never tried."""
    with np.errstate(invalid="ignore"):
        g = cr.grad(sqrt_or_zero_sum)(x)
    return cnp.sum(cnp.where(g < 0.5, 3.0 * x, x) ** 2)


def atan2_signed_zero(x):
    """atan2 tells +0.0 from -0.0 (the branch cut of the angle)."""
    return cnp.arctan2(x * 0.0, -1.0) - cnp.arctan2(x * -0.0, -1.0) + x ** 2


program("fori_loop_indexing_by_counter", fori_indexing_by_counter, (np.array([0.5, 1.5, -2.0]),))
program("where_on_an_inner_gradient", switch_on_inner_gradient, (np.array([-0.5, 0.25, 4.0]),),
        nonfinite_inside=True)
program("atan2_signed_zero_constants", atan2_signed_zero, (0.7,))

# =============================================================================================
# new: Python control flow on traced values (overload only; the graph refuses it)


def relu_ternary(x):
    return x if x > 0 else 0.1 * x


def python_while_doubling(x):
    y = x
    while y < 10.0:
        y = y * 2.0
    return y * cnp.sin(x)


def clip_by_norm(g):
    n = cnp.sqrt(cnp.sum(g ** 2))
    if n > 1.0:
        g = g / n
    return cnp.sum(g * np.arange(1.0, 4.0))


def python_if_in_fori_body(x):
    return cr.fori_loop(0, 3, lambda i, a: a * 2.0 if a > 1.0 else a + 1.0, x)


def python_if_in_cond_branch(x):
    def branch(v):
        if v > 1.0:
            return v * 3.0
        return v

    return cr.cond(x > 0, branch, lambda v: -v, x)


def python_min_builtin(x, y):
    return min(x, y) * cnp.exp(y)


program("python_ternary_relu", relu_ternary, (0.7,), branches_on_value=True)
program("python_while_doubling", python_while_doubling, (0.3,), branches_on_value=True)
program("python_if_clip_by_norm", clip_by_norm, (np.array([1.0, -2.0, 0.5]),),
        branches_on_value=True)
program("python_if_inside_fori_body", python_if_in_fori_body, (0.4,), branches_on_value=True)
program("python_if_inside_cond_branch", python_if_in_cond_branch, (1.5,),
        branches_on_value=True)
program("python_min_builtin", python_min_builtin, (0.3, 0.8), argnums=(0, 1),
        branches_on_value=True)

# =============================================================================================
# the tests


def _argnums(p: Program) -> int | tuple[int, ...]:
    return p.argnums[0] if len(p.argnums) == 1 else p.argnums


def _float_leaves(x: Any) -> list[Any]:
    return [v for v in cr.tree.leaves(x) if cr.tree.is_float_leaf(v)]


def _restricted(p: Program) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """`p.fn` as a function of its differentiated arguments only (the others closed over)."""
    def g(*diff: Any) -> Any:
        args = list(p.args)
        for i, a in zip(p.argnums, diff):
            args[i] = a
        return p.fn(*args)

    return g, tuple(p.args[i] for i in p.argnums)


def _flat(p: Program) -> tuple[Callable[..., Any], list[Any]]:
    """`p.fn` as a function of the floating leaves of its differentiated arguments."""
    g, diff = _restricted(p)
    leaves, td = cr.tree.flatten(diff)
    pos = [k for k, v in enumerate(leaves) if cr.tree.is_float_leaf(v)]

    def h(*xs: Any) -> Any:
        new = list(leaves)
        for k, x in zip(pos, xs):
            new[k] = x
        return g(*cr.tree.unflatten(td, new))

    return h, [leaves[k] for k in pos]


def _rng_for(p: Program, salt: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(f"{p.name}/{salt}".encode()))


def _random_like(x: Any, rng: np.random.Generator) -> Any:
    """A random pytree of x's structure (non-floating leaves kept as they are)."""
    def draw(v: Any) -> Any:
        if not cr.tree.is_float_leaf(v):
            return v
        r = np.asarray(rng.standard_normal(np.shape(v)), dtype=np.result_type(v))
        return r[()] if r.ndim == 0 else r

    return cr.tree.tree_map(draw, x)


def _assert_same(got: Any, want: Any, atol: float) -> None:
    g_leaves, g_td = cr.tree.flatten(got)
    w_leaves, w_td = cr.tree.flatten(want)
    assert g_td == w_td, f"structure {g_td} differs from {w_td}"
    for k, (a, b) in enumerate(zip(g_leaves, w_leaves)):
        assert np.shape(a) == np.shape(b), f"leaf {k}: shape {np.shape(a)} vs {np.shape(b)}"
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=atol, err_msg=f"leaf {k}")


def _is_scalar(p: Program) -> bool:
    with np.errstate(all="ignore"):
        out = p.fn(*p.args)
    return isinstance(out, (float, np.floating, np.ndarray)) and np.ndim(out) == 0


def _n_inputs(p: Program) -> int:
    return sum(np.size(v) for v in _float_leaves(tuple(p.args[i] for i in p.argnums)))


SMOOTH = [p for p in CORPUS if not p.branches_on_value]
BRANCHING = [p for p in CORPUS if p.branches_on_value]


def _params(programs: list[Program], kind: str) -> list[Any]:
    out = []
    for p in programs:
        marks = [pytest.mark.xfail(strict=True, raises=p.xfail_raises, reason=p.xfail[kind])
                 ] if kind in p.xfail else []
        if p.nonfinite_inside:
            marks.append(pytest.mark.filterwarnings("ignore::RuntimeWarning"))
        out.append(pytest.param(p, id=p.name, marks=marks))
    return out


def test_the_corpus_is_large_and_well_formed():
    names = [p.name for p in CORPUS]
    assert len(names) == len(set(names))
    assert len(CORPUS) >= 45
    assert len(BRANCHING) >= 5
    for p in CORPUS:
        assert all(0 <= i < len(p.args) for i in p.argnums), p.name


@pytest.mark.parametrize("p", _params([p for p in SMOOTH if _is_scalar(p)], "grad"))
def test_grad(p):
    want = cr.grad(p.fn, argnums=_argnums(p))(*p.args)
    got = cr.grad(p.fn, argnums=_argnums(p), method="graph")(*p.args)
    _assert_same(got, want, p.atol)
    want_v, _ = cr.value_and_grad(p.fn, argnums=_argnums(p))(*p.args)
    got_v, _ = cr.value_and_grad(p.fn, argnums=_argnums(p), method="graph")(*p.args)
    np.testing.assert_allclose(got_v, want_v, rtol=RTOL, atol=p.atol)


@pytest.mark.parametrize("p", _params(SMOOTH, "jacfwd"))
def test_jacfwd(p):
    want = cr.jacfwd(p.fn, argnums=_argnums(p))(*p.args)
    got = cr.jacfwd(p.fn, argnums=_argnums(p), method="graph")(*p.args)
    _assert_same(got, want, p.atol)


@pytest.mark.parametrize("p", _params(SMOOTH, "jacrev"))
def test_jacrev(p):
    want = cr.jacrev(p.fn, argnums=_argnums(p))(*p.args)
    got = cr.jacrev(p.fn, argnums=_argnums(p), method="graph")(*p.args)
    _assert_same(got, want, p.atol)


@pytest.mark.parametrize("p", _params([p for p in SMOOTH if p.hessian and _n_inputs(p) <= 12
                                       and _is_scalar(p)], "hessian"))
def test_hessian(p):
    want = cr.hessian(p.fn, argnums=_argnums(p))(*p.args)
    got = cr.hessian(p.fn, argnums=_argnums(p), method="graph")(*p.args)
    _assert_same(got, want, p.atol)


@pytest.mark.parametrize("p", _params([p for p in SMOOTH if p.hessian and _is_scalar(p)], "hvp"))
def test_hvp_random_direction(p):
    g, diff = _restricted(p)
    v = _random_like(diff, _rng_for(p, "hvp"))
    _assert_same(cr.hvp(g, diff, v, method="graph"), cr.hvp(g, diff, v), p.atol)


@pytest.mark.parametrize("p", _params(SMOOTH, "vjp"))
def test_vjp_random_cotangent(p):
    g, diff = _restricted(p)
    out, pull = cr.vjp(g, *diff)
    ct = _random_like(out, _rng_for(p, "cotangent"))
    got_out, got_pull = cr.vjp(g, *diff, method="graph")
    _assert_same(got_out, out, p.atol)
    _assert_same(got_pull(ct), pull(ct), p.atol)


@pytest.mark.parametrize("p", _params(SMOOTH, "jvp"))
def test_jvp_random_tangent(p):
    g, diff = _restricted(p)
    tangents = _random_like(diff, _rng_for(p, "tangent"))
    want = cr.jvp(g, diff, tangents)
    got = cr.jvp(g, diff, tangents, method="graph")
    _assert_same(got, want, p.atol)


@pytest.mark.parametrize("p", _params(CORPUS, "fd"))
def test_overload_reference_against_finite_differences(p):
    if "skip" in p.fd:
        pytest.skip(p.fd["skip"])
    h, xs = _flat(p)
    check_grads(h, xs, order=1, **p.fd)


@pytest.mark.parametrize("p", _params(BRANCHING, "branching"))
def test_python_control_flow_on_a_traced_value_is_refused_by_the_graph(p):
    where = r"test_graph_corpus.py:\d+"
    g, diff = _restricted(p)
    with pytest.raises(cr.graph.ConcretizationError, match=where):
        cr.jacrev(p.fn, argnums=_argnums(p), method="graph")(*p.args)
    with pytest.raises(cr.graph.ConcretizationError, match=where):
        cr.jvp(g, diff, _random_like(diff, _rng_for(p, "tangent")), method="graph")
    with pytest.raises(cr.graph.ConcretizationError, match=where):
        cr.graph.trace(p.fn, *p.args)
    # the overload method runs the branch that was taken
    J = cr.jacrev(p.fn, argnums=_argnums(p))(*p.args)
    assert all(np.all(np.isfinite(v)) for v in cr.tree.leaves(J))


# ---------------------------------------------------------------------------------------------
# the structured control-flow primitives are single graph equations, and survive JSON


def _by_name(name: str) -> Program:
    return next(p for p in CORPUS if p.name == name)


PRIMITIVE_PROGRAMS = [
    ("cond", "cond_closure_over_outer_values"),
    ("cond", "cond_pytree_operands"),
    ("while_loop", "newton_sqrt_while_loop"),
    ("while_loop", "bisection_then_newton"),
    ("scan", "scan_rnn"),
    ("scan", "scan_reverse_discounted_returns"),
    ("scan", "fori_power"),
    ("scan", "spring_leapfrog_fori"),
]


def _round_trip(g: Any, flat_args: list[Any]) -> None:
    text = g.to_json()
    again = cr.graph.Graph.from_json(text)
    want = g.run_flat(*flat_args)
    got = again.run_flat(*flat_args)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert np.array_equal(a, b)
    assert str(again) == str(g)


@pytest.mark.parametrize("prim,name", PRIMITIVE_PROGRAMS,
                         ids=[f"{prim}-{name}" for prim, name in PRIMITIVE_PROGRAMS])
def test_control_flow_primitive_is_one_equation_and_round_trips_json(prim, name):
    p = _by_name(name)
    g = cr.graph.trace(p.fn, *p.args)
    names = [e.prim.name for e in g.eqns]
    assert names.count(prim) == 1, names
    _round_trip(g, _float_leaves(p.args))
    want = p.fn(*p.args)
    for a, b in zip(g.run_flat(*_float_leaves(p.args)), cr.tree.leaves(want)):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("prim,name", PRIMITIVE_PROGRAMS,
                         ids=[f"{prim}-{name}" for prim, name in PRIMITIVE_PROGRAMS])
def test_gradient_graph_of_control_flow_round_trips_json(prim, name):
    p = _by_name(name)
    derivative = cr.grad if _is_scalar(p) else cr.jacrev
    g = cr.graph.trace(derivative(p.fn, argnums=_argnums(p)), *p.args)
    _round_trip(g, _float_leaves(p.args))


def test_newton_gradient_is_the_closed_form_under_both_methods():
    for a in (0.3, 2.0, 9.0):
        for method in ("overload", "graph"):
            assert cr.grad(newton_sqrt, method=method)(a) == pytest.approx(
                0.5 / math.sqrt(a), rel=1e-12)


# ---------------------------------------------------------------------------------------------
# the graph method's calling conventions match the overload method's


def _with_aux(x):
    return cnp.sin(x) * 2.0, {"square": x ** 2}


def test_vjp_with_aux_under_graph():
    x = np.array([0.3, 0.7])
    out, pull, aux = cr.vjp(_with_aux, x, has_aux=True)
    got_out, got_pull, got_aux = cr.vjp(_with_aux, x, has_aux=True, method="graph")
    _assert_same((got_out, got_aux), (out, aux), ATOL)
    ct = np.array([0.5, -1.0])
    _assert_same(got_pull(ct), pull(ct), ATOL)


def test_jvp_with_and_without_aux_on_the_same_function_under_graph():
    def f(x):
        return cnp.sin(x) * 2.0, {"square": x ** 2}

    x, t = np.array([0.3, 0.7]), np.array([1.0, -2.0])
    _assert_same(cr.jvp(f, (x,), (t,), method="graph"), cr.jvp(f, (x,), (t,)), ATOL)
    want = cr.jvp(f, (x,), (t,), has_aux=True)
    got = cr.jvp(f, (x,), (t,), has_aux=True, method="graph")
    assert len(got) == len(want) == 3
    _assert_same(got, want, ATOL)


def test_jvp_with_aux_under_graph_on_first_use():
    x, t = np.array([0.3, 0.7]), np.array([1.0, -2.0])
    _assert_same(cr.jvp(_with_aux, (x,), (t,), has_aux=True, method="graph"),
                 cr.jvp(_with_aux, (x,), (t,), has_aux=True), ATOL)


def test_grad_passes_keyword_arguments_under_graph():
    def f(x, scale=1.0):
        return cnp.sin(x) * scale

    want = cr.grad(f)(0.5, scale=3.0)
    assert cr.grad(f, method="graph")(0.5, scale=3.0) == pytest.approx(want, rel=RTOL)
