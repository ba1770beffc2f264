"""Claim: "PyTorch code is easier to debug, Keras errors are hard to trace".

The same shape bug in each framework's CNN, and what its error tells the learner.
"""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from course_utils.checks import CheckFailed

from .common import CNN_WORKERS, run_all

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
}


def describe_error(error: BaseException, source_file: str) -> dict:
    """What a learner sees of ``error``, raised by a model written in ``source_file``.

    The model's file marks the faulty line with ``# BUG``. Returned: the error's type and
    message, how many traceback frames there are and how many are the learner's own, the
    innermost line of the learner's file that the traceback points to, and whether the
    traceback or the message names the faulty line at all.
    """
    source = Path(source_file).resolve()
    lines = source.read_text().splitlines()
    marked = [number for number, line in enumerate(lines, 1) if BUG_MARK in line]
    if len(marked) != 1:
        raise ValueError(f"{source} must mark exactly one line with {BUG_MARK!r}; found {len(marked)}.")
    bug_line = marked[0]
    frames = traceback.extract_tb(error.__traceback__)
    own = [frame for frame in frames if Path(frame.filename).resolve() == source]
    message = _ANSI_ESCAPE.sub("", str(error)).strip()  # Keras makes the key line bold for terminals
    named_in_message = sorted(
        {int(number) for name, number in _FILE_LINE.findall(message) if Path(name).name == source.name}
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
    """The same shape bug in each framework's CNN, and the error each one raises."""

    runs: dict[str, dict]

    def cases(self) -> list[dict]:
        """One entry per framework and mode, with its source file."""
        return [{"framework": name, **case} for name, run in self.runs.items() for case in run["cases"]]

    def table(self) -> pd.DataFrame:
        import pandas as pd

        rows = []
        for case in self.cases():
            error = case["error"]
            rows.append(
                {
                    "framework": f"{case['framework']} ({case['mode']})",
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
                f"{case['framework']} ({case['mode']}): {error['type']} while {WHEN_RAISED[case['mode']]}; "
                f"it points to `{error['pointed_source']}` and {names}."
            )
        lines.append(f"Verdict on 'PyTorch is easier to debug, Keras errors are hard to trace': {self.decision()}")
        return "\n".join(lines)

    def decision(self) -> str:
        """The claim's verdict: whose error leads to the faulty code, and how early it comes."""

        def leads_to_bug(framework: str) -> bool | None:
            found = [case["error"] for case in self.cases() if case["framework"] == framework]
            return (
                any(error["names_bug_line"] or error.get("in_pointed_statement") for error in found) if found else None
            )

        keras, torch = leads_to_bug("keras"), leads_to_bug("pytorch")
        if keras is None or torch is None:
            return "not shown here: Keras or PyTorch did not run."
        if keras and not torch:
            return (
                "it does not hold here: Keras's error comes while the model is built, before any data, and its "
                "traceback points to the statement that holds the faulty line; PyTorch's comes at the first batch, "
                "in forward, where the layer is used rather than where it was made wrong."
            )
        if torch and not keras:
            return "it holds here: PyTorch's traceback leads to the faulty code, and Keras's does not."
        if keras and torch:
            return "it does not hold here: both tracebacks lead to the faulty code."
        return (
            "half true here: neither traceback names the faulty line; Keras's error comes earlier, while the model is "
            "built, PyTorch's at the first batch."
        )

    def check(self) -> None:
        cases = self.cases()
        if {case["framework"] for case in cases} != {"keras", "tensorflow", "pytorch"}:
            raise CheckFailed(f"shape bugs were provoked in {sorted({c['framework'] for c in cases})} only.")
        for case in cases:
            error = case["error"]
            if str(7 * 7 * 64) not in error["message"] or error["pointed_line"] is None:
                raise CheckFailed(
                    f"{case['framework']} ({case['mode']}) raised an error that neither names the "
                    f"wrong size 3136 nor points to a line of the model's file: {error}"
                )
        print(f"✓ {len(cases)} errors caught, each naming the wrong size and pointing to a line of the model")


def provoke_shape_bugs() -> DebuggingReport:
    """Run the CNN with one shape bug in Keras, TensorFlow (eager and traced) and PyTorch."""
    jobs = [(name, module, "shape_bug", env, {}) for name, module, env in CNN_WORKERS]
    return DebuggingReport(run_all(jobs, desc="shape bugs", parallel=True))
