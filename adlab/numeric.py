r"""Numerical differentiation: finite differences, the complex step, and their errors.

A finite difference needs only evaluations of ``f``:

.. math::

    \text{forward}\quad  \frac{f(x + h) - f(x)}{h}      &= f'(x) + \tfrac{h}{2} f''(x) + O(h^2)\\
    \text{backward}\quad \frac{f(x) - f(x - h)}{h}      &= f'(x) - \tfrac{h}{2} f''(x) + O(h^2)\\
    \text{central}\quad  \frac{f(x + h) - f(x - h)}{2h} &= f'(x) + \tfrac{h^2}{6} f'''(x)
        + O(h^4)\\
    \text{complex step}\quad \frac{\operatorname{Im} f(x + ih)}{h} &= f'(x)
        - \tfrac{h^2}{6} f'''(x) + O(h^4)

The first three trade two errors. **Truncation** (the Taylor terms above) shrinks with
:math:`h`; **round-off** grows as :math:`\varepsilon |f| / h`, because each computed
value of :math:`f` is rounded, off by up to :math:`\tfrac{\varepsilon}{2} |f|` (machine
epsilon :math:`\varepsilon \approx 2.2\cdot10^{-16}`), and the difference of two of them
is divided by :math:`h`. The sum is smallest near
:math:`h \approx \sqrt\varepsilon \approx 1.5\cdot10^{-8}` (forward, backward: about half
the digits are right) and
:math:`h \approx \sqrt[3]\varepsilon \approx 6\cdot10^{-6}` (central: about two thirds).
:func:`step_error`, :func:`best_step` and :func:`plot_step_error` measure it.
The complex step subtracts nothing, so it has no round-off term: any :math:`h` below
about :math:`10^{-8}` gives the derivative to working precision, but ``f`` must accept
complex numbers. A gradient of ``f: R^n -> R`` costs ``n + 1`` (forward) or ``2n``
(central) evaluations of ``f``, against one forward and one reverse sweep for AD.

That is why adlab checks its exact derivatives against central differences with a
tolerance, never with equality (:mod:`adlab.check`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from adlab import fmt
from adlab.core import method as switchable
from adlab.core import raw
from adlab.transforms import grad

__all__ = ["EPS", "FORWARD_STEP", "CENTRAL_STEP", "COMPLEX_STEP", "METHODS",
           "forward_difference", "backward_difference", "central_difference",
           "complex_step", "derivative", "gradient", "jacobian", "step_error",
           "BestStep", "best_step", "plot_step_error"]

#: Machine epsilon of float64: the gap between 1 and the next float, 2**-52.
EPS = float(np.finfo(float).eps)
#: Step for forward and backward differences: about sqrt(machine epsilon), 1.5e-8.
FORWARD_STEP = float(np.sqrt(EPS))
#: Step for central differences of float64 functions: about cbrt(machine epsilon), 6e-6.
CENTRAL_STEP = float(np.finfo(float).eps ** (1 / 3))
#: Step for the complex-step method: tiny, since nothing is subtracted.
COMPLEX_STEP = 1e-20
METHODS = ("forward", "backward", "central", "complex")


def _point(x: Any) -> Any:
    x = raw(x)
    return np.asarray(x, float) if np.ndim(x) else float(x)


def _value(y: Any) -> Any:
    y = raw(y)
    return np.asarray(y, float) if np.ndim(y) else float(y)


@switchable("numeric.forward_difference")
def forward_difference(f: Callable, x: Any, h: float | None = None) -> Any:
    r""":math:`(f(x + h) - f(x))/h`, error :math:`\approx \frac h2 |f''| + \varepsilon|f|/h`.

    ``x`` may be an array when ``f`` acts elementwise (``np.sin`` on a grid).

    >>> round(forward_difference(np.sin, 1.0), 7)   # cos(1) = 0.5403023...
    0.5403023
    """
    h = FORWARD_STEP if h is None else h
    x = _point(x)
    return (_value(f(x + h)) - _value(f(x))) / h


@switchable("numeric.backward_difference")
def backward_difference(f: Callable, x: Any, h: float | None = None) -> Any:
    r""":math:`(f(x) - f(x - h))/h`: the forward difference with the step mirrored."""
    h = FORWARD_STEP if h is None else h
    x = _point(x)
    return (_value(f(x)) - _value(f(x - h))) / h


@switchable("numeric.central_difference")
def central_difference(f: Callable, args: Any, direction: Sequence[Any] | None = None,
                       h: float | None = CENTRAL_STEP) -> Any:
    r"""The central difference :math:`(f(x + h) - f(x - h)) / 2h`, in two forms.

    * ``central_difference(f, x)``: the derivative of a one-argument ``f`` at ``x``;
      error :math:`\approx \frac{h^2}{6} |f'''| + \varepsilon |f| / 2h`.
    * ``central_difference(f, args, direction)``: the directional derivative of
      ``f(*args)`` along ``direction`` (one entry per argument, a list or tuple),
      :math:`(f(\mathrm{args} + h v) - f(\mathrm{args} - h v)) / 2h \approx J v`.

    >>> round(central_difference(np.sin, 1.0), 10)
    0.5403023059
    >>> round(float(central_difference(lambda a, b: a * b, [2.0, 3.0], [1.0, 0.0])), 8)
    3.0
    """
    h = CENTRAL_STEP if h is None else h
    if direction is None:
        x = _point(args)
        return (_value(f(x + h)) - _value(f(x - h))) / (2 * h)
    if not isinstance(args, (list, tuple)):
        raise TypeError(
            "central_difference(f, args, direction): with a direction, args is the list of "
            f"f's arguments, not a {type(args).__name__}. For the derivative of f at x "
            "write central_difference(f, x) or central_difference(f, x, h=1e-4).")
    plus = [np.asarray(raw(a), float) + h * np.asarray(d, float) for a, d in zip(args, direction)]
    minus = [np.asarray(raw(a), float) - h * np.asarray(d, float) for a, d in zip(args, direction)]
    hi, lo = raw(f(*plus)), raw(f(*minus))
    return (np.asarray(hi, float) - np.asarray(lo, float)) / (2 * h)


def complex_step(f: Callable, x: Any, h: float | None = None) -> Any:
    r""":math:`\operatorname{Im} f(x + ih) / h`: no subtraction, so no cancellation.

    By Taylor, :math:`f(x + ih) = f(x) + ih f'(x) - \frac{h^2}{2} f''(x) - i
    \frac{h^3}{6} f'''(x) + \dots`, whose imaginary part over :math:`h` is :math:`f'(x)`
    up to :math:`h^2`. With :math:`h = 10^{-20}` that is exact to working precision.
    ``f`` must be written with operations that accept complex numbers (``np.sin``,
    ``*``, ``**``; not ``math.sin``, ``abs`` or comparisons).

    >>> complex_step(np.sin, 1.0), float(np.cos(1.0))   # equal to the last bit
    (0.5403023058681398, 0.5403023058681398)
    """
    h = COMPLEX_STEP if h is None else h
    z = _point(x) + 1j * h
    try:
        y = raw(f(z))
    except TypeError as e:
        raise TypeError(
            f"complex_step: f failed on the complex input {z!r} ({e}). The complex-step "
            "method needs f written with NumPy functions that accept complex numbers "
            "(np.sin, np.exp, *, **), not math.sin or float().") from e
    if not np.iscomplexobj(y):
        raise ValueError(
            "complex_step: f returned a real value for a complex input, so the imaginary "
            "part that carries the derivative was lost (np.abs, np.real, float(), a "
            "comparison?). Use another method for this f.")
    return _value(np.imag(y) / h)


_DIFFERENCES = {"forward": forward_difference, "backward": backward_difference,
                "central": central_difference, "complex": complex_step}


def _method(method: str) -> Callable:
    if method not in _DIFFERENCES:
        raise ValueError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    return _DIFFERENCES[method]


def derivative(f: Callable, x: Any, method: str = "central", h: float | None = None) -> Any:
    """The derivative of ``f: R -> R`` (or of an elementwise ``f``) at ``x``.

    ``method`` is ``"forward"``, ``"backward"``, ``"central"`` or ``"complex"``; ``h``
    defaults to that method's step (:data:`FORWARD_STEP`, :data:`CENTRAL_STEP`,
    :data:`COMPLEX_STEP`). The steps are absolute: they suit ``x`` of order 1.
    """
    return _method(method)(f, x, h=h)


def jacobian(f: Callable, x: Any, method: str = "central", h: float | None = None) -> Any:
    r"""The Jacobian of ``f`` at ``x`` by differences, one column per input entry.

    Column :math:`j` is the derivative of :math:`t \mapsto f(x + t e_j)` at 0, so the
    result has shape ``f(x).shape + x.shape`` (``(m, n)`` for ``f: R^n -> R^m``), like
    ``ad.jacfwd``. It evaluates ``f`` twice per input entry (the one-sided differences
    recompute ``f(x)`` for each column, where ``n + 1`` evaluations would do):
    numerical differentiation pays per input, like forward mode.
    """
    rule = _method(method)
    x = np.asarray(_point(x), float)
    columns = []
    for index in np.ndindex(x.shape):
        e = np.zeros(x.shape)
        e[index] = 1.0
        columns.append(np.asarray(rule(lambda t, e=e: f(x + t * e), 0.0, h=h)))
    if not columns:
        return np.zeros(np.shape(raw(f(x))) + x.shape)
    return np.stack(columns, axis=-1).reshape(columns[0].shape + x.shape)


@switchable("numeric.gradient")
def gradient(f: Callable, x: Any, method: str = "central", h: float | None = None) -> Any:
    r"""The gradient :math:`\nabla f(x)` of ``f: R^n -> R``, shaped like ``x``."""
    g = jacobian(f, x, method, h)
    if np.ndim(g) != np.ndim(x):
        raise ValueError(
            f"gradient: f returned an array of shape {np.shape(g)[:np.ndim(g) - np.ndim(x)]}"
            ", but a gradient needs one number; use jacobian(f, x) for f: R^n -> R^m.")
    return g


# ---------------------------------------------------------------------------------
# The error as a function of the step
# ---------------------------------------------------------------------------------

def _exact(f: Callable, x: float, order: int) -> float:
    """The ``order``-th derivative of ``f`` at ``x`` by adlab's reverse mode (nested)."""
    d = f
    for _ in range(order):
        d = grad(d)
    try:
        return float(raw(d(x)))
    except Exception as e:
        raise ValueError(
            f"could not differentiate f {order} time(s) with adlab ({type(e).__name__}: {e}). "
            "Write f with NumPy or adlab operations, or pass the derivatives yourself "
            "(df=..., f2=..., f3=...).") from e


