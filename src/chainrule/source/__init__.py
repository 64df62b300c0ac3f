"""`chainrule.source`: source-code transformation — Python AST in, readable derivative code out.

    g = cr.source.grad(f)        # an ordinary Python function computing f's gradient
    print(g.source)              # the generated code: primal sweep, then adjoint sweep
    cr.source.show(f, mode="forward")

The function's source is read with `inspect`, normalised (one operation per assignment, exits
turned into flags, loops over `range`), and derivative statements are written for each
assignment from the rule table (`pullback` / `pushforward` in the generated code). Generated
code is plain Python that the transformer accepts again, so derivatives of derivatives work.
Unsupported constructs raise `TransformError` naming the file, line and construct.
`method="source"` on every transform uses this engine.

Examples
--------
Plain Python control flow is transformed as it is written:

>>> import chainrule as cr
>>> import chainrule.numpy as cnp
>>> def f(x):
...     y = x
...     for _ in range(3):
...         if y > 0.5:
...             y = y * cnp.sin(y)
...         else:
...             y = y + x ** 2
...     return y
>>> g = cr.source.grad(f)
>>> print(abs(g(0.9) - cr.grad(f)(0.9)) < 1e-12)
True
>>> print(g.source.splitlines()[0])
def ...
"""
from __future__ import annotations

from .parse import TransformError
from .transforms import grad, hessian, hvp, jacfwd, jacrev, jvp, show, value_and_grad, vjp

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacfwd", "jacrev", "hessian", "hvp", "show",
           "TransformError"]
