"""A throwaway PostgreSQL server for the class service's tests (tests/test_hub_postgres.py).

``postgres_url`` (session-scoped, so started once, and only when a test asks for it):
``initdb`` into a temporary folder, ``pg_ctl start`` on a free port of 127.0.0.1 with
the server's socket in that folder, ``createdb adlab``; it yields the SQLAlchemy URL
(``postgresql+psycopg://adlab@127.0.0.1:<port>/adlab``) and on teardown stops the server
and removes the folder. The server is for tests only: trust authentication, 127.0.0.1
only, no fsync.

PostgreSQL refuses to run as root. When the tests run as root (CI), the folder is given to
the unprivileged ``postgres`` user (which Debian's package creates) and ``initdb`` and
``pg_ctl`` run as that user, through ``runuser -u postgres --`` (or ``setpriv``); the
clients (createdb, psycopg) stay root, over TCP. Otherwise everything runs as the current
user.

The programs are looked for on PATH, then in ``/usr/lib/postgresql/<version>/bin``
(Debian's layout; the newest version first). Missing, the tests fail and say that
``make test`` installs them (Debian's ``postgresql``); set ``ADLAB_SKIP_POSTGRES=1`` to
skip them instead.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SKIP_VARIABLE = "ADLAB_SKIP_POSTGRES"
SERVER_USER = "postgres"  # who runs the server when the tests run as root
DATABASE = "adlab"
SUPERUSER = "adlab"
TIMEOUT = 60
DEBIAN_BINS = "/usr/lib/postgresql/*/bin"  # Debian's layout, one folder per version


class Unavailable(Exception):
    """PostgreSQL (or its Python driver) is not installed here."""


def find_bin_dir() -> Path | None:
    """A folder holding ``initdb`` and ``pg_ctl``: PATH's, else Debian's newest."""
    on_path = shutil.which("initdb")
    candidates = []
    if on_path:
        # the real folder first (a symlink's holds only some programs, e.g. no createdb)
        candidates += [Path(os.path.realpath(on_path)).parent, Path(on_path).parent]

    def version(folder: str) -> tuple[int, ...]:
        name = Path(folder).parent.name
        return tuple(int(p) for p in name.split(".") if p.isdigit())
    candidates += [Path(d) for d in sorted(glob.glob(DEBIAN_BINS),
                                           key=version, reverse=True)]
    for folder in candidates:
        if all(os.access(folder / p, os.X_OK) for p in ("initdb", "pg_ctl")):
            return folder
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One PostgreSQL server in its own folder; :meth:`start`, then :meth:`stop`."""

    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.as_root = os.geteuid() == 0
        self.prefix: list[str] = self._drop_privileges() if self.as_root else []
        self.folder = Path(tempfile.mkdtemp(prefix="adlab-postgres-"))
        if self.as_root:  # the server's user owns its folder (data, socket, log)
            owner = pwd.getpwnam(SERVER_USER)
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.port = 0
        self.started = False

    def _drop_privileges(self) -> list[str]:
        """The command prefix that runs a program as the ``postgres`` user."""
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            raise Unavailable(f"the tests run as root and PostgreSQL refuses to; there is "
                              f"no '{SERVER_USER}' user to run it as (Debian's postgresql "
                              "package creates it)") from None
        if shutil.which("runuser"):
            return ["runuser", "-u", SERVER_USER, "--"]
        if shutil.which("setpriv"):
            return ["setpriv", f"--reuid={SERVER_USER}", f"--regid={SERVER_USER}",
                    "--init-groups", "--"]
        raise Unavailable("the tests run as root and PostgreSQL refuses to; neither "
                          "runuser nor setpriv (util-linux) is here to drop to "
                          f"'{SERVER_USER}'")

    def _run(self, program: str, *args: str) -> str:
        """Run one of the server's programs (as ``postgres`` when we are root)."""
        command = self.prefix + [str(self.bin_dir / program), *args]
        env = dict(os.environ, LC_ALL="C", LANG="C")
        done = subprocess.run(command, cwd=self.folder, env=env, capture_output=True,
                              text=True, timeout=TIMEOUT)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}): "
                               f"{(done.stdout + done.stderr).strip()}{self._log_tail()}")
        return done.stdout

    def _log_tail(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").splitlines()[-15:]
        except OSError:
            return ""
        return "\nserver log:\n" + "\n".join(lines) if lines else ""

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
                  "--encoding=UTF8", "--no-locale", "--no-sync")
        for attempt in range(3):  # a port taken between choosing and binding: another
            self.port = free_port()
            options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
                       "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                       "-c max_connections=100")
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w",
                          "-t", str(TIMEOUT), "-o", options, "start")
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        self.started = True
        createdb = self.bin_dir / "createdb"
        createdb = str(createdb) if os.access(createdb, os.X_OK) else shutil.which("createdb")
        if createdb is None:
            self._query(f"CREATE DATABASE {DATABASE}")
        else:
            done = subprocess.run([createdb, "-h", "127.0.0.1", "-p", str(self.port),
                                   "-U", SUPERUSER, DATABASE], capture_output=True,
                                  text=True, timeout=TIMEOUT)
            if done.returncode != 0:
                raise RuntimeError(f"createdb failed: {done.stderr.strip()}")

    def _query(self, sql: str) -> None:
        import psycopg
        with psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER,
                             dbname="postgres", autocommit=True) as connection:
            connection.execute(sql)

    def stop(self) -> None:
        try:
            if self.started:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w",
                          "-t", str(TIMEOUT), "stop")
                self.started = False
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def unavailable(reason: str):
    """Fail, saying how to install it; skip only when $ADLAB_SKIP_POSTGRES=1."""
    if os.environ.get(SKIP_VARIABLE) == "1":
        pytest.skip(f"{reason} ({SKIP_VARIABLE}=1)")
    pytest.fail(f"{reason}. `make test` installs it (the Debian package postgresql, and "
                f"psycopg from the [test] extra); or set {SKIP_VARIABLE}=1 to skip the "
                "PostgreSQL tests", pytrace=False)


@pytest.fixture(scope="session", name="postgres_url")
def postgres_url_fixture() -> Iterator[str]:
    """A running throwaway PostgreSQL server's SQLAlchemy URL (its database ``adlab``)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("the PostgreSQL driver psycopg is not installed")
    bin_dir = find_bin_dir()
    if bin_dir is None:
        unavailable("PostgreSQL's initdb and pg_ctl are neither on PATH nor in "
                    "/usr/lib/postgresql/*/bin")
    try:
        server = PostgresServer(bin_dir)
    except Unavailable as e:
        unavailable(str(e))
    try:
        server.start()
        yield server.url
    finally:
        server.stop()
