"""The `chainrule` command: demo (the main job), check, explain (trace tables), graph (IR
listing, DOT)."""
from __future__ import annotations

import argparse
import importlib.util
import inspect
import math
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import numpy as np

import chainrule as cr
import chainrule.numpy as cnp

from . import numeric, symbolic
from .demo import add_arguments, run
from .explain import (
    CONSTANTS,
    FUNCTIONS,
    ExplainError,
    ExpressionError,
    explain,
    parse_expression,
)
from .graph import spec, trace


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="chainrule", description="chainrule: automatic differentiation in Python.")
    parser.add_argument("--version", action="version", version=f"chainrule {cr.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
        "demo", help="train a network on the handwritten digits, then compare the reverse-mode "
                     "methods on one epoch (the main job)",
        description="Train an MLP (or --model cnn) on the 8x8 digits that scikit-learn ships, "
                    "print per-epoch loss and accuracy, save the curves as a PNG, then train one "
                    "epoch with each reverse-mode method (overload, graph, source) from the same "
                    "seed and show that their losses agree.")
    add_arguments(demo)
    sub.add_parser("check", help="differentiate the textbook example with every available "
                                 "method and print the result")
    _add_explain_parser(sub)
    _add_graph_parser(sub)
    _add_swell_parser(sub)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    handler = getattr(args, "handler", None)
    if handler is not None:  # explain, graph
        return int(handler(args))
    if args.command == "check":
        return _check()
    if args.command == "demo":
        return run(args)
    return 1


def _check() -> int:


    def f(x1: float, x2: float) -> float:
        return cnp.log(x1) + x1 * x2 - cnp.sin(x2)

    g = cr.grad(f, argnums=(0, 1))(2.0, 5.0)
    want = (5.5, 2.0 - math.cos(5.0))
    print("f(x1, x2) = ln(x1) + x1*x2 - sin(x2) at (2, 5)")
    print(f"  reverse mode (tape):   df/dx1 = {float(g[0]):.10f}   df/dx2 = {float(g[1]):.10f}")
    _, t1 = cr.jvp(f, (2.0, 5.0), (1.0, 0.0))
    _, t2 = cr.jvp(f, (2.0, 5.0), (0.0, 1.0))
    print(f"  forward mode (duals):  df/dx1 = {float(t1):.10f}   df/dx2 = {float(t2):.10f}")
    print(f"  by hand:               df/dx1 = {want[0]:.10f}   df/dx2 = {want[1]:.10f}")
    ok = all(abs(float(a) - b) < 1e-12 for a, b in zip((g[0], g[1], t1, t2), want * 2))
    return 0 if ok else 1


# ---------------------------------------------------------------------------------------------
# chainrule explain "EXPR" --at x1=2 x2=5 [--wrt x1] [--markdown] [--digits N]

_EXPLAIN_EXAMPLE = 'chainrule explain "log(x1) + x1*x2 - sin(x2)" --at x1=2 x2=5'


def _add_explain_parser(sub: Any) -> None:
    p = sub.add_parser(
        "explain", help="print the evaluation-trace tables (primal, tangent, adjoint) of an "
                        "expression",
        description="Print the forward primal, forward tangent and reverse adjoint traces of an "
                    "expression, as in the AD textbooks. The expression is parsed and checked "
                    "against a whitelist (numbers, the variables of --at, pi, e, + - * / **, and "
                    "calls of elementary functions such as log, exp, sin, cos, tanh, sqrt); it "
                    f"is never eval'd. Example: {_EXPLAIN_EXAMPLE}")
    p.add_argument("expression", help='e.g. "log(x1) + x1*x2 - sin(x2)"')
    p.add_argument("--at", nargs="+", required=True, metavar="NAME=VALUE",
                   help="the point: one NAME=VALUE per variable, in input order")
    p.add_argument("--wrt", metavar="NAME", help="the input of the tangent trace "
                                                 "(default: the first)")
    p.add_argument("--markdown", action="store_true", help="print Markdown tables")
    p.add_argument("--digits", type=int, default=3, metavar="N",
                   help="decimals printed (default 3)")
    p.set_defaults(handler=_explain_command)


def _fail(command: str, message: str) -> int:
    print(f"chainrule {command}: {message}", file=sys.stderr)
    return 2


def _parse_point(items: list[str]) -> tuple[list[str], list[float]]:
    """--at NAME=VALUE ...: the names in order and their values; ValueError names the item."""

    names: list[str] = []
    values: list[float] = []
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"--at {item!r}: write NAME=VALUE, e.g. --at x1=2 x2=5")
        if not name.isidentifier() or "__" in name:
            raise ValueError(f"--at {item!r}: {name!r} is not a variable name (letters, digits "
                             f"and single underscores)")
        if name in FUNCTIONS or name in CONSTANTS:
            raise ValueError(f"--at {item!r}: {name} is a function or constant of expressions; "
                             f"call the variable something else")
        if name in names:
            raise ValueError(f"--at {item!r}: {name} is given twice")
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"--at {item!r}: {text!r} is not a number") from None
        names.append(name)
        values.append(value)
    return names, values


