"""The public API: Var, Dual, the transformations, traces, and the errors that teach."""

import math
import warnings

import numpy as np
import pytest

import adlab as ad

# -- Var: define-by-run reverse mode -------------------------------------------------

def test_second_backward_accumulates_and_zero_grad_resets():
    x = ad.Var(3.0)
    y = x * x
    y.backward()
    assert x.grad == 6.0
    y.backward()  # one more use of the same graph: adds, as in PyTorch
    assert x.grad == 12.0
    x.zero_grad()
    assert x.grad == 0.0
    y.backward()
    assert x.grad == 6.0


def test_backward_sets_adjoints_of_intermediates_too():
    x1, x2 = ad.Var(2.0), ad.Var(3.0)
    w3 = x1 * x2
    w4 = ad.sin(x1)
    z = w3 + w4
    z.backward()
    assert (z.grad, w3.grad, w4.grad) == (1.0, 1.0, 1.0)


def test_variable_used_twice_sums_its_contributions():
    x = ad.Var(1.5)
    (x * ad.exp(x)).backward()
    assert x.grad == pytest.approx(math.exp(1.5) * 2.5)


def test_backward_of_array_output_needs_a_seed_and_explains_why():
    x = ad.Var(np.arange(3.0))
    y = x * 2
    with pytest.raises(ad.AdlabError) as e:
        y.backward()
    msg = str(e.value)
    assert "seed" in msg and "(3,)" in msg and "vector-Jacobian" in msg
    y.backward(seed=np.array([0.0, 1.0, 0.0]))  # one-hot seed: one row of the Jacobian
    np.testing.assert_array_equal(x.grad, [0.0, 2.0, 0.0])
    with pytest.raises(ad.AdlabError, match=r"shape \(2,\).*shape \(3,\)"):
        y.backward(seed=np.ones(2))


def test_integer_inputs_are_cast_to_float():
    assert isinstance(ad.Var(2).value, float)
    assert ad.Var(np.array([1, 2])).value.dtype == np.float64
    assert ad.grad(lambda x: x * x)(3) == 6.0
    g = ad.grad(lambda x: ad.sum(x * x))(np.array([1, 2, 3]))
    assert g.dtype == np.float64 and list(g) == [2.0, 4.0, 6.0]
    assert ad.jvp(lambda x: x ** 2, (3,), (1,))[1] == 6.0


def test_complex_and_non_numeric_inputs_are_refused_clearly():
    with pytest.raises(ad.AdlabError, match="complex"):
        ad.grad(lambda x: x)(1 + 2j)
    with pytest.raises(ad.AdlabError, match="cannot differentiate"):
        ad.Var("three")


def test_a_million_node_chain_differentiates_without_recursion():
    x = ad.Var(0.5)
    y = x
    for _ in range(500_000):
        y = y * 1.0000001 + 0.0  # 1,000,000 operations in one chain
    y.backward()
    assert x.grad == pytest.approx(1.0000001 ** 500_000, rel=1e-9)


def test_gradient_order_is_deterministic():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((20, 20))

    def f(x):
        h = x
        for _ in range(5):
            h = ad.tanh(h @ w) + h * 0.5
        return ad.sum(h * h)

    x = rng.standard_normal(20)
    a, b = ad.grad(f)(x), ad.grad(f)(x)
    assert np.array_equal(a, b)


def test_domain_errors_follow_numpy():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = ad.log(ad.Var(-1.0)).value
    assert math.isnan(value) and any(issubclass(w.category, RuntimeWarning) for w in caught)
    with np.errstate(over="ignore"):
        assert ad.exp(ad.Var(1000.0)).value == math.inf


# -- Dual: forward mode ---------------------------------------------------------------

def test_dual_defaults_and_shape_check():
    d = ad.Dual(np.ones(3))
    np.testing.assert_array_equal(d.tangent, np.zeros(3))
    with pytest.raises(ad.AdlabError, match="tangent must have its value's shape"):
        ad.Dual(np.ones(3), np.ones(2))
    z = ad.exp(ad.Dual(0.0, 2.0))
    assert (z.value, z.tangent) == (1.0, 2.0)
    assert repr(z) == "Dual(1, tangent=2)"  # numbers as adlab.fmt writes them


