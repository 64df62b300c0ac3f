import subprocess
import sys

import pytest

from chainrule.cli import main


def test_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "demo" in capsys.readouterr().out


def test_check_prints_both_modes(capsys):
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "5.5000000000" in out and "1.7163378145" in out


def test_console_script_runs():
    res = subprocess.run([sys.executable, "-m", "chainrule.cli", "demo"], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "reverse mode" in res.stdout
