"""The exercises' references: the judges that know the right answers, the praise and the worked answers.

This is the instructor's side of the exercises. The learner's runtime (``course_utils.exercises``)
holds titles and hints only, and asks this package, where it is installed, to judge an answer. A
learner's own set-up installs it (``requirements.txt``); a graded class's server does not, so that no
student's kernel can read it, and the grader (``course_tools/grading.py``) and the class's judge
service use it in processes of their own. Every judge here reads plain values
(:mod:`course_utils.exercises.plain`), never a learner's objects.
"""

from __future__ import annotations

from collections.abc import Mapping

from course_utils.exercises.plain import BadAnswer, decode

import numpy as np

from . import cnn, mlp, rnn, welcome
from .core import Reference, texts
from .solutions import SOLUTIONS_DIR, answers

REFERENCES: dict[str, Reference] = {
    reference.id: reference for module in (welcome, mlp, cnn, rnn) for reference in module.EXERCISES
}

__all__ = ["REFERENCES", "SOLUTIONS_DIR", "answers", "implausible_given", "praise", "verdict", "worked"]


def verdict(exercise_id: str, answer: object, given: Mapping[str, object], strict: bool = False) -> str | None:
    """None if the plain ``answer`` is right, else what is wrong with it, in a sentence for the learner.

    ``answer`` and ``given`` are as :func:`course_utils.exercises.plain.encode` wrote them. ``strict``
    lets a judge's own bug raise (the test suite) instead of being told as an unreadable answer.
    """
    reference = REFERENCES[exercise_id]
    try:
        return reference.judge(decode(answer), {name: decode(value) for name, value in given.items()})
    except BadAnswer as problem:
        return str(problem)
    except Exception as error:  # an answer no judge foresaw: told in a line, not a traceback into the course
        if strict:
            raise
        return f"the check could not read this answer ({type(error).__name__}: {error}). Check its type and shape."


def praise(exercise_id: str) -> str:
    """What the check says to a right answer (it names the answer)."""
    return texts()[exercise_id]["praise"]


def worked(exercise_id: str) -> str:
    """The worked answer, in words."""
    return texts()[exercise_id]["worked"]


def implausible_given(exercise_id: str, given: Mapping[str, object]) -> str | None:
    """Why the recorded inputs of an exercise cannot be the notebook's own, or None if they can be.

    The grader reads the inputs as the read-only cell that makes them recorded them. Code that ran
    earlier in the student's kernel could still have replaced the model, so that the inputs are easy
    to answer for (all-zero logits, whose softmax is 0.1 everywhere): such inputs get no points.
    """
    for name, value in given.items():
        if name == "framework":
            continue
        try:
            array = np.asarray(decode(value), dtype=np.float64)
        except (TypeError, ValueError):
            return f"the recorded {name} are not numbers"
        if not np.all(np.isfinite(array)):
            return f"the recorded {name} hold NaN or infinite values"
        if name == "logits" and (array.ndim != 2 or array.shape[0] < 2 or array.shape[1] != 10):
            return f"the recorded logits have shape {array.shape}, not (images, 10)"
        if name == "images" and (array.ndim != 3 or array.shape[1:] != (28, 28)):
            return f"the recorded images have shape {array.shape}, not (images, 28, 28)"
        if array.size and (np.ptp(array) < 1e-6 or (array.ndim == 2 and np.any(np.ptp(array, axis=1) < 1e-6))):
            return f"the recorded {name} are constant, not what the trained model and the data give"
    return None
