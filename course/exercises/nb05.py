"""Exercises of notebook 05: Jacobians, JVPs and VJPs, and what each mode costs."""

from __future__ import annotations

import copy

import numpy as np

import adlab as ad
from course.checkers import Checker, WrongOutput, number, unpack
from course.exercise import Exercise, everything_but
from course.provided import Provided, run_on, vector_function  # noqa: F401 (used by tests)
from course.result import fmt, safe_repr

# ---------------------------------------------------------------------------------
# Vector functions R^n -> R^m for the Jacobian exercises
# ---------------------------------------------------------------------------------

FORMULAS = {
    "worked": "f(x) = [x0*x1 + sin(x0), x0 + x1**2, x0*x1**2]",
    "layer": "f(x) = tanh(A @ x + b)",
    "product": "f(x) = (A @ x) * sin(B @ x) + b",
    "squares": "f(x) = A @ (x * x) - exp(B @ cos(x)) + b",
}

# vector_function(case), the function a case describes, is a builder of course.provided:
# learner code gets it as provided(case), which counts its runs by what they were run on
# (on_duals: forward mode, on_tape: reverse mode, plain) where the learner's code runs.


def provided(case: dict) -> Provided:
    """The case's function, to hand to learner code: ``Provided("vector_function", ...)``."""
    spec = {k: case[k] for k in ("kind", "A", "B", "b")}
    return Provided("vector_function", spec, copy_input=True)


def jacobian_case(rng: np.random.Generator, n: int, m: int, kind: str) -> dict:
    return {"kind": kind, "n": n, "m": m,
            "A": number(rng, -1.5, 1.5, (m, n)), "B": number(rng, -1.5, 1.5, (m, n)),
            "b": number(rng, -1, 1, (m,)), "x": number(rng, -2, 2, (n,))}


WORKED = {"kind": "worked", "n": 2, "m": 3, "A": np.zeros((3, 2)), "B": np.zeros((3, 2)),
          "b": np.zeros(3), "x": np.array([2.0, 3.0])}


class JacobianChecker(Checker):
    """Common part: the cases (non-square first, so a transposed J shows in its shape)."""

    fixed = (WORKED,)

    def random_case(self, rng, k):
        # mostly non-square, some square (a transpose then shows in the values) and
        # some with one input or one output
        shapes = [(3, 2), (2, 4), (4, 4), (1, 3), (3, 1), (5, 2), (3, 3)]
        n, m = shapes[k % len(shapes)]
        kind = ("layer", "product", "squares")[k % 3]
        return jacobian_case(rng, n, m, kind)

    def describe(self, case, fname):
        return (f"{fname}(f, x) with f: R^{case['n']} -> R^{case['m']}, "
                f"{FORMULAS[case['kind']]}, x = {fmt(case['x'])}"
                + ("" if case["kind"] == "worked" else
                   f", A = {fmt(case['A'])}, B = {fmt(case['B'])}, b = {fmt(case['b'])}"))


class JacobianFromJvp(JacobianChecker):
    """``jacobian_fwd(f, x)``: the (m, n) Jacobian, one JVP (one column) per input."""

    def call(self, fn, case, fname):
        f = provided(case)
        J = fn(f, np.array(case["x"], dtype=float))
        return {"J": J, "jvps": f.on_duals}

    def expected(self, case):
        f = provided(case)
        J = ad.jacfwd(f)(case["x"])
        return {"J": np.asarray(J, float), "jvps": np.asarray(float(f.on_duals))}


