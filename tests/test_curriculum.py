"""The worked examples of the course give their exact numbers, in every mode."""

import math

import numpy as np
import pytest

import adlab as ad


def z_sin(x1, x2):
    return x1 * x2 + ad.sin(x1)


def test_product_plus_sine_reverse_with_vars():
    x1, x2 = ad.Var(2.0), ad.Var(3.0)
    z = z_sin(x1, x2)
    z.backward()
    assert z.value == pytest.approx(6 + math.sin(2))
    assert z.value == pytest.approx(6.909297, abs=1e-6)
    assert x1.grad == pytest.approx(3 + math.cos(2))
    assert x1.grad == pytest.approx(2.583853, abs=1e-6)
    assert x2.grad == 2.0


def test_product_plus_sine_forward_needs_two_seeds():
    value, d1 = ad.jvp(z_sin, (2.0, 3.0), (1.0, 0.0))
    _, d2 = ad.jvp(z_sin, (2.0, 3.0), (0.0, 1.0))
    assert value == pytest.approx(6.909297426825682)
    assert (d1, d2) == pytest.approx((3 + math.cos(2), 2.0))


def test_product_plus_sine_with_duals():
    z = z_sin(ad.Dual(2.0, 1.0), ad.Dual(3.0, 0.0))
    assert (z.value, z.tangent) == pytest.approx((6 + math.sin(2), 3 + math.cos(2)))


def test_product_plus_sine_trace_matches_the_literature():
    t = ad.trace(z_sin, 2.0, 3.0)
    assert [n.name for n in t.nodes] == ["v-1", "v0", "v1", "v2", "v3"]
    assert [n.op for n in t.nodes] == ["input", "input", "mul", "sin", "add"]
    assert t["v1"].inputs == ("v-1", "v0") and t["v2"].inputs == ("v-1",)
    assert [n.label for n in t.nodes[:2]] == ["x1", "x2"]
    assert t.output == "v3"
    tangents = t.forward((1, 0))
    assert tangents["v3"] == pytest.approx(2.583853, abs=1e-6)
    assert tangents["v2"] == pytest.approx(math.cos(2))
    adjoints = t.reverse()
    assert adjoints["v-1"] == pytest.approx(2.583853, abs=1e-6) and adjoints["v0"] == 2.0
    # v-1 is used twice: its adjoint is the sum of two contributions
    sources = [c.source for c in adjoints.contributions["v-1"]]
    assert sorted(sources) == ["v1", "v2"]
    assert sum(c.value for c in adjoints.contributions["v-1"]) == pytest.approx(adjoints["v-1"])


def shared(x, y):
    return x * (x + y) + y * y


@pytest.mark.parametrize("mode", ["grad", "jacfwd", "jacrev", "trace"])
def test_shared_subexpression_example(mode):
    if mode == "grad":
        got = ad.grad(shared, argnums=(0, 1))(2.0, 3.0)
    elif mode == "trace":
        adj = ad.trace(shared, 2.0, 3.0).reverse()
        got = (adj["v-1"], adj["v0"])
    else:
        jac = getattr(ad, mode)(shared, argnums=(0, 1))
        got = tuple(float(j) for j in jac(2.0, 3.0))
    assert shared(2.0, 3.0) == 19
    assert got == pytest.approx((7.0, 8.0))


def squared_gap(x1, x2, x3, x4):
    return (x1 * x2 - (x3 + x4)) ** 2


def test_squared_gap_partials_and_passes():
    x = (1.5, -2.0, 0.5, 3.0)
    c = x[0] * x[1] - (x[2] + x[3])
    expected = (2 * c * x[1], 2 * c * x[0], -2 * c, -2 * c)
    assert ad.grad(squared_gap, argnums=(0, 1, 2, 3))(*x) == pytest.approx(expected)
    # forward mode: one pass per input seed gives one partial each
    for i in range(4):
        seed = [0.0] * 4
        seed[i] = 1.0
        assert ad.jvp(squared_gap, x, seed)[1] == pytest.approx(expected[i])


def test_squared_gap_stores_x1_x2_and_the_difference_not_the_sum():
    t = ad.trace(squared_gap, 1.5, -2.0, 0.5, 3.0)
    by_op = {n.op: n.name for n in t.nodes}
    assert t.saved() == ["v-3", "v-2", by_op["sub"]]
    assert by_op["add"] not in t.saved()
    assert t.saved_bytes() == 3 * 8


def test_chain_of_compositions_multiplies_local_derivatives():
    h, g, f = ad.sin, ad.exp, ad.tanh
    x = 0.7
    w1 = math.sin(x)
    w2 = math.exp(w1)
    expected = (1 - math.tanh(w2) ** 2) * w2 * math.cos(x)
    assert ad.grad(lambda x: f(g(h(x))))(x) == pytest.approx(expected)
    assert ad.jvp(lambda x: f(g(h(x))), (x,), (1.0,))[1] == pytest.approx(expected)


def test_nested_derivatives_keep_perturbations_apart():
    # d/dx [ x * d/dy (x + y) ] at x = y = 1 is 1 (perturbation confusion would give 2)
    inner = lambda x: ad.grad(lambda y: x + y)(1.0)  # noqa: E731
    assert ad.grad(lambda x: x * inner(x))(1.0) == 1.0
    inner_fwd = lambda x: ad.jvp(lambda y: x + y, (1.0,), (1.0,))[1]  # noqa: E731
    assert ad.jvp(lambda x: x * inner_fwd(x), (1.0,), (1.0,))[1] == 1.0
    assert ad.jvp(lambda x: x * inner(x), (1.0,), (1.0,))[1] == 1.0
    assert ad.grad(lambda x: x * inner_fwd(x))(1.0) == 1.0


def test_mlp_of_the_course_gradients_match_central_differences():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5))
    y_true = np.eye(3)[rng.integers(0, 3, 4)]
    params = [rng.standard_normal(s) * 0.5 for s in [(5, 6), (6,), (6, 4), (4,), (4, 3), (3,)]]

    def loss(x, W1, b1, W2, b2, W3, b3):
        h1 = ad.sigmoid(x @ W1 + b1)
        h2 = ad.tanh(h1 @ W2 + b2)
        logp = ad.log_softmax(h2 @ W3 + b3, axis=-1)
        return -ad.mean(ad.sum(y_true * logp, axis=-1))

    ad.check_grads(loss, (x, *params), modes=("rev",), order=1)
    grads = ad.grad(loss, argnums=tuple(range(7)))(x, *params)
    assert [g.shape for g in grads] == [x.shape] + [p.shape for p in params]
