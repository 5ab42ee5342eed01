"""Exercises of notebook 05: Jacobians, JVPs and VJPs, and what each mode costs."""

from __future__ import annotations

import copy

import numpy as np

import adlab as ad
from course.checkers import Checker, WrongOutput, number, unpack
from course.exercise import Exercise, Mistake, everything_but
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


# ---------------------------------------------------------------------------------
# Known mistakes: what each wrong idea computes on a case, and the feedback that names
# it with the case's numbers
# ---------------------------------------------------------------------------------

def _jacobian(case: dict) -> np.ndarray:
    """The case's (m, n) Jacobian, computed by adlab here (where grading judges)."""
    f = vector_function({k: case[k] for k in ("kind", "A", "B", "b")})
    return np.asarray(ad.jacfwd(f)(np.asarray(case["x"], float)), float)


def _sizes(case: dict) -> str:
    return f"f: R^{case['n']} -> R^{case['m']}"


def _explain_transposed(case: dict, what: str) -> str:
    J = _jacobian(case)
    shape = (f"J has shape {J.T.shape} but should have shape {J.shape}: it is"
             if J.shape != J.T.shape else "your J is")
    return (f"{shape} the transpose of the Jacobian ({what}). The Jacobian of "
            f"{_sizes(case)} has shape (m, n) = {J.shape}, one row per output and one "
            f"column per input: its first column is {fmt(J[:, 0])}, its first row "
            f"{fmt(J[0])}")


def _explain_ones_seed(case: dict) -> str:
    ones = np.ones(case["n"])
    return (f"a seed of ones is the direction {fmt(ones)}, so every JVP gave the same "
            f"J @ {fmt(ones)} = {fmt(_jacobian(case) @ ones)}, the sum of the columns; the "
            f"one-hot seed e_j (1 for input j, 0 for the others) gives column j")


def _explain_extra_jvp(case: dict) -> str:
    return (f"J is right, but it took {case['n'] + 1} JVPs where n = {case['n']} suffice, one "
            f"per input; the number of outputs m = {case['m']} is the length of a column, "
            "or of a plain run f(x), which is no JVP")


def _explain_recorded_per_row(case: dict) -> str:
    return (f"J is right, but f was recorded {case['m']} times, once per row: one ad.vjp "
            f"call records f and returns a pullback that serves all m = {case['m']} rows; "
            "call it once, before the loop")


def _explain_ones_cotangent(case: dict) -> str:
    ones = np.ones(case["m"])
    return (f"a cotangent of ones gives {fmt(ones)} @ J = {fmt(ones @ _jacobian(case))}, "
            f"the gradient of the SUM of the m = {case['m']} outputs, not the Jacobian: "
            f"each row needs its own one-hot cotangent, so {case['m']} VJPs for "
            f"{case['m']} rows")


def _explain_always_reverse(case: dict) -> str:
    n, m = case["n"], case["m"]
    return (f"reverse mode is not always the cheaper one: it makes one sweep per output, "
            f"m = {m} here, while forward mode makes one per input, n = {n}; for "
            f"{_sizes(case)} forward mode needs fewer sweeps ({n}, not {m})")


def _explain_modes_swapped(case: dict) -> str:
    n, m = case["n"], case["m"]
    chosen = "forward" if n > m else "reverse"
    return (f"forward mode makes one sweep per INPUT (n = {n}) and reverse mode one per "
            f"OUTPUT (m = {m}); choosing {chosen} mode for {_sizes(case)} takes "
            f"{max(n, m)} sweeps where {min(n, m)} suffice, as if forward mode made one "
            "sweep per output and reverse mode one per input")


