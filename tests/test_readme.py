"""Every Python example in README.md and docs/*.md runs and its assertions hold. A Python block
followed directly by a ```text block must print exactly that text."""
import linecache
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
_BLOCK = re.compile(r"```python\n(.*?)```(?:\s*\n```text\n(.*?)```)?", flags=re.S)
README_BLOCKS = [(m.group(1), m.group(2)) for m in _BLOCK.finditer(README.read_text())]
BLOCKS = [code for code, _ in README_BLOCKS]
DOC_BLOCKS = [(doc.name, m.group(1), m.group(2)) for doc in DOCS
              for m in _BLOCK.finditer(doc.read_text())]


def _run(code: str, filename: str) -> None:
    # registered like a file, so that inspect can read the example's functions (cr.source)
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    exec(compile(code, filename, "exec"), {"__name__": "docs_example"})


def test_readme_has_examples():
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("code,printed", README_BLOCKS,
                         ids=[f"example{i}" for i in range(len(BLOCKS))])
def test_readme_example(code, printed, capsys):
    capsys.readouterr()
    _run(code, f"<README.md example {BLOCKS.index(code)}>")
    if printed is not None:
        assert capsys.readouterr().out.rstrip("\n") == printed.rstrip("\n")


@pytest.mark.parametrize("name,code,printed", DOC_BLOCKS,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(DOC_BLOCKS)])
def test_docs_example(name, code, printed, capsys):
    index = [c for n, c, _ in DOC_BLOCKS if n == name].index(code)
    capsys.readouterr()
    _run(code, f"<{name} example {index}>")
    if printed is not None:
        assert capsys.readouterr().out.rstrip("\n") == printed.rstrip("\n")


def test_readme_and_docs_render_as_commonmark():
    """Rendered by a CommonMark parser, no heading sits inside a code block (a closing fence
    followed by text is not a closing fence) and every section heading is a heading."""
    from markdown_it import MarkdownIt

    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text()
        tokens = MarkdownIt("commonmark").parse(text)
        for tok in tokens:
            if tok.type in ("fence", "code_block"):
                inside = [ln for ln in tok.content.splitlines() if ln.startswith("## ")]
                assert not inside, f"{path.name}: a heading inside a code block: {inside[0]!r}"
        headings = sum(1 for tok in tokens if tok.type == "heading_open" and tok.tag == "h2")
        fenced = False
        written = 0
        for line in text.splitlines():
            if line.startswith("```"):
                fenced = not fenced
            elif not fenced and line.startswith("## "):
                written += 1
        assert headings == written, f"{path.name}: {written} '## ' lines, {headings} headings"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def test_readme_links_resolve():
    """The table of contents names real sections, and every relative link a real file."""
    text = README.read_text()
    anchors = {_slug(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.M)}
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert any(link.startswith("#") for link in links)
    for link in links:
        if link.startswith(("http://", "https://")):
            continue
        if link.startswith("#"):
            assert link[1:] in anchors, f"README links to #{link[1:]}, not a heading"
        else:
            assert (ROOT / link.split("#")[0]).exists(), f"README links to missing {link}"
