"""Exercises of notebook 07, backpropagation in an MLP: the layers' reverse rules."""

from __future__ import annotations

import copy

import numpy as np

import adlab as ad
from adlab import nn, optim
from course.checkers import ATOL, RTOL, SHAPES, Checker, WrongOutput, number, unpack
from course.exercise import Exercise, Mistake
from course.result import fmt, safe_repr


def _linear(x, W, b):
    return ad.matmul(x, W) + b


class LinearVjp(Checker):
    r"""``linear_vjp(dz, x, W) -> (dx, dW, db)`` for :math:`z = xW + b` on a batch.

    :math:`\bar x = \bar z W^\top`, :math:`\bar W = x^\top \bar z`,
    :math:`\bar b = \sum_{\text{rows}} \bar z`. ``b`` is in the case for adlab's VJP
    only: the rule does not read it.
    """

    fixed = (
        # a square W: a transposed dW has the right shape and the wrong numbers
        {"dz": np.array([[1.0, -0.5, 2.0], [0.5, 1.5, -1.0]]),
         "x": np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]]),
         "W": np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5], [-2.0, 1.0, 0.75]]),
         "b": np.array([0.1, 0.2, 0.3])},
    )

    def random_case(self, rng, k):
        n_batch = int(rng.integers(2, 6))
        n_in = int(rng.integers(1, 5))
        n_out = n_in if k % 2 == 0 else int(rng.integers(1, 5))  # square W half the time
        return {"dz": number(rng, -2, 2, (n_batch, n_out)),
                "x": number(rng, -2, 2, (n_batch, n_in)),
                "W": number(rng, -2, 2, (n_in, n_out)),
                "b": number(rng, -1, 1, (n_out,))}

    def call(self, fn, case, fname):
        c = copy.deepcopy(case)
        return unpack(fn(c["dz"], c["x"], c["W"]), ("dx", "dW", "db"), fname)

    def expected(self, case):
        _, pullback = ad.vjp(_linear, case["x"], case["W"], case["b"])
        dx, dW, db = pullback(case["dz"])
        return {"dx": np.asarray(dx, float), "dW": np.asarray(dW, float),
                "db": np.asarray(db, float)}

    def describe(self, case, fname):
        return f"{fname}(dz={fmt(case['dz'])}, x={fmt(case['x'])}, W={fmt(case['W'])})"


ACTIVATIONS = {"tanh": ad.tanh, "sigmoid": ad.sigmoid}


class ActivationVjps(Checker):
    r"""``activation_vjp(kind, dh, h) -> dz`` for ``kind`` ``"tanh"`` and ``"sigmoid"``.

    ``h`` is the activation's *output*: :math:`\bar z = \bar h \odot (1 - h^2)` for
    tanh, :math:`\bar z = \bar h \odot h \odot (1 - h)` for the sigmoid. Each case
    asks for both, at the same ``z`` and ``dh``.
    """

    fixed = ({"z": 0.5, "dh": 1.0},
             {"z": np.array([-2.0, 0.0, 1.0]), "dh": np.array([0.5, -1.0, 2.0])})

    def random_case(self, rng, k):
        shape = SHAPES[k % len(SHAPES)]
        return {"z": number(rng, -3, 3, shape), "dh": number(rng, -2, 2, shape)}

    def call(self, fn, case, fname):
        out = {}
        for kind, f in ACTIVATIONS.items():
            h = np.asarray(f(case["z"]), float)
            dh = copy.deepcopy(case["dh"])
            out[f"dz ({kind})"] = fn(kind, dh, h if np.ndim(h) else float(h))
        return out

    def expected(self, case):
        out = {}
        for kind, f in ACTIVATIONS.items():
            _, pullback = ad.vjp(f, case["z"])
            out[f"dz ({kind})"] = np.asarray(pullback(case["dh"])[0], float)
        return out

    def describe(self, case, fname):
        z, dh = case["z"], case["dh"]
        h_t, h_s = np.tanh(z), 1 / (1 + np.exp(-np.asarray(z, float)))
        return (f"{fname}('tanh', dh={fmt(dh)}, h={fmt(h_t)}) and "
                f"{fname}('sigmoid', dh={fmt(dh)}, h={fmt(h_s)}), "
                f"both activations taken at z = {fmt(z)}")


