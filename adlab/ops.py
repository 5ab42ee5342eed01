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
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from adlab.core import AdlabError, Box, ShapeError, raw

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
    linear:
        The operation is linear in its (differentiable) arguments jointly, so its JVP is
        the operation itself applied to the tangents (zeros for missing ones).
    reads:
        For each argument, the names (from ``argnames``, or ``"ans"`` for the output)
        whose *values* that argument's VJP rule reads. Reverse mode must store exactly
        these values from the forward pass. Shapes do not count: they are tiny.
    """

    __slots__ = ("name", "impl", "argnames", "variadic", "jvp_rules", "vjp_rules",
                 "vjp_n", "linear", "reads", "doc", "nargs", "param_names")

    def __init__(self, name: str, impl: Callable, argnames: str, *,
                 jvp: Sequence[Rule | None] = (), vjp: Sequence[Rule | None] = (),
                 vjp_n: Rule | None = None, linear: bool = False,
                 reads: Sequence[str] = (), doc: str | None = None):
        self.name = name
        self.impl = impl
        self.variadic = argnames.startswith("*")
        self.argnames = tuple(argnames.lstrip("*").split())
        self.jvp_rules = tuple(jvp)
        self.vjp_rules = tuple(vjp)
        self.vjp_n = vjp_n
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
        if self.variadic:
            return self.vjp_n is not None
        return i < len(self.vjp_rules) and self.vjp_rules[i] is not None

    def jvp_term(self, i: int, t, ans, args: tuple, params: dict):
        """Contribution of argument ``i``'s tangent ``t`` to the output tangent."""
        if self.linear:  # the operation itself, applied to t and zero tangents elsewhere
            tangents = [None] * len(args)
            tangents[i] = t
            return self.jvp(tangents, ans, args, params)
        rule = self.jvp_rules[i] if i < len(self.jvp_rules) else None
        if rule is None:
            raise AdlabError(f"{self.name} is not differentiable in its argument "
                             f"{self.argnames[i]!r}")
        return rule(t, ans, *args, **params)

    def jvp(self, tangents: Sequence, ans, args: tuple, params: dict):
        """Output tangent from the arguments' tangents (``None`` means zero)."""
        if self.linear:
            zeros = [np.zeros_like(raw(a)) if t is None else t for a, t in zip(args, tangents)]
            out = self(*zeros, **params)
        else:
            out = None
            for i, t in enumerate(tangents):
                if t is not None:
                    term = self.jvp_term(i, t, ans, args, params)
                    out = term if out is None else out + term
        if out is None:
            return None
        return broadcast_to_shape(out, np.shape(raw(ans)))

    def vjp(self, i: int, g, ans, args: tuple, params: dict):
        """Contribution of the output adjoint ``g`` to argument ``i``'s adjoint."""
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
    if extra > 0:
        ct = sum(ct, axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and ct_shape[extra + i] != 1)
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
        if type(x) is np.ndarray:
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


def _sign(x):
    return np.sign(raw(x))  # derivative zero almost everywhere: a constant


# ---------------------------------------------------------------------------------
# Arithmetic
# ---------------------------------------------------------------------------------

add = defprim(
    "add", lambda x, y: x + y, "x y", "x + y", linear=True,
    vjp=(lambda g, ans, x, y: g,
         lambda g, ans, x, y: g))

sub = defprim(
    "sub", lambda x, y: x - y, "x y", "x - y", linear=True,
    vjp=(lambda g, ans, x, y: g,
         lambda g, ans, x, y: -g))

neg = defprim(
    "neg", lambda x: -x, "x", "-x", linear=True,
    vjp=(lambda g, ans, x: -g,))

mul = defprim(
    "mul", lambda x, y: x * y, "x y", "x * y",
    jvp=(lambda t, ans, x, y: t * y,
         lambda t, ans, x, y: x * t),
    vjp=(lambda g, ans, x, y: g * y,
         lambda g, ans, x, y: g * x),
    reads=("y", "x"))

