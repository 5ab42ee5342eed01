"""Static graphs (define-and-run): replay, gradient graphs, code, and guards."""

import math

import numpy as np
import pytest

import adlab as ad
from adlab.guards import GuardError, Mask
from adlab.trace import Trace


def z(x1, x2):  # the curriculum's example
    return x1 * x2 + ad.sin(x1)


def mlp_loss(x, W1, b1, W2, b2, y):
    h = ad.sigmoid(x @ W1 + b1)
    p = ad.softmax(ad.tanh(h @ W2 + b2), axis=1)
    return -ad.mean(ad.sum(y * ad.log(p), axis=1))


def mlp_args(rng):
    x = rng.standard_normal((5, 3))
    y = np.eye(2)[rng.integers(0, 2, size=5)]
    return [x, rng.standard_normal((3, 4)), rng.standard_normal(4),
            rng.standard_normal((4, 2)), rng.standard_normal(2), y]


def f_branch(x):
    return x * x if x > 0 else -x


def f_where(x):
    return ad.where(x > 0, x * x, -x)


def halve(x):
    while x > 1:
        x = x / 2
    return x


# -- replay ---------------------------------------------------------------------------

def test_replay_equals_the_function_on_new_scalar_inputs():
    t = ad.trace(z, 2.0, 3.0)
    for x1, x2 in [(2.0, 3.0), (1.0, 5.0), (-0.3, 2.2)]:
        assert t(x1, x2) == pytest.approx(x1 * x2 + math.sin(x1))
    assert t(1, 5) == pytest.approx(5 + math.sin(1))  # integers are cast, as in grad


def test_replay_equals_the_function_on_new_arrays():
    rng = np.random.default_rng(0)
    t = ad.trace(mlp_loss, *mlp_args(rng))
    for _ in range(3):
        args = mlp_args(rng)
        assert t(*args) == pytest.approx(mlp_loss(*args))


def test_replay_checks_the_number_and_shapes_of_inputs():
    t = ad.trace(lambda x, w: ad.sum(x @ w), np.ones((4, 3)), np.ones(3))
    with pytest.raises(ad.ShapeError) as e:
        t(np.ones((5, 3)), np.ones(3))
    msg = str(e.value)
    assert "input x" in msg and "(5, 3)" in msg and "(4, 3)" in msg
    assert "specialised to the shapes" in msg and "ad.trace(" in msg
    with pytest.raises(ad.AdlabError, match=r"takes 2 input\(s\) \(x, w\), but 1 was given"):
        t(np.ones((4, 3)))


def test_replay_is_differentiable_so_a_trace_is_a_function_again():
    t = ad.trace(z, 2.0, 3.0)
    for point in [(2.0, 3.0), (0.5, -1.0)]:
        assert ad.grad(t, argnums=(0, 1))(*point) == pytest.approx(
            ad.grad(z, argnums=(0, 1))(*point))
    assert ad.jvp(t, (0.5, -1.0), (1.0, 0.0))[1] == pytest.approx(-1.0 + math.cos(0.5))
    x = ad.Var(1.5)  # define-by-run over a replayed graph
    t(x, 4.0).backward()
    assert x.grad == pytest.approx(4.0 + math.cos(1.5))
    rng = np.random.default_rng(1)
    args = mlp_args(rng)
    tm = ad.trace(mlp_loss, *args)
    new = mlp_args(rng)
    np.testing.assert_allclose(ad.grad(tm, 1)(*new), ad.grad(mlp_loss, 1)(*new))


# -- gradient graphs ------------------------------------------------------------------

def test_gradient_graph_of_the_curriculum_example():
    t = ad.trace(z, 2.0, 3.0)
    g = t.gradient()
    assert isinstance(g, Trace)
    assert g.value == pytest.approx((2.583853163452857, 2.0))
    assert g(2.0, 3.0) == pytest.approx((3 + math.cos(2.0), 2.0))
    for point in [(0.0, 1.0), (-1.2, 0.7)]:
        assert g(*point) == pytest.approx(ad.grad(z, argnums=(0, 1))(*point))
    # forward pass, the seed, then the backward pass: as nodes of one graph
    assert len(g) > len(t)
    ops = [n.op for n in g.nodes]
    assert ops[:len(t)] == [n.op for n in t.nodes]
    assert "seed" in ops and "cos" in ops[len(t):]
    text = repr(g)
    assert text.startswith("Trace of grad(z)(x1=2, x2=3)") and "outputs v8, v9" in text
    assert "v4 = seed(v3)" in text and "v5 = cos(v-1)" in text
    assert g.outputs == ["v8", "v9"] and g.output is None
    one = t.gradient(0)  # argnums as in ad.grad: one output
    assert one.value == pytest.approx(2.583853163452857) and one.output == "v8"


