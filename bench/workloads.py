"""The workloads the benchmarks time, written once for every engine where possible.

* A scalar MLP (one object per number): micrograd's own ``micrograd.nn.MLP`` and the
  same network built from ``ad.Var`` scalars, with the same arithmetic, in the same
  order, op for op (see :class:`AdMLP`). :func:`scalar_step` is the training step
  both engines run, word for word.
* An array MLP with a log-softmax cross-entropy loss, :func:`mlp_loss`, written once
  against a small namespace of functions (``tanh``, ``sum``, ``log_softmax``) that
  is filled from NumPy, adlab or HIPS autograd.
* A chain of scalar operations, :func:`chain`, for the cost of one tape node.

Everything random is seeded.
"""

from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np

import adlab as ad

# ---------------------------------------------------------------------------------
# Scalar MLP: micrograd and adlab, op for op
# ---------------------------------------------------------------------------------


def micrograd_mlp(nin: int, nouts: list[int], seed: int):
    """``micrograd.nn.MLP(nin, nouts)`` with weights from ``random.seed(seed)``.

    micrograd's neurons are ReLU on every layer but the last, which is linear.
    """
    from micrograd.nn import MLP

    state = random.getstate()
    random.seed(seed)
    try:
        return MLP(nin, nouts)
    finally:
        random.setstate(state)


class AdNeuron:
    """micrograd's ``Neuron`` with ``ad.Var`` scalars: ``relu(b + w0*x0 + w1*x1 + ...)``.

    ``sum(generator, start)`` adds left to right from ``start``, exactly as
    micrograd's neuron does, so both engines record the same ``nin`` multiplications,
    ``nin`` additions and (on hidden layers) one ReLU per neuron.
    """

    def __init__(self, w: list, b, nonlin: bool):
        self.w, self.b, self.nonlin = list(w), b, nonlin

    def __call__(self, x):
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return ad.relu(act) if self.nonlin else act

    def parameters(self):
        return self.w + [self.b]


class AdLayer:
    def __init__(self, neurons: list[AdNeuron]):
        self.neurons = neurons

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]


class AdMLP:
    """The adlab twin of a micrograd ``MLP``: the same weights, as ``ad.Var`` scalars."""

    def __init__(self, layers: list[AdLayer]):
        self.layers = layers

    @classmethod
    def from_micrograd(cls, mg) -> AdMLP:
        return cls([AdLayer([AdNeuron([ad.Var(float(w.data)) for w in n.w],
                                      ad.Var(float(n.b.data)), n.nonlin)
                             for n in layer.neurons]) for layer in mg.layers])

    def with_parameters(self, flat: list) -> AdMLP:
        """The same network with ``flat`` (in :meth:`parameters` order) as its parameters."""
        it = iter(flat)
        return AdMLP([AdLayer([AdNeuron([next(it) for _ in n.w], next(it), n.nonlin)
                               for n in layer.neurons]) for layer in self.layers])

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def zero_grad(self):
        # micrograd's Module.zero_grad sets every parameter's grad to 0 before a step;
        # Var.zero_grad is adlab's documented way to do the same
        for p in self.parameters():
            p.zero_grad()


def expected_scalar_ops(nin: int, layers: list[int], batch: int) -> int:
    """Operations one scalar loss performs: per neuron nin mul + nin add (+ relu if
    hidden), per sample sub + pow + add (of the loss sum)."""
    per_sample, n_in = 0, nin
    for i, n_out in enumerate(layers):
        per_sample += n_out * (2 * n_in + (1 if i < len(layers) - 1 else 0))
        n_in = n_out
    return batch * (per_sample + 3)


def micrograd_ops(mg, xs, ys) -> int:
    """Operations in micrograd's graph of one loss (its non-leaf ``Value`` nodes)."""
    loss = scalar_loss(mg, xs, ys)
    seen, stack, n = set(), [loss], 0
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        n += v._op != ""
        stack.extend(v._prev)
    return n


