"""Claim: "PyTorch code is easier to debug, Keras errors are hard to trace".

Two bugs, each planted the same way in every framework, and what each error tells the learner:
the CNN's features reshaped to the wrong size (in the model), and the labels shifted by one (in the
training loop, so that every framework raises it while it trains). Only a traceback, or a traced
function's message, that names the faulty line itself counts as leading to the bug.
"""

from __future__ import annotations

import inspect
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from course_utils.checks import CheckFailed

from .common import BATCH_SIZE, CNN_WORKERS, run_all

if TYPE_CHECKING:
    import pandas as pd

BUG_MARK = "# BUG"
MESSAGE_LINES_SHOWN = 12
_FILE_LINE = re.compile(r'File "([^"]+)", line (\d+)')
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
WHEN_RAISED = {
    "Sequential": "building the model",
    "eager": "running the first batch",
    "tf.function": "tracing the first call",
    "fit": "training, inside fit",
    "training loop": "training, inside the step",
}
# Which bug a case belongs to, by its mode: the model's reshape, or the training loop's labels.
BUGS = {"model": "the features reshaped to 7 × 7 × 64", "loop": "the labels shifted by one, in the training loop"}


def training_loop(train_step: Callable, data: tuple) -> None:
    """The training loop of the TensorFlow and PyTorch CNN notebooks, over ``data``, with the second bug.

    It sits a line above the call that trains, where no framework can check it: each raises it from
    inside its training step.
    """
    images, labels = data
    labels = labels + 1  # BUG: the ten classes are 0 to 9, not 1 to 10
    for start in range(0, len(labels), BATCH_SIZE):
        train_step(images[start : start + BATCH_SIZE], labels[start : start + BATCH_SIZE])


def training_loop_bug(loop: Callable, *args: object) -> dict:
    """Run ``loop(*args)``, a training loop with the label bug marked ``# BUG``; describe the error it raises."""
    try:
        loop(*args)
    except Exception as error:  # the point is to look at whatever it raises
        return describe_error(error, inspect.getsourcefile(loop), loop)
    raise AssertionError(f"{loop.__qualname__} ran without an error")


def describe_error(error: BaseException, source_file: str, where: Callable | None = None) -> dict:
    """What a learner sees of ``error``, raised by a model written in ``source_file``.

    The model's file marks the faulty line with ``# BUG``. Where the file holds more than the buggy code
    (the experiment that runs it, another bug), ``where`` is the function that holds this bug, and only its
    lines count, as the learner's own code. Returned: the error's type and
    message, how many traceback frames there are and how many are the learner's own, the
    innermost line of the learner's file that the traceback points to, and whether the
    traceback or the message names the faulty line at all.
    """
    source = Path(source_file).resolve()
    lines = source.read_text().splitlines()
    span = range(1, len(lines) + 1)
    if where is not None:
        body, first = inspect.getsourcelines(where)
        span = range(first, first + len(body))
    marked = [number for number in span if BUG_MARK in lines[number - 1]]
    if len(marked) != 1:
        raise ValueError(f"{source} must mark exactly one line with {BUG_MARK!r}; found {len(marked)}.")
    bug_line = marked[0]
    frames = traceback.extract_tb(error.__traceback__)
    own = [frame for frame in frames if Path(frame.filename).resolve() == source and frame.lineno in span]
    message = _ANSI_ESCAPE.sub("", str(error)).strip()  # Keras makes the key line bold for terminals
    named_in_message = sorted(
        {
            int(number)
            for name, number in _FILE_LINE.findall(message)
            if Path(name).name == source.name and int(number) in span
        }
    )
    # A traced function's error names, in its message, the line inside the graph that failed:
    # that is deeper than the traceback's own last line, which is only where the graph was called.
    traceback_line = own[-1].lineno if own else None
    pointed = named_in_message[-1] if named_in_message else traceback_line
    # The statement the traceback points into, which may span lines: Python 3.11 records where it ends.
    statement_end = (getattr(own[-1], "end_lineno", None) or traceback_line) if own else None
    return {
        "type": type(error).__name__,
        "message": "\n".join(message.splitlines()[:MESSAGE_LINES_SHOWN]),
        "message_lines": len(message.splitlines()),
        # A graph error ends with its cause, below the stack of where the node was defined.
        "message_end": "\n".join(message.splitlines()[MESSAGE_LINES_SHOWN:][-3:]),
        "frames": len(frames),
        "own_frames": len(own),
        "traceback_line": traceback_line,
        "pointed_line": pointed,
        "pointed_source": lines[pointed - 1].strip() if pointed else None,
        "lines_named_in_message": named_in_message,
        "bug_line": bug_line,
        "bug_source": lines[bug_line - 1].strip(),
        "names_bug_line": bug_line in {frame.lineno for frame in own} | set(named_in_message),
        "in_pointed_statement": bool(own) and traceback_line <= bug_line <= statement_end,
    }


