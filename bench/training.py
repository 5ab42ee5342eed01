"""Benchmark 6: one training step of an MLP in adlab, PyTorch and HIPS autograd.

A step is what a training loop does per batch: forward, cross-entropy from the logits
(integer labels, mean over the batch), backward, and a plain SGD update
``W <- W - lr * dW``. Every engine starts from the same weights (those of
``adlab.nn.MLP(sizes, activation="relu", seed=0, dtype=...)``) and walks through the
same batches in the same order, so their losses agree step by step
(:func:`check_agreement`).

The engines:

``adlab nn``          ``adlab.nn.MLP`` + ``nn.cross_entropy`` + ``loss.backward()`` +
                      ``adlab.optim.SGD`` (``opt.zero_grad()``, ``opt.step()``), the
                      PyTorch-style path of the course.
``adlab functional``  ``ad.value_and_grad`` of ``nn.cross_entropy(model.apply(params,
                      X), y)`` over a list of arrays, then ``p -= lr * g`` in NumPy.
``torch``             ``torch.nn.Sequential`` of ``Linear``/``ReLU``,
                      ``F.cross_entropy``, ``torch.optim.SGD`` on the CPU.
``autograd``          HIPS ``autograd.value_and_grad`` of the same loss written with
                      ``autograd.numpy`` (one-hot targets), ``p -= lr * g``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata

import numpy as np

import adlab as ad

ENGINES = ("adlab_nn", "adlab_fn", "torch", "autograd")
LABELS = {"adlab_nn": "adlab nn.MLP + optim.SGD", "adlab_fn": "adlab value_and_grad + NumPy",
          "torch": "PyTorch", "autograd": "HIPS autograd"}


@dataclass
class Problem:
    name: str                     # "784-256-128-10 random" / "64-128-64-10 digits"
    sizes: tuple
    dtype: type
    batches: list                 # [(X, y)] with X of dtype, y int64 labels
    init: list                    # [W1, b1, ...] (W of shape (n_in, n_out)), dtype
    data: str                     # where the data came from
    notes: list = field(default_factory=list)


def make_problem(sizes, dtype, batch: int, seed: int, data: str, pool: int) -> Problem:
    """Weights of ``nn.MLP(sizes, "relu", seed=0, dtype)`` and a list of batches.

    ``data="random"``: ``pool`` batches of standard-normal inputs and uniform labels.
    ``data="digits"``: the training digits of ``adlab.datasets.load_digits()`` in
    consecutive batches (the last, partial one dropped); random data of the same shape
    if that module is missing (said in ``notes``).
    """
    from adlab import nn

    notes = []
    kind = "random"
    sizes = tuple(sizes)
    model = nn.MLP(list(sizes), activation="relu", seed=0, dtype=dtype)
    init = [np.array(v, dtype=dtype, copy=True) for v in model.parameter_values()]
    if data == "digits":
        try:
            from adlab.datasets import load_digits

            X_train, y_train, _, _ = load_digits(dtype=dtype)
            if X_train.shape[1] != sizes[0]:
                raise ValueError(f"digits have {X_train.shape[1]} features, not {sizes[0]}")
            n = len(X_train) // batch
            batches = [(np.ascontiguousarray(X_train[i * batch:(i + 1) * batch]),
                        np.asarray(y_train[i * batch:(i + 1) * batch], dtype=np.int64))
                       for i in range(n)]
            kind = "digits"
            source = (f"adlab.datasets.load_digits(): {n} batches of {batch} of the "
                      f"{len(X_train)} training digits")
        except Exception as e:  # noqa: BLE001
            notes.append(f"adlab.datasets.load_digits() unavailable ({type(e).__name__}: "
                         f"{e}); random data of the digits' shape instead")
            data = "random"
    if data == "random":
        rng = np.random.default_rng(seed + 6)
        batches = [(rng.standard_normal((batch, sizes[0])).astype(dtype),
                    rng.integers(0, sizes[-1], batch).astype(np.int64))
                   for _ in range(pool)]
        source = f"random: {len(batches)} batches of {batch}, N(0, 1) inputs, uniform labels"
    name = "-".join(map(str, sizes)) + " " + kind
    return Problem(name, sizes, dtype, batches, init, source, notes)


@dataclass
class Engine:
    name: str
    step: Callable[[], object]          # one training step; returns the loss (any type)
    loss_value: Callable[[object], float]
    params: Callable[[], list]          # current weights as NumPy arrays, W (n_in, n_out)
    grad_dtypes: Callable[[], list] = lambda: []
    version: str | None = None


def adlab_nn(prob: Problem, lr: float) -> Engine:
    from adlab import nn, optim

    model = nn.MLP(list(prob.sizes), activation="relu", seed=0, dtype=prob.dtype)
    for p, v in zip(model.parameters(), prob.init):
        p.value = v.copy()
    opt = optim.SGD(model.parameters(), lr=lr)
    batches = itertools.cycle(prob.batches)

    def step():
        X, y = next(batches)
        opt.zero_grad()
        loss = nn.cross_entropy(model(X), y)
        loss.backward()
        opt.step()
        return loss

    return Engine("adlab_nn", step, lambda loss: float(loss.value),
                  lambda: [np.asarray(p.value) for p in model.parameters()],
                  lambda: [np.result_type(p.grad) for p in model.parameters()],
                  ad.__version__)


def adlab_fn(prob: Problem, lr: float) -> Engine:
    from adlab import nn

    model = nn.MLP(list(prob.sizes), activation="relu", seed=0, dtype=prob.dtype)
    params = [v.copy() for v in prob.init]
    vg = ad.value_and_grad(lambda ps, X, y: nn.cross_entropy(model.apply(ps, X), y))
    batches = itertools.cycle(prob.batches)
    last = {}

    def step():
        X, y = next(batches)
        loss, grads = vg(params, X, y)
        for p, g in zip(params, grads):
            p -= lr * g
        last["grads"] = grads
        return loss

    def grad_dtypes():
        return [np.result_type(g) for g in last.get("grads", [])]

    return Engine("adlab_fn", step, float, lambda: list(params), grad_dtypes, ad.__version__)


def torch_engine(prob: Problem, lr: float) -> Engine:
    from bench.peers import import_torch

    torch = import_torch()
    F = torch.nn.functional
    tdt = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[
        np.dtype(prob.dtype)]
    mods, linears = [], []
    n_layers = len(prob.sizes) - 1
    for i, (n_in, n_out) in enumerate(zip(prob.sizes[:-1], prob.sizes[1:])):
        lin = torch.nn.Linear(n_in, n_out, dtype=tdt)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(prob.init[2 * i].T)))
            lin.bias.copy_(torch.from_numpy(prob.init[2 * i + 1].copy()))
        mods.append(lin)
        linears.append(lin)
        if i < n_layers - 1:
            mods.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*mods)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    batches = itertools.cycle([(torch.from_numpy(X), torch.from_numpy(y))
                               for X, y in prob.batches])

    def step():
        X, y = next(batches)
        opt.zero_grad()
        loss = F.cross_entropy(model(X), y)
        loss.backward()
        opt.step()
        return loss

    def params():
        out = []
        for lin in linears:
            out += [lin.weight.detach().numpy().T.copy(), lin.bias.detach().numpy().copy()]
        return out

    def grad_dtypes():
        return [np.dtype(str(p.grad.dtype).removeprefix("torch."))
                for p in model.parameters() if p.grad is not None]

    return Engine("torch", step, lambda loss: float(loss.detach()), params, grad_dtypes,
                  torch.__version__)


def autograd_engine(prob: Problem, lr: float) -> Engine:
    import autograd
    import autograd.numpy as anp

    n_layers = len(prob.sizes) - 1
    eye = np.eye(prob.sizes[-1], dtype=prob.dtype)
    batches = itertools.cycle([(X, eye[y]) for X, y in prob.batches])

    def loss_fn(ps, X, Y):
        h = X
        for i in range(n_layers):
            h = h @ ps[2 * i] + ps[2 * i + 1]
            if i < n_layers - 1:
                h = anp.maximum(h, 0.0)
        s = h - anp.max(h, axis=1, keepdims=True)
        logp = s - anp.log(anp.sum(anp.exp(s), axis=1, keepdims=True))
        return -anp.sum(logp * Y) / X.shape[0]

    vg = autograd.value_and_grad(loss_fn)
    params = [v.copy() for v in prob.init]
    last = {}

    def step():
        X, Y = next(batches)
        loss, grads = vg(params, X, Y)
        for p, g in zip(params, grads):
            p -= lr * g
        last["grads"] = grads
        return loss

    return Engine("autograd", step, float, lambda: list(params),
                  lambda: [np.result_type(g) for g in last.get("grads", [])],
                  metadata.version("autograd"))


BUILDERS = {"adlab_nn": adlab_nn, "adlab_fn": adlab_fn, "torch": torch_engine,
            "autograd": autograd_engine}


def check_agreement(engines: dict[str, Engine], prob: Problem, steps: int = 3) -> dict:
    """Run ``steps`` steps of every engine; raise if losses, weights or dtypes disagree.

    float64: losses to 1e-5 relative (in practice ~1e-15) and weights to 1e-7; float32:
    losses to 1e-4 relative. Returns the losses and the largest relative differences.
    """
    f64 = np.dtype(prob.dtype) == np.float64
    losses = {k: [e.loss_value(e.step()) for _ in range(steps)] for k, e in engines.items()}
    ref_name = "adlab_nn" if "adlab_nn" in engines else next(iter(engines))
    ref = np.array(losses[ref_name])
    rtol = 1e-5 if f64 else 1e-4
    max_rel = {}
    for k, ls in losses.items():
        rel = float(np.max(np.abs(np.array(ls) - ref) / np.abs(ref)))
        max_rel[k] = rel
        if not np.all(np.isfinite(ls)) or rel > rtol:
            raise AssertionError(f"{prob.name} {np.dtype(prob.dtype)}: losses of {k} {ls} and "
                                 f"{ref_name} {list(ref)} differ (max relative {rel:.3g} > "
                                 f"{rtol:g})")
    ref_params = engines[ref_name].params()
    max_w = {}
    for k, e in engines.items():
        ps = e.params()
        bad = [np.result_type(p) for p in ps if np.result_type(p) != np.dtype(prob.dtype)]
        if bad:
            raise AssertionError(f"{k}: weights changed dtype to {bad[0]} (expected "
                                 f"{np.dtype(prob.dtype)})")
        diff = max(float(np.max(np.abs(a - b))) / max(float(np.max(np.abs(b))), 1e-30)
                   for a, b in zip(ps, ref_params))
        max_w[k] = diff
        if f64 and diff > 1e-7:
            raise AssertionError(f"{prob.name} float64: weights of {k} after {steps} steps "
                                 f"differ from {ref_name}'s (max relative {diff:.3g})")
    return {"steps": steps, "losses": losses, "max_rel_loss_diff": max_rel,
            "max_rel_weight_diff": max_w, "reference": ref_name,
            "grad_dtypes": {k: sorted({str(d) for d in e.grad_dtypes()})
                            for k, e in engines.items()}}
