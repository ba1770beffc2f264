"""An exercise's reference: how its judge reads an answer, and what it says when the answer is right."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from course_utils.files import load_toml

from .answers import Judge

TEXTS = Path(__file__).with_name("texts.toml")  # each exercise's praise and worked answer


@dataclass(frozen=True)
class Reference:
    """One exercise's judge. The inputs it reads besides the answer are the runtime's ``given``
    (course_utils/exercises/texts.toml), which the check asks for before anything is judged."""

    id: str
    judge: Judge


def exercise(exercise_id: str, judge: Judge) -> Reference:
    return Reference(exercise_id, judge)


@cache
def texts() -> dict[str, dict]:
    return load_toml(TEXTS)
