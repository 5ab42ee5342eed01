"""``check("03.sin_tangent")``: run an exercise's checker on the learner's object.

The learner's code runs in a forked child (:mod:`course.sandbox`) that sends back only
the numbers it returned, or what went wrong; the parent computes the expected values
with adlab and compares (:func:`judge`). Nothing the learner does escapes ``check``:
exceptions, ``sys.exit()``, stubs, infinite loops and store trouble all become
feedback in the returned :class:`~course.result.CheckResult`.

While the learner's function runs, the transformations its exercise switches off
(``Exercise.off``: the adlab call that would compute the answer) raise a kind error
instead. A wrong answer that matches one of the exercise's known mistakes is named with
the numbers of the failing case, and the hint grows more concrete with each failed
attempt recorded in the progress store. Grading (:mod:`course.grade`) uses this same
:func:`judge`.
"""

from __future__ import annotations

import copy
import inspect
import os
import re
import sysconfig
import traceback
from pathlib import Path
from typing import Any

import numpy as np

import adlab
from course import catalog, sandbox, store
from course.catalog import Exercise
from course.checkers import WrongOutput, compare, decode, encode, show
from course.exercise import Mistake
from course.provided import guard
from course.result import (
    ERROR,
    FAILED,
    MISSING,
    NOT_ATTEMPTED,
    PASSED,
    TIMED_OUT,
    UNKNOWN,
    CheckResult,
    safe_repr,
)
from course.sandbox import Emit, Run, run_isolated


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING_OBJECT: Any = _Missing()
RECORDED = (PASSED, FAILED, ERROR, TIMED_OUT)  # a stub or a missing name is no attempt
TIMEOUT_VARIABLE = "ADLAB_COURSE_TIMEOUT"


def check(exercise_id: str, obj: Any = MISSING_OBJECT, *, timeout: float | None = None,
          record: bool = True) -> CheckResult:
    """Check the learner's answer to an exercise and show the result.

    ``obj`` is the learner's function; by default it is looked up by the exercise's
    name (e.g. ``sin_jvp``) in the calling notebook's namespace. The checker tries a
    few seeded cases against adlab and the result shows, for a failure, the first
    failing case (input, expected, got) and a hint. ``timeout`` (seconds) limits the
    whole check; the default is the exercise's (10 s), or ``$ADLAB_COURSE_TIMEOUT``.
    Attempts are recorded in the progress store unless ``record=False``.

    >>> check("03.sin_tangent")              # doctest: +SKIP
    03.sin_tangent: passed (2/2 points)
    """
    try:
        try:
            exercise = catalog.get(exercise_id)
        except KeyError as e:
            return CheckResult(str(exercise_id), "unknown exercise", UNKNOWN, 0, 0,
                               message=str(e.args[0]))
        if obj is MISSING_OBJECT:
            obj = _lookup(exercise.name, inspect.currentframe())
        failed_before = failures(exercise.id) if record else 0
        result = evaluate(exercise, obj, timeout=timeout)
        result.hint, result.hint_stage = exercise.hint_for(failed_before)
        if result.status == TIMED_OUT and sandbox.HAS_FORK:
            result.message += " The kernel is still usable."
        if record and result.status in RECORDED:
            result.notes += store.record_attempt(
                exercise.id, result.passed, result.score, notebook=exercise.notebook,
                misconception=getattr(result, "misconception", "") or "")
            result.notes += _to_class()
        return result
    except Exception as e:  # a bug of ours must not break the learner's notebook either
        return CheckResult(str(exercise_id), "internal error", ERROR, 0, 0,
                           message=f"The check itself failed ({type(e).__name__}: {e}). "
                                   "This is a bug in the course package; please report it.")


def _to_class() -> list[str]:
    """On a JupyterHub with the class service, send the attempts not yet sent to it
    (:func:`course.hub.client.send_attempts`: a note at most, never an error)."""
    try:
        from course.hub.client import send_attempts
    except Exception as e:  # pragma: no cover - a broken installation
        return [f"not sent to the class ({type(e).__name__}: {e})"]
    return send_attempts()


def _lookup(name: str, frame: Any) -> Any:
    """``name`` in the caller's globals (a notebook's namespace), else IPython's user_ns."""
    caller = frame.f_back if frame is not None else None
    if caller is not None and name in caller.f_globals:
        return caller.f_globals[name]
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None and name in shell.user_ns:
            return shell.user_ns[name]
    except ImportError:  # pragma: no cover - IPython is a dependency
        pass
    return MISSING_OBJECT


