"""The `chainrule` command."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="chainrule", description="chainrule: automatic differentiation in Python.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="train a small network on handwritten digits (main job)")
    demo.add_argument("--quiet", action="store_true")
    sub.add_parser("check", help="differentiate the textbook example with every available "
                                 "method and print the result")
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "check":
        return _check()
    if args.command == "demo":
        print("chainrule demo: the training demo arrives with the AI-framework layer (issue #7).")
        print("Until then, here is the kernel at work:\n")
        return _check()
    return 1


def _check() -> int:
    import math

    import chainrule as cr
    import chainrule.numpy as cnp

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


if __name__ == "__main__":
    sys.exit(main())
