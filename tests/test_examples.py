"""Every script in examples/ runs (with small sizes) and does what it says."""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# (each tested below)
TESTED = {"spring_chain", "newton_fit", "fir_design", "student_t_fit", "ode_fit"}


def test_every_example_is_tested():
    assert {p.stem for p in EXAMPLES.glob("*.py")} <= TESTED


def test_spring_chain_hits_its_target_and_checkpointing_saves_memory(capsys):
    got = load("spring_chain").main(["--n", "32", "--steps", "120", "--iters", "30"])
    assert got["grad_difference"] < 1e-12  # checkpointing recomputes the very same gradient
    assert got["memory_ratio"] >= 5
    assert got["final_loss"] < 1e-4 * got["first_loss"]
    assert got["miss"] < 0.01 * got["target_scale"]
    assert "checkpointed" in capsys.readouterr().out


def test_spring_chain_gradient_matches_finite_differences():
    sc = load("spring_chain")
    rng = np.random.default_rng(1)
    v0, target = 0.3 * rng.standard_normal(6), 0.1 * rng.standard_normal(6)
    import chainrule as cr
    g = np.asarray(cr.grad(lambda v: sc.loss(v, target, 40, 7))(v0))
    for k in range(6):
        e = np.zeros(6)
        e[k] = 1e-6
        fd = (float(sc.loss(v0 + e, target, 40)) - float(sc.loss(v0 - e, target, 40))) / 2e-6
        assert g[k] == pytest.approx(fd, rel=1e-6, abs=1e-10)


def test_newton_converges_quadratically(capsys):
    got = load("newton_fit").main([])
    norms = got["grad_norms"]
    assert norms[-1] < 1e-10 and got["normal_equations"] < 1e-9
    # the last steps square the error: each gradient norm about the square of the one before
    assert norms[-1] < 10 * norms[-2] ** 1.5
    np.testing.assert_allclose(got["params"], [2.5, 1.3, 0.5], atol=0.05)


def test_fir_design_through_the_fft_beats_the_window_method(capsys):
    fir = load("fir_design")
    got = fir.main(["--steps", "300"])
    (ripple0, atten0), (ripple1, atten1) = got["start"], got["end"]
    assert atten1 > atten0 + 10 and ripple1 < ripple0  # deeper stopband, flatter passband
    assert got["losses"][-1] < 0.2 * got["losses"][0]
    # the gradient through rfft against central differences
    import chainrule as cr
    taps = fir.window_design(15, 0.13)
    g = np.asarray(cr.grad(fir.loss)(taps, 128, 0.1, 0.17))
    for k in (0, 7, 12):
        e = np.zeros(15)
        e[k] = 1e-6
        fd = (float(fir.loss(taps + e, 128, 0.1, 0.17))
              - float(fir.loss(taps - e, 128, 0.1, 0.17))) / 2e-6
        assert g[k] == pytest.approx(fd, rel=1e-5, abs=1e-9)
    assert "stopband attenuation" in capsys.readouterr().out


def test_student_t_fit_by_newton_gives_the_maximum_likelihood(capsys):
    got = load("student_t_fit").main(["--samples", "800", "--repeats", "8"])
    assert got["grad_norms"][-1] < 1e-8
    df, loc, scale = got["scipy_fit"]
    np.testing.assert_allclose(got["theta"], [loc, np.log(scale), np.log(df)], atol=2e-3)
    # the standard errors from the inverse Hessian are the estimate's spread, within sampling
    ratio = got["std_errors"] / got["spread"]
    assert np.all((ratio > 0.4) & (ratio < 2.5))
    assert "std error" in capsys.readouterr().out


def test_ode_fit_recovers_the_rates_with_adjoint_gradients(capsys):
    fit = load("ode_fit")
    got = fit.main(["--steps", "25"])
    assert got["losses"][-1] < 0.01 * got["losses"][0]
    assert got["losses"][-1] < 3 * got["loss_at_truth"]  # down to the noise's floor
    np.testing.assert_allclose(got["fitted"], got["true"], rtol=0.15)
    assert "fitted rates" in capsys.readouterr().out
    # the adjoint gradient against central differences of the solver's values (solved tightly,
    # so that the differences see the derivative, not the solver's error)
    import chainrule as cr
    fit.TOL = 1e-11
    x = np.log(fit.START_RATES)
    g = np.asarray(cr.grad(fit.loss)(x, got["data"]))
    for k in (0, 3):
        e = np.zeros(4)
        e[k] = 1e-5
        fd = (float(fit.loss(x + e, got["data"])) - float(fit.loss(x - e, got["data"]))) / 2e-5
        assert g[k] == pytest.approx(fd, rel=1e-6)
