r"""The registry: every primitive adlab can differentiate, with its rules side by side.

Read each entry as a line of a table of derivatives. For :math:`y = \sin x`:

* evaluation: ``np.sin(x)``
* JVP (forward): :math:`\dot y = \cos(x)\,\dot x` → ``lambda t, ans, x: t * cos(x)``
* VJP (reverse): :math:`\bar x \mathrel{+}= \bar y \cos(x)` → ``lambda g, ans, x: g * cos(x)``
* reads: the VJP needs the value of ``x``, so reverse mode must store it.

``t`` is an argument's tangent, ``g`` the output's adjoint (cotangent), ``ans`` the
output's value. Rules use adlab's operations (``cos`` here is :data:`cos` below), so
derivatives of derivatives come for free. Broadcasting is undone by the engine.

Domain errors follow NumPy: ``log(-1.0)`` is ``nan`` with a ``RuntimeWarning``, and its
derivative is whatever the rule gives at that point. Nothing raises.
"""

from __future__ import annotations

import builtins
import inspect
import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from adlab import core as _core
from adlab.core import AdlabError, Box, ShapeError, raw

__all__ = [  # the operations adlab exports (ad.sin, ad.einsum, ...), and the registry
    "REGISTRY", "Primitive", "defprim", "elementwise", "rule_table",
    "abs", "absolute", "add", "arccos", "arcsin", "arctan", "arctan2", "array_split", "astype",
    "broadcast_to", "ceil", "clip", "column_stack", "concatenate", "cos", "cosh", "cumprod",
    "cumsum", "diag", "div", "dot", "einsum", "equal", "exp", "exp2", "expand_dims", "expm1",
    "flip", "floor", "fmod", "greater", "greater_equal", "hsplit", "hstack", "hypot", "inner",
    "less", "less_equal", "log", "log10", "log1p", "log2", "log_softmax", "logaddexp",
    "logsumexp", "matmul", "matrix_trace", "max", "maximum", "mean", "min", "minimum",
    "moveaxis", "mul", "neg", "not_equal", "ones_like", "outer", "pad", "pow", "prod", "ravel",
    "reciprocal", "relu", "remainder", "repeat", "reshape", "roll", "sigmoid", "sign", "sin",
    "sinh", "softmax", "sort", "split", "sqrt", "square", "squeeze", "stack", "std", "sub",
    "sum", "swapaxes", "tan", "tanh", "tensordot", "tile", "transpose", "tril", "triu", "var",
    "vsplit", "vstack", "where", "zeros_like",
]
from adlab.tree import float_dtype

# ---------------------------------------------------------------------------------
# Primitives
# ---------------------------------------------------------------------------------

Rule = Callable[..., Any]


class Primitive:
    """An operation adlab knows how to evaluate and differentiate.

    Parameters
    ----------
    name:
        Short name used in traces and error messages (``"mul"``, ``"sin"``).
    impl:
        Evaluates the operation on plain numbers / arrays.
    argnames:
        Names of the positional arguments, as the rules and ``reads`` use them
        (``"x y"``); ``"*xs"`` for a variable number of arguments.
    jvp:
        One rule per argument, ``rule(t, ans, *args, **params)``: the contribution of
        argument ``i``'s tangent ``t`` to the output tangent. ``None`` in place of a
        rule marks an argument that cannot be differentiated.
    vjp:
        One rule per argument, ``rule(g, ans, *args, **params)``: the contribution of
        the output adjoint ``g`` to argument ``i``'s adjoint. Broadcasting is undone
        for you: a rule may return an array of the output's shape for an argument that
        was broadcast, and adlab sums it back.
    vjp_n:
        For variadic primitives: one rule ``rule(i, g, ans, *args, **params)``.
    jvp_n:
        For variadic primitives that are not ``linear``: one rule
        ``rule(i, t, ans, *args, **params)`` (argument ``i``'s tangent ``t``).
    linear:
        The operation is linear in its (differentiable) arguments jointly, so its JVP is
        the operation itself applied to the tangents (zeros for missing ones).
    reads:
        For each argument, the names (from ``argnames``, or ``"ans"`` for the output)
        whose *values* that argument's VJP rule reads. Reverse mode must store exactly
        these values from the forward pass. Shapes do not count: they are tiny.
    constant:
        The operation is piecewise constant (a comparison, ``sign``, ``floor``): its
        derivative is 0 wherever it exists, so it needs no rules. Forward mode gives its
        output no tangent and reverse mode sends nothing back through it. A dynamic tape
        does not even record it; a static graph (:func:`adlab.trace`) does, so that a
        replay computes it again on the new inputs instead of freezing it.
    """

    __slots__ = ("name", "impl", "argnames", "variadic", "jvp_rules", "vjp_rules",
                 "vjp_n", "jvp_n", "linear", "reads", "doc", "nargs", "param_names", "constant")

    def __init__(self, name: str, impl: Callable, argnames: str, *,
                 jvp: Sequence[Rule | None] = (), vjp: Sequence[Rule | None] = (),
                 vjp_n: Rule | None = None, jvp_n: Rule | None = None, linear: bool = False,
                 reads: Sequence[str] = (), doc: str | None = None, constant: bool = False):
        self.name = name
        self.constant = constant
        self.impl = impl
        self.variadic = argnames.startswith("*")
        self.argnames = tuple(argnames.lstrip("*").split())
        self.jvp_rules = tuple(jvp)
        self.vjp_rules = tuple(vjp)
        self.vjp_n = vjp_n
        self.jvp_n = jvp_n
        self.linear = linear
        self.reads = tuple(tuple(r.split()) for r in reads)
        self.doc = doc
        self.nargs = len(self.argnames)
        try:  # parameters after the operands may also be passed by position
            names = list(inspect.signature(impl).parameters)
            self.param_names = tuple(names[self.nargs:]) if not self.variadic else ()
        except (TypeError, ValueError):
            self.param_names = ()

    def __repr__(self) -> str:
        return f"<adlab primitive {self.name}>"

    def __call__(self, *args, **params):
        if len(args) > self.nargs and not self.variadic:  # e.g. reshape(x, (2, 3))
            params.update(zip(self.param_names, args[self.nargs:]))
            args = args[:self.nargs]
        # Find the highest level among the arguments; it handles this call first.
        top = None
        for a in args:
            if isinstance(a, Box) and (top is None or a._level.number > top.number):
                top = a._level
        if top is None:
            try:
                return self.impl(*args, **params)
            except ValueError as e:
                raise self.shape_error(e, args) from None
        return top.process(self, args, params)

    def evaluate(self, args: tuple, params: dict) -> Any:
        """Run ``impl`` on plain values, turning NumPy's shape errors into clear ones."""
        try:
            return self.impl(*args, **params)
        except ValueError as e:
            raise self.shape_error(e, args) from None

    def shape_error(self, e: ValueError, args: tuple) -> Exception:
        """A :class:`ShapeError` naming this operation and the operands' shapes."""
        text = str(e)
        if not any(word in text for word in ("shape", "broadcast", "dimension", "size")):
            return e
        shapes = " and ".join(str(np.shape(raw(a))) for a in args)
        return ShapeError(
            f"{self.name}: the operands' shapes {shapes} do not fit together ({text}). "
            "Check the shapes with .shape; reshape, transpose or index the operands so "
            "that they match."
        )

    # -- rules ---------------------------------------------------------------------

    def differentiable(self, i: int) -> bool:
        """Whether argument ``i`` has a derivative rule (reverse mode sends it an adjoint)."""
        if self.constant:
            return False
        if self.variadic:
            return self.vjp_n is not None
        return i < len(self.vjp_rules) and self.vjp_rules[i] is not None

    def jvp_term(self, i: int, t, ans, args: tuple, params: dict):
        """Contribution of argument ``i``'s tangent ``t`` to the output tangent.

        ``None`` (zero) for an argument without a rule: the output is piecewise
        constant in it (a comparison's operands, ``where``'s condition)."""
        if self.linear:  # the operation itself, applied to t and zero tangents elsewhere
            tangents = [None] * len(args)
            tangents[i] = t
            return self.jvp(tangents, ans, args, params)
        if self.jvp_n is not None:
            return self.jvp_n(i, t, ans, *args, **params)
        rule = None if self.constant or i >= len(self.jvp_rules) else self.jvp_rules[i]
        return None if rule is None else rule(t, ans, *args, **params)

    def jvp(self, tangents: Sequence, ans, args: tuple, params: dict):
        """Output tangent from the arguments' tangents (``None`` means zero)."""
        if self.constant:
            return None
        if self.linear:
            # zero tangents: a Python number's is the (weak) 0.0, so float32 stays float32
            zeros = [t if t is not None else 0.0 if type(raw(a)) in (float, int)
                     else np.zeros_like(raw(a)) for a, t in zip(args, tangents)]
            out = self(*zeros, **params)
        else:
            out = None
            for i, t in enumerate(tangents):
                term = None if t is None else self.jvp_term(i, t, ans, args, params)
                if term is None:
                    continue
                if out is None:
                    out = term
                else:
                    out = out + term
                    if _core.TALLY is not None:  # count_work counts this addition
                        _core.TALLY(out)
        if out is None:
            return None
        return broadcast_to_shape(out, np.shape(raw(ans)))

    def vjp(self, i: int, g, ans, args: tuple, params: dict):
        """Contribution of the output adjoint ``g`` to argument ``i``'s adjoint (``None``
        for an argument without a rule: nothing flows back into it)."""
        if not self.differentiable(i):
            return None
        if self.variadic:
            ct = self.vjp_n(i, g, ans, *args, **params)
        else:
            ct = self.vjp_rules[i](g, ans, *args, **params)
        shape = getattr(args[i], "shape", ())
        return ct if getattr(ct, "shape", ()) == shape else unbroadcast(ct, shape)

    def reads_of(self, i: int) -> tuple:
        """Names of the values (argument names or ``"ans"``) argument ``i``'s VJP reads."""
        if self.variadic:
            return self.reads[0] if self.reads else ()
        return self.reads[i] if i < len(self.reads) else ()


# Broadcasting helpers: the engine undoes broadcasting with the primitives below.

