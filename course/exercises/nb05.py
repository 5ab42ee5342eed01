"""Exercises of notebook 05: Jacobians, JVPs and VJPs, and what each mode costs."""

from __future__ import annotations

import copy

import numpy as np

import adlab as ad
from course.checkers import Checker, WrongOutput, as_floats, number, unpack
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
# A Jacobian's shape and plan, from a description of a model's arrays
# ---------------------------------------------------------------------------------

MODES = ("forward", "reverse")

#: descriptions of real models (none of them in the notebook): what the arrays are, the
#: model's inputs and its outputs, each a dict of names and shapes (as NumPy writes them)
PLAN_CASES = (
    {"what": "a two-layer MLP for 28x28 digit images: its loss with respect to its weights",
     "inputs": {"W1": (64, 784), "b1": (64,), "W2": (10, 64), "b2": (10,)},
     "outputs": {"loss": ()}},
    {"what": "a planar robot arm: the (x, y) positions of its 4 joints from its 3 angles",
     "inputs": {"angles": (3,)}, "outputs": {"joints": (4, 2)}},
    {"what": "the heat equation on a 32x32 grid: the residual at the interior points with "
             "respect to the solution and the diffusivity",
     "inputs": {"u": (32, 32), "diffusivity": ()}, "outputs": {"residual": (30, 30)}},
    {"what": "a 5x5 convolution filter on a 28x28 image: the filtered image with respect "
             "to the kernel",
     "inputs": {"kernel": (5, 5)}, "outputs": {"filtered": (24, 24)}},
    {"what": "a damped spring simulated for 100 steps: the trajectory with respect to its "
             "three parameters",
     "inputs": {"mass": (), "stiffness": (), "damping": ()},
     "outputs": {"position": (100,), "velocity": (100,)}},
)

NAMES = ("x", "y", "z", "w", "h", "u", "v", "theta", "state", "weights", "bias", "scale",
         "params", "out", "features", "grid")


def entries(shape) -> int:
    """How many numbers an array of this shape holds (1 for a scalar, shape ())."""
    return int(np.prod(shape, dtype=np.int64))


def sizes(case: dict) -> tuple[int, int]:
    """(n, m): the numbers in all inputs together, in all outputs together."""
    return (sum(entries(s) for s in case["inputs"].values()),
            sum(entries(s) for s in case["outputs"].values()))


def _ints(*values) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


def _random_shape(rng, axes: int) -> tuple[int, ...]:
    return _ints(*rng.integers(1, 13, size=axes))


def _random_arrays(rng, count: int, taken: set) -> dict:
    arrays = {}
    for _ in range(count):
        name = str(rng.choice([n for n in NAMES if n not in taken]))
        taken.add(name)
        arrays[name] = _random_shape(rng, int(rng.integers(0, 4)))
    return arrays


def random_plan_case(rng: np.random.Generator, k: int) -> dict:
    """A model of one of eight kinds, with random sizes (all below a million numbers, so
    a count that is off by one is always told apart from the right one)."""
    kind = k % 8
    pick = lambda options: int(rng.choice(options))  # noqa: E731
    if kind == 0:
        d, classes = pick([784, 3072, 20, 100, 13]), pick([10, 2, 100])
        widths = [pick([16, 32, 64, 128]) for _ in range(pick([1, 2]))]
        layers, inputs = [d, *widths, classes], {}
        for i in range(len(layers) - 1):
            inputs[f"W{i + 1}"] = (layers[i + 1], layers[i])
            inputs[f"b{i + 1}"] = (layers[i + 1],)
        return {"what": f"an MLP with layers {layers}: its loss with respect to its weights",
                "inputs": inputs, "outputs": {"loss": ()}}
    if kind == 1:
        c, h, classes = pick([1, 3]), pick([28, 32, 64]), pick([10, 100, 1000])
        return {"what": f"an image classifier with {classes} classes: its logits with "
                        "respect to the input image (a saliency map)",
                "inputs": {"image": (c, h, h)}, "outputs": {"logits": (classes,)}}
    if kind == 2:
        j = pick([2, 3, 4, 5, 6, 7])
        if rng.random() < 0.5:
            return {"what": f"a planar robot arm: the positions of its {j + 1} joints from "
                            f"its {j} angles",
                    "inputs": {"angles": (j,)}, "outputs": {"joints": (j + 1, 2)}}
        return {"what": f"a robot arm in space with {j} joints: the position and the "
                        "orientation (a rotation matrix) of its gripper",
                "inputs": {"angles": (j,)},
                "outputs": {"position": (3,), "orientation": (3, 3)}}
    if kind == 3:
        points = pick([2, 3, 4, 10, 25, 40])
        return {"what": f"a pinhole camera looking at {points} points: their pixel "
                        "coordinates with respect to the camera's pose and focal length",
                "inputs": {"position": (3,), "rotation": (3,), "focal_length": ()},
                "outputs": {"pixels": (points, 2)}}
    if kind == 4:
        g = pick([8, 16, 33, 64])
        inputs = {"u": (g, g)}
        if rng.random() < 0.5:
            inputs["diffusivity"] = ()
        return {"what": f"a PDE on a {g}x{g} grid: the residual at the interior points",
                "inputs": inputs, "outputs": {"residual": (g - 2, g - 2)}}
    if kind == 5:
        size, h = pick([3, 5, 7]), pick([16, 28, 64])
        channels = pick([1, 3])
        return {"what": f"a {size}x{size} filter on a {h}x{h} image with {channels} "
                        "channel(s): the filtered image with respect to the kernel",
                "inputs": {"kernel": (channels, size, size)},
                "outputs": {"filtered": (channels, h - size + 1, h - size + 1)}}
    if kind == 6:
        d = pick([2, 4, 8, 16, 50])
        if rng.random() < 0.5:
            return {"what": f"one invertible layer of a normalizing flow on R^{d}",
                    "inputs": {"z": (d,)}, "outputs": {"x": (d,)}}
        return {"what": f"the inverse of a {d}x{d} matrix",
                "inputs": {"A": (d, d)}, "outputs": {"A_inverse": (d, d)}}
    taken: set = set()
    inputs = _random_arrays(rng, pick([1, 2, 3, 4]), taken)
    return {"what": "a function of arrays with random names and shapes",
            "inputs": inputs, "outputs": _random_arrays(rng, pick([1, 2, 3]), taken)}


