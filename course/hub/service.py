"""The class service: a JupyterHub-managed service named ``adlab``.

Run by the hub (``python -m course.hub.service``, see the hub's configuration), it keeps
the attempts, submitted notebooks and grades of every course (a course is a hub group)
and serves each course's dashboard. JupyterHub does the identity and the permissions:
every request is identified by :class:`jupyterhub.services.auth.HubOAuth` (an API token
in ``Authorization: token <t>``, or the OAuth cookie in a browser), and what the token
may do is its scopes, which the hub reports with the user model:

- ``custom:adlab:post`` post one's own attempts and submissions;
- ``custom:adlab:read`` the dashboards, exports, attempts and submissions;
- ``custom:adlab:grade`` fetch submissions and post grades;

each either unfiltered (every course) or limited to courses by ``!group=<course>``
filters (``custom:adlab:read!group=physics101``). Whether a scope covers a course is
decided by JupyterHub's own :func:`jupyterhub.services.auth.check_scopes`. Identity is
always the token's: a body that names another user is refused (403).

Routes, under the prefix (``$JUPYTERHUB_SERVICE_PREFIX``, e.g. ``/services/adlab/``):

==============================================  ============  =========================
``POST api/attempts``                           post          store attempts (by uid)
``POST api/submissions``                        post          keep a notebook
``GET  api/courses/<course>/submissions``       grade|read    the latest per learner
``GET  api/submissions/<id>``                   grade|read    one with its content
``POST api/courses/<course>/grades``            grade         keep grades
``GET  api/courses/<course>/attempts``          read          every attempt
``GET  api/health``                             (none)        readiness
``GET  `` (the prefix)                          read          the courses one may read
``GET  courses/<course>/``                      read          the dashboard
``GET  courses/<course>/export.json|.csv``      read          its tables
==============================================  ============  =========================

Environment: what JupyterHub sets for a managed service (``JUPYTERHUB_SERVICE_PREFIX``,
``JUPYTERHUB_SERVICE_URL``, ``JUPYTERHUB_API_TOKEN``, ``JUPYTERHUB_API_URL``,
``JUPYTERHUB_CLIENT_ID``, ...), ``ADLAB_HUB_DB`` (an SQLAlchemy URL, default
``sqlite:///adlab-hub.sqlite`` in the working directory) and
``ADLAB_HUB_MAX_SUBMISSION`` (the largest notebook accepted, in bytes; 5000000);
optionally ``ADLAB_HUB_COOKIE_SECRET`` (hex, for several replicas sharing OAuth cookies)
and ``ADLAB_HUB_LISTEN`` (``host:port`` to listen on, when the service's URL names a
host that cannot be bound, such as a Kubernetes Service).

The hub's configuration must let the OAuth token of a browser carry the custom scopes:
the service's entry needs ``oauth_client_allowed_scopes`` listing them (unfiltered: the
hub intersects them with each user's own, filters included), and users who browse the
dashboard need ``access:services!service=adlab``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import re
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from http.client import responses
from typing import Any, TypeVar
from urllib.parse import urlparse

import nbformat
import sqlalchemy as sa
from jupyterhub.scopes import Scope, parse_scopes
from jupyterhub.services.auth import (
    HubAuth,
    HubOAuth,
    HubOAuthCallbackHandler,
    HubOAuthenticated,
    check_scopes,
)
from jupyterhub.utils import url_path_join
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop

from course.hub import dashboard
from course.hub.db import DEFAULT_URL, ClassDB, now
from course.hub.stats import ExerciseInfo, course_stats

T = TypeVar("T")
log = logging.getLogger("adlab.hub")

SERVICE_NAME = "adlab"
POST, READ, GRADE = "custom:adlab:post", "custom:adlab:read", "custom:adlab:grade"
DB_VARIABLE, SIZE_VARIABLE = "ADLAB_HUB_DB", "ADLAB_HUB_MAX_SUBMISSION"
SECRET_VARIABLE = "ADLAB_HUB_COOKIE_SECRET"
LISTEN_VARIABLE = "ADLAB_HUB_LISTEN"
DEFAULT_MAX_SUBMISSION = 5_000_000
MAX_ATTEMPTS_PER_POST = 5000
MAX_GRADES_PER_POST = 5000

EXERCISE_ID = re.compile(r"\d{2}\.[a-z][a-z0-9_]{0,60}")
NOTEBOOK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
UID = re.compile(r"[A-Za-z0-9_-]{8,64}")
CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,99}")
VERSION = re.compile(r"[\x21-\x7e]{1,64}")


def catalog_exercises() -> list[ExerciseInfo]:
    """The course's exercises, as the statistics need them (from course.catalog)."""
    from course import catalog

    return [ExerciseInfo(e.id, e.title, e.notebook, e.points) for e in catalog.EXERCISES]