def unbroadcast(ct, shape: tuple):
    """Sum ``ct`` over the axes along which a value of ``shape`` was broadcast."""
    ct_shape = getattr(ct, "shape", ())
    if ct_shape == shape:
        return ct
    extra = len(ct_shape) - len(shape)
    axes = () if 1 not in shape else tuple(
        [i for i, n in enumerate(shape) if n == 1 and ct_shape[extra + i] != 1])
    if type(ct) is np.ndarray:  # plain values (the reverse sweep's hot path): NumPy directly
        if extra > 0:
            ct = np.add.reduce(ct, axis=tuple(range(extra)))
        if axes:
            ct = np.add.reduce(ct, axis=axes, keepdims=True)
        return ct if ct.shape == shape else ct.reshape(shape)
    if extra > 0:
        ct = sum(ct, axis=tuple(range(extra)))
    if axes:
        ct = sum(ct, axis=axes, keepdims=True)
    if getattr(ct, "shape", ()) != shape:  # e.g. a 0-d array for a scalar
        ct = reshape(ct, shape)
    return ct


def broadcast_to_shape(x, shape: tuple):
    """``x`` broadcast to ``shape`` (a no-op when it already has that shape)."""
    if getattr(x, "shape", ()) == shape:
        return x
    return broadcast_to(x, shape)


REGISTRY: dict[str, Primitive] = {}


def defprim(name: str, impl, argnames: str, doc: str = "", **rules) -> Primitive:
    """Create a primitive and enter it in :data:`REGISTRY`."""
    prim = Primitive(name, impl, argnames, doc=doc, **rules)
    REGISTRY[name] = prim
    return prim


def elementwise(name: str, impl, argnames: str, doc: str, *rules, reads=()) -> Primitive:
    r"""Enter an elementwise primitive, with one rule per argument for both modes.

    An elementwise function's Jacobian is diagonal: its entries are the partial
    derivatives :math:`\partial f/\partial x_i` at each position. Multiplying a diagonal
    matrix by a tangent (JVP, :math:`\dot y = J\dot x`) or an adjoint by it (VJP,
    :math:`\bar x = \bar y^\top J`) is the same entrywise product, so one rule
    ``rule(d, ans, *args)`` serves as both, ``d`` being the tangent or the adjoint. For
    ``sin``: ``lambda d, ans, x: d * cos(x)``. ``None`` marks an argument that is not
    differentiated (``where``'s condition). Broadcasting is undone by the engine.
    """
    return defprim(name, impl, argnames, doc, jvp=rules, vjp=rules, reads=reads)


def _scalar_fast(math_fn, np_fn):
    """Use ``math`` on Python floats (20x faster than NumPy), NumPy otherwise.

    Where ``math`` would raise (``log(-1)``, ``exp(1000)``) we fall back to NumPy, whose
    answer (``nan`` / ``inf`` with a warning) is the documented behaviour.
    """

    def impl(x):
        if type(x) is float:
            try:
                return math_fn(x)
            except (ValueError, OverflowError):
                pass
        return np_fn(x)

    impl.__name__ = np_fn.__name__
    return impl


def _array_method(name: str):
    """``x.name(...)`` for arrays (skipping NumPy's dispatch layer: it is a hot path),
    ``np.name(x, ...)`` for anything else (Python numbers)."""
    np_fn = getattr(np, name)

    def impl(x, *args, **kwargs):
        if type(x) is np.ndarray or isinstance(x, np.generic):  # NumPy scalars have them too
            return getattr(x, name)(*args, **kwargs)
        return np_fn(x, *args, **kwargs)

    impl.__name__ = name
    return impl


_np_sum, _np_mean, _np_max = _array_method("sum"), _array_method("mean"), _array_method("max")
_np_reshape, _np_transpose = _array_method("reshape"), _array_method("transpose")


def _shape(x) -> tuple:
    return np.shape(raw(x))


def _kept_shape(shape: tuple, axis) -> tuple:
    """``shape`` with the reduced ``axis`` (None, int or tuple) kept as size 1."""
    if axis is None:
        return (1,) * len(shape)
    axes = {a % len(shape) for a in (axis if isinstance(axis, tuple) else (axis,))}
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _keep(g, x, axis, keepdims: bool):
    """Reshape a reduction's output-sized ``g`` so it broadcasts against ``x``."""
    return g if keepdims else reshape(g, _kept_shape(_shape(x), axis))


# ---------------------------------------------------------------------------------
# Arithmetic
# ---------------------------------------------------------------------------------

add = defprim(
    "add", operator.add, "x y", "x + y", linear=True,  # operator.add is x + y, no frame
    vjp=(lambda g, ans, x, y: g,
         lambda g, ans, x, y: g))

sub = defprim(
    "sub", operator.sub, "x y", "x - y", linear=True,
    vjp=(lambda g, ans, x, y: g,
         lambda g, ans, x, y: -g))

neg = defprim(
    "neg", operator.neg, "x", "-x", linear=True,
    vjp=(lambda g, ans, x: -g,))

mul = defprim(
    "mul", operator.mul, "x y", "x * y",
    jvp=(lambda t, ans, x, y: t * y,
         lambda t, ans, x, y: x * t),
    vjp=(lambda g, ans, x, y: g * y,
         lambda g, ans, x, y: g * x),
    reads=("y", "x"))

div = elementwise(
    "div", operator.truediv, "x y", "x / y",
    lambda d, ans, x, y: d / y,
    lambda d, ans, x, y: -d * x / (y * y),
    reads=("y", "x y"))

# ---------------------------------------------------------------------------------
# Comparisons and selection
#
# The rules of functions with kinks (relu, abs, maximum, max, pow at 0) choose between
# formulas by comparing values. They do it with these primitives, never by reading
# plain values, so a static graph of a gradient (adlab.trace(...).gradient()) holds the
# comparison as an operation that each replay computes again on its new inputs.
# ---------------------------------------------------------------------------------

def _comparison(name: str, np_fn, symbol: str) -> Primitive:
    return defprim(name, np_fn, "x y", f"x {symbol} y, elementwise (a boolean array)",
                   constant=True)


greater = _comparison("greater", np.greater, ">")
greater_equal = _comparison("greater_equal", np.greater_equal, ">=")
less = _comparison("less", np.less, "<")
less_equal = _comparison("less_equal", np.less_equal, "<=")
equal = _comparison("equal", np.equal, "==")
not_equal = _comparison("not_equal", np.not_equal, "!=")


def _where_impl(cond, x, y):
    if type(x) is float and type(y) is float and type(cond) in (bool, np.bool_):
        return x if cond else y  # scalars stay scalars (np.where would make 0-d arrays)
    return np.where(cond, x, y)


_where = elementwise(
    "where", _where_impl, "cond x y",
    "x where cond holds, y elsewhere (select; cond is not differentiated)",
    None,
    lambda d, ans, c, x, y: where(c, d, 0.0),
    lambda d, ans, c, x, y: where(c, 0.0, d),
    reads=("", "cond", "cond"))


def where(cond, x, y):
    """``x`` where ``cond`` is true, ``y`` elsewhere (``np.where``).

    The condition is a boolean array, typically a comparison (``x > 0``); it is not
    differentiated: the result is piecewise constant in it."""
    return _where(cond, x, y)


def _ones(x):
    """1 in the floating dtype of ``x`` (a mask of this dtype keeps float32 float32)."""
    return np.ones((), float_dtype(raw(x)))


def _mask(cond, like):
    """``cond`` as 1.0 / 0.0 in the dtype of ``like``."""
    one = _ones(like)
    return where(cond, one, 0 * one)


def _sign_impl(x):
    return float(np.sign(x)) if type(x) is float else np.sign(x)


sign = defprim("sign", _sign_impl, "x", "-1, 0 or 1 by the sign of x", constant=True)


def _pow_impl(x, y):
    return x**y


def _nowhere_zero(v) -> bool:
    return not isinstance(v, Box) and bool(np.all(np.asarray(v) != 0))


def _exponent_less_one(x, y):
    # y - 1, except where x == 0 and y == 0 (there d/dx x**0 = 0, and 0 * 0**-1 would be
    # nan). Only there: elsewhere y - 1 must stay a function of y, or the mixed second
    # derivative d/dy (y x**(y-1)) = x**-1 at y = 0 would come out as x.
    if _nowhere_zero(y) or _nowhere_zero(x):
        return y - 1
    return where(not_equal(y, 0), y - 1, where(not_equal(x, 0), y - 1, _ones(x)))


def _safe_log(x):
    # log x where x > 0 and 0 elsewhere: d/dy x**y = x**y log x is 0 at x = 0
    if not isinstance(x, Box) and np.all(np.asarray(x) > 0):
        return log(x)
    return log(where(greater(x, 0), x, 1.0))


pow = elementwise(  # noqa: A001 - the name the literature uses
    "pow", _pow_impl, "x y", "x ** y",
    lambda d, ans, x, y: d * y * x ** _exponent_less_one(x, y),
    lambda d, ans, x, y: d * ans * _safe_log(x),
    reads=("x y", "x ans"))

# ---------------------------------------------------------------------------------
# Elementary functions
# ---------------------------------------------------------------------------------

sin = elementwise(
    "sin", _scalar_fast(math.sin, np.sin), "x", "sin x",
    lambda d, ans, x: d * cos(x),
    reads=("x",))

cos = elementwise(
    "cos", _scalar_fast(math.cos, np.cos), "x", "cos x",
    lambda d, ans, x: -d * sin(x),
    reads=("x",))

tan = elementwise(
    "tan", _scalar_fast(math.tan, np.tan), "x", "tan x;  d/dx tan x = 1 + tan² x",
    lambda d, ans, x: d * (1 + ans * ans),
    reads=("ans",))

exp = elementwise(
    "exp", _scalar_fast(math.exp, np.exp), "x", "e^x;  d/dx e^x = e^x, the output itself",
    lambda d, ans, x: d * ans,
    reads=("ans",))

log = elementwise(
    "log", _scalar_fast(math.log, np.log), "x", "natural logarithm;  d/dx log x = 1/x",
    lambda d, ans, x: d / x,
    reads=("x",))

sqrt = elementwise(
    "sqrt", _scalar_fast(math.sqrt, np.sqrt), "x", "square root;  d/dx √x = 1 / (2√x)",
    lambda d, ans, x: d * 0.5 / ans,
    reads=("ans",))

