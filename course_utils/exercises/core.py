"""What an exercise is: how it judges an answer, and its words."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..checks import CheckFailed, wrapped
from ..files import load_toml
from .answers import Judge

TEXTS = Path(__file__).with_name("texts.toml")  # every exercise's title, praise, hints and worked answer


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
    """One exercise: how to judge an answer, what to say when it is right, hints, and the worked answer."""

    id: str
    title: str
    judge: Judge
    praise: str
    hints: tuple[str, ...]
    worked: str
    given: tuple[str, ...] = ()  # keyword inputs that check() needs from the notebook

    @property
    def task(self) -> str:
        return self.id.split(".", 1)[0]


@cache
def _texts() -> dict[str, dict]:
    return load_toml(TEXTS)


def exercise(exercise_id: str, judge: Judge, given: tuple[str, ...] = ()) -> Exercise:
    """The exercise ``exercise_id``: ``judge`` reads the answers, ``texts.toml`` holds its words."""
    texts = _texts()[exercise_id]
    return Exercise(exercise_id, texts["title"], judge, texts["praise"], tuple(texts["hints"]), texts["worked"], given)
