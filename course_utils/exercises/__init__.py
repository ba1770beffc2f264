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
a wrong reference answer fails the suite.

This package holds each exercise's title and hints only. The references that make an answer right,
the praise and the worked answers are the instructor's side, the ``course_judges`` package
(``judges/`` in the repository): a learner's own set-up installs it, and a check judges on the spot;
a graded class's server leaves it out, and a check asks the class's judge service
(``COURSE_JUDGE_URL``) or says that the answer is judged when graded. Either way the answer travels
as plain values (:mod:`.plain`), and in a graded notebook it is recorded in the cell's output, where
the grader, in a process of its own, judges it again (``course_tools/grading.py``).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from collections import Counter
from types import ModuleType

from .. import config, system
from ..tasks import FRAMEWORK_NAMES
from . import core, plain
from .core import Exercise, UnknownExercise, WrongAnswer
from .plain import BadAnswer

EXERCISES: dict[str, Exercise] = core.all_exercises()
# Graded notebooks record each answer, and each input an answer is given, in the cell's output under
# this type; the grader reads them there (course_tools/grading.py). JupyterLab shows the text/plain beside it.
RECORD_MIME = "application/vnd.course.record+json"
JUDGE_TIMEOUT_S = 20
_hints_given: Counter[str] = Counter()


def _start_hints_over(info) -> None:
    """Run All passes the cell that imports the exercises again: the hints start again from the first."""
    if "import exercises" in (info.raw_cell or ""):
        _hints_given.clear()


def _follow_reruns() -> None:
    """Have IPython start the hints over at a rerun (:func:`_start_hints_over`); called by the first hint.

    Hints given are all there is to start over, so the first one registers, not the import; outside
    IPython, hints simply count on.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and _start_hints_over not in shell.events.callbacks["pre_run_cell"]:
        shell.events.register("pre_run_cell", _start_hints_over)


__all__ = [
    "EXERCISES",
    "Exercise",
    "NoJudge",
    "WrongAnswer",
    "check",
    "get_exercise",
    "hint",
    "judge",
    "record",
    "require",
    "solution",
]


class NoJudge(Exception):
    """Nothing here can judge an answer: no references installed and no judge service named."""


def _references() -> ModuleType | None:
    """The instructor's side, ``course_judges``, where it is installed (a learner's own set-up)."""
    try:
        import course_judges
    except (ImportError, OSError):  # not installed, or installed where this account may not read it
        return None
    return course_judges


def _ask_judge_service(url: str, exercise_id: str, answer: object, given: dict[str, object]) -> str | None:
    """The class's judge service's verdict: None if right, else what is wrong (``COURSE_JUDGE_URL``)."""
    body = json.dumps({"exercise": exercise_id, "answer": answer, "given": given}).encode()
    headers = {"Content-Type": "application/json"}
    if os.environ.get("JUPYTERHUB_API_TOKEN"):  # the hub tells the service who asks
        headers["Authorization"] = f"token {os.environ['JUPYTERHUB_API_TOKEN']}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=JUDGE_TIMEOUT_S) as response:
            reply = json.load(response)
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise NoJudge(f"the class's judge did not answer ({error})") from None
    return None if reply.get("right") else str(reply.get("message", "not right"))


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
    try:  # the judge gets plain values, as the grader does: never the learner's own objects
        sent = plain.encode(answer)
        sent_given = {name: plain.encode(value, f"the {name}") for name, value in given.items()}
    except BadAnswer as problem:
        return str(problem)
    except Exception as error:  # an object whose conversion itself fails: told in a line, not a traceback
        if config.strict_exercises():
            raise
        return f"the check could not read this answer ({type(error).__name__}: {error}). Check its type and shape."
    if os.environ.get("COURSE_JUDGE_URL"):
        return _ask_judge_service(os.environ["COURSE_JUDGE_URL"], exercise_id, sent, sent_given)
    references = _references()
    if references is None:
        raise NoJudge("this set-up of the course holds no answers")
    return references.verdict(exercise_id, sent, sent_given, strict=config.strict_exercises())


def check(exercise_id: str, answer: object, **given: object) -> None:
    """Print ✓ if ``answer`` is right, ✗ and what looks wrong if not, or that a ``...`` is still to replace."""
    __tracebackhide__ = True  # IPython and pytest show the message, not this function's frame
    _check(exercise_id, answer, given, strict=config.strict_exercises())


def require(exercise_id: str, answer: object, **given: object) -> None:
    """A graded test cell's check: records the answer for the grader, and raises for a wrong one or one left to do.

    The ✗ it raises is the student's instant feedback. The grade does not come from it: code in the
    student's kernel could replace this function. It comes from the recorded answer, judged by the
    grader in a process of its own (course_tools/grading.py).
    """
    __tracebackhide__ = True
    _check(exercise_id, answer, given, strict=True, record=True)  # whatever the kernel set COURSE_EXERCISES to


def record(exercise_id: str, **given: object) -> None:
    """Record the inputs that an exercise's answer is given, as a graded notebook's read-only cell makes them."""
    get_exercise(exercise_id)
    _record("given", exercise_id, **given)


def _record(kind: str, exercise_id: str, **values: object) -> None:
    """Show ``values`` as plain data in the cell's output, for the grader; outside IPython, nothing."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    if get_ipython() is None:
        return
    try:
        data = {name: plain.encode(value, f"the {name}") for name, value in values.items()}
    except BadAnswer as problem:
        data = {name: {"unreadable": str(problem)} for name in values}
    text = f"(recorded for grading: {', '.join(values)})"
    display({RECORD_MIME: {"kind": kind, "exercise": exercise_id, "values": data}, "text/plain": text}, raw=True)


