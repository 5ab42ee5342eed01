"""The learner's and the teacher's side of the class service ``adlab`` on JupyterHub.

On a hub, JupyterHub starts each learner's server with its own API token
(``$JUPYTERHUB_API_TOKEN``, scoped by ``Spawner.server_token_scopes`` in the hub's
configuration: see ``deploy/jupyterhub_config.py``), and the hub's configuration adds
``$ADLAB_SERVICE_URL`` (where the service answers, e.g.
``https://hub.example.org/services/adlab/``) and ``$ADLAB_COURSE`` (the course: a hub
group) to the server's environment. With these:

* :func:`send_attempts` is what ``check()`` calls after recording an attempt in the
  learner's own store: every attempt not yet sent goes to the service in one post,
  idempotent on its ``uid``. It never raises and waits at most :data:`WAIT` seconds in
  all; what did not arrive stays marked unsent in the store and goes with the next
  check, and one short note says so. Outside a hub it does nothing.
* :func:`submit_notebook` posts a notebook (``course submit 03``, ``submit()``) and
  returns the server's receipt (id and time stamp).
* :func:`collect` fetches the latest submission of each learner of a course into
  ``DIR/<learner>/<notebook>.ipynb`` (what ``course grade`` reads), and
  :func:`post_grades` posts the grades of ``course grade``'s CSV file back.

Identity is the token's: the service asks the hub whose token it is, so nobody can post
as someone else. Access is the hub's roles and custom scopes (:data:`SCOPES`). Only the
standard library is used (urllib), so a learner's kernel needs nothing more.
"""

from __future__ import annotations

import csv
import json
import os
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

SERVICE = "adlab"
#: the hub's custom scopes of the service: learners post, teachers read, the grader grades
SCOPES = {
    "post": "custom:adlab:post",
    "read": "custom:adlab:read",
    "grade": "custom:adlab:grade",
}
SERVICE_URL_VARIABLE = "ADLAB_SERVICE_URL"
COURSE_VARIABLE = "ADLAB_COURSE"
WAIT = 2.0          # seconds check() may spend on the service, in all
TIMEOUT = 30.0      # seconds for the command line's requests (submit, collect, grades)
MAX_BATCH = 1000    # attempts in one post; more wait for the next check
MANIFEST = "adlab-collected.json"  # written by collect() beside the learners' folders


class HubError(Exception):
    """A request to the class service that did not work; the message says what to do.

    ``status`` is the HTTP status (``None`` when the service did not answer).
    """

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


# ---------------------------------------------------------------------------------
# Where the service is, and who is asking
# ---------------------------------------------------------------------------------