def _explain_command(args: argparse.Namespace) -> int:


    try:
        names, values = _parse_point(args.at)
    except ValueError as err:
        return _fail("explain", str(err))
    if args.wrt is not None and args.wrt not in names:
        return _fail("explain", f"--wrt {args.wrt}: not one of the variables given with --at "
                                f"({', '.join(names)})")
    if args.digits < 0:
        return _fail("explain", f"--digits {args.digits}: give a number of decimals >= 0")
    try:
        f = parse_expression(args.expression, names)  # checks everything; runs nothing
    except ExpressionError as err:
        allowed = textwrap.fill(err.allowed[:1].upper() + err.allowed[1:] + ".", width=96,
                                initial_indent="  ", subsequent_indent="  ")
        return _fail("explain", f"expression {err.reason}.\n{allowed}")
    try:
        # a point outside a function's domain gives nan / inf in the table, as NumPy does;
        # the table says so, NumPy's warnings would only repeat it
        with np.errstate(all="ignore"):
            table = explain(f, *values, wrt=args.wrt or 0, digits=args.digits, names=names)
    except ExplainError as err:
        return _fail("explain", str(err))
    print(table.to_markdown() if args.markdown else table)
    return 0


# ---------------------------------------------------------------------------------------------
# chainrule graph FILE:FUNC --shape NAME=3,4 ... [--grad] [--dot out.dot] [--png out.png]

def _add_graph_parser(sub: Any) -> None:
    p = sub.add_parser(
        "graph", help="trace a function of your own into an expression graph; print it, "
                      "write DOT or PNG",
        description="Import FUNC from the Python file FILE (running that file, as Python "
                    "would), trace it on placeholder inputs of the given shapes with "
                    "cr.graph.trace, and print the SSA listing. Example: chainrule graph "
                    "model.py:loss --shape W=3,4 --shape x=4 --grad --dot loss.dot")
    p.add_argument("target", metavar="FILE:FUNC", help="e.g. model.py:loss")
    p.add_argument("--shape", action="append", default=[], metavar="NAME=3,4",
                   help="shape of the parameter NAME (repeat per parameter; NAME= for a "
                        "scalar)")
    p.add_argument("--dtype", default="float64", help="dtype of the inputs (default float64)")
    p.add_argument("--grad", action="store_true",
                   help="also build and print the gradient graph (Graph.grad)")
    p.add_argument("--dot", metavar="OUT.dot", help="write the graph as Graphviz DOT")
    p.add_argument("--png", metavar="OUT.png",
                   help="draw the graph with Graphviz's dot program, when installed")
    p.set_defaults(handler=_graph_command)


def _equations(n: int) -> str:
    return f"{n} equation" + ("" if n == 1 else "s")


def _parse_shape(item: str) -> tuple[str, tuple[int, ...]]:
    name, sep, text = item.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise ValueError(f"--shape {item!r}: write NAME=3,4 (NAME= for a scalar)")
    text = text.strip().strip("()[]").strip()
    if not text:
        return name, ()
    sizes = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit():
            raise ValueError(f"--shape {item!r}: {part!r} is not a size; give non-negative "
                             f"integers separated by commas, e.g. {name}=3,4")
        sizes.append(int(part))
    return name, tuple(sizes)


def _load_function(target: str) -> Callable[..., Any]:
    """FILE:FUNC -> the function; ValueError naming the argument when it cannot be found."""
    from pathlib import Path

    path_text, sep, func_name = target.rpartition(":")
    if not sep or not path_text or not func_name:
        raise ValueError(f"{target!r}: write FILE:FUNC, e.g. model.py:loss")
    path = Path(path_text)
    if not path.is_file():
        raise ValueError(f"{target!r}: no file {str(path)!r}")
    module_name = "_chainrule_graph_" + "".join(c if c.isalnum() else "_" for c in path.stem)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"{target!r}: {str(path)!r} cannot be imported as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look their module up
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        sys.modules.pop(module_name, None)
        raise ValueError(f"{target!r}: importing {str(path)!r} failed: "
                         f"{type(err).__name__}: {err}") from err
    fn = getattr(module, func_name, None)
    if fn is None:
        defined = sorted(k for k, v in vars(module).items()
                         if inspect.isfunction(v) and v.__module__ == module_name)
        raise ValueError(f"{target!r}: {str(path)!r} defines no {func_name!r} (its functions: "
                         f"{', '.join(defined) or 'none'})")
    if not callable(fn):
        raise ValueError(f"{target!r}: {func_name!r} is a {type(fn).__name__}, not a function")
    return fn


