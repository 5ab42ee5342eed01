"""The class service on PostgreSQL: every case of tests/test_hub_service.py again.

Each test class there (a ``ServiceCase``: the service's real handlers behind the fake
hub-auth seam) gets a twin here, ``<name>OnPostgres``, whose database is a throwaway
PostgreSQL server (tests/hub/postgres.py, one per session, started only when these tests
run) instead of an SQLite file; the tables are emptied before each test. A class added
there is run here too, without listing it. Below them, what only PostgreSQL can show: its
column types, the ``ON CONFLICT`` insert under contention, and text it refuses.

Without PostgreSQL these tests fail (``make test`` installs it), unless
``ADLAB_SKIP_POSTGRES=1``.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from tornado.testing import gen_test

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:  # tests/hub/ is a package beside this file
    sys.path.insert(0, _TESTS)

import test_hub_service as cases  # noqa: E402
from hub import postgres  # noqa: E402
from hub.postgres import postgres_url_fixture  # noqa: E402, F401 (the fixture postgres_url)

from course.hub.db import ClassDB  # noqa: E402

TABLES = "attempts, submissions, grades"


def empty_database(url: str) -> None:
    """The service's tables made if missing, then emptied (ids restart at 1)."""
    db = ClassDB(url)
    try:
        with db.engine.begin() as connection:
            connection.execute(sa.text(f"TRUNCATE {TABLES} RESTART IDENTITY"))
    finally:
        db.close()


class OnPostgres:
    """Mixed into a ``ServiceCase``: its database is the session's PostgreSQL server."""

    @pytest.fixture(autouse=True)
    def _postgres(self, postgres_url):
        self.postgres_url = postgres_url
        empty_database(postgres_url)

    def database_url(self) -> str:
        return self.postgres_url


def _twins() -> dict[str, type]:
    found = {}
    for name, case in vars(cases).items():
        if isinstance(case, type) and issubclass(case, cases.ServiceCase) \
                and case is not cases.ServiceCase:
            twin = f"{name}OnPostgres"
            found[twin] = type(twin, (OnPostgres, case), {"__module__": __name__,
                                                          "__qualname__": twin})
    return found


TWINS = _twins()
globals().update(TWINS)


def test_every_service_case_has_a_postgres_twin():
    assert {"TestAttemptsOnPostgres", "TestSubmissionsOnPostgres", "TestGradesOnPostgres",
            "TestDashboardOnPostgres"} <= set(TWINS)


def test_without_postgresql_these_tests_fail_saying_how_to_get_it(monkeypatch):
    monkeypatch.delenv(postgres.SKIP_VARIABLE, raising=False)
    with pytest.raises(pytest.fail.Exception, match="`make test` installs it"):
        postgres.unavailable("no initdb here")
    monkeypatch.setenv(postgres.SKIP_VARIABLE, "1")
    with pytest.raises(pytest.skip.Exception, match="ADLAB_SKIP_POSTGRES=1"):
        postgres.unavailable("no initdb here")


def test_the_programs_are_found_on_path_then_in_debians_folders(monkeypatch, tmp_path):
    def programs(folder: Path) -> Path:
        folder.mkdir(parents=True)
        for name in ("initdb", "pg_ctl"):
            (folder / name).write_text("#!/bin/sh\n")
            (folder / name).chmod(0o755)
        return folder
    for version in ("9.6", "16", "15"):
        programs(tmp_path / "lib" / version / "bin")
    monkeypatch.setattr(postgres, "DEBIAN_BINS", str(tmp_path / "lib" / "*" / "bin"))
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    assert postgres.find_bin_dir() == tmp_path / "lib" / "16" / "bin"
    monkeypatch.setenv("PATH", str(programs(tmp_path / "local")))
    assert postgres.find_bin_dir() == tmp_path / "local"
    monkeypatch.setattr(postgres, "DEBIAN_BINS", str(tmp_path / "none" / "*"))
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    assert postgres.find_bin_dir() is None


class TestOnlyPostgres(OnPostgres, cases.ServiceCase):
    def test_the_database_is_postgresql_with_the_expected_columns(self):
        assert self.db.engine.dialect.name == "postgresql" and not self.db.is_sqlite
        inspector = sa.inspect(self.db.engine)
        columns = {c["name"]: c["type"] for c in inspector.get_columns("attempts")}
        assert isinstance(columns["passed"], sa.Boolean)
        assert isinstance(columns["score"], sa.Float)
        assert columns["uid"].length == 64 and columns["user"].length == 255
        uniques = inspector.get_unique_constraints("attempts") + \
            [i for i in inspector.get_indexes("attempts") if i["unique"]]
        assert any(u["column_names"] == ["uid"] for u in uniques)
        assert isinstance({c["name"]: c["type"] for c in inspector.get_columns(
            "submissions")}["content"], sa.Text)

    def test_a_known_uid_is_skipped_by_the_database(self):
        row = cases.attempt()
        assert self.db.add_attempts("alice", cases.P101, [row]) == (1, 0)
        assert self.db.add_attempts("carol", cases.P101, [row, row]) == (0, 2)
        assert [a.user for a in self.db.attempts(cases.P101)] == ["alice"]

    @gen_test(timeout=120)
    async def test_the_same_attempts_in_any_order_at_once(self):
        """Fifty kernels resend one learner's attempts, each in its own order: on
        PostgreSQL their ``ON CONFLICT`` inserts wait on each other's rows."""
        shared = [cases.attempt() for _ in range(20)]
        rng = random.Random(7)

        async def post(attempts):
            r = await self.http_client.fetch(
                self.get_url(cases.PREFIX + "api/attempts"), method="POST",
                headers={"Authorization": "token t-alice"}, raise_error=False,
                body=json.dumps({"attempts": attempts}))
            return r.code, json.loads(r.body)
        answers = await asyncio.gather(*[post(rng.sample(shared, len(shared)))
                                         for _ in range(50)])
        assert [code for code, _ in answers] == [200] * 50, answers
        assert sum(a["stored"] for _, a in answers) == 20
        assert sum(a["known"] for _, a in answers) == 980
        assert len(self.db.attempts(cases.P101)) == 20

    def test_long_and_non_ascii_names_fit(self):
        course = "é" * 255  # 255 characters, 510 bytes: the columns count characters
        assert self.post_attempts("t-nogroup", [cases.attempt()], course=course).code == 200
        assert [a.user for a in self.db.attempts(course)] == ["finn"]
        assert course in self.db.courses()

    def test_text_postgresql_cannot_store_is_a_400(self):
        """PostgreSQL refuses NUL characters in text (SQLite keeps them)."""
        body = {"notebook": "03_forward_mode",
                "grades": [{"user": "al\x00ice", "score": 1, "possible": 2,
                            "submission": None}]}
        r = self.call(f"api/courses/{cases.P101}/grades", "t-gina", body)
        assert r.code == 400 and self.json(r)["message"].startswith("grades[0].user:")
        assert self.db.latest_grades(cases.P101) == []

    def test_a_submission_id_beyond_the_column_is_a_404(self):
        r = self.call(f"api/submissions/{10**17}", "t-root")
        assert r.code == 404
        body = {"notebook": "03_forward_mode", "grades": [
            {"user": "alice", "score": 1, "possible": 2, "submission": 2**63}]}
        r = self.call(f"api/courses/{cases.P101}/grades", "t-gina", body)
        assert r.code == 400 and "is not a submission" in self.json(r)["message"]
