r"""Losses and metrics for :mod:`adlab.nn`: cross-entropy from logits, mean squared error,
accuracy and one-hot targets.

They are functions of arrays or adlab values, so ``ad.grad`` and ``loss.backward()``
both differentiate them, and they keep the logits' dtype (float32 networks get float32
losses and gradients). :mod:`adlab.nn` and :mod:`adlab.training` both use them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from adlab import ops
from adlab.core import ShapeError, raw

__all__ = ["cross_entropy", "mse", "accuracy", "one_hot"]


# ---------------------------------------------------------------------------------
# Losses and metrics
# ---------------------------------------------------------------------------------

def one_hot(labels: Any, n_classes: int, dtype: Any = np.float64) -> np.ndarray:
    """Rows of the identity: ``one_hot([2, 0], 3) = [[0, 0, 1], [1, 0, 0]]``."""
    labels = np.asarray(raw(labels))
    if labels.dtype.kind not in "iu":
        raise TypeError(f"one_hot takes integer class labels, got dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"class labels must lie in 0..{n_classes - 1}, got values from "
                         f"{labels.min()} to {labels.max()}")
    return np.eye(n_classes, dtype=dtype)[labels]


def _targets(logits: Any, labels: Any, where: str) -> np.ndarray:
    """Labels as probability rows of the logits' shape and dtype."""
    z_shape = np.shape(raw(logits))
    if len(z_shape) != 2:
        raise ShapeError(f"{where} takes logits of shape (N, n_classes), one row per "
                         f"example; got shape {z_shape}.")
    y = np.asarray(raw(labels))
    dtype = np.result_type(raw(logits))
    if y.dtype.kind in "iu":
        if y.shape != z_shape[:1]:
            raise ShapeError(f"{where}: {z_shape[0]} rows of logits but labels of shape "
                             f"{y.shape}; integer labels need one class index per row.")
        return one_hot(y, z_shape[1], dtype)
    if y.shape != z_shape:
        raise ShapeError(f"{where}: logits of shape {z_shape} and targets of shape {y.shape}. "
                         "Give integer class indices of shape (N,) or probability rows "
                         "(one-hot) of the logits' shape.")
    return y.astype(dtype, copy=False)


def cross_entropy(logits: Any, labels: Any) -> Any:
    r"""The mean cross-entropy of softmax(logits) against the labels.

    .. math:: L = -\frac1N \sum_{n=1}^{N} \sum_k y_{nk} \log \operatorname{softmax}(z_n)_k,
              \qquad \log\operatorname{softmax}(z)_k = z_k - \log\sum_j e^{z_j}

    ``labels`` are integer class indices of shape ``(N,)`` or probability rows (e.g.
    one-hot) of the logits' shape ``(N, n_classes)``. The loss is computed from the
    *logits* with ``log_softmax``, which subtracts the row maximum before exponentiating:
    logits of ±1000 give a finite loss (0 for a confident right answer, 2000 for a
    confident wrong one) and finite gradients. Taking ``log(softmax(z))`` instead would
    give ``log(0) = -inf``. Its gradient is the textbook one,
    :math:`\partial L/\partial z = (\operatorname{softmax}(z) - y)/N`.

    >>> float(cross_entropy(np.array([[1000.0, -1000.0]]), np.array([1])))
    2000.0
    """
    y = _targets(logits, labels, "cross_entropy")
    # 1/N in the logits' dtype: the reverse sweep's seed 1.0 times it keeps that dtype,
    # so float32 networks get float32 gradients
    scale = np.asarray(1.0 / np.shape(raw(logits))[0], dtype=y.dtype)
    nll = ops.neg(ops.log_softmax(logits, axis=-1))  # -log softmax(z): 0 when certain & right
    return ops.mul(ops.sum(ops.mul(y, nll)), scale)


def mse(pred: Any, target: Any) -> Any:
    r"""Mean squared error :math:`\frac1M\sum_i (p_i - t_i)^2` over all ``M`` entries.

    Its gradient is :math:`2(p - t)/M`.
    """
    t = np.asarray(raw(target))
    if np.shape(raw(pred)) != t.shape:
        raise ShapeError(f"mse: predictions of shape {np.shape(raw(pred))} and targets of "
                         f"shape {t.shape} differ; reshape one of them (broadcasting here "
                         "is almost always a bug).")
    d = ops.sub(pred, t)
    scale = np.asarray(1.0 / max(t.size, 1), dtype=np.result_type(raw(pred), t))
    return ops.mul(ops.sum(ops.mul(d, d)), scale)  # the mean, in the inputs' dtype


def accuracy(logits: Any, labels: Any) -> float:
    """The fraction of rows whose largest logit is at the true class (labels or one-hot)."""
    z = np.asarray(raw(logits))
    y = np.asarray(raw(labels))
    if y.ndim == 2:
        y = y.argmax(axis=1)
    return float(np.mean(z.argmax(axis=1) == y))
