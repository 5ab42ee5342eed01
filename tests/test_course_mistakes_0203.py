"""Notebooks 02 and 03: each known mistake is named when a learner makes it, with the
numbers of the failing case; right answers still pass; every exercise has three hint stages.

The learner functions below make one mistake each, written the way a learner writes them
(plain NumPy and sym expressions: the exercise switches adlab's differentiation off).
"""

from pathlib import Path

import nbformat
import numpy as np
import pytest

import adlab.symbolic as sym
from adlab import numeric
from course import catalog, check
from course.exercises import nb02, nb03

SOURCES = Path(__file__).resolve().parent.parent / "course" / "sources"
EXERCISE_IDS = [e.id for e in (*nb02.EXERCISES, *nb03.EXERCISES)]


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLAB_COURSE_DB", str(tmp_path / "p.sqlite3"))


# -- 02.symbolic_rules ----------------------------------------------------------------

def learner_rule(**changed):
    """A rule table as a learner writes it, with some entries replaced by wrong ones."""
    rules = {
        "add": lambda a, b, da, db: da + db,
        "sub": lambda a, b, da, db: da - db,
        "mul": lambda a, b, da, db: a * db + b * da,
        "div": lambda a, b, da, db: (b * da - a * db) / (b * b),
        "neg": lambda a, da: -da,
        "sin": lambda a, da: da * sym.cos(a),
        "cos": lambda a, da: -(da * sym.sin(a)),
        "exp": lambda a, da: da * sym.exp(a),
        "log": lambda a, da: da / a,
    }
    rules.update(changed)

    def derivative_rule(op, args, dargs):
        return rules[op](*args, *dargs)
    return derivative_rule


# -- 02.unroll ------------------------------------------------------------------------

def unroll_branch_on_input(x0):
    x = sym.Symbol("x")
    y, number = x, x0
    while number > 2:
        number = number / 2
        y = y / 2
    if x0 < 1.5:                          # the input, not the halved number
        return y * sym.sin(y)
    return 4 * y * (1 - y)


def unroll_expression_not_halved(x0):
    x = sym.Symbol("x")
    number = x0
    while number > 2:
        number = number / 2               # only the number is halved
    if number < 1.5:
        return x * sym.sin(x)
    return 4 * x * (1 - x)


def unroll_halved_once(x0):
    x = sym.Symbol("x")
    y, number = x, x0
    while number > 2:
        number = number / 2
        y = x / 2                         # starts again from x on every pass
    if number < 1.5:
        return y * sym.sin(y)
    return 4 * y * (1 - y)


def unroll_no_loop(x0):
    x = sym.Symbol("x")
    if x0 < 1.5:
        return x * sym.sin(x)
    return 4 * x * (1 - x)


# -- 02.central_difference ------------------------------------------------------------

SQRT_EPS = np.sqrt(np.finfo(float).eps)


def central_no_factor_2(f, x, h=None):
    if h is None:
        h = 1e-5
    return (f(x + h) - f(x - h)) / h


def central_forward_quotient(f, x, h=None):
    if h is None:
        h = SQRT_EPS
    return (f(x + h) - f(x)) / h


def central_forward_step(f, x, h=None):
    if h is None:
        h = SQRT_EPS                      # the forward rule's step
    return (f(x + h) - f(x - h)) / (2 * h)


def central_step_ignored(f, x, h=None):
    h = 1e-5                              # overwrites the step it was given
    return (f(x + h) - f(x - h)) / (2 * h)


# -- 02.fd_gradient -------------------------------------------------------------------

STEP = numeric.FORWARD_STEP               # sqrt(eps), as the exercise asks


def fd_fx_in_loop(f, x):
    x = np.array(x, dtype=float)
    grad = np.zeros(len(x))
    for i in range(len(x)):
        shifted = x.copy()
        shifted[i] = shifted[i] + STEP
        grad[i] = (f(shifted) - f(x)) / STEP
    return grad


def fd_difference_reversed(f, x):
    x = np.array(x, dtype=float)
    base = f(x)
    grad = []
    for i in range(len(x)):
        shifted = x.copy()
        shifted[i] += STEP
        grad.append((base - f(shifted)) / STEP)
    return np.array(grad)


