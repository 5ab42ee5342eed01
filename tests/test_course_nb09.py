"""Notebook 09's checkers accept the reference solutions and reject typical mistakes."""

import numpy as np
import pytest
from course_cases import accepts, rejects

import adlab as ad
from course import catalog
from course.checking import evaluate
from course.exercises import nb09


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLAB_COURSE_DB", str(tmp_path / "progress.sqlite3"))


# -- reference solutions ------------------------------------------------------------

def second_derivative(f, x, v, at=0.0, order=2):
    g = lambda t: f(x + t * v)
    d = g
    for _ in range(order):
        d = ad.grad(d)
    return d(at)


def hvp(f, x, v):
    return ad.jvp(ad.grad(f), (x,), (v,))[1]


def newton_step(f, x):
    return x - np.linalg.solve(ad.hessian(f)(x), ad.grad(f)(x))


REFERENCE = {
    "09.second_derivative": second_derivative,
    "09.hvp": hvp,
    "09.newton_step": newton_step,
}

WRONG = {
    "09.second_derivative": {
        "the first derivative": lambda f, x, v: second_derivative(f, x, v, order=1),
        "at t = 1 instead of 0": lambda f, x, v: second_derivative(f, x, v, at=1.0),
        "half of it (a Taylor coefficient)": lambda f, x, v: second_derivative(f, x, v) / 2,
        "the trace of H, v ignored": lambda f, x, v: np.trace(ad.hessian(f)(x)),
    },
    "09.hvp": {
        "the gradient": lambda f, x, v: ad.grad(f)(x),
        "the gradient at v": lambda f, x, v: ad.grad(f)(v),
        "a seed of ones, v forgotten": lambda f, x, v: hvp(f, x, np.ones_like(v)),
        "builds the Hessian first": lambda f, x, v: ad.hessian(f)(x) @ v,
        "the directional derivative of f": lambda f, x, v: ad.jvp(f, (x,), (v,))[1],
    },
    "09.newton_step": {
        "sign error (uphill)": lambda f, x: x + np.linalg.solve(ad.hessian(f)(x),
                                                                ad.grad(f)(x)),
        "a gradient-descent step": lambda f, x: x - ad.grad(f)(x),
        "H times g instead of H^-1 g": lambda f, x: x - ad.hessian(f)(x) @ ad.grad(f)(x),
        "only the diagonal of H": lambda f, x: x - ad.grad(f)(x) / np.diag(ad.hessian(f)(x)),
    },
}


@pytest.mark.parametrize("exercise_id", list(REFERENCE))
def test_reference_solution_passes_with_grading_cases(exercise_id):
    accepts(exercise_id, REFERENCE[exercise_id])


@pytest.mark.parametrize("exercise_id,mistake",
                         [(e, m) for e, ms in WRONG.items() for m in ms])
def test_typical_mistakes_fail_in_the_learners_five_cases(exercise_id, mistake):
    rejects(exercise_id, WRONG[exercise_id][mistake])


def test_the_notebook_has_its_exercises_in_the_catalog():
    ids = [e.id for e in catalog.by_notebook()["09_higher_order"]]
    assert ids == list(REFERENCE) == list(WRONG)
    assert all(len(m) >= 2 for m in WRONG.values())


def test_the_first_cases_are_the_worked_example():
    result = evaluate(catalog.CATALOG["09.second_derivative"],
                      WRONG["09.second_derivative"]["the first derivative"])
    assert "Case 1 of 5" in result.message
    assert result.case.startswith("second_derivative(f, x=[2, 3], v=[1, 0])")
    assert result.expected == "d2 = -0.909297"        # -sin 2
    assert result.got == "d2 = 2.58385"               # 3 + cos 2
    case = catalog.CATALOG["09.second_derivative"].checker.fixed[1]
    want = catalog.CATALOG["09.second_derivative"].checker.expected(case)
    assert want["d2"] == pytest.approx(2 - np.sin(2.0))


def test_building_the_hessian_is_caught_by_counting_runs():
    result = evaluate(catalog.CATALOG["09.hvp"], WRONG["09.hvp"]["builds the Hessian first"])
    assert "runs_of_f is wrong" in result.message
    assert "runs_of_f = 2" in result.got and "runs_of_f = 1" in result.expected


def test_newton_from_the_classic_rosenbrock_start():
    exercise = catalog.CATALOG["09.newton_step"]
    want = exercise.checker.expected(exercise.checker.fixed[0])["x_new"]
    np.testing.assert_allclose(want, [-1.1752809, 1.3806742], rtol=1e-6)


def test_newton_cases_have_invertible_hessians():
    exercise = catalog.CATALOG["09.newton_step"]
    for case in exercise.checker.cases(exercise.rng("grade"), catalog.GRADE_CASES):
        H = ad.hessian(nb09.scalar_function(case))(case["x"])
        assert np.linalg.cond(H) < 1e5
