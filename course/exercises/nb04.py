"""Exercises of notebook 04, reverse mode: adjoints and stored intermediates."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

import adlab as ad
from course.checkers import SHAPES, Checker, WrongOutput, number, unpack
from course.exercise import Exercise, Mistake
from course.expr import Variable, variables
from course.result import fmt, safe_repr


class MulVjp(Checker):
    r"""``mul_vjp(g, x, y) -> (x_bar, y_bar)`` with :math:`\bar x = g\,y,\ \bar y = g\,x`."""

    fixed = ({"g": 1.0, "x": 2.0, "y": 3.0},
             {"g": np.array([0.5, -1.0, 2.0]), "x": np.array([1.0, 2.0, 3.0]),
              "y": np.array([4.0, 5.0, 6.0])})

    def random_case(self, rng, k):
        shape = SHAPES[(k + 3) % len(SHAPES)]  # a square matrix early: catches transposes
        return {name: number(rng, -3, 3, shape) for name in ("g", "x", "y")}

    def call(self, fn, case, fname):
        c = copy.deepcopy(case)
        return unpack(fn(c["g"], c["x"], c["y"]), ("x_bar", "y_bar"), fname)

    def expected(self, case):
        _, pullback = ad.vjp(ad.mul, case["x"], case["y"])
        x_bar, y_bar = pullback(case["g"])
        return {"x_bar": np.asarray(x_bar, float), "y_bar": np.asarray(y_bar, float)}


def shared(x: Any, y: Any) -> Any:
    """The worked example z = x (x + y) + y y: x is used twice, y twice."""
    return x * (x + y) + y * y


class SharedAdjoint(Checker):
    r"""``reverse_sweep_shared(x, y) -> (z, x_bar, y_bar)`` for :math:`z = x(x+y) + y^2`."""

    fixed = ({"x": 2.0, "y": 3.0}, {"x": -1.5, "y": 0.5})

    def random_case(self, rng, k):
        shape = SHAPES[k % len(SHAPES)]
        return {"x": number(rng, -3, 3, shape), "y": number(rng, -3, 3, shape)}

    def call(self, fn, case, fname):
        c = copy.deepcopy(case)
        return unpack(fn(c["x"], c["y"]), ("z", "x_bar", "y_bar"), fname)

    def expected(self, case):
        z, pullback = ad.vjp(shared, case["x"], case["y"])
        x_bar, y_bar = pullback(np.ones_like(z))  # seed z_bar = 1 for every entry
        return {"z": np.asarray(z, float), "x_bar": np.asarray(x_bar, float),
                "y_bar": np.asarray(y_bar, float)}


def build(spec: dict, leaf: Any) -> Any:
    """The expression of a tree spec, with ``leaf(name)`` for each variable.

    A spec lists nodes in order: ``["var", name]``, ``["plus", i, j]`` or ``["mul", i,
    j]`` (i, j: earlier nodes); the last node is the root. A node used twice is one
    shared object, so the same spec gives a course.expr tree or an adlab graph.
    """
    nodes: list = []
    for node in spec["nodes"]:
        if node[0] == "var":
            nodes.append(leaf(node[1]))
        elif node[0] == "plus":
            nodes.append(nodes[node[1]] + nodes[node[2]])
        else:
            nodes.append(nodes[node[1]] * nodes[node[2]])
    return nodes[-1]


def expression(spec: dict) -> Any:
    """The spec as a course.expr tree (one Variable object per name)."""
    leaves = {name: Variable(name, value) for name, value in spec["values"].items()}
    return build(spec, leaves.__getitem__)


class Derive(Checker):
    """``derive(expr, seed, adjoints)`` on random trees, against adlab's gradient."""

    fixed = (
        {"values": {"x": 2.0, "y": 3.0}, "seed": 1.0,  # x * (x + y) + y * y
         "nodes": [["var", "x"], ["var", "y"], ["plus", 0, 1], ["mul", 0, 2],
                   ["mul", 1, 1], ["plus", 3, 4]]},
        {"values": {"x": 1.5}, "seed": 2.0,  # (x * x) * x: x used three times
         "nodes": [["var", "x"], ["mul", 0, 0], ["mul", 1, 0]]},
    )

    def random_case(self, rng, k):
        names = ["x", "y", "z"][: 1 + k % 3]
        values = {n: number(rng, -2.5, 2.5) for n in names}
        nodes: list = [["var", n] for n in names]
        for _ in range(int(rng.integers(2, 6))):
            # the newest node is always used, so every operation reaches the root;
            # the other operand may be any earlier node: shared variables and subtrees
            op = "plus" if rng.random() < 0.5 else "mul"
            nodes.append([op, len(nodes) - 1, int(rng.integers(0, len(nodes)))])
        seed = 1.0 if k % 2 == 0 else number(rng, -2, 2)
        return {"values": values, "seed": seed, "nodes": nodes}

    def call(self, fn, case, fname):
        adjoints: dict = {}
        fn(expression(case), case["seed"], adjoints)
        for key in adjoints:
            if not isinstance(key, str):
                raise WrongOutput("the keys of adjoints should be the variables' names "
                                  "(strings)", safe_repr(adjoints))
        return {f"adjoints[{k!r}]": v for k, v in sorted(adjoints.items())}

    def expected(self, case):
        reached = variables(expression(case))
        grads = ad.grad(lambda vals: build(case, vals.__getitem__))(dict(case["values"]))
        return {f"adjoints[{n!r}]": np.asarray(case["seed"] * grads[n], float)
                for n in reached}

    def describe(self, case, fname):
        values = ", ".join(f"{n} = {fmt(v)}" for n, v in case["values"].items())
        return (f"{fname}(expr, seed={fmt(case['seed'])}, adjoints={{}}) with "
                f"expr = {expression(case)!r}, {values}")


