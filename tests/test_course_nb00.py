"""Notebook 00's checkers accept the reference solutions and reject typical mistakes."""

import re

import numpy as np
import pytest
from course_cases import accepts, rejects

import adlab as ad
from course import catalog, release
from course.checking import evaluate
from course.exercises.nb00 import AD_STEPS
from course.provided import CHAIN_STEPS, Provided


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLAB_COURSE_DB", str(tmp_path / "progress.sqlite3"))


# -- reference solutions -----------------------------------------------------------

def chain_derivative(x):
    w1 = 1 + x ** 2
    w2 = np.log(w1)
    return np.cos(w2) * (1 / w1) * (2 * x)


def make_accumulate(seeds=True, reverse_order=True, reverse_suffix=True, at="input"):
    def accumulate(steps, x):
        w, local = x, []
        for f, df in steps:
            local.append(df({"input": w, "x": x, "output": f(w)}[at]))
            w = f(w)
        tangents = [1.0]
        for d in local:
            tangents.append(tangents[-1] * d)
        adjoints = [1.0]
        walk = reversed(local) if reverse_suffix else iter(local)
        for d in walk:
            adjoints.append(adjoints[-1] * d)
        if reverse_order:
            adjoints.reverse()
        if not seeds:
            return tangents[1:], adjoints[:-1]
        return tangents, adjoints
    return accumulate


def three_path_partials(x1, x2):
    return x2 + np.cos(x1) + 1 / x2, x1 - x1 / x2 ** 2


def make_accumulate_jacobians(forward_side="left", reverse_side="right", flip=True):
    def accumulate_jacobians(jacobians):
        T = np.eye(jacobians[0].shape[1])
        forward = [T]
        for J in jacobians:
            T = J @ T if forward_side == "left" else T @ J
            forward.append(T)
        A = np.eye(jacobians[-1].shape[0])
        reverse = [A]
        for J in reversed(jacobians):
            A = A @ J if reverse_side == "right" else J @ A
            reverse.append(A)
        if flip:
            reverse.reverse()
        return forward, reverse
    return accumulate_jacobians


REFERENCE = {
    "00.chain_derivative": chain_derivative,
    "00.chain_product": make_accumulate(),
    "00.three_paths": three_path_partials,
    "00.jacobian_chain": make_accumulate_jacobians(),
}

WRONG = {
    "00.chain_derivative": {
        "outer derivative only": lambda x: np.cos(np.log(1 + x ** 2)),
        "forgets the inner 2x": lambda x: np.cos(np.log(1 + x ** 2)) / (1 + x ** 2),
        "cos evaluated at x": lambda x: np.cos(x) * 2 * x / (1 + x ** 2),
        "sign error": lambda x: -np.cos(np.log(1 + x ** 2)) * 2 * x / (1 + x ** 2),
    },
    "00.chain_product": {
        "adjoints left in the order computed": make_accumulate(reverse_order=False),
        "no seeds": make_accumulate(seeds=False),
        "adjoints from the input side": make_accumulate(reverse_suffix=False),
        "derivatives at x": make_accumulate(at="x"),
        "derivatives at the step's output": make_accumulate(at="output"),
        "the local derivatives, not their products": lambda steps, x: (
            [1.0] + [df(x) for _, df in steps], [df(x) for _, df in steps] + [1.0]),
    },
    "00.three_paths": {
        "the worked example's closed form": lambda x1, x2: (x2 + np.cos(x1), x1),
        "forgets the sine's path": lambda x1, x2: (x2 + 1 / x2, x1 - x1 / x2 ** 2),
        "sign of the division's partial": lambda x1, x2: (x2 + np.cos(x1) + 1 / x2,
                                                          x1 + x1 / x2 ** 2),
        "product partials swapped": lambda x1, x2: (x1 + np.cos(x1) + 1 / x2,
                                                    x2 - x1 / x2 ** 2),
        "cos of the wrong sign": lambda x1, x2: (x2 - np.cos(x1) + 1 / x2, x1 - x1 / x2 ** 2),
    },
    "00.jacobian_chain": {
        "forward products on the wrong side": make_accumulate_jacobians(forward_side="right"),
        "reverse products on the wrong side": make_accumulate_jacobians(reverse_side="left"),
        "reverse list not flipped": make_accumulate_jacobians(flip=False),
    },
}


def test_every_exercise_of_the_notebook_is_covered():
    ours = {e.id for e in catalog.EXERCISES if e.notebook == "00_chain_rule"}
    assert ours == set(REFERENCE) == set(WRONG)
    assert len(ours) >= 3 and all(len(m) >= 2 for m in WRONG.values())


@pytest.mark.parametrize("exercise_id", list(REFERENCE))
def test_reference_solution_passes_with_grading_cases(exercise_id):
    accepts(exercise_id, REFERENCE[exercise_id])


@pytest.mark.parametrize("exercise_id,mistake",
                         [(e, m) for e, ms in WRONG.items() for m in ms])
