"""Algebraic simplification of expressions.

`simplify` rewrites bottom-up over the DAG (each node once per pass, so shared subexpressions stay
shared) and repeats passes until nothing changes. Each node is rebuilt from its simplified operands
in a normal form:

- **constant folding**: a node whose operands are all numbers becomes the (finite) number;
- **sums** (`+`, `-`, unary minus) are flattened into a constant plus coefficient * term pairs, like
  terms collected (`2*x + 3*x -> 5*x`, `x - x -> 0`, `-(-x) -> x`, `x + 0 -> x`), terms ordered
  deterministically, constants last (but a positive term leads: `1 - x`); inside a sum, a
  number times a sum is distributed so that terms can cancel (`2*(x + 1) - 2*x -> 2`), while a
  lone `2*(x + 1)` keeps its factor (so that it can meet `(x + 1)` in a product);
- **products** (`*`, `/`, `reciprocal`, `square`, `sqrt`, `**`) are flattened into a coefficient
  and base ** exponent pairs, powers of the same base collected (`x*x -> x**2`,
  `x**a * x**b -> x**(a + b)`, `x/x -> 1`, `x*1 -> x`, `x*0 -> 0`, a sum meeting its own
  negation: `(1 - x)*(x - 1) -> -(1 - x)**2`); quotients print as `a/b`;
- **functions**: `exp(log(x)) -> x`, `log(exp(x)) -> x` (and exp2/log2, expm1/log1p, the
  trigonometric and hyperbolic functions of their inverses), odd and even functions of `-x`
  (`sin(-x) -> -sin(x)`, `cos(-x) -> cos(x)`), `sin(u)**2 + cos(u)**2 -> 1`,
  `cosh(u)**2 - sinh(u)**2 -> 1`, `expm1(u) + 1 -> exp(u)`, `sqrt(u**2) -> abs(u)`,
  `where(True, a, b) -> a`.

Conventions (as in SymPy): expressions are real functions of real symbols, and a rewrite may
*extend* the domain but never changes a value where the original is defined. So `x*0 -> 0`,
`x - x -> 0`, `x/x -> 1` and `exp(log(x)) -> x` hold wherever the left side is a finite number,
and the right side is also defined where the left was NaN or infinite (x = inf, x = 0, x < 0).
This is the algebraic zero of symbolic mathematics, not the "strong zero" of the numeric
interpreters (which keeps 0 * inf = 0 in a gradient): a simplified expression is never *less*
defined than the original. Identities that are not exact on the reals (`log(x**2) = 2 log(x)`,
`sqrt(x*y) = sqrt(x) sqrt(y)`, `(x**a)**b = x**(a*b)` for non-integer b) are not applied.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..ops import elementwise as E
from .expr import Const, Expr, Symbol, as_expr, rebuild, struct_hash, topo_order, tree_size

_MAX_PASSES = 12

Exp = Any  # an exponent: a float, or an expression
Factor = tuple[Expr, Exp]
Term = tuple[float, tuple[Factor, ...], Expr]  # coefficient, factors, the product of factors


def simplify(expr: Any) -> Expr:
    """`expr` rewritten to a simpler, equal expression (see the module docstring for the rules
    and the conventions).

    Parameters
    ----------
    expr : Expr or float
        The expression.

    Returns
    -------
    Expr
        The simplified expression.

    Examples
    --------
    >>> import chainrule as cr
    >>> import chainrule.numpy as cnp
    >>> x = cr.symbolic.symbols("x")
    >>> print(cr.symbolic.simplify(x * 1.0 + 0.0 + x))
    2*x
    """
    return simplify_many([expr])[0]


def simplify_many(exprs: Sequence[Any]) -> list[Expr]:
    """`[simplify(e) for e in exprs]`, sharing the work on their common subexpressions.

    Parameters
    ----------
    exprs : sequence of Expr
        The expressions.

    Returns
    -------
    list of Expr
        The simplified expressions.

    Examples
    --------
    >>> import chainrule as cr
    >>> x, y = cr.symbolic.symbols("x y")
    >>> print(cr.symbolic.simplify_many([x * 1.0, y + 0.0]))
    [x, y]
    """
    es = [as_expr(e, "simplify") for e in exprs]
    for _ in range(_MAX_PASSES):
        new = _pass(es)
        if all(a is b for a, b in zip(new, es)):
            break
        es = new
    return es


_SUMS = ("add", "sub", "neg")


def _pass(roots: list[Expr]) -> list[Expr]:
    order = topo_order(roots)
    # a sum read only by other sums is collected into theirs: canonicalising each partial sum
    # of a chain of n terms would rebuild it n times (n**2 nodes for one sum)
    inner: dict[int, bool] = {}
    for node in order:
        for a in node.args:
            inner[id(a)] = inner.get(id(a), True) and node.name in _SUMS
    for r in roots:
        inner[id(r)] = False
    done: dict[int, Expr] = {}
    for node in order:
        if not node.args:
            done[id(node)] = node
            continue
        args = tuple(done[id(a)] for a in node.args)
        if node.name in ("add", "sub") and inner.get(id(node), False) \
                and _fold(node, args) is None:
            done[id(node)] = rebuild(node, args)
        else:
            done[id(node)] = _node(node, args)
    return [done[id(r)] for r in roots]


# ---------------------------------------------------------------------------------------------
# helpers

def _c(v: float) -> Const:
    return Const(v)


def _num(e: Any) -> float | None:
    """The float value of a numeric constant, else None."""
    if isinstance(e, (int, float)) and not isinstance(e, bool):
        return float(e)
    if isinstance(e, Const) and not isinstance(e.value, bool):
        return float(e.value)
    return None


def _fold(node: Expr, args: tuple[Expr, ...]) -> Expr | None:
    """A node of constant operands as its value, when that is a finite real number or a bool."""
    if node.prim is None or not args or not all(isinstance(a, Const) for a in args):
        return None
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            v = node.prim.impl(*[a.value for a in args], **node.params)
        except (ArithmeticError, ValueError, TypeError):
            return None
    if np.ndim(v) != 0:
        return None
    v = v[()] if isinstance(v, np.ndarray) else v
    if isinstance(v, (bool, np.bool_)):
        return Const(bool(v))
    if isinstance(v, (int, float, np.integer, np.floating)) and math.isfinite(float(v)):
        return Const(float(v))
    return None


def _bind(prim: Any, *args: Any) -> Expr:
    return as_expr(prim.bind(*args), prim.name)


def _is(e: Exp, v: float) -> bool:
    """Whether the exponent `e` is the number `v` (an expression exponent never is: `==` on an
    expression builds an `equal` node)."""
    return isinstance(e, float) and e == v


def _base_key(b: Expr) -> tuple[Any, ...]:
    """A deterministic order of bases: numbers, then symbols by name, then the rest by their
    text (short ones) or structure."""
    got = b._cache.get("key")
    if got is None:
        if isinstance(b, Const):
            got = (0, "", float(b.value))
        elif isinstance(b, Symbol):
            got = (1, b.name, 0)
        else:
            got = (2, str(b) if tree_size(b) <= 40 else b.name + "(...)", struct_hash(b))
        b._cache["key"] = got
    return got  # type: ignore[no-any-return]


def _factor_key(f: Factor) -> tuple[Any, ...]:
    b, e = f
    return _base_key(b) + ((-e, 0) if isinstance(e, float) else (0.0, struct_hash(e)))


def _term_key(t: Term) -> tuple[Any, ...]:
    return tuple(_factor_key(f) for f in t[1])


# ---------------------------------------------------------------------------------------------
# products: coefficient * prod(base ** exponent)

def _add_exp(a: Exp, b: Exp) -> Exp:
    if isinstance(a, float) and isinstance(b, float):
        return a + b
    ca, ta = _terms(as_expr(a))
    cb, tb = _terms(as_expr(b))
    s = _sum_node(ca + cb, list(ta) + list(tb))
    n = _num(s)
    return s if n is None else n


def _mul_exp(a: Exp, k: float) -> Exp:
    if isinstance(a, float):
        return a * k
    n = _num(a)
    if n is not None:
        return n * k
    c, ts = _scaled(k, _terms(a))
    return _sum_node(c, ts)


def _negated(b: Expr) -> Expr | None:
    """The canonical node of -b for a sum b (so that `x - 1` finds `1 - x`), else None."""
    if b.name not in ("add", "sub"):
        return None
    got = b._cache.get("negated")
    if got is None:
        const, ts = _terms(b)
        got = b._cache["negated"] = _sum_node(-const, [(-c, fs, m) for c, fs, m in ts])
    return got  # type: ignore[no-any-return]


def _integer(e: Exp) -> bool:
    return isinstance(e, float) and e.is_integer()


def _merge(coef: float, factors: list[Factor]) -> tuple[float, tuple[Factor, ...]]:
    """Collect powers of the same base, and of a sum and its negation (integer powers:
    `(1 - x)*(x - 1) -> -(1 - x)**2`, the first one met is kept); drop x**0."""
    by_base: dict[int, list[Any]] = {}
    for b, e in factors:
        got = by_base.get(id(b))
        if got is None:
            by_base[id(b)] = [b, e]
        else:
            got[1] = _add_exp(got[1], e)
    for key in list(by_base):
        entry = by_base.get(key)
        if entry is None or not _integer(entry[1]):
            continue
        nb = _negated(entry[0])
        other = by_base.get(id(nb)) if nb is not None else None
        if other is None or other is entry or not _integer(other[1]):
            continue
        del by_base[id(nb)]
        entry[1] += other[1]
        if other[1] % 2:
            coef = -coef
    out = [(b, e) for b, e in by_base.values() if not (isinstance(e, float) and e == 0.0)]
    out.sort(key=_factor_key)
    return coef, tuple(out)


_PRODUCT_OPS = ("mul", "div", "neg", "reciprocal", "square", "sqrt", "power")


def _cached(node: Expr, key: str, compute: Any) -> Any:
    """`compute(node)`, kept in the node's cache under `key` (nodes are immutable). `compute`
    recurses into the operands; a long chain (a sum of a thousand terms is one) would exceed
    Python's recursion limit, so the operands not computed yet are computed first, from the
    leaves up, without recursion."""
    got = node._cache.get(key)
    if got is None:
        pending = topo_order([node], lambda n: tuple(a for a in n.args if key not in a._cache))
        for n in pending:
            if key not in n._cache:
                n._cache[key] = compute(n)
        got = node._cache[key]
    return got


def _factors(node: Expr) -> tuple[float, tuple[Factor, ...]]:
    """`node` (already simplified) as coefficient * prod(base ** exp)."""
    return _cached(node, "factors", _factors_of)  # type: ignore[no-any-return]


def _atom(node: Expr) -> tuple[float, tuple[Factor, ...]]:
    return 1.0, ((node, 1.0),)


def _factors_of(node: Expr) -> tuple[float, tuple[Factor, ...]]:
    v = _num(node)
    if v is not None:
        return v, ()
    name = node.name
    if name not in _PRODUCT_OPS:
        return _atom(node)
    if name == "neg":
        c, fs = _factors(node.args[0])
        return -c, fs
    if name == "mul":
        (ca, fa), (cb, fb) = _factors(node.args[0]), _factors(node.args[1])
        return _merge(ca * cb, list(fa) + list(fb))
    if name in ("div", "reciprocal"):
        ca, fa = _factors(node.args[0]) if name == "div" else (1.0, ())
        cb, fb = _factors(node.args[-1])
        if cb == 0.0:
            return _atom(node)
        return _merge(ca / cb, list(fa) + [(b, _mul_exp(e, -1.0)) for b, e in fb])
    if name == "sqrt":
        a = node.args[0]
        if a.name == "power" and _num(a.args[1]) == 2.0:
            return _atom(_bind(E.abs_p, a.args[0]))  # sqrt(u**2) = |u|, exactly
        return 1.0, ((a, 0.5),)
    k = 2.0 if name == "square" else _num(node.args[1])
    if k is None or not float(k).is_integer():
        # (a*b)**0.5 is not sqrt(a)*sqrt(b) for negative a, b: keep the base whole
        base = node.args[0]
        return 1.0, ((base, node.args[1] if k is None else k),)
    c, fs = _factors(node.args[0])
    if c == 0.0 and k < 0:
        return _atom(node)
    return c ** k, tuple((b, _mul_exp(e, k)) for b, e in fs)


def _piece(b: Expr, e: Exp) -> Expr:
    if isinstance(e, float):
        if e == 1.0:
            return b
        if e == 0.5:
            return _bind(E.sqrt_p, b)
        return _bind(E.power_p, b, _c(e))
    return _bind(E.power_p, b, e)


def _chain(prim: Any, items: list[Expr]) -> Expr:
    acc = items[0]
    for x in items[1:]:
        acc = _bind(prim, acc, x)
    return acc


def _product_node(coef: float, factors: tuple[Factor, ...]) -> Expr:
    """The canonical node of coef * prod(b ** e): numbers first, quotients as a / b, a negative
    coefficient as a leading minus."""
    if coef == 0.0:
        return _c(0.0)
    if not factors:
        return _c(coef)
    num: list[Expr] = []
    den: list[Expr] = []
    for b, e in factors:
        if isinstance(e, float) and e < 0:
            den.append(_piece(b, -e))
        else:
            num.append(_piece(b, e))
    mag = abs(coef)
    if mag != 1.0 or not num:
        num.insert(0, _c(mag))
    out = _chain(E.mul_p, num)
    if den:
        out = _bind(E.div_p, out, _chain(E.mul_p, den))
    return _bind(E.neg_p, out) if coef < 0 else out


def _mono(factors: tuple[Factor, ...]) -> Expr:
    return _product_node(1.0, factors)


# ---------------------------------------------------------------------------------------------
# sums: constant + sum(coefficient * product)

def _terms(node: Expr) -> tuple[float, tuple[Term, ...]]:
    """`node` (already simplified) as constant + sum(coefficient * product)."""
    return _cached(node, "terms", _terms_of)  # type: ignore[no-any-return]


def _scaled(k: float, ts: tuple[float, tuple[Term, ...]]) -> tuple[float, list[Term]]:
    return k * ts[0], [(k * c, fs, m) for c, fs, m in ts[1]]


def _terms_of(node: Expr) -> tuple[float, tuple[Term, ...]]:
    v = _num(node)
    if v is not None:
        return v, ()
    name = node.name
    if name in ("add", "sub"):
        c0, t0 = _terms(node.args[0])
        c1, t1 = _scaled(1.0 if name == "add" else -1.0, _terms(node.args[1]))
        return c0 + c1, tuple(t0) + tuple(t1)
    if name == "neg":
        c, ts = _scaled(-1.0, _terms(node.args[0]))
        return c, tuple(ts)
    coef, fs = _factors(node) if name in _PRODUCT_OPS else _atom(node)
    if coef == 0.0:
        return 0.0, ()
    if not fs:
        return coef, ()
    if len(fs) == 1 and _is(fs[0][1], 1.0) and fs[0][0].name in ("add", "sub"):
        c, ts = _scaled(coef, _terms(fs[0][0]))
        return c, tuple(ts)
    return 0.0, ((coef, fs, _mono(fs)),)


def _swap_base(fs: tuple[Factor, ...], old: Expr, new: Expr) -> tuple[Factor, ...]:
    return _merge(1.0, [(new if b is old else b, e) for b, e in fs])[1]


#: f(u)**2 paired with g(u)**2: (f, g, sign of g's coefficient relative to f's)
_PYTHAGORAS = (("sin", E.cos_p, 1.0), ("cosh", E.sinh_p, -1.0))


def _pythagoras(terms: dict[int, list[Any]]) -> float:
    """c*sin(u)**2*M + c*cos(u)**2*M -> c*M, c*cosh(u)**2*M - c*sinh(u)**2*M -> c*M, in place;
    returns the constant that results where M is 1."""
    const = 0.0
    changed = True
    while changed:
        changed = False
        for key, (c, fs, _m) in list(terms.items()):
            if key not in terms:
                continue
            for b, e in fs:
                if not _is(e, 2.0) or not b.args:
                    continue
                partner = next((p for n, p, _ in _PYTHAGORAS if b.name == n), None)
                if partner is None:
                    continue
                sign = next(s for n, _, s in _PYTHAGORAS if b.name == n)
                other = _bind(partner, b.args[0])
                pfs = _swap_base(fs, b, other)
                pm = _mono(pfs)
                hit = terms.get(id(pm))
                if hit is None or hit[0] != sign * c:
                    continue
                del terms[key]
                del terms[id(pm)]
                rest = tuple(f for f in fs if f[0] is not b)
                if not rest:
                    const += c
                else:
                    _add_term(terms, c, rest, _mono(rest))
                changed = True
                break
    return const


def _add_term(terms: dict[int, list[Any]], c: float, fs: tuple[Factor, ...], m: Expr) -> None:
    got = terms.get(id(m))
    if got is None:
        terms[id(m)] = [c, fs, m]
    else:
        got[0] += c


def _sum_node(const: float, terms_in: list[Term]) -> Expr:
    """The canonical node of const + sum(c * m): like terms collected, ordered, constants last."""
    terms: dict[int, list[Any]] = {}
    for c, fs, m in terms_in:
        _add_term(terms, c, fs, m)
    for key in [k for k, t in terms.items() if t[0] == 0.0]:
        del terms[key]
    const += _pythagoras(terms)
    # expm1(u) + 1 -> exp(u) (c*expm1(u) + c -> c*exp(u))
    for key, (c, fs, _m) in list(terms.items()):
        if len(fs) == 1 and _is(fs[0][1], 1.0) and fs[0][0].name == "expm1" and const == c:
            del terms[key]
            e = _bind(E.exp_p, fs[0][0].args[0])
            _add_term(terms, c, ((e, 1.0),), e)
            const = 0.0
            break
    ordered = sorted((t for t in terms.values() if t[0] != 0.0), key=_term_key)
    if not ordered:
        return _c(const)
    if ordered[0][0] < 0:
        # lead with a positive term where there is one (1 - x rather than -x + 1)
        k = next((i for i, t in enumerate(ordered) if t[0] > 0), None)
        if k is not None:
            ordered.insert(0, ordered.pop(k))
        elif const > 0:
            acc = _c(const)
            for c, fs, _ in ordered:
                acc = _bind(E.sub_p, acc, _product_node(-c, fs))
            return acc
    first_c, first_fs, _ = ordered[0]
    acc = _product_node(first_c, first_fs)
    for c, fs, _ in ordered[1:]:
        acc = (_bind(E.add_p, acc, _product_node(c, fs)) if c > 0
               else _bind(E.sub_p, acc, _product_node(-c, fs)))
    if const > 0:
        acc = _bind(E.add_p, acc, _c(const))
    elif const < 0:
        acc = _bind(E.sub_p, acc, _c(-const))
    return acc


def _as_sum(node: Expr) -> Expr:
    const, ts = _terms(node)
    return _sum_node(const, list(ts))


# ---------------------------------------------------------------------------------------------
# functions

#: f(g(u)) -> u where g is an inverse of f (exact wherever the left side is defined)
_INVERSES = {"exp": "log", "log": "exp", "exp2": "log2", "log2": "exp2", "expm1": "log1p",
             "log1p": "expm1", "sin": "arcsin", "cos": "arccos", "tan": "arctan",
             "sinh": "arcsinh", "cosh": "arccosh", "tanh": "arctanh", "arcsinh": "sinh",
             "arctanh": "tanh"}
_ODD = {"sin", "tan", "arcsin", "arctan", "sinh", "tanh", "arcsinh", "arctanh", "cbrt", "sign"}
_EVEN = {"cos", "cosh", "abs"}
_NONNEGATIVE = {"abs", "exp", "exp2", "sqrt", "cosh", "square"}


def _function(node: Expr, args: tuple[Expr, ...]) -> Expr | None:
    name = node.name
    (u,) = args
    if _INVERSES.get(name) == u.name:
        return u.args[0]
    if u.name == "neg":
        if name in _ODD:
            return _as_sum(_bind(E.neg_p, rebuild(node, (u.args[0],))))
        if name in _EVEN:
            return rebuild(node, (u.args[0],))
    if name == "abs":
        if u.name in _NONNEGATIVE:
            return u
        k = _num(u.args[1]) if u.name == "power" else None
        if k is not None and k % 2 == 0:
            return u
    return None


def _select(args: tuple[Expr, ...]) -> Expr | None:
    c, a, b = args
    if isinstance(c, Const):
        return a if bool(c.value) else b
    if a is b:
        return a
    return None


#: primitives that are finite wherever their operands are (as real functions: overflow aside)
_TOTAL = {"add", "sub", "mul", "neg", "sin", "cos", "exp", "exp2", "expm1", "sinh", "cosh",
          "tanh", "arctan", "arcsinh", "square", "abs", "sign", "floor", "ceil", "trunc", "round",
          "cbrt", "maximum", "minimum", "fmax", "fmin", "hypot", "logaddexp", "logaddexp2",
          "select", "pick", "stop_gradient", "greater", "greater_equal", "less", "less_equal",
          "equal", "not_equal", "logical_and", "logical_or", "logical_not", "isfinite", "isnan"}


def _total(e: Expr) -> bool:
    """Whether `e` is finite at every (finite) point of its symbols: built from constants,
    symbols and total primitives (and powers with non-negative integer exponents)."""
    got = e._cache.get("total")
    if got is not None:
        return got  # type: ignore[no-any-return]
    for n in topo_order([e]):
        if "total" in n._cache:
            continue
        if isinstance(n, Const):
            ok = isinstance(n.value, bool) or math.isfinite(n.value)
        elif isinstance(n, Symbol):
            ok = True
        elif n.name == "power":
            k = _num(n.args[1])
            ok = k is not None and k >= 0 and k.is_integer() and n.args[0]._cache["total"]
        else:
            ok = n.name in _TOTAL and all(a._cache["total"] for a in n.args)
        n._cache["total"] = ok
    return e._cache["total"]  # type: ignore[no-any-return]


def _strong_mask(args: tuple[Expr, ...]) -> Expr | None:
    # t, except where a zero cotangent ct met a non-finite product r: a nonzero number ct never
    # masks, and neither does a product that is finite everywhere (the tape run on symbols)
    ct, r, t = args
    v = _num(ct)
    if (v is not None and v != 0.0) or _total(r):
        return t
    return None


_SPECIAL: dict[str, Callable[[tuple[Expr, ...]], Expr | None]] = {
    "select": _select, "strong_mask": _strong_mask}


def _node(node: Expr, args: tuple[Expr, ...]) -> Expr:
    folded = _fold(node, args)
    if folded is not None:
        return folded
    name = node.name
    if name in ("add", "sub") or (name == "neg" and args[0].name not in _PRODUCT_OPS):
        return _as_sum(rebuild(node, args))
    if name in _PRODUCT_OPS:
        built = rebuild(node, args)
        coef, fs = _factors(built)
        if not math.isfinite(coef):
            return built
        return _product_node(coef, fs)
    special = _SPECIAL.get(name)
    if special is not None:
        got = special(args)
        if got is not None:
            return got
    if len(args) == 1:
        got = _function(node, args)
        if got is not None:
            return got
    return rebuild(node, args)
