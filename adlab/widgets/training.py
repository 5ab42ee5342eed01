"""TrainingMonitor: a live loss and accuracy plot with a progress bar."""

from __future__ import annotations

import html
import io
import math
import time
from typing import Any

import ipywidgets as W

from adlab import fmt
from adlab.core import raw
from adlab.draw import COLORS
from adlab.widgets._common import (
    STYLESHEET,
    TEXT_COLORS,
    WidgetInputError,
    _Displayable,
    _row,
    _with_class,
)

# ---------------------------------------------------------------------------------
# TrainingMonitor
# ---------------------------------------------------------------------------------

class TrainingMonitor(_Displayable):
    """A live loss (and accuracy) plot with a progress bar, for training loops.

    >>> mon = TrainingMonitor(total=100, title="MLP on digits")   # doctest: +SKIP
    >>> display(mon)                                              # doctest: +SKIP
    >>> for step in range(100):                                   # doctest: +SKIP
    ...     loss = train_step()
    ...     mon.update(step, loss)
    >>> mon.close()                                               # doctest: +SKIP

    The plot is redrawn at most every ``min_interval`` seconds (and every ``every``
    updates, if given), so drawing does not slow training; ``close()`` draws the final
    state. Steps may count from 0 (then step ``k`` means ``k + 1`` steps done) or from 1.
    It draws with matplotlib's Agg renderer into a PNG, so it needs no display.

    Attributes: ``history`` (list of ``{"step", "loss", "accuracy", "time"}``), ``total``,
    ``n_draws``, ``closed``, ``widget``.

    CSS classes: ``adlab-training-monitor``, ``adlab-progress`` (an ``IntProgress``),
    ``adlab-training-status``, ``adlab-plot`` (an ``Image``).
    """

    def __init__(self, total: int | None = None, title: str = "training",
                 min_interval: float = 0.2, every: int | None = None, logy: bool = False):
        if total is not None and (int(total) != total or total < 1):
            raise WidgetInputError(f"total must be a positive whole number, not {total!r}.")
        self.total = None if total is None else int(total)
        self.title, self.min_interval, self.every, self.logy = title, min_interval, every, logy
        self.history: list[dict] = []
        self.n_draws = 0
        self.closed = False
        self._t0 = time.perf_counter()
        self._last_draw = self._last_ui = -math.inf
        self._zero_based: bool | None = None
        self.progress = _with_class(W.IntProgress(value=0, min=0, max=self.total or 1,
                                                  description="steps",
                                                  bar_style="info"), "adlab-progress")
        self.status = _with_class(W.HTML("waiting for the first step"),
                                  "adlab-training-status")
        # the PNG at its own size (not stretched to the column), shrunk in a narrower one
        self.plot = _with_class(W.Image(format="png", layout=W.Layout(
            max_width="100%", height="auto", margin="2px 0", align_self="flex-start")),
            "adlab-plot")
        self.widget = _with_class(W.VBox([
            W.HTML(f"{STYLESHEET}<b>{html.escape(title)}</b>"),
            _row([self.progress, self.status]),
            self.plot,
        ]), "adlab-training-monitor")

    @property
    def steps_done(self) -> int:
        if not self.history:
            return 0
        last = self.history[-1]["step"]
        return last + 1 if self._zero_based else last

    def update(self, step: int, loss: Any, accuracy: Any = None) -> None:
        """Record one step's loss (and accuracy); redraw if enough time has passed."""
        try:
            step = int(step)
            loss = float(raw(loss))
            accuracy = None if accuracy is None else float(raw(accuracy))
        except (TypeError, ValueError) as e:
            raise WidgetInputError(
                f"TrainingMonitor.update(step, loss, accuracy) takes numbers ({e}).") from None
        if self._zero_based is None:
            self._zero_based = step == 0
        self.history.append({"step": step, "loss": loss, "accuracy": accuracy,
                             "time": time.perf_counter() - self._t0})
        now = time.perf_counter()
        done = self.steps_done
        due = now - self._last_draw >= self.min_interval
        if self.every:
            due = due or len(self.history) % self.every == 0
        if self.total is not None and done >= self.total:
            due = True
        # the bar and the text are cheap but not free (each change is a message to the
        # browser): refresh them at most 20 times a second, whenever the plot is, and at
        # once when the loss stops being a number (the learner must see that)
        if due or not math.isfinite(loss) or now - self._last_ui >= 0.05:
            self._refresh_ui()
        if due:
            self.redraw()

    def _refresh_ui(self) -> None:
        if not self.history:
            return
        done = self.steps_done
        if self.total is None:
            self.progress.max = max(done, 1)
        self.progress.value = min(done, self.progress.max)
        self.status.value = self._status_text()
        self._last_ui = time.perf_counter()

    def _status_text(self) -> str:
        h = self.history[-1]
        total = f" of {self.total}" if self.total else ""
        text = f"step {self.steps_done}{total} · loss {fmt.number(h['loss'])}"
        if h["accuracy"] is not None:
            text += f" · accuracy {fmt.percent(h['accuracy'])}" if h["accuracy"] <= 1 else \
                f" · accuracy {fmt.number(h['accuracy'])}"
        if not math.isfinite(h["loss"]):
            text += (f' <span style="color:{TEXT_COLORS["error"]}">the loss is '
                     f"{fmt.number(h['loss'])}: training diverged; try a smaller learning "
                     "rate</span>")
        return text

    def redraw(self) -> None:
        """Draw the plot now."""
        from matplotlib.figure import Figure

        steps = [h["step"] for h in self.history]
        accs = [(h["step"], h["accuracy"]) for h in self.history if h["accuracy"] is not None]
        fig = Figure(figsize=(7.5 if accs else 4.5, 2.8), dpi=80)
        ax = fig.add_subplot(1, 2 if accs else 1, 1)
        ax.plot(steps, [h["loss"] for h in self.history], color=COLORS["adjoint"], lw=1.5)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_title("loss", fontsize=10)
        if self.logy and all(h["loss"] > 0 for h in self.history):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        if accs:
            ax2 = fig.add_subplot(1, 2, 2)
            ax2.plot([s for s, _ in accs], [a for _, a in accs], color=COLORS["tangent"],
                     lw=1.5)
            ax2.set_xlabel("step")
            ax2.set_title("accuracy", fontsize=10)
            ax2.grid(alpha=0.3)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        self.plot.value = buf.getvalue()
        self.n_draws += 1
        self._last_draw = time.perf_counter()

    def close(self) -> None:
        """Final redraw; the bar turns green."""
        if self.history:
            self._refresh_ui()
            self.redraw()
        self.progress.bar_style = "success"
        self.closed = True

    def __enter__(self) -> TrainingMonitor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
