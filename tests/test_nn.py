"""adlab.nn, adlab.optim and adlab.datasets: layers, losses, optimizers, data, training."""

import io
import math
import sys

import numpy as np
import pytest

import adlab as ad
from adlab import backprop, datasets, nn, optim, training

# -- losses -------------------------------------------------------------------------

def test_cross_entropy_from_logits_of_plus_minus_1000_is_finite_and_right():
    z = np.array([[1000.0, -1000.0], [-1000.0, 1000.0]])
    right, wrong = np.array([0, 1]), np.array([1, 0])
    assert float(nn.cross_entropy(z, right)) == 0.0
    assert float(nn.cross_entropy(z, wrong)) == 2000.0
    g_right = ad.grad(nn.cross_entropy)(z, right)
    g_wrong = ad.grad(nn.cross_entropy)(z, wrong)
    assert np.all(np.isfinite(g_right)) and np.all(np.isfinite(g_wrong))
    np.testing.assert_array_equal(g_right, np.zeros((2, 2)))
    # (softmax(z) - y_true) / N with softmax = the one-hot of the argmax
    np.testing.assert_array_equal(g_wrong, np.array([[1.0, -1.0], [-1.0, 1.0]]) / 2)


def test_cross_entropy_of_huge_logits_through_backward():
    z = ad.Var(np.array([[1000.0, 0.0, -1000.0]]))
    loss = nn.cross_entropy(z, np.array([2]))
    loss.backward()
    assert float(loss.value) == 2000.0
    np.testing.assert_array_equal(z.grad, [[1.0, 0.0, -1.0]])


def test_cross_entropy_int_labels_equal_one_hot_and_match_the_formula():
    rng = np.random.default_rng(0)
    z, labels = rng.standard_normal((8, 5)), rng.integers(0, 5, 8)
    onehot = np.eye(5)[labels]
    by_int, g_int = ad.value_and_grad(nn.cross_entropy)(z, labels)
    by_rows, g_rows = ad.value_and_grad(nn.cross_entropy)(z, onehot)
    assert float(by_int) == pytest.approx(float(by_rows), rel=1e-15)
    np.testing.assert_allclose(g_int, g_rows, rtol=1e-15)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    assert float(by_int) == pytest.approx(-np.mean(np.log(p[np.arange(8), labels])))
    np.testing.assert_allclose(g_int, (p - onehot) / 8, rtol=1e-12)


def test_cross_entropy_with_probability_rows_and_check_grads():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((4, 3))
    soft = rng.dirichlet(np.ones(3), size=4)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    assert float(nn.cross_entropy(z, soft)) == pytest.approx(-np.sum(soft * np.log(p)) / 4)
    ad.check_grads(lambda z: nn.cross_entropy(z, soft), [z], order=2)


def test_cross_entropy_explains_wrong_shapes():
    with pytest.raises(ad.ShapeError, match="one class index per row"):
        nn.cross_entropy(np.zeros((3, 2)), np.array([0, 1]))
    with pytest.raises(ad.ShapeError, match=r"\(N, n_classes\)"):
        nn.cross_entropy(np.zeros(3), np.array([0]))
    with pytest.raises(ValueError, match="0..1"):
        nn.cross_entropy(np.zeros((1, 2)), np.array([2]))


def test_mse_value_and_gradient():
    pred = np.array([[1.0, 2.0], [3.0, 5.0]])
    target = np.array([[0.0, 2.0], [1.0, 1.0]])
    value, g = ad.value_and_grad(nn.mse)(pred, target)
    assert float(value) == (1 + 0 + 4 + 16) / 4
    np.testing.assert_allclose(g, 2 * (pred - target) / 4)
    ad.check_grads(lambda p: nn.mse(p, target), [pred], order=2)
    with pytest.raises(ad.ShapeError, match="mse"):
        nn.mse(np.zeros((3, 1)), np.zeros(3))


def test_softmax_and_accuracy():
    assert nn.softmax is ad.softmax
    z = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 5.0], [1.0, 3.0, 0.0]])
    np.testing.assert_allclose(nn.softmax(z).sum(axis=1), 1.0)
    assert nn.accuracy(z, np.array([0, 2, 0])) == pytest.approx(2 / 3)
    assert nn.accuracy(z, np.eye(3)[[0, 2, 1]]) == 1.0
    assert nn.accuracy(ad.Var(z), np.array([0, 2, 1])) == 1.0


