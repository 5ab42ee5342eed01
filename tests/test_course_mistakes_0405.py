"""Notebooks 04 and 05: each known mistake, made by a learner function written as a
learner would write it, is named (its code, the case's numbers); the notebook's own
solutions still pass; every exercise has three hint stages."""

from pathlib import Path

import nbformat
import numpy as np
import pytest
from course_cases import make_derive

import adlab as ad
from course import catalog, check

SOURCES = Path(__file__).resolve().parents[1] / "course" / "sources"
NOTEBOOKS = ("04_reverse_mode", "05_jacobians_and_cost")
EXERCISES = ("04.shared_adjoint", "04.saved_values", "04.derive", "05.jacfwd_from_jvp",
             "05.jacrev_from_vjp", "05.jacobian_plan", "05.matmul_vjp")


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLAB_COURSE_DB", str(tmp_path / "p.sqlite3"))


@pytest.fixture(scope="module")
def solutions():
    """The source notebooks' setup and exercise cells, run: the reference solutions."""
    namespace: dict = {}
    for stem in NOTEBOOKS:
        notebook = nbformat.read(SOURCES / f"{stem}.ipynb", as_version=4)
        for cell in notebook.cells:
            meta = cell.metadata.get("course", {})
            if cell.cell_type == "code" and (meta.get("setup") or meta.get("exercise")):
                exec(cell.source, namespace)
    return namespace


# -- 04.shared_adjoint: a reverse sweep of any program -------------------------------------

STEP = {"add": lambda u, v: u + v, "sub": lambda u, v: u - v, "mul": lambda u, v: u * v,
        "sin": np.sin, "exp": np.exp, "square": lambda u: u ** 2}


def sweep(rules, overwrite=False, seed=1.0):
    """A learner's reverse sweep: ``rules[op](operands, result)`` gives the local partials."""
    def reverse_sweep_shared(program, values):
        value = dict(values)
        for name, op, *operands in program:
            value[name] = STEP[op](*[value[a] for a in operands])
        adjoint = {name: 0.0 for name in value}
        adjoint[program[-1][0]] = seed
        for name, op, *operands in reversed(program):
            partials = rules[op]([value[a] for a in operands], value[name])
            for a, partial in zip(operands, partials):
                if overwrite:
                    adjoint[a] = adjoint[name] * partial
                else:
                    adjoint[a] = adjoint[a] + adjoint[name] * partial
        return {name: adjoint[name] for name in values}
    return reverse_sweep_shared


RULES = {"add": lambda u, r: (1, 1), "sub": lambda u, r: (1, -1),
         "mul": lambda u, r: (u[1], u[0]), "sin": lambda u, r: (np.cos(u[0]),),
         "exp": lambda u, r: (r,), "square": lambda u, r: (2 * u[0],)}
sweep_overwriting = sweep(RULES, overwrite=True)
sweep_sub_plus = sweep({**RULES, "sub": lambda u, r: (1, 1)})
sweep_square_u = sweep({**RULES, "square": lambda u, r: (u[0],)})   # d(u^2)/du taken as u
sweep_sin_minus = sweep({**RULES, "sin": lambda u, r: (-np.cos(u[0]),)})
sweep_no_seed = sweep(RULES, seed=0.0)   # the adjoints start at 0, the output's too


# -- 04.saved_values -----------------------------------------------------------------

def saved_by(reads):
    """A saved_values that stores, for each op, what ``reads[op]`` says it reads."""
    def saved_values(program):
        stored = set()
        for name, op, *operands in program:
            if reads.get(op) == "operands":
                stored.update(operands)
            elif reads.get(op) == "result":
                stored.add(name)
        return stored
    return saved_values


PRODUCTS = {"mul": "operands", "sin": "operands", "square": "operands"}
saved_with_sums = saved_by({**PRODUCTS, "exp": "result", "add": "operands",
                            "sub": "operands"})
saved_exp_operand = saved_by({**PRODUCTS, "exp": "operands"})


def saved_intermediates(program):
    return {name for name, *_ in program[:-1]}   # "it needs a, b and c"


