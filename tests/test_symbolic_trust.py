"""method="symbolic" gives the right derivative or a clear SymbolicError, on what used to go
wrong: custom rules, ties, NumPy on arrays of symbols, higher order, refusals, dtypes,
functions that write into their arguments, and transforms called inside the function.

Every derivative is checked against a hand-derived formula or central differences (and, where
the overload method computes the same thing, against it too)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.symbolic import SymbolicError

SYM = {"method": "symbolic"}


def fd_grad(f, x, h=1e-6):
    """Central differences of a scalar function of an array."""
    x = np.asarray(x, dtype=float)
    g = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        g[idx] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def fd_jac(f, x, h=1e-6):
    x = np.asarray(x, dtype=float)
    out = np.asarray(f(x))
    jac = np.zeros(out.shape + x.shape)
    for idx in np.ndindex(*x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        jac[(Ellipsis,) + idx] = (np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h)
    return jac


def close(a, b, rtol=1e-7, atol=1e-9):
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------------------------
# 1. custom_vjp and custom_jvp keep their rules

@cr.custom_vjp
def clip_gradient(x):
    return x * 1.0


clip_gradient.defvjp(lambda x: (x * 1.0, None), lambda _, ct: (cnp.clip(ct, -1.0, 1.0),))


@cr.custom_vjp
def sin_vjp(x):
    return cnp.sin(x)


sin_vjp.defvjp(lambda x: (cnp.sin(x), cnp.cos(x)), lambda c, ct: (c * ct,))


@cr.custom_jvp
def steep(x):
    return cnp.sin(x)


@steep.defjvp
def _steep_jvp(primals, tangents):
    # deliberately not sin's derivative: only the rule can give 3
    return steep(primals[0]), 3.0 * tangents[0]


@cr.custom_jvp
def softabs(x):
    return cnp.sqrt(x * x + 0.01)


@softabs.defjvp
def _softabs_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return softabs(x), x / softabs(x) * dx


def test_readme_clip_gradient_keeps_its_backward_rule():
    f = lambda x: 10.0 * clip_gradient(x)  # noqa: E731
    # reverse mode: bwd clips the cotangent 10 to 1
    assert cr.grad(f, **SYM)(2.0) == 1.0 == cr.grad(f)(2.0)
    assert cr.vjp(f, 2.0, **SYM)[1](1.0)[0] == 1.0
    assert cr.jacrev(f, **SYM)(2.0) == 1.0
    # forward mode transposes bwd at a zero cotangent (inside the clip): the slope 10
    assert cr.jvp(f, (2.0,), (1.0,), **SYM)[1] == 10.0 == cr.jvp(f, (2.0,), (1.0,))[1]
    assert cr.jacfwd(f, **SYM)(2.0) == 10.0


def test_custom_vjp_with_residuals_to_second_order():
    x = np.array([0.3, -0.7, 1.1])
    f = lambda v: cnp.sum(sin_vjp(v) * v)  # noqa: E731
    close(cr.grad(f, **SYM)(x), np.cos(x) * x + np.sin(x))
    close(cr.hessian(f, **SYM)(x), np.diag(-np.sin(x) * x + 2 * np.cos(x)))
    close(cr.hessian(f, **SYM)(x), cr.hessian(f)(x))
    t = np.array([1.0, -2.0, 0.5])
    close(cr.hvp(f, (x,), (t,), **SYM), (-np.sin(x) * x + 2 * np.cos(x)) * t)


def test_nonlinear_backward_rules_chained():
    # the inner clip sees the cotangent the outer one passes: 3 -> clip 1 -> *5 -> clip 1
    f = lambda x: cnp.sum(3.0 * clip_gradient(clip_gradient(x * 10.0) * 5.0) + x)  # noqa: E731
    x = np.array([0.2, -0.4])
    close(cr.grad(f, **SYM)(x), [11.0, 11.0])  # 10 * 1 from the clips, + 1
    close(cr.grad(f, **SYM)(x), cr.grad(f)(x))
    close(cr.jacrev(f, **SYM)(x), cr.jacrev(f)(x))
    close(cr.hessian(f, **SYM)(x), np.zeros((2, 2)))


def test_custom_jvp_uses_the_rule_in_both_modes_and_differentiates_it():
    assert cr.grad(steep, **SYM)(0.4) == 3.0 == cr.grad(steep)(0.4)
    assert cr.jvp(steep, (0.4,), (2.0,), **SYM)[1] == 6.0
    x = np.array([0.5, -1.5, 0.05])
    f = lambda v: cnp.sum(softabs(v))  # noqa: E731
    close(cr.grad(f, **SYM)(x), x / np.sqrt(x * x + 0.01))
    # the second derivative is that of the rule: d/dx x / sqrt(x^2 + c) = c / (x^2 + c)^1.5
    close(cr.hessian(f, **SYM)(x), np.diag(0.01 / (x * x + 0.01) ** 1.5))
    close(cr.hessian(f, **SYM)(x), cr.hessian(f)(x))


def test_custom_rules_print_with_the_functions_name():
    x = cr.symbolic.symbols("x")
    assert str(clip_gradient(x * 2.0) + 1.0) == "clip_gradient(x*2) + 1"


def test_custom_rule_that_needs_numbers_is_refused_by_name():
    @cr.custom_vjp
    def squash(x):
        return x * 2.0

    squash.defvjp(lambda x: (x * 2.0, None), lambda _, ct: (math.tanh(ct),))
    with pytest.raises(SymbolicError, match="custom_vjp function squash"):
        cr.grad(lambda x: squash(x) * x, **SYM)(1.0)

    @cr.custom_jvp
    def floaty(x):
        return float(x) * 2.0

    floaty.defjvp(lambda p, t: (floaty(p[0]), 2.0 * t[0]))
    with pytest.raises(SymbolicError, match="custom_jvp function floaty"):
        cr.grad(floaty, **SYM)(1.0)


def test_custom_function_closing_over_a_differentiated_value_is_refused():
    def f(x):
        @cr.custom_vjp
        def scaled(y):
            return y * x

        scaled.defvjp(lambda y: (y * x, None), lambda _, ct: (ct * 2.0,))
        return scaled(x * 1.0)

    with pytest.raises(TypeError, match="closes over"):
        cr.grad(f)(1.5)
    with pytest.raises(SymbolicError, match="closes over"):
        cr.grad(f, **SYM)(1.5)


# ---------------------------------------------------------------------------------------------
# 2. ties split the derivative evenly

def test_max_and_min_ties_split_evenly():
    ones = np.array([1.0, 1.0, 1.0])
    close(cr.grad(lambda x: np.max(x), **SYM)(ones), [1 / 3] * 3)
    close(cr.grad(lambda x: np.min(x), **SYM)(ones), [1 / 3] * 3)
    close(cr.grad(lambda x: cnp.max(x), **SYM)(np.array([2.0, 0.5, 2.0])), [0.5, 0.0, 0.5])
    close(cr.grad(lambda x: np.max(x), **SYM)(ones), cr.grad(lambda x: np.max(x))(ones))
    got = cr.grad(lambda x, y: np.maximum(x, y), argnums=(0, 1), **SYM)(1.0, 1.0)
    assert got == (0.5, 0.5)
    assert cr.grad(lambda x, y: np.minimum(x, y), argnums=(0, 1), **SYM)(2.0, 2.0) == (0.5, 0.5)
    # along an axis, with keepdims: ties counted per row
    M = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, -1.0]])
    want = np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])
    close(cr.grad(lambda m: np.sum(np.max(m, axis=1, keepdims=True)), **SYM)(M), want)
    close(cr.hessian(lambda x: np.max(x), **SYM)(ones), np.zeros((3, 3)))


# ---------------------------------------------------------------------------------------------
# 3. NumPy on arrays of symbols

X23 = np.array([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7]])


@pytest.mark.parametrize("fn", [
    lambda x: np.mean(x, axis=0),
    lambda x: np.mean(x, axis=(0, 1), keepdims=True),
    lambda x: x.mean(axis=1),
    lambda x: np.var(x, axis=1),
    lambda x: np.std(x, axis=0),
    lambda x: np.std(x, ddof=1),
    lambda x: np.sort(x, axis=1),
    lambda x: np.sort(x, axis=None),
    lambda x: np.clip(x, -0.8, 1.0),
    lambda x: np.max(x, axis=0),
    lambda x: np.min(x, axis=(0, 1)),
    lambda x: np.cumsum(x, axis=1),
    lambda x: np.linalg.norm(x),
    lambda x: np.linalg.norm(x, axis=1),
    lambda x: np.trace(x[:, :2]),
], ids=["mean0", "mean01keep", "mean_method", "var", "std", "std_ddof", "sort", "sort_none",
        "clip", "max0", "min01", "cumsum", "norm", "norm_axis", "trace"])
def test_numpy_functions_on_arrays_of_symbols(fn):
    want = fd_jac(fn, X23)
    close(cr.jacrev(fn, **SYM)(X23), want, rtol=1e-6, atol=1e-8)
    close(cr.jacfwd(fn, **SYM)(X23), cr.jacfwd(fn)(X23))


A = np.array([[2.0, 1.0, 0.3], [0.5, 3.0, -1.0], [0.2, 0.4, 1.5]])
SPD = A @ A.T + np.eye(3)


@pytest.mark.parametrize("fn,x", [
    (lambda a: np.linalg.det(a), A),
    (lambda a: np.linalg.inv(a), A),
    (lambda a: np.linalg.solve(a, np.array([1.0, -2.0, 0.5])), A),
    (lambda a: np.linalg.solve(a, np.eye(3)[:, :2]), A),
    (lambda a: np.linalg.slogdet(a)[1], A),
    (lambda a: np.linalg.cholesky(a), SPD),
    (lambda a: np.linalg.norm(a, "fro"), A),
    (lambda a: np.linalg.det(np.stack([a, 2.0 * a])), A),
], ids=["det", "inv", "solve_vector", "solve_matrix", "slogdet", "cholesky", "fro",
        "det_stack"])
def test_linear_algebra_in_closed_form(fn, x):
    # cholesky reads the lower triangle: differences of a symmetric matrix's lower triangle
    want = cr.jacrev(fn)(x)
    close(cr.jacrev(fn, **SYM)(x), want, rtol=1e-9, atol=1e-12)
    close(cr.jacfwd(fn, **SYM)(x), want, rtol=1e-9, atol=1e-12)


def test_det_and_slogdet_gradients_by_hand():
    # d det(A) / dA = det(A) inv(A)^T; d log|det A| / dA = inv(A)^T
    close(cr.grad(np.linalg.det, **SYM)(A), np.linalg.det(A) * np.linalg.inv(A).T)
    close(cr.grad(lambda a: np.linalg.slogdet(a)[1], **SYM)(A), np.linalg.inv(A).T)
    sign, logabs = cr.jvp(lambda a: tuple(np.linalg.slogdet(a)), (A,), (np.eye(3),), **SYM)[1]
    assert sign == 0.0 and logabs == pytest.approx(np.trace(np.linalg.inv(A)), rel=1e-12)
    close(cr.hessian(np.linalg.det, **SYM)(A[:2, :2]),
          fd_jac(lambda a: np.linalg.det(a) * np.linalg.inv(a).T, A[:2, :2]), rtol=1e-6)


@pytest.mark.parametrize("fn,name", [
    (lambda a: np.sum(np.linalg.eigh(a)[0]), "eigh"),
    (lambda a: np.sum(np.linalg.svd(a)[1]), "singular value decomposition"),
    (lambda a: np.sum(np.linalg.pinv(a)), "pinv"),
    (lambda a: np.linalg.norm(a, 2), "singular values"),
    (lambda a: np.sum(np.linalg.qr(a)[1]), "numpy.linalg.qr"),
    (lambda a: np.linalg.det(np.kron(a, a)), "9x9"),
])
def test_linear_algebra_without_a_closed_form_is_refused_by_name(fn, name):
    with pytest.raises(SymbolicError, match=name):
        cr.grad(fn, **SYM)(SPD)


def test_augmented_assignment_on_arrays_of_symbols():
    def f(x):
        v = x * 1.0
        v += 1.0          # an array of the function's own values: in place, as in NumPy
        w = v             # an alias sees the change
        v *= x
        acc = np.zeros(2, dtype=object)
        acc += v          # an object array holds expressions
        return np.sum(acc) + np.sum(w)

    x = np.array([1.0, 2.0])
    # f = 2 sum((x + 1) x): f' = 2 (2x + 1)
    close(cr.grad(f, **SYM)(x), 2 * (2 * x + 1))

    def into_floats(x):
        v = np.zeros(2)
        v += x            # NumPy's float array cannot hold an expression
        return np.sum(v)

    with pytest.raises(cr.InPlaceError, match="v = v \\+ x"):
        cr.grad(into_floats, **SYM)(x)


def test_empty_sums_and_reductions():
    x = np.array([1.0, 2.0, 3.0])
    close(cr.grad(lambda v: np.sum(v[0:0]) + v[0], **SYM)(x), [1.0, 0.0, 0.0])
    close(cr.grad(lambda v: np.sum(v[0:0]), **SYM)(x), [0.0, 0.0, 0.0])
    close(cr.grad(lambda v: sum([]) + np.prod(v[1:1]) * v[2], **SYM)(x), [0.0, 0.0, 1.0])
    assert cr.jacrev(lambda v: v[0:0], **SYM)(x).shape == (0, 3)


def test_std_and_var_including_one_value():
    x = np.array([1.0, 2.0, 4.0])
    n, m = 3, x.mean()
    close(cr.grad(np.var, **SYM)(x), 2 * (x - m) / n)
    close(cr.grad(np.std, **SYM)(x), (x - m) / (n * np.std(x)))
    # the std (or sqrt of the variance) of one value is constantly 0: derivative 0, not nan
    one = np.array([1.5])
    for f in (np.std, lambda v: cnp.sqrt(cnp.var(v)), lambda v: np.std(v) * v[0]):
        out, t = cr.jvp(f, (one,), (np.array([1.0]),), **SYM)
        assert out == 0.0 and t == 0.0
        assert cr.grad(f, **SYM)(one)[0] == 0.0


# ---------------------------------------------------------------------------------------------
# 4. higher order

def test_symbolic_over_symbolic():
    f = lambda x: x ** 3 * cnp.sin(x)  # noqa: E731
    d2 = lambda x: 6 * x * math.sin(x) + 6 * x ** 2 * math.cos(x) - x ** 3 * math.sin(x)  # noqa
    g2 = cr.grad(cr.grad(f, **SYM), **SYM)
    assert g2(1.5) == pytest.approx(d2(1.5), rel=1e-13)
    g3 = cr.grad(g2, **SYM)
    assert g3(1.5) == pytest.approx((d2(1.5 + 1e-5) - d2(1.5 - 1e-5)) / 2e-5, rel=1e-8)
    x = np.array([0.5, -1.0, 2.0])
    h = lambda v: np.sum(v ** 3) + v[0] * v[1]  # noqa: E731
    want = np.diag(6 * x) + np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]])
    close(cr.hessian(h, **SYM)(x), want)
    close(cr.jacfwd(cr.grad(h, **SYM), **SYM)(x), want)
    close(cr.jacrev(cr.grad(h, **SYM), **SYM)(x), want)


def test_other_methods_over_symbolic_and_back():
    x = np.array([0.5, -1.0, 2.0])
    h = lambda v: np.sum(v ** 3)  # noqa: E731
    close(cr.jacfwd(cr.grad(h, **SYM))(x), np.diag(6 * x))
    close(cr.jacrev(cr.grad(h, **SYM))(x), np.diag(6 * x))
    assert cr.grad(cr.grad(lambda t: t ** 3, **SYM))(2.0) == 12.0
    assert cr.grad(cr.grad(lambda t: t ** 3), **SYM)(2.0) == 12.0


def test_inner_symbolic_transform_closing_over_the_outer_symbol():
    # d/dx [ (d/dy y*x at y=2) * x ] = d/dx x^2 = 2x
    f = lambda x: cr.grad(lambda y: y * x, **SYM)(2.0) * x  # noqa: E731
    g = lambda x: cr.grad(lambda y: y * x)(2.0) * x  # noqa: E731
    assert cr.grad(f, **SYM)(3.0) == 6.0 == cr.grad(g)(3.0)


# ---------------------------------------------------------------------------------------------
# 5. refusals name the construct, never a NumPy-internal error

@pytest.mark.parametrize("fn,match,also", [
    (lambda x: x[0] if x[1] > 0 else x[2], r"bool\(\) of a symbolic value", None),
    (lambda x: np.sum(np.fft.fft(x).real), "chainrule's 'fft'", None),
    (lambda x: x[np.argmax(x)], "argmax", NotImplementedError),
    (lambda x: np.sum(x[x > 0.0]), "boolean mask", IndexError),
    (lambda x: np.max(np.array([x[0], x[1]])), "NumPy's `max`", None),
    (lambda x: np.sum(np.vander(x)), "numpy.vander", NotImplementedError),
    (lambda x: float(x[0]), r"float\(\)", None),
    (lambda x: np.sum(x.astype(int)), "astype", None),
    (lambda x: cr.while_loop(lambda c: c < 10.0, lambda c: c * 2.0, x[0]), "while_loop", None),
], ids=["if", "fft", "argmax", "mask", "plain_object_max", "vander", "float", "astype_int",
        "while_loop"])
def test_refusals_are_symbolic_errors_naming_the_construct(fn, match, also):
    x = np.array([0.3, -0.5, 1.2])
    with pytest.raises(SymbolicError, match=match) as info:
        cr.grad(fn, **SYM)(x)
    assert "test_symbolic_trust.py" in str(info.value)  # the user's line
    if also is not None:
        assert isinstance(info.value, also)


# ---------------------------------------------------------------------------------------------
# 6. dtypes: float32 in, float32 out

def test_float32_stays_float32():
    x = np.array([0.5, 1.5], np.float32)
    f = lambda v: np.sum(v * v * 2.0)  # noqa: E731
    g = lambda v: cnp.sin(v) * 3.0  # noqa: E731
    out, t = cr.jvp(g, (x,), (np.ones(2, np.float32),), **SYM)
    assert out.dtype == t.dtype == np.float32
    close(t, 3 * np.cos(x.astype(float)), rtol=1e-6)
    value, grad = cr.value_and_grad(f, **SYM)(x)
    assert value.dtype == grad.dtype == np.float32 and isinstance(value, np.float32)
    close(grad, 4 * x, rtol=1e-6)
    for transform in (cr.jacfwd, cr.jacrev):
        assert transform(g, **SYM)(x).dtype == np.float32
    assert cr.hessian(f, **SYM)(x).dtype == np.float32
    assert cr.hvp(f, (x,), (x,), **SYM).dtype == np.float32
    out, pull = cr.vjp(g, x, **SYM)
    assert out.dtype == np.float32 and pull(np.ones(2, np.float32))[0].dtype == np.float32
    s = np.float32(0.25)
    assert isinstance(cr.value_and_grad(lambda t: t * t, **SYM)(s)[0], np.float32)
    assert cr.jvp(lambda t: t * 2.0, (s,), (s,), **SYM)[1].dtype == np.float32
    # float64 stays float64, and mixed arguments promote as NumPy does
    assert cr.jvp(g, (x.astype(float),), (np.ones(2),), **SYM)[1].dtype == np.float64
    assert cr.jvp(lambda a, b: a * b, (x, np.ones(2)), (x, np.ones(2)), **SYM)[1].dtype == \
        np.float64


def test_grad_of_a_one_element_output_keeps_its_shape():
    f = lambda v: cnp.reshape(cnp.sum(v ** 2), (1, 1))  # noqa: E731
    x = np.array([0.5, -2.0])
    value, grad = cr.value_and_grad(f, **SYM)(x)
    assert value.shape == (1, 1) and value[0, 0] == 4.25
    close(grad, 2 * x)


# ---------------------------------------------------------------------------------------------
# 7. functions that write into their argument arrays

def test_writing_into_the_argument():
    def f(x):
        x[0] = x[0] * x[1]
        return np.sum(x)

    x = np.array([0.5, 0.7, 1.0])
    grad = cr.grad(f, **SYM)
    close(grad(x), [0.7, 1.5, 1.0])    # d/dx of x0*x1 + x1 + x2
    close(grad(x), [0.7, 1.5, 1.0])    # the compiled code again
    assert x.tolist() == [0.5, 0.7, 1.0]  # the caller's array is untouched

    def g(x):
        y = x.copy()
        y[1:] = y[1:] * y[:-1]          # reads and writes overlap, as NumPy computes it
        x[0] = 5.0
        return y * x

    z = np.array([2.0, 3.0, 4.0])
    close(cr.jacrev(g, **SYM)(z), fd_jac(lambda v: g(v.copy()), z), rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# 8. transforms inside the function

X3 = np.array([0.3, -0.5, 1.2])


@pytest.mark.parametrize("fn,want", [
    (lambda x: cnp.sum(cr.linearize(cnp.sin, x)[1](x)), lambda x: np.cos(x) - x * np.sin(x)),
    (lambda x: cnp.sum(cr.grad(lambda v: cnp.sum(cnp.sin(v) * v))(x)),
     lambda x: 2 * np.cos(x) - x * np.sin(x)),
    (lambda x: cnp.sum(cr.jacfwd(cnp.sin)(x)), lambda x: -np.sin(x)),
    (lambda x: cnp.sum(cr.vmap(lambda t: t * t)(x)), lambda x: 2 * x),
    (lambda x: cnp.sum(cr.stop_gradient(x) * x), lambda x: x),
    (lambda x: cnp.sum(cr.checkpoint(cnp.sin)(x) * x), lambda x: np.cos(x) * x + np.sin(x)),
    (lambda x: cnp.sum(cr.cond(x[0] > 0, lambda t: t * t, lambda t: -t, x)), lambda x: 2 * x),
    (lambda x: cr.fori_loop(0, 3, lambda i, c: c * x[i], 1.0),
     lambda x: np.array([x[1] * x[2], x[0] * x[2], x[0] * x[1]])),
    (lambda x: cr.scan(lambda c, t: (c * t + t, None), 0.0, x)[0],
     lambda x: np.array([x[1] * x[2], (x[0] + 1) * x[2], x[0] * x[1] + x[1] + 1])),
], ids=["linearize", "grad", "jacfwd", "vmap", "stop_gradient", "checkpoint", "cond",
        "fori_loop", "scan"])
def test_transforms_inside_the_function(fn, want):
    close(cr.grad(fn, **SYM)(X3), want(X3))
    close(cr.grad(fn, **SYM)(X3), cr.grad(fn)(X3))
