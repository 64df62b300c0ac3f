"""The HTML page of `cr.explain` (`Explanation.to_html`, `chainrule explain --html`): the three
tables and the computational graph in one self-contained file — inline CSS, the graph as inline
SVG drawn by Graphviz's `dot` program, no scripts, fonts or images fetched from anywhere.

Without Graphviz the page says so where the graph would be, and carries the graph's DOT text
(which https://graphviz.org or any Graphviz viewer draws).
"""
from __future__ import annotations

import html
import shutil
import subprocess
from collections.abc import Sequence
from typing import Any

#: how long `dot` may take to draw one explain graph (a few dozen nodes: well under a second)
_DOT_SECONDS = 60

_CSS = """
body { font-family: "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; color: #1d2330;
       max-width: 1100px; margin: 2em auto; padding: 0 1.5em; line-height: 1.45; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin: 1.6em 0 0.5em; border-bottom: 1px solid #d5dbe5;
     padding-bottom: 0.2em; }
.expression { font-size: 1.1em; margin: 0.3em 0; }
.expression code { background: #f3f5f9; padding: 0.1em 0.4em; border-radius: 3px; }
.summary { color: #3c4658; margin: 0.3em 0 1em; }
table { border-collapse: collapse; font-family: "DejaVu Serif", "STIX Two Text", Cambria,
        "Times New Roman", serif; font-size: 1.05em; }
th { background: #eef2f8; font-weight: 600; text-align: left; padding: 0.35em 0.9em;
     border-bottom: 2px solid #c9d2e0; }
td { padding: 0.3em 0.9em; border-bottom: 1px solid #e7ebf1; white-space: nowrap; }
td.value, th.value { text-align: right; font-variant-numeric: tabular-nums; }
tr.result td { font-weight: 600; background: #fbf6e9; border-top: 2px solid #c9d2e0; }
tr.result + tr.result td { border-top: none; }
.tables { display: flex; flex-wrap: wrap; gap: 0 2.5em; align-items: flex-start; }
.tables section { overflow-x: auto; max-width: 100%; }
figure { margin: 0.5em 0; overflow-x: auto; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: #5a6477; font-size: 0.9em; margin-top: 0.4em; }
.note { background: #fff8e5; border-left: 4px solid #e0b341; padding: 0.6em 1em; }
pre { background: #f3f5f9; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
footer { color: #7a8394; font-size: 0.85em; margin-top: 2.5em; }
"""


def draw_svg(dot_text: str) -> tuple[str | None, str]:
    """(the SVG element `dot -Tsvg` draws from `dot_text`, "") when Graphviz is installed;
    (None, why not) otherwise."""
    dot = shutil.which("dot")
    if dot is None:
        return None, ("Graphviz's dot program is not installed, so the graph is not drawn here "
                      "(install Graphviz: apt-get install graphviz, brew install graphviz, or "
                      "https://graphviz.org/download/). Its DOT text:")
    try:
        done = subprocess.run([dot, "-Tsvg"], input=dot_text, capture_output=True, text=True,
                              encoding="utf-8", timeout=_DOT_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as err:
        return None, f"Graphviz's dot program failed ({err}). The graph's DOT text:"
    start = done.stdout.find("<svg")
    if done.returncode != 0 or start < 0:
        reason = done.stderr.strip() or f"exit status {done.returncode}"
        return None, f"Graphviz's dot program failed ({reason}). The graph's DOT text:"
    return done.stdout[start:].strip(), ""


def html_page(explanation: Any, title: str, subtitle: str = "", unicode: bool = True) -> str:
    """The page of `explanation` (an `Explanation`): `title` and `subtitle` (plain text, escaped
    here) above a line of results, the three tables, then the computational graph."""
    e = explanation
    esc = html.escape
    tables = e.tables(unicode)
    n_inputs = len(e.names)
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{esc(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
             f"<h1>{esc(title)}</h1>"]
    if subtitle:
        parts.append(f'<p class="expression">{_subtitle_html(subtitle)}</p>')
    parts.append(f'<p class="summary">{esc(_summary(e, tables))}</p>')
    parts.append('<div class="tables">')
    for k, (name, heads, rows, numbers) in enumerate(tables):
        # the rows after the trace proper: y (primal, tangent), the inputs' adjoints (adjoint)
        results = 1 if k < 2 else n_inputs
        parts.append(f"<section><h2>{esc(name)}</h2>")
        parts.append(_table(heads, rows, numbers, results))
        parts.append("</section>")
    parts.append("</div>")
    dot_text = e.to_dot(unicode)
    svg, why = draw_svg(dot_text)
    parts.append("<section><h2>Computational graph</h2>")
    if svg is not None:
        parts.append(f'<figure role="img" aria-label="computational graph">{svg}'
                     "<figcaption>Each node is one row vᵢ of the primal trace with its value; "
                     "an arrow goes from each operand to the row that uses it. The inputs are "
                     "boxes; the output is the double ellipse.</figcaption></figure>")
    else:
        parts.append(f'<p class="note">{esc(why)}</p><pre>{esc(dot_text)}</pre>')
    parts.append("</section>")
    parts.append("<footer>Made by chainrule (cr.explain): the tables come from a real "
                 "run of the rule table, each row's expression being the one its rule "
                 "computed.</footer>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _subtitle_html(text: str) -> str:
    """The subtitle, its part before " at " (the expression) set as code."""
    expression, sep, rest = text.partition(" at ")
    if not sep:
        return html.escape(text)
    return f"<code>{html.escape(expression)}</code> at {html.escape(rest)}"


def _summary(e: Any, tables: Sequence[Any]) -> str:
    """y = …, ẏ = … and the gradient, the numbers as the tables write them."""
    primal, tangent, adjoint = tables
    y_label, y_value = primal[2][-1][0], primal[3][-1]
    dot_label, dot_value = tangent[2][-1][0], tangent[3][-1]
    n = len(e.names)
    grads = [f"{row[0]} = {x}" for row, x in zip(adjoint[2][-n:], adjoint[3][-n:])]
    wrt = tangent[0].partition("w.r.t. ")[2]
    return (f"{y_label} = {y_value}  ·  {dot_label} = {dot_value} (forward mode, w.r.t. {wrt})"
            f"  ·  " + ", ".join(grads) + " (reverse mode)")


def _table(heads: Sequence[str], rows: Sequence[Sequence[str]], numbers: Sequence[str],
           results: int) -> str:
    esc = html.escape
    width = len(heads) - 1  # the cells before the number
    out = ["<table>", "<thead><tr>"
           + "".join(f"<th>{esc(h)}</th>" for h in heads[:-1])
           + f'<th class="value">{esc(heads[-1])}</th></tr></thead>', "<tbody>"]
    for k, (row, number) in enumerate(zip(rows, numbers)):
        cells = list(row[:width]) + [""] * (width - len(row))
        cls = ' class="result"' if k >= len(rows) - results else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{esc(c)}</td>" for c in cells)
                   + f'<td class="value">{esc(number)}</td></tr>')
    out += ["</tbody>", "</table>"]
    return "\n".join(out)


__all__ = ["draw_svg", "html_page"]