# -- 04.derive -------------------------------------------------------------------------
# each learner handles all five node types, with one slip

derive_overwriting = make_derive(at_variable="overwrite")
derive_own_factor = make_derive(multiply="own")
derive_partial_only = make_derive(multiply="no-seed", sin="no-seed")
derive_minus_as_plus = make_derive(minus="as-plus")  # "both partials are 1", for a - b too
derive_sin_value = make_derive(sin="sin")
derive_sin_at_node = make_derive(sin="cos-of-node")  # cos(sin u)


# -- 05.jacfwd_from_jvp and 05.jacrev_from_vjp -------------------------------------------

def jacobian_fwd_rows(f, x):
    return np.array([ad.jvp(f, (x,), (e,))[1] for e in np.eye(len(x))])


def jacobian_fwd_ones(f, x):
    n = len(x)
    return np.stack([ad.jvp(f, (x,), (np.ones(n),))[1] for _ in range(n)], axis=1)


def jacobian_fwd_sizing_jvp(f, x):
    y, _ = ad.jvp(f, (x,), (np.zeros(len(x)),))   # to learn m
    J = np.zeros((len(y), len(x)))
    for j, e in enumerate(np.eye(len(x))):
        J[:, j] = ad.jvp(f, (x,), (e,))[1]
    return J


def jacobian_rev_columns(f, x):
    y, pullback = ad.vjp(f, x)
    return np.stack([pullback(e)[0] for e in np.eye(len(y))], axis=1)


def jacobian_rev_each_row(f, x):
    m = len(f(x))
    rows = []
    for e in np.eye(m):
        _, pullback = ad.vjp(f, x)
        rows.append(pullback(e)[0])
    return np.stack(rows)


def jacobian_rev_ones(f, x):
    y, pullback = ad.vjp(f, x)
    return pullback(np.ones(len(y)))[0]


# -- 05.jacobian_plan and 05.matmul_vjp -------------------------------------------------

def plan_transposed(inputs, outputs):
    n = sum(int(np.prod(s)) for s in inputs.values())
    m = sum(int(np.prod(s)) for s in outputs.values())
    return (n, m), "forward" if n < m else "reverse", min(n, m)   # the shape as (n, m)


def plan_counting_arrays(inputs, outputs):
    n, m = len(inputs), len(outputs)                              # arrays, not numbers
    return (m, n), "forward" if n < m else "reverse", min(n, m)


def plan_first_axis(inputs, outputs):
    n = sum(s[0] if s else 1 for s in inputs.values())            # rows only
    m = sum(s[0] if s else 1 for s in outputs.values())
    return (m, n), "forward" if n < m else "reverse", min(n, m)


def plan_swapped(inputs, outputs):
    n = sum(int(np.prod(s)) for s in inputs.values())
    m = sum(int(np.prod(s)) for s in outputs.values())
    return (m, n), "forward" if n > m else "reverse", min(n, m)   # forward "per output"


def plan_max_passes(inputs, outputs):
    n = sum(int(np.prod(s)) for s in inputs.values())
    m = sum(int(np.prod(s)) for s in outputs.values())
    return (m, n), "forward" if n < m else "reverse", max(n, m)


def plan_always_reverse(inputs, outputs):
    m = sum(int(np.prod(s)) for s in outputs.values())
    n = sum(int(np.prod(s)) for s in inputs.values())
    return (m, n), "reverse", m                                   # the backprop habit


def matmul_w_bar_transposed(y_bar, x, W):
    return y_bar @ W.T, y_bar.T @ x


def matmul_x_bar_transposed(y_bar, x, W):
    return W @ y_bar.T, x.T @ y_bar


def matmul_batch_mean(y_bar, x, W):
    return y_bar @ W.T, x.T @ y_bar / len(x)