# -- transformations -----------------------------------------------------------------

def test_grad_of_non_scalar_output_points_to_vjp_and_jacrev():
    def f(x):
        return x * 2

    with pytest.raises(ad.AdlabError) as e:
        ad.grad(f)(np.ones(3))
    assert "vjp" in str(e.value) and "jacrev" in str(e.value) and "(3,)" in str(e.value)


def test_argnums_out_of_range_is_explained():
    with pytest.raises(ad.AdlabError, match="argument 2"):
        ad.grad(lambda x, y: x * y, argnums=2)(1.0, 2.0)


def test_vjp_function_can_be_called_for_several_seeds():
    def f(x):
        return ad.stack([x[0] * x[1], ad.sin(x[0])])

    x = np.array([2.0, 3.0])
    out, pullback = ad.vjp(f, x)
    np.testing.assert_allclose(out, [6.0, math.sin(2.0)])
    (row0,), (row1,) = pullback(np.array([1.0, 0.0])), pullback(np.array([0.0, 1.0]))
    np.testing.assert_allclose(row0, [3.0, 2.0])
    np.testing.assert_allclose(row1, [math.cos(2.0), 0.0])
    np.testing.assert_allclose(ad.jacrev(f)(x), np.stack([row0, row1]))
    with pytest.raises(ad.AdlabError, match="shape"):
        pullback(np.ones(3))


def test_output_that_ignores_the_input_has_zero_derivative():
    assert ad.grad(lambda x: 3.0)(1.0) == 0.0
    assert ad.jvp(lambda x: 3.0, (1.0,), (1.0,)) == (3.0, 0.0)


def test_jvp_needs_matching_tangents():
    with pytest.raises(ad.AdlabError, match="one tangent"):
        ad.jvp(ad.sin, (1.0, 2.0), (1.0,))
    with pytest.raises(ad.AdlabError, match="shape"):
        ad.jvp(ad.sin, (np.ones(3),), (np.ones(2),))


def test_grad_over_lists_and_dicts_of_arrays():
    params = {"w": np.array([1.0, 2.0]), "b": 0.5}

    def loss(p, x):
        return ad.sum((p["w"] * x + p["b"]) ** 2)

    g = ad.grad(loss)(params, np.array([3.0, -1.0]))
    assert set(g) == {"w", "b"}
    r = np.array([1.0, 2.0]) * np.array([3.0, -1.0]) + 0.5
    np.testing.assert_allclose(g["w"], 2 * r * np.array([3.0, -1.0]))
    assert g["b"] == pytest.approx(2 * r.sum())
    g_list = ad.grad(lambda ws: ws[0] * ws[1])([2.0, 5.0])
    assert g_list == [5.0, 2.0]


def test_higher_order_by_nesting():
    f = lambda x: x ** 4  # noqa: E731
    assert ad.grad(ad.grad(ad.grad(f)))(2.0) == pytest.approx(24 * 2.0)
    h = ad.hessian(lambda x: x[0] ** 2 * x[1] + ad.sin(x[1]))(np.array([1.0, 2.0]))
    np.testing.assert_allclose(h, [[4.0, 2.0], [2.0, -math.sin(2.0)]])
    # forward-over-reverse Hessian-vector product, without building the Hessian
    g = ad.grad(lambda x: ad.sum(x ** 3))
    x, v = np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, -1.0])
    np.testing.assert_allclose(ad.jvp(g, (x,), (v,))[1], 6 * x * v)


# -- NumPy interplay and errors --------------------------------------------------------

def test_numpy_functions_dispatch_to_adlab():
    x = ad.Var(np.array([0.5, 1.0]))
    y = np.sum(np.sin(x) * np.array([2.0, 3.0]))
    assert isinstance(y, ad.Var)
    y.backward()
    np.testing.assert_allclose(x.grad, np.cos([0.5, 1.0]) * [2.0, 3.0])


