"""The SQLite progress store: concurrency, corrupt files, and the status/reset commands."""

import multiprocessing
import sqlite3

import numpy as np
import pytest

from course import catalog, check, cli, progress
from course import store as store_module
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
    store.record("04.div_vjp", False, 0)
    summary = store.summary()
    assert summary["03.sin_tangent"].best == 2 and summary["03.sin_tangent"].passed
    assert summary["03.sin_tangent"].attempts == 2 and not summary["04.div_vjp"].passed
    attempt = store.attempts("04.div_vjp")[0]
    assert attempt.version == "0.1.0" and attempt.time.endswith("+00:00")
    con = sqlite3.connect(private_store)
    columns = [(r[1], r[2]) for r in con.execute("PRAGMA table_info(attempts)")]
    assert columns == [("id", "INTEGER"), ("exercise", "TEXT"), ("passed", "INTEGER"),
                       ("score", "REAL"), ("time", "TEXT"), ("version", "TEXT"),
                       ("uid", "TEXT"), ("notebook", "TEXT"), ("misconception", "TEXT"),
                       ("sent", "INTEGER")]
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


@pytest.mark.parametrize("damage", ["garbage after the header", "truncated", "zeroed",
                                    "header", "pages"])
def test_an_unreadable_file_is_moved_aside_and_a_fresh_store_started(private_store, damage):
    private_store.parent.mkdir(parents=True)
    if damage == "garbage after the header":
        private_store.write_bytes(b"SQLite format 3\x00" + b"this is not SQLite\x00" * 100)
    elif damage == "zeroed":  # as a crash may leave a file
        private_store.write_bytes(bytes(4096))
    elif damage == "truncated":
        ProgressStore().record("03.sin_tangent", True, 2)
        private_store.write_bytes(private_store.read_bytes()[:60])
    else:
        ProgressStore().record("03.sin_tangent", True, 2)
        data = private_store.read_bytes()
        if damage == "header":
            private_store.write_bytes(data[:50] + b"\xff" * 50 + data[100:200])
        else:  # a valid header, garbage where the tables are: found only when read
            private_store.write_bytes(data[:100] + b"\xa5" * (len(data) - 100))
    store = ProgressStore()
    store.record("04.div_vjp", True, 2)  # does not raise
    assert [a.exercise for a in store.attempts()] == ["04.div_vjp"]
    assert len(store.warnings) == 1
    assert "could not be read" in store.warnings[0] and "moved to" in store.warnings[0]
    aside = [p for p in private_store.parent.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1 and aside[0].name.startswith("progress.sqlite3.corrupt-")


def _snapshot(root):
    """Every path under ``root`` with its bytes (None for a folder)."""
    return {p.relative_to(root): None if p.is_dir() else p.read_bytes()
            for p in sorted(root.rglob("*"))}


def _refused(path, root, *parts):
    """Using the store raises a StoreError naming ``parts``; nothing under root changes."""
    before = _snapshot(root)
    for use in (lambda s: s.record("03.sin_tangent", True, 2), ProgressStore.attempts,
                ProgressStore.summary, ProgressStore.reset):
        store = ProgressStore()
        with pytest.raises(StoreError) as error:
            use(store)
        assert store.warnings == []
        message = str(error.value)
        assert str(path) in message
        for part in parts:
            assert part in message, (part, message)
    assert _snapshot(root) == before  # same bytes, no .corrupt-* (nor .lock) sibling
    assert not [p for p in root.rglob("*") if ".corrupt-" in p.name]
    return message


def test_a_folder_is_refused_and_left_alone(tmp_path, monkeypatch):
    folder = tmp_path / "shared"  # as ADLAB_COURSE_DB=/tmp would be
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    monkeypatch.setenv("ADLAB_COURSE_DB", str(folder))
    _refused(folder, tmp_path, f"{folder} is a folder",
             f"ADLAB_COURSE_DB must name a file, e.g. {folder / 'progress.sqlite3'}")


def test_a_folder_at_the_default_path_is_refused_and_left_alone(tmp_path, monkeypatch):
    monkeypatch.delenv("ADLAB_COURSE_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    folder = tmp_path / "xdg" / "adlab" / "progress.sqlite3"
    folder.mkdir(parents=True)
    _refused(folder, tmp_path, f"{folder} is a folder", "the default path must name a file",
             "set ADLAB_COURSE_DB to a file")


@pytest.mark.parametrize("kind", ["application id", "foreign table"])
def test_another_programs_database_is_refused_and_left_alone(private_store, kind):
    private_store.parent.mkdir(parents=True)
    con = sqlite3.connect(private_store)
    if kind == "application id":  # an id alone says whose it is, whatever its tables
        con.execute("PRAGMA application_id = 0x47504B47")  # a GeoPackage
        con.execute("CREATE TABLE attempts (x)")
        reason = "its application id is 0x47504b47"
    else:  # no id, but tables of its own
        con.execute("CREATE TABLE grades (name TEXT)")
        con.execute("INSERT INTO grades VALUES ('ada')")
        reason = "it holds other tables: grades"
    con.commit()
    con.close()
    _refused(private_store, private_store.parent, "another program's SQLite database",
             reason, "adlab will not touch it", "point ADLAB_COURSE_DB at another file")
    con = sqlite3.connect(private_store)
    assert con.execute("PRAGMA application_id").fetchone()[0] == (
        0x47504B47 if kind == "application id" else 0)
    con.close()


@pytest.mark.parametrize("content", [b"this is not SQLite\x00" * 100, b"hello\n",
                                     b"\x89PNG\r\n\x1a\n" + bytes(200)],
                         ids=["text", "short text", "png"])
def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(private_store, content):
    private_store.parent.mkdir(parents=True)
    private_store.write_bytes(content)
    _refused(private_store, private_store.parent, "is not a SQLite file",
             "adlab will not touch it", "point ADLAB_COURSE_DB at another file")


def test_a_refused_store_is_a_note_in_check_and_a_message_in_status_and_reset(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ADLAB_COURSE_DB", str(tmp_path))
    before = _snapshot(tmp_path)
    result = check("03.sin_tangent", lambda x, x_dot: (np.sin(x), np.cos(x) * x_dot))
    assert result.passed and len(result.notes) == 1
    assert result.notes[0].startswith("progress not saved: ") and "is a folder" in \
        result.notes[0]
    assert "progress could not be read" in repr(progress())
    assert cli.main(["status"]) == 1
    assert "is a folder" in capsys.readouterr().out
    assert cli.main(["reset"]) == 1
    assert "course reset: " in capsys.readouterr().err
    assert _snapshot(tmp_path) == before


def test_a_path_that_cannot_exist_raises_a_clear_store_error(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("ADLAB_COURSE_DB", str(tmp_path / "file" / "progress.sqlite3"))
    with pytest.raises((StoreError, OSError)):
        ProgressStore().record("03.sin_tangent", True, 2)


def test_course_status_and_reset(capsys):
    ProgressStore().record("03.sin_tangent", True, 2)
    ProgressStore().record("04.div_vjp", False, 0)
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"Course progress: 2/{TOTAL} points"
    assert "[x] 03.sin_tangent" in out and "[~] 04.div_vjp" in out
    assert cli.main(["reset", "04.div_vjp"]) == 0
    assert "cleared 1 attempt of 04.div_vjp" in capsys.readouterr().out
    assert cli.main(["reset", "04.nope"]) == 2
    assert "no exercise '04.nope'" in capsys.readouterr().err
    assert cli.main(["reset"]) == 0
    assert "cleared all 1 attempt" in capsys.readouterr().out
    assert ProgressStore().attempts() == []


# -- attempts a class can gather: unique ids, notebook, misconception, sent --------------

def test_each_attempt_has_a_unique_id_its_notebook_and_misconception(private_store):
    store = ProgressStore()
    a = store.record("04.div_vjp", False, 0, notebook="04_reverse_mode",
                     misconception="y-bar-sign")
    b = store.record("04.div_vjp", True, 2, notebook="04_reverse_mode")
    assert len(a.uid) == 32 and a.uid != b.uid
    rows = store.attempts("04.div_vjp")
    assert [(r.uid, r.notebook, r.misconception, r.sent) for r in rows] == [
        (a.uid, "04_reverse_mode", "y-bar-sign", False),
        (b.uid, "04_reverse_mode", "", False)]
    assert store.mark_sent([a.uid]) == 1 and store.mark_sent([]) == 0
    assert [r.uid for r in store.attempts(unsent=True)] == [b.uid]


def test_check_records_the_notebook_and_the_misconception_it_named(private_store):
    swapped = lambda g, x, y: (g * y, g * x)  # noqa: E731 - the product's rule, pasted
    result = check("04.div_vjp", swapped)
    assert result.misconception == "product-rule-pasted"
    (attempt,) = ProgressStore().attempts("04.div_vjp")
    assert (attempt.notebook, attempt.misconception) == ("04_reverse_mode",
                                                        "product-rule-pasted")
    check("04.div_vjp", lambda g, x, y: (g / y, -g * x / y ** 2))
    assert ProgressStore().attempts("04.div_vjp")[-1].misconception == ""


def test_a_store_of_the_first_schema_is_upgraded_without_losing_a_row(private_store):
    private_store.parent.mkdir(parents=True)
    con = sqlite3.connect(private_store)
    con.execute("CREATE TABLE attempts (id INTEGER PRIMARY KEY, exercise TEXT NOT NULL, "
                "passed INTEGER NOT NULL, score REAL NOT NULL, time TEXT NOT NULL, "
                "version TEXT NOT NULL)")
    con.executemany("INSERT INTO attempts (exercise, passed, score, time, version) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [("03.sin_tangent", 0, 0.0, "2026-01-01T00:00:00+00:00", "0.1.0"),
                     ("03.sin_tangent", 1, 2.0, "2026-01-02T00:00:00+00:00", "0.1.0")])
    con.execute(f"PRAGMA application_id = {store_module.APPLICATION_ID}")
    con.commit()
    con.close()
    rows = ProgressStore().attempts()
    assert [(r.exercise, r.passed, r.score) for r in rows] == [
        ("03.sin_tangent", False, 0.0), ("03.sin_tangent", True, 2.0)]
    assert len({r.uid for r in rows}) == 2 and all(len(r.uid) == 32 for r in rows)
    assert all(r.notebook == "" and r.misconception == "" and not r.sent for r in rows)
    assert [r.uid for r in ProgressStore().attempts()] == [r.uid for r in rows]  # kept


def test_the_journal_suits_the_filesystem(private_store, monkeypatch, tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/sda1 / ext4 rw 0 0\n"
                      f"server:/home {tmp_path / 'nfs'} nfs4 rw 0 0\n")
    assert store_module.filesystem_type(tmp_path / "nfs" / "u" / "p.sqlite3",
                                        str(mounts)) == "nfs4"
    assert store_module.filesystem_type(tmp_path / "local.sqlite3", str(mounts)) == "ext4"
    assert store_module.filesystem_type(tmp_path, str(tmp_path / "none")) == ""

    def journal():
        con = sqlite3.connect(private_store)
        try:
            return con.execute("PRAGMA journal_mode").fetchone()[0]
        finally:
            con.close()

    ProgressStore().record("03.sin_tangent", True, 2)
    assert journal() == "wal"  # a local disk
    monkeypatch.setattr(store_module, "filesystem_type", lambda path: "nfs4")
    ProgressStore().record("03.sin_tangent", True, 2)  # the same file, now on NFS
    assert journal() == "delete"
    monkeypatch.setenv("ADLAB_COURSE_JOURNAL", "wal")  # the setting decides
    assert len(ProgressStore().attempts()) == 2 and journal() == "wal"
    monkeypatch.setenv("ADLAB_COURSE_JOURNAL", "fast")
    with pytest.raises(StoreError, match="use wal, delete or auto"):
        ProgressStore().attempts()


def _nfs_writer(args):
    worker, n = args
    store_module.filesystem_type = lambda path: "nfs"  # in the forked worker
    store = ProgressStore()
    for i in range(n):
        store.record(f"ex{worker}", True, float(i))
    return len(store.warnings)


def test_with_the_rollback_journal_several_writers_lose_nothing_either(private_store):
    with multiprocessing.get_context("fork").Pool(4) as pool:
        assert pool.map(_nfs_writer, [(w, 40) for w in range(4)]) == [0] * 4
    rows = ProgressStore().attempts()
    assert len(rows) == 160 and len({r.uid for r in rows}) == 160
