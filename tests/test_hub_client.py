"""The class service's client (course/hub/client.py) against a small fake of its routes.

The fake answers the routes of the service's contract from a thread of this process,
with tokens that name their user and scopes as the hub would; it can refuse, hang or be
closed. These tests need no hub: tests/test_hub_class.py runs the same client against a
real JupyterHub and the real service.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from course import catalog, check, cli
from course.hub import client
from course.store import ProgressStore

NB03 = "03_forward_mode"
PREFIX = "/services/adlab/"
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


class FakeService:
    """The service's routes, in memory. ``tokens``: token -> (user, {scope: [courses]})."""

    def __init__(self) -> None:
        self.tokens = {
            "alice-token": ("alice", {"post": ["physics101"]}),
            "bob-token": ("bob", {"post": ["physics101"]}),
            "teacher-token": ("teacher", {"read": ["physics101"]}),
            "grader-token": ("grader", {"grade": ["physics101"], "read": ["physics101"]}),
            "cleo-token": ("cleo", {"post": ["physics101", "chem200"]}),
        }
        self.attempts: dict[str, dict] = {}
        self.posts: list[int] = []          # attempts per post
        self.submissions: list[dict] = []
        self.grades: list[dict] = []
        self.hang = threading.Event()       # set: every request waits until cleared
        self.max_bytes = 5_000_000
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                fake.answer(self, "GET")

            def do_POST(self):
                fake.answer(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{PREFIX}"

    def close(self) -> None:
        self.hang.clear()
        self.server.shutdown()
        self.server.server_close()

    # -- the routes -------------------------------------------------------------------
    def answer(self, h: BaseHTTPRequestHandler, method: str) -> None:
        deadline = time.monotonic() + 10
        while self.hang.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        url = urllib.parse.urlsplit(h.path)
        path = url.path[len(PREFIX):]
        body = None
        if method == "POST":
            data = h.rfile.read(int(h.headers.get("Content-Length", 0)))
            if len(data) > self.max_bytes:
                return self.send(h, 413, {"message": "too large"})
            body = json.loads(data)
        auth = h.headers.get("Authorization", "")
        who = self.tokens.get(auth.removeprefix("token "))
        if who is None:
            return self.send(h, 403, {"message": "not a hub token"})
        user, scopes = who

        def allowed(scope: str, course: str | None) -> bool:
            courses = scopes.get(scope, [])
            return bool(courses) if course is None else course in courses

        parts = path.split("/")
        if method == "POST" and path == "api/attempts":
            if not allowed("post", body.get("course")):
                return self.send(h, 403, {"message": "Action is not authorized"})
            stored = known = 0
            for a in body["attempts"]:
                assert set(a) == {"uid", "exercise", "notebook", "passed", "score", "time",
                                  "version", "misconception"}
                if a["uid"] in self.attempts:
                    known += 1
                else:
                    self.attempts[a["uid"]] = dict(a, user=user)
                    stored += 1
            self.posts.append(len(body["attempts"]))
            return self.send(h, 200, {"stored": stored, "known": known})
        if method == "POST" and path == "api/submissions":
            if not allowed("post", body.get("course")):
                return self.send(h, 403, {"message": "Action is not authorized"})
            if body.get("course") is None and len(scopes["post"]) > 1:
                return self.send(h, 400, {"message": "name the course ('course' in the "
                                                     "body): your token may post to "
                                                     + ", ".join(scopes["post"])})
            sub = {"id": len(self.submissions) + 1, "user": user, "course": "physics101",
                   "notebook": body["notebook"], "content": body["content"],
                   "received": f"2025-01-01T00:00:{len(self.submissions):02d}+00:00"}
            self.submissions.append(sub)
            return self.send(h, 200, {"id": sub["id"], "received": sub["received"]})
        if method == "GET" and parts[:2] == ["api", "courses"] and parts[3:] == ["submissions"]:
            if not allowed("read", parts[2]) and not allowed("grade", parts[2]):
                return self.send(h, 403, {"message": "Action is not authorized"})
            stem = urllib.parse.parse_qs(url.query)["notebook"][0]
            latest = {s["user"]: s for s in self.submissions if s["notebook"] == stem}
            return self.send(h, 200, [
                {"user": s["user"], "notebook": stem, "id": s["id"], "received": s["received"],
                 "bytes": len(s["content"])} for s in latest.values()])
        if method == "GET" and parts[:2] == ["api", "submissions"]:
            sub = self.submissions[int(parts[2]) - 1]
            if not allowed("read", sub["course"]) and not allowed("grade", sub["course"]):
                return self.send(h, 403, {"message": "Action is not authorized"})
            return self.send(h, 200, {k: sub[k] for k in
                                      ("user", "course", "notebook", "received", "content")})
        if method == "POST" and parts[:2] == ["api", "courses"] and parts[3:] == ["grades"]:
            if not allowed("grade", parts[2]):
                return self.send(h, 403, {"message": "Action is not authorized"})
            self.grades += [dict(g, notebook=body["notebook"]) for g in body["grades"]]
            return self.send(h, 200, {"stored": len(body["grades"])})
        return self.send(h, 404, {"message": "Not Found"})

    @staticmethod
    def send(h: BaseHTTPRequestHandler, status: int, answer) -> None:
        data = json.dumps(answer).encode()
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except OSError:  # the client gave up waiting
            pass


@pytest.fixture
def fake():
    service = FakeService()
    yield service
    service.close()


def hub_env(url: str, token: str = "alice-token", **more: str) -> dict[str, str]:
    """What a learner's server has on a hub (JupyterHub's variables and the config's)."""
    env = {"JUPYTERHUB_API_TOKEN": token, "JUPYTERHUB_API_URL": "http://127.0.0.1:1/hub/api",
           "JUPYTERHUB_USER": token.split("-")[0], "ADLAB_SERVICE_URL": url}
    env.update(more)
    return env


@pytest.fixture
def store(tmp_path):
    return ProgressStore(tmp_path / "progress.sqlite3")


def record(store: ProgressStore, n: int = 1, exercise: str = "03.sin_tangent"):
    return [store.record(exercise, k % 2 == 0, 2.0 * (k % 2 == 0), notebook=NB03,
                         misconception="" if k % 2 == 0 else "cos-sign") for k in range(n)]


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{PREFIX}"


# ---------------------------------------------------------------------------------
# Where the service is
# ---------------------------------------------------------------------------------

def test_outside_a_hub_nothing_is_sent(store, fake):
    record(store)
    assert client.send_attempts(store, environ={}) == []
    assert client.send_attempts(store, environ={"ADLAB_SERVICE_URL": fake.url}) == []
    assert fake.posts == [] and len(store.attempts(unsent=True)) == 1


def test_service_url_from_the_config_or_the_public_url():
    assert client.service_url({"ADLAB_SERVICE_URL": "http://h/services/adlab"}) == \
        "http://h/services/adlab/"
    assert client.service_url({"JUPYTERHUB_PUBLIC_URL": "https://hub.example.org/",
                               "JUPYTERHUB_BASE_URL": "/"}) == \
        "https://hub.example.org/services/adlab/"
    assert client.service_url({"JUPYTERHUB_PUBLIC_URL": "https://x.org",
                               "JUPYTERHUB_BASE_URL": "/jhub/"}) == \
        "https://x.org/jhub/services/adlab/"
    assert client.service_url({}, hub_url="https://hub.example.org") == \
        "https://hub.example.org/services/adlab/"
    # the API URL is the hub's own address behind the proxy: no service there
    assert client.service_url({"JUPYTERHUB_API_URL": "http://hub:8081/hub/api"}) is None


# ---------------------------------------------------------------------------------
# Attempts
# ---------------------------------------------------------------------------------

def test_attempts_are_sent_once_and_marked(store, fake):
    made = record(store, 3)
    env = hub_env(fake.url)
    assert client.send_attempts(store, environ=env) == []
    assert set(fake.attempts) == {a.uid for a in made}
    assert store.attempts(unsent=True) == []
    sent = fake.attempts[made[1].uid]
    assert sent["user"] == "alice" and sent["misconception"] == "cos-sign"
    assert sent["notebook"] == NB03 and sent["passed"] is False
    # the next check sends only its own attempt
    new = record(store, 1)
    assert client.send_attempts(store, environ=env) == []
    assert fake.posts == [3, 1] and new[0].uid in fake.attempts


def test_a_course_from_the_environment_goes_with_the_post(store, fake):
    record(store)
    notes = client.send_attempts(store, environ=hub_env(fake.url, ADLAB_COURSE="chem200"))
    assert len(notes) == 1
    assert "your token lacks custom:adlab:post for course chem200: ask your teacher" in notes[0]
    assert fake.attempts == {} and len(store.attempts(unsent=True)) == 1
    assert client.send_attempts(store, environ=hub_env(fake.url, ADLAB_COURSE="physics101")) \
        == []
    assert len(fake.attempts) == 1 and store.attempts(unsent=True) == []


def test_service_down_queues_then_sends_all_once(store, tmp_path):
    url = closed_port_url()
    env = hub_env(url)
    record(store, 2)
    start = time.monotonic()
    notes = client.send_attempts(store, environ=env)
    assert time.monotonic() - start < client.WAIT + 0.5
    assert len(notes) == 1 and notes[0].startswith("2 attempts are saved here but not yet "
                                                   "sent to the class")
    record(store, 1)
    assert "3 attempts" in client.send_attempts(store, environ=env)[0]
    # the service comes back (here: on another port; the variable says where)
    fake = FakeService()
    try:
        assert client.send_attempts(store, environ=hub_env(fake.url)) == []
        assert fake.posts == [3] and len(fake.attempts) == 3
        assert store.attempts(unsent=True) == []
    finally:
        fake.close()


def test_a_hung_service_costs_at_most_the_wait(store, fake):
    record(store)
    fake.hang.set()
    start = time.monotonic()
    notes = client.send_attempts(store, environ=hub_env(fake.url), wait=0.5)
    took = time.monotonic() - start
    assert took < 1.0, took
    assert "did not answer within 0.5 s" in notes[0]
    # a check while that post is still on its way does not start another
    notes = client.send_attempts(store, environ=hub_env(fake.url), wait=0.5)
    assert "still on its way" in notes[0] or "did not answer" in notes[0]
    fake.hang.clear()
    deadline = time.monotonic() + 5
    while not client._sending.acquire(blocking=False):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    client._sending.release()
    assert client.send_attempts(store, environ=hub_env(fake.url)) == []
    assert len(fake.attempts) == 1 and store.attempts(unsent=True) == []


def test_a_store_that_cannot_be_read_gives_a_note_not_an_error(tmp_path, fake):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    notes = client.send_attempts(ProgressStore(folder), environ=hub_env(fake.url))
    assert len(notes) == 1 and notes[0].startswith("not sent to the class yet")


def test_check_posts_its_attempt_and_says_nothing_when_it_arrives(tmp_path, fake,
                                                                  monkeypatch):
    monkeypatch.setenv("ADLAB_COURSE_DB", str(tmp_path / "p.sqlite3"))
    for key, value in hub_env(fake.url).items():
        monkeypatch.setenv(key, value)
    result = check("03.sin_tangent", lambda x, t: (0.0, 0.0))
    assert result.status == "failed"
    assert not [n for n in result.notes if "class" in n]
    assert [a["exercise"] for a in fake.attempts.values()] == ["03.sin_tangent"]
    fake.close()
    result = check("03.sin_tangent", lambda x, t: (0.0, 0.0))
    assert [n for n in result.notes if "not yet sent to the class" in n]
    assert "note: this attempt is saved here but not yet sent" in repr(result)


# ---------------------------------------------------------------------------------
# Submissions, collection, grades: the command line
# ---------------------------------------------------------------------------------

def run_cli(args: list[str], env: dict[str, str], monkeypatch, capsys) -> tuple[int, str, str]:
    for key in ("JUPYTERHUB_API_TOKEN", "JUPYTERHUB_API_URL", "ADLAB_SERVICE_URL",
                "ADLAB_COURSE", "JUPYTERHUB_PUBLIC_URL"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


def learner_folder(tmp_path: Path, who: str) -> Path:
    folder = tmp_path / who
    (folder / "notebooks").mkdir(parents=True)
    nb = json.loads((NOTEBOOKS / f"{NB03}.ipynb").read_text())
    nb["cells"].append({"cell_type": "markdown", "id": f"by-{who}", "metadata": {},
                        "source": f"by {who}"})
    (folder / "notebooks" / f"{NB03}.ipynb").write_text(json.dumps(nb))
    return folder


def test_submit_collect_post_grades(tmp_path, fake, monkeypatch, capsys):
    for who in ("alice", "bob"):
        code, out, err = run_cli(["submit", "03", "--dir", str(learner_folder(tmp_path, who))],
                                 hub_env(fake.url, f"{who}-token"), monkeypatch, capsys)
        assert code == 0, err
        assert out.startswith(f"submitted {NB03}.ipynb (as saved at ")
        assert "received by the class service at 2025-01-01T00:00:0" in out
    # alice submits again: the latest is collected
    code, _, err = run_cli(["submit", NB03, "--dir", str(tmp_path / "alice")],
                           hub_env(fake.url, "alice-token"), monkeypatch, capsys)
    assert code == 0, err
    out_dir = tmp_path / "collected"
    code, out, err = run_cli(["collect", "03", "--out", str(out_dir), "--course", "physics101"],
                             hub_env(fake.url, "teacher-token"), monkeypatch, capsys)
    assert code == 0, err
    assert "collected 2 submissions" in out
    assert sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*.ipynb")) == \
        [f"alice/{NB03}.ipynb", f"bob/{NB03}.ipynb"]
    assert (out_dir / "alice" / f"{NB03}.ipynb").read_text() == fake.submissions[2]["content"]
    manifest = json.loads((out_dir / client.MANIFEST).read_text())
    assert manifest["notebooks"][NB03]["alice"]["id"] == 3
    # grade and post in one go: the released notebooks score 0 of the notebook's points
    code, out, err = run_cli(["grade", str(out_dir), "--no-execute", "-j", "1", "--out",
                              str(tmp_path / "graded.csv"), "--post", "--course", "physics101"],
                             hub_env(fake.url, "grader-token"), monkeypatch, capsys)
    assert code == 0, err
    assert "posted 2 grades to physics101" in out
    possible = float(sum(e.points for e in catalog.EXERCISES if e.notebook == NB03))
    assert sorted((g["user"], g["score"], g["possible"], g["submission"]) for g in fake.grades) \
        == [("alice", 0.0, possible, 3), ("bob", 0.0, possible, 2)]
    fake.grades.clear()
    # a grades file as course grade writes it (the grading itself: tests/test_hub_class.py)
    header = ["learner", "submission", "notebook", *catalog.CATALOG, "total", "possible",
              "review", "reasons"]
    rows = [["alice", str(out_dir / "alice" / f"{NB03}.ipynb"), NB03,
             *[""] * len(catalog.CATALOG), "4", "6", "", ""],
            ["bob", str(out_dir / "bob" / f"{NB03}.ipynb"), NB03,
             *[""] * len(catalog.CATALOG), "0", "6", "", ""],
            ["stray", str(out_dir / "stray.ipynb"), "", *[""] * len(catalog.CATALOG), "0",
             "0", "", ""]]
    grades = tmp_path / "grades.csv"
    import csv

    with open(grades, "w", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    code, out, err = run_cli(["post-grades", str(grades)],
                             hub_env(fake.url, "grader-token", ADLAB_COURSE="physics101"),
                             monkeypatch, capsys)
    assert code == 0, err
    assert out.strip() == f"posted 2 grades of {NB03} to physics101"
    assert fake.grades == [
        {"user": "alice", "score": 4.0, "possible": 6.0, "submission": 3, "notebook": NB03},
        {"user": "bob", "score": 0.0, "possible": 6.0, "submission": 2, "notebook": NB03}]


def test_clear_errors(tmp_path, fake, monkeypatch, capsys):
    folder = learner_folder(tmp_path, "alice")
    # not on a hub
    code, _, err = run_cli(["submit", "03", "--dir", str(folder)], {}, monkeypatch, capsys)
    assert code == 2 and "not on a JupyterHub" in err
    # on a hub that does not say where the service is
    env = hub_env(fake.url)
    del env["ADLAB_SERVICE_URL"]
    code, _, err = run_cli(["submit", "03", "--dir", str(folder)], env, monkeypatch, capsys)
    assert code == 2 and "set ADLAB_SERVICE_URL" in err
    # no token
    code, _, err = run_cli(["submit", "03", "--dir", str(folder)],
                           {"ADLAB_SERVICE_URL": fake.url}, monkeypatch, capsys)
    assert code == 2 and "no hub token" in err
    code, _, err = run_cli(["collect", "03", "--out", str(tmp_path / "o"), "--course", "x",
                            "--token-file", str(tmp_path / "missing")],
                           {"ADLAB_SERVICE_URL": fake.url}, monkeypatch, capsys)
    assert code == 2 and "cannot read the token file" in err
    # unknown notebook, and a notebook not in the folder
    code, _, err = run_cli(["submit", "42", "--dir", str(folder)], hub_env(fake.url),
                           monkeypatch, capsys)
    assert code == 2 and "unknown notebook '42'" in err and NB03 in err
    code, _, err = run_cli(["submit", "04", "--dir", str(folder)], hub_env(fake.url),
                           monkeypatch, capsys)
    assert code == 2 and "no 04_reverse_mode.ipynb to submit" in err
    # refused: a learner's token reading the class
    code, _, err = run_cli(["collect", "03", "--out", str(tmp_path / "o"), "--course",
                            "physics101"], hub_env(fake.url), monkeypatch, capsys)
    assert code == 2
    assert "your token lacks custom:adlab:read for course physics101: ask the hub's admin " \
           "for a role with custom:adlab:read!group=physics101" in err
    # which course?
    code, _, err = run_cli(["collect", "03", "--out", str(tmp_path / "o")],
                           hub_env(fake.url, "teacher-token"), monkeypatch, capsys)
    assert code == 2 and "which course?" in err
    # the service down
    code, _, err = run_cli(["submit", "03", "--dir", str(folder)],
                           hub_env(closed_port_url()), monkeypatch, capsys)
    assert code == 2 and "is not reachable" in err
    # too large
    fake.max_bytes = 1000
    code, _, err = run_cli(["submit", "03", "--dir", str(folder)], hub_env(fake.url),
                           monkeypatch, capsys)
    assert code == 2 and "more than the class service takes: clear the outputs" in err
    # grade --post needs a course, found before any grading
    code, _, err = run_cli(["grade", str(folder), "--post"],
                           hub_env(fake.url, "grader-token"), monkeypatch, capsys)
    assert code == 2 and "which course?" in err


def test_a_learner_of_two_courses_is_asked_which(tmp_path, fake, monkeypatch, capsys):
    folder = learner_folder(tmp_path, "cleo")
    code, _, err = run_cli(["submit", "03", "--dir", str(folder)],
                           hub_env(fake.url, "cleo-token"), monkeypatch, capsys)
    assert code == 2 and "may post to physics101, chem200" in err
    assert "give the course (course submit --course C" in err
    code, out, err = run_cli(["submit", "03", "--dir", str(folder), "--course", "chem200"],
                             hub_env(fake.url, "cleo-token"), monkeypatch, capsys)
    assert code == 0, err


def test_collect_refuses_a_learner_name_that_leaves_the_folder(tmp_path, fake):
    fake.submissions.append({"id": 1, "user": "../evil", "course": "physics101",
                             "notebook": NB03, "content": "{}", "received": "t"})
    connection = client.Connection(fake.url, "teacher-token")
    with pytest.raises(client.HubError, match="cannot be a folder name"):
        client.collect(connection, "physics101", NB03, tmp_path / "out")
    assert not (tmp_path / "evil").exists()


def test_submit_in_a_notebook_finds_its_own_file(tmp_path, fake, monkeypatch):
    import course

    folder = learner_folder(tmp_path, "alice") / "notebooks"
    for key, value in hub_env(fake.url).items():
        monkeypatch.setenv(key, value)
    # the kernel of a JupyterLab session: jupyter_server sets JPY_SESSION_NAME, ipykernel
    # copies it into the namespace as __session__
    path = client.current_notebook({"__session__": str(folder / f"{NB03}.ipynb")})
    assert path == folder / f"{NB03}.ipynb"
    monkeypatch.setenv("JPY_SESSION_NAME", str(folder / f"{NB03}.ipynb"))
    receipt = course.submit()
    assert receipt.notebook == NB03 and receipt.id == 1
    assert fake.submissions[0]["user"] == "alice"
    monkeypatch.chdir(folder)
    assert course.submit("03").id == 2
    monkeypatch.delenv("JPY_SESSION_NAME")
    with pytest.raises(client.HubError, match="does not know its notebook"):
        course.submit()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths")
def test_the_contract_scopes_match_the_package_docs():
    import course.hub as hub

    for scope in client.SCOPES.values():
        assert scope in (hub.__doc__ or "")
    assert os.path.basename(client.MANIFEST) == client.MANIFEST