def _show_arrays(arrays: dict) -> str:
    return "{" + ", ".join(f"{name!r}: {tuple(int(v) for v in shape)!r}"
                           for name, shape in arrays.items()) + "}"


class JacobianPlan(Checker):
    """``jacobian_plan(inputs, outputs) -> (shape, mode, passes)`` for a model's arrays.

    The outputs compared: ``shape`` (exactly: counts below a million, so an off-by-one
    fails the relative tolerance), ``passes_of_mode``, the passes the mode the learner
    chose needs for this Jacobian (n for forward, m for reverse: so for n = m either mode
    passes), and ``passes``.
    """

    fixed = PLAN_CASES

    def random_case(self, rng, k):
        return random_plan_case(rng, k)

    def call(self, fn, case, fname):
        c = copy.deepcopy(case)
        out = unpack(fn(c["inputs"], c["outputs"]), ("shape", "mode", "passes"), fname)
        shape = as_floats(out["shape"], "shape")
        if shape.shape != (2,):
            raise WrongOutput(f"{fname} should return the Jacobian's shape as a pair "
                              "(rows, columns), like the .shape of a 2-D array",
                              f"shape = {safe_repr(out['shape'])}")
        mode = out["mode"]
        if not isinstance(mode, str) or mode not in MODES:
            raise WrongOutput(f'{fname} should return the mode as the string "forward" or '
                              '"reverse"', f"mode = {safe_repr(mode)}")
        n, m = sizes(case)
        return {"shape": shape, "passes_of_mode": n if mode == "forward" else m,
                "passes": out["passes"]}

    def expected(self, case):
        n, m = sizes(case)
        return {"shape": np.array([m, n], float), "passes_of_mode": np.asarray(float(min(n, m))),
                "passes": np.asarray(float(min(n, m)))}

    def describe(self, case, fname):
        return (f"{fname}(inputs={_show_arrays(case['inputs'])}, "
                f"outputs={_show_arrays(case['outputs'])}): {case['what']}")


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


def _plan_of(case: dict, n: int, m: int) -> dict[str, np.ndarray]:
    """What a learner who counted n input and m output numbers returns: shape (m, n), the
    mode with fewer of those passes (reverse on a tie), and min(n, m) passes; the mode is
    shown by the passes it really needs, as the checker shows it."""
    true_n, true_m = sizes(case)
    mode = "forward" if n < m else "reverse"
    return {"shape": np.array([m, n], float),
            "passes_of_mode": float(true_n if mode == "forward" else true_m),
            "passes": float(min(n, m))}


def _plan_right(case: dict) -> dict[str, np.ndarray]:
    n, m = sizes(case)
    return _plan_of(case, n, m)


def _first_axis(shape) -> int:
    return int(shape[0]) if len(shape) else 1


def _biggest(case: dict, multi_axis: bool = False) -> tuple[str, tuple, str] | None:
    """(name, shape, "input"/"output") of the array with the most numbers (with two or
    more axes if ``multi_axis``), or None if there is none."""
    arrays = [(entries(s), name, tuple(s), side)
              for side in ("input", "output") for name, s in case[f"{side}s"].items()
              if len(s) >= 2 or not multi_axis]
    if not arrays:
        return None
    _, name, shape, side = max(arrays, key=lambda a: a[0])
    return name, shape, side


def _many(count: int, word: str) -> str:
    """``count`` and the word, plural unless the count is 1: "1 pass", "3 passes"."""
    if count == 1:
        return f"{count} {word}"
    return f"{count} {word}{'es' if word.endswith('s') else 's'}"


