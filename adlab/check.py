r"""Gradient checking: AD against central differences, in random directions.

For each input :math:`x_i` and a random direction :math:`v`, forward mode must give
:math:`J v` and reverse mode, for a random cotangent :math:`u`, must give a
:math:`\bar x` with :math:`\langle \bar x, v\rangle = \langle u, J v\rangle`; both are
compared with the central difference of ``f`` along :math:`v`. With ``order=2`` the
same is done for the derivative functions themselves (forward-over-forward,
forward-over-reverse, reverse-over-reverse ...).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from adlab import fmt, ops
from adlab.core import AdlabError, raw
from adlab.forward import jvp
from adlab.numeric import central_difference
from adlab.reverse import vjp
from adlab.trace import _labels
from adlab.tree import as_float


class GradientCheckError(AdlabError, AssertionError):
    """AD and central differences disagree."""


def check_grads(f: Callable, args: Sequence[Any], modes: Sequence[str] = ("fwd", "rev"),
                order: int = 2, *, rtol: float = 1e-5, atol: float = 1e-6,
                seed: int = 0) -> None:
    """Raise :class:`GradientCheckError` unless ``f``'s derivatives match central differences.

    ``args`` are numbers or arrays; ``modes`` any of ``"fwd"`` (jvp) and ``"rev"`` (vjp);
    ``order`` how many levels of derivatives to check. Directions are drawn from a
    seeded generator, so a failure repeats. The error names the input, the direction
    and the size of the disagreement.
    """
    unknown = set(modes) - {"fwd", "rev"}
    if unknown:
        raise ValueError(f"check_grads: unknown mode(s) {sorted(unknown)}; use 'fwd' and/or 'rev'")
    args = tuple(as_float(a, f"argument {i}") for i, a in enumerate(args))
    rng = np.random.default_rng(seed)
    name = getattr(f, "__name__", "f")
    _check(f, args, tuple(modes), order, rng, rtol, atol, name, _labels(f, len(args)))


def _check(f, args, modes, order, rng, rtol, atol, what, labels):
    shapes = [np.shape(raw(a)) for a in args]
    for i, shape in enumerate(shapes):
        direction = [np.zeros(s) for s in shapes]
        direction[i] = rng.standard_normal(shape)
        numeric = central_difference(f, args, direction)
        where = f"{what}, input {i} ({labels[i]}) in direction {fmt.array(direction[i])}"
        if "fwd" in modes:
            _, tangent = jvp(f, args, direction)
            _compare(tangent, numeric, rtol, atol, f"forward mode (jvp) of {where}")
        if "rev" in modes:
            out, pullback = vjp(f, *args)
            u = rng.standard_normal(np.shape(raw(out)))
            ct = pullback(u)[i]
            got = np.vdot(np.asarray(raw(ct)), direction[i])
            _compare(got, np.vdot(u, numeric), rtol, atol,
                     f"reverse mode (vjp) of {where}, <cotangent, Jv> with a random cotangent")
    if order <= 1:
        return
    v = [rng.standard_normal(s) for s in shapes]
    if "fwd" in modes:
        def f_jvp(*xs):
            return jvp(f, xs, v)[1]
        _check(f_jvp, args, modes, order - 1, rng, rtol, atol, f"the JVP of {what}", labels)
    if "rev" in modes:
        u = rng.standard_normal(np.shape(raw(f(*args))))

        def f_vjp(*xs):
            cts = vjp(f, *xs)[1](u)
            total = 0.0
            for c, w in zip(cts, v):
                total = total + ops.sum(c * w)
            return total
        _check(f_vjp, args, modes, order - 1, rng, rtol, atol, f"the VJP of {what}", labels)


def _compare(got, expected, rtol, atol, where):
    got, expected = np.asarray(raw(got), float), np.asarray(expected, float)
    if got.shape != expected.shape:
        raise GradientCheckError(f"{where}: AD gives shape {got.shape}, central differences "
                                 f"give shape {expected.shape}")
    err = np.abs(got - expected)
    bad = err > atol + rtol * np.abs(expected)
    if np.any(bad) or not np.all(np.isfinite(got) == np.isfinite(expected)):
        raise GradientCheckError(
            f"{where}: AD gives {fmt.array(got)}, central differences give "
            f"{fmt.array(expected)} (largest difference {fmt.number(np.max(err, initial=0.0), 3)}"
            f", tolerance atol={fmt.number(atol)} + rtol={fmt.number(rtol)}·|expected|). A "
            "derivative rule on this path is likely wrong."
        )