# -- scopes ----------------------------------------------------------------------------

def allowed_courses(scopes: list[str], scope: str) -> set[str] | Scope:
    """The courses ``scope`` covers among a token's scopes: ``Scope.ALL`` when it is
    unfiltered, else the names in its ``!group=`` filters (other filters cover none)."""
    parsed = parse_scopes(frozenset(_course_scopes(scopes, scope)))
    filters = parsed.get(scope)
    if filters is None:
        return set()
    if filters == Scope.ALL:
        return Scope.ALL
    return set(filters.get("group", ()))


def may(scopes: list[str], scope: str, course: str) -> bool:
    """Whether the scopes hold ``scope`` for ``course`` (JupyterHub's filter logic)."""
    return bool(check_scopes(f"{scope}!group={course}", _course_scopes(scopes, scope)))


def _course_scopes(scopes: list[str], scope: str) -> set[str]:
    """``scope`` unfiltered or with group filters; ``!user=`` filters name no course."""
    keep = set()
    for s in scopes:
        base, _, filter_ = s.partition("!")
        if base == scope and (not filter_ or filter_.startswith("group=")):
            keep.add(s)
    return keep


def need_text(scope: str, course: str) -> str:
    return f"{scope}!group={course} (or {scope}, for every course)"


# -- handlers --------------------------------------------------------------------------

class BaseHandler(HubOAuthenticated, web.RequestHandler):
    """Identified by the hub (a token, or the OAuth cookie); permissions are checked per
    route from the token's scopes, so any identified user passes authentication here."""

    hub_scopes = None  # every identified user or service; the routes check the scopes

    @property
    def hub_auth(self) -> HubAuth:
        return self.settings["hub_auth"]

    @property
    def prefix(self) -> str:
        return self.settings["prefix"]

    async def prepare(self) -> None:
        # identify without blocking the loop (tornado's get_current_user is synchronous)
        model = await self.hub_auth.get_user(self, sync=False)
        self.current_user = self.check_hub_user(model) if model else None

    @property
    def user(self) -> dict:
        return self.current_user

    @property
    def scopes(self) -> list[str]:
        return list(self.current_user.get("scopes", []))

    def require(self, scopes: tuple[str, ...], course: str) -> None:
        """403 unless one of ``scopes`` covers ``course``."""
        if not any(may(self.scopes, s, course) for s in scopes):
            needs = " or ".join(need_text(s, course) for s in scopes)
            raise web.HTTPError(403, f"{self.user['name']} may not do this in course "
                                     f"{course!r}: it needs the scope {needs}")

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """Database and statistics work, off the event loop."""
        return await IOLoop.current().run_in_executor(self.settings["executor"], work, *args)

    @property
    def db(self) -> ClassDB:
        return self.settings["db"]


