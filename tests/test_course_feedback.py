"""Feedback that teaches: known mistakes named with the failing case's numbers, and hints
that grow more concrete with each failed attempt (never the complete code)."""

import numpy as np
import pytest

from course import catalog, check
from course.exercise import Mistake


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLAB_COURSE_DB", str(tmp_path / "progress.sqlite3"))


def product_rule(g, x, y):
    return g * y, g * x      # the product's reverse rule, pasted for x / y


def test_a_known_mistake_is_named_with_the_numbers_of_the_case():
    result = check("04.div_vjp", product_rule, record=False)
    assert result.misconception == "product-rule-pasted"
    assert result.message.startswith("Case 1 of 5: The pair (g * y, g * x) is the reverse "
                                     "rule of the PRODUCT")
    assert "At g = 2, x = 3, y = 2, (x_bar, y_bar) should be (1, -1.5), not (4, 6)" \
        in result.message
    dropped = check("04.div_vjp", lambda g, x, y: (1 / y, -x / y**2), record=False)
    assert dropped.misconception == "cotangent-dropped" and "g = 2" in dropped.message
    # on an array case the feedback carries that case's arrays
    exercise = catalog.CATALOG["04.div_vjp"]
    on_arrays = next(m for m in exercise.mistakes if m.code == "cotangent-dropped")
    assert "g = [0.5, -1, 2]" in on_arrays.explain(dict(exercise.checker.fixed[1]))


def test_an_unknown_wrong_answer_gets_the_generic_comparison():
    result = check("04.div_vjp", lambda g, x, y: (g + y, x), record=False)
    assert result.misconception == "" and "x_bar is wrong" in result.message


def test_hints_grow_more_concrete_with_each_failed_attempt_then_stay():
    exercise = catalog.CATALOG["04.div_vjp"]
    seen = [check("04.div_vjp", product_rule) for _ in range(4)]
    assert [r.hint for r in seen] == [*exercise.hints, exercise.hints[-1]]
    assert "hint 1 of 3:" in repr(seen[0]) and "hint 3 of 3:" in repr(seen[3])
    passed = check("04.div_vjp", lambda g, x, y: (g / y, -g * x / y**2))
    assert passed.passed and "hint" not in repr(passed)


def test_hints_and_mistakes_are_well_formed():
    for exercise in catalog.EXERCISES:
        assert all(isinstance(h, str) and len(h) > 20 for h in exercise.hints), exercise.id
        codes = [m.code for m in exercise.mistakes]
        assert len(codes) == len(set(codes)), exercise.id
        assert all(isinstance(m, Mistake) and m.code.replace("-", "").isalnum()
                   for m in exercise.mistakes), exercise.id
        # a known mistake is wrong on some case a learner sees (else it is never named)
        cases = exercise.checker.cases(exercise.rng("check"), catalog.CHECK_CASES)
        for mistake in exercise.mistakes:
            assert any(_differs(mistake.wrong(dict(c)), exercise.checker.expected(c))
                       for c in cases), (exercise.id, mistake.code)


def _differs(wrong, right):
    if isinstance(wrong, list):  # a mistake with versions: every version is wrong
        return all(_differs(version, right) for version in wrong)
    return any(np.shape(wrong[k]) != np.shape(right[k])
               or not np.allclose(np.asarray(wrong[k], float), right[k]) for k in right)


def test_every_task_states_how_it_is_checked():
    """Tolerance and the switched-off transformations, in the task above the exercise."""
    from course import release

    for stem, nb in release.read_sources().items():
        for i, cell in enumerate(nb.cells):
            exercise_id = release.meta(cell).get("exercise")
            if exercise_id:
                task = next(c.source for c in reversed(nb.cells[:i])
                            if c.cell_type == "markdown" and f"Exercise {exercise_id}" in c.source)
                rules = catalog.CATALOG[exercise_id].rules()
                assert rules in task, f"{stem}: the task of {exercise_id} should say: {rules}"


def test_every_exercise_has_three_hint_stages_and_two_known_mistakes():
    for exercise in catalog.EXERCISES:
        assert len(exercise.hints) == 3 and len(set(exercise.hints)) == 3, exercise.id
        assert len(exercise.mistakes) >= 2, exercise.id
