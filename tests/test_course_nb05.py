"""Notebook 05's checkers accept the reference solutions and reject typical mistakes."""

import ast
import re
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
from course_cases import accepts, cells_above, rejects, runner_and_here, same_verdict_test

import adlab as ad
from course import catalog, provided, release
from course.checkers import WrongOutput
from course.checking import evaluate
from course.exercises import nb05
from course.remote import RemoteFunction


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLAB_COURSE_DB", str(tmp_path / "progress.sqlite3"))


# -- reference solutions ------------------------------------------------------------

def jacobian_fwd(f, x, seed=lambda n, j: np.eye(n)[j], axis=1):
    n = len(x)
    columns = [ad.jvp(f, (x,), (seed(n, j),))[1] for j in range(n)]
    return np.stack(columns, axis=axis)


def jacobian_rev(f, x, axis=0, record_each_row=False):
    y, pullback = ad.vjp(f, x)
    rows = []
    for i in range(len(y)):
        if record_each_row:
            y, pullback = ad.vjp(f, x)
        rows.append(pullback(np.eye(len(y))[i])[0])
    return np.stack(rows, axis=axis)


def size(shape):
    return int(np.prod(shape))


def jacobian_plan(inputs, outputs, count=size, passes=min, rule=lambda n, m: n < m):
    n = sum(count(s) for s in inputs.values())
    m = sum(count(s) for s in outputs.values())
    return (m, n), "forward" if rule(n, m) else "reverse", passes(n, m)


def matmul_vjp(y_bar, x, W):
    return y_bar @ W.T, x.T @ y_bar


REFERENCE = {
    "05.jacfwd_from_jvp": jacobian_fwd,
    "05.jacrev_from_vjp": jacobian_rev,
    "05.jacobian_plan": jacobian_plan,
    "05.matmul_vjp": matmul_vjp,
}


def finite_differences(f, x, h=1e-5):
    fx = np.asarray(f(x))
    return np.stack([(np.asarray(f(x + h * e)) - fx) / h for e in np.eye(len(x))], axis=1)


WRONG = {
    "05.jacfwd_from_jvp": {
        "transposed (columns stacked as rows)": lambda f, x: jacobian_fwd(f, x, axis=0),
        "seeds in reverse order": lambda f, x: jacobian_fwd(
            f, x, seed=lambda n, j: np.eye(n)[n - 1 - j]),
        "seed of ones for every column": lambda f, x: jacobian_fwd(
            f, x, seed=lambda n, j: np.ones(n)),
        "finite differences": finite_differences,
    },
    "05.jacrev_from_vjp": {
        "transposed (rows stacked as columns)": lambda f, x: jacobian_rev(f, x, axis=1),
        "records f once per row": lambda f, x: jacobian_rev(f, x, record_each_row=True),
        "one cotangent of ones": lambda f, x: np.tile(
            ad.vjp(f, x)[1](np.ones(len(f(x))))[0], (len(f(x)), 1)),
    },
    "05.jacobian_plan": {
        "shape (n, m)": lambda i, o: (jacobian_plan(i, o)[0][::-1], *jacobian_plan(i, o)[1:]),
        "counts the arrays": lambda i, o: jacobian_plan(i, o, count=lambda s: 1),
        "counts the first axis": lambda i, o: jacobian_plan(
            i, o, count=lambda s: s[0] if s else 1),
        "a scalar counted as no number": lambda i, o: jacobian_plan(
            i, o, count=lambda s: int(np.prod(s)) if s else 0),
        "the rule backwards": lambda i, o: jacobian_plan(i, o, rule=lambda n, m: n > m),
        "always reverse (the backprop habit)": lambda i, o: jacobian_plan(
            i, o, rule=lambda n, m: False),
        "passes of the dearer mode": lambda i, o: jacobian_plan(i, o, passes=max),
        "n + m passes": lambda i, o: jacobian_plan(i, o, passes=lambda n, m: n + m),
        "mode capitalised": lambda i, o: (jacobian_plan(i, o)[0],
                                          jacobian_plan(i, o)[1].title(),
                                          jacobian_plan(i, o)[2]),
        "the running example, hard-coded": lambda i, o: ((3, 2), "forward", 2),
    },
    "05.matmul_vjp": {
        "transposed W_bar (y_bar.T @ x)": lambda y_bar, x, W: (y_bar @ W.T, y_bar.T @ x),
        "W not transposed in x_bar": lambda y_bar, x, W: (y_bar @ W, x.T @ y_bar),
        "elementwise, as for a product": lambda y_bar, x, W: (y_bar * W, x * y_bar),
        "adjoints swapped": lambda y_bar, x, W: (x.T @ y_bar, y_bar @ W.T),
    },
}


