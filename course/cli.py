"""The ``course`` command: status, reset, release, outputs, validate, grade, merge, and
on a JupyterHub with the class service: submit, collect, post-grades.

Exit codes: 0 success; 1 the command ran and found a problem (``release --check``
out of date, ``validate`` failing, a store that cannot be used); 2 a usage error
(unknown exercise id, no submissions, a missing path, a bad option, no sources), always
found before any work starts.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from course import __version__, catalog


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    # nbformat's validator (jsonschema) imports an optional checker of IRI formats whose
    # grammar takes about 1.5 s to build; notebooks use no such format, so the command
    # (and every grading worker it forks) starts without it
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    return args.run(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="course", description="Graded exercises of the adlab notebooks.")
    parser.add_argument("--version", action="version", version=f"course {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("status", help="show your progress, notebook by notebook")
    p.set_defaults(run=_status)

    p = sub.add_parser("reset", help="clear recorded attempts (of one exercise, or all)")
    p.add_argument("exercise", nargs="?", metavar="ID", help="e.g. 03.sin_tangent")
    p.set_defaults(run=_reset)

    p = sub.add_parser("release", help="write the learners' notebooks from the sources")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 if DEST differs from what release would write")
    _sources_option(p)
    p.add_argument("--dest", type=Path, default=Path("notebooks"),
                   help="where the learners' notebooks go (default: ./notebooks)")
    p.set_defaults(run=_release)

    p = sub.add_parser("outputs", help="run the sources and store the outputs nbval "
                       "compares (cells marked # NBVAL_CHECK_OUTPUT, and the checks)")
    _sources_option(p)
    p.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                   help="only these source notebooks (e.g. 03_forward_mode); default: all")
    p.set_defaults(run=_outputs)

    p = sub.add_parser("validate", help="check that solutions pass and stubs fail")
    _sources_option(p)
    p.set_defaults(run=_validate)

    p = sub.add_parser("grade", help="grade submitted notebooks into a CSV file")
    p.add_argument("submissions", nargs="+", type=Path, metavar="SUBMISSION",
                   help="submitted .ipynb files, or folders of them (per-learner folders "
                        "such as alice/04_reverse_mode.ipynb name the learner)")
    p.add_argument("--out", type=Path, default=Path("grades.csv"),
                   help="the CSV file to write (default: grades.csv); rows already in it "
                        "are kept and their submissions skipped, unless --restart")
    p.add_argument("--feedback", type=Path, default=None,
                   help="folder for the feedback files (default: feedback/ next to --out)")
    p.add_argument("--timeout", type=_seconds, default=None, metavar="S",
                   help="seconds per cell, and per exercise when grading (default: 30)")
    p.add_argument("--notebook-timeout", type=_seconds, default=None, metavar="S",
                   help="seconds for a whole submission, both runs (default: 10 x --timeout)")
    p.add_argument("--notebook", default=None, metavar="NN",
                   help="the assignment, e.g. 04 or 04_reverse_mode: other notebooks get a "
                        "row that says so and no points")
    p.add_argument("-j", "--jobs", type=_positive_int, default=os.cpu_count() or 1,
                   metavar="N", help="submissions graded at once (default: the number of "
                                     "cores)")
    p.add_argument("--shard", type=_shard, default=None, metavar="I/N",
                   help="grade only every N-th submission, starting at the I-th (1 <= I <= N); "
                        "join the shards' CSV files with `course merge`")
    p.add_argument("--restart", action="store_true",
                   help="grade every submission again, even those already in --out")
    p.add_argument("--no-execute", action="store_true",
                   help="skip running each notebook top to bottom (grades do not depend on it)")
    p.add_argument("--no-sandbox", action="store_true",
                   help="do not use bubblewrap even where it is installed")
    p.add_argument("--memory", type=_positive_int, default=None, metavar="MB",
                   help="memory per submission's process (default: 2048)")
    p.add_argument("--post", action="store_true",
                   help="then post the grades to the class service (needs --course)")
    _sources_option(p)
    _hub_options(p, course_help="the course (hub group) the grades of --post are for "
                                "(default: $ADLAB_COURSE)")
    p.set_defaults(run=_grade)

    p = sub.add_parser("merge", help="join the CSV files of `course grade --shard` runs")
    p.add_argument("inputs", nargs="+", type=Path, metavar="CSV")
    p.add_argument("--out", type=Path, default=Path("grades.csv"))
    p.set_defaults(run=_merge)

    p = sub.add_parser("submit", help="hand in a notebook to the class service (on a hub)")
    p.add_argument("notebook", metavar="NN", help="the notebook, e.g. 03 or 03_forward_mode")
    p.add_argument("--dir", type=Path, default=None,
                   help="your working folder, holding notebooks/ (default: this folder)")
    _hub_options(p, course_help="the course you hand in to (default: $ADLAB_COURSE, else "
                                "your one course)")
    p.set_defaults(run=_submit)

    p = sub.add_parser("collect", help="fetch each learner's latest submission of a "
                                       "notebook into DIR/<learner>/ (teachers)")
    p.add_argument("notebook", metavar="NN", help="the notebook, e.g. 03 or 03_forward_mode")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="where the per-learner folders go (what `course grade DIR` reads)")
    _hub_options(p, course_help="the course (hub group) (default: $ADLAB_COURSE)")
    p.set_defaults(run=_collect)

    p = sub.add_parser("post-grades", help="post the grades of a `course grade` CSV file to "
                                           "the class service (the grader)")
    p.add_argument("grades", type=Path, metavar="CSV", help="e.g. grades.csv")
    _hub_options(p, course_help="the course (hub group) (default: $ADLAB_COURSE)")
    p.set_defaults(run=_post_grades)
    return parser


def _hub_options(p: argparse.ArgumentParser, course_help: str) -> None:
    p.add_argument("--course", default=None, help=course_help)
    p.add_argument("--token-file", type=Path, default=None, metavar="FILE",
                   help="a file holding the hub token to use (default: $JUPYTERHUB_API_TOKEN, "
                        "the token of your hub server)")
    p.add_argument("--hub-url", default=None, metavar="URL",
                   help="the hub's public URL, e.g. https://hub.example.org/ (default: "
                        "$ADLAB_SERVICE_URL, set by the hub)")


def _connection(args: argparse.Namespace, need_course: bool):
    """The class service's connection for a hub command; HubError if there is none."""
    from course.hub.client import COURSE_VARIABLE, Connection, HubError

    connection = Connection.from_environment(token_file=args.token_file, hub_url=args.hub_url,
                                             course=args.course)
    if need_course and not connection.course:
        raise HubError(f"which course? give --course C (the hub group), or set "
                       f"${COURSE_VARIABLE}")
    return connection