def under_hub(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process runs in a JupyterHub single-user server (or its terminal)."""
    env = os.environ if environ is None else environ
    return bool(env.get("JUPYTERHUB_API_TOKEN") and env.get("JUPYTERHUB_API_URL"))


def service_url(environ: Mapping[str, str] | None = None, hub_url: str | None = None
                ) -> str | None:
    """The service's URL, ending in ``/``: ``hub_url`` + ``services/adlab/`` when given,
    else ``$ADLAB_SERVICE_URL``, else the hub's public URL (``$JUPYTERHUB_PUBLIC_URL``,
    set when the hub's ``public_url`` is) + ``services/adlab/``; ``None`` if unknown.

    The hub's API URL is no help: services are reached through the hub's proxy, and the
    API URL is the hub's own address behind it.
    """
    env = os.environ if environ is None else environ
    if hub_url:
        return _join(hub_url, f"services/{SERVICE}/")
    if env.get(SERVICE_URL_VARIABLE):
        url = env[SERVICE_URL_VARIABLE]
        return url if url.endswith("/") else url + "/"
    public = env.get("JUPYTERHUB_PUBLIC_URL")
    if public:
        return _join(public, env.get("JUPYTERHUB_BASE_URL", "/"), f"services/{SERVICE}/")
    return None


def _join(base: str, *parts: str) -> str:
    url = base.rstrip("/")
    for part in parts:
        part = part.strip("/")
        if part:
            url += "/" + part
    return url + "/"


@dataclass(frozen=True)
class Connection:
    """The service's URL and a hub token: everything a request needs."""

    url: str                  # ends with /
    token: str
    course: str | None = None  # None: the service chooses (the learner's one course)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, *,
                         token_file: Path | None = None, hub_url: str | None = None,
                         course: str | None = None) -> Connection:
        """The connection a learner's or a teacher's server has; HubError if none.

        The token is ``token_file``'s content when given (e.g. a token made on the hub's
        token page with the teacher's or the grader's scopes), else
        ``$JUPYTERHUB_API_TOKEN``, the token the hub gave this server.
        """
        env = os.environ if environ is None else environ
        url = service_url(env, hub_url)
        if url is None:
            if under_hub(env):
                raise HubError(
                    f"this hub does not say where the class service is: ask the "
                    f"hub's admin to set {SERVICE_URL_VARIABLE} in the spawner's environment "
                    "(deploy/jupyterhub_config.py does), or give --hub-url")
            raise HubError(
                f"not on a JupyterHub (no $JUPYTERHUB_API_TOKEN, no "
                f"${SERVICE_URL_VARIABLE}): run this in a terminal of your hub server, or give "
                "--hub-url and --token-file")
        if token_file is not None:
            try:
                token = Path(token_file).read_text(encoding="utf-8").strip()
            except OSError as e:
                raise HubError(f"cannot read the token file {token_file} "
                               f"({e.strerror or e})") from None
            if not token:
                raise HubError(f"the token file {token_file} is empty")
        else:
            token = env.get("JUPYTERHUB_API_TOKEN", "").strip()
            if not token:
                raise HubError(
                    "no hub token: $JUPYTERHUB_API_TOKEN is not set (it is, in a "
                    "terminal or notebook of your hub server); give --token-file FILE with a "
                    "token made on the hub's token page")
        return cls(url, token, course or env.get(COURSE_VARIABLE) or None)

    def request(self, method: str, path: str, body: Any = None, *,
                timeout: float = TIMEOUT, what: str = "the request") -> Any:
        """``method`` ``url + path`` with the token; the decoded JSON answer (or text).

        Raises HubError with a message for people: refused (403), not found (404), too
        large (413), the service down or not answering (``status`` None, 502, 503).
        """
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"token {self.token}",
            "Accept": "application/json",
            **({"Content-Type": "application/json"} if data is not None else {}),
        })
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                text = response.read().decode("utf-8")
                kind = response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            raise HubError(self._refusal(e, what), e.code) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            if isinstance(reason, TimeoutError) or "timed out" in str(reason):
                why = f"it did not answer within {timeout:g} s"
            else:
                why = f"{reason}"
            raise HubError(f"the class service at {self.url} is not reachable ({why})") \
                from None
        if "json" in kind or text[:1] in "[{":
            try:
                return json.loads(text)
            except ValueError:
                raise HubError(f"the class service at {self.url} sent an answer that is not "
                               f"JSON for {what}") from None
        return text

    def _refusal(self, e: urllib.error.HTTPError, what: str) -> str:
        try:
            detail = json.loads(e.read().decode("utf-8", "replace")).get("message") or ""
        except Exception:
            detail = ""
        detail = f" ({detail})" if detail and detail != e.reason else ""
        if e.code in (502, 503, 504):
            return (f"the class service at {self.url} is down (HTTP {e.code} from the hub's "
                    "proxy): try again in a minute; if it stays down, tell the hub's admin")
        if e.code == 401:
            return (f"the hub did not accept the token for {what} (HTTP 401){detail}: it "
                    "may have expired; make a new one on the hub's token page")
        if e.code == 404 and not detail:
            return (f"nothing at {e.url} (HTTP 404): is {self.url} the class service's "
                    "URL?")
        return f"{what} was refused: HTTP {e.code} {e.reason}{detail}"


def _course_label(course: str | None) -> str:
    return f"course {course}" if course else "your course"


