"""One graded exercise: what the catalog lists, and the case counts for checks and grades."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from course.checkers import Checker

#: adlab's ways to compute a derivative, by the names learners call them
AUTODIFF = ("ad.jvp", "ad.vjp", "ad.grad", "ad.value_and_grad", "ad.jacfwd", "ad.jacrev",
            "ad.hessian", "Var.backward")
TRACING = ("ad.trace", "ad.saved_memory", "ad.memory.checkpoint_peak")
NUMERIC = ("numeric.forward_difference", "numeric.backward_difference",
           "numeric.central_difference", "numeric.gradient")
SYMBOLIC = ("sym.diff",)
#: everything above: what an exercise that asks for a rule, a sweep or a count switches off
EVERYTHING = AUTODIFF + TRACING + NUMERIC + SYMBOLIC


def everything_but(*allowed: str) -> tuple[str, ...]:
    return tuple(name for name in EVERYTHING if name not in allowed)


CHECK_CASES = 5    # what check() in a notebook tries
GRADE_CASES = 50   # what grading tries: more cases than the learner saw
DEFAULT_TIMEOUT = 10.0  # seconds, for one exercise's cases


@dataclass(frozen=True)
class Mistake:
    """A wrong answer that confused learners actually give, recognised by its numbers.

    ``wrong(case)`` computes the outputs this mistake produces on a case (in the grading
    process, like the expected outputs); when a failing answer matches them, the feedback
    is ``explain(case)``, which names the mistake with the case's numbers, and the result
    carries ``code`` (a short stable id a class dashboard can count). A mistake that
    comes in several versions (a step that is too small: 1e-13, 1e-14, ...) returns a
    list of outputs, one per version; ``explain`` then finds the index of the version
    the answer matched in ``case["variant"]``.
    """

    code: str
    wrong: Callable[[dict], dict]
    explain: Callable[[dict], str]


@dataclass(frozen=True)
class Exercise:
    """One graded exercise.

    ``hint`` is the first stage of its hints (the idea: which rule, which quantity);
    ``more_hints`` the later ones (the key formula or first step, then an outline), shown
    after repeated failures; none of them is the complete code. ``mistakes`` are the
    known wrong answers, each with its own feedback.
    """

    id: str          # "<notebook number>.<short name>", e.g. "03.sin_tangent"
    notebook: str    # the source notebook's stem, e.g. "03_forward_mode"
    title: str
    points: int
    name: str        # the object the learner writes, e.g. "sin_jvp"
    checker: Checker
    hint: str
    timeout: float = DEFAULT_TIMEOUT
    #: transformations switched off while the learner's function runs (in check() and in
    #: grading alike): the one call that would compute the answer is not the skill
    off: tuple[str, ...] = EVERYTHING
    more_hints: tuple[str, ...] = ()
    mistakes: tuple[Mistake, ...] = ()

    @property
    def hints(self) -> tuple[str, ...]:
        return (self.hint, *self.more_hints)

    def hint_for(self, failures: int) -> tuple[str, int]:
        """The hint after ``failures`` earlier failed attempts, and its stage (1-based)."""
        stage = min(max(int(failures), 0), len(self.hints) - 1)
        return self.hints[stage], stage + 1

    def rules(self) -> str:
        """How the exercise is checked, in one sentence for its task in the notebook."""
        text = (f"*How it is checked:* {CHECK_CASES} cases here, {GRADE_CASES} when graded, "
                f"each output to within {self.checker.tolerance()}")
        allowed = [name for name in AUTODIFF if name not in self.off]
        if set(self.off) == set(EVERYTHING):
            return (text + "; inside your function adlab's differentiation (`ad.jvp`, "
                    "`ad.vjp`, `ad.grad`, `ad.trace`, `numeric`, `sym.diff`, ...) is "
                    "switched off: write it yourself.")
        if allowed and len(allowed) < len(AUTODIFF):
            return (text + "; inside your function adlab's differentiation is switched "
                    f"off except {', '.join(f'`{a}`' for a in allowed)}.")
        if self.off:
            return (text + "; inside your function adlab's finite differences (`numeric`) "
                    "and `sym.diff` are switched off.")
        return text + "."

    def rng(self, purpose: str) -> np.random.Generator:
        """The seeded generator for ``purpose`` ("check" or "grade"): same cases every run."""
        return np.random.default_rng([zlib.crc32(self.id.encode()), zlib.crc32(purpose.encode())])