def time_limit(exercise: Exercise, timeout: float | None = None) -> float:
    """The argument, else ``$ADLAB_COURSE_TIMEOUT``, else the exercise's own limit."""
    if timeout is not None:
        return float(timeout)
    try:
        return float(os.environ[TIMEOUT_VARIABLE])
    except (KeyError, ValueError):
        return exercise.timeout


def evaluate(exercise: Exercise, obj: Any, *, cases: int = catalog.CHECK_CASES,
             purpose: str = "check", timeout: float | None = None) -> CheckResult:
    """Run the checker on ``obj`` in a child process; judge the outputs here."""
    limit = time_limit(exercise, timeout)
    case_list = exercise.checker.cases(exercise.rng(purpose), cases)
    if obj is MISSING_OBJECT:
        return judge(exercise, case_list, Run("finished", [{"missing": True}]), limit)
    run = run_isolated(lambda emit: learner_outputs(exercise, obj, case_list, emit), limit)
    return judge(exercise, case_list, run, limit)


# ---------------------------------------------------------------------------------
# In the child: run the learner's function, report plain data
# ---------------------------------------------------------------------------------

def learner_outputs(exercise: Exercise, obj: Any, cases: list, emit: Emit) -> None:
    """Call ``obj`` on every case; emit each case's outputs or what stopped it."""
    if obj is MISSING_OBJECT:
        emit({"missing": True})
        return
    if not callable(obj):
        emit({"not_callable": safe_repr(obj)})
        return
    obj = guard(obj, exercise.off, exercise.name)
    for k, case in enumerate(cases):
        emit({"calling": k})
        try:
            data = encode(exercise.checker.call(obj, case, exercise.name))
        except WrongOutput as e:
            emit({"case": k, "wrong": str(e), "shown": e.got})
            return
        except NotImplementedError as e:
            emit({"case": k, "not_attempted": exception_text(e)})
            return
        except BaseException as e:  # SystemExit included: it is the learner's call
            emit({"case": k, "raised": type(e).__name__, "message": exception_text(e),
                  "where": _where(e)})
            return
        emit({"case": k, "got": data})


def exception_text(e: BaseException) -> str:
    """``str(e)``, short and safe (learner exceptions may fail to print)."""
    try:
        text = str(e)
    except BaseException:
        text = ""
    return safe_repr(text, 300)[1:-1] if text else ""


_PATHS = sysconfig.get_paths()
_LIBRARY = tuple(sorted({str(Path(__file__).parent), str(Path(adlab.__file__).parent),
                         _PATHS["stdlib"], _PATHS["purelib"], _PATHS["platlib"]}))


def _where(e: BaseException) -> str:
    """Where in the learner's code it happened: the innermost frame outside libraries."""
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if not f.filename.startswith(_LIBRARY) and f.filename != __file__]
    if not frames:
        return ""
    f = frames[-1]
    cell = re.match(r"<cell (\d+)>", f.filename)
    place = f"cell {cell.group(1)}, " if cell else ""
    return f"{place}line {f.lineno}, in {f.name}"


# ---------------------------------------------------------------------------------
# In the parent: expected values, comparison, feedback
# ---------------------------------------------------------------------------------

def known_mistake(exercise: Exercise, case: dict, have: dict) -> Mistake | None:
    """The first of the exercise's known mistakes whose outputs the answer matches (for a
    mistake with versions, the version matched is written into ``case["variant"]``, on
    the caller's copy of the case: explain the mistake with that copy)."""
    for mistake in exercise.mistakes:
        try:
            made = mistake.wrong(copy.deepcopy(case))
            versions = made if isinstance(made, list) else [made]
            versions = [{name: np.asarray(v, dtype=float) for name, v in outputs.items()}
                        for outputs in versions]
        except Exception:  # a mistake that does not apply to this case
            continue
        for i, wrong in enumerate(versions):
            if compare(wrong, have, exercise.checker.rtol, exercise.checker.atol) is None:
                if isinstance(made, list):
                    case["variant"] = i
                return mistake
    return None


