"""The `chainrule` command: demo (the main job), check (every method on the textbook example),
explain (trace tables, an HTML page), graph (IR listing, DOT, PNG) and swell (expression swell).
docs/cli.md documents each with an example."""
from __future__ import annotations

import argparse
import importlib.util
import inspect
import math
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import chainrule as cr
import chainrule.numpy as cnp

from . import numeric, symbolic
from .demo import INSTALL, add_arguments, run
from .explain import (
    CONSTANTS,
    FUNCTIONS,
    ExplainError,
    ExpressionError,
    explain,
    parse_expression,
)
from .graph import spec, trace
from .graph.dot import to_dot
from .graph.passes import dce


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return int(args.handler(args))
    except BrokenPipeError:  # `chainrule explain ... | head`: the reader left, nothing to say
        # (and nothing more to flush at exit: stdout goes nowhere from here on)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def build_parser() -> argparse.ArgumentParser:
    """The command's parser: every subcommand and option, each option's help stating its
    default."""
    parser = argparse.ArgumentParser(
        prog="chainrule", description="chainrule: automatic differentiation in Python.")
    parser.add_argument("--version", action="version", version=f"chainrule {cr.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
        "demo", help="train a network on the handwritten digits, then compare the reverse-mode "
                     "methods on one epoch (the main job)",
        description="Train an MLP (or --model cnn) on the 8x8 digits that scikit-learn ships, "
                    "print per-epoch loss and accuracy, save the curves as a PNG in --out, then "
                    "train one epoch of the same model with each reverse-mode method "
                    "(overload, graph, source) from the same seed and show that their losses "
                    "agree. Needs scikit-learn and matplotlib: pip install \"chainrule[demo]\".")
    add_arguments(demo)
    demo.set_defaults(handler=run)
    check = sub.add_parser(
        "check", help="differentiate the textbook example by every method, in both modes, "
                      "and compare with the derivative by hand",
        description="Differentiate f(x1, x2) = ln(x1) + x1*x2 - sin(x2) at (2, 5) with every "
                    "method (overload, graph, source, symbolic, numeric), in reverse mode "
                    "(cr.grad) and forward mode (cr.jacfwd), print the derivatives next to the "
                    "ones by hand and exit with status 0 when all agree (1 otherwise): a quick "
                    "test that the installation works.")
    check.set_defaults(handler=_check)
    _add_explain_parser(sub)
    _add_graph_parser(sub)
    _add_swell_parser(sub)
    return parser


def _textbook(x1: float, x2: float) -> float:
    """The AD textbooks' example (Griewank & Walther; Baydin et al.), which `check` differentiates
    by every method (at module level, so that method="source" can read its source)."""
    return cnp.log(x1) + x1 * x2 - cnp.sin(x2)


#: how close each method must come to the derivative by hand: finite differences approximate
_CHECK_TOLERANCE = {"numeric": 1e-6}


