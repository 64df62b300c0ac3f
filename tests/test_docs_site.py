"""The documentation site (mkdocs.yml: the guides in docs/, the API reference rendered from the
docstrings by mkdocstrings) builds with `mkdocs build --strict` and no warning, every internal
link and anchor of the built site resolves, every reference page rendered documentation, and no
page of docs/ is left out of the navigation."""
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CONFIG = ROOT / "mkdocs.yml"

# one public name per reference page (the id mkdocstrings gives its heading): a page whose
# directive silently rendered nothing fails here, not only in a reader's browser
EXPECTED_IDS = {
    "reference/chainrule": [
        f"chainrule.{name}" for name in [
            "grad", "value_and_grad", "vjp", "jvp", "linearize", "jacrev", "jacfwd", "jacobian",
            "hessian", "hvp", "vmap", "elementwise_grad", "jit", "custom_jvp", "custom_vjp",
            "stop_gradient", "cond", "while_loop", "fori_loop", "scan", "Tensor", "tensor",
            "no_grad", "enable_grad", "gradients", "ChainruleError", "ConcretizationError",
            "FreedGraphError", "InPlaceError", "LeakedTracerError", "RuleError", "jet",
            "derivatives", "custom_root", "fixed_point", "jacobian_sparsity", "sparse_jacobian",
            "sparse_hessian"]
    ] + ["chainrule.checkpoint.checkpoint"],
    "reference/tree": ["chainrule.tree.flatten", "chainrule.tree.unflatten",
                       "chainrule.tree.register_dataclass"],
    "reference/numpy": ["chainrule.numpy.sum", "chainrule.numpy.einsum"],
    "reference/numpy-linalg": ["chainrule.numpy.linalg.solve", "chainrule.numpy.linalg.eigh"],
    "reference/numpy-fft": ["chainrule.numpy.fft.fft", "chainrule.numpy.fft.rfft"],
    "reference/scipy": ["chainrule.scipy.special", "chainrule.scipy.special.gammaln",
                        "chainrule.scipy.stats", "chainrule.scipy.linalg.expm",
                        "chainrule.scipy.signal.convolve",
                        "chainrule.scipy.integrate.trapezoid", "chainrule.scipy.integrate.odeint",
                        "chainrule.scipy.integrate.solve_ivp",
                        "chainrule.scipy.optimize.minimize"],
    "reference/graph": ["chainrule.graph.trace.trace", "chainrule.graph.Graph",
                        "chainrule.graph.jit.jit"],
    "reference/source": ["chainrule.source.grad", "chainrule.source.show"],
    "reference/distributed": ["chainrule.distributed.value_and_grad",
                              "chainrule.distributed.chunk_batches"],
    "reference/symbolic": ["chainrule.symbolic.diff.diff", "chainrule.symbolic.lambdify.lambdify",
                           "chainrule.symbolic.Expr"],
    "reference/numeric": ["chainrule.numeric.derivative", "chainrule.numeric.error_curve"],
    "reference/nn": ["chainrule.nn.Module", "chainrule.nn.Linear", "chainrule.nn.cross_entropy"],
    "reference/optim": ["chainrule.optim.Adam", "chainrule.optim.clip_grad_norm"],
    "reference/data": ["chainrule.data.DataLoader", "chainrule.data.train_test_split"],
    "reference/testing": ["chainrule.testing.check_grads"],
    "reference/elemental": ["chainrule.elemental.PRIMITIVES"],
    "reference/explain": ["chainrule.explain.explain", "chainrule.explain.Explanation"],
}
# and the text of a few docstrings, as the reader sees it
EXPECTED_TEXT = {
    "reference/chainrule": ["argnums", "has_aux"],
    "reference/elemental": ["elemental"],
}


def _nav_pages(nav):
    """The Markdown files named in mkdocs.yml's nav, in order."""
    if isinstance(nav, str):
        return [nav] if not re.match(r"^[a-z]+://", nav) else []
    if isinstance(nav, list):
        return [page for item in nav for page in _nav_pages(item)]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in _nav_pages(value)]
    return []


def _config():
    yaml = pytest.importorskip("yaml", reason="PyYAML (installed with mkdocs) is needed")
    return yaml.safe_load(CONFIG.read_text())


