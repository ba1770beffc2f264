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

from . import cnn, mlp, rnn, welcome
from .core import Reference, texts
from .solutions import SOLUTIONS_DIR, answers

REFERENCES: dict[str, Reference] = {
    reference.id: reference for module in (welcome, mlp, cnn, rnn) for reference in module.EXERCISES
}

__all__ = ["REFERENCES", "SOLUTIONS_DIR", "answers", "praise", "verdict", "worked"]


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
