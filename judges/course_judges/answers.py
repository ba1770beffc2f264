"""Reading a learner's answer: whole numbers, arrays, a framework name; and the shared judge of counts."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping

from course_utils.exercises.plain import DETACH, BadAnswer
from course_utils.tasks import FRAMEWORKS

import numpy as np

# A judge returns None for a right answer, else what is wrong and where to look.
Judge = Callable[[object, Mapping[str, object]], "str | None"]


def whole_number(answer: object) -> int:
    if isinstance(answer, (str, bytes)):
        raise BadAnswer(f"expected a whole number, got the text {answer!r}: leave out the quotes.")
    try:
        return operator.index(answer)  # int, NumPy integers, and 0-d integer tensors
    except TypeError:
        pass
    try:
        value = float(answer)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BadAnswer(f"expected a whole number, got {type(answer).__name__} {answer!r}.") from None
    if not value.is_integer():
        raise BadAnswer(f"expected a whole number, got {value}.")
    return int(value)


def as_array(answer: object, name: str = "the answer") -> np.ndarray:
    try:
        array = np.asarray(answer, dtype=np.float64)
    except (TypeError, ValueError, RuntimeError) as error:
        raise BadAnswer(DETACH.format(name=name, error=error)) from None
    if not np.all(np.isfinite(array)):
        raise BadAnswer(f"{name} holds NaN or infinite values.")
    return array


def close(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-4, atol=1e-5))


def judge_count(expected: int, mistakes: Mapping[int, str], otherwise: str) -> Judge:
    def judge(answer: object, given: Mapping[str, object]) -> str | None:
        count = whole_number(answer)
        if count == expected:
            return None
        return f"{count:,} is not it: " + mistakes.get(count, otherwise)

    return judge


def framework_of(given: Mapping[str, object]) -> str:
    framework = given["framework"]
    if framework not in FRAMEWORKS:
        raise BadAnswer(f"framework={framework!r}; pass one of {', '.join(map(repr, FRAMEWORKS))}.")
    return str(framework)