def step_error(f: Callable, df: Callable | float | None, x: float, method: str = "forward",
               steps: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, errors)``: :math:`|D_h f(x) - f'(x)|` for every step ``h``.

    ``df`` is the exact derivative, a function or a number; ``None`` takes it from
    adlab's AD (exact to working precision). Default steps: 161 from 1e-16 to 1, ten
    per decade. An error exactly 0 (a lucky cancellation) stays 0.
    """
    steps = np.logspace(-16, 0, 161) if steps is None else np.asarray(steps, float)
    exact = _exact(f, x, 1) if df is None else float(df(x) if callable(df) else df)
    rule = _method(method)
    with np.errstate(all="ignore"):
        errors = np.array([abs(float(rule(f, x, h=h)) - exact) for h in steps])
    return steps, errors


@dataclass(frozen=True)
class BestStep:
    """The best step found by measurement, next to the error model's optimum."""

    method: str
    step: float      # the measured step with the least error (of the smoothed curve)
    error: float     # the error measured at that step
    theory: float    # argmin of the error model, with this function's |f|, |f''|, |f'''|
    simple: float    # the rule of thumb: sqrt(eps) (forward, backward), cbrt(eps) (central)
    theory_error: float  # the model's error at its optimum

    @property
    def ratio(self) -> float:
        """step / theory: 1 when measurement and model agree."""
        return self.step / self.theory


