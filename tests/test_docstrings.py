"""The API reference: every public name has a docstring, the core API's are NumPy-style (with
Parameters, Returns and Examples sections), and every example in the package runs (doctest)."""
from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
import re
import warnings

import numpy as np
import pytest

import chainrule as cr

# the packages whose `__all__` (or, without one, whose own public functions and classes) is the
# API; the first group is the core API, whose docstrings must have the NumPy sections
CORE = ["chainrule", "chainrule._core.tree", "chainrule.graph", "chainrule.source",
        "chainrule.symbolic", "chainrule.numeric", "chainrule.nn", "chainrule.nn.functional",
        "chainrule.nn.init", "chainrule.optim", "chainrule.data", "chainrule.testing"]
OTHER = ["chainrule.elemental", "chainrule.numpy", "chainrule.numpy.linalg",
         "chainrule.numpy.fft", "chainrule.scipy", "chainrule.scipy.special",
         "chainrule.scipy.stats", "chainrule.scipy.linalg", "chainrule.scipy.signal",
         "chainrule.scipy.integrate", "chainrule.scipy.optimize", "chainrule.sparse",
         "chainrule.taylor", "chainrule.implicit"]

# (names documented by others than the docstrings' first author: the front's transforms, the
# source engine, the Tensor; they are checked like the rest)
OWNED_ELSEWHERE = {
    "chainrule": {"grad", "value_and_grad", "vjp", "jvp", "linearize", "jacrev", "jacfwd",
                  "jacobian", "hessian", "hvp", "vmap", "elementwise_grad", "Tensor", "tensor",
                  "no_grad", "enable_grad", "gradients", "explain"},
    "chainrule.source": {"grad", "value_and_grad", "vjp", "jvp", "jacfwd", "jacrev", "hessian",
                         "hvp", "show", "TransformError"},
}


def _module(name):
    if name.startswith("chainrule.scipy"):
        pytest.importorskip("scipy")
    return importlib.import_module(name)


def _public(module):
    """(name, object) of a module's public callables: its `__all__`, else (and for
    chainrule.numpy, whose `__all__` is NumPy's, reached through its `__getattr__`) the public
    names of its namespace; without `__all__`, only the functions and classes it defines."""
    names = getattr(module, "__all__", None)
    own = names is None or module.__name__ == "chainrule.numpy"
    if own:
        names = [n for n in vars(module) if not n.startswith("_")]
    out = []
    for n in names:
        obj = getattr(module, n, None)
        if obj is None or inspect.ismodule(obj) or not callable(obj):
            continue  # (subpackages are checked as modules; constants have no docstring)
        if (own and module.__name__ != "chainrule.numpy"
                and getattr(obj, "__module__", None) != module.__name__):
            continue  # (imported from elsewhere)
        out.append((n, obj))
    return out


def _chainrule_callables(module):
    return [(n, o) for n, o in _public(module)
            if str(getattr(o, "__module__", "")).startswith("chainrule")]


@pytest.mark.parametrize("modname", CORE + OTHER)
def test_every_public_name_has_a_docstring(modname):
    module = _module(modname)
    assert (module.__doc__ or "").strip(), f"{modname} has no module docstring"
    missing = [n for n, o in _chainrule_callables(module) if not (inspect.getdoc(o) or "").strip()]
    assert not missing, f"{modname}: no docstring for {missing}"


def test_numpys_pass_throughs_say_what_they_are():
    import chainrule.numpy as cnp
    for name in ("polyfit", "histogram", "bincount"):
        doc = getattr(cnp, name).__doc__
        assert f"numpy.{name}" in doc and "NotImplementedError" in doc
    for name in ("sin", "reshape", "tile", "floor", "linalg.det"):
        obj = cnp
        for part in name.split("."):
            obj = getattr(obj, part)
        assert f"numpy.{name}" in obj.__doc__


def _sections(doc):
    return set(re.findall(r"^(\w[\w ]*)\n-+$", doc, re.MULTILINE))


