"""Comparisons, sign and selection as primitives: one rule table for every kind of graph.

The rules of functions with kinks (relu, abs, maximum, minimum, max, pow) choose between
formulas with the comparison primitives and ``where``. On a dynamic tape those give the
same numbers as reading plain masks; in a static graph they are operations that each
replay computes again, so ``adlab.static`` needs no rules of its own.
"""

from __future__ import annotations

import ast
import inspect

import numpy as np
import pytest

import adlab as ad
from adlab import ops, static
from adlab.core import raw
from adlab.widgets import count_work

COMPARISONS = {"greater": np.greater, "greater_equal": np.greater_equal, "less": np.less,
               "less_equal": np.less_equal, "equal": np.equal, "not_equal": np.not_equal}


@pytest.mark.parametrize("name", sorted(COMPARISONS))
def test_comparisons_compute_numpys_answer_and_have_derivative_zero(name):
    prim = ops.REGISTRY[name]
    x, y = np.array([-1.0, 0.0, 2.0]), np.array([0.0, 0.0, 1.0])
    np.testing.assert_array_equal(prim(x, y), COMPARISONS[name](x, y))
    assert prim.constant and "derivative 0 (piecewise constant)" in [
        line for line in ad.rule_table().splitlines() if line.startswith(name + " ")][0]
    # used as a number, a comparison contributes nothing: forward and reverse agree on 0
    f = lambda x: ad.sum(prim(x, y) * 3.0 + x)  # noqa: E731
    np.testing.assert_array_equal(ad.grad(f)(x), np.ones(3))
    _, tangent = ad.jvp(f, (x,), (np.ones(3),))
    assert tangent == 3.0


def test_sign_is_piecewise_constant():
    x = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(ad.sign(x), [-1.0, 0.0, 1.0])
    assert ad.sign(-2.5) == -1.0 and type(ad.sign(-2.5)) is float
    np.testing.assert_array_equal(ad.grad(lambda x: ad.sum(ad.sign(x) * x))(x), ad.sign(x))
    assert ad.grad(lambda x: ad.sign(x))(0.7) == 0.0


def test_a_dynamic_tape_does_not_record_comparisons():
    x = ad.Var(np.array([1.0, -1.0]))
    mask = ad.greater(x, 0.0)
    assert not isinstance(mask, ad.Box)
    np.testing.assert_array_equal(mask, [True, False])
    d = ad.Dual(2.0, 1.0)
    assert ad.less(d, 3.0) is np.True_ or ad.less(d, 3.0) is True


def test_a_static_graph_records_them_and_replays_them():
    t = ad.trace(lambda x: ad.where(ad.greater(x, 0.0), x, -2.0 * x), np.array([1.0, -1.0]))
    assert "greater" in [n.op for n in t.nodes]
    np.testing.assert_array_equal(t(np.array([-3.0, 4.0])), [6.0, 4.0])


@pytest.mark.parametrize("fn, x", [
    (lambda x: ad.sum(ad.relu(x)), np.array([1.0, -2.0, 3.0])),
    (lambda x: ad.sum(ad.abs(x)), np.array([1.0, -2.0, 3.0])),
    (lambda x: ad.sum(ad.maximum(x, 0.5 * x * x)), np.array([1.0, -2.0, 3.0])),
    (lambda x: ad.max(x), np.array([1.0, -2.0, 3.0])),
    (lambda x: ad.sum(x ** 2.0), np.array([0.0, -2.0, 3.0])),
])
def test_gradient_graphs_of_kinks_follow_the_new_inputs(fn, x):
    g = ad.trace(fn, x).gradient()
    for new in (-x, x[::-1].copy(), x + 0.25):
        np.testing.assert_allclose(raw(g(new)), ad.grad(fn)(new), rtol=1e-12)


def test_static_has_no_rules_of_its_own():
    """adlab.static defines no primitives but the seed of a gradient graph."""
    tree = ast.parse(inspect.getsource(static))
    made = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Primitive"]
    assert len(made) == 1 and static.seed.name == "seed"
    assert not any(isinstance(v, ops.Primitive) and v is not static.seed
                   and v.name not in ops.REGISTRY for v in vars(static).values())


def test_count_work_leaves_every_rule_unwrapped():
    """A gradient graph's first use inside count_work() must not keep its wrapper."""
    impls = {name: p.impl for name, p in ops.REGISTRY.items()}
    fn = lambda x: ad.sum(ad.relu(x) * ad.abs(x))  # noqa: E731
    x = np.array([1.0, -2.0])
    with count_work() as work:
        ad.trace(fn, x).gradient()(x)
    assert work.primitive_calls > 0
    assert {name: p.impl for name, p in ops.REGISTRY.items()} == impls
    with count_work() as again:
        pass
    ad.trace(fn, x).gradient()(x)
    assert again.primitive_calls == 0


def test_where_keeps_scalars_scalar_and_masks_in_the_operands_dtype():
    assert type(ad.where(np.True_, 1.5, 2.5)) is float
    x = np.array([1.0, -1.0], np.float32)
    assert ops._attained_mask(x, np.max(x), None, False).dtype == np.float32
    assert ops.REGISTRY["relu"].vjp(0, np.ones(2, np.float32), x, (x,), {}).dtype == np.float32