class JacobianFromVjp(JacobianChecker):
    """``jacobian_rev(f, x)``: the (m, n) Jacobian, one recording, one VJP (row) per output.

    Recordings are the runs of ``f`` on the tape (``f.on_tape``); VJPs are the reverse
    sweeps adlab ran during the learner's call. Those happen where the learner's code
    runs, so they are counted there: the procedure ``count_sweeps`` of
    :mod:`course.provided` calls the learner's function and reports what it returned
    and the sweeps adlab's engine counted meanwhile (as ``count_work`` does); the
    judging stays here.
    """

    def call(self, fn, case, fname):
        f = provided(case)
        ran = run_on(fn, "count_sweeps", f, np.array(case["x"], dtype=float))
        sweeps = ran.get("reverse_sweeps") if isinstance(ran, dict) else None
        if not isinstance(sweeps, int) or isinstance(sweeps, bool):
            raise WrongOutput(f"the reverse sweeps of {fname} could not be counted",
                              safe_repr(ran))
        return {"J": ran.get("value"), "recordings_of_f": f.on_tape, "vjps": sweeps}

    def expected(self, case):
        from adlab.widgets.cost import count_work

        f = provided(case)
        with count_work() as work:
            J = ad.jacrev(f)(case["x"])
        return {"J": np.asarray(J, float), "recordings_of_f": np.asarray(float(f.on_tape)),
                "vjps": np.asarray(float(work.reverse_sweeps))}


# ---------------------------------------------------------------------------------
# Choosing the mode
# ---------------------------------------------------------------------------------

MODES = ("forward", "reverse")


def measured_passes(n: int, m: int) -> dict[str, int]:
    """Sweeps that ad.jacfwd and ad.jacrev make for a Jacobian of f: R^n -> R^m, counted."""
    from adlab.widgets.cost import count_work

    rng = np.random.default_rng([n, m])
    A = rng.normal(size=(m, n))
    f = lambda x: ad.tanh(A @ x)
    x = rng.normal(size=n)
    with count_work() as fw:
        ad.jacfwd(f)(x)
    with count_work() as rv:
        ad.jacrev(f)(x)
    return {"forward": fw.forward_sweeps, "reverse": rv.reverse_sweeps}


class ChooseMode(Checker):
    """``choose_mode(n, m)`` -> "forward" or "reverse": the mode needing fewer sweeps.

    The output compared is the number of sweeps the chosen mode makes for the whole
    Jacobian (n for forward, m for reverse), against the smaller of the two counts
    measured with adlab, so for n = m either answer passes.
    """

    fixed = ({"n": 1000, "m": 1}, {"n": 3, "m": 50}, {"n": 8, "m": 8})

    def random_case(self, rng, k):
        kind = k % 4
        if kind == 0:  # near the crossover
            n = int(rng.integers(2, 60))
            return {"n": n, "m": n + int(rng.choice([-1, 1]))}
        if kind == 1:  # a tie
            n = int(rng.integers(1, 40))
            return {"n": n, "m": n}
        n, m = (int(v) for v in np.exp(rng.uniform(0, np.log(300), size=2)).round())
        return {"n": max(n, 1), "m": max(m, 1)}

    def call(self, fn, case, fname):
        answer = fn(case["n"], case["m"])
        if not isinstance(answer, str) or answer not in MODES:
            raise WrongOutput(f'{fname} should return "forward" or "reverse" (a string)',
                              safe_repr(answer))
        return {"passes": case["n"] if answer == "forward" else case["m"]}

    def expected(self, case):
        return {"passes": np.asarray(float(min(measured_passes(case["n"], case["m"]).values())))}

    def describe(self, case, fname):
        return (f"{fname}(n={case['n']}, m={case['m']}): a full Jacobian of "
                f"f: R^{case['n']} -> R^{case['m']} (passes = the sweeps your choice makes)")


# ---------------------------------------------------------------------------------
# The VJP of a matrix product
# ---------------------------------------------------------------------------------

