r"""The class dashboard's statistics: pure functions of a course's attempts.

Nothing here reads a database or a clock: the service passes in the attempts (anything
with ``user``, ``exercise``, ``passed``, ``score``, ``time``, ``misconception``) and the
course's exercises (id, title, notebook, points), and gets tables back.

Per learner
    points of the exercises passed (each exercise counts once, with its catalog points)
    over the course's total, exercises passed, attempts, last activity.

Per exercise, over the learners who attempted it
    - **facility** :math:`p = n_\text{passed} / n_\text{attempted}`, the share of those
      who attempted it who passed it at least once (as LMS quiz statistics call the
      share answering correctly);
    - **median tries to pass**: for each learner who passed, the number of attempts up
      to and including the first pass, in the order they were made; the median of
      those (a half for an even count: the mean of the middle two);
    - **discrimination**: the point-biserial correlation between passing this exercise
      (1 or 0) and the learner's score on the *other* exercises (the points of the
      other exercises passed). This is Moodle's "discrimination index" (the corrected
      item-total correlation): the exercise's own points are left out of the total, or
      every exercise would correlate with itself. With :math:`M_1, M_0` the mean rest
      scores of those who passed and those who did not, :math:`s` their standard
      deviation (over all, divided by :math:`n`) and :math:`q = 1 - p`,

      .. math:: r_{pb} = \frac{M_1 - M_0}{s} \sqrt{p q},

      which is Pearson's correlation of the two columns. It is left blank, with the
      reason, when fewer than :data:`MIN_LEARNERS` learners attempted the exercise,
      when all of them passed or all failed (passing does not vary), or when their
      rest scores are all equal. Near 1: those who pass it are those who do well
      elsewhere; near 0 or negative: the exercise measures something else, or is
      unclear.

      Why not the upper-minus-lower 27% index: with a class of 20 the two groups hold
      five learners each, so the index moves in steps of 0.2 and depends on how ties at
      the cut are broken; the correlation uses every learner and has no cut.

Misconceptions: each known mistake (its code, on its exercise) with the number of
learners whose attempts matched it at least once, most learners first.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

#: fewer learners than this who attempted an exercise: no discrimination shown
MIN_LEARNERS = 5


class AttemptLike(Protocol):
    user: str
    exercise: str
    passed: bool
    score: float
    time: str
    misconception: str


@dataclass(frozen=True)
class ExerciseInfo:
    """What the statistics need to know of an exercise (from the course catalog)."""

    id: str
    title: str
    notebook: str
    points: float


@dataclass(frozen=True)
class LearnerRow:
    user: str
    points: float          # of the exercises passed, each once
    possible: float        # the course's total
    passed: int            # exercises of the course passed
    exercises: int         # exercises in the course
    attempts: int
    last_activity: str     # the learner's time of their latest attempt


@dataclass(frozen=True)
class ExerciseRow:
    id: str
    title: str
    notebook: str
    points: float
    in_catalog: bool       # False: attempts of an exercise this version does not list
    attempted: int         # learners with at least one attempt
    passed: int            # learners with at least one passing attempt
    attempts: int
    facility: float | None
    median_tries: float | None
    discrimination: float | None
    discrimination_note: str  # why it is blank, "" when it is not


@dataclass(frozen=True)
class MisconceptionRow:
    exercise: str
    title: str
    code: str
    learners: int
    attempts: int


@dataclass(frozen=True)
class CourseStats:
    learners: list[LearnerRow]
    exercises: list[ExerciseRow]
    misconceptions: list[MisconceptionRow]
    possible: float


def point_biserial(passed: Sequence[bool], scores: Sequence[float]) -> float:
    r"""Pearson's correlation of a 0/1 column with a score column (the point-biserial).

    :math:`r = \operatorname{cov}(x, y) / (\sigma_x \sigma_y)`; ValueError when either
    column does not vary (the correlation is undefined) or the lengths differ.

    >>> round(point_biserial([1, 1, 0, 0, 1], [6, 4, 2, 0, 3]), 4)
    0.8165
    """
    if len(passed) != len(scores) or not passed:
        raise ValueError("point_biserial needs two columns of the same, nonzero length")
    n = len(passed)
    xs = [1.0 if p else 0.0 for p in passed]
    mean_x, mean_y = sum(xs) / n, sum(scores) / n
    cov = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, scores)) / n
    var_x = sum((x - mean_x) ** 2 for x in xs) / n
    var_y = sum((y - mean_y) ** 2 for y in scores) / n
    if var_x == 0 or var_y == 0:
        raise ValueError("a column that does not vary has no correlation")
    return cov / math.sqrt(var_x * var_y)


def tries_to_pass(attempts: Iterable[AttemptLike]) -> int | None:
    """How many attempts (in the order given) up to and including the first pass."""
    for n, attempt in enumerate(attempts, start=1):
        if attempt.passed:
            return n
    return None


def course_stats(attempts: Sequence[AttemptLike], exercises: Sequence[ExerciseInfo],
                 min_learners: int = MIN_LEARNERS) -> CourseStats:
    """Every table of a course's dashboard from its attempts.

    ``attempts`` in the order they were received; each learner's attempts of an exercise
    are ordered by the learner's ``time`` (ties keep the order received). Exercises
    attempted but not in ``exercises`` (another version's) count with 0 points.
    """
    catalog = {e.id: e for e in exercises}
    possible = float(sum(e.points for e in exercises))
    by_pair: dict[tuple[str, str], list[AttemptLike]] = defaultdict(list)
    by_user: dict[str, list[AttemptLike]] = defaultdict(list)
    for a in attempts:
        by_pair[a.user, a.exercise].append(a)
        by_user[a.user].append(a)
    for pair in by_pair:
        by_pair[pair].sort(key=lambda a: a.time)  # stable: ties keep the received order
    users = sorted({a.user for a in attempts})
    unknown = sorted({a.exercise for a in attempts} - catalog.keys())
    everything = list(exercises) + [ExerciseInfo(x, "(not in this version's catalog)", "", 0)
                                    for x in unknown]
    points = {e.id: float(e.points) for e in everything}

    passed_by: dict[str, set[str]] = defaultdict(set)   # user -> exercises passed
    for (user, exercise), rows in by_pair.items():
        if any(a.passed for a in rows):
            passed_by[user].add(exercise)
    total = {u: sum(points[x] for x in passed_by[u]) for u in users}

    learners = []
    for user in users:
        mine = by_user[user]
        learners.append(LearnerRow(
            user=user, points=total[user], possible=possible,
            passed=len(passed_by[user] & catalog.keys()), exercises=len(catalog),
            attempts=len(mine), last_activity=max(a.time for a in mine)))
    learners.sort(key=lambda r: (-r.points, r.user))

    rows = []
    for e in everything:
        tried = [u for u in users if (u, e.id) in by_pair]
        passes = [u in passed_by and e.id in passed_by[u] for u in tried]
        n_passed = sum(passes)
        tries = [tries_to_pass(by_pair[u, e.id]) for u, p in zip(tried, passes) if p]
        discrimination, note = _discrimination(
            passes, [total[u] - (points[e.id] if p else 0.0) for u, p in zip(tried, passes)],
            min_learners)
        rows.append(ExerciseRow(
            id=e.id, title=e.title, notebook=e.notebook, points=float(e.points),
            in_catalog=e.id in catalog, attempted=len(tried), passed=n_passed,
            attempts=sum(len(by_pair[u, e.id]) for u in tried),
            facility=n_passed / len(tried) if tried else None,
            median_tries=float(statistics.median(tries)) if tries else None,
            discrimination=discrimination, discrimination_note=note))

    return CourseStats(learners, rows, misconceptions(attempts, everything), possible)


def _discrimination(passes: list[bool], rest: list[float],
                    min_learners: int) -> tuple[float | None, str]:
    if len(passes) < min_learners:
        return None, (f"too few learners: {len(passes)} attempted, "
                      f"{min_learners} are needed")
    if all(passes):
        return None, "everyone who attempted it passed"
    if not any(passes):
        return None, "nobody who attempted it passed"
    if len(set(rest)) == 1:
        return None, "their scores on the other exercises are all equal"
    return point_biserial(passes, rest), ""


def misconceptions(attempts: Iterable[AttemptLike],
                   exercises: Sequence[ExerciseInfo]) -> list[MisconceptionRow]:
    """Each known mistake seen, by the number of learners it affected (then attempts,
    then course order, then code)."""
    order = {e.id: i for i, e in enumerate(exercises)}
    titles = {e.id: e.title for e in exercises}
    learners: dict[tuple[str, str], set[str]] = defaultdict(set)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for a in attempts:
        if a.misconception:
            learners[a.exercise, a.misconception].add(a.user)
            counts[a.exercise, a.misconception] += 1
    rows = [MisconceptionRow(x, titles.get(x, x), code, len(who), counts[x, code])
            for (x, code), who in learners.items()]
    rows.sort(key=lambda r: (-r.learners, -r.attempts, order.get(r.exercise, len(order)),
                             r.exercise, r.code))
    return rows
