"""The source transformer: its generated code, its conventions, and its refusals."""
import dataclasses
import functools
import inspect
import math
import operator

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
import chainrule.scipy.stats as cstats
from chainrule._core.checks import transform_target
from chainrule.source import TransformError
from chainrule.source.transform import careful_of

COUNTER = 0


def textbook(x1, x2):
    return cnp.log(x1) + x1 * x2 - cnp.sin(x2)


def test_textbook_gradient_and_tangent():
    g = cr.source.grad(textbook, argnums=(0, 1))(2.0, 5.0)
    assert g == pytest.approx((5.5, 2.0 - math.cos(5.0)), rel=1e-15)  # (1/x1 + x2, x1 - cos x2)
    out, t = cr.source.jvp(textbook, (2.0, 5.0), (1.0, 0.0))
    assert out == pytest.approx(math.log(2.0) + 10.0 - math.sin(5.0)) and t == pytest.approx(5.5)


def piecewise_loop(x, n):
    y = x
    for i in range(n):
        if i % 2 == 0:
            y = y * cnp.sin(y)
        else:
            y = y + x ** 2
    k = 0
    while y > 0.05 and k < 40:
        y = y * 0.5
        k += 1
    return y


def test_generated_code_is_readable_python():
    g = cr.source.grad(piecewise_loop)
    src = g.source
    compile(src, "<check>", "exec")  # plain Python
    assert src.startswith("def piecewise_loop_grad(x, n):")
    assert "# ---- primal sweep" in src and "# ---- adjoint sweep" in src
    # the user's lines appear as comments, adjoints are d_-prefixed and accumulated
    first = inspect.getsourcelines(piecewise_loop)[1]
    assert f"# line {first + 4}: y = y * cnp.sin(y)" in src
    # the adjoint statements are the rule table's VJPs written out (y * sin(y): the sin part)
    assert "d_y = d_y + _ct * np.cos(y)" in src
    # ... and the careful form, run when a result is not finite, calls the rules themselves
    assert "pullback(operator.mul, 0," in careful_of(transform_target(g)()).source
    # overwritten values are saved on the stack and restored, the branch taken is recorded
    assert "_stack = (y, _stack)" in src and "y, _stack = _stack" in src
    assert "_stack = (True, _stack)" in src
    # and the numbers are right (against the overload method and finite differences)
    for x in (0.3, 0.9, 1.7):
        want = cr.grad(piecewise_loop)(x, 5)
        assert g(x, 5) == pytest.approx(want, rel=1e-12)
        fd = (piecewise_loop(x + 1e-6, 5) - piecewise_loop(x - 1e-6, 5)) / 2e-6
        assert g(x, 5) == pytest.approx(fd, rel=1e-6)


def unused_work(x):
    a = cnp.exp(x)  # noqa: F841 (never read: removed)
    b = cnp.cos(x) * 2.0    # read by nothing but c, itself unused: removed too
    c = b + 1.0  # noqa: F841
    return cnp.sin(x)


def test_no_dead_code_in_the_gradient():
    src = cr.source.grad(unused_work).source
    assert "exp" not in src and "cnp.cos" not in src and "_out" not in src
    assert cr.source.grad(unused_work)(0.4) == pytest.approx(math.cos(0.4))


def test_show_prints_both_modes(capsys):
    text = cr.source.show(textbook, mode="forward")
    assert "def textbook_jvp(x1, x2, *, d_x1=0.0, d_x2=0.0):" in text
    assert text in capsys.readouterr().out
    assert "def textbook_grad(x1, x2):" in cr.source.show(textbook, mode="reverse")
    with pytest.raises(ValueError, match="mode"):
        cr.source.show(textbook, mode="sideways")


def test_higher_order_by_transforming_generated_code():
    def f(x):
        y = x
        for _ in range(3):
            y = cnp.sin(y) * x
        return y

    x = 0.7
    second = cr.grad(cr.grad(f))(x)
    assert cr.source.grad(cr.source.grad(f))(x) == pytest.approx(second, rel=1e-12)
    assert cr.source.jvp(cr.source.grad(f), (x,), (1.0,))[1] == pytest.approx(second, rel=1e-12)
    assert cr.hessian(f, method="source")(x) == pytest.approx(second, rel=1e-12)
    third = cr.grad(cr.grad(cr.grad(f)))(x)
    g3 = cr.source.grad(cr.source.grad(cr.source.grad(f)))
    assert g3(x) == pytest.approx(third, rel=1e-10)


def layer(W, b, x):
    return cnp.tanh(W @ x + b)


def network(params, x):
    h = x
    for W, b in params:
        h = layer(W, b, h)
    return cnp.sum(h ** 2)


def test_user_functions_and_pytrees(rng):
    params = [(rng.standard_normal((4, 3)) * 0.5, rng.standard_normal(4) * 0.1),
              (rng.standard_normal((2, 4)) * 0.5, rng.standard_normal(2) * 0.1)]
    x = rng.standard_normal(3)
    got = cr.source.grad(network)(params, x)
    want = cr.grad(network)(params, x)
    for (gw, gb), (ww, wb) in zip(got, want):
        np.testing.assert_allclose(gw, ww, rtol=1e-12)
        np.testing.assert_allclose(gb, wb, rtol=1e-12)
    assert "layer_vjp" in cr.source.grad(network).source  # transformed once, called


def fill(x):
    v = cnp.zeros(3)
    for i in range(3):
        v[i] = x * (i + 1.0)
    squares = [t * t for t in v]
    return squares[0] + squares[2] + cnp.sum(v)


def test_subscript_assignment_and_comprehensions():
    # v = [x, 2x, 3x]: f = x^2 + 9x^2 + 6x
    assert cr.source.grad(fill)(0.5) == pytest.approx(20 * 0.5 + 6)
    assert cr.source.jvp(fill, (0.5,), (1.0,))[1] == pytest.approx(20 * 0.5 + 6)


def first_over(x, limit):
    total = 0.0
    for i in range(20):
        if i == 3:
            continue
        total = total + x * i
        if total > limit:
            return total * 2.0
        if i > 10:
            break
    return total


def test_break_continue_and_early_return():
    for x, limit in ((0.5, 3.0), (0.01, 100.0)):
        want = cr.grad(first_over)(x, limit)
        assert cr.source.grad(first_over)(x, limit) == pytest.approx(want)
        assert cr.source.jvp(first_over, (x, limit), (1.0, 0.0))[1] == pytest.approx(want)


