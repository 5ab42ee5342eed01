"""Exercises of notebook 01, evaluation traces and computational graphs."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

import adlab as ad
from course.checkers import Checker, WrongOutput, number
from course.exercise import Exercise
from course.result import fmt, safe_repr

# ---------------------------------------------------------------------------------
# 01.build_trace: the trace of one run of a program with a branch
# ---------------------------------------------------------------------------------


def branchy(x: Any, y: Any) -> Any:
    """The program of exercise 01.build_trace (the same text is in the notebook)."""
    a = x * y
    if a > 1:
        b = ad.sin(a) * y
    else:
        b = a * a
    return b + ad.exp(-x)


class BuildTrace(Checker):
    """``trace_values(x, y)``: the values v-1, v0, v1, ... that ``ad.trace(branchy)`` records."""

    fixed = ({"x": 1.5, "y": 2.0}, {"x": 0.5, "y": 1.5})  # a = 3 > 1, then a = 0.75

    def random_case(self, rng, k):
        while True:  # alternate the branches, and keep a away from the threshold 1
            x, y = number(rng, -2, 2), number(rng, -2, 2)
            if (x * y > 1.05) == (k % 2 == 0) and abs(x * y - 1) > 0.05:
                return {"x": x, "y": y}

    def call(self, fn, case, fname):
        values = fn(case["x"], case["y"])
        if not isinstance(values, (list, tuple, np.ndarray)):
            raise WrongOutput(f"{fname} should return a list of numbers, v-1 first",
                              safe_repr(values))
        return {f"v{i - 1}": v for i, v in enumerate(values)}

    def expected(self, case):
        t = ad.trace(branchy, case["x"], case["y"])
        return {node.name: np.asarray(node.value, float) for node in t.nodes}


# ---------------------------------------------------------------------------------
# Random straight-line programs, recorded by adlab
# ---------------------------------------------------------------------------------

BINARY = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b}
UNARY = {"sin": ad.sin, "cos": ad.cos, "tanh": ad.tanh, "neg": lambda a: -a}


def random_program(rng: np.random.Generator, n_inputs: int, n_steps: int) -> dict:
    """Inputs with values and steps ``[op, i]`` / ``[op, i, j]`` over earlier nodes.

    Every step reads the step before it, so every node but the inputs reaches the
    output; the other operand is any earlier node (the same one twice included:
    ``x * x``, though never ``x - x``), so nodes are shared.
    """
    names = ["x", "y", "w"][:n_inputs]
    steps: list = []
    for s in range(n_steps):
        newest = n_inputs + s - 1
        if rng.random() < 0.35:
            steps.append([str(rng.choice(sorted(UNARY))), newest])
        else:
            other = int(rng.integers(0, newest + 1))
            first, second = (newest, other) if rng.random() < 0.5 else (other, newest)
            op = str(rng.choice(sorted(BINARY)))
            steps.append(["mul" if op == "sub" and first == second else op, first, second])
    return {"inputs": {n: number(rng, -1.5, 1.5) for n in names}, "steps": steps}


def program_function(program: dict) -> Any:
    """The program as a Python function of its inputs (for ad.trace)."""
    def f(*args):
        nodes = list(args)
        for op, *operands in program["steps"]:
            fn = BINARY.get(op) or UNARY[op]
            nodes.append(fn(*(nodes[i] for i in operands)))
        return nodes[-1]
    return f


def program_trace(program: dict, values: dict | None = None) -> ad.Trace:
    values = values if values is not None else program["inputs"]
    return ad.trace(program_function(program), *values.values())


def rows_of(t: ad.Trace) -> list[tuple[str, str, tuple[str, ...]]]:
    """A trace as rows ``(name, op, inputs)``, the form the exercises use."""
    return [(str(n.name), n.op, tuple(str(i) for i in n.inputs)) for n in t.nodes]


def rows_text(rows: list) -> str:
    return "; ".join(f"{name} = {op}" if op == "input" else f"{name} = {op}({', '.join(ins)})"
                     for name, op, ins in rows)


def dict_outputs(result: Any, fname: str, label: str) -> dict:
    """A learner's dict {name: number} as named outputs ``label[name]``."""
    if not isinstance(result, dict):
        raise WrongOutput(f"{fname} should return a dict from node names to numbers",
                          safe_repr(result))
    for key in result:
        if not isinstance(key, str):
            raise WrongOutput("the keys should be the node names (strings like 'v-1')",
                              safe_repr(key))
    return {f"{label}[{k!r}]": v for k, v in result.items()}