def _submit(args: argparse.Namespace) -> int:
    from course.hub import client

    try:
        client.notebook_stem(args.notebook)  # an unknown notebook first, then the hub
        connection = _connection(args, need_course=False)
        path = client.find_notebook(args.notebook, args.dir)
        receipt = client.submit_notebook(path, connection)
    except client.HubError as e:
        print(f"course submit: {e}", file=sys.stderr)
        return 2
    print(receipt)
    return 0


def _collect(args: argparse.Namespace) -> int:
    from course.hub import client

    try:
        stem = client.notebook_stem(args.notebook)
        connection = _connection(args, need_course=True)
        if args.out.exists() and not args.out.is_dir():
            raise client.HubError(f"--out {args.out} is a file, not a folder")
        written = client.collect(connection, connection.course, stem, args.out)
    except client.HubError as e:
        print(f"course collect: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"course collect: cannot write into {args.out} ({e})", file=sys.stderr)
        return 2
    n = len(written)
    print(f"collected {n} submission{'s' if n != 1 else ''} of {stem} from "
          f"{connection.course} into {args.out}; grade them with: course grade {args.out} "
          f"--notebook {stem.split('_')[0]}")
    return 0


def _post_grades(args: argparse.Namespace) -> int:
    from course.hub import client

    try:
        if not args.grades.is_file():
            raise client.HubError(f"{args.grades}: no such file")
        connection = _connection(args, need_course=True)
        posted = client.post_grades(connection, connection.course, args.grades)
    except client.HubError as e:
        print(f"course post-grades: {e}", file=sys.stderr)
        return 2
    if not posted:
        print(f"course post-grades: {args.grades} has no grades of a course notebook",
              file=sys.stderr)
        return 1
    print("posted " + ", ".join(f"{n} grade{'s' if n != 1 else ''} of {stem}"
                                for stem, n in posted.items())
          + f" to {connection.course}")
    return 0


def _status(args: argparse.Namespace) -> int:
    from course.progress import progress

    report = progress()
    print("\n".join(line for line in report.lines()))
    return 1 if any(n.startswith("progress could not be read") for n in report.notes) else 0


def _reset(args: argparse.Namespace) -> int:
    from course.store import ProgressStore, StoreError

    store = ProgressStore()
    try:
        if args.exercise is None:
            n = store.reset()
            print(f"cleared all {n} attempt{'s' if n != 1 else ''} from {store.path}")
        else:
            known = args.exercise in catalog.CATALOG
            n = store.reset(args.exercise)
            if not known and n == 0:
                try:
                    catalog.get(args.exercise)
                except KeyError as e:
                    print(f"course reset: {e.args[0]}", file=sys.stderr)
                return 2
            print(f"cleared {n} attempt{'s' if n != 1 else ''} of {args.exercise} "
                  f"from {store.path}")
    except StoreError as e:
        print(f"course reset: {e}", file=sys.stderr)
        return 1
    finally:
        for warning in store.warnings:
            print(f"note: {warning}", file=sys.stderr)
    return 0


def _release(args: argparse.Namespace) -> int:
    from course import release

    try:
        source = _sources(args)
    except UsageError as e:
        print(f"course release: {e}", file=sys.stderr)
        return 2
    try:
        if args.check:
            problems = release.differences(args.dest, source)
            for p in problems:
                print(p)
            if problems:
                print("run `course release` to bring it up to date", file=sys.stderr)
                return 1
            print(f"{args.dest} is up to date with {source}")
            return 0
        written = release.release(args.dest, source)
    except release.ReleaseError as e:
        print(f"course release: {e}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    if not written:
        print(f"{args.dest} was already up to date")
    return 0


def _outputs(args: argparse.Namespace) -> int:
    from course.outputs import refresh

    try:
        source = _sources(args)
    except UsageError as e:
        print(f"course outputs: {e}", file=sys.stderr)
        return 2
    try:
        written = refresh(source, only=args.notebooks)
    except FileNotFoundError as e:
        print(f"course outputs: {e}", file=sys.stderr)
        return 2
    for path in written:
        print(f"stored the checked outputs of {path.name}")
    print("now run `course release` so the learners' notebooks carry them too")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from course.validate import validate

    try:
        source = _sources(args)
    except UsageError as e:
        print(f"course validate: {e}", file=sys.stderr)
        return 2
    findings = validate(source)
    for f in findings:
        print(f)
    return 0 if findings and all(f.ok for f in findings) else 1


def _sources_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sources", "--source", dest="sources", type=Path, default=None,
                   metavar="DIR", help="the instructor's source notebooks, with solutions "
                                       "(default: the repository's course/sources)")


def _sources(args: argparse.Namespace) -> Path:
    """The sources folder, or UsageError: they are the teacher's, not the package's."""
    from course import release

    folder = args.sources or release.SOURCE_DIR
    if not folder.is_dir() or not any(folder.glob("*.ipynb")):
        raise UsageError(f"no source notebooks in {folder}: this command needs the "
                         "instructor's sources (the repository's course/sources, or "
                         "--sources DIR); they are not part of the installed package")
    return folder


class UsageError(Exception):
    """A command line that cannot work; the message says why (exit code 2)."""


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text} s: give a positive, finite number of seconds")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: give a whole number of at least 1")
    return value


