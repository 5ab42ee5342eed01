"""course: graded exercises for the adlab notebooks, checked as you go.

For the learner, two functions::

    from course import check, progress
    check("03.sin_tangent")   # passed / failed with the first failing case and a hint
    progress()                # every notebook's exercises, a progress bar per notebook

and, on a JupyterHub with the class service (:mod:`course.hub`), ``submit()`` to hand in
the notebook; there ``check`` also sends each attempt to the class
(:mod:`course.hub.client`).

For the instructor, the ``course`` command: ``course release`` writes the learners'
notebooks into ``notebooks/`` from the sources in ``course/sources/``; ``course
validate`` proves every solution passes and every stub fails; ``course grade
SUBMISSIONS... --out grades.csv`` grades a class; ``course status`` and ``course
reset [ID]`` show and clear the local progress store.

The parts: :mod:`course.catalog` (the exercises), :mod:`course.checkers` (cases and
expected values from adlab), :mod:`course.checking` (``check``), :mod:`course.sandbox`
(forked children with time limits), :mod:`course.store` (SQLite progress),
:mod:`course.progress`, :mod:`course.release`, :mod:`course.grade`, :mod:`course.cli`,
and :mod:`course.expr` (the small expression tree of notebook 04). Grading runs learner
code in :mod:`course.runner` (a separate interpreter, inside bubblewrap where
:mod:`course.contain` finds it), talks to it through :mod:`course.remote` in the plain
format of :mod:`course.wire`, hands it functions from :mod:`course.provided`, and flags
cells for review with :mod:`course.review`. The sources with solutions are the teacher's:
they are not package data.

Conventions of the source notebooks (``course/sources/NN_name.ipynb``)
-----------------------------------------------------------------------
The stem (``03_forward_mode``) is the ``notebook`` of the exercises in
:data:`course.catalog.CATALOG`. Three kinds of code cell carry metadata under the key
``"course"``; every other cell is free teaching material that grading ignores.

* **Setup cell** ``{"course": {"setup": true}}``: imports, e.g. ``import numpy as np``
  and ``from course import check, progress``. Grading runs it before the exercise
  cells. Put it before the first exercise.
* **Exercise cell** ``{"course": {"exercise": "03.sin_tangent"}}``: defines the
  catalog's object (``sin_jvp``). The reference solution sits between the lines
  ``### BEGIN SOLUTION`` and ``### END SOLUTION``; release replaces that block by
  ``raise NotImplementedError("...")`` at the indentation of the BEGIN line, so a
  stub keeps its ``def`` line and docstring. Learners write all of their answer,
  helpers included, in this cell (grading also runs a learner's own cell if it
  defines the exercise's name at top level).
* **Check cell** ``{"course": {"check": "03.sin_tangent"}}``: exactly
  ``check("03.sin_tangent")``. Release marks it read-only (``editable: false``,
  ``deletable: false``) and records the sha256 of its source in
  ``notebooks/.course-manifest.json``; grading restores a check cell that was changed
  or deleted.

Nothing else may call an exercise's function in the released notebook (it would raise
NotImplementedError there, and the notebooks must run top to bottom without error).
After editing a source, run ``course release`` (a test fails while ``notebooks/`` is
out of date) and ``course validate``.

Environment variables: ``ADLAB_COURSE_DB`` (the progress store's path),
``ADLAB_COURSE_TIMEOUT`` (seconds per check, overriding the exercises' own limits).
"""

from typing import Any

from adlab import __version__
from course.catalog import CATALOG, Exercise
from course.checking import check
from course.progress import progress
from course.result import CheckResult

__all__ = ["check", "progress", "submit", "CATALOG", "Exercise", "CheckResult",
           "__version__"]


def submit(notebook: str | None = None, *, course: str | None = None) -> Any:
    """Hand in a notebook to your teacher, on a JupyterHub with the class service.

    Without an argument, the notebook this cell runs in, as last saved (save first:
    Ctrl+S); ``submit("03")`` hands in ``03_forward_mode.ipynb`` from this folder or its
    ``notebooks/``. ``course`` is needed only by someone in several courses (the hub
    sets ``$ADLAB_COURSE`` for one). Returns the receipt, with the server's time stamp;
    raises :class:`course.hub.client.HubError`, which says what to do, when it does not
    work.

    >>> submit()                              # doctest: +SKIP
    submitted 03_forward_mode.ipynb (as saved at 2025-03-04 10:15:02); received by the
    class service at 2025-03-04T10:15:09+00:00, submission 17
    """
    from course.hub import client

    if notebook is not None:
        path = client.find_notebook(notebook)
    else:
        namespace = None
        try:
            from IPython import get_ipython

            shell = get_ipython()
            namespace = shell.user_ns if shell is not None else None
        except ImportError:  # pragma: no cover - IPython is a dependency
            pass
        path = client.current_notebook(namespace)
    connection = client.Connection.from_environment(course=course)
    return client.submit_notebook(path, connection)
