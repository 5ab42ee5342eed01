"""Notebooks 08 and 09: staged hints, and known mistakes named with the failing case's numbers.

Every learner function below makes one mistake the way a learner would write it (none of
them calls the mistake's ``wrong``); ``check`` must name that mistake and quote the numbers
of the case it failed on, and the notebooks' own solutions must still pass.
"""

import math

import nbformat
import numpy as np
import pytest

import adlab as ad
from course import catalog, check
from course.release import SOURCE_DIR

IDS = ("08.stored_values", "08.saved_bytes", "08.checkpoint_plan",
       "09.second_derivative", "09.hvp", "09.newton_root")


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLAB_COURSE_DB", str(tmp_path / "p.sqlite3"))


# -- 08.stored_values ---------------------------------------------------------------

def kept_values(nodes, reads, *, sums=False, ans=True, constants=False):
    """A learner's stored_values, right by default, with one wrong belief switched on."""
    kept = set()
    for node, op, args in nodes:
        if op == "input":
            continue
        if sums and op in ("add", "sub"):  # "a sum needs its operands"
            kept |= {a for a in args if isinstance(a, str)}
        role = {"ans": node}
        if args:
            role["x"] = args[0]
        if len(args) > 1:
            role["y"] = args[1]
        for i, arg in enumerate(args):
            if isinstance(arg, str) or constants:
                for what in reads[op][i]:
                    if what == "ans" and not ans:
                        continue
                    if isinstance(role[what], str):
                        kept.add(role[what])
    return kept


def every_argument(nodes, reads):
    """The curriculum's wrong idea: every operand of every operation is needed."""
    return {a for _, op, args in nodes if op != "input" for a in args if isinstance(a, str)}


# -- 08.saved_bytes -----------------------------------------------------------------

def bytes_of(batch, widths, activation, *, size=8, rows=True, as_if=None, act_read=True):
    hidden = widths[1:]
    kind = as_if or activation
    if not act_read:
        numbers = sum(hidden[:-1])         # only what a next product reads
    elif kind == "relu":
        numbers = sum(hidden) + sum(hidden[:-1])
    else:
        numbers = sum(hidden)
    return size * (batch if rows else 1) * numbers


# -- 08.checkpoint_plan -------------------------------------------------------------