@dataclass
class DebuggingReport:
    """Two bugs planted the same way in each framework's CNN, and the error each one raises."""

    runs: dict[str, dict]

    def cases(self) -> list[dict]:
        """One entry per framework, bug and mode."""
        return [
            {"framework": name, "bug": case.get("bug", "model"), **case}
            for name, run in self.runs.items()
            for case in run["cases"]
        ]

    def table(self) -> pd.DataFrame:
        import pandas as pd

        rows = []
        for case in self.cases():
            error = case["error"]
            rows.append(
                {
                    "framework": f"{case['framework']} ({case['mode']})",
                    "bug": BUGS[case["bug"]],
                    "raised while": WHEN_RAISED[case["mode"]],
                    "error": error["type"],
                    "points to": f"line {error['pointed_line']}: {error['pointed_source']}",
                    "names the faulty line": error["names_bug_line"],
                    "frames (own / all)": f"{error['own_frames']} / {error['frames']}",
                    "message lines": error["message_lines"],
                }
            )
        return pd.DataFrame(rows).set_index("framework")

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"errors": self.table()}

    def verdict(self) -> str:
        lines = []
        for case in self.cases():
            error = case["error"]
            names = "names the faulty line itself" if error["names_bug_line"] else "does not name the faulty line"
            lines.append(
                f"{case['framework']} ({case['mode']}), {BUGS[case['bug']]}: {error['type']} while "
                f"{WHEN_RAISED[case['mode']]}; it points to `{error['pointed_source']}` and {names}."
            )
        lines.append(f"Verdict on 'PyTorch is easier to debug, Keras errors are hard to trace': {self.decision()}")
        return "\n".join(lines)

    def named(self, framework: str) -> dict[str, bool]:
        """For each bug ``framework`` raised: did any of its errors name the faulty line (file and line)?"""
        found: dict[str, bool] = {}
        for case in self.cases():
            if case["framework"] == framework:
                found[case["bug"]] = found.get(case["bug"], False) or bool(case["error"]["names_bug_line"])
        return found

    def decision(self) -> str:
        """The claim's verdict: only an error that names the faulty line counts as leading to it.

        A traceback that points to the statement around the bug (Keras's ``keras.Sequential(``
        spans 13 lines) or to the call that trains does not count: the learner still has to find it.
        """
        keras, torch = self.named("keras"), self.named("pytorch")
        if not keras or not torch:
            return "not shown here: Keras or PyTorch did not run."
        bugs = [bug for bug in BUGS if bug in keras and bug in torch]
        torch_only = [BUGS[bug] for bug in bugs if torch[bug] and not keras[bug]]
        keras_only = [BUGS[bug] for bug in bugs if keras[bug] and not torch[bug]]
        both = [BUGS[bug] for bug in bugs if keras[bug] and torch[bug]]
        if torch_only and not keras_only:
            return (
                f"it holds here, for {' and '.join(torch_only)}: PyTorch's traceback names the faulty line and "
                f"Keras's does not{'; both name it for ' + ' and '.join(both) if both else ''}."
            )
        if keras_only and not torch_only:
            return (
                f"it does not hold here: Keras's error names the faulty line for {' and '.join(keras_only)}, "
                "PyTorch's does not."
            )
        if torch_only and keras_only:
            return (
                f"inconclusive here: PyTorch's traceback names the faulty line for {' and '.join(torch_only)}, "
                f"Keras's for {' and '.join(keras_only)}."
            )
        if both:
            return f"it does not hold here: both tracebacks name the faulty line, for {' and '.join(both)}."
        return "inconclusive here: neither framework's traceback names the faulty line of either bug."

    def check(self) -> None:
        cases = self.cases()
        if {case["framework"] for case in cases} != {"keras", "tensorflow", "pytorch"}:
            raise CheckFailed(f"the bugs were provoked in {sorted({c['framework'] for c in cases})} only.")
        missing = [name for name in ("keras", "tensorflow", "pytorch") if set(self.named(name)) != set(BUGS)]
        if missing:
            raise CheckFailed(f"{', '.join(missing)} did not raise both planted bugs.")
        # What each error must name: the wrong size (7 × 7 × 64), or the shifted label (10).
        wanted = {"model": str(7 * 7 * 64), "loop": "10"}
        for case in cases:
            error = case["error"]
            message = error["message"] + "\n" + error.get("message_end", "")
            if wanted[case["bug"]] not in message or error["pointed_line"] is None:
                raise CheckFailed(
                    f"{case['framework']} ({case['mode']}) raised an error that neither names "
                    f"{wanted[case['bug']]} nor points to a line of the buggy file: {error}"
                )
        print(f"✓ {len(cases)} errors caught, each naming the wrong value and pointing to a line of the buggy file")


def provoke_shape_bugs() -> DebuggingReport:
    """Run the CNN with the shape bug, then its training loop with the label bug, in each framework."""
    jobs = [(name, module, "shape_bug", env, {}) for name, module, env in CNN_WORKERS]
    return DebuggingReport(run_all(jobs, desc="shape bugs", parallel=True))