div = defprim(
    "div", lambda x, y: x / y, "x y", "x / y",
    jvp=(lambda t, ans, x, y: t / y,
         lambda t, ans, x, y: -t * x / (y * y)),
    vjp=(lambda g, ans, x, y: g / y,
         lambda g, ans, x, y: -g * x / (y * y)),
    reads=("y", "x y"))


def _pow_impl(x, y):
    return x**y


def _exponent_less_one(x, y):
    # y - 1, except where x == 0 and y == 0 (there d/dx x**0 = 0, and 0 * 0**-1 would be
    # nan). Only there: elsewhere y - 1 must stay a function of y, or the mixed second
    # derivative d/dy (y x**(y-1)) = x**-1 at y = 0 would come out as x.
    keep = (raw(y) != 0) | (raw(x) != 0)
    if np.ndim(keep) == 0:
        return y - 1 if keep else 1.0
    return where(keep, y - 1, 1.0)


def _safe_log(x):
    # log x where x > 0 and 0 elsewhere: d/dy x**y = x**y log x is 0 at x = 0
    if np.ndim(raw(x)) == 0:
        return log(x) if raw(x) > 0 else 0.0
    return log(where(raw(x) > 0, x, 1.0))


pow = defprim(  # noqa: A001 - the name the literature uses
    "pow", _pow_impl, "x y", "x ** y",
    jvp=(lambda t, ans, x, y: t * y * x ** _exponent_less_one(x, y),
         lambda t, ans, x, y: t * ans * _safe_log(x)),
    vjp=(lambda g, ans, x, y: g * y * x ** _exponent_less_one(x, y),
         lambda g, ans, x, y: g * ans * _safe_log(x)),
    reads=("x y", "x ans"))

# ---------------------------------------------------------------------------------
# Elementary functions
# ---------------------------------------------------------------------------------

sin = defprim(
    "sin", _scalar_fast(math.sin, np.sin), "x", "sin x",
    jvp=(lambda t, ans, x: t * cos(x),), vjp=(lambda g, ans, x: g * cos(x),),
    reads=("x",))

cos = defprim(
    "cos", _scalar_fast(math.cos, np.cos), "x", "cos x",
    jvp=(lambda t, ans, x: -t * sin(x),), vjp=(lambda g, ans, x: -g * sin(x),),
    reads=("x",))

tan = defprim(
    "tan", _scalar_fast(math.tan, np.tan), "x", "tan x;  d/dx tan x = 1 + tan² x",
    jvp=(lambda t, ans, x: t * (1 + ans * ans),),
    vjp=(lambda g, ans, x: g * (1 + ans * ans),),
    reads=("ans",))

exp = defprim(
    "exp", _scalar_fast(math.exp, np.exp), "x", "e^x;  d/dx e^x = e^x, the output itself",
    jvp=(lambda t, ans, x: t * ans,), vjp=(lambda g, ans, x: g * ans,),
    reads=("ans",))

log = defprim(
    "log", _scalar_fast(math.log, np.log), "x", "natural logarithm;  d/dx log x = 1/x",
    jvp=(lambda t, ans, x: t / x,), vjp=(lambda g, ans, x: g / x,),
    reads=("x",))

sqrt = defprim(
    "sqrt", _scalar_fast(math.sqrt, np.sqrt), "x", "square root;  d/dx √x = 1 / (2√x)",
    jvp=(lambda t, ans, x: t * 0.5 / ans,), vjp=(lambda g, ans, x: g * 0.5 / ans,),
    reads=("ans",))

absolute = defprim(
    "abs", _scalar_fast(builtins.abs, np.abs), "x", "|x|;  derivative sign(x) (0 at 0)",
    jvp=(lambda t, ans, x: t * _sign(x),), vjp=(lambda g, ans, x: g * _sign(x),),
    reads=("x",))

