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