#: (exercise, mistake code): the learner function and what its feedback must say
LEARNERS = {
    ("04.shared_adjoint", "adjoint-overwritten"): (
        sweep_overwriting, "the input y is read 3 times (twice by c, once by a): y_bar = "
                           "3 (from c) + 3 (from c) + 2 (from a) = 8; an adjoint that is "
                           "overwritten instead of added to keeps only the contribution "
                           "that arrives last, and the sweep then gives y_bar = 2"),
    ("04.shared_adjoint", "sub-sign"): (
        sweep_sub_plus, "in c = a - b the second operand b receives -c_bar = -0.5, not "
                        "+c_bar = 0.5; with that sign flipped the sweep then gives x_bar = "
                        "-3.04063 instead of -3.91822"),
    ("04.shared_adjoint", "square-without-2"): (
        sweep_square_u, "in d = c ** 2, with c = 0.645975, it is 1.29195, not 0.645975; "
                        "with the factor 2 left out the sweep then gives x1_bar = -0.339969 "
                        "instead of -0.415699"),
    ("04.shared_adjoint", "sin-sign"): (
        sweep_sin_minus, "in b = sin(x), with x = 0.5, it is cos(0.5) = 0.877583, not "
                         "-0.877583"),
    ("04.shared_adjoint", "seed-missing"): (
        sweep_no_seed, "the reverse sweep starts from the seed z_bar = 1 on the output"),
    ("04.saved_values", "sum-operands-saved"): (
        saved_with_sums, "{'x3', 'x4', 'a', 'b'} need not be stored; it reads only "
                         "{'x1', 'x2', 'c'}"),
    ("04.saved_values", "intermediates-saved"): (
        saved_intermediates, "here {'x1', 'x2', 'c'}; no local partial reads {'a', 'b'}"),
    ("04.saved_values", "exp-operand-saved"): (
        saved_exp_operand, "the stored set is {'x', 'y', 'b'}, not {'x', 'y', 'a'}"),
    ("04.derive", "adjoint-overwritten"): (derive_overwriting,
                                           "contributions: 5 + 2 = 7, not 2"),
    ("04.derive", "own-factor"): (derive_own_factor, "adjoints['y'] = 11 instead of 8"),
    ("04.derive", "seed-dropped-at-product"): (derive_partial_only,
                                               "adjoints['x'] = 5.25 instead of 13.5"),
    ("04.derive", "minus-as-plus"): (
        derive_minus_as_plus, "Here x * y - sin(x + y) is reached with the seed 1, so its "
                              "second child sin(x + y) must receive -1, not 1; handing +seed "
                              "to both children gives adjoints['x'] = 3.28366 instead of "
                              "2.71634"),
    ("04.derive", "sin-value-not-derivative"): (
        derive_sin_value, "At sin(x + y), reached with the seed -1 and with u = x + y = 5, "
                          "that is -1 * cos(5) = -0.283662, not -1 * sin(5) = 0.958924"),
    ("04.derive", "sin-at-wrong-point"): (
        derive_sin_at_node, "the partial is cos(5) = 0.283662, not cos(sin(5)) = "
                            "cos(-0.958924) = 0.574401"),
    ("05.jacfwd_from_jvp", "transposed-jacobian"): (
        jacobian_fwd_rows, "shape (m, n) = (3, 2), one row per output and one column per "
                           "input: its first column is [2.58385, 1, 9]"),
    ("05.jacfwd_from_jvp", "ones-seed"): (jacobian_fwd_ones,
                                          "J @ [1, 1] = [4.58385, 7, 21]"),
    ("05.jacfwd_from_jvp", "extra-jvp"): (jacobian_fwd_sizing_jvp,
                                          "it took 3 JVPs where n = 2 suffice"),
    ("05.jacrev_from_vjp", "transposed-jacobian"): (
        jacobian_rev_columns, "shape (m, n) = (3, 2), one row per output and one column "
                              "per input: its first column is [2.58385, 1, 9], its first "
                              "row [2.58385, 2]"),
    ("05.jacrev_from_vjp", "recorded-per-row"): (jacobian_rev_each_row,
                                                 "f was recorded 3 times"),
    ("05.jacrev_from_vjp", "ones-cotangent"): (jacobian_rev_ones,
                                               "[1, 1, 1] @ J = [12.5839, 20]"),
    ("05.jacobian_plan", "transposed-shape"): (
        plan_transposed, "shape (50890, 1) is (n, m), the transpose: a Jacobian has one "
                         "ROW per output number (m = 1) and one COLUMN per input number "
                         "(n = 50890), so this one has shape (1, 50890)"),
    ("05.jacobian_plan", "counted-arrays"): (
        plan_counting_arrays, "counted the arrays (4 inputs, 1 output) instead of the numbers "
                              "in them: the input W1 of shape (64, 784) alone holds 50176 "
                              "numbers"),
    ("05.jacobian_plan", "first-axis-only"): (
        plan_first_axis, "gives n = 148 and m = 1, but the input W1 of shape (64, 784) holds "
                         "64 x 784 = 50176 numbers, not 64"),
    ("05.jacobian_plan", "modes-swapped"): (
        plan_swapped, "chose forward mode, which needs 50890 passes here where 1 suffice"),
    ("05.jacobian_plan", "passes-max"): (
        plan_max_passes, "mode is the right choice, but it needs 1 pass, one per "
                         "output number; 50890 is what forward mode would need"),
    ("05.jacobian_plan", "always-reverse"): (
        plan_always_reverse, "it makes one pass per output number, m = 8 here, while forward "
                             "mode makes one per input number, n = 3"),
    ("05.matmul_vjp", "transposed-w-bar"): (matmul_w_bar_transposed,
                                            "y_bar.T @ x = [[2.5, 4],\n [7, 8]], is the "
                                            "transpose of W_bar"),
    ("05.matmul_vjp", "transposed-x-bar"): (matmul_x_bar_transposed,
                                            "W @ y_bar.T = [[2.5, -2.75],\n [-1, 5.5]], is "
                                            "the transpose of x_bar"),
    ("05.matmul_vjp", "batch-averaged"): (matmul_batch_mean,
                                          "b = 2 rows of the batch"),
}


