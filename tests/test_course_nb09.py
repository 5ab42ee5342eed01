"""Notebook 09's checkers accept the reference solutions and reject typical mistakes."""

import ast
import time

import numpy as np
import pytest
from course_cases import accepts, rejects, runner_and_here, same_verdict_test

import adlab as ad
from course import catalog, check, provided, release
from course.checking import evaluate
from course.exercises import nb09
from course.remote import RemoteFunction


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLAB_COURSE_DB", str(tmp_path / "progress.sqlite3"))


# -- reference solutions ------------------------------------------------------------

def second_derivative(f, x, v, at=0.0, order=2):
    g = lambda t: f(x + t * v)
    d = g
    for _ in range(order):
        d = ad.grad(d)
    return d(at)


def hvp(f, x, v):
    """Reverse over forward: the gradient of the slope of f along v."""
    return ad.grad(lambda y: ad.jvp(f, (y,), (v,))[1])(x)


def hvp_forward_over_reverse(f, x, v):
    """The worked example's order: the JVP of the gradient with the seed v."""
    return ad.jvp(ad.grad(f), (x,), (v,))[1]


def newton_root_step(F, x):
    """Newton for F(x) = 0: F's first-order model F(x) + J d vanishes at the step d."""
    return x + np.linalg.solve(ad.jacfwd(F)(x), -F(x))


def jacobian_by_jvps(F, x, axis=1):
    """J column by column (axis=1); stacked along axis=0 the columns become rows: J^T."""
    return np.stack([ad.jvp(F, (x,), (e,))[1] for e in np.eye(len(x))], axis=axis)


def newton_on_the_norm(F, x):
    """Section 4's minimisation step, on |F|^2 / 2 (its Hessian by jacfwd of grad)."""
    phi = lambda y: ad.sum(F(y) ** 2) / 2
    return x - np.linalg.solve(ad.jacfwd(ad.grad(phi))(x), ad.grad(phi)(x))


REFERENCE = {
    "09.second_derivative": second_derivative,
    "09.hvp": hvp,
    "09.newton_root": newton_root_step,
}

WRONG = {
    "09.second_derivative": {
        "the first derivative": lambda f, x, v: second_derivative(f, x, v, order=1),
        "at t = 1 instead of 0": lambda f, x, v: second_derivative(f, x, v, at=1.0),
        "half of it (a Taylor coefficient)": lambda f, x, v: second_derivative(f, x, v) / 2,
        "the trace of H, v ignored": lambda f, x, v: sum(hvp(f, x, e)[i] for i, e
                                                         in enumerate(np.eye(len(x)))),
    },
    "09.hvp": {
        "the gradient": lambda f, x, v: ad.grad(f)(x),
        "the gradient at v": lambda f, x, v: ad.grad(f)(v),
        "a seed of ones, v forgotten": lambda f, x, v: hvp(f, x, np.ones_like(v)),
        "builds the Hessian first": lambda f, x, v: np.stack(
            [hvp(f, x, e) for e in np.eye(len(x))], axis=1) @ v,  # ad.hessian is off
        "the directional derivative of f": lambda f, x, v: ad.jvp(f, (x,), (v,))[1],
        "the slope at the fixed x": lambda f, x, v: ad.grad(
            lambda y: ad.jvp(f, (x,), (v,))[1])(x),
        "point and seed swapped": lambda f, x, v: ad.grad(
            lambda y: ad.jvp(f, (v,), (y,))[1])(x),
        "the value, not the tangent": lambda f, x, v: ad.grad(
            lambda y: ad.jvp(f, (y,), (v,))[0])(x),
    },
    "09.newton_root": {
        "the transposed Jacobian": lambda F, x: x - np.linalg.solve(ad.jacrev(F)(x).T, F(x)),
        "JVPs stacked as rows": lambda F, x: x + np.linalg.solve(jacobian_by_jvps(F, x, 0),
                                                                 -F(x)),
        "sign error": lambda F, x: x + np.linalg.solve(ad.jacfwd(F)(x), F(x)),
        "the minimisation step on |F|^2 / 2": newton_on_the_norm,
        "only the diagonal of J": lambda F, x: x - F(x) / np.diag(ad.jacfwd(F)(x)),
        "J times F instead of a solve": lambda F, x: x - ad.jacfwd(F)(x) @ F(x),
        "the step, not the point": lambda F, x: np.linalg.solve(ad.jacfwd(F)(x), -F(x)),
    },
}


