"""What a check shows: a :class:`CheckResult` with a deterministic text form and HTML.

The text form (``repr``) never contains timings or memory addresses, so nbval can
compare it and a feedback file reads the same on every run; numbers are shown with 6
significant digits.
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from adlab.fmt import array, number
from course.wire import safe_repr  # noqa: F401 - re-exported: one definition, the runner uses it too

PASSED, FAILED, ERROR = "passed", "failed", "error"
NOT_ATTEMPTED, TIMED_OUT, MISSING, UNKNOWN = "not attempted", "timed out", "missing", "unknown"

_STYLE = {  # status: (symbol, border colour, background)
    PASSED: ("&#10004;", "#2e7d32", "#e8f5e9"),
    FAILED: ("&#10008;", "#c62828", "#ffebee"),
    ERROR: ("&#10008;", "#c62828", "#ffebee"),
    TIMED_OUT: ("&#9888;", "#ef6c00", "#fff3e0"),
    NOT_ATTEMPTED: ("&#9998;", "#546e7a", "#eceff1"),
    MISSING: ("?", "#546e7a", "#eceff1"),
    UNKNOWN: ("?", "#546e7a", "#eceff1"),
}


def fmt(value: Any) -> str:
    """A number, array, dict or sequence with 6 significant digits, the same every run
    (numbers and arrays as :mod:`adlab.fmt` writes them, after conversion to float)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {fmt(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)) and not _numeric(value):
        return "(" + ", ".join(fmt(v) for v in value) + ")"
    return array(np.asarray(value, dtype=float))


def _numeric(seq: Any) -> bool:
    try:
        return np.asarray(seq).dtype.kind in "biuf"
    except (ValueError, TypeError):
        return False


@dataclass
class CheckResult:
    """The outcome of one exercise's check: shown in notebooks, written to feedback files.

    ``status`` is one of ``passed``, ``failed``, ``error`` (the code raised),
    ``not attempted`` (the stub's NotImplementedError), ``timed out``, ``missing``
    (no object of that name) and ``unknown`` (no such exercise id).
    """

    exercise: str
    title: str
    status: str
    score: float
    points: float
    message: str = ""   # what went wrong, one or two sentences
    case: str = ""      # the first failing call, e.g. "sin_jvp(x=0.5, x_dot=2)"
    expected: str = ""
    got: str = ""
    hint: str = ""
    printed: str = ""   # what the learner's code printed while it was checked
    hint_stage: int = 1     # which of the exercise's hints this is (they grow more concrete)
    hint_stages: int = 1
    misconception: str = ""  # the code of the known mistake the answer matched, if any
    notes: list[str] = field(default_factory=list)  # e.g. "progress not saved: ..."

    @property
    def passed(self) -> bool:
        return self.status == PASSED

    def to_json(self) -> dict:
        """Plain data (strings and numbers only)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> CheckResult:
        return cls(**data)

    def lines(self) -> list[str]:
        """The text form, line by line."""
        head = f"{self.exercise}: {self.status} ({number(self.score)}/{number(self.points)} points)"
        out = [head]
        if self.message:
            out.append(f"  {self.message}")
        if self.case:
            out.append(f"    call:     {self.case}")
        if self.expected or self.got:
            out.append(f"    expected: {self.expected}")
            out.append(f"    got:      {self.got}")
        if self.printed:
            out.append("  your code printed:")
            out += ["    " + line for line in self.printed.rstrip("\n").splitlines()]
        if self.hint and self.status in (FAILED, ERROR):
            out.append(f"  {self._hint_label()}: {self.hint}")
        out += [f"  note: {n}" for n in self.notes]
        return out

    def _hint_label(self) -> str:
        if self.hint_stages <= 1:
            return "hint"
        return f"hint {self.hint_stage} of {self.hint_stages}"

    def __repr__(self) -> str:
        return "\n".join(self.lines())

    def __str__(self) -> str:
        return repr(self)

    def _repr_html_(self) -> str:
        symbol, border, background = _STYLE.get(self.status, _STYLE[UNKNOWN])
        e = html.escape
        parts = [
            f'<div class="adlab-check" style="border-left:6px solid {border};'
            f"background:{background};padding:6px 12px;margin:4px 0;"
            f'font-family:sans-serif;color:#222">',
            f"<b>{symbol} {e(self.exercise)}</b> &mdash; {e(self.title)}: "
            f"<b>{e(self.status)}</b> ({number(self.score)}/{number(self.points)} points)",
        ]
        if self.message:
            parts.append(f'<div style="margin-top:4px">{e(self.message)}</div>')
        rows = [(label, value) for label, value in
                (("call", self.case), ("expected", self.expected), ("got", self.got)) if value]
        if rows:
            cells = "".join(f'<tr><td style="padding-right:8px;text-align:left"><i>{k}</i>'
                            f'</td><td style="text-align:left"><code>{e(v)}</code></td></tr>'
                            for k, v in rows)
            parts.append(f'<table style="margin:4px 0">{cells}</table>')
        if self.printed:
            parts.append(f"<div>your code printed:</div><pre>{e(self.printed)}</pre>")
        if self.hint and self.status in (FAILED, ERROR):
            label = self._hint_label().capitalize()
            parts.append(f'<div style="margin-top:4px"><b>{e(label)}:</b> {e(self.hint)}</div>')
        parts += [f'<div style="color:#666;font-size:90%">{e(n)}</div>' for n in self.notes]
        return "\n".join(parts) + "\n</div>"
