"""Notebook 07's checkers accept the reference solutions and reject typical mistakes."""

from pathlib import Path

import nbformat
import numpy as np
import pytest
from course_cases import accepts, rejects

from course import catalog
from course.checking import evaluate


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLAB_COURSE_DB", str(tmp_path / "progress.sqlite3"))


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def one_hot(labels, z):
    return np.eye(z.shape[1])[labels]


# -- reference solutions ----------------------------------------------------------

def softmax_ce_vjp(z, labels):
    return (softmax(z) - one_hot(labels, z)) / z.shape[0]


def linear_vjp(dz, x, W):
    return dz @ W.T, x.T @ dz, dz.sum(axis=0)


def activation_vjp(kind, dh, h):
    if kind == "tanh":
        return dh * (1 - h ** 2)
    return dh * h * (1 - h)


def sgd_step(params, grads, lr):
    return [p - lr * g for p, g in zip(params, grads)]


def sgd_step_in_place(params, grads, lr):
    for p, g in zip(params, grads):
        p -= lr * g
    return params


REFERENCE = {
    "07.softmax_ce_vjp": softmax_ce_vjp,
    "07.linear_vjp": linear_vjp,
    "07.activation_vjps": activation_vjp,
    "07.sgd_step": sgd_step,
}

# -- typical mistakes -------------------------------------------------------------


def activation_from_input(kind, dh, h):
    # treats h as if it were z: 1 - tanh(h)^2, sigmoid(h) (1 - sigmoid(h))
    if kind == "tanh":
        return dh * (1 - np.tanh(h) ** 2)
    s = 1 / (1 + np.exp(-h))
    return dh * s * (1 - s)


WRONG = {
    "07.softmax_ce_vjp": {
        "forgets 1/N": lambda z, labels: softmax(z) - one_hot(labels, z),
        "sign error": lambda z, labels: (one_hot(labels, z) - softmax(z)) / z.shape[0],
        "logits instead of probabilities":
            lambda z, labels: (z - one_hot(labels, z)) / z.shape[0],
    },
    "07.linear_vjp": {
        "transposed dW": lambda dz, x, W: (dz @ W.T, dz.T @ x, dz.sum(axis=0)),
        "db not summed over the batch": lambda dz, x, W: (dz @ W.T, x.T @ dz, dz),
        "db averaged": lambda dz, x, W: (dz @ W.T, x.T @ dz, dz.mean(axis=0)),
        "dx without the transpose": lambda dz, x, W: (dz @ W, x.T @ dz, dz.sum(axis=0)),
    },
    "07.activation_vjps": {
        "derivative taken at the output": activation_from_input,
        "forgets dh": lambda kind, dh, h: (1 - h ** 2) if kind == "tanh" else h * (1 - h),
        "tanh' = 1 - h": lambda kind, dh, h: dh * (1 - h) if kind == "tanh"
        else dh * h * (1 - h),
        "swapped rules": lambda kind, dh, h: activation_vjp(
            "sigmoid" if kind == "tanh" else "tanh", dh, h),
    },
    "07.sgd_step": {
        "adds the gradient": lambda ps, gs, lr: [p + lr * g for p, g in zip(ps, gs)],
        "forgets the learning rate": lambda ps, gs, lr: [p - g for p, g in zip(ps, gs)],
        "returns the steps": lambda ps, gs, lr: [lr * g for g in gs],
        "returns nothing": lambda ps, gs, lr: None,
    },
}


@pytest.mark.parametrize("exercise_id", list(REFERENCE))
def test_reference_solution_passes_with_grading_cases(exercise_id):
    accepts(exercise_id, REFERENCE[exercise_id])


def test_an_in_place_sgd_step_that_returns_the_list_passes():
    result = evaluate(catalog.CATALOG["07.sgd_step"], sgd_step_in_place)
    assert result.passed, repr(result)


@pytest.mark.parametrize("exercise_id,mistake",
                         [(e, m) for e, ms in WRONG.items() for m in ms])
def test_typical_mistakes_fail_in_the_learners_five_cases(exercise_id, mistake):
    rejects(exercise_id, WRONG[exercise_id][mistake])


def test_every_exercise_of_notebook_07_is_covered():
    ids = {e.id for e in catalog.EXERCISES if e.notebook == "07_backprop_mlp"}
    assert ids == set(REFERENCE) == set(WRONG)
    assert len(ids) >= 3 and all(len(m) >= 2 for m in WRONG.values())


