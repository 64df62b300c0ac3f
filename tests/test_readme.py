"""Every Python example in README.md runs and its assertions hold."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
DOC_BLOCKS = [(doc.name, block) for doc in DOCS
              for block in re.findall(r"```python\n(.*?)```", doc.read_text(), flags=re.S)]


def test_readme_has_examples():
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("code", BLOCKS, ids=[f"example{i}" for i in range(len(BLOCKS))])
def test_readme_example(code):
    exec(compile(code, str(README), "exec"), {"__name__": "readme_example"})


@pytest.mark.parametrize("name,code", DOC_BLOCKS,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(DOC_BLOCKS)])
def test_docs_example(name, code, capsys):
    exec(compile(code, name, "exec"), {"__name__": "docs_example"})