class APIHandler(BaseHandler):
    """JSON in and out; no redirects to a login page (a token is expected)."""

    NOT_AUTHENTICATED = ("not authenticated: send a JupyterHub API token in the header "
                         "'Authorization: token <token>'")

    async def prepare(self) -> None:
        await super().prepare()
        if self.current_user is None:
            raise web.HTTPError(403, self.NOT_AUTHENTICATED)

    def get_login_url(self) -> str:
        raise web.HTTPError(403, self.NOT_AUTHENTICATED)

    def write_json(self, value: Any) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(value))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        message = (error.log_message if isinstance(error, web.HTTPError) and error.log_message
                   else responses.get(status_code, "error"))
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"status": status_code, "message": message}))

    def body(self, limit: int) -> dict:
        """The JSON object in the request body (413 above ``limit`` bytes, 400 if not
        JSON or not an object, 403 if it names a user other than the token's)."""
        if len(self.request.body) > limit:
            raise web.HTTPError(413, f"the request is {len(self.request.body)} bytes; the "
                                     f"limit is {limit}")
        try:
            value = json.loads(self.request.body or b"")
        except (ValueError, UnicodeDecodeError) as e:
            raise web.HTTPError(400, f"the body is not JSON: {e}") from None
        if not isinstance(value, dict):
            raise web.HTTPError(400, "the body must be a JSON object")
        self.same_user(value, "body")
        return value

    def same_user(self, value: dict, where: str) -> None:
        if "user" in value and value["user"] != self.user["name"]:
            raise web.HTTPError(403, f"{where}.user is {value['user']!r}, but the token "
                                     f"belongs to {self.user['name']!r}: one may post only "
                                     "as oneself")

    def post_course(self, body: dict) -> str:
        """The course to post into: the body's, else the only one the post scope allows."""
        if body.get("course") is not None:
            course = course_name(body["course"], "course")
            self.require((POST,), course)
            return course
        allowed = allowed_courses(self.scopes, POST)
        if allowed == Scope.ALL:
            groups = sorted(self.user.get("groups") or [])
            if len(groups) == 1:
                return groups[0]
            raise web.HTTPError(400, "name the course ('course' in the body): your token may "
                                     "post to every course, and you are in "
                                     + (f"the hub groups {', '.join(groups)}" if groups
                                        else "no hub group"))
        if not allowed:
            raise web.HTTPError(403, f"{self.user['name']} may not post to any course: that "
                                     f"needs the scope {POST}!group=<course>")
        if len(allowed) > 1:
            raise web.HTTPError(400, "name the course ('course' in the body): your token may "
                                     f"post to {', '.join(sorted(allowed))}")
        return next(iter(allowed))


class HealthHandler(web.RequestHandler):
    """Readiness: the service answers and its database does."""

    async def get(self) -> None:
        def ping() -> None:
            with self.settings["db"].session() as session:
                session.execute(sa.text("SELECT 1"))
        try:
            await IOLoop.current().run_in_executor(self.settings["executor"], ping)
        except Exception as e:  # any database failure: not ready
            self.set_status(503)
            self.finish({"ok": False, "message": f"the database does not answer: {e}"})
            return
        self.finish({"ok": True})


class AttemptsHandler(APIHandler):
    @web.authenticated
    async def post(self) -> None:
        body = self.body(limit=10_000_000)
        course = self.post_course(body)
        attempts = body.get("attempts")
        if not isinstance(attempts, list):
            raise web.HTTPError(400, "attempts: must be a list of attempts")
        if len(attempts) > MAX_ATTEMPTS_PER_POST:
            raise web.HTTPError(413, f"attempts: {len(attempts)} in one request; send at "
                                     f"most {MAX_ATTEMPTS_PER_POST} at a time")
        rows = []
        for i, attempt in enumerate(attempts):
            if not isinstance(attempt, dict):
                raise web.HTTPError(400, f"attempts[{i}]: must be an object")
            self.same_user(attempt, f"attempts[{i}]")
            rows.append(validate_attempt(attempt, f"attempts[{i}]"))
        stored, known = await self.run(self.db.add_attempts, self.user["name"], course, rows)
        self.write_json({"stored": stored, "known": known})