# The operations of exercise 04.saved_values, as adlab computes them
SAVED_OPS = {
    "add": lambda x, y: x + y,
    "sub": lambda x, y: x - y,
    "mul": lambda x, y: x * y,
    "sin": ad.sin,
    "exp": ad.exp,
    "square": lambda x: x ** 2,
}
_SYMBOL = {"add": "+", "sub": "-", "mul": "*"}


def program_text(program: list) -> str:
    """``a = x1 * x2; b = sin(a); ...``: a program of exercise 04.saved_values as text."""
    lines = []
    for name, op, *args in program:
        if op in _SYMBOL:
            rhs = f"{args[0]} {_SYMBOL[op]} {args[1]}"
        elif op == "square":
            rhs = f"{args[0]} ** 2"
        else:
            rhs = f"{op}({args[0]})"
        lines.append(f"{name} = {rhs}")
    return "; ".join(lines)


class SavedValues(Checker):
    """``saved_values(program) -> set of names``: the values the reverse sweep reads.

    A program is a list of steps ``(name, op, operand, ...)``; names no step defines are
    inputs. Expected: ``ad.trace(...).saved()`` of the same program, run by adlab.
    """

    fixed = (
        {"inputs": {"x1": 1.5, "x2": -2.0, "x3": 0.5, "x4": 3.0},  # the worked example
         "program": [["a", "mul", "x1", "x2"], ["b", "add", "x3", "x4"],
                     ["c", "sub", "a", "b"], ["f", "square", "c"]]},
        {"inputs": {"x1": 2.0, "x2": 3.0},                         # z = x1 x2 + sin x1
         "program": [["a", "mul", "x1", "x2"], ["b", "sin", "x1"], ["z", "add", "a", "b"]]},
        {"inputs": {"x": 0.5, "y": -1.0},                          # exp reads its output
         "program": [["a", "mul", "x", "y"], ["b", "exp", "a"], ["c", "add", "b", "y"],
                     ["d", "sub", "c", "x"]]},
    )

    def random_case(self, rng, k):
        inputs = {f"x{i + 1}": number(rng, -1.5, 1.5) for i in range(1 + k % 3)}
        names = list(inputs)
        program: list = []
        for step in range(int(rng.integers(2, 6))):
            op = str(rng.choice(list(SAVED_OPS)))
            # the newest value is always used, so every step reaches the output
            newest = names[-1] if not program else program[-1][0]
            other = names[int(rng.integers(0, len(names)))]
            args = [newest] if op in ("sin", "exp", "square") else [newest, other]
            if len(args) == 2 and rng.random() < 0.5:
                args.reverse()
            name = "abcdefgh"[step]
            program.append([name, op, *args])
            names.append(name)
        return {"inputs": inputs, "program": program}

    @staticmethod
    def names(case) -> list[str]:
        return list(case["inputs"]) + [step[0] for step in case["program"]]

    def call(self, fn, case, fname):
        program = [tuple(step) for step in copy.deepcopy(case["program"])]
        got = fn(program)
        if isinstance(got, (str, bytes)) or not isinstance(got, (set, frozenset, list, tuple)):
            raise WrongOutput(f"{fname} should return a set of names, such as "
                              "{'x1', 'c'}", safe_repr(got))
        known = self.names(case)
        for name in got:
            if name not in known:
                raise WrongOutput(f"{safe_repr(name)} is not a name in this program "
                                  f"(the names are {', '.join(known)})", safe_repr(got))
        return {f"{name} stored": 1.0 if name in got else 0.0 for name in known}

    def expected(self, case):
        inputs = list(case["inputs"])

        def run(*values):
            env = dict(zip(inputs, values))
            for name, op, *args in case["program"]:
                env[name] = SAVED_OPS[op](*(env[a] for a in args))
            return env[case["program"][-1][0]]

        t = ad.trace(run, *case["inputs"].values())
        if len(t.nodes) != len(self.names(case)):  # one recorded node per step
            raise RuntimeError("a step of the program recorded more than one node")
        by_node = dict(zip((node.name for node in t.nodes), self.names(case)))
        saved = {by_node[n] for n in t.saved()}
        return {f"{name} stored": np.asarray(float(name in saved))
                for name in self.names(case)}

    def describe(self, case, fname):
        return (f"{fname}(program) for {program_text(case['program'])} "
                "(1 means stored, 0 not stored)")


