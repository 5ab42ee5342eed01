"""The class mode on a real JupyterHub: one hub for the module (tests/hub/fixture.py).

The hub runs deploy/jupyterhub_config.py, the one-server recipe, with its managed
service ``adlab`` (course/hub/service.py), the dummy authenticator and the simple
local spawner. Learners' tokens are made through the hub's REST API; ``alice``'s own
server is spawned as a learner's would be, and the last test drives it in Chromium.

The service is "stopped" for the queue test by freezing its process (SIGSTOP) and
thawed with SIGCONT: the hub keeps managing it (a managed service that exits is
restarted by the hub at once, so killing it would not keep it down), and to a learner's
kernel a frozen service is the worst case, one that accepts connections and never
answers.

Without JupyterHub or configurable-http-proxy these tests skip, except under CI
(CI=true), where they fail. Run alone: ``.venv/bin/python -m pytest -q
tests/test_hub_class.py``.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import sys
import time
import urllib.error
from pathlib import Path

import numpy as np
import pytest

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:  # tests/hub/ and tests/browser/ are packages beside this file
    sys.path.insert(0, _TESTS)

from hub import fixture  # noqa: E402
from hub.fixture import COURSE, LOAD_COURSE, LOAD_LEARNERS, get, post  # noqa: E402

from course import catalog, check, cli  # noqa: E402
from course.hub import client  # noqa: E402
from course.store import ProgressStore  # noqa: E402

IN_CI = os.environ.get("CI") == "true"
ROOT = Path(__file__).resolve().parents[1]
NB03 = "03_forward_mode"
SCREENSHOT = ROOT / "docs" / "dashboard.png"


def unavailable(reason: str):
    """Skip, except under CI, where a missing piece is a failure."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the hub tests must run, not skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    try:
        import jupyterhub  # noqa: F401
    except ImportError as e:
        unavailable(f"JupyterHub is not installed ({e}); pip install -e '.[test]'")
    proxy = fixture.find_proxy()
    if proxy is None:
        unavailable("no configurable-http-proxy (make test installs it with npm into the "
                    "venv; or set ADLAB_CHP)")
    folder = tmp_path_factory.mktemp("hub")
    # alice's notebook for the browser test, in the home her server will serve
    home = folder / "home" / "alice"
    home.mkdir(parents=True)
    (home / "class_check.ipynb").write_text(json.dumps(CHECK_NOTEBOOK))
    the_hub = fixture.ClassHub(folder, proxy)
    the_hub.start()
    # alice's server starts while the other tests run (it takes several seconds)
    the_hub.spawning = concurrent.futures.ThreadPoolExecutor(1).submit(
        the_hub.start_server, "alice")
    try:
        yield the_hub
    finally:
        with_timeout = the_hub.spawning
        if not with_timeout.done():
            with_timeout.cancel()
        the_hub.stop()


@pytest.fixture(scope="module")
def tokens(hub):
    """A token per user with all the user's scopes (as the hub's token page makes one)."""
    names = ["alice", "bob", *fixture.CLASSMATES, "teacher", "grader"]
    return {name: hub.token(name) for name in names}


def learner_env(monkeypatch, hub, token: str, tmp_path: Path, url: str | None = None):
    """This process as a learner's kernel on the hub: JupyterHub's variables and the
    recipe's, and a progress store of its own."""
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", token)
    monkeypatch.setenv("JUPYTERHUB_API_URL", f"{hub.url}hub/api")
    monkeypatch.setenv("ADLAB_SERVICE_URL", url or hub.direct_service_url)
    monkeypatch.delenv("ADLAB_COURSE", raising=False)
    db = tmp_path / "progress.sqlite3"
    monkeypatch.setenv("ADLAB_COURSE_DB", str(db))
    return ProgressStore(db)


def attempts_of(hub, teacher: str, course: str = COURSE) -> list[dict]:
    return get(f"{hub.service_url}api/courses/{course}/attempts", teacher)


def learners_table(hub, teacher: str, course: str = COURSE) -> dict[str, dict]:
    export = get(f"{hub.service_url}courses/{course}/export.json", teacher)
    return {row["user"]: row for row in export["learners"]}


# ---------------------------------------------------------------------------------

