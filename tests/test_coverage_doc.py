"""docs/coverage.md is what the code differentiates today (regenerated here, compared)."""
import coverage_doc


def test_the_coverage_page_is_current():
    assert coverage_doc.PAGE.read_text() == coverage_doc.render(), (
        "docs/coverage.md is stale: run `python tests/coverage_doc.py --write`")


def test_the_page_counts_what_it_should():
    text = coverage_doc.render()
    assert "| `chainrule.numpy.fft` | 16/16 |" in text
    assert "| `chainrule.scipy.integrate` | 3/3 |" in text  # (odeint, solve_ivp: issue 18)
