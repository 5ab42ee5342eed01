"""The class service's storage: attempts, submissions and grades of every course.

Three tables, through SQLAlchemy (2.x style), so that one URL picks the database:
SQLite in the service's working directory by default (``sqlite:///adlab-hub.sqlite``),
PostgreSQL on Kubernetes (``postgresql+psycopg://...``).

- ``attempts``: one row per checked attempt, unique by its ``uid`` (made by the
  learner's progress store), so sending the same attempt twice stores it once;
- ``submissions``: every notebook submitted, kept (the history); the latest per learner
  and notebook is the one collected;
- ``grades``: every grade posted; the latest per learner and notebook is shown.

Times are ISO 8601 strings in UTC: ``time`` is the learner's (when ``check`` ran, on the
kernel's clock), ``received`` and ``posted`` the service's.

Concurrency: an attempt whose uid is already stored is skipped by the database itself
(``INSERT ... ON CONFLICT DO NOTHING``), so fifty clients posting the same attempts at
once store each one exactly once and none of them sees an error. On PostgreSQL a post of
attempts first takes the table's write lock (one writer of attempts at a time, as on
SQLite; readers do not wait), so posts of the same uids in different orders cannot
deadlock. SQLite gets WAL (readers
never wait for the writer) and a busy timeout (writers queue instead of failing); the
service's working directory must be on a local disk, not NFS, for WAL to work.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

DEFAULT_URL = "sqlite:///adlab-hub.sqlite"
BUSY_SECONDS = 30.0
MAX_ID = 2**31 - 1  # the ids are INTEGER columns


class Base(DeclarativeBase):
    pass


class AttemptRow(Base):
    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user: Mapped[str] = mapped_column(sa.String(255), index=True)
    course: Mapped[str] = mapped_column(sa.String(255), index=True)
    exercise: Mapped[str] = mapped_column(sa.String(100))
    notebook: Mapped[str] = mapped_column(sa.String(100))
    passed: Mapped[bool] = mapped_column(sa.Boolean)
    score: Mapped[float] = mapped_column(sa.Float)
    time: Mapped[str] = mapped_column(sa.String(40))       # the learner's
    received: Mapped[str] = mapped_column(sa.String(40))   # the service's
    version: Mapped[str] = mapped_column(sa.String(64))
    misconception: Mapped[str] = mapped_column(sa.String(100), default="")


class SubmissionRow(Base):
    __tablename__ = "submissions"
    __table_args__ = (sa.Index("submissions_course_notebook", "course", "notebook"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user: Mapped[str] = mapped_column(sa.String(255))
    course: Mapped[str] = mapped_column(sa.String(255))
    notebook: Mapped[str] = mapped_column(sa.String(100))
    received: Mapped[str] = mapped_column(sa.String(40))
    bytes: Mapped[int] = mapped_column(sa.Integer)
    content: Mapped[str] = mapped_column(sa.Text)


class GradeRow(Base):
    __tablename__ = "grades"

    id: Mapped[int] = mapped_column(primary_key=True)
    user: Mapped[str] = mapped_column(sa.String(255))
    course: Mapped[str] = mapped_column(sa.String(255), index=True)
    notebook: Mapped[str] = mapped_column(sa.String(100))
    score: Mapped[float] = mapped_column(sa.Float)
    possible: Mapped[float] = mapped_column(sa.Float)
    submission: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    posted: Mapped[str] = mapped_column(sa.String(40))
    grader: Mapped[str] = mapped_column(sa.String(255), default="")  # who posted it


@dataclass(frozen=True)
class StoredAttempt:
    """One attempt as the service holds it (what the statistics read)."""

    user: str
    exercise: str
    notebook: str
    passed: bool
    score: float
    time: str
    received: str
    version: str
    misconception: str
    uid: str


@dataclass(frozen=True)
class Grade:
    user: str
    notebook: str
    score: float
    possible: float
    submission: int | None
    posted: str
    grader: str


def now() -> str:
    """The service's clock, as ISO 8601 UTC with microseconds (so times sort as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class ClassDB:
    """The service's database at ``url`` (tables made if missing)."""

    def __init__(self, url: str = DEFAULT_URL):
        parsed = make_url(url)
        options: dict = {}
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            options["connect_args"] = {"timeout": BUSY_SECONDS}
        self.engine = sa.create_engine(parsed, **options)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        Base.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    # -- attempts --------------------------------------------------------------------

    def add_attempts(self, user: str, course: str, attempts: Iterable[dict]) -> tuple[int, int]:
        """Store a learner's attempts (validated dicts); return (new, already stored).

        Idempotent on ``uid``: the database skips a uid it holds already, whoever sent
        it first, so concurrent posts of the same attempts never fail or duplicate.
        """
        received = now()
        rows = [dict(a, user=user, course=course, received=received) for a in attempts]
        stored = 0
        with self.session() as session:
            if self.engine.dialect.name == "postgresql":
                # one writer at a time, as on SQLite: two posts of the same uids in
                # different orders would otherwise each wait for the other's row (a
                # deadlock, one of them failing); readers are not blocked
                session.execute(sa.text("LOCK TABLE attempts IN SHARE ROW EXCLUSIVE MODE"))
            for row in rows:
                stored += self._insert_new(session, row)
        return stored, len(rows) - stored

    def _insert_new(self, session: Session, row: dict) -> int:
        """1 if the row was inserted, 0 if its uid was there already."""
        dialect = self.engine.dialect.name
        if dialect in ("sqlite", "postgresql"):
            module = sqlite if dialect == "sqlite" else postgresql
            statement = module.insert(AttemptRow).values(**row) \
                .on_conflict_do_nothing(index_elements=["uid"])
            if dialect == "postgresql":
                # psycopg's rowcount of an INSERT is gone once SQLAlchemy closes the
                # cursor (it reads -1): count the row RETURNING gives back instead
                statement = statement.returning(AttemptRow.id)
                return len(session.execute(statement).all())
            return session.execute(statement).rowcount
        try:  # other databases: a savepoint around a plain insert
            with session.begin_nested():
                session.execute(sa.insert(AttemptRow).values(**row))
            return 1
        except IntegrityError:
            return 0

    def attempts(self, course: str) -> list[StoredAttempt]:
        """Every attempt of a course, in the order received."""
        with self.session() as session:
            rows = session.scalars(sa.select(AttemptRow).where(AttemptRow.course == course)
                                   .order_by(AttemptRow.id)).all()
            return [StoredAttempt(r.user, r.exercise, r.notebook, r.passed, r.score, r.time,
                                  r.received, r.version, r.misconception, r.uid)
                    for r in rows]

    # -- submissions -----------------------------------------------------------------

    def add_submission(self, user: str, course: str, notebook: str,
                       content: str) -> tuple[int, str]:
        """Keep a submitted notebook; return its id and the time it was received."""
        received = now()
        row = SubmissionRow(user=user, course=course, notebook=notebook, received=received,
                            bytes=len(content.encode("utf-8")), content=content)
        with self.session() as session:
            session.add(row)
            session.flush()
            return row.id, received

    def latest_submissions(self, course: str, notebook: str | None = None) -> list[dict]:
        """The latest submission per learner (and notebook), without the content."""
        latest = (sa.select(sa.func.max(SubmissionRow.id))
                  .where(SubmissionRow.course == course)
                  .group_by(SubmissionRow.user, SubmissionRow.notebook))
        if notebook is not None:
            latest = latest.where(SubmissionRow.notebook == notebook)
        query = (sa.select(SubmissionRow.user, SubmissionRow.notebook, SubmissionRow.id,
                           SubmissionRow.received, SubmissionRow.bytes)
                 .where(SubmissionRow.id.in_(latest))
                 .order_by(SubmissionRow.notebook, SubmissionRow.user))
        with self.session() as session:
            return [{"user": u, "notebook": n, "id": i, "received": r, "bytes": b}
                    for u, n, i, r, b in session.execute(query)]

    def submission(self, submission_id: int) -> dict | None:
        """One submission with its content, or None."""
        if not 0 < submission_id <= MAX_ID:  # PostgreSQL: beyond INTEGER is an error
            return None
        with self.session() as session:
            row = session.get(SubmissionRow, submission_id)
            if row is None:
                return None
            return {"user": row.user, "course": row.course, "notebook": row.notebook,
                    "received": row.received, "content": row.content}

    # -- grades ----------------------------------------------------------------------

    def add_grades(self, course: str, notebook: str, grades: Iterable[dict],
                   grader: str) -> int:
        """Keep posted grades (validated dicts: user, score, possible, submission)."""
        posted = now()
        rows = [GradeRow(course=course, notebook=notebook, posted=posted, grader=grader,
                         user=g["user"], score=g["score"], possible=g["possible"],
                         submission=g["submission"]) for g in grades]
        with self.session() as session:
            session.add_all(rows)
        return len(rows)

    def latest_grades(self, course: str) -> list[Grade]:
        """The latest grade per learner and notebook, by notebook then learner."""
        latest = (sa.select(sa.func.max(GradeRow.id)).where(GradeRow.course == course)
                  .group_by(GradeRow.user, GradeRow.notebook))
        query = (sa.select(GradeRow).where(GradeRow.id.in_(latest))
                 .order_by(GradeRow.notebook, GradeRow.user))
        with self.session() as session:
            return [Grade(r.user, r.notebook, r.score, r.possible, r.submission, r.posted,
                          r.grader) for r in session.scalars(query)]

    # -- courses ---------------------------------------------------------------------

    def courses(self) -> list[str]:
        """Every course with anything stored, sorted."""
        query = sa.union(sa.select(AttemptRow.course), sa.select(SubmissionRow.course),
                         sa.select(GradeRow.course))
        with self.session() as session:
            return sorted(session.scalars(query))


def _sqlite_pragmas(connection, _record) -> None:
    """WAL (readers do not wait for the writer) and a busy timeout (writers queue)."""
    cursor = connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_SECONDS * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()
