"""float32 in, float32 out: values and derivatives keep the inputs' precision.

NumPy 2 follows NEP 50: a Python float is "weak" (``float32 * 2.0`` is float32) but a
float64 array, even a 0-d one, is not (``float32 * np.float64(2)`` is float64). One
float64 constant anywhere in a rule (a seed ``1.0`` made into an array, ``np.zeros(..,
dtype=float)``, a float64 mask) silently turns a float32 computation into a float64 one:
slower, twice the memory, and not what the user asked for. These tests check:

1. every primitive of :data:`adlab.ops.REGISTRY` (iterated, so primitives added later
   are covered too) on its typical inputs made float32: the value, forward and reverse
   mode, ``Var.backward`` and ``Dual``, and second order in all four combinations
   (rev-rev, fwd-rev, rev-fwd, fwd-fwd), each float32 and close to the float64 result;
2. the transformations (grad, value_and_grad, vjp, jvp, jacfwd, jacrev, hessian), seeds
   and zero cotangents / tangents, ``Var.backward``, ``zero_grad``, ``Dual``;
3. Python floats stay Python floats / float64;
4. a float32 training step of ``nn.MLP`` with ``optim.SGD`` and ``optim.Adam``.
"""

from __future__ import annotations

import numpy as np
import pytest

import adlab as ad
from adlab import nn, ops, optim
from adlab.core import raw

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)
REGISTRY = ops.REGISTRY


def dtype_of(x) -> np.dtype:
    """The dtype of a plain result (a Python float counts as float64)."""
    x = raw(x)
    assert not isinstance(x, ad.core.Box)
    return np.result_type(x)


def assert_f32(x, what: str, expected: np.dtype = F32) -> None:
    x = raw(x)
    assert type(x) is not float, f"{what}: a Python float, expected {expected}"
    assert dtype_of(x) == expected, f"{what}: dtype {dtype_of(x)}, expected {expected}"


def assert_close(a32, a64, what: str, tol: float = 3e-3) -> None:
    a32, a64 = np.asarray(raw(a32), F64), np.asarray(raw(a64), F64)
    scale = max(1.0, float(np.max(np.abs(a64), initial=0.0)))
    assert a32.shape == a64.shape, f"{what}: shape {a32.shape} != {a64.shape}"
    assert np.allclose(a32, a64, rtol=tol, atol=tol * scale, equal_nan=True), (
        f"{what}: float32 result differs from float64 by "
        f"{np.nanmax(np.abs(a32 - a64)):.3g}")


# ---------------------------------------------------------------------------------
# 1. Every primitive
# ---------------------------------------------------------------------------------

def _cases(name: str, rng) -> list:
    """Typical (args, params) of a primitive, float64, from the registry's test tables."""
    from test_primitives import _typical  # the inputs every registry test uses

    prim = REGISTRY[name]
    try:
        return _typical(name, rng)
    except AssertionError:
        if not prim.constant:
            raise
        # a piecewise-constant primitive (comparison, sign, floor...): any operands
        n = 2 if prim.variadic else prim.nargs
        return [(tuple(rng.uniform(-2, 2, (3, 4)) for _ in range(n)), {})]


def _to32(args: tuple) -> tuple:
    """Float arrays become float32. Python floats stay (weak) Python floats when an
    array operand is float32 too, else they become NumPy float32 scalars."""
    arrays = any(isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in args)
    out = []
    for a in args:
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            a = a.astype(F32)
        elif type(a) is float and not arrays:
            a = np.float32(a)
        out.append(a)
    return tuple(out)


def _is_float32(a) -> bool:
    return isinstance(a, (np.ndarray, np.floating)) and a.dtype == F32