def test_stop_gradient_and_custom_vjp():
    @cr.custom_vjp
    def clip(x):
        return x

    clip.defvjp(lambda x: (x, None), lambda _, ct: (cnp.clip(ct, -0.5, 0.5),))

    def f(x):
        return cr.stop_gradient(x) * x + clip(3.0 * x)

    assert cr.source.grad(f)(2.0) == pytest.approx(2.0 + 3.0 * 0.5) == cr.grad(f)(2.0)


def test_every_transform_takes_method_source(rng):
    A = rng.standard_normal((3, 3))

    def f(x):
        h = cnp.tanh(A @ x)
        return h * x

    x = rng.standard_normal(3)
    for transform in (cr.jacrev, cr.jacfwd):
        np.testing.assert_allclose(transform(f, method="source")(x), transform(f)(x),
                                   rtol=1e-12)
    s = lambda v: cnp.sum(f(v) ** 2)  # noqa: E731
    np.testing.assert_allclose(cr.hessian(s, method="source")(x), cr.hessian(s)(x), rtol=1e-10)
    np.testing.assert_allclose(cr.hvp(s, (x,), (x,), method="source"), cr.hvp(s, (x,), (x,)),
                               rtol=1e-10)
    out, pull = cr.vjp(f, x, method="source")
    np.testing.assert_allclose(pull(np.ones(3))[0], cr.vjp(f, x)[1](np.ones(3))[0], rtol=1e-12)
    value, g = cr.value_and_grad(s, method="source")(x)
    assert value == pytest.approx(s(x)) and np.allclose(g, cr.grad(s)(x), rtol=1e-12)


def shape_error(x, M):
    y = cnp.sin(x)
    z = M @ y
    return cnp.sum(z)


def test_errors_in_generated_code_name_the_users_line():
    line = inspect.getsourcelines(shape_error)[1] + 2
    with pytest.raises(ValueError) as info:
        cr.source.grad(shape_error)(np.ones(3), np.ones((2, 4)))
    assert any(f"test_source.py:{line}: z = M @ y" in note for note in info.value.__notes__)


# ---------------------------------------------------------------------------------------------
# refusals: TransformError with the file, the line and the construct, never wrong code


def writes_global(x):
    global COUNTER
    COUNTER += 1
    return x


def uses_try(x):
    try:
        return x * 2
    except ValueError:
        return x


class Box:
    value = 0.0


def uses_with(x):
    with open("/dev/null"):
        return x


def generator(x):
    yield x


async def coroutine(x):
    return x


def defines_class(x):
    class Local:
        pass
    return x


def calls_eval(x):
    return eval("x * 2")


def sets_attribute(x, box):
    box.value = x
    return x


@pytest.mark.parametrize("fn,construct,needle", [
    (writes_global, "a global statement", "global COUNTER"),
    (uses_try, "try", "try:"),
    (uses_with, "with", "with open"),
    (generator, "yield (a generator)", "yield x"),
    (coroutine, "an async function", "async def coroutine"),
    (defines_class, "a class definition", "class Local"),
    (calls_eval, "eval()", 'eval("'),
    (sets_attribute, "attribute assignment", "box.value = x"),
], ids=lambda v: v.__name__ if callable(v) else None)
def test_refusals_name_file_line_and_construct(fn, construct, needle):
    lines, first = inspect.getsourcelines(fn)
    line = first + next(k for k, text in enumerate(lines) if needle in text)
    with pytest.raises(TransformError) as info:
        cr.source.grad(fn)
    err = info.value
    assert err.construct == construct
    assert err.line == line
    assert err.filename.endswith("test_source.py")
    assert f"test_source.py:{line}: cannot transform {construct}" in str(err)
    with pytest.raises(TransformError):
        cr.source.jvp(fn)


def sqrt_or_zero(x):
    return cnp.sum(cnp.where(x > 0, cnp.sqrt(x), 0.0))


def switch_on_inner_gradient(x):
    g = cr.grad(sqrt_or_zero)(x)
    return cnp.sum(cnp.where(g < 0.5, 3.0 * x, x) ** 2)


def test_strong_zeros_hold_in_generated_code():
    # the fast form runs first; an infinite derivative meeting a zero cotangent (sqrt at 0)
    # makes its result non-finite, and the careful form answers
    x = np.array([0.0, 4.0, -1.0])
    with np.errstate(all="ignore"):
        got = cr.source.grad(sqrt_or_zero)(x)
    np.testing.assert_array_equal(got, [0.0, 0.25, 0.0])
    # a gradient computed inside the function, then compared: always with strong zeros there
    y = np.array([-0.5, 0.25, 4.0])
    with np.errstate(all="ignore"):
        want = cr.grad(switch_on_inner_gradient)(y)
        np.testing.assert_allclose(cr.source.grad(switch_on_inner_gradient)(y), want,
                                   rtol=1e-12)


# --- a Jacobian's whole basis in one run of the generated code -----------------------------

X2 = np.array([[0.3], [-1.2]])
W2 = np.array([[0.7, -0.4]])


def shifted_tanh(b):
    return cnp.tanh(X2 @ W2 + b)  # b (2,) broadcast over the rows of a (2, 2) result


def test_batched_jacobians_pair_the_basis_axes_with_each_other():
    # the basis has 2 seeds and the result 2 rows: a tangent of b lined up with the rows
    # instead of the seeds would give a wrong answer of the right shape
    b = np.array([0.1, -0.5])
    z = X2 @ W2 + b
    want = (1.0 - np.tanh(z) ** 2)[:, :, None] * np.eye(2)[None, :, :]  # d f_ij / d b_k
    for jac in (cr.jacfwd, cr.jacrev):
        got = jac(shifted_tanh, method="source")(b)
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    hess = cr.hessian(lambda b: cnp.sum(shifted_tanh(b)), method="source")(b)
    t = np.tanh(z)
    np.testing.assert_allclose(hess, np.diag((-2.0 * t * (1.0 - t * t)).sum(axis=0)),
                               rtol=1e-12, atol=1e-15)


def test_compiled_kernels_once_per_signature(rng):
    from chainrule.source import kernels

    def softmax_rows(w, x):
        z = x @ w
        return cnp.sum(cnp.log(cnp.sum(cnp.exp(z), axis=1)))

    g = cr.grad(softmax_rows, method="source")
    w, x = rng.standard_normal((3, 4)), rng.standard_normal((5, 3))
    first = g(w, x)
    size = len(kernels._KERNELS)
    again = g(w + 0.5, x)
    assert len(kernels._KERNELS) == size  # same shapes: the same kernels
    g(rng.standard_normal((3, 2)), x)
    assert len(kernels._KERNELS) > size  # new shapes: new ones
    for w_, got in ((w, first), (w + 0.5, again)):
        p = np.exp(x @ w_)
        p /= p.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(got, x.T @ p, rtol=1e-12)  # d/dw sum log sum exp(xw)


