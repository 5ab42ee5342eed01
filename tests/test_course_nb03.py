"""Notebook 03's new checkers accept their reference solutions and reject typical mistakes.

(03.sin_tangent is tested with the original checkers in test_course_checkers.py.)
"""


import numpy as np
import pytest
from course_cases import accepts, rejects, texts_above

from course import catalog, release
from course.checking import evaluate
from course.exercises import nb03


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLAB_COURSE_DB", str(tmp_path / "progress.sqlite3"))


# -- reference solutions -----------------------------------------------------------

def div_jvp(x, x_dot, y, y_dot):
    z = x / y
    return z, x_dot / y - x * y_dot / y**2


def make_forward_sweep(a_rule="product", c_sign=-1.0, f_rule="chain"):
    def forward_sweep(x, x_dot):
        x1, x2, x3, x4 = x
        x1_dot, x2_dot, x3_dot, x4_dot = x_dot
        a = x1 * x2
        if a_rule == "product":
            a_dot = x1_dot * x2 + x1 * x2_dot
        elif a_rule == "one term":
            a_dot = x1_dot * x2
        else:  # the product of the tangents
            a_dot = x1_dot * x2_dot
        b, b_dot = x3 + x4, x3_dot + x4_dot
        c, c_dot = a - b, a_dot + c_sign * b_dot
        f = c**2
        f_dot = 2 * c * c_dot if f_rule == "chain" else 2 * c_dot
        return f, f_dot
    return forward_sweep


SEEDS = {"a": (0, 1), "b": (0, 0, 0, 1), "c": (5 / 13, 12 / 13), "d": (2, -1, 0, 0),
         "e": (1, 0, -1, 0)}


def seeds_with(**changes):
    return lambda: {**SEEDS, **changes}


REFERENCE = {
    "03.div_tangent": div_jvp,
    "03.forward_sweep": make_forward_sweep(),
    "03.choose_seed": seeds_with(),
}

WRONG = {
    "03.div_tangent": {
        "sign error": lambda x, x_dot, y, y_dot: (x / y, x_dot / y + x * y_dot / y**2),
        "forgets the square": lambda x, x_dot, y, y_dot: (x / y, x_dot / y - x * y_dot / y),
        "forgets y_dot": lambda x, x_dot, y, y_dot: (x / y, x_dot / y),
        "numerator reversed": lambda x, x_dot, y, y_dot: (x / y,
                                                          (x * y_dot - x_dot * y) / y**2),
    },
    "03.forward_sweep": {
        "sign error in c_dot": make_forward_sweep(c_sign=1.0),
        "one term of the product rule": make_forward_sweep(a_rule="one term"),
        "product of tangents": make_forward_sweep(a_rule="tangents"),
        "forgets c in f_dot": make_forward_sweep(f_rule="no c"),
    },
    "03.choose_seed": {
        "swapped seed for a partial": seeds_with(a=(1, 0)),
        "swapped rates": seeds_with(d=(-1, 2, 0, 0)),
        "direction not normalised": seeds_with(c=(5, 12)),
        "direction with its components swapped": seeds_with(c=(12 / 13, 5 / 13)),
        "the unit vector of section 3, (0.6, 0.8)": seeds_with(c=(0.6, 0.8)),
        "sum instead of difference": seeds_with(e=(1, 0, 1, 0)),
        "seed of the wrong length": seeds_with(b=(0, 1)),
        "not a dict": lambda: [SEEDS[k] for k in "abcde"],
        "a question missing": lambda: {k: v for k, v in SEEDS.items() if k != "e"},
    },
}


@pytest.mark.parametrize("exercise_id", list(REFERENCE))
def test_reference_solution_passes_with_grading_cases(exercise_id):
    accepts(exercise_id, REFERENCE[exercise_id])


@pytest.mark.parametrize("exercise_id,mistake",
                         [(e, m) for e, ms in WRONG.items() for m in ms])
def test_typical_mistakes_fail_in_the_learners_five_cases(exercise_id, mistake):
    rejects(exercise_id, WRONG[exercise_id][mistake])


def test_every_new_exercise_of_notebook_03_is_tested():
    ids = {e.id for e in nb03.EXERCISES} - {"03.sin_tangent"}
    assert ids == set(REFERENCE) == set(WRONG)
    assert all(len(m) >= 2 for m in WRONG.values())
    assert len(nb03.EXERCISES) >= 3
    assert all(e.notebook == "03_forward_mode" for e in nb03.EXERCISES)