def _derivatives(prim, args: tuple, params: dict, i: int, ct, v) -> dict:
    """Every first and second derivative of h(z) = <prim(args with z at i), ct> at args[i]
    in direction v, by each mode and pair of modes; and backward() / Dual."""
    def h(z):
        a = list(args)
        a[i] = z
        return ad.sum(prim(*a, **params) * ct)

    x = args[i]
    g = ad.grad(h)
    out = {
        "rev": g(x),
        "fwd": ad.jvp(h, (x,), (v,))[1],
        "rev-rev": ad.grad(lambda z: ad.sum(g(z) * v))(x),
        "fwd-rev": ad.jvp(g, (x,), (v,))[1],
        "rev-fwd": ad.grad(lambda z: ad.jvp(h, (z,), (v,))[1])(x),
        "fwd-fwd": ad.jvp(lambda z: ad.jvp(h, (z,), (v,))[1], (x,), (v,))[1],
    }
    if prim.constant:
        return out  # not recorded at all: no Var or Dual comes out
    # the PyTorch-style paths: a hand-made Var and backward(seed), a hand-made Dual
    a = list(args)
    a[i] = var = ad.Var(x)
    prim(*a, **params).backward(seed=ct)
    out["Var.backward"] = var.grad
    a[i] = ad.Dual(x, v)
    out["Dual"] = prim(*a, **params).tangent
    return out


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_primitive_keeps_float32(name):
    prim = REGISTRY[name]
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    checked = 0
    for args64, params in _cases(name, rng):
        args32 = _to32(args64)
        ans32, ans64 = prim(*args32, **params), prim(*args64, **params)
        where = f"{name}{tuple(np.shape(a) for a in args32)} {params}"
        # float32 out, unless the primitive is told the output's dtype (astype)
        out_dtype = np.dtype(params["dtype"]) if "dtype" in params else F32
        if np.result_type(ans64).kind == "f":
            assert_f32(ans32, f"value of {where}", out_dtype)
            assert_close(ans32, ans64, f"value of {where}")
        shape = np.shape(ans64)
        ct64 = rng.uniform(-1, 1, shape)
        for i, a in enumerate(args32):
            if not _is_float32(a):
                continue  # a condition, an index, or a weak Python float operand
            if not prim.constant and not prim.differentiable(i):
                continue
            v64 = rng.uniform(-1, 1, np.shape(a))
            d32 = _derivatives(prim, args32, params, i,
                               ct64.astype(F32), v64.astype(F32))
            a64 = list(args32)
            d64 = _derivatives(prim, tuple(np.asarray(x, F64) if _is_float32(x) else x
                                           for x in a64), params, i, ct64, v64)
            for how, d in d32.items():
                # tangents of the output have its dtype; adjoints have the input's
                expected = out_dtype if how in ("fwd", "fwd-fwd", "Dual") else F32
                assert_f32(d, f"{how} derivative of {where} in argument {i}", expected)
                assert_close(d, d64[how], f"{how} derivative of {where} in argument {i}")
            checked += 1
    assert checked, f"{name}: no case had a float32 operand to differentiate"


# Rules that choose between formulas (kinks, zeros, ties) build constants of their own:
# their branches must be in the operands' precision too.
Z32 = np.array([0.0, 1.0, -2.0, 1.0], dtype=F32)  # a zero, a tie, a negative entry
EDGES = {
    "relu at 0": lambda x: ad.relu(x),
    "abs at 0": lambda x: ad.abs(x),
    "maximum, ties": lambda x: ad.maximum(x, 1.0),
    "minimum, ties": lambda x: ad.minimum(x, x[1]),
    "max, ties": lambda x: ad.max(x),
    "where, Python float branch": lambda x: ad.where(x > 0, x * x, 2.0),
    "x ** 2.0 at 0": lambda x: x**2.0,
    "x ** 3 at 0": lambda x: x**3,
    "2.0 ** x": lambda x: 2.0**x,
    "x ** 0.0 at 0": lambda x: x**0.0,
    "sqrt": lambda x: ad.sqrt(x * x + 1.0),
    "mean": lambda x: ad.mean(x * x, axis=0),
    "getitem, repeated index": lambda x: x[np.array([0, 0, 3, 2])] * x[1],
    "stack and concatenate": lambda x: ad.concatenate([ad.stack([x, x * 2.0]), x[None]]),
}


@pytest.mark.parametrize("f", list(EDGES.values()), ids=list(EDGES))
def test_rules_at_kinks_zeros_and_ties_keep_float32(f):
    h = lambda x: ad.sum(f(x) * ad.sin(x))
    g = ad.grad(h)
    x, v = Z32, np.ones(4, F32)
    for how, d in {"rev": g(x), "fwd": ad.jvp(h, (x,), (v,))[1],
                   "rev-rev": ad.grad(lambda z: ad.sum(g(z) * ad.cos(z)))(x),
                   "fwd-rev": ad.jvp(g, (x,), (v,))[1]}.items():
        assert_f32(d, how)
        ref = {"rev": g, "fwd": lambda x: ad.jvp(h, (x,), (v.astype(F64),))[1],
               "rev-rev": lambda x: ad.grad(lambda z: ad.sum(g(z) * ad.cos(z)))(x),
               "fwd-rev": lambda x: ad.jvp(g, (x,), (v.astype(F64),))[1]}[how](
                   x.astype(F64))
        assert_close(d, ref, how)


