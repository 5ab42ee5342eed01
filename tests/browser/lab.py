"""A throwaway JupyterLab server and a Chromium page that drives it.

Everything here is bounded by timeouts and leaves nothing running: the server is
started in its own process group, asked to shut down over its REST API (which
also stops its kernels), and the group is terminated, then killed, if it lingers.
Nothing reaches the network: the news feed, the update check and the PyPI
extension manager are switched off, and Chromium's background services too.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

# Flags that make Debian's Chromium usable as root, headless, on a closed network:
# without the background-networking ones it tries to phone home and is refused.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

# JupyterLab user settings for the test profile: no news or update notifications
# (a toast could cover a widget), and every cell rendered eagerly so that widget
# outputs of cells below the fold exist in the DOM.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none",
    },
}


def find_chromium() -> str | None:
    """The Chromium binary to drive: $ADLAB_CHROMIUM, else Debian's, else one on PATH."""
    explicit = os.environ.get("ADLAB_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """``jupyter lab`` on 127.0.0.1 serving ``root_dir``, logging to ``log_path``."""

    def __init__(self, root_dir: Path, home: Path, log_path: Path,
                 env: dict[str, str] | None = None):
        self.root_dir = Path(root_dir)
        self.extra_env = dict(env or {})  # e.g. ADLAB_COURSE_DB for the kernels
        self.home = Path(home)
        self.log_path = Path(log_path)
        self.token = secrets.token_hex(16)
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self._log = None
        self._workspaces = 0

    # -- URLs ---------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def notebook_url(self, name: str) -> str:
        """``name`` opened in a new, empty workspace (none of an earlier page's tabs)."""
        self._workspaces += 1
        workspace = f"test-{self._workspaces}"
        return f"{self.base_url}/lab/workspaces/{workspace}/tree/{name}?token={self.token}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"(no JupyterLab log: {exc})"
        return "\n".join(text.splitlines()[-lines:])

    # -- lifecycle ----------------------------------------------------------
    def _environment(self) -> dict[str, str]:
        """A private Jupyter profile: no user config, settings or workspaces leak in."""
        settings = self.home / "lab-settings"
        for rel, values in LAB_SETTINGS.items():
            path = settings / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env = dict(os.environ)
        bindir = str(Path(sys.executable).parent)
        env.update(
            # the kernel must be this interpreter, the one adlab is installed into
            PATH=bindir + os.pathsep + env.get("PATH", ""),
            JUPYTER_CONFIG_DIR=str(self.home / "config"),
            JUPYTER_DATA_DIR=str(self.home / "data"),
            JUPYTER_RUNTIME_DIR=str(self.home / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(self.home / "workspaces"),
            IPYTHONDIR=str(self.home / "ipython"),
            PYTHONUNBUFFERED="1",
        )
        # the kernel must not inherit a Matplotlib backend or extra kernel paths
        env.pop("MPLBACKEND", None)
        env.pop("JUPYTER_PATH", None)
        env.update(self.extra_env)
        return env

    def _command(self) -> list[str]:
        cmd = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.root_dir}",
            f"--IdentityProvider.token={self.token}",
            # no network: no news feed, no update check, no PyPI extension manager
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            # lets the test run notebook commands and read kernel state directly
            "--LabApp.expose_app_in_browser=True",
            "--ServerApp.terminals_enabled=False",
        ]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        return cmd

    def start(self, timeout: float = 60.0, attempts: int = 3) -> None:
        """Start the server and wait until its REST API answers (retrying a lost port race)."""
        for attempt in range(attempts):
            self.port = free_port()
            self._log = open(self.log_path, "ab")  # closed in stop()
            self._log.write(f"\n=== adlab browser test: starting on port {self.port}\n".encode())
            self._log.flush()
            self.proc = subprocess.Popen(
                self._command(),
                cwd=self.root_dir,
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, ended as a whole
            )
            if self._wait_until_up(timeout):
                return
            exited = self.proc.poll() is not None
            self.stop()
            if not exited or attempt == attempts - 1:
                break  # hung rather than lost a port race, or out of attempts
        raise RuntimeError(
            f"JupyterLab did not answer within {timeout:.0f} s.\n"
            f"--- log tail ({self.log_path}) ---\n{self.log_tail()}"
        )

    def _wait_until_up(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with self.api("GET", "/api/status", timeout=2) as r:
                    if r.status == 200:
                        return True
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        return False

    def api(self, method: str, path: str, timeout: float = 5.0):
        req = urllib.request.Request(
            self.base_url + path,
            method=method,
            headers={"Authorization": f"token {self.token}"},
            data=b"" if method == "POST" else None,
        )
        return urllib.request.urlopen(req, timeout=timeout)

    def shutdown_kernels(self) -> None:
        """End every notebook session and its kernel (a later page starts afresh)."""
        with self.api("GET", "/api/sessions") as r:
            sessions = json.load(r)
        for session in sessions:
            self.api("DELETE", f"/api/sessions/{session['id']}", timeout=30).close()

    def stop(self) -> None:
        """Shut down kernels and server; terminate, then kill, the process group."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(OSError, urllib.error.URLError):
                # stops every kernel, then the server
                self.api("POST", "/api/shutdown", timeout=10).close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
            for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
                if proc.poll() is not None:
                    break
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=wait)
        if proc is not None:
            # whatever else is left in the group (the server is its leader)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None


# ---------------------------------------------------------------------------
# Driving JupyterLab in the page
# ---------------------------------------------------------------------------

# The page runs JupyterLab with --LabApp.expose_app_in_browser, so ``window.jupyterapp``
# is the application. Every helper finds its notebook panel by path (not "the current
# widget", which a restored tab or a late focus change can make another notebook).
_PANEL_JS = """
(path) => {
  const app = window.jupyterapp;
  if (!app || !app.shell || !app.shell.widgets) return null;
  for (const w of app.shell.widgets('main')) {
    if (w.context && w.context.path === path && w.content && w.sessionContext) return w;
  }
  return null;
}
"""

# JS: true once the notebook at ``path`` is open, its kernel connected and idle.
_KERNEL_IDLE_JS = f"""
(path) => {{
  const w = ({_PANEL_JS})(path);
  if (!w || !w.context.isReady) return false;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
}}
"""

# JS: make the notebook at ``path`` the current one, then run all its cells
# (the 'Run > Run All Cells' command); resolves when the run has finished.
_RUN_ALL_JS = f"""
async (path) => {{
  const app = window.jupyterapp;
  const w = ({_PANEL_JS})(path);
  app.shell.activateById(w.id);
  const deadline = Date.now() + 10000;
  while (app.shell.currentWidget !== w) {{
    if (Date.now() > deadline) throw new Error('could not make ' + path + ' current');
    await new Promise(r => setTimeout(r, 50));
  }}
  return await app.commands.execute('notebook:run-all-cells');
}}
"""

# JS: true once every code cell of the notebook at ``path`` has an execution count.
_ALL_RAN_JS = f"""
(path) => {{
  const w = ({_PANEL_JS})(path);
  return !!w && w.content.widgets.filter(c => c.model.type === 'code')
    .every(c => c.model.executionCount !== null);
}}
"""

# JS: per code cell of the notebook at ``path``, the errors in its outputs.
_CELL_ERRORS_JS = f"""
(path) => {{
  const w = ({_PANEL_JS})(path);
  return w.content.widgets.filter(c => c.model.type === 'code').flatMap(c =>
    c.model.outputs.toJSON()
      .filter(o => o.output_type === 'error')
      .map(o => o.ename + ': ' + o.evalue));
}}
"""


def open_notebook(page, server: LabServer, name: str, timeout_ms: int = 60_000) -> None:
    """Load JupyterLab on notebook ``name`` and wait until its kernel is idle.

    Each call uses a workspace of its own, so no tab of an earlier test is restored.
    """
    page.goto(server.notebook_url(name), wait_until="domcontentloaded", timeout=timeout_ms)
    page.wait_for_function(_KERNEL_IDLE_JS, arg=name, timeout=timeout_ms, polling=200)


def run_all_cells(page, name: str, timeout_ms: int = 60_000) -> None:
    """Run every cell of notebook ``name`` and wait until all have run and the kernel
    is idle again. Fails with the exception text when a cell raised."""
    page.evaluate(_RUN_ALL_JS, name)
    page.wait_for_function(_ALL_RAN_JS, arg=name, timeout=timeout_ms, polling=200)
    page.wait_for_function(_KERNEL_IDLE_JS, arg=name, timeout=timeout_ms, polling=200)
    errors = page.evaluate(_CELL_ERRORS_JS, name)
    assert not errors, f"a cell of {name} raised: {errors}"
