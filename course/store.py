"""The progress store: every checked attempt as one row of a SQLite table.

The file lives in the per-user data directory (``$XDG_DATA_HOME/adlab/progress.sqlite3``,
else ``~/.local/share/adlab/progress.sqlite3``); ``$ADLAB_COURSE_DB`` overrides the
path (the tests always do). Rows hold plain columns only (exercise, passed, score,
time, course version): nothing is pickled or evaluated, ever.

Each attempt has a unique id (``uid``, a random UUID made when it is recorded), the
notebook and the misconception code that ``check`` matched (empty when none), and
whether it has been sent to a class service (``sent``; see :mod:`course.hub`), so the
rows of a class can be gathered without duplicates: the id makes sending idempotent.

Several kernels may write at once: each write is one short transaction with a busy
timeout, so none is lost. The journal suits where the file lives: WAL (readers and a
writer at once) on a local disk; on a network filesystem (NFS, SMB/CIFS, Lustre, ...,
where many hubs keep home folders) SQLite's WAL does not work, so the store keeps the
rollback journal there. ``$ADLAB_COURSE_JOURNAL`` (``wal``, ``delete`` or ``auto``,
the default) overrides the choice. A damaged store (a SQLite
file that cannot be read, or a truncated or zeroed one) is moved aside
(``progress.sqlite3.corrupt-<time>``) with a message saying where, and a fresh store is
started. A path that is not ours is refused and never touched: a folder, another
program's SQLite database (another application id, or other tables), or a file that is
not SQLite at all. In a notebook every store problem becomes a one-line note under the
check's result, never an exception.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

from adlab import __version__ as VERSION

T = TypeVar("T")
DB_VARIABLE = "ADLAB_COURSE_DB"
JOURNAL_VARIABLE = "ADLAB_COURSE_JOURNAL"
#: filesystems on which SQLite's WAL mode does not work (shared memory across machines)
NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb", "smb2", "smbfs", "smb3", "afs", "ncpfs", "lustre",
    "gpfs", "ceph", "glusterfs", "fuse.glusterfs", "fuse.sshfs", "fuse.s3fs", "9p",
    "beegfs", "panfs", "davfs", "fuse.rclone", "fuse.gcsfuse"})
APPLICATION_ID = 0x61644C62  # "adLb" in the file header: this file is a progress store
SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database
BUSY_SECONDS = 30.0
SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id            INTEGER PRIMARY KEY,
    exercise      TEXT    NOT NULL,
    passed        INTEGER NOT NULL,
    score         REAL    NOT NULL,
    time          TEXT    NOT NULL,
    version       TEXT    NOT NULL,
    uid           TEXT,
    notebook      TEXT    NOT NULL DEFAULT '',
    misconception TEXT    NOT NULL DEFAULT '',
    sent          INTEGER NOT NULL DEFAULT 0
)"""
#: columns added since the first stores: (name, declaration), added to older files
ADDED_COLUMNS = (("uid", "TEXT"), ("notebook", "TEXT NOT NULL DEFAULT ''"),
                 ("misconception", "TEXT NOT NULL DEFAULT ''"),
                 ("sent", "INTEGER NOT NULL DEFAULT 0"))


class StoreError(Exception):
    """The store cannot be used right now (the message says why and what to do)."""