class SubmissionsHandler(APIHandler):
    @web.authenticated
    async def post(self) -> None:
        limit = self.settings["max_submission"]
        # the notebook travels as a JSON string: escaping may double its size
        body = self.body(limit=2 * limit + 65536)
        content = body.get("content")
        if not isinstance(content, str):
            raise web.HTTPError(400, "content: must be the notebook's JSON text (a string)")
        size = len(content.encode("utf-8"))
        if size > limit:
            raise web.HTTPError(413, f"content: the notebook is {size} bytes; the limit is "
                                     f"{limit} ({SIZE_VARIABLE}); clear large outputs "
                                     "(Edit > Clear Outputs of All Cells) and submit again")
        course = self.post_course(body)
        notebook = notebook_name(body.get("notebook"), "notebook")
        check_notebook(content)
        submission, received = await self.run(self.db.add_submission, self.user["name"],
                                              course, notebook, content)
        self.write_json({"id": submission, "received": received})


class CourseSubmissionsHandler(APIHandler):
    @web.authenticated
    async def get(self, course: str) -> None:
        course = course_name(course, "course")
        self.require((GRADE, READ), course)
        notebook = self.get_query_argument("notebook", None)
        if notebook is not None:
            notebook = notebook_name(notebook, "notebook")
        self.write_json(await self.run(self.db.latest_submissions, course, notebook))


class SubmissionHandler(APIHandler):
    @web.authenticated
    async def get(self, submission_id: str) -> None:
        found = await self.run(self.db.submission, int(submission_id))
        if found is None:
            raise web.HTTPError(404, f"no submission {submission_id}")
        self.require((GRADE, READ), found["course"])
        self.write_json(found)


class GradesHandler(APIHandler):
    @web.authenticated
    async def post(self, course: str) -> None:
        course = course_name(course, "course")
        self.require((GRADE,), course)
        body = self.body(limit=10_000_000)
        notebook = notebook_name(body.get("notebook"), "notebook")
        grades = body.get("grades")
        if not isinstance(grades, list):
            raise web.HTTPError(400, "grades: must be a list of grades")
        if len(grades) > MAX_GRADES_PER_POST:
            raise web.HTTPError(413, f"grades: {len(grades)} in one request; send at most "
                                     f"{MAX_GRADES_PER_POST} at a time")
        rows = [validate_grade(g, f"grades[{i}]") for i, g in enumerate(grades)]
        await self.run(self._check_submissions, course, notebook, rows)
        stored = await self.run(self.db.add_grades, course, notebook, rows, self.user["name"])
        self.write_json({"stored": stored})

    def _check_submissions(self, course: str, notebook: str, rows: list[dict]) -> None:
        for i, row in enumerate(rows):
            if row["submission"] is None:
                continue
            found = self.db.submission(row["submission"])
            if found is None or (found["course"], found["user"], found["notebook"]) != \
                    (course, row["user"], notebook):
                raise web.HTTPError(400, f"grades[{i}].submission: {row['submission']} is "
                                         f"not a submission of {notebook} by {row['user']!r} "
                                         f"in course {course!r}")


class CourseAttemptsHandler(APIHandler):
    @web.authenticated
    async def get(self, course: str) -> None:
        course = course_name(course, "course")
        self.require((READ,), course)
        attempts = await self.run(self.db.attempts, course)
        self.write_json([{"user": a.user, "uid": a.uid, "exercise": a.exercise,
                          "notebook": a.notebook, "passed": a.passed, "score": a.score,
                          "time": a.time, "received": a.received, "version": a.version,
                          "misconception": a.misconception} for a in attempts])


class PageHandler(BaseHandler):
    """HTML for a browser (the OAuth cookie) or a token; errors as a clear page."""

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        message = (error.log_message if isinstance(error, web.HTTPError) and error.log_message
                   else "Something went wrong; the service's log says more.")
        user = (getattr(self, "_current_user", None) or {}).get("name", "")
        self.finish(dashboard.error_page(status_code, responses.get(status_code, "Error"),
                                         message, self.prefix, user))

    async def course_data(self, course: str):
        course = course_name(course, "course")
        self.require((READ,), course)

        def gather():
            stats = course_stats(self.db.attempts(course), self.settings["exercises"])
            return stats, self.db.latest_grades(course)
        stats, grades = await self.run(gather)
        return course, stats, grades


