"""Student versions of the notebooks: the instructor's solutions replaced by stubs.

The notebooks in the repository are the instructor versions. Their answers sit between
``### BEGIN SOLUTION`` and ``### END SOLUTION`` lines, as nbgrader writes them. The student
version of a code cell keeps everything outside those lines and puts one stub in place of
the solution, so running it stops exactly there::

    raise NotImplementedError("Exercise mlp.wider: your code here")

A markdown solution becomes ``YOUR ANSWER HERE``. Outputs are dropped, since a recorded
output could give the answer away.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from course_utils import config
from course_utils.exercises.core import SolutionMarkerError, exercise_id, solution_regions

import nbformat

from .notebooks import course_notebooks, without_check_marks

MARKDOWN_STUB = "YOUR ANSWER HERE"
STUB_ERROR = "NotImplementedError"


def code_stub(exercise_id: str | None) -> str:
    """The line that replaces a code solution: it fails with a message naming the exercise."""
    what = f"Exercise {exercise_id}" if exercise_id else "This exercise"
    return f'raise {STUB_ERROR}("{what}: your code here")'


def strip_solutions(source: str, stub: str) -> str:
    """``source`` with each solution region, markers included, replaced by ``stub`` at the marker's indent."""
    lines = source.splitlines()
    kept, position = [], 0
    for begin, end in solution_regions(source):
        indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
        kept += lines[position:begin] + [indent + stub]
        position = end + 1
    return "\n".join(kept + lines[position:])


def student_notebook(notebook: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """A copy of an instructor ``notebook`` with its solutions stubbed and its outputs removed."""
    import copy

    student = copy.deepcopy(notebook)
    student.metadata.pop("widgets", None)
    for number, cell in enumerate(student.cells, 1):
        cell.metadata.pop("execution", None)
        try:
            if cell.cell_type == "code":
                cell.source = strip_solutions(cell.source, code_stub(exercise_id(cell.source)))
                cell.source = without_check_marks(cell.source)
                cell.outputs, cell.execution_count = [], None
            elif cell.cell_type == "markdown":
                cell.source = strip_solutions(cell.source, MARKDOWN_STUB)
        except SolutionMarkerError as error:
            raise SolutionMarkerError(f"{name}, cell {number}: {error}") from None
    student.metadata["course"] = {"version": "student"}
    return student


@dataclass
class BuildReport:
    """What :func:`build_student_versions` wrote, and what it left alone."""

    written: list[Path]
    kept: list[Path]  # existing notebooks that differ from a fresh build: maybe a learner's work
    stubs: int


def build_student_versions(
    out: Path | None = None, source: Path | None = None, notebooks: list[Path] | None = None, force: bool = False
) -> BuildReport:
    """Write the student version of every notebook under ``source`` into ``out``, in the same folders.

    Other files beside the notebooks (images, data) are copied as they are. A student
    notebook that already exists and differs from the new build is kept unless ``force``,
    so that rebuilding never overwrites a learner's answers.
    """
    source = (source or config.NOTEBOOKS_DIR).resolve()
    out = (out or config.PROJECT_ROOT / "student").resolve()
    if out == source or source in out.parents:
        raise ValueError(
            f"the student folder {out} must lie outside the instructor notebooks in {source}; choose another --out."
        )
    paths = [Path(path).resolve() for path in notebooks] if notebooks else course_notebooks(source)
    report = BuildReport(written=[], kept=[], stubs=0)
    for path in paths:
        try:
            relative = path.relative_to(source)
        except ValueError:
            raise ValueError(f"{path} is not under the notebooks folder {source}.") from None
        target = out / relative
        student = student_notebook(nbformat.read(path, as_version=4), name=str(relative))
        report.stubs += sum(STUB_ERROR in cell.source for cell in student.cells if cell.cell_type == "code")
        text = nbformat.writes(student) + "\n"
        if target.is_file() and not force and target.read_text() != text:
            report.kept.append(target)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        report.written.append(target)
    if not notebooks:
        _copy_other_files(source, out)
    return report


def _copy_other_files(source: Path, out: Path) -> None:
    skipped = {".ipynb_checkpoints", "__pycache__"}
    for path in source.rglob("*"):
        if path.is_file() and path.suffix != ".ipynb" and not skipped & set(path.relative_to(source).parts):
            target = out / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