@pytest.mark.parametrize("exercise_id", list(REFERENCE))
def test_reference_solution_passes_with_grading_cases(exercise_id):
    accepts(exercise_id, REFERENCE[exercise_id])


@pytest.mark.parametrize("exercise_id,mistake",
                         [(e, m) for e, ms in WRONG.items() for m in ms])
def test_typical_mistakes_fail_in_the_learners_five_cases(exercise_id, mistake):
    rejects(exercise_id, WRONG[exercise_id][mistake])


#: the other mode's Jacobian: switched off inside the learner's function (Exercise.off)
OTHER_MODE = {
    "05.jacfwd_from_jvp": ("ad.jacrev", lambda f, x: np.asarray(ad.jacrev(f)(x))),
    "05.jacrev_from_vjp": ("ad.jacfwd", lambda f, x: np.asarray(ad.jacfwd(f)(x))),
}


@pytest.mark.parametrize("exercise_id", list(OTHER_MODE))
def test_the_other_modes_jacobian_is_switched_off(exercise_id):
    name, wrong = OTHER_MODE[exercise_id]
    result = evaluate(catalog.CATALOG[exercise_id], wrong)
    assert result.status == "failed" and result.score == 0, repr(result)
    assert f"{name} is off inside" in result.message and result.hint


def test_the_notebook_has_its_exercises_in_the_catalog():
    ids = [e.id for e in catalog.by_notebook()["05_jacobians_and_cost"]]
    assert ids == list(REFERENCE) == list(WRONG)
    assert all(len(m) >= 2 for m in WRONG.values())


def test_a_transposed_jacobian_is_caught_by_its_shape_in_the_worked_example():
    result = evaluate(catalog.CATALOG["05.jacfwd_from_jvp"],
                      WRONG["05.jacfwd_from_jvp"]["transposed (columns stacked as rows)"])
    assert "Case 1 of 5" in result.message
    assert "J has shape (2, 3) but should have shape (3, 2)" in result.message
    assert "x = [2, 3]" in result.case
    assert result.expected.startswith("J = [[2.58385, 2]")  # 3 + cos 2 and 2


def test_square_cases_catch_a_transpose_by_its_values():
    exercise = catalog.CATALOG["05.jacrev_from_vjp"]
    cases = exercise.checker.cases(exercise.rng("check"), catalog.CHECK_CASES)
    square = [c for c in cases if c["n"] == c["m"] > 1]
    assert square
    for case in square:
        J = np.asarray(ad.jacrev(nb05.vector_function(case))(case["x"]))
        assert not np.allclose(J, J.T)


def test_one_recording_and_m_sweeps_are_what_adlab_measures():
    case = nb05.WORKED
    want = catalog.CATALOG["05.jacrev_from_vjp"].checker.expected(case)
    assert want["recordings_of_f"] == 1 and want["vjps"] == 3
    assert catalog.CATALOG["05.jacfwd_from_jvp"].checker.expected(case)["jvps"] == 2