def default_path() -> Path:
    """``$ADLAB_COURSE_DB``, else the per-user data directory."""
    if os.environ.get(DB_VARIABLE):
        return Path(os.environ[DB_VARIABLE]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "adlab" / "progress.sqlite3"


def journal_mode(path: Path) -> str:
    """``"wal"`` for a store on a local disk, ``"delete"`` (SQLite's rollback journal) on
    a network filesystem, where WAL does not work; ``$ADLAB_COURSE_JOURNAL`` decides
    when set to ``wal`` or ``delete``."""
    choice = os.environ.get(JOURNAL_VARIABLE, "auto").strip().lower()
    if choice in ("wal", "delete"):
        return choice
    if choice not in ("", "auto"):
        raise StoreError(f"{JOURNAL_VARIABLE} is {choice!r}; use wal, delete or auto")
    return "delete" if filesystem_type(path) in NETWORK_FILESYSTEMS else "wal"


def filesystem_type(path: Path, mounts: str = "/proc/self/mounts") -> str:
    """The type of the filesystem ``path`` lives on (``"ext4"``, ``"nfs4"``, ...), from the
    longest mount point that holds it; ``""`` where that cannot be read."""
    try:
        with open(mounts, encoding="utf-8", errors="replace") as handle:
            table = [line.split() for line in handle]
    except OSError:
        return ""
    target_text = os.path.realpath(path)  # symbolic links of the existing part followed
    best, kind = -1, ""
    for fields in table:
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = target_text == point or target_text.startswith(point.rstrip("/") + "/")
        if inside and len(point) > best:
            best, kind = len(point), fields[2]
    return kind


@dataclass(frozen=True)
class Attempt:
    exercise: str
    passed: bool
    score: float
    time: str      # ISO 8601, UTC
    version: str
    uid: str = ""           # unique: sending an attempt twice is recognised
    notebook: str = ""      # the notebook's stem, e.g. "03_forward_mode"
    misconception: str = ""  # the code of the known mistake check matched, "" if none
    sent: bool = False      # received by the class service (see course.hub)


@dataclass(frozen=True)
class Summary:
    """One exercise's record: its best score, whether it ever passed, how many tries."""

    best: float
    passed: bool
    attempts: int


class ProgressStore:
    """The attempts of one learner. Messages about recovered files collect in ``warnings``."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_path()
        self.warnings: list[str] = []
        # who named the path: the messages about a path that is not a store say what to fix
        self._origin = ("argument" if path is not None
                        else "variable" if os.environ.get(DB_VARIABLE) else "default")

    # -- public ----------------------------------------------------------------------

    def record(self, exercise: str, passed: bool, score: float, version: str = VERSION,
               notebook: str = "", misconception: str = "") -> Attempt:
        """Add one attempt; return it (with its new unique id)."""
        attempt = Attempt(str(exercise), bool(passed), float(score),
                          datetime.now(timezone.utc).isoformat(timespec="seconds"),
                          str(version), uuid.uuid4().hex, str(notebook or ""),
                          str(misconception or ""))
        row = (attempt.exercise, int(attempt.passed), attempt.score, attempt.time,
               attempt.version, attempt.uid, attempt.notebook, attempt.misconception)
        self._run(lambda con: con.execute(
            "INSERT INTO attempts (exercise, passed, score, time, version, uid, notebook, "
            "misconception) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row))
        return attempt

    def attempts(self, exercise: str | None = None, unsent: bool = False) -> list[Attempt]:
        """All attempts (of one exercise, if given; only those not yet sent to the class
        service, with ``unsent``), oldest first."""
        query = ("SELECT exercise, passed, score, time, version, uid, notebook, misconception,"
                 " sent FROM attempts")
        where, args = [], []
        if exercise is not None:
            where.append("exercise = ?")
            args.append(exercise)
        if unsent:
            where.append("sent = 0")
        if where:
            query += " WHERE " + " AND ".join(where)
        rows = self._run(lambda con: con.execute(query + " ORDER BY id", args).fetchall())
        return [Attempt(e, bool(p), float(s), t, v, u or "", n or "", m or "", bool(sent))
                for e, p, s, t, v, u, n, m, sent in rows]

    def mark_sent(self, uids: list[str]) -> int:
        """Mark the attempts with these ids as received by the class service."""
        uids = [str(u) for u in uids]
        if not uids:
            return 0
        marks = ", ".join("?" * len(uids))
        return self._run(lambda con: con.execute(
            f"UPDATE attempts SET sent = 1 WHERE uid IN ({marks})", uids).rowcount)

    def summary(self) -> dict[str, Summary]:
        """Per exercise: best score, passed at least once, number of attempts."""
        rows = self._run(lambda con: con.execute(
            "SELECT exercise, MAX(score), MAX(passed), COUNT(*) FROM attempts "
            "GROUP BY exercise").fetchall())
        return {e: Summary(float(best), bool(p), int(n)) for e, best, p, n in rows}

    def reset(self, exercise: str | None = None) -> int:
        """Delete the attempts of one exercise, or all of them; return how many."""
        if exercise is None:
            return self._run(lambda con: con.execute("DELETE FROM attempts").rowcount)
        return self._run(lambda con: con.execute(
            "DELETE FROM attempts WHERE exercise = ?", (exercise,)).rowcount)

    # -- opening, and recovering from a bad file -------------------------------------

    def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work(connection)``; a file found corrupt on the way is moved aside once."""
        for first_try in (True, False):
            con = self._connect()
            try:
                return work(con)
            except sqlite3.OperationalError as e:
                raise StoreError(self._explain(e)) from None
            except sqlite3.DatabaseError as e:  # corrupt pages, found only when read
                if not first_try:
                    raise StoreError(self._explain(e)) from None
                con.close()
                self._recover(e).close()
            finally:
                con.close()
        raise AssertionError("unreachable")  # pragma: no cover

    def _connect(self) -> sqlite3.Connection:
        try:
            return self._open()
        except sqlite3.OperationalError as e:
            if not (self.path.exists() and "unable to open" in str(e)):
                raise StoreError(self._explain(e)) from None
            error: Exception = e  # it exists but cannot be opened: unreadable
        except _NotAStore as e:  # another program's database: refused, never moved
            raise StoreError(self._foreign(e)) from None
        except sqlite3.DatabaseError as e:
            error = e
        return self._recover(error)

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None)
        try:
            con.execute(f"PRAGMA busy_timeout = {int(BUSY_SECONDS * 1000)}")
            app = con.execute("PRAGMA application_id").fetchone()[0]
            if app != APPLICATION_ID:
                self._create(con, app)
            self._upgrade(con)
            return con
        except BaseException:
            con.close()
            raise

    def _create(self, con: sqlite3.Connection, app: int) -> None:
        """Make an empty or new file a store; refuse a file that is something else."""
        if app != 0:
            if not _header_intact(self.path):  # a garbled header of ours reads as any id
                raise sqlite3.DatabaseError("the file header is damaged")
            raise _NotAStore(f"its application id is {app & 0xFFFFFFFF:#010x}")
        _refuse_other_tables(con)  # read only first: another program's file is not locked
        con.execute("BEGIN IMMEDIATE")  # one creator at a time; the others wait
        try:
            if con.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
                _refuse_other_tables(con)
                con.execute(SCHEMA)
                con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def _upgrade(self, con: sqlite3.Connection) -> None:
        """Bring a store up to date: the columns added since it was made (older attempts
        get their unique ids now), and the journal that suits where the file lives."""
        have = {row[1] for row in con.execute("PRAGMA table_info(attempts)")}
        missing = [(name, decl) for name, decl in ADDED_COLUMNS if name not in have]
        if missing or con.execute(
                "SELECT 1 FROM attempts WHERE uid IS NULL LIMIT 1").fetchone():
            con.execute("BEGIN IMMEDIATE")  # one upgrader at a time; the others wait
            try:
                have = {row[1] for row in con.execute("PRAGMA table_info(attempts)")}
                for name, decl in ADDED_COLUMNS:
                    if name not in have:
                        con.execute(f"ALTER TABLE attempts ADD COLUMN {name} {decl}")
                for (rowid,) in con.execute(
                        "SELECT id FROM attempts WHERE uid IS NULL").fetchall():
                    con.execute("UPDATE attempts SET uid = ? WHERE id = ?",
                                (uuid.uuid4().hex, rowid))
                con.execute("CREATE UNIQUE INDEX IF NOT EXISTS attempts_uid ON attempts (uid)")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        # WAL lets readers and one writer work at once on a local disk; on a network
        # filesystem it does not work, and the rollback journal is used. The setting
        # stays in the file; a change waits for other connections to let go.
        wanted = journal_mode(self.path)
        if con.execute("PRAGMA journal_mode").fetchone()[0].lower() == wanted:
            return
        for _ in range(100):
            try:
                if con.execute(f"PRAGMA journal_mode = {wanted.upper()}").fetchone()[0] \
                        .lower() == wanted:
                    return
            except sqlite3.OperationalError:  # another process holds a lock: retry
                pass
            time.sleep(0.05)

    def _recover(self, error: Exception) -> sqlite3.Connection:
        self._refuse_if_not_ours()  # before the lock: a folder gets no lock file beside it
        with _file_lock(self.path):
            try:  # another kernel may have recovered the file while we waited
                con = self._open()
                try:
                    if con.execute("PRAGMA quick_check").fetchone()[0] == "ok":
                        return con
                except sqlite3.DatabaseError:
                    pass
                con.close()
            except _NotAStore as e:
                raise StoreError(self._foreign(e)) from None
            except sqlite3.DatabaseError:
                pass
            self._refuse_if_not_ours()  # the path may have been replaced while we waited
            aside = self.path.with_name(
                f"{self.path.name}.corrupt-{datetime.now().strftime('%Y%m%dT%H%M%S')}")
            n = 1
            while aside.exists():
                aside, n = aside.with_name(f"{aside.name.split('~')[0]}~{n}"), n + 1
            try:
                os.replace(self.path, aside)
                for suffix in ("-wal", "-shm"):
                    side = self.path.with_name(self.path.name + suffix)
                    if side.exists():
                        os.replace(side, aside.with_name(aside.name + suffix))
            except OSError as e:
                raise StoreError(f"the progress file {self.path} cannot be read ({error}) "
                                 f"and could not be moved aside ({e}); set {DB_VARIABLE} "
                                 "to another path") from None
            self.warnings.append(
                f"The progress file {self.path} could not be read ({error}); it was moved "
                f"to {aside} and a fresh one was started (your earlier attempts are in "
                "the moved file).")
            try:
                return self._open()
            except sqlite3.DatabaseError as e:
                raise StoreError(self._explain(e)) from None

    def _refuse_if_not_ours(self) -> None:
        """StoreError if the path cannot be a damaged store of ours: it is never moved.

        A garbled store cannot be told from random bytes, so a file is taken for a
        damaged store only if it starts with the SQLite header, or is empty, a truncated
        header, or zeroed (as a crash may leave it). Any other file, and a folder, is
        something else that the variable (or the default path) was pointed at.
        """
        if self.path.is_dir():
            raise StoreError(self._folder())
        try:
            with open(self.path, "rb") as handle:
                head = handle.read(len(SQLITE_HEADER))
        except FileNotFoundError:
            return
        except OSError as e:
            raise StoreError(f"the progress store {self.path} cannot be read "
                             f"({e.strerror or e}); adlab will not touch it: check its "
                             f"permissions, or {self._fix()}") from None
        if head.startswith(SQLITE_HEADER) or SQLITE_HEADER.startswith(head) \
                or not head.strip(b"\x00"):
            return
        raise StoreError(f"the progress store {self.path} is not a SQLite file (it does "
                         "not start with the SQLite header), so it is not a progress "
                         f"store; adlab will not touch it: {self._fix()}")

    def _folder(self) -> str:
        example = self.path / "progress.sqlite3"
        if self._origin == "variable":
            return (f"the progress store {self.path} is a folder, not a file: "
                    f"{DB_VARIABLE} must name a file, e.g. {example}")
        if self._origin == "default":
            return (f"the progress store {self.path} is a folder, not a file: the default "
                    f"path must name a file; move the folder away, or set {DB_VARIABLE} "
                    f"to a file, e.g. {example}")
        return (f"the progress store {self.path} is a folder, not a file: the path given "
                f"must name a file, e.g. {example}")

    def _foreign(self, e: _NotAStore) -> str:
        return (f"the progress store {self.path} is another program's SQLite database "
                f"({e}); adlab will not touch it: {self._fix()}")

    def _fix(self) -> str:
        """What to do about a path that names something other than a progress store."""
        other = self.path.with_name("progress.sqlite3")
        if other == self.path:
            other = self.path.with_name("adlab-progress.sqlite3")
        if self._origin == "variable":
            return f"point {DB_VARIABLE} at another file, e.g. {other}"
        if self._origin == "default":
            return f"move it away, or set {DB_VARIABLE} to another file"
        return f"give another file, e.g. {other}"

    def _explain(self, e: Exception) -> str:
        text = str(e)
        if "locked" in text or "busy" in text:
            return f"the progress store {self.path} stayed busy for {BUSY_SECONDS:g} s"
        if "readonly" in text or "read-only" in text:
            return f"the progress store {self.path} is read-only"
        return f"the progress store {self.path} cannot be used ({text})"


