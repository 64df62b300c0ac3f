"""Exception classes of chainrule. Each message names what went wrong and how to fix it; and
how an engine finds the user's line an error came from (`traceback_lines`, `in_library`,
`where`)."""
from __future__ import annotations

import linecache
import os
from types import FrameType

import numpy as np

#: chainrule's own directory, and NumPy's (whose frames are never the user's code either)
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__))


class ChainruleError(Exception):
    """Base class of chainrule's own exceptions."""


class RuleError(NotImplementedError, ChainruleError):
    """A primitive has no rule for the requested interpreter (forward, reverse, batching)."""

    def __init__(self, prim_name: str, mode: str, hint: str = "") -> None:
        kw = {"forward": "jvp", "reverse": "vjp", "batching": "batch"}.get(mode, mode)
        msg = (f"no {mode}-mode rule for primitive '{prim_name}': define one with "
               f"def_rule({prim_name}_p, {kw}=...)")
        super().__init__(msg + (f"; {hint}" if hint else ""))
        self.prim_name = prim_name
        self.mode = mode


class ConcretizationError(TypeError, ChainruleError):
    """A traced value was asked for a concrete Python value (bool, float, NumPy array)."""


class LeakedTracerError(ChainruleError):
    """A traced value escaped the transform that created it and was used after it ended."""


class InPlaceError(TypeError, ChainruleError):
    """In-place mutation of a traced array, which would silently lose derivatives."""


class TracerConversionError(InPlaceError, ConcretizationError):
    """A traced value reached NumPy as a plain number or array. NumPy asks for one both when the
    value is converted (float(x), np.asarray(x)) and when it is written into a NumPy array
    (y[i] = x), and the two cannot be told apart there, so this is both an InPlaceError and a
    ConcretizationError, and its message names both ways out."""


class FreedGraphError(RuntimeError, ChainruleError):
    """backward() reached a part of the graph whose saved values were already freed."""


class RegistrationError(ChainruleError):
    """A primitive or pytree type was registered twice, or a rule was defined twice."""


def traceback_lines(exc: BaseException) -> list[tuple[FrameType, int, str]]:
    """The frames an exception went through, outermost first, each with its line number and the
    text of that line (stripped; "" where the source is not known). Engines read it to name the
    user's line: the last frame outside chainrule (symbolic), or the user line that a statement
    of generated code was written for (source)."""
    out = []
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        out.append((tb.tb_frame, tb.tb_lineno, linecache.getline(filename, tb.tb_lineno).strip()))
        tb = tb.tb_next
    return out


def in_library(filename: str, numpy: bool = True) -> bool:
    """Whether a source file is chainrule's own (or, with `numpy`, NumPy's): not the user's."""
    path = os.path.abspath(filename)
    return path.startswith(PACKAGE_DIR) or (numpy and path.startswith(NUMPY_DIR))


def where(filename: str, lineno: int, text: str = "") -> str:
    """How an error names a line of the user's code: `file, line N `code``."""
    return f"{filename}, line {lineno}" + (f" `{text.strip()}`" if text.strip() else "")