def test_attempts_reach_the_dashboard_with_the_right_counts(hub, tokens):
    """Each learner posts their attempts with their own token; the teacher's dashboard
    and its export count them per learner, exercise and misconception."""
    rng = np.random.default_rng(15)
    exercises = [e for e in catalog.EXERCISES if e.notebook < "04"]
    made = {}
    for k, name in enumerate(["alice", "bob", *fixture.CLASSMATES]):
        made[name] = fixture.learner_attempts(rng, skill=0.2 + 0.1 * k, exercises=exercises)
        answer = post(f"{hub.service_url}api/attempts", tokens[name],
                      {"attempts": made[name]})
        assert answer == {"stored": len(made[name]), "known": 0}
    # posting again stores nothing twice
    assert post(f"{hub.service_url}api/attempts", tokens["bob"],
                {"course": COURSE, "attempts": made["bob"]}) == \
        {"stored": 0, "known": len(made["bob"])}
    table = learners_table(hub, tokens["teacher"])
    for name, attempts in made.items():
        assert table[name]["attempts"] == len(attempts), name
        assert table[name]["passed"] == len({a["exercise"] for a in attempts if a["passed"]})
    export = get(f"{hub.service_url}courses/{COURSE}/export.json", tokens["teacher"])
    everyone = [a for attempts in made.values() for a in attempts]
    for row in export["exercises"]:
        mine = [a for a in everyone if a["exercise"] == row["id"]]
        assert row["attempts"] == len(mine), row["id"]
        assert row["attempted"] == len({n for n, attempts in made.items()
                                         for a in attempts if a["exercise"] == row["id"]})
    wrong = {}
    for name, attempts in made.items():
        for a in attempts:
            if a["misconception"]:
                wrong.setdefault((a["exercise"], a["misconception"]), set()).add(name)
    assert {(m["exercise"], m["code"]): m["learners"] for m in export["misconceptions"]} == \
        {key: len(names) for key, names in wrong.items()}
    page = get(f"{hub.service_url}courses/{COURSE}/", tokens["teacher"])
    assert "<tr><td>alice</td>" in page and "Misconceptions" in page


def test_a_post_as_someone_else_and_a_read_without_the_teacher_scope_are_refused(
        hub, tokens, tmp_path, monkeypatch, capsys):
    base = hub.service_url
    attempt = fixture.learner_attempts(np.random.default_rng(1), 1.0,
                                       catalog.EXERCISES[:1])[0]

    def status(call) -> int:
        try:
            call()
        except urllib.error.HTTPError as e:
            return e.code
        return 200

    # alice posting as bob, in the body or in an attempt
    assert status(lambda: post(f"{base}api/attempts", tokens["alice"],
                               {"user": "bob", "attempts": [attempt]})) == 403
    assert status(lambda: post(f"{base}api/attempts", tokens["alice"],
                               {"attempts": [dict(attempt, user="bob")]})) == 403
    # alice posting to a course she is not in
    assert status(lambda: post(f"{base}api/attempts", tokens["alice"],
                               {"course": LOAD_COURSE, "attempts": [attempt]})) == 403
    # a learner reading the class, a grader reading the dashboard, a teacher grading
    assert status(lambda: get(f"{base}api/courses/{COURSE}/attempts", tokens["alice"])) == 403
    assert status(lambda: get(f"{base}courses/{COURSE}/", tokens["alice"])) == 403
    assert status(lambda: get(f"{base}courses/{COURSE}/export.json", tokens["grader"])) == 403
    assert status(lambda: post(f"{base}api/courses/{COURSE}/grades", tokens["teacher"],
                               {"notebook": NB03, "grades": []})) == 403
    # a learner's token with only the server's scopes cannot read either
    narrow = hub.token("bob", ["custom:adlab:post!group=physics101"])
    assert status(lambda: get(f"{base}api/courses/{COURSE}/attempts", narrow)) == 403
    # and the command line says which scope is missing and whom to ask
    learner_env(monkeypatch, hub, tokens["alice"], tmp_path)
    code = cli.main(["collect", "03", "--out", str(tmp_path / "c"), "--course", COURSE])
    err = capsys.readouterr().err
    assert code == 2
    assert "your token lacks custom:adlab:read for course physics101: ask the hub's admin " \
           "for a role with custom:adlab:read!group=physics101" in err