def _check(args: argparse.Namespace) -> int:
    x = (2.0, 5.0)
    want = (1 / x[0] + x[1], x[0] - math.cos(x[1]))  # by hand: 1/x1 + x2, x1 - cos(x2)
    print("f(x1, x2) = ln(x1) + x1*x2 - sin(x2) at (x1, x2) = (2, 5), by every method in both "
          "modes;")
    print("by hand, df/dx1 = 1/x1 + x2 and df/dx2 = x1 - cos(x2):")
    print(f"  {'method':<10} {'mode':<16} {'df/dx1':>14} {'df/dx2':>14} {'|error|':>9}")
    print(f"  {'by hand':<10} {'':<16} {want[0]:>14.10f} {want[1]:>14.10f}")
    failed = []
    for method in cr.transforms.METHODS:
        for mode, transform in (("reverse (grad)", cr.grad), ("forward (jacfwd)", cr.jacfwd)):
            try:
                got = [float(v) for v in
                       transform(_textbook, argnums=(0, 1), method=method)(*x)]
            except Exception as err:  # a method that fails is reported, and check fails
                print(f"  {method:<10} {mode:<16} failed: {type(err).__name__}: {err}")
                failed.append(f"{method} {mode}")
                continue
            error = max(abs(a - b) for a, b in zip(got, want))
            if not error <= _CHECK_TOLERANCE.get(method, 1e-12):
                failed.append(f"{method} {mode}")
            print(f"  {method:<10} {mode:<16} {got[0]:>14.10f} {got[1]:>14.10f} {error:>9.1e}")
    if failed:
        print(f"chainrule check: {', '.join(failed)} disagree with the derivative by hand",
              file=sys.stderr)
        return 1
    print("all agree with the derivative by hand (to 1e-12; numeric, which is finite "
          "differences, to 1e-6)")
    return 0


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
                    f"is never eval'd. Numbers are printed in ASCII (-0.959), to paste "
                    f"elsewhere; --unicode prints them as in a book (−0.959, 2π). --html FILE "
                    f"writes the tables and the computational graph as a web page instead. "
                    f"Example: {_EXPLAIN_EXAMPLE}")
    p.add_argument("expression", help='the expression, e.g. "log(x1) + x1*x2 - sin(x2)"')
    p.add_argument("--at", nargs="+", required=True, metavar="NAME=VALUE",
                   help="the point: one NAME=VALUE per variable, in input order (required)")
    p.add_argument("--wrt", metavar="NAME", help="the input of the tangent trace (default: the "
                                                 "first variable of --at)")
    p.add_argument("--markdown", action="store_true",
                   help="print Markdown tables (default: aligned text)")
    p.add_argument("--digits", type=int, default=3, metavar="N",
                   help="decimals printed (default: %(default)s)")
    p.add_argument("--unicode", action="store_true",
                   help="typographic minus, infinity and pi: −0.959, ∞, 2π (default: ASCII "
                        "that pastes into Python: -0.959, inf, 2*pi)")
    p.add_argument("--html", metavar="FILE",
                   help="write a self-contained HTML page with the three tables and the "
                        "computational graph (inline SVG when Graphviz is installed) to FILE "
                        "instead of printing the tables (default: print them)")
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
    if args.html:
        point = ", ".join(f"{n} = {v:g}" for n, v in zip(names, values))
        page = table.to_html(title="chainrule explain", subtitle=f"{args.expression} at {point}",
                             unicode=args.unicode)
        try:
            with open(args.html, "w", encoding="utf-8") as out:
                out.write(page)
        except OSError as err:
            return _fail("explain", f"--html {args.html}: {err.strerror or err}")
        drawn = "with the graph drawn" if "<svg" in page else \
            "the graph as DOT text: Graphviz's dot program is not installed"
        print(f"wrote {args.html} (the three tables; {drawn})")
        return 0
    print(table.to_markdown(unicode=args.unicode) if args.markdown
          else table.to_text(unicode=args.unicode))
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
    p.add_argument("target", metavar="FILE:FUNC", help="the function, e.g. model.py:loss")
    p.add_argument("--shape", action="append", default=[], metavar="NAME=3,4",
                   help="shape of the parameter NAME (repeat per parameter; NAME= for a "
                        "scalar; parameters with a default value may be left out)")
    p.add_argument("--dtype", default="float64",
                   help="dtype of the inputs (default: %(default)s)")
    p.add_argument("--grad", action="store_true",
                   help="also build and print the gradient graph (Graph.grad) and draw it "
                        "instead of the function's (default: the function's graph only)")
    p.add_argument("--dot", metavar="OUT.dot",
                   help="write the graph as Graphviz DOT to OUT.dot (default: not written)")
    p.add_argument("--png", metavar="OUT.png",
                   help="draw the graph into OUT.png with Graphviz's dot program, when it is "
                        "installed (default: not drawn)")
    p.add_argument("--internals", action="store_true",
                   help="also draw the reverse rules' internal strong_mask guards in the "
                        "picture (default: left out; they pass their operand through)")
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
            # (dce: the reverse pass leaves a few equations nobody uses, e.g. a reshape of an
            # input whose cotangent is not asked for)
            shown = dce(forward.grad(argnums=tuple(range(len(order)))))
        except Exception as err:
            print(f"chainrule graph: --grad: {type(err).__name__}: {err}", file=sys.stderr)
            return 1
        print(f"\n# gradient graph (the output, then d/d{', d/d'.join(order)}): "
              f"{_equations(shown.num_nodes)}")
        print(shown)
    if not (args.dot or args.png):
        return 0
    n_out = len(shown.outputs)
    if args.grad:
        outputs = ["value"] + [f"d/d{n}" for n in order]
    else:
        outputs = ["value"] if n_out == 1 else [f"value {k}" for k in range(n_out)]
    dot_text = to_dot(shown, input_names=order, output_names=outputs, internals=args.internals)
    if args.dot:
        try:
            with open(args.dot, "w", encoding="utf-8") as out:
                out.write(dot_text + "\n")
        except OSError as err:
            return _fail("graph", f"--dot {args.dot}: {err.strerror or err}")
        print(f"wrote {args.dot}")
    if args.png:
        return _draw_png(dot_text, args.png, args.dot)
    return 0