# -- Linear and MLP ------------------------------------------------------------------

def test_linear_shapes_init_and_seed():
    layer = nn.Linear(64, 32, seed=0)
    assert layer.W.shape == (64, 32) and layer.b.shape == (32,)
    assert np.all(layer.b.value == 0)
    assert np.abs(layer.W.value).max() <= math.sqrt(6 / 96)
    np.testing.assert_array_equal(layer.W.value, nn.Linear(64, 32, seed=0).W.value)
    he = nn.Linear(400, 300, seed=0, init="he")
    assert he.W.value.std() == pytest.approx(math.sqrt(2 / 400), rel=0.02)
    y = layer(np.ones((5, 64)))
    assert isinstance(y, ad.Var) and y.shape == (5, 32)
    np.testing.assert_allclose(y.value, np.ones((5, 64)) @ layer.W.value)
    assert layer.parameters() == [layer.W, layer.b]
    assert nn.Linear(3, 2, dtype=np.float32).W.value.dtype == np.float32
    with pytest.raises(ValueError, match="glorot"):
        nn.Linear(3, 2, init="zeros")
    with pytest.raises(ad.ShapeError, match="last axis has 64"):
        layer(np.ones((5, 10)))


def test_linear_gradients_are_the_textbook_ones():
    layer = nn.Linear(3, 2, seed=1)
    x = np.random.default_rng(0).standard_normal((4, 3))
    g = np.random.default_rng(1).standard_normal((4, 2))
    layer(x).backward(g)
    np.testing.assert_allclose(layer.W.grad, x.T @ g)      # W̄ = xᵀ ȳ
    np.testing.assert_allclose(layer.b.grad, g.sum(axis=0))  # b̄ = Σ_rows ȳ


def test_mlp_shapes_parameters_and_repr():
    net = nn.MLP([64, 128, 64, 10], "relu", seed=0)
    assert len(net.layers) == 3
    assert [p.shape for p in net.parameters()] == [(64, 128), (128,), (128, 64), (64,),
                                                    (64, 10), (10,)]
    assert [p.name for p in net.parameters()] == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert net.num_parameters() == 64 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10 == 17226
    assert net(np.zeros((7, 64))).shape == (7, 10)
    text = repr(net)
    assert "MLP(64 -> 128 -> 64 -> 10" in text and "17,226 parameters" in text
    assert "Linear(64 -> 128" in text and "8,320 parameters" in text and "relu" in text
    assert [name for name, _ in net.named_parameters()][:2] == ["layers.0.W", "layers.0.b"]
    assert net.layers[0].init == "he" and net.layers[-1].init == "glorot"


def test_mlp_activation_per_layer_is_the_curriculum_network():
    net = nn.MLP([6, 5, 4, 3], ["sigmoid", "tanh"], seed=2)
    assert net.activations == ["sigmoid", "tanh"]
    assert "['sigmoid', 'tanh']" in repr(net)
    x, labels = np.random.default_rng(0).standard_normal((5, 6)), np.array([0, 1, 2, 0, 1])
    W1, b1, W2, b2, W3, b3 = net.parameter_values()
    expected = backprop.loss_adlab(x, labels, W1, b1, W2, b2, W3, b3)
    assert float(nn.cross_entropy(net(x), labels).value) == pytest.approx(float(expected))
    # and backward() gives the by-hand gradients
    nn.cross_entropy(net(x), labels).backward()
    _, by_hand = backprop.forward_backward_by_hand(x, labels, W1, b1, W2, b2, W3, b3)
    for p, name in zip(net.parameters(), backprop.PARAMETER_NAMES):
        np.testing.assert_allclose(p.grad, by_hand[name], rtol=1e-10, atol=1e-14)


def test_mlp_rejects_wrong_activations():
    with pytest.raises(ValueError, match="2 hidden layer"):
        nn.MLP([4, 3, 3, 2], ["tanh"])
    with pytest.raises(ValueError, match="unknown activation 'softplus'"):
        nn.MLP([4, 3, 2], "softplus")
    with pytest.raises(ValueError, match="at least two"):
        nn.MLP([4])
    assert nn.MLP([4, 2]).activations == []  # no hidden layer: logistic regression


