"""Exercises of notebook 07, backpropagation in an MLP: the layers' reverse rules."""

from __future__ import annotations

import copy

import numpy as np

import adlab as ad
from adlab import nn, optim
from course.checkers import SHAPES, Checker, WrongOutput, number, unpack
from course.exercise import Exercise
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


EXERCISES = (
    Exercise(
        id="07.softmax_ce_vjp", notebook="07_backprop_mlp", points=2, name="softmax_ce_vjp",
        title="The gradient of softmax cross-entropy with respect to the logits",
        checker=SoftmaxCeVjp(),
        hint="The mean loss is L = -(1/N) sum of Y * log softmax(z), Y the one-hot rows "
             "(np.eye(C)[labels]). Its gradient is dz = (softmax(z) - Y) / N: the "
             "predicted probabilities minus the true ones, divided by the batch size N = "
             "z.shape[0]. Take the softmax along each row (axis=1, keepdims=True), and "
             "subtract the row maximum before np.exp so that it cannot overflow.",
    ),
    Exercise(
        id="07.linear_vjp", notebook="07_backprop_mlp", points=3, name="linear_vjp",
        title="The reverse rule of a linear layer z = x W + b", checker=LinearVjp(),
        hint="Let the shapes guide you: x is (N, n_in), W is (n_in, n_out), dz is (N, "
             "n_out). dx needs the shape of x and dW the shape of W: each is dz "
             "multiplied with the other operand, one of the two transposed, in the "
             "order that makes the shapes fit (the product that comes out (n_out, "
             "n_in) is the transpose of dW). b was added to every row, so its adjoint "
             "collects dz over the rows: shape (n_out,).",
    ),
    Exercise(
        id="07.activation_vjps", notebook="07_backprop_mlp", points=2, name="activation_vjp",
        title="The reverse rules of tanh and the sigmoid, from their outputs",
        checker=ActivationVjps(),
        hint="h is the activation's OUTPUT, not its input. tanh'(z) = 1 - tanh(z)**2 = "
             "1 - h**2, and sigmoid'(z) = sigmoid(z) (1 - sigmoid(z)) = h * (1 - h). "
             "Multiply elementwise by the incoming adjoint dh: dz = dh * (1 - h**2) for "
             "'tanh', dz = dh * h * (1 - h) for 'sigmoid'.",
    ),
    Exercise(
        id="07.sgd_step", notebook="07_backprop_mlp", points=1, name="sgd_step",
        title="One step of gradient descent", checker=SgdStep(),
        hint="Gradient descent moves every parameter AGAINST its gradient, by the "
             "learning rate: new_p = p - lr * g. Return a list with one new array per "
             "parameter, in the order of params: [p - lr * g for p, g in zip(params, "
             "grads)].",
    ),
)