def test_every_known_mistake_has_a_learner_here():
    known = {(e, m.code) for e in EXERCISES for m in catalog.CATALOG[e].mistakes}
    assert known == set(LEARNERS)
    assert all(len(catalog.CATALOG[e].mistakes) >= 2 for e in EXERCISES)


@pytest.mark.parametrize("exercise_id,code", list(LEARNERS))
def test_a_learners_mistake_is_named_with_the_numbers_of_the_case(exercise_id, code):
    learner, says = LEARNERS[exercise_id, code]
    result = check(exercise_id, learner, record=False)
    assert result.status == "failed", repr(result)
    assert result.misconception == code, repr(result)
    assert result.message.startswith("Case ") and says in result.message, result.message
    assert result.expected and result.got and result.hint


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_the_notebooks_solution_still_passes(solutions, exercise_id):
    exercise = catalog.CATALOG[exercise_id]
    result = check(exercise_id, solutions[exercise.name], record=False)
    assert result.passed, repr(result)
    assert result.misconception == ""


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_mistakes_apply_to_every_case_and_each_is_wrong_on_a_check_case(exercise_id):
    exercise = catalog.CATALOG[exercise_id]
    graded = exercise.checker.cases(exercise.rng("grade"), catalog.GRADE_CASES)
    seen = exercise.checker.cases(exercise.rng("check"), catalog.CHECK_CASES)
    for mistake in exercise.mistakes:
        for case in graded:      # wrong() and explain() never raise on a normal case
            mistake.wrong(dict(case))
            assert mistake.explain(dict(case))
        assert any(differs(mistake.wrong(dict(c)), exercise.checker.expected(c))
                   for c in seen), mistake.code


def differs(wrong, right):
    return any(np.shape(wrong[k]) != np.shape(right[k])
               or not np.allclose(np.asarray(wrong[k], float), right[k]) for k in right)


@pytest.mark.parametrize("exercise_id", EXERCISES)
def test_three_hint_stages_that_grow_more_concrete(exercise_id):
    exercise = catalog.CATALOG[exercise_id]
    assert len(exercise.hints) == 3
    assert len(set(exercise.hints)) == 3
    assert exercise.hints[2].startswith("Outline")