@pytest.mark.parametrize("exercise_id", list(REFERENCE))
def test_reference_solution_passes_with_grading_cases(exercise_id):
    accepts(exercise_id, REFERENCE[exercise_id])


@pytest.mark.parametrize("exercise_id,mistake",
                         [(e, m) for e, ms in WRONG.items() for m in ms])
def test_typical_mistakes_fail_in_the_learners_five_cases(exercise_id, mistake):
    rejects(exercise_id, WRONG[exercise_id][mistake])


def test_the_notebook_has_its_exercises_in_the_catalog():
    ids = [e.id for e in catalog.by_notebook()["09_higher_order"]]
    assert ids == list(REFERENCE) == list(WRONG)
    assert all(len(m) >= 2 for m in WRONG.values())


def test_the_first_cases_are_the_worked_example():
    result = evaluate(catalog.CATALOG["09.second_derivative"],
                      WRONG["09.second_derivative"]["the first derivative"])
    assert "Case 1 of 5" in result.message
    assert result.case.startswith("second_derivative(f, x=[2, 3], v=[1, 0])")
    assert result.expected == "d2 = -0.909297"        # -sin 2
    assert result.got == "d2 = 2.58385"               # 3 + cos 2
    case = catalog.CATALOG["09.second_derivative"].checker.fixed[1]
    want = catalog.CATALOG["09.second_derivative"].checker.expected(case)
    assert want["d2"] == pytest.approx(2 - np.sin(2.0))


def test_both_orders_of_nesting_give_hv_in_one_run_of_f():
    """Reverse over forward runs f once on dual numbers (recorded on a tape), forward over
    reverse once on tape values: the same numbers, but the task asks for the first, so the
    second (section 3's worked example, copied) fails with a message about the nesting."""
    exercise = catalog.CATALOG["09.hvp"]
    for case in exercise.checker.cases(exercise.rng("check"), catalog.CHECK_CASES):
        want = exercise.checker.expected(case)["Hv"]
        runs = {}
        for name, way in [("reverse over forward", hvp),
                          ("forward over reverse", hvp_forward_over_reverse)]:
            f = nb09.provided(case)
            np.testing.assert_allclose(way(f, case["x"], case["v"]), want, rtol=1e-9,
                                       atol=1e-12)
            runs[name] = f.counts
        assert runs["reverse over forward"] == {"calls": 1, "on_duals": 1, "on_tape": 0,
                                                "plain": 0}
        assert runs["forward over reverse"] == {"calls": 1, "on_duals": 0, "on_tape": 1,
                                                "plain": 0}
    result = check("09.hvp", hvp_forward_over_reverse, record=False)
    assert result.status == "failed" and "that is forward over reverse" in result.message


def test_the_notebooks_solution_is_reverse_over_forward():
    cell = next(c for c in release.read_sources()[NOTEBOOK].cells
                if release.meta(c).get("exercise") == "09.hvp")
    namespace: dict = {"ad": ad, "np": np}
    exec(cell.source, namespace)
    case = catalog.CATALOG["09.hvp"].checker.fixed[1]
    f = nb09.provided(case)
    namespace["hvp"](f, case["x"], case["v"])
    assert f.counts == {"calls": 1, "on_duals": 1, "on_tape": 0, "plain": 0}


def _nests_jvp_and_grad(node: ast.AST) -> bool:
    calls = {f"{c.func.value.id}.{c.func.attr}" for c in ast.walk(node)
             if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute)
             and isinstance(c.func.value, ast.Name)}
    return {"ad.jvp", "ad.grad"} <= calls


def test_the_released_notebook_hands_out_no_hvp_function():
    """Issue 13: no cell but the exercise defines a function of f that nests ad.jvp and
    ad.grad (the notebook once defined jvp_of_gradient(f, x, v) above the exercise), and
    the task states the idea, not its code."""
    notebook = release.build()[NOTEBOOK].notebook
    found = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or release.meta(cell).get("exercise"):
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, (ast.FunctionDef, ast.Lambda)) and _nests_jvp_and_grad(node):
                found.append(f"cell {index + 1}: {ast.unparse(node)[:60]}")
    assert found == []
    assert "jvp_of_gradient" not in "".join(c.source for c in notebook.cells)
    task = next(c.source for c in notebook.cells
                if c.cell_type == "markdown" and "Exercise 09.hvp" in c.source)
    assert "reverse mode over forward mode" in task
    assert "ad.jvp(" not in task and "ad.grad(" not in task


