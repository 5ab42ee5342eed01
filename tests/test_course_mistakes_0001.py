"""Notebooks 00 and 01: hints in three stages, and every known mistake recognised.

For each known mistake there is a learner function that makes exactly that mistake,
written the way a learner would write it (not by calling the mistake's ``wrong``). It
must fail with the mistake's code and with feedback that quotes the numbers of the case
it failed on; the reference solution of the source notebook must still pass.
"""

from pathlib import Path

import nbformat
import numpy as np
import pytest
from test_course_nb01 import kahn_with_a_set_of_users

import adlab as ad
from course import catalog, check
from course.checking import evaluate

OURS = ("00.chain_derivative", "00.chain_product", "00.three_paths",
        "00.jacobian_chain", "01.build_trace", "01.count_uses", "01.topological_order",
        "01.evaluate_trace")
SOURCES = Path(catalog.__file__).parent / "sources"


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLAB_COURSE_DB", str(tmp_path / "p.sqlite3"))


def reference(exercise_id):
    """The function of the exercise's solution cell in the source notebook."""
    exercise = catalog.CATALOG[exercise_id]
    notebook = nbformat.read(SOURCES / f"{exercise.notebook}.ipynb", as_version=4)
    cell = next(c for c in notebook.cells
                if c.metadata.get("course", {}).get("exercise") == exercise_id)
    namespace = {"np": np, "ad": ad}
    exec(compile(cell.source, f"<{exercise_id}>", "exec"), namespace)
    return namespace[exercise.name]


# -- 00.chain_derivative: y = sin(log(1 + x^2)) -------------------------------------

def only_the_sines_derivative(x):
    return np.cos(np.log(1 + x * x))


def without_the_inner_2x(x):
    inner = 1 + x * x
    return np.cos(np.log(inner)) / inner


def cosine_of_x(x):
    inner = 1 + x * x
    return np.cos(x) * 2 * x / inner


def sine_derivative_as_minus_cos(x):
    inner = 1 + x * x
    return -np.cos(np.log(inner)) * (1 / inner) * 2 * x


# -- 00.chain_product: steps = [(f, df), ...] and x -------------------------------------

def walk(steps, x):
    """The chain's local derivatives, each at its step's own input (right)."""
    local = []
    for f, df in steps:
        local.append(df(x))
        x = f(x)
    return local


def adjoints_in_computed_order(steps, x):
    local = walk(steps, x)
    tangents, adjoints = [1.0], [1.0]
    for d in local:
        tangents.append(tangents[-1] * d)
    for d in local[::-1]:
        adjoints.append(adjoints[-1] * d)
    return tangents, adjoints


def no_seeds(steps, x):
    local = walk(steps, x)
    tangents, adjoints = [], []
    t = a = 1.0
    for d in local:
        t = t * d
        tangents.append(t)
    for d in reversed(local):
        a = a * d
        adjoints.insert(0, a)
    return tangents, adjoints


def adjoints_from_the_forward_products(steps, x):
    tangents = [1.0]
    for d in walk(steps, x):
        tangents.append(tangents[-1] * d)
    return tangents, tangents[::-1]


def both_sweeps(local):
    tangents, adjoints = [1.0], [1.0]
    for d in local:
        tangents.append(tangents[-1] * d)
    for d in reversed(local):
        adjoints.insert(0, adjoints[0] * d)
    return tangents, adjoints


def every_derivative_at_x(steps, x):
    return both_sweeps([df(x) for f, df in steps])


def derivative_after_the_step(steps, x):
    local, w = [], x
    for f, df in steps:
        w = f(w)
        local.append(df(w))   # w already moved on to the step's output
    return both_sweeps(local)


# -- 00.three_paths: z = x1 * x2 + sin(x1) + x1 / x2 -----------------------------------

def worked_example_partials(x1, x2):
    return x2 + np.cos(x1), x1


def sine_path_forgotten(x1, x2):
    return x2 + 1 / x2, x1 - x1 / x2 ** 2


def division_partial_plus(x1, x2):
    return x2 + np.cos(x1) + 1 / x2, x1 + x1 / x2 ** 2


def division_partial_without_x1(x1, x2):
    return x2 + np.cos(x1) + 1 / x2, x1 - 1 / x2 ** 2


def product_partials_swapped(x1, x2):
    return x1 + np.cos(x1) + 1 / x2, x2 - x1 / x2 ** 2


