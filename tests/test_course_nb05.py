"""Notebook 05's checkers accept the reference solutions and reject typical mistakes."""

import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
from course_cases import accepts, rejects, runner_and_here, same_verdict_test

import adlab as ad
from course import catalog, provided
from course.checkers import WrongOutput
from course.checking import evaluate
from course.exercises import nb05
from course.remote import RemoteFunction


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLAB_COURSE_DB", str(tmp_path / "progress.sqlite3"))


# -- reference solutions ------------------------------------------------------------

def jacobian_fwd(f, x, seed=lambda n, j: np.eye(n)[j], axis=1):
    n = len(x)
    columns = [ad.jvp(f, (x,), (seed(n, j),))[1] for j in range(n)]
    return np.stack(columns, axis=axis)


def jacobian_rev(f, x, axis=0, record_each_row=False):
    y, pullback = ad.vjp(f, x)
    rows = []
    for i in range(len(y)):
        if record_each_row:
            y, pullback = ad.vjp(f, x)
        rows.append(pullback(np.eye(len(y))[i])[0])
    return np.stack(rows, axis=axis)


def choose_mode(n, m):
    return "forward" if n < m else "reverse"


def matmul_vjp(y_bar, x, W):
    return y_bar @ W.T, x.T @ y_bar


REFERENCE = {
    "05.jacfwd_from_jvp": jacobian_fwd,
    "05.jacrev_from_vjp": jacobian_rev,
    "05.choose_mode": choose_mode,
    "05.matmul_vjp": matmul_vjp,
}


def finite_differences(f, x, h=1e-5):
    fx = np.asarray(f(x))
    return np.stack([(np.asarray(f(x + h * e)) - fx) / h for e in np.eye(len(x))], axis=1)


WRONG = {
    "05.jacfwd_from_jvp": {
        "transposed (columns stacked as rows)": lambda f, x: jacobian_fwd(f, x, axis=0),
        "seeds in reverse order": lambda f, x: jacobian_fwd(
            f, x, seed=lambda n, j: np.eye(n)[n - 1 - j]),
        "seed of ones for every column": lambda f, x: jacobian_fwd(
            f, x, seed=lambda n, j: np.ones(n)),
        "finite differences": finite_differences,
    },
    "05.jacrev_from_vjp": {
        "transposed (rows stacked as columns)": lambda f, x: jacobian_rev(f, x, axis=1),
        "records f once per row": lambda f, x: jacobian_rev(f, x, record_each_row=True),
        "one cotangent of ones": lambda f, x: np.tile(
            ad.vjp(f, x)[1](np.ones(len(f(x))))[0], (len(f(x)), 1)),
    },
    "05.choose_mode": {
        "always reverse (the backprop habit)": lambda n, m: "reverse",
        "always forward": lambda n, m: "forward",
        "the rule backwards": lambda n, m: "forward" if n > m else "reverse",
        "returns the number of passes": lambda n, m: min(n, m),
        "capitalised": lambda n, m: "Forward" if n < m else "Reverse",
    },
    "05.matmul_vjp": {
        "transposed W_bar (y_bar.T @ x)": lambda y_bar, x, W: (y_bar @ W.T, y_bar.T @ x),
        "W not transposed in x_bar": lambda y_bar, x, W: (y_bar @ W, x.T @ y_bar),
        "elementwise, as for a product": lambda y_bar, x, W: (y_bar * W, x * y_bar),
        "adjoints swapped": lambda y_bar, x, W: (x.T @ y_bar, y_bar @ W.T),
    },
}


@pytest.mark.parametrize("exercise_id", list(REFERENCE))
def test_reference_solution_passes_with_grading_cases(exercise_id):
    accepts(exercise_id, REFERENCE[exercise_id])


@pytest.mark.parametrize("exercise_id,mistake",
                         [(e, m) for e, ms in WRONG.items() for m in ms])
def test_typical_mistakes_fail_in_the_learners_five_cases(exercise_id, mistake):
    rejects(exercise_id, WRONG[exercise_id][mistake])


#: the other mode's Jacobian: switched off inside the learner's function (Exercise.off)
OTHER_MODE = {
    "05.jacfwd_from_jvp": ("ad.jacrev", lambda f, x: np.asarray(ad.jacrev(f)(x))),
    "05.jacrev_from_vjp": ("ad.jacfwd", lambda f, x: np.asarray(ad.jacfwd(f)(x))),
}


@pytest.mark.parametrize("exercise_id", list(OTHER_MODE))
def test_the_other_modes_jacobian_is_switched_off(exercise_id):
    name, wrong = OTHER_MODE[exercise_id]
    result = evaluate(catalog.CATALOG[exercise_id], wrong)
    assert result.status == "failed" and result.score == 0, repr(result)
    assert f"{name} is off inside" in result.message and result.hint


def test_the_notebook_has_its_exercises_in_the_catalog():
    ids = [e.id for e in catalog.by_notebook()["05_jacobians_and_cost"]]
    assert ids == list(REFERENCE) == list(WRONG)
    assert all(len(m) >= 2 for m in WRONG.values())