def _graph_command(args: argparse.Namespace) -> int:



    try:
        fn = _load_function(args.target)
        shapes = dict(_parse_shape(item) for item in args.shape)
        dtype = np.dtype(args.dtype)
    except (ValueError, TypeError) as err:
        return _fail("graph", str(err))
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return _fail("graph", f"{args.target!r}: its parameters cannot be read")
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD,
                                                  p.KEYWORD_ONLY)]
    known = [p.name for p in positional]
    for name in shapes:
        if name not in known:
            return _fail("graph", f"--shape {name}=...: {args.target} has no parameter "
                                  f"{name!r} (its parameters: {', '.join(known) or 'none'})")
    missing = [p.name for p in positional if p.name not in shapes and p.default is p.empty]
    if missing:
        return _fail("graph", f"--shape: give a shape for {', '.join(missing)} of "
                              f"{args.target} (e.g. --shape {missing[0]}=3,4)")
    order = [p.name for p in positional if p.name in shapes]

    def by_name(*xs: Any) -> Any:
        return fn(**dict(zip(order, xs)))

    try:
        forward = trace(by_name, *[spec(shapes[n], dtype) for n in order])
    except Exception as err:
        print(f"chainrule graph: tracing {args.target} failed: {type(err).__name__}: {err}",
              file=sys.stderr)
        return 1
    print(f"# {args.target}({', '.join(f'{n}: {shapes[n]}' for n in order)}): "
          f"{_equations(forward.num_nodes)}")
    print(forward)
    shown = forward
    if args.grad:
        outs = forward.outputs
        if len(outs) != 1 or tuple(outs[0].shape) != ():
            got = ", ".join(str(tuple(o.shape)) for o in outs) or "nothing"
            return _fail("graph", f"--grad: a gradient graph needs one scalar output, and "
                                  f"{args.target} returns {got}; reduce it (e.g. cnp.sum) or "
                                  f"leave out --grad")
        try:
            shown = forward.grad(argnums=tuple(range(len(order))))
        except Exception as err:
            print(f"chainrule graph: --grad: {type(err).__name__}: {err}", file=sys.stderr)
            return 1
        print(f"\n# gradient graph (the output, then d/d{', d/d'.join(order)}): "
              f"{_equations(shown.num_nodes)}")
        print(shown)
    status = 0
    dot_text = shown.to_dot() if (args.dot or args.png) else ""
    if args.dot:
        try:
            with open(args.dot, "w", encoding="utf-8") as out:
                out.write(dot_text + "\n")
        except OSError as err:
            return _fail("graph", f"--dot {args.dot}: {err.strerror or err}")
        print(f"wrote {args.dot}")
    if args.png:
        dot = shutil.which("dot")
        if dot is None:
            print(f"chainrule graph: --png {args.png}: Graphviz's `dot` program is not "
                  f"installed, so no picture was drawn. Install Graphviz (apt-get install "
                  f"graphviz, brew install graphviz, or https://graphviz.org/download/) "
                  f"and run again" + ("; the DOT file was written" if args.dot else
                                      ", or write the DOT file with --dot"), file=sys.stderr)
            return 1
        done = subprocess.run([dot, "-Tpng", "-o", args.png], input=dot_text, text=True,
                              capture_output=True)
        if done.returncode != 0:
            print(f"chainrule graph: --png {args.png}: dot failed: {done.stderr.strip()}",
                  file=sys.stderr)
            return 1
        print(f"wrote {args.png}")
    return status


# ---------------------------------------------------------------------------------------------
# chainrule swell [--n 10] [--png swell.png] [--error-png error_curve.png]

def _add_swell_parser(sub: Any) -> None:
    p = sub.add_parser(
        "swell", help="print the expression-swell table (symbolic vs AD) and save its plot",
        description="Expression swell on the logistic map l(n+1) = 4 l(n) (1 - l(n)): the size "
                    "of the symbolic derivative as a printed tree, as a DAG of shared nodes, "
                    "simplified, against the number of operations automatic differentiation "
                    "records. Also saves the finite-difference error curve of sin at x = 1.")
    p.add_argument("--n", type=int, default=10, help="the largest n (default 10)")
    p.add_argument("--png", default="swell.png", help="where to save the swell plot")
    p.add_argument("--error-png", default="error_curve.png",
                   help="where to save the numeric error-curve plot")
    p.set_defaults(handler=_swell)


def _swell(args: argparse.Namespace) -> int:

    if args.n < 1:
        print("chainrule swell: --n must be at least 1", file=sys.stderr)
        return 2
    rows = symbolic.swell_table(args.n)
    print("expression swell, logistic map l(n+1) = 4 l(n) (1 - l(n)), l(1) = x:")
    print(symbolic.format_swell(rows))
    try:
        for option, path in (("--png", args.png), ("--error-png", args.error_png)):
            try:
                if option == "--png":
                    symbolic.plot_swell(rows, path)
                else:
                    numeric.plot_error_curve(np.sin, 1.0, path=path)
            except (OSError, ValueError) as err:  # no such directory, a format matplotlib lacks
                return _fail("swell", f"{option} {path}: {getattr(err, 'strerror', None) or err}")
    except ImportError as exc:
        print(f"plots not saved: {exc}")
        return 0
    print(f"plots saved to {args.png} and {args.error_png} (error of each finite-difference "
          f"method against the step size, for sin at x = 1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
