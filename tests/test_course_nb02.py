"""Notebook 02's checkers accept their reference solutions and reject typical mistakes."""


import numpy as np
import pytest
from course_cases import accepts, runner_and_here, same_verdict_test

import adlab as ad
import adlab.symbolic as sym
from adlab import numeric
from course import catalog, provided
from course.checking import evaluate
from course.exercises import nb02


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLAB_COURSE_DB", str(tmp_path / "progress.sqlite3"))


# -- 02.symbolic_rules ---------------------------------------------------------------

RULES = {
    "add": lambda a, b, da, db: da + db,
    "sub": lambda a, b, da, db: da - db,
    "mul": lambda a, b, da, db: da * b + a * db,
    "div": lambda a, b, da, db: (da * b - a * db) / (b * b),
    "neg": lambda a, da: -da,
    "sin": lambda a, da: sym.cos(a) * da,
    "cos": lambda a, da: -sym.sin(a) * da,
    "exp": lambda a, da: sym.exp(a) * da,
    "log": lambda a, da: da / a,
}


def make_rule(**changes):
    rules = {**RULES, **changes}

    def derivative_rule(op, args, dargs):
        return rules[op](*args, *dargs)
    return derivative_rule


# -- 02.unroll -----------------------------------------------------------------------

def make_unroll(halve=True, decide_on="value", extra_halving=False):
    def unroll(x0):
        y, y0 = sym.Symbol("x"), x0
        while halve and y0 > 2:
            y, y0 = y / 2, y0 / 2
        if extra_halving and x0 > 2:
            y = y / 2
        test = y0 if decide_on == "value" else x0
        if test < 1.5:
            return y * sym.sin(y)
        return 4 * y * (1 - y)
    return unroll


# -- 02.central_difference -----------------------------------------------------------

def make_central(formula="central", default=numeric.CENTRAL_STEP):
    def central_difference(f, x, h=None):
        h = default if h is None else h
        if formula == "central":
            return (f(x + h) - f(x - h)) / (2 * h)
        if formula == "no factor 2":
            return (f(x + h) - f(x - h)) / h
        return (f(x + h) - f(x)) / h          # the forward quotient
    return central_difference


# -- 02.fd_gradient ------------------------------------------------------------------

def make_fd_gradient(mode="n + 1", h=numeric.FORWARD_STEP):
    def fd_gradient(f, x):
        x = np.asarray(x, float)
        g = np.zeros(len(x))
        fx = f(x)
        for i in range(len(x)):
            moved = x.copy()
            moved[i] += h
            if mode == "n + 1":
                g[i] = (f(moved) - fx) / h
            elif mode == "2n":                 # f(x) again for every input
                g[i] = (f(moved) - f(x)) / h
            elif mode == "sign":
                g[i] = (fx - f(moved)) / h
            else:                              # central differences
                back = x.copy()
                back[i] -= h
                g[i] = (f(moved) - f(back)) / (2 * h)
        return g
    return fd_gradient


REFERENCE = {
    "02.symbolic_rules": make_rule(),
    "02.unroll": make_unroll(),
    "02.central_difference": make_central(),
    "02.fd_gradient": make_fd_gradient(),
}

WRONG = {
    "02.symbolic_rules": {
        "product rule, one term": make_rule(mul=lambda a, b, da, db: da * b),
        "product of derivatives": make_rule(mul=lambda a, b, da, db: da * db),
        "quotient rule, terms swapped": make_rule(
            div=lambda a, b, da, db: (a * db - da * b) / (b * b)),
        "quotient rule, b not squared": make_rule(div=lambda a, b, da, db: (da * b - a * db) / b),
        "cos with a plus sign": make_rule(cos=lambda a, da: sym.sin(a) * da),
        "sin without the chain rule": make_rule(sin=lambda a, da: sym.cos(a)),
        "log without the chain rule": make_rule(log=lambda a, da: 1 / a),
        "sub like add": make_rule(sub=lambda a, b, da, db: da + db),
        "a number, not an expression": lambda op, args, dargs: 1.0 if op == "mul" else "?",
    },
    "02.unroll": {
        "no loop": make_unroll(halve=False),
        "the branch decided on x0": make_unroll(decide_on="input"),
        "one halving too many": make_unroll(extra_halving=True),
        "the value, not an expression": lambda x0: float(nb02.halve_and_branch(x0)),
        "a constant expression": lambda x0: sym.Const(float(nb02.halve_and_branch(x0))),
    },
    "02.central_difference": {
        "the forward quotient": make_central(formula="forward"),
        "no factor 2": make_central(formula="no factor 2"),
        "a step of 1e-12": make_central(default=1e-12),
        "the forward step sqrt(eps)": make_central(default=numeric.FORWARD_STEP),
        "a step of 1e-3": make_central(default=1e-3),
    },
    "02.fd_gradient": {
        "f(x) evaluated 2n times": make_fd_gradient(mode="2n"),
        "central differences": make_fd_gradient(mode="central"),
        "numeric.gradient (2n evaluations)": lambda f, x: numeric.gradient(f, x, "forward"),
        "the difference the wrong way round": make_fd_gradient(mode="sign"),
    },
}


