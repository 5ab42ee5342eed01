r"""The training loop: :func:`fit`, with a live plot in notebooks and a bar in terminals.

One step of training is reverse mode plus an update: zero the gradients, run the
network and the loss forward (recording the tape), ``loss.backward()``, and let the
optimizer move every parameter against its gradient. :func:`fit` repeats that over
shuffled mini-batches for a number of epochs and reports the loss and accuracies.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from adlab import fmt, optim
from adlab.core import ShapeError, raw
from adlab.losses import accuracy, cross_entropy
from adlab.reverse import Var

__all__ = ["fit", "ProgressBar"]


# ---------------------------------------------------------------------------------
# Progress display
# ---------------------------------------------------------------------------------

class ProgressBar:
    """A one-line progress bar on a terminal (``\\r`` and stderr), for :func:`fit`.

    It has the interface of :class:`adlab.widgets.TrainingMonitor` (``update(step,
    loss, accuracy=None)`` and ``close()``) and keeps the same ``history``. It writes
    only when ``file`` is a terminal (or ``force=True``), so logs and captured output
    stay clean, and at most every ``min_interval`` seconds.
    """

    def __init__(self, total: int | None = None, title: str = "training", *,
                 file: Any = None, force: bool = False, min_interval: float = 0.1,
                 width: int = 24, accuracy_label: str = "accuracy"):
        self.total, self.title, self.width = total, title, width
        self.accuracy_label = accuracy_label
        self.file = sys.stderr if file is None else file
        self.min_interval = min_interval
        try:
            tty = bool(self.file.isatty())
        except (AttributeError, ValueError):  # no isatty, or a closed stream
            tty = False
        self.enabled = force or tty
        self.history: list[dict] = []
        self.accuracy: float | None = None
        self._t0 = time.perf_counter()
        self._last = -math.inf
        self._written = False
        self.closed = False

    def update(self, step: int, loss: Any, accuracy: Any = None) -> None:
        loss = float(raw(loss))
        if accuracy is not None:
            self.accuracy = float(raw(accuracy))
        self.history.append({"step": int(step), "loss": loss, "accuracy": accuracy,
                             "time": time.perf_counter() - self._t0})
        now = time.perf_counter()
        last = self.total is not None and step + 1 >= self.total
        if self.enabled and (now - self._last >= self.min_interval or last or
                             accuracy is not None):
            self._write(self.line())
            self._last = now

    def line(self) -> str:
        """The current line of text (without ``\\r``)."""
        h = self.history[-1] if self.history else {"step": -1, "loss": math.nan, "time": 0.0}
        done = h["step"] + 1
        if self.total:
            filled = round(self.width * min(done, self.total) / self.total)
            bar = f"[{'#' * filled}{'.' * (self.width - filled)}] {done}/{self.total}"
        else:
            bar = f"step {done}"
        text = f"{self.title} {bar}  loss {fmt.number(h['loss'])}"
        if self.accuracy is not None:
            text += f"  {self.accuracy_label} {fmt.percent(self.accuracy)}"
        return text + f"  {h['time']:.1f}s"

    def _write(self, text: str) -> None:
        try:
            self.file.write("\r" + text.ljust(79))
            self.file.flush()
            self._written = True
        except (OSError, ValueError):  # a closed or broken stream must not stop training
            self.enabled = False

    def close(self) -> None:
        if self.enabled and self.history:
            self._write(self.line())
        if self._written:
            try:
                self.file.write("\n")
                self.file.flush()
            except (OSError, ValueError):
                pass
        self.closed = True


def _in_jupyter() -> bool:
    """True inside a Jupyter kernel (a notebook), False in a terminal or plain IPython."""
    ipython = sys.modules.get("IPython")
    if ipython is None:  # a Jupyter kernel always has IPython loaded already
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # pragma: no cover - a broken IPython install
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def _make_monitor(monitor: Any, total: int | None, title: str,
                  accuracy_label: str = "accuracy") -> Any:
    """The object fit reports to (None for no display)."""
    if monitor is False:
        return None
    if monitor is None or monitor == "auto":
        if _in_jupyter():
            from IPython.display import display

            # ipywidgets loads only when a notebook shows a monitor
            from adlab.widgets.training import TrainingMonitor

            mon = TrainingMonitor(total=total, title=title)
            display(mon)
            return mon
        return ProgressBar(total, title, accuracy_label=accuracy_label)
    if monitor == "bar":
        return ProgressBar(total, title, accuracy_label=accuracy_label)
    if hasattr(monitor, "update") and hasattr(monitor, "close"):
        return monitor
    raise ValueError(f"fit: monitor={monitor!r} is not understood. Use 'auto' (a live plot "
                     "in notebooks, a progress bar in a terminal), False (nothing), 'bar', "
                     "or an object with update(step, loss, accuracy=None) and close(), "
                     "such as adlab.widgets.TrainingMonitor.")


# ---------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------

def _parameters_of(model: Any) -> list[Var]:
    if hasattr(model, "parameters"):  # an adlab.nn.Module
        return model.parameters()
    params = list(model)
    if not all(isinstance(p, Var) for p in params):
        raise TypeError("expected a Module or a list of ad.Var parameters")
    return params


def fit(model: Any, X: Any, y: Any, *, epochs: int, batch_size: int = 64,
        optimizer: Any = None, loss: Callable = cross_entropy, X_test: Any = None,
        y_test: Any = None, seed: int | np.random.Generator | None = 0,
        monitor: Any = "auto", title: str | None = None) -> list[dict]:
    """Train ``model`` on ``(X, y)`` by minibatch gradient descent; return the history.

    Each epoch visits the rows of ``X`` once, in a fresh order drawn from a generator
    seeded with ``seed`` (so a run repeats exactly), in batches of ``batch_size``. Each
    batch is one training step::

        optimizer.zero_grad()
        L = loss(model(X[batch]), y[batch])    # forward: records the tape
        L.backward()                           # reverse sweep: every parameter's .grad
        optimizer.step()                       # update the parameters in place

    ``optimizer`` defaults to ``optim.Adam(model.parameters(), lr=1e-3)``. ``X`` and
    ``X_test`` are cast to the model's dtype. ``monitor``: ``"auto"`` (default; ``None``
    means the same) shows a :class:`~adlab.widgets.TrainingMonitor` inside Jupyter and a
    one-line progress bar on a terminal (nothing when stderr is not a terminal);
    ``False`` shows nothing; ``"bar"`` forces the terminal bar; or pass any object with
    ``update(step, loss, accuracy=None)`` and ``close()``. ``fit`` closes the monitor at
    the end.

    Returns one dict per epoch: ``epoch``, ``steps`` (done so far), ``loss`` (mean
    training loss over the epoch), ``accuracy`` (training accuracy over the epoch, for
    classification: ``loss=cross_entropy`` or integer labels, else ``None``),
    ``test_loss`` and ``test_accuracy`` (at the end of the epoch; ``None`` without
    ``X_test``) and ``time`` (seconds since the start).
    """
    params = _parameters_of(model)
    if optimizer is None:
        optimizer = optim.Adam(params, lr=1e-3)
    dtype = np.result_type(params[0].value) if params else np.float64
    X = np.asarray(raw(X), dtype=dtype)
    y = np.asarray(raw(y))
    if len(X) != len(y):
        raise ShapeError(f"fit: X has {len(X)} rows but y has {len(y)}; one label per row.")
    if epochs < 0 or batch_size < 1:
        raise ValueError(f"fit needs epochs >= 0 and batch_size >= 1, got {epochs}, "
                         f"{batch_size}")
    has_test = X_test is not None
    if has_test:
        X_test = np.asarray(raw(X_test), dtype=dtype)
        y_test = np.asarray(raw(y_test))
    # classification (accuracies are reported): cross-entropy, or integer class labels
    classify = loss is cross_entropy or (y.dtype.kind in "iu" and y.ndim == 1)
    rng = np.random.default_rng(seed)  # a seed, or a Generator to keep using
    n = len(X)
    per_epoch = math.ceil(n / batch_size)
    mon = _make_monitor(monitor, epochs * per_epoch or None,
                           title or f"{type(model).__name__}, {epochs} epochs",
                           "test accuracy" if has_test else "accuracy")

    def evaluate(Xe: np.ndarray) -> np.ndarray:
        if hasattr(model, "predict"):
            return model.predict(Xe)
        return np.asarray(raw(model(Xe)))

    history: list[dict] = []
    t0 = time.perf_counter()
    step = 0
    try:
        for epoch in range(1, epochs + 1):
            order = rng.permutation(n)
            total_loss, correct = 0.0, 0
            for start in range(0, n, batch_size):
                batch = order[start:start + batch_size]
                xb, yb = X[batch], y[batch]
                optimizer.zero_grad()
                logits = model(xb)
                L = loss(logits, yb)
                # the seed dL/dL = 1 in the loss's own dtype, so float32 stays float32
                L.backward(np.ones((), dtype=np.result_type(raw(L.value))))
                optimizer.step()
                value = float(raw(L.value))
                total_loss += value * len(batch)
                if classify:
                    correct += accuracy(logits.value, yb) * len(batch)
                last = start + batch_size >= n
                record: dict | None = None
                if last:
                    test_loss = test_acc = None
                    if has_test:
                        test_logits = evaluate(X_test)
                        test_loss = float(raw(loss(test_logits, y_test)))
                        test_acc = accuracy(test_logits, y_test) if classify else None
                    record = {
                        "epoch": epoch, "steps": step + 1, "loss": total_loss / n,
                        "accuracy": correct / n if classify else None,
                        "test_loss": test_loss, "test_accuracy": test_acc,
                        "time": time.perf_counter() - t0,
                    }
                    history.append(record)
                if mon is not None:
                    shown = None
                    if record is not None:
                        shown = record["test_accuracy"] if has_test else record["accuracy"]
                    mon.update(step, value, shown)
                step += 1
    finally:
        if mon is not None:
            mon.close()
    return history
