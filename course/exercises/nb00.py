"""Exercises of notebook 00, the chain rule and compositions."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

import adlab as ad
from course.checkers import SHAPES, Checker, WrongOutput, number, unpack
from course.exercise import Exercise
from course.result import fmt, safe_repr


def chain(x: Any) -> Any:
    """The composition of exercise 00.chain_derivative: y = sin(log(1 + x^2))."""
    return ad.sin(ad.log(1.0 + x * x))


def elementwise_derivative(f: Any, x: Any) -> np.ndarray:
    """f'(x) for an elementwise f: forward mode with the seed 1 on every entry."""
    _, tangent = ad.jvp(f, (x,), (np.ones_like(np.asarray(x, float)),))
    return np.asarray(tangent, float)


class ChainDerivative(Checker):
    r"""``chain_derivative(x) -> dy/dx`` for :math:`y = \sin(\log(1 + x^2))`."""

    fixed = ({"x": 1.5}, {"x": -0.7})

    def random_case(self, rng, k):
        return {"x": number(rng, -3, 3, SHAPES[k % len(SHAPES)])}

    def call(self, fn, case, fname):
        return {"dy_dx": fn(copy.deepcopy(case["x"]))}

    def expected(self, case):
        return {"dy_dx": elementwise_derivative(chain, case["x"])}


def scaling_chain(local: list) -> Any:
    """w_i = d_i * w_{i-1}: the simplest chain whose local derivatives are ``local``."""
    def f(x):
        w = x
        for d in local:
            w = w * d
        return w
    return f


class ChainProduct(Checker):
    r"""``accumulate(local) -> (tangents, adjoints)`` along a chain of scalar steps.

    ``local[i-1]`` is :math:`dw_i/dw_{i-1}`; ``tangents[i]`` is :math:`dw_i/dw_0` (forward
    accumulation, seed ``tangents[0] = 1``) and ``adjoints[i]`` is :math:`dw_k/dw_i`
    (reverse accumulation, seed ``adjoints[k] = 1``).
    """

    fixed = (
        # y = exp(sin(x^2)) at x = 1.5, the chain of the notebook: h' = 2x, g' = cos, f' = exp
        {"local": [3.0, float(np.cos(2.25)), float(np.exp(np.sin(2.25)))]},
        {"local": [2.0, -0.5, 4.0, 0.25]},
    )

    def random_case(self, rng, k):
        return {"local": [number(rng, -2, 2) for _ in range(1 + k % 6)]}

    def call(self, fn, case, fname):
        out = unpack(fn(list(case["local"])), ("tangents", "adjoints"), fname)
        return {name: _as_list(value, name) for name, value in out.items()}

    def expected(self, case):
        t = ad.trace(scaling_chain(case["local"]), 1.0)
        tangents, adjoints = t.forward(1.0), t.reverse(1.0)
        names = [node.name for node in t.nodes]  # v0 = w0, v1 = w1, ...
        return {"tangents": np.array([tangents[n] for n in names], float),
                "adjoints": np.array([adjoints[n] for n in names], float)}

    def describe(self, case, fname):
        return f"{fname}(local={fmt(case['local'])})"


def _as_list(value: Any, what: str, item: str = "number") -> list:
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise WrongOutput(f"{what} should be a list with one {item} per w_i", safe_repr(value))
    return list(value)


def sin_product(x1: Any, x2: Any) -> Any:
    """The worked example z = x1 * x2 + sin(x1)."""
    return x1 * x2 + ad.sin(x1)


class SinProductPartials(Checker):
    r"""``sin_product_partials(x1, x2) -> (dz/dx1, dz/dx2)`` for :math:`z = x_1x_2 + \sin x_1`."""

    fixed = ({"x1": 2.0, "x2": 3.0}, {"x1": -1.0, "x2": 0.5})

    def random_case(self, rng, k):
        shape = SHAPES[k % len(SHAPES)]
        return {"x1": number(rng, -3, 3, shape), "x2": number(rng, -3, 3, shape)}

    def call(self, fn, case, fname):
        c = copy.deepcopy(case)
        return unpack(fn(c["x1"], c["x2"]), ("dz_dx1", "dz_dx2"), fname)

    def expected(self, case):
        z, pullback = ad.vjp(sin_product, case["x1"], case["x2"])
        dz_dx1, dz_dx2 = pullback(np.ones_like(z))  # elementwise: seed 1 on every entry
        return {"dz_dx1": np.asarray(dz_dx1, float), "dz_dx2": np.asarray(dz_dx2, float)}


def linear_chain(jacobians: list) -> Any:
    """x -> J_k (... (J_1 x)): a chain whose local Jacobians are the given matrices."""
    def f(x):
        for J in jacobians:
            x = ad.matmul(J, x)
        return x
    return f


