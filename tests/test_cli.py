import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from chainrule.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent


def test_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "demo" in capsys.readouterr().out


def _subcommands():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return parser, sub.choices


def test_every_option_has_help_stating_its_default():
    parser, commands = _subcommands()
    assert set(commands) == {"demo", "check", "explain", "graph", "swell"}
    checked = 0
    for name, sub in [("chainrule", parser), *commands.items()]:
        formatter = sub._get_formatter()
        for action in sub._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            where = f"{name} {'/'.join(action.option_strings) or action.dest}"
            assert action.help and action.help.strip(), f"{where}: no help"
            text = formatter._expand_help(action)
            if not action.option_strings or isinstance(action, argparse._VersionAction):
                continue  # a positional argument or --version: nothing defaults
            checked += 1
            if action.required:  # no default to state: it says it is required
                assert "required" in text, f"{where}: required, and the help does not say so"
                continue
            assert "default" in text, f"{where}: the help does not state the default: {text!r}"
            if action.default not in (None, False, [], argparse.SUPPRESS):
                assert str(action.default) in text, f"{where}: {text!r} lacks {action.default}"
    assert checked >= 20


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert re.fullmatch(r"chainrule \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)


def test_every_subcommand_is_documented_with_an_example():
    text = (ROOT / "docs" / "cli.md").read_text()
    _, commands = _subcommands()
    shell = "\n".join(re.findall(r"```bash\n(.*?)```", text, flags=re.S))
    for name in commands:
        assert f"## `chainrule {name}`" in text, name
        assert re.search(rf"^\$? ?chainrule {name}\b", shell, flags=re.M), name
    assert "chainrule --version" in shell


def test_check_runs_every_method_in_both_modes(capsys):
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "5.5000000000" in out and "1.7163378145" in out
    rows = [line.split() for line in out.splitlines() if "(grad)" in line or "(jacfwd)" in line]
    assert sorted({r[0] for r in rows}) == ["graph", "numeric", "overload", "source", "symbolic"]
    assert len(rows) == 10
    assert out.rstrip().endswith("to 1e-6)")


def test_console_script_runs_a_short_demo(tmp_path):
    # the whole demo (30 epochs, accuracy >= 0.97) is README's command; here two epochs
    res = subprocess.run([sys.executable, "-m", "chainrule.cli", "demo", "--epochs", "2",
                          "--out", str(tmp_path), "--quiet"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert "final test accuracy" in res.stdout
    assert "methods agree to 1e-10: yes" in res.stdout
    assert (tmp_path / "digits-mlp.png").stat().st_size > 10_000


def test_demo_workers_trains_data_parallel_as_one_process_does(tmp_path):
    pytest.importorskip("dask.distributed")
    res = subprocess.run([sys.executable, "-m", "chainrule.cli", "demo", "--workers", "2",
                          "--epochs", "2", "--out", str(tmp_path)], capture_output=True,
                         text=True, timeout=180)
    assert res.returncode == 0, res.stderr
    assert "dashboard http" in res.stdout
    assert res.stdout.count("(one process:") == 2  # (one line per epoch)
    assert "matches the single-process run to 1e-10: yes" in res.stdout


def test_demo_reaches_its_accuracy(tmp_path, capsys):
    # README's main command, as it runs: the MLP's test accuracy must reach 0.97
    assert main(["demo", "--out", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("final test accuracy: ")[1].split()[0])
    assert accuracy >= 0.97, out


def test_demo_cnn_compares_the_cnn_and_titles_its_picture(tmp_path, capsys, monkeypatch):
    import matplotlib.figure

    titles = []
    real = matplotlib.figure.Figure.suptitle

    def suptitle(self, text, *args, **kwargs):
        titles.append(text)
        return real(self, text, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "suptitle", suptitle)
    assert main(["demo", "--model", "cnn", "--epochs", "1", "--method", "graph",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    # the per-method comparison trains the CNN, not the MLP
    assert "one epoch of the cnn (42 steps of SGD) by each reverse-mode method" in out
    table = out.split("by each reverse-mode method")[1].splitlines()[2:5]
    assert [row.split()[0] for row in table] == ["overload", "graph", "source"]
    assert float(table[0].split()[1]) == pytest.approx(2.2929, abs=1e-4)  # the CNN's first loss
    assert "methods agree to 1e-10: yes" in out
    accuracy = out.split("final test accuracy: ")[1].split()[0]
    assert titles == [f"chainrule demo: CNN on the 8×8 digits, gradients by method='graph' "
                      f"(test accuracy {accuracy})"]
    assert (tmp_path / "digits-cnn.png").stat().st_size > 10_000


def test_demo_cnn_reaches_its_accuracy(tmp_path, capsys):
    # `chainrule demo --model cnn` (40 epochs, about 25 s): test accuracy at least 0.975
    assert main(["demo", "--model", "cnn", "--out", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("final test accuracy: ")[1].split()[0])
    assert accuracy >= 0.975, out
    assert (tmp_path / "digits-cnn.png").stat().st_size > 10_000


def test_swell_prints_the_table_and_saves_plots_in_its_folder(tmp_path, capsys):
    out_dir = tmp_path / "plots"  # created
    assert main(["swell", "--n", "4", "--out", str(out_dir), "--error-png", "err.png"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [int(r[0]) for r in rows] == [1, 2, 3, 4]
    tree, dag, ad = [int(r[2]) for r in rows], [int(r[4]) for r in rows], [int(r[6]) for r in rows]
    assert tree[-1] > 4 * dag[-1] and dag[-1] < 2 * ad[-1]  # the tree swells, the DAG does not
    png, err = out_dir / "swell.png", out_dir / "err.png"
    assert png.stat().st_size > 10_000 and err.stat().st_size > 10_000
    assert f"plots saved to {png} and {err}" in out


def test_swell_default_folder_is_not_the_current_directory(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["swell", "--n", "2"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chainrule-swell"]
    assert sorted(p.name for p in (tmp_path / "chainrule-swell").iterdir()) == [
        "error_curve.png", "swell.png"]


# ---------------------------------------------------------------------------------------------
# without the optional dependencies: one line saying what to install, no traceback

BLOCKED = ["sklearn", "matplotlib", "tqdm", "scipy", "sympy", "threadpoolctl"]


def _run_without(modules, argv, cwd, path=None):
    """`chainrule ARGV` in a fresh Python where importing any of `modules` fails, as after
    `pip install -e .` with no extras."""
    script = ("import sys\n"
              f"for name in {modules!r}:\n"
              "    sys.modules[name] = None  # import fails: ModuleNotFoundError\n"
              "from chainrule.cli import main\n"
              f"sys.exit(main({argv!r}))\n")
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    if path is not None:
        env["PATH"] = path
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          encoding="utf-8", timeout=300, cwd=cwd, env=env)


def test_demo_without_its_extras_says_what_to_install(tmp_path):
    res = _run_without(BLOCKED, ["demo", "--epochs", "1", "--out", str(tmp_path / "o")],
                       tmp_path)
    assert res.returncode == 1
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("chainrule demo: needs scikit-learn (the digits data) and "
                               "matplotlib (the curves), not installed")
    assert 'pip install "chainrule[demo]"' in lines[0] and 'pip install -e ".[demo]"' in lines[0]
    assert not (tmp_path / "o").exists()  # nothing trained, nothing written


@pytest.mark.parametrize("missing", ["sklearn", "matplotlib"])
def test_demo_names_the_one_missing(missing, tmp_path):
    res = _run_without([missing], ["demo", "--epochs", "1"], tmp_path)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    named = {"sklearn": "scikit-learn", "matplotlib": "matplotlib"}
    assert f"needs {named[missing]} (" in res.stderr and " and " not in res.stderr.split(
        "not installed")[0]


def test_demo_runs_without_tqdm(tmp_path):
    res = _run_without(["tqdm", "threadpoolctl"], ["demo", "--epochs", "1", "--out",
                                                   str(tmp_path)], tmp_path)
    assert res.returncode == 0, res.stderr
    assert "epoch   1  loss" in res.stdout


def test_swell_without_matplotlib_prints_the_table_then_one_line(tmp_path):
    res = _run_without(BLOCKED, ["swell", "--n", "3"], tmp_path)
    assert res.returncode == 1
    assert "expression swell, logistic map" in res.stdout and "\n3 " in res.stdout
    assert res.stderr.strip().splitlines() == [
        'chainrule swell: plots not saved: they need matplotlib, not installed; install with: '
        'pip install "chainrule[demo]" (in a source checkout: pip install -e ".[demo]")']
    assert list(tmp_path.iterdir()) == []


def test_check_explain_graph_need_no_extras(tmp_path):
    model = tmp_path / "model.py"
    model.write_text("import chainrule.numpy as cnp\n\ndef f(x):\n    return cnp.sum(x ** 2)\n")
    for argv in (["check"], ["explain", "sin(x)", "--at", "x=1"],
                 ["explain", "sin(x)", "--at", "x=1", "--html", "p.html"],
                 ["graph", f"{model}:f", "--shape", "x=3", "--grad", "--dot", "g.dot"]):
        res = _run_without(BLOCKED, argv, tmp_path)
        assert res.returncode == 0, (argv, res.stderr)
        assert res.stderr == "", argv
    assert (tmp_path / "p.html").exists() and (tmp_path / "g.dot").exists()


def test_graph_png_and_explain_html_without_graphviz(tmp_path):
    model = tmp_path / "model.py"
    model.write_text("import chainrule.numpy as cnp\n\ndef f(x):\n    return cnp.sum(x ** 2)\n")
    empty = tmp_path / "bin"
    empty.mkdir()  # a PATH where no `dot` program is found
    res = _run_without(BLOCKED, ["graph", f"{model}:f", "--shape", "x=3", "--png", "g.png"],
                       tmp_path, path=str(empty))
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert "Graphviz's `dot` program is not installed" in res.stderr
    assert (tmp_path / "g.dot").exists() and not (tmp_path / "g.png").exists()
    res = _run_without(BLOCKED, ["explain", "sin(x)", "--at", "x=1", "--html", "p.html"],
                       tmp_path, path=str(empty))
    assert res.returncode == 0 and res.stderr == ""
    assert "Graphviz's dot program is not installed" in res.stdout
    assert "digraph explain" in (tmp_path / "p.html").read_text(encoding="utf-8")


def test_a_closed_pipe_is_no_traceback():
    # `chainrule explain ... | head -1`: the reader leaves before the tables are written
    proc = subprocess.Popen([sys.executable, "-m", "chainrule.cli", "explain", "sin(x)", "--at",
                             "x=1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err.decode()
    assert proc.returncode == 1
