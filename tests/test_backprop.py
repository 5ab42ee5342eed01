"""Backpropagation by hand (adlab.backprop) against reverse mode and central differences.

The curriculum's MLP, h1 = sigmoid(x W1 + b1), h2 = tanh(h1 W2 + b2),
y = softmax(h2 W3 + b3), L = cross_entropy(y, y_true): the textbook backward pass must
give the same gradients as ad.grad (to 1e-10) and as finite differences, for x and for
every W and b.
"""

import numpy as np
import pytest

import adlab as ad
from adlab import nn
from adlab.backprop import (
    PARAMETER_NAMES,
    curriculum_mlp,
    forward_backward_by_hand,
    loss_adlab,
)
from adlab.numeric import central_difference

NAMES = ("x",) + PARAMETER_NAMES  # the order loss_adlab takes them, after y_true


def problem(seed, sizes=(6, 5, 4, 3), n=7, one_hot=False):
    """Random inputs, labels and parameters (non-zero biases) for one check."""
    rng = np.random.default_rng(seed)
    params = curriculum_mlp(seed, sizes, bias_scale=0.5)
    x = rng.standard_normal((n, sizes[0]))
    labels = rng.integers(0, sizes[-1], size=n)
    y_true = np.eye(sizes[-1])[labels] if one_hot else labels
    return x, y_true, params


def numpy_loss_of(y_true):
    """The by-hand loss as a function of x and the parameters only (labels held fixed)."""
    return lambda x, *params: forward_backward_by_hand(x, y_true, *params)[0]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("one_hot", [False, True])
def test_by_hand_equals_reverse_mode(seed, one_hot):
    x, y_true, p = problem(seed, one_hot=one_hot)
    args = [x, y_true] + [p[k] for k in PARAMETER_NAMES]
    loss, grads = forward_backward_by_hand(*args)
    value, ad_grads = ad.value_and_grad(loss_adlab, argnums=(0, 2, 3, 4, 5, 6, 7))(*args)
    assert loss == pytest.approx(float(value), rel=1e-12, abs=1e-12)
    for name, g in zip(NAMES, ad_grads):
        assert grads[name].shape == np.shape(args[0] if name == "x" else p[name])
        np.testing.assert_allclose(grads[name], g, rtol=1e-10, atol=1e-12,
                                   err_msg=f"dL/d{name}: by hand vs adlab reverse mode")


def test_by_hand_equals_reverse_mode_on_the_digits_sizes():
    rng = np.random.default_rng(7)
    p = curriculum_mlp(seed=7, sizes=(64, 32, 16, 10), bias_scale=0.1)
    x = rng.uniform(0, 1, size=(50, 64))
    labels = rng.integers(0, 10, size=50)
    args = [x, labels] + [p[k] for k in PARAMETER_NAMES]
    _, grads = forward_backward_by_hand(*args)
    ad_grads = ad.grad(loss_adlab, argnums=(0, 2, 3, 4, 5, 6, 7))(*args)
    for name, g in zip(NAMES, ad_grads):
        np.testing.assert_allclose(grads[name], g, rtol=1e-10, atol=1e-13, err_msg=name)


@pytest.mark.parametrize("seed", range(3))
def test_by_hand_equals_central_differences_entry_by_entry(seed):
    x, y_true, p = problem(seed, sizes=(4, 5, 3, 3), n=5)
    args = [x] + [p[k] for k in PARAMETER_NAMES]
    _, grads = forward_backward_by_hand(x, y_true, **p)
    f = numpy_loss_of(y_true)
    for position, name in enumerate(NAMES):
        value = args[position]
        numeric = np.zeros_like(value)
        for index in np.ndindex(value.shape):  # one central difference per entry
            direction = [np.zeros_like(a) for a in args]
            direction[position][index] = 1.0
            numeric[index] = central_difference(f, args, direction)
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-6, atol=1e-8,
                                   err_msg=f"dL/d{name}: by hand vs central differences")


