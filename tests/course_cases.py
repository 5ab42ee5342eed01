"""What every exercise's checker must do, shared by the tests of each notebook."""

import math
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course import catalog
from course.checkers import WrongOutput, compare, decode, encode
from course.checking import evaluate
from course.remote import RemoteFunction, RunnerProcess


def accepts(exercise_id: str, solution) -> None:
    """The reference solution passes all the grading cases, for full points."""
    exercise = catalog.CATALOG[exercise_id]
    result = evaluate(exercise, solution, cases=catalog.GRADE_CASES, purpose="grade")
    assert result.passed, repr(result)
    assert result.score == exercise.points


def rejects(exercise_id: str, wrong) -> None:
    """A typical wrong answer fails in the learner's own few cases: the case, what was
    expected and a hint are shown."""
    result = evaluate(catalog.CATALOG[exercise_id], wrong)
    assert result.status == "failed", repr(result)
    assert result.score == 0
    assert result.case and result.expected and result.hint


# -- the same checks as grading runs them: the learner's code in a runner -----------------
#
# In grading, checker.call runs in the grading process with a RemoteFunction that calls the
# learner's code in a separate interpreter (course.runner): functions go over as Provided
# recipes, and their run counts come back. A notebook's solutions and some mistakes run both
# here and in one runner; both must get the same verdict, message and outputs.

PRELUDE = ("import numpy as np\nimport adlab as ad\nimport adlab.symbolic as sym\n"
           "from adlab import numeric\n")


def solution_cells(notebook: str) -> str:
    from course import release

    cells = release.read_sources()[notebook].cells
    return "\n\n".join(c.source for c in cells
                       if c.cell_type == "code" and "### BEGIN SOLUTION" in c.source)


def verdict(exercise, fn, cases):
    """What a check makes of ``fn``: (status, case, message, shown) and the outputs."""
    seen = []
    for k, case in enumerate(cases):
        try:
            got = decode(encode(exercise.checker.call(fn, case, exercise.name)))
        except WrongOutput as e:
            return ("wrong", k, str(e), e.got), seen
        seen.append(got)
        why = compare(exercise.checker.expected(case), got)
        if why:
            return ("failed", k, why, ""), seen
    return ("passed", None, "", ""), seen


def both_ways(learner, exercise_id, name, purpose="grade"):
    """The verdict on the learner's ``name`` here and through the runner, checked equal."""
    runner, here = learner
    exercise = catalog.CATALOG[exercise_id]
    n = catalog.GRADE_CASES if purpose == "grade" else catalog.CHECK_CASES
    cases = exercise.checker.cases(exercise.rng(purpose), n)
    local, local_outputs = verdict(exercise, here[name], cases)
    remote, remote_outputs = verdict(
        exercise, RemoteFunction(runner, name, time.monotonic() + 120), cases)
    assert remote[:3] == local[:3]  # what was shown may differ: a cell is not a <string>
    assert bool(remote[3]) == bool(local[3])
    assert len(remote_outputs) == len(local_outputs)
    for mine, theirs in zip(local_outputs, remote_outputs):
        assert mine.keys() == theirs.keys()
        for key in mine:
            np.testing.assert_array_equal(theirs[key], mine[key], err_msg=key)
    return remote, remote_outputs


def runner_and_here(tmp_path_factory, notebook: str, mistakes: str):
    """For a module fixture: (runner, namespace here) holding the same learner code, the
    notebook's solutions and ``mistakes``; the runner is killed afterwards."""
    source = PRELUDE + solution_cells(notebook) + "\n\n" + mistakes
    runner = RunnerProcess(tmp_path_factory.mktemp("runner"), deadline=time.monotonic() + 600)
    try:
        outcomes, stuck = runner.run_cells([("cell 1", source)], 60)
        assert not stuck and [o["status"] for o in outcomes] == ["ok"], outcomes
        here: dict = {}
        exec(source, here)
        yield runner, here
    finally:
        runner.kill()


def same_verdict_test(remote: list):
    """The test, for a notebook's module: each (exercise, learner function, status, part of
    the message) of ``remote`` gets the same verdict here and through the runner (the
    module's ``learner`` fixture)."""
    @pytest.mark.parametrize("exercise_id,name,status,says", remote)
    def test(learner, exercise_id, name, status, says):
        (got, _, message, _), _ = both_ways(learner, exercise_id, name,
                                            "grade" if status == "passed" else "check")
        assert got == status, message
        assert says in message

    return test


NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def released_cells(stem: str) -> list:
    """The cells of the released notebook ``stem`` (as learners get it)."""
    return nbformat.read(NOTEBOOKS / f"{stem}.ipynb", as_version=4).cells


def cells_above(stem: str, exercise_id: str) -> list:
    """Every released cell of ``stem`` above the code cell of ``exercise_id``."""
    cells = released_cells(stem)
    for at, cell in enumerate(cells):
        if cell.metadata.get("course", {}).get("exercise") == exercise_id:
            return cells[:at]
    raise AssertionError(f"no exercise cell for {exercise_id} in {stem}")


def texts_above(stem: str, exercise_id: str) -> list[str]:
    """The text (source and outputs) of every released cell above the exercise's cell."""
    texts = []
    for cell in cells_above(stem, exercise_id):
        outputs = [str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
                   for o in cell.get("outputs", [])]
        texts.append("\n".join([cell.source, *outputs]))
    return texts


def make_derive(at_variable: str = "add", multiply: str = "sibling", plus_seed: bool = True,
                minus: str | None = "subtract", sin: str | None = "cos"):
    """A learner's recursive ``derive`` for 04.derive, right by default, with one slip
    chosen by the arguments: ``at_variable="overwrite"``; ``multiply="own"`` (the child's
    own value) or ``"no-seed"`` (the partial alone); ``plus_seed=False``;
    ``minus="as-plus"``; ``sin="sin"`` (the value, not the derivative), ``"cos-of-node"``
    (the node's own value) or ``"no-seed"``; ``minus=None``/``sin=None``: node types the
    learner did not handle (their subtrees are skipped)."""
    from course.expr import Minus, Multiply, Plus, Sin, Variable

    def derive(expr, seed, adjoints):
        if isinstance(expr, Variable):
            before = adjoints.get(expr.name, 0.0) if at_variable == "add" else 0.0
            adjoints[expr.name] = before + seed
        elif isinstance(expr, Plus):
            s = seed if plus_seed else 1.0
            derive(expr.a, s, adjoints)
            derive(expr.b, s, adjoints)
        elif isinstance(expr, Minus) and minus is not None:
            derive(expr.a, seed, adjoints)
            derive(expr.b, seed if minus == "as-plus" else -seed, adjoints)
        elif isinstance(expr, Multiply):
            a, b = expr.a.evaluate(), expr.b.evaluate()
            if multiply == "own":
                a, b = b, a
            g = 1.0 if multiply == "no-seed" else seed
            derive(expr.a, g * b, adjoints)
            derive(expr.b, g * a, adjoints)
        elif isinstance(expr, Sin) and sin is not None:
            u = expr.a.evaluate()
            partial = {"cos": math.cos(u), "no-seed": math.cos(u), "sin": math.sin(u),
                       "cos-of-node": math.cos(expr.evaluate())}[sin]
            derive(expr.a, (1.0 if sin == "no-seed" else seed) * partial, adjoints)
    return derive