@pytest.mark.parametrize("exercise_id", list(REFERENCE))
def test_reference_solution_passes_with_grading_cases(exercise_id):
    accepts(exercise_id, REFERENCE[exercise_id])


@pytest.mark.parametrize("exercise_id,mistake",
                         [(e, m) for e, wrong in WRONG.items() for m in wrong])
def test_typical_mistakes_fail_in_the_learners_five_cases(exercise_id, mistake):
    result = evaluate(catalog.CATALOG[exercise_id], WRONG[exercise_id][mistake])
    assert result.status == "failed", repr(result)
    assert result.score == 0
    assert result.hint


def test_sympy_style_rule_table_from_adlab_passes():
    """Any correct way of writing the rules passes: here adlab's own table."""
    def derivative_rule(op, args, dargs):
        return sym.DERIVATIVES[op](*args, *dargs)
    result = evaluate(catalog.CATALOG["02.symbolic_rules"], derivative_rule)
    assert result.passed, repr(result)


@pytest.mark.parametrize("step", [1e-6, 3e-6, 1e-5, 2e-5])
def test_every_reasonable_central_step_passes_the_grading_cases(step):
    result = evaluate(catalog.CATALOG["02.central_difference"], make_central(default=step),
                      cases=catalog.GRADE_CASES, purpose="grade")
    assert result.passed, repr(result)


def test_a_relative_step_passes_too():
    def central_difference(f, x, h=None):
        h = numeric.CENTRAL_STEP * max(1.0, abs(x)) if h is None else h
        return (f(x + h) - f(x - h)) / (2 * h)
    result = evaluate(catalog.CATALOG["02.central_difference"], central_difference,
                      cases=catalog.GRADE_CASES, purpose="grade")
    assert result.passed, repr(result)


def test_fd_gradient_counts_n_plus_one_and_matches_ad_closely():
    f = nb02.FUNCTIONS_ND["z"]
    g = nb02.forward_gradient(f, np.array([2.0, 3.0]))
    exact = np.asarray(ad.grad(lambda v: v[0] * v[1] + ad.sin(v[0]))(np.array([2.0, 3.0])))
    assert np.allclose(g, exact, rtol=1e-6)
    assert np.allclose(exact, [3 + np.cos(2.0), 2.0])


def test_the_program_has_four_paths_and_the_fixed_cases_take_all_of_them():
    paths = set()
    for case in nb02.Unroll.fixed:
        t = ad.trace(nb02.halve_and_branch, case["x0"])
        paths.add(tuple(node.op for node in t.nodes))
    assert len(paths) == 4


def test_random_symbolic_cases_use_every_rule_over_the_grading_cases():
    exercise = catalog.CATALOG["02.symbolic_rules"]
    ops = set()
    for case in exercise.checker.cases(exercise.rng("grade"), catalog.GRADE_CASES):
        stack = [case["expr"]]
        while stack:
            spec = stack.pop()
            if isinstance(spec, list):
                ops.add(spec[0])
                stack.extend(spec[1:])
    assert ops == set(nb02.RULE_OPS)


def test_the_notebook_shows_the_program_the_checker_uses():
    from course import release

    source = release.read_sources()["02_three_ways"]
    cell = next(c for c in source.cells
                if c.cell_type == "code" and c.source.startswith("def halve_and_branch"))
    namespace = {"sym": sym}
    exec(cell.source, namespace)
    for x0 in [0.3, 0.7, 1.6, 1.8, 2.5, 3.5, 7.0, 13.0]:
        assert namespace["halve_and_branch"](x0) == nb02.halve_and_branch(x0)