class IndexHandler(PageHandler):
    @web.authenticated
    async def get(self) -> None:
        allowed = allowed_courses(self.scopes, READ)
        if allowed == Scope.ALL:
            known = await self.run(self.db.courses)
            courses = sorted(set(known) | set(self.user.get("groups") or []))
        else:
            courses = sorted(allowed)
        self.finish(dashboard.index_page(courses, self.prefix, self.user["name"]))


class CourseHandler(PageHandler):
    @web.authenticated
    async def get(self, course: str) -> None:
        course, stats, grades = await self.course_data(course)
        self.finish(dashboard.course_page(course, stats, grades, now(), self.prefix,
                                          self.user["name"]))


class ExportHandler(PageHandler):
    @web.authenticated
    async def get(self, course: str, kind: str) -> None:
        table = self.get_query_argument("table", "learners")
        if kind == "csv" and table not in dashboard.TABLES:
            raise web.HTTPError(400, f"table: {table!r} is not one of "
                                     f"{', '.join(dashboard.TABLES)}")
        course, stats, grades = await self.course_data(course)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d")
        if kind == "json":
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.finish(dashboard.export_json(course, stats, grades, now()))
            return
        filename = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{course}-{table}-{stamp}.csv")
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="{filename}"')
        self.finish(dashboard.export_csv(table, stats, grades))


class OAuthCallbackHandler(HubOAuthCallbackHandler):
    """JupyterHub's OAuth callback, with the service's HubOAuth instance."""

    @property
    def hub_auth(self) -> HubAuth:
        return self.settings["hub_auth"]


# -- validation ------------------------------------------------------------------------