class SoftmaxCeVjp(Checker):
    r"""``softmax_ce_vjp(z, labels) -> dz``, the gradient of the mean cross-entropy.

    :math:`\partial L/\partial z = (\operatorname{softmax}(z) - Y)/N` for logits ``z``
    of shape ``(N, C)`` and integer labels of shape ``(N,)`` (``Y`` their one-hot rows).
    """

    fixed = ({"z": np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]]), "labels": np.array([2, 0])},)

    def random_case(self, rng, k):
        n_batch = int(rng.integers(2, 6))
        n_classes = int(rng.integers(2, 6))
        return {"z": number(rng, -3, 3, (n_batch, n_classes)),
                "labels": rng.integers(0, n_classes, size=n_batch)}

    def call(self, fn, case, fname):
        c = copy.deepcopy(case)
        return {"dz": fn(c["z"], c["labels"])}

    def expected(self, case):
        dz = ad.grad(nn.cross_entropy)(case["z"], case["labels"])
        return {"dz": np.asarray(dz, float)}

    def describe(self, case, fname):
        labels = "[" + ", ".join(str(int(v)) for v in case["labels"]) + "]"
        return f"{fname}(z={fmt(case['z'])}, labels=np.array({labels}))"


class SgdStep(Checker):
    r"""``sgd_step(params, grads, lr) -> new params``: :math:`\theta - \eta\, g` for each."""

    fixed = ({"params": [np.array([[1.0, -2.0], [0.5, 3.0]]), np.array([0.25, -0.75])],
              "grads": [np.array([[0.5, 1.0], [-2.0, 0.25]]), np.array([1.0, -1.0])],
              "lr": 0.1},)

    def random_case(self, rng, k):
        shapes = [SHAPES[(k + i) % len(SHAPES)] for i in range(1 + k % 3)]
        return {"params": [np.asarray(number(rng, -3, 3, s), float) for s in shapes],
                "grads": [np.asarray(number(rng, -2, 2, s), float) for s in shapes],
                "lr": float(rng.choice([0.01, 0.05, 0.1, 0.5]))}

    def call(self, fn, case, fname):
        c = copy.deepcopy(case)
        result = fn(c["params"], c["grads"], c["lr"])
        n = len(case["params"])
        if not isinstance(result, (list, tuple)) or len(result) != n:
            raise WrongOutput(f"{fname} should return a list of the {n} updated parameters, "
                              "in the order of params", safe_repr(result))
        return {f"params[{i}]": p for i, p in enumerate(result)}

    def expected(self, case):
        params = [ad.Var(np.array(p, float)) for p in case["params"]]
        for p, g in zip(params, case["grads"]):
            p.grad = np.array(g, float)
        optim.SGD(params, lr=case["lr"]).step()  # plain gradient descent: no momentum
        return {f"params[{i}]": np.asarray(p.value, float) for i, p in enumerate(params)}

    def describe(self, case, fname):
        ps = ", ".join(fmt(p) for p in case["params"])
        gs = ", ".join(fmt(g) for g in case["grads"])
        return f"{fname}(params=[{ps}], grads=[{gs}], lr={fmt(case['lr'])})"


# -- known mistakes ----------------------------------------------------------------------
#
# Each computes, from a case, the outputs that one wrong idea produces (plain NumPy, or
# the right outputs with one piece replaced), and says so with the case's numbers.

def _entry(right: dict, wrong: dict) -> tuple[str, tuple | None]:
    """The first output (and index in it) where ``wrong`` differs from ``right``; the
    index is None when the shapes differ."""
    for name, want in right.items():
        want, have = np.asarray(want, float), np.asarray(wrong[name], float)
        if want.shape != have.shape:
            return name, None
        differs = ~np.isclose(have, want, rtol=RTOL, atol=ATOL)
        if differs.any():
            return name, tuple(int(i) for i in np.argwhere(differs)[0])
    name = next(iter(right))
    return name, (0,) * np.ndim(right[name])


def _label(name: str, index: tuple) -> str:
    return name + (f"[{', '.join(map(str, index))}]" if index else "")


def _at(value, index: tuple) -> float:
    return float(np.asarray(value, float)[index])


def _probabilities(z, axis: int = 1):
    shifted = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return shifted / np.sum(shifted, axis=axis, keepdims=True)