def _refused(e: HubError, scope: str, course: str | None, who: str) -> HubError:
    """A 403 told as the scope that is missing and whom to ask."""
    if e.status != 403:
        return e
    filtered = f"{SCOPES[scope]}!group={course}" if course else SCOPES[scope]
    return HubError(f"your token lacks {SCOPES[scope]} for {_course_label(course)}: ask "
                    f"{who} for a role with {filtered} (then restart your server, or make a "
                    "new token on the hub's token page)", 403)


# ---------------------------------------------------------------------------------
# Attempts: what check() sends
# ---------------------------------------------------------------------------------

_sending = threading.Lock()  # one post at a time; a check during a slow post skips


def send_attempts(store: Any = None, environ: Mapping[str, str] | None = None,
                  wait: float = WAIT) -> list[str]:
    """Send every attempt of the store not yet sent; return notes (at most one).

    Outside a hub, or where the hub does not name the service, nothing happens. The post
    runs in a thread that the caller waits for at most ``wait`` seconds; one that
    finishes later still marks its attempts as sent. What was not received stays unsent
    and goes with the next call. Never raises.
    """
    try:
        env = os.environ if environ is None else environ
        if not under_hub(env) or service_url(env) is None:
            return []
        connection = Connection.from_environment(env)
        if store is None:
            from course.store import ProgressStore

            store = ProgressStore()
        pending = store.attempts(unsent=True)
        if not pending:
            return []
        if not _sending.acquire(blocking=False):
            return [_waiting(len(pending), "an earlier post is still on its way")]
        outcome: dict[str, Any] = {}
        worker = threading.Thread(target=_post_attempts, daemon=True,
                                  args=(connection, store, pending[:MAX_BATCH], wait, outcome))
        try:
            worker.start()
        except BaseException:
            _sending.release()
            raise
        worker.join(wait)
        if worker.is_alive():
            return [_waiting(len(pending), f"the class service did not answer within "
                                           f"{wait:g} s")]
        if "error" in outcome:
            return [_waiting(len(pending), outcome["error"])]
        left = len(pending) - outcome.get("sent", 0)
        return [_waiting(left, "more than one post's worth")] if left > 0 else []
    except Exception as e:  # the learner's check must never fail because of the class
        return [f"not sent to the class yet ({type(e).__name__}: {e}); it goes with your "
                "next check"]


def _waiting(n: int, why: str) -> str:
    what = "this attempt is" if n == 1 else f"{n} attempts are"
    return (f"{what} saved here but not yet sent to the class ({why}); sent with your next "
            "check")


def _post_attempts(connection: Connection, store: Any, pending: list, wait: float,
                   outcome: dict[str, Any]) -> None:
    try:
        body: dict[str, Any] = {"attempts": [attempt_json(a) for a in pending]}
        if connection.course:
            body["course"] = connection.course
        try:
            connection.request("POST", "api/attempts", body, timeout=wait,
                               what="posting attempts")
        except HubError as e:
            e = _refused(e, "post", connection.course, "your teacher")
            outcome["error"] = str(e)
            return
        store.mark_sent([a.uid for a in pending])
        outcome["sent"] = len(pending)
    except Exception as e:
        outcome["error"] = f"{type(e).__name__}: {e}"
    finally:
        _sending.release()


def attempt_json(attempt: Any) -> dict[str, Any]:
    """An attempt of the progress store as the service's API takes it."""
    return {"uid": attempt.uid, "exercise": attempt.exercise, "notebook": attempt.notebook,
            "passed": bool(attempt.passed), "score": float(attempt.score),
            "time": attempt.time, "version": attempt.version,
            "misconception": attempt.misconception}


# ---------------------------------------------------------------------------------
# Submissions
# ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Receipt:
    """What the service says about a submission it stored."""

    notebook: str   # the stem, e.g. 03_forward_mode
    id: Any         # the submission's id on the service
    received: str   # the server's time stamp (ISO 8601, UTC)
    saved: str      # when the file submitted was last saved (local time, to the second)

    def __str__(self) -> str:
        return (f"submitted {self.notebook}.ipynb (as saved at {self.saved}); received by "
                f"the class service at {self.received}, submission {self.id}")

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython shows the sentence
        p.text(str(self))