absolute = elementwise(
    "abs", _scalar_fast(builtins.abs, np.abs), "x", "|x|;  derivative sign(x) (0 at 0)",
    lambda d, ans, x: d * sign(x),
    reads=("x",))
abs = absolute  # noqa: A001 - ad.abs, like np.abs

tanh = elementwise(
    "tanh", _scalar_fast(math.tanh, np.tanh), "x", "tanh x;  derivative 1 - tanh² x",
    lambda d, ans, x: d * (1 - ans * ans),
    reads=("ans",))


def _sigmoid_impl(x):
    # 1 / (1 + e^-x), computed without overflow for large |x|
    if type(x) is float:
        if x >= 0:
            return 1.0 / (1.0 + math.exp(-x))
        e = math.exp(x)
        return e / (1.0 + e)
    e = np.exp(-np.abs(x))
    return np.where(np.asarray(x) >= 0, 1 / (1 + e), e / (1 + e))[()]


sigmoid = elementwise(
    "sigmoid", _sigmoid_impl, "x", "σ(x) = 1 / (1 + e^-x);  derivative σ(x)(1 - σ(x))",
    lambda d, ans, x: d * ans * (1 - ans),
    reads=("ans",))


def _relu_impl(x):
    if type(x) is float:
        return x if x > 0.0 else 0.0
    return np.maximum(x, 0)


relu = elementwise(
    "relu", _relu_impl, "x", "max(x, 0);  derivative 1 where x > 0, else 0",
    lambda d, ans, x: where(greater(x, 0), d, 0.0),
    reads=("x",))


def _winner(g, x, y, wins):
    # g where x wins, 0 where y wins, g/2 on ties (the subgradient JAX uses too)
    return where(wins(x, y), g, where(equal(x, y), 0.5 * g, 0.0))


maximum = elementwise(
    "maximum", np.maximum, "x y", "elementwise max; ties share the derivative equally",
    lambda d, ans, x, y: _winner(d, x, y, greater),
    lambda d, ans, x, y: _winner(d, y, x, greater),
    reads=("x y", "x y"))

minimum = elementwise(
    "minimum", np.minimum, "x y", "elementwise min; ties share the derivative equally",
    lambda d, ans, x, y: _winner(d, x, y, less),
    lambda d, ans, x, y: _winner(d, y, x, less),
    reads=("x y", "x y"))


# ---------------------------------------------------------------------------------
# More elementary functions: hyperbolic, inverse trigonometric, logarithms and
# exponentials in other bases, and the piecewise ones (remainder, floor, ceil)
# ---------------------------------------------------------------------------------

_LN2, _LN10 = math.log(2.0), math.log(10.0)  # Python floats: float32 stays float32


def _nonzero(v):
    """``v`` with its zeros replaced by 1: a denominator for a quotient whose numerator
    is 0 wherever ``v`` is (hypot at the origin, std of equal entries), where the
    derivative is then 0, as for ``abs`` at 0."""
    if _nowhere_zero(v):
        return v
    return where(equal(v, 0), 1.0, v)


def _trunc(q):
    """``q`` rounded towards zero (a constant: floor and ceil have derivative 0)."""
    return where(less(q, 0), ceil(q), floor(q))


sinh = elementwise(
    "sinh", _scalar_fast(math.sinh, np.sinh), "x", "sinh x;  d/dx sinh x = cosh x",
    lambda d, ans, x: d * cosh(x),
    reads=("x",))

cosh = elementwise(
    "cosh", _scalar_fast(math.cosh, np.cosh), "x", "cosh x;  d/dx cosh x = sinh x",
    lambda d, ans, x: d * sinh(x),
    reads=("x",))

arcsin = elementwise(
    "arcsin", _scalar_fast(math.asin, np.arcsin), "x",
    "arcsin x;  d/dx arcsin x = 1 / √(1 - x²)  (|x| < 1)",
    lambda d, ans, x: d / sqrt(1 - x * x),
    reads=("x",))

arccos = elementwise(
    "arccos", _scalar_fast(math.acos, np.arccos), "x",
    "arccos x;  d/dx arccos x = -1 / √(1 - x²)  (|x| < 1)",
    lambda d, ans, x: -d / sqrt(1 - x * x),
    reads=("x",))

arctan = elementwise(
    "arctan", _scalar_fast(math.atan, np.arctan), "x", "arctan x;  d/dx arctan x = 1 / (1 + x²)",
    lambda d, ans, x: d / (1 + x * x),
    reads=("x",))

arctan2 = elementwise(
    "arctan2", np.arctan2, "y x",
    "atan2(y, x), the angle of (x, y);  d/dy = x / r², d/dx = -y / r²",
    lambda d, ans, y, x: d * x / (x * x + y * y),
    lambda d, ans, y, x: -d * y / (x * x + y * y),
    reads=("y x", "y x"))

log1p = elementwise(
    "log1p", _scalar_fast(math.log1p, np.log1p), "x",
    "log(1 + x), accurate for small x;  d/dx = 1 / (1 + x)",
    lambda d, ans, x: d / (1 + x),
    reads=("x",))

expm1 = elementwise(
    "expm1", _scalar_fast(math.expm1, np.expm1), "x", "e^x - 1, accurate for small x;  d/dx = e^x",
    # e^x from x: ans + 1 would lose e^x where it is tiny (x < -37: 1 + (-1) = 0)
    lambda d, ans, x: d * exp(x),
    reads=("x",))

log2 = elementwise(
    "log2", _scalar_fast(math.log2, np.log2), "x", "base-2 logarithm;  d/dx = 1 / (x ln 2)",
    lambda d, ans, x: d / (x * _LN2),
    reads=("x",))

log10 = elementwise(
    "log10", _scalar_fast(math.log10, np.log10), "x", "base-10 logarithm;  d/dx = 1 / (x ln 10)",
    lambda d, ans, x: d / (x * _LN10),
    reads=("x",))

exp2 = elementwise(
    "exp2", _scalar_fast(lambda v: 2.0 ** v, np.exp2), "x",
    "2^x;  d/dx 2^x = 2^x ln 2, the output times ln 2",
    lambda d, ans, x: d * ans * _LN2,
    reads=("ans",))

hypot = elementwise(
    "hypot", np.hypot, "x y", "√(x² + y²);  d/dx = x / hypot, d/dy = y / hypot (0 at the origin)",
    lambda d, ans, x, y: d * x / _nonzero(ans),
    lambda d, ans, x, y: d * y / _nonzero(ans),
    reads=("x ans", "y ans"))

logaddexp = elementwise(
    "logaddexp", np.logaddexp, "x y",
    "log(e^x + e^y), stably;  d/dx = e^(x - ans), d/dy = e^(y - ans)",
    lambda d, ans, x, y: d * exp(x - ans),
    lambda d, ans, x, y: d * exp(y - ans),
    reads=("x ans", "y ans"))


def _reciprocal_impl(x):
    # np.reciprocal of an integer is an integer (1/2 -> 0): always divide in floats
    if type(x) is float and x != 0.0:
        return 1.0 / x
    return np.divide(1.0, x)


reciprocal = elementwise(
    "reciprocal", _reciprocal_impl, "x", "1 / x;  d/dx = -1 / x², minus the output squared",
    lambda d, ans, x: -d * ans * ans,
    reads=("ans",))

square = elementwise(
    "square", lambda x: x * x, "x", "x²;  d/dx x² = 2x",
    lambda d, ans, x: d * 2 * x,
    reads=("x",))

remainder = elementwise(
    "remainder", np.remainder, "x y", "x % y = x - y floor(x/y);  d/dx = 1, d/dy = -floor(x/y)",
    lambda d, ans, x, y: d,
    lambda d, ans, x, y: -d * floor(x / y),
    reads=("", "x y"))

fmod = elementwise(
    "fmod", np.fmod, "x y", "x - y trunc(x/y) (C's fmod);  d/dx = 1, d/dy = -trunc(x/y)",
    lambda d, ans, x, y: d,
    lambda d, ans, x, y: -d * _trunc(x / y),
    reads=("", "x y"))

floor = defprim(
    "floor", _scalar_fast(lambda v: float(math.floor(v)), np.floor), "x",
    "the largest integer ≤ x (as a float)", constant=True)

ceil = defprim(
    "ceil", _scalar_fast(lambda v: float(math.ceil(v)), np.ceil), "x",
    "the smallest integer ≥ x (as a float)", constant=True)


# ---------------------------------------------------------------------------------
# Linear algebra
# ---------------------------------------------------------------------------------

def _mT(x):
    """Swap the last two axes."""
    n = np.ndim(raw(x))
    if n == 2:
        return transpose(x)
    axes = list(range(n))
    axes[-2], axes[-1] = axes[-1], axes[-2]
    return transpose(x, tuple(axes))


def _matmul_vjp_a(g, ans, a, b):
    # y = a @ b  =>  a_bar = y_bar @ b^T (with 1-D operands promoted and squeezed back)
    if type(g) is np.ndarray and type(b) is np.ndarray and g.ndim == b.ndim == 2:
        return g @ b.T  # plain matrices (the reverse sweep's hot path)
    na, nb = np.ndim(raw(a)), np.ndim(raw(b))
    if nb == 1:
        return g * b if na == 1 else reshape(g, _shape(g) + (1,)) * b
    if na == 1:  # a_bar[k] = sum over batch and j of b[..., k, j] g[..., j]
        gm = matmul(b, reshape(g, _shape(g) + (1,)))
        return reshape(gm, _shape(gm)[:-1])
    return matmul(g, _mT(b))


def _matmul_vjp_b(g, ans, a, b):
    # y = a @ b  =>  b_bar = a^T @ y_bar (with 1-D operands promoted and squeezed back)
    if type(g) is np.ndarray and type(a) is np.ndarray and g.ndim == a.ndim == 2:
        return a.T @ g  # plain matrices (the reverse sweep's hot path)
    na, nb = np.ndim(raw(a)), np.ndim(raw(b))
    if na == 1:
        if nb == 1:
            return g * a
        return reshape(a, (-1, 1)) * reshape(g, _shape(g)[:-1] + (1, _shape(g)[-1]))
    if nb == 1:
        gm = reshape(g, _shape(g)[:-1] + (1, _shape(g)[-1]))
        out = matmul(gm, a)
        return reshape(out, _shape(out)[:-2] + (_shape(out)[-1],))
    return matmul(_mT(a), g)