def _shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: write the shard as I/N, e.g. 2/4") from None
    if not 1 <= index <= count:
        raise argparse.ArgumentTypeError(f"{text}: I must be between 1 and N")
    return index, count


def _submissions(given: Sequence[Path], stream: Any) -> list[Path]:
    """The .ipynb files to grade, checked before any work starts (UsageError if not)."""
    paths: list[Path] = []
    for p in given:
        if not p.exists() and not p.is_symlink():
            raise UsageError(f"{p}: no such file or folder")
        if p.is_dir():
            found = sorted(q for q in p.rglob("*.ipynb") if ".ipynb_checkpoints" not in q.parts)
            for q in found:
                if q.is_symlink() or not q.is_file():
                    stream.write(f"course grade: skipping {q}: not a regular file\n")
                else:
                    paths.append(q)
        elif p.is_symlink() or not p.is_file():
            raise UsageError(f"{p}: not a regular file (a folder, a link, a pipe, ...)")
        else:
            paths.append(p)
    seen: dict[Path, Path] = {}
    unique = []
    for p in paths:
        key = p.resolve()
        if key in seen:
            stream.write(f"course grade: {p} was given more than once; graded once\n")
            continue
        seen[key] = p
        unique.append(p)
    if not unique:
        raise UsageError("no submissions (.ipynb files) found")
    return unique