def test_kernels_by_shape_alone_tell_apart_what_the_shapes_do_not(rng):
    # The hot path keys a kernel by its values' shapes and dtypes (kernels.fast); a reduction's
    # axis, a dtype, the strong-zero mode and the argument index must each give their own.
    from chainrule.source import kernels

    x = rng.standard_normal((4, 4))

    def rows(x):
        return cnp.sum(cnp.max(x, axis=1) ** 2)

    def cols(x):
        return cnp.sum(cnp.max(x, axis=0) ** 2)

    for f, axis in ((rows, 1), (cols, 0), (rows, 1)):
        got = cr.grad(f, method="source")(x)
        m = x.max(axis=axis, keepdims=True)
        np.testing.assert_allclose(got, np.where(x == m, 2.0 * m, 0.0), rtol=1e-13)
    assert kernels._FAST  # (the calls above went through it)

    def prod(a, b):
        return cnp.sum(cnp.tanh(a @ b))

    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    for dt in (np.float64, np.float32, np.float64):
        ga, gb = cr.grad(prod, argnums=(0, 1), method="source")(a.astype(dt), b.astype(dt))
        s = 1.0 - np.tanh(a @ b) ** 2
        assert ga.dtype == dt and gb.dtype == dt
        tol = 1e-12 if dt is np.float64 else 1e-5
        np.testing.assert_allclose(ga, s @ b.T, rtol=tol)
        np.testing.assert_allclose(gb, a.T @ s, rtol=tol)

    def masked(x):
        return cnp.sum(cnp.sqrt(x) * 0.0 + x)

    g = cr.grad(masked, method="source")
    np.testing.assert_allclose(g(np.array([1.0, 4.0])), [1.0, 1.0])  # fast form, kernels kept
    # same shapes, a point where the fast form's sqrt'(0) * 0 is nan: the careful form, with
    # its own kernels (keyed by the mode), gives the strong zero
    np.testing.assert_allclose(g(np.array([0.0, 4.0])), [1.0, 1.0])


def test_forward_kernels_by_shape_alone_at_two_points(rng):
    # jacfwd and the Hessian (forward over the generated reverse code) reuse kernels found by
    # shape on the second call; the values there are new
    a = 0.3 * rng.standard_normal((5, 5))

    def f(x):
        return cnp.sum(cnp.exp(a @ x)) + (x @ x) ** 2

    def jac(x):
        return cnp.tanh(a @ x) + x ** 3

    def quadratic(x):  # (a matmul whose operands have one shape and differ: i is in the key)
        return cnp.tanh(a @ x) @ x

    h, j = cr.hessian(f, method="source"), cr.jacfwd(jac, method="source")
    hq = cr.hessian(quadratic, method="source")
    for x in (rng.standard_normal(5), rng.standard_normal(5)):
        t = np.tanh(a @ x)
        s2 = 1.0 - t * t  # d/dx [t @ x] = a.T (s2 x) + t; its derivative:
        want_q = a.T * s2 + (a.T * (-2.0 * t * s2 * x)) @ a + s2[:, None] * a
        np.testing.assert_allclose(hq(x), want_q, rtol=1e-11)
        e, s = np.exp(a @ x), x @ x
        want = (a.T * e) @ a + 8.0 * np.outer(x, x) + 4.0 * s * np.eye(5)
        np.testing.assert_allclose(h(x), want, rtol=1e-12)
        t = np.tanh(a @ x)
        np.testing.assert_allclose(j(x), (1.0 - t * t)[:, None] * a + np.diag(3.0 * x * x),
                                   rtol=1e-12)


def exp_sum(x):
    return cnp.sum(cnp.exp(x))


def _min_of(p0):
    return cnp.minimum(p0, -0.236)


def _scaled_second(p0, p1):  # (its VJP in p0 is Zero, a value of the primal it returns)
    return np.multiply(p1, -1.513)


def relu_scaled(x0):
    v3 = cnp.maximum(x0, 0.0)
    return _scaled_second(_min_of(v3), v3)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # (exp(800) overflows)
def test_a_tangent_nothing_reaches_is_a_dead_one_in_forward_over_reverse():
    # In a Hessian the tangent of `pullback(sum, ...)` in the values it reads only the shapes of
    # is zero whatever the seeds: the generated code gets its dead tangent, 0.0, as the other
    # methods a symbolic Zero, and no later statement multiplies by zeros. Where exp overflows,
    # H[0, 0] = exp(800) is inf in every method (0 * inf made it nan here before).
    x = np.array([800.0, 0.0])
    for h in (cr.hessian(exp_sum, method="source"),
              cr.graph.jit(cr.hessian(exp_sum, method="source")),
              cr.hessian(exp_sum, method="overload"), cr.hessian(exp_sum, method="graph")):
        got = h(x)
        assert got[0, 0] == np.inf and got[1, 1] == 1.0 and got[1, 0] == 0.0
    # a helper whose VJP returns a Zero among its values: all dead, nothing instantiated from it
    for m in ("source", "overload"):
        assert cr.hessian(relu_scaled, method=m)(0.8835) == 0.0
        assert cr.grad(relu_scaled, method=m)(0.8835) == -1.513


def test_identity_seeds_are_constants_of_the_kernels(rng):
    # A Jacobian's basis of seeds is the identity: a kernel that meets it keeps it as a constant
    # (its product with the identity folded away), keyed apart from an ordinary array of the
    # same shape; the basis is read-only, and the Jacobian handed out is the caller's own.
    from chainrule._core import jacobian
    from chainrule.source import kernels

    a = 0.3 * rng.standard_normal((6, 6))

    def f(x):
        return cnp.tanh(a @ x) + x ** 3

    def g(b, x):  # (two arguments: the seeds are slices of a larger identity, not one)
        return cnp.tanh(b @ x) + x ** 3

    def twice(x):  # (the second product meets a tangent of the identity's shape, not it)
        return a @ (a @ x)

    x = rng.standard_normal(6)
    t = np.tanh(a @ x)
    want = (1.0 - t * t)[:, None] * a + np.diag(3.0 * x * x)
    got = cr.jacfwd(f, method="source")(x)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    np.testing.assert_allclose(cr.jacfwd(twice, method="source")(x), a @ a, rtol=1e-13)
    keys = [k for k in kernels._KERNELS._data
            if "identity" in repr(k) and "matmul" in repr(k) and "(6, 6)" in repr(k)]
    assert keys, "the matmul's tangent kernel was not keyed on the identity"
    folded = kernels._KERNELS._data[keys[0]][0].source
    assert folded.count("matmul") == 1, folded  # (a @ x alone: a @ I is a)
    _, jx = cr.jacfwd(g, argnums=(0, 1), method="source")(a, x)
    np.testing.assert_allclose(jx, want, rtol=1e-13)
    got[0, 0] = 42.0  # (the caller's array: the next Jacobian is not changed by it)
    np.testing.assert_allclose(cr.jacfwd(f, method="source")(x), want, rtol=1e-13)
    for method in ("overload", "graph", "source"):
        same = cr.jacfwd(lambda v: v, method=method)(x)
        assert same.flags.writeable
        same[0, 0] = 7.0
        np.testing.assert_array_equal(cr.jacfwd(lambda v: v, method=method)(x), np.eye(6))
    (seeds,) = jacobian.basis([x])
    assert jacobian.is_identity_basis(seeds) and not seeds.flags.writeable
    assert jacobian.basis([x])[0] is seeds  # (kept: the next Jacobian of this shape takes it)
    assert not jacobian.is_identity_basis(np.eye(6))
    n = int(jacobian.MAX_IDENTITY ** 0.5) + 1
    (big,) = jacobian.basis([np.zeros(n)])  # (too large to keep as a kernel's constant)
    assert not jacobian.is_identity_basis(big)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # (inf * 0, then masked)
