"""Exercises with instant feedback: check an answer, ask for a hint, see the solution.

Each exercise has an id such as ``"mlp.wider"``. A notebook computes the answer with its
own framework and passes it as a plain number or array (framework tensors are converted
with NumPy), so this package never imports a framework::

    from course_utils import exercises

    exercises.check("mlp.wider", wide_params)  # prints ✓ ..., or raises WrongAnswer saying what looks wrong
    exercises.hint("mlp.wider")                # one hint more at each call
    exercises.solution("mlp.wider")            # the worked answer, and the instructor notebook's code

A wrong answer raises, so that the instructor notebooks, whose answers are filled in,
fail the test suite if an answer or a check goes wrong. Each task's exercises live in a
module of their own: :mod:`.welcome`, :mod:`.mlp`, :mod:`.cnn` and :mod:`.rnn`.
"""

from __future__ import annotations

from collections import Counter

from .. import cells, config, system
from . import cnn, core, mlp, rnn, welcome
from .answers import BadAnswer
from .core import Exercise, WrongAnswer

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

__all__ = ["EXERCISES", "Exercise", "WrongAnswer", "check", "get_exercise", "hint", "judge", "solution"]


def get_exercise(exercise_id: str) -> Exercise:
    """The exercise called ``exercise_id``, with a clear error for a typo."""
    try:
        return EXERCISES[exercise_id]
    except KeyError:
        raise ValueError(f"unknown exercise {exercise_id!r}; the exercises are {', '.join(EXERCISES)}.") from None


def judge(exercise_id: str, answer: object, **given: object) -> str | None:
    """None if ``answer`` is right, else what is wrong with it (what :func:`check` would raise)."""
    exercise = get_exercise(exercise_id)
    missing = [name for name in exercise.given if name not in given]
    if missing:
        needed = ", ".join(f"{name}=..." for name in missing)
        raise TypeError(f"exercises.check({exercise_id!r}, answer, ...) also needs {needed}.")
    try:
        return exercise.judge(answer, given)
    except BadAnswer as problem:
        return str(problem)


def check(exercise_id: str, answer: object, **given: object) -> None:
    """Print ✓ if ``answer`` is right; otherwise raise :class:`WrongAnswer` with what looks wrong."""
    __tracebackhide__ = True  # IPython and pytest show the message, not this function's frame
    exercise = get_exercise(exercise_id)
    problem = judge(exercise_id, answer, **given)
    if problem is not None:
        raise WrongAnswer(
            f"✗ {exercise.title}: {problem}\n"
            f"More help: exercises.hint({exercise_id!r}); the answer: exercises.solution({exercise_id!r})."
        )
    print(core.wrapped(f"✓ {exercise.title}: {exercise.praise}"))


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
    """Print the worked answer, and the solution code from the instructor notebook when it is at hand.

    ``framework`` (``keras``, ``tensorflow`` or ``pytorch``) picks the notebook; by default it
    is the one the notebook named in ``course.setup(framework)``.
    """
    exercise = get_exercise(exercise_id)
    if config.solutions_withheld():  # set in graded assignments by `course nbgrader --withhold-solutions`
        print(
            f"{exercise.title} ({exercise_id}): your instructor has withheld the solutions for now; "
            f"exercises.hint({exercise_id!r}) still gives hints."
        )
        return
    text = f"{exercise.title} ({exercise_id}): {exercise.worked}"
    framework = framework or system.framework_in_use()
    found = solution_cells(exercise_id)
    chosen = {path: code for path, code in found.items() if path.stem == framework} or (
        found if len(found) == 1 else {}
    )
    for path, code in chosen.items():
        text += f"\n\nThe code in {config.shown_path(path)}:\n\n{code}"
    if not chosen and found:
        where = ", ".join(str(config.shown_path(path)) for path in found)
        text += f"\n\nThe code is in the instructor notebooks: {where}."
    print(text)


def solution_cells(exercise_id: str) -> dict:
    """The instructor notebooks whose cells solve ``exercise_id``, each with its solution code."""
    found = {}
    for path in cells.course_notebooks():
        for _, source in cells.code_cells(path):
            if core.exercise_id(source) == exercise_id and core.has_solution(source):
                found[path] = core.solution_code(source)
    return found