def _targets(case: dict):
    z = np.asarray(case["z"], float)
    rows = np.zeros_like(z)
    rows[np.arange(len(z)), np.asarray(case["labels"], int)] = 1.0
    return rows


def _ce(case: dict, scale: float = 1.0, sign: float = 1.0, axis: int = 1) -> dict:
    """(softmax along ``axis`` - Y), times ``sign``, divided by N ``scale`` times over."""
    z = np.asarray(case["z"], float)
    return {"dz": sign * (_probabilities(z, axis) - _targets(case)) / len(z) ** scale}


def _ce_says(case: dict, wrong: dict, what: str) -> str:
    right = _ce(case)
    name, index = _entry(right, wrong)
    n = len(case["z"])
    return (f"{what}: {_label(name, index)} should be {fmt(_at(right[name], index))} "
            f"(softmax minus one-hot, divided by N = {n}), not {fmt(_at(wrong[name], index))}")


def _linear_right(case: dict) -> dict:
    return LinearVjp().expected(case)


def _linear_with(case: dict, **pieces) -> dict:
    return {**_linear_right(case), **pieces}


def _transposed_dw(case: dict) -> dict:
    return _linear_with(case, dW=np.asarray(case["dz"], float).T @ np.asarray(case["x"], float))


def _transposed_dw_says(case: dict) -> str:
    right, wrong = _linear_right(case), _transposed_dw(case)
    n_in, n_out = np.shape(case["W"])
    where = _entry(right, wrong)[1]
    detail = (f": dW{list(where)} should be {fmt(_at(right['dW'], where))}, not "
              f"{fmt(_at(wrong['dW'], where))}" if where is not None else "")
    return (f"your dW is wrong: dz.T @ x is the transpose of the weight gradient, shape "
            f"({n_out}, {n_in}); "
            f"dW has the shape of W, ({n_in}, {n_out}){detail}")


def _db_per_row(case: dict) -> dict:
    return _linear_with(case, db=np.asarray(case["dz"], float))


def _db_per_row_says(case: dict) -> str:
    n, n_out = np.shape(case["dz"])
    return (f"your db has shape ({n}, {n_out}) but should have shape ({n_out},): b was added "
            f"to each of the {n} rows of the batch, so db adds dz up over the rows, here "
            f"{fmt(_linear_right(case)['db'])}; you returned dz itself")


def _db_mean(case: dict) -> dict:
    return _linear_with(case, db=np.asarray(case["dz"], float).mean(axis=0))


def _db_mean_says(case: dict) -> str:
    n = len(case["dz"])
    return (f"the bias gradient db is the SUM of dz over the {n} rows, "
            f"{fmt(_linear_right(case)['db'])}, not their mean {fmt(_db_mean(case)['db'])}: "
            "a mean loss already put its 1/N into dz, so averaging again divides by N twice")


def _activation(case: dict, rule) -> dict:
    """``rule(kind, h)``: the local derivative each mistake uses, times dh (if it does)."""
    out = {}
    for kind, f in ACTIVATIONS.items():
        h = np.asarray(f(case["z"]), float)
        out[f"dz ({kind})"] = rule(kind, h, np.asarray(case["dh"], float))
    return out


def _activation_right(case: dict) -> dict:
    return ActivationVjps().expected(case)


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def _twice(kind, h, dh):  # the input's formula evaluated at the output
    if kind == "tanh":
        return dh * (1 - np.tanh(h) ** 2)
    return dh * _sigmoid(h) * (1 - _sigmoid(h))


def _undriven(kind, h, dh):  # the local derivative alone
    return (1 - h ** 2 if kind == "tanh" else h * (1 - h)) + 0 * dh


def _exchanged(kind, h, dh):  # the other activation's rule
    return dh * (h * (1 - h) if kind == "tanh" else 1 - h ** 2)


def _activation_says(case: dict, rule, what) -> str:
    right, wrong = _activation_right(case), _activation(case, rule)
    name, index = _entry(right, wrong)
    kind = name[4:-1]
    h = _at(ACTIVATIONS[kind](np.asarray(case["z"], float)), index)
    dh = _at(case["dh"], index)
    return (f"{what(kind)}: at h = {fmt(h)}, dh = {fmt(dh)}, {_label(name, index)} should "
            f"be {fmt(_at(right[name], index))}, not {fmt(_at(wrong[name], index))}")