def adlab_ops(adm, xs, ys) -> int:
    """Operations adlab records for one loss, counted with :func:`adlab.trace`."""
    def loss_of(*flat):
        return scalar_loss(adm.with_parameters(flat), xs, ys)

    t = ad.trace(loss_of, *[float(p.value) for p in adm.parameters()])
    return sum(1 for node in t.nodes if node.op != "input")


def scalar_data(nin: int, batch: int, seed: int) -> tuple[list[list[float]], list[float]]:
    """``batch`` inputs of ``nin`` floats in [-1, 1] and targets of +-1 (Python floats)."""
    rng = random.Random(seed)
    xs = [[rng.uniform(-1.0, 1.0) for _ in range(nin)] for _ in range(batch)]
    ys = [rng.choice((-1.0, 1.0)) for _ in range(batch)]
    return xs, ys


def scalar_loss(model, xs, ys):
    """Sum of squared errors over the batch (the same code for both engines)."""
    return sum((model(x) - y) ** 2 for x, y in zip(xs, ys))


def scalar_step(model, xs, ys):
    """One training step's AD work: zero the grads, forward, backward."""
    model.zero_grad()
    loss = scalar_loss(model, xs, ys)
    loss.backward()
    return loss


def check_scalar_models(mg, adm, xs, ys, rtol: float = 1e-9) -> None:
    """Raise if micrograd and adlab disagree on the loss or any parameter's gradient."""
    lm = scalar_step(mg, xs, ys)
    la = scalar_step(adm, xs, ys)
    if not np.isclose(float(la.value), lm.data, rtol=rtol, atol=0):
        raise AssertionError(f"scalar MLP loss: adlab {la.value!r} != micrograd {lm.data!r}")
    gm = np.array([float(p.grad) for p in mg.parameters()])
    ga = np.array([float(p.grad) for p in adm.parameters()])
    if gm.shape != ga.shape or not np.allclose(ga, gm, rtol=rtol, atol=1e-12):
        raise AssertionError("scalar MLP gradients differ between adlab and micrograd "
                             f"(max abs diff {np.max(np.abs(ga - gm)):.3g})")


# ---------------------------------------------------------------------------------
# Array MLP with a log-softmax cross-entropy loss
# ---------------------------------------------------------------------------------


def _log_softmax_with(xp):
    def log_softmax(x):
        # the usual stable form: shift by the row maximum, subtract log-sum-exp
        s = x - xp.max(x, axis=-1, keepdims=True)
        return s - xp.log(xp.sum(xp.exp(s), axis=-1, keepdims=True))
    return log_softmax


NUMPY = SimpleNamespace(name="numpy", tanh=np.tanh, sum=np.sum,
                        log_softmax=_log_softmax_with(np))
ADLAB = SimpleNamespace(name="adlab", tanh=ad.tanh, sum=ad.sum, log_softmax=ad.log_softmax)


def autograd_namespace():
    """The namespace for HIPS autograd (raises ImportError when it is not installed)."""
    import autograd.numpy as anp

    return SimpleNamespace(name="autograd", tanh=anp.tanh, sum=anp.sum,
                           log_softmax=_log_softmax_with(anp))


def mlp_loss(params, X, Y, ns=NUMPY):
    """Mean cross-entropy of a tanh MLP; ``params = [W1, b1, W2, b2, ...]``.

    ``X`` is (batch, n_in), ``Y`` one-hot (batch, n_classes). ``ns`` supplies
    ``tanh``, ``sum`` and ``log_softmax``; everything else is operators.
    """
    h = X
    n_layers = len(params) // 2
    for i in range(n_layers):
        h = h @ params[2 * i] + params[2 * i + 1]
        if i < n_layers - 1:
            h = ns.tanh(h)
    return -ns.sum(ns.log_softmax(h) * Y) / X.shape[0]


