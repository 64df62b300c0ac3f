"""`chainrule explain` and `chainrule graph`."""
import ast
import builtins
import contextlib
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
import chainrule.explain  # noqa: F401  (loaded before the tests that forbid running code)
import chainrule.numpy as cnp
from chainrule.cli import main
from chainrule.explain import FUNCTIONS, parse_expression

TEXTBOOK = ["explain", "log(x1) + x1*x2 - sin(x2)", "--at", "x1=2", "x2=5"]


def nfc(s):
    return unicodedata.normalize("NFC", s)


def test_explain_prints_the_three_tables(capsys):
    assert main(TEXTBOOK) == 0
    out = capsys.readouterr().out
    for line in ["v₋₁ = x₁       =  2", "v₀  = x₂       =  5", "v₁  = ln v₋₁   =  0.693",
                 "v₂  = v₋₁ × v₀ = 10", "v₃  = sin v₀   = -0.959", "v₄  = v₁ + v₂  = 10.693",
                 "v₅  = v₄ − v₃  = 11.652", "ẏ   = v̇₅                  = 5.5",
                 "x̄₁  = v̄₋₁", "x̄₂  = v̄₀"]:
        assert nfc(line) in out, line
    lines = out.rstrip("\n").splitlines()
    assert lines[-2].endswith("=  5.5") and lines[-1].endswith("=  1.716")


def _values(out):
    """The number ending each table row."""
    return [line.rsplit("= ", 1)[1].strip() for line in out.splitlines()
            if line.startswith("  ") and "= " in line]


def test_explain_numbers_are_ascii_by_default_and_typographic_with_unicode(capsys):
    expression = ["explain", "exp(-x) * cos(2*pi*x) - 1/x", "--at", "x=0.5"]
    assert main(expression) == 0
    ascii_out = capsys.readouterr().out
    values = _values(ascii_out)
    assert "-0.607" in values and "-1" in values
    for text in values:  # every number pastes into Python
        float(text)
    assert "\u2212" not in "".join(values)
    assert "2*pi × v₀" in ascii_out and "6.283 ×" not in ascii_out  # 2*pi, as typed
    assert main(expression + ["--unicode"]) == 0
    pretty = capsys.readouterr().out
    assert "\u22120.607" in _values(pretty) and "-" not in "".join(_values(pretty))
    assert "2π × v₀" in pretty and "v̄₂ × 2π" in pretty
    # the same tables otherwise
    assert pretty.replace("\u2212", "-").replace("2π", "2*pi").split() == ascii_out.replace(
        "\u2212", "-").split()