# -- 00.jacobian_chain ---------------------------------------------------------------

def make_jacobians(forward_right=False, reverse_left=False, flip=True, transpose=False):
    def accumulate_jacobians(jacobians):
        forward = [np.eye(jacobians[0].shape[1])]
        for J in jacobians:
            forward.append(forward[-1] @ J if forward_right else J @ forward[-1])
        reverse = [np.eye(jacobians[-1].shape[0])]
        for J in jacobians[::-1]:
            if transpose:
                reverse.append(J.T @ reverse[-1])
            elif reverse_left:
                reverse.append(J @ reverse[-1])
            else:
                reverse.append(reverse[-1] @ J)
        return forward, (reverse[::-1] if flip else reverse)
    return accumulate_jacobians


# -- 01.build_trace ------------------------------------------------------------------

def make_trace_values(branch="taken", minus_node=True, inputs=True, exp_early=False):
    def trace_values(x, y):
        out = [x, y] if inputs else []
        e = np.exp(-x)
        if exp_early:
            out += [-x, e]
        p = x * y
        out.append(p)
        if branch == "sin" or (branch == "taken" and p > 1):
            out.append(np.sin(p))
            b = np.sin(p) * y
        else:
            b = p * p
        out.append(b)
        if not exp_early:
            out += [-x, e] if minus_node else [e]
        out.append(b + e)
        return out
    return trace_values


# -- 01.count_uses -------------------------------------------------------------------

def count_distinct_users(rows):
    uses = {name: 0 for name, _, _ in rows}
    for _, _, inputs in rows:
        for i in set(inputs):
            uses[i] += 1
    return uses


def count_own_inputs(rows):
    return {name: len(inputs) for name, _, inputs in rows}


def counts_from_one(rows):
    uses = {name: 1 for name, _, _ in rows}
    for _, _, inputs in rows:
        for i in inputs:
            uses[i] = uses[i] + 1
    return uses


def seed_as_a_use(rows):
    uses = dict.fromkeys((name for name, _, _ in rows), 0)
    uses[rows[-1][0]] += 1  # the output's seed
    for row in rows:
        for i in row[2]:
            uses[i] += 1
    return uses


# -- 01.topological_order ------------------------------------------------------------

def outputs_first(graph):
    """Kahn's algorithm on the users: a node goes once all of its users are placed."""
    users = {node: 0 for node in graph}
    for inputs in graph.values():
        for i in inputs:
            users[i] += 1
    ready = [node for node, n in users.items() if n == 0]
    order = []
    while ready:
        node = ready.pop()
        order.append(node)
        for i in graph[node]:
            users[i] -= 1
            if users[i] == 0:
                ready.append(i)
    return order


def walk_from_the_output(graph):
    """A depth-first walk from the first key, taken to be the output."""
    order, placed = [], set()
    stack = [(next(iter(graph)), False)]
    while stack:
        node, ready = stack.pop()
        if node in placed:
            continue
        if ready:
            placed.add(node)
            order.append(node)
        else:
            stack.append((node, True))
            stack.extend((i, False) for i in graph[node])
    return order


def operations_only(graph):
    order = []

    def place(node):
        for i in graph[node]:
            if graph[i] and i not in order:
                place(i)
        if node not in order:
            order.append(node)

    for node in graph:
        if graph[node]:
            place(node)
    return order


# -- 01.evaluate_trace ---------------------------------------------------------------

def make_evaluate_trace(sub=lambda a, b: a - b, neg=lambda a: -a):
    ops = {"add": np.add, "sub": sub, "mul": np.multiply, "neg": neg,
           "sin": np.sin, "cos": np.cos, "tanh": np.tanh}

    def evaluate_trace(rows, inputs):
        values = dict(inputs)
        for name, op, args in rows:
            if op != "input":
                values[name] = ops[op](*[values[a] for a in args])
        return values
    return evaluate_trace


