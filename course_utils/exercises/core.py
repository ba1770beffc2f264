"""What an exercise is, as a learner's runtime knows it: its title, its hints and the inputs its check needs.

What makes an answer right (the references, the praise and the worked answer) is the instructor's side,
the ``course_judges`` package (``judges/`` in the repository), which a graded class leaves out.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..checks import CheckFailed, wrapped
from ..files import load_toml

TEXTS = Path(__file__).with_name("texts.toml")  # every exercise's title, hints and given inputs


class WrongAnswer(CheckFailed):
    """An exercise's answer is not right; the message says what looks wrong."""

    def _render_traceback_(self) -> list[str]:
        """What IPython shows: the message alone, not a traceback into the course's code."""
        return [wrapped(f"{type(self).__name__}: {self}")]


class UnknownExercise(ValueError):
    """An exercise id that the course does not have; IPython shows the message alone."""

    def _render_traceback_(self) -> list[str]:
        return [wrapped(f"{type(self).__name__}: {self}")]


@dataclass(frozen=True)
class Exercise:
    """One exercise: its title, its hints, and the keyword inputs that ``check`` needs from the notebook."""

    id: str
    title: str
    hints: tuple[str, ...]
    given: tuple[str, ...] = ()

    @property
    def task(self) -> str:
        return self.id.split(".", 1)[0]


@cache
def all_exercises() -> dict[str, Exercise]:
    """Every exercise of the course, by id, in the order of ``texts.toml``."""
    return {
        exercise_id: Exercise(exercise_id, texts["title"], tuple(texts["hints"]), tuple(texts.get("given", ())))
        for exercise_id, texts in load_toml(TEXTS).items()
    }
