r"""Backpropagation by hand: the curriculum's MLP, its gradients derived layer by layer.

The network (notebook 07) takes a batch of :math:`N` examples, one per row of
:math:`x \in \mathbb{R}^{N\times n}`, and computes

.. math::

    z_1 &= x W_1 + b_1, & h_1 &= \sigma(z_1) \\
    z_2 &= h_1 W_2 + b_2, & h_2 &= \tanh(z_2) \\
    z_3 &= h_2 W_3 + b_3, & y &= \operatorname{softmax}(z_3) \\
    L &= -\frac{1}{N}\sum_{n,k} y^{\text{true}}_{nk} \log y_{nk}

(:math:`\sigma` the logistic sigmoid, the softmax taken along each row, each bias added
to every row). :func:`forward_backward_by_hand` computes :math:`L` and its gradient with
respect to :math:`x` and every :math:`W_l, b_l` in plain NumPy, with the equations a
textbook derives. Reading the backward half from top to bottom *is* reverse-mode AD
applied by a person: it visits the layers from last to first, and each line uses a
value the forward half stored (:math:`h_2`, :math:`h_1`, :math:`y`, ...), which is why
reverse mode must keep them. :func:`loss_adlab` is the same loss written with adlab's
operations, so ``ad.grad`` can check every number.

Four facts carry all of the algebra (:math:`\odot` is the entrywise product):

* a linear layer :math:`z = hW + b` sends the adjoint :math:`\bar z = \partial L/\partial z`
  to :math:`\bar W = h^\top \bar z`, :math:`\bar b = \sum_{\text{rows}} \bar z` (the bias
  was added to every row) and :math:`\bar h = \bar z\, W^\top`;
* :math:`\tanh' = 1 - \tanh^2`, so :math:`\bar z_2 = \bar h_2 \odot (1 - h_2^2)`;
* :math:`\sigma' = \sigma(1 - \sigma)`, so :math:`\bar z_1 = \bar h_1 \odot h_1 \odot (1 - h_1)`;
* softmax followed by cross-entropy collapses to :math:`\bar z_3 = (y - y^{\text{true}})/N`.
  With :math:`\log y_k = z_k - \log\sum_j e^{z_j}`, one row's loss is
  :math:`\ell = -\sum_k y^{\text{true}}_k z_k + \log\sum_j e^{z_j}` and
  :math:`\partial \ell/\partial z_k = -y^{\text{true}}_k + y_k`, because the true
  distribution sums to 1. The :math:`1/N` comes from the mean over the batch.

>>> import numpy as np
>>> params = curriculum_mlp(seed=0, sizes=(4, 5, 3, 2))
>>> x, labels = np.ones((3, 4)), np.array([0, 1, 1])
>>> loss, grads = forward_backward_by_hand(x, labels, **params)
>>> sorted(grads)
['W1', 'W2', 'W3', 'b1', 'b2', 'b3', 'x']
>>> grads["W1"].shape == params["W1"].shape
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from adlab import ops

__all__ = ["curriculum_mlp", "forward_backward_by_hand", "loss_adlab", "PARAMETER_NAMES"]

#: The parameters of the curriculum's MLP, in the order the functions take them.
PARAMETER_NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")


def curriculum_mlp(seed: int | None = 0, sizes: Sequence[int] = (64, 32, 16, 10),
                   bias_scale: float = 0.0) -> dict[str, np.ndarray]:
    r"""Starting weights for the curriculum's MLP, ``sizes = (n_in, h1, h2, n_classes)``.

    Returns ``{"W1": (n_in, h1), "b1": (h1,), "W2": (h1, h2), "b2": (h2,), "W3": (h2,
    n_classes), "b3": (n_classes,)}``, float64. The weights are drawn uniformly from
    :math:`\pm\sqrt{6/(n_{in}+n_{out})}` (Glorot's initialisation, made for sigmoid and
    tanh layers); the biases are 0, or normal with standard deviation ``bias_scale``.
    Pass them on with ``**params``: ``forward_backward_by_hand(x, y, **params)``.
    """
    if len(sizes) != 4:
        raise ValueError(f"the curriculum's MLP has three layers, so sizes = (n_in, h1, h2, "
                         f"n_classes); got {tuple(sizes)}")
    rng = np.random.default_rng(seed)
    params = {}
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        limit = np.sqrt(6.0 / (n_in + n_out))
        params[f"W{layer}"] = rng.uniform(-limit, limit, size=(n_in, n_out))
        params[f"b{layer}"] = bias_scale * rng.standard_normal(n_out)
    return params


def _one_hot_rows(y_true: Any, n_classes: int) -> np.ndarray:
    """Integer labels as one-hot rows; probability rows unchanged."""
    y_true = np.asarray(y_true)
    if y_true.dtype.kind in "iu":
        return np.eye(n_classes)[y_true]
    return y_true.astype(float)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # 1 / (1 + e^-z), written so that e^(large) never overflows
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def forward_backward_by_hand(x: np.ndarray, y_true: np.ndarray,
                             W1: np.ndarray, b1: np.ndarray,
                             W2: np.ndarray, b2: np.ndarray,
                             W3: np.ndarray, b3: np.ndarray
                             ) -> tuple[float, dict[str, np.ndarray]]:
    r"""The loss of the curriculum's MLP and its gradients, derived by hand in NumPy.

    ``x`` has shape ``(N, n_in)``; ``y_true`` holds integer labels of shape ``(N,)`` or
    probability rows (one-hot) of shape ``(N, n_classes)``. Returns ``(L, grads)`` with
    ``grads[k]`` :math:`= \partial L/\partial k` for ``k`` in ``x, W1, b1, W2, b2, W3,
    b3``, each of the shape of ``k``. A name with ``d`` in front is an adjoint:
    ``dz3`` is :math:`\partial L/\partial z_3`.
    """
    x = np.asarray(x, dtype=float)
    N = x.shape[0]                                 # examples in the batch (one per row)
    Y = _one_hot_rows(y_true, W3.shape[1])         # y_true as rows that sum to 1

    # ---- forward pass: compute and keep what the backward pass will read -------------
    z1 = x @ W1 + b1                               # z1 = x W1 + b1         (N, h1)
    h1 = _sigmoid(z1)                              # h1 = σ(z1)             kept: σ' reads it
    z2 = h1 @ W2 + b2                              # z2 = h1 W2 + b2        (N, h2)
    h2 = np.tanh(z2)                               # h2 = tanh(z2)          kept: tanh' reads it
    z3 = h2 @ W3 + b3                              # z3 = h2 W3 + b3        the logits
    m = z3.max(axis=1, keepdims=True)              # row maxima: shift so that exp cannot overflow
    log_y = z3 - m - np.log(np.exp(z3 - m).sum(axis=1, keepdims=True))
    #                                              # log y = z3 - log Σ_j e^(z3_j)
    y = np.exp(log_y)                              # y = softmax(z3)        kept for dL/dz3
    L = -np.sum(Y * log_y) / N                     # L = -(1/N) Σ y_true ⊙ log y

    # ---- backward pass: from the loss back to the input, one layer at a time ---------
    dz3 = (y - Y) / N                              # dL/dz3 = (y - y_true) / N
    dW3 = h2.T @ dz3                               # dL/dW3 = h2ᵀ dL/dz3
    db3 = dz3.sum(axis=0)                          # dL/db3 = Σ_rows dL/dz3
    dh2 = dz3 @ W3.T                               # dL/dh2 = dL/dz3 W3ᵀ

    dz2 = dh2 * (1 - h2 ** 2)                      # dL/dz2 = dL/dh2 ⊙ (1 - h2²)
    dW2 = h1.T @ dz2                               # dL/dW2 = h1ᵀ dL/dz2
    db2 = dz2.sum(axis=0)                          # dL/db2 = Σ_rows dL/dz2
    dh1 = dz2 @ W2.T                               # dL/dh1 = dL/dz2 W2ᵀ

    dz1 = dh1 * h1 * (1 - h1)                      # dL/dz1 = dL/dh1 ⊙ h1 ⊙ (1 - h1)
    dW1 = x.T @ dz1                                # dL/dW1 = xᵀ dL/dz1
    db1 = dz1.sum(axis=0)                          # dL/db1 = Σ_rows dL/dz1
    dx = dz1 @ W1.T                                # dL/dx  = dL/dz1 W1ᵀ

    grads = {"x": dx, "W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "W3": dW3, "b3": db3}
    return float(L), grads


def loss_adlab(x: Any, y_true: Any, W1: Any, b1: Any, W2: Any, b2: Any, W3: Any,
               b3: Any) -> Any:
    r"""The same loss, written with adlab's operations, for ``ad.grad`` to differentiate.

    Only the forward pass is written: reverse mode derives the backward pass from the
    rules of ``matmul``, ``add``, ``sigmoid``, ``tanh`` and ``log_softmax``.

    >>> import adlab as ad
    >>> p = curriculum_mlp(seed=0, sizes=(4, 5, 3, 2))
    >>> x, labels = np.ones((3, 4)), np.array([0, 1, 1])
    >>> dW1 = ad.grad(loss_adlab, argnums=2)(x, labels, *p.values())
    >>> bool(np.allclose(dW1, forward_backward_by_hand(x, labels, **p)[1]["W1"]))
    True
    """
    N = np.shape(x)[0]
    Y = _one_hot_rows(y_true, np.shape(W3)[1])
    h1 = ops.sigmoid(ops.matmul(x, W1) + b1)       # h1 = σ(x W1 + b1)
    h2 = ops.tanh(ops.matmul(h1, W2) + b2)         # h2 = tanh(h1 W2 + b2)
    z3 = ops.matmul(h2, W3) + b3                   # logits
    log_y = ops.log_softmax(z3, axis=-1)           # log softmax(z3), computed stably
    return -ops.sum(Y * log_y) / N                 # L = -(1/N) Σ y_true ⊙ log y
