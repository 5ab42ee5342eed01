"""Answers stay with the teacher: no released notebook shows an exercise's solution.

For every solution block of a source notebook (the lines between ``### BEGIN SOLUTION``
and ``### END SOLUTION``), no cell of the released notebook, code or markdown, may hold
its significant lines: after comments are stripped and whitespace removed, a cell leaks
a solution when it holds

* the solution's only significant line (one-line solutions), or
* all of its significant lines, in any order, or
* three consecutive significant lines of it, in the same order.

Nothing is executed: the notebooks are built in memory by ``course.release.build()``.
"""

from __future__ import annotations

import io
import re
import tokenize

import pytest

from course import release

RUN = 3  # this many consecutive solution lines in one cell is a leak

# lines that carry no answer of their own: keywords alone, brackets, docstring quotes
TRIVIAL = re.compile(r"^(?:[\[\](){}.,:;]*|else:|try:|finally:|pass|continue|break|return"
                     r"|(?:\"\"\"|''')|\.\.\.)$")


def _without_comments(source: str) -> list[str]:
    """The lines of source, comments removed (with the tokenizer where it understands
    the text, so a # inside a string stays; line by line otherwise, e.g. for markdown)."""
    lines = source.split("\n")
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return [line.split("#", 1)[0] for line in lines]
    for tok in reversed([t for t in tokens if t.type == tokenize.COMMENT]):
        (row, col), (_, end) = tok.start, tok.end
        lines[row - 1] = lines[row - 1][:col] + lines[row - 1][end:]
    return lines


def significant(source: str) -> list[str]:
    """The lines of source that say something: comments stripped, whitespace removed,
    empty and trivial lines dropped."""
    out = []
    for line in _without_comments(source):
        line = "".join(line.split())
        if line and not TRIVIAL.match(line):
            out.append(line)
    return out


def solution_blocks(source: str) -> list[str]:
    """The text of every BEGIN ... END SOLUTION block of a cell."""
    blocks, current = [], None
    for line in source.split("\n"):
        if line.strip() == release.BEGIN:
            current = []
        elif line.strip() == release.END:
            blocks.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def leak(solution: list[str], cell: list[str]) -> str | None:
    """Why cell (significant lines) shows the solution (significant lines); None if not."""
    if not solution:
        return None
    present = set(cell)
    if all(line in present for line in solution):
        return "every significant line of the solution"
    runs = {tuple(cell[i:i + RUN]) for i in range(len(cell) - RUN + 1)}
    for i in range(len(solution) - RUN + 1):
        if tuple(solution[i:i + RUN]) in runs:
            return f"{RUN} consecutive lines of the solution: " + " / ".join(solution[i:i + RUN])
    return None


def find_leaks(sources, released) -> list[str]:
    problems = []
    for stem, nb in sources.items():
        cells = [(index, significant(cell.source))
                 for index, cell in enumerate(released[stem].notebook.cells)]
        for cell in nb.cells:
            exercise = release.meta(cell).get("exercise")
            for block in solution_blocks(cell.source):
                solution = significant(block)
                for index, lines in cells:
                    why = leak(solution, lines)
                    if why:
                        problems.append(f"{stem}.ipynb, cell {index + 1} shows the solution "
                                        f"of {exercise}: {why}")
    return problems


@pytest.fixture(scope="module")
def built():
    return release.read_sources(), release.build()


def test_every_exercise_has_a_solution_to_look_for(built):
    sources, _ = built
    found = {release.meta(c).get("exercise") for nb in sources.values() for c in nb.cells
             if solution_blocks(c.source) and significant("\n".join(solution_blocks(c.source)))}
    assert found == {e.id for e in release.catalog.EXERCISES}


def test_no_released_notebook_shows_a_solution(built):
    sources, released = built
    problems = find_leaks(sources, released)
    assert problems == [], "\n".join(problems)


# -- the detector itself -------------------------------------------------------------

SOLVED = '''def f(local):
    # a comment
    ### BEGIN SOLUTION
    out = [1.0]
    for d in local:
        out.append(out[-1] * d)   # grows
    out.reverse()
    return out
    ### END SOLUTION
'''


def test_the_detector_sees_through_comments_spacing_and_reordering():
    solution = significant(solution_blocks(SOLVED)[0])
    assert solution == ["out=[1.0]", "fordinlocal:", "out.append(out[-1]*d)", "out.reverse()",
                        "returnout"]
    shown = "out = [1.0]\nfor d in local :\n    out.append( out[-1]*d )  # the same\nprint(out)"
    assert leak(solution, significant(shown)).startswith("3 consecutive")
    shuffled = "return out\nout.reverse()\nout = [1.0]\nprint(1)\nfor d in local:\n" \
               "    out.append(out[-1] * d)\n"
    assert leak(solution, significant(shuffled)) == "every significant line of the solution"
    assert leak(significant("return x + y"), significant("z = 1\nreturn  x+y  # here")) is not None


def test_the_detector_leaves_partial_overlaps_alone():
    solution = significant(solution_blocks(SOLVED)[0])
    assert leak(solution, significant("out = [1.0]\nfor d in local:\n    print(d)\n")) is None
    assert leak(solution, significant("# out.reverse()\n# return out\n")) is None
    assert leak(significant("return x + y"), significant("return x - y")) is None
    assert significant("'#' in s  # comment") == ["'#'ins"]