def test_jacobian_plan_accepts_either_mode_on_a_tie():
    exercise = catalog.CATALOG["05.jacobian_plan"]
    tie = {"what": "a square map", "inputs": {"z": (4, 2)}, "outputs": {"x": (8,)}}
    want = exercise.checker.expected(tie)
    for mode in ("forward", "reverse"):
        got = exercise.checker.call(lambda i, o, a=mode: ((8, 8), a, 8), tie, "jacobian_plan")
        assert {k: float(v) for k, v in got.items() if k != "shape"} == \
            {"passes_of_mode": 8.0, "passes": 8.0}
        np.testing.assert_array_equal(np.asarray(got["shape"]), want["shape"])
    graded = exercise.checker.cases(exercise.rng("grade"), catalog.GRADE_CASES)
    assert any(len(set(nb05.sizes(c))) == 1 for c in graded)


def test_jacobian_plan_cases_are_real_models_with_scalars_and_counts_under_a_million():
    exercise = catalog.CATALOG["05.jacobian_plan"]
    graded = exercise.checker.cases(exercise.rng("grade"), catalog.GRADE_CASES)
    shapes = [s for c in graded for side in ("inputs", "outputs") for s in c[side].values()]
    assert () in shapes and any(len(s) == 3 for s in shapes)
    # an off-by-one count (a forgotten bias, say) must fail the relative tolerance
    assert max(max(nb05.sizes(c)) for c in graded) < 1_000_000
    modes = {("forward" if n < m else "reverse" if m < n else "either")
             for n, m in map(nb05.sizes, graded)}
    assert modes == {"forward", "reverse", "either"}
    # the running example of the notebook is no case: its answer is in the notebook
    assert all(nb05.sizes(c) != (2, 3) for c in graded)


def test_jacobian_plan_feedback_shows_the_model():
    result = evaluate(catalog.CATALOG["05.jacobian_plan"],
                      WRONG["05.jacobian_plan"]["the rule backwards"])
    assert result.case == ("jacobian_plan(inputs={'W1': (64, 784), 'b1': (64,), 'W2': (10, 64), "
                           "'b2': (10,)}, outputs={'loss': ()}): a two-layer MLP for 28x28 "
                           "digit images: its loss with respect to its weights")
    assert result.expected == "shape = [1, 50890], passes_of_mode = 1, passes = 1"
    assert result.got == "shape = [1, 50890], passes_of_mode = 50890, passes = 1"


@pytest.mark.parametrize("answer,says", [
    (lambda i, o: min(sum(map(size, i.values())), sum(map(size, o.values()))),
     "should return 3 values"),
    (lambda i, o: (50890, "reverse", 1), "shape as a pair (rows, columns)"),
    (lambda i, o: ((1, 50890), "backprop", 1), 'the mode as the string "forward" or "reverse"'),
    (lambda i, o: ((1, 50890), 1, 1), 'the mode as the string "forward" or "reverse"'),
])
def test_jacobian_plan_answers_of_the_wrong_kind_are_told_apart(answer, says):
    result = evaluate(catalog.CATALOG["05.jacobian_plan"], answer)
    assert result.status == "failed" and says in result.message, repr(result)


def test_matmul_vjp_shapes_in_the_non_square_case():
    exercise = catalog.CATALOG["05.matmul_vjp"]
    case = exercise.checker.fixed[1]
    want = exercise.checker.expected(case)
    assert want["x_bar"].shape == case["x"].shape
    assert want["W_bar"].shape == case["W"].shape
    np.testing.assert_allclose(want["W_bar"], case["x"].T @ case["y_bar"])


def test_the_function_handed_over_is_a_recipe_that_counts_its_runs():
    exercise = catalog.CATALOG["05.jacrev_from_vjp"]
    seen = []

    def jacobian_rev(f, x):
        seen.append(f)
        f(x)                                   # one plain run, for its length
        return REFERENCE["05.jacrev_from_vjp"](f, x)

    got = exercise.checker.call(jacobian_rev, nb05.WORKED, "jacobian_rev")
    f = seen[0]
    assert isinstance(f, provided.Provided) and f.builder == "vector_function"
    assert (f.plain, f.on_tape, f.on_duals) == (1, 1, 0)
    assert (got["recordings_of_f"], got["vjps"]) == (1, 3)