def mlp_loss_and_grad_by_hand(params, X, Y):
    """The same loss and its gradient, backpropagated by hand in plain NumPy.

    This is the floor for any engine: the NumPy work reverse mode cannot avoid.
    """
    n_layers = len(params) // 2
    hs = [X]
    for i in range(n_layers):
        a = hs[-1] @ params[2 * i] + params[2 * i + 1]
        hs.append(np.tanh(a) if i < n_layers - 1 else a)
    s = hs[-1] - hs[-1].max(axis=-1, keepdims=True)
    logp = s - np.log(np.exp(s).sum(axis=-1, keepdims=True))
    loss = -np.sum(logp * Y) / X.shape[0]
    g_logp = -Y / X.shape[0]
    g = g_logp - np.exp(logp) * g_logp.sum(axis=-1, keepdims=True)  # d loss / d logits
    grads = [None] * len(params)
    for i in reversed(range(n_layers)):
        grads[2 * i] = hs[i].T @ g
        grads[2 * i + 1] = g.sum(axis=0)
        if i > 0:
            h = hs[i]
            g = (g @ params[2 * i].T) * (1 - h * h)
    return loss, grads


def mlp_problem(sizes: tuple[int, ...], batch: int, seed: int):
    """Seeded float64 parameters ``[W1, b1, ...]``, inputs ``X`` and one-hot targets ``Y``."""
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        params.append(rng.standard_normal((n_in, n_out)) / np.sqrt(n_in))
        params.append(0.1 * rng.standard_normal(n_out))
    X = rng.standard_normal((batch, sizes[0]))
    Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], batch)]
    return params, X, Y


# ---------------------------------------------------------------------------------
# A chain of scalar operations
# ---------------------------------------------------------------------------------


def chain(n_ops: int):
    """Record ``n_ops`` scalar operations (``y = y * 0.999 + 0.001``), then backward.

    Returns ``(x, y)`` so that the caller decides when the tape is freed.
    ``x.grad`` must be ``0.999 ** (n_ops // 2)``.
    """
    x = ad.Var(0.5)
    y = _chain_of(x, n_ops)
    y.backward()
    return x, y


def _chain_of(x, n_ops: int):
    y = x
    for _ in range(n_ops // 2):
        y = y * 0.999 + 0.001
    return y


def chain_grad(n_ops: int):
    """The same chain through the transformation ``ad.grad``; returns ``(dy/dx, None)``."""
    return ad.grad(_chain_of)(0.5, n_ops), None


# ---------------------------------------------------------------------------------
# A deep chain of layers, with and without checkpointing
# ---------------------------------------------------------------------------------


def deep_chain_problem(n_layers: int, width: int, batch: int, seed: int):
    """Seeded float64 input ``x`` (batch, width) and ``n_layers`` matrices (width, width)."""
    rng = np.random.default_rng(seed + 7)
    x = rng.standard_normal((batch, width))
    Ws = [rng.standard_normal((width, width)) / np.sqrt(width) for _ in range(n_layers)]
    return x, Ws


def _layers(h, Ws):
    for W in Ws:
        h = ad.tanh(h @ W)
    return h


def deep_chain(x, *Ws):
    """``sum(h**2)`` of ``h = tanh(h @ W_i)`` over the layers, recorded whole."""
    return ad.sum(_layers(x, Ws) ** 2)


def segment(h, *Ws):
    """A run of consecutive layers: what one checkpoint wraps."""
    return _layers(h, Ws)


def deep_chain_checkpointed(every: int):
    """:func:`deep_chain` with every ``every`` layers one ``ad.checkpoint`` segment."""
    seg = ad.checkpoint(segment)

    def deep_chain_ckpt(x, *Ws):
        h = x
        for i in range(0, len(Ws), every):
            h = seg(h, *Ws[i:i + every])
        return ad.sum(h ** 2)

    return deep_chain_ckpt
