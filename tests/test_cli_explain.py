"""`chainrule explain` and `chainrule graph`."""
import ast
import builtins
import contextlib
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

import chainrule.explain  # noqa: F401  (loaded before the tests that forbid running code)
from chainrule.cli import main

TEXTBOOK = ["explain", "log(x1) + x1*x2 - sin(x2)", "--at", "x1=2", "x2=5"]


def nfc(s):
    return unicodedata.normalize("NFC", s)


def test_explain_prints_the_three_tables(capsys):
    assert main(TEXTBOOK) == 0
    out = capsys.readouterr().out
    for line in ["v₋₁ = x₁       =  2", "v₀  = x₂       =  5", "v₁  = ln v₋₁   =  0.693",
                 "v₂  = v₋₁ × v₀ = 10", "v₃  = sin v₀   = −0.959", "v₄  = v₁ + v₂  = 10.693",
                 "v₅  = v₄ − v₃  = 11.652", "ẏ   = v̇₅                  = 5.5",
                 "x̄₁  = v̄₋₁", "x̄₂  = v̄₀"]:
        assert nfc(line) in out, line
    lines = out.rstrip("\n").splitlines()
    assert lines[-2].endswith("=  5.5") and lines[-1].endswith("=  1.716")


def test_explain_wrt_markdown_digits(capsys):
    assert main(TEXTBOOK + ["--wrt", "x2", "--markdown", "--digits", "4"]) == 0
    out = capsys.readouterr().out
    assert "**Forward tangent trace, w.r.t. x₂**" in out
    assert nfc("| ẏ | v̇₅ | 1.7163 |") in out


@contextlib.contextmanager
def nothing_may_run():
    """Fail if the expression reaches a shell, a process, eval, exec, or compile to code (only
    compiling to a syntax tree, which is what ast.parse does, is let through)."""
    def forbidden(*args, **kwargs):
        raise AssertionError(f"an expression ran code: {args!r}")

    real_compile = builtins.compile

    def parse_only(source, filename, mode, flags=0, *args, **kwargs):
        if not flags & ast.PyCF_ONLY_AST:
            forbidden(source)
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        for module, name in [(os, "system"), (os, "popen"), (os, "execv"), (os, "execve"),
                             (os, "posix_spawn"), (subprocess, "Popen"), (subprocess, "run"),
                             (builtins, "eval"), (builtins, "exec")]:
            mp.setattr(module, name, forbidden)
        mp.setattr(builtins, "compile", parse_only)
        yield


@pytest.mark.parametrize("expression,named", [
    ("__import__('os').system('id')", "calling `__import__('os').system` (attribute access)"),
    ("().__class__", "attribute access `().__class__`"),
    ("x.__class__", "attribute access `x.__class__`"),
    ("[x for x in ()]", "list comprehension `[x for x in ()]`"),
    ("lambda: 1", "lambda `lambda: 1`"),
    ("open('f')", "calling `open` is not allowed"),
    ("x1; import os", "not one expression"),
    ("__import__", "names with a double underscore"),
    ("sin(x=1)", "keyword argument"),
    ("getattr(x, 'y')", "calling `getattr` is not allowed"),
    ("x @ x", "operator '@'"),
])
def test_explain_refuses_and_runs_nothing(expression, named, capsys):
    variable = "x1" if "x1" in expression else "x"
    with nothing_may_run():
        status = main(["explain", expression, "--at", f"{variable}=1"])
    err = capsys.readouterr()
    assert status == 2
    assert err.out == ""
    assert err.err.startswith("chainrule explain: expression refused")
    assert named in err.err
    assert "Allowed are numbers" in err.err  # and says what is allowed


def test_an_accepted_expression_is_interpreted_not_compiled(capsys):
    with nothing_may_run():
        assert main(["explain", "exp(-x) * cos(2*pi*x) + x**2 / (1 + e)", "--at", "x=0.5"]) == 0
    assert "Reverse adjoint trace" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["--at", "x1=2", "x2"], "--at 'x2': write NAME=VALUE"),
    (["--at", "x1=2", "x2=five"], "'five' is not a number"),
    (["--at", "x1=2", "x1=3"], "x1 is given twice"),
    (["--at", "__x=2"], "not a variable name"),
    (["--at", "sin=2"], "is a function or constant"),
    (["--at", "x1=2", "x2=5", "--wrt", "x3"], "--wrt x3: not one of the variables"),
    (["--at", "x1=2"], "the name `x2` is unknown"),
])
def test_explain_bad_arguments(argv, message, capsys):
    assert main(["explain", "log(x1) + x1*x2 - sin(x2)", *argv]) == 2
    assert message in capsys.readouterr().err