def test_count_sweeps_reports_the_value_and_the_sweeps_of_one_call():
    f = nb05.vector_function(nb05.WORKED)
    ran = provided.PROCEDURES["count_sweeps"](ad.jacrev(f), nb05.WORKED["x"])
    assert (ran["forward_sweeps"], ran["recordings"], ran["reverse_sweeps"]) == (0, 1, 3)
    np.testing.assert_allclose(ran["value"], ad.jacfwd(f)(nb05.WORKED["x"]))


def test_a_garbled_sweep_count_is_not_taken_for_a_number():
    class Tampered:  # what a runner whose procedures were replaced might send
        def run_procedure(self, name, *args):
            return {"value": np.zeros((3, 2)), "reverse_sweeps": "3"}

    with pytest.raises(WrongOutput, match="could not be counted"):
        catalog.CATALOG["05.jacrev_from_vjp"].checker.call(Tampered(), nb05.WORKED,
                                                           "jacobian_rev")


def test_the_counts_come_back_from_the_runner(learner):
    runner, _ = learner
    for exercise_id, name, want in [
            ("05.jacfwd_from_jvp", "jacobian_fwd", {"jvps": 2}),
            ("05.jacfwd_from_jvp", "jacobian_fwd_by_reverse_mode", {"jvps": 0}),
            ("05.jacrev_from_vjp", "jacobian_rev", {"recordings_of_f": 1, "vjps": 3}),
            ("05.jacrev_from_vjp", "jacobian_rev_records_each_row",
             {"recordings_of_f": 3, "vjps": 3})]:
        exercise = catalog.CATALOG[exercise_id]
        fn = RemoteFunction(runner, name, time.monotonic() + 60)
        got = exercise.checker.call(fn, nb05.WORKED, exercise.name)
        assert {k: got[k] for k in want} == want, name


NOTEBOOK = "05_jacobians_and_cost"
MISTAKES = '''
def jacobian_fwd_transposed(f, x):
    return np.stack([ad.jvp(f, (x,), (e,))[1] for e in np.eye(len(x))], axis=0)


def jacobian_fwd_by_reverse_mode(f, x):
    return np.asarray(ad.jacrev(f)(x))


def jacobian_rev_records_each_row(f, x):
    m = len(f(x))
    return np.stack([ad.vjp(f, x)[1](e)[0] for e in np.eye(m)], axis=0)


def jacobian_rev_by_forward_mode(f, x):
    return np.asarray(ad.jacfwd(f)(x))


def jacobian_rev_one_vjp(f, x):
    y, pullback = ad.vjp(f, x)
    return np.tile(pullback(np.ones(len(y)))[0], (len(y), 1))


def jacobian_plan_mode_as_number(inputs, outputs):
    n = sum(int(np.prod(s)) for s in inputs.values())
    m = sum(int(np.prod(s)) for s in outputs.values())
    return (m, n), min(n, m), min(n, m)


def jacobian_plan_counts_arrays(inputs, outputs):
    n, m = len(inputs), len(outputs)
    return (m, n), "forward" if n < m else "reverse", min(n, m)


def matmul_vjp_swapped(y_bar, x, W):
    return x.T @ y_bar, y_bar @ W.T
'''