# ---------------------------------------------------------------------------------
# 2. Transformations, seeds and zeros
# ---------------------------------------------------------------------------------

X32 = np.array([0.5, -1.25, 2.0], dtype=F32)


def cube_sum(x):
    return ad.sum(x * x * x)


def test_grad_and_value_and_grad_seed_in_the_output_dtype():
    assert_f32(ad.grad(cube_sum)(X32), "grad")
    value, g = ad.value_and_grad(cube_sum)(X32)
    assert_f32(value, "value")
    assert_f32(g, "value_and_grad's gradient")
    assert_close(g, 3 * X32.astype(F64) ** 2, "gradient")
    # a scalar NumPy float32 in, float32 out
    assert_f32(ad.grad(lambda x: x * x)(np.float32(3.0)), "grad of a float32 scalar")


def test_grad_with_several_arguments_and_containers():
    params = {"w": X32, "b": [np.float32(0.5), np.ones((2, 3), F32)]}

    def loss(p, scale):
        return ad.sum(p["w"] * p["w"]) * p["b"][0] + ad.mean(p["b"][1]) * scale

    g = ad.grad(loss)(params, 2.0)
    for leaf in (g["w"], g["b"][0], g["b"][1]):
        assert_f32(leaf, "gradient leaf")
    gw, gs = ad.grad(loss, argnums=(0, 1))(params, np.float32(2.0))
    assert_f32(gs, "gradient of a float32 scalar argument")


def test_unused_inputs_get_float32_zeros():
    g = ad.grad(lambda x, y: ad.sum(x * 2.0), argnums=(0, 1))(X32, np.ones(2, F32))
    assert_f32(g[1], "zero cotangent of an unused input")
    assert np.all(g[1] == 0)
    _, fn = ad.vjp(lambda x, y: x, X32, np.float32(1.0))
    assert_f32(fn(np.ones(3, F32))[1], "vjp's zero cotangent")
    # an output that does not depend on the input: a zero tangent in its own dtype
    _, t = ad.jvp(lambda x: np.ones(2, F32), (X32,), (X32,))
    assert_f32(t, "jvp's zero tangent of a constant output")


def test_vjp_and_backward_cast_float64_seeds_to_the_output_dtype():
    out, fn = ad.vjp(lambda x: x * x, X32)
    assert_f32(out, "vjp's output")
    for seed in (np.ones(3), np.ones(3, F32), np.ones(3, np.float16)):
        assert_f32(fn(seed)[0], f"vjp_fn({type(seed).__name__})")
    x = ad.Var(X32)
    (x * x).backward(seed=np.ones(3))  # a float64 seed for a float32 output
    assert_f32(x.grad, "backward() with a float64 seed")
    y = ad.Var(np.float32(2.0))
    (y**2).backward()
    assert_f32(y.grad, "Var(float32) ** 2, backward()")
    z = ad.Var(X32)
    ad.sum(z**2.0).backward()
    assert_f32(z.grad, "sum(Var ** 2.0).backward()")


def test_zero_grad_and_dual_default_tangents():
    x = ad.Var(X32)
    x.zero_grad()
    assert_f32(x.grad, "zero_grad")
    assert_f32(ad.Dual(X32).tangent, "Dual's default tangent")
    assert_f32(ad.Dual(np.float32(1.0)).tangent, "Dual's default tangent (scalar)")
    d = ad.Dual(X32, np.ones(3))  # a float64 tangent for a float32 value
    assert_f32(d.tangent, "Dual's tangent")
    assert_f32((d * d).tangent, "tangent of Dual * Dual")