def notebooks() -> list[str]:
    """The stems of the course's notebooks that have graded exercises."""
    from course import catalog

    return sorted(catalog.by_notebook())


def notebook_stem(spec: str) -> str:
    """``03``, ``03_forward_mode`` or ``03_forward_mode.ipynb`` as the notebook's stem;
    HubError naming the known ones otherwise."""
    known = notebooks()
    name = Path(str(spec)).name
    name = name[:-len(".ipynb")] if name.endswith(".ipynb") else name
    matches = [s for s in known if s == name or s.split("_")[0] == name]
    if len(matches) != 1:
        raise HubError(f"unknown notebook {spec!r}: the graded notebooks are "
                       f"{', '.join(known)} (give the number, e.g. 03, or the name)")
    return matches[0]


def find_notebook(spec: str, folder: Path | None = None) -> Path:
    """The learner's file of a course notebook: ``notebooks/<stem>.ipynb`` or
    ``<stem>.ipynb`` in ``folder`` (default: the working folder)."""
    stem = notebook_stem(spec)
    folder = Path.cwd() if folder is None else Path(folder)
    places = [folder / "notebooks" / f"{stem}.ipynb", folder / f"{stem}.ipynb"]
    for place in places:
        if place.is_file():
            return place
    raise HubError(f"no {stem}.ipynb to submit: looked for {places[0]} and {places[1]}; "
                   "run this in your working folder, or give the folder with --dir")


def submit_notebook(path: Path, connection: Connection, stem: str | None = None) -> Receipt:
    """Post the notebook file at ``path`` as the token's owner's submission."""
    path = Path(path)
    stem = stem or notebook_stem(path.stem)
    try:
        content = path.read_text(encoding="utf-8")
        saved = datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M:%S")
    except (OSError, UnicodeDecodeError) as e:
        raise HubError(f"cannot read {path} ({e})") from None
    try:
        if not isinstance(json.loads(content).get("cells"), list):
            raise ValueError
    except (ValueError, AttributeError):
        raise HubError(f"{path} is not a notebook (no JSON with cells): open it in "
                       "JupyterLab, save it, and submit again") from None
    body: dict[str, Any] = {"notebook": stem, "content": content}
    if connection.course:
        body["course"] = connection.course
    try:
        answer = connection.request("POST", "api/submissions", body, what="the submission")
    except HubError as e:
        if e.status == 413:
            raise HubError(
                f"{path.name} is {len(content.encode()) / 1e6:.1f} MB, more than the class "
                "service takes: clear the outputs (Edit > Clear Outputs of All Cells), save "
                "and submit again", 413) from None
        if e.status == 400 and "name the course" in str(e):
            raise HubError(f"{e}: give the course (course submit --course C, or "
                           "submit(course='C') in a notebook)", 400) from None
        raise _refused(e, "post", connection.course, "your teacher") from None
    if not isinstance(answer, dict) or "id" not in answer:
        raise HubError(f"the class service sent an unexpected answer: {answer!r}")
    return Receipt(stem, answer["id"], str(answer.get("received", "")), saved)


def current_notebook(namespace: Mapping[str, Any] | None = None,
                     environ: Mapping[str, str] | None = None) -> Path:
    """The notebook this kernel belongs to, as JupyterLab tells the kernel: ipykernel's
    ``__session__`` (from ``$JPY_SESSION_NAME``, which jupyter_server sets)."""
    env = os.environ if environ is None else environ
    session = (namespace or {}).get("__session__") or env.get("JPY_SESSION_NAME") or ""
    if not session:
        raise HubError("this kernel does not know its notebook (no __session__): give the "
                       "notebook, e.g. submit('03')")
    path = Path(session)
    if not path.is_absolute() and not path.is_file():
        path = Path.cwd() / path.name  # the kernel runs in the notebook's folder
    if path.suffix != ".ipynb" or not path.is_file():
        raise HubError(f"this kernel's notebook {session} is not a saved .ipynb file: save "
                       "it, or give the notebook, e.g. submit('03')")
    return path


# ---------------------------------------------------------------------------------
# The teacher's side: collect submissions, post grades
# ---------------------------------------------------------------------------------