def test_a_transposed_dw_is_caught_on_the_first_case_with_a_square_w():
    result = evaluate(catalog.CATALOG["07.linear_vjp"], WRONG["07.linear_vjp"]["transposed dW"])
    assert "Case 1 of 5" in result.message and "dW is wrong" in result.message


def test_a_missing_sum_for_db_is_a_shape_message():
    result = evaluate(catalog.CATALOG["07.linear_vjp"],
                      WRONG["07.linear_vjp"]["db not summed over the batch"])
    assert "db has shape (2, 3) but should have shape (3,)" in result.message


def test_the_first_softmax_case_is_readable():
    result = evaluate(catalog.CATALOG["07.softmax_ce_vjp"],
                      WRONG["07.softmax_ce_vjp"]["forgets 1/N"])
    assert result.case.startswith("softmax_ce_vjp(z=[[1, 2, 3],")
    assert "labels=np.array([2, 0])" in result.case


def test_the_checkers_expectations_agree_with_the_hand_written_backprop():
    # adlab.backprop writes the same rules by hand: the checkers' adlab answers match it
    from adlab import backprop
    from course.exercises import nb07

    params = backprop.curriculum_mlp(seed=1, sizes=(4, 5, 3, 3))
    rng = np.random.default_rng(2)
    x, labels = rng.standard_normal((6, 4)), rng.integers(0, 3, size=6)
    _, grads = backprop.forward_backward_by_hand(x, labels, **params)
    h1 = 1 / (1 + np.exp(-(x @ params["W1"] + params["b1"])))
    h2 = np.tanh(h1 @ params["W2"] + params["b2"])
    z3 = h2 @ params["W3"] + params["b3"]
    dz3 = nb07.SoftmaxCeVjp().expected({"z": z3, "labels": labels})["dz"]
    out = nb07.LinearVjp().expected({"dz": dz3, "x": h2, "W": params["W3"], "b": params["b3"]})
    assert np.allclose(out["dW"], grads["W3"]) and np.allclose(out["db"], grads["b3"])


# -- the teaching text above each exercise does not state its answer (issue 13) ----------

#: formulas and code that once sat just above an exercise and gave its answer away
ANSWER_STRINGS = {
    "07.softmax_ce_vjp": ["(y - Y) / len(z)", "(y - Y) / N", r"\frac{y - Y}{N}", "y_k - Y_k",
                          r"\operatorname{softmax}(z) - Y"],
    "07.linear_vjp": ["x.T @ dz", "dz @ W.T", "dz.sum(axis=0)", r"h^\top \bar z",
                      r"x^\top \bar z", r"\bar z\, W^\top", r"\bar z\,W^\top",
                      r"\sum_\text{rows}"],
    "07.activation_vjps": ["1 - h**2", "1 - h^2", "1 - h_2^2", "h_1(1 - h_1)", "h (1 - h)",
                           r"h \odot (1 - h)", "1 - h_of_z**2", "1 - tanh²", "σ(x)(1 - σ(x))",
                           r"1 - \tanh^2", r"\sigma(z)\,\bigl(1 - \sigma(z)\bigr)"],
    "07.sgd_step": [r"\theta - \eta", "p - lr * g", "p - lr*g"],
}


def _released_07():
    path = Path(__file__).resolve().parent.parent / "notebooks" / "07_backprop_mlp.ipynb"
    return nbformat.read(path, as_version=4)


def _text(cell) -> str:
    """A cell's source and, for code, the text of its stored outputs."""
    parts = [cell.source]
    for output in cell.get("outputs", []):
        parts.append(str(output.get("text", "")))
        parts.append(str(output.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


@pytest.mark.parametrize("exercise_id", list(ANSWER_STRINGS))
def test_no_released_cell_above_an_exercise_states_its_answer(exercise_id):
    cells = _released_07().cells
    where = [i for i, c in enumerate(cells)
             if c.metadata.get("course", {}).get("exercise") == exercise_id]
    assert len(where) == 1, exercise_id
    above = "\n".join(_text(c) for c in cells[:where[0]])
    found = [s for s in ANSWER_STRINGS[exercise_id] if s in above]
    assert not found, (exercise_id, found)
    # the task still ends with exactly the checking rules
    assert cells[where[0] - 1].source.endswith(catalog.CATALOG[exercise_id].rules())