def test_building_the_hessian_is_caught_by_counting_runs():
    result = evaluate(catalog.CATALOG["09.hvp"], WRONG["09.hvp"]["builds the Hessian first"])
    assert result.misconception == "hv-in-two-runs" and "2 runs of f" in result.message
    assert "runs_of_f = 2" in result.got and "runs_of_f = 1" in result.expected


def test_newton_root_from_the_circle_and_the_hyperbola():
    exercise = catalog.CATALOG["09.newton_root"]
    case = exercise.checker.fixed[0]
    assert nb09.describe_system(case).startswith("F(x) = [x0**2 + x1**2 - 4, x0*x1 - 1]")
    want = exercise.checker.expected(case)["x_new"]
    np.testing.assert_allclose(want, [2 - 1 / 15, 0.5 + 1 / 60], rtol=1e-12)  # by hand
    # repeated, the step converges to the intersection (x0^2 = 2 + sqrt 3, x1 = 1 / x0)
    F, x = nb09.square_system(case), case["x"]
    for _ in range(5):
        x = newton_root_step(F, x)
    root = np.sqrt(2 + np.sqrt(3))
    np.testing.assert_allclose(x, [root, 1 / root], rtol=1e-14)


def test_newton_root_cases_are_square_well_conditioned_and_not_symmetric():
    """So that the step is defined, and the transposed Jacobian is told apart."""
    exercise = catalog.CATALOG["09.newton_root"]
    cases = exercise.checker.cases(exercise.rng("grade"), catalog.GRADE_CASES)
    assert {c["kind"] for c in cases} == {"circle-hyperbola", "arm", "tanh", "cubic"}
    for case in cases:
        F, x = nb09.square_system(case), case["x"]
        J = ad.jacfwd(F)(x)
        assert J.shape == (len(x), len(x)) and np.linalg.cond(J) < 100
        assert np.abs(J - J.T).max() > 0.1


def test_every_known_mistake_of_newton_root_differs_from_the_answer_in_every_case():
    exercise = catalog.CATALOG["09.newton_root"]
    for case in exercise.checker.cases(exercise.rng("grade"), catalog.GRADE_CASES):
        want = exercise.checker.expected(case)["x_new"]
        wrongs = [m.wrong(case)["x_new"] for m in exercise.mistakes]
        for mistake, wrong in zip(exercise.mistakes, wrongs):
            assert not np.allclose(wrong, want, rtol=1e-6, atol=1e-9), mistake.code
        for i in range(len(wrongs)):
            for j in range(i):
                assert not np.allclose(wrongs[i], wrongs[j], rtol=1e-6, atol=1e-9)


def test_jacfwd_jacrev_and_columns_of_jvps_all_pass():
    """The learner chooses how to get the Jacobian; ad.hessian alone is off."""
    for jacobian in (lambda F, x: ad.jacrev(F)(x), jacobian_by_jvps):
        def step(F, x, jacobian=jacobian):
            return x - np.linalg.solve(jacobian(F, x), F(x))

        assert check("09.newton_root", step, record=False).passed
    exercise = catalog.CATALOG["09.newton_root"]
    assert "ad.hessian" in exercise.off and "numeric.gradient" in exercise.off
    assert not {"ad.jacfwd", "ad.jacrev", "ad.jvp", "ad.vjp", "ad.grad"} & set(exercise.off)


def test_the_worked_minimisation_code_copied_fails():
    """Section 4's code (the Hessian and the gradient of the function) does not carry over:
    ad.hessian is off, and the same step through a nested Jacobian is no Newton step."""
    result = check("09.newton_root", lambda F, x: x - np.linalg.solve(
        ad.hessian(F)(x), ad.grad(F)(x)), record=False)
    assert result.status == "failed" and "ad.hessian is off" in result.message
    result = check("09.newton_root", lambda F, x: x - np.linalg.solve(
        ad.jacfwd(ad.jacrev(F))(x), ad.grad(F)(x)), record=False)
    assert result.status != "passed" and "grad needs" in result.message


#: what the task of 09.newton_root must leave to the learner: the model, the system, the code
NEWTON_ROOT_ANSWERS = ["J d = -F", "Jd = -F", "J\\,d", "J^{-1}", "J(x)^{-1}", "F(x) + J",
                       "F(x + d)", "jacfwd(F)", "jacrev(F)", "solve(J", "x - J",
                       "first-order model of $F$", "first-order Taylor"]


def _released_cells():
    return release.build()[NOTEBOOK].notebook.cells