# learner function, and what the feedback must quote from the case it fails on
LEARNERS = {
    "00.chain_derivative": {
        "outer-derivative-only": (only_the_sines_derivative, [
            "Case 1 of 5", "1/(1 + x^2) = 0.307692 and 2x = 3",
            "dy/dx = 0.352771, not 0.382168"]),
        "inner-derivative-dropped": (without_the_inner_2x, [
            "Case 1 of 5", "2x = 3", "dy/dx = 0.352771, not 0.11759"]),
        "derivative-at-wrong-point": (cosine_of_x, [
            "Case 1 of 5", "log(1 + x^2) = 1.17865, not at x = 1.5",
            "cos(w2) = 0.382168, while cos(x) = 0.0707372"]),
        "sine-derivative-sign": (sine_derivative_as_minus_cos, [
            "Case 1 of 5", "dy/dx = 0.352771, not -0.352771"]),
    },
    "00.chain_product": {
        "adjoints-not-reversed": (adjoints_in_computed_order, [
            "Case 1 of 5", "dy/dx = -4.10312",
            "adjoints should be [-4.10312, -1.36771, 2.17727, 1]",
            "[1, 2.17727, -1.36771, -4.10312]"]),
        "seeds-missing": (no_seeds, [
            "Case 1 of 5", "k = 3 steps", "k + 1 = 4 entries", "yours have 3"]),
        "adjoints-from-input-side": (adjoints_from_the_forward_products, [
            "Case 1 of 5", "adjoints[1] = d2 * d3 = -1.36771, not d1 * d2 = -1.88452"]),
        "derivatives-at-x": (every_derivative_at_x, [
            "Case 1 of 5", "not at x", "step 2 (sin) takes w1 = 2.25",
            "d2 = cos(w1) = cos(2.25) = -0.628174, not cos(x) = cos(1.5) = 0.0707372",
            "dy/dx = -4.10312"]),
        "derivatives-at-output": (derivative_after_the_step, [
            "Case 1 of 5", "not at its output", "step 1 (square) takes w0 = 1.5",
            "d1 = 2*w0 = 2*1.5 = 3, not 2*w1 = 2*2.25 = 4.5"]),
    },
    "00.three_paths": {
        "division-path-forgotten": (worked_example_partials, [
            "Case 1 of 5", "the worked example's partials, x2 + cos(x1) = 2.58385 and x1 = 2",
            "add 0.333333 to dz/dx1 and -0.222222 to dz/dx2",
            "dz/dx1 = 2.91719 and dz/dx2 = 1.77778"]),
        "sine-path-forgotten": (sine_path_forgotten, [
            "Case 1 of 5", "cos(x1) = -0.416147", "should be 2.91719, not 3.33333"]),
        "division-sign": (division_partial_plus, [
            "Case 1 of 5", "-x1/x2**2 = -0.222222", "not +x1/x2**2 = 0.222222",
            "dz/dx2 = 1.77778, not 2.22222"]),
        "division-partial-without-x1": (division_partial_without_x1, [
            "Case 1 of 5", "-x1/x2**2 = -0.222222, not -1/x2**2 = -0.111111",
            "dz/dx2 = 1.77778"]),
        "swapped-product-partials": (product_partials_swapped, [
            "Case 1 of 5", "x2 = 3", "x1 = 2", "dz/dx1 = 2.91719 and dz/dx2 = 1.77778"]),
    },
    "00.jacobian_chain": {
        "forward-factor-on-wrong-side": (make_jacobians(forward_right=True), [
            "Case 1 of 5", "forward[2] should be J2 @ J1 = [[0.5, -1], [3.5, 5]]",
            "not J1 @ J2 = [[6, 3], [-3, -0.5]]"]),
        "reverse-factor-on-wrong-side": (make_jacobians(reverse_left=True), [
            "Case 1 of 5", "reverse[0] should be J3 @ J2 @ J1 = [[-2.5, -7], [4, 4]]",
            "not J1 @ J2 @ J3 = [[15, -3], [-6.5, 2.5]]"]),
        "reverse-list-not-flipped": (make_jacobians(flip=False), [
            "Case 1 of 5", "at reverse[3]", "reverse[0] should be J3 @ J2 @ J1 = "
            "[[-2.5, -7], [4, 4]], not the identity = [[1, 0], [0, 1]]"]),
        "transposed-jacobian": (make_jacobians(transpose=True), [
            "Case 1 of 5", "reverse[0] should be J3 @ J2 @ J1 = [[-2.5, -7], [4, 4]]",
            "not its transpose = [[-2.5, 4], [-7, 4]]"]),
    },
    "01.build_trace": {
        "branch-not-taken": (make_trace_values(branch="sin"), [
            "Case 2 of 5", "a = x * y = 0.75, which is <= 1",
            "the a * a branch, not sin(a) * y", "(7 values here)"]),
        "negation-not-recorded": (make_trace_values(minus_node=False), [
            "Case 1 of 5", "-x = -1.5", "exp(-x) = 0.22313", "8 values, not 7"]),
        "inputs-not-recorded": (make_trace_values(inputs=False), [
            "Case 1 of 5", "v-1 = x = 1.5 and v0 = y = 2", "a = x * y = 3"]),
        "operations-out-of-order": (make_trace_values(exp_early=True), [
            "Case 1 of 5", "after a = 3", "-x = -1.5 and exp(-x) = 0.22313"]),
    },
    "01.count_uses": {
        "distinct-users": (count_distinct_users, [
            "Case 1 of 5", "v3 = mul(v0, v0)", "uses['v0'] should be 3, not 2"]),
        "own-inputs-counted": (count_own_inputs, [
            "Case 1 of 5", "uses['v-1'] should be 2, not 0"]),
        "counts-start-at-one": (counts_from_one, [
            "Case 1 of 5", "the output v4", "uses['v4'] = 0, not 1"]),
        "seed-counted-as-use": (seed_as_a_use, [
            "Case 1 of 5", "the output v4", "uses['v4'] = 0, not 1"]),
    },
    "01.topological_order": {
        "reversed-order": (outputs_first, [
            "Case 1 of 5", "'z' before its input 'b'", "all 7 edges point backwards"]),
        "repeated-input-blocks": (kahn_with_a_set_of_users, [
            "Case 1 of 5", "('c': ['y', 'y'])", "'z', 'c' never got placed"]),
        "walk-from-first-key-only": (walk_from_the_output, [
            "Case 2 of 5", "the first key, 'v'", "'e' never got placed"]),
        "inputs-left-out": (operations_only, [
            "Case 1 of 5", "'y', 'x' read nothing"]),
    },
    "01.evaluate_trace": {
        "sub-operands-swapped": (make_evaluate_trace(sub=lambda a, b: b - a), [
            "Case 2 of 5", "v1 = sub(v-1, v0) is v-1 - v0 = 1.25 - 0.5 = 0.75",
            "not v0 - v-1 = -0.75"]),
        "neg-ignored": (make_evaluate_trace(neg=lambda a: a), [
            "Case 2 of 5", "v3 = -v-1 = -1.25, not v-1 itself = 1.25"]),
    },
}


