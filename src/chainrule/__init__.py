"""chainrule: automatic differentiation in Python, every method and both modes.

Forward and reverse mode, Jacobians, Hessians and derivatives of any order for ordinary NumPy
code, built on one table of primitives and their derivative rules that several interpreters
read. The transforms (`grad`, `value_and_grad`, `vjp`, `jvp`, `linearize`, `jacrev`,
`jacfwd`, `jacobian`, `hessian`, `hvp`, `vmap`, `elementwise_grad`) take `method=` to choose
how a derivative is computed: `"overload"` (the default: a tape and dual numbers), `"graph"`,
`"source"`, `"symbolic"` or `"numeric"`. Around them: `jit` (compile through the expression
graph), `checkpoint` (rematerialisation) and `binomial` (checkpointed loops), `custom_jvp` /
`custom_vjp` (your own rules),
`custom_root` / `fixed_point` (solutions differentiated implicitly),
`jet` / `derivatives` (Taylor mode: many derivatives in one pass),
`stop_gradient`, structured control flow (`cond`, `while_loop`, `fori_loop`, `scan`), and the
eager `Tensor`, PyTorch style (`tensor`, `gradients`, `no_grad`, `enable_grad`).

Subpackages: `chainrule.numpy` (NumPy's namespace, differentiable), `chainrule.scipy`,
`tree` (pytrees), `graph`, `source`, `symbolic`, `numeric` (the engines), `elemental`,
`explain`, `testing` (`check_grads`), and the framework `nn`, `optim`, `data`. The last ones
(and `symbolic`, `numeric`, `elemental`, `explain`, `scipy`) are imported on first use.

Examples
--------
>>> import numpy as np
>>> import chainrule as cr
>>> import chainrule.numpy as cnp
>>> def f(x1, x2):
...     return cnp.log(x1) + x1 * x2 - cnp.sin(x2)
>>> print(cr.grad(f)(2.0, 5.0))                    # reverse mode, d/dx1
5.5
>>> value, tangent = cr.jvp(f, (2.0, 5.0), (1.0, 0.0))   # forward mode, the same partial
>>> print(tangent)
5.5
>>> print(cr.hessian(lambda x: cnp.sum(x ** 3))(np.array([1.0, 2.0])))
[[ 6.  0.]
 [ 0. 12.]]
"""
from __future__ import annotations

from . import numpy  # noqa: A004
from . import ops as _ops  # noqa: F401  (registers every primitive)
from ._core import tree
from ._core.errors import (
                           ChainruleError,
                           ConcretizationError,
                           FreedGraphError,
                           InPlaceError,
                           LeakedTracerError,
                           RuleError,
)
from .numpy._methods import install as _install_methods

_install_methods()

from . import graph, source, testing  # noqa: E402
from .checkpoint import binomial, checkpoint  # noqa: E402
from .custom import custom_jvp, custom_vjp  # noqa: E402
from .graph import revolve as _revolve  # noqa: E402,F401  (runs loops with checkpoint=)
from .graph.jit import jit  # noqa: E402  (the graph engine's compiler, under JAX's name)
from .implicit import custom_root, fixed_point  # noqa: E402
from .ops.control import cond, fori_loop, scan, while_loop  # noqa: E402
from .ops.elementwise import stop_gradient  # noqa: E402
from .overload.tensor import Tensor, enable_grad, gradients, no_grad, tensor  # noqa: E402
from .sparse import jacobian_sparsity, sparse_hessian, sparse_jacobian  # noqa: E402
from .taylor import derivatives, jet  # noqa: E402
from .transforms import (  # noqa: E402
    elementwise_grad,
    grad,
    hessian,
    hvp,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    linearize,
    value_and_grad,
    vjp,
    vmap,
)

__version__ = "0.1.0"

# imported on first use (`cr.symbolic`, `cr.numeric`, `cr.elemental`, `cr.explain`, `cr.nn`,
# `cr.optim`, `cr.data`): not needed to differentiate, and importing chainrule stays quick
_LAZY = {"symbolic": ("chainrule.symbolic", None), "numeric": ("chainrule.numeric", None),
         "elemental": ("chainrule.elemental", None), "explain": ("chainrule.explain", "explain"),
         "nn": ("chainrule.nn", None), "optim": ("chainrule.optim", None),
         "data": ("chainrule.data", None), "scipy": ("chainrule.scipy", None)}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib
        module_name, attr = _LAZY[name]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            raise AttributeError(f"module 'chainrule' has no attribute {name!r} "
                                 f"({module_name} is not installed)") from exc
        value = module if attr is None else getattr(module, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")

__all__ = [
    "grad", "value_and_grad", "vjp", "jvp", "linearize", "jacrev", "jacfwd", "jacobian",
    "hessian", "hvp", "vmap", "elementwise_grad", "jit", "checkpoint", "custom_jvp",
    "custom_vjp", "stop_gradient", "custom_root", "fixed_point", "binomial", "jet", "derivatives",
    "cond", "while_loop", "fori_loop", "scan",
    "jacobian_sparsity", "sparse_jacobian", "sparse_hessian",
    "tensor", "Tensor", "no_grad", "enable_grad", "gradients", "numpy", "tree", "testing", "graph",
    "source", "symbolic", "numeric", "elemental", "explain", "nn", "optim", "data", "scipy",
    "ChainruleError", "ConcretizationError", "FreedGraphError", "InPlaceError",
    "LeakedTracerError", "RuleError",
]
