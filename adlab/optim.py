r"""Optimizers: what to do with a gradient once reverse mode has computed it.

Reverse mode leaves :math:`g = \partial L/\partial\theta` in each parameter's ``.grad``;
an optimizer turns it into a step. Both classes here update each ``Var.value`` in
place, skip parameters whose ``.grad`` is ``None``, and keep each parameter's dtype
(float32 stays float32).

* :class:`SGD`, gradient descent with momentum :math:`\mu` (PyTorch's form):

  .. math:: v \leftarrow \mu v + g, \qquad \theta \leftarrow \theta - \eta\, v

  With :math:`\mu = 0` this is plain gradient descent :math:`\theta \leftarrow
  \theta - \eta g`.

* :class:`Adam` (Kingma and Ba, 2015): running means of the gradient and of its square,
  corrected for starting at zero, give every parameter its own step size:

  .. math:: m \leftarrow \beta_1 m + (1-\beta_1) g,\quad
            v \leftarrow \beta_2 v + (1-\beta_2) g^2,\quad
            \theta \leftarrow \theta - \eta\,\frac{m/(1-\beta_1^t)}
            {\sqrt{v/(1-\beta_2^t)} + \epsilon}

A training step:

>>> import numpy as np, adlab as ad
>>> w = ad.Var(np.array([1.0, -2.0]))
>>> opt = SGD([w], lr=0.1)
>>> opt.zero_grad()
>>> loss = ad.sum(w * w)          # gradient 2w
>>> loss.backward()
>>> opt.step()                    # w - 0.1 * 2w
>>> w.value
array([ 0.8, -1.6])
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from adlab import fmt
from adlab.core import raw
from adlab.reverse import Var

__all__ = ["Optimizer", "SGD", "Adam"]


class Optimizer:
    """What SGD and Adam share: the parameter list, ``zero_grad()`` and in-place updates."""

    def __init__(self, params: Iterable[Var] | Any, lr: float):
        if hasattr(params, "parameters"):  # a Module: take its parameters
            params = params.parameters()
        self.params: list[Var] = list(params)
        for i, p in enumerate(self.params):
            if not isinstance(p, Var):
                raise TypeError(
                    f"{type(self).__name__}: parameter {i} is a {type(p).__name__}, not an "
                    "ad.Var. Optimizers update Vars in place using the .grad that backward() "
                    "left there: pass model.parameters(), or wrap arrays as ad.Var(array).")
        if not lr > 0:
            raise ValueError(f"{type(self).__name__}: the learning rate must be positive, "
                             f"got lr={lr!r}")
        self.lr = float(lr)
        self.steps = 0  # how many times step() has run

    def zero_grad(self, set_to_none: bool = False) -> None:
        """Zero every parameter's ``.grad`` (in its own dtype), or set it to ``None``."""
        for p in self.params:
            p.grad = None if set_to_none else np.zeros_like(raw(p.value))

    def step(self) -> None:
        """Update every parameter that has a gradient."""
        for i, p in enumerate(self.params):
            if p.grad is not None:
                value = raw(p.value)
                dtype = np.result_type(value)
                g = np.asarray(raw(p.grad), dtype=dtype)
                if g.shape != np.shape(value):
                    g = np.broadcast_to(g, np.shape(value))
                _subtract(p, self._direction(i, g, dtype))
        self.steps += 1

    def _direction(self, i: int, g: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """The update of parameter ``i`` (subtracted from it), given its gradient ``g``."""
        raise NotImplementedError  # pragma: no cover

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.params)} parameters, lr={fmt.number(self.lr)})"


def _subtract(p: Var, delta: np.ndarray) -> None:
    """``p.value -= delta``, in place when the value is a writable array."""
    value = p.value
    if isinstance(value, np.ndarray) and value.ndim > 0 and value.flags.writeable:
        np.subtract(value, delta, out=value, casting="same_kind")
    else:  # a Python float or a 0-d array: rebind, keeping the dtype
        new = np.asarray(value - delta, dtype=np.result_type(value))
        p.value = new if isinstance(value, np.ndarray) else new[()]


class SGD(Optimizer):
    r"""Stochastic gradient descent with optional momentum.

    :math:`v \leftarrow \mu v + g`, then :math:`\theta \leftarrow \theta - \eta v`
    (the velocity starts at the first gradient, as in PyTorch). ``momentum=0`` is plain
    gradient descent.
    """

    def __init__(self, params: Iterable[Var] | Any, lr: float, momentum: float = 0.0):
        super().__init__(params, lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)
        self.velocity: list[np.ndarray | None] = [None] * len(self.params)

    def _direction(self, i: int, g: np.ndarray, dtype: np.dtype) -> np.ndarray:
        if self.momentum == 0.0:
            return (self.lr * g).astype(dtype, copy=False)
        v = self.velocity[i]
        v = g.copy() if v is None else (self.momentum * v + g).astype(dtype, copy=False)
        self.velocity[i] = v
        return (self.lr * v).astype(dtype, copy=False)

    def __repr__(self) -> str:
        return (f"SGD({len(self.params)} parameters, lr={fmt.number(self.lr)}, "
                f"momentum={fmt.number(self.momentum)})")


class Adam(Optimizer):
    r"""Adam: momentum on the gradient, scaled by a running root-mean-square of it.

    .. math:: m \leftarrow \beta_1 m + (1-\beta_1) g,\qquad
              v \leftarrow \beta_2 v + (1-\beta_2) g^2

    .. math:: \theta \leftarrow \theta - \eta\,\hat m / (\sqrt{\hat v} + \epsilon),\qquad
              \hat m = m/(1-\beta_1^t),\ \hat v = v/(1-\beta_2^t)

    :math:`t` counts the steps each parameter has taken (a parameter without a gradient
    does not advance). The first step moves every entry by about ``lr``, whatever the
    gradient's scale.
    """

    def __init__(self, params: Iterable[Var] | Any, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, lr)
        b1, b2 = betas
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"Adam: betas must lie in [0, 1), got {betas!r}")
        self.betas, self.eps = (float(b1), float(b2)), float(eps)
        n = len(self.params)
        self.m: list[np.ndarray | None] = [None] * n
        self.v: list[np.ndarray | None] = [None] * n
        self.t: list[int] = [0] * n

    def _direction(self, i: int, g: np.ndarray, dtype: np.dtype) -> np.ndarray:
        b1, b2 = self.betas
        if self.m[i] is None:
            self.m[i] = np.zeros_like(g)
            self.v[i] = np.zeros_like(g)
        m, v = self.m[i], self.v[i]
        # in place: m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g²
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g)
        self.t[i] += 1
        t = self.t[i]
        m_hat_scale = self.lr / (1 - b1 ** t)    # lr · m̂ = lr · m / (1 - β1^t)
        v_hat_scale = 1.0 / (1 - b2 ** t)        # v̂ = v / (1 - β2^t)
        step = m_hat_scale * m / (np.sqrt(v * v_hat_scale) + self.eps)
        return step.astype(dtype, copy=False)

    def __repr__(self) -> str:
        betas = ", ".join(fmt.number(b) for b in self.betas)
        return (f"Adam({len(self.params)} parameters, lr={fmt.number(self.lr)}, "
                f"betas=({betas}), eps={fmt.number(self.eps)})")