def test_numpy_function_without_rule_is_named():
    with pytest.raises(TypeError, match=r"numpy\.arcsinh"):
        np.arcsinh(ad.Var(0.5))
    with pytest.raises(TypeError, match=r"numpy\.linalg\.det|linalg.det"):
        np.linalg.det(ad.Var(np.eye(2)))


def test_shape_errors_name_the_operation_and_both_shapes():
    with pytest.raises(ad.ShapeError) as e:
        ad.Var(np.ones((2, 3))) @ np.ones((4, 2))
    assert "matmul" in str(e.value) and "(2, 3)" in str(e.value) and "(4, 2)" in str(e.value)
    with pytest.raises(ad.ShapeError, match=r"add.*\(3,\).*\(4,\)"):
        ad.Var(np.ones(3)) + np.ones(4)


# -- traces ------------------------------------------------------------------------------

def test_trace_repr_lists_every_step():
    text = repr(ad.trace(lambda x1, x2: x1 * x2 + ad.sin(x1), 2.0, 3.0))
    for line in ["v-1 = x1", "v0 = x2", "v1 = mul(v-1, v0)", "v2 = sin(v-1)",
                 "v3 = add(v1, v2)", "6.9093"]:
        assert line in text


def test_trace_forward_with_any_seed_is_a_directional_derivative():
    t = ad.trace(lambda x1, x2: x1 * x2 + ad.sin(x1), 2.0, 3.0)
    d = t.forward((0.6, 0.8))["v3"]
    assert d == pytest.approx(0.6 * (3 + math.cos(2)) + 0.8 * 2)
    with pytest.raises(ad.AdlabError, match="one seed entry per input"):
        t.forward((1.0,))


def test_trace_of_arrays_and_saved_values_of_exp_and_tanh():
    w = np.ones((3, 2))
    t = ad.trace(lambda x: ad.sum(ad.tanh(x @ w)), np.ones((4, 3)))
    ops = [n.op for n in t.nodes]
    assert ops == ["input", "matmul", "tanh", "sum"]
    # x's partial in x @ w reads only the constant w, so x itself is not stored;
    # tanh's partial reads its own output v2
    assert t.saved() == ["v2"]
    assert t.saved_bytes() == 4 * 2 * 8
    t2 = ad.trace(lambda x, w: ad.sum(ad.exp(x @ w)), np.ones((4, 3)), w)
    assert t2.saved() == ["v-1", "v0", "v2"]  # both factors, and exp's output
    adj = t.reverse()
    expected = ad.grad(lambda x: ad.sum(ad.tanh(x @ w)))(np.ones((4, 3)))
    np.testing.assert_allclose(adj["v0"], expected)


def test_trace_reverse_seed_shape_is_checked():
    t = ad.trace(lambda x: x * 2, np.ones(3))
    with pytest.raises(ad.AdlabError, match="shape"):
        t.reverse()
    np.testing.assert_allclose(t.reverse(np.array([1.0, 0.0, 0.0]))["v0"], [2.0, 0.0, 0.0])


# -- check_grads ----------------------------------------------------------------------

def test_check_grads_accepts_right_rules_and_names_a_wrong_one():
    ad.check_grads(lambda x, y: ad.sum(ad.sin(x) * y), (np.ones(3), np.arange(3.0)))

    wrong = ad.Primitive("bad_sin", np.sin, "x",
                         jvp=(lambda t, ans, x: t * ad.cos(x),),
                         vjp=(lambda g, ans, x: g * ad.sin(x),))  # wrong VJP rule
    with pytest.raises(ad.GradientCheckError) as e:
        ad.check_grads(lambda x: wrong(x), (np.array([0.3, 1.2]),))
    msg = str(e.value)
    assert "reverse mode" in msg and "input 0 (x)" in msg and "direction" in msg
    assert "largest difference" in msg