# ---------------------------------------------------------------------------------
# Known mistakes of 04.shared_adjoint, 04.saved_values and 04.derive: what each wrong
# idea computes on a case, and the feedback that names it with the case's numbers
# ---------------------------------------------------------------------------------

def _xy(case: dict) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(case["x"], float), np.asarray(case["y"], float)


def _shared_outputs(case: dict, x_bar: Any, y_bar: Any) -> dict:
    """The outputs of 04.shared_adjoint with a right z and the given adjoints."""
    x, y = _xy(case)
    return {"z": shared(x, y), "x_bar": x_bar + 0 * x, "y_bar": y_bar + 0 * y}


def _explain_overwritten(case: dict) -> str:
    x, y = _xy(case)
    return (f"the adjoint of x sums its two uses, in a = x + y and in b = x * a: "
            f"x_bar = a + x = {fmt(x + y)} + {fmt(x)} = {fmt(2 * x + y)}, not {fmt(x)}, "
            "which is the last contribution alone (the adjoint was overwritten, not "
            f"summed); likewise y_bar = 2 y + x = {fmt(2 * y)} + {fmt(x)} = "
            f"{fmt(x + 2 * y)}")


def _explain_forgotten_path(case: dict) -> str:
    x, y = _xy(case)
    return (f"the path through a = x + y is missing: a_bar = x = {fmt(x)} flows on to both "
            f"x and y, so x_bar = {fmt(x + y)} + {fmt(x)} = {fmt(2 * x + y)} (not "
            f"{fmt(x + y)}) and y_bar = {fmt(2 * y)} + {fmt(x)} = {fmt(x + 2 * y)} (not "
            f"{fmt(2 * y)})")


def _explain_square_once(case: dict) -> str:
    x, y = _xy(case)
    return (f"the step c = y * y uses y twice, as both factors, so it sends c_bar * y = "
            f"{fmt(y)} to y twice, {fmt(2 * y)} in all; with the path through a, "
            f"y_bar = {fmt(2 * y)} + {fmt(x)} = {fmt(x + 2 * y)}, not {fmt(x + y)}")


