"""Notebooks 06 and 07: each known mistake is named, with the case's numbers, when a learner
makes it; the notebooks' own solutions still pass; every exercise has three hint stages."""

from pathlib import Path

import nbformat
import numpy as np
import pytest

import adlab as ad
from course import catalog, check
from course.exercises import nb06

SOURCES = Path(__file__).resolve().parent.parent / "course" / "sources"
NOTEBOOKS = ("06_static_and_dynamic", "07_backprop_mlp")
IDS = ("06.predict_guard", "06.rewrite_with_where", "06.unrolled_size",
       "07.softmax_ce_vjp", "07.linear_vjp", "07.activation_vjps", "07.sgd_step")


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLAB_COURSE_DB", str(tmp_path / "p.sqlite3"))


def solutions() -> dict:
    """The learner functions the source notebooks define in their solution cells, by
    exercise id (each cell run in a namespace with what the notebook provides)."""
    found = {}
    for stem in NOTEBOOKS:
        notebook = nbformat.read(SOURCES / f"{stem}.ipynb", as_version=4)
        for cell in notebook.cells:
            exercise_id = cell.metadata.get("course", {}).get("exercise")
            if cell.cell_type != "code" or exercise_id not in IDS:
                continue
            space = {"np": np, "ad": ad, "clipped": nb06.clipped,
                     "babylonian": nb06.babylonian}
            exec(cell.source, space)
            found[exercise_id] = space[catalog.CATALOG[exercise_id].name]
    return found


SOLUTIONS = solutions()


# -- learners who make one mistake each, written as a learner would ----------------------

# 06.predict_guard

def breaks_inverted(x0, x):
    same_first = (x0 > 1.0) == (x > 1.0)
    same_second = (x0 < -0.5) == (x < -0.5)
    return same_first and same_second      # True where the replay works


def breaks_inclusive(x0, x):
    def where_to(u):
        if u >= 1.0:
            return "top"
        if u <= -0.5:
            return "bottom"
        return "mid"
    return where_to(x0) != where_to(x)


def breaks_first_test_only(x0, x):
    return (x0 > 1.0) != (x > 1.0)


# 06.rewrite_with_where

def clipped_by_value(x):
    # reads the number behind x so that the trace has no guards
    if x.value > 1.0:
        return 2 * x - 1
    if x.value < -0.5:
        return -x
    return x * x


def clipped_inclusive(x):
    return ad.where(x >= 1.0, 2 * x - 1, ad.where(x <= -0.5, -x, x * x))


def clipped_swapped(x):
    # reads ad.where(cond, a, b) as "a where cond is False"
    middle_or_low = ad.where(x < -0.5, x * x, -x)
    return ad.where(x > 1.0, middle_or_low, 2 * x - 1)


# 06.unrolled_size

def _loop_count(a):
    x, n = a, 0
    while x * x - a > 1e-6:
        x = 0.5 * (x + a / x)
        n += 1
    return n


def size_last_test_forgotten(a):
    n = _loop_count(a)
    return 1 + 2 * n + 3 * n, n


def size_guards_as_nodes(a):
    n = _loop_count(a)
    guards = n + 1
    return 1 + 2 * guards + 3 * n + guards, guards


def size_input_forgotten(a):
    n = _loop_count(a)
    return 2 * (n + 1) + 3 * n, n + 1


# 07.softmax_ce_vjp

def _rows_softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _one_hot(labels, n_classes):
    return np.eye(n_classes)[labels]


def ce_not_divided(z, labels):
    return _rows_softmax(z) - _one_hot(labels, z.shape[1])


def ce_divided_twice(z, labels):
    n = z.shape[0]
    return (_rows_softmax(z) - _one_hot(labels, z.shape[1])) / n / n


def ce_sign_flipped(z, labels):
    return (_one_hot(labels, z.shape[1]) - _rows_softmax(z)) / len(z)


def ce_column_softmax(z, labels):
    p = np.exp(z) / np.exp(z).sum(axis=0)
    return (p - _one_hot(labels, z.shape[1])) / len(z)


# 07.linear_vjp

def linear_transposed(dz, x, W):
    return dz @ W.T, dz.T @ x, dz.sum(axis=0)


def linear_db_per_row(dz, x, W):
    return dz @ W.T, x.T @ dz, dz


def linear_db_mean(dz, x, W):
    return dz @ W.T, x.T @ dz, np.mean(dz, axis=0)


# 07.activation_vjps

def act_applied_again(kind, dh, h):
    if kind == "tanh":
        return dh * (1 - np.tanh(h) ** 2)
    s = 1 / (1 + np.exp(-h))
    return dh * s * (1 - s)


def act_without_dh(kind, dh, h):
    return 1 - h * h if kind == "tanh" else h * (1 - h)


def act_rules_swapped(kind, dh, h):
    if kind == "sigmoid":
        return dh * (1 - h ** 2)
    return dh * h * (1 - h)


# 07.sgd_step

def sgd_ascent(params, grads, lr):
    return [p + lr * g for p, g in zip(params, grads)]


def sgd_no_rate(params, grads, lr):
    out = []
    for p, g in zip(params, grads):
        out.append(p - g)
    return out


def sgd_steps_only(params, grads, lr):
    return [lr * g for g in grads]