def test_typical_mistakes_fail_in_the_learners_five_cases(exercise_id, mistake):
    rejects(exercise_id, WRONG[exercise_id][mistake])


def test_the_first_cases_are_the_worked_examples():
    result = evaluate(catalog.CATALOG["00.three_paths"],
                      WRONG["00.three_paths"]["the worked example's closed form"])
    assert "Case 1 of 5" in result.message
    assert result.case == "three_path_partials(x1=2, x2=3)"
    assert result.expected == "dz_dx1 = 2.91719, dz_dx2 = 1.77778"
    result = evaluate(catalog.CATALOG["00.chain_product"],
                      WRONG["00.chain_product"]["adjoints left in the order computed"])
    assert "Case 1 of 5" in result.message
    assert result.case == ("accumulate(steps, x=1.5) for the steps square, sin, exp: "
                           "w0 = x, w1 = w0**2, w2 = sin(w1), w3 = exp(w2)")
    assert result.expected.startswith("tangents = [1, 3, -1.88452, -4.10312]")


def test_a_list_of_the_wrong_length_gets_a_clear_message():
    def no_identity(jacobians):
        forward, reverse = make_accumulate_jacobians()(jacobians)
        return forward[1:], reverse

    result = evaluate(catalog.CATALOG["00.jacobian_chain"], no_identity)
    assert result.status == "failed"
    assert "k + 1 = 4 matrices" in result.message


def test_cases_cover_scalars_arrays_and_both_chain_shapes():
    cases = catalog.CATALOG["00.chain_derivative"].checker.cases(np.random.default_rng(0), 50)
    assert {np.ndim(c["x"]) for c in cases} == {0, 1, 2}
    ex = catalog.CATALOG["00.jacobian_chain"]
    cases = ex.checker.cases(ex.rng("grade"), 50)
    square = [c for c in cases if len({J.shape for J in c["jacobians"]}) == 1
              and c["jacobians"][0].shape[0] == c["jacobians"][0].shape[1]]
    assert square and len(square) < len(cases)
    assert {len(c["jacobians"]) for c in cases} == {1, 2, 3, 4}


def test_the_worked_chain_of_section_2_has_the_checkers_numbers():
    # the notebook writes the forward sweep out and gives the reverse sweep's numbers on
    # paper (the general loop is the exercise); they are the first case's expected lists
    checker = catalog.CATALOG["00.chain_product"].checker
    expected = checker.expected(checker.fixed[0])
    tangents, adjoints = [1.0, 3.0, -1.884521, -4.103116], [-4.103116, -1.367705, 2.177273, 1.0]
    assert list(expected["tangents"]) == pytest.approx(tangents, abs=1e-6)
    assert list(expected["adjoints"]) == pytest.approx(adjoints, abs=1e-6)
    released = release.build()["00_chain_rule"].notebook
    text = "\n".join(c.source for c in released.cells if c.cell_type == "markdown")
    assert all(f"{v:.6f}" in text for v in adjoints[:3] + tangents[2:3])


def test_chain_cases_take_every_step_and_length_and_the_three_paths_avoid_x2_near_0():
    ex = catalog.CATALOG["00.chain_product"]
    cases = ex.checker.cases(ex.rng("grade"), 50)
    assert {len(c["steps"]) for c in cases} == set(range(1, 7))
    assert {name for c in cases for name in c["steps"]} == set(CHAIN_STEPS)
    ex = catalog.CATALOG["00.three_paths"]
    cases = ex.checker.cases(ex.rng("grade"), 50)
    assert min(float(np.min(np.abs(c["x2"]))) for c in cases) >= 0.5
    assert {np.ndim(c["x1"]) for c in cases} == {0, 1, 2}


@pytest.mark.parametrize("name", sorted(CHAIN_STEPS))
def test_the_given_steps_and_derivatives_agree_with_adlab(name):
    # the learner gets Provided("chain_step", name, "f"/"df"); adlab computes the expected
    f, df = Provided("chain_step", name, "f"), Provided("chain_step", name, "df")
    for w in (-1.3, 0.4, 1.7):
        assert f(w) == pytest.approx(float(AD_STEPS[name](w)))
        assert df(w) == pytest.approx(float(ad.grad(AD_STEPS[name])(w)))


def test_no_cell_above_the_two_exercises_states_their_answer():
    cells = release.build()["00_chain_rule"].notebook.cells

    def above(exercise_id):
        """Each cell above the exercise's own, without whitespace."""
        i = next(i for i, c in enumerate(cells) if release.meta(c).get("exercise") == exercise_id)
        return ["".join(c.source.split()) for c in cells[:i]]

    # the division's terms: 1/x2 and -x1/x2^2, in code or in LaTeX
    for text in above("00.three_paths"):
        for shown in ("+1/x2", "/x2**2", "/x2^2", "1/x_2", "x_2^2", "frac{1}{x_2}", "x_2^{2}"):
            assert shown not in text, shown
    # the chain's local derivatives from its steps: each df at its step's input
    for text in above("00.chain_product"):
        assert not re.search(r"(?<![a-z\\])df\(", text), text
