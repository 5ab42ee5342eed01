"""A throwaway JupyterHub with adlab's class service, for tests on one machine.

The hub runs ``deploy/jupyterhub_config.py`` as a deployment would (the managed service
``adlab``, the custom scopes, the roles bound to the course's groups, the servers' token
scopes and environment), loaded by a small config file that adds only what a test needs:

- ports: random free ones on 127.0.0.1 for the proxy (public), its API, the hub and the
  service; everything in one temporary folder (hub database, cookie secret, the
  service's SQLite file, the users' homes);
- ``DummyAuthenticator`` with a password, so a browser can log in as ``alice``;
- the simple local spawner (``SimpleLocalProcessSpawner``): user servers run as this OS
  user, in ``<folder>/home/<user>``; ``--allow-root`` when the tests run as root;
- configurable-http-proxy from npm (``make test`` installs it into the venv);
- a service ``fixture`` with an admin token, which the tests use to make users' tokens
  through the hub's REST API (as an admin would on the token page).

Everything is bounded by timeouts; :meth:`ClassHub.stop` ends the hub, which stops its
proxy, its service and the user servers, and then kills by pid anything of it left.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "deploy" / "jupyterhub_config.py"
PASSWORD = "adlab-test-password"
COURSE = "physics101"
CLASSMATES = ["carol", "dan", "erin", "frank", "grace", "heidi"]  # fill the dashboard
LOAD_COURSE = "loadtest"  # a second course on the same hub, for the many-clients test
LOAD_LEARNERS = [f"load{k:02d}" for k in range(50)]
COURSES = {
    COURSE: {"learners": ["alice", "bob", *CLASSMATES], "teachers": ["teacher"],
             "graders": ["grader"]},
    LOAD_COURSE: {"learners": LOAD_LEARNERS, "teachers": ["teacher"], "graders": []},
}


def find_proxy() -> str | None:
    """configurable-http-proxy: $ADLAB_CHP, the venv's (make test), or one on PATH."""
    explicit = os.environ.get("ADLAB_CHP")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    venv = Path(sys.prefix) / "node_modules" / ".bin" / "configurable-http-proxy"
    if os.access(venv, os.X_OK):
        return str(venv)
    found = subprocess.run(["sh", "-c", "command -v configurable-http-proxy"],
                           capture_output=True, text=True).stdout.strip()
    return found or None