def test_with_the_service_stopped_attempts_queue_and_arrive_once(hub, tokens, tmp_path,
                                                                 monkeypatch):
    """check() under the hub while the service is frozen: each check returns within the
    client's wait with one note; when the service is back, the next check sends all of
    them (posts that were held by the frozen service arrive too: still each once)."""
    store = learner_env(monkeypatch, hub, tokens["bob"], tmp_path)
    before = {a["uid"] for a in attempts_of(hub, tokens["teacher"]) if a["user"] == "bob"}
    wrong = lambda x, t: (np.sin(x), np.cos(x))  # noqa: E731 - the seed-dropped mistake
    result = check("03.sin_tangent", wrong)
    assert not [n for n in result.notes if "class" in n], result.notes
    pid = hub.service_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        for k in range(2, 4):
            start = time.monotonic()
            result = check("03.sin_tangent", wrong)
            took = time.monotonic() - start
            notes = [n for n in result.notes if "not yet sent to the class" in n]
            assert len(notes) == 1, result.notes
            assert notes[0].startswith("this attempt is" if k == 2 else "2 attempts are"), \
                notes
            assert result.misconception == "seed-dropped"
            # the check itself is quick; the class costs at most the client's wait
            assert took < client.WAIT + 3.0, took
        assert len(store.attempts(unsent=True)) == 2
    finally:
        os.kill(pid, signal.SIGCONT)
    result = check("03.sin_tangent", lambda x, t: (np.sin(x), np.cos(x) * t))
    assert result.passed and not [n for n in result.notes if "class" in n], result.notes
    assert store.attempts(unsent=True) == []
    mine = [a for a in attempts_of(hub, tokens["teacher"]) if a["user"] == "bob"
            and a["uid"] not in before]
    assert sorted(a["uid"] for a in mine) == sorted(a.uid for a in store.attempts())
    assert [a["passed"] for a in sorted(mine, key=lambda a: a["time"])][-1] is True
    assert [a["misconception"] for a in mine].count("seed-dropped") == 3


def test_submissions_collected_and_graded_in_two_shards_equal_one_run(hub, tokens,
                                                                      tmp_path, monkeypatch,
                                                                      capsys):
    """alice hands in the solved notebook, bob the released one (twice: the latest
    counts); the teacher collects, the grader grades in two shards, merges, posts."""
    folders = {}
    for name, source in (("alice", ROOT / "course" / "sources" / f"{NB03}.ipynb"),
                         ("bob", ROOT / "notebooks" / f"{NB03}.ipynb")):
        folders[name] = tmp_path / name / "notebooks"
        folders[name].mkdir(parents=True)
        (folders[name] / f"{NB03}.ipynb").write_text(source.read_text())
    receipts = {}
    for name in ("alice", "bob", "bob"):
        learner_env(monkeypatch, hub, tokens[name], tmp_path / name)
        assert cli.main(["submit", "03", "--dir", str(folders[name].parent)]) == 0
        out = capsys.readouterr().out
        assert "received by the class service at 20" in out
        receipts[name] = int(out.rsplit("submission ", 1)[1])
    for name in ("teacher", "grader"):
        (tmp_path / f"{name}.token").write_text(tokens[name] + "\n")
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN")
    collected = tmp_path / "collected"
    assert cli.main(["collect", "03", "--out", str(collected), "--course", COURSE,
                     "--token-file", str(tmp_path / "teacher.token")]) == 0
    assert "collected 2 submissions" in capsys.readouterr().out
    assert sorted(p.parent.name for p in collected.rglob("*.ipynb")) == ["alice", "bob"]
    grade = ["grade", str(collected), "--notebook", "03", "--no-execute", "-j", "1"]
    assert cli.main([*grade, "--out", str(tmp_path / "one.csv")]) == 0
    assert cli.main([*grade, "--shard", "1/2", "--out", str(tmp_path / "s1.csv")]) == 0
    assert cli.main([*grade, "--shard", "2/2", "--out", str(tmp_path / "s2.csv")]) == 0
    assert cli.main(["merge", str(tmp_path / "s1.csv"), str(tmp_path / "s2.csv"),
                     "--out", str(tmp_path / "merged.csv")]) == 0
    assert (tmp_path / "merged.csv").read_text() == (tmp_path / "one.csv").read_text()
    capsys.readouterr()
    assert cli.main(["post-grades", str(tmp_path / "merged.csv"), "--course", COURSE,
                     "--token-file", str(tmp_path / "grader.token")]) == 0
    assert capsys.readouterr().out.strip() == f"posted 2 grades of {NB03} to {COURSE}"
    export = get(f"{hub.service_url}courses/{COURSE}/export.json", tokens["teacher"])
    grades = {g["user"]: g for g in export["grades"] if g["notebook"] == NB03}
    possible = sum(e.points for e in catalog.EXERCISES if e.notebook == NB03)
    assert (grades["alice"]["score"], grades["alice"]["possible"]) == (possible, possible)
    assert grades["bob"]["score"] == 0
    assert grades["alice"]["submission"] == receipts["alice"]
    assert grades["bob"]["submission"] == receipts["bob"]  # bob's latest


