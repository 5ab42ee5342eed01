"""Notebook 01's checkers accept the reference solutions and reject typical mistakes."""

import numpy as np
import pytest
from course_cases import accepts, rejects

from course import catalog
from course.checking import evaluate
from course.exercises import nb01


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLAB_COURSE_DB", str(tmp_path / "progress.sqlite3"))


# -- 01.build_trace ---------------------------------------------------------------

def make_trace_values(neg_step=True, branch="taken", inputs=True, exp_first=False):
    def trace_values(x, y):
        values = [x, y] if inputs else []
        if exp_first:
            values += [-x, np.exp(-x)]
        a = x * y
        values.append(a)
        if (a > 1 and branch == "taken") or branch == "always sin":
            s = np.sin(a)
            b = s * y
            values += [s, b]
        else:
            b = a * a
            values.append(b)
        if not exp_first:
            values += [-x, np.exp(-x)] if neg_step else [np.exp(-x)]
        values.append(b + np.exp(-x))
        return values
    return trace_values


# -- 01.count_uses ----------------------------------------------------------------

def make_count_uses(mode="uses"):
    def count_uses(rows):
        uses = {name: 0 for name, _, _ in rows}
        for name, _, inputs in rows:
            if mode == "uses":
                for i in inputs:
                    uses[i] += 1
            elif mode == "distinct":
                for i in set(inputs):
                    uses[i] += 1
            elif mode == "in-degree":
                uses[name] += len(inputs)
        if mode == "no zeros":
            for _, _, inputs in rows:
                for i in inputs:
                    uses[i] += 1
            return {k: v for k, v in uses.items() if v}
        return uses
    return count_uses


# -- 01.topological_order ---------------------------------------------------------

def topological_order(graph):
    waiting = {node: len(inputs) for node, inputs in graph.items()}
    users = {node: [] for node in graph}
    for node, inputs in graph.items():
        for i in inputs:
            users[i].append(node)
    ready = [node for node, k in waiting.items() if k == 0]
    order = []
    while ready:
        node = ready.pop()
        order.append(node)
        for user in users[node]:
            waiting[user] -= 1
            if waiting[user] == 0:
                ready.append(user)
    return order


def kahn_with_a_set_of_users(graph):
    """Counts an input listed twice (y * y) twice, but releases it only once."""
    waiting = {node: len(inputs) for node, inputs in graph.items()}
    users = {node: set() for node in graph}
    for node, inputs in graph.items():
        for i in inputs:
            users[i].add(node)
    ready = [node for node, k in waiting.items() if k == 0]
    order = []
    while ready:
        node = ready.pop()
        order.append(node)
        for user in sorted(users[node]):
            waiting[user] -= 1
            if waiting[user] == 0:
                ready.append(user)
    return order


def outputs_first(graph):
    """A depth-first walk that places a node before its inputs."""
    order = []

    def visit(node):
        if node in order:
            return
        order.append(node)
        for i in graph[node]:
            visit(i)

    for node in graph:
        visit(node)
    return order


# -- 01.evaluate_trace ------------------------------------------------------------

def make_evaluate_trace(sub=lambda a, b: a - b, neg=lambda a: -a, only_output=False):
    ops = {"add": lambda a, b: a + b, "sub": sub, "mul": lambda a, b: a * b,
           "neg": neg, "sin": np.sin, "cos": np.cos, "tanh": np.tanh}

    def evaluate_trace(rows, inputs):
        values = {}
        for name, op, args in rows:
            if op == "input":
                values[name] = inputs[name]
            else:
                values[name] = ops[op](*(values[a] for a in args))
        return values[rows[-1][0]] if only_output else values
    return evaluate_trace


REFERENCE = {
    "01.build_trace": make_trace_values(),
    "01.count_uses": make_count_uses(),
    "01.topological_order": topological_order,
    "01.evaluate_trace": make_evaluate_trace(),
}