tanh = defprim(
    "tanh", _scalar_fast(math.tanh, np.tanh), "x", "tanh x;  derivative 1 - tanh² x",
    jvp=(lambda t, ans, x: t * (1 - ans * ans),),
    vjp=(lambda g, ans, x: g * (1 - ans * ans),),
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


sigmoid = defprim(
    "sigmoid", _sigmoid_impl, "x", "σ(x) = 1 / (1 + e^-x);  derivative σ(x)(1 - σ(x))",
    jvp=(lambda t, ans, x: t * ans * (1 - ans),),
    vjp=(lambda g, ans, x: g * ans * (1 - ans),),
    reads=("ans",))


def _relu_impl(x):
    if type(x) is float:
        return x if x > 0.0 else 0.0
    return np.maximum(x, 0)


relu = defprim(
    "relu", _relu_impl, "x", "max(x, 0);  derivative 1 where x > 0, else 0",
    jvp=(lambda t, ans, x: t * (raw(x) > 0),), vjp=(lambda g, ans, x: g * (raw(x) > 0),),
    reads=("x",))


def _winner(x, y, strict):
    # 1 where x wins, 0 where y wins, 1/2 on ties (the subgradient JAX uses too)
    x, y = raw(x), raw(y)
    return strict(x, y) + 0.5 * (x == y)


maximum = defprim(
    "maximum", np.maximum, "x y", "elementwise max; ties share the derivative equally",
    jvp=(lambda t, ans, x, y: t * _winner(x, y, np.greater),
         lambda t, ans, x, y: t * _winner(y, x, np.greater)),
    vjp=(lambda g, ans, x, y: g * _winner(x, y, np.greater),
         lambda g, ans, x, y: g * _winner(y, x, np.greater)),
    reads=("x y", "x y"))

minimum = defprim(
    "minimum", np.minimum, "x y", "elementwise min; ties share the derivative equally",
    jvp=(lambda t, ans, x, y: t * _winner(x, y, np.less),
         lambda t, ans, x, y: t * _winner(y, x, np.less)),
    vjp=(lambda g, ans, x, y: g * _winner(x, y, np.less),
         lambda g, ans, x, y: g * _winner(y, x, np.less)),
    reads=("x y", "x y"))

_where = defprim(
    "where", np.where, "cond x y", "x where cond holds, y elsewhere (cond is not differentiated)",
    jvp=(None,
         lambda t, ans, c, x, y: where(c, t, 0.0),
         lambda t, ans, c, x, y: where(c, 0.0, t)),
    vjp=(None,
         lambda g, ans, c, x, y: where(c, g, 0.0),
         lambda g, ans, c, x, y: where(c, 0.0, g)),
    reads=("", "cond", "cond"))


def where(cond, x, y):
    """``x`` where ``cond`` is true, ``y`` elsewhere. The condition is a plain boolean array."""
    return _where(raw(cond), x, y)


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
    na, nb = np.ndim(raw(a)), np.ndim(raw(b))
    if nb == 1:
        return g * b if na == 1 else reshape(g, _shape(g) + (1,)) * b
    if na == 1:  # a_bar[k] = sum over batch and j of b[..., k, j] g[..., j]
        gm = matmul(b, reshape(g, _shape(g) + (1,)))
        return reshape(gm, _shape(gm)[:-1])
    return matmul(g, _mT(b))


def _matmul_vjp_b(g, ans, a, b):
    # y = a @ b  =>  b_bar = a^T @ y_bar (with 1-D operands promoted and squeezed back)
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
    """``np.dot`` for scalars, vectors and matrices (``mul`` or ``matmul`` underneath)."""
    na, nb = np.ndim(raw(a)), np.ndim(raw(b))
    if na == 0 or nb == 0:
        return mul(a, b)
    if na <= 2 and nb <= 2:
        return matmul(a, b)
    raise ValueError(
        f"adlab.dot handles operands of up to 2 dimensions, got shapes {_shape(a)} and "
        f"{_shape(b)}. For stacks of matrices use matmul (@), whose batching rules are "
        "the ones you almost certainly want."
    )


# ---------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------

def _sum_vjp(g, ans, x, axis=None, keepdims=False):
    return broadcast_to(_keep(g, x, axis, keepdims), _shape(x))


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


def _argmax_mask(x, ans, axis, keepdims):
    # 1/k on each of the k entries that attain the maximum, 0 elsewhere
    xv = raw(x)
    best = raw(ans) if keepdims else np.reshape(raw(ans), _kept_shape(np.shape(xv), axis))
    hit = xv == best
    return hit / np.sum(hit, axis=axis, keepdims=True)


max = defprim(  # noqa: A001
    "max", lambda x, axis=None, keepdims=False: _np_max(x, axis=axis, keepdims=keepdims),
    "x", "maximum over axis; ties share the derivative equally",
    jvp=(lambda t, ans, x, axis=None, keepdims=False:
         sum(t * _argmax_mask(x, ans, axis, keepdims), axis=axis, keepdims=keepdims),),
    vjp=(lambda g, ans, x, axis=None, keepdims=False:
         _keep(g, x, axis, keepdims) * _argmax_mask(x, ans, axis, keepdims),),
    reads=("x ans",))


def _shifted(x, axis):
    """``x - max(x)`` along ``axis`` (so exp cannot overflow), and the shift used."""
    m = np.max(x, axis=axis, keepdims=True)
    if not np.all(np.isfinite(m)):  # a row of -inf: shift it by 0, not by -inf (nan)
        m = np.where(np.isfinite(m), m, 0.0)
    return x - m, m


def _logsumexp_impl(x, axis=None, keepdims=False):
    s, m = _shifted(x, axis)
    out = np.log(np.sum(np.exp(s), axis=axis, keepdims=True)) + m
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
    return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))