class MatmulVjp(Checker):
    r"""``matmul_vjp(y_bar, x, W) -> (x_bar, W_bar)`` for :math:`y = xW`."""

    fixed = (
        {"y_bar": np.array([[1.0, -2.0], [0.5, 3.0]]), "x": np.array([[1.0, 2.0], [3.0, 4.0]]),
         "W": np.array([[0.5, -1.0], [2.0, 1.5]])},
        {"y_bar": np.array([[1.0, 0.0, -1.0, 2.0], [0.5, 1.0, 0.0, -0.5]]),
         "x": np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]]),
         "W": np.array([[0.1, 0.2, 0.3, 0.4], [-0.5, 0.6, -0.7, 0.8], [0.9, -1.0, 1.1, -1.2]])},
    )

    def random_case(self, rng, k):
        b, n, p = [(3, 2, 4), (1, 3, 2), (4, 4, 4), (2, 5, 3), (3, 3, 1)][k % 5]
        return {"y_bar": number(rng, -2, 2, (b, p)), "x": number(rng, -2, 2, (b, n)),
                "W": number(rng, -2, 2, (n, p))}

    def call(self, fn, case, fname):
        c = copy.deepcopy(case)
        return unpack(fn(c["y_bar"], c["x"], c["W"]), ("x_bar", "W_bar"), fname)

    def expected(self, case):
        _, pullback = ad.vjp(ad.matmul, case["x"], case["W"])
        x_bar, W_bar = pullback(case["y_bar"])
        return {"x_bar": np.asarray(x_bar, float), "W_bar": np.asarray(W_bar, float)}


EXERCISES = (
    Exercise(
        id="05.jacfwd_from_jvp", notebook="05_jacobians_and_cost", points=3,
        name="jacobian_fwd", title="A Jacobian column by column, from JVPs",
        off=everything_but("ad.jvp"),
        checker=JacobianFromJvp(),
        hint="For f: R^n -> R^m, ad.jvp(f, (x,), (seed,)) returns (f(x), J @ seed). The "
             "one-hot seed e_j (np.eye(n)[j]) gives column j of J, a vector of m numbers. "
             "Make n JVPs, one per input, and put the results side by side as COLUMNS: "
             "np.stack(columns, axis=1) has shape (m, n). (np.array(columns) would give "
             "the transpose, shape (n, m).)",
    ),
    Exercise(
        id="05.jacrev_from_vjp", notebook="05_jacobians_and_cost", points=3,
        name="jacobian_rev", title="A Jacobian row by row, from VJPs",
        off=everything_but("ad.vjp"),
        checker=JacobianFromVjp(),
        hint="Record f once with ad.vjp, which gives the output and a pullback. Then "
             "pull back one one-hot cotangent per output (row i of np.eye(m), m "
             "outputs): each gives row i of J, as the first entry of a tuple. Stack "
             "the m rows into an (m, n) array. Calling ad.vjp inside the loop gives "
             "the right J but records f m times: one recording serves every row.",
    ),
    Exercise(
        id="05.choose_mode", notebook="05_jacobians_and_cost", points=1,
        name="choose_mode", title="Forward or reverse? The rule behind the measurement",
        checker=ChooseMode(),
        hint="A full Jacobian of f: R^n -> R^m takes n forward sweeps (one per input) or "
             "m reverse sweeps (one per output), each a small constant times one run of f. "
             "Choose the mode with fewer sweeps: forward when n < m, reverse when m < n "
             "(either when n == m). Return the string \"forward\" or \"reverse\".",
    ),
    Exercise(
        id="05.matmul_vjp", notebook="05_jacobians_and_cost", points=3,
        name="matmul_vjp", title="The VJP of a matrix product, without its 4-D Jacobian",
        checker=MatmulVjp(),
        hint="For y = x @ W with x of shape (b, n) and W of shape (n, p), y_bar has "
             "y's shape (b, p), and each adjoint has the shape of its variable. Find "
             "the product of y_bar with W (or its transpose) that has shape (b, n), "
             "and the product of x (or its transpose) with y_bar that has shape (n, "
             "p). A result of shape (p, n) is the transpose of the right W_bar.",
    ),
)
