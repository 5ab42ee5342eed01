"""The runner: the separate interpreter in which a submission's code runs while it is graded.

``course grade`` starts one runner per submission (``python -I``, never a fork of the
grader), inside bubblewrap where it exists (:mod:`course.contain`). The runner can import
adlab, NumPy and a stand-in ``course`` package that holds only this module,
:mod:`course.wire`, :mod:`course.provided` and :mod:`course.expr`: no checker, no answer,
no source notebook. The grader sends requests, one JSON line each on stdin; the runner
answers on stdout, one JSON line each, in the plain format of :mod:`course.wire`:

* ``{"op": "run", "cells": [[label, source], ...], "limit": s}``: run the cells in order
  in one namespace (with IPython where it is installed, so magics work); a
  ``{"cell": label}`` line as each starts, ``{"ran": label, ...}`` as each ends,
  ``{"done": true}`` at the end. A cell over its limit gets a KeyboardInterrupt; a
  cell that ignores it is the grader's to kill.
* ``{"op": "lookup", "name": n}``: is ``n`` defined, and is it callable?
* ``{"op": "call", "name": n, "args": [...], "kwargs": {...}}``: call the learner's
  function and send back what it returned as it is (no conversion, no judging), the
  arguments' state afterwards (a learner may fill a dict it was given) and the run counts
  of the functions handed to it.
* ``{"op": "procedure", "procedure": p, "name": n, "args": [...]}``: run one of
  :data:`course.provided.PROCEDURES` on the learner's function.

What the learner's code prints is kept, the last 2,000 characters per request, and sent
with the answer; nothing else of it reaches the grader.
"""

from __future__ import annotations

import io
import os
import resource
import signal
import sys
import traceback
from typing import Any

PRINTED = 2000


class Tail(io.TextIOBase):
    """A stdout that keeps only the last characters written to it."""

    def __init__(self) -> None:
        self.text = ""

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        if isinstance(s, str):
            self.text = s[-PRINTED:] if len(s) >= PRINTED else (self.text + s)[-PRINTED:]
        return len(s) if isinstance(s, str) else 0

    def take(self) -> str:
        text, self.text = self.text, ""
        return text


class Runner:
    def __init__(self, out: Any) -> None:
        from course import wire

        self.wire, self.out = wire, out
        self.printed = Tail()
        self.namespace, self.shell = self._namespace()

    @staticmethod
    def _namespace() -> tuple[dict, Any]:
        try:
            from IPython.core.interactiveshell import InteractiveShell

            shell = InteractiveShell.instance()  # its history goes to $IPYTHONDIR, a temp
            shell.enable_gui = lambda gui=None: None  # %matplotlib: no event loop here
            return shell.user_ns, shell
        except Exception:  # IPython is missing or broken: plain exec will do
            import builtins

            return {"__name__": "__main__", "__builtins__": builtins}, None

    def send(self, message: dict, encoder: Any = None) -> None:
        line = self.wire.dumps(message, encoder) + "\n"
        self.out.write(line.encode())
        self.out.flush()

    # -- requests ------------------------------------------------------------------

    def serve(self, requests: Any) -> None:
        for line in requests:
            try:
                request = self.wire.parse(line)
            except self.wire.WireError as e:
                self.send({"error": f"bad request: {e}"})
                continue
            op = request.get("op")
            try:
                if op == "run":
                    self.run(self.wire.Decoder()(request.get("cells") or []),
                             request.get("limit"))
                elif op == "lookup":
                    self.lookup(str(request.get("name")))
                elif op in ("call", "procedure"):
                    self.call(request)
                else:
                    self.send({"error": f"unknown request {op!r}"})
            except BaseException as e:  # the runner itself must answer, whatever happened
                self.send({"error": f"{type(e).__name__}: {_text(e)}"})

    def run(self, cells: list, limit: Any) -> None:
        for label, source in cells:
            self.send({"cell": label})
            outcome = self.run_cell(str(source), label, limit)
            self.send({"ran": label, **outcome, "printed": self.printed.take()})
        self.send({"done": True})

    def run_cell(self, source: str, label: str, limit: Any) -> dict:
        _alarm(limit)
        try:
            if self.shell is not None:
                result = self.shell.run_cell(source, store_history=False, silent=False)
                if result.error_before_exec is not None:
                    return _error(result.error_before_exec, syntax=True)
                if result.error_in_exec is not None:
                    return _error(result.error_in_exec)
                return {"status": "ok"}
            try:
                code = compile(_python_only(source), f"<{label}>", "exec")
            except (SyntaxError, ValueError) as e:
                return _error(e, syntax=True)
            exec(code, self.namespace)
            return {"status": "ok"}
        except SystemExit:
            return {"status": "exit"}
        except BaseException as e:
            return _error(e)
        finally:
            _alarm(None)

    def lookup(self, name: str) -> None:
        if name not in self.namespace:
            self.send({"kind": "missing"})
        elif callable(self.namespace[name]):
            self.send({"kind": "callable"})
        else:
            from course.wire import safe_repr

            self.send({"kind": "value", "repr": safe_repr(self.namespace[name])})

    def call(self, request: dict) -> None:
        from course.provided import PROCEDURES, Provided, guard

        slots: list = []

        def provide(builder: str, params: Any, copy: bool) -> Provided:
            made = Provided(builder, *(params if isinstance(params, list) else []),
                            copy_input=copy)
            slots.append(made)
            return made

        try:
            decoder = self.wire.Decoder(make_provided=provide)
            args = decoder(request.get("args") or [])
            kwargs = decoder(request.get("kwargs") or {"$dict": []})
        except self.wire.WireError as e:
            self.send({"error": f"bad arguments: {e}"})
            return
        name = str(request.get("name"))
        off = request.get("off")
        off = tuple(str(o) for o in off) if isinstance(off, list) else ()
        fn = guard(self.namespace.get(name), off, name)
        try:
            if request.get("op") == "procedure":
                value = PROCEDURES[str(request.get("procedure"))](fn, *args)
            else:
                value = fn(*args, **kwargs)
        except BaseException as e:  # SystemExit too: it is what the learner's code did
            self.send({"raised": type(e).__name__, "message": _text(e), "where": _where(e),
                       "printed": self.printed.take()})
            return
        encoder = self.wire.Encoder(hand_over=False)
        after = [a if isinstance(a, (dict, list, set)) else None for a in args]
        self.send({"value": value, "after": after,
                   "counts": [p.counts for p in slots], "printed": self.printed.take()},
                  encoder)