matmul = defprim(
    "matmul", np.matmul, "a b", "matrix product a @ b (NumPy's rules for 1-D and batches)",
    jvp=(lambda t, ans, a, b: matmul(t, b),
         lambda t, ans, a, b: matmul(a, t)),
    vjp=(_matmul_vjp_a, _matmul_vjp_b),
    reads=("b", "a"))


def dot(a, b):
    """``np.dot``: a product for numbers, ``matmul`` for vectors and matrices, and for
    more dimensions NumPy's own rule, the sum over the last axis of ``a`` and the
    second-to-last of ``b`` (the last, if ``b`` is a vector): a :data:`tensordot`.
    (``matmul`` treats stacks differently: it pairs the matrices of the two stacks.)"""
    na, nb = np.ndim(raw(a)), np.ndim(raw(b))
    if na == 0 or nb == 0:
        return mul(a, b)
    if na <= 2 and nb <= 2:
        return matmul(a, b)
    return tensordot(a, b, axes=((na - 1,), (builtins.max(nb - 2, 0),)))


# ---------------------------------------------------------------------------------
# Products: einsum, tensordot, outer, inner
#
# All four are sums of products, linear in each operand: the JVP of each operand is
# the product with that operand replaced by its tangent, and the VJP contracts the
# output's adjoint with the *other* operands. So every rule here is the same product
# again, and second derivatives come for free.
# ---------------------------------------------------------------------------------

def _float_dtype(*values) -> np.dtype:
    """The floating dtype of a result made from ``values`` (float32 stays float32)."""
    dtype = np.result_type(*[raw(v) for v in values if v is not None])
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def _axis_index(axis, ndim: int) -> int:
    """``axis`` as an index in ``range(ndim)`` (negative axes count from the end)."""
    a = operator.index(axis)
    if not -ndim <= a < ndim:
        raise np.exceptions.AxisError(a, ndim)
    return a % ndim


def _axes_tuple(axis, ndim: int) -> tuple[int, ...]:
    """``axis`` (an int or a sequence of them) as a tuple of distinct axes in ``range(ndim)``."""
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    out = tuple(_axis_index(a, ndim) for a in axes)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axis!r}")
    return out


def _permuted_back(y, order: Sequence[int]):
    """``y`` whose axis ``p`` is axis ``order[p]`` of some x, transposed into x's order."""
    if list(order) == sorted(order):
        return y
    return transpose(y, tuple(int(i) for i in np.argsort(order)))


# einsum works on explicit specs: every letter written out, the output given after
# "->", no "..." (einsum() below turns NumPy's spellings into that form).
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _einsum_parts(spec: str) -> tuple[list[str], str]:
    inputs, out = spec.split("->")
    return inputs.split(","), out


def _einsum_jvp(i, t, ans, *xs, spec):
    # the product with operand i replaced by its tangent
    operands = list(xs)
    operands[i] = t
    return _einsum(*operands, spec=spec)


def _einsum_vjp(i, g, ans, *xs, spec):
    # x̄_i = Σ over the letters x_i does not have of ȳ times the other operands: an
    # einsum of ȳ and the others whose output is x_i's subscripts. Two corrections:
    # a letter repeated in x_i (ii: a diagonal) gets a fresh letter tied to the first
    # by an identity matrix, so the adjoint lands on the diagonal only; a letter that
    # only x_i has (summed in x_i alone, or broadcast from size 1) comes from a vector
    # of ones of its size.
    inputs, out = _einsum_parts(spec)
    spare = iter(c for c in _LETTERS if c not in spec)
    dtype = _float_dtype(g)
    subs, operands = [out], [g]
    for j, x in enumerate(xs):
        if j != i:
            subs.append(inputs[j])
            operands.append(x)
    target, sizes = [], {}
    for c, n in zip(inputs[i], _shape(xs[i])):
        if c in sizes:
            fresh = next(spare)
            subs.append(c + fresh)
            operands.append(np.eye(n, dtype=dtype))
            target.append(fresh)
        else:
            sizes[c] = n
            target.append(c)
    have = {}
    for sub, x in zip(subs, operands):
        for c, n in zip(sub, _shape(x)):
            have.setdefault(c, set()).add(n)
    for c, n in sizes.items():
        if n not in have.get(c, ()):
            subs.append(c)
            operands.append(np.ones(n, dtype=dtype))
    return _einsum(*operands, spec=",".join(subs) + "->" + "".join(target))


_einsum = defprim(
    "einsum", lambda *xs, spec: np.einsum(spec, *xs), "*xs",
    "Einstein sum: out[o] = Σ over the letters not in o of Π x_k[subscripts k];  JVP and "
    "VJP are einsums again (identity matrices for repeated letters, ones for letters "
    "summed in one operand only)",
    jvp_n=_einsum_jvp, vjp_n=_einsum_vjp, reads=("xs",))


def _sublist_letters(sublist) -> str:
    # NumPy's interleaved form einsum(a, [0, 1], b, [1, 2]): 0-25 are A-Z, 26-51 a-z
    return "".join("..." if k is Ellipsis else _LETTERS[operator.index(k)] for k in sublist)


def _einsum_explicit(subscripts: str, shapes: list[tuple]) -> str:
    """``subscripts`` with the output written out and each ``...`` replaced by letters."""
    text = subscripts.replace(" ", "")
    inputs, arrow, out = text.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: {subscripts!r} has subscripts for {len(terms)} operand(s), "
                         f"but {len(shapes)} operand(s) were given")
    if not set(text.replace("...", "").replace(",", "").replace("->", "")) <= set(_LETTERS):
        raise ValueError(f"einsum: {subscripts!r}: subscripts are the letters a-z and A-Z, "
                         "with ',' between operands, '->' before the output and '...' for "
                         "broadcast dimensions")
    spare = [c for c in _LETTERS if c not in text]
    n_ellipsis = 0
    for term, shape in zip(terms, shapes):
        named = len(term.replace("...", ""))
        if named > len(shape) or ("..." not in term and named != len(shape)):
            raise ShapeError(f"einsum: the subscripts {term!r} do not fit an operand of "
                             f"shape {shape} ({len(shape)} dimensions)")
        if "..." in term:
            n_ellipsis = builtins.max(n_ellipsis, len(shape) - named)
    broadcast = "".join(spare[:n_ellipsis])

    def fill(term: str, ndim: int) -> str:
        k = ndim - len(term.replace("...", ""))
        return term.replace("...", broadcast[n_ellipsis - k:])

    full = [fill(t, len(s)) for t, s in zip(terms, shapes)]
    if not arrow:  # implicit output: letters used once, in alphabetical order
        letters = "".join(terms).replace("...", "")
        once = sorted(c for c in set(letters) if letters.count(c) == 1)
        out = (broadcast if "..." in inputs else "") + "".join(once)
    elif "..." in out:
        out = out.replace("...", broadcast)
    elif n_ellipsis:
        raise ValueError(f"einsum: {subscripts!r}: the operands have broadcast dimensions "
                         "('...') but the output does not say where they go; write '...' "
                         "in the output too")
    if len(set(out)) != len(out) or not set(out) <= set("".join(full)):
        raise ValueError(f"einsum: {subscripts!r}: each output letter must appear once in "
                         "the output and also in an operand")
    return ",".join(full) + "->" + out


def einsum(*operands, optimize=False):
    r"""Einstein summation, as ``np.einsum``: ``einsum("ij,jk->ik", a, b)`` is ``a @ b``.

    Every letter names an axis; letters missing from the output are summed over:
    :math:`\mathrm{out}_{ik} = \sum_j a_{ij} b_{jk}`. Traces (``"ii->"``), diagonals
    (``"ii->i"``), transposes (``"ij->ji"``), sums (``"ij->"``), batches (``"bij,bjk->bik"``),
    broadcasting (``"...ij,...jk->...ik"``), the implicit output (``"ij,jk"``) and the
    interleaved form ``einsum(a, [0, 1], b, [1, 2])`` work as in NumPy. ``optimize`` is
    accepted and ignored (the result is the same).

    >>> einsum("ii->i", np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([1., 4.])
    """
    if operands and isinstance(operands[0], str):
        subscripts, xs = operands[0], operands[1:]
    else:  # einsum(a, [0, 1], b, [1, 2], [0, 2])
        odd = len(operands) % 2  # an odd count ends with the output's sublist
        xs = operands[0:-1:2] if odd else operands[0::2]
        subscripts = ",".join(_sublist_letters(s) for s in operands[1::2])
        if odd:
            subscripts += "->" + _sublist_letters(operands[-1])
    return _einsum(*xs, spec=_einsum_explicit(subscripts, [_shape(x) for x in xs]))


def _tensordot_vjp_a(g, ans, a, b, axes):
    # ā = ȳ contracted with b over b's free axes; its axes come out as a's free axes,
    # then a's contracted axes in the order of b's: put them back in a's order
    axes_a, axes_b = axes
    free_a = [k for k in range(len(_shape(a))) if k not in axes_a]
    free_b = [k for k in range(len(_shape(b))) if k not in axes_b]
    n = len(free_a)
    y = tensordot(g, b, axes=(tuple(range(n, n + len(free_b))), tuple(free_b)))
    return _permuted_back(y, free_a + [axes_a[axes_b.index(k)] for k in sorted(axes_b)])


def _tensordot_vjp_b(g, ans, a, b, axes):
    # b̄ = a contracted with ȳ over a's free axes: b's contracted axes (in a's order),
    # then b's free axes
    axes_a, axes_b = axes
    free_a = [k for k in range(len(_shape(a))) if k not in axes_a]
    free_b = [k for k in range(len(_shape(b))) if k not in axes_b]
    y = tensordot(a, g, axes=(tuple(free_a), tuple(range(len(free_a)))))
    return _permuted_back(y, [axes_b[axes_a.index(k)] for k in sorted(axes_a)] + free_b)