#: (exercise, learner function, status, part of the message)
REMOTE = [
    ("05.jacfwd_from_jvp", "jacobian_fwd", "passed", ""),
    ("05.jacfwd_from_jvp", "jacobian_fwd_transposed", "failed",
     "J has shape (2, 3) but should have shape (3, 2)"),
    ("05.jacfwd_from_jvp", "jacobian_fwd_by_reverse_mode", "failed", "jvps is wrong"),
    ("05.jacrev_from_vjp", "jacobian_rev", "passed", ""),
    ("05.jacrev_from_vjp", "jacobian_rev_records_each_row", "failed",
     "recordings_of_f is wrong"),
    ("05.jacrev_from_vjp", "jacobian_rev_by_forward_mode", "failed",
     "recordings_of_f is wrong"),
    ("05.jacrev_from_vjp", "jacobian_rev_one_vjp", "failed", "J is wrong"),
    ("05.jacobian_plan", "jacobian_plan", "passed", ""),
    ("05.jacobian_plan", "jacobian_plan_mode_as_number", "wrong",
     'should return the mode as the string "forward" or "reverse"'),
    ("05.jacobian_plan", "jacobian_plan_counts_arrays", "failed", "shape is wrong"),
    ("05.matmul_vjp", "matmul_vjp", "passed", ""),
    ("05.matmul_vjp", "matmul_vjp_swapped", "failed", "x_bar is wrong"),
]


# -- the same checks as grading runs them (see course_cases.both_ways) -------------------

@pytest.fixture(scope="module")
def learner(tmp_path_factory):
    """(runner, namespace here): the same learner code in a runner and in this process."""
    yield from runner_and_here(tmp_path_factory, NOTEBOOK, MISTAKES)


test_a_runner_gets_the_same_verdict_as_this_process = same_verdict_test(REMOTE)


# -- the text before 05.matmul_vjp teaches the idea on another product, not its answer ------

RELEASED = Path(__file__).resolve().parents[1] / "notebooks" / f"{NOTEBOOK}.ipynb"

#: the answer's two formulas, as code and as LaTeX (after squeezing, see below)
ANSWER_FORMS = (".T@y_bar", "y_bar@W.T", "y_bar@Wm.T", "x^\\top\\bary", "x^T\\bary",
                "\\baryW^\\top", "\\baryW^T")


def squeezed(text):
    """The text without blanks, LaTeX spacing and braces, so each formula has one form."""
    for noise in ("\\,", "\\;", "\\!", "\\quad", "{", "}"):
        text = text.replace(noise, "")
    return "".join(text.split())


def test_no_cell_before_the_matmul_exercise_states_its_formulas():
    cells = nbformat.read(RELEASED, as_version=4).cells
    at = next(i for i, cell in enumerate(cells)
              if cell.metadata.get("course", {}).get("exercise") == "05.matmul_vjp")
    before = [squeezed(cell.source) for cell in cells[:at]]
    assert any("\\barA=\\baryv^\\top" in text for text in before)  # the worked example
    for form in ANSWER_FORMS:
        assert not [text for text in before if form in text], form


def test_the_matmul_task_keeps_its_rules_and_the_hints_stop_short_of_the_formulas():
    exercise = catalog.CATALOG["05.matmul_vjp"]
    cells = nbformat.read(RELEASED, as_version=4).cells
    task = next(cell.source for cell in cells
                if cell.cell_type == "markdown" and "Exercise 05.matmul_vjp" in cell.source)
    assert task.rstrip().endswith(exercise.rules())
    for hint in exercise.hints:
        assert not [form for form in ANSWER_FORMS if form in squeezed(hint)], hint


# -- the cells above the Jacobian exercises teach one JVP and one VJP, not the loop ------------

LOOPS = (ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.SetComp, ast.DictComp,
         ast.GeneratorExp)


def called_in_loops(source):
    """The functions a code cell calls inside a loop or a comprehension (as written, e.g.
    "ad.jvp"), with any call of a pullback (a name bound to the second result of ad.vjp)
    written as "pullback"."""
    tree = ast.parse(source)
    pullbacks = {target.elts[1].id for node in ast.walk(tree) if isinstance(node, ast.Assign)
                 and isinstance(node.value, ast.Call) and ast.unparse(node.value.func) == "ad.vjp"
                 for target in node.targets if isinstance(target, ast.Tuple)
                 and len(target.elts) == 2 and isinstance(target.elts[1], ast.Name)}
    called = {ast.unparse(call.func) for loop in ast.walk(tree) if isinstance(loop, LOOPS)
              for call in ast.walk(loop) if isinstance(call, ast.Call)}
    return {"pullback" if name in pullbacks else name for name in called}


