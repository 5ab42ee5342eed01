"""Notebook 00's checkers accept the reference solutions and reject typical mistakes."""

import numpy as np
import pytest
from course_cases import accepts, rejects

from course import catalog, release
from course.checking import evaluate


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLAB_COURSE_DB", str(tmp_path / "progress.sqlite3"))


# -- reference solutions -----------------------------------------------------------

def chain_derivative(x):
    w1 = 1 + x ** 2
    w2 = np.log(w1)
    return np.cos(w2) * (1 / w1) * (2 * x)


def make_accumulate(seeds=True, reverse_order=True, reverse_suffix=True):
    def accumulate(local):
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


def sin_product_partials(x1, x2):
    return x2 + np.cos(x1), x1 + 0 * x2


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
    "00.partials_sin_product": sin_product_partials,
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
    },
    "00.partials_sin_product": {
        "forgets the sine's path": lambda x1, x2: (x2, x1),
        "swapped": lambda x1, x2: (x1, x2 + np.cos(x1)),
        "sign error in cos": lambda x1, x2: (x2 - np.cos(x1), x1),
        "sin instead of cos": lambda x1, x2: (x2 + np.sin(x1), x1),
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
    result = evaluate(catalog.CATALOG["00.partials_sin_product"],
                      WRONG["00.partials_sin_product"]["forgets the sine's path"])
    assert "Case 1 of 5" in result.message
    assert result.case == "sin_product_partials(x1=2, x2=3)"
    assert result.expected == "dz_dx1 = 2.58385, dz_dx2 = 2"
    result = evaluate(catalog.CATALOG["00.chain_product"],
                      WRONG["00.chain_product"]["adjoints left in the order computed"])
    assert "Case 1 of 5" in result.message
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