def _writable(out: Path, what: str) -> None:
    if out.is_dir():
        raise UsageError(f"{what} {out} is a folder; give a file name such as {out / 'grades.csv'}")
    folder = out.parent if str(out.parent) else Path(".")
    if out.exists() and not os.access(out, os.W_OK):
        raise UsageError(f"{what} {out} cannot be written")
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise UsageError(f"{what} {out}: the folder {folder} does not exist or cannot be "
                         "written")


def _grade(args: argparse.Namespace) -> int:
    from course import contain, release
    from course.grade import DEFAULT_TIMEOUT, Options, grade_batch, shard
    from course.hub.client import HubError, post_grades

    try:
        source_dir = _sources(args)
        paths = _submissions(args.submissions, sys.stderr)
        _writable(args.out, "--out")
        feedback = args.feedback or args.out.parent / "feedback"
        if feedback.exists() and not feedback.is_dir():
            raise UsageError(f"--feedback {feedback} is a file, not a folder")
        releases = release.build(source_dir)
        assignment = None
        if args.notebook:
            matches = [s for s in releases if s == args.notebook
                       or s.split("_")[0] == args.notebook]
            if len(matches) != 1:
                raise UsageError(f"--notebook {args.notebook}: no such notebook; known: "
                                 f"{', '.join(releases)}")
            assignment = matches[0]
        connection = _connection(args, need_course=True) if args.post else None
    except (UsageError, release.ReleaseError) as e:
        print(f"course grade: {e}", file=sys.stderr)
        return 2
    except HubError as e:  # checked before any work, as usage errors are
        print(f"course grade --post: {e}", file=sys.stderr)
        return 2
    if args.shard:
        paths = shard(paths, *args.shard)
        print(f"course grade: shard {args.shard[0]}/{args.shard[1]}: {len(paths)} "
              "submissions", file=sys.stderr)
    limits = contain.Limits(memory_mb=args.memory or contain.MEMORY_MB)
    options = Options(timeout=args.timeout or DEFAULT_TIMEOUT,
                      notebook_timeout=args.notebook_timeout, execute=not args.no_execute,
                      assignment=assignment, limits=limits,
                      sandbox=False if args.no_sandbox else None)
    print(f"course grade: {contain.describe() if not args.no_sandbox else 'no sandbox'}",
          file=sys.stderr)
    graded = grade_batch(paths, args.out, feedback_dir=feedback, options=options,
                         jobs=args.jobs, restart=args.restart, releases=releases,
                         roots=[p for p in args.submissions if p.is_dir()],
                         stream=sys.stderr)
    total = sum(g.score for g in graded)
    mean = f"; mean {total / len(graded):.3g} points" if graded else ""
    print(f"graded {len(graded)} submission{'s' if len(graded) != 1 else ''} into "
          f"{args.out} (feedback in {feedback}){mean}")
    if connection is not None:
        try:
            posted = post_grades(connection, connection.course, args.out)
        except HubError as e:
            print(f"course grade --post: {e} (the grades are in {args.out}; post them "
                  "later with `course post-grades`)", file=sys.stderr)
            return 1
        print(f"posted {sum(posted.values())} grades to {connection.course}")
    return 0


def _merge(args: argparse.Namespace) -> int:
    from course.grade import merge

    try:
        for p in args.inputs:
            if not p.is_file():
                raise UsageError(f"{p}: no such file")
        _writable(args.out, "--out")
        n = merge(args.inputs, args.out)
    except (UsageError, ValueError, OSError) as e:
        print(f"course merge: {e}", file=sys.stderr)
        return 2
    print(f"merged {len(args.inputs)} files, {n} submissions, into {args.out}")
    return 0


if __name__ == "__main__":  # python -m course.cli
    sys.exit(main())