_SAFE_NAME = re.compile(r"^[^/\\\x00]+$")


def _folder_name(user: str) -> str:
    """A learner's hub name as a folder name, refused if it could leave ``DIR``."""
    if not _SAFE_NAME.match(user) or user in (".", "..") or user.startswith("."):
        raise HubError(f"the class service sent a learner name that cannot be a folder "
                       f"name: {user!r}")
    return user


def collect(connection: Connection, course: str, stem: str, out: Path) -> list[Path]:
    """Fetch the latest submission of each learner of ``course`` to ``stem`` into
    ``out/<learner>/<stem>.ipynb``; record their ids in ``out/adlab-collected.json``
    (which :func:`post_grades` reads). Return the files written."""
    quoted = urllib.parse.quote(course, safe="")
    try:
        listing = connection.request(
            "GET", f"api/courses/{quoted}/submissions?"
                   + urllib.parse.urlencode({"notebook": stem}),
            what=f"listing the submissions of {course}")
    except HubError as e:
        raise _refused(e, "read", course, "the hub's admin") from None
    if not isinstance(listing, list):
        raise HubError(f"the class service sent an unexpected listing: {listing!r}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written, ids = [], {}
    for item in listing:
        user = _folder_name(str(item["user"]))
        try:
            sub = connection.request("GET", f"api/submissions/{item['id']}",
                                     what=f"{user}'s submission")
        except HubError as e:
            raise _refused(e, "read", course, "the hub's admin") from None
        folder = out / user
        folder.mkdir(exist_ok=True)
        target = folder / f"{stem}.ipynb"
        tmp = folder / f".{stem}.ipynb.part"
        tmp.write_text(sub["content"], encoding="utf-8")
        os.replace(tmp, target)
        written.append(target)
        ids[user] = {"id": item["id"], "received": item.get("received", "")}
    manifest = out / MANIFEST
    try:
        record = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = {}
    if record.get("course") != course:
        record = {"course": course, "notebooks": {}}
    record["notebooks"][stem] = ids
    manifest.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return written


def _submission_ids(submission: str, course: str) -> dict[str, dict]:
    """The ids :func:`collect` recorded for the folder a graded file came from."""
    for folder in Path(submission).resolve().parents:
        manifest = folder / MANIFEST
        if manifest.is_file():
            try:
                record = json.loads(manifest.read_text(encoding="utf-8"))
            except ValueError:
                return {}
            return record.get("notebooks", {}) if record.get("course") == course else {}
    return {}


def post_grades(connection: Connection, course: str, grades_csv: Path) -> dict[str, int]:
    """Post the grades of ``course grade``'s CSV file; return how many per notebook.

    Each row of a course notebook becomes ``{"user", "score", "possible",
    "submission"}`` (the submission's id on the service when the file was fetched by
    :func:`collect`, else null). Rows without a course notebook are not posted.
    """
    try:
        with open(grades_csv, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise HubError(f"cannot read {grades_csv} ({e})") from None
    if rows and not {"learner", "submission", "notebook", "total", "possible"} <= set(rows[0]):
        raise HubError(f"{grades_csv} is not a grades file of course grade")
    by_notebook: dict[str, list[dict]] = {}
    for row in rows:
        stem = row["notebook"]
        if not stem:
            continue
        ids = _submission_ids(row["submission"], course).get(stem, {})
        learner = row["learner"].lstrip("'")  # course grade escapes formula-like cells
        by_notebook.setdefault(stem, []).append({
            "user": learner, "score": float(row["total"] or 0),
            "possible": float(row["possible"] or 0),
            "submission": ids.get(learner, {}).get("id")})
    quoted = urllib.parse.quote(course, safe="")
    for stem, grades in by_notebook.items():
        try:
            connection.request("POST", f"api/courses/{quoted}/grades",
                               {"notebook": stem, "grades": grades},
                               what=f"posting the grades of {stem}")
        except HubError as e:
            raise _refused(e, "grade", course, "the hub's admin") from None
    return {stem: len(grades) for stem, grades in by_notebook.items()}
