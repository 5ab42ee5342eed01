"""Notebook 07's checkers accept the reference solutions and reject typical mistakes."""

import re
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


# -- no released cell and no hint gives an exercise's rule away (issue 13) ---------------
#
# Learners scroll: a summary or a later section is read before an exercise is solved too.
# So outside an exercise's own cells (its code cell and its check cell) no released cell,
# above or below it, may state its rule. Strings are compared with all whitespace removed,
# so "p - lr*g" and "p-lr * g" are the same string.

#: the rule of each exercise, in the forms a cell or a hint might state it
RULE_STRINGS = {
    "07.softmax_ce_vjp": [*ANSWER_STRINGS["07.softmax_ce_vjp"], "(y - Y)", "softmax(z) - Y",
                          "- np.eye(z", "- np.eye(C", "- one_hot", r"\bar z_3 = (y",
                          r"\bar z_3 &= (y"],
    "07.linear_vjp": [*ANSWER_STRINGS["07.linear_vjp"], r"^\top \bar z", r"W_1^\top",
                      r"W_2^\top", r"W_3^\top", "@ W.T", ".T @ dz", "dz.sum(",
                      r"\sum_{\text{rows}}"],
    "07.activation_vjps": [*ANSWER_STRINGS["07.activation_vjps"], r"\odot (1 - h",
                           r"\odot h_1", "h * (1 - h)", "1 - h_of_z", "(1 - σ", "1 - tanh"],
    "07.sgd_step": [*ANSWER_STRINGS["07.sgd_step"], "- lr * g", "-= lr *", r"- \eta\, g",
                    r"- \eta g", r"- \eta \bar", r"- \eta\nabla"],
}


def _squeezed(text: str) -> str:
    return "".join(text.split())


def _stated(exercise_id: str, text: str) -> list[str]:
    flat = _squeezed(text)
    return [s for s in RULE_STRINGS[exercise_id] if _squeezed(s) in flat]


@pytest.fixture(scope="module")
def released_07():
    """Notebook 07 as ``course.release.build()`` releases it, built in memory (alone, so
    that work in progress on another notebook cannot stop this test)."""
    from course import release
    stem = "07_backprop_mlp"
    return release.release_notebook(release.read_sources()[stem], stem).notebook


@pytest.fixture(scope="module")
def solutions_07():
    from test_course_answers import significant, solution_blocks

    from course import release
    source = release.read_sources()["07_backprop_mlp"]
    out = {}
    for cell in source.cells:
        exercise = release.meta(cell).get("exercise")
        if exercise:
            out[exercise] = significant("\n".join(solution_blocks(cell.source)))
    return out


def _own(cell, exercise_id: str) -> bool:
    course_meta = cell.metadata.get("course", {})
    return exercise_id in (course_meta.get("exercise"), course_meta.get("check"))


@pytest.mark.parametrize("exercise_id", list(RULE_STRINGS))
def test_no_released_cell_outside_the_exercise_states_its_rule(released_07, exercise_id):
    cells = released_07.cells
    assert sum(_own(c, exercise_id) for c in cells) == 2, exercise_id
    found = [(i + 1, s) for i, c in enumerate(cells) if not _own(c, exercise_id)
             for s in _stated(exercise_id, _text(c))]
    assert not found, (exercise_id, found)


def test_the_rule_strings_catch_the_formulas_section_5_and_the_summary_once_held():
    section_5 = (r"\bar z_3 &= (y - Y)/N\\ \bar W_3 &= h_2^\top \bar z_3, & \bar b_3 &= "
                 r"\textstyle\sum_\text{rows} \bar z_3, & \bar h_2 &= \bar z_3\, W_3^\top\\ "
                 r"\bar z_2 &= \bar h_2 \odot (1 - h_2^2)\\ \bar z_1 &= \bar h_1 \odot h_1 "
                 r"\odot (1 - h_1)")
    summary = (r"$\bar z = (y - Y)/N$; $\bar W = h^\top \bar z$, $\bar b = "
               r"\sum_\text{rows}\bar z$, $\bar h = \bar z W^\top$; $\bar z = \bar h \odot "
               r"(1-h^2)$ and $\bar z = \bar h \odot h(1-h)$")
    for exercise_id in ("07.softmax_ce_vjp", "07.linear_vjp", "07.activation_vjps"):
        assert _stated(exercise_id, section_5) and _stated(exercise_id, summary), exercise_id
    assert _stated("07.sgd_step", r"$\theta \leftarrow \theta - \eta\, g$")
    assert _stated("07.sgd_step", "return [p - lr*g for p, g in zip(params, grads)]")


def _expressions(line: str) -> list[str]:
    """A significant solution line and, for an assignment or a return, its expression."""
    out = [line]
    if line.startswith("return") and len(line) > len("return"):
        out.append(line[len("return"):])
    head, eq, tail = line.partition("=")
    if eq and head.isidentifier() and not tail.startswith("="):
        out.append(tail)
    # a bare tuple of names, "dx,dW,db", is the return the task itself describes
    return [e for e in out if len(e) >= 5 and not re.fullmatch(r"[\w,()]+", e)]


@pytest.mark.parametrize("exercise_id", list(RULE_STRINGS))
def test_no_hint_contains_the_solution(solutions_07, exercise_id):
    from test_course_answers import leak, significant

    exercise = catalog.CATALOG[exercise_id]
    solution = solutions_07[exercise_id]
    assert solution, exercise_id
    assert len(exercise.hints) == 3
    for stage, hint in enumerate(exercise.hints, start=1):
        assert leak(solution, significant(hint)) is None, (exercise_id, stage)
        flat = _squeezed(hint)
        shown = [e for line in solution for e in _expressions(line) if e in flat]
        assert not shown, (exercise_id, stage, shown)
        assert not _stated(exercise_id, hint), (exercise_id, stage, _stated(exercise_id, hint))


def test_the_sgd_hints_keep_the_key_step_and_the_outline():
    hints = catalog.CATALOG["07.sgd_step"].hints
    assert "lr" in hints[1] and "against" in hints[1] and "grads[i]" in hints[1]
    assert hints[2].startswith("Outline") and "zip" in hints[2] and "new list" in hints[2]