def test_a_transposed_jacobian_is_caught_by_its_shape_in_the_worked_example():
    result = evaluate(catalog.CATALOG["05.jacfwd_from_jvp"],
                      WRONG["05.jacfwd_from_jvp"]["transposed (columns stacked as rows)"])
    assert "Case 1 of 5" in result.message
    assert "J has shape (2, 3) but should have shape (3, 2)" in result.message
    assert "x = [2, 3]" in result.case
    assert result.expected.startswith("J = [[2.58385, 2]")  # 3 + cos 2 and 2


def test_square_cases_catch_a_transpose_by_its_values():
    exercise = catalog.CATALOG["05.jacrev_from_vjp"]
    cases = exercise.checker.cases(exercise.rng("check"), catalog.CHECK_CASES)
    square = [c for c in cases if c["n"] == c["m"] > 1]
    assert square
    for case in square:
        J = np.asarray(ad.jacrev(nb05.vector_function(case))(case["x"]))
        assert not np.allclose(J, J.T)


def test_one_recording_and_m_sweeps_are_what_adlab_measures():
    case = nb05.WORKED
    want = catalog.CATALOG["05.jacrev_from_vjp"].checker.expected(case)
    assert want["recordings_of_f"] == 1 and want["vjps"] == 3
    assert catalog.CATALOG["05.jacfwd_from_jvp"].checker.expected(case)["jvps"] == 2


def test_choose_mode_accepts_either_mode_on_a_tie_and_measures_the_passes():
    assert nb05.measured_passes(7, 3) == {"forward": 7, "reverse": 3}
    exercise = catalog.CATALOG["05.choose_mode"]
    ties = {"n": 8, "m": 8}
    for answer in ("forward", "reverse"):
        got = exercise.checker.call(lambda n, m, a=answer: a, ties, "choose_mode")
        assert got["passes"] == exercise.checker.expected(ties)["passes"] == 8
    graded = exercise.checker.cases(exercise.rng("grade"), catalog.GRADE_CASES)
    assert any(c["n"] == c["m"] for c in graded)
    assert any(abs(c["n"] - c["m"]) == 1 for c in graded)


def test_choose_mode_feedback_names_the_case():
    result = evaluate(catalog.CATALOG["05.choose_mode"], lambda n, m: "forward")
    assert result.case.startswith("choose_mode(n=1000, m=1)")
    assert result.expected == "passes = 1" and result.got == "passes = 1000"


def test_matmul_vjp_shapes_in_the_non_square_case():
    exercise = catalog.CATALOG["05.matmul_vjp"]
    case = exercise.checker.fixed[1]
    want = exercise.checker.expected(case)
    assert want["x_bar"].shape == case["x"].shape
    assert want["W_bar"].shape == case["W"].shape
    np.testing.assert_allclose(want["W_bar"], case["x"].T @ case["y_bar"])


def test_the_function_handed_over_is_a_recipe_that_counts_its_runs():
    exercise = catalog.CATALOG["05.jacrev_from_vjp"]
    seen = []

    def jacobian_rev(f, x):
        seen.append(f)
        f(x)                                   # one plain run, for its length
        return REFERENCE["05.jacrev_from_vjp"](f, x)

    got = exercise.checker.call(jacobian_rev, nb05.WORKED, "jacobian_rev")
    f = seen[0]
    assert isinstance(f, provided.Provided) and f.builder == "vector_function"
    assert (f.plain, f.on_tape, f.on_duals) == (1, 1, 0)
    assert (got["recordings_of_f"], got["vjps"]) == (1, 3)


def test_count_sweeps_reports_the_value_and_the_sweeps_of_one_call():
    f = nb05.vector_function(nb05.WORKED)
    ran = provided.PROCEDURES["count_sweeps"](ad.jacrev(f), nb05.WORKED["x"])
    assert (ran["forward_sweeps"], ran["recordings"], ran["reverse_sweeps"]) == (0, 1, 3)
    np.testing.assert_allclose(ran["value"], ad.jacfwd(f)(nb05.WORKED["x"]))


def test_a_garbled_sweep_count_is_not_taken_for_a_number():
    class Tampered:  # what a runner whose procedures were replaced might send
        def run_procedure(self, name, *args):
            return {"value": np.zeros((3, 2)), "reverse_sweeps": "3"}

    with pytest.raises(WrongOutput, match="could not be counted"):
        catalog.CATALOG["05.jacrev_from_vjp"].checker.call(Tampered(), nb05.WORKED,
                                                           "jacobian_rev")