# the worked example z = x (x + y) + y y, as a program
SHARED = {"inputs": {"x": 2.0, "y": 3.0},
          "steps": [["add", 0, 1], ["mul", 0, 2], ["mul", 1, 1], ["add", 3, 4]]}
SIN_PRODUCT = {"inputs": {"x1": 2.0, "x2": 3.0},  # z = x1 x2 + sin(x1)
               "steps": [["mul", 0, 1], ["sin", 0], ["add", 2, 3]]}
EVERY_OP = {"inputs": {"x": 0.5, "y": -1.0},  # z = tanh(x - y) cos(-x) + sin(x y)
            "steps": [["sub", 0, 1], ["tanh", 2], ["neg", 0], ["cos", 4], ["mul", 3, 5],
                      ["mul", 0, 1], ["sin", 7], ["add", 6, 8]]}


# ---------------------------------------------------------------------------------
# 01.count_uses
# ---------------------------------------------------------------------------------


class CountUses(Checker):
    """``count_uses(rows) -> {name: uses}``, against the terms of adlab's adjoint sums."""

    fixed = ({"program": SHARED}, {"program": SIN_PRODUCT})

    def random_case(self, rng, k):
        return {"program": random_program(rng, 1 + k % 3, int(rng.integers(3, 9)))}

    def call(self, fn, case, fname):
        rows = rows_of(program_trace(case["program"]))
        return dict_outputs(fn(rows), fname, "uses")

    def expected(self, case):
        # each use of a node sends one term into its adjoint in the reverse sweep
        adjoints = program_trace(case["program"]).reverse()
        return {f"uses[{name!r}]": np.asarray(sum(c.source != "seed" for c in terms), float)
                for name, terms in adjoints.contributions.items()}

    def describe(self, case, fname):
        return f"{fname}(rows) for the trace  {rows_text(rows_of(program_trace(case['program'])))}"


# ---------------------------------------------------------------------------------
# 01.topological_order
# ---------------------------------------------------------------------------------

LETTERS = "abcdefghijkmnpqrstuv"


def graph_of(program: dict, rng: np.random.Generator | None) -> dict[str, list[str]]:
    """The program's DAG as {node: [its inputs]}, with letters for names, keys shuffled.

    Without ``rng`` (the worked example) the names are the notebook's x, y, a, b, c, z
    and the keys come output first.
    """
    t = program_trace(program)
    if rng is None:
        names = [*program["inputs"], "a", "b", "c", "z"][: len(t.nodes)]
    else:
        names = [str(s) for s in rng.permutation(list(LETTERS))[: len(t.nodes)]]
    rename = {node.name: new for node, new in zip(t.nodes, names)}
    graph = {rename[n.name]: [rename[str(i)] for i in n.inputs] for n in t.nodes}
    order = list(reversed(graph)) if rng is None else [str(k) for k in rng.permutation(
        list(graph))]
    return {k: graph[k] for k in order}


class TopologicalOrder(Checker):
    """``topological_order(graph)``: every node once, each after all of its inputs."""

    def __init__(self):
        self.fixed = ({"graph": graph_of(SHARED, None)},)  # x, y, a, b, c, z; output first

    def random_case(self, rng, k):
        program = random_program(rng, 1 + k % 3, int(rng.integers(4, 14)))
        return {"graph": graph_of(program, rng)}

    def call(self, fn, case, fname):
        graph = case["graph"]
        order = fn(copy.deepcopy(graph))
        if not isinstance(order, (list, tuple)) or not all(isinstance(n, str) for n in order):
            raise WrongOutput(f"{fname} should return a list of node names (strings)",
                              safe_repr(order))
        out: dict = {f"times {name!r} appears": order.count(name) for name in graph}
        out.update({f"times {name!r} appears": order.count(name) for name in order
                    if name not in graph})  # names that are not in the graph
        position = {name: i for i, name in enumerate(order)}
        for node, inputs in graph.items():
            for i in dict.fromkeys(inputs):
                before = node in position and i in position and position[i] < position[node]
                out[f"{i!r} before {node!r}"] = int(before)
        return out

    def expected(self, case):
        # every node exactly once; every edge of adlab's trace points forwards in the order
        out = {f"times {name!r} appears": np.asarray(1.0) for name in case["graph"]}
        out.update({f"{i!r} before {node!r}": np.asarray(1.0)
                    for node, inputs in case["graph"].items() for i in dict.fromkeys(inputs)})
        return out

    def describe(self, case, fname):
        return f"{fname}({case['graph']!r})"