def _tensordot_axes(a, b, axes) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """NumPy's ``axes`` (an int n, or a pair of axes or of sequences of axes) as a pair
    of tuples of non-negative axes."""
    na, nb = len(_shape(a)), len(_shape(b))
    if np.ndim(axes) == 0:
        n = operator.index(axes)
        if not 0 <= n <= builtins.min(na, nb):
            raise ShapeError(f"tensordot: axes={n} needs {n} axes in each operand, but the "
                             f"shapes are {_shape(a)} and {_shape(b)}")
        return tuple(range(na - n, na)), tuple(range(n))
    axes_a, axes_b = axes
    axes_a, axes_b = _axes_tuple(axes_a, na), _axes_tuple(axes_b, nb)
    if len(axes_a) != len(axes_b):
        raise ShapeError(f"tensordot: axes {axes!r} pair {len(axes_a)} axes of a with "
                         f"{len(axes_b)} axes of b; give as many of each")
    return axes_a, axes_b


tensordot = defprim(
    "tensordot", lambda a, b, axes=2: np.tensordot(a, b, _tensordot_axes(a, b, axes)), "a b",
    "Σ over the paired axes of a and b of a · b (the free axes of a, then of b);  "
    "VJPs: ȳ contracted with the other operand",
    jvp=(lambda t, ans, a, b, axes=2: tensordot(t, b, axes=_tensordot_axes(a, b, axes)),
         lambda t, ans, a, b, axes=2: tensordot(a, t, axes=_tensordot_axes(a, b, axes))),
    vjp=(lambda g, ans, a, b, axes=2: _tensordot_vjp_a(g, ans, a, b, _tensordot_axes(a, b, axes)),
         lambda g, ans, a, b, axes=2: _tensordot_vjp_b(g, ans, a, b, _tensordot_axes(a, b, axes))),
    reads=("b", "a"))

outer = defprim(
    "outer", lambda a, b: np.outer(a, b), "a b",
    "out[i, j] = a_i b_j (a and b flattened);  ā = ȳ @ b, b̄ = a @ ȳ",
    jvp=(lambda t, ans, a, b: outer(t, b),
         lambda t, ans, a, b: outer(a, t)),
    vjp=(lambda g, ans, a, b: reshape(matmul(g, reshape(b, (-1,))), _shape(a)),
         lambda g, ans, a, b: reshape(matmul(reshape(a, (-1,)), g), _shape(b))),
    reads=("b", "a"))


def _inner_vjp_a(g, ans, a, b):
    # ȳ has axes a[:-1] + b[:-1]: contract its b-part with b's leading axes
    na, nb = len(_shape(a)), len(_shape(b))
    return tensordot(g, b, axes=(tuple(range(na - 1, na + nb - 2)), tuple(range(nb - 1))))


def _inner_vjp_b(g, ans, a, b):
    na = len(_shape(a))
    return tensordot(g, a, axes=(tuple(range(na - 1)), tuple(range(na - 1))))


_inner = defprim(
    "inner", np.inner, "a b",
    "Σ_k a[..., k] b[..., k] over the last axes (free axes of a, then of b);  VJPs: ȳ "
    "contracted with the other operand",
    jvp=(lambda t, ans, a, b: _inner(t, b),
         lambda t, ans, a, b: _inner(a, t)),
    vjp=(_inner_vjp_a, _inner_vjp_b),
    reads=("b", "a"))


def inner(a, b):
    r"""``np.inner``: the sum over the last axes, :math:`\sum_k a_{\dots k} b_{\dots k}`;
    a product when either is a number."""
    if np.ndim(raw(a)) == 0 or np.ndim(raw(b)) == 0:
        return mul(a, b)
    return _inner(a, b)


# ---------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------

def _sum_vjp(g, ans, x, axis=None, keepdims=False):
    shape = _shape(x)
    if axis is None and not isinstance(g, Box) and math.prod(shape) <= 4096:
        out = np.empty(shape, float_dtype(g))  # a small plain array: filling it beats
        out[...] = g                             # a broadcast view
        return out
    return broadcast_to(_keep(g, x, axis, keepdims), shape)


sum = defprim(  # noqa: A001
    "sum", lambda x, axis=None, keepdims=False: _np_sum(x, axis=axis, keepdims=keepdims),
    "x", "sum over axis (all axes by default)", linear=True,
    vjp=(_sum_vjp,))


def _count(x, axis) -> int:
    shape = _shape(x)
    if axis is None:
        return int(np.prod(shape))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return int(np.prod([shape[a] for a in axes]))


mean = defprim(
    "mean", lambda x, axis=None, keepdims=False: _np_mean(x, axis=axis, keepdims=keepdims),
    "x", "mean over axis (all axes by default)", linear=True,
    vjp=(lambda g, ans, x, axis=None, keepdims=False: _sum_vjp(g, ans, x, axis, keepdims)
         / _count(x, axis),))


def _attained_mask(x, ans, axis, keepdims):
    # 1/k on each of the k entries equal to the reduction's output (max or min), 0 elsewhere
    hit = _mask(equal(x, _keep(ans, x, axis, keepdims)), x)
    return hit / sum(hit, axis=axis, keepdims=True)


def _extreme_jvp(t, ans, x, axis=None, keepdims=False):  # max and min: the winners' tangent
    return sum(t * _attained_mask(x, ans, axis, keepdims), axis=axis, keepdims=keepdims)


def _extreme_vjp(g, ans, x, axis=None, keepdims=False):  # max and min: g to the winners
    return _keep(g, x, axis, keepdims) * _attained_mask(x, ans, axis, keepdims)


max = defprim(  # noqa: A001
    "max", lambda x, axis=None, keepdims=False: _np_max(x, axis=axis, keepdims=keepdims),
    "x", "maximum over axis; ties share the derivative equally",
    jvp=(_extreme_jvp,), vjp=(_extreme_vjp,), reads=("x ans",))


def _shifted(x, axis):
    """``x - max(x)`` along ``axis`` (so exp cannot overflow), and the shift used."""
    m = np.maximum.reduce(x, axis=axis, keepdims=True)  # the ufunc itself: no wrappers
    if not math.isfinite(np.add.reduce(m, axis=None)):  # a row of -inf (or nan): shift
        # it by 0, not by -inf (nan). (A sum too large for a float only costs this line.)
        m = np.where(np.isfinite(m), m, 0.0)
    return x - m, m


