"""The class service's routes, without a hub: one seam stands in for JupyterHub.

``FakeHubAuth`` is JupyterHub's own :class:`~jupyterhub.services.auth.HubAuth` with one
method replaced: ``user_for_token`` answers from a table of test tokens instead of asking
the hub's API. Everything after it (identifying the request, the scope checks with
JupyterHub's ``check_scopes``) is the service's real code. The real hub is exercised by
the hub tests (tests/hub*). The database is an SQLite file (``ServiceCase.database_url``);
tests/test_hub_postgres.py runs every case here again on a PostgreSQL server.
"""

from __future__ import annotations

import asyncio
import copy
import csv
import io
import json
import uuid
from datetime import datetime, timezone

import nbformat
import pytest
from jupyterhub.services.auth import HubAuth
from tornado.httpclient import HTTPResponse
from tornado.testing import AsyncHTTPTestCase, gen_test

from course.hub.db import ClassDB
from course.hub.service import make_app

PREFIX = "/services/adlab/"
MAX_SUBMISSION = 4000
P101, CHEM = "physics101", "chem"

TOKENS = {
    "t-alice": {"name": "alice", "groups": [P101], "scopes": [f"custom:adlab:post!group={P101}"]},
    "t-carol": {"name": "carol", "groups": [P101], "scopes": [f"custom:adlab:post!group={P101}"]},
    "t-bob": {"name": "bob", "groups": [CHEM], "scopes": [f"custom:adlab:post!group={CHEM}"]},
    "t-both": {"name": "dana", "groups": [P101, CHEM],
               "scopes": [f"custom:adlab:post!group={P101}", f"custom:adlab:post!group={CHEM}"]},
    "t-anywhere": {"name": "erin", "groups": [P101], "scopes": ["custom:adlab:post"]},
    "t-nogroup": {"name": "finn", "groups": [], "scopes": ["custom:adlab:post"]},
    "t-userfilter": {"name": "gus", "groups": [P101],
                     "scopes": ["custom:adlab:post!user=gus"]},
    "t-none": {"name": "hal", "groups": [P101], "scopes": ["read:users:name!user=hal"]},
    "t-tess": {"name": "tess", "groups": [P101], "scopes": [f"custom:adlab:read!group={P101}"]},
    "t-gina": {"name": "gina", "groups": [], "scopes": [f"custom:adlab:grade!group={P101}"]},
    "t-root": {"name": "root", "groups": [], "scopes": ["custom:adlab:read"]},
    "t-evil": {"name": "=HYPERLINK(\"x\")<b>", "groups": [P101],
               "scopes": [f"custom:adlab:post!group={P101}"]},
}
for i in range(50):
    TOKENS[f"t-learner{i}"] = {"name": f"learner{i:02d}", "groups": [P101],
                               "scopes": [f"custom:adlab:post!group={P101}"]}


class FakeHubAuth(HubAuth):
    """HubAuth that identifies tokens from ``TOKENS`` instead of asking the hub."""

    def user_for_token(self, token, use_cache=True, session_id="", *, sync=True):
        model = copy.deepcopy(TOKENS.get(token))
        if model is not None:
            model["kind"] = "user"
        if sync:
            return model

        async def found():
            return model
        return found()


def attempt(exercise="03.sin_tangent", passed=True, **change) -> dict:
    base = {"uid": uuid.uuid4().hex, "exercise": exercise, "notebook": "03_forward_mode",
            "passed": passed, "score": 2 if passed else 0,
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "version": "0.1.0", "misconception": ""}
    return base | change


def notebook_text(source="x = 1") -> str:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    return nbformat.writes(nb)


class ServiceCase(AsyncHTTPTestCase):
    @pytest.fixture(autouse=True)
    def _tmp(self, tmp_path):
        self.tmp_path = tmp_path

    def database_url(self) -> str:
        """SQLite here; tests/test_hub_postgres.py runs these cases again on PostgreSQL."""
        return f"sqlite:///{self.tmp_path / 'hub.sqlite'}"

    def get_app(self):
        self.db = ClassDB(self.database_url())
        auth = FakeHubAuth(api_token="unused", api_url="http://127.0.0.1:1/hub/api")
        self.app = make_app(self.db, auth, prefix=PREFIX, max_submission=MAX_SUBMISSION)
        return self.app

    def tearDown(self):
        super().tearDown()
        self.app.settings["executor"].shutdown(wait=True)
        self.db.close()

    def call(self, path: str, token: str | None = None, body=None, method=None,
             raw: bytes | None = None) -> HTTPResponse:
        headers = {"Authorization": f"token {token}"} if token else {}
        data = raw if raw is not None else (None if body is None else json.dumps(body))
        return self.fetch(PREFIX + path, method=method or ("GET" if data is None else "POST"),
                          body=data, headers=headers, follow_redirects=False)

    def json(self, response: HTTPResponse):
        return json.loads(response.body)

    def post_attempts(self, token: str, attempts: list[dict], **extra) -> HTTPResponse:
        return self.call("api/attempts", token, {"attempts": attempts, **extra})