#: (exercise, mistake code, learner function, numbers of the case the message must show)
MISTAKES = [
    ("06.predict_guard", "breaks-inverted", breaks_inverted,
     ["x = -2 you answered False", "x0 = 0.25"]),
    ("06.predict_guard", "boundary-on-wrong-side", breaks_inclusive,
     ["x = -0.5", "x0 = 0.25", "you answered True"]),
    ("06.predict_guard", "only-first-guard", breaks_first_test_only,
     ["x0 = 0.25", "x = -2"]),
    ("06.rewrite_with_where", "branch-of-x0-everywhere", clipped_by_value,
     ["x0 = 0.25", "at x = -2 it gives 4", "clipped(-2) = 2"]),
    ("06.rewrite_with_where", "boundary-on-wrong-side", clipped_inclusive,
     ["x = -0.5 your graph gives 0.5", "clipped(-0.5) = 0.25"]),
    ("06.rewrite_with_where", "where-arguments-swapped", clipped_swapped,
     ["gives -5 at x = -2", "clipped(-2) = 2"]),
    ("06.unrolled_size", "last-test-forgotten", size_last_test_forgotten,
     ["a = 2", "k = 4", "23 nodes and 5 guards", "you have 21 and 4"]),
    ("06.unrolled_size", "guards-counted-as-nodes", size_guards_as_nodes,
     ["a = 2", "23 nodes", "you have 28 and 5"]),
    ("06.unrolled_size", "input-not-counted", size_input_forgotten,
     ["a = 2", "you have 22 and 5"]),
    ("07.softmax_ce_vjp", "not-divided-by-batch", ce_not_divided,
     ["N = 2", "should be 0.0450153", "not 0.0900306"]),
    ("07.softmax_ce_vjp", "divided-by-batch-twice", ce_divided_twice,
     ["N = 2", "not 0.0225076"]),
    ("07.softmax_ce_vjp", "one-hot-minus-softmax", ce_sign_flipped,
     ["should be 0.0450153", "not -0.0450153"]),
    ("07.softmax_ce_vjp", "softmax-over-batch-axis", ce_column_softmax,
     ["should be 0.0450153", "not 0.25"]),
    ("07.linear_vjp", "transposed-weight-gradient", linear_transposed,
     ["dW[0, 1] should be -2, not 2.25"]),
    ("07.linear_vjp", "bias-gradient-not-summed", linear_db_per_row,
     ["2 rows", "[1.5, 1, 1]", "shape (2, 3)"]),
    ("07.linear_vjp", "bias-gradient-averaged", linear_db_mean,
     ["[1.5, 1, 1]", "mean [0.75, 0.5, 0.5]"]),
    ("07.activation_vjps", "activation-applied-to-output", act_applied_again,
     ["h = 0.462117", "should be 0.786448, not 0.813542"]),
    ("07.activation_vjps", "incoming-adjoint-dropped", act_without_dh,
     ["dh = 0.5", "should be 0.0353254, not 0.0706508"]),
    ("07.activation_vjps", "activation-rules-swapped", act_rules_swapped,
     ["h = 0.462117", "not 0.248565"]),
    ("07.sgd_step", "gradient-ascent", sgd_ascent,
     ["params[0][0, 0] = 1", "lr = 0.1", "should become 0.95, not 1.05"]),
    ("07.sgd_step", "learning-rate-forgotten", sgd_no_rate,
     ["lr = 0.1", "should become 0.95, not 0.5"]),
    ("07.sgd_step", "step-returned", sgd_steps_only,
     ["lr = 0.1", "should become 0.95, not 0.05"]),
]


@pytest.mark.parametrize("exercise_id,code,learner,numbers", MISTAKES,
                         ids=[f"{e}:{c}" for e, c, _, _ in MISTAKES])
def test_a_learner_who_makes_the_mistake_is_told_which_with_the_case_numbers(
        exercise_id, code, learner, numbers):
    result = check(exercise_id, learner, record=False)
    assert result.status == "failed", repr(result)
    assert result.misconception == code, repr(result)
    assert result.message.startswith("Case "), result.message
    for number in numbers:
        assert number in result.message, (number, result.message)
    assert result.hint_stage == 1 and result.hint_stages == 3


def test_every_known_mistake_of_06_and_07_has_a_learner_here():
    listed = {(e, c) for e, c, _, _ in MISTAKES}
    known = {(e, m.code) for e in IDS for m in catalog.CATALOG[e].mistakes}
    assert listed == known
    assert all(len(catalog.CATALOG[e].mistakes) >= 2 for e in IDS)


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_notebooks_solution_still_passes(exercise_id):
    result = check(exercise_id, SOLUTIONS[exercise_id], record=False)
    assert result.passed, repr(result)
    assert result.misconception == ""


@pytest.mark.parametrize("exercise_id", IDS)
def test_three_hint_stages(exercise_id):
    exercise = catalog.CATALOG[exercise_id]
    assert len(exercise.hints) == 3
    assert len(set(exercise.hints)) == 3


@pytest.mark.parametrize("exercise_id", IDS)
def test_mistakes_run_on_every_grading_case_and_never_match_the_right_answer(exercise_id):
    # in grading, wrong() and explain() see 50 cases: none may raise, no text may keep a
    # placeholder, and no mistake may coincide with the right answer on every case
    exercise = catalog.CATALOG[exercise_id]
    cases = exercise.checker.cases(exercise.rng("grade"), catalog.GRADE_CASES)
    for mistake in exercise.mistakes:
        differs = 0
        for case in cases:
            wrong = mistake.wrong(dict(case))
            right = exercise.checker.expected(case)
            assert wrong.keys() == right.keys()
            same = all(np.shape(wrong[k]) == np.shape(right[k])
                       and np.allclose(np.asarray(wrong[k], float), right[k]) for k in right)
            if not same:
                differs += 1
                text = mistake.explain(dict(case))
                assert "{" not in text and len(text) > 40, text
        assert differs, (exercise_id, mistake.code)