def test_no_released_cell_above_newton_root_states_its_answer():
    cells = _released_cells()
    where = [i for i, c in enumerate(cells) if release.meta(c).get("exercise") == "09.newton_root"]
    assert len(where) == 1
    above = cells[:where[0]]
    text = "\n".join(c.source for c in above)
    assert [s for s in NEWTON_ROOT_ANSWERS if s in text] == []
    # the worked example, the minimisation step, is there and run in the notebook's own code
    assert "Hd = -g" in text and "np.linalg.solve(ad.hessian(rosen)" in text
    task = above[-1].source
    assert task.startswith("### Exercise 09.newton_root")
    assert task.endswith(catalog.CATALOG["09.newton_root"].rules())


def test_no_other_cell_runs_the_learners_newton_step():
    """Released stubs raise: the notebook's own cells (the Rosenbrock run and its plots)
    must not call the learner's function, under its new name or the old one."""
    for cell in _released_cells():
        meta = release.meta(cell)
        if cell.cell_type == "code" and not (meta.get("exercise") or meta.get("check")):
            assert "newton_root_step" not in cell.source and "newton_step(" not in cell.source


def test_every_exercise_hands_over_its_function_as_a_recipe():
    for exercise in nb09.EXERCISES:
        seen = []

        def solution(f, *args, exercise=exercise, seen=seen):
            seen.append(f)
            return REFERENCE[exercise.id](f, *args)

        case = exercise.checker.cases(exercise.rng("check"), 1)[0]
        exercise.checker.call(solution, case, exercise.name)
        f = seen[0]
        builder = "square_system" if exercise.id == "09.newton_root" else "scalar_function"
        assert isinstance(f, provided.Provided) and f.builder == builder
        assert f.params[0].keys() == {"kind", "A", "B", "b"}
        assert f.calls >= 1


def test_runs_of_f_are_counted_where_f_runs(learner):
    runner, _ = learner
    exercise = catalog.CATALOG["09.hvp"]
    case = exercise.checker.fixed[1]  # n = 2
    for name, runs in [("hvp", 1), ("hvp_by_the_hessian", 2), ("hvp_plain_runs_too", 2)]:
        fn = RemoteFunction(runner, name, time.monotonic() + 60)
        assert exercise.checker.call(fn, case, exercise.name)["runs_of_f"] == runs, name


NOTEBOOK = "09_higher_order"
MISTAKES = '''
def second_derivative_first(f, x, v):
    return ad.grad(lambda t: f(x + t * v))(0.0)


def hvp_gradient(f, x, v):
    return ad.grad(f)(x)


def hvp_by_the_hessian(f, x, v):
    return ad.hessian(f)(x) @ v


def hvp_plain_runs_too(f, x, v):
    f(x)                       # a plain run of f, for nothing
    return hvp(f, x, v)


def newton_root_transposed(F, x):
    J = ad.jacrev(F)(x)
    return x - np.linalg.solve(J.T, F(x))
'''

#: (exercise, learner function, status, part of the message)
REMOTE = [
    ("09.second_derivative", "second_derivative", "passed", ""),
    ("09.second_derivative", "second_derivative_first", "failed", "d2 is wrong"),
    ("09.hvp", "hvp", "passed", ""),
    ("09.hvp", "hvp_gradient", "failed", "Hv is wrong"),
    ("09.hvp", "hvp_by_the_hessian", "failed", "runs_of_f is wrong"),
    ("09.hvp", "hvp_plain_runs_too", "failed", "runs_of_f is wrong"),
    ("09.newton_root", "newton_root_step", "passed", ""),
    ("09.newton_root", "newton_root_transposed", "failed", "x_new is wrong"),
]


# -- the same checks as grading runs them (see course_cases.both_ways) -------------------

@pytest.fixture(scope="module")
def learner(tmp_path_factory):
    """(runner, namespace here): the same learner code in a runner and in this process."""
    yield from runner_and_here(tmp_path_factory, NOTEBOOK, MISTAKES)


test_a_runner_gets_the_same_verdict_as_this_process = same_verdict_test(REMOTE)


def test_the_cost_of_hv_is_measured_with_adlab_measure():
    """Issue 14: the timing loop and the plot of section 3 are calls of adlab.measure."""
    code = [c.source for c in release.read_sources()[NOTEBOOK].cells if c.cell_type == "code"]
    assert not [c for c in code if "perf_counter" in c]
    assert any("measure.scaling(" in c for c in code)
    assert any("measure.plot_scaling(" in c for c in code)
