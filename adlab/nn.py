r"""Neural networks on adlab: layers, losses and a training loop.

The pieces are the ones every framework has, small enough to read:

* :class:`Module` — something that holds :class:`adlab.Var` parameters;
  ``parameters()`` lists them, ``zero_grad()`` zeroes all their gradients at once.
* :class:`Linear` — the affine map :math:`x \mapsto xW + b`.
* :class:`MLP` — linear layers with an activation (sigmoid, tanh or relu) between them.
* losses :func:`cross_entropy` (from logits, numerically stable) and :func:`mse`;
  :func:`softmax` and :func:`accuracy`.
* :func:`fit` — the training loop: shuffle, forward, ``loss.backward()``,
  ``optimizer.step()``, with a progress display.

A training step, written out, is three lines of reverse mode and one of gradient descent:

>>> import numpy as np
>>> from adlab import nn, optim
>>> model = nn.MLP([4, 8, 3], "tanh", seed=0)
>>> opt = optim.Adam(model.parameters(), lr=1e-2)
>>> x, labels = np.ones((5, 4)), np.array([0, 1, 2, 1, 0])
>>> model.zero_grad()                               # backward() accumulates: start at 0
>>> loss = nn.cross_entropy(model(x), labels)       # forward: records the tape
>>> loss.backward()                                 # reverse sweep: every W.grad, b.grad
>>> opt.step()                                      # W <- W - lr * (Adam's direction)

Everything also works on plain arrays, for the functional style of ``ad.grad``:
``model.apply(params, x)`` runs the same network with the weights in ``params`` (a list
of arrays, in the order of ``model.parameters()``), so ``ad.grad(lambda ps:
nn.cross_entropy(model.apply(ps, x), labels))(model.parameter_values())`` gives the same
gradients as ``backward()``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from adlab import fmt, ops
from adlab.core import AdlabError, ShapeError, raw
from adlab.losses import accuracy, cross_entropy, mse, one_hot
from adlab.reverse import Var
from adlab.training import ProgressBar, fit  # the training loop: nn.fit is where people look

__all__ = [
    "Module", "Linear", "MLP", "ACTIVATIONS", "softmax", "log_softmax", "cross_entropy",
    "mse", "accuracy", "one_hot", "fit", "ProgressBar",
]

#: The activations :class:`MLP` knows by name.
ACTIVATIONS: dict[str, Callable] = {
    "sigmoid": ops.sigmoid,
    "tanh": ops.tanh,
    "relu": ops.relu,
}

#: ``softmax(z)_i = e^{z_i} / Σ_j e^{z_j}`` along the last axis (the primitive ``ad.softmax``).
softmax = ops.softmax
#: ``log_softmax(z)_i = z_i - log Σ_j e^{z_j}``, computed stably (``ad.log_softmax``).
log_softmax = ops.log_softmax
# the losses (cross_entropy, mse), accuracy and one_hot live in adlab.losses, and the
# training loop (fit, ProgressBar) in adlab.training; both are part of nn's interface


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _count(p: Var) -> int:
    return int(np.size(raw(p.value)))


# ---------------------------------------------------------------------------------
# Modules
# ---------------------------------------------------------------------------------

class Module:
    """A building block of a network: it holds parameters and maps inputs to outputs.

    Parameters are the :class:`adlab.Var` attributes of a module, and those of the
    modules it holds (directly, or in lists and tuples), in the order they were
    assigned, as in PyTorch. Subclasses define ``__call__``.
    """

    def named_parameters(self, prefix: str = "") -> list[tuple[str, Var]]:
        """``(name, Var)`` pairs, e.g. ``("layers.0.W", Var(...))``, each parameter once."""
        found: list[tuple[str, Var]] = []
        seen: set[int] = set()

        def visit(name: str, value: Any) -> None:
            if isinstance(value, Var):
                if id(value) not in seen:
                    seen.add(id(value))
                    found.append((name, value))
            elif isinstance(value, Module):
                for sub, p in value.named_parameters():
                    visit(f"{name}.{sub}", p)
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    visit(f"{name}.{i}", item)

        for attr, value in vars(self).items():
            if not attr.startswith("_"):
                visit(prefix + attr, value)
        return found

    def parameters(self) -> list[Var]:
        """Every parameter (an :class:`adlab.Var`) of this module and the modules it holds."""
        return [p for _, p in self.named_parameters()]

    def parameter_values(self) -> list[np.ndarray]:
        """The parameters' values, in the order of :meth:`parameters`.

        These are the arrays themselves, not copies: optimizers change them in place.
        """
        return [p.value for p in self.parameters()]

    def num_parameters(self) -> int:
        """How many numbers the parameters hold in all."""
        return sum(_count(p) for p in self.parameters())

    def zero_grad(self, set_to_none: bool = False) -> None:
        """Zero the gradient of every parameter, in one call.

        ``backward()`` *adds* into ``.grad`` (an adjoint is a sum over uses, and another
        sweep is another use), so a training loop calls this before each backward pass.
        The zeros keep each parameter's dtype; ``set_to_none=True`` sets ``.grad = None``
        instead (optimizers skip such parameters).
        """
        for p in self.parameters():
            p.grad = None if set_to_none else np.zeros_like(raw(p.value))

    def __call__(self, x: Any) -> Any:  # pragma: no cover - subclasses define it
        raise NotImplementedError(f"{type(self).__name__} must define __call__(x)")

    def _describe(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        children = [(name, value) for name, value in vars(self).items()
                    if not name.startswith("_") and
                    isinstance(value, (Module, Var, list, tuple))]
        lines = [f"{self._describe()}  [{fmt.count(self.num_parameters())} parameters]"]
        for name, value in children:
            if isinstance(value, Var):
                lines.append(f"  ({name}): parameter of shape {value.shape}")
                continue
            items = value if isinstance(value, (list, tuple)) else [value]
            for i, item in enumerate(items):
                if isinstance(item, Module):
                    label = f"{name}[{i}]" if isinstance(value, (list, tuple)) else name
                    sub = repr(item).replace("\n", "\n  ")
                    lines.append(f"  ({label}): {sub}")
        return "\n".join(lines)


_INITS = ("glorot", "he")


class Linear(Module):
    r"""The affine layer :math:`y = xW + b`, with ``W`` of shape ``(n_in, n_out)``.

    A row of ``x`` is one example, so a batch of :math:`N` examples, ``x`` of shape
    ``(N, n_in)``, gives ``y`` of shape ``(N, n_out)``; ``b`` is broadcast over the rows
    (and its gradient is therefore summed over them).

    Initialisation keeps the size of the signal steady from layer to layer:

    * ``"glorot"`` (Glorot and Bengio, 2010; for tanh and sigmoid): uniform on
      :math:`\pm\sqrt{6/(n_{in}+n_{out})}`;
    * ``"he"`` (He et al., 2015; for relu): normal with standard deviation
      :math:`\sqrt{2/n_{in}}`.

    ``b`` starts at zero. ``seed`` is an int, ``None`` (fresh randomness) or a
    ``numpy.random.Generator`` (shared by the layers of a network).

    >>> layer = Linear(3, 2, seed=0)
    >>> layer.W.shape, layer.b.shape
    ((3, 2), (2,))
    """

    def __init__(self, n_in: int, n_out: int, *, seed: int | np.random.Generator | None = None,
                 dtype: Any = np.float64, init: str = "glorot", name: str = ""):
        if init not in _INITS:
            raise ValueError(f"Linear: init={init!r} is not one of {_INITS}: 'glorot' suits "
                             "tanh and sigmoid, 'he' suits relu.")
        self.n_in, self.n_out, self.init = int(n_in), int(n_out), init
        rng = _rng(seed)
        if init == "glorot":
            limit = math.sqrt(6.0 / (n_in + n_out))
            W = rng.uniform(-limit, limit, size=(n_in, n_out))
        else:
            W = rng.normal(0.0, math.sqrt(2.0 / n_in), size=(n_in, n_out))
        self.W = Var(W.astype(dtype), name=f"W{name}")
        self.b = Var(np.zeros(n_out, dtype=dtype), name=f"b{name}")

    def __call__(self, x: Any) -> Any:
        return self.apply((self.W, self.b), x)

    def apply(self, params: Sequence[Any], x: Any) -> Any:
        """The same layer with the weights ``params = (W, b)`` (arrays or Vars)."""
        W, b = params
        if np.shape(raw(x))[-1:] != (self.n_in,):
            raise ShapeError(
                f"Linear({self.n_in} -> {self.n_out}) takes inputs whose last axis has "
                f"{self.n_in} entries (one row per example), but got shape "
                f"{np.shape(raw(x))}. Reshape the input, e.g. x.reshape(len(x), -1).")
        return ops.add(ops.matmul(x, W), b)

    def _describe(self) -> str:
        return f"Linear({self.n_in} -> {self.n_out}, init={self.init!r})"

    def __repr__(self) -> str:
        return f"{self._describe()}  [{fmt.count(self.num_parameters())} parameters]"


def _activation(a: str | Callable) -> tuple[str, Callable]:
    if callable(a):
        return getattr(a, "__name__", repr(a)), a
    try:
        return a, ACTIVATIONS[a]
    except KeyError:
        raise ValueError(f"unknown activation {a!r}: use one of {sorted(ACTIVATIONS)} or a "
                         "function built from adlab operations") from None


class MLP(Module):
    r"""A multi-layer perceptron: linear layers with an activation between them.

    ``sizes = [n_in, h_1, ..., h_k, n_out]`` gives ``len(sizes) - 1`` :class:`Linear`
    layers; the output layer has no activation, so the network returns *logits*
    (feed them to :func:`cross_entropy`, or to :func:`softmax` for probabilities):

    .. math:: h_0 = x,\quad h_l = \sigma_l(h_{l-1} W_l + b_l)\ (l < L),\quad
              \text{logits} = h_{L-1} W_L + b_L.

    ``activation`` is one name for every hidden layer (``"sigmoid"``, ``"tanh"``,
    ``"relu"``), or a list with one per hidden layer; the curriculum's network
    :math:`h_1 = \sigma(xW_1 + b_1)`, :math:`h_2 = \tanh(h_1W_2 + b_2)` is
    ``MLP([n_in, h1, h2, n_classes], ["sigmoid", "tanh"])``. Layers before a relu
    start with He initialisation, the others with Glorot's.

    >>> net = MLP([64, 32, 10], "relu", seed=0)
    >>> [p.name for p in net.parameters()]
    ['W1', 'b1', 'W2', 'b2']
    >>> net(np.zeros((5, 64))).shape
    (5, 10)
    """

    def __init__(self, sizes: Sequence[int], activation: str | Callable | Sequence = "relu",
                 *, seed: int | np.random.Generator | None = 0, dtype: Any = np.float64):
        sizes = [int(n) for n in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"MLP needs at least two positive layer sizes [n_in, ..., n_out], "
                             f"got {sizes}")
        n_hidden = len(sizes) - 2
        if isinstance(activation, (str, bytes)) or callable(activation):
            activation = [activation] * n_hidden
        activation = list(activation)
        if len(activation) != n_hidden:
            raise ValueError(f"MLP({sizes}) has {n_hidden} hidden layer(s), so it needs that "
                             f"many activations, got {len(activation)}: {activation}")
        named = [_activation(a) for a in activation]
        self.sizes = sizes
        self.activations = [name for name, _ in named]
        self._activation_fns = [fn for _, fn in named]
        rng = _rng(seed)
        self.layers = [
            Linear(n_in, n_out, seed=rng, dtype=dtype, name=str(i + 1),
                   init="he" if i < n_hidden and self.activations[i] == "relu" else "glorot")
            for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]))
        ]

    @property
    def dtype(self) -> np.dtype:
        return np.result_type(self.layers[0].W.value)

    def __call__(self, x: Any) -> Any:
        """The logits for the rows of ``x`` (shape ``(N, n_in)`` -> ``(N, n_out)``)."""
        return self.apply([p for layer in self.layers for p in (layer.W, layer.b)], x)

    def apply(self, params: Sequence[Any], x: Any) -> Any:
        """The network with weights ``params = [W1, b1, W2, b2, ...]`` (arrays or Vars).

        This is the functional form, for transformations that take arrays:
        ``ad.grad(lambda ps: nn.cross_entropy(net.apply(ps, x), y))(net.parameter_values())``.
        """
        params = list(params)
        if len(params) != 2 * len(self.layers):
            raise AdlabError(f"{self._describe()} has {2 * len(self.layers)} parameters "
                             f"[W1, b1, ..., W{len(self.layers)}, b{len(self.layers)}], but "
                             f"apply got {len(params)}.")
        h = x
        for i, layer in enumerate(self.layers):
            h = layer.apply(params[2 * i:2 * i + 2], h)
            if i < len(self._activation_fns):
                h = self._activation_fns[i](h)
        return h

    def predict(self, x: Any) -> np.ndarray:
        """The logits as a plain array, computed without recording a tape."""
        return raw(self.apply(self.parameter_values(), np.asarray(raw(x), self.dtype)))

    def _describe(self) -> str:
        acts = repr(self.activations) if len(set(self.activations)) > 1 else \
            repr(self.activations[0] if self.activations else None)
        return f"MLP({' -> '.join(map(str, self.sizes))}, activation={acts})"

    def __repr__(self) -> str:
        lines = [f"{self._describe()}  [{fmt.count(self.num_parameters())} parameters]"]
        for i, layer in enumerate(self.layers):
            lines.append(f"  (layers[{i}]): {layer!r}")
            if i < len(self.activations):
                lines.append(f"  {self.activations[i]}")
        return "\n".join(lines)
