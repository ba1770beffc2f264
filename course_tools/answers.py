"""The notebooks with their exercises answered: for the test suite, nbgrader's source notebooks and instructors.

A learner's notebook asks for each answer with stub lines, ``name = ...``, under a comment,
followed by the exercise's check::

    # Your answer: replace each ... below.
    wide_params = ...
    exercises.check("mlp.wider", wide_params)

The answered cell has the exercise's section of the notebook's solutions file in place of that
block (``judges/course_judges/solutions/01_mlp/keras.py``, :mod:`course_judges.solutions`), between nbgrader's
``### BEGIN SOLUTION`` and ``### END SOLUTION`` when ``markers`` is set: nbgrader's
``generate_assignment`` clears what lies between them.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from course_utils import config

import nbformat

from course_judges.solutions import sections, solutions_file

from .notebooks import course_notebooks

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
STUB = re.compile(r"^\s*\w+ = \.\.\.\s*(#.*)?$")
COMMENT = re.compile(r"^\s*#")
# The exercise a cell answers is the one it checks: exercises.check("mlp.wider", ...) (require, when graded).
EXERCISE_ID = re.compile(r"""(?:check|require)\(\s*["']([\w.]+)["']""")


class AnswerError(ValueError):
    """A notebook's stubs and its solutions file do not match; the message names both."""


def exercise_id(source: str) -> str | None:
    """The id of the exercise a cell checks, or None if it checks none."""
    found = EXERCISE_ID.search(source)
    return found.group(1) if found else None


def stub_block(source: str) -> tuple[int, int] | None:
    """Line numbers ``(first, last)`` of the comments and ``name = ...`` lines that ask for the answer."""
    lines = source.splitlines()
    stubs = [number for number, line in enumerate(lines) if STUB.match(line)]
    if not stubs:
        return None
    first = stubs[0]
    while first > 0 and COMMENT.match(lines[first - 1]):
        first -= 1
    last = stubs[-1]
    if any(not (STUB.match(line) or COMMENT.match(line)) for line in lines[first:last]):
        raise AnswerError(f"the stub lines (name = ...) are not one block: lines {first + 1} to {last + 1}.")
    return first, last


def answered_source(source: str, answers: Mapping[str, str], markers: bool = False) -> str:
    """``source`` with its stub block replaced by its exercise's answer; unchanged when it has none."""
    block = stub_block(source)
    if block is None:
        return source
    name = exercise_id(source)
    if name not in answers:
        raise AnswerError(f"a cell asks for the answer of {name!r}, and the solutions file has no '# %% {name}'.")
    lines = source.splitlines()
    indent = lines[block[1]][: len(lines[block[1]]) - len(lines[block[1]].lstrip())]
    answer = textwrap.indent(answers[name], indent).splitlines()
    if markers:
        answer = [indent + BEGIN_SOLUTION, *answer, indent + END_SOLUTION]
    return "\n".join(lines[: block[0]] + answer + lines[block[1] + 1 :])


def answered_notebook(path: Path, markers: bool = False, root: Path | None = None) -> nbformat.NotebookNode:
    """The notebook at ``path`` with every exercise answered from its solutions file."""
    notebook = nbformat.read(path, as_version=4)
    answers = solutions_for(path, root)
    for number, cell in enumerate(notebook.cells, 1):
        if cell.cell_type == "code":
            try:
                cell.source = answered_source(cell.source, answers, markers)
            except AnswerError as error:
                raise AnswerError(f"{config.shown_path(path)}, cell {number}: {error}") from None
    return notebook


def solutions_for(path: Path, root: Path | None = None) -> dict[str, str]:
    """The answers of the notebook at ``path``, by exercise id; none for a notebook without exercises."""
    file = solutions_file(path, root)
    return sections(file) if file.is_file() else {}


def solution_regions(source: str) -> list[tuple[int, int]]:
    """Line numbers ``(begin, end)`` of each pair of nbgrader's markers in ``source``."""
    lines = [line.strip() for line in source.splitlines()]
    begins = [number for number, line in enumerate(lines) if line == BEGIN_SOLUTION]
    ends = [number for number, line in enumerate(lines) if line == END_SOLUTION]
    return list(zip(begins, ends))


def solution_code(source: str) -> str:
    """The lines between the markers of ``source`` (every region, joined), dedented."""
    lines = source.splitlines()
    return "\n".join(textwrap.dedent("\n".join(lines[begin + 1 : end])) for begin, end in solution_regions(source))


@dataclass
class BuildReport:
    """What :func:`build_answered` wrote, and what it left alone."""

    written: list[Path]
    kept: list[Path]  # existing notebooks that differ from a fresh build: an instructor's own notes?
    answers: int


def build_answered(
    out: Path | None = None, notebooks: list[Path] | None = None, markers: bool = False, force: bool = False
) -> BuildReport:
    """Write the answered version of each course notebook with exercises into ``out``, in the same folders.

    An answered notebook that already exists and differs from the new build is kept unless ``force``.
    """
    source = config.NOTEBOOKS_DIR.resolve()
    out = (out or config.WORK_DIR / "answered").resolve()
    if out == source or source in out.parents:
        raise ValueError(f"the answered notebooks' folder {out} must lie outside {source}; choose another --out.")
    paths = [Path(path).resolve() for path in notebooks] if notebooks else course_notebooks(source)
    report = BuildReport(written=[], kept=[], answers=0)
    for path in paths:
        try:
            relative = path.relative_to(source)
        except ValueError:
            raise ValueError(f"{path} is not under the notebooks folder {source}.") from None
        answers = solutions_for(path)
        if not answers:
            continue
        target = out / relative
        notebook = answered_notebook(path, markers)
        report.answers += len(answers)
        text = nbformat.writes(notebook) + "\n"
        if target.is_file() and not force and target.read_text() != text:
            report.kept.append(target)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        report.written.append(target)
    return report
