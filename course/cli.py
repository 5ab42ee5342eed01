"""The ``course`` command: status, reset, release, validate, grade.

Exit codes: 0 success; 1 the command ran and found a problem (``release --check``
out of date, ``validate`` failing, a store that cannot be used); 2 a usage error
(unknown exercise id, no submissions).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from course import __version__, catalog


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
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
    p.add_argument("--source", type=Path, default=None, help="source notebooks (default: "
                   "the package's course/sources)")
    p.add_argument("--dest", type=Path, default=Path("notebooks"),
                   help="where the learners' notebooks go (default: ./notebooks)")
    p.set_defaults(run=_release)

    p = sub.add_parser("outputs", help="run the sources and store the outputs nbval "
                       "compares (cells marked # NBVAL_CHECK_OUTPUT, and the checks)")
    p.add_argument("--source", type=Path, default=None)
    p.set_defaults(run=_outputs)

    p = sub.add_parser("validate", help="check that solutions pass and stubs fail")
    p.add_argument("--source", type=Path, default=None)
    p.set_defaults(run=_validate)

    p = sub.add_parser("grade", help="grade submitted notebooks into a CSV file")
    p.add_argument("submissions", nargs="+", type=Path, metavar="SUBMISSION",
                   help="submitted .ipynb files, or folders of them")
    p.add_argument("--out", type=Path, default=Path("grades.csv"),
                   help="the CSV file to write (default: grades.csv)")
    p.add_argument("--feedback", type=Path, default=None,
                   help="folder for the feedback files (default: feedback/ next to --out)")
    p.add_argument("--timeout", type=float, default=None, metavar="S",
                   help="seconds per cell when running a notebook, and per exercise when "
                        "grading it (default: 30)")
    p.add_argument("--no-execute", action="store_true",
                   help="skip running each notebook in a kernel (grades do not depend on it)")
    p.set_defaults(run=_grade)
    return parser


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

    source = args.source or release.SOURCE_DIR
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
    from course.release import SOURCE_DIR

    for path in refresh(args.source or SOURCE_DIR):
        print(f"stored the checked outputs of {path.name}")
    print("now run `course release` so the learners' notebooks carry them too")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from course import release
    from course.validate import validate

    findings = validate(args.source or release.SOURCE_DIR)
    for f in findings:
        print(f)
    return 0 if findings and all(f.ok for f in findings) else 1


def _grade(args: argparse.Namespace) -> int:
    from course.grade import DEFAULT_TIMEOUT, grade_batch

    paths: list[Path] = []
    for p in args.submissions:
        if p.is_dir():
            paths += sorted(q for q in p.rglob("*.ipynb") if ".ipynb_checkpoints" not in q.parts)
        else:
            paths.append(p)
    if not paths:
        print("course grade: no submissions (.ipynb files) found", file=sys.stderr)
        return 2
    graded = grade_batch(paths, args.out, feedback_dir=args.feedback,
                         timeout=args.timeout or DEFAULT_TIMEOUT,
                         execute_notebook=not args.no_execute, stream=sys.stderr)
    total = sum(g.score for g in graded)
    print(f"graded {len(graded)} submission{'s' if len(graded) != 1 else ''} into "
          f"{args.out} (feedback in {args.feedback or args.out.parent / 'feedback'}); "
          f"mean {total / len(graded):.3g} points")
    return 0


if __name__ == "__main__":  # python -m course.cli
    sys.exit(main())
