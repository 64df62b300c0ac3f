"""The style rules of DESIGN.md hold: ruff over the code, mypy over the kernel."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is installed by the dev extra")
def test_ruff():
    dirs = [d for d in ("src", "tests", "bench", "examples") if (ROOT / d).is_dir()]
    res = subprocess.run(["ruff", "check", *dirs], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_mypy_on_the_kernel():
    pytest.importorskip("mypy")
    res = subprocess.run([sys.executable, "-m", "mypy", "src/chainrule/_core"], cwd=ROOT,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
