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


def test_console_script_runs_a_short_demo(tmp_path):
    # the whole demo (30 epochs, accuracy >= 0.97) is README's command; here two epochs
    res = subprocess.run([sys.executable, "-m", "chainrule.cli", "demo", "--epochs", "2",
                          "--out", str(tmp_path), "--quiet"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert "final test accuracy" in res.stdout
    assert "methods agree to 1e-10: yes" in res.stdout
    assert (tmp_path / "digits-mlp.png").stat().st_size > 10_000


def test_demo_reaches_its_accuracy(tmp_path, capsys):
    # README's main command, as it runs: the MLP's test accuracy must reach 0.97
    assert main(["demo", "--out", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("final test accuracy: ")[1].split()[0])
    assert accuracy >= 0.97, out


def test_swell_prints_the_table_and_saves_plots(tmp_path, capsys):
    png, err = tmp_path / "swell.png", tmp_path / "err.png"
    assert main(["swell", "--n", "4", "--png", str(png), "--error-png", str(err)]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [int(r[0]) for r in rows] == [1, 2, 3, 4]
    tree, dag, ad = [int(r[2]) for r in rows], [int(r[4]) for r in rows], [int(r[6]) for r in rows]
    assert tree[-1] > 4 * dag[-1] and dag[-1] < 2 * ad[-1]  # the tree swells, the DAG does not
    assert png.stat().st_size > 10_000 and err.stat().st_size > 10_000


def test_demo_cnn_reaches_its_accuracy(tmp_path, capsys):
    # `chainrule demo --model cnn` (40 epochs, about 25 s): test accuracy at least 0.975
    assert main(["demo", "--model", "cnn", "--out", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("final test accuracy: ")[1].split()[0])
    assert accuracy >= 0.975, out
    assert (tmp_path / "digits-cnn.png").stat().st_size > 10_000
