"""Expression swell, measured: the logistic map `l_{n+1} = 4 l_n (1 - l_n)`, `l_1 = x`.

Symbolic differentiation of `l_n` repeats the whole of `l_n`'s subexpressions in every term of
the product rule, so the derivative *printed as a tree* grows exponentially with n (and
`simplify` does not save it: it is not a matter of redundant terms). The same derivative as a DAG
(shared subexpressions counted once) and the tape of automatic differentiation grow linearly.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from .. import graph
from ..overload.transforms import grad
from .diff import diff
from .expr import Expr, Symbol
from .simplify import simplify


@dataclasses.dataclass(frozen=True)
class SwellRow:
    """Sizes for l_n. Tree sizes count nodes as printed (shared subexpressions once per use),
    DAG sizes count distinct nodes; `ad_ops` counts the primitive operations AD records.

    Parameters
    ----------
    n : int
        The index of the logistic-map iterate.
    expr_tree : int
        The tree size of l_n.
    diff_tree : int
        The tree size of d l_n / dx as `diff` returns it.
    diff_tree_simplified : int
        The same, simplified.
    diff_dag : int
        The DAG size of d l_n / dx.
    diff_dag_simplified : int
        The same, simplified.
    ad_ops : int
        The forward and backward operations of reverse-mode AD.

    Examples
    --------
    >>> import chainrule as cr
    >>> row = cr.symbolic.swell_table(2)[-1]
    >>> print(row.n, row.expr_tree, row.diff_tree, row.ad_ops)
    2 7 11 8
    """

    n: int
    expr_tree: int          # l_n itself, printed
    diff_tree: int          # d l_n / dx as `diff` returns it, printed
    diff_tree_simplified: int
    diff_dag: int           # d l_n / dx, distinct nodes
    diff_dag_simplified: int
    ad_ops: int             # forward + backward operations of reverse-mode AD


def logistic(n: int) -> Callable[[Any], Any]:
    """The function x -> l_n (with l_1 = x and l_{n+1} = 4 l_n (1 - l_n)).

    Parameters
    ----------
    n : int
        The iterate.

    Returns
    -------
    callable
        The function.

    Examples
    --------
    >>> import chainrule as cr
    >>> print(cr.symbolic.logistic(2)(0.5))
    1.0
    """

    def l_n(x: Any) -> Any:
        lv = x
        for _ in range(n - 1):
            lv = 4 * lv * (1 - lv)
        return lv

    l_n.__name__ = f"logistic_{n}"
    return l_n


def ad_trace_length(f: Callable[[Any], Any], x: float = 0.5) -> int:
    """The primitive operations reverse-mode AD records for the gradient of `f`.

    Forward and backward: the equations of `cr.graph.trace(cr.grad(f), x)`, the tape running on
    graph tracers, without the `strong_mask` equations (the NaN guards of the backward pass).

    Parameters
    ----------
    f : callable
        A function of one float.
    x : float, optional
        The point traced at.

    Returns
    -------
    int
        The number of operations.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.symbolic.ad_trace_length(cr.symbolic.logistic(3))
    16
    """
    g = graph.trace(grad(f), x)
    return sum(1 for e in g.eqns if e.prim.name != "strong_mask")


def swell_table(n_max: int = 10) -> list[SwellRow]:
    """One row per n = 1 ... n_max for the logistic map (see `SwellRow`).

    Parameters
    ----------
    n_max : int, optional
        The last n.

    Returns
    -------
    list of SwellRow
        The rows.

    Examples
    --------
    >>> import chainrule as cr
    >>> [row.diff_tree for row in cr.symbolic.swell_table(3)]
    [1, 11, 46]
    """
    if not isinstance(n_max, int) or n_max < 1:
        raise ValueError(f"swell_table: n_max={n_max!r} must be an int >= 1")
    x = Symbol("x")
    rows = []
    for n in range(1, n_max + 1):
        ln: Expr = logistic(n)(x)
        d = diff(ln, x)
        s = simplify(d)
        rows.append(SwellRow(n, ln.tree_size(), d.tree_size(), s.tree_size(), d.dag_size(),
                             s.dag_size(), ad_trace_length(logistic(n))))
    return rows


_HEADERS = ("n", "l_n tree", "d/dx tree", "simplified tree", "d/dx DAG", "simplified DAG",
            "AD ops")


def format_swell(rows: Sequence[SwellRow]) -> str:
    """The table as aligned text.

    Parameters
    ----------
    rows : sequence of SwellRow
        The rows (from `swell_table`).

    Returns
    -------
    str
        The table.

    Examples
    --------
    >>> import chainrule as cr
    >>> print(cr.symbolic.format_swell(cr.symbolic.swell_table(2)))
    n  l_n tree  d/dx tree  simplified tree  d/dx DAG  simplified DAG  AD ops
    -  --------  ---------  ---------------  --------  --------------  ------
    1         1          1                1         1               1       0
    2         7         11                5         9               5       8
    """
    cells = [_HEADERS] + [tuple(str(v) for v in dataclasses.astuple(r)) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(_HEADERS))]
    lines = ["  ".join(c[i].rjust(widths[i]) for i in range(len(widths))) for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def plot_swell(rows: Sequence[SwellRow], path: str) -> str:
    """Save a log-scale plot of the sizes against n.

    Parameters
    ----------
    rows : sequence of SwellRow
        The rows (from `swell_table`).
    path : str
        Where to save it (PNG, SVG, PDF: by extension).

    Returns
    -------
    str
        `path`.

    Raises
    ------
    ImportError
        Without matplotlib (`pip install matplotlib`).

    Examples
    --------
    >>> import os, tempfile
    >>> import chainrule as cr
    >>> path = os.path.join(tempfile.mkdtemp(), "swell.png")
    >>> cr.symbolic.plot_swell(cr.symbolic.swell_table(3), path) == path   # doctest: +SKIP
    True
    """
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError("plot_swell needs matplotlib, an optional dependency: "
                          "pip install matplotlib (or pip install -e '.[dev]')") from exc
    matplotlib.use("Agg")  # no display needed; the figure goes to a file
    import matplotlib.pyplot as plt

    ns = [r.n for r in rows]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    series = [("symbolic derivative, tree", [r.diff_tree for r in rows], "o-"),
              ("simplified, tree", [r.diff_tree_simplified for r in rows], "s--"),
              ("symbolic derivative, DAG", [r.diff_dag for r in rows], "^-"),
              ("AD operations (forward + backward)",
               [r.ad_ops or float("nan") for r in rows], "d-")]
    for label, ys, style in series:  # a zero (n = 1: no operation) has no place on a log scale
        ax.plot(ns, ys, style, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("n  (logistic map $l_{n+1} = 4 l_n (1 - l_n)$)")
    ax.set_ylabel("size (nodes / operations)")
    ax.set_title("Expression swell: d l_n / dx")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