def course_name(value: Any, field: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 255 or not value.strip() \
            or any(ord(c) < 32 or c in "/\x7f" for c in value):
        raise web.HTTPError(400, f"{field}: must be a hub group's name (1 to 255 "
                                 f"characters, no '/'), not {_show(value)}")
    return value


def notebook_name(value: Any, field: str) -> str:
    if not isinstance(value, str) or not NOTEBOOK.fullmatch(value) or \
            value.endswith(".ipynb"):
        raise web.HTTPError(400, f"{field}: must be a notebook's stem such as "
                                 f"'03_forward_mode' (no .ipynb), not {_show(value)}")
    return value


def validate_attempt(a: dict, where: str) -> dict:
    """The columns of one attempt, checked; HTTPError 400 naming the first bad field."""
    def bad(field: str, what: str) -> web.HTTPError:
        return web.HTTPError(400, f"{where}.{field}: must be {what}, not "
                                  f"{_show(a.get(field))}")

    missing = [f for f in ("uid", "exercise", "passed", "score", "time", "version")
               if f not in a]
    if missing:
        raise web.HTTPError(400, f"{where}: missing {', '.join(missing)}")
    if not isinstance(a["uid"], str) or not UID.fullmatch(a["uid"]):
        raise bad("uid", "8 to 64 letters, digits, '-' or '_' (a hex id)")
    if not isinstance(a["exercise"], str) or not EXERCISE_ID.fullmatch(a["exercise"]):
        raise bad("exercise", "an exercise id such as '03.sin_tangent'")
    notebook = a.get("notebook", "")
    if notebook != "" and (not isinstance(notebook, str) or not NOTEBOOK.fullmatch(notebook)):
        raise bad("notebook", "a notebook's stem such as '03_forward_mode' or ''")
    if not isinstance(a["passed"], bool):
        raise bad("passed", "true or false")
    score = a["score"]
    if isinstance(score, bool) or not isinstance(score, (int, float)) \
            or not math.isfinite(score) or not 0 <= score <= 1000:
        raise bad("score", "a number from 0 to 1000")
    if not isinstance(a["time"], str) or len(a["time"]) > 40:
        raise bad("time", "an ISO 8601 time with its time zone")
    try:
        when = datetime.fromisoformat(a["time"])
    except ValueError:
        raise bad("time", "an ISO 8601 time with its time zone") from None
    if when.tzinfo is None:
        raise bad("time", "an ISO 8601 time with its time zone (e.g. +00:00)")
    if not isinstance(a["version"], str) or not VERSION.fullmatch(a["version"]):
        raise bad("version", "a version string (1 to 64 printable characters)")
    misconception = a.get("misconception", "")
    if misconception != "" and (not isinstance(misconception, str)
                                or not CODE.fullmatch(misconception)):
        raise bad("misconception", "a mistake's code such as 'sine-derivative-sign' or ''")
    return {"uid": a["uid"], "exercise": a["exercise"], "notebook": notebook,
            "passed": a["passed"], "score": float(score),
            "time": when.astimezone(timezone.utc).isoformat(),
            "version": a["version"], "misconception": misconception}


def validate_grade(g: Any, where: str) -> dict:
    if not isinstance(g, dict):
        raise web.HTTPError(400, f"{where}: must be an object")

    def number(field: str) -> float:
        x = g.get(field)
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) \
                or x < 0:
            raise web.HTTPError(400, f"{where}.{field}: must be a number >= 0, not "
                                     f"{_show(x)}")
        return float(x)

    user = g.get("user")
    if not isinstance(user, str) or not 1 <= len(user) <= 255 \
            or any(ord(c) < 32 or c == "\x7f" for c in user):  # PostgreSQL refuses NUL
        raise web.HTTPError(400, f"{where}.user: must be a hub user's name, not {_show(user)}")
    score, possible = number("score"), number("possible")
    if possible == 0:
        raise web.HTTPError(400, f"{where}.possible: must be more than 0")
    if score > possible:
        raise web.HTTPError(400, f"{where}.score: {score:g} is more than possible "
                                 f"({possible:g})")
    submission = g.get("submission")
    if submission is not None and (isinstance(submission, bool)
                                   or not isinstance(submission, int)):
        raise web.HTTPError(400, f"{where}.submission: must be a submission id or null, "
                                 f"not {_show(submission)}")
    return {"user": user, "score": score, "possible": possible, "submission": submission}


def check_notebook(content: str) -> None:
    """400 unless ``content`` is a notebook nbformat reads and validates."""
    try:
        notebook = nbformat.reads(content, as_version=nbformat.NO_CONVERT)
        nbformat.validate(notebook)
    except Exception as e:  # nbformat raises JSON, reader and validation errors alike
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise web.HTTPError(400, f"content: not a Jupyter notebook ({first[:300]})") from None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# -- the application -------------------------------------------------------------------

def make_app(db: ClassDB, hub_auth: HubAuth, prefix: str = "/services/adlab/",
             max_submission: int = DEFAULT_MAX_SUBMISSION,
             exercises: list[ExerciseInfo] | None = None,
             cookie_secret: bytes | None = None) -> web.Application:
    """The tornado application: the routes above under ``prefix``."""
    if not prefix.endswith("/"):
        prefix += "/"

    def at(path: str) -> str:
        return url_path_join(prefix, path)

    course = r"([^/]+)"
    routes = [
        (prefix, IndexHandler),
        (prefix.rstrip("/"), web.RedirectHandler, {"url": prefix}),
        (at("oauth_callback"), OAuthCallbackHandler),
        (at("api/health"), HealthHandler),
        (at("api/attempts"), AttemptsHandler),
        (at("api/submissions"), SubmissionsHandler),
        (at(r"api/submissions/(\d{1,18})"), SubmissionHandler),
        (at(f"api/courses/{course}/submissions"), CourseSubmissionsHandler),
        (at(f"api/courses/{course}/grades"), GradesHandler),
        (at(f"api/courses/{course}/attempts"), CourseAttemptsHandler),
        (at(f"courses/{course}/"), CourseHandler),
        (at(f"courses/{course}"), web.RedirectHandler, {"url": at("courses/{0}/")}),
        (at(f"courses/{course}/export\\.(json|csv)"), ExportHandler),
    ]
    return web.Application(
        routes, db=db, hub_auth=hub_auth, prefix=prefix, max_submission=max_submission,
        exercises=exercises if exercises is not None else catalog_exercises(),
        executor=ThreadPoolExecutor(max_workers=4, thread_name_prefix="adlab-db"),
        cookie_secret=cookie_secret or os.urandom(32))