def test_zero_grad_zeroes_every_parameter_in_one_call():
    net = nn.MLP([4, 8, 3], "tanh", seed=0)
    x, labels = np.ones((2, 4)), np.array([0, 2])
    nn.cross_entropy(net(x), labels).backward()
    assert all(p.grad is not None and np.any(p.grad != 0) for p in net.parameters()[:1])
    net.zero_grad()
    for p in net.parameters():
        assert p.grad.shape == p.shape and np.all(p.grad == 0)
    net.zero_grad(set_to_none=True)
    assert all(p.grad is None for p in net.parameters())


def test_backward_twice_accumulates_and_zero_grad_resets():
    net = nn.MLP([3, 4, 2], "relu", seed=0)
    x, labels = np.ones((2, 3)), np.array([0, 1])
    net.zero_grad()
    nn.cross_entropy(net(x), labels).backward()
    once = [p.grad.copy() for p in net.parameters()]
    nn.cross_entropy(net(x), labels).backward()
    for p, g in zip(net.parameters(), once):
        np.testing.assert_allclose(p.grad, 2 * g)


def test_functional_apply_and_ad_grad_over_plain_arrays():
    net = nn.MLP([5, 6, 4], "sigmoid", seed=3)
    rng = np.random.default_rng(0)
    x, labels = rng.standard_normal((9, 5)), rng.integers(0, 4, 9)
    params = net.parameter_values()
    np.testing.assert_allclose(net.apply(params, x), net(x).value)
    np.testing.assert_allclose(net.predict(x), net(x).value)
    grads = ad.grad(lambda ps: nn.cross_entropy(net.apply(ps, x), labels))(params)
    assert isinstance(grads, list) and len(grads) == 4
    net.zero_grad()
    nn.cross_entropy(net(x), labels).backward()
    for g, p in zip(grads, net.parameters()):
        np.testing.assert_allclose(g, p.grad, rtol=1e-12)
    with pytest.raises(ad.AdlabError, match="has 4 parameters"):
        net.apply(params[:2], x)


def test_a_custom_module_finds_nested_parameters():
    class TwoHeads(nn.Module):
        def __init__(self):
            self.body = nn.Linear(3, 4, seed=0)
            self.heads = [nn.Linear(4, 2, seed=1), nn.Linear(4, 1, seed=2)]
            self.scale = ad.Var(np.ones(1))

        def __call__(self, x):
            h = ad.tanh(self.body(x))
            return [head(h) * self.scale for head in self.heads]

    m = TwoHeads()
    assert len(m.parameters()) == 7
    assert [n for n, _ in m.named_parameters()] == [
        "body.W", "body.b", "heads.0.W", "heads.0.b", "heads.1.W", "heads.1.b", "scale"]
    text = repr(m)
    assert text.startswith("TwoHeads  [32 parameters]")
    assert "(heads[1]): Linear(4 -> 1" in text and "(scale): parameter of shape (1,)" in text


# -- optimizers -----------------------------------------------------------------------

def quadratic_step(w, opt):
    """One step on L(w) = Σ w²/2, whose gradient is w itself."""
    opt.zero_grad()
    ad.sum(w * w / 2).backward()
    opt.step()


def test_sgd_plain_and_with_momentum_by_hand():
    w = ad.Var(np.array([1.0, -2.0]))
    opt = optim.SGD([w], lr=0.1)
    for _ in range(3):
        quadratic_step(w, opt)
    np.testing.assert_allclose(w.value, np.array([1.0, -2.0]) * 0.9 ** 3)

    w = ad.Var(np.array([1.0, -2.0]))
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    # v1 = g0 = w0, w1 = 0.9 w0;  v2 = 0.9 v1 + 0.9 w0 = 1.8 w0, w2 = 0.9 w0 - 0.18 w0 = 0.72 w0
    # v3 = 0.9 * 1.8 w0 + 0.72 w0 = 2.34 w0, w3 = 0.72 w0 - 0.234 w0 = 0.486 w0
    expected = [0.9, 0.72, 0.486]
    for k in range(3):
        quadratic_step(w, opt)
        np.testing.assert_allclose(w.value, expected[k] * np.array([1.0, -2.0]), rtol=1e-12)
    assert opt.steps == 3