def best_step(f: Callable, df: Callable | float | None, x: float, method: str = "forward",
              steps: Sequence[float] | None = None, f2: float | None = None,
              f3: float | None = None) -> BestStep:
    r"""The step with the least error, and the error model's optimum to compare with.

    Error models (round-off: each value of ``f`` is rounded, off by up to
    :math:`\tfrac\varepsilon2|f|`; truncation: the first Taylor term left out):

    * forward, backward: :math:`e(h) \approx \frac{|f''|}{2} h + \frac{\varepsilon|f|}{h}`,
      smallest at :math:`h^* = \sqrt{2\varepsilon |f| / |f''|}`;
    * central: :math:`e(h) \approx \frac{|f'''|}{6} h^2 + \frac{\varepsilon |f|}{2h}`,
      smallest at :math:`h^* = (3\varepsilon |f| / 2|f'''|)^{1/3}`.

    For a well-scaled function (:math:`|f| \approx |f''| \approx |f'''|`) these are
    :math:`\approx 1.4\sqrt\varepsilon` and :math:`\approx 1.1\sqrt[3]\varepsilon`; ``simple``
    holds the bare :math:`\sqrt\varepsilon`, :math:`\sqrt[3]\varepsilon`. ``f2`` and
    ``f3`` (:math:`f''(x)`, :math:`f'''(x)`) default to adlab's AD.

    Round-off makes the measured curve jagged near its minimum, so the step reported
    is the minimum of the curve's running maximum over half a decade (the upper
    envelope, which is what the model describes), not of a lucky single point.
    """
    if method == "complex":
        raise ValueError(
            "best_step: the complex step has no best step. Nothing is subtracted, so "
            "there is no round-off term: every h below about 1e-8 gives full precision "
            "(use COMPLEX_STEP). plot_step_error shows it.")
    _method(method)
    steps, errors = step_error(f, df, x, method, steps)
    fx = abs(float(raw(f(x))))
    if method == "central":
        m = abs(_exact(f, x, 3) if f3 is None else f3)
        theory = (1.5 * EPS * fx / m) ** (1 / 3) if m else np.inf
        model = m * theory ** 2 / 6 + EPS * fx / (2 * theory)
        simple = CENTRAL_STEP
    else:
        m = abs(_exact(f, x, 2) if f2 is None else f2)
        theory = np.sqrt(2 * EPS * fx / m) if m else np.inf
        model = m * theory / 2 + EPS * fx / theory
        simple = FORWARD_STEP
    window = max(1, int(round(0.25 * _per_decade(steps))))  # +- a quarter decade
    padded = np.pad(np.nan_to_num(errors, nan=np.inf), window, mode="edge")
    envelope = np.array([padded[i:i + 2 * window + 1].max() for i in range(len(errors))])
    i = int(np.argmin(envelope))
    return BestStep(method, float(steps[i]), float(errors[i]), float(theory), simple,
                    float(model))