def _alarm(limit: Any) -> None:
    """A KeyboardInterrupt after ``limit`` seconds (None: cancel)."""
    seconds = float(limit) if isinstance(limit, (int, float)) and limit > 0 else 0.0
    signal.setitimer(signal.ITIMER_REAL, seconds)


def _on_alarm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt("the cell ran out of time")


def _python_only(source: str) -> str:
    import re

    return re.sub(r"(?m)^(\s*)([%!])", r"\1# \2", source)


def _text(e: BaseException) -> str:
    try:
        text = str(e)
    except BaseException:
        text = ""
    return text[:300]


def _error(e: BaseException, syntax: bool = False) -> dict:
    if syntax or isinstance(e, SyntaxError):
        line = getattr(e, "lineno", None)
        return {"status": "syntax", "line": line if isinstance(line, int) else None,
                "message": _text(getattr(e, "msg", e))}
    if isinstance(e, KeyboardInterrupt):
        return {"status": "interrupted"}
    if isinstance(e, SystemExit):
        return {"status": "exit"}
    return {"status": "raised", "error": type(e).__name__, "message": _text(e)}


def _where(e: BaseException) -> str:
    """The innermost frame of the learner's code: a cell, not a library."""
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if f.filename.startswith("<") or "ipykernel" in f.filename
              or "ipython-input" in f.filename]
    if not frames:
        return ""
    f = frames[-1]
    return f"line {f.lineno}, in {f.name}"


def limit_resources(memory_mb: int, processes: int, file_mb: int) -> None:
    """Caps for everything this process and its children do (where the OS allows)."""
    for name, value in (("RLIMIT_AS", memory_mb << 20), ("RLIMIT_NPROC", processes),
                        ("RLIMIT_FSIZE", file_mb << 20), ("RLIMIT_CORE", 0)):
        which = getattr(resource, name, None)
        if which is None or value <= 0 and name != "RLIMIT_CORE":
            continue
        try:
            soft, hard = resource.getrlimit(which)
            cap = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(which, (cap, cap))
        except (ValueError, OSError):
            pass


def main(argv: list[str] | None = None) -> None:
    """``python -I -c "...; main([memory_mb, processes, file_mb])"``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    memory_mb, processes, file_mb = (int(a) for a in (argv + ["0", "0", "0"])[:3])
    # the answers go to a private copy of stdout; fd 1 and 2 (C code, subprocesses)
    # go nowhere, and Python's own printing is kept short
    out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    requests = os.fdopen(os.dup(0), "rb")
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    signal.signal(signal.SIGALRM, _on_alarm)
    # everything the runner needs is imported before any learner code runs
    import numpy  # noqa: F401

    import adlab  # noqa: F401
    import course.expr  # noqa: F401
    import course.provided  # noqa: F401
    import course.wire  # noqa: F401

    runner = Runner(out)
    sys.stdout = sys.stderr = runner.printed
    sys.stdin = io.StringIO()
    limit_resources(memory_mb, processes, file_mb)
    runner.send({"ready": True})
    runner.serve(requests)
