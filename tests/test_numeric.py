"""Numerical differentiation: the difference formulas, their errors and the best steps."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

import adlab as ad
from adlab.numeric import (
    CENTRAL_STEP,
    COMPLEX_STEP,
    EPS,
    FORWARD_STEP,
    backward_difference,
    best_step,
    central_difference,
    complex_step,
    derivative,
    forward_difference,
    gradient,
    jacobian,
    plot_step_error,
    step_error,
)

matplotlib.use("Agg")  # figures are returned, never shown


def cube(x):
    return x ** 3


# (name, f, x, f'(x)): well-scaled functions, |f| ~ |f''| ~ |f'''| ~ 1
WELL_SCALED = [
    ("sin at 1", np.sin, 1.0, math.cos(1.0)),
    ("exp at 0.5", np.exp, 0.5, math.exp(0.5)),
    ("x**3 at 1.5", cube, 1.5, 3 * 1.5 ** 2),
]


def test_steps_are_the_textbook_ones():
    assert EPS == 2.0 ** -52
    assert FORWARD_STEP == pytest.approx(1.4901161193847656e-08)
    assert CENTRAL_STEP == pytest.approx(6.055454452393343e-06)
    assert COMPLEX_STEP == 1e-20


def test_directional_central_difference_keeps_the_signature_check_grads_uses():
    f = lambda a, b: a * np.sin(b)
    assert central_difference(f, (2.0, 3.0), (1.0, 0.0)) == pytest.approx(np.sin(3.0))
    assert central_difference(f, [2.0, 3.0], [0.0, 1.0], 1e-4) == pytest.approx(
        2 * np.cos(3.0), rel=1e-8)
    a = np.array([1.0, 2.0])
    got = central_difference(lambda v: np.sum(v * v), [a], [np.array([1.0, 1.0])])
    assert got == pytest.approx(6.0)
    ad.check_grads(lambda v: ad.sum(ad.sin(v) * v), [a])  # still works through check.py


def test_central_difference_of_a_one_argument_function():
    assert central_difference(np.sin, 1.0) == pytest.approx(math.cos(1.0), rel=1e-10)
    assert central_difference(np.sin, 1.0, h=1e-3) == pytest.approx(math.cos(1.0), rel=1e-6)
    grid = np.linspace(0.0, 1.0, 4)
    np.testing.assert_allclose(central_difference(np.sin, grid), np.cos(grid), rtol=1e-10)
    with pytest.raises(TypeError, match="h=1e-4"):
        central_difference(np.sin, 1.0, 1e-4)  # a step passed where the direction goes


@pytest.mark.parametrize("name, f, x, exact", WELL_SCALED)
def test_each_method_at_its_default_step_has_its_textbook_accuracy(name, f, x, exact):
    for method, tolerance in [("forward", 1e-7), ("backward", 1e-7), ("central", 1e-9),
                              ("complex", 4 * EPS)]:
        got = derivative(f, x, method)
        assert abs(got - exact) <= tolerance * abs(exact), (name, method, got, exact)
    assert forward_difference(f, x) == derivative(f, x, "forward")
    assert backward_difference(f, x, h=1e-3) == derivative(f, x, "backward", h=1e-3)


def test_complex_step_is_exact_to_working_precision_for_any_tiny_step():
    f = lambda x: np.exp(x) / np.sqrt(np.sin(x) ** 3 + np.cos(x) ** 3)  # Squire & Trapp
    exact = ad.grad(f)(1.5)
    for h in (1e-8, 1e-20, 1e-100, 1e-300):
        assert complex_step(f, 1.5, h) == pytest.approx(exact, rel=1e-15, abs=0)
    assert complex_step(np.sin, 1.0) == math.cos(1.0)


def test_complex_step_says_what_f_must_do():
    with pytest.raises(TypeError, match="NumPy functions that accept complex"):
        complex_step(math.sin, 1.0)
    with pytest.raises(ValueError, match="imaginary part"):
        complex_step(lambda x: np.abs(x) ** 2, 1.0)
    with pytest.raises(ValueError, match="unknown method 'secant'"):
        derivative(np.sin, 1.0, "secant")


def vector_function(v):
    return np.stack([v[0] * v[1] * v[2], np.sin(v[0]) + v[1] ** 2])


@pytest.mark.parametrize("method, rtol", [("forward", 1e-6), ("backward", 1e-6),
                                          ("central", 1e-9), ("complex", 1e-14)])
def test_gradients_and_jacobians_match_adlab(method, rtol):
    x = np.array([0.5, -1.2, 2.0])
    J = jacobian(vector_function, x, method)
    assert J.shape == (2, 3)
    np.testing.assert_allclose(J, ad.jacfwd(vector_function)(x), rtol=rtol, atol=rtol)

    loss = lambda m: np.sum(np.sin(m) * m ** 2)
    m = np.arange(6.0).reshape(2, 3) / 4
    g = gradient(loss, m, method)
    assert g.shape == (2, 3)
    np.testing.assert_allclose(g, ad.grad(loss)(m), rtol=rtol, atol=rtol)


def test_gradient_of_a_vector_function_points_to_jacobian():
    with pytest.raises(ValueError, match="use jacobian"):
        gradient(vector_function, np.ones(3))


def test_truncation_slopes_one_and_two_and_round_off_slope_minus_one():
    steps = np.logspace(-16, 0, 161)
    for method, lo, hi, slope in [("forward", 1e-5, 1e-2, 1.0), ("backward", 1e-5, 1e-2, 1.0),
                                  ("central", 1e-3, 1e-1, 2.0), ("complex", 1e-3, 1e-1, 2.0)]:
        hs, errors = step_error(np.sin, np.cos, 1.0, method, steps)
        part = (hs >= lo) & (hs <= hi)
        fitted = np.polyfit(np.log10(hs[part]), np.log10(errors[part]), 1)[0]
        assert fitted == pytest.approx(slope, abs=0.05), method
    # round-off: the upper envelope falls one decade per decade of h (noisy, so loosely)
    hs, errors = step_error(np.sin, None, 1.0, "forward", steps)
    envelope = [errors[(hs >= h / 10) & (hs <= h)].max() for h in (1e-13, 1e-12, 1e-11)]
    ratios = np.array(envelope[:-1]) / np.array(envelope[1:])
    assert np.all((ratios > 3) & (ratios < 30)), ratios


def test_complex_step_error_has_no_round_off_side():
    hs, errors = step_error(np.exp, np.exp, 0.5, "complex")
    assert np.all(errors[hs <= 1e-8] <= 2 * EPS * np.exp(0.5))


@pytest.mark.parametrize("name, f, x, exact", WELL_SCALED)
@pytest.mark.parametrize("method", ["forward", "backward", "central"])
def test_best_steps_are_within_a_factor_ten_of_theory(name, f, x, exact, method):
    best = best_step(f, exact, x, method)
    simple = FORWARD_STEP if method != "central" else CENTRAL_STEP
    assert best.simple == simple
    assert 0.1 < best.step / best.theory < 10, (name, best)
    assert 0.1 < best.step / simple < 10, (name, best)
    # and only part of the digits survive even there: about half, or two thirds
    digits = -math.log10(max(best.error, 1e-300) / abs(exact))
    if method == "central":
        assert 9 < digits and best.theory_error < 1e-9
    else:
        assert 6.5 < digits and 1e-9 < best.theory_error < 1e-6


def test_the_model_optimum_follows_the_function_scale():
    """For f(x) = exp(x) / 100 at 1, |f| = |f''| still: the scale cancels; for x**3 at
    10, |f| / |f''| = 1000 / 60 and the optimum grows by sqrt(16.7) = 4."""
    base = best_step(np.exp, None, 1.0, "forward")
    scaled = best_step(lambda x: np.exp(x) / 100, None, 1.0, "forward")
    assert scaled.theory == pytest.approx(base.theory)
    big = best_step(cube, None, 10.0, "forward")
    assert big.theory == pytest.approx(math.sqrt(2 * EPS * 1000 / 60))
    assert 0.1 < big.ratio < 10


def test_best_step_refuses_the_complex_step():
    with pytest.raises(ValueError, match="no best step"):
        best_step(np.sin, np.cos, 1.0, "complex")


def test_plot_step_error_is_a_log_log_figure_with_models_and_best_steps():
    fig = plot_step_error(np.sin, np.cos, 1.0)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_xscale() == ax.get_yscale() == "log"
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(t.startswith("forward: best h = 1") for t in labels)
    assert any(t.startswith("central: best h = ") for t in labels)
    assert "complex (gaps: error exactly 0)" in labels
    assert any("truncation model" in t for t in labels)
    assert any("round-off model" in t for t in labels)