def test_graph_jit_compiles_generated_code():
    def f(x):
        return cnp.sum(cnp.where(x > 0, cnp.sqrt(cnp.abs(x)), 0.0) + x * x)

    g = cr.graph.jit(cr.grad(f, method="source"))
    x = np.array([0.0, 4.0, -1.0])
    np.testing.assert_allclose(g(x), [0.0, 0.25 + 8.0, -2.0])  # no nan from sqrt'(0) * 0
    h = cr.graph.jit(cr.hessian(textbook, method="source"))
    np.testing.assert_allclose(h(2.0, 5.0), -1.0 / 4.0)  # d2/dx1^2 of log(x1): -1/x1^2


def test_a_lambda_on_a_continuation_line_is_found():
    # (the statement that holds it starts on an earlier line)
    got = [1.0,
           cr.grad(lambda x: x * x * x, method="source")(2.0)]
    assert got[1] == pytest.approx(12.0)


def _passing(f):
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        """Logs nothing, changes nothing."""
        return f(*args, **kwargs)
    return wrapper


@_passing
def _passed_cube(x):
    return x * x * x


def test_a_pass_through_decorator_is_transformed_as_the_function_it_wraps():
    assert cr.grad(_passed_cube, method="source")(2.0) == pytest.approx(12.0)
    assert cr.jvp(_passed_cube, (2.0,), (1.0,), method="source")[1] == pytest.approx(12.0)


def test_a_function_made_by_chainrule_is_refused_by_name():
    # (cr.grad(f) is overload's gradient function: its code is chainrule's, not the user's;
    # transforming f instead, as once happened, gave the gradient where the Hessian was asked)
    with pytest.raises(TransformError, match="made by chainrule.*method='source'"):
        cr.jacfwd(cr.grad(lambda x: x ** 3), method="source")(2.0)
    nested = cr.jacfwd(cr.grad(lambda x: x ** 3, method="source"), method="source")(2.0)
    assert nested == pytest.approx(12.0)
    assert cr.grad(cr.graph.jit(_passed_cube), method="source")(2.0) == pytest.approx(12.0)


@cr.custom_jvp
def _scaled_with_default(x, a=3.0):
    return a * x


_scaled_with_default.defjvp(lambda p, t: (p[0] * p[1], 10.0 * t[0]))


def test_a_custom_rule_function_with_a_default_given_to_source():
    assert cr.grad(_scaled_with_default, method="source")(0.5) == pytest.approx(10.0)


def test_jacobian_of_a_stack_with_a_constant_entry():
    c = np.array([1.0, 2.0])

    def f(x):
        return cnp.stack([x * x, c]).sum(axis=0)

    want = np.diag(2 * np.array([0.5, 1.5]))
    for m in ("overload", "source"):
        np.testing.assert_allclose(cr.jacfwd(f, method=m)(np.array([0.5, 1.5])), want)
        np.testing.assert_allclose(cr.jacrev(f, method=m)(np.array([0.5, 1.5])), want)


def test_a_transform_of_a_source_jacobian_is_refused_not_taken_for_the_gradient():
    """functools.wraps copies a function's attributes onto its wrapper: the record of what a
    source gradient runs must not pass on to the Jacobian made of it (which the source engine
    then transformed as the gradient: a Hessian returned for a third derivative)."""
    def f(a):
        return np.sum(np.sin(a) ** 3)

    x = np.array([0.1, 0.2])
    hess = cr.hessian(f, method="source")
    with pytest.raises(TransformError, match="made by chainrule"):
        cr.jacfwd(hess, method="source")(x)
    third = cr.jacfwd(hess)(x)  # (the overload engine differentiates it)
    d3 = 6 * np.cos(x) ** 3 - 21 * np.sin(x) ** 2 * np.cos(x)
    np.testing.assert_allclose(third, np.einsum("i,ij,ik->ijk", d3, np.eye(2), np.eye(2)),
                               rtol=1e-10)


def test_generated_code_matmul_rules_agree_with_per_seed_products():
    """The matmul tangent and cotangent that generated code computes (real matrices, a batch of
    seeds at most) against products taken seed by seed, where the batch size equals the
    vector's length (a transposition mistake would not fail on shape there)."""
    from chainrule.source import runtime

    rng = np.random.default_rng(7)
    a = rng.normal(size=(4, 4))
    y = rng.normal(size=4)
    dy = rng.normal(size=(4, 4))  # 4 seeds of a vector of 4
    out, t = runtime.pushforward(operator.matmul, (a, y), (0.0, dy))
    np.testing.assert_allclose(out, a @ y, rtol=1e-14)
    np.testing.assert_allclose(t, np.stack([a @ dy[b] for b in range(4)]), rtol=1e-13)
    ym, dym = rng.normal(size=(4, 3)), rng.normal(size=(2, 4, 3))
    _, tm = runtime.pushforward(operator.matmul, (a, ym), (0.0, dym))
    np.testing.assert_allclose(tm, np.stack([a @ dym[b] for b in range(2)]), rtol=1e-13)
    _, t1 = runtime.pushforward(operator.matmul, (a, y), (0.0, dy[0]))
    np.testing.assert_allclose(t1, a @ dy[0], rtol=1e-13)
    # cotangents: ct @ y.T for the matrix, x.T @ ct for the other
    x, yy, ct = rng.normal(size=(3, 4)), rng.normal(size=(4, 5)), rng.normal(size=(3, 5))
    np.testing.assert_allclose(runtime.pullback(operator.matmul, 0, ct, x @ yy, x, yy),
                               np.einsum("ik,jk->ij", ct, yy), rtol=1e-13)
    np.testing.assert_allclose(runtime.pullback(operator.matmul, 1, ct, x @ yy, x, yy),
                               np.einsum("ki,kj->ij", x, ct), rtol=1e-13)
    v, cv = rng.normal(size=4), rng.normal(size=3)
    np.testing.assert_allclose(runtime.pullback(operator.matmul, 0, cv, x @ v, x, v),
                               np.outer(cv, v), rtol=1e-13)
    np.testing.assert_allclose(runtime.pullback(operator.matmul, 1, cv, x @ v, x, v),
                               x.T @ cv, rtol=1e-13)