def _sgd(case: dict, step) -> dict:
    return {f"params[{i}]": step(np.asarray(p, float), np.asarray(g, float), case["lr"])
            for i, (p, g) in enumerate(zip(case["params"], case["grads"]))}


def _sgd_says(case: dict, step, what: str) -> str:
    right, wrong = SgdStep().expected(case), _sgd(case, step)
    name, index = _entry(right, wrong)
    i = int(name[7:-1])
    p, g = _at(case["params"][i], index), _at(case["grads"][i], index)
    return (f"{what}: {_label(name, index)} = {fmt(p)} with gradient {fmt(g)} and lr = "
            f"{fmt(case['lr'])} should become {fmt(_at(right[name], index))}, not "
            f"{fmt(_at(wrong[name], index))}")


def _ascent(p, g, lr):
    return p + lr * g


def _no_rate(p, g, lr):
    return p - g


def _only_step(p, g, lr):
    return lr * g + 0 * p


EXERCISES = (
    Exercise(
        id="07.softmax_ce_vjp", notebook="07_backprop_mlp", points=2, name="softmax_ce_vjp",
        title="The gradient of softmax cross-entropy with respect to the logits",
        checker=SoftmaxCeVjp(),
        hint="Differentiate the loss with respect to the logits z, through softmax and the "
             "log together: the two cancel into something very simple per row, made of "
             "the predicted probabilities and the true labels as one-hot rows. The loss "
             "is a MEAN over the batch, which contributes one more factor.",
        more_hints=(
            "Key step, for one row with true class c: write its loss as "
            "-z[c] + log(sum_j exp(z[j])) and differentiate by each z[k], as the two-class "
            "example did; the log of the sum gives the softmax probability of class k. "
            "Then the mean: example n's loss depends on row n of z only, and the mean "
            "divides it by N = z.shape[0].",
            "Outline: (1) softmax of each row: subtract the row's maximum (axis=1, "
            "keepdims=True) so that np.exp cannot overflow, exponentiate, divide by the "
            "row's sum; (2) build Y; (3) subtract Y and divide by N once. Check: for "
            "z = [[1, 2, 3], [1, 1, 1]] and labels [2, 0] the second row is "
            "[-1/3, 1/6, 1/6].",
        ),
        mistakes=(
            Mistake("not-divided-by-batch", lambda c: _ce(c, scale=0),
                    lambda c: _ce_says(c, _ce(c, scale=0), "the loss is the mean over the "
                                       f"{len(c['z'])} rows, so its gradient carries 1/N")),
            Mistake("divided-by-batch-twice", lambda c: _ce(c, scale=2),
                    lambda c: _ce_says(c, _ce(c, scale=2), "you divided by the batch size "
                                       f"N = {len(c['z'])} twice; the mean needs it once")),
            Mistake("one-hot-minus-softmax", lambda c: _ce(c, sign=-1),
                    lambda c: _ce_says(c, _ce(c, sign=-1), "the sign is flipped: the "
                                       "gradient is predicted minus true, softmax - Y")),
            Mistake("softmax-over-batch-axis", lambda c: _ce(c, axis=0),
                    lambda c: _ce_says(c, _ce(c, axis=0), "softmax normalises each ROW "
                                       "(one example's logits, axis=1), not each column")),
        ),
    ),
    Exercise(
        id="07.linear_vjp", notebook="07_backprop_mlp", points=3, name="linear_vjp",
        title="The reverse rule of a linear layer z = x W + b", checker=LinearVjp(),
        hint="Each adjoint has the shape of its variable. z = x W + b is a matrix product "
             "plus a bias broadcast over the rows of the batch: the reverse rule of a "
             "product multiplies dz with the OTHER operand, transposed, and the reverse "
             "rule of a broadcast sums over the axis it copied along.",
        more_hints=(
            "First step, from the shapes: x is (N, n_in), W is (n_in, n_out), dz is (N, "
            "n_out). dx must come out (N, n_in), so it is dz times the transpose of W, "
            "(n_out, n_in). Find dW (shape (n_in, n_out)) the same way; a product that "
            "comes out (n_out, n_in) is its transpose.",
            "Outline: dx from dz and W transposed; dW from x transposed and dz, in the "
            "order that gives (n_in, n_out); db as the SUM of dz over the batch axis 0, "
            "shape (n_out,), not the mean (a mean loss already put 1/N into dz); return "
            "the three in the order (dx, dW, db).",
        ),
        mistakes=(
            Mistake("transposed-weight-gradient", _transposed_dw, _transposed_dw_says),
            Mistake("bias-gradient-not-summed", _db_per_row, _db_per_row_says),
            Mistake("bias-gradient-averaged", _db_mean, _db_mean_says),
        ),
    ),
    Exercise(
        id="07.activation_vjps", notebook="07_backprop_mlp", points=2, name="activation_vjp",
        title="The reverse rules of tanh and the sigmoid, from their outputs",
        checker=ActivationVjps(),
        hint="The chain rule through an elementwise activation: dz is dh times the "
             "activation's derivative at z, entry by entry. You are given h, the "
             "activation's OUTPUT, not z, and both derivatives can be written from the "
             "output alone.",
        more_hints=(
            "Key step: differentiate each definition, then look for the activation "
            "itself in the result. For the sigmoid, sigmoid'(z) = e^-z / (1 + e^-z)**2, "
            "and e^-z / (1 + e^-z) is 1 - sigmoid(z). For tanh = sinh / cosh, the quotient "
            "rule and cosh**2 - sinh**2 = 1 leave 1 / cosh**2; write that with tanh. Do "
            "not apply tanh or the sigmoid to h again: h already is tanh(z) or sigmoid(z).",
            "Outline: look at kind; compute the local derivative from h alone (one "
            "expression for tanh, another for the sigmoid); multiply dh by it entry by "
            "entry and return the result, which has the shape of h. No matrix products "
            "and no sums.",
        ),
        mistakes=(
            Mistake("activation-applied-to-output", lambda c: _activation(c, _twice),
                    lambda c: _activation_says(
                        c, _twice, lambda kind: f"the h you get is already {kind}(z), but "
                        f"you applied "
                        f"{kind} to it again (the derivative's formula in z, taken at h)")),
            Mistake("incoming-adjoint-dropped", lambda c: _activation(c, _undriven),
                    lambda c: _activation_says(
                        c, _undriven, lambda kind: "you returned the local derivative "
                        "alone; the chain rule multiplies it by the incoming adjoint dh")),
            Mistake("activation-rules-swapped", lambda c: _activation(c, _exchanged),
                    lambda c: _activation_says(
                        c, _exchanged, lambda kind: "the rules are swapped: tanh' is "
                        "1 - h**2 and the sigmoid's is h (1 - h)")),
        ),
    ),
    Exercise(
        id="07.sgd_step", notebook="07_backprop_mlp", points=1, name="sgd_step",
        title="One step of gradient descent", checker=SgdStep(),
        hint="The gradient points uphill, where the loss grows fastest. Gradient descent "
             "moves each parameter the other way, by a small step whose size the "
             "learning rate sets.",
        more_hints=(
            "Key step: params[i] goes with grads[i], its own gradient of the same shape, "
            "so NumPy can work entry by entry. Each parameter's step is proportional both "
            "to its gradient and to lr, and it goes against the gradient. Try the sign on "
            "one number first: p = 1, g = 2, lr = 0.1; the loss rises with p, so p must "
            "come out smaller than 1.",
            "Outline: walk through the two lists in step, one (parameter, gradient) pair "
            "at a time (zip); for each pair compute the parameter after its step as a new "
            "array; collect these in a new list, in the order of params, and return it. "
            "The lists you were given stay as they were.",
        ),
        mistakes=(
            Mistake("gradient-ascent", lambda c: _sgd(c, _ascent),
                    lambda c: _sgd_says(c, _ascent, "you moved UP the gradient (p + lr * "
                                        "g), which makes the loss grow")),
            Mistake("learning-rate-forgotten", lambda c: _sgd(c, _no_rate),
                    lambda c: _sgd_says(c, _no_rate, "the step is lr * g, but you subtracted "
                                        "the whole gradient")),
            Mistake("step-returned", lambda c: _sgd(c, _only_step),
                    lambda c: _sgd_says(c, _only_step, "you returned the step lr * g instead "
                                        "of the parameter after the step: the step is how "
                                        "far the parameter moves, not where it ends up")),
        ),
    ),
)
