"""Exception classes of chainrule. Each message names what went wrong and how to fix it; and
how an engine finds the user's line an error came from (`traceback_lines`, `in_library`,
`where`).

Every exception chainrule raises on its own account derives from `ChainruleError`; most also
derive from the built-in exception a Python programmer would expect (`TypeError`,
`NotImplementedError`, `RuntimeError`), so either may be caught.

Examples
--------
>>> import chainrule as cr
>>> issubclass(cr.ConcretizationError, TypeError), issubclass(cr.RuleError, cr.ChainruleError)
(True, True)
"""
from __future__ import annotations

import linecache
import os
from types import FrameType

import numpy as np

#: chainrule's own directory, and NumPy's (whose frames are never the user's code either)
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__))


class ChainruleError(Exception):
    """Base class of chainrule's own exceptions.

    Examples
    --------
    >>> import chainrule as cr
    >>> errors = (cr.RuleError, cr.ConcretizationError, cr.InPlaceError, cr.FreedGraphError)
    >>> all(issubclass(e, cr.ChainruleError) for e in errors)
    True
    """


class RuleError(NotImplementedError, ChainruleError):
    """A primitive has no rule for the requested interpreter (forward, reverse, batching).

    A subclass of `NotImplementedError`.

    Parameters
    ----------
    prim_name : str
        The primitive's name.
    mode : str
        `"forward"`, `"reverse"` or `"batching"`.
    hint : str, optional
        More advice, appended to the message.

    Examples
    --------
    >>> import chainrule as cr
    >>> print(cr.RuleError("my_op", "reverse"))
    no reverse-mode rule for primitive 'my_op': define one with def_rule(my_op_p, vjp=...)
    """

    def __init__(self, prim_name: str, mode: str, hint: str = "") -> None:
        kw = {"forward": "jvp", "reverse": "vjp", "batching": "batch"}.get(mode, mode)
        msg = (f"no {mode}-mode rule for primitive '{prim_name}': define one with "
               f"def_rule({prim_name}_p, {kw}=...)")
        super().__init__(msg + (f"; {hint}" if hint else ""))
        self.prim_name = prim_name
        self.mode = mode


class ConcretizationError(TypeError, ChainruleError):
    """A traced value was asked for a concrete Python value (bool, float, NumPy array).

    Raised, for instance, by Python control flow on a value an abstract interpreter (a graph being
    traced, `method="graph"`) has no number for. A subclass of `TypeError`.

    Examples
    --------
    >>> import chainrule as cr
    >>> f = lambda x: x if x > 0 else -x
    >>> try:
    ...     cr.grad(f, method="graph")(1.0)
    ... except cr.ConcretizationError:
    ...     print("use cr.cond")
    use cr.cond
    """


class LeakedTracerError(ChainruleError):
    """A traced value escaped the transform that created it and was used after it ended.

    Examples
    --------
    >>> import chainrule as cr
    >>> leaked = []
    >>> _ = cr.grad(lambda x: leaked.append(x) or x * 2.0)(1.0)
    >>> try:
    ...     leaked[0] + 1.0
    ... except cr.LeakedTracerError:
    ...     print("leaked")
    leaked
    """


class InPlaceError(TypeError, ChainruleError):
    """In-place mutation of a traced array, which would silently lose derivatives.

    Use a functional update instead (`cnp.at(x)[i].set(v)`). A subclass of `TypeError`.

    Examples
    --------
    >>> import numpy as np
    >>> import chainrule as cr
    >>> def f(x):
    ...     x[0] = 0.0
    ...     return x.sum()
    >>> try:
    ...     cr.grad(f)(np.ones(2))
    ... except cr.InPlaceError:
    ...     print("use cnp.at")
    use cnp.at
    """


class TracerConversionError(InPlaceError, ConcretizationError):
    """A traced value reached NumPy as a plain number or array.

    NumPy asks for one both when the value is converted (float(x), np.asarray(x)) and when it is
    written into a NumPy array (y[i] = x), and the two cannot be told apart there, so this is both
    an InPlaceError and a ConcretizationError, and its message names both ways out.

    Examples
    --------
    >>> import chainrule as cr
    >>> try:
    ...     cr.grad(lambda x: float(x))(1.0)
    ... except cr.ConcretizationError as exc:
    ...     print(isinstance(exc, cr.InPlaceError))
    True
    """


class FreedGraphError(RuntimeError, ChainruleError):
    """backward() reached a part of the graph whose saved values were already freed.

    Pass `retain_graph=True` to the first `backward()` to go through the graph twice. A subclass
    of `RuntimeError`.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor(2.0, requires_grad=True)
    >>> y = x * x
    >>> y.backward()
    >>> try:
    ...     y.backward()
    ... except cr.FreedGraphError:
    ...     print("freed")
    freed
    """


class RegistrationError(ChainruleError):
    """A primitive or pytree type was registered twice, or a rule was defined twice.

    Examples
    --------
    >>> import chainrule as cr
    >>> class Node:
    ...     pass
    >>> _ = cr.tree.register(Node, lambda n: ((), None), lambda aux, ch: Node())
    >>> try:
    ...     cr.tree.register(Node, lambda n: ((), None), lambda aux, ch: Node())
    ... except cr.tree.RegistrationError as exc:
    ...     print(exc)
    Node is already registered as a pytree node
    """


def traceback_lines(exc: BaseException) -> list[tuple[FrameType, int, str]]:
    """The frames an exception went through, with their lines.

    Outermost first, each with its line number and the text of that line (stripped; "" where
    the source is not known). Engines read it to name the user's line: the last frame outside
    chainrule (symbolic), or the user line that a statement of generated code was written for
    (source).

    Parameters
    ----------
    exc : BaseException
        The exception (with its traceback).

    Returns
    -------
    list of tuple
        `(frame, lineno, text)` per frame.
    """
    out = []
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        out.append((tb.tb_frame, tb.tb_lineno, linecache.getline(filename, tb.tb_lineno).strip()))
        tb = tb.tb_next
    return out


def in_library(filename: str, numpy: bool = True) -> bool:
    """Whether a source file is chainrule's own (or, with `numpy`, NumPy's): not the user's.

    Parameters
    ----------
    filename : str
        The file.
    numpy : bool, optional
        Count NumPy's files as library files too.

    Returns
    -------
    bool
        True for a library file.

    Examples
    --------
    >>> import chainrule.numpy
    >>> from chainrule._core.errors import in_library
    >>> in_library(chainrule.numpy.__file__), in_library("my_script.py")
    (True, False)
    """
    path = os.path.abspath(filename)
    return path.startswith(PACKAGE_DIR) or (numpy and path.startswith(NUMPY_DIR))


def where(filename: str, lineno: int, text: str = "") -> str:
    """How an error names a line of the user's code: `file, line N `code``.

    Parameters
    ----------
    filename : str
        The file.
    lineno : int
        The line number.
    text : str, optional
        The line's code.

    Returns
    -------
    str
        The description.

    Examples
    --------
    >>> from chainrule._core.errors import where
    >>> where("model.py", 12, "  y = f(x) ")
    'model.py, line 12 `y = f(x)`'
    """
    return f"{filename}, line {lineno}" + (f" `{text.strip()}`" if text.strip() else "")
