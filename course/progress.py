"""``progress()``: every notebook's exercises, with a progress bar per notebook.

The same report prints in a terminal (``course status``) and shows as HTML in a
notebook. A notebook's bar counts points: the best score of each of its exercises.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from adlab.fmt import number
from course import catalog
from course.catalog import Exercise
from course.store import ProgressStore, Summary

BAR = 20  # characters of a text progress bar
_MARK = {"passed": "[x]", "tried": "[~]", "new": "[ ]"}


@dataclass(frozen=True)
class Row:
    exercise: Exercise
    best: float
    state: str      # "passed", "tried" or "new"
    attempts: int


def bar(done: float, total: float, width: int = BAR) -> str:
    """``[######--------------]``: a text progress bar."""
    filled = round(width * done / total) if total else 0
    return "[" + "#" * filled + "-" * (width - filled) + "]"


class Progress:
    """A learner's progress through the course, from the progress store."""

    def __init__(self, summary: dict[str, Summary], notes: list[str] | None = None):
        self.notes = list(notes or [])
        self.notebooks: dict[str, list[Row]] = {}
        for notebook, exercises in catalog.by_notebook().items():
            rows = []
            for e in exercises:
                s = summary.get(e.id)
                state = "new" if s is None else ("passed" if s.passed else "tried")
                rows.append(Row(e, min(s.best, e.points) if s else 0.0, state,
                                s.attempts if s else 0))
            self.notebooks[notebook] = rows

    @property
    def score(self) -> float:
        return sum(r.best for rows in self.notebooks.values() for r in rows)

    @property
    def points(self) -> float:
        return sum(r.exercise.points for rows in self.notebooks.values() for r in rows)

    def lines(self) -> list[str]:
        """The text report, line by line (deterministic: no times)."""
        out = [f"Course progress: {number(self.score)}/{number(self.points)} points"]
        width = max((len(r.exercise.id) for rows in self.notebooks.values() for r in rows),
                    default=0)
        title_width = max((len(r.exercise.title) for rows in self.notebooks.values()
                           for r in rows), default=0)
        for notebook, rows in self.notebooks.items():
            got, possible = sum(r.best for r in rows), sum(r.exercise.points for r in rows)
            out.append(f"{notebook:<{width + 6}}{bar(got, possible)} "
                       f"{number(got)}/{number(possible)} points")
            for r in rows:
                tries = f"  {r.attempts} attempt{'s' if r.attempts != 1 else ''}" \
                    if r.attempts else ""
                out.append(f"  {_MARK[r.state]} {r.exercise.id:<{width}}  "
                           f"{r.exercise.title:<{title_width}}  "
                           f"{number(r.best)}/{number(r.exercise.points)}{tries}")
        out.append("[x] passed   [~] tried, not passed yet   [ ] not tried")
        out += [f"note: {n}" for n in self.notes]
        return out

    def __repr__(self) -> str:
        return "\n".join(self.lines())

    def __str__(self) -> str:
        return repr(self)

    def _repr_html_(self) -> str:
        e = html.escape
        colour = {"passed": "#2e7d32", "tried": "#ef6c00", "new": "#546e7a"}
        symbol = {"passed": "&#10004;", "tried": "&#9711;", "new": "&#9675;"}
        parts = ['<div class="adlab-progress" style="font-family:sans-serif">',
                 f"<b>Course progress: {number(self.score)}/{number(self.points)} points</b>",
                 '<table style="border-collapse:collapse;margin-top:4px">']
        for notebook, rows in self.notebooks.items():
            got, possible = sum(r.best for r in rows), sum(r.exercise.points for r in rows)
            parts.append(
                f'<tr><td style="text-align:left;padding-top:6px"><b>{e(notebook)}</b></td>'
                f'<td style="text-align:left;padding-top:6px"><progress value="{got:g}" '
                f'max="{possible:g}" style="width:12em"></progress> '
                f"{number(got)}/{number(possible)} points</td></tr>")
            for r in rows:
                attempts = f" ({r.attempts} attempts)" if r.attempts > 1 else ""
                parts.append(
                    f'<tr><td style="text-align:left;padding-left:1.5em;padding-right:1em;'
                    f'color:{colour[r.state]}">{symbol[r.state]} {e(r.exercise.id)}</td>'
                    f'<td style="text-align:left">{e(r.exercise.title)}: '
                    f"{number(r.best)}/{number(r.exercise.points)}{attempts}</td></tr>")
        parts.append("</table>")
        parts += [f'<div style="color:#666">{e(n)}</div>' for n in self.notes]
        return "\n".join(parts) + "\n</div>"


def progress(path: str | Path | None = None) -> Progress:
    """The learner's progress: each notebook's exercises with a bar. Never raises.

    ``path`` is the progress store (default: ``$ADLAB_COURSE_DB`` or the per-user
    data directory). Problems with the store show as notes under the report.
    """
    store = None
    try:
        store = ProgressStore(path)
        return Progress(store.summary(), store.warnings)
    except Exception as e:
        earlier = store.warnings if store is not None else []
        return Progress({}, earlier + [f"progress could not be read: {e}"])