def test_the_counts_come_back_from_the_runner(learner):
    runner, _ = learner
    for exercise_id, name, want in [
            ("05.jacfwd_from_jvp", "jacobian_fwd", {"jvps": 2}),
            ("05.jacfwd_from_jvp", "jacobian_fwd_by_reverse_mode", {"jvps": 0}),
            ("05.jacrev_from_vjp", "jacobian_rev", {"recordings_of_f": 1, "vjps": 3}),
            ("05.jacrev_from_vjp", "jacobian_rev_records_each_row",
             {"recordings_of_f": 3, "vjps": 3})]:
        exercise = catalog.CATALOG[exercise_id]
        fn = RemoteFunction(runner, name, time.monotonic() + 60)
        got = exercise.checker.call(fn, nb05.WORKED, exercise.name)
        assert {k: got[k] for k in want} == want, name


NOTEBOOK = "05_jacobians_and_cost"
MISTAKES = '''
def jacobian_fwd_transposed(f, x):
    return np.stack([ad.jvp(f, (x,), (e,))[1] for e in np.eye(len(x))], axis=0)


def jacobian_fwd_by_reverse_mode(f, x):
    return np.asarray(ad.jacrev(f)(x))


def jacobian_rev_records_each_row(f, x):
    m = len(f(x))
    return np.stack([ad.vjp(f, x)[1](e)[0] for e in np.eye(m)], axis=0)


def jacobian_rev_by_forward_mode(f, x):
    return np.asarray(ad.jacfwd(f)(x))


def jacobian_rev_one_vjp(f, x):
    y, pullback = ad.vjp(f, x)
    return np.tile(pullback(np.ones(len(y)))[0], (len(y), 1))


def choose_mode_number(n, m):
    return min(n, m)


def matmul_vjp_swapped(y_bar, x, W):
    return x.T @ y_bar, y_bar @ W.T
'''

#: (exercise, learner function, status, part of the message)
REMOTE = [
    ("05.jacfwd_from_jvp", "jacobian_fwd", "passed", ""),
    ("05.jacfwd_from_jvp", "jacobian_fwd_transposed", "failed",
     "J has shape (2, 3) but should have shape (3, 2)"),
    ("05.jacfwd_from_jvp", "jacobian_fwd_by_reverse_mode", "failed", "jvps is wrong"),
    ("05.jacrev_from_vjp", "jacobian_rev", "passed", ""),
    ("05.jacrev_from_vjp", "jacobian_rev_records_each_row", "failed",
     "recordings_of_f is wrong"),
    ("05.jacrev_from_vjp", "jacobian_rev_by_forward_mode", "failed",
     "recordings_of_f is wrong"),
    ("05.jacrev_from_vjp", "jacobian_rev_one_vjp", "failed", "J is wrong"),
    ("05.choose_mode", "choose_mode", "passed", ""),
    ("05.choose_mode", "choose_mode_number", "wrong", 'should return "forward" or "reverse"'),
    ("05.matmul_vjp", "matmul_vjp", "passed", ""),
    ("05.matmul_vjp", "matmul_vjp_swapped", "failed", "x_bar is wrong"),
]


# -- the same checks as grading runs them (see course_cases.both_ways) -------------------

@pytest.fixture(scope="module")
def learner(tmp_path_factory):
    """(runner, namespace here): the same learner code in a runner and in this process."""
    yield from runner_and_here(tmp_path_factory, NOTEBOOK, MISTAKES)


test_a_runner_gets_the_same_verdict_as_this_process = same_verdict_test(REMOTE)


# -- the text before 05.matmul_vjp teaches the idea on another product, not its answer ------

RELEASED = Path(__file__).resolve().parents[1] / "notebooks" / f"{NOTEBOOK}.ipynb"

#: the answer's two formulas, as code and as LaTeX (after squeezing, see below)
ANSWER_FORMS = (".T@y_bar", "y_bar@W.T", "y_bar@Wm.T", "x^\\top\\bary", "x^T\\bary",
                "\\baryW^\\top", "\\baryW^T")


def squeezed(text):
    """The text without blanks, LaTeX spacing and braces, so each formula has one form."""
    for noise in ("\\,", "\\;", "\\!", "\\quad", "{", "}"):
        text = text.replace(noise, "")
    return "".join(text.split())


def test_no_cell_before_the_matmul_exercise_states_its_formulas():
    cells = nbformat.read(RELEASED, as_version=4).cells
    at = next(i for i, cell in enumerate(cells)
              if cell.metadata.get("course", {}).get("exercise") == "05.matmul_vjp")
    before = [squeezed(cell.source) for cell in cells[:at]]
    assert any("\\barA=\\baryv^\\top" in text for text in before)  # the worked example
    for form in ANSWER_FORMS:
        assert not [text for text in before if form in text], form


def test_the_matmul_task_keeps_its_rules_and_the_hints_stop_short_of_the_formulas():
    exercise = catalog.CATALOG["05.matmul_vjp"]
    cells = nbformat.read(RELEASED, as_version=4).cells
    task = next(cell.source for cell in cells
                if cell.cell_type == "markdown" and "Exercise 05.matmul_vjp" in cell.source)
    assert task.rstrip().endswith(exercise.rules())
    for hint in exercise.hints:
        assert not [form for form in ANSWER_FORMS if form in squeezed(hint)], hint