def fd_tiny_step(f, x, h=1e-15):
    x = np.array(x, dtype=float)
    base = f(x)
    grad = np.zeros(len(x))
    for i in range(len(x)):
        shifted = x.copy()
        shifted[i] += h
        grad[i] = (f(shifted) - base) / h
    return grad


def fd_no_copy(f, x):
    x = np.asarray(x, dtype=float)
    base = f(x)
    grad = np.zeros(len(x))
    for i in range(len(x)):
        shifted = x                       # the same array: the moves add up
        shifted[i] += STEP
        grad[i] = (f(shifted) - base) / STEP
    return grad


# -- 03.sin_tangent, 03.div_tangent ---------------------------------------------------

def sin_seed_dropped(x, x_dot):
    return np.sin(x), np.cos(x)


def sin_value_for_tangent(x, x_dot):
    return np.sin(x), np.cos(x) * x


def sin_of_tangent(x, x_dot):
    return np.sin(x), np.sin(x_dot)


def sin_cos_rule(x, x_dot):
    return np.sin(x), -np.sin(x) * x_dot


def div_plus(x, x_dot, y, y_dot):
    return x / y, x_dot / y + x * y_dot / y**2


def div_no_square(x, x_dot, y, y_dot):
    return x / y, x_dot / y - x * y_dot / y


def div_y_dot_dropped(x, x_dot, y, y_dot):
    return x / y, x_dot / y


def div_reversed(x, x_dot, y, y_dot):
    return x / y, (x * y_dot - x_dot * y) / y**2


# -- 03.forward_sweep -----------------------------------------------------------------

def learner_sweep(product="both", difference="-", square="2c"):
    def forward_sweep(x, x_dot):
        x1, x2, x3, x4 = x
        t1, t2, t3, t4 = x_dot
        p = x1 * x2
        if product == "both":
            p_t = t1 * x2 + x1 * t2
        elif product == "first":
            p_t = t1 * x2
        else:
            p_t = t1 * t2
        s, s_t = x3 + x4, t3 + t4
        g = p - s
        g_t = p_t - s_t if difference == "-" else p_t + s_t
        out = g * g
        out_t = 2 * g * g_t if square == "2c" else 2 * g_t
        return out, out_t
    return forward_sweep


# -- 03.choose_seed -------------------------------------------------------------------

RIGHT_SEEDS = {"a": (0, 1), "b": (0, 0, 0, 1), "c": (5 / 13, 12 / 13), "d": (2, -1, 0, 0),
               "e": (1, 0, -1, 0)}


def learner_seeds(**changed):
    def choose_seeds():
        return {**RIGHT_SEEDS, **changed}
    return choose_seeds