def test_the_test_functions_live_in_provided_and_the_checker_knows_them_all():
    assert nb02.FUNCTIONS_1D is provided.FUNCTIONS_1D
    assert set(nb02.INTERVALS_1D) == set(provided.FUNCTIONS_1D)
    assert set(nb02.ABOUT_ND) == set(provided.FUNCTIONS_ND)
    assert provided.BUILDERS["fn_1d"]("sin(3*x)") is provided.FUNCTIONS_1D["sin(3*x)"]


def test_fd_gradient_is_handed_a_counting_copying_function():
    exercise = catalog.CATALOG["02.fd_gradient"]
    seen = []

    def fd_gradient(f, x):
        seen.append(f)
        return nb02.forward_gradient(f, x)

    case = exercise.checker.fixed[1]
    got = exercise.checker.call(fd_gradient, case, "fd_gradient")
    assert isinstance(seen[0], provided.Provided) and seen[0].copy_input
    assert got["evaluations of f"] == seen[0].calls == seen[0].plain == 5


NOTEBOOK = "02_three_ways"
MISTAKES = '''
def rule_product_one_term(op, args, dargs):
    if op == "mul":
        (a, b), (da, db) = args, dargs
        return da * b
    return derivative_rule(op, args, dargs)


def rule_a_string(op, args, dargs):
    return f"d{op}"


def unroll_no_loop(x0):
    y = sym.Symbol("x")
    return y * sym.sin(y) if x0 < 1.5 else 4 * y * (1 - y)


def unroll_the_value(x0):
    return float(x0)


def central_forward(f, x, h=None):
    h = numeric.CENTRAL_STEP if h is None else h
    return (f(x + h) - f(x)) / h


def central_tiny_step(f, x, h=None):
    h = 1e-12 if h is None else h
    return (f(x + h) - f(x - h)) / (2 * h)


def central_a_string(f, x, h=None):
    return "a string"


def fd_gradient_2n(f, x):
    h = numeric.FORWARD_STEP
    x = np.asarray(x, dtype=float)
    g = np.empty(len(x))
    for i in range(len(x)):
        moved = x.copy()
        moved[i] += h
        g[i] = (f(moved) - f(x)) / h
    return g


def fd_gradient_changes_x(f, x):
    h = numeric.FORWARD_STEP
    fx = f(x)
    g = np.empty(len(x))
    for i in range(len(x)):
        x[i] += h              # moves x in place, and back
        g[i] = (f(x) - fx) / h
        x[i] -= h
    return g
'''

#: (exercise, learner function, status, part of the message)
REMOTE = [
    ("02.symbolic_rules", "derivative_rule", "passed", ""),
    ("02.symbolic_rules", "rule_product_one_term", "failed", "is wrong at index"),
    ("02.symbolic_rules", "rule_a_string", "wrong", "should be an expression"),
    ("02.unroll", "unroll", "passed", ""),
    ("02.unroll", "unroll_no_loop", "failed", "is wrong"),
    ("02.unroll", "unroll_the_value", "wrong", "should return an expression"),
    ("02.central_difference", "central_difference", "passed", ""),
    ("02.central_difference", "central_forward", "failed",
     "the quotient with h = 0.01 is wrong"),
    ("02.central_difference", "central_tiny_step", "failed", "relative error"),
    ("02.central_difference", "central_a_string", "wrong", "is not a number"),
    ("02.fd_gradient", "fd_gradient", "passed", ""),
    ("02.fd_gradient", "fd_gradient_2n", "failed", "evaluations of f is wrong"),
    ("02.fd_gradient", "fd_gradient_changes_x", "passed", ""),
]


# -- the same checks as grading runs them (see course_cases.both_ways) -------------------

@pytest.fixture(scope="module")
def learner(tmp_path_factory):
    """(runner, namespace here): the same learner code in a runner and in this process."""
    yield from runner_and_here(tmp_path_factory, NOTEBOOK, MISTAKES)


test_a_runner_gets_the_same_verdict_as_this_process = same_verdict_test(REMOTE)