def test_adam_by_hand():
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    w0 = np.array([1.0, -2.0, 0.5])
    w = ad.Var(w0.copy())
    opt = optim.Adam([w], lr=lr, betas=(b1, b2), eps=eps)
    ref, m, v = w0.copy(), np.zeros(3), np.zeros(3)
    for t in (1, 2, 3):
        quadratic_step(w, opt)
        g = ref  # the gradient of Σ w²/2
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        ref = ref - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        np.testing.assert_allclose(w.value, ref, rtol=1e-12)
        if t == 1:  # Adam's first step moves every entry by lr, whatever the gradient's size
            np.testing.assert_allclose(w.value, w0 - lr * np.sign(w0), rtol=1e-7)
        if t == 2:  # on paper, for w0 = 1: m = 0.18, v = 0.001809, m̂ = 0.18 / 0.19,
            # v̂ = 0.001809 / 0.001999, w2 = 0.9 - 0.1 m̂ / sqrt(v̂) = 0.800412
            assert w.value[0] == pytest.approx(0.800412, abs=1e-6)


def test_optimizers_skip_parameters_without_gradient():
    a, b = ad.Var(np.array([1.0, 2.0])), ad.Var(np.array([3.0]))
    for opt in (optim.SGD([a, b], lr=0.5, momentum=0.9), optim.Adam([a, b], lr=0.5)):
        opt.zero_grad(set_to_none=True)
        ad.sum(a * a).backward()   # b takes no part: its .grad stays None
        opt.step()
        assert b.grad is None and b.value[0] == 3.0
    assert opt.t == [1, 0]


def test_optimizers_update_in_place_and_explain_bad_parameters():
    net = nn.MLP([3, 2], seed=0)
    W = net.layers[0].W.value
    opt = optim.SGD(net, lr=0.1)           # a Module is accepted for its parameters
    nn.mse(net(np.ones((1, 3))), np.ones((1, 2))).backward()
    opt.step()
    assert net.layers[0].W.value is W      # the same array, changed in place
    with pytest.raises(TypeError, match="not an ad.Var"):
        optim.Adam([np.zeros(3)])
    with pytest.raises(ValueError, match="positive"):
        optim.SGD(net.parameters(), lr=0.0)
    s = ad.Var(2.0)                        # a scalar parameter (a Python float value)
    opt = optim.SGD([s], lr=0.25)
    (s * s).backward()
    opt.step()
    assert s.value == 1.0


@pytest.mark.parametrize("make_opt", [lambda ps: optim.Adam(ps, lr=1e-2),
                                      lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9)])
def test_float32_training_stays_float32(make_opt):
    X, y, _, _ = datasets.load_digits(dtype=np.float32)
    net = nn.MLP([64, 16, 10], "tanh", seed=0, dtype=np.float32)
    opt = make_opt(net.parameters())
    history = nn.fit(net, X[:256], y[:256], epochs=2, optimizer=opt, monitor=False)
    assert history[-1]["loss"] < history[0]["loss"]
    for p in net.parameters():
        assert p.value.dtype == np.float32 and p.grad.dtype == np.float32
    # a plain backward() of the losses gives float32 gradients too
    for loss in (nn.cross_entropy(net(X[:4]), y[:4]),
                 nn.mse(net(X[:4]), np.zeros((4, 10), np.float32))):
        net.zero_grad()
        loss.backward()
        assert np.result_type(loss.value) == np.float32
        assert all(p.grad.dtype == np.float32 for p in net.parameters())
    state = opt.m if isinstance(opt, optim.Adam) else opt.velocity
    assert all(s.dtype == np.float32 for s in state)


# -- the digits -----------------------------------------------------------------------

def test_digits_shapes_split_and_range():
    X_train, y_train, X_test, y_test = datasets.load_digits()
    assert X_train.shape == (1437, 64) and X_test.shape == (360, 64)
    assert y_train.shape == (1437,) and y_test.shape == (360,)
    assert len(X_train) + len(X_test) == 1797
    assert X_train.dtype == np.float64 and y_train.dtype.kind == "i"
    assert X_train.min() == 0.0 and X_train.max() == 1.0 and X_test.max() <= 1.0
    assert set(y_train) == set(y_test) == set(range(10))
    # stratified: each class gives 20 % of its rows to the test set (give or take one)
    counts_all = np.bincount(np.concatenate([y_train, y_test]))
    assert np.all(np.abs(np.bincount(y_test) - 0.2 * counts_all) <= 1)
    # no image in both sets: the split partitions the rows
    pixels, labels = datasets.digits_raw()
    assert pixels.shape == (1797, 64) and labels.shape == (1797,)
    assert pixels.max() == 16 and pixels.min() == 0
    assert sorted(map(bytes, (np.vstack([X_train, X_test]) * 16).astype(np.int64))) == \
        sorted(map(bytes, pixels.astype(np.int64)))