@pytest.mark.parametrize("alternative", [
    {"b": (0, 0, 1, 0)},            # df/dx3 = df/dx4 everywhere: x3, x4 enter as x3 + x4
    {"b": (0, 0, 0.5, 0.5)},
    {"a": np.array([0.0, 1.0])},    # arrays and lists are seeds too
    {"e": [1, 0, 0, -1]},
    {"c": np.array([5.0, 12.0]) / 13},
    {"d": (2, -1, 0.5, -0.5)},     # x3 up and x4 down at the same rate: x3 + x4 stays put
])
def test_any_correct_seed_passes(alternative):
    exercise = catalog.CATALOG["03.choose_seed"]
    result = evaluate(exercise, seeds_with(**alternative), cases=catalog.GRADE_CASES,
                      purpose="grade")
    assert result.passed, repr(result)


def test_seed_feedback_names_the_question_and_the_worked_numbers():
    result = evaluate(catalog.CATALOG["03.choose_seed"], WRONG["03.choose_seed"][
        "swapped seed for a partial"])
    assert "Case 1 of 5" in result.message and "a: dz/dx2" in result.message
    assert "a: dz/dx2 = 2," in result.expected + ","
    assert "a: dz/dx2 = 2.58385" in result.got


def test_forward_sweep_first_cases_are_the_worked_example():
    exercise = catalog.CATALOG["03.forward_sweep"]
    result = evaluate(exercise, WRONG["03.forward_sweep"]["forgets c in f_dot"])
    assert result.case == "forward_sweep(x=[1.5, -2, 0.5, 3], x_dot=[1, 0, 0, 0])"
    assert result.expected == "f = 42.25, f_dot = 26"


def test_div_tangent_first_case_is_the_partial_with_respect_to_x():
    result = evaluate(catalog.CATALOG["03.div_tangent"],
                      WRONG["03.div_tangent"]["numerator reversed"])
    assert result.expected == "z = 0.5, z_dot = 0.5"


def test_seed_questions_store_no_seeds_and_expect_the_worked_numbers():
    # a question is its function, its inputs, its point and what is wanted: no seed
    for question in nb03.SEED_QUESTIONS.values():
        assert set(vars(question)) == {"function", "inputs", "at", "label", "wanted"}
    # the wanted derivatives come from the gradient, combined as each question says:
    # grad z = (3 + cos 2, 2) at (2, 3); grad f = (26, -19.5, 13, 13) at (1.5, -2, 0.5, 3)
    checker = catalog.CATALOG["03.choose_seed"].checker
    expected = checker.expected(checker.fixed[0])
    dz_dx1 = 3 + np.cos(2.0)
    assert {label: float(v) for label, v in expected.items()} == pytest.approx({
        "a: dz/dx2": 2.0,
        "b: df/dx4": 13.0,
        "c: z towards (5, 12)": (5 * dz_dx1 + 12 * 2.0) / 13,
        "d: f, x1 up 2, x2 down 1": 2 * 26.0 + 19.5,
        "e: df/dx1 - df/dx3": 26.0 - 13.0,
    })


# -- the notebook teaches the idea, the learner applies it (issue 13) -------------------

def test_no_cell_above_sin_tangent_states_the_rule_of_sin():
    texts = texts_above("03_forward_mode", "03.sin_tangent")
    for text in texts:
        flat = text.replace(" ", "")
        assert not ("cos(x)" in flat and "x_dot" in text), text
        assert not ("\\cos" in text and "\\dotx" in flat), text
        assert "ad.jvp(ad.sin" not in flat, text
    # the worked example is another primitive, and the general pattern is stated
    assert any("e^x\\,\\dot x" in text for text in texts)
    assert any("f'(x)\\,\\dot x" in text for text in texts)


def test_no_cell_above_div_tangent_states_the_quotient_rule():
    texts = texts_above("03_forward_mode", "03.div_tangent")
    for text in texts:
        flat = text.replace(" ", "")
        for formula in ("y_dot/y", "/y**2", "/(y*y)", "x/y^2", "{x}{y^2}", "\\frac{1}{y}"):
            assert formula not in flat, (formula, text)
    # the worked example: the product's forward rule, with numbers
    assert any("b\\,\\dot a + a\\,\\dot b = 3\\cdot 1 + 2\\cdot 0.5 = 4" in text
               for text in texts)


def test_section_6_measures_with_adlab_measure_and_quotes_the_counted_ratio():
    cells = release.build()["03_forward_mode"].notebook.cells
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    text = "\n".join(c.source for c in cells if c.cell_type == "markdown")
    # one stopwatch for the course: adlab.measure, not a timing loop of the notebook's own
    assert "perf_counter" not in code and "def best_time" not in code
    assert all(f"measure.{name}" in code for name in ("scaling", "slope", "plot_scaling"))
    # the constant the text quotes, and notebook 08 cites, is the one the count prints
    counted = next(c for c in cells if c.cell_type == "code" and "in the rules" in c.source)
    printed = "".join(str(o.get("text", "")) for o in counted.get("outputs", []))
    assert printed.count(" 2.75") == 3 and "a ratio of 2.75" in " ".join(text.split())

