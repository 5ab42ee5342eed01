r"""Numerical differentiation by finite differences, for checking AD.

The central difference

.. math:: D_h f(x)[v] = \frac{f(x + h v) - f(x - h v)}{2h} = J v + O(h^2)

needs only evaluations of ``f``. Its error is a trade: truncation error shrinks like
:math:`h^2`, round-off error grows like :math:`\varepsilon / h`, so the best step is near
:math:`\varepsilon^{1/3} \approx 6\cdot10^{-6}` and even there only about two thirds of
the digits are right. That is why adlab checks its exact derivatives against central
differences with a tolerance, never with equality.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from adlab.core import raw

#: Step for central differences of float64 functions: about cbrt(machine epsilon).
CENTRAL_STEP = float(np.finfo(float).eps ** (1 / 3))


def central_difference(f: Callable, args: Sequence[Any], direction: Sequence[Any],
                       h: float = CENTRAL_STEP) -> Any:
    """Directional derivative of ``f`` at ``args`` along ``direction`` (one entry per arg)."""
    plus = [np.asarray(raw(a), float) + h * np.asarray(d, float) for a, d in zip(args, direction)]
    minus = [np.asarray(raw(a), float) - h * np.asarray(d, float) for a, d in zip(args, direction)]
    hi, lo = raw(f(*plus)), raw(f(*minus))
    return (np.asarray(hi, float) - np.asarray(lo, float)) / (2 * h)