class TestAttempts(ServiceCase):
    def test_health_needs_no_token(self):
        r = self.call("api/health")
        assert r.code == 200 and self.json(r) == {"ok": True}

    def test_no_token_is_403_with_a_message(self):
        r = self.post_attempts(None, [attempt()])
        assert r.code == 403
        assert "Authorization: token" in self.json(r)["message"]
        assert self.call("api/attempts", "not-a-token", {"attempts": []}).code == 403

    def test_post_is_idempotent_on_uid(self):
        batch = [attempt(), attempt(passed=False, misconception="sine-derivative-sign")]
        r = self.post_attempts("t-alice", batch)
        assert r.code == 200 and self.json(r) == {"stored": 2, "known": 0}
        again = self.post_attempts("t-alice", batch + [attempt()])
        assert self.json(again) == {"stored": 1, "known": 2}
        twice = attempt()
        assert self.json(self.post_attempts("t-alice", [twice, twice])) == \
            {"stored": 1, "known": 1}
        rows = self.db.attempts(P101)
        assert len(rows) == 4 and {a.user for a in rows} == {"alice"}
        assert rows[1].misconception == "sine-derivative-sign"

    def test_a_body_naming_another_user_is_refused(self):
        r = self.post_attempts("t-alice", [attempt()], user="carol")
        assert r.code == 403 and "one may post only as oneself" in self.json(r)["message"]
        r = self.post_attempts("t-alice", [attempt(user="carol")])
        assert r.code == 403 and "attempts[0].user" in self.json(r)["message"]
        assert self.db.attempts(P101) == []
        assert self.post_attempts("t-alice", [attempt(user="alice")], user="alice").code == 200

    def test_the_course_is_the_only_one_the_post_scope_allows(self):
        assert self.post_attempts("t-bob", [attempt()]).code == 200
        assert [a.user for a in self.db.attempts(CHEM)] == ["bob"]
        # an unfiltered post scope: the learner's only hub group
        assert self.post_attempts("t-anywhere", [attempt()]).code == 200
        assert [a.user for a in self.db.attempts(P101)] == ["erin"]

    def test_an_ambiguous_or_missing_course_is_400_and_a_foreign_one_403(self):
        r = self.post_attempts("t-both", [attempt()])
        assert r.code == 400 and "chem, physics101" in self.json(r)["message"]
        assert self.post_attempts("t-both", [attempt()], course=CHEM).code == 200
        r = self.post_attempts("t-nogroup", [attempt()])
        assert r.code == 400 and "no hub group" in self.json(r)["message"]
        assert self.post_attempts("t-nogroup", [attempt()], course="any").code == 200
        r = self.post_attempts("t-alice", [attempt()], course=CHEM)
        assert r.code == 403 and "custom:adlab:post!group=chem" in self.json(r)["message"]
        for token in ("t-none", "t-userfilter", "t-tess"):
            r = self.post_attempts(token, [attempt()])
            assert r.code == 403, token
            assert "may not post to any course" in self.json(r)["message"]

    def test_bad_fields_are_400_naming_the_field(self):
        cases = [("uid", "short"), ("uid", 12345678), ("exercise", "3.sin"),
                 ("exercise", "03.Sin Tangent"), ("notebook", "../etc"), ("passed", 1),
                 ("passed", "true"), ("score", "2"), ("score", -1), ("score", True),
                 ("score", 1e9), ("time", "yesterday"), ("time", "2026-01-01T10:00:00"),
                 ("time", 20260101), ("version", ""), ("version", "a b"),
                 ("misconception", "Bad Code"), ("misconception", None)]
        for field, value in cases:
            r = self.post_attempts("t-alice", [attempt(), attempt(**{field: value})])
            assert r.code == 400, (field, value)
            message = self.json(r)["message"]
            assert message.startswith(f"attempts[1].{field}: must be"), message
        missing = attempt()
        del missing["score"]
        r = self.post_attempts("t-alice", [missing])
        assert r.code == 400 and self.json(r)["message"] == "attempts[0]: missing score"
        r = self.call("api/attempts", "t-alice", raw=b'{"attempts": [{"uid": NaN}]}')
        assert r.code == 400
        assert self.db.attempts(P101) == []  # a bad attempt stores none of its batch

    def test_bad_bodies_are_400(self):
        assert "not JSON" in self.json(self.call("api/attempts", "t-alice", raw=b"{oops"))[
            "message"]
        assert self.call("api/attempts", "t-alice", body=[1, 2]).code == 400
        r = self.call("api/attempts", "t-alice", body={"attempts": {"uid": "x"}})
        assert r.code == 400 and self.json(r)["message"].startswith("attempts: must be a list")
        r = self.post_attempts("t-alice", ["not an object"])
        assert r.code == 400 and self.json(r)["message"] == "attempts[0]: must be an object"
        r = self.post_attempts("t-alice", [attempt()], course="a/b")
        assert r.code == 400 and self.json(r)["message"].startswith("course:")

    def test_times_are_kept_in_utc(self):
        self.post_attempts("t-alice", [attempt(time="2026-03-01T12:00:00+02:00")])
        (row,) = self.db.attempts(P101)
        assert row.time == "2026-03-01T10:00:00+00:00"
        assert row.received.endswith("+00:00")

    @gen_test(timeout=60)
    async def test_fifty_clients_at_once_lose_nothing(self):
        batches = {i: [attempt() for _ in range(10)] for i in range(50)}
        shared = [attempt() for _ in range(10)]  # alice's, sent by 50 kernels at once

        async def post(token, attempts):
            r = await self.http_client.fetch(
                self.get_url(PREFIX + "api/attempts"), method="POST",
                headers={"Authorization": f"token {token}"},
                body=json.dumps({"attempts": attempts}))
            return json.loads(r.body)
        answers = await asyncio.gather(
            *[post(f"t-learner{i}", batches[i]) for i in range(50)],
            *[post("t-alice", shared) for _ in range(50)])
        assert all(a == {"stored": 10, "known": 0} for a in answers[:50])
        assert sum(a["stored"] for a in answers[50:]) == 10
        assert sum(a["known"] for a in answers[50:]) == 490
        rows = self.db.attempts(P101)
        assert len(rows) == 510
        assert len({r.uid for r in rows}) == 510

    def test_course_attempts_need_the_read_scope(self):
        self.post_attempts("t-alice", [attempt()])
        r = self.call(f"api/courses/{P101}/attempts", "t-tess")
        assert r.code == 200
        (row,) = self.json(r)
        assert row["user"] == "alice" and row["exercise"] == "03.sin_tangent"
        assert self.call(f"api/courses/{P101}/attempts", "t-root").code == 200
        r = self.call(f"api/courses/{P101}/attempts", "t-alice")
        assert r.code == 403 and "custom:adlab:read" in self.json(r)["message"]
        assert self.call(f"api/courses/{CHEM}/attempts", "t-tess").code == 403
        assert self.call(f"api/courses/{P101}/attempts", "t-gina").code == 403


