"""count_work counts every elementary operation a derivative evaluates: the primitives of
the run, the arithmetic inside the JVP and VJP rules, the sums that undo broadcasting and
the additions that accumulate tangents and adjoints (issue 14: it used to see only the
run, so jvp(x * y) and grad(x * y) both counted 1)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_primitives import _typical

import adlab as ad
from adlab.core import Box, raw
from adlab.counting import flops
from adlab.ops import REGISTRY


def counted(fn):
    with ad.count_work() as work:
        out = fn()
    return work, out


def test_the_rules_arithmetic_is_counted():
    # x * y: one multiplication; its JVP adds two rule products and their sum
    work, (_, t) = counted(lambda: ad.jvp(lambda x, y: x * y, (2.0, 3.0), (1.0, 0.5)))
    assert (work.operations, work.rule_operations, t) == (4, 3, 4.0)
    # its VJP with respect to x: the recorded product and g * y
    work, g = counted(lambda: ad.grad(lambda x, y: x * y)(2.0, 3.0))
    assert (work.operations, work.rule_operations, g) == (2, 1, 3.0)


def test_the_worked_example_counts_as_by_hand():
    # z = x1 x2 + sin x1: 3 operations. Forward, seed (1, 0): the run (3), the product's
    # two rule terms and their sum (3), the sine's t * cos(x1) (2), the sum's tangent
    # t1 + t2 (1). Reverse: the recorded run (3), g * cos(x1) (2), g * x2 and g * x1 (2),
    # and x1's two contributions added (1); the sum passes g on unchanged.
    def z(x1, x2):
        return x1 * x2 + ad.sin(x1)
    forward, _ = counted(lambda: ad.jvp(z, (2.0, 3.0), (1.0, 0.0)))
    reverse, grads = counted(lambda: ad.grad(z, argnums=(0, 1))(2.0, 3.0))
    assert (forward.operations, forward.rule_operations) == (9, 6)
    assert (reverse.operations, reverse.rule_operations) == (8, 5)
    assert np.allclose(grads, (3 + np.cos(2.0), 2.0))


def test_broadcast_sums_and_accumulations_are_counted():
    b = np.ones(3)
    # x (3, 1) + b (3,): the adjoint of x is summed over the broadcast axis in the rule
    work, _ = counted(lambda: ad.grad(lambda x: ad.sum(x + b))(np.ones((3, 1))))
    assert work.rule_operations >= 2  # the sum's rule, and the sum that undoes broadcasting
    # x used three times: its adjoint is the sum of three contributions, two additions
    work, g = counted(lambda: ad.grad(lambda x: x + x + x)(1.0))
    assert g == 3.0 and work.rule_operations == 2  # the add's rules pass g on: 0 each


def test_flops_of_products_and_moves():
    a, b = np.ones((4, 5)), np.ones((5, 6))
    assert flops("matmul", (a, b), {}, a @ b) == 2 * 4 * 5 * 6
    assert flops("einsum", (a, b), {"spec": "ij,jk->ik"}, a @ b) == 2 * 4 * 5 * 6
    assert flops("tensordot", (a, b), {"axes": 1}, a @ b) == 2 * 4 * 5 * 6
    assert flops("reshape", (a,), {"shape": (20,)}, a.reshape(20)) == 0
    assert flops("sin", (a,), {}, np.sin(a)) == 20
    assert flops("sum", (a,), {}, a.sum()) == 20
    W, x = np.ones((30, 40)), np.ones(40)
    work, _ = counted(lambda: ad.grad(lambda x: ad.sum(W @ x))(x))
    # the run's matmul (2 * 30 * 40) and the rule's g @ W (2 * 30 * 40), plus sums
    assert 4 * 30 * 40 <= work.flops <= 4 * 30 * 40 + 200


def test_blocks_nest_and_nothing_stays_instrumented():
    impls = {name: p.impl for name, p in REGISTRY.items()}
    with ad.count_work() as outer:
        ad.sin(1.0)
        with ad.count_work() as inner:
            ad.grad(ad.sin)(1.0)
    assert inner.operations == 3 and outer.operations == 4
    assert {name: p.impl for name, p in REGISTRY.items()} == impls
    from adlab.widgets import count_work
    assert count_work is ad.count_work


def test_higher_order_counts_and_stays_right():
    def f(x):
        return ad.sum(ad.tanh(x) ** 3)
    x = np.linspace(-1, 1, 4)
    work, H = counted(lambda: ad.hessian(f)(x))
    assert np.allclose(H, ad.hessian(f)(x))
    assert work.operations > work.rule_operations > 0
    assert not any(isinstance(v, Box) for v in np.ravel(H))


def _rules_of(name, rng):
    """For each typical input of a primitive: its JVP output and every VJP contribution."""
    prim = REGISTRY[name]
    out = []
    for args, params in _typical(name, rng):
        ans = prim.impl(*args, **params)
        tangents = [rng.standard_normal(np.shape(a)) if prim.differentiable(i) else None
                    for i, a in enumerate(args)]
        out.append(raw(prim.jvp(tangents, ans, tuple(args), params)))
        g = rng.standard_normal(np.shape(ans))
        for i in range(len(args)):
            if prim.differentiable(i):
                out.append(raw(prim.vjp(i, g, ans, tuple(args), params)))
    return out


@pytest.mark.parametrize("name", sorted(REGISTRY))
@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_counting_changes_no_rule_of_any_primitive(name, seed):
    if REGISTRY[name].constant:
        return
    plain = _rules_of(name, np.random.default_rng(seed))
    with ad.count_work() as work:
        seen = _rules_of(name, np.random.default_rng(seed))
    assert work.operations > 0
    for a, b in zip(plain, seen):
        assert not isinstance(b, Box), (name, b)
        if a is None:
            assert b is None
        else:
            assert np.shape(a) == np.shape(b) and np.allclose(a, b, equal_nan=True), name


def test_an_mlp_layer_counts_as_by_hand():
    # loss(W, b) = sum(tanh(x @ W + b)) for a batch x (4 x 3), W (3 x 2), b (2,): the run
    # is 4 operations (matmul, add, tanh, sum) and 72 flops (48 for the matmul, 8 each).
    x = np.linspace(-1, 1, 12).reshape(4, 3)
    W, b = np.linspace(-0.5, 0.5, 6).reshape(3, 2), np.array([0.1, -0.2])

    def loss(W, b):
        return ad.sum(ad.tanh(x @ W + b))

    run, _ = counted(lambda: loss(ad.Var(W), ad.Var(b)))
    assert (run.operations, run.flops) == (4, 72)
    # JVP in the direction (T, t): x @ T (1), the sum's tangent x @ T + t (1), the tanh
    # rule t * (1 - y * y) (3), the sum's tangent (1): 6 in the rules
    T, t = np.ones((3, 2)), np.ones(2)
    work, (_, tangent) = counted(lambda: ad.jvp(loss, (W, b), (T, t)))
    assert (work.operations, work.rule_operations) == (10, 6)
    assert np.isclose(tangent, ad.grad(loss, argnums=(0, 1))(W, b)[0].sum()
                      + ad.grad(loss, argnums=(0, 1))(W, b)[1].sum())
    # VJP: the sum's rule broadcasts the seed (reshape, broadcast_to: 2, no flops), the
    # tanh rule (3, 24 flops), b's adjoint summed over the batch (1, 8 flops), W's adjoint
    # x^T @ g (transpose and matmul: 2, 48 flops): 8 in the rules, 80 flops
    work, _ = counted(lambda: ad.grad(loss, argnums=(0, 1))(W, b))
    assert (work.operations, work.rule_operations) == (12, 8)
    assert work.flops == 72 + 80