# ---------------------------------------------------------------------------------
# 01.evaluate_trace
# ---------------------------------------------------------------------------------


class EvaluateTrace(Checker):
    """``evaluate_trace(rows, inputs) -> {name: value}``: a recorded trace, replayed."""

    fixed = ({"program": SHARED, "new": {"x": -1.0, "y": 0.5}},
             {"program": EVERY_OP, "new": {"x": 1.25, "y": 0.5}})

    def random_case(self, rng, k):
        program = random_program(rng, 1 + k % 3, int(rng.integers(3, 9)))
        return {"program": program, "new": {n: number(rng, -1.5, 1.5)
                                            for n in program["inputs"]}}

    def _inputs(self, case) -> dict[str, float]:
        rows = rows_of(program_trace(case["program"]))
        return {name: v for (name, _, _), v in zip(rows, case["new"].values())}

    def call(self, fn, case, fname):
        rows = rows_of(program_trace(case["program"]))
        return dict_outputs(fn(rows, self._inputs(case)), fname, "values")

    def expected(self, case):
        # run the program itself at the new inputs: adlab records the same steps anew
        t = program_trace(case["program"], case["new"])
        return {f"values[{n.name!r}]": np.asarray(n.value, float) for n in t.nodes}

    def describe(self, case, fname):
        rows = rows_text(rows_of(program_trace(case["program"])))
        return f"{fname}(rows, inputs={fmt(self._inputs(case))}) for the trace  {rows}"


EXERCISES = (
    Exercise(
        id="01.build_trace", notebook="01_traces_and_graphs", points=2, name="trace_values",
        title="The evaluation trace of a program with a branch", checker=BuildTrace(),
        hint="Follow the program as Python runs it, one elementary operation per entry, "
             "and only along the branch this run takes: x, y, a = x*y, then (a > 1) "
             "sin(a) and sin(a)*y, or (otherwise) a*a, then -x (the minus sign is an "
             "operation of its own), exp(-x), and the final sum. The two runs give traces "
             "of different lengths.",
    ),
    Exercise(
        id="01.count_uses", notebook="01_traces_and_graphs", points=2, name="count_uses",
        title="How often each node is used", checker=CountUses(),
        hint="Start every node at 0 (the output too), then for every row add 1 to each "
             "name in its inputs. Count every occurrence: in v3 = mul(v0, v0) the node v0 "
             "is used twice, and the reverse sweep will send it two terms. For "
             "z = x*(x+y) + y*y: x 2, y 3, the others 1, z 0.",
    ),
    Exercise(
        id="01.topological_order", notebook="01_traces_and_graphs", points=3,
        name="topological_order", title="A topological order of a graph",
        checker=TopologicalOrder(),
        hint="Repeatedly take a node all of whose inputs are already placed (inputs have "
             "none), until every node is placed. Or a depth-first walk: place a node "
             "after placing its inputs, skipping nodes already placed. The keys of the "
             "dict are in no useful order, and an input may be listed twice (y*y).",
    ),
    Exercise(
        id="01.evaluate_trace", notebook="01_traces_and_graphs", points=2,
        name="evaluate_trace", title="Replaying a trace on new inputs",
        checker=EvaluateTrace(),
        hint="Walk the rows in order, keeping a dict values = {}: an 'input' row takes "
             "inputs[name]; any other row applies its op to the values of its inputs, in "
             "the order they are listed (sub(a, b) is a - b; neg(a) is -a; sin, cos and "
             "tanh via np). Return the dict with every node's value.",
    ),
)