log_softmax = defprim(
    "log_softmax", _log_softmax_impl, "x",
    "x - logsumexp(x) along axis;  VJP g - softmax(x) Σ g",
    jvp=(lambda t, ans, x, axis=-1: t - sum(exp(ans) * t, axis=axis, keepdims=True),),
    vjp=(lambda g, ans, x, axis=-1: g - exp(ans) * sum(g, axis=axis, keepdims=True),),
    reads=("ans",))

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
    out = np.zeros(shape, dtype=np.result_type(g, np.float64) if np.ndim(g) == 0
                   else np.asarray(g).dtype)
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


def concatenate(arrays, axis: int = 0):
    """Join a sequence of arrays along an existing axis (like ``np.concatenate``)."""
    return _concatenate(*arrays, axis=axis)


def stack(arrays, axis: int = 0):
    """Join a sequence of arrays along a new axis (like ``np.stack``)."""
    return _stack(*arrays, axis=axis)


# ---------------------------------------------------------------------------------
# Convenience functions built from primitives (not primitives themselves)
# ---------------------------------------------------------------------------------

def expand_dims(x, axis: int):
    shape = list(_shape(x))
    shape.insert(axis % (len(shape) + 1), 1)
    return reshape(x, tuple(shape))


def squeeze(x, axis=None):
    shape = _shape(x)
    if axis is None:
        keep = tuple(n for n in shape if n != 1)
    else:
        axes = {a % len(shape) for a in (axis if isinstance(axis, tuple) else (axis,))}
        keep = tuple(n for i, n in enumerate(shape) if i not in axes)
    return reshape(x, keep)


def swapaxes(x, a: int, b: int):
    axes = list(range(len(_shape(x))))
    axes[a], axes[b] = axes[b], axes[a]
    return transpose(x, tuple(axes))


def zeros_like(x):
    return np.zeros_like(raw(x), dtype=float)


def ones_like(x):
    return np.ones_like(raw(x), dtype=float)


def rule_table() -> str:
    """A plain-text table of every primitive: name, meaning, and what its VJP reads."""
    rows = []
    for name, p in sorted(REGISTRY.items()):
        reads = sorted({r for rs in p.reads for r in rs})
        rows.append(f"{name:12s} {p.doc or '':70s} reads: {', '.join(reads) or '-'}")
    return "\n".join(rows)