class TestSubmissions(ServiceCase):
    def submit(self, token: str, content: str, notebook="03_forward_mode", **extra):
        return self.call("api/submissions", token,
                         {"notebook": notebook, "content": content, **extra})

    def test_a_submission_is_kept_and_the_latest_is_collected(self):
        first = self.json(self.submit("t-alice", notebook_text("x = 1")))
        second = self.json(self.submit("t-alice", notebook_text("x = 2")))
        carol = self.json(self.submit("t-carol", notebook_text("x = 3")))
        other = self.json(self.submit("t-alice", notebook_text(), notebook="04_reverse_mode"))
        assert first["id"] < second["id"] and first["received"] <= second["received"]
        r = self.call(f"api/courses/{P101}/submissions?notebook=03_forward_mode", "t-gina")
        listed = self.json(r)
        assert [(s["user"], s["id"]) for s in listed] == [("alice", second["id"]),
                                                        ("carol", carol["id"])]
        assert set(listed[0]) == {"user", "notebook", "id", "received", "bytes"}
        assert listed[0]["bytes"] == len(notebook_text("x = 2").encode())
        everything = self.json(self.call(f"api/courses/{P101}/submissions", "t-tess"))
        assert {s["id"] for s in everything} == {second["id"], carol["id"], other["id"]}
        one = self.json(self.call(f"api/submissions/{first['id']}", "t-gina"))
        assert one["user"] == "alice" and one["course"] == P101
        assert nbformat.reads(one["content"], as_version=4).cells[0].source == "x = 1"
        assert set(one) == {"user", "course", "notebook", "received", "content"}

    def test_reading_submissions_needs_grade_or_read_for_that_course(self):
        sid = self.json(self.submit("t-alice", notebook_text()))["id"]
        assert self.call(f"api/submissions/{sid}", "t-alice").code == 403
        assert self.call(f"api/submissions/{sid}", "t-tess").code == 200
        assert self.call(f"api/courses/{P101}/submissions", "t-carol").code == 403
        assert self.call(f"api/courses/{CHEM}/submissions", "t-gina").code == 403
        r = self.call("api/submissions/999", "t-root")
        assert r.code == 404 and "no submission 999" in self.json(r)["message"]

    def test_too_large_is_413(self):
        big = notebook_text("x = '" + "a" * MAX_SUBMISSION + "'")
        r = self.submit("t-alice", big)
        assert r.code == 413
        assert f"the limit is {MAX_SUBMISSION}" in self.json(r)["message"]
        huge = b'{"content": "' + b"a" * (2 * MAX_SUBMISSION + 70000) + b'"}'
        r = self.call("api/submissions", "t-alice", raw=huge)
        assert r.code == 413 and "the request is" in self.json(r)["message"]
        over = b'{"content": "' + b"a" * (MAX_SUBMISSION + 1) + b'"}'  # no notebook named
        r = self.call("api/submissions", "t-alice", raw=over)
        assert r.code == 413 and "content: the notebook is" in self.json(r)["message"]

    def test_content_must_be_a_notebook(self):
        for content in ("not json", '{"cells": 3}', json.dumps({"nbformat": 4})):
            r = self.submit("t-alice", content)
            assert r.code == 400, content
            assert self.json(r)["message"].startswith("content: not a Jupyter notebook")
        assert self.submit("t-alice", 12).code == 400
        r = self.submit("t-alice", notebook_text(), notebook="03_forward_mode.ipynb")
        assert r.code == 400 and self.json(r)["message"].startswith("notebook:")

    def test_submissions_are_posted_only_as_oneself_and_into_ones_course(self):
        assert self.submit("t-alice", notebook_text(), user="carol").code == 403
        assert self.submit("t-alice", notebook_text(), course=CHEM).code == 403
        assert self.submit("t-tess", notebook_text()).code == 403