def test_digits_split_is_seeded_and_options_work():
    a, b = datasets.load_digits(seed=3), datasets.load_digits(seed=3)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    c = datasets.load_digits(seed=4)
    assert not np.array_equal(a[3], c[3]) or not np.array_equal(a[2], c[2])
    X_train, y_train, X_test, y_test = datasets.load_digits(test_fraction=0.5, seed=1,
                                                            dtype=np.float32,
                                                            stratify=False)
    assert X_train.dtype == np.float32 and len(X_test) == 899 and len(X_train) == 898
    with pytest.raises(ValueError, match="between 0 and 1"):
        datasets.load_digits(test_fraction=1.0)


def test_digits_are_read_once_and_protected():
    datasets._digits_table.cache_clear()
    datasets.load_digits()
    datasets.load_digits(seed=5)
    assert datasets._digits_table.cache_info().misses == 1
    pixels, _ = datasets.digits_raw()
    with pytest.raises(ValueError):
        pixels[0, 0] = 99
    X_train, *_ = datasets.load_digits()
    X_train[:] = 0  # the caller's copy; the next call is unaffected
    assert datasets.load_digits()[0].max() == 1.0
    assert "10.24432/C50P49" in datasets.DIGITS_CITATION


# -- training -------------------------------------------------------------------------

def test_fit_reaches_95_percent_on_the_digits():
    X_train, y_train, X_test, y_test = datasets.load_digits(seed=0)
    net = nn.MLP([64, 128, 64, 10], "relu", seed=0)
    history = nn.fit(net, X_train, y_train, epochs=20, batch_size=32,
                     optimizer=optim.Adam(net.parameters(), lr=2e-3),
                     X_test=X_test, y_test=y_test, seed=0, monitor=False)
    assert len(history) == 20
    assert set(history[0]) == {"epoch", "steps", "loss", "accuracy", "test_loss",
                               "test_accuracy", "time"}
    assert history[-1]["test_loss"] < history[0]["test_loss"]
    assert history[-1]["steps"] == 20 * math.ceil(1437 / 32)
    assert history[-1]["loss"] < history[0]["loss"] / 5
    assert history[-1]["accuracy"] > 0.99
    assert history[-1]["test_accuracy"] >= 0.95
    assert nn.accuracy(net.predict(X_test), y_test) == history[-1]["test_accuracy"]
    times = [h["time"] for h in history]
    assert times == sorted(times)


def test_fit_is_repeatable_and_defaults_to_adam():
    X, y, _, _ = datasets.load_digits()
    runs = []
    for _ in range(2):
        net = nn.MLP([64, 16, 10], "tanh", seed=1)
        runs.append(nn.fit(net, X[:300], y[:300], epochs=2, seed=7, monitor=False))
    assert [h["loss"] for h in runs[0]] == [h["loss"] for h in runs[1]]
    assert runs[0][0]["test_accuracy"] is None


def test_fit_with_mse_regression():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(200, 2))
    y = (X[:, :1] * X[:, 1:])  # a product: needs the hidden layer
    net = nn.MLP([2, 16, 1], "tanh", seed=0)
    history = nn.fit(net, X[:150], y[:150], epochs=30, loss=nn.mse, batch_size=20,
                     optimizer=optim.Adam(net.parameters(), lr=1e-2), monitor=False,
                     X_test=X[150:], y_test=y[150:])
    assert history[-1]["loss"] < 0.2 * history[0]["loss"]
    assert history[-1]["test_loss"] < 0.2 * history[0]["test_loss"]
    assert history[-1]["accuracy"] is None and history[-1]["test_accuracy"] is None


class Recorder:
    def __init__(self):
        self.updates, self.closed = [], False

    def update(self, step, loss, accuracy=None):
        self.updates.append((step, loss, accuracy))

    def close(self):
        self.closed = True