def test_jacrev_output_shape_that_depends_on_values():
    # jacrev remembers the output's shapes per input signature (one run instead of two); an
    # output whose shape depends on the values, not the shapes, must still come out right
    def f(x):
        if x[0] > 0:
            return x[:2] * x[:2]
        return x * 3.0

    j = cr.jacrev(f, method="source")
    pos, neg = np.array([1.0, 2.0, 3.0]), np.array([-1.0, 2.0, 3.0])
    for x in (pos, neg, pos, pos, neg):
        want = np.diag(2.0 * x)[:2] if x[0] > 0 else 3.0 * np.eye(3)
        np.testing.assert_array_equal(j(x), want)


def test_jacrev_output_shape_that_depends_on_values_through_a_product():
    # (the remembered basis meets a matrix product of other shapes: an error inside, then the
    # general path)
    a = np.arange(6.0).reshape(2, 3)

    def f(x):
        if x[0] > 0:
            return a @ x
        return x * x

    j = cr.jacrev(f, method="source")
    pos, neg = np.array([1.0, 2.0, 3.0]), np.array([-1.0, 2.0, 3.0])
    for x in (pos, neg, pos, neg):
        np.testing.assert_array_equal(j(x), a if x[0] > 0 else np.diag(2.0 * x))


# --- shape classes (Unit.mark_shapes): unbroadcast and lift are left out only where the
# operands provably have one shape

def _same_shape_chain(x):
    for _ in range(3):
        x = np.sin(x) * 1.001 + 0.1 * x * x - np.exp(-x * x)
    return cnp.sum(x)


def _rebinds_a_parameter(x, w):
    y = x * 2.0            # the shape x had on entry
    x = cnp.sum(x * w)     # x is a number now
    z = y * x              # broadcast: y's adjoint from z keeps its shape, x's is summed
    for _ in range(2):
        y = y * x + w      # w: another parameter (its own shape class)
    return cnp.sum(z * y)


def _changes_shape_in_a_loop(x):
    y = x
    for k in range(3):
        s = y * x          # y is x's shape on the first trip only
        y = cnp.sum(s) + 0.5 * k
    return y * cnp.sum(x)


def _central_grad(f, args, k, h=1e-6):
    x = np.array(args[k], dtype=float)
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        hi = list(args)
        lo = list(args)
        hi[k], lo[k] = x + e, x - e
        g.flat[i] = (f(*hi) - f(*lo)) / (2 * h)
    return g


def test_operands_of_one_shape_need_no_unbroadcast():
    text = cr.source.grad(_same_shape_chain).source
    assert "unbroadcast" not in text  # (x keeps its shape through the loop)
    x = np.array([0.3, -0.7, 1.1])
    np.testing.assert_allclose(cr.grad(_same_shape_chain, method="source")(x),
                               _central_grad(_same_shape_chain, (x,), 0), rtol=1e-7)


@pytest.mark.parametrize("f,args", [
    (_rebinds_a_parameter, (np.array([0.3, -0.7, 1.1]), np.array([[0.5], [1.5], [-0.2]]))),
    (_changes_shape_in_a_loop, (np.array([0.3, -0.7, 1.1]),)),
])
def test_broadcasting_operands_keep_their_unbroadcast(f, args):
    nums = tuple(range(len(args)))
    assert "unbroadcast" in cr.source.grad(f, argnums=nums).source
    got = cr.grad(f, argnums=nums, method="source")(*args)
    for k in nums:
        np.testing.assert_allclose(got[k], _central_grad(f, args, k), rtol=1e-6, atol=1e-8)
    # batched: the Jacobian's basis pulled and pushed at once, and the Hessian over both
    want = cr.hessian(f, argnums=0)(*args)
    np.testing.assert_allclose(cr.hessian(f, argnums=0, method="source")(*args), want,
                               rtol=1e-10, atol=1e-12)
    g = lambda x: cr.grad(f, method="source")(x, *args[1:])  # noqa: E731
    np.testing.assert_allclose(cr.jacfwd(g)(args[0]), want, rtol=1e-8, atol=1e-10)


def test_first_writes_only_where_every_path_holds_zero():
    """`d = d + e` becomes `d = e` where d is the symbolic Zero on every path there (after a
    branch, only if both ways zeroed it; in a loop, on every trip)."""
    from chainrule.source.transform import _first_writes

    lines = ["    d_a = d_b = d_c = $Zero",
             "    d_a = d_a + x * 2.0",
             "    if t:",
             "        d_b = d_b + y",
             "    else:",
             "        d_c = $acc(d_c, y)",
             "    d_b = d_b + z",
             "    d_c = d_c + d_c * 2.0",
             "    for _ in range(n):",
             "        d_a = d_a + y",
             "        d_a = $Zero"]
    got = _first_writes(lines)
    assert got[1] == "    d_a = x * 2.0"
    assert got[3] == "        d_b = y"
    assert got[6] == "    d_b = d_b + z"  # (zero on the else path only)
    assert got[7] == "    d_c = d_c + d_c * 2.0"  # (reads itself; and not zero after acc)
    assert got[9] == "        d_a = d_a + y"  # (first trip: d_a is x * 2.0)
    assert _first_writes(["    x[0] = 1.0", "    d = $Zero", "    d = d + e"])[2] \
        == "    d = d + e"  # (a line of another form: nothing is changed)


# --- function values made from differentiated values (source/function_values.py): written
# out where they are used, or refused where a derivative would flow through them; the source
# method once took them for constants (a zero derivative through them, silently)

def _apply(fn, v):
    return fn(v)


def _affine(a, i, v):
    return v * a + 1.0


def branch_chosen_step(x, cubic=True):
    if cubic:
        step = lambda v: v * x  # noqa: E731
    else:
        step = lambda v, c=x * 3.0: v + c  # noqa: E731
    return _apply(step, x ** 2)  # x^3, or x^2 + 3 x


