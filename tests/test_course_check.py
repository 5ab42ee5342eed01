"""check() in a notebook: every outcome is feedback, nothing escapes, the kernel survives."""

import threading
import time

import numpy as np
import pytest

from course import catalog, check, progress, sandbox
from course.store import ProgressStore

TOTAL = sum(e.points for e in catalog.EXERCISES)  # every exercise of the course


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLAB_COURSE_DB", str(tmp_path / "progress.sqlite3"))
    monkeypatch.delenv("ADLAB_COURSE_TIMEOUT", raising=False)


def good_sin(x, x_dot):
    return np.sin(x), np.cos(x) * x_dot


def test_passed_is_one_deterministic_line():
    result = check("03.sin_tangent", good_sin)
    assert repr(result) == "03.sin_tangent: passed (2/2 points)"
    assert result.passed and result.score == 2


def test_the_object_is_found_in_the_notebooks_namespace():
    namespace = {"check": check, "np": np}
    exec("def sin_jvp(x, x_dot):\n    return np.sin(x), np.cos(x) * x_dot\n"
         "result = check('03.sin_tangent')", namespace)
    assert namespace["result"].passed


def test_failure_shows_first_failing_case_expected_got_and_hint():
    def doubled(x, x_dot):  # wrong in a way no known mistake describes
        return np.sin(x), 3 * np.cos(x) * x_dot

    result = check("03.sin_tangent", doubled, record=False)
    text = repr(result)
    assert text == repr(check("03.sin_tangent", doubled, record=False))  # deterministic
    assert text.splitlines() == [
        "03.sin_tangent: failed (0/2 points)",
        "  Case 1 of 5: y_dot is wrong.",
        "    call:     sin_jvp(x=2, x_dot=1)",
        "    expected: y = 0.909297, y_dot = -0.416147",
        "    got:      y = 0.909297, y_dot = -1.24844",
        "  hint 1 of 3: " + result.hint,
    ]
    html = result._repr_html_()
    assert "failed" in html and "#c62828" in html and "sin_jvp(x=2, x_dot=1)" in html


def test_untouched_stub_is_not_attempted():
    def sin_jvp(x, x_dot):
        raise NotImplementedError("replace this line with your code")

    result = check("03.sin_tangent", sin_jvp)
    assert result.status == "not attempted"
    assert "Not attempted yet" in repr(result)
    assert ProgressStore().attempts() == []  # a stub is not an attempt


def test_an_exception_is_feedback_with_the_case_and_line():
    import math

    def sin_jvp(x, x_dot):
        return math.sin(x), math.cos(x) * x_dot  # fails on arrays

    result = check("03.sin_tangent", sin_jvp)
    assert result.status == "error"
    assert "TypeError" in result.message and "in sin_jvp" in result.message
    assert result.case.startswith("sin_jvp(x=[")


def test_sys_exit_in_learner_code_is_feedback():
    def sin_jvp(x, x_dot):
        import sys

        print("about to leave")
        sys.exit(3)

    result = check("03.sin_tangent", sin_jvp)
    assert result.status == "error" and "sys.exit()" in result.message
    assert result.printed == "about to leave\n"


def test_an_infinite_loop_is_stopped_and_the_next_check_works():
    def sin_jvp(x, x_dot):
        while True:
            pass

    start = time.monotonic()
    result = check("03.sin_tangent", sin_jvp, timeout=1)
    assert time.monotonic() - start < 5
    assert result.status == "timed out"
    assert "did not finish within 1 s" in result.message
    assert "kernel is still usable" in result.message
    assert check("03.sin_tangent", good_sin).passed


def test_timeout_from_the_environment(monkeypatch):
    monkeypatch.setenv("ADLAB_COURSE_TIMEOUT", "0.5")
    result = check("03.sin_tangent", lambda x, x_dot: time.sleep(30))
    assert result.status == "timed out" and "0.5 s" in result.message


def test_missing_object_and_unknown_exercise():
    missing = check("04.div_vjp")  # no div_vjp in this module
    assert missing.status == "missing" and "run the exercise cell" in missing.message
    unknown = check("03.sin_tangnet")
    assert unknown.status == "unknown" and "03.sin_tangent" in unknown.message
    assert check("03.sin_tangent", 42).status == "failed"  # not callable


def test_attempts_are_recorded_and_progress_shows_them():
    check("03.sin_tangent", lambda x, x_dot: (x, x))
    check("03.sin_tangent", good_sin)
    check("04.div_vjp", lambda g, x, y: (g / y, -g * x / y**2), record=False)
    rows = ProgressStore().attempts()
    assert [(a.exercise, a.passed, a.score) for a in rows] == [
        ("03.sin_tangent", False, 0.0), ("03.sin_tangent", True, 2.0)]
    text = repr(progress())
    assert f"Course progress: 2/{TOTAL} points" in text
    assert "[x] 03.sin_tangent" in text and "2 attempts" in text
    assert "[ ] 04.div_vjp" in text
    assert "<progress" in progress()._repr_html_()


def test_a_broken_store_is_a_note_not_an_exception(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("ADLAB_COURSE_DB", str(blocker / "progress.sqlite3"))
    result = check("03.sin_tangent", good_sin)
    assert result.passed
    assert len(result.notes) == 1 and result.notes[0].startswith("progress not saved")
    assert "progress could not be read" in repr(progress())


def test_without_fork_a_thread_reports_the_time_limit(monkeypatch):
    monkeypatch.setattr(sandbox, "HAS_FORK", False)
    assert check("03.sin_tangent", good_sin).passed
    release = threading.Event()

    def sin_jvp(x, x_dot):
        release.wait(30)  # stands for a loop that a thread cannot be made to leave
        return np.sin(x), np.cos(x) * x_dot

    result = check("03.sin_tangent", sin_jvp, timeout=0.3)
    release.set()
    assert result.status == "timed out"
    assert "no fork" in result.message and "restart the kernel" in result.message