def _explain(mistake: Mistake, case: dict) -> str:
    try:
        text = mistake.explain(copy.deepcopy(case))
    except Exception:
        text = "this is a known mistake"
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def failures(exercise_id: str) -> int:
    """How often this exercise was checked without passing (0 if the store is unreadable)."""
    try:
        return sum(not a.passed for a in store.ProgressStore().attempts(exercise_id))
    except Exception:
        return 0

def judge(exercise: Exercise, cases: list, run: Run, timeout: float,
          expected: Any = None) -> CheckResult:
    """Turn the child's messages into a :class:`CheckResult`, trusting only numbers.

    ``expected(k)`` gives case ``k``'s expected outputs (grading passes a cache);
    by default the checker computes them here.
    """
    name, n = exercise.name, len(cases)
    expected_of = expected or (lambda k: exercise.checker.expected(cases[k]))
    base = {"exercise": exercise.id, "title": exercise.title, "points": exercise.points,
            "hint": exercise.hint, "hint_stages": len(exercise.hints), "printed": run.printed}

    def result(status: str, message: str, case: int | None = None, **more: Any) -> CheckResult:
        score = exercise.points if status == PASSED else 0
        if case is not None:
            more["case"] = exercise.checker.describe(cases[case], name)
            message = f"Case {case + 1} of {n}: {message}"
        return CheckResult(status=status, score=score, message=message, **base, **more)

    messages = run.messages
    if any(m.get("missing") for m in messages):
        return result(MISSING, f"There is no {name} yet: run the exercise cell that "
                               f"defines {name}, then run this check again.")
    for m in messages:
        if "not_callable" in m:
            return result(FAILED, f"{name} should be a function, but it is "
                                  f"{m['not_callable']}.")
    got = {m["case"]: m["got"] for m in messages
           if "got" in m and isinstance(m.get("case"), int)}
    for k in range(n):
        if k not in got:
            break
        try:
            have = decode(got[k])
        except (KeyError, TypeError, ValueError, AttributeError):
            return result(ERROR, "the result that came back from your code was garbled.", k)
        want = expected_of(k)
        why = compare(want, have, exercise.checker.rtol, exercise.checker.atol)
        if why:
            case = dict(cases[k])
            mistake = known_mistake(exercise, case, have)
            if mistake is not None:
                return result(FAILED, _explain(mistake, case), k, expected=show(want),
                              got=show(have), misconception=mistake.code)
            return result(FAILED, f"{why}.", k, expected=show(want), got=show(have))
    else:
        return result(PASSED, "")
    stop = next((m for m in messages if m.get("case") == k and "got" not in m), None)
    if stop is not None:
        if "not_attempted" in stop and k == 0:
            return result(NOT_ATTEMPTED, f"Not attempted yet: {name} still raises "
                                         "NotImplementedError. Replace that line with your "
                                         "code, run the cell, then run this check again.")
        if "wrong" in stop:
            return result(FAILED, f"{stop['wrong']}.", k, got=str(stop.get("shown", "")),
                          expected=show(expected_of(k)))
        if stop.get("raised") == "MethodOff":
            text = str(stop.get("message", ""))
            return result(FAILED, f"{text[:1].upper()}{text[1:]}.")
        if stop.get("raised") == "SystemExit":
            return result(ERROR, f"{name} called sys.exit(); a function should return its "
                                 "result instead.", k)
        where = f" ({stop['where']})" if stop.get("where") else ""
        raised = stop.get("raised", "NotImplementedError")
        text = stop.get("message", stop.get("not_attempted", ""))
        return result(ERROR, f"{name} raised {raised}: {text}{where}.", k)
    calling = [m["calling"] for m in messages if isinstance(m.get("calling"), int)]
    at = calling[-1] if calling else None
    if run.status == "timed out":
        detail = f" ({run.detail})" if run.detail else ""
        if at is None:
            return result(TIMED_OUT, f"Your code did not finish within {timeout:g} s and "
                                     f"was stopped{detail}.")
        return result(TIMED_OUT, f"{name} did not finish within {timeout:g} s and was "
                                 f"stopped{detail}. Look for a loop that never ends or a "
                                 "recursion that never reaches its base case.", at)
    internal = next((m["internal"] for m in messages if "internal" in m), "")
    detail = internal or run.detail or "no result came back"
    return result(ERROR, f"The check stopped before it finished: {detail}.", at)