def _takes_parameters(obj):
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return False
    if inspect.isclass(obj):
        # the parameters of a class are its `__init__`'s, as the reference site shows them
        # (griffe merges `__init__` into the class, not `__new__`): a class whose `__init__`
        # comes from outside chainrule (an exception's (*args), an ndarray subclass, a class
        # built by `__new__`) documents none in a Parameters section
        maker = next(c for c in obj.__mro__ if "__init__" in vars(c))
        if not str(maker.__module__).startswith("chainrule"):
            return False
        sig = inspect.signature(maker.__init__)
    return any(p.name not in ("self", "cls") for p in sig.parameters.values())


def _core_names():
    out = []
    for modname in CORE:
        module = _module(modname)
        for n, o in _chainrule_callables(module):
            out.append(pytest.param(modname, n, o, id=f"{modname}.{n}"))
    return out


@pytest.mark.parametrize("modname, name, obj", _core_names())
def test_the_core_api_is_documented_numpy_style(modname, name, obj):
    doc = inspect.getdoc(obj) or ""
    found = _sections(doc)
    want = {"Examples"}
    if _takes_parameters(obj):
        want.add("Parameters")
    if not inspect.isclass(obj):
        want.add("Returns")
    lacking = want - found
    owner = " (documented by another author)" if name in OWNED_ELSEWHERE.get(modname, ()) \
        else ""
    assert not lacking, f"{modname}.{name}{owner}: no {sorted(lacking)} section"
    if "Examples" in found:
        assert ">>> " in doc.split("Examples\n--------", 1)[1], f"{name}: an example to run"


def test_documented_parameters_are_the_signatures():
    """A name in a Parameters section that the signature lacks is a mistake (and a warning of
    the reference site's build)."""
    bad = []
    for modname in CORE:
        for n, o in _chainrule_callables(_module(modname)):
            doc = inspect.getdoc(o) or ""
            if "Parameters\n----------" not in doc:
                continue
            try:
                sig = inspect.signature(o)
            except (TypeError, ValueError):
                continue
            block = doc.split("Parameters\n----------\n", 1)[1]
            block = re.split(r"\n\n\w[\w ]*\n-+\n", block, maxsplit=1)[0]
            for line in block.splitlines():
                m = re.match(r"^(\*{0,2}[A-Za-z_][\w, *]*?) :", line)
                if not m:
                    continue
                for pname in (p.strip().lstrip("*") for p in m.group(1).split(",")):
                    if pname and pname not in sig.parameters:
                        bad.append(f"{modname}.{n}: {pname}")
    assert not bad, bad


# ---------------------------------------------------------------------------------------------
# the examples run

def _modules():
    names = ["chainrule"]
    for info in pkgutil.walk_packages(cr.__path__, "chainrule."):
        names.append(info.name)
    return sorted(names)


@pytest.fixture()
def printing():
    saved = np.get_printoptions()
    np.set_printoptions(legacy=False)  # NumPy's own defaults, whatever a test set before
    try:
        yield
    finally:
        np.set_printoptions(**saved)


@pytest.mark.parametrize("modname", _modules())
def test_the_examples_run(modname, printing):
    if modname.startswith("chainrule.scipy"):
        pytest.importorskip("scipy")
    try:
        module = importlib.import_module(modname)
    except ImportError as exc:  # an optional dependency the module needs
        pytest.skip(f"{modname}: {exc}")
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(
        optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS, verbose=False)
    failures = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # (an example may leave out `import numpy as np` and `import chainrule as cr`, as
        # tensor.py's module docstring says its examples do)
        globs = dict(vars(module))
        globs.setdefault("np", np)
        globs.setdefault("cr", cr)
        for test in finder.find(module, modname, globs=globs):
            out = []
            result = runner.run(test, out=out.append)
            if result.failed:
                failures.append("".join(out))
    assert not failures, "\n".join(failures)