def _check(exercise_id: str, answer: object, given: dict[str, object], strict: bool, record: bool = False) -> None:
    __tracebackhide__ = True
    exercise = get_exercise(exercise_id)
    if record:
        _record("answer", exercise_id, answer=answer)
    if unanswered(answer):
        message = f"… {exercise.title}: yours to do. Replace the ... above, then run the cell again."
        problem = None
    else:
        try:
            problem = judge(exercise_id, answer, **given)
        except NoJudge as why:
            print(core.wrapped(f"· {exercise.title}: {why}, so your answer is judged when your work is graded."))
            return
        if problem is None:
            references = _references()
            praise = references.praise(exercise_id) if references and not config.solutions_withheld() else "right."
            print(core.wrapped(f"✓ {exercise.title}: {praise}"))
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
    _follow_reruns()
    number = min(_hints_given[exercise_id], len(exercise.hints) - 1)
    _hints_given[exercise_id] = number + 1
    text = f"Hint {number + 1} of {len(exercise.hints)}: {exercise.hints[number]}"
    if number + 1 == len(exercise.hints):
        text += f"\n(That is the last hint; exercises.solution({exercise_id!r}) shows the answer.)"
    print(core.wrapped(text))


def solution(exercise_id: str, framework: str | None = None) -> None:
    """Print the worked answer, and its code in ``framework`` (by default the one named in ``course.setup``)."""
    exercise = get_exercise(exercise_id)
    references = _references()
    if config.solutions_withheld() or references is None:  # a graded assignment, or a class's server
        print(
            f"{exercise.title} ({exercise_id}): the worked answers are not available here (your instructor keeps "
            f"them while work is graded); exercises.hint({exercise_id!r}) still gives hints."
        )
        return
    text = core.wrapped(f"{exercise.title} ({exercise_id}): {references.worked(exercise_id)}")
    found = references.answers(exercise_id)
    framework = framework or system.framework_in_use()
    if None in found:  # the same code in every framework
        text += f"\n\nThe code:\n\n{found[None]}"
    elif framework in found:
        text += f"\n\nThe code in {FRAMEWORK_NAMES[framework]}:\n\n{found[framework]}"
    elif found:
        names = " or ".join(map(repr, found))
        text += f"\n\nThe code differs by framework: exercises.solution({exercise_id!r}, framework={names})."
    else:
        text += f"\n\n(The code of the answers is not installed here: {config.shown_path(references.SOLUTIONS_DIR)}.)"
    print(text)