#: exercise, mistake code, the learner function, parts of the message (the case's numbers)
LEARNERS = [
    ("02.symbolic_rules", "product-one-term", learner_rule(mul=lambda a, b, da, db: da * b),
     ["at x1 = 2, x2 = 3", "comes out 0, not 2"]),
    ("02.symbolic_rules", "quotient-sign",
     learner_rule(div=lambda a, b, da, db: (a * db - b * da) / (b * b)),
     ["at x = 0.3", "comes out 0.68209, not 2.21395"]),
    ("02.symbolic_rules", "quotient-no-square",
     learner_rule(div=lambda a, b, da, db: (b * da - a * db) / b),
     ["at x = 0.3", "comes out 2.28288, not 2.21395"]),
    ("02.symbolic_rules", "chain-rule-dropped",
     learner_rule(sin=lambda a, da: sym.cos(a), cos=lambda a, da: -sym.sin(a),
                  exp=lambda a, da: sym.exp(a), log=lambda a, da: 1 / a),
     ["at x1 = 2, x2 = 3", "comes out 1.58385, not 2"]),
    ("02.symbolic_rules", "cos-sign", learner_rule(cos=lambda a, da: da * sym.sin(a)),
     ["at x = 0.3", "comes out 0.540758, not 2.21395"]),
    ("02.unroll", "branch-on-input", unroll_branch_on_input,
     ["x0 = 2.5", "halves once, to 1.25", "-1.25", "1.18623"]),
    ("02.unroll", "expression-not-halved", unroll_expression_not_halved,
     ["x0 = 2.5", "x / 2", "1.49618", "1.18623"]),
    ("02.unroll", "halved-once", unroll_halved_once,
     ["x0 = 7", "x / 4", "-35", "-5.25"]),
    ("02.unroll", "no-loop", unroll_no_loop, ["x0 = 2.5", "to 1.25", "-15", "1.18623"]),
    ("02.central_difference", "no-factor-2", central_no_factor_2,
     ["h = 0.01 at x = 2", "5.16772", "2.58386"]),
    ("02.central_difference", "forward-difference", central_forward_quotient,
     ["h = 0.01 at x = 2", "2.57931", "2.58386"]),
    ("02.central_difference", "forward-step", central_forward_step,
     ["1.49012e-08", "at x = 2", "-3.12647e-09"]),
    ("02.central_difference", "step-ignored", central_step_ignored,
     ["h = 0.01 at x = 2", "2.58385", "2.58386"]),
    ("02.fd_gradient", "fx-in-loop", fd_fx_in_loop, ["2n = 4", "n = 2", "n + 1 = 3"]),
    ("02.fd_gradient", "difference-sign", fd_difference_reversed,
     ["x = [2, 3]", "[-2.58385, -2]", "[2.58385, 2]"]),
    ("02.fd_gradient", "step-too-small", fd_tiny_step,
     ["h = 1e-15", "x = [2, 3]", "[1.77636, 1.77636]", "[2.58385, 2]"]),
    ("02.fd_gradient", "step-too-small", lambda f, x: fd_tiny_step(f, x, h=1e-13),
     ["h = 1e-13", "x = [2, 3]", "[2.5846, 1.9984]"]),
    ("02.fd_gradient", "x-not-copied", fd_no_copy,
     ["x = [2, 3]", "[2.58385, 4.58385]", "[2.58385, 2]"]),
    ("03.sin_tangent", "seed-dropped", sin_seed_dropped,
     ["x = 0.5 with x_dot = -2", "-1.75517, not 0.877583"]),
    ("03.sin_tangent", "value-for-tangent", sin_value_for_tangent,
     ["x = 2 with x_dot = 1", "-0.416147, not -0.832294"]),
    ("03.sin_tangent", "sin-of-tangent", sin_of_tangent,
     ["x = 2 with x_dot = 1", "-0.416147, not 0.841471"]),
    ("03.sin_tangent", "cos-rule", sin_cos_rule,
     ["x = 2 with x_dot = 1", "-0.416147, not -0.909297"]),
    ("03.div_tangent", "quotient-sign", div_plus,
     ["x = 3, y = 2 with x_dot = 0, y_dot = 1", "-0.75, not 0.75"]),
    ("03.div_tangent", "quotient-no-square", div_no_square,
     ["x = 3, y = 2 with x_dot = 0, y_dot = 1", "-0.75, not -1.5"]),
    ("03.div_tangent", "y-tangent-dropped", div_y_dot_dropped,
     ["x = 3, y = 2 with x_dot = 0, y_dot = 1", "-0.75, not 0"]),
    ("03.div_tangent", "numerator-reversed", div_reversed,
     ["x = 1, y = 2 with x_dot = 1, y_dot = 0", "0.5, not -0.5"]),
    ("03.forward_sweep", "difference-sign", learner_sweep(difference="+"),
     ["x = [1.5, -2, 0.5, 3]", "x_dot = [0, 0, 1, 0]", "13, not -13"]),
    ("03.forward_sweep", "product-one-term", learner_sweep(product="first"),
     ["x_dot = [0.5, -1, 2, 0.25]", "61.75, not 42.25"]),
    ("03.forward_sweep", "product-of-tangents", learner_sweep(product="tangents"),
     ["x_dot = [1, 0, 0, 0]", "26, not 0"]),
    ("03.forward_sweep", "square-chain-dropped", learner_sweep(square="2"),
     ["x_dot = [1, 0, 0, 0]", "26, not -4"]),
    ("03.choose_seed", "seed-on-wrong-input", learner_seeds(a=(1, 0)),
     ["(x1, x2) = (2, 3)", "gives 2.58385", "asks for 2"]),
    ("03.choose_seed", "seed-all-ones", learner_seeds(a=(1, 1)),
     ["(x1, x2) = (2, 3)", "gives 4.58385", "asks for 2"]),
    ("03.choose_seed", "direction-not-normalised", learner_seeds(c=(5, 12)),
     ["(x1, x2) = (2, 3)", "gives 36.9193", "asks for 2.83994"]),
    ("03.choose_seed", "rate-sign-dropped", learner_seeds(d=(2, 1, 0, 0)),
     ["(x1, x2, x3, x4) = (1.5, -2, 0.5, 3)", "gives 32.5", "asks for 71.5"]),
    ("03.choose_seed", "difference-as-sum", learner_seeds(e=(1, 0, 1, 0)),
     ["(x1, x2, x3, x4) = (1.5, -2, 0.5, 3)", "gives 39", "asks for 13"]),
]