def _right_saved(case: dict) -> set:
    """The names the reverse sweep reads, as adlab's trace says (the expected answer)."""
    return {key[: -len(" stored")] for key, v in SavedValues().expected(case).items() if v}


def _saved_outputs(case: dict, names: set) -> dict:
    return {f"{n} stored": float(n in names) for n in SavedValues.names(case)}


def _name_set(case: dict, names: set) -> str:
    """``{'x1', 'x2', 'c'}``: names in the order of the program."""
    return "{" + ", ".join(repr(n) for n in SavedValues.names(case) if n in names) + "}"


def _steps(case: dict, ops: tuple) -> list:
    return [step for step in case["program"] if step[1] in ops]


def _saved_with_sum_operands(case: dict) -> set:
    return _right_saved(case) | {a for step in _steps(case, ("add", "sub")) for a in step[2:]}


def _saved_intermediates(case: dict) -> set:
    return {step[0] for step in case["program"][:-1]}


def _saved_exp_operand(case: dict) -> set:
    read_elsewhere = {a for step in _steps(case, ("mul", "sin", "square")) for a in step[2:]}
    exp_steps = _steps(case, ("exp",))
    results = {step[0] for step in exp_steps} - read_elsewhere
    return (_right_saved(case) - results) | {step[2] for step in exp_steps}


def _explain_sum_operands(case: dict) -> str:
    right = _right_saved(case)
    extra = _saved_with_sum_operands(case) - right
    return (f"+ and - have constant local partials (1 and -1), so the reverse sweep never "
            f"reads their operands: {_name_set(case, extra)} need not be stored; it reads "
            f"only {_name_set(case, right)}")


def _explain_intermediates(case: dict) -> str:
    right, wrong = _right_saved(case), _saved_intermediates(case)
    text = (f"the reverse sweep keeps only the values some local partial reads, not every "
            f"intermediate result: here {_name_set(case, right)}")
    if wrong - right:
        text += f"; no local partial reads {_name_set(case, wrong - right)}"
    return text


def _explain_exp_operand(case: dict) -> str:
    exp_steps = _steps(case, ("exp",))
    results = {step[0] for step in exp_steps}
    operands = {step[2] for step in exp_steps}
    return (f"the derivative of exp(u) is exp(u) itself, so the sweep reads the result "
            f"{_name_set(case, results)}, not the operand {_name_set(case, operands)}: "
            f"the stored set is {_name_set(case, _right_saved(case))}, not "
            f"{_name_set(case, _saved_exp_operand(case))}")


def _node_values(case: dict) -> list:
    values: list = []
    for node in case["nodes"]:
        if node[0] == "var":
            values.append(case["values"][node[1]])
        else:
            left, right = values[node[1]], values[node[2]]
            values.append(left + right if node[0] == "plus" else left * right)
    return values


def _arrivals(case: dict, factor: str = "other", chain: bool = True) -> dict:
    """What reaches each variable of a 04.derive case, use by use, in the order a
    recursive derive visits the tree (left operand first): ``{name: [amount, ...]}``.

    ``factor="own"``: a product hands each operand its own value instead of the other
    one; ``chain=False``: a product hands on its local partial without the seed."""
    values, nodes = _node_values(case), case["nodes"]
    got: dict = {}
    todo = [(len(nodes) - 1, case["seed"])]
    while todo:
        i, amount = todo.pop()
        kind, *parts = nodes[i]
        if kind == "var":
            got.setdefault(parts[0], []).append(amount)
            continue
        left, right = parts
        if kind == "plus":
            todo += [(right, amount), (left, amount)]
            continue
        to_left, to_right = ((values[right], values[left]) if factor == "other"
                             else (values[left], values[right]))
        scale = amount if chain else 1.0
        todo += [(right, scale * to_right), (left, scale * to_left)]
    return got


