"""The class dashboard as server-rendered HTML, and its tables as CSV and JSON.

One page per course (``courses/<course>/``): the learners' progress, each exercise's
statistics (:mod:`course.hub.stats`) with an inline SVG chart of facility, the most
frequent misconceptions and the latest grades per notebook. No JavaScript and no
frames: tables and an SVG, readable in light and dark mode (the page follows the
browser's ``prefers-color-scheme``), at most 1000 px wide. Templates are Jinja2 (which
JupyterHub brings) with autoescaping on: learners' names and codes are text, never HTML.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from urllib.parse import quote

import jinja2
from markupsafe import Markup, escape

from course.hub.db import Grade
from course.hub.stats import CourseStats, ExerciseRow

#: the tables of a course, as the exports name them
TABLES = ("learners", "exercises", "misconceptions", "grades")
#: misconceptions shown on the page (the exports hold all of them)
TOP_MISCONCEPTIONS = 15

STYLE = """
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #5b6570; --bg: #ffffff;
  --line: #d0d7de; --head: #f3f5f7; --bar: #2f6fbf; --bar-bg: #e4e9ef; --link: #0b5cad; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6e8eb; --muted: #9aa4ae; --bg: #15181c; --line: #3a424b;
    --head: #1f242a; --bar: #5ea1ee; --bar-bg: #2b323a; --link: #7db7f5; } }
