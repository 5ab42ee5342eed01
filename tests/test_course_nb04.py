"""Notebook 04's new checker (04.saved_values) accepts its reference and rejects mistakes.

(04.mul_vjp, 04.shared_adjoint and 04.derive are tested in test_course_checkers.py.)
"""

import pytest

import adlab as ad
from course import catalog
from course.checking import evaluate
from course.exercises import nb04


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLAB_COURSE_DB", str(tmp_path / "progress.sqlite3"))


EXERCISE = "04.saved_values"


def make_saved_values(reads=None):
    """What each operation's local partials read; the union over the program."""
    rules = {"add": "", "sub": "", "mul": "args", "sin": "args", "square": "args",
             "exp": "result"}
    rules.update(reads or {})

    def saved_values(program):
        stored = set()
        for name, op, *args in program:
            if rules[op] == "args":
                stored.update(args)
            elif rules[op] == "result":
                stored.add(name)
            elif rules[op] == "everything":
                stored.update(args)
                stored.add(name)
        return stored
    return saved_values


def every_intermediate(program):
    return {name for name, *_ in program}


def operands_of_every_step(program):
    return {a for _, _, *args in program for a in args}


WRONG = {
    "the wrong idea: a, b and c": lambda program: {"a", "b", "c"},
    "every intermediate": every_intermediate,
    "the operands of every step": operands_of_every_step,
    "exp reads its operand": make_saved_values({"exp": "args"}),
    "add and sub read their operands": make_saved_values({"add": "args", "sub": "args"}),
    "a name that is not there": lambda program: {"x1", "x2", "c", "w"},
    "a string, not a set": lambda program: "x1 x2 c",
}


def test_reference_solution_passes_with_grading_cases():
    exercise = catalog.CATALOG[EXERCISE]
    result = evaluate(exercise, make_saved_values(), cases=catalog.GRADE_CASES,
                      purpose="grade")
    assert result.passed, repr(result)
    assert result.score == exercise.points


def test_lists_and_tuples_are_accepted_too():
    ref = make_saved_values()
    result = evaluate(catalog.CATALOG[EXERCISE], lambda program: sorted(ref(program)))
    assert result.passed, repr(result)


@pytest.mark.parametrize("mistake", list(WRONG))
def test_typical_mistakes_fail_in_the_learners_five_cases(mistake):
    result = evaluate(catalog.CATALOG[EXERCISE], WRONG[mistake])
    assert result.status == "failed", repr(result)
    assert result.score == 0
    assert result.case and result.expected and result.hint


def test_the_first_case_is_the_worked_example_and_says_x1_x2_c():
    result = evaluate(catalog.CATALOG[EXERCISE], WRONG["the wrong idea: a, b and c"])
    assert "Case 1 of 5" in result.message
    assert "a = x1 * x2; b = x3 + x4; c = a - b; f = c ** 2" in result.case
    stored = [part.split(" stored")[0] for part in result.expected.split(", ")
              if part.endswith("= 1")]
    assert stored == ["x1", "x2", "c"]


def test_expected_values_agree_with_the_trace_of_the_worked_example():
    case = nb04.SavedValues.fixed[0]
    expected = nb04.SavedValues().expected(case)
    t = ad.trace(lambda x1, x2, x3, x4: (x1 * x2 - (x3 + x4)) ** 2, 1.5, -2.0, 0.5, 3.0)
    assert t.saved() == ["v-3", "v-2", "v3"]
    assert [k for k, v in expected.items() if v == 1] == ["x1 stored", "x2 stored",
                                                          "c stored"]


def test_random_programs_use_every_operation_and_share_values():
    exercise = catalog.CATALOG[EXERCISE]
    cases = exercise.checker.cases(exercise.rng("grade"), catalog.GRADE_CASES)
    ops = {step[1] for case in cases for step in case["program"]}
    assert ops == set(nb04.SAVED_OPS)
    for case in cases[len(exercise.checker.fixed):]:  # each step feeds the next one
        program = case["program"]
        for before, after in zip(program, program[1:]):
            assert before[0] in after[2:]


def test_program_text():
    assert nb04.program_text([("a", "mul", "x", "y"), ("b", "exp", "a"),
                              ("c", "square", "b")]) == "a = x * y; b = exp(a); c = b ** 2"


def test_notebook_04_has_at_least_three_exercises_of_its_own():
    assert len(nb04.EXERCISES) >= 3
    assert all(e.notebook == "04_reverse_mode" and e.id.startswith("04.")
               for e in nb04.EXERCISES)
