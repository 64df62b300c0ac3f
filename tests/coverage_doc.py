"""docs/coverage.md, written from the code: which listed NumPy/SciPy names chainrule
differentiates, and the primitive table with the rules each primitive has
(`python tests/coverage_doc.py --write`; tests/test_coverage_doc.py checks it is current)."""
from __future__ import annotations

import importlib
import pathlib
import sys
from collections import defaultdict

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = pathlib.Path(__file__).resolve().parent / "data"
PAGE = ROOT / "docs" / "coverage.md"


def _sections() -> dict[str, list[str]]:
    """The lists' names by module: numpy_coverage.txt (chainrule.numpy, dotted names for its
    submodules) and scientific_coverage.txt ([module] sections)."""
    out: dict[str, list[str]] = defaultdict(list)
    for line in (DATA / "numpy_coverage.txt").read_text().splitlines():
        name = line.split("#")[0].strip()
        if name:
            module, _, leaf = ("chainrule.numpy." + name).rpartition(".")
            out[module].append(leaf)
    module = ""
    for line in (DATA / "scientific_coverage.txt").read_text().splitlines():
        text = line.split("#")[0].strip()
        if text.startswith("[") and text.endswith("]"):
            module = text[1:-1]
        elif text and module:
            out[module].extend(text.split())
    return out


def _differentiable(module: str, name: str) -> bool:
    """Present as chainrule's own function, not NumPy's refusing pass-through."""
    try:
        obj = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return False
    return getattr(obj, "__name__", "") != "passthrough"


def render() -> str:
    import chainrule  # noqa: F401  (registers the primitives)
    import chainrule.scipy  # noqa: F401
    from chainrule._core.primitive import REGISTRY
    from chainrule._core.rules import CUSTOM_RULES

    def library(p: object) -> bool:  # (not a primitive a test registered for itself)
        rule = p.jvp or p.batch or p.impl  # type: ignore[attr-defined]
        return (getattr(rule, "__module__", "") or "").startswith("chainrule.")

    prims = {name: p for name, p in REGISTRY.items() if library(p)}

    lines = ["# Coverage", "",
             "Generated from the code by `python tests/coverage_doc.py --write` (a test keeps it",
             "current). The lists are the project's coverage lists, shipped in `tests/data/`.", ""]
    sections = _sections()
    total = have = 0
    lines += ["| module | differentiable | names |", "|---|---|---|"]
    for module in sorted(sections):
        names = sorted(set(sections[module]))
        ok = [n for n in names if _differentiable(module, n)]
        total += len(names)
        have += len(ok)
        missing = [n for n in names if n not in ok]
        shown = ", ".join(f"`{n}`" for n in ok)
        if missing:
            shown += " — not yet: " + ", ".join(f"`{n}`" for n in missing)
        lines.append(f"| `{module}` | {len(ok)}/{len(names)} | {shown} |")
    lines += ["", f"In all, {have} of {total} listed names.", "",
              "## Primitives", "",
              f"{len(prims)} primitives, each with its rules (JVP; VJP or transpose, else the "
              "VJP derived from the JVP; batching; custom forward/backward for call primitives):",
              "", "| primitive | family | jvp | reverse | batch |", "|---|---|---|---|---|"]
    for name in sorted(prims):
        p = prims[name]
        rule = p.jvp or p.batch
        family = (getattr(rule, "__module__", "") or "").replace("chainrule.", "")
        if p.nondiff:
            reverse = "none (piecewise constant)"
        elif p.vjp is not None:
            reverse = "vjp"
        elif p.transpose is not None:
            reverse = "transpose"
        elif p in CUSTOM_RULES and CUSTOM_RULES[p].bwd is not None:
            reverse = "custom"
        else:
            reverse = "derived from jvp"
        lines.append(f"| `{name}` | {family} | {'yes' if p.jvp else '-'} | {reverse} | "
                     f"{'yes' if p.batch else '-'} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if "--write" in sys.argv:
        PAGE.write_text(render())
    else:
        sys.stdout.write(render())