def test_gradient_graph_prints_tabulates_and_draws():
    g = ad.trace(z, 2.0, 3.0).gradient()
    table = " ".join(str(g.table()).split())  # forward mode over it: a Hessian column
    assert "v4 = seed(v3)" in table and "v5 = cos(v-1)" in table
    assert g.forward((1.0, 0.0))["v8"] == pytest.approx(-math.sin(2.0))
    assert "adjoint" not in table  # two outputs: reverse mode needs one seed each
    assert "seed(v3)" in g.graph().source and "cos(v-1)" in g.graph(mode="tangent").source
    with pytest.raises(ad.AdlabError, match="one per output"):
        g.reverse()
    adj = g.reverse((1.0, 0.0))  # the first output's adjoints: d(dz/dx1)/dx = row of H
    assert adj["v-1"] == pytest.approx(-math.sin(2.0)) and adj["v0"] == pytest.approx(1.0)
    one = ad.trace(z, 2.0, 3.0).gradient(1)
    assert "reverse adjoint trace" in str(one.table()) and "seed(v3)" in one._repr_html_()
    assert "adjoint 1" in one.graph(mode="adjoint").source
    assert "v-1" in one.saved()


def test_gradient_graph_of_an_mlp_equals_grad_on_new_inputs():
    rng = np.random.default_rng(2)
    args = mlp_args(rng)
    nums = (0, 1, 2, 3, 4)
    g = ad.trace(mlp_loss, *args).gradient(nums)
    reference = ad.grad(mlp_loss, argnums=nums)
    for point in [args, mlp_args(rng)]:
        for mine, theirs in zip(g(*point), reference(*point)):
            np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-14)


def test_gradient_graph_recomputes_masks_of_relu_abs_and_max():
    # these rules read raw values (which entries are positive, which is largest); the
    # gradient graph must compute them again, not freeze the traced ones
    def f(x, y):
        h = ad.relu(x) * y + ad.abs(x - 0.5) + ad.maximum(x, y) - ad.minimum(x, 0.2 * y)
        return ad.sum(h * h) + ad.max(h) + ad.sum(ad.max(h, axis=0)) + ad.sum(ad.abs(y) ** x)

    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    g = ad.trace(f, x, y).gradient()
    for _ in range(4):
        x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
        for mine, theirs in zip(g(x, y), ad.grad(f, argnums=(0, 1))(x, y)):
            np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-14)
    assert g.guards == []


def test_gradient_needs_a_scalar_output():
    with pytest.raises(ad.AdlabError, match="scalar") as e:
        ad.trace(lambda x: x * 2, np.ones(3)).gradient()
    assert "ad.vjp" in str(e.value) and "jacrev" in str(e.value)


# -- code -----------------------------------------------------------------------------

def test_to_code_writes_one_line_per_node_and_round_trips():
    t = ad.trace(z, 2.0, 3.0)
    code = t.to_code()
    for line in ["import adlab as ad", "def z(x1, x2):", "v_m1 = x1", "v0 = x2",
                 "v1 = v_m1 * v0", "v2 = ad.sin(v_m1)", "v3 = v1 + v2", "return v3"]:
        assert line in code
    f = t.compile()
    assert f.source == code and f(1.0, 5.0) == t(1.0, 5.0)
    g = t.gradient()
    code = g.to_code()
    assert "def z_grad(x1, x2):" in code and "return v8, v9" in code
    assert "v5 = ad.cos(v_m1)" in code and "v4 = ad.static.seed(v3)" in code
    assert g.compile()(0.3, -2.0) == g(0.3, -2.0)
    assert g.compile("dz")(0.3, -2.0) == g(0.3, -2.0)


def test_to_code_passes_array_constants_by_name():
    rng = np.random.default_rng(4)
    w = rng.standard_normal((3, 2))

    def f(x):
        return ad.sum(ad.tanh(x @ w)[1:, ::2] * np.arange(1.0, 3.0)) + ad.mean(x.T.reshape(6))

    t = ad.trace(f, rng.standard_normal((2, 3)))
    constants = {}
    code = t.to_code(constants=constants)
    assert set(constants) == {"c0", "c1"} and "v1 = v0 @ c0" in code and "[1:, ::2]" in code
    namespace = dict(constants)
    exec(code, namespace)  # the source runs by itself, given its constants
    x = rng.standard_normal((2, 3))
    assert namespace["f"](x) == t(x) == pytest.approx(f(x))
    g = t.gradient()
    np.testing.assert_array_equal(g.compile()(x), g(x))
    np.testing.assert_allclose(g(x), ad.grad(f)(x))


# -- guards: control flow in a static graph -------------------------------------------