def test_jvp_casts_tangents_to_the_primal_dtype():
    out, t = ad.jvp(lambda x: ad.sin(x) * 2.0, (X32,), (np.ones(3),))
    assert_f32(out, "jvp's output")
    assert_f32(t, "jvp's tangent with a float64 seed")
    # a linear primitive with a Python-number operand (zero tangent 0.0, not a float64 0-d)
    for f in (lambda x: 2.0 + x, lambda x: x - 3, lambda x: ad.concatenate([x, x])):
        assert_f32(ad.jvp(f, (X32,), (X32,))[1], "tangent of a linear primitive")
    # a NumPy float64 constant promotes (NumPy scalars are not weak): value and tangent
    # are float64 alike, in both modes
    for f in (lambda x: x + np.float64(2.0), lambda x: x * np.ones(3)):
        out, t = ad.jvp(f, (X32,), (X32,))
        assert dtype_of(out) == dtype_of(t) == F64
        assert dtype_of(ad.vjp(f, X32)[1](np.ones(3))[0]) == F64


@pytest.mark.parametrize("jac", [ad.jacfwd, ad.jacrev])
def test_jacobians_and_hessian(jac):
    f = lambda x: ad.tanh(x) * x[0]
    J = jac(f)(X32)
    assert_f32(J, jac.__name__)
    assert J.shape == (3, 3)
    assert_close(J, ad.jacfwd(f)(X32.astype(F64)), jac.__name__)
    H = ad.hessian(cube_sum)(X32)
    assert_f32(H, "hessian")
    assert_close(H, np.diag(6 * X32.astype(F64)), "hessian")
    # a second argument of another precision: each Jacobian in its promoted dtype
    J0, J1 = jac(lambda x, y: x * y, argnums=(0, 1))(X32, np.float32(2.0))
    assert_f32(J0, "Jacobian w.r.t. x")
    assert_f32(J1, "Jacobian w.r.t. y")


def test_nested_derivatives_stay_float32():
    d2 = ad.grad(ad.grad(lambda x: x * x * x))(np.float32(2.0))
    assert_f32(d2, "grad(grad(f))")
    hvp = ad.jvp(ad.grad(cube_sum), (X32,), (np.ones(3, F32),))[1]
    assert_f32(hvp, "Hessian-vector product")


# ---------------------------------------------------------------------------------
# 3. Python floats stay Python floats (float64)
# ---------------------------------------------------------------------------------

def test_python_floats_stay_float64():
    g = ad.grad(lambda x: x * x + ad.sin(x))(2.0)
    assert isinstance(g, float)
    assert ad.grad(lambda x: ad.maximum(x, 1.0) ** 2.0)(2.0) == 4.0
    assert dtype_of(ad.grad(lambda x: ad.max(x * x))(np.array([1.0, 3.0]))) == F64
    assert dtype_of(ad.jacrev(lambda x: x * x)(2.0)) == F64
    assert dtype_of(ad.Dual(2.0).tangent) == F64
    x = ad.Var(2.0)
    (x**2).backward()
    assert isinstance(x.grad, float) and x.grad == 4.0
    x.zero_grad()
    assert x.grad == 0.0 and dtype_of(x.grad) == F64


# ---------------------------------------------------------------------------------
# 4. Training float32 networks
# ---------------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("make_opt", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
                                      lambda ps: optim.Adam(ps, lr=1e-2)],
                         ids=["SGD", "Adam"])
def test_float32_training_step(activation, make_opt):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 8)).astype(F32)
    y = rng.integers(0, 3, 16)
    net = nn.MLP([8, 12, 3], activation, seed=0, dtype=np.float32)
    opt = make_opt(net.parameters())
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = nn.cross_entropy(net(X), y)
        assert_f32(loss.value, "cross_entropy")
        loss.backward()
        for p in net.parameters():
            assert_f32(p.grad, f"gradient of {p.name}")
        opt.step()
        for p in net.parameters():
            assert_f32(p.value, f"{p.name} after the step")
        losses.append(float(loss.value))
    assert losses[-1] < losses[0]
    # the functional path: value_and_grad of the same loss over the parameter arrays
    vg = ad.value_and_grad(lambda ps: nn.cross_entropy(net.apply(ps, X), y))
    value, grads = vg(net.parameter_values())
    assert_f32(value, "functional loss")
    for g in grads:
        assert_f32(g, "functional gradient")
    # mse too
    loss = nn.mse(net(X), np.zeros((16, 3), F32))
    assert_f32(loss.value, "mse")
    net.zero_grad()
    loss.backward()
    for p in net.parameters():
        assert_f32(p.grad, f"mse gradient of {p.name}")
