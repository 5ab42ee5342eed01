"""No silent wrong derivative: converting a value being differentiated raises, and says why.

Inside a transformation (grad, value_and_grad, vjp, jvp, jacfwd, jacrev, hessian, trace,
checkpoint), ``math.sin(x)``, ``float(x)``, ``np.float64(x)``, ``np.array(v, dtype=float)``
and NumPy arrays made from lists of values would turn a value being differentiated into
a constant. Each either gives the right derivative or raises :class:`ad.ConversionError`
(an AdlabError and a TypeError) whose message names the fix. Finished values (hand-made
Vars and Duals, results of a transformation that has returned) convert as before.

The last test states the rule in general: hypothesis (derandomized) draws small programs
mixing adlab operations, NumPy functions and these traps, and every transformation of
every program either raises or agrees with central differences.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import adlab as ad
from adlab import numeric

X2 = np.array([1.0, 2.0])


def _object_array(*values):
    """An object array holding the values (as NumPy builds from lists, without asking)."""
    a = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        a[i] = v
    return a


def _raises_naming(fn, *fixes):
    """``fn()`` raises a ConversionError whose message contains every one of ``fixes``."""
    with pytest.raises(ad.ConversionError) as info:
        fn()
    message = str(info.value)
    for fix in fixes:
        assert fix in message, f"{fix!r} not in the message:\n{message}"
    assert "What to do" in message
    return message


# ---------------------------------------------------------------------------------
# The cases of issue 11: each raises, naming the fix
# ---------------------------------------------------------------------------------

CASES = {
    "math.sin in grad": (lambda: ad.grad(lambda x: math.sin(x))(2.0),
                         ("`math.sin(x)`", "ad.sin(x)", ".value")),
    "math.exp in jvp": (lambda: ad.jvp(lambda x: math.exp(x), (1.0,), (1.0,)),
                        ("`math.exp(x)`", "ad.exp(x)", "forward mode")),
    "math.log in jacfwd": (lambda: ad.jacfwd(lambda x: math.log(x))(2.0), ("ad.log(x)",)),
    "math.sqrt in vjp": (lambda: ad.vjp(lambda x: math.sqrt(x), 2.0), ("ad.sqrt(x)",)),
    "float()": (lambda: ad.grad(lambda x: float(x) * x)(2.0),
                ("`float(x)`", "keep x as it is", "float(x.value)")),
    "int()": (lambda: ad.grad(lambda x: int(x) * x)(2.0), ("`int(x)`", ".value")),
    "complex()": (lambda: ad.grad(lambda x: complex(x).real * x)(2.0),
                  ("`complex(x)`", ".value")),
    "np.float64()": (lambda: ad.grad(lambda x: np.float64(x) * x)(2.0),
                     ("`np.float64(x)`", ".value")),
    "np.mean of a list": (lambda: ad.grad(lambda x: np.mean([x, x + 2]))(0.0),
                          ("np.mean(ad.stack([x, x + 2]))", "ad.stack")),
    "np.array(v, dtype=float)": (
        lambda: ad.grad(lambda v: np.sum(np.sin(np.array(v, dtype=float))))(X2),
        ("np.array(v, dtype=float)", "np.sin(v)", "v.value")),
    "np.asarray(v, float)": (lambda: ad.grad(lambda v: np.sum(np.asarray(v, float)))(X2),
                             ("np.asarray(v, float)", ".value")),
    "np.array of a list, jacrev": (
        lambda: ad.jacrev(lambda x: np.array([x[0], x[1]]))(X2),
        ("ad.stack([x[0], x[1]])",)),
    "np.r_": (lambda: ad.jacrev(lambda x: np.r_[x])(X2), ("np.r_[x]", "ad.stack")),
    "np.c_ of a 2-D value": (lambda: ad.jacfwd(lambda x: np.c_[x, x])(np.ones((2, 2))),
                             ("np.c_[x, x]", "ad.concatenate")),
    "math.sin in trace": (lambda: ad.trace(lambda x: math.sin(x), 1.0), ("ad.sin(x)",)),
    "math.sin in checkpoint": (
        lambda: ad.grad(lambda x: ad.checkpoint(lambda h: math.sin(h))(x))(2.0),
        ("ad.sin(h)",)),
    "float in hessian": (lambda: ad.hessian(lambda x: float(x[0]) * ad.sum(x ** 2))(X2),
                         ("`float(x[0])`", "x[0].value")),
    "math.isfinite": (lambda: ad.grad(lambda x: x * math.isfinite(x))(2.0),
                      ("np.isfinite(x)",)),
    "a math function adlab lacks": (lambda: ad.grad(lambda x: math.erf(x))(2.0),
                                    ("no derivative rule for math.erf", "Primitive")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_trap_raises_and_names_the_fix(case):
    fn, fixes = CASES[case]
    _raises_naming(fn, *fixes)


def test_the_error_is_an_adlab_error_and_a_type_error_and_says_where():
    with pytest.raises(ad.AdlabError) as info:
        ad.grad(lambda x: math.sin(x))(2.0)
    assert isinstance(info.value, TypeError)
    message = str(info.value)
    assert "test_honest.py" in message and "line" in message
    assert "reverse mode" in message and "Var" in message


def test_numpy_internals_are_named_and_the_users_line_is_shown():
    message = _raises_naming(lambda: ad.grad(lambda x: np.mean([x, x + 2]))(0.0))
    assert "inside NumPy's" in message and "`np.mean([x, x + 2])`" in message


def test_the_fixes_give_the_right_derivatives():
    assert ad.grad(lambda x: ad.sin(x))(2.0) == pytest.approx(math.cos(2.0))
    assert ad.jvp(lambda x: ad.exp(x), (1.0,), (1.0,))[1] == pytest.approx(math.e)
    assert ad.grad(lambda x: x * x)(2.0) == pytest.approx(4.0)
    assert ad.grad(lambda x: np.mean(ad.stack([x, x + 2])))(0.0) == pytest.approx(1.0)
    np.testing.assert_allclose(ad.grad(lambda v: np.sum(np.sin(v)))(X2), np.cos(X2))
    np.testing.assert_allclose(ad.jacrev(lambda x: ad.stack([x[0], x[1]]))(X2), np.eye(2))
    np.testing.assert_allclose(ad.jacfwd(lambda x: ad.concatenate([x, x]))(X2),
                               np.vstack([np.eye(2), np.eye(2)]))
    # .value reads a number on purpose: a constant for the derivative
    assert ad.grad(lambda x: float(x.value) * x)(2.0) == pytest.approx(2.0)
    assert ad.grad(lambda x: x * math.sin(x.value))(2.0) == pytest.approx(math.sin(2.0))


# ---------------------------------------------------------------------------------
# Outputs that are object arrays of adlab values
# ---------------------------------------------------------------------------------

OBJECT_OUTPUTS = {
    "grad": lambda: ad.grad(lambda x: _object_array(x[0] * x[1])[0:1])(X2),
    "value_and_grad": lambda: ad.value_and_grad(lambda x: _object_array(x * x))(2.0),
    "vjp": lambda: ad.vjp(lambda x: _object_array(x[0], x[1]), X2),
    "jvp": lambda: ad.jvp(lambda x: _object_array(x[0], x[1]), (X2,), (X2,)),
    "jacfwd": lambda: ad.jacfwd(lambda x: _object_array(x[0], x[1]))(X2),
    "jacrev": lambda: ad.jacrev(lambda x: _object_array(x[0], x[1]))(X2),
    "hessian": lambda: ad.hessian(lambda x: _object_array(x[0] * x[1], x[0]))(X2),
    "trace": lambda: ad.trace(lambda x: _object_array(x, x * 2), 1.0),
    "in a tuple": lambda: ad.jvp(lambda x: (x, _object_array(x)), (1.0,), (1.0,)),
}


@pytest.mark.parametrize("transform", list(OBJECT_OUTPUTS))
def test_an_object_array_output_is_refused(transform):
    message = _raises_naming(OBJECT_OUTPUTS[transform], "object array", "ad.stack")
    if transform == "in a tuple":
        assert "output 1 (of 2)" in message


def test_plain_object_arrays_and_constants_are_still_outputs():
    # no adlab value inside: nothing is lost, the derivative is zero
    value, tangent = ad.jvp(lambda x: np.array(["a", "b"], dtype=object), (1.0,), (1.0,))
    assert list(value) == ["a", "b"]
    assert ad.jacrev(lambda x: np.ones(2))(X2).shape == (2, 2)


# ---------------------------------------------------------------------------------
# What keeps working
# ---------------------------------------------------------------------------------

def test_finished_top_level_values_convert():
    x = ad.Var(2.0)
    loss = x * x + 1.0
    loss.backward()
    print(loss)
    assert str(loss) and repr(loss)
    assert f"{loss.value:.3f}" == "5.000"
    assert float(loss) == 5.0 and int(loss) == 5 and complex(loss) == 5 + 0j
    assert np.asarray(loss) == 5.0 and np.asarray(loss).dtype == float
    np.testing.assert_allclose(np.array(ad.Var(X2) * 2.0, dtype=float), 2 * X2)
    d = ad.Dual(2.0, 1.0) ** 2
    assert float(d) == 4.0 and int(d) == 4 and np.asarray(d) == 4.0
    value, g = ad.value_and_grad(lambda x: x ** 3)(2.0)
    assert float(value) == 8.0 and f"{value:.1f}" == "8.0" and float(g) == 12.0
    t = ad.trace(lambda x: ad.sin(x) * x, 1.0)
    assert float(t[t.output].value) == pytest.approx(math.sin(1.0))


def test_hand_made_vars_detach_like_pytorch():
    x = ad.Var(3.0)
    y = x * float(x)  # float(x) is a number here: dy/dx = float(x), not 2x
    y.backward()
    assert x.grad == 3.0


def test_hand_made_levels_are_never_active():
    seen = []

    def f(x):
        v, d = ad.Var(1.5), ad.Dual(1.5, 1.0)
        seen.append((v._level.active, d._level.active))
        return x * float(v) + x * float(d)

    assert ad.grad(f)(2.0) == pytest.approx(3.0)
    assert seen == [(False, False)]


def test_values_that_escape_a_finished_transformation_convert():
    kept = []

    def f(x):
        kept.append(x * 3.0)
        return x * x

    assert ad.grad(f)(3.0) == 6.0
    assert ad.jvp(f, (2.0,), (1.0,))[1] == 4.0
    assert [float(k) for k in kept] == [9.0, 6.0]
    assert [np.asarray(k) for k in kept] == [9.0, 6.0]


def test_the_flag_is_cleared_when_the_function_raises():
    kept = []

    def f(x):
        kept.append(x)
        raise ValueError("boom")

    for transform in (lambda: ad.grad(f)(1.0), lambda: ad.jvp(f, (1.0,), (1.0,)),
                      lambda: ad.trace(f, 1.0)):
        with pytest.raises(ValueError, match="boom"):
            transform()
    assert [float(k) for k in kept] == [1.0, 1.0, 1.0]
    assert not any(k._level.active for k in kept)


def test_reading_values_inside_a_transformation_keeps_working():
    seen = []

    def f(v):
        print(v, v[0])
        seen.append((f"{v[0].value:.2f}", v.shape, np.shape(v), len(v), np.ndim(v),
                     np.size(v), v.ndim, v.size, bool(v[0] > 0)))
        total = 0.0
        for entry in v:  # iteration over a 1-D value
            total = total + entry * entry
        if v[1] > v[0]:  # comparisons are values; if on them follows the branch
            total = total * 2.0
        return total

    np.testing.assert_allclose(ad.grad(f)(X2), 4 * X2)
    assert seen[0] == ("1.00", (2,), (2,), 2, 1, 2, 1, 2, True)
    # in a static graph the comparison becomes a guard, as before
    t = ad.trace(f, X2)
    assert len(t.guards) >= 1
    np.testing.assert_allclose(ad.grad(t)(X2), 4 * X2)


# ---------------------------------------------------------------------------------
# Nested transformations
# ---------------------------------------------------------------------------------

def test_grad_of_grad_with_float_inside_raises():
    _raises_naming(lambda: ad.grad(ad.grad(lambda x: float(x) * x ** 3))(2.0), "`float(x)`")
    _raises_naming(lambda: ad.hessian(lambda x: math.exp(x))(1.0), "ad.exp(x)")


def test_float_of_a_value_reads_every_level_inside():
    outer_values, inner_values = [], []

    def f(x):
        def g(y):
            inner_values.append(y * x)  # inner level, with an outer Var inside
            return y * x

        gx = ad.grad(g)(x)  # the inner grad has finished; gx is a Var of the outer level
        outer_values.append(gx)
        # the inner level is finished, but the outer one inside is still running
        _raises_naming(lambda: float(inner_values[0]), "`float(inner_values[0])`")
        _raises_naming(lambda: float(gx), "`float(gx)`")
        return gx * x

    assert ad.grad(f)(3.0) == pytest.approx(6.0)
    # everything has finished: the values convert
    assert float(outer_values[0]) == 3.0
    assert float(inner_values[0]) == 9.0


def test_nested_reads_with_value_are_constants_of_their_own_level():
    # x.value inside an inner transformation is an outer value: still differentiated there
    _raises_naming(lambda: ad.grad(ad.grad(lambda x: float(x.value) * x ** 2))(2.0))
    # ad.core.raw reads all the way down: a constant c = 2 at every level, (c x^2)'' = 2c
    assert ad.grad(ad.grad(lambda x: float(ad.core.raw(x)) * x ** 2))(2.0) == 4.0


# ---------------------------------------------------------------------------------
# The rule, in general: raise, or agree with central differences
# ---------------------------------------------------------------------------------

def _scalar(x):
    return np.ndim(x) == 0


SAFE = {
    "ad.sin": lambda x: ad.sin(x),
    "np.cos": lambda x: np.cos(x),
    "square": lambda x: 0.5 * x * x,
    "affine": lambda x: 0.5 * x - 1.0,
    "np.exp": lambda x: np.exp(0.3 * x),
    "np.tanh": lambda x: np.tanh(x),
    "mean of ad.stack": lambda x: np.mean(ad.stack([x, x + 2.0]), axis=0),
    "ad.where": lambda x: ad.where(x > 0, x * x, x * x * x),
    "if": lambda x: (x * x if x > 0 else x * x * x) if _scalar(x) else x * x,
    "hand-made constant": lambda x: x * float(ad.Var(1.5)),
    "iterate": lambda x: x if _scalar(x) else ad.stack([e * e for e in x]),
    "sizes": lambda x: x * float(np.size(x)) + len(np.shape(x)),
}

TRAPS = {
    "math.sin": lambda x: math.sin(x) if _scalar(x) else x * math.sin(x[0]),
    "math.exp": lambda x: math.exp(0.3 * x) if _scalar(x) else x * math.exp(0.3 * x[0]),
    "float": lambda x: float(x) * x if _scalar(x) else x * float(x[-1]),
    "int": lambda x: int(x) + x if _scalar(x) else x + int(x[0]),
    "complex": lambda x: complex(x).real * x if _scalar(x) else x * complex(x[0]).real,
    "np.float64": lambda x: np.float64(x) * x,
    "np.mean of a list": lambda x: np.mean([x, x + 2.0]),
    "np.array dtype": lambda x: np.sin(np.array(x, dtype=float)),
    "np.asarray": lambda x: np.asarray(x, float) * x,
    "np.array of a list": lambda x: np.sum(np.array([x, 2.0 * x]), axis=0),
    "np.r_": lambda x: np.r_[x, x],
}

STEPS = {**SAFE, **TRAPS}


def _program(steps):
    def f(x):
        for s in steps:
            x = STEPS[s](x)
        return np.sum(x)
    f.__name__ = "program"
    return f


def _transformed(kind, f, x):
    """What the transformation ``kind`` gives for ``f`` at ``x``, and what it should be."""
    if kind == "hessian":
        inner = lambda y: numeric.jacobian(f, y, h=1e-4)  # noqa: E731
        return ad.hessian(f)(x), numeric.jacobian(inner, x, h=1e-4), 1e-4
    expected = numeric.jacobian(f, x)
    if kind == "grad":
        got = ad.grad(f)(x)
    elif kind == "value_and_grad":
        value, got = ad.value_and_grad(f)(x)
        np.testing.assert_allclose(value, f(x))
    elif kind == "jvp":
        direction = np.linspace(1.0, -0.5, np.size(x)).reshape(np.shape(x))
        got = ad.jvp(f, (x,), (direction,))[1]
        expected = np.sum(expected * direction)
    elif kind == "vjp":
        got = ad.vjp(f, x)[1](1.0)[0]
    elif kind == "jacfwd":
        got = ad.jacfwd(f)(x)
    elif kind == "jacrev":
        got = ad.jacrev(f)(x)
    elif kind == "trace":
        got = ad.grad(ad.trace(f, x))(x)
    elif kind == "checkpoint":
        got = ad.grad(ad.checkpoint(f))(x)
    elif kind == "check_grads":
        ad.check_grads(f, [x], order=2)
        got = expected
    return got, expected, 1e-5


def _plain_derivative_exists(f, x) -> bool:
    try:
        with np.errstate(all="raise"):
            value = numeric.jacobian(f, x)
    except (ArithmeticError, TypeError, ValueError):
        return False  # int() of a non-finite value, say: nothing to compare with
    return bool(np.all(np.isfinite(value))) and np.all(np.abs(value) < 1e6)


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(steps=st.lists(st.sampled_from(sorted(SAFE) * 3 + sorted(TRAPS)), min_size=1,
                      max_size=4),
       x=st.one_of(st.floats(-1.5, 1.5),
                   st.lists(st.floats(-1.5, 1.5), min_size=2, max_size=2).map(np.array)),
       kind=st.sampled_from(["grad", "value_and_grad", "jvp", "vjp", "jacfwd", "jacrev",
                             "hessian", "trace", "checkpoint", "check_grads"]))
def test_every_path_raises_or_agrees_with_central_differences(steps, x, kind):
    f = _program(steps)
    if not _plain_derivative_exists(f, x):
        return event("skipped: no plain derivative")
    trapped = [s for s in steps if s in TRAPS]
    try:
        got, expected, tol = _transformed(kind, f, x)
    except ad.ConversionError as e:
        assert trapped, f"{kind} of {steps} raised, but no step converts a value:\n{e}"
        assert "What to do" in str(e) and (".value" in str(e) or "ad.stack" in str(e))
        return event("raised")
    assert not trapped, f"{kind} of {steps} did not raise, though {trapped} convert values"
    np.testing.assert_allclose(np.asarray(got, float), np.asarray(expected, float),
                               rtol=tol, atol=tol, err_msg=f"{kind} of {steps} at {x}")
    event("agreed with central differences")


def test_format_specs_show_the_value_inside_and_outside_transformations():
    """A formatted string carries no derivative, so f"{x:.3f}" works everywhere."""
    y = ad.Var(2.0) * 2.0
    assert f"{y:.3f}" == "4.000" and f"{y}" == str(y)
    shown = []
    assert ad.grad(lambda x: (shown.append(f"{x:.2f}"), x * x)[1])(3.0) == 6.0
    assert shown == ["3.00"]