def test_console_script_explain():
    script = Path(sys.executable).with_name("chainrule")
    if not script.exists():
        pytest.skip("the chainrule console script is not installed in this environment")
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    res = subprocess.run([str(script), *TEXTBOOK], capture_output=True, text=True,
                         encoding="utf-8", timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    assert "v₅  = v₄ − v₃  = 11.652" in res.stdout
    assert res.stdout.rstrip().endswith("=  1.716")
    res = subprocess.run([str(script), "explain", "__import__('os').system('echo RAN')",
                          "--at", "x=1"], capture_output=True, text=True, encoding="utf-8",
                         timeout=120, env=env)
    assert res.returncode == 2 and "RAN" not in res.stdout
    assert "refused" in res.stderr


# ---------------------------------------------------------------------------------------------
# chainrule graph

MODEL = '''
import chainrule.numpy as cnp

def loss(W, x, scale=2.0):
    return cnp.sum(cnp.tanh(x @ W) ** 2) * scale

def features(x):
    return cnp.sin(x)
'''


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(MODEL)
    return path


def test_graph_prints_the_listing(model, capsys):
    assert main(["graph", f"{model}:loss", "--shape", "W=3,2", "--shape", "x=3"]) == 0
    out = capsys.readouterr().out
    assert "{ lambda a:f64[3,2] b:f64[3] ." in out
    assert "c:f64[2] = matmul b a" in out and "d:f64[2] = tanh c" in out
    assert "gradient graph" not in out


def test_graph_grad_and_dot(model, tmp_path, capsys):
    dot = tmp_path / "loss.dot"
    assert main(["graph", f"{model}:loss", "--shape", "W=3,2", "--shape", "x=3", "--grad",
                 "--dot", str(dot)]) == 0
    out = capsys.readouterr().out
    assert "# gradient graph (the output, then d/dW, d/dx)" in out
    assert f"wrote {dot}" in out
    text = dot.read_text()
    assert text.startswith("digraph chainrule {") and "tanh" in text
    assert "fillcolor" in text  # equations only the gradient needs are shaded


def test_graph_png_without_graphviz(model, tmp_path, monkeypatch, capsys):
    import shutil
    monkeypatch.setattr(shutil, "which", lambda name: None)
    dot = tmp_path / "g.dot"
    png = tmp_path / "g.png"
    status = main(["graph", f"{model}:features", "--shape", "x=4", "--dot", str(dot),
                   "--png", str(png)])
    err = capsys.readouterr().err
    assert status == 1
    assert "Graphviz's `dot` program is not installed" in err
    assert "apt-get install graphviz" in err and "the DOT file was written" in err
    assert dot.exists() and not png.exists()


def test_graph_png_runs_dot(model, tmp_path, monkeypatch, capsys):
    """With Graphviz installed the DOT text goes to `dot -Tpng -o OUT` (a stand-in here)."""
    import shutil
    fake = tmp_path / "dot"
    fake.write_text("#!/bin/sh\n# stand-in for Graphviz: copy the DOT text to the -o file\n"
                    'cat > "$3"\n')
    fake.chmod(0o755)
    monkeypatch.setattr(shutil, "which", lambda name: str(fake) if name == "dot" else None)
    png = tmp_path / "g.png"
    assert main(["graph", f"{model}:features", "--shape", "x=4", "--png", str(png)]) == 0
    assert png.read_text().startswith("digraph chainrule {")
    assert f"wrote {png}" in capsys.readouterr().out


@pytest.mark.parametrize("argv,message", [
    (["{dir}/missing.py:loss", "--shape", "W=3"], "no file"),
    (["{model}:nope", "--shape", "W=3"], "defines no 'nope' (its functions: features, loss)"),
    (["{model}", "--shape", "W=3"], "write FILE:FUNC"),
    (["{model}:loss", "--shape", "W=3,a", "--shape", "x=3"], "--shape 'W=3,a': 'a' is not a"),
    (["{model}:loss", "--shape", "W3"], "--shape 'W3': write NAME=3,4"),
    (["{model}:loss", "--shape", "W=3,2"], "give a shape for x"),
    (["{model}:loss", "--shape", "W=3,2", "--shape", "x=3", "--shape", "q=1"],
     "has no parameter 'q' (its parameters: W, x, scale)"),
    (["{model}:features", "--shape", "x=3", "--grad"], "--grad: a gradient graph needs one "
                                                        "scalar output"),
])
def test_graph_bad_arguments(argv, message, model, capsys):
    argv = [a.format(dir=model.parent, model=model) for a in argv]
    assert main(["graph", *argv]) == 2
    assert message in capsys.readouterr().err


def test_graph_scalar_shape_and_failing_trace(tmp_path, capsys):
    path = tmp_path / "branchy.py"
    path.write_text("def f(x):\n    if x > 0:\n        return x\n    return -x\n")
    assert main(["graph", f"{path}:f", "--shape", "x="]) == 1
    err = capsys.readouterr().err
    assert "tracing" in err and "ConcretizationError" in err


@pytest.mark.parametrize("where", ["png", "error-png"])
@pytest.mark.parametrize("bad", ["{dir}/no/such/dir/plot.png", "{dir}/plot.notaformat"])
def test_swell_unwritable_plot_path_is_an_error_message(where, bad, tmp_path, capsys):
    paths = {"png": str(tmp_path / "s.png"), "error-png": str(tmp_path / "e.png")}
    paths[where] = bad.format(dir=tmp_path)
    assert main(["swell", "--n", "2", "--png", paths["png"], "--error-png",
                 paths["error-png"]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chainrule swell: ") and "Traceback" not in err
    assert paths[where] in err