class TestGrades(ServiceCase):
    def test_the_grader_posts_grades_and_the_latest_is_kept(self):
        sid = self.json(self.call("api/submissions", "t-alice", {
            "notebook": "03_forward_mode", "content": notebook_text()}))["id"]
        grades = {"notebook": "03_forward_mode", "grades": [
            {"user": "alice", "score": 7, "possible": 10, "submission": sid},
            {"user": "carol", "score": 0, "possible": 10, "submission": None}]}
        r = self.call(f"api/courses/{P101}/grades", "t-gina", grades)
        assert r.code == 200 and self.json(r) == {"stored": 2}
        grades["grades"] = [{"user": "alice", "score": 9, "possible": 10, "submission": sid}]
        self.call(f"api/courses/{P101}/grades", "t-gina", grades)
        latest = {(g.user, g.score, g.grader) for g in self.db.latest_grades(P101)}
        assert latest == {("alice", 9, "gina"), ("carol", 0, "gina")}

    def test_grades_need_the_grade_scope_and_valid_fields(self):
        good = {"notebook": "03_forward_mode",
                "grades": [{"user": "alice", "score": 1, "possible": 2, "submission": None}]}
        for token in ("t-tess", "t-alice", "t-root"):
            assert self.call(f"api/courses/{P101}/grades", token, good).code == 403
        assert self.call(f"api/courses/{CHEM}/grades", "t-gina", good).code == 403
        bad = [({"score": 3}, "grades[0].score: 3 is more than possible"),
               ({"score": "1"}, "grades[0].score: must be a number"),
               ({"possible": 0}, "grades[0].possible: must be more than 0"),
               ({"user": ""}, "grades[0].user: must be"),
               ({"submission": "7"}, "grades[0].submission: must be"),
               ({"submission": 12345}, "grades[0].submission: 12345 is not a submission")]
        for change, message in bad:
            body = {"notebook": "03_forward_mode", "grades": [good["grades"][0] | change]}
            r = self.call(f"api/courses/{P101}/grades", "t-gina", body)
            assert r.code == 400 and self.json(r)["message"].startswith(message), change
        carol = self.json(self.call("api/submissions", "t-carol", {
            "notebook": "03_forward_mode", "content": notebook_text()}))["id"]
        body = {"notebook": "03_forward_mode",
                "grades": [good["grades"][0] | {"submission": carol}]}
        r = self.call(f"api/courses/{P101}/grades", "t-gina", body)
        assert r.code == 400 and "not a submission of 03_forward_mode by 'alice'" in \
            self.json(r)["message"]
        assert self.db.latest_grades(P101) == []


