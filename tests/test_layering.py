"""The package's layers (tests/layering.py): no import cycle, no upward or sideways import beyond
the documented arrows, no engine calling the public front back, and imports inside functions only
where the allow-list says why. The architecture page's diagram is regenerated from the code."""
from __future__ import annotations

import importlib

import pytest

import layering

IMPORTS = layering.Imports()


def test_the_analysis_sees_the_package():
    # (a checker that read nothing would pass everything)
    assert len(IMPORTS.files) > 60
    assert "chainrule.overload.tape" in IMPORTS.edges["chainrule.overload.transforms"]
    assert "chainrule.overload.transforms" in IMPORTS.edges["chainrule.transforms"]


def test_every_unit_has_a_layer():
    for module in IMPORTS.files:
        layering.layer_of(layering.unit(module))


def test_no_import_cycle_between_units():
    assert layering.cycles(IMPORTS.unit_edges()) == []


def test_no_import_cycle_between_modules():
    """Within a unit too; only `ops` is one table split by family (each family's rules are
    written with the others' primitives), loaded in a fixed order by ops/__init__.py."""
    found = [c for c in layering.cycles(IMPORTS.edges)
             if {layering.unit(m) for m in c} != {"ops"}]
    assert found == []


def test_every_import_goes_down_the_layers():
    assert layering.violations(IMPORTS) == []


def test_no_engine_calls_the_front():
    engines = {"overload", "graph", "source", "symbolic", "numeric"}
    back = [(a, b) for a, bs in IMPORTS.edges.items() for b in bs
            if layering.unit(a) in engines and b == "chainrule.transforms"]
    assert back == []


def test_the_sideways_arrows_are_used():
    # (an allowance nobody needs any more is removed, so the page stays true)
    used = {(layering.unit(a), layering.unit(b)) for a, bs in IMPORTS.edges.items() for b in bs}
    assert set(layering.SIDEWAYS) <= used


def test_imports_inside_functions_are_listed_and_few():
    found = {(m, t) for m, t, _ in IMPORTS.in_function}
    unlisted = sorted(f"{m}:{line} -> {t}" for m, t, line in IMPORTS.in_function
                      if (m, t) not in layering.IN_FUNCTION)
    assert unlisted == []
    assert set(layering.IN_FUNCTION) <= found, "an allow-list entry no longer needed"
    assert len(IMPORTS.in_function) <= layering.MAX_IN_FUNCTION


def test_imports_by_name_go_down_the_layers():
    """The two places that import by a computed name: the front's engine registry and the
    package's lazy attributes."""
    import chainrule
    from chainrule import transforms

    front = layering.layer_of("transforms")
    for method, name in transforms.ENGINES.items():
        module = importlib.import_module(name)
        assert layering.layer_of(layering.unit(name)) < front, method
        assert module.CAPABILITIES.name == method
    top = layering.layer_of("chainrule")
    for module_name, _ in chainrule._LAZY.values():
        assert layering.layer_of(layering.unit(module_name)) < top, module_name


@pytest.mark.parametrize("method", ["overload", "graph", "source", "symbolic", "numeric"])
def test_each_engine_declares_what_it_offers(method):
    from chainrule import transforms

    module = importlib.import_module(transforms.ENGINES[method])
    for name in module.CAPABILITIES.transforms:
        assert callable(getattr(module, name)), f"{method} declares {name} but lacks it"


def test_the_architecture_diagram_is_current():
    want = layering.diagram(IMPORTS)
    assert layering.current_doc_diagram() == want, (
        "docs/architecture.md is stale: run `python tests/layering.py --write`")


def test_the_checker_finds_what_it_forbids(tmp_path, monkeypatch):
    """A cycle, an upward import and an unlisted in-function import, in a throwaway package."""
    pkg = tmp_path / "chainrule"
    (pkg / "_core").mkdir(parents=True)
    (pkg / "ops").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "_core" / "__init__.py").write_text("")
    (pkg / "ops" / "__init__.py").write_text("")
    (pkg / "_core" / "a.py").write_text("from ..ops import b\n")
    (pkg / "ops" / "b.py").write_text("def f():\n    from .._core import a\n")
    monkeypatch.setattr(layering, "PACKAGE", pkg)
    seen = layering.Imports()
    assert layering.cycles(seen.unit_edges()) == [["_core", "ops"]]
    assert any("upward" in v for v in layering.violations(seen))
    assert [(m, t) for m, t, _ in seen.in_function] == [("chainrule.ops.b", "chainrule._core.a")]