def _totals(case: dict) -> str:
    n, m = sizes(case)
    return f"all inputs together hold n = {n} numbers, all outputs m = {m}"


def _explain_plan_transposed(case: dict) -> str:
    n, m = sizes(case)
    return (f"your shape ({n}, {m}) is (n, m), the transpose: a Jacobian has one ROW per "
            f"output number (m = {m}) and one COLUMN per input number (n = {n}), so this "
            f"one has shape ({m}, {n})")


def _explain_counted_arrays(case: dict) -> str:
    name, shape, side = _biggest(case)
    return (f"you counted the arrays ({_many(len(case['inputs']), 'input')}, "
            f"{_many(len(case['outputs']), 'output')}) instead of the numbers in them: the "
            f"{side} {name} of shape {shape} alone holds {_many(entries(shape), 'number')}, "
            f"and every one of them is an {side} of its own; {_totals(case)}")


def _explain_first_axis(case: dict) -> str:
    n1 = sum(_first_axis(s) for s in case["inputs"].values())
    m1 = sum(_first_axis(s) for s in case["outputs"].values())
    counted = f"counting only the first axis of each shape gives n = {n1} and m = {m1}"
    big = _biggest(case, multi_axis=True)
    if big is None:
        return f"{counted}; {_totals(case)}"
    name, shape, side = big
    product = " x ".join(str(v) for v in shape)
    return (f"{counted}, but the {side} {name} of shape {shape} holds {product} = "
            f"{_many(entries(shape), 'number')}, not {shape[0]}: every axis counts (and a "
            f"scalar, shape (), is one number); {_totals(case)}")


def _explain_plan_modes_swapped(case: dict) -> str:
    n, m = sizes(case)
    chosen = "forward" if n > m else "reverse"
    return (f"you chose {chosen} mode, which needs {max(n, m)} passes here where {min(n, m)} "
            f"suffice: forward mode makes one pass per INPUT number (n = {n}) and reverse "
            f"mode one per OUTPUT number (m = {m})")


def _explain_passes_max(case: dict) -> str:
    n, m = sizes(case)
    mode, other = ("forward", "reverse") if n < m else ("reverse", "forward")
    per = "input" if n < m else "output"
    return (f"{mode} mode is the right choice, but it needs {_many(min(n, m), 'pass')}, "
            f"one per {per} number; {max(n, m)} is what {other} mode would need (n = {n}, "
            f"m = {m})")


def _explain_plan_always_reverse(case: dict) -> str:
    n, m = sizes(case)
    return (f"reverse mode is not always the cheaper one: it makes one pass per output "
            f"number, m = {m} here, while forward mode makes one per input number, n = {n}; "
            f"for {case['what']}, forward mode needs {n} passes, not {m}")


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
        id="05.jacobian_plan", notebook="05_jacobians_and_cost", points=2,
        name="jacobian_plan", title="A model's Jacobian: its shape, its mode, its passes",
        checker=JacobianPlan(),
        hint="Every single number of every array is an input (or an output) of its own: "
             "flatten the arrays and put them one after another. A forward pass gives one "
             "column of the Jacobian (one input number), a reverse pass one row (one "
             "output number); count both and take the cheaper.",
        more_hints=(
            "An array of shape (64, 784) holds 64 * 784 = 50176 numbers and a scalar, "
            "shape (), holds 1. n is that count summed over the inputs, m the same over "
            "the outputs; the Jacobian has one row per output number, so its shape is "
            "(m, n), and a whole Jacobian takes n forward passes or m reverse passes.",
            "Outline: a small helper that turns a shape into its number of entries (the "
            "product of its axes; the product of no axes is 1); add it up over "
            "inputs.values() for n and over outputs.values() for m; return the pair "
            "(rows, columns), the name of the mode with fewer passes (either one when n "
            "== m) and its number of passes. len(inputs) counts arrays, not numbers.",
        ),
        mistakes=(
            Mistake("transposed-shape",
                    lambda c: {**_plan_right(c),
                               "shape": np.array(sizes(c), float)},
                    _explain_plan_transposed),
            Mistake("counted-arrays",
                    lambda c: _plan_of(c, len(c["inputs"]), len(c["outputs"])),
                    _explain_counted_arrays),
            Mistake("first-axis-only",
                    lambda c: _plan_of(c, sum(_first_axis(s) for s in c["inputs"].values()),
                                       sum(_first_axis(s) for s in c["outputs"].values())),
                    _explain_first_axis),
            Mistake("modes-swapped",
                    lambda c: {**_plan_right(c), "passes_of_mode": float(max(sizes(c)))},
                    _explain_plan_modes_swapped),
            Mistake("passes-max",
                    lambda c: {**_plan_right(c), "passes": float(max(sizes(c)))},
                    _explain_passes_max),
            Mistake("always-reverse",
                    lambda c: {**_plan_right(c), "passes_of_mode": float(sizes(c)[1]),
                               "passes": float(sizes(c)[1])},
                    _explain_plan_always_reverse),
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