def partial_in_a_loop(x):
    y = x
    for _ in range(2):
        g = functools.partial(_affine, y)
        y = g(0, y)  # y <- y^2 + 1
    return y  # (x^2 + 1)^2 + 1


def vector_step(x, scale=True):
    step = (lambda v: v * x) if scale else (lambda v: v + x)
    return cr.fori_loop(0, 2, lambda i, v: step(v), x ** 2)  # x^4, or x^2 + 2 x


def test_a_function_value_chosen_in_a_branch_is_written_out_where_it_is_used():
    src = cr.source.grad(branch_chosen_step).source
    # (each branch records its choice in a tag and computes the default it fixes; the call
    # passes the lambdas themselves)
    assert "_apply(lambda v: v * x, " in src and "_apply(lambda v, c=_t" in src
    assert "_t1 = x * 3.0" in src and "== 0" in src
    for cubic, want, second in ((True, 3 * 0.7 ** 2, 6 * 0.7), (False, 2 * 0.7 + 3, 2.0)):
        f = functools.partial(branch_chosen_step, cubic=cubic)
        assert cr.grad(f, method="source")(0.7) == pytest.approx(want, rel=1e-12)
        assert cr.jvp(f, (0.7,), (1.0,), method="source")[1] == pytest.approx(want, rel=1e-12)
        assert cr.hessian(f, method="source")(0.7) == pytest.approx(second, rel=1e-10)


def test_a_partial_made_in_a_loop_reads_the_value_it_was_made_of():
    want = 2 * (0.7 ** 2 + 1) * 2 * 0.7
    assert cr.grad(partial_in_a_loop, method="source")(0.7) == pytest.approx(want, rel=1e-12)
    assert cr.jvp(partial_in_a_loop, (0.7,), (1.0,), method="source")[1] == \
        pytest.approx(want, rel=1e-12)


def rebound_in_a_loop(x):
    y = x
    for k in range(4):
        if k % 2 == 0:
            g = lambda v: v * x  # noqa: E731
        else:
            g = functools.partial(lambda c, v: v + x * c, y)  # (c: y when g was made)
        y = cr.fori_loop(0, 1, lambda i, v: g(v), y)  # noqa: B023 (called at once)
    return y


def _rebound_in_a_loop_plain(x):
    y = x
    for k in range(4):
        y = y * x if k % 2 == 0 else y + x * y
    return y


def test_a_function_value_rebound_in_a_loop_reads_its_own_values():
    # (a use inside a lambda reads the values every binding fixed: those of a binding not yet
    # made start as placeholders)
    for x in (0.7, -0.6):
        want = (_rebound_in_a_loop_plain(x + 1e-6) - _rebound_in_a_loop_plain(x - 1e-6)) / 2e-6
        assert cr.grad(rebound_in_a_loop, method="source")(x) == pytest.approx(want, rel=1e-7)
        assert cr.jvp(rebound_in_a_loop, (x,), (1.0,), method="source")[1] == \
            pytest.approx(want, rel=1e-7)
        assert cr.hessian(rebound_in_a_loop, method="source")(x) == \
            pytest.approx(cr.hessian(_rebound_in_a_loop_plain)(x), rel=1e-10)


@pytest.mark.parametrize("scale", [True, False])
def test_jacobians_through_a_chosen_function_value(scale):
    x = np.array([0.5, -1.0, 2.0])
    want = np.diag(4 * x ** 3 if scale else 2 * x + 2)
    f = functools.partial(vector_step, scale=scale)
    np.testing.assert_allclose(cr.jacrev(f, method="source")(x), want, rtol=1e-12)
    np.testing.assert_allclose(cr.jacfwd(f, method="source")(x), want, rtol=1e-12)


def _scaler(c):
    return lambda v: v * c


@cr.tree.register_dataclass
@dataclasses.dataclass
class Scaled:
    w: float

    def times(self, v):
        return v * self.w


def closure_of_a_helper(x):
    g = _scaler(x)
    return _apply(g, x)


def functions_in_a_list(x):
    fs = [lambda v: v * x, lambda v: v + x]
    return _apply(fs[0], x)


def bound_method_of_a_value(x):
    return _apply(Scaled(x).times, x)


def captured_by_a_parameter(x):
    step = lambda v: v * x  # noqa: E731 (the x below is the lambda's own)
    return cr.fori_loop(0, 2, lambda i, x: step(x), x)


def reads_a_later_value(x):
    fs = [lambda v: v * y]  # (y is read when the lambda is called: 2 x, assigned below)
    y = x * 2.0
    return _apply(fs[0], x)


def recursive_lambda(x):
    power = lambda n, v: v if n == 0 else power(n - 1, v * x)  # noqa: E731
    return _apply(lambda v: power(2, v), x)


@pytest.mark.parametrize("f", [closure_of_a_helper, functions_in_a_list,
                               bound_method_of_a_value, captured_by_a_parameter,
                               reads_a_later_value, recursive_lambda], ids=lambda f: f.__name__)
def test_a_function_value_that_cannot_be_written_out_is_refused(f):
    assert cr.grad(f)(0.7) != 0.0  # (the overload method's derivative, which is not zero)
    for run in (lambda: cr.grad(f, method="source")(0.7),
                lambda: cr.jvp(f, (0.7,), (1.0,), method="source")):
        with pytest.raises(TransformError, match="a function value .* made from "
                                                 "differentiated values") as info:
            run()
        assert "method='overload'" in str(info.value)


def partial_then_rebound(x):
    g = functools.partial(np.multiply, x)
    if x > 10.0:
        g = None
    return _apply(g, x)


def test_a_partial_of_differentiated_values_that_stays_a_name_is_refused_by_line():
    lines, first = inspect.getsourcelines(partial_then_rebound)
    with pytest.raises(TransformError, match="functools.partial from differentiated") as info:
        cr.grad(partial_then_rebound, method="source")(0.7)
    assert info.value.line == first + 1


CONSTANT = np.float64(3.0)
TIMES_CONSTANT = lambda v: v * CONSTANT  # noqa: E731


def passes_a_constant_function(x, c):
    fs = [lambda v: v * c]  # (made of c: no derivative flows through fs where c has none)
    return _apply(TIMES_CONSTANT, x) + _apply(fs[0], x)


def calls_it_with_a_constant(x):
    return passes_a_constant_function(x, 2.0)  # (its generated code differentiates c too)