def test_an_if_on_a_traced_value_becomes_a_guard():
    t = ad.trace(f_branch, 2.0)
    assert [(g.text, g.outcome, g.kind) for g in t.guards] == [("v0 > 0", True, "branch")]
    assert "guard: v0 > 0 (True)" in repr(t) and "1 guard(s)" in repr(t)
    assert [n.op for n in t.nodes] == ["input", "mul"]  # only the branch taken
    assert t(3.0) == 9.0
    with pytest.raises(GuardError) as e:
        t(-1.0)
    assert isinstance(e.value, ad.AdlabError)
    msg = str(e.value)
    assert "guard v0 > 0 was True when f_branch(x=2) was traced, False now" in msg
    assert "v0 = 2 when traced, -1 now" in msg and "before the first operation" in msg
    assert "one run of the program" in msg and "cannot follow" in msg
    assert "re-trace" in msg and "ad.trace(f_branch, *new_args)" in msg
    assert "ad.where(cond, a, b)" in msg


def test_the_dynamic_tape_follows_either_branch():
    assert ad.grad(f_branch)(2.0) == 4.0
    assert ad.grad(f_branch)(-1.0) == -1.0
    x = ad.Var(-1.0)
    f_branch(x).backward()
    assert x.grad == -1.0
    assert type(ad.Var(1.0) > 0) is bool  # no Condition outside traces


def test_guards_carry_over_to_gradient_graphs_replays_and_code():
    t = ad.trace(f_branch, 2.0)
    g = t.gradient()
    assert [gd.text for gd in g.guards] == ["v0 > 0"]
    assert g(3.0) == 6.0
    with pytest.raises(GuardError, match=r"ad\.trace\(f_branch, \*new_args\)\.gradient\(\)"):
        g(-1.0)
    assert ad.grad(t)(3.0) == 6.0  # a replay checks its guards under grad too
    with pytest.raises(GuardError):
        ad.grad(t)(-1.0)
    assert [gd.text for gd in ad.trace(t, 5.0).guards] == ["v0 > 0"]
    code = t.to_code()
    assert "if not (v0 > 0):" in code and "raise GuardError(" in code
    with pytest.raises(GuardError, match="re-trace|Re-trace"):
        t.compile()(-1.0)


def test_the_where_rewrite_replays_on_both_sides():
    t = ad.trace(f_where, 2.0)
    assert t.guards == []
    assert "v3 = where(v0 > 0, v1, v2)" in repr(t)
    assert t(3.0) == 9.0 and t(-1.0) == 1.0
    g = t.gradient()
    assert g.guards == [] and g(3.0) == 6.0 and g(-1.0) == -1.0
    assert g.compile()(-1.0) == -1.0
    assert "ad.where(v0 > 0, v1, v2)" in t.to_code()
    xs = np.array([2.0, -1.0, 0.5])
    ta = ad.trace(f_where, xs)
    new = np.array([-3.0, 4.0, -0.5])
    np.testing.assert_array_equal(ta(new), [3.0, 16.0, 0.5])
    ga = ad.trace(lambda x: ad.sum(f_where(x)), xs).gradient()
    np.testing.assert_array_equal(ga(new), [-1.0, 8.0, -1.0])


def test_a_while_loop_is_unrolled_with_one_guard_per_test():
    t = ad.trace(halve, 5.0)
    assert [n.op for n in t.nodes] == ["input", "div", "div", "div"]
    assert [(g.text, g.outcome, g.after) for g in t.guards] == [
        ("v0 > 1", True, None), ("v1 > 1", True, "v1"), ("v2 > 1", True, "v2"),
        ("v3 > 1", False, "v3")]
    assert t(6.0) == 0.75  # three halvings again
    with pytest.raises(GuardError, match="v3 > 1 was False .* True now") as e:
        t(10.0)  # would need a fourth
    assert "after v3, operation 3 of 3" in str(e.value)

    def newton_sqrt(a):
        y = a
        while ad.abs(y * y - a) > 1e-10:
            y = 0.5 * (y + a / y)
        return y

    t = ad.trace(newton_sqrt, 2.0)
    assert len(t.guards) == 5 and [g.outcome for g in t.guards][-2:] == [True, False]
    assert t(2.05) == pytest.approx(math.sqrt(2.05))
    with pytest.raises(GuardError):
        t(100.0)
    assert ad.grad(newton_sqrt)(100.0) == pytest.approx(0.05)  # the tape just loops


def test_array_comparisons_are_masks_without_guards():
    seen = []

    def leaky(x):
        mask = x > 0
        seen.append(mask)
        return ad.sum(ad.where(mask, x, 0.01 * x))

    t = ad.trace(leaky, np.array([1.0, -2.0, 3.0]))
    assert t.guards == []
    assert isinstance(seen[0], np.ndarray) and isinstance(seen[0], Mask)
    np.testing.assert_array_equal(seen[0], [True, False, True])
    assert t(np.array([-1.0, 2.0, -3.0])) == pytest.approx(-0.01 + 2.0 - 0.03)
    band = ad.trace(lambda x: ad.where((x > 0) & (x < 1), x, 0.0), np.array([0.5, 2.0]))
    assert band.guards == [] and "(v0 > 0) & (v0 < 1)" in repr(band)
    np.testing.assert_array_equal(band(np.array([2.0, 0.25])), [0.0, 0.25])


