"""Each checker accepts its reference solution and rejects typical wrong answers."""

from pathlib import Path

import numpy as np
import pytest
from course_cases import accepts, make_derive, rejects
from hypothesis import given
from hypothesis import strategies as st

from course import catalog
from course.checking import evaluate
from course.expr import Variable, variables
from course.result import fmt


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLAB_COURSE_DB", str(tmp_path / "progress.sqlite3"))


# -- reference solutions and typical mistakes --------------------------------------

def sin_jvp(x, x_dot):
    return np.sin(x), np.cos(x) * x_dot


def div_vjp(g, x, y):
    return g / y, -g * x / y**2


REFERENCE = {
    "03.sin_tangent": sin_jvp,
    "04.div_vjp": div_vjp,
    "04.derive": make_derive(),
}

WRONG = {
    "03.sin_tangent": {
        "ignores the tangent": lambda x, x_dot: (np.sin(x), np.cos(x)),
        "sign error": lambda x, x_dot: (np.sin(x), -np.cos(x) * x_dot),
        "sin instead of cos": lambda x, x_dot: (np.sin(x), np.sin(x) * x_dot),
        "only the tangent": lambda x, x_dot: np.cos(x) * x_dot,
    },
    "04.div_vjp": {
        "the product's rule": lambda g, x, y: (g * y, g * x),
        "plus sign in y_bar": lambda g, x, y: (g / y, g * x / y**2),
        "forgets g": lambda g, x, y: (1 / y, -x / y**2),
        "transposed": lambda g, x, y: (np.transpose(g / y), np.transpose(-g * x / y**2)),
        "sums the cotangent": lambda g, x, y: (np.sum(g) / y, -np.sum(g) * x / y**2),
    },
    "04.derive": {
        "overwrites at variables": make_derive(at_variable="overwrite"),
        "child's own value": make_derive(multiply="own"),
        "drops the seed at Plus": make_derive(plus_seed=False),
    },
}


@pytest.mark.parametrize("exercise_id", list(REFERENCE))  # the later notebooks test their own
def test_reference_solution_passes_with_grading_cases(exercise_id):
    accepts(exercise_id, REFERENCE[exercise_id])


@pytest.mark.parametrize("exercise_id,mistake",
                         [(e, m) for e, ms in WRONG.items() for m in ms])
def test_typical_mistakes_fail_in_the_learners_five_cases(exercise_id, mistake):
    rejects(exercise_id, WRONG[exercise_id][mistake])


def test_every_exercise_has_two_or_more_rejected_mistakes():
    assert set(WRONG) == set(REFERENCE)
    assert all(len(m) >= 2 for m in WRONG.values())


def test_every_exercise_of_the_catalog_has_checker_tests():
    # the first four are tested here; every later notebook has tests/test_course_nbNN.py
    tested = "".join(p.read_text() for p in Path(__file__).parent.glob("test_course_*.py"))
    untested = [i for i in catalog.CATALOG if f'"{i}"' not in tested]
    assert untested == []


def test_the_first_case_is_the_worked_example():
    # 04.shared_adjoint has its own version of this test in test_course_nb04.py
    result = evaluate(catalog.CATALOG["04.derive"], WRONG["04.derive"]["overwrites at variables"])
    assert "Case 1 of 5" in result.message
    assert "expr = x * (x + y) + y * y, x = 2, y = 3" in result.case
    assert result.expected == "adjoints['x'] = 7, adjoints['y'] = 8"


def test_grading_uses_more_cases_than_the_learner_sees():
    exercise = catalog.CATALOG["04.derive"]
    seen = exercise.checker.cases(exercise.rng("check"), catalog.CHECK_CASES)
    graded = exercise.checker.cases(exercise.rng("grade"), catalog.GRADE_CASES)
    assert len(seen) == 5 and len(graded) == 50
    # a random tree shares subexpressions: some node is used by two later nodes
    uses = [i for case in graded for node in case["nodes"] if node[0] != "var"
            for i in node[1:]]
    assert len(uses) > len(set(uses))


def test_cases_are_seeded():
    exercise = catalog.CATALOG["03.sin_tangent"]
    a = exercise.checker.cases(exercise.rng("check"), 5)
    b = exercise.checker.cases(exercise.rng("check"), 5)
    assert all(np.array_equal(x["x"], y["x"]) for x, y in zip(a, b))


def test_a_weird_eq_object_fails_cleanly():
    class AlwaysEqual:
        def __eq__(self, other):
            return True

        __hash__ = None

    result = evaluate(catalog.CATALOG["03.sin_tangent"],
                      lambda x, x_dot: (AlwaysEqual(), AlwaysEqual()))
    assert result.status == "failed"
    assert "not a number" in result.message
    assert "0x" not in repr(result)  # no memory address in the feedback


def test_shapes_must_match():
    result = evaluate(catalog.CATALOG["03.sin_tangent"],
                      lambda x, x_dot: (np.sin(x), np.atleast_1d(np.cos(x) * x_dot)))
    assert result.status == "failed" and "shape" in result.message


def test_expression_tree_evaluates_and_prints():
    x, y = Variable("x", 2.0), Variable("y", 3.0)
    z = x * (x + y) + y * y
    assert z.evaluate() == 19.0
    assert repr(z) == "x * (x + y) + y * y"
    assert variables(z) == {"x": 2.0, "y": 3.0}
    adjoints = {}
    make_derive()(z, 1.0, adjoints)
    assert adjoints == {"x": 7.0, "y": 8.0}


def test_fmt_uses_six_significant_digits():
    assert fmt(np.sin(2.0)) == "0.909297"
    assert fmt([1.0, 2.5]) == "[1, 2.5]"
    assert fmt({"x": 7.0}) == "{'x': 7}"


@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_fmt_round_trips_to_six_digits(v):
    assert float(fmt(v)) == pytest.approx(v, rel=1e-5, abs=1e-300)