class _NotAStore(Exception):
    """The file is a valid SQLite database, but not a progress store."""


def _refuse_other_tables(con: sqlite3.Connection) -> None:
    """``_NotAStore`` if the database holds tables other than ``attempts``."""
    tables = {r[0] for r in con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    others = sorted(tables - {"attempts"})
    if others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise _NotAStore(f"it holds other tables: {shown}")


def _header_intact(path: Path) -> bool:
    """Whether the SQLite header's fixed fields hold what SQLite always writes there.

    A store of ours whose header is garbled reads as any application id; another
    program's database has an intact header. Unreadable: taken as intact (refused).
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(100)
    except OSError:
        return True
    return (len(head) == 100 and head.startswith(SQLITE_HEADER)
            and head[21:24] == b"\x40\x20\x20" and head[72:92] == bytes(20))


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on ``<path>.lock`` (where fcntl exists), around recovery."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: recover without a lock
        yield
        return
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def record_attempt(exercise: str, passed: bool, score: float, notebook: str = "",
                   misconception: str = "") -> list[str]:
    """Record an attempt in the default store; return one-line notes, never raise."""
    try:
        store = ProgressStore()
        store.record(exercise, passed, score, notebook=notebook, misconception=misconception)
        return store.warnings
    except Exception as e:
        return [f"progress not saved: {e}"]
