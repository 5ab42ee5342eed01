"""Exercises of notebook 01, evaluation traces and computational graphs."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

import adlab as ad
from course.checkers import Checker, WrongOutput, number
from course.exercise import Exercise, Mistake
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


def node_values(program: dict, args: Any, changed: dict | None = None) -> list:
    """Every node's value, inputs first, for the program run on ``args``; ``changed``
    replaces some operations (how a known mistake computes its wrong values)."""
    ops = {**BINARY, **UNARY, **(changed or {})}
    nodes = list(args)
    for op, *operands in program["steps"]:
        nodes.append(ops[op](*(nodes[i] for i in operands)))
    return nodes


def program_function(program: dict) -> Any:
    """The program as a Python function of its inputs (for ad.trace)."""
    def f(*args):
        return node_values(program, args)[-1]
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


# ---------------------------------------------------------------------------------
# Known mistakes: the outputs each one produces, and its feedback with the case's numbers
# ---------------------------------------------------------------------------------


def _branchy_record(case: dict, *, sin_branch: bool, neg_node: bool = True,
                    with_inputs: bool = True, exp_first: bool = False) -> list:
    """The values a trace of ``branchy`` holds when recorded this (mistaken) way."""
    x, y = case["x"], case["y"]
    product = x * y
    branch = [np.sin(product), np.sin(product) * y] if sin_branch else [product * product]
    negated = [-x] if neg_node else []
    exp_part = [*negated, np.exp(-x)]
    middle = [*exp_part, product, *branch] if exp_first else [product, *branch, *exp_part]
    return [*([x, y] if with_inputs else []), *middle, branch[-1] + np.exp(-x)]


def _trace_outputs(values: list) -> dict:
    return {f"v{i - 1}": v for i, v in enumerate(values)}


def _taken(case: dict) -> bool:
    return case["x"] * case["y"] > 1


def _branch_text(sin_branch: bool) -> str:
    return "sin(a) * y" if sin_branch else "a * a"


BUILD_TRACE_MISTAKES = (
    Mistake("branch-not-taken",
            lambda c: _trace_outputs(_branchy_record(c, sin_branch=not _taken(c))),
            lambda c: f"this run has a = x * y = {fmt(c['x'] * c['y'])}, which is "
                      f"{'>' if _taken(c) else '<='} 1, so it takes the "
                      f"{_branch_text(_taken(c))} branch, not {_branch_text(not _taken(c))}: "
                      "a trace records only what this run executes "
                      f"({len(_branchy_record(c, sin_branch=_taken(c)))} values here)"),
    Mistake("negation-not-recorded",
            lambda c: _trace_outputs(_branchy_record(c, sin_branch=_taken(c), neg_node=False)),
            lambda c: "-x is an elementary operation of its own, so the trace records "
                      f"-x = {fmt(-c['x'])} and then exp(-x) = {fmt(np.exp(-c['x']))}: "
                      f"{len(_branchy_record(c, sin_branch=_taken(c)))} values, not "
                      f"{len(_branchy_record(c, sin_branch=_taken(c)))- 1}"),
    Mistake("inputs-not-recorded",
            lambda c: _trace_outputs(_branchy_record(c, sin_branch=_taken(c),
                                                     with_inputs=False)),
            lambda c: f"the trace starts with the inputs themselves, v-1 = x = {fmt(c['x'])} "
                      f"and v0 = y = {fmt(c['y'])}; yours starts with a = x * y = "
                      f"{fmt(c['x'] * c['y'])}"),
    Mistake("operations-out-of-order",
            lambda c: _trace_outputs(_branchy_record(c, sin_branch=_taken(c), exp_first=True)),
            lambda c: "the trace follows the order in which Python performs the operations: "
                      "the branch runs before the return line, so after a = "
                      f"{fmt(c['x'] * c['y'])} come the branch's values and only then "
                      f"-x = {fmt(-c['x'])} and exp(-x) = {fmt(np.exp(-c['x']))}, not first"),
)


def _uses(case: dict) -> dict[str, float]:
    """The right counts, by node name."""
    return {key[6:-2]: float(v) for key, v in CountUses().expected(case).items()}


def _uses_outputs(counts: dict) -> dict:
    return {f"uses[{name!r}]": v for name, v in counts.items()}


def _rows(case: dict) -> list:
    return rows_of(program_trace(case["program"]))


def _distinct_users(case: dict) -> dict[str, float]:
    counts = {name: 0.0 for name, _, _ in _rows(case)}
    for _, _, inputs in _rows(case):
        for name in set(inputs):
            counts[name] += 1
    return counts


def _in_degrees(case: dict) -> dict[str, float]:
    return {name: float(len(inputs)) for name, _, inputs in _rows(case)}


def _first_difference(wrong: dict, right: dict) -> str:
    return next((n for n in right if wrong.get(n) != right[n]), next(iter(right)))


def _count_text(case: dict, wrong: dict) -> str:
    name = _first_difference(wrong, _uses(case))
    return f"uses[{name!r}] should be {fmt(_uses(case)[name])}, not {fmt(wrong[name])}"


def _output_name(case: dict) -> str:
    return _rows(case)[-1][0]


def _repeated_use(case: dict) -> str:
    row = next(r for r in _rows(case) if len(set(r[2])) < len(r[2]))
    name = next(i for i in row[2] if row[2].count(i) > 1)
    times = {2: "twice", 3: "three times"}.get(row[2].count(name), "more than once")
    return (f"in {rows_text([row])} the node {name} is used {times}, and each use "
            "sends its own term into its adjoint: ")


COUNT_USES_MISTAKES = (
    Mistake("distinct-users",
            lambda c: _uses_outputs(_distinct_users(c)),
            lambda c: _repeated_use(c) + _count_text(c, _distinct_users(c))),
    Mistake("own-inputs-counted",
            lambda c: _uses_outputs(_in_degrees(c)),
            lambda c: "you counted each row's own inputs; the uses of a node are how often it "
                      "appears among the inputs of the rows that read it: "
                      + _count_text(c, _in_degrees(c))),
    Mistake("counts-start-at-one",
            lambda c: _uses_outputs({n: v + 1 for n, v in _uses(c).items()}),
            lambda c: "every count is one too high: they start at 0, since a node is not a "
                      f"use of itself; the output {_output_name(c)} is read by no row, so "
                      f"uses[{_output_name(c)!r}] = 0, not 1"),
    Mistake("seed-counted-as-use",
            lambda c: _uses_outputs({n: v + (n == _output_name(c)) for n, v in _uses(c).items()}),
            lambda c: f"the seed is not a use: the output {_output_name(c)} appears in no "
                      f"row's inputs, so uses[{_output_name(c)!r}] = 0, not 1 (the seed starts "
                      "its adjoint; it is not one of the terms that uses send)"),
)


def _order_outputs(graph: dict, placed: set, forwards: bool = True) -> dict:
    """The checker's outputs for an order that holds the ``placed`` nodes once each,
    every edge between them pointing forwards (or, ``forwards=False``, backwards)."""
    out = {f"times {name!r} appears": float(name in placed) for name in graph}
    for node, inputs in graph.items():
        for i in dict.fromkeys(inputs):
            out[f"{i!r} before {node!r}"] = float(forwards and i in placed and node in placed)
    return out


def _users_closure(graph: dict, start: set) -> set:
    """``start`` and every node that reads one of them, directly or not."""
    found = set(start)
    while True:
        more = {n for n, inputs in graph.items() if n not in found and found & set(inputs)}
        if not more:
            return found
        found |= more


def _inputs_closure(graph: dict, start: str) -> set:
    """``start`` and every node it reads, directly or not."""
    found, todo = {start}, [start]
    while todo:
        for i in graph[todo.pop()]:
            if i not in found:
                found.add(i)
                todo.append(i)
    return found


def _stuck(graph: dict) -> set:
    """What a ready-count that counts a repeated input twice but releases it once never
    places: the nodes that list an input twice, and everything that reads them."""
    return _users_closure(graph, {n for n, inputs in graph.items()
                                  if len(set(inputs)) < len(inputs)})


def _no_inputs(graph: dict) -> list[str]:
    return [n for n, inputs in graph.items() if not inputs]


def _backwards_text(c: dict) -> str:
    graph = c["graph"]
    edges = [(i, n) for n, inputs in graph.items() for i in dict.fromkeys(inputs)]
    i, node = edges[0]
    keys = list(graph)
    as_keys = all(keys.index(n) < keys.index(i) for i, n in edges)
    return (f"every node comes before its inputs ({node!r} before its input {i!r}; all "
            f"{len(edges)} edges point backwards): that is the order of the reverse sweep, "
            "outputs first, and the order asked for is its reverse"
            + (" (the dict's keys as given happen to be such an order)" if as_keys else ""))


def _stuck_text(c: dict) -> str:
    graph = c["graph"]
    stuck = [n for n in graph if n in _stuck(graph)]
    first = next(n for n in stuck if len(set(graph[n])) < len(graph[n]))
    return (f"{first!r} lists an input twice ({first!r}: {graph[first]}), and a count of "
            "waiting inputs that counts it twice but releases it once keeps "
            f"{first!r} waiting forever: {', '.join(map(repr, stuck))} never got placed")


def _first_key_text(c: dict) -> str:
    graph = c["graph"]
    first = next(iter(graph))
    missing = [n for n in graph if n not in _inputs_closure(graph, first)]
    return (f"a walk from the first key, {first!r}, reaches only {first!r} and the nodes it "
            "reads; the keys come in no useful order, and "
            f"{', '.join(map(repr, missing))} never got placed: start a walk from every "
            "node, skipping those already placed")


TOPOLOGICAL_ORDER_MISTAKES = (
    Mistake("reversed-order",
            lambda c: _order_outputs(c["graph"], set(c["graph"]), forwards=False),
            _backwards_text),
    Mistake("repeated-input-blocks",
            lambda c: _order_outputs(c["graph"], set(c["graph"]) - _stuck(c["graph"])),
            _stuck_text),
    Mistake("walk-from-first-key-only",
            lambda c: _order_outputs(c["graph"],
                                     _inputs_closure(c["graph"], next(iter(c["graph"])))),
            _first_key_text),
    Mistake("inputs-left-out",
            lambda c: _order_outputs(c["graph"],
                                     set(c["graph"]) - set(_no_inputs(c["graph"]))),
            lambda c: "the input nodes belong in the order too: "
                      f"{', '.join(map(repr, _no_inputs(c['graph'])))} read nothing, so they "
                      "can be placed first, but your order leaves them out"),
)


def _replayed(case: dict, **changed: Any) -> dict[str, float]:
    """Every node's value on the case's new inputs, with ``changed`` operations."""
    names = [name for name, _, _ in _rows(case)]
    values = node_values(case["program"], list(case["new"].values()), changed)
    return {name: float(v) for name, v in zip(names, values)}


def _replay_outputs(values: dict) -> dict:
    return {f"values[{name!r}]": v for name, v in values.items()}


def _first_row(case: dict, op: str) -> tuple:
    return next(row for row in _rows(case) if row[1] == op)


def _sub_text(c: dict) -> str:
    name, _, (a, b) = _first_row(c, "sub")
    right = _replayed(c)
    return (f"the operands of a subtraction keep the order listed, so {name} = sub({a}, {b}) "
            f"is {a} - {b} = {fmt(right[a])} - {fmt(right[b])} = {fmt(right[name])}, not "
            f"{b} - {a} = {fmt(right[b] - right[a])}")


def _neg_text(c: dict) -> str:
    name, _, (a,) = _first_row(c, "neg")
    right = _replayed(c)
    return (f"the row {name} = neg({a}) negates its input: {name} = -{a} = "
            f"{fmt(right[name])}, not {a} itself = {fmt(right[a])}")


EVALUATE_TRACE_MISTAKES = (
    Mistake("sub-operands-swapped",
            lambda c: _replay_outputs(_replayed(c, sub=lambda a, b: b - a)), _sub_text),
    Mistake("neg-ignored",
            lambda c: _replay_outputs(_replayed(c, neg=lambda a: a)), _neg_text),
)


EXERCISES = (
    Exercise(
        id="01.build_trace", notebook="01_traces_and_graphs", points=2, name="trace_values",
        title="The evaluation trace of a program with a branch", checker=BuildTrace(),
        hint="A trace records what one run actually executes: the inputs first, then one "
             "value per elementary operation, in the order Python performs them, and only "
             "along the branch this run takes.",
        more_hints=(
            "The first values are v-1 = x, v0 = y and v1 = a = x * y. Comparing a with 1 "
            "picks the branch: sin(a), then sin(a) * y (two operations), or a * a (one). "
            "In exp(-x) the minus sign is an operation of its own.",
            "Outline: a list that starts with x and y; add the product; add the one or two "
            "values of the branch this run takes; then add -x, exp(-x) and the final sum "
            "of the branch's last value and exp(-x). The two branches give traces of "
            "different lengths (8 or 7 values).",
        ),
        mistakes=BUILD_TRACE_MISTAKES,
    ),
    Exercise(
        id="01.count_uses", notebook="01_traces_and_graphs", points=2, name="count_uses",
        title="How often each node is used", checker=CountUses(),
        hint="A node's count is how many times its name appears among the inputs of the "
             "rows: its fan-out, the number of terms its adjoint will collect in the "
             "reverse sweep. Every node gets a count, 0 included.",
        more_hints=(
            "Give every row's name a count of 0 first (the output keeps it, and so does an "
            "input nobody reads), then add one for each occurrence of a name among a row's "
            "inputs: a row like mul(v0, v0) uses v0 twice.",
            "Outline: a dict from every row's name to 0; a loop over the rows with an inner "
            "loop over that row's inputs, each adding 1 to that input's entry; return the "
            "dict. For z = x*(x+y) + y*y: x 2, y 3, the others 1, z 0.",
        ),
        mistakes=COUNT_USES_MISTAKES,
    ),
    Exercise(
        id="01.topological_order", notebook="01_traces_and_graphs", points=3,
        name="topological_order", title="A topological order of a graph",
        checker=TopologicalOrder(),
        hint="In a topological order every node comes after all of its inputs, and every "
             "node appears exactly once. The dict's keys come in no useful order, so the "
             "order has to follow from the edges.",
        more_hints=(
            "A node is ready once all of its inputs are placed; nodes without inputs are "
            "ready from the start. Either keep placing ready nodes, or walk depth-first "
            "from every node and place a node only after its inputs, skipping nodes "
            "already placed.",
            "Outline: a set of placed nodes and a result list; repeat: place the nodes "
            "that are not yet placed and whose inputs all are, until every node is placed. "
            "If you count waiting inputs instead, count and release a repeated input (c "
            "reads y twice) the same way. Avoid recursion: deep graphs exceed Python's "
            "limit.",
        ),
        mistakes=TOPOLOGICAL_ORDER_MISTAKES,
    ),
    Exercise(
        id="01.evaluate_trace", notebook="01_traces_and_graphs", points=2,
        name="evaluate_trace", title="Replaying a trace on new inputs",
        checker=EvaluateTrace(),
        hint="A trace is a straight-line program: replaying it computes each row from "
             "values computed before it, top to bottom, starting from the new inputs.",
        more_hints=(
            "Keep a dict from names to values. An 'input' row takes its value from inputs; "
            "any other row applies its op to its inputs' values in the order listed: "
            "sub(a, b) is a - b, neg(a) is -a, and sin, cos and tanh come from np.",
            "Outline: a table from op names to functions (two arguments for add, sub and "
            "mul, one for neg, sin, cos and tanh); one loop over the rows that fills the "
            "dict; return the dict with every node, the inputs included.",
        ),
        mistakes=EVALUATE_TRACE_MISTAKES,
    ),
)