class TestDashboard(ServiceCase):
    def fill(self):
        """alice passes two exercises, carol fails one with a known mistake twice."""
        self.post_attempts("t-alice", [
            attempt("03.sin_tangent", False, misconception="sine-derivative-sign"),
            attempt("03.sin_tangent", True), attempt("03.div_tangent", True, score=3)])
        self.post_attempts("t-carol", [
            attempt("03.sin_tangent", False, misconception="sine-derivative-sign"),
            attempt("03.sin_tangent", False, misconception="sine-derivative-sign")])
        self.call(f"api/courses/{P101}/grades", "t-gina", {
            "notebook": "03_forward_mode",
            "grades": [{"user": "alice", "score": 5, "possible": 6, "submission": None}]})

    def test_the_dashboard_shows_progress_statistics_mistakes_and_grades(self):
        from course import catalog
        self.fill()
        r = self.call(f"courses/{P101}/", "t-tess")
        assert r.code == 200 and r.headers["Content-Type"].startswith("text/html")
        html = r.body.decode()
        total = sum(e.points for e in catalog.EXERCISES)
        sin, div = catalog.get("03.sin_tangent"), catalog.get("03.div_tangent")
        assert f"<td>alice</td><td class=\"num\">{sin.points + div.points} / {total}</td>" in html
        assert f"<td class=\"num\">2 / {len(catalog.EXERCISES)}</td>" in html
        assert '<tr id="ex-03.sin_tangent">' in html and sin.title in html
        assert "50%" in html  # sin_tangent: 1 of 2 learners passed
        assert "too few learners: 2 attempted" in html
        assert f'<a href="#ex-03.sin_tangent">03.sin_tangent {sin.title}</a>' in html
        assert "<code>sine-derivative-sign</code>" in html
        assert "03_forward_mode: the latest grade of each learner" in html
        assert "5 / 6" in html
        assert "<svg" in html and "<script" not in html and "<iframe" not in html
        assert "prefers-color-scheme: dark" in html and "max-width: 1000px" in html

    def test_reading_needs_the_read_scope_for_that_course(self):
        self.fill()
        r = self.call(f"courses/{P101}/", "t-alice")
        assert r.code == 403
        assert "custom:adlab:read!group=physics101" in r.body.decode()
        assert self.call(f"courses/{CHEM}/", "t-tess").code == 403
        assert self.call(f"courses/{P101}/export.json", "t-alice").code == 403
        assert self.call(f"courses/{P101}/", None).code == 403
        assert self.call(f"courses/{P101}/", "t-root").code == 200
        r = self.call(f"courses/{P101}", "t-tess")
        assert r.code in (301, 302) and r.headers["Location"].endswith(f"courses/{P101}/")

    def test_the_index_lists_the_courses_one_may_read(self):
        self.fill()
        self.post_attempts("t-bob", [attempt()])
        html = self.call("", "t-tess").body.decode()
        assert f'href="{PREFIX}courses/{P101}/"' in html and "chem" not in html.split("<h1>")[1]
        html = self.call("", "t-root").body.decode()
        assert f"courses/{P101}/" in html and f"courses/{CHEM}/" in html
        html = self.call("", "t-alice").body.decode()
        assert "You may read no course" in html

    def test_exports_hold_the_same_tables(self):
        self.fill()
        data = self.json(self.call(f"courses/{P101}/export.json", "t-tess"))
        assert set(data) >= {"course", "generated", "possible", "learners", "exercises",
                             "misconceptions", "grades"}
        learners = {r["user"]: r for r in data["learners"]}
        assert learners["carol"]["points"] == 0 and learners["carol"]["attempts"] == 2
        (mistake,) = data["misconceptions"]
        assert (mistake["code"], mistake["learners"], mistake["attempts"]) == \
            ("sine-derivative-sign", 2, 3)
        r = self.call(f"courses/{P101}/export.csv", "t-tess")
        assert r.headers["Content-Type"].startswith("text/csv")
        assert "attachment" in r.headers["Content-Disposition"]
        rows = list(csv.DictReader(io.StringIO(r.body.decode())))
        assert {row["user"]: row["points"] for row in rows} == \
            {u: str(v["points"]) for u, v in learners.items()}
        for table in ("exercises", "misconceptions", "grades"):
            r = self.call(f"courses/{P101}/export.csv?table={table}", "t-tess")
            rows = list(csv.DictReader(io.StringIO(r.body.decode())))
            assert len(rows) == len(data[table]), table
        r = self.call(f"courses/{P101}/export.csv?table=secrets", "t-tess")
        assert r.code == 400 and "learners, exercises" in r.body.decode()

    def test_names_are_text_in_html_and_csv(self):
        self.post_attempts("t-evil", [attempt()])
        html = self.call(f"courses/{P101}/", "t-tess").body.decode()
        assert "&lt;b&gt;" in html and "<b>" not in html
        rows = list(csv.reader(io.StringIO(
            self.call(f"courses/{P101}/export.csv", "t-tess").body.decode())))
        assert rows[1][0].startswith("'=HYPERLINK")

    def test_an_empty_course_has_a_dashboard(self):
        r = self.call("courses/newcourse/", "t-root")
        assert r.code == 200 and "No attempts yet" in r.body.decode()
        data = self.json(self.call("courses/newcourse/export.json", "t-root"))
        assert data["learners"] == [] and all(e["facility"] is None for e in data["exercises"])