body { margin: 0 auto; max-width: 1000px; padding: 1rem; background: var(--bg);
  color: var(--fg); font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
a { color: var(--link); }
h1 { font-size: 1.5rem; margin: .2rem 0 .6rem; }
h2 { font-size: 1.15rem; margin: 1.6rem 0 .4rem; border-bottom: 1px solid var(--line); }
.muted, caption, .note { color: var(--muted); }
.note { font-size: .85em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .92em; }
caption { text-align: left; padding: .2rem 0; }
th, td { border-bottom: 1px solid var(--line); padding: .25rem .45rem; text-align: left;
  vertical-align: top; }
th { background: var(--head); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr:target { outline: 2px solid var(--bar); }
svg text { fill: currentColor; font-size: 11px; }
svg .bar { fill: var(--bar); } svg .track { fill: var(--bar-bg); }
nav { font-size: .9em; }
"""

_env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                          trim_blocks=True, lstrip_blocks=True)
_env.filters["q"] = lambda text: quote(str(text), safe="")
_env.filters["pct"] = lambda x: "" if x is None else f"{100 * x:.0f}%"
_env.filters["num"] = lambda x: "" if x is None else f"{x:g}"

PAGE = _env.from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title><style>{{ style }}</style></head>
<body>
<nav><a href="{{ prefix }}">adlab class service</a>
{%- if user %} · signed in as {{ user }}{% endif %}</nav>
{{ body }}
</body></html>
""")

INDEX = _env.from_string("""<h1>Courses</h1>
{% if courses %}
<p>The courses whose dashboard you may read:</p>
<ul>
{% for course in courses %}
  <li><a href="{{ prefix }}courses/{{ course|q }}/">{{ course }}</a></li>
{% endfor %}
</ul>
{% else %}
<p>You may read no course's dashboard. Reading one needs the scope
<code>custom:adlab:read!group=&lt;course&gt;</code> (or <code>custom:adlab:read</code> for
every course), granted by a role in the hub's configuration: ask the hub's
administrator.</p>
{% endif %}
""")

ERROR = _env.from_string("""<h1>{{ status }}: {{ reason }}</h1>
<p>{{ message }}</p>
""")

COURSE = _env.from_string("""<h1>Course {{ course }}</h1>
<p class="muted">{{ stats.learners|length }} learners ·
{{ stats.exercises|selectattr("in_catalog")|list|length }} exercises worth
{{ stats.possible|num }} points · generated {{ generated }} ·
export: <a href="export.json">JSON</a>, CSV:
{% for table in tables %}
<a href="export.csv?table={{ table }}">{{ table }}</a>{% if not loop.last %},{% endif %}
{% endfor %}
</p>

<h2 id="learners">Learners</h2>
{% if stats.learners %}
<div class="scroll"><table>
<thead><tr><th>Learner</th><th class="num">Points</th><th class="num">Exercises passed</th>
<th class="num">Attempts</th><th>Last activity (UTC)</th></tr></thead>
<tbody>
{% for r in stats.learners %}
<tr><td>{{ r.user }}</td><td class="num">{{ r.points|num }} / {{ r.possible|num }}</td>
<td class="num">{{ r.passed }} / {{ r.exercises }}</td><td class="num">{{ r.attempts }}</td>
<td>{{ r.last_activity }}</td></tr>
{% endfor %}
</tbody></table></div>
{% else %}
<p class="muted">No attempts yet in this course.</p>
{% endif %}

<h2 id="exercises">Exercises</h2>
<p class="note">Facility: the share of the learners who attempted an exercise who passed
it. Median tries: attempts up to the first pass, over those who passed. Discrimination:
the point-biserial correlation between passing the exercise and the learner's points on
the other exercises (near 1: it separates those who do well from the others; near 0 or
below: it measures something else, or is unclear); blank when it cannot be computed.</p>
{{ chart }}
<div class="scroll"><table>
<thead><tr><th>Exercise</th><th class="num">Points</th><th class="num">Attempted</th>
<th class="num">Passed</th><th class="num">Facility</th><th class="num">Median tries</th>
<th class="num">Discrimination</th></tr></thead>
<tbody>
{% for e in stats.exercises %}
<tr id="ex-{{ e.id }}"><td><code>{{ e.id }}</code> {{ e.title }}</td>
<td class="num">{{ e.points|num }}</td><td class="num">{{ e.attempted }}</td>
<td class="num">{{ e.passed }}</td><td class="num">{{ e.facility|pct }}</td>
<td class="num">{{ e.median_tries|num }}</td>
<td class="num">{% if e.discrimination is none -%}
<span class="note">{{ e.discrimination_note }}</span>
{%- else %}{{ "%.2f"|format(e.discrimination) }}{% endif %}</td></tr>
{% endfor %}
</tbody></table></div>

<h2 id="misconceptions">Misconceptions</h2>
{% if stats.misconceptions %}
<div class="scroll"><table>
<caption>The known mistakes check() recognised, by the number of learners they affected
{% if stats.misconceptions|length > top %}
(the first {{ top }} of {{ stats.misconceptions|length }}; the exports hold all)
{% endif %}</caption>
<thead><tr><th>Mistake</th><th>Exercise</th><th class="num">Learners</th>
<th class="num">Attempts</th></tr></thead>
<tbody>
{% for m in stats.misconceptions[:top] %}
<tr><td><code>{{ m.code }}</code></td>
<td><a href="#ex-{{ m.exercise }}">{{ m.exercise }} {{ m.title }}</a></td>
<td class="num">{{ m.learners }}</td><td class="num">{{ m.attempts }}</td></tr>
{% endfor %}
</tbody></table></div>
{% else %}
<p class="muted">No known mistake recognised yet.</p>
{% endif %}

<h2 id="grades">Grades</h2>
{% if grades %}
{% for notebook, rows in grades.items() %}
<div class="scroll"><table>
<caption>{{ notebook }}: the latest grade of each learner</caption>
<thead><tr><th>Learner</th><th class="num">Score</th><th class="num">Submission</th>
<th>Posted (UTC)</th></tr></thead>
<tbody>
{% for g in rows %}
<tr><td>{{ g.user }}</td><td class="num">{{ g.score|num }} / {{ g.possible|num }}</td>
<td class="num">{{ g.submission if g.submission is not none else "" }}</td>
<td>{{ g.posted }}</td></tr>
{% endfor %}
</tbody></table></div>
{% endfor %}
{% else %}
<p class="muted">No grades posted yet.</p>
{% endif %}
""")


def page(title: str, body: str, prefix: str, user: str = "") -> str:
    """A whole HTML page around ``body`` (already rendered HTML)."""
    return PAGE.render(title=title, body=Markup(body),
                       prefix=prefix, user=user, style=Markup(STYLE))


def index_page(courses: list[str], prefix: str, user: str) -> str:
    return page("adlab: courses", INDEX.render(courses=courses, prefix=prefix), prefix, user)


def error_page(status: int, reason: str, message: str, prefix: str, user: str = "") -> str:
    body = ERROR.render(status=status, reason=reason, message=message)
    return page(f"{status} {reason}", body, prefix, user)


def course_page(course: str, stats: CourseStats, grades: list[Grade], generated: str,
                prefix: str, user: str) -> str:
    """The dashboard of one course."""
    body = COURSE.render(course=course, stats=stats, grades=_by_notebook(grades),
                         generated=generated, tables=TABLES, top=TOP_MISCONCEPTIONS,
                         chart=Markup(facility_chart(stats.exercises)))
    return page(f"adlab: {course}", body, prefix, user)


def facility_chart(exercises: list[ExerciseRow], width: int = 960) -> str:
    """An SVG bar chart of facility per exercise, one row each (empty: not attempted)."""
    if not exercises:
        return ""
    row, label, top = 16, 250, 18
    bar_width = width - label - 60
    height = top + row * len(exercises) + 6
    esc = escape
    parts = [f'<svg role="img" width="100%" viewBox="0 0 {width} {height}" '
             f'preserveAspectRatio="xMinYMin meet" style="max-width:{width}px">',
             '<title>Facility per exercise: the share of those who attempted it who '
             'passed</title>',
             f'<text x="{label}" y="11">0%</text>',
             f'<text x="{label + bar_width}" y="11" text-anchor="end">100%</text>']
    for i, e in enumerate(exercises):
        y = top + i * row
        name = e.id if len(e.title) < 2 else f"{e.id} {e.title}"
        if len(name) > 40:
            name = name[:39] + "…"
        parts.append(f'<a href="#ex-{esc(e.id)}"><text x="{label - 6}" y="{y + 11}" '
                     f'text-anchor="end">{esc(name)}</text></a>')
        parts.append(f'<rect class="track" x="{label}" y="{y + 2}" width="{bar_width}" '
                     f'height="{row - 4}"/>')
        if e.facility is None:
            parts.append(f'<text x="{label + 4}" y="{y + 11}">not attempted</text>')
            continue
        parts.append(f'<rect class="bar" x="{label}" y="{y + 2}" '
                     f'width="{bar_width * e.facility:.1f}" height="{row - 4}">'
                     f'<title>{esc(e.id)}: {100 * e.facility:.0f}% of {e.attempted}</title>'
                     '</rect>')
        parts.append(f'<text x="{label + bar_width + 6}" y="{y + 11}">'
                     f'{100 * e.facility:.0f}%</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _by_notebook(grades: list[Grade]) -> dict[str, list[Grade]]:
    out: dict[str, list[Grade]] = {}
    for g in grades:
        out.setdefault(g.notebook, []).append(g)
    return out


# -- exports ---------------------------------------------------------------------------

def tables(stats: CourseStats, grades: list[Grade]) -> dict[str, list[dict]]:
    """The dashboard's tables as lists of plain dicts (every misconception, not the top)."""
    return {"learners": [asdict(r) for r in stats.learners],
            "exercises": [asdict(r) for r in stats.exercises],
            "misconceptions": [asdict(r) for r in stats.misconceptions],
            "grades": [asdict(g) for g in grades]}


def export_json(course: str, stats: CourseStats, grades: list[Grade], generated: str) -> str:
    return json.dumps({"course": course, "generated": generated, "possible": stats.possible,
                       **tables(stats, grades)}, indent=1)


COLUMNS = {
    "learners": ["user", "points", "possible", "passed", "exercises", "attempts",
                 "last_activity"],
    "exercises": ["id", "title", "notebook", "points", "in_catalog", "attempted", "passed",
                  "attempts", "facility", "median_tries", "discrimination",
                  "discrimination_note"],
    "misconceptions": ["exercise", "title", "code", "learners", "attempts"],
    "grades": ["user", "notebook", "score", "possible", "submission", "posted", "grader"],
}


def export_csv(table: str, stats: CourseStats, grades: list[Grade]) -> str:
    """One of the dashboard's tables as CSV, with a header row."""
    rows = tables(stats, grades)[table]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS[table], lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()


def _cell(value: object) -> object:
    """A CSV cell; text that a spreadsheet would run as a formula is quoted with '."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