WRONG = {
    "01.build_trace": {
        "-x folded into exp": make_trace_values(neg_step=False),
        "always the first branch": make_trace_values(branch="always sin"),
        "inputs left out": make_trace_values(inputs=False),
        "exp(-x) computed first": make_trace_values(exp_first=True),
    },
    "01.count_uses": {
        "distinct users instead of uses": make_count_uses("distinct"),
        "counts each node's inputs": make_count_uses("in-degree"),
        "unused nodes left out": make_count_uses("no zeros"),
    },
    "01.topological_order": {
        "the keys as given": lambda graph: list(graph),
        "outputs before inputs": outputs_first,
        "Kahn with a set of users": kahn_with_a_set_of_users,
    },
    "01.evaluate_trace": {
        "sub with its operands swapped": make_evaluate_trace(sub=lambda a, b: b - a),
        "neg ignored": make_evaluate_trace(neg=lambda a: a),
        "only the output": make_evaluate_trace(only_output=True),
    },
}


def test_every_exercise_of_the_notebook_is_covered():
    ours = {e.id for e in catalog.EXERCISES if e.notebook == "01_traces_and_graphs"}
    assert ours == set(REFERENCE) == set(WRONG)
    assert len(ours) >= 3 and all(len(m) >= 2 for m in WRONG.values())


@pytest.mark.parametrize("exercise_id", list(REFERENCE))
def test_reference_solution_passes_with_grading_cases(exercise_id):
    accepts(exercise_id, REFERENCE[exercise_id])


@pytest.mark.parametrize("exercise_id,mistake",
                         [(e, m) for e, ms in WRONG.items() for m in ms])
def test_typical_mistakes_fail_in_the_learners_five_cases(exercise_id, mistake):
    rejects(exercise_id, WRONG[exercise_id][mistake])


def test_any_valid_order_is_accepted():
    rng = np.random.default_rng(0)

    def shuffled_kahn(graph):
        placed, order = set(), []
        while len(order) < len(graph):
            ready = [n for n in graph if n not in placed and all(i in placed for i in graph[n])]
            node = ready[int(rng.integers(len(ready)))]
            placed.add(node)
            order.append(node)
        return order

    exercise = catalog.CATALOG["01.topological_order"]
    assert evaluate(exercise, shuffled_kahn, cases=catalog.GRADE_CASES, purpose="grade").passed


def test_the_worked_examples_come_first():
    result = evaluate(catalog.CATALOG["01.count_uses"],
                      WRONG["01.count_uses"]["distinct users instead of uses"])
    assert "Case 1 of 5" in result.message
    assert result.misconception == "distinct-users"
    assert "uses['v0'] should be 3, not 2" in result.message
    assert result.expected.startswith("uses['v-1'] = 2, uses['v0'] = 3, uses['v1'] = 1")
    exercise = catalog.CATALOG["01.topological_order"]
    first = exercise.checker.cases(exercise.rng("check"), 5)[0]["graph"]
    assert first == {"z": ["b", "c"], "c": ["y", "y"], "b": ["x", "a"], "a": ["x", "y"],
                     "y": [], "x": []}


def test_a_missing_node_is_named():
    result = evaluate(catalog.CATALOG["01.topological_order"],
                      lambda graph: [n for n in topological_order(graph) if n != "c"])
    assert result.status == "failed"
    assert "times 'c' appears" in result.message


def test_build_trace_cases_take_both_branches():
    exercise = catalog.CATALOG["01.build_trace"]
    cases = exercise.checker.cases(exercise.rng("grade"), catalog.GRADE_CASES)
    taken = {case["x"] * case["y"] > 1 for case in cases}
    assert taken == {True, False}


def test_random_programs_share_nodes():
    rng = np.random.default_rng(3)
    programs = [nb01.random_program(rng, 2, 6) for _ in range(30)]
    rows = [r for p in programs for r in nb01.rows_of(nb01.program_trace(p))]
    assert any(len(ins) == 2 and ins[0] == ins[1] for _, _, ins in rows)  # x * x
    assert {op for _, op, _ in rows} == {"input", "add", "sub", "mul", "neg", "sin", "cos",
                                         "tanh"}