def _matmul_parts(case: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(np.asarray(case[k], float) for k in ("y_bar", "x", "W"))


def _matmul_right(case: dict) -> dict[str, np.ndarray]:
    return MatmulVjp().expected(case)


def _explain_transposed_w_bar(case: dict) -> str:
    y_bar, x, _ = _matmul_parts(case)
    return (f"your W_bar, y_bar.T @ x = {fmt(y_bar.T @ x)}, is the transpose of W_bar: "
            f"an adjoint has the shape of its variable, and W has shape {np.shape(case['W'])}, so "
            f"W_bar = {fmt(_matmul_right(case)['W_bar'])}")


def _explain_transposed_x_bar(case: dict) -> str:
    y_bar, _, W = _matmul_parts(case)
    return (f"your x_bar, W @ y_bar.T = {fmt(W @ y_bar.T)}, is the transpose of x_bar: "
            f"an adjoint has the shape of its variable, and x has shape {np.shape(case['x'])}, so "
            f"x_bar = {fmt(_matmul_right(case)['x_bar'])}")


def _explain_batch_averaged(case: dict) -> str:
    b = np.shape(case["x"])[0]
    W_bar = _matmul_right(case)["W_bar"]
    return (f"W_bar is the SUM over the b = {b} rows of the batch (each row of x times its "
            f"row of y_bar), {fmt(W_bar)}; dividing by b gives {fmt(W_bar / b)}. An average "
            "belongs to the loss, not to the reverse rule of the product")


EXERCISES = (
    Exercise(
        id="05.jacfwd_from_jvp", notebook="05_jacobians_and_cost", points=3,
        name="jacobian_fwd", title="A Jacobian column by column, from JVPs",
        off=everything_but("ad.jvp"),
        checker=JacobianFromJvp(),
        hint="A JVP with a one-hot seed gives one column of the Jacobian: the "
             "derivatives of all m outputs with respect to one input. n JVPs, one per "
             "input, give all n columns.",
        more_hints=(
            "ad.jvp(f, (x,), (seed,)) returns (f(x), J @ seed). With the seed e_j, a "
            "vector of n zeros with a 1 at position j (np.eye(n)[j]), the second entry is "
            "column j of J, a vector of m numbers.",
            "Outline: loop j over the n inputs, build e_j, keep the second entry of "
            "ad.jvp, collect the columns; put them side by side as COLUMNS: "
            "np.stack(columns, axis=1) has shape (m, n), while np.array(columns) gives "
            "the transpose (n, m). Exactly n JVPs: m is the length of a column.",
        ),
        mistakes=(
            Mistake("transposed-jacobian",
                    lambda c: {"J": _jacobian(c).T, "jvps": float(c["n"])},
                    lambda c: _explain_transposed(c, "the columns J @ e_j went in as rows")),
            Mistake("ones-seed",
                    lambda c: {"J": np.outer(_jacobian(c).sum(axis=1), np.ones(c["n"])),
                               "jvps": float(c["n"])},
                    _explain_ones_seed),
            Mistake("extra-jvp",
                    lambda c: {"J": _jacobian(c), "jvps": float(c["n"] + 1)},
                    _explain_extra_jvp),
        ),
    ),
    Exercise(
        id="05.jacrev_from_vjp", notebook="05_jacobians_and_cost", points=3,
        name="jacobian_rev", title="A Jacobian row by row, from VJPs",
        off=everything_but("ad.vjp"),
        checker=JacobianFromVjp(),
        hint="A VJP with a one-hot cotangent gives one row of the Jacobian: the gradient "
             "of one output with respect to all n inputs. One recording of f serves all "
             "m rows.",
        more_hints=(
            "ad.vjp(f, x) runs and records f once and returns (f(x), pullback). "
            "pullback(e_i), with e_i one-hot of length m (the number of OUTPUTS, row i "
            "of np.eye(m)), returns a tuple whose first entry is row i of J, n numbers.",
            "Outline: call ad.vjp once, before the loop; loop i over the m outputs, pull "
            "e_i back, collect the rows; stack them one above the other into an (m, n) "
            "array. ad.vjp inside the loop gives the right J but records f m times; a "
            "cotangent of ones gives the sum of the rows, not J.",
        ),
        mistakes=(
            Mistake("transposed-jacobian",
                    lambda c: {"J": _jacobian(c).T, "recordings_of_f": 1.0,
                               "vjps": float(c["m"])},
                    lambda c: _explain_transposed(c, "the rows e_i @ J went in as columns")),
            Mistake("recorded-per-row",
                    lambda c: {"J": _jacobian(c), "recordings_of_f": float(c["m"]),
                               "vjps": float(c["m"])},
                    _explain_recorded_per_row),
            Mistake("ones-cotangent",
                    lambda c: {"J": _jacobian(c).sum(axis=0), "recordings_of_f": 1.0,
                               "vjps": 1.0},
                    _explain_ones_cotangent),
        ),
    ),
    Exercise(
        id="05.choose_mode", notebook="05_jacobians_and_cost", points=1,
        name="choose_mode", title="Forward or reverse? The rule behind the measurement",
        checker=ChooseMode(),
        hint="Count sweeps: forward mode gets one column of the Jacobian per sweep, "
             "reverse mode one row per sweep. The cheaper mode is the one that needs "
             "fewer sweeps for this f: R^n -> R^m.",
        more_hints=(
            "A full Jacobian of f: R^n -> R^m takes n forward sweeps (one per input) or "
            "m reverse sweeps (one per output), each a small constant times one run of f.",
            "Outline: compare the two counts and return the name of the mode whose count "
            "is smaller, as the string \"forward\" or \"reverse\"; when they are equal "
            "either is right. Reverse mode is not always cheaper: it wins when there are "
            "many inputs and few outputs, as for a scalar loss.",
        ),
        mistakes=(
            Mistake("always-reverse", lambda c: {"passes": float(c["m"])},
                    _explain_always_reverse),
            Mistake("modes-swapped", lambda c: {"passes": float(max(c["n"], c["m"]))},
                    _explain_modes_swapped),
        ),
    ),
    Exercise(
        id="05.matmul_vjp", notebook="05_jacobians_and_cost", points=3,
        name="matmul_vjp", title="The VJP of a matrix product, without its 4-D Jacobian",
        checker=MatmulVjp(),
        hint="Reason as in the worked example y = A v: an adjoint is the sum, over the "
             "outputs its variable appears in, of y_bar's entries times the other factor, "
             "and it has the shape of its variable (x_bar is (b, n) like x, W_bar is (n, p) "
             "like W). The 4-D Jacobian of y = x @ W is never needed.",
        more_hints=(
            "From y_ij = sum_k x_ik W_kj: x_ik appears in every y_ij of row i, times W_kj, "
            "so x_bar_ik sums over j; W_kl appears in y_il of every row i, times x_ik, so "
            "W_bar_kl sums over the batch. Each sum is a matrix product of y_bar with the "
            "other factor or its transpose; the shapes (b, n) and (n, p) tell which.",
            "Outline: two matrix products, each with one transpose, returned in the order "
            "(x_bar, W_bar). Check against the scalar case (b = n = p = 1, where the rule "
            "is that of x * W) and against the shapes: a W_bar of shape (p, n) is the "
            "transpose of the right one, and W_bar sums over the batch, no division by b.",
        ),
        mistakes=(
            Mistake("transposed-w-bar",
                    lambda c: {"x_bar": _matmul_right(c)["x_bar"],
                               "W_bar": _matmul_right(c)["W_bar"].T},
                    _explain_transposed_w_bar),
            Mistake("transposed-x-bar",
                    lambda c: {"x_bar": _matmul_right(c)["x_bar"].T,
                               "W_bar": _matmul_right(c)["W_bar"]},
                    _explain_transposed_x_bar),
            Mistake("batch-averaged",
                    lambda c: {"x_bar": _matmul_right(c)["x_bar"],
                               "W_bar": _matmul_right(c)["W_bar"] / np.shape(c["x"])[0]},
                    _explain_batch_averaged),
        ),
    ),
)