def _logsumexp_impl(x, axis=None, keepdims=False):
    s, m = _shifted(x, axis)
    out = np.log(np.add.reduce(np.exp(s), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


logsumexp = defprim(
    "logsumexp", _logsumexp_impl, "x",
    "log Σ e^x over axis, computed stably;  gradient softmax(x)",
    jvp=(lambda t, ans, x, axis=None, keepdims=False:
         sum(t * exp(x - _keep(ans, x, axis, keepdims)), axis=axis, keepdims=keepdims),),
    vjp=(lambda g, ans, x, axis=None, keepdims=False:
         _keep(g, x, axis, keepdims) * exp(x - _keep(ans, x, axis, keepdims)),),
    reads=("x ans",))


def _softmax_impl(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


softmax = defprim(
    "softmax", _softmax_impl, "x", "e^x / Σ e^x along axis;  VJP s * (g - Σ g s)",
    jvp=(lambda t, ans, x, axis=-1: ans * (t - sum(ans * t, axis=axis, keepdims=True)),),
    vjp=(lambda g, ans, x, axis=-1: ans * (g - sum(g * ans, axis=axis, keepdims=True)),),
    reads=("ans",))

def _log_softmax_impl(x, axis=-1):
    s, _ = _shifted(x, axis)
    return s - np.log(np.add.reduce(np.exp(s), axis=axis, keepdims=True))


log_softmax = defprim(
    "log_softmax", _log_softmax_impl, "x",
    "x - logsumexp(x) along axis;  VJP g - softmax(x) Σ g",
    jvp=(lambda t, ans, x, axis=-1: t - sum(exp(ans) * t, axis=axis, keepdims=True),),
    vjp=(lambda g, ans, x, axis=-1: _log_softmax_vjp(g, ans, axis),),
    reads=("ans",))


def _log_softmax_vjp(g, ans, axis):
    if type(g) is np.ndarray and type(ans) is np.ndarray:  # plain arrays: NumPy directly
        return g - np.exp(ans) * np.add.reduce(g, axis=axis, keepdims=True)
    return g - exp(ans) * sum(g, axis=axis, keepdims=True)

# ---------------------------------------------------------------------------------
# More reductions: min, prod, var, std; running sums and products
#
# The product rules never divide by x (d/dx_i ∏ x = ∏_{j≠i} x_j, which x / x_i gets
# wrong where x_i = 0): they multiply running products instead, so they are exact at
# zeros, and, being made of products, differentiable again at zeros too.
# ---------------------------------------------------------------------------------

_np_min, _np_prod = _array_method("min"), _array_method("prod")
_np_var, _np_std = _array_method("var"), _array_method("std")


min = defprim(  # noqa: A001
    "min", lambda x, axis=None, keepdims=False: _np_min(x, axis=axis, keepdims=keepdims),
    "x", "minimum over axis; ties share the derivative equally",
    jvp=(_extreme_jvp,), vjp=(_extreme_vjp,), reads=("x ans",))


def _along(ax: int, s: slice) -> tuple:
    """An index that applies the slice ``s`` to axis ``ax`` only."""
    return (slice(None),) * ax + (s,)


def _constant_block(like, shape: tuple, value: float):
    """A constant array of ``value`` in the floating dtype of ``like``."""
    return np.full(shape, value, dtype=float_dtype(raw(like)))


def _shift(y, s: int, ax: int, fill: float):
    """``y`` moved ``s`` places up along axis ``ax``: the first ``s`` places hold the
    constant ``fill``, the last ``s`` entries of ``y`` drop off."""
    shape = _shape(y)
    m = shape[ax]
    head = _constant_block(y, shape[:ax] + (builtins.min(s, m),) + shape[ax + 1:], fill)
    if s >= m:
        return head
    return concatenate([head, getitem(y, _along(ax, slice(None, m - s)))], axis=ax)


def _unshift(v, s: int, ax: int):
    """The transpose of ``_shift`` with fill 0: ``v`` moved ``s`` places down, zeros after."""
    shape = _shape(v)
    m = shape[ax]
    tail = _constant_block(v, shape[:ax] + (builtins.min(s, m),) + shape[ax + 1:], 0.0)
    if s >= m:
        return tail
    return concatenate([getitem(v, _along(ax, slice(s, None))), tail], axis=ax)


def _flip(v, ax: int):
    return getitem(v, _along(ax, slice(None, None, -1)))


def _running_products(x, ax: int) -> list:
    r"""The steps of a log-depth scan for cumprod along ``ax`` (Hillis and Steele):
    :math:`y_0 = x`, :math:`y_{l+1} = y_l \cdot \mathrm{shift}(y_l, 2^l)`; the last is
    cumprod(x). Returns ``(y_l, shifted y_l, 2^l)`` for every step. Only products: the
    derivative rules built on it need no division, so zeros are fine."""
    steps, y, s, m = [], x, 1, _shape(x)[ax]
    while s < m:
        shifted = _shift(y, s, ax, 1.0)
        steps.append((y, shifted, s))
        y = y * shifted
        s *= 2
    return steps


def _cum_layout(x, axis):
    """``x`` as cumsum / cumprod see it (flattened for ``axis=None``) and the axis."""
    if axis is None:
        return (x if len(_shape(x)) == 1 else reshape(x, (-1,))), 0
    return x, axis % len(_shape(x))


def _cumprod_jvp(t, ans, x, axis=None):
    # each scan step y' = y * shift(y) has tangent t' = t * shift(y) + y * shift(t)
    x, ax = _cum_layout(x, axis)
    t, _ = _cum_layout(t, axis)
    for y, shifted, s in _running_products(x, ax):
        t = t * shifted + y * _shift(t, s, ax, 0.0)
    return t


def _cumprod_vjp(g, ans, x, axis=None):
    # the JVP's steps transposed, last step first: g <- g * shift(y) + shift^T(g * y)
    flat, ax = _cum_layout(x, axis)
    for y, shifted, s in reversed(_running_products(flat, ax)):
        g = g * shifted + _unshift(g * y, s, ax)
    return g if _shape(g) == _shape(x) else reshape(g, _shape(x))


cumprod = defprim(
    "cumprod", lambda x, axis=None: np.cumprod(x, axis=axis), "x",
    "running product (flat for axis=None);  ∂y_k/∂x_i = ∏_{j≤k, j≠i} x_j",
    jvp=(_cumprod_jvp,), vjp=(_cumprod_vjp,),
    reads=("x",))


def _cumsum_vjp(g, ans, x, axis=None):
    # y_k = Σ_{i≤k} x_i  =>  x̄_i = Σ_{k≥i} ȳ_k: a running sum from the other end
    ax = 0 if axis is None else axis % len(_shape(x))
    ct = _flip(cumsum(_flip(g, ax), axis=ax), ax)
    return ct if _shape(ct) == _shape(x) else reshape(ct, _shape(x))


cumsum = defprim(
    "cumsum", lambda x, axis=None: np.cumsum(x, axis=axis), "x",
    "running sum (flat for axis=None);  VJP: running sum of ȳ from the end",
    linear=True, vjp=(_cumsum_vjp,))


def _product_of_others(x, axis):
    """For every entry, the product of the *other* entries of its reduction over
    ``axis``: running products from the left times running products from the right."""
    shape = _shape(x)
    n = len(shape)
    if axis is None:
        axes = tuple(range(n))
    else:
        axes = tuple(sorted({a % n for a in (axis if isinstance(axis, tuple) else (axis,))}))
    kept = tuple(i for i in range(n) if i not in axes)
    perm = kept + axes  # the reduced axes last, flattened into one of length m
    moved = x if perm == tuple(range(n)) else transpose(x, perm)
    m = math.prod(shape[i] for i in axes)
    flat = reshape(moved, tuple(shape[i] for i in kept) + (m,))
    ax = len(kept)
    before = _shift(cumprod(flat, axis=ax), 1, ax, 1.0)  # ∏_{j<i} x_j
    after = _flip(_shift(cumprod(_flip(flat, ax), axis=ax), 1, ax, 1.0), ax)  # ∏_{j>i} x_j
    others = reshape(before * after, tuple(shape[i] for i in perm))
    if perm == tuple(range(n)):
        return others
    return transpose(others, tuple(int(i) for i in np.argsort(perm)))


prod = defprim(
    "prod", lambda x, axis=None, keepdims=False: _np_prod(x, axis=axis, keepdims=keepdims),
    "x", "product over axis;  ∂/∂x_i = ∏_{j≠i} x_j (no division: exact at 0)",
    jvp=(lambda t, ans, x, axis=None, keepdims=False:
         sum(t * _product_of_others(x, axis), axis=axis, keepdims=keepdims),),
    vjp=(lambda g, ans, x, axis=None, keepdims=False:
         _keep(g, x, axis, keepdims) * _product_of_others(x, axis),),
    reads=("x",))


def _over_dof(x, axis, ddof) -> float:
    """1 / (N - ddof), with NumPy's convention N - ddof <= 0 -> division by 0 (inf)."""
    dof = _count(x, axis) - ddof
    return 1.0 / dof if dof > 0 else math.inf


def _centered(x, axis):
    return x - mean(x, axis=axis, keepdims=True)


def _spread_jvp(t, x, axis, ddof, keepdims):
    """Σ t (x - mean) / (N - ddof): var's JVP is twice it, std's it over std."""
    return sum(t * _centered(x, axis), axis=axis, keepdims=keepdims) * _over_dof(x, axis, ddof)


def _spread_vjp(g, x, axis, ddof, keepdims):
    """g (x - mean) / (N - ddof): var's VJP is twice it, std's it with g over std."""
    return _keep(g, x, axis, keepdims) * _centered(x, axis) * _over_dof(x, axis, ddof)


var = defprim(
    "var",
    lambda x, axis=None, ddof=0, keepdims=False: _np_var(x, axis=axis, ddof=ddof,
                                                         keepdims=keepdims),
    "x", "Σ(x - mean)² / (N - ddof);  ∂/∂x_i = 2 (x_i - mean) / (N - ddof)",
    jvp=(lambda t, ans, x, axis=None, ddof=0, keepdims=False:
         2 * _spread_jvp(t, x, axis, ddof, keepdims),),
    vjp=(lambda g, ans, x, axis=None, ddof=0, keepdims=False:
         2 * _spread_vjp(g, x, axis, ddof, keepdims),),
    reads=("x",))

std = defprim(
    "std",
    lambda x, axis=None, ddof=0, keepdims=False: _np_std(x, axis=axis, ddof=ddof,
                                                         keepdims=keepdims),
    "x", "√var;  ∂/∂x_i = (x_i - mean) / ((N - ddof) std), 0 where std = 0",
    jvp=(lambda t, ans, x, axis=None, ddof=0, keepdims=False:
         _spread_jvp(t, x, axis, ddof, keepdims) / _nonzero(ans),),
    vjp=(lambda g, ans, x, axis=None, ddof=0, keepdims=False:
         _spread_vjp(g / _nonzero(ans), x, axis, ddof, keepdims),),
    reads=("x ans",))

# ---------------------------------------------------------------------------------
# Shapes, indexing, joining
# ---------------------------------------------------------------------------------

reshape = defprim(
    "reshape", lambda x, shape: _np_reshape(x, shape), "x", "the same entries in a new shape",
    linear=True, vjp=(lambda g, ans, x, shape: reshape(g, _shape(x)),))


def _transpose_vjp(g, ans, x, axes=None):
    if axes is None:
        return transpose(g)
    n = len(_shape(x))  # axes may be negative, as in NumPy: normalise before inverting
    return transpose(g, tuple(int(i) for i in np.argsort([a % n for a in axes])))


transpose = defprim(
    "transpose", lambda x, axes=None: _np_transpose(x, axes), "x",
    "axes permuted (reversed by default)", linear=True, vjp=(_transpose_vjp,))

broadcast_to = defprim(
    "broadcast_to", lambda x, shape: np.broadcast_to(x, shape), "x",
    "x repeated along new or size-1 axes;  VJP sums them back", linear=True,
    vjp=(lambda g, ans, x, shape: g,))  # the engine's unbroadcast does the summing


def _is_basic(idx) -> bool:
    parts = idx if isinstance(idx, tuple) else (idx,)
    return all(isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis
               for p in parts)


def _scatter_impl(g, idx, shape):
    out = np.zeros(shape, dtype=float_dtype(g))  # g's precision (float64 for Python floats)
    if _is_basic(idx):
        out[idx] += g  # basic indexing never selects an entry twice
    else:
        np.add.at(out, idx, g)  # x[[0, 0]] uses x[0] twice: add both contributions
    return out


getitem = defprim(
    "getitem", lambda x, idx: x[idx], "x", "x[idx]: indexing and slicing", linear=True,
    vjp=(lambda g, ans, x, idx: scatter(g, idx, _shape(x)),))

scatter = defprim(
    "scatter", _scatter_impl, "g",
    "zeros of `shape` with g added at idx (the transpose of indexing)", linear=True,
    vjp=(lambda g, ans, x, idx, shape: getitem(g, idx),))


def _concat_vjp(i, g, ans, *xs, axis=0):
    ax = axis % np.ndim(raw(ans))
    start = builtins.sum(_shape(x)[ax] for x in xs[:i])
    idx = (slice(None),) * ax + (slice(start, start + _shape(xs[i])[ax]),)
    return getitem(g, idx)


_concatenate = defprim(
    "concatenate", lambda *xs, axis=0: np.concatenate(xs, axis=axis), "*xs",
    "arrays joined along an existing axis", linear=True, vjp_n=_concat_vjp)


def _stack_vjp(i, g, ans, *xs, axis=0):
    ax = axis % np.ndim(raw(ans))
    return getitem(g, (slice(None),) * ax + (i,))


_stack = defprim(
    "stack", lambda *xs, axis=0: np.stack(xs, axis=axis), "*xs",
    "arrays joined along a new axis", linear=True, vjp_n=_stack_vjp)


def concatenate(arrays, axis: int | None = 0):
    """Join a sequence of arrays along an existing axis (like ``np.concatenate``;
    ``axis=None`` joins them flattened)."""
    if axis is None:
        return _concatenate(*[ravel(a) for a in arrays], axis=0)
    return _concatenate(*arrays, axis=axis)


def stack(arrays, axis: int = 0):
    """Join a sequence of arrays along a new axis (like ``np.stack``)."""
    return _stack(*arrays, axis=axis)


# ---------------------------------------------------------------------------------
# More shapes: repeating, tiling, diagonals, triangles, padding, flips, rolls;
# clip, sort and astype
#
# Most of these move entries around without changing them: they are linear, their
# JVP is the operation itself applied to the tangent, and their VJP sends each
# output entry's adjoint back to the entry it came from (adding up the adjoints of
# copies). The compositions further down (ravel, moveaxis, vstack, split ...) are
# exactly reshapes, transposes, joins and slices, so they need no rules of their own.
# ---------------------------------------------------------------------------------

def _repeat_vjp(g, ans, x, repeats, axis=None):
    shape = _shape(x)
    line = (math.prod(shape),) if axis is None else shape  # axis=None repeats x flattened
    ax = 0 if axis is None else axis % len(shape)
    if np.ndim(repeats) == 0 or np.size(repeats) == 1:
        # every entry r times in a row: split the axis into (n, r) and add up the copies
        r = int(np.reshape(repeats, -1)[0])
        out = sum(reshape(g, line[:ax] + (line[ax], r) + line[ax + 1:]), axis=ax + 1)
    else:  # entry k repeats[k] times: send each copy's adjoint back to entry k
        source = np.repeat(np.arange(line[ax]), repeats)
        out = scatter(g, idx=(slice(None),) * ax + (source,), shape=line)
    return reshape(out, shape)


repeat = defprim(
    "repeat", lambda x, repeats, axis=None: np.repeat(x, repeats, axis), "x",
    "each entry repeated along axis (flattened first for axis=None);  VJP adds up the "
    "copies' adjoints", linear=True, vjp=(_repeat_vjp,))


def _tile_layout(shape: tuple, reps) -> tuple[tuple, tuple]:
    """x's shape and the repetitions, padded with leading 1s to the same length."""
    reps = (reps,) if np.ndim(reps) == 0 else tuple(reps)
    d = builtins.max(len(shape), len(reps))
    return (1,) * (d - len(shape)) + tuple(shape), (1,) * (d - len(reps)) + reps


def _tile_vjp(g, ans, x, reps):
    # each axis of the output is (copies, x's axis): split it so and add up the copies
    sizes, reps = _tile_layout(_shape(x), reps)
    split = tuple(n for pair in zip(reps, sizes) for n in pair)
    out = sum(reshape(g, split), axis=tuple(range(0, len(split), 2)))
    return reshape(out, _shape(x))


tile = defprim(
    "tile", lambda x, reps: np.tile(x, reps), "x",
    "x repeated as whole blocks, reps[k] copies along axis k;  VJP adds up the blocks",
    linear=True, vjp=(_tile_vjp,))


def _diag_vjp(g, ans, x, k=0):
    if len(_shape(x)) == 1:  # x was put on the k-th diagonal: take its adjoint back from there
        return diag(g, k)
    # x's k-th diagonal was taken out: its adjoint goes back on the diagonal, 0 elsewhere
    n = _shape(g)[0]
    rows = np.arange(n) + builtins.max(-k, 0)
    cols = np.arange(n) + builtins.max(k, 0)
    return scatter(g, idx=(rows, cols), shape=_shape(x))


diag = defprim(
    "diag", lambda x, k=0: np.diag(x, k), "x",
    "a vector on the k-th diagonal of a square matrix, or a matrix's k-th diagonal as a "
    "vector;  each direction's VJP is the other", linear=True, vjp=(_diag_vjp,))


def _trace_vjp(g, ans, x, offset=0, axis1=0, axis2=1):
    # ∂ trace / ∂x is the identity (shifted by offset) on axes axis1, axis2: ȳ times it
    shape = _shape(x)
    a1, a2 = axis1 % len(shape), axis2 % len(shape)
    eye = np.eye(shape[a1], shape[a2], k=offset, dtype=_float_dtype(g))
    eye = eye if a1 < a2 else eye.T
    on_axes = tuple(n if k in (a1, a2) else 1 for k, n in enumerate(shape))
    others = tuple(1 if k in (a1, a2) else n for k, n in enumerate(shape))
    return reshape(g, others) * np.reshape(eye, on_axes)


matrix_trace = defprim(
    "matrix_trace",
    lambda x, offset=0, axis1=0, axis2=1: np.trace(x, offset, axis1, axis2), "x",
    "Σ_i x[i, i + offset] over axes axis1, axis2 (np.trace);  VJP ȳ times the identity",
    linear=True, vjp=(_trace_vjp,))

triu = defprim(
    "triu", lambda x, k=0: np.triu(x, k), "x",
    "x with the entries below the k-th diagonal set to 0 (last two axes);  VJP triu(ȳ)",
    linear=True, vjp=(lambda g, ans, x, k=0: triu(g, k),))

tril = defprim(
    "tril", lambda x, k=0: np.tril(x, k), "x",
    "x with the entries above the k-th diagonal set to 0 (last two axes);  VJP tril(ȳ)",
    linear=True, vjp=(lambda g, ans, x, k=0: tril(g, k),))


def _pad_vjp(g, ans, x, pad_width, constant_values=0):
    # the padding is constant: only the middle block, where x went, has an adjoint for x
    return getitem(g, tuple(slice(before, before + n)
                            for (before, _), n in zip(pad_width, _shape(x))))


_pad = defprim(
    "pad",
    lambda x, pad_width, constant_values=0: np.pad(x, pad_width, mode="constant",
                                                   constant_values=constant_values), "x",
    "x surrounded by a constant, pad_width[k] = (before, after) entries on axis k;  "
    "VJP: the middle block of ȳ",
    jvp=(lambda t, ans, x, pad_width, constant_values=0: _pad(t, pad_width=pad_width),),
    vjp=(_pad_vjp,))

_PAD_BY_INDEX = ("edge", "reflect", "symmetric", "wrap")  # modes that only copy entries


def _holds_box(v) -> bool:
    return isinstance(v, Box) or (isinstance(v, (list, tuple)) and any(map(_holds_box, v)))


def pad(array, pad_width, mode: str = "constant", **kwargs):
    """``np.pad`` for ``mode="constant"`` (``constant_values`` not differentiated) and the
    modes that copy entries of ``array``: ``"edge"``, ``"reflect"``, ``"symmetric"``,
    ``"wrap"`` (indexing, so the copies' adjoints add up). Other modes raise."""
    shape = _shape(array)
    widths = np.asarray(pad_width)
    if widths.dtype.kind not in "iu":
        raise TypeError(f"pad: pad_width must be integers, got {pad_width!r}")
    widths = tuple((int(a), int(b)) for a, b in np.broadcast_to(widths, (len(shape), 2)))
    if any(w < 0 for pair in widths for w in pair):
        raise ValueError(f"pad: pad_width {pad_width!r} has negative entries")
    if mode == "constant":
        value = kwargs.pop("constant_values", 0)
        if kwargs:
            raise TypeError("pad: mode='constant' takes constant_values only, not "
                            f"{sorted(kwargs)}")
        if _holds_box(value):
            raise AdlabError(
                "pad: constant_values is a value being differentiated, but adlab's pad treats "
                "the padding as a constant. Pad with 0 and add value * mask, where mask is "
                "np.pad(np.zeros(shape), pad_width, constant_values=1), to differentiate it.")
        if np.ndim(value) == 0:
            value = value.item() if isinstance(value, np.generic) else value
        else:
            value = tuple(tuple(p) for p in np.broadcast_to(value, (len(shape), 2)).tolist())
        return _pad(array, pad_width=widths, constant_values=value)
    if mode in _PAD_BY_INDEX:
        kind = kwargs.pop("reflect_type", "even")
        if kwargs or kind != "even":
            raise TypeError(f"pad: mode={mode!r} is supported with its defaults only "
                            f"(reflect_type='even'), not {dict(kwargs, reflect_type=kind)}")
        # pad the positions 0..n-1 of each axis the same way: that says where each entry
        # of the result comes from
        index = np.ix_(*[np.pad(np.arange(n), w, mode=mode) for n, w in zip(shape, widths)])
        return getitem(array, index)
    raise ValueError(
        f"pad: mode={mode!r} has no derivative rule in adlab. Supported: 'constant' (with "
        f"constant_values) and {', '.join(repr(m) for m in _PAD_BY_INDEX)}. Build other "
        "paddings from concatenate and the statistics you need (ad.mean, ad.max ...).")


flip = defprim(
    "flip", lambda x, axis=None: np.flip(x, axis), "x",
    "x reversed along axis (all axes for axis=None);  VJP flip(ȳ)",
    linear=True, vjp=(lambda g, ans, x, axis=None: flip(g, axis),))


def _negated(shift):
    return -shift if np.ndim(shift) == 0 else tuple(-s for s in shift)


roll = defprim(
    "roll", lambda x, shift, axis=None: np.roll(x, shift, axis), "x",
    "x shifted cyclically by shift along axis (flattened for axis=None);  VJP rolls ȳ back",
    linear=True, vjp=(lambda g, ans, x, shift, axis=None: roll(g, _negated(shift), axis),))


def _clip_middle(x, lo):
    return x if lo is None else maximum(x, lo)


def _clip_x(g, x, lo, hi):
    # clip(x) = minimum(maximum(x, lo), hi): the chain rule through both, with their
    # tie convention (a bound hit exactly shares the derivative: 1/2)
    if hi is not None:
        g = _winner(g, _clip_middle(x, lo), hi, less)
    return g if lo is None else _winner(g, x, lo, greater)


def _clip_lo(g, x, lo, hi):
    if hi is not None:
        g = _winner(g, maximum(x, lo), hi, less)
    return _winner(g, lo, x, greater)


def _clip_hi(g, x, lo, hi):
    return _winner(g, hi, _clip_middle(x, lo), less)


clip = elementwise(
    "clip", lambda x, lo, hi: np.clip(x, lo, hi), "x lo hi",
    "x limited to [lo, hi] (minimum(maximum(x, lo), hi); None: no bound);  derivative 1 "
    "inside, 0 outside, 1/2 exactly at a bound; lo and hi get the rest",
    lambda d, ans, x, lo, hi: _clip_x(d, x, lo, hi),
    lambda d, ans, x, lo, hi: _clip_lo(d, x, lo, hi),
    lambda d, ans, x, lo, hi: _clip_hi(d, x, lo, hi),
    reads=("x lo hi", "x lo hi", "x lo hi"))


# sort moves each entry to its place in the sorted order. The order depends on the
# values, so the rules compute it from `key` (an argument, not a frozen index): a static
# graph of a gradient sorts its new inputs again on replay.

def _sort_by_impl(t, key, axis=-1):
    order = np.argsort(key, axis=axis, kind="stable")
    if axis is None:
        return np.reshape(t, -1)[order]
    return np.take_along_axis(np.asarray(t), order, axis)


def _unsort_by_impl(g, key, axis=-1):
    order = np.argsort(key, axis=axis, kind="stable")
    g = np.asarray(g)
    out = np.empty(np.shape(key), dtype=g.dtype)
    if axis is None:
        np.reshape(out, -1)[order] = g  # a view: writes into out
    else:
        np.put_along_axis(out, order, g, axis)
    return out


sort_by = defprim(
    "sort_by", _sort_by_impl, "t key",
    "t's entries in the order that sorts key along axis (stable; key not differentiated)",
    jvp=(lambda s, ans, t, key, axis=-1: sort_by(s, key, axis=axis), None),
    vjp=(lambda g, ans, t, key, axis=-1: unsort_by(g, key, axis=axis), None),
    reads=("key",))

unsort_by = defprim(
    "unsort_by", _unsort_by_impl, "g key",
    "the inverse of sort_by: g's entries put back where sorting key took them from",
    jvp=(lambda s, ans, g, key, axis=-1: unsort_by(s, key, axis=axis), None),
    vjp=(lambda h, ans, g, key, axis=-1: sort_by(h, key, axis=axis), None),
    reads=("key",))

sort = defprim(
    "sort", lambda x, axis=-1: np.sort(x, axis=axis, kind="stable"), "x",
    "x sorted along axis (flattened for axis=None);  each entry's derivative moves with "
    "it; ties keep their order (a stable sort)",
    jvp=(lambda t, ans, x, axis=-1: sort_by(t, x, axis=axis),),
    vjp=(lambda g, ans, x, axis=-1: unsort_by(g, x, axis=axis),),
    reads=("x",))


def _astype_impl(x, dtype):
    out = np.asarray(x).astype(dtype)
    return out[()] if out.ndim == 0 else out


_astype = defprim(
    "astype", _astype_impl, "x", "x in another floating precision;  derivative 1 (the "
    "adjoint goes back in x's precision)", linear=True,
    vjp=(lambda g, ans, x, dtype: _astype(g, dtype=_float_dtype(x)),))


def _differentiated(x) -> bool:
    """Whether a running transformation differentiates ``x`` (see Level.active)."""
    while isinstance(x, Box):
        if getattr(x._level, "active", False):
            return True
        x = x.value
    return False


def astype(x, dtype, copy: bool = True):
    """``x.astype(dtype)``: float32 / float64 keep the derivative (it is 1). Integers and
    booleans carry none, so converting a value being differentiated raises."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return _astype(x, dtype=dtype)
    if _differentiated(x):
        raise AdlabError(
            f"astype({dtype}): this value is being differentiated, and {dtype} values carry "
            "no derivative, so the result would silently be cut off from it. Keep the float "
            "value for the computation; for a plain copy (indices, masks, printing) use "
            f"np.asarray(x.value).astype({dtype.name}) on purpose.")
    return np.asarray(raw(x)).astype(dtype)


# Compositions: each is exactly a reshape, transpose, join or slice.

def ravel(a, order: str = "C"):
    """The entries of ``a`` as a vector (``reshape(a, -1)``); ``order="F"`` goes down the
    columns first (the reverse of the axes)."""
    return _reshape_order(a, (-1,), order, "ravel")


def _reshape_order(a, shape, order: str, name: str = "reshape"):
    shape = (shape,) if np.ndim(shape) == 0 else tuple(shape)
    if order == "C":
        return reshape(a, shape)
    if order == "F":  # Fortran order: reading and writing with the axes reversed
        return transpose(reshape(transpose(a), shape[::-1]))
    raise ValueError(f"{name}: order={order!r} is not supported on adlab values; use 'C' "
                     "(the default) or 'F'")


def expand_dims(a, axis):
    """``a`` with new axes of size 1 at the positions ``axis`` (an int or a tuple) of the result."""
    shape = _shape(a)
    n = len(shape) + (1 if np.ndim(axis) == 0 else len(axis))
    new = _axes_tuple(axis, n)
    rest = iter(shape)
    return reshape(a, tuple(1 if k in new else next(rest) for k in range(n)))


def squeeze(a, axis=None):
    """``a`` without its axes of size 1 (or only those in ``axis``, which must have size 1)."""
    shape = _shape(a)
    if axis is None:
        return reshape(a, tuple(n for n in shape if n != 1))
    gone = _axes_tuple(axis, len(shape))
    if any(shape[k] != 1 for k in gone):
        raise ShapeError(f"squeeze: axis {axis!r} of an array of shape {shape} does not have "
                         "size 1; only axes of size 1 can be squeezed out")
    return reshape(a, tuple(n for k, n in enumerate(shape) if k not in gone))


def swapaxes(a, axis1: int, axis2: int):
    """``a`` with the axes ``axis1`` and ``axis2`` exchanged (a transpose)."""
    n = len(_shape(a))
    axes = list(range(n))
    i, j = _axis_index(axis1, n), _axis_index(axis2, n)
    axes[i], axes[j] = axes[j], axes[i]
    return transpose(a, tuple(axes))


def moveaxis(a, source, destination):
    """``a`` with the axes ``source`` moved to the positions ``destination`` (a transpose)."""
    n = len(_shape(a))
    src, dst = _axes_tuple(source, n), _axes_tuple(destination, n)
    if len(src) != len(dst):
        raise ValueError(f"moveaxis: source {source!r} and destination {destination!r} must "
                         "name as many axes")
    order = [k for k in range(n) if k not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(a, tuple(order))


def _at_least_2d(x):
    shape = _shape(x)
    return x if len(shape) >= 2 else reshape(x, (1,) * (2 - len(shape)) + shape)


def vstack(tup):
    """Arrays on top of each other: 1-D arrays become rows, then ``concatenate(axis=0)``."""
    return concatenate([_at_least_2d(x) for x in tup], axis=0)


def hstack(tup):
    """Arrays side by side: ``concatenate`` along axis 1 (along axis 0 for 1-D arrays)."""
    xs = [x if np.ndim(raw(x)) else reshape(x, (1,)) for x in tup]
    return concatenate(xs, axis=0 if xs and len(_shape(xs[0])) == 1 else 1)


def column_stack(tup):
    """1-D arrays as the columns of a matrix (2-D arrays as they are), side by side."""
    xs = [x if len(_shape(x)) >= 2 else reshape(x, (-1, 1)) for x in tup]
    return concatenate(xs, axis=1)


def array_split(ary, indices_or_sections, axis: int = 0) -> list:
    """``ary`` cut into pieces along ``axis``: n nearly equal ones (the first ones one
    longer) or cut at the given indices. The pieces are slices, so each one's adjoint
    goes back to its part of ``ary``."""
    shape = _shape(ary)
    ax = _axis_index(axis, len(shape))
    n = shape[ax]
    if np.ndim(indices_or_sections) == 0:
        sections = operator.index(indices_or_sections)
        if sections <= 0:
            raise ValueError("array_split: the number of sections must be larger than 0")
        each, extra = divmod(n, sections)
        sizes = [each + 1] * extra + [each] * (sections - extra)
        cuts = [0] + [int(c) for c in np.cumsum(sizes)]
    else:
        cuts = [0] + [operator.index(c) for c in indices_or_sections] + [n]
    head = (slice(None),) * ax
    return [getitem(ary, head + (slice(start, stop),)) for start, stop in zip(cuts, cuts[1:])]


def split(ary, indices_or_sections, axis: int = 0) -> list:
    """Like :func:`array_split`, but a number of sections must divide the axis evenly."""
    if np.ndim(indices_or_sections) == 0:
        n = _shape(ary)[_axis_index(axis, len(_shape(ary)))]
        if n % operator.index(indices_or_sections):
            raise ShapeError(f"split: an axis of length {n} cannot be split into "
                             f"{indices_or_sections} equal sections; use array_split")
    return array_split(ary, indices_or_sections, axis)


def hsplit(ary, indices_or_sections) -> list:
    """``split`` along axis 1 (axis 0 for 1-D arrays)."""
    ndim = len(_shape(ary))
    if ndim == 0:
        raise ShapeError("hsplit only works on arrays of 1 or more dimensions")
    return split(ary, indices_or_sections, axis=1 if ndim > 1 else 0)


def vsplit(ary, indices_or_sections) -> list:
    """``split`` along axis 0 of an array of 2 or more dimensions."""
    if len(_shape(ary)) < 2:
        raise ShapeError("vsplit only works on arrays of 2 or more dimensions")
    return split(ary, indices_or_sections, axis=0)


# ---------------------------------------------------------------------------------
# Convenience functions built from primitives (not primitives themselves)
# ---------------------------------------------------------------------------------

# (expand_dims, squeeze and swapaxes are with the other shape compositions above)

def zeros_like(x):
    return np.zeros_like(raw(x), dtype=float)


def ones_like(x):
    return np.ones_like(raw(x), dtype=float)


def rule_table() -> str:
    """A plain-text table of every primitive: name, meaning, and what its VJP reads.

    Piecewise-constant primitives (comparisons, ``sign``, ``floor``, ...) say
    ``derivative 0 (piecewise constant)`` in place of what they read."""
    rows = []
    for name, p in sorted(REGISTRY.items()):
        if p.constant:
            last = "derivative 0 (piecewise constant)"
        else:
            last = "reads: " + (", ".join(sorted({r for rs in p.reads for r in rs})) or "-")
        rows.append(f"{name:12s} {p.doc or '':70s} {last}")
    return "\n".join(rows)

