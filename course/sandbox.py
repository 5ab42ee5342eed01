"""Run learner code in a forked child with a time limit; get plain JSON back.

A learner's infinite loop (even inside NumPy's C code) must not hang the notebook, so
:func:`run_isolated` forks: the child runs the task and reports *messages*, plain
dicts of strings and numbers that it writes to a pipe as JSON lines; the parent reads
them until the child exits or the time limit passes, then kills the child. Nothing the
learner built crosses the pipe as an object, so nothing is unpickled, and whatever
the learner's code changes (``check``, NumPy, the course modules) it changes in the
child's copy of memory only.

Where ``os.fork`` does not exist (Windows), the task runs in a thread of the same
process instead: the time limit is reported, but a runaway loop cannot be stopped and
keeps running in the background until the kernel restarts.

This isolates mistakes, not attacks: learner code runs with the user's rights.
"""

from __future__ import annotations

import io
import json
import os
import selectors
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

HAS_FORK = hasattr(os, "fork")
MAX_BYTES = 8_000_000  # more than any honest report; a flood is cut off

Emit = Callable[[dict], None]


@dataclass
class Run:
    """What came back from the child: its messages and how it ended.

    ``status`` is ``finished``, ``timed out`` or ``crashed`` (the child died without
    finishing, e.g. ``os._exit`` or a segfault; ``detail`` says how).
    """

    status: str
    messages: list[dict] = field(default_factory=list)
    detail: str = ""
    printed: str = ""


def run_isolated(task: Callable[[Emit], None], timeout: float) -> Run:
    """Run ``task(emit)`` away from this process, for at most ``timeout`` seconds."""
    if HAS_FORK:
        return _run_forked(task, timeout)
    return _run_threaded(task, timeout)


def _run_forked(task: Callable[[Emit], None], timeout: float) -> Run:
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns about forking a process with threads (a Jupyter kernel
        # has some). The child touches none of their locks: it runs the task and exits.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _child(task, write_end)
    os.close(write_end)
    deadline = time.monotonic() + timeout
    data = bytearray()
    status, detail = "finished", ""
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(read_end, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    status = "timed out"
                    break
                if not selector.select(left):
                    continue
                chunk = os.read(read_end, 1 << 16)
                if not chunk:
                    break
                data += chunk
                if len(data) > MAX_BYTES:
                    status, detail = "crashed", "it sent more than 8 MB of results"
                    break
    except BaseException:  # an interrupt of the kernel: stop the child at once
        deadline = time.monotonic()
        raise
    finally:
        os.close(read_end)
        code = _reap(pid, deadline)
    messages = _decode(bytes(data))
    printed = "".join(m.get("printed", "") for m in messages if "printed" in m)
    messages = [m for m in messages if "printed" not in m]
    if status == "finished" and not any(m.get("done") for m in messages):
        status = "timed out" if code is None else "crashed"
        detail = detail or _describe_exit(code)
    return Run(status, messages, detail, printed)


def _reap(pid: int, deadline: float) -> int | None:
    """Wait for the child until ``deadline``, then kill it. None if it had to be killed."""
    while time.monotonic() < deadline:
        done, code = os.waitpid(pid, os.WNOHANG)
        if done:
            return code
        time.sleep(0.005)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:  # pragma: no cover - it ended at the last moment
        pass
    os.waitpid(pid, 0)
    return None


def _describe_exit(code: int | None) -> str:
    if code is None:
        return ""
    if os.WIFSIGNALED(code):
        return f"it was ended by signal {os.WTERMSIG(code)}"
    return f"the process exited with code {os.WEXITSTATUS(code)} before it finished"


def _child(task: Callable[[Emit], None], fd: int) -> None:
    """Run the task, send its messages, exit without running any cleanup of the parent's."""
    # Bind what emit needs now, before learner code can replace json.dumps or os.write.
    dumps, write, exit_now = json.dumps, os.write, os._exit
    printed = io.StringIO()

    def emit(message: dict) -> None:
        payload = (dumps(message) + "\n").encode()
        while payload:
            payload = payload[write(fd, payload):]

    try:
        sys.stdin = io.StringIO()
        sys.stdout, sys.stderr = printed, io.StringIO()  # warnings on stderr are ignored
        try:
            task(emit)
        except BaseException as e:  # SystemExit too: the child must report, then exit
            emit({"internal": f"{type(e).__name__}: {e}"})
        emit({"printed": printed.getvalue()[-2000:]})
        emit({"done": True})
    finally:
        exit_now(0)


def _decode(data: bytes) -> list[dict]:
    """Parse JSON lines; anything that is not a JSON object is dropped."""
    out = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict):
            out.append(message)
    return out


def _run_threaded(task: Callable[[Emit], None], timeout: float) -> Run:
    """The fallback without fork: a daemon thread, a timer that reports but cannot stop."""
    messages: list[dict] = []
    finished = threading.Event()

    def emit(message: dict) -> None:
        messages.append(json.loads(json.dumps(message)))

    def target() -> None:
        try:
            task(emit)
        except BaseException as e:
            emit({"internal": f"{type(e).__name__}: {e}"})
        finally:
            finished.set()

    threading.Thread(target=target, daemon=True, name="course-check").start()
    if not finished.wait(timeout):
        return Run("timed out", list(messages),
                   "this platform cannot stop it (no fork), so it is still running in "
                   "the background: restart the kernel")
    return Run("finished", messages)
