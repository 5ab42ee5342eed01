"""Registry entries added for NumPy coverage, and typical inputs for their reads checks.

``COVERED`` lists the primitives whose property tests live in the matching test file;
``TYPICAL[name](rng)`` gives a few ``(args, params)`` for test_primitives' check that
each VJP rule reads only what it declares.
"""

import numpy as np

COVERED: set[str] = {
    "sinh", "cosh", "arcsin", "arccos", "arctan", "arctan2", "log1p", "expm1", "log2",
    "log10", "exp2", "hypot", "logaddexp", "reciprocal", "square", "remainder", "fmod",
    "floor", "ceil", "min", "prod", "var", "std", "cumsum", "cumprod",
}


def _unary(draw):
    """Typical inputs of an elementwise function whose domain ``draw(rng, *shape)`` gives."""
    return lambda rng: [((draw(rng, 3, 4),), {}), ((draw(rng, 5),), {}),
                        ((float(draw(rng)),), {})]


def _binary(draw_x, draw_y):
    """Typical inputs of a binary elementwise function, broadcasting included."""
    return lambda rng: [((draw_x(rng, 3, 4), draw_y(rng, 3, 4)), {}),
                        ((draw_x(rng, 3, 1), draw_y(rng, 4)), {}),
                        ((float(draw_x(rng)), draw_y(rng, 2, 3)), {}),
                        ((draw_x(rng, 2, 3), float(draw_y(rng))), {})]


def _reduction(draw, extra=None):
    extra = extra or {}
    return lambda rng: [((draw(rng, 3, 4),), {"axis": None, **extra}),
                        ((draw(rng, 3, 4),), {"axis": 1, **extra}),
                        ((draw(rng, 2, 3, 4),), {"axis": (0, -1), "keepdims": True, **extra}),
                        ((draw(rng, 5),), {"axis": 0, **extra})]


def _cumulative(draw):
    return lambda rng: [((draw(rng, 3, 4),), {"axis": None}), ((draw(rng, 3, 4),), {"axis": 1}),
                        ((draw(rng, 2, 3, 4),), {"axis": -3}), ((draw(rng, 6),), {"axis": 0})]


def _u(rng, *shape):
    return rng.uniform(-2, 2, shape)


def _pos(rng, *shape):
    return rng.uniform(0.5, 2, shape)


def _inside(rng, *shape):  # |x| < 1: arcsin, arccos
    return rng.uniform(-0.9, 0.9, shape)


def _away_from_zero(rng, *shape):  # a denominator, either sign
    return rng.uniform(0.5, 2, shape) * rng.choice([-1.0, 1.0], shape)


def _with_zeros(rng, *shape):  # products: a few exact zeros among the entries
    x = rng.uniform(-2, 2, shape)
    return np.where(rng.uniform(size=shape) < 0.25, 0.0, x)


def _distinct(rng, *shape):  # no ties (min) and a nonzero spread (std)
    n = int(np.prod(shape))
    return (0.1 * rng.permutation(np.arange(-n, n))[:n] + 0.05).reshape(shape)


TYPICAL: dict = {
    **{name: _unary(_u) for name in ("sinh", "cosh", "arctan", "expm1", "exp2", "square",
                                     "floor", "ceil")},
    "arcsin": _unary(_inside), "arccos": _unary(_inside),
    "log1p": _unary(lambda rng, *s: rng.uniform(-0.5, 2, s)),
    "log2": _unary(_pos), "log10": _unary(_pos), "reciprocal": _unary(_away_from_zero),
    "arctan2": _binary(_u, _away_from_zero), "hypot": _binary(_u, _away_from_zero),
    "logaddexp": _binary(_u, _u),
    "remainder": _binary(_u, _away_from_zero), "fmod": _binary(_u, _away_from_zero),
    "min": _reduction(_distinct), "prod": _reduction(_with_zeros),
    "var": _reduction(_u, {"ddof": 1}), "std": _reduction(_distinct, {"ddof": 0}),
    "cumsum": _cumulative(_u), "cumprod": _cumulative(_with_zeros),
}
