"""Where a submission's code runs while it is graded: a private folder, and bubblewrap.

Each submission gets a fresh temporary folder that holds only a copy of itself, and its
runner (:mod:`course.runner`) starts there with an allow-listed environment: a temporary
``HOME``, its own ``ADLAB_COURSE_DB``, no tokens, no proxies, no ``PYTHON*`` variables.

Where bubblewrap is installed (Debian's ``bubblewrap``, the ``bwrap`` program) and works
here, the runner runs inside it, and then its code

* sees only the operating system's libraries, Python, the installed packages (adlab
  included), all read-only, and a stand-in ``course`` package without checkers, answers
  or sources; the teacher's folders, home and the other submissions are not there;
* can write only its own temporary folder (and a private ``/tmp``);
* has no network, its own process-id space (everything in it dies with it), and no
  terminal to type into;
* is capped in memory, file size and (for a grader that is not root) processes.

Without bubblewrap only the folder, the environment, the process group and the
resource caps apply: learner code could still read and write any file the teacher can.
``course grade`` says which of the two it uses.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

import adlab
import course

MEMORY_MB = 2048     # address space of a runner and each of its children
PROCESSES = 64       # processes of the grading user (not enforced for root)
FILE_MB = 64         # the largest file a runner may write
SHIM_MODULES = ("wire.py", "runner.py", "provided.py", "expr.py")
SHIM_INIT = '''"""A stand-in for the course package while a notebook is graded: no checkers."""


def check(*args, **kwargs):
    """Checks do not run while a notebook is graded; the grader checks every exercise."""
    return None


def progress(*args, **kwargs):
    return None
'''
ENV_KEEP = ("LANG", "LC_ALL", "TZ")


@dataclass(frozen=True)
class Limits:
    memory_mb: int = MEMORY_MB
    processes: int = PROCESSES
    file_mb: int = FILE_MB


@functools.lru_cache(maxsize=1)
def shim() -> Path:
    """A folder holding the stand-in ``course`` package (made once per grading process)."""
    root = Path(tempfile.mkdtemp(prefix="course-runtime-"))
    package = root / "course"
    package.mkdir()
    source = Path(course.__file__).parent
    for name in SHIM_MODULES:
        shutil.copyfile(source / name, package / name)
    (package / "__init__.py").write_text(SHIM_INIT, encoding="utf-8")
    for path in [package, *package.iterdir()]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    creator = os.getpid()  # forked workers share it: only the process that made it cleans up
    atexit.register(lambda: os.getpid() == creator and _remove(root))
    return root


def _remove(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)
    shutil.rmtree(root, ignore_errors=True)


@functools.lru_cache(maxsize=1)
def bwrap() -> str | None:
    """The bwrap program, if it is installed and can make a sandbox here."""
    if os.environ.get("ADLAB_NO_BWRAP"):
        return None
    program = shutil.which("bwrap")
    if program is None:
        return None
    try:
        probe = subprocess.run([program, "--ro-bind", "/", "/", "--unshare-all",
                                "--die-with-parent", "--new-session", "true"],
                               capture_output=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return program if probe.returncode == 0 else None


def describe() -> str:
    if bwrap():
        return ("each submission runs in bubblewrap: its own folder, no network, "
                "the package read-only, nothing else of the teacher's visible")
    return ("bubblewrap (bwrap) is not available, so learner code runs as you, in its "
            "own folder and process group but able to read and write your files; "
            "install Debian's bubblewrap to contain it")


def environment(workdir: Path) -> dict[str, str]:
    """The allow-listed environment of a runner."""
    env = {k: os.environ[k] for k in ENV_KEEP if k in os.environ}
    env.update(HOME=str(workdir), TMPDIR=str(workdir), PATH="/usr/local/bin:/usr/bin:/bin",
               ADLAB_COURSE_DB=str(workdir / "progress.sqlite3"), MPLBACKEND="Agg",
               MPLCONFIGDIR=str(workdir / ".matplotlib"), IPYTHONDIR=str(workdir / ".ipython"),
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def command(workdir: Path, limits: Limits, sandbox: bool | None = None) -> list[str]:
    """The command line that starts a runner for a submission in ``workdir``."""
    runtime = shim()
    code = (f"import sys; sys.path.insert(0, {str(runtime)!r}); "
            f"from course.runner import main; "
            f"main([{limits.memory_mb}, {limits.processes}, {limits.file_mb}])")
    python = [sys.executable, "-I", "-B", "-c", code]
    program = bwrap() if sandbox is None or sandbox else None
    if program is None:
        return python
    return [program, *_mounts(workdir, runtime), "--chdir", str(workdir),
            "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--", *python]


def _mounts(workdir: Path, runtime: Path) -> list[str]:
    args = ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    args += ["--ro-bind", "/usr", "/usr"]
    for path in ("/etc/ld.so.cache", "/etc/localtime", "/etc/alternatives"):
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    adlab_dir = Path(adlab.__file__).resolve().parent
    course_dir = Path(course.__file__).resolve().parent
    for path in _python_dirs():
        args += ["--ro-bind", str(path), str(path)]
    args += ["--ro-bind", str(adlab_dir), str(adlab_dir)]
    if any(course_dir.is_relative_to(p) for p in _python_dirs()):
        args += ["--tmpfs", str(course_dir)]  # an installed course package: hidden
    args += ["--ro-bind", str(runtime), str(runtime), "--bind", str(workdir), str(workdir)]
    return args


@functools.lru_cache(maxsize=1)
def _python_dirs() -> tuple[Path, ...]:
    """The interpreter's prefixes and every existing folder on its isolated sys.path."""
    found = subprocess.run([sys.executable, "-I", "-c", "import sys; print('\\n'.join(sys.path))"],
                           capture_output=True, text=True, timeout=60).stdout.split("\n")
    paths = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(),
             Path(sys.executable).resolve().parent.parent}
    paths |= {Path(p).resolve() for p in found if p and Path(p).is_dir()}
    checkout = Path(adlab.__file__).resolve().parent.parent
    if not _is_site_dir(checkout):
        paths.discard(checkout)  # a source checkout: only adlab itself is mounted
    # keep only the outermost folders (a prefix holds its lib/python3.x)
    outer = sorted(paths, key=lambda p: len(p.parts))
    keep: list[Path] = []
    for p in outer:
        if not any(p.is_relative_to(k) for k in keep) and p != Path("/"):
            keep.append(p)
    return tuple(keep)


def _is_site_dir(path: Path) -> bool:
    names = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    return any(Path(n).resolve() == path for n in names)