def test_fifty_clients_post_ten_thousand_attempts_and_none_is_lost(hub):
    """50 learners of a second course post 200 attempts each, 20 to a post, all at once,
    through the hub's proxy; the service stores every one exactly once."""
    tokens = {name: hub.token(name) for name in LOAD_LEARNERS}
    teacher = hub.token("teacher")
    result = fixture.load(hub.service_url, tokens, per_client=200, batch=20)
    assert result["errors"] == []
    assert result["stored"] == 10_000
    stored = attempts_of(hub, teacher, LOAD_COURSE)
    assert len(stored) == 10_000
    assert len({a["uid"] for a in stored}) == 10_000
    assert {a["user"] for a in stored} == set(LOAD_LEARNERS)


# ---------------------------------------------------------------------------------
# End to end, in Chromium
# ---------------------------------------------------------------------------------

def _cell(source: str, **meta) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": meta, "outputs": [],
            "source": source}


CHECK_NOTEBOOK = {
    "nbformat": 4, "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}},
    "cells": [
        _cell("import numpy as np\nfrom course import check"),
        # the mistake of dropping the seed: the tangent of sin x is cos(x) * t
        _cell("def sin_jvp(x, t):\n    return np.sin(x), np.cos(x)"),
        _cell('result = check("03.sin_tangent")\nresult'),
        _cell("print(result.status, result.misconception, result.notes)"),
    ],
}
for _k, _c in enumerate(CHECK_NOTEBOOK["cells"]):
    _c["id"] = f"cell-{_k}"


def test_a_check_in_alices_browser_shows_on_the_teachers_dashboard(hub, tokens):
    from browser import lab

    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        unavailable(f"Playwright is not installed ({e})")
    chromium = lab.find_chromium()
    if chromium is None:
        unavailable("no Chromium binary (make system WITH_BROWSER=1 installs Debian's)")
    hub.spawning.result(timeout=120)
    server_token = next(t for t in hub.api("GET", "users/alice/tokens")["api_tokens"]
                        if t["note"].startswith("Server at"))
    # the recipe's Spawner.server_token_scopes: the post scope of her course, no more
    assert "custom:adlab:post!group=physics101" in server_token["scopes"]
    assert not [s for s in server_token["scopes"] if s.startswith(("custom:adlab:read",
                                                                    "custom:adlab:grade"))]
    before = learners_table(hub, tokens["teacher"]).get("alice", {}).get("attempts", 0)
    name = "class_check.ipynb"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=lab.CHROMIUM_ARGS,
                                    timeout=60_000)
        try:
            page = login(browser, hub, "alice")
            page.goto(f"{hub.url}user/alice/lab/workspaces/class/tree/{name}",
                      wait_until="domcontentloaded", timeout=60_000)
            page.wait_for_function(lab._KERNEL_IDLE_JS, arg=name, timeout=60_000,
                                   polling=200)
            lab.run_all_cells(page, name, timeout_ms=60_000)
            shown = page.locator(".jp-OutputArea-output").all_inner_texts()
            text = "\n".join(shown)
            assert "03.sin_tangent" in text and "failed" in text, text
            assert "failed seed-dropped []" in text, text  # no note: the attempt was sent
            teacher = login(browser, hub, "teacher", viewport={"width": 1100, "height": 1300})
            teacher.goto(f"{hub.service_url}courses/{COURSE}/", timeout=60_000)
            row = teacher.locator("tr", has=teacher.locator("td", has_text="alice")).first
            cells = row.locator("td").all_inner_texts()
            assert cells[0] == "alice" and int(cells[3]) == before + 1, cells
            assert teacher.locator("code", has_text="seed-dropped").count() >= 1
            shot = SCREENSHOT if os.environ.get("ADLAB_UPDATE_SCREENSHOT") else \
                hub.folder / "dashboard.png"
            shot.parent.mkdir(parents=True, exist_ok=True)
            teacher.screenshot(path=str(shot))
        finally:
            browser.close()


def login(browser, hub, user: str, viewport: dict | None = None):
    """A new browser context logged in to the hub as ``user`` (the dummy password)."""
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{hub.url}hub/login", wait_until="domcontentloaded", timeout=60_000)
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", fixture.PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url(lambda url: "/hub/login" not in url, timeout=60_000)
    return page