@pytest.mark.parametrize("exercise_id,code,learner,says", LEARNERS,
                         ids=[f"{e}:{c}" for e, c, _, _ in LEARNERS])
def test_a_learner_making_the_mistake_is_told_which_one_with_the_numbers(exercise_id, code,
                                                                         learner, says):
    result = check(exercise_id, learner, record=False)
    assert result.status == "failed", repr(result)
    assert result.misconception == code, repr(result)
    for part in says:
        assert part in result.message, (part, result.message)


def test_every_known_mistake_of_notebooks_02_and_03_has_its_learner():
    known = {(e.id, m.code) for e in (*nb02.EXERCISES, *nb03.EXERCISES) for m in e.mistakes}
    assert known == {(e, c) for e, c, _, _ in LEARNERS}
    for exercise_id in EXERCISE_IDS:
        assert len(catalog.CATALOG[exercise_id].mistakes) >= 2, exercise_id


@pytest.mark.parametrize("exercise_id", EXERCISE_IDS)
def test_each_exercise_has_three_hint_stages(exercise_id):
    exercise = catalog.CATALOG[exercise_id]
    assert len(exercise.hints) == 3
    assert len(set(exercise.hints)) == 3


@pytest.mark.parametrize("exercise_id", EXERCISE_IDS)
def test_the_mistakes_run_on_every_grading_case(exercise_id):
    """wrong(case) runs in the grading process: it must not raise, and it gives the
    expected outputs' names and shapes."""
    exercise = catalog.CATALOG[exercise_id]
    for case in exercise.checker.cases(exercise.rng("grade"), catalog.GRADE_CASES):
        expected = exercise.checker.expected(case)
        for mistake in exercise.mistakes:
            made = mistake.wrong(dict(case))
            for variant, wrong in enumerate(made if isinstance(made, list) else [made]):
                assert set(wrong) == set(expected), mistake.code
                assert all(np.shape(wrong[k]) == np.shape(expected[k]) for k in expected)
                assert isinstance(mistake.explain({**case, "variant": variant}), str)


# -- right answers still pass: the source notebooks' solutions ------------------------

def notebook_solutions(stem):
    """The setup and exercise cells of a source notebook, run in one namespace."""
    notebook = nbformat.read(SOURCES / f"{stem}.ipynb", as_version=4)
    namespace: dict = {}
    for cell in notebook.cells:
        meta = cell.metadata.get("course", {})
        if cell.cell_type == "code" and (meta.get("setup") or meta.get("exercise")):
            exec(cell.source, namespace)
    return namespace


@pytest.fixture(scope="module")
def solutions():
    return {**notebook_solutions("02_three_ways"), **notebook_solutions("03_forward_mode")}


@pytest.mark.parametrize("exercise_id", EXERCISE_IDS)
def test_the_reference_solution_still_passes(solutions, exercise_id):
    exercise = catalog.CATALOG[exercise_id]
    result = check(exercise_id, solutions[exercise.name], record=False)
    assert result.passed, repr(result)
    assert result.misconception == ""