# -- start-up --------------------------------------------------------------------------

def test_settings_from_the_environment(monkeypatch):
    from course.hub import service

    monkeypatch.delenv(service.SIZE_VARIABLE, raising=False)
    assert service.max_submission_from_env() == 5_000_000
    monkeypatch.setenv(service.SIZE_VARIABLE, "1234")
    assert service.max_submission_from_env() == 1234
    for bad in ("5MB", "0"):
        monkeypatch.setenv(service.SIZE_VARIABLE, bad)
        with pytest.raises(SystemExit, match=service.SIZE_VARIABLE):
            service.max_submission_from_env()
    monkeypatch.delenv(service.SECRET_VARIABLE, raising=False)
    assert len(service.cookie_secret_from_env()) == 32
    monkeypatch.setenv(service.SECRET_VARIABLE, "ab" * 32)
    assert service.cookie_secret_from_env() == b"\xab" * 32
    for bad in ("xyz", "abcd"):
        monkeypatch.setenv(service.SECRET_VARIABLE, bad)
        with pytest.raises(SystemExit, match=service.SECRET_VARIABLE):
            service.cookie_secret_from_env()


def test_outside_a_hub_the_service_says_what_is_missing(monkeypatch):
    from course.hub import service

    monkeypatch.delenv("JUPYTERHUB_SERVICE_URL", raising=False)
    with pytest.raises(SystemExit, match="JupyterHub-managed service"):
        asyncio.run(service.serve())


def test_sqlite_gets_wal_and_a_busy_timeout(tmp_path):
    import sqlalchemy as sa

    db = ClassDB(f"sqlite:///{tmp_path / 'sub' / 'hub.sqlite'}")
    try:
        with db.engine.connect() as con:
            assert con.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
            assert con.execute(sa.text("PRAGMA busy_timeout")).scalar() == 30000
    finally:
        db.close()


def test_the_listen_address_comes_from_the_url_or_the_setting(monkeypatch):
    from course.hub.service import listen_address
    monkeypatch.delenv("ADLAB_HUB_LISTEN", raising=False)
    assert listen_address("http://127.0.0.1:10101/") == ("127.0.0.1", 10101)
    monkeypatch.setenv("ADLAB_HUB_LISTEN", "0.0.0.0:10101")  # a pod: the URL names a Service
    assert listen_address("http://hub:10101") == ("0.0.0.0", 10101)
    monkeypatch.setenv("ADLAB_HUB_LISTEN", "hub")
    with pytest.raises(SystemExit, match="host:port"):
        listen_address("http://hub:10101")