def test_explain_infinity_and_markdown_follow_the_choice(capsys):
    assert main(["explain", "sqrt(x)", "--at", "x=0"]) == 0
    assert "= inf" in capsys.readouterr().out
    assert main(["explain", "sqrt(x)", "--at", "x=0", "--unicode"]) == 0
    assert "= ∞" in capsys.readouterr().out
    assert main(["explain", "sin(x)", "--at", "x=-1", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "| -0.841 |" in out and "\u2212" not in out.replace(" \u2212 ", "")


def test_explain_shows_no_internal_guard_at_a_singular_point(capsys):
    # sqrt's reverse rule guards 0 × ∞ with an internal primitive (strong_mask): the row shows
    # what it computes, the rule's own expression where the adjoint is not zero...
    assert main(["explain", "sqrt(x)", "--at", "x=0"]) == 0
    out = capsys.readouterr().out
    assert "strong_mask" not in out
    assert nfc("v̄₀ = v̄₁ ∂v₁/∂v₀ = v̄₁ / (v₁ × 2) = inf") in out
    # ... and the zero it gives where the adjoint is zero
    assert main(["explain", "0*sqrt(x)", "--at", "x=0"]) == 0
    out = capsys.readouterr().out
    assert "strong_mask" not in out
    assert nfc("v̄₀ = v̄₁ ∂v₁/∂v₀ = 0 (as v̄₁ = 0) = 0") in out


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_no_internal_name_in_any_table(name):
    """Every function an expression may call, at the points where derivatives blow up, with a
    zero adjoint and without: only mathematics in the tables."""
    internal = ["strong_mask", "select", "stop_gradient", "cotangent", "zeros_like", "<"]
    call = f"{name}(x)" if FUNCTIONS[name][1] == 1 else f"{name}(x, y)"
    for text in (call, f"0*{call}"):
        for point in (0.0, 1.0, -1.0):
            f = parse_expression(text, ["x", "y"])
            with np.errstate(all="ignore"):
                table = cr.explain(f, point, point, names=["x", "y"])
            for shown in (table.to_text(unicode=False), table.to_text(), table.to_markdown()):
                assert not [w for w in internal if w in shown], (text, point, shown)


def test_explain_html_page(tmp_path, capsys):
    page = tmp_path / "page.html"
    assert main(TEXTBOOK + ["--html", str(page), "--unicode"]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {page} (the three tables")
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<style>" in text
    for title in ["Forward primal trace", "Forward tangent trace, w.r.t. x₁",
                  "Reverse adjoint trace", "Computational graph"]:
        assert f"<h2>{nfc(title)}</h2>" in text
    assert text.count("<table>") == 3
    assert "<td>sin v₀</td><td class=\"value\">−0.959</td>" in text
    assert "<code>log(x1) + x1*x2 - sin(x2)</code> at x1 = 2, x2 = 5" in text
    # self-contained: nothing is fetched
    lowered = text.lower()
    for external in ["<script", "<link", "<img", "src=", "@import", "url("]:
        assert external not in lowered, external
    if shutil.which("dot"):
        assert "<svg" in text and "v₅ = v₄ − v₃" in text
    else:
        assert "Graphviz's dot program is not installed" in text


def test_explain_html_without_graphviz_has_a_note_and_the_dot_text(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    page = tmp_path / "page.html"
    assert main(TEXTBOOK + ["--html", str(page)]) == 0
    assert "Graphviz's dot program is not installed" in capsys.readouterr().out
    text = page.read_text(encoding="utf-8")
    assert "<svg" not in text and "Graphviz&#x27;s dot program is not installed" in text
    assert "digraph explain {" in text and "v1 -&gt; v4;" in text  # the DOT text, escaped
    assert "<td>sin v₀</td><td class=\"value\">-0.959</td>" in text  # ASCII by default


def test_explain_html_unwritable(tmp_path, capsys):
    bad = tmp_path / "no" / "such" / "page.html"
    assert main(TEXTBOOK + ["--html", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"chainrule explain: --html {bad}: No such file") and "Traceback" \
        not in err


def test_explanation_to_dot_is_the_computational_graph():
    def f(x1, x2):
        return cnp.log(x1) + x1 * x2 - cnp.sin(x2)

    dot = cr.explain(f, 2.0, 5.0).to_dot()
    assert dot.startswith("digraph explain {") and dot.rstrip().endswith("}")
    edges = {line.strip().rstrip(";") for line in dot.splitlines() if "->" in line}
    assert edges == {"v_1 -> v1", "v_1 -> v2", "v0 -> v2", "v0 -> v3", "v1 -> v4", "v2 -> v4",
                     "v4 -> v5", "v3 -> v5", "v5 -> y"}
    assert 'label="v₋₁ = x₁\\n2"' in dot and 'label="v₃ = sin v₀\\n−0.959"' in dot


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
    monkeypatch.setattr(shutil, "which", lambda name: None)
    dot = tmp_path / "g.dot"
    png = tmp_path / "g.png"
    status = main(["graph", f"{model}:features", "--shape", "x=4", "--dot", str(dot),
                   "--png", str(png)])
    err = capsys.readouterr().err
    assert status == 1
    assert len(err.strip().splitlines()) == 1  # one line
    assert "Graphviz's `dot` program is not installed" in err
    assert "apt-get install graphviz" in err and f"the DOT file was written to {dot}" in err
    assert dot.exists() and not png.exists()


def test_graph_png_without_graphviz_writes_the_dot_text_beside(model, tmp_path, monkeypatch,
                                                              capsys):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    png = tmp_path / "g.png"
    assert main(["graph", f"{model}:features", "--shape", "x=4", "--png", str(png)]) == 1
    err = capsys.readouterr().err
    assert f"the DOT file was written to {tmp_path / 'g.dot'}" in err and "Traceback" not in err
    assert (tmp_path / "g.dot").read_text().startswith("digraph chainrule {")
    assert not png.exists()


def _dot_graph(text):
    """(node id -> label, edges) of the DOT text `to_dot` writes."""
    import re

    nodes = dict(re.findall(r'^  (\w+) \[.*?label="((?:[^"\\]|\\.)*)"', text, flags=re.M))
    edges = re.findall(r"^  (\w+) -> (\w+)", text, flags=re.M)
    return nodes, edges


def test_graph_picture_names_inputs_and_outputs_and_has_no_dead_nodes(model, tmp_path,
                                                                       capsys):
    dot = tmp_path / "loss.dot"
    assert main(["graph", f"{model}:loss", "--shape", "W=3,2", "--shape", "x=3", "--grad",
                 "--dot", str(dot)]) == 0
    listing = capsys.readouterr().out
    nodes, edges = _dot_graph(dot.read_text())
    labels = list(nodes.values())
    # the inputs by the function's parameter names (and the listing's letters), outputs labelled
    assert "W (a)\\nf64[3,2]" in labels and "x (b)\\nf64[3]" in labels
    assert {"value\\nf64[]", "d/dW\\nf64[3,2]", "d/dx\\nf64[3]"} <= set(labels)
    # no internal guard, no dead equation: every node reaches an output, every edge is drawn
    # between drawn nodes
    assert not any("strong_mask" in label for label in labels)
    assert "strong_mask" in listing  # (the listing shows the graph as it is)
    successors = {}
    for a, b in edges:
        assert a in nodes and b in nodes
        successors.setdefault(a, set()).add(b)
    outputs = {n for n, label in nodes.items() if n.startswith("out")}
    for n in nodes:
        seen, stack = {n}, [n]
        while stack:
            for m in successors.get(stack.pop(), ()):
                if m not in seen:
                    seen.add(m)
                    stack.append(m)
        assert seen & outputs, f"{nodes[n]!r} reaches no output"
    # the gradient listing has no dead equation either (it is the graph the picture draws)
    grad_listing = listing.split("# gradient graph")[1]
    defined = [line.split(":")[0].strip() for line in grad_listing.splitlines()
               if " = " in line]
    used = " ".join(line.split(" = ", 1)[1] for line in grad_listing.splitlines()
                    if " = " in line) + " " + grad_listing.split(" in (")[1]
    assert all(re.search(rf"\b{name}\b", used) for name in defined)


def test_graph_internals_draws_the_guards(model, tmp_path, capsys):
    dot = tmp_path / "loss.dot"
    assert main(["graph", f"{model}:loss", "--shape", "W=3,2", "--shape", "x=3", "--grad",
                 "--dot", str(dot), "--internals"]) == 0
    nodes, _ = _dot_graph(dot.read_text())
    assert sum("strong_mask" in label for label in nodes.values()) == 2


def test_graph_forward_picture_labels(model, tmp_path):
    dot = tmp_path / "f.dot"
    assert main(["graph", f"{model}:loss", "--shape", "W=3,2", "--shape", "x=3",
                 "--dot", str(dot)]) == 0
    text = dot.read_text()
    nodes, edges = _dot_graph(text)
    assert "value\\nf64[]" in nodes.values()
    assert "mul(·, 2.0)\\ng: f64[]" in nodes.values()  # a constant operand in its node
    assert "fillcolor=\"#dde7f5\"" not in text  # nothing only a gradient needs


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_graph_png_with_graphviz(model, tmp_path, capsys):
    png = tmp_path / "loss.png"
    assert main(["graph", f"{model}:loss", "--shape", "W=3,2", "--shape", "x=3", "--grad",
                 "--png", str(png)]) == 0
    assert f"wrote {png}" in capsys.readouterr().out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


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


@pytest.mark.parametrize("text,ascii_row,unicode_row", [
    ("pi*x", "v₁ = pi × v₀", "v₁ = π × v₀"),
    ("x/(2*pi)", "v₁ = v₀ / (2*pi)", "v₁ = v₀ / (2π)"),
    ("pi/2*x", "v₁ = pi/2 × v₀", "v₁ = π/2 × v₀"),
    ("-3*pi/4*x", "v₁ = -3*pi/4 × v₀", "v₁ = −3π/4 × v₀"),
    ("sin(x + 2*pi)", "v₁ = v₀ + 2*pi", "v₁ = v₀ + 2π"),
    ("3.14159*x", "v₁ = 3.142 × v₀", "v₁ = 3.142 × v₀"),  # near π is not π
])
def test_multiples_of_pi_are_written_with_pi(text, ascii_row, unicode_row):
    table = cr.explain(parse_expression(text, ["x"]), 0.25)
    assert nfc(ascii_row) in table.to_text(unicode=False)
    assert nfc(unicode_row) in table.to_text(unicode=True)