def test_function_values_holding_no_differentiated_value_pass():
    f = functools.partial(passes_a_constant_function, c=2.0)
    for g in (f, calls_it_with_a_constant):
        assert cr.grad(g, method="source")(0.7) == pytest.approx(5.0, rel=1e-12)
        assert cr.jvp(g, (0.7,), (1.0,), method="source")[1] == pytest.approx(5.0, rel=1e-12)
        assert cr.hessian(g, method="source")(0.7) == pytest.approx(0.0, abs=1e-12)
    # (differentiated in c too, the list's function value is refused)
    with pytest.raises(TransformError, match="function value"):
        cr.grad(passes_a_constant_function, argnums=(0, 1), method="source")(0.7, 2.0)


# ---------------------------------------------------------------------------------------------
# plain objects: instances of classes that are not registered pytrees. What one keeps in its
# attributes is out of the generated code's sight; the source method once read a differentiated
# value back from one as a constant (a zero derivative, silently)

class Kept:
    def __init__(self, v, scale=0.5):
        self.v = v
        self.scale = scale

    def doubled(self):
        return self.v * 2.0


class KeptInSlots:
    __slots__ = ("__v",)

    def __init__(self, v):
        self.__v = v

    def value(self):
        return self.__v


class KeptInAList:
    def __init__(self, v):
        self.items = [v, 1.0]


class KeptInAClosure:
    def __init__(self, v):
        self.get = lambda: v


@cr.tree.register_dataclass
@dataclasses.dataclass
class KeptAsAPytree:
    v: object
    scale: float = 0.5


def kept_then_read(x):
    b = Kept(x * 2.0)
    return cnp.sum(cnp.sin(b.v))


def kept_by_a_pytree_then_read(x):
    b = KeptAsAPytree(x * 2.0)
    return cnp.sum(cnp.sin(b.v))


def kept_in_slots(x):
    b = KeptInSlots(x * 2.0)
    return cnp.sum(b.value() ** 2)


def kept_in_a_list_attribute(x):
    b = KeptInAList(x * 2.0)
    return cnp.sum(b.items[0] ** 2)


def kept_in_a_closure_attribute(x):
    b = KeptInAClosure(x * 2.0)
    return cnp.sum(b.get() ** 2)


def kept_by_an_object_in_a_list(x):
    b = Kept(x * 2.0)
    c = KeptInAList(b)  # (c keeps [b, 1.0]: b's values reach c's reader through the list)
    return cnp.sum(c.items[0].v ** 2)


X_OBJ = np.array([0.3, 0.5])
T_OBJ = np.array([1.0, -2.0])
TRANSFORMS = {
    "grad": lambda f: cr.grad(f, method="source")(X_OBJ),
    "vjp": lambda f: cr.vjp(f, X_OBJ, method="source")[1](1.0)[0],
    "jacrev": lambda f: cr.jacrev(f, method="source")(X_OBJ),
    "jvp": lambda f: cr.jvp(f, (X_OBJ,), (T_OBJ,), method="source"),
    "jacfwd": lambda f: cr.jacfwd(f, method="source")(X_OBJ),
    "hessian": lambda f: cr.hessian(f, method="source")(X_OBJ),
    "hvp": lambda f: cr.hvp(f, (X_OBJ,), (T_OBJ,), method="source"),
}


@pytest.mark.parametrize("kind", list(TRANSFORMS))
def test_a_plain_object_keeping_a_differentiated_value_is_refused_by_class_and_line(kind):
    lines, first = inspect.getsourcelines(kept_then_read)
    with pytest.raises(TransformError) as info:
        TRANSFORMS[kind](kept_then_read)
    err = info.value
    assert err.filename.endswith("test_source.py") and err.line == first + 1  # (b = Kept(...))
    text = str(err)
    assert "a Kept object (its class is not a registered pytree)" in text
    assert "@cr.tree.register_dataclass" in text and "cr.tree.register(Kept, " in text
    assert "method='overload'" in text
    if kind in ("grad", "vjp", "jacrev"):  # (reverse mode meets the read first)
        assert f"read at line {first + 2}" in text


def test_registering_the_class_as_a_pytree_is_the_fix():
    want = 2 * np.cos(2 * X_OBJ)  # d/dx sum sin(2 x)
    for kind in ("grad", "jacrev", "jacfwd"):
        np.testing.assert_allclose(TRANSFORMS[kind](kept_by_a_pytree_then_read), want,
                                   rtol=1e-12)
    np.testing.assert_allclose(TRANSFORMS["jvp"](kept_by_a_pytree_then_read)[1],
                               np.sum(want * T_OBJ), rtol=1e-12)
    np.testing.assert_allclose(TRANSFORMS["hessian"](kept_by_a_pytree_then_read),
                               np.diag(-4 * np.sin(2 * X_OBJ)), rtol=1e-12)