def test_every_docs_page_is_in_nav():
    """A page of docs/ that nav does not name is unreachable from the site's menus."""
    nav = _nav_pages(_config()["nav"])
    pages = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))
    missing = [p for p in pages if p not in nav]
    assert not missing, f"docs pages not in mkdocs.yml's nav: {missing}"
    absent = [p for p in nav if p not in pages]
    assert not absent, f"mkdocs.yml's nav names pages that do not exist: {absent}"
    assert len(nav) == len(set(nav)), "a page appears twice in nav"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    for module in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python"):
        pytest.importorskip(module, reason=f"{module} is not installed (pip install -e '.[dev]')")
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", NO_COLOR="1")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(CONFIG),
         "--site-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    return proc, out


def test_site_builds_strict_without_warnings(site):
    proc, out = site
    log = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    hint = ("\n(griffe, mkdocstrings' loader, does not see the modules of a folder without an "
            "__init__.py, nor a function that a submodule of the same name shadows: name the "
            "function by its defining module in docs/reference/)"
            if "Could not resolve alias" in log or "could not be found" in log else "")
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{log[-6000:]}{hint}"
    warnings = [ln for ln in log.splitlines() if re.match(r"\s*(WARNING|ERROR)\b", ln)]
    assert not warnings, "mkdocs build printed warnings:\n" + "\n".join(warnings)
    assert (out / "index.html").is_file()


class _Page(HTMLParser):
    """The ids (and old-style anchor names) a page defines and the URLs it refers to."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.refs: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if name == "id" or (tag == "a" and name == "name"):
                self.ids.add(value)
            elif name in ("href", "src"):
                self.refs.append(value)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _html_pages(out: Path) -> dict[Path, _Page]:
    # 404.html is served at whatever URL was not found, so its relative links mean nothing
    return {p: _parse(p) for p in sorted(out.rglob("*.html")) if p.name != "404.html"}


def test_internal_links_and_anchors_resolve(site):
    proc, out = site
    assert proc.returncode == 0, "the site did not build (see the strict build test)"
    pages = _html_pages(out)
    assert len(pages) >= 10
    broken = []
    for path, page in pages.items():
        for ref in page.refs:
            parts = urlsplit(ref)
            if parts.scheme or parts.netloc or ref.startswith(("mailto:", "javascript:")):
                continue                       # external: not this site's business
            if parts.path.startswith("/"):
                broken.append(f"{path.relative_to(out)}: absolute link {ref!r}")
                continue
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            where = f"{path.relative_to(out)}: {ref!r}"
            if not target.is_file():
                broken.append(f"{where} (no file {target})")
                continue
            if not target.is_relative_to(out.resolve()):
                broken.append(f"{where} (outside the site)")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else _parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{where} (no id {parts.fragment!r} in "
                                  f"{target.relative_to(out.resolve())})")
    assert not broken, f"{len(broken)} broken internal links:\n" + "\n".join(broken[:50])


def test_reference_pages_render_documentation(site):
    proc, out = site
    assert proc.returncode == 0, "the site did not build (see the strict build test)"
    reference = sorted(p.relative_to(DOCS).with_suffix("").as_posix()
                       for p in (DOCS / "reference").glob("*.md") if p.name != "index.md")
    assert sorted(EXPECTED_IDS) == reference, "a reference page without expected names here"
    problems = []
    for name in reference:
        html_path = out / name / "index.html"
        source = (DOCS / f"{name}.md").read_text()
        directives = re.findall(r"^::: *(\S+)", source, flags=re.M)
        assert directives, f"{name}.md has no mkdocstrings directive"
        html = html_path.read_text(encoding="utf-8")
        page = _parse(html_path)
        rendered = html.count('class="doc doc-object')
        if rendered < len(directives):
            problems.append(f"{name}: {len(directives)} directives, {rendered} rendered objects")
        for ident in EXPECTED_IDS[name]:
            if ident not in page.ids:
                problems.append(f"{name}: no documentation of {ident}")
        text = re.sub(r"<[^>]+>", " ", html)
        for word in EXPECTED_TEXT.get(name, []):
            if word not in text:
                problems.append(f"{name}: the text {word!r} does not appear")
    assert not problems, "\n".join(problems)