def _per_decade(steps: np.ndarray) -> float:
    if len(steps) < 2:
        return 1.0
    decades = abs(np.log10(steps[-1] / steps[0]))
    return (len(steps) - 1) / decades if decades else 1.0


def plot_step_error(f: Callable, df: Callable | float | None, x: float,
                    methods: Sequence[str] = ("forward", "central", "complex"),
                    steps: Sequence[float] | None = None, title: str | None = None):
    r"""A matplotlib Figure: the error of each method against the step, log-log.

    Each curve comes with its error model as thin lines of its colour: truncation
    (slope 1 for forward/backward, :math:`\frac{|f''|}{2}h`; slope 2 for central and the
    complex step, :math:`\frac{|f'''|}{6}h^2`) and round-off (slope -1,
    :math:`\varepsilon|f|/h`, half that for central). Circles mark the best steps
    measured, triangles the model's optima. Errors exactly 0 cannot be drawn on a log
    scale and are left out.
    """
    from matplotlib.figure import Figure

    steps = np.logspace(-16, 0, 161) if steps is None else np.asarray(steps, float)
    exact = _exact(f, x, 1) if df is None else float(df(x) if callable(df) else df)
    fx = abs(float(raw(f(x))))
    fig = Figure(figsize=(10, 4.8), layout="constrained")
    ax = fig.subplots()
    colors = {"forward": "#1c64b4", "backward": "#6a3d9a", "central": "#c0392b",
              "complex": "#2e7d32"}
    for method in methods:
        hs, errors = step_error(f, exact, x, method, steps)
        color = colors.get(method)
        shown = np.where(errors > 0, errors, np.nan)
        exact_points = " (gaps: error exactly 0)" if np.any(errors == 0) else ""
        ax.loglog(hs, shown, ".-", color=color, lw=1, ms=3, label=method + exact_points)
        if method in ("forward", "backward"):
            trunc = abs(_exact(f, x, 2)) * hs / 2
            ax.loglog(hs, trunc, ":", color=color, lw=1)
            ax.loglog(hs, EPS * fx / hs, "--", color=color, lw=0.8)
        else:
            trunc = abs(_exact(f, x, 3)) * hs ** 2 / 6
            ax.loglog(hs, trunc, ":", color=color, lw=1)
            if method == "central":
                ax.loglog(hs, EPS * fx / (2 * hs), "--", color=color, lw=0.8)
        if method != "complex":
            best = best_step(f, exact, x, method, steps)
            ax.loglog([best.step], [best.error], "o", color=color, ms=8, mfc="none", mew=2,
                      label=f"{method}: best h = {fmt.number(best.step, 2)} "
                            f"(model {fmt.number(best.theory, 2)})")
            ax.loglog([best.theory], [best.theory_error], "v", color=color, ms=8)
    floor = EPS * max(abs(exact), 1e-300)
    ax.axhline(floor, color="#9a9a9a", lw=0.8)
    ax.text(hs[-1], floor * 1.5, "machine precision ε|f'|", color="#6a6a6a", fontsize=8,
            ha="right")
    ax.plot([], [], "k:", lw=1, label="truncation model (slope 1 or 2)")
    ax.plot([], [], "k--", lw=0.8, label="round-off model ~ε|f|/h (slope -1)")
    ax.set_ylim(max(floor / 1e4, 1e-22), None)
    ax.set_xlabel("step h")
    ax.set_ylabel("absolute error |D_h f(x) - f'(x)|")
    name = getattr(f, "__name__", "f").replace("<lambda>", "f")
    ax.set_title(title or f"Finite-difference error of {name}'(x) at x = {fmt.number(x)}")
    ax.grid(True, which="major", alpha=0.3)
    fig.legend(fontsize=8, loc="outside right upper")
    return fig
