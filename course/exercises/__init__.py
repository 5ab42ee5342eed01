"""The exercises, one module per notebook (``nb03.py`` for notebook 03, ...).

Each module defines its checkers and a tuple ``EXERCISES`` of
:class:`~course.exercise.Exercise`; the catalog gathers every ``nbNN`` module here, in
the order of their names, which is the order of the course.
"""

from __future__ import annotations

import importlib
import pkgutil


def all_exercises() -> tuple:
    """Every notebook module's exercises, in course order."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("nb"))
    return tuple(e for name in names
                 for e in importlib.import_module(f"{__name__}.{name}").EXERCISES)