def _derive_outputs(got: dict, combine: Callable) -> dict:
    return {f"adjoints[{n!r}]": float(combine(got[n])) for n in sorted(got)}


def _first_difference(case: dict, wrong: dict) -> tuple[str, float, float]:
    """(name, right, wrong) for the first variable whose adjoint differs."""
    right = {n: sum(v) for n, v in _arrivals(case).items()}
    for name in sorted(right):
        if not np.isclose(right[name], wrong[name]):
            return name, right[name], wrong[name]
    name = sorted(right)[0]
    return name, right[name], wrong[name]


def _explain_overwritten_adjoint(case: dict) -> str:
    got = _arrivals(case)
    last = {n: v[-1] for n, v in got.items()}
    name, total, _ = _first_difference(case, last)
    parts = got[name] if len(got[name]) <= 6 else [*got[name][:5], "..."]
    terms = " + ".join(p if isinstance(p, str) else fmt(p) for p in parts)
    return (f"the variable {name} is reached {len(got[name])} times, and "
            f"adjoints[{name!r}] must be the sum of all those contributions: {terms} = "
            f"{fmt(total)}, not {fmt(last[name])}, the last one alone (the adjoint was "
            "overwritten, not added to)")


def _explain_own_factor(case: dict) -> str:
    wrong = {n: sum(v) for n, v in _arrivals(case, factor="own").items()}
    name, right, bad = _first_difference(case, wrong)
    return (f"the partial of a product a * b with respect to a is b, the OTHER factor; "
            f"handing each factor its own value gives adjoints[{name!r}] = {fmt(bad)} "
            f"instead of {fmt(right)}")


def _explain_seed_dropped(case: dict) -> str:
    wrong = {n: sum(v) for n, v in _arrivals(case, chain=False).items()}
    name, right, bad = _first_difference(case, wrong)
    return (f"at a product each operand receives the seed that arrived from above TIMES "
            f"the other factor; handing on the other factor alone drops that seed (it is "
            f"{fmt(case['seed'])} at the root) and gives adjoints[{name!r}] = {fmt(bad)} "
            f"instead of {fmt(right)}")