@pytest.mark.parametrize("f", [kept_in_slots, kept_in_a_list_attribute,
                               kept_in_a_closure_attribute, kept_by_an_object_in_a_list],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("kind", ["grad", "jvp", "hessian"])
def test_what_an_object_keeps_is_looked_for_in_slots_lists_and_closures(f, kind):
    np.testing.assert_allclose(cr.grad(f)(X_OBJ), 8 * X_OBJ)  # (overload: the derivative)
    with pytest.raises(TransformError, match="not a registered pytree"):
        TRANSFORMS[kind](f)


class Shapes:
    def __init__(self, x):  # (keeps x's length and a constant, not x)
        self.n = x.shape[0]
        self.w = np.array([1.0, 2.0])

    def weighted(self, x):
        return x * self.w


def constants_of_an_object_made_from_x(x):
    s = Shapes(x)
    return cnp.sum(x * s.w) * s.n + cnp.sum(s.weighted(x))  # 3 (x0 + 2 x1)


def _make_shapes(x):
    return Shapes(x)


def constants_through_a_helper_that_makes_the_object(x):
    s = _make_shapes(x)
    return cnp.sum(x * s.w) * s.n  # 2 (x0 + 2 x1)


def object_made_and_not_read(x):
    b = Kept(x * 2.0)  # noqa: F841 (made of x, never read: nothing is lost)
    return cnp.sum(x ** 2)


def object_argument(x, m):
    return cnp.sum(m.v * x ** 2) + cnp.sum(m.doubled() * x)  # m's arrays are constants


def _reads(m, x):
    return m.v * x


def object_argument_through_a_helper(x, m):
    return cnp.sum(_reads(m, x) ** 2)


@pytest.mark.parametrize("kind", list(TRANSFORMS))
def test_objects_keeping_no_differentiated_value_are_read_as_constants(kind):
    w = np.array([1.0, 2.0])
    m = Kept(np.array([3.0, -1.0]))
    cases = [  # (f, gradient, Hessian), by hand
        (constants_of_an_object_made_from_x, 3 * w, np.zeros((2, 2))),
        (constants_through_a_helper_that_makes_the_object, 2 * w, np.zeros((2, 2))),
        (object_made_and_not_read, 2 * X_OBJ, 2 * np.eye(2)),
        (functools.partial(object_argument, m=m), 2 * m.v * X_OBJ + 2 * m.v,
         np.diag(2 * m.v)),
        (functools.partial(object_argument_through_a_helper, m=m), 2 * m.v ** 2 * X_OBJ,
         np.diag(2 * m.v ** 2)),
    ]
    for f, g, h in cases:
        got = TRANSFORMS[kind](f)
        if kind == "jvp":
            got, want = got[1], g @ T_OBJ
        elif kind == "hvp":
            want = h @ T_OBJ
        else:
            want = h if kind == "hessian" else g
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


LOG = []
KEPT_ALL = []
KEPT_BY_KEY = {}


def logs_a_value(x):
    y = x * 2.0
    LOG.append(y)  # (kept, never read back here: nothing is lost)
    print("y:", y.shape)
    return cnp.sum(y ** 2)


def keeps_and_reads_back(x):
    y = x * 2.0
    KEPT_ALL.append(y)
    return cnp.sum(KEPT_ALL[-1] ** 2)


def copies_into_a_buffer(x):
    buf = np.zeros(2)
    np.copyto(buf, x * 2.0)
    return cnp.sum(buf ** 2)


def updates_an_objects_dict(x):
    b = Kept(0.0)
    vars(b).update(v=x * 2.0)
    return cnp.sum(b.v ** 2)


def sets_an_attribute(x):
    b = Kept(0.0)
    setattr(b, "v", x * 2.0)  # noqa: B010 (what `b.v = ...` does: refused as written)
    return cnp.sum(b.v ** 2)


def stores_into_a_global(x):
    KEPT_BY_KEY["y"] = x * 2.0
    return cnp.sum(KEPT_BY_KEY["y"] ** 2)


def reads_back_in_the_next_trip(x):
    y = x
    for i in range(2):
        if i > 0:
            y = y + KEPT_ALL[-1] ** 2 / 8.0  # (read before the call, but after it in a loop)
        KEPT_ALL.append(y * 2.0)
    return cnp.sum(y)  # sum x + x^2 / 2


def records_on_an_object(x, rec):
    y = x * rec.w  # (rec is read before the call only: what it keeps is not read back)
    setattr(rec, "last", y)  # noqa: B010 (what `rec.last = ...` does: refused as written)
    return cnp.sum(y ** 2)


@pytest.mark.parametrize("f,needle,construct", [
    (keeps_and_reads_back, "KEPT_ALL.append(y)",
     "a differentiated value passed to KEPT_ALL.append, called for its effect, where the "
     "function reads KEPT_ALL again"),
    (copies_into_a_buffer, "np.copyto", "where the function reads buf again"),
    (updates_an_objects_dict, "vars(b).update", "where the function reads b again"),
    (sets_an_attribute, "setattr(b", "setattr of a differentiated value on b, where the "
                                     "function reads b again"),
    (stores_into_a_global, 'KEPT_BY_KEY["y"] =', "an assignment into KEPT_BY_KEY, a value "
                                                  "from outside the function"),
    (reads_back_in_the_next_trip, "KEPT_ALL.append(y * 2.0)", "where the function reads "
                                                               "KEPT_ALL again"),
], ids=lambda v: v.__name__ if callable(v) else None)
def test_a_value_kept_by_a_call_for_its_effect_and_read_back_is_refused(f, needle, construct):
    if f is not copies_into_a_buffer:  # (which overload refuses: NumPy's own copy)
        want = 1.0 + X_OBJ if f is reads_back_in_the_next_trip else 8 * X_OBJ
        np.testing.assert_allclose(cr.grad(f)(X_OBJ), want)  # (overload's derivative)
        KEPT_ALL.clear()  # (overload left its traced values there)
        KEPT_BY_KEY.clear()
    lines, first = inspect.getsourcelines(f)
    line = first + next(k for k, text in enumerate(lines) if needle in text)
    for run in (cr.source.grad, cr.source.jvp):
        with pytest.raises(TransformError) as info:
            run(f)
        assert info.value.line == line and construct in info.value.construct
        assert "method='overload'" in str(info.value)


def test_a_value_kept_and_never_read_back_passes(capsys):
    np.testing.assert_allclose(cr.grad(logs_a_value, method="source")(X_OBJ), 8 * X_OBJ)
    np.testing.assert_allclose(cr.jvp(logs_a_value, (X_OBJ,), (T_OBJ,), method="source")[1],
                               8 * X_OBJ @ T_OBJ)
    np.testing.assert_allclose(cr.hessian(logs_a_value, method="source")(X_OBJ), 8 * np.eye(2))
    assert "y: (2,)" in capsys.readouterr().out
    LOG.clear()
    rec = Kept(0.0)
    rec.w = np.array([3.0, -1.0])
    g = functools.partial(records_on_an_object, rec=rec)
    np.testing.assert_allclose(cr.grad(g, method="source")(X_OBJ), 2 * rec.w ** 2 * X_OBJ)
    np.testing.assert_allclose(rec.last, rec.w * X_OBJ)  # (the value, as the function keeps it)
    np.testing.assert_allclose(cr.jvp(g, (X_OBJ,), (T_OBJ,), method="source")[1],
                               2 * rec.w ** 2 * X_OBJ @ T_OBJ)


def frozen_distribution(mu):
    return cnp.sum(cstats.norm(mu, 2.0).logpdf(np.array([0.1, 0.4])))


def at_bound_to_a_name(x):
    a = cnp.at(x)
    return cnp.sum(a[0].set(3.0) ** 2)


def test_a_frozen_distribution_differentiates_in_its_parameters():
    # (chainrule.scipy.stats' frozen distribution is a registered pytree: followed, not refused)
    want = ((0.1 - 0.3) + (0.4 - 0.3)) / 4  # sum of (y - mu) / sigma^2
    assert cr.grad(frozen_distribution, method="source")(0.3) == pytest.approx(want, rel=1e-12)
    assert cr.jacfwd(frozen_distribution, method="source")(0.3) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("f,arg,name", [(at_bound_to_a_name, X_OBJ, "_At")],
                         ids=["at-bound-to-a-name"])
def test_chainrules_own_objects_are_refused_with_a_fix_the_user_can_make(f, arg, name):
    for run in (lambda: cr.grad(f, method="source")(arg),
                lambda: cr.jacfwd(f, method="source")(arg)):
        with pytest.raises(TransformError) as info:
            run()
        text = str(info.value)
        assert f"a {name} object" in text and "cr.tree.register" not in text
        assert "cnp.at(x)[i].set(v)" in text