def test_these_are_all_the_exercises_of_notebooks_00_and_01():
    ours = {e.id for e in catalog.EXERCISES
            if e.notebook in ("00_chain_rule", "01_traces_and_graphs")}
    assert ours == set(OURS) == set(LEARNERS)


@pytest.mark.parametrize("exercise_id", OURS)
def test_hints_come_in_three_stages(exercise_id):
    exercise = catalog.CATALOG[exercise_id]
    assert len(exercise.hints) == 3
    assert len(set(exercise.hints)) == 3
    stages = [exercise.hint_for(failures)[1] for failures in range(5)]
    assert stages == [1, 2, 3, 3, 3]


@pytest.mark.parametrize("exercise_id", OURS)
def test_every_known_mistake_has_a_learner_here_and_there_are_at_least_two(exercise_id):
    codes = [m.code for m in catalog.CATALOG[exercise_id].mistakes]
    assert len(codes) >= 2
    assert sorted(codes) == sorted(LEARNERS[exercise_id])


@pytest.mark.parametrize("exercise_id,code",
                         [(e, code) for e in OURS for code in LEARNERS[e]])
def test_a_learner_who_makes_the_mistake_is_told_which_with_the_numbers(exercise_id, code):
    learner, quoted = LEARNERS[exercise_id][code]
    result = check(exercise_id, learner, record=False)
    assert result.status == "failed", repr(result)
    assert result.misconception == code, result.message
    for text in quoted:
        assert text in result.message, result.message


@pytest.mark.parametrize("exercise_id", OURS)
def test_the_reference_solution_still_passes(exercise_id):
    result = check(exercise_id, reference(exercise_id), record=False)
    assert result.passed, repr(result)
    assert result.misconception == ""
    graded = evaluate(catalog.CATALOG[exercise_id], reference(exercise_id),
                      cases=catalog.GRADE_CASES, purpose="grade")
    assert graded.passed, repr(graded)