def planner(*, model="max", scale=True):
    """A learner's checkpoint_plan: the phases' max by default; "sum" adds them (the old
    law), "no-segment" forgets the recomputed segment; scale=False forgets the bytes."""
    def checkpoint_plan(L, a, budget):
        unit = a if scale else 1
        for m in range(L + 1):
            for k in range(1, max(m, 1) + 1):
                if m % k:
                    continue
                if m == 0:
                    peak = L
                elif model == "sum":
                    peak = (L - m) + m // k + k
                elif model == "no-segment":
                    peak = (L - m) + m // k
                else:
                    peak = max((L - m) + m // k, m // k + k)
                if peak * unit <= budget:
                    return m, k
        return L, L
    return checkpoint_plan


def sqrt_plan(L, a, budget):
    k = round(math.sqrt(L))
    while L % k:  # segments of equal length: a divisor of L near sqrt(L)
        k -= 1
    return L, k


# -- 09 ------------------------------------------------------------------------------

def along(f, x, v):
    return lambda t: f(x + t * v)


def slope(f, point, seed):
    """The directional derivative of f at point along seed (forward mode)."""
    return ad.jvp(f, (point,), (seed,))[1]


def hvp_central_differences(f, x, v, h=1e-5):
    grad = ad.grad(f)
    return (grad(x + h * v) - grad(x - h * v)) / (2 * h)


def hvp_by_columns(f, x, v):
    """H assembled from one gradient of a slope per basis vector, then times v."""
    columns = [ad.grad(lambda y, e=e: slope(f, y, e))(x) for e in np.eye(len(x))]
    return np.stack(columns, axis=1) @ v


def hvp_by_columns_forward_over_reverse(f, x, v):
    """The same, with the worked example's nesting: one JVP of the gradient per column."""
    columns = [ad.jvp(ad.grad(f), (x,), (e,))[1] for e in np.eye(len(x))]
    return np.stack(columns, axis=1) @ v


def jacobian_rows_of_jvps(F, x):
    """A Jacobian from one JVP per input, stacked as rows: its transpose, J^T."""
    return np.stack([ad.jvp(F, (x,), (e,))[1] for e in np.eye(len(x))])


def newton_on_the_norm(F, x):
    """Section 4's minimisation step on |F|^2 (the Hessian as jacfwd of grad: ad.hessian is
    off)."""
    phi = lambda y: ad.sum(F(y) ** 2)
    return x - np.linalg.solve(ad.jacfwd(ad.grad(phi))(x), ad.grad(phi)(x))


def newton_per_equation(F, x):
    """x - f / f' for each equation alone: F_i divided by dF_i / dx_i."""
    slopes = [ad.jvp(F, (x,), (e,))[1][i] for i, e in enumerate(np.eye(len(x)))]
    return x - F(x) / np.array(slopes)


#: (exercise, mistake code, learner function, numbers of the failing case in the message)
MISTAKES = [
    ("08.stored_values", "sum-operands-stored",
     lambda nodes, reads: kept_values(nodes, reads, sums=True),
     ["v2 = add(v-1, v0)", "v-1 = 3 and v0 = 4", "v-3, v-2, v3"]),
    ("08.stored_values", "sum-operands-stored", every_argument,
     ["v2 = add(v-1, v0)", "v-1 = 3 and v0 = 4"]),
    ("08.stored_values", "output-read-forgotten",
     lambda nodes, reads: kept_values(nodes, reads, ans=False),
     ["Case 3 of 5", "v2 = tanh(v1) = 0.635149"]),
    ("08.stored_values", "constant-rule-run",
     lambda nodes, reads: kept_values(nodes, reads, constants=True),
     ["v4 = pow(v3, 2)", "constant 2"]),
    ("08.stored_values", "every-node-stored", lambda nodes, reads: {n[0] for n in nodes},
     ["all 8 nodes", "v-3, v-2, v3"]),
    ("08.saved_bytes", "float32-bytes", lambda b, w, act: bytes_of(b, w, act, size=4),
     ["1536 kept numbers", "12288 bytes, not 6144"]),
    ("08.saved_bytes", "per-example", lambda b, w, act: bytes_of(b, w, act, rows=False),
     ["384 bytes", "batch = 32", "12288"]),
    ("08.saved_bytes", "relu-input-not-counted",
     lambda b, w, act: bytes_of(b, w, act, as_if="tanh"),
     ["Case 2 of 5", "32 x 48", "32 x 32", "20480"]),
    ("08.saved_bytes", "pre-activation-counted",
     lambda b, w, act: bytes_of(b, w, act, as_if="relu"),
     ["tanh", "32 x 48", "12288 bytes, not 20480"]),
    ("08.saved_bytes", "activation-read-forgotten",
     lambda b, w, act: bytes_of(b, w, act, act_read=False),
     ["32 x 32", "h_2", "12288"]),
    ("08.checkpoint_plan", "plain-kept-while-recomputing", planner(model="sum"),
     ["freed before the segments are recomputed", "m = 15", "m = 7 fits already",
      "max((16 - 7) + 1, 1 + 7) = 10"]),
    ("08.checkpoint_plan", "recomputed-segment-forgotten", planner(model="no-segment"),
     ["Case 2 of 5", "m = 49, k = 49", "max((64 - 49) + 1, 1 + 49) = 50", "the 16 the budget"]),
    ("08.checkpoint_plan", "peak-in-layers-not-bytes", planner(scale=False),
     ["(16)", "163840", "a = 16384", "262144"]),
    ("08.checkpoint_plan", "sqrt-rule-always", sqrt_plan,
     ["all 16 layers", "sqrt(16)", "m = 7, not 16"]),
    ("09.second_derivative", "first-derivative-only",
     lambda f, x, v: ad.grad(along(f, x, v))(0.0),
     ["2.58385", "-0.909297"]),
    ("09.second_derivative", "taylor-half",
     lambda f, x, v: 0.5 * ad.grad(ad.grad(along(f, x, v)))(0.0),
     ["-0.454649", "-0.909297"]),
    ("09.second_derivative", "second-v-missing",
     lambda f, x, v: ad.jvp(lambda y: ad.grad(f)(y), (x,), (v,))[1],
     ["H v = [-0.909297, 1]", "v = [1, 0]"]),
    ("09.second_derivative", "evaluated-at-t-one",
     lambda f, x, v: ad.grad(ad.grad(along(f, x, v)))(1.0),
     ["x + v = [3, 3]", "-0.14112", "-0.909297"]),
    ("09.hvp", "gradient-not-hv", lambda f, x, v: ad.grad(f)(x),
     ["grad f(x) = [2.58385, 2]", "H v = [-0.909297, 1]"]),
    ("09.hvp", "gradient-not-hv",  # the value of the pair ad.jvp returns, not its tangent
     lambda f, x, v: ad.grad(lambda y: ad.jvp(f, (y,), (v,))[0])(x),
     ["[2.58385, 2]", "[-0.909297, 1]"]),
    ("09.hvp", "seed-of-ones",
     lambda f, x, v: ad.grad(lambda y: slope(f, y, np.ones_like(v)))(x),
     ["[0.0907026, 1]", "v = [1, 0]", "H v = [-0.909297, 1]"]),
    ("09.hvp", "seed-of-ones",  # v forgotten in the worked example's order too
     lambda f, x, v: ad.jvp(ad.grad(f), (x,), (np.ones_like(v),))[1],
     ["[0.0907026, 1]", "v = [1, 0]"]),
    ("09.hvp", "jvp-of-f", lambda f, x, v: slope(f, x, v),
     ["s(x) = v . grad f(x) = 2.58385", "[-0.909297, 1]"]),
    ("09.hvp", "point-held-fixed", lambda f, x, v: ad.grad(lambda y: slope(f, x, v))(x),
     ["zeros (2 of them)", "x = [2, 3]", "H v = [-0.909297, 1]"]),
    ("09.hvp", "point-and-seed-swapped", lambda f, x, v: ad.grad(lambda y: slope(f, v, y))(x),
     ["grad f(v) = [0.540302, 1]", "v = [1, 0]", "H v = [-0.909297, 1]"]),
    ("09.hvp", "hv-in-two-runs", hvp_central_differences,
     ["[-0.909297, 1]", "2 runs of f", "2 columns"]),
    ("09.hvp", "hv-in-two-runs", hvp_by_columns,
     ["[-0.909297, 1]", "2 runs of f", "2 columns"]),
    ("09.hvp", "hv-in-two-runs", hvp_by_columns_forward_over_reverse,
     ["[-0.909297, 1]", "2 runs of f", "2 columns"]),
    ("09.newton_root", "transposed-jacobian",
     lambda F, x: x - np.linalg.solve(jacobian_rows_of_jvps(F, x), F(x)),
     ["J^T = [[4, 0.5], [1, 2]]", "[1.93333, 0.533333]", "[1.93333, 0.516667]"]),
    ("09.newton_root", "transposed-jacobian",
     lambda F, x: x - np.linalg.solve(ad.jacrev(F)(x).T, F(x)),
     ["J = [[4, 1], [0.5, 2]]", "[1.93333, 0.533333]"]),
    ("09.newton_root", "root-step-uphill",
     lambda F, x: x + np.linalg.solve(ad.jacfwd(F)(x), F(x)),
     ["x - d = [2.06667, 0.483333]", "F(x) = [0.25, 0]", "x + d = [1.93333, 0.516667]"]),
    ("09.newton_root", "minimised-norm", newton_on_the_norm,
     ["[1.93669, 0.512104]", "F(x) = [0.25, 0]", "[1.93333, 0.516667]"]),
    ("09.newton_root", "jacobian-diagonal-only",
     lambda F, x: x - F(x) / np.diag(ad.jacfwd(F)(x)),
     ["F(x) = [0.25, 0]", "[4, 2]", "[1.9375, 0.5]", "[1.93333, 0.516667]"]),
    ("09.newton_root", "jacobian-diagonal-only", newton_per_equation,
     ["[4, 2]", "[1.9375, 0.5]"]),
    ("09.newton_root", "jacobian-not-solved", lambda F, x: x - ad.jacrev(F)(x) @ F(x),
     ["x - J F(x) = [1, 0.375]", "[-0.0666667, 0.0166667]", "[1.93333, 0.516667]"]),
    ("09.newton_root", "step-without-x",
     lambda F, x: np.linalg.solve(ad.jacfwd(F)(x), -F(x)),
     ["d = [-0.0666667, 0.0166667]", "[2, 0.5]", "[1.93333, 0.516667]"]),
]


@pytest.mark.parametrize("exercise_id,code,learner,numbers", MISTAKES,
                         ids=[f"{e}:{c}:{i}" for i, (e, c, _, _) in enumerate(MISTAKES)])
def test_a_known_mistake_is_named_with_the_case_numbers(exercise_id, code, learner, numbers):
    result = check(exercise_id, learner, record=False)
    assert result.status == "failed", repr(result)
    assert result.misconception == code, repr(result)
    assert result.message.startswith("Case ")
    for number in numbers:
        assert number in result.message, (number, result.message)


def test_every_mistake_of_08_and_09_has_a_learner_here():
    covered = {(e, c) for e, c, _, _ in MISTAKES}
    listed = {(e, m.code) for e in IDS for m in catalog.CATALOG[e].mistakes}
    assert covered == listed
    assert all(len(catalog.CATALOG[e].mistakes) >= 2 for e in IDS)


def solutions() -> dict:
    """The notebooks' reference solutions, run after each notebook's setup cell."""
    found = {}
    for stem in ("08_memory_and_cost", "09_higher_order"):
        notebook = nbformat.read(SOURCE_DIR / f"{stem}.ipynb", as_version=4)
        namespace: dict = {}
        for cell in notebook.cells:
            meta = cell.metadata.get("course", {})
            if meta.get("setup") or meta.get("exercise"):
                exec(cell.source, namespace)
            if meta.get("exercise"):
                found[meta["exercise"]] = namespace[catalog.CATALOG[meta["exercise"]].name]
    return found


def test_the_reference_solutions_still_pass():
    reference = solutions()
    assert set(reference) == set(IDS)
    for exercise_id, solution in reference.items():
        result = check(exercise_id, solution, record=False)
        assert result.passed and result.misconception == "", repr(result)


def squeezed(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize("exercise_id", IDS)
def test_three_hint_stages_without_a_line_of_the_solution(exercise_id):
    exercise = catalog.CATALOG[exercise_id]
    assert len(exercise.hints) == 3 and len(set(exercise.hints)) == 3
    stem = exercise.notebook
    notebook = nbformat.read(SOURCE_DIR / f"{stem}.ipynb", as_version=4)
    cell = next(c for c in notebook.cells
                if c.metadata.get("course", {}).get("exercise") == exercise_id)
    body = cell.source.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
    lines = [squeezed(line.split("#")[0]) for line in body.splitlines()]
    for hint in exercise.hints:
        assert not [line for line in lines if len(line) > 10 and line in squeezed(hint)]