EXERCISES = (
    Exercise(
        id="04.mul_vjp", notebook="04_reverse_mode", points=2, name="mul_vjp",
        title="The reverse rule of a product", checker=MulVjp(),
        hint="Reverse mode pulls the output's adjoint g back to each input through the "
             "local partial derivative of z = x * y with respect to that input.",
        more_hints=(
            "The local partials are dz/dx = y and dz/dy = x: each input's adjoint is g "
            "times the partial with respect to that input.",
            "Outline: two elementwise products, one per input, returned in the order "
            "(x_bar, y_bar); no transposes and no sums, since z has the shape of x and y.",
        ),
        mistakes=(
            Mistake("swapped-partials",
                    lambda c: {"x_bar": c["g"] * c["x"], "y_bar": c["g"] * c["y"]},
                    lambda c: "each adjoint got its own input's value, but the partial of "
                              "x * y with respect to x is the OTHER factor, y: here x_bar "
                              f"should be g * y = {fmt(c['g'] * c['y'])}, not g * x = "
                              f"{fmt(c['g'] * c['x'])}"),
            Mistake("seed-dropped",
                    lambda c: {"x_bar": np.asarray(c["y"], float) + 0 * c["g"],
                               "y_bar": np.asarray(c["x"], float) + 0 * c["g"]},
                    lambda c: "you returned the local partials alone; the adjoint that "
                              f"arrives from z, g = {fmt(c['g'])}, multiplies each of them "
                              "(it is 1 only when z is the final output)"),
        ),
    ),
    Exercise(
        id="04.shared_adjoint", notebook="04_reverse_mode", points=2,
        name="reverse_sweep_shared", title="Summing the adjoint of a variable used twice",
        checker=SharedAdjoint(),
        hint="Reverse mode runs the forward sweep's steps backwards from the seed "
             "z_bar = 1, each step handing its adjoint to its operands through its local "
             "partials. x and y are each used twice, and an adjoint is a sum over all the "
             "uses of its variable.",
        more_hints=(
            "The steps are a = x + y, b = x * a, c = y * y, z = b + c. A sum hands its "
            "adjoint on unchanged; the product b = x * a sends b_bar * a to x and "
            "b_bar * x to a; c = y * y sends c_bar * y to y once for EACH factor.",
            "Outline: z_bar to b_bar and c_bar; c_bar to y; b_bar to x and to a; a_bar to "
            "x and to y, adding to what x_bar and y_bar already hold (x_bar = x_bar + ..., "
            "never x_bar = ...). Check at (2, 3): z = 19, x_bar = 7, y_bar = 8.",
        ),
        mistakes=(
            Mistake("adjoint-overwritten",
                    lambda c: _shared_outputs(c, _xy(c)[0], _xy(c)[0]),
                    _explain_overwritten),
            Mistake("forgotten-path",
                    lambda c: _shared_outputs(c, _xy(c)[0] + _xy(c)[1], 2 * _xy(c)[1]),
                    _explain_forgotten_path),
            Mistake("square-counted-once",
                    lambda c: _shared_outputs(c, 2 * _xy(c)[0] + _xy(c)[1],
                                              _xy(c)[0] + _xy(c)[1]),
                    _explain_square_once),
        ),
    ),
    Exercise(
        id="04.saved_values", notebook="04_reverse_mode", points=2, name="saved_values",
        title="Which values the reverse sweep reads", checker=SavedValues(),
        hint="The reverse sweep has to keep exactly the values that some local partial "
             "derivative reads; a value that no partial reads is not stored, however "
             "much the forward sweep needed it.",
        more_hints=(
            "Operation by operation: add and sub have constant partials (1 and -1) and "
            "read nothing; mul reads both operands; sin and square read their operand; "
            "exp reads its own result, since the derivative of e^u is e^u.",
            "Outline: start from an empty set, go through the steps (name, op, operands), "
            "add the names that this op's partials read, return the set. For "
            "f = (x1*x2 - (x3+x4))**2 that is {'x1', 'x2', 'c'}: b is never read.",
        ),
        mistakes=(
            Mistake("sum-operands-saved",
                    lambda c: _saved_outputs(c, _saved_with_sum_operands(c)),
                    _explain_sum_operands),
            Mistake("intermediates-saved",
                    lambda c: _saved_outputs(c, _saved_intermediates(c)),
                    _explain_intermediates),
            Mistake("exp-operand-saved",
                    lambda c: _saved_outputs(c, _saved_exp_operand(c)),
                    _explain_exp_operand),
        ),
    ),
    Exercise(
        id="04.derive", notebook="04_reverse_mode", points=3, name="derive",
        title="A recursive derive() on an expression tree", checker=Derive(),
        hint="derive hands the adjoint of a node (the seed) down to its children by the "
             "chain rule: each child receives the seed times the local partial of the "
             "node with respect to that child, and the variables at the leaves collect "
             "what arrives.",
        more_hints=(
            "The local partials: a Plus has 1 for both children, so both get the seed "
            "unchanged; a Multiply a * b has b for a and a for b (the OTHER child's "
            "value, from evaluate()); a Variable adds the seed to adjoints[name], "
            "starting from 0.0.",
            "Outline: three cases by isinstance (Variable, Plus, Multiply); the two "
            "node cases call derive on expr.a and on expr.b with the seed each child "
            "gets; the Variable case adds, never assigns, so a variable used several "
            "times receives the sum of all its contributions.",
        ),
        mistakes=(
            Mistake("adjoint-overwritten",
                    lambda c: _derive_outputs(_arrivals(c), lambda v: v[-1]),
                    _explain_overwritten_adjoint),
            Mistake("own-factor",
                    lambda c: _derive_outputs(_arrivals(c, factor="own"), sum),
                    _explain_own_factor),
            Mistake("seed-dropped-at-product",
                    lambda c: _derive_outputs(_arrivals(c, chain=False), sum),
                    _explain_seed_dropped),
        ),
    ),
)
