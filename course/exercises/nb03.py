"""Exercises of notebook 03, forward mode: tangents and seeds."""

from __future__ import annotations

import copy

import numpy as np

import adlab as ad
from course.checkers import SHAPES, Checker, number, unpack
from course.exercise import Exercise


class SinTangent(Checker):
    r"""``sin_jvp(x, x_dot) -> (y, y_dot)`` with :math:`\dot y = \cos(x)\,\dot x`."""

    fixed = ({"x": 2.0, "x_dot": 1.0}, {"x": 0.5, "x_dot": -2.0})

    def random_case(self, rng, k):
        shape = SHAPES[k % len(SHAPES)]
        return {"x": number(rng, -3, 3, shape), "x_dot": number(rng, -2, 2, shape)}

    def call(self, fn, case, fname):
        c = copy.deepcopy(case)
        return unpack(fn(c["x"], c["x_dot"]), ("y", "y_dot"), fname)

    def expected(self, case):
        y, y_dot = ad.jvp(ad.sin, (case["x"],), (case["x_dot"],))
        return {"y": np.asarray(y, float), "y_dot": np.asarray(y_dot, float)}


EXERCISES = (
    Exercise(
        id="03.sin_tangent", notebook="03_forward_mode", points=2, name="sin_jvp",
        title="The forward rule of sin", checker=SinTangent(),
        hint="Forward mode carries a tangent with every value: y = sin(x) and "
             "y_dot = cos(x) * x_dot. The input tangent x_dot (the seed) multiplies the "
             "local derivative cos(x). Use np.sin and np.cos so that arrays work too.",
    ),
)