def free_ports(n: int) -> list[int]:
    """``n`` distinct free ports on 127.0.0.1 (held open together while choosing)."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


CONFIG = '''\
# written by tests/hub/fixture.py: the one-server recipe, plus what a test needs
c = get_config()  # noqa
load_subconfig({recipe!r})

c.JupyterHub.bind_url = "http://127.0.0.1:{public}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api}"
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.JupyterHub.db_url = "sqlite:///{folder}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{folder}/jupyterhub_cookie_secret"
c.JupyterHub.log_level = "INFO"

c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}

c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{folder}/home/{{username}}"
c.Spawner.cmd = [{python!r}, "-m", "jupyterhub.singleuser"]
c.Spawner.args = {args!r}
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 90
c.Spawner.http_timeout = 90

# the tests' admin: makes users' tokens and starts servers through the REST API
c.JupyterHub.services.append({{"name": "fixture", "api_token": {admin_token!r}}})
c.JupyterHub.load_roles.append({{
    "name": "fixture-admin",
    "scopes": ["admin:users", "admin:servers", "tokens", "list:users", "read:users",
               "read:roles", "groups"],
    "services": ["fixture"],
}})
'''

# a user server without network: no news feed, no update check, no extension manager
SERVER_ARGS = [
    "--LabApp.expose_app_in_browser=True",  # tests/browser/lab.py drives window.jupyterapp
    "--LabApp.news_url=None",
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    "--LabApp.extension_manager=readonly",
    "--ServerApp.terminals_enabled=False",
]


class ClassHub:
    """JupyterHub with the class service, in ``folder``; ``start()``, then ``stop()``."""

    def __init__(self, folder: Path, proxy: str):
        self.folder = Path(folder)
        self.proxy = proxy
        self.admin_token = secrets.token_hex(24)
        self.public_port, self.hub_port, self.proxy_api_port, self.service_port = \
            free_ports(4)
        self.proc: subprocess.Popen | None = None
        self.log_path = self.folder / "hub.log"
        self._log = None
        self._pids: set[int] = set()

    # -- URLs ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The hub's public URL (the proxy), ending in /."""
        return f"http://127.0.0.1:{self.public_port}/"

    @property
    def service_url(self) -> str:
        """The class service through the proxy, as a browser reaches it."""
        return f"{self.url}services/adlab/"

    @property
    def direct_service_url(self) -> str:
        """The class service at its own port, as the recipe tells the user servers."""
        return f"http://127.0.0.1:{self.service_port}/services/adlab/"

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as e:
            return f"(no hub log: {e})"
        return "\n".join(text.splitlines()[-lines:])

    # -- lifecycle ----------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "courses.json").write_text(json.dumps(COURSES))
        args = SERVER_ARGS + (["--allow-root"] if os.geteuid() == 0 else [])
        config = self.folder / "jupyterhub_config.py"
        config.write_text(CONFIG.format(
            recipe=str(RECIPE), public=self.public_port, hub=self.hub_port,
            proxy_api=self.proxy_api_port, proxy=self.proxy, folder=self.folder,
            password=PASSWORD, python=sys.executable, args=args,
            admin_token=self.admin_token))
        env = dict(os.environ)
        bindir = str(Path(sys.executable).parent)
        env.update(
            PATH=bindir + os.pathsep + env.get("PATH", ""),
            ADLAB_COURSES=str(self.folder / "courses.json"),
            ADLAB_SERVICE_PORT=str(self.service_port),
            ADLAB_SERVICE_DIR=str(self.folder / "service"),
            PYTHONUNBUFFERED="1",
        )
        for key in ("ADLAB_SERVICE_URL", "ADLAB_HUB_DB", "ADLAB_COURSE", "ADLAB_ADMINS",
                    "JUPYTERHUB_API_TOKEN", "JUPYTERHUB_API_URL", "MPLBACKEND"):
            env.pop(key, None)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(config)],
            cwd=self.folder, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        for url in (f"{self.url}hub/api/", f"{self.service_url}api/health"):
            while True:
                if self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"JupyterHub exited ({self.proc.returncode}).\n"
                                       f"--- {self.log_path} ---\n{self.log_tail()}")
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"JupyterHub did not answer at {url} within "
                                       f"{timeout:.0f} s.\n--- {self.log_path} ---\n"
                                       f"{self.log_tail()}")
                try:
                    with urllib.request.urlopen(url, timeout=2) as r:
                        if r.status == 200:
                            break
                except (OSError, urllib.error.URLError):
                    pass
                time.sleep(0.1)
        self._remember_children()

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM to the hub (it stops its proxy, service and the user servers), then
        SIGKILL to whatever of it is left, by pid."""
        if self.proc is None:
            return
        self._remember_children()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        for pid in self._pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self._log:
            self._log.close()
            self._log = None

    def _remember_children(self) -> None:
        """The hub's descendants (proxy, service, user servers, kernels), to end later."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self._pids |= set(descendants(self.proc.pid))

    # -- the hub's REST API, as the admin service ------------------------------------
    def api(self, method: str, path: str, body=None, token: str | None = None,
            timeout: float = 30.0):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.url}hub/api/{path}", data=data, method=method,
            headers={"Authorization": f"token {token or self.admin_token}",
                     **({"Content-Type": "application/json"} if data else {})})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            text = r.read().decode()
        return json.loads(text) if text else None

    def token(self, user: str, scopes: list[str] | None = None) -> str:
        """A new API token of ``user`` (by default: the roles' scopes, as the hub's token
        page makes it); JupyterHub refuses scopes the user does not hold."""
        body = {"note": "adlab test", "expires_in": 3600}
        if scopes is not None:
            body["scopes"] = scopes
        return self.api("POST", f"users/{user}/tokens", body)["token"]

    def start_server(self, user: str, timeout: float = 90.0) -> dict:
        """Start ``user``'s server (the simple spawner) and wait until it is ready."""
        try:
            self.api("POST", f"users/{user}/server")
        except urllib.error.HTTPError as e:
            if e.code != 400:  # 400: already running
                raise
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.api("GET", f"users/{user}")
            server = model.get("servers", {}).get("", {})
            if server.get("ready"):
                self._remember_children()
                return model
            time.sleep(0.2)
        raise RuntimeError(f"{user}'s server did not start within {timeout:.0f} s.\n"
                           f"{self.log_tail()}")

    def service_pid(self) -> int:
        """The pid of the managed service ``adlab`` (a child of the hub)."""
        for pid in descendants(self.proc.pid):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"course.hub.service" in cmd:
                return pid
        raise RuntimeError("the adlab service is not running under the hub")


