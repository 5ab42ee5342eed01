"""The grader's side of a runner: start it, talk to it with deadlines, kill it.

:class:`RunnerProcess` starts :mod:`course.runner` for one submission (in its own
session and process group, inside bubblewrap where :mod:`course.contain` finds it) and
reads its answers with a deadline for each request and a hard deadline for the whole
notebook; past either, the whole group is killed, never waited on. Every answer is
parsed strictly (:mod:`course.wire`) and limited in size, so nothing the learner's code
writes can grow the grader's memory or reach it as an object.

:class:`RemoteFunction` stands for the learner's function in the grading process: a
checker calls it like the function itself, and what comes back is the raw return value
as plain data, which the checker converts and judges here.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from course import contain, wire

STARTUP = 60.0   # seconds for a runner to start (imports included)
GRACE = 3.0      # seconds a cell gets after its interrupt before the runner is killed


class RunnerGone(Exception):
    """The runner stopped answering: ``reason`` is ``"timed out"`` or ``"crashed"``."""

    def __init__(self, reason: str, detail: str = "", notebook_limit: bool = False):
        super().__init__(detail or reason)
        self.reason, self.detail, self.notebook_limit = reason, detail, notebook_limit


class LearnerRaised(Exception):
    """The learner's function raised: its type name, message and place, as text."""

    def __init__(self, name: str, message: str, where: str):
        super().__init__(message)
        self.name, self.message, self.where = name, message, where


class RunnerProcess:
    """One runner, for one submission's folder; ``deadline`` ends the whole notebook."""

    def __init__(self, workdir: Path, deadline: float, limits: contain.Limits | None = None,
                 sandbox: bool | None = None):
        self.deadline = deadline
        self.buffer = bytearray()
        self.gone: RunnerGone | None = None  # why it stopped answering, once it has
        self.process = subprocess.Popen(
            contain.command(workdir, limits or contain.Limits(), sandbox), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=workdir,
            env=contain.environment(workdir), start_new_session=True)
        os.set_blocking(self.process.stdin.fileno(), False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.process.stdout, selectors.EVENT_READ)
        try:
            if not self.read(time.monotonic() + STARTUP).get("ready"):
                raise RunnerGone("crashed", "the grading process did not start")
        except BaseException:
            self.kill()
            raise

    # -- talking -------------------------------------------------------------------

    def send(self, message: dict, until: float) -> wire.Encoder:
        encoder = wire.Encoder()
        data = memoryview((wire.dumps(message, encoder) + "\n").encode())
        fd = self.process.stdin.fileno()
        while data:
            self._check_time(until)
            try:
                data = data[os.write(fd, data):]
            except BlockingIOError:
                time.sleep(0.002)
            except (BrokenPipeError, OSError):
                raise self._gone() from None
        return encoder

    def read(self, until: float) -> dict:
        """The next answer, parsed; RunnerGone when it does not come in time."""
        try:
            return self._read(until)
        except RunnerGone as e:
            self.gone = e
            raise

    def _read(self, until: float) -> dict:
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                line, self.buffer = bytes(self.buffer[:end]), self.buffer[end + 1:]
                try:
                    return wire.loads(line)
                except wire.WireError as e:
                    self.kill()
                    raise RunnerGone("crashed", f"it sent something garbled ({e})") from None
            if len(self.buffer) > wire.MAX_LINE:
                self.kill()
                raise RunnerGone("crashed", "it sent more than 8 MB at once")
            left = self._check_time(until)
            if not self.selector.select(min(left, 1.0)):
                continue
            chunk = os.read(self.process.stdout.fileno(), 1 << 16)
            if not chunk:
                raise self._gone()
            self.buffer += chunk

    def _check_time(self, until: float) -> float:
        now = time.monotonic()
        if now >= self.deadline:
            self.kill()
            raise RunnerGone("timed out", "the notebook's time limit ran out",
                             notebook_limit=True)
        if now >= until:
            self.kill()
            raise RunnerGone("timed out")
        return min(until, self.deadline) - now

    def _gone(self) -> RunnerGone:
        code = self.process.poll()
        self.kill()
        if code is not None and code < 0:
            return RunnerGone("crashed", f"it was ended by signal {-code}")
        if code:
            return RunnerGone("crashed", f"the process exited with code {code}")
        return RunnerGone("crashed", "the process ended before it answered")

    # -- running cells -------------------------------------------------------------

    def run_cells(self, cells: list[tuple[str, str]], limit: float) -> tuple[list[dict], str]:
        """Run the cells; return each finished cell's outcome and the label of a cell
        that never finished (the runner is then dead), or ""."""
        self.send({"op": "run", "cells": [list(c) for c in cells], "limit": limit},
                  time.monotonic() + STARTUP)
        outcomes, current = [], ""
        until = time.monotonic() + limit + GRACE
        while True:
            try:
                answer = self.read(until)
            except RunnerGone as e:
                if not current:
                    raise
                e.detail = e.detail or current
                return outcomes, current
            if answer.get("done"):
                return outcomes, ""
            if "cell" in answer:
                current, until = str(answer["cell"]), time.monotonic() + limit + GRACE
            elif "ran" in answer:
                outcomes.append(answer)
                current = ""

    def lookup(self, name: str, until: float) -> dict:
        self.send({"op": "lookup", "name": name}, until)
        return self.read(until)

    def kill(self) -> None:
        """Kill the runner's whole process group (the sandbox and all in it)."""
        if self.process.returncode is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - an unkillable process
                pass
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.selector.close()
        except (OSError, ValueError, KeyError):
            pass

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


class RemoteFunction:
    """The learner's function ``name`` in a runner, callable from a checker until ``until``."""

    def __init__(self, runner: RunnerProcess, name: str, until: float,
                 off: tuple[str, ...] = ()):
        self.runner, self.name, self.until, self.off = runner, name, until, list(off)
        self.printed = ""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._ask({"op": "call", "name": self.name, "args": list(args),
                          "kwargs": dict(kwargs), "off": self.off}, args)

    def run_procedure(self, procedure: str, *args: Any) -> Any:
        return self._ask({"op": "procedure", "procedure": procedure, "name": self.name,
                          "args": list(args), "off": self.off}, args)

    def _ask(self, request: dict, args: tuple) -> Any:
        encoder = self.runner.send(request, self.until)
        answer = self.runner.read(self.until)
        printed = answer.get("printed")
        if isinstance(printed, str) and printed:
            self.printed = (self.printed + printed)[-2000:]
        if "raised" in answer:
            raise LearnerRaised(str(answer["raised"])[:80], str(answer.get("message", "")),
                                str(answer.get("where", "")))
        if "value" not in answer:
            raise RunnerGone("crashed", str(answer.get("error", "no answer came back"))[:300])
        _restore(args, answer.get("after"))
        counts = answer.get("counts")
        if isinstance(counts, list) and len(counts) == len(encoder.provided):
            for provided, c in zip(encoder.provided, counts):
                provided.add_counts(c)
        return answer["value"]

    def __repr__(self) -> str:
        return f"<your function {self.name}>"


def _restore(args: tuple, after: Any) -> None:
    """Give the caller's containers the state the learner's code left them in."""
    if not isinstance(after, list) or len(after) != len(args):
        return
    for mine, theirs in zip(args, after):
        if isinstance(mine, dict) and isinstance(theirs, dict):
            mine.clear()
            mine.update(theirs)
        elif isinstance(mine, list) and isinstance(theirs, list):
            mine[:] = theirs
        elif isinstance(mine, set) and isinstance(theirs, set):
            mine.clear()
            mine.update(theirs)