def test_truth_of_array_conditions_and_python_logic_are_guards():
    def f(x):
        if (x > 1).any():
            return ad.sum(x)
        return ad.sum(2 * x)

    t = ad.trace(f, np.array([0.5, 2.0]))
    assert [g.text for g in t.guards] == ["any(v0 > 1)"]
    assert t(np.array([3.0, 0.0])) == 3.0
    with pytest.raises(GuardError):
        t(np.array([0.5, 0.5]))

    def inside(x):
        return x if x > 0 and x < 3 else -x

    assert [g.text for g in ad.trace(inside, 1.0).guards] == ["v0 > 0", "v0 < 3"]
    assert [g.text for g in ad.trace(inside, -1.0).guards] == ["v0 > 0"]  # short circuit


def test_entries_of_a_mask_are_conditions_and_printing_adds_nothing():
    def f(x):
        mask = x > 0
        assert str(mask) == "[ True False]" and "True" in repr(mask)  # no guards from this
        total = 0.0
        for entry, value in zip(mask, x):  # a Python loop over a mask: one guard each
            if entry:
                total = total + value
        return total

    t = ad.trace(f, np.array([1.0, -2.0]))
    assert [(g.text, g.outcome) for g in t.guards] == [("(v0 > 0)[0]", True),
                                                        ("(v0 > 0)[1]", False)]
    assert t(np.array([5.0, -1.0])) == 5.0
    with pytest.raises(GuardError, match=r"\(v0 > 0\)\[1\] was False"):
        t(np.array([5.0, 1.0]))


def test_a_comparison_used_as_a_plain_value_is_guarded_too():
    def sign_times(x):
        return ad.where(x > 0, 1.0, -1.0) * x  # where of two constants: a constant

    t = ad.trace(sign_times, 2.0)
    assert [(g.text, g.kind) for g in t.guards] == [("v0 > 0", "value")]
    assert "(True, used as a value)" in repr(t)
    assert t(3.0) == 3.0
    with pytest.raises(GuardError, match="plain value"):
        t(-1.0)
    # an input-dependent branch keeps it in the graph instead
    t = ad.trace(lambda x: x * (x > 0), 2.0)
    assert t.guards == [] and t(-1.0) == 0.0 and t.gradient()(-1.0) == 0.0


# -- several outputs ------------------------------------------------------------------

def test_several_outputs():
    def f(x, y):
        return x * y, ad.sin(x), 3.0

    t = ad.trace(f, 2.0, 3.0)
    assert t.outputs == ["v1", "v2", 3.0] and t.output is None
    assert t.value == pytest.approx((6.0, math.sin(2.0), 3.0))
    assert t(1.0, 4.0) == pytest.approx((4.0, math.sin(1.0), 3.0))
    assert "outputs v1, v2, 3" in repr(t)
    adj = t.reverse((1.0, 0.0, 0.0))
    assert (adj["v-1"], adj["v0"]) == (3.0, 2.0)
    with pytest.raises(ad.AdlabError, match="3 outputs"):
        t.reverse(1.0)
    assert "forward primal trace" in str(t.table()) and t.saved() == ["v-1", "v0"]
    assert isinstance(ad.trace(lambda x: [x, x * 2], 1.0)(2.0), list)
    with pytest.raises(ad.AdlabError, match="flat tuple"):
        ad.trace(lambda x: (x, (x, x)), 1.0)
    with pytest.raises(ad.AdlabError, match="gradient"):
        t.gradient()


def test_numpy_comparisons_and_truth_tests_are_seen_by_static_graphs():
    # np.greater(x, 0) and an array on the left of < go through the boxes' comparison
    def masked(x):
        return ad.where(np.greater(x, 0), x * x, -x)

    def left(x):
        return ad.where(np.zeros(2) < x, x * x, -x)

    for f in (masked, left):
        t = ad.trace(f, np.array([1.0, -2.0]))
        new = np.array([-1.0, 3.0])
        np.testing.assert_allclose(t(new), f(new))  # the mask is recomputed, not frozen
    # `if x:` on a traced scalar is the guard x != 0
    t = ad.trace(lambda x: x * 2 if x else x + 1, 3.0)
    assert [g.text for g in t.guards] == ["v0 != 0"]
    assert t(5.0) == 10.0
    with pytest.raises(ad.GuardError):
        t(0.0)
