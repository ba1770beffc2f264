"""Exercises with instant feedback: check an answer, ask for a hint, see the solution.

Each exercise has an id such as ``"mlp.wider"``. A notebook computes the answer with its
own framework and passes it as a plain number or array (framework tensors are converted
with NumPy), so this package never imports a framework::

    from course_utils import exercises

    exercises.check("mlp.wider", wide_params)  # ✓, ✗ with what looks wrong, or "yours to do" for `...`
    exercises.hint("mlp.wider")                # one hint more at each call
    exercises.solution("mlp.wider")            # the worked answer, and the code in your framework

An answer still ``...`` is not answered yet: the check says so in one line, and a wrong
answer gets a ✗ and a message, so that Run All goes on to the end of the notebook. Under
``COURSE_EXERCISES=strict`` (the test suite) both raise :class:`WrongAnswer` instead, so that
a wrong reference answer fails the suite. The answers live in ``solutions/``
(:mod:`.solutions`); each task's exercises in a module of their own: :mod:`.welcome`,
:mod:`.mlp`, :mod:`.cnn` and :mod:`.rnn`.
"""

from __future__ import annotations

import sys
from collections import Counter

from .. import config, system
from ..tasks import FRAMEWORK_NAMES
from . import cnn, core, mlp, rnn, solutions, welcome
from .answers import BadAnswer
from .core import Exercise, UnknownExercise, WrongAnswer

EXERCISES: dict[str, Exercise] = {
    exercise.id: exercise for module in (welcome, mlp, cnn, rnn) for exercise in module.EXERCISES
}
_hints_given: Counter[str] = Counter()


def _start_hints_over(info) -> None:
    """Run All passes the cell that imports the exercises again: the hints start again from the first."""
    if "import exercises" in (info.raw_cell or ""):
        _hints_given.clear()


def _register_with_ipython() -> None:  # outside IPython, hints simply count on
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.events.register("pre_run_cell", _start_hints_over)


_register_with_ipython()

__all__ = ["EXERCISES", "Exercise", "WrongAnswer", "check", "get_exercise", "hint", "judge", "require", "solution"]


def get_exercise(exercise_id: str) -> Exercise:
    """The exercise called ``exercise_id``, with a clear error for a typo."""
    try:
        return EXERCISES[exercise_id]
    except KeyError:
        raise UnknownExercise(
            f"there is no exercise {exercise_id!r}; the exercises are {', '.join(EXERCISES)}."
        ) from None


def unanswered(answer: object) -> bool:
    """True for the ``...`` a learner has not replaced yet, alone or inside a tuple or list."""
    return answer is Ellipsis or (isinstance(answer, (tuple, list)) and any(part is Ellipsis for part in answer))


def judge(exercise_id: str, answer: object, **given: object) -> str | None:
    """None if ``answer`` is right, else what is wrong with it, as the ✗ of :func:`check` says it."""
    exercise = get_exercise(exercise_id)
    if "framework" in exercise.given and "framework" not in given and system.framework_in_use():
        given["framework"] = system.framework_in_use()  # the one named in course.setup()
    missing = [name for name in exercise.given if name not in given]
    if missing:
        needed = ", ".join(f"{name}=..." for name in missing)
        return f"the check also needs {needed}: exercises.check({exercise_id!r}, answer, {needed})."
    if answer is None:
        return "the answer is None. Store the value itself: a function that changes something in place returns None."
    try:
        return exercise.judge(answer, given)
    except BadAnswer as problem:
        return str(problem)
    except Exception as error:  # an answer no judge foresaw: told in a line, not a traceback into the course
        if config.strict_exercises():
            raise  # in the tests, a judge's own bug must show
        return f"the check could not read this answer ({type(error).__name__}: {error}). Check its type and shape."


def check(exercise_id: str, answer: object, **given: object) -> None:
    """Print ✓ if ``answer`` is right, ✗ and what looks wrong if not, or that a ``...`` is still to replace."""
    __tracebackhide__ = True  # IPython and pytest show the message, not this function's frame
    _check(exercise_id, answer, given, strict=config.strict_exercises())


def require(exercise_id: str, answer: object, **given: object) -> None:
    """:func:`check` that raises :class:`WrongAnswer` for a wrong answer or one left to do: a graded test cell's."""
    __tracebackhide__ = True
    _check(exercise_id, answer, given, strict=True)  # whatever the student's kernel set COURSE_EXERCISES to


def _check(exercise_id: str, answer: object, given: dict[str, object], strict: bool) -> None:
    __tracebackhide__ = True
    exercise = get_exercise(exercise_id)
    if unanswered(answer):
        message = f"… {exercise.title}: yours to do. Replace the ... above, then run the cell again."
        problem = None
    else:
        problem = judge(exercise_id, answer, **given)
        if problem is None:
            print(core.wrapped(f"✓ {exercise.title}: {exercise.praise}"))
            return
        message = (
            f"✗ {exercise.title}: {problem}\n"
            f"More help: exercises.hint({exercise_id!r}); the answer: exercises.solution({exercise_id!r})."
        )
    if strict:
        raise WrongAnswer(message)
    print(core.wrapped(message), file=sys.stdout if problem is None else sys.stderr)


def hint(exercise_id: str) -> None:
    """Print the next hint for the exercise, one more at each call."""
    exercise = get_exercise(exercise_id)
    number = min(_hints_given[exercise_id], len(exercise.hints) - 1)
    _hints_given[exercise_id] = number + 1
    text = f"Hint {number + 1} of {len(exercise.hints)}: {exercise.hints[number]}"
    if number + 1 == len(exercise.hints):
        text += f"\n(That is the last hint; exercises.solution({exercise_id!r}) shows the answer.)"
    print(core.wrapped(text))


def solution(exercise_id: str, framework: str | None = None) -> None:
    """Print the worked answer, and its code in ``framework`` (by default the one named in ``course.setup``)."""
    exercise = get_exercise(exercise_id)
    if config.solutions_withheld():  # set in graded assignments by `course nbgrader --withhold-solutions`
        print(
            f"{exercise.title} ({exercise_id}): your instructor has withheld the solutions for now; "
            f"exercises.hint({exercise_id!r}) still gives hints."
        )
        return
    text = core.wrapped(f"{exercise.title} ({exercise_id}): {exercise.worked}")
    found = solutions.answers(exercise_id)
    framework = framework or system.framework_in_use()
    if None in found:  # the same code in every framework
        text += f"\n\nThe code:\n\n{found[None]}"
    elif framework in found:
        text += f"\n\nThe code in {FRAMEWORK_NAMES[framework]}:\n\n{found[framework]}"
    elif found:
        names = " or ".join(map(repr, found))
        text += f"\n\nThe code differs by framework: exercises.solution({exercise_id!r}, framework={names})."
    else:
        text += f"\n\n(The code of the answers is not installed here: {config.shown_path(config.SOLUTIONS_DIR)}.)"
    print(text)