def max_submission_from_env() -> int:
    text = os.environ.get(SIZE_VARIABLE, "").strip()
    if not text:
        return DEFAULT_MAX_SUBMISSION
    try:
        value = int(text)
    except ValueError:
        raise SystemExit(f"{SIZE_VARIABLE} is {text!r}; it must be a number of bytes, "
                         f"e.g. {DEFAULT_MAX_SUBMISSION}") from None
    if value <= 0:
        raise SystemExit(f"{SIZE_VARIABLE} is {value}; it must be more than 0")
    return value


def cookie_secret_from_env() -> bytes:
    """``$ADLAB_HUB_COOKIE_SECRET`` (hex), for several replicas behind one URL; else a
    fresh random secret (a restart then sends browsers through OAuth again, silently)."""
    text = os.environ.get(SECRET_VARIABLE, "").strip()
    if not text:
        return os.urandom(32)
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        raise SystemExit(f"{SECRET_VARIABLE} must be hexadecimal (e.g. the output of "
                         "`openssl rand -hex 32`)") from None
    if len(secret) < 32:
        raise SystemExit(f"{SECRET_VARIABLE} is {len(secret)} bytes; use at least 32")
    return secret


def listen_address(url: str) -> tuple[str, int]:
    """Where to listen: ``$ADLAB_HUB_LISTEN`` (``host:port``, e.g. ``0.0.0.0:10101`` in a
    Kubernetes pod whose service URL names the hub's Service, which cannot be bound),
    else the host and port of the service's URL."""
    listen = os.environ.get(LISTEN_VARIABLE, "").strip()
    if listen:
        host, _, port = listen.rpartition(":")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise SystemExit(f"{LISTEN_VARIABLE} is {listen!r}; give host:port, e.g. "
                             "0.0.0.0:10101")
        return host.strip("[]"), int(port)
    where = urlparse(url)
    return where.hostname or "", where.port or 80


async def serve() -> None:
    """Run as JupyterHub's managed service until SIGTERM or SIGINT."""
    url = os.environ.get("JUPYTERHUB_SERVICE_URL")
    if not url:
        raise SystemExit("JUPYTERHUB_SERVICE_URL is not set: the adlab class service runs "
                         "as a JupyterHub-managed service (see the hub's configuration), "
                         "which sets it")
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", f"/services/{SERVICE_NAME}/")
    max_submission = max_submission_from_env()
    secret = cookie_secret_from_env()
    db_url = os.environ.get(DB_VARIABLE) or DEFAULT_URL
    db = ClassDB(db_url)
    app = make_app(db, HubOAuth.instance(), prefix, max_submission, cookie_secret=secret)
    host, port = listen_address(url)
    server = HTTPServer(app, xheaders=True, max_body_size=2 * max_submission + 1_000_000)
    server.listen(port, host)
    log.info("adlab class service at %s%s, database %s", url.rstrip("/"), prefix,
             sa.engine.make_url(db_url).render_as_string(hide_password=True))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.stop()
    await server.close_all_connections()
    app.settings["executor"].shutdown(wait=True)
    db.close()


def main() -> None:
    logging.basicConfig(level=logging.INFO,
                        format="[%(levelname)1.1s %(asctime)s %(name)s] %(message)s")
    asyncio.run(serve())


if __name__ == "__main__":
    main()