def test_by_hand_equals_central_differences_in_random_directions():
    x, y_true, p = problem(11, sizes=(64, 32, 16, 10), n=20)
    args = [x] + [p[k] for k in PARAMETER_NAMES]
    _, grads = forward_backward_by_hand(x, y_true, **p)
    rng = np.random.default_rng(0)
    for position, name in enumerate(NAMES):
        direction = [np.zeros_like(a) for a in args]
        direction[position] = rng.standard_normal(np.shape(args[position]))
        numeric = central_difference(numpy_loss_of(y_true), args, direction)
        assert np.vdot(grads[name], direction[position]) == pytest.approx(
            numeric, rel=1e-6, abs=1e-9), name


def test_adlab_loss_passes_check_grads():
    x, y_true, p = problem(3, sizes=(3, 4, 3, 2), n=4)
    # y_true fixed; check x and every parameter, both modes, second order too
    f = lambda x, W1, b1, W2, b2, W3, b3: loss_adlab(x, y_true, W1, b1, W2, b2, W3, b3)
    ad.check_grads(f, [x] + [p[k] for k in PARAMETER_NAMES], modes=("fwd", "rev"), order=2)


def test_loss_agrees_with_nn_cross_entropy_and_softmax():
    x, labels, p = problem(5)
    loss, _ = forward_backward_by_hand(x, labels, **p)
    h1 = 1 / (1 + np.exp(-(x @ p["W1"] + p["b1"])))
    h2 = np.tanh(h1 @ p["W2"] + p["b2"])
    z3 = h2 @ p["W3"] + p["b3"]
    y = nn.softmax(z3)
    assert loss == pytest.approx(-np.mean(np.log(y[np.arange(len(labels)), labels])))
    assert loss == pytest.approx(float(nn.cross_entropy(z3, labels)))


def test_dL_dlogits_is_y_minus_y_true_over_N():
    # the fused softmax + cross-entropy rule, checked through adlab on the logits alone
    rng = np.random.default_rng(1)
    z, labels = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    g = ad.grad(nn.cross_entropy)(z, labels)
    np.testing.assert_allclose(g, (nn.softmax(z) - np.eye(4)[labels]) / 6, rtol=1e-12)


def test_curriculum_mlp_shapes_and_seeding():
    p = curriculum_mlp(seed=0, sizes=(64, 32, 16, 10))
    assert list(p) == list(PARAMETER_NAMES)
    assert [p[k].shape for k in PARAMETER_NAMES] == [(64, 32), (32,), (32, 16), (16,),
                                                     (16, 10), (10,)]
    assert all(np.all(p[k] == 0) for k in ("b1", "b2", "b3"))
    q = curriculum_mlp(seed=0, sizes=(64, 32, 16, 10))
    assert all(np.array_equal(p[k], q[k]) for k in p)
    assert not np.array_equal(p["W1"], curriculum_mlp(seed=1)["W1"])
    with pytest.raises(ValueError, match="three layers"):
        curriculum_mlp(sizes=(4, 3, 2))


def test_by_hand_gradient_descent_trains_the_curriculum_mlp_on_digits():
    from adlab.datasets import load_digits

    X, y, X_test, y_test = load_digits(seed=0)
    p = curriculum_mlp(seed=0, sizes=(64, 32, 16, 10))
    rng = np.random.default_rng(0)
    first = forward_backward_by_hand(X, y, **p)[0]
    for _ in range(15):
        order = rng.permutation(len(X))
        for start in range(0, len(X), 32):
            batch = order[start:start + 32]
            _, grads = forward_backward_by_hand(X[batch], y[batch], **p)
            for k in PARAMETER_NAMES:
                p[k] -= 0.5 * grads[k]  # plain gradient descent
    assert forward_backward_by_hand(X, y, **p)[0] < first / 5
    h2 = np.tanh(1 / (1 + np.exp(-(X_test @ p["W1"] + p["b1"]))) @ p["W2"] + p["b2"])
    assert nn.accuracy(h2 @ p["W3"] + p["b3"], y_test) > 0.9