#: a loop written out in a markdown cell: "for j in range(n)", "for e in np.eye(m)", ...
LOOP_IN_TEXT = re.compile(r"\bfor\s+\w+(\s*,\s*\w+)*\s+in\b")


@pytest.mark.parametrize("exercise_id,one_pass,shown", [
    ("05.jacfwd_from_jvp", {"ad.jvp"}, "ad.jvp(f, (x,), (seed,))"),
    ("05.jacrev_from_vjp", {"ad.vjp", "pullback"}, "pullback(cotangent)"),
])
def test_no_cell_above_the_jacobian_exercises_holds_their_loop(exercise_id, one_pass, shown):
    cells = cells_above("05_jacobians_and_cost", exercise_id)
    for cell in cells:
        if cell.cell_type == "code":
            assert not called_in_loops(cell.source) & one_pass, cell.source
        else:
            assert not (LOOP_IN_TEXT.search(cell.source)
                        and re.search(r"jvp|vjp|pullback", cell.source)), cell.source
    # the idea is taught on the running example: one pass, one column (one row)
    single = [cell for cell in cells if cell.cell_type == "code" and shown in cell.source]
    assert single, shown
    text = "".join(o.get("text", "") for cell in single for o in cell.outputs)
    assert ("J[:, 0]  = [2.583853 1.       9.      ]" in text if "jvp" in shown
            else "J[1]          = [1. 6.]" in text), text


def test_the_loop_detector_sees_loops_and_comprehensions():
    loop = "y, pb = ad.vjp(f, x)\nfor e in np.eye(3):\n    (row,) = pb(e)\n"
    assert "pullback" in called_in_loops(loop)
    comprehension = "J = np.stack([ad.jvp(f, (x,), (e,))[1] for e in np.eye(2)], axis=1)"
    assert "ad.jvp" in called_in_loops(comprehension)
    assert called_in_loops("seed = np.eye(2)[0]\n_, t = ad.jvp(f, (x,), (seed,))") == set()
    assert LOOP_IN_TEXT.search("for j, e in enumerate(np.eye(n))")


# -- issue 14: each rumour about cost is measured once (03, 04); 05 recalls and points there --

def section(stem, number):
    """Section ``number`` ("## 6. ...") of a source notebook, markdown and outputs, as text."""
    cells = release.read_sources()[stem].cells
    text = "\n".join(cell.source + "".join(o.get("text", "") for o in cell.get("outputs", []))
                     for cell in cells)
    return text.split(f"\n## {number}. ", 1)[1].split("\n## ", 1)[0]


def test_the_rumours_are_recalled_with_the_numbers_their_notebooks_print():
    cells = release.read_sources()[NOTEBOOK].cells
    text = "\n".join(cell.source for cell in cells if cell.cell_type == "markdown")
    assert "notebook 03 (section 6)" in text and "2.75 times the operations" in text
    assert "notebook 04 (section 7)" in text and "all 11 operations of the trace" in text
    forward = section("03_forward_mode", 6)
    assert "O(n^2)" in forward and re.search(r"\s2\.75\n", forward), forward
    reverse = section("04_reverse_mode", 7)
    assert "relevant chain" in reverse
    assert re.search(r"operations in the trace:\s+11\n", reverse), reverse
    assert re.search(r"forward sweep, seed \(1, 0\), processed:\s+11\b", reverse), reverse
    assert re.search(r"reverse sweep, seed 1, processed:\s+11\n", reverse), reverse


def test_notebook_05_measures_with_adlab_measure_and_not_the_rumours_again():
    code = [cell.source for cell in release.read_sources()[NOTEBOOK].cells
            if cell.cell_type == "code"]
    assert not [c for c in code if "perf_counter" in c or "def chain" in c]
    assert any("measure.scaling(" in c for c in code)
    assert any("measure.plot_scaling(" in c for c in code)