def descendants(pid: int) -> list[int]:
    """All processes below ``pid`` (from /proc)."""
    parent_of: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # the command may hold spaces and parentheses: the fields follow the last ')'
        fields = stat[stat.rindex(")") + 2:].split()
        parent_of[int(entry.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, parent in parent_of.items() if parent == p]
        found += kids
        frontier += kids
    return found


# ---------------------------------------------------------------------------------
# A class at work: attempts as learners make them
# ---------------------------------------------------------------------------------

def learner_attempts(rng, skill: float, exercises: list, start: datetime | None = None,
                     version: str = "0.1.0") -> list[dict]:
    """A learner's attempts over ``exercises`` (course.catalog.Exercise) in order, as the
    service's API takes them. ``skill`` (0 to 1) sets how far the learner gets, how
    likely a try passes and how soon they give up on an exercise; a failed try matches
    one of the exercise's known mistakes two times in three. Times start ``start``
    (default: four hours ago) and advance by a few minutes a try."""
    when = start or datetime.now(timezone.utc) - timedelta(hours=4)
    out = []
    reach = max(1, round(len(exercises) * (0.35 + 0.65 * skill)))
    for exercise in exercises[:reach]:
        patience = 1 + int(rng.integers(1, 3 + round(4 * skill)))
        for _ in range(patience):
            when += timedelta(seconds=int(rng.integers(20, 400)))
            passed = bool(rng.random() < 0.2 + 0.6 * skill)
            code = ""
            if not passed and exercise.mistakes and rng.random() < 2 / 3:
                code = exercise.mistakes[int(rng.integers(len(exercise.mistakes)))].code
            out.append({"uid": uuid.uuid4().hex, "exercise": exercise.id,
                        "notebook": exercise.notebook, "passed": passed,
                        "score": float(exercise.points if passed else 0),
                        "time": when.isoformat(timespec="seconds"), "version": version,
                        "misconception": code})
            if passed:
                break
    return out


def post(url: str, token: str, body, timeout: float = 30.0):
    """POST JSON with a hub token; the decoded answer (HTTPError as urllib raises it)."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": f"token {token}",
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def get(url: str, token: str | None = None, timeout: float = 30.0):
    """GET with a hub token: decoded JSON, or the text of a page."""
    headers = {"Authorization": f"token {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                timeout=timeout) as r:
        text = r.read().decode()
        kind = r.headers.get("Content-Type", "")
    return json.loads(text) if "json" in kind else text


def load(service_url: str, tokens: dict[str, str], per_client: int, batch: int,
         seed: int = 0) -> dict:
    """Every client (a learner's token) posts ``per_client`` attempts, ``batch`` to a
    post, all clients at once (a thread each); what was stored, the errors, the time
    taken and the latency of each post."""
    import numpy as np

    from course import catalog

    exercises = list(catalog.EXERCISES)
    rng = np.random.default_rng(seed)
    work = {}
    for name in tokens:
        attempts = []
        while len(attempts) < per_client:
            attempts += learner_attempts(rng, float(rng.random()), exercises)
        work[name] = attempts[:per_client]
    barrier = threading.Barrier(len(tokens))
    stored, errors, latencies, lock = [0], [], [], threading.Lock()

    def client_of(name: str) -> None:
        barrier.wait()
        attempts = work[name]
        for i in range(0, len(attempts), batch):
            began = time.monotonic()
            try:
                answer = post(f"{service_url}api/attempts", tokens[name],
                              {"attempts": attempts[i:i + batch]}, timeout=120)
            except Exception as e:
                with lock:
                    errors.append(f"{name}: {e}")
                return
            with lock:
                stored[0] += answer["stored"]
                latencies.append(time.monotonic() - began)

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(len(tokens)) as pool:
        list(pool.map(client_of, tokens))
    seconds = time.monotonic() - start
    return {"stored": stored[0], "errors": errors, "seconds": seconds, "latencies": latencies,
            "attempts": per_client * len(tokens), "posts": len(tokens) * -(-per_client // batch)}
