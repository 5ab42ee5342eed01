"""The SQLite progress store: concurrency, corrupt files, and the status/reset commands."""

import multiprocessing
import sqlite3

import pytest

from course import catalog, cli
from course.store import ProgressStore, StoreError, default_path

TOTAL = sum(e.points for e in catalog.EXERCISES)  # every exercise of the course


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    path = tmp_path / "data" / "progress.sqlite3"
    monkeypatch.setenv("ADLAB_COURSE_DB", str(path))
    return path


def test_default_path_follows_the_environment(monkeypatch, tmp_path, private_store):
    assert default_path() == private_store
    monkeypatch.delenv("ADLAB_COURSE_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_path() == tmp_path / "xdg" / "adlab" / "progress.sqlite3"


def test_attempts_are_plain_rows(private_store):
    store = ProgressStore()
    store.record("03.sin_tangent", False, 0)
    store.record("03.sin_tangent", True, 2)
    store.record("04.mul_vjp", False, 0)
    summary = store.summary()
    assert summary["03.sin_tangent"].best == 2 and summary["03.sin_tangent"].passed
    assert summary["03.sin_tangent"].attempts == 2 and not summary["04.mul_vjp"].passed
    attempt = store.attempts("04.mul_vjp")[0]
    assert attempt.version == "0.1.0" and attempt.time.endswith("+00:00")
    con = sqlite3.connect(private_store)
    columns = [(r[1], r[2]) for r in con.execute("PRAGMA table_info(attempts)")]
    assert columns == [("id", "INTEGER"), ("exercise", "TEXT"), ("passed", "INTEGER"),
                       ("score", "REAL"), ("time", "TEXT"), ("version", "TEXT")]
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
    assert store.reset("03.sin_tangent") == 2 and store.reset() == 1


def _writer(args):
    worker, n = args
    store = ProgressStore()
    for i in range(n):
        store.record(f"ex{worker}", i % 2 == 0, float(i))
    return len(store.warnings)


def test_several_processes_writing_at_once_lose_nothing():
    workers, per_worker = 6, 60
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        warnings = pool.map(_writer, [(w, per_worker) for w in range(workers)])
    assert warnings == [0] * workers
    store = ProgressStore()
    assert len(store.attempts()) == workers * per_worker
    assert all(s.attempts == per_worker for s in store.summary().values())


@pytest.mark.parametrize("damage", ["garbage", "directory", "other database", "header",
                                    "pages"])
def test_an_unreadable_file_is_moved_aside_and_a_fresh_store_started(private_store, damage):
    private_store.parent.mkdir(parents=True)
    if damage == "garbage":
        private_store.write_bytes(b"this is not SQLite\x00" * 100)
    elif damage == "directory":
        private_store.mkdir()
    elif damage == "other database":
        con = sqlite3.connect(private_store)
        con.execute("CREATE TABLE grades (name TEXT)")
        con.commit()
        con.close()
    else:
        ProgressStore().record("03.sin_tangent", True, 2)
        data = private_store.read_bytes()
        if damage == "header":
            private_store.write_bytes(data[:50] + b"\xff" * 50 + data[100:200])
        else:  # a valid header, garbage where the tables are: found only when read
            private_store.write_bytes(data[:100] + b"\xa5" * (len(data) - 100))
    store = ProgressStore()
    store.record("04.mul_vjp", True, 2)  # does not raise
    assert [a.exercise for a in store.attempts()] == ["04.mul_vjp"]
    assert len(store.warnings) == 1
    assert "could not be read" in store.warnings[0] and "moved to" in store.warnings[0]
    aside = [p for p in private_store.parent.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1 and aside[0].name.startswith("progress.sqlite3.corrupt-")


def test_a_path_that_cannot_exist_raises_a_clear_store_error(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("ADLAB_COURSE_DB", str(tmp_path / "file" / "progress.sqlite3"))
    with pytest.raises((StoreError, OSError)):
        ProgressStore().record("03.sin_tangent", True, 2)


def test_course_status_and_reset(capsys):
    ProgressStore().record("03.sin_tangent", True, 2)
    ProgressStore().record("04.mul_vjp", False, 0)
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"Course progress: 2/{TOTAL} points"
    assert "[x] 03.sin_tangent" in out and "[~] 04.mul_vjp" in out
    assert cli.main(["reset", "04.mul_vjp"]) == 0
    assert "cleared 1 attempt of 04.mul_vjp" in capsys.readouterr().out
    assert cli.main(["reset", "04.nope"]) == 2
    assert "no exercise '04.nope'" in capsys.readouterr().err
    assert cli.main(["reset"]) == 0
    assert "cleared all 1 attempt" in capsys.readouterr().out
    assert ProgressStore().attempts() == []