def test_fit_reports_every_step_to_a_monitor_with_accuracy_at_epoch_ends():
    X, y, X_test, y_test = datasets.load_digits()
    rec = Recorder()
    net = nn.MLP([64, 8, 10], "relu", seed=0)
    history = nn.fit(net, X[:100], y[:100], epochs=3, batch_size=40, monitor=rec,
                     X_test=X_test, y_test=y_test)
    assert [s for s, _, _ in rec.updates] == list(range(9))
    assert [a for *_, a in rec.updates if a is not None] == [h["test_accuracy"]
                                                             for h in history]
    assert [i for i, (*_, a) in enumerate(rec.updates) if a is not None] == [2, 5, 8]
    assert rec.closed


def test_fit_with_a_training_monitor_widget():
    from adlab.widgets import TrainingMonitor

    X, y, _, _ = datasets.load_digits()
    mon = TrainingMonitor(total=4, title="digits")
    nn.fit(nn.MLP([64, 8, 10], seed=0), X[:100], y[:100], epochs=2, batch_size=50,
           monitor=mon)
    assert len(mon.history) == 4 and mon.closed and mon.n_draws >= 1
    assert mon.history[-1]["accuracy"] is not None  # training accuracy, without a test set


def test_fit_auto_monitor_shows_the_widget_inside_jupyter(monkeypatch):
    import IPython.display

    from adlab.widgets import TrainingMonitor

    shown = []
    monkeypatch.setattr(training, "_in_jupyter", lambda: True)
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    X, y, _, _ = datasets.load_digits()
    nn.fit(nn.MLP([64, 8, 10], seed=0), X[:64], y[:64], epochs=1, monitor="auto")
    assert len(shown) == 1 and isinstance(shown[0], TrainingMonitor) and shown[0].closed
    assert shown[0].total == 1


def test_in_jupyter_is_false_under_pytest():
    assert training._in_jupyter() is False


def test_fit_progress_bar_is_silent_when_stderr_is_not_a_tty(capsys):
    X, y, _, _ = datasets.load_digits()
    nn.fit(nn.MLP([64, 8, 10], seed=0), X[:100], y[:100], epochs=2)  # monitor="auto"
    nn.fit(nn.MLP([64, 8, 10], seed=0), X[:100], y[:100], epochs=2, monitor="bar")
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_fit_monitor_false_prints_nothing(capfd):
    X, y, _, _ = datasets.load_digits()
    nn.fit(nn.MLP([64, 8, 10], seed=0), X[:100], y[:100], epochs=2, monitor=False)
    out = capfd.readouterr()
    assert out.out == "" and out.err == ""


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_a_terminal(monkeypatch):
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stderr", tty)
    X, y, X_test, y_test = datasets.load_digits()
    nn.fit(nn.MLP([64, 8, 10], seed=0), X[:100], y[:100], epochs=2, batch_size=50,
           X_test=X_test, y_test=y_test, title="digits")
    text = tty.getvalue()
    assert text.startswith("\r") and text.endswith("\n") and text.count("\n") == 1
    last = text.rstrip("\n").split("\r")[-1]
    assert last.startswith("digits [") and "4/4" in last and "loss" in last
    assert "test accuracy" in last


def test_progress_bar_survives_odd_streams():
    class Closed:
        def isatty(self):
            raise ValueError("I/O operation on closed file")

    bar = nn.ProgressBar(3, file=Closed())
    bar.update(0, 1.0)
    bar.close()
    assert not bar.enabled and bar.closed

    class Broken(FakeTTY):
        def write(self, s):
            raise OSError("broken pipe")

    bar = nn.ProgressBar(3, file=Broken())
    bar.update(0, 1.0)
    bar.update(1, 0.5, 0.9)
    bar.close()
    assert not bar.enabled
    forced = io.StringIO()
    bar = nn.ProgressBar(None, "t", file=forced, force=True)
    bar.update(0, 2.0)
    bar.close()
    assert "t step 1  loss 2 " in forced.getvalue()  # numbers as adlab.fmt writes them


def test_fit_rejects_unknown_monitors_and_mismatched_data():
    X, y, _, _ = datasets.load_digits()
    net = nn.MLP([64, 10])
    with pytest.raises(ValueError, match="monitor='loud'"):
        nn.fit(net, X, y, epochs=1, monitor="loud")
    with pytest.raises(ad.ShapeError, match="one label per row"):
        nn.fit(net, X, y[:10], epochs=1, monitor=False)