class JacobianChain(Checker):
    r"""``accumulate_jacobians(jacobians) -> (forward, reverse)`` for a chain of matrices.

    ``forward[i]`` is :math:`J_i \cdots J_1` (the Jacobian of :math:`w_i` with respect to
    the input, ``forward[0]`` the identity); ``reverse[i]`` is :math:`J_k \cdots J_{i+1}`
    (the Jacobian of the output with respect to :math:`w_i`, ``reverse[k]`` the identity).
    """

    fixed = (
        {"jacobians": [np.array([[1.0, 2.0], [0.5, -1.0]]), np.array([[0.0, 1.0], [3.0, 1.0]]),
                       np.array([[2.0, -1.0], [1.0, 1.0]])]},
        {"jacobians": [np.array([[1.0, 0.0, 2.0], [-1.0, 1.0, 0.5]]),   # R^3 -> R^2
                       np.array([[0.5, 1.0], [2.0, -1.0]]),             # R^2 -> R^2
                       np.array([[1.0, 3.0]])]},                        # R^2 -> R
    )

    def random_case(self, rng, k):
        dims = [int(d) for d in rng.integers(1, 5, size=2 + k % 4)]
        if k % 2 == 0:  # square chains too: there a product in the wrong order has no
            dims = [dims[0]] * len(dims)  # shape error to give it away, only wrong numbers
        return {"jacobians": [number(rng, -2, 2, (dims[i + 1], dims[i]))
                              for i in range(len(dims) - 1)]}

    def call(self, fn, case, fname):
        jacobians = copy.deepcopy(case["jacobians"])
        k = len(jacobians)
        out = {}
        for what, got in unpack(fn(jacobians), ("forward", "reverse"), fname).items():
            got = _as_list(got, what, "matrix")
            if len(got) != k + 1:
                raise WrongOutput(f"{what} should hold k + 1 = {k + 1} matrices (one per w_i, "
                                  f"w_0 to w_{k}), not {len(got)}", f"{len(got)} items")
            out.update({f"{what}[{i}]": m for i, m in enumerate(got)})
        return out

    def expected(self, case):
        js = case["jacobians"]
        k, n0 = len(js), js[0].shape[1]
        out = {}
        for i in range(k + 1):
            out[f"forward[{i}]"] = np.asarray(ad.jacfwd(linear_chain(js[:i]))(np.zeros(n0)))
        for i in range(k + 1):
            n_i = js[i].shape[1] if i < k else js[-1].shape[0]
            out[f"reverse[{i}]"] = np.asarray(ad.jacrev(linear_chain(js[i:]))(np.zeros(n_i)))
        return {name: m.astype(float) for name, m in out.items()}

    def describe(self, case, fname):
        shapes = ", ".join("x".join(map(str, J.shape)) for J in case["jacobians"])
        mats = "; ".join(f"J{i + 1} = {' '.join(fmt(J).split())}"  # one line per matrix
                         for i, J in enumerate(case["jacobians"]))
        return f"{fname}([J1, ..., J{len(case['jacobians'])}]) with shapes {shapes}: {mats}"


EXERCISES = (
    Exercise(
        id="00.chain_derivative", notebook="00_chain_rule", points=2, name="chain_derivative",
        title="The derivative of a composition", checker=ChainDerivative(),
        hint="Name the intermediate steps: the inner 1 + x^2, then the log, then the "
             "sine. Each step's local derivative is evaluated at that step's own input"
             " (the cosine takes the log's output, not x), and dy/dx is the product of"
             " the three. NumPy's functions keep it elementwise, so arrays work too.",
    ),
    Exercise(
        id="00.chain_product", notebook="00_chain_rule", points=2, name="accumulate",
        title="Forward and reverse accumulation along a chain", checker=ChainProduct(),
        hint="With k local derivatives each list has k + 1 entries. Forward "
             "accumulation starts from the seed dw0/dw0 = 1 and multiplies in the "
             "local derivatives from the first to the last; reverse accumulation "
             "starts from dwk/dwk = 1 at the other end and multiplies them in from the"
             " last to the first, so that adjoints[i] is dwk/dwi. Both meet in one "
             "number: the first adjoint equals the last tangent, dy/dx.",
    ),
    Exercise(
        id="00.partials_sin_product", notebook="00_chain_rule", points=2,
        name="sin_product_partials", title="Both partials of z = x1 * x2 + sin(x1)",
        checker=SinProductPartials(),
        hint="x1 reaches z along two paths: through the product w3 = x1 * x2 and through "
             "the sine w4 = sin(x1). The chain rule adds one term per path, each the product "
             "of the local derivatives along it (the last step, a sum, has local derivatives "
             "1). x2 reaches z only through the product. Use np.cos so that arrays work, and "
             "give dz/dx2 the shape of x2.",
    ),
    Exercise(
        id="00.jacobian_chain", notebook="00_chain_rule", points=3,
        name="accumulate_jacobians", title="A chain of Jacobian matrices, from both ends",
        checker=JacobianChain(),
        hint="Use @ for every product. Forward: T = np.eye(n0) (n0 = J1.shape[1]), then "
             "T = J @ T for J in jacobians, keeping every T. Reverse: R = np.eye(nk) "
             "(nk = Jk.shape[0]), then R = R @ J for J in reversed(jacobians), keeping "
             "every R, and reverse that list so that reverse[i] belongs to w_i. Both "
             "forward[k] and reverse[0] are the whole Jacobian J_k ... J_1.",
    ),
)