def _draw_png(dot_text: str, png: str, dot_file: str | None) -> int:
    """`dot -Tpng -o PNG`; without Graphviz, one line saying so and the DOT text written
    beside PNG (unless --dot already wrote it), status 1."""
    dot = shutil.which("dot")
    if dot is None:
        if dot_file is None:
            dot_file = str(Path(png).with_suffix(".dot"))
            try:
                with open(dot_file, "w", encoding="utf-8") as out:
                    out.write(dot_text + "\n")
            except OSError as err:
                return _fail("graph", f"--png {png}: Graphviz's `dot` program is not installed, "
                                      f"and writing the DOT text to {dot_file} failed: "
                                      f"{err.strerror or err}")
        print(f"chainrule graph: --png {png}: Graphviz's `dot` program is not installed, so no "
              f"picture was drawn; the DOT file was written to {dot_file}. Install Graphviz "
              f"(apt-get install graphviz, brew install graphviz, or "
              f"https://graphviz.org/download/) and run again", file=sys.stderr)
        return 1
    try:
        done = subprocess.run([dot, "-Tpng", "-o", png], input=dot_text, text=True,
                              capture_output=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as err:
        return _fail("graph", f"--png {png}: running Graphviz's dot failed: {err}")
    if done.returncode != 0:
        print(f"chainrule graph: --png {png}: dot failed: {done.stderr.strip()}",
              file=sys.stderr)
        return 1
    print(f"wrote {png}")
    return 0


# ---------------------------------------------------------------------------------------------
# chainrule swell [--n 10] [--out DIR] [--png swell.png] [--error-png error_curve.png]

def _add_swell_parser(sub: Any) -> None:
    p = sub.add_parser(
        "swell", help="print the expression-swell table (symbolic vs AD) and save its plots",
        description="Expression swell on the logistic map l(n+1) = 4 l(n) (1 - l(n)): the size "
                    "of the symbolic derivative as a printed tree, as a DAG of shared nodes, "
                    "simplified, against the number of operations automatic differentiation "
                    "records. Also saves the finite-difference error curve of sin at x = 1. "
                    "The plots need matplotlib.")
    p.add_argument("--n", type=int, default=10, help="the largest n (default: %(default)s)")
    p.add_argument("--out", default="chainrule-swell", metavar="DIR",
                   help="directory for the plots, created if missing (default: %(default)s)")
    p.add_argument("--png", default="swell.png", metavar="FILE",
                   help="file name of the swell plot in DIR (default: %(default)s)")
    p.add_argument("--error-png", default="error_curve.png", metavar="FILE",
                   help="file name of the finite-difference error-curve plot in DIR (default: "
                        "%(default)s)")
    p.set_defaults(handler=_swell)


def _swell(args: argparse.Namespace) -> int:
    if args.n < 1:
        return _fail("swell", f"--n {args.n}: give a largest n of at least 1")
    rows = symbolic.swell_table(args.n)
    print("expression swell, logistic map l(n+1) = 4 l(n) (1 - l(n)), l(1) = x:")
    print(symbolic.format_swell(rows))
    if importlib.util.find_spec("matplotlib") is None:
        print(f"chainrule swell: plots not saved: they need matplotlib, not installed; install "
              f"with: {INSTALL}", file=sys.stderr)
        return 1
    try:
        if not (os.path.isabs(args.png) and os.path.isabs(args.error_png)):
            os.makedirs(args.out, exist_ok=True)  # (absolute file names leave it unused)
    except OSError as err:
        return _fail("swell", f"--out {args.out}: {err.strerror or err}")
    swell_png = os.path.join(args.out, args.png)
    error_png = os.path.join(args.out, args.error_png)
    for option, path in (("--png", swell_png), ("--error-png", error_png)):
        try:
            if option == "--png":
                symbolic.plot_swell(rows, path)
            else:
                numeric.plot_error_curve(np.sin, 1.0, path=path)
        except (OSError, ValueError) as err:  # no such directory, a format matplotlib lacks
            return _fail("swell", f"{option} {path}: {getattr(err, 'strerror', None) or err}")
    print(f"plots saved to {swell_png} and {error_png} (error of each finite-difference "
          f"method against the step size, for sin at x = 1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
