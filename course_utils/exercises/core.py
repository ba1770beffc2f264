"""What an exercise is, and where its answer sits in an instructor notebook's cell."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..checks import CheckFailed, wrapped
from ..files import load_toml
from .answers import Judge

# nbgrader's markers: the instructor's answer sits between them, and student versions drop it.
BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
TEXTS = Path(__file__).with_name("texts.toml")  # every exercise's title, praise, hints and worked answer
# The exercise a cell answers is the one it checks: exercises.check("mlp.wider", ...).
EXERCISE_ID = re.compile(r"""check\(\s*["']([\w.]+)["']""")


class WrongAnswer(CheckFailed):
    """An exercise's answer is not right; the message says what looks wrong."""

    def _render_traceback_(self) -> list[str]:
        """What IPython shows: the message alone, not a traceback into the course's code."""
        return [wrapped(f"{type(self).__name__}: {self}")]


class SolutionMarkerError(ValueError):
    """A cell's solution markers do not pair up; the message names the notebook and cell."""


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


def exercise_id(source: str) -> str | None:
    """The id of the exercise a cell checks, or None if it checks none."""
    found = EXERCISE_ID.search(source)
    return found.group(1) if found else None


def solution_regions(source: str) -> list[tuple[int, int]]:
    """Line numbers ``(begin, end)`` of each marker pair; raises on unpaired or nested markers."""
    regions, begin = [], None
    for number, line in enumerate(source.splitlines()):
        marker = line.strip()
        if marker == BEGIN_SOLUTION:
            if begin is not None:
                raise SolutionMarkerError(
                    f"line {number + 1}: {BEGIN_SOLUTION} inside another solution; "
                    f"close the first one with {END_SOLUTION}."
                )
            begin = number
        elif marker == END_SOLUTION:
            if begin is None:
                raise SolutionMarkerError(f"line {number + 1}: {END_SOLUTION} without a {BEGIN_SOLUTION} before it.")
            regions.append((begin, number))
            begin = None
    if begin is not None:
        raise SolutionMarkerError(f"line {begin + 1}: {BEGIN_SOLUTION} is never closed with {END_SOLUTION}.")
    return regions


def has_solution(source: str) -> bool:
    """True if ``source`` holds at least one complete solution region."""
    return bool(solution_regions(source))


def solution_code(source: str) -> str:
    """The lines between the markers of ``source`` (every region, joined), dedented."""
    lines = source.splitlines()
    return "\n".join(textwrap.dedent("\n".join(lines[begin + 1 : end])) for begin, end in solution_regions(source))
